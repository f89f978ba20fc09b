/*
 * mechs.h: which mechanisms the front serves, for what, and the checks a
 * module makes at C_SignInit, C_VerifyInit, C_EncryptInit and
 * C_DecryptInit, made by the front at the same call.
 *
 * Served: RSA (PKCS#1 v1.5, raw, PSS, hash-and-sign variants; OAEP and
 * v1.5 encrypt/decrypt), ECDSA and its hash variants, EdDSA, key pair
 * generation for RSA, EC and Edwards keys (the list the agent passes on,
 * proto_check.h), and the digests libcrypto computes here (swcrypto.h).
 * Each only for the operations the token's own C_GetMechanismInfo flags
 * and the front both serve: no key generation (C_GenerateKey), wrapping,
 * derivation, recovery or symmetric mechanism is listed, since the front
 * refuses those calls.
 *
 * *Init checks, in the order a module makes them (SoftHSM's):
 *   mechanism served and flagged for the operation  CKR_MECHANISM_INVALID
 *   key's usage attribute (CKA_SIGN ...) CK_TRUE     CKR_KEY_FUNCTION_NOT_PERMITTED
 *   key class (private for sign/decrypt, public for
 *   verify/encrypt)                                  CKR_KEY_TYPE_INCONSISTENT
 *   mechanism in CKA_ALLOWED_MECHANISMS when set     CKR_MECHANISM_INVALID
 *   key type the mechanism's (CKK_RSA, CKK_EC, ...)  CKR_KEY_TYPE_INCONSISTENT
 *   parameter: proto_check.h's hc_mech_check, and    CKR_MECHANISM_PARAM_INVALID
 *     PSS and OAEP: MGF1 with hashAlg's own hash (PKCS#11 allows two
 *     hashes; SoftHSM and many HSMs refuse them, SoftHSM only at C_Sign)
 *     PSS: a hash-and-sign mechanism's hashAlg is its own hash; the salt
 *     fits the key (sLen <= modulus bytes - hash bytes - 2)
 *     OAEP: label at most HC_FRONT_MAX_LABEL bytes (the front keeps a copy)
 *     EdDSA: none, or pure EdDSA's (no prehash, no context)
 * Key facts that cannot be read now (token absent) skip the key checks
 * (keyfacts.h); the token then judges at the data call.
 *
 * Thread-safety: no state of its own; the calls use the context and
 * keyfacts.h, both thread-safe.
 */
#ifndef HC_FRONT_MECHS_H
#define HC_FRONT_MECHS_H

#include "front.h"

/* The operations the front serves with `m` (CKF_SIGN, CKF_VERIFY,
 * CKF_ENCRYPT, CKF_DECRYPT, CKF_DIGEST, CKF_GENERATE_KEY_PAIR), 0 when it
 * serves none: independent of any token. */
CK_FLAGS hc_front_served_ops(CK_MECHANISM_TYPE m);

/* C_GetMechanismInfo as the front serves it: the token's info with the
 * operation flags narrowed to the served ones (hardware and EC capability
 * flags kept); CKR_MECHANISM_INVALID when none is left. */
CK_RV hc_front_mech_info(hc_ctx_t *ctx, CK_SLOT_ID slot, CK_MECHANISM_TYPE m,
                         CK_MECHANISM_INFO *info);

/* C_GetMechanismList as the front serves it (PKCS#11 size semantics). */
CK_RV hc_front_mech_list(hc_ctx_t *ctx, CK_SLOT_ID slot, CK_MECHANISM_TYPE *list, CK_ULONG *count);

/* The checks above for `op` (CKF_SIGN, CKF_VERIFY, CKF_ENCRYPT or
 * CKF_DECRYPT) with `key` (already known to be the session's). CKR_OK or
 * the CKR_ a module gives; a refusal is logged at warning level naming
 * the call, key, mechanism and reason. Session lock held (uses s->ctx). */
CK_RV hc_front_check_init(hc_vsession_t *s, CK_FLAGS op, const CK_MECHANISM *mech, hc_obj_t key);

#endif
