/*
 * objects.c: finding objects, reading their attributes, generating and
 * destroying keys, all through pooled sessions and stable references. A
 * lookup by label or id is answered by the key index once it has seen
 * every object (one search per context, from its 16th lookup on), else by
 * the token's search.
 */
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/group.h"
#include "util/err.h"

#define FIND_BATCH 64

struct find_arg {
    const CK_ATTRIBUTE *tmpl;
    CK_ULONG n;
    hc_obj_t *objs;
    size_t count;
};

static CK_RV find_op(hc_token_t *t, const hc_session_t *s, void *arg, hc_err_t *err)
{
    struct find_arg *a = arg;
    a->count = 0;
    CK_RV rv = hc_p11_find_init(&t->p11, s->h, a->tmpl, a->n, err);
    if (rv != CKR_OK)
        return rv;
    for (;;) {
        CK_OBJECT_HANDLE h[FIND_BATCH];
        CK_ULONG got = 0;
        if ((rv = hc_p11_find(&t->p11, s->h, h, FIND_BATCH, &got, err)) != CKR_OK)
            break;
        if (got == 0)
            break;
        hc_obj_t *grown = realloc(a->objs, (a->count + got) * sizeof *grown);
        if (!grown) {
            rv = hc_err(err, CKR_HOST_MEMORY, "out of memory");
            break;
        }
        a->objs = grown;
        size_t mapped; /* the core's own session copies are left out */
        if ((rv = hc_keyindex_map_found(t, s, h, got, a->objs + a->count, &mapped, err)) != CKR_OK)
            break;
        a->count += mapped;
    }
    hc_p11_find_final(&t->p11, s->h);
    return rv;
}

/* Lookups by label or id a context makes on a token before it indexes
 * every object. A short-lived process (one ssh-keygen, one hsmcache
 * command) makes one or two and is served best by the token's search; a
 * server makes thousands. On SoftHSM the whole pass costs about 16 searches
 * (1.07 s against 66 ms with 1,000 pairs, measured by bench-scale and the
 * code before the index), so searching until that much has been spent and
 * then indexing costs at most twice the better of the two, whatever the
 * process turns out to be (the ski-rental bound). */
#define INDEX_AFTER_LOOKUPS 16

/* Every object on the token into the key index, once per context, from
 * the INDEX_AFTER_LOOKUPS-th lookup on: one search with an empty template,
 * logged in so that private keys are among them. From then on a lookup by
 * label or id is answered from memory (hc_keyindex_lookup); a failure
 * leaves it to the token's search. */
static void index_all(hc_token_t *t)
{
    pthread_mutex_lock(&t->idx_lock);
    bool done = t->indexed || ++t->lookups < INDEX_AFTER_LOOKUPS;
    pthread_mutex_unlock(&t->idx_lock);
    if (done)
        return;
    struct find_arg a = { NULL, 0, NULL, 0 };
    if (hc_pool_run(t, true, true, find_op, &a, NULL) == CKR_OK) {
        pthread_mutex_lock(&t->idx_lock);
        t->indexed = true;
        pthread_mutex_unlock(&t->idx_lock);
    }
    free(a.objs);
}

static bool by_label_or_id(const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (tmpl[i].type == CKA_LABEL || tmpl[i].type == CKA_ID)
            return true;
    return false;
}

static CK_RV class_op(hc_token_t *t, const hc_session_t *s, CK_OBJECT_HANDLE h, void *arg,
                      hc_err_t *err)
{
    CK_ATTRIBUTE a = { CKA_CLASS, arg, sizeof(CK_OBJECT_CLASS) };
    return hc_p11_get_attrs(&t->p11, s->h, h, &a, 1, err);
}

/* Keeps the index's answers whose object is still on the token (one
 * attribute read each, found again by identity when its handle is
 * refused): another process may have destroyed one since, and a lookup
 * must then find what the token holds now. Gone ones are forgotten. */
