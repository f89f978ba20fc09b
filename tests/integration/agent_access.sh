#!/usr/bin/env bash
# Who may use hsmcached. The agent runs as root and alone can read the PIN
# file; pdns_server runs as another user (hc-pdns, `setuid=` in pdns.conf)
# and signs through the agent: its answers validate. [client pdns] lists
# only the zone's keys: other keys on the token are invisible to hc-pdns
# and signing with them is refused; key generation, not in its
# operations, is refused. A uid no [client] section lists (hc-other) is
# refused with a message naming the config, and the agent logs each
# refusal. `hsmcache stats` through the agent counts per client.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/dns.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../../scripts/lib/openssl-conf.sh"
hc_setup
HC_AGENT=1
for u in hc-pdns hc-other; do id "$u" > /dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin "$u"; done
getent group hc-clients > /dev/null || groupadd -r hc-clients
usermod -aG hc-clients hc-pdns
usermod -aG hc-clients hc-other
trap 'hc_cleanup; userdel hc-pdns 2>/dev/null; userdel hc-other 2>/dev/null; groupdel hc-clients 2>/dev/null' EXIT
chmod 711 "$T"   # other users reach the config and the socket, nothing else
MOD=hsmcache-test-$$
register_module "$MOD" "$BUILD/hsmcache-pdns.so"
make_token dnstok
Z=acl.example
KEYS="pkcs11:token=dns;object=$Z-ksk, pkcs11:token=dns;object=$Z-zsk"
write_config dns softhsm2 dnstok "[agent]" "socket-group = hc-clients" "socket-mode = 0660" \
    "[client pdns]" "uid = hc-pdns" "keys = $KEYS" "[pdns]" "presign = no"
chmod 644 "$HSMCACHE_CONF"
store_pin dns
as() { local u=$1; shift; runuser -u "$u" -- env HSMCACHE_CONF="$HSMCACHE_CONF" "$@"; }

equals "the PIN file belongs to the agent's user, mode 0600" "$(stat -c '%U %a' "$T/pins/dns")" "root 600"
expect_fail "hc-pdns cannot read the PIN file" "Permission denied" as hc-pdns cat "$T/pins/dns"
equals "the socket is mode 0660, group hc-clients" "$(stat -c '%a %G' "$T/agent.sock")" "660 hc-clients"

start_mariadb || { not_ok "MariaDB did not start: $(tail -3 "$T/mysqld.err")"; exit 1; }
write_pdns_conf
check "zone $Z: keys made in the token and assigned (as root)" add_hsm_zone "$Z" "$MOD" dns '' 20
"$HC" keygen dns other-key ecdsa-p256 > /dev/null
# pdns_server drops to hc-pdns; MariaDB knows that OS user by its socket.
mysql_q -e "CREATE USER 'hc-pdns'@'localhost' IDENTIFIED VIA unix_socket;
            GRANT ALL ON pdns.* TO 'hc-pdns'@'localhost'"
sed -i 's/^gmysql-user=root/gmysql-user=hc-pdns/' "$T/pdns.conf"
printf 'setuid=hc-pdns\nsetgid=hc-clients\n' >> "$T/pdns.conf"
check "pdns_server starts" start_pdns
sleep 0.3
equals "pdns_server runs as hc-pdns" "$(ps -o user= -p "$PDNS_PID" | tr -d ' ')" "hc-pdns"
contains "its answer carries an RRSIG" "$(dig +dnssec +noall +answer -p "$DNS_PORT" @127.0.0.1 n3.$Z A)" "RRSIG	A"
out=$(verify_axfr "$Z" "$DNS_PORT" "$T/$Z.axfr"); st=$?
equals "ldns-verify-zone accepts the zone hc-pdns signed through the agent" "$st:$out" "0:Zone is verified and complete"
stop_pdns

keys=$(as hc-pdns "$HC" keys dns 2>&1)
contains "hc-pdns sees its zone's keys" "$keys" "object=$Z-zsk"
case $keys in *other-key*) not_ok "hc-pdns sees a key outside its [client] keys" ;;
*) ok "... and not the other key on the token" ;; esac
out=$(as hc-pdns "$HC" keygen dns new-key ecdsa-p256 2>&1); st=$?
check "hc-pdns may not generate keys (not in its operations)" test "$st" -ne 0
contains "... the refusal names the operation and the client" "$out" "refused operation 'generate': not in [client pdns] operations"
# Signing with a key outside the list, by its URI, through the provider.
write_openssl_conf "$T/other.cnf" "$BUILD/hsmcache-provider.so"
echo data > "$T/data"
out=$(as hc-pdns env OPENSSL_CONF="$T/other.cnf" openssl pkeyutl -sign -rawin -digest sha256 \
    -inkey "pkcs11:token=dns;object=other-key;type=private" -in "$T/data" -out /dev/null 2>&1); st=$?
check "hc-pdns cannot sign with a key outside its list" test "$st" -ne 0
contains "... the key is not there for it" "$out" "other-key"

out=$(OPENSSL_CONF="$T/other.cnf" openssl pkeyutl -sign -rawin -digest sha256 \
    -inkey "pkcs11:token=dns;object=other-key;type=private" -in "$T/data" -out "$T/other.sig" 2>&1); st=$?
equals "... the agent's own user can (the key works)" "$st" "0"

out=$(as hc-other "$HC" keys dns 2>&1); st=$?
check "hc-other (no [client] section) is refused" test "$st" -ne 0
contains "... with a message naming the uid and the config" "$out" "refused uid $(id -u hc-other): no [client] section in $HSMCACHE_CONF lists it"
contains "the agent logs the refused uid" "$(cat "$T/agent.log")" "refused uid $(id -u hc-other) gid"
contains "the agent logs the refused operation" "$(cat "$T/agent.log")" "client pdns (uid $(id -u hc-pdns)"
stats=$("$HC" stats)
contains "hsmcache stats through the agent counts per client" "$stats" "client pdns: connections"
n=$(echo "$stats" | sed -n 's/^client pdns: .* signatures \([0-9]*\),.*/\1/p')
check "... with the signatures hc-pdns made ($n)" test "${n:-0}" -ge 1
n=$(echo "$stats" | sed -n 's/^client pdns: .* refused \([0-9]*\),.*/\1/p')
check "... and its refusal (generate: $n)" test "${n:-0}" -ge 1
done_testing
