/*
 * p11run.h: how p11call.c's wrappers make the module call itself: on the
 * caller's thread, or under the token's [token] timeout (watchdog.h) on a
 * runner thread, on copies. Internal to p11call.c.
 *
 * Which calls are timed (when the token has a watch with a timeout):
 *   - always, the calls a token makes when it connects and logs in, so a
 *     host starts whatever a device does: C_GetSlotList, C_GetTokenInfo,
 *     C_GetMechanismList, C_GetMechanismInfo, C_OpenSession,
 *     C_CloseAllSessions, C_CloseSession, C_GetSessionInfo, C_Login;
 *   - every other call too when hc_watch_every_call is on (a token group's
 *     member, which another member can stand in for): a hand-off to a
 *     runner and back costs each call two thread switches (measured per
 *     C_Sign in tests/bench/ha.sh), which a lone token, with no other to
 *     turn to, does not pay on its signing path;
 *   - never C_GenerateKeyPair (legitimately slow on a real HSM), nor a
 *     call whose arguments hold pointers the copy cannot follow: a
 *     mechanism parameter other than RSA-PSS's, an attribute of array type
 *     (CKF_ARRAY_ATTRIBUTE) with a value, a value over 1 MiB. These run on
 *     the caller's thread.
 * A timed call copies what the module reads into the job, and what it
 * writes back out of the job, bounded by the caller's buffers (a module
 * reporting more than a buffer holds is p11call.c's to judge), and wipes
 * the job; a held call's module writes only into the job. While the token
 * is hung every call, timed or not, is refused at once.
 *
 * Each function returns the module's value, or HC_RUN_TIMEOUT /
 * HC_RUN_REFUSED with `err` set and the line logged (watchdog.h); a module
 * answering one of those two values itself is answered
 * CKR_GENERAL_ERROR. Thread-safety: as p11call.h.
 */
#ifndef HC_P11RUN_H
#define HC_P11RUN_H

#include "core/p11call.h"

#define HC_RUN_TIMEOUT (CKR_VENDOR_DEFINED | 0x48435701UL)
#define HC_RUN_REFUSED (CKR_VENDOR_DEFINED | 0x48435702UL)

CK_RV hc_run_get_slot_list(const hc_p11_t *p, CK_BBOOL present, CK_SLOT_ID *slots, CK_ULONG *n,
                           hc_err_t *err);
CK_RV hc_run_get_token_info(const hc_p11_t *p, CK_SLOT_ID slot, CK_TOKEN_INFO *info, hc_err_t *err);
CK_RV hc_run_get_mechanism_list(const hc_p11_t *p, CK_SLOT_ID slot, CK_MECHANISM_TYPE *list,
                                CK_ULONG *n, hc_err_t *err);
CK_RV hc_run_get_mechanism_info(const hc_p11_t *p, CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                                CK_MECHANISM_INFO *info, hc_err_t *err);
CK_RV hc_run_open_session(const hc_p11_t *p, CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE *s,
                          hc_err_t *err);
CK_RV hc_run_close_all_sessions(const hc_p11_t *p, CK_SLOT_ID slot, hc_err_t *err);
CK_RV hc_run_close_session(const hc_p11_t *p, CK_SESSION_HANDLE s, hc_err_t *err);
CK_RV hc_run_get_session_info(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_SESSION_INFO *info,
                              hc_err_t *err);
CK_RV hc_run_login(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_USER_TYPE user,
                   const unsigned char *pin, CK_ULONG len, hc_err_t *err);
CK_RV hc_run_find_init(const hc_p11_t *p, CK_SESSION_HANDLE s, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                       hc_err_t *err);
CK_RV hc_run_find(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *h, CK_ULONG max,
                  CK_ULONG *got, hc_err_t *err);
CK_RV hc_run_find_final(const hc_p11_t *p, CK_SESSION_HANDLE s, hc_err_t *err);
CK_RV hc_run_get_attrs(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                       CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_err_t *err);
CK_RV hc_run_generate_key_pair(const hc_p11_t *p, CK_SESSION_HANDLE s, const CK_MECHANISM *mech,
                               const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv,
                               CK_ULONG npriv, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv,
                               hc_err_t *err);
CK_RV hc_run_destroy_object(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                            hc_err_t *err);
CK_RV hc_run_copy_object(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                         const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *copy,
                         hc_err_t *err);
/* C_SignInit, C_VerifyInit, C_EncryptInit or C_DecryptInit. */
enum hc_run_init { HC_RUN_SIGN, HC_RUN_VERIFY, HC_RUN_ENCRYPT, HC_RUN_DECRYPT };
CK_RV hc_run_op_init(const hc_p11_t *p, enum hc_run_init op, CK_SESSION_HANDLE s,
                     const CK_MECHANISM *mech, CK_OBJECT_HANDLE key, hc_err_t *err);
/* C_Sign, C_Encrypt or C_Decrypt (op HC_RUN_SIGN/ENCRYPT/DECRYPT): `in`
 * read, `out` (NULL: a size query) written up to *outlen. */
CK_RV hc_run_output(const hc_p11_t *p, enum hc_run_init op, CK_SESSION_HANDLE s,
                    const unsigned char *in, CK_ULONG inlen, unsigned char *out, CK_ULONG *outlen,
                    hc_err_t *err);
CK_RV hc_run_verify(const hc_p11_t *p, CK_SESSION_HANDLE s, const unsigned char *data, CK_ULONG len,
                    const unsigned char *sig, CK_ULONG siglen, hc_err_t *err);
CK_RV hc_run_generate_random(const hc_p11_t *p, CK_SESSION_HANDLE s, unsigned char *buf,
                             CK_ULONG len, hc_err_t *err);
/* CKR_RANDOM_SEED_NOT_SUPPORTED when the module has no C_SeedRandom. */
CK_RV hc_run_seed_random(const hc_p11_t *p, CK_SESSION_HANDLE s, const unsigned char *seed,
                         CK_ULONG len, hc_err_t *err);

#endif
