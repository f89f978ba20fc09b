/*
 * p11call.c: the checked wrappers around a module's functions. See
 * p11call.h for what is checked and how a violation is answered. Each
 * wrapper is the call, a few comparisons, and one of two message builders
 * (fault() for a module that broke its contract, failed() for an ordinary
 * error), so the hot path (C_Sign on a cache miss) pays two compares.
 * The module call itself is p11run.c's (on this thread, or timed).
 */
#include "core/p11call.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "core/p11run.h"
#include "proto/proto_check.h"

/* A size query (NULL buffer) answering more than this is not a count of
 * slots or mechanisms but garbage, which the caller would allocate for. */
#define MAX_COUNT 65536UL
/* Attribute lengths saved on the stack up to this many, else malloc. */
#define STACK_ATTRS 16

CK_RV hc_p11_check_list(const CK_FUNCTION_LIST *fl, const char *module, hc_err_t *err)
{
#define F(f) { offsetof(CK_FUNCTION_LIST, f), #f }
    static const struct {
        size_t off;
        const char *name;
    } needed[] = {
        F(C_Initialize),       F(C_Finalize),         F(C_GetInfo),          F(C_GetSlotList),
        F(C_GetTokenInfo),     F(C_GetMechanismList), F(C_GetMechanismInfo), F(C_OpenSession),
        F(C_CloseAllSessions), F(C_CloseSession),     F(C_GetSessionInfo),   F(C_Login),
        F(C_FindObjectsInit),  F(C_FindObjects),      F(C_FindObjectsFinal), F(C_GetAttributeValue),
        F(C_GenerateKeyPair),  F(C_DestroyObject),    F(C_SignInit),         F(C_Sign),
        F(C_VerifyInit),       F(C_Verify),           F(C_EncryptInit),      F(C_Encrypt),
        F(C_DecryptInit),      F(C_Decrypt),          F(C_GenerateRandom),
    };
#undef F
    if (!fl)
        return hc_err(err, CKR_GENERAL_ERROR,
                      "module %s: refused: "
                      "C_GetFunctionList returned no function list",
                      module);
    if (fl->version.major != 2 && fl->version.major != 3)
        return hc_err(err, CKR_GENERAL_ERROR,
                      "module %s: refused: its function "
                      "list is for PKCS#11 %u.%u (2.x or 3.x expected)",
                      module, fl->version.major, fl->version.minor);
    for (size_t i = 0; i < sizeof needed / sizeof *needed; i++) {
        void (*f)(void);
        memcpy(&f, (const char *)fl + needed[i].off, sizeof f);
        if (!f)
            return hc_err(err, CKR_GENERAL_ERROR,
                          "module %s: refused: its "
                          "function list has no %s",
                          module, needed[i].name);
    }
    return CKR_OK;
}

static void count_error(const hc_p11_t *p)
{
    if (p->errors)
        __atomic_fetch_add(p->errors, 1, __ATOMIC_RELAXED);
}

/* The module broke its contract: logged once, answered as HC_P11_FAULT. */
__attribute__((format(printf, 3, 4))) static CK_RV fault(const hc_p11_t *p, hc_err_t *err,
                                                         const char *fmt, ...)
{
    count_error(p);
    char what[320], tok[80] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (p->token)
        snprintf(tok, sizeof tok, "token %s: ", p->token);
    hc_log(p->log, HC_LOG_ERROR, "%smodule %s: %s", tok, p->module, what);
    return hc_err(err, HC_P11_FAULT, "%smodule %s: %s", tok, p->module, what);
}

bool hc_p11_hung(const hc_p11_t *p)
{
    return p->watch && hc_watch_hung(p->watch);
}

