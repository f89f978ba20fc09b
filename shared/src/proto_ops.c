/*
 * proto_ops.c: the agent's operation table: each op's name, permission,
 * scope, request decoder and refused-request results, and the decoder
 * that applies the attribute and mechanism whitelists (proto_check.h)
 * before anything reaches the server. See proto.h for the format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "proto.h"
#include "proto_check.h"

/* ---- decoders: one per op's arguments ---- */

static void dec_text(hc_rbuf_t *r, hc_req_t *q)
{
    hc_r_str(r, q->text, sizeof q->text);
}

static void dec_token(hc_rbuf_t *r, hc_req_t *q)
{
    hc_r_str(r, q->token, sizeof q->token);
}

static void dec_mechs(hc_rbuf_t *r, hc_req_t *q)
{
    hc_r_str(r, q->token, sizeof q->token);
    q->want = hc_r_u8(r) != 0;
    q->cap = hc_r_u64(r);
    if (q->cap > 4096)
        r->bad = true;
}

static void dec_mech_info(hc_rbuf_t *r, hc_req_t *q)
{
    hc_r_str(r, q->token, sizeof q->token);
    q->cap = hc_r_u64(r);
}

static void dec_login(hc_rbuf_t *r, hc_req_t *q)
{
    hc_r_str(r, q->token, sizeof q->token);
    q->data = hc_r_bytes(r, &q->len, 256);
}

static void dec_find(hc_rbuf_t *r, hc_req_t *q)
{
    hc_r_str(r, q->token, sizeof q->token);
    hc_r_template(r, &q->tmpl, &q->n);
}

/* GET_ATTRS: u32 n, n x (u64 type, u8 want, u64 cap); cap is kept in
 * ulValueLen, CK_UNAVAILABLE_INFORMATION when no buffer was given. */
static void dec_attrs(hc_rbuf_t *r, hc_req_t *q)
{
    q->obj = hc_r_u64(r);
    uint32_t count = hc_r_u32(r);
    if (r->bad || count == 0)
        return;
    if (count > HC_PROTO_MAX_ATTRS || !(q->tmpl = calloc(count, sizeof *q->tmpl))) {
        r->bad = true;
        return;
    }
    q->n = count;
    for (uint32_t i = 0; i < count; i++) {
        q->tmpl[i].type = hc_r_u64(r);
        bool want = hc_r_u8(r) != 0;
        uint64_t cap = hc_r_u64(r);
        if (cap > HC_PROTO_MAX_VALUE)
            r->bad = true;
        q->tmpl[i].ulValueLen = want ? (CK_ULONG)cap : CK_UNAVAILABLE_INFORMATION;
    }
}

static void dec_obj(hc_rbuf_t *r, hc_req_t *q)
{
    q->obj = hc_r_u64(r);
}

static void dec_sign(hc_rbuf_t *r, hc_req_t *q)
{
    q->obj = hc_r_u64(r);
    hc_r_mech(r, &q->mech);
    q->data = hc_r_bytes(r, &q->len, HC_PROTO_MAX_BODY);
    q->flags = hc_r_u8(r);
    q->expires = (int64_t)hc_r_u64(r);
    q->want = hc_r_u8(r) != 0;
    q->cap = hc_r_u64(r);
    if (q->cap > HC_PROTO_MAX_VALUE)
        r->bad = true;
}

static void dec_none(hc_rbuf_t *r, hc_req_t *q)
{
    (void)r, (void)q;
}

static void dec_verify(hc_rbuf_t *r, hc_req_t *q)
{
    q->obj = hc_r_u64(r);
    hc_r_mech(r, &q->mech);
    q->data = hc_r_bytes(r, &q->len, HC_PROTO_MAX_BODY);
    q->data2 = hc_r_bytes(r, &q->len2, HC_PROTO_MAX_VALUE);
}

static void dec_crypt(hc_rbuf_t *r, hc_req_t *q)
{
    q->flags = hc_r_u8(r);
    q->obj = hc_r_u64(r);
    hc_r_mech(r, &q->mech);
    q->data = hc_r_bytes(r, &q->len, HC_PROTO_MAX_VALUE);
    q->want = hc_r_u8(r) != 0;
    q->cap = hc_r_u64(r);
    if (q->cap > HC_PROTO_MAX_VALUE)
        r->bad = true;
}

