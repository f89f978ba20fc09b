/* presign.c: the presigner thread and the recording of inputs. */
#include "presign.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "../shared/front/front.h"
#include "config.h"
#include "core/stats.h"
#include "core/swcrypto.h"
#include "presign_store.h"
#include "rrsig.h"

#define FORGET_AFTER_S (2 * (int64_t)HC_WEEK)
#define MAINTAIN_EVERY_S 3600
#define KEY_CACHE 64
#define QUEUE_MAX 65536   /* inputs waiting to be written; more are dropped
                             (PowerDNS asks again, and they are queued then) */

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
    hc_pdns_cfg_t cfg;
    char lock_path[PATH_MAX];
    hc_pstore_t *store;
    hc_presign_stats_t *stats;   /* in the process's stats file, or NULL */
    hc_presign_stats_t sink;
    pthread_t thread;
    pthread_mutex_t lock;        /* guards stop, keys, queue */
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
    CK_ATTRIBUTE a[] = { { CKA_ID, k.id, sizeof k.id }, { CKA_LABEL, k.label, sizeof k.label - 1 } };
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
    hc_presign_input_t in = { .mech = mech, .digest = digest, .idlen = k.idlen,
                              .msg = (unsigned char *)msg, .len = len };
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
    unsigned char *next = malloc(in->len), hash[EVP_MAX_MD_SIZE], sig[HC_MAX_SIG];
    if (!next)
        return CKR_HOST_MEMORY;
    hc_rrsig_shift(in->msg, in->len, next, HC_WEEK);
    uint32_t inception, expiration;
    hc_rrsig_times(next, in->len, &inception, &expiration);
    const unsigned char *data = next;
    size_t len = in->len, sig_len = sizeof sig;
    CK_RV rv = CKR_OK;
    if (in->digest) { /* as PowerDNS does: hash first, then sign the hash */
        const EVP_MD *md = hc_sw_digest_md(in->digest);
        unsigned int n = 0;
        if (!md || !EVP_Digest(next, in->len, hash, &n, md, NULL))
            rv = CKR_MECHANISM_INVALID;
        data = hash;
        len = n;
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
            hc_log(&hc_front.log, HC_LOG_INFO, "presign: %s", err.msg);
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
    HC_ADD(p->stats->dropped_inputs, hc_pstore_forget(p->store, now - FORGET_AFTER_S));
    if (hc_cache_purge(p->ctx, &purged, &err) == CKR_OK)
        HC_ADD(p->stats->purged, purged);
}

/* One pass: inside the lead window, every input of this week gets its
 * next-week signature, at most `rate` new HSM signatures per second. */
static void pass(hc_presigner_t *p)
{
    int64_t now = (int64_t)time(NULL);
    int64_t week = now - now % HC_WEEK, boundary = week + HC_WEEK;
    maintain(p, now);
    __atomic_store_n(&p->stats->boundary, (uint64_t)boundary, __ATOMIC_RELAXED);
    if (now < boundary - p->cfg.presign_lead_s)
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
    uint64_t done = 0, failed = 0;
    __atomic_store_n(&p->stats->inputs, n, __ATOMIC_RELAXED);
    double gap = 1.0 / (double)p->cfg.presign_rate;
    for (size_t i = 0; i < n && !__atomic_load_n(&p->stop, __ATOMIC_RELAXED); i++) {
        bool cached = false;
        CK_RV rv = presign_one(p, &in[i], &cached);
        if (rv == CKR_OK)
            done++;
        else
            failed++;
        __atomic_store_n(&p->stats->done, done, __ATOMIC_RELAXED);
        __atomic_store_n(&p->stats->failed, failed, __ATOMIC_RELAXED);
        __atomic_store_n(&p->stats->left, n - done - failed, __ATOMIC_RELAXED);
        if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_MECHANISM_INVALID)
            continue;            /* this input only (its key was deleted) */
        if (rv != CKR_OK)
            break;               /* the token is in trouble: next pass */
        if (!cached) {
            HC_INC(p->stats->signed_now);
            flush_queue(p); /* a long pass must not leave the queue waiting */
            if (sleep_or_stop(p, gap))
                break;
        }
    }
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
            p->next_pass = (int64_t)time(NULL) + p->cfg.presign_interval_s;
        }
    } while (!sleep_or_stop(p, 1.0));
    flush_queue(p);
    return NULL;
}

hc_presigner_t *hc_presigner_start(hc_ctx_t *ctx)
{
    hc_config_t *cfg = NULL;
    hc_err_t err = { 0 };
    if (hc_config_load(hc_config_path(ctx), &cfg, &err) != CKR_OK) {
        hc_log(&hc_front.log, HC_LOG_WARN, "presign: off: %s", err.msg);
        return NULL;
    }
    hc_presigner_t *p = NULL;
    if (!cfg->pdns.presign || !cfg->persistent_cache || !hc_signature_cache_enabled(ctx))
        goto out; /* nothing to presign into */
    if (!(p = calloc(1, sizeof *p)))
        goto out;
    p->ctx = ctx;
    p->cfg = cfg->pdns;
    snprintf(p->lock_path, sizeof p->lock_path, "%s/presign.lock", cfg->cache_dir);
    if (!(p->store = hc_pstore_open(cfg->cache_dir))) {
        hc_log(&hc_front.log, HC_LOG_WARN, "presign: off: cannot open %s/presign.mdb: %s",
               cfg->cache_dir, strerror(errno));
        free(p);
        p = NULL;
        goto out;
    }
    p->stats = hc_presign_stats(ctx);
    if (!p->stats)
        p->stats = &p->sink;
    p->stats->lead_s = (uint64_t)p->cfg.presign_lead_s;
    p->stats->rate = p->cfg.presign_rate;
    p->stats->running = 1;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (pthread_create(&p->thread, NULL, worker, p) != 0) {
        hc_log(&hc_front.log, HC_LOG_WARN, "presign: off: cannot start its thread");
        p->stats->running = 0;
        hc_pstore_close(p->store);
        free(p);
        p = NULL;
    }
out:
    hc_config_free(cfg);
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
    p->stats->running = 0;
    hc_pstore_free_inputs(p->queue, p->nqueue);
    hc_pstore_close(p->store);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    free(p);
}
