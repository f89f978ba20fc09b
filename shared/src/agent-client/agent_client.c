/*
 * agent_client.c: the agent transport. Every core call becomes one
 * request to hsmcached over its unix socket (proto.h): each member below
 * only maps its arguments to the request's fields and the reply's fields
 * to its results; the wire format, limits, retry rule and the checks the
 * agent would make are the op table's (proto_ops.c, through
 * hc_link_call).
 *
 * Connections: a list of idle connections; a call takes one (or dials a
 * new one), so concurrent callers run concurrent requests. A connection
 * that fails before its reply began is dropped with every idle one (the
 * agent probably restarted) and the call is retried once on a fresh
 * connection, unless it creates or destroys something.
 *
 * Objects: the agent's references are valid for one agent instance (its
 * start or last reload). Callers get references of this process, which
 * keep the object's identity (class, CKA_ID, CKA_LABEL); after the agent
 * changed instance an object is found again by identity, so a host that
 * outlives an agent restart keeps its handles. Public keys and signature
 * sizes are kept here (they do not change for one identity).
 *
 * Thread-safe: `lock` guards the idle list and the reference table; no
 * lock is held during a request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-client/agent_link.h"
#include "util/err.h"
#include "proto/proto_check.h"

/* ---- the transport's members ---- */

static void agent_close(void *impl)
{
    hc_agent_t *a = impl;
    if (!a)
        return;
    hc_link_drop_idle(a);
    for (size_t i = 0; i < a->nrefs; i++) {
        free(a->refs[i]->spki);
        free(a->refs[i]);
    }
    free(a->refs);
    free(a->memo);
    for (size_t i = 0; i < a->ntokens; i++)
        free(a->tokens[i]);
    free(a->tokens);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

static const char *agent_config_path(const void *impl)
{
    return ((const hc_agent_t *)impl)->conf_path;
}

static size_t agent_token_count(const void *impl)
{
    return ((const hc_agent_t *)impl)->ntokens;
}

static const char *agent_token_name(const void *impl, size_t tok)
{
    const hc_agent_t *a = impl;
    return tok < a->ntokens ? a->tokens[tok] : NULL;
}

static bool agent_cache_enabled(const void *impl)
{
    return ((const hc_agent_t *)impl)->cache_enabled;
}

/* A request on token tok (the client's own numbering: hello's list). */
static hc_req_t token_req(const hc_agent_t *a, uint8_t op, size_t tok)
{
    hc_req_t q = { .op = op };
    snprintf(q.token, sizeof q.token, "%s", a->tokens[tok]);
    return q;
}

/* A (u64 len, bytes) result into a caller's buffer (sign, crypt, random),
 * with PKCS#11 size semantics: the length with CKR_OK or
 * CKR_BUFFER_TOO_SMALL, the bytes with CKR_OK when a buffer was given. */
static CK_RV copy_out(const hc_rep_t *rep, CK_RV rv, unsigned char *buf, size_t cap, size_t *len,
                      hc_err_t *err)
{
    if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL)
        *len = (size_t)rep->num[0];
    if (rv == CKR_OK && buf) {
        if (rep->len > cap || rep->len != rep->num[0])
            return hc_err(err, CKR_DEVICE_ERROR,
                          "hsmcached: reply larger than "
                          "the buffer");
        memcpy(buf, rep->data, rep->len);
    }
    return rv;
}

/* A call whose results are nothing but its rv. */
static CK_RV plain_call(hc_agent_t *a, hc_req_t *q, hc_obj_t obj, hc_err_t *err)
{
    hc_rep_t rep;
    CK_RV rv = hc_link_call(a, q, obj, &rep, err);
    hc_rep_free(&rep);
    return rv;
}

