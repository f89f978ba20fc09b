/*
 * transport.h: the seam between the public calls (api.c) and whatever
 * serves them. The embedded core (core.c) is one implementation; the agent
 * client is the other. Each member has the public function's contract,
 * with the transport's own state as first argument.
 */
#ifndef HC_TRANSPORT_H
#define HC_TRANSPORT_H

#include "config.h"
#include "hsmcache.h"

typedef struct hc_obj_identity {
    CK_OBJECT_CLASS cls;
    unsigned char id[128];
    size_t idlen;
    char label[256];
    size_t labellen;
} hc_obj_identity_t;

typedef struct hc_transport {
    void (*close)(void *impl);
    const char *(*config_path)(const void *impl);
    size_t (*token_count)(const void *impl);
    const char *(*token_name)(const void *impl, size_t tok);
    /* The real label the token is configured to have, known without
     * asking it ("" when only a serial is configured); NULL when the
     * transport does not know (then every token may match a URI). */
    const char *(*token_label)(const void *impl, size_t tok);
    bool (*signature_cache_enabled)(const void *impl);
    CK_RV (*token_status)(void *impl, size_t tok, hc_token_status_t *st, hc_err_t *err);
    CK_RV (*mechanisms)(void *impl, size_t tok, CK_MECHANISM_TYPE *list, CK_ULONG *count,
                        hc_err_t *err);
    CK_RV (*mechanism_info)(void *impl, size_t tok, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info,
                            hc_err_t *err);
    CK_RV (*login_with)(void *impl, size_t tok, const unsigned char *pin, size_t len,
                        hc_err_t *err);
    CK_RV (*login_check)(void *impl, size_t tok, hc_err_t *err);
    CK_RV (*find)(void *impl, size_t tok, const CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_obj_t **objs,
                  size_t *count, hc_err_t *err);
    CK_RV (*get_attrs)(void *impl, hc_obj_t obj, CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_err_t *err);
    CK_RV (*public_key)(void *impl, hc_obj_t obj, unsigned char **spki, size_t *len, hc_err_t *err);
    CK_RV (*signature_length)(void *impl, hc_obj_t obj, size_t *len, hc_err_t *err);
    CK_RV (*sign)(void *impl, hc_obj_t key, const CK_MECHANISM *mech, const unsigned char *data,
                  size_t len, hc_sign_opts_t *opts, unsigned char *sig, size_t *sig_len,
                  hc_err_t *err);
    CK_RV (*cache_purge)(void *impl, size_t *dropped, hc_err_t *err);
    /* hc_fleet_lease; NULL when the transport has no shared tier (every
     * lease held: a fleet of one). */
    CK_RV (*fleet_lease)(void *impl, const char *name, unsigned seconds, bool *held, hc_err_t *err);
    CK_RV (*verify)(void *impl, hc_obj_t key, const CK_MECHANISM *mech, const unsigned char *data,
                    size_t len, const unsigned char *sig, size_t sig_len, hc_err_t *err);
    CK_RV (*crypt)(void *impl, bool encrypt, hc_obj_t key, const CK_MECHANISM *mech,
                   const unsigned char *in, size_t in_len, unsigned char *out, size_t *out_len,
                   hc_err_t *err);
    CK_RV (*generate_key_pair)(void *impl, size_t tok, const CK_MECHANISM *mech,
                               const CK_ATTRIBUTE *pub_tmpl, CK_ULONG npub,
                               const CK_ATTRIBUTE *priv_tmpl, CK_ULONG npriv, hc_obj_t *pub,
                               hc_obj_t *priv, hc_err_t *err);
    CK_RV (*destroy)(void *impl, hc_obj_t obj, hc_err_t *err);
    CK_RV (*random)(void *impl, size_t tok, unsigned char *buf, size_t len, hc_err_t *err);
    /* C_SeedRandom; NULL when the transport does not pass seeds on. */
    CK_RV (*seed_random)(void *impl, size_t tok, const unsigned char *seed, size_t len,
                         hc_err_t *err);
    CK_RV (*stats_text)(void *impl, bool prometheus, char **out, hc_err_t *err);
    /* The process's plugin stats area (core/stats.h); NULL when the
     * transport keeps none (api.c then gives the plugin a private one). */
    struct hc_plugin_area *(*plugin_stats)(void *impl);
    /* The object's identity (what the agent authorizes against and what a
     * client finds an object again by after the agent restarts). */
    CK_RV (*describe)(void *impl, hc_obj_t obj, hc_obj_identity_t *id, hc_err_t *err);
    /* Appends a plugin's audit record (hsmcache.h hc_audit): the embedded
     * core to `path`, the plugin's; the agent to its own log. */
    CK_RV (*audit)(void *impl, const char *path, const char *record, hc_err_t *err);
} hc_transport_t;

/* Object references, the same for every transport so that
 * hc_obj_token() works on any: (token + 1) << 40 | (index + 1), where
 * index is the transport's own table position. hc_obj_index of a
 * reference that is not one gives SIZE_MAX. */
hc_obj_t hc_obj_make(size_t tok, size_t index);
/* tp->token_label, "" when the transport has none (api.c). */
const char *hc_token_configured_label(const hc_ctx_t *ctx, size_t tok);
size_t hc_obj_index(hc_obj_t obj);

/* The embedded core: opens `impl` for `profile` with a loaded config,
 * which it takes over (freed with the core, or at once on failure). */
CK_RV hc_embedded_open(const char *profile, hc_config_t *cfg, void **impl,
                       const hc_transport_t **tp, hc_err_t *err);
/* The agent client (agent_client.c): connects to the agent at `socket`
 * and says hello for `profile`; fails, naming the socket, when the agent
 * does not answer or refuses this process. */
CK_RV hc_agent_open(const char *profile, const char *conf_path, const char *socket,
                    long long timeout_ms, void **impl, const hc_transport_t **tp, hc_err_t *err);

/* hc_open that always serves from the embedded core, whatever [core]
 * agent says: hsmcached's own contexts. */
CK_RV hc_open_embedded(const char *profile, const char *conf_path, hc_ctx_t **out, hc_err_t *err);
/* The object's identity (see hc_ops.describe). */
CK_RV hc_describe(hc_ctx_t *ctx, hc_obj_t obj, hc_obj_identity_t *id, hc_err_t *err);
/* The CKA_ID the embedded core gives both halves of a key pair generated
 * from these templates: the first usable one given (public half first),
 * or NULL when it will make a fresh random one (objects.c). Lets hsmcached
 * check the id a key will get before generating it. */
const CK_ATTRIBUTE *hc_keygen_given_id(const CK_ATTRIBUTE *pub, CK_ULONG npub,
                                       const CK_ATTRIBUTE *priv, CK_ULONG npriv);

#endif
