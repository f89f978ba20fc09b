/*
 * prov.h: the hsmcache OpenSSL 3 provider (build/hsmcache-provider.so),
 * split by operation like pkcs11-provider: provider.c (entry, dispatch),
 * store.c (pkcs11: URIs), keymgmt.c (EC, RSA and Ed25519 keys in the
 * HSM), signature.c (ECDSA, RSA PKCS#1 v1.5 and PSS, EdDSA). Every private-key
 * operation goes through libhsmcache; the PIN comes from its PIN store.
 */
#ifndef HP_PROV_H
#define HP_PROV_H

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>

#include "hsmcache.h"

typedef struct hp_prov {
    const OSSL_CORE_HANDLE *handle;
    /* libcrypto's error functions, from OSSL_provider_init's table */
    OSSL_FUNC_core_new_error_fn *new_error;
    OSSL_FUNC_core_set_error_debug_fn *set_error_debug;
    OSSL_FUNC_core_vset_error_fn *vset_error;
    pthread_mutex_t lock;
    hc_ctx_t *ctx;             /* opened on first use */
} hp_prov_t;

/* The core context, opening it on first use; NULL (and an OpenSSL error
 * naming the reason) if the config cannot be used. */
hc_ctx_t *hp_ctx(hp_prov_t *p);
void hp_raise(hp_prov_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A key in the HSM: its private object and its public key in software. */
typedef struct hp_key {
    hp_prov_t *prov;
    int refs;                  /* atomic */
    hc_obj_t priv;             /* 0: a public key only */
    EVP_PKEY *pub;             /* from the SPKI the core read */
    int type;                  /* EVP_PKEY_EC, EVP_PKEY_RSA or EVP_PKEY_ED25519 */
} hp_key_t;

hp_key_t *hp_key_new(hp_prov_t *p, hc_obj_t priv, const unsigned char *spki, size_t len);
void hp_key_ref(hp_key_t *k);
void hp_key_unref(hp_key_t *k);
/* OpenSSL's name for a key type ("EC", "RSA", "ED25519"). */
const char *hp_key_type_name(int type);

/* keygen.c */
void *hp_ec_gen_init(void *provctx, int selection, const OSSL_PARAM params[]);
void *hp_rsa_gen_init(void *provctx, int selection, const OSSL_PARAM params[]);
void *hp_ed25519_gen_init(void *provctx, int selection, const OSSL_PARAM params[]);
int hp_gen_set_params(void *genctx, const OSSL_PARAM params[]);
const OSSL_PARAM *hp_gen_settable(void *genctx, void *provctx);
void *hp_gen(void *genctx, OSSL_CALLBACK *cb, void *cbarg);
void hp_gen_cleanup(void *genctx);

extern const OSSL_DISPATCH hp_store_functions[];
extern const OSSL_DISPATCH hp_ec_keymgmt_functions[];
extern const OSSL_DISPATCH hp_rsa_keymgmt_functions[];
extern const OSSL_DISPATCH hp_ed25519_keymgmt_functions[];
extern const OSSL_DISPATCH hp_ecdsa_signature_functions[];
extern const OSSL_DISPATCH hp_rsa_signature_functions[];
extern const OSSL_DISPATCH hp_eddsa_signature_functions[];

#endif
