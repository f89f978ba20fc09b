# scripts/lib/pdns-local.sh: a private MariaDB and pdns_server, for the
# demo and the tests, under the directory $T, on a unix socket and
# 127.0.0.1:$DNS_PORT. Every process started here is added to $HC_PIDS and
# every module file to $HC_MODULE_FILES, for the caller to clean up.

# The package's own copy (not the one under /usr/share/doc, which minimal
# images may drop).
PDNS_SCHEMA=/usr/share/pdns-backend-mysql/schema/schema.mysql.sql
DNS_PORT=${DNS_PORT:-$((20000 + ($$ * 7) % 20000))}

mysql_q() { mariadb --no-defaults -S "$T/mysql.sock" -u root pdns "$@"; }

start_mariadb() {
    mkdir -p "$T/db"
    mariadb-install-db --no-defaults --datadir="$T/db" --user=root \
        --auth-root-authentication-method=normal > "$T/mysql-install.log" 2>&1 || return 1
    mariadbd --no-defaults --datadir="$T/db" --socket="$T/mysql.sock" \
        --skip-networking --user=root --pid-file="$T/mysqld.pid" \
        --log-error="$T/mysqld.err" &
    HC_PIDS="${HC_PIDS:-} $!"
    for _ in $(seq 100); do [ -S "$T/mysql.sock" ] && break; sleep 0.1; done
    mariadb --no-defaults -S "$T/mysql.sock" -u root -e "CREATE DATABASE pdns" &&
        mysql_q < "$PDNS_SCHEMA"
}

# write_pdns_conf: pdns.conf in $T for pdnsutil (--config-dir) and pdns_server.
write_pdns_conf() {
    cat > "$T/pdns.conf" <<EOC
launch=gmysql
gmysql-socket=$T/mysql.sock
gmysql-user=root
gmysql-dbname=pdns
gmysql-dnssec=yes
local-address=127.0.0.1
local-port=$DNS_PORT
socket-dir=$T
guardian=no
daemon=no
disable-syslog=yes
loglevel=6
EOC
}

pdnsutil_t() { pdnsutil --config-dir="$T" "$@"; }

# add_names ZONE N: A records n1..nN in one SQL statement, then rectify.
add_names() {
    mysql_q -e "INSERT INTO records (domain_id, name, type, content, ttl, auth)
        SELECT d.id, CONCAT('n', s.i, '.', d.name), 'A', '192.0.2.1', 3600, 1
        FROM domains d, (SELECT seq AS i FROM seq_1_to_$2) s WHERE d.name = '$1'"
    pdnsutil_t rectify-zone "$1" > /dev/null 2>&1
}

# add_hsm_zone ZONE ENGINE SLOT PIN N: a zone with N names signed by an
# ECDSA P-256 KSK and ZSK made in the token ($HC keygen on token "dns",
# labels ZONE-ksk and ZONE-zsk) and assigned with `pdnsutil hsm assign`
# to ENGINE/SLOT (PIN '' for hsmcache rows).
add_hsm_zone() {
    local role
    pdnsutil_t create-zone "$1" "ns1.$1" > /dev/null 2>&1 || return 1
    for role in ksk zsk; do
        "$HC" keygen dns "$1-$role" ecdsa-p256 > /dev/null &&
            pdnsutil_t hsm assign "$1" ecdsa256 "$role" "$2" "$3" "$4" "$1-$role" > /dev/null 2>&1 ||
            return 1
    done
    add_names "$1" "$5"
}

# ask ZONE N: one DO query for each of n1..nN, in one dig process.
# Prints how many answers were NOERROR with an RRSIG over the A record
# (the answers are kept in $T/answers for checks that read them) and
# fails when that is fewer than N: a query lost or refused is no answer.
ask() {
    local i
    for i in $(seq "$2"); do echo "n$i.$1 A +dnssec"; done > "$T/queries"
    ask_file "$DNS_PORT" "$T/queries" "$T/answers"
}

# ask_file PORT QUERYFILE OUT: the queries of QUERYFILE (dig -f lines,
# "NAME A +dnssec") at 127.0.0.1:PORT in one dig process, the answers in
# OUT. Prints how many came NOERROR with an RRSIG over the A record (a
# query lost or refused is no answer); fails when that is fewer than the
# queries. Any files and any port, so several nodes can be asked at once.
ask_file() {
    local want n
    want=$(grep -c . "$2")
    dig -p "$1" @127.0.0.1 +noall +comments +answer +tries=1 +time=5 -f "$2" > "$3" 2>&1
    n=$(awk '/->>HEADER<<-/ { if (st == "NOERROR," && sig) n++; st = $6; sig = 0 }
             $4 == "RRSIG" && $5 == "A" { sig = 1 }
             END { if (st == "NOERROR," && sig) n++; print n + 0 }' "$3")
    echo "$n"
    [ "$n" -eq "$want" ]
}

# With PDNS_FAKETIME=EPOCH set, pdns_server's clock starts at EPOCH (UTC)
# and runs on (libfaketime), as for a server started at that moment.
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
start_pdns() {
    if [ -n "${PDNS_FAKETIME:-}" ]; then
        env TZ=UTC LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD }$FAKETIME_LIB" \
            FAKETIME="@$(date -u -d "@$PDNS_FAKETIME" '+%Y-%m-%d %H:%M:%S')" \
            pdns_server --config-dir="$T" > "$T/pdns.log" 2>&1 &
    else
        pdns_server --config-dir="$T" > "$T/pdns.log" 2>&1 &
    fi
    PDNS_PID=$!
    HC_PIDS="${HC_PIDS:-} $PDNS_PID"
    for _ in $(seq 100); do
        dig +short +time=1 +tries=1 -p "$DNS_PORT" @127.0.0.1 version.bind CH TXT > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# Stops pdns_server; succeeds even though its exit status is SIGTERM's.
stop_pdns() { kill "$PDNS_PID" 2>/dev/null || true; wait "$PDNS_PID" 2>/dev/null || true; }

# register_module NAME LIB: a p11-kit module file, as PowerDNS resolves
# Engine: by p11-kit name (system files only: it runs as root here).
# Each file carries its owner's pid: PowerDNS loads every registered
# module, so one left by a killed run (pointing at a deleted temp dir)
# would break every later one; files whose owner is gone are removed.
register_module() {
    local f pid
    mkdir -p /etc/pkcs11/modules
    for f in /etc/pkcs11/modules/*.module; do
        [ -e "$f" ] || continue
        pid=$(sed -n 's/^# hsmcache test or demo, pid \([0-9]*\)$/\1/p' "$f")
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then rm -f "$f"; fi
    done
    printf '# hsmcache test or demo, pid %s\nmodule: %s\n' "$$" "$2" > "/etc/pkcs11/modules/$1.module"
    HC_MODULE_FILES="${HC_MODULE_FILES:-} /etc/pkcs11/modules/$1.module"
}