bool hc_p11_is_failure(CK_RV rv)
{
    switch (rv) {
    case CKR_OK:
    case CKR_BUFFER_TOO_SMALL:
    case CKR_ATTRIBUTE_SENSITIVE:
    case CKR_ATTRIBUTE_TYPE_INVALID:
    case CKR_SIGNATURE_INVALID:
    case CKR_SIGNATURE_LEN_RANGE:
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_USER_ALREADY_LOGGED_IN:
    case CKR_RANDOM_SEED_NOT_SUPPORTED:
    /* A handle the core kept for an object since destroyed: it finds the
     * object again (or says it is gone). */
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
    /* Verdicts on what a host or client asked (its data, mechanism,
     * parameter or key choice), which it can cause at will. */
    case CKR_DATA_INVALID:
    case CKR_DATA_LEN_RANGE:
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_KEY_SIZE_RANGE:
    case CKR_TEMPLATE_INCONSISTENT:
    case CKR_TEMPLATE_INCOMPLETE:
    case CKR_ATTRIBUTE_VALUE_INVALID:
    /* An optional function or action the token does not offer (e.g.
     * C_CopyObject for the core's session copies, remembered per key). */
    case CKR_FUNCTION_NOT_SUPPORTED:
    case CKR_ACTION_PROHIBITED: return false;
    default: return true;
    }
}

/* A failure or an answer: the module's value, unchanged; or a call the
 * watch stopped (p11run.h: `err` set and logged there), one HSM error
 * when it did not answer in time. */
static CK_RV failed(const hc_p11_t *p, const char *fn, CK_RV rv, hc_err_t *err)
{
    if (rv == HC_RUN_TIMEOUT) {
        count_error(p);
        return HC_P11_TIMEOUT;
    }
    if (rv == HC_RUN_REFUSED)
        return HC_P11_HUNG;
    char b[32];
    const char *name = hc_rv_name(rv, b);
    const char *kind = p->token ? "token" : "module";
    const char *who = p->token ? p->token : p->module;
    bool failure = hc_p11_is_failure(rv);
    if (failure)
        count_error(p);
    hc_log(p->log, failure ? HC_LOG_WARN : HC_LOG_DEBUG, "%s %s: %s: %s", kind, who, fn, name);
    return hc_err(err, rv, "%s %s: %s: %s", kind, who, fn, name);
}

/* What the call itself returned, checked for nothing but failure. */
static CK_RV plain(const hc_p11_t *p, const char *fn, CK_RV rv, hc_err_t *err)
{
    return rv == CKR_OK ? CKR_OK : failed(p, fn, rv, err);
}

/* A count answered for an array of `cap` (or for a size query). */
static CK_RV counted(const hc_p11_t *p, const char *fn, const char *what, bool query, CK_ULONG cap,
                     CK_ULONG *n, hc_err_t *err)
{
    CK_ULONG got = *n;
    if (query ? got <= MAX_COUNT : got <= cap)
        return CKR_OK;
    *n = 0;
    if (query)
        return fault(p, err, "%s reported %lu %s (more than %lu)", fn, got, what, MAX_COUNT);
    return fault(p, err, "%s returned %lu %s for room for %lu", fn, got, what, cap);
}

/* What `fn` returned into `buf` (room for `cap`; NULL: a size query),
 * its length in *len: it must fit, and be more than 0 when `noun` names
 * what an empty answer would wrongly be. */
static CK_RV output(const hc_p11_t *p, const char *fn, CK_RV rv, const unsigned char *buf,
                    CK_ULONG cap, CK_ULONG *len, const char *noun, hc_err_t *err)
{
    if (rv != CKR_OK) {
        if (rv != CKR_BUFFER_TOO_SMALL)
            *len = 0;
        return failed(p, fn, rv, err);
    }
    CK_ULONG got = *len;
    if ((got > 0 || !noun) && (!buf || got <= cap))
        return CKR_OK;
    *len = 0;
    if (got == 0)
        return fault(p, err, "%s returned CKR_OK with an empty %s", fn, noun);
    return fault(p, err, "%s returned %lu bytes for a %lu-byte buffer", fn, got, cap);
}

CK_RV hc_p11_get_info(const hc_p11_t *p, CK_INFO *info, hc_err_t *err)
{
    return plain(p, "C_GetInfo", p->fl->C_GetInfo(info), err);
}

CK_RV hc_p11_get_slot_list(const hc_p11_t *p, CK_BBOOL present, CK_SLOT_ID *slots, CK_ULONG *n,
                           hc_err_t *err)
{
    CK_ULONG cap = *n;
    CK_RV rv = hc_run_get_slot_list(p, present, slots, n, err);
    if (rv != CKR_OK)
        return failed(p, "C_GetSlotList", rv, err);
    return counted(p, "C_GetSlotList", "slots", !slots, cap, n, err);
}

