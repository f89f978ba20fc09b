/*
 * sharedlease.c: fleet-wide lease rows (sharedlease.h).
 */
#include "core/sharedlease.h"

#include <stdio.h>
#include <string.h>

#include "util/err.h"

#define STATEMENT_MS 2000

static const char schema[] = "CREATE TABLE IF NOT EXISTS " HC_LEASE_TABLE " (\n"
                             "  name VARCHAR(96) CHARACTER SET ascii NOT NULL PRIMARY KEY,\n"
                             "  holder VARCHAR(96) CHARACTER SET ascii NOT NULL,\n"
                             "  expires BIGINT NOT NULL\n"
                             ") ENGINE=InnoDB";

const char *hc_sharedlease_schema(void)
{
    return schema;
}

bool hc_valid_lease_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > HC_LEASE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
            c != '.' && c != '_' && c != '-' && c != ':')
            return false;
    }
    return true;
}

CK_RV hc_lease_take(hc_db_t *db, const char *name, const char *holder, unsigned lease_s, bool *held,
                    hc_err_t *err)
{
    *held = false;
    if (!hc_valid_lease_name(name) || !hc_valid_lease_name(holder))
        return hc_err(err, CKR_ARGUMENTS_BAD,
                      "lease name '%s' or holder '%s' has a "
                      "character outside [A-Za-z0-9._:-] or is too long",
                      name, holder);
    char sql[512];
    /* Assignments run left to right: `expires` sees the new holder. */
    int n = snprintf(sql, sizeof sql,
                     "INSERT INTO " HC_LEASE_TABLE " (name, holder, "
                     "expires) VALUES ('%s', '%s', UNIX_TIMESTAMP() + %u) ON DUPLICATE "
                     "KEY UPDATE holder = IF(holder = VALUES(holder) OR expires < "
                     "UNIX_TIMESTAMP(), VALUES(holder), holder), expires = IF(holder = "
                     "VALUES(holder), VALUES(expires), expires)",
                     name, holder, lease_s);
    CK_RV rv = hc_db_query(db, sql, (size_t)n, STATEMENT_MS, NULL, err);
    if (rv != CKR_OK)
        return rv;
    n = snprintf(sql, sizeof sql, "SELECT holder FROM " HC_LEASE_TABLE " WHERE name = '%s'", name);
    hc_db_result_t *res = NULL;
    if ((rv = hc_db_query(db, sql, (size_t)n, STATEMENT_MS, &res, err)) != CKR_OK)
        return rv;
    const char *v;
    size_t len;
    *held = hc_db_row(res, 1, &v, &len) && v && len == strlen(holder) && !memcmp(v, holder, len);
    hc_db_free(res);
    return CKR_OK;
}

CK_RV hc_lease_release(hc_db_t *db, const char *name, const char *holder, hc_err_t *err)
{
    if (!hc_valid_lease_name(name) || !hc_valid_lease_name(holder))
        return hc_err(err, CKR_ARGUMENTS_BAD,
                      "lease name '%s' or holder '%s' has a "
                      "character outside [A-Za-z0-9._:-] or is too long",
                      name, holder);
    char sql[320];
    int n = snprintf(sql, sizeof sql,
                     "UPDATE " HC_LEASE_TABLE " SET expires = 0 WHERE "
                     "name = '%s' AND holder = '%s'",
                     name, holder);
    return hc_db_query(db, sql, (size_t)n, STATEMENT_MS, NULL, err);
}
