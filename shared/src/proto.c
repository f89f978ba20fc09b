/*
 * proto.c: encoding and bounds-checked decoding of agent messages. See
 * proto.h for the format.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* ---- writing ---- */

static void reserve(hc_wbuf_t *w, size_t n)
{
    if (w->failed)
        return;
    if (n > HC_PROTO_MAX_BODY + 4 || w->len > HC_PROTO_MAX_BODY + 4 - n) {
        w->failed = true;
        return;
    }
    if (w->len + n <= w->cap)
        return;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n)
        cap *= 2;
    unsigned char *p = malloc(cap);
    if (!p) {
        w->failed = true;
        return;
    }
    /* Not realloc: the old buffer may hold a PIN and is wiped first. */
    if (w->len)
        memcpy(p, w->p, w->len);
    if (w->p) {
        OPENSSL_cleanse(w->p, w->cap);
        free(w->p);
    }
    w->p = p;
    w->cap = cap;
}

static void put(hc_wbuf_t *w, const void *src, size_t n)
{
    reserve(w, n);
    if (!w->failed && n) {
        memcpy(w->p + w->len, src, n);
        w->len += n;
    }
}

void hc_w_u8(hc_wbuf_t *w, uint8_t v)
{
    put(w, &v, 1);
}

void hc_w_u32(hc_wbuf_t *w, uint32_t v)
{
    unsigned char b[4] = { v >> 24, v >> 16, v >> 8, v };
    put(w, b, 4);
}

void hc_w_u64(hc_wbuf_t *w, uint64_t v)
{
    hc_w_u32(w, (uint32_t)(v >> 32));
    hc_w_u32(w, (uint32_t)v);
}

void hc_w_bytes(hc_wbuf_t *w, const void *p, size_t n)
{
    if (n > HC_PROTO_MAX_BODY) {
        w->failed = true;
        return;
    }
    hc_w_u32(w, (uint32_t)n);
    put(w, p, n);
}

void hc_w_str(hc_wbuf_t *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    hc_w_bytes(w, s, n > HC_PROTO_MAX_STR - 1 ? HC_PROTO_MAX_STR - 1 : n);
}

void hc_w_begin(hc_wbuf_t *w, uint8_t op)
{
    w->len = 0;
    w->failed = false;
    hc_w_u32(w, 0);
    hc_w_u8(w, HC_PROTO_VERSION);
    hc_w_u8(w, op);
}

bool hc_w_finish(hc_wbuf_t *w)
{
    if (w->failed || w->len < 4 || w->len - 4 > HC_PROTO_MAX_BODY)
        return false;
    uint32_t n = (uint32_t)(w->len - 4);
    w->p[0] = n >> 24, w->p[1] = n >> 16, w->p[2] = n >> 8, w->p[3] = n;
    return true;
}

void hc_w_free(hc_wbuf_t *w)
{
    if (w->p) {
        OPENSSL_cleanse(w->p, w->cap);
        free(w->p);
    }
    memset(w, 0, sizeof *w);
}

/* Parameter kinds on the wire. */
enum { PARAM_BYTES = 0, PARAM_OAEP = 1, PARAM_EDDSA = 2 };

void hc_w_mech(hc_wbuf_t *w, const CK_MECHANISM *m)
{
    hc_w_u64(w, m->mechanism);
    const void *p = m->pParameter;
    size_t n = p ? m->ulParameterLen : 0;
    if (m->mechanism == CKM_RSA_PKCS_OAEP && n == sizeof(CK_RSA_PKCS_OAEP_PARAMS)) {
        const CK_RSA_PKCS_OAEP_PARAMS *o = p;
        hc_w_u8(w, PARAM_OAEP);
        hc_w_u64(w, o->hashAlg);
        hc_w_u64(w, o->mgf);
        hc_w_u64(w, o->source);
        hc_w_bytes(w, o->pSourceData, o->pSourceData ? o->ulSourceDataLen : 0);
    } else if (m->mechanism == CKM_EDDSA && n == sizeof(hc_eddsa_params_t)) {
        const hc_eddsa_params_t *e = p;
        hc_w_u8(w, PARAM_EDDSA);
        hc_w_u8(w, e->phFlag);
        hc_w_bytes(w, e->pContextData, e->pContextData ? e->ulContextDataLen : 0);
    } else {
        if (n > HC_PROTO_MAX_PARAM)
            w->failed = true;
        hc_w_u8(w, PARAM_BYTES);
        hc_w_bytes(w, p, n);
    }
}

