/* algid.c: the AlgorithmIdentifier of a signature (OpenSSL's
 * OSSL_SIGNATURE_PARAM_ALGORITHM_ID), which `openssl req`, `x509` and `ca`
 * put into a certificate as its signatureAlgorithm. Built with libcrypto's
 * own ASN.1 types (X509_ALGOR, RSA_PSS_PARAMS), never by hand, and laid
 * out as OpenSSL's default provider lays it out, so a certificate signed
 * in the HSM carries the same bytes as one signed with a key in a file. */
#include <openssl/asn1t.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "prov.h"

/* A digest's AlgorithmIdentifier with NULL parameters: RFC 4055 wants
 * NULL present inside RSASSA-PSS-params (OpenSSL writes it too). */
static X509_ALGOR *md_algor(const EVP_MD *md)
{
    X509_ALGOR *a = X509_ALGOR_new();
    ASN1_OBJECT *o = OBJ_nid2obj(EVP_MD_get_type(md));
    if (!a || !o || !X509_ALGOR_set0(a, o, V_ASN1_NULL, NULL)) {
        X509_ALGOR_free(a);
        return NULL;
    }
    return a;
}

/* RSASSA-PSS-params as a DER SEQUENCE string (for the rsassaPss
 * AlgorithmIdentifier's parameters); every field at its DEFAULT is left
 * out, as DER requires. */
static ASN1_STRING *pss_params(const EVP_MD *md, const EVP_MD *mgf1, int salt)
{
    RSA_PSS_PARAMS *pp = RSA_PSS_PARAMS_new();
    X509_ALGOR *mgf_hash = NULL;
    ASN1_STRING *mgf_der = NULL, *out = NULL;
    int ok = pp != NULL;
    if (ok && EVP_MD_get_type(md) != NID_sha1)
        ok = (pp->hashAlgorithm = md_algor(md)) != NULL;
    if (ok && EVP_MD_get_type(mgf1) != NID_sha1) {
        /* MGF1's parameter is its hash's AlgorithmIdentifier, packed */
        ok = (mgf_hash = md_algor(mgf1)) &&
             (mgf_der = ASN1_item_pack(mgf_hash, ASN1_ITEM_rptr(X509_ALGOR), NULL)) &&
             (pp->maskGenAlgorithm = X509_ALGOR_new()) &&
             X509_ALGOR_set0(pp->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE, mgf_der);
        if (ok)
            mgf_der = NULL; /* owned by maskGenAlgorithm now */
    }
    if (ok && salt != 20)
        ok = (pp->saltLength = ASN1_INTEGER_new()) && ASN1_INTEGER_set(pp->saltLength, salt);
    if (ok)
        out = ASN1_item_pack(pp, ASN1_ITEM_rptr(RSA_PSS_PARAMS), NULL);
    ASN1_STRING_free(mgf_der);
    X509_ALGOR_free(mgf_hash);
    RSA_PSS_PARAMS_free(pp);
    return out;
}

int hp_algorithm_id(int key_type, const EVP_MD *md, bool pss, const EVP_MD *mgf1, int salt,
                    unsigned char **der, const char **why)
{
    int nid = NID_undef, ptype = V_ASN1_UNDEF;
    ASN1_STRING *params = NULL;
    *der = NULL;
    if (key_type == EVP_PKEY_ED25519) {
        nid = NID_ED25519; /* no parameters; EdDSA takes no digest */
    } else if (!md) {
        *why = "no digest is set, so the signature has no AlgorithmIdentifier";
        return 0;
    } else if (key_type == EVP_PKEY_EC) {
        OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(md), NID_X9_62_id_ecPublicKey);
    } else if (key_type == EVP_PKEY_RSA && !pss) {
        OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(md), NID_rsaEncryption);
        ptype = V_ASN1_NULL;
    } else if (key_type == EVP_PKEY_RSA) {
        if (salt < 0 || !mgf1) {
            *why = "the PSS salt length or MGF1 digest is unresolved";
            return 0;
        }
        if (!(params = pss_params(md, mgf1, salt))) {
            *why = "libcrypto could not encode RSASSA-PSS-params (out of memory)";
            return 0;
        }
        nid = NID_rsassaPss;
        ptype = V_ASN1_SEQUENCE;
    }
    if (nid == NID_undef) {
        *why = "no signature algorithm identifier exists for this digest with this key type";
        return 0;
    }
    X509_ALGOR *a = X509_ALGOR_new();
    int n = 0;
    if (a && X509_ALGOR_set0(a, OBJ_nid2obj(nid), ptype, params)) {
        params = NULL; /* owned by a now */
        n = i2d_X509_ALGOR(a, der);
    }
    ASN1_STRING_free(params);
    X509_ALGOR_free(a);
    if (n <= 0) {
        *der = NULL;
        *why = "libcrypto could not encode the AlgorithmIdentifier (out of memory)";
        return 0;
    }
    return n;
}
