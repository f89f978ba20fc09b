/*
 * sharedtier.c: the shared signature tier on MariaDB (sharedtier.h): the
 * read path with its breaker, and the keeper thread that opens
 * connections, probes, and runs the writes of sharedwrite.c. State and
 * locking: sharedtier_int.h.
 */
#include "core/sharedtier_int.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "core/swcrypto.h"

static const char schema[] = "CREATE TABLE IF NOT EXISTS " HC_SHARED_TABLE " (\n"
                             "  cache_key BINARY(72) NOT NULL PRIMARY KEY,\n"
                             "  signature VARBINARY(1024) NOT NULL,\n"
                             "  expires BIGINT NOT NULL,\n"
                             "  node VARCHAR(63) CHARACTER SET ascii NOT NULL,\n"
                             "  written TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP\n"
                             "    ON UPDATE CURRENT_TIMESTAMP,\n"
                             "  KEY by_expiry (expires)\n"
                             ") ENGINE=InnoDB";

const char *hc_sharedtier_schema(void)
{
    return schema;
}
static const hc_db_endpoint_t *read_endpoint(const hc_sharedtier_t *t)
{
    return t->cfg.read.host[0] || t->cfg.read.socket[0] ? &t->cfg.read : &t->cfg.write;
}
void hc_shared_hex(char *out, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

unsigned hc_shared_backoff(unsigned b)
{
    return b < BACKOFF_MIN_MS ? BACKOFF_MIN_MS : b >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : 2 * b;
}

void hc_shared_gauge(uint64_t *g, bool on)
{
    __atomic_store_n(g, on ? 1 : 0, __ATOMIC_RELAXED);
}

/* Opens the breaker (under lock): lookups skip the tier until a probe
 * succeeds. Logged once per opening. */
static void trip_locked(hc_sharedtier_t *t, const char *why)
{
    if (!__atomic_load_n(&t->open, __ATOMIC_RELAXED)) {
        __atomic_store_n(&t->open, true, __ATOMIC_RELAXED);
        t->tripped = true;
        t->backoff = BACKOFF_MIN_MS;
        t->next_probe = hc_now_ms() + t->backoff;
        hc_log(t->log, HC_LOG_WARN,
               "shared cache: %s; lookups skip the shared tier "
               "until it answers again (signing and the local tiers go on)",
               why);
    }
    hc_shared_gauge(&t->st->reading, false);
    hc_shared_gauge(&t->st->skipping, true);
    pthread_cond_signal(&t->wake);
}

/* A lookup's connection: an idle one, or NULL (skip the tier). */
static hc_db_t *take_reader(hc_sharedtier_t *t)
{
    hc_db_t *db = NULL;
    pthread_mutex_lock(&t->lock);
    if (!__atomic_load_n(&t->open, __ATOMIC_RELAXED) && t->nidle)
        db = t->idle[--t->nidle];
    pthread_mutex_unlock(&t->lock);
    return db;
}

/* Returns a lookup's connection; after a failure it goes, with every idle
 * one (they lead to the same server, which just failed), to the keeper to
 * close: closing a connection cut off mid-statement can block in the
 * library (up to its 1 s backstop), which no lookup may wait for. */
static void give_reader(hc_sharedtier_t *t, hc_db_t *db, const char *failure)
{
    pthread_mutex_lock(&t->lock);
    if (failure || t->open) { /* open: the pool starts afresh after the probe */
        t->dead[t->ndead++] = db;
        t->nreaders--;
    } else {
        t->idle[t->nidle++] = db;
    }
    if (failure) {
        for (; t->nidle; t->nreaders--) /* those in use come back later */
            t->dead[t->ndead++] = t->idle[--t->nidle];
        trip_locked(t, failure);
    }
    pthread_mutex_unlock(&t->lock);
}

/* The keeper closes the connections lookups gave up on. */
static void bury(hc_sharedtier_t *t)
{
    hc_db_t *dead[HC_SHARED_READERS];
    pthread_mutex_lock(&t->lock);
    size_t n = t->ndead;
    memcpy(dead, t->dead, n * sizeof *dead);
    t->ndead = 0;
    pthread_mutex_unlock(&t->lock);
    for (size_t i = 0; i < n; i++)
        hc_db_close(dead[i]);
}

/* A row's expires column: decimal digits only, within int64. */
static bool parse_expires(const char *v, size_t n, int64_t *out)
{
    if (!v || n == 0 || n > 18)
        return false;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (v[i] - '0');
    }
    *out = x;
    return true;
}

static bool node_ok(const char *v, size_t n)
{
    if (!v || n == 0 || n > HC_NAME_MAX)
        return false;
    char name[HC_NAME_MAX + 1];
    memcpy(name, v, n);
    name[n] = '\0';
    return strlen(name) == n && hc_valid_token_name(name);
}

