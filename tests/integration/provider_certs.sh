#!/usr/bin/env bash
# X.509 certificates signed in the HSM through the OpenSSL provider with
# RSA-PSS (issue 17 item 6), by each of the three ways the openssl CLI
# signs: `req -x509` (a self-signed root), `x509 -req -CAkey pkcs11:...`
# (a leaf) and `ca` (an intermediate, then a server certificate under it);
# each chain passes `openssl verify` and each certificate shows rsassaPss
# with the hash, MGF1 hash and salt length asked for. The signature's
# AlgorithmIdentifier is compared byte for byte with the one OpenSSL's
# default provider writes for a key in a file with the same options (PSS,
# PKCS#1 v1.5, ECDSA). A certificate whose AlgorithmIdentifier names
# another hash than was signed with fails `openssl verify`. What the
# provider refuses (a salt too long for the key, a digest the token's PSS
# cannot take, a malformed salt length) is refused with a message naming
# the key, never "malloc failure". Ed25519 as a CA: a leaf it signs.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/openssl-conf.sh"
. "$(dirname "$0")/../lib/provider.sh"
hc_setup
make_token certtok
write_config ca softhsm2 certtok
store_pin ca
write_openssl_conf "$T/openssl.cnf" "$BUILD/hsmcache-provider.so"
export OPENSSL_CONF=$T/openssl.cnf
printf 'basicConstraints = critical, CA:FALSE\nsubjectAltName = DNS:www.example.test\n' > "$T/server.ext"
"$HC" keygen ca root rsa2048 > /dev/null
"$HC" keygen ca inter rsa3072 > /dev/null
"$HC" keygen ca leaf ecdsa-p256 > /dev/null
"$HC" keygen ca ed ed25519 > /dev/null
# Keys in files, signed with by OpenSSL's default provider alone.
sw() { OPENSSL_CONF=/dev/null openssl "$@"; }
sw genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/sw-rsa.key" 2> /dev/null
sw genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/sw-ec.key" 2> /dev/null
# sigalg CERT: the certificate's signatureAlgorithm (the second element
# of the outer SEQUENCE), as hex DER.
sigalg() {
    local der line off hl l
    der=$(sw x509 -in "$1" -outform der | xxd -p | tr -d '\n')
    line=$(sw asn1parse -in "$1" | grep ':d=1 ' | sed -n 2p)
    off=${line%%:*}
    hl=$(echo "$line" | sed 's/.*hl= *\([0-9]*\).*/\1/')
    l=$(echo "$line" | sed 's/.* l= *\([0-9]*\).*/\1/')
    [ -n "$off" ] && echo "${der:$((off * 2)):$(((hl + l) * 2))}"
}
text() { openssl x509 -in "$1" -noout -text 2>&1; }
pss=(-sigopt rsa_padding_mode:pss)

# The root, self-signed by `openssl req -x509`.
check "req -x509: an RSA-PSS root (SHA-256, salt 32) signed with the HSM key" \
    o req -x509 -new -key "$(uri root)" -subj "/CN=PSS root" -sha256 "${pss[@]}" -sigopt rsa_pss_saltlen:32 \
    -days 3650 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$T/root.pem"
# A trust anchor's own signature is checked only when asked (-check_ss_sig).
contains "... openssl verify checks its signature" \
    "$(openssl verify -check_ss_sig -CAfile "$T/root.pem" "$T/root.pem" 2>&1)" "root.pem: OK"
t=$(text "$T/root.pem")
contains "... signed with rsassaPss" "$t" "Signature Algorithm: rsassaPss"
contains "... hash SHA-256" "$t" "Hash Algorithm: sha256"
contains "... MGF1 with SHA-256" "$t" "Mask Algorithm: mgf1 with sha256"
contains "... salt 32 bytes" "$t" "Salt Length: 0x20"
check "... and it carries the token's key" carries "$T/root.pem" root

# The AlgorithmIdentifier, byte for byte as the default provider writes it
# with a key in a file, for each way of asking; each certificate verifies.
for opts in "-sha256" "-sha256 -sigopt rsa_pss_saltlen:32" "-sha384 -sigopt rsa_pss_saltlen:max" \
    "-sha512 -sigopt rsa_mgf1_md:sha512 -sigopt rsa_pss_saltlen:digest" "-sha1 -sigopt rsa_pss_saltlen:20" \
    "-sha224 -sigopt rsa_pss_saltlen:0" "-sha256 -sigopt rsa_pss_saltlen:auto"; do
    rm -f "$T/hsm.pem" "$T/file.pem"
    # shellcheck disable=SC2086 # opts is a list of options
    o req -x509 -new -key "$(uri root)" -subj "/CN=pss" "${pss[@]}" $opts -days 1 -out "$T/hsm.pem"
    # shellcheck disable=SC2086
    sw req -x509 -new -key "$T/sw-rsa.key" -subj "/CN=pss" "${pss[@]}" $opts -days 1 -out "$T/file.pem" 2> /dev/null
    want=$(sigalg "$T/file.pem")
    equals "PSS $opts: the AlgorithmIdentifier is OpenSSL's own (${want:0:24}...)" "$(sigalg "$T/hsm.pem")" "${want:-none}"
    contains "... and the certificate verifies" "$(openssl verify -check_ss_sig -CAfile "$T/hsm.pem" "$T/hsm.pem" 2>&1)" "hsm.pem: OK"
