/*
 * entry.c: module entry points: the function list, C_Initialize,
 * C_Finalize, C_GetInfo, and what happens across fork().
 *
 * After fork() the child must not use the parent's sessions (PKCS#11 says
 * the child calls C_Initialize again). The atfork handler drops the
 * child's copy of the context without finalizing it (that would close the
 * parent's sessions in a shared module) and leaves the front
 * uninitialized, so the child starts clean.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "front.h"
#include "front_calls.h"
#include "keyfacts.h"

hc_front_t hc_front = { .lock = PTHREAD_MUTEX_INITIALIZER };
hc_logger_t hc_front_log;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void before_fork(void)
{
    pthread_mutex_lock(&hc_front.lock);
}

static void after_fork_parent(void)
{
    pthread_mutex_unlock(&hc_front.lock);
}

static void after_fork_child(void)
{
    hc_front.initialized = false;
    hc_front.ctx = NULL; /* the parent's; left alone */
    hc_front.pstate = NULL;
    hc_front.sessions = NULL; /* likewise: a bounded, one-time leak */
    hc_front.nsessions = 0;
    pthread_mutex_init(&hc_front.lock, NULL);
    hc_keyfacts_after_fork();
}

static void register_atfork(void)
{
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

hc_ctx_t *hc_front_ctx(void)
{
    pthread_mutex_lock(&hc_front.lock);
    hc_ctx_t *ctx = hc_front.initialized ? hc_front.ctx : NULL;
    pthread_mutex_unlock(&hc_front.lock);
    return ctx;
}

CK_RV C_Initialize(CK_VOID_PTR init_args)
{
    pthread_once(&atfork_once, register_atfork);
    if (init_args) {
        CK_C_INITIALIZE_ARGS *a = init_args;
        if (a->pReserved)
            return CKR_ARGUMENTS_BAD;
        /* Either all four mutex callbacks or none. We always use our own
         * pthread locks, which PKCS#11 allows whenever OS locking is. */
        bool some = a->CreateMutex || a->DestroyMutex || a->LockMutex || a->UnlockMutex;
        bool all = a->CreateMutex && a->DestroyMutex && a->LockMutex && a->UnlockMutex;
        if (some && !all)
            return CKR_ARGUMENTS_BAD;
        if (all && !(a->flags & CKF_OS_LOCKING_OK))
            return CKR_CANT_LOCK;
    }
    pthread_mutex_lock(&hc_front.lock);
    if (hc_front.initialized) {
        pthread_mutex_unlock(&hc_front.lock);
        return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    }
    const hc_front_profile_t *p = &hc_front_profile;
    snprintf(hc_front_log.prefix, sizeof hc_front_log.prefix, "hsmcache[%s]", p->name);
    hc_front_log.level = HC_LOG_WARN;
    hc_err_t err = { 0 };
    hc_front.pstate = NULL;
    CK_RV rv = hc_open(p->name, NULL, &hc_front.ctx, &err);
    if (rv == CKR_OK && p->init && (rv = p->init(hc_front.ctx, &hc_front.pstate)) != CKR_OK)
        hc_close(hc_front.ctx); /* the profile logged why */
    if (rv == CKR_OK) {
        hc_front.initialized = true;
        hc_front.warned_caller_pin = false;
    } else {
        if (err.msg[0])
            hc_log(&hc_front_log, HC_LOG_ERROR, "%s", err.msg);
        hc_front.ctx = NULL;
        rv = CKR_GENERAL_ERROR;
    }
    pthread_mutex_unlock(&hc_front.lock);
    return rv;
}

CK_RV C_Finalize(CK_VOID_PTR reserved)
{
    if (reserved)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&hc_front.lock);
    if (!hc_front.initialized) {
        pthread_mutex_unlock(&hc_front.lock);
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    hc_front_close_all_sessions_locked(CK_UNAVAILABLE_INFORMATION);
    free(hc_front.sessions);
    hc_front.sessions = NULL;
    hc_front.nsessions = 0;
    hc_ctx_t *ctx = hc_front.ctx;
    void *pstate = hc_front.pstate;
    hc_front.ctx = NULL;
    hc_front.pstate = NULL;
    hc_front.initialized = false;
    pthread_mutex_unlock(&hc_front.lock);
    if (hc_front_profile.fini)
        hc_front_profile.fini(pstate);
    hc_keyfacts_clear(); /* references are per context */
    hc_close(ctx);
    return CKR_OK;
}

static void pad(unsigned char *dst, size_t size, const char *src)
{
    memset(dst, ' ', size);
    size_t n = strlen(src);
    memcpy(dst, src, n < size ? n : size);
}

CK_RV C_GetInfo(CK_INFO_PTR info)
{
    FRONT_CTX_OR_FAIL(ctx);
    (void)ctx;
    if (!info)
        return CKR_ARGUMENTS_BAD;
    memset(info, 0, sizeof *info);
    info->cryptokiVersion.major = 2;
    info->cryptokiVersion.minor = 40;
    pad(info->manufacturerID, sizeof info->manufacturerID, "hsmcache");
    char desc[64];
    snprintf(desc, sizeof desc, "hsmcache %s front", hc_front_profile.name);
    pad(info->libraryDescription, sizeof info->libraryDescription, desc);
    info->libraryVersion.major = 0;
    info->libraryVersion.minor = 1;
    return CKR_OK;
}

static CK_FUNCTION_LIST function_list = { .version = { 2, 40 },
#define F(name) .name = name,
                                          HC_FRONT_FUNCTIONS(F)
#undef F
};

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    if (!list)
        return CKR_ARGUMENTS_BAD;
    *list = &function_list;
    return CKR_OK;
}

void hc_front_pad(unsigned char *dst, size_t size, const char *src)
{
    pad(dst, size, src);
}
