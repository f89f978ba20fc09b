# tests/lib/env.sh: shared setup for shell tests. Source it, then call
# hc_setup. Every test gets a private temp dir with its own SoftHSM token
# store, PIN store, cache dir and config; nothing system-wide is touched.
#
# Output follows TAP: `ok - ...` / `not ok - ...`, counted by tests/run.sh.
# Every script ends with `done_testing`, which prints the plan `1..N`:
# run.sh fails a script whose plan is missing (it stopped early) or does
# not match the checks it printed.

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${BUILD:-$TOP/build}
SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
HC=$BUILD/hsmcache
FRONT=$BUILD/hsmcache-pkcs11.so
SIM=$BUILD/tests/hsmsim.so
SIMCTL=$BUILD/tests/hsmsim-ctl
MKTOKEN=$BUILD/tests/mktoken
# A distinctive PIN, so leaks can be grepped for anywhere.
PIN=${PIN:-Zq7-pin-4711-Xy}
SO_PIN=so-pin-0815

hc_setup() {
    T=$(mktemp -d /tmp/hsmcache-test.XXXXXX)
    trap 'hc_cleanup' EXIT
    mkdir -p "$T/tokens"
    cat > "$T/softhsm2.conf" <<EOC
directories.tokendir = $T/tokens
objectstore.backend = file
log.level = ERROR
EOC
    export SOFTHSM2_CONF=$T/softhsm2.conf
    export HSMCACHE_CONF=$T/hsmcache.conf
    export HSMSIM_CONF=$T/sim.conf
    cat > "$HSMSIM_CONF" <<EOC
module = $SOFTHSM_MODULE
latency-ms = 0
concurrency = 0
EOC
    SIMSTATE=$HSMSIM_CONF.state
    if [ -n "${HC_AGENT:-}" ]; then echo "# through hsmcached (HC_AGENT=1)"; fi
}

hc_cleanup() {
    local pid
    # Tolerant of set -e: the servers' exit status is SIGTERM's.
    # An agent restarted in the background is known by its pidfile.
    [ -f "${T:-/nonexistent}/agent.pid" ] && HC_PIDS="${HC_PIDS:-} $(cat "$T/agent.pid")"
    for pid in ${HC_PIDS:-}; do kill "$pid" 2>/dev/null || true; done
    for pid in ${HC_PIDS:-}; do wait "$pid" 2>/dev/null || true; done
    rm -f ${HC_MODULE_FILES:-}
    if [ -n "${T:-}" ] && [ -z "${KEEP:-}" ]; then rm -rf "$T"; fi
}

# make_token LABEL: a SoftHSM token whose user PIN is $PIN.
make_token() {
    printf '%s\n%s\n' "$SO_PIN" "$PIN" | "$MKTOKEN" "$SOFTHSM_MODULE" "$1" >/dev/null
}

# write_config NAME MODULE LABEL [EXTRA...]: a config with one token, the
# PIN store and cache dir under $T. EXTRA lines are appended verbatim.
# With HC_AGENT=1 the config also names an agent socket, and an hsmcached
# is (re)started on it: the test then runs through the agent.
write_config() {
    local name=$1 module=$2 label=$3
    shift 3
    {
        printf '[core]\npin-store = %s/pins\ncache-dir = %s/cache\n' "$T" "$T"
        [ -n "${HC_AGENT:-}" ] && printf 'agent = %s/agent.sock\n' "$T"
        printf '[token %s]\nmodule = %s\nlabel = %s\n' "$name" "$module" "$label"
        local line
        for line in "$@"; do printf '%s\n' "$line"; done
    } > "$HSMCACHE_CONF"
    if [ -n "${HC_AGENT:-}" ]; then agent_start; fi
}

