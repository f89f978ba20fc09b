#!/usr/bin/env bash
# A distinctive PIN never appears in anything hsmcache writes or shows:
# stdout/stderr of every command (including the wrong-PIN and bad-file
# paths), the cache dir (LMDB, stats, rejection marks), or the argv and
# environment of a process signing through the front.
. "$(dirname "$0")/../lib/env.sh"
PIN=Sekr1t-PIN-d15t1nct1ve
hc_setup
make_token sec
write_config dns softhsm2 sec "[pkcs11]" "signature-cache = yes"
log=$T/all.log
{
    store_pin dns
    "$HC" keygen dns ec ecdsa-p256
    "$HC" tokens; "$HC" keys dns; "$HC" pin check dns; "$HC" doctor; "$HC" stats
    "$BUILD/tests/sigload" "$FRONT" ec 2 0.5
    "$BUILD/tests/sigload" "$FRONT" ec 2 0.5 --same-data
    chmod 644 "$T/pins/dns"; "$HC" pin check dns; "$HC" doctor; chmod 600 "$T/pins/dns"
    printf 'wrong-%s\n' "$PIN" | "$HC" pin set dns
    "$HC" pin check dns; "$BUILD/tests/sigload" "$FRONT" ec 1 0.1
    printf '%s\n' "$PIN" | "$HC" pin set dns
} > "$log" 2>&1
check "the commands produced output to search" test -s "$log"
contains "the wrong-PIN path was exercised" "$(cat "$log")" "rejected the PIN"
if grep -q -- "$PIN" "$log"; then not_ok "PIN found in output: $(grep -- "$PIN" "$log" | head -3)"
else ok "no PIN in any command's stdout or stderr"; fi
if grep -rqa -- "$PIN" "$T/cache"; then not_ok "PIN found in the cache dir: $(grep -rla -- "$PIN" "$T/cache")"
else ok "no PIN in the cache dir ($(find "$T/cache" -type f | wc -l) files)"; fi
check "the cache dir has the persistent cache and stats" test -s "$T/cache/signatures.mdb"

"$BUILD/tests/sigload" "$FRONT" ec 1 2 > /dev/null 2>&1 &
pid=$!
sleep 1
leak=no
for f in cmdline environ; do
    tr '\0' '\n' < "/proc/$pid/$f" | grep -q -- "$PIN" && leak="/proc/$pid/$f"
done
wait $pid
equals "no PIN in the argv or environment of a signing process" "$leak" "no"
done_testing
