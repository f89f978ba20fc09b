/*
 * login.c: logging a token in with the store's PIN or a caller's, under
 * the PIN rejection rule (login.h); split from the session pool
 * (pool.c), which calls it with the token's lock held.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/login.h"
#include "core/pinmark.h"
#include "util/err.h"

/* The answers by which a token refuses the PIN itself (recorded in the
 * mark); any other failure of C_Login says nothing about the PIN. */
static bool pin_rejection(CK_RV rv)
{
    return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED ||
           rv == CKR_PIN_EXPIRED || rv == CKR_PIN_INVALID ||
           rv == CKR_PIN_LEN_RANGE;
}

static CK_RV rejected_error(hc_token_t *t, const char *path, bool caller,
                            CK_RV rv, hc_err_t *err)
{
    char b[32];
    const char *name = t->cfg->name;
    if (rv == HC_P11_TIMEOUT)
        return hc_err(err, rv, "token %s did not answer C_Login in time with the "
                      "%s; whether it took the PIN is unknown, so it is not tried "
                      "again (a wrong PIN tried twice could lock the token): "
                      "once the token answers, check the PIN and run hsmcache pin "
                      "clear %s", name, caller ? "caller's PIN" : path, name);
    if (caller)
        return hc_err(err, rv, "token %s rejected a caller's PIN (%s); no further "
                      "PIN is tried on it, so the token cannot lock, until a PIN "
                      "is stored in %s (hsmcache pin set %s) or an operator "
                      "clears the mark (hsmcache pin clear %s)", name,
                      hc_rv_name(rv, b), path, name, name);
    return hc_err(err, rv, "token %s rejected the PIN in %s (%s); it is not "
                  "tried again until that file changes, so the token cannot "
                  "lock (fix: hsmcache pin set %s)", name, path,
                  hc_rv_name(rv, b), name);
}

/* The mark cannot be kept: no login is tried (fail closed). */
static CK_RV mark_unusable(hc_token_t *t, const char *why, bool need, hc_err_t *err)
{
    const char *dir = t->core->cfg->cache_dir;
    hc_err_t e;
    hc_err(&e, CKR_FUNCTION_FAILED, "token %s: no login tried: the PIN "
           "rejection mark cannot be kept (%s), and without it a wrong PIN "
           "could be tried until the token locks (fix: make %s/pin-rejected a "
           "directory uid %u can write, e.g. as root 'install -d -m 700 -o %u %s %s/pin-rejected', or set "
           "[core] cache-dir in %s; for several users on one token see the "
           "README, \"Several users on one token\")", t->cfg->name, why, dir,
           (unsigned)geteuid(), (unsigned)geteuid(), dir, dir, t->core->cfg->path);
    if (!t->warned_mark) {
        hc_log(&t->core->log, HC_LOG_ERROR, "%s", e.msg);
        t->warned_mark = true;
    }
    return need ? hc_err(err, e.rv, "%s", e.msg) : CKR_OK;
}

void hc_login_drop_caller_pin(hc_token_t *t)
{
    if (!t->caller_pin)
        return;
    OPENSSL_cleanse(t->caller_pin, t->caller_pin_len);
    free(t->caller_pin);
    t->caller_pin = NULL; /* a caller's PIN is tried at most once */
}

/* Logs in with the store's PIN, or the caller's when the store has none
 * (never stored on disk). Either obeys one rule: "check mark, C_Login,
 * record a rejection" under the token's cross-process lock; once the
 * token rejects a PIN, nothing is tried until the store's file changes
 * (a caller's PIN is marked with the all-zero "no file" version) or the
 * mark is cleared. If the mark cannot be read or kept, nothing is tried. */
