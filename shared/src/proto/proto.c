/*
 * proto.c: encoding and bounds-checked decoding of agent messages. See
 * proto.h for the format.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"
#include "proto/proto_check.h"

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

void hc_w_mech(hc_wbuf_t *w, const CK_MECHANISM *m)
{
    hc_w_u64(w, m->mechanism);
    const void *p = m->pParameter;
    size_t n = p ? m->ulParameterLen : 0;
    if (m->mechanism == CKM_RSA_PKCS_OAEP && n == sizeof(CK_RSA_PKCS_OAEP_PARAMS)) {
        const CK_RSA_PKCS_OAEP_PARAMS *o = p;
        hc_w_u8(w, HC_PARAM_OAEP);
        hc_w_u64(w, o->hashAlg);
        hc_w_u64(w, o->mgf);
        hc_w_u64(w, o->source);
        hc_w_bytes(w, o->pSourceData, o->pSourceData ? o->ulSourceDataLen : 0);
    } else if (n == sizeof(CK_RSA_PKCS_PSS_PARAMS) &&
               (m->mechanism == CKM_RSA_PKCS_PSS || m->mechanism == CKM_SHA1_RSA_PKCS_PSS ||
                m->mechanism == CKM_SHA224_RSA_PKCS_PSS ||
                m->mechanism == CKM_SHA256_RSA_PKCS_PSS ||
                m->mechanism == CKM_SHA384_RSA_PKCS_PSS ||
                m->mechanism == CKM_SHA512_RSA_PKCS_PSS)) {
        const CK_RSA_PKCS_PSS_PARAMS *s = p;
        hc_w_u8(w, HC_PARAM_PSS);
        hc_w_u64(w, s->hashAlg);
        hc_w_u64(w, s->mgf);
        hc_w_u64(w, s->sLen);
    } else if (m->mechanism == CKM_EDDSA && n == sizeof(hc_eddsa_params_t)) {
        const hc_eddsa_params_t *e = p;
        hc_w_u8(w, HC_PARAM_EDDSA);
        hc_w_u8(w, e->phFlag);
        hc_w_bytes(w, e->pContextData, e->pContextData ? e->ulContextDataLen : 0);
    } else {
        /* No parameter, or one the agent refuses: sent so that the agent
         * answers with its code (never passed to the module). */
        if (n > HC_PROTO_MAX_PARAM)
            w->failed = true;
        hc_w_u8(w, HC_PARAM_NONE);
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
        if (hc_attr_shape(t[i].type) == HC_SHAPE_NONE || t[i].ulValueLen > HC_PROTO_MAX_VALUE) {
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
    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
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
    m->kind = hc_r_u8(r);
    switch (m->kind) {
    case HC_PARAM_OAEP:
        m->param.oaep.hashAlg = hc_r_u64(r);
        m->param.oaep.mgf = hc_r_u64(r);
        m->param.oaep.source = hc_r_u64(r);
        p = hc_r_bytes(r, &n, HC_PROTO_MAX_PARAM);
        m->param.oaep.pSourceData = n ? (void *)p : NULL;
        m->param.oaep.ulSourceDataLen = n;
        m->m.pParameter = &m->param.oaep;
        m->m.ulParameterLen = sizeof m->param.oaep;
        break;
    case HC_PARAM_PSS:
        m->param.pss.hashAlg = hc_r_u64(r);
        m->param.pss.mgf = hc_r_u64(r);
        m->param.pss.sLen = hc_r_u64(r);
        m->m.pParameter = &m->param.pss;
        m->m.ulParameterLen = sizeof m->param.pss;
        break;
    case HC_PARAM_EDDSA:
        m->param.eddsa.phFlag = hc_r_u8(r) != 0;
        p = hc_r_bytes(r, &n, 255);
        m->param.eddsa.pContextData = n ? (void *)p : NULL;
        m->param.eddsa.ulContextDataLen = n;
        m->m.pParameter = &m->param.eddsa;
        m->m.ulParameterLen = sizeof m->param.eddsa;
        break;
    case HC_PARAM_NONE:
        /* Plain bytes are never handed on: a struct's pointers would be
         * the client's. Only their length is kept, for the refusal. */
        hc_r_bytes(r, &n, HC_PROTO_MAX_PARAM);
        m->raw_len = n;
        break;
    default: r->bad = true;
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

void hc_req_free(hc_req_t *q)
{
    free((void *)q->tmpl); /* the decoder's own arrays */
    free((void *)q->tmpl2);
    q->tmpl = q->tmpl2 = NULL;
    q->n = q->n2 = 0;
}
