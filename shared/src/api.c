/*
 * api.c: the public calls of hsmcache.h, forwarded to the context's
 * transport. The logic here is choosing the transport at open, the URI
 * lookup (built from other public calls so that it works the same over
 * any transport), and the services plugins get from the context whatever
 * the transport: logging, their profile's settings, the state dir, their
 * stats values and software digests.
 */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util/err.h"
#include "util/log.h"
#include "core/pinstore.h"
#include "core/stats.h"
#include "core/swcrypto.h"
#include "transport.h"

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
#define MAX_SETTINGS 24

struct hc_plugin_stats {
    hc_plugin_area_t *area;
};

struct hc_ctx {
    const hc_ops_t *ops;
    void *impl;
    bool agent;
    hc_logger_t log;
    char section[16];            /* the profile's section name */
    setting_t settings[MAX_SETTINGS];
    size_t nsettings;
    bool has_state_dir;
    char state_dir[PATH_MAX];
    char pin_store[PATH_MAX];    /* [core] pin-store */
    bool stats_taken;            /* hc_stats_register ran (once per context) */
    hc_plugin_stats_t stats;
    hc_plugin_area_t stats_sink; /* when the transport keeps no area */
};

static void settings_free(hc_ctx_t *ctx)
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
static bool section_settings(hc_ctx_t *ctx, const hc_config_t *cfg, const char *profile)
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

static CK_RV open_ctx(const char *profile, const char *conf_path,
                      bool embedded_only, hc_ctx_t **out, hc_err_t *err)
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
    if (!section_settings(ctx, cfg, profile)) {
        settings_free(ctx);
        free(ctx);
        hc_config_free(cfg);
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    }
    ctx->has_state_dir = cfg->persistent_cache;
    snprintf(ctx->state_dir, sizeof ctx->state_dir, "%s", cfg->cache_dir);
    snprintf(ctx->pin_store, sizeof ctx->pin_store, "%s", cfg->pin_store);
    if (ctx->agent) {
        rv = hc_agent_open(profile, conf_path, cfg->agent.socket,
                           cfg->agent.timeout_ms, &ctx->impl, &ctx->ops, err);
        hc_config_free(cfg);
    } else {
        rv = hc_embedded_open(profile, cfg, &ctx->impl, &ctx->ops, err); /* takes cfg */
    }
    if (rv != CKR_OK) {
        settings_free(ctx);
        free(ctx);
        return rv;
    }
    *out = ctx;
    return CKR_OK;
}

CK_RV hc_open(const char *profile, const char *conf_path, hc_ctx_t **out,
              hc_err_t *err)
{
    return open_ctx(profile, conf_path, false, out, err);
}

CK_RV hc_open_embedded(const char *profile, const char *conf_path,
                       hc_ctx_t **out, hc_err_t *err)
{
    return open_ctx(profile, conf_path, true, out, err);
}

bool hc_via_agent(const hc_ctx_t *ctx)
{
    return ctx->agent;
}

CK_RV hc_describe(hc_ctx_t *ctx, hc_obj_t obj, hc_obj_identity_t *id,
                  hc_err_t *err)
{
    return ctx->ops->describe(ctx->impl, obj, id, err);
}

CK_RV hc_audit(hc_ctx_t *ctx, const char *record, hc_err_t *err)
{
    return ctx->ops->audit(ctx->impl, record, err);
}

