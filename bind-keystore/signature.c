/* signature.c: ECDSA, RSA (PKCS#1 v1.5, PSS) and Ed25519 with keys in
 * the HSM. Digest-sign hashes here and sends the token only the hash
 * (ECDSA) or the DigestInfo / hash (RSA PKCS#1 / PSS) through the core;
 * EdDSA hashes inside the algorithm, so the token gets the message. Signature
 * caching is off for this profile: each call is one HSM signature. The
 * parameters (digest, padding, PSS salt and MGF1) are checked when set and
 * against the key before the token is asked; the AlgorithmIdentifier for
 * certificates comes from algid.c. Every refusal puts a message naming
 * the key on OpenSSL's error stack. */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prov.h"

typedef struct hp_sig {
    hp_prov_t *prov;
    hp_key_t *key;
    EVP_MD *md; /* NULL: the data is already a digest */
    EVP_MD_CTX *mdctx;
    int pad;      /* RSA_PKCS1_PADDING or RSA_PKCS1_PSS_PADDING */
    int saltlen;  /* PSS: bytes, or RSA_PSS_SALTLEN_DIGEST/AUTO/MAX */
    EVP_MD *mgf1; /* PSS: NULL means the signature's digest */
} hp_sig_t;

static void *sig_new(void *provctx, const char *propq)
{
    (void)propq;
    hp_sig_t *s = calloc(1, sizeof *s);
    if (s) {
        s->prov = provctx;
        s->pad = RSA_PKCS1_PADDING;
        /* OpenSSL's default provider signs PSS with the longest salt
         * unless told otherwise; so do we, and verify with any. */
        s->saltlen = RSA_PSS_SALTLEN_AUTO;
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

/* An error naming the key when there is one yet; returns 0. */
static int fail(const hp_sig_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const hp_sig_t *s, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s->key)
        hp_raise_key(s->key, "%s", msg);
    else
        hp_raise(s->prov, "%s", msg);
    return 0;
}

/* The digest named `name`, fetched into *slot; 0 and an error if libcrypto
 * has none by that name. */
static int fetch_md(hp_sig_t *s, EVP_MD **slot, const char *name, const char *what)
{
    EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
    if (!md)
        return fail(s, "unknown %s '%s'", what, name);
    EVP_MD_free(*slot);
    *slot = md;
    return 1;
}

/* A text parameter `what` into name; with `md`, also the digest it names
 * fetched into *md. 0 and an error naming the parameter otherwise. */
static int get_name(hp_sig_t *s, const OSSL_PARAM *p, char *name, size_t size, const char *what,
                    EVP_MD **md)
{
    if (!OSSL_PARAM_get_utf8_string(p, &name, size))
        return fail(s, "the %s is not a name of at most %zu bytes", what, size - 1);
    return !md || fetch_md(s, md, name, what);
}

/* A PSS salt length given as text: "digest", "max", "auto" or a decimal
 * number of bytes; anything else is refused. */
static int parse_saltlen(hp_sig_t *s, const char *v)
{
    if (!strcmp(v, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST))
        s->saltlen = RSA_PSS_SALTLEN_DIGEST;
    else if (!strcmp(v, OSSL_PKEY_RSA_PSS_SALT_LEN_MAX))
        s->saltlen = RSA_PSS_SALTLEN_MAX;
    else if (!strcmp(v, OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO))
        s->saltlen = RSA_PSS_SALTLEN_AUTO;
    else {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (!v[0] || *end || errno || v[0] == '-' || v[0] == '+' || n > HC_MAX_SIG)
            return fail(s, "PSS salt length '%s' is not digest, max, auto or 0..%d", v, HC_MAX_SIG);
        s->saltlen = (int)n;
    }
    return 1;
}

static int sig_set_params(void *ctx, const OSSL_PARAM params[])
{
    hp_sig_t *s = ctx;
    const OSSL_PARAM *p;
    char name[64];
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST)) &&
        !get_name(s, p, name, sizeof name, "digest", &s->md))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE))) {
        int pad = 0;
        if (p->data_type == OSSL_PARAM_INTEGER) {
            if (!OSSL_PARAM_get_int(p, &pad))
                return fail(s, "the RSA padding mode is not an int");
        } else if (get_name(s, p, name, sizeof name, "RSA padding mode", NULL)) {
            pad = !strcmp(name, OSSL_PKEY_RSA_PAD_MODE_PSS)       ? RSA_PKCS1_PSS_PADDING
                  : !strcmp(name, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) ? RSA_PKCS1_PADDING
                                                                  : 0;
            if (!pad)
                return fail(s, "RSA padding mode '%s' cannot sign here (pkcs1 or pss)", name);
        } else {
            return 0;
        }
        if (pad != RSA_PKCS1_PADDING && pad != RSA_PKCS1_PSS_PADDING)
            return fail(s, "RSA padding mode %d cannot sign here (PKCS#1 v1.5 or PSS)", pad);
        if (s->key && s->key->type != EVP_PKEY_RSA)
            return fail(s, "an RSA padding mode was given for a %s key",
                        hp_key_type_name(s->key->type));
        s->pad = pad;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN))) {
        if (p->data_type == OSSL_PARAM_INTEGER) {
            int n;
            if (!OSSL_PARAM_get_int(p, &n) || n < RSA_PSS_SALTLEN_MAX || n > HC_MAX_SIG)
                return fail(s, "PSS salt length is not digest (-1), auto (-2), max (-3) or 0..%d",
                            HC_MAX_SIG);
            s->saltlen = n;
        } else if (!get_name(s, p, name, sizeof name, "PSS salt length", NULL) ||
                   !parse_saltlen(s, name)) {
            return 0;
        }
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) &&
        !get_name(s, p, name, sizeof name, "MGF1 digest", &s->mgf1))
        return 0;
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

