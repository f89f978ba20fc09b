/* swcrypto.c: public keys, verification, digests and offload in libcrypto. */
#include "core/swcrypto.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

void hc_sha256(const unsigned char *data, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

/* Strips a DER OCTET STRING wrapper from CKA_EC_POINT if present. */
static void unwrap_point(const unsigned char **p, size_t *len)
{
    const unsigned char *q = *p;
    size_t n = *len;
    if (n < 2 || q[0] != 0x04)
        return;
    size_t hdr, body;
    if (q[1] < 0x80) {
        hdr = 2;
        body = q[1];
    } else if (q[1] == 0x81 && n >= 3) {
        hdr = 3;
        body = q[2];
    } else if (q[1] == 0x82 && n >= 4) {
        hdr = 4;
        body = ((size_t)q[2] << 8) | q[3];
    } else {
        return;
    }
    if (hdr + body == n) {
        *p = q + hdr;
        *len = body;
    }
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) > 0)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_key(const unsigned char *n, size_t nl, const unsigned char *e, size_t el)
{
    BIGNUM *bn_n = BN_bin2bn(n, (int)nl, NULL), *bn_e = BN_bin2bn(e, (int)el, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (bn_n && bn_e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
        pkey = from_params("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

static int params_nid(const unsigned char *params, size_t len)
{
    const unsigned char *p = params;
    ASN1_OBJECT *obj = d2i_ASN1_OBJECT(NULL, &p, (long)len);
    int nid = obj ? OBJ_obj2nid(obj) : NID_undef;
    ASN1_OBJECT_free(obj);
    if (nid == NID_undef && len >= 2 && params[0] == 0x13) {
        /* PrintableString form some tokens use for Edwards curves. */
        if (len - 2 == 12 && memcmp(params + 2, "edwards25519", 12) == 0)
            nid = NID_ED25519;
    }
    return nid;
}

static EVP_PKEY *ec_key(const unsigned char *params, size_t pl, const unsigned char *point,
                        size_t ptl)
{
    int nid = params_nid(params, pl);
    unwrap_point(&point, &ptl);
    if (nid == NID_ED25519 || nid == NID_ED448)
        return EVP_PKEY_new_raw_public_key(nid == NID_ED25519 ? EVP_PKEY_ED25519 : EVP_PKEY_ED448,
                                           NULL, point, ptl);
    const char *group = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (group && bld &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, ptl))
        pkey = from_params("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

CK_RV hc_spki_build(CK_KEY_TYPE type, const unsigned char *modulus, size_t modulus_len,
                    const unsigned char *exponent, size_t exponent_len,
                    const unsigned char *ec_params, size_t ec_params_len,
                    const unsigned char *ec_point, size_t ec_point_len, unsigned char **spki,
                    size_t *len, EVP_PKEY **pkey_out)
{
    EVP_PKEY *pkey = NULL;
    if (type == CKK_RSA && modulus && exponent)
        pkey = rsa_key(modulus, modulus_len, exponent, exponent_len);
    else if ((type == CKK_EC || type == CKK_EC_EDWARDS) && ec_params && ec_point)
        pkey = ec_key(ec_params, ec_params_len, ec_point, ec_point_len);
    if (!pkey)
        return CKR_KEY_TYPE_INCONSISTENT;
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(pkey, &der);
    *spki = n > 0 ? malloc((size_t)n) : NULL;
    if (!*spki) {
        OPENSSL_free(der);
        EVP_PKEY_free(pkey);
        return n > 0 ? CKR_HOST_MEMORY : CKR_KEY_TYPE_INCONSISTENT;
    }
    memcpy(*spki, der, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(der);
    if (pkey_out)
        *pkey_out = pkey;
    else
        EVP_PKEY_free(pkey);
    return CKR_OK;
}

size_t hc_pkey_sig_len(const EVP_PKEY *pkey)
{
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA: return (size_t)EVP_PKEY_get_size(pkey);
    case EVP_PKEY_EC: return 2 * (((size_t)EVP_PKEY_get_bits(pkey) + 7) / 8);
    case EVP_PKEY_ED25519: return 64;
    case EVP_PKEY_ED448: return 114;
    default: return 0;
    }
}

size_t hc_spki_sig_len(const unsigned char *spki, size_t len)
{
    const unsigned char *p = spki;
    EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)len);
    if (!pkey)
        return 0;
    size_t n = hc_pkey_sig_len(pkey);
    EVP_PKEY_free(pkey);
    return n;
}

const EVP_MD *hc_sw_digest_md(CK_MECHANISM_TYPE mech)
{
    switch (mech) {
    case CKM_MD5: return EVP_md5();
    case CKM_SHA_1: return EVP_sha1();
    case CKM_SHA224: return EVP_sha224();
    case CKM_SHA256: return EVP_sha256();
    case CKM_SHA384: return EVP_sha384();
    case CKM_SHA512: return EVP_sha512();
    default: return NULL;
    }
}

/* Digest of a hash-then-sign mechanism, and its family. */
enum family { F_NONE, F_RSA_PKCS, F_RSA_PSS, F_ECDSA };

static const EVP_MD *hashed_md(CK_MECHANISM_TYPE m, enum family *f)
{
    switch (m) {
    case CKM_MD5_RSA_PKCS: *f = F_RSA_PKCS; return EVP_md5();
    case CKM_SHA1_RSA_PKCS: *f = F_RSA_PKCS; return EVP_sha1();
    case CKM_SHA224_RSA_PKCS: *f = F_RSA_PKCS; return EVP_sha224();
    case CKM_SHA256_RSA_PKCS: *f = F_RSA_PKCS; return EVP_sha256();
    case CKM_SHA384_RSA_PKCS: *f = F_RSA_PKCS; return EVP_sha384();
    case CKM_SHA512_RSA_PKCS: *f = F_RSA_PKCS; return EVP_sha512();
    case CKM_SHA1_RSA_PKCS_PSS: *f = F_RSA_PSS; return EVP_sha1();
    case CKM_SHA224_RSA_PKCS_PSS: *f = F_RSA_PSS; return EVP_sha224();
    case CKM_SHA256_RSA_PKCS_PSS: *f = F_RSA_PSS; return EVP_sha256();
    case CKM_SHA384_RSA_PKCS_PSS: *f = F_RSA_PSS; return EVP_sha384();
    case CKM_SHA512_RSA_PKCS_PSS: *f = F_RSA_PSS; return EVP_sha512();
    case CKM_ECDSA_SHA1: *f = F_ECDSA; return EVP_sha1();
    case CKM_ECDSA_SHA224: *f = F_ECDSA; return EVP_sha224();
    case CKM_ECDSA_SHA256: *f = F_ECDSA; return EVP_sha256();
    case CKM_ECDSA_SHA384: *f = F_ECDSA; return EVP_sha384();
    case CKM_ECDSA_SHA512: *f = F_ECDSA; return EVP_sha512();
    default: *f = F_NONE; return NULL;
    }
}

static const EVP_MD *md_of_mgf(CK_RSA_PKCS_MGF_TYPE g)
{
    switch (g) {
    case CKG_MGF1_SHA1: return EVP_sha1();
    case CKG_MGF1_SHA224: return EVP_sha224();
    case CKG_MGF1_SHA256: return EVP_sha256();
    case CKG_MGF1_SHA384: return EVP_sha384();
    case CKG_MGF1_SHA512: return EVP_sha512();
    default: return NULL;
    }
}

/* DER DigestInfo prefixes (RFC 8017 section 9.2, note 1). */
static const unsigned char *digestinfo_prefix(const EVP_MD *md, size_t *len)
{
    static const unsigned char md5[] = { 0x30, 0x20, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0x86, 0xf7, 0x0d, 0x02, 0x05, 0x05, 0x00, 0x04, 0x10 };
    static const unsigned char sha1[] = { 0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
                                          0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14 };
#define SHA2(last, total, hlen) { 0x30, total, 0x30, 0x0d, 0x06, 0x09, 0x60, \
        0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, last, 0x05, 0x00, 0x04, hlen }
    static const unsigned char sha224[] = SHA2(0x04, 0x2d, 0x1c);
    static const unsigned char sha256[] = SHA2(0x01, 0x31, 0x20);
    static const unsigned char sha384[] = SHA2(0x02, 0x41, 0x30);
    static const unsigned char sha512[] = SHA2(0x03, 0x51, 0x40);
#undef SHA2
    switch (EVP_MD_get_type(md)) {
    case NID_md5: *len = sizeof md5; return md5;
    case NID_sha1: *len = sizeof sha1; return sha1;
    case NID_sha224: *len = sizeof sha224; return sha224;
    case NID_sha256: *len = sizeof sha256; return sha256;
    case NID_sha384: *len = sizeof sha384; return sha384;
    case NID_sha512: *len = sizeof sha512; return sha512;
    default: return NULL;
    }
}

size_t hc_digestinfo(const EVP_MD *md, const unsigned char *hash, size_t hlen, unsigned char *out)
{
    size_t pl;
    const unsigned char *prefix = digestinfo_prefix(md, &pl);
    if (!prefix || hlen != (size_t)EVP_MD_get_size(md))
        return 0;
    memcpy(out, prefix, pl);
    memcpy(out + pl, hash, hlen);
    return pl + hlen;
}

bool hc_offload(const CK_MECHANISM *mech, bool has_raw_rsa, bool has_raw_pss, bool has_raw_ecdsa,
                const unsigned char *data, size_t len, CK_MECHANISM *raw, unsigned char *out,
                size_t *out_len)
{
    enum family f;
    const EVP_MD *md = hashed_md(mech->mechanism, &f);
    if (!md || (f == F_RSA_PKCS && !has_raw_rsa) || (f == F_RSA_PSS && !has_raw_pss) ||
        (f == F_ECDSA && !has_raw_ecdsa))
        return false;
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    if (!EVP_Digest(data, len, h, &hl, md, NULL))
        return false;
    if (f == F_RSA_PKCS) {
        if (!(*out_len = hc_digestinfo(md, h, hl, out)))
            return false;
        raw->mechanism = CKM_RSA_PKCS;
        raw->pParameter = NULL;
        raw->ulParameterLen = 0;
        return true;
    }
    raw->mechanism = f == F_RSA_PSS ? CKM_RSA_PKCS_PSS : CKM_ECDSA;
    raw->pParameter = f == F_RSA_PSS ? mech->pParameter : NULL;
    raw->ulParameterLen = f == F_RSA_PSS ? mech->ulParameterLen : 0;
    memcpy(out, h, hl);
    *out_len = hl;
    return true;
}

static unsigned char *ecdsa_der(const unsigned char *sig, size_t len, int *der_len)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)(len / 2), NULL);
    BIGNUM *q = BN_bin2bn(sig + len / 2, (int)(len / 2), NULL);
    unsigned char *der = NULL;
    if (s && r && q && ECDSA_SIG_set0(s, r, q)) {
        r = q = NULL;
        *der_len = i2d_ECDSA_SIG(s, &der);
    }
    BN_free(r);
    BN_free(q);
    ECDSA_SIG_free(s);
    return der;
}

