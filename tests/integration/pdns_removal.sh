#!/usr/bin/env bash
# PowerDNS through hsmcache under load while the token goes away (small
# scale of bench-pdns's reliability run): dnsperf asks 150 names already
# signed while the simulator removes the token for 3 s, and a new name is
# asked every 0.5 s. The signed answers keep coming (no SERVFAIL), new
# names fail fast instead of hanging, and signing resumes within 5 s of
# the token's return, with no pdns restart.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
pdns_sim_setup
Z=load.example
add_hsm_zone "$Z" "$MOD" dns '' 300
check "pdns_server starts" start_pdns
ask "$Z" 150
removal_run "$Z" 150 new 3 8 > "$T/removal"
v() { awk -v k="$1" '$1 == k { print $2 }' "$T/removal"; }
check "dnsperf got answers for the signed names throughout ($(v cached_answers))" test "$(v cached_answers)" -gt 150
equals "... none of them SERVFAIL while the token was away" "$(v cached_servfail)" "0"
check "new names failed while the token was away ($(v new_failed) of $(v new_asked))" test "$(v new_failed)" -ge 1
equals "... none was signed while it was away" "$(v new_signed_absent)" "0"
check "... each failed fast, not hanging (slowest $(v new_max_ms) ms)" test "$(v new_max_ms)" -lt 3000
check "signing resumed within 5 s of the token's return ($(v resume_ms) ms), no pdns restart" \
    test "$(v resume_ms)" -ge 0 -a "$(v resume_ms)" -le 5000
check "pdns_server is the same process" kill -0 "$PDNS_PID"
done_testing
