/* keymgmt.c: EC, RSA and Ed25519 keys that live in the HSM. The private half is a
 * reference into the core; the public half is an ordinary libcrypto key,
 * which answers parameter queries and is what export hands out (so
 * OpenSSL can encode the public key, e.g. into a certificate). A public
 * key may also be imported (OpenSSL does so to compare a certificate's
 * key with an HSM key: `openssl x509 -CA ... -CAkey pkcs11:...`); a
 * private key never is: OpenSSL then compares the other way round. */
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prov.h"

static hp_key_t *key_alloc(hp_prov_t *p, hc_obj_t priv, EVP_PKEY *pub, int type, const char *name)
{
    hp_key_t *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->prov = p;
    k->refs = 1;
    k->priv = priv;
    k->pub = pub;
    k->type = type;
    snprintf(k->name, sizeof k->name, "%s", name);
    return k;
}

hp_key_t *hp_key_new(hp_prov_t *p, hc_obj_t priv, const unsigned char *spki, size_t len,
                     const char *name)
{
    const unsigned char *q = spki;
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &q, (long)len);
    int type = pub ? EVP_PKEY_get_base_id(pub) : 0;
    hp_key_t *k = hp_key_type_name(type) ? key_alloc(p, priv, pub, type, name) : NULL;
    if (!k)
        EVP_PKEY_free(pub);
    return k;
}

void hp_key_name(char *out, size_t size, const char *token, const unsigned char *label,
                 size_t label_len)
{
    int n = snprintf(out, size, "pkcs11:token=%s;object=", token);
    size_t o = n < 0 ? 0 : (size_t)n;
    for (size_t i = 0; i < label_len && o + 4 <= size; i++) {
        unsigned char c = label[i];
        if (c > 0x20 && c < 0x7f && !strchr(";?%/", c))
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, size - o, "%%%02X", c);
    }
    if (o >= size && size)
        o = size - 1;
    if (size)
        out[o] = 0;
}

const char *hp_key_type_name(int type)
{
    switch (type) {
    case EVP_PKEY_EC: return "EC";
    case EVP_PKEY_RSA: return "RSA";
    case EVP_PKEY_ED25519: return "ED25519";
    default: return NULL;
    }
}

void hp_key_ref(hp_key_t *k)
{
    __atomic_add_fetch(&k->refs, 1, __ATOMIC_RELAXED);
}

void hp_key_unref(hp_key_t *k)
{
    if (k && __atomic_sub_fetch(&k->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        EVP_PKEY_free(k->pub);
        free(k);
    }
}

/* An empty key for an import to fill: only ever a public key, which
 * OpenSSL moves here to compare it with an HSM key (X509_check_private_key
 * in `openssl x509 -CAkey`). Without it OpenSSL reports a failed compare
 * as "malloc failure", which then shows under any later error. */
static void *km_new(void *provctx, int type)
{
    return key_alloc(provctx, 0, NULL, type, "(a public key given to the provider)");
}

static void *ec_new(void *provctx)
{
    return km_new(provctx, EVP_PKEY_EC);
}

static void *rsa_new(void *provctx)
{
    return km_new(provctx, EVP_PKEY_RSA);
}

static void *ed25519_new(void *provctx)
{
    return km_new(provctx, EVP_PKEY_ED25519);
}

/* Public parts only, made an ordinary libcrypto key by a provider other
 * than this one. A private key is refused without an error: OpenSSL then
 * tries the comparison the other way (our key exported), as before. */
static int km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
    hp_key_t *k = keydata;
    if (!k || k->pub || k->priv || (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) ||
        OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY) ||
        OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_D) ||
        !(selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY))
        return 0;
    EVP_PKEY_CTX *c =
        EVP_PKEY_CTX_new_from_name(NULL, hp_key_type_name(k->type), "provider!=pkcs11");
    int ok = c && EVP_PKEY_fromdata_init(c) > 0 &&
             EVP_PKEY_fromdata(c, &k->pub, EVP_PKEY_PUBLIC_KEY, (OSSL_PARAM *)params) > 0;
    EVP_PKEY_CTX_free(c);
    return ok;
}

static void km_free(void *keydata)
{
    hp_key_unref(keydata);
}

static void *km_load(const void *reference, size_t size, int type)
{
    hp_key_t *k;
    if (size != sizeof k)
        return NULL;
    memcpy(&k, reference, sizeof k);
    if (!k || k->type != type)
        return NULL;
    hp_key_ref(k);
    return k;
}

static void *ec_load(const void *reference, size_t size)
{
    return km_load(reference, size, EVP_PKEY_EC);
}

