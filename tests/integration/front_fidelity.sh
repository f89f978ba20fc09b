#!/usr/bin/env bash
# The PKCS#11 front keeps the PKCS#11 contract (issue 17 item 5), on the
# simulator over SoftHSM (its counters show what reached the token):
# - it lists only what it serves: no wrap, unwrap, derive, key generation
#   (C_GenerateKey) or recovery flag, while SoftHSM itself lists them; and
#   every mechanism and operation it lists works end to end (p11probe
#   mechs: signed and verified, encrypted and decrypted back, digested,
#   a pair generated and destroyed);
# - C_SignInit, C_VerifyInit, C_DecryptInit check the mechanism against
#   the key (type, CKA_SIGN, CKA_ALLOWED_MECHANISMS) and its parameter
#   (PSS hash, MGF and salt; a parameter a mechanism does not take) and
#   refuse at the init with the CKR_ a module gives, and no C_SignInit
#   reaches the token for them;
# - a read-only session neither makes nor destroys token objects
#   (CKR_SESSION_READ_ONLY);
# - a key destroyed and made again (another type, same label and id)
#   while a host keeps its handle is judged on what it is now;
# - C_SeedRandom reaches the token;
# - HSM errors: a demo-like flow (pkcs11-tool listing objects, reading a
#   public key, signing twice, verifying) counts none in `hsmcache stats`
#   while signatures were made; a real error (sessions invalidated, a
#   hostile C_Sign) is counted and logged naming the call and CKR_ name.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token fid
write_config fid "$SIM" fid
store_pin fid
for k in "rsa rsa2048" "ec ecdsa-p256" "ed ed25519"; do
    "$HC" keygen fid $k > /dev/null
done
PROBE=$BUILD/tests/p11probe
probe() { "$PROBE" "$FRONT" "$@" 2> "$T/probe.err"; }

# ---- what is listed ----
direct=$(pkcs11-tool --module "$SOFTHSM_MODULE" --token-label fid -M 2>&1)
listed=$(pkcs11-tool --module "$FRONT" -M 2>&1)
for flag in wrap unwrap derive; do
    contains "SoftHSM itself lists mechanisms with $flag (control)" "$direct" ", $flag"
    lacks "... the front lists none with $flag" "$listed" ", $flag"
done
contains "SoftHSM itself lists key generation, AES-KEY-GEN (control)" "$direct" "AES-KEY-GEN"
lacks "... the front does not (C_GenerateKey is refused)" "$listed" "KEY-GEN,"
contains "the front lists ECDSA with sign and verify" "$listed" "ECDSA, keySize={112,521}, sign, verify"
contains "... and RSA-PKCS without wrap and unwrap" "$listed" "RSA-PKCS, keySize={512,16384}, encrypt, decrypt, sign, verify
"
served=$(probe mechs)
sed 's/^/# /' <<< "$served" | head -3
n=$(grep -c . <<< "$served")
bad=$(grep -v ' CKR_OK$' <<< "$served")
equals "every listed mechanism and operation works end to end ($n tried)" "$bad" ""
check "... over 40 of them" test "$n" -gt 40
for want in "CKM_ECDSA_SHA256 sign" "CKM_EDDSA verify" "CKM_RSA_PKCS_OAEP decrypt" \
            "CKM_SHA256_RSA_PKCS_PSS verify" "CKM_SHA256 digest" "CKM_EC_KEY_PAIR_GEN generate_key_pair"; do
    contains "... among them $want" "$served" "$want CKR_OK"
done

# ---- *Init refusals, at the init ----
probe keypair nosign nosign > /dev/null
probe keypair only256 allow=CKM_ECDSA_SHA256 > /dev/null
"$SIMCTL" "$SIMSTATE" reset
refused() { # DESC WANT INIT-ARGS...
    local desc=$1 want=$2 out
    shift 2
    out=$(probe init "$@")
    equals "$desc" "$out" "init $want"
}
refused "C_SignInit CKM_ECDSA with an RSA key" CKR_KEY_TYPE_INCONSISTENT sign CKM_ECDSA rsa
refused "C_SignInit CKM_RSA_PKCS_PSS with an EC key" CKR_KEY_TYPE_INCONSISTENT \
    sign CKM_RSA_PKCS_PSS ec pss:sha256:sha256:32
