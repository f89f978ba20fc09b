#!/usr/bin/env bash
# A distinctive PIN never appears in anything hsmcache writes or shows:
# stdout/stderr of every command (including the wrong-PIN and bad-file
# paths), the cache dir (LMDB, stats, rejection marks); nor in the argv,
# environment or memory (a gcore core dump) of a live process that logged
# in with it through the front (its C_Login counted at the simulator, its
# signatures verified, alive before and after it is inspected).
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

# A process that logged in with the PIN and is still running: the same
# token through the simulator, so its C_Login is counted. It signs for
# 10 s (room for a slow gcore); it is inspected once its login and a
# signature are counted, and shown alive before and after (kill -0).
write_config dns "$SIM" sec "[pkcs11]" "signature-cache = yes"
"$SIMCTL" "$SIMSTATE" reset
"$BUILD/tests/sigload" "$FRONT" ec 1 10 > "$T/live.out" 2>&1 &
pid=$!
for i in $(seq 100); do
    [ "$(sim_count C_Sign 2>/dev/null)" -gt 0 ] 2>/dev/null && break
    sleep 0.05
done
logins=$(sim_count C_Login)
alive_before=no alive_after=no leak=no
kill -0 "$pid" 2>/dev/null && alive_before=yes
tr '\0' '\n' < "/proc/$pid/cmdline" > "$T/live.cmdline"
tr '\0' '\n' < "/proc/$pid/environ" > "$T/live.environ"
rm -f "$T/core.$pid"
# Under ASan the process maps terabytes of shadow memory: no core is
# taken there (the argv/environment checks still run).
[ -z "${HC_SANITIZER:-}" ] && gcore -o "$T/core" "$pid" > "$T/gcore.log" 2>&1
kill -0 "$pid" 2>/dev/null && alive_after=yes
wait "$pid"; st=$?
equals "the inspected process logged in with the stored PIN (1 C_Login)" "$logins" "1"
equals "... was alive before and after its /proc files and core were read" "$alive_before $alive_after" "yes yes"
check "... its argv was read (non-empty)" test -s "$T/live.cmdline"
check "... its environment was read (non-empty)" test -s "$T/live.environ"
contains "... and it signed: every signature verified" "$(cat "$T/live.out")" "failed 0"
equals "... sigload exited 0" "$st" "0"
grep -q -- "$PIN" "$T/live.cmdline" "$T/live.environ" && leak="$(grep -l -- "$PIN" "$T/live.cmdline" "$T/live.environ")"
equals "no PIN in the argv or environment of the process that logged in with it" "$leak" "no"
# The README promises PINs are wiped after use: a core dump of the live
# process (gcore, all of its memory, freed heap included) holds no PIN.
if [ -n "${HC_SANITIZER:-}" ]; then
    echo "# core dump not taken under $HC_SANITIZER (shadow memory)"
else
    check "a core dump of the signing process was written" test -s "$T/core.$pid"
    if grep -qa -- "$PIN" "$T/core.$pid"; then
        not_ok "the PIN is in the signing process's memory ($(grep -ca -- "$PIN" "$T/core.$pid") places in the core dump)"
    else
        ok "no PIN in a core dump of the signing process ($(( $(stat -c %s "$T/core.$pid") / 1048576 )) MiB)"
    fi
    rm -f "$T/core.$pid"
fi
done_testing