# agent_start: (re)starts hsmcached on $HSMCACHE_CONF, as a child of the
# test, and waits for its socket. agent_stop: SIGTERM, and wait.
# With HC_AGENT_ONLY=1 (the reruns of the end-to-end tests) only the agent
# reaches the token: it keeps the test's SoftHSM store, while from the
# first start on everything else the test runs (pdns_server, named,
# ssh-keygen, hsmcache) gets SOFTHSM2_CONF naming an empty one. A plugin
# that ignored `[core] agent` would find no token and fail outright.
agent_start() {
    agent_stop
    if [ -n "${HC_AGENT_ONLY:-}" ] && [ -z "${HC_AGENT_SOFTHSM2_CONF:-}" ]; then
        HC_AGENT_SOFTHSM2_CONF=$SOFTHSM2_CONF
        mkdir -p "$T/no-tokens"
        printf 'directories.tokendir = %s/no-tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
            "$T" > "$T/no-tokens.conf"
        export SOFTHSM2_CONF=$T/no-tokens.conf
    fi
    SOFTHSM2_CONF=${HC_AGENT_SOFTHSM2_CONF:-$SOFTHSM2_CONF} \
        "$BUILD/hsmcached" --pidfile "$T/agent.pid" >> "$T/agent.log" 2>&1 &
    HC_AGENT_PID=$!
    HC_PIDS="${HC_PIDS:-} $HC_AGENT_PID"
    local i
    for i in $(seq 100); do
        [ -S "$T/agent.sock" ] && return 0
        sleep 0.05
    done
    # A test meant to run through the agent must not go on without one:
    # it would pass on the embedded core and prove nothing about the agent.
    not_ok "hsmcached did not start: $(tail -3 "$T/agent.log")"
    exit 1
}
agent_stop() {
    if [ -n "${HC_AGENT_PID:-}" ]; then
        [ -n "${HC_AGENT_ONLY:-}" ] && agent_keep_counts
        kill "$HC_AGENT_PID" 2>/dev/null || true
        wait "$HC_AGENT_PID" 2>/dev/null || true
        HC_AGENT_PID=
    fi
}
# agent_keep_counts: appends the running agent's per-client counters to
# $T/agent-counts; they live in its memory and die with it.
agent_keep_counts() {
    kill -0 "${HC_AGENT_PID:-}" 2>/dev/null && "$HC" stats 2>/dev/null | grep '^client ' >> "$T/agent-counts"
    return 0
}
# agent_used MIN: the last check of a rerun with HC_AGENT_ONLY=1 (nothing
# otherwise): the agents of this run made at least MIN signatures, the
# number the test itself counted, and the hosts could not have made them
# without the agent: their own core finds no token (with the agent's
# token store, the same command finds it: the control).
agent_used() {
    [ -n "${HC_AGENT_ONLY:-}" ] || return 0
    agent_keep_counts
    local n
    n=$(sed -n 's/^client .*, signatures \([0-9]*\),.*/\1/p' "$T/agent-counts" 2>/dev/null |
        awk '{ s += $1 } END { print s + 0 }')
    check "through hsmcached: its counters show the hosts' signatures ($n, at least $1)" test "$n" -ge "$1"
    sed '/^agent *=/d' "$HSMCACHE_CONF" > "$T/embedded.conf"
    expect_fail "... which the hosts' own core could not make: it finds no token" "no token" \
        env HSMCACHE_CONF="$T/embedded.conf" "$HC" tokens
    check "... while with the agent's token store it finds them (the control)" \
        env SOFTHSM2_CONF="$HC_AGENT_SOFTHSM2_CONF" HSMCACHE_CONF="$T/embedded.conf" "$HC" tokens
}

