#!/usr/bin/env bash
# make bench-pdns: PowerDNS 4.7 with a slow card, side by side in one run
# on one machine: the same zone content (BENCH_NAMES names, default 5000,
# ECDSA P-256 KSK+ZSK), the same simulated card (C_Sign 50 ms, C_Digest
# 2 ms, other calls free, one call at a time), dnsperf with the DO bit
# asking every name once after a pdns_server restart:
#   S1 stock: Engine = the simulator's p11-kit name, PIN in the row;
#   S2 ours:  Engine = hsmcache over the same simulator, after one
#             earlier pass (made with the card's delays off, to save time:
#             it only fills the cache);
#   S3 ours across the weekly boundary: pdns (libfaketime) started an hour
#             before Thursday 00:00 UTC, `pdns-hsm warm` as this week's
#             traffic, the presigner left to finish on the slow card, then
#             pdns restarted ten minutes after the boundary;
#   S4 software keys (the ceiling), and S4f the same under libfaketime,
#             S3's ceiling (libfaketime makes every clock call slower).
# Per scenario: queries/s, p50/p99 latency, SERVFAIL and lost queries, and
# the simulator's C_Sign/C_Digest counts during the measured pass; then
# the ratios. S1's pass stops after BENCH_S1_LIMIT seconds (default 120).
# Last, the reliability run: dnsperf over S2's signed names while the
# token is removed for BENCH_ABSENT seconds (default 30).
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
N=${BENCH_NAMES:-5000}
EXTRA=200                                  # never signed: the reliability run's new names
S1_LIMIT=${BENCH_S1_LIMIT:-120}
ABSENT=${BENCH_ABSENT:-30}
FAST="latency.C_Sign=0;latency.C_Digest=0" # HSMSIM_SET for the fill-up passes
hc_setup
register_module "hsmsim-$$" "$SIM"
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
for z in stock ours soft; do query_file "$z.example" 1 "$N" "$T/$z.q"; done

# measure NAME QUERYFILE [DNSPERF ARGS]: one pass, the table row.
measure() {
    local name=$1 qf=$2
    shift 2
    "$SIMCTL" "$SIMSTATE" reset
    perf_pass "$T/$name.perf" "$qf" "$@"
    read -r qps p50 p99 sf lost n < "$T/$name.perf"
    printf '%-4s %-44s %9.1f %9.2f %9.2f %8s %6s %8s %7s %8s\n' "$name" "$DESC" "$qps" "$p50" "$p99" \
        "$sf" "$lost" "$n" "$(sim_count C_Sign)" "$(sim_count C_Digest)"
    eval "QPS_$name=$qps"
}
restart_pdns() { stop_pdns; start_pdns; }

echo "PowerDNS $(pdns_server --version 2>&1 | sed -n 's/.*Authoritative Server \([^ ]*\).*/\1/p' | head -1)," \
     "$N names, ECDSA P-256; card: C_Sign 50 ms, C_Digest 2 ms, serialized; dnsperf -D, each name once"
printf '%-4s %-44s %9s %9s %9s %8s %6s %8s %7s %8s\n' "" scenario "q/s" "p50 ms" "p99 ms" SERVFAIL lost answered C_Sign C_Digest

start_pdns
DESC="stock (Engine: simulator, PIN in row), cold" measure S1 "$T/stock.q" -n 1 -l "$S1_LIMIT"
stop_pdns

HSMSIM_SET=$FAST start_pdns
ask ours.example "$N"               # the earlier pass (fills our cache)
stop_pdns
start_pdns
DESC="ours (Engine: hsmcache), restarted" measure S2 "$T/ours.q" -n 1

# The reliability run, while S2's pdns is up with every name signed.
removal_run ours.example "$N" new "$ABSENT" $((ABSENT + 15)) > "$T/removal"
stop_pdns

now=$(date +%s)
B=$(( now - now % 604800 + 604800 ))
PDNS_FAKETIME=$((B - 3600)) HSMSIM_SET=$FAST start_pdns
"$BUILD/pdns-hsm" --config-dir "$T" warm ours.example > "$T/warm.out" 2>&1
stop_pdns
PDNS_FAKETIME=$((B - 3500)) start_pdns
ask ours.example 1                  # pdns loads its HSM module on first use
t0=$(date +%s)
until presign_counts; [ -n "$inputs" ] && [ "$inputs" -ge "$N" ] && [ "$done_" = "$inputs" ]; do
    [ $(( $(date +%s) - t0 )) -lt 3600 ] || { echo "presigning not done in an hour: $line" >&2; break; }
    sleep 1
done
presign_s=$(( $(date +%s) - t0 ))
stop_pdns
PDNS_FAKETIME=$((B + 600)) start_pdns
DESC="ours after the weekly boundary, presigned" measure S3 "$T/ours.q" -n 1
stop_pdns

start_pdns
DESC="software keys (the ceiling)" measure S4 "$T/soft.q" -n 1
stop_pdns
# libfaketime slows every clock call pdns makes: S3's ceiling under it.
PDNS_FAKETIME=$((B + 600)) start_pdns
DESC="software keys under libfaketime (S3's ceiling)" measure S4f "$T/soft.q" -n 1
stop_pdns

ratio() { echo "$1 $2" | awk '{ printf "%.2f", ($2 > 0 ? $1 / $2 : 0) }'; }
echo "S2/S4 $(ratio "$QPS_S2" "$QPS_S4")  S3/S4 $(ratio "$QPS_S3" "$QPS_S4")  S3/S4f $(ratio "$QPS_S3" "$QPS_S4f")  S2/S1 $(ratio "$QPS_S2" "$QPS_S1")  (queries/s)"
echo "S3's presigner: $inputs inputs, $done_ done, $signed signed on the card in ${presign_s} s; warm pass: $(tail -1 "$T/warm.out")"
v() { awk -v k="$1" '$1 == k { print $2 }' "$T/removal"; }
echo "token removed ${ABSENT} s during dnsperf over S2's signed names: $(v cached_answers) answers, $(v cached_servfail) SERVFAIL;" \
     "new names: $(v new_failed) of $(v new_asked) failed, slowest $(v new_max_ms) ms, $(v new_signed_absent) signed while absent;" \
     "signing resumed $(v resume_ms) ms after the token returned (pdns not restarted)"
