#!/usr/bin/env python3
"""sshca_diff.py: one row of the SSH CA differential test (sshca_differential.sh).

    sshca_diff.py EXPECT KEYDIR AUDIT_NEW KEYGEN_OUT KEYGEN_STATUS

Compares what ssh-keygen did (the certificates it wrote in KEYDIR, read back
with `ssh-keygen -L` in UTC) with what the SSH CA module audited (AUDIT_NEW:
the audit lines the run appended), against the row's EXPECT:

  signs:N       N certificates written, N audit lines "signed", and each
                certificate equals its line on type, key id, serial,
                principals, validity and options; no other line;
  refused:RULE  no certificate, ssh-keygen failed naming the rule, every
                audit line "refused: RULE";
  none          ssh-keygen stopped on its own: no certificate, no audit line
                (the module was never asked to sign).

Prints one line saying what it saw; exit status 0 when the row holds.
"""
import glob
import json
import os
import subprocess
import sys
from datetime import datetime, timezone

U64 = 2**64 - 1


def fail(msg):
    print("MISMATCH: " + msg)
    sys.exit(1)


def cert_path(keydir, key_file):
    """ssh-keygen's name for the certificate of key_file (do_ca_sign)."""
    p = key_file if os.path.isabs(key_file) else os.path.join(keydir, key_file)
    return (p[:-4] if p.endswith(".pub") else p) + "-cert.pub"


