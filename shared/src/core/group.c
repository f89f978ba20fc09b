/*
 * group.c: a token group's members and routing (group.h): which member an
 * operation goes to, moving it to another when a member fails, probing a
 * failed member back, and the group's status and mechanisms. Its keys are
 * groupkeys.c's.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/group.h"
#include "core/keycopy.h"
#include "core/watchdog.h"
#include "util/err.h"

#define RETRY_FIRST_MS 500u
#define RETRY_MAX_MS 10000u

/* 0 is "no limit": the larger. */
static unsigned shorter(long long a, long long b)
{
    if (a <= 0)
        return (unsigned)(b > 0 ? b : 0);
    return (unsigned)(b > 0 && b < a ? b : a);
}

/* Every call of a member is timed (another member can stand in for it),
 * with the shortest of its own `timeout` and its groups'. Before any call:
 * the watch is replaced, not changed under a caller. */
static CK_RV time_member(hc_token_t *gt, hc_token_t *mt)
{
    /* A member of two groups keeps the shortest limit of all: the later
     * group's init must not lift the earlier one's bound. */
    unsigned want = shorter(shorter(mt->cfg->timeout_ms, gt->cfg->timeout_ms),
                            hc_watch_timeout_ms(mt->p11.watch));
    if (want != hc_watch_timeout_ms(mt->p11.watch)) {
        hc_watch_t *w = hc_watch_new(mt->cfg->name, want, &gt->core->log);
        if (!w)
            return CKR_HOST_MEMORY;
        hc_watch_release(mt->p11.watch);
        mt->p11.watch = w;
    }
    hc_watch_every_call(mt->p11.watch, true);
    return CKR_OK;
}

CK_RV hc_group_init(hc_token_t *gt, hc_token_t **members, size_t n)
{
    if (n > HC_GROUP_MAX_MEMBERS)
        return CKR_ARGUMENTS_BAD; /* config_group.c refuses it first */
    for (size_t i = 0; i < n; i++)
        if (time_member(gt, members[i]) != CKR_OK)
            return CKR_HOST_MEMORY;
    hc_group_t *g = calloc(1, sizeof *g);
    if (!g)
        return CKR_HOST_MEMORY;
    pthread_mutex_init(&g->lock, NULL);
    pthread_mutex_init(&g->check_lock, NULL);
    g->n = n;
    for (size_t i = 0; i < n; i++) {
        g->m[i].t = members[i];
        g->m[i].stats = hc_stats_member(&gt->core->stats, gt->cfg->name, members[i]->cfg->name);
        if (g->m[i].stats)
            __atomic_store_n(&g->m[i].stats->up, 1, __ATOMIC_RELAXED);
    }
    gt->group = g;
    return CKR_OK;
}

void hc_group_free(hc_token_t *gt)
{
    hc_group_t *g = gt->group;
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        if (g->m[i].stats) { /* this process no longer routes to it */
            __atomic_store_n(&g->m[i].stats->up, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&g->m[i].stats->down, 0, __ATOMIC_RELAXED);
        }
    pthread_mutex_destroy(&g->check_lock);
    pthread_mutex_destroy(&g->lock);
    free(g);
    gt->group = NULL;
}

bool hc_group_moves_on(CK_RV rv)
{
    switch (rv) {
    case CKR_DEVICE_ERROR: /* also HC_P11_FAULT, a module's violation */
    case CKR_DEVICE_REMOVED:
    case CKR_DEVICE_MEMORY:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SLOT_ID_INVALID:
    case CKR_SESSION_HANDLE_INVALID: /* the pool's own retry failed too */
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_COUNT:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
    case CKR_FUNCTION_CANCELED: /* the call timeout (p11call.h) */
    case CKR_PIN_INCORRECT:     /* this member's PIN: its mark stops it */
    case CKR_PIN_LOCKED:
    case CKR_PIN_EXPIRED:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_USER_NOT_LOGGED_IN: /* no usable PIN file for this member */
    case CKR_USER_PIN_NOT_INITIALIZED:
    case CKR_OBJECT_HANDLE_INVALID: /* the key is gone from this member */
    case CKR_KEY_HANDLE_INVALID: return true;
    default: return false;
    }
}

