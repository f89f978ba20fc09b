/* fuzz_agent_msg.c: hsmcached's request decoder (proto_ops.c, with the
 * whitelists of proto_check.c) on arbitrary bodies, and the same bytes
 * read as reply fields the way the agent client reads them. Nothing may
 * read out of bounds, leak or crash. A request the decoder accepts
 * without a refusal must hold only listed attributes of the right shape
 * and a listed mechanism whose parameter (if any) is the agent's own
 * rebuilt struct; re-encoded with the client's writers it must decode
 * again to the same fields, for every operation. Every op's refused
 * results must read back to the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "proto_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

/* What an accepted, unrefused request may hold. */
static void invariants(const hc_req_t *q)
{
    check(hc_op_def(q->op) != NULL);
    if (q->refuse != CKR_OK)
        return;
    if (q->op == HC_OP_FIND || q->op == HC_OP_GENERATE)
        check(hc_template_check(q->tmpl, q->n, NULL, 0) == CKR_OK);
    if (q->op == HC_OP_GENERATE)
        check(hc_template_check(q->tmpl2, q->n2, NULL, 0) == CKR_OK);
    const void *p = q->mech.m.pParameter;
    check(!p || p == (const void *)&q->mech.param);
    check(q->mech.raw_len == 0);
    for (CK_ULONG i = 0; q->op == HC_OP_GET_ATTRS && i < q->n; i++)
        check(!(q->blocked >> i & 1) == (hc_attr_shape(q->tmpl[i].type) != HC_SHAPE_NONE));
}

static void write_query(hc_wbuf_t *w, const hc_req_t *q)
{
    hc_w_u64(w, q->obj);
    hc_w_u32(w, (uint32_t)q->n);
    for (CK_ULONG i = 0; i < q->n; i++) {
        bool want = q->tmpl[i].ulValueLen != CK_UNAVAILABLE_INFORMATION;
        hc_w_u64(w, q->tmpl[i].type);
        hc_w_u8(w, want);
        hc_w_u64(w, want ? q->tmpl[i].ulValueLen : 0);
    }
}

/* Writes q's arguments back as the client would. */
static void reencode_args(hc_wbuf_t *w, const hc_req_t *q)
{
    switch (q->op) {
    case HC_OP_HELLO: case HC_OP_AUDIT:
        hc_w_str(w, q->text);
        break;
    case HC_OP_TOKEN_STATUS: case HC_OP_LOGIN_CHECK:
        hc_w_str(w, q->token);
        break;
    case HC_OP_MECHANISMS:
        hc_w_str(w, q->token), hc_w_u8(w, q->want), hc_w_u64(w, q->cap);
        break;
    case HC_OP_MECH_INFO: case HC_OP_RANDOM:
        hc_w_str(w, q->token), hc_w_u64(w, q->cap);
        break;
    case HC_OP_LOGIN_WITH:
        hc_w_str(w, q->token), hc_w_bytes(w, q->data, q->len);
        break;
    case HC_OP_FIND:
        hc_w_str(w, q->token);
        check(hc_w_template(w, q->tmpl, q->n));
        break;
    case HC_OP_GET_ATTRS:
        write_query(w, q);
        break;
    case HC_OP_PUBLIC_KEY: case HC_OP_SIG_LEN: case HC_OP_DESTROY:
        hc_w_u64(w, q->obj);
        break;
    case HC_OP_SIGN:
        hc_w_u64(w, q->obj), hc_w_mech(w, &q->mech.m), hc_w_bytes(w, q->data, q->len);
        hc_w_u8(w, q->flags), hc_w_u64(w, (uint64_t)q->expires), hc_w_u8(w, q->want);
        hc_w_u64(w, q->cap);
        break;
    case HC_OP_VERIFY:
        hc_w_u64(w, q->obj), hc_w_mech(w, &q->mech.m), hc_w_bytes(w, q->data, q->len);
        hc_w_bytes(w, q->data2, q->len2);
        break;
    case HC_OP_CRYPT:
        hc_w_u8(w, q->flags), hc_w_u64(w, q->obj), hc_w_mech(w, &q->mech.m);
        hc_w_bytes(w, q->data, q->len), hc_w_u8(w, q->want), hc_w_u64(w, q->cap);
        break;
    case HC_OP_GENERATE:
        hc_w_str(w, q->token), hc_w_mech(w, &q->mech.m);
        check(hc_w_template(w, q->tmpl, q->n));
        check(hc_w_template(w, q->tmpl2, q->n2));
        break;
    case HC_OP_STATS:
        hc_w_u8(w, q->flags);
        break;
    default: /* cache-purge: no arguments */
        break;
    }
}

