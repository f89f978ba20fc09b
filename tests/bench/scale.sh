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
# Each count's token is alone in a SoftHSM store of its own (SoftHSM reads
# every token of its store at C_Initialize, so a count's figures would
# otherwise carry the smaller tokens too).
# Then PowerDNS's first answer for a zone among many (PowerDNS 4.7, gmysql
# on a private MariaDB; Engine: hsmcache rows, as pdnsutil hsm assign
# writes them; each zone its own KSK and ZSK): the largest count's token
# serves min(BENCH_ZONES (default 10000), its pairs / 2) zones z1.scale..,
# zone i signed by k-(2i-1) and k-(2i); a token of 20 pairs in a store of
# its own serves 10 zones. BENCH_SCALE_PDNS_REPEAT times (default 5; at
# most 5, the small setup has 10 zones and each answer is a zone's first
# ever), alternating large and small: pdns_server restarted, then
#   first ms    dig +dnssec for www of a zone chosen at random among those
#               no pass asked yet: PowerDNS loads the HSM module, opens the
#               context, finds the zone's two keys and signs (one C_Sign
#               per RRset)
#   next ms     the same for another such zone in that same pdns_server
# each answer checked: NOERROR with an RRSIG over the A record, which delv
# validates with the zone's KSK (from its DNSKEY answer) as the trust
# anchor, and the RRSIG delv validated is the very one timed (ECDSA
# signatures differ each time). Medians [lowest-highest], and the ratio
# large/small per repetition; in the results as pdns_* (no goal of the
# summary names this figure: it is shown, not judged).
# Then the signature cache's disk tier at BENCH_SCALE_CACHE_ENTRIES
# entries (default 1000000; 0 skips it; tests/cachegrow through the
# cache's own API, a 64-byte signature each, half of them expired): time
# per write and per read, the file's size and bytes per entry, the purge
# of the expired half, and the pages the live half's tree holds after.
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/bench.sh"
. "$(dirname "$0")/../lib/dns.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
COUNTS=${BENCH_SCALE_COUNTS:-10 1000 20000}
LOOKUPS=${BENCH_SCALE_LOOKUPS:-2000}
LIMIT=${BENCH_SCALE_MAKE_LIMIT:-600}
CACHE_ENTRIES=${BENCH_SCALE_CACHE_ENTRIES:-1000000}
ZONES=${BENCH_ZONES:-10000}
PDNS_REPEAT=${BENCH_SCALE_PDNS_REPEAT:-5}
SMALL_ZONES=10
CHUNK=1000
PDNS_PID=""
[ "$PDNS_REPEAT" -ge 1 ] && [ "$PDNS_REPEAT" -le $((SMALL_ZONES / 2)) ] ||
    { echo "bench-scale: BENCH_SCALE_PDNS_REPEAT must be 1..$((SMALL_ZONES / 2))" >&2; exit 2; }
hc_setup
bench_begin scale "BENCH_SCALE_COUNTS=$COUNTS" BENCH_SCALE_LOOKUPS=$LOOKUPS BENCH_SCALE_MAKE_LIMIT=$LIMIT \
    BENCH_SCALE_CACHE_ENTRIES=$CACHE_ENTRIES BENCH_ZONES=$ZONES BENCH_SCALE_PDNS_REPEAT=$PDNS_REPEAT
now() { date +%s.%N; }

# world DIR: a SoftHSM store (DIR/tokens), PIN store and cache dir of
# their own; exports SOFTHSM2_CONF and HSMCACHE_CONF for them. Then
# `in_world DIR CMD...` runs a tests/lib function with T=DIR, so its files
# (hsmcache.conf's pin-store and cache-dir, pdns.conf, pdns.log) go there.
world() {
    mkdir -p "$1/tokens"
    sed "s|^directories.tokendir = .*|directories.tokendir = $1/tokens|" "$T/softhsm2.conf" > "$1/softhsm2.conf"
    export SOFTHSM2_CONF=$1/softhsm2.conf HSMCACHE_CONF=$1/hsmcache.conf
}
in_world() { local W=$1; shift; SOFTHSM2_CONF=$W/softhsm2.conf HSMCACHE_CONF=$W/hsmcache.conf T=$W "$@"; }

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
    world "$T/c$want"
    make_token "$tok"
    read -r made secs pace <<< "$(make_keys "$tok" "$want")"
    in_world "$T/c$want" write_config dns softhsm2 "$tok" "[cli]" "signature-cache = no"
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
    largest=$later large_n=$made large_tok=$tok large_world=$T/c$want
done
ratio=$(echo "$largest / $smallest" | bc -l)
printf 'later lookups: %s us at %s pairs / %s us at %s pairs = %.2f (goal P9: <= 2.0)\n' \
    "$largest" "$large_n" "$smallest" "$small_n" "$ratio"
bench_result lookup_us_small "$smallest"
bench_result lookup_us_large "$largest"
bench_result lookup_pairs_large "$large_n"
bench_result lookup_ratio "$(printf '%.3f' "$ratio")"

