#!/usr/bin/env bash
# Session copies of signing keys (shared/src/core/keycopy.h), counted at the
# simulator while sigload signs through the front with two threads on a
# token with max-sessions = 2: C_CopyObject once per session that signed
# (not per signature), no search or attribute read per signature, every
# signature verified by sigload with OpenSSL; after the simulator closes
# every session, copies made again in the new ones; a key the token will not
# copy (CKA_COPYABLE false) still signs, its refusal remembered for the
# key (at most one C_CopyObject per session, not one per signature).
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token cptok
write_config dns "$SIM" cptok "max-sessions = 2" "[pkcs11]" "signature-cache = no"
store_pin dns
printf '%s\n' "$PIN" | "$BUILD/tests/mkkeys" "$SOFTHSM_MODULE" cptok ec 1 > /dev/null
printf '%s\n' "$PIN" | "$BUILD/tests/mkkeys" --not-copyable "$SOFTHSM_MODULE" cptok nocopy 1 > /dev/null

# sign LABEL: sigload for 1 s on a reset simulator; sets SIGS.
sign() {
    "$SIMCTL" "$SIMSTATE" reset
    out=$("$BUILD/tests/sigload" "$FRONT" "$1" 2 1 2>&1); st=$?
    echo "# $1: $out"
    SIGS=$(echo "$out" | sed -n 's/^signatures \([0-9]*\) verified \([0-9]*\) failed 0 .*/\2/p')
    equals "$1: sigload signed and verified every signature" "$st" 0
    "$SIMCTL" "$SIMSTATE" counts | sed 's/^/#   /'
}

sign ec
copies=$(sim_count C_CopyObject) opens=$(sim_count C_OpenSession)
finds=$(sim_count C_FindObjectsInit) reads=$(sim_count C_GetAttributeValue)
if [ "${SIGS:-0}" -ge 100 ] && [ "$copies" -ge 1 ] && [ "$copies" -le "$opens" ] && [ "$opens" -le 2 ]; then
    ok "ec: C_CopyObject once per session ($copies copies, $opens sessions, $SIGS signatures)"
else
    not_ok "ec: C_CopyObject $copies times for $opens sessions and ${SIGS:-no} signatures (want 1..sessions, sessions <= 2, >= 100 signatures)"
fi
equals "ec: one C_SignInit per C_Sign" "$(sim_count C_SignInit)" "$(sim_count C_Sign)"
if [ "$finds" -le 6 ] && [ "$reads" -le 40 ]; then
    ok "ec: no search or attribute read per signature ($finds searches, $reads reads for $SIGS signatures)"
else
    not_ok "ec: $finds searches and $reads attribute reads for $SIGS signatures (want <= 6 and <= 40)"
fi

# Recovery: the simulator closes every session 0.4 s into the run; the
# pool opens a new one (a new generation) and copies the key again into
# it, and every signature still verifies. One thread: the simulator's
# invalidation closes SoftHSM's sessions under calls other threads are
# in, which SoftHSM does not survive (a crash inside its C_Sign).
"$SIMCTL" "$SIMSTATE" reset
( sleep 0.4; "$SIMCTL" "$SIMSTATE" invalidate ) &
out=$("$BUILD/tests/sigload" "$FRONT" ec 1 1 2>&1); st=$?
wait
echo "# invalidated: $out"
equals "ec: every signature verified across the sessions' loss" "$st" 0
copies=$(sim_count C_CopyObject) opens=$(sim_count C_OpenSession)
if [ "$opens" -gt 1 ] && [ "$copies" -gt 1 ] && [ "$copies" -le "$opens" ]; then
    ok "ec: copies made again in the new sessions ($copies copies, $opens sessions)"
else
    not_ok "ec: $copies copies for $opens sessions across the loss (want more than 1, at most one a session)"
fi

sign nocopy
# Remembered per key once refused: at most one try per session (two
# threads may race to the first), never one per signature.
copies=$(sim_count C_CopyObject) opens=$(sim_count C_OpenSession)
if [ "${SIGS:-0}" -ge 100 ] && [ "$copies" -ge 1 ] && [ "$copies" -le "$opens" ]; then
    ok "nocopy: the refusal is remembered ($copies refused C_CopyObject, $opens sessions, $SIGS signatures)"
else
    not_ok "nocopy: C_CopyObject $copies times for $opens sessions and ${SIGS:-no} signatures (want 1..sessions)"
fi
done_testing
