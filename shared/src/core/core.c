/*
 * core.c: the embedded core's context: config, tokens, caches, stats, and
 * the token-level operations. Objects are in objects.c, signing in sign.c.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/appendlog.h"
#include "core/core.h"
#include "core/fleet.h"
#include "core/group.h"
#include "util/err.h"
#include "transport.h"
#include "urimatch.h"

static bool profile_names(const hc_profile_cfg_t *p, const char *token)
{
    for (size_t i = 0; i < p->ntokens; i++)
        if (strcmp(p->tokens[i], token) == 0)
            return true;
    return false;
}

/* A group's member is a slot of its own only where the profile's
 * `tokens =` names it (group.h). */
static bool profile_uses(const hc_config_t *cfg, const hc_profile_cfg_t *p, const hc_token_cfg_t *t)
{
    if (p->tokens)
        return profile_names(p, t->name);
    for (size_t i = 0; i < cfg->ntokens; i++)
        for (size_t k = 0; k < cfg->tokens[i].members.n; k++)
            if (strcmp(cfg->tokens[i].members.items[k], t->name) == 0)
                return false;
    return true;
}

/* A profile whose section limits it to some keys' URIs (the table says
 * which row: the SSH CA module's [sshca] keys) has no slot for a token
 * none of them can select: in an ssh-keygen run that module is never
 * loaded or initialized, nor its absence logged. A URI that does not
 * parse keeps every token (the plugin reports it). */
static bool keys_may_use(const hc_config_t *cfg, int profile, const hc_token_cfg_t *t)
{
    const hc_strlist_t *uris = hc_config_token_limit(cfg, profile);
    if (!uris)
        return true;
    for (size_t k = 0; k < uris->n; k++) {
        void *u = hc_uri_compile(uris->items[k], NULL);
        bool may = !u || hc_uri_may_select(u, t->name, t->label);
        hc_uri_release(u);
        if (may)
            return true;
    }
    return false;
}

static void core_close(void *impl)
{
    hc_core_t *c = impl;
    if (!c)
        return;
    for (size_t i = 0; i < c->nall; i++)
        hc_group_free(&c->tokens[i]);
    for (size_t i = 0; i < c->nall; i++)
        hc_token_destroy(&c->tokens[i]);
    free(c->tokens);
    hc_modules_free(c->modules);
    hc_sigcache_free(c->cache);
    hc_stats_close(&c->stats);
    hc_config_free(c->cfg);
    free(c);
}

static const char *core_config_path(const void *impl)
{
    return ((const hc_core_t *)impl)->cfg->path;
}

static size_t core_token_count(const void *impl)
{
    return ((const hc_core_t *)impl)->ntokens;
}

static const char *core_token_name(const void *impl, size_t tok)
{
    const hc_core_t *c = impl;
    return tok < c->ntokens ? c->tokens[tok].cfg->name : NULL;
}

static const char *core_token_label(const void *impl, size_t tok)
{
    const hc_core_t *c = impl;
    return tok < c->ntokens ? c->tokens[tok].cfg->label : NULL;
}

static bool core_cache_enabled(const void *impl)
{
    return ((const hc_core_t *)impl)->cache != NULL;
}

static CK_RV core_token_status(void *impl, size_t tok, hc_token_status_t *st, hc_err_t *err)
{
    hc_token_t *t = &((hc_core_t *)impl)->tokens[tok];
    return t->group ? hc_group_status(t, st, err) : hc_pool_status(t, st, err);
}

static CK_RV core_mechanisms(void *impl, size_t tok, CK_MECHANISM_TYPE *list, CK_ULONG *count,
                             hc_err_t *err)
{
    hc_token_t *t = &((hc_core_t *)impl)->tokens[tok];
    if (t->group)
        return hc_group_mechanisms(t, list, count, err);
    CK_RV rv = hc_pool_connect(t, err);
    if (rv != CKR_OK)
        return rv;
    pthread_mutex_lock(&t->lock);
    CK_ULONG have = t->nmechs;
    if (list && *count < have)
        rv = CKR_BUFFER_TOO_SMALL;
    else if (list)
        memcpy(list, t->mechs, have * sizeof *list);
    *count = have;
    pthread_mutex_unlock(&t->lock);
    return rv;
}

static CK_RV core_mechanism_info(void *impl, size_t tok, CK_MECHANISM_TYPE type,
                                 CK_MECHANISM_INFO *info, hc_err_t *err)
{
    hc_token_t *t = &((hc_core_t *)impl)->tokens[tok];
    if (t->group)
        return hc_group_mechanism_info(t, type, info, err);
    /* A token's mechanisms do not change while it is away: what was read
     * before answers hosts (PowerDNS asks at every C_SignInit) whose
     * signatures come from the cache during an outage. */
    if (hc_token_mech_info_known(t, type, info))
        return CKR_OK;
    CK_RV rv = hc_pool_connect(t, err);
    return rv == CKR_OK ? hc_token_mech_info(t, type, info) : rv;
}

