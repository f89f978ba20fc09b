#!/usr/bin/env bash
# A typed, pointer-free agent protocol (issue 13, item 1). Two clients
# speak the protocol themselves (tests/lib/hostile.sh, hostile_raw), each
# as its own uid: hc-hp-gen ([client gen], operations = generate, one
# label) and hc-hp-sign ([client signer], operations = sign, an EC and an
# RSA key). They send what the ordinary clients never send and the old
# agent handed to the module as it came:
#   - CKA_WRAP_TEMPLATE, whose value is an array of CK_ATTRIBUTE (pointers),
#     filled with the address 0x4141414141414141, in a generation template
#     (the old agent died in SoftHSM: SIGSEGV) and a find template;
#     CKA_UNWRAP_TEMPLATE in a get-attributes query;
#   - a CK_BBOOL attribute given as 8 bytes;
#   - mechanism parameters as plain bytes (an OAEP struct with a garbage
#     pointer, a PSS struct, bytes for ECDSA, GCM's), which the wire no
#     longer passes on; a PSS parameter field by field, with a hash outside
#     the list.
# Each is refused with its CKR_ code before the module sees it, logged with
# the client's name and uid; the agent keeps running (same pid) and a
# later signature by the other client works. A PSS parameter field by
# field, inside the list, still signs.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/hostile.sh"
hostile_setup hc-hp-sock hc-hp-gen hc-hp-sign
make_token ptok
write_config t softhsm2 ptok "[agent]" "socket-group = hc-hp-sock" \
    "[client gen]" "uid = hc-hp-gen" "operations = generate" "keys = pkcs11:token=t;object=gen1" \
    "[client signer]" "uid = hc-hp-sign" "operations = sign" \
    "keys = pkcs11:token=t;object=ec, pkcs11:token=t;object=rsa"
chmod 644 "$HSMCACHE_CONF"
store_pin t
"$HC" keygen t ec ecdsa-p256 > /dev/null
"$HC" keygen t rsa rsa2048 > /dev/null
pid=$(cat "$T/agent.pid")
ec=$(agent_raw hc-hp-sign find t ec); ec=${ec##* }
rsa=$(agent_raw hc-hp-sign find t rsa); rsa=${rsa##* }
check "setup: hc-hp-sign finds its EC and RSA keys" test -n "$ec" -a -n "$rsa"
gen_uid=$(id -u hc-hp-gen) sign_uid=$(id -u hc-hp-sign)

# logged CLIENT UID WHAT: the agent's log has WHAT refused for that client.
logged() {
    grep -q "client $1 (uid $2, pid [0-9]*): refused $3" "$T/agent.log"
}

out=$(hostile_raw hc-hp-gen gen-wrap t gen1)
contains "generate with CKA_WRAP_TEMPLATE (garbage pointers): CKR_ATTRIBUTE_TYPE_INVALID" "$out" "rv=0x12 "
contains "... naming the attribute" "$out" "CKA_WRAP_TEMPLATE"
check "... the agent still runs (pid $pid)" agent_alive "$pid"
check "... logged with the client's name and uid" logged gen "$gen_uid" "generate: attribute CKA_WRAP_TEMPLATE"
equals "... and no key gen1 was made" "$(agent_raw root find t gen1)" "rv=0x0 found 0"

contains "find with CKA_WRAP_TEMPLATE: CKR_ATTRIBUTE_TYPE_INVALID" \
    "$(hostile_raw hc-hp-gen find-wrap t)" "rv=0x12 "
check "... the agent still runs" agent_alive "$pid"
contains "generate with CKA_SIGN as 8 bytes: CKR_ATTRIBUTE_VALUE_INVALID" \
    "$(hostile_raw hc-hp-gen gen-bool t gen1)" "rv=0x13 "
out=$(hostile_raw hc-hp-sign attr-wrap "$ec")
contains "get-attributes of CKA_UNWRAP_TEMPLATE: CKR_ATTRIBUTE_TYPE_INVALID, it unavailable, CKA_LABEL answered" \
    "$out" "rv=0x12 hsmcached: attribute 0x40000212 is not one the agent passes on [lengths - 2]"
check "... the agent still runs" agent_alive "$pid"

ul() { python3 -c "import struct,sys; print(b''.join(struct.pack('=Q', int(x, 0)) for x in sys.argv[1:]).hex())" "$@"; }
oaep=$(ul 0x250 2 1 0x4141414141414141 16)   # SHA-256, MGF1-SHA256, data at a garbage address
contains "OAEP parameter as raw bytes, garbage pointer: CKR_MECHANISM_PARAM_INVALID" \
    "$(hostile_raw hc-hp-sign sign-raw "$rsa" 0x9 "$oaep")" "rv=0x71 "
contains "PSS parameter as raw bytes: CKR_MECHANISM_PARAM_INVALID" \
    "$(hostile_raw hc-hp-sign sign-raw "$rsa" 0xd "$(ul 0x250 2 32)")" "rv=0x71 "
contains "ECDSA with a parameter: CKR_MECHANISM_PARAM_INVALID" \
    "$(hostile_raw hc-hp-sign sign-raw "$ec" 0x1041 "$(ul 0x4141414141414141)")" "rv=0x71 "
contains "GCM's parameter (pointers) for a signature: CKR_MECHANISM_PARAM_INVALID" \
    "$(hostile_raw hc-hp-sign sign-raw "$ec" 0x1087 "$oaep")" "rv=0x71 "
contains "PSS field by field with MD5 as its hash: CKR_MECHANISM_PARAM_INVALID" \
    "$(hostile_raw hc-hp-sign sign-pss "$rsa" 0x210 1 32)" "rv=0x71 "
check "... logged with the client's name and uid" logged signer "$sign_uid" "sign: mechanism 0x9"
check "the agent still runs (pid $pid)" agent_alive "$pid"

equals "PSS field by field (SHA-256, MGF1-SHA256, salt 32) signs" \
    "$(hostile_raw hc-hp-sign sign-pss "$rsa" 0x250 2 32)" "rv=0x0 "
equals "a later ECDSA signature by hc-hp-sign works" "$(agent_raw hc-hp-sign sign "$ec")" "rv=0x0, 64 bytes: "
equals "... from the same agent process" "$(cat "$T/agent.pid")" "$pid"
done_testing