static void *rsa_load(const void *reference, size_t size)
{
    return km_load(reference, size, EVP_PKEY_RSA);
}

static void *ed25519_load(const void *reference, size_t size)
{
    return km_load(reference, size, EVP_PKEY_ED25519);
}

static int km_has(const void *keydata, int selection)
{
    const hp_key_t *k = keydata;
    if (!k || !k->pub)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && !k->priv)
        return 0;
    return 1; /* public key and parameters are always there */
}

static int km_match(const void *a, const void *b, int selection)
{
    (void)selection;
    const hp_key_t *x = a, *y = b;
    return x->pub && y->pub && EVP_PKEY_eq(x->pub, y->pub) == 1;
}

static int km_get_params(void *keydata, OSSL_PARAM params[])
{
    hp_key_t *k = keydata;
    if (!k->pub)
        return 0;
    /* EdDSA hashes inside the algorithm: the public key says so itself. */
    OSSL_PARAM *p = k->type == EVP_PKEY_ED25519
                        ? NULL
                        : OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_DEFAULT_DIGEST);
    if (p && !OSSL_PARAM_set_utf8_string(p, "SHA256"))
        return 0;
    /* Everything else is a property of the public key. */
    return EVP_PKEY_get_params(k->pub, params) || p;
}

static const OSSL_PARAM *km_gettable_params(void *provctx)
{
    (void)provctx;
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
        OSSL_PARAM_END,
    };
    return p;
}

/* Only public parts ever leave. An export that asks for the private key
 * is refused, not answered with the public half: OpenSSL 3.0 first tries
 * to move a key into the default provider to sign there, and must fail
 * over to this provider's own signature code instead. */
static int km_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
    hp_key_t *k = keydata;
    if (!k->pub || ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && k->priv))
        return 0;
    if (!(selection & (OSSL_KEYMGMT_SELECT_PUBLIC_KEY | OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS)))
        return 0;
    OSSL_PARAM *params = NULL;
    if (EVP_PKEY_todata(k->pub, EVP_PKEY_PUBLIC_KEY, &params) != 1)
        return 0;
    int rc = cb(params, cbarg);
    OSSL_PARAM_free(params);
    return rc;
}

static const OSSL_PARAM *ec_export_types(int selection)
{
    (void)selection;
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
        OSSL_PARAM_END,
    };
    return p;
}

static const OSSL_PARAM *rsa_export_types(int selection)
{
    (void)selection;
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
        OSSL_PARAM_END,
    };
    return p;
}

static const OSSL_PARAM *ed25519_export_types(int selection)
{
    (void)selection;
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
        OSSL_PARAM_END,
    };
    return p;
}

static const char *ec_operation(int op)
{
    return op == OSSL_OP_SIGNATURE ? "ECDSA" : NULL;
}

static const char *rsa_operation(int op)
{
    return op == OSSL_OP_SIGNATURE ? "RSA" : NULL;
}

static const char *ed25519_operation(int op)
{
    return op == OSSL_OP_SIGNATURE ? "ED25519" : NULL;
}

#define KEYMGMT_COMMON                                                          \
    { OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import },                    \
    { OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free },                        \
    { OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has },                          \
    { OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match },                      \
    { OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params },            \
    { OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))km_gettable_params },  \
    { OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export },                    \
    { OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS, (void (*)(void))hp_gen_set_params },    \
    { OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, (void (*)(void))hp_gen_settable }, \
    { OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))hp_gen },                          \
    { OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))hp_gen_cleanup }

const OSSL_DISPATCH hp_ec_keymgmt_functions[] = {
    KEYMGMT_COMMON,
    { OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))ec_load },
    { OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))hp_ec_gen_init },
    { OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))ec_export_types },
    { OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))ec_export_types },
    { OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))ec_new },
    { OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))ec_operation },
    { 0, NULL },
};

const OSSL_DISPATCH hp_rsa_keymgmt_functions[] = {
    KEYMGMT_COMMON,
    { OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))rsa_load },
    { OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))hp_rsa_gen_init },
    { OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))rsa_export_types },
    { OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))rsa_export_types },
    { OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))rsa_new },
    { OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))rsa_operation },
    { 0, NULL },
};

const OSSL_DISPATCH hp_ed25519_keymgmt_functions[] = {
    KEYMGMT_COMMON,
    { OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))ed25519_load },
    { OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))hp_ed25519_gen_init },
    { OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))ed25519_export_types },
    { OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))ed25519_export_types },
    { OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))ed25519_new },
    { OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))ed25519_operation },
    { 0, NULL },
};
