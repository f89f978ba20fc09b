/*
 * swcrypto.h: what libcrypto does for the core so the HSM does not:
 * public keys (SPKI DER) built from PKCS#11 attributes, verification,
 * digests, and the hash-then-sign offload (hash locally, send the token
 * only a DigestInfo or a hash). All functions are thread-safe.
 */
#ifndef HC_SWCRYPTO_H
#define HC_SWCRYPTO_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

#include "hsmcache.h"

/* Builds DER SubjectPublicKeyInfo from the attributes of a public key (or
 * an RSA private key). ec_point may be DER-wrapped or raw. *spki is
 * malloc'ed. With `pkey` non-NULL, *pkey also receives the key as
 * libcrypto holds it (the caller frees it): decoding the SPKI again costs
 * more than building it. Returns CKR_KEY_TYPE_INCONSISTENT for what it
 * cannot build. */
CK_RV hc_spki_build(CK_KEY_TYPE type, const unsigned char *modulus, size_t modulus_len,
                    const unsigned char *exponent, size_t exponent_len,
                    const unsigned char *ec_params, size_t ec_params_len,
                    const unsigned char *ec_point, size_t ec_point_len, unsigned char **spki,
                    size_t *len, EVP_PKEY **pkey);
/* Size of a PKCS#11-format signature for this key (r||s for ECDSA); 0 for
 * a key type the core does not sign with. */
size_t hc_spki_sig_len(const unsigned char *spki, size_t len);
size_t hc_pkey_sig_len(const EVP_PKEY *pkey);

/* CKR_OK, CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE, or
 * CKR_MECHANISM_INVALID when libcrypto path is not implemented for `mech`
 * (the caller then asks the token). */
CK_RV hc_sw_verify(const unsigned char *spki, size_t spki_len, const CK_MECHANISM *mech,
                   const unsigned char *data, size_t len, const unsigned char *sig, size_t sig_len);
/* Same with the key already parsed (decoding an SPKI costs more than an
 * ECDSA verification in OpenSSL 3, so hot paths keep the EVP_PKEY; one
 * key may verify in many threads at once). */
CK_RV hc_sw_verify_pkey(EVP_PKEY *pkey, const CK_MECHANISM *mech, const unsigned char *data,
                        size_t len, const unsigned char *sig, size_t sig_len);

/* The digest for a CKM_* digest mechanism, or NULL. */
const EVP_MD *hc_sw_digest_md(CK_MECHANISM_TYPE mech);

/* Hash-then-sign offload: when `mech` hashes before signing and the token
 * has the matching raw mechanism (`has_raw` says), hashes `data` here and
 * fills *raw and `out` (at least 128 bytes) with what to send instead.
 * Returns false when there is nothing to offload. */
bool hc_offload(const CK_MECHANISM *mech, bool has_raw_rsa, bool has_raw_pss, bool has_raw_ecdsa,
                const unsigned char *data, size_t len, CK_MECHANISM *raw, unsigned char *out,
                size_t *out_len);

/* DER DigestInfo (RFC 8017) of `hash` made with `md` into out (at least
 * 128 bytes); its length, or 0 for a digest without one. */
size_t hc_digestinfo(const EVP_MD *md, const unsigned char *hash, size_t hlen, unsigned char *out);

/* SHA-256 of a buffer. */
void hc_sha256(const unsigned char *data, size_t len, unsigned char out[32]);

#endif
