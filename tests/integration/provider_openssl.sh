#!/usr/bin/env bash
# The OpenSSL 3 provider with the stock openssl CLI: keys named by pkcs11:
# URIs (no PIN anywhere: the PIN store has it), an X.509 chain whose keys
# all stay in the HSM (root EC P-384/SHA-512 and RSA-2048, an intermediate
# with pathlen:0 issued by `openssl ca`, a server certificate) verified by
# `openssl verify`, pkeyutl sign/verify round trips (ECDSA, RSA PKCS#1
# v1.5 and PSS, Ed25519) and an Ed25519 certificate (RSA-PSS
# certificates: provider_certs.sh). Signatures are
# verified, and certificates compared, against public keys read from
# SoftHSM directly (pkcs11-tool, not through hsmcache): what the provider
# made must match the token's keys, not only what the provider reports.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/openssl-conf.sh"
. "$(dirname "$0")/../lib/provider.sh"
hc_setup
make_token x509tok
write_config ca softhsm2 x509tok
store_pin ca
write_openssl_conf "$T/openssl.cnf" "$BUILD/hsmcache-provider.so"
export OPENSSL_CONF=$T/openssl.cnf
printf 'basicConstraints = critical, CA:TRUE, pathlen:0\nkeyUsage = critical, keyCertSign, cRLSign\n' > "$T/inter.ext"
printf 'basicConstraints = critical, CA:FALSE\nsubjectAltName = DNS:www.example.test\n' > "$T/server.ext"
chain() { # ALGO (hsmcache keygen) DIGEST: root -> intermediate -> server
    local a=$1 md=$2 d=$T/$1
    mkdir -p "$d"
    for k in root inter server; do "$HC" keygen ca "$a-$k" "$a" > /dev/null || return 1; done
    o req -x509 -new -key "$(uri "$a-root")" -subj "/CN=$a root" "-$md" -days 3650 \
        -addext "basicConstraints=critical,CA:TRUE" -out "$d/root.pem" || return 1
    o req -new -key "$(uri "$a-inter")" -subj "/CN=$a intermediate" "-$md" -out "$d/inter.csr" || return 1
    write_ca_conf "$d" "$md"
    o ca -batch -config "$d/ca.cnf" -cert "$d/root.pem" -keyfile "$(uri "$a-root")" \
        -in "$d/inter.csr" -notext -out "$d/inter.pem" || return 1
    o req -new -key "$(uri "$a-server")" -subj "/CN=www.example.test" "-$md" -out "$d/server.csr" || return 1
    o x509 -req -in "$d/server.csr" -CA "$d/inter.pem" -CAkey "$(uri "$a-inter")" -CAcreateserial \
        "-$md" -days 90 -extfile "$T/server.ext" -out "$d/server.pem" || return 1
    openssl verify -CAfile "$d/root.pem" -untrusted "$d/inter.pem" "$d/server.pem"
}
out=$(chain ecdsa-p384 sha512 2>&1)
contains "EC P-384 / SHA-512 chain (root, intermediate, server) verifies" "$out" "server.pem: OK"
contains "... signed with ecdsa-with-SHA512" "$(openssl x509 -in "$T/ecdsa-p384/root.pem" -noout -text)" "ecdsa-with-SHA512"
contains "... the intermediate (issued by openssl ca) has pathlen:0" "$(openssl x509 -in "$T/ecdsa-p384/inter.pem" -noout -text)" "pathlen:0"
for k in root inter server; do
    check "... the $k certificate carries the token's key ecdsa-p384-$k" carries "$T/ecdsa-p384/$k.pem" "ecdsa-p384-$k"
done
# openssl ca's database: serial and subject of the certificate it issued.
equals "... and openssl ca recorded it in its database" "$(awk -F'\t' '{ print "serial=" $4; print "subject=" $6 }' "$T/ecdsa-p384/index.txt")" \
    "$(openssl x509 -in "$T/ecdsa-p384/inter.pem" -noout -serial -subject -nameopt compat 2>&1)"
out=$(chain rsa2048 sha256 2>&1)
contains "RSA-2048 / SHA-256 chain verifies" "$out" "server.pem: OK"
contains "... signed with sha256WithRSAEncryption" "$(openssl x509 -in "$T/rsa2048/server.pem" -noout -text)" "sha256WithRSAEncryption"
for k in root inter server; do
    check "... the $k certificate carries the token's key rsa2048-$k" carries "$T/rsa2048/$k.pem" "rsa2048-$k"
done
# The intermediate may sign no CA: a second-level CA under it must fail.
"$HC" keygen ca sub ecdsa-p256 > /dev/null
o req -new -key "$(uri sub)" -subj "/CN=sub" -out "$T/sub.csr"
o x509 -req -in "$T/sub.csr" -CA "$T/ecdsa-p384/inter.pem" -CAkey "$(uri ecdsa-p384-inter)" \
    -CAcreateserial -days 30 -extfile "$T/inter.ext" -out "$T/sub.pem"
o x509 -req -in "$T/ecdsa-p384/server.csr" -CA "$T/sub.pem" -CAkey "$(uri sub)" -CAcreateserial \
    -days 30 -extfile "$T/server.ext" -out "$T/leaf.pem"
out=$(cat "$T/ecdsa-p384/inter.pem" "$T/sub.pem" > "$T/untrusted.pem"; openssl verify -CAfile "$T/ecdsa-p384/root.pem" -untrusted "$T/untrusted.pem" "$T/leaf.pem" 2>&1)
contains "openssl verify refuses a CA below the pathlen:0 intermediate" "$out" "path length constraint exceeded"

