#!/usr/bin/env bash
# make bench-ssh: SSH certificates per second through
#   (a) the module directly, as operators do today: ssh-keygen -D MODULE -P PIN
#   (b) build/hsmcache-sshca.so (PIN from the store, policy and audit on)
# on the same token and CA key (EC P-256), in one run:
#   - N certificates, one ssh-keygen process each (how CAs are scripted)
#   - N certificates in one ssh-keygen process
# first on SoftHSM, then on the simulator set like a smart card (300 ms
# C_Login, 70 ms C_Sign, one call at a time). Prints ms per certificate
# and b/a. N = BENCH_CERTS (default 200).
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"
N=${BENCH_CERTS:-200}
hc_setup
make_token ssh
AUDIT=$T/audit.log
write_config ssh softhsm2 ssh "[sshca]" "keys = pkcs11:token=ssh;object=ca" "audit-log = $AUDIT"
store_pin ssh
"$HC" keygen ssh ca ecdsa-p256 > /dev/null
"$HC" sshca pubkey > "$T/ca.pub"
for i in $(seq "$N"); do ssh-keygen -q -t ed25519 -N '' -f "$T/u$i"; done
PIN_VALUE=$PIN # the stock path takes it on the command line; that is the point

ms() { echo $(( $(date +%s%N) / 1000000 )); }
# run MODULE [ssh-keygen options...]: N certificates, one process each,
# then N in one process; prints "per-process-ms one-process-ms" per cert.
run() {
    local module=$1 t0 t1 t2
    shift
    rm -f "$T"/u*-cert.pub
    t0=$(ms)
    for i in $(seq "$N"); do
        ssh-keygen -q -s "$T/ca.pub" -D "$module" "$@" -I "u$i" -n user -V +1h \
            "$T/u$i.pub" < /dev/null > /dev/null 2>&1 || { echo "FAILED u$i" >&2; return 1; }
    done
    t1=$(ms)
    rm -f "$T"/u*-cert.pub
    ssh-keygen -q -s "$T/ca.pub" -D "$module" "$@" -I batch -n user -V +1h \
        "$T"/u*.pub < /dev/null > /dev/null 2>&1 || { echo "FAILED batch" >&2; return 1; }
    t2=$(ms)
    [ "$(ls "$T"/u*-cert.pub | wc -l)" -eq "$N" ] || { echo "missing certificates" >&2; return 1; }
    echo "$(echo "($t1 - $t0) / $N" | bc -l) $(echo "($t2 - $t1) / $N" | bc -l)"
}
row() { # NAME A_RESULT B_RESULT
    read -r a1 a2 <<< "$2"
    read -r b1 b2 <<< "$3"
    printf '%-10s %-16s %10.1f %10.1f %8.2f\n' "$1" "per process" "$a1" "$b1" "$(echo "$b1 / $a1" | bc -l)"
    printf '%-10s %-16s %10.1f %10.1f %8.2f\n' "$1" "one process" "$a2" "$b2" "$(echo "$b2 / $a2" | bc -l)"
}

echo "$N certificates, EC P-256 CA, ssh-keygen $(ssh -V 2>&1 | cut -d, -f1), $(nproc) cores"
printf '%-10s %-16s %10s %10s %8s\n' token mode "a ms/cert" "b ms/cert" "b/a"
a=$(run "$SOFTHSM_MODULE" -P "$PIN_VALUE")
b=$(run "$BUILD/hsmcache-sshca.so")
row softhsm "$a" "$b"

card_sim_conf
write_config ssh "$SIM" ssh "[sshca]" "keys = pkcs11:token=ssh;object=ca" "audit-log = $AUDIT"
a=$(run "$SIM" -P "$PIN_VALUE")
b=$(run "$BUILD/hsmcache-sshca.so")
row "sim" "$a" "$b"
echo "sim: every C_Login costs 300 ms and every C_Sign 70 ms, one call at a time."
echo "audit lines written by (b): $(wc -l < "$AUDIT")"
