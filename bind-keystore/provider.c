/* provider.c: OSSL_provider_init and the algorithm tables. Loaded from
 * openssl.cnf (BIND 9.20 asks for "provider=pkcs11", so name its section
 * pkcs11): see bind-keystore/README.md. */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prov.h"

/* OpenSSL 3.0 does not derive "provider=NAME" from the name a provider is
 * loaded under, so it is declared: BIND 9.20 fetches with
 * "provider=pkcs11" (as pkcs11-provider declares it). */
#define PROPS "provider=pkcs11"

void hp_raise(hp_prov_t *p, const char *fmt, ...)
{
    if (!p->new_error || !p->vset_error)
        return;
    va_list ap;
    p->new_error(p->handle);
    if (p->set_error_debug)
        p->set_error_debug(p->handle, "hsmcache-provider", 0, "hsmcache");
    va_start(ap, fmt);
    p->vset_error(p->handle, ERR_PACK(ERR_LIB_PROV, 0, 0), fmt, ap);
    va_end(ap);
}

void hp_raise_key(const hp_key_t *k, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hp_raise(k->prov, "key %s: %s", k->name, msg);
}

hc_ctx_t *hp_ctx(hp_prov_t *p)
{
    pthread_mutex_lock(&p->lock);
    if (!p->ctx) {
        hc_err_t err = { 0 };
        if (hc_open(HC_PROFILE_BIND, NULL, &p->ctx, &err) != CKR_OK) {
            p->ctx = NULL;
            hp_raise(p, "%s", err.msg);
        }
    }
    hc_ctx_t *ctx = p->ctx;
    pthread_mutex_unlock(&p->lock);
    return ctx;
}

static const OSSL_ALGORITHM stores[] = {
    { "pkcs11", PROPS, hp_store_functions, "pkcs11: URIs through hsmcache" },
    { NULL, NULL, NULL, NULL },
};
static const OSSL_ALGORITHM keymgmts[] = {
    { "EC:id-ecPublicKey:1.2.840.10045.2.1", PROPS, hp_ec_keymgmt_functions, "EC keys in an HSM" },
    { "RSA:rsaEncryption:1.2.840.113549.1.1.1", PROPS, hp_rsa_keymgmt_functions,
      "RSA keys in an HSM" },
    { "ED25519:1.3.101.112", PROPS, hp_ed25519_keymgmt_functions, "Ed25519 keys in an HSM" },
    { NULL, NULL, NULL, NULL },
};
static const OSSL_ALGORITHM signatures[] = {
    { "ECDSA", PROPS, hp_ecdsa_signature_functions, "ECDSA through hsmcache" },
    { "RSA:rsaEncryption:1.2.840.113549.1.1.1", PROPS, hp_rsa_signature_functions,
      "RSA through hsmcache" },
    { "ED25519:1.3.101.112", PROPS, hp_eddsa_signature_functions, "Ed25519 through hsmcache" },
    { NULL, NULL, NULL, NULL },
};

static const OSSL_ALGORITHM *query(void *provctx, int op, int *no_cache)
{
    (void)provctx;
    *no_cache = 0;
    switch (op) {
    case OSSL_OP_STORE: return stores;
    case OSSL_OP_KEYMGMT: return keymgmts;
    case OSSL_OP_SIGNATURE: return signatures;
    default: return NULL;
    }
}

static const OSSL_PARAM *gettable(void *provctx)
{
    (void)provctx;
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_NAME, OSSL_PARAM_UTF8_PTR, NULL, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_VERSION, OSSL_PARAM_UTF8_PTR, NULL, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_STATUS, OSSL_PARAM_INTEGER, NULL, 0),
        OSSL_PARAM_END,
    };
    return p;
}

static int get_params(void *provctx, OSSL_PARAM params[])
{
    (void)provctx;
    OSSL_PARAM *p;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME)) &&
        !OSSL_PARAM_set_utf8_ptr(p, "hsmcache provider"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION)) &&
        !OSSL_PARAM_set_utf8_ptr(p, "0.1"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS)) && !OSSL_PARAM_set_int(p, 1))
        return 0;
    return 1;
}

/* OpenSSL tears providers down from its own atexit cleanup. Closing
 * sessions then would call into the PKCS#11 module (SoftHSM links the
 * same libcrypto) after libcrypto has been cleaned up, and crash; so the
 * core context, and the module's sessions, are left to process exit.
 * (pkcs11-provider needs its "no-deinit" quirk with SoftHSM for the
 * same reason.) An explicit unload leaks one context. */
static void teardown(void *provctx)
{
    hp_prov_t *p = provctx;
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static const OSSL_DISPATCH provider_functions[] = {
    { OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))teardown },
    { OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))query },
    { OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))gettable },
    { OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))get_params },
    { 0, NULL },
};

int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx);

int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx)
{
    hp_prov_t *p = calloc(1, sizeof *p);
    if (!p)
        return 0;
    for (; in->function_id; in++) {
        switch (in->function_id) {
        case OSSL_FUNC_CORE_NEW_ERROR: p->new_error = OSSL_FUNC_core_new_error(in); break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            p->set_error_debug = OSSL_FUNC_core_set_error_debug(in);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR: p->vset_error = OSSL_FUNC_core_vset_error(in); break;
        default: break;
        }
    }
    p->handle = handle;
    pthread_mutex_init(&p->lock, NULL);
    *provctx = p;
    *out = provider_functions;
    return 1;
}
