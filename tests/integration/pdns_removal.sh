#!/usr/bin/env bash
# PowerDNS through hsmcache under load while the token goes away (small
# scale of bench-pdns's reliability run): dnsperf asks 150 names already
# signed while the simulator removes the token for 3 s, and a new name is
# asked every 0.5 s (every 0.1 s after the token's return). Every dnsperf
# query is answered (none lost), NOERROR, in every second of the outage;
# a dig sample of the signed names during the outage carries RRSIGs; new
# names are refused by the server (SERVFAIL, not a lost query) fast
# instead of hanging; signing resumes within README's 2 s of the token's
# return, with no pdns restart. Then the same after a pdns restart, whose
# own signature cache starts empty: a second zone's 6000 signed names,
# which dnsperf (2000 q/s, the token leaving 1 s in) first asks mostly
# while the token is away, are all answered from hsmcache's cache (the
# restarted pdns asked for one name first, which loads its keys; the
# mechanism checks of each C_SignInit are answered without the token,
# even after a new name's failure has reset the token's pool).
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
pdns_sim_setup
Z=load.example
Z2=restart.example
add_hsm_zone "$Z" "$MOD" dns '' 300
add_hsm_zone "$Z2" "$MOD" dns '' 6200
must_start_pdns
n=$(ask "$Z" 150)
equals "150 names signed before the outage (NOERROR with an RRSIG)" "$n" "150"
n=$(ask "$Z2" 6000)
equals "... and 6000 of the second zone" "$n" "6000"
removal_run "$Z" 150 3 8 > "$T/removal"
removal_checks "the token" 3 3000 2000

stop_pdns
must_start_pdns
n=$(ask "$Z2" 1)
equals "a restarted pdns: one signed name first (it loads the keys)" "$n" "1"
removal_run "$Z2" 6000 3 8 > "$T/removal"
removal_checks "the token, after a pdns restart" 3 3000 2000
done_testing