CK_RV hc_p11_get_token_info(const hc_p11_t *p, CK_SLOT_ID slot, CK_TOKEN_INFO *info, hc_err_t *err)
{
    return plain(p, "C_GetTokenInfo", hc_run_get_token_info(p, slot, info, err), err);
}

CK_RV hc_p11_get_mechanism_list(const hc_p11_t *p, CK_SLOT_ID slot, CK_MECHANISM_TYPE *list,
                                CK_ULONG *n, hc_err_t *err)
{
    CK_ULONG cap = *n;
    CK_RV rv = hc_run_get_mechanism_list(p, slot, list, n, err);
    if (rv != CKR_OK)
        return failed(p, "C_GetMechanismList", rv, err);
    return counted(p, "C_GetMechanismList", "mechanisms", !list, cap, n, err);
}

CK_RV hc_p11_get_mechanism_info(const hc_p11_t *p, CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                                CK_MECHANISM_INFO *info, hc_err_t *err)
{
    return plain(p, "C_GetMechanismInfo", hc_run_get_mechanism_info(p, slot, type, info, err), err);
}

CK_RV hc_p11_open_session(const hc_p11_t *p, CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE *s,
                          hc_err_t *err)
{
    *s = CK_INVALID_HANDLE;
    CK_RV rv = hc_run_open_session(p, slot, flags, s, err);
    if (rv != CKR_OK)
        return failed(p, "C_OpenSession", rv, err);
    if (*s == CK_INVALID_HANDLE)
        return fault(p, err,
                     "C_OpenSession returned CKR_OK with no session "
                     "(CK_INVALID_HANDLE)");
    return CKR_OK;
}

CK_RV hc_p11_close_all_sessions(const hc_p11_t *p, CK_SLOT_ID slot)
{
    return plain(p, "C_CloseAllSessions", hc_run_close_all_sessions(p, slot, NULL), NULL);
}

CK_RV hc_p11_close_session(const hc_p11_t *p, CK_SESSION_HANDLE s, hc_err_t *err)
{
    return plain(p, "C_CloseSession", hc_run_close_session(p, s, err), err);
}

CK_RV hc_p11_get_session_info(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_SESSION_INFO *info,
                              hc_err_t *err)
{
    return plain(p, "C_GetSessionInfo", hc_run_get_session_info(p, s, info, err), err);
}

CK_RV hc_p11_login(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_USER_TYPE user,
                   const unsigned char *pin, size_t len, hc_err_t *err)
{
    return plain(p, "C_Login", hc_run_login(p, s, user, pin, (CK_ULONG)len, err), err);
}

CK_RV hc_p11_find_init(const hc_p11_t *p, CK_SESSION_HANDLE s, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                       hc_err_t *err)
{
    return plain(p, "C_FindObjectsInit", hc_run_find_init(p, s, tmpl, n, err), err);
}

CK_RV hc_p11_find(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *h, CK_ULONG max,
                  CK_ULONG *got, hc_err_t *err)
{
    *got = 0;
    CK_RV rv = hc_run_find(p, s, h, max, got, err);
    if (rv != CKR_OK) {
        *got = 0;
        return failed(p, "C_FindObjects", rv, err);
    }
    if ((rv = counted(p, "C_FindObjects", "handles", false, max, got, err)) != CKR_OK)
        return rv;
    for (CK_ULONG i = 0, n = *got; i < n; i++)
        if (h[i] == CK_INVALID_HANDLE) {
            *got = 0;
            return fault(p, err,
                         "C_FindObjects returned CK_INVALID_HANDLE as "
                         "object %lu of %lu",
                         i + 1, n);
        }
    return CKR_OK;
}

CK_RV hc_p11_find_final(const hc_p11_t *p, CK_SESSION_HANDLE s)
{
    return plain(p, "C_FindObjectsFinal", hc_run_find_final(p, s, NULL), NULL);
}

/* "CKA_LABEL", or the type in hex. */
static const char *attr_name(CK_ATTRIBUTE_TYPE type, char *buf, size_t size)
{
    const char *name = hc_attr_name(type);
    if (name)
        return name;
    snprintf(buf, size, "0x%lx", (unsigned long)type);
    return buf;
}

/* One attribute as the module returned it (`given`: the length asked
 * for); false with `why` (starting after "C_GetAttributeValue") when the
 * module broke the contract for it. */
