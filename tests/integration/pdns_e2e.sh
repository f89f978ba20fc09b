#!/usr/bin/env bash
# PowerDNS end to end: a private MariaDB and pdns_server 4.7 on
# 127.0.0.1, keys made with `hsmcache keygen`, assigned with
# `pdnsutil hsm assign ZONE ALGO ksk|zsk <module> dns '' LABEL` exactly as
# the operator's flow says, rows with an empty PIN. Answers with the DO bit
# carry RRSIGs that ldns-verify-zone accepts after AXFR and that delv
# validates with the KSK as trust anchor (NXDOMAIN proofs too); no
# cryptokeys row and nothing in the database holds the PIN. Then, over
# the simulator, 1000 answers per pass, each counted NOERROR with an
# RRSIG: new ones cost 1000 C_Sign and no C_Digest (PowerDNS's hashing
# stays in software); warm ones and, after a pdns restart, ones from the
# persistent cache cost none, their RRSIGs accepted by ldns-verify-zone,
# while one new name costs that same server one C_Sign (each zero has a
# control on its counter). ECDSA P-256 and P-384, RSA-2048.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/dns.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
hc_setup
MOD=hsmcache-test-$$            # the p11-kit name rows use as Engine:
register_module "$MOD" "$BUILD/hsmcache-pdns.so"
make_token dnstok
write_config dns softhsm2 dnstok
store_pin dns
start_mariadb || { not_ok "MariaDB did not start: $(tail -3 "$T/mysqld.err")"; exit 1; }
write_pdns_conf

# zone ALGO(pdnsutil) KEYGEN-ALGO: a zone signed by two HSM keys.
add_zone() {
    local zone=$1 algo=$2 kalgo=$3
    pdnsutil_t create-zone "$zone" "ns1.$zone" > /dev/null 2>&1
    pdnsutil_t add-record "$zone" www A 3600 192.0.2.80 > /dev/null 2>&1
    pdnsutil_t add-record "$zone" mail MX 3600 "10 mx.$zone" > /dev/null 2>&1
    for role in ksk zsk; do
        "$HC" keygen dns "$zone-$role" "$kalgo" > /dev/null
        pdnsutil_t hsm assign "$zone" "$algo" "$role" "$MOD" dns '' "$zone-$role" > /dev/null 2>&1 ||
            return 1
    done
    pdnsutil_t rectify-zone "$zone" > /dev/null 2>&1
}
check "zone p256.example: ECDSA P-256 keys assigned through hsmcache" add_zone p256.example ecdsa256 ecdsa-p256
check "zone p384.example: ECDSA P-384 keys assigned" add_zone p384.example ecdsa384 ecdsa-p384
check "zone rsa.example: RSA-2048/SHA-256 keys assigned" add_zone rsa.example rsasha256 rsa2048
must_start_pdns

q() { dig +dnssec +noall +answer +authority -p "$DNS_PORT" @127.0.0.1 "$@"; }
for zone in p256.example p384.example rsa.example; do
    contains "$zone: the answer carries an RRSIG" "$(q "www.$zone" A)" "RRSIG	A"
    out=$(verify_axfr "$zone" "$DNS_PORT" "$T/$zone.axfr"); st=$?
    equals "$zone: ldns-verify-zone accepts the AXFR ($(wc -l < "$T/$zone.axfr") records)" "$st:$out" "0:Zone is verified and complete"
    ksk_anchor "$zone" "$DNS_PORT" > "$T/$zone.anchor"
    out=$(delv -a "$T/$zone.anchor" +root="$zone" -p "$DNS_PORT" @127.0.0.1 "www.$zone" A 2>&1)
    contains "$zone: delv validates www with the KSK as trust anchor" "$out" "; fully validated"
    out=$(delv -a "$T/$zone.anchor" +root="$zone" -p "$DNS_PORT" @127.0.0.1 "nope.$zone" A 2>&1)
    contains "$zone: delv validates the NXDOMAIN proof" "$out" "; negative response, fully validated"
