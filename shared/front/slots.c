/*
 * slots.c: virtual slots (one per profile token), token info, mechanisms
 * (those the front serves: mechs.h), virtual sessions and login. Sessions are pure front state: real
 * sessions live in the core's pool and are taken per operation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "front_calls.h"
#include "mechs.h"

static bool valid_slot(hc_ctx_t *ctx, CK_SLOT_ID slot)
{
    return slot < hc_token_count(ctx);
}

CK_RV C_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    FRONT_CTX_OR_FAIL(ctx);
    if (!count)
        return CKR_ARGUMENTS_BAD;
    CK_SLOT_ID ids[256];
    CK_ULONG n = 0;
    for (size_t i = 0; i < hc_token_count(ctx) && n < 256; i++) {
        hc_token_status_t st;
        hc_err_t err = { 0 };
        if (present && hc_token_status(ctx, i, &st, &err) != CKR_OK && !st.info_valid) {
            /* Hosts report "no such token"; say why here. */
            hc_log(&hc_front_log, HC_LOG_WARN, "%s", err.msg);
            continue;
        }
        ids[n++] = i;
    }
    if (list && *count < n) {
        *count = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (list)
        memcpy(list, ids, n * sizeof *ids);
    *count = n;
    return CKR_OK;
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    FRONT_CTX_OR_FAIL(ctx);
    if (!info)
        return CKR_ARGUMENTS_BAD;
    if (!valid_slot(ctx, slot))
        return CKR_SLOT_ID_INVALID;
    hc_token_status_t st;
    hc_token_status(ctx, slot, &st, NULL);
    memset(info, 0, sizeof *info);
    char desc[80];
    snprintf(desc, sizeof desc, "hsmcache token %s", hc_token_name(ctx, slot));
    hc_front_pad(info->slotDescription, sizeof info->slotDescription, desc);
    hc_front_pad(info->manufacturerID, sizeof info->manufacturerID, "hsmcache");
    info->flags = (st.present || st.info_valid) ? CKF_TOKEN_PRESENT : 0;
    info->hardwareVersion.major = 0;
    info->firmwareVersion.major = 0;
    return CKR_OK;
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    FRONT_CTX_OR_FAIL(ctx);
    if (!info)
        return CKR_ARGUMENTS_BAD;
    if (!valid_slot(ctx, slot))
        return CKR_SLOT_ID_INVALID;
    hc_token_status_t st;
    hc_err_t err = { 0 };
    CK_RV rv = hc_token_status(ctx, slot, &st, &err);
    if (rv != CKR_OK && !st.info_valid) {
        hc_log(&hc_front_log, HC_LOG_WARN, "%s", err.msg);
        return CKR_TOKEN_NOT_PRESENT;
    }
    /* The real token's info, under the hsmcache token name, with login not
     * required when the PIN store holds the PIN: hosts then never prompt. */
    *info = st.info;
    hc_front_pad(info->label, sizeof info->label, hc_token_name(ctx, slot));
    if (st.pin_stored)
        info->flags &= ~(CK_FLAGS)CKF_LOGIN_REQUIRED;
    info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulSessionCount = CK_UNAVAILABLE_INFORMATION;
    info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulRwSessionCount = CK_UNAVAILABLE_INFORMATION;
    return CKR_OK;
}

CK_RV C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
    FRONT_CTX_OR_FAIL(ctx);
    if (!count)
        return CKR_ARGUMENTS_BAD;
    if (!valid_slot(ctx, slot))
        return CKR_SLOT_ID_INVALID;
    return hc_front_mech_list(ctx, slot, list, count);
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
    FRONT_CTX_OR_FAIL(ctx);
    if (!info)
        return CKR_ARGUMENTS_BAD;
    if (!valid_slot(ctx, slot))
        return CKR_SLOT_ID_INVALID;
    return hc_front_mech_info(ctx, slot, type, info);
}

CK_RV C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                    CK_SESSION_HANDLE_PTR out)
{
    (void)app;
    (void)notify;
    FRONT_CTX_OR_FAIL(ctx);
    if (!out)
        return CKR_ARGUMENTS_BAD;
    if (!(flags & CKF_SERIAL_SESSION))
        return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    if (!valid_slot(ctx, slot))
        return CKR_SLOT_ID_INVALID;
    hc_vsession_t *s = calloc(1, sizeof *s);
    if (!s)
        return CKR_HOST_MEMORY;
    pthread_mutex_init(&s->lock, NULL);
    s->ctx = ctx;
    s->pstate = hc_front.pstate; /* set with ctx at C_Initialize */
    s->slot = slot;
    s->flags = flags;
    pthread_mutex_lock(&hc_front.lock);
    size_t i = 0;
    while (i < hc_front.nsessions && hc_front.sessions[i])
        i++;
    if (i == hc_front.nsessions) {
        hc_vsession_t **grown =
            realloc(hc_front.sessions, (hc_front.nsessions + 16) * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&hc_front.lock);
            free(s);
            return CKR_HOST_MEMORY;
        }
        memset(grown + hc_front.nsessions, 0, 16 * sizeof *grown);
        hc_front.sessions = grown;
        hc_front.nsessions += 16;
    }
    hc_front.sessions[i] = s;
    pthread_mutex_unlock(&hc_front.lock);
    *out = i + 1;
    return CKR_OK;
}

