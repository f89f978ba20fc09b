#!/usr/bin/env bash
# The key index (shared/src/keyhash.h) answers lookups by label or id from
# memory: on the simulator, 300 lookups by URI (tests/keyscale, each answer
# checked: one object, the right label) on a token with 300 pairs make one
# search of the whole token (the first lookup builds the index) and none
# after it, where every lookup used to search the token.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token ixtok
write_config dns "$SIM" ixtok
store_pin dns
printf '%s\n' "$PIN" | "$BUILD/tests/mkkeys" "$SOFTHSM_MODULE" ixtok k 300 > /dev/null
"$SIMCTL" "$SIMSTATE" reset
out=$("$BUILD/tests/keyscale" dns k 300 300 2>&1); st=$?
echo "# $out"
equals "301 lookups by URI, each answered with the right key" "$st" 0
finds=$(sim_count C_FindObjectsInit)
if [ "$finds" -ge 1 ] && [ "$finds" -le 2 ]; then
    ok "one search of the token for 301 lookups ($finds C_FindObjectsInit)"
else
    not_ok "$finds searches of the token for 301 lookups (want 1 or 2)"
fi
done_testing
