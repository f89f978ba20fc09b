/*
 * sharedpurge.c: the purge of expired shared rows under a lease row
 * (sharedpurge.h).
 */
#include "core/sharedpurge.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "core/sharedtier.h"

#define STATEMENT_MS 2000

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS " HC_LEASE_TABLE " (\n"
    "  name VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,\n"
    "  holder VARCHAR(96) CHARACTER SET ascii NOT NULL,\n"
    "  expires BIGINT NOT NULL\n"
    ") ENGINE=InnoDB";

const char *hc_sharedpurge_schema(void)
{
    return schema;
}

/* Takes or renews the lease; *held says whether it is ours now. */
static CK_RV lease(hc_db_t *db, const char *holder, unsigned lease_s, bool *held,
                   hc_err_t *err)
{
    char sql[512];
    /* Assignments run left to right: `expires` sees the new holder. */
    int n = snprintf(sql, sizeof sql, "INSERT INTO " HC_LEASE_TABLE " (name, holder, "
                     "expires) VALUES ('purge', '%s', UNIX_TIMESTAMP() + %u) ON DUPLICATE "
                     "KEY UPDATE holder = IF(holder = VALUES(holder) OR expires < "
                     "UNIX_TIMESTAMP(), VALUES(holder), holder), expires = IF(holder = "
                     "VALUES(holder), VALUES(expires), expires)", holder, lease_s);
    CK_RV rv = hc_db_query(db, sql, (size_t)n, STATEMENT_MS, NULL, err);
    if (rv != CKR_OK)
        return rv;
    static const char who[] = "SELECT holder FROM " HC_LEASE_TABLE " WHERE name = 'purge'";
    hc_db_result_t *res = NULL;
    if ((rv = hc_db_query(db, who, sizeof who - 1, STATEMENT_MS, &res, err)) != CKR_OK)
        return rv;
    const char *v;
    size_t len;
    *held = hc_db_row(res, 1, &v, &len) && v && len == strlen(holder) &&
            !memcmp(v, holder, len);
    hc_db_free(res);
    return CKR_OK;
}

CK_RV hc_sharedpurge_release(hc_db_t *db, const char *holder, hc_err_t *err)
{
    char sql[256];
    int n = snprintf(sql, sizeof sql, "UPDATE " HC_LEASE_TABLE " SET expires = 0 WHERE "
                     "name = 'purge' AND holder = '%s'", holder);
    return hc_db_query(db, sql, (size_t)n, STATEMENT_MS, NULL, err);
}

CK_RV hc_sharedpurge_run(hc_db_t *db, const char *holder, unsigned lease_s,
                         unsigned max_ms, bool *held, uint64_t *purged, hc_err_t *err)
{
    *held = false;
    *purged = 0;
    uint64_t until = hc_now_ms() + max_ms;
    char del[160];
    size_t dlen = (size_t)snprintf(del, sizeof del, "DELETE FROM " HC_SHARED_TABLE
                                   " WHERE expires < UNIX_TIMESTAMP() ORDER BY expires "
                                   "LIMIT %d", HC_PURGE_BATCH);
    for (;;) {
        CK_RV rv = lease(db, holder, lease_s, held, err);
        if (rv != CKR_OK || !*held)
            return rv;
        if ((rv = hc_db_query(db, del, dlen, STATEMENT_MS, NULL, err)) != CKR_OK)
            return rv;
        unsigned long long n = hc_db_affected(db);
        *purged += n;
        if (n < HC_PURGE_BATCH || hc_now_ms() >= until)
            return CKR_OK;
        struct timespec pause = { 0, 100 * 1000000L };
        nanosleep(&pause, NULL);
    }
}
