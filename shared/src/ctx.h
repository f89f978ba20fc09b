/*
 * ctx.h: what an hsmcache.h context holds (api.c opens and dispatches it;
 * settings.c and services.c give plugins its section, stats group and
 * the rest). Internal to libhsmcache: plugins see hc_ctx_t only.
 * Everything but the stats group is set at open and immutable until
 * hc_close, so any thread may read it.
 */
#ifndef HC_CTX_H
#define HC_CTX_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "util/err.h"
#include "util/log.h"
#include "core/stats.h"
#include "transport.h"

/* Returns CKR_SLOT_ID_INVALID (err naming it) for a token index past
 * the context's tokens. */
#define TOKEN_CHECK(ctx, tok, err)                                            \
    do {                                                                      \
        if ((tok) >= hc_token_count(ctx))                                     \
            return hc_err(err, CKR_SLOT_ID_INVALID, "no token #%zu", (tok));  \
    } while (0)

/* One key of the profile's section, as the config checked it; text and
 * list are the context's copies. */
enum setting_kind { S_BOOL, S_NUMBER, S_TEXT, S_LIST };
typedef struct setting {
    const char *key;
    enum setting_kind kind;
    long long value;
    char *text;
    char **list;
    size_t n;
} setting_t;

struct hc_plugin_stats {
    hc_plugin_area_t *area;
};

struct hc_ctx {
    const hc_transport_t *tp;
    void *impl;
    bool agent;
    hc_logger_t log;
    char section[16];    /* the profile's section name */
    setting_t *settings; /* the section's rows (settings.c) */
    size_t nsettings, settings_cap;
    bool has_state_dir;
    char state_dir[PATH_MAX];
    char pin_store[PATH_MAX]; /* [core] pin-store */
    /* Each token group's refusal of a PIN of its own, made at hc_open from
     * the config (services.c), so hc_token_pin_store reads no file. */
    struct hc_ctx_pin_group {
        char name[HC_NAME_MAX + 1];
        hc_err_t refusal;
    } *pin_groups;
    size_t npin_groups;
    bool stats_taken; /* hc_stats_register ran (once per context) */
    hc_plugin_stats_t stats;
    hc_plugin_area_t stats_sink; /* when the transport keeps no area */
};

/* settings.c: the profile's own section copied from `cfg` into the
 * context (false when out of memory; then hc_ctx_settings_free cleans
 * up), and freed. */
bool hc_ctx_settings_load(hc_ctx_t *ctx, const hc_config_t *cfg, const char *profile);
/* services.c: ctx->pin_groups from `cfg` (false when out of memory), and
 * freed. */
bool hc_ctx_pin_groups_load(hc_ctx_t *ctx, const hc_config_t *cfg);
void hc_ctx_pin_groups_free(hc_ctx_t *ctx);
void hc_ctx_settings_free(hc_ctx_t *ctx);

#endif
