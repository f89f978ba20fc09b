#!/usr/bin/env bash
# Runs one unit test binary inside a fresh test environment: a SoftHSM
# token "unit" (PIN in the store) with an RSA and two EC keys, and a config
# naming it as token "dns". Tests that need no token simply ignore it.
set -eu
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token unit
write_config dns softhsm2 unit "[pdns]" "signature-cache = yes"
store_pin dns
"$HC" keygen dns rsa-key rsa2048 >/dev/null
"$HC" keygen dns ec-key ecdsa-p256 >/dev/null
"$HC" keygen dns ec-key2 ecdsa-p256 >/dev/null
export HC_TEST_DIR=$T
set +e
# Under ASan, leaks are checked for the test program itself.
if [ -n "${HC_UNIT_ASAN_OPTIONS:-}" ]; then
    ASAN_OPTIONS=$HC_UNIT_ASAN_OPTIONS "$1"
else
    "$1"
fi
