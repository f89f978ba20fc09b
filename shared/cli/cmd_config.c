/* cmd_config.c: `hsmcache config-keys`: every key of hsmcache.conf with
 * its default and meaning, from the table the parser itself uses
 * (config_keys.c), so what it prints cannot differ from what is parsed.
 * README's configuration table is this output (tests/integration/
 * config_keys.sh compares them). */
#include "cmd_config.h"

#include <stdio.h>

#include "config.h"

static const hc_cmdline_t config_keys_cmdline = {
    .prog = "hsmcache config-keys",
    .args = "",
    .help = "Every key of the configuration file: section and key, default, meaning,\n"
            "as a Markdown table. Reads no config.\n"
            "Options:\n"
            "  --help   this help\n",
    .exits = HC_CLI_EXIT_OK
    "  1  the table could not be written (stdout closed or full)\n" HC_CLI_EXIT_USAGE,
    .shortopts = "",
    .longopts = hc_cli_no_options,
};

int hc_cmd_config_keys(hc_cli_t *cli)
{
    int first, usage = hc_cli_args(cli, &config_keys_cmdline, 0, 0, &first);
    if (usage >= 0)
        return usage;
    hc_config_doc(stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        hc_cli_error("config-keys: writing to stdout failed");
        return 1;
    }
    return 0;
}