static void free_session(hc_vsession_t *s)
{
    /* Wait for a call in progress on this session to finish. */
    pthread_mutex_lock(&s->lock);
    hc_front_op_reset(&s->sign);
    hc_front_op_reset(&s->verify);
    hc_front_op_reset(&s->encrypt);
    hc_front_op_reset(&s->decrypt);
    EVP_MD_CTX_free(s->digest);
    free(s->dmsg);
    free(s->found);
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

CK_RV C_CloseSession(CK_SESSION_HANDLE h)
{
    FRONT_CTX_OR_FAIL(ctx);
    (void)ctx;
    pthread_mutex_lock(&hc_front.lock);
    hc_vsession_t *s = NULL;
    if (h >= 1 && h <= hc_front.nsessions) {
        s = hc_front.sessions[h - 1];
        hc_front.sessions[h - 1] = NULL;
    }
    pthread_mutex_unlock(&hc_front.lock);
    if (!s)
        return CKR_SESSION_HANDLE_INVALID;
    free_session(s);
    return CKR_OK;
}

void hc_front_close_all_sessions_locked(CK_SLOT_ID slot)
{
    for (size_t i = 0; i < hc_front.nsessions; i++) {
        hc_vsession_t *s = hc_front.sessions[i];
        if (s && (slot == CK_UNAVAILABLE_INFORMATION || s->slot == slot)) {
            hc_front.sessions[i] = NULL;
            free_session(s);
        }
    }
}

CK_RV C_CloseAllSessions(CK_SLOT_ID slot)
{
    FRONT_CTX_OR_FAIL(ctx);
    if (!valid_slot(ctx, slot))
        return CKR_SLOT_ID_INVALID;
    pthread_mutex_lock(&hc_front.lock);
    hc_front_close_all_sessions_locked(slot);
    pthread_mutex_unlock(&hc_front.lock);
    return CKR_OK;
}

CK_RV hc_front_session(CK_SESSION_HANDLE h, hc_vsession_t **out)
{
    pthread_mutex_lock(&hc_front.lock);
    if (!hc_front.initialized) {
        pthread_mutex_unlock(&hc_front.lock);
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    hc_vsession_t *s = h >= 1 && h <= hc_front.nsessions ? hc_front.sessions[h - 1] : NULL;
    if (s)
        pthread_mutex_lock(&s->lock); /* before releasing the table lock, so
                                         C_CloseSession waits for us */
    pthread_mutex_unlock(&hc_front.lock);
    *out = s;
    return s ? CKR_OK : CKR_SESSION_HANDLE_INVALID;
}

bool hc_front_visible(const hc_vsession_t *s, hc_obj_t obj)
{
    return !hc_front_profile.visible || hc_front_profile.visible(s->pstate, obj);
}

void hc_front_unlock(hc_vsession_t *s)
{
    pthread_mutex_unlock(&s->lock);
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
    if (!info)
        return CKR_ARGUMENTS_BAD;
    hc_vsession_t *s;
    CK_RV rv = hc_front_session(h, &s);
    if (rv != CKR_OK)
        return rv;
    info->slotID = s->slot;
    info->flags = s->flags;
    info->ulDeviceError = 0;
    /* The pool logs in with the stored PIN: user functions are available. */
    info->state = (s->flags & CKF_RW_SESSION) ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    hc_front_unlock(s);
    return CKR_OK;
}

CK_RV C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
    hc_vsession_t *s;
    CK_RV rv = hc_front_session(h, &s);
    if (rv != CKR_OK)
        return rv;
    CK_SLOT_ID slot = s->slot;
    hc_ctx_t *ctx = s->ctx;
    hc_front_unlock(s);
    if (user != CKU_USER)
        return CKR_USER_TYPE_INVALID; /* token administration: use the
                                         real module's tools */
    hc_token_status_t st;
    hc_token_status(ctx, slot, &st, NULL);
    if (st.pin_stored) {
        /* The stored PIN wins; the caller's is ignored, not even compared. */
        if (!__atomic_exchange_n(&hc_front.warned_caller_pin, true, __ATOMIC_RELAXED))
            hc_log(&hc_front_log, HC_LOG_WARN,
                   "token %s: the caller gave a PIN;"
                   " it is ignored because the hsmcache PIN store has one. "
                   "Remove the PIN from the caller's configuration.",
                   hc_token_name(ctx, slot));
        return CKR_OK;
    }
    if (!pin)
        return CKR_ARGUMENTS_BAD;
    hc_err_t err = { 0 };
    rv = hc_login_with(ctx, slot, pin, len, &err);
    if (rv != CKR_OK)
        hc_log(&hc_front_log, HC_LOG_ERROR, "%s", err.msg);
    return rv;
}

CK_RV C_Logout(CK_SESSION_HANDLE h)
{
    hc_vsession_t *s;
    CK_RV rv = hc_front_session(h, &s);
    if (rv == CKR_OK)
        hc_front_unlock(s);
    return rv; /* the pool stays logged in: other callers share it */
}