CK_RV hc_login_locked(hc_token_t *t, CK_SESSION_HANDLE s, bool need, hc_err_t *err)
{
    if (t->logged_in)
        return CKR_OK;
    if (!(t->info.flags & CKF_LOGIN_REQUIRED)) {
        t->logged_in = true;
        return CKR_OK;
    }
    const hc_config_t *cfg = t->core->cfg;
    const char *name = t->cfg->name;
    char path[PATH_MAX];
    hc_pin_path(cfg->pin_store, name, path, sizeof path);
    hc_pin_t pin;
    hc_pin_version_t ver;
    memset(&ver, 0, sizeof ver);
    hc_err_t perr = { 0 };
    CK_RV rv = hc_pin_read(cfg->pin_store, name, &pin, &ver, &perr);
    bool caller = rv == CKR_USER_PIN_NOT_INITIALIZED && t->caller_pin;
    if (caller) {
        memset(&ver, 0, sizeof ver);
    } else if (rv != CKR_OK) {
        if (!t->warned_store) {
            hc_log(&t->core->log, HC_LOG_ERROR, "%s", perr.msg);
            t->warned_store = true;
        }
        return need ? hc_err(err, CKR_USER_NOT_LOGGED_IN, "%s", perr.msg) : CKR_OK;
    } else {
        hc_login_drop_caller_pin(t); /* the store's PIN wins */
    }
    /* A rejection this process could not record still holds here. */
    if (t->rejected_unsaved && hc_pin_version_equal(&t->rejected_ver, &ver)) {
        if (!caller)
            hc_pin_wipe(&pin);
        hc_login_drop_caller_pin(t);
        return need ? rejected_error(t, path, caller, t->rejected_rv, err) : CKR_OK;
    }
    char why[PATH_MAX + 128];
    CK_RV mark_rv = 0;
    int lock = hc_pinmark_lock(cfg->cache_dir, name, why, sizeof why);
    int mark = lock < 0 ? -1
             : hc_pinmark_read(cfg->cache_dir, name, &ver, &mark_rv, NULL, why, sizeof why);
    if (mark != 0) {
        hc_pinmark_unlock(lock);
        if (!caller)
            hc_pin_wipe(&pin);
        hc_login_drop_caller_pin(t);
        if (mark < 0)
            return mark_unusable(t, why, need, err);
        return need ? rejected_error(t, path, caller, mark_rv ? mark_rv : CKR_PIN_INCORRECT,
                                     err) : CKR_OK;
    }
    t->warned_mark = false;
    hc_err_t lerr;
    if (caller) {
        rv = hc_p11_login(&t->p11, s, CKU_USER, t->caller_pin, t->caller_pin_len,
                          &lerr);
        hc_login_drop_caller_pin(t);
    } else {
        rv = hc_p11_login(&t->p11, s, CKU_USER, pin.bytes, pin.len, &lerr);
        hc_pin_wipe(&pin);
    }
    HC_INC(t->stats->logins);
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
        hc_pinmark_clear(cfg->cache_dir, name); /* one for an older version */
        hc_pinmark_unlock(lock);
        t->rejected_unsaved = false;
        t->logged_in = true;
        t->warned_store = false;
        return CKR_OK;
    }
    HC_INC(t->stats->login_failures);
    /* A C_Login left behind by the call timeout may still answer "wrong
     * PIN" to nobody: its fate unknown, it is marked like a rejection so
     * no process tries the PIN again (fail closed; an operator clears a
     * right but slow PIN's mark). */
    bool unanswered = rv == HC_P11_TIMEOUT && hc_p11_hung(&t->p11);
    if (!pin_rejection(rv) && !unanswered) {
        hc_pinmark_unlock(lock);
        return hc_err(err, rv, "%s%s", lerr.msg, caller ? " (the caller's PIN)" : "");
    }
    bool saved = hc_pinmark_set(cfg->cache_dir, name, &ver, rv);
    hc_pinmark_unlock(lock);
    t->rejected_unsaved = !saved;
    t->rejected_ver = ver;
    t->rejected_rv = rv;
    hc_err_t e;
    rejected_error(t, path, caller, rv, &e);
    if (!saved)
        hc_log(&t->core->log, HC_LOG_ERROR, "token %s: the PIN rejection mark "
               "could not be written under %s/pin-rejected; it holds in this "
               "process only", name, cfg->cache_dir);
    hc_log(&t->core->log, HC_LOG_ERROR, "%s", e.msg);
    return need || caller ? hc_err(err, rv, "%s", e.msg) : CKR_OK;
}

bool hc_login_rejected_locked(hc_token_t *t, const hc_pin_version_t *ver)
{
    return (t->rejected_unsaved && hc_pin_version_equal(&t->rejected_ver, ver)) ||
           hc_pinmark_matches(t->core->cfg->cache_dir, t->cfg->name, ver, NULL, NULL);
}

CK_RV hc_pool_set_caller_pin(hc_token_t *t, const unsigned char *pin,
                             size_t len, hc_err_t *err)
{
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy)
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    memcpy(copy, pin, len);
    pthread_mutex_lock(&t->lock);
    hc_login_drop_caller_pin(t);
    t->caller_pin = copy;
    t->caller_pin_len = len;
    pthread_mutex_unlock(&t->lock);
    return CKR_OK;
}
