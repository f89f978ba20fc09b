#!/usr/bin/env bash
# Certificates issued by hsmcached (`hsmcache sshca sign`, the [client]
# operation `issue`; issue 15 item 4), with the real ssh-keygen, sshd and
# ssh on 127.0.0.1, the caller a separate uid (hc-is-a, [client issuer]:
# operations = issue, its keys even covering the CA key):
#   - the certificate ssh-keygen -L reads holds what was asked (type, key
#     id, principals, validity, serial, extensions) and the CA's
#     fingerprint, and sshd lets hc-is-a in with it;
#   - serials come from the agent's counter in its cache dir: 1, 2, ...,
#     kept across a restart; a request that fails after its serial was
#     reserved (the audit log unwritable) leaves a gap, never a reuse; a
#     counter file that is not a number refuses, naming it;
#   - the audit line is the agent's: the peer's uid, pid and client, the
#     certificate's values; an audit log that cannot be written withholds
#     the certificate;
#   - the [sshca] policy refuses (naming the rule): -h with host-certs =
#     no, -V beyond max-validity, no -n with require-principals;
#   - issue without sign gives no raw signature from the CA key: not
#     through the raw protocol (agentwire), not through ssh-keygen -D with
#     the module pointed at the agent; a [client] with sign does get one
#     (the control); a client without issue is refused issue;
#   - hostile requests through the raw protocol: an option that is not
#     -I -n -V -h -O (-z, -s), a value for -h, a key type not on the list,
#     bad base64, trailing bytes in the key blob, a truncated key.
# Per-client policy (item 5): [client issuer]'s own allowed-principals
# (%u), max-validity, host-certs, allowed-options, force-options win over
# [sshca]'s; [client nobody] falls back to [sshca]'s; the module (root's
# ssh-keygen -D) is judged by the same rules; config errors name file,
# line and key. Revocation (item 6): `sshca revoke` by serial and by key
# file, `sshca krl`, ssh-keygen -Q and an sshd with RevokedKeys refusing
# the revoked certificates while the third logs in.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/sshd.sh"
hc_setup
HC_AGENT=1
SSHCA=$BUILD/hsmcache-sshca.so
agent_user hc-is-a hc-is-sock
agent_user hc-is-s hc-is-sock
agent_user hc-is-n hc-is-sock
usermod -s /bin/sh -p '*' hc-is-a # a login shell for sshd, no password
chmod 711 "$T"
make_token ssh
AUDIT=$T/audit.log
CA="pkcs11:token=ssh;object=ca-p256"
issue_config() { # extra [sshca] lines
    write_config ssh softhsm2 ssh "[agent]" "socket-group = hc-is-sock" \
        "[client issuer]" "uid = hc-is-a" "keys = $CA" "operations = issue" \
        "[client signer]" "uid = hc-is-s" "keys = $CA" "operations = sign" \
        "[client nobody]" "uid = hc-is-n" "keys = $CA" "operations = sign" \
        "[sshca]" "keys = $CA" "audit-log = $AUDIT" "max-validity = 30d" "$@"
    chmod 644 "$HSMCACHE_CONF"
}
issue_config "host-certs = no"
store_pin ssh
"$HC" keygen ssh ca-p256 ecdsa-p256 > /dev/null
"$HC" sshca pubkey > "$T/ca.pub"
ca_fp=$(ssh-keygen -l -f "$T/ca.pub" | awk '{print $2}')
A=$T/a
mkdir -p "$A"
ssh-keygen -q -t ed25519 -N '' -C alice@test -f "$A/k"
chown -R hc-is-a: "$A"
a_uid=$(id -u hc-is-a)

# as_a CMD...: CMD as hc-is-a, stdin closed; its output in $T/a.out.
as_a() { agent_as hc-is-a "$@" < /dev/null > "$T/a.out" 2>&1; }
hsign() { as_a "$HC" sshca sign "$@"; }
# hsign_out: the same, its output on stdout/stderr (for expect_fail)
hsign_out() { agent_as hc-is-a "$HC" sshca sign "$@" < /dev/null; }
listing() { TZ=UTC ssh-keygen -L -f "$1" 2>&1; }
audit_last() { tail -n 1 "$AUDIT"; }

# ---- a certificate for hc-is-a, read back and used ----
check "hc-is-a ([client issuer], operations = issue) gets a certificate" \
    hsign -I alice-1 -n hc-is-a -V +1h "$A/k.pub"
