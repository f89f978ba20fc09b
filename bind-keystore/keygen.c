/* keygen.c: key generation on the token, as BIND 9.20's key-store asks
 * for it: EVP_PKEY_CTX_new_from_name(NULL, "EC"|"RSA", "provider=pkcs11"),
 * params pkcs11_uri (the key-store URI plus ;object=LABEL) and
 * pkcs11_key_usage, and the group or RSA size. The pair is made in the
 * HSM (private half sensitive, never extractable) with a unique CKA_ID. */
#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/ec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prov.h"

typedef struct hp_gen {
    hp_prov_t *prov;
    int type; /* EVP_PKEY_EC, EVP_PKEY_RSA or EVP_PKEY_ED25519 */
    char *uri;
    char group[32];
    size_t bits;
    bool sign; /* key usage allows signing */
} hp_gen_t;

static void *gen_init(void *provctx, int selection, const OSSL_PARAM params[], int type)
{
    (void)selection;
    hp_gen_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->prov = provctx;
    g->type = type;
    g->bits = 2048;
    g->sign = true;
    snprintf(g->group, sizeof g->group, "P-256");
    if (!hp_gen_set_params(g, params)) {
        hp_gen_cleanup(g);
        return NULL;
    }
    return g;
}

void *hp_ec_gen_init(void *provctx, int selection, const OSSL_PARAM params[])
{
    return gen_init(provctx, selection, params, EVP_PKEY_EC);
}

void *hp_rsa_gen_init(void *provctx, int selection, const OSSL_PARAM params[])
{
    return gen_init(provctx, selection, params, EVP_PKEY_RSA);
}

void *hp_ed25519_gen_init(void *provctx, int selection, const OSSL_PARAM params[])
{
    hp_gen_t *g = gen_init(provctx, selection, params, EVP_PKEY_ED25519);
    if (g)
        snprintf(g->group, sizeof g->group, "ED25519");
    return g;
}

int hp_gen_set_params(void *genctx, const OSSL_PARAM params[])
{
    hp_gen_t *g = genctx;
    const OSSL_PARAM *p;
    char buf[1024], *b = buf;
    if ((p = OSSL_PARAM_locate_const(params, "pkcs11_uri"))) {
        if (!OSSL_PARAM_get_utf8_string(p, &b, sizeof buf))
            return 0;
        free(g->uri);
        if (!(g->uri = strdup(buf)))
            return 0;
    }
    if ((p = OSSL_PARAM_locate_const(params, "pkcs11_key_usage"))) {
        if (!OSSL_PARAM_get_utf8_string(p, &b, sizeof buf))
            return 0;
        g->sign = strstr(buf, "digitalSignature") || strstr(buf, "nonRepudiation") ||
                  strstr(buf, "keyCertSign");
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME))) {
        b = g->group;
        if (!OSSL_PARAM_get_utf8_string(p, &b, sizeof g->group))
            return 0;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_BITS)) &&
        !OSSL_PARAM_get_size_t(p, &g->bits))
        return 0;
    return 1;
}

const OSSL_PARAM *hp_gen_settable(void *genctx, void *provctx)
{
    (void)genctx;
    (void)provctx;
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_utf8_string("pkcs11_uri", NULL, 0),
        OSSL_PARAM_utf8_string("pkcs11_key_usage", NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
        OSSL_PARAM_size_t(OSSL_PKEY_PARAM_RSA_BITS, NULL),
        OSSL_PARAM_END,
    };
    return p;
}

/* CKA_EC_PARAMS (the curve's DER OID) for a group name. */
static int ec_params(const char *group, unsigned char *out, size_t size)
{
    int nid = EC_curve_nist2nid(group);
    if (nid == NID_undef)
        nid = OBJ_sn2nid(group);
    ASN1_OBJECT *o = nid == NID_undef ? NULL : OBJ_nid2obj(nid);
    int n = o ? i2d_ASN1_OBJECT(o, NULL) : 0;
    if (n <= 0 || (size_t)n > size)
        return 0;
    unsigned char *p = out;
    return i2d_ASN1_OBJECT(o, &p);
}

