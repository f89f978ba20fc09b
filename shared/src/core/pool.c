/*
 * pool.c: per-token connection and session pool.
 *
 * A token is found by label/serial (never slot number: slots reorder),
 * opened with up to max-sessions real sessions and logged in once (login.c:
 * the store's PIN or a caller's, under the PIN rejection rule). A lost
 * session or token resets the whole pool (PKCS#11 login state is per
 * application and token, so partial repair buys nothing); the operation
 * is then retried once. While a token is absent, probes back off from
 * 100 ms to 2 s and calls in between fail at once. Each open session has
 * a record (keycopy.h's hc_pooled_t, with its key copies), handed out with
 * the session and freed when the session closes.
 *
 * A hung token ([token] timeout, watchdog.h) refuses the reset's
 * C_CloseAllSessions; the sessions it would have closed are owed and
 * closed one by one (C_CloseSession) once the token answers and no call
 * is left in the module, after the new pool's first session is open: a
 * C_Login that answered late keeps the module logged in (login.c), which
 * closing every session would undo.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "util/err.h"
#include "core/keycopy.h"
#include "core/login.h"
#include "core/pinmark.h"

#define BACKOFF_FIRST_MS 100u
#define BACKOFF_MAX_MS 2000u

bool hc_rv_lost(CK_RV rv)
{
    return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
           rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
           rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_CRYPTOKI_NOT_INITIALIZED;
}

CK_RV hc_token_init(hc_token_t *t, hc_core_t *core, const hc_token_cfg_t *cfg, size_t index)
{
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    t->core = core;
    t->index = index;
    t->p11 = (hc_p11_t){ NULL, cfg->name, cfg->module, &core->log, NULL, NULL };
    t->idle = calloc(cfg->max_sessions, sizeof *t->idle);
    t->opened = calloc(cfg->max_sessions, sizeof *t->opened);
    /* [token] timeout (p11call.h): connecting and logging in are timed */
    t->p11.watch = hc_watch_new(cfg->name, (unsigned)cfg->timeout_ms, &core->log);
    if (!t->idle || !t->opened || !t->p11.watch) {
        free(t->idle);
        free(t->opened);
        hc_watch_release(t->p11.watch);
        return CKR_HOST_MEMORY;
    }
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    pthread_mutex_init(&t->idx_lock, NULL);
    t->stats = hc_stats_token(&core->stats, cfg->name);
    t->p11.errors = &t->stats->hsm_errors; /* p11call.c counts failures */
    return CKR_OK;
}

/* Under t->lock: the idle sessions' records, once they are closed. */
static void free_idle(hc_token_t *t)
{
    for (size_t i = 0; i < t->nidle; i++)
        hc_pooled_free(t->idle[i]);
    t->nidle = 0;
}

void hc_token_destroy(hc_token_t *t)
{
    if (t->p11.fl && (t->connected || t->nowed))
        hc_p11_close_all_sessions(&t->p11, t->slot);
    free_idle(t);
    hc_keyindex_free(t);
    hc_login_drop_caller_pin(t);
    free(t->mechs);
    free(t->mech_info);
    free(t->idle);
    free(t->opened);
    free(t->owed);
    hc_watch_release(t->p11.watch); /* freed by its last held call */
    pthread_mutex_destroy(&t->idx_lock);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
}

static size_t padded_len(const unsigned char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\0'))
        n--;
    return n;
}

static bool padded_eq(const unsigned char *field, size_t size, const char *want)
{
    size_t n = padded_len(field, size);
    return n == strlen(want) && memcmp(field, want, n) == 0;
}

static bool token_matches(const hc_token_cfg_t *cfg, const CK_TOKEN_INFO *ti)
{
    if (cfg->label[0] && !padded_eq(ti->label, sizeof ti->label, cfg->label))
        return false;
    if (cfg->serial[0] && !padded_eq(ti->serialNumber, sizeof ti->serialNumber, cfg->serial))
        return false;
    return true;
}

