#!/usr/bin/env bash
# The presigner on the real clock (no libfaketime, so it also runs under
# ASan; the weekly boundary itself is pdns_presign_boundary.sh):
# - `pdns-hsm warm` has pdns answer every RRset of the zone once, with the
#   presigner out of its window (presign-lead = 1s), so the front only
#   records the signing inputs and each C_Sign is the warm pass's;
# - with presign-lead = 8d (always inside the window) two pdns_servers on
#   the same cache dir presign: one presigner at a time (README: one
#   process per cache dir, presign.lock): one of them holds the lock, and
#   the HSM never sees more than presign-rate signatures in a second;
# - both killed (-9) in the middle, one pdns_server started again
#   resumes: it signs exactly what was not yet signed (the bound is
#   explained below), and `hsmcache stats` shows all inputs done, none
#   failed.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
RATE=10
presign_conf() { write_config dns "$SIM" dnstok "[pdns]" "presign-interval = 1s" "presign-rate = $RATE" "presign-lead = $1"; }
pdns_sim_setup
presign_conf 1s
N=${PRESIGN_NAMES:-40}
Z=pre.example
add_hsm_zone "$Z" "$MOD" dns '' "$N"
# The 1 s lead keeps the presigner idle unless this runs in the last
# seconds before Thursday 00:00 UTC: then wait for the boundary to pass.
now=$(date +%s); left=$(( 604800 - now % 604800 ))
[ "$left" -lt 30 ] && sleep $((left + 1))

must_start_pdns
"$SIMCTL" "$SIMSTATE" reset
out=$("$BUILD/pdns-hsm" --config-dir "$T" warm "$Z" 2>&1)
rrsets=$(mysql_q -N -e "SELECT COUNT(DISTINCT name, type) FROM records WHERE type <> '' AND auth = 1")
contains "pdns-hsm warm asks for every RRset of the zone" "$out" "warm $Z: $rrsets/$rrsets RRsets"
sleep 2   # the recorded inputs reach presign.mdb once a second
stop_pdns
W=$(sim_count C_Sign)
check "... each answer was signed (one C_Sign per RRset at least: $W)" test "$W" -ge "$rrsets"

# Two pdns_servers, one cache dir, the presigner's window open.
presign_conf 8d
DNS_PORT2=$((DNS_PORT + 1))
mkdir -p "$T/p2"
sed -e "s/^local-port=.*/local-port=$DNS_PORT2/" -e "s|^socket-dir=.*|socket-dir=$T/p2|" "$T/pdns.conf" > "$T/p2/pdns.conf"
pdns_server --config-dir="$T/p2" > "$T/pdns2.log" 2>&1 &
PDNS2_PID=$!
HC_PIDS="$HC_PIDS $PDNS2_PID"
must_start_pdns
# PowerDNS loads the module (and so the presigner) on its first signature;
# n1 is this week's and cached, so these cost no C_Sign.
n=$(ask "$Z" 1)
# The second server was started in the background: it may still be
# starting (seen under load in CI), so it gets up to 10 s to answer.
for _ in $(seq 50); do
    n2=$(DNS_PORT=$DNS_PORT2 ask "$Z" 1) && break
    sleep 0.2
done
equals "a second pdns_server on the same cache dir answers too (signed answers: ours, theirs)" "$n $n2" "1 1"
# C_Sign sampled every 0.05 s, each "start end count" (us). One
# presigner sleeps 1/rate after each signature, so k signatures take at
# least (k - 1)/rate s: over every pair of samples, (signatures between
# them - 1) / (start of the first to end of the second) is at most the
# rate. Two presigners would make about twice the rate.
: > "$T/samples"
holders=""
for _ in $(seq 300); do
    a=$EPOCHREALTIME; c=$(sim_count C_Sign); b=$EPOCHREALTIME
    echo "${a/./} ${b/./} $c" >> "$T/samples"
    if [ -z "$holders" ] && [ $((c - W)) -ge 5 ]; then
        # This test's lock only: another run's pdns holds its own.
        holders=$(lslocks -n -o PID,PATH | awk -v f="$T/cache/presign.lock" '$2 == f { print $1 }' | sort -u | xargs)
    fi
    [ $((c - W)) -ge 30 ] && break
    sleep 0.05
done
read -r seen peak < <(awk '{ a[NR] = $1; b[NR] = $2; c[NR] = $3 }
    END { for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++) {
              r = (c[j] - c[i] - 1) * 1e6 / (b[j] - a[i]); if (r > p) p = r }
          printf "%d %.1f\n", c[NR] - c[1], p }' "$T/samples")
check "one presigner per cache dir: one process holds presign.lock (holders: ${holders:-none}; servers $PDNS_PID, $PDNS2_PID)" \
    test "$holders" = "$PDNS_PID" -o "$holders" = "$PDNS2_PID"
check "... and the HSM saw them sign at most presign-rate, $RATE/s ($seen signatures sampled, peak $peak/s; two presigners make about $((2 * RATE))/s)" \
    awk -v s="$seen" -v p="$peak" -v r="$RATE" 'BEGIN { exit !(s >= 10 && p <= r) }'
# Both killed at once in the middle: neither can take over from the other.
kill -9 "$PDNS_PID" "$PDNS2_PID"
wait "$PDNS_PID" "$PDNS2_PID" 2> /dev/null
before=$(sim_count C_Sign)
first=$((before - W))

# One pdns_server again: it resumes. The presigner is one thread signing
# one input at a time, and hc_sign_ex writes each signature to the
# persistent cache before the next input starts; presign-rate only spaces
# them, and the input queue holds inputs, not signatures. So at the kill
# at most one C_Sign had been made whose signature was not yet on disk:
# of the $first signatures made before, all but at most one are found in
# the cache, and the restart signs inputs - first, or one more.
must_start_pdns
n=$(ask "$Z" 1)
for _ in $(seq 300); do
    presign_counts
    [ -n "$inputs" ] && [ "$inputs" -gt 0 ] && [ "${done_:-0}" = "$inputs" ] && break
    sleep 0.1
done
after=$(sim_count C_Sign 2>&1)
resumed=$(( ${after//[!0-9]/} + 0 - before ))
# CI run 3 (2026-11-28) once saw this restart fail every presign with
# the simulator's count unreadable, never seen alone: show the pdns log
# and the simulator's answer when it does not finish.
if [ "${done_:-0}" != "${inputs:-x}" ] || [[ $after == *[!0-9]* ]]; then
    echo "# simulator: $after" >&2
    tail -n 20 "$T/pdns.log" | sed 's/^/# pdns.log: /' >&2
fi
check "the restart resumes: $resumed HSM signatures for the $inputs inputs less the $first signed before the kill (one more if one was in flight)" \
    test "$first" -ge 1 -a "$resumed" -ge $((inputs - first)) -a "$resumed" -le $((inputs - first + 1))
equals "... the presigner's own count agrees (signed, in hsmcache stats)" "$signed" "$resumed"
contains "hsmcache stats shows the presigner at work" "$line" "presign: lead 691200s, rate "
check "... next week's signature done for all $inputs inputs (every RRset: $rrsets)" \
    test "${inputs:-0}" -ge "$rrsets" -a "${inputs:-0}" = "${done_:-x}"
contains "... with none failed" "$line" "failed 0,"
done_testing
