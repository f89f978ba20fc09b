# tests/lib/hostile.sh: helpers for the hostile_*.sh tests (sourced after
# env.sh): clients that send what the ordinary ones never would. Those
# speaking the wire protocol themselves are small scripts on
# tests/lib/agentwire.py, run with agentwire_run (env.sh).
#
# NOTE (helper P, 15:27): this file was overwritten by accident while its
# first version (helpers L and G) was uncommitted; hostile_api,
# hostile_give_tree and hostile_set_cache_dir below are RECONSTRUCTED from
# their callers (hostile_keygen.sh, hostile_lockout.sh, hostile_api.py).
# Their owners: please check them against what you wrote.

# hostile_setup SOCKGROUP USER...: the test's tree (hc_setup), its
# clients served by the agent (HC_AGENT=1), each USER a uid of its own in
# the group SOCKGROUP (the config's socket-group); $T mode 711: other users
# reach the config and the socket by name, nothing else in it.
hostile_setup() {
    local g=$1 u
    shift
    hc_setup
    HC_AGENT=1
    for u in "$@"; do agent_user "$u" "$g"; done
    chmod 711 "$T"
}

# hostile_api USER CMD PROFILE ARGS...: tests/lib/hostile_api.py as USER,
# with the test's config, on this build's libhsmcache.
hostile_api() {
    local u=$1
    shift
    runuser -u "$u" -- env ${HC_HOST_PRELOAD:+LD_PRELOAD="$HC_HOST_PRELOAD"} HSMCACHE_CONF="$HSMCACHE_CONF" \
        python3 "$TOP/tests/lib/hostile_api.py" "$BUILD/libhsmcache.so" "$@"
}

# hostile_give_tree USER: the test's tree ($T) belongs to USER, who then
# runs the embedded core on it as an ordinary user would.
hostile_give_tree() {
    chown -R "$1" "$T"
}

# hostile_set_cache_dir DIR: the config's [core] cache-dir becomes DIR.
hostile_set_cache_dir() {
    sed -i "s|^cache-dir = .*|cache-dir = $1|" "$HSMCACHE_CONF"
}

