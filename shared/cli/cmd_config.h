/* cmd_config.h: `hsmcache config-keys` (cmd_config.c), its own file pair
 * like the other commands outside cli.h. */
#ifndef HC_CMD_CONFIG_H
#define HC_CMD_CONFIG_H

#include "cli.h"

/* `config-keys`: prints every config key (config_keys.c's table) as the
 * Markdown table README shows; reads no config. Returns the exit status. */
int hc_cmd_config_keys(hc_cli_t *cli);

#endif
