#!/usr/bin/env bash
# BIND 9.20's offline tools over the hsmcache provider: dnssec-keygen
# generates a policy's KSK and ZSK in the token through the named.conf
# key-store, and dnssec-signzone signs with them; an Ed25519 key made in
# the token (hsmcache keygen) is loaded by label and signs a zone. Both
# zones pass ldns-verify-zone; no key file holds key material or a PIN.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/named.sh"
named_setup softhsm2
cd "$D"
zone() { # NAME: a small zone file NAME.db
    { printf '$TTL 3600\n@ IN SOA ns1 hostmaster 1 3600 900 604800 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n'
      for i in $(seq 200); do printf 'n%d IN A 192.0.2.%d\n' "$i" $((i % 250 + 1)); done; } > "$1.db"
}
label_of() { sed -n 's/^Label: //p' "$1" | base64 -d | tr -d '\0'; }

# dnssec-keygen -k POLICY -l CONF: the key-store decides where keys live.
cat > keygen.conf <<EOC
key-store "hsm" { directory "keys"; pkcs11-uri "pkcs11:token=dns"; };
dnssec-policy "hsm" { keys {
    ksk key-store "hsm" lifetime unlimited algorithm ecdsap256sha256;
    zsk key-store "hsm" lifetime unlimited algorithm ecdsap256sha256; }; };
EOC
check "dnssec-keygen -k hsm makes the policy's keys" dnssec-keygen -q -k hsm -l keygen.conf tools.test
privs=(keys/Ktools.test.+013+*.private)
equals "... two key files, each naming a token object" "$(grep -l '^Label:' "${privs[@]}" | wc -l)" "2"
if grep -q '^PrivateKey' "${privs[@]}"; then not_ok "a key file holds key material"
else ok "... no key material in the key files"; fi
objs=$(pkcs11-tool --module "$FRONT" -O --type privkey 2>&1)
for f in "${privs[@]}"; do
    obj=$(label_of "$f" | sed 's/.*object=\([^;]*\).*/\1/')
    # An empty object name would match any label: name it in the needle.
    contains "... ${obj:-a Label without object} is a private key in the token" "$objs" "label:      ${obj:-(no object= in the Label)}"
done
zone tools.test
check "dnssec-signzone -S signs with the HSM keys" dnssec-signzone -S -K keys -o tools.test tools.test.db
check "... ldns-verify-zone accepts the signed zone" ldns-verify-zone tools.test.db.signed

# Ed25519: BIND 9.20 loads an HSM key by label but cannot write a key
# file for one (it wants the raw private key), so the .private holds only
# the Label; dnssec-keyfromlabel writes the .key.
"$HC" keygen dns ed-ksk ed25519 > /dev/null
dnssec-keyfromlabel -K keys -a ED25519 -f KSK -l "pkcs11:token=dns;object=ed-ksk" ed.test > kfl.out 2>&1
k=$(basename keys/Ked.test.+015+*.key .key)
check "dnssec-keyfromlabel reads the Ed25519 public key from the token" test -s "keys/$k.key"
{ printf 'Private-key-format: v1.3\nAlgorithm: 15 (ED25519)\n'
  printf 'Label: %s\n' "$(printf 'pkcs11:token=dns;object=ed-ksk\0' | base64 -w0)"; } > "keys/$k.private"
zone ed.test
cat "keys/$k.key" >> ed.test.db
check "dnssec-signzone signs with the Ed25519 key in the token" \
    dnssec-signzone -z -K keys -o ed.test ed.test.db "$k"
check "... ldns-verify-zone accepts it" ldns-verify-zone ed.test.db.signed
contains "... with algorithm 15 signatures" "$(grep -m1 'RRSIG.*A 15 ' ed.test.db.signed)" " 15 "

if grep -rqa -- "$PIN" "$D" "$OPENSSL_CONF"; then not_ok "a PIN in a key file or config"
else ok "no PIN in any key file, keygen.conf or openssl.cnf"; fi
done_testing
