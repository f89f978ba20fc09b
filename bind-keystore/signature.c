/* signature.c: ECDSA, RSA (PKCS#1 v1.5, PSS) and Ed25519 with keys in
 * the HSM. Digest-sign hashes here and sends the token only the hash
 * (ECDSA) or the DigestInfo / hash (RSA PKCS#1 / PSS) through the core;
 * EdDSA hashes inside the algorithm, so the token gets the message. Signature
 * caching is off for this profile: each call is one HSM signature. */
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "prov.h"
#include "swcrypto.h"

typedef struct hp_sig {
    hp_prov_t *prov;
    hp_key_t *key;
    EVP_MD *md;              /* NULL: the data is already a digest */
    EVP_MD_CTX *mdctx;
    int pad;                 /* RSA_PKCS1_PADDING or RSA_PKCS1_PSS_PADDING */
    int saltlen;             /* PSS: -1 digest length, -2 max */
    EVP_MD *mgf1;
} hp_sig_t;

static void *sig_new(void *provctx, const char *propq)
{
    (void)propq;
    hp_sig_t *s = calloc(1, sizeof *s);
    if (s) {
        s->prov = provctx;
        s->pad = RSA_PKCS1_PADDING;
        s->saltlen = RSA_PSS_SALTLEN_DIGEST;
    }
    return s;
}

static void sig_free(void *ctx)
{
    hp_sig_t *s = ctx;
    hp_key_unref(s->key);
    EVP_MD_free(s->md);
    EVP_MD_free(s->mgf1);
    EVP_MD_CTX_free(s->mdctx);
    free(s);
}

/* OpenSSL duplicates the context before finalizing a digest-sign. */
static void *sig_dup(void *ctx)
{
    const hp_sig_t *s = ctx;
    hp_sig_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    *d = *s;
    d->mdctx = NULL;
    if (d->key)
        hp_key_ref(d->key);
    if (d->md)
        EVP_MD_up_ref(d->md);
    if (d->mgf1)
        EVP_MD_up_ref(d->mgf1);
    if (s->mdctx && (!(d->mdctx = EVP_MD_CTX_new()) || !EVP_MD_CTX_copy_ex(d->mdctx, s->mdctx))) {
        sig_free(d);
        return NULL;
    }
    return d;
}

static int set_md(hp_sig_t *s, const char *name)
{
    EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
    if (!md)
        return 0;
    EVP_MD_free(s->md);
    s->md = md;
    return 1;
}

static int sig_set_params(void *ctx, const OSSL_PARAM params[])
{
    hp_sig_t *s = ctx;
    const OSSL_PARAM *p;
    char name[64], *np = name;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST)) &&
        (!OSSL_PARAM_get_utf8_string(p, &np, sizeof name) || !set_md(s, name)))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE))) {
        if (p->data_type == OSSL_PARAM_INTEGER) {
            if (!OSSL_PARAM_get_int(p, &s->pad))
                return 0;
        } else if (OSSL_PARAM_get_utf8_string(p, &np, sizeof name)) {
            s->pad = !strcmp(name, OSSL_PKEY_RSA_PAD_MODE_PSS) ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING;
        }
        if (s->pad != RSA_PKCS1_PADDING && s->pad != RSA_PKCS1_PSS_PADDING)
            return 0;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN))) {
        if (p->data_type == OSSL_PARAM_INTEGER) {
            if (!OSSL_PARAM_get_int(p, &s->saltlen))
                return 0;
        } else if (OSSL_PARAM_get_utf8_string(p, &np, sizeof name)) {
            s->saltlen = !strcmp(name, "digest") ? RSA_PSS_SALTLEN_DIGEST
                         : !strcmp(name, "max") ? RSA_PSS_SALTLEN_MAX : atoi(name);
        }
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST))) {
        EVP_MD *m;
        if (!OSSL_PARAM_get_utf8_string(p, &np, sizeof name) || !(m = EVP_MD_fetch(NULL, name, NULL)))
            return 0;
        EVP_MD_free(s->mgf1);
        s->mgf1 = m;
    }
    return 1;
}

static const OSSL_PARAM *sig_settable(void *ctx, void *provctx)
{
    (void)ctx;
    (void)provctx;
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
        OSSL_PARAM_END,
    };
    return p;
}

