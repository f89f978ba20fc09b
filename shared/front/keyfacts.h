/*
 * keyfacts.h: what the front knows of a key to judge a C_SignInit,
 * C_VerifyInit, C_EncryptInit or C_DecryptInit as the module would: its
 * class, key type, usage attributes (CKA_SIGN, CKA_VERIFY, CKA_ENCRYPT,
 * CKA_DECRYPT), CKA_ALLOWED_MECHANISMS and label. They are read once per
 * key and process (one C_GetAttributeValue through the core, at the key's
 * first *Init) and kept, so PowerDNS's C_SignInit before every signature
 * costs no HSM call once the key has been used.
 *
 * Facts that could not be read (the token is absent, a device error) are
 * not kept: the next *Init reads again, and until then the caller skips
 * the checks that need them (the token itself refuses at the data call),
 * so a host restarted during an outage still signs from the cache.
 *
 * Thread-safety: every call may run concurrently. The table has its own
 * lock, a leaf: no other lock is taken while it is held, and the
 * attribute read runs without it (two threads may both read; either
 * answer is kept).
 */
#ifndef HC_FRONT_KEYFACTS_H
#define HC_FRONT_KEYFACTS_H

#include <stdbool.h>

#include "hsmcache.h"

#define HC_KEYFACTS_ALLOWED 64 /* CKA_ALLOWED_MECHANISMS entries we keep */

typedef struct hc_keyfacts {
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE type;
    CK_FLAGS usage;     /* CKF_SIGN, CKF_VERIFY, CKF_ENCRYPT, CKF_DECRYPT
                             for each CKA_ that is CK_TRUE (absent: not) */
    bool allowed_known; /* false: the list was longer than we keep */
    CK_ULONG nallowed;  /* 0: no restriction (absent or empty) */
    CK_MECHANISM_TYPE allowed[HC_KEYFACTS_ALLOWED];
    char label[128]; /* escaped (textsafe.h), cut to fit, for messages */
} hc_keyfacts_t;

/* The facts of `key` in `ctx` (*cached: true when they were kept from an
 * earlier read): CKR_OK with *f filled; the core's answer
 * when the key is not there (CKR_OBJECT_HANDLE_INVALID,
 * CKR_KEY_HANDLE_INVALID); CKR_DEVICE_ERROR (or the core's value) when
 * they could not be read now, *f then unset. */
CK_RV hc_keyfacts_get(hc_ctx_t *ctx, hc_obj_t key, hc_keyfacts_t *f, bool *cached);
/* As hc_keyfacts_get, always reading them from the token (and keeping
 * them): for a refusal judged on kept facts, which may be of a key since
 * destroyed and made again under the same identity. */
CK_RV hc_keyfacts_reread(hc_ctx_t *ctx, hc_obj_t key, hc_keyfacts_t *f);
/* Drops what is kept of `key` (after C_DestroyObject). */
void hc_keyfacts_forget(hc_obj_t key);
/* Drops everything (C_Finalize: references are per context). */
void hc_keyfacts_clear(void);
/* In the child after fork(): a fresh, empty table (the parent's is left
 * alone, a bounded leak, as the front's sessions are). */
void hc_keyfacts_after_fork(void);

#endif
