#!/usr/bin/env bash
# make bench-front: the PKCS#11 front's overhead, measured side by side in
# one run on the same SoftHSM token and the same P-256 key:
#   direct  pkcs11-tool-style use of libsofthsm2.so (logged in with the PIN)
#   front   build/hsmcache-pkcs11.so over the same token, cache off
#   hit     the front with the cache on, signing the same hash (every call
#           after the first is a cache hit)
# Each cell is CKM_ECDSA signatures/s over SECONDS (default 5) with 1 and
# 2 threads; each thread has its own session. Signatures are not verified
# in the timed loop (the correctness tests verify every one).
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"
SECONDS_EACH=${BENCH_SECONDS:-5}
hc_setup
make_token bench
write_config bench softhsm2 bench "[pkcs11]" "signature-cache = no"
store_pin bench
"$HC" keygen bench ec ecdsa-p256 >/dev/null
LOAD=$BUILD/tests/sigload

rate() { "$LOAD" "$@" --no-verify | sed -n 's/.* rate \([0-9.]*\)\/s/\1/p'; }
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "token: SoftHSM $(dpkg-query -W -f='${Version}' softhsm2), key: EC P-256, mechanism CKM_ECDSA, ${SECONDS_EACH}s per cell"
printf '%-8s %14s %14s %14s %10s\n' threads "direct/s" "front/s" "front/direct" "hit/s"
for threads in 1 2; do
    direct=$(rate "$SOFTHSM_MODULE" ec "$threads" "$SECONDS_EACH" --pin-file "$T/pins/bench" --token bench)
    write_config bench softhsm2 bench "[pkcs11]" "signature-cache = no"
    front=$(rate "$FRONT" ec "$threads" "$SECONDS_EACH")
    write_config bench softhsm2 bench "[pkcs11]" "signature-cache = yes"
    hit=$(rate "$FRONT" ec "$threads" "$SECONDS_EACH" --same-data)
    printf '%-8s %14.0f %14.0f %14.2f %10.0f\n' "$threads" "$direct" "$front" \
        "$(echo "$front / $direct" | bc -l)" "$hit"
done
echo "cost of one cache hit (1 thread): $(echo "1000000 / $(rate "$FRONT" ec 1 "$SECONDS_EACH" --same-data)" | bc -l | xargs printf '%.1f') us per C_SignInit+C_Sign"
