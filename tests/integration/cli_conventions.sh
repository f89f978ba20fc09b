#!/usr/bin/env bash
# The conventions of a Debian host's world, as its operators expect them of
# every command we ship (hsmcache and each subcommand, pdns-hsm and each
# subcommand, hsmcached, hsmsim-ctl): --help prints the usage, options and
# exit statuses to stdout and exits 0, without reading any config; an
# unknown option, a missing value or a value given to a flag exits 2 with
# a message naming it; long options take --opt VALUE and --opt=VALUE; the
# man pages document each command's exit statuses. And `hsmcache tokens`
# says why it refuses a PIN file, and keeps its columns aligned whatever a
# module path's length. (pdns-hsm's --config-dir=DIR against a real
# PowerDNS config is in pdns_hsm.sh.)
. "$(dirname "$0")/../lib/env.sh"
hc_setup
PH=$BUILD/pdns-hsm
AGENTBIN=$BUILD/hsmcached

# help_ok PROG CMD...: `CMD --help` exits 0, prints "usage: PROG" first,
# then an "Exit status:" section with 0 and 2, on stdout, nothing on stderr.
help_ok() {
    local prog=$1 st first
    shift
    "$@" --help > "$T/help.out" 2> "$T/help.err"; st=$?
    first=$(head -1 "$T/help.out")
    if [ "$st" = 0 ] && [ "${first#"usage: $prog"}" != "$first" ] &&
       grep -q '^Exit status:$' "$T/help.out" && grep -q '^  0  ' "$T/help.out" &&
       grep -q '^  2  usage' "$T/help.out" && [ ! -s "$T/help.err" ]; then
        ok "$* --help: exit 0, 'usage: $prog', exit statuses, on stdout"
    else
        not_ok "$* --help: status $st, stdout: $(head -c 600 "$T/help.out"), stderr: $(head -c 300 "$T/help.err")"
    fi
}
# usage_fail DESC NEEDLE CMD...: CMD exits 2 with NEEDLE (the option or
# argument at fault) and the usage line on stderr.
usage_fail() {
    local desc=$1 needle=$2 st
    shift 2
    "$@" > "$T/fail.out" 2> "$T/fail.err"; st=$?
    if [ "$st" = 2 ] && grep -qF -- "$needle" "$T/fail.err" && grep -q '^usage: ' "$T/fail.err"; then
        ok "$desc"
    else
        not_ok "$desc (status $st, want 2 and '$needle'; stderr: $(head -c 600 "$T/fail.err"))"
    fi
}

# --- --help everywhere, with no config to read (it must not need one).
export HSMCACHE_CONF=$T/no-such.conf
help_ok "hsmcache [-c CONFIG] COMMAND" "$HC"
for cmd in tokens keys keygen pin "pin set" "pin check" "pin clear" stats doctor sshca \
           "sshca pubkey" "sshca sign" "sshca revoke" "sshca krl"; do
    # shellcheck disable=SC2086 # the subcommand's words
    help_ok "hsmcache $cmd" "$HC" $cmd
done
help_ok "pdns-hsm [--config-dir DIR]" "$PH"
for cmd in audit migrate ds check warm; do
    help_ok "pdns-hsm $cmd" "$PH" "$cmd"
done
help_ok "hsmcached [--config FILE]" "$AGENTBIN"
help_ok "hsmsim-ctl STATE" "$SIMCTL"
out=$("$HC" -h 2>&1); st=$?
equals "hsmcache -h (kept): the same help, exit 0" "$st:$(head -1 <<< "$out")" "0:usage: hsmcache [-c CONFIG] COMMAND [ARGS]"
out=$("$PH" -h 2>&1); st=$?
equals "pdns-hsm -h (kept): the same help, exit 0" "$st:$(head -1 <<< "$out")" \
    "0:usage: pdns-hsm [--config-dir DIR] [--hsmcache-conf FILE] COMMAND [ARGS]"
