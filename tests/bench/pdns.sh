#!/usr/bin/env bash
# make bench-pdns: PowerDNS 4.7 with a slow card, side by side in one run
# on one machine: the same zone content (BENCH_NAMES names, default 25000,
# so that a pass at software-key speed lasts about 5 s; ECDSA P-256
# KSK+ZSK), the same simulated card (C_Sign 50 ms, C_Digest
# 2 ms, other calls free, one call at a time), dnsperf with the DO bit
# asking every name once per pass:
#   S1 stock: Engine = the simulator's p11-kit name, PIN in the row, over
#             its first BENCH_S1_NAMES names (default 1000: the card signs
#             about 20 a second, so a complete pass takes about a minute);
#   S2 ours:  Engine = hsmcache over the same simulator;
#   S3 ours across the weekly boundary: pdns (libfaketime) started an hour
#             before Thursday 00:00 UTC, `pdns-hsm warm` as this week's
#             traffic, the presigner left to finish (on a card whose
#             C_Sign takes BENCH_PRESIGN_SIGN_MS, default 5 ms: 25000
#             signatures at 50 ms would take 21 minutes; the passes after
#             the boundary run on the 50 ms card), then pdns running ten
#             minutes after the boundary;
#   S4 software keys (the ceiling), and S4f the same under libfaketime,
#             S3's ceiling (libfaketime makes every clock call slower).
# Every scenario gets the same preparation: one fill pass over its names
# (the card's delays off: it only fills caches and MariaDB's buffers),
# then BENCH_REPEAT passes (default 5), each right after a pdns_server
# restart and one query outside the pass (it loads the keys; see
# restart_primed for the stock path's login); a scenario and its ceiling
# alternate pass by pass (S2 S4 S2 S4 ..., S3 S4f ...). A pass counts only if complete: every query answered NOERROR,
# none lost (dnsperf -t 30: the stock card's queue is seconds long; S1
# keeps 10 queries outstanding, -q 10, the others 100: with 100, stock
# pdns never answers about a quarter of them, while its rate stays the
# card's, about 18/s, either way);
# dnsperf cannot see RRSIGs, so after each scenario a dig sample of 100
# names must come NOERROR with an RRSIG. Any of these failing fails the
# bench (exit 1, the reasons on stderr). Per scenario: queries/s median
# and spread (min-max), median p50/p99 over completed queries, and the
# simulator's C_Sign/C_Digest per pass (the most any pass made); ratios
# are the median (min-max) of the per-repetition ratios. S1 and the
# others are compared as rates of complete passes.
# Last, the reliability run: dnsperf over S2's signed names while the
# token is removed for BENCH_ABSENT seconds (default 30).
# Headline figures go to $HC_BENCH_RESULTS (tests/bench/summary.py): the
# per-repetition ratios S2/S4 and S3/S4f and the most HSM calls (all
# functions, counted at the simulator) any pass of S2 or S3 made.
set -euo pipefail
trap 'echo "bench-pdns: stopped at line $LINENO: $BASH_COMMAND" >&2' ERR
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
. "$(dirname "$0")/../lib/bench.sh"
N=${BENCH_NAMES:-25000}
S1_NAMES=${BENCH_S1_NAMES:-1000}
R=${BENCH_REPEAT:-5}
PRESIGN_MS=${BENCH_PRESIGN_SIGN_MS:-5}
ABSENT=${BENCH_ABSENT:-30}
EXTRA=200                                  # never signed: the reliability run's new names
FAST="latency.C_Sign=0;latency.C_Digest=0" # HSMSIM_SET for the fill passes
hc_setup
bench_begin pdns BENCH_NAMES=$N BENCH_S1_NAMES=$S1_NAMES BENCH_REPEAT=$R BENCH_PRESIGN_SIGN_MS=$PRESIGN_MS BENCH_ABSENT=$ABSENT
# The stock Engine is a copy of the simulator: p11-kit loads every
# registered module into every PowerDNS process on the machine, and the
# simulator's own path loaded that way collides with hsmcache's core
# loading it as its token (other tests' pdnsutil and pdns_server fail).
cp "$SIM" "$T/hsmsim-stock.so"
register_module "hsmsim-$$" "$T/hsmsim-stock.so"
register_module "hsmcache-$$" "$BUILD/hsmcache-pdns.so"
make_token dnstok
write_config dns "$SIM" dnstok "[pdns]" "presign-rate = 400" "presign-interval = 5s"
store_pin dns
cat > "$HSMSIM_CONF" <<EOC
module = $SOFTHSM_MODULE
latency-ms = 0
latency.C_Sign = 50
latency.C_Digest = 2
concurrency = 1
EOC
start_mariadb
write_pdns_conf
echo "max-queue-length=100000" >> "$T/pdns.conf"
add_hsm_zone stock.example "hsmsim-$$" dnstok "$PIN" $((N + EXTRA))
add_hsm_zone ours.example "hsmcache-$$" dns '' $((N + EXTRA))
pdnsutil_t create-zone soft.example ns1.soft.example > /dev/null 2>&1
for role in ksk zsk; do pdnsutil_t add-zone-key soft.example "$role" active ecdsa256 > /dev/null 2>&1; done
add_names soft.example $((N + EXTRA))
for z in ours soft; do query_file "$z.example" 1 "$N" "$T/$z.q"; done
query_file stock.example 1 "$S1_NAMES" "$T/stock.q"

