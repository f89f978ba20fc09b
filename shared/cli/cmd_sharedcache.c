/* cmd_sharedcache.c: `hsmcache shared-cache init|status`: creates the
 * shared signature tier's table on the primary named by [shared-cache]
 * (sharedtier.h has the schema), and shows whether the primary and the
 * read endpoint answer and how many rows each holds. */
#include <stdio.h>
#include <string.h>

#include "cmd_sharedcache.h"
#include "cmdline.h"
#include "config.h"
#include "dbclient.h"
#include "sharedtier.h"

#define TIMEOUT_MS 10000

static const hc_cmdline_t sharedcache_cmdline = {
    .prog = "hsmcache shared-cache",
    .args = "init|status",
    .help = "The fleet's shared signature tier on MariaDB ([shared-cache]):\n"
            "  init     create its table " HC_SHARED_TABLE " on the primary (if absent)\n"
            "  status   whether the primary and the read endpoint answer, and their rows\n"
            "Options:\n"
            "  --help   this help\n",
    .exits = HC_CLI_EXIT_OK "  1  the database refused or did not answer\n"
             "  2  usage or configuration error (no [shared-cache] section, a bad config)\n",
    .shortopts = "",
    .longopts = hc_cli_no_options,
};

/* Rows in the table at `ep`, or -1 (the error printed). */
static long long count_rows(const hc_shared_cfg_t *s, const hc_db_endpoint_t *ep)
{
    hc_err_t err = { 0 };
    hc_db_t *db = hc_db_connect(s, ep, TIMEOUT_MS, &err);
    hc_db_result_t *res = NULL;
    static const char sql[] = "SELECT COUNT(*) FROM " HC_SHARED_TABLE;
    if (!db || hc_db_query(db, sql, sizeof sql - 1, TIMEOUT_MS, &res, &err) != CKR_OK) {
        hc_cli_error("%s", err.msg);
        hc_db_close(db);
        return -1;
    }
    const char *v;
    size_t n;
    long long rows = -1;
    if (hc_db_row(res, 1, &v, &n) && v && sscanf(v, "%lld", &rows) != 1)
        rows = -1;
    printf("%s: answers, %lld rows in %s.%s\n", hc_db_where(db), rows, s->database,
           HC_SHARED_TABLE);
    hc_db_free(res);
    hc_db_close(db);
    return rows;
}

static int init(const hc_shared_cfg_t *s)
{
    hc_err_t err = { 0 };
    hc_db_t *db = hc_db_connect(s, &s->write, TIMEOUT_MS, &err);
    const char *sql = hc_sharedtier_schema();
    if (!db || hc_db_query(db, sql, strlen(sql), TIMEOUT_MS, NULL, &err) != CKR_OK) {
        hc_cli_error("%s", err.msg);
        hc_db_close(db);
        return 1;
    }
    printf("%s: table %s.%s is there (created if it was absent)\n", hc_db_where(db),
           s->database, HC_SHARED_TABLE);
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
        bool replica = s->read.host[0] || s->read.socket[0];
        status = count_rows(s, &s->write) < 0;
        if (replica && count_rows(s, &s->read) < 0)
            status = 1;
    }
    hc_config_free(cfg);
    return status;
}
