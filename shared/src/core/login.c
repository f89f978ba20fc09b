/*
 * login.c: logging a token in with the store's PIN or a caller's, under
 * the PIN rejection rule (login.h); split from the session pool
 * (pool.c), which calls it with the token's lock held. A C_Login the call
 * timeout left behind is marked like a rejection, and its answer, when it
 * comes, turns that mark into the verdict (late_answered).
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
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
    return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED ||
           rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE;
}

static CK_RV rejected_error(hc_token_t *t, const char *path, bool caller, CK_RV rv, hc_err_t *err)
{
    char b[32];
    const char *name = t->cfg->name;
    if (rv == HC_P11_TIMEOUT)
        return hc_err(err, rv,
                      "token %s did not answer C_Login in time with the "
                      "%s; whether it took the PIN is unknown, so it is not tried "
                      "again (a wrong PIN tried twice could lock the token) until "
                      "the answer comes: if the token takes the PIN, the login "
                      "is used and the mark cleared by itself; if it never "
                      "answers, check the PIN and run hsmcache pin clear %s",
                      name, caller ? "caller's PIN" : path, name);
    if (caller)
        return hc_err(err, rv,
                      "token %s rejected a caller's PIN (%s); no further "
                      "PIN is tried on it, so the token cannot lock, until a PIN "
                      "is stored in %s (hsmcache pin set %s) or an operator "
                      "clears the mark (hsmcache pin clear %s)",
                      name, hc_rv_name(rv, b), path, name, name);
    return hc_err(err, rv,
                  "token %s rejected the PIN in %s (%s); it is not "
                  "tried again until that file changes, so the token cannot "
                  "lock (fix: hsmcache pin set %s)",
                  name, path, hc_rv_name(rv, b), name);
}

/* The mark cannot be kept: no login is tried (fail closed). */
static CK_RV mark_unusable(hc_token_t *t, const char *why, bool need, hc_err_t *err)
{
    const char *dir = t->core->cfg->cache_dir;
    hc_err_t e;
    hc_err(
        &e, CKR_FUNCTION_FAILED,
        "token %s: no login tried: the PIN "
        "rejection mark cannot be kept (%s), and without it a wrong PIN "
        "could be tried until the token locks (fix: make %s/pin-rejected a "
        "directory uid %u can write, e.g. as root 'install -d -m 700 -o %u %s %s/pin-rejected', or set "
        "[core] cache-dir in %s; for several users on one token see the "
        "README, \"Several users on one token\")",
        t->cfg->name, why, dir, (unsigned)geteuid(), (unsigned)geteuid(), dir, dir,
        t->core->cfg->path);
    if (!t->warned_mark) {
        hc_log(&t->core->log, HC_LOG_ERROR, "%s", e.msg);
        t->warned_mark = true;
    }
    return need ? hc_err(err, e.rv, "%s", e.msg) : CKR_OK;
}

/* What the answer of a C_Login left behind changes: the mark that login
 * wrote (the id says it is that one; processes share the marks), under
 * the token's cross-process lock. Owned by the watch's job once armed;
 * it outlives the token. */
struct late_login {
    char dir[PATH_MAX];
    char token[HC_NAME_MAX + 1];
    hc_pin_version_t ver;
    uint64_t id;
    uint64_t sent_ms;
    hc_logger_t log;
};

static void late_drop(void *arg)
{
    free(arg);
}

/* On the runner's thread, before the token stops counting as hung: a
 * right PIN clears the mark (the module is logged in: the pool finds it
 * so, login.h), a PIN the token refuses turns it into a rejection mark
 * (as an answer in time would), any other answer, which says nothing of
 * the PIN, clears it as an answer in time would leave none. */
#define LATE_LOCK_WAIT_MS 2000

static void late_answered(void *arg, CK_RV rv)
{
    struct late_login *l = arg;
    char b[32], why[PATH_MAX + 128] = "";
    unsigned long long after = (unsigned long long)(hc_now_ms() - l->sent_ms);
    /* On the runner's thread, the token counting as hung meanwhile: wait
     * for the mark's lock a bounded time (another process holds it only
     * to read the mark, or across a login of its own, which the
     * unanswered mark stops); given up, the mark stays: nothing is tried. */
    int lock = hc_pinmark_lock_within(l->dir, l->token, LATE_LOCK_WAIT_MS, why, sizeof why);
    uint64_t id = 0;
    int mark =
        lock < 0 ? -1
                 : hc_pinmark_read_id(l->dir, l->token, &l->ver, NULL, NULL, &id, why, sizeof why);
    if (mark != 1 || id != l->id) {
        hc_log(&l->log, HC_LOG_WARN,
               "token %s: the C_Login left behind answered %s "
               "after %llu ms; its mark %s, so it is left as it is",
               l->token, hc_rv_name(rv, b), after, mark < 0 ? why : "was changed or removed since");
    } else if (pin_rejection(rv)) {
        bool saved = hc_pinmark_set(l->dir, l->token, &l->ver, rv);
        hc_log(&l->log, HC_LOG_ERROR,
               "token %s: the C_Login left behind answered %s "
               "after %llu ms: the PIN is rejected%s; it is not tried again until its "
               "file changes (fix: hsmcache pin set %s)",
               l->token, hc_rv_name(rv, b), after,
               saved ? ""
                     : " (the mark could not be rewritten: it stays "
                       "'unanswered', which also tries nothing)",
               l->token);
    } else {
        bool ok = rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN;
        hc_pinmark_clear(l->dir, l->token);
        hc_log(&l->log, ok ? HC_LOG_INFO : HC_LOG_WARN,
               "token %s: the C_Login left "
               "behind answered %s after %llu ms: %s; its mark is cleared",
               l->token, hc_rv_name(rv, b), after,
               ok ? "the PIN is right and the token logged in" : "that says nothing of the PIN");
    }
    hc_pinmark_unlock(lock);
}

