/* test_p11call.c: the checked PKCS#11 layer (p11call.h) against a
 * hand-built hostile module: a CK_FUNCTION_LIST whose functions answer what
 * each test tells them (no packaged module lies on demand). Each lie is
 * answered with HC_P11_FAULT (CKR_DEVICE_ERROR), its outputs cleared, one
 * error line naming the token, the module and the function, and no byte
 * written past a buffer (every buffer is followed by a canary). Ordinary
 * failures keep the module's CKR_ value (the pool's recovery needs it) and
 * are logged with the function and CKR_ name. The caller that used to
 * trust C_GetAttributeValue (keyindex.c) is driven through the same lies.
 * module.c's load-time check of a function list is checked here too, on
 * the list alone and by loading real modules with a bad one (badlist.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libgen.h>
#include <limits.h>

#include "core/core.h"
#include "core/p11call.h"

/* ---- the hostile module: each function answers from `mock` ---- */

#define MAX_ANSWERS 8
static struct {
    CK_RV rv;                             /* every function's return value */
    CK_ULONG len;                         /* the output length or count it reports */
    CK_ULONG write;                       /* bytes or entries it really writes (within
                                  the caller's buffer, so the test's own
                                  memory stays sound) */
    CK_OBJECT_HANDLE handle[MAX_ANSWERS]; /* handles it hands out */
    struct {                              /* C_GetAttributeValue, per attribute */
        CK_ULONG len;                     /* reported */
        unsigned char fill;               /* written, min(given, len) bytes */
    } attr[MAX_ANSWERS];
    unsigned calls;
} mock;

static CK_RV m_sign(CK_SESSION_HANDLE s, CK_BYTE *d, CK_ULONG n, CK_BYTE *sig, CK_ULONG *len)
{
    (void)s, (void)d, (void)n;
    mock.calls++;
    if (sig)
        memset(sig, 0x5a, mock.write < *len ? mock.write : *len);
    *len = mock.len;
    return mock.rv;
}

static CK_RV m_crypt(CK_SESSION_HANDLE s, CK_BYTE *in, CK_ULONG n, CK_BYTE *out, CK_ULONG *len)
{
    return m_sign(s, in, n, out, len);
}

static CK_RV m_get_attrs(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *t, CK_ULONG n)
{
    (void)s, (void)h;
    mock.calls++;
    for (CK_ULONG i = 0; i < n && i < MAX_ANSWERS; i++) {
        CK_ULONG len = mock.attr[i].len;
        if (t[i].pValue && len != CK_UNAVAILABLE_INFORMATION)
            memset(t[i].pValue, mock.attr[i].fill, len < t[i].ulValueLen ? len : t[i].ulValueLen);
        t[i].ulValueLen = len;
    }
    return mock.rv;
}

static CK_RV m_find(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *h, CK_ULONG max, CK_ULONG *got)
{
    (void)s;
    mock.calls++;
    for (CK_ULONG i = 0; i < mock.write && i < max && i < MAX_ANSWERS; i++)
        h[i] = mock.handle[i];
    *got = mock.len;
    return mock.rv;
}

static CK_RV m_list(CK_ULONG *out, CK_ULONG *n)
{
    mock.calls++;
    for (CK_ULONG i = 0; out && i < mock.write && i < *n; i++)
        out[i] = i + 1;
    *n = mock.len;
    return mock.rv;
}

static CK_RV m_slots(CK_BBOOL present, CK_SLOT_ID *slots, CK_ULONG *n)
{
    (void)present;
    return m_list(slots, n);
}

static CK_RV m_mechs(CK_SLOT_ID slot, CK_MECHANISM_TYPE *list, CK_ULONG *n)
{
    (void)slot;
    return m_list(list, n);
}

static CK_RV m_open(CK_SLOT_ID slot, CK_FLAGS f, void *app, CK_NOTIFY notify, CK_SESSION_HANDLE *s)
{
    (void)slot, (void)f, (void)app, (void)notify;
    mock.calls++;
    *s = mock.handle[0];
    return mock.rv;
}

static CK_RV m_keygen(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_ATTRIBUTE *p, CK_ULONG np,
                      CK_ATTRIBUTE *q, CK_ULONG nq, CK_OBJECT_HANDLE *hp, CK_OBJECT_HANDLE *hq)
{
    (void)s, (void)m, (void)p, (void)np, (void)q, (void)nq;
    mock.calls++;
    *hp = mock.handle[0];
    *hq = mock.handle[1];
    return mock.rv;
}

