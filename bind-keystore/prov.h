/*
 * prov.h: the hsmcache OpenSSL 3 provider (build/hsmcache-provider.so),
 * split by operation like pkcs11-provider: provider.c (entry, dispatch),
 * store.c (pkcs11: URIs), keymgmt.c (EC, RSA and Ed25519 keys in the
 * HSM), keygen.c (pairs made in the token), signature.c (ECDSA, RSA PKCS#1
 * v1.5 and PSS, EdDSA), algid.c (the AlgorithmIdentifier a signature goes
 * under in a certificate). Every private-key operation goes through
 * libhsmcache; the PIN comes from its PIN store.
 *
 * Threads: OpenSSL may use one provider from many threads. hp_ctx and
 * hp_raise are thread-safe; a key (hp_key_t) is immutable once made and
 * reference-counted atomically, so threads share it; a signature or
 * generation context belongs to one thread at a time (OpenSSL's rule).
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
    hc_ctx_t *ctx; /* opened on first use */
} hp_prov_t;

/* The core context, opening it on first use; NULL (and an OpenSSL error
 * naming the reason) if the config cannot be used. */
hc_ctx_t *hp_ctx(hp_prov_t *p);
/* Puts an error on OpenSSL's error stack (ERR_raise_data through the
 * core's error functions), library "hsmcache-provider". */
void hp_raise(hp_prov_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A key in the HSM: its private object and its public key in software. */
typedef struct hp_key {
    hp_prov_t *prov;
    int refs;       /* atomic */
    hc_obj_t priv;  /* 0: a public key only */
    EVP_PKEY *pub;  /* from the SPKI the core read; NULL only
                                  between KEYMGMT_NEW and an import */
    int type;       /* EVP_PKEY_EC, EVP_PKEY_RSA or EVP_PKEY_ED25519 */
    char name[192]; /* for errors: "pkcs11:token=T;object=L" */
} hp_key_t;

/* A key from the SPKI the core read; `name` says which key it is in
 * errors (a pkcs11: URI, percent-encoded by hp_key_name). NULL for a key
 * type the provider does not serve. */
hp_key_t *hp_key_new(hp_prov_t *p, hc_obj_t priv, const unsigned char *spki, size_t len,
                     const char *name);
/* "pkcs11:token=TOKEN;object=LABEL" into out, the label's bytes outside
 * printable ASCII (and ;?%/) percent-encoded as RFC 7512 does, cut to size. */
void hp_key_name(char *out, size_t size, const char *token, const unsigned char *label,
                 size_t label_len);
/* An OpenSSL error (hp_raise) that starts "key NAME: ". */
void hp_raise_key(const hp_key_t *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
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

/* algid.c: the DER AlgorithmIdentifier a signature made with a key of
 * `key_type` goes under (what OpenSSL puts in a certificate or CSR as its
 * signatureAlgorithm): ecdsa-with-SHA*, sha*WithRSAEncryption (NULL
 * parameters), ED25519, or for `pss` rsassaPss with RSASSA-PSS-params
 * (RFC 4055: hash and MGF1 hash with NULL parameters, each left out when
 * SHA-1, the salt length left out when 20, trailer field 1). `salt` is the
 * resolved length in bytes. Returns the DER length, *der OPENSSL_malloc'ed,
 * or 0 with *why a static sentence. Thread-safe. */
int hp_algorithm_id(int key_type, const EVP_MD *md, bool pss, const EVP_MD *mgf1, int salt,
                    unsigned char **der, const char **why);

extern const OSSL_DISPATCH hp_store_functions[];
extern const OSSL_DISPATCH hp_ec_keymgmt_functions[];
extern const OSSL_DISPATCH hp_rsa_keymgmt_functions[];
extern const OSSL_DISPATCH hp_ed25519_keymgmt_functions[];
extern const OSSL_DISPATCH hp_ecdsa_signature_functions[];
extern const OSSL_DISPATCH hp_rsa_signature_functions[];
extern const OSSL_DISPATCH hp_eddsa_signature_functions[];

#endif
