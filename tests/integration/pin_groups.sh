#!/usr/bin/env bash
# A token group has no PIN file or rejection mark of its own: each member
# has its own (README, Token groups). `hsmcache pin set GROUP` and `pin
# clear GROUP` are refused, naming the members' commands, and write or
# remove nothing; the members' own PIN files are untouched. (The library's
# hc_token_pin_store refuses a group too: test_pinstore_race.)
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token card-a
make_token card-b
write_config card-a softhsm2 card-a "[token card-b]" "module = softhsm2" "label = card-b" \
    "[token dns]" "members = card-a, card-b"
store_pin card-a
store_pin card-b
line=$(grep -n '^members' "$HSMCACHE_CONF" | cut -d: -f1)
expect_fail "pin set on a group is refused, naming the group and its config line" \
    "token dns is a token group ($HSMCACHE_CONF line $line)" \
    sh -c "printf '1234\n' | '$HC' pin set dns"
contains "... and each member's command" "$(cat "$T/check.out")" \
    "'hsmcache pin set card-a', 'hsmcache pin set card-b'; nothing stored"
check "... with the usage status 2" sh -c "printf '1234\n' | '$HC' pin set dns; [ \$? -eq 2 ]"
check "no PIN file was written for the group" test ! -e "$T/pins/dns"
equals "the members' PIN files are untouched" "$(cat "$T/pins/card-a"):$(cat "$T/pins/card-b")" \
    "$PIN:$PIN"
mkdir -p "$T/cache/pin-rejected"
echo "version 0 0 0 0.0 0.0" > "$T/cache/pin-rejected/dns"
expect_fail "pin clear on a group is refused, naming each member's command" \
    "'hsmcache pin clear card-a', 'hsmcache pin clear card-b'; no mark removed" \
    "$HC" pin clear dns
check "... and removes nothing" test -e "$T/cache/pin-rejected/dns"
check "a member's PIN is still set as before" sh -c "printf '%s\n' '$PIN' | '$HC' pin set card-a"
contains "pin check on the group logs every member in" "$("$HC" pin check dns 2>&1)" "PIN ok"
done_testing
