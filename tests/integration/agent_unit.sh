#!/usr/bin/env bash
# shared/agent/hsmcached.service, the systemd unit, as systemd reads it:
#   - `systemd-analyze verify` finds nothing to say about it (an unknown
#     or misspelt setting would be named and ignored by systemd);
#   - `systemd-analyze security --offline=yes` rates its exposure at most
#     HC_UNIT_EXPOSURE_MAX (2.0; 1.5 now, 8.7 before the sandbox), and each
#     setting the unit's comment promises is counted as in force (a line
#     removed names itself here, not only as a higher score);
#   - LimitCORE=0 and UMask=0027 are set (LimitCORE is not rated; UMask
#     0027 is, as group-readable: the audit log is made 0640 on purpose).
# And what the sandbox asks of the agent, without a running systemd (a
# container has none): every object hsmcached maps (itself, libhsmcache,
# SoftHSM, p11-kit, OpenSSL...) has a non-executable stack, and the agent
# under the kernel's own W^X (prctl PR_SET_MDWE, what
# MemoryDenyWriteExecute asks) and umask 027 starts, gives its socket the
# configured mode, generates a key and signs with it.
# Without systemd-analyze the file is reported skipped, with that reason.
. "$(dirname "$0")/../lib/env.sh"
UNIT=${HC_UNIT:-$TOP/shared/agent/hsmcached.service}
MAX=${HC_UNIT_EXPOSURE_MAX:-2.0}
if ! command -v systemd-analyze > /dev/null; then
    echo "# skip: systemd-analyze is not installed (Debian package systemd; make deps)"
    exit 77
fi
hc_setup

# verify reads the unit's ExecStart binary: this build's.
sed "s|^ExecStart=[^ ]*|ExecStart=$BUILD/hsmcached|" "$UNIT" > "$T/hsmcached.service"
out=$(systemd-analyze verify "$T/hsmcached.service" 2>&1); st=$?
equals "systemd-analyze verify: status 0, nothing reported" "$st:$out" "0:"
report=$(systemd-analyze security --offline=yes "$T/hsmcached.service" 2>&1)
score=$(sed -n 's/^→ Overall exposure level for hsmcached.service: \([0-9.]*\) .*/\1/p' <<< "$report")
check "systemd-analyze security rates the unit ($score) at most $MAX" \
    awk -v s="$score" -v m="$MAX" 'BEGIN { exit !(s != "" && s + 0 <= m + 0) }'
# --threshold counts in tenths (1.5 is 15).
tenths=$(awk -v m="$MAX" 'BEGIN { printf "%d", m * 10 + 0.5 }')
check "... and so does its own --threshold=$tenths (exit status 0)" \
    systemd-analyze security --offline=yes --threshold="$tenths" "$T/hsmcached.service"
for s in NoNewPrivileges= ProtectSystem= ProtectHome= PrivateTmp= PrivateMounts= ProtectProc= ProcSubset= \
         ProtectKernelTunables= ProtectKernelModules= ProtectKernelLogs= ProtectControlGroups= \
         ProtectClock= ProtectHostname= 'RestrictNamespaces=~user' LockPersonality= \
         MemoryDenyWriteExecute= RestrictRealtime= RestrictSUIDSGID= RemoveIPC= SystemCallArchitectures= \
         'SystemCallFilter=~@debug' 'SystemCallFilter=~@mount' 'CapabilityBoundingSet=~CAP_SYS_ADMIN' \
         'CapabilityBoundingSet=~CAP_SYS_PTRACE' AmbientCapabilities= 'RestrictAddressFamilies=~AF_NETLINK' \
         'RestrictAddressFamilies=~AF_PACKET'; do
    line=$(grep -F "✓ $s " <<< "$report")
    contains "in force: $s" "$line" "✓ $s"
done
equals "LimitCORE=0 (no core file, whatever the agent does)" "$(grep -c '^LimitCORE=0$' "$UNIT")" "1"
equals "UMask=0027 (nothing readable by others)" "$(grep -c '^UMask=0027$' "$UNIT")" "1"

# W^X: no object the agent maps asks for an executable stack (glibc would
# mprotect the stack PROT_EXEC, which MemoryDenyWriteExecute refuses).
objs=$( { echo "$BUILD/hsmcached"; echo "$SOFTHSM_MODULE"
          ldd "$BUILD/hsmcached" "$SOFTHSM_MODULE" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'; } | sort -u)
execstack=""
for o in $objs; do
    readelf -lW "$o" | grep -q 'GNU_STACK.* RWE ' && execstack="$execstack $o"
done
equals "no executable stack in the $(wc -w <<< "$objs") objects hsmcached and SoftHSM map" "$execstack" ""

# The agent under PR_SET_MDWE (refuse a mapping gaining exec) and umask
# 027. The wrapper first shows the kernel refusing a W+X mapping (the
# control: W^X is on), then execs the agent.
cat > "$T/wx.py" <<'EOP'
import ctypes, mmap, os, sys
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    print('wx: PR_SET_MDWE: %s' % os.strerror(ctypes.get_errno()), flush=True)
    sys.exit(3)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    print('wx: a writable and executable mapping was allowed', flush=True)
except OSError as e:
    print('wx: writable and executable mapping refused: %s' % e.strerror, flush=True)
os.execv(sys.argv[1], sys.argv[1:])
EOP
make_token wx
write_config t softhsm2 wx "[agent]" "socket-mode = 0660"
store_pin t
sed -i "s|^\[core\]\$|[core]\nagent = $T/agent.sock|" "$HSMCACHE_CONF"
(umask 027; exec python3 "$T/wx.py" "$BUILD/hsmcached" --config "$HSMCACHE_CONF") > "$T/agent.log" 2>&1 &
AGENT=$!
HC_PIDS="$AGENT"
for i in $(seq 100); do [ -S "$T/agent.sock" ] && break; sleep 0.05; done
contains "W^X is on for the agent (the kernel refused a W+X mapping)" "$(head -1 "$T/agent.log")" \
    "wx: writable and executable mapping refused"
equals "the agent runs under it ($(tail -1 "$T/agent.log"))" "$(sed -n 's/^Name:\t//p' "/proc/$AGENT/status")" "hsmcached"
equals "... with umask 027, its socket has the configured mode 0660" "$(stat -c %a "$T/agent.sock")" "660"
check "... it generates a key in SoftHSM through the agent" "$HC" keygen t wxkey ecdsa-p256
ref=$(agent_raw root find t wxkey)
contains "... and signs with it" "$(agent_raw root sign "${ref##* }")" "rv=0x0, 64 bytes"
done_testing
