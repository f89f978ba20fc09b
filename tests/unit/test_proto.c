/* test_proto.c: the agent protocol (proto.h, proto_ops.c, proto_check.c).
 * Every operation's request, written as the agent client writes it,
 * decodes to the same fields; every operation's refused-request results
 * read back to the end of the reply; the table names every op. Templates
 * with a pointer-carrying attribute (CKA_WRAP_TEMPLATE), a value of the
 * wrong shape, and mechanisms whose parameter comes as raw bytes or with
 * fields outside the list decode (the request is well formed) but carry
 * the refusal code, and a raw parameter is never handed on. OAEP, PSS and
 * EdDSA parameters are rebuilt field by field, pointing into the body.
 * Mechanisms by name for `[client] mechanisms =`, and the default set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "proto/proto.h"
#include "proto/proto_check.h"

#define CKM_EDDSA_ 0x1057UL

static const CK_BBOOL yes = CK_TRUE;
static const CK_ULONG cls = CKO_PRIVATE_KEY;

/* Finishes w and decodes its body into q; returns the decoder's verdict. */
static bool decode(hc_wbuf_t *w, hc_req_t *q)
{
    assert_true(hc_w_finish(w));
    return hc_req_decode(w->p + 4, w->len - 4, q);
}

/* Whether op's request or reply has field f (the table, read here the
 * way the codecs read it). */
static bool op_has(const hc_field_def_t *list, hc_field_t f)
{
    for (; list->f != HC_F_END; list++)
        if (list->f == f)
            return true;
    return false;
}

static void same_template(const CK_ATTRIBUTE *a, const CK_ATTRIBUTE *b, CK_ULONG n)
{
    for (CK_ULONG i = 0; i < n; i++) {
        assert_int_equal(a[i].type, b[i].type);
        assert_int_equal(a[i].ulValueLen, b[i].ulValueLen);
        if (b[i].pValue && a[i].ulValueLen)
            assert_memory_equal(a[i].pValue, b[i].pValue, a[i].ulValueLen);
    }
}

/* Every op's request, filled as the agent client fills one and written by
 * the one encoder, decodes to the same fields; the fields the op does not
 * carry decode to zero. */
static void every_op_round_trips(void **state)
{
    (void)state;
    hc_wbuf_t w = { 0 };
    unsigned char pin[] = "123456", sig[64] = { 9 };
    CK_ATTRIBUTE t[] = { { CKA_CLASS, (void *)&cls, sizeof cls },
                         { CKA_LABEL, "k1", 2 },
                         { CKA_SIGN, (void *)&yes, 1 } };
    CK_ATTRIBUTE query[] = { { CKA_LABEL, NULL, 64 },
                             { CKA_ID, NULL, CK_UNAVAILABLE_INFORMATION } };
    for (unsigned op = HC_OP_HELLO; op < HC_OP_COUNT; op++) {
        const hc_op_def_t *d = hc_op_def(op);
        assert_non_null(d);
        assert_string_not_equal(hc_op_name(op), "?");
        hc_req_t in = { .op = (uint8_t)op,
                        .obj = 42,
                        .data = pin,
                        .len = 6,
                        .data2 = sig,
                        .len2 = 64,
                        .flags = 1,
                        .expires = 1234,
                        .want = true,
                        .cap = 100,
                        .tmpl2 = t,
                        .n2 = 3 };
        strcpy(in.text, "{\"x\":1}");
        strcpy(in.token, "dns");
        in.mech.m = (CK_MECHANISM){ CKM_ECDSA, NULL, 0 };
        in.tmpl = op_has(d->req, HC_F_QUERY) ? query : t;
        in.n = op_has(d->req, HC_F_QUERY) ? 2 : 3;
        assert_true(hc_req_encode(&w, &in));
        hc_req_t q;
        assert_true(hc_req_decode(w.p + 4, w.len - 4, &q));
        assert_int_equal(q.op, op);
        assert_int_equal(q.refuse, CKR_OK);
        const hc_field_def_t *f = d->req;
        assert_string_equal(q.text, op_has(f, HC_F_TEXT) ? in.text : "");
        assert_string_equal(q.token, op_has(f, HC_F_TOKEN) ? in.token : "");
        assert_int_equal(q.obj, op_has(f, HC_F_OBJ) ? 42 : 0);
        assert_int_equal(q.mech.m.mechanism, op_has(f, HC_F_MECH) ? CKM_ECDSA : 0);
        assert_int_equal(q.len, op_has(f, HC_F_DATA) ? 6 : 0);
        if (q.len)
            assert_memory_equal(q.data, pin, 6);
        assert_int_equal(q.len2, op_has(f, HC_F_DATA2) ? 64 : 0);
        if (q.len2)
            assert_memory_equal(q.data2, sig, 64);
        assert_int_equal(q.flags, op_has(f, HC_F_FLAGS) ? 1 : 0);
        assert_int_equal(q.expires, op_has(f, HC_F_EXPIRES) ? 1234 : 0);
        assert_int_equal(q.want, op_has(f, HC_F_WANT));
        assert_int_equal(q.cap, op_has(f, HC_F_CAP) ? 100 : 0);
        bool tmpl = op_has(f, HC_F_TMPL) || op_has(f, HC_F_QUERY);
        assert_int_equal(q.n, tmpl ? in.n : 0);
        if (tmpl)
            same_template(q.tmpl, in.tmpl, in.n);
        assert_int_equal(q.n2, op_has(f, HC_F_TMPL2) ? 3 : 0);
        if (q.n2)
            same_template(q.tmpl2, t, 3);
        if (op == HC_OP_CRYPT)
            assert_int_equal(hc_req_perm(&q), HC_PERM_ENCRYPT);
        hc_req_free(&q);
    }
    /* What the decoder would refuse, the encoder does not write. */
    hc_req_t big = { .op = HC_OP_MECHANISMS, .cap = 4097 };
    assert_false(hc_req_encode(&w, &big));
    hc_req_t longtok = { .op = HC_OP_TOKEN_STATUS };
    memset(longtok.token, 'a', sizeof longtok.token - 1);
    assert_true(hc_req_encode(&w, &longtok));
    hc_w_free(&w);
}