# agent_user NAME [GROUP...]: a system user for identity tests, created
# unless it exists, and made a member of each GROUP (created unless it
# exists). Whatever was created is deleted when the test exits.
agent_user() {
    local u=$1 g
    shift
    trap 'hc_cleanup; agent_users_cleanup' EXIT
    # shadow's tools fail while another process holds /etc/passwd's lock
    # (a parallel test adding its users): try again, and stop the test if
    # the user or group still is not there, rather than test a wrong uid.
    local try
    for try in 1 2 3 4 5; do
        for g in "$@"; do
            getent group "$g" > /dev/null ||
                { groupadd -r "$g" 2> /dev/null && HC_ADDED_GROUPS="${HC_ADDED_GROUPS:-} $g"; }
        done
        if ! id "$u" > /dev/null 2>&1; then
            useradd -r -M -s /usr/sbin/nologin "$u" 2> /dev/null &&
                HC_ADDED_USERS="${HC_ADDED_USERS:-} $u"
        fi
        for g in "$@"; do user_in_group "$u" "$g" || usermod -aG "$g" "$u" 2> /dev/null; done
        local missing=""
        id "$u" > /dev/null 2>&1 || missing="user $u"
        for g in "$@"; do user_in_group "$u" "$g" || missing="$missing group $g"; done
        [ -z "$missing" ] && return 0
        sleep 0.2
    done
    not_ok "test setup: could not create $missing"
    done_testing
    exit 1
}
user_in_group() { id -nG "$1" 2> /dev/null | tr ' ' '\n' | grep -qxF -- "$2"; }
agent_users_cleanup() {
    local x
    for x in ${HC_ADDED_USERS:-}; do userdel "$x" 2> /dev/null; done
    for x in ${HC_ADDED_GROUPS:-}; do groupdel "$x" 2> /dev/null; done
    return 0
}
# agent_as USER CMD...: CMD as USER, with the test's config.
agent_as() {
    local u=$1
    shift
    runuser -u "$u" -- env HSMCACHE_CONF="$HSMCACHE_CONF" "$@"
}
# agent_raw USER CMD ARGS: a client speaking the agent protocol itself
# (shared/src/proto/proto.h), as USER, to ask what the ordinary clients cannot:
#   hello              prints "client NAME" (the [client] section the
#                      agent matched), "refused: MESSAGE" or "no reply: ..."
#   find TOKEN LABEL   prints "rv=0x0 found N REF..." (private keys LABEL)
#   sign REF           one ECDSA signature with the agent's object REF,
#                      found or not: prints "rv=0x..., N bytes: MESSAGE"
#   hold N STOPFILE    opens N connections, each saying hello; prints
#                      "held K" (those the agent served) and keeps them
#                      open until STOPFILE exists
agent_raw() {
    local u=$1
    shift
    [ -f "$T/agent-raw.py" ] || cat > "$T/agent-raw.py" <<'EOP'
import os, sys, time
from agentwire import *
path, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
if cmd == 'hello':
    try:
        r = hello(open_socket(path, 10))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        print('no reply: closed by the agent')   # before or after the hello
        sys.exit(1)
    except OSError as e:
        print('no reply: %s' % e)
        sys.exit(1)
    r.u64(); r.u8()
    for _ in range(r.u32()):
        r.str()
    print('client %s' % r.str().decode() if not r.rv else 'refused: ' + r.msg)
elif cmd == 'find':
    r = call(connect(path, 10), OP_FIND, find_private_keys(args[0], args[1]))
    refs = []
    for _ in range(r.u32()):
        refs.append(str(r.u64()))
        r.u64(); r.str(); r.str()
    print(' '.join(['rv=0x%x found %d' % (r.rv, len(refs))] + refs))
elif cmd == 'sign':
    CKM_ECDSA = 0x1041
    body = (u64(int(args[0])) + u64(CKM_ECDSA) + b'\0' + s(b'') + s(b'\x11' * 32)
            + b'\0' + u64(0) + b'\1' + u64(512))
    r = call(connect(path, 10), OP_SIGN, body)
    r.u8(); r.u64()
    print('rv=0x%x, %d bytes: %s' % (r.rv, len(r.str()), r.msg))
elif cmd == 'hold':
    held = []
    for _ in range(int(args[0])):
        try:
            held.append(connect(path, 10))
        except (OSError, EOFError):
            break
    print('held %d' % len(held), flush=True)
    for _ in range(600):
        if os.path.exists(args[1]):
            break
        time.sleep(0.1)
EOP
    agentwire_run "$u" "$T/agent-raw.py" "$@"
}
# agentwire_run USER SCRIPT ARGS: python3 SCRIPT, a client built on
# tests/lib/agentwire.py, as USER with the agent's socket and ARGS, at the
# protocol version of the hsmcached under test (tests run these clients
# against older builds too). SCRIPT stays readable by USER (mode 644).
agentwire_run() {
    local u=$1 py=$2 copy out st
    shift 2
    chmod 644 "$py"
    copy=$(mktemp "$T/agentwire.XXXXXX")
    runuser -u "$u" -- env HC_PROTO_VERSION="$(hc_proto_version)" \
        PYTHONPATH="$TOP/tests/lib" PYTHONDONTWRITEBYTECODE=1 \
        python3 "$py" "$T/agent.sock" "$@" | tee "$copy"
    st=${PIPESTATUS[0]}
    out=$(cat "$copy")
    rm -f "$copy"
    # The agent closing a connection unanswered, or the client dying on
    # it: the agent's own account goes to the run's log (stderr), for a
    # failure seen only in full runs (a reset connection, CI 2026-11-28).
    if [[ $out == *"closed by the agent"* ]] || { [ -z "$out" ] && [ "$st" != 0 ]; }; then
        tail -n 5 "$T/agent.log" 2> /dev/null | sed 's/^/# agent.log: /' >&2
    fi
    return "$st"
}
# hc_proto_version: the agent protocol version of the hsmcached under test
# (from the source tree its build dir sits in, else this tree's).
hc_proto_version() {
    local h=$BUILD/../shared/src/proto/proto.h
    [ -f "$h" ] || h=$TOP/shared/src/proto/proto.h
    sed -n 's/^#define HC_PROTO_VERSION \([0-9]*\).*/\1/p' "$h"
}

