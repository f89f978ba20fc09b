#!/usr/bin/env bash
# Audit records the agent can vouch for (issue 13, item 5). Clients send
# SSH CA audit records to hsmcached themselves (libhsmcache's hc_audit, as
# the SSH CA module does), as separate uids:
#   hc-aud-o  [client other]: signs with another key, not the CA's;
#   hc-aud-g  [client gen]:   the CA key in its keys, but only `generate`;
#   hc-aud-c  [client ca]:    may sign with the CA key.
# The first two are refused whatever they send (hc-aud-o also when the
# record names its own key: only the [sshca] keys go into the SSH CA's
# log), and the log is unchanged.
# hc-aud-c's well-formed record is written with the uid, pid and client
# the agent saw; its hostile ones are refused (a forged peer_uid or any
# other extra field, a raw control character, invalid UTF-8, two objects,
# a key twice, a wrong type, a missing field) or neutralised (escaped
# control characters, DEL and non-ASCII stay escaped in the file). At the end
# the log holds only whole lines of printable ASCII, each one JSON object
# with exactly the module's fields in its order and the agent's three,
# each peer_uid hc-aud-c's: the accepted records and the real ssh-keygen
# run through the SSH CA module.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/hostile.sh"
hostile_setup hc-aud-sock hc-aud-o hc-aud-g hc-aud-c   # other users also reach $T/rec (mode 755 below)
make_token sshtok
AUDIT=$T/audit.log
write_config ssh softhsm2 sshtok "[agent]" "socket-group = hc-aud-sock" \
    "[client other]" "uid = hc-aud-o" "keys = pkcs11:token=ssh;object=other" "operations = sign" \
    "[client gen]" "uid = hc-aud-g" "keys = pkcs11:token=ssh;object=ca" "operations = generate" \
    "[client ca]" "uid = hc-aud-c" "keys = pkcs11:token=ssh;object=ca" "operations = sign" \
    "[sshca]" "keys = pkcs11:token=ssh;object=ca" "audit-log = $AUDIT"
chmod 644 "$HSMCACHE_CONF"
store_pin ssh
for k in ca other; do "$HC" keygen ssh "$k" ecdsa-p256 > /dev/null; done

# The records, one file each (bytes as sent).
mkdir -m 755 "$T/rec"
python3 - "$T/rec" <<'EOP'
import json, sys
d = sys.argv[1]
base = {"time": "2026-01-01T00:00:00Z", "uid": 0, "user": "root", "pid": 1,
        "host": "ssh-keygen", "identity": "id", "principals": "p", "validity": "+1h",
        "serial": None, "options": [], "host_certificate": False, "key_file": "/k.pub",
        "public_key": None, "public_key_fingerprint": None,
        "ca_key": "pkcs11:token=ssh;object=ca", "ca_fingerprint": None, "result": "signed"}
def put(name, text):
    open(f"{d}/{name}", "wb").write(text if isinstance(text, bytes) else text.encode())
def rec(**kw):
    r = dict(base)
    r.update(kw)
    return json.dumps(r, separators=(",", ":"))
