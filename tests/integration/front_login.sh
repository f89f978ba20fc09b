#!/usr/bin/env bash
# A host that calls C_Login through the front (README, "Using the PKCS#11
# front"): when the PIN store has the token's PIN, the caller's PIN is
# ignored with one warning (a wrong one signs anyway and never reaches the
# card); when the store has none, the caller's PIN is the one used (right:
# signs; wrong: the card counts one wrong try; none: no signing), and it is
# never written to disk. The host is sigload --pin-file (C_Login with the
# PIN read from a file, signatures verified with OpenSSL); the card is the
# simulator, whose C_Login count and PIN counter show what reached it.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token logtok
write_config dns "$SIM" logtok
store_pin dns
"$HC" keygen dns ec ecdsa-p256 >/dev/null
( umask 077; printf '%s\n' "wrong-caller-pin" > "$T/wrong.pin"; printf '%s\n' "$PIN" > "$T/right.pin" )
host() { "$BUILD/tests/sigload" "$FRONT" ec 1 0.1 "$@" 2>&1; }
# token_list: pkcs11-tool -T through the front, its whole output and exit
# status (a check on the flags line must not pass on an empty listing).
token_list() {
    local out st
    out=$(pkcs11-tool --module "$FRONT" -T 2>&1); st=$?
    printf 'status %s\n%s\n' "$st" "$out"
}

# The store has the PIN: the caller's (wrong) PIN is ignored.
"$SIMCTL" "$SIMSTATE" reset
out=$(host --pin-file "$T/wrong.pin"); st=$?
sed "s/^/# /" <<< "$out" | head -3
equals "store has the PIN: a caller's wrong PIN still signs, every signature verified" "$st" "0"
contains "... with a warning to remove the PIN from the caller" "$out" "it is ignored because the hsmcache PIN store has one"
equals "... the warning is given once" "$(grep -c 'the caller gave a PIN' <<< "$out")" "1"
equals "... one C_Login reached the card (the store's PIN)" "$(sim_count C_Login)" "1"
equals "... and the caller's wrong PIN never did" "$("$SIMCTL" "$SIMSTATE" pin-status)" "wrong 0 locked 0"
out=$(token_list)
contains "pkcs11-tool -T lists the front's token and its flags" "$out" "token flags"
lacks "the front clears CKF_LOGIN_REQUIRED when the store has the PIN" "$out" "login required"

# The store has no PIN: the caller's PIN is used.
rm "$T/pins/dns"
contains "no stored PIN: the front asks hosts to log in (CKF_LOGIN_REQUIRED)" \
    "$(token_list)" "login required"
"$SIMCTL" "$SIMSTATE" reset
out=$(host); st=$?
equals "no stored PIN, no caller PIN: signing is refused (control)" "$st $(sim_count C_Login)" "1 0"
"$SIMCTL" "$SIMSTATE" reset
out=$(host --pin-file "$T/right.pin"); st=$?
sed "s/^/# /" <<< "$out" | head -3
equals "no stored PIN: the caller's PIN logs in and signs, every signature verified" "$st" "0"
equals "... with one C_Login at the card" "$(sim_count C_Login)" "1"
lacks "... and no warning" "$out" "is ignored"
"$SIMCTL" "$SIMSTATE" reset
out=$(host --pin-file "$T/wrong.pin"); st=$?
equals "no stored PIN: a caller's wrong PIN is refused" "$st" "1"
contains "... at its C_Login" "$out" "login failed"
equals "... it reached the card: one wrong try counted" "$("$SIMCTL" "$SIMSTATE" pin-status)" "wrong 1 locked 0"
if grep -rqa -- "$PIN" "$T/cache"; then not_ok "the caller's PIN was written under $T/cache"
else ok "the caller's PIN is never written to disk (cache dir searched)"; fi
check "... which exists and holds the stats" test -d "$T/cache/stats"
done_testing
