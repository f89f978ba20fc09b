#!/usr/bin/env bash
# PowerDNS signing through hsmcached while the agent is killed (-9) under
# dnsperf load and started again 3 s later: every dnsperf query over the
# signed names is answered (none lost), NOERROR, in every second of the
# outage, and a dig sample of them carries RRSIGs; new names are refused
# by the server (SERVFAIL, not a lost query) fast instead of hanging; and
# signing resumes once the agent is back (within 5 s: README promises no
# number for the agent), with the same pdns_server process (its PKCS#11
# handles are found again in the new agent).
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
HC_AGENT=1
pdns_sim_setup
Z=load.example
add_hsm_zone "$Z" "$MOD" dns '' 300
must_start_pdns
n=$(ask "$Z" 150)
equals "150 names signed before the outage (NOERROR with an RRSIG)" "$n" "150"
# agent_outage S: kill -9 the agent now, start a new one S seconds later.
agent_outage() {
    kill -9 "$(cat "$T/agent.pid")"
    ( sleep "$1"; exec "$BUILD/hsmcached" --pidfile "$T/agent.pid" >> "$T/agent.log" 2>&1 ) &
}
old=$(cat "$T/agent.pid")
OUTAGE=agent_outage removal_run "$Z" 150 3 8 > "$T/removal"
check "a new agent runs (pid $(cat "$T/agent.pid"), was $old)" test "$(cat "$T/agent.pid")" != "$old"
removal_checks "the agent" 3 1000 5000
done_testing
