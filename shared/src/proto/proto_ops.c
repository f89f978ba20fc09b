/*
 * proto_ops.c: the agent's operation table (each op's name, permission,
 * scope, retry rule, request and reply fields), the one encoder and
 * decoder of requests and of replies that the table drives for the
 * client and the agent alike, and the whitelists (proto_check.h) applied
 * to every decoded request before anything reaches the server. See
 * proto.h for the format.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "proto/proto.h"
#include "proto/proto_check.h"

#define MAX_MECHS 4096   /* mechanisms in one list */

/* ---- the table: each op once ---- */

#define REQ(...) { __VA_ARGS__, { HC_F_END, 0 } }
#define REP(...) { __VA_ARGS__, { HC_F_END, 0 } }
#define F(f) { HC_F_##f, 0 }
#define FM(f, max) { HC_F_##f, max }
#define R(f) { HC_R_##f, 0 }
#define RM(f, max) { HC_R_##f, max }
#define NONE { { HC_F_END, 0 } }

static const hc_op_def_t ops[HC_OP_COUNT] = {
    [HC_OP_HELLO] = { "hello", 0, HC_SCOPE_NONE, true, REQ(F(TEXT)),
                      REP(R(NUM0), R(FLAGS), R(NAMES), R(NAME)) },
    [HC_OP_TOKEN_STATUS] = { "token-status", 0, HC_SCOPE_TOKEN, true, REQ(F(TOKEN)),
                             REP(R(NAME), R(MODULE), R(FLAGS), RM(DATA, sizeof(CK_TOKEN_INFO))) },
    [HC_OP_MECHANISMS] = { "mechanisms", 0, HC_SCOPE_TOKEN, true,
                           REQ(F(TOKEN), F(WANT), FM(CAP, MAX_MECHS)),
                           REP(R(NUM0), RM(LIST, MAX_MECHS)) },
    [HC_OP_MECH_INFO] = { "mechanism-info", 0, HC_SCOPE_TOKEN, true, REQ(F(TOKEN), F(CAP)),
                          REP(R(NUM0), R(NUM1), R(NUM2)) },
    [HC_OP_LOGIN_WITH] = { "login", HC_PERM_LOGIN, HC_SCOPE_TOKEN, false,
                           REQ(F(TOKEN), FM(DATA, 256)), NONE },
    [HC_OP_LOGIN_CHECK] = { "login-check", 0, HC_SCOPE_TOKEN, true, REQ(F(TOKEN)), NONE },
    [HC_OP_FIND] = { "find", 0, HC_SCOPE_TOKEN, true, REQ(F(TOKEN), F(TMPL)),
                     REP(RM(OBJS, HC_PROTO_MAX_OBJS)) },
    [HC_OP_GET_ATTRS] = { "get-attributes", 0, HC_SCOPE_OBJ, true, REQ(F(OBJ), F(QUERY)),
                          REP(R(ATTRS)) },
    [HC_OP_PUBLIC_KEY] = { "public-key", 0, HC_SCOPE_OBJ, true, REQ(F(OBJ)),
                           REP(RM(DATA, HC_PROTO_MAX_BODY)) },
    [HC_OP_SIG_LEN] = { "signature-length", 0, HC_SCOPE_OBJ, true, REQ(F(OBJ)), REP(R(NUM0)) },
    [HC_OP_SIGN] = { "sign", HC_PERM_SIGN, HC_SCOPE_OBJ, true,
                     REQ(F(OBJ), F(MECH), FM(DATA, HC_PROTO_MAX_BODY), F(FLAGS), F(EXPIRES),
                         F(WANT), FM(CAP, HC_PROTO_MAX_VALUE)),
                     REP(R(FLAGS), R(NUM0), RM(DATA, HC_PROTO_MAX_VALUE)) },
    [HC_OP_CACHE_PURGE] = { "cache-purge", HC_PERM_SIGN, HC_SCOPE_NONE, true, NONE, REP(R(NUM0)) },
    [HC_OP_VERIFY] = { "verify", 0, HC_SCOPE_OBJ, true,
                       REQ(F(OBJ), F(MECH), FM(DATA, HC_PROTO_MAX_BODY),
                           FM(DATA2, HC_PROTO_MAX_VALUE)),
                       NONE },
    [HC_OP_CRYPT] = { "encrypt/decrypt", HC_PERM_ENCRYPT | HC_PERM_DECRYPT, HC_SCOPE_OBJ, true,
                      REQ(F(FLAGS), F(OBJ), F(MECH), FM(DATA, HC_PROTO_MAX_VALUE), F(WANT),
                          FM(CAP, HC_PROTO_MAX_VALUE)),
                      REP(R(NUM0), RM(DATA, HC_PROTO_MAX_VALUE)) },
    [HC_OP_GENERATE] = { "generate", HC_PERM_GENERATE, HC_SCOPE_TOKEN, false,
                         REQ(F(TOKEN), F(MECH), F(TMPL), F(TMPL2)), REP(R(PAIR)) },
    [HC_OP_DESTROY] = { "destroy", HC_PERM_DESTROY, HC_SCOPE_OBJ, false, REQ(F(OBJ)), NONE },
    [HC_OP_RANDOM] = { "random", HC_PERM_RANDOM, HC_SCOPE_TOKEN, true,
                       REQ(F(TOKEN), FM(CAP, HC_PROTO_MAX_VALUE)),
                       REP(R(NUM0), RM(DATA, HC_PROTO_MAX_VALUE)) },
    [HC_OP_STATS] = { "stats", 0, HC_SCOPE_NONE, true, REQ(F(FLAGS)),
                      REP(RM(DATA, HC_PROTO_MAX_BODY)) },
    [HC_OP_AUDIT] = { "audit", 0, HC_SCOPE_NONE, false, REQ(F(TEXT)), NONE },
    /* the CA key is the agent's to choose ([sshca] keys): no client scope */
    [HC_OP_ISSUE] = { "issue", HC_PERM_ISSUE, HC_SCOPE_NONE, false,
                      REQ(FM(DATA, HC_ISSUE_MAX_OPTS), FM(DATA2, HC_ISSUE_MAX_PUBKEY)),
                      REP(R(NUM0), RM(DATA, HC_ISSUE_MAX_CERT)) },
};