static bool attr_sound(CK_RV rv, const CK_ATTRIBUTE *a, CK_ULONG given, char *why, size_t size)
{
    CK_ULONG len = a->ulValueLen;
    char b[32];
    const char *name = attr_name(a->type, b, sizeof b);
    if (len == CK_UNAVAILABLE_INFORMATION) {
        if (rv != CKR_OK)
            return true;
        snprintf(why, size, "returned CKR_OK with attribute %s unavailable", name);
        return false;
    }
    if (a->pValue && len > given) {
        snprintf(why, size,
                 "returned %lu bytes of attribute %s for a %lu-byte "
                 "buffer",
                 len, name, given);
        return false;
    }
    size_t want = 0; /* the one length the attribute's shape allows */
    switch (hc_attr_shape(a->type)) {
    case HC_SHAPE_BOOL:
        want = sizeof(CK_BBOOL);
        if (len == want && a->pValue && *(const CK_BBOOL *)a->pValue > 1) {
            snprintf(why, size,
                     "returned attribute %s as 0x%02x (a CK_BBOOL "
                     "is 0 or 1)",
                     name, *(const CK_BBOOL *)a->pValue);
            return false;
        }
        break;
    case HC_SHAPE_ULONG: want = sizeof(CK_ULONG); break;
    case HC_SHAPE_ULONGS:
        if (len % sizeof(CK_ULONG) == 0)
            return true;
        snprintf(why, size,
                 "returned attribute %s as %lu bytes (not a whole "
                 "number of %zu-byte CK_ULONGs)",
                 name, len, sizeof(CK_ULONG));
        return false;
    case HC_SHAPE_DATE:
        if (len == 0) /* an empty date is allowed */
            return true;
        want = sizeof(CK_DATE);
        break;
    default: return true;
    }
    if (len == want)
        return true;
    snprintf(why, size, "returned attribute %s as %lu bytes (its type has %zu)", name, len, want);
    return false;
}

CK_RV hc_p11_get_attrs(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                       CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_err_t *err)
{
    CK_ULONG small[STACK_ATTRS], *given = small;
    if (n > STACK_ATTRS && !(given = malloc(n * sizeof *given)))
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    for (CK_ULONG i = 0; i < n; i++)
        given[i] = tmpl[i].ulValueLen;
    CK_RV rv = hc_run_get_attrs(p, s, obj, tmpl, n, err);
    bool answered = rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE ||
                    rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_BUFFER_TOO_SMALL;
    char why[256];
    CK_ULONG bad = n;
    for (CK_ULONG i = 0; answered && i < n && bad == n; i++)
        if (!attr_sound(rv, &tmpl[i], given[i], why, sizeof why))
            bad = i;
    if (given != small)
        free(given);
    if (answered && bad == n)
        return plain(p, "C_GetAttributeValue", rv, err);
    /* Nothing of a failed call or of a lying module is to be read. */
    for (CK_ULONG i = 0; i < n; i++)
        tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
    if (!answered)
        return failed(p, "C_GetAttributeValue", rv, err);
    return fault(p, err, "C_GetAttributeValue %s", why);
}

CK_RV hc_p11_generate_key_pair(const hc_p11_t *p, CK_SESSION_HANDLE s, const CK_MECHANISM *mech,
                               const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv,
                               CK_ULONG npriv, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv,
                               hc_err_t *err)
{
    *hpub = *hpriv = CK_INVALID_HANDLE;
    CK_RV rv = hc_run_generate_key_pair(p, s, mech, pub, npub, priv, npriv, hpub, hpriv, err);
    if (rv != CKR_OK)
        return failed(p, "C_GenerateKeyPair", rv, err);
    if (*hpub != CK_INVALID_HANDLE && *hpriv != CK_INVALID_HANDLE && *hpub != *hpriv)
        return CKR_OK;
    CK_OBJECT_HANDLE a = *hpub, b = *hpriv;
    *hpub = *hpriv = CK_INVALID_HANDLE;
    return fault(p, err,
                 "C_GenerateKeyPair returned CKR_OK with handles %lu "
                 "and %lu (two distinct handles, neither CK_INVALID_HANDLE, "
                 "expected)",
                 a, b);
}

CK_RV hc_p11_destroy_object(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                            hc_err_t *err)
{
    return plain(p, "C_DestroyObject", hc_run_destroy_object(p, s, obj, err), err);
}

