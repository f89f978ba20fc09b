#!/usr/bin/env bash
# A wrong PIN reaches the token exactly once per PIN-file version, from
# this or any later process, so a card that locks after three tries never
# locks; `hsmcache pin check` says why signing is refused; a new PIN file
# restores signing. The simulator locks its PIN after 3 wrong tries.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token pintok
write_config dns "$SIM" pintok
store_pin dns
"$HC" keygen dns ec ecdsa-p256 >/dev/null
"$SIMCTL" "$SIMSTATE" reset

store_pin dns "wrong-pin-1"
sign() { "$BUILD/tests/sigload" "$FRONT" ec 1 0.05 2>&1; }
for i in 1 2 3 4 5; do sign > /dev/null; done  # five short-lived hosts, like ssh-keygen runs
out=$("$HC" pin check dns 2>&1)
"$HC" doctor >/dev/null 2>&1
equals "one C_Login for one wrong PIN file, across 7 processes" "$(sim_count C_Login)" "1"
contains "pin check says the PIN is wrong and why nothing retries" "$out" "not tried again until that file changes"
contains "... naming the file" "$out" "$T/pins/dns"
equals "the token did not lock" "$("$SIMCTL" "$SIMSTATE" pin-status)" "wrong 1 locked 0"
expect_fail "signing is refused while the PIN is rejected" "verified 0 failed 1" sign

store_pin dns "wrong-pin-2"   # a new version of the file: one more try
sign > /dev/null; sign > /dev/null
equals "a changed (still wrong) PIN file is tried once more" "$(sim_count C_Login)" "2"
equals "still not locked" "$("$SIMCTL" "$SIMSTATE" pin-status)" "wrong 2 locked 0"

store_pin dns                 # the right PIN
check "signing works again after the PIN file is fixed" sign
out=$("$HC" pin check dns 2>&1)
contains "pin check: ok" "$out" "PIN ok"
equals "the simulator's wrong-try counter was reset by the good login" \
    "$("$SIMCTL" "$SIMSTATE" pin-status)" "wrong 0 locked 0"
done_testing