done
# RFC 4055 DEFAULTs (SHA-1, MGF1 with SHA-1, salt 20, trailer 1) are left
# out: rsassaPss with an empty SEQUENCE.
o req -x509 -new -key "$(uri root)" -subj /CN=d "${pss[@]}" -sha1 -sigopt rsa_pss_saltlen:20 -days 1 -out "$T/sha1.pem"
equals "... SHA-1 with every PSS default: rsassaPss, empty parameters" "$(sigalg "$T/sha1.pem")" \
    "300d06092a864886f70d01010a3000"
# PKCS#1 v1.5 and ECDSA as before, also byte for byte.
for k in "root sw-rsa.key -sha384" "leaf sw-ec.key -sha256" "leaf sw-ec.key -sha512"; do
    set -- $k
    rm -f "$T/hsm.pem" "$T/file.pem"
    o req -x509 -new -key "$(uri "$1")" -subj "/CN=plain" "$3" -days 1 -out "$T/hsm.pem"
    sw req -x509 -new -key "$T/$2" -subj "/CN=plain" "$3" -days 1 -out "$T/file.pem" 2> /dev/null
    want=$(sigalg "$T/file.pem")
    equals "$(sw x509 -in "$T/file.pem" -noout -text | sed -n 's/^ *Signature Algorithm: //p' | head -1): the AlgorithmIdentifier is OpenSSL's own" \
        "$(sigalg "$T/hsm.pem")" "${want:-none}"
done

# A leaf signed by `openssl x509 -req -CAkey pkcs11:...`: SHA-384, the
# longest salt (2048-bit key: 256 - 48 - 2 = 206 bytes).
o req -new -key "$(uri leaf)" -subj "/CN=www.example.test" -out "$T/leaf.csr"
check "x509 -req -CAkey: a leaf signed RSA-PSS by the root's HSM key" \
    o x509 -req -in "$T/leaf.csr" -CA "$T/root.pem" -CAkey "$(uri root)" -CAcreateserial -days 30 \
    -sha384 "${pss[@]}" -sigopt rsa_pss_saltlen:max -extfile "$T/server.ext" -out "$T/leaf.pem"
contains "... the chain verifies" "$(openssl verify -CAfile "$T/root.pem" "$T/leaf.pem" 2>&1)" "leaf.pem: OK"
t=$(text "$T/leaf.pem")
contains "... rsassaPss with SHA-384" "$t" "Hash Algorithm: sha384"
contains "... MGF1 with SHA-384" "$t" "Mask Algorithm: mgf1 with sha384"
contains "... salt 206 bytes" "$t" "Salt Length: 0xCE"
# The same leaf with its AlgorithmIdentifier naming SHA-512 instead
# (both copies, hash and MGF1): openssl verify must refuse it.
sha384=0609608648016503040202
sha512=0609608648016503040203
sw x509 -in "$T/leaf.pem" -outform der | xxd -p | tr -d '\n' | sed "s/$sha384/$sha512/g" | xxd -r -p > "$T/bad-leaf.der"
sw x509 -inform der -in "$T/bad-leaf.der" -out "$T/bad-leaf.pem"
contains "... a copy whose AlgorithmIdentifier names SHA-512 reads as such" "$(text "$T/bad-leaf.pem")" "Hash Algorithm: sha512"
contains "... and fails openssl verify" "$(openssl verify -CAfile "$T/root.pem" "$T/bad-leaf.pem" 2>&1)" "certificate signature failure"
expect_fail "x509 -CAkey refuses a CA certificate that is not the key's" "CA certificate and CA private key do not match" \
    openssl x509 -req -in "$T/leaf.csr" -CA "$T/root.pem" -CAkey "$(uri inter)" -CAcreateserial -days 1 \
    "${pss[@]}" -out "$T/mismatch.pem"

# `openssl ca`: an intermediate (RSA-3072, its CSR also signed RSA-PSS)
# issued by the root with SHA-512, MGF1 over SHA-512, salt = digest size.
check "req -new: the intermediate's CSR signed RSA-PSS" \
    o req -new -key "$(uri inter)" -subj "/CN=PSS intermediate" -sha256 "${pss[@]}" -out "$T/inter.csr"
