/*
 * serve.c: one connection's thread. The first request must be HELLO
 * (which profile); then each request is decoded (proto.c, bounds-checked),
 * authorized (access.c) and run on the embedded core, and answered. A
 * malformed, oversized or stalled message closes this connection only.
 */
#include <openssl/crypto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "agent-client/agent_conn.h"
#include "util/appendlog.h"
#include "audit_record.h"
#include "util/clock.h"
#include "util/err.h"
#include "gen_check.h"
#include "issue.h"
#include "proto/proto.h"
#include "proto/proto_check.h"
#include "peer.h"

/* A request's bytes must all arrive within this once it has begun, and a
 * reply must be taken within it: a stalled peer loses its connection. */
#define IO_MS 10000
/* A connection must complete its first request (HELLO) within this of
 * connecting; after that an authorized client may stay idle (pdns keeps
 * its connection for days). */
#define FIRST_REQUEST_MS 10000

/* The reply to q: rv (err's message when not CKR_OK) and rep's fields
 * (NULL: the op's empty results). */
static void answer(hc_wbuf_t *w, const hc_req_t *q, CK_RV rv, const hc_err_t *err,
                   const hc_rep_t *rep)
{
    hc_rep_encode(w, q, rv, rv == CKR_OK ? "" : err->msg, rep);
}

/* A reply whose one result is a number (num[0]). */
static void answer_num(hc_wbuf_t *w, const hc_req_t *q, CK_RV rv, const hc_err_t *err, uint64_t n)
{
    hc_rep_t rep;
    memset(&rep, 0, sizeof rep);
    rep.num[0] = n;
    answer(w, q, rv, err, &rep);
}

/* An object's wire form: the agent's reference and its identity (kept in
 * *id, which the wire form points into). */
static hc_proto_obj_t wire_obj(hc_ctx_t *ctx, hc_obj_t obj, hc_obj_identity_t *id)
{
    memset(id, 0, sizeof *id);
    if (obj)
        hc_describe(ctx, obj, id, NULL);
    return (hc_proto_obj_t){
        obj, id->cls, id->id, id->idlen, (const unsigned char *)id->label, id->labellen
    };
}

static void do_hello(peer_t *s, const hc_req_t *q, hc_wbuf_t *w)
{
    hc_err_t err = { 0 };
    CK_RV rv = CKR_OK;
    int profile = hc_profile_id(q->text);
    if (!s->rules) {
        if (!s->quiet)
            hc_log(&s->ag->log, HC_LOG_WARN,
                   "refused uid %u gid %u (pid %d): no "
                   "[client] section in %s lists it",
                   (unsigned)s->cred.uid, (unsigned)s->cred.gid, (int)s->cred.pid,
                   s->ag->conf_path);
        rv = hc_err(&err, CKR_FUNCTION_REJECTED,
                    "hsmcached at %s refused uid %u: "
                    "no [client] section in %s lists it",
                    s->ag->socket, (unsigned)s->cred.uid, s->ag->conf_path);
    } else if (profile < 0) {
        rv = hc_err(&err, CKR_ARGUMENTS_BAD, "hsmcached: unknown profile '%s'", q->text);
    } else if (!(s->ctx = agent_state_ctx(s->st, profile, &err))) {
        rv = err.rv ? err.rv : CKR_GENERAL_ERROR;
    }
    s->profile = profile;
    hc_rep_t rep;
    memset(&rep, 0, sizeof rep);
    rep.num[0] = s->st->instance;
    rep.flags = s->ctx && hc_signature_cache_enabled(s->ctx);
    /* Only the tokens the client's keys select, in config order: the
     * client numbers its slots by this list, and learns no other token's
     * name (scope.c; a token known by its real info is listed once the
     * agent has read that info, which hsmcache keeps while it is away). */
    size_t n = s->ctx ? hc_token_count(s->ctx) : 0;
    const char *names[HC_PROTO_MAX_TOKENS];
    for (size_t i = 0; i < n && rep.nnames < HC_PROTO_MAX_TOKENS; i++)
        if (agent_token_visible(s, i))
            names[rep.nnames++] = hc_token_name(s->ctx, i);
    rep.names = names;
    snprintf(rep.name, sizeof rep.name, "%s", s->rules ? agent_rules_name(s->rules) : "");
    answer(w, q, rv, &err, &rep);
}

