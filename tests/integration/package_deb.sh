#!/usr/bin/env bash
# The Debian package as an operator meets it: `make deb` builds it, lintian
# finds no error, `apt-get install ./hsmcache_*.deb` lays out the files,
# user, group and directories; hsmcached started the way the unit says
# (its User/Group/ExecStart, here without systemd as PID 1) signs for a
# client through the generic front; the PowerDNS module file is loaded by
# programs named pdnsutil/pdns_server only (p11-kit's enable-in), so
# p11-kit and p11tool see no hsmcache module or token, while pdnsutil
# assigns HSM keys and pdns_server signs through it; `apt-get purge`
# leaves none of the package's files, nor its state directories.
# Installs system-wide: run only under the integration lock; the package
# is purged on exit whatever happens.
# no-sanitizer: installs the build system-wide; an instrumented module registered with p11-kit would abort other programs that load it

. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
for tool in dpkg-deb apt-get; do
    if ! command -v "$tool" > /dev/null; then
        echo "# skip: $tool is missing (not a Debian system): no package to build or install"
        exit 77
    fi
done
hc_setup

# present: dpkg has the package installed, or its config files left.
present() {
    case $(dpkg-query -W -f='${Status}' hsmcache 2> /dev/null) in
    *" installed" | *config-files*) return 0 ;;
    esac
    return 1
}
installed() { [ "$(dpkg-query -W -f='${Status}' hsmcache 2> /dev/null)" = "install ok installed" ]; }
if present; then
    # Purging someone's installed hsmcache is not this test's to do.
    not_ok "hsmcache is already installed here (dpkg-query: $(dpkg-query -W -f='${Status}' hsmcache)); not touching it"
    done_testing
    exit 1
fi
had_user=$(getent passwd hsmcache > /dev/null && echo yes)
had_group=$(getent group hsmcache > /dev/null && echo yes)
package_cleanup() {
    local pid
    # The agent, pdns_server and MariaDB stop before their files go.
    for pid in ${AGENT_PID:-} ${HC_PIDS:-}; do kill "$pid" 2> /dev/null; done
    for pid in ${AGENT_PID:-} ${HC_PIDS:-}; do wait "$pid" 2> /dev/null; done
    if present; then
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -q hsmcache > /dev/null 2>&1 ||
            dpkg --purge hsmcache > /dev/null 2>&1
    fi
    # The package keeps its system user on purge (Debian's rule); the test
    # removes what it made.
    [ -z "$had_user" ] && userdel hsmcache 2> /dev/null
    [ -z "$had_group" ] && groupdel hsmcache 2> /dev/null
    hc_cleanup
}
trap package_cleanup EXIT

# --- build -----------------------------------------------------------
# -o all: package what $BUILD holds (the build under test).
deb=$(make -s --no-print-directory -C "$TOP" -o all deb BUILD="$BUILD" 2> "$T/deb.err" | tail -1)
check "make deb builds a package ($deb)" test -f "$deb"
equals "it is the hsmcache package" "$(dpkg-deb -f "$deb" Package 2> /dev/null)" hsmcache
depends=$(dpkg-deb -f "$deb" Depends 2> /dev/null)
for lib in libp11-kit0 libssl3 libinih1 liblmdb0 libjansson4 libmariadb3 libldns3; do
    contains "Depends names $lib (what the binaries link)" "$depends" "$lib"
done
lintian "$deb" > "$T/lintian.out" 2>&1
equals "lintian reports no error" "$(grep '^E:' "$T/lintian.out")" ""
cat "$T/lintian.out" | sed 's/^/# lintian: /'

# --- install ---------------------------------------------------------
check "apt-get install ./hsmcache_*.deb (dependencies already there)" \
    env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb"
installed || { not_ok "hsmcache is not installed: $(tail -5 "$T/check.out")"; done_testing; exit 1; }
dpkg -L hsmcache > "$T/files"
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2> /dev/null || cc -print-multiarch)
libdir=/usr/lib/$triplet/hsmcache
for f in /usr/bin/hsmcache /usr/bin/pdns-hsm /usr/sbin/hsmcached \
         $libdir/libhsmcache.so $libdir/hsmcache-pkcs11.so $libdir/hsmcache-pdns.so \
         $libdir/hsmcache-sshca.so $libdir/hsmcache-provider.so \
         /usr/share/p11-kit/modules/hsmcache.module /usr/share/p11-kit/modules/hsmcache-pkcs11.module \
         /usr/lib/systemd/system/hsmcached.service /usr/lib/sysusers.d/hsmcache.conf \
         /usr/lib/tmpfiles.d/hsmcache.conf /etc/hsmcache/hsmcache.conf \
         /usr/share/man/man1/hsmcache.1.gz /usr/share/man/man8/pdns-hsm.8.gz \
         /usr/share/man/man8/hsmcached.8.gz /usr/share/man/man5/hsmcache.conf.5.gz \
         /usr/share/doc/hsmcache/copyright; do
    check "installed: $f" grep -qxF "$f" "$T/files"
