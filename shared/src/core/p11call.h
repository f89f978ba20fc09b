/*
 * p11call.h: the one door into a real PKCS#11 module. Every call the core
 * makes into a module goes through a wrapper here (module.c only loads and
 * initializes it); nothing else dereferences a module's function list.
 *
 * A module is treated as buggy: each wrapper checks what the module
 * returned against what it was given, before any caller reads it:
 *   - output lengths fit the buffer given (C_Sign, C_Encrypt, C_Decrypt,
 *     each attribute of C_GetAttributeValue), whatever the return value;
 *   - counts fit the array given (C_GetSlotList, C_GetMechanismList,
 *     C_FindObjects);
 *   - CKR_OK comes with the output it promises: a signature of at least
 *     one byte, handles other than CK_INVALID_HANDLE (C_OpenSession,
 *     C_FindObjects, C_GenerateKeyPair, whose two halves differ), no
 *     attribute left CK_UNAVAILABLE_INFORMATION;
 *   - attribute values of a fixed shape (proto_check.h: CK_BBOOL, CK_ULONG,
 *     CK_ULONG arrays, dates) have exactly that shape, a CK_BBOOL is 0 or 1.
 *
 * A violation is answered with HC_P11_FAULT (CKR_DEVICE_ERROR: the token,
 * not the caller or the library, is at fault; it is not one of the "lost
 * session" values, so the pool does not retry it), never with the module's
 * own value: the outputs are then not to be used, and the wrappers clear
 * them (lengths and counts 0, handles CK_INVALID_HANDLE, attribute lengths
 * CK_UNAVAILABLE_INFORMATION). It is logged once, at error level, naming
 * the token, the module and what was wrong ("token dns: module softhsm2:
 * C_Sign returned 4096 bytes for a 1024-byte buffer"), and the same text
 * goes to `err`.
 *
 * Any other failure returns the module's value unchanged (pool.c's
 * recovery needs the real CKR_ value) with `err` set to "token NAME:
 * C_Func: CKR_NAME", logged at warning level. Values that answer the
 * caller rather than report a failure are logged at debug level only:
 * a size query's CKR_BUFFER_TOO_SMALL, an absent or secret attribute's
 * CKR_ATTRIBUTE_TYPE_INVALID / CKR_ATTRIBUTE_SENSITIVE, a verdict on the
 * caller's data (CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE,
 * CKR_ENCRYPTED_DATA_INVALID, CKR_ENCRYPTED_DATA_LEN_RANGE),
 * CKR_USER_ALREADY_LOGGED_IN at C_Login, a token's
 * CKR_RANDOM_SEED_NOT_SUPPORTED at C_SeedRandom, a stale handle's
 * CKR_OBJECT_HANDLE_INVALID / CKR_KEY_HANDLE_INVALID (the core finds the
 * object again), a verdict on what the host or client asked (its data,
 * mechanism, parameter, key or template: CKR_DATA_*, CKR_MECHANISM_*,
 * CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_FUNCTION_NOT_PERMITTED, ...), and
 * CKR_FUNCTION_NOT_SUPPORTED / CKR_ACTION_PROHIBITED for what the token
 * does not offer (C_CopyObject). A local client cannot make the HSM
 * error count move by asking for something wrong.
 *
 * HSM errors: every failure and every violation (never an answer) adds one
 * to *errors (the token's `hsm_errors` counter, shown by `hsmcache
 * stats`), so each counted error has one log line naming its call and
 * CKR_ name. `err` may be NULL. A PIN is passed to the module, never
 * formatted.
 *
 * Time limit ([token] timeout, watchdog.h, p11run.h): with a watch, the
 * calls a token makes to connect and log in (a group member's: every
 * call) run under the token's timeout. One that does not answer in time
 * returns HC_P11_TIMEOUT (CKR_DEVICE_REMOVED, so the pool drops its
 * sessions and probes the token with backoff), counts one HSM error, and
 * logs "token NAME: C_Func did not answer within N ms ([token] timeout)
 * ..." at error level; the token is then hung: each call fails at once
 * with HC_P11_HUNG (also CKR_DEVICE_REMOVED, not counted) until the device
 * answers again. hc_p11_hung() tells these from a module's own values.
 *
 * Thread-safety: as the module's (loaded with CKF_OS_LOCKING_OK through
 * p11-kit): the wrappers keep no state but the watch's (its own locking);
 * an hc_p11_t is read-only once `fl` is set.
 */
