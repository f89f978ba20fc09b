#!/usr/bin/env bash
# make bench-fleet: a fleet of 1, 2 and 4 pdns_server nodes over one
# simulated card (C_Sign BENCH_FLEET_SIGN_MS ms, default 10, one call at a
# time), each node with its own cache dir, in one run, two ways:
#   ours      the nodes share the signature tier ([shared-cache]) on a
#             MariaDB primary, each reading a replica (tests/lib/fleet.sh)
#   per-node  the same nodes without [shared-cache]: each its own caches
# For each fleet size and way, from empty caches (and an empty shared
# table):
#   week      every node answers every one of BENCH_FLEET_NAMES names
#             (default 1000, one A RRset each, with the DO bit), all nodes
#             at once, each in its own random order (as a fleet's traffic
#             comes): the card's C_Sign per RRset is what one week of
#             signatures costs (an RRSIG lasts the week; presigning, off
#             here, makes the same signatures once more before the
#             boundary: once per fleet for ours, shared_presign.sh, and
#             once per node otherwise);
#   restart   every node stopped and started again with its cache dir
#             kept (the control: both ways serve from the local tiers);
#   deploy    every node started again with an empty cache dir (a new
#             release or a new machine): ours fills it from the shared
#             tier, per-node from the card.
# A restart's time is from pdns_server's start to the end of a pass in
# which it answered every name (ask_file: NOERROR with an RRSIG, none
# lost; fewer fails the bench); the fleet's is its slowest node's, with
# the card's C_Sign during it. Headline figures to $HC_BENCH_RESULTS.
set -euo pipefail
trap 'echo "bench-fleet: stopped at line $LINENO: $BASH_COMMAND" >&2' ERR
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/bench.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
. "$(dirname "$0")/../lib/fleet.sh"
N=${BENCH_FLEET_NAMES:-1000}
SIGN_MS=${BENCH_FLEET_SIGN_MS:-10}
SIZES=${BENCH_FLEET_SIZES:-1 2 4}
Z=fleet.example
pdns_sim_setup "[pdns]" "presign = no"
# Nodes are started in subshells (fleet_pass): their pids are in files.
trap 'kill $(cat "$T"/pid.* 2> /dev/null) 2> /dev/null || true; hc_cleanup' EXIT
bench_begin fleet BENCH_FLEET_NAMES=$N BENCH_FLEET_SIGN_MS=$SIGN_MS "BENCH_FLEET_SIZES=${SIZES// /,}"
cat > "$HSMSIM_CONF" <<EOC
module = $SOFTHSM_MODULE
latency-ms = 0
latency.C_Sign = $SIGN_MS
concurrency = 1
EOC
fleet_db_setup
node_conf node0
"$HC" -c "$T/node0.conf" shared-cache init > /dev/null
add_hsm_zone "$Z" "$MOD" dns '' "$N"
# Failures go to a file: each node's pass runs in a subshell.
: > "$T/failed"
fail() { echo "$1" >> "$T/failed"; }

# configure K WAY: node1..nodeK's configs, empty cache dirs, for WAY:
# ours (the shared tier, lookups on the replica, its table emptied) or
# per-node (no [shared-cache]).
configure() {
    local i
    for i in $(seq "$1"); do
        rm -rf "$T/cache-node$i"
        if [ "$2" = ours ]; then
            node_conf "node$i" "read-socket = $T/replica.sock"
        else
            sed "s|^cache-dir = .*|cache-dir = $T/cache-node$i|" "$HSMCACHE_CONF" > "$T/node$i.conf"
        fi
    done
    [ "$2" = ours ] && dbp fleet -e "TRUNCATE hsmcache_signatures"
    return 0
}
# fleet_pass K WHAT [FRESH]: nodes 1..K started at once (their cache dirs
# emptied first with FRESH), each asked every name in its own random
# order as soon as it answers; sets PASS_S and PASS_C: the slowest node's
# seconds from its start to its pass's end, and the card's C_Sign
# meanwhile.
fleet_pass() {
    local k=$1 what=$2 i pids="" t0 worst=0 ms
    for i in $(seq "$k"); do
        [ -n "${3:-}" ] && rm -rf "$T/cache-node$i"
        seq "$N" | shuf | sed "s/.*/n&.$Z A +dnssec/" > "$T/q.$i"
    done
    "$SIMCTL" "$SIMSTATE" reset
    for i in $(seq "$k"); do
        (
            t0=$(date +%s%3N)
            node_launch "node$i" $((DNS_PORT + 10 + i))
            echo "${NODE_PID[node$i]}" > "$T/pid.$i"
            node_wait "node$i" || { echo "fail node$i did not start: $(tail -2 "$T/pdns-node$i.log")" > "$T/r.$i"; exit 0; }
            n=$(ask_file $((DNS_PORT + 10 + i)) "$T/q.$i" "$T/a.$i") ||
                { echo "fail node$i answered $n of $N with an RRSIG" > "$T/r.$i"; exit 0; }
            echo "ok $(( $(date +%s%3N) - t0 ))" > "$T/r.$i"
        ) &
        pids="$pids $!"
    done
    wait $pids
    for i in $(seq "$k"); do
        NODE_PID[node$i]=$(cat "$T/pid.$i")
        HC_PIDS="$HC_PIDS ${NODE_PID[node$i]}"
        read -r st ms < "$T/r.$i"
        if [ "$st" != ok ]; then fail "$k nodes, $what: $ms"; continue; fi
        if [ "$ms" -gt "$worst" ]; then worst=$ms; fi
    done
    PASS_S=$(awk -v m="$worst" 'BEGIN { printf "%.2f", m / 1000 }')
    PASS_C=$(sim_count C_Sign)
}
fleet_down() { local i; for i in $(seq "$1"); do node_stop "node$i"; done; }

printf '%-5s %-8s | %-17s | %-20s | %-20s\n' nodes way "week C_Sign/RRset" "restart s (C_Sign)" "deploy s (C_Sign)"
for k in $SIZES; do
    for way in ours per-node; do
        key=${way/-/}_$k
        configure "$k" "$way"
        fleet_pass "$k" week
        week_c=$PASS_C
        fleet_down "$k"
        fleet_pass "$k" restart
        re_s=$PASS_S re_c=$PASS_C
        fleet_down "$k"
        fleet_pass "$k" deploy fresh
        de_s=$PASS_S de_c=$PASS_C
        fleet_down "$k"
        per=$(awk -v c="$week_c" -v n="$N" 'BEGIN { printf "%.2f", c / n }')
        printf '%-5s %-8s | %-17s | %-20s | %-20s\n' "$k" "$way" "$per" "$re_s ($re_c)" "$de_s ($de_c)"
        bench_result "week_csign_per_rrset_$key" "$per"
        bench_result "restart_s_$key" "$re_s"
        bench_result "restart_csign_$key" "$re_c"
        bench_result "deploy_s_$key" "$de_s"
        bench_result "deploy_csign_$key" "$de_c"
    done
done
echo "(week: every node answers every name once, all at once, in random orders; restart: cache dirs kept;"
echo " deploy: cache dirs emptied; seconds from the starts to the slowest node's last answer; card C_Sign $SIGN_MS ms, one at a time)"
if [ -s "$T/failed" ]; then
    { echo "bench-fleet FAILED:"; cat "$T/failed"; } >&2
    exit 1
fi
bench_done
