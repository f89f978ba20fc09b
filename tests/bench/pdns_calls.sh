#!/usr/bin/env bash
# make bench-pdns-calls: HSM calls PowerDNS 4.7 makes per answer, counted
# at the simulator, side by side in one run on the same zone (1000 names,
# ECDSA P-256 KSK+ZSK on one SoftHSM token):
#   stock  Engine: the simulator itself, PIN in the row
#   ours   Engine: hsmcache (the pdns front over the same simulator)
# for 1000 new signatures, the same 1000 answers again (warm: PowerDNS's
# own signature cache), and the same 1000 after a pdns_server restart.
# Each pass counts its answers that came NOERROR with an RRSIG ("signed")
# and divides the calls by that; fewer than N fails the bench (exit 1).
set -euo pipefail
trap 'echo "bench-pdns-calls: stopped at line $LINENO: $BASH_COMMAND" >&2' ERR
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
N=${BENCH_NAMES:-1000}
hc_setup
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
# fewer than N of them fails the bench (its row says so).
pass() {
    local n s d l a
    "$SIMCTL" "$SIMSTATE" reset
    n=$(ask "$1" "$N") || FAILED="$FAILED$2 $3: $n of $N answers signed"$'\n'
    read -r s d l a <<< "$(counts)"
    printf '%-6s %-22s %8s %8s %9s %8s %10s %9s\n' "$2" "$3" "$n" "$s" "$d" "$l" "$a" \
        "$( [ "$n" -gt 0 ] && echo "$a / $n" | bc -l | xargs printf '%.2f' || echo -)"
}
measure() { # ZONE LABEL
    pass "$1" "$2" "new signatures"
    pass "$1" "$2" "warm answers"
    stop_pdns
    start_pdns || { echo "pdns_server did not start: $(tail -3 "$T/pdns.log")" >&2; exit 1; }
    pass "$1" "$2" "after pdns restart"
}
start_pdns || { echo "pdns_server did not start: $(tail -3 "$T/pdns.log")" >&2; exit 1; }
echo "PowerDNS $(pdns_server --version 2>&1 | sed -n 's/.*PowerDNS Authoritative Server \([^ ]*\).*/\1/p' | head -1), $N names, ECDSA P-256, HSM calls counted at the simulator"
printf '%-6s %-22s %8s %8s %9s %8s %10s %9s\n' path pass signed C_Sign C_Digest C_Login "all calls" "per answer"
measure stock.example stock
measure ours.example ours
if [ -n "$FAILED" ]; then
    printf 'BENCH FAILED: not every answer was signed, so the calls per answer do not count:\n%s' "$FAILED" >&2
    exit 1
fi
