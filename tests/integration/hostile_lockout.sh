#!/usr/bin/env bash
# No card lockout, from anyone (issue 13, item 2). The simulator's PIN
# locks after 3 wrong tries.
# 1. The cache dir is unusable for the PIN rejection mark (missing and not
#    creatable, not writable, owned by another user with a lock file its
#    user may open, a file where pin-rejected/ should be): the mark can be
#    neither read nor recorded, so no login is tried at all (fail closed).
#    Three `hsmcache pin check` runs and three signers per variant, as an
#    ordinary user (hc-lock; root would write anywhere): no C_Login reaches
#    the card, it counts no wrong try, and the message names the path.
#    Control: with a usable cache dir the wrong PIN is tried exactly once.
# 2. A client PIN sent through the agent (operation `login`) is accepted
#    only for tokens the client's keys cover, and obeys the store PIN's
#    rule: after one rejection nothing is tried until the PIN store's file
#    changes or `hsmcache pin clear TOKEN`. Spoken to the agent directly
#    (tests/lib/hostile.sh, hostile_call), as uid hc-pinner.
# 3. Several uids on one token in embedded mode share the marks through a
#    group-shared cache dir (setgid, 2770): hc-lock and hc-lock2 (group
#    hc-lock-grp) check a wrong PIN four times between them, and the card
#    sees one C_Login; hc-lock3, who may use the token but is not in the
#    cache dir's group, gets no login at all.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/hostile.sh"
hc_setup
agent_user hc-lock
make_token locktok
write_config dns "$SIM" locktok
store_pin dns
"$HC" keygen dns ec ecdsa-p256 > /dev/null
store_pin dns "wrong-pin-1"
hostile_give_tree hc-lock
mkdir -p "$T/rootdir" && chmod 755 "$T/rootdir"         # root's, not writable by hc-lock

# variant NAME DIR [PATH]: DIR as cache-dir; 3 pin checks and 3 signers
# as hc-lock; the message must name PATH (default DIR).
variant() {
    local what=$1 dir=$2 path=${3:-$2} i out=
    hostile_set_cache_dir "$dir"
    "$SIMCTL" "$SIMSTATE" reset; "$SIMCTL" "$SIMSTATE" unlock   # a card locked before starts fresh
    for i in 1 2 3; do out=$(agent_as hc-lock "$HC" pin check dns 2>&1); done
    for i in 1 2 3; do agent_as hc-lock "$BUILD/tests/sigload" "$FRONT" ec 1 0.05 > /dev/null 2>&1; done
    equals "$what: 6 runs, no C_Login reached the card" "$(sim_count C_Login)" "0"
    equals "... the card counted no wrong try" "$("$SIMCTL" "$SIMSTATE" pin-status)" "wrong 0 locked 0"
    contains "... and pin check names the path" "$out" "$path"
    contains "... and says no login was tried" "$out" "no login tried"
    LAST_OUT=$out
}
variant "cache dir missing, not creatable" "$T/rootdir/cache"
sed "s/^/# /" <<< "$LAST_OUT" | head -3
install -d -o hc-lock -m 500 "$T/ro-cache"
variant "cache dir not writable" "$T/ro-cache"
install -d -o root -m 755 "$T/other-cache" "$T/other-cache/pin-rejected"
install -o root -m 666 /dev/null "$T/other-cache/pin-rejected/dns.lock"   # the lock opens, the mark cannot be written
variant "cache dir owned by root (lock file open to all)" "$T/other-cache"
install -d -o hc-lock -m 700 "$T/file-cache"
install -o hc-lock -m 600 /dev/null "$T/file-cache/pin-rejected"
variant "pin-rejected is a file" "$T/file-cache" "$T/file-cache/pin-rejected"
install -d -o hc-lock -m 700 "$T/unread-cache" "$T/unread-cache/pin-rejected"
install -o root -m 600 /dev/null "$T/unread-cache/pin-rejected/dns"      # a mark hc-lock cannot read
variant "a mark that cannot be read" "$T/unread-cache" "$T/unread-cache/pin-rejected/dns"

# The control: a usable cache dir, the wrong PIN tried exactly once.
hostile_set_cache_dir "$T/cache"
"$SIMCTL" "$SIMSTATE" reset; "$SIMCTL" "$SIMSTATE" unlock   # a card locked before starts fresh
for i in 1 2 3; do out=$(agent_as hc-lock "$HC" pin check dns 2>&1); done
for i in 1 2 3; do agent_as hc-lock "$BUILD/tests/sigload" "$FRONT" ec 1 0.05 > /dev/null 2>&1; done
equals "usable cache dir: the wrong PIN reached the card once in 6 runs" "$(sim_count C_Login)" "1"
contains "... and pin check says it is not tried again" "$out" "not tried again until that file changes"
equals "... the card is not locked" "$("$SIMCTL" "$SIMSTATE" pin-status)" "wrong 1 locked 0"