#ifndef HC_P11CALL_H
#define HC_P11CALL_H

#include "hsmcache.h"
#include "core/watchdog.h"
#include "util/log.h"

/* What a violation of the checks above returns. */
#define HC_P11_FAULT CKR_DEVICE_ERROR

typedef struct hc_p11 {
    CK_FUNCTION_LIST *fl; /* the initialized module; NULL until loaded */
    const char *token;    /* configured token name, for messages; NULL
                                 for a module-level call (C_GetInfo): the
                                 messages then start "module M: " */
    const char *module;   /* module name or path as configured */
    const hc_logger_t *log;
    uint64_t *errors;  /* counts failures (see above); NULL: none */
    hc_watch_t *watch; /* the time limit; NULL: none (calls on the
                                 caller's thread, never refused) */
} hc_p11_t;

/* Whether the token is hung now (its calls fail at once; see above):
 * false without a watch. Lock-free. */
bool hc_p11_hung(const hc_p11_t *p);

/* Whether a module's return value is a failure (counted, logged at
 * warning level) rather than CKR_OK or an answer (see above). */
bool hc_p11_is_failure(CK_RV rv);

/* Whether `fl` has every function the wrappers call, and a version with
 * major 2 or 3 (a 3.0 module's C_GetFunctionList list keeps the 2.x
 * layout): CKR_OK, or CKR_GENERAL_ERROR with `err` naming `module` and the
 * first missing function. Used by module.c at load. */
CK_RV hc_p11_check_list(const CK_FUNCTION_LIST *fl, const char *module, hc_err_t *err);

/* ---- the module, slots, tokens, mechanisms ---- */
CK_RV hc_p11_get_info(const hc_p11_t *p, CK_INFO *info, hc_err_t *err);
/* *n: capacity of `slots` in (ignored when NULL), count out. */
CK_RV hc_p11_get_slot_list(const hc_p11_t *p, CK_BBOOL present, CK_SLOT_ID *slots, CK_ULONG *n,
                           hc_err_t *err);
CK_RV hc_p11_get_token_info(const hc_p11_t *p, CK_SLOT_ID slot, CK_TOKEN_INFO *info, hc_err_t *err);
/* *n: capacity of `list` in (ignored when NULL), count out. */
CK_RV hc_p11_get_mechanism_list(const hc_p11_t *p, CK_SLOT_ID slot, CK_MECHANISM_TYPE *list,
                                CK_ULONG *n, hc_err_t *err);
CK_RV hc_p11_get_mechanism_info(const hc_p11_t *p, CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                                CK_MECHANISM_INFO *info, hc_err_t *err);

/* ---- sessions ---- */
CK_RV hc_p11_open_session(const hc_p11_t *p, CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE *s,
                          hc_err_t *err);
CK_RV hc_p11_close_all_sessions(const hc_p11_t *p, CK_SLOT_ID slot);
/* One session (the pool's recovery after a hang closes the sessions left
 * open one by one, after opening a new one: the login state stays). */
CK_RV hc_p11_close_session(const hc_p11_t *p, CK_SESSION_HANDLE s, hc_err_t *err);
CK_RV hc_p11_get_session_info(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_SESSION_INFO *info,
                              hc_err_t *err);
CK_RV hc_p11_login(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_USER_TYPE user,
                   const unsigned char *pin, size_t len, hc_err_t *err);

