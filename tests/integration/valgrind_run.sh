#!/usr/bin/env bash
# Valgrind's memcheck over the CLI and one PowerDNS signing path (make
# test-valgrind runs this file alone; make test runs it too):
#   - hsmcache tokens, keys, doctor, pin check, keygen: each exits 0 under
#     `valgrind --error-exitcode=99`, with no invalid access, no use of
#     uninitialised memory and no definite leak (our program: its leaks
#     are ours);
#   - pdnsutil, loading our PowerDNS module through p11-kit, shows the zone
#     (its keys read from the token): exit 0 under the same valgrind,
#     leaks not counted (pdnsutil's own are not ours to judge);
#   - pdns_server under valgrind signs answers with the token's keys:
#     they carry RRSIGs that ldns-verify-zone accepts after AXFR, and the
#     log of its whole run, to its exit on SIGTERM, ends with "ERROR
#     SUMMARY: 0 errors".
# no-sanitizer: valgrind cannot run a program built with ASan or TSan (both own the shadow memory)
. "$(dirname "$0")/../lib/env.sh"
if ! command -v valgrind > /dev/null; then
    echo "# skip: valgrind is not installed (Debian package valgrind; make deps)"
    exit 77
fi
. "$(dirname "$0")/../lib/dns.sh"
. "$(dirname "$0")/../../scripts/lib/pdns-local.sh"
hc_setup
VG=(valgrind --error-exitcode=99 --track-origins=yes)
OURS=(--leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite)
make_token vg
write_config dns softhsm2 vg
store_pin dns

# vg_status NAME CMD...: CMD under valgrind; prints its status and
# valgrind's error count (its log kept as $T/vg-NAME.log).
vg_status() {
    local name=$1
    shift
    "${VG[@]}" --log-file="$T/vg-$name.log" "$@" > "$T/vg-$name.out" 2>&1
    echo "$? $(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$T/vg-$name.log" | tail -1)"
}
for c in "keygen dns zsk ecdsa-p256" "keygen dns ksk ecdsa-p256" "tokens" "keys dns" "doctor" "pin check dns"; do
    # shellcheck disable=SC2086
    got=$(vg_status cli "${OURS[@]}" "$HC" $c)
    equals "valgrind hsmcache $c: exit 0, 0 errors ($(tail -1 "$T/vg-cli.out"))" "$got" "0 0"
done

MOD=hsmcache-test-$$
register_module "$MOD" "$BUILD/hsmcache-pdns.so"
start_mariadb || { not_ok "MariaDB did not start: $(tail -3 "$T/mysqld.err")"; exit 1; }
write_pdns_conf
Z=vg.example
pdnsutil_t create-zone "$Z" "ns1.$Z" > /dev/null 2>&1
for role in ksk zsk; do
    pdnsutil_t hsm assign "$Z" ecdsa256 "$role" "$MOD" dns '' "$role" > /dev/null 2>&1
done
add_names "$Z" 3
equals "valgrind pdnsutil show-zone (our module loaded): exit 0, 0 errors" \
    "$(vg_status pdnsutil pdnsutil --config-dir="$T" show-zone "$Z")" "0 0"
contains "... it shows the token's KSK (the public key read through the module)" \
    "$(cat "$T/vg-pdnsutil.out")" "KSK DNSKEY = $Z. IN DNSKEY 257 3 13 "

"${VG[@]}" --log-file="$T/vg-pdns.log" pdns_server --config-dir="$T" > "$T/pdns.log" 2>&1 &
PDNS_PID=$!
HC_PIDS="${HC_PIDS:-} $PDNS_PID"
for _ in $(seq 300); do
    dig +short +time=1 +tries=1 -p "$DNS_PORT" @127.0.0.1 version.bind CH TXT > /dev/null 2>&1 && break
    sleep 0.2
done
contains "pdns_server under valgrind answers with an RRSIG" \
    "$(dig +dnssec +noall +answer +time=20 -p "$DNS_PORT" @127.0.0.1 "n1.$Z" A)" "RRSIG	A"
out=$(verify_axfr "$Z" "$DNS_PORT" "$T/$Z.axfr"); st=$?
equals "... ldns-verify-zone accepts the zone it signed ($(grep -c RRSIG "$T/$Z.axfr") RRSIGs)" \
    "$st:$out" "0:Zone is verified and complete"
kill "$PDNS_PID"
for _ in $(seq 300); do kill -0 "$PDNS_PID" 2>/dev/null || break; sleep 0.2; done
wait "$PDNS_PID" 2>/dev/null
summary=$(grep -o 'ERROR SUMMARY: [0-9]* errors' "$T/vg-pdns.log" | tail -1)
equals "... and valgrind's log of its whole run: $(grep -c 'Invalid\|uninitialised' "$T/vg-pdns.log") reports" \
    "$summary" "ERROR SUMMARY: 0 errors"
[ "$summary" = "ERROR SUMMARY: 0 errors" ] || grep -A12 -m3 'Invalid\|uninitialised' "$T/vg-pdns.log" | sed 's/^/# /'
done_testing
