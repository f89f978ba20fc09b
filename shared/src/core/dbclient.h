/*
 * dbclient.h: MariaDB connections for the shared signature tier
 * (sharedtier.h) and `hsmcache shared-cache`, through MariaDB's own
 * client library, libmariadb.
 *
 * libmariadb is loaded with dlopen on first use, not linked: the core is
 * linked into every front (ssh-keygen's and named's modules too), and a
 * host that never configures [shared-cache] must not map a database
 * client. pdns_server with gmysql has it loaded already: dlopen finds
 * that copy.
 *
 * Every call has a deadline in milliseconds, enforced here with the
 * library's non-blocking API (its own timeouts count whole seconds):
 * connecting, a query and reading its result all give up at the
 * deadline. A connection whose call failed or ran out of time is left in
 * an unknown state: the caller closes it (hc_db_close is safe then) and
 * opens another. MYSQL_OPT_CONNECT_TIMEOUT, READ_TIMEOUT and
 * WRITE_TIMEOUT are set too (1 s, the library's smallest), a backstop for
 * anything the deadline loop does not cover.
 *
 * The password is read from [shared-cache] password-file (secretfile.h)
 * just before connecting and wiped right after, together with the
 * library's own copy of it; it never reaches a message, argv or the
 * environment.
 *
 * Thread-safety: hc_db_load and hc_db_connect may be called from any
 * thread. One connection is used by one thread at a time (the caller's
 * lock or ownership); different connections run in parallel.
 */
#ifndef HC_DBCLIENT_H
#define HC_DBCLIENT_H

#include <stddef.h>

#include "config.h"
#include "hsmcache.h"

typedef struct hc_db hc_db_t;
typedef struct hc_db_result hc_db_result_t;

/* Loads libmariadb once per process; CKR_OK, or err says why not. */
CK_RV hc_db_load(hc_err_t *err);

/* Connects to `ep` with cfg's database, user, password and TLS settings,
 * within timeout_ms. NULL on failure, err naming the endpoint and the
 * server's or library's message. */
hc_db_t *hc_db_connect(const hc_shared_cfg_t *cfg, const hc_db_endpoint_t *ep, unsigned timeout_ms,
                       hc_err_t *err);
void hc_db_close(hc_db_t *db);
/* "socket /run/mysqld/mysqld.sock" or "host db1 port 3306", for messages. */
const char *hc_db_where(const hc_db_t *db);

/* Runs `sql` (len bytes) and reads its whole result within timeout_ms.
 * *res (when res is not NULL) is the result set, or NULL for a statement
 * without one; free it with hc_db_free. On failure (the server's error,
 * a lost connection, the deadline) err says which; close the connection. */
CK_RV hc_db_query(hc_db_t *db, const char *sql, size_t len, unsigned timeout_ms,
                  hc_db_result_t **res, hc_err_t *err);
/* The next row: true with `n` columns' values and lengths (a NULL value
 * has value NULL), false when there are no more rows or the row has not
 * exactly n columns. The values live until hc_db_free. */
bool hc_db_row(hc_db_result_t *res, unsigned n, const char **val, size_t *len);
void hc_db_free(hc_db_result_t *res);
/* Rows the last statement on `db` inserted, changed or deleted. */
unsigned long long hc_db_affected(hc_db_t *db);

#endif
