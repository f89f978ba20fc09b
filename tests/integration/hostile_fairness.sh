#!/usr/bin/env bash
# Resource fairness at the agent's door (issue 13, item 3). With
# max-connections = 6 and max-connections-per-client = 5:
# - an unlisted uid (hc-fair-x) opens 40 idle sockets: each is refused at
#   once and holds no slot, so the pdns-like client (hc-fair-pdns) still
#   connects and signs, while the unlisted uid's sockets are all closed;
# - an authorized uid's socket that never completes its first request is
#   closed about 10 s after connecting (also one that sends its first
#   byte at 8 s and nothing more), while the same uid's connections
#   that said hello stay open however long they are idle (pdns keeps its
#   connection for days).
# Scoping (the simulator as a slow card: C_GetTokenInfo 30 ms, C_Sign
# 20 ms, one call at a time):
# - a client spinning on token status (hc-fair-spin) does not put a card
#   call per request in front of live signing: the card sees at most about
#   one C_GetTokenInfo per second (status is served from the agent's
#   information at most 1 s old); the signer's rate with and without the
#   spinner is printed;
# - token status, stats and refusals show a client nothing of a token its
#   keys do not cover (token other, key secret).
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/hostile.sh"
hostile_setup hc-fair-sock hc-fair-pdns hc-fair-x hc-fair-spin
make_token fairtok
make_token othertok
cat > "$HSMSIM_CONF" <<EOC
module = $SOFTHSM_MODULE
latency-ms = 0
latency.C_GetTokenInfo = 30
latency.C_Sign = 20
concurrency = 1
EOC
write_config dns "$SIM" fairtok "[token other]" "module = $SIM" "label = othertok" \
    "[agent]" "socket-group = hc-fair-sock" "socket-mode = 0660" \
    "max-connections = 6" "max-connections-per-client = 5" \
    "[client pdns]" "uid = hc-fair-pdns" "keys = pkcs11:token=dns;object=ec" \
    "[client spin]" "uid = hc-fair-spin" "keys = pkcs11:token=dns;object=ec"
chmod 644 "$HSMCACHE_CONF"
store_pin dns
store_pin other
"$HC" keygen dns ec ecdsa-p256 > /dev/null
"$HC" keygen other secret ecdsa-p256 > /dev/null
sign() { agent_as hc-fair-pdns "$BUILD/tests/sigload" "$FRONT" ec 1 0.3 2>&1; }
check "control: hc-fair-pdns signs through the agent" sign

# The flood: 40 idle sockets of an unlisted uid, opened and kept.
hostile_socks hc-fair-x silent 40 "$T/stop-x" 30 > "$T/x.out" &
HC_PIDS="${HC_PIDS:-} $!"
hostile_wait_for "$T/x.out" opened
sed 's/^/# /' "$T/x.out"
# A silent socket of the authorized uid, and two that said hello.
hostile_socks hc-fair-pdns silent 1 "$T/stop-silent" 25 > "$T/silent.out" &
HC_PIDS="${HC_PIDS:-} $!"
hostile_wait_for "$T/silent.out" opened
hostile_socks hc-fair-pdns late 1 "$T/stop-late" 25 > "$T/late.out" &
HC_PIDS="${HC_PIDS:-} $!"
hostile_wait_for "$T/late.out" opened
hostile_socks hc-fair-pdns hello 2 "$T/stop-hello" 25 > "$T/hello.out" &
HC_PIDS="${HC_PIDS:-} $!"
hostile_wait_for "$T/hello.out" opened
equals "hc-fair-pdns's two connections that said hello are served" "$(head -1 "$T/hello.out")" "opened 2"
sleep 0.5
out=$(sign); st=$?
sed 's/^/# /' <<< "$out" | tail -1
equals "with 40 idle unlisted sockets open, hc-fair-pdns still connects and signs" "$st" "0"
lacks "... and the agent refused none of its connections" "$(cat "$T/agent.log")" \
    "uid $(id -u hc-fair-pdns) (pid"
hostile_wait_for "$T/x.out" "closed" || sleep 3
sleep 2
touch "$T/stop-x"
sleep 0.3
sed 's/^/# /' "$T/x.out" | tail -1
contains "the unlisted uid's sockets were all closed by the agent (refused at once)" \
    "$(tail -1 "$T/x.out")" "closed 40 open 0"
contains "the agent logs the refused unlisted uid" "$(cat "$T/agent.log")" \
    "refused uid $(id -u hc-fair-x)"
