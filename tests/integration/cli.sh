#!/usr/bin/env bash
# The `hsmcache` CLI as an operator uses it: every command's output, and
# clear, non-zero failures that name what is at fault.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token cli-token
write_config dns softhsm2 cli-token

out=$("$HC" tokens 2>&1)
contains "tokens: lists the token with its real label" "$out" "cli-token"
contains "tokens: says the PIN is missing" "$out" "missing"

# pin set from stdin: mode 0600, atomic, no PIN echoed.
out=$(printf '%s\n' "$PIN" | "$HC" pin set dns 2>&1)
contains "pin set: reports where it stored the PIN" "$out" "$T/pins/dns"
case $out in *"$PIN"*) not_ok "pin set printed the PIN" ;; *) ok "pin set does not print the PIN" ;; esac
equals "pin set: file mode 0600" "$(stat -c %a "$T/pins/dns")" "600"
equals "pin set: file holds exactly the PIN" "$(cat "$T/pins/dns")" "$PIN"
expect_fail "pin set: an unknown token is refused" "no [token nosuch] in the config" sh -c "echo x | '$HC' pin set nosuch"
expect_fail "pin set: an empty PIN is refused" "no PIN read" sh -c "printf '' | '$HC' pin set dns"
equals "pin set: a refused PIN leaves the stored one" "$(cat "$T/pins/dns")" "$PIN"

out=$("$HC" pin check dns 2>&1)
contains "pin check: ok" "$out" "PIN ok"

uri=$("$HC" keygen dns zsk ecdsa-p256 2>&1)
contains "keygen: prints the key's URI" "$uri" "pkcs11:token=dns;id=%"
contains "keygen: URI names the label and type" "$uri" "object=zsk;type=private"
check "keygen: rsa2048" "$HC" keygen dns ksk rsa2048
check "keygen: ecdsa-p384" "$HC" keygen dns k384 ecdsa-p384
out=$("$HC" keygen dns zsk ecdsa-p256 2>&1); st=$?
equals "keygen: an existing label is refused" "$st" "1"
contains "keygen: ... with a message naming it" "$out" "already has an object labelled 'zsk'"
out=$("$HC" keygen dns x dsa1024 2>&1)
contains "keygen: unknown algorithm named" "$out" "unknown algorithm 'dsa1024'"

out=$("$HC" keys dns 2>&1)
contains "keys: EC P-256 key listed" "$out" "EC P-256"
contains "keys: EC P-384 key listed" "$out" "EC P-384"
contains "keys: RSA 2048 listed" "$out" "RSA       2048"
contains "keys: fingerprint shown" "$out" "sha256:"
# The private key is sensitive and not extractable.
attrs=$(pkcs11-tool --module "$FRONT" -O --type privkey --label zsk 2>&1)
contains "keygen: private key is sensitive, never extractable" "$attrs" "never extractable"

out=$("$HC" stats 2>&1)
contains "stats: per-token counters" "$out" "token dns:"
out=$("$HC" stats --prometheus 2>&1)
contains "stats --prometheus: counter family" "$out" "# TYPE hsmcache_sign_requests_total counter"
contains "stats --prometheus: histogram" "$out" 'hsmcache_hsm_sign_seconds_bucket{token="dns",le="+Inf"}'

out=$("$HC" doctor 2>&1); st=$?
equals "doctor: healthy setup exits 0" "$st" "0"
contains "doctor: reports the token present" "$out" "[ok  ] token dns: present"
chmod 644 "$T/pins/dns"
out=$("$HC" doctor 2>&1); st=$?
equals "doctor: an unsafe PIN file fails" "$st" "1"
contains "doctor: names the file and the fix" "$out" "chmod 600 $T/pins/dns"
chmod 600 "$T/pins/dns"
useradd -M -N -s /usr/sbin/nologin hc-test-$$ 2>/dev/null
out=$("$HC" doctor --user hc-test-$$ 2>&1); st=$?
userdel hc-test-$$ 2>/dev/null
equals "doctor --user: fails for a user who cannot read the PIN" "$st" "1"
contains "doctor --user: says which file" "$out" "not readable by user hc-test-$$"

printf '[core]\npin-store = /p\nbogus = 1\n' > "$T/bad.conf"
out=$("$HC" -c "$T/bad.conf" tokens 2>&1); st=$?
equals "bad config: exit status 2" "$st" "2"
contains "bad config: file, line, section and key" "$out" "$T/bad.conf:3: [core] bogus"
out=$("$HC" keys nosuch 2>&1)
contains "unknown token named" "$out" "no [token nosuch]"
done_testing
