#!/usr/bin/env bash
# make bench-pdns-calls: HSM calls PowerDNS 4.7 makes per answer, counted
# at the simulator, side by side in one run on the same zone (1000 names,
# ECDSA P-256 KSK+ZSK on one SoftHSM token):
#   stock  Engine: the simulator itself, PIN in the row
#   ours   Engine: hsmcache (the pdns front over the same simulator)
# for 1000 new signatures, the same 1000 answers again (warm: PowerDNS's
# own signature cache), and the same 1000 after a pdns_server restart.
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
N=${BENCH_NAMES:-1000}
hc_setup
register_module "hsmsim-$$" "$SIM"
register_module "hsmcache-$$" "$BUILD/hsmcache-pdns.so"
make_token dnstok
write_config dns "$SIM" dnstok
store_pin dns
start_mariadb
write_pdns_conf
add_hsm_zone stock.example "hsmsim-$$" dnstok "$PIN" "$N"
add_hsm_zone ours.example "hsmcache-$$" dns '' "$N"
counts() { echo "$(sim_count C_Sign) $(sim_count C_Digest) $(sim_count C_Login) $("$SIMCTL" "$SIMSTATE" counts | awk '{ s += $2 } END { print s + 0 }')"; }
measure() { # ZONE LABEL
    "$SIMCTL" "$SIMSTATE" reset; ask "$1" "$N"; read -r s d l a <<< "$(counts)"
    printf '%-6s %-22s %8s %9s %8s %10s %9.2f\n' "$2" "$N new signatures" "$s" "$d" "$l" "$a" "$(echo "$a / $N" | bc -l)"
    "$SIMCTL" "$SIMSTATE" reset; ask "$1" "$N"; read -r s d l a <<< "$(counts)"
    printf '%-6s %-22s %8s %9s %8s %10s %9.2f\n' "$2" "$N warm answers" "$s" "$d" "$l" "$a" "$(echo "$a / $N" | bc -l)"
    stop_pdns; start_pdns
    "$SIMCTL" "$SIMSTATE" reset; ask "$1" "$N"; read -r s d l a <<< "$(counts)"
    printf '%-6s %-22s %8s %9s %8s %10s %9.2f\n' "$2" "$N after pdns restart" "$s" "$d" "$l" "$a" "$(echo "$a / $N" | bc -l)"
}
start_pdns
echo "PowerDNS $(pdns_server --version 2>&1 | sed -n 's/.*PowerDNS Authoritative Server \([^ ]*\).*/\1/p' | head -1), $N names, ECDSA P-256, HSM calls counted at the simulator"
printf '%-6s %-22s %8s %9s %8s %10s %9s\n' path pass C_Sign C_Digest C_Login "all calls" "per answer"
measure stock.example stock
measure ours.example ours
