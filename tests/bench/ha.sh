#!/usr/bin/env bash
# make bench-ha: token groups (issue 18) on the latency-bound simulator.
# Three SoftHSM tokens hold the same imported P-256 key pair, each behind
# its own copy of the simulator (and of SoftHSM) with C_Sign at
# BENCH_HA_MS (default 50) ms and one call at a time, so each member's
# ceiling is 1000 / 50 = 20 C_Sign/s and a group of N members' is N times
# that (members x in-flight / latency). Side by side in one run, each
# pass alternating 1 member (the token alone), a group of 2 and a group
# of 3: new signatures/s of tests/sigload (random data: every signature a
# new one; cache off; BENCH_HA_THREADS threads, default 6) through the
# PKCS#11 front, warm (warm_rate: a 1 s and a BENCH_SECONDS run
# differenced). The median and, in brackets, the lowest and highest pass;
# the group/1-member ratio is taken per pass (goal: 2 members >= 1.8x).
# Then the cost of the hand-off a member's calls take to be timed, side by
# side on plain SoftHSM (no simulator), 1 thread: a group of 2 members
# against one token, time per signature.
# Then PowerDNS under dnsperf on the same devices (BENCH_HA_PDNS_NAMES,
# default 400, new names a pass: every answer a new signature made by a
# card, [pdns] signature-cache and presign off, C_Sign counted at the
# simulators), side by side in one run: passes alternate 1 member (token
# dns on device a alone), a group of 2 and a group of 3, each after a
# pdns_server restart, and a last row, the group of 2 with every query on
# one Slot string. PowerDNS signs one signature at a time per Slot string
# (its lock per slot): the three zones are on three spellings of the
# token's name, dns, DNS and Dns, which it matches without case but locks
# apart (pdns-backend/README), in every row but the last. A
# pass counts only if complete (every query NOERROR, none lost, at least
# one C_Sign per query), else the bench fails. q/s against the device
# limit, and the 2/1 ratio per pass (goal >= 1.8).
# Then the failover run: a group of 2 under load for BENCH_HA_FAILOVER
# (default 40) s, member a removed from the 5th second for 30 s
# (BENCH_HA_REMOVED): signatures, failed, and each member's C_Sign count
# before, during and after the removal.
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/bench.sh"
. "$(dirname "$0")/../lib/members.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
SECONDS_EACH=${BENCH_SECONDS:-5}
REPEAT=${BENCH_REPEAT:-3}
MS=${BENCH_HA_MS:-50}
THREADS=${BENCH_HA_THREADS:-6}
FAILOVER=${BENCH_HA_FAILOVER:-40}
REMOVED=${BENCH_HA_REMOVED:-30}
PDNS_NAMES=${BENCH_HA_PDNS_NAMES:-400}
hc_setup
bench_begin ha BENCH_SECONDS=$SECONDS_EACH BENCH_REPEAT=$REPEAT BENCH_HA_MS=$MS \
    BENCH_HA_THREADS=$THREADS BENCH_HA_FAILOVER=$FAILOVER BENCH_HA_REMOVED=$REMOVED \
    BENCH_HA_PDNS_NAMES=$PDNS_NAMES
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/k.pem" 2> /dev/null
sim_members "$MS" 1 a b c
import_pair "$T/k.pem" k 4b01 a b c
# conf FILE MODULE_PREFIX [GROUP MEMBERS...]: tokens a, b and c on the
# modules PREFIX{a,b,c}.so, and a group GROUP of MEMBERS; cache off.
conf() {
    local file=$1 pre=$2 m
    shift 2
    {
        printf '[core]\npin-store = %s/pins\ncache-dir = %s/cache\n' "$T" "$T"
        printf '[pkcs11]\nsignature-cache = no\n'
        for m in a b c; do
            printf '[token %s]\nmodule = %s%s.so\nlabel = dev-%s\n' "$m" "$pre" "$m" "$m"
        done
        if [ $# -gt 0 ]; then
            printf '[token %s]\nmembers = ' "$1"
            shift
            echo "$@" | tr ' ' ,
        fi
    } > "$T/$file.conf"
}
conf a "$T/hsmsim-"
conf g2 "$T/hsmsim-" g2 a b
conf g3 "$T/hsmsim-" g3 a b c
conf plain "$T/softhsm-"
conf gplain "$T/softhsm-" gplain a b
export HSMCACHE_CONF=$T/a.conf
for d in a b c; do store_pin "$d"; done
rate() { # CONFIG TOKEN THREADS
    HSMCACHE_CONF=$T/$1.conf warm_rate "$FRONT" k "$3" "$SECONDS_EACH" --token "$2"
}
limit1=$(device_limit 1 "$MS")
echo "machine: $(nproc) cores; token: SoftHSM $(dpkg-query -W -f='${Version}' softhsm2), key: EC P-256 (one key pair imported into every member)"
echo "simulator: C_Sign $MS ms, one call at a time per member (ceiling $limit1/s each); $THREADS threads; cache off"
echo "warm rates, 1 s and ${SECONDS_EACH} s runs differenced; $REPEAT passes: median [lowest-highest]"
for r in $(seq "$REPEAT"); do
    one=$(rate a a "$THREADS")
    two=$(rate g2 g2 "$THREADS")
    three=$(rate g3 g3 "$THREADS")
    echo "$one" >> "$T/r1"
    echo "$two" >> "$T/r2"
    echo "$three" >> "$T/r3"
    echo "$two / $one" | bc -l >> "$T/x2"
    echo "$three / $one" | bc -l >> "$T/x3"
    # the hand-off: plain SoftHSM, 1 thread, a token against a group of 2
    tok=$(rate plain a 1)
    grp=$(rate gplain gplain 1)
    echo "1000000 / $tok" | bc -l >> "$T/us_token"
    echo "1000000 / $grp" | bc -l >> "$T/us_group"
    echo "(1000000 / $grp) - (1000000 / $tok)" | bc -l >> "$T/us_extra"
done
printf '%-9s %24s %16s %22s %18s\n' members "signatures/s" "device limit" "share of the limit" "x one member"
for n in 1 2 3; do
    med=$(stats %.1f < "$T/r$n" | cut -d' ' -f1)
    lim=$(device_limit "$n" "$MS")
    x="1.00"
    [ "$n" = 1 ] || x=$(stats %.2f < "$T/x$n")
    printf '%-9s %24s %16s %21s%% %18s\n' "$n" "$(stats %.1f < "$T/r$n")" "$lim/s" "$(share "$med" "$lim")" "$x"
    bench_stat "rate_$n" %.1f < "$T/r$n"
    bench_result "limit_$n" "$lim"
done
bench_stat ratio_2 %.2f < "$T/x2"
bench_stat ratio_3 %.2f < "$T/x3"
echo "2 members / 1 member: $(stats %.2f < "$T/x2") (goal >= 1.8); 3 members: $(stats %.2f < "$T/x3")"
echo "timed member calls on plain SoftHSM, 1 thread: token $(stats %.1f < "$T/us_token") us, group of 2 $(stats %.1f < "$T/us_group") us per signature; the group's extra $(stats %.1f < "$T/us_extra") us (routing and two thread hand-offs per signature, C_SignInit and C_Sign)"
bench_stat token_us %.1f < "$T/us_token"
bench_stat group_us %.1f < "$T/us_group"
bench_stat group_extra_us %.1f < "$T/us_extra"

# PowerDNS on members a, b and c (see the top): zones hz0, hz1 and hz2 on
# Slot dns, DNS and Dns, their keys imported into every member.
MOD=hsmcache-bench-$$
register_module "$MOD" "$BUILD/hsmcache-pdns.so"
pdns_conf() { # NAME one|two|three
    {
        printf '[core]\npin-store = %s/pins\ncache-dir = %s/cache\n' "$T" "$T"
        printf '[pdns]\nsignature-cache = no\npresign = no\n'
        if [ "$2" = two ]; then
            member_conf a
            member_conf b
            printf '[token dns]\nmembers = a, b\n'
        elif [ "$2" = three ]; then
            member_conf a
            member_conf b
            member_conf c
            printf '[token dns]\nmembers = a, b, c\n'
        else
            printf '[token dns]\nmodule = %s\nlabel = dev-a\n' "$T/hsmsim-a.so"
        fi
    } > "$T/pdns-$1.conf"
}
pdns_conf one one
pdns_conf two two
pdns_conf three three
HSMCACHE_CONF=$T/pdns-one.conf store_pin dns
start_mariadb || { echo "MariaDB did not start: $(tail -3 "$T/mysqld.err")" >&2; exit 1; }
write_pdns_conf
# Names per zone: each pass new ones (hz0 takes a third of the names of
# three passes and all of the one-slot pass's), the last for priming.
ZN=$((REPEAT * (3 * ((PDNS_NAMES + 2) / 3) + PDNS_NAMES) + 1))
HSMCACHE_CONF=$T/pdns-three.conf add_imported_zone hz0.example "$MOD" dns "$ZN" a b c
HSMCACHE_CONF=$T/pdns-three.conf add_imported_zone hz1.example "$MOD" DNS "$ZN" a b c
HSMCACHE_CONF=$T/pdns-three.conf add_imported_zone hz2.example "$MOD" Dns "$ZN" a b c
NEXT0=1
PFAILED=""
# pdns_pass ROW CONFIG ZONES: PDNS_NAMES new names (ZONES 3: a third in
# each zone, interleaved; 1: all in hz0) through pdns_server on CONFIG, after a
# restart and one query per zone outside the pass (it loads the keys);
# its q/s appended to $T/pq_ROW.
pdns_pass() {
    local row=$1 f=$T/pdns-$1-$NEXT0 i c0 c1 m
    if [ "$3" = 3 ]; then
        for i in $(seq 0 $((PDNS_NAMES - 1))); do
            echo "n$((NEXT0 + i / 3)).hz$((i % 3)).example A"
        done > "$f.q"
        NEXT0=$((NEXT0 + (PDNS_NAMES + 2) / 3))
    else
        for i in $(seq "$NEXT0" $((NEXT0 + PDNS_NAMES - 1))); do echo "n$i.hz0.example A"; done > "$f.q"
        NEXT0=$((NEXT0 + PDNS_NAMES))
    fi
    export HSMCACHE_CONF=$T/pdns-$2.conf
    start_pdns || { echo "pdns_server did not start: $(tail -3 "$T/pdns.log")" >&2; exit 1; }
    for i in 0 1 2; do dig +dnssec +time=10 +tries=1 -p "$DNS_PORT" @127.0.0.1 "n$ZN.hz$i.example" A > /dev/null || true; done
    c0=0 c1=0
    for m in a b c; do c0=$((c0 + $(member_signs $m))); done
    perf_pass "$f" "$f.q" -n 1 -t 30 -q 20
    for m in a b c; do c1=$((c1 + $(member_signs $m))); done
    stop_pdns
    [ "$(perf_get "$f" lost)" = 0 ] && [ "$(perf_get "$f" parse_ok)" = 1 ] &&
        [ "$(perf_get "$f" noerror)" = "$PDNS_NAMES" ] && [ "$(perf_get "$f" sent)" = "$PDNS_NAMES" ] &&
        [ $((c1 - c0)) -ge "$PDNS_NAMES" ] ||
        PFAILED="$PFAILED$row pass: sent $(perf_get "$f" sent) of $PDNS_NAMES, NOERROR $(perf_get "$f" noerror), SERVFAIL $(perf_get "$f" servfail), other $(perf_get "$f" other_rcodes), lost $(perf_get "$f" lost), C_Sign $((c1 - c0))"$'\n'
    perf_get "$f" qps >> "$T/pq_$row"
}
for r in $(seq "$REPEAT"); do
    pdns_pass one one 3
    pdns_pass two two 3
    pdns_pass three three 3
    pdns_pass slot1 two 1
    echo "$(tail -1 "$T/pq_two") / $(tail -1 "$T/pq_one")" | bc -l >> "$T/px_two"
    echo "$(tail -1 "$T/pq_three") / $(tail -1 "$T/pq_one")" | bc -l >> "$T/px_three"
    echo "$(tail -1 "$T/pq_slot1") / $(tail -1 "$T/pq_one")" | bc -l >> "$T/px_slot1"
done
echo "PowerDNS $(pdns_server --version 2>&1 | sed -n 's/.*Authoritative Server \([^ ]*\).*/\1/p' | head -1) under dnsperf (-q 20), $PDNS_NAMES new names a pass (each answer a new signature at a card: caches off, C_Sign counted), zones on Slot dns, DNS and Dns; $REPEAT passes, each after a restart: median [lowest-highest]"
printf '%-28s %24s %16s %22s %18s\n' pdns "new signatures/s" "device limit" "share of the limit" "x one member"
for row in one two three slot1; do
    case $row in
    one) n=1 desc="1 member" x=1.00 ;;
    two) n=2 desc="2 members" x=$(stats %.2f < "$T/px_two") ;;
    three) n=3 desc="3 members" x=$(stats %.2f < "$T/px_three") ;;
    slot1) n=2 desc="2 members, one Slot string" x=$(stats %.2f < "$T/px_slot1") ;;
    esac
    lim=$(device_limit "$n" "$MS")
    med=$(stats %.1f < "$T/pq_$row" | cut -d' ' -f1)
    printf '%-28s %24s %16s %21s%% %18s\n' "$desc" "$(stats %.1f < "$T/pq_$row")" "$lim/s" "$(share "$med" "$lim")" "$x"
