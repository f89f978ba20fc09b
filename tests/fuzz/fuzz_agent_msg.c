/* fuzz_agent_msg.c: the op table's codecs (proto_ops.c, with the
 * whitelists of proto_check.c) on arbitrary bodies: as a request, the way
 * hsmcached decodes it, and as the reply to every operation, the way the
 * agent client decodes it. Nothing may read out of bounds, leak or crash.
 * A request the decoder accepts without a refusal must hold only listed
 * attributes of the right shape and a listed mechanism whose parameter
 * (if any) is the agent's own rebuilt struct; re-encoded with the
 * table's encoder it must decode again to the same fields, for every
 * operation, and its refused results must read back. A reply that
 * decodes points only into the input, and re-encoded decodes again to
 * the same results. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"
#include "proto/proto_check.h"

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

static bool same_template(const CK_ATTRIBUTE *a, const CK_ATTRIBUTE *b, CK_ULONG n)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (a[i].type != b[i].type || a[i].ulValueLen != b[i].ulValueLen ||
            (a[i].pValue && b[i].pValue && a[i].ulValueLen &&
             memcmp(a[i].pValue, b[i].pValue, a[i].ulValueLen)))
            return false;
    return true;
}

/* q written back with the table's encoder (the client's) must decode to
 * the same fields. */
static void reencode(const hc_req_t *q)
{
    if (q->refuse != CKR_OK)
        return; /* a refused request need not be one the client writes */
    hc_wbuf_t w = { 0 };
    check(hc_req_encode(&w, q)); /* what we read, we can write */
    hc_req_t a;
    check(hc_req_decode(w.p + 4, w.len - 4, &a)); /* what we write, we must read */
    check(a.op == q->op && a.refuse == CKR_OK && a.obj == q->obj && a.cap == q->cap);
    check(!strcmp(a.token, q->token) && !strcmp(a.text, q->text));
    check(a.len == q->len && a.len2 == q->len2 && a.flags == q->flags);
    check(a.expires == q->expires && a.want == q->want);
    check(!a.len || !memcmp(a.data, q->data, a.len));
    check(!a.len2 || !memcmp(a.data2, q->data2, a.len2));
    check(a.n == q->n && a.n2 == q->n2 && a.blocked == q->blocked);
    check(a.mech.m.mechanism == q->mech.m.mechanism && a.mech.kind == q->mech.kind);
    check(a.mech.m.ulParameterLen == q->mech.m.ulParameterLen);
    check(same_template(a.tmpl, q->tmpl, q->n) && same_template(a.tmpl2, q->tmpl2, q->n2));
    hc_req_free(&a);
    hc_w_free(&w);
}

/* The refused results of q's op, read back as the client reads them. */
static void empty_reply(const hc_req_t *q)
{
    hc_wbuf_t w = { 0 };
    check(hc_rep_encode(&w, q, q->refuse, q->why, NULL));
    hc_rep_t r;
    check(hc_rep_decode(w.p + 4, w.len - 4, q, &r));
    check(r.rv == q->refuse);
    hc_rep_free(&r);
    hc_w_free(&w);
}

/* The bytes as the reply to each op (GET_ATTRS asking for n attributes),
 * read as the client reads them; a reply that decodes, written back with
 * the agent's encoder, must decode to the same results. */
static void as_reply(const uint8_t *data, size_t size, unsigned op, CK_ULONG n)
{
    hc_req_t q = { .op = (uint8_t)op, .n = n };
    hc_rep_t r;
    if (!hc_rep_decode(data, size, &q, &r))
        return;
    for (uint32_t i = 0; i < r.nobjs; i++)
        check(r.objs[i].idlen <= 128 && r.objs[i].labellen <= 255 &&
              (!r.objs[i].idlen ||
               (r.objs[i].id >= data && r.objs[i].id + r.objs[i].idlen <= data + size)));
    check(!r.len || (r.data >= data && r.data + r.len <= data + size));
    hc_wbuf_t w = { 0 };
    check(hc_rep_encode(&w, &q, r.rv, r.msg, &r));
    hc_rep_t a;
    check(hc_rep_decode(w.p + 4, w.len - 4, &q, &a));
    check(a.rv == r.rv && (r.rv == CKR_OK || !strcmp(a.msg, r.msg)));
    check(a.flags == r.flags && !memcmp(a.num, r.num, sizeof a.num));
    check(!strcmp(a.name, r.name) && !strcmp(a.module, r.module));
    check(a.len == r.len && (!a.len || !memcmp(a.data, r.data, a.len)));
    check(a.nlist == r.nlist && a.nobjs == r.nobjs && a.nnames == r.nnames);
    for (uint32_t i = 0; i < a.nlist; i++)
        check(a.list[i] == r.list[i]);
    for (uint32_t i = 0; i < a.nobjs; i++)
        check(a.objs[i].ref == r.objs[i].ref && a.objs[i].labellen == r.objs[i].labellen);
    for (uint32_t i = 0; i < a.nnames; i++)
        check(!strcmp(a.names[i], r.names[i]));
    for (CK_ULONG i = 0; i < n; i++)
        check(a.attrs[i].len == r.attrs[i].len && a.attrs[i].vlen == r.attrs[i].vlen);
    hc_rep_free(&a);
    hc_rep_free(&r);
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
    /* The client's side: the same bytes as every op's reply. The
     * attribute count for GET_ATTRS comes from the input's last byte. */
    CK_ULONG n = size ? data[size - 1] % (HC_PROTO_MAX_ATTRS + 1) : 0;
    for (unsigned op = HC_OP_HELLO; op < HC_OP_COUNT; op++)
        as_reply(data, size, op, n);
    return 0;
}
