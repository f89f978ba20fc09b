#!/usr/bin/env bash
# The fleet's shared signature tier ([shared-cache], issue 19) with two
# pdns_server nodes over one simulated card:
# - a MariaDB primary and a replica (two mariadbd on private sockets and
#   127.0.0.1 ports, replication set up here) hold the shared table, made
#   by `hsmcache shared-cache init`; the zones live on a third MariaDB, as
#   in the other PowerDNS tests, so that stopping the tier's databases
#   stops nothing else;
# - node A (its own cache dir, reads and writes on the primary) answers N
#   names: N C_Sign, the signatures reach the replica;
# - node B (its own cache dir, writes to the primary, reads the replica)
#   answers the same N names with 0 C_Sign, its lookups counted on the
#   replica and not on the primary, every answer's RRSIG accepted by
#   ldns-verify-zone and delv;
# - a row forged on the primary (another RRset's signature by the same
#   key) is never served: node A's answer carries a signature the card
#   makes, counted as forged, and A's signature replaces the row;
# - both tier databases hung (SIGSTOP) under dnsperf load on a restarted
#   node B: 0 SERVFAIL for the names in its local tiers, p99 within 50 ms
#   of the same pass without the outage, new names signed by the card,
#   lookups skipping the tier; after SIGCONT it reads the tier again by
#   itself;
# - the database password is nowhere in the logs, argv or environment.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/dns.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
. "$(dirname "$0")/../lib/fleet.sh"
N=${SHARED_NAMES:-1000}
Z=fleet.example
pdns_sim_setup
trap 'kill -CONT $DBP_PID $DBR_PID 2> /dev/null; hc_cleanup' EXIT

# --- the tier's databases: a primary and a replica --------------------
fleet_db_setup

# --- the nodes' configs -------------------------------------------------
node_conf node-a "purge-interval = 1s"
node_conf node-b "read-socket = $T/replica.sock" "purge-interval = 1s"
out=$("$HC" -c "$T/node-a.conf" shared-cache init 2>&1)
contains "hsmcache shared-cache init creates the table on the primary" "$out" "table fleet.hsmcache_signatures is there"
for _ in $(seq 50); do
    st=$("$HC" -c "$T/node-b.conf" shared-cache status 2>&1) && break
    sleep 0.1
done
contains "... and replication brings it to the replica, which node B reads (shared-cache status)" \
    "$st" "socket $T/replica.sock: answers, 0 rows"

out=$("$HC" -c "$T/node-b.conf" doctor 2>&1)
contains "hsmcache doctor: node B's primary answers" "$out" "[ok  ] shared cache: socket $T/primary.sock answers, 0 rows (primary, writes)"
contains "... and so does its replica" "$out" "[ok  ] shared cache: socket $T/replica.sock answers, 0 rows (lookups)"

# tls: the test's servers have no TLS, so a config that requires it must
# not connect (over TCP) rather than fall back to plain text; with tls = no
# the same connection gets as far as the login (the control). (tls = yes,
# TLS unchecked, is refused by the config: libmariadb logged in in plain
# text with it.)
for tls in verify no; do
    node_conf "tls-$tls" "tls = $tls"
    sed -i "s|^socket = .*|host = 127.0.0.1\nport = $DBPORT|" "$T/tls-$tls.conf"
done
expect_fail "tls = verify over TCP to a server without TLS: refused before the login" \
    "SSL is required" "$HC" -c "$T/tls-verify.conf" shared-cache status
expect_fail "... while tls = no gets to the login (hsmcache@localhost is not 127.0.0.1: the control)" \
    "Access denied for user 'hsmcache'@'127.0.0.1'" "$HC" -c "$T/tls-no.conf" shared-cache status

add_hsm_zone "$Z" "$MOD" dns '' $((N + 10))
# Node B: its own pdns.conf (port, control socket), the same zone data.
PORT_B=$((DNS_PORT + 1))
start_b() { node_start node-b "$PORT_B" && PDNS_B=${NODE_PID[node-b]}; }
stop_b() { node_stop node-b; }
stats_of() { "$HC" -c "$T/$1.conf" stats | grep '^shared-cache:'; }
stat_field() { echo "$1" | sed -n "s/.*[ ,;]$2 \([0-9]*\).*/\1/p"; }
rows() { "$1" -e "SELECT COUNT(*) FROM fleet.hsmcache_signatures"; }
wait_rows() { # DB-FUNCTION N
    for _ in $(seq 100); do [ "$(rows "$1")" -ge "$2" ] && return 0; sleep 0.1; done
    return 1
}
selects() { "$1" -e "SHOW GLOBAL STATUS LIKE 'Com_select'" | awk '{ print $2 }'; }

