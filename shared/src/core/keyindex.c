/*
 * keyindex.c: stable object references and cached key facts.
 *
 * Every object the core hands out is an entry known by its identity
 * (class, CKA_ID, CKA_LABEL, CKA_TOKEN). Its real handle is valid for one
 * token generation; after a reconnect the handle is found again by that
 * identity, so callers' references survive lost sessions and reinserted
 * tokens. The public key (SPKI) of a key is read once and kept.
 *
 * Entries are hashed per token (keyhash.h) by (generation, handle) and by
 * label and id, so mapping a found handle and finding an entry again cost
 * the same with 20,000 keys as with 10; once every object has been seen
 * (objects.c's one search, from a context's 16th lookup on),
 * hc_keyindex_lookup answers a lookup by label or id from memory, and the
 * token's search answers a miss.
 *
 * Ids: (token index + 1) << 40 | (entry index + 1). Entries are never
 * freed before the context, so a reference is never reused for another
 * object.
 */
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "util/err.h"
#include "core/group.h"
#include "core/keycopy.h"
#include "core/keyhash.h"
#include "core/swcrypto.h"
#include "util/textsafe.h"

/* A label's bytes are the module's: quoted, escaped by textsafe.h so that
 * no NUL cuts the name and no control byte reaches a terminal or a log. */
static void quoted_label(const hc_keyent_t *e, char *buf, size_t size)
{
    buf[0] = '\'';
    hc_text_escape(e->label, e->labellen, buf + 1, size - 2);
    size_t n = strlen(buf);
    buf[n++] = '\'';
    buf[n] = '\0';
}

const char *hc_keyent_name(const hc_keyent_t *e, char *buf, size_t size)
{
    if (e->labellen)
        quoted_label(e, buf, size);
    else {
        int n = snprintf(buf, size, "id ");
        for (size_t i = 0; i < e->idlen && (size_t)n + 3 < size; i++)
            n += snprintf(buf + n, size - (size_t)n, "%02x", e->ckaid[i]);
    }
    return buf;
}

/* Reads the identity attributes of `h` into `e`. The layer leaves every
 * length either CK_UNAVAILABLE_INFORMATION or within its buffer: a label
 * or CKA_ID too long for the entry reads as absent. */
static CK_RV read_identity(hc_token_t *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, hc_keyent_t *e,
                           hc_err_t *err)
{
    CK_ATTRIBUTE a[] = {
        { CKA_CLASS, &e->cls, sizeof e->cls },
        { CKA_ID, e->ckaid, sizeof e->ckaid },
        { CKA_LABEL, e->label, sizeof e->label - 1 },
        { CKA_TOKEN, &e->on_token, sizeof e->on_token },
        { CKA_KEY_TYPE, &e->ktype, sizeof e->ktype },
    };
    CK_RV rv = hc_p11_get_attrs(&t->p11, s, h, a, 5, err);
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE &&
        rv != CKR_BUFFER_TOO_SMALL)
        return rv;
    if (a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION)
        e->cls = (CK_OBJECT_CLASS)-1;
    e->idlen = a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : a[1].ulValueLen;
    e->labellen = a[2].ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : a[2].ulValueLen;
    e->label[e->labellen] = '\0';
    if (a[3].ulValueLen == CK_UNAVAILABLE_INFORMATION)
        e->on_token = CK_TRUE;
    if (a[4].ulValueLen == CK_UNAVAILABLE_INFORMATION)
        e->ktype = (CK_KEY_TYPE)-1;
    return CKR_OK;
}

static bool same_identity(const hc_keyent_t *a, const hc_keyent_t *b)
{
    return a->cls == b->cls && a->on_token == b->on_token && a->idlen == b->idlen &&
           a->labellen == b->labellen && memcmp(a->ckaid, b->ckaid, a->idlen) == 0 &&
           memcmp(a->label, b->label, a->labellen) == 0;
}

/* Under idx_lock: a new entry for `probe`'s identity, or NULL when out
 * of memory. */
static hc_keyent_t *new_entry(hc_token_t *t, const hc_keyent_t *probe)
{
    hc_keyent_t **grown = realloc(t->ents, (t->nents + 1) * sizeof *grown);
    hc_keyent_t *e = malloc(sizeof *e);
    if (grown)
        t->ents = grown;
    if (!grown || !e) {
        free(e);
        return NULL;
    }
    *e = *probe;
    e->handle = CK_INVALID_HANDLE;
    e->gen = 0;
    e->next_label = e->next_id = NULL;
    e->id = hc_obj_make(t->index, t->nents);
    t->ents[t->nents++] = e;
    hc_keyhash_add(t, e);
    return e;
}

