/*
 * api.c: the public calls of hsmcache.h, forwarded to the context's
 * transport. The logic here is choosing the transport at open (and
 * giving the context what settings.c and services.c serve plugins).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "util/err.h"

/* A context's own parts (its transport closed or never opened). */
static void ctx_free(hc_ctx_t *ctx)
{
    hc_ctx_settings_free(ctx);
    hc_ctx_pin_groups_free(ctx);
    free(ctx);
}

static CK_RV open_ctx(const char *profile, const char *conf_path, bool embedded_only,
                      hc_ctx_t **out, hc_err_t *err)
{
    *out = NULL;
    conf_path = hc_config_resolve(conf_path);
    hc_config_t *cfg;
    CK_RV rv = hc_config_load(conf_path, &cfg, err);
    if (rv != CKR_OK)
        return rv;
    hc_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        hc_config_free(cfg);
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    }
    ctx->agent = !embedded_only && cfg->agent.socket[0];
    snprintf(ctx->log.prefix, sizeof ctx->log.prefix, "hsmcache[%s]", profile);
    ctx->log.level = cfg->log_level;
    if (!hc_ctx_settings_load(ctx, cfg, profile) || !hc_ctx_pin_groups_load(ctx, cfg)) {
        ctx_free(ctx);
        hc_config_free(cfg);
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    }
    ctx->has_state_dir = cfg->persistent_cache;
    snprintf(ctx->state_dir, sizeof ctx->state_dir, "%s", cfg->cache_dir);
    snprintf(ctx->pin_store, sizeof ctx->pin_store, "%s", cfg->pin_store);
    if (ctx->agent) {
        rv = hc_agent_open(profile, conf_path, cfg->agent.socket, cfg->agent.timeout_ms, &ctx->impl,
                           &ctx->tp, err);
        hc_config_free(cfg);
    } else {
        rv = hc_embedded_open(profile, cfg, &ctx->impl, &ctx->tp, err); /* takes cfg */
    }
    if (rv != CKR_OK) {
        ctx_free(ctx);
        return rv;
    }
    *out = ctx;
    return CKR_OK;
}

CK_RV hc_open(const char *profile, const char *conf_path, hc_ctx_t **out, hc_err_t *err)
{
    return open_ctx(profile, conf_path, false, out, err);
}

CK_RV hc_open_embedded(const char *profile, const char *conf_path, hc_ctx_t **out, hc_err_t *err)
{
    return open_ctx(profile, conf_path, true, out, err);
}

bool hc_via_agent(const hc_ctx_t *ctx)
{
    return ctx->agent;
}

CK_RV hc_describe(hc_ctx_t *ctx, hc_obj_t obj, hc_obj_identity_t *id, hc_err_t *err)
{
    return ctx->tp->describe(ctx->impl, obj, id, err);
}

CK_RV hc_audit(hc_ctx_t *ctx, const char *path, const char *record, hc_err_t *err)
{
    return ctx->tp->audit(ctx->impl, path, record, err);
}

void hc_close(hc_ctx_t *ctx)
{
    if (!ctx)
        return;
    ctx->tp->close(ctx->impl);
    ctx_free(ctx);
}

const char *hc_config_path(const hc_ctx_t *ctx)
{
    return ctx->tp->config_path(ctx->impl);
}

size_t hc_token_count(const hc_ctx_t *ctx)
{
    return ctx->tp->token_count(ctx->impl);
}

const char *hc_token_name(const hc_ctx_t *ctx, size_t tok)
{
    return ctx->tp->token_name(ctx->impl, tok);
}

const char *hc_token_configured_label(const hc_ctx_t *ctx, size_t tok)
{
    const char *l = ctx->tp->token_label ? ctx->tp->token_label(ctx->impl, tok) : NULL;
    return l ? l : "";
}

long hc_token_index(const hc_ctx_t *ctx, const char *name)
{
    size_t n = hc_token_count(ctx);
    for (size_t i = 0; i < n; i++)
        if (strcmp(hc_token_name(ctx, i), name) == 0)
            return (long)i;
    return -1;
}

bool hc_signature_cache_enabled(const hc_ctx_t *ctx)
{
    return ctx->tp->signature_cache_enabled(ctx->impl);
}

CK_RV hc_token_status(hc_ctx_t *ctx, size_t tok, hc_token_status_t *st, hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    return ctx->tp->token_status(ctx->impl, tok, st, err);
}

CK_RV hc_mechanisms(hc_ctx_t *ctx, size_t tok, CK_MECHANISM_TYPE *list, CK_ULONG *count,
                    hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    return ctx->tp->mechanisms(ctx->impl, tok, list, count, err);
}

CK_RV hc_mechanism_info(hc_ctx_t *ctx, size_t tok, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info,
                        hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    return ctx->tp->mechanism_info(ctx->impl, tok, type, info, err);
}

CK_RV hc_login_with(hc_ctx_t *ctx, size_t tok, const unsigned char *pin, size_t pin_len,
                    hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    return ctx->tp->login_with(ctx->impl, tok, pin, pin_len, err);
}

