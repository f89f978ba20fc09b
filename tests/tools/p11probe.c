/*
 * p11probe.c: asks a PKCS#11 module what front_fidelity.sh checks, one
 * answer per line, CKR_ values by name.
 *
 *   p11probe MODULE mechs
 *       For every mechanism C_GetMechanismList lists on the first slot,
 *       and every operation its C_GetMechanismInfo flags (sign, verify,
 *       encrypt, decrypt, digest, generate_key_pair; any other flag is
 *       printed as "unserved-flag"), does that operation end to end with
 *       a key of the token that fits (signature verified, ciphertext
 *       decrypted back, generated pair destroyed) and prints
 *       "MECH OP CKR_..." (CKR_OK: served).
 *   p11probe MODULE init OP MECH LABEL [PARAM]
 *       OP sign|verify|encrypt|decrypt on the key labelled LABEL (private
 *       key for sign/decrypt, public for verify/encrypt) and prints
 *       "init CKR_..." and, when the init succeeded, "data CKR_..." for
 *       the data call. PARAM: pss:HASH:MGF:SALT (e.g. pss:sha256:sha1:32),
 *       oaep:HASH:MGF, or raw:N (N bytes of parameter, all zero).
 *   p11probe MODULE keypair LABEL [nosign] [allow=MECH] [ro]
 *       An EC P-256 key pair on the token, its private half without
 *       CKA_SIGN (nosign) or limited to MECH (CKA_ALLOWED_MECHANISMS),
 *       made in a read-only session (ro): "keypair CKR_...".
 *   p11probe MODULE destroy LABEL [ro]
 *       C_DestroyObject on the private key labelled LABEL: "destroy CKR_...".
 *   p11probe MODULE seed
 *       C_SeedRandom with 16 bytes: "seed CKR_...".
 *   p11probe MODULE held LABEL MECH1 MECH2 FILE
 *       As PowerDNS keeps a key's handle: finds the private key LABEL once,
 *       signs with MECH1 ("before init CKR_... data CKR_..."), creates
 *       FILE.ready, waits (up to 60 s) for FILE, then signs with MECH2 on
 *       the same handle ("after init CKR_... data CKR_...").
 * Mechanisms by PKCS#11 name (CKM_ECDSA_SHA256) or hex (0x1044). The
 * module is used without C_Login (the hsmcache front needs none). Exits
 * 0 when it could ask, 1 when it could not (module, slot, key missing).
 */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"

static CK_FUNCTION_LIST *f;
static CK_SESSION_HANDLE sess;

#define N(x) { x, #x }
static const struct named {
    unsigned long v;
    const char *name;
} mechs[] = {
    N(CKM_RSA_PKCS),
    N(CKM_RSA_X_509),
    N(CKM_RSA_PKCS_OAEP),
    N(CKM_RSA_PKCS_PSS),
    N(CKM_MD5_RSA_PKCS),
    N(CKM_SHA1_RSA_PKCS),
    N(CKM_SHA224_RSA_PKCS),
    N(CKM_SHA256_RSA_PKCS),
    N(CKM_SHA384_RSA_PKCS),
    N(CKM_SHA512_RSA_PKCS),
    N(CKM_SHA1_RSA_PKCS_PSS),
    N(CKM_SHA224_RSA_PKCS_PSS),
    N(CKM_SHA256_RSA_PKCS_PSS),
    N(CKM_SHA384_RSA_PKCS_PSS),
    N(CKM_SHA512_RSA_PKCS_PSS),
    N(CKM_ECDSA),
    N(CKM_ECDSA_SHA1),
    N(CKM_ECDSA_SHA224),
    N(CKM_ECDSA_SHA256),
    N(CKM_ECDSA_SHA384),
    N(CKM_ECDSA_SHA512),
    N(CKM_EDDSA),
    N(CKM_RSA_PKCS_KEY_PAIR_GEN),
    N(CKM_EC_KEY_PAIR_GEN),
    N(CKM_EC_EDWARDS_KEY_PAIR_GEN),
    N(CKM_MD5),
    N(CKM_SHA_1),
    N(CKM_SHA224),
    N(CKM_SHA256),
    N(CKM_SHA384),
    N(CKM_SHA512),
    N(CKM_AES_CBC),
    N(CKM_AES_KEY_GEN),
    N(CKM_ECDH1_DERIVE),
    N(CKM_DSA),
    N(CKM_SHA256_HMAC),
};
#undef N

