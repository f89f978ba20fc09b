/*
 * proto_check.c: the attribute and mechanism whitelists of the agent
 * protocol. See proto_check.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto/proto.h"
#include "proto/proto_check.h"

#ifndef CKM_EDDSA
#define CKM_EDDSA 0x1057UL
#endif
#ifndef CKM_EC_EDWARDS_KEY_PAIR_GEN
#define CKM_EC_EDWARDS_KEY_PAIR_GEN 0x1055UL
#endif

static const struct attr {
    CK_ATTRIBUTE_TYPE type;
    hc_attr_shape_t shape;
    const char *name;
} attrs[] = {
#define A(t, s) { t, HC_SHAPE_##s, #t }
    A(CKA_CLASS, ULONG),
    A(CKA_TOKEN, BOOL),
    A(CKA_PRIVATE, BOOL),
    A(CKA_LABEL, BYTES),
    { 0x4UL, HC_SHAPE_BYTES, "CKA_UNIQUE_ID" },
    A(CKA_APPLICATION, BYTES),
    A(CKA_VALUE, BYTES),
    A(CKA_OBJECT_ID, BYTES),
    A(CKA_CERTIFICATE_TYPE, ULONG),
    A(CKA_ISSUER, BYTES),
    A(CKA_SERIAL_NUMBER, BYTES),
    A(CKA_AC_ISSUER, BYTES),
    A(CKA_OWNER, BYTES),
    A(CKA_ATTR_TYPES, BYTES),
    A(CKA_TRUSTED, BOOL),
    A(CKA_CERTIFICATE_CATEGORY, ULONG),
    A(CKA_JAVA_MIDP_SECURITY_DOMAIN, ULONG),
    A(CKA_URL, BYTES),
    A(CKA_HASH_OF_SUBJECT_PUBLIC_KEY, BYTES),
    A(CKA_HASH_OF_ISSUER_PUBLIC_KEY, BYTES),
    A(CKA_NAME_HASH_ALGORITHM, ULONG),
    A(CKA_CHECK_VALUE, BYTES),
    A(CKA_KEY_TYPE, ULONG),
    A(CKA_SUBJECT, BYTES),
    A(CKA_ID, BYTES),
    A(CKA_SENSITIVE, BOOL),
    A(CKA_ENCRYPT, BOOL),
    A(CKA_DECRYPT, BOOL),
    A(CKA_WRAP, BOOL),
    A(CKA_UNWRAP, BOOL),
    A(CKA_SIGN, BOOL),
    A(CKA_SIGN_RECOVER, BOOL),
    A(CKA_VERIFY, BOOL),
    A(CKA_VERIFY_RECOVER, BOOL),
    A(CKA_DERIVE, BOOL),
    A(CKA_START_DATE, DATE),
    A(CKA_END_DATE, DATE),
    A(CKA_MODULUS, BYTES),
    A(CKA_MODULUS_BITS, ULONG),
    A(CKA_PUBLIC_EXPONENT, BYTES),
    A(CKA_PRIVATE_EXPONENT, BYTES),
    A(CKA_PRIME_1, BYTES),
    A(CKA_PRIME_2, BYTES),
    A(CKA_EXPONENT_1, BYTES),
    A(CKA_EXPONENT_2, BYTES),
    A(CKA_COEFFICIENT, BYTES),
    A(CKA_PUBLIC_KEY_INFO, BYTES),
    A(CKA_PRIME, BYTES),
    A(CKA_SUBPRIME, BYTES),
    A(CKA_BASE, BYTES),
    A(CKA_PRIME_BITS, ULONG),
    A(CKA_SUB_PRIME_BITS, ULONG),
    A(CKA_VALUE_BITS, ULONG),
    A(CKA_VALUE_LEN, ULONG),
    A(CKA_EXTRACTABLE, BOOL),
    A(CKA_LOCAL, BOOL),
    A(CKA_NEVER_EXTRACTABLE, BOOL),
    A(CKA_ALWAYS_SENSITIVE, BOOL),
    A(CKA_KEY_GEN_MECHANISM, ULONG),
    A(CKA_MODIFIABLE, BOOL),
    A(CKA_COPYABLE, BOOL),
    A(CKA_DESTROYABLE, BOOL),
    A(CKA_EC_PARAMS, BYTES),
    A(CKA_EC_POINT, BYTES),
    A(CKA_ALWAYS_AUTHENTICATE, BOOL),
    A(CKA_WRAP_WITH_TRUSTED, BOOL),
    A(CKA_HW_FEATURE_TYPE, ULONG),
    A(CKA_RESET_ON_INIT, BOOL),
    A(CKA_HAS_RESET, BOOL),
    A(CKA_ALLOWED_MECHANISMS, ULONGS),
#undef A
};

/* Refused types named in logs (they are what an attack sends). */
static const struct attr refused[] = {
    { CKA_WRAP_TEMPLATE, HC_SHAPE_NONE, "CKA_WRAP_TEMPLATE" },
    { CKA_UNWRAP_TEMPLATE, HC_SHAPE_NONE, "CKA_UNWRAP_TEMPLATE" },
    { CKA_DERIVE_TEMPLATE, HC_SHAPE_NONE, "CKA_DERIVE_TEMPLATE" },
};