# PowerDNS: zones in a database of their own per setup, both served in
# turn by pdns_server on $DNS_PORT (one running at a time).
MOD=hsmcache-$$
register_module "$MOD" "$BUILD/hsmcache-pdns.so"
start_mariadb || { echo "bench-scale: MariaDB did not start: $(tail -3 "$T/mysqld.err")" >&2; exit 1; }
# pdns_setup WORLD TOKEN DB ZONES: ZONES zones z1.scale.. in database DB,
# zone i's KSK and ZSK the pairs k-(2i-1) and k-(2i) of TOKEN. Zone 1's
# rows are pdnsutil hsm assign's own; the others are copies with the
# label changed (20,000 pdnsutil runs, each loading the module and
# searching the token, would take hours).
pdns_setup() {
    local w=$1 tok=$2 db=$3 n=$4 role
    mariadb --no-defaults -S "$T/mysql.sock" -u root -e "CREATE DATABASE IF NOT EXISTS $db" &&
        mariadb --no-defaults -S "$T/mysql.sock" -u root "$db" < "$PDNS_SCHEMA" || return 1
    in_world "$w" write_pdns_conf
    sed -i "s|^gmysql-socket=.*|gmysql-socket=$T/mysql.sock|; s|^gmysql-dbname=.*|gmysql-dbname=$db|" "$w/pdns.conf"
    mariadb --no-defaults -S "$T/mysql.sock" -u root "$db" <<EOSQL || return 1
INSERT INTO domains (name, type) SELECT CONCAT('z', seq, '.scale'), 'NATIVE' FROM seq_1_to_$n;
INSERT INTO records (domain_id, name, type, content, ttl, auth)
    SELECT id, name, 'SOA', CONCAT('ns1.', name, ' hostmaster.', name, ' 1 10800 3600 604800 3600'), 3600, 1 FROM domains
    UNION ALL SELECT id, name, 'NS', CONCAT('ns1.', name), 3600, 1 FROM domains
    UNION ALL SELECT id, CONCAT('ns1.', name), 'A', '192.0.2.53', 3600, 1 FROM domains
    UNION ALL SELECT id, CONCAT('www.', name), 'A', '192.0.2.80', 3600, 1 FROM domains;
EOSQL
    for role in ksk:1 zsk:2; do
        in_world "$w" pdnsutil_t hsm assign z1.scale ecdsa256 "${role%:*}" "$MOD" dns '' "k-${role#*:}" > "$w/assign.out" 2>&1 ||
            { echo "bench-scale: pdnsutil hsm assign z1.scale ${role%:*} k-${role#*:}: $(tail -2 "$w/assign.out")" >&2; return 1; }
    done
    [ "$n" -lt 2 ] && return 0
    mariadb --no-defaults -S "$T/mysql.sock" -u root "$db" <<EOSQL
INSERT INTO cryptokeys (domain_id, flags, active, published, content)
    SELECT d.id, t.flags, t.active, t.published,
           REPLACE(t.content, CONCAT('Label: k-', IF(t.flags = 257, 1, 2), '\n'),
                   CONCAT('Label: k-', 2 * s.seq - IF(t.flags = 257, 1, 0), '\n'))
    FROM seq_2_to_$n s JOIN domains d ON d.name = CONCAT('z', s.seq, '.scale')
    JOIN cryptokeys t ON t.domain_id = (SELECT id FROM domains WHERE name = 'z1.scale');
EOSQL
}
# first_answer WORLD ZONE: ms of a DO query for www.ZONE/A from the
# running pdns_server; the answer in WORLD/answer. Fails (naming why)
# unless it is NOERROR with an RRSIG over the A record that delv
# validates, the zone's KSK as the trust anchor, and delv's RRSIG is the
# one timed.
first_answer() {
    local w=$1 z=$2 t0 t1 sig out
    t0=$(date +%s%N)
    dig +dnssec +noall +comments +answer +tries=1 +time=600 -p "$DNS_PORT" @127.0.0.1 "www.$z" A > "$w/answer" 2>&1 || true
    t1=$(date +%s%N)
    grep -q 'status: NOERROR' "$w/answer" && signed_a "$(cat "$w/answer")" ||
        { echo "bench-scale: www.$z: no signed NOERROR answer: $(grep -m1 status "$w/answer" || tail -1 "$w/answer")" >&2; return 1; }
    sig=$(awk '$4 == "RRSIG" && $5 == "A" { print $NF; exit }' "$w/answer")
    ksk_anchor "$z" "$DNS_PORT" > "$w/anchor"
    out=$(delv -a "$w/anchor" +root="$z" -p "$DNS_PORT" @127.0.0.1 "www.$z" A 2>&1)
    case $out in *"; fully validated"*) ;; *)
        echo "bench-scale: www.$z: delv does not validate it: $(echo "$out" | head -3)" >&2; return 1 ;;
    esac
    echo "$out" | awk -v s="$sig" '$4 == "RRSIG" && $5 == "A" && $NF == s { f = 1 } END { exit !f }' ||
        { echo "bench-scale: www.$z: delv validated another RRSIG than the one timed" >&2; return 1; }
    echo $(( (t1 - t0) / 1000000 ))
}
declare -A FIRST NEXT PICKS NZ
# pdns_pass NAME WORLD: a pdns_server restart in WORLD, then first and
# next (the next two unasked zones of PICKS[NAME]).
pdns_pass() {
    local name=$1 w=$2 a b f x
    read -r a b x <<< "${PICKS[$name]}"
    PICKS[$name]=$x
    stop_pdns
    in_world "$w" start_pdns || { echo "bench-scale: pdns_server ($name) did not start: $(tail -3 "$w/pdns.log")" >&2; exit 1; }
    f=$(first_answer "$w" "z$a.scale") || exit 1
    x=$(first_answer "$w" "z$b.scale") || exit 1
    FIRST[$name]="${FIRST[$name]:-} $f"
    NEXT[$name]="${NEXT[$name]:-} $x"
}
# The small setup: 20 pairs in a store of their own.
world "$T/pdns10"
make_token pdns10
read -r small_made _ _ <<< "$(make_keys pdns10 $((2 * SMALL_ZONES)))"
[ "$small_made" = $((2 * SMALL_ZONES)) ] || { echo "bench-scale: the small setup's $((2 * SMALL_ZONES)) pairs were not made" >&2; exit 1; }
in_world "$T/pdns10" write_config dns softhsm2 pdns10
in_world "$T/pdns10" store_pin dns
# The large setup: the largest count's token.
NZ[large]=$(( large_n / 2 < ZONES ? large_n / 2 : ZONES ))
NZ[small]=$SMALL_ZONES
[ "${NZ[large]}" -ge $((2 * PDNS_REPEAT)) ] ||
    { echo "bench-scale: the largest token's $large_n pairs make ${NZ[large]} zones, fewer than the $((2 * PDNS_REPEAT)) the passes ask" >&2; exit 1; }
