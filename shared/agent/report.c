/*
 * report.c: per-client counters and the stats reply. The core's counters
 * come from the stats files under the agent's cache dir (its own
 * contexts, and any other process using that dir), exactly as
 * `hsmcache stats` reads them embedded; the clients follow. A client with
 * a [client] section sees only the tokens and keys its keys cover, and
 * only its own counters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "util/sbuf.h"
#include "core/stats.h"
#include "urimatch.h"

/* A token counted in the stats files is matched against the client's
 * keys URIs exactly as scope.c matches it for requests: by hsmcache name
 * and the real token info the agent holds (at most 1 s old). A token the
 * client's profile does not have is matched by its name alone (it can
 * only hide a token, never show one a rule does not name). */
static void name_only_status(const char *name, hc_token_status_t *st)
{
    memset(st, 0, sizeof *st);
    memset(st->info.label, ' ', sizeof st->info.label);
    memcpy(st->info.label, name, strnlen(name, sizeof st->info.label));
    st->info_valid = true;
}

typedef struct scope {
    agent_state_t *st;
    const agent_rules_t *rules;
    hc_ctx_t *ctx;
    int profile;
} scope_t;

/* The token's status for matching; its index in the profile, or -1. */
static long token_status_of(const scope_t *sc, const char *name, hc_token_status_t *st)
{
    long tok = sc->ctx ? hc_token_index(sc->ctx, name) : -1;
    if (tok < 0 ||
        (agent_token_status(sc->st, sc->ctx, sc->profile, (size_t)tok, st, NULL) != CKR_OK &&
         !st->info_valid))
        name_only_status(name, st);
    return tok;
}

/* Whether a stats key entry (token, label: stats.h keys them by the
 * two, truncated to the entry's size) names `id`. */
static bool entry_names(const hc_key_stats_t *k, const hc_obj_identity_t *id)
{
    size_t max = sizeof k->label - 1, len = strnlen(k->label, sizeof k->label);
    if (id->cls != CKO_PRIVATE_KEY && id->cls != CKO_SECRET_KEY)
        return false;
    if (id->labellen <= max)
        return len == id->labellen && !memcmp(k->label, id->label, len);
    return len == max && !memcmp(k->label, id->label, max);
}

/* A key entry counts every signing key of its token with that label
 * (stats.h keeps no CKA_ID), so it is shown only when the token's keys
 * with that label are found and every one of them is covered by the
 * client's keys URIs (label, id, class, token: hc_uri_covers, as for a
 * request). A key that cannot be found (deleted, no label, token away,
 * another profile's token) is hidden: fail closed. One find per token
 * the client's keys select, on the client's own tokens only. */
static void scope_keys(const scope_t *sc, hc_stats_file_t *sum)
{
    uint32_t nkeys = sum->nkeys < HC_STATS_KEYS ? sum->nkeys : HC_STATS_KEYS;
    bool shown[HC_STATS_KEYS] = { false }, done[HC_STATS_KEYS] = { false };
    for (uint32_t i = 0; i < nkeys; i++) {
        if (done[i])
            continue;
        const char *name = sum->keys[i].token;
        hc_token_status_t st;
        long tok = token_status_of(sc, name, &st);
        hc_obj_t *objs = NULL;
        size_t n = 0;
        bool usable = tok >= 0 && agent_token_allowed(sc->rules, name, &st) &&
                      hc_find(sc->ctx, (size_t)tok, NULL, 0, &objs, &n, NULL) == CKR_OK;
        hc_obj_identity_t *ids = usable && n ? calloc(n, sizeof *ids) : NULL;
        for (size_t o = 0; ids && o < n; o++)
            if (hc_describe(sc->ctx, objs[o], &ids[o], NULL) != CKR_OK)
                ids[o].cls = CKO_DATA; /* names no entry */
        for (uint32_t k = i; k < nkeys; k++) {
            if (done[k] || strcmp(sum->keys[k].token, name))
                continue;
            done[k] = true;
            size_t named = 0, covered = 0;
            for (size_t o = 0; ids && o < n; o++) {
                if (!entry_names(&sum->keys[k], &ids[o]))
                    continue;
                named++;
                for (size_t u = 0; u < sc->rules->nuris; u++)
                    if (hc_uri_covers(sc->rules->uris[u], name, &st, &ids[o])) {
                        covered++;
                        break;
                    }
            }
            shown[k] = named > 0 && covered == named;
        }
        free(ids);
        free(objs);
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < nkeys; i++)
        if (shown[i])
            sum->keys[kept++] = sum->keys[i];
    sum->nkeys = kept;
}

