/*
 * core.h: the embedded core's internal state, shared by its parts
 * (pool.c, keyindex.c, sign.c, core.c, objects.c, group.c, groupkeys.c).
 * Not a public header.
 *
 * Locking: each token has `lock` guarding its connection, pool and PIN
 * state, and `idx_lock` guarding its key index; neither is held while a
 * slow HSM operation (sign, decrypt) runs. Connect and login do run under
 * `lock`: they must be serialized per token anyway. A token group's locks
 * (group.h) are never held while a member's are taken.
 */
#ifndef HC_CORE_H
#define HC_CORE_H

#include <openssl/evp.h>
#include <openssl/lhash.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/clock.h"
#include "config.h"
#include "hsmcache.h"
#include "util/log.h"
#include "core/module.h"
#include "core/p11call.h"
#include "core/pinstore.h"
#include "core/sigcache.h"
#include "core/stats.h"
#include "transport.h"

typedef struct hc_core hc_core_t;

/* One key-index entry: an object known by identity, re-resolved to a real
 * handle after every reconnect (generation change). */
typedef struct hc_keyent {
    hc_obj_t id;
    CK_OBJECT_HANDLE handle;
    uint64_t gen; /* token generation `handle` belongs to */
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE ktype; /* (CK_KEY_TYPE)-1 when not a key */
    CK_BBOOL on_token;
    unsigned char ckaid[128];
    size_t idlen;
    char label[256];
    size_t labellen;
    /* Filled lazily by hc_keyindex_public(). */
    bool pub_tried;
    unsigned char *spki;
    size_t spki_len;
    unsigned char spki_hash[32];
    EVP_PKEY *pkey; /* spki parsed, for verifying (may be NULL) */
    size_t sig_len;
    hc_key_stats_t *stats;
    /* Session copies (keycopy.h), under idx_lock: `epoch` bumps whenever
     * the object behind the entry may have changed (destroyed, handle
     * refused, found again), making copies made before it stale. */
    uint64_t epoch;
    bool no_copy;                           /* the token would not copy it (remembered) */
    struct hc_keyent *next_label, *next_id; /* keyhash.h's chains */
    /* A group token's entry (group.h), under the group token's idx_lock:
     * the same object's entry on each member (hc_group_link_t, NULL until
     * found there), which members' public keys were compared with
     * spki_hash, and whether two of them differed (the key is then
     * refused). */
    struct hc_group_link *member;
    uint32_t member_checked;
    bool mismatch;
} hc_keyent_t;

typedef struct hc_session {
    CK_SESSION_HANDLE h;
    uint64_t gen;
    struct hc_pooled *own; /* this open session's own state (keycopy.h) */
} hc_session_t;

typedef struct hc_token {
    const hc_token_cfg_t *cfg;
    size_t index; /* in the profile-visible list */
    hc_core_t *core;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    hc_p11_t p11;   /* the module (p11.fl NULL until loaded):
                                 * every call into it goes through p11call.h */
    bool connected; /* slot found, pool usable */
    CK_SLOT_ID slot;
    CK_TOKEN_INFO info;
    bool info_valid;
    uint64_t generation;     /* bumps on every (re)connect */
    struct hc_pooled **idle; /* idle sessions, each with its copies */
    size_t nidle, nopen;
    size_t inflight;           /* sessions handed out, not yet released */
    bool close_pending;        /* a reset waits for them (pool.c) */
    CK_SESSION_HANDLE *opened; /* this connection's sessions (max-sessions) */
    size_t nopened;
    CK_SESSION_HANDLE *owed; /* sessions a hang kept from being closed,
                                 * closed after it (pool.c) */
    size_t nowed;
    size_t live_waiting;
    bool logged_in;
    uint64_t next_probe_ms; /* absent token: no probe before this */
    unsigned backoff_ms;
    /* A rejected PIN whose mark could not be written: never retried by
     * this process until the file changes (pinmark.h keeps the rest). */
    bool rejected_unsaved;
    hc_pin_version_t rejected_ver;
    CK_RV rejected_rv;
    bool warned_store;         /* logged a store problem once */
    bool warned_mark;          /* logged an unusable mark dir once */
    unsigned char *caller_pin; /* from C_Login when the store has none */
    size_t caller_pin_len;
    CK_MECHANISM_TYPE *mechs; /* read once per connect */
    CK_MECHANISM_INFO *mech_info;
    CK_ULONG nmechs;
    /* The raw mechanisms hash-then-sign offload needs (read at connect). */
    bool raw_rsa, raw_pss, raw_ecdsa;

    pthread_mutex_t idx_lock;
    hc_keyent_t **ents;
    size_t nents;
    OPENSSL_LHASH *by_handle, *by_label, *by_id; /* keyhash.h */
    bool indexed;                                /* every object seen once (objects.c) */
    unsigned lookups;                            /* by label or id, until indexed */

    hc_token_stats_t *stats;
    struct hc_group *group; /* a token group (group.h); NULL: a token */
} hc_token_t;

