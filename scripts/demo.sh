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

[sshca]
keys = pkcs11:token=demo;object=user-ca
audit-log = $RUN/sshca-audit.log
max-validity = 30d
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

step "An SSH CA whose key stays in the token"
"$HC" keygen demo user-ca ecdsa-p256 > /dev/null
"$HC" sshca pubkey > "$RUN/ca.pub"
cat "$RUN/ca.pub"
echo "-- ssh-keygen -D sees only the CA key (demo-key stays hidden):"
ssh-keygen -D "$BUILD/hsmcache-sshca.so" < /dev/null
ssh-keygen -q -t ed25519 -N '' -C demo-user -f "$RUN/id_demo"
echo "-- a user certificate, stdin closed, no PIN:"
ssh-keygen -s "$RUN/ca.pub" -D "$BUILD/hsmcache-sshca.so" -I demo-cert -n root -V +1h \
    "$RUN/id_demo.pub" < /dev/null
ssh-keygen -L -f "$RUN/id_demo-cert.pub" | sed -n '2,9p'
echo "-- the policy refuses a 60-day certificate (max-validity = 30d):"
ssh-keygen -s "$RUN/ca.pub" -D "$BUILD/hsmcache-sshca.so" -I too-long -n root -V +60d \
    "$RUN/id_demo.pub" < /dev/null 2>&1 | grep refused || true
echo "-- the audit log:"
cat "$RUN/sshca-audit.log"

step "Logging in to sshd (127.0.0.1) with that certificate"
. "$TOP/scripts/lib/sshd.sh"
HC_PIDS=""
trap 'kill $HC_PIDS 2>/dev/null || true' EXIT # sshd, should the login fail
port=$((30000 + RANDOM % 10000))
sshd_start "$RUN" sshd "$port" "TrustedUserCAKeys $RUN/ca.pub"
sshd_login "$port" "$RUN/id_demo" root "" \
    'echo "logged in as $(id -un) with an hsmcache-signed certificate"'
kill "$SSHD_PID"
wait "$SSHD_PID" 2>/dev/null || true
HC_PIDS=""
grep -o 'Accepted publickey .* CA ECDSA [^ ]*' "$RUN/sshd.log" || true

step "Certificates from hsmcached: an ordinary user gets one for themselves, not for root"
# The agent owns the token and judges the kernel-verified caller: a user
# with only `issue` gets certificates within [client] policy and never a
# raw signature. The demo user is created here and removed at the end.
demo_user=hc-demo-user
user_made=""
if ! id "$demo_user" > /dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$demo_user"
    user_made=1
fi
cat > "$RUN/agent.conf" <<EOC
[core]
pin-store = $RUN/pins
cache-dir = $RUN/agent-cache
agent = $RUN/agent.sock

[token demo]
module = softhsm2
label = demo-token

[agent]
socket-group = $demo_user

[client demo]
uid = $demo_user
keys = pkcs11:token=demo;object=user-ca
operations = issue
allowed-principals = %u
max-validity = 8h

[sshca]
keys = pkcs11:token=demo;object=user-ca
audit-log = $RUN/sshca-audit.log
max-validity = 30d
EOC
chmod 644 "$RUN/agent.conf"
chmod 711 "$RUN"
HSMCACHE_CONF=$RUN/agent.conf "$BUILD/hsmcached" --pidfile "$RUN/agent.pid" 2> "$RUN/agent.log" &
agent_pid=$!
for _ in $(seq 100); do [ -S "$RUN/agent.sock" ] && break; sleep 0.05; done
mkdir -p "$RUN/user"
ssh-keygen -q -t ed25519 -N '' -C "$demo_user" -f "$RUN/user/id"
chown -R "$demo_user" "$RUN/user"
as_user() { runuser -u "$demo_user" -- env HSMCACHE_CONF="$RUN/agent.conf" "$@" < /dev/null; }
echo "-- $demo_user asks for a certificate for $demo_user:"
as_user "$HC" sshca sign -I "$demo_user-laptop" -n "$demo_user" -V +1h "$RUN/user/id.pub"
ssh-keygen -L -f "$RUN/user/id-cert.pub" | sed -n '2,9p'
echo "-- $demo_user asks for a certificate for root:"
as_user "$HC" sshca sign -I "$demo_user-root" -n root -V +1h "$RUN/user/id.pub" 2>&1 || true
kill "$agent_pid"
wait "$agent_pid" 2>/dev/null || true
[ -z "$user_made" ] || userdel "$demo_user"

step "PowerDNS: a zone signed through hsmcache, no PIN in the database"
T=$RUN/pdns
mkdir -p "$T"
HC_MODULE_FILES=""
. "$TOP/scripts/lib/pdns-local.sh"
trap 'kill $HC_PIDS 2>/dev/null || true; rm -f $HC_MODULE_FILES' EXIT
# PowerDNS finds Engine: modules through p11-kit's system files only;
# `make install` installs "hsmcache", the demo registers a private name.
register_module hsmcache-demo "$BUILD/hsmcache-pdns.so"
echo "registered p11-kit module hsmcache-demo -> $BUILD/hsmcache-pdns.so (removed at the end)"
start_mariadb
write_pdns_conf
pdnsutil_t create-zone demo.example ns1.demo.example > /dev/null 2>&1
pdnsutil_t add-record demo.example www A 3600 192.0.2.80 > /dev/null 2>&1
for role in ksk zsk; do
    "$HC" keygen demo "demo.example-$role" ecdsa-p256 > /dev/null
    echo "pdnsutil hsm assign demo.example ecdsa256 $role hsmcache-demo demo '' demo.example-$role"
    pdnsutil_t hsm assign demo.example ecdsa256 "$role" hsmcache-demo demo '' "demo.example-$role" 2>&1 | grep -v gmysql