const hc_op_def_t *hc_op_def(unsigned op)
{
    return op < HC_OP_COUNT && ops[op].name ? &ops[op] : NULL;
}

const char *hc_op_name(unsigned op)
{
    const hc_op_def_t *d = hc_op_def(op);
    return d ? d->name : "?";
}

unsigned hc_req_perm(const hc_req_t *q)
{
    if (q->op == HC_OP_CRYPT)
        return q->flags ? HC_PERM_ENCRYPT : HC_PERM_DECRYPT;
    const hc_op_def_t *d = hc_op_def(q->op);
    return d ? d->perm : 0;
}

static bool has_field(const hc_field_def_t *list, hc_field_t f)
{
    for (; list->f != HC_F_END; list++)
        if (list->f == f)
            return true;
    return false;
}

/* ---- requests ---- */

static void put_str(hc_wbuf_t *w, const char *s, size_t size)
{
    if (strlen(s) >= size)
        w->failed = true; /* the decoder would refuse it: never truncated */
    hc_w_str(w, s);
}

static void put_limited(hc_wbuf_t *w, const void *p, size_t n, uint32_t max)
{
    if (n > max)
        w->failed = true;
    hc_w_bytes(w, p, n);
}

static void put_query(hc_wbuf_t *w, const hc_req_t *q)
{
    if (q->n > HC_PROTO_MAX_ATTRS)
        w->failed = true;
    hc_w_u32(w, (uint32_t)q->n);
    for (CK_ULONG i = 0; i < q->n && !w->failed; i++) {
        CK_ULONG cap = q->tmpl[i].ulValueLen;
        bool want = cap != CK_UNAVAILABLE_INFORMATION;
        if (want && cap > HC_PROTO_MAX_VALUE)
            w->failed = true;
        hc_w_u64(w, q->tmpl[i].type);
        hc_w_u8(w, want);
        hc_w_u64(w, want ? cap : 0);
    }
}

static void put_field(hc_wbuf_t *w, const hc_req_t *q, const hc_field_def_t *f)
{
    switch (f->f) {
    case HC_F_TEXT: put_str(w, q->text, sizeof q->text); break;
    case HC_F_TOKEN: put_str(w, q->token, sizeof q->token); break;
    case HC_F_OBJ: hc_w_u64(w, q->obj); break;
    case HC_F_MECH: hc_w_mech(w, &q->mech.m); break;
    case HC_F_DATA: put_limited(w, q->data, q->len, f->max); break;
    case HC_F_DATA2: put_limited(w, q->data2, q->len2, f->max); break;
    case HC_F_FLAGS: hc_w_u8(w, q->flags); break;
    case HC_F_EXPIRES: hc_w_u64(w, (uint64_t)q->expires); break;
    case HC_F_WANT: hc_w_u8(w, q->want); break;
    case HC_F_CAP:
        if (f->max && q->cap > f->max)
            w->failed = true;
        hc_w_u64(w, q->cap);
        break;
    case HC_F_TMPL: hc_w_template(w, q->tmpl, q->n); break;
    case HC_F_TMPL2: hc_w_template(w, q->tmpl2, q->n2); break;
    case HC_F_QUERY: put_query(w, q); break;
    default: w->failed = true; /* a reply field in a request: the table is wrong */
    }
}