/* Arms the report of this login's late answer: the id its mark will
 * carry if the call is left behind (0 when none could be armed: the mark
 * then stays until cleared by hand, fail closed). */
static uint64_t arm_late_report(hc_token_t *t, const hc_pin_version_t *ver)
{
    struct late_login *l = calloc(1, sizeof *l);
    if (!l)
        return 0;
    if (RAND_bytes((unsigned char *)&l->id, sizeof l->id) != 1 || !l->id) {
        free(l);
        return 0;
    }
    snprintf(l->dir, sizeof l->dir, "%s", t->core->cfg->cache_dir);
    snprintf(l->token, sizeof l->token, "%s", t->cfg->name);
    l->ver = *ver;
    l->sent_ms = hc_now_ms();
    l->log = t->core->log;
    uint64_t id = l->id;
    hc_watch_report_login(t->p11.watch, &(hc_watch_report_t){ late_answered, late_drop, l });
    return id;
}

/* Whether the module has this application logged in already (a C_Login
 * that answered after the call timeout did it): then no PIN is sent.
 * CKR_OK and *yes, or the call's lost value (hung: no login is tried). */
static CK_RV module_logged_in(hc_token_t *t, CK_SESSION_HANDLE s, bool *yes, hc_err_t *err)
{
    CK_SESSION_INFO si;
    hc_err_t e;
    CK_RV rv = hc_p11_get_session_info(&t->p11, s, &si, &e);
    *yes = rv == CKR_OK && (si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS);
    if (rv != CKR_OK && hc_p11_hung(&t->p11))
        return hc_err(err, rv, "%s", e.msg);
    return CKR_OK;
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
    bool in = !(t->info.flags & CKF_LOGIN_REQUIRED);
    CK_RV rv = in ? CKR_OK : module_logged_in(t, s, &in, err);
    if (rv != CKR_OK)
        return rv;
    if (in) {
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
    rv = hc_pin_read(cfg->pin_store, name, &pin, &ver, &perr);
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
    int mark = lock < 0
                   ? -1
                   : hc_pinmark_read(cfg->cache_dir, name, &ver, &mark_rv, NULL, why, sizeof why);
    if (mark != 0) {
        hc_pinmark_unlock(lock);
        if (!caller)
            hc_pin_wipe(&pin);
        hc_login_drop_caller_pin(t);
        if (mark < 0)
            return mark_unusable(t, why, need, err);
        return need ? rejected_error(t, path, caller, mark_rv ? mark_rv : CKR_PIN_INCORRECT, err)
                    : CKR_OK;
    }
    t->warned_mark = false;
    hc_err_t lerr;
    uint64_t id = arm_late_report(t, &ver);
    hc_watch_counts_t before, after;
    hc_watch_counts(t->p11.watch, &before);
    if (caller) {
        rv = hc_p11_login(&t->p11, s, CKU_USER, t->caller_pin, t->caller_pin_len, &lerr);
        hc_login_drop_caller_pin(t);
    } else {
        rv = hc_p11_login(&t->p11, s, CKU_USER, pin.bytes, pin.len, &lerr);
        hc_pin_wipe(&pin);
    }
    hc_watch_report_login(t->p11.watch, NULL); /* a login made untimed */
    hc_watch_counts(t->p11.watch, &after);
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
     * PIN" to nobody: while its answer is unknown it is marked like a
     * rejection so no process tries the PIN again (fail closed); the mark
     * carries the id its late answer looks for (late_answered). A lock
     * held by this thread meanwhile only delays that answer's verdict. One
     * refused because the token was hung already never reached it: not
     * marked (another thread's call timing out meanwhile makes it look
     * left behind: marked, fail closed). */
    bool unanswered = rv == HC_P11_TIMEOUT && after.hung && after.timeouts > before.timeouts;
    if (!pin_rejection(rv) && !unanswered) {
        hc_pinmark_unlock(lock);
        return hc_err(err, rv, "%s%s", lerr.msg, caller ? " (the caller's PIN)" : "");
    }
    bool saved = hc_pinmark_set_id(cfg->cache_dir, name, &ver, rv, unanswered ? id : 0);
    hc_pinmark_unlock(lock);
    t->rejected_unsaved = !saved;
    t->rejected_ver = ver;
    t->rejected_rv = rv;
    hc_err_t e;
    rejected_error(t, path, caller, rv, &e);
    if (!saved)
        hc_log(&t->core->log, HC_LOG_ERROR,
               "token %s: the PIN rejection mark "
               "could not be written under %s/pin-rejected; it holds in this "
               "process only",
               name, cfg->cache_dir);
    hc_log(&t->core->log, HC_LOG_ERROR, "%s", e.msg);
    return need || caller ? hc_err(err, rv, "%s", e.msg) : CKR_OK;
}

bool hc_login_rejected_locked(hc_token_t *t, const hc_pin_version_t *ver)
{
    return (t->rejected_unsaved && hc_pin_version_equal(&t->rejected_ver, ver)) ||
           hc_pinmark_matches(t->core->cfg->cache_dir, t->cfg->name, ver, NULL, NULL);
}

CK_RV hc_pool_set_caller_pin(hc_token_t *t, const unsigned char *pin, size_t len, hc_err_t *err)
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