# 2. A client PIN through the agent. Tokens a and b on the simulator, no
# PIN stored for either: a client's PIN is what logs in. [client pinner]
# may log in; its keys cover token a only.
chown -R root "$T"
HC_AGENT=1
agent_user hc-pinner hc-lock-sock
chmod 711 "$T"
make_token toka
make_token tokb
write_config a "$SIM" toka "[token b]" "module = $SIM" "label = tokb" \
    "[agent]" "socket-group = hc-lock-sock" "socket-mode = 0660" \
    "[client pinner]" "uid = hc-pinner" "operations = login" "keys = pkcs11:token=a;object=ec"
chmod 644 "$HSMCACHE_CONF"
( umask 022; printf '%s\n' "wrong-client-pin" > "$T/wrong.pin"; printf '%s\n' "$PIN" > "$T/right.pin" )
"$SIMCTL" "$SIMSTATE" reset; "$SIMCTL" "$SIMSTATE" unlock
for i in 1 2 3 4; do out=$(hostile_call hc-pinner login b "$T/wrong.pin"); done
sed 's/^/# /' <<< "$out"
contains "a PIN for token b, outside the client's keys, is refused naming client and token" \
    "$out" "refused login on token b: no [client pinner] keys name it"
equals "... 4 wrong PINs for b: no C_Login reached the card" "$(sim_count C_Login)" "0"
equals "... the card counted no wrong try" "$("$SIMCTL" "$SIMSTATE" pin-status)" "wrong 0 locked 0"
first=$(hostile_call hc-pinner login a "$T/wrong.pin")
for i in 1 2 3; do out=$(hostile_call hc-pinner login a "$T/wrong.pin"); done
sed 's/^/# /' <<< "$out"
contains "a wrong PIN for token a is rejected by the token" "$first" "rv=0xa0 "
contains "... later PINs are not tried: the message says why and how to clear" "$out" "hsmcache pin clear a"
equals "... 4 wrong PINs for a: exactly one C_Login reached the card" "$(sim_count C_Login)" "1"
equals "... the card is not locked" "$("$SIMCTL" "$SIMSTATE" pin-status)" "wrong 1 locked 0"
out=$(hostile_call hc-pinner login a "$T/right.pin")
equals "even the right PIN is not tried while the mark stands" "$(sim_count C_Login)" "1"
contains "... refused with the mark's message" "$out" "hsmcache pin clear a"
contains "the operator clears the mark" "$("$HC" pin clear a 2>&1)" "mark removed"
out=$(hostile_call hc-pinner login a "$T/right.pin")
equals "then the right PIN logs in" "$out" "rv=0x0 "
equals "... with one more C_Login" "$(sim_count C_Login)" "2"

# 3. A group-shared cache dir in embedded mode.
agent_stop
HC_AGENT=
agent_user hc-lock hc-lock-grp hc-lock-tok     # hc-lock-tok: token, PIN file
agent_user hc-lock2 hc-lock-grp hc-lock-tok    # hc-lock-grp: the cache dir
agent_user hc-lock3 hc-lock-tok
write_config a "$SIM" toka
chmod 644 "$HSMCACHE_CONF"
store_pin a "wrong-pin-3"
chgrp hc-lock-tok "$T/pins" "$T/pins/a" && chmod 750 "$T/pins" && chmod 640 "$T/pins/a"
chgrp -R hc-lock-tok "$T/tokens" "$SIMSTATE" && chmod -R g+rwX "$T/tokens" && chmod g+rw "$SIMSTATE"
install -d -o root -g hc-lock-grp -m 2770 "$T/shared-cache"
hostile_set_cache_dir "$T/shared-cache"
"$SIMCTL" "$SIMSTATE" reset; "$SIMCTL" "$SIMSTATE" unlock
for u in hc-lock hc-lock2 hc-lock hc-lock2; do out=$(agent_as "$u" "$HC" pin check a 2>&1); done
sed 's/^/# /' <<< "$out"
equals "group-shared cache dir: 4 pin checks by two uids, one C_Login" "$(sim_count C_Login)" "1"
equals "... the card is not locked" "$("$SIMCTL" "$SIMSTATE" pin-status)" "wrong 1 locked 0"
contains "... the second uid is told the PIN is not tried again" "$out" "not tried again until that file changes"
equals "... the marks are the group's: pin-rejected/ 2770, its files 0660" \
    "$(stat -c '%a %G' "$T/shared-cache/pin-rejected" "$T/shared-cache/pin-rejected/a" | tr '\n' ' ')" \
    "2770 hc-lock-grp 660 hc-lock-grp "
out=$(agent_as hc-lock3 "$HC" pin check a 2>&1)
contains "a uid outside the group cannot keep the mark: no login tried" "$out" "no login tried"
equals "... and the card saw nothing more" "$(sim_count C_Login)" "1"
done_testing