/* AlgorithmIdentifier of the signature, for certificates and CSRs. */
static int algorithm_id(const hp_sig_t *s, unsigned char *out, size_t size, size_t *len)
{
    int nid = NID_undef;
    if (s->key->type == EVP_PKEY_EC && s->md)
        OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(s->md), NID_X9_62_id_ecPublicKey);
    else if (s->key->type == EVP_PKEY_RSA && s->md && s->pad == RSA_PKCS1_PADDING)
        OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(s->md), NID_rsaEncryption);
    else if (s->key->type == EVP_PKEY_ED25519)
        nid = NID_ED25519;
    if (nid == NID_undef)
        return 0; /* PSS parameters: not offered */
    X509_ALGOR *a = X509_ALGOR_new();
    unsigned char *der = NULL;
    int n = -1;
    if (a && X509_ALGOR_set0(a, OBJ_nid2obj(nid),
                             s->key->type == EVP_PKEY_RSA ? V_ASN1_NULL : V_ASN1_UNDEF, NULL))
        n = i2d_X509_ALGOR(a, &der);
    X509_ALGOR_free(a);
    if (n <= 0 || (size_t)n > size) {
        OPENSSL_free(der);
        return 0;
    }
    memcpy(out, der, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(der);
    return 1;
}

static int sig_get_params(void *ctx, OSSL_PARAM params[])
{
    hp_sig_t *s = ctx;
    OSSL_PARAM *p;
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID))) {
        unsigned char der[64];
        size_t len;
        if (!s->key || !algorithm_id(s, der, sizeof der, &len) ||
            !OSSL_PARAM_set_octet_string(p, der, len))
            return 0;
    }
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST)) &&
        !OSSL_PARAM_set_utf8_string(p, s->md ? EVP_MD_get0_name(s->md) : ""))
        return 0;
    return 1;
}

static const OSSL_PARAM *sig_gettable(void *ctx, void *provctx)
{
    (void)ctx;
    (void)provctx;
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_END,
    };
    return p;
}

static int sig_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
    hp_sig_t *s = ctx;
    hp_key_t *k = provkey;
    if (!k || !k->priv) {
        hp_raise(s->prov, "not a private key in an HSM");
        return 0;
    }
    hp_key_ref(k);
    hp_key_unref(s->key);
    s->key = k;
    return sig_set_params(s, params);
}

/* Size of this key's signatures in the form OpenSSL wants (DER for ECDSA). */
static size_t max_size(const hp_sig_t *s)
{
    return (size_t)EVP_PKEY_get_size(s->key->pub);
}

static CK_RSA_PKCS_MGF_TYPE mgf_of(const EVP_MD *md)
{
    switch (EVP_MD_get_type(md)) {
    case NID_sha1: return CKG_MGF1_SHA1;
    case NID_sha224: return CKG_MGF1_SHA224;
    case NID_sha384: return CKG_MGF1_SHA384;
    case NID_sha512: return CKG_MGF1_SHA512;
    default: return CKG_MGF1_SHA256;
    }
}

static CK_MECHANISM_TYPE ckm_of(const EVP_MD *md)
{
    switch (EVP_MD_get_type(md)) {
    case NID_sha1: return CKM_SHA_1;
    case NID_sha224: return CKM_SHA224;
    case NID_sha384: return CKM_SHA384;
    case NID_sha512: return CKM_SHA512;
    default: return CKM_SHA256;
    }
}

/* Signs a digest (or, with no digest set, raw RSA PKCS#1 input, or the
 * whole message for EdDSA). */