bool agent_refusal_frame(agent_t *ag, agent_state_t *st, const struct ucred *cred, bool log,
                         hc_wbuf_t *w)
{
    peer_t s = { .ag = ag, .st = st, .cred = *cred, .profile = -1, .quiet = !log };
    hc_req_t *q = calloc(1, sizeof *q);
    if (!q)
        return false;
    q->op = HC_OP_HELLO;
    do_hello(&s, q, w);
    free(q);
    return !w->failed;
}

/* The handlers: each runs after the gates in dispatch (the op table's
 * permission, whitelists, mechanisms and scope), on the request's token
 * `tok` (HC_SCOPE_TOKEN) or authorized object q->obj (HC_SCOPE_OBJ), and
 * writes the reply. */
typedef void handler_fn(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w);

static void do_find(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    hc_err_t err = { 0 };
    size_t n = 0, kept = 0;
    hc_obj_t *objs = NULL;
    CK_RV rv = hc_find(s->ctx, tok, q->tmpl, q->n, &objs, &n, &err);
    /* Objects outside the client's keys are simply not there for it. The
     * token's status is read once for all of them, not per object. */
    hc_token_status_t st;
    memset(&st, 0, sizeof st);
    bool known =
        n > 0 && s->rules->cfg &&
        (agent_token_status(s->st, s->ctx, s->profile, tok, &st, NULL) == CKR_OK || st.info_valid);
    for (size_t i = 0; i < n; i++)
        if (agent_obj_allowed(s, objs[i], known ? &st : NULL))
            objs[kept++] = objs[i];
    hc_rep_t rep;
    memset(&rep, 0, sizeof rep);
    hc_obj_identity_t *ids = kept ? calloc(kept, sizeof *ids) : NULL;
    hc_proto_obj_t *wire = kept ? calloc(kept, sizeof *wire) : NULL;
    if (kept && (!ids || !wire))
        rv = hc_err(&err, CKR_HOST_MEMORY, "out of memory");
    for (size_t i = 0; rv == CKR_OK && i < kept; i++)
        wire[i] = wire_obj(s->ctx, objs[i], &ids[i]);
    rep.objs = wire;
    rep.nobjs = rv == CKR_OK ? (uint32_t)kept : 0;
    answer(w, q, rv, &err, &rep);
    free(wire);
    free(ids);
    free(objs);
}

/* Attributes whose type is not on the list (q->blocked, proto_check.h)
 * are not asked of the module: they come back unavailable, with
 * CKR_ATTRIBUTE_TYPE_INVALID as for a type the token does not know. */
