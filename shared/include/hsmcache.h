/*
 * hsmcache.h: the core's call interface, and its boundary: libhsmcache.so
 * exports exactly the calls declared here (a version script generated
 * from this file), and plugins include no other header of the core
 * (tests/integration/source_layers.sh checks both).
 *
 * A plugin never talks to a PKCS#11 module itself: it opens one context
 * (hc_open) for its profile and turns its host's requests into the calls
 * below. Behind the context sits one of two transports (struct hc_transport in
 * src/transport.h), chosen at hc_open by the config: the embedded core
 * (sessions, caches and PINs in this process), or hsmcached's socket when
 * `[core] agent` names one. Plugins make the same calls either way.
 *
 * Contract for every call:
 * - Returns a PKCS#11 return value (CKR_OK on success) so the PKCS#11 front
 *   can pass it through unchanged; when `err` is not NULL a failure also
 *   fills err->msg with a sentence naming the token, key or file at fault.
 * - Thread-safe: any number of threads may use one context at once.
 *   hc_close must not race with other calls on the same context.
 * - Memory returned through a `**` argument is owned by the caller and is
 *   released with free().
 * - Objects are named by hc_obj_t references that stay valid across session
 *   loss and token removal/reinsertion (re-resolved inside the core).
 */
#ifndef HSMCACHE_H
#define HSMCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <p11-kit/pkcs11.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hc_ctx hc_ctx_t;

/* A stable reference to one object on one token; never 0. */
typedef uint64_t hc_obj_t;

/* The largest signature hc_sign makes (RSA-8192), for callers' buffers. */
#define HC_MAX_SIG 1024

typedef struct hc_err {
    CK_RV rv;
    char msg[512];
} hc_err_t;

/* Profiles select a config section and its cache rule. */
#define HC_PROFILE_PKCS11 "pkcs11" /* generic PKCS#11 front */
#define HC_PROFILE_PDNS "pdns"
#define HC_PROFILE_BIND "bind"
#define HC_PROFILE_SSHCA "sshca"
#define HC_PROFILE_CLI "cli"

typedef struct hc_token_status {
    char name[64];      /* hsmcache token name (config section) */
    char module[256];   /* module name or path from the config */
    bool present;       /* the real token answered just now */
    bool pin_stored;    /* the PIN store has a usable PIN file */
    bool pin_rejected;  /* the token refused this PIN file version */
    bool logged_in;     /* the pool holds a logged-in session */
    CK_TOKEN_INFO info; /* real token info; last known if absent */
    bool info_valid;    /* info was read at least once */
} hc_token_status_t;

/* Opens a context for `profile` reading the config from `conf_path`, or
 * from $HSMCACHE_CONF, or /etc/hsmcache/hsmcache.conf when NULL. Modules are
 * loaded lazily, on the first call that needs a token. */
CK_RV hc_open(const char *profile, const char *conf_path, hc_ctx_t **out, hc_err_t *err);
void hc_close(hc_ctx_t *ctx);

/* Path of the config file the context was opened with. */
const char *hc_config_path(const hc_ctx_t *ctx);

/* Tokens visible to this context's profile, in config order. */
size_t hc_token_count(const hc_ctx_t *ctx);
const char *hc_token_name(const hc_ctx_t *ctx, size_t tok);
/* Index of the token named `name` (config name), or -1. */
long hc_token_index(const hc_ctx_t *ctx, const char *name);

CK_RV hc_token_status(hc_ctx_t *ctx, size_t tok, hc_token_status_t *st, hc_err_t *err);
CK_RV hc_mechanisms(hc_ctx_t *ctx, size_t tok, CK_MECHANISM_TYPE *list, CK_ULONG *count,
                    hc_err_t *err);
CK_RV hc_mechanism_info(hc_ctx_t *ctx, size_t tok, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info,
                        hc_err_t *err);

/* Logs the pool in with a PIN the caller supplies; used only when the PIN
 * store has no PIN for the token (a stored PIN always wins). */
CK_RV hc_login_with(hc_ctx_t *ctx, size_t tok, const unsigned char *pin, size_t pin_len,
                    hc_err_t *err);

/* Logs the pool in now with the stored PIN (at most one C_Login per PIN
 * file version, as always): CKR_OK, CKR_PIN_INCORRECT, CKR_PIN_LOCKED,
 * CKR_USER_NOT_LOGGED_IN (no usable PIN file), or a token error. */
CK_RV hc_login_check(hc_ctx_t *ctx, size_t tok, hc_err_t *err);

/* Objects matching a PKCS#11 template; *objs is malloc'ed. */
CK_RV hc_find(hc_ctx_t *ctx, size_t tok, const CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_obj_t **objs,
              size_t *count, hc_err_t *err);
