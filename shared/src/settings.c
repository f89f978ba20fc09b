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
    ctx->nsettings = 0;
}

/* The next free setting, NULL when the table is full (a section with
 * more keys than MAX_SETTINGS fails hc_open rather than losing one). */
static setting_t *add(hc_ctx_t *ctx, const char *key, enum setting_kind kind)
{
    if (ctx->nsettings == MAX_SETTINGS)
        return NULL;
    setting_t *s = &ctx->settings[ctx->nsettings++];
    *s = (setting_t){ .key = key, .kind = kind };
    return s;
}

static bool add_flag(hc_ctx_t *ctx, const char *key, bool v)
{
    setting_t *s = add(ctx, key, S_BOOL);
    if (s)
        s->value = v;
    return s != NULL;
}

static bool add_number(hc_ctx_t *ctx, const char *key, long long v)
{
    setting_t *s = add(ctx, key, S_NUMBER);
    if (s)
        s->value = v;
    return s != NULL;
}

static bool add_text(hc_ctx_t *ctx, const char *key, const char *v)
{
    setting_t *s = add(ctx, key, S_TEXT);
    return s && (s->text = strdup(v)) != NULL;
}

static bool add_list(hc_ctx_t *ctx, const char *key, const hc_strlist_t *l)
{
    setting_t *s = add(ctx, key, S_LIST);
    if (!s || !(s->list = calloc(l->n + 1, sizeof *s->list)))
        return false;
    for (; s->n < l->n; s->n++)
        if (!(s->list[s->n] = strdup(l->items[s->n])))
            return false;
    return true;
}

/* The profile's own section as settings. Until the config keeps each
 * section's keys as table rows ([pdns] and [sshca] are structs of
 * config.h today), this is the one place that knows which fields a
 * section has; the plugins ask by key. false when out of memory. */
bool hc_ctx_settings_load(hc_ctx_t *ctx, const hc_config_t *cfg, const char *profile)
{
    int id = hc_profile_id(profile);
    if (id < 0)
        return true;
    snprintf(ctx->section, sizeof ctx->section, "%s", profile);
    bool ok = add_flag(ctx, "signature-cache", cfg->profiles[id].signature_cache);
    if (id == HC_P_PDNS) {
        const hc_pdns_cfg_t *c = &cfg->pdns;
        ok = ok && add_flag(ctx, "presign", c->presign) &&
             add_number(ctx, "presign-lead", c->presign_lead_s) &&
             add_number(ctx, "presign-rate", (long long)c->presign_rate) &&
             add_number(ctx, "presign-interval", c->presign_interval_s);
    } else if (id == HC_P_SSHCA) {
        const hc_sshca_cfg_t *c = &cfg->sshca;
        ok = ok && add_list(ctx, "keys", &c->keys) && add_text(ctx, "audit-log", c->audit_log) &&
             add_flag(ctx, "require-validity", c->require_validity) &&
             add_number(ctx, "max-validity", c->max_validity_s) &&
             add_flag(ctx, "require-principals", c->require_principals) &&
             add_list(ctx, "allowed-users", &c->allowed_users) &&
             add_list(ctx, "allowed-groups", &c->allowed_groups) &&
             add_flag(ctx, "host-certs", c->host_certs) &&
             add_flag(ctx, "allow-agent", c->allow_agent) &&
             add_list(ctx, "allowed-principals", &c->allowed_principals) &&
             add_list(ctx, "allowed-options", &c->allowed_options) &&
             add_list(ctx, "force-options", &c->force_options);
    }
    return ok;
}

static const char *const kind_names[] = { "yes or no", "a number", "a text", "a list" };

static CK_RV setting(const hc_ctx_t *ctx, const char *key, enum setting_kind kind,
                     const setting_t **out, hc_err_t *err)
{
    for (size_t i = 0; key && i < ctx->nsettings; i++)
        if (strcmp(ctx->settings[i].key, key) == 0) {
            if (ctx->settings[i].kind != kind)
                return hc_err(err, CKR_ARGUMENTS_BAD, "[%s] %s is %s, not %s", ctx->section,
                              key, kind_names[ctx->settings[i].kind], kind_names[kind]);
            *out = &ctx->settings[i];
            return CKR_OK;
        }
    return hc_err(err, CKR_ARGUMENTS_BAD, "[%s] has no key %s%s", ctx->section[0] ?
                  ctx->section : "?", key ? key : "(null)",
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

CK_RV hc_setting_list(const hc_ctx_t *ctx, const char *key, const char *const **items,
                      size_t *n, hc_err_t *err)
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
