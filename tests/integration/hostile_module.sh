#!/usr/bin/env bash
# The core against a buggy or hostile PKCS#11 module: for each of the
# simulator's hostile faults (tests/sim/hsmsim.c: lengths over the buffer,
# CKR_OK with no signature, CKR_BUFFER_TOO_SMALL with 1 GiB, wrong-sized
# CK_ULONG/CK_BBOOL values, CK_UNAVAILABLE_INFORMATION with CKR_OK, labels
# with NUL/0xff/escape bytes, counts over the capacity, stale handles, an
# invalid session handle), every real user of a module runs against it:
# `hsmcache keys`, `pin check` and `doctor`; pkcs11-tool signing through
# the PKCS#11 front; PowerDNS signing (one fresh name, validated by delv);
# hsmcached (`hsmcache keys` through it, and a raw signature request
# whose buffer is 4096 bytes, so an oversized length would be delivered).
# For each run: no crash (no signal, no hang); when the simulator says the
# fault falsified an answer (hsmsim-ctl hits), hsmcache's own words name
# that PKCS#11 function; when it did not, the run succeeds; a signature
# delivered verifies (openssl against the public key read from SoftHSM
# directly, delv for DNS); no raw control byte of a label reaches a
# terminal or a log. After each fault is switched off, pdns_server and
# hsmcached are still alive and each signs a good request again.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
. "$(dirname "$0")/../lib/pdns-load.sh"
. "$(dirname "$0")/../lib/dns.sh"
# HOSTILE_FAULTS: a few of them only (when looking into one).
FAULTS=${HOSTILE_FAULTS:-sign-oversize sign-empty attr-huge attr-oversize attr-scalar-len
        attr-unavailable attr-label-bytes count-oversize stale-objects invalid-session}

# token dns (label dnstok) on the simulator; no presigner, whose background
# signatures would count as hits of whichever user runs meanwhile.
pdns_sim_setup "[pdns]" "presign = no"
zone=h.example
add_hsm_zone "$zone" "$MOD" dns '' 60 || { not_ok "zone setup failed"; done_testing; exit 1; }
"$HC" keygen dns k1 ecdsa-p256 > /dev/null
# pkcs11-tool (OpenSC 0.23) signs with the first private key unless given
# an id: --label does not select one.
k1_id=$("$HC" keys dns | awk '$1 == "k1" { print $2 }')
# By path: under make test-asan, the pkcs11-tool on PATH has the ASan runtime
# preloaded, and OpenSC 0.23 reads an EC public key after freeing it (this
# read loads SoftHSM only, none of our code).
/usr/bin/pkcs11-tool --module "$SOFTHSM_MODULE" --token-label dnstok --read-object --type pubkey \
    --id "$k1_id" -o "$T/k1.der" > "$T/k1.log" 2>&1
openssl pkey -pubin -inform DER -in "$T/k1.der" -out "$T/k1.pem" 2> /dev/null
check "setup: k1's public key, read from SoftHSM directly ($k1_id)" \
    sh -c "test -s '$T/k1.pem' -a -n '$k1_id' || cat '$T/k1.log'"
must_start_pdns
ksk_anchor "$zone" "$DNS_PORT" > "$T/anchor"

# hsmcached on a copy of the config that names its socket: the agent's
# clients use $T/agent.conf, everything else the embedded core.
sed "s|^\[core\]$|[core]\nagent = $T/agent.sock|" "$HSMCACHE_CONF" > "$T/agent.conf"
cat > "$T/raw.py" <<'EOP'
import os, sys
from agentwire import *
path, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
if cmd == 'find':
    r = call(connect(path, 10), OP_FIND, find_private_keys('dns', 'k1'))
    print(r.u64() if r.u32() == 1 else 'rv=0x%x: %s' % (r.rv, r.msg))
elif cmd == 'sign':   # REF OUT: ECDSA over 32 fresh bytes, a 4096-byte buffer
    data = os.urandom(32)
    body = (u64(int(args[0])) + u64(0x1041) + b'\0' + s(b'') + s(data)
            + b'\0' + u64(0) + b'\1' + u64(4096))
    try:
        r = call(connect(path, 20), OP_SIGN, body)
    except (OSError, EOFError) as e:
        print('no reply: %s' % e)
        sys.exit(1)
    r.u8(); r.u64(); sig = r.str()
    print('rv=0x%x, %d bytes: %s' % (r.rv, len(sig), r.msg))
    if r.rv == 0:
        def der_int(b):
            b = b.lstrip(b'\0') or b'\0'
            return b'\x02' + bytes([len(b) + (b[0] >> 7)]) + b'\0' * (b[0] >> 7) + b
        h = len(sig) // 2
        body = der_int(sig[:h]) + der_int(sig[h:]) if len(sig) == 64 else sig
        open(args[1] + '.hash', 'wb').write(data)
        open(args[1], 'wb').write(b'\x30' + bytes([len(body)]) + body if len(sig) == 64 else sig)
    sys.exit(0 if r.rv == 0 else 1)
