/* db.c: the cryptokeys rows in PowerDNS's MySQL/MariaDB database. */
#include <mysql.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdnshsm.h"

struct db {
    MYSQL *m;
};

db_t *db_open(const pdns_settings_t *s, char *err, size_t size)
{
    db_t *db = calloc(1, sizeof *db);
    if (!db || !(db->m = mysql_init(NULL))) {
        snprintf(err, size, "out of memory");
        free(db);
        return NULL;
    }
    if (!mysql_real_connect(db->m, s->socket[0] ? NULL : (s->host[0] ? s->host : "localhost"),
                            s->user, s->password[0] ? s->password : NULL, s->dbname, s->port,
                            s->socket[0] ? s->socket : NULL, 0)) {
        snprintf(err, size, "database %s (%s, from %s): %s", s->dbname,
                 s->socket[0] ? s->socket : s->host, s->path, mysql_error(db->m));
        db_close(db);
        return NULL;
    }
    return db;
}

void db_close(db_t *db)
{
    if (!db)
        return;
    if (db->m)
        mysql_close(db->m);
    free(db);
}

int db_key_rows(db_t *db, const char *zone, key_row_t **rows, size_t *n, char *err, size_t size)
{
    *rows = NULL;
    *n = 0;
    char q[1024];
    const char *base = "SELECT cryptokeys.id, domains.name, cryptokeys.flags, "
                       "cryptokeys.active, cryptokeys.content FROM cryptokeys "
                       "JOIN domains ON domains.id = cryptokeys.domain_id";
    if (zone) {
        char esc[520];
        size_t zl = strlen(zone);
        if (zl > 255) {
            snprintf(err, size, "zone name too long");
            return -1;
        }
        mysql_real_escape_string(db->m, esc, zone, (unsigned long)zl);
        snprintf(q, sizeof q, "%s WHERE domains.name = '%s' ORDER BY cryptokeys.id", base, esc);
    } else {
        snprintf(q, sizeof q, "%s ORDER BY domains.name, cryptokeys.id", base);
    }
    MYSQL_RES *res;
    if (mysql_query(db->m, q) != 0 || !(res = mysql_store_result(db->m))) {
        snprintf(err, size, "reading cryptokeys: %s", mysql_error(db->m));
        return -1;
    }
    size_t count = (size_t)mysql_num_rows(res);
    key_row_t *r = calloc(count ? count : 1, sizeof *r);
    MYSQL_ROW row;
    size_t i = 0;
    while (r && (row = mysql_fetch_row(res)) && i < count) {
        r[i].id = (unsigned)strtoul(row[0] ? row[0] : "0", NULL, 10);
        snprintf(r[i].zone, sizeof r[i].zone, "%s", row[1] ? row[1] : "");
        r[i].flags = (unsigned)strtoul(row[2] ? row[2] : "0", NULL, 10);
        r[i].active = row[3] && atoi(row[3]) != 0;
        r[i].content = strdup(row[4] ? row[4] : "");
        key_row_parse(&r[i]);
        i++;
    }
    mysql_free_result(res);
    if (!r) {
        snprintf(err, size, "out of memory");
        return -1;
    }
    *rows = r;
    *n = i;
    return 0;
}

int db_zone_rrsets(db_t *db, const char *zone, rrset_name_t **sets, size_t *n, char *err,
                   size_t size)
{
    *sets = NULL;
    *n = 0;
    char esc[520], q[1024];
    size_t zl = strlen(zone);
    if (zl > 255) {
        snprintf(err, size, "zone name too long");
        return -1;
    }
    mysql_real_escape_string(db->m, esc, zone, (unsigned long)zl);
    /* auth = 0 rows are delegations and glue, which PowerDNS does not sign;
     * type NULL rows are empty non-terminals. */
    snprintf(q, sizeof q,
             "SELECT DISTINCT records.name, records.type FROM records "
             "JOIN domains ON domains.id = records.domain_id WHERE domains.name = '%s' "
             "AND records.type IS NOT NULL AND records.type <> '' AND records.auth = 1 "
             "AND records.disabled = 0 ORDER BY records.name, records.type",
             esc);
    MYSQL_RES *res;
    if (mysql_query(db->m, q) != 0 || !(res = mysql_store_result(db->m))) {
        snprintf(err, size, "reading the records of %s: %s", zone, mysql_error(db->m));
        return -1;
    }
    size_t count = (size_t)mysql_num_rows(res), i = 0;
    rrset_name_t *s = calloc(count ? count : 1, sizeof *s);
    MYSQL_ROW row;
    while (s && (row = mysql_fetch_row(res)) && i < count) {
        snprintf(s[i].name, sizeof s[i].name, "%s", row[0] ? row[0] : "");
        snprintf(s[i].type, sizeof s[i].type, "%s", row[1] ? row[1] : "");
        i++;
    }
    mysql_free_result(res);
    if (!s) {
        snprintf(err, size, "out of memory");
        return -1;
    }
    *sets = s;
    *n = i;
    return 0;
}

void rows_free(key_row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (rows[i].content) {
            OPENSSL_cleanse(rows[i].content, strlen(rows[i].content));
            free(rows[i].content);
        }
    }
    wipe_rows_pins(rows, n);
    free(rows);
}

static int exec(db_t *db, const char *q, char *err, size_t size)
{
    if (mysql_query(db->m, q) == 0)
        return 0;
    snprintf(err, size, "%s", mysql_error(db->m));
    return -1;
}

int db_rewrite(db_t *db, const key_row_t *const *rows, char *const *contents, size_t n, char *err,
               size_t size)
{
    if (exec(db, "START TRANSACTION", err, size) != 0)
        return -1;
    MYSQL_STMT *st = mysql_stmt_init(db->m);
    const char *q = "UPDATE cryptokeys SET content = ? WHERE id = ? AND content = ?";
    int rc = st && mysql_stmt_prepare(st, q, (unsigned long)strlen(q)) == 0 ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        unsigned long new_len = (unsigned long)strlen(contents[i]);
        unsigned long old_len = (unsigned long)strlen(rows[i]->content);
        unsigned id = rows[i]->id;
        MYSQL_BIND b[3];
        memset(b, 0, sizeof b);
        b[0].buffer_type = MYSQL_TYPE_STRING;
        b[0].buffer = contents[i];
        b[0].buffer_length = new_len;
        b[0].length = &new_len;
        b[1].buffer_type = MYSQL_TYPE_LONG;
        b[1].buffer = &id;
        b[1].is_unsigned = 1;
        b[2].buffer_type = MYSQL_TYPE_STRING;
        b[2].buffer = rows[i]->content;
        b[2].buffer_length = old_len;
        b[2].length = &old_len;
        if (mysql_stmt_bind_param(st, b) != 0 || mysql_stmt_execute(st) != 0) {
            snprintf(err, size, "updating key %u: %s", id, mysql_stmt_error(st));
            rc = -1;
        } else if (mysql_stmt_affected_rows(st) != 1) {
            snprintf(err, size,
                     "key %u of %s changed while migrating; nothing "
                     "was changed, run again",
                     id, rows[i]->zone);
            rc = -1;
        }
    }
    if (rc != 0 && st && !err[0])
        snprintf(err, size, "%s", mysql_stmt_error(st));
    if (st)
        mysql_stmt_close(st);
    if (rc == 0)
        rc = exec(db, "COMMIT", err, size);
    if (rc != 0) {
        char ignored[64];
        exec(db, "ROLLBACK", ignored, sizeof ignored);
    }
    return rc;
}
