/* test_core.c: the core against a real SoftHSM token ("dns", holding
 * rsa-key, ec-key and ec-key2, PIN in the store), prepared by with-token.sh.
 * Signatures are checked with OpenSSL using the public key, independently
 * of the core's own verify. The session copies the core signs with are
 * counted in the SoftHSM the core loaded (same process). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsmcache.h"
#include "core/keycopy.h"
#include "core/swcrypto.h"

static const unsigned char rrset[] = "www.example.com. 3600 IN A 192.0.2.80";

static hc_ctx_t *open_ctx(const char *profile)
{
    hc_ctx_t *ctx = NULL;
    hc_err_t err = { 0 };
    if (hc_open(profile, NULL, &ctx, &err) != CKR_OK)
        fail_msg("hc_open: %s", err.msg);
    return ctx;
}

static hc_obj_t one_key(hc_ctx_t *ctx, const char *uri)
{
    hc_obj_t *objs;
    size_t n;
    hc_err_t err = { 0 };
    if (hc_find_uri(ctx, uri, &objs, &n, &err) != CKR_OK)
        fail_msg("%s: %s", uri, err.msg);
    assert_int_equal(n, 1);
    hc_obj_t o = objs[0];
    free(objs);
    return o;
}

/* Independent check: OpenSSL verifies `sig` (PKCS#11 form) over rrset. */
static void openssl_verifies(hc_ctx_t *ctx, hc_obj_t key, const EVP_MD *md,
                             const unsigned char *sig, size_t len)
{
    unsigned char *spki;
    size_t spki_len;
    assert_int_equal(hc_public_key(ctx, key, &spki, &spki_len, NULL), CKR_OK);
    const unsigned char *p = spki;
    EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)spki_len);
    assert_non_null(k);
    unsigned char der[256];
    const unsigned char *s = sig;
    size_t sl = len;
    if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) { /* r||s -> DER */
        ECDSA_SIG *es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)len / 2, NULL),
                       BN_bin2bn(sig + len / 2, (int)len / 2, NULL));
        unsigned char *d = der;
        sl = (size_t)i2d_ECDSA_SIG(es, &d);
        ECDSA_SIG_free(es);
        s = der;
    }
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(c, NULL, md, NULL, k), 1);
    assert_int_equal(EVP_DigestVerify(c, s, sl, rrset, sizeof rrset), 1);
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(k);
    free(spki);
}

static void token_is_present_with_stored_pin(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx(HC_PROFILE_CLI);
    assert_int_equal(hc_token_count(ctx), 1);
    assert_string_equal(hc_token_name(ctx, 0), "dns");
    hc_token_status_t st;
    assert_int_equal(hc_token_status(ctx, 0, &st, NULL), CKR_OK);
    assert_true(st.present);
    assert_true(st.pin_stored);
    assert_false(st.pin_rejected);
    assert_memory_equal(st.info.label, "unit ", 5);
    hc_close(ctx);
}

static void uris_find_keys_by_name_label_and_refuse_pins(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx(HC_PROFILE_CLI);
    hc_obj_t a = one_key(ctx, "pkcs11:token=dns;object=ec-key;type=private");
    hc_obj_t b = one_key(ctx, "pkcs11:token=unit;object=ec-key;type=private");
    assert_true(a == b); /* same object, same stable reference */
    hc_obj_t *objs;
    size_t n;
    hc_err_t err = { 0 };
    assert_int_not_equal(
        hc_find_uri(ctx, "pkcs11:token=dns;object=ec-key?pin-value=1234", &objs, &n, &err), CKR_OK);
    assert_non_null(strstr(err.msg, "PIN"));
    assert_int_not_equal(hc_find_uri(ctx, "http://nope", &objs, &n, &err), CKR_OK);
    assert_non_null(strstr(err.msg, "not a valid pkcs11: URI"));
    assert_int_not_equal(hc_find_uri(ctx, "pkcs11:token=nosuch", &objs, &n, &err), CKR_OK);
    assert_non_null(strstr(err.msg, "no configured"));
    hc_close(ctx);
}