/* Objects named by an RFC 7512 URI; its token= may be the hsmcache token
 * name, the real label; serial=, object=, id= and type= narrow it. */
CK_RV hc_find_uri(hc_ctx_t *ctx, const char *uri, hc_obj_t **objs, size_t *count, hc_err_t *err);
/* Where a URI points for creating an object: the first configured token
 * it selects (as hc_find_uri would), and the object= label and id= it
 * gives ("" and 0 bytes when absent). */
CK_RV hc_uri_target(hc_ctx_t *ctx, const char *uri, size_t *tok, char *label, size_t label_size,
                    unsigned char *id, size_t *id_len, hc_err_t *err);
/* The token index an object lives on. */
size_t hc_obj_token(hc_obj_t obj);

/* C_GetAttributeValue semantics (sizes, CK_UNAVAILABLE_INFORMATION). */
CK_RV hc_get_attrs(hc_ctx_t *ctx, hc_obj_t obj, CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_err_t *err);

/* The key's public key as DER SubjectPublicKeyInfo (cached). */
CK_RV hc_public_key(hc_ctx_t *ctx, hc_obj_t obj, unsigned char **spki, size_t *len, hc_err_t *err);
/* Size in bytes of a signature made with this key. */
CK_RV hc_signature_length(hc_ctx_t *ctx, hc_obj_t obj, size_t *len, hc_err_t *err);

/* Signs with a private key: from the signature cache when the profile
 * caches, else hashes locally and sends the raw mechanism when the token
 * has it, through a pooled session, recovering lost sessions once.
 * *sig_len is the buffer size on input, the signature size on output. */
CK_RV hc_sign(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech, const unsigned char *data,
              size_t len, unsigned char *sig, size_t *sig_len, hc_err_t *err);
/* How one signature is asked for and was answered (hc_sign_ex). */
typedef struct hc_sign_opts {
    bool background; /* in: yields to live requests */
    int64_t expires; /* in: Unix time after which the signature is
                          useless (an RRSIG's expiration); 0 = never.
                          A persistent cache entry is dropped after it. */
    bool from_cache; /* out: answered without the HSM */
} hc_sign_opts_t;
CK_RV hc_sign_ex(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech, const unsigned char *data,
                 size_t len, hc_sign_opts_t *opts, unsigned char *sig, size_t *sig_len,
                 hc_err_t *err);
/* Drops persistent cache entries whose expiration has passed; *dropped
 * (may be NULL) counts them. */
CK_RV hc_cache_purge(hc_ctx_t *ctx, size_t *dropped, hc_err_t *err);
/* Same as hc_sign, for background work: yields to live requests. */
CK_RV hc_sign_background(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech,
                         const unsigned char *data, size_t len, unsigned char *sig, size_t *sig_len,
                         hc_err_t *err);
/* Verifies in software with the key's public key when the mechanism is
 * one libcrypto implements, else on the token. CKR_SIGNATURE_INVALID on a
 * bad signature. */
CK_RV hc_verify(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech, const unsigned char *data,
                size_t len, const unsigned char *sig, size_t sig_len, hc_err_t *err);
/* Single-part encrypt/decrypt on the token; *out_len as for hc_sign
 * (out may be NULL to query the size). */
CK_RV hc_encrypt(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech, const unsigned char *in,
                 size_t in_len, unsigned char *out, size_t *out_len, hc_err_t *err);
CK_RV hc_decrypt(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech, const unsigned char *in,
                 size_t in_len, unsigned char *out, size_t *out_len, hc_err_t *err);

/* Generates a key pair on the token. A missing CKA_ID, or PowerDNS's
 * constant 01020304, is replaced by a fresh random 16-byte id shared by
 * both halves. */
CK_RV hc_generate_key_pair(hc_ctx_t *ctx, size_t tok, const CK_MECHANISM *mech,
                           const CK_ATTRIBUTE *pub_tmpl, CK_ULONG npub,
                           const CK_ATTRIBUTE *priv_tmpl, CK_ULONG npriv, hc_obj_t *pub,
                           hc_obj_t *priv, hc_err_t *err);
CK_RV hc_destroy(hc_ctx_t *ctx, hc_obj_t obj, hc_err_t *err);
CK_RV hc_random(hc_ctx_t *ctx, size_t tok, unsigned char *buf, size_t len, hc_err_t *err);
/* Mixes `seed` into the token's generator (C_SeedRandom); through the
 * agent, CKR_RANDOM_SEED_NOT_SUPPORTED (clients do not seed its tokens). */