static const struct attr *find_attr(CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++)
        if (attrs[i].type == type)
            return &attrs[i];
    return NULL;
}

hc_attr_shape_t hc_attr_shape(CK_ATTRIBUTE_TYPE type)
{
    const struct attr *a = find_attr(type);
    return a ? a->shape : HC_SHAPE_NONE;
}

const char *hc_attr_name(CK_ATTRIBUTE_TYPE type)
{
    const struct attr *a = find_attr(type);
    for (size_t i = 0; !a && i < sizeof refused / sizeof *refused; i++)
        if (refused[i].type == type)
            a = &refused[i];
    return a ? a->name : NULL;
}

static void say(char *why, size_t size, const char *fmt, CK_ATTRIBUTE_TYPE type, const char *what)
{
    if (!why || !size)
        return;
    const char *name = hc_attr_name(type);
    char t[48];
    if (name)
        snprintf(t, sizeof t, "%s", name);
    else
        snprintf(t, sizeof t, "0x%lx", (unsigned long)type);
    snprintf(why, size, fmt, t, what);
}

CK_RV hc_attr_check(const CK_ATTRIBUTE *a, char *why, size_t whysize)
{
    CK_ULONG n = a->ulValueLen;
    const unsigned char *v = a->pValue;
    if (n && !v) {
        say(why, whysize, "attribute %s: %s", a->type, "a length without a value");
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    switch (hc_attr_shape(a->type)) {
    case HC_SHAPE_BOOL:
        if (n != sizeof(CK_BBOOL) || v[0] > 1)
            break;
        return CKR_OK;
    case HC_SHAPE_ULONG:
        if (n != sizeof(CK_ULONG))
            break;
        return CKR_OK;
    case HC_SHAPE_BYTES:
        if (n > HC_PROTO_MAX_VALUE)
            break;
        return CKR_OK;
    case HC_SHAPE_DATE:
        if (n != 0 && n != 8)
            break;
        for (CK_ULONG i = 0; i < n; i++)
            if (v[i] < '0' || v[i] > '9')
                goto bad;
        return CKR_OK;
    case HC_SHAPE_ULONGS:
        if (n % sizeof(CK_ULONG) || n > HC_PROTO_MAX_VALUE)
            break;
        return CKR_OK;
    case HC_SHAPE_NONE:
    default:
        say(why, whysize, "attribute %s %s", a->type,
            a->type & CKF_ARRAY_ATTRIBUTE ? "(an array of attributes: its "
                                            "values are pointers) may not cross the agent socket"
                                          : "is not one the agent passes on");
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
bad:
    say(why, whysize, "attribute %s: %s", a->type, "a value of the wrong size or form");
    return CKR_ATTRIBUTE_VALUE_INVALID;
}

CK_RV hc_template_check(const CK_ATTRIBUTE *t, CK_ULONG n, char *why, size_t whysize)
{
    for (CK_ULONG i = 0; i < n; i++) {
        CK_RV rv = hc_attr_check(&t[i], why, whysize);
        if (rv != CKR_OK)
            return rv;
    }
    return CKR_OK;
}

static bool hash_ok(CK_MECHANISM_TYPE h)
{
    return h == CKM_SHA_1 || h == CKM_SHA224 || h == CKM_SHA256 || h == CKM_SHA384 ||
           h == CKM_SHA512;
}

static bool mgf_ok(CK_RSA_PKCS_MGF_TYPE g)
{
    return g == CKG_MGF1_SHA1 || g == CKG_MGF1_SHA224 || g == CKG_MGF1_SHA256 ||
           g == CKG_MGF1_SHA384 || g == CKG_MGF1_SHA512;
}

/* Which parameter a mechanism on the list takes. */
enum want { W_UNKNOWN, W_NONE, W_EDDSA, W_PSS, W_OAEP };

static enum want wants(CK_MECHANISM_TYPE t)
{
    switch (t) {
    case CKM_RSA_PKCS:
    case CKM_RSA_X_509:
    case CKM_SHA1_RSA_PKCS:
    case CKM_SHA224_RSA_PKCS:
    case CKM_SHA256_RSA_PKCS:
    case CKM_SHA384_RSA_PKCS:
    case CKM_SHA512_RSA_PKCS:
    case CKM_MD5_RSA_PKCS:
    case CKM_RIPEMD160_RSA_PKCS:
    case CKM_ECDSA:
    case CKM_ECDSA_SHA1:
    case CKM_ECDSA_SHA224:
    case CKM_ECDSA_SHA256:
    case CKM_ECDSA_SHA384:
    case CKM_ECDSA_SHA512:
    case CKM_RSA_PKCS_KEY_PAIR_GEN:
    case CKM_EC_KEY_PAIR_GEN:
    case CKM_EC_EDWARDS_KEY_PAIR_GEN: return W_NONE;
    case CKM_EDDSA: return W_EDDSA;
    case CKM_RSA_PKCS_PSS:
    case CKM_SHA1_RSA_PKCS_PSS:
    case CKM_SHA224_RSA_PKCS_PSS:
    case CKM_SHA256_RSA_PKCS_PSS:
    case CKM_SHA384_RSA_PKCS_PSS:
    case CKM_SHA512_RSA_PKCS_PSS: return W_PSS;
    case CKM_RSA_PKCS_OAEP: return W_OAEP;
    default: return W_UNKNOWN;
    }
}

static CK_RV param_bad(char *why, size_t size, CK_MECHANISM_TYPE t, const char *what)
{
    if (why && size)
        snprintf(why, size, "mechanism 0x%lx: %s", (unsigned long)t, what);
    return CKR_MECHANISM_PARAM_INVALID;
}

CK_RV hc_mech_check(const CK_MECHANISM *m, hc_param_kind_t kind, size_t raw_len, char *why,
                    size_t whysize)
{
    CK_MECHANISM_TYPE t = m->mechanism;
    enum want w = wants(t);
    if (w == W_UNKNOWN && (kind != HC_PARAM_NONE || raw_len))
        return param_bad(why, whysize, t,
                         "a parameter for a mechanism the agent "
                         "does not pass on");
    if (w == W_UNKNOWN) {
        if (why && whysize)
            snprintf(why, whysize, "mechanism 0x%lx is not one the agent passes on",
                     (unsigned long)t);
        return CKR_MECHANISM_INVALID;
    }
    if (kind == HC_PARAM_NONE && raw_len)
        return param_bad(why, whysize, t,
                         "a parameter as raw bytes (it may hold "
                         "pointers) may not cross the agent socket");
    switch (w) {
    case W_NONE:
        if (kind != HC_PARAM_NONE)
            return param_bad(why, whysize, t, "takes no parameter");
        return CKR_OK;
    case W_EDDSA:
        if (kind != HC_PARAM_NONE && kind != HC_PARAM_EDDSA)
            return param_bad(why, whysize, t, "takes EdDSA's parameter or none");
        if (kind == HC_PARAM_EDDSA &&
            ((const hc_eddsa_params_t *)m->pParameter)->ulContextDataLen > 255)
            return param_bad(why, whysize, t, "EdDSA context longer than 255 bytes");
        return CKR_OK;
    case W_PSS: {
        if (kind != HC_PARAM_PSS)
            return param_bad(why, whysize, t, "needs CK_RSA_PKCS_PSS_PARAMS");
        const CK_RSA_PKCS_PSS_PARAMS *p = m->pParameter;
        if (!hash_ok(p->hashAlg) || !mgf_ok(p->mgf) || p->sLen > 1024)
            return param_bad(why, whysize, t,
                             "PSS hash, MGF or salt length "
                             "outside SHA-1/SHA-2, MGF1, 0..1024");
        return CKR_OK;
    }
    case W_OAEP: {
        if (kind != HC_PARAM_OAEP)
            return param_bad(why, whysize, t, "needs CK_RSA_PKCS_OAEP_PARAMS");
        const CK_RSA_PKCS_OAEP_PARAMS *p = m->pParameter;
        if (!hash_ok(p->hashAlg) || !mgf_ok(p->mgf) ||
            (p->source != 0 && p->source != CKZ_DATA_SPECIFIED) ||
            p->ulSourceDataLen > HC_PROTO_MAX_PARAM || (p->ulSourceDataLen && !p->pSourceData))
            return param_bad(why, whysize, t,
                             "OAEP hash, MGF or label source "
                             "outside SHA-1/SHA-2, MGF1, data");
        return CKR_OK;
    }
    default: return CKR_MECHANISM_INVALID;
    }
}

static const struct mech_name {
    CK_MECHANISM_TYPE t;
    const char *name;
    bool sign; /* a default signature mechanism */
} mech_names[] = {
#define M(t, sign) { t, #t, sign }
    M(CKM_RSA_PKCS, true),
    M(CKM_RSA_X_509, false),
    M(CKM_MD5_RSA_PKCS, true),
    M(CKM_RIPEMD160_RSA_PKCS, true),
    M(CKM_SHA1_RSA_PKCS, true),
    M(CKM_SHA224_RSA_PKCS, true),
    M(CKM_SHA256_RSA_PKCS, true),
    M(CKM_SHA384_RSA_PKCS, true),
    M(CKM_SHA512_RSA_PKCS, true),
    M(CKM_RSA_PKCS_PSS, true),
    M(CKM_SHA1_RSA_PKCS_PSS, true),
    M(CKM_SHA224_RSA_PKCS_PSS, true),
    M(CKM_SHA256_RSA_PKCS_PSS, true),
    M(CKM_SHA384_RSA_PKCS_PSS, true),
    M(CKM_SHA512_RSA_PKCS_PSS, true),
    M(CKM_RSA_PKCS_OAEP, false),
    M(CKM_ECDSA, true),
    M(CKM_ECDSA_SHA1, true),
    M(CKM_ECDSA_SHA224, true),
    M(CKM_ECDSA_SHA256, true),
    M(CKM_ECDSA_SHA384, true),
    M(CKM_ECDSA_SHA512, true),
    M(CKM_EDDSA, true),
    M(CKM_RSA_PKCS_KEY_PAIR_GEN, false),
    M(CKM_EC_KEY_PAIR_GEN, false),
    M(CKM_EC_EDWARDS_KEY_PAIR_GEN, false),
#undef M
};

const char *hc_mech_name(CK_MECHANISM_TYPE t)
{
    for (size_t i = 0; i < sizeof mech_names / sizeof *mech_names; i++)
        if (mech_names[i].t == t)
            return mech_names[i].name;
    return NULL;
}

bool hc_mech_by_name(const char *name, CK_MECHANISM_TYPE *t)
{
    char want[64];
    size_t n = 0;
    if (strncasecmp(name, "CKM_", 4) != 0)
        n = (size_t)snprintf(want, sizeof want, "CKM_");
    for (; *name && n < sizeof want - 1; name++)
        want[n++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
    want[n] = '\0';
    for (size_t i = 0; i < sizeof mech_names / sizeof *mech_names; i++)
        if (!strcmp(mech_names[i].name, want)) {
            *t = mech_names[i].t;
            return true;
        }
    return false;
}

bool hc_mech_default_sign(CK_MECHANISM_TYPE t)
{
    for (size_t i = 0; i < sizeof mech_names / sizeof *mech_names; i++)
        if (mech_names[i].t == t)
            return mech_names[i].sign;
    return false;
}