/* Sets PSS padding from CK_RSA_PKCS_PSS_PARAMS; `md` is the message hash. */
static bool set_pss(EVP_PKEY_CTX *pctx, const CK_MECHANISM *mech, const EVP_MD **md)
{
    if (!mech->pParameter || mech->ulParameterLen != sizeof(CK_RSA_PKCS_PSS_PARAMS))
        return false;
    const CK_RSA_PKCS_PSS_PARAMS *pp = mech->pParameter;
    const EVP_MD *h = hc_sw_digest_md(pp->hashAlg), *mgf = md_of_mgf(pp->mgf);
    if (!h || !mgf || (*md && EVP_MD_get_type(*md) != EVP_MD_get_type(h)))
        return false;
    *md = h;
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf) > 0 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)pp->sLen) > 0;
}

/* Verifies with a one-shot message digest (hash-then-sign and EdDSA). */
static CK_RV verify_message(EVP_PKEY *pkey, const CK_MECHANISM *mech, const EVP_MD *md,
                            enum family f, const unsigned char *data, size_t len,
                            const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    CK_RV rv = CKR_SIGNATURE_INVALID;
    unsigned char *der = NULL;
    int der_len = 0;
    if (!ctx || EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pkey) <= 0)
        goto out;
    if (f == F_RSA_PKCS && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
        goto out;
    if (f == F_RSA_PSS && !set_pss(pctx, mech, &md)) {
        rv = CKR_MECHANISM_PARAM_INVALID;
        goto out;
    }
    if (f == F_ECDSA) {
        if (sig_len != hc_pkey_sig_len(pkey)) {
            rv = CKR_SIGNATURE_LEN_RANGE;
            goto out;
        }
        if (!(der = ecdsa_der(sig, sig_len, &der_len)))
            goto out;
        sig = der;
        sig_len = (size_t)der_len;
    }
    if (EVP_DigestVerify(ctx, sig, sig_len, data, len) == 1)
        rv = CKR_OK;
out:
    OPENSSL_free(der);
    EVP_MD_CTX_free(ctx);
    return rv;
}

