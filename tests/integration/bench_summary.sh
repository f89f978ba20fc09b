#!/usr/bin/env bash
# bench_summary.sh: `make bench`'s summary (tests/bench/summary.py) over
# results files written by tests/lib/bench.sh's own functions: a goal is
# "met" or "MISSED" only from a bench that finished with every figure; a
# failed bench, a bench not asked for and a missing figure never read as
# met; P9 (bench-scale) is met or missed on its ratio; knobs from the
# environment mark a verdict "(short)". No servers, no tokens: nothing to
# lock.
set -uo pipefail
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/bench.sh"
T=$(mktemp -d /tmp/hsmcache-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
SUMMARY="python3 $TOP/tests/bench/summary.py"

# front_results FILE MISS [done]: bench-front's figures through bench.sh,
# miss cost MISS (time front/direct) in every pass; `status ok` with done.
front_results() {
    HC_BENCH_RESULTS=$1
    bench_begin front BENCH_SECONDS=5 BENCH_REPEAT=5
    for th in 1 2; do
        printf '10000\n11000\n9000\n' | bench_stat "direct_rate_$th" %.0f
        printf '9900\n10900\n8900\n' | bench_stat "front_rate_$th" %.0f
        printf '%s\n' "$2" "$2" "$2" | bench_stat "miss_cost_$th" %.3f
    done
    printf '100\n' | bench_stat direct_us %.2f
    printf '0.8\n0.7\n0.9\n' | bench_stat memory_hit_us %.2f
    printf '1.5\n1.4\n6.0\n' | bench_stat disk_hit_us %.2f
    [ "${3:-}" = done ] && bench_done
    HC_BENCH_RESULTS=
}
# verdict OUT WHAT: the verdict column of the row whose text starts WHAT.
verdict() { printf '%s\n' "$1" | awk -F '  +' -v w="$2" 'index($2, w) == 1 { print $NF; exit }'; }

mkdir -p "$T/ok" "$T/missed" "$T/failed" "$T/short"
front_results "$T/ok/front.results" 1.010 done
out=$($SUMMARY "$T/ok" front)
equals "front finished, miss 1.01: P6 miss met" "$(verdict "$out" "front miss, 1 thread")" met
equals "memory hit 0.8 us: met" "$(verdict "$out" "memory hit")" met
equals "disk hit median 1.5 us (one pass 6.0): met on the median" "$(verdict "$out" "disk hit")" met
contains "ours shown as median [lowest-highest]" "$out" "1.50 [1.40-6.00]"
equals "pdns not asked for: not run" "$(verdict "$out" "pdns after restart, q/s")" "not run (bench-pdns)"
equals "P9: bench-scale not asked for: not run" "$(verdict "$out" "key lookup")" "not run (bench-scale)"
# scale_results FILE RATIO: bench-scale's P9 figures, lookups RATIO times slower at the most keys.
scale_results() {
    HC_BENCH_RESULTS=$1
    bench_begin scale BENCH_SCALE_LOOKUPS=2000
    bench_result lookup_us_small 80.0
    bench_result lookup_us_large "$(echo "80 * $2" | bc -l)"
    bench_result lookup_ratio "$2"
    bench_done
    HC_BENCH_RESULTS=
}
mkdir -p "$T/scale-ok" "$T/scale-missed"
scale_results "$T/scale-ok/scale.results" 1.10
equals "P9: lookups 1.1x at the most keys: met" "$(verdict "$($SUMMARY "$T/scale-ok" scale)" "key lookup")" met
scale_results "$T/scale-missed/scale.results" 2.50
equals "P9: lookups 2.5x at the most keys: MISSED" "$(verdict "$($SUMMARY "$T/scale-missed" scale)" "key lookup")" MISSED

front_results "$T/missed/front.results" 1.300 done
out=$($SUMMARY "$T/missed" front)
equals "miss 1.3 over direct: MISSED" "$(verdict "$out" "front miss, 2 threads")" MISSED

front_results "$T/failed/front.results" 1.010
out=$($SUMMARY "$T/failed" front ssh)
equals "front without status ok: FAILED, not met" "$(verdict "$out" "memory hit")" "FAILED (bench-front)"
equals "ssh asked for, no results file: FAILED" "$(verdict "$out" "ssh-keygen per process")" "FAILED (bench-ssh)"
lacks "a failed run shows no met" "$out" " met"
contains "the failed bench is named below the table" "$out" "bench-ssh: FAILED before writing any figure"

front_results "$T/short/front.results" 1.010 done
sed -i '/^memory_hit_us /d' "$T/short/front.results"
out=$($SUMMARY "$T/short" front)
equals "finished but a figure missing: no figure" "$(verdict "$out" "memory hit")" "no figure (bench-front)"
BENCH_REPEAT=2 front_results "$T/short/front.results" 1.010 done
out=$($SUMMARY "$T/short" front)
equals "BENCH_REPEAT from the environment: (short)" "$(verdict "$out" "front miss, 1 thread")" "met (short)"
contains "the short run's knobs listed" "$out" "bench-front: short run, knobs BENCH_SECONDS=5 BENCH_REPEAT=5"

out=$(cd "$TOP" && make --no-print-directory bench BENCH="front nosuch" 2>&1)
check "make bench refuses an unknown bench" test $? -ne 0
contains "and names it" "$out" "BENCH: no bench nosuch"
done_testing