bool hc_req_encode(hc_wbuf_t *w, const hc_req_t *q)
{
    const hc_op_def_t *d = hc_op_def(q->op);
    hc_w_begin(w, q->op);
    if (!d)
        w->failed = true;
    for (const hc_field_def_t *f = d ? d->req : NULL; f && f->f != HC_F_END; f++)
        put_field(w, q, f);
    return hc_w_finish(w);
}

/* GET_ATTRS's query: u32 n, n x (u64 type, u8 want, u64 cap); cap is kept
 * in ulValueLen, CK_UNAVAILABLE_INFORMATION when no buffer was given. */
static void get_query(hc_rbuf_t *r, hc_req_t *q)
{
    uint32_t count = hc_r_u32(r);
    if (r->bad || count == 0)
        return;
    CK_ATTRIBUTE *t;
    if (count > HC_PROTO_MAX_ATTRS || !(t = calloc(count, sizeof *t))) {
        r->bad = true;
        return;
    }
    q->tmpl = t;
    q->n = count;
    for (uint32_t i = 0; i < count; i++) {
        t[i].type = hc_r_u64(r);
        bool want = hc_r_u8(r) != 0;
        uint64_t cap = hc_r_u64(r);
        if (cap > HC_PROTO_MAX_VALUE)
            r->bad = true;
        t[i].ulValueLen = want ? (CK_ULONG)cap : CK_UNAVAILABLE_INFORMATION;
    }
}

static void get_template(hc_rbuf_t *r, const CK_ATTRIBUTE **out, CK_ULONG *n)
{
    CK_ATTRIBUTE *t;
    hc_r_template(r, &t, n);
    *out = t;
}

static void get_field(hc_rbuf_t *r, hc_req_t *q, const hc_field_def_t *f)
{
    switch (f->f) {
    case HC_F_TEXT: hc_r_str(r, q->text, sizeof q->text); break;
    case HC_F_TOKEN: hc_r_str(r, q->token, sizeof q->token); break;
    case HC_F_OBJ: q->obj = hc_r_u64(r); break;
    case HC_F_MECH: hc_r_mech(r, &q->mech); break;
    case HC_F_DATA: q->data = hc_r_bytes(r, &q->len, f->max); break;
    case HC_F_DATA2: q->data2 = hc_r_bytes(r, &q->len2, f->max); break;
    case HC_F_FLAGS: q->flags = hc_r_u8(r); break;
    case HC_F_EXPIRES: q->expires = (int64_t)hc_r_u64(r); break;
    case HC_F_WANT: q->want = hc_r_u8(r) != 0; break;
    case HC_F_CAP:
        q->cap = hc_r_u64(r);
        if (f->max && q->cap > f->max)
            r->bad = true;
        break;
    case HC_F_TMPL: get_template(r, &q->tmpl, &q->n); break;
    case HC_F_TMPL2: get_template(r, &q->tmpl2, &q->n2); break;
    case HC_F_QUERY: get_query(r, q); break;
    default: r->bad = true;
    }
}

/* ---- replies ---- */

static void put_obj_or_none(hc_wbuf_t *w, const hc_rep_t *r, uint32_t i)
{
    static const hc_proto_obj_t none;
    hc_w_obj(w, r && i < r->nobjs ? &r->objs[i] : &none);
}

