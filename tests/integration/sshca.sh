#!/usr/bin/env bash
# The SSH CA module end to end, with the real ssh-keygen, sshd and ssh on
# 127.0.0.1: certificates signed through build/hsmcache-sshca.so (stdin
# closed, no tty, no PIN) log in; a wrong principal and an expired
# certificate do not; a host certificate is accepted through
# @cert-authority; only the CA keys are visible; every policy rule refuses
# what it should and leaves no certificate; the audit log has one JSON
# line per attempt, no PIN, and survives concurrent signers; signing
# through ssh-agent works when allowed.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
SSHCA=$BUILD/hsmcache-sshca.so
USER_NAME=hc-alice
make_token ssh
AUDIT=$T/audit.log
KEYS="pkcs11:token=ssh;object=ca-p256, pkcs11:token=ssh;object=ca-p384, pkcs11:token=ssh;object=ca-rsa, pkcs11:token=ssh;object=host-ca"
sshca_config() { # extra [sshca] lines
    write_config ssh softhsm2 ssh "[sshca]" "keys = $KEYS" "audit-log = $AUDIT" \
        "max-validity = 30d" "$@"
}
sshca_config
store_pin ssh
for k in ca-p256:ecdsa-p256 ca-p384:ecdsa-p384 ca-rsa:rsa2048 host-ca:ecdsa-p256 not-a-ca:ecdsa-p256; do
    "$HC" keygen ssh "${k%%:*}" "${k#*:}" >/dev/null
done

# The CA public keys, one file each, from `hsmcache sshca pubkey`.
"$HC" sshca pubkey > "$T/all-cas.pub"
for k in ca-p256 ca-p384 ca-rsa host-ca; do grep " $k\$" "$T/all-cas.pub" > "$T/$k.pub"; done
equals "sshca pubkey prints the four CA keys" "$(wc -l < "$T/all-cas.pub")" "4"
listed=$(ssh-keygen -D "$SSHCA" < /dev/null 2>/dev/null | sort)
equals "ssh-keygen -D shows exactly the configured CA keys" "$listed" "$(sort "$T/all-cas.pub")"
case $listed in *not-a-ca*) not_ok "a non-CA key is visible" ;; *) ok "the other key on the token stays hidden" ;; esac

# sshd on a private port, trusting the three user CAs, with a host
# certificate from host-ca.
if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd -m -s /bin/sh "$USER_NAME"
    trap 'userdel -r "$USER_NAME" 2>/dev/null; hc_cleanup' EXIT
fi
usermod -p '*' "$USER_NAME" # no password, but not a locked account
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$T/host_key"
cat "$T/ca-p256.pub" "$T/ca-p384.pub" "$T/ca-rsa.pub" > "$T/user_cas"
sign() { ssh-keygen -s "$1" -D "$SSHCA" "${@:2}" < /dev/null > "$T/sign.out" 2>&1; }
check "host certificate signed through the module (-h)" \
    sign "$T/host-ca.pub" -h -I host -n 127.0.0.1 -V +1h "$T/host_key.pub"
