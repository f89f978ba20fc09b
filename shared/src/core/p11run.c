/*
 * p11run.c: the module calls themselves, on the caller's thread or timed
 * on a runner thread with the job's own copies of what the call touches
 * (p11run.h says which). A timed call is: size the job, copy the inputs
 * in, hand it to the watch (watchdog.h), copy the outputs out, wipe it.
 */
#include "core/p11run.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/watchdog.h"
#include "util/err.h"

#define ALIGN(n) (((n) + 15) & ~(size_t)15)
/* A value longer than this is passed on the caller's thread, uncopied. */
#define MAX_COPY (1UL << 20)

struct job {
    hc_watch_job_t hdr; /* first: the watch hands this back */
    CK_FUNCTION_LIST *fl;
    CK_RV rv;
    CK_ULONG s, a, b; /* session or slot; handles, flags, types */
    unsigned char *in, *in2, *out;
    CK_ULONG inlen, in2len, outlen;
    CK_ATTRIBUTE *tmpl;
    unsigned char **vals; /* where each value's room is (the module may
                                 rewrite tmpl's pointers) */
    CK_ULONG n;
    CK_MECHANISM mech;
    CK_OBJECT_HANDLE h;
    enum hc_run_init op;
    size_t size, used;
    unsigned char arena[] __attribute__((aligned(16)));
};

static CK_RV own(CK_RV rv)
{
    return rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED ? CKR_GENERAL_ERROR : rv;
}

/* Whether this call is timed: p11run.h. */
static bool timed(const hc_p11_t *p, bool start)
{
    return p->watch && hc_watch_timeout_ms(p->watch) &&
           (start || hc_watch_times_every_call(p->watch));
}

/* A call made on the caller's thread: refused while the token is hung. */
static bool refused(const hc_p11_t *p, const char *fn, hc_err_t *err)
{
    return p->watch && hc_watch_enter(p->watch, p->fl, fn, err) != CKR_OK;
}

static void job_free(hc_watch_job_t *hj)
{
    struct job *j = (struct job *)hj;
    OPENSSL_cleanse(j, sizeof *j + j->size); /* PINs, data, signatures */
    free(j);
}

static struct job *job_new(const hc_p11_t *p, void (*run)(hc_watch_job_t *), size_t arena)
{
    struct job *j = calloc(1, sizeof *j + arena);
    if (!j)
        return NULL;
    j->hdr.run = run;
    j->hdr.free = job_free;
    j->fl = p->fl;
    j->size = arena;
    return j;
}

/* Room for n bytes in the arena, holding a copy of src when given. */
static unsigned char *room(struct job *j, const void *src, size_t n)
{
    unsigned char *d = j->arena + j->used;
    j->used += ALIGN(n ? n : 1);
    if (src && n)
        memcpy(d, src, n);
    return d;
}

/* The job's run: the module's value, or HC_RUN_TIMEOUT / HC_RUN_REFUSED
 * (the job is then gone). */
static CK_RV go(const hc_p11_t *p, struct job *j, const char *fn, hc_err_t *err)
{
    CK_RV rv = hc_watch_run(p->watch, p->fl, &j->hdr, fn, err);
    if (rv == HC_WATCH_TIMED_OUT)
        return HC_RUN_TIMEOUT;
    if (rv != CKR_OK)
        return HC_RUN_REFUSED;
    return own(j->rv);
}

static CK_RV no_memory(hc_err_t *err)
{
    return hc_err(err, CKR_HOST_MEMORY, "out of memory");
}

/* The arena bytes a template needs (array, value pointers, values) in
 * *size; false when it cannot be copied (p11run.h). */
static bool tmpl_size(const CK_ATTRIBUTE *t, CK_ULONG n, size_t *size)
{
    *size = ALIGN(n * sizeof *t + 1) + ALIGN(n * sizeof(unsigned char *) + 1);
    for (CK_ULONG i = 0; i < n; i++) {
        if (!t[i].pValue)
            continue;
        if ((t[i].type & CKF_ARRAY_ATTRIBUTE) || t[i].ulValueLen > MAX_COPY)
            return false;
        *size += ALIGN(t[i].ulValueLen ? t[i].ulValueLen : 1);
    }
    return true;
}

