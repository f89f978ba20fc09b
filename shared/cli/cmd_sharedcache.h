/* cmd_sharedcache.h: `hsmcache shared-cache` (cmd_sharedcache.c), kept
 * apart from cli.h so that the fleet's command is its own file pair. */
#ifndef HC_CMD_SHAREDCACHE_H
#define HC_CMD_SHAREDCACHE_H

#include "cli.h"

/* `shared-cache init|status`; returns the exit status (cli.h). */
int hc_cmd_sharedcache(hc_cli_t *cli);
/* `hsmcache doctor`'s lines for [shared-cache] (none without it): the
 * primary and the read endpoint answer, and no running process skips
 * the tier. Returns the failures; adds its warnings to *warnings. */
struct hc_config;
int hc_sharedcache_doctor(const struct hc_config *cfg, int *warnings);

#endif
