/*
 * ops.c (front): sign, verify, digest, encrypt and decrypt.
 *
 * Multi-part calls collect the data and make one core call at *Final
 * (the core hashes locally anyway). A size query (NULL output) for a
 * signature answers from the key's known length without signing; where
 * the length is not known ahead (decrypt) the result is computed once and
 * kept for the second call, so the HSM is asked only once.
 */
#include <openssl/crypto.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "front_calls.h"
#include "mechs.h"
#include "core/swcrypto.h"

void hc_front_op_reset(hc_front_op_t *op)
{
    if (op->buf) {
        OPENSSL_cleanse(op->buf, op->len);
        free(op->buf);
    }
    if (op->result) {
        OPENSSL_cleanse(op->result, op->result_len);
        free(op->result);
    }
    memset(op, 0, sizeof *op);
}

CK_RV hc_front_op_start(hc_front_op_t *op, const CK_MECHANISM *mech, hc_obj_t key)
{
    if (!mech)
        return CKR_ARGUMENTS_BAD;
    if (op->active)
        return CKR_OPERATION_ACTIVE;
    if (mech->ulParameterLen > sizeof op->param || (mech->ulParameterLen && !mech->pParameter))
        return CKR_MECHANISM_PARAM_INVALID;
    hc_front_op_reset(op);
    op->mech = *mech;
    if (mech->ulParameterLen) {
        memcpy(op->param, mech->pParameter, mech->ulParameterLen);
        op->mech.pParameter = op->param;
    }
    if (mech->mechanism == CKM_RSA_PKCS_OAEP &&
        mech->ulParameterLen == sizeof(CK_RSA_PKCS_OAEP_PARAMS)) {
        CK_RSA_PKCS_OAEP_PARAMS *p = (CK_RSA_PKCS_OAEP_PARAMS *)op->param;
        if (p->ulSourceDataLen > sizeof op->label || (p->ulSourceDataLen && !p->pSourceData)) {
            hc_front_op_reset(op);
            return CKR_MECHANISM_PARAM_INVALID;
        }
        if (p->ulSourceDataLen)
            memcpy(op->label, p->pSourceData, p->ulSourceDataLen);
        p->pSourceData = p->ulSourceDataLen ? op->label : NULL;
    }
    op->key = key;
    op->active = true;
    return CKR_OK;
}

CK_RV hc_front_op_append(hc_front_op_t *op, const unsigned char *data, size_t len)
{
    if (len > HC_FRONT_MAX_BUFFER - op->len)
        return CKR_DATA_LEN_RANGE;
    if (op->len + len > op->cap) {
        size_t cap = op->cap ? op->cap : 1024;
        while (cap < op->len + len)
            cap *= 2;
        unsigned char *grown = malloc(cap);
        if (!grown)
            return CKR_HOST_MEMORY;
        if (op->buf) {
            memcpy(grown, op->buf, op->len);
            OPENSSL_cleanse(op->buf, op->len);
            free(op->buf);
        }
        op->buf = grown;
        op->cap = cap;
    }
    if (len)
        memcpy(op->buf + op->len, data, len);
    op->len += len;
    return CKR_OK;
}

