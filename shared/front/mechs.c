/*
 * mechs.c: the mechanisms the front serves and the *Init checks (see
 * mechs.h for the rules and their CKR_ values).
 */
#include "mechs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "front_calls.h"
#include "keyfacts.h"
#include "proto/proto.h"
#include "proto/proto_check.h"
#include "core/swcrypto.h"

#define S CKF_SIGN
#define V CKF_VERIFY
#define E CKF_ENCRYPT
#define D CKF_DECRYPT
#define G CKF_GENERATE_KEY_PAIR

static const struct served {
    CK_MECHANISM_TYPE mech;
    CK_KEY_TYPE key;
    CK_FLAGS ops;
    CK_MECHANISM_TYPE hash; /* hash-and-sign: the hash it fixes */
} served[] = {
    { CKM_RSA_PKCS, CKK_RSA, S | V | E | D, 0 },
    { CKM_RSA_X_509, CKK_RSA, S | V | E | D, 0 },
    { CKM_RSA_PKCS_OAEP, CKK_RSA, E | D, 0 },
    { CKM_MD5_RSA_PKCS, CKK_RSA, S | V, CKM_MD5 },
    { CKM_RIPEMD160_RSA_PKCS, CKK_RSA, S | V, CKM_RIPEMD160 },
    { CKM_SHA1_RSA_PKCS, CKK_RSA, S | V, CKM_SHA_1 },
    { CKM_SHA224_RSA_PKCS, CKK_RSA, S | V, CKM_SHA224 },
    { CKM_SHA256_RSA_PKCS, CKK_RSA, S | V, CKM_SHA256 },
    { CKM_SHA384_RSA_PKCS, CKK_RSA, S | V, CKM_SHA384 },
    { CKM_SHA512_RSA_PKCS, CKK_RSA, S | V, CKM_SHA512 },
    { CKM_RSA_PKCS_PSS, CKK_RSA, S | V, 0 },
    { CKM_SHA1_RSA_PKCS_PSS, CKK_RSA, S | V, CKM_SHA_1 },
    { CKM_SHA224_RSA_PKCS_PSS, CKK_RSA, S | V, CKM_SHA224 },
    { CKM_SHA256_RSA_PKCS_PSS, CKK_RSA, S | V, CKM_SHA256 },
    { CKM_SHA384_RSA_PKCS_PSS, CKK_RSA, S | V, CKM_SHA384 },
    { CKM_SHA512_RSA_PKCS_PSS, CKK_RSA, S | V, CKM_SHA512 },
    { CKM_ECDSA, CKK_EC, S | V, 0 },
    { CKM_ECDSA_SHA1, CKK_EC, S | V, CKM_SHA_1 },
    { CKM_ECDSA_SHA224, CKK_EC, S | V, CKM_SHA224 },
    { CKM_ECDSA_SHA256, CKK_EC, S | V, CKM_SHA256 },
    { CKM_ECDSA_SHA384, CKK_EC, S | V, CKM_SHA384 },
    { CKM_ECDSA_SHA512, CKK_EC, S | V, CKM_SHA512 },
    { CKM_EDDSA, CKK_EC_EDWARDS, S | V, 0 },
    { CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, G, 0 },
    { CKM_EC_KEY_PAIR_GEN, CKK_EC, G, 0 },
    { CKM_EC_EDWARDS_KEY_PAIR_GEN, CKK_EC_EDWARDS, G, 0 },
};

#undef S
#undef V
#undef E
#undef D
#undef G

/* Operation flags of CK_MECHANISM_INFO (PKCS#11 2.40 and 3.0's message
 * flags); the rest (CKF_HW, EC capabilities) describe, and are kept. */
#define OP_FLAGS                                                              \
    ((CK_FLAGS)0x000000feUL | CKF_ENCRYPT | CKF_DECRYPT | CKF_DIGEST |        \
     CKF_SIGN | CKF_SIGN_RECOVER | CKF_VERIFY | CKF_VERIFY_RECOVER |          \
     CKF_GENERATE | CKF_GENERATE_KEY_PAIR | CKF_WRAP | CKF_UNWRAP | CKF_DERIVE)

static const struct served *find_served(CK_MECHANISM_TYPE m)
{
    for (size_t i = 0; i < sizeof served / sizeof *served; i++)
        if (served[i].mech == m)
            return &served[i];
    return NULL;
}