static CK_RV m_info(CK_INFO *info)
{
    mock.calls++;
    memset(info, 0, sizeof *info);
    info->cryptokiVersion.major = 2;
    info->cryptokiVersion.minor = 40;
    return mock.rv;
}

static CK_FUNCTION_LIST hostile;

static const hc_logger_t logger = { "test", HC_LOG_DEBUG };
static uint64_t errors; /* P's HSM error counter */
static const hc_p11_t P = { &hostile, "tok", "/opt/hostile.so", &logger, &errors, NULL };

static int setup(void **state)
{
    (void)state;
    memset(&mock, 0, sizeof mock);
    memset(&hostile, 0, sizeof hostile);
    hostile.version.major = 2;
    hostile.version.minor = 40;
    hostile.C_Sign = m_sign;
    hostile.C_Encrypt = m_crypt;
    hostile.C_Decrypt = m_crypt;
    hostile.C_GetAttributeValue = m_get_attrs;
    hostile.C_FindObjects = m_find;
    hostile.C_GetSlotList = m_slots;
    hostile.C_GetMechanismList = m_mechs;
    hostile.C_OpenSession = m_open;
    hostile.C_GenerateKeyPair = m_keygen;
    hostile.C_GetInfo = m_info;
    return 0;
}

/* ---- the log: stderr captured around one call ---- */

static int saved_fd = -1;
static FILE *captured;

static void capture(void)
{
    fflush(stderr);
    captured = tmpfile();
    assert_non_null(captured);
    saved_fd = dup(2);
    assert_true(saved_fd >= 0);
    assert_true(dup2(fileno(captured), 2) >= 0);
}

/* What was logged since capture(); the number of lines in *lines. */
static char *logged(int *lines)
{
    static char text[4096];
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    rewind(captured);
    size_t n = fread(text, 1, sizeof text - 1, captured);
    text[n] = '\0';
    fclose(captured);
    *lines = 0;
    for (size_t i = 0; i < n; i++)
        *lines += text[i] == '\n';
    return text;
}

/* One error line naming the token, the module and `what`; the same text
 * in err. */
static void one_fault_logged(const hc_err_t *err, const char *what)
{
    int lines;
    const char *log = logged(&lines);
    if (lines != 1 || !strstr(log, "test: error: token tok: module /opt/hostile.so: ") ||
        !strstr(log, what))
        fail_msg("want one error line naming the token, the module and '%s'; "
                 "logged %d: %s",
                 what, lines, log);
    assert_int_equal(err->rv, HC_P11_FAULT);
    if (!strstr(err->msg, what) || !strstr(err->msg, "token tok: module /opt/hostile.so"))
        fail_msg("err does not name it: %s", err->msg);
}

/* ---- buffers followed by a canary ---- */

#define CANARY 0xa5
typedef struct {
    unsigned char buf[1024];
    unsigned char canary[64];
} guarded_t;

static void guard(guarded_t *g)
{
    memset(g, CANARY, sizeof *g);
}

static void canary_intact(const guarded_t *g)
{
    for (size_t i = 0; i < sizeof g->canary; i++)
        if (g->canary[i] != CANARY)
            fail_msg("byte %zu past the buffer was written", i);
}

/* ---- C_Sign, C_Encrypt, C_Decrypt ---- */

static void sign_oversized_length(void **state)
{
    (void)state;
    guarded_t sig;
    guard(&sig);
    mock.rv = CKR_OK;
    mock.len = 4096;
    mock.write = sizeof sig.buf;
    CK_ULONG n = sizeof sig.buf;
    hc_err_t err = { 0 };
    capture();
    CK_RV rv = hc_p11_sign(&P, 1, (const unsigned char *)"x", 1, sig.buf, &n, &err);
    one_fault_logged(&err, "C_Sign returned 4096 bytes for a 1024-byte buffer");
    assert_int_equal(rv, HC_P11_FAULT);
    assert_int_equal(n, 0);
    canary_intact(&sig);
}

static void sign_ok_with_no_signature(void **state)
{
    (void)state;
    guarded_t sig;
    guard(&sig);
    mock.rv = CKR_OK;
    mock.len = 0;
    CK_ULONG n = sizeof sig.buf;
    hc_err_t err = { 0 };
    capture();
    CK_RV rv = hc_p11_sign(&P, 1, (const unsigned char *)"x", 1, sig.buf, &n, &err);
    one_fault_logged(&err, "C_Sign returned CKR_OK with an empty signature");
    assert_int_equal(rv, HC_P11_FAULT);
    assert_int_equal(n, 0);
    canary_intact(&sig);
}