CK_RV hc_front_op_deliver(hc_front_op_t *op, unsigned char *out, CK_ULONG *out_len)
{
    if (!out) {
        *out_len = op->result_len;
        return CKR_OK;
    }
    if (*out_len < op->result_len) {
        *out_len = op->result_len;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(out, op->result, op->result_len);
    *out_len = op->result_len;
    hc_front_op_reset(op);
    return CKR_OK;
}

/* Checks that `key` is a key of the session's token that the profile
 * lets the host see. */
static CK_RV own_key(const hc_vsession_t *s, CK_OBJECT_HANDLE key)
{
    return hc_obj_token(key) == s->slot && hc_front_visible(s, key) ? CKR_OK
                                                                    : CKR_KEY_HANDLE_INVALID;
}

typedef CK_RV (*compute_fn)(hc_vsession_t *s, hc_front_op_t *op, const unsigned char *in,
                            size_t in_len, unsigned char *out, size_t *out_len, hc_err_t *err);

static CK_RV compute_sign(hc_vsession_t *s, hc_front_op_t *op, const unsigned char *in,
                          size_t in_len, unsigned char *out, size_t *out_len, hc_err_t *err)
{
    if (hc_front_profile.sign) {
        hc_front_msg_t msg = { s->digest_mech, s->dmsg, s->dmsg_len };
        bool is_digest = hc_front_profile.keep_digest_input && s->dout_len && !s->dmsg_overflow &&
                         in_len == s->dout_len && memcmp(in, s->dout, in_len) == 0;
        return hc_front_profile.sign(s->pstate, s->ctx, op->key, &op->mech, in, in_len,
                                     is_digest ? &msg : NULL, out, out_len, err);
    }
    return hc_sign(s->ctx, op->key, &op->mech, in, in_len, out, out_len, err);
}

static CK_RV compute_encrypt(hc_vsession_t *s, hc_front_op_t *op, const unsigned char *in,
                             size_t in_len, unsigned char *out, size_t *out_len, hc_err_t *err)
{
    return hc_encrypt(s->ctx, op->key, &op->mech, in, in_len, out, out_len, err);
}

static CK_RV compute_decrypt(hc_vsession_t *s, hc_front_op_t *op, const unsigned char *in,
                             size_t in_len, unsigned char *out, size_t *out_len, hc_err_t *err)
{
    return hc_decrypt(s->ctx, op->key, &op->mech, in, in_len, out, out_len, err);
}

/* The one-shot call behind C_Sign/C_SignFinal and friends: computes once
 * (into op->result) and delivers with PKCS#11 size semantics. `size_hint`
 * answers a size query without computing when the size is known. */
static CK_RV finish(hc_vsession_t *s, hc_front_op_t *op, compute_fn fn, const unsigned char *in,
                    size_t in_len, unsigned char *out, CK_ULONG_PTR out_len, size_t size_hint)
{
    if (!op->active)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (!out_len) {
        hc_front_op_reset(op);
        return CKR_ARGUMENTS_BAD;
    }
    if (!op->result) {
        if (!out && size_hint) {
            *out_len = size_hint;
            return CKR_OK;
        }
        unsigned char buf[HC_MAX_SIG + 64];
        size_t n = sizeof buf;
        hc_err_t err = { 0 };
        CK_RV rv = fn(s, op, in, in_len, buf, &n, &err);
        if (rv != CKR_OK) {
            /* A profile's refusal was already explained by the profile. */
            if (err.msg[0] && rv != CKR_FUNCTION_REJECTED)
                hc_log(&hc_front_log, HC_LOG_WARN, "%s", err.msg);
            hc_front_op_reset(op);
            return rv;
        }
        if (!(op->result = malloc(n ? n : 1))) {
            hc_front_op_reset(op);
            return CKR_HOST_MEMORY;
        }
        memcpy(op->result, buf, n);
        op->result_len = n;
        OPENSSL_cleanse(buf, n);
    }
    return hc_front_op_deliver(op, out, out_len);
}

static size_t signature_size(hc_vsession_t *s, hc_obj_t key)
{
    size_t n = 0;
    if (hc_signature_length(s->ctx, key, &n, NULL) != CKR_OK)
        return 0;
    return n;
}

/* Generic *Init / *Update for the four buffered operations. */
#define SESSION_OR_RETURN(h, s)                                               \
    hc_vsession_t *s;                                                         \
    do {                                                                      \
        CK_RV rv_ = hc_front_session(h, &s);                                  \
        if (rv_ != CKR_OK)                                                    \
            return rv_;                                                       \
    } while (0)

static CK_RV op_init(CK_SESSION_HANDLE h, size_t field, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key,
                     CK_FLAGS flag)
{
    SESSION_OR_RETURN(h, s);
    hc_front_op_t *op = (hc_front_op_t *)((char *)s + field);
    CK_RV rv = own_key(s, key);
    if (rv == CKR_OK && op->active)
        rv = CKR_OPERATION_ACTIVE;
    if (rv == CKR_OK)
        rv = hc_front_check_init(s, flag, mech, key);
    if (rv == CKR_OK)
        rv = hc_front_op_start(op, mech, key);
    hc_front_unlock(s);
    return rv;
}

static CK_RV op_update(CK_SESSION_HANDLE h, size_t field, CK_BYTE_PTR data, CK_ULONG len)
{
    if (!data && len)
        return CKR_ARGUMENTS_BAD;
    SESSION_OR_RETURN(h, s);
    hc_front_op_t *op = (hc_front_op_t *)((char *)s + field);
    CK_RV rv = op->active ? hc_front_op_append(op, data, len) : CKR_OPERATION_NOT_INITIALIZED;
    if (rv != CKR_OK && op->active)
        hc_front_op_reset(op);
    hc_front_unlock(s);
    return rv;
}

/* One-shot (data given) or final (collected data) call. */
static CK_RV op_finish(CK_SESSION_HANDLE h, size_t field, compute_fn fn, bool one_shot,
                       CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out, CK_ULONG_PTR out_len,
                       bool sized)
{
    if (one_shot && !data && len)
        return CKR_ARGUMENTS_BAD;
    SESSION_OR_RETURN(h, s);
    hc_front_op_t *op = (hc_front_op_t *)((char *)s + field);
    size_t hint = sized && op->active ? signature_size(s, op->key) : 0;
    CK_RV rv = one_shot ? finish(s, op, fn, data, len, out, out_len, hint)
                        : finish(s, op, fn, op->buf, op->len, out, out_len, hint);
    hc_front_unlock(s);
    return rv;
}

#define FIELD(name) offsetof(hc_vsession_t, name)

CK_RV C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    return op_init(h, FIELD(sign), m, k, CKF_SIGN);
}
CK_RV C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR sig, CK_ULONG_PTR sl)
{
    return op_finish(h, FIELD(sign), compute_sign, true, d, dl, sig, sl, true);
}
CK_RV C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl)
{
    return op_update(h, FIELD(sign), d, dl);
}
CK_RV C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sl)
{
    return op_finish(h, FIELD(sign), compute_sign, false, NULL, 0, sig, sl, true);
}

