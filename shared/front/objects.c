/* objects.c (front): finding objects, attributes, key generation (the
 * mechanisms mechs.h serves), destruction, random numbers and seeding,
 * forwarded to the core. */
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "front_calls.h"
#include "keyfacts.h"
#include "mechs.h"

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
    if (n && !tmpl)
        return CKR_ARGUMENTS_BAD;
    hc_vsession_t *s;
    CK_RV rv = hc_front_session(h, &s);
    if (rv != CKR_OK)
        return rv;
    if (s->finding) {
        hc_front_unlock(s);
        return CKR_OPERATION_ACTIVE;
    }
    hc_obj_t *found = NULL;
    size_t count = 0;
    rv = hc_find(s->ctx, s->slot, tmpl, n, &found, &count, NULL);
    if (rv == CKR_OK) {
        size_t kept = 0; /* drop what the profile hides */
        for (size_t i = 0; i < count; i++)
            if (hc_front_visible(s, found[i]))
                found[kept++] = found[i];
        count = kept;
        free(s->found);
        s->found = found;
        s->nfound = count;
        s->pos = 0;
        s->finding = true;
    }
    hc_front_unlock(s);
    return rv;
}

CK_RV C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max, CK_ULONG_PTR count)
{
    if (!out || !count)
        return CKR_ARGUMENTS_BAD;
    hc_vsession_t *s;
    CK_RV rv = hc_front_session(h, &s);
    if (rv != CKR_OK)
        return rv;
    if (!s->finding) {
        hc_front_unlock(s);
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    CK_ULONG n = 0;
    while (n < max && s->pos < s->nfound)
        out[n++] = (CK_OBJECT_HANDLE)s->found[s->pos++];
    *count = n;
    hc_front_unlock(s);
    return CKR_OK;
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE h)
{
    hc_vsession_t *s;
    CK_RV rv = hc_front_session(h, &s);
    if (rv != CKR_OK)
        return rv;
    if (!s->finding)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    free(s->found);
    s->found = NULL;
    s->nfound = s->pos = 0;
    s->finding = false;
    hc_front_unlock(s);
    return rv;
}

/* Slot, context and flags (may be NULL) of a session, without holding
 * its lock during the core call. */
static CK_RV session_slot(CK_SESSION_HANDLE h, CK_SLOT_ID *slot, hc_ctx_t **ctx, CK_FLAGS *flags)
{
    hc_vsession_t *s;
    CK_RV rv = hc_front_session(h, &s);
    if (rv != CKR_OK)
        return rv;
    *slot = s->slot;
    *ctx = s->ctx;
    if (flags)
        *flags = s->flags;
    hc_front_unlock(s);
    return CKR_OK;
}

/* Like session_slot, for a call on `obj`: it must be on the session's
 * token and visible to the profile. */
static CK_RV session_obj(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, hc_ctx_t **ctx, CK_FLAGS *flags)
{
    hc_vsession_t *s;
    CK_RV rv = hc_front_session(h, &s);
    if (rv != CKR_OK)
        return rv;
    *ctx = s->ctx;
    if (flags)
        *flags = s->flags;
    if (hc_obj_token(obj) != s->slot || !hc_front_visible(s, obj))
        rv = CKR_OBJECT_HANDLE_INVALID;
    hc_front_unlock(s);
    return rv;
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                          CK_ULONG n)
{
    if (!tmpl && n)
        return CKR_ARGUMENTS_BAD;
    hc_ctx_t *ctx;
    CK_RV rv = session_obj(h, obj, &ctx, NULL);
    return rv == CKR_OK ? hc_get_attrs(ctx, obj, tmpl, n, NULL) : rv;
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj)
{
    hc_ctx_t *ctx;
    CK_FLAGS flags;
    CK_RV rv = session_obj(h, obj, &ctx, &flags);
    /* The objects the front shows are token objects. */
    if (rv == CKR_OK && !(flags & CKF_RW_SESSION))
        rv = CKR_SESSION_READ_ONLY;
    if (rv == CKR_OK && (rv = hc_destroy(ctx, obj, NULL)) == CKR_OK)
        hc_keyfacts_forget(obj);
    return rv;
}

/* Whether a template makes a token object (CKA_TOKEN true). */
static bool token_object(const CK_ATTRIBUTE *t, CK_ULONG n)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (t[i].type == CKA_TOKEN && t[i].pValue && t[i].ulValueLen == sizeof(CK_BBOOL))
            return *(const CK_BBOOL *)t[i].pValue == CK_TRUE;
    return false;
}

CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub_tmpl,
                        CK_ULONG npub, CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG npriv,
                        CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv)
{
    if (!mech || !pub || !priv || (npub && !pub_tmpl) || (npriv && !priv_tmpl))
        return CKR_ARGUMENTS_BAD;
    if (!(hc_front_served_ops(mech->mechanism) & CKF_GENERATE_KEY_PAIR))
        return CKR_MECHANISM_INVALID; /* not listed either (mechs.h) */
    CK_SLOT_ID slot;
    hc_ctx_t *ctx;
    CK_FLAGS flags;
    CK_RV rv = session_slot(h, &slot, &ctx, &flags);
    if (rv != CKR_OK)
        return rv;
    if (!(flags & CKF_RW_SESSION) &&
        (token_object(pub_tmpl, npub) || token_object(priv_tmpl, npriv)))
        return CKR_SESSION_READ_ONLY;
    hc_obj_t p, q;
    hc_err_t err = { 0 };
    rv = hc_generate_key_pair(ctx, slot, mech, pub_tmpl, npub, priv_tmpl, npriv, &p, &q, &err);
    if (rv != CKR_OK) {
        hc_log(&hc_front_log, HC_LOG_WARN, "%s", err.msg);
        return rv;
    }
    *pub = (CK_OBJECT_HANDLE)p;
    *priv = (CK_OBJECT_HANDLE)q;
    return CKR_OK;
}

/* C_GenerateRandom, or C_SeedRandom (`seed`), on the session's token:
 * seeds go to the token, whose generator, not ours, makes the bytes. */
static CK_RV random_call(CK_SESSION_HANDLE h, CK_BYTE_PTR buf, CK_ULONG len, bool seed)
{
    if (!buf && len)
        return CKR_ARGUMENTS_BAD;
    CK_SLOT_ID slot;
    hc_ctx_t *ctx;
    CK_RV rv = session_slot(h, &slot, &ctx, NULL);
    if (rv != CKR_OK)
        return rv;
    return seed ? hc_seed_random(ctx, slot, buf, len, NULL) : hc_random(ctx, slot, buf, len, NULL);
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR buf, CK_ULONG len)
{
    return random_call(h, buf, len, false);
}

CK_RV C_SeedRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG len)
{
    return random_call(h, seed, len, true);
}
