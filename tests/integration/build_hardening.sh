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
binaries="libhsmcache.so hsmcache-pkcs11.so hsmcache-pdns.so hsmcache-sshca.so hsmcache-provider.so
          hsmcache hsmcached pdns-hsm"
for f in $binaries; do
    b=$BUILD/$f
    relro=$(readelf -lW "$b" | grep -c GNU_RELRO)
    now=$(readelf -dW "$b" | grep -cE 'BIND_NOW|FLAGS.*NOW')
    ssp=$(readelf -sW --dyn-syms "$b" | grep -c '__stack_chk_fail')
    chk=$(readelf -sW --dyn-syms "$b" | grep -c '_chk@')
    check "$f: full RELRO (relro $relro, now $now)" test "$relro" -ge 1 -a "$now" -ge 1
    check "$f: stack protector ($ssp) and fortified calls ($chk)" test "$ssp" -ge 1 -a "$chk" -ge 1
done
# hardening-check (Debian's devscripts), on every binary and module. Green
# as Debian's own packages are green: its exit status 0 (PIE for programs;
# stack protector, fortified functions, RELRO and BIND_NOW found), an
# "unknown" (no protectable libc function, no frame large enough for
# stack clash probes) is not a failure, as in hardening-check itself.
# Control flow integrity is the IBT/SHSTK note, which the linker keeps
# only when EVERY object linked has it: Debian 12's crt1.o/crti.o/crtn.o
# lack it, so no binary linked there has it (pdns_server, ssh-keygen,
# libsofthsm2 neither). So it is required of our binaries when the
# toolchain can give it to a trivial -fcf-protection program, and
# otherwise of every object file we compile.
if command -v hardening-check > /dev/null; then
    echo 'int main(void) { return 0; }' > "$T/cfi.c"
    cfi=no
    cc -fcf-protection -o "$T/cfi" "$T/cfi.c" 2> /dev/null &&
        hardening-check "$T/cfi" | grep -q 'Control flow integrity: yes' && cfi=yes
    echo "# the toolchain links control flow integrity (IBT/SHSTK) into a program: $cfi"
    for f in $binaries; do
        if [ "$cfi" = yes ]; then out=$(hardening-check "$BUILD/$f" 2>&1); st=$?
        else out=$(hardening-check --nocfprotection "$BUILD/$f" 2>&1); st=$?; fi
        got=$(sed -n 's/^ \([^:]*\): \([a-z]*\).*/\1 \2/p' <<< "$out" | grep -v '^Position.*no$' |
              sed 's/Position Independent Executable/PIE/; s/ protection//; s/ functions//' | paste -sd, -)
        equals "hardening-check $f: green ($got)" "$st" "0"
    done
    if [ "$cfi" = no ]; then
        # (objects of today's sources: one left from a deleted file is not linked)
        objs=0 lacking=""
        for c in $(cd "$TOP" && ls shared/*/*.c pdns-backend/*.c pdns-backend/hsm/*.c bind-keystore/*.c sshca-plugin/*.c); do
            o=$BUILD/obj/${c%.c}.o
            [ -f "$o" ] || continue
            objs=$((objs + 1))
            readelf -n "$o" | grep -q 'x86 feature: IBT, SHSTK' || lacking="$lacking ${c%.c}.o"
        done
        equals "... CFI left to the toolchain's crt files: all $objs objects we compile carry IBT and SHSTK" "$lacking" ""
    fi
else
    not_ok "hardening-check is not installed (Debian package devscripts: make deps)"
fi

# What make would run, with flags in the environment as dpkg-buildflags
# sets them: ours and theirs on the same command line.
line=$(cd "$TOP" && CFLAGS=-DHC_FROM_ENV_CFLAGS LDFLAGS=-Wl,-z,hc-from-env \
    make -n -B BUILD="$T/b" "$T/b/obj/shared/src/util/clock.o" "$T/b/libhsmcache.so" 2>&1)
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
# An object is rebuilt when the flags change, not only its source: an
# incremental build must not keep objects compiled without a hardening
# flag added since (34 of 78 were, before the Makefile's flags file).
( cd "$TOP" && make -s BUILD="$T/s" "$T/s/obj/shared/src/util/clock.o" ) > "$T/s.log" 2>&1
again=$(cd "$TOP" && make -n BUILD="$T/s" "$T/s/obj/shared/src/util/clock.o" 2>&1)
lacks "the same flags again: the object is up to date" "$again" "clock.c -o"
changed=$(cd "$TOP" && CFLAGS=-DHC_FLAGS_CHANGED make -n BUILD="$T/s" "$T/s/obj/shared/src/util/clock.o" 2>&1)
contains "other flags: the object is compiled again, with them" "$(echo "$changed" | grep 'clock.c -o')" "-DHC_FLAGS_CHANGED"
done_testing
