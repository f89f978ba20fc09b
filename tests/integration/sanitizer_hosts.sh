#!/usr/bin/env bash
# Where tests/run.sh puts a sanitizer runtime. The shell's own tools run
# without one: the test's environment has no LD_PRELOAD and `ps -o user=`
# answers (under a global libasan preload it hung for ever in glibc's
# textdomain lock: issue 14, item 4). A host program that loads our code
# (pkcs11-tool with the front, openssl with the provider) lists our
# token and signs, in the plain build and under ASan alike. Under ASan
# also: pkcs11-tool and openssl found by PATH are run.sh's wrappers, the
# runtime is loaded into them (the loader's own report, LD_DEBUG), not
# into grep; and the same pkcs11-tool by its absolute path, without the
# wrapper, is stopped by ASan ("runtime does not come first"): the
# control that shows the wrapper is what makes the hosts work.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/openssl-conf.sh"
hc_setup
make_token hosts
write_config dns softhsm2 hosts
store_pin dns
"$HC" keygen dns k ecdsa-p256 > /dev/null

equals "the test's own environment has no LD_PRELOAD" "${LD_PRELOAD:-}" ""
out=$(timeout 10 ps -o user= -p $$ 2>&1); st=$?
equals "ps -o user= -p PID answers within 10 s ($out)" "$st:$out" "0:root"
out=$(pkcs11-tool --module "$FRONT" -L 2>&1); st=$?
equals "pkcs11-tool (from PATH) loads the front: exit 0" "$st" "0"
contains "... and lists the token" "$out" "token label        : dns"
write_openssl_conf "$T/openssl.cnf" "$BUILD/hsmcache-provider.so"
echo hello > "$T/data"
OPENSSL_CONF=$T/openssl.cnf openssl pkeyutl -sign -rawin -digest sha256 \
    -inkey "pkcs11:token=dns;object=k" -in "$T/data" -out "$T/sig" > "$T/openssl.out" 2>&1; st=$?
equals "openssl (from PATH) signs through the provider ($(head -c 300 "$T/openssl.out"))" "$st" "0"
check "... a signature was written" test -s "$T/sig"

if [ "${HC_SANITIZER:-}" = asan ]; then
    equals "pkcs11-tool from PATH is run.sh's wrapper" "$(command -v pkcs11-tool)" "$HC_ASAN_HOSTS_DIR/pkcs11-tool"
    equals "openssl from PATH is run.sh's wrapper" "$(command -v openssl)" "$HC_ASAN_HOSTS_DIR/openssl"
    libs=$(LD_DEBUG=libs openssl version 2>&1 | grep -c 'calling init: .*libasan')
    equals "the ASan runtime is initialised in openssl (the loader says so)" "$libs" "1"
    libs=$(LD_DEBUG=libs grep -c x /dev/null 2>&1 | grep -c 'libasan')
    equals "... and not in grep" "$libs" "0"
    real=$(PATH=${PATH#"$HC_ASAN_HOSTS_DIR":} command -v pkcs11-tool)
    out=$("$real" --module "$FRONT" -L 2>&1); st=$?
    contains "control: $real itself (no wrapper) is stopped by ASan (status $st)" "$out" \
        "ASan runtime does not come first"
fi
done_testing
