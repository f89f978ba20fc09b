#!/usr/bin/env bash
# A token group's per-member counters (core/group.h) as a user reads them
# through hsmcached: `hsmcache stats` and `--prometheus` as a [client]
# whose keys cover the group show a line (and series) per member with the
# operations routed to it; a client whose keys cover only another token
# sees no member of the group (report.c scopes them with their group).
# Routing, failover and the refusals are checked by tests/unit/test_group.c.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
HC_AGENT=1
agent_user hc-grp-a hc-grp-sock
agent_user hc-grp-b hc-grp-sock
chmod 711 "$T"
for l in ga gb gx; do make_token $l; done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/k.pem" 2>/dev/null
for t in ga gb gx; do
    softhsm2-util --import "$T/k.pem" --token $t --label zsk --id 0a0b --pin "$PIN" >/dev/null
done
write_config ga softhsm2 ga "[token gb]" "module = softhsm2" "label = gb" \
    "[token gx]" "module = softhsm2" "label = gx" "[token ha]" "members = ga, gb" \
    "[agent]" "socket-group = hc-grp-sock" \
    "[client grp]" "uid = hc-grp-a" "keys = pkcs11:token=ha" "operations = sign" \
    "[client other]" "uid = hc-grp-b" "keys = pkcs11:token=gx" "operations = sign" \
    "[pkcs11]" "signature-cache = no"
chmod 644 "$HSMCACHE_CONF"
for t in ga gb gx; do store_pin $t; done
agent_start   # again: the PIN files are there now

# Two signatures through the agent, one at a time: one on each member.
key=$(agent_raw root find ha zsk)
key=${key##* }
equals "the group's client signs through the agent" "$(agent_raw hc-grp-a sign "$key")" \
    "rv=0x0, 64 bytes: "
equals "... and again" "$(agent_raw hc-grp-a sign "$key")" "rv=0x0, 64 bytes: "

stats=$(agent_as hc-grp-a "$HC" stats 2>&1)
contains "the group's client sees member ga's line" "$stats" \
    "member ga of group ha: up, in flight 0, signs 1,"
contains "... and member gb's" "$stats" "member gb of group ha: up, in flight 0, signs 1,"
lacks "... but not the members' own token lines" "$stats" "token ga:"
prom=$(agent_as hc-grp-a "$HC" stats --prometheus 2>&1)
contains "Prometheus: the members' series" "$prom" \
    'hsmcache_member_signs_total{group="ha",member="gb"} 1'
other=$(agent_as hc-grp-b "$HC" stats 2>&1)
contains "another token's client sees its token" "$other" "token gx:"
lacks "... and no member of the group" "$other" "of group ha"
done_testing
