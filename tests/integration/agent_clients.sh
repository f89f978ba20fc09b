#!/usr/bin/env bash
# Which [client] section hsmcached gives a peer, as the agent reports it
# (the client name in its hello reply), for three test users:
#   hc-ag-b  in group hc-ag-g, listed by no uid: let in by `group =`
#            ([client team]), with only that section's key;
#   hc-ag-c  listed by uid and group, in the group: [client ca];
#   hc-ag-a  listed by uid with group hc-ag-g, not in it: "both given,
#            both must match", so refused at connect, with a message
#            naming the config, and a log line.
# max-connections-per-client: hc-ag-b holding its 3 connections is
# refused a 4th (logged) while hc-ag-c still connects and signs, and gets
# in again once they close. The SSH CA module used by hc-ag-c (not root)
# through the agent: the audit line the agent writes carries the uid and
# pid of that ssh-keygen process and the client's name.
# Within one connection, a key the client was allowed once lets in no
# other (the agent remembers allowed objects per connection).
. "$(dirname "$0")/../lib/env.sh"
hc_setup
HC_AGENT=1
agent_user hc-ag-a hc-ag-sock
agent_user hc-ag-b hc-ag-sock hc-ag-g
agent_user hc-ag-c hc-ag-sock hc-ag-g
chmod 711 "$T"   # other users reach the config and the socket, nothing else
make_token tok
write_config t softhsm2 tok "[agent]" "socket-group = hc-ag-sock" "max-connections-per-client = 3" \
    "[client both]" "uid = hc-ag-a" "group = hc-ag-g" "keys = pkcs11:token=t" \
    "[client ca]" "uid = hc-ag-c" "group = hc-ag-g" "keys = pkcs11:token=t;object=ca" \
    "[client team]" "group = hc-ag-g" "keys = pkcs11:token=t;object=k1" \
    "[sshca]" "keys = pkcs11:token=t;object=ca" "audit-log = $T/audit.log" "max-validity = 1d"
chmod 644 "$HSMCACHE_CONF"
store_pin t
for k in k1 ca; do "$HC" keygen t "$k" ecdsa-p256 > /dev/null; done
k1=$(agent_raw root find t k1)
k1=${k1##* }

# By group: hc-ag-b's uid is in no section; its group (a supplementary
# one) is.
equals "hc-ag-b (in group hc-ag-g, no uid listed) is let in as [client team]" \
    "$(agent_raw hc-ag-b hello)" "client team"
keys=$(agent_as hc-ag-b "$HC" keys t 2>&1)
contains "... sees its section's key" "$keys" "object=k1"
lacks "... and only that one" "$keys" "object=ca"
equals "... and signs with it" "$(agent_raw hc-ag-b sign "$k1")" "rv=0x0, 64 bytes: "

# Both given: both must match. hc-ag-c matches uid and group; hc-ag-a
# only the uid.
equals "hc-ag-c (uid and group both match) is let in as [client ca]" "$(agent_raw hc-ag-c hello)" "client ca"
uid=$(id -u hc-ag-a)
refusal="refused uid $uid: no [client] section in $HSMCACHE_CONF lists it"
equals "hc-ag-a (uid listed with a group it is not in) is refused at hello" \
    "$(agent_raw hc-ag-a hello)" "refused: hsmcached at $T/agent.sock $refusal"
expect_fail "... and its hsmcache gets a message naming the config" "$refusal" agent_as hc-ag-a "$HC" keys t
equals "... and the agent logs each refusal" \
    "$(grep -c "refused uid $uid gid [0-9]* (pid [0-9]*): no \[client\] section in $HSMCACHE_CONF lists it" "$T/agent.log")" "2"

# max-connections-per-client = 3: hc-ag-b holds 3 idle connections.
agent_raw hc-ag-b hold 3 "$T/stop" > "$T/hold.out" &
holder=$!
HC_PIDS="${HC_PIDS:-} $holder"
for _ in $(seq 100); do [ -s "$T/hold.out" ] && break; sleep 0.05; done
equals "hc-ag-b opens 3 connections, the agent serves each" "$(cat "$T/hold.out")" "held 3"
equals "... a 4th is closed by the agent unanswered" "$(agent_raw hc-ag-b hello)" \
    "no reply: closed by the agent"
out=$(agent_as hc-ag-b "$HC" keys t 2>&1); st=$?
case $st:$out in   # the agent hung up before or after its hello went out
[1-9]:*"hsmcached at $T/agent.sock closed the connection"* | [1-9]:*"$T/agent.sock: Broken pipe"* | \
[1-9]:*"$T/agent.sock: Connection reset by peer"*)
    ok "... so hc-ag-b's hsmcache fails: the agent hung up" ;;
