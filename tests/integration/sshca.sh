#!/usr/bin/env bash
# The SSH CA module end to end, with the real ssh-keygen, sshd and ssh on
# 127.0.0.1: certificates signed through build/hsmcache-sshca.so (stdin
# closed, no tty, no PIN) log in; a wrong principal and an expired
# certificate do not; a host certificate is accepted through
# @cert-authority; only the CA keys are visible; every policy rule refuses
# what it should, leaves no certificate and is audited as refused; -V in
# its YYYYMMDD (local time and Z/UTC) and 0x forms is judged as ssh-keygen
# reads it (ssh-keygen -L shows what was signed); a user in none of
# allowed-groups (another uid, run with runuser) is refused and the same
# user with the group signs; an audit log that cannot be written
# withholds the signature (nothing for sshd to accept); the audit log
# keeps every attempt of the run, one JSON line each (counted step by
# step), with no PIN anywhere in it, and survives concurrent signers;
# signing through ssh-agent works when allowed and is refused (and
# audited) when not.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/sshd.sh"
hc_setup
SSHCA=$BUILD/hsmcache-sshca.so
USER_NAME=hc-alice
GROUP_NAME=hc-sshca
make_token ssh
AUDIT=$T/audit.log
KEYS="pkcs11:token=ssh;object=ca-p256, pkcs11:token=ssh;object=ca-p384, pkcs11:token=ssh;object=ca-rsa, pkcs11:token=ssh;object=host-ca"
sshca_config() { # extra [sshca] lines; AUDIT_LOG=PATH to log elsewhere
    # max-validity 30d unless a line sets its own (a key given twice is refused)
    local mv="max-validity = 30d" l
    for l in "$@"; do case $l in "max-validity ="*) mv= ;; esac; done
    write_config ssh softhsm2 ssh "[sshca]" "keys = $KEYS" "audit-log = ${AUDIT_LOG:-$AUDIT}" \
        ${mv:+"$mv"} "$@"
}
sshca_config
store_pin ssh
for k in ca-p256:ecdsa-p256 ca-p384:ecdsa-p384 ca-rsa:rsa2048 host-ca:ecdsa-p256 not-a-ca:ecdsa-p256; do
    "$HC" keygen ssh "${k%%:*}" "${k#*:}" >/dev/null
done

# The audit log is never emptied: every step reads the lines it added
# (audited), and the last check counts the whole file against the sum.
AUDIT_SEEN=0 AUDIT_WANT=0
audit_lines() { if [ -f "$AUDIT" ]; then wc -l < "$AUDIT"; else echo 0; fi; }
audit_take() { # AUDIT_NEW (and $T/audit.new): the lines appended since the last call
    local total
    total=$(audit_lines)
    tail -n +"$((AUDIT_SEEN + 1))" "$AUDIT" > "$T/audit.new" 2>/dev/null
    AUDIT_NEW=$(cat "$T/audit.new")
    AUDIT_N=$((total - AUDIT_SEEN)) AUDIT_SEEN=$total
}
audited() { # DESC N RESULT: the step appended exactly N lines, each with that result
    audit_take
    AUDIT_WANT=$((AUDIT_WANT + $2))
    local got
    got=$(printf '%s\n' "$AUDIT_NEW" | grep -c -F "\"result\":\"$3\"")
    equals "$1: $2 audit line(s), result $3" "$AUDIT_N lines, $got with that result" "$2 lines, $2 with that result"
}

# The CA public keys, one file each, from `hsmcache sshca pubkey`.
"$HC" sshca pubkey > "$T/all-cas.pub"
for k in ca-p256 ca-p384 ca-rsa host-ca; do grep " $k\$" "$T/all-cas.pub" > "$T/$k.pub"; done
equals "sshca pubkey prints the four CA keys" "$(awk '{print $3}' "$T/all-cas.pub" | sort | xargs)" \
    "ca-p256 ca-p384 ca-rsa host-ca"
listed=$(ssh-keygen -D "$SSHCA" < /dev/null 2>/dev/null | sort)
equals "ssh-keygen -D shows exactly the configured CA keys" "$(awk '{print $3}' <<< "$listed" | sort | xargs)" \
    "ca-p256 ca-p384 ca-rsa host-ca"
