#!/usr/bin/env bash
# Which real tokens a config reaches (README, configuration and `hsmcache
# tokens`): a profile's `tokens =` list limits the slots the front shows
# (control: without it, both); a token configured by `serial =` alone is
# the token with that serial (two tokens, each found by its own serial,
# each with its own real label; a key on it signs); `hsmcache tokens` exits
# 1 for an absent token (a label no token has, a serial no token has, a
# token removed at the simulator) and 0 when all are present. A module
# named through a p11-kit module file whose enable-in leaves out the
# program is not loaded, with a message naming the program and the rule
# (control: the same file enabling `hsmcache` loads it).
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token tokA
make_token tokB
# Serials as SoftHSM itself reports them (not through hsmcache).
serial_of() {
    pkcs11-tool --module "$SOFTHSM_MODULE" -L 2>/dev/null |
        awk -v l="$1" '/token label/ { cur = $NF } /serial num/ && cur == l { print $NF }'
}
serA=$(serial_of tokA) serB=$(serial_of tokB)
check "SoftHSM reports two different serials" test -n "$serA" -a -n "$serB" -a "$serA" != "$serB"

two_tokens() { # EXTRA...: tokens a (tokA) and b (tokB), then EXTRA lines
    write_config a softhsm2 tokA "[token b]" "module = softhsm2" "label = tokB" "$@"
}
slots() { pkcs11-tool --module "$FRONT" -L 2>&1 | sed -n 's/^Slot [0-9]* ([^)]*): //p' | tr '\n' ' '; }

# --- [pkcs11] tokens = ...
two_tokens
equals "control: without tokens =, the front shows both tokens" "$(slots)" "hsmcache token a hsmcache token b "
two_tokens "[pkcs11]" "tokens = b"
equals "[pkcs11] tokens = b: the front shows only b" "$(slots)" "hsmcache token b "
two_tokens "[pkcs11]" "tokens = a"
equals "[pkcs11] tokens = a: the front shows only a" "$(slots)" "hsmcache token a "
out=$("$HC" tokens 2>&1)
contains "... while the [cli] profile, not limited, still lists b" "$out" "tokB"

# --- serial = instead of label
cat > "$HSMCACHE_CONF" <<EOC
[core]
pin-store = $T/pins
cache-dir = $T/cache
[token sa]
module = softhsm2
serial = $serA
[token sb]
module = softhsm2
serial = $serB
EOC
out=$("$HC" tokens 2>&1); st=$?
echo "$out" | sed 's/^/# /'
equals "tokens by serial: both present, exit 0" "$st" "0"
equals "... sa is the token with serial $serA (tokA)" "$(awk '$1 == "sa" { print $3, $4, $5 }' <<< "$out")" "tokA $serA yes"
equals "... sb is the token with serial $serB (tokB)" "$(awk '$1 == "sb" { print $3, $4, $5 }' <<< "$out")" "tokB $serB yes"
store_pin sb
"$HC" keygen sb ec ecdsa-p256 >/dev/null
out=$("$BUILD/tests/sigload" "$FRONT" ec 1 0.1 --token sb 2>&1); st=$?
equals "a key on the token found by serial signs through the front, all verified ($out)" "$st" "0"
check "... the key is on tokB itself (listed by SoftHSM directly)" \
    sh -c "pkcs11-tool --module '$SOFTHSM_MODULE' --token-label tokB -O 2>&1 | grep -q 'label: *ec'"

# --- hsmcache tokens: exit 1 for an absent token
printf '[token gone]\nmodule = softhsm2\nserial = 0000000000000000\n' >> "$HSMCACHE_CONF"
expect_fail "tokens: a serial no token has: exit 1" 1 "$HC" tokens
out=$("$HC" tokens 2>&1)
equals "... its row says not present" "$(awk '$1 == "gone" { print $NF, $(NF-1) }' <<< "$out")" "missing no"
contains "... and the message names the serial" "$out" "no token with serial '0000000000000000'"
write_config dns softhsm2 no-such-label
expect_fail "tokens: a label no token has: exit 1" 1 "$HC" tokens
contains "... named in the message" "$("$HC" tokens 2>&1)" "no token with label 'no-such-label'"
write_config dns "$SIM" tokA
"$SIMCTL" "$SIMSTATE" reset
check "tokens: the token on the simulator is present: exit 0 (control)" "$HC" tokens
"$SIMCTL" "$SIMSTATE" remove 60000
expect_fail "tokens: the same token removed at the simulator: exit 1" 1 "$HC" tokens
"$SIMCTL" "$SIMSTATE" insert
check "tokens: inserted again: exit 0" "$HC" tokens

# --- p11-kit's enable-in, honoured by the core's own module-file reader
mod=hc-rule-$$
modfile=/etc/pkcs11/modules/$mod.module
mkdir -p /etc/pkcs11/modules
HC_MODULE_FILES="${HC_MODULE_FILES:-} $modfile"
write_config a "$mod" tokA
printf '# hsmcache test or demo, pid %s\nmodule: %s\nenable-in: hsmcache\n' "$$" "$SOFTHSM_MODULE" > "$modfile"
check "control: a module file with enable-in: hsmcache loads for the CLI" "$HC" tokens
printf '# hsmcache test or demo, pid %s\nmodule: %s\nenable-in: pdns_server, pdnsutil\n' "$$" "$SOFTHSM_MODULE" > "$modfile"
expect_fail "enable-in: pdns_server, pdnsutil: the CLI does not load it, and says why" \
    "module '$mod' is not registered with p11-kit for program 'hsmcache'" "$HC" tokens
printf '# hsmcache test or demo, pid %s\nmodule: %s\ndisable-in: hsmcache\n' "$$" "$SOFTHSM_MODULE" > "$modfile"
expect_fail "disable-in: hsmcache: not loaded either" "enable-in/disable-in" "$HC" tokens
done_testing