/* r NULL: the refused results (zeros; attributes unavailable). */
static void put_rep_field(hc_wbuf_t *w, const hc_req_t *q, const hc_rep_t *r,
                          const hc_field_def_t *f)
{
    static const hc_rep_t zero;
    const hc_rep_t *v = r ? r : &zero;
    switch (f->f) {
    case HC_R_FLAGS: hc_w_u8(w, v->flags); break;
    case HC_R_NUM0: hc_w_u64(w, v->num[0]); break;
    case HC_R_NUM1: hc_w_u64(w, v->num[1]); break;
    case HC_R_NUM2: hc_w_u64(w, v->num[2]); break;
    case HC_R_NAME: put_str(w, v->name, sizeof v->name); break;
    case HC_R_MODULE: put_str(w, v->module, sizeof v->module); break;
    case HC_R_DATA: put_limited(w, v->data, v->len, f->max); break;
    case HC_R_LIST:
        if (v->nlist > f->max)
            w->failed = true;
        hc_w_u32(w, v->nlist);
        for (uint32_t i = 0; i < v->nlist && !w->failed; i++)
            hc_w_u64(w, v->list[i]);
        break;
    case HC_R_OBJS:
        if (v->nobjs > f->max)
            w->failed = true;
        hc_w_u32(w, v->nobjs);
        for (uint32_t i = 0; i < v->nobjs && !w->failed; i++)
            hc_w_obj(w, &v->objs[i]);
        break;
    case HC_R_PAIR:
        put_obj_or_none(w, r, 0);
        put_obj_or_none(w, r, 1);
        break;
    case HC_R_NAMES:
        if (v->nnames > HC_PROTO_MAX_TOKENS)
            w->failed = true;
        hc_w_u32(w, v->nnames);
        for (uint32_t i = 0; i < v->nnames && !w->failed; i++)
            put_str(w, v->names[i], sizeof v->name);
        break;
    case HC_R_ATTRS:
        for (CK_ULONG i = 0; i < q->n && i < HC_PROTO_MAX_ATTRS; i++) {
            hc_w_u64(w, r ? v->attrs[i].len : UINT64_MAX);
            put_limited(w, v->attrs[i].val, v->attrs[i].vlen, HC_PROTO_MAX_VALUE);
        }
        break;
    default: w->failed = true;
    }
}

bool hc_rep_encode(hc_wbuf_t *w, const hc_req_t *q, CK_RV rv, const char *msg, const hc_rep_t *r)
{
    const hc_op_def_t *d = hc_op_def(q->op);
    hc_w_begin(w, q->op);
    hc_w_u64(w, rv);
    hc_w_str(w, rv == CKR_OK || !msg ? "" : msg);
    if (!d)
        w->failed = true;
    for (const hc_field_def_t *f = d ? d->rep : NULL; f && f->f != HC_F_END; f++)
        put_rep_field(w, q, r, f);
    return hc_w_finish(w);
}

static void *owned(hc_rep_t *r, size_t n)
{
    void *p = calloc(1, n ? n : 1);
    for (int i = 0; p && i < 2; i++)
        if (!r->owned[i]) {
            r->owned[i] = p;
            return p;
        }
    free(p);
    return NULL;
}

static void get_objs(hc_rbuf_t *rb, hc_rep_t *r, uint32_t n)
{
    hc_proto_obj_t *o = rb->bad ? NULL : owned(r, n * sizeof *o);
    if (!o) {
        rb->bad = true;
        return;
    }
    for (uint32_t i = 0; i < n && !rb->bad; i++)
        hc_r_obj(rb, &o[i]);
    r->objs = o;
    r->nobjs = n;
}

static void get_names(hc_rbuf_t *rb, hc_rep_t *r)
{
    uint32_t n = hc_r_u32(rb);
    if (n > HC_PROTO_MAX_TOKENS)
        rb->bad = true;
    /* n pointers, then n names of sizeof r->name each */
    char **p = rb->bad ? NULL : owned(r, n * (sizeof *p + sizeof r->name));
    if (!p) {
        rb->bad = true;
        return;
    }
    char *text = (char *)(p + n);
    for (uint32_t i = 0; i < n; i++) {
        p[i] = text + i * sizeof r->name;
        hc_r_str(rb, p[i], sizeof r->name);
    }
    r->names = (const char *const *)p;
    r->nnames = n;
}

