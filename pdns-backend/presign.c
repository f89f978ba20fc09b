/* presign.c: the presigner thread and the recording of inputs. A plugin
 * of the core: it reaches it through hsmcache.h alone (its [pdns]
 * settings, the state dir, its stats group "presign", logging). */
#include "presign.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "presign_lease.h"
#include "presign_store.h"
#include "rrsig.h"

#define FORGET_AFTER_S (2 * (int64_t)HC_WEEK)
#define MAINTAIN_EVERY_S 3600
#define KEY_CACHE 64
#define QUEUE_MAX 65536   /* inputs waiting to be written; more are dropped
                             (PowerDNS asks again, and they are queued then) */

/* The presigner's values in `hsmcache stats` ("presign: lead 172800s, ..."). */
enum {
    ST_LEAD,
    ST_RATE,
    ST_BOUNDARY,
    ST_INPUTS,
    ST_DONE,
    ST_LEFT,
    ST_FAILED,
    ST_SIGNED,
    ST_DROPPED,
    ST_PURGED,
    ST_ELSEWHERE,
    ST_COUNT
};
static const hc_stat_def_t stat_defs[ST_COUNT] = {
    [ST_LEAD] = { "lead", "s" },
    [ST_RATE] = { "rate", "/s" },
    [ST_BOUNDARY] = { "boundary", "" },      /* the weekly boundary prepared for (Unix) */
    [ST_INPUTS] = { "inputs", "" },          /* signing inputs recorded this week */
    [ST_DONE] = { "done", "" },              /* next week's signatures in the cache */
    [ST_LEFT] = { "left", "" },              /* ... still to sign */
    [ST_FAILED] = { "failed", "" },          /* ... the HSM refused (retried next pass) */
    [ST_SIGNED] = { "signed", "" },          /* HSM signatures the presigner made */
    [ST_DROPPED] = { "inputs_dropped", "" }, /* not seen for two weeks, forgotten */
    [ST_PURGED] = { "expired_purged", "" },  /* expired cache entries deleted */
    [ST_ELSEWHERE] = { "elsewhere", "" },    /* last pass: inputs of tokens another node
                                                of the fleet presigns (presign_lease.h) */
};

/* A key's identity as recorded: found again by token, id and label. */
struct key_ident {
    hc_obj_t obj;
    char token[64];
    unsigned char id[128];
    size_t idlen;
    char label[256];
};

struct hc_presigner {
    hc_ctx_t *ctx;
    long long lead_s, rate, interval_s; /* [pdns] presign-lead, -rate, -interval */
    char lock_path[PATH_MAX];
    hc_pstore_t *store;
    hc_plugin_stats_t *stats; /* the group "presign" (ST_* values) */
    pthread_t thread;
    pthread_mutex_t lock; /* guards stop, keys, queue */
    pthread_cond_t wake;
    bool stop;
    struct key_ident keys[KEY_CACHE];
    size_t nkeys;
    /* Inputs recorded on the query path, written by the thread in one
     * transaction (an LMDB commit per answer would sit inside PowerDNS's
     * per-token lock). */
    hc_presign_input_t *queue;
    size_t nqueue, qcap;
    int64_t next_pass;
    int64_t last_maintenance;
};

/* Waits `s` seconds or until stopped; true when stopped. */
static bool sleep_or_stop(hc_presigner_t *p, double s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)s;
    until.tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->lock);
    while (!p->stop && pthread_cond_timedwait(&p->wake, &p->lock, &until) != ETIMEDOUT)
        ;
    bool stop = p->stop;
    pthread_mutex_unlock(&p->lock);
    return stop;
}

/* The identity of `key`, cached: one attribute read per key per process. */
static bool key_ident(hc_presigner_t *p, hc_obj_t key, struct key_ident *out)
{
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->nkeys; i++)
        if (p->keys[i].obj == key) {
            *out = p->keys[i];
            pthread_mutex_unlock(&p->lock);
            return true;
        }
    pthread_mutex_unlock(&p->lock);
    struct key_ident k = { .obj = key };
    CK_ATTRIBUTE a[] = { { CKA_ID, k.id, sizeof k.id },
                         { CKA_LABEL, k.label, sizeof k.label - 1 } };
    hc_err_t err = { 0 };
    if (hc_get_attrs(p->ctx, key, a, 2, &err) != CKR_OK)
        return false;
    k.idlen = a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : a[0].ulValueLen;
    k.label[a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : a[1].ulValueLen] = '\0';
    snprintf(k.token, sizeof k.token, "%s", hc_token_name(p->ctx, hc_obj_token(key)));
    pthread_mutex_lock(&p->lock);
    if (p->nkeys < KEY_CACHE)
        p->keys[p->nkeys++] = k;
    pthread_mutex_unlock(&p->lock);
    *out = k;
    return true;
}

