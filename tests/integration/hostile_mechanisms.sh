#!/usr/bin/env bash
# Per-client mechanisms (issue 13, item 6): `[client] mechanisms =`.
# Three clients, each its own uid, speaking the protocol themselves
# (tests/lib/hostile.sh, hostile_raw), on one EC and one RSA key:
#   hc-hm-sign  [client signer], operations = sign, no mechanisms listed:
#               ECDSA and RSA PKCS#1 signatures work; raw RSA
#               (CKM_RSA_X_509, a decryption primitive) is refused;
#   hc-hm-dec   [client dec], operations = sign, decrypt, none listed:
#               decryption is refused though the operation is allowed;
#   hc-hm-oaep  [client oaep], operations = sign, decrypt, mechanisms =
#               CKM_RSA_PKCS_OAEP: OAEP decryption works (openssl encrypted
#               with the key's public half), and signing with anything
#               else is refused: the list is exact.
# Each refusal is CKR_MECHANISM_INVALID before the module sees it, names
# the mechanism and the client, and is logged with the client's uid. A
# name the agent does not pass on is a config error naming it.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/hostile.sh"
hostile_setup hc-hm-sock hc-hm-sign hc-hm-dec hc-hm-oaep
make_token mtok
KEYS="keys = pkcs11:token=t;object=ec, pkcs11:token=t;object=rsa"
write_config t softhsm2 mtok "[agent]" "socket-group = hc-hm-sock" \
    "[client signer]" "uid = hc-hm-sign" "operations = sign" "$KEYS" \
    "[client dec]" "uid = hc-hm-dec" "operations = sign, decrypt" "$KEYS" \
    "[client oaep]" "uid = hc-hm-oaep" "operations = sign, decrypt" "$KEYS" \
    "mechanisms = CKM_RSA_PKCS_OAEP"
chmod 644 "$HSMCACHE_CONF"
store_pin t
"$HC" keygen t ec ecdsa-p256 > /dev/null
"$HC" keygen t rsa rsa2048 > /dev/null
pid=$(cat "$T/agent.pid")
ec=$(agent_raw root find t ec); ec=${ec##* }
rsa=$(agent_raw root find t rsa); rsa=${rsa##* }
check "setup: the agent's own user finds the EC and RSA keys" test -n "$ec" -a -n "$rsa"
# logged CLIENT USER WHAT
logged() {
    grep -q "client $1 (uid $(id -u "$2"), pid [0-9]*): refused $3" "$T/agent.log"
}

equals "signer (no list): ECDSA signs" "$(agent_raw hc-hm-sign sign "$ec")" "rv=0x0, 64 bytes: "
equals "... CKM_SHA256_RSA_PKCS signs" "$(hostile_raw hc-hm-sign sign-raw "$rsa" 0x40 '')" "rv=0x0 "
equals "... raw RSA (CKM_RSA_X_509) is refused, naming the mechanism and the client" \
    "$(hostile_raw hc-hm-sign sign-raw "$rsa" 0x3 '')" \
    "rv=0x70 hsmcached refused sign with mechanism CKM_RSA_X_509: not in [client signer] mechanisms"
check "... logged with hc-hm-sign's uid" logged signer hc-hm-sign "sign with mechanism CKM_RSA_X_509"

mkdir -m 777 "$T/out"   # where the clients may write
check "hc-hm-oaep reads the RSA key's public half" hostile_raw hc-hm-oaep pubkey "$rsa" "$T/out/rsa.der"
printf 'secret' > "$T/plain"
check "... and openssl encrypts to it with OAEP" openssl pkeyutl -encrypt -pubin -keyform DER \
    -inkey "$T/out/rsa.der" -pkeyopt rsa_padding_mode:oaep -in "$T/plain" -out "$T/cipher"
chmod 644 "$T/cipher"
equals "dec (decrypt allowed, no list): OAEP decryption refused" \
    "$(hostile_raw hc-hm-dec decrypt "$rsa" oaep "$T/cipher")" \
    "rv=0x70 hsmcached refused decrypt with mechanism CKM_RSA_PKCS_OAEP: not in [client dec] mechanisms plain="
check "... logged with hc-hm-dec's uid" logged dec hc-hm-dec "decrypt with mechanism CKM_RSA_PKCS_OAEP"
equals "... and so is raw RSA decryption" \
    "$(hostile_raw hc-hm-dec decrypt "$rsa" 0x3 "$T/cipher")" \
    "rv=0x70 hsmcached refused decrypt with mechanism CKM_RSA_X_509: not in [client dec] mechanisms plain="
equals "oaep (CKM_RSA_PKCS_OAEP listed): decrypts" \
    "$(hostile_raw hc-hm-oaep decrypt "$rsa" oaep "$T/cipher")" "rv=0x0  plain=$(xxd -p "$T/plain")"
equals "... but may not sign with ECDSA: the list is exact" \
    "$(agent_raw hc-hm-oaep sign "$ec")" \
    "rv=0x70, 0 bytes: hsmcached refused sign with mechanism CKM_ECDSA: not in [client oaep] mechanisms"
equals "the agent still runs, same pid" "$(cat "$T/agent.pid")" "$pid"

sed 's/^mechanisms = .*/mechanisms = CKM_AES_GCM/' "$HSMCACHE_CONF" > "$T/bad.conf"
expect_fail "a mechanism the agent does not pass on is a config error naming it" \
    "'CKM_AES_GCM' is not a mechanism the agent passes on" env HSMCACHE_CONF="$T/bad.conf" "$HC" tokens
done_testing
