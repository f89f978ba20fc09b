/* test_swcrypto.c: public keys built from PKCS#11 attributes equal
 * OpenSSL's own; the hash-then-sign offload produces what the full
 * mechanism would (checked by verifying with the full mechanism); bad
 * signatures are caught. Keys here are OpenSSL software keys standing in
 * for the token's, so the raw operations can be done in software. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>

#include "core/swcrypto.h"

static const unsigned char msg[] = "example.com. 3600 IN A 192.0.2.1 (an RRset)";

static unsigned char *der_pub(EVP_PKEY *k, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    assert_true(n > 0);
    *len = (size_t)n;
    return der;
}

/* Raw private-key operation, as the token would do it for a raw mech. */
static size_t raw_sign(EVP_PKEY *k, int padding, const unsigned char *in, size_t in_len,
                       unsigned char *sig)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
    size_t n = HC_MAX_SIG;
    assert_int_equal(EVP_PKEY_sign_init(c), 1);
    if (padding)
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(c, padding), 1);
    assert_int_equal(EVP_PKEY_sign(c, sig, &n, in, in_len), 1);
    EVP_PKEY_CTX_free(c);
    return n;
}

static void rsa_spki_and_offload(void **state)
{
    (void)state;
    EVP_PKEY *k = EVP_RSA_gen(2048);
    BIGNUM *n = NULL, *e = NULL;
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e);
    unsigned char nb[512], eb[8];
    int nl = BN_bn2bin(n, nb), el = BN_bn2bin(e, eb);
    unsigned char *spki;
    size_t spki_len, want_len;
    EVP_PKEY *built = NULL;
    assert_int_equal(hc_spki_build(CKK_RSA, nb, (size_t)nl, eb, (size_t)el, NULL, 0, NULL, 0, &spki,
                                   &spki_len, &built),
                     CKR_OK);
    unsigned char *want = der_pub(k, &want_len);
    assert_int_equal(spki_len, want_len);
    assert_memory_equal(spki, want, want_len);
    assert_int_equal(hc_spki_sig_len(spki, spki_len), 256);
    /* The key handed back is the one the SPKI holds. */
    assert_int_equal(EVP_PKEY_eq(built, k), 1);
    assert_int_equal(hc_pkey_sig_len(built), 256);
    EVP_PKEY_free(built);

    CK_MECHANISM full = { CKM_SHA256_RSA_PKCS, NULL, 0 }, raw;
    unsigned char in[128], sig[HC_MAX_SIG];
    size_t in_len;
    assert_true(hc_offload(&full, true, true, true, msg, sizeof msg, &raw, in, &in_len));
    assert_int_equal(raw.mechanism, CKM_RSA_PKCS);
    assert_int_equal(in_len, 19 + 32); /* DigestInfo for SHA-256 */
    size_t sl = raw_sign(k, RSA_PKCS1_PADDING, in, in_len, sig);
    assert_int_equal(hc_sw_verify(spki, spki_len, &full, msg, sizeof msg, sig, sl), CKR_OK);
    assert_int_equal(hc_sw_verify(spki, spki_len, &raw, in, in_len, sig, sl), CKR_OK);
    sig[10] ^= 1;
    assert_int_equal(hc_sw_verify(spki, spki_len, &full, msg, sizeof msg, sig, sl),
                     CKR_SIGNATURE_INVALID);
    /* No raw mechanism on the token: nothing to offload. */
    assert_false(hc_offload(&full, false, true, true, msg, sizeof msg, &raw, in, &in_len));
    free(spki);
    OPENSSL_free(want);
    BN_free(n);
    BN_free(e);
    EVP_PKEY_free(k);
}