equals "... the same public keys as sshca pubkey" "$listed" "$(sort "$T/all-cas.pub")"
# The control: the key hidden from ssh-keygen is on the token.
contains "not-a-ca is on the token (hsmcache keys)..." "$("$HC" keys ssh)" "object=not-a-ca"
lacks "... and hidden from ssh-keygen -D" "$listed" "not-a-ca"

# sshd on a private port, trusting the three user CAs, with a host
# certificate from host-ca.
sshca_cleanup() {
    [ -n "${ADDED_USER:-}" ] && userdel -r "$USER_NAME" 2>/dev/null
    [ -n "${ADDED_GROUP:-}" ] && groupdel "$GROUP_NAME" 2>/dev/null
    hc_cleanup
}
trap sshca_cleanup EXIT
if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd -m -s /bin/sh "$USER_NAME" && ADDED_USER=1
fi
usermod -p '*' "$USER_NAME" # no password, but not a locked account
sshd_host_key "$T" # made first: host-ca certifies it below
cat "$T/ca-p256.pub" "$T/ca-p384.pub" "$T/ca-rsa.pub" > "$T/user_cas"
# sign CA ARGS...: ssh-keygen -s CA -D module; its output in sign.out, and
# kept in sign.all (searched for the PIN at the end).
sign() {
    ssh-keygen -s "$1" -D "$SSHCA" "${@:2}" < /dev/null > "$T/sign.out" 2>&1
    local st=$?
    cat "$T/sign.out" >> "$T/sign.all"
    return $st
}
check "host certificate signed through the module (-h)" \
    sign "$T/host-ca.pub" -h -I host -n 127.0.0.1 -V +1h "$T/host_key.pub"
