/*
 * sharedtier_int.h: the shared tier's state and helpers, for its two
 * files: sharedtier.c (lookups, the breaker, the keeper thread, start and
 * stop), sharedwrite.c (the write queue, batches, the purge round) and
 * sharedfleet.c (sync and the fleet's leases).
 * Not a public header: sharedtier.h is the tier's contract.
 *
 * Locking: `lock` guards the idle read connections, the breaker's probe
 * schedule, the queue and the writer's state; it is never held across a
 * database call. `lease_lock` guards the lease connection and the leases
 * held (sharedlease.c's callers only; taken before `lock`, never after). `open` (the breaker) is also read without it, so that a
 * lookup with the breaker open costs one atomic load. The writer's
 * connection and the purge are the keeper thread's alone.
 */
#ifndef HC_SHAREDTIER_INT_H
#define HC_SHAREDTIER_INT_H

#include <pthread.h>

#include "core/dbclient.h"
#include "core/sharedlease.h"
#include "core/sharedtier.h"

#define CONNECT_MS 1000
#define PROBE_MS 1000
#define WRITE_MS 2000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define FLUSH_AGE_MS 200
#define PURGE_MS 2000
#define HC_SHARED_LEASES 16   /* leases one process holds at once, at most */

struct wentry {
    struct wentry *next;
    unsigned char key[72];
    int64_t expires;
    size_t len;
    unsigned char sig[];
};

struct hc_sharedtier {
    hc_shared_cfg_t cfg;
    const hc_logger_t *log;
    hc_shared_stats_t *st;
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* the keeper: work or stop */
    pthread_cond_t started; /* new(): the first probe is done */
    pthread_cond_t flushed; /* sync: a batch was written or dropped */
    bool first_done;
    hc_db_t *idle[HC_SHARED_READERS];
    size_t nidle, nreaders; /* idle ones, and all open (idle or in use) */
    /* Failed ones, for the keeper to close; nreaders + ndead never exceeds
     * HC_SHARED_READERS. */
    hc_db_t *dead[HC_SHARED_READERS];
    size_t ndead;
    bool open;    /* breaker: lookups skip the tier */
    bool tripped; /* open after a failure, not only at start */
    uint64_t next_probe;
    unsigned backoff;
    struct wentry *qhead, *qtail;
    size_t qlen;
    uint64_t oldest;          /* when the queue's first entry came */
    uint64_t queued, settled; /* entries ever queued, and ever written or
                                   dropped by a batch (FIFO: sync waits for
                                   settled to reach its call's queued) */
    unsigned syncing;         /* sync callers waiting: flush at once */
    hc_db_t *writer;
    uint64_t writer_retry;
    unsigned writer_backoff;
    uint64_t next_purge;
    char holder[HC_NAME_MAX + 32]; /* "node:pid:nonce": the lease rows' holder */
    /* hc_sharedtier_lease: its own connection to the primary and the
     * leases held, under lease_lock (held across database calls: only
     * the lease's callers, never a lookup, take it). */
    pthread_mutex_t lease_lock;
    hc_db_t *lease_db;
    char leases[HC_SHARED_LEASES][HC_LEASE_NAME_MAX + 1];
    size_t nleases;
    bool stop;
    pthread_t thread;
};

/* 100 ms doubling to 5 s. */
unsigned hc_shared_backoff(unsigned b);
/* Sets a stats gauge (1 or 0); lock-free. */
void hc_shared_gauge(uint64_t *g, bool on);
/* n bytes as 2n lower-case hex digits and a NUL. */
void hc_shared_hex(char *out, const unsigned char *p, size_t n);

/* sharedwrite.c, run by the keeper thread: one batch when one is due
 * (force, or a sync waiting: whatever is queued; false when nothing was
 * written); a purge round when due; the lease given back at the end. */
bool hc_sharedwrite_flush(hc_sharedtier_t *t, bool force);
void hc_sharedwrite_purge(hc_sharedtier_t *t);
void hc_sharedwrite_release(hc_sharedtier_t *t);
/* sharedfleet.c, at free after the keeper stopped: the leases this
 * process holds given back, the lease connection closed. */
void hc_sharedfleet_free(hc_sharedtier_t *t);

#endif
