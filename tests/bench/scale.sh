#!/usr/bin/env bash
# make bench-scale: what finding a key costs as a token fills up. For each
# count in BENCH_SCALE_COUNTS (default "10 1000 20000") a fresh SoftHSM
# token gets that many ECDSA P-256 pairs (tests/mkkeys, straight through
# SoftHSM, in timed chunks of 1000), then tests/keyscale opens a context
# and looks keys up by URI (pkcs11:token=...;object=k-i;type=private, as
# BIND names them):
#   open ms     hc_open
#   first ms    the first lookup: a search of the token
#   index ms    the slowest of the next 20: the 16th, where the core
#               indexes every object (one search of the whole token, two
#               attribute reads per object), answering from memory after
#   later us    median [90th percentile] of BENCH_SCALE_LOOKUPS (default
#               2000) lookups after those, spread over all the keys, each
#               answer checked (one object, the right label): the index's
#               answer and its check on the token (one attribute read)
#   rss kB      the process's growth from before hc_open to the end
#   find us     median of as many lookups by template (hc_find with
#               CKA_CLASS and CKA_LABEL): the key index without the URI
#               layer, which asks every configured token's status (a
#               C_GetTokenInfo, the PIN store and its mark) on each lookup
# SoftHSM's file store slows down as it fills (it rescans its directory,
# one file per object, on every change), so making the keys is what takes
# time: a token stops growing once BENCH_SCALE_MAKE_LIMIT seconds (default
# 600) would be passed by the next chunk at the last chunk's pace; the
# table then shows the count reached and the pace, and P9 compares that
# count with the smallest. Headline figures go to $HC_BENCH_RESULTS
# (tests/bench/summary.py, goal P9: later lookups at the largest count
# within 2x of those at the smallest).
# Then the signature cache's disk tier at BENCH_SCALE_CACHE_ENTRIES
# entries (default 1000000; 0 skips it; tests/cachegrow through the
# cache's own API, a 64-byte signature each, half of them expired): time
# per write and per read, the file's size and bytes per entry, the purge
# of the expired half, and the pages the live half's tree holds after.
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/bench.sh"
COUNTS=${BENCH_SCALE_COUNTS:-10 1000 20000}
LOOKUPS=${BENCH_SCALE_LOOKUPS:-2000}
LIMIT=${BENCH_SCALE_MAKE_LIMIT:-600}
CACHE_ENTRIES=${BENCH_SCALE_CACHE_ENTRIES:-1000000}
CHUNK=1000
hc_setup
bench_begin scale "BENCH_SCALE_COUNTS=$COUNTS" BENCH_SCALE_LOOKUPS=$LOOKUPS BENCH_SCALE_MAKE_LIMIT=$LIMIT \
    BENCH_SCALE_CACHE_ENTRIES=$CACHE_ENTRIES
now() { date +%s.%N; }

# make_keys TOKEN COUNT: pairs k-1..k-COUNT, or fewer when the limit
# stops it; prints "made seconds last-chunk-pairs/s".
make_keys() {
    local tok=$1 want=$2 made=0 t0 c0 n chunk_s=0 pace=0
    t0=$(now)
    while [ "$made" -lt "$want" ]; do
        n=$((want - made < CHUNK ? want - made : CHUNK))
        if [ "$made" -gt 0 ] && [ "$(echo "$(now) - $t0 + $chunk_s * $n / $CHUNK > $LIMIT" | bc -l)" = 1 ]; then
            break
        fi
        c0=$(now)
        printf '%s\n' "$PIN" | "$BUILD/tests/mkkeys" --first $((made + 1)) "$SOFTHSM_MODULE" "$tok" k "$n" > /dev/null
        chunk_s=$(echo "$(now) - $c0" | bc -l)
        pace=$(echo "$n / $chunk_s" | bc -l)
        made=$((made + n))
    done
    printf '%d %.1f %.1f\n' "$made" "$(echo "$(now) - $t0" | bc -l)" "$pace"
}

echo "SoftHSM $(dpkg-query -W -f '${Version}' softhsm2 2>/dev/null || echo '?'), file store; ECDSA P-256 pairs; $LOOKUPS lookups by URI after the first"
printf '%-8s %8s %8s %8s %8s %9s %9s %20s %8s %8s\n' pairs objects "made s" "pairs/s" "open ms" "first ms" "index ms" "later us [p90]" "rss kB" "find us"
smallest="" largest=""
for want in $COUNTS; do
    tok=scale$want
    make_token "$tok"
    read -r made secs pace <<< "$(make_keys "$tok" "$want")"
    write_config dns softhsm2 "$tok" "[cli]" "signature-cache = no"
    store_pin dns
    out=$("$BUILD/tests/keyscale" dns k "$made" "$LOOKUPS")
    read -r _ open _ first _ later _ p90 _ rss _ find _ index <<< "$out"
    printf '%-8s %8s %8s %8s %8s %9s %9s %20s %8s %8s\n' "$made" $((2 * made)) "$secs" "$pace" \
        "$open" "$first" "$index" "$later [$p90]" "$rss" "$find"
    [ "$made" -lt "$want" ] && echo "  ($want asked: SoftHSM's pace fell to $pace pairs/s; stopped at $made within $LIMIT s)"
    bench_result "pairs_$want" "$made"
    bench_result "make_s_$want" "$secs"
    bench_result "open_ms_$want" "$open"
    bench_result "first_ms_$want" "$first"
    bench_result "lookup_us_$want" "$later" "$p90"
    bench_result "rss_kb_$want" "$rss"
    bench_result "find_us_$want" "$find"
    bench_result "index_ms_$want" "$index"
    [ -z "$smallest" ] && smallest=$later small_n=$made
    largest=$later large_n=$made
done
ratio=$(echo "$largest / $smallest" | bc -l)
printf 'later lookups: %s us at %s pairs / %s us at %s pairs = %.2f (goal P9: <= 2.0)\n' \
    "$largest" "$large_n" "$smallest" "$small_n" "$ratio"
bench_result lookup_us_small "$smallest"
bench_result lookup_us_large "$largest"
bench_result lookup_pairs_large "$large_n"
bench_result lookup_ratio "$(printf '%.3f' "$ratio")"
if [ "$CACHE_ENTRIES" -gt 0 ]; then
    # The map holds twice what the fill measured at 100,000 (281 B/entry).
    map_mb=$((CACHE_ENTRIES * 600 / 1048576 + 16))
    mkdir -p "$T/cachegrow"
    read -r _ n _ put _ get _ purge _ fill _ per _ tree <<< "$("$BUILD/tests/cachegrow" "$T/cachegrow" "$CACHE_ENTRIES" "$map_mb")"
    printf 'signature cache, %s entries: write %s us, read %s us, file %s MB (%s B/entry), purge of the expired half %s s, live tree after %s MB\n' \
        "$n" "$put" "$get" "$((fill / 1048576))" "$per" "$purge" "$((tree / 1048576))"
    bench_result cache_entries "$n"
    bench_result cache_put_us "$put"
    bench_result cache_get_us "$get"
    bench_result cache_bytes_per_entry "$per"
    bench_result cache_file_bytes "$fill"
    bench_result cache_purge_s "$purge"
    bench_result cache_tree_bytes "$tree"
    rm -rf "$T/cachegrow"
fi
bench_done