/* Under idx_lock: the entry with `probe`'s identity, or NULL. */
static hc_keyent_t *by_identity(hc_token_t *t, const hc_keyent_t *probe)
{
    bool label;
    for (hc_keyent_t *c = hc_keyhash_first(t, probe, &label); c; c = hc_keyhash_next(c, label))
        if (same_identity(c, probe))
            return c;
    return NULL;
}

hc_keyent_t *hc_keyindex_known(hc_token_t *t, const hc_keyent_t *probe)
{
    pthread_mutex_lock(&t->idx_lock);
    hc_keyent_t *found = by_identity(t, probe);
    pthread_mutex_unlock(&t->idx_lock);
    return found;
}

hc_keyent_t *hc_keyindex_intern(hc_token_t *t, const hc_keyent_t *probe)
{
    if (!probe->labellen && !probe->idlen)
        return NULL; /* nothing to know it again by */
    pthread_mutex_lock(&t->idx_lock);
    hc_keyent_t *found = by_identity(t, probe);
    if (!found) {
        hc_keyent_t fresh = { 0 };
        fresh.cls = probe->cls;
        fresh.ktype = probe->ktype;
        fresh.on_token = probe->on_token;
        memcpy(fresh.ckaid, probe->ckaid, probe->idlen);
        fresh.idlen = probe->idlen;
        memcpy(fresh.label, probe->label, probe->labellen);
        fresh.labellen = probe->labellen;
        found = new_entry(t, &fresh);
    }
    pthread_mutex_unlock(&t->idx_lock);
    return found;
}

/* Under idx_lock: the id of the object behind `h` in session `s`, its
 * entry made or rebound as needed; 0 (with CKR_OK) for one of the core's
 * session copies when `skip_copies`. */
static CK_RV map_one(hc_token_t *t, const hc_session_t *s, CK_OBJECT_HANDLE h, bool skip_copies,
                     hc_obj_t *out, hc_err_t *err)
{
    hc_keyent_t *found = hc_keyhash_handle(t, s->gen, h);
    if (!found) {
        hc_keyent_t probe = { 0 };
        CK_RV rv = read_identity(t, s->h, h, &probe, err);
        if (rv != CKR_OK)
            return rv;
        if (skip_copies && hc_keycopy_is_copy(&probe)) {
            *out = 0;
            return CKR_OK;
        }
        /* A stale entry with the same identity is the same object seen
         * before a reconnect: rebind it so references stay valid. */
        bool label;
        for (hc_keyent_t *c = hc_keyhash_first(t, &probe, &label); c && !found;
             c = hc_keyhash_next(c, label))
            if (c->gen != s->gen && same_identity(c, &probe))
                found = c;
        if (!found && !(found = new_entry(t, &probe)))
            return hc_err(err, CKR_HOST_MEMORY, "out of memory");
        hc_keyhash_bind(t, found, h, s->gen);
    }
    *out = found->id;
    return CKR_OK;
}

CK_RV hc_keyindex_map(hc_token_t *t, const hc_session_t *s, const CK_OBJECT_HANDLE *h, size_t n,
                      hc_obj_t *out, hc_err_t *err)
{
    CK_RV rv = CKR_OK;
    pthread_mutex_lock(&t->idx_lock);
    for (size_t i = 0; i < n && rv == CKR_OK; i++)
        rv = map_one(t, s, h[i], false, &out[i], err);
    pthread_mutex_unlock(&t->idx_lock);
    return rv;
}

CK_RV hc_keyindex_map_found(hc_token_t *t, const hc_session_t *s, const CK_OBJECT_HANDLE *h,
                            size_t n, hc_obj_t *out, size_t *mapped, hc_err_t *err)
{
    CK_RV rv = CKR_OK;
    size_t k = 0;
    pthread_mutex_lock(&t->idx_lock);
    for (size_t i = 0; i < n && rv == CKR_OK; i++)
        if ((rv = map_one(t, s, h[i], true, &out[k], err)) == CKR_OK && out[k])
            k++;
    pthread_mutex_unlock(&t->idx_lock);
    *mapped = k;
    return rv;
}

