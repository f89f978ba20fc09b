/*
 * sharedpurge.h: expired rows of the shared signature table
 * (sharedtier.h) are deleted by one process of the fleet at a time: the
 * holder of the lease row 'purge' in hsmcache_leases (sharedlease.h),
 * renewed before each batch; when the holder dies, another process takes
 * it once it has expired.
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
#include "core/sharedlease.h"

#define HC_PURGE_BATCH 500

/* One round on `db`, a connection to the primary: takes or renews the
 * lease for `holder` (whitelisted characters only) for lease_s seconds;
 * when held, deletes expired rows until none is left or max_ms have
 * passed. *held: whether this round held the lease; *purged: rows
 * deleted. On a database error err says which (close the connection). */
CK_RV hc_sharedpurge_run(hc_db_t *db, const char *holder, unsigned lease_s, unsigned max_ms,
                         bool *held, uint64_t *purged, hc_err_t *err);

#endif
