#!/usr/bin/env bash
# Lost sessions and a removed token, on the simulator: invalidated
# sessions are recovered with no error to the caller; while the token is
# absent calls fail fast (no hang); after it returns signing resumes in
# the same process, with the same key handles.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token rectok
write_config dns "$SIM" rectok
store_pin dns
"$HC" keygen dns ec ecdsa-p256 >/dev/null

cat > "$T/plan" <<EOP
invalidate-at 5
remove-at 10 800
EOP
out=$("$BUILD/tests/faultload" "$FRONT" ec "$SIMCTL" "$SIMSTATE" 2>&1); st=$?
echo "$out" | sed 's/^/# /'
equals "faultload ran to the end" "$st" "0"
contains "sessions invalidated: the next signature still succeeds" "$out" "after invalidate: ok"
contains "token absent: calls fail fast with CKR_TOKEN_NOT_PRESENT or CKR_DEVICE_REMOVED" "$out" "while absent: fast failure"
contains "token back: signing resumes with the same handle, no restart" "$out" "after return: ok"
slowest=$(echo "$out" | sed -n 's/.*slowest failure \([0-9]*\) ms.*/\1/p')
[ -n "$slowest" ] && [ "$slowest" -lt 500 ] && ok "no failure took longer than 500 ms ($slowest ms)" \
    || not_ok "a failure while absent took ${slowest:-?} ms"
rec=$("$HC" stats | sed -n 's/.*recoveries \([0-9]*\).*/\1/p')
[ "${rec:-0}" -ge 2 ] && ok "stats count the recoveries ($rec)" || not_ok "recoveries: ${rec:-none}"
done_testing