EOP
raw() {
    HC_PROTO_VERSION="$(hc_proto_version)" PYTHONPATH="$TOP/tests/lib" PYTHONDONTWRITEBYTECODE=1 \
        timeout 60 python3 "$T/raw.py" "$T/agent.sock" "$@"
}
# agent_restart: hsmcached anew, and k1's reference in it (references
# are the agent's own: a new agent may give the same number to another key).
agent_restart() {
    HSMCACHE_CONF=$T/agent.conf agent_start
    ref=$(raw find)
}
agent_restart
check "setup: the agent finds k1 ($ref)" test "$ref" -gt 0

# The users. Each prints what the user saw, and what hsmcache said in
# hsmcache's own words ('hsmcache' lines: the front's, the plugin's, the
# agent's log, the CLI's), and returns the user's status.
front_sign() { # OUT
    head -c 100 /dev/urandom > "$1.data"
    timeout 60 pkcs11-tool --module "$FRONT" --sign -m ECDSA-SHA256 --id "$k1_id" -i "$1.data" \
        -o "$1" --signature-format openssl
}
front_verify() { openssl dgst -sha256 -verify "$T/k1.pem" -signature "$1" "$1.data"; }
agent_sign() { raw sign "$ref" "$1"; }
agent_verify() { openssl pkeyutl -verify -pubin -inkey "$T/k1.pem" -in "$1.hash" -sigfile "$1"; }
dns_sign() { # N: name nN; 0 when delv validates the answer, 1 for SERVFAIL
    local rcode
    rcode=$(dig +dnssec +time=10 +tries=1 -p "$DNS_PORT" @127.0.0.1 "n$1.$zone" A |
            sed -n 's/.*status: \([A-Z]*\).*/\1/p')
    case $rcode in
    SERVFAIL) echo "SERVFAIL: no answer, no signature"; return 1 ;;
    NOERROR) ;;
    *) echo "dig: rcode '$rcode'"; return 2 ;;
    esac
    # The answer pdns just signed, from its packet cache.
    timeout 60 delv -a "$T/anchor" +root="$zone" -p "$DNS_PORT" @127.0.0.1 "n$1.$zone" A > "$T/delv.out" 2>&1
    cat "$T/delv.out"
    grep -q '; fully validated' "$T/delv.out" || return 2
}
log_size() { stat -c %s "$1" 2> /dev/null || echo 0; }

# run F WHO KIND CMD...: runs one user's CMD under fault F and judges it.
# KIND: cli (its whole output is hsmcache's), front (pkcs11-tool: only
# the lines hsmcache wrote), agent (the reply and the agent's log), dns
# (delv's answer, and what pdns_server logged meanwhile).
run() {
    local f=$1 who=$2 kind=$3 st out said hits pos apos
    shift 3
    pos=$(log_size "$T/pdns.log") apos=$(log_size "$T/agent.log")
    "$SIMCTL" "$SIMSTATE" reset
    "$@" > "$T/run.out" 2>&1; st=$?
    hits=$("$SIMCTL" "$SIMSTATE" hits | awk '{ print $1 }' | tr '\n' ' ')
    FIRED="$FIRED $hits"
    out=$(cat -v "$T/run.out")
    case $kind in
    cli) said=$out ;;
    front) said=$(grep -aE 'hsmcache(\[[a-z0-9]*\]|d?):' "$T/run.out" | cat -v) ;;
    agent) said="$out $(tail -c +$((apos + 1)) "$T/agent.log" | cat -v)" ;;
    dns) said=$(tail -c +$((pos + 1)) "$T/pdns.log" | grep -aE 'hsmcache(\[[a-z0-9]*\]|d?):' | cat -v) ;;
    esac
    echo "# $f: $who: status $st, hits: ${hits:-none}; said: $(head -c 600 <<< "$said")"
    if [ "$st" -gt 128 ] || [ "$st" = 124 ]; then
        not_ok "$f: $who: no crash or hang (status $st: $(tail -c 600 "$T/run.out" | cat -v))"
    else
        ok "$f: $who: no crash or hang (status $st)"
    fi
    if [ "$f" = attr-label-bytes ]; then
        # The label's bytes are data: nothing may pass them on raw.
        if grep -aq $'[\x1b\r\a\xff]' "$T/run.out" ||
           { [ "$kind" = agent ] && tail -c +$((apos + 1)) "$T/agent.log" | grep -aq $'[\x1b\r\a\xff]'; } ||
           { [ "$kind" = dns ] && tail -c +$((pos + 1)) "$T/pdns.log" | grep -aq $'[\x1b\r\a\xff]'; }; then
            not_ok "$f: $who: a label's raw control bytes reached the output or log: $(head -c 600 <<< "$out")"
        else
            ok "$f: $who: no raw control byte of a label in its output or log"
        fi
        # A key's URI (RFC 7512) names it by all 17 bytes, percent-encoded.
        case $who in *keys*)
            contains "$f: $who: the key's URI names the whole label, encoded" \
                "$(tr A-Z a-z < "$T/run.out" | cat -v)" "object=ev%1b%5b2j%0d%0afake%07%ff%00il" ;;
        esac
    elif [ -n "$hits" ]; then
        local fn named=""
        for fn in $hits; do case $said in *"$fn"*) named=$fn ;; esac; done
        # A handle that does not exist looks like any other: the module
        # rejects it at its next use, and that call is the one to name.
        [ "$f" = stale-objects ] && [ -z "$named" ] &&
            named=$(grep -oE 'C_[A-Za-z]+: CKR_(OBJECT|KEY)_HANDLE_INVALID' <<< "$said" | head -1)
        if [ -n "$named" ]; then ok "$f: $who: hsmcache names $named"
        else not_ok "$f: $who: the fault falsified $hits but hsmcache's words name none of them: $(head -c 600 <<< "$said")"; fi
    else
        equals "$f: $who: untouched by the fault, it works" "$st" 0
    fi
    RUN_STATUS=$st
}
# delivered F WHO KIND FILE VERIFY: after a user's run, a signature it
# delivered verifies.
delivered() {
    if [ "$RUN_STATUS" != 0 ]; then return 0; fi
    check "$1: $2: the signature delivered verifies" "$3" "$4"
}