static void ecdsa_offload(const char *curve, CK_MECHANISM_TYPE mech, size_t hash_len,
                          size_t sig_len)
{
    EVP_PKEY *k = EVP_EC_gen(curve);
    unsigned char point[200];
    size_t pl = 0;
    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &pl);
    /* CKA_EC_PARAMS: the curve OID; CKA_EC_POINT: DER OCTET STRING. */
    unsigned char params[32], wrapped[210];
    const unsigned char *der_params;
    size_t params_len;
    {
        ASN1_OBJECT *o = OBJ_nid2obj(OBJ_sn2nid(curve));
        unsigned char *p = params;
        params_len = (size_t)i2d_ASN1_OBJECT(o, &p);
        der_params = params;
    }
    wrapped[0] = 0x04;
    wrapped[1] = (unsigned char)pl;
    memcpy(wrapped + 2, point, pl);
    unsigned char *spki;
    size_t spki_len, want_len;
    EVP_PKEY *built = NULL;
    assert_int_equal(hc_spki_build(CKK_EC, NULL, 0, NULL, 0, der_params, params_len, wrapped,
                                   pl + 2, &spki, &spki_len, &built),
                     CKR_OK);
    unsigned char *want = der_pub(k, &want_len);
    assert_memory_equal(spki, want, want_len);
    assert_int_equal(hc_spki_sig_len(spki, spki_len), sig_len);
    assert_int_equal(EVP_PKEY_eq(built, k), 1);
    assert_int_equal(hc_pkey_sig_len(built), sig_len);
    EVP_PKEY_free(built);

    CK_MECHANISM full = { mech, NULL, 0 }, raw;
    unsigned char in[128], der[HC_MAX_SIG], sig[HC_MAX_SIG];
    size_t in_len;
    assert_true(hc_offload(&full, true, true, true, msg, sizeof msg, &raw, in, &in_len));
    assert_int_equal(raw.mechanism, CKM_ECDSA);
    assert_int_equal(in_len, hash_len);
    size_t dl = raw_sign(k, 0, in, in_len, der);
    /* DER -> r||s, the PKCS#11 form. */
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(es, &r, &s);
    BN_bn2binpad(r, sig, (int)sig_len / 2);
    BN_bn2binpad(s, sig + sig_len / 2, (int)sig_len / 2);
    ECDSA_SIG_free(es);
    assert_int_equal(hc_sw_verify(spki, spki_len, &full, msg, sizeof msg, sig, sig_len), CKR_OK);
    assert_int_equal(hc_sw_verify(spki, spki_len, &raw, in, in_len, sig, sig_len), CKR_OK);
    assert_int_equal(hc_sw_verify(spki, spki_len, &full, msg, sizeof msg, sig, sig_len - 1),
                     CKR_SIGNATURE_LEN_RANGE);
    sig[3] ^= 0x40;
    assert_int_equal(hc_sw_verify(spki, spki_len, &full, msg, sizeof msg, sig, sig_len),
                     CKR_SIGNATURE_INVALID);
    free(spki);
    OPENSSL_free(want);
    EVP_PKEY_free(k);
}

static void ecdsa_p256_offload(void **state)
{
    (void)state;
    ecdsa_offload("prime256v1", CKM_ECDSA_SHA256, 32, 64);
}

static void ecdsa_p384_offload(void **state)
{
    (void)state;
    ecdsa_offload("secp384r1", CKM_ECDSA_SHA384, 48, 96);
}

static void ed25519_spki_and_verify(void **state)
{
    (void)state;
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    unsigned char pub[32], wrapped[34];
    size_t pl = sizeof pub;
    EVP_PKEY_get_raw_public_key(k, pub, &pl);
    wrapped[0] = 0x04;
    wrapped[1] = 32;
    memcpy(wrapped + 2, pub, 32);
    static const unsigned char oid[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
    unsigned char *spki;
    size_t spki_len;
    assert_int_equal(hc_spki_build(CKK_EC_EDWARDS, NULL, 0, NULL, 0, oid, sizeof oid, wrapped,
                                   sizeof wrapped, &spki, &spki_len, NULL),
                     CKR_OK);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char sig[64];
    size_t sl = sizeof sig;
    EVP_DigestSignInit(c, NULL, NULL, NULL, k);
    EVP_DigestSign(c, sig, &sl, msg, sizeof msg);
    EVP_MD_CTX_free(c);
    CK_MECHANISM m = { CKM_EDDSA, NULL, 0 };
    CK_MECHANISM_TYPE none = 0;
    assert_int_equal(hc_sw_verify(spki, spki_len, &m, msg, sizeof msg, sig, sl), CKR_OK);
    CK_MECHANISM unknown = { CKM_SHA256_HMAC, &none, 0 };
    assert_int_equal(hc_sw_verify(spki, spki_len, &unknown, msg, sizeof msg, sig, sl),
                     CKR_MECHANISM_INVALID);
    free(spki);
    EVP_PKEY_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rsa_spki_and_offload),
        cmocka_unit_test(ecdsa_p256_offload),
        cmocka_unit_test(ecdsa_p384_offload),
        cmocka_unit_test(ed25519_spki_and_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