/* Whether the call just made on `t` was refused while hung (it never
 * reached the module), rather than answered or left behind (a held call
 * still runs: a held close closes when it returns). `before`: the watch's
 * counts before the call. Another thread's call timing out meanwhile
 * makes a refusal look left behind: a session stays open, never twice
 * closed (a handle the module may have given out again). */
static bool refused_now(hc_token_t *t, CK_RV rv, const hc_watch_counts_t *before)
{
    hc_watch_counts_t after;
    hc_watch_counts(t->p11.watch, &after);
    return rv != CKR_OK && after.hung && after.timeouts == before->timeouts;
}

/* Under t->lock, no session in use: C_CloseAllSessions. Refused (hung),
 * this connection's sessions are owed; sent, it closes the owed ones too. */
static void close_sessions_locked(hc_token_t *t)
{
    hc_watch_counts_t before;
    hc_watch_counts(t->p11.watch, &before);
    CK_RV rv = hc_p11_close_all_sessions(&t->p11, t->slot);
    if (!refused_now(t, rv, &before)) {
        t->nowed = 0;
    } else if (t->nopened) {
        CK_SESSION_HANDLE *o = realloc(t->owed, (t->nowed + t->nopened) * sizeof *o);
        if (o) {
            memcpy(o + t->nowed, t->opened, t->nopened * sizeof *o);
            t->owed = o;
            t->nowed += t->nopened;
        } else {
            hc_log(&t->core->log, HC_LOG_ERROR,
                   "token %s: out of memory: %zu "
                   "session(s) the hang kept from being closed stay open",
                   t->cfg->name, t->nopened);
        }
    }
    t->nopened = 0;
}

/* Whether `h` is a session of this connection: a module may give a
 * handle out again once its session is gone (OpenSC's handles are the
 * session's address), so an owed handle equal to one is not closed. */
static bool opened_now(const hc_token_t *t, CK_SESSION_HANDLE h)
{
    for (size_t i = 0; i < t->nopened; i++)
        if (t->opened[i] == h)
            return true;
    return false;
}

/* Under t->lock, with a session of the new connection open (it keeps the
 * module's login): closes the owed sessions once the token answers, no
 * call of it is left in the module and no session is in use (none is
 * closed under a call, as close_all_locked). An owed handle the module
 * has given to this connection again is only dropped; one refused again
 * stays owed; any other answer (closed, already invalid) settles it. */
static void close_owed_locked(hc_token_t *t)
{
    hc_watch_counts_t wc;
    hc_watch_counts(t->p11.watch, &wc);
    if (wc.hung || wc.held > 0 || t->inflight > 0)
        return;
    size_t closed = 0;
    while (t->nowed > 0) {
        if (opened_now(t, t->owed[t->nowed - 1])) {
            t->nowed--;
            continue;
        }
        hc_watch_counts(t->p11.watch, &wc);
        CK_RV rv = hc_p11_close_session(&t->p11, t->owed[t->nowed - 1], NULL);
        if (refused_now(t, rv, &wc))
            break;
        t->nowed--;
        closed++;
    }
    hc_log(&t->core->log, HC_LOG_INFO,
           "token %s: closed %zu session(s) a hang had "
           "kept open (%zu left)",
           t->cfg->name, closed, t->nowed);
}

/* Closes every session: now when none is in use, else when the last one
 * in use is released (release()), and no new one is opened meanwhile. A
 * module may free a session's state under a thread still inside a call on
 * it: SoftHSM frees the key of a C_Sign another thread is in (a crash in
 * its C_Sign, seen when the simulator closed SoftHSM's sessions under two
 * signing threads; a reset closing them here would do the same). */
static void close_all_locked(hc_token_t *t)
{
    if (t->inflight == 0)
        close_sessions_locked(t);
    else
        t->close_pending = true;
}

