#!/bin/sh
# Installs every Debian package that hsmcache's build, tests and demo need.
# Idempotent: when everything is present it does nothing (no network).
# The bookworm-backports suite (BIND 9.20, pkcs11-provider) is added by
# copying the machine's own Debian apt source entry with the suite changed,
# so no package host name is ever written into this repository.
set -eu

# Build and core runtime. devscripts gives hardening-check (build_hardening.sh;
# about 9 MB with its Perl libraries, no recommends); systemd gives
# systemd-analyze (agent_unit.sh rates the unit), no running systemd needed.
BASE="build-essential pkg-config clang libclang-rt-14-dev
 libp11-kit-dev p11-kit libssl-dev openssl libinih-dev liblmdb-dev libjansson-dev
 libcmocka-dev softhsm2 opensc
 libmariadb-dev libldns-dev ldnsutils
 pdns-server pdns-backend-mysql pdns-tools mariadb-server mariadb-client
 openssh-client openssh-server dnsperf faketime valgrind bc python3
 devscripts systemd"
# From bookworm-backports.
BACKPORTS="bind9 bind9-utils bind9-dnsutils pkcs11-provider"
# make deb and its test (tests/integration/package_deb.sh): man pages,
# dpkg-shlibdeps, lintian, and p11tool (a p11-kit consumer that must not
# load the PowerDNS front).
BASE="$BASE scdoc dpkg-dev lintian gnutls-bin"
# The house style's formatter (.clang-format; tests/integration/code_format.sh).
BASE="$BASE clang-format-19"

missing=""
for p in $BASE $BACKPORTS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
        missing="$missing $p"
done
# BIND must be the 9.20 from backports, not Debian 12's 9.18.
if dpkg-query -W -f='${Version}\n' bind9 2>/dev/null | grep -q '^1:9\.18'; then
    missing="$missing bind9"
fi
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing; run 'make deps' as root" >&2
    exit 1
fi

add_backports() {
    grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ && return 0
    out=/etc/apt/sources.list.d/hsmcache-backports
    # deb822 files: the first stanza whose Suites has plain "bookworm".
    for src in /etc/apt/sources.list.d/*.sources; do
        [ -f "$src" ] || continue
        awk 'BEGIN{RS="";ORS="\n\n"} /Suites:[^\n]*bookworm( |$|\n)/ && !done {
                 gsub(/Suites:[^\n]*/, "Suites: bookworm-backports"); print; done=1 }' \
            "$src" > "$out.sources"
        [ -s "$out.sources" ] && return 0
        rm -f "$out.sources"
    done
    # One-line format.
    line=$(grep -hE '^deb [^#]* bookworm ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -1)
    if [ -z "$line" ]; then
        echo "install-deps: found no Debian bookworm apt source to copy for bookworm-backports" >&2
        exit 1
    fi
    echo "$line" | sed 's/ bookworm / bookworm-backports /' > "$out.list"
}

add_backports
export DEBIAN_FRONTEND=noninteractive
# Packaged servers must not start system-wide instances on install: tests
# start their own on private ports.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $BASE
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends -t bookworm-backports $BACKPORTS
