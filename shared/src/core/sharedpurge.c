/*
 * sharedpurge.c: the purge of expired shared rows under the lease row
 * 'purge' (sharedpurge.h, sharedlease.h).
 */
#include "core/sharedpurge.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "core/sharedtier.h"

#define STATEMENT_MS 2000

CK_RV hc_sharedpurge_run(hc_db_t *db, const char *holder, unsigned lease_s, unsigned max_ms,
                         bool *held, uint64_t *purged, hc_err_t *err)
{
    *held = false;
    *purged = 0;
    uint64_t until = hc_now_ms() + max_ms;
    char del[160];
    size_t dlen = (size_t)snprintf(del, sizeof del,
                                   "DELETE FROM " HC_SHARED_TABLE
                                   " WHERE expires < UNIX_TIMESTAMP() ORDER BY expires "
                                   "LIMIT %d",
                                   HC_PURGE_BATCH);
    for (;;) {
        CK_RV rv = hc_lease_take(db, "purge", holder, lease_s, held, err);
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