/* A failure that says nothing of the member's health: the key is missing
 * there. The member stays up. */
static bool key_gone(CK_RV rv)
{
    return rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID;
}

bool hc_group_ambiguous(CK_RV rv)
{
    return rv == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED;
}

static void set_state(hc_member_t *m, bool down)
{
    m->down = down;
    if (m->stats) {
        __atomic_store_n(&m->stats->up, down ? 0 : 1, __ATOMIC_RELAXED);
        __atomic_store_n(&m->stats->down, down ? 1 : 0, __ATOMIC_RELAXED);
    }
}

/* Under g->lock: member m failed. True when it was up until now (the
 * caller logs it); a down member keeps the backoff its probe set. */
static bool fail_locked(hc_member_t *m)
{
    if (m->down)
        return false;
    m->backoff_ms = RETRY_FIRST_MS;
    m->retry_ms = hc_now_ms() + m->backoff_ms;
    set_state(m, true);
    return true;
}

static void log_down(hc_token_t *gt, hc_member_t *m, CK_RV rv, const hc_err_t *e, const char *why)
{
    char b[32];
    hc_log(&gt->core->log, HC_LOG_WARN,
           "token group %s: member %s is down "
           "(%s: %s%s); its operations go to the other members, and it is "
           "tried again in %u ms",
           gt->cfg->name, m->t->cfg->name, hc_rv_name(rv, b), e->msg, why, RETRY_FIRST_MS);
}

/* Under g->lock: the member for the next operation among those not in
 * `tried`, counted in flight, or -1 when every member was tried. A down
 * member whose retry time has come goes first (the operation is its
 * probe, and moves on if it fails: one operation per backoff pays for
 * it); then the up member with the fewest in flight, ties from g->rr on;
 * then, all left being down, the one due first. */
static int pick_locked(hc_group_t *g, uint32_t tried, uint64_t now)
{
    int best = -1, due = -1;
    for (size_t k = 0; k < g->n; k++) {
        size_t i = (g->rr + k) % g->n;
        hc_member_t *m = &g->m[i];
        if (tried & (1u << i))
            continue;
        if (m->down) {
            if (m->retry_ms <= now) {
                best = (int)i;
                break;
            }
            if (due < 0 || m->retry_ms < g->m[due].retry_ms)
                due = (int)i;
        } else if (best < 0 || m->inflight < g->m[best].inflight) {
            best = (int)i;
        }
    }
    if (best < 0)
        best = due;
    if (best < 0)
        return -1;
    hc_member_t *m = &g->m[best];
    if (m->down) { /* the probe: the next one waits for the next backoff */
        m->backoff_ms = m->backoff_ms ? m->backoff_ms * 2 : RETRY_FIRST_MS;
        if (m->backoff_ms > RETRY_MAX_MS)
            m->backoff_ms = RETRY_MAX_MS;
        m->retry_ms = now + m->backoff_ms;
    } else {
        g->rr = ((size_t)best + 1) % g->n;
    }
    m->inflight++;
    if (m->stats) {
        HC_INC(m->stats->routed);
        HC_INC(m->stats->inflight);
    }
    return best;
}

static int pick(hc_group_t *g, uint32_t tried)
{
    pthread_mutex_lock(&g->lock);
    int i = pick_locked(g, tried, hc_now_ms());
    pthread_mutex_unlock(&g->lock);
    return i;
}

/* The operation on member i ended with rv; `counted`: pick() counted it
 * in flight. An ambiguous answer (hc_group_ambiguous) is counted by its
 * verdict (judged()), once another member answered the same operation. */