L=$(listing "$A/k-cert.pub")
contains "ssh-keygen -L: a user certificate" "$L" "Type: ssh-ed25519-cert-v01@openssh.com user certificate"
contains "... signed by the CA key" "$L" "Signing CA: ECDSA $ca_fp"
contains "... key id as asked" "$L" 'Key ID: "alice-1"'
contains "... serial 1 (the counter's first)" "$L" "Serial: 1"
equals "... principals as asked" "$(sed -n '/Principals:/{n;p}' <<< "$L" | xargs)" "hc-is-a"
contains "... ssh-keygen's default extensions" "$L" "permit-pty"
before=$(date -u -d "+1 hour" +%Y-%m-%dT%H:%M)
contains "... valid for one hour from now" "$L" "to $before"
equals "... the key's comment kept, like ssh-keygen" "$(awk '{print $3}' "$A/k-cert.pub")" "alice@test"
line=$(audit_last)
contains "audit: the agent's line, signed" "$line" '"result":"signed","peer_uid":'"$a_uid"','
contains "... the certificate's values" "$line" '"identity":"alice-1","principals":"hc-is-a","validity":'
contains "... its serial" "$line" '"serial":"1"'
contains "... the client" "$line" '"client":"issuer"'
contains "... the CA's fingerprint" "$line" "\"ca_fingerprint\":\"$ca_fp\""
contains "... the subject key (type and base64, no comment)" "$line" \
    "\"public_key\":\"$(awk '{print $1" "$2}' "$A/k.pub")\","
contains "... and its fingerprint" "$line" \
    "\"public_key_fingerprint\":\"$(ssh-keygen -l -f "$A/k.pub" | awk '{print $2}')\","

# sshd trusting the CA, on a private port.
PORT=$((20000 + ($$ + 7) % 20000))
start_sshd sshd "$PORT" "TrustedUserCAKeys $T/ca.pub"
login() { # KEY USER: logs in as USER with KEY and KEY-cert.pub
    sshd_login "$PORT" "$1" "$2" "" echo logged-in < /dev/null 2> "$T/ssh.err"
}
equals "sshd accepts the issued certificate" "$(login "$A/k" hc-is-a)" "logged-in"
# the control for the login: the same key without its certificate
mv "$A/k-cert.pub" "$A/k-cert.saved"
lacks "... and without it the key alone is refused" "$(login "$A/k" hc-is-a)" "logged-in"
mv "$A/k-cert.saved" "$A/k-cert.pub"

# ---- serials ----
check "a second certificate" hsign -I alice-2 -n hc-is-a -V +1h "$A/k.pub"
contains "... serial 2" "$(listing "$A/k-cert.pub")" "Serial: 2"
issue_config "host-certs = no" # restarts hsmcached
check "after the agent restarted" hsign -I alice-3 -n hc-is-a -V +1h "$A/k.pub"
contains "... serial 3 (the counter is on disk)" "$(listing "$A/k-cert.pub")" "Serial: 3"
equals "the counter file holds the last serial" "$(cat "$T/cache/sshca-serial")" "3"
# audit log unwritable: reserved (4), signed, not audited: no certificate
issue_config "host-certs = no" # audit log path kept, the directory swapped in
mv "$AUDIT" "$T/audit.saved" && mkdir "$AUDIT"
rm -f "$A/k-cert.pub"
expect_fail "audit log a directory: sign fails" "audit log $AUDIT cannot be written" \
    hsign_out -I alice-4 -n hc-is-a -V +1h "$A/k.pub"
check "... and writes no certificate" test ! -e "$A/k-cert.pub"
rmdir "$AUDIT" && mv "$T/audit.saved" "$AUDIT"
check "the audit log back" hsign -I alice-5 -n hc-is-a -V +1h "$A/k.pub"
contains "... serial 5: the number reserved for the failed one is never reused" \
    "$(listing "$A/k-cert.pub")" "Serial: 5"
cp "$T/cache/sshca-serial" "$T/serial.saved"
echo "5x" > "$T/cache/sshca-serial"
expect_fail "a counter that is not a number refuses, naming the file" \
    "serial counter $T/cache/sshca-serial: unreadable or not one decimal number" \
    hsign_out -I alice-6 -n hc-is-a -V +1h "$A/k.pub"
cp "$T/serial.saved" "$T/cache/sshca-serial"

# ---- the [sshca] policy ----
expect_fail "-h with host-certs = no is refused by rule host-certs" \
    "refused issue by rule host-certs" hsign_out -h -I h -n web1 -V +1h "$A/k.pub"
