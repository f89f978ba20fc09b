/* store.c: OSSL_STORE for pkcs11: URIs. A URI names keys on hsmcache
 * tokens (token= is the hsmcache token name or the real label); each key
 * is passed to OpenSSL as a reference that keymgmt.c loads. A private key
 * and its public half are both offered, as BIND expects. */
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>
#include <openssl/store.h>
#include <stdlib.h>
#include <string.h>

#include "prov.h"

typedef struct hp_store {
    hp_prov_t *prov;
    hp_key_t **keys;
    size_t n, pos;
} hp_store_t;

/* The key object `obj` as an hp_key (private when it is a private key). */
static hp_key_t *key_of(hp_prov_t *p, hc_ctx_t *ctx, hc_obj_t obj)
{
    CK_OBJECT_CLASS cls = 0;
    CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof cls };
    unsigned char *spki = NULL;
    size_t len = 0;
    if (hc_get_attrs(ctx, obj, &a, 1, NULL) != CKR_OK ||
        (cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY) ||
        hc_public_key(ctx, obj, &spki, &len, NULL) != CKR_OK)
        return NULL;
    /* Its name in errors: the label as read (up to 128 bytes; a longer
     * or unreadable one is left out). */
    unsigned char label[128];
    CK_ATTRIBUTE l = { CKA_LABEL, label, sizeof label };
    char name[sizeof((hp_key_t *)0)->name];
    if (hc_get_attrs(ctx, obj, &l, 1, NULL) != CKR_OK || l.ulValueLen > sizeof label)
        l.ulValueLen = 0;
    hp_key_name(name, sizeof name, hc_token_name(ctx, hc_obj_token(obj)), label, l.ulValueLen);
    hp_key_t *k = hp_key_new(p, cls == CKO_PRIVATE_KEY ? obj : 0, spki, len, name);
    free(spki);
    return k;
}

static void *store_open(void *provctx, const char *uri)
{
    hp_prov_t *p = provctx;
    if (strncmp(uri, "pkcs11:", 7) != 0)
        return NULL;
    hc_ctx_t *ctx = hp_ctx(p);
    if (!ctx)
        return NULL;
    hc_obj_t *objs;
    size_t n;
    hc_err_t err = { 0 };
    if (hc_find_uri(ctx, uri, &objs, &n, &err) != CKR_OK) {
        hp_raise(p, "%s", err.msg);
        return NULL;
    }
    hp_store_t *s = calloc(1, sizeof *s);
    if (s)
        s->keys = calloc(n ? n : 1, sizeof *s->keys);
    for (size_t i = 0; s && s->keys && i < n; i++) {
        hp_key_t *k = key_of(p, ctx, objs[i]);
        if (k)
            s->keys[s->n++] = k;
    }
    free(objs);
    if (s && !s->keys) {
        free(s);
        s = NULL;
    }
    if (s) {
        s->prov = p;
        if (s->n == 0)
            hp_raise(p, "%s: no key matches", uri);
    }
    return s;
}

static int store_set_params(void *loaderctx, const OSSL_PARAM params[])
{
    (void)loaderctx;
    (void)params;
    return 1; /* expectations (type, subject) are checked by OpenSSL */
}

static int store_load(void *loaderctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                      OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    (void)pw_cb;
    (void)pw_cbarg; /* never a PIN: the PIN store has it */
    hp_store_t *s = loaderctx;
    if (s->pos >= s->n)
        return 0;
    hp_key_t *k = s->keys[s->pos++];
    int type = OSSL_OBJECT_PKEY;
    const char *data_type = hp_key_type_name(k->type);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, (char *)data_type, 0),
        OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &k, sizeof k),
        OSSL_PARAM_construct_end(),
    };
    return object_cb(params, object_cbarg);
}

static int store_eof(void *loaderctx)
{
    hp_store_t *s = loaderctx;
    return s->pos >= s->n;
}

static int store_close(void *loaderctx)
{
    hp_store_t *s = loaderctx;
    for (size_t i = 0; i < s->n; i++)
        hp_key_unref(s->keys[i]);
    free(s->keys);
    free(s);
    return 1;
}

const OSSL_DISPATCH hp_store_functions[] = {
    { OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open },
    { OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))store_set_params },
    { OSSL_FUNC_STORE_LOAD, (void (*)(void))store_load },
    { OSSL_FUNC_STORE_EOF, (void (*)(void))store_eof },
    { OSSL_FUNC_STORE_CLOSE, (void (*)(void))store_close },
    { 0, NULL },
};