static void do_get_attrs(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    (void)tok;
    hc_err_t err = { 0 };
    CK_ATTRIBUTE t[HC_PROTO_MAX_ATTRS], ask[HC_PROTO_MAX_ATTRS];
    size_t at[HC_PROTO_MAX_ATTRS];
    CK_ULONG nask = 0;
    unsigned char *bufs[HC_PROTO_MAX_ATTRS] = { 0 };
    CK_RV rv = CKR_OK;
    for (CK_ULONG i = 0; i < q->n; i++) {
        t[i] = (CK_ATTRIBUTE){ q->tmpl[i].type, NULL, 0 };
        if (q->blocked >> i & 1) {
            t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            continue;
        }
        at[nask++] = i;
        if (q->tmpl[i].ulValueLen != CK_UNAVAILABLE_INFORMATION) {
            t[i].ulValueLen = q->tmpl[i].ulValueLen;
            if (!(t[i].pValue = bufs[i] = malloc(t[i].ulValueLen ? t[i].ulValueLen : 1)))
                rv = hc_err(&err, CKR_HOST_MEMORY, "out of memory");
        }
    }
    bool ran = rv == CKR_OK;
    if (ran && nask) {
        for (CK_ULONG k = 0; k < nask; k++)
            ask[k] = t[at[k]];
        rv = hc_get_attrs(s->ctx, q->obj, ask, nask, &err);
        for (CK_ULONG k = 0; k < nask; k++)
            t[at[k]].ulValueLen = ask[k].ulValueLen;
    }
    if (ran && q->blocked && rv == CKR_OK) {
        CK_ATTRIBUTE_TYPE first = 0;
        for (CK_ULONG i = 0; i < q->n && !first; i++)
            if (q->blocked >> i & 1)
                first = q->tmpl[i].type;
        hc_log(&s->ag->log, HC_LOG_INFO,
               "client %s (uid %u, pid %d): get-attributes: "
               "attribute 0x%lx not passed on",
               agent_rules_name(s->rules), (unsigned)s->cred.uid, (int)s->cred.pid,
               (unsigned long)first);
        rv = hc_err(&err, CKR_ATTRIBUTE_TYPE_INVALID,
                    "hsmcached: attribute 0x%lx is "
                    "not one the agent passes on",
                    (unsigned long)first);
    }
    hc_rep_t rep;
    memset(&rep, 0, sizeof rep);
    for (CK_ULONG i = 0; i < q->n; i++) {
        CK_ULONG len = ran ? t[i].ulValueLen : CK_UNAVAILABLE_INFORMATION;
        bool value =
            t[i].pValue && len != CK_UNAVAILABLE_INFORMATION && len <= q->tmpl[i].ulValueLen;
        rep.attrs[i] = (hc_rep_attr_t){ len == CK_UNAVAILABLE_INFORMATION ? UINT64_MAX : len,
                                        t[i].pValue, value ? len : 0 };
    }
    answer(w, q, rv, &err, &rep);
    for (CK_ULONG i = 0; i < q->n; i++)
        free(bufs[i]);
}

static void do_sign(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    (void)tok;
    hc_err_t err = { 0 };
    unsigned char sig[HC_PROTO_MAX_VALUE];
    size_t len = q->want ? q->cap : 0;
    hc_sign_opts_t o = { .background = q->flags & HC_SIGN_BACKGROUND, .expires = q->expires };
    CK_RV rv = hc_sign_ex(s->ctx, q->obj, &q->mech.m, q->data, q->len, &o, q->want ? sig : NULL,
                          &len, &err);
    if (rv == CKR_OK && q->want)
        __atomic_fetch_add(&s->rules->counts->signatures, 1, __ATOMIC_RELAXED);
    hc_rep_t rep;
    memset(&rep, 0, sizeof rep);
    rep.flags = o.from_cache;
    rep.num[0] = rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL ? len : 0;
    rep.data = sig;
    rep.len = rv == CKR_OK && q->want ? len : 0;
    answer(w, q, rv, &err, &rep);
}

static void do_crypt(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    (void)tok;
    hc_err_t err = { 0 };
    unsigned char out[HC_PROTO_MAX_VALUE];
    size_t len = q->want ? q->cap : 0;
    CK_RV rv = q->flags ? hc_encrypt(s->ctx, q->obj, &q->mech.m, q->data, q->len,
                                     q->want ? out : NULL, &len, &err)
                        : hc_decrypt(s->ctx, q->obj, &q->mech.m, q->data, q->len,
                                     q->want ? out : NULL, &len, &err);
    hc_rep_t rep;
    memset(&rep, 0, sizeof rep);
    rep.num[0] = rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL ? len : 0;
    rep.data = out;
    rep.len = rv == CKR_OK && q->want ? len : 0;
    answer(w, q, rv, &err, &rep);
    OPENSSL_cleanse(out, sizeof out); /* a decrypted secret */
}

/* Whether token tok's module reports Cryptoki 2.40 or later (it knows
 * CKA_DESTROYABLE). */
static CK_RV module_v240(peer_t *s, size_t tok, bool *v240, hc_err_t *err)
{
    const hc_token_cfg_t *t = hc_config_token(s->st->cfg, hc_token_name(s->ctx, tok));
    CK_VERSION v = { 0, 0 };
    CK_RV rv = t ? agent_module_version(s->st, t->module, &v, err)
                 : hc_err(err, CKR_SLOT_ID_INVALID, "hsmcached: token %s is not in %s",
                          hc_token_name(s->ctx, tok), s->st->cfg->path);
    *v240 = v.major > 2 || (v.major == 2 && v.minor >= 40);
    return rv;
}

