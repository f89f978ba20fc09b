/*
 * keycopy.h: session copies of private keys, for signing.
 *
 * Why: a token object may cost the module far more per use than a session
 * object (SoftHSM re-reads a token object's file, two opens and six locks,
 * on every C_SignInit, while it keeps session objects in memory), so a
 * signing key is copied once per pooled session, at its second use there
 * (C_CopyObject with CKA_TOKEN false; the copy keeps the original's
 * CKA_PRIVATE, CKA_SENSITIVE and CKA_EXTRACTABLE, checked after the copy)
 * and signed with from then on, as pkcs11-provider does. The first use
 * signs with the token object: a copy costs a C_CopyObject and two
 * attribute reads, more than it saves a host that signs once (one
 * ssh-keygen certificate per process).
 *
 * Rules:
 *   - A copy belongs to one open session (an hc_pooled_t, allocated when
 *     the session is opened and freed when it is closed), never to a
 *     session handle number, which the module may give again to a later
 *     session. The token destroys a session's objects with the session, so
 *     a copy never outlives it; a reconnect (new generation) closes them all.
 *   - A copy is used only for the key it was made from, and only while the
 *     key's entry keeps the epoch it was made in (hc_keyent_t.epoch bumps
 *     when the core destroys the key, when the module refuses the key's
 *     handle, and when a recheck finds the original gone). The original is
 *     looked at again at most every HC_COPY_RECHECK_MS per copy, so a key
 *     destroyed or re-created by another process is signed with by its old
 *     copy for at most that long.
 *   - Where the token will not copy a key (C_CopyObject refused, e.g.
 *     CKR_ACTION_PROHIBITED for CKA_COPYABLE false, or a copy that is not
 *     what was asked), the key is signed with as a token object, and the
 *     refusal is remembered in the key's entry (no_copy): no C_CopyObject
 *     on every call. A token out of memory stops copying into that session.
 *   - Memory is bounded: at most HC_COPIES_PER_SESSION copies per session
 *     (so max-sessions x that per token); a session that is full signs
 *     further keys with their token objects rather than evicting (which
 *     would copy and destroy on every call when more keys than that are in
 *     use round-robin). Stale copies are destroyed when their slot is
 *     needed.
 *   - A copy is marked (CKA_LABEL HC_COPY_LABEL, CKA_ID HC_COPY_ID, both
 *     checked after the copy): the core's finds skip such objects, in every
 *     context of the process (session objects are visible to all sessions
 *     of an application), and nothing in the process that finds keys by
 *     the original's label or id finds a copy.
 *
 * Thread-safety: an hc_pooled_t is used only by the thread holding its
 * session (pool.c hands it out with the session) or by pool.c under the
 * token's lock while idle. The entries' epoch and no_copy are read and
 * written under the token's idx_lock, never held across a module call here.
 */
#ifndef HC_KEYCOPY_H
#define HC_KEYCOPY_H

#include "core/core.h"

#define HC_COPIES_PER_SESSION 32
#define HC_COPY_RECHECK_MS 1000
#define HC_COPY_LABEL "hsmcache session copy"
#define HC_COPY_ID "\x00hsmcache-copy"

typedef struct hc_copy {
    hc_keyent_t *e;      /* NULL: free slot */
    CK_OBJECT_HANDLE h;  /* the copy in the owning session;
                                  CK_INVALID_HANDLE: e used once, not copied */
    uint64_t epoch;      /* e->epoch when made */
    uint64_t checked_ms; /* when the original was last seen */
} hc_copy_t;

typedef struct hc_pooled {
    CK_SESSION_HANDLE h;
    bool full; /* the token ran out of memory for copies */
    hc_copy_t copies[HC_COPIES_PER_SESSION];
} hc_pooled_t;

/* A record for a session just opened; NULL when out of memory. */
hc_pooled_t *hc_pooled_new(CK_SESSION_HANDLE h);
/* Frees the record of a session that is closed (its copies died with it).
 * NULL is a no-op. */
void hc_pooled_free(hc_pooled_t *p);
/* Whether an object read by keyindex.c (identity only) is a copy made by
 * this or another context of the process. */
bool hc_keycopy_is_copy(const hc_keyent_t *probe);

/* The handle to sign with in session `s`: e's copy there (made now, at
 * e's second use in `s`, if the token allows and there is room), else
 * `orig`, e's token-object handle in `s`. An error only when the original is gone or the session lost (the
 * module's value: CKR_OBJECT_HANDLE_INVALID or CKR_KEY_HANDLE_INVALID,
 * a lost-session value), with `err` set. */
CK_RV hc_keycopy_handle(hc_token_t *t, const hc_session_t *s, hc_keyent_t *e, CK_OBJECT_HANDLE orig,
                        CK_OBJECT_HANDLE *out, hc_err_t *err);
/* The module refused copy `h` in `s`: forgotten, and the key is not copied
 * again (a module that refuses its own copies is not trusted with them). */
void hc_keycopy_refused(hc_token_t *t, const hc_session_t *s, CK_OBJECT_HANDLE h);

/* hc_key_run for signing with `e`: `fn` gets e's session copy where there
 * is one (hc_keycopy_handle), else its token-object handle; a refused
 * copy falls back to the token object in the same call. */
CK_RV hc_key_run_signing(hc_token_t *t, hc_keyent_t *e, bool live, hc_key_op_fn fn, void *arg,
                         hc_err_t *err);

#endif
