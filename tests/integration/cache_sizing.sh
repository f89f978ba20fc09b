#!/usr/bin/env bash
# Cache sizing keys, counted at the simulator (C_Sign) and in the stats:
# - `persistent-cache = no`: no signatures.mdb is written and a repeat in a
#   new process reaches the HSM again (control: with the LMDB tier on, the
#   second process's repeat needs no C_Sign);
# - `memory-cache-entries = 0`: repeats in one process are served from the
#   LMDB tier (memory hits 0), and with both tiers off every request is a
#   C_Sign (control: default sizes give memory hits);
# - `persistent-cache-mb` full: signing goes on (every signature verifies),
#   "signature cache is full" is logged once per process, the file stays
#   within its map, and a new signature is kept in memory: its repeats in
#   the same process are memory hits.
# Every sigload run here signs one fixed input (--same-data) for 0.3 s
# unless it says otherwise: one C_Sign if no tier has it.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token cachetok
write_config dns "$SIM" cachetok
store_pin dns
"$HC" keygen dns ec ecdsa-p256 >/dev/null

# sized_config KEY=VALUE...: the token config with these [core] keys.
sized_config() {
    write_config dns "$SIM" cachetok "[pkcs11]" "signature-cache = yes"
    local kv rest
    rest=$(tail -n +4 "$HSMCACHE_CONF")
    { head -3 "$HSMCACHE_CONF"; for kv in "$@"; do printf '%s\n' "$kv"; done; printf '%s\n' "$rest"; } > "$T/conf.new"
    mv "$T/conf.new" "$HSMCACHE_CONF"
}
# run_same NAME [sigload args]: one sigload on the fixed input; output in
# $T/NAME.out; sets SIGS (signatures made) and SIGNS (C_Sign during it).
run_same() {
    local name=$1
    shift
    "$SIMCTL" "$SIMSTATE" reset
    "$BUILD/tests/sigload" "$FRONT" ec 1 0.3 --same-data "$@" > "$T/$name.out" 2>&1
    RC=$?
    SIGS=$(sed -n 's/^signatures \([0-9]*\) verified \1 failed 0 .*/\1/p' "$T/$name.out")
    SIGNS=$(sim_count C_Sign)
}
stat_of() { "$HC" stats | sed -n "s/^token dns: .*$1 \([0-9]*\).*/\1/p"; }

# --- persistent-cache: control (on), then off.
rm -rf "$T/cache"
sized_config "persistent-cache = yes"
run_same p1; run_same p2
equals "control: the LMDB tier serves a second process's repeat (0 C_Sign, $SIGS verified)" \
    "$RC $SIGNS $([ "${SIGS:-0}" -gt 1 ] && echo signed)" "0 0 signed"
check "control: signatures.mdb written" test -s "$T/cache/signatures.mdb"
rm -rf "$T/cache"
sized_config "persistent-cache = no"
run_same n1
equals "persistent-cache = no: the first process signs once on the HSM" "$RC $SIGNS" "0 1"
run_same n2
equals "persistent-cache = no: a new process's repeat reaches the HSM again ($SIGS verified)" \
    "$RC $SIGNS $([ "${SIGS:-0}" -gt 1 ] && echo signed)" "0 1 signed"
check "persistent-cache = no: no signatures.mdb" test ! -e "$T/cache/signatures.mdb"

# --- memory-cache-entries: control (default), 0 with LMDB, 0 without.
rm -rf "$T/cache"
sized_config
run_same m1
equals "control: default memory cache, repeats are memory hits" \
    "$RC $SIGNS $(stat_of "memory")" "0 1 $((SIGS - 1))"
rm -rf "$T/cache"
sized_config "memory-cache-entries = 0"
run_same m2
equals "memory-cache-entries = 0: repeats come from LMDB, none from memory" \
    "$RC $SIGNS $(stat_of "memory") $(stat_of "disk")" "0 1 0 $((SIGS - 1))"
rm -rf "$T/cache"
sized_config "memory-cache-entries = 0" "persistent-cache = no"
run_same m3
equals "both tiers off: every request is a C_Sign ($SIGS signatures)" \
    "$RC $([ "${SIGS:-0}" -gt 1 ] && echo signed) $SIGNS" "0 signed ${SIGS:-x}"

# --- persistent-cache-mb = 1, filled with distinct inputs.
rm -rf "$T/cache"
sized_config "persistent-cache-mb = 1"
"$SIMCTL" "$SIMSTATE" reset
# Rounds of 2 s of random inputs until one of them fills the map (one
# round at full speed; slower builds, ASan, need more).
fill=0 st=0 rounds=0
while [ "$rounds" -lt 15 ] && [ "$st" = 0 ] && ! grep -q 'cache is full' "$T/fill.out" 2>/dev/null; do
    "$BUILD/tests/sigload" "$FRONT" ec 1 2 > "$T/fill.out" 2>&1; st=$?
    n=$(sed -n 's/^signatures \([0-9]*\) verified \1 failed 0 .*/\1/p' "$T/fill.out")
    fill=$((fill + ${n:-0})) rounds=$((rounds + 1))
done
echo "# fill: $rounds rounds, last: $(grep -v 'cache is full' "$T/fill.out")"
equals "a full LMDB: signing goes on, every signature verifies" "$st $([ "${n:-0}" -gt 0 ] && echo signed)" "0 signed"
equals "'signature cache is full' logged once" "$(grep -c 'signature cache is full' "$T/fill.out")" "1"
size=$(stat -c %s "$T/cache/signatures.mdb")
[ "$size" -le 1048576 ] && ok "the file stays within its 1 MB map ($size bytes, $fill signatures)" \
    || not_ok "signatures.mdb is $size bytes, over its 1 MB map"
# A full map may still take an entry that lands in a page with room, so
# "not stored" cannot be asserted per entry; what the README promises is
# that a new signature is served from memory.
rm -rf "$T/cache/stats"
run_same f1
equals "full: a new input is signed once, its repeats are memory hits ($SIGS verified)" \
    "$RC $SIGNS $(stat_of "memory")" "0 1 $((SIGS - 1))"
done_testing