CK_FLAGS hc_front_served_ops(CK_MECHANISM_TYPE m)
{
    const struct served *sv = find_served(m);
    if (sv)
        return sv->ops;
    return hc_sw_digest_md(m) ? CKF_DIGEST : 0;
}

CK_RV hc_front_mech_info(hc_ctx_t *ctx, CK_SLOT_ID slot, CK_MECHANISM_TYPE m,
                         CK_MECHANISM_INFO *info)
{
    CK_FLAGS ops = hc_front_served_ops(m);
    if (!ops)
        return CKR_MECHANISM_INVALID;
    CK_RV rv = hc_mechanism_info(ctx, slot, m, info, NULL);
    if (rv != CKR_OK)
        return rv;
    if (!(info->flags & ops))
        return CKR_MECHANISM_INVALID;
    info->flags = (info->flags & ~OP_FLAGS) | (info->flags & ops);
    return CKR_OK;
}

CK_RV hc_front_mech_list(hc_ctx_t *ctx, CK_SLOT_ID slot, CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
    CK_ULONG n = 0;
    CK_RV rv = hc_mechanisms(ctx, slot, NULL, &n, NULL);
    if (rv != CKR_OK)
        return rv;
    CK_MECHANISM_TYPE *all = malloc((n ? n : 1) * sizeof *all);
    if (!all)
        return CKR_HOST_MEMORY;
    /* The token's list may have grown since (a reconnect): asked again. */
    if ((rv = hc_mechanisms(ctx, slot, all, &n, NULL)) != CKR_OK) {
        free(all);
        return rv == CKR_BUFFER_TOO_SMALL ? CKR_DEVICE_ERROR : rv;
    }
    CK_ULONG kept = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_MECHANISM_INFO info;
        if (!hc_front_served_ops(all[i]))
            continue;
        rv = hc_front_mech_info(ctx, slot, all[i], &info);
        if (rv == CKR_MECHANISM_INVALID)
            continue;
        if (rv != CKR_OK) {
            free(all);
            return rv;
        }
        all[kept++] = all[i];
    }
    if (list && *count < kept)
        rv = CKR_BUFFER_TOO_SMALL;
    else if (list)
        memcpy(list, all, kept * sizeof *list);
    *count = kept;
    free(all);
    return rv;
}

static const char *op_call(CK_FLAGS op)
{
    switch (op) {
    case CKF_SIGN: return "C_SignInit";
    case CKF_VERIFY: return "C_VerifyInit";
    case CKF_ENCRYPT: return "C_EncryptInit";
    default: return "C_DecryptInit";
    }
}

static const char *op_attr(CK_FLAGS op)
{
    switch (op) {
    case CKF_SIGN: return "CKA_SIGN";
    case CKF_VERIFY: return "CKA_VERIFY";
    case CKF_ENCRYPT: return "CKA_ENCRYPT";
    default: return "CKA_DECRYPT";
    }
}

/* "CKK_RSA", or the type in hex. */
static const char *key_type_name(CK_KEY_TYPE t, char *buf, size_t size)
{
    switch (t) {
    case CKK_RSA: return "CKK_RSA";
    case CKK_EC: return "CKK_EC";
    case CKK_EC_EDWARDS: return "CKK_EC_EDWARDS";
    case CKK_DSA: return "CKK_DSA";
    case CKK_GENERIC_SECRET: return "CKK_GENERIC_SECRET";
    case CKK_AES: return "CKK_AES";
    default: snprintf(buf, size, "key type 0x%lx", (unsigned long)t); return buf;
    }
}

