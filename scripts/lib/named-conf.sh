# scripts/lib/named-conf.sh: write_named_conf FILE DIR PORT TOKEN [LINE...]
# writes the part of a named.conf every private named of the demo, the
# tests and the benches shares: named on 127.0.0.1 port PORT only, its
# files under DIR, no recursion, no validation, zone transfers to
# 127.0.0.1 (for ldns-verify-zone after AXFR), no control channel, and a
# key-store "hsm" whose keys live in hsmcache token TOKEN (key files in
# DIR/keys). Each LINE is one more statement inside options { }. The
# caller appends its dnssec-policy and zone statements to FILE.
write_named_conf() {
    local f=$1 dir=$2 port=$3 token=$4 line
    shift 4
    {
        printf 'options {\n    directory "%s";\n    listen-on port %s { 127.0.0.1; };\n' "$dir" "$port"
        printf '    listen-on-v6 { none; };\n    pid-file "%s/named.pid";\n' "$dir"
        printf '    recursion no;\n    dnssec-validation no;\n    allow-transfer { 127.0.0.1; };\n'
        for line in "$@"; do printf '    %s\n' "$line"; done
        printf '};\ncontrols { };\n'
        printf 'key-store "hsm" { directory "keys"; pkcs11-uri "pkcs11:token=%s"; };\n' "$token"
    } > "$f"
}
