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
#include "sbuf.h"
#include "stats.h"
#include "urimatch.h"

/* A token or key counted in the stats files, described as well as its
 * name allows: tokens by hsmcache name, keys by label (no id: a rule
 * that names an id hides the key, never shows another's). */
static void stats_token_status(const char *name, hc_token_status_t *st)
{
    memset(st, 0, sizeof *st);
    memset(st->info.label, ' ', sizeof st->info.label);
    memcpy(st->info.label, name, strnlen(name, sizeof st->info.label));
    st->info_valid = true;
}

static bool stats_token_allowed(const agent_rules_t *r, const char *name)
{
    hc_token_status_t st;
    stats_token_status(name, &st);
    return agent_token_allowed(r, name, &st);
}

static bool stats_key_allowed(const agent_rules_t *r, const hc_key_stats_t *k)
{
    hc_token_status_t st;
    stats_token_status(k->token, &st);
    hc_obj_identity_t id;
    memset(&id, 0, sizeof id);
    id.cls = CKO_PRIVATE_KEY;
    id.labellen = strnlen(k->label, sizeof k->label);
    memcpy(id.label, k->label, id.labellen);
    for (size_t i = 0; i < r->nuris; i++)
        if (hc_uri_covers(r->uris[i], k->token, &st, &id))
            return true;
    return false;
}

/* Keeps in `sum` only what `r` covers. */
static void scope_stats(const agent_rules_t *r, hc_stats_file_t *sum)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < sum->ntokens && i < HC_STATS_TOKENS; i++)
        if (stats_token_allowed(r, sum->tokens[i].name))
            sum->tokens[kept++] = sum->tokens[i];
    sum->ntokens = kept;
    kept = 0;
    for (uint32_t i = 0; i < sum->nkeys && i < HC_STATS_KEYS; i++)
        if (stats_key_allowed(r, &sum->keys[i]))
            sum->keys[kept++] = sum->keys[i];
    sum->nkeys = kept;
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

char *agent_stats_text(agent_t *ag, agent_state_t *st, const agent_rules_t *rules,
                       bool prometheus)
{
    hc_sbuf_t b = { 0 };
    hc_stats_file_t *sum = calloc(1, sizeof *sum);
    int live = 0, files = sum ? hc_stats_collect(st->cfg->cache_dir, sum, &live) : -1;
    if (files >= 0 && rules->cfg)
        scope_stats(rules, sum);
    char *core = files >= 0 ? hc_stats_render(sum, prometheus, files, live) : NULL;
    if (core || !prometheus)
        hc_sb_printf(&b, "%s", core ? core : "no core statistics yet\n");
    free(core);
    free(sum);
    pthread_mutex_lock(&ag->lock);
    size_t n = ag->ncounts, conns = ag->nconns;
    pthread_mutex_unlock(&ag->lock);
    if (prometheus)
        hc_sb_printf(&b, "# TYPE hsmcached_connections gauge\n"
                     "hsmcached_connections %zu\n"
                     "# TYPE hsmcached_client_requests_total counter\n"
                     "# TYPE hsmcached_client_signatures_total counter\n"
                     "# TYPE hsmcached_client_refused_total counter\n"
                     "# TYPE hsmcached_client_malformed_total counter\n", conns);
    else
        hc_sb_printf(&b, "agent: %zu connections open\n", conns);
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&ag->lock);
        agent_counts_t *c = ag->counts[i];
        pthread_mutex_unlock(&ag->lock);
        if (rules->cfg && c != rules->counts)
            continue; /* another client's */
        unsigned long long k[5] = {
            HC_GET(c->connections), HC_GET(c->requests), HC_GET(c->signatures),
            HC_GET(c->refused), HC_GET(c->malformed),
        };
        if (prometheus)
            hc_sb_printf(&b,
                         "hsmcached_client_requests_total{client=\"%s\"} %llu\n"
                         "hsmcached_client_signatures_total{client=\"%s\"} %llu\n"
                         "hsmcached_client_refused_total{client=\"%s\"} %llu\n"
                         "hsmcached_client_malformed_total{client=\"%s\"} %llu\n",
                         c->name, k[1], c->name, k[2], c->name, k[3], c->name, k[4]);
        else
            hc_sb_printf(&b, "client %s: connections %llu, requests %llu, "
                         "signatures %llu, refused %llu, malformed %llu\n",
                         c->name, k[0], k[1], k[2], k[3], k[4]);
    }
    return hc_sb_take(&b);
}