void *hp_gen(void *genctx, OSSL_CALLBACK *cb, void *cbarg)
{
    (void)cb;
    (void)cbarg;
    hp_gen_t *g = genctx;
    hc_ctx_t *ctx = hp_ctx(g->prov);
    if (!ctx)
        return NULL;
    if (!g->uri) {
        hp_raise(g->prov, "key generation needs a pkcs11_uri naming the token and object");
        return NULL;
    }
    size_t tok;
    char label[256];
    unsigned char id[128];
    size_t idlen = sizeof id;
    hc_err_t err = { 0 };
    if (hc_uri_target(ctx, g->uri, &tok, label, sizeof label, id, &idlen, &err) != CKR_OK) {
        hp_raise(g->prov, "%s", err.msg);
        return NULL;
    }
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE, sign = g->sign ? CK_TRUE : CK_FALSE;
    CK_ULONG bits = g->bits;
    unsigned char e65537[] = { 1, 0, 1 }, params[32];
    CK_ATTRIBUTE pub[7] = {
        { CKA_TOKEN, &yes, sizeof yes },
        { CKA_PRIVATE, &no, sizeof no },
        { CKA_VERIFY, &sign, sizeof sign },
    };
    CK_ATTRIBUTE priv[7] = {
        { CKA_TOKEN, &yes, sizeof yes },     { CKA_PRIVATE, &yes, sizeof yes },
        { CKA_SENSITIVE, &yes, sizeof yes }, { CKA_EXTRACTABLE, &no, sizeof no },
        { CKA_SIGN, &sign, sizeof sign },
    };
    CK_ULONG npub = 3, npriv = 5;
    CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    if (g->type == EVP_PKEY_RSA) {
        mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
        pub[npub++] = (CK_ATTRIBUTE){ CKA_MODULUS_BITS, &bits, sizeof bits };
        pub[npub++] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, e65537, sizeof e65537 };
    } else {
        /* Edwards curves are named by OID in CKA_EC_PARAMS, as SoftHSM
         * and PKCS#11 3.0 accept. */
        if (g->type == EVP_PKEY_ED25519)
            mech.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
        int n = ec_params(g->group, params, sizeof params);
        if (n <= 0) {
            hp_raise(g->prov, "unknown EC group '%s'", g->group);
            return NULL;
        }
        pub[npub++] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, params, (CK_ULONG)n };
    }
    if (label[0]) {
        pub[npub++] = (CK_ATTRIBUTE){ CKA_LABEL, label, strlen(label) };
        priv[npriv++] = (CK_ATTRIBUTE){ CKA_LABEL, label, strlen(label) };
    }
    if (idlen) { /* else the core gives both halves a fresh unique id */
        pub[npub++] = (CK_ATTRIBUTE){ CKA_ID, id, idlen };
        priv[npriv++] = (CK_ATTRIBUTE){ CKA_ID, id, idlen };
    }
    hc_obj_t p, q;
    unsigned char *spki = NULL;
    size_t spki_len = 0;
    if (hc_generate_key_pair(ctx, tok, &mech, pub, npub, priv, npriv, &p, &q, &err) != CKR_OK ||
        hc_public_key(ctx, q, &spki, &spki_len, &err) != CKR_OK) {
        hp_raise(g->prov, "%s", err.msg);
        return NULL;
    }
    char name[sizeof((hp_key_t *)0)->name];
    hp_key_name(name, sizeof name, hc_token_name(ctx, tok), (const unsigned char *)label,
                strlen(label));
    hp_key_t *k = hp_key_new(g->prov, q, spki, spki_len, name);
    free(spki);
    return k;
}

void hp_gen_cleanup(void *genctx)
{
    hp_gen_t *g = genctx;
    if (g) {
        free(g->uri);
        free(g);
    }
}