static CK_RV agent_token_status(void *impl, size_t tok, hc_token_status_t *st, hc_err_t *err)
{
    hc_agent_t *a = impl;
    memset(st, 0, sizeof *st);
    hc_req_t q = token_req(a, HC_OP_TOKEN_STATUS, tok);
    hc_rep_t rep;
    CK_RV rv = hc_link_call(a, &q, 0, &rep, err);
    memcpy(st->name, rep.name, sizeof st->name);
    memcpy(st->module, rep.module, sizeof st->module);
    uint8_t f = rep.flags;
    st->present = f & 1, st->pin_stored = f & 2, st->pin_rejected = f & 4;
    st->logged_in = f & 8;
    st->info_valid = (f & 16) && rep.len == sizeof st->info;
    if (st->info_valid)
        memcpy(&st->info, rep.data, sizeof st->info);
    hc_rep_free(&rep);
    return rv;
}

static CK_RV agent_mechanisms(void *impl, size_t tok, CK_MECHANISM_TYPE *list, CK_ULONG *count,
                              hc_err_t *err)
{
    hc_agent_t *a = impl;
    hc_req_t q = token_req(a, HC_OP_MECHANISMS, tok);
    q.want = list != NULL;
    q.cap = *count > 4096 ? 4096 : *count;
    hc_rep_t rep;
    CK_RV rv = hc_link_call(a, &q, 0, &rep, err);
    if ((rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL) && list && rep.nlist > *count)
        rv = hc_err(err, CKR_DEVICE_ERROR, "hsmcached: more mechanisms than asked for");
    if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL) {
        for (uint32_t i = 0; list && i < rep.nlist; i++)
            list[i] = rep.list[i];
        *count = (CK_ULONG)rep.num[0];
    }
    hc_rep_free(&rep);
    return rv;
}

static CK_RV agent_mechanism_info(void *impl, size_t tok, CK_MECHANISM_TYPE type,
                                  CK_MECHANISM_INFO *info, hc_err_t *err)
{
    hc_agent_t *a = impl;
    bool known = false;
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < a->nmemo && !known; i++)
        if (a->memo[i].tok == tok && a->memo[i].type == type &&
            a->memo[i].instance == a->instance) {
            *info = a->memo[i].info;
            known = true;
        }
    pthread_mutex_unlock(&a->lock);
    if (known)
        return CKR_OK;
    hc_req_t q = token_req(a, HC_OP_MECH_INFO, tok);
    q.cap = type;
    hc_rep_t rep;
    CK_RV rv = hc_link_call(a, &q, 0, &rep, err);
    info->ulMinKeySize = (CK_ULONG)rep.num[0];
    info->ulMaxKeySize = (CK_ULONG)rep.num[1];
    info->flags = (CK_FLAGS)rep.num[2];
    hc_rep_free(&rep);
    if (rv != CKR_OK)
        return rv;
    pthread_mutex_lock(&a->lock);
    struct mech_memo *slot = NULL;
    for (size_t i = 0; i < a->nmemo && !slot; i++)
        if (a->memo[i].tok == tok && a->memo[i].type == type)
            slot = &a->memo[i];
    if (!slot && a->nmemo < 256) {
        struct mech_memo *grown = realloc(a->memo, (a->nmemo + 1) * sizeof *grown);
        if (grown) {
            a->memo = grown;
            slot = &grown[a->nmemo++];
        }
    }
    if (slot)
        *slot = (struct mech_memo){ tok, type, *info, a->instance };
    pthread_mutex_unlock(&a->lock);
    return CKR_OK;
}

static CK_RV agent_login_with(void *impl, size_t tok, const unsigned char *pin, size_t len,
                              hc_err_t *err)
{
    hc_agent_t *a = impl;
    hc_req_t q = token_req(a, HC_OP_LOGIN_WITH, tok);
    q.data = pin; /* the request's buffer is wiped (hc_w_free) */
    q.len = len;
    return plain_call(a, &q, 0, err);
}

static CK_RV agent_login_check(void *impl, size_t tok, hc_err_t *err)
{
    hc_agent_t *a = impl;
    hc_req_t q = token_req(a, HC_OP_LOGIN_CHECK, tok);
    return plain_call(a, &q, 0, err);
}