FAILED=""
fail() { FAILED="$FAILED$1"$'\n'; }
FT=""   # the epoch pdns_server's clock starts at (libfaketime), or empty
up() { PDNS_FAKETIME=$FT start_pdns || { echo "pdns_server did not start: $(tail -3 "$T/pdns.log")" >&2; exit 1; }; }
restart() { stop_pdns; up; }
# restart_primed ZONE NAME: a restart, then one query for a name outside
# every pass (n(N+EXTRA)) so the pass starts with the keys loaded. Stock
# pdns 4.7 logs in per key: when KSK and ZSK log in at once, the second
# C_Login gets "already logged in" and that pdns answers SERVFAIL until
# restarted; such a start is restarted (and said on stderr), up to 3 times.
restart_primed() {
    local try
    for try in 1 2 3; do
        restart
        signed_a "$(dig +dnssec +noall +answer +time=30 +tries=1 -p "$DNS_PORT" @127.0.0.1 "n$((N + EXTRA)).$1" A)" && return 0
        echo "$NAME_NOW: the primed query after a restart was not signed ($(grep -m1 'C_Login failed' "$T/pdns.log" || tail -1 "$T/pdns.log")); restarting" >&2
    done
}

# Scenarios are measured in alternating passes (S2, S4, S2, S4, ...; S3,
# S4f, ...), each right after a restart, so a slow minute of the shared
# machine falls on both sides of a ratio rather than on one.
# fill NAME ZONE NAMES: the fill pass (the card's delays off), leaving
# pdns_server running.
fill() {
    local n
    HSMSIM_SET=$FAST PDNS_FAKETIME=$FT start_pdns || { echo "pdns_server did not start" >&2; exit 1; }
    n=$(ask "$2" "$3") || fail "$1: fill pass: $n of $3 answers NOERROR with an RRSIG"
}
# pass NAME ZONE NAMES QUERYFILE: one pass after a restart; adds its
# figures to NAME's (QPS, P50, P99, the totals, the most C_Sign/C_Digest).
declare -A QPS P50 P99 NOERR SENT LOST SIGNS DIGESTS CALLS PASSES
pass() {
    local name=$1 zone=$2 count=$3 qf=$4 f
    NAME_NOW=$name
    PASSES[$name]=$(( ${PASSES[$name]:-0} + 1 ))
    f=$T/$name.${PASSES[$name]}.perf
    restart_primed "$zone"
    "$SIMCTL" "$SIMSTATE" reset
    perf_pass "$f" "$qf" -n 1 -t 30 ${QMAX:+-q "$QMAX"}
    [ "$(perf_get "$f" lost)" = 0 ] && [ "$(perf_get "$f" parse_ok)" = 1 ] &&
        [ "$(perf_get "$f" noerror)" = "$(perf_get "$f" sent)" ] && [ "$(perf_get "$f" sent)" = "$count" ] ||
        fail "$name pass ${PASSES[$name]} incomplete: sent $(perf_get "$f" sent) of $count, NOERROR $(perf_get "$f" noerror), SERVFAIL $(perf_get "$f" servfail), other $(perf_get "$f" other_rcodes), lost $(perf_get "$f" lost)"
    QPS[$name]="${QPS[$name]:-} $(perf_get "$f" qps)"
    P50[$name]="${P50[$name]:-} $(perf_get "$f" p50_ms)"
    P99[$name]="${P99[$name]:-} $(perf_get "$f" p99_ms)"
    NOERR[$name]=$(( ${NOERR[$name]:-0} + $(perf_get "$f" noerror) ))
    SENT[$name]=$(( ${SENT[$name]:-0} + $(perf_get "$f" sent) ))
    LOST[$name]=$(( ${LOST[$name]:-0} + $(perf_get "$f" lost) ))
    [ "$(sim_count C_Sign)" -gt "${SIGNS[$name]:-0}" ] && SIGNS[$name]=$(sim_count C_Sign)
    [ "$(sim_count C_Digest)" -gt "${DIGESTS[$name]:-0}" ] && DIGESTS[$name]=$(sim_count C_Digest)
    local all
    all=$("$SIMCTL" "$SIMSTATE" counts | awk '{ s += $2 } END { print s + 0 }')
    [ "$all" -gt "${CALLS[$name]:-0}" ] && CALLS[$name]=$all
    return 0
}
# row NAME ZONE DESC: a dig sample from the running pdns, then the row.
row() {
    local n
    n=$(ask "$2" 100) || fail "$1: dig sample after the passes: $n of 100 NOERROR with an RRSIG"
    printf '%-4s %-46s %9s %-17s %8s %8s %13s %5s %7s %8s\n' "$1" "$3" "$(median ${QPS[$1]})" "($(spread ${QPS[$1]}))" \
        "$(median ${P50[$1]})" "$(median ${P99[$1]})" "${NOERR[$1]}/${SENT[$1]}" "${LOST[$1]}" "${SIGNS[$1]:-0}" "${DIGESTS[$1]:-0}"
}
# median [-f FORMAT] NUMBER...: printed with FORMAT (default %.1f).
median() {
    local f=%.1f
    [ "$1" = -f ] && { f=$2; shift 2; }
    printf '%s\n' "$@" | sort -g | awk -v f="$f" '{ v[NR] = $1 } END { printf f, NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
spread() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f-%.1f", lo, hi }'; }
# ratios X Y: the per-repetition ratios of X's and Y's q/s, one a line.
ratios() {
    local -a x=($1) y=($2)
    local i
    for i in "${!x[@]}"; do awk -v a="${x[$i]}" -v b="${y[$i]}" 'BEGIN { printf "%.3f\n", (b > 0 ? a / b : 0) }'; done
}
# ratio X Y: those ratios as "median (min-max)".
ratio() {
    local r=()
    mapfile -t r < <(ratios "$1" "$2")
    echo "$(median -f %.2f "${r[@]}") ($(printf '%s\n' "${r[@]}" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }'))"
}

echo "PowerDNS $(pdns_server --version 2>&1 | sed -n 's/.*Authoritative Server \([^ ]*\).*/\1/p' | head -1)," \
     "$N names (S1: $S1_NAMES), ECDSA P-256; card: C_Sign 50 ms, C_Digest 2 ms, serialized; dnsperf -D, each name once per pass;" \
     "$R passes per scenario, each after a pdns restart, after one fill pass"
printf '%-4s %-46s %9s %-17s %8s %8s %13s %5s %7s %8s\n' "" scenario "q/s" "(min-max)" "p50 ms" "p99 ms" "NOERROR/sent" lost C_Sign C_Digest

QMAX=10 fill S1 stock.example "$S1_NAMES"
for i in $(seq "$R"); do QMAX=10 pass S1 stock.example "$S1_NAMES" "$T/stock.q"; done
QMAX=10 row S1 stock.example "stock (Engine: simulator, PIN in row)"
stop_pdns
# alternate NAME DESC CEILING CEILING_DESC: NAME (ours.example) and its
# ceiling (soft.example, served by the same pdns_server), filled once each,
# then R passes each, alternating; then both rows.
alternate() {
    fill "$1" ours.example "$N"
    ask soft.example "$N" > /dev/null || fail "$3: fill pass incomplete"
    for i in $(seq "$R"); do
        pass "$1" ours.example "$N" "$T/ours.q"
        pass "$3" soft.example "$N" "$T/soft.q"
    done
    row "$1" ours.example "$2"
    row "$3" soft.example "$4"
}
alternate S2 "ours (Engine: hsmcache)" S4 "software keys (the ceiling)"

# The reliability run, while pdns is up with S2's keys loaded and every
# name of S2 signed (the last pass was S4's: a restart and one ours query
# bring pdns back to where S2's passes left it).
restart_primed ours.example
removal_run ours.example "$N" "$ABSENT" $((ABSENT + 15)) > "$T/removal"
stop_pdns

now=$(date +%s)
B=$(( now - now % 604800 + 604800 ))
FT=$((B - 3600))
HSMSIM_SET=$FAST up
"$BUILD/pdns-hsm" --config-dir "$T" warm ours.example > "$T/warm.out" 2>&1 || fail "S3: pdns-hsm warm failed: $(tail -1 "$T/warm.out")"
stop_pdns
FT=$((B - 3500))
HSMSIM_SET="latency.C_Sign=$PRESIGN_MS" up
ask ours.example 1 > /dev/null || true   # pdns loads its HSM module on first use
t0=$(date +%s)
until presign_counts; [ -n "$inputs" ] && [ "$inputs" -ge "$N" ] && [ "$done_" = "$inputs" ]; do
    [ $(( $(date +%s) - t0 )) -lt 3600 ] || { fail "S3: presigning not done in an hour: $line"; break; }
    sleep 1
done
presign_s=$(( $(date +%s) - t0 ))
stop_pdns
# libfaketime slows every clock call pdns makes: S4f, software keys under
# the same clock, is S3's ceiling.
FT=$((B + 600))
alternate S3 "ours after the weekly boundary, presigned" S4f "software keys under libfaketime (S3's ceiling)"
stop_pdns
FT=""

echo "S2/S4 $(ratio "${QPS[S2]}" "${QPS[S4]}")  S3/S4 $(ratio "${QPS[S3]}" "${QPS[S4]}")  S3/S4f $(ratio "${QPS[S3]}" "${QPS[S4f]}")  S2/S1 $(ratio "${QPS[S2]}" "${QPS[S1]}")  (queries/s, median (min-max) of $R)"
# The device limit: one call in flight, C_Sign 50 ms, so 20 C_Sign/s;
# S1's rate is its C_Sign per pass over the pass's duration.
s1_rate=$(awk -v s="${SIGNS[S1]:-0}" -v n="$S1_NAMES" -v q="$(median ${QPS[S1]})" 'BEGIN { printf "%.1f", (n > 0 ? s * q / n : 0) }')
echo "card limit: 1 call in flight / 50 ms = 20 C_Sign/s; S1 made $s1_rate C_Sign/s ($(awk -v r="$s1_rate" 'BEGIN { printf "%.0f", r * 5 }')% of the limit); S2 and S3 made ${SIGNS[S2]:-0} and ${SIGNS[S3]:-0} C_Sign in their passes, and at most ${CALLS[S2]:-0} and ${CALLS[S3]:-0} HSM calls of any kind in one pass (goal 0)"
echo "S3's presigner: $inputs inputs, $done_ done, $signed signed on the card in ${presign_s} s; warm pass: $(tail -1 "$T/warm.out")"
rv() { awk -v k="$1" '$1 == k { print $2; exit }' "$T/removal"; }
echo "token removed ${ABSENT} s during dnsperf over S2's signed names: $(rv completed) of $(rv sent) answered, $(rv lost) lost," \
     "SERVFAIL $(rv servfail), other rcodes $(rv other_rcodes), the fewest NOERROR in one of the outage's $(rv window_seconds) seconds $(rv window_min)," \
     "dig sample $(rv sample_signed)/$(rv sample_asked) with an RRSIG; new names: $(rv new_servfail) of $(rv new_asked) SERVFAIL," \
     "$(rv new_other) other, slowest $(rv new_max_ms) ms, $(rv new_signed_absent) signed while absent;" \
     "signing resumed: first signed query sent $(rv resume_ms) ms after the token returned, last failed one at $(rv last_fail_ms) ms (pdns not restarted)"
[ "$(rv outage_rc)" = 0 ] && [ "$(rv lost)" = 0 ] && [ "$(rv servfail)" = 0 ] && [ "$(rv other_rcodes)" = - ] && [ "$(rv window_min)" -ge 1 ] ||
    fail "reliability run: outage command status $(rv outage_rc), lost $(rv lost), SERVFAIL $(rv servfail), other $(rv other_rcodes), fewest NOERROR in an outage second $(rv window_min)"
[ "$(rv sample_signed)" = "$(rv sample_asked)" ] && [ "$(rv new_other)" = 0 ] && [ "$(rv new_signed_absent)" = 0 ] ||
    fail "reliability run: dig sample $(rv sample_signed)/$(rv sample_asked) signed, new names $(rv new_other) not refused by the server, $(rv new_signed_absent) signed while absent"
if [ -n "$FAILED" ]; then
    printf 'BENCH FAILED: these figures do not count:\n%s' "$FAILED" >&2
    exit 1
fi
for x in S1 S2 S4 S3 S4f; do printf '%s\n' ${QPS[$x]} | bench_stat "${x,,}_qps" %.1f; done
ratios "${QPS[S2]}" "${QPS[S4]}" | bench_stat s2_s4 %.3f
ratios "${QPS[S3]}" "${QPS[S4f]}" | bench_stat s3_s4f %.3f
bench_result s2_calls "${CALLS[S2]:-0}"
bench_result s3_calls "${CALLS[S3]:-0}"
bench_done
