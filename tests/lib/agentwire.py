"""tests/lib/agentwire.py: a deliberately hostile, raw client of hsmcached's
wire protocol (shared/src/proto/proto.h), for tests only. It builds frames by hand
so that tests can send what libhsmcache never would (garbage pointers in
templates, wrong-sized values, parameters as plain bytes, idle or
half-sent requests). It is the one copy of the framing shared by the
clients that tests/lib/env.sh (agent_raw) and tests/lib/hostile.sh
(hostile_raw, hostile_call, hostile_socks) run as other uids through
agentwire_run (PYTHONPATH=tests/lib), and by agent_protocol.sh's
malformed messages.

The protocol version sent is HC_PROTO_VERSION from the environment, which
the callers set from hc_proto_version (the proto.h of the hsmcached under
test), so that these clients also speak to older builds.
"""
import os
import socket
import struct

VERSION = int(os.environ.get('HC_PROTO_VERSION', '1'))

# The HC_OP_* codes (proto.h) these clients send.
OP_HELLO, OP_TOKEN_STATUS, OP_MECHANISMS, OP_LOGIN_WITH = 1, 2, 3, 5
OP_FIND, OP_GET_ATTRS, OP_PUBLIC_KEY, OP_SIGN = 7, 8, 9, 11
OP_CRYPT, OP_GENERATE, OP_STATS = 14, 15, 18

# PKCS#11 values the clients put in templates.
CKA_CLASS, CKA_TOKEN, CKA_LABEL, CKA_SIGN, CKA_VERIFY = 0, 1, 3, 0x108, 0x10a
CKA_EC_PARAMS, CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE = 0x180, 0x40000211, 0x40000212
CKO_PUBLIC_KEY, CKO_PRIVATE_KEY = 2, 3


def frame(op, body):
    """A request: length, version, operation, body."""
    body = bytes([VERSION, op]) + body
    return struct.pack('>I', len(body)) + body


def s(x):
    """A length-prefixed string or byte string."""
    x = x.encode() if isinstance(x, str) else x
    return struct.pack('>I', len(x)) + x


def u32(v): return struct.pack('>I', v)
def u64(v): return struct.pack('>Q', v)
def ul(v): return struct.pack('=Q', v)          # a CK_ULONG in host order


def tmpl(attrs):
    """A template: [(CKA_..., value bytes or str), ...]."""
    return u32(len(attrs)) + b''.join(u64(t) + s(v) for t, v in attrs)


def find_private_keys(token, label):
    """The body of a find request for the private keys LABEL on TOKEN."""
    return s(token) + tmpl([(CKA_CLASS, ul(CKO_PRIVATE_KEY)), (CKA_LABEL, label)])


def exactly(c, n):
    """N bytes from socket C; EOFError when the agent closed it first."""
    b = b''
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError('closed by the agent')
        b += d
    return b


class Reply:
    """One reply read from socket C: rv and msg, then the body read field
    by field (u8, u32, u64, str)."""
    def __init__(self, c):
        self.b, self.o = exactly(c, struct.unpack('>I', exactly(c, 4))[0]), 2
        self.rv, self.msg = self.u64(), self.str().decode(errors='replace')

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


def open_socket(path, timeout):
    """A connection to the agent at PATH, nothing said yet."""
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(timeout)
    c.connect(path)
    return c


def hello(c):
    """The hello every client says first; its Reply."""
    return call(c, OP_HELLO, s('cli'))


def connect(path, timeout):
    """A connection that said hello; ConnectionError when refused."""
    c = open_socket(path, timeout)
    r = hello(c)
    if r.rv:
        raise ConnectionError('hello refused: ' + r.msg)
    return c