put("valid", rec())
put("other-key", rec(ca_key="pkcs11:token=ssh;object=other"))
put("escaped", rec(identity="a\nb\u0007c\u00e9\u2028\x7fd", result="signed"))  # DEL stays raw
put("forged-peer", rec(peer_uid=0, peer_pid=1, client="root"))
put("extra-field", rec(note="hello"))
put("raw-newline", rec(identity="XX").replace('"XX"', '"a\nb"'))
put("raw-escape", rec(identity="XX").replace('"XX"', '"a\x1b[2Jb"'))
put("bad-utf8", rec(identity="XX").encode().replace(b'"XX"', b'"a\xff\xfeb"'))
put("two-objects", rec() + rec())
put("two-lines", rec() + "\n" + rec())
put("key-twice", rec()[:-1] + ',"result":"refused"}')
put("wrong-type", rec(uid="0"))
put("missing-field", json.dumps({k: v for k, v in base.items() if k != "result"}))
put("array", "[" + rec() + "]")
put("not-json", "{not json}")
put("no-ca-key", rec(ca_key=None))
EOP
chmod 644 "$T/rec"/*
sum() { if [ -f "$AUDIT" ]; then sha256sum < "$AUDIT"; else echo none; fi; }

# Without the sign permission on the CA key: refused, nothing written.
before=$(sum)
expect_fail "hc-aud-o (signs another key) sends a record naming the CA key: refused" \
    "ca_key 'pkcs11:token=ssh;object=ca' names no private key in its keys" hostile_api hc-aud-o audit sshca "$T/rec/valid"
expect_fail "... and one naming its own key (not an [sshca] key): refused" \
    "its ca_key 'pkcs11:token=ssh;object=other' is not one of the [sshca] keys in $HSMCACHE_CONF" \
    hostile_api hc-aud-o audit sshca "$T/rec/other-key"
expect_fail "hc-aud-g (the CA key, but no sign operation): refused" \
    "refused an audit record from [client gen]: 'sign' is not in its operations" hostile_api hc-aud-g audit sshca "$T/rec/valid"
equals "... the audit log is unchanged" "$(sum)" "$before"

# hc-aud-c may sign with the CA key: its hostile records.
for r in forged-peer extra-field raw-newline raw-escape bad-utf8 two-objects two-lines key-twice \
         wrong-type missing-field array not-json no-ca-key other-key; do
    expect_fail "hc-aud-c sends a record ($r): refused" "hsmcached" hostile_api hc-aud-c audit sshca "$T/rec/$r"
done
equals "... and the audit log is unchanged" "$(sum)" "$before"
n=$(grep -c "client ca (uid $(id -u hc-aud-c), pid [0-9]*): refused an audit record" "$T/agent.log")
equals "... the agent logs each refusal with the client's uid" "$n" "14"
check "hc-aud-c's well-formed record: written" hostile_api hc-aud-c audit sshca "$T/rec/valid" "$T/decoy.log"
check "... one with escaped control characters and non-ASCII: written" hostile_api hc-aud-c audit sshca "$T/rec/escaped" "$T/decoy.log"
check "... to the agent's [sshca] audit-log only: the path the client named was not written" \
    test ! -e "$T/decoy.log"

# The real flow: ssh-keygen as hc-aud-c through the SSH CA module.
"$HC" sshca pubkey > "$T/ca.pub"
mkdir -m 700 "$T/c"
chown hc-aud-c "$T/c"
agent_as hc-aud-c ssh-keygen -q -t ed25519 -N '' -f "$T/c/user"
agent_as hc-aud-c ssh-keygen -s "$T/ca.pub" -D "$BUILD/hsmcache-sshca.so" -I real -n hc-aud-c -V +1h \
    "$T/c/user.pub" < /dev/null > "$T/sign.out" 2>&1
contains "ssh-keygen as hc-aud-c signs through the SSH CA module" \
    "$(ssh-keygen -L -f "$T/c/user-cert.pub" 2>&1)" "$(ssh-keygen -l -f "$T/ca.pub" | awk '{print $2}')"

check "the audit log: 3 whole canonical lines of printable ASCII, each peer_uid hc-aud-c's" \
    python3 - "$AUDIT" "$(id -u hc-aud-c)" <<'EOP'
import json, sys
fields = ["time", "uid", "user", "pid", "host", "identity", "principals", "validity", "serial",
          "options", "host_certificate", "key_file", "public_key", "public_key_fingerprint",
          "ca_key", "ca_fingerprint", "result", "peer_uid", "peer_pid", "client"]
raw = open(sys.argv[1], "rb").read()
assert raw.endswith(b"\n"), raw[-50:]
lines = raw.split(b"\n")[:-1]
assert len(lines) == 3, lines
for l in lines:
    assert all(0x20 <= c < 0x7f for c in l), ("not printable ASCII", l)
    r = json.loads(l)
    assert list(r) == fields, ("fields", list(r))
    assert r["peer_uid"] == int(sys.argv[2]) and r["client"] == "ca", r
    assert r["peer_pid"] > 1, r
assert json.loads(lines[1])["identity"] == "a\nb\u0007c\u00e9\u2028\x7fd", lines[1]
assert json.loads(lines[2])["identity"] == "real" and json.loads(lines[2])["result"] == "signed", lines[2]
assert json.loads(lines[2])["uid"] == int(sys.argv[2]), lines[2]
EOP
done_testing