static void reset_locked(hc_token_t *t)
{
    if (t->connected)
        close_all_locked(t);
    free_idle(t); /* sessions in use free theirs at release */
    t->connected = false;
    t->nidle = t->nopen = 0;
    t->logged_in = false;
    pthread_cond_broadcast(&t->cond);
}

/* `why` names the token. */
static CK_RV absent(hc_token_t *t, hc_err_t *err, const char *why)
{
    uint64_t now = hc_now_ms();
    t->backoff_ms = t->backoff_ms ? t->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (t->backoff_ms > BACKOFF_MAX_MS)
        t->backoff_ms = BACKOFF_MAX_MS;
    t->next_probe_ms = now + t->backoff_ms;
    hc_log(&t->core->log, HC_LOG_INFO, "%s (next check in %u ms)", why, t->backoff_ms);
    return hc_err(err, CKR_TOKEN_NOT_PRESENT, "%s", why);
}

/* Hash-then-sign mechanisms the core serves on any token that has the
 * raw one (it hashes locally and sends CKM_ECDSA / CKM_RSA_PKCS /
 * CKM_RSA_PKCS_PSS): offered even when the token lacks them, as SoftHSM
 * 2.6 lacks CKM_ECDSA_SHA256. Signing and verifying only. */
static const struct {
    CK_MECHANISM_TYPE hashed, raw;
} emulated[] = {
    { CKM_ECDSA_SHA1, CKM_ECDSA },
    { CKM_ECDSA_SHA224, CKM_ECDSA },
    { CKM_ECDSA_SHA256, CKM_ECDSA },
    { CKM_ECDSA_SHA384, CKM_ECDSA },
    { CKM_ECDSA_SHA512, CKM_ECDSA },
    { CKM_SHA1_RSA_PKCS, CKM_RSA_PKCS },
    { CKM_SHA224_RSA_PKCS, CKM_RSA_PKCS },
    { CKM_SHA256_RSA_PKCS, CKM_RSA_PKCS },
    { CKM_SHA384_RSA_PKCS, CKM_RSA_PKCS },
    { CKM_SHA512_RSA_PKCS, CKM_RSA_PKCS },
    { CKM_SHA1_RSA_PKCS_PSS, CKM_RSA_PKCS_PSS },
    { CKM_SHA224_RSA_PKCS_PSS, CKM_RSA_PKCS_PSS },
    { CKM_SHA256_RSA_PKCS_PSS, CKM_RSA_PKCS_PSS },
    { CKM_SHA384_RSA_PKCS_PSS, CKM_RSA_PKCS_PSS },
    { CKM_SHA512_RSA_PKCS_PSS, CKM_RSA_PKCS_PSS },
};
#define NEMULATED (sizeof emulated / sizeof emulated[0])

static bool in_list(const CK_MECHANISM_TYPE *list, CK_ULONG n, CK_MECHANISM_TYPE m)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (list[i] == m)
            return true;
    return false;
}

static CK_RV read_mechanisms(hc_token_t *t, hc_err_t *err)
{
    CK_ULONG n = 0;
    CK_RV rv = hc_p11_get_mechanism_list(&t->p11, t->slot, NULL, &n, err);
    if (rv != CKR_OK)
        return rv;
    CK_MECHANISM_TYPE *list = calloc(n + NEMULATED + 1, sizeof *list);
    /* Infos are read on first use (a slow card pays per call), except
     * for emulated mechanisms, derived here from their raw mechanism. */
    CK_MECHANISM_INFO *info = calloc(n + NEMULATED + 1, sizeof *info);
    if (!list || !info) {
        free(list);
        free(info);
        return hc_err(err, CKR_HOST_MEMORY, "token %s: out of memory", t->cfg->name);
    }
    if ((rv = hc_p11_get_mechanism_list(&t->p11, t->slot, list, &n, err)) != CKR_OK) {
        free(list);
        free(info);
        return rv;
    }
    CK_ULONG real = n;
    for (size_t i = 0; i < NEMULATED; i++) {
        CK_MECHANISM_INFO raw;
        if (in_list(list, n, emulated[i].hashed) || !in_list(list, real, emulated[i].raw) ||
            hc_p11_get_mechanism_info(&t->p11, t->slot, emulated[i].raw, &raw, NULL) != CKR_OK ||
            !(raw.flags & CKF_SIGN))
            continue;
        info[n] = raw;
        info[n].flags = raw.flags & (CKF_HW | CKF_SIGN | CKF_VERIFY | CKF_EC_F_P |
                                     CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS);
        list[n++] = emulated[i].hashed;
    }
    free(t->mechs);
    free(t->mech_info);
    t->mechs = list;
    t->mech_info = info;
    t->nmechs = n;
    t->raw_rsa = in_list(list, real, CKM_RSA_PKCS);
    t->raw_pss = in_list(list, real, CKM_RSA_PKCS_PSS);
    t->raw_ecdsa = in_list(list, real, CKM_ECDSA);
    return CKR_OK;
}