static void sign_offloads_hash_and_verifies(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx(HC_PROFILE_CLI);
    /* SoftHSM 2.6 has no CKM_ECDSA_SHA256: the core hashes and sends
     * CKM_ECDSA, so the hash-then-sign mechanism works anyway. */
    hc_obj_t ec = one_key(ctx, "pkcs11:token=dns;object=ec-key;type=private");
    CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
    unsigned char sig[HC_MAX_SIG];
    size_t len = sizeof sig;
    hc_err_t err = { 0 };
    assert_int_equal(hc_sign(ctx, ec, &m, rrset, sizeof rrset, sig, &len, &err), CKR_OK);
    assert_int_equal(len, 64);
    openssl_verifies(ctx, ec, EVP_sha256(), sig, len);
    assert_int_equal(hc_verify(ctx, ec, &m, rrset, sizeof rrset, sig, len, NULL), CKR_OK);
    sig[0] ^= 1;
    assert_int_equal(hc_verify(ctx, ec, &m, rrset, sizeof rrset, sig, len, NULL),
                     CKR_SIGNATURE_INVALID);

    hc_obj_t rsa = one_key(ctx, "pkcs11:token=dns;object=rsa-key;type=private");
    CK_MECHANISM r = { CKM_SHA256_RSA_PKCS, NULL, 0 };
    len = sizeof sig;
    assert_int_equal(hc_sign(ctx, rsa, &r, rrset, sizeof rrset, sig, &len, &err), CKR_OK);
    assert_int_equal(len, 256);
    openssl_verifies(ctx, rsa, EVP_sha256(), sig, len);
    len = 10; /* too small: told the size, nothing copied */
    assert_int_equal(hc_sign(ctx, rsa, &r, rrset, sizeof rrset, sig, &len, NULL),
                     CKR_BUFFER_TOO_SMALL);
    assert_int_equal(len, 256);
    hc_close(ctx);
}

/* ECDSA signatures are randomized: equal bytes prove a cache answer. */
static size_t sign_ec(hc_ctx_t *ctx, unsigned char *sig)
{
    hc_obj_t ec = one_key(ctx, "pkcs11:token=dns;object=ec-key;type=private");
    CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
    size_t len = HC_MAX_SIG;
    assert_int_equal(hc_sign(ctx, ec, &m, rrset, sizeof rrset, sig, &len, NULL), CKR_OK);
    return len;
}

static void cache_serves_repeats_across_restarts(void **state)
{
    (void)state;
    unsigned char s1[HC_MAX_SIG], s2[HC_MAX_SIG], s3[HC_MAX_SIG], s4[HC_MAX_SIG];
    hc_ctx_t *ctx = open_ctx(HC_PROFILE_PDNS);
    assert_true(hc_signature_cache_enabled(ctx));
    size_t n1 = sign_ec(ctx, s1), n2 = sign_ec(ctx, s2);
    assert_int_equal(n1, n2);
    assert_memory_equal(s1, s2, n1);
    hc_close(ctx);
    ctx = open_ctx(HC_PROFILE_PDNS); /* a restart: memory empty, disk kept */
    size_t n3 = sign_ec(ctx, s3);
    assert_memory_equal(s1, s3, n3);
    hc_close(ctx);
    ctx = open_ctx(HC_PROFILE_CLI); /* a profile without caching */
    assert_false(hc_signature_cache_enabled(ctx));
    size_t n4 = sign_ec(ctx, s4);
    assert_int_equal(n4, n1);
    assert_memory_not_equal(s1, s4, n1);
    hc_close(ctx);
}

/* Two keys, same data, same mechanism: each gets its own signature, one
 * that verifies with its own public key; a repeat with either is a hit
 * on its own entry (the control: equal bytes prove a cache answer). */
