/*
 * group.h: token groups: one slot served by several tokens that hold the
 * same keys (a network HSM cluster, or one key imported into two cards).
 *
 * Config (config_group.c checks it):
 *     [token a]   module = ..., label = ... (or serial), its own PIN file
 *     [token b]   ...
 *     [token ha]  members = a, b       (no module, label or serial)
 * Hosts see one token, "ha". A member is an ordinary token inside the core
 * (its own hc_token_t: pool, login, PIN rejection mark, recovery); it is
 * not a slot of its own unless a profile's `tokens =` names it, and then
 * the slot and the member are the same hc_token_t (one pool, one login).
 *
 * Keys: the group's objects are those present on every member that
 * answers, matched by class, CKA_ID, CKA_LABEL and CKA_TOKEN; a key whose
 * public key differs between two members is refused (never found, never
 * used), with both members and both SHA-256 fingerprints in the log and in
 * the group's token status (`hsmcache doctor`, `hsmcache keys`). The first
 * search on a group (and its status) compares every private key once.
 * A member that did not answer then is compared before its first use.
 * A member whose search finds another object under the key's identity
 * (the key destroyed and imported again) is compared again; the standing
 * is recomputed from the members' current objects each time, never kept:
 * members that differ refuse the key, members that agree again use it.
 * When they all agree on another public key than the group's (the key
 * was rotated on every member), the group entry is retired (a reference
 * to it answers CKR_OBJECT_HANDLE_INVALID, as a destroyed object's does)
 * and the search returns a new entry with the new public key: an entry's
 * public key is written once, so readers never see it change.
 *
 * Every call into a member is timed ([token] timeout, watchdog.h): the
 * shorter of the member's own and the group's `timeout`; a call that does
 * not answer in time fails with CKR_DEVICE_REMOVED and moves on.
 *
 * Routing (group.c): each operation on a group key (sign, decrypt,
 * attributes) goes to the healthy member with the fewest group operations
 * in flight, ties in round robin. A device or session error on a member
 * (hc_group_moves_on) marks it down and the operation runs again on
 * another member in the same call. CKR_GENERAL_ERROR and
 * CKR_FUNCTION_FAILED (hc_group_ambiguous) may be the data's (SoftHSM's
 * answer to some bad input) or a broken member's, which would otherwise
 * draw every operation (it answers fast, so it has the fewest in flight):
 * the operation runs once more on another member; if that one succeeds,
 * the first is down and the caller gets the success, else no member is
 * marked and the caller gets the second answer when it is precise, else
 * the first. A member signature that does not verify with the group's
 * adopted public key (sign.c's check, HC_SIGN_MISMATCH) is never
 * delivered: that member fails as on a device error, and its key is
 * found and compared again before its next use. Any other error (the data,
 * the mechanism) is returned at once. A down member gets one operation after
 * its backoff (0.5 s doubling to 10 s) as a probe, and is up again when
 * one succeeds. A member whose PIN is rejected is down like any other:
 * its own mark (pinmark.h) keeps that PIN from being tried again.
 * Key generation and destruction on a group are refused: keys are
 * replicated with the vendor's tools.
 *
 * Thread-safety: everything here may be called from any number of
 * threads at once. The group's lock (hc_group_t.lock) guards the members'
 * routing state (in flight, up/down, backoff); the group token's idx_lock
 * guards its entries' group fields (member links, member_checked,
 * mismatch), written and read only under it, and the public key fields
 * of a group entry until they are set (once: compare() in groupkeys.c).
 * Neither lock is held across a module call or while taking the other;
 * a member token's idx_lock may be taken under the group token's (short,
 * in keyindex.c's functions), never the reverse.
 */
#ifndef HC_GROUP_H
#define HC_GROUP_H

#include "core/core.h"

/* A group entry's link to one member's entry (hc_keyent_t.member[i]),
 * under the group token's idx_lock. `epoch` is e's epoch when linked: a
 * later one means the object behind e was destroyed (perhaps imported
 * again with another key pair), and e's public key, read once, may be
 * the old one; e is then retired on the member and the key found and
 * compared there again (groupkeys.c). */
typedef struct hc_group_link {
    hc_keyent_t *e;
    uint64_t epoch;
} hc_group_link_t;

typedef struct hc_member {
    hc_token_t *t;     /* an ordinary token of the core */
    unsigned inflight; /* group operations on it now */
    bool down;         /* failed; probed after retry_ms */
    unsigned backoff_ms;
    uint64_t retry_ms;
    hc_member_stats_t *stats;
} hc_member_t;

typedef struct hc_group {
    pthread_mutex_t lock;
    hc_member_t m[HC_GROUP_MAX_MEMBERS];
    size_t n;
    size_t rr;                  /* round robin: where the next tie starts */
    pthread_mutex_t check_lock; /* one full key comparison at a time */
    bool checked;               /* every private key compared once */
} hc_group_t;

/* What sign.c's sign_op answers for a signature the key's public key
 * rejects (a faulty device, or another key pair under the key's handle):
 * internal, never a host's answer. key_attempt makes it the member's
 * failure (CKR_DEVICE_ERROR: down, an error and a failover, its key
 * compared again); hc_core_sign makes it CKR_DEVICE_ERROR for a token of
 * its own. */