/* Finds the configured token among the module's slots and connects the
 * pool to it: CKR_OK, CKR_TOKEN_NOT_PRESENT, or the module's error (in
 * `err`). */
static CK_RV scan_slots(hc_token_t *t, hc_err_t *err)
{
    CK_ULONG n = 0;
    CK_SLOT_ID slots[256];
    CK_RV rv = hc_p11_get_slot_list(&t->p11, CK_TRUE, NULL, &n, err);
    if (rv == CKR_OK) {
        n = n > 256 ? 256 : n;
        rv = hc_p11_get_slot_list(&t->p11, CK_TRUE, slots, &n, err);
    }
    if (rv != CKR_OK)
        return rv;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (hc_p11_get_token_info(&t->p11, slots[i], &ti, NULL) != CKR_OK ||
            !token_matches(t->cfg, &ti))
            continue;
        t->slot = slots[i];
        t->info = ti;
        t->info_valid = true;
        if ((rv = read_mechanisms(t, err)) != CKR_OK)
            return rv;
        t->connected = true;
        t->generation++;
        t->backoff_ms = 0;
        t->next_probe_ms = 0;
        t->nidle = t->nopen = 0;
        t->logged_in = false;
        return CKR_OK;
    }
    return CKR_TOKEN_NOT_PRESENT;
}

static CK_RV connect_locked(hc_token_t *t, hc_err_t *err)
{
    if (t->connected)
        return CKR_OK;
    const hc_token_cfg_t *c = t->cfg;
    if (t->close_pending) /* the old sessions are not closed yet */
        return hc_err(err, CKR_TOKEN_NOT_PRESENT,
                      "token %s: reconnecting (calls "
                      "on the lost sessions are finishing)",
                      c->name);
    if (t->next_probe_ms && hc_now_ms() < t->next_probe_ms)
        return hc_err(err, CKR_TOKEN_NOT_PRESENT,
                      "token %s is absent (module "
                      "%s, label '%s'); next check in %llu ms",
                      c->name, c->module, c->label[0] ? c->label : c->serial,
                      (unsigned long long)(t->next_probe_ms - hc_now_ms()));
    /* Under the token's cross-process lock, which logins also take: a
     * SoftHSM file store is unreadable while another process's login
     * rewrites it, and a token that only blinked would look removed. */
    int lock = hc_pinmark_lock(t->core->cfg->cache_dir, c->name, NULL, 0);
    CK_RV rv = CKR_OK;
    hc_err_t e = { 0 };
    if (!t->p11.fl)
        rv = hc_modules_get(t->core->modules, c->module, &t->p11.fl, err);
    if (rv == CKR_OK)
        rv = scan_slots(t, &e);
    hc_pinmark_unlock(lock);
    if (rv == CKR_OK || !t->p11.fl)
        return rv;
    if (rv != CKR_TOKEN_NOT_PRESENT)
        return absent(t, err, e.msg);
    char why[512];
    snprintf(why, sizeof why,
             "token %s: no token with %s '%s' in module %s (is "
             "it present? see 'hsmcache tokens')",
             c->name, c->label[0] ? "label" : "serial", c->label[0] ? c->label : c->serial,
             c->module);
    return absent(t, err, why);
}

