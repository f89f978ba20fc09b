"""tests/lib/hostile_api.py: a client that calls libhsmcache's public API
(shared/include/hsmcache.h) with whatever a hostile local user would pass,
through the agent transport when the config names one. It asks what the
ordinary tools never ask (an extractable key, a forged audit record) while
staying independent of the wire format.

    python3 hostile_api.py LIBHSMCACHE keygen PROFILE TOKEN LABEL [ATTR=V...]
        one EC P-256 key pair; ATTR: sensitive, extractable, destroyable,
        pub-destroyable, token (0/1), id (hex, both halves), pub-label
        (the public half's label; default LABEL). Prints "rv=0x... MESSAGE".
    python3 hostile_api.py LIBHSMCACHE audit PROFILE FILE
        hc_audit with FILE's bytes as the record (no NUL). Same output.
Exit status 0 when the call returned CKR_OK, 1 otherwise.
"""
import ctypes as C
import sys

CK_ULONG = C.c_ulong
CKA = {"class": 0x0, "token": 0x1, "label": 0x3, "id": 0x102, "sensitive": 0x103,
       "extractable": 0x162, "destroyable": 0x172, "sign": 0x108, "verify": 0x10a,
       "ec_params": 0x180}
CKM_EC_KEY_PAIR_GEN = 0x1040
P256 = bytes.fromhex("06082a8648ce3d030107")


class Attr(C.Structure):
    _fields_ = [("type", CK_ULONG), ("pValue", C.c_void_p), ("ulValueLen", CK_ULONG)]


class Mech(C.Structure):
    _fields_ = [("mechanism", CK_ULONG), ("pParameter", C.c_void_p),
                ("ulParameterLen", CK_ULONG)]


class Err(C.Structure):
    _fields_ = [("rv", CK_ULONG), ("msg", C.c_char * 512)]


keep = []


def attr(name, value):
    buf = C.create_string_buffer(value, len(value))
    keep.append(buf)
    return Attr(CKA[name], C.cast(buf, C.c_void_p), len(value))


def template(attrs):
    arr = (Attr * max(len(attrs), 1))(*attrs)
    keep.append(arr)
    return arr, len(attrs)


def main():
    lib = C.CDLL(sys.argv[1])
    cmd, profile = sys.argv[2], sys.argv[3].encode()
    ctx, err = C.c_void_p(), Err()
    rv = lib.hc_open(profile, None, C.byref(ctx), C.byref(err))
    if rv == 0 and cmd == "keygen":
        token, label, opts = sys.argv[4], sys.argv[5], sys.argv[6:]
        lib.hc_token_index.restype = C.c_long
        tok = lib.hc_token_index(ctx, token.encode())
        if tok < 0:
            print("rv=none no token %s" % token)
            return 1
        o = dict(x.split("=", 1) for x in opts)
        boolean = lambda v: bytes([int(v)])
        pub = [attr("token", b"\1"), attr("verify", b"\1"), attr("ec_params", P256),
               attr("label", o.pop("pub-label", label).encode())]
        priv = [attr("token", boolean(o.pop("token", "1"))), attr("sign", b"\1"),
                attr("label", label.encode())]
        if "id" in o:
            i = bytes.fromhex(o.pop("id"))
            pub.append(attr("id", i))
            priv.append(attr("id", i))
        if "pub-destroyable" in o:
            pub.append(attr("destroyable", boolean(o.pop("pub-destroyable"))))
        for k in list(o):
            priv.append(attr(k, boolean(o.pop(k))))
        p, np_ = template(pub)
        q, nq = template(priv)
        m = Mech(CKM_EC_KEY_PAIR_GEN, None, 0)
        hp, hq = C.c_uint64(), C.c_uint64()
        lib.hc_generate_key_pair.argtypes = [C.c_void_p, C.c_size_t, C.c_void_p, C.c_void_p,
                                             CK_ULONG, C.c_void_p, CK_ULONG, C.c_void_p,
                                             C.c_void_p, C.c_void_p]
        rv = lib.hc_generate_key_pair(ctx, tok, C.byref(m), p, np_, q, nq, C.byref(hp),
                                      C.byref(hq), C.byref(err))
    elif rv == 0 and cmd == "audit":
        record = open(sys.argv[4], "rb").read()
        # path: the plugin's log, which the agent does not take from a client
        # (argv[5]: a decoy the test checks is never written)
        decoy = sys.argv[5].encode() if len(sys.argv) > 5 else b"/nonexistent/decoy.log"
        rv = lib.hc_audit(ctx, C.c_char_p(decoy), C.c_char_p(record),
                          C.byref(err))
    print("rv=0x%x %s" % (rv & 0xffffffff, err.msg.decode(errors="replace") if rv else ""))
    return 0 if rv == 0 else 1


sys.exit(main())