/* Controls: a sound signature passes silently; a real failure keeps its
 * CKR_ value (a lost session must still look lost to the pool). */
static void sign_sound_and_failures(void **state)
{
    (void)state;
    guarded_t sig;
    guard(&sig);
    mock.rv = CKR_OK;
    mock.len = mock.write = 256;
    CK_ULONG n = sizeof sig.buf;
    hc_err_t err = { 0 };
    int lines;
    capture();
    assert_int_equal(hc_p11_sign(&P, 1, (const unsigned char *)"x", 1, sig.buf, &n, &err), CKR_OK);
    logged(&lines);
    assert_int_equal(lines, 0);
    assert_int_equal(n, 256);
    assert_int_equal(sig.buf[255], 0x5a);
    canary_intact(&sig);

    mock.rv = CKR_SESSION_HANDLE_INVALID;
    n = sizeof sig.buf;
    capture();
    assert_int_equal(hc_p11_sign(&P, 1, (const unsigned char *)"x", 1, sig.buf, &n, &err),
                     CKR_SESSION_HANDLE_INVALID);
    const char *log = logged(&lines);
    assert_int_equal(lines, 1);
    assert_non_null(strstr(log, "test: warning: token tok: C_Sign: CKR_SESSION_HANDLE_INVALID"));
    assert_string_equal(err.msg, "token tok: C_Sign: CKR_SESSION_HANDLE_INVALID");
    assert_int_equal(err.rv, CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(n, 0);
}

static void decrypt_oversized_length(void **state)
{
    (void)state;
    guarded_t out;
    guard(&out);
    mock.rv = CKR_OK;
    mock.len = 1025;
    mock.write = sizeof out.buf;
    CK_ULONG n = sizeof out.buf;
    hc_err_t err = { 0 };
    capture();
    CK_RV rv = hc_p11_crypt(&P, false, 1, (const unsigned char *)"x", 1, out.buf, &n, &err);
    one_fault_logged(&err, "C_Decrypt returned 1025 bytes for a 1024-byte buffer");
    assert_int_equal(rv, HC_P11_FAULT);
    assert_int_equal(n, 0);
    canary_intact(&out);
    /* Control: an empty plaintext is a legitimate answer. */
    mock.len = 0;
    n = sizeof out.buf;
    assert_int_equal(hc_p11_crypt(&P, true, 1, (const unsigned char *)"x", 1, out.buf, &n, &err),
                     CKR_OK);
    assert_int_equal(n, 0);
}

/* ---- C_GetAttributeValue ---- */

/* The identity template keyindex.c reads, each buffer guarded. */
typedef struct {
    CK_OBJECT_CLASS cls;
    unsigned char c1[16];
    unsigned char id[128];
    unsigned char c2[16];
    char label[255];
    unsigned char c3[16];
    CK_BBOOL token;
    unsigned char c4[16];
} ident_t;

static void ident_template(ident_t *v, CK_ATTRIBUTE a[4])
{
    memset(v, CANARY, sizeof *v);
    a[0] = (CK_ATTRIBUTE){ CKA_CLASS, &v->cls, sizeof v->cls };
    a[1] = (CK_ATTRIBUTE){ CKA_ID, v->id, sizeof v->id };
    a[2] = (CK_ATTRIBUTE){ CKA_LABEL, v->label, sizeof v->label };
    a[3] = (CK_ATTRIBUTE){ CKA_TOKEN, &v->token, sizeof v->token };
    mock.attr[0].len = sizeof(CK_OBJECT_CLASS);
    mock.attr[1].len = 4;
    mock.attr[2].len = 7;
    mock.attr[3].len = 1;
    mock.attr[3].fill = 1;
}

static void ident_canaries(const ident_t *v)
{
    const unsigned char *c[] = { v->c1, v->c2, v->c3, v->c4 };
    for (size_t k = 0; k < 4; k++)
        for (size_t i = 0; i < 16; i++)
            if (c[k][i] != CANARY)
                fail_msg("canary %zu: byte %zu past the buffer was written", k + 1, i);
}

static void all_unavailable(const CK_ATTRIBUTE *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].ulValueLen != CK_UNAVAILABLE_INFORMATION)
            fail_msg("attribute %zu: length %lu left for the caller", i, a[i].ulValueLen);
}

static CK_RV get_attrs(CK_ATTRIBUTE *a, CK_ULONG n, hc_err_t *err)
{
    capture();
    return hc_p11_get_attrs(&P, 1, 2, a, n, err);
}