static void cache_never_answers_for_another_key(void **state)
{
    (void)state;
    unsigned char s1[HC_MAX_SIG], s2[HC_MAX_SIG], again[HC_MAX_SIG];
    hc_ctx_t *ctx = open_ctx(HC_PROFILE_PDNS);
    hc_obj_t k1 = one_key(ctx, "pkcs11:token=dns;object=ec-key;type=private");
    hc_obj_t k2 = one_key(ctx, "pkcs11:token=dns;object=ec-key2;type=private");
    CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
    size_t n1 = sizeof s1, n2 = sizeof s2, na = sizeof again;
    assert_int_equal(hc_sign(ctx, k1, &m, rrset, sizeof rrset, s1, &n1, NULL), CKR_OK);
    assert_int_equal(hc_sign(ctx, k2, &m, rrset, sizeof rrset, s2, &n2, NULL), CKR_OK);
    assert_memory_not_equal(s1, s2, n1);
    openssl_verifies(ctx, k2, EVP_sha256(), s2, n2);
    assert_int_equal(hc_sign(ctx, k2, &m, rrset, sizeof rrset, again, &na, NULL), CKR_OK);
    assert_memory_equal(s2, again, n2);
    na = sizeof again;
    assert_int_equal(hc_sign(ctx, k1, &m, rrset, sizeof rrset, again, &na, NULL), CKR_OK);
    assert_memory_equal(s1, again, n1);
    hc_close(ctx);
}

static void tampered_disk_entry_is_never_served(void **state)
{
    (void)state;
    unsigned char good[HC_MAX_SIG], again[HC_MAX_SIG];
    hc_ctx_t *ctx = open_ctx(HC_PROFILE_PDNS);
    size_t n = sign_ec(ctx, good);
    hc_close(ctx);
    /* Flip a bit in every stored signature, as disk corruption or an
     * attacker with write access to the cache would. */
    char path[512];
    snprintf(path, sizeof path, "%s/cache/signatures.mdb", getenv("HC_TEST_DIR"));
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k, v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
    int changed = 0;
    while (mdb_cursor_get(cur, &k, &v, changed ? MDB_NEXT : MDB_FIRST) == 0) {
        unsigned char buf[2048];
        memcpy(buf, v.mv_data, v.mv_size);
        buf[v.mv_size - 1] ^= 0x01;
        MDB_val nv = { v.mv_size, buf };
        assert_int_equal(mdb_cursor_put(cur, &k, &nv, MDB_CURRENT), 0);
        changed++;
    }
    mdb_cursor_close(cur);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_true(changed > 0);

    ctx = open_ctx(HC_PROFILE_PDNS);
    size_t m = sign_ec(ctx, again);
    assert_int_equal(m, n);
    assert_memory_not_equal(good, again, n); /* tampered entry refused ... */
    openssl_verifies(ctx, one_key(ctx, "pkcs11:token=dns;object=ec-key;type=private"), EVP_sha256(),
                     again, m); /* ... and a fresh one made */
    hc_close(ctx);
}