/* The template into the arena, its values copied when `values`. */
static void tmpl_put(struct job *j, const CK_ATTRIBUTE *t, CK_ULONG n, bool values)
{
    j->tmpl = (CK_ATTRIBUTE *)room(j, t, n * sizeof *t);
    j->vals = (unsigned char **)room(j, NULL, n * sizeof(unsigned char *));
    j->n = n;
    for (CK_ULONG i = 0; i < n; i++) {
        j->vals[i] = t[i].pValue ? room(j, values ? t[i].pValue : NULL, t[i].ulValueLen) : NULL;
        j->tmpl[i].pValue = j->vals[i];
    }
}

static bool mech_copyable(const CK_MECHANISM *m)
{
    if (!m->pParameter)
        return true;
    switch (m->mechanism) { /* CK_RSA_PKCS_PSS_PARAMS: no pointers */
    case CKM_RSA_PKCS_PSS:
    case CKM_SHA1_RSA_PKCS_PSS:
    case CKM_SHA224_RSA_PKCS_PSS:
    case CKM_SHA256_RSA_PKCS_PSS:
    case CKM_SHA384_RSA_PKCS_PSS:
    case CKM_SHA512_RSA_PKCS_PSS: return m->ulParameterLen <= 256;
    default: return false;
    }
}

#define JOB(hj) struct job *j = (struct job *)(hj)

/* ---- slots, tokens, mechanisms ---- */

static void run_slots(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_GetSlotList((CK_BBOOL)j->a, (CK_SLOT_ID *)j->out, &j->outlen);
}