contains "... audited as refused" "$(audit_last)" '"result":"refused: host-certs"'
expect_fail "-V +31d beyond max-validity 30d is refused by rule max-validity" \
    "refused issue by rule max-validity" hsign_out -I v -n hc-is-a -V +31d "$A/k.pub"
expect_fail "no -n is refused by rule require-principals" \
    "refused issue by rule require-principals" hsign_out -I v -V +1h "$A/k.pub"
expect_fail "no -I is refused naming the key id" "give -I ID" hsign_out -n hc-is-a -V +1h "$A/k.pub"
expect_fail "options after PUBKEY are not options (getopt stops there)" \
    "give exactly one PUBKEY" hsign_out -I x "$A/k.pub" -n hc-is-a -V +1h

# ---- issue is not sign ----
ref=$(agent_raw hc-is-a find ssh ca-p256 | awk '{print $4}')
contains "hc-is-a's keys cover the CA key (find sees it)" "$(agent_raw hc-is-a find ssh ca-p256)" "found 1"
contains "... yet a raw signature with it is refused (agentwire)" "$(agent_raw hc-is-a sign "$ref")" \
    "hsmcached refused operation 'sign': not in [client issuer] operations"
sref=$(agent_raw hc-is-s find ssh ca-p256 | awk '{print $4}')
contains "the control: [client signer] (operations = sign) gets one" "$(agent_raw hc-is-s sign "$sref")" \
    "rv=0x0, 64 bytes"
ssh-keygen -q -t ed25519 -N '' -f "$A/d" && chown hc-is-a: "$A/d" "$A/d.pub"
expect_fail "ssh-keygen -D (the module through the agent) as hc-is-a fails" 255 \
    as_a ssh-keygen -s "$T/ca.pub" -D "$SSHCA" -I d -n hc-is-a -V +1h "$A/d.pub"
contains "... the agent refused the signature (its log)" "$(tail -n 5 "$T/agent.log")" \
    "client issuer (uid $a_uid, pid"
contains "... as not in its operations" "$(tail -n 5 "$T/agent.log")" "refused operation 'sign'"
check "... no certificate written" test ! -e "$A/d-cert.pub"
expect_fail "a client without issue ([client nobody]) is refused issue" \
    "refused operation 'issue': not in [client nobody] operations" \
    agent_as hc-is-n "$HC" sshca sign -I n -n hc-is-n -V +1h "$A/k.pub"

# ---- hostile requests, raw ----
cat > "$T/issue-raw.py" <<'EOP'
import sys
from agentwire import *
path, opts, key = sys.argv[1], sys.argv[2], sys.argv[3]
body = s(opts.encode().replace(b',', b'\0')) + s(key)
r = call(connect(path, 10), 20, body)
serial = r.u64(); cert = r.str()
print('rv=0x%x serial %d %s: %s' % (r.rv, serial, cert[:40].decode(errors='replace'), r.msg))
EOP
pub=$(cat "$A/k.pub")
raw_issue() { agentwire_run hc-is-a "$T/issue-raw.py" "$@"; }
contains "raw: a well-formed request is issued (the control)" \
    "$(raw_issue 'I,r,n,hc-is-a,V,+1h,' "$pub")" "rv=0x0 serial"
contains "raw: -z (the serial is the agent's) is refused" \
    "$(raw_issue 'I,r,n,hc-is-a,V,+1h,z,7,' "$pub")" "option 'z' is not one of -I -n -V -h -O"
contains "raw: -s is refused" "$(raw_issue 's,x,I,r,' "$pub")" "option 's' is not one of"
contains "raw: -h with a value is refused" "$(raw_issue 'I,r,h,x,' "$pub")" "-h takes no value"
contains "raw: options not NUL-terminated are refused" "$(raw_issue 'I,r' "$pub")" "without a value"
contains "raw: a key type not on the list is refused" \
    "$(raw_issue 'I,r,n,hc-is-a,V,+1h,' "ssh-dss AAAA")" "type 'ssh-dss' is not one of"
contains "raw: bad base64 is refused" \
    "$(raw_issue 'I,r,n,hc-is-a,V,+1h,' "ssh-ed25519 AA*A")" "not base64"
b64=$(awk '{print $2}' "$A/k.pub")
long=$( (echo "$b64" | base64 -d; printf 'X') | base64 -w0)
contains "raw: trailing bytes after the key's fields are refused" \
    "$(raw_issue 'I,r,n,hc-is-a,V,+1h,' "ssh-ed25519 $long")" "bytes after the key's fields"
