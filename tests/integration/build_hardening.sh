#!/usr/bin/env bash
# Every binary the build makes is hardened as Debian builds packages
# (readelf, as hardening-check reads them): full RELRO (GNU_RELRO and
# BIND_NOW), the stack protector (__stack_chk_fail) and _FORTIFY_SOURCE
# (*_chk functions); and flags from the environment are added to the
# Makefile's, never put in their place (a Debian build passes
# dpkg-buildflags' CFLAGS and LDFLAGS that way).
# no-sanitizer: the sanitizer runtimes replace the fortified functions; the plain build is the one shipped
. "$(dirname "$0")/../lib/env.sh"
hc_setup
for f in libhsmcache.so hsmcache-pkcs11.so hsmcache-pdns.so hsmcache-sshca.so hsmcache-provider.so \
         hsmcache hsmcached pdns-hsm; do
    b=$BUILD/$f
    relro=$(readelf -lW "$b" | grep -c GNU_RELRO)
    now=$(readelf -dW "$b" | grep -cE 'BIND_NOW|FLAGS.*NOW')
    ssp=$(readelf -sW --dyn-syms "$b" | grep -c '__stack_chk_fail')
    chk=$(readelf -sW --dyn-syms "$b" | grep -c '_chk@')
    check "$f: full RELRO (relro $relro, now $now)" test "$relro" -ge 1 -a "$now" -ge 1
    check "$f: stack protector ($ssp) and fortified calls ($chk)" test "$ssp" -ge 1 -a "$chk" -ge 1
done
# What make would run, with flags in the environment as dpkg-buildflags
# sets them: ours and theirs on the same command line.
line=$(cd "$TOP" && CFLAGS=-DHC_FROM_ENV_CFLAGS LDFLAGS=-Wl,-z,hc-from-env \
    make -n -B BUILD="$T/b" "$T/b/obj/shared/src/clock.o" "$T/b/libhsmcache.so" 2>&1)
contains "environment CFLAGS are added to the Makefile's" "$(echo "$line" | grep clock.c)" "-DHC_FROM_ENV_CFLAGS"
contains "... which stay (stack protector)" "$(echo "$line" | grep clock.c)" "-fstack-protector-strong"
contains "environment LDFLAGS are added to the Makefile's" "$(echo "$line" | grep soname)" "-Wl,-z,hc-from-env"
contains "... which stay (full RELRO)" "$(echo "$line" | grep soname)" "-Wl,-z,now"
done_testing
