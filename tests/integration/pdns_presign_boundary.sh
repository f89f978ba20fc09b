#!/usr/bin/env bash
# The presigner across PowerDNS's weekly boundary, with pdns_server's
# clock moved by libfaketime: started an hour before Thursday 00:00 UTC,
# `pdns-hsm warm` has pdns answer every RRset of the zone once (our front
# records the signing inputs); the presigner signs next week's inputs in
# the background; pdns is restarted after the boundary, when PowerDNS's
# own cache is empty and every input has new inception/expiration dates:
# all N answers then come NOERROR with an RRSIG and no C_Sign at the
# simulator (while one name the warm pass never asked costs that same
# server one C_Sign: the control), carry next week's inception, and
# validate (ldns-verify-zone over the very RRSIGs the answers carried,
# and over the AXFR, at the moved time). The restart in the middle, the
# one-presigner lock and the rest run on the real clock, under ASan too,
# in pdns_presign.sh.
# no-sanitizer: the test needs libfaketime preloaded in pdns_server; with libasan preloaded too, processes hang (seen with ldns-verify-zone)
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
pdns_sim_setup "[pdns]" "presign-interval = 1s" "presign-rate = 50"
N=${PRESIGN_NAMES:-40}
Z=pre.example
add_hsm_zone "$Z" "$MOD" dns '' "$N"

now=$(date +%s)
B=$(( now - now % 604800 + 604800 ))          # the next Thursday 00:00 UTC
PDNS_FAKETIME=$((B - 3600)) must_start_pdns
"$SIMCTL" "$SIMSTATE" reset
out=$("$BUILD/pdns-hsm" --config-dir "$T" warm "$Z" 2>&1)
rrsets=$(mysql_q -N -e "SELECT COUNT(DISTINCT name, type) FROM records WHERE type <> '' AND auth = 1")
contains "pdns-hsm warm asks for every RRset of the zone" "$out" "warm $Z: $rrsets/$rrsets RRsets"
check "... each answer was signed (one C_Sign per RRset at least)" test "$(sim_count C_Sign)" -ge "$rrsets"
wait_presigned "$rrsets" "$rrsets"
check "the presigner did next week's signature for all $rrsets RRsets before the boundary ($line)" \
    test "${inputs:-0}" -ge "$rrsets" -a "${inputs:-0}" = "${done_:-x}"
contains "... with none failed" "$line" "failed 0,"
stop_pdns
# The control: a name the warm pass never asked, so nothing presigned it.
pdnsutil_t add-record "$Z" "n$((N + 1))" A 3600 192.0.2.1 > /dev/null 2>&1
pdnsutil_t rectify-zone "$Z" > /dev/null 2>&1

# After the boundary: a fresh pdns_server, next week's inputs.
PDNS_FAKETIME=$((B + 600)) must_start_pdns
"$SIMCTL" "$SIMSTATE" reset
n=$(ask "$Z" "$N")
equals "after the boundary and a restart: $N answers with an RRSIG, 0 C_Sign at the HSM" \
    "$n answers, $(sim_count C_Sign) C_Sign" "$N answers, 0 C_Sign"
signed_a "$(dig +dnssec +noall +answer -p "$DNS_PORT" @127.0.0.1 "n$((N + 1)).$Z" A)"
equals "... while a name never warmed costs this pdns_server 1 C_Sign (the control)" \
    "signed $? C_Sign $(sim_count C_Sign)" "signed 0 C_Sign 1"
inception=$(awk '$4 == "RRSIG" && $5 == "A" { print $10; exit }' "$T/answers")
equals "... the answers carry next week's inception" "$inception" "$(date -u -d "@$((B - 604800))" +%Y%m%d%H%M%S)"
equals "... and ldns-verify-zone (at the moved time) accepts the $N RRSIGs they carried" \
    "$(answers_verify "$Z" "$(date -u -d "@$((B + 900))" +%Y%m%d%H%M%S)")" "$N Zone is verified and complete"
dig +noall +answer -p "$DNS_PORT" @127.0.0.1 "$Z" AXFR > "$T/axfr"
out=$(env TZ=UTC LD_PRELOAD="$FAKETIME_LIB" FAKETIME="@$(date -u -d "@$((B + 900))" '+%Y-%m-%d %H:%M:%S')" \
    ldns-verify-zone "$T/axfr" 2>&1)
contains "... and so does it the whole zone by AXFR (clock moved likewise)" "$out" "Zone is verified and complete"
done_testing