static void done(hc_token_t *gt, size_t i, CK_RV rv, const hc_err_t *e, bool counted)
{
    hc_group_t *g = gt->group;
    hc_member_t *m = &g->m[i];
    bool failed = hc_group_moves_on(rv) && !key_gone(rv), newly = false;
    pthread_mutex_lock(&g->lock);
    if (counted)
        m->inflight--;
    bool was_down = m->down;
    if (failed)
        newly = fail_locked(m);
    else if (was_down && rv == CKR_OK) {
        set_state(m, false);
        m->backoff_ms = 0;
    }
    pthread_mutex_unlock(&g->lock);
    if (m->stats && counted) {
        __atomic_fetch_sub(&m->stats->inflight, 1, __ATOMIC_RELAXED);
        if (hc_group_moves_on(rv))
            HC_INC(m->stats->errors);
        else if (!hc_group_ambiguous(rv))
            HC_INC(m->stats->served);
    }
    if (newly)
        log_down(gt, m, rv, e, "");
    else if (was_down && rv == CKR_OK)
        hc_log(&gt->core->log, HC_LOG_INFO,
               "token group %s: member %s is up "
               "again",
               gt->cfg->name, m->t->cfg->name);
}

/* The verdict on member i's ambiguous answer rv: `by` (another member)
 * did the same operation, so i is at fault (down, an error, a failover);
 * or by is NULL: the answer was the data's, served. */
static void judged(hc_token_t *gt, size_t i, CK_RV rv, const hc_err_t *e, const char *by)
{
    hc_group_t *g = gt->group;
    hc_member_t *m = &g->m[i];
    if (!by) {
        if (m->stats)
            HC_INC(m->stats->served);
        return;
    }
    pthread_mutex_lock(&g->lock);
    bool newly = fail_locked(m);
    pthread_mutex_unlock(&g->lock);
    if (m->stats) {
        HC_INC(m->stats->errors);
        HC_INC(m->stats->failovers);
    }
    char why[128];
    snprintf(why, sizeof why, "; member %s did the same operation", by);
    if (newly)
        log_down(gt, m, rv, e, why);
}

void hc_group_note(hc_token_t *gt, size_t i, CK_RV rv, const hc_err_t *e)
{
    done(gt, i, rv, e, false);
}

/* One attempt on member i: the caller's operation. */
typedef CK_RV (*attempt_fn)(hc_token_t *gt, size_t i, void *arg, hc_err_t *err);

/* Runs `fn` on members, in pick() order, until one answers (CKR_OK or an
 * error that is the caller's answer) or every member failed. `what` names
 * the operation in messages.
 *
 * An ambiguous answer (hc_group_ambiguous: the data's or a broken
 * member's) is checked once on another member: if that one succeeds, the
 * first is at fault (down, probed back) and the caller gets the success;
 * if it answers with an error too, the answer was the data's and no
 * member is marked: the check's answer is returned when it is precise
 * (not ambiguous itself), else the first. A member that fails the check
 * with a device error moves it on to the next; the returned message names
 * the vague answer and those of the members that moved on. */
