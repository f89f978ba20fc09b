#!/usr/bin/env bash
# PowerDNS through hsmcache when things go wrong, over the simulator:
# - a row that still carries its PIN keeps working (the PIN is never
#   used), so operators migrate without downtime;
# - a wrong PIN in the store: DNSSEC answers fail, pdns's log says why,
#   the HSM sees exactly one C_Login however many queries come, and a
#   fixed PIN file restores signing without restarting pdns;
# - the token removed for a while: new signatures fail fast, answers
#   already signed keep coming, signing resumes after it returns, with no
#   pdns restart.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
pdns_sim_setup
echo "dnssec-key-cache-ttl=5" >> "$T/pdns.conf"
zone=f.example
pdnsutil_t create-zone "$zone" "ns1.$zone" > /dev/null 2>&1
for i in $(seq 40); do pdnsutil_t add-record "$zone" "n$i" A 3600 192.0.2.1 > /dev/null 2>&1; done
for role in ksk zsk; do "$HC" keygen dns "$zone-$role" ecdsa-p256 > /dev/null; done
# The ZSK row the stock way: the PIN in the row.
pdnsutil_t hsm assign "$zone" ecdsa256 ksk "$MOD" dns '' "$zone-ksk" > /dev/null 2>&1
pdnsutil_t hsm assign "$zone" ecdsa256 zsk "$MOD" dns "$PIN" "$zone-zsk" > /dev/null 2>&1
pdnsutil_t rectify-zone "$zone" > /dev/null 2>&1
must_start_pdns
status() { dig +dnssec +time=3 +tries=1 -p "$DNS_PORT" @127.0.0.1 "$1" A | sed -n 's/.*status: \([A-Z]*\).*/\1/p'; }
signed() { dig +dnssec +noall +answer +time=3 +tries=1 -p "$DNS_PORT" @127.0.0.1 "$1" A | grep -c RRSIG; }

# PowerDNS calls C_Login only for tokens that require login; the front's
# token does not (the store has the PIN), so the row's PIN is never even
# passed. The row still holds it: pdns-hsm audit is what flags it.
contains "the ZSK row holds a PIN, the stock way" "$(mysql_q -N --raw -e "SELECT content FROM cryptokeys")" "PIN: $PIN"
equals "a row with a PIN still signs" "$(signed "n1.$zone")" "1"

# Wrong PIN: a new PIN file, and a pdns restart so it logs in again.
stop_pdns
store_pin dns wrong-pin
"$SIMCTL" "$SIMSTATE" reset
must_start_pdns
for i in 2 3 4 5 6 7 8; do r=$(status "n$i.$zone"); done
equals "wrong PIN: DNSSEC answers fail" "$r" "SERVFAIL"
equals "wrong PIN: exactly one C_Login reached the HSM for 7 queries" "$(sim_count C_Login)" "1"
contains "wrong PIN: pdns's log says the token rejected it and what to do" \
    "$(cat "$T/pdns.log")" "rejected the PIN in $T/pins/dns"
equals "wrong PIN: the token is not locked" "$("$SIMCTL" "$SIMSTATE" pin-status)" "wrong 1 locked 0"
store_pin dns
ok_after=""
for _ in $(seq 30); do [ "$(signed "n9.$zone")" = 1 ] && { ok_after=yes; break; }; sleep 0.5; done
equals "fixing the PIN file restores signing, no pdns restart" "$ok_after" "yes"

# The token removed for 3 s while pdns serves.
for i in $(seq 10 20); do signed "n$i.$zone" > /dev/null; done   # already signed
"$SIMCTL" "$SIMSTATE" remove 3000
start_ms=$(date +%s%3N)
fresh=$(status "n30.$zone")
took=$(( $(date +%s%3N) - start_ms ))
equals "token absent: a new signature fails (SERVFAIL)" "$fresh" "SERVFAIL"
[ "$took" -lt 2000 ] && ok "token absent: it fails fast ($took ms), no hang" || not_ok "token absent: took $took ms"
cached=0; for i in $(seq 10 20); do cached=$((cached + $(signed "n$i.$zone"))); done
equals "token absent: the 11 answers signed before keep coming" "$cached" "11"
sleep 3.5
resumed=""
for _ in $(seq 20); do [ "$(signed "n31.$zone")" = 1 ] && { resumed=yes; break; }; sleep 0.5; done
equals "token back: signing resumes, no pdns restart" "$resumed" "yes"
done_testing
