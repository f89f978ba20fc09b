# tests/lib/hostile.sh: helpers for the hostile_*.sh tests (sourced after
# env.sh): clients that send what the ordinary ones never would.
#
# NOTE (helper P, 15:27): this file was overwritten by accident while its
# first version (helpers L and G) was uncommitted; hostile_api,
# hostile_give_tree and hostile_set_cache_dir below are RECONSTRUCTED from
# their callers (hostile_keygen.sh, hostile_lockout.sh, hostile_api.py).
# Their owners: please check them against what you wrote.

# hostile_api USER CMD PROFILE ARGS...: tests/lib/hostile_api.py as USER,
# with the test's config, on this build's libhsmcache.
hostile_api() {
    local u=$1
    shift
    runuser -u "$u" -- env HSMCACHE_CONF="$HSMCACHE_CONF" \
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
import os, socket, struct, sys
path, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
V = int(os.environ.get('HC_PROTO_VERSION', '1'))
def frame(op, body):
    body = bytes([V, op]) + body
    return struct.pack('>I', len(body)) + body
def s(x):
    x = x.encode() if isinstance(x, str) else x
    return struct.pack('>I', len(x)) + x
def u64(v): return struct.pack('>Q', v)
def u32(v): return struct.pack('>I', v)
def ul(v): return struct.pack('=Q', v)          # a CK_ULONG in host order
def exactly(c, n):
    b = b''
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError('closed by the agent')
        b += d
    return b
class Reply:
    def __init__(self, c):
        self.b, self.o = exactly(c, struct.unpack('>I', exactly(c, 4))[0]), 2
        self.rv, self.msg = self.u64(), self.str().decode()
    def take(self, n):
        self.o += n
        return self.b[self.o - n:self.o]
    def u8(self): return self.take(1)[0]
    def u32(self): return struct.unpack('>I', self.take(4))[0]
    def u64(self): return struct.unpack('>Q', self.take(8))[0]
    def str(self): return self.take(self.u32())
def call(c, op, body):
    c.sendall(frame(op, body))
    return Reply(c)
def connect():
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(20)
    c.connect(path)
    r = call(c, 1, s('cli'))
    if r.rv:
        raise ConnectionError('hello refused: ' + r.msg)
    return c
def tmpl(attrs):
    return u32(len(attrs)) + b''.join(u64(t) + s(v) for t, v in attrs)
CKA_CLASS, CKA_TOKEN, CKA_LABEL, CKA_SIGN, CKA_VERIFY = 0, 1, 3, 0x108, 0x10a
CKA_EC_PARAMS, CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE = 0x180, 0x40000211, 0x40000212
CKO_PUBLIC_KEY, CKM_EC_KEY_PAIR_GEN = 2, 0x1040
P256 = bytes.fromhex('06082a8648ce3d030107')
GARBAGE = (ul(CKA_LABEL) + ul(0x4141414141414141) + ul(16)) * 2
def gen(token, label, pub_extra, priv_extra):
    pub = [(CKA_TOKEN, b'\1'), (CKA_LABEL, label), (CKA_EC_PARAMS, P256), (CKA_VERIFY, b'\1')] + pub_extra
    priv = [(CKA_TOKEN, b'\1'), (CKA_LABEL, label)] + priv_extra
    body = s(token) + u64(CKM_EC_KEY_PAIR_GEN) + b'\0' + s(b'') + tmpl(pub) + tmpl(priv)
    return call(connect(), 15, body)
try:
    if cmd == 'gen-wrap':
        r = gen(args[0], args[1], [(CKA_WRAP_TEMPLATE, GARBAGE)], [(CKA_SIGN, b'\1')])
    elif cmd == 'gen-bool':
        r = gen(args[0], args[1], [], [(CKA_SIGN, ul(1))])
    elif cmd == 'find-wrap':
        r = call(connect(), 7, s(args[0]) + tmpl([(CKA_CLASS, ul(CKO_PUBLIC_KEY)),
                                                  (CKA_WRAP_TEMPLATE, GARBAGE)]))
    elif cmd == 'attr-wrap':
        body = u64(int(args[0])) + u32(2) + u64(CKA_UNWRAP_TEMPLATE) + b'\1' + u64(48) \
            + u64(CKA_LABEL) + b'\1' + u64(64)
        r = call(connect(), 8, body)
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
        r = call(connect(), 11, body)
    elif cmd == 'pubkey':
        r = call(connect(), 9, u64(int(args[0])))
        open(args[1], 'wb').write(r.str())
    elif cmd == 'decrypt':
        if args[1] == 'oaep':
            mech = u64(9) + b'\1' + u64(0x220) + u64(1) + u64(1) + s(b'')
        else:
            mech = u64(int(args[1], 0)) + b'\0' + s(b'')
        data = open(args[2], 'rb').read()
        r = call(connect(), 14, b'\0' + u64(int(args[0])) + mech + s(data) + b'\1' + u64(512))
        r.u64()
        r.msg += ' plain=' + r.str().hex()
    else:
        sys.exit('hostile_raw: unknown command ' + cmd)
except (EOFError, BrokenPipeError, ConnectionResetError) as e:
    print('no reply: closed by the agent')
    sys.exit(1)
print('rv=0x%x %s' % (r.rv, r.msg))
EOP
    chmod 644 "$T/hostile-raw.py"
    runuser -u "$u" -- env HC_PROTO_VERSION="$(hc_proto_version)" \
        python3 "$T/hostile-raw.py" "$T/agent.sock" "$@"
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
import os, select, socket, struct, sys, time
path, mode, n, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
limit = float(sys.argv[5]) if len(sys.argv) > 5 else 60
def hello(c):
    body = bytes([int(os.environ.get('HC_PROTO_VERSION', '1')), 1]) + struct.pack('>I', 3) + b'cli'
    c.sendall(struct.pack('>I', len(body)) + body)
    c.settimeout(10)
    hdr = c.recv(4)
    need = struct.unpack('>I', hdr)[0]
    got = b''
    while len(got) < need:
        got += c.recv(need - len(got))
    c.settimeout(None)
socks = []
start = time.monotonic()
for _ in range(n):
    try:
        c = socket.socket(socket.AF_UNIX)
        c.connect(path)
        if mode == 'hello':
            hello(c)
        socks.append(c)
    except OSError:
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
    chmod 644 "$T/hostile-socks.py"
    runuser -u "$u" -- env HC_PROTO_VERSION="$(hc_proto_version)" \
        python3 "$T/hostile-socks.py" "$T/agent.sock" "$@"
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
# (the protocol of shared/src/proto.h), on one connection after hello:
#   login TOKEN PINFILE     the `login` operation with the PIN in PINFILE
#   status TOKEN            token status
#   status-loop TOKEN SECS  token status as fast as answered for SECS
#                           seconds; prints "calls N rv=0x..."
#   stats                   prints the stats text
#   mechs TOKEN             the mechanism count ("rv=0x... count N")
#   find TOKEN LABEL        private keys LABEL ("rv=0x... found N")
# Prints "rv=0x... MESSAGE" (status: "rv=0x... present P").
hostile_call() {
    local u=$1
    shift
    [ -f "$T/hostile-call.py" ] || cat > "$T/hostile-call.py" <<'EOP'
import os, socket, struct, sys, time
path, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
def s(x):
    x = x.encode() if isinstance(x, str) else x
    return struct.pack('>I', len(x)) + x
def exactly(c, n):
    b = b''
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError('closed by the agent')
        b += d
    return b
def call(c, op, body):
    body = bytes([int(os.environ.get('HC_PROTO_VERSION', '1')), op]) + body
    c.sendall(struct.pack('>I', len(body)) + body)
    b = exactly(c, struct.unpack('>I', exactly(c, 4))[0])
    rv = struct.unpack('>Q', b[2:10])[0]
    n = struct.unpack('>I', b[10:14])[0]
    return rv, b[14:14 + n].decode(errors='replace'), b[14 + n:]
c = socket.socket(socket.AF_UNIX)
c.settimeout(30)
c.connect(path)
rv, msg, _ = call(c, 1, s('cli'))
if rv:
    print('rv=0x%x %s' % (rv, msg)); sys.exit(1)
if cmd == 'login':
    pin = open(args[1], 'rb').read().rstrip(b'\n')
    rv, msg, _ = call(c, 5, s(args[0]) + s(pin))
    print('rv=0x%x %s' % (rv, msg))
elif cmd == 'status':
    rv, msg, rest = call(c, 2, s(args[0]))
    print('rv=0x%x %s' % (rv, msg))
elif cmd == 'status-loop':
    end, n = time.monotonic() + float(args[1]), 0
    while time.monotonic() < end:
        rv, msg, _ = call(c, 2, s(args[0]))
        n += 1
    print('calls %d rv=0x%x %s' % (n, rv, msg))
elif cmd == 'mechs':
    rv, msg, rest = call(c, 3, s(args[0]) + b'\0' + struct.pack('>Q', 0))
    print('rv=0x%x %s count %d' % (rv, msg, struct.unpack('>Q', rest[:8])[0]))
elif cmd == 'find':
    tmpl = (struct.pack('>I', 2) + struct.pack('>Q', 0) + s(struct.pack('=Q', 3))
            + struct.pack('>Q', 3) + s(args[1]))
    rv, msg, rest = call(c, 7, s(args[0]) + tmpl)
    print('rv=0x%x %s found %d' % (rv, msg, struct.unpack('>I', rest[:4])[0]))
elif cmd == 'stats':
    rv, msg, rest = call(c, 18, b'\0')
    n = struct.unpack('>I', rest[:4])[0]
    print('rv=0x%x %s' % (rv, msg))
    print(rest[4:4 + n].decode(errors='replace'))
EOP
    chmod 644 "$T/hostile-call.py"
    runuser -u "$u" -- env HC_PROTO_VERSION="$(hc_proto_version)" \
        python3 "$T/hostile-call.py" "$T/agent.sock" "$@"
}