CK_RV hc_login_check(hc_ctx_t *ctx, size_t tok, hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    return ctx->tp->login_check(ctx->impl, tok, err);
}

CK_RV hc_find(hc_ctx_t *ctx, size_t tok, const CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_obj_t **objs,
              size_t *count, hc_err_t *err)
{
    *objs = NULL;
    *count = 0;
    TOKEN_CHECK(ctx, tok, err);
    return ctx->tp->find(ctx->impl, tok, tmpl, n, objs, count, err);
}

CK_RV hc_get_attrs(hc_ctx_t *ctx, hc_obj_t obj, CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_err_t *err)
{
    return ctx->tp->get_attrs(ctx->impl, obj, tmpl, n, err);
}

CK_RV hc_public_key(hc_ctx_t *ctx, hc_obj_t obj, unsigned char **spki, size_t *len, hc_err_t *err)
{
    return ctx->tp->public_key(ctx->impl, obj, spki, len, err);
}

CK_RV hc_signature_length(hc_ctx_t *ctx, hc_obj_t obj, size_t *len, hc_err_t *err)
{
    return ctx->tp->signature_length(ctx->impl, obj, len, err);
}

CK_RV hc_sign(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech, const unsigned char *data,
              size_t len, unsigned char *sig, size_t *sig_len, hc_err_t *err)
{
    hc_sign_opts_t o = { 0 };
    return ctx->tp->sign(ctx->impl, key, mech, data, len, &o, sig, sig_len, err);
}

CK_RV hc_sign_ex(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech, const unsigned char *data,
                 size_t len, hc_sign_opts_t *opts, unsigned char *sig, size_t *sig_len,
                 hc_err_t *err)
{
    return ctx->tp->sign(ctx->impl, key, mech, data, len, opts, sig, sig_len, err);
}

CK_RV hc_fleet_lease(hc_ctx_t *ctx, const char *name, unsigned seconds, bool *held, hc_err_t *err)
{
    if (!ctx->tp->fleet_lease) {
        *held = seconds > 0;
        return CKR_OK;
    }
    return ctx->tp->fleet_lease(ctx->impl, name, seconds, held, err);
}

CK_RV hc_cache_purge(hc_ctx_t *ctx, size_t *dropped, hc_err_t *err)
{
    size_t n = 0;
    CK_RV rv = ctx->tp->cache_purge(ctx->impl, &n, err);
    if (dropped)
        *dropped = n;
    return rv;
}

CK_RV hc_sign_background(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech,
                         const unsigned char *data, size_t len, unsigned char *sig, size_t *sig_len,
                         hc_err_t *err)
{
    hc_sign_opts_t o = { .background = true };
    return ctx->tp->sign(ctx->impl, key, mech, data, len, &o, sig, sig_len, err);
}

CK_RV hc_verify(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech, const unsigned char *data,
                size_t len, const unsigned char *sig, size_t sig_len, hc_err_t *err)
{
    return ctx->tp->verify(ctx->impl, key, mech, data, len, sig, sig_len, err);
}

CK_RV hc_encrypt(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech, const unsigned char *in,
                 size_t in_len, unsigned char *out, size_t *out_len, hc_err_t *err)
{
    return ctx->tp->crypt(ctx->impl, true, key, mech, in, in_len, out, out_len, err);
}

CK_RV hc_decrypt(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech, const unsigned char *in,
                 size_t in_len, unsigned char *out, size_t *out_len, hc_err_t *err)
{
    return ctx->tp->crypt(ctx->impl, false, key, mech, in, in_len, out, out_len, err);
}

CK_RV hc_generate_key_pair(hc_ctx_t *ctx, size_t tok, const CK_MECHANISM *mech,
                           const CK_ATTRIBUTE *pub_tmpl, CK_ULONG npub,
                           const CK_ATTRIBUTE *priv_tmpl, CK_ULONG npriv, hc_obj_t *pub,
                           hc_obj_t *priv, hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    return ctx->tp->generate_key_pair(ctx->impl, tok, mech, pub_tmpl, npub, priv_tmpl, npriv, pub,
                                      priv, err);
}

CK_RV hc_destroy(hc_ctx_t *ctx, hc_obj_t obj, hc_err_t *err)
{
    return ctx->tp->destroy(ctx->impl, obj, err);
}

CK_RV hc_random(hc_ctx_t *ctx, size_t tok, unsigned char *buf, size_t len, hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    return ctx->tp->random(ctx->impl, tok, buf, len, err);
}

CK_RV hc_seed_random(hc_ctx_t *ctx, size_t tok, const unsigned char *seed, size_t len,
                     hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    if (!ctx->tp->seed_random)
        return hc_err(err, CKR_RANDOM_SEED_NOT_SUPPORTED,
                      "token %s: seeds are "
                      "not passed to hsmcached",
                      hc_token_name(ctx, tok));
    return ctx->tp->seed_random(ctx->impl, tok, seed, len, err);
}

CK_RV hc_stats_text(hc_ctx_t *ctx, bool prometheus, char **out, hc_err_t *err)
{
    return ctx->tp->stats_text(ctx->impl, prometheus, out, err);
}
