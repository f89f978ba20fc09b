/*
 * front.h: the PKCS#11 front's state. The front forwards: every call
 * becomes a core call on the one context opened at C_Initialize. It owns
 * only what PKCS#11 makes per-caller: virtual sessions and their pending
 * operations. Virtual slot N is the profile's token N.
 *
 * Locking: `front.lock` guards initialization and the session table;
 * each session's `lock` guards its operation state. Order: front.lock,
 * then a session lock, never the reverse: code holding a session lock
 * uses the session's own ctx, not hc_front_ctx(). Core calls are made
 * without the front lock held, so sessions work in parallel.
 */
#ifndef HC_FRONT_H
#define HC_FRONT_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "hsmcache.h"

/* The message a signature's data is the digest of: the input of the
 * session's last C_Digest when its output is what C_Sign got (PowerDNS
 * hashes an RRSIG's signing input, then signs the hash with CKM_ECDSA). */
typedef struct hc_front_msg {
    CK_MECHANISM_TYPE digest; /* the C_DigestInit mechanism */
    const unsigned char *data;
    size_t len;
} hc_front_msg_t;

/*
 * A profile is what makes one front module differ from another (the
 * generic pkcs11 one, the SSH CA one): a name (the config section and
 * core profile) and optional hooks. Each module links exactly one
 * profile file defining `hc_front_profile`.
 */
typedef struct hc_front_profile {
    const char *name;
    /* After the context is open: builds the profile's state. */
    CK_RV (*init)(hc_ctx_t *ctx, void **state);
    void (*fini)(void *state);
    /* Hides objects: false = the host never sees `obj`. */
    bool (*visible)(void *state, hc_obj_t obj);
    /* Replaces hc_sign for C_Sign/C_SignFinal (policy, audit, recording
     * what is signed). `msg` is NULL unless keep_digest_input is set and
     * `data` is the session's last digest. */
    CK_RV (*sign)(void *state, hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech,
                  const unsigned char *data, size_t len, const hc_front_msg_t *msg,
                  unsigned char *sig, size_t *sig_len, hc_err_t *err);
    bool keep_digest_input;
} hc_front_profile_t;

extern const hc_front_profile_t hc_front_profile;

#define HC_FRONT_MAX_BUFFER (64u << 20) /* multi-part data we keep */
#define HC_FRONT_MAX_LABEL 256u         /* an OAEP label we keep */

/* One multi-part or size-queried operation in progress. */
typedef struct hc_front_op {
    bool active;
    CK_MECHANISM mech; /* pParameter points into param[] */
    _Alignas(CK_RSA_PKCS_OAEP_PARAMS) unsigned char param[256];
    unsigned char label[HC_FRONT_MAX_LABEL]; /* OAEP's pSourceData copy */
    hc_obj_t key;
    unsigned char *buf; /* data collected by *Update */
    size_t len, cap;
    unsigned char *result; /* computed for a size query, kept */
    size_t result_len;
} hc_front_op_t;

typedef struct hc_vsession {
    pthread_mutex_t lock;
    hc_ctx_t *ctx; /* the context it was opened in: valid until
                                  C_Finalize, which closes sessions first */
    void *pstate;  /* the profile's state, likewise */
    CK_SLOT_ID slot;
    CK_FLAGS flags;
    hc_obj_t *found; /* C_FindObjects state */
    size_t nfound, pos;
    bool finding;
    hc_front_op_t sign, verify, encrypt, decrypt;
    EVP_MD_CTX *digest; /* NULL when no digest is active */
    /* With keep_digest_input: the last digest's input and output. */
    CK_MECHANISM_TYPE digest_mech;
    unsigned char *dmsg;
    size_t dmsg_len, dmsg_cap;
    bool dmsg_overflow; /* too long to keep: not offered */
    unsigned char dout[EVP_MAX_MD_SIZE];
    size_t dout_len;
} hc_vsession_t;

typedef struct hc_front {
    pthread_mutex_t lock;
    bool initialized;
    hc_ctx_t *ctx;
    void *pstate;             /* hc_front_profile's state */
    hc_vsession_t **sessions; /* handle = index + 1 */
    size_t nsessions;
    bool warned_caller_pin;
} hc_front_t;

extern hc_front_t hc_front;

/* true unless the profile hides `obj`. */
bool hc_front_visible(const hc_vsession_t *s, hc_obj_t obj);

/* Returns the context, or NULL when not initialized (or after fork). */
hc_ctx_t *hc_front_ctx(void);
/* Finds and locks a session; CKR_OK or the error to return. */
CK_RV hc_front_session(CK_SESSION_HANDLE h, hc_vsession_t **out);
void hc_front_unlock(hc_vsession_t *s);
void hc_front_op_reset(hc_front_op_t *op);
/* Starts `op` with copies of the mechanism and its parameter (an OAEP
 * label too: the caller's memory is not the front's after C_*Init). */
CK_RV hc_front_op_start(hc_front_op_t *op, const CK_MECHANISM *mech, hc_obj_t key);
CK_RV hc_front_op_append(hc_front_op_t *op, const unsigned char *data, size_t len);
/* Copies a finished result to the caller with PKCS#11 size semantics;
 * ends the op unless the caller only asked for the size. */
CK_RV hc_front_op_deliver(hc_front_op_t *op, unsigned char *out, CK_ULONG *out_len);

#define FRONT_CTX_OR_FAIL(ctx)                                                \
    hc_ctx_t *ctx = hc_front_ctx();                                           \
    if (!ctx)                                                                 \
        return CKR_CRYPTOKI_NOT_INITIALIZED

#endif