# pkeyutl round trips: sign in the HSM (through the provider), verify in
# software with the public key as SoftHSM exports it.
echo "payload" > "$T/data"
openssl dgst -sha256 -binary "$T/data" > "$T/h256"
roundtrip() { # KEY [pkeyopt...]
    local k=$1
    shift
    token_pub "$k" "$T/$k.pub" &&
        openssl pkeyutl -sign -inkey "$(uri "$k")" "$@" -in "$T/h256" -out "$T/$k.sig" 2>/dev/null &&
        openssl pkeyutl -verify -pubin -inkey "$T/$k.pub" "$@" -in "$T/h256" -sigfile "$T/$k.sig" 2>&1
}
contains "pkeyutl: ECDSA P-256 sign (HSM) / verify (software)" "$(roundtrip sub)" "Signature Verified Successfully"
contains "pkeyutl: RSA PKCS#1 v1.5 with SHA-256" "$(roundtrip rsa2048-root -pkeyopt digest:sha256)" "Signature Verified Successfully"
contains "pkeyutl: RSA-PSS with SHA-256" \
    "$(roundtrip rsa2048-root -pkeyopt rsa_padding_mode:pss -pkeyopt digest:sha256 -pkeyopt rsa_pss_saltlen:32)" \
    "Signature Verified Successfully"
# Ed25519: one-shot EdDSA over the message itself (pkeyutl -rawin), and a
# self-signed certificate whose signature the token made.
"$HC" keygen ca ed ed25519 > /dev/null
token_pub ed "$T/ed.pub"
openssl pkeyutl -sign -rawin -inkey "$(uri ed)" -in "$T/data" -out "$T/ed.sig" 2>/dev/null
out=$(openssl pkeyutl -verify -rawin -pubin -inkey "$T/ed.pub" -in "$T/data" -sigfile "$T/ed.sig" 2>&1)
contains "pkeyutl: Ed25519 sign (HSM) / verify (software)" "$out" "Signature Verified Successfully"
o req -x509 -new -key "$(uri ed)" -subj "/CN=ed25519 root" -days 30 -out "$T/ed.pem"
contains "an Ed25519 self-signed certificate verifies" "$(openssl verify -CAfile "$T/ed.pem" "$T/ed.pem" 2>&1)" "ed.pem: OK"
contains "... its signature algorithm is ED25519" "$(openssl x509 -in "$T/ed.pem" -noout -text)" "Signature Algorithm: ED25519"
check "... and it carries the token's key" carries "$T/ed.pem" ed
# Key generation through the provider: the pair is made in the token;
# writing the private key out then fails, as it must.
expect_fail "openssl genpkey -propquery provider=pkcs11: writing the private key out fails" "Error writing key" \
    openssl genpkey -algorithm ED25519 -propquery provider=pkcs11 \
    -pkeyopt "pkcs11_uri:pkcs11:token=ca;object=gen-ed" -out "$T/gen-ed.pem"
attrs=$(obj "$FRONT" privkey gen-ed)
contains "... after it made an Ed25519 pair in the token" "$attrs" "EC_EDWARDS"
contains "... sensitive and never extractable" "$attrs" "never extractable"
equals "... and nothing was written to the key file" "$(wc -c < "$T/gen-ed.pem" 2>&1)" "0"

out=$(openssl pkeyutl -verify -inkey "$(uri sub)" -in "$T/h256" -sigfile "$T/sub.sig" 2>&1)
contains "pkeyutl -verify with the key's URI (verified in the provider, in software)" "$out" "Signature Verified Successfully"

printf 'x' >> "$T/sub.sig"
out=$(openssl pkeyutl -verify -pubin -inkey "$T/sub.pub" -in "$T/h256" -sigfile "$T/sub.sig" 2>&1)
contains "pkeyutl: a damaged signature fails" "$out" "Signature Verification Failure"
out=$(openssl pkeyutl -verify -inkey "$(uri sub)" -in "$T/h256" -sigfile "$T/sub.sig" 2>&1)
contains "... also when verified with the key's URI" "$out" "Signature Verification Failure"

# What openssl wrote (certificates, requests, openssl ca's database, the
# text form of each certificate) holds no PIN. The config needs no test:
# this script wrote it without one.
outputs=$(ls "$T"/*.pem "$T"/*/*.pem "$T"/*.csr "$T"/*/*.csr "$T"/*/index.txt)
texts=$(for f in $outputs; do case $f in *.csr) openssl req -in "$f" -noout -text ;; *.pem) openssl x509 -in "$f" -noout -text ;; esac; done 2>&1)
contains "... the certificates openssl wrote read back as certificates" "$texts" "Subject: CN = www.example.test"
if grep -q -- "$PIN" $outputs || echo "$texts" | grep -q -- "$PIN"; then not_ok "a PIN in what openssl wrote (the files or their text form)"
else ok "no PIN in the $(echo "$outputs" | wc -l) certificates, requests and databases openssl wrote"; fi
expect_fail "a URI carrying a PIN is refused" "URI carries a PIN" openssl pkey -in "pkcs11:token=ca;object=sub;type=private?pin-value=1234"
attrs=$(obj "$FRONT" privkey ecdsa-p384-root)
contains "the root key stays sensitive and never extractable" "$attrs" "never extractable"
done_testing