static int sign_digest(hp_sig_t *s, unsigned char *sig, size_t *siglen, size_t sigsize,
                       const unsigned char *tbs, size_t tbslen)
{
    if (!sig) {
        *siglen = max_size(s);
        return 1;
    }
    hc_ctx_t *ctx = hp_ctx(s->prov);
    if (!ctx)
        return 0;
    unsigned char in[128], raw[HC_MAX_SIG];
    size_t in_len = tbslen, raw_len = sizeof raw;
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
    const unsigned char *data = tbs;
    if (s->key->type == EVP_PKEY_RSA && s->pad == RSA_PKCS1_PSS_PADDING) {
        if (!s->md)
            return 0;
        const EVP_MD *mgf = s->mgf1 ? s->mgf1 : s->md;
        int salt = s->saltlen == RSA_PSS_SALTLEN_DIGEST ? EVP_MD_get_size(s->md)
                   : s->saltlen < 0 ? (int)max_size(s) - EVP_MD_get_size(s->md) - 2 : s->saltlen;
        pss = (CK_RSA_PKCS_PSS_PARAMS){ ckm_of(s->md), mgf_of(mgf), (CK_ULONG)salt };
        mech = (CK_MECHANISM){ CKM_RSA_PKCS_PSS, &pss, sizeof pss };
    } else if (s->key->type == EVP_PKEY_ED25519) {
        mech.mechanism = CKM_EDDSA;
    } else if (s->key->type == EVP_PKEY_RSA) {
        mech.mechanism = CKM_RSA_PKCS;
        if (s->md) {
            if (!(in_len = hc_digestinfo(s->md, tbs, tbslen, in)))
                return 0;
            data = in;
        }
    }
    hc_err_t err = { 0 };
    if (hc_sign(ctx, s->key->priv, &mech, data, in_len, raw, &raw_len, &err) != CKR_OK) {
        hp_raise(s->prov, "%s", err.msg);
        return 0;
    }
    if (s->key->type != EVP_PKEY_EC) { /* RSA and EdDSA: as the token gives it */
        if (raw_len > sigsize)
            return 0;
        memcpy(sig, raw, raw_len);
        *siglen = raw_len;
        return 1;
    }
    /* ECDSA: the token's r||s becomes DER. */
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)(raw_len / 2), NULL);
    BIGNUM *q = BN_bin2bn(raw + raw_len / 2, (int)(raw_len / 2), NULL);
    int n = -1;
    if (es && r && q && ECDSA_SIG_set0(es, r, q)) {
        r = q = NULL;
        unsigned char *der = NULL;
        n = i2d_ECDSA_SIG(es, &der);
        if (n > 0 && (size_t)n <= sigsize)
            memcpy(sig, der, (size_t)n);
        else
            n = -1;
        OPENSSL_free(der);
    }
    BN_free(r);
    BN_free(q);
    ECDSA_SIG_free(es);
    if (n < 0)
        return 0;
    *siglen = (size_t)n;
    return 1;
}

static int sig_sign(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                    const unsigned char *tbs, size_t tbslen)
{
    return sign_digest(ctx, sig, siglen, sigsize, tbs, tbslen);
}

static int dsign_init(void *ctx, const char *mdname, void *provkey, const OSSL_PARAM params[])
{
    hp_sig_t *s = ctx;
    if (!sig_init(s, provkey, params) || !set_md(s, mdname && mdname[0] ? mdname : "SHA256"))
        return 0;
    if (!s->mdctx && !(s->mdctx = EVP_MD_CTX_new()))
        return 0;
    return EVP_DigestInit_ex(s->mdctx, s->md, NULL);
}

static int dsign_update(void *ctx, const unsigned char *data, size_t len)
{
    hp_sig_t *s = ctx;
    return EVP_DigestUpdate(s->mdctx, data, len);
}

static int dsign_final(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize)
{
    hp_sig_t *s = ctx;
    if (!sig) {
        *siglen = max_size(s);
        return 1;
    }
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    return EVP_DigestFinal_ex(s->mdctx, h, &hl) && sign_digest(s, sig, siglen, sigsize, h, hl);
}

/* EdDSA is one-shot and takes no digest ("" or none from OpenSSL). */
static int eddsa_init(void *ctx, const char *mdname, void *provkey, const OSSL_PARAM params[])
{
    hp_sig_t *s = ctx;
    if (mdname && mdname[0]) {
        hp_raise(s->prov, "Ed25519 takes no digest (got %s)", mdname);
        return 0;
    }
    return sig_init(s, provkey, params);
}

static int eddsa_sign(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                      const unsigned char *tbs, size_t tbslen)
{
    return sign_digest(ctx, sig, siglen, sigsize, tbs, tbslen);
}


/* Verification needs no HSM: the public half is an ordinary libcrypto
 * key, checked here directly (without these, OpenSSL would export the
 * public key to the default provider for every verification, and BIND
 * verifies each signature it makes). */