short=$(echo "$b64" | base64 -d | head -c 50 | base64 -w0)
contains "raw: a truncated Ed25519 key is refused" \
    "$(raw_issue 'I,r,n,hc-is-a,V,+1h,' "ssh-ed25519 $short")" "an Ed25519 key is 32 bytes"
agent_log=$(tail -n 1 "$T/agent.log")
contains "raw: a malformed request is logged by the agent, naming the client and the fault" \
    "$agent_log" "client issuer (uid $a_uid, pid"
contains "... and what was wrong" "$agent_log" "): hsmcached refused issue: public key (ssh-ed25519): an Ed25519 key is 32 bytes"

# ---- per-client policy (issue 15 item 5) ----
# [client issuer] has its own: principals only its user (or web-USER),
# 2 h at most, no host certificates, two -O names, and a source address
# forced in; [client nobody] (issue added) has none of its own: [sshca]'s
# apply (allowed-principals = %u there too, max-validity 30d, host-certs).
write_config ssh softhsm2 ssh "[agent]" "socket-group = hc-is-sock" \
    "[client issuer]" "uid = hc-is-a" "keys = $CA" "operations = issue" \
    "allowed-principals = %u, web-%u" "max-validity = 2h" "host-certs = no" \
    "allowed-options = no-pty, permit-pty" "force-options = source-address=127.0.0.1/32" \
    "[client nobody]" "uid = hc-is-n" "keys = $CA" "operations = issue" \
    "[sshca]" "keys = $CA" "audit-log = $AUDIT" "max-validity = 30d" "host-certs = yes" \
    "allowed-principals = %u"
chmod 644 "$HSMCACHE_CONF"
check "policy: hc-is-a gets a certificate for itself" hsign -I self -n hc-is-a -V +1h "$A/k.pub"
L=$(listing "$A/k-cert.pub")
contains "... with the forced source-address (force-options)" "$L" "source-address 127.0.0.1/32"
equals "... and sshd (on 127.0.0.1) accepts it" "$(login "$A/k" hc-is-a)" "logged-in"
check "policy: web-hc-is-a too (%u inside an entry)" hsign -I web -n web-hc-is-a -V +1h "$A/k.pub"
rm -f "$A/k-cert.pub"
expect_fail "policy: a certificate for root is refused by rule allowed-principals" \
    "refused issue by rule allowed-principals: principal 'root' is not in allowed-principals (for user hc-is-a" \
    hsign_out -I root -n root -V +1h "$A/k.pub"
check "... no certificate written" test ! -e "$A/k-cert.pub"
contains "... audited as refused" "$(audit_last)" '"result":"refused: allowed-principals"'
expect_fail "policy: itself and root together is refused" "principal 'root'" \
    hsign_out -I two -n hc-is-a,root -V +1h "$A/k.pub"
expect_fail "policy: another user's name is refused" "principal 'hc-is-n'" \
    hsign_out -I other -n hc-is-n -V +1h "$A/k.pub"
expect_fail "policy: -V +3h beyond the client's max-validity 2h ([sshca] says 30d)" \
    "refused issue by rule max-validity" hsign_out -I long -n hc-is-a -V +3h "$A/k.pub"
expect_fail "policy: -h refused by the client's host-certs = no ([sshca] says yes)" \
    "refused issue by rule host-certs" hsign_out -h -I h -n hc-is-a -V +1h "$A/k.pub"
expect_fail "policy: -O permit-port-forwarding is not in allowed-options" \
    "refused issue by rule allowed-options: -O 'permit-port-forwarding'" \
    hsign_out -I o -n hc-is-a -V +1h -O permit-port-forwarding "$A/k.pub"
check "policy: -O no-pty is" hsign -I o -n hc-is-a -V +1h -O no-pty "$A/k.pub"
lacks "... and the certificate has no permit-pty" "$(listing "$A/k-cert.pub")" "permit-pty"
expect_fail "policy: a source-address of its own clashes with the forced one" \
    "source-address" hsign_out -I s -n hc-is-a -V +1h -O source-address=0.0.0.0/0 "$A/k.pub"
mkdir "$T/nd" && ssh-keygen -q -t ed25519 -N '' -f "$T/nd/n" && chown -R hc-is-n: "$T/nd"
expect_fail "fallback: [client nobody] is held to [sshca]'s allowed-principals = %u" \
    "principal 'root' is not in allowed-principals (for user hc-is-n" \
    agent_as hc-is-n "$HC" sshca sign -I n -n root -V +1h "$T/nd/n.pub"
check "... and gets one for itself, valid 7 days ([sshca]'s 30d, not the issuer's 2h)" \
    agent_as hc-is-n "$HC" sshca sign -I n -n hc-is-n -V +7d "$T/nd/n.pub"