# --- node A signs, the tier gets the signatures -------------------------
HSMCACHE_CONF=$T/node-a.conf must_start_pdns
"$SIMCTL" "$SIMSTATE" reset
n=$(ask "$Z" "$N")
equals "node A: $N answers with an RRSIG, $N C_Sign at the card (the control)" \
    "$n answers, $(sim_count C_Sign) C_Sign" "$N answers, $N C_Sign"
wait_rows dbp "$N"
equals "... written to the shared table by node A's writer, asynchronously ($(stats_of node-a))" \
    "$(rows dbp) rows, node $(dbp -e 'SELECT DISTINCT node FROM fleet.hsmcache_signatures')" "$N rows, node node-a"
check "... and replicated to the replica" wait_rows dbr "$N"

# --- node B: the same names, no card signature, reads on the replica ---
sel_p=$(selects dbp) sel_r=$(selects dbr)
start_b || { not_ok "node B did not start: $(tail -3 "$T/pdns-node-b.log")"; done_testing; exit 1; }
"$SIMCTL" "$SIMSTATE" reset
n=$(DNS_PORT=$PORT_B ask "$Z" "$N")
equals "node B: the same $N names answered with an RRSIG and 0 C_Sign at the card" \
    "$n answers, $(sim_count C_Sign) C_Sign" "$N answers, 0 C_Sign"
sb=$(stats_of node-b)
equals "... each a shared row verified with the public key (stats: $sb)" \
    "hits $(stat_field "$sb" hits), forged $(stat_field "$sb" forged)" "hits $N, forged 0"
contains "... which hsmcache stats --prometheus shows too" \
    "$("$HC" -c "$T/node-b.conf" stats --prometheus)" "hsmcache_shared_total{event=\"hits\"} $N"
dp=$(( $(selects dbp) - sel_p )) dr=$(( $(selects dbr) - sel_r ))
check "... its lookups went to the replica ($dr SELECTs there, $dp on the primary)" \
    test "$dr" -ge "$N" -a "$dp" -lt 10
equals "... and ldns-verify-zone accepts the $N RRSIGs node B served" \
    "$(DNS_PORT=$PORT_B answers_verify "$Z")" "$N Zone is verified and complete"
ksk_anchor "$Z" "$PORT_B" > "$T/anchor"
contains "... delv validates one of them with the KSK as trust anchor" \
    "$(delv -a "$T/anchor" +root="$Z" -p "$PORT_B" @127.0.0.1 "n7.$Z" A 2>&1)" "; fully validated"

# --- a forged row is never served ----------------------------------------
# Node B's AXFR for ldns-verify-zone had it sign every RRset of the zone,
# n$((N + 1)) too, which node A never answered: that row is replaced on
# the primary by another row's signature (a valid signature by the same
# key over other data: a replayed row), and node A, reading the primary,
# is asked for the name.
X=$((N + 1))
rrsig_hex() { dig +dnssec +noall +answer +nomultiline -p "$1" @127.0.0.1 "$2" A |
              awk '$4 == "RRSIG" { s = ""; for (i = 13; i <= NF; i++) s = s $i; print s }' |
              base64 -d 2> /dev/null | od -An -v -tx1 | tr -d ' \n'; }
row_of() { dbp -e "SELECT node, HEX(signature) FROM fleet.hsmcache_signatures WHERE cache_key = X'$1'" |
           tr 'A-F' 'a-f'; }
key_of() { # NAME: the row whose signature node B served for NAME
    dbp -e "SELECT HEX(cache_key) FROM fleet.hsmcache_signatures WHERE signature = X'${1:-00}'"; }
sig_b=$(rrsig_hex "$PORT_B" "n$X.$Z")
key=$(key_of "$sig_b")
equals "the row of n$X holds the signature node B served for it (the comparison's control)" \
    "$(echo "$key" | grep -c .) $(row_of "$key")" "1 node-b	$sig_b"
other=$(dbp -e "SELECT HEX(cache_key) FROM fleet.hsmcache_signatures WHERE cache_key <> X'$key' LIMIT 1")
dbp -e "UPDATE fleet.hsmcache_signatures SET signature = (SELECT signature FROM
        (SELECT signature FROM fleet.hsmcache_signatures WHERE cache_key = X'$other') o)
        WHERE cache_key = X'$key'"
