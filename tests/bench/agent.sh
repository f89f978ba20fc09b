#!/usr/bin/env bash
# make bench-agent: the same SSH CA module with the embedded core and
# through hsmcached, side by side in one run:
#   1. N certificates (BENCH_CERTS, default 200), each by its own
#      ssh-keygen process, on the simulator set like a smart card (300 ms
#      C_Login, 70 ms C_Sign, one call at a time): embedded, every process
#      logs in; with the agent, the agent logged in once.
#   2. the cost of one signature on SoftHSM through the PKCS#11 front
#      (tests/sigload, random data so nothing is cached, 1 and 4 threads,
#      BENCH_SECONDS each, default 3): embedded vs agent, in microseconds.
# Prints ms per certificate, us per signature, and the ratios.
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"
N=${BENCH_CERTS:-200}
SECS=${BENCH_SECONDS:-3}
hc_setup
make_token ssh
AUDIT=$T/audit.log
SSHCA=$BUILD/hsmcache-sshca.so
card_sim_conf
sshca_conf() { # MODULE: the [sshca] config on MODULE, agent or not per HC_AGENT
    write_config ssh "$1" ssh "[sshca]" "keys = pkcs11:token=ssh;object=ca" "audit-log = $AUDIT"
}
HC_AGENT= sshca_conf softhsm2
store_pin ssh
"$HC" keygen ssh ca ecdsa-p256 > /dev/null
"$HC" sshca pubkey > "$T/ca.pub"
for i in $(seq "$N"); do ssh-keygen -q -t ed25519 -N '' -f "$T/u$i"; done

ms() { echo $(( $(date +%s%N) / 1000000 )); }
certs() { # N certificates, one ssh-keygen each; prints ms per certificate
    local t0 t1
    rm -f "$T"/u*-cert.pub
    t0=$(ms)
    for i in $(seq "$N"); do
        ssh-keygen -q -s "$T/ca.pub" -D "$SSHCA" -I "u$i" -n user -V +1h \
            "$T/u$i.pub" < /dev/null > /dev/null 2>&1 || { echo "FAILED u$i" >&2; return 1; }
    done
    t1=$(ms)
    [ "$(ls "$T"/u*-cert.pub | wc -l)" -eq "$N" ] || { echo "missing certificates" >&2; return 1; }
    echo "($t1 - $t0) / $N" | bc -l
}
per_sig() { # THREADS: us per signature through the front
    local out rate
    out=$("$BUILD/tests/sigload" "$FRONT" ca "$1" "$SECS" --no-verify)
    rate=$(echo "$out" | sed -n 's/.*rate \([0-9.]*\).*/\1/p')
    echo "1000000 / $rate" | bc -l
}

echo "hsmcached vs embedded core, $(nproc) cores, ssh-keygen $(ssh -V 2>&1 | cut -d, -f1)"
HC_AGENT= sshca_conf "$SIM"
e=$(certs)
HC_AGENT=1 sshca_conf "$SIM"
a=$(certs)
agent_stop
printf '\n%s certificates, one ssh-keygen each, simulated card (300 ms login, 70 ms sign):\n' "$N"
printf '  %-28s %10.1f ms/cert\n' "embedded (login per process)" "$e" "agent (one login)" "$a"
printf '  %-28s %10.2fx\n' "agent speed-up" "$(echo "$e / $a" | bc -l)"

printf '\none signature on SoftHSM through the PKCS#11 front (EC P-256, %ss runs):\n' "$SECS"
printf '  %-10s %14s %14s %8s\n' threads "embedded us" "agent us" "a/e"
for th in 1 4; do
    HC_AGENT= sshca_conf softhsm2
    e=$(per_sig "$th")
    HC_AGENT=1 sshca_conf softhsm2
    a=$(per_sig "$th")
    agent_stop
    printf '  %-10s %14.1f %14.1f %8.2f\n' "$th" "$e" "$a" "$(echo "$a / $e" | bc -l)"
done
echo "audit lines written: $(wc -l < "$AUDIT") (the agent appends for certificates it signs)"