CK_RV hc_run_get_slot_list(const hc_p11_t *p, CK_BBOOL present, CK_SLOT_ID *slots, CK_ULONG *n,
                           hc_err_t *err)
{
    if (!timed(p, true))
        return refused(p, "C_GetSlotList", err) ? HC_RUN_REFUSED
                                                : own(p->fl->C_GetSlotList(present, slots, n));
    size_t cap = slots ? *n : 0;
    struct job *j = job_new(p, run_slots, ALIGN(cap * sizeof *slots + 1));
    if (!j)
        return no_memory(err);
    j->a = present;
    j->out = slots ? room(j, NULL, cap * sizeof *slots) : NULL;
    j->outlen = *n;
    CK_RV rv = go(p, j, "C_GetSlotList", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    *n = j->outlen;
    if (slots)
        memcpy(slots, j->out, (j->outlen < cap ? j->outlen : cap) * sizeof *slots);
    job_free(&j->hdr);
    return rv;
}

static void run_token_info(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_GetTokenInfo(j->s, (CK_TOKEN_INFO *)j->out);
}

CK_RV hc_run_get_token_info(const hc_p11_t *p, CK_SLOT_ID slot, CK_TOKEN_INFO *info, hc_err_t *err)
{
    if (!timed(p, true))
        return refused(p, "C_GetTokenInfo", err) ? HC_RUN_REFUSED
                                                 : own(p->fl->C_GetTokenInfo(slot, info));
    struct job *j = job_new(p, run_token_info, ALIGN(sizeof *info));
    if (!j)
        return no_memory(err);
    j->s = slot;
    j->out = room(j, NULL, sizeof *info);
    CK_RV rv = go(p, j, "C_GetTokenInfo", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    memcpy(info, j->out, sizeof *info);
    job_free(&j->hdr);
    return rv;
}

static void run_mechs(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_GetMechanismList(j->s, (CK_MECHANISM_TYPE *)j->out, &j->outlen);
}

CK_RV hc_run_get_mechanism_list(const hc_p11_t *p, CK_SLOT_ID slot, CK_MECHANISM_TYPE *list,
                                CK_ULONG *n, hc_err_t *err)
{
    if (!timed(p, true))
        return refused(p, "C_GetMechanismList", err)
                   ? HC_RUN_REFUSED
                   : own(p->fl->C_GetMechanismList(slot, list, n));
    size_t cap = list ? *n : 0;
    struct job *j = job_new(p, run_mechs, ALIGN(cap * sizeof *list + 1));
    if (!j)
        return no_memory(err);
    j->s = slot;
    j->out = list ? room(j, NULL, cap * sizeof *list) : NULL;
    j->outlen = *n;
    CK_RV rv = go(p, j, "C_GetMechanismList", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    *n = j->outlen;
    if (list)
        memcpy(list, j->out, (j->outlen < cap ? j->outlen : cap) * sizeof *list);
    job_free(&j->hdr);
    return rv;
}

static void run_mech_info(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_GetMechanismInfo(j->s, j->a, (CK_MECHANISM_INFO *)j->out);
}

CK_RV hc_run_get_mechanism_info(const hc_p11_t *p, CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                                CK_MECHANISM_INFO *info, hc_err_t *err)
{
    if (!timed(p, true))
        return refused(p, "C_GetMechanismInfo", err)
                   ? HC_RUN_REFUSED
                   : own(p->fl->C_GetMechanismInfo(slot, type, info));
    struct job *j = job_new(p, run_mech_info, ALIGN(sizeof *info));
    if (!j)
        return no_memory(err);
    j->s = slot;
    j->a = type;
    j->out = room(j, NULL, sizeof *info);
    CK_RV rv = go(p, j, "C_GetMechanismInfo", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    memcpy(info, j->out, sizeof *info);
    job_free(&j->hdr);
    return rv;
}

/* ---- sessions ---- */

static void run_open(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_OpenSession(j->s, j->a, NULL, NULL, &j->h);
}

CK_RV hc_run_open_session(const hc_p11_t *p, CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE *s,
                          hc_err_t *err)
{
    if (!timed(p, true))
        return refused(p, "C_OpenSession", err)
                   ? HC_RUN_REFUSED
                   : own(p->fl->C_OpenSession(slot, flags, NULL, NULL, s));
    struct job *j = job_new(p, run_open, 0);
    if (!j)
        return no_memory(err);
    j->s = slot;
    j->a = flags;
    j->h = *s;
    CK_RV rv = go(p, j, "C_OpenSession", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    *s = j->h;
    job_free(&j->hdr);
    return rv;
}

static void run_close_all(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_CloseAllSessions(j->s);
}

CK_RV hc_run_close_all_sessions(const hc_p11_t *p, CK_SLOT_ID slot, hc_err_t *err)
{
    if (!timed(p, true))
        return refused(p, "C_CloseAllSessions", err) ? HC_RUN_REFUSED
                                                     : own(p->fl->C_CloseAllSessions(slot));
    struct job *j = job_new(p, run_close_all, 0);
    if (!j)
        return no_memory(err);
    j->s = slot;
    CK_RV rv = go(p, j, "C_CloseAllSessions", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    job_free(&j->hdr);
    return rv;
}

static void run_close(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_CloseSession(j->s);
}

CK_RV hc_run_close_session(const hc_p11_t *p, CK_SESSION_HANDLE s, hc_err_t *err)
{
    if (!timed(p, true))
        return refused(p, "C_CloseSession", err) ? HC_RUN_REFUSED : own(p->fl->C_CloseSession(s));
    struct job *j = job_new(p, run_close, 0);
    if (!j)
        return no_memory(err);
    j->s = s;
    CK_RV rv = go(p, j, "C_CloseSession", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    job_free(&j->hdr);
    return rv;
}

static void run_session_info(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_GetSessionInfo(j->s, (CK_SESSION_INFO *)j->out);
}

CK_RV hc_run_get_session_info(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_SESSION_INFO *info,
                              hc_err_t *err)
{
    if (!timed(p, true))
        return refused(p, "C_GetSessionInfo", err) ? HC_RUN_REFUSED
                                                   : own(p->fl->C_GetSessionInfo(s, info));
    struct job *j = job_new(p, run_session_info, ALIGN(sizeof *info));
    if (!j)
        return no_memory(err);
    j->s = s;
    j->out = room(j, NULL, sizeof *info);
    CK_RV rv = go(p, j, "C_GetSessionInfo", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    memcpy(info, j->out, sizeof *info);
    job_free(&j->hdr);
    return rv;
}

static void run_login(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_Login(j->s, j->a, j->in, j->inlen);
    hj->answer = j->rv; /* a held login's answer is reported (watchdog.h) */
}

CK_RV hc_run_login(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_USER_TYPE user,
                   const unsigned char *pin, CK_ULONG len, hc_err_t *err)
{
    if (!timed(p, true))
        return refused(p, "C_Login", err) ? HC_RUN_REFUSED
                                          : own(p->fl->C_Login(s, user, (CK_UTF8CHAR *)pin, len));
    if (len > MAX_COPY)
        return hc_err(err, CKR_PIN_LEN_RANGE, "a PIN of %lu bytes", len);
    struct job *j = job_new(p, run_login, ALIGN(len + 1));
    if (!j)
        return no_memory(err);
    j->hdr.login = true;
    j->s = s;
    j->a = user;
    j->in = room(j, pin, len); /* wiped with the job */
    j->inlen = len;
    CK_RV rv = go(p, j, "C_Login", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    job_free(&j->hdr);
    return rv;
}

/* ---- objects ---- */

static void run_find_init(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_FindObjectsInit(j->s, j->tmpl, j->n);
}

CK_RV hc_run_find_init(const hc_p11_t *p, CK_SESSION_HANDLE s, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                       hc_err_t *err)
{
    size_t size;
    if (!timed(p, false) || n > MAX_COPY || !tmpl_size(tmpl, n, &size))
        return refused(p, "C_FindObjectsInit", err)
                   ? HC_RUN_REFUSED
                   : own(p->fl->C_FindObjectsInit(s, (CK_ATTRIBUTE *)tmpl, n));
    struct job *j = job_new(p, run_find_init, size);
    if (!j)
        return no_memory(err);
    j->s = s;
    tmpl_put(j, tmpl, n, true);
    CK_RV rv = go(p, j, "C_FindObjectsInit", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    job_free(&j->hdr);
    return rv;
}

static void run_find(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_FindObjects(j->s, (CK_OBJECT_HANDLE *)j->out, j->a, &j->outlen);
}

CK_RV hc_run_find(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *h, CK_ULONG max,
                  CK_ULONG *got, hc_err_t *err)
{
    if (!timed(p, false) || max > MAX_COPY / sizeof *h)
        return refused(p, "C_FindObjects", err) ? HC_RUN_REFUSED
                                                : own(p->fl->C_FindObjects(s, h, max, got));
    struct job *j = job_new(p, run_find, ALIGN(max * sizeof *h + 1));
    if (!j)
        return no_memory(err);
    j->s = s;
    j->a = max;
    j->out = room(j, NULL, max * sizeof *h);
    j->outlen = *got;
    CK_RV rv = go(p, j, "C_FindObjects", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    *got = j->outlen;
    memcpy(h, j->out, (j->outlen < max ? j->outlen : max) * sizeof *h);
    job_free(&j->hdr);
    return rv;
}

static void run_find_final(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_FindObjectsFinal(j->s);
}

CK_RV hc_run_find_final(const hc_p11_t *p, CK_SESSION_HANDLE s, hc_err_t *err)
{
    if (!timed(p, false))
        return refused(p, "C_FindObjectsFinal", err) ? HC_RUN_REFUSED
                                                     : own(p->fl->C_FindObjectsFinal(s));
    struct job *j = job_new(p, run_find_final, 0);
    if (!j)
        return no_memory(err);
    j->s = s;
    CK_RV rv = go(p, j, "C_FindObjectsFinal", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    job_free(&j->hdr);
    return rv;
}

static void run_attrs(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_GetAttributeValue(j->s, j->a, j->tmpl, j->n);
}

CK_RV hc_run_get_attrs(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                       CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_err_t *err)
{
    size_t size;
    if (!timed(p, false) || n > MAX_COPY || !tmpl_size(tmpl, n, &size))
        return refused(p, "C_GetAttributeValue", err)
                   ? HC_RUN_REFUSED
                   : own(p->fl->C_GetAttributeValue(s, obj, tmpl, n));
    struct job *j = job_new(p, run_attrs, size);
    if (!j)
        return no_memory(err);
    j->s = s;
    j->a = obj;
    tmpl_put(j, tmpl, n, false);
    CK_RV rv = go(p, j, "C_GetAttributeValue", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    /* Lengths as the module reported them (p11call.c judges them);
     * bytes only within the caller's buffer, from our own room. */
    for (CK_ULONG i = 0; i < n; i++) {
        CK_ULONG len = j->tmpl[i].ulValueLen, cap = tmpl[i].ulValueLen;
        if (tmpl[i].pValue && len != CK_UNAVAILABLE_INFORMATION)
            memcpy(tmpl[i].pValue, j->vals[i], len < cap ? len : cap);
        tmpl[i].ulValueLen = len;
    }
    job_free(&j->hdr);
    return rv;
}

CK_RV hc_run_generate_key_pair(const hc_p11_t *p, CK_SESSION_HANDLE s, const CK_MECHANISM *mech,
                               const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv,
                               CK_ULONG npriv, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv,
                               hc_err_t *err)
{
    if (refused(p, "C_GenerateKeyPair", err))
        return HC_RUN_REFUSED;
    return own(p->fl->C_GenerateKeyPair(s, (CK_MECHANISM *)mech, (CK_ATTRIBUTE *)pub, npub,
                                        (CK_ATTRIBUTE *)priv, npriv, hpub, hpriv));
}

static void run_destroy(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_DestroyObject(j->s, j->a);
}

CK_RV hc_run_destroy_object(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                            hc_err_t *err)
{
    if (!timed(p, false))
        return refused(p, "C_DestroyObject", err) ? HC_RUN_REFUSED
                                                  : own(p->fl->C_DestroyObject(s, obj));
    struct job *j = job_new(p, run_destroy, 0);
    if (!j)
        return no_memory(err);
    j->s = s;
    j->a = obj;
    CK_RV rv = go(p, j, "C_DestroyObject", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    job_free(&j->hdr);
    return rv;
}

static void run_copy(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_CopyObject(j->s, j->a, j->tmpl, j->n, &j->h);
}

CK_RV hc_run_copy_object(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                         const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *copy,
                         hc_err_t *err)
{
    size_t size;
    if (!timed(p, false) || n > MAX_COPY || !tmpl_size(tmpl, n, &size))
        return refused(p, "C_CopyObject", err)
                   ? HC_RUN_REFUSED
                   : own(p->fl->C_CopyObject(s, obj, (CK_ATTRIBUTE *)tmpl, n, copy));
    struct job *j = job_new(p, run_copy, size);
    if (!j)
        return no_memory(err);
    j->s = s;
    j->a = obj;
    j->h = *copy;
    tmpl_put(j, tmpl, n, true);
    CK_RV rv = go(p, j, "C_CopyObject", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    *copy = j->h;
    job_free(&j->hdr);
    return rv;
}

/* ---- cryptography ---- */

static const char *const init_name[] = {
    [HC_RUN_SIGN] = "C_SignInit",
    [HC_RUN_VERIFY] = "C_VerifyInit",
    [HC_RUN_ENCRYPT] = "C_EncryptInit",
    [HC_RUN_DECRYPT] = "C_DecryptInit",
};

static CK_RV init_call(CK_FUNCTION_LIST *fl, enum hc_run_init op, CK_SESSION_HANDLE s,
                       CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
    switch (op) {
    case HC_RUN_SIGN: return fl->C_SignInit(s, m, key);
    case HC_RUN_VERIFY: return fl->C_VerifyInit(s, m, key);
    case HC_RUN_ENCRYPT: return fl->C_EncryptInit(s, m, key);
    default: return fl->C_DecryptInit(s, m, key);
    }
}

static void run_init(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = init_call(j->fl, j->op, j->s, &j->mech, j->a);
}

CK_RV hc_run_op_init(const hc_p11_t *p, enum hc_run_init op, CK_SESSION_HANDLE s,
                     const CK_MECHANISM *mech, CK_OBJECT_HANDLE key, hc_err_t *err)
{
    if (!timed(p, false) || !mech_copyable(mech))
        return refused(p, init_name[op], err)
                   ? HC_RUN_REFUSED
                   : own(init_call(p->fl, op, s, (CK_MECHANISM *)mech, key));
    struct job *j = job_new(p, run_init, ALIGN(mech->ulParameterLen + 1));
    if (!j)
        return no_memory(err);
    j->op = op;
    j->s = s;
    j->a = key;
    j->mech = *mech;
    if (mech->pParameter)
        j->mech.pParameter = room(j, mech->pParameter, mech->ulParameterLen);
    CK_RV rv = go(p, j, init_name[op], err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    job_free(&j->hdr);
    return rv;
}

static const char *const output_name[] = {
    [HC_RUN_SIGN] = "C_Sign",
    [HC_RUN_VERIFY] = "C_Verify",
    [HC_RUN_ENCRYPT] = "C_Encrypt",
    [HC_RUN_DECRYPT] = "C_Decrypt",
};

static CK_RV output_call(CK_FUNCTION_LIST *fl, enum hc_run_init op, CK_SESSION_HANDLE s,
                         CK_BYTE *in, CK_ULONG inlen, CK_BYTE *out, CK_ULONG *outlen)
{
    switch (op) {
    case HC_RUN_SIGN: return fl->C_Sign(s, in, inlen, out, outlen);
    case HC_RUN_ENCRYPT: return fl->C_Encrypt(s, in, inlen, out, outlen);
    default: return fl->C_Decrypt(s, in, inlen, out, outlen);
    }
}

static void run_output(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = output_call(j->fl, j->op, j->s, j->in, j->inlen, j->out, &j->outlen);
}

CK_RV hc_run_output(const hc_p11_t *p, enum hc_run_init op, CK_SESSION_HANDLE s,
                    const unsigned char *in, CK_ULONG inlen, unsigned char *out, CK_ULONG *outlen,
                    hc_err_t *err)
{
    CK_ULONG cap = out ? *outlen : 0;
    if (!timed(p, false) || inlen > MAX_COPY || cap > MAX_COPY)
        return refused(p, output_name[op], err)
                   ? HC_RUN_REFUSED
                   : own(output_call(p->fl, op, s, (CK_BYTE *)in, inlen, out, outlen));
    struct job *j = job_new(p, run_output, ALIGN(inlen + 1) + ALIGN(cap + 1));
    if (!j)
        return no_memory(err);
    j->op = op;
    j->s = s;
    j->in = room(j, in, inlen);
    j->inlen = inlen;
    j->out = out ? room(j, NULL, cap) : NULL;
    j->outlen = *outlen;
    CK_RV rv = go(p, j, output_name[op], err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    *outlen = j->outlen;
    if (out)
        memcpy(out, j->out, j->outlen < cap ? j->outlen : cap);
    job_free(&j->hdr);
    return rv;
}

static void run_verify(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_Verify(j->s, j->in, j->inlen, j->in2, j->in2len);
}

CK_RV hc_run_verify(const hc_p11_t *p, CK_SESSION_HANDLE s, const unsigned char *data, CK_ULONG len,
                    const unsigned char *sig, CK_ULONG siglen, hc_err_t *err)
{
    if (!timed(p, false) || len > MAX_COPY || siglen > MAX_COPY)
        return refused(p, "C_Verify", err)
                   ? HC_RUN_REFUSED
                   : own(p->fl->C_Verify(s, (CK_BYTE *)data, len, (CK_BYTE *)sig, siglen));
    struct job *j = job_new(p, run_verify, ALIGN(len + 1) + ALIGN(siglen + 1));
    if (!j)
        return no_memory(err);
    j->s = s;
    j->in = room(j, data, len);
    j->inlen = len;
    j->in2 = room(j, sig, siglen);
    j->in2len = siglen;
    CK_RV rv = go(p, j, "C_Verify", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    job_free(&j->hdr);
    return rv;
}

static void run_random(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_GenerateRandom(j->s, j->out, j->outlen);
}

CK_RV hc_run_generate_random(const hc_p11_t *p, CK_SESSION_HANDLE s, unsigned char *buf,
                             CK_ULONG len, hc_err_t *err)
{
    if (!timed(p, false) || len > MAX_COPY)
        return refused(p, "C_GenerateRandom", err) ? HC_RUN_REFUSED
                                                   : own(p->fl->C_GenerateRandom(s, buf, len));
    struct job *j = job_new(p, run_random, ALIGN(len + 1));
    if (!j)
        return no_memory(err);
    j->s = s;
    j->out = room(j, NULL, len);
    j->outlen = len;
    CK_RV rv = go(p, j, "C_GenerateRandom", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    memcpy(buf, j->out, len);
    job_free(&j->hdr);
    return rv;
}

static void run_seed(hc_watch_job_t *hj)
{
    JOB(hj);
    j->rv = j->fl->C_SeedRandom(j->s, j->in, j->inlen);
}

CK_RV hc_run_seed_random(const hc_p11_t *p, CK_SESSION_HANDLE s, const unsigned char *seed,
                         CK_ULONG len, hc_err_t *err)
{
    if (!p->fl->C_SeedRandom)
        return CKR_RANDOM_SEED_NOT_SUPPORTED;
    if (!timed(p, false) || len > MAX_COPY)
        return refused(p, "C_SeedRandom", err) ? HC_RUN_REFUSED
                                               : own(p->fl->C_SeedRandom(s, (CK_BYTE *)seed, len));
    struct job *j = job_new(p, run_seed, ALIGN(len + 1));
    if (!j)
        return no_memory(err);
    j->s = s;
    j->in = room(j, seed, len);
    j->inlen = len;
    CK_RV rv = go(p, j, "C_SeedRandom", err);
    if (rv == HC_RUN_TIMEOUT || rv == HC_RUN_REFUSED)
        return rv;
    job_free(&j->hdr);
    return rv;
}
