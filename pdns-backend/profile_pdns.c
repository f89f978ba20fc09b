/* profile_pdns.c: the PowerDNS front (build/hsmcache-pdns.so, registered
 * with p11-kit as module "hsmcache"): every key of the profile's tokens,
 * signature caching on by default ([pdns] signature-cache). PowerDNS's
 * per-answer C_Digest calls are served in software by the common front,
 * and a PIN left in a cryptokeys row is ignored (one warning).
 *
 * Each signature of an RRSIG signing input is cached with the RRSIG's
 * expiration and the input recorded for the presigner (presign.h). For
 * ECDSA PowerDNS hashes first (C_Digest) and signs the hash, so the front
 * keeps the digest's input to know what was signed. */
#include "../shared/front/front.h"
#include "presign.h"
#include "rrsig.h"

static CK_RV pdns_init(hc_ctx_t *ctx, void **state)
{
    *state = hc_presigner_start(ctx);
    return CKR_OK;
}

static void pdns_fini(void *state)
{
    hc_presigner_stop(state);
}

/* Mechanisms that hash the message themselves: `data` is the input. */
static bool hashes_message(CK_MECHANISM_TYPE m)
{
    return m == CKM_SHA1_RSA_PKCS || m == CKM_SHA256_RSA_PKCS || m == CKM_SHA384_RSA_PKCS ||
           m == CKM_SHA512_RSA_PKCS || m == CKM_ECDSA_SHA256 || m == CKM_ECDSA_SHA384 ||
           m == CKM_EDDSA;
}

static CK_RV pdns_sign(void *state, hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech,
                       const unsigned char *data, size_t len, const hc_front_msg_t *msg,
                       unsigned char *sig, size_t *sig_len, hc_err_t *err)
{
    const unsigned char *input = NULL;
    size_t input_len = 0;
    CK_MECHANISM_TYPE digest = 0;
    if (msg && mech->mechanism == CKM_ECDSA) {
        input = msg->data;
        input_len = msg->len;
        digest = msg->digest;
    } else if (hashes_message(mech->mechanism)) {
        input = data;
        input_len = len;
    }
    uint32_t inception, expiration;
    bool rrsig = input && hc_rrsig_times(input, input_len, &inception, &expiration);
    hc_sign_opts_t o = { .expires = rrsig ? expiration : 0 };
    CK_RV rv = hc_sign_ex(ctx, key, mech, data, len, &o, sig, sig_len, err);
    if (rv == CKR_OK && rrsig)
        hc_presigner_record(state, key, mech->mechanism, digest, input, input_len);
    return rv;
}

const hc_front_profile_t hc_front_profile = {
    .name = HC_PROFILE_PDNS,
    .init = pdns_init,
    .fini = pdns_fini,
    .sign = pdns_sign,
    .keep_digest_input = true,
};