static void attrs_too_small_with_huge_length(void **state)
{
    (void)state;
    ident_t v;
    CK_ATTRIBUTE a[4];
    ident_template(&v, a);
    mock.rv = CKR_BUFFER_TOO_SMALL;
    mock.attr[2].len = (CK_ULONG)1 << 40;
    mock.attr[2].fill = 'L';
    hc_err_t err = { 0 };
    CK_RV rv = get_attrs(a, 4, &err);
    one_fault_logged(&err, "C_GetAttributeValue returned 1099511627776 bytes of "
                           "attribute CKA_LABEL for a 255-byte buffer");
    assert_int_equal(rv, HC_P11_FAULT);
    all_unavailable(a, 4);
    ident_canaries(&v);
}

static void attrs_ok_with_oversized_attribute(void **state)
{
    (void)state;
    ident_t v;
    CK_ATTRIBUTE a[4];
    ident_template(&v, a);
    mock.rv = CKR_OK;
    mock.attr[1].len = 129;
    hc_err_t err = { 0 };
    CK_RV rv = get_attrs(a, 4, &err);
    one_fault_logged(&err, "C_GetAttributeValue returned 129 bytes of attribute "
                           "CKA_ID for a 128-byte buffer");
    assert_int_equal(rv, HC_P11_FAULT);
    all_unavailable(a, 4);
    ident_canaries(&v);
}

static void attrs_ok_with_unavailable_information(void **state)
{
    (void)state;
    ident_t v;
    CK_ATTRIBUTE a[4];
    ident_template(&v, a);
    mock.rv = CKR_OK;
    mock.attr[1].len = CK_UNAVAILABLE_INFORMATION;
    hc_err_t err = { 0 };
    CK_RV rv = get_attrs(a, 4, &err);
    one_fault_logged(&err, "C_GetAttributeValue returned CKR_OK with attribute "
                           "CKA_ID unavailable");
    assert_int_equal(rv, HC_P11_FAULT);
    all_unavailable(a, 4);
}

/* Controls: an attribute the module may not reveal is an answer, passed
 * on with the others intact; a size query (NULL value) takes any length. */