void hc_ctx_log(const hc_ctx_t *ctx, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hc_vlog(&ctx->log, level, fmt, ap);
    va_end(ap);
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

/* A registered word: [a-z0-9_], 1 to size - 1 characters. */
static bool stat_word(const char *w, size_t size)
{
    size_t n = w ? strnlen(w, size) : 0;
    if (n == 0 || n == size)
        return false;
    return strspn(w, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

CK_RV hc_stats_register(hc_ctx_t *ctx, const char *group, const hc_stat_def_t *defs,
                        size_t n, hc_plugin_stats_t **out, hc_err_t *err)
{
    *out = NULL;
    hc_plugin_area_t *a = ctx->ops->plugin_stats ? ctx->ops->plugin_stats(ctx->impl) : NULL;
    if (!a)
        a = &ctx->stats_sink;
    if (!stat_word(group, sizeof a->group))
        return hc_err(err, CKR_ARGUMENTS_BAD, "stats group \"%.40s\": [a-z0-9_], 1 to %zu "
                      "characters", group ? group : "", sizeof a->group - 1);
    if (n == 0 || n > HC_PLUGIN_STATS)
        return hc_err(err, CKR_ARGUMENTS_BAD, "stats group %s: %zu values (1 to %d)", group,
                      n, HC_PLUGIN_STATS);
    for (size_t i = 0; i < n; i++) {
        if (!stat_word(defs[i].name, sizeof a->v[i].name))
            return hc_err(err, CKR_ARGUMENTS_BAD, "stats group %s: value #%zu \"%.40s\": "
                          "[a-z0-9_], 1 to %zu characters", group, i,
                          defs[i].name ? defs[i].name : "", sizeof a->v[i].name - 1);
        const char *u = defs[i].unit ? defs[i].unit : "";
        if (strnlen(u, sizeof a->v[i].unit) == sizeof a->v[i].unit || strpbrk(u, ", \n"))
            return hc_err(err, CKR_ARGUMENTS_BAD, "stats group %s: %s's unit \"%.40s\": up "
                          "to %zu characters, no comma or space", group, defs[i].name, u,
                          sizeof a->v[i].unit - 1);
    }
    if (__atomic_exchange_n(&ctx->stats_taken, true, __ATOMIC_ACQ_REL))
        return hc_err(err, CKR_ARGUMENTS_BAD, "stats group %s: this context has its group "
                      "already (one per context)", group);
    __atomic_store_n(&a->shown, 0, __ATOMIC_RELEASE);
    memset(a->v, 0, sizeof a->v);
    for (size_t i = 0; i < n; i++) {
        snprintf(a->v[i].name, sizeof a->v[i].name, "%s", defs[i].name);
        snprintf(a->v[i].unit, sizeof a->v[i].unit, "%s", defs[i].unit ? defs[i].unit : "");
    }
    a->n = (uint32_t)n;
    snprintf(a->group, sizeof a->group, "%s", group);
    ctx->stats.area = a;
    *out = &ctx->stats;
    return CKR_OK;
}

void hc_stat_set(hc_plugin_stats_t *s, size_t i, uint64_t value)
{
    if (s && i < s->area->n)
        __atomic_store_n(&s->area->v[i].value, value, __ATOMIC_RELAXED);
}

void hc_stat_add(hc_plugin_stats_t *s, size_t i, uint64_t n)
{
    if (s && i < s->area->n)
        __atomic_fetch_add(&s->area->v[i].value, n, __ATOMIC_RELAXED);
}

void hc_stats_show(hc_plugin_stats_t *s, bool shown)
{
    if (s)
        __atomic_store_n(&s->area->shown, shown ? 1 : 0, __ATOMIC_RELEASE);
}

CK_RV hc_token_pin_file(const hc_ctx_t *ctx, size_t tok, char *out, size_t size,
                        hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    int n = snprintf(out, size, "%s/%s", ctx->pin_store, hc_token_name(ctx, tok));
    if (n < 0 || (size_t)n >= size)
        return hc_err(err, CKR_BUFFER_TOO_SMALL, "token %s: the PIN file's path does "
                      "not fit in %zu bytes", hc_token_name(ctx, tok), size);
    return CKR_OK;
}

CK_RV hc_token_pin_store(hc_ctx_t *ctx, size_t tok, const unsigned char *pin, size_t len,
                         bool *written, hc_err_t *err)
{
    if (written)
        *written = false;
    TOKEN_CHECK(ctx, tok, err);
    const char *name = hc_token_name(ctx, tok);
    hc_pin_t have;
    CK_RV rv = hc_pin_read(ctx->pin_store, name, &have, NULL, err);
    if (rv == CKR_OK) {
        bool same = have.len == len && CRYPTO_memcmp(have.bytes, pin, len) == 0;
        hc_pin_wipe(&have);
        if (same)
            return CKR_OK;
        return hc_err(err, CKR_PIN_INVALID, "token %s: the PIN store already holds a "
                      "different PIN (%s/%s)", name, ctx->pin_store, name);
    }
    if (rv != CKR_USER_PIN_NOT_INITIALIZED)
        return rv;
    rv = hc_pin_write(ctx->pin_store, name, pin, len, err);
    if (rv == CKR_OK && written)
        *written = true;
    return rv;
}

size_t hc_digest_info(CK_MECHANISM_TYPE digest, const unsigned char *hash, size_t hash_len,
                      unsigned char *out, size_t out_size)
{
    const EVP_MD *md = hc_sw_digest_md(digest);
    unsigned char buf[128]; /* hc_digestinfo writes up to 128 bytes */
    size_t n = md && out_size >= 128 ? hc_digestinfo(md, hash, hash_len, out)
               : md ? hc_digestinfo(md, hash, hash_len, buf) : 0;
    if (n && out_size < 128) {
        if (n > out_size)
            return 0;
        memcpy(out, buf, n);
    }
    return n;
}

CK_RV hc_digest(CK_MECHANISM_TYPE mech, const unsigned char *data, size_t len,
                unsigned char *out, size_t *out_len)
{
    const EVP_MD *md = hc_sw_digest_md(mech);
    if (!md)
        return CKR_MECHANISM_INVALID;
    size_t need = (size_t)EVP_MD_get_size(md);
    if (!out || *out_len < need) {
        *out_len = need;
        return out ? CKR_BUFFER_TOO_SMALL : CKR_OK;
    }
    unsigned int n = 0;
    if (!EVP_Digest(data, len, out, &n, md, NULL))
        return CKR_FUNCTION_FAILED;
    *out_len = n;
    return CKR_OK;
}

void hc_close(hc_ctx_t *ctx)
{
    if (!ctx)
        return;
    ctx->ops->close(ctx->impl);
    settings_free(ctx);
    free(ctx);
}

const char *hc_config_path(const hc_ctx_t *ctx)
{
    return ctx->ops->config_path(ctx->impl);
}

size_t hc_token_count(const hc_ctx_t *ctx)
{
    return ctx->ops->token_count(ctx->impl);
}

const char *hc_token_name(const hc_ctx_t *ctx, size_t tok)
{
    return ctx->ops->token_name(ctx->impl, tok);
}

const char *hc_token_configured_label(const hc_ctx_t *ctx, size_t tok)
{
    const char *l = ctx->ops->token_label ? ctx->ops->token_label(ctx->impl, tok) : NULL;
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
    return ctx->ops->signature_cache_enabled(ctx->impl);
}

CK_RV hc_token_status(hc_ctx_t *ctx, size_t tok, hc_token_status_t *st,
                      hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    return ctx->ops->token_status(ctx->impl, tok, st, err);
}

CK_RV hc_mechanisms(hc_ctx_t *ctx, size_t tok, CK_MECHANISM_TYPE *list,
                    CK_ULONG *count, hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    return ctx->ops->mechanisms(ctx->impl, tok, list, count, err);
}

CK_RV hc_mechanism_info(hc_ctx_t *ctx, size_t tok, CK_MECHANISM_TYPE type,
                        CK_MECHANISM_INFO *info, hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    return ctx->ops->mechanism_info(ctx->impl, tok, type, info, err);
}

CK_RV hc_login_with(hc_ctx_t *ctx, size_t tok, const unsigned char *pin,
                    size_t pin_len, hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    return ctx->ops->login_with(ctx->impl, tok, pin, pin_len, err);
}

CK_RV hc_login_check(hc_ctx_t *ctx, size_t tok, hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    return ctx->ops->login_check(ctx->impl, tok, err);
}

CK_RV hc_find(hc_ctx_t *ctx, size_t tok, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
              hc_obj_t **objs, size_t *count, hc_err_t *err)
{
    *objs = NULL;
    *count = 0;
    TOKEN_CHECK(ctx, tok, err);
    return ctx->ops->find(ctx->impl, tok, tmpl, n, objs, count, err);
}

CK_RV hc_get_attrs(hc_ctx_t *ctx, hc_obj_t obj, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                   hc_err_t *err)
{
    return ctx->ops->get_attrs(ctx->impl, obj, tmpl, n, err);
}

CK_RV hc_public_key(hc_ctx_t *ctx, hc_obj_t obj, unsigned char **spki,
                    size_t *len, hc_err_t *err)
{
    return ctx->ops->public_key(ctx->impl, obj, spki, len, err);
}

CK_RV hc_signature_length(hc_ctx_t *ctx, hc_obj_t obj, size_t *len,
                          hc_err_t *err)
{
    return ctx->ops->signature_length(ctx->impl, obj, len, err);
}

CK_RV hc_sign(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech,
              const unsigned char *data, size_t len, unsigned char *sig,
              size_t *sig_len, hc_err_t *err)
{
    hc_sign_opts_t o = { 0 };
    return ctx->ops->sign(ctx->impl, key, mech, data, len, &o, sig, sig_len, err);
}

CK_RV hc_sign_ex(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech,
                 const unsigned char *data, size_t len, hc_sign_opts_t *opts,
                 unsigned char *sig, size_t *sig_len, hc_err_t *err)
{
    return ctx->ops->sign(ctx->impl, key, mech, data, len, opts, sig, sig_len, err);
}

CK_RV hc_fleet_lease(hc_ctx_t *ctx, const char *name, unsigned seconds, bool *held,
                     hc_err_t *err)
{
    if (!ctx->ops->fleet_lease) {
        *held = seconds > 0;
        return CKR_OK;
    }
    return ctx->ops->fleet_lease(ctx->impl, name, seconds, held, err);
}

CK_RV hc_cache_purge(hc_ctx_t *ctx, size_t *dropped, hc_err_t *err)
{
    size_t n = 0;
    CK_RV rv = ctx->ops->cache_purge(ctx->impl, &n, err);
    if (dropped)
        *dropped = n;
    return rv;
}

CK_RV hc_sign_background(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech,
                         const unsigned char *data, size_t len,
                         unsigned char *sig, size_t *sig_len, hc_err_t *err)
{
    hc_sign_opts_t o = { .background = true };
    return ctx->ops->sign(ctx->impl, key, mech, data, len, &o, sig, sig_len, err);
}

CK_RV hc_verify(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech,
                const unsigned char *data, size_t len,
                const unsigned char *sig, size_t sig_len, hc_err_t *err)
{
    return ctx->ops->verify(ctx->impl, key, mech, data, len, sig, sig_len, err);
}

CK_RV hc_encrypt(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech,
                 const unsigned char *in, size_t in_len, unsigned char *out,
                 size_t *out_len, hc_err_t *err)
{
    return ctx->ops->crypt(ctx->impl, true, key, mech, in, in_len, out, out_len, err);
}

CK_RV hc_decrypt(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech,
                 const unsigned char *in, size_t in_len, unsigned char *out,
                 size_t *out_len, hc_err_t *err)
{
    return ctx->ops->crypt(ctx->impl, false, key, mech, in, in_len, out, out_len, err);
}

CK_RV hc_generate_key_pair(hc_ctx_t *ctx, size_t tok, const CK_MECHANISM *mech,
                           const CK_ATTRIBUTE *pub_tmpl, CK_ULONG npub,
                           const CK_ATTRIBUTE *priv_tmpl, CK_ULONG npriv,
                           hc_obj_t *pub, hc_obj_t *priv, hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    return ctx->ops->generate_key_pair(ctx->impl, tok, mech, pub_tmpl, npub,
                                       priv_tmpl, npriv, pub, priv, err);
}

CK_RV hc_destroy(hc_ctx_t *ctx, hc_obj_t obj, hc_err_t *err)
{
    return ctx->ops->destroy(ctx->impl, obj, err);
}

CK_RV hc_random(hc_ctx_t *ctx, size_t tok, unsigned char *buf, size_t len,
                hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    return ctx->ops->random(ctx->impl, tok, buf, len, err);
}

CK_RV hc_seed_random(hc_ctx_t *ctx, size_t tok, const unsigned char *seed,
                     size_t len, hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    if (!ctx->ops->seed_random)
        return hc_err(err, CKR_RANDOM_SEED_NOT_SUPPORTED, "token %s: seeds are "
                      "not passed to hsmcached", hc_token_name(ctx, tok));
    return ctx->ops->seed_random(ctx->impl, tok, seed, len, err);
}

CK_RV hc_stats_text(hc_ctx_t *ctx, bool prometheus, char **out, hc_err_t *err)
{
    return ctx->ops->stats_text(ctx->impl, prometheus, out, err);
}
