/*
 * sharedpurge.h: expired rows of the shared signature table
 * (sharedtier.h) are deleted by one process of the fleet at a time: the
 * holder of the lease row 'purge' in hsmcache_leases.
 *
 * The lease is one row with a holder and an expiry, taken or renewed by a
 * single INSERT ... ON DUPLICATE KEY UPDATE on the primary (it takes the
 * row only when the row is ours or has expired), then read back on the
 * same connection. No GET_LOCK: a named lock lives in one server's
 * memory, which neither Galera nor a failover to a replica carries over;
 * a row does. The holder renews it before each batch; when the holder
 * dies, another process takes it once it has expired.
 *
 * Rows are deleted in batches of HC_PURGE_BATCH (ordered by expiry, on
 * its index), 100 ms apart, so that the primary and the replicas apply
 * small transactions.
 *
 * Thread-safety: as dbclient.h: one connection, one thread at a time.
 */
#ifndef HC_SHAREDPURGE_H
#define HC_SHAREDPURGE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/dbclient.h"

#define HC_LEASE_TABLE "hsmcache_leases"
#define HC_PURGE_BATCH 500

/* The CREATE TABLE statement of the lease table (IF NOT EXISTS). */
const char *hc_sharedpurge_schema(void);

/* One round on `db`, a connection to the primary: takes or renews the
 * lease for `holder` (whitelisted characters only) for lease_s seconds;
 * when held, deletes expired rows until none is left or max_ms have
 * passed. *held: whether this round held the lease; *purged: rows
 * deleted. On a database error err says which (close the connection). */
CK_RV hc_sharedpurge_run(hc_db_t *db, const char *holder, unsigned lease_s,
                         unsigned max_ms, bool *held, uint64_t *purged, hc_err_t *err);

/* Gives the lease up if `holder` has it (its expiry set to 0). */
CK_RV hc_sharedpurge_release(hc_db_t *db, const char *holder, hc_err_t *err);

#endif