CK_RV hc_seed_random(hc_ctx_t *ctx, size_t tok, const unsigned char *seed, size_t len,
                     hc_err_t *err);

/* Writes the context's counters as text ("prometheus" = exposition
 * format) to a malloc'ed string. */
CK_RV hc_stats_text(hc_ctx_t *ctx, bool prometheus, char **out, hc_err_t *err);

/* true when the context is served by hsmcached ([core] agent), false
 * when by the embedded core. */
bool hc_via_agent(const hc_ctx_t *ctx);

/* Appends one audit record (a JSON object, no newline) to the plugin's
 * audit log, whole, with flock and fsync. `path` is the log the plugin
 * names (an absolute path, from its own section's settings): embedded,
 * the record is appended there (errno says why on failure). With the
 * agent, `path` is not used: the record goes to hsmcached, which checks it
 * (today it accepts SSH CA records only, shared/agent/audit_record.h),
 * adds the caller's verified uid and pid, and appends it to the log its
 * own config names (a client does not choose where the agent writes).
 * Thread-safe. */
CK_RV hc_audit(hc_ctx_t *ctx, const char *path, const char *record, hc_err_t *err);

/* true when the context's profile caches signatures. */
bool hc_signature_cache_enabled(const hc_ctx_t *ctx);

/*
 * Services for plugins (the PowerDNS front and its presigner, pdns-hsm,
 * the SSH CA module, the OpenSSL provider). A plugin reaches the core
 * only through this header: what is the host's business (PowerDNS, SSH)
 * stays in the plugin, and the core offers these generic means.
 */

/* Logging, to stderr prefixed "hsmcache[PROFILE]: ", for the levels up to
 * the config's [core] log-level. Never pass a secret (PIN, key material).
 * Thread-safe; may be called on any open context. */