static void do_generate(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    hc_err_t err = { 0 };
    hc_obj_t pub = 0, priv = 0;
    /* Checked before the module is called (gen_check.c): a refused
     * request makes no key, so none can be left behind. */
    agent_gen_tmpl_t t;
    bool v240 = false;
    CK_RV rv = module_v240(s, tok, &v240, &err);
    if (rv == CKR_OK)
        rv = agent_gen_check(s->rules, s->ctx, tok, v240, q->tmpl, q->n, q->tmpl2, q->n2, &t, &err);
    if (rv != CKR_OK) {
        __atomic_fetch_add(&s->rules->counts->refused, 1, __ATOMIC_RELAXED);
        hc_log(&s->ag->log, HC_LOG_WARN, "client %s (uid %u, pid %d): %s",
               agent_rules_name(s->rules), (unsigned)s->cred.uid, (int)s->cred.pid, err.msg);
    }
    if (rv == CKR_OK)
        rv = hc_generate_key_pair(s->ctx, tok, &q->mech.m, t.pub, t.npub, t.priv, t.npriv, &pub,
                                  &priv, &err);
    /* A module that made something else than asked (outside the client's
     * keys, or unsafe): removed again, and said so when it cannot be. */
    bool unmade = false;
    if (rv == CKR_OK && (!agent_obj_allowed(s, pub, NULL) || !agent_obj_allowed(s, priv, NULL))) {
        rv = agent_refuse_key(s, "generate", priv, &err);
        unmade = true;
    } else if (rv == CKR_OK &&
               (rv = agent_gen_verify(s->rules, s->ctx, tok, v240, pub, priv, &err)) != CKR_OK) {
        agent_log_refusal(s, err.msg);
        unmade = true;
    }
    if (unmade &&
        (hc_destroy(s->ctx, pub, NULL) != CKR_OK || hc_destroy(s->ctx, priv, NULL) != CKR_OK))
        hc_log(&s->ag->log, HC_LOG_ERROR,
               "token %s: a key pair generated for "
               "[client %s] and refused could not be destroyed",
               hc_token_name(s->ctx, tok), agent_rules_name(s->rules));
    hc_obj_identity_t ids[2];
    hc_proto_obj_t pair[2] = { wire_obj(s->ctx, rv == CKR_OK ? pub : 0, &ids[0]),
                               wire_obj(s->ctx, rv == CKR_OK ? priv : 0, &ids[1]) };
    hc_rep_t rep;
    memset(&rep, 0, sizeof rep);
    rep.objs = pair;
    rep.nobjs = 2;
    answer(w, q, rv, &err, &rep);
}

static void do_token_status(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    hc_err_t err = { 0 };
    hc_token_status_t st;
    /* at most 1 s old: never a card call per request */
    CK_RV rv = agent_token_status(s->st, s->ctx, s->profile, tok, &st, &err);
    hc_rep_t rep;
    memset(&rep, 0, sizeof rep);
    memcpy(rep.name, st.name, sizeof rep.name);
    memcpy(rep.module, st.module, sizeof rep.module);
    rep.flags = st.present | st.pin_stored << 1 | st.pin_rejected << 2 | st.logged_in << 3 |
                st.info_valid << 4;
    rep.data = (const unsigned char *)&st.info;
    rep.len = sizeof st.info;
    answer(w, q, rv, &err, &rep);
}

static void do_mechanisms(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    hc_err_t err = { 0 };
    CK_MECHANISM_TYPE list[4096];
    CK_ULONG n = q->cap;
    CK_RV rv = hc_mechanisms(s->ctx, tok, q->want ? list : NULL, &n, &err);
    hc_rep_t rep;
    memset(&rep, 0, sizeof rep);
    rep.num[0] = rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL ? n : 0;
    rep.list = list;
    rep.nlist = rv == CKR_OK && q->want ? (uint32_t)n : 0;
    answer(w, q, rv, &err, &rep);
}

