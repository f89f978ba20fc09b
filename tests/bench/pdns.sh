#!/usr/bin/env bash
# make bench-pdns: PowerDNS 4.7 with a slow card, side by side in one run
# on one machine: the same zone content (BENCH_NAMES names, default 5000,
# ECDSA P-256 KSK+ZSK), the same simulated card (C_Sign 50 ms, C_Digest
# 2 ms, other calls free, one call at a time), dnsperf with the DO bit
# asking every name once per pass:
#   S1 stock: Engine = the simulator's p11-kit name, PIN in the row, over
#             its first BENCH_S1_NAMES names (default 1000: the card signs
#             about 20 a second, so a complete pass takes about a minute);
#   S2 ours:  Engine = hsmcache over the same simulator;
#   S3 ours across the weekly boundary: pdns (libfaketime) started an hour
#             before Thursday 00:00 UTC, `pdns-hsm warm` as this week's
#             traffic, the presigner left to finish on the slow card, then
#             pdns running ten minutes after the boundary;
#   S4 software keys (the ceiling), and S4f the same under libfaketime,
#             S3's ceiling (libfaketime makes every clock call slower).
# Every scenario gets the same preparation: one fill pass over its names
# (the card's delays off: it only fills caches and MariaDB's buffers),
# then BENCH_REPEAT passes (default 3), each right after a pdns_server
# restart and one query outside the pass (it loads the keys; see
# restart_primed for the stock path's login). A pass counts only if complete: every query answered NOERROR,
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
set -euo pipefail
trap 'echo "bench-pdns: stopped at line $LINENO: $BASH_COMMAND" >&2' ERR
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
N=${BENCH_NAMES:-5000}
S1_NAMES=${BENCH_S1_NAMES:-1000}
R=${BENCH_REPEAT:-3}
ABSENT=${BENCH_ABSENT:-30}
EXTRA=200                                  # never signed: the reliability run's new names
FAST="latency.C_Sign=0;latency.C_Digest=0" # HSMSIM_SET for the fill passes
hc_setup
# The stock Engine is a copy of the simulator: p11-kit loads every
# registered module into every PowerDNS process on the machine, and the
# simulator's own path loaded that way collides with hsmcache's core
# loading it as its token (other tests' pdnsutil and pdns_server fail).
cp "$SIM" "$T/hsmsim-stock.so"
register_module "hsmsim-$$" "$T/hsmsim-stock.so"
register_module "hsmcache-$$" "$BUILD/hsmcache-pdns.so"
make_token dnstok
write_config dns "$SIM" dnstok "[pdns]" "presign-rate = 100" "presign-interval = 5s"
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

