#!/usr/bin/env bash
# PowerDNS signing through hsmcached while the agent is killed (-9) under
# dnsperf load and started again 3 s later: the signed answers keep
# coming (no SERVFAIL), new names fail fast instead of hanging, and
# signing resumes once the agent is back, with the same pdns_server
# process (its PKCS#11 handles are found again in the new agent).
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
HC_AGENT=1
pdns_sim_setup
Z=load.example
add_hsm_zone "$Z" "$MOD" dns '' 300
check "pdns_server starts" start_pdns
ask "$Z" 150
# agent_outage S: kill -9 the agent now, start a new one S seconds later.
agent_outage() {
    kill -9 "$(cat "$T/agent.pid")"
    ( sleep "$1"; exec "$BUILD/hsmcached" --pidfile "$T/agent.pid" >> "$T/agent.log" 2>&1 ) &
}
old=$(cat "$T/agent.pid")
OUTAGE=agent_outage removal_run "$Z" 150 new 3 8 > "$T/removal"
v() { awk -v k="$1" '$1 == k { print $2 }' "$T/removal"; }
check "a new agent runs (pid $(cat "$T/agent.pid"), was $old)" test "$(cat "$T/agent.pid")" != "$old"
check "dnsperf got answers for the signed names throughout ($(v cached_answers))" test "$(v cached_answers)" -gt 150
equals "... none of them SERVFAIL while the agent was down" "$(v cached_servfail)" "0"
check "new names failed while the agent was down ($(v new_failed) of $(v new_asked))" test "$(v new_failed)" -ge 1
equals "... none was signed while it was down" "$(v new_signed_absent)" "0"
check "... each failed fast, not hanging (slowest $(v new_max_ms) ms)" test "$(v new_max_ms)" -lt 1000
check "signing resumed within 5 s of the agent's return ($(v resume_ms) ms), no pdns restart" \
    test "$(v resume_ms)" -ge 0 -a "$(v resume_ms)" -le 5000
check "pdns_server is the same process" kill -0 "$PDNS_PID"
done_testing