done

rows=$(mysql_q -N --raw -e "SELECT content FROM cryptokeys")
contains "cryptokeys rows name the hsmcache module" "$rows" "Engine: $MOD"
pins=$(echo "$rows" | grep '^PIN:' | sort -u)
equals "every cryptokeys row has an empty PIN" "$pins" "PIN: "
mariadb-dump --no-defaults -S "$T/mysql.sock" -u root pdns > "$T/dump.sql"
if grep -q -- "$PIN" "$T/dump.sql"; then not_ok "the PIN is in the database dump"
else ok "the PIN is nowhere in the database dump (only in the PIN store)"; fi
check "the PIN is in the PIN store" grep -q -- "$PIN" "$T/pins/dns"
stop_pdns

# Over the simulator: count what reaches the HSM. A count is read only
# with the answers of the same pass: how many came NOERROR with an RRSIG
# (ask), and ldns-verify-zone over exactly the signatures they carried
# (answers_verify). A zero needs a control on the same counter: the first
# pass shows C_Sign counting, pkcs11-tool --test's single-part digests at
# the simulator show C_Digest counting, and after the restart one name no
# pass asked (n1001) must cost one C_Sign in that same pdns_server.
write_config dns "$SIM" dnstok
"$SIMCTL" "$SIMSTATE" reset
must_start_pdns
add_names p256.example 1001
"$SIMCTL" "$SIMSTATE" reset
n=$(ask p256.example 1000)
equals "1000 new signatures: 1000 answers with an RRSIG, 1000 C_Sign at the HSM (the control of C_Sign)" \
    "$n answers, $(sim_count C_Sign) C_Sign" "1000 answers, 1000 C_Sign"
equals "... and 0 C_Digest (hashed in software)" "$(sim_count C_Digest)" "0"
# pkcs11-tool --test digests single-part (C_Digest) at the simulator; the
# token store is the agent's when only the agent may reach it.
SOFTHSM2_CONF=${HC_AGENT_SOFTHSM2_CONF:-$SOFTHSM2_CONF} pkcs11-tool --module "$SIM" --test > "$T/p11test.out" 2>&1
check "C_Digest's control: pkcs11-tool --test's digests at the simulator are counted ($(sim_count C_Digest))" \
    test "$(sim_count C_Digest)" -ge 1
"$SIMCTL" "$SIMSTATE" reset
n=$(ask p256.example 1000)
equals "1000 warm answers (pdns's own cache): 1000 with an RRSIG, 0 C_Sign, 0 C_Digest" \
    "$n $(sim_count C_Sign) $(sim_count C_Digest)" "1000 0 0"
stop_pdns
must_start_pdns   # a restart: PowerDNS's own cache is empty, ours is on disk
"$SIMCTL" "$SIMSTATE" reset
n=$(ask p256.example 1000)
equals "1000 answers after a pdns restart: 1000 with an RRSIG, 0 C_Sign (persistent cache), 0 C_Digest" \
    "$n $(sim_count C_Sign) $(sim_count C_Digest)" "1000 0 0"
signed_a "$(dig +dnssec +noall +answer -p "$DNS_PORT" @127.0.0.1 n1001.p256.example A)"
equals "... while a name no pass asked costs this pdns_server 1 C_Sign (the control)" "signed $? C_Sign $(sim_count C_Sign)" "signed 0 C_Sign 1"
equals "... and ldns-verify-zone accepts the 1000 RRSIGs those answers carried" \
    "$(answers_verify p256.example)" "1000 Zone is verified and complete"
contains "an answer after the restart validates with delv" \
    "$(delv -a "$T/p256.example.anchor" +root=p256.example -p "$DNS_PORT" @127.0.0.1 n777.p256.example A 2>&1)" "; fully validated"
agent_used 1000   # with HC_AGENT_ONLY=1: the hosts signed through the agent (tests/lib/env.sh)
done_testing