/* PKCS#11's name for a SHA-1/SHA-2 digest (the signature's hash, or
 * MGF1's), 0 for one the PSS mechanism cannot name. */
static CK_MECHANISM_TYPE ckm_of(const EVP_MD *md, CK_RSA_PKCS_MGF_TYPE *mgf)
{
    switch (EVP_MD_get_type(md)) {
    case NID_sha1: *mgf = CKG_MGF1_SHA1; return CKM_SHA_1;
    case NID_sha224: *mgf = CKG_MGF1_SHA224; return CKM_SHA224;
    case NID_sha256: *mgf = CKG_MGF1_SHA256; return CKM_SHA256;
    case NID_sha384: *mgf = CKG_MGF1_SHA384; return CKM_SHA384;
    case NID_sha512: *mgf = CKG_MGF1_SHA512; return CKM_SHA512;
    default: return 0;
    }
}

/* The PSS parameters this context signs with, checked against the key
 * (RFC 8017 9.1.1: salt <= emLen - hLen - 2, emLen = ceil((bits-1)/8));
 * the salt resolved to bytes. 0 and an error naming the key otherwise. */
static int pss_resolve(hp_sig_t *s, CK_RSA_PKCS_PSS_PARAMS *out)
{
    CK_RSA_PKCS_MGF_TYPE unused, mgf;
    const EVP_MD *m = s->mgf1 ? s->mgf1 : s->md;
    if (!s->md)
        return fail(s, "RSA-PSS needs a digest");
    if (!(out->hashAlg = ckm_of(s->md, &unused)))
        return fail(s, "RSA-PSS with %s: the token's PSS signs SHA-1 or SHA-2 only",
                    EVP_MD_get0_name(s->md));
    if (!ckm_of(m, &mgf))
        return fail(s, "RSA-PSS with MGF1 over %s: the token's PSS takes SHA-1 or SHA-2 only",
                    EVP_MD_get0_name(m));
    int hlen = EVP_MD_get_size(s->md), bits = EVP_PKEY_get_bits(s->key->pub);
    int max = (bits - 1 + 7) / 8 - hlen - 2;
    int salt = s->saltlen == RSA_PSS_SALTLEN_DIGEST ? hlen : s->saltlen < 0 ? max : s->saltlen;
    if (max < 0 || salt > max)
        return fail(s, "RSA-PSS salt of %d bytes with %s does not fit a %d-bit key (at most %d)",
                    salt, EVP_MD_get0_name(s->md), bits, max < 0 ? 0 : max);
    out->mgf = mgf;
    out->sLen = (CK_ULONG)salt;
    return 1;
}

