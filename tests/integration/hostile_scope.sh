#!/usr/bin/env bash
# What a client of the agent learns about tokens and keys outside its
# `keys` (issue 13, items 1 and 3). Client pdns (uid hc-scope-pdns) has
#   keys = pkcs11:token=scopetok;object=ec;id=%aa
# (the token by its real label, the key by label and CKA_ID); the agent
# serves two tokens, dns (real label scopetok) and other (othertok), each
# with a key labelled "ec" and CKA_ID aa.
# - hello lists only the client's tokens: its slots are numbered among
#   them, and the other token's name never reaches it (nor the front's
#   slot list);
# - stats match keys as the keys rules do (token by real info, label,
#   CKA_ID): its own key's counters are shown, the other token's "ec" is
#   not; once a second "ec" (CKA_ID bb) on its token has signed, the
#   dns/ec counters (which count both: stats keep no CKA_ID) are hidden.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/hostile.sh"
hostile_setup hc-scope-sock hc-scope-pdns
make_token scopetok
make_token othertok
write_config dns "$SOFTHSM_MODULE" scopetok \
    "[token other]" "module = $SOFTHSM_MODULE" "label = othertok" \
    "[agent]" "socket-group = hc-scope-sock" "socket-mode = 0660" \
    "[client pdns]" "uid = hc-scope-pdns" "keys = pkcs11:token=scopetok;object=ec;id=%aa"
chmod 644 "$HSMCACHE_CONF"
store_pin dns
store_pin other

# gen_key TOKENLABEL ID LABEL: an EC P-256 key pair made on the SoftHSM
# token itself (a chosen CKA_ID). The PIN crosses argv: a test-only
# exception, on a throwaway token (as in token_objects).
gen_key() {
    printf '%s' "$PIN" > "$T/gen.pin"
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$1" --login \
        --pin "$(cat "$T/gen.pin")" --keypairgen --key-type EC:prime256v1 \
        --id "$2" --label "$3" > /dev/null 2>&1
}
check "control: key ec (id aa) made on scopetok" gen_key scopetok aa ec
check "control: key ec (id aa) made on othertok" gen_key othertok aa ec

# hello and the slots built from it.
equals "hello lists the client only its own token" "$(hostile_call hc-scope-pdns tokens)" "tokens dns"
equals "... (control: the agent's own user gets both)" "$(hostile_call root tokens)" "tokens dns other"
slots=$(agent_as hc-scope-pdns pkcs11-tool --module "$FRONT" -L 2>&1)
sed 's/^/# pdns: /' <<< "$slots" | grep -i "slot\|label"
contains "the front as the client shows its token" "$slots" "hsmcache token dns"
lacks "... and no slot of the other token" "$slots" "Slot 1"
lacks "... nor its name" "$slots" "token other"
contains "... (control: the front as root shows the other token)" \
    "$(pkcs11-tool --module "$FRONT" -L 2>&1)" "hsmcache token other"

# pdns_stats: the client's stats text (its key and token lines shown).
pdns_stats() {
    hostile_call hc-scope-pdns stats > "$T/stats.out"
    grep '^key\|^token' "$T/stats.out" | sed 's/^/# pdns stats: /'
}

# Stats: the client's key, and the same label on the other token.
check "the client signs with its key through the front" \
    agent_as hc-scope-pdns "$BUILD/tests/sigload" "$FRONT" ec 1 0.3
contains "root signs with the other token's ec" "$(hostile_call root sign-all other ec)" "signed 1"
pdns_stats
out=$(cat "$T/stats.out")
contains "its stats show its own key (matched by real token label and CKA_ID)" "$out" "key dns/ec: sign requests"
lacks "... and nothing of the other token's ec" "$out" "other/ec"
lacks "... nor the other token" "$out" "token other"
contains "... (control: root's stats show the other token's ec)" \
    "$(hostile_call root stats)" "key other/ec: sign requests"

# A second ec on the client's token, outside its keys, signs too.
check "control: key ec (id bb) made on scopetok" gen_key scopetok bb ec
contains "root signs with both ec keys of dns" "$(hostile_call root sign-all dns ec)" "signed 2"
pdns_stats
out=$(cat "$T/stats.out")
lacks "dns/ec's counters now include a key outside its keys: hidden" "$out" "key dns/ec"
contains "... while its token's own counters are still shown" "$out" "token dns: sign requests"
contains "... (control: root's stats show dns/ec)" "$(hostile_call root stats)" "key dns/ec: sign requests"
done_testing
