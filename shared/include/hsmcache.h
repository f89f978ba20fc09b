/*
 * hsmcache.h: the core's call interface, used by every plugin and the CLI.
 *
 * A plugin never talks to a PKCS#11 module itself: it opens one context
 * (hc_open) for its profile and turns its host's requests into the calls
 * below. Behind the context sits one of two transports (struct hc_ops in
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
    char name[64];           /* hsmcache token name (config section) */
    char module[256];        /* module name or path from the config */
    bool present;            /* the real token answered just now */
    bool pin_stored;         /* the PIN store has a usable PIN file */
    bool pin_rejected;       /* the token refused this PIN file version */
    bool logged_in;          /* the pool holds a logged-in session */
    CK_TOKEN_INFO info;      /* real token info; last known if absent */
    bool info_valid;         /* info was read at least once */
} hc_token_status_t;

/* Opens a context for `profile` reading the config from `conf_path`, or
 * from $HSMCACHE_CONF, or /etc/hsmcache/hsmcache.conf when NULL. Modules are
 * loaded lazily, on the first call that needs a token. */
CK_RV hc_open(const char *profile, const char *conf_path, hc_ctx_t **out,
              hc_err_t *err);
void hc_close(hc_ctx_t *ctx);

/* Path of the config file the context was opened with. */
const char *hc_config_path(const hc_ctx_t *ctx);

/* Tokens visible to this context's profile, in config order. */
size_t hc_token_count(const hc_ctx_t *ctx);
const char *hc_token_name(const hc_ctx_t *ctx, size_t tok);
/* Index of the token named `name` (config name), or -1. */
long hc_token_index(const hc_ctx_t *ctx, const char *name);

CK_RV hc_token_status(hc_ctx_t *ctx, size_t tok, hc_token_status_t *st,
                      hc_err_t *err);
CK_RV hc_mechanisms(hc_ctx_t *ctx, size_t tok, CK_MECHANISM_TYPE *list,
                    CK_ULONG *count, hc_err_t *err);
CK_RV hc_mechanism_info(hc_ctx_t *ctx, size_t tok, CK_MECHANISM_TYPE type,
                        CK_MECHANISM_INFO *info, hc_err_t *err);

/* Logs the pool in with a PIN the caller supplies; used only when the PIN
 * store has no PIN for the token (a stored PIN always wins). */
CK_RV hc_login_with(hc_ctx_t *ctx, size_t tok, const unsigned char *pin,
                    size_t pin_len, hc_err_t *err);

/* Logs the pool in now with the stored PIN (at most one C_Login per PIN
 * file version, as always): CKR_OK, CKR_PIN_INCORRECT, CKR_PIN_LOCKED,
 * CKR_USER_NOT_LOGGED_IN (no usable PIN file), or a token error. */
CK_RV hc_login_check(hc_ctx_t *ctx, size_t tok, hc_err_t *err);

/* Objects matching a PKCS#11 template; *objs is malloc'ed. */
CK_RV hc_find(hc_ctx_t *ctx, size_t tok, const CK_ATTRIBUTE *tmpl,
              CK_ULONG n, hc_obj_t **objs, size_t *count, hc_err_t *err);
/* Objects named by an RFC 7512 URI; its token= may be the hsmcache token
 * name, the real label; serial=, object=, id= and type= narrow it. */
CK_RV hc_find_uri(hc_ctx_t *ctx, const char *uri, hc_obj_t **objs,
                  size_t *count, hc_err_t *err);
/* Where a URI points for creating an object: the first configured token
 * it selects (as hc_find_uri would), and the object= label and id= it
 * gives ("" and 0 bytes when absent). */
CK_RV hc_uri_target(hc_ctx_t *ctx, const char *uri, size_t *tok, char *label,
                    size_t label_size, unsigned char *id, size_t *id_len,
                    hc_err_t *err);
/* The token index an object lives on. */
size_t hc_obj_token(hc_obj_t obj);

/* C_GetAttributeValue semantics (sizes, CK_UNAVAILABLE_INFORMATION). */
CK_RV hc_get_attrs(hc_ctx_t *ctx, hc_obj_t obj, CK_ATTRIBUTE *tmpl,
                   CK_ULONG n, hc_err_t *err);

/* The key's public key as DER SubjectPublicKeyInfo (cached). */
CK_RV hc_public_key(hc_ctx_t *ctx, hc_obj_t obj, unsigned char **spki,
                    size_t *len, hc_err_t *err);