static CK_RV acquire(hc_token_t *t, bool live, bool need_login, hc_session_t *out, hc_err_t *err)
{
    CK_RV rv;
    pthread_mutex_lock(&t->lock);
    if (live)
        t->live_waiting++;
    for (;;) {
        if (t->close_pending) { /* a reset waits for sessions in use */
            pthread_cond_wait(&t->cond, &t->lock);
            continue;
        }
        if ((rv = connect_locked(t, err)) != CKR_OK)
            break;
        if (!live && t->live_waiting > 0) {
            pthread_cond_wait(&t->cond, &t->lock);
            continue;
        }
        hc_pooled_t *p;
        if (t->nidle > 0) {
            p = t->idle[--t->nidle];
        } else if (t->nopen < t->cfg->max_sessions) {
            if (!(p = hc_pooled_new(CK_INVALID_HANDLE))) {
                rv = hc_err(err, CKR_HOST_MEMORY, "token %s: out of memory", t->cfg->name);
                break;
            }
            rv = hc_p11_open_session(&t->p11, t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, &p->h,
                                     err);
            if (rv != CKR_OK) {
                hc_pooled_free(p);
                if (hc_rv_lost(rv) || rv == CKR_SLOT_ID_INVALID) {
                    reset_locked(t); /* the next call probes the token */
                    HC_INC(t->stats->recoveries);
                }
                break;
            }
            t->nopen++;
            if (t->nopened < t->cfg->max_sessions)
                t->opened[t->nopened++] = p->h;
        } else {
            pthread_cond_wait(&t->cond, &t->lock);
            continue;
        }
        if (t->nowed)
            close_owed_locked(t);
        rv = hc_login_locked(t, p->h, need_login, err);
        if (rv != CKR_OK) {
            if (hc_rv_lost(rv) && rv != CKR_USER_NOT_LOGGED_IN) {
                hc_pooled_free(p);
                reset_locked(t);
                HC_INC(t->stats->recoveries);
            } else {
                t->idle[t->nidle++] = p;
            }
            break;
        }
        out->h = p->h;
        out->gen = t->generation;
        out->own = p;
        t->inflight++;
        break;
    }
    if (live) {
        t->live_waiting--;
        if (t->live_waiting == 0)
            pthread_cond_broadcast(&t->cond);
    }
    pthread_mutex_unlock(&t->lock);
    return rv;
}

