#!/usr/bin/env bash
# pdns-hsm on a database whose rows were made the stock way (Engine:
# softhsm2, the token label as Slot, the PIN in the row): audit fails
# before and passes after; migrate's dry run changes nothing; a PIN that
# differs from the stored one stops the run; killed between the store
# write and the row update, a rerun converges; pdns_server restarted on
# the migrated database still validates; check and ds agree with peers.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
hc_setup
PH=$BUILD/pdns-hsm
MOD=hsmcache-test-$$
register_module "$MOD" "$BUILD/hsmcache-pdns.so"
make_token dnstok
write_config dns softhsm2 dnstok
store_pin dns
zone=m.example
"$HC" keygen dns "$zone-ksk" ecdsa-p256 > /dev/null
"$HC" keygen dns "$zone-zsk" ecdsa-p256 > /dev/null
rm "$T/pins/dns"                       # the PIN lives only in the rows now
start_mariadb || { not_ok "MariaDB did not start"; exit 1; }
write_pdns_conf
pdnsutil_t create-zone "$zone" "ns1.$zone" > /dev/null 2>&1
pdnsutil_t add-record "$zone" www A 3600 192.0.2.80 > /dev/null 2>&1
for role in ksk zsk; do   # the stock way: PowerDNS straight at SoftHSM, PIN in the row
    pdnsutil_t hsm assign "$zone" ecdsa256 "$role" softhsm2 dnstok "$PIN" "$zone-$role" > /dev/null 2>&1
done
pdnsutil_t rectify-zone "$zone" > /dev/null 2>&1
ph() { "$PH" --config-dir "$T" "$@"; }
dump() { mysql_q -N --raw -e "SELECT id, content FROM cryptokeys ORDER BY id"; }

out=$(ph audit 2>&1); st=$?
equals "audit before: exit 1" "$st" "1"
contains "audit before: the rows store a PIN" "$out" "YES"
contains "audit before: they resolve through hsmcache after migration" "$out" "after migrate (token dns)"
case $out in *"$PIN"*) not_ok "audit printed the PIN" ;; *) ok "audit does not print the PIN" ;; esac
# pdnsutil's users write --config-dir=DIR; before or after the command.
out_eq=$("$PH" --config-dir="$T" audit 2>&1); st_eq=$?
out_after=$("$PH" audit --config-dir "$T" 2>&1); st_after=$?
out_after_eq=$("$PH" audit --config-dir="$T" 2>&1); st_after_eq=$?
equals "audit --config-dir=DIR (before and after the command) and --config-dir DIR: same rows, same exit" \
    "$st_eq$st_after$st_after_eq:$([ "$out_eq" = "$out" ] && [ "$out_after" = "$out" ] && [ "$out_after_eq" = "$out" ] && echo same)" "111:same"
contains "... the rows of that config's database" "$out_eq" "after migrate (token dns)"
out=$("$PH" audit --config-dir="$T/nowhere" 2>&1); st=$?
equals "audit --config-dir=ELSEWHERE reads that directory: exit 2, named ($out)" \
    "$st:$(grep -c "$T/nowhere/pdns.conf: cannot read" <<< "$out")" "2:1"

before=$(dump)
out=$(ph migrate --engine "$MOD" 2>&1); st=$?
equals "migrate dry run: exit 0" "$st" "0"
contains "migrate dry run: shows the plan" "$out" "PIN -> $T/pins/dns; row -> Engine: $MOD, Slot: dns, PIN: (empty)"
equals "migrate dry run: rows unchanged" "$(dump)" "$before"
check "migrate dry run: no PIN file written" test ! -e "$T/pins/dns"

store_pin dns other-pin
out=$(ph migrate --apply --engine "$MOD" 2>&1); st=$?
equals "a different PIN already stored: the run stops" "$st" "1"
contains "... saying so" "$out" "already holds a different PIN"
equals "... and changes no row" "$(dump)" "$before"
equals "... nor the stored PIN" "$(cat "$T/pins/dns")" "other-pin"
rm "$T/pins/dns"

