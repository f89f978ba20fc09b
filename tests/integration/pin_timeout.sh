#!/usr/bin/env bash
# A C_Login that outlives [token] timeout (a card slowing down wrong-PIN
# answers, a loaded network HSM) is left behind by the call timeout; it
# may still answer "wrong PIN" to nobody. Its fate unknown, the PIN is
# marked like a rejected one: tried once in all, never again by this or
# any later process (the simulator counts the wrong tries, and its
# pin-tries = 3 would lock the card by the third), and the message says
# the answer is unknown and how to clear the mark.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token dev-a
cp "$SIM" "$T/hsmsim-a.so"
cp "$SOFTHSM_MODULE" "$T/softhsm-a.so"
printf 'module = %s\nlatency-ms = 0\nlatency.C_Login = 1500\nconcurrency = 0\npin-tries = 3\n' \
    "$T/softhsm-a.so" > "$T/sim-a.conf"
export HSMSIM_CONF_hsmsim_a=$T/sim-a.conf
SA=$T/sim-a.conf.state
HC_AGENT=1
write_config a "$T/hsmsim-a.so" dev-a "timeout = 1s"
store_pin a 999999
# Four runs, each waiting out the slow answer of the one before.
for i in 1 2 3 4; do
    "$HC" keys a > "$T/keys$i.out" 2>&1
    sleep 2.5
done
equals "a wrong PIN whose C_Login outlived the timeout was tried once in four runs" \
    "$("$BUILD/tests/hsmsim-ctl" "$SA" pin-status)" "wrong 1 locked 0"
contains "the agent says the token did not answer C_Login in time, naming the way out" \
    "$(cat "$T/agent.log")" "did not answer C_Login in time with the $T/pins/a"
contains "... and how to clear the mark" "$(cat "$T/agent.log")" "run hsmcache pin clear a"
done_testing
