#!/usr/bin/env bash
# The persistent cache's integrity tag, seen from a host (sigload through
# the front, memory cache off so every repeat is read from LMDB), counted
# at the simulator (C_Sign) and in `hsmcache stats`:
# - control: a second process's repeats are disk hits, 0 C_Sign, nothing
#   rejected, and signatures.key is a 32-byte file of mode 0600;
# - signatures.key replaced by other bytes: the stored entry is rejected
#   (counted, logged), signed anew once on the HSM, every answer verifies;
# - signatures.key readable by the group: the disk tier is refused with a
#   warning naming the file and the fix, signing goes on from the HSM.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token integtok
write_config dns "$SIM" integtok "[pkcs11]" "signature-cache = yes"
store_pin dns
"$HC" keygen dns ec ecdsa-p256 >/dev/null
rest=$(tail -n +4 "$HSMCACHE_CONF")
{ head -3 "$HSMCACHE_CONF"; echo "memory-cache-entries = 0"; printf '%s\n' "$rest"; } > "$T/conf.new"
mv "$T/conf.new" "$HSMCACHE_CONF"

# run_same NAME: one sigload signing one fixed input for 0.3 s; sets RC,
# SIGS (signatures made, all verified) and SIGNS (C_Sign during it).
run_same() {
    "$SIMCTL" "$SIMSTATE" reset
    "$BUILD/tests/sigload" "$FRONT" ec 1 0.3 --same-data > "$T/$1.out" 2>&1
    RC=$?
    SIGS=$(sed -n 's/^signatures \([0-9]*\) verified \1 failed 0 .*/\1/p' "$T/$1.out")
    SIGNS=$(sim_count C_Sign)
}
stat_of() { "$HC" stats | sed -n "s/^token dns: .*$1 \([0-9]*\).*/\1/p"; }
signed() { [ "${SIGS:-0}" -gt 1 ] && echo signed; }

run_same first
equals "the first process signs its input once" "$RC $SIGNS $(signed)" "0 1 signed"
run_same control
equals "control: a new process's repeats are disk hits, 0 C_Sign, none rejected" \
    "$RC $SIGNS $(signed) $(stat_of rejected)" "0 0 signed 0"
equals "signatures.key: 32 bytes, mode 600" "$(stat -c '%s %a' "$T/cache/signatures.key")" "32 600"

head -c 32 /dev/urandom > "$T/cache/signatures.key"
run_same replaced
equals "another secret: the entry is rejected and signed anew once, every answer verifies" \
    "$RC $SIGNS $(signed) $(stat_of rejected)" "0 1 signed 1"
contains "... and the rejection is logged" "$(cat "$T/replaced.out")" "failed its integrity tag"

chmod 640 "$T/cache/signatures.key"
run_same exposed
equals "a group-readable secret: no disk tier, every request goes to the HSM, all verify" \
    "$RC $([ "${SIGS:-0}" -gt 1 ] && [ "$SIGNS" = "$SIGS" ] && echo all-hsm)" "0 all-hsm"
contains "... with a warning naming the file and the fix" "$(cat "$T/exposed.out")" \
    "refusing secret $T/cache/signatures.key: readable or writable by group or others (chmod 600 it)"
done_testing