static CK_RV agent_find(void *impl, size_t tok, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                        hc_obj_t **objs, size_t *count, hc_err_t *err)
{
    hc_agent_t *a = impl;
    char why[200];
    hc_req_t q = { .op = HC_OP_FIND, .tmpl = tmpl, .n = n };
    CK_RV checked = hc_req_check(&q, why, sizeof why);
    if (checked != CKR_OK)
        return hc_err(err, checked, "hsmcache: %s (not sent to hsmcached)", why);
    /* Not hc_link_call: the objects are interned with the instance of the
     * connection that found them. */
    for (int attempt = 0;; attempt++) {
        struct conn *c = hc_link_conn_take(a, err);
        if (!c)
            return err ? err->rv : CKR_DEVICE_ERROR;
        bool lost;
        CK_RV rv = hc_link_find_on(a, c, tok, tmpl, n, objs, count, &lost, err);
        if (!lost) {
            if (rv == CKR_DEVICE_ERROR)
                hc_link_conn_close(c);
            else
                hc_link_conn_put(a, c);
            return rv;
        }
        hc_link_conn_close(c);
        hc_link_drop_idle(a);
        if (attempt > 0)
            return rv;
    }
}

static CK_RV agent_get_attrs(void *impl, hc_obj_t obj, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                             hc_err_t *err)
{
    if (n > HC_PROTO_MAX_ATTRS)
        return hc_err(err, CKR_ARGUMENTS_BAD,
                      "more than %d attributes in one "
                      "request",
                      HC_PROTO_MAX_ATTRS);
    /* The query: each type, with the caller's buffer size (at most what
     * one value may be) or none. */
    CK_ATTRIBUTE ask[HC_PROTO_MAX_ATTRS];
    for (CK_ULONG i = 0; i < n; i++) {
        CK_ULONG cap =
            tmpl[i].ulValueLen > HC_PROTO_MAX_VALUE ? HC_PROTO_MAX_VALUE : tmpl[i].ulValueLen;
        ask[i] =
            (CK_ATTRIBUTE){ tmpl[i].type, NULL, tmpl[i].pValue ? cap : CK_UNAVAILABLE_INFORMATION };
    }
    hc_req_t q = { .op = HC_OP_GET_ATTRS, .tmpl = ask, .n = n };
    hc_rep_t rep;
    CK_RV rv = hc_link_call(impl, &q, obj, &rep, err);
    for (CK_ULONG i = 0; i < n && rep.body; i++) {
        const hc_rep_attr_t *v = &rep.attrs[i];
        if (tmpl[i].pValue && v->vlen) {
            if (v->vlen > ask[i].ulValueLen || v->vlen != v->len) {
                rv = hc_err(err, CKR_DEVICE_ERROR,
                            "hsmcached: malformed "
                            "get-attributes reply");
                break;
            }
            memcpy(tmpl[i].pValue, v->val, v->vlen);
        }
        tmpl[i].ulValueLen = v->len == UINT64_MAX ? CK_UNAVAILABLE_INFORMATION : (CK_ULONG)v->len;
    }
    hc_rep_free(&rep);
    return rv;
}

static CK_RV agent_public_key(void *impl, hc_obj_t obj, unsigned char **spki, size_t *len,
                              hc_err_t *err)
{
    hc_agent_t *a = impl;
    struct ref *ref = hc_link_ref_get(a, obj);
    *spki = NULL;
    *len = 0;
    pthread_mutex_lock(&a->lock);
    if (ref && ref->spki && (*spki = malloc(ref->spki_len))) {
        memcpy(*spki, ref->spki, ref->spki_len);
        *len = ref->spki_len;
    }
    pthread_mutex_unlock(&a->lock);
    if (*spki)
        return CKR_OK;
    hc_req_t q = { .op = HC_OP_PUBLIC_KEY };
    hc_rep_t rep;
    CK_RV rv = hc_link_call(a, &q, obj, &rep, err);
    unsigned char *mine = rv == CKR_OK ? malloc(rep.len ? rep.len : 1) : NULL;
    unsigned char *keep = rv == CKR_OK ? malloc(rep.len ? rep.len : 1) : NULL;
    if (rv == CKR_OK && (!mine || !keep))
        rv = hc_err(err, CKR_HOST_MEMORY, "out of memory");
    if (rv == CKR_OK) {
        memcpy(mine, rep.data, rep.len);
        memcpy(keep, rep.data, rep.len);
        *spki = mine;
        *len = rep.len;
        mine = NULL;
        pthread_mutex_lock(&a->lock);
        if (!ref->spki) {
            ref->spki = keep;
            ref->spki_len = rep.len;
            keep = NULL;
        }
        pthread_mutex_unlock(&a->lock);
    }
    free(mine);
    free(keep);
    hc_rep_free(&rep);
    return rv;
}