static void attrs_sound_answers(void **state)
{
    (void)state;
    ident_t v;
    CK_ATTRIBUTE a[4];
    ident_template(&v, a);
    mock.rv = CKR_ATTRIBUTE_SENSITIVE;
    mock.attr[1].len = CK_UNAVAILABLE_INFORMATION;
    hc_err_t err = { 0 };
    CK_RV rv = get_attrs(a, 4, &err);
    int lines;
    const char *log = logged(&lines);
    assert_int_equal(rv, CKR_ATTRIBUTE_SENSITIVE);
    assert_non_null(strstr(log, "debug: token tok: C_GetAttributeValue: CKR_ATTRIBUTE_SENSITIVE"));
    assert_int_equal(a[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(a[2].ulValueLen, 7);
    assert_int_equal(a[3].ulValueLen, 1);
    ident_canaries(&v);

    CK_ATTRIBUTE q[2] = { { CKA_VALUE, NULL, 0 }, { CKA_CLASS, NULL, 0 } };
    mock.rv = CKR_OK;
    mock.attr[0].len = 70000;
    mock.attr[1].len = sizeof(CK_ULONG);
    rv = get_attrs(q, 2, &err);
    logged(&lines);
    assert_int_equal(rv, CKR_OK);
    assert_int_equal(q[0].ulValueLen, 70000);
    assert_int_equal(lines, 0);
}

/* CK_ULONG and CK_BBOOL attributes are exactly their type's size. */
static void attrs_fixed_size_types(void **state)
{
    (void)state;
    ident_t v;
    CK_ATTRIBUTE a[4];
    hc_err_t err = { 0 };

    ident_template(&v, a);
    mock.rv = CKR_OK;
    mock.attr[0].len = 4;
    assert_int_equal(get_attrs(a, 4, &err), HC_P11_FAULT);
    one_fault_logged(&err, "C_GetAttributeValue returned attribute CKA_CLASS as 4 bytes");
    all_unavailable(a, 4);

    CK_ATTRIBUTE b = { CKA_TOKEN, v.id, 8 };
    mock.attr[0].len = 8;
    assert_int_equal(get_attrs(&b, 1, &err), HC_P11_FAULT);
    one_fault_logged(&err, "C_GetAttributeValue returned attribute CKA_TOKEN as 8 bytes");

    ident_template(&v, a);
    mock.attr[3].fill = 7;
    assert_int_equal(get_attrs(a, 4, &err), HC_P11_FAULT);
    one_fault_logged(&err, "C_GetAttributeValue returned attribute CKA_TOKEN as 0x07");
}

/* A template longer than the layer's stack copy of the lengths. */
static void attrs_long_template(void **state)
{
    (void)state;
    CK_ATTRIBUTE a[40];
    unsigned char bufs[40][8];
    for (size_t i = 0; i < 40; i++)
        a[i] = (CK_ATTRIBUTE){ CKA_VALUE, bufs[i], sizeof bufs[i] };
    mock.rv = CKR_OK;
    for (size_t i = 0; i < MAX_ANSWERS; i++)
        mock.attr[i].len = 8;
    mock.attr[MAX_ANSWERS - 1].len = 9;
    hc_err_t err = { 0 };
    assert_int_equal(get_attrs(a, 40, &err), HC_P11_FAULT);
    one_fault_logged(&err, "9 bytes of attribute CKA_VALUE for a 8-byte buffer");
    all_unavailable(a, 40);
}

/* ---- counts and handles ---- */

static void find_more_than_asked(void **state)
{
    (void)state;
    struct {
        CK_OBJECT_HANDLE h[4];
        unsigned char canary[32];
    } b;
    memset(&b, CANARY, sizeof b);
    mock.rv = CKR_OK;
    mock.len = 5;
    mock.write = 4;
    for (size_t i = 0; i < 4; i++)
        mock.handle[i] = 10 + i;
    CK_ULONG got;
    hc_err_t err = { 0 };
    capture();
    CK_RV rv = hc_p11_find(&P, 1, b.h, 4, &got, &err);
    one_fault_logged(&err, "C_FindObjects returned 5 handles for room for 4");
    assert_int_equal(rv, HC_P11_FAULT);
    assert_int_equal(got, 0);
    for (size_t i = 0; i < sizeof b.canary; i++)
        assert_int_equal(b.canary[i], CANARY);
}

static void find_invalid_handle(void **state)
{
    (void)state;
    CK_OBJECT_HANDLE h[4];
    mock.rv = CKR_OK;
    mock.len = mock.write = 2;
    mock.handle[0] = 10;
    mock.handle[1] = CK_INVALID_HANDLE;
    CK_ULONG got;
    hc_err_t err = { 0 };
    capture();
    assert_int_equal(hc_p11_find(&P, 1, h, 4, &got, &err), HC_P11_FAULT);
    one_fault_logged(&err, "C_FindObjects returned CK_INVALID_HANDLE as object 2 of 2");
    assert_int_equal(got, 0);
}

static void slot_and_mechanism_counts(void **state)
{
    (void)state;
    struct {
        CK_ULONG v[8];
        unsigned char canary[32];
    } b;
    memset(&b, CANARY, sizeof b);
    mock.rv = CKR_OK;
    mock.len = 9;
    mock.write = 8;
    CK_ULONG n = 8;
    hc_err_t err = { 0 };
    capture();
    assert_int_equal(hc_p11_get_slot_list(&P, CK_TRUE, b.v, &n, &err), HC_P11_FAULT);
    one_fault_logged(&err, "C_GetSlotList returned 9 slots for room for 8");
    assert_int_equal(n, 0);

    n = 8;
    capture();
    assert_int_equal(hc_p11_get_mechanism_list(&P, 0, b.v, &n, &err), HC_P11_FAULT);
    one_fault_logged(&err, "C_GetMechanismList returned 9 mechanisms for room for 8");
    assert_int_equal(n, 0);
    for (size_t i = 0; i < sizeof b.canary; i++)
        assert_int_equal(b.canary[i], CANARY);

    /* A size query answered with garbage: the caller would allocate it. */
    mock.len = (CK_ULONG)-2;
    n = 0;
    capture();
    assert_int_equal(hc_p11_get_mechanism_list(&P, 0, NULL, &n, &err), HC_P11_FAULT);
    one_fault_logged(&err, "C_GetMechanismList reported 18446744073709551614 mechanisms");
    assert_int_equal(n, 0);
    /* Control: an honest count passes. */
    mock.len = 3;
    n = 8;
    assert_int_equal(hc_p11_get_slot_list(&P, CK_TRUE, b.v, &n, &err), CKR_OK);
    assert_int_equal(n, 3);
}

static void session_and_key_handles(void **state)
{
    (void)state;
    mock.rv = CKR_OK;
    mock.handle[0] = CK_INVALID_HANDLE;
    CK_SESSION_HANDLE s = 99;
    hc_err_t err = { 0 };
    capture();
    assert_int_equal(hc_p11_open_session(&P, 0, CKF_SERIAL_SESSION, &s, &err), HC_P11_FAULT);
    one_fault_logged(&err, "C_OpenSession returned CKR_OK with no session");

    CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_OBJECT_HANDLE hp = 1, hq = 1;
    mock.handle[0] = 5;
    mock.handle[1] = CK_INVALID_HANDLE;
    capture();
    assert_int_equal(hc_p11_generate_key_pair(&P, 1, &m, NULL, 0, NULL, 0, &hp, &hq, &err),
                     HC_P11_FAULT);
    one_fault_logged(&err, "C_GenerateKeyPair returned CKR_OK with handles 5 and 0");
    assert_int_equal(hp, CK_INVALID_HANDLE);
    assert_int_equal(hq, CK_INVALID_HANDLE);

    mock.handle[1] = 5;
    capture();
    assert_int_equal(hc_p11_generate_key_pair(&P, 1, &m, NULL, 0, NULL, 0, &hp, &hq, &err),
                     HC_P11_FAULT);
    one_fault_logged(&err, "C_GenerateKeyPair returned CKR_OK with handles 5 and 5");

    /* Controls. */
    mock.handle[1] = 6;
    assert_int_equal(hc_p11_generate_key_pair(&P, 1, &m, NULL, 0, NULL, 0, &hp, &hq, &err), CKR_OK);
    assert_int_equal(hp, 5);
    assert_int_equal(hq, 6);
    mock.handle[0] = 77;
    assert_int_equal(hc_p11_open_session(&P, 0, CKF_SERIAL_SESSION, &s, &err), CKR_OK);
    assert_int_equal(s, 77);
}

/* HSM errors: a failure and a violation are counted, each with one
 * warning (or error) line naming the call and CKR_ name; answers (an
 * absent attribute, a size query, already logged in, a bad signature)
 * are not, and stay at debug level. */
static void errors_counted_answers_not(void **state)
{
    (void)state;
    static const CK_RV answers[] = { CKR_ATTRIBUTE_TYPE_INVALID,  CKR_BUFFER_TOO_SMALL,
                                     CKR_ATTRIBUTE_SENSITIVE,     CKR_SIGNATURE_INVALID,
                                     CKR_KEY_HANDLE_INVALID,      CKR_DATA_LEN_RANGE,
                                     CKR_MECHANISM_PARAM_INVALID, CKR_FUNCTION_NOT_SUPPORTED };
    unsigned char buf[64];
    CK_ULONG n;
    hc_err_t err = { 0 };
    int lines;
    errors = 0;
    for (size_t i = 0; i < sizeof answers / sizeof *answers; i++) {
        mock.rv = answers[i];
        n = sizeof buf;
        capture();
        hc_p11_sign(&P, 1, (const unsigned char *)"x", 1, buf, &n, &err);
        const char *log = logged(&lines);
        assert_non_null(strstr(log, "test: debug: token tok: C_Sign: CKR_"));
    }
    assert_false(hc_p11_is_failure(CKR_USER_ALREADY_LOGGED_IN));
    assert_false(hc_p11_is_failure(CKR_OBJECT_HANDLE_INVALID));
    assert_false(hc_p11_is_failure(CKR_ACTION_PROHIBITED));
    assert_true(hc_p11_is_failure(CKR_FUNCTION_FAILED));
    assert_true(hc_p11_is_failure(CKR_PIN_INCORRECT));
    assert_int_equal(errors, 0);
    mock.rv = CKR_DEVICE_ERROR;
    n = sizeof buf;
    capture();
    assert_int_equal(hc_p11_sign(&P, 1, (const unsigned char *)"x", 1, buf, &n, &err),
                     CKR_DEVICE_ERROR);
    const char *log = logged(&lines);
    assert_int_equal(lines, 1);
    assert_non_null(strstr(log, "test: warning: token tok: C_Sign: CKR_DEVICE_ERROR"));
    assert_int_equal(errors, 1);
    mock.rv = CKR_OK; /* a lie: an empty signature */
    mock.len = 0;
    n = sizeof buf;
    capture();
    hc_p11_sign(&P, 1, (const unsigned char *)"x", 1, buf, &n, &err);
    one_fault_logged(&err, "C_Sign returned CKR_OK with an empty signature");
    assert_int_equal(errors, 2);
}

/* A call about the module, not a token (the agent's C_GetInfo): its
 * messages name the module. */
static void module_level_call(void **state)
{
    (void)state;
    hc_p11_t m = { &hostile, NULL, "/opt/hostile.so", &logger, NULL, NULL };
    CK_INFO info;
    hc_err_t err = { 0 };
    mock.rv = CKR_OK;
    assert_int_equal(hc_p11_get_info(&m, &info, &err), CKR_OK);
    assert_int_equal(info.cryptokiVersion.minor, 40);
    mock.rv = CKR_CRYPTOKI_NOT_INITIALIZED;
    capture();
    assert_int_equal(hc_p11_get_info(&m, &info, &err), CKR_CRYPTOKI_NOT_INITIALIZED);
    int lines;
    const char *log = logged(&lines);
    assert_int_equal(lines, 1);
    assert_non_null(strstr(log, "module /opt/hostile.so: C_GetInfo: CKR_CRYPTOKI_NOT_INITIALIZED"));
    assert_string_equal(err.msg, "module /opt/hostile.so: C_GetInfo: CKR_CRYPTOKI_NOT_INITIALIZED");
}

/* ---- the caller that trusted C_GetAttributeValue: keyindex.c ---- */

static void keyindex_survives_lies(void **state)
{
    (void)state;
    hc_token_cfg_t cfg = { .name = "tok" };
    hc_core_t core = { .log = logger };
    hc_token_t t = { .cfg = &cfg, .core = &core, .p11 = P };
    pthread_mutex_init(&t.idx_lock, NULL);
    hc_session_t s = { .h = 1, .gen = 1 };
    CK_OBJECT_HANDLE h = 42;
    hc_obj_t id = 0;
    hc_err_t err = { 0 };
    /* CKR_BUFFER_TOO_SMALL, the label's length reported as 64 KiB: the
     * entry's label buffer (255 bytes) must not be written past. */
    mock.rv = CKR_BUFFER_TOO_SMALL;
    mock.attr[0].len = sizeof(CK_OBJECT_CLASS);
    mock.attr[1].len = 3;
    mock.attr[2].len = 65536;
    mock.attr[2].fill = 'L';
    mock.attr[3].len = 1;
    mock.attr[4].len = sizeof(CK_KEY_TYPE);
    capture();
    assert_int_equal(hc_keyindex_map(&t, &s, &h, 1, &id, &err), HC_P11_FAULT);
    one_fault_logged(&err, "65536 bytes of attribute CKA_LABEL for a 255-byte buffer");
    assert_int_equal(t.nents, 0);
    /* Control: the same object answered honestly is indexed. */
    mock.rv = CKR_OK;
    mock.attr[2].len = 5;
    assert_int_equal(hc_keyindex_map(&t, &s, &h, 1, &id, &err), CKR_OK);
    assert_int_equal(t.nents, 1);
    assert_int_equal(t.ents[0]->labellen, 5);
    assert_memory_equal(t.ents[0]->label, "LLLLL", 6);
    /* A label of NUL, 0xff and terminal control bytes is named escaped,
     * whole, in messages. */
    char name[64];
    memcpy(t.ents[0]->label, "ev\0il\xff\x1b[2J'\\", 12);
    t.ents[0]->labellen = 12;
    assert_string_equal(hc_keyent_name(t.ents[0], name, sizeof name),
                        "'ev\\x00il\\xff\\x1b[2J\\x27\\x5c'");
    assert_string_equal(hc_keyent_name(t.ents[0], name, 12),
                        "'ev\\x00il'"); /* cut at a whole escape */
    hc_keyindex_free(&t);
    pthread_mutex_destroy(&t.idx_lock);
}

/* ---- module.c's check of a function list at load ---- */

static void function_list_check(void **state)
{
    (void)state;
    hc_err_t err = { 0 };
    assert_int_equal(hc_p11_check_list(NULL, "/opt/m.so", &err), CKR_GENERAL_ERROR);
    assert_string_equal(err.msg, "module /opt/m.so: refused: C_GetFunctionList "
                                 "returned no function list");
    /* Every slot of a 2.40 list filled: accepted. */
    CK_FUNCTION_LIST full;
    full.version = hostile.version;
    void (*const any)(void) = (void (*)(void))m_list;
    for (size_t off = offsetof(CK_FUNCTION_LIST, C_Initialize); off + sizeof any <= sizeof full;
         off += sizeof any)
        memcpy((char *)&full + off, &any, sizeof any);
    assert_int_equal(hc_p11_check_list(&full, "/opt/m.so", &err), CKR_OK);
    /* A function the core never calls may be missing... */
    full.C_DigestInit = NULL;
    assert_int_equal(hc_p11_check_list(&full, "/opt/m.so", &err), CKR_OK);
    /* ...one it calls may not, and the refusal names it. */
    CK_FUNCTION_LIST holed = full;
    holed.C_Sign = NULL;
    assert_int_equal(hc_p11_check_list(&holed, "/opt/m.so", &err), CKR_GENERAL_ERROR);
    assert_string_equal(err.msg, "module /opt/m.so: refused: its function list "
                                 "has no C_Sign");
    holed = full;
    holed.C_GetAttributeValue = NULL;
    assert_int_equal(hc_p11_check_list(&holed, "/opt/m.so", &err), CKR_GENERAL_ERROR);
    assert_non_null(strstr(err.msg, "has no C_GetAttributeValue"));
    /* The hostile list of these tests has only a few functions. */
    assert_int_equal(hc_p11_check_list(&hostile, "/opt/m.so", &err), CKR_GENERAL_ERROR);
    assert_non_null(strstr(err.msg, "has no C_Initialize"));
    /* Versions: 2.x and 3.x only. */
    full.version.major = 9;
    assert_int_equal(hc_p11_check_list(&full, "/opt/m.so", &err), CKR_GENERAL_ERROR);
    assert_string_equal(err.msg, "module /opt/m.so: refused: its function list is "
                                 "for PKCS#11 9.40 (2.x or 3.x expected)");
    full.version.major = 3;
    full.version.minor = 0;
    assert_int_equal(hc_p11_check_list(&full, "/opt/m.so", &err), CKR_OK);
}

/* module.c refuses a module with a bad list at load, naming it, before
 * p11-kit (which crashes on a NULL list) or C_Initialize sees it. */
static void bad_modules_refused_at_load(void **state)
{
    (void)state;
    static const struct {
        const char *fault, *says;
    } bad[] = {
        { "null", "refused: C_GetFunctionList returned no function list" },
        { "version", "refused: its function list is for PKCS#11 9.1 (2.x or 3.x expected)" },
        { "nosign", "refused: its function list has no C_Sign" },
    };
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    const char *dir = dirname(exe);
    hc_modules_t *m = hc_modules_new();
    assert_non_null(m);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char path[PATH_MAX + 32], want[2 * PATH_MAX];
        snprintf(path, sizeof path, "%s/badlist-%s.so", dir, bad[i].fault);
        snprintf(want, sizeof want, "module %s: %s", path, bad[i].says);
        CK_FUNCTION_LIST *fl = NULL;
        hc_err_t err = { 0 };
        assert_int_equal(hc_modules_get(m, path, &fl, &err), CKR_GENERAL_ERROR);
        assert_string_equal(err.msg, want);
        assert_null(fl);
    }
    /* Control: a real module loads through the same check. */
    CK_FUNCTION_LIST *fl = NULL;
    hc_err_t err = { 0 };
    if (hc_modules_get(m, "/usr/lib/softhsm/libsofthsm2.so", &fl, &err) != CKR_OK)
        fail_msg("softhsm2 refused: %s", err.msg);
    assert_non_null(fl);
    hc_modules_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(sign_oversized_length, setup),
        cmocka_unit_test_setup(sign_ok_with_no_signature, setup),
        cmocka_unit_test_setup(sign_sound_and_failures, setup),
        cmocka_unit_test_setup(decrypt_oversized_length, setup),
        cmocka_unit_test_setup(attrs_too_small_with_huge_length, setup),
        cmocka_unit_test_setup(attrs_ok_with_oversized_attribute, setup),
        cmocka_unit_test_setup(attrs_ok_with_unavailable_information, setup),
        cmocka_unit_test_setup(attrs_sound_answers, setup),
        cmocka_unit_test_setup(attrs_fixed_size_types, setup),
        cmocka_unit_test_setup(attrs_long_template, setup),
        cmocka_unit_test_setup(find_more_than_asked, setup),
        cmocka_unit_test_setup(find_invalid_handle, setup),
        cmocka_unit_test_setup(slot_and_mechanism_counts, setup),
        cmocka_unit_test_setup(session_and_key_handles, setup),
        cmocka_unit_test_setup(module_level_call, setup),
        cmocka_unit_test_setup(errors_counted_answers_not, setup),
        cmocka_unit_test_setup(keyindex_survives_lies, setup),
        cmocka_unit_test_setup(function_list_check, setup),
        cmocka_unit_test(bad_modules_refused_at_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