struct hc_core {
    hc_config_t *cfg;
    int profile;
    bool cache_signatures;
    hc_logger_t log;
    hc_modules_t *modules;
    hc_token_t *tokens;   /* profile-visible tokens, then the members
                                 * of groups that are not visible (group.h) */
    size_t ntokens;       /* visible: hosts' token indexes */
    size_t nall;          /* visible and members */
    hc_sigcache_t *cache; /* NULL when the profile does not cache */
    hc_stats_t stats;
};

/* pool.c */
CK_RV hc_token_init(hc_token_t *t, hc_core_t *core, const hc_token_cfg_t *cfg, size_t index);
void hc_token_destroy(hc_token_t *t);
/* true for return values that mean the session or token was lost. */
bool hc_rv_lost(CK_RV rv);
/* An operation run on a pooled session; it resolves handles itself. */
typedef CK_RV (*hc_pool_fn)(hc_token_t *t, const hc_session_t *s, void *arg, hc_err_t *err);
/* Runs `fn` on a pooled session, connecting and logging in as needed; on a
 * lost session it resets the pool and runs `fn` once more. `need_login`:
 * fail (with the PIN store's reason) rather than run without login. */
CK_RV hc_pool_run(hc_token_t *t, bool live, bool need_login, hc_pool_fn fn, void *arg,
                  hc_err_t *err);
/* Connects if needed and returns current status fields. */
CK_RV hc_pool_status(hc_token_t *t, hc_token_status_t *st, hc_err_t *err);
CK_RV hc_pool_set_caller_pin(hc_token_t *t, const unsigned char *pin, size_t len, hc_err_t *err);
/* Which raw signing mechanisms the token has, for the offload. */
void hc_token_raw_mechs(hc_token_t *t, bool *rsa, bool *pss, bool *ecdsa);
/* Connects if needed (no live re-check; cheap when connected). */
CK_RV hc_pool_connect(hc_token_t *t, hc_err_t *err);
/* Cached C_GetMechanismInfo; CKR_MECHANISM_INVALID if the token lacks it. */
CK_RV hc_token_mech_info(hc_token_t *t, CK_MECHANISM_TYPE m, CK_MECHANISM_INFO *info);
/* The same, only from what an earlier connection read: true and *info set
 * when known, with no call to the module, so a signature served from the
 * cache does not wait for (or fail on) an absent token. Thread-safe. */
bool hc_token_mech_info_known(hc_token_t *t, CK_MECHANISM_TYPE m, CK_MECHANISM_INFO *info);

/* keyindex.c */
/* Maps real handles found in session `s` to stable ids. */
CK_RV hc_keyindex_map(hc_token_t *t, const hc_session_t *s, const CK_OBJECT_HANDLE *h, size_t n,
                      hc_obj_t *out, hc_err_t *err);
/* The same for handles a search found: the core's own session copies of
 * keys (keycopy.h) are left out; *mapped ids are written. */
CK_RV hc_keyindex_map_found(hc_token_t *t, const hc_session_t *s, const CK_OBJECT_HANDLE *h,
                            size_t n, hc_obj_t *out, size_t *mapped, hc_err_t *err);
/* A lookup answered by the index alone, without the token: true with the
 * matching ids (*objs malloc'ed, *count >= 1) when `tmpl` holds only
 * identity attributes (CKA_CLASS, CKA_LABEL, CKA_ID, CKA_TOKEN,
 * CKA_KEY_TYPE) with a label or an id, every object has been seen once
 * (t->indexed) and some entry matches; false otherwise: the token's search
 * is then the answer (an object another process made since is found so).
 * Constant time in the number of objects (keyhash.h). Thread-safe. */
bool hc_keyindex_lookup(hc_token_t *t, const CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_obj_t **objs,
                        size_t *count);
/* The entry of reference `id` on any token of the core, a group's member
 * included (the core's own use); hc_key_lookup takes host-visible ones. */
hc_keyent_t *hc_keyindex_get(hc_core_t *core, hc_obj_t id, hc_token_t **tok);
/* The entry with `probe`'s identity (class, CKA_ID, CKA_LABEL, CKA_TOKEN)
 * on `t`, made without a handle when there is none (a group's entries);
 * NULL when out of memory or when `probe` has neither label nor id.
 * Takes idx_lock. */
