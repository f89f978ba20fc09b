/* cmd_sharedcache.c: `hsmcache shared-cache init|status`: creates the
 * shared signature tier's table on the primary named by [shared-cache]
 * (sharedtier.h has the schema), and shows whether the primary and the
 * read endpoint answer, how many rows each holds and who holds the
 * fleet's leases (sharedlease.h); the first two, with the
 * running processes' breakers, as lines of `hsmcache doctor`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_sharedcache.h"
#include "cmdline.h"
#include "config.h"
#include "core/dbclient.h"
#include "util/err.h"
#include "util/textsafe.h"
#include "core/sharedlease.h"
#include "core/sharedtier.h"
#include "core/stats.h"

#define TIMEOUT_MS 10000

static const hc_cmdline_t sharedcache_cmdline = {
    .prog = "hsmcache shared-cache",
    .args = "init|status",
    .help = "The fleet's shared signature tier on MariaDB ([shared-cache]):\n"
            "  init     create its tables " HC_SHARED_TABLE " and " HC_LEASE_TABLE "\n"
            "           on the primary (those absent)\n"
            "  status   whether the primary and the read endpoint answer, their rows,\n"
            "           and the fleet's leases (who holds each, for how long yet)\n"
            "Options:\n"
            "  --help   this help\n",
    .exits = HC_CLI_EXIT_OK
    "  1  the database refused or did not answer\n"
    "  2  usage or configuration error (no [shared-cache] section, a bad config)\n",
    .shortopts = "",
    .longopts = hc_cli_no_options,
};

/* Rows in the table at `ep` (where: the endpoint, for messages), or -1
 * with err set. */
static long long rows_at(const hc_shared_cfg_t *s, const hc_db_endpoint_t *ep, char *where,
                         size_t size, hc_err_t *err)
{
    hc_db_t *db = hc_db_connect(s, ep, TIMEOUT_MS, err);
    hc_db_result_t *res = NULL;
    static const char sql[] = "SELECT COUNT(*) FROM " HC_SHARED_TABLE;
    long long rows = -1;
    if (db && hc_db_query(db, sql, sizeof sql - 1, TIMEOUT_MS, &res, err) == CKR_OK) {
        const char *v;
        size_t n;
        if (!hc_db_row(res, 1, &v, &n) || !v || sscanf(v, "%lld", &rows) != 1) {
            rows = -1;
            hc_err(err, CKR_GENERAL_ERROR, "%s: no row count", hc_db_where(db));
        }
        snprintf(where, size, "%s", hc_db_where(db));
    }
    hc_db_free(res);
    hc_db_close(db);
    return rows;
}

/* The endpoints to check: the primary, and the read endpoint if set. */
static size_t endpoints(const hc_shared_cfg_t *s, const hc_db_endpoint_t *ep[2])
{
    ep[0] = &s->write;
    ep[1] = &s->read;
    return s->read.host[0] || s->read.socket[0] ? 2 : 1;
}

/* The fleet's leases (sharedlease.h) as the primary has them: who holds
 * each and for how long yet. Printed escaped: the rows are the
 * database's, not ours. */
static int leases_of(const hc_shared_cfg_t *s)
{
    hc_err_t err = { 0 };
    hc_db_t *db = hc_db_connect(s, &s->write, TIMEOUT_MS, &err);
    hc_db_result_t *res = NULL;
    static const char sql[] =
        "SELECT name, holder, expires - UNIX_TIMESTAMP() FROM " HC_LEASE_TABLE " ORDER BY name";
    if (!db || hc_db_query(db, sql, sizeof sql - 1, TIMEOUT_MS, &res, &err) != CKR_OK) {
        hc_cli_error("%s", err.msg);
        hc_db_close(db);
        return 1;
    }
    const char *v[3];
    size_t n[3];
    while (hc_db_row(res, 3, v, n)) {
        char name[4 * HC_LEASE_NAME_MAX + 1], holder[4 * HC_LEASE_NAME_MAX + 1];
        long long left = 0;
        hc_text_escape(v[0] ? v[0] : "", n[0], name, sizeof name);
        hc_text_escape(v[1] ? v[1] : "", n[1], holder, sizeof holder);
        if (v[2] && sscanf(v[2], "%lld", &left) == 1 && left >= 0)
            printf("lease %s: held by %s, %lld s left\n", name, holder, left);
        else
            printf("lease %s: free (last held by %s)\n", name, holder);
    }
    hc_db_free(res);
    hc_db_close(db);
    return 0;
}

