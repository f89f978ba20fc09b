#!/usr/bin/env bash
# Presigning once per fleet (issue 19 item 4): two pdns_server nodes, each
# with its own cache dir, over one simulated card and the shared tier (a
# MariaDB primary and a replica, tests/lib/fleet.sh), on the real clock
# (so it runs under ASan too; the weekly boundary itself, under
# libfaketime, is shared_boundary.sh):
# - both nodes answer every RRset of a zone (`pdns-hsm warm`, presigner
#   window closed): node A signs, node B's answers come from the shared
#   tier, and both record this week's signing inputs;
# - both restarted at once with the window open (presign-lead = 8d): the
#   presigner that takes the token's lease (the row 'presign:dns' in
#   hsmcache_leases) signs next week's inputs into the shared tier, the
#   other waits and then finds every one of them there: the card signs
#   each next-week input once, not twice, and both nodes end with all
#   their inputs done;
# - a second zone likewise, but the leaseholder is killed (-9) in the
#   middle: the other node signs nothing while the lease runs, takes it
#   over once it has expired (3 presign-intervals) and finishes, the
#   dead node's signatures found in the shared tier, not signed again
#   (at most one, in flight at the kill).
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
. "$(dirname "$0")/../lib/fleet.sh"
RATE=10
N=${PRESIGN_NAMES:-30}
pdns_sim_setup
fleet_db_setup
# confs LEAD: both nodes' configs, the presigner window LEAD before the
# boundary (1s: closed, unless this runs in the last second of the week).
confs() {
    write_config dns "$SIM" dnstok "[pdns]" "presign-interval = 1s" "presign-rate = $RATE" "presign-lead = $1"
    node_conf node-a
    node_conf node-b "read-socket = $T/replica.sock"
}
confs 1s
"$HC" -c "$T/node-a.conf" shared-cache init > /dev/null
now=$(date +%s); left=$(( 604800 - now % 604800 ))
[ "$left" -lt 60 ] && sleep $((left + 1))
add_hsm_zone one.example "$MOD" dns '' "$N"
add_hsm_zone two.example "$MOD" dns '' "$N"
rrsets() { mysql_q -N -e "SELECT COUNT(DISTINCT r.name, r.type) FROM records r JOIN domains d ON d.id = r.domain_id
                         WHERE d.name = '$1' AND r.type <> '' AND r.auth = 1"; }
PORT_A=$((DNS_PORT + 10)) PORT_B=$((DNS_PORT + 11))
both_up() {
    node_launch node-a "$PORT_A"; node_launch node-b "$PORT_B"
    node_wait node-a && node_wait node-b || {
        not_ok "a node did not start: $(tail -2 "$T"/pdns-node-*.log)"; done_testing; exit 1; }
}
both_down() { node_stop node-a; node_stop node-b; }
# counts NODE: its presigner's counts (pdns-load.sh's presign_counts).
counts() { HSMCACHE_CONF=$T/$1.conf presign_counts; }
# wait_done NODE [TENTHS]: until NODE's presigner has every input done.
wait_done() {
    for _ in $(seq "${2:-300}"); do
        counts "$1"
        [ -n "$inputs" ] && [ "$inputs" -gt 0 ] && [ "${done_:-0}" = "$inputs" ] && return 0
        sleep 0.1
    done
    return 1
}
holder() { dbp fleet -e "SELECT holder FROM hsmcache_leases WHERE name = 'presign:dns' AND expires >= UNIX_TIMESTAMP()"; }
# warm ZONE: node A answers every RRset (signing), then node B (from the
# shared tier); the inputs reach presign.mdb within a second.
warm() {
    local out
    local base a
    "$SIMCTL" "$SIMSTATE" reset
    base=$(rows dbp)
    out=$("$BUILD/pdns-hsm" --config-dir "$T/node-a" warm "$1" 2>&1)
    contains "node A answers every RRset of $1 (pdns-hsm warm)" "$out" "warm $1: $2/$2 RRsets"
    a=$(sim_count C_Sign)
    # A's signatures reach the primary (its writer), then the replica.
    wait_rows dbp $((base + a)) && wait_rows dbr $((base + a))
    out=$("$BUILD/pdns-hsm" --config-dir "$T/node-b" warm "$1" 2>&1)
    equals "... node B too, with its signatures from the shared tier (C_Sign: A's, B's)" \
        "$(echo "$out" | grep -o "warm $1: [0-9/]* RRsets") $a $(( $(sim_count C_Sign) - a ))" "warm $1: $2/$2 RRsets $a 0"
    sleep 2
}
rows() { "$1" fleet -e "SELECT COUNT(*) FROM hsmcache_signatures"; }
wait_rows() { for _ in $(seq 100); do [ "$(rows "$1")" -ge "$2" ] && return 0; sleep 0.1; done; return 1; }

# --- two presigners at once ----------------------------------------------
# presigners ZONE RRSETS: both nodes answer ZONE with the presigner
# window closed, then both are restarted at once with it open.
presigners() {
    confs 1s
    both_up
    warm "$1" "$2"
    both_down
    confs 8d
    "$SIMCTL" "$SIMSTATE" reset
    both_up
    # PowerDNS loads the module, and the presigner with it, on its first
    # signature; n1 is cached (this week's), so the card does not sign.
    DNS_PORT=$PORT_A ask "$1" 1 > /dev/null
    DNS_PORT=$PORT_B ask "$1" 1 > /dev/null
}
R1=$(rrsets one.example)
presigners one.example "$R1"
first=""
for _ in $(seq 100); do first=$(holder); [ -n "$first" ] && break; sleep 0.05; done
wait_done node-a; la=$line
wait_done node-b; lb=$line
equals "two nodes presigning at once: the card signs each of the $R1 next-week inputs once, not twice" \
    "$(sim_count C_Sign)" "$R1"
check "... while one node held the token's lease (holder: ${first:-none})" \
    test -n "$first"
check "... and both end with every input done (A: $la; B: $lb)" \
    test "$(echo "$la" | grep -c "left 0, failed 0")$(echo "$lb" | grep -c "left 0, failed 0")" = 11
# Each pass (every presign-interval) takes the lease and gives it back.
for _ in $(seq 20); do
    out=$("$HC" -c "$T/node-a.conf" shared-cache status)
    case $out in *"lease presign:dns: free"*) break ;; esac
    sleep 0.1
