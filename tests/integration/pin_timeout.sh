#!/usr/bin/env bash
# A C_Login that outlives [token] timeout (a card slowing down its PIN
# answers, a loaded network HSM) is left behind by the call timeout. Until
# its answer comes the PIN is marked like a rejected one: never tried
# again by this or any other process (fail closed). Its answer, when it
# comes, is the verdict (login.c):
#   - a wrong PIN (token a): the mark becomes a rejection mark, as an
#     answer in time would make it: the PIN was tried once in four runs
#     (the simulator counts the wrong tries; its pin-tries = 3 would lock
#     the card by the third), and the messages say the answer was unknown,
#     how to clear the mark, and then that the token rejected the PIN;
#   - a right PIN (token b): the mark is cleared by itself and the login
#     the late answer made is used: the token signs again with no
#     `hsmcache pin clear` and no second C_Login (the simulator counts
#     one), and the sessions the hang kept open are closed (pool.c).
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token dev-a
make_token dev-b
make_token dev-c
for d in a b c; do
    cp "$SIM" "$T/hsmsim-$d.so"
    cp "$SOFTHSM_MODULE" "$T/softhsm-$d.so"
    printf 'module = %s\nlatency-ms = 0\nlatency.C_Login = 1500\nconcurrency = 0\npin-tries = 3\n' \
        "$T/softhsm-$d.so" > "$T/sim-$d.conf"
done
export HSMSIM_CONF_hsmsim_a=$T/sim-a.conf HSMSIM_CONF_hsmsim_b=$T/sim-b.conf
export HSMSIM_CONF_hsmsim_c=$T/sim-c.conf
SA=$T/sim-a.conf.state SB=$T/sim-b.conf.state
# b's key, made straight on SoftHSM: no slow login, nothing counted.
write_config b softhsm2 dev-b
store_pin b
"$HC" keygen b kb ecdsa-p256 > /dev/null
HC_AGENT=1
write_config a "$T/hsmsim-a.so" dev-a "timeout = 1s" \
    "[token b]" "module = $T/hsmsim-b.so" "label = dev-b" "timeout = 1s" \
    "[token c]" "module = $T/hsmsim-c.so" "label = dev-c" "timeout = 1s"
sed -i '/^\[core\]/a log-level = info' "$HSMCACHE_CONF" # the recoveries' lines
agent_start
store_pin a 999999
store_pin c
# Four runs, each waiting out the slow answer of the one before.
for i in 1 2 3 4; do
    "$HC" keys a > "$T/keys$i.out" 2>&1
    sleep 2.5
done
out=$("$HC" pin check a 2>&1)
equals "a wrong PIN whose C_Login outlived the timeout was tried once in four runs and a check" \
    "$("$SIMCTL" "$SA" pin-status)" "wrong 1 locked 0"
contains "the agent says the token did not answer C_Login in time, naming the way out" \
    "$(cat "$T/agent.log")" "did not answer C_Login in time with the $T/pins/a"
contains "... and how to clear the mark" "$(cat "$T/agent.log")" "run hsmcache pin clear a"
contains "its late answer is logged: the PIN is rejected" "$(cat "$T/agent.log")" \
    "token a: the C_Login left behind answered CKR_PIN_INCORRECT after"
contains "... and the mark is a rejection mark now: pin check says the token rejected it" \
    "$out" "PIN wrong: token a rejected the PIN in $T/pins/a (CKR_PIN_INCORRECT)"

# A right PIN, answered 0.5 s after the timeout.
sign() { "$BUILD/tests/sigload" "$FRONT" kb 1 "$1" --token b 2>&1; }
sign 0.2 > "$T/sign1.out"
for i in $(seq 50); do
    grep -q 'token b: the C_Login left behind answered' "$T/agent.log" && break
    sleep 0.1
done
contains "the slow right PIN's first signing request was refused (the login timed out)" \
    "$(cat "$T/agent.log")" "token b did not answer C_Login in time"
contains "its late answer is logged: the PIN is right, the mark cleared" "$(cat "$T/agent.log")" \
    "token b: the C_Login left behind answered CKR_OK after"
check "no mark is left for b" test ! -e "$T/cache/pin-rejected/b"
# The pool probes the token back with backoff (at most 2 s).
for i in $(seq 30); do
    case $(sign 0.1) in *"failed 0"*) break ;; esac
    sleep 0.2
done
out=$(sign 0.3)
contains "token b signs again with no 'hsmcache pin clear'" "$out" "failed 0"
case $out in
*"signatures "[1-9]*) ok "... having signed at all" ;;
*) not_ok "... having signed at all: $out" ;;
esac
equals "... after one C_Login in all (the late one's login is used)" \
    "$("$SIMCTL" "$SB" get C_Login)" "1"
contains "the sessions the hang kept open were closed" "$(cat "$T/agent.log")" \
    "token b: closed 1 session(s) a hang had kept open (0 left)"

# Marks are shared by processes: a late answer changes only the mark its
# own login wrote. Token c's mark is rewritten while its C_Login is out
# (as another process recording a rejection of the same PIN file would):
# the late CKR_OK leaves that mark alone.
"$HC" keys c > "$T/keys-c.out" 2>&1 &
for i in $(seq 50); do
    grep -q 'token c did not answer C_Login in time' "$T/agent.log" && break
    sleep 0.05
done
sed -i 's/^id .*/id 0/; s/^rv .*/rv a0/' "$T/cache/pin-rejected/c"
wait $!
for i in $(seq 50); do
    grep -q 'token c: the C_Login left behind answered' "$T/agent.log" && break
    sleep 0.1
done
contains "a late answer finding another login's mark says so" "$(cat "$T/agent.log")" \
    "its mark was changed or removed since, so it is left as it is"
check "... and leaves that mark as it is" grep -qx 'rv a0' "$T/cache/pin-rejected/c"
done_testing