bool hc_w_template(hc_wbuf_t *w, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    if (n > HC_PROTO_MAX_ATTRS) {
        w->failed = true;
        return false;
    }
    hc_w_u32(w, (uint32_t)n);
    for (CK_ULONG i = 0; i < n; i++) {
        if ((t[i].type & CKF_ARRAY_ATTRIBUTE) || t[i].ulValueLen > HC_PROTO_MAX_VALUE) {
            w->failed = true;
            return false;
        }
        hc_w_u64(w, t[i].type);
        hc_w_bytes(w, t[i].pValue, t[i].pValue ? t[i].ulValueLen : 0);
    }
    return !w->failed;
}

void hc_w_obj(hc_wbuf_t *w, const hc_proto_obj_t *o)
{
    hc_w_u64(w, o->ref);
    hc_w_u64(w, o->cls);
    hc_w_bytes(w, o->id, o->idlen);
    hc_w_bytes(w, o->label, o->labellen);
}

/* ---- reading ---- */

void hc_r_init(hc_rbuf_t *r, const unsigned char *body, size_t len)
{
    r->p = body;
    r->len = len;
    r->off = 0;
    r->bad = false;
}

static const unsigned char *take(hc_rbuf_t *r, size_t n)
{
    if (r->bad || n > r->len - r->off) {
        r->bad = true;
        return NULL;
    }
    const unsigned char *p = r->p + r->off;
    r->off += n;
    return p;
}

uint8_t hc_r_u8(hc_rbuf_t *r)
{
    const unsigned char *p = take(r, 1);
    return p ? p[0] : 0;
}

uint32_t hc_r_u32(hc_rbuf_t *r)
{
    const unsigned char *p = take(r, 4);
    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                   (uint32_t)p[2] << 8 | p[3] : 0;
}

uint64_t hc_r_u64(hc_rbuf_t *r)
{
    uint64_t hi = hc_r_u32(r);
    return hi << 32 | hc_r_u32(r);
}

const unsigned char *hc_r_bytes(hc_rbuf_t *r, size_t *n, size_t max)
{
    uint32_t len = hc_r_u32(r);
    if (len > max)
        r->bad = true;
    const unsigned char *p = r->bad ? NULL : take(r, len);
    *n = p ? len : 0;
    return p;
}

void hc_r_str(hc_rbuf_t *r, char *out, size_t size)
{
    size_t n;
    const unsigned char *p = hc_r_bytes(r, &n, size - 1);
    if (p && memchr(p, '\0', n))
        r->bad = true;
    if (!p || r->bad)
        n = 0;
    memcpy(out, p ? (const char *)p : "", n);
    out[n] = '\0';
}

void hc_r_obj(hc_rbuf_t *r, hc_proto_obj_t *o)
{
    o->ref = hc_r_u64(r);
    o->cls = hc_r_u64(r);
    o->id = hc_r_bytes(r, &o->idlen, 128);
    o->label = hc_r_bytes(r, &o->labellen, 255);
}

bool hc_r_done(const hc_rbuf_t *r)
{
    return !r->bad && r->off == r->len;
}

