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