static void get_rep_field(hc_rbuf_t *rb, const hc_req_t *q, hc_rep_t *r, const hc_field_def_t *f)
{
    uint32_t n;
    switch (f->f) {
    case HC_R_FLAGS: r->flags = hc_r_u8(rb); break;
    case HC_R_NUM0: r->num[0] = hc_r_u64(rb); break;
    case HC_R_NUM1: r->num[1] = hc_r_u64(rb); break;
    case HC_R_NUM2: r->num[2] = hc_r_u64(rb); break;
    case HC_R_NAME: hc_r_str(rb, r->name, sizeof r->name); break;
    case HC_R_MODULE: hc_r_str(rb, r->module, sizeof r->module); break;
    case HC_R_DATA: r->data = hc_r_bytes(rb, &r->len, f->max); break;
    case HC_R_LIST: {
        n = hc_r_u32(rb);
        CK_ULONG *l = rb->bad || n > f->max ? NULL : owned(r, n * sizeof *l);
        if (!l) {
            rb->bad = true;
            break;
        }
        for (uint32_t i = 0; i < n; i++)
            l[i] = (CK_ULONG)hc_r_u64(rb);
        r->list = l;
        r->nlist = n;
        break;
    }
    case HC_R_OBJS:
        n = hc_r_u32(rb);
        if (n > f->max)
            rb->bad = true;
        get_objs(rb, r, n);
        break;
    case HC_R_PAIR: get_objs(rb, r, 2); break;
    case HC_R_NAMES: get_names(rb, r); break;
    case HC_R_ATTRS:
        if (q->n > HC_PROTO_MAX_ATTRS)
            rb->bad = true;
        for (CK_ULONG i = 0; i < q->n && !rb->bad; i++) {
            r->attrs[i].len = hc_r_u64(rb);
            r->attrs[i].val = hc_r_bytes(rb, &r->attrs[i].vlen, HC_PROTO_MAX_VALUE);
        }
        break;
    default: rb->bad = true;
    }
}

bool hc_rep_decode(const unsigned char *body, size_t len, const hc_req_t *q, hc_rep_t *r)
{
    memset(r, 0, sizeof *r);
    const hc_op_def_t *d = hc_op_def(q->op);
    hc_rbuf_t rb;
    hc_r_init(&rb, body, len);
    if (!d || hc_r_u8(&rb) != HC_PROTO_VERSION || hc_r_u8(&rb) != q->op)
        return false;
    r->rv = (CK_RV)hc_r_u64(&rb);
    hc_r_str(&rb, r->msg, sizeof r->msg);
    for (const hc_field_def_t *f = d->rep; f->f != HC_F_END && !rb.bad; f++)
        get_rep_field(&rb, q, r, f);
    if (hc_r_done(&rb))
        return true;
    hc_rep_free(r);
    return false;
}

void hc_rep_free(hc_rep_t *r)
{
    for (int i = 0; i < 2; i++)
        free(r->owned[i]);
    if (r->body) {
        OPENSSL_cleanse(r->body, r->body_len); /* a decrypted secret */
        free(r->body);
    }
    memset(r, 0, sizeof *r);
}

/* ---- the whitelists, applied to a decoded request ---- */

_Static_assert(HC_PROTO_MAX_ATTRS <= 64, "hc_req_t.blocked holds one bit per attribute");

CK_RV hc_req_check(const hc_req_t *q, char *why, size_t whysize)
{
    const hc_op_def_t *d = hc_op_def(q->op);
    CK_RV rv = CKR_OK;
    if (d && has_field(d->req, HC_F_TMPL))
        rv = hc_template_check(q->tmpl, q->n, why, whysize);
    if (rv == CKR_OK && d && has_field(d->req, HC_F_TMPL2))
        rv = hc_template_check(q->tmpl2, q->n2, why, whysize);
    return rv;
}

static void vet(hc_req_t *q)
{
    const hc_op_def_t *d = hc_op_def(q->op);
    CK_RV rv = CKR_OK;
    if (has_field(d->req, HC_F_MECH))
        rv = hc_mech_check(&q->mech.m, (hc_param_kind_t)q->mech.kind, q->mech.raw_len, q->why,
                           sizeof q->why);
    if (rv == CKR_OK)
        rv = hc_req_check(q, q->why, sizeof q->why);
    if (has_field(d->req, HC_F_QUERY))
        for (CK_ULONG i = 0; i < q->n; i++)
            if (hc_attr_shape(q->tmpl[i].type) == HC_SHAPE_NONE)
                q->blocked |= 1ull << i;
    q->refuse = rv;
    if (rv == CKR_OK)
        q->why[0] = '\0';
}

bool hc_req_decode(const unsigned char *body, size_t len, hc_req_t *q)
{
    memset(q, 0, sizeof *q);
    hc_rbuf_t r;
    hc_r_init(&r, body, len);
    if (hc_r_u8(&r) != HC_PROTO_VERSION)
        return false;
    q->op = hc_r_u8(&r);
    const hc_op_def_t *d = hc_op_def(q->op);
    for (const hc_field_def_t *f = d ? d->req : NULL; f && f->f != HC_F_END && !r.bad; f++)
        get_field(&r, q, f);
    if (d && hc_r_done(&r)) {
        vet(q);
        return true;
    }
    hc_req_free(q);
    return false;
}