CK_RV hc_p11_copy_object(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                         const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *copy,
                         hc_err_t *err)
{
    *copy = CK_INVALID_HANDLE;
    if (!p->fl->C_CopyObject)
        return failed(p, "C_CopyObject", CKR_FUNCTION_NOT_SUPPORTED, err);
    CK_RV rv = hc_run_copy_object(p, s, obj, tmpl, n, copy, err);
    if (rv != CKR_OK) {
        *copy = CK_INVALID_HANDLE;
        return failed(p, "C_CopyObject", rv, err);
    }
    if (*copy != CK_INVALID_HANDLE && *copy != obj)
        return CKR_OK;
    CK_OBJECT_HANDLE got = *copy;
    *copy = CK_INVALID_HANDLE;
    return fault(p, err,
                 "C_CopyObject returned CKR_OK with handle %lu for a "
                 "copy of object %lu (a new handle expected)",
                 got, obj);
}

CK_RV hc_p11_sign_init(const hc_p11_t *p, CK_SESSION_HANDLE s, const CK_MECHANISM *mech,
                       CK_OBJECT_HANDLE key, hc_err_t *err)
{
    return plain(p, "C_SignInit", hc_run_op_init(p, HC_RUN_SIGN, s, mech, key, err), err);
}

CK_RV hc_p11_sign(const hc_p11_t *p, CK_SESSION_HANDLE s, const unsigned char *data, CK_ULONG len,
                  unsigned char *sig, CK_ULONG *siglen, hc_err_t *err)
{
    CK_ULONG cap = *siglen;
    return output(p, "C_Sign", hc_run_output(p, HC_RUN_SIGN, s, data, len, sig, siglen, err), sig,
                  cap, siglen, "signature", err);
}

CK_RV hc_p11_verify_init(const hc_p11_t *p, CK_SESSION_HANDLE s, const CK_MECHANISM *mech,
                         CK_OBJECT_HANDLE key, hc_err_t *err)
{
    return plain(p, "C_VerifyInit", hc_run_op_init(p, HC_RUN_VERIFY, s, mech, key, err), err);
}

CK_RV hc_p11_verify(const hc_p11_t *p, CK_SESSION_HANDLE s, const unsigned char *data, CK_ULONG len,
                    const unsigned char *sig, CK_ULONG siglen, hc_err_t *err)
{
    return plain(p, "C_Verify", hc_run_verify(p, s, data, len, sig, siglen, err), err);
}

CK_RV hc_p11_crypt_init(const hc_p11_t *p, bool encrypt, CK_SESSION_HANDLE s,
                        const CK_MECHANISM *mech, CK_OBJECT_HANDLE key, hc_err_t *err)
{
    if (encrypt)
        return plain(p, "C_EncryptInit", hc_run_op_init(p, HC_RUN_ENCRYPT, s, mech, key, err), err);
    return plain(p, "C_DecryptInit", hc_run_op_init(p, HC_RUN_DECRYPT, s, mech, key, err), err);
}

CK_RV hc_p11_crypt(const hc_p11_t *p, bool encrypt, CK_SESSION_HANDLE s, const unsigned char *in,
                   CK_ULONG inlen, unsigned char *out, CK_ULONG *outlen, hc_err_t *err)
{
    CK_ULONG cap = *outlen;
    if (encrypt)
        return output(p, "C_Encrypt",
                      hc_run_output(p, HC_RUN_ENCRYPT, s, in, inlen, out, outlen, err), out, cap,
                      outlen, NULL, err);
    return output(p, "C_Decrypt", hc_run_output(p, HC_RUN_DECRYPT, s, in, inlen, out, outlen, err),
                  out, cap, outlen, NULL, err);
}

CK_RV hc_p11_generate_random(const hc_p11_t *p, CK_SESSION_HANDLE s, unsigned char *buf,
                             CK_ULONG len, hc_err_t *err)
{
    return plain(p, "C_GenerateRandom", hc_run_generate_random(p, s, buf, len, err), err);
}

CK_RV hc_p11_seed_random(const hc_p11_t *p, CK_SESSION_HANDLE s, const unsigned char *seed,
                         CK_ULONG len, hc_err_t *err)
{
    return plain(p, "C_SeedRandom", hc_run_seed_random(p, s, seed, len, err), err);
}
