/*
 * agent_client.c: the agent transport. Every core call becomes one
 * request to hsmcached over its unix socket (proto.h).
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

#include "agent_link.h"
#include "err.h"
#include "proto_check.h"

/* A template the agent would refuse (proto_check.h), refused here with
 * the same code before anything is sent. */
static CK_RV check_template(const CK_ATTRIBUTE *t, CK_ULONG n, hc_err_t *err)
{
    char why[200];
    CK_RV rv = hc_template_check(t, n, why, sizeof why);
    return rv == CKR_OK ? rv : hc_err(err, rv, "hsmcache: %s (not sent to hsmcached)", why);
}

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

struct status_arg {
    const char *token;
    hc_token_status_t *st;
};

static void build_status(hc_wbuf_t *w, uint64_t aref, void *arg)
{
    (void)aref;
    hc_w_str(w, ((struct status_arg *)arg)->token);
}

static void parse_status(hc_rbuf_t *r, CK_RV *rv, void *arg, hc_err_t *err)
{
    (void)rv, (void)err;
    hc_token_status_t *st = ((struct status_arg *)arg)->st;
    hc_r_str(r, st->name, sizeof st->name);
    hc_r_str(r, st->module, sizeof st->module);
    uint8_t f = hc_r_u8(r);
    st->present = f & 1, st->pin_stored = f & 2, st->pin_rejected = f & 4;
    st->logged_in = f & 8, st->info_valid = f & 16;
    size_t n;
    const unsigned char *info = hc_r_bytes(r, &n, sizeof st->info);
    if (n == sizeof st->info)
        memcpy(&st->info, info, n);
    else
        st->info_valid = false;
}

static CK_RV agent_token_status(void *impl, size_t tok, hc_token_status_t *st,
                                hc_err_t *err)
{
    hc_agent_t *a = impl;
    memset(st, 0, sizeof *st);
    struct status_arg sa = { a->tokens[tok], st };
    return hc_link_call(a, HC_OP_TOKEN_STATUS, 0, true, build_status, parse_status,
                &sa, err);
}

struct mechs_arg {
    const char *token;
    CK_MECHANISM_TYPE *list;
    CK_ULONG *count;
};

static void build_mechs(hc_wbuf_t *w, uint64_t aref, void *arg)
{
    (void)aref;
    struct mechs_arg *m = arg;
    hc_w_str(w, m->token);
    hc_w_u8(w, m->list != NULL);
    hc_w_u64(w, *m->count > 4096 ? 4096 : *m->count);
}

static void parse_mechs(hc_rbuf_t *r, CK_RV *rv, void *arg, hc_err_t *err)
{
    (void)err;
    struct mechs_arg *m = arg;
    uint64_t n = hc_r_u64(r);
    uint32_t listed = hc_r_u32(r);
    if (listed > 4096 || (m->list && listed > *m->count))
        r->bad = true;
    for (uint32_t i = 0; i < listed && !r->bad; i++)
        m->list[i] = (CK_MECHANISM_TYPE)hc_r_u64(r);
    if (!r->bad && (*rv == CKR_OK || *rv == CKR_BUFFER_TOO_SMALL))
        *m->count = (CK_ULONG)n;
}

static CK_RV agent_mechanisms(void *impl, size_t tok, CK_MECHANISM_TYPE *list,
                              CK_ULONG *count, hc_err_t *err)
{
    hc_agent_t *a = impl;
    struct mechs_arg m = { a->tokens[tok], list, count };
    return hc_link_call(a, HC_OP_MECHANISMS, 0, true, build_mechs, parse_mechs, &m, err);
}

struct mech_info_arg {
    const char *token;
    CK_MECHANISM_TYPE type;
    CK_MECHANISM_INFO *info;
};

static void build_mech_info(hc_wbuf_t *w, uint64_t aref, void *arg)
{
    (void)aref;
    struct mech_info_arg *m = arg;
    hc_w_str(w, m->token);
    hc_w_u64(w, m->type);
}