static void do_mech_info(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    hc_err_t err = { 0 };
    CK_MECHANISM_INFO mi = { 0 };
    CK_RV rv = hc_mechanism_info(s->ctx, tok, q->cap, &mi, &err);
    hc_rep_t rep;
    memset(&rep, 0, sizeof rep);
    rep.num[0] = mi.ulMinKeySize, rep.num[1] = mi.ulMaxKeySize, rep.num[2] = mi.flags;
    answer(w, q, rv, &err, &rep);
}

static void do_login(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    hc_err_t err = { 0 };
    CK_RV rv = q->op == HC_OP_LOGIN_WITH ? hc_login_with(s->ctx, tok, q->data, q->len, &err)
                                         : hc_login_check(s->ctx, tok, &err);
    answer(w, q, rv, &err, NULL);
}

static void do_random(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    hc_err_t err = { 0 };
    unsigned char buf[HC_PROTO_MAX_VALUE];
    CK_RV rv = hc_random(s->ctx, tok, buf, q->cap, &err);
    hc_rep_t rep;
    memset(&rep, 0, sizeof rep);
    rep.num[0] = rv == CKR_OK ? q->cap : 0;
    rep.data = buf;
    rep.len = rv == CKR_OK ? q->cap : 0;
    answer(w, q, rv, &err, &rep);
}

static void do_public_key(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    (void)tok;
    hc_err_t err = { 0 };
    unsigned char *spki = NULL;
    size_t len = 0;
    CK_RV rv = hc_public_key(s->ctx, q->obj, &spki, &len, &err);
    hc_rep_t rep;
    memset(&rep, 0, sizeof rep);
    rep.data = spki;
    rep.len = len;
    answer(w, q, rv, &err, &rep);
    free(spki);
}

static void do_sig_len(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    (void)tok;
    hc_err_t err = { 0 };
    size_t len = 0;
    CK_RV rv = hc_signature_length(s->ctx, q->obj, &len, &err);
    answer_num(w, q, rv, &err, len);
}

static void do_verify(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    (void)tok;
    hc_err_t err = { 0 };
    CK_RV rv = hc_verify(s->ctx, q->obj, &q->mech.m, q->data, q->len, q->data2, q->len2, &err);
    answer(w, q, rv, &err, NULL);
}

static void do_destroy(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    (void)tok;
    hc_err_t err = { 0 };
    CK_RV rv = hc_destroy(s->ctx, q->obj, &err);
    answer(w, q, rv, &err, NULL);
}

static void do_cache_purge(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    (void)tok;
    hc_err_t err = { 0 };
    size_t n = 0;
    CK_RV rv = hc_cache_purge(s->ctx, &n, &err);
    answer_num(w, q, rv, &err, n);
}

static void do_stats(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    (void)tok;
    hc_err_t err = { 0 };
    char *text = agent_stats_text(s->ag, s->st, s->rules, s->ctx, s->profile, q->flags != 0);
    CK_RV rv = text ? CKR_OK : hc_err(&err, CKR_HOST_MEMORY, "out of memory");
    hc_rep_t rep;
    memset(&rep, 0, sizeof rep);
    rep.data = (const unsigned char *)text;
    rep.len = text ? strlen(text) : 0;
    answer(w, q, rv, &err, &rep);
    free(text);
}

/* The SSH CA module's record: only from a client that may sign with the
 * CA key it names, parsed and written back canonically with what the
 * agent knows for sure about its sender (audit_record.c). */