refused "C_DecryptInit CKM_RSA_PKCS_OAEP with an EC key" CKR_KEY_TYPE_INCONSISTENT \
    decrypt CKM_RSA_PKCS_OAEP ec
refused "C_SignInit with a key whose CKA_SIGN is false" CKR_KEY_FUNCTION_NOT_PERMITTED \
    sign CKM_ECDSA nosign
refused "C_SignInit with a mechanism outside the key's CKA_ALLOWED_MECHANISMS" \
    CKR_MECHANISM_INVALID sign CKM_ECDSA_SHA384 only256
refused "C_SignInit with a mechanism the front does not serve (HMAC)" CKR_MECHANISM_INVALID \
    sign CKM_SHA256_HMAC ec
refused "CKM_SHA256_RSA_PKCS_PSS with a SHA-1 hashAlg" CKR_MECHANISM_PARAM_INVALID \
    sign CKM_SHA256_RSA_PKCS_PSS rsa pss:sha1:sha1:20
refused "PSS with MGF1-SHA1 for a SHA-256 hash" CKR_MECHANISM_PARAM_INVALID \
    sign CKM_RSA_PKCS_PSS rsa pss:sha256:sha1:32
refused "PSS with a 223-byte salt on a 2048-bit key (222 fit)" CKR_MECHANISM_PARAM_INVALID \
    sign CKM_RSA_PKCS_PSS rsa pss:sha256:sha256:223
refused "PSS with no parameter" CKR_MECHANISM_PARAM_INVALID sign CKM_RSA_PKCS_PSS rsa raw:0
refused "CKM_ECDSA with a parameter it does not take" CKR_MECHANISM_PARAM_INVALID \
    sign CKM_ECDSA ec raw:4
contains "... each refusal is logged naming the call, mechanism, key and reason" \
    "$(probe init sign CKM_ECDSA rsa 2>&1; cat "$T/probe.err")" \
    "C_SignInit with CKM_ECDSA on key rsa: CKR_KEY_TYPE_INCONSISTENT: the key is CKK_RSA, the mechanism needs CKK_EC"
equals "... and none reached the token (C_SignInit at the simulator)" "$(sim_count C_SignInit)" 0
equals "control: PSS with a 222-byte salt signs" \
    "$(probe init sign CKM_RSA_PKCS_PSS rsa pss:sha256:sha256:222 | tr '\n' ' ')" "init CKR_OK data CKR_OK "
equals "control: CKM_ECDSA_SHA256 on the key allowed only it gets past the init" \
    "$(probe init sign CKM_ECDSA_SHA256 only256 | head -1)" "init CKR_OK"

# ---- read-only sessions ----
equals "a read-only session cannot make token objects" "$(probe keypair rokey ro)" "keypair CKR_SESSION_READ_ONLY"
equals "... nor destroy them" "$(probe destroy nosign ro)" "destroy CKR_SESSION_READ_ONLY"
equals "... a read-write one can (control)" "$(probe destroy nosign)" "destroy CKR_OK"

# ---- a key made again under a handle a host keeps ----
# PowerDNS finds its keys once and keeps the handles. Another process
# destroys the EC key and makes an RSA one with the same label and id:
# the front's kept facts (EC) must not refuse the new key's mechanism.
p11() { pkcs11-tool --module "$SOFTHSM_MODULE" --token-label fid --login --pin "$PIN" "$@"; }
p11 --keypairgen --key-type EC:prime256v1 --id 4e1d --label held > /dev/null 2>&1
"$PROBE" "$FRONT" held held CKM_ECDSA CKM_SHA256_RSA_PKCS "$T/swap" > "$T/held.out" 2>&1 &
holder=$!
HC_PIDS="${HC_PIDS:-} $holder"
for _ in $(seq 100); do [ -e "$T/swap.ready" ] && break; sleep 0.1; done
for type in privkey pubkey; do p11 --delete-object --type "$type" --id 4e1d > /dev/null 2>&1; done
p11 --keypairgen --key-type rsa:2048 --id 4e1d --label held > /dev/null 2>&1
touch "$T/swap"
wait "$holder"
held=$(cat "$T/held.out")
contains "a host keeping the EC key's handle signs with it (CKM_ECDSA)" "$held" "before init CKR_OK data CKR_OK"
contains "... and once an RSA key replaced it under the same label and id, its C_SignInit with CKM_SHA256_RSA_PKCS on the kept handle is judged on the new key" \
    "$held" "after init CKR_OK data CKR_OK"

