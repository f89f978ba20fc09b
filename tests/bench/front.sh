#!/usr/bin/env bash
# make bench-front: the PKCS#11 front's overhead, measured side by side in
# one run on the same SoftHSM token and the same P-256 key:
#   direct  pkcs11-tool-style use of libsofthsm2.so (logged in with the PIN)
#   front   build/hsmcache-pkcs11.so over the same token, cache off
#   hit     the front with the cache on, signing the same hash (every call
#           after the first is a memory cache hit)
#   disk    the same with memory-cache-entries = 0: every call after the
#           first is read from the LMDB tier and its integrity tag checked
# Each cell is CKM_ECDSA signatures/s with 1 and 2 threads; each thread
# has its own session. All rates are warm, on both sides: sigload logs in
# before its timer for direct, while the front logs in at its first call
# that needs the token, and per-thread sessions are real calls for direct
# but front state for the front; so each rate is the difference of a 1 s
# and a BENCH_SECONDS run (default 5; warm_rate in tests/lib/bench.sh),
# and no setup counts on either side. Only signatures that succeeded are
# counted (sigload fails the run on any failure). Signatures are not
# verified in the timed loop (the correctness tests verify every one).
# BENCH_REPEAT passes (default 5), the front and direct alternating within
# each pass (front, direct, hit, disk): the median and, in brackets, the
# lowest and highest pass; the front/direct ratio is taken per pass. Each
# rate's long run lasts BENCH_SECONDS (5 s). No simulator: SoftHSM only,
# so no device limit. Headline figures go to $HC_BENCH_RESULTS
# (tests/bench/summary.py): the miss cost (direct/front, time per
# signature) and the cost of a memory and a disk hit in microseconds.
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/bench.sh"
SECONDS_EACH=${BENCH_SECONDS:-5}
REPEAT=${BENCH_REPEAT:-5}
hc_setup
bench_begin front BENCH_SECONDS=$SECONDS_EACH BENCH_REPEAT=$REPEAT
make_token bench
write_config bench softhsm2 bench "[pkcs11]" "signature-cache = no"
store_pin bench
"$HC" keygen bench ec ecdsa-p256 >/dev/null
rate() { warm_rate "$1" ec "$2" "$SECONDS_EACH" "${@:3}"; }
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "token: SoftHSM $(dpkg-query -W -f='${Version}' softhsm2), key: EC P-256, mechanism CKM_ECDSA"
echo "warm rates (per-process setup and login excluded on both sides), 1 s and ${SECONDS_EACH} s runs differenced;"
echo "$REPEAT passes: median [lowest-highest]"
for r in $(seq "$REPEAT"); do
    for threads in 1 2; do
        write_config bench softhsm2 bench "[pkcs11]" "signature-cache = no"
        front=$(rate "$FRONT" "$threads")
        direct=$(rate "$SOFTHSM_MODULE" "$threads" --pin-file "$T/pins/bench" --token bench)
        write_config bench softhsm2 bench "[pkcs11]" "signature-cache = yes"
        hit=$(rate "$FRONT" "$threads" --same-data)
        write_config bench softhsm2 bench "[pkcs11]" "signature-cache = yes"
        sed -i 's/^\[core\]$/[core]\nmemory-cache-entries = 0/' "$HSMCACHE_CONF"
        disk=$(rate "$FRONT" "$threads" --same-data)
        echo "$direct" >> "$T/direct.$threads"
        echo "$front" >> "$T/front.$threads"
        echo "$front / $direct" | bc -l >> "$T/ratio.$threads"
        echo "$direct / $front" | bc -l >> "$T/miss.$threads"
        echo "$hit" >> "$T/hit.$threads"
        echo "$disk" >> "$T/disk.$threads"
    done
done
printf '%-8s %22s %22s %22s %22s %22s\n' threads "direct/s" "front/s" "front/direct" "hit/s" "disk hit/s"
for threads in 1 2; do
    printf '%-8s %22s %22s %22s %22s %22s\n' "$threads" "$(stats %.0f < "$T/direct.$threads")" "$(stats %.0f < "$T/front.$threads")" \
        "$(stats %.2f < "$T/ratio.$threads")" "$(stats %.0f < "$T/hit.$threads")" "$(stats %.0f < "$T/disk.$threads")"
done
us_each() { while read -r h; do echo "1000000 / $h" | bc -l; done < "$1"; }
echo "miss cost (cache off, time per signature front/direct): 1 thread $(stats %.3f < "$T/miss.1"), 2 threads $(stats %.3f < "$T/miss.2") (goal <= 1.05)"
echo "cost of one memory hit (1 thread): $(us_each "$T/hit.1" | stats %.2f) us per C_SignInit+C_Sign (goal <= 2 us)"
echo "cost of one disk hit (1 thread): $(us_each "$T/disk.1" | stats %.2f) us per C_SignInit+C_Sign (goal <= 5 us)"
for threads in 1 2; do
    bench_stat "direct_rate_$threads" %.0f < "$T/direct.$threads"
    bench_stat "front_rate_$threads" %.0f < "$T/front.$threads"
    bench_stat "miss_cost_$threads" %.3f < "$T/miss.$threads"
done
us_each "$T/direct.1" | bench_stat direct_us %.2f
us_each "$T/hit.1" | bench_stat memory_hit_us %.2f
us_each "$T/disk.1" | bench_stat disk_hit_us %.2f
bench_done