static int verify_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
    hp_sig_t *s = ctx;
    hp_key_t *k = provkey;
    if (!k)
        return 0;
    hp_key_ref(k);
    hp_key_unref(s->key);
    s->key = k;
    return sig_set_params(s, params);
}

/* Verifies a digest (or raw RSA input) with the public key. */
static int verify_digest(hp_sig_t *s, const unsigned char *sig, size_t siglen,
                         const unsigned char *tbs, size_t tbslen)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, s->key->pub, NULL);
    int ok = pc && EVP_PKEY_verify_init(pc) > 0;
    if (ok && s->key->type == EVP_PKEY_RSA) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pc, s->pad) > 0 &&
             (!s->md || EVP_PKEY_CTX_set_signature_md(pc, s->md) > 0);
        if (ok && s->pad == RSA_PKCS1_PSS_PADDING)
            ok = EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, s->saltlen) > 0 &&
                 (!s->mgf1 || EVP_PKEY_CTX_set_rsa_mgf1_md(pc, s->mgf1) > 0);
    }
    ok = ok && EVP_PKEY_verify(pc, sig, siglen, tbs, tbslen) == 1;
    EVP_PKEY_CTX_free(pc);
    return ok;
}

static int sig_verify(void *ctx, const unsigned char *sig, size_t siglen,
                      const unsigned char *tbs, size_t tbslen)
{
    return verify_digest(ctx, sig, siglen, tbs, tbslen);
}

static int dverify_init(void *ctx, const char *mdname, void *provkey, const OSSL_PARAM params[])
{
    hp_sig_t *s = ctx;
    if (!verify_init(s, provkey, params) || !set_md(s, mdname && mdname[0] ? mdname : "SHA256"))
        return 0;
    if (!s->mdctx && !(s->mdctx = EVP_MD_CTX_new()))
        return 0;
    return EVP_DigestInit_ex(s->mdctx, s->md, NULL);
}

static int dverify_final(void *ctx, const unsigned char *sig, size_t siglen)
{
    hp_sig_t *s = ctx;
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    return EVP_DigestFinal_ex(s->mdctx, h, &hl) && verify_digest(s, sig, siglen, h, hl);
}

static int eddsa_verify_init(void *ctx, const char *mdname, void *provkey, const OSSL_PARAM params[])
{
    if (mdname && mdname[0])
        return 0;
    return verify_init(ctx, provkey, params);
}

static int eddsa_verify(void *ctx, const unsigned char *sig, size_t siglen,
                        const unsigned char *tbs, size_t tbslen)
{
    hp_sig_t *s = ctx;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m && EVP_DigestVerifyInit(m, NULL, NULL, NULL, s->key->pub) == 1 &&
             EVP_DigestVerify(m, sig, siglen, tbs, tbslen) == 1;
    EVP_MD_CTX_free(m);
    return ok;
}

#define SIGNATURE_FUNCTIONS                                                            \
    { OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_new },                            \
    { OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_free },                          \
    { OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dup },                            \
    { OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))sig_init },                        \
    { OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sig_sign },                             \
    { OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))dsign_init },               \
    { OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))dsign_update },           \
    { OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))dsign_final },             \
    { OSSL_FUNC_SIGNATURE_VERIFY_INIT, (void (*)(void))verify_init },                   \
    { OSSL_FUNC_SIGNATURE_VERIFY, (void (*)(void))sig_verify },                         \
    { OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, (void (*)(void))dverify_init },           \
    { OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE, (void (*)(void))dsign_update },         \
    { OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL, (void (*)(void))dverify_final },         \
    { OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_params },             \
    { OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))sig_gettable },          \
    { OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_params },             \
    { OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))sig_settable },          \
    { 0, NULL }

const OSSL_DISPATCH hp_ecdsa_signature_functions[] = { SIGNATURE_FUNCTIONS };
const OSSL_DISPATCH hp_rsa_signature_functions[] = { SIGNATURE_FUNCTIONS };

const OSSL_DISPATCH hp_eddsa_signature_functions[] = {
    { OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_new },
    { OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_free },
    { OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dup },
    { OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))eddsa_init },
    { OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))eddsa_sign },
    { OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, (void (*)(void))eddsa_verify_init },
    { OSSL_FUNC_SIGNATURE_DIGEST_VERIFY, (void (*)(void))eddsa_verify },
    { OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_params },
    { OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))sig_gettable },
    { 0, NULL },
};