static CK_RV nop_op(hc_token_t *t, const hc_session_t *s, void *arg, hc_err_t *err)
{
    (void)t, (void)s, (void)arg, (void)err;
    return CKR_OK;
}

static CK_RV core_login_with(void *impl, size_t tok, const unsigned char *pin, size_t len,
                             hc_err_t *err)
{
    hc_token_t *t = &((hc_core_t *)impl)->tokens[tok];
    if (t->group)
        return hc_group_login(t, pin, len, err);
    CK_RV rv = hc_pool_set_caller_pin(t, pin, len, err);
    /* Log in now, so a wrong PIN is reported to the caller's C_Login. */
    return rv == CKR_OK ? hc_pool_run(t, true, true, nop_op, NULL, err) : rv;
}

static CK_RV core_login_check(void *impl, size_t tok, hc_err_t *err)
{
    hc_token_t *t = &((hc_core_t *)impl)->tokens[tok];
    if (t->group)
        return hc_group_login(t, NULL, 0, err);
    return hc_pool_run(t, true, true, nop_op, NULL, err);
}

/* hc_pool_run on a token, or on a member of a group (group.h). */
static CK_RV token_run(hc_token_t *t, bool need_login, hc_pool_fn fn, void *arg, hc_err_t *err)
{
    return t->group ? hc_group_pool_run(t, true, need_login, fn, arg, err)
                    : hc_pool_run(t, true, need_login, fn, arg, err);
}

struct random_arg {
    unsigned char *buf;
    size_t len;
};

static CK_RV random_op(hc_token_t *t, const hc_session_t *s, void *arg, hc_err_t *err)
{
    struct random_arg *a = arg;
    return hc_p11_generate_random(&t->p11, s->h, a->buf, a->len, err);
}

static CK_RV core_random(void *impl, size_t tok, unsigned char *buf, size_t len, hc_err_t *err)
{
    struct random_arg a = { buf, len };
    return token_run(&((hc_core_t *)impl)->tokens[tok], false, random_op, &a, err);
}

static CK_RV seed_op(hc_token_t *t, const hc_session_t *s, void *arg, hc_err_t *err)
{
    struct random_arg *a = arg;
    return hc_p11_seed_random(&t->p11, s->h, a->buf, a->len, err);
}

/* The token's generator is shared by every session: one seeds it. */
static CK_RV core_seed_random(void *impl, size_t tok, const unsigned char *seed, size_t len,
                              hc_err_t *err)
{
    struct random_arg a = { (unsigned char *)seed, len };
    return token_run(&((hc_core_t *)impl)->tokens[tok], false, seed_op, &a, err);
}

static CK_RV core_stats_text(void *impl, bool prometheus, char **out, hc_err_t *err)
{
    hc_core_t *c = impl;
    if (!c->stats.f)
        return hc_err(err, CKR_HOST_MEMORY, "no stats");
    *out = hc_stats_render(c->stats.f, prometheus, 1, 1);
    return *out ? CKR_OK : hc_err(err, CKR_HOST_MEMORY, "out of memory");
}

static hc_plugin_area_t *core_plugin_stats(void *impl)
{
    return hc_stats_plugin(&((hc_core_t *)impl)->stats);
}

/* A plugin's audit record, appended to the log it names (hsmcache.h). */
static CK_RV core_audit(void *impl, const char *path, const char *record, hc_err_t *err)
{
    (void)impl;
    if (!path || path[0] != '/')
        return hc_err(err, CKR_ARGUMENTS_BAD, "audit log '%s' is not an absolute path",
                      path ? path : "(none)");
    if (hc_append_line(path, record, strlen(record)) == 0)
        return CKR_OK;
    int e = errno;
    hc_err(err, CKR_FUNCTION_FAILED, "audit log %s: %s", path, strerror(e));
    errno = e;
    return CKR_FUNCTION_FAILED;
}