static void keygen_replaces_missing_or_pdns_constant_id(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx(HC_PROFILE_CLI);
    static const unsigned char p256[] = {
        0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
    };
    static const unsigned char pdns_id[] = { 1, 2, 3, 4 };
    CK_BBOOL yes = CK_TRUE;
    unsigned char ids[2][128];
    CK_ULONG lens[2];
    for (int i = 0; i < 2; i++) {
        char label[32];
        snprintf(label, sizeof label, "pdns-style-%d", i);
        CK_ATTRIBUTE pub[] = { { CKA_EC_PARAMS, (void *)p256, sizeof p256 },
                               { CKA_TOKEN, &yes, 1 },
                               { CKA_LABEL, label, strlen(label) },
                               { CKA_ID, (void *)pdns_id, sizeof pdns_id } };
        CK_ATTRIBUTE priv[] = { { CKA_TOKEN, &yes, 1 },
                                { CKA_SIGN, &yes, 1 },
                                { CKA_LABEL, label, strlen(label) },
                                { CKA_ID, (void *)pdns_id, sizeof pdns_id } };
        CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
        hc_obj_t pk, sk;
        hc_err_t err = { 0 };
        if (hc_generate_key_pair(ctx, 0, &m, pub, 4, priv, 4, &pk, &sk, &err) != CKR_OK)
            fail_msg("%s", err.msg);
        CK_ATTRIBUTE a = { CKA_ID, ids[i], sizeof ids[i] };
        assert_int_equal(hc_get_attrs(ctx, sk, &a, 1, NULL), CKR_OK);
        lens[i] = a.ulValueLen;
        assert_int_equal(lens[i], 16);
        CK_ATTRIBUTE b = { CKA_ID, ids[1 - i], sizeof ids[i] };
        unsigned char pub_id[128];
        b.pValue = pub_id;
        assert_int_equal(hc_get_attrs(ctx, pk, &b, 1, NULL), CKR_OK);
        assert_memory_equal(pub_id, ids[i], 16); /* both halves share it */
    }
    assert_memory_not_equal(ids[0], ids[1], 16);
    hc_close(ctx);
}

/* ---- session copies of signing keys (keycopy.h) ---- */

/* The SoftHSM the core loaded, in this process (RTLD_NOLOAD: the same
 * instance, already initialized by the core), for what the core's own
 * API does not show: the session objects it made. */
static CK_FUNCTION_LIST *loaded_softhsm(void)
{
    void *h = dlopen("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
    CK_FUNCTION_LIST *f = NULL;
    assert_int_equal(get(&f), CKR_OK);
    dlclose(h); /* the core's reference keeps it loaded */
    return f;
}

/* Private keys that are session objects (CKA_TOKEN false) on token "unit",
 * seen from a session of our own (session objects are per application). */
static int session_private_keys(void)
{
    CK_FUNCTION_LIST *f = loaded_softhsm();
    CK_SLOT_ID slots[16];
    CK_ULONG ns = 16;
    assert_int_equal(f->C_GetSlotList(CK_TRUE, slots, &ns), CKR_OK);
    for (CK_ULONG i = 0; i < ns; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK || memcmp(ti.label, "unit ", 5))
            continue;
        CK_SESSION_HANDLE s;
        assert_int_equal(f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
        CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
        CK_BBOOL no = CK_FALSE;
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_TOKEN, &no, 1 } };
        CK_OBJECT_HANDLE h[64];
        CK_ULONG n = 0;
        assert_int_equal(f->C_FindObjectsInit(s, t, 2), CKR_OK);
        assert_int_equal(f->C_FindObjects(s, h, 64, &n), CKR_OK);
        f->C_FindObjectsFinal(s);
        f->C_CloseSession(s);
        return (int)n;
    }
    fail_msg("no token 'unit' in the loaded SoftHSM");
    return -1;
}

static size_t count_uri(hc_ctx_t *ctx, const char *uri)
{
    hc_obj_t *objs;
    size_t n;
    hc_err_t err = { 0 };
    if (hc_find_uri(ctx, uri, &objs, &n, &err) != CKR_OK)
        fail_msg("%s: %s", uri, err.msg);
    free(objs);
    return n;
}

static void sign_key(hc_ctx_t *ctx, hc_obj_t key, hc_ctx_t *pubctx, hc_obj_t pub)
{
    CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
    unsigned char sig[HC_MAX_SIG];
    size_t len = sizeof sig;
    hc_err_t err = { 0 };
    if (hc_sign(ctx, key, &m, rrset, sizeof rrset, sig, &len, &err) != CKR_OK)
        fail_msg("hc_sign: %s", err.msg);
    openssl_verifies(pubctx, pub, EVP_sha256(), sig, len);
}

