/*
 * watchdog.h: a time limit on calls into a PKCS#11 module ([token]
 * timeout). A module call cannot be interrupted, so a call the limit
 * applies to runs on a runner thread while its caller waits up to the
 * token's timeout. A module that does not answer in time keeps the runner
 * (the call is "held": counted, never waited for again) together with
 * everything the call can touch, which is the job's own memory, never the
 * caller's; the caller gets an error at once, and the token is marked
 * hung: its calls fail at once, with a message naming the call that did not
 * answer, until the device answers again, that is until a held call
 * returns, whatever it answers. No caller waits for a hung device again:
 * while hung, a probe (C_GetSlotList with tokenPresent, on a runner nobody
 * waits for, held until it returns) is started by a refused call once per
 * backoff period, 1 s doubling to 30 s; none while HC_WATCH_MAX_HELD calls
 * are held, nor while a C_Login is held, so no PIN is tried again (the
 * pool logs in anew once the token answers) while the answer to one sent
 * is unknown; that answer, when it comes, goes to the login's report
 * (hc_watch_report_login).
 *
 * Runner threads are shared by every watch in the process, created on
 * demand and kept for reuse (idle ones wait on a semaphore; they run with
 * every signal blocked). A runner whose call is held rejoins the idle ones
 * when the module returns. After fork() the child starts with none and no
 * held calls counted per module; a watch made before the fork is not for
 * the child (its lock and held calls are the parent's): a child calls in
 * through a context, and tokens, it opens itself, as PKCS#11 asks a child
 * to C_Initialize again. Once a
 * runner exists, the library holding this code is never unmapped (a
 * host's dlclose() of the PKCS#11 front leaves it loaded: runners run it
 * until the process exits).
 *
 * Thread-safety: every function is safe from any thread; a watch is
 * freed by hc_watch_release once no call of it is held.
 */
#ifndef HC_WATCHDOG_H
#define HC_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>

#include "hsmcache.h"
#include "util/log.h"

/* What p11call.h's wrappers return for a call that did not answer in
 * time, and for one refused while its token is hung: a "lost" value
 * (pool.c's hc_rv_lost), so the pool drops its sessions (the held call's
 * among them, never used again) and backs off, passing the message on (a
 * CKR_TOKEN_NOT_PRESENT while connecting would be told as "no token with
 * label ..."). hc_watch_hung() tells them from a module's own value. */
#define HC_P11_TIMEOUT CKR_DEVICE_REMOVED
#define HC_P11_HUNG CKR_DEVICE_REMOVED
/* hc_watch_run's and hc_watch_enter's own results (besides CKR_OK). */
#define HC_WATCH_TIMED_OUT CKR_FUNCTION_CANCELED
#define HC_WATCH_REFUSED CKR_TOKEN_NOT_PRESENT
/* Calls held at once per token beyond which no probe is started. */
#define HC_WATCH_MAX_HELD 8u

typedef struct hc_watch hc_watch_t;

/* Where the answer of a C_Login that did not answer in time goes when it
 * finally comes (login.c turns it into the PIN mark's verdict): the
 * answer nobody waits for any more still says whether the token took the
 * PIN. `answered` is called on the runner's thread with the module's
 * answer, after the module returned and before the token stops counting
 * as hung; `drop` frees (and wipes) `arg`, after `answered` or instead of
 * it. Neither may call into this watch nor block for long (the token
 * counts as hung and the runner is busy until it returns), and `arg` must
 * own copies of what `answered` needs: the runner may outlive the token,
 * its context and hc_close. */
typedef struct hc_watch_report {
    void (*answered)(void *arg, CK_RV rv);
    void (*drop)(void *arg);
    void *arg;
} hc_watch_report_t;

/* One call as a runner runs it. The caller allocates it (with whatever
 * the call reads and writes inside it), sets run and free, and hands it
 * to hc_watch_run; `free` (which also wipes it) is called by whoever owns
 * the job last. */
