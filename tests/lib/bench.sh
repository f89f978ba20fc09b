# tests/lib/bench.sh: what the benches share. Source after env.sh.
#   stats [FORMAT]        "median [lowest-highest]" of the numbers on stdin
#                         (printf FORMAT, default %.2f); nothing for none
#   warm_rate MODULE LABEL THREADS SECONDS [OPTION...]
#                         tests/sigload's signatures/s once the process is
#                         set up: the difference of a 1 s and a SECONDS run,
#                         (signed(long) - signed(short)) / (elapsed(long) -
#                         elapsed(short)), so setup done inside or outside
#                         sigload's timer (C_Initialize, login, the first
#                         session) counts on neither side of a comparison.
#                         Only signatures that succeeded count; a failed
#                         signature fails the run (sigload exits 1).
#   ssh_certs_ok CA_PUB N WHAT
#                         the N certificates $T/u*-cert.pub are all signed by
#                         CA_PUB's key (else a message naming WHAT, status 1)
#   bench_begin/bench_result/bench_stat/bench_done
#                         the results file summary.py reads (below)
#   device_limit INFLIGHT MS, share RATE LIMIT, ms_share LIMIT FILE [COLUMN]
#                         a simulated card's C_Sign/s ceiling and the share
#                         of it a rate (or ms per C_Sign) reached

stats() {
    sort -g | awk -v f="${1:-%.2f}" '{ v[NR] = $1 } END { if (NR)
        printf f " [" f "-" f "]\n", (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2, v[1], v[NR] }'
}

# sigload_run MODULE LABEL THREADS SECS [OPTION...]: "signed elapsed" of
# one run (elapsed = attempts / rate, as sigload timed them).
sigload_run() {
    local out
    out=$("$BUILD/tests/sigload" "$@" --no-verify) || { echo "sigload $*: failed: $out" >&2; return 1; }
    echo "$out" | awk '{ for (i = 1; i < NF; i++) {
        if ($i == "signatures") t = $(i + 1); if ($i == "unverified") g = $(i + 1)
        if ($i == "rate") { r = $(i + 1); sub("/s", "", r) } }
        if (r + 0 <= 0 || g + 0 <= 0) exit 1; print g, t / r }'
}

warm_rate() {
    local m=$1 l=$2 th=$3 secs=$4 c1 e1 c2 e2
    shift 4
    [ "$(echo "$secs >= 2" | bc)" = 1 ] || { echo "warm_rate: SECONDS must be 2 or more (the short run is 1 s)" >&2; return 1; }
    read -r c1 e1 <<< "$(sigload_run "$m" "$l" "$th" 1 "$@")"
    read -r c2 e2 <<< "$(sigload_run "$m" "$l" "$th" "$secs" "$@")"
    [ -n "$e2" ] && [ -n "$e1" ] || return 1
    echo "($c2 - $c1) / ($e2 - $e1)" | bc -l
}

ssh_certs_ok() {
    local fp f n=0
    fp=$(ssh-keygen -lf "$1" | awk '{ print $2 }')
    for f in "$T"/u*-cert.pub; do
        ssh-keygen -L -f "$f" 2>/dev/null | grep -q "Signing CA: .* $fp " && n=$((n + 1))
    done
    [ "$n" -eq "$2" ] || { echo "$3: $n of $2 certificates signed by the CA" >&2; return 1; }
}

# Results for tests/bench/summary.py: each bench writes its headline
# figures as `KEY VALUE...` lines to $HC_BENCH_RESULTS (nothing when it is
# unset), besides its human output. `status ok` is written last and only
# by a bench whose every figure counted: a file without it is a failed run.
#   bench_begin NAME KNOB=VALUE...   empties the file; the knobs the run used,
#                                    `short yes` when one came from the environment
#   bench_result KEY VALUE...        one line
#   bench_stat KEY FORMAT < NUMBERS  `KEY median lowest highest`
#   bench_done                       `status ok`
bench_result() {
    [ -n "${HC_BENCH_RESULTS:-}" ] || return 0
    printf '%s\n' "$*" >> "$HC_BENCH_RESULTS"
}
bench_begin() {
    [ -n "${HC_BENCH_RESULTS:-}" ] || return 0
    mkdir -p "$(dirname "$HC_BENCH_RESULTS")"
    : > "$HC_BENCH_RESULTS"
    bench_result bench "$1"
    shift
    bench_result knobs "$@"
    # A knob set in the environment is a run away from the defaults.
    local k short=no
    for k in "$@"; do [ -n "$(printenv "${k%%=*}")" ] && short=yes; done
    bench_result short "$short"
}
bench_stat() {
    local s
    # "median [low-high]" -> "median low high", a value's minus sign kept
    s=$(stats "$2" | sed -E 's/ \[(-?[0-9.e+]+)-(-?[0-9.e+]+)\]$/ \1 \2/')
    [ -n "$s" ] && bench_result "$1" "$s"
    return 0
}
bench_done() { bench_result status ok; }

# device_limit INFLIGHT MS: a card's ceiling, C_Sign per second when
# INFLIGHT calls run at once and each C_Sign takes MS ms.
device_limit() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.1f", n * 1000 / ms }'; }
# share RATE LIMIT: RATE as a percentage of LIMIT.
share() { awk -v r="$1" -v l="$2" 'BEGIN { printf "%.0f", (l > 0 ? 100 * r / l : 0) }'; }
# ms_share LIMIT FILE [COLUMN]: the share of LIMIT C_Sign/s the median
# pass of FILE reached, its COLUMN (default 1) holding ms per C_Sign (one
# C_Sign per certificate, as the SSH benches count).
ms_share() { share "$(awk -v c="${3:-1}" '{ print 1000 / $c }' "$2" | stats %.3f | cut -d' ' -f1)" "$1"; }