# hostile_raw USER CMD ARGS: speaks the agent protocol (proto.h) as USER,
# at the protocol version of the hsmcached under test (hc_proto_version),
# and prints "rv=0x... MESSAGE" for the reply, or "no reply: ..." when
# the agent closed the connection (or died):
#   gen-wrap TOKEN LABEL     EC P-256 key pair generation whose public
#                            template carries CKA_WRAP_TEMPLATE: two
#                            CK_ATTRIBUTEs with pointers 0x4141414141414141
#   find-wrap TOKEN          find public keys with CKA_WRAP_TEMPLATE (same
#                            garbage)
#   attr-wrap REF            get-attributes of CKA_UNWRAP_TEMPLATE (48-byte
#                            buffer) and CKA_LABEL on object REF; also
#                            prints the two lengths ("-" unavailable)
#   gen-bool TOKEN LABEL     generation with CKA_SIGN given as 8 bytes
#   sign-raw REF MECH HEX    a signature with mechanism MECH (number) and a
#                            parameter sent as plain bytes HEX (what the
#                            old wire format passed to the module)
#   sign-pss REF HASH MGF SLEN  CKM_SHA256_RSA_PKCS_PSS, its parameter
#                            field by field
#   pubkey REF FILE          writes object REF's public key (DER SPKI)
#   decrypt REF MECH FILE    decrypts FILE's bytes with MECH: "oaep"
#                            (SHA-1, MGF1-SHA1, no label, field by field)
#                            or a number (no parameter); prints also
#                            "plain=HEX"
hostile_raw() {
    local u=$1
    shift
    [ -f "$T/hostile-raw.py" ] || cat > "$T/hostile-raw.py" <<'EOP'
import sys
from agentwire import *
path, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
CKM_EC_KEY_PAIR_GEN = 0x1040
P256 = bytes.fromhex('06082a8648ce3d030107')
GARBAGE = (ul(CKA_LABEL) + ul(0x4141414141414141) + ul(16)) * 2
def gen(token, label, pub_extra, priv_extra):
    pub = [(CKA_TOKEN, b'\1'), (CKA_LABEL, label), (CKA_EC_PARAMS, P256), (CKA_VERIFY, b'\1')] + pub_extra
    priv = [(CKA_TOKEN, b'\1'), (CKA_LABEL, label)] + priv_extra
    body = s(token) + u64(CKM_EC_KEY_PAIR_GEN) + b'\0' + s(b'') + tmpl(pub) + tmpl(priv)
    return call(connect(path, 20), OP_GENERATE, body)
try:
    if cmd == 'gen-wrap':
        r = gen(args[0], args[1], [(CKA_WRAP_TEMPLATE, GARBAGE)], [(CKA_SIGN, b'\1')])
    elif cmd == 'gen-bool':
        r = gen(args[0], args[1], [], [(CKA_SIGN, ul(1))])
    elif cmd == 'find-wrap':
        r = call(connect(path, 20), OP_FIND, s(args[0]) + tmpl([(CKA_CLASS, ul(CKO_PUBLIC_KEY)),
                                                               (CKA_WRAP_TEMPLATE, GARBAGE)]))
    elif cmd == 'attr-wrap':
        body = u64(int(args[0])) + u32(2) + u64(CKA_UNWRAP_TEMPLATE) + b'\1' + u64(48) \
            + u64(CKA_LABEL) + b'\1' + u64(64)
        r = call(connect(path, 20), OP_GET_ATTRS, body)
        lens = []
        for _ in range(2):
            n = r.u64(); r.str()
            lens.append('-' if n == 2**64 - 1 else str(n))
        r.msg += ' [lengths %s]' % ' '.join(lens)
    elif cmd in ('sign-raw', 'sign-pss'):
        if cmd == 'sign-raw':
            mech = u64(int(args[1], 0)) + b'\0' + s(bytes.fromhex(args[2]))
        else:
            mech = u64(0x43) + b'\3' + u64(int(args[1], 0)) + u64(int(args[2], 0)) + u64(int(args[3], 0))
        body = (u64(int(args[0])) + mech + s(b'\x11' * 32) + b'\0' + u64(0) + b'\1' + u64(512))
        r = call(connect(path, 20), OP_SIGN, body)
    elif cmd == 'pubkey':
        r = call(connect(path, 20), OP_PUBLIC_KEY, u64(int(args[0])))
        open(args[1], 'wb').write(r.str())
    elif cmd == 'decrypt':
        if args[1] == 'oaep':
            mech = u64(9) + b'\1' + u64(0x220) + u64(1) + u64(1) + s(b'')
        else:
            mech = u64(int(args[1], 0)) + b'\0' + s(b'')
        data = open(args[2], 'rb').read()
        r = call(connect(path, 20), OP_CRYPT, b'\0' + u64(int(args[0])) + mech + s(data) + b'\1' + u64(512))
        r.u64()
        r.msg += ' plain=' + r.str().hex()
    else:
        sys.exit('hostile_raw: unknown command ' + cmd)
except (EOFError, BrokenPipeError, ConnectionResetError) as e:
    print('no reply: closed by the agent')
    sys.exit(1)
print('rv=0x%x %s' % (r.rv, r.msg))
EOP
    agentwire_run "$u" "$T/hostile-raw.py" "$@"
}

# agent_alive PID: the agent with that pid still runs and answers.
agent_alive() {
    kill -0 "$1" 2>/dev/null && [ "$(cat "$T/agent.pid" 2>/dev/null)" = "$1" ]
}

# hostile_socks USER MODE N STOPFILE [SECONDS]: N connections to the agent
# as USER, kept until STOPFILE exists (at most SECONDS, default 60).
# MODE silent: they never send a byte; hello: each says hello first;
# late: each sends one byte 8 s after opening, then nothing (a request
# begun in time that never completes).
# Prints "opened K" as soon as they are open, "agent-closed S" when the
# agent closes the first of them, then at the end
# "closed J open K first-close S" (S: seconds from opening to the first
# close by the agent, "-" if none).
hostile_socks() {
    local u=$1
    shift
    [ -f "$T/hostile-socks.py" ] || cat > "$T/hostile-socks.py" <<'EOP'
import os, select, sys, time
from agentwire import *
path, mode, n, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
limit = float(sys.argv[5]) if len(sys.argv) > 5 else 60
socks = []
start = time.monotonic()
for _ in range(n):
    try:
        c = open_socket(path, 10)
        if mode == 'hello':
            hello(c)
        c.settimeout(None)
        socks.append(c)
    except (OSError, EOFError):
        break
print('opened %d' % len(socks), flush=True)
closed, first, late = set(), None, mode == 'late'
while time.monotonic() - start < limit and not os.path.exists(stop):
    if late and time.monotonic() - start >= 8:
        late = False
        for c in socks:
            try:
                c.send(b'\0')
            except OSError:
                pass
    r, _, _ = select.select([c for c in socks if c not in closed], [], [], 0.1)
    for c in r:
        try:
            data = c.recv(4096)
        except OSError:
            data = b''
        if not data:
            closed.add(c)
            if first is None:
                first = time.monotonic() - start
                print('agent-closed %.1f' % first, flush=True)
print('closed %d open %d first-close %s' % (len(closed), len(socks) - len(closed),
      '-' if first is None else '%.1f' % first), flush=True)
EOP
    agentwire_run "$u" "$T/hostile-socks.py" "$@"
}

