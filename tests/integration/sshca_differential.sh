#!/usr/bin/env bash
# The SSH CA module against the real ssh-keygen, one argv form a row: for
# each, either the module refuses the signature (ssh-keygen fails, names
# the rule, writes no certificate, the audit says "refused"), or ssh-keygen
# stops on its own without asking for one, or every certificate it writes,
# read back with ssh-keygen -L, equals its audit line on type, key id,
# serial, principals, validity and options (tests/lib/sshca_diff.py).
# The forms are those where a reading of argv other than ssh-keygen's own
# goes wrong: options after file names, "--", "-" and "-h-", grouped flags
# with attached and separate values, repeated options, every -V form
# (9.2's strtol quirks included), -O options, -h, -z, several key files.
# After the table: a copy or a renamed copy of ssh-keygen is refused, a
# symlink to the installed one is not; with dpkg's record edited (in a
# private mount namespace), a release the module has not read, or a
# binary dpkg did not install, is refused, and 10.0p1 is read as 10.0p1.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
SSHCA=$BUILD/hsmcache-sshca.so
make_token ssh
AUDIT=$T/audit.log
sshca_config() {
    write_config ssh softhsm2 ssh "[sshca]" "keys = pkcs11:token=ssh;object=ca" \
        "audit-log = $AUDIT" "$@"
}
sshca_config
store_pin ssh
"$HC" keygen ssh ca ecdsa-p256 > /dev/null
"$HC" sshca pubkey > "$T/ca.pub"
CA=$T/ca.pub

# The keys to certify, by relative name: k1..k3, and two whose names look
# like options ("-hk.pub" after --, and "-h-", which ends the options).
K=$T/keys
mkdir "$K"
for k in k1 k2 k3 hk; do ssh-keygen -q -t ed25519 -N '' -f "$K/$k" < /dev/null; done
mv "$K/hk.pub" "$K/-hk.pub"
cp "$K/k3.pub" "$K/-h-"

