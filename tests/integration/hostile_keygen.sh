#!/usr/bin/env bash
# Generation that leaves nothing behind (issue 13, item 4). A client
# allowed to generate (hc-gen, [client gen], operations = generate, keys =
# one label on the SSH token) asks through the agent for keys it must not
# get: an extractable, non-destroyable key labelled like the SSH CA key
# (the agent used to generate it, refuse it, fail to destroy it, and
# `hsmcache sshca pubkey` then listed it as a CA key); an extractable key,
# a non-sensitive one, a non-destroyable one (either half) under its own
# label; a label and an id outside its keys; its label on another token.
# Each is refused before the module is called, naming the client, the
# token and the attribute at fault (the other token is simply not there
# for it): the card simulator counts no C_GenerateKeyPair, the real token
# (read through SoftHSM itself) holds the same objects, and `hsmcache
# sshca pubkey` prints the same keys.
# A generation inside its keys still works, and the private key the agent
# made is sensitive and never extractable though the client asked for
# neither. On a module from before Cryptoki 2.40 (tests/lib/
# oldcryptoki.c: it reports 2.20 and refuses CKA_DESTROYABLE, which it
# does not know) the agent leaves CKA_DESTROYABLE out, so generation
# works there too; and a key that module makes unsafe (extractable,
# non-sensitive, whatever it was asked) is read back after generation,
# refused and destroyed.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/hostile.sh"
hostile_setup hc-gen-sock hc-gen
make_token sshtok
make_token dnstok
make_token oldtok
# A module from before Cryptoki 2.40 (tests/lib/oldcryptoki.c).
cc -shared -fPIC $(pkg-config --cflags p11-kit-1) -o "$T/oldcryptoki.so" \
    "$TOP/tests/lib/oldcryptoki.c" -ldl
export OLDCRYPTOKI_REAL=$SOFTHSM_MODULE OLDCRYPTOKI_UNSAFE=$T/old-unsafe
"$SIMCTL" "$SIMSTATE" reset
write_config ssh "$SIM" sshtok "[token dns]" "module = softhsm2" "label = dnstok" \
    "[token old]" "module = $T/oldcryptoki.so" "label = oldtok" \
    "[agent]" "socket-group = hc-gen-sock" \
    "[client gen]" "uid = hc-gen" "operations = generate" \
    "keys = pkcs11:token=ssh;object=mine, pkcs11:token=ssh;object=byid;id=%42, pkcs11:token=old;object=mine" \
    "[sshca]" "keys = pkcs11:token=ssh;object=ca" "audit-log = $T/audit.log"
chmod 644 "$HSMCACHE_CONF"
store_pin ssh
store_pin dns
store_pin old
"$HC" keygen ssh ca ecdsa-p256 > /dev/null
"$HC" sshca pubkey > "$T/ca-before.pub"
equals "setup: sshca pubkey lists the one CA key" "$(awk '{print $3}' "$T/ca-before.pub" | xargs)" "ca"
token_objects sshtok > "$T/ssh-before"
token_objects dnstok > "$T/dns-before"
equals "setup: the SSH token holds the CA key pair" "$(grep -c Object "$T/ssh-before")" "2"
"$SIMCTL" "$SIMSTATE" reset

# refused DESC WANT TOKEN LABEL ATTR=V...: hc-gen's request is refused
# with a message containing WANT and the client's name, and no
# C_GenerateKeyPair reached the card.
refused() {
    local desc=$1 want=$2
    shift 2
    expect_fail "$desc: refused, naming the attribute at fault" "$want" hostile_api hc-gen keygen cli "$@"
    contains "... the refusal names the client and the token" "$(cat "$T/check.out")" "[client gen] on token $1"
}
refused "an extractable, non-destroyable key labelled like the CA key (outside its keys)" \
    "private key's CKA_SENSITIVE is false" \
    ssh ca extractable=1 destroyable=0 sensitive=0 pub-destroyable=0
refused "an extractable key under its own label" "private key's CKA_EXTRACTABLE is true" \
    ssh mine extractable=1
refused "a non-sensitive key under its own label" "private key's CKA_SENSITIVE is false" \
    ssh mine sensitive=0
