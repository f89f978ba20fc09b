/* cmd_stats.c: `hsmcache stats [--prometheus]`: the counters of every
 * process (running or exited) that used hsmcache with this cache dir. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hsmcache.h"
#include "config.h"
#include "core/stats.h"

enum { OPT_PROMETHEUS = 256 };

static const struct option stats_longopts[] = {
    { "prometheus", no_argument, NULL, OPT_PROMETHEUS },
    HC_LONGOPT_HELP,
    { 0 },
};

static const hc_cmdline_t stats_cmdline = {
    .prog = "hsmcache stats",
    .args = "[--prometheus]",
    .help = "The counters of every process that used this cache directory, running or\n"
            "exited (or, with [core] agent, hsmcached's, per client): sign requests, cache\n"
            "hits in memory and on disk, HSM signatures and their latency, errors, logins.\n"
            "Options:\n"
            "  --prometheus   in the Prometheus text format\n"
            "  --help         this help\n",
    .exits =
        HC_CLI_EXIT_OK "  1  no statistics yet, or the agent did not answer\n" HC_CLI_EXIT_USAGE,
    .shortopts = "",
    .longopts = stats_longopts,
};

int hc_cmd_stats(hc_cli_t *cli)
{
    bool prometheus = false;
    hc_opts_t o = HC_OPTS(&stats_cmdline, cli->argc, cli->argv);
    int c;
    while ((c = hc_opt_next(&o)) != -1) {
        if (c == HC_OPT_STOP)
            return o.status;
        prometheus |= c == OPT_PROMETHEUS;
    }
    if ((c = hc_opt_args(&o, 0, 0)) >= 0)
        return c;
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
                     "hsmcache with this cache-dir)",
                     cfg->cache_dir);
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