/* One copy per key in a session however often it signs, made at its
 * second use (a host that signs once makes none); the core's finds never
 * report the copies. (One thread: one pooled session.) */
static void signing_uses_one_session_copy_per_key(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx(HC_PROFILE_CLI);
    size_t privs = count_uri(ctx, "pkcs11:token=dns;type=private");
    hc_obj_t k1 = one_key(ctx, "pkcs11:token=dns;object=ec-key;type=private");
    hc_obj_t k2 = one_key(ctx, "pkcs11:token=dns;object=ec-key2;type=private");
    sign_key(ctx, k1, ctx, k1);
    assert_int_equal(session_private_keys(), 0);
    for (int i = 0; i < 2; i++)
        sign_key(ctx, k1, ctx, k1);
    assert_int_equal(session_private_keys(), 1);
    sign_key(ctx, k2, ctx, k2);
    sign_key(ctx, k1, ctx, k1);
    sign_key(ctx, k2, ctx, k2);
    assert_int_equal(session_private_keys(), 2);
    assert_int_equal(count_uri(ctx, "pkcs11:token=dns;type=private"), privs);
    hc_close(ctx);
}

/* An EC P-256 pair labelled `label` with CKA_ID `id`; `copyable` false
 * sets CKA_COPYABLE false on the private half. */
static void make_pair(hc_ctx_t *ctx, const char *label, const unsigned char *id, size_t idlen,
                      bool copyable, hc_obj_t *pk, hc_obj_t *sk)
{
    static const unsigned char p256[] = {
        0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
    };
    CK_BBOOL yes = CK_TRUE, cp = copyable ? CK_TRUE : CK_FALSE;
    CK_ATTRIBUTE pub[] = { { CKA_EC_PARAMS, (void *)p256, sizeof p256 },
                           { CKA_TOKEN, &yes, 1 },
                           { CKA_LABEL, (void *)label, strlen(label) },
                           { CKA_ID, (void *)id, idlen } };
    CK_ATTRIBUTE priv[] = { { CKA_TOKEN, &yes, 1 },
                            { CKA_SIGN, &yes, 1 },
                            { CKA_PRIVATE, &yes, 1 },
                            { CKA_SENSITIVE, &yes, 1 },
                            { CKA_LABEL, (void *)label, strlen(label) },
                            { CKA_ID, (void *)id, idlen },
                            { CKA_COPYABLE, &cp, 1 } };
    CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    hc_err_t err = { 0 };
    if (hc_generate_key_pair(ctx, 0, &m, pub, 4, priv, 7, pk, sk, &err) != CKR_OK)
        fail_msg("%s", err.msg);
}

/* A key destroyed and made again under the same label and CKA_ID by
 * someone else (here another context): a context that signed with the old
 * key's session copy signs with the new key once the recheck interval has
 * passed (verified with the NEW public key), never with a stale copy. */
static void copy_never_outlives_a_recreated_key(void **state)
{
    (void)state;
    static const unsigned char id[] = { 0xc0, 0x11, 0x0e };
    hc_ctx_t *a = open_ctx(HC_PROFILE_CLI), *b = open_ctx(HC_PROFILE_CLI);
    hc_obj_t pk, sk;
    make_pair(a, "recreated", id, sizeof id, true, &pk, &sk);
    int before = session_private_keys();
    sign_key(a, sk, a, pk);
    sign_key(a, sk, a, pk);                               /* the second use makes the copy */
    assert_int_equal(session_private_keys(), before + 1); /* a copy */
    hc_obj_t old_pk = one_key(b, "pkcs11:token=dns;object=recreated;type=public");
    hc_obj_t old_sk = one_key(b, "pkcs11:token=dns;object=recreated;type=private");
    assert_int_equal(hc_destroy(b, old_sk, NULL), CKR_OK);
    assert_int_equal(hc_destroy(b, old_pk, NULL), CKR_OK);
    hc_obj_t new_pk, new_sk;
    make_pair(b, "recreated", id, sizeof id, true, &new_pk, &new_sk);
    usleep((HC_COPY_RECHECK_MS + 200) * 1000);
    sign_key(a, sk, b, new_pk); /* a's old reference, b's new public key */
    hc_close(b);
    hc_close(a);
}