static void parse_mech_info(hc_rbuf_t *r, CK_RV *rv, void *arg, hc_err_t *err)
{
    (void)rv, (void)err;
    struct mech_info_arg *m = arg;
    m->info->ulMinKeySize = (CK_ULONG)hc_r_u64(r);
    m->info->ulMaxKeySize = (CK_ULONG)hc_r_u64(r);
    m->info->flags = (CK_FLAGS)hc_r_u64(r);
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
    struct mech_info_arg m = { a->tokens[tok], type, info };
    CK_RV rv = hc_link_call(a, HC_OP_MECH_INFO, 0, true, build_mech_info, parse_mech_info,
                    &m, err);
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

struct login_arg {
    const char *token;
    const unsigned char *pin;
    size_t len;
};

static void build_login(hc_wbuf_t *w, uint64_t aref, void *arg)
{
    (void)aref;
    struct login_arg *l = arg;
    hc_w_str(w, l->token);
    hc_w_bytes(w, l->pin, l->len); /* hc_w_free wipes the buffer */
}

static CK_RV agent_login_with(void *impl, size_t tok, const unsigned char *pin,
                              size_t len, hc_err_t *err)
{
    hc_agent_t *a = impl;
    struct login_arg l = { a->tokens[tok], pin, len };
    /* Not retried: a login counts against the card's tries. */
    return hc_link_call(a, HC_OP_LOGIN_WITH, 0, false, build_login, hc_link_parse_none, &l, err);
}

static CK_RV agent_login_check(void *impl, size_t tok, hc_err_t *err)
{
    hc_agent_t *a = impl;
    return hc_link_call(a, HC_OP_LOGIN_CHECK, 0, true, hc_link_build_token, hc_link_parse_none,
                a->tokens[tok], err);
}

static CK_RV agent_find(void *impl, size_t tok, const CK_ATTRIBUTE *tmpl,
                        CK_ULONG n, hc_obj_t **objs, size_t *count, hc_err_t *err)
{
    hc_agent_t *a = impl;
    CK_RV checked = check_template(tmpl, n, err);
    if (checked != CKR_OK)
        return checked;
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

struct attrs_arg {
    CK_ATTRIBUTE *tmpl;
    CK_ULONG n;
};

static void build_attrs(hc_wbuf_t *w, uint64_t aref, void *arg)
{
    struct attrs_arg *g = arg;
    hc_w_u64(w, aref);
    hc_w_u32(w, (uint32_t)g->n);
    for (CK_ULONG i = 0; i < g->n; i++) {
        hc_w_u64(w, g->tmpl[i].type);
        hc_w_u8(w, g->tmpl[i].pValue != NULL);
        CK_ULONG cap = g->tmpl[i].ulValueLen;
        hc_w_u64(w, cap > HC_PROTO_MAX_VALUE ? HC_PROTO_MAX_VALUE : cap);
    }
}

static void parse_attrs(hc_rbuf_t *r, CK_RV *rv, void *arg, hc_err_t *err)
{
    (void)rv, (void)err;
    struct attrs_arg *g = arg;
    for (CK_ULONG i = 0; i < g->n && !r->bad; i++) {
        uint64_t len = hc_r_u64(r);
        size_t got;
        const unsigned char *p = hc_r_bytes(r, &got, HC_PROTO_MAX_VALUE);
        CK_ATTRIBUTE *t = &g->tmpl[i];
        if (r->bad)
            break;
        if (t->pValue && got) {
            if (got > t->ulValueLen || got != len) {
                r->bad = true;
                break;
            }
            memcpy(t->pValue, p, got);
        }
        t->ulValueLen = len == UINT64_MAX ? CK_UNAVAILABLE_INFORMATION : (CK_ULONG)len;
    }
}

static CK_RV agent_get_attrs(void *impl, hc_obj_t obj, CK_ATTRIBUTE *tmpl,
                             CK_ULONG n, hc_err_t *err)
{
    if (n > HC_PROTO_MAX_ATTRS)
        return hc_err(err, CKR_ARGUMENTS_BAD, "more than %d attributes in one "
                      "request", HC_PROTO_MAX_ATTRS);
    struct attrs_arg g = { tmpl, n };
    return hc_link_call(impl, HC_OP_GET_ATTRS, obj, true, build_attrs, parse_attrs, &g, err);
}

struct bytes_arg {
    unsigned char *p;
    size_t len;
};

static void parse_bytes(hc_rbuf_t *r, CK_RV *rv, void *arg, hc_err_t *err)
{
    struct bytes_arg *b = arg;
    size_t n;
    const unsigned char *p = hc_r_bytes(r, &n, HC_PROTO_MAX_BODY);
    if (r->bad || *rv != CKR_OK)
        return;
    if (!(b->p = malloc(n ? n : 1))) {
        *rv = hc_err(err, CKR_HOST_MEMORY, "out of memory");
        return;
    }
    memcpy(b->p, p, n);
    b->len = n;
}

static CK_RV agent_public_key(void *impl, hc_obj_t obj, unsigned char **spki,
                              size_t *len, hc_err_t *err)
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
    struct bytes_arg b = { 0 };
    CK_RV rv = hc_link_call(a, HC_OP_PUBLIC_KEY, obj, true, hc_link_build_obj, parse_bytes, &b, err);
    if (rv != CKR_OK)
        return rv;
    unsigned char *keep = malloc(b.len ? b.len : 1);
    pthread_mutex_lock(&a->lock);
    if (keep && !ref->spki) {
        memcpy(keep, b.p, b.len);
        ref->spki = keep;
        ref->spki_len = b.len;
        keep = NULL;
    }
    pthread_mutex_unlock(&a->lock);
    free(keep);
    *spki = b.p;
    *len = b.len;
    return CKR_OK;
}

static void parse_u64(hc_rbuf_t *r, CK_RV *rv, void *arg, hc_err_t *err)
{
    (void)rv, (void)err;
    *(uint64_t *)arg = hc_r_u64(r);
}

static CK_RV agent_signature_length(void *impl, hc_obj_t obj, size_t *len,
                                    hc_err_t *err)
{
    hc_agent_t *a = impl;
    struct ref *ref = hc_link_ref_get(a, obj);
    pthread_mutex_lock(&a->lock);
    *len = ref ? ref->sig_len : 0;
    pthread_mutex_unlock(&a->lock);
    if (*len)
        return CKR_OK;
    uint64_t n = 0;
    CK_RV rv = hc_link_call(a, HC_OP_SIG_LEN, obj, true, hc_link_build_obj, parse_u64, &n, err);
    if (rv == CKR_OK) {
        *len = (size_t)n;
        pthread_mutex_lock(&a->lock);
        ref->sig_len = (size_t)n;
        pthread_mutex_unlock(&a->lock);
    }
    return rv;
}

struct sign_arg {
    const CK_MECHANISM *mech;
    const unsigned char *data;
    size_t len;
    hc_sign_opts_t *opts;
    struct out_buf out;
};

static void build_sign(hc_wbuf_t *w, uint64_t aref, void *arg)
{
    struct sign_arg *s = arg;
    hc_w_u64(w, aref);
    hc_w_mech(w, s->mech);
    hc_w_bytes(w, s->data, s->len);
    hc_w_u8(w, s->opts->background ? HC_SIGN_BACKGROUND : 0);
    hc_w_u64(w, (uint64_t)s->opts->expires);
    hc_w_u8(w, s->out.buf != NULL);
    hc_w_u64(w, s->out.cap > HC_PROTO_MAX_VALUE ? HC_PROTO_MAX_VALUE : s->out.cap);
}

static void parse_sign(hc_rbuf_t *r, CK_RV *rv, void *arg, hc_err_t *err)
{
    struct sign_arg *s = arg;
    s->opts->from_cache = hc_r_u8(r) != 0;
    hc_link_parse_out(r, rv, &s->out, err);
}

static CK_RV agent_sign(void *impl, hc_obj_t key, const CK_MECHANISM *mech,
                        const unsigned char *data, size_t len,
                        hc_sign_opts_t *opts, unsigned char *sig,
                        size_t *sig_len, hc_err_t *err)
{
    struct sign_arg s = { mech, data, len, opts, { sig, sig_len, *sig_len } };
    return hc_link_call(impl, HC_OP_SIGN, key, true, build_sign, parse_sign, &s, err);
}

static void build_none(hc_wbuf_t *w, uint64_t aref, void *arg)
{
    (void)w, (void)aref, (void)arg;
}

static CK_RV agent_cache_purge(void *impl, size_t *dropped, hc_err_t *err)
{
    uint64_t n = 0;
    CK_RV rv = hc_link_call(impl, HC_OP_CACHE_PURGE, 0, true, build_none, parse_u64, &n, err);
    *dropped = (size_t)n;
    return rv;
}

struct verify_arg {
    const CK_MECHANISM *mech;
    const unsigned char *data, *sig;
    size_t len, sig_len;
};

static void build_verify(hc_wbuf_t *w, uint64_t aref, void *arg)
{
    struct verify_arg *v = arg;
    hc_w_u64(w, aref);
    hc_w_mech(w, v->mech);
    hc_w_bytes(w, v->data, v->len);
    hc_w_bytes(w, v->sig, v->sig_len);
}

static CK_RV agent_verify(void *impl, hc_obj_t key, const CK_MECHANISM *mech,
                          const unsigned char *data, size_t len,
                          const unsigned char *sig, size_t sig_len, hc_err_t *err)
{
    struct verify_arg v = { mech, data, sig, len, sig_len };
    return hc_link_call(impl, HC_OP_VERIFY, key, true, build_verify, hc_link_parse_none, &v, err);
}

struct crypt_arg {
    bool encrypt;
    const CK_MECHANISM *mech;
    const unsigned char *in;
    size_t in_len;
    struct out_buf out;
};

static void build_crypt(hc_wbuf_t *w, uint64_t aref, void *arg)
{
    struct crypt_arg *c = arg;
    hc_w_u8(w, c->encrypt);
    hc_w_u64(w, aref);
    hc_w_mech(w, c->mech);
    hc_w_bytes(w, c->in, c->in_len);
    hc_w_u8(w, c->out.buf != NULL);
    hc_w_u64(w, c->out.cap > HC_PROTO_MAX_VALUE ? HC_PROTO_MAX_VALUE : c->out.cap);
}

static void parse_crypt(hc_rbuf_t *r, CK_RV *rv, void *arg, hc_err_t *err)
{
    hc_link_parse_out(r, rv, &((struct crypt_arg *)arg)->out, err);
}

static CK_RV agent_crypt(void *impl, bool encrypt, hc_obj_t key,
                         const CK_MECHANISM *mech, const unsigned char *in,
                         size_t in_len, unsigned char *out, size_t *out_len,
                         hc_err_t *err)
{
    struct crypt_arg c = { encrypt, mech, in, in_len, { out, out_len, *out_len } };
    return hc_link_call(impl, HC_OP_CRYPT, key, true, build_crypt, parse_crypt, &c, err);
}

struct gen_arg {
    hc_agent_t *a;
    size_t tok;
    const CK_MECHANISM *mech;
    const CK_ATTRIBUTE *pub_tmpl, *priv_tmpl;
    CK_ULONG npub, npriv;
    hc_obj_t *pub, *priv;
};

static void build_gen(hc_wbuf_t *w, uint64_t aref, void *arg)
{
    (void)aref;
    struct gen_arg *g = arg;
    hc_w_str(w, g->a->tokens[g->tok]);
    hc_w_mech(w, g->mech);
    hc_w_template(w, g->pub_tmpl, g->npub);
    hc_w_template(w, g->priv_tmpl, g->npriv);
}

static void parse_gen(hc_rbuf_t *r, CK_RV *rv, void *arg, hc_err_t *err)
{
    struct gen_arg *g = arg;
    hc_proto_obj_t pub, priv;
    hc_r_obj(r, &pub);
    hc_r_obj(r, &priv);
    if (r->bad || *rv != CKR_OK)
        return;
    /* The connection's instance is the newest one: interning with the
     * reply's instance happens through the next call if it changed. */
    *g->pub = hc_link_ref_intern(g->a, g->tok, 0, &pub);
    *g->priv = hc_link_ref_intern(g->a, g->tok, 0, &priv);
    if (!*g->pub || !*g->priv)
        *rv = hc_err(err, CKR_HOST_MEMORY, "out of memory");
}

static CK_RV agent_generate(void *impl, size_t tok, const CK_MECHANISM *mech,
                            const CK_ATTRIBUTE *pub_tmpl, CK_ULONG npub,
                            const CK_ATTRIBUTE *priv_tmpl, CK_ULONG npriv,
                            hc_obj_t *pub, hc_obj_t *priv, hc_err_t *err)
{
    CK_RV rv = check_template(pub_tmpl, npub, err);
    if (rv == CKR_OK)
        rv = check_template(priv_tmpl, npriv, err);
    if (rv != CKR_OK)
        return rv;
    struct gen_arg g = { impl, tok, mech, pub_tmpl, priv_tmpl, npub, npriv, pub, priv };
    /* Not retried: a lost reply may still have made the key pair. */
    return hc_link_call(impl, HC_OP_GENERATE, 0, false, build_gen, parse_gen, &g, err);
}

static CK_RV agent_destroy(void *impl, hc_obj_t obj, hc_err_t *err)
{
    return hc_link_call(impl, HC_OP_DESTROY, obj, false, hc_link_build_obj, hc_link_parse_none, NULL, err);
}

struct random_arg {
    const char *token;
    size_t len;
    struct out_buf out;
};

static void build_random(hc_wbuf_t *w, uint64_t aref, void *arg)
{
    (void)aref;
    struct random_arg *r = arg;
    hc_w_str(w, r->token);
    hc_w_u64(w, r->len);
}

static void parse_random(hc_rbuf_t *r, CK_RV *rv, void *arg, hc_err_t *err)
{
    struct random_arg *ra = arg;
    hc_link_parse_out(r, rv, &ra->out, err);
    if (*rv == CKR_OK && *ra->out.len != ra->len)
        *rv = hc_err(err, CKR_DEVICE_ERROR, "hsmcached: short random reply");
}

static CK_RV agent_random(void *impl, size_t tok, unsigned char *buf, size_t len,
                          hc_err_t *err)
{
    hc_agent_t *a = impl;
    if (len > HC_PROTO_MAX_VALUE)
        return hc_err(err, CKR_ARGUMENTS_BAD, "more than %d random bytes in "
                      "one request", HC_PROTO_MAX_VALUE);
    size_t got = 0;
    struct random_arg r = { a->tokens[tok], len, { buf, &got, len } };
    return hc_link_call(a, HC_OP_RANDOM, 0, true, build_random, parse_random, &r, err);
}

/* parse_bytes's argument first, so parse_bytes may take the struct. */
struct stats_arg {
    struct bytes_arg b;
    bool prometheus;
};

static void build_stats(hc_wbuf_t *w, uint64_t aref, void *arg)
{
    (void)aref;
    hc_w_u8(w, ((struct stats_arg *)arg)->prometheus);
}

static CK_RV agent_stats_text(void *impl, bool prometheus, char **out,
                              hc_err_t *err)
{
    struct stats_arg sa = { { 0 }, prometheus };
    struct bytes_arg b = { 0 };
    CK_RV rv = hc_link_call(impl, HC_OP_STATS, 0, true, build_stats, parse_bytes, &sa, err);
    b = sa.b;
    char *text = rv == CKR_OK ? realloc(b.p, b.len + 1) : NULL;
    if (rv == CKR_OK && !text) {
        free(b.p);
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    }
    if (text)
        text[b.len] = '\0';
    *out = text;
    return rv;
}

static CK_RV agent_describe(void *impl, hc_obj_t obj, hc_obj_identity_t *id,
                            hc_err_t *err)
{
    hc_agent_t *a = impl;
    struct ref *r = hc_link_ref_get(a, obj);
    if (!r)
        return hc_err(err, CKR_OBJECT_HANDLE_INVALID, "no object with "
                      "reference 0x%llx", (unsigned long long)obj);
    *id = r->id; /* identity fields never change after interning */
    return CKR_OK;
}

static CK_RV agent_audit(void *impl, const char *record, hc_err_t *err)
{
    return hc_link_call(impl, HC_OP_AUDIT, 0, false, hc_link_build_token, hc_link_parse_none,
                (void *)record, err);
}

static const hc_ops_t agent_ops = {
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
    .presign_stats = NULL,
    .describe = agent_describe,
    .audit = agent_audit,
};

CK_RV hc_agent_open(const char *profile, const char *conf_path,
                    const char *socket, long long timeout_ms, void **impl,
                    const hc_ops_t **ops, hc_err_t *err)
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
    *ops = &agent_ops;
    return CKR_OK;
}
