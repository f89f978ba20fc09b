/*
 * settings.c: a plugin's own config section, handed to it by its context
 * (hsmcache.h hc_setting_*): copied at hc_open from the loaded config, so
 * the plugin never reads the config file, and asked for by key and kind,
 * so a typo or a wrong kind in a plugin fails closed, naming the key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "util/err.h"

void hc_ctx_settings_free(hc_ctx_t *ctx)
{
    for (size_t i = 0; i < ctx->nsettings; i++) {
        free(ctx->settings[i].text);
        for (size_t k = 0; k < ctx->settings[i].n; k++)
            free(ctx->settings[i].list[k]);
        free(ctx->settings[i].list);
    }
    free(ctx->settings);
    ctx->settings = NULL;
    ctx->nsettings = ctx->settings_cap = 0;
}

/* The next free setting, NULL when out of memory (hc_open then fails
 * rather than lose a key). As many as the section has rows. */
static setting_t *add(hc_ctx_t *ctx, const char *key, enum setting_kind kind)
{
    if (ctx->nsettings == ctx->settings_cap) {
        size_t cap = ctx->settings_cap ? 2 * ctx->settings_cap : 16;
        setting_t *grown = realloc(ctx->settings, cap * sizeof *grown);
        if (!grown)
            return NULL;
        ctx->settings = grown;
        ctx->settings_cap = cap;
    }
    setting_t *s = &ctx->settings[ctx->nsettings++];
    *s = (setting_t){ .key = key, .kind = kind };
    return s;
}

/* One key of the section, copied into the context (config_keys.c's walk
 * hands each row the section has, with its kind and value). */
static bool add_row(void *arg, const char *key, enum hc_cfg_kind kind, const hc_cfg_value_t *v)
{
    hc_ctx_t *ctx = arg;
    setting_t *s = NULL;
    switch (kind) {
    case HC_CFG_FLAG:
        if ((s = add(ctx, key, S_BOOL)))
            s->value = v->flag;
        return s != NULL;
    case HC_CFG_NUMBER:
        if ((s = add(ctx, key, S_NUMBER)))
            s->value = v->number;
        return s != NULL;
    case HC_CFG_TEXT:
        s = add(ctx, key, S_TEXT);
        return s && (s->text = strdup(v->text ? v->text : "")) != NULL;
    case HC_CFG_LIST:
        if (!(s = add(ctx, key, S_LIST)) || !(s->list = calloc(v->list.n + 1, sizeof *s->list)))
            return false;
        for (; s->n < v->list.n; s->n++)
            if (!(s->list[s->n] = strdup(v->list.items[s->n])))
                return false;
        return true;
    case HC_CFG_NONE: break;
    }
    return true;
}

/* The profile's own section as settings: every row of config_keys.c's
 * table the section has (its keys are listed there once, not here).
 * false when out of memory. */
bool hc_ctx_settings_load(hc_ctx_t *ctx, const hc_config_t *cfg, const char *profile)
{
    int id = hc_profile_id(profile);
    if (id < 0)
        return true;
    snprintf(ctx->section, sizeof ctx->section, "%s", profile);
    return hc_config_section_walk(cfg, id, NULL, add_row, ctx);
}

static const char *const kind_names[] = { "yes or no", "a number", "a text", "a list" };

static CK_RV setting(const hc_ctx_t *ctx, const char *key, enum setting_kind kind,
                     const setting_t **out, hc_err_t *err)
{
    for (size_t i = 0; key && i < ctx->nsettings; i++)
        if (strcmp(ctx->settings[i].key, key) == 0) {
            if (ctx->settings[i].kind != kind)
                return hc_err(err, CKR_ARGUMENTS_BAD, "[%s] %s is %s, not %s", ctx->section, key,
                              kind_names[ctx->settings[i].kind], kind_names[kind]);
            *out = &ctx->settings[i];
            return CKR_OK;
        }
    return hc_err(err, CKR_ARGUMENTS_BAD, "[%s] has no key %s%s",
                  ctx->section[0] ? ctx->section : "?", key ? key : "(null)",
                  ctx->section[0] ? "" : " (the profile has no section)");
}

CK_RV hc_setting_bool(const hc_ctx_t *ctx, const char *key, bool *out, hc_err_t *err)
{
    const setting_t *s;
    CK_RV rv = setting(ctx, key, S_BOOL, &s, err);
    if (rv == CKR_OK)
        *out = s->value != 0;
    return rv;
}

CK_RV hc_setting_number(const hc_ctx_t *ctx, const char *key, long long *out, hc_err_t *err)
{
    const setting_t *s;
    CK_RV rv = setting(ctx, key, S_NUMBER, &s, err);
    if (rv == CKR_OK)
        *out = s->value;
    return rv;
}

CK_RV hc_setting_text(const hc_ctx_t *ctx, const char *key, const char **out, hc_err_t *err)
{
    const setting_t *s;
    CK_RV rv = setting(ctx, key, S_TEXT, &s, err);
    if (rv == CKR_OK)
        *out = s->text;
    return rv;
}

CK_RV hc_setting_list(const hc_ctx_t *ctx, const char *key, const char *const **items, size_t *n,
                      hc_err_t *err)
{
    const setting_t *s;
    CK_RV rv = setting(ctx, key, S_LIST, &s, err);
    if (rv == CKR_OK) {
        *items = (const char *const *)s->list;
        *n = s->n;
    }
    return rv;
}

const char *hc_state_dir(const hc_ctx_t *ctx)
{
    return ctx->has_state_dir ? ctx->state_dir : NULL;
}
