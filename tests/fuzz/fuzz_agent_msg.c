/* fuzz_agent_msg.c: hsmcached's request decoder (proto.c) on arbitrary
 * bodies, and the same bytes read as reply fields the way the agent
 * client reads them. Nothing may read out of bounds, leak or crash; a
 * body that decodes must re-encode to a frame the decoder accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Re-encodes the parts of a decoded request that round-trip. */
static void reencode(const hc_req_t *q)
{
    hc_wbuf_t w = { 0 };
    hc_w_begin(&w, q->op);
    if (q->op == HC_OP_FIND) {
        hc_w_str(&w, q->token);
        hc_w_template(&w, q->tmpl, q->n);
    } else if (q->op == HC_OP_SIGN || q->op == HC_OP_VERIFY) {
        hc_w_u64(&w, q->obj);
        hc_w_mech(&w, &q->mech.m);
    } else {
        hc_w_free(&w);
        return;
    }
    if (q->op == HC_OP_FIND && hc_w_finish(&w)) {
        hc_req_t again;
        if (!hc_req_decode(w.p + 4, w.len - 4, &again))
            abort(); /* what we write, we must read */
        if (again.n != q->n)
            abort();
        hc_req_free(&again);
    }
    hc_w_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hc_req_t q;
    if (hc_req_decode(data, size, &q)) {
        reencode(&q);
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
    (void)hc_r_done(&r);
    return 0;
}
