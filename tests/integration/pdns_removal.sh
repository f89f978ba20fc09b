#!/usr/bin/env bash
# PowerDNS through hsmcache under load while the token goes away (small
# scale of bench-pdns's reliability run): dnsperf asks 150 names already
# signed while the simulator removes the token for 3 s, and a new name is
# asked every 0.5 s (every 0.1 s after the token's return). Every dnsperf
# query is answered (none lost), NOERROR, in every second of the outage;
# a dig sample of the signed names during the outage carries RRSIGs; new
# names are refused by the server (SERVFAIL, not a lost query) fast
# instead of hanging; signing resumes within README's 2 s of the token's
# return, with no pdns restart.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
pdns_sim_setup
Z=load.example
add_hsm_zone "$Z" "$MOD" dns '' 300
must_start_pdns
n=$(ask "$Z" 150)
equals "150 names signed before the outage (NOERROR with an RRSIG)" "$n" "150"
removal_run "$Z" 150 3 8 > "$T/removal"
removal_checks "the token" 3 3000 2000
done_testing