static CK_RV route(hc_token_t *gt, const char *what, attempt_fn fn, void *arg, hc_err_t *err)
{
    hc_group_t *g = gt->group;
    uint32_t tried = 0;
    CK_RV first = CKR_OK, doubt_rv = CKR_OK;
    char msgs[sizeof err->msg] = "";
    hc_err_t doubt_err = { 0 };
    int i, prev = -1, moved = -1, doubt = -1;
    while ((i = pick(g, tried)) >= 0) {
        tried |= 1u << i;
        if (moved >= 0 && g->m[moved].stats)
            HC_INC(g->m[moved].stats->failovers);
        moved = -1;
        hc_err_t e = { 0 };
        CK_RV rv = fn(gt, (size_t)i, arg, &e);
        done(gt, (size_t)i, rv, &e, true);
        if (doubt >= 0 && !hc_group_moves_on(rv)) {
            judged(gt, (size_t)doubt, doubt_rv, &doubt_err,
                   rv == CKR_OK ? g->m[i].t->cfg->name : NULL);
            if (rv == CKR_OK)
                return rv;
            if (hc_group_ambiguous(rv))
                judged(gt, (size_t)i, rv, &e, NULL);
            /* CKR_BUFFER_TOO_SMALL speaks of the core's own buffer (the
             * callers pass one of the largest size), not of the data: a
             * member's odd answer, never the host's. */
            if (hc_group_ambiguous(rv) || rv == CKR_BUFFER_TOO_SMALL)
                break; /* the first answer below */
            /* The check's answer says what is wrong (CKR_DATA_LEN_RANGE,
             * CKR_MECHANISM_PARAM_INVALID, ...): the host's, with the
             * vague one and those of members that moved on named. */
            char b[32];
            return hc_err(err, rv,
                          "token group %s, member %s: %s (member %s "
                          "answered %s first: %s%s%s)",
                          gt->cfg->name, g->m[i].t->cfg->name, e.msg, g->m[doubt].t->cfg->name,
                          hc_rv_name(doubt_rv, b), doubt_err.msg, msgs[0] ? "; " : "", msgs);
        }
        if (doubt < 0 && hc_group_ambiguous(rv)) {
            doubt = i;
            doubt_rv = rv;
            doubt_err = e;
            continue;
        }
        if (!hc_group_moves_on(rv)) {
            if (rv != CKR_OK && err)
                hc_err(err, rv, "token group %s, member %s: %s", gt->cfg->name,
                       g->m[i].t->cfg->name, e.msg);
            return rv;
        }
        if (first == CKR_OK)
            first = rv;
        char b[32];
        size_t used = strlen(msgs);
        snprintf(msgs + used, sizeof msgs - used, "%s%s: %s (%s)", used ? "; " : "",
                 g->m[i].t->cfg->name, e.msg[0] ? e.msg : "failed", hc_rv_name(rv, b));
        prev = moved = i;
    }
    if (doubt >= 0) {
        if (i < 0) /* no other member could check it: the answer stands */
            judged(gt, (size_t)doubt, doubt_rv, &doubt_err, NULL);
        return hc_err(err, doubt_rv, "token group %s, member %s: %s%s%s%s", gt->cfg->name,
                      g->m[doubt].t->cfg->name, doubt_err.msg, msgs[0] ? " (moved on: " : "", msgs,
                      msgs[0] ? ")" : "");
    }
    if (prev >= 0 && tried != (1u << prev))
        hc_log(&gt->core->log, HC_LOG_ERROR,
               "token group %s: %s failed on every "
               "member: %s",
               gt->cfg->name, what, msgs);
    return hc_err(err, first ? first : CKR_TOKEN_NOT_PRESENT,
                  "token group %s: "
                  "%s failed on every member: %s",
                  gt->cfg->name, what, msgs);
}

struct key_attempt {
    hc_keyent_t *ge;
    bool live, need_login, signing;
    hc_key_op_fn fn;
    void *arg;
};

static CK_RV key_attempt(hc_token_t *gt, size_t i, void *arg, hc_err_t *err)
{
    struct key_attempt *k = arg;
    hc_token_t *mt = gt->group->m[i].t;
    hc_keyent_t *me;
    CK_RV rv = hc_group_member_key(gt, k->ge, i, &me, err);
    if (rv != CKR_OK)
        return rv;
    uint64_t epoch = hc_keyindex_epoch(mt, me);
    rv = k->signing ? hc_key_run_signing(mt, me, k->live, k->fn, k->arg, err)
                    : hc_key_run(mt, me, k->live, k->need_login, k->fn, k->arg, err);
    if (hc_keyindex_epoch(mt, me) != epoch) {
        /* The member's object was destroyed during the call and perhaps
         * found again under its identity: the answer may be another key
         * pair's. Not used; the next use compares that member again. */
        char name[300];
        return hc_err(err, CKR_KEY_HANDLE_INVALID,
                      "token %s: key %s was destroyed "
                      "or replaced during the operation; its answer is not used",
                      mt->cfg->name, hc_keyent_name(me, name, sizeof name));
    }
    if (!k->signing)
        return rv;
    if (rv == HC_SIGN_MISMATCH) {
        /* Never delivered (sign_op): the member's failure, so the
         * operation moves on; its key is found and compared again. */
        hc_group_member_renew(gt, k->ge, i, me);
        return hc_err_append(err, CKR_DEVICE_ERROR,
                             "; its key is compared with "
                             "the group's again before its next use");
    }
    hc_member_stats_t *ms = gt->group->m[i].stats;
    if (rv == CKR_OK && ms)
        HC_INC(ms->signs);
    return rv;
}

