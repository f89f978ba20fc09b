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
# Then the failover run: a group of 2 under load for BENCH_HA_FAILOVER
# (default 40) s, member a removed from the 5th second for 30 s
# (BENCH_HA_REMOVED): signatures, failed, and each member's C_Sign count
# before, during and after the removal.
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/bench.sh"
SECONDS_EACH=${BENCH_SECONDS:-5}
REPEAT=${BENCH_REPEAT:-3}
MS=${BENCH_HA_MS:-50}
THREADS=${BENCH_HA_THREADS:-6}
FAILOVER=${BENCH_HA_FAILOVER:-40}
REMOVED=${BENCH_HA_REMOVED:-30}
hc_setup
bench_begin ha BENCH_SECONDS=$SECONDS_EACH BENCH_REPEAT=$REPEAT BENCH_HA_MS=$MS \
    BENCH_HA_THREADS=$THREADS BENCH_HA_FAILOVER=$FAILOVER BENCH_HA_REMOVED=$REMOVED
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/k.pem" 2> /dev/null
for d in a b c; do
    make_token "dev-$d"
    softhsm2-util --import "$T/k.pem" --token "dev-$d" --label k --id 4b01 --pin "$PIN" > /dev/null
    cp "$SIM" "$T/hsmsim-$d.so"
    cp "$SOFTHSM_MODULE" "$T/softhsm-$d.so"
    printf 'module = %s\nlatency-ms = 0\nlatency.C_Sign = %s\nconcurrency = 1\n' \
        "$T/softhsm-$d.so" "$MS" > "$T/sim-$d.conf"
    export "HSMSIM_CONF_hsmsim_$d=$T/sim-$d.conf"
done
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
