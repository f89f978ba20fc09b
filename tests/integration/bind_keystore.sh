#!/usr/bin/env bash
# BIND 9.20 named with `key-store` over the hsmcache provider: named
# generates its KSK and ZSK inside the token (sensitive, never
# extractable), signs a 2000-name zone that ldns-verify-zone (after AXFR)
# and delv (KSK as trust anchor) accept, for ECDSA P-256, P-384 and
# RSA-2048 policies; no PIN in named.conf, openssl.cnf or any key file
# (the base64 Labels decoded too). After a restart named signs a record
# added by dynamic update with the ZSK it had before (same key tag, same
# DNSKEY set, no new key file), which only the token can do: the new
# RRSIG validates (delv, ldns-verify-zone).
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/dns.sh"
. "$(dirname "$0")/../lib/named.sh"
named_setup softhsm2
N=${BIND_NAMES:-2000}
zones="p256 p384 rsa"
write_named_conf "$D/named.conf" "$D" "$PORT" dns "sig-signing-nodes 2000;" \
    "sig-signing-signatures 10000;"
{
    for z in $zones; do
        case $z in p256) a=ecdsap256sha256 ;; p384) a=ecdsap384sha384 ;; rsa) a="rsasha256 2048" ;; esac
        printf 'dnssec-policy "%s" { keys { ksk key-store "hsm" lifetime unlimited algorithm %s; zsk key-store "hsm" lifetime unlimited algorithm %s; }; };\n' "$z" "$a" "$a"
        printf 'zone "%s.test" { type primary; file "%s.db"; dnssec-policy "%s"; inline-signing yes; allow-update { 127.0.0.1; }; };\n' "$z" "$z" "$z"
    done
} >> "$D/named.conf"
for z in $zones; do
    { printf '$TTL 3600\n@ IN SOA ns1 hostmaster 1 3600 900 604800 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n'
      for i in $(seq "$N"); do printf 'n%d IN A 192.0.2.%d\n' "$i" $((i % 250 + 1)); done; } > "$D/$z.db"
done
start_named() {
    named -g -c "$D/named.conf" -n 2 > "$T/named.log" 2>&1 &
    NAMED_PID=$!
    HC_PIDS="${HC_PIDS:-} $NAMED_PID"
}
stop_named() { kill "$NAMED_PID" 2>/dev/null; wait "$NAMED_PID" 2>/dev/null; }
# Signed when the last name's answer carries an RRSIG.
signed() { dig +dnssec +noall +answer +time=1 +tries=1 -p "$PORT" @127.0.0.1 "n$N.$1.test" A | grep -c RRSIG; }
wait_signed() { for _ in $(seq 120); do [ "$(signed "$1")" -ge 1 ] && return 0; sleep 0.5; done; return 1; }

start_named
for z in $zones; do check "$z.test: named signs all $N names with keys it generated" wait_signed "$z"; done
objs=$(pkcs11-tool --module "$FRONT" -O 2>&1)
for z in $zones; do
    for role in ksk zsk; do contains "$z.test: the $role was generated in the token" "$objs" "label:      $z.test.-$z.-$role-"; done
done
privs=$(pkcs11-tool --module "$FRONT" -O --type privkey 2>&1)
n_priv=$(echo "$privs" | grep -c "Private Key Object")
n_safe=$(echo "$privs" | grep -c "sensitive, always sensitive, never extractable")
equals "all 6 private keys are sensitive and never extractable" "$n_safe/$n_priv" "6/6"
for z in $zones; do
    out=$(verify_axfr "$z.test" "$PORT" "$T/$z.axfr" 120); st=$?
    equals "$z.test: ldns-verify-zone accepts the AXFR ($(wc -l < "$T/$z.axfr") records)" "$st:$out" "0:Zone is verified and complete"
    ksk_anchor "$z.test" "$PORT" > "$T/$z.anchor"
    contains "$z.test: delv validates with the KSK as trust anchor" \
        "$(delv -a "$T/$z.anchor" +root="$z.test" -p "$PORT" @127.0.0.1 "n7.$z.test" A 2>&1)" "; fully validated"
    contains "$z.test: delv validates an NXDOMAIN proof" \
        "$(delv -a "$T/$z.anchor" +root="$z.test" -p "$PORT" @127.0.0.1 "none.$z.test" A 2>&1)" "; negative response, fully validated"