static const hc_transport_t embedded_transport = {
    .close = core_close,
    .config_path = core_config_path,
    .token_count = core_token_count,
    .token_name = core_token_name,
    .token_label = core_token_label,
    .signature_cache_enabled = core_cache_enabled,
    .token_status = core_token_status,
    .mechanisms = core_mechanisms,
    .mechanism_info = core_mechanism_info,
    .login_with = core_login_with,
    .login_check = core_login_check,
    .find = hc_core_find,
    .get_attrs = hc_core_get_attrs,
    .public_key = hc_core_public_key,
    .signature_length = hc_core_signature_length,
    .sign = hc_core_sign,
    .cache_purge = hc_core_cache_purge,
    .fleet_lease = hc_core_fleet_lease,
    .verify = hc_core_verify,
    .crypt = hc_core_crypt,
    .generate_key_pair = hc_core_generate_key_pair,
    .destroy = hc_core_destroy,
    .random = core_random,
    .seed_random = core_seed_random,
    .stats_text = core_stats_text,
    .plugin_stats = core_plugin_stats,
    .describe = hc_core_describe,
    .audit = core_audit,
};

/* The token named `name`: a visible one, a member made for another group,
 * or a new member after them (at most one hc_token_t per [token]). */
static hc_token_t *member_token(hc_core_t *c, const char *name)
{
    for (size_t i = 0; i < c->nall; i++)
        if (strcmp(c->tokens[i].cfg->name, name) == 0)
            return &c->tokens[i];
    const hc_token_cfg_t *cfg = hc_config_token(c->cfg, name);
    if (!cfg || c->nall >= c->cfg->ntokens ||
        hc_token_init(&c->tokens[c->nall], c, cfg, c->nall) != CKR_OK)
        return NULL;
    return &c->tokens[c->nall++];
}

/* Each visible group gets its members (config_group.c checked them). */
static CK_RV open_groups(hc_core_t *c)
{
    for (size_t i = 0; i < c->ntokens; i++) {
        const hc_strlist_t *names = &c->tokens[i].cfg->members;
        hc_token_t *m[HC_GROUP_MAX_MEMBERS];
        if (names->n == 0)
            continue;
        if (names->n > HC_GROUP_MAX_MEMBERS)
            return CKR_ARGUMENTS_BAD;
        for (size_t k = 0; k < names->n; k++)
            if (!(m[k] = member_token(c, names->items[k])))
                return CKR_HOST_MEMORY;
        if (hc_group_init(&c->tokens[i], m, names->n) != CKR_OK)
            return CKR_HOST_MEMORY;
    }
    return CKR_OK;
}

CK_RV hc_embedded_open(const char *profile, hc_config_t *cfg, void **impl,
                       const hc_transport_t **tp, hc_err_t *err)
{
    int pid = hc_profile_id(profile);
    hc_core_t *c = pid >= 0 ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        hc_config_free(cfg);
        return pid < 0 ? hc_err(err, CKR_ARGUMENTS_BAD, "unknown profile '%s'", profile)
                       : hc_err(err, CKR_HOST_MEMORY, "out of memory");
    }
    c->cfg = cfg;
    c->profile = pid;
    snprintf(c->log.prefix, sizeof c->log.prefix, "hsmcache[%s]", profile);
    c->log.level = c->cfg->log_level;
    const hc_profile_cfg_t *pc = &c->cfg->profiles[pid];
    c->modules = hc_modules_new();
    c->tokens = calloc(c->cfg->ntokens ? c->cfg->ntokens : 1, sizeof *c->tokens);
    if (!c->modules || !c->tokens) {
        core_close(c);
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    }
    hc_stats_open(&c->stats, c->cfg->cache_dir, profile);
    for (size_t i = 0; i < c->cfg->ntokens; i++) {
        if (!profile_uses(c->cfg, pc, &c->cfg->tokens[i]) ||
            !keys_may_use(c->cfg, pid, &c->cfg->tokens[i]))
            continue;
        if (hc_token_init(&c->tokens[c->ntokens], c, &c->cfg->tokens[i], c->ntokens) != CKR_OK) {
            core_close(c);
            return hc_err(err, CKR_HOST_MEMORY, "out of memory");
        }
        c->nall = ++c->ntokens;
    }
    if (open_groups(c) != CKR_OK) {
        core_close(c);
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    }
    if (pc->signature_cache) {
        c->cache = hc_sigcache_new(c->cfg->memory_cache_entries,
                                   c->cfg->persistent_cache ? c->cfg->cache_dir : NULL,
                                   c->cfg->persistent_cache_mb, &c->log);
        if (!c->cache) {
            core_close(c);
            return hc_err(err, CKR_HOST_MEMORY, "out of memory");
        }
        if (c->cfg->shared.enabled && c->stats.f) /* [shared-cache]: sharedtier.h */
            hc_sigcache_set_shared(
                c->cache, hc_sharedtier_new(&c->cfg->shared, &c->log, &c->stats.f->shared));
    }
    *impl = c;
    *tp = &embedded_transport;
    return CKR_OK;
}