static bool same_template(const CK_ATTRIBUTE *a, const CK_ATTRIBUTE *b, CK_ULONG n)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (a[i].type != b[i].type || a[i].ulValueLen != b[i].ulValueLen ||
            (a[i].ulValueLen && memcmp(a[i].pValue, b[i].pValue, a[i].ulValueLen)))
            return false;
    return true;
}

static void reencode(const hc_req_t *q)
{
    if (q->refuse != CKR_OK)
        return; /* a refused request need not be one the client writes */
    hc_wbuf_t w = { 0 };
    hc_w_begin(&w, q->op);
    reencode_args(&w, q);
    check(hc_w_finish(&w)); /* what we read, we can write */
    hc_req_t a;
    check(hc_req_decode(w.p + 4, w.len - 4, &a)); /* what we write, we must read */
    check(a.op == q->op && a.refuse == CKR_OK && a.obj == q->obj && a.cap == q->cap);
    check(!strcmp(a.token, q->token) && !strcmp(a.text, q->text));
    check(a.len == q->len && a.len2 == q->len2 && a.flags == q->flags);
    check(a.n == q->n && a.n2 == q->n2 && a.blocked == q->blocked);
    check(a.mech.m.mechanism == q->mech.m.mechanism && a.mech.kind == q->mech.kind);
    check(a.mech.m.ulParameterLen == q->mech.m.ulParameterLen);
    if (q->op == HC_OP_FIND || q->op == HC_OP_GENERATE)
        check(same_template(a.tmpl, q->tmpl, q->n));
    if (q->op == HC_OP_GENERATE)
        check(same_template(a.tmpl2, q->tmpl2, q->n2));
    hc_req_free(&a);
    hc_w_free(&w);
}

/* The refused results of q's op, read back as the client reads them. */
static void empty_reply(const hc_req_t *q)
{
    hc_wbuf_t w = { 0 };
    hc_w_begin(&w, q->op);
    hc_w_u64(&w, q->refuse);
    hc_w_str(&w, q->why);
    hc_op_empty_reply(&w, q);
    check(hc_w_finish(&w));
    hc_w_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hc_req_t q;
    if (hc_req_decode(data, size, &q)) {
        invariants(&q);
        reencode(&q);
        empty_reply(&q);
        hc_req_free(&q);
    }
    /* The client's side: a reply header, then objects. */
    hc_rbuf_t r;
    hc_r_init(&r, data, size);
    char msg[512];
    hc_r_u8(&r);
    hc_r_u8(&r);
    hc_r_u64(&r);
    hc_r_str(&r, msg, sizeof msg);
    for (int i = 0; i < 4 && !r.bad; i++) {
        hc_proto_obj_t o;
        hc_r_obj(&r, &o);
        if (!r.bad && (o.idlen > 128 || o.labellen > 255 ||
                       (o.idlen && o.id + o.idlen > data + size)))
            abort();
    }
    hc_proto_mech_t m;
    hc_r_mech(&r, &m);
    check(m.m.pParameter == NULL || m.m.pParameter == (void *)&m.param);
    (void)hc_r_done(&r);
    return 0;
}