static void do_audit(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    (void)tok;
    hc_err_t err = { 0 };
    const char *path = agent_audit_log(s->st->cfg);
    agent_audit_t *rec = NULL;
    CK_RV rv = agent_audit_parse(q->text, &rec, &err);
    if (rv == CKR_OK)
        rv = agent_audit_authorize(s->rules, s->ctx, s->st->cfg, rec, &err);
    if (rv != CKR_OK) {
        char what[600];
        snprintf(what, sizeof what, "an audit record: %s", err.msg);
        agent_log_refusal(s, what);
    } else {
        char *line = agent_audit_line(rec, (unsigned)s->cred.uid, (int)s->cred.pid,
                                      agent_rules_name(s->rules));
        if (!line || hc_append_line(path, line, strlen(line)) != 0) {
            hc_log(&s->ag->log, HC_LOG_ERROR, "audit log %s: cannot append: %m", path);
            rv = hc_err(&err, CKR_FUNCTION_FAILED,
                        "hsmcached: audit log %s "
                        "cannot be written",
                        path);
        }
        free(line);
    }
    agent_audit_free(rec);
    answer(w, q, rv, &err, NULL);
}

/* An SSH certificate issued under the agent's policy (issue.c): the
 * client never touches the CA key. */
static void do_issue(peer_t *s, const hc_req_t *q, size_t tok, hc_wbuf_t *w)
{
    (void)tok;
    hc_err_t err = { 0 };
    char *cert = NULL;
    uint64_t serial = 0;
    CK_RV rv = agent_issue(s->st, s->rules, &s->cred, q->data, q->len, q->data2, q->len2, &cert,
                           &serial, &err);
    if (rv == CKR_FUNCTION_REJECTED || rv == CKR_ARGUMENTS_BAD)
        __atomic_fetch_add(&s->rules->counts->refused, 1, __ATOMIC_RELAXED);
    else if (rv == CKR_OK)
        __atomic_fetch_add(&s->rules->counts->signatures, 1, __ATOMIC_RELAXED);
    hc_rep_t rep;
    memset(&rep, 0, sizeof rep);
    rep.num[0] = serial;
    rep.data = (const unsigned char *)cert;
    rep.len = cert ? strlen(cert) : 0;
    answer(w, q, rv, &err, &rep);
    free(cert);
}

/* Every op the table knows but hello (answered before any other). */
static handler_fn *const handlers[HC_OP_COUNT] = {
    [HC_OP_TOKEN_STATUS] = do_token_status,
    [HC_OP_MECHANISMS] = do_mechanisms,
    [HC_OP_MECH_INFO] = do_mech_info,
    [HC_OP_LOGIN_WITH] = do_login,
    [HC_OP_LOGIN_CHECK] = do_login,
    [HC_OP_FIND] = do_find,
    [HC_OP_GET_ATTRS] = do_get_attrs,
    [HC_OP_PUBLIC_KEY] = do_public_key,
    [HC_OP_SIG_LEN] = do_sig_len,
    [HC_OP_SIGN] = do_sign,
    [HC_OP_CACHE_PURGE] = do_cache_purge,
    [HC_OP_VERIFY] = do_verify,
    [HC_OP_CRYPT] = do_crypt,
    [HC_OP_GENERATE] = do_generate,
    [HC_OP_DESTROY] = do_destroy,
    [HC_OP_RANDOM] = do_random,
    [HC_OP_STATS] = do_stats,
    [HC_OP_AUDIT] = do_audit,
    [HC_OP_ISSUE] = do_issue,
};

static void dispatch(peer_t *s, const hc_req_t *q, hc_wbuf_t *w)
{
    hc_err_t err = { 0 };
    size_t tok = 0;
    handler_fn *run = q->op < HC_OP_COUNT ? handlers[q->op] : NULL;
    CK_RV rv = run ? agent_gate(s, q, &tok, &err)
                   : hc_err(&err, CKR_FUNCTION_NOT_SUPPORTED,
                            "hsmcached: no handler "
                            "for operation %s",
                            hc_op_name(q->op));
    if (rv == CKR_OK)
        run(s, q, tok, w);
    else
        answer(w, q, rv, &err, NULL);
}

static void peer_log(peer_t *s, int level, const char *what)
{
    hc_log(&s->ag->log, level, "client %s (uid %u, pid %d): %s; connection closed",
           s->rules ? agent_rules_name(s->rules) : "?", (unsigned)s->cred.uid, (int)s->cred.pid,
           what);
}

static void note_malformed(peer_t *s, const char *what)
{
    if (s->rules)
        __atomic_fetch_add(&s->rules->counts->malformed, 1, __ATOMIC_RELAXED);
    peer_log(s, HC_LOG_WARN, what);
}

