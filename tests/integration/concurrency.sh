#!/usr/bin/env bash
# 8 threads sign through the front for a few seconds: every signature
# verifies with OpenSSL; a child forked after initialization initializes
# again and signs. Under `make test-tsan` this runs with ThreadSanitizer.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token conc
write_config dns softhsm2 conc "[pkcs11]" "signature-cache = no"
store_pin dns
"$HC" keygen dns ec ecdsa-p256 >/dev/null
secs=${HC_CONCURRENCY_SECONDS:-3}
out=$("$BUILD/tests/sigload" "$FRONT" ec 8 "$secs" --fork 2>&1); st=$?
echo "# $out"
equals "8 threads: every signature made and verified" "$st" "0"
contains "fork: the child re-initializes and signs" "$out" "child initialized again and signed"
# The same with the cache on and the same data: cache hits under threads.
write_config dns softhsm2 conc "[pkcs11]" "signature-cache = yes"
out=$("$BUILD/tests/sigload" "$FRONT" ec 8 1 --same-data 2>&1); st=$?
echo "# $out"
equals "8 threads on cached signatures: all verify" "$st" "0"
done_testing