static CK_RV agent_signature_length(void *impl, hc_obj_t obj, size_t *len, hc_err_t *err)
{
    hc_agent_t *a = impl;
    struct ref *ref = hc_link_ref_get(a, obj);
    pthread_mutex_lock(&a->lock);
    *len = ref ? ref->sig_len : 0;
    pthread_mutex_unlock(&a->lock);
    if (*len)
        return CKR_OK;
    hc_req_t q = { .op = HC_OP_SIG_LEN };
    hc_rep_t rep;
    CK_RV rv = hc_link_call(a, &q, obj, &rep, err);
    if (rv == CKR_OK) {
        *len = (size_t)rep.num[0];
        pthread_mutex_lock(&a->lock);
        ref->sig_len = *len;
        pthread_mutex_unlock(&a->lock);
    }
    hc_rep_free(&rep);
    return rv;
}

static CK_RV agent_sign(void *impl, hc_obj_t key, const CK_MECHANISM *mech,
                        const unsigned char *data, size_t len, hc_sign_opts_t *opts,
                        unsigned char *sig, size_t *sig_len, hc_err_t *err)
{
    hc_req_t q = { .op = HC_OP_SIGN,
                   .mech.m = *mech,
                   .data = data,
                   .len = len,
                   .flags = opts->background ? HC_SIGN_BACKGROUND : 0,
                   .expires = opts->expires,
                   .want = sig != NULL,
                   .cap = *sig_len > HC_PROTO_MAX_VALUE ? HC_PROTO_MAX_VALUE : *sig_len };
    hc_rep_t rep;
    CK_RV rv = hc_link_call(impl, &q, key, &rep, err);
    opts->from_cache = rep.flags != 0;
    rv = copy_out(&rep, rv, sig, q.cap, sig_len, err);
    hc_rep_free(&rep);
    return rv;
}

static CK_RV agent_cache_purge(void *impl, size_t *dropped, hc_err_t *err)
{
    hc_req_t q = { .op = HC_OP_CACHE_PURGE };
    hc_rep_t rep;
    CK_RV rv = hc_link_call(impl, &q, 0, &rep, err);
    *dropped = (size_t)rep.num[0];
    hc_rep_free(&rep);
    return rv;
}

static CK_RV agent_verify(void *impl, hc_obj_t key, const CK_MECHANISM *mech,
                          const unsigned char *data, size_t len, const unsigned char *sig,
                          size_t sig_len, hc_err_t *err)
{
    hc_req_t q = {
        .op = HC_OP_VERIFY, .mech.m = *mech, .data = data, .len = len, .data2 = sig, .len2 = sig_len
    };
    return plain_call(impl, &q, key, err);
}

static CK_RV agent_crypt(void *impl, bool encrypt, hc_obj_t key, const CK_MECHANISM *mech,
                         const unsigned char *in, size_t in_len, unsigned char *out,
                         size_t *out_len, hc_err_t *err)
{
    hc_req_t q = { .op = HC_OP_CRYPT,
                   .flags = encrypt,
                   .mech.m = *mech,
                   .data = in,
                   .len = in_len,
                   .want = out != NULL,
                   .cap = *out_len > HC_PROTO_MAX_VALUE ? HC_PROTO_MAX_VALUE : *out_len };
    hc_rep_t rep;
    CK_RV rv = hc_link_call(impl, &q, key, &rep, err);
    rv = copy_out(&rep, rv, out, q.cap, out_len, err);
    hc_rep_free(&rep); /* wiped: a decrypted secret */
    return rv;
}

