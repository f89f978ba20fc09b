/*
 * sharedwrite.c: the shared tier's writes (sharedtier.h): the queue that
 * lookups' callers fill, the batches the keeper thread writes to the
 * primary on its own connection, and the purge round under the lease
 * (sharedpurge.h). State and locking: sharedtier_int.h.
 */
#include "core/sharedtier_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/err.h"
#include "core/sharedpurge.h"
#include "core/swcrypto.h"

void hc_sharedtier_put(hc_sharedtier_t *t, const unsigned char *key, size_t key_len,
                       const unsigned char *sig, size_t len, int64_t expires)
{
    if (!t || key_len != 72 || len == 0 || len > HC_MAX_SIG || expires <= 0)
        return;
    struct wentry *e = malloc(sizeof *e + len);
    if (!e) {
        HC_INC(t->st->dropped);
        return;
    }
    e->next = NULL;
    memcpy(e->key, key, 72);
    memcpy(e->sig, sig, len);
    e->len = len;
    e->expires = expires;
    pthread_mutex_lock(&t->lock);
    if (t->qlen >= HC_SHARED_QUEUE) {
        pthread_mutex_unlock(&t->lock);
        free(e);
        HC_INC(t->st->dropped);
        return;
    }
    if (t->qtail)
        t->qtail->next = e;
    else {
        t->qhead = e;
        t->oldest = hc_now_ms();
    }
    t->qtail = e;
    t->queued++;
    if (++t->qlen >= HC_SHARED_BATCH)
        pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
}

/* One multi-row INSERT ... ON DUPLICATE KEY UPDATE for `n` entries: the
 * newest signature for a key wins, including over a forged row. */
static char *batch_sql(const hc_sharedtier_t *t, const struct wentry *e, size_t n, size_t *len)
{
    size_t cap = 256 + n * (2 * 72 + 2 * HC_MAX_SIG + 64 + HC_NAME_MAX);
    char *sql = malloc(cap);
    if (!sql)
        return NULL;
    size_t at = (size_t)snprintf(
        sql, cap, "INSERT INTO " HC_SHARED_TABLE " (cache_key, signature, expires, node) VALUES ");
    for (size_t i = 0; i < n; i++, e = e->next) {
        at += (size_t)snprintf(sql + at, cap - at, "%s(X'", i ? "," : "");
        hc_shared_hex(sql + at, e->key, 72);
        at += 144;
        at += (size_t)snprintf(sql + at, cap - at, "',X'");
        hc_shared_hex(sql + at, e->sig, e->len);
        at += 2 * e->len;
        /* node: whitelisted by config_shared.c, nothing to quote */
        at += (size_t)snprintf(sql + at, cap - at, "',%lld,'%s')", (long long)e->expires,
                               t->cfg.node);
    }
    at += (size_t)snprintf(sql + at, cap - at,
                           " ON DUPLICATE KEY UPDATE signature = "
                           "VALUES(signature), expires = VALUES(expires), node = VALUES(node)");
    *len = at;
    return sql;
}

/* Returns the primary's connection after a statement: kept when it
 * worked; closed when it failed (`failed` says what was lost), and the
 * next attempt put off with backoff. */
static void give_writer(hc_sharedtier_t *t, hc_db_t *w, const char *failed, const char *why)
{
    if (failed) {
        hc_db_close(w);
        w = NULL;
    }
    pthread_mutex_lock(&t->lock);
    t->writer = w;
    if (!failed) {
        t->writer_backoff = 0;
    } else {
        t->writer_backoff = hc_shared_backoff(t->writer_backoff);
        t->writer_retry = hc_now_ms() + t->writer_backoff;
        hc_log(t->log, t->writer_backoff == BACKOFF_MIN_MS ? HC_LOG_WARN : HC_LOG_DEBUG,
               "shared cache: %s: %s; retrying the primary in %u ms", failed, why,
               t->writer_backoff);
    }
    hc_shared_gauge(&t->st->writing, t->writer != NULL);
    pthread_mutex_unlock(&t->lock);
}