refused "a private key that cannot be destroyed" "private key's CKA_DESTROYABLE is false" \
    ssh mine destroyable=0
refused "a public key that cannot be destroyed" "public key's CKA_DESTROYABLE is false" \
    ssh mine pub-destroyable=0
refused "a label outside its keys" "CKA_LABEL 'theirs' on this token is not in its keys" \
    ssh theirs
refused "its label on the public half only" "public key with CKA_LABEL 'ca' on this token is not in its keys" \
    ssh mine pub-label=ca
refused "a label its keys allow only with another id" "CKA_LABEL 'byid' and the CKA_ID given" \
    ssh byid id=43
refused "a label its keys allow only with an id, none given (a random one)" \
    "CKA_LABEL 'byid' on this token is not in its keys" ssh byid
expect_fail "its label on another token: refused (that token is not there for it)" \
    "no token dns" hostile_api hc-gen keygen cli dns mine
equals "no C_GenerateKeyPair reached the card for the refused requests" "$(sim_count C_GenerateKeyPair)" "0"
token_objects sshtok > "$T/ssh-after"
token_objects dnstok > "$T/dns-after"
equals "the SSH token holds what it held (read through SoftHSM)" "$(cat "$T/ssh-after")" "$(cat "$T/ssh-before")"
equals "the other token too" "$(cat "$T/dns-after")" "$(cat "$T/dns-before")"
"$HC" sshca pubkey > "$T/ca-after.pub"
equals "sshca pubkey prints the same CA key" "$(cat "$T/ca-after.pub")" "$(cat "$T/ca-before.pub")"
n=$(grep -c "client gen (uid $(id -u hc-gen), pid [0-9]*): hsmcached refused generate for \[client gen\]" "$T/agent.log")
equals "the agent logs each refusal with the client's uid and pid" "$n" "9"

# Inside its keys: made, and safe though the client did not ask.
check "a key under its own label, safety attributes left out: made" hostile_api hc-gen keygen cli ssh mine
check "a key under the label and id its keys name: made" hostile_api hc-gen keygen cli ssh byid id=42
equals "... two C_GenerateKeyPair at the card" "$(sim_count C_GenerateKeyPair)" "2"
attrs=$(printf '%s' "$PIN" > "$T/p"; pkcs11-tool --module "$SOFTHSM_MODULE" --token-label sshtok --login \
    --pin "$(cat "$T/p")" -O --type privkey --label mine 2>&1)
contains "... its private key is sensitive and never extractable" "$attrs" "sensitive, always sensitive, never extractable"
equals "the SSH token holds the two new pairs besides the CA's" "$(token_objects sshtok | grep -c Object)" "6"

# A module from before Cryptoki 2.40 (it reports 2.20 and refuses
# CKA_DESTROYABLE, a type it does not know): the agent does not add it.
check "on a pre-2.40 module, a key under its own label: made" hostile_api hc-gen keygen cli old mine
attrs=$(printf '%s' "$PIN" > "$T/p"; pkcs11-tool --module "$SOFTHSM_MODULE" --token-label oldtok --login \
    --pin "$(cat "$T/p")" -O --type privkey --label mine 2>&1)
contains "... its private key is sensitive and never extractable" "$attrs" "sensitive, always sensitive, never extractable"
refused "... a non-destroyable key there (refused before the module: it cannot say)" \
    "private key's CKA_DESTROYABLE is false" old mine destroyable=0
# The module turns buggy: it makes an extractable, non-sensitive key
# whatever it is asked. The agent reads the keys back and removes them.
before=$(token_objects oldtok | grep -c Object)
touch "$T/old-unsafe"
expect_fail "a key the module made unsafe: refused after generation, naming what is wrong" \
    "the module made a private key whose CKA_SENSITIVE is false" hostile_api hc-gen keygen cli old mine
rm -f "$T/old-unsafe"
equals "... and destroyed: the token holds what it held before ($before objects)" \
    "$(token_objects oldtok | grep -c Object)" "$before"
contains "... the agent logs the refusal with the client" "$(cat "$T/agent.log")" \
    "client gen (uid $(id -u hc-gen), pid"
done_testing