static const char *name_of(const struct named *t, size_t n, unsigned long v, char *buf, size_t size)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].v == v)
            return t[i].name;
    snprintf(buf, size, "0x%lx", v);
    return buf;
}
/* CKR_ names as the project's messages give them (err.h). */
#define RV(rv) hc_rv_name((rv), (char[32]){ 0 })
#define MECH(m) name_of(mechs, sizeof mechs / sizeof *mechs, (m), (char[24]){ 0 }, 24)

static int mech_by_name(const char *s, CK_MECHANISM_TYPE *m)
{
    for (size_t i = 0; i < sizeof mechs / sizeof *mechs; i++)
        if (!strcmp(mechs[i].name, s)) {
            *m = mechs[i].v;
            return 1;
        }
    char *end;
    *m = strtoul(s, &end, 0);
    return *s && !*end;
}

/* The hash a hash-and-sign mechanism fixes (0: raw), and its length. */
static CK_MECHANISM_TYPE hash_of(CK_MECHANISM_TYPE m)
{
    switch (m) {
    case CKM_SHA1_RSA_PKCS:
    case CKM_SHA1_RSA_PKCS_PSS:
    case CKM_ECDSA_SHA1: return CKM_SHA_1;
    case CKM_SHA224_RSA_PKCS:
    case CKM_SHA224_RSA_PKCS_PSS:
    case CKM_ECDSA_SHA224: return CKM_SHA224;
    case CKM_SHA256_RSA_PKCS:
    case CKM_SHA256_RSA_PKCS_PSS:
    case CKM_ECDSA_SHA256: return CKM_SHA256;
    case CKM_SHA384_RSA_PKCS:
    case CKM_SHA384_RSA_PKCS_PSS:
    case CKM_ECDSA_SHA384: return CKM_SHA384;
    case CKM_SHA512_RSA_PKCS:
    case CKM_SHA512_RSA_PKCS_PSS:
    case CKM_ECDSA_SHA512: return CKM_SHA512;
    default: return 0;
    }
}

static CK_ULONG hash_len(CK_MECHANISM_TYPE h)
{
    return h == CKM_SHA_1    ? 20
           : h == CKM_SHA224 ? 28
           : h == CKM_SHA384 ? 48
           : h == CKM_SHA512 ? 64
                             : 32;
}

static CK_RSA_PKCS_MGF_TYPE mgf_of(CK_MECHANISM_TYPE h)
{
    return h == CKM_SHA_1    ? CKG_MGF1_SHA1
           : h == CKM_SHA224 ? CKG_MGF1_SHA224
           : h == CKM_SHA384 ? CKG_MGF1_SHA384
           : h == CKM_SHA512 ? CKG_MGF1_SHA512
                             : CKG_MGF1_SHA256;
}

static int hash_by_name(const char *s, CK_MECHANISM_TYPE *h)
{
    static const struct named hs[] = { { CKM_SHA_1, "sha1" },
                                       { CKM_SHA224, "sha224" },
                                       { CKM_SHA256, "sha256" },
                                       { CKM_SHA384, "sha384" },
                                       { CKM_SHA512, "sha512" } };
    for (size_t i = 0; i < 5; i++)
        if (!strcmp(hs[i].name, s)) {
            *h = hs[i].v;
            return 1;
        }
    return 0;
}

/* A mechanism with the parameter a caller would normally give. */
typedef struct {
    CK_MECHANISM m;
    union {
        CK_RSA_PKCS_PSS_PARAMS pss;
        CK_RSA_PKCS_OAEP_PARAMS oaep;
        unsigned char raw[256];
    } p;
} mech_t;

static void default_mech(mech_t *x, CK_MECHANISM_TYPE m)
{
    memset(x, 0, sizeof *x);
    x->m.mechanism = m;
    CK_MECHANISM_TYPE h = hash_of(m);
    if (m == CKM_RSA_PKCS_PSS || m == CKM_SHA1_RSA_PKCS_PSS || m == CKM_SHA224_RSA_PKCS_PSS ||
        m == CKM_SHA256_RSA_PKCS_PSS || m == CKM_SHA384_RSA_PKCS_PSS ||
        m == CKM_SHA512_RSA_PKCS_PSS) {
        CK_MECHANISM_TYPE ph = h ? h : CKM_SHA256;
        x->p.pss = (CK_RSA_PKCS_PSS_PARAMS){ ph, mgf_of(ph), hash_len(ph) };
        x->m.pParameter = &x->p.pss;
        x->m.ulParameterLen = sizeof x->p.pss;
    } else if (m == CKM_RSA_PKCS_OAEP) {
        x->p.oaep =
            (CK_RSA_PKCS_OAEP_PARAMS){ CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0 };
        x->m.pParameter = &x->p.oaep;
        x->m.ulParameterLen = sizeof x->p.oaep;
    }
}

