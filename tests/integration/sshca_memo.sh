#!/usr/bin/env bash
# The SSH CA module's memo of ssh-keygen's release (sshca-plugin/dpkg.c):
# a run as root that checked everything (the binary's MD5 against dpkg's
# md5sums, openssh-client installed) writes /var/cache/hsmcache-sshca/
# ssh-keygen.release, root's, 0644, naming the binary's and the status
# file's identity, the listed MD5 and the release; a later run takes the
# release from it (a memo naming release 0.0p0 makes ssh-keygen refused as
# OpenSSH 0.0p0) only while all of that still holds and only root could
# have written it. Not believed (the whole check runs and signs): a memo
# owned by another user, group-writable by another group, in a directory
# others can write, naming the binary as it was before a chmod (its
# ctime), or another status file. md5sums is read on every run, so one
# listing another MD5 is refused whatever the memo says. The script runs
# in a private mount namespace with a tmpfs on the memo's directory: a
# forged memo never reaches the machine's other ssh-keygen runs.
DIR=/var/cache/hsmcache-sshca
MEMO=$DIR/ssh-keygen.release
if [ -z "${HC_MEMO_NS:-}" ]; then
    mkdir -p "$DIR" && chmod 0755 "$DIR"
    exec unshare --mount --propagation private env HC_MEMO_NS=1 bash "$0" "$@"
fi
mount -t tmpfs -o mode=0755 tmpfs "$DIR" || { echo "not ok - tmpfs on $DIR"; echo "1..1"; exit 1; }
. "$(dirname "$0")/../lib/env.sh"
hc_setup
SSHCA=$BUILD/hsmcache-sshca.so
make_token ssh
write_config ssh softhsm2 ssh "[sshca]" "keys = pkcs11:token=ssh;object=ca" \
    "audit-log = $T/audit.log"
store_pin ssh
"$HC" keygen ssh ca ecdsa-p256 > /dev/null
"$HC" sshca pubkey > "$T/ca.pub"
ssh-keygen -q -t ed25519 -N '' -f "$T/u1"
VERSION=$(dpkg-query -W -f '${Version}' openssh-client)
RELEASE=${VERSION#*:}
RELEASE=${RELEASE%-*}

# keygen DESC signs|NEEDLE: ssh-keygen certifies u1.pub; it signs, or it
# is refused saying NEEDLE.
keygen() {
    local desc=$1 want=$2 st=0 out
    rm -f "$T/u1-cert.pub"
    ssh-keygen -q -s "$T/ca.pub" -D "$SSHCA" -I u1 -n alice -V +1h "$T/u1.pub" \
        < /dev/null > "$T/run.out" 2>&1 || st=$?
    out=$(head -c 600 "$T/run.out")
    if [ "$want" = signs ]; then
        if [ "$st" = 0 ] && [ -s "$T/u1-cert.pub" ]; then ok "$desc: signs"
        else not_ok "$desc: signs (status $st: $out)"; fi
    elif [ "$st" != 0 ] && [ ! -e "$T/u1-cert.pub" ]; then
        contains "$desc: refused, saying so" "$out" "$want"
    else
        not_ok "$desc: refused (status $st, certificate $(ls "$T/u1-cert.pub" 2>&1): $out)"
    fi
}
# forge [SED]: the memo as the last run wrote it, its release 0.0p0, then
# SED applied to it; root's, 0644.
forge() {
    sed "s/^release .*/release 0.0p0/${1:+; $1}" "$T/memo.good" > "$MEMO"
    chown 0:0 "$MEMO"
    chmod 0644 "$MEMO"
}
id_of() { stat -L -c '%d %i %s' "$1"; }

check "no memo before the first run" test ! -e "$MEMO"
keygen "the first run (the whole check)" signs
check "... and it wrote the memo" test -f "$MEMO"
equals "... root's, 0644" "$(stat -c '%U:%G %a' "$MEMO" 2>&1)" "root:root 644"
cp "$MEMO" "$T/memo.good" 2>/dev/null
memo=$(cat "$MEMO" 2>&1)
contains "... naming the binary (device, inode, size)" "$memo" "exe $(id_of /usr/bin/ssh-keygen) "
contains "... the MD5 md5sums lists" "$memo" \
    "md5 $(awk '$2 == "usr/bin/ssh-keygen" { print $1 }' /var/lib/dpkg/info/openssh-client.md5sums)"
contains "... the status file (device, inode, size)" "$memo" "status $(id_of /var/lib/dpkg/status) "
contains "... and the release" "$memo" "release $RELEASE"
keygen "a run with the memo" signs

forge
keygen "a memo naming release 0.0p0 is believed" "is OpenSSH 0.0p0, a release whose arguments this module cannot read"

forge
chown nobody "$MEMO"
keygen "the same memo owned by nobody is not believed" signs
contains "... and the run rewrote it, root's, with the real release" "$(stat -c '%U' "$MEMO") $(cat "$MEMO")" "root "
contains "... (its release)" "$(cat "$MEMO")" "release $RELEASE"

forge
chgrp nogroup "$MEMO" && chmod 0664 "$MEMO"
keygen "the same memo writable by group nogroup is not believed" signs

forge
chmod 0777 "$DIR"
keygen "the same memo in a directory anyone can write is not believed" signs
equals "... and no run writes there" "$(grep '^release' "$MEMO")" "release 0.0p0"
chmod 0755 "$DIR"

forge
chmod "$(stat -c %a /usr/bin/ssh-keygen)" /usr/bin/ssh-keygen # its mode again: a new ctime, nothing else
keygen "a memo naming the binary before a change of its inode (chmod: its ctime) is not believed" signs

forge
cp /var/lib/dpkg/status "$T/status.copy"
mount --bind "$T/status.copy" /var/lib/dpkg/status
keygen "a memo naming another status file (the same bytes, another inode) is not believed" signs
umount /var/lib/dpkg/status

forge
sed "s|^[0-9a-f]*  usr/bin/ssh-keygen\$|00112233445566778899aabbccddeeff  usr/bin/ssh-keygen|" \
    /var/lib/dpkg/info/openssh-client.md5sums > "$T/md5sums"
mount --bind "$T/md5sums" /var/lib/dpkg/info/openssh-client.md5sums
keygen "md5sums listing another MD5 is refused whatever the memo says" \
    "is not the file the openssh-client package installed"
umount /var/lib/dpkg/info/openssh-client.md5sums

rm -f "$MEMO"
keygen "the control: with the memo removed, the whole check" signs
contains "... writes it again" "$(cat "$MEMO" 2>&1)" "release $RELEASE"
done_testing
