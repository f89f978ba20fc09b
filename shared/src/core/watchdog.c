/*
 * watchdog.c: runner threads and each token's hung state (watchdog.h).
 * A runner and its caller decide who owns a job by one compare-and-swap
 * on the runner's state: the runner's RUNNING -> DONE (the caller takes
 * the job back) or the caller's RUNNING -> ABANDONED at its deadline (the
 * runner frees the job when the module returns). Runners are never freed,
 * so either side may touch one after the other has moved on.
 */
#include "core/watchdog.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/err.h"

#define PROBE_FIRST_MS 1000u
#define PROBE_MAX_MS 30000u

enum { RUNNING, DONE, ABANDONED };

struct runner {
    sem_t go, done;
    hc_watch_job_t *job;
    int state;           /* RUNNING, DONE, ABANDONED (atomic) */
    struct runner *next; /* in the idle list */
};

struct hc_watch {
    char token[64];
    unsigned timeout_ms;
    const hc_logger_t *log; /* NULL once released */
    bool every;             /* atomic */
    bool hung;              /* atomic reads; written under lock */
    pthread_mutex_t lock;
    unsigned held, held_logins;
    bool released;
    char what[32]; /* the call that did not answer */
    uint64_t hung_at_ms, next_probe_ms;
    unsigned backoff_ms;
    uint64_t timeouts, refused;
    hc_watch_report_t armed; /* for the next login job (answered NULL: none) */
};

static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static struct runner *idle;

/* Calls held per module, for hc_watch_held_in (a module's watches may be
 * released before it is finalized). Under held_lock; calls in modules
 * beyond the first MAX_MODULES count for every module. */
#define MAX_MODULES 64
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const CK_FUNCTION_LIST *fl;
    unsigned held;
} held_by[MAX_MODULES];
static unsigned held_other;

static void module_held(const CK_FUNCTION_LIST *fl, int delta)
{
    pthread_mutex_lock(&held_lock);
    size_t i = 0, free_at = MAX_MODULES;
    for (; i < MAX_MODULES && held_by[i].fl != fl; i++)
        if (!held_by[i].fl && free_at == MAX_MODULES)
            free_at = i;
    if (i == MAX_MODULES && free_at < MAX_MODULES)
        held_by[i = free_at].fl = fl;
    unsigned *n = i < MAX_MODULES ? &held_by[i].held : &held_other;
    *n = (unsigned)((int)*n + delta);
    pthread_mutex_unlock(&held_lock);
}

unsigned hc_watch_held_in(const CK_FUNCTION_LIST *fl)
{
    pthread_mutex_lock(&held_lock);
    unsigned n = held_other;
    for (size_t i = 0; i < MAX_MODULES; i++)
        if (held_by[i].fl == fl)
            n += held_by[i].held;
    pthread_mutex_unlock(&held_lock);
    return n;
}

static void *runner_main(void *arg);

/* The child starts with no runners (they stayed in the parent; their
 * structs leak) and a fresh lock: the list it guarded is dropped whole,
 * so the lock is not taken before fork() (taken there, after a host's own
 * prefork handler that takes the host's lock, it ordered the two locks
 * against a host calling in with its lock held: ThreadSanitizer's
 * lock-order inversion through the front). */
static void after_fork_child(void)
{
    idle = NULL;
    idle_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    /* Likewise the per-module counts: the calls they count are held by
     * runner threads the child does not have (another parent thread may
     * also have held the lock at fork). A token's own watch is not reset:
     * a child calls in through a context it opens itself (see
     * watchdog.h). */
    held_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    memset(held_by, 0, sizeof held_by);
    held_other = 0;
}
/* Runner threads run this library's code for as long as the process
 * lives (an idle one wakes in runner_main, one that just answered goes
 * back to its wait): the library stays mapped once one exists, whatever
 * the host's dlclose() (pkcs11-tool unloads the front right before exit;
 * a runner returning from its last job into unmapped code crashed it). */
