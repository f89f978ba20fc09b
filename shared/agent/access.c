/*
 * access.c: who a peer is and what it may use. A peer is the uid/gid the
 * kernel reports for the socket (SO_PEERCRED), never anything it says.
 * The agent's own user may use everything: it can read the PIN store
 * anyway. Everybody else needs a [client] section. Also the gates a
 * connection's requests pass (session.h): its operations, whitelists,
 * mechanisms, tokens and keys, each refusal logged and counted.
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "mech_policy.h"
#include "proto/proto_check.h"
#include "peer.h"
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

/* Where obj is, or would go, in the session's sorted allowed list. */
static size_t allowed_pos(const peer_t *s, hc_obj_t obj)
{
    size_t lo = 0, hi = s->nallowed;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->allowed[mid] < obj)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Remembers obj at pos (allowed_pos); forgotten when memory is short,
 * which only costs asking again. */
static void remember_allowed(peer_t *s, size_t pos, hc_obj_t obj)
{
    if (s->nallowed == s->callowed) {
        size_t cap = s->callowed ? s->callowed * 2 : 16;
        hc_obj_t *grown = realloc(s->allowed, cap * sizeof *grown);
        if (!grown)
            return;
        s->allowed = grown;
        s->callowed = cap;
    }
    memmove(&s->allowed[pos + 1], &s->allowed[pos], (s->nallowed - pos) * sizeof *s->allowed);
    s->allowed[pos] = obj;
    s->nallowed++;
}

/* Whether the client may use obj; `st` as for agent_key_allowed. */
bool agent_obj_allowed(peer_t *s, hc_obj_t obj, const hc_token_status_t *st)
{
    size_t pos = allowed_pos(s, obj);
    if (pos < s->nallowed && s->allowed[pos] == obj)
        return true;
    hc_token_status_t own;
    if (!st && s->rules->cfg) {
        if (agent_token_status(s->st, s->ctx, s->profile, hc_obj_token(obj), &own, NULL) !=
                CKR_OK &&
            !own.info_valid)
            return false;
        st = &own;
    }
    if (!agent_key_allowed(s->rules, s->ctx, obj, st))
        return false;
    remember_allowed(s, pos, obj);
    return true;
}

void agent_log_refusal(peer_t *s, const char *what)
{
    __atomic_fetch_add(&s->rules->counts->refused, 1, __ATOMIC_RELAXED);
    hc_log(&s->ag->log, HC_LOG_WARN, "client %s (uid %u, pid %d): refused %s",
           agent_rules_name(s->rules), (unsigned)s->cred.uid, (int)s->cred.pid, what);
}

CK_RV agent_refuse_key(peer_t *s, const char *op, hc_obj_t obj, hc_err_t *err)
{
    hc_obj_identity_t id;
    char what[400];
    if (hc_describe(s->ctx, obj, &id, NULL) == CKR_OK)
        snprintf(what, sizeof what, "%s with key '%s' on token %s", op, id.label,
                 hc_token_name(s->ctx, hc_obj_token(obj)));
    else
        snprintf(what, sizeof what, "%s with unknown object 0x%llx", op, (unsigned long long)obj);
    agent_log_refusal(s, what);
    /* The log names the key; the client, to whom it is not there, only
     * its own reference. */
    return hc_err(err, CKR_KEY_HANDLE_INVALID,
                  "hsmcached refused %s with "
                  "object 0x%llx: not in [client %s] keys",
                  op, (unsigned long long)obj, agent_rules_name(s->rules));
}

static CK_RV refuse_op(peer_t *s, const char *op, hc_err_t *err)
{
    char what[128];
    snprintf(what, sizeof what, "operation '%s'", op);
    agent_log_refusal(s, what);
    return hc_err(err, CKR_FUNCTION_REJECTED,
                  "hsmcached refused operation "
                  "'%s': not in [client %s] operations",
                  op, agent_rules_name(s->rules));
}

static bool may(const peer_t *s, unsigned op_bit)
{
    return !s->rules->cfg || (s->rules->cfg->ops & op_bit);
}

bool agent_token_visible(peer_t *s, size_t tok)
{
    if (!s->rules->cfg)
        return true;
    hc_token_status_t st;
    agent_token_status(s->st, s->ctx, s->profile, tok, &st, NULL);
    return agent_token_allowed(s->rules, hc_token_name(s->ctx, tok), &st);
}

/* The token index named in a request, or an error: a token that is not
 * the client's answers as one that does not exist. */
static CK_RV token_of(peer_t *s, const char *name, size_t *tok, hc_err_t *err)
{
    long i = hc_token_index(s->ctx, name);
    if (i < 0 || !agent_token_visible(s, (size_t)i))
        return hc_err(err, CKR_SLOT_ID_INVALID,
                      "hsmcached: no token '%s' for "
                      "profile %s",
                      name, hc_profile_name(s->profile));
    *tok = (size_t)i;
    return CKR_OK;
}

/* In this order (session.h): operations, whitelists, mechanisms, scope. */
CK_RV agent_gate(peer_t *s, const hc_req_t *q, size_t *tok, hc_err_t *err)
{
    const hc_op_def_t *d = hc_op_def(q->op);
    unsigned perm = hc_req_perm(q);
    /* The name the client's config uses: crypt is two operations. */
    const char *op = q->op == HC_OP_CRYPT ? (q->flags ? "encrypt" : "decrypt") : hc_op_name(q->op);
    if (perm && !may(s, perm))
        return refuse_op(s, op, err);
    if (q->refuse != CKR_OK) {
        char what[300];
        snprintf(what, sizeof what, "%s: %s", hc_op_name(q->op), q->why);
        agent_log_refusal(s, what);
        return hc_err(err, q->refuse, "hsmcached refused %s", what);
    }
    if (!agent_mech_allowed(s->rules, q)) {
        const char *name = hc_mech_name(q->mech.m.mechanism);
        char what[160];
        snprintf(what, sizeof what, "%s with mechanism %s", op, name ? name : "?");
        agent_log_refusal(s, what);
        return hc_err(err, CKR_MECHANISM_INVALID,
                      "hsmcached refused %s: not in "
                      "[client %s] mechanisms",
                      what, agent_rules_name(s->rules));
    }
    switch (d->scope) {
    case HC_SCOPE_TOKEN: {
        CK_RV rv = token_of(s, q->token, tok, err);
        if (rv == CKR_SLOT_ID_INVALID && q->op == HC_OP_LOGIN_WITH &&
            hc_token_index(s->ctx, q->token) >= 0) {
            /* A PIN for a token outside the client's keys is never tried. */
            char what[128];
            snprintf(what, sizeof what, "login on token %s", q->token);
            agent_log_refusal(s, what);
            rv = hc_err(err, CKR_FUNCTION_REJECTED,
                        "hsmcached refused login on "
                        "token %s: no [client %s] keys name it",
                        q->token, agent_rules_name(s->rules));
        }
        return rv;
    }
    case HC_SCOPE_OBJ:
        return agent_obj_allowed(s, q->obj, NULL) ? CKR_OK : agent_refuse_key(s, op, q->obj, err);
    default: return CKR_OK;
    }
}