static void release(hc_token_t *t, const hc_session_t *s, CK_RV rv)
{
    pthread_mutex_lock(&t->lock);
    t->inflight--;
    bool kept = false;
    if (s->gen == t->generation && t->connected) {
        if (hc_rv_lost(rv)) {
            reset_locked(t);
            HC_INC(t->stats->recoveries);
        } else {
            t->idle[t->nidle++] = s->own;
            kept = true;
        }
    }
    if (!kept) /* closed by a reset: its copies go with it */
        hc_pooled_free(s->own);
    if (t->close_pending && t->inflight == 0) {
        close_sessions_locked(t);
        t->close_pending = false;
    }
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

CK_RV hc_pool_run(hc_token_t *t, bool live, bool need_login, hc_pool_fn fn, void *arg,
                  hc_err_t *err)
{
    CK_RV rv;
    for (int attempt = 0;; attempt++) {
        hc_session_t s;
        if ((rv = acquire(t, live, need_login, &s, err)) != CKR_OK)
            return rv;
        rv = fn(t, &s, arg, err);
        release(t, &s, rv);
        if (!hc_rv_lost(rv) || attempt == 1)
            break;
        char b[32];
        hc_log(&t->core->log, HC_LOG_INFO,
               "token %s: session lost (%s); "
               "reconnecting and retrying once",
               t->cfg->name, hc_rv_name(rv, b));
    }
    return rv;
}

CK_RV hc_pool_status(hc_token_t *t, hc_token_status_t *st, hc_err_t *err)
{
    memset(st, 0, sizeof *st);
    snprintf(st->name, sizeof st->name, "%s", t->cfg->name);
    snprintf(st->module, sizeof st->module, "%s", t->cfg->module);
    const hc_config_t *cfg = t->core->cfg;
    hc_pin_version_t ver;
    st->pin_stored = hc_pin_check(cfg->pin_store, t->cfg->name, &ver, NULL) == CKR_OK;
    pthread_mutex_lock(&t->lock);
    /* A live check: a token pulled since the last call shows as absent. */
    if (t->connected) {
        CK_TOKEN_INFO ti;
        CK_RV r = hc_p11_get_token_info(&t->p11, t->slot, &ti, NULL);
        if (r == CKR_OK && token_matches(t->cfg, &ti)) {
            t->info = ti;
        } else {
            reset_locked(t);
            HC_INC(t->stats->recoveries);
        }
    }
    CK_RV rv = connect_locked(t, err);
    st->present = rv == CKR_OK;
    st->info = t->info;
    st->info_valid = t->info_valid;
    st->logged_in = t->logged_in && (t->info.flags & CKF_LOGIN_REQUIRED);
    if (!st->pin_stored)
        memset(&ver, 0, sizeof ver); /* a caller's PIN's mark */
    st->pin_rejected = hc_login_rejected_locked(t, &ver);
    pthread_mutex_unlock(&t->lock);
    return rv;
}

CK_RV hc_pool_connect(hc_token_t *t, hc_err_t *err)
{
    pthread_mutex_lock(&t->lock);
    CK_RV rv = connect_locked(t, err);
    pthread_mutex_unlock(&t->lock);
    return rv;
}

bool hc_token_mech_info_known(hc_token_t *t, CK_MECHANISM_TYPE m, CK_MECHANISM_INFO *info)
{
    bool known = false;
    pthread_mutex_lock(&t->lock);
    for (CK_ULONG i = 0; i < t->nmechs && !known; i++)
        if (t->mechs[i] == m && t->mech_info[i].flags != 0) {
            *info = t->mech_info[i];
            known = true;
        }
    pthread_mutex_unlock(&t->lock);
    return known;
}

CK_RV hc_token_mech_info(hc_token_t *t, CK_MECHANISM_TYPE m, CK_MECHANISM_INFO *info)
{
    CK_RV rv = CKR_MECHANISM_INVALID;
    pthread_mutex_lock(&t->lock);
    for (CK_ULONG i = 0; i < t->nmechs; i++) {
        if (t->mechs[i] != m)
            continue;
        /* No flags: not read yet (no real mechanism has no flags). A
         * failed read is returned, not cached: the token may be gone. */
        rv = CKR_OK;
        if (t->mech_info[i].flags == 0) {
            rv = hc_p11_get_mechanism_info(&t->p11, t->slot, m, &t->mech_info[i], NULL);
            if (rv != CKR_OK)
                memset(&t->mech_info[i], 0, sizeof t->mech_info[i]);
            if (hc_rv_lost(rv) || rv == CKR_SLOT_ID_INVALID) {
                reset_locked(t);
                HC_INC(t->stats->recoveries);
                rv = CKR_TOKEN_NOT_PRESENT;
            }
        }
        *info = t->mech_info[i];
        break;
    }
    pthread_mutex_unlock(&t->lock);
    return rv;
}

void hc_token_raw_mechs(hc_token_t *t, bool *rsa, bool *pss, bool *ecdsa)
{
    pthread_mutex_lock(&t->lock);
    *rsa = t->raw_rsa;
    *pss = t->raw_pss;
    *ecdsa = t->raw_ecdsa;
    pthread_mutex_unlock(&t->lock);
}
