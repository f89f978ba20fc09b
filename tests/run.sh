#!/usr/bin/env bash
# tests/run.sh: runs the unit tests (cmocka, TAP output) and the
# integration tests (shell, TAP output), counts every `ok`/`not ok` line,
# and ends with one line "N passed, N failed" (", N skipped" when whole
# files were not run: under a sanitizer, or a file exiting 77 with
# "# skip: REASON"; the reasons are listed just before). Exits non-zero
# on any failure, on a test program that dies, when nothing ran, or when a
# file's plan (`1..N`, printed first by cmocka, last by `done_testing` in
# the shell tests) is missing or does not match the checks it printed: a
# script that stops early loses no check silently.
#   tests/run.sh [PATTERN]    only tests whose file name contains PATTERN
set -u
shopt -s nullglob
TOP=$(cd "$(dirname "$0")/.." && pwd)
export TOP BUILD=${BUILD:-$TOP/build}
pattern=${1:-}
passed=0 failed=0 skipped=0 skips=""
log=$(mktemp)

count() { # NAME STATUS < output
    local name=$1 status=$2 p f
    tee "$log"
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")
    local plans plan
    plans=$(grep -c '^1\.\.[0-9][0-9]*$' "$log")
    plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$log" | head -1)
    if [ "$plans" -ne 1 ]; then
        echo "not ok - $name printed $plans plans (want one '1..N' line): it stopped early or printed twice"
        f=$((f + 1))
    elif [ "$plan" -ne $((p + f)) ]; then
        echo "not ok - $name planned $plan checks but printed $((p + f))"
        f=$((f + 1))
    fi
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name exited with status $status"
        f=1
    fi
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name ran no test"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

# ASan: the uninstrumented host programs that load our instrumented code
# (a PKCS#11 module, the OpenSSL provider through OPENSSL_CONF, the SSH CA
# plugin) need the runtime loaded first. It is preloaded into those hosts
# only, never into the shell's own tools (procps hangs in glibc's
# textdomain lock with libasan preloaded, p11-kit-trust in newlocale):
# a directory of wrappers, first in PATH, one per host found on this
# machine, each execs the real program with the runtime ahead of any
# LD_PRELOAD the test set (libfaketime). Our own programs (hsmcache,
# hsmcached, pdns-hsm, the test tools) are instrumented: no preload.
# A test that runs a host by another path (a copy, python's ctypes) adds
# LD_PRELOAD=$HC_HOST_PRELOAD itself; a host missing here aborts with
# ASan's "runtime does not come first", never silently.
ASAN_HOSTS="pdns_server pdnsutil named named-checkconf named-checkzone rndc delv dig host nsupdate
            dnsperf openssl pkcs11-tool p11-kit p11tool ssh-keygen ssh ssh-add"
asan_host_wrappers() { # DIR RUNTIME
    local dir=$1 rt=$2 prog real
    local progs="$ASAN_HOSTS"
    for real in /usr/sbin/dnssec-* /usr/bin/dnssec-* /usr/bin/ldns-*; do progs="$progs ${real##*/}"; done
    for prog in $progs; do
        real=$(PATH=${PATH#"$dir":} command -v "$prog") || continue
        case $real in /*) ;; *) continue ;; esac
        printf '#!/bin/sh\n# tests/run.sh: %s with the ASan runtime preloaded.\nexport LD_PRELOAD="%s${LD_PRELOAD:+ $LD_PRELOAD}"\nexec %s "$@"\n' \
            "$prog" "$rt" "$real" > "$dir/$prog"
        chmod 755 "$dir/$prog"
    done
}
case ${HC_SANITIZER:-} in
asan)
    HC_HOST_PRELOAD=$(gcc -print-file-name=libasan.so)
    hosts=$(mktemp -d /tmp/hc-asan-hosts.XXXXXX)
    chmod 755 "$hosts"   # test users (runuser) run the hosts too
    trap 'rm -rf "$hosts"' EXIT
    export PATH="$hosts:$PATH" HC_HOST_PRELOAD HC_ASAN_HOSTS_DIR=$hosts
    asan_host_wrappers "$hosts" "$HC_HOST_PRELOAD"
    echo "# ASan runtime preloaded into $(ls "$hosts" | wc -l) host programs only ($hosts)"
    export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
    export HC_UNIT_ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ;;
tsan) # every program that loads our code is itself instrumented here;
    # die_after_fork=0: concurrency.sh's forked child initializes again and
    # signs, which starts the call watchdog's runner threads, and TSan
    # otherwise kills any process that starts threads after a
    # multi-threaded fork (it checks the child as well as it can)
    export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 die_after_fork=0 suppressions=$TOP/tests/tsan.supp" ;;
esac

export CMOCKA_MESSAGE_OUTPUT=TAP
for t in "$BUILD"/tests/unit/test_*; do
    [ -x "$t" ] || continue
    case $(basename "$t") in *"$pattern"*) ;; *) continue ;; esac
    echo "# unit: $(basename "$t")"
    out=$("$TOP/tests/unit/with-token.sh" "$t" 2>&1); st=$?
    count "$(basename "$t")" "$st" <<< "$out"
done
for t in "$TOP"/tests/integration/*.sh; do
    case $(basename "$t") in *"$pattern"*) ;; *) continue ;; esac
    # A test that cannot run under a sanitizer says so in a header line
    # "# no-sanitizer: REASON"; it is listed as not run, not counted.
    reason=$(sed -n 's/^# no-sanitizer: //p' "$t")
    if [ -n "${HC_SANITIZER:-}" ] && [ -n "$reason" ]; then
        echo "# not run under $HC_SANITIZER: $(basename "$t"): $reason"
        skipped=$((skipped + 1))
        skips="$skips# skipped: $(basename "$t") (under $HC_SANITIZER: $reason)"$'\n'
        continue
    fi
    echo "# integration: $(basename "$t")"
    start=$(date +%s)
    # A hung file (a host tool deadlocked under a sanitizer, a server that
    # never answers) is a failure after HC_TEST_TIMEOUT seconds, not a CI
    # run that never ends: timeout signals the file's whole process group.
    out=$(timeout -k 10 "${HC_TEST_TIMEOUT:-900}" bash "$t" 2>&1); st=$?
    [ "$st" -eq 124 ] && out="$out"$'\n'"not ok - $(basename "$t") timed out after ${HC_TEST_TIMEOUT:-900} s"
    # A file that cannot run on this machine (a tool missing) exits 77
    # having printed "# skip: REASON" and no check: listed as skipped,
    # with its reason, at the end; never counted as passed.
    why=$(sed -n 's/^# skip: //p' <<< "$out" | head -1)
    if [ "$st" -eq 77 ] && [ -n "$why" ] && ! grep -qE '^(not )?ok ' <<< "$out"; then
        echo "# not run: $(basename "$t"): $why"
        skipped=$((skipped + 1))
        skips="$skips# skipped: $(basename "$t") ($why)"$'\n'
        continue
    fi
    count "$(basename "$t")" "$st" <<< "$out"
    echo "# $(basename "$t"): $(( $(date +%s) - start ))s"
done
rm -f "$log"
if [ "$skipped" -gt 0 ]; then
    printf '%s' "$skips"
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
