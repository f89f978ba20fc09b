/*
 * scope.c: which tokens a client may see, and token status served from
 * what the agent read at most 1 s ago.
 *
 * A token is the client's when one of its [client] keys URIs selects it
 * (by hsmcache name or real token info, as for keys). Other tokens are
 * not there for it: status, mechanisms, find, login and random on them
 * answer as for a token that does not exist.
 *
 * Token status is a card call (C_GetTokenInfo) under the token's lock.
 * A client asking for it in a loop would make live signing wait behind
 * those calls, so the agent asks the token at most once a second per
 * token, whoever asks; while one thread asks, the others get the last
 * answer. Lock: agent_state_t.tokstat_lock guards the cache; no card call
 * is made under it.
 */
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "util/clock.h"
#include "urimatch.h"

#define STATUS_MAX_AGE_MS 1000

struct agent_tokstat {
    uint64_t at_ms;
    bool valid, asking;
    CK_RV rv;
    hc_token_status_t st;
    hc_err_t err;
};

void agent_tokstat_free(agent_state_t *st)
{
    for (int p = 0; p < HC_P_COUNT; p++)
        free(st->tokstat[p]);
    pthread_mutex_destroy(&st->tokstat_lock);
}

static void copy_out(const struct agent_tokstat *e, hc_token_status_t *out, hc_err_t *err)
{
    *out = e->st;
    if (err && e->rv != CKR_OK)
        *err = e->err;
}

CK_RV agent_token_status(agent_state_t *st, hc_ctx_t *ctx, int profile, size_t tok,
                         hc_token_status_t *out, hc_err_t *err)
{
    memset(out, 0, sizeof *out);
    size_t n = hc_token_count(ctx);
    if (profile < 0 || profile >= HC_P_COUNT || tok >= n)
        return hc_token_status(ctx, tok, out, err); /* its own error */
    uint64_t now = hc_now_ms();
    pthread_mutex_lock(&st->tokstat_lock);
    if (!st->tokstat[profile])
        st->tokstat[profile] = calloc(n, sizeof *st->tokstat[profile]);
    struct agent_tokstat *e = st->tokstat[profile] ? &st->tokstat[profile][tok] : NULL;
    if (e && e->valid && (e->asking || now - e->at_ms < STATUS_MAX_AGE_MS)) {
        CK_RV rv = e->rv;
        copy_out(e, out, err);
        pthread_mutex_unlock(&st->tokstat_lock);
        return rv;
    }
    bool mine = e && !e->asking;
    if (mine)
        e->asking = true;
    pthread_mutex_unlock(&st->tokstat_lock);

    hc_err_t e2 = { 0 };
    hc_token_status_t fresh;
    memset(&fresh, 0, sizeof fresh);
    CK_RV rv = hc_token_status(ctx, tok, &fresh, &e2);
    *out = fresh;
    if (err && rv != CKR_OK)
        *err = e2;
    if (mine) {
        pthread_mutex_lock(&st->tokstat_lock);
        e->st = fresh;
        e->rv = rv;
        e->err = e2;
        e->at_ms = hc_now_ms();
        e->valid = true;
        e->asking = false;
        pthread_mutex_unlock(&st->tokstat_lock);
    }
    return rv;
}

bool agent_token_allowed(const agent_rules_t *rules, const char *name, const hc_token_status_t *st)
{
    if (!rules->cfg)
        return true;
    for (size_t i = 0; name && i < rules->nuris; i++)
        if (hc_uri_selects_token(rules->uris[i], name, st))
            return true;
    return false;
}