PORT=$((20000 + $$ % 20000))
cat > "$T/sshd_config" <<EOC
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/host_key
HostCertificate $T/host_key-cert.pub
PidFile $T/sshd.pid
TrustedUserCAKeys $T/user_cas
AuthorizedKeysFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
EOC
/usr/sbin/sshd -D -e -f "$T/sshd_config" 2> "$T/sshd.log" &
HC_PIDS=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
echo "@cert-authority * $(cat "$T/host-ca.pub")" > "$T/known_hosts"
login() { # KEY: logs in as $USER_NAME with KEY and KEY-cert.pub
    ssh -F /dev/null -p "$PORT" -i "$1" -o CertificateFile="$1-cert.pub" \
        -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
        -o UserKnownHostsFile="$T/known_hosts" -o ConnectTimeout=5 \
        "$USER_NAME@127.0.0.1" echo logged-in 2>"$T/ssh.err"
}
n=0
for ca in ca-p256:ecdsa ca-p384:ecdsa ca-rsa:rsa-sha2-256 ca-rsa:rsa-sha2-512; do
    n=$((n + 1)); key=$T/user$n
    ssh-keygen -q -t ed25519 -N '' -f "$key"
    alg=${ca#*:}; [ "$alg" = ecdsa ] && talg=() || talg=(-t "$alg")
    check "${ca%%:*} ($alg): certificate signed, stdin closed, no tty" \
        sign "$T/${ca%%:*}.pub" "${talg[@]}" -I "user$n" -n "$USER_NAME" -V +1h "$key.pub"
    equals "${ca%%:*} ($alg): sshd accepts it (host cert checked too)" "$(login "$key")" "logged-in"
done
ssh-keygen -q -t ed25519 -N '' -f "$T/bob"
sign "$T/ca-p256.pub" -I bob -n bob -V +1h "$T/bob.pub"
[ "$(login "$T/bob")" = logged-in ] && not_ok "a certificate for another principal logged in" \
    || contains "sshd refuses a certificate without the user's principal" \
        "$(cat "$T/sshd.log")" "Certificate invalid: name is not a listed principal"
ssh-keygen -q -t ed25519 -N '' -f "$T/old"
sign "$T/ca-p256.pub" -I old -n "$USER_NAME" -V -2h:-1h "$T/old.pub"
[ "$(login "$T/old")" = logged-in ] && not_ok "an expired certificate logged in" \
    || contains "sshd refuses an expired certificate" "$(cat "$T/sshd.log")" "Certificate invalid: expired"

# Several keys in one run.
for i in 1 2 3; do ssh-keygen -q -t ed25519 -N '' -f "$T/multi$i"; done
: > "$AUDIT"
check "three keys certified in one ssh-keygen run" \
    sign "$T/ca-p256.pub" -I multi -n "$USER_NAME" -V +1h "$T/multi1.pub" "$T/multi2.pub" "$T/multi3.pub"
ca_fp=$(ssh-keygen -l -f "$T/ca-p256.pub" | awk '{print $2}')
for i in 1 2 3; do
    contains "multi$i: certificate signed by the CA" "$(ssh-keygen -L -f "$T/multi$i-cert.pub")" "$ca_fp"
    equals "multi$i: logs in" "$(login "$T/multi$i")" "logged-in"
done
check "audit: one JSON line per key, each naming its own key file" python3 - "$AUDIT" "$T" <<'EOP'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 3, lines
for i, l in enumerate(lines, 1):
    assert l["result"] == "signed", l
    assert l["key_file"] == f"{sys.argv[2]}/multi{i}.pub", l
    assert l["public_key_fingerprint"].startswith("SHA256:"), l
    assert l["ca_key"] == "pkcs11:token=ssh;object=ca-p256", l
    assert l["identity"] == "multi" and l["validity"] == "+1h" and l["principals"] == "hc-alice"
EOP

# Policy: each rule refuses, says which rule, leaves no certificate, and
# is audited.
refused() { # DESC RULE [config lines] -- ssh-keygen args
    local desc=$1 rule=$2; shift 2
    local cfg=(); while [ "$1" != -- ]; do cfg+=("$1"); shift; done; shift
    sshca_config "${cfg[@]}"
    rm -f "$T/p-cert.pub"; : > "$AUDIT"
    if sign "$T/ca-p256.pub" "$@" "$T/p.pub"; then not_ok "$desc: signed"; return; fi
    contains "$desc: refused, naming rule $rule" "$(cat "$T/sign.out")" "refused by rule $rule"
    check "$desc: no certificate written" test ! -e "$T/p-cert.pub"
    contains "$desc: audited as refused" "$(cat "$AUDIT")" "\"result\":\"refused: $rule\""
}
ssh-keygen -q -t ed25519 -N '' -f "$T/p"
refused "no -V" require-validity -- -I p -n "$USER_NAME"
refused "-V over max-validity" max-validity -- -I p -n "$USER_NAME" -V +31d
refused "-V forever" max-validity -- -I p -n "$USER_NAME" -V always:forever
refused "no -n" require-principals -- -I p -V +1h
refused "user not allowed" allowed-users "allowed-users = nobody-else" -- -I p -n "$USER_NAME" -V +1h
refused "host certs off" host-certs "host-certs = no" -- -I p -h -n host.example -V +1h
sshca_config "allowed-users = root"
check "an allowed user may sign" sign "$T/ca-p256.pub" -I p -n "$USER_NAME" -V +1h "$T/p.pub"
sshca_config "allowed-groups = root"
check "an allowed group may sign" sign "$T/ca-p256.pub" -I p -n "$USER_NAME" -V +30d "$T/p.pub"
sshca_config "require-principals = no" "require-validity = no" "max-validity = 3650d"
check "relaxed rules allow a certificate without -n" sign "$T/ca-p256.pub" -I p -V +1d "$T/p.pub"
if grep -q -- "$PIN" "$AUDIT" "$T/sign.out"; then not_ok "PIN in the audit log"; else ok "no PIN in the audit log"; fi

# Concurrent signers: 8 ssh-keygen processes, 8 whole JSON lines.
sshca_config
: > "$AUDIT"
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
equals "8 concurrent signers all succeed" "$failed_signers" ""
check "8 concurrent signers: 8 whole, parseable audit lines" python3 -c "
import json, sys
lines = open('$AUDIT').read().splitlines()
assert len(lines) == 8, len(lines)
assert sorted(json.loads(l)['identity'] for l in lines) == sorted('c%d' % i for i in range(1, 9))"

# Through ssh-agent: the module added with ssh-add -s (allowlisted), then
# ssh-keygen -U signs with the CA key held by the agent. No PIN is asked
# for: ssh-add's PIN prompt gets an empty line.
agent_sign() {
    eval "$(ssh-agent -s -P "$BUILD/*")" > /dev/null
    echo | ssh-add -s "$SSHCA" > "$T/agent.out" 2>&1
    ssh-keygen -q -t ed25519 -N '' -f "$T/ag$1" 2>/dev/null
    ssh-keygen -U -s "$T/ca-p256.pub" -I agent -n "$USER_NAME" -V +1h "$T/ag$1.pub" < /dev/null >> "$T/agent.out" 2>&1
    local st=$?
    ssh-agent -k > /dev/null 2>&1
    return $st
}
if [ -n "${HC_SANITIZER:-}" ]; then
    # ssh-agent is setgid: glibc drops LD_PRELOAD from it, so its
    # ssh-pkcs11-helper cannot load a sanitizer-built module.
    echo "# not run under $HC_SANITIZER: the ssh-agent checks (ssh-agent is setgid; LD_PRELOAD is dropped)"
    done_testing
    exit 0
fi
sshca_config "allow-agent = yes"
check "ssh-agent: ssh-keygen -U signs through the module held by the agent" agent_sign 1
equals "ssh-agent: that certificate logs in" "$(login "$T/ag1")" "logged-in"
sshca_config
expect_fail "ssh-agent: refused while allow-agent is off (the default)" 255 agent_sign 2
contains "ssh-agent: the refusal is audited" "$(tail -1 "$AUDIT")" "refused: allow-agent"
done_testing
