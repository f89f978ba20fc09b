# tests/lib/pdns-load.sh: the setup of the PowerDNS tests over the
# simulator, dnsperf against the private pdns_server of
# scripts/lib/pdns-local.sh (source that first), and the token-removal
# run both the test and bench-pdns use.

# pdns_sim_setup [CONFIG LINES...]: a temp dir, the PowerDNS front
# registered with p11-kit as $MOD, token "dns" (label dnstok) on the
# simulator with its PIN stored, MariaDB started, pdns.conf written.
# Exits the test (one not ok) if MariaDB does not start.
pdns_sim_setup() {
    hc_setup
    MOD=hsmcache-test-$$
    register_module "$MOD" "$BUILD/hsmcache-pdns.so"
    make_token dnstok
    write_config dns "$SIM" dnstok "$@"
    store_pin dns
    start_mariadb || { not_ok "MariaDB did not start: $(tail -3 "$T/mysqld.err")"; exit 1; }
    write_pdns_conf
}

# perf_pass FILE QUERYFILE [DNSPERF ARGS...]: dnsperf with the DO bit over
# QUERYFILE ("name type" lines), each query once unless ARGS say
# otherwise; writes "qps p50_ms p99_ms servfail lost answered" to FILE.
perf_pass() {
    local out=$1 qf=$2
    shift 2
    dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d "$qf" -D -v -c 4 -q 100 -t 5 "$@" > "$out.raw" 2>&1 || true
    awk '/^> / { print $NF * 1000 }' "$out.raw" | sort -n > "$out.lat"
    local n p50 p99 sf qps lost
    n=$(wc -l < "$out.lat")
    p50=$(awk -v n="$n" 'NR == int((n - 1) * 0.50) + 1 { printf "%.2f", $1 }' "$out.lat")
    p99=$(awk -v n="$n" 'NR == int((n - 1) * 0.99) + 1 { printf "%.2f", $1 }' "$out.lat")
    sf=$(grep -c '^> SERVFAIL' "$out.raw" || true)
    qps=$(awk '/Queries per second:/ { print $4 }' "$out.raw")
    lost=$(awk '/Queries lost:/ { print $3 }' "$out.raw")
    echo "${qps:-0} ${p50:-0} ${p99:-0} ${sf:-0} ${lost:-0} $n" > "$out"
}

# query_file ZONE FIRST LAST FILE: "nI.ZONE A" lines.
query_file() {
    local i
    for i in $(seq "$2" "$3"); do echo "n$i.$1 A"; done > "$4"
}

# sim_outage S: the simulator removes the token for S seconds (returns at
# once).
sim_outage() { "$SIMCTL" "$SIMSTATE" remove $(($1 * 1000)); }

# removal_run ZONE CACHED NEW ABSENT_S LOAD_S: with names n1..nCACHED
# already signed, dnsperf asks them for LOAD_S seconds while the
# simulator removes the token for ABSENT_S seconds (1 s in; $OUTAGE names
# another function that makes signing impossible for that long); meanwhile one
# never-signed name (from n(CACHED+1) on) is asked every 0.5 s, over TCP
# so that a slow answer is the server's, not a lost UDP packet. Prints
# "key value" lines: cached_answers cached_servfail new_asked new_failed
# new_signed_absent (must be 0) new_max_ms resume_ms (from the token's
# return to the first new name signed; -1: not within 10 s).
removal_run() {
    local zone=$1 cached=$2 absent=$4 load=$5 i=$(( $2 + 1 )) q st ms t0 back_ms resume="" max=0 asked=0 failed=0 early=0
    query_file "$zone" 1 "$cached" "$T/cached.q"
    perf_pass "$T/removal.perf" "$T/cached.q" -l "$load" -Q 2000 &
    local perf=$!
    sleep 1
    "${OUTAGE:-sim_outage}" "$absent"
    back_ms=$(( $(date +%s%3N) + absent * 1000 ))
    while [ "$(date +%s%3N)" -lt $((back_ms + 10000)) ] && [ -z "$resume" ]; do
        t0=$(date +%s%3N)
        q=$(dig +tcp +dnssec +time=5 +tries=1 -p "$DNS_PORT" @127.0.0.1 "n$i.$zone" A) || true
        ms=$(( $(date +%s%3N) - t0 ))
        st=$(echo "$q" | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
        asked=$((asked + 1))
        [ "$ms" -gt "$max" ] && max=$ms
        if [ "$st" = NOERROR ] && echo "$q" | grep -q RRSIG; then
            if [ "$(date +%s%3N)" -ge "$back_ms" ]; then resume=$(( $(date +%s%3N) - back_ms ))
            else early=$((early + 1)); fi
        else
            failed=$((failed + 1))
        fi
        i=$((i + 1))
        sleep 0.5
    done
    wait "$perf"
    read -r _ _ _ sf _ n < "$T/removal.perf"
    echo "cached_answers $n"
    echo "cached_servfail $sf"
    echo "new_asked $asked"
    echo "new_failed $failed"
    echo "new_signed_absent $early"
    echo "new_max_ms $max"
    echo "resume_ms ${resume:--1}"
}

# presign_counts: the presigner's counts from `hsmcache stats` into
# $inputs $done_ $signed ("" when no presigner runs).
presign_counts() {
    line=$("$HC" stats | grep '^presign:' || true)
    inputs=$(echo "$line" | sed -n 's/.*inputs \([0-9]*\),.*/\1/p')
    done_=$(echo "$line" | sed -n 's/.* done \([0-9]*\),.*/\1/p')
    signed=$(echo "$line" | sed -n 's/.* signed \([0-9]*\),.*/\1/p')
}
# wait_presigned MIN_INPUTS MIN_DONE [TENTHS]: until the presigner knows
# MIN_INPUTS inputs and has MIN_DONE done (default wait 30 s).
wait_presigned() {
    for _ in $(seq "${3:-300}"); do
        presign_counts
        [ -n "$inputs" ] && [ "$inputs" -ge "$1" ] && [ "${done_:-0}" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