done
check "/usr/bin/hsmcache runs (finds libhsmcache.so beside it)" /usr/bin/hsmcache --help
expect_fail "/usr/sbin/hsmcached runs (usage on a bad option)" "usage: hsmcached" /usr/sbin/hsmcached --no-such-option
check "/usr/bin/pdns-hsm runs" /usr/bin/pdns-hsm --help
contains "the config is a conffile" "$(dpkg-query -W -f='${Conffiles}' hsmcache)" "/etc/hsmcache/hsmcache.conf"
contains "man hsmcached shows its options" "$(MANWIDTH=80 man 8 hsmcached 2> /dev/null)" "--pidfile"
contains "man 5 hsmcache.conf documents [client NAME]" "$(MANWIDTH=80 man 5 hsmcache.conf 2> /dev/null)" "[client NAME]"
unit=/usr/lib/systemd/system/hsmcached.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
contains "the unit starts /usr/sbin/hsmcached" "$exec_start" "/usr/sbin/hsmcached "
check "... which exists" test -x "${exec_start%% *}"
check "systemd-analyze verify accepts the installed unit" systemd-analyze verify "$unit"

equals "user hsmcache, no login shell" "$(getent passwd hsmcache | cut -d: -f7)" /usr/sbin/nologin
check "group hsmcache" getent group hsmcache
for d in /var/lib/hsmcache:750 /var/log/hsmcache:750 /run/hsmcache:755 /etc/hsmcache/pins:700; do
    equals "${d%%:*}: mode and owner" "$(stat -c '%a %U:%G' "${d%%:*}" 2>&1)" "${d#*:} hsmcache:hsmcache"
done

# --- p11-kit: only PowerDNS's programs load the PowerDNS module ---------
# A token for the agent: the store is the agent user's, and every other
# process here gets an empty one, so what they sign went through the agent.
make_token pkg
chmod 711 "$T"
chown -R hsmcache: "$T/tokens"
chmod 644 "$T/softhsm2.conf"
mkdir -p "$T/no-tokens"
printf 'directories.tokendir = %s/no-tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$T" > "$T/no-tokens.conf"
agent_softhsm=$T/softhsm2.conf
export SOFTHSM2_CONF=$T/no-tokens.conf
unset HSMCACHE_CONF
# As an operator would: the installed conffile edited.
cat > /etc/hsmcache/hsmcache.conf << EOC
[core]
agent = /run/hsmcache/agent.sock
[token dns]
module = softhsm2
label = pkg
[agent]
socket-group = hsmcache
[client root]
uid = root
keys = pkcs11:token=dns
operations = sign, generate
EOC
printf '%s\n' "$PIN" | runuser -u hsmcache -- /usr/bin/hsmcache pin set dns > "$T/pinset.out" 2>&1
equals "the PIN stored by the agent's user, 0600 hsmcache" \
    "$(stat -c '%a %U' /etc/hsmcache/pins/dns 2>&1)" "600 hsmcache"

# The unit's way, without systemd as PID 1: its User, Group and ExecStart.
user=$(sed -n 's/^User=//p' "$unit")
group=$(sed -n 's/^Group=//p' "$unit")
# shellcheck disable=SC2086
setpriv --reuid="$user" --regid="$group" --init-groups \
    env -i PATH=/usr/sbin:/usr/bin SOFTHSM2_CONF="$agent_softhsm" $exec_start > "$T/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 100); do [ -S /run/hsmcache/agent.sock ] && break; sleep 0.05; done
check "hsmcached started from the unit's ExecStart makes its socket" test -S /run/hsmcache/agent.sock
equals "... runs as the unit's user" "$(awk '/^Uid:/ { print $2 }' "/proc/$AGENT_PID/status" 2>&1)" "$(id -u hsmcache)"
equals "... its socket hsmcache:hsmcache 0660" "$(stat -c '%a %U:%G' /run/hsmcache/agent.sock 2>&1)" "660 hsmcache:hsmcache"

uri=$(/usr/bin/hsmcache keygen dns pkgkey ecdsa-p256 2> "$T/keygen.err")
contains "hsmcache keygen through the agent ($(head -c 300 "$T/keygen.err"))" "$uri" "pkcs11:"
head -c 300 /dev/urandom > "$T/data"
check "pkcs11-tool signs through the installed generic front and the agent" \
    pkcs11-tool --module "$libdir/hsmcache-pkcs11.so" --sign -m ECDSA-SHA256 --label pkgkey \
    -i "$T/data" -o "$T/sig" --signature-format openssl