audit_lines() { if [ -f "$AUDIT" ]; then wc -l < "$AUDIT"; else echo 0; fi; }
# Relative -V times are resolved against the module's clock when it
# loads, a few ms after ssh-keygen read its own; a row starts early in a
# second so that both read the same second (sshca-plugin/README.md).
second_start() { while [ "$(date +%N)" -ge 800000000 ]; do sleep 0.02; done; }
CFG=
use_cfg() {
    [ "$CFG" = "$1" ] && return
    CFG=$1
    case $1 in
    strict) sshca_config "max-validity = 30d" ;;
    nohost) sshca_config "max-validity = 30d" "host-certs = no" ;;
    open) sshca_config "require-principals = no" "require-validity = no" ;;
    esac
}
# keygen_run EXPECT DESC CMD...: CMD (an ssh-keygen run) in the key dir,
# stdin closed, judged by sshca_diff.py: EXPECT is signs:N, refused:RULE
# or none. Its output stays in $T/run.out.
keygen_run() {
    local expect=$1 desc=$2 before st
    shift 2
    rm -f "$K"/*-cert.pub
    before=$(audit_lines)
    second_start
    (cd "$K" && exec "$@" < /dev/null > "$T/run.out" 2>&1)
    st=$?
    tail -n +"$((before + 1))" "$AUDIT" > "$T/run.audit" 2>/dev/null
    check "$desc: $expect" \
        python3 "$TOP/tests/lib/sshca_diff.py" "$expect" "$K" "$T/run.audit" "$T/run.out" "$st"
}
# row CONFIG EXPECT DESC ARGS...: ssh-keygen -s ca.pub -D module ARGS.
ROW=0
row() {
    local cfg=$1 expect=$2 desc=$3
    shift 3
    ROW=$((ROW + 1))
    use_cfg "$cfg"
    keygen_run "$expect" "row $ROW [$cfg] $desc (ssh-keygen $*)" ssh-keygen -s "$CA" -D "$SSHCA" "$@"
}

# Dates for the absolute -V forms (the test's zone, which ssh-keygen shares).
d0=$(date +%Y%m%d)
d1=$(date -d tomorrow +%Y%m%d)
d40=$(date -d '+40 days' +%Y%m%d)
h0=$(printf '%x' "$(($(date +%s) - 600))")
h1=$(printf '%x' "$(($(date +%s) + 3600))")

# --- argv shapes: where options end, grouping, attached values
row strict signs:1 "plain" -I id1 -n alice -V +1h k1.pub
row strict signs:1 "attached values" -Iid2 -nalice -V+1h k1.pub
row strict signs:1 "grouped flags, attached value (-hIweb)" -hIweb -n web1 -V +1h k1.pub
row strict signs:1 "grouped flags, separate value (-hI web)" -hI web -n web1 -V +1h k1.pub
row strict signs:1 "three flags grouped (-qhU)" -qhU -I web -n web1 -V +1h k1.pub
row strict signs:1 "value that looks like an option (-I -h)" -I -h -n alice -V +1h k1.pub
row strict signs:1 "-n -h: principal named -h, not a host certificate" -I x -n -h -V +1h k1.pub
row strict refused:require-principals "options after the key file are file names (the issue's bypass)" \
    -I x k1.pub -h -n web1 -V +1h
row open signs:1 "... with an open policy: the certificate has none of them" -I x k1.pub -h -n web1 -V +1h
row strict refused:require-validity "-V after the key file" -I x -n alice k1.pub -V +1h
row strict refused:require-principals "-- ends the options: -n after it is a file" -I x -V +1h -- k1.pub -n alice
row strict signs:1 "-- before the key file" -I x -n alice -V +1h -- k1.pub
row strict signs:1 "a key file named -hk.pub after --" -I x -n alice -V +1h -- -hk.pub
row strict signs:2 "-h- : grouped -h, then a lone - ends the options; -h- is a key file" \
    -I x -n web1 -V +1h -h- k2.pub
row strict none "a lone - is the first key file (unreadable: ssh-keygen stops)" -I x -n alice -V +1h - k1.pub
row strict signs:1 "a lone - after the key: k1 signed, then ssh-keygen stops" -I x -n alice -V +1h k1.pub -
row strict none "no -I: ssh-keygen stops" -n alice -V +1h k1.pub
row strict none "-I after the key file: no -I" -n alice -V +1h k1.pub -I x
row strict none "an option ssh-keygen does not have (-j)" -j -I x -n alice -V +1h k1.pub
row strict none "-p with -c: ssh-keygen stops" -p -c -I x -n alice -V +1h k1.pub
row strict none "-k: a KRL, not a certificate" -k -f "$T/krl" -I x -n alice -V +1h k1.pub
row strict signs:1 "-U with -D: the module still signs" -U -I x -n alice -V +1h k1.pub
row nohost refused:host-certs "-hI x: a grouped -h is still -h" -hI x -n web1 -V +1h k1.pub
row nohost refused:host-certs "-qh grouped" -qh -I x -n web1 -V +1h k1.pub
row nohost signs:1 "-h after the key file is a file: a user certificate, then a stop" -I x -n alice -V +1h k1.pub -h
# --- -I and -n
row strict signs:1 "repeated -n: the last one" -I x -n root -n alice -V +1h k1.pub
row strict signs:1 "repeated -I: the last one" -I first -I second -n alice -V +1h k1.pub
row strict signs:1 "-n list" -I x -n alice,bob,carol -V +1h k1.pub
row strict none "-n with an empty name" -I x -n alice,,bob -V +1h k1.pub
row strict none "-n ''" -I x -n '' -V +1h k1.pub
row strict signs:1 "-I with blanks and UTF-8" -I 'alice laptop é' -n alice -V +1h k1.pub
row open signs:1 "no -n: no principals" -I x -V +1h k1.pub
# --- -V, every form
row strict signs:1 "-V +30d (ssh-keygen's backdate not counted)" -I x -n alice -V +30d k1.pub
row strict refused:max-validity "-V +30d1s" -I x -n alice -V +30d1s k1.pub
row strict refused:max-validity "-V +5w" -I x -n alice -V +5w k1.pub
row strict signs:1 "-V +1w" -I x -n alice -V +1w k1.pub
row strict signs:1 "-V +1h30m (units combined)" -I x -n alice -V +1h30m k1.pub
row strict signs:1 "-V +3600 (no unit: seconds)" -I x -n alice -V +3600 k1.pub
row strict signs:1 "-V -5m:+1h" -I x -n alice -V -5m:+1h k1.pub
row strict signs:1 "-V -1d:+1d" -I x -n alice -V -1d:+1d k1.pub
row strict signs:1 "-V +1h:+2h (postdated)" -I x -n alice -V +1h:+2h k1.pub
row strict signs:1 "-V ++1h (9.2's strtol takes a sign)" -I x -n alice -V ++1h k1.pub
row strict signs:1 "-V '-0:+ 1h' (9.2: -0 and a blank)" -I x -n alice -V '-0:+ 1h' k1.pub
row strict signs:1 "-V local dates" -I x -n alice -V "$d0:$d1" k1.pub
row strict signs:1 "-V UTC dates (Z, UTC)" -I x -n alice -V "${d0}Z:${d1}UTC" k1.pub
row strict signs:1 "-V YYYYMMDDHHMM" -I x -n alice -V "${d0}0930:${d1}1015" k1.pub
row strict signs:1 "-V YYYYMMDDHHMMSS" -I x -n alice -V "${d0}093015:${d1}101516" k1.pub
row strict refused:max-validity "-V dates 40 days apart" -I x -n alice -V "$d0:$d40" k1.pub
row strict signs:1 "-V 0x..:0x.." -I x -n alice -V "0x$h0:0x$h1" k1.pub
row strict refused:max-validity "-V always:+1h" -I x -n alice -V always:+1h k1.pub
row strict refused:max-validity "-V -1h:forever" -I x -n alice -V -1h:forever k1.pub
row strict refused:max-validity "-V always:forever" -I x -n alice -V always:forever k1.pub
row open signs:1 "-V always:forever, open policy" -I x -n alice -V always:forever k1.pub
row open signs:1 "no -V: valid forever" -I x -n alice k1.pub
row strict signs:1 "two -V: the last one" -I x -n alice -V +40d -V +1h k1.pub
row strict none "a bad -V before a good one stops ssh-keygen" -I x -n alice -V +1x -V +1h k1.pub
row strict none "-V lone date" -I x -n alice -V "$d1" k1.pub
row strict none "-V lone 0x" -I x -n alice -V "0x$h1" k1.pub
row strict none "-V lone -1h" -I x -n alice -V -1h k1.pub
row strict none "-V 0X (upper case) dates" -I x -n alice -V "0X$h0:0X$h1" k1.pub
row strict none "-V forever:+1h" -I x -n alice -V forever:+1h k1.pub
row strict none "-V +1h:always" -I x -n alice -V +1h:always k1.pub
row strict none "-V +2h:+1h (empty)" -I x -n alice -V +2h:+1h k1.pub
row strict none "-V +1h: (no end)" -I x -n alice -V +1h: k1.pub
row strict none "-V :+1h (no start)" -I x -n alice -V :+1h k1.pub
# --- -O
row strict signs:1 "-O clear" -I x -n alice -V +1h -O clear k1.pub
row strict signs:1 "-O force-command, source-address" -I x -n alice -V +1h \
    -O force-command=/bin/true -O source-address=127.0.0.1/32,::1 k1.pub
row strict signs:1 "-O no-pty -O no-x11-forwarding" -I x -n alice -V +1h -O no-pty -O no-x11-forwarding k1.pub
row strict signs:1 "-O clear -O permit-pty" -I x -n alice -V +1h -O clear -O permit-pty k1.pub
row strict signs:1 "-O PERMIT-PTY, Force-Command= (any case)" -I x -n alice -V +1h -O clear -O PERMIT-PTY \
    -O Force-Command=/bin/echo k1.pub
row strict signs:1 "-O extension:, critical:" -I x -n alice -V +1h -O extension:foo@example.com=bar \
    -O critical:baz@example.com k1.pub
row strict signs:1 "-O verify-required, no-touch-required" -I x -n alice -V +1h -O verify-required \
    -O no-touch-required k1.pub
row strict none "-O force-command twice" -I x -n alice -V +1h -O force-command=a -O force-command=b k1.pub
row strict none "-O bogus" -I x -n alice -V +1h -O bogus k1.pub
row strict signs:1 "-h: a host certificate has no extensions" -h -I x -n web1 -V +1h k1.pub
row strict signs:1 "-h -O permit-pty: added back" -h -O permit-pty -I x -n web1 -V +1h k1.pub
row strict signs:1 "-O permit-pty before -h: -O comes last" -O permit-pty -h -I x -n web1 -V +1h k1.pub
# --- -z and several key files
row strict signs:1 "-z 42" -I x -n alice -V +1h -z 42 k1.pub
row strict signs:1 "-z 2^64-1" -I x -n alice -V +1h -z 18446744073709551615 k1.pub
row strict none "-z 2^64" -I x -n alice -V +1h -z 18446744073709551616 k1.pub
row strict none "-z -1" -I x -n alice -V +1h -z -1 k1.pub
row strict signs:3 "three key files" -I m -n alice -V +1h k1.pub k2.pub k3.pub
row strict signs:3 "-z +7: serials 7, 8, 9" -I m -n alice -V +1h -z +7 k1.pub k2.pub k3.pub
row strict signs:2 "-z +5 -z 9: 9, 10 (the + stays)" -I m -n alice -V +1h -z +5 -z 9 k1.pub k2.pub
row strict signs:2 "-z +18446744073709551615: wraps to 0" -I m -n alice -V +1h \
    -z +18446744073709551615 k1.pub k2.pub
row strict signs:1 "k1, then a missing key file" -I m -n alice -V +1h k1.pub missing.pub
row strict none "a missing key file first" -I m -n alice -V +1h missing.pub k1.pub
row strict refused:require-principals "two keys, -n after the first" -I m -V +1h k1.pub -n alice k2.pub

# --- the host program: only the installed ssh-keygen may sign
mkdir -m 755 "$T/bin"
cp /usr/bin/ssh-keygen "$T/bin/ssh-keygen"
cp /usr/bin/ssh-keygen "$T/bin/keygen"
ln -s /usr/bin/ssh-keygen "$T/bin/linked-keygen"
use_cfg strict
# (run by path, they miss run.sh's ASan wrappers on PATH: preloaded here)
PRELOAD=()
[ -n "${HC_HOST_PRELOAD:-}" ] && PRELOAD=(env LD_PRELOAD="$HC_HOST_PRELOAD")
for prog in "$T/bin/ssh-keygen" "$T/bin/keygen"; do
    keygen_run refused:host "a copy of ssh-keygen at $prog is refused, audited" \
        "${PRELOAD[@]}" "$prog" -s "$CA" -D "$SSHCA" -I x -n alice -V +1h k1.pub
    contains "... the refusal names the program" "$(cat "$T/run.out")" \
        "the host program is $prog, not /usr/bin/ssh-keygen"
done
keygen_run signs:1 "a symlink to /usr/bin/ssh-keygen runs the installed binary: signed as audited" \
    "${PRELOAD[@]}" "$T/bin/linked-keygen" -s "$CA" -D "$SSHCA" -I x -n alice -V +1h k1.pub

# --- the release, from dpkg: in a private mount namespace dpkg's status
# and openssh-client's md5sums are replaced by edited copies.
# dpkg_run VERSION MD5 EXPECT DESC ARGS...: ssh-keygen ARGS while dpkg says
# openssh-client VERSION is installed, with MD5 for usr/bin/ssh-keygen.
MD5=$(md5sum < /usr/bin/ssh-keygen | cut -d' ' -f1)
REAL_VERSION=$(dpkg-query -W -f '${Version}' openssh-client)
dpkg_run() {
    local version=$1 md5=$2 expect=$3 desc=$4
    shift 4
    sed "/^Package: openssh-client\$/,/^\$/ s/^Version: .*/Version: $version/" \
        /var/lib/dpkg/status > "$T/status"
    sed "s|^[0-9a-f]*  usr/bin/ssh-keygen\$|$md5  usr/bin/ssh-keygen|" \
        /var/lib/dpkg/info/openssh-client.md5sums > "$T/md5sums"
    keygen_run "$expect" "$desc" unshare --mount --propagation private sh -c \
        'mount --bind "$1" /var/lib/dpkg/status && \
         mount --bind "$2" /var/lib/dpkg/info/openssh-client.md5sums && shift 2 && exec ssh-keygen "$@"' \
        - "$T/status" "$T/md5sums" -s "$CA" -D "$SSHCA" "$@"
}
dpkg_run "$REAL_VERSION" "$MD5" signs:1 "the control: dpkg's own record, copied, signs" \
    -I x -n alice -V +1h k1.pub
dpkg_run 1:10.5p1-1 "$MD5" refused:host "a release the module has not read (10.5p1) is refused" \
    -I x -n alice -V +1h k1.pub
contains "... naming it and the ones it knows" "$(cat "$T/run.out")" \
    "/usr/bin/ssh-keygen is OpenSSH 10.5p1, a release whose arguments this module cannot read (it knows 9.2p1, 10.0p1, 10.0p2)"
dpkg_run 1:10.0p1-7~bpo12+1 "$MD5" refused:arguments "as 10.0p1, -V ++1h is refused (10.0 reads digits only)" \
    -I x -n alice -V ++1h k1.pub
contains "... naming the argument" "$(cat "$T/run.out")" "ssh-keygen 10.0p1's arguments: -V '++1h'"
dpkg_run 1:10.0p1-7~bpo12+1 "$MD5" signs:1 "as 10.0p1, -V +1h signs" -I x -n alice -V +1h k1.pub
dpkg_run "$REAL_VERSION" 00112233445566778899aabbccddeeff refused:host \
    "a binary whose MD5 is not dpkg's record is refused" -I x -n alice -V +1h k1.pub
contains "... saying so" "$(cat "$T/run.out")" "is not the file the openssh-client package installed"
done_testing