# ---- C_SeedRandom ----
"$SIMCTL" "$SIMSTATE" reset
equals "C_SeedRandom through the front answers as SoftHSM does" "$(probe seed)" "seed CKR_OK"
equals "... it reached the token" "$(sim_count C_SeedRandom)" 1

# ---- HSM errors ----
hsm_errors() { "$HC" stats | sed -n 's/^token fid: .*HSM errors \([0-9]*\),.*/\1/p'; }
hsm_signs() { "$HC" stats | sed -n 's/^token fid: .*HSM signs \([0-9]*\) .*/\1/p'; }
rm -rf "$T/cache/stats"
ec_id=$("$HC" keys fid | awk '$1 == "ec" { print $2 }')
echo "www.example.com. 3600 IN A 192.0.2.80" > "$T/data.txt"
pkcs11-tool --module "$FRONT" -O > "$T/flow.log" 2>&1
pkcs11-tool --module "$FRONT" --read-object --type pubkey --id "$ec_id" -o "$T/pub.der" >> "$T/flow.log" 2>&1
for i in 1 2; do
    pkcs11-tool --module "$FRONT" --sign --mechanism ECDSA-SHA256 --id "$ec_id" \
        --signature-format openssl -i "$T/data.txt" -o "$T/sig$i.der" >> "$T/flow.log" 2>&1
done
pkcs11-tool --module "$FRONT" --verify --mechanism ECDSA-SHA256 --id "$ec_id" --signature-format openssl \
    -i "$T/data.txt" --signature-file "$T/sig1.der" >> "$T/flow.log" 2>&1
contains "demo-like flow: the signature verifies" "$(cat "$T/flow.log")" "Signature is valid"
check "... HSM signatures were made" test "$(hsm_signs)" -gt 0
equals "... and no HSM error is counted (absent attributes, size queries are answers)" "$(hsm_errors)" 0
lacks "... nor logged" "$(cat "$T/flow.log")" "warning"

# A host that keeps its sessions (sigload: one thread signing for 2 s)
# while every session is closed under it.
"$BUILD/tests/sigload" "$FRONT" ec 1 2 > "$T/inval.log" 2>&1 &
load=$!
sleep 0.7
"$SIMCTL" "$SIMSTATE" invalidate
wait "$load"; st=$?
sed 's/^/# /' "$T/inval.log" | head -3
equals "sessions invalidated under a signing host: it goes on signing, every signature verified" "$st" 0
check "... the failed call is logged with its call and CKR_ name" \
    grep -qE "warning: token fid: C_Sign(Init)?: CKR_SESSION_HANDLE_INVALID" "$T/inval.log"
failed_calls=$(grep -c "warning: token fid: C_[A-Za-z]*: CKR_" "$T/inval.log")
equals "... and counted: one HSM error per failed call logged ($failed_calls)" "$(hsm_errors)" "$failed_calls"

"$SIMCTL" "$SIMSTATE" hostile sign-empty
pkcs11-tool --module "$FRONT" --sign --mechanism ECDSA --id "$ec_id" -i "$T/data.txt" \
    -o "$T/sig4" > "$T/hostile.log" 2>&1
"$SIMCTL" "$SIMSTATE" hostile off
contains "a hostile C_Sign (CKR_OK, no signature) is logged naming the call" \
    "$(cat "$T/hostile.log")" "error: token fid: module $SIM: C_Sign returned CKR_OK with an empty signature"
faults=$(grep -c "error: token fid: module .*: C_Sign returned" "$T/hostile.log")
equals "... and counted, once per logged fault ($faults: pkcs11-tool tries C_Sign, then C_SignFinal)" \
    "$(hsm_errors)" "$((failed_calls + faults))"
done_testing
