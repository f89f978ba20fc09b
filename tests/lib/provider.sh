# tests/lib/provider.sh: helpers for the OpenSSL provider's tests
# (provider_openssl.sh, provider_certs.sh). Source after env.sh and
# hc_setup; keys live on the hsmcache token "ca".
#   uri LABEL            the private key LABEL's pkcs11: URI (no PIN)
#   o ARGS...            openssl ARGS, its output in $T/openssl.out and
#                        shown only when it fails
#   obj MODULE TYPE L    pkcs11-tool's listing of that one object
#   token_pub LABEL FILE the token's public key LABEL as PEM, read by
#                        SoftHSM itself (not through hsmcache)
#   carries CERT LABEL   the certificate's public key is the token's LABEL
uri() { echo "pkcs11:token=ca;object=$1;type=private"; }
o() { openssl "$@" > "$T/openssl.out" 2>&1 || { cat "$T/openssl.out"; return 1; }; }
# -O lists every object of TYPE whatever --label says: cut to the label.
obj() {
    pkcs11-tool --module "$1" -O --type "$2" 2>/dev/null |
        awk -v l="$3" '/ Object;/ { if (hit) exit; b = "" } { b = b $0 "\n" } $1 == "label:" && $2 == l { hit = 1 }
                       END { if (hit) printf "%s", b }'
}
# No login: public objects. pkcs11-tool 0.23 cannot export P-384, so EC
# keys are rebuilt from CKA_EC_PARAMS and CKA_EC_POINT (a DER OCTET
# STRING, short form below 128 bytes: its 2-byte header is dropped) as a
# SubjectPublicKeyInfo.
token_pub() {
    local l=$1 f=$2 list params point alg bits
    list=$(OPENSSL_CONF=/dev/null obj "$SOFTHSM_MODULE" pubkey "$l")
    case $list in
    *"Object; EC "*)
        params=$(echo "$list" | sed -n 's/^ *EC_PARAMS: *\([0-9a-f]*\).*/\1/p')
        point=$(echo "$list" | sed -n 's/^ *EC_POINT: *//p')
        alg="06072a8648ce3d0201$params"   # id-ecPublicKey, the curve
        alg="30$(printf %02x $((${#alg} / 2)))$alg"
        bits="00${point:4}"
        bits="03$(printf %02x $((${#bits} / 2)))$bits"
        echo "30$(printf %02x $(((${#alg} + ${#bits}) / 2)))$alg$bits" | xxd -r -p > "$f.der" ;;
    *) OPENSSL_CONF=/dev/null pkcs11-tool --module "$SOFTHSM_MODULE" --read-object --type pubkey \
           --label "$l" -o "$f.der" > /dev/null 2>&1 || return 1 ;;
    esac
    OPENSSL_CONF=/dev/null openssl pkey -pubin -in "$f.der" -out "$f"
}
carries() {
    token_pub "$2" "$T/$2.tokpub" &&
        [ "$(openssl x509 -in "$1" -noout -pubkey)" = "$(cat "$T/$2.tokpub")" ]
}