enum hc_log_level { HC_LOG_ERROR = 0, HC_LOG_WARN, HC_LOG_INFO, HC_LOG_DEBUG };
void hc_ctx_log(const hc_ctx_t *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The profile's own config section ([pdns] for HC_PROFILE_PDNS...): the
 * settings the config file gave the context at hc_open, checked there
 * (an unknown key or a bad value failed hc_open, naming file and line);
 * unset keys have their documented defaults. The plugin never reads the
 * config file itself. A key its section does not have, or asked as another
 * kind than it is, is refused with CKR_ARGUMENTS_BAD and err naming
 * section and key (a typo in a plugin fails closed). _bool: yes/no;
 * _number: integers, and durations in seconds; _text: a string; _list: a
 * comma or space separated list (n 0 when empty). Strings and lists
 * belong to the context (valid until hc_close). Thread-safe (the values
 * are immutable until hc_close). */
CK_RV hc_setting_bool(const hc_ctx_t *ctx, const char *key, bool *out, hc_err_t *err);
CK_RV hc_setting_number(const hc_ctx_t *ctx, const char *key, long long *out, hc_err_t *err);
CK_RV hc_setting_text(const hc_ctx_t *ctx, const char *key, const char **out, hc_err_t *err);
CK_RV hc_setting_list(const hc_ctx_t *ctx, const char *key, const char *const **items, size_t *n,
                      hc_err_t *err);

/* The directory where a plugin may keep its own persistent files (the
 * config's [core] cache-dir; the plugin names its files after itself),
 * or NULL when [core] persistent-cache = no. Valid until hc_close. */
const char *hc_state_dir(const hc_ctx_t *ctx);

/* A plugin's own values in this process's stats, shown by
 * `hsmcache stats` as "GROUP: NAME VALUEUNIT, ..." (underscores in NAME
 * read as spaces) and by --prometheus as gauges hsmcache_GROUP_NAME,
 * while the process lives and the group is shown (hc_stats_show). GROUP
 * and each NAME: [a-z0-9_], GROUP up to 15 characters, NAME up to 23; UNIT
 * up to 7 characters, "" for none. One group per context, at most
 * HC_PLUGIN_STATS values; CKR_ARGUMENTS_BAD otherwise, err naming what.
 * The handle belongs to the context (valid until hc_close). When several
 * live processes show the same group, one process's values are printed;
 * a context served by hsmcached keeps them in this process's memory only.
 * hc_stat_set/add/show are lock-free and thread-safe, and do nothing
 * with a NULL handle or an index past the group's values. */
#define HC_PLUGIN_STATS 16
typedef struct hc_stat_def {
    const char *name;
    const char *unit;
} hc_stat_def_t;
typedef struct hc_plugin_stats hc_plugin_stats_t;
CK_RV hc_stats_register(hc_ctx_t *ctx, const char *group, const hc_stat_def_t *defs, size_t n,
                        hc_plugin_stats_t **out, hc_err_t *err);
void hc_stat_set(hc_plugin_stats_t *s, size_t i, uint64_t value);
void hc_stat_add(hc_plugin_stats_t *s, size_t i, uint64_t n);
void hc_stats_show(hc_plugin_stats_t *s, bool shown);

/* Fills err (when not NULL) with rv and a message, and returns rv:
 * `return hc_err(err, CKR_..., "key %s: ...", label);`. Thread-safe. */
CK_RV hc_err(hc_err_t *err, CK_RV rv, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The name of a PKCS#11 return value ("CKR_PIN_INCORRECT"), or its hex;
 * points to static storage or to buf (at least 32 bytes). Thread-safe. */
const char *hc_rv_name(CK_RV rv, char *buf);

/* true when `name` is a usable hsmcache token name: [A-Za-z0-9._-], 1
 * to 63 characters, not starting with '.' (it names a file in the PIN
 * store). Pure, thread-safe. */
bool hc_valid_token_name(const char *name);

/* The library a p11-kit module name stands for, from its p11-kit module
 * file (the directories p11-kit reads), into out; false when there is no
 * such file or the path does not fit. Thread-safe. */
bool hc_module_registered_path(const char *name, char *out, size_t size);

/* The PIN store's file for token `tok` (the config's [core] pin-store,
 * STORE/NAME), where hc_token_pin_store writes, into out (CKR_BUFFER_TOO_SMALL
 * when it does not fit). */
CK_RV hc_token_pin_file(const hc_ctx_t *ctx, size_t tok, char *out, size_t size, hc_err_t *err);
/* Stores `pin` as token `tok`'s PIN in this host's PIN store (atomic
 * write, fsync, mode 0600), whichever transport serves the context,
 * unless that PIN is stored already: CKR_OK, *written (may be NULL) says
 * whether a file was written. A different PIN stored: CKR_PIN_INVALID,
 * nothing written, err naming the file; a file the store refuses or
 * cannot write: err naming the file and why; a token group (it has no PIN
 * of its own): CKR_ARGUMENTS_BAD naming its members. The file is only
 * ever created, never replaced: of callers at once (any processes) one
 * writes, the others compare with what it wrote. The caller cleanses
 * `pin`; the core keeps no copy. Thread-safe. */
CK_RV hc_token_pin_store(hc_ctx_t *ctx, size_t tok, const unsigned char *pin, size_t len,
                         bool *written, hc_err_t *err);

/* RSA PKCS#1 v1.5's DER DigestInfo (RFC 8017) of `hash`, made with the
 * digest mechanism `digest` (CKM_MD5, CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384,
 * CKM_SHA512), into out; its length, or 0 when the mechanism has none,
 * hash_len is not its digest's size, or out_size is too small. Pure,
 * thread-safe. */
size_t hc_digest_info(CK_MECHANISM_TYPE digest, const unsigned char *hash, size_t hash_len,
                      unsigned char *out, size_t out_size);

/* A digest computed in software (CKM_MD5, CKM_SHA_1, CKM_SHA224,
 * CKM_SHA256, CKM_SHA384, CKM_SHA512): *out_len is out's size on input,
 * the digest's on output (out NULL: only the size, CKR_OK).
 * CKR_MECHANISM_INVALID for another mechanism, CKR_BUFFER_TOO_SMALL (with
 * the size needed in *out_len). Pure, thread-safe; needs no context. */
CK_RV hc_digest(CK_MECHANISM_TYPE mech, const unsigned char *data, size_t len, unsigned char *out,
                size_t *out_len);

/* A lease over the fleet of servers sharing [shared-cache]'s database,
 * for work one of them should do at a time (the presigner: one node per
 * token): a row in its table hsmcache_leases taken by a conditional
 * INSERT on the primary, expiring by the database's clock (no GET_LOCK:
 * Galera- and replication-safe). seconds > 0 takes or renews lease
 * `name` ([A-Za-z0-9._:-], up to 96 characters) for this process for that
 * long; 0 gives it back. Either first writes the signatures this process
 * queued for the shared tier (up to 2 s), so that whoever holds the lease
 * next finds them. *held: whether this process holds it now. Without a
 * shared tier (no [shared-cache], or through hsmcached) every caller
 * holds every lease: a fleet of one. On a database error err says which
 * and *held is false. May wait on the database (a few seconds at most):
 * never on a query path. Thread-safe. */
CK_RV hc_fleet_lease(hc_ctx_t *ctx, const char *name, unsigned seconds, bool *held, hc_err_t *err);

#ifdef __cplusplus
}
#endif
#endif