static CK_RV agent_generate(void *impl, size_t tok, const CK_MECHANISM *mech,
                            const CK_ATTRIBUTE *pub_tmpl, CK_ULONG npub,
                            const CK_ATTRIBUTE *priv_tmpl, CK_ULONG npriv, hc_obj_t *pub,
                            hc_obj_t *priv, hc_err_t *err)
{
    hc_agent_t *a = impl;
    hc_req_t q = token_req(a, HC_OP_GENERATE, tok);
    q.mech.m = *mech;
    q.tmpl = pub_tmpl, q.n = npub;
    q.tmpl2 = priv_tmpl, q.n2 = npriv;
    hc_rep_t rep;
    CK_RV rv = hc_link_call(a, &q, 0, &rep, err);
    if (rv == CKR_OK) {
        /* Interned with instance 0: found again by identity at first use
         * (the connection's instance is not known here). */
        *pub = hc_link_ref_intern(a, tok, 0, &rep.objs[0]);
        *priv = hc_link_ref_intern(a, tok, 0, &rep.objs[1]);
        if (!*pub || !*priv)
            rv = hc_err(err, CKR_HOST_MEMORY, "out of memory");
    }
    hc_rep_free(&rep);
    return rv;
}

static CK_RV agent_destroy(void *impl, hc_obj_t obj, hc_err_t *err)
{
    hc_req_t q = { .op = HC_OP_DESTROY };
    return plain_call(impl, &q, obj, err);
}

static CK_RV agent_random(void *impl, size_t tok, unsigned char *buf, size_t len, hc_err_t *err)
{
    hc_agent_t *a = impl;
    if (len > HC_PROTO_MAX_VALUE)
        return hc_err(err, CKR_ARGUMENTS_BAD,
                      "more than %d random bytes in "
                      "one request",
                      HC_PROTO_MAX_VALUE);
    hc_req_t q = token_req(a, HC_OP_RANDOM, tok);
    q.cap = len;
    hc_rep_t rep;
    size_t got = 0;
    CK_RV rv = copy_out(&rep, hc_link_call(a, &q, 0, &rep, err), buf, len, &got, err);
    if (rv == CKR_OK && got != len)
        rv = hc_err(err, CKR_DEVICE_ERROR, "hsmcached: short random reply");
    hc_rep_free(&rep);
    return rv;
}

/* The reply's data as a malloc'ed string in *out (when rv is CKR_OK). */
static CK_RV reply_text(const hc_rep_t *rep, CK_RV rv, char **out, hc_err_t *err)
{
    if (rv != CKR_OK)
        return rv;
    if (!(*out = malloc(rep->len + 1)))
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    memcpy(*out, rep->data, rep->len);
    (*out)[rep->len] = '\0';
    return CKR_OK;
}

static CK_RV agent_stats_text(void *impl, bool prometheus, char **out, hc_err_t *err)
{
    hc_req_t q = { .op = HC_OP_STATS, .flags = prometheus };
    hc_rep_t rep;
    CK_RV rv = hc_link_call(impl, &q, 0, &rep, err);
    *out = NULL;
    rv = reply_text(&rep, rv, out, err);
    hc_rep_free(&rep);
    return rv;
}

static CK_RV agent_describe(void *impl, hc_obj_t obj, hc_obj_identity_t *id, hc_err_t *err)
{
    hc_agent_t *a = impl;
    struct ref *r = hc_link_ref_get(a, obj);
    if (!r)
        return hc_err(err, CKR_OBJECT_HANDLE_INVALID,
                      "no object with "
                      "reference 0x%llx",
                      (unsigned long long)obj);
    *id = r->id; /* identity fields never change after interning */
    return CKR_OK;
}

/* The record goes to hsmcached, which writes it to the log its own
 * config names: a client does not choose where the agent writes. */
static CK_RV agent_audit(void *impl, const char *path, const char *record, hc_err_t *err)
{
    (void)path;
    hc_req_t q = { .op = HC_OP_AUDIT };
    if (strlen(record) >= sizeof q.text)
        return hc_err(err, CKR_ARGUMENTS_BAD, "audit record longer than %zu bytes",
                      sizeof q.text - 1);
    memcpy(q.text, record, strlen(record) + 1);
    return plain_call(impl, &q, 0, err);
}