bool hc_sharedtier_get(hc_sharedtier_t *t, const unsigned char *key, size_t key_len,
                       unsigned char *sig, size_t *len, int64_t *expires,
                       char node[HC_NAME_MAX + 1])
{
    if (!t || key_len != 72)
        return false;
    hc_db_t *db = take_reader(t);
    if (!db) {
        HC_INC(t->st->skipped);
        return false;
    }
    char sql[256];
    int n =
        snprintf(sql, sizeof sql,
                 "SELECT signature, expires, node FROM " HC_SHARED_TABLE " WHERE cache_key = X'");
    hc_shared_hex(sql + n, key, key_len);
    n += 2 * (int)key_len;
    n += snprintf(sql + n, sizeof sql - (size_t)n, "'");
    hc_err_t err = { 0 };
    hc_db_result_t *res = NULL;
    if (hc_db_query(db, sql, (size_t)n, t->cfg.read_timeout_ms, &res, &err) != CKR_OK) {
        HC_INC(t->st->skipped);
        give_reader(t, db, err.msg);
        return false;
    }
    give_reader(t, db, NULL);
    const char *val[3];
    size_t vlen[3];
    bool found = false;
    int64_t exp = 0;
    if (hc_db_row(res, 3, val, vlen) && val[0] && vlen[0] > 0 && vlen[0] <= *len &&
        vlen[0] <= HC_MAX_SIG && parse_expires(val[1], vlen[1], &exp) &&
        exp > (int64_t)time(NULL) && node_ok(val[2], vlen[2])) {
        memcpy(sig, val[0], vlen[0]);
        *len = vlen[0];
        *expires = exp;
        memcpy(node, val[2], vlen[2]);
        node[vlen[2]] = '\0';
        found = true;
    }
    hc_db_free(res);
    if (!found)
        HC_INC(t->st->misses);
    return found;
}

void hc_sharedtier_verified(hc_sharedtier_t *t, bool good, const char *node)
{
    if (!t)
        return;
    if (good) {
        HC_INC(t->st->hits);
        return;
    }
    HC_INC(t->st->forged);
    hc_log(t->log, HC_LOG_WARN,
           "shared cache: a row written as node '%s' does not "
           "verify with the key's public key: not served (forged or corrupt); the HSM "
           "signs anew and this node's signature replaces the row",
           node);
}

/* ---- the keeper thread ---- */

/* A new read connection that answers SELECT 1: the probe. */
static hc_db_t *open_reader(hc_sharedtier_t *t, hc_err_t *err)
{
    hc_db_t *db = hc_db_connect(&t->cfg, read_endpoint(t), CONNECT_MS, err);
    if (db && hc_db_query(db, "SELECT 1", 8, PROBE_MS, NULL, err) != CKR_OK) {
        hc_db_close(db);
        db = NULL;
    }
    return db;
}

/* Probes while the breaker is open (on its schedule) and fills the pool
 * while it is closed. */
static bool keep_reader(hc_sharedtier_t *t);

static void keep_readers(hc_sharedtier_t *t)
{
    while (keep_reader(t))
        ;
}

/* One step: a probe or one more connection; true when another is due. */
static bool keep_reader(hc_sharedtier_t *t)
{
    pthread_mutex_lock(&t->lock);
    bool open = t->open;
    bool due = !t->stop && t->nreaders + t->ndead < HC_SHARED_READERS &&
               (!open || hc_now_ms() >= t->next_probe);
    pthread_mutex_unlock(&t->lock);
    if (!due)
        return false;
    hc_err_t err = { 0 };
    hc_db_t *db = open_reader(t, &err);
    pthread_mutex_lock(&t->lock);
    if (db) {
        t->idle[t->nidle++] = db;
        t->nreaders++;
        if (t->open) {
            __atomic_store_n(&t->open, false, __ATOMIC_RELAXED);
            /* At start the breaker is open until the first connection:
             * that one is news, not a recovery worth a warning. */
            hc_log(t->log, t->tripped ? HC_LOG_WARN : HC_LOG_INFO,
                   "shared cache: %s %s; lookups use the shared tier", hc_db_where(db),
                   t->tripped ? "answers again" : "connected");
            t->tripped = false;
        }
        hc_shared_gauge(&t->st->reading, true);
        hc_shared_gauge(&t->st->skipping, false);
    } else if (open) {
        t->backoff = hc_shared_backoff(t->backoff);
        t->next_probe = hc_now_ms() + t->backoff;
        hc_log(t->log, HC_LOG_DEBUG, "shared cache: probe failed: %s; next in %u ms", err.msg,
               t->backoff);
    } else {
        trip_locked(t, err.msg);
    }
    bool more = db && t->nreaders + t->ndead < HC_SHARED_READERS;
    pthread_mutex_unlock(&t->lock);
    return more;
}