done
awk -v l="$(device_limit 1 "$MS")" '{ print $1 / l }' "$T/pq_one" | bench_stat pdns_share_1 %.2f
awk -v l="$(device_limit 2 "$MS")" '{ print $1 / l }' "$T/pq_two" | bench_stat pdns_share_2 %.2f
bench_stat pdns_rate_1 %.1f < "$T/pq_one"
bench_stat pdns_rate_2 %.1f < "$T/pq_two"
bench_stat pdns_rate_3 %.1f < "$T/pq_three"
bench_stat pdns_ratio_3 %.2f < "$T/px_three"
bench_stat pdns_rate_2_one_slot %.1f < "$T/pq_slot1"
bench_stat pdns_ratio_2 %.2f < "$T/px_two"
bench_stat pdns_ratio_2_one_slot %.2f < "$T/px_slot1"
bench_result pdns_limit_1 "$(device_limit 1 "$MS")"
bench_result pdns_limit_2 "$(device_limit 2 "$MS")"
bench_result pdns_limit_3 "$(device_limit 3 "$MS")"
echo "2 members / 1 member under PowerDNS: $(stats %.2f < "$T/px_two") (goal >= 1.8); 3 members: $(stats %.2f < "$T/px_three"); 2 members with every zone on one Slot string: $(stats %.2f < "$T/px_slot1") (PowerDNS's lock per slot)"
[ -z "$PFAILED" ] || { printf 'PowerDNS passes incomplete:\n%s' "$PFAILED" >&2; exit 1; }
export HSMCACHE_CONF=$T/a.conf