/* ---- objects ---- */
CK_RV hc_p11_find_init(const hc_p11_t *p, CK_SESSION_HANDLE s, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                       hc_err_t *err);
/* Up to `max` handles into `h`; *got <= max, none CK_INVALID_HANDLE. */
CK_RV hc_p11_find(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *h, CK_ULONG max,
                  CK_ULONG *got, hc_err_t *err);
CK_RV hc_p11_find_final(const hc_p11_t *p, CK_SESSION_HANDLE s);
/* The caller's template, checked attribute by attribute as above. With
 * CKR_OK, CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID or
 * CKR_BUFFER_TOO_SMALL every length is either CK_UNAVAILABLE_INFORMATION
 * or a length that fits its buffer (any length for a NULL pValue); with
 * any other value every length is CK_UNAVAILABLE_INFORMATION. */
CK_RV hc_p11_get_attrs(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                       CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_err_t *err);
CK_RV hc_p11_generate_key_pair(const hc_p11_t *p, CK_SESSION_HANDLE s, const CK_MECHANISM *mech,
                               const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv,
                               CK_ULONG npriv, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv,
                               hc_err_t *err);
CK_RV hc_p11_destroy_object(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                            hc_err_t *err);
/* C_CopyObject. A module without it answers CKR_FUNCTION_NOT_SUPPORTED
 * (the function is optional: hc_p11_check_list does not require it). With
 * CKR_OK *copy is a handle other than CK_INVALID_HANDLE and other than
 * `obj` (a copy that is the original would be destroyed with the session
 * holding it); else HC_P11_FAULT and *copy CK_INVALID_HANDLE. */
CK_RV hc_p11_copy_object(const hc_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                         const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *copy,
                         hc_err_t *err);

/* ---- cryptography ---- */
CK_RV hc_p11_sign_init(const hc_p11_t *p, CK_SESSION_HANDLE s, const CK_MECHANISM *mech,
                       CK_OBJECT_HANDLE key, hc_err_t *err);
/* *len: size of `sig` in, signature length out (1..size with CKR_OK). */
CK_RV hc_p11_sign(const hc_p11_t *p, CK_SESSION_HANDLE s, const unsigned char *data, CK_ULONG len,
                  unsigned char *sig, CK_ULONG *siglen, hc_err_t *err);
CK_RV hc_p11_verify_init(const hc_p11_t *p, CK_SESSION_HANDLE s, const CK_MECHANISM *mech,
                         CK_OBJECT_HANDLE key, hc_err_t *err);
CK_RV hc_p11_verify(const hc_p11_t *p, CK_SESSION_HANDLE s, const unsigned char *data, CK_ULONG len,
                    const unsigned char *sig, CK_ULONG siglen, hc_err_t *err);
/* C_EncryptInit or C_DecryptInit. */
CK_RV hc_p11_crypt_init(const hc_p11_t *p, bool encrypt, CK_SESSION_HANDLE s,
                        const CK_MECHANISM *mech, CK_OBJECT_HANDLE key, hc_err_t *err);
/* C_Encrypt or C_Decrypt; *outlen: size of `out` in (ignored when NULL),
 * length out (0..size with CKR_OK: an empty plaintext is legitimate). */
CK_RV hc_p11_crypt(const hc_p11_t *p, bool encrypt, CK_SESSION_HANDLE s, const unsigned char *in,
                   CK_ULONG inlen, unsigned char *out, CK_ULONG *outlen, hc_err_t *err);
CK_RV hc_p11_generate_random(const hc_p11_t *p, CK_SESSION_HANDLE s, unsigned char *buf,
                             CK_ULONG len, hc_err_t *err);
/* C_SeedRandom; CKR_RANDOM_SEED_NOT_SUPPORTED (an answer) when the module
 * has no such function. */
CK_RV hc_p11_seed_random(const hc_p11_t *p, CK_SESSION_HANDLE s, const unsigned char *seed,
                         CK_ULONG len, hc_err_t *err);

#endif