/* Size in bytes of a signature made with this key. */
CK_RV hc_signature_length(hc_ctx_t *ctx, hc_obj_t obj, size_t *len,
                          hc_err_t *err);

/* Signs with a private key: from the signature cache when the profile
 * caches, else hashes locally and sends the raw mechanism when the token
 * has it, through a pooled session, recovering lost sessions once.
 * *sig_len is the buffer size on input, the signature size on output. */
CK_RV hc_sign(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech,
              const unsigned char *data, size_t len, unsigned char *sig,
              size_t *sig_len, hc_err_t *err);
/* How one signature is asked for and was answered (hc_sign_ex). */
typedef struct hc_sign_opts {
    bool background;   /* in: yields to live requests */
    int64_t expires;   /* in: Unix time after which the signature is
                          useless (an RRSIG's expiration); 0 = never.
                          A persistent cache entry is dropped after it. */
    bool from_cache;   /* out: answered without the HSM */
} hc_sign_opts_t;
CK_RV hc_sign_ex(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech,
                 const unsigned char *data, size_t len, hc_sign_opts_t *opts,
                 unsigned char *sig, size_t *sig_len, hc_err_t *err);
/* Drops persistent cache entries whose expiration has passed; *dropped
 * (may be NULL) counts them. */
CK_RV hc_cache_purge(hc_ctx_t *ctx, size_t *dropped, hc_err_t *err);
/* Same as hc_sign, for background work: yields to live requests. */
CK_RV hc_sign_background(hc_ctx_t *ctx, hc_obj_t key,
                         const CK_MECHANISM *mech, const unsigned char *data,
                         size_t len, unsigned char *sig, size_t *sig_len,
                         hc_err_t *err);
/* Verifies in software with the key's public key when the mechanism is
 * one libcrypto implements, else on the token. CKR_SIGNATURE_INVALID on a
 * bad signature. */
CK_RV hc_verify(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech,
                const unsigned char *data, size_t len,
                const unsigned char *sig, size_t sig_len, hc_err_t *err);
/* Single-part encrypt/decrypt on the token; *out_len as for hc_sign
 * (out may be NULL to query the size). */
CK_RV hc_encrypt(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech,
                 const unsigned char *in, size_t in_len, unsigned char *out,
                 size_t *out_len, hc_err_t *err);
CK_RV hc_decrypt(hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech,
                 const unsigned char *in, size_t in_len, unsigned char *out,
                 size_t *out_len, hc_err_t *err);

/* Generates a key pair on the token. A missing CKA_ID, or PowerDNS's
 * constant 01020304, is replaced by a fresh random 16-byte id shared by
 * both halves. */
CK_RV hc_generate_key_pair(hc_ctx_t *ctx, size_t tok,
                           const CK_MECHANISM *mech,
                           const CK_ATTRIBUTE *pub_tmpl, CK_ULONG npub,
                           const CK_ATTRIBUTE *priv_tmpl, CK_ULONG npriv,
                           hc_obj_t *pub, hc_obj_t *priv, hc_err_t *err);
CK_RV hc_destroy(hc_ctx_t *ctx, hc_obj_t obj, hc_err_t *err);
CK_RV hc_random(hc_ctx_t *ctx, size_t tok, unsigned char *buf, size_t len,
                hc_err_t *err);
/* Mixes `seed` into the token's generator (C_SeedRandom); through the
 * agent, CKR_RANDOM_SEED_NOT_SUPPORTED (clients do not seed its tokens). */
CK_RV hc_seed_random(hc_ctx_t *ctx, size_t tok, const unsigned char *seed,
                     size_t len, hc_err_t *err);

/* Writes the context's counters as text ("prometheus" = exposition
 * format) to a malloc'ed string. */
CK_RV hc_stats_text(hc_ctx_t *ctx, bool prometheus, char **out,
                    hc_err_t *err);

/* true when the context is served by hsmcached ([core] agent), false
 * when by the embedded core. */
bool hc_via_agent(const hc_ctx_t *ctx);

/* Appends one SSH CA audit record (a JSON object, no newline) to the
 * [sshca] audit-log, whole, with flock and fsync: embedded, to this
 * process's config's log (errno says why on failure); with the agent, to
 * the agent's, which adds the caller's verified uid and pid. */
CK_RV hc_audit(hc_ctx_t *ctx, const char *record, hc_err_t *err);

/* Logging: the core writes to stderr prefixed "hsmcache[profile]: ". */
bool hc_signature_cache_enabled(const hc_ctx_t *ctx);

#ifdef __cplusplus
}
#endif
#endif
