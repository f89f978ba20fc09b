/* cmd_sharedcache.h: `hsmcache shared-cache` (cmd_sharedcache.c), kept
 * apart from cli.h so that the fleet's command is its own file pair. */
#ifndef HC_CMD_SHAREDCACHE_H
#define HC_CMD_SHAREDCACHE_H

#include "cli.h"

/* `shared-cache init|status`; returns the exit status (cli.h). */
int hc_cmd_sharedcache(hc_cli_t *cli);

#endif
