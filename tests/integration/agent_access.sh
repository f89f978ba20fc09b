#!/usr/bin/env bash
# Who may use hsmcached. The agent runs as root and alone can read the PIN
# file; pdns_server runs as another user (hc-pdns, `setuid=` in pdns.conf)
# and signs through the agent: its answers validate. [client pdns] lists
# only the zone's keys: other keys on the token are invisible to hc-pdns
# and signing with them is refused (openssl finds no such key and writes
# no signature, while hc-pdns signs with its own key and root with that
# one; asked with the key's handle, the agent itself refuses, logs and
# counts it); key generation, not in its operations, is refused. A uid no
# [client] section lists (hc-other) is refused with a message naming the
# config, and the agent logs each refusal. `hsmcache stats` through the
# agent counts per client.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/dns.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../../scripts/lib/openssl-conf.sh"
hc_setup
HC_AGENT=1
agent_user hc-pdns hc-clients
agent_user hc-other hc-clients
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

equals "the PIN file belongs to the agent's user, mode 0600" "$(stat -c '%U %a' "$T/pins/dns")" "root 600"
expect_fail "hc-pdns cannot read the PIN file" "Permission denied" agent_as hc-pdns cat "$T/pins/dns"
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
# (stat, not ps: procps hangs in a futex with libasan preloaded, as under make test-asan)
equals "pdns_server runs as hc-pdns" "$(stat -c %U "/proc/$PDNS_PID")" "hc-pdns"
contains "its answer carries an RRSIG" "$(dig +dnssec +noall +answer -p "$DNS_PORT" @127.0.0.1 n3.$Z A)" "RRSIG	A"
out=$(verify_axfr "$Z" "$DNS_PORT" "$T/$Z.axfr"); st=$?
equals "ldns-verify-zone accepts the zone hc-pdns signed through the agent" "$st:$out" "0:Zone is verified and complete"
stop_pdns

keys=$(agent_as hc-pdns "$HC" keys dns 2>&1)
contains "hc-pdns sees its zone's keys" "$keys" "object=$Z-zsk"
lacks "... and not the other key on the token" "$keys" "other-key"
expect_fail "hc-pdns may not generate keys: refused, naming the operation and the client" \
    "refused operation 'generate': not in [client pdns] operations" agent_as hc-pdns "$HC" keygen dns new-key ecdsa-p256
# Signing with a key outside the list, by its URI, through the provider:
# the key exists and signs for the agent's own user, and hc-pdns signs
# the same way with its own key, so openssl's "not found" for hc-pdns
# and other-key is the [client] rule, not a missing key or a broken path.
write_openssl_conf "$T/other.cnf" "$BUILD/hsmcache-provider.so"
echo data > "$T/data"
mkdir -m 700 "$T/out"; chown hc-pdns "$T/out"   # where hc-pdns may write
sign_as() { # USER KEY OUT
    agent_as "$1" env OPENSSL_CONF="$T/other.cnf" openssl pkeyutl -sign -rawin -digest sha256 \
        -inkey "pkcs11:token=dns;object=$2;type=private" -in "$T/data" -out "$3"
}
verify_sig() { # KEY SIG
    OPENSSL_CONF="$T/other.cnf" openssl pkeyutl -verify -rawin -digest sha256 -pubin \
        -inkey "pkcs11:token=dns;object=$1;type=public" -in "$T/data" -sigfile "$2"
}
check "the agent's own user signs with other-key" sign_as root other-key "$T/other.sig"
check "... a signature that verifies (the key exists and works)" verify_sig other-key "$T/other.sig"
check "hc-pdns signs with its zone's key the same way" sign_as hc-pdns "$Z-zsk" "$T/out/zsk.sig"
check "... a signature that verifies" verify_sig "$Z-zsk" "$T/out/zsk.sig"
expect_fail "hc-pdns cannot sign with other-key: there is no such key for it" \
    "Could not read private key from" sign_as hc-pdns other-key "$T/out/other.sig"
check "... and no signature file was written" test ! -e "$T/out/other.sig"
# The agent's own refusal. Its handle for other-key (root finds it) is
# no secret: hc-pdns asking with it directly gets the agent's refusal,
# logged and counted, while the same request with its own key signs.
count() { "$HC" stats | sed -n "s/^client pdns: .* $1 \\([0-9]*\\),.*/\\1/p"; }   # signatures|refused
other=$(agent_raw root find dns other-key)
equals "the agent finds other-key for its own user" "${other% *}" "rv=0x0 found 1"
equals "... and nothing for hc-pdns" "$(agent_raw hc-pdns find dns other-key)" "rv=0x0 found 0"
zsk=$(agent_raw hc-pdns find dns "$Z-zsk")
signed=$(count signatures)
equals "hc-pdns signs with its zone's key's handle" "$(agent_raw hc-pdns sign "${zsk##* }")" "rv=0x0, 64 bytes: "
equals "... counted as one signature of client pdns" "$(count signatures)" "$((signed + 1))"
before=$(count refused)
out=$(agent_raw hc-pdns sign "${other##* }")
equals "hc-pdns signing with other-key's handle: the agent refuses (CKR_KEY_HANDLE_INVALID)" \
    "$out" "rv=0x60, 0 bytes: hsmcached refused sign with object 0x$(printf %x "${other##* }"): not in [client pdns] keys"
lacks "... without naming the key outside its keys to it" "$out" "other-key"
equals "... logs it once, with hc-pdns's uid and the key" "$(grep -c "client pdns (uid $(id -u hc-pdns), \
pid [0-9]*): refused sign with key 'other-key' on token dns" "$T/agent.log")" "1"
equals "... and counts it" "$(count refused)" "$((before + 1))"

expect_fail "hc-other (no [client] section) is refused, with a message naming the uid and the config" \
    "refused uid $(id -u hc-other): no [client] section in $HSMCACHE_CONF lists it" agent_as hc-other "$HC" keys dns
contains "the agent logs the refused uid" "$(cat "$T/agent.log")" "refused uid $(id -u hc-other) gid"
equals "the agent logs the refused operation once" "$(grep -c "client pdns (uid $(id -u hc-pdns), \
pid [0-9]*): refused operation 'generate'" "$T/agent.log")" "1"
stats=$("$HC" stats)
contains "hsmcache stats through the agent counts per client" "$stats" "client pdns: connections"
n=$(echo "$stats" | sed -n 's/^client pdns: .* signatures \([0-9]*\),.*/\1/p')
check "... with the signatures hc-pdns made ($n)" test "${n:-0}" -ge 1
n=$(echo "$stats" | sed -n 's/^client pdns: .* refused \([0-9]*\),.*/\1/p')
equals "... and its two refusals (generate, sign by handle)" "$n" "2"
done_testing