/* Keys of a class, at most `max`. */
static CK_ULONG keys(CK_OBJECT_CLASS cls, const char *label, CK_OBJECT_HANDLE *out, CK_ULONG max)
{
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls },
                         { CKA_LABEL, (void *)label, label ? strlen(label) : 0 } };
    CK_ULONG n = 0;
    if (f->C_FindObjectsInit(sess, t, label ? 2 : 1) != CKR_OK)
        return 0;
    f->C_FindObjects(sess, out, max, &n);
    f->C_FindObjectsFinal(sess);
    return n;
}

static CK_KEY_TYPE key_type(CK_OBJECT_HANDLE k)
{
    CK_KEY_TYPE t = (CK_KEY_TYPE)-1;
    CK_ATTRIBUTE a = { CKA_KEY_TYPE, &t, sizeof t };
    f->C_GetAttributeValue(sess, k, &a, 1);
    return t;
}

/* The public key with the private key's CKA_ID. */
static CK_OBJECT_HANDLE public_of(CK_OBJECT_HANDLE priv)
{
    unsigned char id[256];
    CK_ATTRIBUTE a = { CKA_ID, id, sizeof id };
    if (f->C_GetAttributeValue(sess, priv, &a, 1) != CKR_OK)
        return CK_INVALID_HANDLE;
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_ID, id, a.ulValueLen } };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    if (f->C_FindObjectsInit(sess, t, 2) == CKR_OK) {
        f->C_FindObjects(sess, &h, 1, &n);
        f->C_FindObjectsFinal(sess);
    }
    return n ? h : CK_INVALID_HANDLE;
}

static CK_ULONG data_len(CK_MECHANISM_TYPE m)
{
    if (m == CKM_ECDSA || m == CKM_RSA_PKCS_PSS)
        return 32; /* a SHA-256 hash */
    return 20;
}

/* Signs (and verifies) with the first private key that takes `m`. */
static CK_RV sign_verify(CK_MECHANISM_TYPE m, int verify)
{
    CK_OBJECT_HANDLE priv[64];
    CK_ULONG n = keys(CKO_PRIVATE_KEY, NULL, priv, 64);
    CK_RV rv = CKR_KEY_HANDLE_INVALID;
    for (CK_ULONG i = 0; i < n; i++) {
        mech_t x;
        default_mech(&x, m);
        if ((rv = f->C_SignInit(sess, &x.m, priv[i])) != CKR_OK)
            continue;
        unsigned char data[64] = "p11probe data to be signed, thirty-two bytes and more";
        unsigned char sig[1024];
        CK_ULONG len = sizeof sig, dl = data_len(m);
        if (m == CKM_RSA_X_509)
            data[0] = 0; /* below the modulus */
        if ((rv = f->C_Sign(sess, data, dl, sig, &len)) != CKR_OK || !verify)
            return rv;
        CK_OBJECT_HANDLE pub = public_of(priv[i]);
        default_mech(&x, m);
        if ((rv = f->C_VerifyInit(sess, &x.m, pub)) != CKR_OK)
            return rv;
        return f->C_Verify(sess, data, dl, sig, len);
    }
    return rv;
}

/* Encrypts with a public RSA key and decrypts back. */
static CK_RV crypt_round(CK_MECHANISM_TYPE m)
{
    CK_OBJECT_HANDLE priv[64];
    CK_ULONG n = keys(CKO_PRIVATE_KEY, NULL, priv, 64);
    for (CK_ULONG i = 0; i < n; i++) {
        if (key_type(priv[i]) != CKK_RSA)
            continue;
        mech_t x;
        default_mech(&x, m);
        unsigned char in[16] = "p11probe secret", out[1024], back[1024];
        CK_ULONG olen = sizeof out, blen = sizeof back;
        CK_RV rv = f->C_EncryptInit(sess, &x.m, public_of(priv[i]));
        if (rv == CKR_OK)
            rv = f->C_Encrypt(sess, in, sizeof in, out, &olen);
        if (rv == CKR_OK)
            rv = f->C_DecryptInit(sess, &x.m, priv[i]);
        if (rv == CKR_OK)
            rv = f->C_Decrypt(sess, out, olen, back, &blen);
        if (rv == CKR_OK && (blen < sizeof in || memcmp(back + blen - sizeof in, in, sizeof in)))
            rv = CKR_DATA_INVALID; /* not what was encrypted */
        return rv;
    }
    return CKR_KEY_HANDLE_INVALID;
}

