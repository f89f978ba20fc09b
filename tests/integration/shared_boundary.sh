#!/usr/bin/env bash
# Two pdns_server nodes of a fleet (their own cache dirs, one simulated
# card, the shared tier on a MariaDB primary and a replica:
# tests/lib/fleet.sh) across PowerDNS's weekly boundary, their clocks
# moved together by libfaketime (the same offset):
# - an hour before Thursday 00:00 UTC, presigner window closed, both
#   answer every RRset of the zone (`pdns-hsm warm`): node A signs, node
#   B's answers come from the shared tier; both record the inputs;
# - both restarted with the window open: both presigners run at once,
#   one per token holds the fleet's lease, and the card signs each
#   next-week input once, not twice;
# - both restarted ten minutes after the boundary (PowerDNS's own caches
#   empty, every input with new dates): all N names answered by each
#   node with no C_Sign, next week's inception, and ldns-verify-zone (at
#   the moved time) accepts the RRSIGs both nodes served.
# no-sanitizer: the test needs libfaketime preloaded in pdns_server; with libasan preloaded too, processes hang (seen with ldns-verify-zone)
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
. "$(dirname "$0")/../lib/fleet.sh"
N=${PRESIGN_NAMES:-40}
Z=bnd.example
pdns_sim_setup
fleet_db_setup
confs() { # LEAD
    write_config dns "$SIM" dnstok "[pdns]" "presign-interval = 1s" "presign-rate = 50" "presign-lead = $1"
    node_conf node-a
    node_conf node-b "read-socket = $T/replica.sock"
}
confs 1s
"$HC" -c "$T/node-a.conf" shared-cache init > /dev/null
add_hsm_zone "$Z" "$MOD" dns '' "$N"
rrsets=$(mysql_q -N -e "SELECT COUNT(DISTINCT name, type) FROM records WHERE type <> '' AND auth = 1")
PORT_A=$((DNS_PORT + 10)) PORT_B=$((DNS_PORT + 11))
now=$(date +%s)
B=$(( now - now % 604800 + 2 * 604800 ))   # a Thursday 00:00 UTC over a week away
both_up() { # SECONDS-FROM-B: both nodes' clocks at B + SECONDS-FROM-B
    NODE_FAKETIME=$(( B + $1 - $(date +%s) ))
    node_launch node-a "$PORT_A"; node_launch node-b "$PORT_B"
    node_wait node-a && node_wait node-b || {
        not_ok "a node did not start: $(tail -2 "$T"/pdns-node-*.log)"; done_testing; exit 1; }
}
both_down() { node_stop node-a; node_stop node-b; }
counts() { HSMCACHE_CONF=$T/$1.conf presign_counts; }
wait_done() { # NODE: until its presigner has every input done (30 s)
    for _ in $(seq 300); do
        counts "$1"
        [ -n "$inputs" ] && [ "$inputs" -gt 0 ] && [ "${done_:-0}" = "$inputs" ] && return 0
        sleep 0.1
    done
    return 1
}
rows() { "$1" fleet -e "SELECT COUNT(*) FROM hsmcache_signatures"; }

# --- this week: both nodes answer ----------------------------------------
both_up -3600
"$SIMCTL" "$SIMSTATE" reset
out=$("$BUILD/pdns-hsm" --config-dir "$T/node-a" warm "$Z" 2>&1)
contains "an hour before the boundary node A answers every RRset (pdns-hsm warm)" "$out" "warm $Z: $rrsets/$rrsets RRsets"
warm_a=$(sim_count C_Sign)
for _ in $(seq 100); do [ "$(rows dbr)" -ge "$warm_a" ] && break; sleep 0.1; done
out=$("$BUILD/pdns-hsm" --config-dir "$T/node-b" warm "$Z" 2>&1)
equals "... and node B, its signatures from the shared tier (C_Sign: A's warm, B's)" \
    "$(echo "$out" | grep -o "warm $Z: [0-9/]* RRsets") $warm_a $(( $(sim_count C_Sign) - warm_a ))" \
    "warm $Z: $rrsets/$rrsets RRsets $warm_a 0"
sleep 2   # the recorded inputs reach presign.mdb once a second
both_down

# --- both presigners at once -----------------------------------------------
confs 2h
"$SIMCTL" "$SIMSTATE" reset
both_up -3600
# PowerDNS loads the module (and the presigner) on its first signature.
DNS_PORT=$PORT_A ask "$Z" 1 > /dev/null
DNS_PORT=$PORT_B ask "$Z" 1 > /dev/null
wait_done node-a; la=$line
wait_done node-b; lb=$line
equals "both presigners ran at once: the card signed each of the $rrsets next-week inputs once, not twice" \
    "$(sim_count C_Sign)" "$rrsets"
check "... and both nodes have every input done (A: $la; B: $lb)" \
    test "$(echo "$la" | grep -c "left 0, failed 0")$(echo "$lb" | grep -c "left 0, failed 0")" = 11
both_down

# --- after the boundary ------------------------------------------------------
pdnsutil_t add-record "$Z" "n$((N + 1))" A 3600 192.0.2.1 > /dev/null 2>&1
pdnsutil_t rectify-zone "$Z" > /dev/null 2>&1
both_up 600
"$SIMCTL" "$SIMSTATE" reset
na=$(DNS_PORT=$PORT_A ask "$Z" "$N")
inc_a=$(awk '$4 == "RRSIG" && $5 == "A" { print $10; exit }' "$T/answers")
cp "$T/answers" "$T/answers.a"
nb=$(DNS_PORT=$PORT_B ask "$Z" "$N")
equals "ten minutes after the boundary, restarted: both nodes answer the $N names with an RRSIG and the card signs none" \
    "A $na, B $nb, C_Sign $(sim_count C_Sign)" "A $N, B $N, C_Sign 0"
signed_a "$(dig +dnssec +noall +answer -p "$PORT_B" @127.0.0.1 "n$((N + 1)).$Z" A)"
equals "... while a name nobody answered last week costs one C_Sign (the control)" \
    "signed $? C_Sign $(sim_count C_Sign)" "signed 0 C_Sign 1"
# The AXFRs of answers_verify sign what no answer asked for: after the counts.
verify_b=$(DNS_PORT=$PORT_B answers_verify "$Z" "$(date -u -d "@$((B + 900))" +%Y%m%d%H%M%S)")
cp "$T/answers.a" "$T/answers"
verify_a=$(DNS_PORT=$PORT_A answers_verify "$Z" "$(date -u -d "@$((B + 900))" +%Y%m%d%H%M%S)")
equals "... the answers carry next week's inception" "$inc_a" "$(date -u -d "@$((B - 604800))" +%Y%m%d%H%M%S)"
equals "... and ldns-verify-zone (at the moved time) accepts the RRSIGs node A and node B served" \
    "$verify_a / $verify_b" "$N Zone is verified and complete / $N Zone is verified and complete"
both_down
done_testing