in_world "$large_world" write_config dns softhsm2 "$large_tok"
t0=$(now)
pdns_setup "$large_world" "$large_tok" pdns_large "${NZ[large]}" || exit 1
setup_s=$(printf '%.1f' "$(echo "$(now) - $t0" | bc -l)")
pdns_setup "$T/pdns10" pdns10 pdns_small "$SMALL_ZONES" || exit 1
for x in large small; do PICKS[$x]=$(shuf -i "1-${NZ[$x]}" -n $((2 * PDNS_REPEAT)) | tr '\n' ' '); done
for r in $(seq "$PDNS_REPEAT"); do
    pdns_pass large "$large_world"
    pdns_pass small "$T/pdns10"
done
stop_pdns
echo "PowerDNS $(pdns_server --version 2>&1 | sed -n 's/.*Authoritative Server \([^ ]*\).*/\1/p' | head -1), gmysql; each zone its own ECDSA P-256 KSK and ZSK on one SoftHSM token;" \
     "$PDNS_REPEAT restarts each, alternating; ms, median [lowest-highest]"
printf '%-8s %8s %22s %22s\n' zones pairs "first answer ms" "next zone's ms"
printf '%-8s %8s %22s %22s\n' "${NZ[large]}" "$large_n" "$(printf '%s\n' ${FIRST[large]} | stats %.0f)" "$(printf '%s\n' ${NEXT[large]} | stats %.0f)"
printf '%-8s %8s %22s %22s\n' "${NZ[small]}" "$small_made" "$(printf '%s\n' ${FIRST[small]} | stats %.0f)" "$(printf '%s\n' ${NEXT[small]} | stats %.0f)"
[ "${NZ[large]}" -lt "$ZONES" ] && echo "  ($ZONES zones asked: the largest token holds $large_n pairs, two a zone)"
fl=(${FIRST[large]}) fs=(${FIRST[small]})
for i in "${!fl[@]}"; do echo "${fl[$i]} ${fs[$i]}" | awk '{ printf "%.3f\n", $1 / $2 }'; done > "$T/pdns_ratios"
echo "first answer: ${NZ[large]} zones / ${NZ[small]} zones = $(stats %.2f < "$T/pdns_ratios") (per restart; database rows written in ${setup_s} s)"
bench_result pdns_zones_large "${NZ[large]}"
bench_result pdns_zones_small "${NZ[small]}"
printf '%s\n' ${FIRST[large]} | bench_stat pdns_first_ms_large %.0f
printf '%s\n' ${FIRST[small]} | bench_stat pdns_first_ms_small %.0f
printf '%s\n' ${NEXT[large]} | bench_stat pdns_next_ms_large %.0f
printf '%s\n' ${NEXT[small]} | bench_stat pdns_next_ms_small %.0f
bench_stat pdns_first_ratio %.3f < "$T/pdns_ratios"
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
