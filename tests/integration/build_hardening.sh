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
# The core and its modules read the environment only with secure_getenv:
# in a setuid, setgid or capability-raised host (AT_SECURE) the caller's
# HSMCACHE_CONF, CREDENTIALS_DIRECTORY, HOME... are not ours to follow.
plain=$(cd "$TOP" && grep -rnE --include='*.c' --include='*.h' '(^|[^_[:alnum:]])getenv[[:space:]]*\(' \
    shared pdns-backend bind-keystore sshca-plugin)
equals "no plain getenv() in the core, the agent, the CLI or the modules (secure_getenv only)" "$plain" ""
seen=$(cd "$TOP" && grep -rhoE --include='*.c' 'secure_getenv\("[A-Z0-9_]+"\)' \
    shared pdns-backend bind-keystore sshca-plugin | sort -u | tr '\n' ' ')
contains "... and the variables they read go through it (the grep sees them)" "$seen" 'secure_getenv("HSMCACHE_CONF")'
done_testing