/* A key the token will not copy (CKA_COPYABLE false: SoftHSM refuses
 * C_CopyObject with CKR_ACTION_PROHIBITED) is signed with as a token object. */
static void key_the_token_will_not_copy_still_signs(void **state)
{
    (void)state;
    static const unsigned char id[] = { 0x0c, 0x0c };
    hc_ctx_t *ctx = open_ctx(HC_PROFILE_CLI);
    hc_obj_t pk, sk;
    make_pair(ctx, "not-copyable", id, sizeof id, false, &pk, &sk);
    int before = session_private_keys();
    for (int i = 0; i < 3; i++)
        sign_key(ctx, sk, ctx, pk);
    assert_int_equal(session_private_keys(), before); /* no copy */
    hc_close(ctx);
}

/* A module whose C_CopyObject lies about the copy's handle: the checked
 * layer (p11call.h) answers HC_P11_FAULT and hands out no handle, so the
 * core never signs with, or destroys with its session, the original. */
static int copy_mode; /* 0: the original's handle, 1: none, 2: a new one */
static CK_RV lying_copy(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                        CK_OBJECT_HANDLE_PTR copy)
{
    (void)s, (void)t, (void)n;
    *copy = copy_mode == 0 ? o : copy_mode == 1 ? CK_INVALID_HANDLE : o + 1;
    return CKR_OK;
}