void hc_r_mech(hc_rbuf_t *r, hc_proto_mech_t *m)
{
    memset(m, 0, sizeof *m);
    m->m.mechanism = hc_r_u64(r);
    size_t n;
    const unsigned char *p;
    switch (hc_r_u8(r)) {
    case PARAM_OAEP:
        m->param.oaep.hashAlg = hc_r_u64(r);
        m->param.oaep.mgf = hc_r_u64(r);
        m->param.oaep.source = hc_r_u64(r);
        p = hc_r_bytes(r, &n, HC_PROTO_MAX_PARAM);
        m->param.oaep.pSourceData = n ? (void *)p : NULL;
        m->param.oaep.ulSourceDataLen = n;
        m->m.pParameter = &m->param.oaep;
        m->m.ulParameterLen = sizeof m->param.oaep;
        break;
    case PARAM_EDDSA:
        m->param.eddsa.phFlag = hc_r_u8(r) != 0;
        p = hc_r_bytes(r, &n, 255);
        m->param.eddsa.pContextData = n ? (void *)p : NULL;
        m->param.eddsa.ulContextDataLen = n;
        m->m.pParameter = &m->param.eddsa;
        m->m.ulParameterLen = sizeof m->param.eddsa;
        break;
    case PARAM_BYTES:
        p = hc_r_bytes(r, &n, HC_PROTO_MAX_PARAM);
        m->m.pParameter = n ? (void *)p : NULL;
        m->m.ulParameterLen = n;
        break;
    default:
        r->bad = true;
    }
}

void hc_r_template(hc_rbuf_t *r, CK_ATTRIBUTE **out, CK_ULONG *n)
{
    *out = NULL;
    *n = 0;
    uint32_t count = hc_r_u32(r);
    if (r->bad || count == 0)
        return;
    if (count > HC_PROTO_MAX_ATTRS || !(*out = calloc(count, sizeof **out))) {
        r->bad = true;
        return;
    }
    for (uint32_t i = 0; i < count && !r->bad; i++) {
        size_t len;
        (*out)[i].type = hc_r_u64(r);
        (*out)[i].pValue = (void *)hc_r_bytes(r, &len, HC_PROTO_MAX_VALUE);
        (*out)[i].ulValueLen = len;
    }
    *n = count;
}

/* GET_ATTRS: u32 n, n x (u64 type, u8 want, u64 cap); cap is kept in
 * ulValueLen, CK_UNAVAILABLE_INFORMATION when no buffer was given. */