static void keep_mapped(void)
{
    Dl_info di;
    if (dladdr((void *)runner_main, &di) && di.dli_fname)
        dlopen(di.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void install_atfork(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
    keep_mapped();
}

static void give_back(struct runner *r)
{
    pthread_mutex_lock(&idle_lock);
    r->next = idle;
    idle = r;
    pthread_mutex_unlock(&idle_lock);
}

static void report_drop(hc_watch_report_t *r)
{
    if (r->drop)
        r->drop(r->arg);
    memset(r, 0, sizeof *r);
}

static void watch_free(hc_watch_t *w)
{
    report_drop(&w->armed);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* A held call returned: the device answers again. */
static void held_returned(hc_watch_t *w, const CK_FUNCTION_LIST *fl, bool login, const char *fn)
{
    module_held(fl, -1);
    pthread_mutex_lock(&w->lock);
    w->held--;
    if (login)
        w->held_logins--;
    bool was = w->hung;
    __atomic_store_n(&w->hung, false, __ATOMIC_RELEASE);
    w->backoff_ms = 0;
    bool gone = w->released && w->held == 0;
    if (!w->released && w->log)
        hc_log(w->log, was ? HC_LOG_INFO : HC_LOG_DEBUG,
               "token %s: a %s left "
               "behind returned after %llu ms: the token answers again (%u "
               "call(s) still held)",
               w->token, fn, (unsigned long long)(hc_now_ms() - w->hung_at_ms), w->held);
    pthread_mutex_unlock(&w->lock);
    if (gone)
        watch_free(w);
}

static void *runner_main(void *arg)
{
    struct runner *r = arg;
    for (;;) {
        while (sem_wait(&r->go) != 0)
            ;
        hc_watch_job_t *job = r->job;
        job->run(job);
        int expect = RUNNING;
        if (__atomic_compare_exchange_n(&r->state, &expect, DONE, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            sem_post(&r->done); /* the caller gives the runner back */
            continue;
        }
        /* Abandoned: the caller has gone; the job is ours to free. A
         * login's answer is reported while the token still counts as
         * hung, so no login is tried before its verdict is kept. */
        hc_watch_t *w = job->w;
        bool login = job->login;
        const char *fn = job->fn;
        const CK_FUNCTION_LIST *fl = job->fl;
        if (job->report.answered)
            job->report.answered(job->report.arg, job->answer);
        report_drop(&job->report);
        job->free(job);
        held_returned(w, fl, login, fn);
        give_back(r);
    }
    return NULL;
}

/* An idle runner, or a new one; NULL when no thread can be made. */
static struct runner *take_runner(void)
{
    pthread_once(&atfork_once, install_atfork);
    pthread_mutex_lock(&idle_lock);
    struct runner *r = idle;
    if (r)
        idle = r->next;
    pthread_mutex_unlock(&idle_lock);
    if (r)
        return r;
    if (!(r = calloc(1, sizeof *r)))
        return NULL;
    sem_init(&r->go, 0, 0);
    sem_init(&r->done, 0, 0);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* The host's signals stay on the host's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t th;
    int e = pthread_create(&th, &attr, runner_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        sem_destroy(&r->go);
        sem_destroy(&r->done);
        free(r);
        return NULL;
    }
    return r;
}

hc_watch_t *hc_watch_new(const char *token, unsigned timeout_ms, const hc_logger_t *log)
{
    hc_watch_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    snprintf(w->token, sizeof w->token, "%s", token);
    w->timeout_ms = timeout_ms;
    w->log = log;
    pthread_mutex_init(&w->lock, NULL);
    return w;
}

void hc_watch_release(hc_watch_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->released = true;
    w->log = NULL;
    bool now = w->held == 0;
    pthread_mutex_unlock(&w->lock);
    if (now)
        watch_free(w);
}

void hc_watch_every_call(hc_watch_t *w, bool on)
{
    __atomic_store_n(&w->every, on, __ATOMIC_RELAXED);
}

bool hc_watch_times_every_call(const hc_watch_t *w)
{
    return __atomic_load_n(&w->every, __ATOMIC_RELAXED);
}

unsigned hc_watch_timeout_ms(const hc_watch_t *w)
{
    return w->timeout_ms;
}

bool hc_watch_hung(const hc_watch_t *w)
{
    return __atomic_load_n(&w->hung, __ATOMIC_ACQUIRE);
}

void hc_watch_counts(hc_watch_t *w, hc_watch_counts_t *out)
{
    pthread_mutex_lock(&w->lock);
    out->timeouts = w->timeouts;
    out->refused = w->refused;
    out->held = w->held;
    out->hung = w->hung;
    pthread_mutex_unlock(&w->lock);
}

/* Under w->lock: the refusal of `fn` while hung. */
static CK_RV refuse_locked(hc_watch_t *w, const char *fn, hc_err_t *err)
{
    w->refused++;
    uint64_t now = hc_now_ms();
    char next[64] = "no probe while calls are held";
    if (w->held < HC_WATCH_MAX_HELD && w->held_logins == 0)
        snprintf(next, sizeof next, "next probe in %llu ms",
                 (unsigned long long)(w->next_probe_ms > now ? w->next_probe_ms - now : 0));
    hc_err(err, HC_P11_HUNG,
           "token %s: %s not called: the token is "
           "hung (%s did not answer within %u ms, %llu ms ago; %u call(s) "
           "held); %s",
           w->token, fn, w->what, w->timeout_ms, (unsigned long long)(now - w->hung_at_ms), w->held,
           next);
    return HC_WATCH_REFUSED;
}

struct probe {
    hc_watch_job_t hdr;
    CK_FUNCTION_LIST *fl;
};

static void probe_run(hc_watch_job_t *job)
{
    CK_ULONG n = 0;
    ((struct probe *)job)->fl->C_GetSlotList(CK_TRUE, NULL, &n);
}

static void probe_free(hc_watch_job_t *job)
{
    free(job);
}

/* Under w->lock, hung: the next probe, when it is due. It runs already
 * abandoned: nobody waits for it, it is held until it returns, and its
 * return (any answer) ends the hang (held_returned). A slot list query
 * with tokenPresent: a module must reach its devices to answer it. */
static void probe_locked(hc_watch_t *w, CK_FUNCTION_LIST *fl)
{
    uint64_t now = hc_now_ms();
    if (!fl || now < w->next_probe_ms || w->held >= HC_WATCH_MAX_HELD || w->held_logins > 0)
        return;
    w->backoff_ms = w->backoff_ms * 2 > PROBE_MAX_MS ? PROBE_MAX_MS : w->backoff_ms * 2;
    w->next_probe_ms = now + w->backoff_ms;
    struct probe *pr = calloc(1, sizeof *pr);
    struct runner *r = pr ? take_runner() : NULL;
    if (!r) {
        free(pr);
        return;
    }
    *pr = (struct probe){ .hdr = { .run = probe_run,
                                   .free = probe_free,
                                   .w = w,
                                   .fn = "probe (C_GetSlotList)",
                                   .fl = fl },
                          .fl = fl };
    w->held++;
    module_held(fl, +1);
    r->job = &pr->hdr;
    __atomic_store_n(&r->state, ABANDONED, __ATOMIC_RELEASE);
    sem_post(&r->go);
}

/* Refused (HC_WATCH_REFUSED) while hung, a probe launched when due. */
static CK_RV admit(hc_watch_t *w, CK_FUNCTION_LIST *fl, const char *fn, hc_err_t *err)
{
    if (!hc_watch_hung(w))
        return CKR_OK;
    pthread_mutex_lock(&w->lock);
    CK_RV rv = CKR_OK;
    if (w->hung) {
        probe_locked(w, fl);
        rv = refuse_locked(w, fn, err);
    }
    pthread_mutex_unlock(&w->lock);
    return rv;
}

CK_RV hc_watch_enter(hc_watch_t *w, CK_FUNCTION_LIST *fl, const char *fn, hc_err_t *err)
{
    return admit(w, fl, fn, err);
}

/* Under w->lock: `fn` did not answer in time and is held now. */
static CK_RV timed_out_locked(hc_watch_t *w, const CK_FUNCTION_LIST *fl, const char *fn, bool login,
                              hc_err_t *err)
{
    w->timeouts++;
    w->held++;
    module_held(fl, +1);
    if (login)
        w->held_logins++;
    uint64_t now = hc_now_ms();
    if (!w->hung) {
        w->hung_at_ms = now;
        snprintf(w->what, sizeof w->what, "%s", fn);
    }
    if (!w->backoff_ms) { /* the first probe in PROBE_FIRST_MS */
        w->backoff_ms = PROBE_FIRST_MS;
        w->next_probe_ms = now + PROBE_FIRST_MS;
    }
    __atomic_store_n(&w->hung, true, __ATOMIC_RELEASE);
    hc_err_t e;
    hc_err(&e, HC_P11_TIMEOUT,
           "token %s: %s did not answer within %u ms "
           "([token] timeout); the call is left behind (%u held) and the token "
           "is marked hung: its calls fail at once until it answers again "
           "(next probe in %llu ms)",
           w->token, fn, w->timeout_ms, w->held, (unsigned long long)(w->next_probe_ms - now));
    if (w->log)
        hc_log(w->log, HC_LOG_ERROR, "%s", e.msg);
    if (err)
        *err = e;
    return HC_WATCH_TIMED_OUT;
}

void hc_watch_report_login(hc_watch_t *w, const hc_watch_report_t *r)
{
    pthread_mutex_lock(&w->lock);
    hc_watch_report_t old = w->armed;
    if (r)
        w->armed = *r;
    else
        memset(&w->armed, 0, sizeof w->armed);
    pthread_mutex_unlock(&w->lock);
    report_drop(&old);
}

CK_RV hc_watch_run(hc_watch_t *w, CK_FUNCTION_LIST *fl, hc_watch_job_t *job, const char *fn,
                   hc_err_t *err)
{
    job->w = w;
    job->fn = fn;
    job->fl = fl;
    memset(&job->report, 0, sizeof job->report);
    if (job->login) {
        pthread_mutex_lock(&w->lock);
        job->report = w->armed;
        memset(&w->armed, 0, sizeof w->armed);
        pthread_mutex_unlock(&w->lock);
    }
    if (w->timeout_ms == 0) {
        job->run(job);
        report_drop(&job->report); /* answered: the caller has the answer */
        return CKR_OK;
    }
    CK_RV rv = admit(w, fl, fn, err);
    if (rv != CKR_OK) {
        report_drop(&job->report);
        job->free(job);
        return rv;
    }
    struct runner *r = take_runner();
    if (!r) { /* no thread to wait on: the call is made here, untimed */
        job->run(job);
        report_drop(&job->report);
        return CKR_OK;
    }
    struct timespec at = hc_deadline_in_ms(w->timeout_ms);
    bool login = job->login; /* once abandoned, the job is the runner's */
    r->job = job;
    __atomic_store_n(&r->state, RUNNING, __ATOMIC_RELEASE);
    sem_post(&r->go);
    int e;
    while ((e = sem_clockwait(&r->done, CLOCK_MONOTONIC, &at)) != 0 && errno == EINTR)
        ;
    if (e != 0) {
        /* Under w->lock, so that a runner returning right after the swap
         * (held_returned) finds the call counted as held. */
        pthread_mutex_lock(&w->lock);
        int expect = RUNNING;
        if (__atomic_compare_exchange_n(&r->state, &expect, ABANDONED, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            rv = timed_out_locked(w, fl, fn, login, err);
            pthread_mutex_unlock(&w->lock);
            return rv;
        }
        pthread_mutex_unlock(&w->lock);
        while (sem_wait(&r->done) != 0) /* it answered just now */
            ;
    }
    /* Pairs with the runner's swap to DONE: what it wrote is ours to read
     * (as the semaphore already says; an explicit edge for checkers). */
    (void)__atomic_load_n(&r->state, __ATOMIC_ACQUIRE);
    give_back(r);
    report_drop(&job->report); /* answered in time: the caller judges it */
    return CKR_OK;
}
