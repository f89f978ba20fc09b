#!/usr/bin/env bash
# hsmcached's process hardening, as a local user sees it. The agent runs
# as its own user (hc-agentd), logs in with the token's PIN and signs;
# then that same uid, and another (hc-other), try to read its memory:
#   - /proc/PID/limits shows "Max core file size 0 0" (no core file, not
#     even after a later setrlimit raise: the hard limit is 0 too);
#   - /proc/PID/environ, /proc/PID/maps + /proc/PID/mem and PTRACE_ATTACH
#     (what gdb -p does) are refused to hc-agentd itself, not only to
#     other uids (PR_SET_DUMPABLE 0), while the same uid reads and attaches
#     to an ordinary process of its own (a sleep): the control that shows
#     each probe can succeed;
#   - the agent still serves after being probed;
#   - it fails closed: when prctl(PR_SET_DUMPABLE) or setrlimit(RLIMIT_CORE)
#     fails (a preloaded shim makes it), it does not start, says why, and
#     creates no socket.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
agent_user hc-agentd
agent_user hc-other
make_token hard
write_config t softhsm2 hard
store_pin t
"$HC" keygen t k ecdsa-p256 > /dev/null
sed -i "s|^\[core\]\$|[core]\nagent = $T/agent.sock|" "$HSMCACHE_CONF"
chown -R hc-agentd: "$T"
chmod 711 "$T"   # hc-other reaches the socket by name, nothing else

# "${AS_AGENTD[@]}" CMD...: CMD as hc-agentd (setpriv execs: in the
# background, $! is CMD's pid; a shell function would be a subshell's).
AS_AGENTD=(setpriv --reuid=hc-agentd --regid=hc-agentd --init-groups --)
"${AS_AGENTD[@]}" "$BUILD/hsmcached" --config "$HSMCACHE_CONF" --pidfile "$T/agent.pid" >> "$T/agent.log" 2>&1 &
AGENT=$!
HC_PIDS="$AGENT"
for i in $(seq 100); do [ -S "$T/agent.sock" ] && break; sleep 0.05; done
# (its /proc/PID belongs to root once it is not dumpable: the uid is read
# from its status)
equals "hsmcached runs as hc-agentd ($(tail -1 "$T/agent.log"))" \
    "$(awk '/^Uid:/ { print $2 }' "/proc/$AGENT/status")" "$(id -u hc-agentd)"