CK_RV hc_group_key_run(hc_token_t *gt, hc_keyent_t *ge, bool live, bool need_login, bool signing,
                       hc_key_op_fn fn, void *arg, hc_err_t *err)
{
    /* The public keys first: a refused or replaced key is used on no
     * member (a key no member gave a public key for yet is tried). */
    CK_RV rv = hc_group_public(gt, ge, err);
    if (rv == CKR_OBJECT_HANDLE_INVALID ||
        (rv == CKR_KEY_TYPE_INCONSISTENT && hc_group_key_refused(gt, ge)))
        return rv;
    struct key_attempt k = { ge, live, need_login, signing, fn, arg };
    char name[300];
    char what[340];
    snprintf(what, sizeof what, "key %s", hc_keyent_name(ge, name, sizeof name));
    return route(gt, what, key_attempt, &k, err);
}

struct pool_attempt {
    bool live, need_login;
    hc_pool_fn fn;
    void *arg;
};

static CK_RV pool_attempt(hc_token_t *gt, size_t i, void *arg, hc_err_t *err)
{
    struct pool_attempt *p = arg;
    return hc_pool_run(gt->group->m[i].t, p->live, p->need_login, p->fn, p->arg, err);
}

CK_RV hc_group_pool_run(hc_token_t *gt, bool live, bool need_login, hc_pool_fn fn, void *arg,
                        hc_err_t *err)
{
    struct pool_attempt p = { live, need_login, fn, arg };
    return route(gt, "the operation", pool_attempt, &p, err);
}

static CK_RV nop_op(hc_token_t *t, const hc_session_t *s, void *arg, hc_err_t *err)
{
    (void)t, (void)s, (void)arg, (void)err;
    return CKR_OK;
}

CK_RV hc_group_login(hc_token_t *gt, const unsigned char *pin, size_t len, hc_err_t *err)
{
    hc_group_t *g = gt->group;
    CK_RV first = CKR_OK;
    bool one = false;
    hc_err_t firsterr = { 0 };
    for (size_t i = 0; i < g->n; i++) {
        hc_token_t *mt = g->m[i].t;
        hc_err_t e = { 0 };
        CK_RV rv = pin ? hc_pool_set_caller_pin(mt, pin, len, &e) : CKR_OK;
        if (rv == CKR_OK)
            rv = hc_pool_run(mt, true, true, nop_op, NULL, &e);
        if (rv == CKR_OK) {
            one = true;
        } else if (first == CKR_OK) {
            first = rv;
            firsterr = e;
        }
    }
    if (one)
        return CKR_OK;
    return hc_err(err, first, "token group %s: no member logged in (first: %s)", gt->cfg->name,
                  firsterr.msg);
}