out=$(PDNS_HSM_TEST_CRASH_AFTER_STORE=1 ph migrate --apply --engine "$MOD" 2>&1); st=$?
equals "killed after the store write (test hook)" "$st" "75"
equals "... the PIN is durable in the store" "$(cat "$T/pins/dns")" "$PIN"
equals "... the rows are untouched" "$(dump)" "$before"
out=$(ph migrate --apply --engine "$MOD" 2>&1); st=$?
equals "rerun converges: exit 0" "$st" "0"
contains "rerun: both rows migrated" "$out" "migrated 2 row(s)"
after=$(dump)
contains "rows now name the hsmcache engine and token" "$after" "Engine: $MOD"
contains "... Slot: the hsmcache token name" "$after" "Slot: dns"
if echo "$after" | grep -q -- "$PIN"; then not_ok "a row still holds the PIN"; else ok "no row holds the PIN"; fi
contains "... Label kept" "$after" "Label: $zone-ksk"
out=$(ph migrate --apply --engine "$MOD" 2>&1)
contains "a third run has nothing to do" "$out" "no row stores a PIN"
out=$(ph audit 2>&1); st=$?
equals "audit after: exit 0 ($(echo "$out" | tail -1))" "$st" "0"
# PowerDNS finds a Slot's token label ignoring case (its HuntSlot), so a
# row spelled Slot: DNS signs with token dns: audit must say it resolves.
mysql_q -e "UPDATE cryptokeys SET content = REPLACE(content, 'Slot: dns', 'Slot: DNS') WHERE flags = 256"
out=$(ph audit 2>&1); st=$?
equals "a row with Slot: DNS resolves to token dns, as PowerDNS finds it: audit exit 0 ($(grep -c . <<< "$out") lines)" \
    "$st $(grep -ci 'action needed' <<< "$out")" "0 0"
mysql_q -e "UPDATE cryptokeys SET content = REPLACE(content, 'Slot: DNS', 'Slot: dns') WHERE flags = 256"

check "pdns_server starts on the migrated database" start_pdns
out=$(ph check "$zone" 2>&1); st=$?
equals "pdns-hsm check: exit 0 ($out)" "$st" "0"
dig +noall +answer -p "$DNS_PORT" @127.0.0.1 "$zone" AXFR > "$T/axfr"
check "ldns-verify-zone agrees" ldns-verify-zone "$T/axfr"

norm() { awk '{ for (i = 2; i <= NF; i++) if ($i == "DS") { print $(i+1), $(i+2), $(i+3), tolower($(i+4)); break } }'; }
want=$(pdnsutil_t show-zone "$zone" 2>/dev/null | grep '^DS = ' | norm | sort)
got=$( { ph ds "$zone"; ph ds "$zone" --sha384; } 2>/dev/null | norm | sort)
contains "pdns-hsm ds (SHA-256 and SHA-384) equals pdnsutil show-zone's" "$want" "$got"
[ -n "$got" ] && [ "$(echo "$got" | wc -l)" = 2 ] && ok "pdns-hsm ds printed two DS records" || not_ok "ds printed: $got"
equals "pdns-hsm --sha384 ds ZONE (the option before the command) is ds ZONE --sha384" \
    "$(ph --sha384 ds "$zone" 2>&1)" "$(ph ds "$zone" --sha384 2>&1)"
# A signature that does not verify is caught by check: a presigned zone
# serving a real DNSKEY and an RRSIG with its key tag but a forged
# signature.
key=$(dig +noall +answer -p "$DNS_PORT" @127.0.0.1 "$zone" DNSKEY | awk '$5 == 257 { k = ""; for (i = 8; i <= NF; i++) k = k $i; print k }')
tag=$(pdnsutil_t show-zone "$zone" 2>/dev/null | sed -n 's/.*(KSK).*tag = \([0-9]*\).*/\1/p')
forged=$(head -c 64 /dev/urandom | base64 -w0)
pdnsutil_t create-zone bad.example ns1.bad.example > /dev/null 2>&1
pdnsutil_t set-presigned bad.example > /dev/null 2>&1
pdnsutil_t add-record bad.example @ DNSKEY 3600 "257 3 13 $key" > /dev/null 2>&1
pdnsutil_t add-record bad.example @ RRSIG 3600 "DNSKEY 13 2 3600 20991231000000 20200101000000 $tag bad.example. $forged" > /dev/null 2>&1
out=$(ph check bad.example 2>&1); st=$?
equals "pdns-hsm check fails on a forged signature" "$st" "1"
contains "... and names it" "$out" "FAILED bad.example. DNSKEY"
stop_pdns

# A stock row whose token hsmcache does not know: told exactly what to add.
mysql_q -e "UPDATE cryptokeys SET content = REPLACE(REPLACE(REPLACE(content, 'Engine: $MOD', 'Engine: softhsm2'), 'Slot: dns', 'Slot: other-token'), 'PIN: ', 'PIN: 9999') WHERE flags = 256"
out=$(ph migrate 2>&1); st=$?
equals "an unknown token: exit 1" "$st" "1"
contains "... the [token] section to add" "$out" "[token other-token]"
done_testing