static void *keeper(void *arg)
{
    hc_sharedtier_t *t = arg;
    for (;;) {
        bury(t);
        keep_readers(t);
        pthread_mutex_lock(&t->lock);
        if (!t->first_done) {
            t->first_done = true;
            pthread_cond_broadcast(&t->started);
        }
        pthread_mutex_unlock(&t->lock);
        while (hc_sharedwrite_flush(t, false))
            ;
        hc_sharedwrite_purge(t);
        pthread_mutex_lock(&t->lock);
        if (!t->stop) {
            struct timespec ts = hc_deadline_in_ms(50);
            pthread_cond_timedwait(&t->wake, &t->lock, &ts);
        }
        bool stop = t->stop;
        pthread_mutex_unlock(&t->lock);
        if (stop)
            break;
    }
    /* One last attempt for what is queued, bounded by WRITE_MS per batch. */
    uint64_t until = hc_now_ms() + WRITE_MS;
    while (hc_now_ms() < until && hc_sharedwrite_flush(t, true))
        ;
    hc_sharedwrite_release(t);
    return NULL;
}

hc_sharedtier_t *hc_sharedtier_new(const hc_shared_cfg_t *cfg, const hc_logger_t *log,
                                   hc_shared_stats_t *stats)
{
    hc_err_t err = { 0 };
    if (hc_db_load(&err) != CKR_OK) {
        hc_log(log, HC_LOG_ERROR, "shared cache: %s; running without the shared tier", err.msg);
        return NULL;
    }
    hc_sharedtier_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cfg = *cfg;
    t->log = log;
    t->st = stats;
    t->open = true; /* until the first connection answers */
    t->next_purge =
        hc_now_ms() + 1000ull * (cfg->purge_interval_s < 60 ? cfg->purge_interval_s : 60);
    /* node:pid alone is not unique: two nodes given one config's `node`
     * (copied configs) may run the presigner under the same pid (one per
     * container). 64 random bits make the holder this process's own. */
    unsigned char nonce[8];
    if (RAND_bytes(nonce, sizeof nonce) != 1) {
        free(t);
        hc_log(log, HC_LOG_ERROR,
               "shared cache: no random bytes for the lease "
               "holder's name; running without the shared tier");
        return NULL;
    }
    int hn = snprintf(t->holder, sizeof t->holder, "%s:%d:", cfg->node, (int)getpid());
    for (size_t i = 0; i < sizeof nonce && hn > 0 && (size_t)hn + 2 < sizeof t->holder; i++)
        hn += snprintf(t->holder + hn, sizeof t->holder - (size_t)hn, "%02x", nonce[i]);
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &ca);
    pthread_cond_init(&t->started, &ca);
    pthread_cond_init(&t->flushed, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&t->lease_lock, NULL);
    hc_shared_gauge(&stats->enabled, true);
    hc_shared_gauge(&stats->skipping, true);
    if (pthread_create(&t->thread, NULL, keeper, t) != 0) {
        hc_log(log, HC_LOG_ERROR,
               "shared cache: cannot start its thread; running "
               "without the shared tier");
        hc_shared_gauge(&stats->skipping, false);
        pthread_mutex_destroy(&t->lock);
        pthread_mutex_destroy(&t->lease_lock);
        pthread_cond_destroy(&t->wake);
        pthread_cond_destroy(&t->started);
        pthread_cond_destroy(&t->flushed);
        free(t);
        return NULL;
    }
    /* The first probe is due now and takes at most CONNECT_MS + PROBE_MS. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (CONNECT_MS + PROBE_MS) / 1000 + 1;
    pthread_mutex_lock(&t->lock);
    while (!t->first_done && pthread_cond_timedwait(&t->started, &t->lock, &ts) == 0)
        ;
    pthread_mutex_unlock(&t->lock);
    return t;
}

void hc_sharedtier_free(hc_sharedtier_t *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    hc_sharedfleet_free(t);
    bury(t);
    for (size_t i = 0; i < t->nidle; i++)
        hc_db_close(t->idle[i]);
    hc_db_close(t->writer);
    for (struct wentry *e = t->qhead, *n; e; e = n) {
        n = e->next;
        HC_INC(t->st->dropped);
        free(e);
    }
    hc_shared_gauge(&t->st->reading, false);
    hc_shared_gauge(&t->st->skipping, false);
    hc_shared_gauge(&t->st->writing, false);
    pthread_mutex_destroy(&t->lock);
    pthread_mutex_destroy(&t->lease_lock);
    pthread_cond_destroy(&t->wake);
    pthread_cond_destroy(&t->started);
    pthread_cond_destroy(&t->flushed);
    free(t);
}