forged=$(row_of "$key" | cut -f2)
"$SIMCTL" "$SIMSTATE" reset
sig_a=$(rrsig_hex "$DNS_PORT" "n$X.$Z")
check "node A answers the name of the forged row with an RRSIG" test -n "$sig_a"
lacks "... which is not the forged row's signature" "$sig_a" "$forged"
sa=$(stats_of node-a)
equals "... the card signed it instead, and the row counts as forged (stats: $sa)" \
    "C_Sign $(sim_count C_Sign), forged $(stat_field "$sa" forged)" "C_Sign 1, forged 1"
ksk_anchor "$Z" "$DNS_PORT" > "$T/anchor-a"
contains "... the answer validates with delv" \
    "$(delv -a "$T/anchor-a" +root="$Z" -p "$DNS_PORT" @127.0.0.1 "n$X.$Z" A 2>&1)" "; fully validated"
contains "... node A's log names the node the forged row claims" "$(cat "$T/pdns.log")" \
    "a row written as node 'node-b' does not verify"
for _ in $(seq 50); do
    now=$(row_of "$key")
    [ "$now" = "node-a	$sig_a" ] && break
    sleep 0.1
done
equals "... and node A's signature replaced the forged row" "$now" "node-a	$sig_a"
# Rows that are not forged but not usable either: expired, or naming a
# node no config could (the column is the writer's whitelisted name).
k2=$(key_of "$(rrsig_hex "$PORT_B" "n$((N + 2)).$Z")")
k3=$(key_of "$(rrsig_hex "$PORT_B" "n$((N + 3)).$Z")")
dbp -e "UPDATE fleet.hsmcache_signatures SET expires = UNIX_TIMESTAMP() - 1 WHERE cache_key = X'$k2';
        UPDATE fleet.hsmcache_signatures SET node = 'no such/node' WHERE cache_key = X'$k3'"
"$SIMCTL" "$SIMSTATE" reset
before=$(stat_field "$(stats_of node-a)" misses)
ask_one() { signed_a "$(dig +dnssec +noall +answer -p "$DNS_PORT" @127.0.0.1 "$1" A)" && echo signed; }
equals "an expired row and one naming an impossible node are not used: node A's card signs both" \
    "$(ask_one "n$((N + 2)).$Z") $(ask_one "n$((N + 3)).$Z") C_Sign $(sim_count C_Sign)" "signed signed C_Sign 2"
equals "... each counted a miss, not a hit or a forgery" \
    "$(( $(stat_field "$(stats_of node-a)" misses) - before )) $(stat_field "$(stats_of node-a)" forged)" "2 1"

# --- the tier's databases hung under load --------------------------------
# A restarted node B (PowerDNS's own signature cache empty) answers the
# names of its local tiers; first a pass with the databases up (the p99
# to compare with), then one in which both hang 1 s in, for 4 s.
query_file "$Z" 1 "$N" "$T/known.q"
# Names no node has signed (the AXFR above signed every other one).
mysql_q -e "INSERT INTO records (domain_id, name, type, content, ttl, auth)
    SELECT d.id, CONCAT('new', s.seq, '.', d.name), 'A', '192.0.2.2', 3600, 1
    FROM domains d, seq_1_to_5 s WHERE d.name = '$Z'"
pdnsutil_t rectify-zone "$Z" > /dev/null 2>&1
stop_b; start_b
DNS_PORT=$PORT_B perf_pass "$T/base.perf" "$T/known.q" -l 4 -Q 1500
stop_b; start_b
DNS_PORT=$PORT_B perf_pass "$T/outage.perf" "$T/known.q" -l 5 -Q 1500 &
perf=$!
sleep 1
kill -STOP "$DBP_PID" "$DBR_PID"
"$SIMCTL" "$SIMSTATE" reset
new_ok=0 slow=0
for i in 1 2 3 4 5; do
    t0=$(date +%s%3N)
    signed_a "$(dig +dnssec +noall +answer +time=3 +tries=1 -p "$PORT_B" @127.0.0.1 "new$i.$Z" A)" &&
        new_ok=$((new_ok + 1))
    ms=$(( $(date +%s%3N) - t0 ))
    [ "$ms" -gt "$slow" ] && slow=$ms
    sleep 0.3
done
sb=$(stats_of node-b)
wait "$perf"
kill -CONT "$DBP_PID" "$DBR_PID"
pv() { perf_get "$T/$1.perf" "$2"; }
equals "databases hung under dnsperf: names in node B's local tiers all answered ($(pv outage completed) of $(pv outage sent))" \
    "lost $(pv outage lost), SERVFAIL $(pv outage servfail), other $(pv outage other_rcodes), parsed $(pv outage parse_ok)" \
    "lost 0, SERVFAIL 0, other -, parsed 1"