#define HC_SIGN_MISMATCH (CKR_VENDOR_DEFINED | 0x48435703UL)

/* Makes `gt` (a group token, its cfg with members) a group of `members`
 * (n of them, each an ordinary token of the core); CKR_HOST_MEMORY. */
CK_RV hc_group_init(hc_token_t *gt, hc_token_t **members, size_t n);
void hc_group_free(hc_token_t *gt);

/* Whether a member's failure moves the operation to another member:
 * a device or session error (CKR_DEVICE_ERROR, CKR_DEVICE_REMOVED,
 * CKR_TOKEN_NOT_PRESENT, a session lost after the pool's own retry, the
 * call timeout), a rejected or missing PIN, or the key gone from that
 * member. Everything else (CKR_DATA_LEN_RANGE, CKR_MECHANISM_INVALID,
 * ...) is the caller's answer. */
bool hc_group_moves_on(CK_RV rv);
/* Whether a member's failure is checked on another member before it is
 * the caller's answer (see Routing above): CKR_GENERAL_ERROR,
 * CKR_FUNCTION_FAILED. Never true where hc_group_moves_on is. */
bool hc_group_ambiguous(CK_RV rv);

/* hc_key_run / hc_key_run_signing for a group entry: routed and failed
 * over as above; `err` names the group, the member and the key. */
CK_RV hc_group_key_run(hc_token_t *gt, hc_keyent_t *ge, bool live, bool need_login, bool signing,
                       hc_key_op_fn fn, void *arg, hc_err_t *err);
/* hc_pool_run on one member, routed and failed over the same way
 * (random, seeding). */
CK_RV hc_group_pool_run(hc_token_t *gt, bool live, bool need_login, hc_pool_fn fn, void *arg,
                        hc_err_t *err);
/* Logs in every member (a caller's PIN, when not NULL, is offered to the
 * members whose PIN store has none, each once): CKR_OK when one member is
 * logged in, else the first member's error. */
CK_RV hc_group_login(hc_token_t *gt, const unsigned char *pin, size_t len, hc_err_t *err);
/* The group's status: present while one member is; the token info is the
 * group's own (label = its name, model "token group"), flags from the
 * members. An error (info_valid still true) names every member that is
 * down or absent or whose PIN is rejected, and every refused key. */
CK_RV hc_group_status(hc_token_t *gt, hc_token_status_t *st, hc_err_t *err);
/* The mechanisms every member that answers has (info: flags and key
 * sizes all of them allow). */
CK_RV hc_group_mechanisms(hc_token_t *gt, CK_MECHANISM_TYPE *list, CK_ULONG *count, hc_err_t *err);
CK_RV hc_group_mechanism_info(hc_token_t *gt, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info,
                              hc_err_t *err);
/* Member i answered a call the group made outside routing (a search)
 * with rv: marked down or up as a routed operation would. */
void hc_group_note(hc_token_t *gt, size_t i, CK_RV rv, const hc_err_t *e);
/* The refusal of key generation and destruction on a group. */
CK_RV hc_group_refuse_keys(hc_token_t *gt, const char *what, hc_err_t *err);

/* groupkeys.c */
/* The group's objects matching `tmpl` (see above); *objs malloc'ed. */
CK_RV hc_group_find(hc_token_t *gt, const CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_obj_t **objs,
                    size_t *count, hc_err_t *err);
/* hc_keyindex_public for a group entry: the members' public keys compared;
 * CKR_KEY_TYPE_INCONSISTENT naming both members and fingerprints when
 * they differ, CKR_OBJECT_HANDLE_INVALID when the key was replaced on the
 * members (a new search finds the new one). */
CK_RV hc_group_public(hc_token_t *gt, hc_keyent_t *ge, hc_err_t *err);
/* The entry of `ge` on member `i`, found there by identity if not yet,
 * its public key compared with the group's before its first use:
 * CKR_OBJECT_HANDLE_INVALID when the member lacks it or the key was
 * replaced, the member's error, or CKR_KEY_TYPE_INCONSISTENT for a
 * mismatch (the key is then refused on every member). */
CK_RV hc_group_member_key(hc_token_t *gt, hc_keyent_t *ge, size_t i, hc_keyent_t **me,
                          hc_err_t *err);
/* Member i's entry `me` of ge is retired and a fresh one linked, found by
 * identity and its public key read and compared again before member i's
 * next use (its signature did not verify with the group's key: the
 * object behind the handle may be another key pair now). */
void hc_group_member_renew(hc_token_t *gt, hc_keyent_t *ge, size_t i, hc_keyent_t *me);
/* Whether `ge` is refused now: its members' public keys differ, or it was
 * retired (replaced on the members). Takes gt->idx_lock. */
bool hc_group_key_refused(hc_token_t *gt, const hc_keyent_t *ge);
/* Compares every private key of every member once per context (the first
 * search or status); the refusals are logged. */
void hc_group_check_all(hc_token_t *gt);
/* Appends "key K refused: ..." for every refused key to `buf` ("; "
 * between them). */
void hc_group_refusals(hc_token_t *gt, char *buf, size_t size);

#endif
