# scripts/lib/openssl-conf.sh: write_openssl_conf FILE PROVIDER_SO [LINE...]
# writes an openssl.cnf that loads the default provider and PROVIDER_SO
# (the hsmcache provider, or pkcs11-provider with its settings as LINEs)
# under the name "pkcs11", which BIND 9.20 asks for ("provider=pkcs11").
# write_ca_conf DIR DIGEST writes DIR/ca.cnf for `openssl ca` (its
# database under DIR), issuing intermediates with pathlen:0.
write_openssl_conf() {
    local f=$1 so=$2
    shift 2
    cat > "$f" <<EOC
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
pkcs11 = pkcs11_sect
[default_sect]
activate = 1
[pkcs11_sect]
module = $so
$(printf '%s\n' "$@")
activate = 1
EOC
}

write_ca_conf() {
    mkdir -p "$1/newcerts"
    : > "$1/index.txt"
    echo 01 > "$1/serial"
    cat > "$1/ca.cnf" <<EOC
[ca]
default_ca = root_ca
[root_ca]
database = $1/index.txt
new_certs_dir = $1/newcerts
serial = $1/serial
default_md = $2
default_days = 1825
policy = policy_cn
x509_extensions = v3_intermediate
unique_subject = no
[policy_cn]
commonName = supplied
[v3_intermediate]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOC
}
