#!/usr/bin/env bash
# named over the provider when the token goes away: over the simulator,
# the token is removed for 3 s while named runs; a dynamic update made
# meanwhile is signed once it returns, later updates are signed too, and
# the zone validates, all without restarting named.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/dns.sh"
. "$(dirname "$0")/../lib/named.sh"
named_setup "$SIM"
write_named_conf "$D/named.conf" "$D" "$PORT" dns
cat >> "$D/named.conf" <<EOC
dnssec-policy "hsm" { keys { csk key-store "hsm" lifetime unlimited algorithm ecdsap256sha256; }; };
zone "r.test" { type primary; file "r.db"; dnssec-policy "hsm"; inline-signing yes; allow-update { 127.0.0.1; }; };
EOC
printf '$TTL 60\n@ IN SOA ns1 hostmaster 1 3600 900 604800 60\n@ IN NS ns1\nns1 IN A 192.0.2.1\n' > "$D/r.db"
named -g -c "$D/named.conf" -n 1 > "$T/named.log" 2>&1 &
HC_PIDS=$!
sigs() { dig +dnssec +noall +answer +time=1 +tries=1 -p "$PORT" @127.0.0.1 "$1" A | grep -c RRSIG; }
wait_sigs() { for _ in $(seq 60); do [ "$(sigs "$1")" -ge 1 ] && return 0; sleep 0.25; done; return 1; }
update() { printf 'server 127.0.0.1 %s\nzone r.test\nupdate add %s 60 A 192.0.2.9\nsend\n' "$PORT" "$1" | nsupdate > /dev/null 2>&1; }
check "named signs the zone with a key it generated over the simulator" wait_sigs ns1.r.test

"$SIMCTL" "$SIMSTATE" remove 3000
update a1.r.test
sleep 1
contains "token absent: named reports it cannot use its key" "$(cat "$T/named.log")" "crypto failure"
sleep 2.5
"$SIMCTL" "$SIMSTATE" reset
update a2.r.test
check "token back: an update after its return is signed, no named restart" wait_sigs a2.r.test
check "token back: the update made while it was absent is signed too" wait_sigs a1.r.test
[ "$(sim_count C_Sign)" -ge 1 ] && ok "token back: signatures reached the HSM again ($(sim_count C_Sign) C_Sign)" \
    || not_ok "no C_Sign after the token returned"
out=$(verify_axfr r.test "$PORT" "$T/r.axfr" 40)
equals "the zone validates after the outage (ldns-verify-zone)" "$out" "Zone is verified and complete"
done_testing