static CK_RV still_there(hc_core_t *c, hc_token_t *t, hc_obj_t *objs, size_t *count)
{
    size_t kept = 0;
    for (size_t i = 0; i < *count; i++) {
        hc_keyent_t *e = hc_keyindex_get(c, objs[i], NULL);
        CK_OBJECT_CLASS cls;
        CK_RV rv =
            e ? hc_key_run(t, e, true, false, class_op, &cls, NULL) : CKR_OBJECT_HANDLE_INVALID;
        if (rv == CKR_OK)
            objs[kept++] = objs[i];
        else if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID) {
            if (e)
                hc_keyindex_forget(t, e);
        } else {
            return rv; /* the token's search reports it */
        }
    }
    *count = kept;
    return CKR_OK;
}

CK_RV hc_core_find(void *impl, size_t tok, const CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_obj_t **objs,
                   size_t *count, hc_err_t *err)
{
    hc_core_t *c = impl;
    hc_token_t *t = &c->tokens[tok];
    if (t->group)
        return hc_group_find(t, tmpl, n, objs, count, err);
    if (by_label_or_id(tmpl, n)) {
        index_all(t);
        if (hc_keyindex_lookup(t, tmpl, n, objs, count)) {
            if (still_there(c, t, *objs, count) == CKR_OK && *count > 0)
                return CKR_OK;
            free(*objs);
            *objs = NULL;
            *count = 0;
        }
    }
    struct find_arg a = { tmpl, n, NULL, 0 };
    CK_RV rv = hc_pool_run(t, true, false, find_op, &a, err);
    if (rv != CKR_OK) {
        free(a.objs);
        return rv;
    }
    *objs = a.objs;
    *count = a.count;
    return CKR_OK;
}

struct attrs_arg {
    CK_ATTRIBUTE *tmpl;
    CK_ULONG n;
};

static CK_RV attrs_op(hc_token_t *t, const hc_session_t *s, CK_OBJECT_HANDLE h, void *arg,
                      hc_err_t *err)
{
    struct attrs_arg *a = arg;
    return hc_p11_get_attrs(&t->p11, s->h, h, a->tmpl, a->n, err);
}

CK_RV hc_core_get_attrs(void *impl, hc_obj_t obj, CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_err_t *err)
{
    hc_token_t *t;
    CK_RV rv;
    hc_keyent_t *e = hc_key_lookup(impl, obj, &t, &rv, err);
    if (!e)
        return rv;
    struct attrs_arg a = { tmpl, n };
    return hc_key_run(t, e, true, false, attrs_op, &a, err);
}

CK_RV hc_core_public_key(void *impl, hc_obj_t obj, unsigned char **spki, size_t *len, hc_err_t *err)
{
    hc_token_t *t;
    CK_RV rv;
    hc_keyent_t *e = hc_key_lookup(impl, obj, &t, &rv, err);
    if (!e || (rv = hc_keyindex_public(t, e, err)) != CKR_OK)
        return rv;
    if (!(*spki = malloc(e->spki_len)))
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    memcpy(*spki, e->spki, e->spki_len);
    *len = e->spki_len;
    return CKR_OK;
}

CK_RV hc_core_signature_length(void *impl, hc_obj_t obj, size_t *len, hc_err_t *err)
{
    hc_token_t *t;
    CK_RV rv;
    hc_keyent_t *e = hc_key_lookup(impl, obj, &t, &rv, err);
    if (!e || (rv = hc_keyindex_public(t, e, err)) != CKR_OK)
        return rv;
    *len = e->sig_len;
    return CKR_OK;
}

/* PowerDNS gives every key it creates this CKA_ID. */
static const unsigned char pdns_constant_id[] = { 0x01, 0x02, 0x03, 0x04 };

/* Copies `in` into `out` (room for n + 1) with CKA_ID set to `id`. */
static CK_ULONG with_id(const CK_ATTRIBUTE *in, CK_ULONG n, CK_ATTRIBUTE *out, unsigned char *id,
                        size_t idlen)
{
    CK_ULONG k = 0;
    for (CK_ULONG i = 0; i < n; i++)
        if (in[i].type != CKA_ID)
            out[k++] = in[i];
    out[k++] = (CK_ATTRIBUTE){ CKA_ID, id, idlen };
    return k;
}