/* "a: why; b: why" for the members that are not usable now. */
static void member_problems(hc_token_t *gt, hc_token_status_t *st, char *buf, size_t size,
                            size_t *usable)
{
    hc_group_t *g = gt->group;
    *usable = 0;
    bool login_required = false, all_stored = true, any_rejected = false, any_logged = false;
    for (size_t i = 0; i < g->n; i++) {
        hc_token_t *mt = g->m[i].t;
        hc_token_status_t ms;
        hc_err_t e = { 0 };
        CK_RV rv = hc_pool_status(mt, &ms, &e);
        pthread_mutex_lock(&g->lock);
        bool down = g->m[i].down;
        pthread_mutex_unlock(&g->lock);
        size_t used = strlen(buf);
        const char *sep = used ? "; " : "";
        if (rv != CKR_OK)
            snprintf(buf + used, size - used, "%smember %s: %s", sep, mt->cfg->name, e.msg);
        else if (ms.pin_rejected)
            snprintf(buf + used, size - used,
                     "%smember %s rejected its PIN file "
                     "(hsmcache pin set %s)",
                     sep, mt->cfg->name, mt->cfg->name);
        else if (down)
            snprintf(buf + used, size - used,
                     "%smember %s is down (its last "
                     "operation failed; it is tried again by itself)",
                     sep, mt->cfg->name);
        else
            (*usable)++;
        if (ms.info_valid) {
            login_required |= (ms.info.flags & CKF_LOGIN_REQUIRED) != 0;
            if (!st->info_valid) {
                st->info = ms.info; /* flags, limits, versions: a member's */
                st->info_valid = true;
            }
        }
        all_stored = all_stored && ms.pin_stored;
        any_rejected = any_rejected || ms.pin_rejected;
        any_logged = any_logged || ms.logged_in;
        st->present = st->present || ms.present;
    }
    st->pin_stored = all_stored;
    st->pin_rejected = any_rejected;
    st->logged_in = any_logged;
    if (login_required)
        st->info.flags |= CKF_LOGIN_REQUIRED;
}

static void pad(unsigned char *field, size_t size, const char *text)
{
    memset(field, ' ', size);
    size_t n = strlen(text);
    memcpy(field, text, n < size ? n : size);
}

CK_RV hc_group_status(hc_token_t *gt, hc_token_status_t *st, hc_err_t *err)
{
    memset(st, 0, sizeof *st);
    snprintf(st->name, sizeof st->name, "%s", gt->cfg->name);
    hc_group_t *g = gt->group;
    size_t used = (size_t)snprintf(st->module, sizeof st->module, "group of");
    for (size_t i = 0; i < g->n && used < sizeof st->module; i++)
        used += (size_t)snprintf(st->module + used, sizeof st->module - used, "%s %s", i ? "," : "",
                                 g->m[i].t->cfg->name);
    char problems[sizeof err->msg] = "", refused[sizeof err->msg] = "";
    size_t usable;
    member_problems(gt, st, problems, sizeof problems, &usable);
    if (usable > 0)
        hc_group_check_all(gt);
    hc_group_refusals(gt, refused, sizeof refused);
    /* The group's own identity: hosts see its name, not a member's. */
    pad(st->info.label, sizeof st->info.label, gt->cfg->name);
    pad(st->info.manufacturerID, sizeof st->info.manufacturerID, "hsmcache");
    pad(st->info.model, sizeof st->info.model, "token group");
    pad(st->info.serialNumber, sizeof st->info.serialNumber, gt->cfg->name);
    st->info.flags |= CKF_TOKEN_INITIALIZED;
    st->info_valid = true;
    if (!problems[0] && !refused[0])
        return CKR_OK;
    if (!problems[0])
        return hc_err(err, CKR_GENERAL_ERROR, "token group %s: %s", gt->cfg->name, refused);
    return hc_err(err, usable ? CKR_GENERAL_ERROR : CKR_TOKEN_NOT_PRESENT,
                  "token group %s: %zu of %zu members usable: %s%s%s", gt->cfg->name, usable, g->n,
                  problems, refused[0] ? "; " : "", refused);
}

/* Under nothing: member i's mechanism list (connecting if it must), or
 * false when it has none to give. *list malloc'ed. */