static CK_RV digest(CK_MECHANISM_TYPE m)
{
    CK_MECHANISM x = { m, NULL, 0 };
    unsigned char out[64];
    CK_ULONG len = sizeof out;
    CK_RV rv = f->C_DigestInit(sess, &x);
    return rv == CKR_OK ? f->C_Digest(sess, (CK_BYTE *)"abc", 3, out, &len) : rv;
}

static CK_RV generate(CK_MECHANISM_TYPE m)
{
    static unsigned char p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
    static unsigned char ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
    static unsigned char e[] = { 1, 0, 1 };
    CK_ULONG bits = 2048;
    CK_BBOOL yes = CK_TRUE;
    char label[] = "p11probe-generated";
    CK_ATTRIBUTE pub[4] = { { CKA_TOKEN, &yes, 1 }, { CKA_LABEL, label, sizeof label - 1 } };
    CK_ATTRIBUTE priv[] = { { CKA_TOKEN, &yes, 1 },
                            { CKA_LABEL, label, sizeof label - 1 },
                            { CKA_SIGN, &yes, 1 } };
    CK_ULONG np = 2;
    if (m == CKM_RSA_PKCS_KEY_PAIR_GEN) {
        pub[np++] = (CK_ATTRIBUTE){ CKA_MODULUS_BITS, &bits, sizeof bits };
        pub[np++] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, e, sizeof e };
    } else {
        pub[np++] = m == CKM_EC_KEY_PAIR_GEN
                        ? (CK_ATTRIBUTE){ CKA_EC_PARAMS, p256, sizeof p256 }
                        : (CK_ATTRIBUTE){ CKA_EC_PARAMS, ed25519, sizeof ed25519 };
    }
    CK_MECHANISM x = { m, NULL, 0 };
    CK_OBJECT_HANDLE hp, hq;
    CK_RV rv = f->C_GenerateKeyPair(sess, &x, pub, np, priv, 3, &hp, &hq);
    if (rv == CKR_OK) {
        f->C_DestroyObject(sess, hq);
        f->C_DestroyObject(sess, hp);
    }
    return rv;
}

static int cmd_mechs(CK_SLOT_ID slot)
{
    CK_MECHANISM_TYPE list[512];
    CK_ULONG n = 512;
    CK_RV rv = f->C_GetMechanismList(slot, list, &n);
    if (rv != CKR_OK) {
        printf("C_GetMechanismList %s\n", RV(rv));
        return 1;
    }
    static const struct {
        CK_FLAGS flag;
        const char *op;
    } ops[] = {
        { CKF_SIGN, "sign" },       { CKF_VERIFY, "verify" },
        { CKF_ENCRYPT, "encrypt" }, { CKF_DECRYPT, "decrypt" },
        { CKF_DIGEST, "digest" },   { CKF_GENERATE_KEY_PAIR, "generate_key_pair" },
    };
    const CK_FLAGS others =
        CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER | CKF_GENERATE | CKF_WRAP | CKF_UNWRAP | CKF_DERIVE;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_MECHANISM_INFO info;
        if ((rv = f->C_GetMechanismInfo(slot, list[i], &info)) != CKR_OK) {
            printf("%s info %s\n", MECH(list[i]), RV(rv));
            continue;
        }
        if (info.flags & others)
            printf("%s unserved-flag 0x%lx\n", MECH(list[i]), info.flags & others);
        for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
            if (!(info.flags & ops[k].flag))
                continue;
            switch (ops[k].flag) {
            case CKF_SIGN: rv = sign_verify(list[i], 0); break;
            case CKF_VERIFY: rv = sign_verify(list[i], 1); break;
            case CKF_ENCRYPT:
            case CKF_DECRYPT: rv = crypt_round(list[i]); break;
            case CKF_DIGEST: rv = digest(list[i]); break;
            default: rv = generate(list[i]); break;
            }
            printf("%s %s %s\n", MECH(list[i]), ops[k].op, RV(rv));
        }
    }
    return 0;
}

