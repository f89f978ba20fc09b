#!/usr/bin/env bash
# The core and the CLI read their environment with secure_getenv: in a
# setgid (or setuid, or capability-raised) process the caller's
# HSMCACHE_CONF, SOFTHSM2_CONF and CREDENTIALS_DIRECTORY are ignored, so
# a caller cannot choose the config, the token store or the PIN files of
# a privileged process. Two copies of the built CLI (it carries the
# core's objects and loads no libhsmcache.so, so no RUNPATH matters to a
# setgid copy, whose loader ignores $ORIGIN) differ only in the setgid bit (group hc-sg): the plain one follows each variable
# (the control), the setgid one, run by root (real gid 0, effective
# hc-sg: glibc's secure mode), does not.
# no-sanitizer: a setgid copy of an ASan build cannot load its runtime's preload
. "$(dirname "$0")/../lib/env.sh"
hc_setup
agent_user hc-sgu hc-sg
make_token sgt
write_config dns softhsm2 sgt
store_pin dns
mkdir -p "$T/sg"
cp "$BUILD/hsmcache" "$T/sg/plain"
equals "the CLI copy loads no libhsmcache.so (a setgid copy ignores RUNPATH \$ORIGIN)" \
    "$(ldd "$T/sg/plain" | grep -c libhsmcache)" "0"
cp "$T/sg/plain" "$T/sg/setgid"
chgrp hc-sg "$T/sg/setgid"
chmod 2755 "$T/sg/setgid"
equals "the copy is setgid hc-sg" "$(stat -c '%A %G' "$T/sg/setgid")" "-rwxr-sr-x hc-sg"

# HSMCACHE_CONF: the config path.
printf '[core]\nno-such-key = 1\n' > "$T/caller.conf"   # refused, naming its path
out=$(HSMCACHE_CONF=$T/caller.conf "$T/sg/plain" tokens 2>&1)
contains "control: the plain copy reads the caller's HSMCACHE_CONF" "$out" "$T/caller.conf"
out=$(HSMCACHE_CONF=$T/caller.conf "$T/sg/setgid" tokens 2>&1)
lacks "the setgid copy ignores it" "$out" "$T/caller.conf"
check "... and runs with the -c it is given" env HSMCACHE_CONF="$T/caller.conf" "$T/sg/setgid" -c "$HSMCACHE_CONF" tokens

# SOFTHSM2_CONF, as doctor reads it.
out=$(SOFTHSM2_CONF=$T/caller-softhsm.conf "$T/sg/plain" -c "$HSMCACHE_CONF" doctor 2>&1)
contains "control: plain doctor checks the caller's SOFTHSM2_CONF" "$out" "$T/caller-softhsm.conf"
out=$(SOFTHSM2_CONF=$T/caller-softhsm.conf "$T/sg/setgid" -c "$HSMCACHE_CONF" doctor 2>&1)
lacks "setgid doctor ignores it" "$out" "$T/caller-softhsm.conf"

# CREDENTIALS_DIRECTORY: where the PIN file is read from first. The
# caller's holds a wrong PIN; the store the right one.
mkdir -m 700 "$T/creds"
printf 'wrong-%s\n' "$PIN" > "$T/creds/hsmcache-pin-dns"
chmod 600 "$T/creds/hsmcache-pin-dns"
out=$(CREDENTIALS_DIRECTORY=$T/creds "$T/sg/plain" -c "$HSMCACHE_CONF" pin check dns 2>&1)
contains "control: the plain copy takes the PIN from the caller's CREDENTIALS_DIRECTORY" "$out" "$T/creds/hsmcache-pin-dns"
out=$(CREDENTIALS_DIRECTORY=$T/creds "$T/sg/setgid" -c "$HSMCACHE_CONF" pin check dns 2>&1); st=$?
equals "the setgid copy ignores it: the stored PIN is used ($out)" "$st:$out" "0:token dns: PIN ok"
done_testing