typedef struct hc_watch_job {
    void (*run)(struct hc_watch_job *job);
    void (*free)(struct hc_watch_job *job);
    bool login;                 /* a C_Login (see above) */
    CK_RV answer;               /* a login job's run sets it: the module's
                                 answer, for the report */
    hc_watch_t *w;              /* set by hc_watch_run */
    const char *fn;             /* set by hc_watch_run: "C_Sign" */
    const CK_FUNCTION_LIST *fl; /* set by hc_watch_run: the module */
    hc_watch_report_t report;   /* set by hc_watch_run: the armed report */
} hc_watch_job_t;

/* Arms `r` (copied) for the next login job hc_watch_run gets on `w`: if
 * that call does not answer in time, r->answered gets its answer when it
 * returns; if it answers in time, is refused or is not timed, r->drop is
 * called before hc_watch_run returns. A report armed before and taken by
 * no job is dropped; `r` NULL only drops it (after the login call, so
 * that a login made without the runner leaves nothing armed). The caller
 * serializes the logins of one watch (the pool's lock). */
void hc_watch_report_login(hc_watch_t *w, const hc_watch_report_t *r);

/* A watch for token `token` (copied) with a limit of `timeout_ms` (0: no
 * limit: hc_watch_run runs every job on the caller's thread). `log` must
 * outlive the watch's release (messages after it are dropped). NULL when
 * out of memory. */
hc_watch_t *hc_watch_new(const char *token, unsigned timeout_ms, const hc_logger_t *log);
/* The owner is done with the watch: freed now, or by the last held call
 * when it returns. NULL is ignored. */
void hc_watch_release(hc_watch_t *w);

/* Whether every call is timed (a group member's), or only those a token
 * makes when it connects and logs in (hc_watch_run's `always`): a thread
 * hand-off costs each C_Sign on a fast token, see p11run.h. Default off. */
void hc_watch_every_call(hc_watch_t *w, bool on);
bool hc_watch_times_every_call(const hc_watch_t *w);
unsigned hc_watch_timeout_ms(const hc_watch_t *w);

/* Whether calls fail at once now (a probe aside). Lock-free. */
bool hc_watch_hung(const hc_watch_t *w);

typedef struct hc_watch_counts {
    uint64_t timeouts; /* calls that did not answer in time, ever */
    uint64_t refused;  /* calls refused at once while hung */
    unsigned held;     /* calls held right now */
    bool hung;
} hc_watch_counts_t;
void hc_watch_counts(hc_watch_t *w, hc_watch_counts_t *out);

/* For a call made on the caller's thread (no limit, so never a probe):
 * refused at once (HC_WATCH_REFUSED, `err` naming the token, `fn` and the
 * call that did not answer) while the token is hung, else CKR_OK; `fl`:
 * the module, for probes. */
CK_RV hc_watch_enter(hc_watch_t *w, CK_FUNCTION_LIST *fl, const char *fn, hc_err_t *err);

/* Runs job->run(job) under the limit. CKR_OK: it ran and the job is the
 * caller's again (to read and free). HC_WATCH_TIMED_OUT with `err` set: it did
 * not answer in time (logged at error level: token, function, limit; the
 * job now belongs to its runner). HC_WATCH_REFUSED with `err` set: the token is
 * hung and this call is no probe (the job was freed unrun). With either
 * the caller no longer owns the job. `fl`: the module, for probes. */
CK_RV hc_watch_run(hc_watch_t *w, CK_FUNCTION_LIST *fl, hc_watch_job_t *job, const char *fn,
                   hc_err_t *err);

/* Calls held in module `fl` now, by any watch (released ones too): a
 * module with one is neither finalized nor unloaded (module.c), as a
 * held thread still runs its code. */
unsigned hc_watch_held_in(const CK_FUNCTION_LIST *fl);

#endif
