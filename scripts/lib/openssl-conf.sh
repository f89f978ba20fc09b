# scripts/lib/openssl-conf.sh: write_openssl_conf FILE PROVIDER_SO writes
# an openssl.cnf that loads the default provider and the hsmcache provider
# under the name "pkcs11", which BIND 9.20 asks for ("provider=pkcs11").
write_openssl_conf() {
    cat > "$1" <<EOC
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
pkcs11 = pkcs11_sect
[default_sect]
activate = 1
[pkcs11_sect]
module = $2
activate = 1
EOC
}