void hc_presigner_record(hc_presigner_t *p, hc_obj_t key, CK_MECHANISM_TYPE mech,
                         CK_MECHANISM_TYPE digest, const unsigned char *msg, size_t len)
{
    struct key_ident k;
    if (!p || !key_ident(p, key, &k))
        return;
    hc_presign_input_t in = {
        .mech = mech, .digest = digest, .idlen = k.idlen, .msg = (unsigned char *)msg, .len = len
    };
    memcpy(in.token, k.token, sizeof in.token);
    memcpy(in.id, k.id, k.idlen);
    memcpy(in.label, k.label, sizeof in.label);
    if (hc_pstore_fresh(p->store, &in, (int64_t)time(NULL)))
        return; /* the common case after the first week: one read */
    if (!(in.msg = malloc(len)))
        return;
    memcpy(in.msg, msg, len);
    pthread_mutex_lock(&p->lock);
    if (p->nqueue == p->qcap && p->qcap < QUEUE_MAX) {
        size_t cap = p->qcap ? p->qcap * 2 : 64;
        hc_presign_input_t *g = realloc(p->queue, cap * sizeof *g);
        if (g) {
            p->queue = g;
            p->qcap = cap;
        }
    }
    if (p->nqueue < p->qcap) {
        p->queue[p->nqueue++] = in;
        in.msg = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    free(in.msg); /* the queue was full */
}

/* Writes the queued inputs in one transaction. */
static void flush_queue(hc_presigner_t *p)
{
    pthread_mutex_lock(&p->lock);
    hc_presign_input_t *q = p->queue;
    size_t n = p->nqueue;
    if (n) { /* take the queue; the next record starts a new one */
        p->queue = NULL;
        p->nqueue = p->qcap = 0;
    }
    pthread_mutex_unlock(&p->lock);
    if (!n)
        return;
    hc_pstore_record(p->store, q, n, (int64_t)time(NULL));
    hc_pstore_free_inputs(q, n);
}

/* The private key an input names, found on its token. */
static hc_obj_t find_key(hc_presigner_t *p, const hc_presign_input_t *in)
{
    long tok = hc_token_index(p->ctx, in->token);
    if (tok < 0)
        return 0;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[3] = { { CKA_CLASS, &cls, sizeof cls } };
    CK_ULONG n = 1;
    if (in->idlen)
        t[n++] = (CK_ATTRIBUTE){ CKA_ID, (void *)in->id, in->idlen };
    if (in->label[0])
        t[n++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)in->label, strlen(in->label) };
    hc_obj_t *objs = NULL, obj = 0;
    size_t count = 0;
    hc_err_t err = { 0 };
    if (hc_find(p->ctx, (size_t)tok, t, n, &objs, &count, &err) == CKR_OK && count == 1)
        obj = objs[0];
    free(objs);
    return obj;
}

/* Signs next week's version of one input (from the cache if there). */
static CK_RV presign_one(hc_presigner_t *p, const hc_presign_input_t *in, bool *from_cache)
{
    unsigned char *next = malloc(in->len), hash[64], sig[HC_MAX_SIG];
    if (!next)
        return CKR_HOST_MEMORY;
    hc_rrsig_shift(in->msg, in->len, next, HC_WEEK);
    uint32_t inception, expiration;
    hc_rrsig_times(next, in->len, &inception, &expiration);
    const unsigned char *data = next;
    size_t len = in->len, sig_len = sizeof sig;
    CK_RV rv = CKR_OK;
    if (in->digest) { /* as PowerDNS does: hash first, then sign the hash */
        len = sizeof hash;
        if (hc_digest(in->digest, next, in->len, hash, &len) != CKR_OK)
            rv = CKR_MECHANISM_INVALID;
        data = hash;
    }
    hc_obj_t key = rv == CKR_OK ? find_key(p, in) : 0;
    if (rv == CKR_OK && !key)
        rv = CKR_KEY_HANDLE_INVALID;
    if (rv == CKR_OK) {
        CK_MECHANISM mech = { in->mech, NULL, 0 };
        hc_sign_opts_t o = { .background = true, .expires = expiration };
        hc_err_t err = { 0 };
        rv = hc_sign_ex(p->ctx, key, &mech, data, len, &o, sig, &sig_len, &err);
        *from_cache = o.from_cache;
        if (rv != CKR_OK)
            hc_ctx_log(p->ctx, HC_LOG_INFO, "presign: %s", err.msg);
    }
    free(next);
    return rv;
}

/* Forgets old inputs and purges expired signatures, once an hour. */
static void maintain(hc_presigner_t *p, int64_t now)
{
    if (now - p->last_maintenance < MAINTAIN_EVERY_S)
        return;
    p->last_maintenance = now;
    size_t purged = 0;
    hc_err_t err = { 0 };
    hc_stat_add(p->stats, ST_DROPPED, hc_pstore_forget(p->store, now - FORGET_AFTER_S));
    if (hc_cache_purge(p->ctx, &purged, &err) == CKR_OK)
        hc_stat_add(p->stats, ST_PURGED, purged);
}

/* One pass: inside the lead window, every input of this week gets its
 * next-week signature, at most `rate` new HSM signatures per second. */
