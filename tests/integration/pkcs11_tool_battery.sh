#!/usr/bin/env bash
# OpenSC's `pkcs11-tool --test` through the front reports every check it
# reports OK directly against SoftHSM on the same token, and no error the
# direct run lacks. (SoftHSM 2.6.1 fails its own RSA-OAEP-with-label
# check, so the two runs are compared rather than a clean pass expected.)
# The front judges at *Init what a module would (front_fidelity.sh); a
# refusal only the token knows (SoftHSM refuses an OAEP label) still
# surfaces one call later: errors are compared by their return value.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token battery
write_config battery softhsm2 battery
store_pin battery
"$HC" keygen battery rsa rsa2048 >/dev/null
"$HC" keygen battery ec ecdsa-p256 >/dev/null

printf '%s' "$PIN" > "$T/pinfile"
# Direct: pkcs11-tool takes the PIN from argv; a test-only exception, on a
# throwaway token. Through the front it needs no PIN at all.
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label battery --login \
    --pin "$(cat "$T/pinfile")" --test > "$T/direct.txt" 2>&1
pkcs11-tool --module "$FRONT" --test > "$T/front.txt" 2>&1

oks() { grep -E ': OK$|seems to be OK|digest functions seem to work' "$1" | sed 's/^ *//' | sort -u; }
errs() { grep -oE 'rv = CKR_[A-Z_]+|ERR: .*' "$1" | sort -u; }

direct_ok=$(oks "$T/direct.txt")
front_ok=$(oks "$T/front.txt")
[ -n "$direct_ok" ] && ok "direct run reports $(echo "$direct_ok" | wc -l) OK checks" \
    || not_ok "direct run reported no OK check: $(cat "$T/direct.txt")"
missing=$(comm -23 <(echo "$direct_ok") <(echo "$front_ok"))
equals "every OK check of the direct run is OK through the front" "$missing" ""
extra=$(comm -13 <(errs "$T/direct.txt") <(errs "$T/front.txt"))
equals "no error through the front that the direct run lacks" "$extra" ""
contains "the front needs no login (token flags)" \
    "$(pkcs11-tool --module "$FRONT" -T 2>&1)" "token initialized"
flags=$(pkcs11-tool --module "$FRONT" -T 2>&1 | grep 'token flags')
case $flags in *"login required"*) not_ok "login required still set: $flags" ;;
               *) ok "CKF_LOGIN_REQUIRED cleared when the store has the PIN" ;; esac
done_testing