n=$(grep -c "refused uid $(id -u hc-fair-x)" "$T/agent.log")
check "... at most 10 lines a second, not one per socket ($n lines for 40)" test "$n" -le 12

# The silent authorized socket: closed ~10 s after connecting.
for _ in $(seq 240); do grep -q "agent-closed" "$T/silent.out" 2>/dev/null && break; sleep 0.1; done
touch "$T/stop-silent" "$T/stop-hello"
sleep 0.5
sed 's/^/# silent: /' "$T/silent.out" | tail -1
first=$(sed -n 's/.*first-close \([0-9.]*\).*/\1/p' "$T/silent.out")
check "an authorized socket with no first request is closed 9-14 s after connecting (${first:-never})" \
    awk -v t="${first:-99}" 'BEGIN { exit !(t >= 9 && t <= 14) }'
contains "... logged as such" "$(cat "$T/agent.log")" "no complete first request within 10 s"
for _ in $(seq 40); do grep -q "agent-closed" "$T/late.out" 2>/dev/null && break; sleep 0.1; done
touch "$T/stop-late"
sleep 0.3
sed 's/^/# late: /' "$T/late.out" | tail -1
first=$(sed -n 's/.*first-close \([0-9.]*\).*/\1/p' "$T/late.out")
check "... and one whose first request began at 8 s but never completed, 9-12 s after connecting (${first:-never})" \
    awk -v t="${first:-99}" 'BEGIN { exit !(t >= 9 && t <= 12) }'
sed 's/^/# hello: /' "$T/hello.out" | tail -1
contains "the authorized connections that said hello stayed open while idle" \
    "$(tail -1 "$T/hello.out")" "closed 0 open 2"
check "hc-fair-pdns still signs afterwards" sign

# Scoping: token status in a loop next to live signing.
rate() { sed -n 's/.*rate \([0-9.]*\).*/\1/p' <<< "$1"; }
alone=$(agent_as hc-fair-pdns "$BUILD/tests/sigload" "$FRONT" ec 1 3 --no-verify 2>&1)
before=$(sim_count C_GetTokenInfo)
hostile_call hc-fair-spin status-loop dns 4 > "$T/spin.out" &
spinner=$!
HC_PIDS="${HC_PIDS:-} $spinner"
sleep 0.5
busy=$(agent_as hc-fair-pdns "$BUILD/tests/sigload" "$FRONT" ec 1 3 --no-verify 2>&1)
wait "$spinner"
after=$(sim_count C_GetTokenInfo)
calls=$(sed -n 's/^calls \([0-9]*\).*/\1/p' "$T/spin.out")
echo "# signer alone: $(rate "$alone")/s; beside the spinner: $(rate "$busy")/s" \
     "(one thread: $(awk -v r="$(rate "$alone")" 'BEGIN { printf "%.1f", r ? 1000 / r : 0 }') ms vs" \
     "$(awk -v r="$(rate "$busy")" 'BEGIN { printf "%.1f", r ? 1000 / r : 0 }') ms a signature)"
echo "# spinner: $(cat "$T/spin.out"); C_GetTokenInfo at the card meanwhile: $((after - before))"
check "the spinner asked for token status many times (${calls:-0} in 4 s)" test "${calls:-0}" -ge 40
check "... but the card saw at most about one C_GetTokenInfo a second ($((after - before)) in 4 s)" \
    test "$((after - before))" -le 8
contains "... and every answer was ok" "$(cat "$T/spin.out")" "rv=0x0 "

# Scoping: a token outside the client's keys is not there for it.
out=$(hostile_call hc-fair-pdns status other)
contains "token status of a token outside its keys: CKR_SLOT_ID_INVALID" "$out" "rv=0x3 "
contains "... its mechanisms: CKR_SLOT_ID_INVALID" "$(hostile_call hc-fair-pdns mechs other)" "rv=0x3 "
out=$(hostile_call hc-fair-pdns find other secret)
contains "... a find on it: CKR_SLOT_ID_INVALID, nothing found" "$out" "rv=0x3 "
contains "... (control: its own token's key is found)" "$(hostile_call hc-fair-pdns find dns ec)" "rv=0x0  found 1"
out=$(hostile_call hc-fair-pdns stats)
lacks "its stats do not show the other token" "$out" "other"
lacks "... nor the other client's counters" "$out" "client spin"
contains "... but show its own" "$out" "client pdns"
done_testing
