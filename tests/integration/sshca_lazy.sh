#!/usr/bin/env bash
# The SSH CA module touches only the tokens its [sshca] keys can be on
# (issue 16 item 4): with the CA key named on token "ssh", a config that
# also holds a token whose module does not exist, a token that is absent
# from its module, and a present token behind the simulator, ssh-keygen
# signs with nothing on stderr and the simulator's module is never
# initialized (its load count does not move); nor does `hsmcache sshca
# pubkey` initialize it (a pkcs11: URI lookup asks only the tokens the
# URI can select). The control: when the key
# URI names no token, every token may hold it, so all are asked again:
# the simulator is initialized and the missing module is reported, which
# shows both observations can see a token being touched.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
SSHCA=$BUILD/hsmcache-sshca.so
make_token ssh
make_token spare
"$SIMCTL" "$SIMSTATE" reset
# lazy_config KEYS: the four tokens, the CA key(s) KEYS.
lazy_config() {
    write_config ssh softhsm2 ssh \
        "[token gone]" "module = $T/no-such-dir/libgone-pkcs11.so" "label = gone" \
        "[token away]" "module = softhsm2" "label = not-inserted" \
        "[token spare]" "module = $SIM" "label = spare" \
        "[sshca]" "keys = $1" "audit-log = $T/audit.log"
}
lazy_config "pkcs11:token=ssh;object=ca"
store_pin ssh
store_pin spare
"$HC" keygen ssh ca ecdsa-p256 > /dev/null
loads=$("$SIMCTL" "$SIMSTATE" loads)
"$HC" sshca pubkey > "$T/pubkey.out" 2> "$T/pubkey.err"
grep ' ca$' "$T/pubkey.out" > "$T/ca.pub"
check "hsmcache sshca pubkey prints the CA key" test -s "$T/ca.pub"
equals "... and finds it without initializing the other tokens' modules (simulator loads)" \
    "$("$SIMCTL" "$SIMSTATE" loads)" "$loads"
CA_FP=$(ssh-keygen -lf "$T/ca.pub" | awk '{ print $2 }')
ssh-keygen -q -t ed25519 -N '' -f "$T/u1"

# sign DESC: one certificate for u1.pub; stderr to $T/sign.err.
sign() {
    local st=0
    rm -f "$T/u1-cert.pub"
    ssh-keygen -q -s "$T/ca.pub" -D "$SSHCA" -I u1 -n alice -V +1h "$T/u1.pub" \
        < /dev/null > /dev/null 2> "$T/sign.err" || st=$?
    if [ "$st" = 0 ]; then ok "$1"; else not_ok "$1 (status $st: $(head -c 600 "$T/sign.err"))"; fi
    contains "... the certificate is signed by the CA key" \
        "$(ssh-keygen -L -f "$T/u1-cert.pub" 2>&1)" "Signing CA: ECDSA $CA_FP "
}

loads=$("$SIMCTL" "$SIMSTATE" loads)
sign "keys on token ssh only: ssh-keygen signs beside a missing module, an absent and an unused token"
equals "... and logs nothing about the other tokens" "$(cat "$T/sign.err")" ""
equals "... and never initializes the unused token's module (simulator loads)" \
    "$("$SIMCTL" "$SIMSTATE" loads)" "$loads"

# The control: a key URI without token= may be on any token.
lazy_config "pkcs11:object=ca"
sign "control, keys on any token: ssh-keygen still signs"
contains "... and reports the missing module it had to try" "$(cat "$T/sign.err")" \
    "$T/no-such-dir/libgone-pkcs11.so"
after=$("$SIMCTL" "$SIMSTATE" loads)
check "... and initializes the simulator's module (loads $loads -> $after)" test "$after" -gt "$loads"
done_testing