# hostile_wait_for FILE TEXT: waits (up to 10 s) until FILE contains TEXT.
hostile_wait_for() {
    local i
    for i in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}

# token_objects LABEL: every object on the SoftHSM token LABEL, read
# through the real module (not hsmcache), logged in: its kind and label
# lines. The PIN crosses argv: a test-only exception, on a throwaway token
# (as in pkcs11_tool_battery.sh).
token_objects() {
    printf '%s' "$PIN" > "$T/objects.pin"
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$1" --login \
        --pin "$(cat "$T/objects.pin")" -O 2>/dev/null |
        grep -E '^(Private|Public) Key Object|^Secret|^Data|^Certificate|^ *label:'
}

# hostile_call USER CMD ARGS: one agent request as USER, spoken directly
# (the protocol of shared/src/proto/proto.h), on one connection after hello:
#   login TOKEN PINFILE     the `login` operation with the PIN in PINFILE
#   status TOKEN            token status
#   status-loop TOKEN SECS  token status as fast as answered for SECS
#                           seconds; prints "calls N rv=0x..."
#   stats                   prints the stats text
#   mechs TOKEN             the mechanism count ("rv=0x... count N")
#   find TOKEN LABEL        private keys LABEL ("rv=0x... found N")
#   tokens                  the hello reply's token list ("tokens A B ...")
#   sign-all TOKEN LABEL    one ECDSA signature with each private key
#                           LABEL found ("rv=0x... signed N")
# Prints "rv=0x... MESSAGE" (status: "rv=0x... present P").
hostile_call() {
    local u=$1
    shift
    [ -f "$T/hostile-call.py" ] || cat > "$T/hostile-call.py" <<'EOP'
import sys, time
from agentwire import *
path, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
c = open_socket(path, 30)
r = hello(c)
if r.rv:
    print('rv=0x%x %s' % (r.rv, r.msg)); sys.exit(1)
if cmd == 'login':
    pin = open(args[1], 'rb').read().rstrip(b'\n')
    r = call(c, OP_LOGIN_WITH, s(args[0]) + s(pin))
    print('rv=0x%x %s' % (r.rv, r.msg))
elif cmd == 'status':
    r = call(c, OP_TOKEN_STATUS, s(args[0]))
    print('rv=0x%x %s' % (r.rv, r.msg))
elif cmd == 'status-loop':
    end, n = time.monotonic() + float(args[1]), 0
    while time.monotonic() < end:
        r = call(c, OP_TOKEN_STATUS, s(args[0]))
        n += 1
    print('calls %d rv=0x%x %s' % (n, r.rv, r.msg))
elif cmd == 'mechs':
    r = call(c, OP_MECHANISMS, s(args[0]) + b'\0' + u64(0))
    print('rv=0x%x %s count %d' % (r.rv, r.msg, r.u64()))
elif cmd == 'find':
    r = call(c, OP_FIND, find_private_keys(args[0], args[1]))
    print('rv=0x%x %s found %d' % (r.rv, r.msg, r.u32()))
elif cmd == 'tokens':
    r.u64(); r.u8()
    print(' '.join(['tokens'] + [r.str().decode() for _ in range(r.u32())]))
elif cmd == 'sign-all':
    r = call(c, OP_FIND, find_private_keys(args[0], args[1]))
    refs = []
    for _ in range(r.u32()):
        refs.append(r.u64())
        r.u64(); r.str(); r.str()   # class, id, label
    n = 0
    for ref in refs:
        r = call(c, OP_SIGN, u64(ref) + u64(0x1041) + b'\0' + s(b'') + s(b'\x11' * 32)
                 + b'\0' + u64(0) + b'\1' + u64(512))
        n += r.rv == 0
    print('rv=0x%x %s signed %d' % (r.rv, r.msg, n))
elif cmd == 'stats':
    r = call(c, OP_STATS, b'\0')
    print('rv=0x%x %s' % (r.rv, r.msg))
    print(r.str().decode(errors='replace'))
EOP
    agentwire_run "$u" "$T/hostile-call.py" "$@"
}
