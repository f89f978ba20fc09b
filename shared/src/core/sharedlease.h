/*
 * sharedlease.h: fleet-wide leases in the shared tier's database
 * ([shared-cache], sharedtier.h): one row per lease in hsmcache_leases
 * (name, holder, expires). Two users: the purge of expired rows (lease
 * 'purge', sharedpurge.h) and the presigner (lease 'presign:TOKEN', one
 * node of the fleet signs next week's signatures of a token at a time).
 *
 * A lease is taken or renewed by a single INSERT ... ON DUPLICATE KEY
 * UPDATE on the primary, which takes the row only when it is the
 * caller's already or has expired, then read back on the same
 * connection. No GET_LOCK: a named lock lives in one server's memory,
 * which neither Galera nor a failover to a replica carries over; a row
 * does. On Galera two nodes taking the same row at once conflict at
 * certification and one of them gets an error: that one does not hold
 * it. Expiry is judged by the database's clock (UNIX_TIMESTAMP()), one
 * clock for the whole fleet, never a node's.
 *
 * Holders are "NODE:PID" ([shared-cache] node, whitelisted characters).
 * Names: 'purge' or 'presign:' and a token name (hc_valid_lease_name).
 *
 * Thread-safety: as dbclient.h: one connection, one thread at a time.
 */
#ifndef HC_SHAREDLEASE_H
#define HC_SHAREDLEASE_H

#include <stdbool.h>

#include "core/dbclient.h"

#define HC_LEASE_TABLE "hsmcache_leases"
#define HC_LEASE_NAME_MAX 96

/* The CREATE TABLE statement of the lease table (IF NOT EXISTS). */
const char *hc_sharedlease_schema(void);

/* Whether `name` may name a lease: 1 to HC_LEASE_NAME_MAX characters of
 * [A-Za-z0-9._:-] (it is written into SQL unquoted otherwise). */
bool hc_valid_lease_name(const char *name);

/* Takes or renews lease `name` for `holder` for lease_s seconds on `db`
 * (a connection to the primary); *held: whether `holder` has it now. On a
 * database error err says which (close the connection). */
CK_RV hc_lease_take(hc_db_t *db, const char *name, const char *holder, unsigned lease_s, bool *held,
                    hc_err_t *err);

/* Gives lease `name` up if `holder` has it (its expiry set to 0), so that
 * another process may take it at once rather than when it expires. */
CK_RV hc_lease_release(hc_db_t *db, const char *name, const char *holder, hc_err_t *err);

#endif