# The failover run: a group of 2 under load, member a removed meanwhile.
SA=$T/sim-a.conf.state SB=$T/sim-b.conf.state
signs() { "$SIMCTL" "$1" get C_Sign; }
"$SIMCTL" "$SA" reset > /dev/null
"$SIMCTL" "$SB" reset > /dev/null
HSMCACHE_CONF=$T/g2.conf "$BUILD/tests/sigload" "$FRONT" k "$THREADS" "$FAILOVER" --token g2 > "$T/failover.out" 2>&1 &
pid=$!
HC_PIDS="${HC_PIDS:-} $pid"
sleep 5
a0=$(signs "$SA") b0=$(signs "$SB")
"$SIMCTL" "$SA" remove "$((REMOVED * 1000))"
sleep "$REMOVED"
a1=$(signs "$SA") b1=$(signs "$SB")
st=0
wait "$pid" || st=$?
a2=$(signs "$SA") b2=$(signs "$SB")
out=$(tail -1 "$T/failover.out")
echo "failover: a group of 2 under $THREADS threads for $FAILOVER s, member a removed at 5 s for $REMOVED s: $out"
echo "  C_Sign calls  before (5 s): a $a0, b $b0; removed ($REMOVED s): a $((a1 - a0)), b $((b1 - b0)); after: a $((a2 - a1)), b $((b2 - b1))"
failed=$(echo "$out" | sed -n 's/.*failed \([0-9]*\).*/\1/p')
signed=$(echo "$out" | sed -n 's/^signatures \([0-9]*\).*/\1/p')
bench_result failover_signatures "${signed:-0}"
bench_result failover_failed "${failed:-unknown}"
bench_result failover_a "$a0 $((a1 - a0)) $((a2 - a1))"
bench_result failover_b "$b0 $((b1 - b0)) $((b2 - b1))"
[ "$st" = 0 ] && [ "${failed:-1}" = 0 ] || { echo "failover run: sigload status $st, failed ${failed:-?}" >&2; exit 1; }
bench_done