done
pdnsutil_t rectify-zone demo.example > /dev/null 2>&1
start_pdns
echo "-- dig +dnssec www.demo.example (pdns_server on 127.0.0.1:$DNS_PORT):"
dig +dnssec +noall +answer -p "$DNS_PORT" @127.0.0.1 www.demo.example A
echo "-- the cryptokeys rows:"
mysql_q -N --raw -e "SELECT content FROM cryptokeys" | grep -E '^(Engine|Slot|PIN|Label):'
echo "-- pdns-hsm audit:"
"$BUILD/pdns-hsm" --config-dir "$T" audit
echo "-- pdns-hsm check demo.example:"
"$BUILD/pdns-hsm" --config-dir "$T" check demo.example
echo "-- pdns-hsm ds demo.example:"
"$BUILD/pdns-hsm" --config-dir "$T" ds demo.example
stop_pdns
kill $HC_PIDS 2>/dev/null || true
wait 2>/dev/null || true   # their exit status is SIGTERM's, by design
echo "pdns_server and MariaDB stopped"

step "BIND 9.20: named generates its keys in the token and signs a zone"
. "$TOP/scripts/lib/openssl-conf.sh"
. "$TOP/scripts/lib/named-conf.sh"
write_openssl_conf "$RUN/openssl.cnf" "$BUILD/hsmcache-provider.so"
N=$RUN/named
mkdir -p "$N/keys"
nport=$((40000 + RANDOM % 10000))
write_named_conf "$N/named.conf" "$N" "$nport" demo
cat >> "$N/named.conf" <<EOC
dnssec-policy "hsm" { keys {
    ksk key-store "hsm" lifetime unlimited algorithm ecdsap256sha256;
    zsk key-store "hsm" lifetime unlimited algorithm ecdsap256sha256; }; };
zone "bind.example" { type primary; file "bind.example.db"; dnssec-policy "hsm"; inline-signing yes; };
EOC
printf '$TTL 3600\n@ IN SOA ns1 hostmaster 1 3600 900 604800 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.80\n' > "$N/bind.example.db"
sed -n '/^key-store/,/^zone/p' "$N/named.conf"
OPENSSL_CONF=$RUN/openssl.cnf named -g -c "$N/named.conf" -n 1 > "$N/named.log" 2>&1 &
named_pid=$!
HC_PIDS="$named_pid"
for _ in $(seq 40); do
    dig +dnssec +noall +answer -p "$nport" @127.0.0.1 www.bind.example A 2>/dev/null | grep -q RRSIG && break
    sleep 0.25
done
echo "-- dig +dnssec www.bind.example (named on 127.0.0.1:$nport):"
dig +dnssec +noall +answer -p "$nport" @127.0.0.1 www.bind.example A
echo "-- the keys named made, in the token:"
pkcs11-tool --module "$FRONT" -O --type privkey 2>/dev/null | grep -E "label:.*bind.example|Access"
echo "-- K*.private names the key by URI, with no PIN:"
sed -n 's/^Label: //p' "$N"/keys/K*.private | head -1 | base64 -d | tr -d '\0'; echo
kill "$named_pid"
wait "$named_pid" 2>/dev/null || true

step "An X.509 CA whose keys stay in the token, with the stock openssl CLI"
export OPENSSL_CONF=$RUN/openssl.cnf
"$HC" keygen demo ca-root ecdsa-p384 > /dev/null
"$HC" keygen demo ca-inter ecdsa-p384 > /dev/null
openssl req -x509 -new -key "pkcs11:token=demo;object=ca-root;type=private" -subj "/CN=Demo Root" \
    -sha512 -days 3650 -addext "basicConstraints=critical,CA:TRUE" -out "$RUN/root.pem"
openssl req -new -key "pkcs11:token=demo;object=ca-inter;type=private" -subj "/CN=Demo Intermediate" \
    -sha512 -out "$RUN/inter.csr"
rm -rf "$RUN/ca"
write_ca_conf "$RUN/ca" sha512
openssl ca -batch -config "$RUN/ca/ca.cnf" -cert "$RUN/root.pem" \
    -keyfile "pkcs11:token=demo;object=ca-root;type=private" \
    -in "$RUN/inter.csr" -notext -out "$RUN/inter.pem" 2>/dev/null
openssl x509 -in "$RUN/inter.pem" -noout -subject -issuer
openssl verify -CAfile "$RUN/root.pem" "$RUN/inter.pem"
unset OPENSSL_CONF

step "hsmcache stats"
"$HC" stats
step "done; everything is under $RUN (rm -rf run to clean up)"