static void lying_copy_object_is_a_fault(void **state)
{
    (void)state;
    static const hc_logger_t quiet = { "test", -1 };
    CK_FUNCTION_LIST fl = { .version = { 2, 40 } };
    hc_p11_t p = { .fl = &fl, .token = "tok", .module = "/opt/liar.so", .log = &quiet };
    CK_OBJECT_HANDLE h = 7;
    hc_err_t err = { 0 };
    assert_int_equal(hc_p11_copy_object(&p, 1, 42, NULL, 0, &h, &err), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(h, CK_INVALID_HANDLE);
    fl.C_CopyObject = lying_copy;
    for (copy_mode = 0; copy_mode < 2; copy_mode++) {
        h = 7;
        assert_int_equal(hc_p11_copy_object(&p, 1, 42, NULL, 0, &h, &err), HC_P11_FAULT);
        assert_int_equal(h, CK_INVALID_HANDLE);
        assert_non_null(strstr(err.msg, "token tok: module /opt/liar.so: C_CopyObject "
                                        "returned CKR_OK with handle"));
    }
    assert_int_equal(hc_p11_copy_object(&p, 1, 42, NULL, 0, &h, &err), CKR_OK);
    assert_int_equal(h, 43); /* a new handle: accepted */
}

/* ---- the key index (keyhash.h): lookups by label or id from memory ---- */

/* Once every object has been seen (a context's 16th lookup by label),
 * lookups by label are answered by the index: it must follow the
 * context's own generate and destroy (a second pair under a known label is
 * found, a destroyed key no longer is); a key another context made since
 * is found by the token's search, and one it destroyed and made again
 * under the same label is found anew, not answered from the index. */
static void lookup_by_label_follows_generate_and_destroy(void **state)
{
    (void)state;
    static const unsigned char id1[] = { 0x1d, 1 }, id2[] = { 0x1d, 2 }, id3[] = { 0x1d, 3 };
    hc_ctx_t *a = open_ctx(HC_PROFILE_CLI), *b = open_ctx(HC_PROFILE_CLI);
    for (int i = 0; i < 16; i++) /* the index is built */
        assert_int_equal(count_uri(a, "pkcs11:token=dns;object=ec-key;type=private"), 1);
    hc_obj_t pk, sk, pk2, sk2;
    make_pair(a, "indexed", id1, sizeof id1, true, &pk, &sk);
    assert_int_equal(count_uri(a, "pkcs11:token=dns;object=indexed;type=private"), 1);
    make_pair(a, "indexed", id2, sizeof id2, true, &pk2, &sk2);
    assert_int_equal(count_uri(a, "pkcs11:token=dns;object=indexed;type=private"), 2);
    assert_int_equal(count_uri(a, "pkcs11:token=dns;object=indexed"), 4);
    assert_int_equal(hc_destroy(a, sk, NULL), CKR_OK);
    assert_int_equal(count_uri(a, "pkcs11:token=dns;object=indexed;type=private"), 1);
    assert_true(one_key(a, "pkcs11:token=dns;object=indexed;type=private") == sk2);
    hc_obj_t pk3, sk3;
    make_pair(b, "made-elsewhere", id3, sizeof id3, true, &pk3, &sk3);
    hc_obj_t found = one_key(a, "pkcs11:token=dns;object=made-elsewhere;type=private");
    sign_key(a, found, b, pk3);
    /* Made again elsewhere under the same label, another id: a's index
     * still names the old key, which must not be the answer. */
    static const unsigned char id4[] = { 0x1d, 4 };
    assert_int_equal(hc_destroy(b, sk3, NULL), CKR_OK);
    assert_int_equal(hc_destroy(b, pk3, NULL), CKR_OK);
    make_pair(b, "made-elsewhere", id4, sizeof id4, true, &pk3, &sk3);
    found = one_key(a, "pkcs11:token=dns;object=made-elsewhere;type=private");
    sign_key(a, found, b, pk3);
    assert_int_equal(hc_destroy(a, sk2, NULL), CKR_OK);
    assert_int_equal(hc_destroy(a, pk, NULL), CKR_OK);
    assert_int_equal(hc_destroy(a, pk2, NULL), CKR_OK);
    hc_close(b);
    hc_close(a);
}

static void missing_pin_file_is_explained(void **state)
{
    (void)state;
    char path[512], moved[520];
    snprintf(path, sizeof path, "%s/pins/dns", getenv("HC_TEST_DIR"));
    snprintf(moved, sizeof moved, "%s.away", path);
    assert_int_equal(rename(path, moved), 0);
    hc_ctx_t *ctx = open_ctx(HC_PROFILE_CLI);
    hc_err_t err = { 0 };
    assert_int_not_equal(hc_login_check(ctx, 0, &err), CKR_OK);
    assert_non_null(strstr(err.msg, "hsmcache pin set dns"));
    hc_close(ctx);
    assert_int_equal(rename(moved, path), 0);
}

int main(void)
{
    if (!getenv("HC_TEST_DIR")) {
        fprintf(stderr, "run through tests/unit/with-token.sh\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_is_present_with_stored_pin),
        cmocka_unit_test(uris_find_keys_by_name_label_and_refuse_pins),
        cmocka_unit_test(sign_offloads_hash_and_verifies),
        cmocka_unit_test(cache_serves_repeats_across_restarts),
        cmocka_unit_test(cache_never_answers_for_another_key),
        cmocka_unit_test(tampered_disk_entry_is_never_served),
        cmocka_unit_test(keygen_replaces_missing_or_pdns_constant_id),
        cmocka_unit_test(signing_uses_one_session_copy_per_key),
        cmocka_unit_test(copy_never_outlives_a_recreated_key),
        cmocka_unit_test(key_the_token_will_not_copy_still_signs),
        cmocka_unit_test(lying_copy_object_is_a_fault),
        cmocka_unit_test(lookup_by_label_follows_generate_and_destroy),
        cmocka_unit_test(missing_pin_file_is_explained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