*) not_ok "... so hc-ag-b's hsmcache fails: the agent hung up (status $st: $out)" ;;
esac
n=$(grep -c "uid $(id -u hc-ag-b) (pid [0-9]*): connection refused, over max-connections or max-connections-per-client" "$T/agent.log")
check "... and the agent logs each refused connection ($n)" test "$n" -ge 2
ca=$(agent_raw root find t ca)
ca=${ca##* }
equals "meanwhile hc-ag-c connects" "$(agent_raw hc-ag-c hello)" "client ca"
equals "... and signs" "$(agent_raw hc-ag-c sign "$ca")" "rv=0x0, 64 bytes: "
# In one connection: what a client was allowed once is remembered for the
# connection, and that memory lets in nothing else. hc-ag-c finds its own
# key ca (made after k1: a higher reference), then asks k1 to sign.
cat > "$T/one-conn.py" <<'EOP'
import sys
from agentwire import *
path, own, other = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = connect(path, 10)
r = call(c, OP_FIND, find_private_keys('t', own))
print('found %d' % r.u32())
body = (u64(other) + u64(0x1041) + b'\0' + s(b'') + s(b'\x11' * 32) + b'\0' + u64(0) + b'\1' + u64(512))
r = call(c, OP_SIGN, body)
print('rv=0x%x: %s' % (r.rv, r.msg))
EOP
one=$(agentwire_run hc-ag-c "$T/one-conn.py" ca "$k1" 2>&1)
contains "hc-ag-c finds its key ca, and in the same connection" "$one" "found 1"
contains "... is refused k1, outside its keys" "$one" "rv=0x60: hsmcached refused sign with object"
touch "$T/stop"
wait "$holder"
# The agent frees a connection's slot when its thread sees the hang-up,
# a moment after the holder exits (longer on a loaded machine): until
# then a 4th is still over the limit. Within 5 s it must get in.
for _ in $(seq 50); do
    again=$(agent_raw hc-ag-b sign "$k1" 2>&1)
    [ "$again" = "rv=0x0, 64 bytes: " ] && break
    sleep 0.1
done
equals "once hc-ag-b's connections close, it signs again" "$again" "rv=0x0, 64 bytes: "

# The SSH CA module as hc-ag-c, through the agent: the agent appends to
# the audit record who it verified the sender to be. ssh-keygen is exec'd
# by the shell whose pid is written down, so that pid is its own.
"$HC" sshca pubkey > "$T/ca.pub"
mkdir -m 700 "$T/c"
chown hc-ag-c "$T/c"
agent_as hc-ag-c ssh-keygen -q -t ed25519 -N '' -f "$T/c/user"
agent_as hc-ag-c sh -c 'echo $$ > "$1/pid"; exec ssh-keygen -s "$2" -D "$3" -I audited -n hc-ag-c -V +1h "$1/user.pub"' \
    - "$T/c" "$T/ca.pub" "$BUILD/hsmcache-sshca.so" < /dev/null > "$T/sign.out" 2>&1
contains "hc-ag-c signs a certificate through the SSH CA module" \
    "$(ssh-keygen -L -f "$T/c/user-cert.pub" 2>&1)" "$(ssh-keygen -l -f "$T/ca.pub" | awk '{print $2}')"
line=$(tail -1 "$T/audit.log")
field() { # NAME: that field of the last audit line
    python3 -c '
import json, sys
try: print(json.loads(sys.argv[1]).get(sys.argv[2]))
except ValueError: print("(no audit line)")' "$line" "$1"
}
equals "its audit line: signed, identity audited" "$(field result) $(field identity)" "signed audited"
equals "... peer_uid: hc-ag-c's uid, as the agent saw it" "$(field peer_uid)" "$(id -u hc-ag-c)"
equals "... peer_pid: that ssh-keygen's pid" "$(field peer_pid)" "$(cat "$T/c/pid")"
equals "... client: the section that let it in" "$(field client)" "ca"
done_testing