static void read_attr_query(hc_rbuf_t *r, hc_req_t *q)
{
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

bool hc_req_decode(const unsigned char *body, size_t len, hc_req_t *q)
{
    memset(q, 0, sizeof *q);
    hc_rbuf_t r;
    hc_r_init(&r, body, len);
    if (hc_r_u8(&r) != HC_PROTO_VERSION)
        return false;
    q->op = hc_r_u8(&r);
    switch (q->op) {
    case HC_OP_HELLO:
    case HC_OP_AUDIT:
        hc_r_str(&r, q->text, sizeof q->text);
        break;
    case HC_OP_TOKEN_STATUS:
    case HC_OP_LOGIN_CHECK:
        hc_r_str(&r, q->token, sizeof q->token);
        break;
    case HC_OP_MECHANISMS:
        hc_r_str(&r, q->token, sizeof q->token);
        q->want = hc_r_u8(&r) != 0;
        q->cap = hc_r_u64(&r);
        if (q->cap > 4096)
            r.bad = true;
        break;
    case HC_OP_MECH_INFO:
        hc_r_str(&r, q->token, sizeof q->token);
        q->cap = hc_r_u64(&r);
        break;
    case HC_OP_LOGIN_WITH:
        hc_r_str(&r, q->token, sizeof q->token);
        q->data = hc_r_bytes(&r, &q->len, 256);
        break;
    case HC_OP_FIND:
        hc_r_str(&r, q->token, sizeof q->token);
        hc_r_template(&r, &q->tmpl, &q->n);
        break;
    case HC_OP_GET_ATTRS:
        q->obj = hc_r_u64(&r);
        read_attr_query(&r, q);
        break;
    case HC_OP_PUBLIC_KEY:
    case HC_OP_SIG_LEN:
    case HC_OP_DESTROY:
        q->obj = hc_r_u64(&r);
        break;
    case HC_OP_SIGN:
        q->obj = hc_r_u64(&r);
        hc_r_mech(&r, &q->mech);
        q->data = hc_r_bytes(&r, &q->len, HC_PROTO_MAX_BODY);
        q->flags = hc_r_u8(&r);
        q->expires = (int64_t)hc_r_u64(&r);
        q->want = hc_r_u8(&r) != 0;
        q->cap = hc_r_u64(&r);
        if (q->cap > HC_PROTO_MAX_VALUE)
            r.bad = true;
        break;
    case HC_OP_CACHE_PURGE:
        break;
    case HC_OP_VERIFY:
        q->obj = hc_r_u64(&r);
        hc_r_mech(&r, &q->mech);
        q->data = hc_r_bytes(&r, &q->len, HC_PROTO_MAX_BODY);
        q->data2 = hc_r_bytes(&r, &q->len2, HC_PROTO_MAX_VALUE);
        break;
    case HC_OP_CRYPT:
        q->flags = hc_r_u8(&r);
        q->obj = hc_r_u64(&r);
        hc_r_mech(&r, &q->mech);
        q->data = hc_r_bytes(&r, &q->len, HC_PROTO_MAX_VALUE);
        q->want = hc_r_u8(&r) != 0;
        q->cap = hc_r_u64(&r);
        if (q->cap > HC_PROTO_MAX_VALUE)
            r.bad = true;
        break;
    case HC_OP_GENERATE:
        hc_r_str(&r, q->token, sizeof q->token);
        hc_r_mech(&r, &q->mech);
        hc_r_template(&r, &q->tmpl, &q->n);
        hc_r_template(&r, &q->tmpl2, &q->n2);
        break;
    case HC_OP_RANDOM:
        hc_r_str(&r, q->token, sizeof q->token);
        q->cap = hc_r_u64(&r);
        if (q->cap > HC_PROTO_MAX_VALUE)
            r.bad = true;
        break;
    case HC_OP_STATS:
        q->flags = hc_r_u8(&r);
        break;
    default:
        r.bad = true;
    }
    if (hc_r_done(&r))
        return true;
    hc_req_free(q);
    return false;
}

void hc_req_free(hc_req_t *q)
{
    free(q->tmpl);
    free(q->tmpl2);
    q->tmpl = q->tmpl2 = NULL;
    q->n = q->n2 = 0;
}

const char *hc_op_name(unsigned op)
{
    static const char *const names[HC_OP_COUNT] = {
        [HC_OP_HELLO] = "hello", [HC_OP_TOKEN_STATUS] = "token-status",
        [HC_OP_MECHANISMS] = "mechanisms", [HC_OP_MECH_INFO] = "mechanism-info",
        [HC_OP_LOGIN_WITH] = "login", [HC_OP_LOGIN_CHECK] = "login-check",
        [HC_OP_FIND] = "find", [HC_OP_GET_ATTRS] = "get-attributes",
        [HC_OP_PUBLIC_KEY] = "public-key", [HC_OP_SIG_LEN] = "signature-length",
        [HC_OP_SIGN] = "sign", [HC_OP_CACHE_PURGE] = "cache-purge",
        [HC_OP_VERIFY] = "verify", [HC_OP_CRYPT] = "encrypt/decrypt",
        [HC_OP_GENERATE] = "generate", [HC_OP_DESTROY] = "destroy",
        [HC_OP_RANDOM] = "random", [HC_OP_STATS] = "stats", [HC_OP_AUDIT] = "audit",
    };
    return op < HC_OP_COUNT && names[op] ? names[op] : "?";
}
