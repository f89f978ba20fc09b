#!/usr/bin/env bash
# A ZSK rollover driven by a short lifetime (100 s): named generates the
# successor ZSK in the token through the provider, publishes it, moves
# its signatures to it, and the zone validates throughout. (Takes about
# two minutes: BIND will not roll faster than its timing rules allow.)
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/dns.sh"
. "$(dirname "$0")/../lib/named.sh"
named_setup softhsm2
write_named_conf "$D/named.conf" "$D" "$PORT" dns
cat >> "$D/named.conf" <<EOC
dnssec-policy "roll" {
    dnskey-ttl 5; max-zone-ttl 5; publish-safety 1; retire-safety 1; purge-keys 0;
    zone-propagation-delay 1; signatures-refresh PT30S; signatures-validity PT1M;
    signatures-validity-dnskey PT1M; signatures-jitter PT10S;
    keys { ksk key-store "hsm" lifetime unlimited algorithm ecdsap256sha256;
           zsk key-store "hsm" lifetime PT100S algorithm ecdsap256sha256; };
};
zone "roll.test" { type primary; file "roll.db"; dnssec-policy "roll"; inline-signing yes; };
EOC
printf '$TTL 5\n@ IN SOA ns1 hostmaster 1 3600 900 604800 5\n@ IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.2\n' > "$D/roll.db"
named -g -c "$D/named.conf" -n 1 > "$T/named.log" 2>&1 &
HC_PIDS=$!
tag() { dig +dnssec +noall +answer +time=1 +tries=1 -p "$PORT" @127.0.0.1 www.roll.test A | awk '$4 == "RRSIG" { print $11 }' | head -1; }
zsks() { pkcs11-tool --module "$FRONT" -O --type privkey 2>/dev/null | grep -c 'label: *roll.test.-roll.-zsk-'; }
first=""
for _ in $(seq 40); do first=$(tag); [ -n "$first" ] && break; sleep 0.5; done
[ -n "$first" ] && ok "named signs roll.test with its first ZSK (key tag $first)" || not_ok "no signature: $(tail -3 "$T/named.log")"
rolled=""
for _ in $(seq 100); do   # up to 200 s
    t=$(tag)
    if [ -n "$t" ] && [ "$t" != "$first" ] && [ "$(zsks)" -ge 2 ]; then rolled=$t; break; fi
    sleep 2
done
[ -n "$rolled" ] && ok "the successor ZSK was generated in the token and now signs (key tag $rolled)" \
    || not_ok "no rollover: ZSKs in the token $(zsks), signing tag $(tag)"
out=$(verify_axfr roll.test "$PORT" "$T/axfr" 40)
equals "after the rollover the zone validates (ldns-verify-zone)" "$out" "Zone is verified and complete"
ksk_anchor roll.test "$PORT" > "$T/anchor"
contains "... and delv validates with the KSK as trust anchor" \
    "$(delv -a "$T/anchor" +root=roll.test -p "$PORT" @127.0.0.1 www.roll.test A 2>&1)" "; fully validated"
done_testing