enum { Q_CLASS = 1, Q_LABEL = 2, Q_ID = 4, Q_TOKEN = 8, Q_KTYPE = 16 };

/* A template the index can answer: identity attributes only, each of its
 * type's size, with a label or an id to look up by. Fills `key`. */
static bool index_query(const CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_keyent_t *key, unsigned *want)
{
    *want = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        const CK_ATTRIBUTE *a = &tmpl[i];
        size_t len = a->ulValueLen;
        if (!a->pValue && len)
            return false;
        switch (a->type) {
        case CKA_CLASS:
        case CKA_KEY_TYPE:
            if (len != sizeof(CK_ULONG))
                return false;
            memcpy(a->type == CKA_CLASS ? (void *)&key->cls : (void *)&key->ktype, a->pValue, len);
            *want |= a->type == CKA_CLASS ? Q_CLASS : Q_KTYPE;
            break;
        case CKA_LABEL:
            if (len == 0 || len >= sizeof key->label)
                return false;
            memcpy(key->label, a->pValue, len);
            key->labellen = len;
            *want |= Q_LABEL;
            break;
        case CKA_ID:
            if (len == 0 || len > sizeof key->ckaid)
                return false;
            memcpy(key->ckaid, a->pValue, len);
            key->idlen = len;
            *want |= Q_ID;
            break;
        case CKA_TOKEN:
            if (len != 1)
                return false;
            key->on_token = *(const CK_BBOOL *)a->pValue ? CK_TRUE : CK_FALSE;
            *want |= Q_TOKEN;
            break;
        default: return false;
        }
    }
    return *want & (Q_LABEL | Q_ID);
}

static bool query_matches(const hc_keyent_t *e, const hc_keyent_t *k, unsigned want)
{
    return (!(want & Q_CLASS) || e->cls == k->cls) && (!(want & Q_KTYPE) || e->ktype == k->ktype) &&
           (!(want & Q_TOKEN) || !e->on_token == !k->on_token) &&
           (!(want & Q_LABEL) ||
            (e->labellen == k->labellen && memcmp(e->label, k->label, k->labellen) == 0)) &&
           (!(want & Q_ID) || (e->idlen == k->idlen && memcmp(e->ckaid, k->ckaid, k->idlen) == 0));
}

bool hc_keyindex_lookup(hc_token_t *t, const CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_obj_t **objs,
                        size_t *count)
{
    hc_keyent_t key = { 0 };
    unsigned want;
    *objs = NULL;
    *count = 0;
    if (!index_query(tmpl, n, &key, &want))
        return false;
    pthread_mutex_lock(&t->idx_lock);
    bool label, ok = t->indexed;
    for (hc_keyent_t *e = ok ? hc_keyhash_first(t, &key, &label) : NULL; e;
         e = hc_keyhash_next(e, label)) {
        if (!query_matches(e, &key, want))
            continue;
        hc_obj_t *grown = realloc(*objs, (*count + 1) * sizeof *grown);
        if (!grown) {
            ok = false; /* the token's search answers instead */
            break;
        }
        *objs = grown;
        (*objs)[(*count)++] = e->id;
    }
    pthread_mutex_unlock(&t->idx_lock);
    if (!ok || *count == 0) {
        free(*objs);
        *objs = NULL;
        *count = 0;
    }
    return ok && *count > 0;
}

hc_keyent_t *hc_keyindex_get(hc_core_t *core, hc_obj_t id, hc_token_t **tok)
{
    size_t ti = hc_obj_token(id);
    size_t ei = hc_obj_index(id) + 1;
    if (ti >= core->nall || ei == 0)
        return NULL;
    hc_token_t *t = &core->tokens[ti];
    hc_keyent_t *e = NULL;
    pthread_mutex_lock(&t->idx_lock);
    if (ei <= t->nents)
        e = t->ents[ei - 1];
    pthread_mutex_unlock(&t->idx_lock);
    if (tok)
        *tok = t;
    return e;
}

