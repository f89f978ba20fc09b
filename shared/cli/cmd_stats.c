/* cmd_stats.c: `hsmcache stats [--prometheus]`: the counters of every
 * process (running or exited) that used hsmcache with this cache dir. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hsmcache.h"
#include "config.h"
#include "stats.h"

int hc_cmd_stats(hc_cli_t *cli)
{
    bool prometheus = false;
    for (int i = 0; i < cli->argc; i++) {
        if (!strcmp(cli->argv[i], "--prometheus"))
            prometheus = true;
        else {
            hc_cli_error("usage: hsmcache stats [--prometheus]");
            return 2;
        }
    }
    hc_config_t *cfg = hc_cli_config(cli);
    if (!cfg)
        return 2;
    if (cfg->agent.socket[0]) {
        /* The agent's counters (its cache dir may not be ours to read),
         * with its per-client counts. */
        hc_config_free(cfg);
        hc_ctx_t *ctx = hc_cli_open(cli);
        char *text = NULL;
        hc_err_t err = { 0 };
        if (ctx && hc_stats_text(ctx, prometheus, &text, &err) != CKR_OK)
            hc_cli_error("%s", err.msg);
        if (text)
            fputs(text, stdout);
        free(text);
        hc_close(ctx);
        return text ? 0 : 1;
    }
    hc_stats_file_t *sum = calloc(1, sizeof *sum);
    int live = 0, files = sum ? hc_stats_collect(cfg->cache_dir, sum, &live) : -1;
    int status = 0;
    if (files < 0) {
        hc_cli_error("no statistics under %s/stats yet (no process has used "
                     "hsmcache with this cache-dir)", cfg->cache_dir);
        status = 1;
    } else {
        char *text = hc_stats_render(sum, prometheus, files, live);
        fputs(text ? text : "", stdout);
        free(text);
    }
    free(sum);
    hc_config_free(cfg);
    return status;
}