static void dec_generate(hc_rbuf_t *r, hc_req_t *q)
{
    hc_r_str(r, q->token, sizeof q->token);
    hc_r_mech(r, &q->mech);
    hc_r_template(r, &q->tmpl, &q->n);
    hc_r_template(r, &q->tmpl2, &q->n2);
}

static void dec_random(hc_rbuf_t *r, hc_req_t *q)
{
    hc_r_str(r, q->token, sizeof q->token);
    q->cap = hc_r_u64(r);
    if (q->cap > HC_PROTO_MAX_VALUE)
        r->bad = true;
}

static void dec_stats(hc_rbuf_t *r, hc_req_t *q)
{
    q->flags = hc_r_u8(r);
}

/* ---- the results of a refused request ---- */

static void emp_none(hc_wbuf_t *w, const hc_req_t *q)
{
    (void)w, (void)q;
}

static void emp_hello(hc_wbuf_t *w, const hc_req_t *q)
{
    (void)q;
    hc_w_u64(w, 0);
    hc_w_u8(w, 0);
    hc_w_u32(w, 0);
    hc_w_str(w, "");
}

static void emp_status(hc_wbuf_t *w, const hc_req_t *q)
{
    (void)q;
    hc_w_str(w, "");
    hc_w_str(w, "");
    hc_w_u8(w, 0);
    hc_w_bytes(w, NULL, 0);
}

static void emp_mechs(hc_wbuf_t *w, const hc_req_t *q)
{
    (void)q;
    hc_w_u64(w, 0);
    hc_w_u32(w, 0);
}

static void emp_u64x3(hc_wbuf_t *w, const hc_req_t *q)
{
    (void)q;
    hc_w_u64(w, 0);
    hc_w_u64(w, 0);
    hc_w_u64(w, 0);
}

static void emp_u32(hc_wbuf_t *w, const hc_req_t *q)
{
    (void)q;
    hc_w_u32(w, 0);
}

static void emp_attrs(hc_wbuf_t *w, const hc_req_t *q)
{
    for (CK_ULONG i = 0; i < q->n; i++) {
        hc_w_u64(w, UINT64_MAX);
        hc_w_bytes(w, NULL, 0);
    }
}

static void emp_bytes(hc_wbuf_t *w, const hc_req_t *q)
{
    (void)q;
    hc_w_bytes(w, NULL, 0);
}

static void emp_u64(hc_wbuf_t *w, const hc_req_t *q)
{
    (void)q;
    hc_w_u64(w, 0);
}

static void emp_sign(hc_wbuf_t *w, const hc_req_t *q)
{
    (void)q;
    hc_w_u8(w, 0);
    hc_w_u64(w, 0);
    hc_w_bytes(w, NULL, 0);
}

static void emp_out(hc_wbuf_t *w, const hc_req_t *q)
{
    (void)q;
    hc_w_u64(w, 0);
    hc_w_bytes(w, NULL, 0);
}

static void emp_generate(hc_wbuf_t *w, const hc_req_t *q)
{
    (void)q;
    hc_proto_obj_t none = { 0 };
    hc_w_obj(w, &none);
    hc_w_obj(w, &none);
}