/* Logs a refusal and returns `rv`. */
__attribute__((format(printf, 6, 7))) static CK_RV refuse(const hc_vsession_t *s, CK_FLAGS op,
                                                          const CK_MECHANISM *m, const char *key,
                                                          CK_RV rv, const char *fmt, ...)
{
    char why[256], b[32], mb[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    const char *mname = hc_mech_name(m->mechanism);
    if (!mname) {
        snprintf(mb, sizeof mb, "mechanism 0x%lx", (unsigned long)m->mechanism);
        mname = mb;
    }
    hc_log(&hc_front_log, HC_LOG_WARN, "token %s: %s with %s%s%s: %s: %s",
           hc_token_name(s->ctx, s->slot), op_call(op), mname, key ? " on key " : "",
           key ? key : "", hc_rv_name(rv, b), why);
    return rv;
}

static bool is_pss(CK_MECHANISM_TYPE m)
{
    return m == CKM_RSA_PKCS_PSS || m == CKM_SHA1_RSA_PKCS_PSS || m == CKM_SHA224_RSA_PKCS_PSS ||
           m == CKM_SHA256_RSA_PKCS_PSS || m == CKM_SHA384_RSA_PKCS_PSS ||
           m == CKM_SHA512_RSA_PKCS_PSS;
}

/* The parameter kind a mechanism's parameter is read as (as proto.c's
 * hc_w_mech sends it to the agent), for hc_mech_check. */
static hc_param_kind_t param_kind(const CK_MECHANISM *m)
{
    CK_ULONG n = m->pParameter ? m->ulParameterLen : 0;
    if (n == 0)
        return HC_PARAM_NONE;
    if (m->mechanism == CKM_RSA_PKCS_OAEP && n == sizeof(CK_RSA_PKCS_OAEP_PARAMS))
        return HC_PARAM_OAEP;
    if (m->mechanism == CKM_EDDSA && n == sizeof(hc_eddsa_params_t))
        return HC_PARAM_EDDSA;
    if (is_pss(m->mechanism) && n == sizeof(CK_RSA_PKCS_PSS_PARAMS))
        return HC_PARAM_PSS;
    return HC_PARAM_NONE; /* with raw bytes: refused */
}

/* The hash of an MGF1 (0 for another generator). */
static CK_MECHANISM_TYPE mgf_hash(CK_RSA_PKCS_MGF_TYPE g)
{
    switch (g) {
    case CKG_MGF1_SHA1: return CKM_SHA_1;
    case CKG_MGF1_SHA224: return CKM_SHA224;
    case CKG_MGF1_SHA256: return CKM_SHA256;
    case CKG_MGF1_SHA384: return CKM_SHA384;
    case CKG_MGF1_SHA512: return CKM_SHA512;
    default: return 0;
    }
}

/* The parameter checks beyond hc_mech_check's shape (mechs.h). */
static CK_RV check_param(hc_vsession_t *s, CK_FLAGS op, const CK_MECHANISM *m,
                         const struct served *sv, hc_obj_t key, const char *kname)
{
    hc_param_kind_t kind = param_kind(m);
    CK_ULONG raw = kind == HC_PARAM_NONE && m->pParameter ? m->ulParameterLen : 0;
    char why[200];
    CK_RV rv = hc_mech_check(m, kind, raw, why, sizeof why);
    if (rv != CKR_OK)
        return refuse(s, op, m, kname, rv, "%s", why);
    if (kind == HC_PARAM_EDDSA) {
        const hc_eddsa_params_t *p = m->pParameter;
        if (p->phFlag || p->ulContextDataLen)
            return refuse(s, op, m, kname, CKR_MECHANISM_PARAM_INVALID,
                          "the front serves pure EdDSA only (no prehash, no context)");
    }
    if (kind == HC_PARAM_OAEP) {
        const CK_RSA_PKCS_OAEP_PARAMS *p = m->pParameter;
        if (mgf_hash(p->mgf) != p->hashAlg)
            return refuse(s, op, m, kname, CKR_MECHANISM_PARAM_INVALID,
                          "OAEP MGF1 hash differs from hashAlg 0x%lx", p->hashAlg);
        if (p->ulSourceDataLen > HC_FRONT_MAX_LABEL)
            return refuse(s, op, m, kname, CKR_MECHANISM_PARAM_INVALID,
                          "OAEP label of %lu bytes (the front keeps at most %u)",
                          p->ulSourceDataLen, HC_FRONT_MAX_LABEL);
    }
    if (kind == HC_PARAM_PSS) {
        const CK_RSA_PKCS_PSS_PARAMS *p = m->pParameter;
        if (sv->hash && p->hashAlg != sv->hash)
            return refuse(s, op, m, kname, CKR_MECHANISM_PARAM_INVALID,
                          "PSS hashAlg 0x%lx is not the mechanism's own hash 0x%lx", p->hashAlg,
                          sv->hash);
        if (mgf_hash(p->mgf) != p->hashAlg)
            return refuse(s, op, m, kname, CKR_MECHANISM_PARAM_INVALID,
                          "PSS MGF1 hash differs from hashAlg 0x%lx", p->hashAlg);
        const EVP_MD *md = hc_sw_digest_md(p->hashAlg);
        size_t k = 0;
        /* The key's size is known once its public key was read (the core
         * keeps it); unknown, the token judges the salt at C_Sign. */
        if (md && hc_signature_length(s->ctx, key, &k, NULL) == CKR_OK && k &&
            p->sLen + (size_t)EVP_MD_get_size(md) + 2 > k)
            return refuse(s, op, m, kname, CKR_MECHANISM_PARAM_INVALID,
                          "PSS salt of %lu bytes does not fit a %zu-byte key with "
                          "a %d-byte hash",
                          p->sLen, k, EVP_MD_get_size(md));
    }
    return CKR_OK;
}

/* Whether a key with facts f may be used for op with mech (sv its row):
 * CKR_OK, or the module's refusal with why (not logged here). */
static CK_RV judge_key(const hc_keyfacts_t *f, CK_FLAGS op, const CK_MECHANISM *mech,
                       const struct served *sv, char *why, size_t size)
{
    bool private_op = op == CKF_SIGN || op == CKF_DECRYPT;
    if (!(f->usage & op)) {
        snprintf(why, size, "the key's %s is not CK_TRUE", op_attr(op));
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    }
    if (f->cls != (private_op ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY)) {
        snprintf(why, size, "%s needs a %s key", op_call(op), private_op ? "private" : "public");
        return CKR_KEY_TYPE_INCONSISTENT;
    }
    bool allowed = !f->allowed_known || f->nallowed == 0;
    for (CK_ULONG i = 0; i < f->nallowed && !allowed; i++)
        allowed = f->allowed[i] == mech->mechanism;
    if (!allowed) {
        snprintf(why, size, "not in the key's CKA_ALLOWED_MECHANISMS");
        return CKR_MECHANISM_INVALID;
    }
    char b1[32], b2[32];
    if (f->type != sv->key) {
        snprintf(why, size, "the key is %s, the mechanism needs %s",
                 key_type_name(f->type, b1, sizeof b1), key_type_name(sv->key, b2, sizeof b2));
        return CKR_KEY_TYPE_INCONSISTENT;
    }
    return CKR_OK;
}

CK_RV hc_front_check_init(hc_vsession_t *s, CK_FLAGS op, const CK_MECHANISM *mech, hc_obj_t key)
{
    if (!mech)
        return CKR_ARGUMENTS_BAD;
    if (mech->ulParameterLen && !mech->pParameter)
        return refuse(s, op, mech, NULL, CKR_MECHANISM_PARAM_INVALID,
                      "a %lu-byte parameter at NULL", mech->ulParameterLen);
    const struct served *sv = find_served(mech->mechanism);
    CK_MECHANISM_INFO info;
    CK_RV rv = sv && (sv->ops & op) ? hc_front_mech_info(s->ctx, s->slot, mech->mechanism, &info)
                                    : CKR_MECHANISM_INVALID;
    if (rv == CKR_OK && !(info.flags & op))
        rv = CKR_MECHANISM_INVALID;
    if (rv == CKR_MECHANISM_INVALID)
        return refuse(s, op, mech, NULL, rv,
                      "not served for %s by the front and "
                      "the token",
                      op_call(op));
    if (rv != CKR_OK)
        return rv; /* the token's own answer (absent...) */
    hc_keyfacts_t f;
    bool cached = false;
    rv = hc_keyfacts_get(s->ctx, key, &f, &cached);
    if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID)
        return CKR_KEY_HANDLE_INVALID;
    if (rv == CKR_OK) {
        char why[160];
        CK_RV no = judge_key(&f, op, mech, sv, why, sizeof why);
        /* Kept facts may be of a key another process has since destroyed
         * and made again under the same identity (the core follows it):
         * a refusal on kept facts is judged again on fresh ones. */
        if (no != CKR_OK && cached && (rv = hc_keyfacts_reread(s->ctx, key, &f)) == CKR_OK)
            no = judge_key(&f, op, mech, sv, why, sizeof why);
        if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID)
            return CKR_KEY_HANDLE_INVALID;
        if (rv == CKR_OK && no != CKR_OK)
            return refuse(s, op, mech, f.label, no, "%s", why);
    }
    return check_param(s, op, mech, sv, key, rv == CKR_OK ? f.label : NULL);
}
