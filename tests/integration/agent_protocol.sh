#!/usr/bin/env bash
# hsmcached as a server: truncated, oversized and garbage messages, a
# request before hello, a wrong protocol version and a stalled sender each
# close only their own connection (logged) while other clients keep
# signing; a client killed mid-request does not disturb the agent; a
# client whose agent is down gets a quick error naming the socket; SIGHUP
# with a broken config keeps the running one; a second agent refuses to
# start on the live socket and the first serves on; SIGTERM answers the
# request in flight before exiting. Signing runs on the simulator with an 800 ms
# C_Sign so that "mid-request" is a real window.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
HC_AGENT=1
echo "latency.C_Sign = 800" >> "$HSMSIM_CONF"
make_token dnstok
write_config dns "$SIM" dnstok
store_pin dns
"$HC" keygen dns k1 ecdsa-p256 > /dev/null
echo "data to sign" > "$T/data"
sign() { # sign OUT: one signature through the PKCS#11 front, then verify it
    pkcs11-tool --module "$FRONT" --sign -m ECDSA-SHA256 --label k1 -i "$T/data" -o "$1" > "$1.log" 2>&1 &&
        pkcs11-tool --module "$FRONT" --verify -m ECDSA-SHA256 --label k1 -i "$T/data" \
            --signature-file "$1" >> "$1.log" 2>&1
}
check "a client signs through the agent (and the signature verifies)" sign "$T/sig0"

# raw CASE: one misbehaving connection; prints "closed" when the agent
# hung up on it.
raw() {
    HC_PROTO_VERSION="$(hc_proto_version)" PYTHONPATH="$TOP/tests/lib" PYTHONDONTWRITEBYTECODE=1 \
        python3 - "$T/agent.sock" "$1" <<'EOP'
import os, socket, sys
from agentwire import *
path, case = sys.argv[1], sys.argv[2]
V = bytes([VERSION])
c = open_socket(path, 15)
if case == 'truncated':
    c.sendall(u32(100) + V + bytes([OP_SIGN]) + b'abc'); c.shutdown(socket.SHUT_WR)
elif case == 'oversized':
    c.sendall(u32(0x7fffffff) + V + bytes([OP_HELLO]))
elif case == 'garbage':
    c.sendall(frame(OP_HELLO, s('cli'))); c.recv(4096); c.sendall(u32(300) + os.urandom(300))
elif case == 'before-hello':
    c.sendall(frame(OP_SIGN, u64(1 << 40 | 1)))
elif case == 'version':
    body = bytes([9, OP_HELLO]) + s('cli')   # a version no agent speaks
    c.sendall(u32(len(body)) + body)
elif case == 'trailing':
    c.sendall(frame(OP_HELLO, s('cli') + b'extra'))
elif case == 'huge-count':
    c.sendall(frame(OP_HELLO, s('cli'))); c.recv(4096)
    c.sendall(frame(OP_FIND, s('dns') + u32(0xffffffff)))
elif case == 'stall':
    c.sendall(u32(50) + V)   # and then nothing
try:
    while True:
        d = c.recv(65536)
        if not d:
            print('closed'); break
except ConnectionResetError:
    print('closed')   # closed with our bytes unread: a reset
except socket.timeout:
    print('still open')
EOP
}
for c in truncated oversized garbage before-hello version trailing huge-count; do
    equals "$c message: the agent closes that connection" "$(raw $c)" "closed"
done
check "after all of them the agent still runs" kill -0 "$HC_AGENT_PID"
check "... and another client still signs" sign "$T/sig1"
n=$(grep -c 'connection closed' "$T/agent.log")
check "each bad message left a log line at the agent ($n)" test "$n" -ge 6

# A stalled sender holds only its own connection, which the agent closes
# after its I/O timeout (10 s).
raw stall > "$T/stall.out" &
stall=$!
sleep 0.5
check "while a sender stalls mid-message, others sign" sign "$T/sig2"
wait $stall
equals "the stalled connection is closed by the agent" "$(cat "$T/stall.out")" "closed"

# A client killed mid-request (during the 800 ms C_Sign).
pkcs11-tool --module "$FRONT" --sign -m ECDSA-SHA256 --label k1 -i "$T/data" -o "$T/sig-killed" > /dev/null 2>&1 &
victim=$!
sleep 0.4
kill -9 $victim; wait $victim 2>/dev/null
check "a client killed mid-request: the agent still runs" kill -0 "$HC_AGENT_PID"
check "... and the next client signs" sign "$T/sig3"

# SIGHUP with a broken config: the running config stays.
cp "$HSMCACHE_CONF" "$T/good.conf"
echo "[token dns2" >> "$HSMCACHE_CONF"
kill -HUP "$HC_AGENT_PID"
sleep 0.5
cp "$T/good.conf" "$HSMCACHE_CONF"
contains "SIGHUP with a broken config is refused, naming file and line" \
    "$(cat "$T/agent.log")" "reload failed, keeping the running config: $HSMCACHE_CONF:"
check "... and the agent keeps signing" sign "$T/sig4"
kill -HUP "$HC_AGENT_PID"
sleep 0.5
contains "SIGHUP with a good config reloads it" "$(tail -2 "$T/agent.log")" "reloaded $HSMCACHE_CONF"
check "... and clients reconnect to it and sign" sign "$T/sig5"

# A second agent on the live socket refuses to start (bounded by a
# timeout: one that took over would run on) and leaves the first one's
# socket alone.
ino=$(stat -c %i "$T/agent.sock")
timeout 10 "$BUILD/hsmcached" > "$T/agent2.log" 2>&1; st=$?
equals "a second hsmcached on the live socket exits at once, status 1" "$st" "1"
contains "... saying another one listens there" "$(cat "$T/agent2.log")" \
    "another hsmcached is listening on $T/agent.sock"
equals "... the socket is still the first agent's" "$(stat -c %i "$T/agent.sock" 2>&1)" "$ino"
check "... which still runs" kill -0 "$HC_AGENT_PID"
check "... and serves: a client signs through it" sign "$T/sig6"

# SIGTERM while a request runs: it is answered, then the agent exits.
pkcs11-tool --module "$FRONT" --sign -m ECDSA-SHA256 --label k1 -i "$T/data" -o "$T/sig-term" > "$T/sig-term.log" 2>&1 &
inflight=$!
sleep 0.4
kill -TERM "$HC_AGENT_PID"
wait $inflight; st=$?
equals "SIGTERM during a signature: that signature is still delivered" "$st:$(stat -c %s "$T/sig-term" 2>/dev/null)" "0:64"
wait "$HC_AGENT_PID"; st=$?
equals "... and the agent then exits with status 0" "$st" "0"
HC_AGENT_PID=
check "... removing its socket" test ! -e "$T/agent.sock"

# The agent down: a quick, clear error naming the socket.
t0=$(date +%s%3N)
out=$("$HC" keys dns 2>&1); st=$?
ms=$(( $(date +%s%3N) - t0 ))
check "agent down: the client fails" test "$st" -ne 0
contains "... with an error naming the socket" "$out" "hsmcached is not running: $T/agent.sock"
check "... at once, not after a timeout ($ms ms)" test "$ms" -lt 2000
done_testing