# In sshca sign, -h is ssh-keygen's host certificate, not help.
usage_fail "hsmcache sshca sign -h: a host certificate still wants its PUBKEY" \
    "give exactly one PUBKEY, after the options (0 arguments given)" "$HC" sshca sign -h
contains "hsmcache tokens --help documents the exit status of an absent token" \
    "$("$HC" tokens --help)" "  1  a token is absent"

# --- unknown options, missing values, values given to flags: exit 2, named.
usage_fail "hsmcache --bogus: exit 2, named" "unknown option '--bogus'" "$HC" --bogus tokens
usage_fail "hsmcache -Z: exit 2, named" "unknown option '-Z'" "$HC" -Z tokens
usage_fail "hsmcache keys --bogus=1: exit 2, named without its value" \
    "hsmcache keys: unknown option '--bogus'" "$HC" keys --bogus=1 dns
usage_fail "hsmcache -c without a value: exit 2, named" "option '-c' needs a value" "$HC" -c
usage_fail "hsmcache doctor --user without a value: exit 2, named" \
    "option '--user' needs a value" "$HC" doctor --user
usage_fail "hsmcache stats --prometheus=yes: a flag takes no value" \
    "option '--prometheus' takes no value" "$HC" stats --prometheus=yes
usage_fail "hsmcache sshca sign -x: exit 2, named" "unknown option '-x'" "$HC" sshca sign -x k.pub
usage_fail "hsmcache keygen with two of three arguments names the missing one" "missing ALGO" \
    "$HC" keygen dns label
usage_fail "hsmcache keys with an extra argument: named" "unexpected argument 'extra'" \
    "$HC" keys dns extra
usage_fail "hsmcache frob: unknown command named" "unknown command 'frob'" "$HC" frob
usage_fail "hsmcache pin frob: unknown subcommand named" "unknown subcommand 'frob'" "$HC" pin frob dns
usage_fail "pdns-hsm --bogus: exit 2, named" "unknown option '--bogus'" "$PH" --bogus audit
usage_fail "pdns-hsm audit --sha384: another command's option is unknown here" \
    "pdns-hsm audit: unknown option '--sha384'" "$PH" audit --sha384
usage_fail "pdns-hsm --sha384 audit: before the command too, another command's option is unknown" \
    "pdns-hsm audit: unknown option '--sha384'" "$PH" --sha384 audit
usage_fail "pdns-hsm --config-dir without a value: exit 2, named" \
    "option '--config-dir' needs a value" "$PH" audit --config-dir
usage_fail "pdns-hsm ds without ZONE names it" "missing ZONE" "$PH" ds
usage_fail "pdns-hsm --h: an ambiguous prefix (--help, --hsmcache-conf) is named" "option '--h' is ambiguous" \
    "$PH" --h=x audit
usage_fail "hsmcached --bogus: exit 2, named" "unknown option '--bogus'" "$AGENTBIN" --bogus
usage_fail "hsmcached --config without a value: exit 2, named" \
    "option '--config' needs a value" "$AGENTBIN" --config
usage_fail "hsmcached with an argument: named" "unexpected argument 'extra'" "$AGENTBIN" extra
usage_fail "hsmsim-ctl --bogus: exit 2, named" "unknown option '--bogus'" "$SIMCTL" --bogus x counts

# --- --opt=VALUE and --opt VALUE mean the same.
make_token cli-conv
make_token cli-long
export HSMCACHE_CONF=$T/hsmcache.conf
# A module path of 150 bytes: a link to SoftHSM under long directory names.
long=$T/modules/$(printf 'd%.0s' {1..60})/$(printf 'e%.0s' {1..50})
mkdir -p "$long"
ln -s "$SOFTHSM_MODULE" "$long/libsofthsm2.so"
write_config dns softhsm2 cli-conv "[token long]" "module = $long/libsofthsm2.so" "label = cli-long"
cp "$HSMCACHE_CONF" "$T/other.conf"
export HSMCACHE_CONF=$T/no-such.conf
a=$("$HC" --config="$T/other.conf" tokens 2>&1); sa=$?
b=$("$HC" --config "$T/other.conf" tokens 2>&1); sb=$?
c=$("$HC" -c"$T/other.conf" tokens 2>&1); sc=$?
equals "hsmcache --config=FILE, --config FILE and -cFILE: the same tokens, exit 0" \
    "$sa$sb$sc:$([ "$a" = "$b" ] && [ "$b" = "$c" ] && echo same)" "000:same"