ref=$(agent_raw hc-agentd find t k)
ref=${ref##* }
contains "it logged in with the PIN and signs for hc-agentd" "$(agent_raw hc-agentd sign "$ref")" "rv=0x0, 64 bytes"

# The control: an ordinary process of the same uid.
"${AS_AGENTD[@]}" sleep 60 &
CONTROL=$!
HC_PIDS="$HC_PIDS $CONTROL"
sleep 0.2
cat > "$T/probe.py" <<'EOP'
# probe.py PID: what this uid can read of PID's memory and whether it can
# ptrace-attach, one line each.
import ctypes, errno, os, sys
pid = int(sys.argv[1])
try:
    with open('/proc/%d/environ' % pid, 'rb') as f:
        print('environ: read %d bytes' % len(f.read()))
except OSError as e:
    print('environ: %s' % e.strerror)
try:
    with open('/proc/%d/maps' % pid) as f:
        lo = int(f.readline().split('-')[0], 16)
    with open('/proc/%d/mem' % pid, 'rb') as f:
        f.seek(lo)
        print('mem: read %d bytes at %#x' % (len(f.read(16)), lo))
except OSError as e:
    print('mem: %s' % e.strerror)
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
if libc.ptrace(PTRACE_ATTACH, pid, None, None) == 0:
    os.waitpid(pid, 0)  # ECHILD is not raised: a tracee is waitable
    libc.ptrace(PTRACE_DETACH, pid, None, None)
    print('ptrace: attached')
else:
    print('ptrace: %s' % os.strerror(ctypes.get_errno()))
EOP
chmod 644 "$T/probe.py"
probe() { runuser -u "$1" -- python3 "$T/probe.py" "$2" 2>&1; }

limits=$(awk '/^Max core file size/ { print $5, $6 }' "/proc/$AGENT/limits")
equals "/proc/PID/limits: Max core file size 0 (soft) 0 (hard)" "$limits" "0 0"
control=$(probe hc-agentd "$CONTROL")
contains "control: hc-agentd reads the environ of its own sleep" "$control" "environ: read"
contains "control: ... and its memory (/proc/PID/mem)" "$control" "mem: read 16 bytes"
contains "control: ... and ptrace-attaches to it" "$control" "ptrace: attached"
same=$(probe hc-agentd "$AGENT")
contains "hc-agentd (the agent's own uid) cannot read its /proc/PID/environ" "$same" "environ: Permission denied"
contains "... nor its memory (/proc/PID/maps, /proc/PID/mem)" "$same" "mem: Permission denied"
contains "... nor ptrace-attach to it (as gdb -p would)" "$same" "ptrace: Operation not permitted"
other=$(probe hc-other "$AGENT")
contains "hc-other cannot read its /proc/PID/environ" "$other" "environ: Permission denied"
contains "... nor its memory" "$other" "mem: Permission denied"
contains "... nor ptrace-attach to it" "$other" "ptrace: Operation not permitted"
expect_fail "cat /proc/PID/environ as hc-agentd: Permission denied" "Permission denied" \
    runuser -u hc-agentd -- cat "/proc/$AGENT/environ"
check "the probed agent is alive" kill -0 "$AGENT"
contains "... and still signs" "$(agent_raw hc-agentd sign "$ref")" "rv=0x0, 64 bytes"
kill "$AGENT"; wait "$AGENT"
check "... and stops on SIGTERM (socket removed)" test ! -e "$T/agent.sock"

# Fail closed: a shim fails the one call named by HC_SHIM_FAIL.
cat > "$T/failshim.c" <<'EOC'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
static int failing(const char *what)
{
    const char *f = getenv("HC_SHIM_FAIL");
    return f && !strcmp(f, what);
}
int prctl(int option, ...)
{
    va_list ap;
    va_start(ap, option);
    unsigned long a[4];
    for (int i = 0; i < 4; i++)
        a[i] = va_arg(ap, unsigned long);
    va_end(ap);
    if (option == PR_SET_DUMPABLE && failing("prctl")) {
        errno = EPERM;
        return -1;
    }
    int (*real)(int, ...) = (int (*)(int, ...))dlsym(RTLD_NEXT, "prctl");
    return real(option, a[0], a[1], a[2], a[3]);
}
int setrlimit(__rlimit_resource_t res, const struct rlimit *rl)
{
    if (res == RLIMIT_CORE && failing("setrlimit")) {
        errno = EPERM;
        return -1;
    }
    int (*real)(__rlimit_resource_t, const struct rlimit *) =
        (int (*)(__rlimit_resource_t, const struct rlimit *))dlsym(RTLD_NEXT, "setrlimit");
    return real(res, rl);
}
EOC
cc -shared -fPIC -o "$T/failshim.so" "$T/failshim.c" -ldl
# Under ASan the shim goes ahead of the runtime (its link-order check off).
for call in prctl setrlimit; do
    out=$(HC_SHIM_FAIL=$call LD_PRELOAD="$T/failshim.so${LD_PRELOAD:+:$LD_PRELOAD}" \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        timeout 10 "$BUILD/hsmcached" --config "$HSMCACHE_CONF" 2>&1); st=$?
    equals "$call failing: hsmcached exits 1" "$st" "1"
    contains "... naming the call" "$out" "$call("
    contains "... and the error" "$out" "Operation not permitted; not starting"
    check "... and creates no socket" test ! -e "$T/agent.sock"
done
out=$(HC_SHIM_FAIL=none LD_PRELOAD="$T/failshim.so${LD_PRELOAD:+:$LD_PRELOAD}" \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    timeout 3 "$BUILD/hsmcached" --config "$HSMCACHE_CONF" 2>&1); st=$?
equals "control: with the shim failing nothing, it runs until stopped (timeout's 124)" "$st" "124"
done_testing