# Latencies mean nothing under a sanitizer (pdns_server runs instrumented).
if [ -z "${HC_SANITIZER:-}" ]; then
    check "... p99 $(pv outage p99_ms) ms, within 50 ms of the pass without the outage ($(pv base p99_ms) ms)" \
        awk -v a="$(pv outage p99_ms)" -v b="$(pv base p99_ms)" 'BEGIN { exit !(a <= b + 50) }'
fi
equals "... new names meanwhile signed by the card" "$new_ok signed, C_Sign $(sim_count C_Sign)" "5 signed, C_Sign 5"
[ -z "${HC_SANITIZER:-}" ] &&
    check "... none waiting on the hung database (slowest $slow ms, limit 1000)" test "$slow" -lt 1000
check "... lookups skipped the tier while it hung (breaker open: $sb)" \
    test "$(stat_field "$sb" skipping)" = 1 -a "$(stat_field "$sb" skipped)" -ge 1
for _ in $(seq 100); do
    sb=$(stats_of node-b)
    [ "$(stat_field "$sb" reading)" = 1 ] && break
    sleep 0.1
done
equals "... and after the databases resume node B reads the tier again by itself ($sb)" \
    "reading $(stat_field "$sb" reading), skipping $(stat_field "$sb" skipping)" "reading 1, skipping 0"
# node B started 4 times; its tier failed once: one "answers again"
# warning (a process's first connection is news, not a recovery).
equals "... its log warns once that the tier answers again, not at each start" \
    "$(grep -c 'answers again; lookups use' "$T/pdns-node-b.log")" "1"

# --- the password stays a secret -----------------------------------------
leaks=$(grep -l -- "$DBPW" "$T"/pdns*.log "$T"/*.conf /proc/"$PDNS_PID"/cmdline /proc/"$PDNS_PID"/environ \
        /proc/"$PDNS_B"/cmdline /proc/"$PDNS_B"/environ 2> /dev/null)
equals "the database password is in no log, config, argv or environment (only in its file)" "${leaks:-none}" "none"

# --- expired rows are purged by one node at a time -------------------------
# purge-interval = 1s: each node tries every second, the lease lasts 3 s.
expired() { # K: K expired rows with made-up keys
    dbp fleet -e "INSERT INTO hsmcache_signatures (cache_key, signature, expires, node)
            SELECT CONCAT(UNHEX(SHA2(CONCAT('$RANDOM', seq), 256)), UNHEX(SHA2(seq, 256)),
                          REPEAT(CHAR(0), 8)), X'00', UNIX_TIMESTAMP() - 10, 'old'
            FROM seq_1_to_$1"
}
purged() { stat_field "$(stats_of "$1")" purged; }
wait_live() { for _ in $(seq 100); do [ "$(rows dbp)" = "$1" ] && return 0; sleep 0.1; done; return 1; }
purge_round() { # K: adds K expired rows, waits for the purge; sets live, holder, da, db
    local a0 b0
    live=$(rows dbp) a0=$(purged node-a) b0=$(purged node-b)
    expired "$1"
    wait_live "$live"
    holder=$(dbp -e "SELECT holder FROM fleet.hsmcache_leases WHERE name = 'purge'")
    da=$(( $(purged node-a) - a0 )) db=$(( $(purged node-b) - b0 ))
}
purge_round 1200
equals "1200 expired rows purged within 10 s, the $live live rows kept" \
    "$(dbp -e "SELECT COUNT(*) FROM fleet.hsmcache_signatures WHERE expires < UNIX_TIMESTAMP()") $(rows dbp)" "0 $live"
case $holder in node-a:*) first=node-a ;; node-b:*) first=node-b ;; *) first=none ;; esac
check "... by the lease holder alone (holder $holder; node A purged $da, node B $db)" \
    test "$first" = node-a -a "$da:$db" = "1200:0" -o "$first" = node-b -a "$da:$db" = "0:1200"
# The holder dies (kill -9: no lease given back); the other node takes the
# lease once it expires.
if [ "$first" = node-a ]; then dead=$PDNS_PID; else dead=$PDNS_B; fi
kill -9 "$dead"
wait "$dead" 2> /dev/null
purge_round 600
case $holder in node-a:*) second=node-a ;; node-b:*) second=node-b ;; *) second=none ;; esac
check "the holder killed, the other node takes the lease when it expires and purges ($first -> $holder; node A $da, node B $db)" \
    test "$second" != "$first" -a "$second" != none -a $((da + db)) = 600
stop_b
done_testing