static bool member_mechs(hc_token_t *mt, CK_MECHANISM_TYPE **list, CK_ULONG *n)
{
    hc_pool_connect(mt, NULL); /* what an earlier connection read will do */
    pthread_mutex_lock(&mt->lock);
    *n = mt->nmechs;
    *list = *n ? malloc(*n * sizeof **list) : NULL;
    if (*list)
        memcpy(*list, mt->mechs, *n * sizeof **list);
    pthread_mutex_unlock(&mt->lock);
    return *list != NULL;
}

CK_RV hc_group_mechanisms(hc_token_t *gt, CK_MECHANISM_TYPE *list, CK_ULONG *count, hc_err_t *err)
{
    hc_group_t *g = gt->group;
    CK_MECHANISM_TYPE *common = NULL;
    CK_ULONG ncommon = 0;
    bool any = false;
    for (size_t i = 0; i < g->n; i++) {
        CK_MECHANISM_TYPE *ml;
        CK_ULONG n;
        if (!member_mechs(g->m[i].t, &ml, &n))
            continue;
        if (!any) {
            common = ml;
            ncommon = n;
            any = true;
            continue;
        }
        CK_ULONG kept = 0;
        for (CK_ULONG a = 0; a < ncommon; a++)
            for (CK_ULONG b = 0; b < n; b++)
                if (common[a] == ml[b]) {
                    common[kept++] = common[a];
                    break;
                }
        ncommon = kept;
        free(ml);
    }
    if (!any)
        return hc_err(err, CKR_TOKEN_NOT_PRESENT,
                      "token group %s: no member "
                      "answered (their mechanisms are not known yet)",
                      gt->cfg->name);
    CK_RV rv = CKR_OK;
    if (list && *count < ncommon)
        rv = CKR_BUFFER_TOO_SMALL;
    else if (list)
        memcpy(list, common, ncommon * sizeof *list);
    *count = ncommon;
    free(common);
    return rv;
}

CK_RV hc_group_mechanism_info(hc_token_t *gt, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info,
                              hc_err_t *err)
{
    hc_group_t *g = gt->group;
    bool any = false;
    CK_RV missing = CKR_OK;
    for (size_t i = 0; i < g->n; i++) {
        hc_token_t *mt = g->m[i].t;
        CK_MECHANISM_INFO mi;
        CK_RV rv = hc_token_mech_info_known(mt, type, &mi) ? CKR_OK
                   : hc_pool_connect(mt, NULL) == CKR_OK   ? hc_token_mech_info(mt, type, &mi)
                                                           : CKR_TOKEN_NOT_PRESENT;
        if (rv == CKR_MECHANISM_INVALID)
            missing = rv; /* a member lacks it: so does the group */
        if (rv != CKR_OK)
            continue;
        if (!any) {
            *info = mi;
            any = true;
            continue;
        }
        info->flags &= mi.flags;
        if (mi.ulMinKeySize > info->ulMinKeySize)
            info->ulMinKeySize = mi.ulMinKeySize;
        if (mi.ulMaxKeySize < info->ulMaxKeySize)
            info->ulMaxKeySize = mi.ulMaxKeySize;
    }
    if (missing != CKR_OK)
        return missing;
    if (!any)
        return hc_err(err, CKR_TOKEN_NOT_PRESENT,
                      "token group %s: no member "
                      "answered",
                      gt->cfg->name);
    return CKR_OK;
}

CK_RV hc_group_refuse_keys(hc_token_t *gt, const char *what, hc_err_t *err)
{
    hc_group_t *g = gt->group;
    char names[HC_GROUP_MAX_MEMBERS * 66] = "";
    for (size_t i = 0; i < g->n; i++) {
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", g->m[i].t->cfg->name);
    }
    return hc_err(err, CKR_FUNCTION_NOT_SUPPORTED,
                  "token %s is a group of %s: "
                  "keys are not %s on a group; %s the key on each member with "
                  "the vendor's tools (an HSM cluster replicates it; for two "
                  "cards or SoftHSM, import the same key pair into each: see "
                  "the README, \"Token groups\")",
                  gt->cfg->name, names, what,
                  strcmp(what, "generated") == 0 ? "create or import" : "remove");
}