CK_RV hc_keyindex_resolve(hc_token_t *t, const hc_session_t *s, hc_keyent_t *e,
                          CK_OBJECT_HANDLE *out, hc_err_t *err)
{
    pthread_mutex_lock(&t->idx_lock);
    if (e->gen == s->gen) {
        *out = e->handle;
        pthread_mutex_unlock(&t->idx_lock);
        return CKR_OK;
    }
    CK_ATTRIBUTE tmpl[4] = {
        { CKA_CLASS, &e->cls, sizeof e->cls },
        { CKA_TOKEN, &e->on_token, sizeof e->on_token },
        { CKA_ID, e->ckaid, e->idlen },
        { CKA_LABEL, e->label, e->labellen },
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    CK_RV rv = hc_p11_find_init(&t->p11, s->h, tmpl, 4, err);
    if (rv == CKR_OK) {
        rv = hc_p11_find(&t->p11, s->h, &h, 1, &n, err);
        hc_p11_find_final(&t->p11, s->h);
    }
    if (rv == CKR_OK && n == 1) {
        hc_keyhash_bind(t, e, h, s->gen);
        *out = h;
    }
    pthread_mutex_unlock(&t->idx_lock);
    char name[300];
    if (rv != CKR_OK)
        return hc_err_append(err, rv, " (finding key %s again)",
                             hc_keyent_name(e, name, sizeof name));
    if (n != 1)
        return hc_err(err, CKR_OBJECT_HANDLE_INVALID,
                      "token %s: key %s is no "
                      "longer on the token",
                      t->cfg->name, hc_keyent_name(e, name, sizeof name));
    return CKR_OK;
}

hc_keyent_t *hc_key_lookup(hc_core_t *core, hc_obj_t id, hc_token_t **tok, CK_RV *rv, hc_err_t *err)
{
    /* A member's entry is the core's own: a host never holds one. */
    hc_keyent_t *e = hc_obj_token(id) < core->ntokens ? hc_keyindex_get(core, id, tok) : NULL;
    *rv = e ? CKR_OK
            : hc_err(err, CKR_OBJECT_HANDLE_INVALID, "no object with reference 0x%llx",
                     (unsigned long long)id);
    return e;
}

CK_RV hc_core_describe(void *impl, hc_obj_t obj, hc_obj_identity_t *id, hc_err_t *err)
{
    CK_RV rv;
    hc_keyent_t *e = hc_key_lookup(impl, obj, NULL, &rv, err);
    if (!e)
        return rv;
    /* Identity fields are written once, when the entry is created. */
    id->cls = e->cls;
    id->idlen = e->idlen;
    memcpy(id->id, e->ckaid, e->idlen);
    id->labellen = e->labellen;
    memcpy(id->label, e->label, e->labellen);
    id->label[e->labellen] = '\0';
    return CKR_OK;
}

struct key_run {
    hc_keyent_t *e;
    hc_key_op_fn fn;
    void *arg;
    bool copy; /* sign with e's session copy (keycopy.h) */
};

/* The module refused a handle it gave: the object was deleted (perhaps
 * created again), or the handle was never good (a buggy module's search). */
static bool handle_refused(CK_RV rv)
{
    return rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID;
}

/* Not a property of the key: a later call may well succeed. */
static bool transient(CK_RV rv)
{
    return hc_rv_lost(rv) || handle_refused(rv) || rv == HC_P11_FAULT;
}

/* Forgets `h` as e's handle in generation `gen` (unless another thread
 * found it again meanwhile), so that it is found again by identity; the
 * object may have changed, so session copies made before are stale. */
static void drop_handle(hc_token_t *t, hc_keyent_t *e, CK_OBJECT_HANDLE h, uint64_t gen)
{
    pthread_mutex_lock(&t->idx_lock);
    if (e->gen == gen && e->handle == h) {
        hc_keyhash_unbind(t, e); /* generation 0 never matches */
        e->epoch++;
    }
    pthread_mutex_unlock(&t->idx_lock);
}

static CK_RV key_run_op(hc_token_t *t, const hc_session_t *s, void *arg, hc_err_t *err)
{
    struct key_run *k = arg;
    CK_RV rv = CKR_OK;
    /* A refused handle is not kept for the next call, and is found again
     * once in this one: a cached handle outlives a re-created object. */
    bool copy_refused = false;
    for (int attempt = 0; attempt < 2; attempt++) {
        CK_OBJECT_HANDLE h, use;
        if ((rv = hc_keyindex_resolve(t, s, k->e, &h, err)) != CKR_OK)
            return rv;
        use = h;
        if (k->copy)
            rv = hc_keycopy_handle(t, s, k->e, h, &use, err);
        if (rv == CKR_OK)
            rv = k->fn(t, s, use, k->arg, err);
        if (!handle_refused(rv))
            break;
        if (use != h && !copy_refused) {   /* the token object, at once */
            hc_keycopy_refused(t, s, use); /* and the key not copied again */
            copy_refused = true;
            attempt--;
        } else if (use == h) {
            drop_handle(t, k->e, h, s->gen);
        }
    }
    return rv;
}

CK_RV hc_key_run(hc_token_t *t, hc_keyent_t *e, bool live, bool need_login, hc_key_op_fn fn,
                 void *arg, hc_err_t *err)
{
    if (t->group)
        return hc_group_key_run(t, e, live, need_login, false, fn, arg, err);
    struct key_run k = { e, fn, arg, false };
    return hc_pool_run(t, live, need_login, key_run_op, &k, err);
}

CK_RV hc_key_run_signing(hc_token_t *t, hc_keyent_t *e, bool live, hc_key_op_fn fn, void *arg,
                         hc_err_t *err)
{
    if (t->group)
        return hc_group_key_run(t, e, live, true, true, fn, arg, err);
    struct key_run k = { e, fn, arg, true };
    return hc_pool_run(t, live, true, key_run_op, &k, err);
}

struct pub_arg {
    hc_keyent_t *e;
    unsigned char *spki;
    size_t spki_len;
    EVP_PKEY *pkey; /* the same key, as built (not decoded again) */
};

/* Reads public attributes from `h` and builds the SPKI. */
static CK_RV spki_of(hc_token_t *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_KEY_TYPE type,
                     struct pub_arg *a, hc_err_t *err)
{
    unsigned char mod[1100], exp[16], params[64], point[200];
    CK_ATTRIBUTE at[] = {
        { CKA_MODULUS, mod, sizeof mod },
        { CKA_PUBLIC_EXPONENT, exp, sizeof exp },
        { CKA_EC_PARAMS, params, sizeof params },
        { CKA_EC_POINT, point, sizeof point },
    };
    bool rsa = type == CKK_RSA;
    CK_RV rv = hc_p11_get_attrs(&t->p11, s, h, rsa ? at : at + 2, 2, err);
    if (rv != CKR_OK)
        return rv;
    return hc_spki_build(type, mod, at[0].ulValueLen, exp, at[1].ulValueLen, params,
                         at[2].ulValueLen, point, at[3].ulValueLen, &a->spki, &a->spki_len,
                         &a->pkey);
}

static CK_RV public_op(hc_token_t *t, const hc_session_t *s, CK_OBJECT_HANDLE h, void *arg,
                       hc_err_t *err)
{
    struct pub_arg *a = arg;
    hc_keyent_t *e = a->e;
    CK_RV rv;
    if (e->cls == CKO_PUBLIC_KEY)
        return spki_of(t, s->h, h, e->ktype, a, err);
    /* A private key: its public half by CKA_ID (or label if it has no id). */
    CK_OBJECT_CLASS pub = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE tmpl[2] = {
        { CKA_CLASS, &pub, sizeof pub },
        e->idlen ? (CK_ATTRIBUTE){ CKA_ID, e->ckaid, e->idlen }
                 : (CK_ATTRIBUTE){ CKA_LABEL, e->label, e->labellen },
    };
    CK_OBJECT_HANDLE ph;
    CK_ULONG n = 0;
    rv = hc_p11_find_init(&t->p11, s->h, tmpl, 2, err);
    if (rv == CKR_OK) {
        rv = hc_p11_find(&t->p11, s->h, &ph, 1, &n, err);
        hc_p11_find_final(&t->p11, s->h);
    }
    if (rv != CKR_OK)
        return rv;
    if (n == 1 && ((rv = spki_of(t, s->h, ph, e->ktype, a, err)) == CKR_OK || transient(rv)))
        return rv;
    /* No public object: an RSA private key carries its public parts. */
    if (e->ktype == CKK_RSA)
        return spki_of(t, s->h, h, e->ktype, a, err);
    return CKR_KEY_TYPE_INCONSISTENT;
}

uint64_t hc_keyindex_epoch(hc_token_t *t, hc_keyent_t *e)
{
    pthread_mutex_lock(&t->idx_lock);
    uint64_t ep = e->epoch;
    pthread_mutex_unlock(&t->idx_lock);
    return ep;
}

CK_RV hc_keyindex_public_now(hc_token_t *t, const hc_session_t *s, CK_OBJECT_HANDLE h,
                             hc_keyent_t *e, EVP_PKEY **pkey, hc_err_t *err)
{
    /* e's identity, with the key type the object has now: another key
     * pair under e's label and id may be of another type (EC then RSA). */
    hc_keyent_t now = {
        .cls = e->cls, .ktype = e->ktype, .idlen = e->idlen, .labellen = e->labellen
    };
    memcpy(now.ckaid, e->ckaid, sizeof now.ckaid);
    memcpy(now.label, e->label, sizeof now.label);
    CK_KEY_TYPE kt;
    CK_ATTRIBUTE at = { CKA_KEY_TYPE, &kt, sizeof kt };
    if (hc_p11_get_attrs(&t->p11, s->h, h, &at, 1, NULL) == CKR_OK)
        now.ktype = kt;
    struct pub_arg a = { .e = &now };
    CK_RV rv = public_op(t, s, h, &a, err);
    free(a.spki);
    if (rv == CKR_OK && a.pkey) {
        *pkey = a.pkey;
        return CKR_OK;
    }
    EVP_PKEY_free(a.pkey);
    return rv == CKR_OK ? CKR_KEY_TYPE_INCONSISTENT : rv;
}

CK_RV hc_keyindex_public(hc_token_t *t, hc_keyent_t *e, hc_err_t *err)
{
    if (t->group)
        return hc_group_public(t, e, err);
    pthread_mutex_lock(&t->idx_lock);
    bool done = e->pub_tried;
    bool have = e->spki != NULL;
    pthread_mutex_unlock(&t->idx_lock);
    char name[300];
    if (done)
        return have ? CKR_OK
                    : hc_err(err, CKR_KEY_TYPE_INCONSISTENT,
                             "token %s:"
                             " no public key found for key %s",
                             t->cfg->name, hc_keyent_name(e, name, sizeof name));
    if (e->cls != CKO_PUBLIC_KEY && e->cls != CKO_PRIVATE_KEY)
        return hc_err(err, CKR_KEY_TYPE_INCONSISTENT,
                      "token %s: object %s is "
                      "not a key",
                      t->cfg->name, hc_keyent_name(e, name, sizeof name));
    struct pub_arg a = { .e = e };
    CK_RV rv = hc_key_run(t, e, true, false, public_op, &a, err);
    if (rv != CKR_OK && transient(rv))
        return rv; /* not a property of the key: try again next time */
    pthread_mutex_lock(&t->idx_lock);
    if (!e->pub_tried) {
        e->pub_tried = true;
        if (rv == CKR_OK) {
            e->spki = a.spki;
            e->spki_len = a.spki_len;
            e->pkey = a.pkey;
            e->sig_len = hc_pkey_sig_len(a.pkey);
            hc_sha256(a.spki, a.spki_len, e->spki_hash);
            a.spki = NULL;
            a.pkey = NULL;
        }
    }
    have = e->spki != NULL;
    pthread_mutex_unlock(&t->idx_lock);
    free(a.spki);
    EVP_PKEY_free(a.pkey);
    if (!have)
        return hc_err(err, CKR_KEY_TYPE_INCONSISTENT,
                      "token %s: no public key "
                      "found for key %s",
                      t->cfg->name, hc_keyent_name(e, name, sizeof name));
    return CKR_OK;
}

void hc_keyindex_forget(hc_token_t *t, hc_keyent_t *e)
{
    pthread_mutex_lock(&t->idx_lock);
    hc_keyhash_remove(t, e); /* unbound: unresolvable, in no lookup */
    e->cls = (CK_OBJECT_CLASS)-2;
    e->epoch++; /* its session copies are stale */
    pthread_mutex_unlock(&t->idx_lock);
}

void hc_keyindex_free(hc_token_t *t)
{
    hc_keyhash_free(t);
    for (size_t i = 0; i < t->nents; i++) {
        free(t->ents[i]->spki);
        EVP_PKEY_free(t->ents[i]->pkey);
        free(t->ents[i]->member);
        free(t->ents[i]);
    }
    free(t->ents);
    t->ents = NULL;
    t->nents = 0;
}
