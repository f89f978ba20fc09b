#!/usr/bin/env bash
# make bench-pdns-calls: HSM calls PowerDNS 4.7 makes per answer, counted
# at the simulator, side by side in one run on the same zone (1000 names,
# ECDSA P-256 KSK+ZSK on one SoftHSM token):
#   stock  Engine: the simulator itself, PIN in the row
#   ours   Engine: hsmcache (the pdns front over the same simulator)
# for 1000 new signatures, the same 1000 answers again (warm: PowerDNS's
# own signature cache), then BENCH_REPEAT passes (default 5) over the same
# 1000 after a pdns_server restart, ours and stock alternating (ours,
# stock, ours, stock ..., a restart before each), shown as the median and,
# in brackets, the lowest and highest pass. The figures are counts, not
# rates: the simulator runs with no latency and no limit on calls in
# flight here (it counts; it does not time), so no row has a device limit
# and no pass needs to last 5 s.
# Each pass counts its answers that came NOERROR with an RRSIG ("signed")
# and divides the calls by that; fewer than N fails the bench (exit 1).
# Headline figures go to $HC_BENCH_RESULTS (tests/bench/summary.py).
set -euo pipefail
trap 'echo "bench-pdns-calls: stopped at line $LINENO: $BASH_COMMAND" >&2' ERR
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/bench.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
N=${BENCH_NAMES:-1000}
R=${BENCH_REPEAT:-5}
hc_setup
bench_begin pdns-calls BENCH_NAMES=$N BENCH_REPEAT=$R
# The stock Engine is a copy of the simulator: p11-kit loads every
# registered module into every PowerDNS process on the machine, and the
# simulator's own path loaded that way collides with hsmcache's core
# loading it as its token (other tests' pdnsutil and pdns_server fail).
cp "$SIM" "$T/hsmsim-stock.so"
register_module "hsmsim-$$" "$T/hsmsim-stock.so"
register_module "hsmcache-$$" "$BUILD/hsmcache-pdns.so"
make_token dnstok
write_config dns "$SIM" dnstok
store_pin dns
start_mariadb
write_pdns_conf
add_hsm_zone stock.example "hsmsim-$$" dnstok "$PIN" "$N"
add_hsm_zone ours.example "hsmcache-$$" dns '' "$N"
counts() { echo "$(sim_count C_Sign) $(sim_count C_Digest) $(sim_count C_Login) $("$SIMCTL" "$SIMSTATE" counts | awk '{ s += $2 } END { print s + 0 }')"; }
FAILED=""
# pass ZONE LABEL WHAT: one dig per name n1..nN; the calls per answer are
# divided by the answers that came NOERROR with an RRSIG, and a pass with
# fewer than N of them fails the bench (its row says so). Appends
# "C_Sign-per-answer all-calls-per-answer" to $T/LABEL.WHAT.
pass() {
    local n s d l a f
    f=$T/$2.${3// /_}
    "$SIMCTL" "$SIMSTATE" reset
    n=$(ask "$1" "$N") || FAILED="$FAILED$2 $3: $n of $N answers signed"$'\n'
    read -r s d l a <<< "$(counts)"
    printf '%-6s %-22s %8s %8s %9s %8s %10s %9s\n' "$2" "$3" "$n" "$s" "$d" "$l" "$a" \
        "$( [ "$n" -gt 0 ] && echo "$a / $n" | bc -l | xargs printf '%.2f' || echo -)"
    [ "$n" -gt 0 ] && echo "$(echo "$s / $n" | bc -l) $(echo "$a / $n" | bc -l)" >> "$f"
    return 0
}
restart() {
    stop_pdns
    start_pdns || { echo "pdns_server did not start: $(tail -3 "$T/pdns.log")" >&2; exit 1; }
}
start_pdns || { echo "pdns_server did not start: $(tail -3 "$T/pdns.log")" >&2; exit 1; }
echo "PowerDNS $(pdns_server --version 2>&1 | sed -n 's/.*PowerDNS Authoritative Server \([^ ]*\).*/\1/p' | head -1), $N names, ECDSA P-256, HSM calls counted at the simulator (no latency: counts, not rates)"
printf '%-6s %-22s %8s %8s %9s %8s %10s %9s\n' path pass signed C_Sign C_Digest C_Login "all calls" "per answer"
for z in stock ours; do
    pass "$z.example" "$z" "new signatures"
    pass "$z.example" "$z" "warm answers"
done
for i in $(seq "$R"); do
    restart
    pass ours.example ours "after pdns restart"
    restart
    pass stock.example stock "after pdns restart"
done
col() { awk -v c="$1" '{ print $c }' "$T/$2.after_pdns_restart"; }
echo "after a restart, $R passes each, median [lowest-highest]: calls per answer stock $(col 2 stock | stats), ours $(col 2 ours | stats);" \
     "C_Sign per answer stock $(col 1 stock | stats), ours $(col 1 ours | stats)"
if [ -n "$FAILED" ]; then
    printf 'BENCH FAILED: not every answer was signed, so the calls per answer do not count:\n%s' "$FAILED" >&2
    exit 1
fi
for z in stock ours; do
    bench_result "${z}_new_calls" "$(awk '{ printf "%.3f", $2 }' "$T/$z.new_signatures")"
    col 2 "$z" | bench_stat "${z}_restart_calls" %.3f
    col 1 "$z" | bench_stat "${z}_restart_csign" %.3f
done
bench_done
