#!/usr/bin/env bash
# `pdns-hsm warm` and the presigner across PowerDNS's weekly boundary,
# with pdns_server's clock moved by libfaketime: started an hour before
# Thursday 00:00 UTC, `pdns-hsm warm` has pdns answer every RRset of the
# zone once (our front records the signing inputs);
# the presigner signs next week's inputs in the background; pdns is
# restarted after the boundary, when PowerDNS's own cache is empty and
# every input has new inception/expiration dates: all answers then come
# with no C_Sign at the simulator, carry next week's inception, and
# validate (ldns-verify-zone under the same moved clock). `hsmcache stats`
# shows the presigner's counts.
# no-sanitizer: the test needs libfaketime preloaded in pdns_server; with libasan preloaded too, processes hang (seen with ldns-verify-zone)
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
pdns_sim_setup "[pdns]" "presign-interval = 1s" "presign-rate = 10"
N=${PRESIGN_NAMES:-40}
Z=pre.example
add_hsm_zone "$Z" "$MOD" dns '' "$N"

now=$(date +%s)
B=$(( now - now % 604800 + 604800 ))          # the next Thursday 00:00 UTC
PDNS_FAKETIME=$((B - 3600)) start_pdns
"$SIMCTL" "$SIMSTATE" reset
out=$("$BUILD/pdns-hsm" --config-dir "$T" warm "$Z" 2>&1)
rrsets=$(mysql_q -N -e "SELECT COUNT(DISTINCT name, type) FROM records WHERE type <> '' AND auth = 1")
contains "pdns-hsm warm asks for every RRset of the zone" "$out" "warm $Z: $rrsets/$rrsets RRsets"
check "... and each answer was signed (one C_Sign per RRset at least)" test "$(sim_count C_Sign)" -ge "$rrsets"
# A restart in the middle (10 signatures/s) resumes: what was signed (give
# or take the ones in flight at the kill)
# before is found in the cache, not signed again.
wait_presigned "$rrsets" 10
done_first=$done_
stop_pdns
before=$(sim_count C_Sign)
PDNS_FAKETIME=$((B - 3500)) start_pdns
ask "$Z" 1 # PowerDNS loads the module on its first signature
wait_presigned "$rrsets" "$rrsets"
presign_counts
resumed=$(( $(sim_count C_Sign) - before ))
check "a pdns restart in the middle resumes the presigning: $resumed more HSM signatures, not $rrsets" \
    test "$resumed" -lt "$rrsets" -a "$resumed" -ge $((rrsets - done_first - 3))
contains "hsmcache stats shows the presigner at work" "$line" "presign: on, lead 172800s"
check "the presigner did next week's signature for all $rrsets RRsets before the boundary" \
    test "${inputs:-0}" -ge "$rrsets" -a "${inputs:-0}" = "${done_:-x}"
contains "... with none failed" "$line" "failed 0,"
stop_pdns

# After the boundary: a fresh pdns_server, next week's inputs.
PDNS_FAKETIME=$((B + 600)) start_pdns
"$SIMCTL" "$SIMSTATE" reset
ask "$Z" "$N"
equals "after the boundary and a restart: $N answers, 0 C_Sign at the HSM" "$(sim_count C_Sign)" "0"
inception=$(dig +dnssec +noall +answer -p "$DNS_PORT" @127.0.0.1 "n1.$Z" A | awk '$4 == "RRSIG" { print $10 }')
equals "... the answers carry next week's inception" "$inception" "$(date -u -d "@$((B - 604800))" +%Y%m%d%H%M%S)"
dig +noall +answer -p "$DNS_PORT" @127.0.0.1 "$Z" AXFR > "$T/axfr"
out=$(env TZ=UTC LD_PRELOAD="$FAKETIME_LIB" FAKETIME="@$(date -u -d "@$((B + 900))" '+%Y-%m-%d %H:%M:%S')" \
    ldns-verify-zone "$T/axfr" 2>&1)
contains "... and ldns-verify-zone (clock moved likewise) accepts the zone" "$out" "Zone is verified and complete"
done_testing
