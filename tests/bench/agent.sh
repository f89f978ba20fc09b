#!/usr/bin/env bash
# make bench-agent: the same SSH CA module with the embedded core and
# through hsmcached, side by side in one run:
#   1. N certificates (BENCH_CERTS, default 200), each by its own
#      ssh-keygen process, on the simulator set like a smart card (300 ms
#      C_Login, 70 ms C_Sign, one call at a time): embedded, every process
#      logs in; with the agent, started cold before the timer, its one
#      login falls inside the timed run. A run counts only when all N
#      certificates are signed by the CA key and the simulator counted N
#      C_Sign and N C_Login (embedded) or 1 (agent: it was used).
#   2. the cost of one signature on SoftHSM through the PKCS#11 front
#      (tests/sigload, random data so nothing is cached, 1 and 4 threads):
#      embedded vs agent, in microseconds, warm on both sides (warm_rate in
#      tests/lib/bench.sh: a 1 s and a BENCH_SECONDS run differenced,
#      default 5, so neither side's setup or login is counted).
# BENCH_REPEAT passes (default 5), agent and embedded alternating (agent,
# embedded, agent, embedded ...): the median and, in brackets, the lowest
# and highest pass; ratios are taken per pass. Every pass lasts over 5 s
# (a certificate pass at least N x 70 ms = 14 s). Prints ms per
# certificate, us per signature, ratios, and for the card its limit
# (1 call in flight / 70 ms = 14.3 C_Sign/s) and the share of it each
# side reached. Headline figures go to $HC_BENCH_RESULTS
# (tests/bench/summary.py).
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/bench.sh"
N=${BENCH_CERTS:-200}
SECS=${BENCH_SECONDS:-5}
REPEAT=${BENCH_REPEAT:-5}
hc_setup
bench_begin agent BENCH_CERTS=$N BENCH_SECONDS=$SECS BENCH_REPEAT=$REPEAT
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
# certs LOGINS: N certificates, one ssh-keygen each, on the simulator
# (reset first); prints ms per certificate. LOGINS: the C_Login count the
# mode must show.
certs() {
    local t0 t1 n
    rm -f "$T"/u*-cert.pub
    "$SIMCTL" "$SIMSTATE" reset
    t0=$(ms)
    for i in $(seq "$N"); do
        ssh-keygen -q -s "$T/ca.pub" -D "$SSHCA" -I "u$i" -n user -V +1h \
            "$T/u$i.pub" < /dev/null > /dev/null 2>&1 || { echo "FAILED u$i" >&2; return 1; }
    done
    t1=$(ms)
    ssh_certs_ok "$T/ca.pub" "$N" "certificates" || return 1
    n=$(sim_count C_Sign)
    [ "$n" = "$N" ] || { echo "$n C_Sign at the simulator for $N certificates" >&2; return 1; }
    n=$(sim_count C_Login)
    [ "$n" = "$1" ] || { echo "$n C_Login at the simulator, want $1" >&2; return 1; }
    echo "($t1 - $t0) / $N" | bc -l
}
per_sig() { # THREADS: us per signature through the front, warm
    local rate
    rate=$(warm_rate "$FRONT" ca "$1" "$SECS") || return 1
    echo "1000000 / $rate" | bc -l
}

echo "hsmcached vs embedded core, $(nproc) cores, ssh-keygen $(ssh -V 2>&1 | cut -d, -f1), $REPEAT passes: median [lowest-highest]"
for r in $(seq "$REPEAT"); do
    HC_AGENT=1 sshca_conf "$SIM"
    a=$(certs 1)
    agent_stop
    HC_AGENT= sshca_conf "$SIM"
    e=$(certs "$N")
    echo "$e" >> "$T/cert.e"
    echo "$a" >> "$T/cert.a"
    echo "$e / $a" | bc -l >> "$T/cert.ratio"
    for th in 1 4; do
        HC_AGENT=1 sshca_conf softhsm2
        a=$(per_sig "$th")
        agent_stop
        HC_AGENT= sshca_conf softhsm2
        e=$(per_sig "$th")
        echo "$e" >> "$T/sig.e.$th"
        echo "$a" >> "$T/sig.a.$th"
        echo "$a / $e" | bc -l >> "$T/sig.ratio.$th"
    done
done
printf '\n%s certificates, one ssh-keygen each, simulated card (300 ms login, 70 ms sign):\n' "$N"
printf '  %-30s %24s ms/cert\n' "embedded (login per process)" "$(stats %.1f < "$T/cert.e")" \
    "agent (one login)" "$(stats %.1f < "$T/cert.a")"
printf '  %-30s %24sx\n' "agent speed-up" "$(stats < "$T/cert.ratio")"
LIMIT=$(device_limit 1 70)
printf '  card limit: 1 in flight / 70 ms = %s C_Sign/s (one C_Sign per certificate, counted); share reached: embedded %s%%, agent %s%%\n' \
    "$LIMIT" "$(ms_share "$LIMIT" "$T/cert.e")" "$(ms_share "$LIMIT" "$T/cert.a")"

printf '\none signature on SoftHSM through the PKCS#11 front (EC P-256, warm, %ss runs):\n' "$SECS"
printf '  %-8s %24s %24s %20s\n' threads "embedded us" "agent us" "a/e"
for th in 1 4; do
    printf '  %-8s %24s %24s %20s\n' "$th" "$(stats %.1f < "$T/sig.e.$th")" "$(stats %.1f < "$T/sig.a.$th")" \
        "$(stats < "$T/sig.ratio.$th")"
done
echo "audit lines written: $(wc -l < "$AUDIT") (the agent appends for certificates it signs)"
bench_stat cert_embedded %.1f < "$T/cert.e"
bench_stat cert_agent %.1f < "$T/cert.a"
bench_stat cert_speedup %.3f < "$T/cert.ratio"
bench_result sim_limit "$LIMIT"
for th in 1 4; do bench_stat "sig_ratio_$th" %.3f < "$T/sig.ratio.$th"; done
bench_done