/* OSSL_SIGNATURE_PARAM_ALGORITHM_ID: what `openssl req/x509/ca` put into a
 * certificate or CSR as the signature's algorithm. */
static int get_algorithm_id(hp_sig_t *s, OSSL_PARAM *p)
{
    CK_RSA_PKCS_PSS_PARAMS pss = { 0 };
    bool is_pss = s->key->type == EVP_PKEY_RSA && s->pad == RSA_PKCS1_PSS_PADDING;
    if (is_pss && !pss_resolve(s, &pss))
        return 0;
    const char *why = NULL;
    unsigned char *der = NULL;
    int n = hp_algorithm_id(s->key->type, s->md, is_pss, s->mgf1 ? s->mgf1 : s->md, (int)pss.sLen,
                            &der, &why);
    int ok = n > 0 && OSSL_PARAM_set_octet_string(p, der, (size_t)n);
    OPENSSL_free(der);
    if (!ok)
        return fail(s, "no AlgorithmIdentifier for %s%s%s: %s",
                    is_pss ? "RSA-PSS" : hp_key_type_name(s->key->type), s->md ? " with " : "",
                    s->md ? EVP_MD_get0_name(s->md) : "",
                    n > 0 ? "OpenSSL's buffer is too small" : why);
    return 1;
}

static int sig_get_params(void *ctx, OSSL_PARAM params[])
{
    hp_sig_t *s = ctx;
    OSSL_PARAM *p;
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID)) &&
        (!s->key ? fail(s, "no AlgorithmIdentifier before a key is set") : !get_algorithm_id(s, p)))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST)) &&
        !OSSL_PARAM_set_utf8_string(p, s->md ? EVP_MD_get0_name(s->md) : ""))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) &&
        !(p->data_type == OSSL_PARAM_INTEGER
              ? OSSL_PARAM_set_int(p, s->pad)
              : OSSL_PARAM_set_utf8_string(p, s->pad == RSA_PKCS1_PSS_PADDING
                                                  ? OSSL_PKEY_RSA_PAD_MODE_PSS
                                                  : OSSL_PKEY_RSA_PAD_MODE_PKCSV15)))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN))) {
        char num[16];
        snprintf(num, sizeof num, "%d", s->saltlen);
        if (!(p->data_type == OSSL_PARAM_INTEGER
                  ? OSSL_PARAM_set_int(p, s->saltlen)
                  : OSSL_PARAM_set_utf8_string(
                        p, s->saltlen == RSA_PSS_SALTLEN_DIGEST ? OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST
                           : s->saltlen == RSA_PSS_SALTLEN_MAX  ? OSSL_PKEY_RSA_PSS_SALT_LEN_MAX
                           : s->saltlen == RSA_PSS_SALTLEN_AUTO ? OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO
                                                                : num)))
            return 0;
    }
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST))) {
        const EVP_MD *m = s->mgf1 ? s->mgf1 : s->md;
        if (!OSSL_PARAM_set_utf8_string(p, m ? EVP_MD_get0_name(m) : ""))
            return 0;
    }
    return 1;
}

static const OSSL_PARAM *sig_gettable(void *ctx, void *provctx)
{
    (void)ctx;
    (void)provctx;
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
        OSSL_PARAM_END,
    };
    return p;
}