# The module judges by the same code: root runs ssh-keygen -D, [sshca]'s
# allowed-principals = %u is root for it.
ssh-keygen -q -t ed25519 -N '' -f "$T/m"
expect_fail "the module: root asking for hc-is-a is refused (allowed-principals)" 255 \
    ssh-keygen -s "$T/ca.pub" -D "$SSHCA" -I m -n hc-is-a -V +1h "$T/m.pub"
contains "... audited with the rule" "$(audit_last)" '"result":"refused: allowed-principals"'
check "the module: root asking for root signs" \
    ssh-keygen -s "$T/ca.pub" -D "$SSHCA" -I m -n root -V +1h "$T/m.pub"
# Config errors name the file, line and key.
printf '[core]\npin-store = %s/pins\n[client x]\nuid = root\nkeys = %s\nallowed-principals = %%u\n' \
    "$T" "$CA" > "$T/bad1.conf"
expect_fail "config: issue keys without operations = issue name the file and line" \
    "$T/bad1.conf:3: [client x]: allowed-principals, max-validity, host-certs, allowed-options and force-options apply to operations = issue" \
    "$HC" -c "$T/bad1.conf" tokens
printf '[core]\npin-store = %s/pins\n[sshca]\nforce-options = force-command\n' "$T" > "$T/bad2.conf"
expect_fail "config: force-options without its value names the key" \
    "$T/bad2.conf:4: [sshca] force-options: 'force-command' is not a valid ssh-keygen -O option" \
    "$HC" -c "$T/bad2.conf" tokens

# ---- revocation (issue 15 item 6) ----
# Three certificates for hc-is-a; the first revoked by serial, the third
# by key file; the KRL from `sshca krl` makes a second sshd (RevokedKeys)
# refuse those two while the second still logs in.
for r in r1 r2 r3; do
    ssh-keygen -q -t ed25519 -N '' -f "$A/$r" && chown hc-is-a: "$A/$r" "$A/$r.pub"
    check "revocation: certificate $r issued" hsign -I "$r" -n hc-is-a -V +1h "$A/$r.pub"
done
serial_of() { ssh-keygen -L -f "$1" | sed -n 's/^ *Serial: //p'; }
s1=$(serial_of "$A/r1-cert.pub")
check "sshca revoke $s1 (r1's serial)" "$HC" sshca revoke "$s1"
check "sshca revoke r3.pub (a key file)" "$HC" sshca revoke "$A/r3.pub"
equals "the record holds both, in ssh-keygen's KRL syntax" "$(cat "$T/cache/sshca-revoked")" \
    "serial: $s1
key: $(awk '{print $1" "$2}' "$A/r3.pub")"
expect_fail "sshca revoke 0 is refused" "'0' is not a serial" "$HC" sshca revoke 0
expect_fail "sshca revoke 2^64 is refused" "is not a serial" "$HC" sshca revoke 18446744073709551616
echo "not a key" > "$T/notkey"
expect_fail "sshca revoke of a file that is not a key is refused" "not an OpenSSH public key" \
    "$HC" sshca revoke "$T/notkey"
equals "... and nothing of them recorded" "$(wc -l < "$T/cache/sshca-revoked")" "2"
check "sshca krl writes a KRL" "$HC" sshca krl "$T/revoked.krl"
Q=$(ssh-keygen -Q -f "$T/revoked.krl" "$A/r1-cert.pub" "$A/r2-cert.pub" "$A/r3-cert.pub" 2>&1 |
    sed 's/ (.*)//') # the key's comment dropped
contains "ssh-keygen -Q: r1's certificate is revoked" "$Q" "$A/r1-cert.pub: REVOKED"
contains "... r3's too (by key)" "$Q" "$A/r3-cert.pub: REVOKED"
contains "... r2's is not" "$Q" "$A/r2-cert.pub: ok"
PORT2=$((PORT + 1))
start_sshd sshd2 "$PORT2" "TrustedUserCAKeys $T/ca.pub" "RevokedKeys $T/revoked.krl"
PORT=$PORT2
equals "sshd with RevokedKeys: r2 (not revoked) logs in" "$(login "$A/r2" hc-is-a)" "logged-in"
lacks "... r1 (revoked by serial) does not" "$(login "$A/r1" hc-is-a)" "logged-in"
lacks "... r3 (revoked by key) does not" "$(login "$A/r3" hc-is-a)" "logged-in"
contains "... sshd says why" "$(cat "$T/sshd2.log")" "revoked"
done_testing
