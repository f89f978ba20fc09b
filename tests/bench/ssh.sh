#!/usr/bin/env bash
# make bench-ssh: SSH certificates per second through
#   (a) the module directly, as operators do today: ssh-keygen -D MODULE -P PIN
#   (b) build/hsmcache-sshca.so (PIN from the store, policy and audit on)
# on the same token and CA key (EC P-256), in one run:
#   - N certificates, one ssh-keygen process each (how CAs are scripted)
#   - N certificates in one ssh-keygen process
# first on SoftHSM, then on the simulator set like a smart card (300 ms
# C_Login, 70 ms C_Sign, one call at a time). Prints ms per certificate
# and b/a. N = BENCH_CERTS (default 200). BENCH_REPEAT passes (default 5),
# (b) and (a) alternating (b, a, b, a ...): the median and, in brackets, the
# lowest and highest pass; b/a is taken per pass. A per-process pass lasts
# 5-7 s on SoftHSM (23-34 ms a certificate) and over a minute on the
# card; the one-process pass on SoftHSM is not scaled up: it lasts under
# a second (process start plus N signatures at SoftHSM speed, about 4 ms a
# certificate), and it is shown for information only: the goal (P5) is the
# per-process cost. The card's rows end with its limit (1 call in flight /
# 70 ms = 14.3 C_Sign/s) and the share of it each side reached. Both sides
# start cold in the same way (each process loads its module and logs
# in). A run counts only when all N certificates exist and are signed by
# the CA key, and on the simulator when it counted one C_Sign per
# certificate. Headline figures go to $HC_BENCH_RESULTS
# (tests/bench/summary.py).
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/bench.sh"
N=${BENCH_CERTS:-200}
REPEAT=${BENCH_REPEAT:-5}
hc_setup
bench_begin ssh BENCH_CERTS=$N BENCH_REPEAT=$REPEAT
make_token ssh
AUDIT=$T/audit.log
write_config ssh softhsm2 ssh "[sshca]" "keys = pkcs11:token=ssh;object=ca" "audit-log = $AUDIT"
store_pin ssh
"$HC" keygen ssh ca ecdsa-p256 > /dev/null
"$HC" sshca pubkey > "$T/ca.pub"
for i in $(seq "$N"); do ssh-keygen -q -t ed25519 -N '' -f "$T/u$i"; done
PIN_VALUE=$PIN # the stock path takes it on the command line; that is the point

ms() { echo $(( $(date +%s%N) / 1000000 )); }
# signs_ok WHAT: on the simulator, one C_Sign per certificate (N*2 a run).
signs_ok() {
    [ -z "$ON_SIM" ] && return 0
    local n
    n=$(sim_count C_Sign)
    [ "$n" = $((2 * N)) ] || { echo "$1: $n C_Sign for $((2 * N)) certificates" >&2; return 1; }
}
# run MODULE [ssh-keygen options...]: N certificates, one process each,
# then N in one process; prints "per-process-ms one-process-ms" per cert.
run() {
    local module=$1 t0 t1 t2
    shift
    [ -n "$ON_SIM" ] && "$SIMCTL" "$SIMSTATE" reset
    rm -f "$T"/u*-cert.pub
    t0=$(ms)
    for i in $(seq "$N"); do
        ssh-keygen -q -s "$T/ca.pub" -D "$module" "$@" -I "u$i" -n user -V +1h \
            "$T/u$i.pub" < /dev/null > /dev/null 2>&1 || { echo "FAILED u$i" >&2; return 1; }
    done
    t1=$(ms)
    ssh_certs_ok "$T/ca.pub" "$N" "per process" || return 1
    rm -f "$T"/u*-cert.pub
    t1b=$(ms)
    ssh-keygen -q -s "$T/ca.pub" -D "$module" "$@" -I batch -n user -V +1h \
        "$T"/u*.pub < /dev/null > /dev/null 2>&1 || { echo "FAILED batch" >&2; return 1; }
    t2=$(ms)
    ssh_certs_ok "$T/ca.pub" "$N" "one process" || return 1
    signs_ok "$module" || return 1
    echo "$(echo "($t1 - $t0) / $N" | bc -l) $(echo "($t2 - $t1b) / $N" | bc -l)"
}
# passes TOKEN A_MODULE: REPEAT passes of (b) then (a); prints the rows and
# writes TOKEN_{per,one}_process_{a,b,ratio} to the results.
passes() {
    local r a b
    : > "$T/a"; : > "$T/b"; : > "$T/ratio"
    for r in $(seq "$REPEAT"); do
        b=$(run "$BUILD/hsmcache-sshca.so")
        a=$(run "$2" -P "$PIN_VALUE")
        echo "$a" >> "$T/a"
        echo "$b" >> "$T/b"
        read -r a1 a2 <<< "$a"
        read -r b1 b2 <<< "$b"
        echo "$(echo "$b1 / $a1" | bc -l) $(echo "$b2 / $a2" | bc -l)" >> "$T/ratio"
    done
    local col mode x
    for col in 1 2; do
        mode="per process"; [ "$col" = 2 ] && mode="one process"
        printf '%-8s %-12s %22s %22s %18s\n' "$1" "$mode" "$(awk -v c="$col" '{ print $c }' "$T/a" | stats %.1f)" \
            "$(awk -v c="$col" '{ print $c }' "$T/b" | stats %.1f)" "$(awk -v c="$col" '{ print $c }' "$T/ratio" | stats)"
        for x in a b; do awk -v c="$col" '{ print $c }' "$T/$x" | bench_stat "${1}_${mode// /_}_$x" %.1f; done
        awk -v c="$col" '{ print $c }' "$T/ratio" | bench_stat "${1}_${mode// /_}_ratio" %.3f
    done
}

echo "$N certificates, EC P-256 CA, ssh-keygen $(ssh -V 2>&1 | cut -d, -f1), $(nproc) cores"
echo "$REPEAT passes: median [lowest-highest]; every certificate checked (signed by the CA key)"
printf '%-8s %-12s %22s %22s %18s\n' token mode "a ms/cert" "b ms/cert" "b/a"
ON_SIM=
passes softhsm "$SOFTHSM_MODULE"

card_sim_conf
write_config ssh "$SIM" ssh "[sshca]" "keys = pkcs11:token=ssh;object=ca" "audit-log = $AUDIT"
ON_SIM=1
passes sim "$SIM"
LIMIT=$(device_limit 1 70)
echo "sim: every C_Login costs 300 ms and every C_Sign 70 ms, one call at a time; one C_Sign per certificate counted."
echo "sim: card limit 1 in flight / 70 ms = $LIMIT C_Sign/s; share reached: per process a $(ms_share "$LIMIT" "$T/a" 1)%, b $(ms_share "$LIMIT" "$T/b" 1)%" \
     "(each process also logs in: 300 ms), one process a $(ms_share "$LIMIT" "$T/a" 2)%, b $(ms_share "$LIMIT" "$T/b" 2)%"
bench_result sim_limit "$LIMIT"
echo "audit lines written by (b): $(wc -l < "$AUDIT")"
bench_done