/* Keeps in `sum` only what the client's keys cover (a group's members
 * with their group). */
static void scope_stats(const scope_t *sc, hc_stats_file_t *sum)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < sum->ntokens && i < HC_STATS_TOKENS; i++) {
        hc_token_status_t st;
        token_status_of(sc, sum->tokens[i].name, &st);
        if (agent_token_allowed(sc->rules, sum->tokens[i].name, &st))
            sum->tokens[kept++] = sum->tokens[i];
    }
    sum->ntokens = kept;
    /* A token group's members: shown where the group is. */
    kept = 0;
    for (uint32_t i = 0; i < sum->nmembers && i < HC_STATS_MEMBERS; i++) {
        hc_token_status_t st;
        token_status_of(sc, sum->members[i].group, &st);
        if (agent_token_allowed(sc->rules, sum->members[i].group, &st))
            sum->members[kept++] = sum->members[i];
    }
    sum->nmembers = kept;
    scope_keys(sc, sum);
}

agent_counts_t *agent_counts_for(agent_t *ag, const char *name)
{
    agent_counts_t *c = NULL;
    pthread_mutex_lock(&ag->lock);
    for (size_t i = 0; i < ag->ncounts && !c; i++)
        if (!strcmp(ag->counts[i]->name, name))
            c = ag->counts[i];
    if (!c) {
        agent_counts_t **grown = realloc(ag->counts, (ag->ncounts + 1) * sizeof *grown);
        if (grown)
            ag->counts = grown;
        if (grown && (c = calloc(1, sizeof *c))) {
            snprintf(c->name, sizeof c->name, "%s", name);
            ag->counts[ag->ncounts++] = c;
        }
    }
    pthread_mutex_unlock(&ag->lock);
    return c;
}

char *agent_stats_text(agent_t *ag, agent_state_t *st, const agent_rules_t *rules, hc_ctx_t *ctx,
                       int profile, bool prometheus)
{
    hc_sbuf_t b = { 0 };
    hc_stats_file_t *sum = calloc(1, sizeof *sum);
    int live = 0, files = sum ? hc_stats_collect(st->cfg->cache_dir, sum, &live) : -1;
    if (files >= 0 && rules->cfg) {
        scope_t sc = { st, rules, ctx, profile };
        scope_stats(&sc, sum);
    }
    char *core = files >= 0 ? hc_stats_render(sum, prometheus, files, live) : NULL;
    if (core || !prometheus)
        hc_sb_printf(&b, "%s", core ? core : "no core statistics yet\n");
    free(core);
    free(sum);
    pthread_mutex_lock(&ag->lock);
    size_t n = ag->ncounts, conns = ag->nconns;
    pthread_mutex_unlock(&ag->lock);
    if (prometheus)
        hc_sb_printf(&b,
                     "# TYPE hsmcached_connections gauge\n"
                     "hsmcached_connections %zu\n"
                     "# TYPE hsmcached_client_requests_total counter\n"
                     "# TYPE hsmcached_client_signatures_total counter\n"
                     "# TYPE hsmcached_client_refused_total counter\n"
                     "# TYPE hsmcached_client_malformed_total counter\n",
                     conns);
    else
        hc_sb_printf(&b, "agent: %zu connections open\n", conns);
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&ag->lock);
        agent_counts_t *c = ag->counts[i];
        pthread_mutex_unlock(&ag->lock);
        if (rules->cfg && c != rules->counts)
            continue; /* another client's */
        unsigned long long k[5] = {
            HC_GET(c->connections), HC_GET(c->requests),  HC_GET(c->signatures),
            HC_GET(c->refused),     HC_GET(c->malformed),
        };
        if (prometheus)
            hc_sb_printf(&b,
                         "hsmcached_client_requests_total{client=\"%s\"} %llu\n"
                         "hsmcached_client_signatures_total{client=\"%s\"} %llu\n"
                         "hsmcached_client_refused_total{client=\"%s\"} %llu\n"
                         "hsmcached_client_malformed_total{client=\"%s\"} %llu\n",
                         c->name, k[1], c->name, k[2], c->name, k[3], c->name, k[4]);
        else
            hc_sb_printf(&b,
                         "client %s: connections %llu, requests %llu, "
                         "signatures %llu, refused %llu, malformed %llu\n",
                         c->name, k[0], k[1], k[2], k[3], k[4]);
    }
    return hc_sb_take(&b);
}