done
contains "hsmcache shared-cache status shows the lease, given back after each pass" "$out" "lease presign:dns: free (last held by node-"

# --- the leaseholder killed mid-way --------------------------------------
both_down
R2=$(rrsets two.example)
presigners two.example "$R2"
for _ in $(seq 200); do [ "$(sim_count C_Sign)" -ge 5 ] && break; sleep 0.05; done
h=$(holder)
case $h in node-a:*) dead=node-a live=node-b ;; node-b:*) dead=node-b live=node-a ;; *) dead="" ;; esac
if [ -z "$dead" ]; then
    not_ok "no node holds the lease after 5 card signatures (holder '$h')"; done_testing; exit 1
fi
node_stop "$dead" KILL
killed=$(sim_count C_Sign)
sleep 1.5
equals "the leaseholder ($h) killed after $killed signatures: the other node signs nothing while the lease runs" \
    "$(sim_count C_Sign)" "$killed"
wait_done "$live" 300
total=$(sim_count C_Sign)
check "... then takes it over and finishes: $total card signatures for the $R2 next-week inputs (one more if one was in flight at the kill; $line)" \
    test "$total" -ge "$R2" -a "$total" -le $((R2 + 1)) -a "$killed" -lt "$R2"
contains "... its lease row names it" "$(dbp fleet -e "SELECT holder FROM hsmcache_leases WHERE name = 'presign:dns'")" "$live:"
node_stop "$live"
done_testing
