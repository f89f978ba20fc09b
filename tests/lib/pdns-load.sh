# tests/lib/pdns-load.sh: the setup of the PowerDNS tests over the
# simulator; dnsperf against the private pdns_server of
# scripts/lib/pdns-local.sh (source that first), its output read in one
# place (perf_parse: a lost query is never an answer); the token-removal
# run and its checks, which the tests and bench-pdns share; a pdns start
# that stops the test when it fails; and ldns-verify-zone over the very
# RRSIGs a pass of `ask` received.

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
# otherwise, its output in FILE.raw, parsed by perf_parse into FILE.
perf_pass() {
    local out=$1 qf=$2
    shift 2
    dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d "$qf" -D -v -S 1 -c 4 -q 100 -t 5 "$@" > "$out.raw" 2>&1 || true
    perf_parse "$out.raw" > "$out"
}

# perf_parse RAW: the one reading of dnsperf -v -S 1 output. With -v
# dnsperf prints "> RCODE name type latency" per response and "> T name
# type" for a query that timed out ("> I" interrupted): those are lost,
# never answers. With -S 1 it prints "EPOCH.USEC: qps" every second of
# its own clock, in the same stream, so the responses printed between two
# stamps are that second's. Prints "key value" lines:
#   sent completed lost      dnsperf's summary; completed is checked
#                            against the response lines (parse_ok 1)
#   noerror servfail other   rcodes of the completed queries
#   other_rcodes             e.g. NXDOMAIN:3,REFUSED:1 (- for none)
#   p50_ms p99_ms qps        latencies of completed queries only
#   sec END_MS NOERROR BAD   per second of dnsperf's clock
# dnsperf cannot show whether a NOERROR answer carried an RRSIG: callers
# prove that with a dig sample (removal_run does, during the outage).
perf_parse() {
    awk -v lat="$1.lat" '
        /^> / {
            if ($2 == "T" || $2 == "I") { gone++; next }
            answers++
            if ($2 == "NOERROR") { noerror++; sok++ }
            else { if ($2 == "SERVFAIL") servfail++; else { other++; orc[$2]++ } sbad++ }
            print $NF * 1000 > lat
            next
        }
        /^[0-9]+\.[0-9]+: [0-9.]+$/ {
            end = substr($1, 1, length($1) - 1)
            printf "sec %.0f %d %d\n", end * 1000, sok, sbad
            sok = sbad = 0; last = end
            next
        }
        /Queries sent:/ { sent = $3 }
        /Queries completed:/ { completed = $3 }
        /Queries lost:/ { lost = $3 }
        /Queries per second:/ { qps = $4 }
        END {
            if (last != "" && sok + sbad > 0) printf "sec %.0f %d %d\n", (last + 1) * 1000, sok, sbad
            close(lat)
            printf "sent %d\ncompleted %d\nlost %d\n", sent, completed, lost
            printf "noerror %d\nservfail %d\nother %d\nqps %.1f\n", noerror, servfail, other, qps
            printf "parse_ok %d\n", (sent != "" && answers == completed && gone == lost)
            o = ""; for (r in orc) o = o (o == "" ? "" : ",") r ":" orc[r]
            printf "other_rcodes %s\n", (o == "" ? "-" : o)
        }' "$1"
    [ -s "$1.lat" ] || : > "$1.lat"
    sort -n "$1.lat" -o "$1.lat"
    local n
    n=$(wc -l < "$1.lat")
    awk -v n="$n" 'NR == int((n - 1) * 0.50) + 1 { printf "p50_ms %.2f\n", $1 }
                   NR == int((n - 1) * 0.99) + 1 { printf "p99_ms %.2f\n", $1 }' "$1.lat"
    [ "$n" -gt 0 ] || printf 'p50_ms -\np99_ms -\n'
}

# perf_get FILE KEY: one value of a perf_pass result.
perf_get() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }

# perf_window FILE FROM_MS TO_MS: over dnsperf's seconds that overlap
# [FROM_MS, TO_MS]: "SECONDS MIN_NOERROR" (the fewest NOERROR answers any
# of those seconds had; a second with none prints 0).
perf_window() {
    awk -v from="$2" -v to="$3" '
        $1 == "sec" { start = prev == "" ? $2 - 1000 : prev; prev = $2
                      if (start < to && $2 > from) { n++; if (min == "" || $3 < min) min = $3 } }
        END { print n + 0, (min == "" ? 0 : min) }' "$1"
}

# add_imported_zone ZONE ENGINE SLOT N MEMBER...: add_hsm_zone for a
# token group: keys are not made on a group, so the KSK and ZSK (ECDSA
# P-256, made by openssl) are imported into every MEMBER's token
# (members.sh's import_pair; labels ZONE-ksk and ZONE-zsk, a CKA_ID of
# their own) and assigned to ENGINE/SLOT with an empty PIN.
add_imported_zone() {
    local zone=$1 engine=$2 slot=$3 n=$4 role
    shift 4
    pdnsutil_t create-zone "$zone" "ns1.$zone" > /dev/null 2>&1 || return 1
    for role in ksk zsk; do
        PDNS_KEY_ID=$(( ${PDNS_KEY_ID:-0} + 1 ))
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
            -out "$T/$zone-$role.pem" 2> /dev/null &&
            import_pair "$T/$zone-$role.pem" "$zone-$role" "$(printf '%04x' "$PDNS_KEY_ID")" "$@" &&
            pdnsutil_t hsm assign "$zone" ecdsa256 "$role" "$engine" "$slot" '' "$zone-$role" > /dev/null 2>&1 ||
            return 1
    done
    add_names "$zone" "$n"
}