hc_keyent_t *hc_keyindex_intern(hc_token_t *t, const hc_keyent_t *probe);
/* The same without making one: NULL when t's index has none. */
hc_keyent_t *hc_keyindex_known(hc_token_t *t, const hc_keyent_t *probe);
/* The real handle of `e` valid in session `s` (re-found after reconnect). */
CK_RV hc_keyindex_resolve(hc_token_t *t, const hc_session_t *s, hc_keyent_t *e,
                          CK_OBJECT_HANDLE *out, hc_err_t *err);
/* Fills e->spki/sig_len (once); CKR_KEY_TYPE_INCONSISTENT when the key
 * has no public key. A failure that says nothing of the key (a lost
 * session, a refused handle, a module fault) is returned, not kept. */
CK_RV hc_keyindex_public(hc_token_t *t, hc_keyent_t *e, hc_err_t *err);
/* e's epoch (read under t's idx_lock): it moves when the object behind e
 * may have changed, so an operation across which it moved may have used
 * another object. */
uint64_t hc_keyindex_epoch(hc_token_t *t, hc_keyent_t *e);
/* The public key of e's object as the token holds it now, read in session
 * s (h: the private key's handle there), not kept: for a key found again
 * after a refused handle, whose kept public key may be the old object's.
 * *pkey is the caller's. Thread-safe (reads only e's identity). */
CK_RV hc_keyindex_public_now(hc_token_t *t, const hc_session_t *s, CK_OBJECT_HANDLE h,
                             hc_keyent_t *e, EVP_PKEY **pkey, hc_err_t *err);
void hc_keyindex_forget(hc_token_t *t, hc_keyent_t *e);
/* hc_keyindex_get for a reference a host gave: unknown (an error naming
 * it) unless on a host-visible token. */
hc_keyent_t *hc_key_lookup(hc_core_t *core, hc_obj_t id, hc_token_t **tok, CK_RV *rv,
                           hc_err_t *err);
/* An operation on one object: `h` is its real handle in session `s`. */
typedef CK_RV (*hc_key_op_fn)(hc_token_t *t, const hc_session_t *s, CK_OBJECT_HANDLE h, void *arg,
                              hc_err_t *err);
/* hc_pool_run for an operation on `e`: resolves its handle (again after a
 * reconnect) before calling `fn`; a handle the module refuses
 * (CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID) is dropped, found
 * again by identity and `fn` run once more. */
CK_RV hc_key_run(hc_token_t *t, hc_keyent_t *e, bool live, bool need_login, hc_key_op_fn fn,
                 void *arg, hc_err_t *err);
void hc_keyindex_free(hc_token_t *t);
/* The key's name for messages: its label quoted, bytes outside printable
 * ASCII as \xNN (a module's label may hold NUL and control bytes), else
 * "id " and its CKA_ID in hex; cut to `size` (at least 8). */
const char *hc_keyent_name(const hc_keyent_t *e, char *buf, size_t size);

/* The embedded transport's members (transport.h), in objects.c and sign.c. */
CK_RV hc_core_find(void *impl, size_t tok, const CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_obj_t **objs,
                   size_t *count, hc_err_t *err);
CK_RV hc_core_get_attrs(void *impl, hc_obj_t obj, CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_err_t *err);
CK_RV hc_core_public_key(void *impl, hc_obj_t obj, unsigned char **spki, size_t *len,
                         hc_err_t *err);
CK_RV hc_core_signature_length(void *impl, hc_obj_t obj, size_t *len, hc_err_t *err);
CK_RV hc_core_generate_key_pair(void *impl, size_t tok, const CK_MECHANISM *mech,
                                const CK_ATTRIBUTE *pub_tmpl, CK_ULONG npub,
                                const CK_ATTRIBUTE *priv_tmpl, CK_ULONG npriv, hc_obj_t *pub,
                                hc_obj_t *priv, hc_err_t *err);
CK_RV hc_core_destroy(void *impl, hc_obj_t obj, hc_err_t *err);
CK_RV hc_core_describe(void *impl, hc_obj_t obj, hc_obj_identity_t *id, hc_err_t *err);
CK_RV hc_core_sign(void *impl, hc_obj_t key, const CK_MECHANISM *mech, const unsigned char *data,
                   size_t len, hc_sign_opts_t *opts, unsigned char *sig, size_t *sig_len,
                   hc_err_t *err);
CK_RV hc_core_cache_purge(void *impl, size_t *dropped, hc_err_t *err);
CK_RV hc_core_verify(void *impl, hc_obj_t key, const CK_MECHANISM *mech, const unsigned char *data,
                     size_t len, const unsigned char *sig, size_t sig_len, hc_err_t *err);
CK_RV hc_core_crypt(void *impl, bool encrypt, hc_obj_t key, const CK_MECHANISM *mech,
                    const unsigned char *in, size_t in_len, unsigned char *out, size_t *out_len,
                    hc_err_t *err);

#endif