static const hc_op_def_t ops[HC_OP_COUNT] = {
    [HC_OP_HELLO] = { "hello", 0, HC_SCOPE_NONE, dec_text, emp_hello },
    [HC_OP_TOKEN_STATUS] = { "token-status", 0, HC_SCOPE_TOKEN, dec_token, emp_status },
    [HC_OP_MECHANISMS] = { "mechanisms", 0, HC_SCOPE_TOKEN, dec_mechs, emp_mechs },
    [HC_OP_MECH_INFO] = { "mechanism-info", 0, HC_SCOPE_TOKEN, dec_mech_info, emp_u64x3 },
    [HC_OP_LOGIN_WITH] = { "login", HC_OPS_LOGIN, HC_SCOPE_TOKEN, dec_login, emp_none },
    [HC_OP_LOGIN_CHECK] = { "login-check", 0, HC_SCOPE_TOKEN, dec_token, emp_none },
    [HC_OP_FIND] = { "find", 0, HC_SCOPE_TOKEN, dec_find, emp_u32 },
    [HC_OP_GET_ATTRS] = { "get-attributes", 0, HC_SCOPE_OBJ, dec_attrs, emp_attrs },
    [HC_OP_PUBLIC_KEY] = { "public-key", 0, HC_SCOPE_OBJ, dec_obj, emp_bytes },
    [HC_OP_SIG_LEN] = { "signature-length", 0, HC_SCOPE_OBJ, dec_obj, emp_u64 },
    [HC_OP_SIGN] = { "sign", HC_OPS_SIGN, HC_SCOPE_OBJ, dec_sign, emp_sign },
    [HC_OP_CACHE_PURGE] = { "cache-purge", HC_OPS_SIGN, HC_SCOPE_NONE, dec_none, emp_u64 },
    [HC_OP_VERIFY] = { "verify", 0, HC_SCOPE_OBJ, dec_verify, emp_none },
    [HC_OP_CRYPT] = { "encrypt/decrypt", HC_OPS_ENCRYPT | HC_OPS_DECRYPT, HC_SCOPE_OBJ,
                      dec_crypt, emp_out },
    [HC_OP_GENERATE] = { "generate", HC_OPS_GENERATE, HC_SCOPE_TOKEN, dec_generate,
                         emp_generate },
    [HC_OP_DESTROY] = { "destroy", HC_OPS_DESTROY, HC_SCOPE_OBJ, dec_obj, emp_none },
    [HC_OP_RANDOM] = { "random", HC_OPS_RANDOM, HC_SCOPE_TOKEN, dec_random, emp_out },
    [HC_OP_STATS] = { "stats", 0, HC_SCOPE_NONE, dec_stats, emp_bytes },
    [HC_OP_AUDIT] = { "audit", 0, HC_SCOPE_NONE, dec_text, emp_none },
};

const hc_op_def_t *hc_op_def(unsigned op)
{
    return op < HC_OP_COUNT && ops[op].decode ? &ops[op] : NULL;
}

const char *hc_op_name(unsigned op)
{
    const hc_op_def_t *d = hc_op_def(op);
    return d ? d->name : "?";
}

unsigned hc_op_perm(const hc_req_t *q)
{
    if (q->op == HC_OP_CRYPT)
        return q->flags ? HC_OPS_ENCRYPT : HC_OPS_DECRYPT;
    const hc_op_def_t *d = hc_op_def(q->op);
    return d ? d->perm : 0;
}

void hc_op_empty_reply(hc_wbuf_t *w, const hc_req_t *q)
{
    const hc_op_def_t *d = hc_op_def(q->op);
    if (d)
        d->empty(w, q);
}

/* ---- the whitelists, applied to a decoded request ---- */

_Static_assert(HC_PROTO_MAX_ATTRS <= 64, "hc_req_t.blocked holds one bit per attribute");

static bool has_mech(uint8_t op)
{
    return op == HC_OP_SIGN || op == HC_OP_VERIFY || op == HC_OP_CRYPT ||
           op == HC_OP_GENERATE;
}

static void vet(hc_req_t *q)
{
    CK_RV rv = CKR_OK;
    if (has_mech(q->op))
        rv = hc_mech_check(&q->mech.m, (hc_param_kind_t)q->mech.kind, q->mech.raw_len,
                           q->why, sizeof q->why);
    if (rv == CKR_OK && (q->op == HC_OP_FIND || q->op == HC_OP_GENERATE))
        rv = hc_template_check(q->tmpl, q->n, q->why, sizeof q->why);
    if (rv == CKR_OK && q->op == HC_OP_GENERATE)
        rv = hc_template_check(q->tmpl2, q->n2, q->why, sizeof q->why);
    if (q->op == HC_OP_GET_ATTRS)
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
    if (d)
        d->decode(&r, q);
    if (d && hc_r_done(&r)) {
        vet(q);
        return true;
    }
    hc_req_free(q);
    return false;
}