check "control: pkcs11-tool signs through the front" front_sign "$T/c1"
check "control: ... and the signature verifies" front_verify "$T/c1"
check "control: the agent signs" agent_sign "$T/c2"
check "control: ... and the signature verifies" agent_verify "$T/c2"
# Each DNS query asks a name not asked before: pdns signs it anew (n
# counts them; a name in the presigner's window would be signed ahead).
n=1
contains "control: pdns signs, delv validates" "$(dns_sign $n 2>&1)" "; fully validated"

# fires F: the function each fault must have falsified for some user (a
# simulator whose fault never fired would make every check above pass).
fires() {
    case $1 in
    sign-*) echo C_Sign ;;
    attr-*) echo C_GetAttributeValue ;;
    count-oversize) echo C_GetSlotList ;;
    stale-objects) echo C_FindObjects ;;
    invalid-session) echo C_OpenSession ;;
    esac
}
for f in $FAULTS; do
    FIRED=""
    # The fault on, and every session closed under the servers, as a
    # device reset would: hsmcached and pdns open sessions and find their
    # keys anew, through the fault, rather than keep what they had.
    "$SIMCTL" "$SIMSTATE" hostile "$f"
    "$SIMCTL" "$SIMSTATE" invalidate
    run "$f" "hsmcache keys" cli "$HC" keys dns
    run "$f" "hsmcache pin check" cli "$HC" pin check dns
    run "$f" "hsmcache doctor" cli "$HC" doctor
    run "$f" "pkcs11-tool --sign (front)" front front_sign "$T/s-$f"
    delivered "$f" "pkcs11-tool --sign (front)" front_verify "$T/s-$f"
    run "$f" "hsmcache keys via hsmcached" cli env HSMCACHE_CONF="$T/agent.conf" "$HC" keys dns
    run "$f" "hsmcached sign" agent agent_sign "$T/a-$f"
    delivered "$f" "hsmcached sign" agent_verify "$T/a-$f"
    n=$((n + 1))
    run "$f" "pdns_server signing" dns dns_sign $n
    case $RUN_STATUS in
    0|1) ok "$f: pdns: the answer is SERVFAIL or validated by delv" ;;
    *) not_ok "$f: pdns: an answer that is neither SERVFAIL nor validated: $(cat "$T/run.out")" ;;
    esac
    contains "$f: the simulator falsified $(fires "$f") answers" "$FIRED" "$(fires "$f")"
    "$SIMCTL" "$SIMSTATE" hostile off
    # Each server that died or does not sign again is started anew, so
    # that the next fault's checks are its own.
    if kill -0 "$HC_AGENT_PID" 2> /dev/null; then
        ok "$f off: hsmcached is still running"
        if agent_sign "$T/r-$f" > "$T/r.out" 2>&1 && agent_verify "$T/r-$f" > /dev/null 2>&1; then
            ok "$f off: hsmcached signs a good request, and the signature verifies"
        else
            not_ok "$f off: hsmcached signs a good request, and the signature verifies: $(cat "$T/r.out")"
            agent_restart
        fi
    else
        not_ok "$f off: hsmcached died: $(tail -5 "$T/agent.log")"
        agent_restart
    fi
    if kill -0 "$PDNS_PID" 2> /dev/null; then
        ok "$f off: pdns_server is still running"
        n=$((n + 1))
        if dns_sign $n > "$T/r.out" 2>&1; then
            ok "$f off: pdns signs a fresh name again, delv validates"
        else
            not_ok "$f off: pdns signs a fresh name again, delv validates: $(cat "$T/r.out") $(tail -3 "$T/pdns.log")"
            stop_pdns
            must_start_pdns
        fi
    else
        not_ok "$f off: pdns_server died: $(tail -5 "$T/pdns.log" | cat -v)"
        must_start_pdns
    fi
done
done_testing