static int cmd_init(int argc, char **argv)
{
    if (argc < 3)
        return fprintf(stderr, "init OP MECH LABEL [PARAM]\n"), 1;
    const char *op = argv[0];
    int priv_op = !strcmp(op, "sign") || !strcmp(op, "decrypt");
    mech_t x;
    CK_MECHANISM_TYPE m;
    if (!mech_by_name(argv[1], &m))
        return fprintf(stderr, "unknown mechanism %s\n", argv[1]), 1;
    default_mech(&x, m);
    if (argc > 3) {
        char h1[16], h2[16];
        unsigned long v = 0;
        CK_MECHANISM_TYPE a, b;
        if (sscanf(argv[3], "pss:%15[^:]:%15[^:]:%lu", h1, h2, &v) == 3 && hash_by_name(h1, &a) &&
            hash_by_name(h2, &b)) {
            x.p.pss = (CK_RSA_PKCS_PSS_PARAMS){ a, mgf_of(b), v };
            x.m.pParameter = &x.p.pss;
            x.m.ulParameterLen = sizeof x.p.pss;
        } else if (sscanf(argv[3], "oaep:%15[^:]:%15s", h1, h2) == 2 && hash_by_name(h1, &a) &&
                   hash_by_name(h2, &b)) {
            x.p.oaep = (CK_RSA_PKCS_OAEP_PARAMS){ a, mgf_of(b), CKZ_DATA_SPECIFIED, NULL, 0 };
            x.m.pParameter = &x.p.oaep;
            x.m.ulParameterLen = sizeof x.p.oaep;
        } else if (sscanf(argv[3], "raw:%lu", &v) == 1 && v <= sizeof x.p.raw) {
            memset(x.p.raw, 0, sizeof x.p.raw);
            x.m.pParameter = x.p.raw;
            x.m.ulParameterLen = v;
        } else {
            return fprintf(stderr, "bad parameter %s\n", argv[3]), 1;
        }
    }
    CK_OBJECT_HANDLE k;
    if (keys(priv_op ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY, argv[2], &k, 1) != 1)
        return fprintf(stderr, "no %s key labelled %s\n", priv_op ? "private" : "public", argv[2]),
               1;
    unsigned char data[64] = { 1, 2, 3 }, out[1024];
    CK_ULONG len = sizeof out, dl = data_len(m);
    CK_RV rv, drv;
    if (!strcmp(op, "sign")) {
        rv = f->C_SignInit(sess, &x.m, k);
        drv = rv == CKR_OK ? f->C_Sign(sess, data, dl, out, &len) : rv;
    } else if (!strcmp(op, "verify")) {
        rv = f->C_VerifyInit(sess, &x.m, k);
        drv = rv == CKR_OK ? f->C_Verify(sess, data, dl, out, 64) : rv;
    } else if (!strcmp(op, "encrypt")) {
        rv = f->C_EncryptInit(sess, &x.m, k);
        drv = rv == CKR_OK ? f->C_Encrypt(sess, data, 16, out, &len) : rv;
    } else if (!strcmp(op, "decrypt")) {
        rv = f->C_DecryptInit(sess, &x.m, k);
        drv = rv == CKR_OK ? f->C_Decrypt(sess, data, 16, out, &len) : rv;
    } else {
        return fprintf(stderr, "unknown operation %s\n", op), 1;
    }
    printf("init %s\n", RV(rv));
    if (rv == CKR_OK)
        printf("data %s\n", RV(drv));
    return 0;
}

/* One C_SignInit and C_Sign with m on k: "WHEN init CKR_... [data CKR_...]". */
static void sign_once(const char *when, CK_OBJECT_HANDLE k, CK_MECHANISM_TYPE m)
{
    mech_t x;
    default_mech(&x, m);
    unsigned char data[64] = { 1, 2, 3 }, out[1024];
    CK_ULONG len = sizeof out;
    CK_RV rv = f->C_SignInit(sess, &x.m, k);
    printf("%s init %s", when, RV(rv));
    if (rv == CKR_OK)
        printf(" data %s", RV(f->C_Sign(sess, data, data_len(m), out, &len)));
    printf("\n");
    fflush(stdout);
}

static int cmd_held(int argc, char **argv)
{
    CK_MECHANISM_TYPE m1, m2;
    CK_OBJECT_HANDLE k;
    if (argc < 4 || !mech_by_name(argv[1], &m1) || !mech_by_name(argv[2], &m2))
        return fprintf(stderr, "held LABEL MECH1 MECH2 FILE\n"), 1;
    if (keys(CKO_PRIVATE_KEY, argv[0], &k, 1) != 1)
        return fprintf(stderr, "no private key labelled %s\n", argv[0]), 1;
    sign_once("before", k, m1);
    char ready[4096];
    snprintf(ready, sizeof ready, "%s.ready", argv[3]);
    FILE *r = fopen(ready, "w");
    if (!r || fclose(r) != 0)
        return fprintf(stderr, "cannot create %s\n", ready), 1;
    for (int i = 0; i < 600 && access(argv[3], F_OK) != 0; i++)
        usleep(100000);
    sign_once("after", k, m2);
    return 0;
}