/* The first request is due FIRST_REQUEST_MS after connecting, all its
 * bytes: waits for its first byte within that, then gives the rest only
 * what is left. false when the time is up. */
static bool first_due(peer_t *s, int *first, int *rest)
{
    uint64_t due = s->accepted_ms + FIRST_REQUEST_MS, now = hc_now_ms();
    if (now >= due)
        return false;
    struct pollfd p[2] = { { s->fd, POLLIN, 0 }, { s->st->stop_pipe[0], POLLIN, 0 } };
    if (poll(p, 2, (int)(due - now)) <= 0 && hc_now_ms() >= due)
        return false;
    now = hc_now_ms();
    *first = 1;
    *rest = now >= due ? 1 : (int)(due - now);
    return true;
}

/* Serves requests until the peer leaves, breaks the protocol, or the
 * state is retired (reload, shutdown) between requests. */
static void serve_loop(peer_t *s)
{
    hc_wbuf_t w = { 0 };
    for (;;) {
        unsigned char *body;
        size_t len;
        int first = 0, rest = IO_MS;
        if (!s->ctx && !first_due(s, &first, &rest)) {
            note_malformed(s, "no complete first request within 10 s of connecting");
            goto out;
        }
        enum hc_recv_result got =
            hc_recv_frame(s->fd, &body, &len, first, rest, s->st->stop_pipe[0]);
        if (!s->ctx && got == HC_RECV_TIMEOUT) {
            note_malformed(s, "no complete first request within 10 s of connecting");
            goto out;
        }
        switch (got) {
        case HC_RECV_OK: break;
        case HC_RECV_TOO_BIG: note_malformed(s, "oversized message"); goto out;
        case HC_RECV_TIMEOUT: note_malformed(s, "message cut short (timed out)"); goto out;
        case HC_RECV_ERROR: note_malformed(s, "message cut short"); goto out;
        default: goto out;
        }
        hc_req_t q;
        bool ok = hc_req_decode(body, len, &q);
        if (ok && !s->ctx && q.op != HC_OP_HELLO)
            ok = false;
        if (!ok) {
            OPENSSL_cleanse(body, len);
            free(body);
            note_malformed(s, s->ctx ? "malformed request" : "first request is not hello");
            goto out;
        }
        if (s->rules)
            __atomic_fetch_add(&s->rules->counts->requests, 1, __ATOMIC_RELAXED);
        if (q.op == HC_OP_HELLO)
            do_hello(s, &q, &w);
        else
            dispatch(s, &q, &w);
        hc_req_free(&q);
        OPENSSL_cleanse(body, len); /* a login request carries a PIN */
        free(body);
        bool sent = !w.failed && hc_send_all(s->fd, w.p, w.len, hc_now_ms() + IO_MS) == 0;
        if (!sent) {
            peer_log(s, HC_LOG_INFO, "reply not taken");
            goto out;
        }
        if (!s->ctx) /* refused at hello */
            goto out;
    }
out:
    hc_w_free(&w);
}

void *agent_serve(void *arg)
{
    agent_conn_arg_t *a = arg;
    peer_t s = {
        .ag = a->agent, .fd = a->fd, .cred = a->cred, .profile = -1, .accepted_ms = a->accepted_ms
    };
    free(a);
    s.st = agent_state_get(s.ag);
    s.rules = agent_match_client(s.st, &s.cred);
    if (s.rules)
        __atomic_fetch_add(&s.rules->counts->connections, 1, __ATOMIC_RELAXED);
    serve_loop(&s);
    close(s.fd);
    free(s.allowed);
    agent_state_put(s.st);
    pthread_mutex_lock(&s.ag->lock);
    s.ag->nconns--;
    for (size_t i = 0; i < s.ag->nuids; i++)
        if (s.ag->uids[i].uid == s.cred.uid)
            s.ag->uids[i].n--;
    pthread_cond_broadcast(&s.ag->idle);
    pthread_mutex_unlock(&s.ag->lock);
    return NULL;
}
