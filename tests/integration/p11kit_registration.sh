#!/usr/bin/env bash
# Registered with p11-kit, the front shows in `p11-kit list-modules` with
# its virtual token; `make install` lays out a module file naming it
# "hsmcache". p11-kit reads system module files only (tests run as root),
# so the test registers a uniquely named file and removes it on exit.
# Under ASan only the p11-kit part is left out (see below); the install
# layout is checked there too.

. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token reg
write_config dns softhsm2 reg
store_pin dns
name=hsmcache-test-$$
if [ "${HC_SANITIZER:-}" = asan ]; then
    # not run under asan: p11-kit's own p11-kit-trust.so deadlocks in its
    # constructor (newlocale) when libasan is preloaded into p11-kit, and
    # our instrumented front cannot load into p11-kit without it.
    echo "# not run under asan: p11-kit list-modules (3 checks): p11-kit-trust.so deadlocks with libasan preloaded"
else
    mkdir -p /etc/pkcs11/modules
    printf 'module: %s\n' "$FRONT" > "/etc/pkcs11/modules/$name.module"
    trap 'rm -f /etc/pkcs11/modules/'"$name"'.module; hc_cleanup' EXIT
    out=$(p11-kit list-modules 2>&1)
    contains "p11-kit list-modules shows the front" "$out" "$name: $FRONT"
    contains "its library description" "$out" "hsmcache pkcs11 front"
    contains "its token under the hsmcache name" "$out" "token: dns"
    rm -f "/etc/pkcs11/modules/$name.module"
fi

# -o all: install what $BUILD holds, the build under test; a rebuild here
# would race other builds, and under ASan make it without the sanitizer.
check "make install into a staging root" make -s -o all -C "$TOP" install DESTDIR="$T/root" PREFIX=/usr BUILD="$BUILD"
modfile=$T/root/usr/share/p11-kit/modules/hsmcache.module
lib=$(sed -n 's/^module: //p' "$modfile" 2>/dev/null)
contains "make install: module 'hsmcache' (what PowerDNS rows name) is the pdns front" "$lib" "hsmcache-pdns.so"
equals "... loaded by pdns_server and pdnsutil only (p11-kit enable-in)" \
    "$(sed -n 's/^enable-in: *//p' "$modfile" 2>/dev/null)" "pdns_server, pdnsutil"
check "... and points at the installed file" test -f "$T/root$lib"
mod=$(sed -n 's/^module: //p' "$T/root/usr/share/p11-kit/modules/hsmcache-pkcs11.module" 2>/dev/null)
contains "make install: module 'hsmcache-pkcs11' is the generic front" "$mod" "hsmcache-pkcs11.so"
check "... and points at the installed file" test -f "$T/root$mod"
check "make install: the SSH CA module" test -f "$T/root${lib%/*}/hsmcache-sshca.so"
check "the installed CLI runs" "$T/root/usr/bin/hsmcache" --help
check "... and is the one under test" cmp "$BUILD/hsmcache" "$T/root${lib%/*}/hsmcache"
done_testing