contains "... its self-signature verifies" "$(openssl req -verify -in "$T/inter.csr" -noout 2>&1)" "verify OK"
contains "... and it is rsassaPss" "$(openssl req -in "$T/inter.csr" -noout -text 2>&1)" "Signature Algorithm: rsassaPss"
write_ca_conf "$T/ca" sha512
check "openssl ca: the intermediate issued RSA-PSS by the root's HSM key" \
    o ca -batch -config "$T/ca/ca.cnf" -cert "$T/root.pem" -keyfile "$(uri root)" "${pss[@]}" \
    -sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha512 -in "$T/inter.csr" -notext -out "$T/inter.pem"
contains "... it verifies under the root" "$(openssl verify -CAfile "$T/root.pem" "$T/inter.pem" 2>&1)" "inter.pem: OK"
t=$(text "$T/inter.pem")
contains "... rsassaPss with SHA-512" "$t" "Hash Algorithm: sha512"
contains "... MGF1 with SHA-512" "$t" "Mask Algorithm: mgf1 with sha512"
contains "... salt 64 bytes" "$t" "Salt Length: 0x40"
contains "... pathlen:0 from the CA config" "$t" "pathlen:0"
check "... and carries the token's key" carries "$T/inter.pem" inter
# Under the intermediate, PSS with the defaults: SHA-256 and the longest
# salt (3072-bit key: 384 - 32 - 2 = 350 bytes), as OpenSSL does.
check "x509 -req -CAkey: a server certificate from the intermediate's HSM key" \
    o x509 -req -in "$T/leaf.csr" -CA "$T/inter.pem" -CAkey "$(uri inter)" -CAcreateserial -days 30 \
    "${pss[@]}" -extfile "$T/server.ext" -out "$T/server.pem"
contains "... the three-certificate chain verifies" \
    "$(openssl verify -CAfile "$T/root.pem" -untrusted "$T/inter.pem" "$T/server.pem" 2>&1)" "server.pem: OK"
contains "... salt 350 bytes" "$(text "$T/server.pem")" "Salt Length: 0x015E"

# Refusals: a message naming the key and the reason, no "malloc failure".
expect_fail "a PSS salt too long for the key is refused, naming the key" \
    "key pkcs11:token=ca;object=root: RSA-PSS salt of 223 bytes with SHA2-256 does not fit a 2048-bit key (at most 222)" \
    openssl req -x509 -new -key "$(uri root)" -subj /CN=x -sha256 "${pss[@]}" -sigopt rsa_pss_saltlen:223 -out "$T/x.pem"
lacks "... and says nothing of malloc" "$(cat "$T/check.out")" "malloc failure"
expect_fail "x509 -req: a digest the token's PSS cannot take is refused, naming the key" \
    "key pkcs11:token=ca;object=root: RSA-PSS with SHA3-256: the token's PSS signs SHA-1 or SHA-2 only" \
    openssl x509 -req -in "$T/leaf.csr" -CA "$T/root.pem" -CAkey "$(uri root)" -CAcreateserial -days 1 \
    -sha3-256 "${pss[@]}" -out "$T/x.pem"
lacks "... and says nothing of malloc" "$(cat "$T/check.out")" "malloc failure"
# SoftHSM's PSS takes MGF1 over the signature's own hash only: another
# is the token's refusal, passed on with the key named.
expect_fail "an MGF1 digest SoftHSM's PSS refuses: the token's answer, naming the key" \
    "key pkcs11:token=ca;object=root: token ca: C_SignInit: CKR_ARGUMENTS_BAD" \
    openssl req -x509 -new -key "$(uri root)" -subj /CN=x -sha512 "${pss[@]}" -sigopt rsa_mgf1_md:sha256 -out "$T/x.pem"
expect_fail "a malformed PSS salt length is refused" "PSS salt length '12x' is not digest, max, auto or 0..1024" \
    openssl req -x509 -new -key "$(uri root)" -subj /CN=x "${pss[@]}" -sigopt rsa_pss_saltlen:12x -out "$T/x.pem"
expect_fail "a padding mode that cannot sign is refused" "RSA padding mode 'oaep' cannot sign here" \
    openssl req -x509 -new -key "$(uri root)" -subj /CN=x -sigopt rsa_padding_mode:oaep -out "$T/x.pem"

# Ed25519 (CKM_EDDSA in the token) as a CA: a leaf it signs verifies.
check "Ed25519: a self-signed root from the HSM key" \
    o req -x509 -new -key "$(uri ed)" -subj "/CN=Ed25519 root" -days 30 \
    -addext "basicConstraints=critical,CA:TRUE" -out "$T/ed.pem"
check "... x509 -req -CAkey signs a leaf with it" \
    o x509 -req -in "$T/leaf.csr" -CA "$T/ed.pem" -CAkey "$(uri ed)" -CAcreateserial -days 30 \
    -extfile "$T/server.ext" -out "$T/ed-leaf.pem"
contains "... the chain verifies" "$(openssl verify -CAfile "$T/ed.pem" "$T/ed-leaf.pem" 2>&1)" "ed-leaf.pem: OK"
contains "... signed ED25519" "$(text "$T/ed-leaf.pem")" "Signature Algorithm: ED25519"
done_testing