/* An EC P-256 pair on the token labelled argv[0]; "nosign": its private
 * half has CKA_SIGN false; "allow=MECH": CKA_ALLOWED_MECHANISMS = MECH. */
static int cmd_keypair(int argc, char **argv)
{
    static unsigned char p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
    if (argc < 1)
        return fprintf(stderr, "keypair LABEL [nosign] [allow=MECH]\n"), 1;
    CK_BBOOL yes = CK_TRUE, sign = CK_TRUE;
    CK_MECHANISM_TYPE allowed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "nosign"))
            sign = CK_FALSE;
        else if (!strcmp(argv[i], "ro"))
            continue; /* main opened a read-only session */
        else if (strncmp(argv[i], "allow=", 6) || !mech_by_name(argv[i] + 6, &allowed))
            return fprintf(stderr, "bad option %s\n", argv[i]), 1;
    }
    CK_ATTRIBUTE pub[] = { { CKA_TOKEN, &yes, 1 },
                           { CKA_LABEL, argv[0], strlen(argv[0]) },
                           { CKA_EC_PARAMS, p256, sizeof p256 } };
    CK_ATTRIBUTE priv[] = { { CKA_TOKEN, &yes, 1 },
                            { CKA_LABEL, argv[0], strlen(argv[0]) },
                            { CKA_SIGN, &sign, 1 },
                            { CKA_ALLOWED_MECHANISMS, &allowed, sizeof allowed } };
    CK_MECHANISM x = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_OBJECT_HANDLE hp, hq;
    CK_RV rv = f->C_GenerateKeyPair(sess, &x, pub, 3, priv, allowed ? 4 : 3, &hp, &hq);
    printf("keypair %s\n", RV(rv));
    return rv != CKR_OK;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return fprintf(stderr, "usage: p11probe MODULE mechs|init|keypair|destroy|seed ...\n"), 1;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList gfl = lib ? (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList") : NULL;
    if (!gfl || gfl(&f) != CKR_OK || f->C_Initialize(NULL) != CKR_OK)
        return fprintf(stderr, "p11probe: cannot use %s: %s\n", argv[1],
                       lib ? "initialization failed" : dlerror()),
               1;
    CK_SLOT_ID slot;
    CK_ULONG n = 1;
    CK_RV rv = f->C_GetSlotList(CK_TRUE, &slot, &n);
    if ((rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL) || n == 0)
        return fprintf(stderr, "p11probe: no slot with a token\n"), 1;
    CK_FLAGS flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
    for (int i = 3; i < argc; i++)
        if (!strcmp(argv[i], "ro"))
            flags = CKF_SERIAL_SESSION;
    if ((rv = f->C_OpenSession(slot, flags, NULL, NULL, &sess)) != CKR_OK)
        return fprintf(stderr, "p11probe: C_OpenSession %s\n", RV(rv)), 1;
    int st = 1;
    if (!strcmp(argv[2], "mechs")) {
        st = cmd_mechs(slot);
    } else if (!strcmp(argv[2], "init")) {
        st = cmd_init(argc - 3, argv + 3);
    } else if (!strcmp(argv[2], "keypair")) {
        st = cmd_keypair(argc - 3, argv + 3);
    } else if (!strcmp(argv[2], "destroy") && argc > 3) {
        CK_OBJECT_HANDLE k;
        if (keys(CKO_PRIVATE_KEY, argv[3], &k, 1) == 1) {
            printf("destroy %s\n", RV(f->C_DestroyObject(sess, k)));
            st = 0;
        }
    } else if (!strcmp(argv[2], "held")) {
        st = cmd_held(argc - 3, argv + 3);
    } else if (!strcmp(argv[2], "seed")) {
        unsigned char seed[16] = "p11probe seed..";
        printf("seed %s\n", RV(f->C_SeedRandom(sess, seed, sizeof seed)));
        st = 0;
    } else {
        fprintf(stderr, "p11probe: unknown command %s\n", argv[2]);
    }
    f->C_CloseSession(sess);
    f->C_Finalize(NULL);
    return st;
}
