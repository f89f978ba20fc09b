/*
 * login.h: logging a token in, under the PIN rejection rule (README,
 * "PINs"). The PIN is the store's (pinstore.h), or a caller's (C_Login
 * through the front, the agent's login operation) while the store has no
 * file for the token. Either way one sequence, "check the mark, C_Login,
 * record a rejection", runs under the token's cross-process lock
 * (pinmark.h), so exactly one login is tried per PIN-file version across
 * all processes; once a PIN is rejected, none is tried until the file
 * changes or an operator clears the mark; when the mark cannot be read or
 * kept, no login is tried at all (fail closed).
 *
 * The pool (pool.c) calls these with a session in hand. Thread-safety:
 * each function here must be called with t->lock held (the pool's lock,
 * which guards the login state in hc_token_t: logged_in, rejected_*,
 * warned_*, caller_pin), or on a token no other thread can reach (being
 * destroyed). hc_pool_set_caller_pin (core.h), defined in login.c, takes
 * the lock itself.
 */
#ifndef HC_CORE_LOGIN_H
#define HC_CORE_LOGIN_H

#include "core/core.h"

/* Logs the token in on session `s` unless it is already (or needs no
 * login, or the module says `s` is logged in: a C_Login that answered
 * after the call timeout logged it in, and no PIN is sent again). A
 * C_Login left behind is marked like a rejection; its late answer, on the
 * watchdog's runner thread, clears that mark (right PIN) or makes it a
 * rejection mark, under the cross-process lock, touching no token state
 * (it may come after the token is gone). With `need` false (an
 * operation that works without login), a PIN problem is logged and CKR_OK
 * returned; with it, the error names the token, the PIN file and the fix.
 * A rejected caller's PIN is an error either way. */
CK_RV hc_login_locked(hc_token_t *t, CK_SESSION_HANDLE s, bool need, hc_err_t *err);

/* Whether the PIN of version `ver` (all-zero: a caller's PIN) is known to
 * be rejected: by this process (a mark it could not write) or by the mark. */
bool hc_login_rejected_locked(hc_token_t *t, const hc_pin_version_t *ver);

/* Wipes and frees the caller's PIN, if any: it is tried at most once. */
void hc_login_drop_caller_pin(hc_token_t *t);

#endif