audited "host certificate" 1 signed
PORT=$((20000 + $$ % 20000))
start_sshd sshd "$PORT" "HostCertificate $T/host_key-cert.pub" "TrustedUserCAKeys $T/user_cas"
echo "@cert-authority * $(cat "$T/host-ca.pub")" > "$T/known_hosts"
login() { # KEY: logs in as $USER_NAME with KEY and KEY-cert.pub, host checked
    sshd_login "$PORT" "$1" "$USER_NAME" "$T/known_hosts" echo logged-in 2>"$T/ssh.err"
}
# sshd_mark, then sshd_since: what sshd logged in between.
sshd_mark() { SSHD_SEEN=$(wc -l < "$T/sshd.log"); }
sshd_since() { tail -n +"$((SSHD_SEEN + 1))" "$T/sshd.log"; }
# valid KEY: the "Valid:" line of KEY-cert.pub, in UTC.
valid() { TZ=UTC ssh-keygen -L -f "$1-cert.pub" 2>&1 | sed -n 's/^ *Valid: //p'; }
utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S; }
n=0
for ca in ca-p256:ecdsa ca-p384:ecdsa ca-rsa:rsa-sha2-256 ca-rsa:rsa-sha2-512; do
    n=$((n + 1)); key=$T/user$n
    ssh-keygen -q -t ed25519 -N '' -f "$key"
    alg=${ca#*:}; [ "$alg" = ecdsa ] && talg=() || talg=(-t "$alg")
    check "${ca%%:*} ($alg): certificate signed, stdin closed, no tty" \
        sign "$T/${ca%%:*}.pub" "${talg[@]}" -I "user$n" -n "$USER_NAME" -V +1h "$key.pub"
    equals "${ca%%:*} ($alg): sshd accepts it (host cert checked too)" "$(login "$key")" "logged-in"
done
audited "four user certificates" 4 signed
ssh-keygen -q -t ed25519 -N '' -f "$T/bob"
check "a certificate for principal bob is signed" sign "$T/ca-p256.pub" -I bob -n bob -V +1h "$T/bob.pub"
audited "bob" 1 signed
sshd_mark
[ "$(login "$T/bob")" = logged-in ] && not_ok "a certificate for another principal logged in" \
    || contains "sshd refuses a certificate without the user's principal" \
        "$(sshd_since)" "Certificate invalid: name is not a listed principal"
ssh-keygen -q -t ed25519 -N '' -f "$T/old"
check "an expired certificate is signed (-V -2h:-1h)" sign "$T/ca-p256.pub" -I old -n "$USER_NAME" -V -2h:-1h "$T/old.pub"
audited "expired" 1 signed
sshd_mark
[ "$(login "$T/old")" = logged-in ] && not_ok "an expired certificate logged in" \
    || contains "sshd refuses an expired certificate" "$(sshd_since)" "Certificate invalid: expired"

# Several keys in one run.
for i in 1 2 3; do ssh-keygen -q -t ed25519 -N '' -f "$T/multi$i"; done
check "three keys certified in one ssh-keygen run" \
    sign "$T/ca-p256.pub" -I multi -n "$USER_NAME" -V +1h "$T/multi1.pub" "$T/multi2.pub" "$T/multi3.pub"
ca_fp=$(ssh-keygen -l -f "$T/ca-p256.pub" | awk '{print $2}')
for i in 1 2 3; do
    contains "multi$i: certificate signed by the CA" "$(ssh-keygen -L -f "$T/multi$i-cert.pub")" "$ca_fp"
    equals "multi$i: logs in" "$(login "$T/multi$i")" "logged-in"
done
audit_take
AUDIT_WANT=$((AUDIT_WANT + 3))
check "audit: one JSON line per key, each naming its own key file" python3 - "$T" <<'EOP'
import json, sys
from datetime import datetime, timezone
lines = [json.loads(l) for l in open(sys.argv[1] + "/audit.new")]
assert len(lines) == 3, lines
for i, l in enumerate(lines, 1):
    assert l["result"] == "signed", l
    assert l["key_file"] == f"{sys.argv[1]}/multi{i}.pub", l
    assert l["public_key_fingerprint"].startswith("SHA256:"), l
    assert l["ca_key"] == "pkcs11:token=ssh;object=ca-p256", l
    assert l["identity"] == "multi" and l["principals"] == "hc-alice", l
    # the certificate's interval (-V +1h: from a minute boundary 59-118 s
    # back to 1 h from now), in ssh-keygen's own UTC -V syntax
    a, b = l["validity"].split(":")
    t = [datetime.strptime(x, "%Y%m%d%H%M%SZ").replace(tzinfo=timezone.utc).timestamp() for x in (a, b)]
    assert t[0] % 60 == 0 and 3600 + 59 <= t[1] - t[0] <= 3600 + 118, l["validity"]
    assert l["serial"] == "0" and l["host_certificate"] is False, l
EOP

# Policy: each rule refuses, says which rule, leaves no certificate, and
# is audited.
refused() { # DESC RULE [config lines] -- ssh-keygen args
    local desc=$1 rule=$2; shift 2
    local cfg=(); while [ "$1" != -- ]; do cfg+=("$1"); shift; done; shift
    sshca_config "${cfg[@]}"
    rm -f "$T/p-cert.pub"
    if sign "$T/ca-p256.pub" "$@" "$T/p.pub"; then
        not_ok "$desc: signed ($(valid "$T/p"))"; audited "$desc" 1 signed; return
    fi
    contains "$desc: refused, naming rule $rule" "$(cat "$T/sign.out")" "refused by rule $rule"
    check "$desc: no certificate written" test ! -e "$T/p-cert.pub"
    audited "$desc" 1 "refused: $rule"
}
# signs DESC KEY [config lines] -- ssh-keygen args: signed by ca-p256,
# audited as signed, and sshd takes it (unless NOLOGIN is set). VALID,
# when set, is the "Valid:" line ssh-keygen -L must show.
signs() {
    local desc=$1 key=$2; shift 2
    local cfg=(); while [ "$1" != -- ]; do cfg+=("$1"); shift; done; shift
    sshca_config "${cfg[@]}"
    rm -f "$key-cert.pub"
    check "$desc: signed" sign "$T/ca-p256.pub" "$@" "$key.pub"
    audited "$desc" 1 signed
    contains "$desc: ssh-keygen -L shows the CA" "$(ssh-keygen -L -f "$key-cert.pub" 2>&1)" "$ca_fp"
    [ -n "${VALID:-}" ] && equals "$desc: ssh-keygen -L shows the validity" "$(valid "$key")" "$VALID"
    [ -z "${NOLOGIN:-}" ] && equals "$desc: sshd accepts it" "$(login "$key")" "logged-in"
}
ssh-keygen -q -t ed25519 -N '' -f "$T/p"
refused "no -V" require-validity -- -I p -n "$USER_NAME"
refused "-V over max-validity" max-validity -- -I p -n "$USER_NAME" -V +31d
refused "-V forever" max-validity -- -I p -n "$USER_NAME" -V always:forever
refused "no -n" require-principals -- -I p -V +1h
refused "user not allowed" allowed-users "allowed-users = nobody-else" -- -I p -n "$USER_NAME" -V +1h
refused "host certs off" host-certs "host-certs = no" -- -I p -h -n host.example -V +1h
signs "an allowed user may sign" "$T/p" "allowed-users = root" -- -I p -n "$USER_NAME" -V +1h
signs "an allowed group may sign" "$T/p" "allowed-groups = root" -- -I p -n "$USER_NAME" -V +30d
# (sshd takes no certificate without principals: TrustedUserCAKeys needs the user's)
NOLOGIN=1 signs "relaxed rules allow a certificate without -n" "$T/p" "require-principals = no" \
    "require-validity = no" "max-validity = 3650d" -- -I p -V +1d

# -V as ssh-keygen reads it (ssh-keygen(1)): YYYYMMDD[HHMM[SS]] in the
# system time zone, or UTC with a Z/UTC suffix; 0x hex seconds. Both only
# as FROM:TO (alone, ssh-keygen refuses them itself). ssh-keygen runs in a
# zone 12 h behind UTC here, so reading local dates as UTC (or the
# reverse) misjudges the length by 12 h. max-validity is 30d throughout.
zone=Etc/GMT+12
day0=$(TZ=$zone date -d yesterday +%Y%m%d)      # local midnight, in the past
t0=$(TZ=$zone date -d "$day0 00:00" +%s)
day30=$(TZ=$zone date -d "@$((t0 + 30 * 86400))" +%Y%m%d)
day31=$(TZ=$zone date -d "@$((t0 + 31 * 86400))" +%Y%m%d)
u0=$(date -u -d "$day0 00:00" +%s)              # the same dates in UTC
ssh-keygen -q -t ed25519 -N '' -f "$T/v"
VALID="from $(utc "$t0") to $(utc "$((t0 + 30 * 86400))")" TZ=$zone \
    signs "-V $day0:$day30 (local dates, exactly 30d)" "$T/v" -- -I v -n "$USER_NAME" -V "$day0:$day30"
VALID="from $(utc "$u0") to $(utc "$((u0 + 30 * 86400))")" TZ=$zone \
    signs "-V ${day0}UTC:${day30}Z (UTC dates, exactly 30d)" "$T/v" -- -I v -n "$USER_NAME" -V "${day0}UTC:${day30}Z"
TZ=$zone refused "-V $day0:$day31 (local dates, 31d)" max-validity -- -I p -n "$USER_NAME" -V "$day0:$day31"
TZ=$zone refused "-V ${day0}Z:$day30 (UTC start, local end: 30d 12h)" max-validity -- \
    -I p -n "$USER_NAME" -V "${day0}Z:$day30"
TZ=$zone refused "-V ${day0}0000:${day30}1200 (local, 30d 12h)" max-validity -- \
    -I p -n "$USER_NAME" -V "${day0}0000:${day30}1200"
h0=$(($(date +%s) - 60))
VALID="from $(utc "$h0") to $(utc "$((h0 + 30 * 86400))")" \
    signs "-V 0x..:0x.. (exactly 30d)" "$T/v" -- -I v -n "$USER_NAME" \
    -V "$(printf '0x%x:0x%x' "$h0" "$((h0 + 30 * 86400))")"
refused "-V 0x..:0x.. (30d and 1 s)" max-validity -- -I p -n "$USER_NAME" \
    -V "$(printf '0x%x:0x%x' "$h0" "$((h0 + 30 * 86400 + 1))")"
refused "-V always:0x.. (unbounded start)" max-validity -- -I p -n "$USER_NAME" \
    -V "$(printf 'always:0x%x' "$((h0 + 86400))")"

# allowed-groups, for another uid: $USER_NAME runs ssh-keygen (runuser),
# refused while in none of allowed-groups, signed with the group added
# (runuser -G). Embedded, the user has a copy of the token and the PIN
# (her own, mode 0600); through the agent, only the agent's socket and a
# [client] section.
getent group "$GROUP_NAME" > /dev/null || { groupadd -r "$GROUP_NAME" && ADDED_GROUP=1; }
A=$T/alice
sshca_config "allowed-groups = $GROUP_NAME" "[agent]" "socket-group = $USER_NAME" \
    "[client alice]" "uid = $USER_NAME" "keys = $KEYS"
mkdir -p "$A"
sed -e "s|^pin-store = .*|pin-store = $A/pins|" -e "s|^cache-dir = .*|cache-dir = $A/cache|" \
    "$HSMCACHE_CONF" > "$A/hsmcache.conf"
sed "s|^directories.tokendir = .*|directories.tokendir = $A/tokens|" "$SOFTHSM2_CONF" > "$A/softhsm2.conf"
if [ -z "${HC_AGENT:-}" ]; then
    cp -a "$T/tokens" "$A/tokens"
    mkdir -m 700 "$A/pins" && cp "$T/pins/ssh" "$A/pins/ssh"
    chgrp "$USER_NAME" "$AUDIT" && chmod 660 "$AUDIT" # she appends her own audit lines
fi
ssh-keygen -q -t ed25519 -N '' -f "$A/a"
chown -R "$USER_NAME:" "$A"
chmod 711 "$T" # she reaches the CA's public key, the socket, nothing else
alice_sign() { # [runuser options]: her ssh-keygen's output in alice.out
    runuser -u "$USER_NAME" "$@" -- env HSMCACHE_CONF="$A/hsmcache.conf" SOFTHSM2_CONF="$A/softhsm2.conf" \
        ssh-keygen -s "$T/ca-p256.pub" -D "$SSHCA" -I alice -n "$USER_NAME" -V +1h "$A/a.pub" \
        < /dev/null > "$T/alice.out" 2>&1
    local st=$?
    cat "$T/alice.out" >> "$T/sign.all"
    return $st
}
alice_uid=$(id -u "$USER_NAME")
expect_fail "allowed-groups: $USER_NAME (uid $alice_uid, not in $GROUP_NAME) is refused: ssh-keygen fails" \
    255 alice_sign
contains "... the module names the rule and the user" "$(cat "$T/alice.out")" \
    "refused by rule allowed-users: user $USER_NAME (uid $alice_uid) is not in allowed-users and in none of allowed-groups"
check "... no certificate written" test ! -e "$A/a-cert.pub"
audited "allowed-groups refusal" 1 "refused: allowed-users"
contains "... the audit line names her uid" "$AUDIT_NEW" "\"uid\":$alice_uid,\"user\":\"$USER_NAME\""
# Through the agent, the agent adds the uid it saw on the socket.
[ -n "${HC_AGENT:-}" ] && contains "... and hsmcached the uid it verified" "$AUDIT_NEW" "\"peer_uid\":$alice_uid,"
# -G alone would make the group her primary one and drop her own.
check "allowed-groups: $USER_NAME with $GROUP_NAME added (runuser -G) signs" \
    alice_sign -g "$USER_NAME" -G "$GROUP_NAME"
audited "allowed-groups, in the group" 1 signed
contains "... signed by the CA" "$(ssh-keygen -L -f "$A/a-cert.pub" 2>&1)" "$ca_fp"
equals "... and sshd accepts it" "$(login "$A/a")" "logged-in"
chmod 700 "$T"

# A refused audit write withholds the signature: the audit log is a
# directory (cannot be opened), then /dev/full (opens; the write fails,
# after the HSM signed). ssh-keygen fails, writes nothing, and sshd has
# nothing to accept; with the log back, the same request is signed.
mkdir "$T/audit-dir"
ssh-keygen -q -t ed25519 -N '' -f "$T/w"
for log in "$T/audit-dir" /dev/full; do
    AUDIT_LOG=$log sshca_config
    rm -f "$T/w-cert.pub"
    expect_fail "audit log $log: ssh-keygen fails" 255 \
        sign "$T/ca-p256.pub" -I w -n "$USER_NAME" -V +1h "$T/w.pub"
    contains "audit log $log: the module names the log" "$(cat "$T/sign.out")" "audit log $log: "
    check "audit log $log: no certificate written" test ! -e "$T/w-cert.pub"
    audited "audit log $log (nothing reaches $AUDIT)" 0 signed
    sshd_mark
    [ "$(login "$T/w")" = logged-in ] && not_ok "audit log $log: sshd let the key in" \
        || lacks "audit log $log: sshd accepted nothing" "$(sshd_since)" "Accepted"
done
sshd_mark
signs "the audit log back: the same request is signed" "$T/w" -- -I w -n "$USER_NAME" -V +1h
contains "... and sshd logs the acceptance it lacked above" "$(sshd_since)" "Accepted publickey for $USER_NAME"

# Concurrent signers: 8 ssh-keygen processes, 8 whole JSON lines.
sshca_config
pids=()
for i in $(seq 8); do
    ssh-keygen -q -t ed25519 -N '' -f "$T/c$i"
    ssh-keygen -s "$T/ca-p256.pub" -D "$SSHCA" -I "c$i" -n "$USER_NAME" -V +1h \
        "$T/c$i.pub" < /dev/null > "$T/c$i.out" 2>&1 &
    pids+=($!)
done
failed_signers=""
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed_signers="$failed_signers c$((i + 1)): $(cat "$T/c$((i + 1)).out")"
done
cat "$T"/c?.out >> "$T/sign.all"
equals "8 concurrent signers all succeed" "$failed_signers" ""
audit_take
AUDIT_WANT=$((AUDIT_WANT + 8))
check "8 concurrent signers: 8 whole, parseable audit lines" python3 -c "
import json, sys
lines = open('$T/audit.new').read().splitlines()
assert len(lines) == 8, len(lines)
assert sorted(json.loads(l)['identity'] for l in lines) == sorted('c%d' % i for i in range(1, 9))"

# The whole audit log of the run: every line accounted for by the steps
# above (so it is not empty), and no PIN in it, nor in what the signers
# printed, nor in the agent's log.
audit_final() {
    equals "the audit log holds every attempt of the run" "$(audit_lines)" "$AUDIT_WANT"
    equals "no PIN in the audit log ($(audit_lines) lines), the signers' output or the agent's log" \
        "$(grep -n -o -F -- "$PIN" "$AUDIT" "$T/sign.all" "$T/agent.log" 2>/dev/null)" ""
}

# Through ssh-agent: the module added with ssh-add -s (allowlisted), then
# ssh-keygen -U signs with the CA key held by the agent. No PIN is asked
# for: ssh-add's PIN prompt gets an empty line.
agent_sign() { # N: key agN; what the agent holds (ssh-add -l) in agent.keys, ssh-keygen's output in agent.out
    rm -f "$T/agent.keys" "$T/agent.out"
    eval "$(ssh-agent -s -P "$BUILD/*")" > /dev/null
    echo | ssh-add -s "$SSHCA" > "$T/agent.out" 2>&1
    ssh-add -l > "$T/agent.keys" 2>&1
    ssh-keygen -q -t ed25519 -N '' -f "$T/ag$1" 2>/dev/null
    ssh-keygen -U -s "$T/ca-p256.pub" -I agent -n "$USER_NAME" -V +1h "$T/ag$1.pub" < /dev/null >> "$T/agent.out" 2>&1
    local st=$?
    ssh-agent -k > /dev/null 2>&1
    cat "$T/agent.out" >> "$T/sign.all"
    return $st
}
if [ -n "${HC_SANITIZER:-}" ]; then
    # ssh-agent is setgid: glibc drops LD_PRELOAD from it, so its
    # ssh-pkcs11-helper cannot load a sanitizer-built module.
    echo "# not run under $HC_SANITIZER: the ssh-agent checks (ssh-agent is setgid; LD_PRELOAD is dropped)"
    audit_final
    done_testing
    exit 0
fi
sshca_config "allow-agent = yes"
check "ssh-agent: ssh-keygen -U signs through the module held by the agent" agent_sign 1
audited "ssh-agent, allowed" 1 signed
equals "ssh-agent: that certificate logs in" "$(login "$T/ag1")" "logged-in"
sshca_config
# The refusal as the user sees it: the agent holds the CA key (so it is
# not missing), ssh-keygen fails with the agent's refusal, writes nothing.
agent_sign 2; st=$?
equals "ssh-agent: refused while allow-agent is off (the default): ssh-keygen fails" "$st" 255
contains "... although the agent holds the CA key" "$(cat "$T/agent.keys")" "$ca_fp"
contains "... the agent refused the signature" "$(cat "$T/agent.out")" "Couldn't certify $T/ag2.pub via agent: agent refused operation"
check "... no certificate written" test ! -e "$T/ag2-cert.pub"
audited "ssh-agent, allow-agent off" 1 "refused: allow-agent"
contains "... audited as the agent's helper" "$AUDIT_NEW" '"host":"ssh-pkcs11-helper"'
audit_final
agent_used "$(ls "$T"/*-cert.pub | wc -l)"   # with HC_AGENT_ONLY=1: one signature per certificate, through the agent
done_testing
