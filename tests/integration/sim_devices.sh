#!/usr/bin/env bash
# The simulator as several devices in one process, and as a device that
# stops answering (what token groups, issue 18, are tested on):
#   - two copies of hsmsim.so, each with its own config ($HSMSIM_CONF_<copy>)
#     and its own copy of SoftHSM, behind two hsmcache tokens in one
#     sigload process: each device counts only its own token's signatures,
#     and a removal of one leaves the other signing;
#   - `hsmsim-ctl STATE hang on` blocks a host's calls (the host is still
#     running a second later, `hanging` counts the blocked calls) while a
#     host of the other device signs, and `hang off` lets the host finish
#     and succeed;
#   - [token] timeout: a host configured with both devices, device a hung,
#     starts and signs with b, held up once by at most a's timeout (1 s
#     here), with one error line naming the token, the call and the limit;
#     the call left behind is still held by the device (`hanging`); a host
#     that wants token a gets an error after the timeout, not a hang.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token dev-a
make_token dev-b
for d in a b; do
    cp "$SIM" "$T/hsmsim-$d.so"
    cp "$SOFTHSM_MODULE" "$T/softhsm-$d.so"
    printf 'module = %s\nlatency-ms = 0\nconcurrency = 0\n' "$T/softhsm-$d.so" > "$T/sim-$d.conf"
done
export HSMSIM_CONF_hsmsim_a=$T/sim-a.conf HSMSIM_CONF_hsmsim_b=$T/sim-b.conf
SA=$T/sim-a.conf.state SB=$T/sim-b.conf.state
write_config a "$T/hsmsim-a.so" dev-a "[token b]" "module = $T/hsmsim-b.so" "label = dev-b"
store_pin a
store_pin b
# A host configured with device b only (for the hang without a timeout).
sed '/^\[token a\]/,$d' "$HSMCACHE_CONF" > "$T/only-b.conf"
printf '[token b]\nmodule = %s\nlabel = dev-b\n' "$T/hsmsim-b.so" >> "$T/only-b.conf"
"$HC" keygen a ka ecdsa-p256 > /dev/null
"$HC" keygen b kb ecdsa-p256 > /dev/null
sign() { # TOKEN LABEL SECONDS: sigload through the front on one token
    "$BUILD/tests/sigload" "$FRONT" "$2" 1 "$3" --token "$1" 2>&1
}
signs() { "$BUILD/tests/hsmsim-ctl" "$1" get C_Sign 2>&1; }

out=$(sign a ka 0.2)
contains "token a signs through its own simulator copy" "$out" "failed 0"
na=$(signs "$SA")
check "... which counted its signatures ($na)" test "$na" -gt 0
out=$(sign b kb 0.2)
contains "token b signs through the other copy" "$out" "failed 0"
nb=$(signs "$SB")
check "... which counted its signatures ($nb)" test "$nb" -gt 0
equals "... and device a counted none of b's" "$(signs "$SA")" "$na"

"$BUILD/tests/hsmsim-ctl" "$SA" remove 30000
expect_fail "device a removed: token a is not there for the host" "no token with label 'dev-a'" sign a ka 0.1
contains "... while token b still signs" "$(sign b kb 0.1)" "failed 0"
"$BUILD/tests/hsmsim-ctl" "$SA" insert

"$BUILD/tests/hsmsim-ctl" "$SA" hang on
sign a ka 0.1 > "$T/hung.out" &
hung=$!
HC_PIDS="${HC_PIDS:-} $hung"
sleep 1
check "device a hangs: its host is still waiting a second later" kill -0 "$hung"
n=$("$BUILD/tests/hsmsim-ctl" "$SA" hanging)
check "... on calls the device holds ($n)" test "$n" -ge 1
contains "... while a host of device b signs" "$(HSMCACHE_CONF=$T/only-b.conf sign b kb 0.1)" "failed 0"
"$BUILD/tests/hsmsim-ctl" "$SA" hang off
wait "$hung"; st=$?
equals "hang off: the waiting host finishes" "$st" "0"
contains "... having signed and verified" "$(cat "$T/hung.out")" "failed 0"
equals "... and no call is held any more" "$("$BUILD/tests/hsmsim-ctl" "$SA" hanging)" "0"

# [token] timeout: a host of both devices while device a hangs.
sed 's/^label = dev-a$/label = dev-a\ntimeout = 1s/' "$HSMCACHE_CONF" > "$T/both-1s.conf"
"$BUILD/tests/hsmsim-ctl" "$SA" hang on
t0=$(date +%s%N)
out=$(HSMCACHE_CONF=$T/both-1s.conf timeout 20 "$BUILD/tests/sigload" "$FRONT" kb 1 0.5 --token b 2>&1)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
contains "device a hung: a host of both devices starts and signs with b" "$out" "failed 0"
check "... held up once by a's 1 s timeout at most (0.5 s run, took $ms ms)" test "$ms" -lt 3000
contains "... with an error line naming token, call and limit" "$out" \
    "token a: C_GetSlotList did not answer within 1000 ms ([token] timeout)"
equals "... one call timed out: the host did not wait for a twice" "$(grep -c 'error: token a: .* did not answer within' <<< "$out")" "1"
n=$("$BUILD/tests/hsmsim-ctl" "$SA" hanging)
check "... the call left behind is still held by device a ($n)" test "$n" -ge 1
t0=$(date +%s%N)
out=$(HSMCACHE_CONF=$T/both-1s.conf timeout 20 "$BUILD/tests/sigload" "$FRONT" ka 1 0.5 --token a 2>&1); st=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "... a host that wants token a gets an error ($st), not a hang ($ms ms)" test "$st" -ne 0 -a "$st" -ne 124 -a "$ms" -lt 3000
"$BUILD/tests/hsmsim-ctl" "$SA" hang off
done_testing