static CK_RV agent_issue(hc_agent_t *a, const unsigned char *opts, size_t opts_len,
                         const char *pubkey, char **cert, uint64_t *serial, hc_err_t *err)
{
    hc_req_t q = { .op = HC_OP_ISSUE,
                   .data = opts,
                   .len = opts_len,
                   .data2 = (const unsigned char *)pubkey,
                   .len2 = strlen(pubkey) };
    hc_rep_t rep;
    CK_RV rv = hc_link_call(a, &q, 0, &rep, err);
    /* the certificate is one line of base64 text: nothing else accepted */
    if (rv == CKR_OK &&
        (rep.len == 0 || memchr(rep.data, '\0', rep.len) || memchr(rep.data, '\n', rep.len)))
        rv = hc_err(err, CKR_DEVICE_ERROR, "hsmcached: issue: malformed certificate in the reply");
    rv = reply_text(&rep, rv, cert, err);
    if (rv == CKR_OK)
        *serial = rep.num[0];
    hc_rep_free(&rep);
    return rv;
}

static const hc_transport_t agent_transport = {
    .close = agent_close,
    .config_path = agent_config_path,
    .token_count = agent_token_count,
    .token_name = agent_token_name,
    .signature_cache_enabled = agent_cache_enabled,
    .token_status = agent_token_status,
    .mechanisms = agent_mechanisms,
    .mechanism_info = agent_mechanism_info,
    .login_with = agent_login_with,
    .login_check = agent_login_check,
    .find = agent_find,
    .get_attrs = agent_get_attrs,
    .public_key = agent_public_key,
    .signature_length = agent_signature_length,
    .sign = agent_sign,
    .cache_purge = agent_cache_purge,
    .verify = agent_verify,
    .crypt = agent_crypt,
    .generate_key_pair = agent_generate,
    .destroy = agent_destroy,
    .random = agent_random,
    .stats_text = agent_stats_text,
    .plugin_stats = NULL,
    .describe = agent_describe,
    .audit = agent_audit,
};

CK_RV hc_agent_open(const char *profile, const char *conf_path, const char *socket,
                    long long timeout_ms, void **impl, const hc_transport_t **tp, hc_err_t *err)
{
    hc_agent_t *a = calloc(1, sizeof *a);
    if (!a)
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    snprintf(a->conf_path, sizeof a->conf_path, "%s", conf_path);
    snprintf(a->socket, sizeof a->socket, "%s", socket);
    snprintf(a->profile, sizeof a->profile, "%s", profile);
    a->timeout_ms = timeout_ms > 0 && timeout_ms < 3600000 ? (int)timeout_ms : 30000;
    pthread_mutex_init(&a->lock, NULL);
    struct conn *c = hc_link_conn_new(a, true, err);
    if (!c) {
        agent_close(a);
        return err ? err->rv : CKR_DEVICE_ERROR;
    }
    hc_link_conn_put(a, c);
    *impl = a;
    *tp = &agent_transport;
    return CKR_OK;
}

CK_RV hc_agent_issue(const char *conf_path, const char *socket, long long timeout_ms,
                     const unsigned char *opts, size_t opts_len, const char *pubkey, char **cert,
                     uint64_t *serial, hc_err_t *err)
{
    void *impl;
    const hc_transport_t *tp;
    *cert = NULL;
    if (opts_len > HC_ISSUE_MAX_OPTS || strlen(pubkey) > HC_ISSUE_MAX_PUBKEY)
        return hc_err(err, CKR_ARGUMENTS_BAD,
                      "issue: options or public key too long "
                      "(at most %u and %u bytes)",
                      HC_ISSUE_MAX_OPTS, HC_ISSUE_MAX_PUBKEY);
    CK_RV rv = hc_agent_open("cli", conf_path, socket, timeout_ms, &impl, &tp, err);
    if (rv != CKR_OK)
        return rv;
    rv = agent_issue(impl, opts, opts_len, pubkey, cert, serial, err);
    tp->close(impl);
    return rv;
}