CK_RV C_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    return op_init(h, FIELD(encrypt), m, k, CKF_ENCRYPT);
}
CK_RV C_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{
    return op_finish(h, FIELD(encrypt), compute_encrypt, true, d, dl, o, ol, false);
}
CK_RV C_EncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR o,
                      CK_ULONG_PTR ol)
{
    if (ol)
        *ol = 0; /* output comes at C_EncryptFinal */
    (void)o;
    return op_update(h, FIELD(encrypt), d, dl);
}
CK_RV C_EncryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{
    return op_finish(h, FIELD(encrypt), compute_encrypt, false, NULL, 0, o, ol, false);
}

CK_RV C_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    return op_init(h, FIELD(decrypt), m, k, CKF_DECRYPT);
}
CK_RV C_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{
    return op_finish(h, FIELD(decrypt), compute_decrypt, true, d, dl, o, ol, false);
}
CK_RV C_DecryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR o,
                      CK_ULONG_PTR ol)
{
    if (ol)
        *ol = 0;
    (void)o;
    return op_update(h, FIELD(decrypt), d, dl);
}
CK_RV C_DecryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{
    return op_finish(h, FIELD(decrypt), compute_decrypt, false, NULL, 0, o, ol, false);
}

CK_RV C_VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    return op_init(h, FIELD(verify), m, k, CKF_VERIFY);
}

static CK_RV verify_with(hc_vsession_t *s, const unsigned char *data, size_t len,
                         const unsigned char *sig, size_t sig_len)
{
    hc_front_op_t *op = &s->verify;
    if (!op->active)
        return CKR_OPERATION_NOT_INITIALIZED;
    CK_RV rv = hc_verify(s->ctx, op->key, &op->mech, data, len, sig, sig_len, NULL);
    hc_front_op_reset(op);
    return rv;
}

CK_RV C_Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR sig, CK_ULONG sl)
{
    if ((!d && dl) || !sig)
        return CKR_ARGUMENTS_BAD;
    SESSION_OR_RETURN(h, s);
    CK_RV rv = verify_with(s, d, dl, sig, sl);
    hc_front_unlock(s);
    return rv;
}
CK_RV C_VerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl)
{
    return op_update(h, FIELD(verify), d, dl);
}
CK_RV C_VerifyFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sl)
{
    if (!sig)
        return CKR_ARGUMENTS_BAD;
    SESSION_OR_RETURN(h, s);
    CK_RV rv = verify_with(s, s->verify.buf, s->verify.len, sig, sl);
    hc_front_unlock(s);
    return rv;
}

#define DIGEST_INPUT_MAX (1u << 20) /* RRsets beyond this are not kept */