/* Verifies a raw mechanism: the data is already a hash or DigestInfo. */
static CK_RV verify_raw(EVP_PKEY *pkey, const CK_MECHANISM *mech, const unsigned char *data,
                        size_t len, const unsigned char *sig, size_t sig_len)
{
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    CK_RV rv = CKR_SIGNATURE_INVALID;
    unsigned char *der = NULL, *rec = NULL;
    int der_len = 0;
    const EVP_MD *md = NULL;
    size_t klen = hc_pkey_sig_len(pkey);
    if (!pctx)
        goto out;
    if (sig_len != klen) {
        rv = CKR_SIGNATURE_LEN_RANGE;
        goto out;
    }
    switch (mech->mechanism) {
    case CKM_RSA_PKCS:
        if (EVP_PKEY_verify_init(pctx) > 0 &&
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0 &&
            EVP_PKEY_verify(pctx, sig, sig_len, data, len) == 1)
            rv = CKR_OK;
        break;
    case CKM_RSA_PKCS_PSS:
        if (EVP_PKEY_verify_init(pctx) <= 0)
            break;
        if (!set_pss(pctx, mech, &md)) {
            rv = CKR_MECHANISM_PARAM_INVALID;
            break;
        }
        if (EVP_PKEY_CTX_set_signature_md(pctx, md) > 0 &&
            EVP_PKEY_verify(pctx, sig, sig_len, data, len) == 1)
            rv = CKR_OK;
        break;
    case CKM_RSA_X_509: {
        /* Raw RSA: recover and compare with the data, left-padded. */
        size_t rl = klen;
        if (len > klen || !(rec = malloc(klen)) || EVP_PKEY_verify_recover_init(pctx) <= 0 ||
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_NO_PADDING) <= 0 ||
            EVP_PKEY_verify_recover(pctx, rec, &rl, sig, sig_len) != 1 || rl != klen)
            break;
        bool zeros = true;
        for (size_t i = 0; i < klen - len; i++)
            zeros = zeros && rec[i] == 0;
        if (zeros && memcmp(rec + klen - len, data, len) == 0)
            rv = CKR_OK;
        break;
    }
    case CKM_ECDSA:
        if ((der = ecdsa_der(sig, sig_len, &der_len)) && EVP_PKEY_verify_init(pctx) > 0 &&
            EVP_PKEY_verify(pctx, der, (size_t)der_len, data, len) == 1)
            rv = CKR_OK;
        break;
    default: rv = CKR_MECHANISM_INVALID;
    }
