# tests/lib/dns.sh: checks of served zones with peer tools.

# ksk_anchor ZONE PORT: the zone's KSK (flags 257) as a delv trust anchor.
ksk_anchor() {
    dig +noall +answer -p "$2" @127.0.0.1 "$1" DNSKEY |
        awk '$5 == 257 { k = ""; for (i = 8; i <= NF; i++) k = k $i;
             printf "trust-anchors { %s static-key 257 3 %s \"%s\"; };\n", $1, $7, k }'
}

# verify_axfr ZONE PORT FILE [TRIES]: AXFR into FILE and ldns-verify-zone
# it, retrying (servers sign in batches, in no set order) up to TRIES
# times, 0.5 s apart; prints ldns-verify-zone's last output and returns
# its status.
verify_axfr() {
    local out st i
    for i in $(seq "${4:-1}"); do
        dig +noall +answer -p "$2" @127.0.0.1 "$1" AXFR > "$3"
        out=$(ldns-verify-zone "$3" 2>&1); st=$?
        [ "$st" = 0 ] && break
        [ "$i" -lt "${4:-1}" ] && sleep 0.5
    done
    echo "$out"
    return "$st"
}

# verify_answers ZONE PORT ANSWERS FILE: ldns-verify-zone over the A
# RRsets and their RRSIGs in ANSWERS (dig output, e.g. pdns-local.sh's
# `ask`), put in FILE with the zone's SOA and DNSKEY RRsets and their
# RRSIGs as the server gives them: each answer's signature checked against
# the zone's keys without an AXFR (which would make the server sign every
# RRset of the zone). FILE has no NSEC(3) chain, which ldns-verify-zone
# reports per name: those lines are set aside, any other is an error (a
# bogus signature, a record it could not read). Prints "N answers, E
# errors" and the first error.
verify_answers() {
    local out
    {
        dig +dnssec +noall +answer -p "$2" @127.0.0.1 "$1" SOA
        dig +dnssec +noall +answer -p "$2" @127.0.0.1 "$1" DNSKEY
        awk '$4 == "A" || ($4 == "RRSIG" && $5 == "A")' "$3"
    } > "$4"
    out=$(ldns-verify-zone "$4" 2>&1 | grep -v -e '^Error: there is no NSEC(3) for ' \
        -e '^There were errors in the zone$' -e '^Zone is verified and complete$')
    printf '%s answers, %s errors%s\n' "$(awk '$4 == "RRSIG" && $5 == "A"' "$3" | wc -l)" \
        "$(printf '%s' "$out" | grep -c .)" "${out:+: $(echo "$out" | head -1)}"
}