/* A purge round when one is due (sharedpurge.h), on the primary's
 * connection. The first comes a minute after the start (or one interval,
 * if shorter), so that short-lived processes (pdnsutil) never take the
 * lease. */
void hc_sharedwrite_purge(hc_sharedtier_t *t)
{
    pthread_mutex_lock(&t->lock);
    uint64_t now = hc_now_ms();
    bool due = now >= t->next_purge && (t->writer || now >= t->writer_retry);
    hc_db_t *w = NULL;
    if (due) {
        t->next_purge = now + t->cfg.purge_interval_s * 1000ull;
        w = t->writer;
        t->writer = NULL;
    }
    pthread_mutex_unlock(&t->lock);
    if (!due)
        return;
    hc_err_t err = { 0 };
    bool held = false;
    uint64_t n = 0;
    CK_RV rv = CKR_OK;
    if (!w && !(w = hc_db_connect(&t->cfg, &t->cfg.write, CONNECT_MS, &err)))
        rv = CKR_GENERAL_ERROR;
    if (rv == CKR_OK)
        rv = hc_sharedpurge_run(w, t->holder, 3 * t->cfg.purge_interval_s, PURGE_MS, &held, &n,
                                &err);
    HC_ADD(t->st->purged, n);
    hc_shared_gauge(&t->st->purging, rv == CKR_OK && held);
    give_writer(t, w, rv == CKR_OK ? NULL : "expired rows not purged", err.msg);
}

/* Gives the lease up at the end, so that another process takes over at
 * its next round rather than when the lease expires. */
void hc_sharedwrite_release(hc_sharedtier_t *t)
{
    if (!HC_GET(t->st->purging) || !t->writer)
        return;
    hc_err_t err = { 0 };
    hc_lease_release(t->writer, "purge", t->holder, &err);
    hc_shared_gauge(&t->st->purging, false);
}

/* Writes one batch if one is due; false when nothing was written. */
bool hc_sharedwrite_flush(hc_sharedtier_t *t, bool force)
{
    pthread_mutex_lock(&t->lock);
    uint64_t now = hc_now_ms();
    bool due =
        t->qlen &&
        (force || t->syncing || t->qlen >= HC_SHARED_BATCH || now - t->oldest >= FLUSH_AGE_MS) &&
        (t->writer || now >= t->writer_retry);
    if (!due) {
        pthread_mutex_unlock(&t->lock);
        return false;
    }
    struct wentry *batch = t->qhead, *last = batch;
    size_t n = 1;
    while (n < HC_SHARED_BATCH && last->next) {
        last = last->next;
        n++;
    }
    t->qhead = last->next;
    last->next = NULL;
    if (!t->qhead)
        t->qtail = NULL;
    t->qlen -= n;
    t->oldest = now;
    hc_db_t *w = t->writer;
    t->writer = NULL;
    pthread_mutex_unlock(&t->lock);

    hc_err_t err = { 0 };
    CK_RV rv = CKR_OK;
    if (!w && !(w = hc_db_connect(&t->cfg, &t->cfg.write, CONNECT_MS, &err)))
        rv = CKR_GENERAL_ERROR;
    char what[64];
    snprintf(what, sizeof what, "%zu signatures not written", n);
    size_t len = 0;
    char *sql = rv == CKR_OK ? batch_sql(t, batch, n, &len) : NULL;
    if (rv == CKR_OK)
        rv = sql ? hc_db_query(w, sql, len, WRITE_MS, NULL, &err)
                 : hc_err(&err, CKR_HOST_MEMORY, "out of memory");
    free(sql);
    if (rv == CKR_OK) {
        HC_ADD(t->st->written, n);
    } else {
        HC_INC(t->st->write_errors);
        HC_ADD(t->st->dropped, n);
    }
    give_writer(t, w, rv == CKR_OK ? NULL : what, err.msg);
    pthread_mutex_lock(&t->lock);
    t->settled += n;
    pthread_cond_broadcast(&t->flushed);
    pthread_mutex_unlock(&t->lock);
    while (batch) {
        struct wentry *next = batch->next;
        free(batch);
        batch = next;
    }
    return rv == CKR_OK;
}