static int sig_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
    hp_sig_t *s = ctx;
    hp_key_t *k = provkey;
    if (!k || !k->priv) {
        if (k)
            hp_raise(s->prov,
                     "signing needs a private key in an HSM; key %s is a "
                     "public key",
                     k->name);
        else
            hp_raise(s->prov, "signing needs a private key in an HSM; none was given");
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
    CK_RSA_PKCS_PSS_PARAMS pss = { 0 };
    CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
    const unsigned char *data = tbs;
    if (s->key->type == EVP_PKEY_RSA && s->pad == RSA_PKCS1_PSS_PADDING) {
        if (!pss_resolve(s, &pss))
            return 0;
        if (tbslen != (size_t)EVP_MD_get_size(s->md))
            return fail(s, "RSA-PSS with %s signs a %d-byte digest, not %zu bytes",
                        EVP_MD_get0_name(s->md), EVP_MD_get_size(s->md), tbslen);
        mech = (CK_MECHANISM){ CKM_RSA_PKCS_PSS, &pss, sizeof pss };
    } else if (s->key->type == EVP_PKEY_ED25519) {
        mech.mechanism = CKM_EDDSA;
    } else if (s->key->type == EVP_PKEY_RSA) {
        mech.mechanism = CKM_RSA_PKCS;
        if (s->md) {
            CK_RSA_PKCS_MGF_TYPE unused;
            CK_MECHANISM_TYPE dm =
                EVP_MD_get_type(s->md) == NID_md5 ? CKM_MD5 : ckm_of(s->md, &unused);
            if (!(in_len = hc_digest_info(dm, tbs, tbslen, in, sizeof in)))
                return fail(
                    s,
                    "RSA PKCS#1 v1.5 with %s: no DigestInfo for it, or the input is not a %d-byte digest",
                    EVP_MD_get0_name(s->md), EVP_MD_get_size(s->md));
            data = in;
        }
    }
    hc_err_t err = { 0 };
    if (hc_sign(ctx, s->key->priv, &mech, data, in_len, raw, &raw_len, &err) != CKR_OK)
        return fail(s, "%s", err.msg);
    if (s->key->type != EVP_PKEY_EC) { /* RSA and EdDSA: as the token gives it */
        if (raw_len > sigsize)
            return fail(s, "the token's %zu-byte signature exceeds OpenSSL's %zu-byte buffer",
                        raw_len, sigsize);
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
        return fail(
            s,
            "the token's %zu-byte ECDSA signature does not make a DER signature of at most %zu bytes",
            raw_len, sigsize);
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
    if (!sig_init(s, provkey, params) ||
        !fetch_md(s, &s->md, mdname && mdname[0] ? mdname : "SHA256", "digest"))
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
static int eddsa_no_digest(hp_sig_t *s, const char *mdname, const hp_key_t *k)
{
    if (!mdname || !mdname[0])
        return 1;
    hp_raise(s->prov, "Ed25519 takes no digest (got %s)%s%s", mdname, k ? " for key " : "",
             k ? k->name : "");
    return 0;
}

static int eddsa_init(void *ctx, const char *mdname, void *provkey, const OSSL_PARAM params[])
{
    return eddsa_no_digest(ctx, mdname, provkey) && sig_init(ctx, provkey, params);
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
    if (!k || !k->pub) {
        hp_raise(s->prov, "verification needs a key with its public half");
        return 0;
    }
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

static int sig_verify(void *ctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs,
                      size_t tbslen)
{
    return verify_digest(ctx, sig, siglen, tbs, tbslen);
}

static int dverify_init(void *ctx, const char *mdname, void *provkey, const OSSL_PARAM params[])
{
    hp_sig_t *s = ctx;
    if (!verify_init(s, provkey, params) ||
        !fetch_md(s, &s->md, mdname && mdname[0] ? mdname : "SHA256", "digest"))
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

static int eddsa_verify_init(void *ctx, const char *mdname, void *provkey,
                             const OSSL_PARAM params[])
{
    return eddsa_no_digest(ctx, mdname, provkey) && verify_init(ctx, provkey, params);
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