/* Every op's reply, filled as the agent fills one, decodes to the same
 * fields as the client reads them; a refused request's reply (no
 * results) decodes to zeros, attributes unavailable. */
static void every_reply_round_trips(void **state)
{
    (void)state;
    static const CK_ULONG mechs[3] = { CKM_ECDSA, CKM_RSA_PKCS, CKM_SHA256_RSA_PKCS };
    static const char *const names[2] = { "dns", "ssh" };
    unsigned char info[sizeof(CK_TOKEN_INFO)];
    memset(info, 'i', sizeof info);
    hc_proto_obj_t objs[2] = {
        { 7, CKO_PUBLIC_KEY, (const unsigned char *)"\1", 1, (const unsigned char *)"k1", 2 },
        { 8, CKO_PRIVATE_KEY, (const unsigned char *)"\1", 1, (const unsigned char *)"k1", 2 }
    };
    hc_wbuf_t w = { 0 };
    for (unsigned op = HC_OP_HELLO; op < HC_OP_COUNT; op++) {
        const hc_op_def_t *d = hc_op_def(op);
        hc_req_t q = { .op = (uint8_t)op, .n = 2 };
        hc_rep_t out;
        memset(&out, 0, sizeof out);
        out.flags = 5, out.num[0] = 11, out.num[1] = 12, out.num[2] = 13;
        strcpy(out.name, "name"), strcpy(out.module, "module");
        out.data = info, out.len = sizeof info;
        out.list = mechs, out.nlist = 3;
        out.objs = objs, out.nobjs = 2;
        out.names = names, out.nnames = 2;
        out.attrs[0] = (hc_rep_attr_t){ 2, (const unsigned char *)"k1", 2 };
        out.attrs[1] = (hc_rep_attr_t){ UINT64_MAX, NULL, 0 };
        assert_true(hc_rep_encode(&w, &q, CKR_BUFFER_TOO_SMALL, "too small", &out));
        hc_rep_t r;
        assert_true(hc_rep_decode(w.p + 4, w.len - 4, &q, &r));
        assert_int_equal(r.rv, CKR_BUFFER_TOO_SMALL);
        assert_string_equal(r.msg, "too small");
        const hc_field_def_t *f = d->rep;
        assert_int_equal(r.flags, op_has(f, HC_R_FLAGS) ? 5 : 0);
        assert_int_equal(r.num[0], op_has(f, HC_R_NUM0) ? 11 : 0);
        assert_int_equal(r.num[2], op_has(f, HC_R_NUM2) ? 13 : 0);
        assert_string_equal(r.name, op_has(f, HC_R_NAME) ? "name" : "");
        assert_string_equal(r.module, op_has(f, HC_R_MODULE) ? "module" : "");
        assert_int_equal(r.len, op_has(f, HC_R_DATA) ? sizeof info : 0);
        if (r.len)
            assert_memory_equal(r.data, info, sizeof info);
        assert_int_equal(r.nlist, op_has(f, HC_R_LIST) ? 3 : 0);
        for (uint32_t i = 0; i < r.nlist; i++)
            assert_int_equal(r.list[i], mechs[i]);
        assert_int_equal(r.nobjs, op_has(f, HC_R_OBJS) || op_has(f, HC_R_PAIR) ? 2 : 0);
        for (uint32_t i = 0; i < r.nobjs; i++) {
            assert_int_equal(r.objs[i].ref, objs[i].ref);
            assert_int_equal(r.objs[i].cls, objs[i].cls);
            assert_memory_equal(r.objs[i].label, "k1", 2);
        }
        assert_int_equal(r.nnames, op_has(f, HC_R_NAMES) ? 2 : 0);
        for (uint32_t i = 0; i < r.nnames; i++)
            assert_string_equal(r.names[i], names[i]);
        bool attrs = op_has(f, HC_R_ATTRS);
        assert_int_equal(r.attrs[0].len, attrs ? 2 : 0);
        assert_int_equal(r.attrs[1].len, attrs ? UINT64_MAX : 0);
        if (attrs)
            assert_memory_equal(r.attrs[0].val, "k1", 2);
        hc_rep_free(&r);

        /* Refused: no results, read back to the end. */
        assert_true(hc_rep_encode(&w, &q, CKR_ATTRIBUTE_TYPE_INVALID, "refused", NULL));
        assert_true(hc_rep_decode(w.p + 4, w.len - 4, &q, &r));
        assert_int_equal(r.rv, CKR_ATTRIBUTE_TYPE_INVALID);
        assert_int_equal(r.num[0], 0);
        assert_int_equal(r.len, 0);
        assert_int_equal(r.nobjs, op_has(f, HC_R_PAIR) ? 2 : 0);
        if (op_has(f, HC_R_PAIR))
            assert_int_equal(r.objs[1].ref, 0);
        if (attrs)
            assert_int_equal(r.attrs[1].len, UINT64_MAX);
        hc_rep_free(&r);
        /* The reply to another op does not decode as this op's. */
        hc_req_t other = { .op = (uint8_t)(op == HC_OP_HELLO ? HC_OP_AUDIT : HC_OP_HELLO) };
        assert_false(hc_rep_decode(w.p + 4, w.len - 4, &other, &r));
    }
    /* Results above their limits are not written. */
    hc_rep_t big;
    memset(&big, 0, sizeof big);
    big.nlist = 4097;
    big.list = calloc(4097, sizeof *big.list);
    hc_req_t q = { .op = HC_OP_MECHANISMS };
    assert_false(hc_rep_encode(&w, &q, CKR_OK, "", &big));
    free((void *)big.list);
    hc_w_free(&w);
}

