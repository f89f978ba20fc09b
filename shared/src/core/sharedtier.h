/*
 * sharedtier.h: the fleet's shared signature tier, a table on the
 * operator's MariaDB ([shared-cache], config.h), between the local LMDB
 * tier and the HSM (sigcache.h holds the lookup order).
 *
 * Table `hsmcache_signatures` (hc_sharedtier_schema): cache_key (the
 * sigcache key, 72 bytes) -> signature, expires (Unix time), node (who
 * signed it). Rows cross machines: a row is never trusted, only handed to
 * the caller to verify with the public key before it is served.
 *
 * No query waits on the database:
 * - a lookup takes an idle read connection (read-host/read-socket, else
 *   the primary) or skips the tier; it gives up after read-timeout-ms;
 * - any failed or late read opens the breaker: lookups skip the tier at
 *   once until the keeper thread's probe (a new connection and SELECT 1,
 *   backoff 100 ms doubling to 5 s) finds it answering, then closes it;
 * - new signatures are queued (at most HC_SHARED_QUEUE, more are dropped
 *   and counted) and written by the keeper in batches of up to
 *   HC_SHARED_BATCH rows on its own connection to the primary, which it
 *   reopens with the same backoff when it fails.
 * - expired rows are deleted by one process of the fleet at a time, the
 *   holder of a lease row (sharedpurge.h), every purge-interval; the first
 *   round comes a minute after the start at the earliest.
 * - other fleet-wide work (the presigner) takes leases of its own through
 *   hc_sharedtier_lease (sharedfleet.c), off the query path.
 * Connections are opened only by the keeper (at most 1 s each), never on
 * the query path, except that hc_sharedtier_new waits up to 1 s for the
 * first read connection, once, so that the first lookups of a process
 * (PowerDNS loads the module on its first signature) can use the tier.
 *
 * Thread-safety: every function but new and free may be called from any
 * thread at any time; free must not run concurrently with the others.
 */
#ifndef HC_SHAREDTIER_H
#define HC_SHAREDTIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "hsmcache.h"
#include "util/log.h"
#include "core/stats.h"

#define HC_SHARED_TABLE "hsmcache_signatures"
#define HC_SHARED_READERS 4
#define HC_SHARED_QUEUE 20000
#define HC_SHARED_BATCH 200

typedef struct hc_sharedtier hc_sharedtier_t;

/* Starts the tier (a copy of cfg is kept; log and stats must outlive it).
 * NULL when libmariadb cannot be loaded or memory runs out (logged): the
 * cache then runs without the tier. */
hc_sharedtier_t *hc_sharedtier_new(const hc_shared_cfg_t *cfg, const hc_logger_t *log,
                                   hc_shared_stats_t *stats);
/* Stops the keeper after one last attempt to write what is queued (batches
 * started within 2 s, each bounded by the 1 s connect and 2 s write
 * deadlines), closes every connection; what is left is dropped (counted). */
void hc_sharedtier_free(hc_sharedtier_t *t);

/* A live row for `key`: true with the signature (*len: buffer size in,
 * signature size out), its expiry and the node that wrote it (at most
 * HC_NAME_MAX characters). The signature is NOT verified: the caller
 * verifies it with the public key and reports the outcome
 * (hc_sharedtier_verified). false: no row, a row that is malformed,
 * expired or does not fit, or the tier was skipped (counted). */
bool hc_sharedtier_get(hc_sharedtier_t *t, const unsigned char *key, size_t key_len,
                       unsigned char *sig, size_t *len, int64_t *expires,
                       char node[HC_NAME_MAX + 1]);
/* The outcome of verifying a row hc_sharedtier_get returned: counted as a
 * hit, or as forged (and logged, naming the node). */
void hc_sharedtier_verified(hc_sharedtier_t *t, bool good, const char *node);
/* Queues a signature this node made for the writer (never blocks on the
 * database). Signatures without an expiry (0) are not shared: such a row
 * would never be purged. */
void hc_sharedtier_put(hc_sharedtier_t *t, const unsigned char *key, size_t key_len,
                       const unsigned char *sig, size_t len, int64_t expires);

/* Waits until every signature queued before the call has been written to
 * the primary (or dropped after a failed write), at most timeout_ms; the
 * keeper writes at once while someone waits. true when it has. May wait
 * on the database: never on the query path. */
bool hc_sharedtier_sync(hc_sharedtier_t *t, unsigned timeout_ms);
/* Takes or renews (seconds > 0) or gives back (seconds == 0) the fleet's
 * lease `name` (sharedlease.h) for this process (holder NODE:PID), on a
 * connection of its own to the primary, opened on first use (at most 1 s)
 * and again after a failure. The queued signatures are synced first (up
 * to 2 s), so that what this process did under the lease is in the table
 * before another may take it over. *held: whether this process has the
 * lease now (false after giving it back). Leases still held are given
 * back by hc_sharedtier_free. Thread-safe; callers of the lease wait for
 * each other, lookups never do. */
CK_RV hc_sharedtier_lease(hc_sharedtier_t *t, const char *name, unsigned seconds, bool *held,
                          hc_err_t *err);

/* The CREATE TABLE statement (IF NOT EXISTS), for hsmcache shared-cache
 * init and the README. */
const char *hc_sharedtier_schema(void);

#endif