static void pass(hc_presigner_t *p)
{
    int64_t now = (int64_t)time(NULL);
    int64_t week = now - now % HC_WEEK, boundary = week + HC_WEEK;
    maintain(p, now);
    hc_stat_set(p->stats, ST_BOUNDARY, (uint64_t)boundary);
    if (now < boundary - p->lead_s)
        return;
    int lock = open(p->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0) { /* another process is at it */
        if (lock >= 0)
            close(lock);
        return;
    }
    hc_presign_input_t *in = NULL;
    /* This week's inputs carry inception = week - 7 d (PowerDNS). */
    size_t n = hc_pstore_load(p->store, (uint32_t)(week - HC_WEEK), &in);
    uint64_t done = 0, failed = 0, elsewhere = 0;
    hc_stat_set(p->stats, ST_INPUTS, n);
    double gap = 1.0 / (double)p->rate;
    /* One node of the fleet per token (presign_lease.h); the lease lasts
     * three passes' intervals, at least 3 s. */
    hc_presign_leases_t leases;
    hc_presign_leases_begin(&leases, p->ctx, (unsigned)(p->interval_s < 1 ? 3 : 3 * p->interval_s));
    bool signed_last = false; /* the previous input cost a card signature */
    for (size_t i = 0; i < n && !__atomic_load_n(&p->stop, __ATOMIC_RELAXED); i++) {
        if (!hc_presign_lease_may(&leases, in[i].token, signed_last)) {
            hc_stat_set(p->stats, ST_ELSEWHERE, ++elsewhere);
            continue;
        }
        signed_last = false;
        bool cached = false;
        CK_RV rv = presign_one(p, &in[i], &cached);
        if (rv == CKR_OK)
            done++;
        else
            failed++;
        hc_stat_set(p->stats, ST_DONE, done);
        hc_stat_set(p->stats, ST_FAILED, failed);
        hc_stat_set(p->stats, ST_LEFT, n - done - failed);
        if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_MECHANISM_INVALID)
            continue; /* this input only (its key was deleted) */
        if (rv != CKR_OK)
            break; /* the token is in trouble: next pass */
        if (!cached) {
            hc_stat_add(p->stats, ST_SIGNED, 1);
            signed_last = true;
            flush_queue(p); /* a long pass must not leave the queue waiting */
            if (sleep_or_stop(p, gap))
                break;
        }
    }
    hc_stat_set(p->stats, ST_ELSEWHERE, elsewhere);
    hc_presign_leases_end(&leases);
    hc_pstore_free_inputs(in, n);
    close(lock);
}

/* Every second: queued inputs to disk; every presign-interval: a pass. */
static void *worker(void *arg)
{
    hc_presigner_t *p = arg;
    do {
        flush_queue(p);
        int64_t now = (int64_t)time(NULL);
        if (now >= p->next_pass) {
            pass(p);
            p->next_pass = (int64_t)time(NULL) + p->interval_s;
        }
    } while (!sleep_or_stop(p, 1.0));
    flush_queue(p);
    return NULL;
}

hc_presigner_t *hc_presigner_start(hc_ctx_t *ctx)
{
    bool on = false;
    long long lead = 0, rate = 0, interval = 0;
    hc_err_t err = { 0 };
    const char *dir = hc_state_dir(ctx);
    if (hc_setting_bool(ctx, "presign", &on, &err) != CKR_OK ||
        hc_setting_number(ctx, "presign-lead", &lead, &err) != CKR_OK ||
        hc_setting_number(ctx, "presign-rate", &rate, &err) != CKR_OK ||
        hc_setting_number(ctx, "presign-interval", &interval, &err) != CKR_OK) {
        hc_ctx_log(ctx, HC_LOG_WARN, "presign: off: %s", err.msg);
        return NULL;
    }
    if (!on || !dir || !hc_signature_cache_enabled(ctx) || rate < 1)
        return NULL; /* nothing to presign into */
    hc_presigner_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->ctx = ctx;
    p->lead_s = lead;
    p->rate = rate;
    p->interval_s = interval;
    snprintf(p->lock_path, sizeof p->lock_path, "%s/presign.lock", dir);
    if (!(p->store = hc_pstore_open(dir))) {
        hc_ctx_log(ctx, HC_LOG_WARN, "presign: off: cannot open %s/presign.mdb: %s", dir,
                   strerror(errno));
        free(p);
        return NULL;
    }
    if (hc_stats_register(ctx, "presign", stat_defs, ST_COUNT, &p->stats, &err) != CKR_OK)
        hc_ctx_log(ctx, HC_LOG_WARN, "presign: its values stay out of the stats: %s", err.msg);
    hc_stat_set(p->stats, ST_LEAD, (uint64_t)lead);
    hc_stat_set(p->stats, ST_RATE, (uint64_t)rate);
    hc_stats_show(p->stats, true);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (pthread_create(&p->thread, NULL, worker, p) != 0) {
        hc_ctx_log(ctx, HC_LOG_WARN, "presign: off: cannot start its thread");
        hc_stats_show(p->stats, false);
        hc_pstore_close(p->store);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->wake);
        free(p);
        return NULL;
    }
    return p;
}

void hc_presigner_stop(hc_presigner_t *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    hc_stats_show(p->stats, false);
    hc_pstore_free_inputs(p->queue, p->nqueue);
    hc_pstore_close(p->store);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    free(p);
}
