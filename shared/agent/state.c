/*
 * state.c: one loaded config of hsmcached. A reload builds a new state
 * and installs it; the old one lives until its last connection ends, so a
 * request in flight finishes on the contexts it started on.
 */
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "util/err.h"
#include "urimatch.h"

static void state_free(agent_state_t *st)
{
    for (int i = 0; i < HC_P_COUNT; i++)
        hc_close(st->ctx[i]);
    for (size_t i = 0; i < st->nrules; i++) {
        for (size_t u = 0; u < st->rules[i].nuris; u++)
            hc_uri_release(st->rules[i].uris[u]);
        free(st->rules[i].uris);
    }
    free(st->rules);
    if (st->stop_pipe[0] >= 0) {
        close(st->stop_pipe[0]);
        close(st->stop_pipe[1]);
    }
    hc_config_free(st->cfg);
    pthread_mutex_destroy(&st->lock);
    agent_tokstat_free(st);
    agent_modinfo_free(st);
    free(st);
}

static CK_RV compile_rules(agent_state_t *st, hc_err_t *err)
{
    hc_config_t *cfg = st->cfg;
    st->rules = calloc(cfg->nclients ? cfg->nclients : 1, sizeof *st->rules);
    if (!st->rules)
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    for (size_t i = 0; i < cfg->nclients; i++) {
        agent_rules_t *r = &st->rules[st->nrules++];
        const hc_client_cfg_t *c = &cfg->clients[i];
        r->cfg = c;
        r->counts = agent_counts_for(st->agent, c->name);
        r->uris = calloc(c->keys.n, sizeof *r->uris);
        if (!r->uris || !r->counts)
            return hc_err(err, CKR_HOST_MEMORY, "out of memory");
        for (size_t k = 0; k < c->keys.n; k++) {
            hc_err_t e;
            if (!(r->uris[k] = hc_uri_compile(c->keys.items[k], &e)))
                return hc_err(err, CKR_GENERAL_ERROR, "%s:%d: [client %s] keys: %s", cfg->path,
                              c->line, c->name, e.msg);
            r->nuris++;
        }
    }
    st->self.counts = agent_counts_for(st->agent, "(agent's own user)");
    return st->self.counts ? CKR_OK : hc_err(err, CKR_HOST_MEMORY, "out of memory");
}

agent_state_t *agent_state_load(agent_t *ag, hc_err_t *err)
{
    agent_state_t *st = calloc(1, sizeof *st);
    if (!st) {
        hc_err(err, CKR_HOST_MEMORY, "out of memory");
        return NULL;
    }
    st->agent = ag;
    st->stop_pipe[0] = st->stop_pipe[1] = -1;
    pthread_mutex_init(&st->lock, NULL);
    pthread_mutex_init(&st->tokstat_lock, NULL);
    pthread_mutex_init(&st->modinfo_lock, NULL);
    CK_RV rv = hc_config_load(ag->conf_path, &st->cfg, err);
    if (rv == CKR_OK && !st->cfg->agent.socket[0])
        rv = hc_err(err, CKR_GENERAL_ERROR,
                    "%s: [core] agent is not set (the "
                    "socket path hsmcached listens on)",
                    ag->conf_path);
    if (rv == CKR_OK && strcmp(st->cfg->agent.socket, ag->socket) && ag->socket[0])
        hc_log(&ag->log, HC_LOG_WARN,
               "%s: [core] agent changed to %s; still "
               "listening on %s until restarted",
               ag->conf_path, st->cfg->agent.socket, ag->socket);
    if (rv == CKR_OK && pipe2(st->stop_pipe, O_CLOEXEC) != 0)
        rv = hc_err(err, CKR_GENERAL_ERROR, "pipe: out of file descriptors");
    if (rv == CKR_OK)
        rv = compile_rules(st, err);
    while (rv == CKR_OK && st->instance == 0)
        if (RAND_bytes((unsigned char *)&st->instance, sizeof st->instance) != 1)
            rv = hc_err(err, CKR_GENERAL_ERROR,
                        "no random bytes for the "
                        "instance id");
    if (rv != CKR_OK) {
        state_free(st);
        return NULL;
    }
    return st;
}

agent_state_t *agent_state_get(agent_t *ag)
{
    pthread_mutex_lock(&ag->lock);
    agent_state_t *st = ag->state;
    st->refs++;
    pthread_mutex_unlock(&ag->lock);
    return st;
}

void agent_state_put(agent_state_t *st)
{
    agent_t *ag = st->agent;
    pthread_mutex_lock(&ag->lock);
    bool last = --st->refs == 0;
    pthread_mutex_unlock(&ag->lock);
    if (last)
        state_free(st);
}

void agent_state_install(agent_t *ag, agent_state_t *st)
{
    st->refs = 1; /* the agent's own reference */
    pthread_mutex_lock(&ag->lock);
    agent_state_t *old = ag->state;
    ag->state = st;
    pthread_mutex_unlock(&ag->lock);
    if (old) {
        /* Wakes the old state's idle connections: they close, and their
         * clients reconnect to the new state. */
        if (write(old->stop_pipe[1], "x", 1) != 1)
            hc_log(&ag->log, HC_LOG_WARN, "reload: cannot wake old connections");
        agent_state_put(old);
    }
}

hc_ctx_t *agent_state_ctx(agent_state_t *st, int profile, hc_err_t *err)
{
    pthread_mutex_lock(&st->lock);
    hc_ctx_t *ctx = st->ctx[profile];
    if (!ctx &&
        hc_open_embedded(hc_profile_name(profile), st->agent->conf_path, &ctx, err) == CKR_OK)
        st->ctx[profile] = ctx;
    pthread_mutex_unlock(&st->lock);
    return ctx;
}