/* The caller's CKA_ID if usable for both halves, else NULL. */
static const CK_ATTRIBUTE *usable_id(const CK_ATTRIBUTE *t, CK_ULONG n)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (t[i].type == CKA_ID) {
            if (t[i].ulValueLen == 0 || !t[i].pValue ||
                (t[i].ulValueLen == sizeof pdns_constant_id &&
                 memcmp(t[i].pValue, pdns_constant_id, sizeof pdns_constant_id) == 0))
                return NULL;
            return &t[i];
        }
    return NULL;
}

const CK_ATTRIBUTE *hc_keygen_given_id(const CK_ATTRIBUTE *pub, CK_ULONG npub,
                                       const CK_ATTRIBUTE *priv, CK_ULONG npriv)
{
    const CK_ATTRIBUTE *given = usable_id(pub, npub);
    return given ? given : usable_id(priv, npriv);
}

struct keygen_arg {
    const CK_MECHANISM *mech;
    CK_ATTRIBUTE *pub, *priv;
    CK_ULONG npub, npriv;
    hc_obj_t ids[2];
};

static CK_RV keygen_op(hc_token_t *t, const hc_session_t *s, void *arg, hc_err_t *err)
{
    struct keygen_arg *a = arg;
    CK_OBJECT_HANDLE h[2];
    CK_RV rv = hc_p11_generate_key_pair(&t->p11, s->h, a->mech, a->pub, a->npub, a->priv, a->npriv,
                                        &h[0], &h[1], err);
    return rv == CKR_OK ? hc_keyindex_map(t, s, h, 2, a->ids, err) : rv;
}

CK_RV hc_core_generate_key_pair(void *impl, size_t tok, const CK_MECHANISM *mech,
                                const CK_ATTRIBUTE *pub_tmpl, CK_ULONG npub,
                                const CK_ATTRIBUTE *priv_tmpl, CK_ULONG npriv, hc_obj_t *pub,
                                hc_obj_t *priv, hc_err_t *err)
{
    hc_core_t *c = impl;
    if (c->tokens[tok].group)
        return hc_group_refuse_keys(&c->tokens[tok], "generated", err);
    const CK_ATTRIBUTE *given = hc_keygen_given_id(pub_tmpl, npub, priv_tmpl, npriv);
    unsigned char fresh[16];
    unsigned char *id = fresh;
    size_t idlen = sizeof fresh;
    if (given) {
        id = given->pValue;
        idlen = given->ulValueLen;
    } else if (RAND_bytes(fresh, sizeof fresh) != 1) {
        return hc_err(err, CKR_FUNCTION_FAILED, "no randomness for a key id");
    }
    CK_ATTRIBUTE *p = calloc(npub + 1, sizeof *p), *q = calloc(npriv + 1, sizeof *q);
    if (!p || !q) {
        free(p);
        free(q);
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    }
    struct keygen_arg a = { mech, p, q, 0, 0, { 0, 0 } };
    a.npub = with_id(pub_tmpl, npub, p, id, idlen);
    a.npriv = with_id(priv_tmpl, npriv, q, id, idlen);
    CK_RV rv = hc_pool_run(&c->tokens[tok], true, true, keygen_op, &a, err);
    free(p);
    free(q);
    if (rv == CKR_OK) {
        *pub = a.ids[0];
        *priv = a.ids[1];
    }
    return rv;
}

static CK_RV destroy_op(hc_token_t *t, const hc_session_t *s, CK_OBJECT_HANDLE h, void *arg,
                        hc_err_t *err)
{
    CK_RV rv = hc_p11_destroy_object(&t->p11, s->h, h, err);
    if (rv == CKR_OK)
        hc_keyindex_forget(t, arg);
    return rv;
}

CK_RV hc_core_destroy(void *impl, hc_obj_t obj, hc_err_t *err)
{
    hc_token_t *t;
    CK_RV rv;
    hc_keyent_t *e = hc_key_lookup(impl, obj, &t, &rv, err);
    if (!e)
        return rv;
    if (t->group)
        return hc_group_refuse_keys(t, "destroyed", err);
    return hc_key_run(t, e, true, true, destroy_op, e, err);
}
