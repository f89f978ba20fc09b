/*
 * access.c: who a peer is and what it may use. A peer is the uid/gid the
 * kernel reports for the socket (SO_PEERCRED), never anything it says.
 * The agent's own user may use everything: it can read the PIN store
 * anyway. Everybody else needs a [client] section.
 */
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "urimatch.h"

/* Whether `uid`'s user is in group `gid` (primary or supplementary). */
static bool user_in_group(unsigned uid, unsigned gid)
{
    char buf[4096];
    struct passwd pw, *res = NULL;
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) != 0 || !res)
        return false;
    if (res->pw_gid == gid)
        return true;
    int n = 64;
    gid_t *groups = malloc((size_t)n * sizeof *groups);
    if (groups && getgrouplist(res->pw_name, res->pw_gid, groups, &n) < 0) {
        gid_t *grown = realloc(groups, (size_t)n * sizeof *groups);
        groups = grown ? grown : groups;
        if (!grown || getgrouplist(res->pw_name, res->pw_gid, groups, &n) < 0)
            n = 0;
    }
    bool found = false;
    for (int i = 0; groups && i < n && !found; i++)
        found = groups[i] == gid;
    free(groups);
    return found;
}

agent_rules_t *agent_match_client(agent_state_t *st, const struct ucred *cred)
{
    if (cred->uid == geteuid())
        return &st->self;
    for (size_t i = 0; i < st->nrules; i++) {
        const hc_client_cfg_t *c = st->rules[i].cfg;
        if (c->has_uid && c->uid != cred->uid)
            continue;
        if (c->has_group && c->gid != cred->gid && !user_in_group(cred->uid, c->gid))
            continue;
        return &st->rules[i];
    }
    return NULL;
}

const char *agent_rules_name(const agent_rules_t *rules)
{
    return rules->cfg ? rules->cfg->name : "(agent's own user)";
}

bool agent_key_allowed(const agent_rules_t *rules, hc_ctx_t *ctx, hc_obj_t obj,
                       const hc_token_status_t *st)
{
    if (!rules->cfg)
        return true;
    hc_obj_identity_t id;
    if (hc_describe(ctx, obj, &id, NULL) != CKR_OK)
        return false;
    size_t tok = hc_obj_token(obj);
    const char *name = hc_token_name(ctx, tok);
    hc_token_status_t own;
    if (!st) {
        memset(&own, 0, sizeof own);
        if (name && hc_token_status(ctx, tok, &own, NULL) != CKR_OK && !own.info_valid)
            return false;
        st = &own;
    }
    for (size_t i = 0; name && i < rules->nuris; i++)
        if (hc_uri_covers(rules->uris[i], name, st, &id))
            return true;
    return false;
}
