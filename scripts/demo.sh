#!/usr/bin/env bash
# make demo: hsmcache on the embedded default HSM (SoftHSM), end to end,
# in ./run/: a token with a random PIN that goes straight into the PIN
# store (never printed, never on a command line), a key made with
# `hsmcache keygen`, signatures through the PKCS#11 front with OpenSC's
# pkcs11-tool (which is given no PIN at all), checked with OpenSSL, and the
# counters.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$TOP/build
RUN=$TOP/run
HC=$BUILD/hsmcache
FRONT=$BUILD/hsmcache-pkcs11.so
step() { printf '\n== %s\n' "$*"; }
# pkcs11-tool's "Using slot..." chatter; grep -v fails when it drops all.
drop_using() { grep -v '^Using' || true; }

rm -rf "$RUN"
mkdir -p "$RUN/tokens"
cat > "$RUN/softhsm2.conf" <<EOC
directories.tokendir = $RUN/tokens
objectstore.backend = file
log.level = ERROR
EOC
cat > "$RUN/hsmcache.conf" <<EOC
[core]
pin-store = $RUN/pins
cache-dir = $RUN/cache

[token demo]
module = softhsm2
label = demo-token

[pkcs11]
signature-cache = yes
EOC
export SOFTHSM2_CONF=$RUN/softhsm2.conf HSMCACHE_CONF=$RUN/hsmcache.conf

step "A SoftHSM token, its PIN generated and stored in the PIN store"
pin=$(openssl rand -hex 12)
printf '%s\n%s\n' "$(openssl rand -hex 12)" "$pin" | "$BUILD/tests/mktoken" \
    /usr/lib/softhsm/libsofthsm2.so demo-token
printf '%s\n' "$pin" | "$HC" pin set demo
unset pin
ls -l "$RUN/pins"
"$HC" tokens

step "A key pair made on the token"
uri=$("$HC" keygen demo demo-key ecdsa-p256)
echo "$uri"
id=$(echo "$uri" | sed -n 's/.*;id=\([^;]*\);.*/\1/p' | tr -d '%')
"$HC" keys demo

step "Signing through the front: pkcs11-tool gets no PIN and asks for none"
pkcs11-tool --module "$FRONT" -T | grep -E 'token label|token flags'
echo "www.example.com. 3600 IN A 192.0.2.80" > "$RUN/data.txt"
for i in 1 2; do
    pkcs11-tool --module "$FRONT" --sign --mechanism ECDSA-SHA256 --id "$id" \
        --signature-format openssl -i "$RUN/data.txt" -o "$RUN/sig$i.der" 2>&1 | drop_using
done
cmp -s "$RUN/sig1.der" "$RUN/sig2.der" &&
    echo "the second signature came from the cache (ECDSA is randomized: equal bytes mean no HSM call)"

step "Verifying: through the front (in software) and with OpenSSL"
pkcs11-tool --module "$FRONT" --verify --mechanism ECDSA-SHA256 --id "$id" \
    --signature-format openssl -i "$RUN/data.txt" --signature-file "$RUN/sig1.der" 2>&1 | drop_using
pkcs11-tool --module "$FRONT" --read-object --type pubkey --id "$id" -o "$RUN/pub.der" 2>/dev/null
openssl pkey -pubin -inform DER -in "$RUN/pub.der" -out "$RUN/pub.pem"
openssl dgst -sha256 -verify "$RUN/pub.pem" -signature "$RUN/sig1.der" "$RUN/data.txt"

step "hsmcache stats"
"$HC" stats
step "done; everything is under $RUN (rm -rf run to clean up)"
