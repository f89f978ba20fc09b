#!/usr/bin/env bash
# The key index (shared/src/core/keyhash.h) answers lookups by label or id from
# memory: on the simulator, 301 lookups by URI (tests/keyscale, each answer
# checked: one object, the right label) on a token with 300 pairs make 16
# searches of the token: the first 15 lookups' own, then at the 16th one of
# the whole token that builds the index, and none after, where every lookup
# used to search the token.
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
equals "16 searches of the token for 301 lookups" "$finds" 16
done_testing