store_pin() { printf '%s\n' "${2:-$PIN}" | "$HC" pin set "$1" >/dev/null; }

# TAP helpers. HC_NCHECKS counts what they printed, for the plan.
HC_NCHECKS=0
ok() { HC_NCHECKS=$((HC_NCHECKS + 1)); echo "ok - $*"; }
not_ok() { HC_NCHECKS=$((HC_NCHECKS + 1)); echo "not ok - $*"; }
# done_testing: the plan, last thing a script prints.
done_testing() { echo "1..$HC_NCHECKS"; }
# check DESC CMD...: ok when CMD exits 0 (its output shown on failure).
check() {
    local desc=$1
    shift
    if "$@" > "$T/check.out" 2>&1; then ok "$desc"; else not_ok "$desc: $(cat "$T/check.out")"; fi
}
# expect_fail DESC WANT CMD...: ok when CMD fails the expected way. WANT
# is an exit status (a number: exactly that status) or a text its output
# (stdout and stderr) must contain, with any status from 1 to 125. A
# command that is not found (127), cannot run (126) or dies of a signal
# (>128) has not refused anything: that is never the failure a test wants
# unless WANT names that status.
expect_fail() {
    local desc=$1 want=$2 st
    shift 2
    if [ -z "$want" ]; then not_ok "$desc: test bug: expect_fail without an expected status or message"; return; fi
    "$@" > "$T/check.out" 2>&1; st=$?
    local out
    out=$(head -c 2000 "$T/check.out")
    case $want in
    *[!0-9]*)
        if [ "$st" -ge 1 ] && [ "$st" -le 125 ]; then
            case $out in
            *"$want"*) ok "$desc" ;;
            *) not_ok "$desc (failed with status $st, but without '$want' in: $out)" ;;
            esac
        else
            not_ok "$desc (status $st, want a refusal saying '$want'; output: $out)"
        fi ;;
    *)
        if [ "$st" = "$want" ]; then ok "$desc"
        else not_ok "$desc (status $st, want $want; output: $out)"; fi ;;
    esac
}
# contains DESC HAYSTACK NEEDLE: an empty needle is a bug in the test.
contains() {
    if [ -z "$3" ]; then not_ok "$1 (test bug: empty needle)"; return; fi
    case $2 in *"$3"*) ok "$1" ;; *) not_ok "$1 (expected '$3' in: $2)" ;; esac
}
# lacks DESC HAYSTACK NEEDLE: ok when NEEDLE (non-empty) is not in HAYSTACK.
lacks() {
    if [ -z "$3" ]; then not_ok "$1 (test bug: empty needle)"; return; fi
    case $2 in *"$3"*) not_ok "$1 (found '$3' in: $2)" ;; *) ok "$1" ;; esac
}
# equals DESC GOT WANT
equals() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi
}
# card_sim_conf: the simulator set like a USB smart card (300 ms C_Login,
# 70 ms C_Sign, one call at a time), as the SSH benches use it.
card_sim_conf() {
    cat > "$HSMSIM_CONF" <<EOC
module = $SOFTHSM_MODULE
latency-ms = 0
latency.C_Login = 300
latency.C_Sign = 70
concurrency = 1
EOC
}
sim_count() { "$SIMCTL" "$SIMSTATE" get "$1"; }