pkcs11-tool --module "$libdir/hsmcache-pkcs11.so" --read-object --type pubkey --label pkgkey \
    -o "$T/pub.der" > /dev/null 2>&1
check "the signature verifies with the key's public half" \
    openssl dgst -sha256 -verify <(openssl pkey -pubin -inform DER -in "$T/pub.der" 2>&1) \
    -signature "$T/sig" "$T/data"
/usr/bin/hsmcache stats > "$T/stats" 2>&1
equals "the agent counted it: client root, 1 signature" \
    "$(sed -n 's/^client root.*, signatures \([0-9]*\),.*/\1/p' "$T/stats")" 1

# p11-kit's enable-in matches the program's name: p11-kit itself (any
# program) does not load the PowerDNS module; the same binary named
# pdnsutil does, and sees the token through the agent.
mods=$(p11-kit list-modules 2>&1)
lacks "p11-kit list-modules: no PowerDNS front" "$mods" "hsmcache-pdns.so"
lacks "... and no generic front (empty enable-in)" "$mods" "hsmcache-pkcs11.so"
if command -v p11tool > /dev/null; then
    toks=$(p11tool --list-tokens 2>&1)
    sed 's/^/# p11tool --list-tokens: /' <<< "$toks"
    lacks "p11tool --list-tokens: no hsmcache token" "$toks" "token=dns"
    lacks "... nor its library" "$toks" "hsmcache"
else
    not_ok "p11tool missing (gnutls-bin; make deps installs it)"
fi
cp "$(command -v p11-kit)" "$T/pdnsutil"
as_pdns=$("$T/pdnsutil" list-modules 2>&1)
contains "a program named pdnsutil loads the module 'hsmcache'" "$as_pdns" "hsmcache: $libdir/hsmcache-pdns.so"
contains "... and sees the hsmcache token" "$as_pdns" "token: dns"

# PowerDNS itself: keys assigned with `pdnsutil hsm assign ... hsmcache`
# (rows name the packaged module, Engine: hsmcache, with no PIN), and
# pdns_server answers with RRSIGs. Both load the module by p11-kit name,
# so through the packaged file's enable-in; neither has a token of its own
# (SOFTHSM2_CONF names an empty store), so every signature went through
# the agent.
HC=/usr/bin/hsmcache
if start_mariadb; then
    write_pdns_conf
    check "pdnsutil hsm assign: keys of pkg.example on Engine hsmcache, slot dns, no PIN" \
        add_hsm_zone pkg.example hsmcache dns '' 3
    rows=$(mysql_q -N --raw -e "SELECT content FROM cryptokeys" 2>&1)
    contains "the rows name the packaged module" "$rows" "Engine: hsmcache"
    must_start_pdns
    check "pdns_server answers 3 names NOERROR with an RRSIG each, signed through the agent" ask pkg.example 3
    /usr/bin/hsmcache stats > "$T/stats" 2>&1
    n=$(sed -n 's/^client root.*, signatures \([0-9]*\),.*/\1/p' "$T/stats")
    check "... the agent counted them (client root: ${n:-none} signatures, more than the 1 before)" test "${n:-0}" -gt 1
    stop_pdns
else
    not_ok "MariaDB did not start: $(tail -3 "$T/mysqld.err")"
fi

# --- purge -----------------------------------------------------------
kill "$AGENT_PID" && wait "$AGENT_PID"
equals "hsmcached stops on SIGTERM (status 0)" "$?" 0
AGENT_PID=
check "apt-get purge hsmcache" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q hsmcache
left=""
while read -r f; do
    if [ -d "$f" ] && [ ! -L "$f" ]; then
        # Directories others share (/usr/bin) stay; the package's own go.
        case $f in "$libdir" | /usr/share/doc/hsmcache | /etc/hsmcache) left="$left $f" ;; esac
    elif [ -e "$f" ] || [ -L "$f" ]; then
        left="$left $f"
    fi
done < "$T/files"
equals "no file of the package is left (dpkg -L before purge)" "$left" ""
for d in /var/lib/hsmcache /var/log/hsmcache /run/hsmcache /etc/hsmcache; do
    check "purge removed $d" test ! -e "$d"
done
if present; then not_ok "dpkg still has hsmcache: $(dpkg-query -W -f='${Status}' hsmcache)"
else ok "dpkg has no hsmcache any more (not even its config files)"; fi
lacks "a program named pdnsutil no longer finds the module" "$("$T/pdnsutil" list-modules 2>&1)" "hsmcache"
done_testing