contains "... read from that file (both tokens listed)" "$a" "cli-long"
export HSMCACHE_CONF=$T/hsmcache.conf

# --- tokens: aligned columns with a long module path, the PIN's verdict.
store_pin dns
out=$("$HC" tokens 2>&1); st=$?
echo "$out" | sed 's/^/# /'
equals "tokens with a 150-byte module path: exit 0 (both present)" "$st" "0"
contains "... the whole path shown" "$out" "$long/libsofthsm2.so"
# Every column of every row starts where its header does.
aligned() {
    python3 -c '
import sys
lines = sys.stdin.read().split("\n")
lines = [l for l in lines if l]
head = lines[0]
cols = [head.index(h) for h in ("MODULE", "REAL LABEL", "SERIAL", "PRESENT", "PIN")]
bad = [l for l in lines[1:] if len(l) <= cols[-1] or any(l[c - 1] != " " or l[c] == " " for c in cols)]
print("aligned" if len(lines) > 2 and not bad else "not aligned: %r" % bad)'
}
equals "tokens: every column starts under its header, whatever the module's length" \
    "$(aligned <<< "$out")" "aligned"
equals "... the long token's row: present, PIN missing" \
    "$(awk '$1 == "long" { print $(NF-1), $NF }' <<< "$out")" "yes missing"
chmod 644 "$T/pins/dns"
out=$("$HC" tokens 2>&1)
contains "tokens: a world-readable PIN file is 'refused' with the reason and the fix" "$out" \
    "refused: $T/pins/dns is readable by others (chmod 600 $T/pins/dns)"
lacks "... not 'missing' for it" "$(grep '^dns ' <<< "$out")" "missing"
equals "... and the columns stay aligned" "$(aligned <<< "$out")" "aligned"
chmod 660 "$T/pins/dns"
contains "tokens: a group-writable PIN file: refused, why, and the fix" "$("$HC" tokens 2>&1)" \
    "refused: $T/pins/dns is writable by group or others (chmod 600 $T/pins/dns)"
chmod 600 "$T/pins/dns"
chown 4242 "$T/pins/dns"
contains "tokens: a PIN file of another user: refused, why, and the fix" "$("$HC" tokens 2>&1)" \
    "refused: $T/pins/dns is owned by uid 4242, neither root nor this process's user (uid 0) (if it is uid 0's: chown 0 $T/pins/dns; a service's own: hsmcache doctor --user NAME)"
chown 0 "$T/pins/dns"
equals "tokens: the fixed file is 'stored' again" \
    "$(awk '$1 == "dns" { print $NF }' <<< "$("$HC" tokens 2>&1)")" "stored"

# --- the man pages say each command's exit statuses, and scdoc builds them.
for page in hsmcache.1 pdns-hsm.8 hsmcached.8; do
    if man_out=$(scdoc < "$TOP/man/$page.scd" 2>&1); then
        contains "man $page (scdoc builds it) has an EXIT STATUS section" "$man_out" ".SH EXIT STATUS"
    else
        not_ok "man $page: scdoc fails: $man_out"
    fi
done
man_hc=$(scdoc < "$TOP/man/hsmcache.1.scd")
contains "hsmcache(1): exit 2 is a usage error" "$man_hc" "Usage or configuration error"
contains "hsmcache(1): --help on every command" "$man_hc" "--help"
done_testing