# scenario NAME ZONE NAMES QUERYFILE DESC: the fill pass, then R passes
# each after a restart; prints the table row, keeps each pass's q/s in
# QPS_NAME (space-separated). pdns_server is left running.
scenario() {
    local name=$1 zone=$2 count=$3 qf=$4 desc=$5 i f qs="" p50s="" p99s="" s=0 d=0 noerr=0 sent=0 lost=0 n
    HSMSIM_SET=$FAST PDNS_FAKETIME=$FT start_pdns || { echo "pdns_server did not start" >&2; exit 1; }
    n=$(ask "$zone" "$count") || fail "$name: fill pass: $n of $count answers NOERROR with an RRSIG"
    NAME_NOW=$name
    for i in $(seq "$R"); do
        restart_primed "$zone"
        "$SIMCTL" "$SIMSTATE" reset
        f=$T/$name.$i.perf
        perf_pass "$f" "$qf" -n 1 -t 30 ${QMAX:+-q "$QMAX"}
        [ "$(perf_get "$f" lost)" = 0 ] && [ "$(perf_get "$f" parse_ok)" = 1 ] &&
            [ "$(perf_get "$f" noerror)" = "$(perf_get "$f" sent)" ] && [ "$(perf_get "$f" sent)" = "$count" ] ||
            fail "$name pass $i incomplete: sent $(perf_get "$f" sent) of $count, NOERROR $(perf_get "$f" noerror), SERVFAIL $(perf_get "$f" servfail), other $(perf_get "$f" other_rcodes), lost $(perf_get "$f" lost)"
        qs="$qs $(perf_get "$f" qps)" p50s="$p50s $(perf_get "$f" p50_ms)" p99s="$p99s $(perf_get "$f" p99_ms)"
        noerr=$((noerr + $(perf_get "$f" noerror))) sent=$((sent + $(perf_get "$f" sent))) lost=$((lost + $(perf_get "$f" lost)))
        [ "$(sim_count C_Sign)" -gt "$s" ] && s=$(sim_count C_Sign)
        [ "$(sim_count C_Digest)" -gt "$d" ] && d=$(sim_count C_Digest)
    done
    n=$(ask "$zone" 100) || fail "$name: dig sample after the passes: $n of 100 NOERROR with an RRSIG"
    eval "QPS_$name='$qs'"
    printf '%-4s %-46s %9s %-17s %8s %8s %13s %5s %7s %8s\n' "$name" "$desc" "$(median $qs)" "($(spread $qs))" \
        "$(median $p50s)" "$(median $p99s)" "$noerr/$sent" "$lost" "$s" "$d"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f-%.1f", lo, hi }'; }
# ratio X Y: the per-repetition ratios of X's and Y's q/s, "median (min-max)".
ratio() {
    local -a x=($1) y=($2)
    local i r=()
    for i in "${!x[@]}"; do r+=("$(awk -v a="${x[$i]}" -v b="${y[$i]}" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')"); done
    echo "$(median "${r[@]}" | awk '{ printf "%.2f", $1 }') ($(printf '%s\n' "${r[@]}" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }'))"
}

echo "PowerDNS $(pdns_server --version 2>&1 | sed -n 's/.*Authoritative Server \([^ ]*\).*/\1/p' | head -1)," \
     "$N names (S1: $S1_NAMES), ECDSA P-256; card: C_Sign 50 ms, C_Digest 2 ms, serialized; dnsperf -D, each name once per pass;" \
     "$R passes per scenario, each after a pdns restart, after one fill pass"
printf '%-4s %-46s %9s %-17s %8s %8s %13s %5s %7s %8s\n' "" scenario "q/s" "(min-max)" "p50 ms" "p99 ms" "NOERROR/sent" lost C_Sign C_Digest

QMAX=10 scenario S1 stock.example "$S1_NAMES" "$T/stock.q" "stock (Engine: simulator, PIN in row)"
stop_pdns
scenario S2 ours.example "$N" "$T/ours.q" "ours (Engine: hsmcache)"

# The reliability run, while S2's pdns is up with every name signed.
removal_run ours.example "$N" "$ABSENT" $((ABSENT + 15)) > "$T/removal"
stop_pdns

now=$(date +%s)
B=$(( now - now % 604800 + 604800 ))
FT=$((B - 3600))
HSMSIM_SET=$FAST up
"$BUILD/pdns-hsm" --config-dir "$T" warm ours.example > "$T/warm.out" 2>&1 || fail "S3: pdns-hsm warm failed: $(tail -1 "$T/warm.out")"
stop_pdns
FT=$((B - 3500))
up
ask ours.example 1 > /dev/null || true   # pdns loads its HSM module on first use
t0=$(date +%s)
until presign_counts; [ -n "$inputs" ] && [ "$inputs" -ge "$N" ] && [ "$done_" = "$inputs" ]; do
    [ $(( $(date +%s) - t0 )) -lt 3600 ] || { fail "S3: presigning not done in an hour: $line"; break; }
    sleep 1
done
presign_s=$(( $(date +%s) - t0 ))
stop_pdns
FT=$((B + 600))
scenario S3 ours.example "$N" "$T/ours.q" "ours after the weekly boundary, presigned"
stop_pdns

FT=""
scenario S4 soft.example "$N" "$T/soft.q" "software keys (the ceiling)"
stop_pdns
# libfaketime slows every clock call pdns makes: S3's ceiling under it.
FT=$((B + 600))
scenario S4f soft.example "$N" "$T/soft.q" "software keys under libfaketime (S3's ceiling)"
stop_pdns

echo "S2/S4 $(ratio "$QPS_S2" "$QPS_S4")  S3/S4 $(ratio "$QPS_S3" "$QPS_S4")  S3/S4f $(ratio "$QPS_S3" "$QPS_S4f")  S2/S1 $(ratio "$QPS_S2" "$QPS_S1")  (queries/s, median (min-max) of $R)"
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