out:
    free(rec);
    OPENSSL_free(der);
    EVP_PKEY_CTX_free(pctx);
    return rv;
}

CK_RV hc_sw_verify_pkey(EVP_PKEY *pkey, const CK_MECHANISM *mech, const unsigned char *data,
                        size_t len, const unsigned char *sig, size_t sig_len)
{
    enum family f;
    const EVP_MD *md = hashed_md(mech->mechanism, &f);
    bool eddsa = mech->mechanism == CKM_EDDSA;
    bool raw = mech->mechanism == CKM_RSA_PKCS || mech->mechanism == CKM_RSA_PKCS_PSS ||
               mech->mechanism == CKM_RSA_X_509 || mech->mechanism == CKM_ECDSA;
    if (!md && !eddsa && !raw)
        return CKR_MECHANISM_INVALID;
    if (eddsa && mech->pParameter)
        return CKR_MECHANISM_INVALID; /* Ed25519ctx/ph: let the token do it */
    return raw ? verify_raw(pkey, mech, data, len, sig, sig_len)
               : verify_message(pkey, mech, md, f, data, len, sig, sig_len);
}

CK_RV hc_sw_verify(const unsigned char *spki, size_t spki_len, const CK_MECHANISM *mech,
                   const unsigned char *data, size_t len, const unsigned char *sig, size_t sig_len)
{
    const unsigned char *p = spki;
    EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)spki_len);
    if (!pkey)
        return CKR_MECHANISM_INVALID;
    CK_RV rv = hc_sw_verify_pkey(pkey, mech, data, len, sig, sig_len);
    EVP_PKEY_free(pkey);
    return rv;
}
