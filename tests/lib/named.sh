# tests/lib/named.sh: the setup every named test shares. Source after
# env.sh; named_setup MODULE gives a token "dns" (label dnstok) on MODULE
# (softhsm2 or $SIM) with its PIN stored, an openssl.cnf loading the
# hsmcache provider as "pkcs11" (exported as OPENSSL_CONF), named's
# directory $D with keys/, and a private port $PORT; write_named_conf
# (scripts/lib/named-conf.sh) writes the options and key-store every test
# shares.
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/openssl-conf.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/named-conf.sh"

named_setup() {
    hc_setup
    make_token dnstok
    write_config dns "$1" dnstok
    store_pin dns
    D=$T/named
    mkdir -p "$D/keys"
    PORT=$((21000 + $$ % 9000))
    write_openssl_conf "$T/openssl.cnf" "$BUILD/hsmcache-provider.so"
    export OPENSSL_CONF=$T/openssl.cnf
}