done

labels=$(sed -n 's/^Label: //p' "$D"/keys/K*.private | while read -r b; do echo "$b" | base64 -d 2>/dev/null | tr -d '\0'; echo; done)
contains "K*.private Labels are pkcs11: URIs of the token keys" "$labels" "pkcs11:token=dns;object="
if grep -rq -- "$PIN" "$D" "$T/openssl.cnf" || echo "$labels" | grep -q -- "$PIN" || echo "$labels" | grep -q "pin-value"; then
    not_ok "a PIN in named.conf, openssl.cnf or a key file"
else ok "no PIN in named.conf, openssl.cnf, key files or their decoded Labels"; fi

# The restart: a zone served from named's signed copy needs no key, so
# named must sign something new after it. Before: the key files and the
# DNSKEY set; p256.test's ZSK key tag (the key file with flags 256).
keyfiles() { (cd "$D/keys" && ls K*); }
dnskeys() { dig +noall +answer -p "$PORT" @127.0.0.1 p256.test DNSKEY | awk '{ $2 = ""; print }' | sort; }
# rrsig_tags NAME: key tags of the RRSIGs over NAME's A RRset (DNS order).
rrsig_tags() { dig +dnssec +noall +answer +time=1 +tries=1 -p "$PORT" @127.0.0.1 "$1" A | awk '$4 == "RRSIG" && $5 == "A" { print $11 }'; }
files_before=$(keyfiles)
dnskeys_before=$(dnskeys)
zsk_tag=$(grep -l " 256 3 13 " "$D"/keys/Kp256.test.+013+*.key | sed 's/.*+013+0*\([0-9]*\)\.key$/\1/')
stop_named
start_named
check "named restarted: p256.test is served signed again" wait_signed p256
# The fresh name did not exist before: its RRSIG is a signature named made
# after the restart, with a private key that is only in the token.
printf 'server 127.0.0.1 %s\nzone p256.test\nupdate add fresh.p256.test. 300 IN A 192.0.2.77\nsend\n' "$PORT" > "$T/update"
check "named restarted: accepts a dynamic update (fresh.p256.test A)" nsupdate "$T/update"
fresh_signed() { [ -n "$(rrsig_tags fresh.p256.test)" ]; }
wait_fresh() { for _ in $(seq 60); do fresh_signed && return 0; sleep 0.5; done; return 1; }
check "named restarted: signs the new record" wait_fresh
equals "named restarted: signed it with the ZSK it had before (key tag $zsk_tag)" "$(rrsig_tags fresh.p256.test)" "${zsk_tag:-no ZSK file}"
contains "named restarted: delv validates the new record's signature" \
    "$(delv -a "$T/p256.anchor" +root=p256.test -p "$PORT" @127.0.0.1 fresh.p256.test A 2>&1)" "; fully validated"
out=$(verify_axfr p256.test "$PORT" "$T/p256.axfr2" 20); st=$?
equals "named restarted: ldns-verify-zone accepts the zone with the new record" "$st:$out" "0:Zone is verified and complete"
contains "... which the AXFR holds" "$(cat "$T/p256.axfr2")" "fresh.p256.test."
equals "named restarted: the same DNSKEY set" "$(dnskeys)" "$dnskeys_before"
equals "named restarted: no key file made or removed" "$(keyfiles)" "$files_before"
if grep -qiE "crypto failure|keystore: failed" "$T/named.log"; then not_ok "named logged key failures: $(grep -iE 'crypto failure|keystore: failed' "$T/named.log" | head -2)"
else ok "named logged no key or crypto failure"; fi
stop_named
agent_used "$((3 * N))"   # with HC_AGENT_ONLY=1: named signed through the agent (tests/lib/env.sh)
done_testing
