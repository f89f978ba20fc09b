# tests/lib/fleet.sh: a fleet of pdns_server nodes over one simulated
# card and the shared signature tier ([shared-cache]) on a MariaDB
# primary and a replica, for tests/integration/shared_*.sh and
# tests/bench/fleet.sh. Source after env.sh, pdns-local.sh and
# pdns-load.sh, and after pdns_sim_setup (which starts the zones'
# MariaDB: a third server, so that stopping the tier's stops nothing else).

# db_start NAME PORT SERVER-ID EXTRA...: a mariadbd on $T/NAME.sock and
# 127.0.0.1:PORT; its pid in DB_PID (and HC_PIDS).
db_start() {
    local name=$1 port=$2 id=$3
    shift 3
    mkdir -p "$T/$name"
    mariadb-install-db --no-defaults --datadir="$T/$name" --user=root \
        --auth-root-authentication-method=normal > "$T/$name-install.log" 2>&1 || return 1
    mariadbd --no-defaults --datadir="$T/$name" --socket="$T/$name.sock" --port="$port" \
        --bind-address=127.0.0.1 --skip-name-resolve --server-id="$id" --user=root \
        --pid-file="$T/$name.pid" --log-error="$T/$name.err" "$@" &
    DB_PID=$!
    HC_PIDS="$HC_PIDS $DB_PID"
    for _ in $(seq 100); do
        mariadb --no-defaults -S "$T/$name.sock" -u root -e 'SELECT 1' > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
dbp() { mariadb --no-defaults -S "$T/primary.sock" -u root -N --raw "$@"; }
dbr() { mariadb --no-defaults -S "$T/replica.sock" -u root -N --raw "$@"; }

# fleet_db_setup: the primary (binary log) on 127.0.0.1:$DBPORT, its
# replica on DBPORT + 1 replicating it, database `fleet` with user
# hsmcache@localhost (a random password in $T/shared.pw, mode 0600, and
# $DBPW). The pids in DBP_PID and DBR_PID. Stops the test (one not ok)
# when a server does not start.
fleet_db_setup() {
    DBPORT=$((DNS_PORT + 2))
    db_start primary "$DBPORT" 1 --log-bin=primary-bin --binlog-format=ROW || {
        not_ok "the primary did not start: $(tail -3 "$T/primary.err")"; done_testing; exit 1; }
    DBP_PID=$DB_PID
    db_start replica $((DBPORT + 1)) 2 --read-only --relay-log=replica-relay || {
        not_ok "the replica did not start: $(tail -3 "$T/replica.err")"; done_testing; exit 1; }
    DBR_PID=$DB_PID
    dbp -e "CREATE USER repl@'127.0.0.1' IDENTIFIED BY 'repl-pw';
            GRANT REPLICATION SLAVE ON *.* TO repl@'127.0.0.1'"
    local bin pos
    read -r bin pos < <(dbp -e "SHOW MASTER STATUS" | awk '{ print $1, $2 }')
    dbr -e "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$DBPORT, MASTER_USER='repl',
            MASTER_PASSWORD='repl-pw', MASTER_LOG_FILE='$bin', MASTER_LOG_POS=$pos,
            MASTER_USE_GTID=no; START SLAVE"
    DBPW=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    dbp -e "CREATE DATABASE fleet; CREATE USER hsmcache@localhost IDENTIFIED BY '$DBPW';
            GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON fleet.* TO hsmcache@localhost"
    printf '%s\n' "$DBPW" > "$T/shared.pw"
    chmod 600 "$T/shared.pw"
}

# node_conf NODE EXTRA...: $T/NODE.conf, the test's config with its own
# cache dir $T/cache-NODE and a [shared-cache] section (the primary's
# socket, node NODE); EXTRA lines are appended to that section.
node_conf() {
    sed "s|^cache-dir = .*|cache-dir = $T/cache-$1|" "$HSMCACHE_CONF" > "$T/$1.conf"
    printf '[shared-cache]\nsocket = %s\ndatabase = fleet\nuser = hsmcache\npassword-file = %s\nnode = %s\n' \
        "$T/primary.sock" "$T/shared.pw" "$1" >> "$T/$1.conf"
    local line
    for line in "${@:2}"; do printf '%s\n' "$line" >> "$T/$1.conf"; done
}

# node_start NODE PORT: node_launch, then node_wait.
# node_launch NODE PORT: a pdns_server of its own (config dir $T/NODE:
# the test's pdns.conf on PORT; hsmcache config $T/NODE.conf; log
# $T/pdns-NODE.log), its clock moved by $NODE_FAKETIME seconds when set
# (libfaketime, relative: every node started with the same offset keeps
# the same clock). Its pid in NODE_PID[NODE] (and HC_PIDS), its port in
# NODE_PORT[NODE].
# node_wait NODE: until it answers (version.bind); fails after 10 s.
declare -A NODE_PID NODE_PORT
node_launch() {
    local node=$1 port=$2
    mkdir -p "$T/$node"
    sed -e "s/^local-port=.*/local-port=$port/" -e "s|^socket-dir=.*|socket-dir=$T/$node|" \
        "$T/pdns.conf" > "$T/$node/pdns.conf"
    if [ -n "${NODE_FAKETIME:-}" ]; then
        env TZ=UTC LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD }$FAKETIME_LIB" FAKETIME="+$NODE_FAKETIME" \
            HSMCACHE_CONF="$T/$node.conf" pdns_server --config-dir="$T/$node" >> "$T/pdns-$node.log" 2>&1 &
    else
        HSMCACHE_CONF=$T/$node.conf pdns_server --config-dir="$T/$node" >> "$T/pdns-$node.log" 2>&1 &
    fi
    NODE_PID[$node]=$!
    NODE_PORT[$node]=$port
    HC_PIDS="$HC_PIDS ${NODE_PID[$node]}"
}
node_wait() {
    for _ in $(seq 100); do
        dig +short +time=1 +tries=1 -p "${NODE_PORT[$1]}" @127.0.0.1 version.bind CH TXT > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
node_start() { node_launch "$1" "$2" && node_wait "$1"; }
# node_stop NODE [SIGNAL]: SIGTERM (or SIGNAL), and until it is gone (a
# node started in a subshell is no child to wait for: polled, 10 s).
node_stop() {
    local pid=${NODE_PID[$1]}
    kill -"${2:-TERM}" "$pid" 2> /dev/null || return 0
    wait "$pid" 2> /dev/null || true
    for _ in $(seq 200); do kill -0 "$pid" 2> /dev/null || return 0; sleep 0.05; done
    return 0
}
# node_stats NODE: the node's `hsmcache stats`.
node_stats() { "$HC" -c "$T/$1.conf" stats; }

             $4 == "RRSIG" && $5 == "A" { sig = 1 }
             END { if (st == "NOERROR," && sig) n++; print n + 0 }' "$3")
    echo "$n"
    [ "$n" -eq "$want" ]
}
