#!/usr/bin/env bash
# 8 threads sign through the front for a few seconds: every signature
# verifies with OpenSSL; a child forked after initialization initializes
# again and signs; with the cache on and the same data, the threads'
# repeats are cache hits (counted in the stats) that verify too. Under
# `make test-tsan` this runs with ThreadSanitizer.
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
# The stats (summed over every process on this cache dir) are read before
# and after: this run's requests are the signatures sigload made, and all
# but at most one miss per thread (racing the first entry) are hits.
write_config dns softhsm2 conc "[pkcs11]" "signature-cache = yes"
stat_of() { # FIELD-REGEX: one number from the token line of `hsmcache stats`
    "$HC" stats | sed -n "s/^token dns: .*$1 \([0-9]*\).*/\1/p"
}
req0=$(stat_of "sign requests") hits0=$(stat_of "cache hits") miss0=$(stat_of "misses")
out=$("$BUILD/tests/sigload" "$FRONT" ec 8 1 --same-data 2>&1); st=$?
echo "# $out"
equals "8 threads on cached signatures: all verify" "$st" "0"
req=$(( $(stat_of "sign requests") - req0 )) hits=$(( $(stat_of "cache hits") - hits0 ))
miss=$(( $(stat_of "misses") - miss0 ))
sigs=$(echo "$out" | sed -n 's/^signatures \([0-9]*\) .*/\1/p')
equals "the stats count this run's signatures as requests" "$req" "${sigs:-none}"
if [ "$hits" -gt 0 ] && [ "$miss" -le 8 ] && [ $((hits + miss)) -eq "$req" ]; then
    ok "cache hits under 8 threads: $hits hits, $miss misses of $req"
else
    not_ok "cache hits under 8 threads: $hits hits, $miss misses of $req (want all but <= 8 hits)"
fi
done_testing
