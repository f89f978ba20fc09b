/*
 * services.c: the rest of what hsmcache.h gives plugins, whatever the
 * transport: logging under the profile's prefix, their own stats group
 * in this process's stats file, the PIN store for a token, and software
 * digests and DigestInfo (libcrypto through core/swcrypto.h).
 */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctx.h"
#include "util/err.h"
#include "core/pinstore.h"
#include "core/swcrypto.h"

void hc_ctx_log(const hc_ctx_t *ctx, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hc_vlog(&ctx->log, level, fmt, ap);
    va_end(ap);
}

/* A registered word: [a-z0-9_], 1 to size - 1 characters. */
static bool stat_word(const char *w, size_t size)
{
    size_t n = w ? strnlen(w, size) : 0;
    if (n == 0 || n == size)
        return false;
    return strspn(w, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

CK_RV hc_stats_register(hc_ctx_t *ctx, const char *group, const hc_stat_def_t *defs, size_t n,
                        hc_plugin_stats_t **out, hc_err_t *err)
{
    *out = NULL;
    hc_plugin_area_t *a = ctx->tp->plugin_stats ? ctx->tp->plugin_stats(ctx->impl) : NULL;
    if (!a)
        a = &ctx->stats_sink;
    if (!stat_word(group, sizeof a->group))
        return hc_err(err, CKR_ARGUMENTS_BAD,
                      "stats group \"%.40s\": [a-z0-9_], 1 to %zu "
                      "characters",
                      group ? group : "", sizeof a->group - 1);
    if (n == 0 || n > HC_PLUGIN_STATS)
        return hc_err(err, CKR_ARGUMENTS_BAD, "stats group %s: %zu values (1 to %d)", group, n,
                      HC_PLUGIN_STATS);
    for (size_t i = 0; i < n; i++) {
        if (!stat_word(defs[i].name, sizeof a->v[i].name))
            return hc_err(err, CKR_ARGUMENTS_BAD,
                          "stats group %s: value #%zu \"%.40s\": "
                          "[a-z0-9_], 1 to %zu characters",
                          group, i, defs[i].name ? defs[i].name : "", sizeof a->v[i].name - 1);
        const char *u = defs[i].unit ? defs[i].unit : "";
        if (strnlen(u, sizeof a->v[i].unit) == sizeof a->v[i].unit || strpbrk(u, ", \n"))
            return hc_err(err, CKR_ARGUMENTS_BAD,
                          "stats group %s: %s's unit \"%.40s\": up "
                          "to %zu characters, no comma or space",
                          group, defs[i].name, u, sizeof a->v[i].unit - 1);
    }
    if (__atomic_exchange_n(&ctx->stats_taken, true, __ATOMIC_ACQ_REL))
        return hc_err(err, CKR_ARGUMENTS_BAD,
                      "stats group %s: this context has its group "
                      "already (one per context)",
                      group);
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

CK_RV hc_token_pin_file(const hc_ctx_t *ctx, size_t tok, char *out, size_t size, hc_err_t *err)
{
    TOKEN_CHECK(ctx, tok, err);
    int n = snprintf(out, size, "%s/%s", ctx->pin_store, hc_token_name(ctx, tok));
    if (n < 0 || (size_t)n >= size)
        return hc_err(err, CKR_BUFFER_TOO_SMALL,
                      "token %s: the PIN file's path does "
                      "not fit in %zu bytes",
                      hc_token_name(ctx, tok), size);
    return CKR_OK;
}

/* The stored PIN against `pin`: CKR_OK when it is the same, else
 * CKR_PIN_INVALID naming the file (or the reading error). */
static CK_RV same_stored(const hc_ctx_t *ctx, const char *name, const unsigned char *pin,
                         size_t len, hc_err_t *err)
{
    hc_pin_t have;
    CK_RV rv = hc_pin_read(ctx->pin_store, name, &have, NULL, err);
    if (rv != CKR_OK)
        return rv;
    bool same = have.len == len && CRYPTO_memcmp(have.bytes, pin, len) == 0;
    hc_pin_wipe(&have);
    return same ? CKR_OK
                : hc_err(err, CKR_PIN_INVALID,
                         "token %s: the PIN store "
                         "already holds a different PIN (%s/%s)",
                         name, ctx->pin_store, name);
}

bool hc_ctx_pin_groups_load(hc_ctx_t *ctx, const hc_config_t *cfg)
{
    for (size_t i = 0; i < cfg->ntokens; i++) {
        const hc_token_cfg_t *tc = &cfg->tokens[i];
        if (tc->members.n == 0)
            continue;
        struct hc_ctx_pin_group *grown =
            realloc(ctx->pin_groups, (ctx->npin_groups + 1) * sizeof *grown);
        if (!grown)
            return false;
        ctx->pin_groups = grown;
        struct hc_ctx_pin_group *g = &grown[ctx->npin_groups++];
        snprintf(g->name, sizeof g->name, "%s", tc->name);
        g->refusal = (hc_err_t){ 0 };
        hc_pin_not_group(cfg, tc->name, "set", &g->refusal);
    }
    return true;
}

void hc_ctx_pin_groups_free(hc_ctx_t *ctx)
{
    free(ctx->pin_groups);
    ctx->pin_groups = NULL;
    ctx->npin_groups = 0;
}

CK_RV hc_token_pin_store(hc_ctx_t *ctx, size_t tok, const unsigned char *pin, size_t len,
                         bool *written, hc_err_t *err)
{
    if (written)
        *written = false;
    TOKEN_CHECK(ctx, tok, err);
    const char *name = hc_token_name(ctx, tok);
    for (size_t i = 0; i < ctx->npin_groups; i++)
        if (!strcmp(ctx->pin_groups[i].name, name)) {
            if (err)
                *err = ctx->pin_groups[i].refusal;
            return ctx->pin_groups[i].refusal.rv;
        }
    CK_RV rv = same_stored(ctx, name, pin, len, err);
    if (rv != CKR_USER_PIN_NOT_INITIALIZED)
        return rv;
    /* Create only: a file stored since the check (another writer's, an
     * operator's) is compared, never replaced. */
    bool created = false;
    if ((rv = hc_pin_create(ctx->pin_store, name, pin, len, &created, err)) != CKR_OK)
        return rv;
    if (written)
        *written = created;
    return created ? CKR_OK : same_stored(ctx, name, pin, len, err);
}

size_t hc_digest_info(CK_MECHANISM_TYPE digest, const unsigned char *hash, size_t hash_len,
                      unsigned char *out, size_t out_size)
{
    const EVP_MD *md = hc_sw_digest_md(digest);
    unsigned char buf[128]; /* hc_digestinfo writes up to 128 bytes */
    size_t n = md && out_size >= 128 ? hc_digestinfo(md, hash, hash_len, out)
               : md                  ? hc_digestinfo(md, hash, hash_len, buf)
                                     : 0;
    if (n && out_size < 128) {
        if (n > out_size)
            return 0;
        memcpy(out, buf, n);
    }
    return n;
}

CK_RV hc_digest(CK_MECHANISM_TYPE mech, const unsigned char *data, size_t len, unsigned char *out,
                size_t *out_len)
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