static int status_of(const hc_shared_cfg_t *s)
{
    const hc_db_endpoint_t *ep[2];
    int failed = 0;
    for (size_t i = 0, n = endpoints(s, ep); i < n; i++) {
        char where[300];
        hc_err_t err = { 0 };
        long long rows = rows_at(s, ep[i], where, sizeof where, &err);
        if (rows < 0) {
            hc_cli_error("%s", err.msg);
            failed = 1;
        } else {
            printf("%s: answers, %lld rows in %s.%s\n", where, rows, s->database, HC_SHARED_TABLE);
        }
    }
    return failed ? failed : leases_of(s);
}

int hc_sharedcache_doctor(const hc_config_t *cfg, int *warnings)
{
    const hc_shared_cfg_t *s = &cfg->shared;
    if (!s->enabled)
        return 0;
    const hc_db_endpoint_t *ep[2];
    int failures = 0;
    for (size_t i = 0, n = endpoints(s, ep); i < n; i++) {
        char where[300];
        hc_err_t err = { 0 };
        long long rows = rows_at(s, ep[i], where, sizeof where, &err);
        if (rows < 0)
            printf("[FAIL] shared cache: %s (fix: the database, [shared-cache], or "
                   "hsmcache shared-cache init)\n",
                   err.msg);
        else
            printf("[ok  ] shared cache: %s answers, %lld rows (%s)\n", where, rows,
                   i ? "lookups" : "primary, writes");
        failures += rows < 0;
    }
    hc_stats_file_t *sum = malloc(sizeof *sum);
    int live = 0;
    if (sum && hc_stats_collect(cfg->cache_dir, sum, &live) >= 0 && sum->shared.skipping) {
        printf("[warn] shared cache: %llu running process(es) skip the tier: their "
               "database failed or was slow; they probe it and resume by themselves "
               "(see their log)\n",
               (unsigned long long)sum->shared.skipping);
        (*warnings)++;
    }
    free(sum);
    return failures;
}

static int init(const hc_shared_cfg_t *s)
{
    hc_err_t err = { 0 };
    hc_db_t *db = hc_db_connect(s, &s->write, TIMEOUT_MS, &err);
    const char *sql[2] = { hc_sharedtier_schema(), hc_sharedlease_schema() };
    const char *table[2] = { HC_SHARED_TABLE, HC_LEASE_TABLE };
    for (int i = 0; i < 2; i++) {
        if (!db || hc_db_query(db, sql[i], strlen(sql[i]), TIMEOUT_MS, NULL, &err) != CKR_OK) {
            hc_cli_error("%s", err.msg);
            hc_db_close(db);
            return 1;
        }
        printf("%s: table %s.%s is there (created if it was absent)\n", hc_db_where(db),
               s->database, table[i]);
    }
    hc_db_close(db);
    return 0;
}

int hc_cmd_sharedcache(hc_cli_t *cli)
{
    int first, usage = hc_cli_args(cli, &sharedcache_cmdline, 1, 1, &first);
    if (usage >= 0)
        return usage;
    const char *sub = cli->argv[first];
    if (strcmp(sub, "init") && strcmp(sub, "status"))
        return hc_usage_error(&sharedcache_cmdline, "unknown subcommand '%s'", sub);
    hc_config_t *cfg = hc_cli_config(cli);
    if (!cfg)
        return 2;
    int status = 2;
    const hc_shared_cfg_t *s = &cfg->shared;
    if (!s->enabled) {
        hc_cli_error("%s: no [shared-cache] section", cfg->path);
    } else if (!strcmp(sub, "init")) {
        status = init(s);
    } else {
        status = status_of(s);
    }
    hc_config_free(cfg);
    return status;
}
