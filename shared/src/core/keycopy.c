/*
 * keycopy.c: session copies of private keys (see keycopy.h for the rules):
 * the per-session records, making, checking and destroying copies.
 */
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "core/keycopy.h"

hc_pooled_t *hc_pooled_new(CK_SESSION_HANDLE h)
{
    hc_pooled_t *p = calloc(1, sizeof *p);
    if (p)
        p->h = h;
    return p;
}

void hc_pooled_free(hc_pooled_t *p)
{
    free(p);
}

bool hc_keycopy_is_copy(const hc_keyent_t *probe)
{
    return probe->cls == CKO_PRIVATE_KEY && !probe->on_token &&
           probe->labellen == sizeof HC_COPY_LABEL - 1 &&
           memcmp(probe->label, HC_COPY_LABEL, probe->labellen) == 0 &&
           probe->idlen == sizeof HC_COPY_ID - 1 &&
           memcmp(probe->ckaid, HC_COPY_ID, probe->idlen) == 0;
}

/* Destroys a copy this session holds (if one was made: a key seen once
 * has only its slot) and frees its slot. */
static void destroy_copy(hc_token_t *t, const hc_session_t *s, hc_copy_t *c)
{
    if (c->h != CK_INVALID_HANDLE)
        hc_p11_destroy_object(&t->p11, s->h, c->h, NULL);
    c->e = NULL;
    c->h = CK_INVALID_HANDLE;
}

/* e's epoch, and whether a copy is to be tried at all (a private key on
 * the token that the token has not refused to copy), read together. */
static uint64_t epoch_of(hc_token_t *t, hc_keyent_t *e, bool *copyable)
{
    pthread_mutex_lock(&t->idx_lock);
    uint64_t ep = e->epoch;
    *copyable = !e->no_copy && e->cls == CKO_PRIVATE_KEY && e->on_token;
    pthread_mutex_unlock(&t->idx_lock);
    return ep;
}

static void remember_no_copy(hc_token_t *t, hc_keyent_t *e)
{
    pthread_mutex_lock(&t->idx_lock);
    e->no_copy = true;
    pthread_mutex_unlock(&t->idx_lock);
}

/* A free slot, destroying stale copies (of an older epoch) to make one. */
static hc_copy_t *free_slot(hc_token_t *t, const hc_session_t *s)
{
    hc_pooled_t *p = s->own;
    for (size_t i = 0; i < HC_COPIES_PER_SESSION; i++)
        if (!p->copies[i].e)
            return &p->copies[i];
    hc_copy_t *slot = NULL;
    for (size_t i = 0; i < HC_COPIES_PER_SESSION; i++) {
        hc_copy_t *c = &p->copies[i];
        if (hc_keyindex_epoch(t, c->e) != c->epoch) {
            destroy_copy(t, s, c);
            slot = c;
        }
    }
    return slot;
}

/* The copy read back against the original: a module that ignored the
 * template (CKA_TOKEN false, the marking label and id), widened access or
 * copied a key marked not copyable gave something we do not keep. NULL
 * when sound, else why. */
static const char *unsound_copy(hc_token_t *t, const hc_session_t *s, hc_keyent_t *e,
                                CK_OBJECT_HANDLE orig, CK_OBJECT_HANDLE copy)
{
    CK_BBOOL o[3] = { 0 }, c[4] = { 0 };
    CK_BBOOL on_token = CK_TRUE;
    CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
    CK_KEY_TYPE kt = (CK_KEY_TYPE)-1;
    char label[sizeof HC_COPY_LABEL], id[sizeof HC_COPY_ID];
    CK_ATTRIBUTE oa[] = {
        { CKA_PRIVATE, &o[0], 1 },
        { CKA_SENSITIVE, &o[1], 1 },
        { CKA_EXTRACTABLE, &o[2], 1 },
    };
    CK_ATTRIBUTE ca[] = {
        { CKA_PRIVATE, &c[0], 1 },          { CKA_SENSITIVE, &c[1], 1 },
        { CKA_EXTRACTABLE, &c[2], 1 },      { CKA_TOKEN, &on_token, 1 },
        { CKA_CLASS, &cls, sizeof cls },    { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_LABEL, label, sizeof label }, { CKA_ID, id, sizeof id },
        { CKA_COPYABLE, &c[3], 1 }, /* last: a 2.20 module may not know it */
    };
    size_t nca = sizeof ca / sizeof *ca;
    if (hc_p11_get_attrs(&t->p11, s->h, orig, oa, 3, NULL) != CKR_OK)
        return "the original's CKA_PRIVATE, CKA_SENSITIVE and CKA_EXTRACTABLE "
               "could not be read";
    CK_RV rv = hc_p11_get_attrs(&t->p11, s->h, copy, ca, nca, NULL);
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID)
        return "the copy's attributes could not be read";
    for (size_t i = 0; i + 1 < nca; i++)
        if (ca[i].ulValueLen == CK_UNAVAILABLE_INFORMATION)
            return "the copy lacks an attribute the original has";
    if (on_token)
        return "the copy is a token object (CKA_TOKEN true)";
    if (cls != e->cls || kt != e->ktype)
        return "the copy's class or key type differs from the original's";
    if (ca[6].ulValueLen != sizeof HC_COPY_LABEL - 1 ||
        memcmp(label, HC_COPY_LABEL, sizeof HC_COPY_LABEL - 1) ||
        ca[7].ulValueLen != sizeof HC_COPY_ID - 1 || memcmp(id, HC_COPY_ID, sizeof HC_COPY_ID - 1))
        return "the copy does not carry the label and id asked for";
    if (c[0] < o[0] || c[1] < o[1] || c[2] > o[2])
        return "the copy is less protected than the original (CKA_PRIVATE, "
               "CKA_SENSITIVE or CKA_EXTRACTABLE)";
    if (ca[8].ulValueLen != CK_UNAVAILABLE_INFORMATION && !c[3])
        return "the original is not copyable (CKA_COPYABLE false), yet the "
               "module copied it";
    return NULL;
}