/* keep_digest_input: remembers what is hashed, for compute_sign. */
static void keep_input(hc_vsession_t *s, const unsigned char *d, size_t n)
{
    if (!hc_front_profile.keep_digest_input || s->dmsg_overflow)
        return;
    if (s->dmsg_len + n > s->dmsg_cap) {
        size_t cap = s->dmsg_cap ? s->dmsg_cap : 1024;
        while (cap < s->dmsg_len + n)
            cap *= 2;
        unsigned char *grown = cap <= DIGEST_INPUT_MAX ? realloc(s->dmsg, cap) : NULL;
        if (!grown) {
            s->dmsg_overflow = true;
            return;
        }
        s->dmsg = grown;
        s->dmsg_cap = cap;
    }
    memcpy(s->dmsg + s->dmsg_len, d, n);
    s->dmsg_len += n;
}

/* Digests run entirely in libcrypto: no HSM call at all. */
CK_RV C_DigestInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m)
{
    if (!m)
        return CKR_ARGUMENTS_BAD;
    SESSION_OR_RETURN(h, s);
    CK_RV rv = CKR_OK;
    const EVP_MD *md = hc_sw_digest_md(m->mechanism);
    if (s->digest)
        rv = CKR_OPERATION_ACTIVE;
    else if (!md)
        rv = CKR_MECHANISM_INVALID;
    else if (!(s->digest = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(s->digest, md, NULL)) {
        EVP_MD_CTX_free(s->digest);
        s->digest = NULL;
        rv = CKR_HOST_MEMORY;
    }
    if (rv == CKR_OK) {
        s->digest_mech = m->mechanism;
        s->dmsg_len = s->dout_len = 0;
        s->dmsg_overflow = false;
    }
    hc_front_unlock(s);
    return rv;
}

static CK_RV digest_final(hc_vsession_t *s, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    CK_ULONG need = (CK_ULONG)EVP_MD_CTX_get_size(s->digest);
    if (!out) {
        *out_len = need;
        return CKR_OK;
    }
    if (*out_len < need) {
        *out_len = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    unsigned int n = 0;
    CK_RV rv = EVP_DigestFinal_ex(s->digest, out, &n) ? CKR_OK : CKR_FUNCTION_FAILED;
    *out_len = n;
    if (rv == CKR_OK && hc_front_profile.keep_digest_input && n <= sizeof s->dout) {
        memcpy(s->dout, out, n);
        s->dout_len = n;
    }
    EVP_MD_CTX_free(s->digest);
    s->digest = NULL;
    return rv;
}

static void digest_abort(hc_vsession_t *s)
{
    EVP_MD_CTX_free(s->digest);
    s->digest = NULL;
}

CK_RV C_Digest(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{
    if ((!d && dl) || !ol)
        return CKR_ARGUMENTS_BAD;
    SESSION_OR_RETURN(h, s);
    CK_RV rv = CKR_OPERATION_NOT_INITIALIZED;
    if (s->digest) {
        if (!o) {
            *ol = (CK_ULONG)EVP_MD_CTX_get_size(s->digest);
            rv = CKR_OK;
        } else if (*ol < (CK_ULONG)EVP_MD_CTX_get_size(s->digest)) {
            *ol = (CK_ULONG)EVP_MD_CTX_get_size(s->digest);
            rv = CKR_BUFFER_TOO_SMALL;
        } else if (!EVP_DigestUpdate(s->digest, d, dl)) {
            digest_abort(s);
            rv = CKR_FUNCTION_FAILED;
        } else {
            keep_input(s, d, dl);
            rv = digest_final(s, o, ol);
        }
    }
    hc_front_unlock(s);
    return rv;
}

CK_RV C_DigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl)
{
    if (!d && dl)
        return CKR_ARGUMENTS_BAD;
    SESSION_OR_RETURN(h, s);
    CK_RV rv = CKR_OPERATION_NOT_INITIALIZED;
    if (s->digest) {
        rv = EVP_DigestUpdate(s->digest, d, dl) ? CKR_OK : CKR_FUNCTION_FAILED;
        if (rv != CKR_OK)
            digest_abort(s);
        else
            keep_input(s, d, dl);
    }
    hc_front_unlock(s);
    return rv;
}

CK_RV C_DigestFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{
    if (!ol)
        return CKR_ARGUMENTS_BAD;
    SESSION_OR_RETURN(h, s);
    CK_RV rv = s->digest ? digest_final(s, o, ol) : CKR_OPERATION_NOT_INITIALIZED;
    hc_front_unlock(s);
    return rv;
}
