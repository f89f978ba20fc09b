#!/usr/bin/env bash
# How the SSH CA module finds ssh-keygen's release in dpkg's status file
# (sshca-plugin/dpkg.c maps the file and looks for the stanza), with
# edited copies bind-mounted over /var/lib/dpkg/status in a private mount
# namespace: a stanza whose name only starts with "openssh-client" does
# not count; openssh-client as the file's last stanza, its Version the
# file's last line with no newline after it, is read; a removed package (Status: deinstall) and an empty
# status file are refused by the host rule, naming the status file.
# sshca_differential.sh covers the MD5 record and the releases themselves.
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
STATUS=/var/lib/dpkg/status

# with_status DESC FILE signs|NEEDLE: ssh-keygen certifies u1.pub while
# FILE is dpkg's status; it signs, or it is refused saying NEEDLE.
with_status() {
    local desc=$1 file=$2 want=$3 st=0 out
    rm -f "$T/u1-cert.pub"
    unshare --mount --propagation private sh -c 'mount --bind "$1" /var/lib/dpkg/status && shift && exec "$@"' \
        - "$file" ssh-keygen -q -s "$T/ca.pub" -D "$SSHCA" -I u1 -n alice -V +1h "$T/u1.pub" \
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
# The openssh-client stanza alone, and the file without it.
sed -n '/^Package: openssh-client$/,/^$/p' "$STATUS" | sed '/^$/d' > "$T/stanza"
sed '/^Package: openssh-client$/,/^$/d' "$STATUS" > "$T/others"
check "the status file has an openssh-client stanza with a Version" grep -q '^Version: ' "$T/stanza"

cp "$STATUS" "$T/status.copy"
with_status "control: dpkg's status file, copied" "$T/status.copy" signs

{ sed 's/^Package: openssh-client$/Package: openssh-client-decoy/; s/^Version: .*/Version: 1:10.5p1-1/' "$T/stanza"
  echo; cat "$T/others"; cat "$T/stanza"; } > "$T/status.decoy"
with_status "a stanza openssh-client-decoy (release 10.5p1) first, openssh-client later" \
    "$T/status.decoy" signs

{ cat "$T/others"; grep -v '^Version: ' "$T/stanza"; printf '%s' "$(grep '^Version: ' "$T/stanza")"; } > "$T/status.last"
last_byte=$(tail -c 1 "$T/status.last" | od -An -tx1 | tr -d ' \n')
equals "... (that file ends in the Version line, without a newline)" \
    "$(tail -n 1 "$T/status.last" | cut -c1-9)|$([ "$last_byte" = 0a ] && echo newline)" "Version: |"
with_status "openssh-client the last stanza, its Version the last line, no newline at the end" \
    "$T/status.last" signs

{ cat "$T/others"; sed 's/^Status: .*/Status: deinstall ok config-files/' "$T/stanza"; } > "$T/status.removed"
with_status "openssh-client removed (Status: deinstall ok config-files)" "$T/status.removed" \
    "$STATUS has no installed openssh-client with a Version"

: > "$T/status.empty"
with_status "an empty status file" "$T/status.empty" "$STATUS is empty or cannot be read"
done_testing