# query_file ZONE FIRST LAST FILE: "nI.ZONE A" lines.
query_file() {
    local i
    for i in $(seq "$2" "$3"); do echo "n$i.$1 A"; done > "$4"
}

# sim_outage S: the simulator removes the token for S seconds (returns at
# once).
sim_outage() { "$SIMCTL" "$SIMSTATE" remove $(($1 * 1000)); }

# removal_run ZONE CACHED ABSENT_S LOAD_S: with names n1..nCACHED
# already signed, dnsperf asks them for LOAD_S seconds while the
# simulator removes the token for ABSENT_S seconds (1 s in; $OUTAGE names
# another function that makes signing impossible for that long).
# Meanwhile a never-signed name (from n(CACHED+1) on) is asked over TCP
# (a slow answer is then the server's, not a lost UDP packet), every
# 0.5 s while the token is away and every 0.1 s after (the resume time is
# known to 0.1 s plus a query); and while it is away one signed name per
# round over UDP with dig, to show the RRSIGs dnsperf cannot see.
# Prints "key value" lines: perf_parse's keys of the dnsperf pass, and
#   outage_rc                  the outage function's exit status
#   window_seconds window_min  dnsperf's seconds overlapping the outage,
#                              the fewest NOERROR answers one of them had
#   sample_asked sample_signed signed names asked during the outage, and
#                              how many came NOERROR with an RRSIG
#   new_asked new_servfail new_other  new names asked, answered SERVFAIL,
#                              anything else (no answer, another rcode)
#   new_signed_absent          new names signed while away (must be 0)
#   new_max_ms                 the slowest new-name query while away
#   resume_ms                  the first query signed after the return was
#                              sent this long after it (-1: none in 10 s)
#   last_fail_ms               the last query that failed after the return
#                              was sent this long after it (-1: none)
# The return is taken as the time just before the outage began plus
# ABSENT_S: a moment at or before the real one.
# signed_a DIG_OUTPUT: the answer holds an RRSIG over an A RRset.
signed_a() { echo "$1" | grep -q 'IN[[:space:]]*RRSIG[[:space:]]*A '; }
removal_run() {
    local zone=$1 cached=$2 absent=$3 load=$4 i=$(( $2 + 1 )) q st ms t0 from_ms back_ms
    local resume="" lastfail=-1 max=0 asked=0 servfail=0 other=0 early=0 sasked=0 ssigned=0
    query_file "$zone" 1 "$cached" "$T/cached.q"
    perf_pass "$T/removal.perf" "$T/cached.q" -l "$load" -Q 2000 &
    local perf=$!
    sleep 1
    from_ms=$(date +%s%3N)
    back_ms=$(( from_ms + absent * 1000 ))
    local outage_rc=0
    "${OUTAGE:-sim_outage}" "$absent" || outage_rc=$?
    while [ "$(date +%s%3N)" -lt $((back_ms + 10000)) ] && [ -z "$resume" ]; do
        t0=$(date +%s%3N)
        q=$(dig +dnssec +time=5 +tries=1 -p "$DNS_PORT" @127.0.0.1 "n$i.$zone" A) || true
        ms=$(( $(date +%s%3N) - t0 ))
        st=$(echo "$q" | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
        i=$((i + 1))
        # A query asked before the return but answered after it may have
        # been signed by the returned token: it belongs to neither side.
        if [ "$t0" -lt "$back_ms" ] && [ $((t0 + ms)) -ge "$back_ms" ]; then
            continue
        fi
        if [ "$t0" -lt "$back_ms" ]; then
            asked=$((asked + 1))
            [ "$ms" -gt "$max" ] && max=$ms
            if [ "$st" = NOERROR ] && signed_a "$q"; then early=$((early + 1))
            elif [ "$st" = SERVFAIL ]; then servfail=$((servfail + 1))
            else other=$((other + 1)); fi
            q=$(dig +dnssec +noall +comments +answer +time=2 +tries=1 -p "$DNS_PORT" @127.0.0.1 \
                "n$(( RANDOM % cached + 1 )).$zone" A) || true
            sasked=$((sasked + 1))
            echo "$q" | grep -q 'status: NOERROR' && signed_a "$q" && ssigned=$((ssigned + 1))
            sleep 0.5
        elif [ "$st" = NOERROR ] && signed_a "$q"; then
            resume=$(( t0 - back_ms ))
        else
            lastfail=$(( t0 - back_ms ))
            sleep 0.1
        fi
    done
    wait "$perf"
    cat "$T/removal.perf"
    echo "outage_rc $outage_rc"
    echo "window_seconds $(perf_window "$T/removal.perf" "$from_ms" "$back_ms" | tr ' ' '\n' | head -1)"
    echo "window_min $(perf_window "$T/removal.perf" "$from_ms" "$back_ms" | awk '{ print $2 }')"
    echo "sample_asked $sasked"
    echo "sample_signed $ssigned"
    echo "new_asked $asked"
    echo "new_servfail $servfail"
    echo "new_other $other"
    echo "new_signed_absent $early"
    echo "new_max_ms $max"
    echo "resume_ms ${resume:--1}"
    echo "last_fail_ms $lastfail"
}

# removal_checks WHAT ABSENT_S FAST_MS RESUME_MS: the checks of the
# removal_run result in $T/removal, WHAT ("the token", "the agent") away
# for ABSENT_S seconds: new names refused within FAST_MS each, signing
# back within RESUME_MS of the return. The queries are 0.1 s apart after
# the return, so the resume time is known between the last failed query
# and the first signed one: the check is that no query sent RESUME_MS or
# more after the return failed (first signed <= RESUME_MS + that gap).
removal_checks() {
    local what=$1 absent=$2 fast=$3 limit=$4 r lf gap
    rv() { awk -v k="$1" '$1 == k { print $2; exit }' "$T/removal"; }
    equals "$what went away (the outage command succeeded)" "$(rv outage_rc)" "0"
    equals "dnsperf over the signed names: no query lost ($(rv completed) of $(rv sent) answered)" \
        "lost $(rv lost), parsed $(rv parse_ok)" "lost 0, parsed 1"
    check "... thousands of answers ($(rv completed), $(rv qps) q/s)" test "$(rv completed)" -ge 1000
    equals "... all NOERROR while $what was away" "SERVFAIL $(rv servfail), other $(rv other_rcodes)" "SERVFAIL 0, other -"
    check "... NOERROR answers in each of the $(rv window_seconds) seconds of dnsperf's clock the outage overlaps (fewest: $(rv window_min))" \
        test "$(rv window_seconds)" -ge "$absent" -a "$(rv window_min)" -ge 1
    check "a dig sample of the signed names while $what was away: $(rv sample_signed) of $(rv sample_asked) NOERROR with an RRSIG" \
        test "$(rv sample_asked)" -ge 2 -a "$(rv sample_signed)" = "$(rv sample_asked)"
    check "new names while $what was away were refused by the server ($(rv new_servfail) of $(rv new_asked) SERVFAIL)" \
        test "$(rv new_servfail)" -ge 2
    equals "... each refused by the server: no lost query, no other rcode" "$(rv new_other)" "0"
    equals "... none was signed while $what was away" "$(rv new_signed_absent)" "0"
    check "... each refused fast, not hanging (slowest $(rv new_max_ms) ms, limit $fast)" test "$(rv new_max_ms)" -lt "$fast"
    r=$(rv resume_ms) lf=$(rv last_fail_ms)
    gap=$(( lf >= 0 && r >= 0 ? r - lf : 0 ))
    check "signing resumed within $limit ms of $what's return: first signed query sent at +$r ms, $( [ "$lf" -ge 0 ] && echo "last failed one at +$lf ms" || echo "none failed after it") (limit $limit + that $gap ms gap)" \
        test "$r" -ge 0 -a "$r" -le $(( limit + gap ))
    check "pdns_server is the same process" kill -0 "$PDNS_PID"
}

# must_start_pdns: start_pdns, or the test stops here (one not ok):
# nothing after it could mean anything without a server.
must_start_pdns() {
    if start_pdns; then ok "pdns_server starts${PDNS_FAKETIME:+ (clock at $PDNS_FAKETIME)}"; return; fi
    not_ok "pdns_server did not start: $(tail -3 "$T/pdns.log")"
    done_testing
    exit 1
}

# answers_verify ZONE [YYYYMMDDhhmmss]: ldns-verify-zone (validation
# time now, or the one given) over the zone by AXFR in which the RRSIGs
# over the A RRsets of the names the last `ask` asked are the ones that
# pass received ($T/answers): the very signatures the clients got are
# checked against the zone's DNSKEYs. Prints "N LAST-LINE": how many
# answer RRSIGs went in, and ldns-verify-zone's verdict.
answers_verify() {
    dig +noall +answer -p "$DNS_PORT" @127.0.0.1 "$1" AXFR > "$T/axfr.$1"
    awk '$4 == "RRSIG" && $5 == "A"' "$T/answers" > "$T/answers.rrsig"
    awk 'NR == FNR { got[$1] = 1; next } !($4 == "RRSIG" && $5 == "A" && ($1 in got))' \
        "$T/answers.rrsig" "$T/axfr.$1" > "$T/verify.$1"
    cat "$T/answers.rrsig" >> "$T/verify.$1"
    echo "$(wc -l < "$T/answers.rrsig") $(ldns-verify-zone ${2:+-t "$2"} "$T/verify.$1" 2>&1 | tail -1)"
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