/* Makes e's copy into `slot`: CKR_OK with *out the copy or, where the
 * token will not copy, `orig`; an error only for a lost session or a
 * refused original (returned for the caller's recovery). */
static CK_RV make_copy(hc_token_t *t, const hc_session_t *s, hc_keyent_t *e, CK_OBJECT_HANDLE orig,
                       uint64_t epoch, hc_copy_t *slot, CK_OBJECT_HANDLE *out, hc_err_t *err)
{
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_TOKEN, &no, sizeof no },
        { CKA_LABEL, (void *)HC_COPY_LABEL, sizeof HC_COPY_LABEL - 1 },
        { CKA_ID, (void *)HC_COPY_ID, sizeof HC_COPY_ID - 1 },
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    hc_err_t cerr = { 0 };
    char name[300];
    *out = orig;
    CK_RV rv = hc_p11_copy_object(&t->p11, s->h, orig, tmpl, 3, &h, &cerr);
    if (rv == CKR_OK) {
        *slot = (hc_copy_t){ e, h, epoch, hc_now_ms() };
        const char *why = unsound_copy(t, s, e, orig, h);
        if (!why) {
            *out = h;
            return CKR_OK;
        }
        destroy_copy(t, s, slot);
        remember_no_copy(t, e);
        hc_log(&t->core->log, HC_LOG_ERROR,
               "token %s: module %s: key %s: its "
               "session copy was not kept: %s; it was destroyed, and the key "
               "is signed with as a token object",
               t->cfg->name, t->cfg->module, hc_keyent_name(e, name, sizeof name), why);
        return CKR_OK;
    }
    if (hc_rv_lost(rv) || rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID)
        return hc_err(err, rv, "%s (copying key %s)", cerr.msg,
                      hc_keyent_name(e, name, sizeof name));
    if (rv == CKR_DEVICE_MEMORY || rv == CKR_HOST_MEMORY)
        s->own->full = true;
    else
        remember_no_copy(t, e);
    hc_log(&t->core->log, HC_LOG_INFO,
           "%s: key %s is signed with as a token "
           "object%s",
           cerr.msg, hc_keyent_name(e, name, sizeof name),
           s->own->full ? " (no room for more session copies in this session)" : "");
    return CKR_OK;
}

CK_RV hc_keycopy_handle(hc_token_t *t, const hc_session_t *s, hc_keyent_t *e, CK_OBJECT_HANDLE orig,
                        CK_OBJECT_HANDLE *out, hc_err_t *err)
{
    *out = orig;
    hc_pooled_t *p = s->own;
    if (!p)
        return CKR_OK;
    bool copyable;
    uint64_t epoch = epoch_of(t, e, &copyable);
    hc_copy_t *c = NULL;
    for (size_t i = 0; i < HC_COPIES_PER_SESSION && !c; i++)
        if (p->copies[i].e == e)
            c = &p->copies[i];
    if (c && c->epoch != epoch) {
        destroy_copy(t, s, c); /* made or seen before the key changed */
        c = NULL;
    } else if (c && c->h != CK_INVALID_HANDLE) {
        uint64_t now = hc_now_ms();
        if (now - c->checked_ms < HC_COPY_RECHECK_MS) {
            *out = c->h;
            return CKR_OK;
        }
        /* Is the original still there? (Another process may have
         * destroyed or re-created it: the copy must not outlive it.) */
        CK_OBJECT_CLASS cls;
        CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof cls };
        hc_err_t aerr = { 0 };
        CK_RV rv = hc_p11_get_attrs(&t->p11, s->h, orig, &a, 1, &aerr);
        if (rv == CKR_OK && cls == CKO_PRIVATE_KEY) {
            c->checked_ms = now;
            *out = c->h;
            return CKR_OK;
        }
        destroy_copy(t, s, c);
        char name[300];
        if (rv == CKR_OK || rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID)
            return hc_err(err, CKR_OBJECT_HANDLE_INVALID,
                          "token %s: key %s: "
                          "its token object is gone (%s)",
                          t->cfg->name, hc_keyent_name(e, name, sizeof name),
                          rv == CKR_OK ? "another object has its handle" : aerr.msg);
        if (hc_rv_lost(rv))
            return hc_err(err, rv, "%s", aerr.msg);
        c = NULL; /* the check failed otherwise: its slot is free again */
    }
    if (!copyable || p->full) {
        if (c)
            c->e = NULL; /* no copy will be made: the slot is free */
        return CKR_OK;
    }
    if (c) /* seen once in this session: its second use makes the copy */
        return make_copy(t, s, e, orig, epoch, c, out, err);
    /* Its first use: the token object. A host that signs once (one
     * ssh-keygen certificate) pays no C_CopyObject and no reads of the
     * copy; the slot, if there is one, remembers the key for the next. */
    hc_copy_t *slot = free_slot(t, s);
    if (slot)
        *slot = (hc_copy_t){ e, CK_INVALID_HANDLE, epoch, 0 };
    return CKR_OK;
}

void hc_keycopy_refused(hc_token_t *t, const hc_session_t *s, CK_OBJECT_HANDLE h)
{
    hc_pooled_t *p = s->own;
    for (size_t i = 0; p && i < HC_COPIES_PER_SESSION; i++) {
        hc_copy_t *c = &p->copies[i];
        if (c->e && c->h != CK_INVALID_HANDLE && c->h == h) {
            remember_no_copy(t, c->e);
            destroy_copy(t, s, c);
            return;
        }
    }
}