def read_cert(path):
    """The fields of `ssh-keygen -L -f path` (9.2's print_cert layout)."""
    out = subprocess.run(["ssh-keygen", "-L", "-f", path], capture_output=True,
                         env=dict(os.environ, TZ="UTC"), stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        fail(f"ssh-keygen -L {path}: {out.stderr.decode(errors='replace')}")
    cert = {"principals": [], "critical": [], "extensions": []}
    section = None
    for line in out.stdout.decode("utf-8", "surrogateescape").splitlines()[1:]:
        if line.startswith(" " * 16):                   # an item of a list
            if not section:
                fail(f"{path}: item outside a list: {line!r}")
            item = line[16:]
            if section == "principals":
                cert["principals"].append(item)
            else:
                cert[section].append(parse_option(item, section == "critical"))
            continue
        key, _, val = line[8:].partition(": ")
        section = None
        if key == "Type":
            cert["type"] = val.split()[-2]              # "... user certificate"
        elif key == "Key ID":
            cert["key_id"] = val[1:-1]
        elif key == "Serial":
            cert["serial"] = int(val)
        elif key == "Valid":
            cert["valid"] = parse_valid(val)
        elif key in ("Principals", "Critical Options", "Extensions"):
            if val != "(none)":
                section = {"Principals": "principals", "Critical Options": "critical",
                           "Extensions": "extensions"}[key]
    return cert


def parse_valid(v):
    """(valid_after, valid_before) from sshkey_format_cert_validity's text."""
    def t(s):
        return int(datetime.strptime(s, "%Y-%m-%dT%H:%M:%S")
                   .replace(tzinfo=timezone.utc).timestamp())
    w = v.split()
    if v == "forever":
        return (0, U64)
    if w[0] == "before":
        return (0, t(w[1]))
    if w[0] == "after":
        return (t(w[1]), U64)
    if w[0] == "from" and w[2] == "to":
        return (t(w[1]), t(w[3]))
    fail(f"unknown Valid: {v!r}")


def parse_option(s, critical):
    """(critical, name, value) of one show_options line."""
    name, _, rest = s.partition(" ")
    if not rest or rest == "UNKNOWN FLAG OPTION":
        return (critical, name, None)
    if rest.startswith("UNKNOWN OPTION: "):
        data = bytes.fromhex(rest.split()[2])           # a string in a string
        n = int.from_bytes(data[:4], "big")
        return (critical, name, data[4:4 + n].decode("utf-8", "surrogateescape"))
    return (critical, name, rest)                        # force-command, source-address


def record_options(opts):
    """(critical, name, value) of each -O text the audit record holds."""
    crit_known = ("force-command", "source-address", "verify-required")
    out = []
    for o in opts:
        if o.startswith("critical:") or o.startswith("extension:"):
            kind, _, o = o.partition(":")
            crit = kind == "critical"
        else:
            crit = o.split("=", 1)[0] in crit_known
        name, eq, val = o.partition("=")
        out.append((crit, name, val if eq else None))
    return out


def record_valid(v):
    def t(s, end):
        if s == ("forever" if end else "always"):
            return U64 if end else 0
        if s.startswith("0x"):
            return int(s, 16)
        return int(datetime.strptime(s, "%Y%m%d%H%M%SZ")
                   .replace(tzinfo=timezone.utc).timestamp())
    a, b = v.split(":")
    return (t(a, False), t(b, True))


def main():
    expect, keydir, audit_new, keygen_out, status = sys.argv[1:6]
    lines = [json.loads(l) for l in open(audit_new, encoding="ascii") if l.strip()]
    out = open(keygen_out, errors="replace").read().strip().replace("\n", " | ")
    certs = sorted(glob.glob(os.path.join(keydir, "*-cert.pub")))
    signed = [l for l in lines if l["result"] == "signed"]
    kind, _, arg = expect.partition(":")
    if kind == "none":
        if certs or lines:
            fail(f"want no certificate and no audit line; got {len(certs)} certificate(s), "
                 f"{len(lines)} audit line(s) {[l['result'] for l in lines]} (ssh-keygen: {out})")
        print(f"ssh-keygen stopped by itself (status {status}): {out[:150]}")
        return
    if kind == "refused":
        if certs or signed or not lines:
            fail(f"want a refusal by rule {arg}; got {len(certs)} certificate(s), "
                 f"audit {[l['result'] for l in lines]} (ssh-keygen: {out})")
        bad = [l["result"] for l in lines if l["result"] != f"refused: {arg}"]
        if bad or status == "0" or f"refused by rule {arg}" not in out:
            fail(f"want every line 'refused: {arg}' and ssh-keygen failing with it; got "
                 f"{bad or [l['result'] for l in lines]}, status {status}, ssh-keygen: {out}")
        print(f"refused by rule {arg}, no certificate, {len(lines)} audit line(s)")
        return
    want = int(arg)
    if len(certs) != want or len(signed) != want or len(lines) != want:
        fail(f"want {want} certificate(s), each audited as signed; got {len(certs)} "
             f"certificate(s), audit {[l['result'] for l in lines]} (ssh-keygen: {out})")
    seen = set()
    for rec in signed:
        path = cert_path(keydir, rec["key_file"])
        if path not in certs or path in seen:
            fail(f"audit line for {rec['key_file']}: no certificate {path} of its own")
        seen.add(path)
        c = read_cert(path)
        got = {"type": c["type"], "key_id": c["key_id"], "serial": c["serial"],
               "principals": c["principals"], "valid": c["valid"],
               "options": sorted(c["critical"] + c["extensions"], key=repr)}
        rp = rec["principals"]
        audited = {"type": "host" if rec["host_certificate"] else "user",
                   "key_id": rec["identity"], "serial": int(rec["serial"]),
                   "principals": rp.split(",") if rp is not None else [],
                   "valid": record_valid(rec["validity"]),
                   "options": sorted(record_options(rec["options"]), key=repr)}
        diff = {k: (got[k], audited[k]) for k in got if got[k] != audited[k]}
        if diff:
            fail(f"{path}: certificate vs audit record differ: " +
                 "; ".join(f"{k}: cert {g!r} != audit {a!r}" for k, (g, a) in diff.items()))
    print(f"{want} certificate(s), each equal to its audit record "
          f"(e.g. {rec['validity']}, serial {rec['serial']}, principals {rec['principals']})")


main()