/* A FIND request with one attribute; returns the decoded refusal code. */
static CK_RV find_with(CK_ATTRIBUTE_TYPE type, const void *v, size_t n, char *why)
{
    hc_wbuf_t w = { 0 };
    hc_w_begin(&w, HC_OP_FIND);
    hc_w_str(&w, "dns");
    hc_w_u32(&w, 1);
    hc_w_u64(&w, type);
    hc_w_bytes(&w, v, n);
    hc_req_t q;
    assert_true(decode(&w, &q)); /* well formed: refused, not malformed */
    CK_RV rv = q.refuse;
    if (why)
        strcpy(why, q.why);
    hc_req_free(&q);
    hc_w_free(&w);
    return rv;
}

static void attributes_only_by_the_list(void **state)
{
    (void)state;
    /* CKA_WRAP_TEMPLATE: an array of CK_ATTRIBUTE with garbage pointers. */
    CK_ATTRIBUTE garbage[2] = { { CKA_LABEL, (void *)0x4141414141414141ull, 16 },
                                { CKA_ID, (void *)0x4242424242424242ull, 16 } };
    char why[200];
    assert_int_equal(find_with(CKA_WRAP_TEMPLATE, garbage, sizeof garbage, why),
                     CKR_ATTRIBUTE_TYPE_INVALID);
    assert_non_null(strstr(why, "CKA_WRAP_TEMPLATE"));
    assert_int_equal(find_with(CKA_UNWRAP_TEMPLATE, garbage, sizeof garbage, NULL),
                     CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(find_with(CKA_DERIVE_TEMPLATE, garbage, sizeof garbage, NULL),
                     CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(find_with(CKA_VENDOR_DEFINED | 1, "x", 1, NULL), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(find_with(0x7777, "x", 1, NULL), CKR_ATTRIBUTE_TYPE_INVALID);
    /* Shapes. */
    CK_ULONG ul = 3, two[2] = { CKM_ECDSA, CKM_RSA_PKCS };
    unsigned char b2 = 2;
    assert_int_equal(find_with(CKA_SIGN, &yes, 1, NULL), CKR_OK);
    assert_int_equal(find_with(CKA_SIGN, &b2, 1, NULL), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(find_with(CKA_SIGN, &ul, sizeof ul, NULL), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(find_with(CKA_SIGN, NULL, 0, NULL), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(find_with(CKA_CLASS, &ul, sizeof ul, NULL), CKR_OK);
    assert_int_equal(find_with(CKA_CLASS, &ul, 4, NULL), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(find_with(CKA_LABEL, "", 0, NULL), CKR_OK);
    assert_int_equal(find_with(CKA_START_DATE, "20261127", 8, NULL), CKR_OK);
    assert_int_equal(find_with(CKA_START_DATE, "", 0, NULL), CKR_OK);
    assert_int_equal(find_with(CKA_START_DATE, "2026112x", 8, NULL), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(find_with(CKA_END_DATE, "2026", 4, NULL), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(find_with(CKA_ALLOWED_MECHANISMS, two, sizeof two, NULL), CKR_OK);
    assert_int_equal(find_with(CKA_ALLOWED_MECHANISMS, two, 7, NULL), CKR_ATTRIBUTE_VALUE_INVALID);
    /* The client refuses to write what the agent would refuse. */
    hc_wbuf_t w = { 0 };
    CK_ATTRIBUTE t = { CKA_WRAP_TEMPLATE, garbage, sizeof garbage };
    hc_w_begin(&w, HC_OP_FIND);
    assert_false(hc_w_template(&w, &t, 1));
    hc_w_free(&w);
    assert_int_equal(hc_template_check(&t, 1, NULL, 0), CKR_ATTRIBUTE_TYPE_INVALID);
}

static void generate_templates_checked(void **state)
{
    (void)state;
    CK_ATTRIBUTE bad = { CKA_WRAP_TEMPLATE, "0123456789abcdef01234567", 24 };
    CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    for (int half = 0; half < 2; half++) {
        hc_wbuf_t w = { 0 };
        hc_w_begin(&w, HC_OP_GENERATE);
        hc_w_str(&w, "dns");
        hc_w_mech(&w, &gen);
        for (int i = 0; i < 2; i++) {
            hc_w_u32(&w, 1);
            hc_w_u64(&w, i == half ? bad.type : CKA_LABEL);
            hc_w_bytes(&w, bad.pValue, bad.ulValueLen);
        }
        hc_req_t q;
        assert_true(decode(&w, &q));
        assert_int_equal(q.refuse, CKR_ATTRIBUTE_TYPE_INVALID);
        hc_req_free(&q);
        hc_w_free(&w);
    }
}

static void get_attrs_blocks_unlisted_types(void **state)
{
    (void)state;
    hc_wbuf_t w = { 0 };
    hc_w_begin(&w, HC_OP_GET_ATTRS);
    hc_w_u64(&w, 42);
    hc_w_u32(&w, 3);
    CK_ATTRIBUTE_TYPE types[3] = { CKA_LABEL, CKA_UNWRAP_TEMPLATE, CKA_ALLOWED_MECHANISMS };
    for (int i = 0; i < 3; i++)
        hc_w_u64(&w, types[i]), hc_w_u8(&w, 1), hc_w_u64(&w, 48);
    hc_req_t q;
    assert_true(decode(&w, &q));
    assert_int_equal(q.refuse, CKR_OK);
    assert_int_equal(q.blocked, 2); /* the second only */
    hc_req_free(&q);
    hc_w_free(&w);
}

/* A SIGN request with mechanism m written by hc_w_mech; q is decoded. */
static void sign_with(const CK_MECHANISM *m, hc_req_t *q, hc_wbuf_t *w)
{
    hc_w_begin(w, HC_OP_SIGN);
    hc_w_u64(w, 42);
    hc_w_mech(w, m);
    hc_w_bytes(w, "data", 4);
    hc_w_u8(w, 0), hc_w_u64(w, 0), hc_w_u8(w, 1), hc_w_u64(w, 512);
    assert_true(decode(w, q));
}

static void parameters_rebuilt_field_by_field(void **state)
{
    (void)state;
    hc_wbuf_t w = { 0 };
    hc_req_t q;
    CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
    CK_MECHANISM m = { CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss };
    sign_with(&m, &q, &w);
    assert_int_equal(q.refuse, CKR_OK);
    assert_int_equal(q.mech.kind, HC_PARAM_PSS);
    assert_ptr_equal(q.mech.m.pParameter, &q.mech.param.pss);
    assert_int_equal(q.mech.m.ulParameterLen, sizeof pss);
    assert_memory_equal(&q.mech.param.pss, &pss, sizeof pss);
    hc_req_free(&q);
    pss.hashAlg = CKM_MD5; /* outside the list */
    sign_with(&m, &q, &w);
    assert_int_equal(q.refuse, CKR_MECHANISM_PARAM_INVALID);
    hc_req_free(&q);
    pss.hashAlg = CKM_SHA256, pss.sLen = 5000;
    sign_with(&m, &q, &w);
    assert_int_equal(q.refuse, CKR_MECHANISM_PARAM_INVALID);
    hc_req_free(&q);
    CK_MECHANISM nopss = { CKM_RSA_PKCS_PSS, NULL, 0 };
    sign_with(&nopss, &q, &w);
    assert_int_equal(q.refuse, CKR_MECHANISM_PARAM_INVALID);
    hc_req_free(&q);

    unsigned char label[] = "label";
    CK_RSA_PKCS_OAEP_PARAMS oaep = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, label, 5 };
    CK_MECHANISM mo = { CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep };
    sign_with(&mo, &q, &w);
    assert_int_equal(q.refuse, CKR_OK);
    assert_int_equal(q.mech.kind, HC_PARAM_OAEP);
    const CK_RSA_PKCS_OAEP_PARAMS *o = q.mech.m.pParameter;
    assert_ptr_equal(o, &q.mech.param.oaep);
    assert_int_equal(o->ulSourceDataLen, 5);
    /* The label points into the body, not at the client's address. */
    assert_true((unsigned char *)o->pSourceData > w.p &&
                (unsigned char *)o->pSourceData < w.p + w.len);
    assert_memory_equal(o->pSourceData, "label", 5);
    hc_req_free(&q);

    hc_eddsa_params_t ed = { CK_FALSE, 3, (CK_BYTE_PTR) "ctx" };
    CK_MECHANISM me = { CKM_EDDSA_, &ed, sizeof ed };
    sign_with(&me, &q, &w);
    assert_int_equal(q.refuse, CKR_OK);
    assert_int_equal(q.mech.param.eddsa.ulContextDataLen, 3);
    hc_req_free(&q);
    CK_MECHANISM me0 = { CKM_EDDSA_, NULL, 0 };
    sign_with(&me0, &q, &w);
    assert_int_equal(q.refuse, CKR_OK);
    hc_req_free(&q);
    hc_w_free(&w);
}

static void raw_parameters_never_pass(void **state)
{
    (void)state;
    hc_wbuf_t w = { 0 };
    hc_req_t q;
    /* OAEP as raw bytes (the struct with a garbage pointer): the size does
     * not match what hc_w_mech writes field by field. */
    unsigned char raw[48];
    memset(raw, 0x41, sizeof raw);
    struct {
        CK_MECHANISM_TYPE t;
        const void *p;
        size_t n;
        CK_RV want;
    } cases[] = {
        { CKM_RSA_PKCS_OAEP, raw, sizeof raw, CKR_MECHANISM_PARAM_INVALID },
        { CKM_SHA256_RSA_PKCS_PSS, raw, 16, CKR_MECHANISM_PARAM_INVALID },
        { CKM_ECDSA, raw, 8, CKR_MECHANISM_PARAM_INVALID },
        { CKM_RSA_PKCS, raw, 1, CKR_MECHANISM_PARAM_INVALID },
        { CKM_AES_GCM, raw, 40, CKR_MECHANISM_PARAM_INVALID },
        { CKM_AES_GCM, NULL, 0, CKR_MECHANISM_INVALID },
        { CKM_ECDSA_SHA256, NULL, 0, CKR_OK },
        { CKM_RSA_X_509, NULL, 0, CKR_OK },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CK_MECHANISM m = { cases[i].t, (void *)cases[i].p, cases[i].n };
        sign_with(&m, &q, &w);
        assert_int_equal(q.refuse, cases[i].want);
        assert_null(q.mech.m.pParameter);
        assert_int_equal(q.mech.m.ulParameterLen, 0);
        hc_req_free(&q);
    }
    /* A kind the wire does not define is malformed. */
    hc_w_begin(&w, HC_OP_SIGN);
    hc_w_u64(&w, 42), hc_w_u64(&w, CKM_ECDSA), hc_w_u8(&w, 9);
    assert_false(decode(&w, &q));
    hc_w_free(&w);
}

static void malformed_and_old_versions_refused(void **state)
{
    (void)state;
    hc_req_t q;
    unsigned char v1[] = { 1, HC_OP_CACHE_PURGE };
    assert_false(hc_req_decode(v1, sizeof v1, &q));
    unsigned char ok[] = { HC_PROTO_VERSION, HC_OP_CACHE_PURGE };
    assert_true(hc_req_decode(ok, sizeof ok, &q));
    hc_req_free(&q);
    unsigned char unknown[] = { HC_PROTO_VERSION, HC_OP_COUNT };
    assert_false(hc_req_decode(unknown, sizeof unknown, &q));
    unsigned char trailing[] = { HC_PROTO_VERSION, HC_OP_CACHE_PURGE, 0 };
    assert_false(hc_req_decode(trailing, sizeof trailing, &q));
    /* 65 attributes: above HC_PROTO_MAX_ATTRS. */
    hc_wbuf_t w = { 0 };
    hc_w_begin(&w, HC_OP_FIND);
    hc_w_str(&w, "dns");
    hc_w_u32(&w, HC_PROTO_MAX_ATTRS + 1);
    for (int i = 0; i <= HC_PROTO_MAX_ATTRS; i++)
        hc_w_u64(&w, CKA_LABEL), hc_w_bytes(&w, "x", 1);
    assert_false(decode(&w, &q));
    hc_w_free(&w);
}

static void mechanism_names(void **state)
{
    (void)state;
    CK_MECHANISM_TYPE t = 0;
    assert_true(hc_mech_by_name("CKM_RSA_PKCS_OAEP", &t));
    assert_int_equal(t, CKM_RSA_PKCS_OAEP);
    assert_true(hc_mech_by_name("rsa-pkcs-pss", &t));
    assert_int_equal(t, CKM_RSA_PKCS_PSS);
    assert_true(hc_mech_by_name("ckm_ecdsa", &t));
    assert_int_equal(t, CKM_ECDSA);
    assert_false(hc_mech_by_name("CKM_AES_GCM", &t));
    assert_false(hc_mech_by_name("", &t));
    assert_string_equal(hc_mech_name(CKM_RSA_X_509), "CKM_RSA_X_509");
    assert_null(hc_mech_name(CKM_AES_GCM));
    /* Default: signature mechanisms, but not raw RSA nor OAEP. */
    assert_true(hc_mech_default_sign(CKM_ECDSA));
    assert_true(hc_mech_default_sign(CKM_SHA256_RSA_PKCS_PSS));
    assert_true(hc_mech_default_sign(CKM_EDDSA_));
    assert_false(hc_mech_default_sign(CKM_RSA_X_509));
    assert_false(hc_mech_default_sign(CKM_RSA_PKCS_OAEP));
    assert_false(hc_mech_default_sign(CKM_EC_KEY_PAIR_GEN));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_op_round_trips),
        cmocka_unit_test(every_reply_round_trips),
        cmocka_unit_test(attributes_only_by_the_list),
        cmocka_unit_test(generate_templates_checked),
        cmocka_unit_test(get_attrs_blocks_unlisted_types),
        cmocka_unit_test(parameters_rebuilt_field_by_field),
        cmocka_unit_test(raw_parameters_never_pass),
        cmocka_unit_test(malformed_and_old_versions_refused),
        cmocka_unit_test(mechanism_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
