/*
 * config.h: the hsmcache INI file (libinih).
 *
 *   [core]            pin-store, cache-dir, caches, log-level, agent
 *   [agent]           hsmcached's socket and limits
 *   [client NAME]     who may use the agent, with which keys and operations
 *   [token NAME]      module, label | serial, max-sessions
 *   [pkcs11] [pdns] [bind] [sshca] [cli]
 *                     each host type's profile; [pdns] and [sshca] have more,
 *                     kept as the table's rows for the plugin to read by key
 *   [shared-cache]    the fleet's signature tier (values: config_shared.c)
 *
 * Every key is a row of config_keys.c's table (its parser, default and
 * meaning); `hsmcache config-keys` prints the table README shows.
 * Every error names the file, line, section and key. Unknown sections and
 * keys are errors: a typo must not silently fall back to a default.
 * A loaded config is immutable and may be read from any thread.
 */
#ifndef HC_CONFIG_H
#define HC_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "hsmcache.h"

#define HC_DEFAULT_CONF "/etc/hsmcache/hsmcache.conf"
#define HC_DEFAULT_PIN_STORE "/etc/hsmcache/pins"
#define HC_DEFAULT_CACHE_DIR "/var/lib/hsmcache"
#define HC_NAME_MAX 63

/* A comma or space separated list of strings. */
typedef struct hc_strlist {
    char **items;
    size_t n;
} hc_strlist_t;

/* A token group's members, at most (config_group.c, core/group.h). */
#define HC_GROUP_MAX_MEMBERS 16

typedef struct hc_token_cfg {
    char name[HC_NAME_MAX + 1];
    char module[PATH_MAX]; /* p11-kit module name or absolute path */
    char label[33];        /* real token label, or "" */
    char serial[17];       /* real token serial, or "" */
    unsigned max_sessions;
    long long timeout_ms; /* a module call's limit (core/watchdog.h) */
    int line;             /* line of the [token] header */
    hc_strlist_t members; /* a token group's (core/group.h); n 0: a token */
    int members_line;
} hc_token_cfg_t;

/* The value of a key of a profile's own section ([pdns], [sshca]) or
 * of a [client]'s issue keys: the table's row (config_keys.c) says which
 * member holds it (enum hc_cfg_kind). The core keeps these sections as
 * rows, not structs: it does not know what a host's keys mean; the
 * plugin reads its section by key (hsmcache.h hc_setting_*), hsmcached
 * and the CLI by hc_config_setting. */
enum hc_cfg_kind { HC_CFG_NONE, HC_CFG_FLAG, HC_CFG_NUMBER, HC_CFG_TEXT, HC_CFG_LIST };
typedef struct hc_cfg_value {
    bool set; /* given in the file, not a default */
    bool flag;
    long long number; /* whole numbers; durations in seconds */
    char *text;       /* NULL when unset without a default */
    hc_strlist_t list;
} hc_cfg_value_t;

/* Operations a [client] may ask the agent for, beyond reading (find,
 * attributes, public keys, verify, token status, stats), which every
 * listed client may do on the keys it may use. */
enum {
    HC_PERM_SIGN = 1u << 0,
    HC_PERM_DECRYPT = 1u << 1,
    HC_PERM_ENCRYPT = 1u << 2,
    HC_PERM_GENERATE = 1u << 3,
    HC_PERM_DESTROY = 1u << 4,
    HC_PERM_RANDOM = 1u << 5,
    HC_PERM_LOGIN = 1u << 6, /* log in with a PIN the client sends */
    HC_PERM_ISSUE = 1u << 7, /* SSH certificates issued by the agent under
                                   its policy ([sshca] keys); no raw signature */
    HC_PERM_ALL = (1u << 8) - 1,
};

/* [client NAME]: who may use the agent, with which keys. A client
 * matches by uid, or by group (its primary group or a supplementary one
 * of its user); both given: both must match. */
typedef struct hc_client_cfg {
    char name[HC_NAME_MAX + 1];
    bool has_uid, has_group;
    unsigned uid, gid;
    hc_strlist_t keys; /* pkcs11: URIs */
    unsigned ops;      /* HC_PERM_* */
    /* mechanisms = (proto_check.h names): the only ones it may sign,
     * verify, encrypt or decrypt with. Unset (nmechs 0): the signature
     * mechanisms but raw RSA, for sign and verify only. */
    CK_MECHANISM_TYPE mechs[32];
    size_t nmechs;
    /* With `issue`: the [sshca] keys a [client] may set for itself
     * (allowed-principals, max-validity, ...), one per row of the table
     * (config_keys.c; `set` says which it gave). hc_config_setting. */
    hc_cfg_value_t *values;
    int line;
} hc_client_cfg_t;

/* [core] agent and [agent]: where hsmcached listens and how. */
typedef struct hc_agent_cfg {
    char socket[108];     /* sun_path; "" = embedded core */
    long long timeout_ms; /* client: connect and per request */
    unsigned socket_mode;
    bool has_group;
    unsigned socket_gid;
    size_t max_connections, max_per_client;
} hc_agent_cfg_t;

/* [shared-cache]: the fleet's signature tier on MariaDB (sharedtier.h).
 * Parsed and checked by config_shared.c. */
enum hc_shared_tls {
    HC_TLS_NO,     /* plain (a unix socket, or a trusted network) */
    HC_TLS_VERIFY, /* TLS required, certificate checked against tls-ca
                       (or the system's CAs) and the host name. There is
                       no "TLS without checking": libmariadb 3.3 then
                       logs in in plain text to a server without TLS */
};
typedef struct hc_db_endpoint {
    char host[256]; /* "" when socket is used */
    unsigned port;  /* 0: MariaDB's default, 3306 */
    char socket[108];
} hc_db_endpoint_t;
typedef struct hc_shared_cfg {
    bool enabled;           /* the section is present */
    hc_db_endpoint_t write; /* the primary (or any Galera node) */
    hc_db_endpoint_t read;  /* a replica next to this node; unset
                                   (no host, no socket): reads go to write */
    char database[65];
    char user[81];
    char password_file[PATH_MAX]; /* "": no password (unix_socket auth) */
    int tls;                      /* enum hc_shared_tls */
    char tls_ca[PATH_MAX];
    unsigned read_timeout_ms;   /* a lookup on the query path, at most */
    char node[HC_NAME_MAX + 1]; /* this server's name in the rows it writes */
    unsigned purge_interval_s;  /* how often expired rows are purged (by the
                                   lease holder; the lease lasts 3 times it) */
    int line;                   /* of the section header */
} hc_shared_cfg_t;

typedef struct hc_profile_cfg {
    bool signature_cache;
    char **tokens; /* tokens the profile may use; NULL = all */
    size_t ntokens;
} hc_profile_cfg_t;

enum hc_profile_id { HC_P_PKCS11, HC_P_PDNS, HC_P_BIND, HC_P_SSHCA, HC_P_CLI, HC_P_COUNT };

typedef struct hc_config {
    char path[PATH_MAX];
    char pin_store[PATH_MAX];
    char cache_dir[PATH_MAX];
    size_t memory_cache_entries;
    bool persistent_cache;
    size_t persistent_cache_mb;
    int log_level;
    hc_token_cfg_t *tokens;
    size_t ntokens;
    hc_profile_cfg_t profiles[HC_P_COUNT];
    hc_cfg_value_t *values; /* [pdns] and [sshca]: one per row of the table */
    hc_shared_cfg_t shared;
    hc_agent_cfg_t agent;
    hc_client_cfg_t *clients;
    size_t nclients;
} hc_config_t;

/* The pkcs11: URIs profile `profile`'s section limits its tokens to (a
 * row of its section marked so: [sshca] keys, the only objects the SSH CA
 * module shows), or NULL when it names none. Borrowed from cfg. */
const hc_strlist_t *hc_config_token_limit(const hc_config_t *cfg, int profile);
/* The keys of profile `profile`'s own section that a plugin may read
 * (HC_P_*: [pdns]'s presign..., [sshca]'s keys..., and every profile's
 * signature-cache), in the table's order: fn(arg, key, kind, value) for
 * each, until it returns false (then so does the walk). With `client`
 * (a [client] of cfg, or NULL), the keys it set itself replace the
 * section's. Values are cfg's (or for signature-cache a copy valid during
 * the call). Thread-safe (reads cfg only). */
typedef bool hc_cfg_walk_fn(void *arg, const char *key, enum hc_cfg_kind kind,
                            const hc_cfg_value_t *value);
bool hc_config_section_walk(const hc_config_t *cfg, int profile, const hc_client_cfg_t *client,
                            hc_cfg_walk_fn *fn, void *arg);
/* One key of that walk: its value when the section has `key` of `kind`,
 * else NULL (a caller's typo shows as a missing key, not a default).
 * signature-cache is not found here (hc_profile_cfg_t has it). */
const hc_cfg_value_t *hc_config_setting(const hc_config_t *cfg, int profile,
                                        const hc_client_cfg_t *client, const char *key,
                                        enum hc_cfg_kind kind);

/* config_shared.c: [shared-cache]. The default the table cannot write as
 * a value (node = the host name); one key, false with `why` set when
 * refused; the whole section's checks, false with `why` set (config.c
 * adds file and line). */
void hc_shared_cfg_defaults(hc_shared_cfg_t *s);
bool hc_shared_cfg_key(hc_shared_cfg_t *s, const char *key, const char *value, char *why,
                       size_t size);
bool hc_shared_cfg_check(const hc_shared_cfg_t *s, char *why, size_t size);

/* config_group.c: every group's members (defined, each once, none a
 * group, 2 to HC_GROUP_MAX_MEMBERS) and no module, label or serial of its
 * own; the error names `file`, the line and the member. */
CK_RV hc_group_cfg_check(const char *file, const hc_config_t *c, hc_err_t *err);

/* The config path to use: `given`, else $HSMCACHE_CONF, else the default. */
const char *hc_config_resolve(const char *given);
/* Loads `path`; on failure *out is NULL and err names file:line. */
CK_RV hc_config_load(const char *path, hc_config_t **out, hc_err_t *err);
/* Same, from a memory buffer (fuzzing and tests); `name` is used in errors. */
CK_RV hc_config_parse(const char *name, const char *text, size_t len, hc_config_t **out,
                      hc_err_t *err);
void hc_config_free(hc_config_t *cfg);

/* Profile id for a name ("pdns"), or -1. */
int hc_profile_id(const char *name);
const char *hc_profile_name(int id);
const hc_token_cfg_t *hc_config_token(const hc_config_t *cfg, const char *name);
/* true when `name` is a usable token name: [A-Za-z0-9._-], 1-63 chars,
 * not starting with '.' (it names a file in the PIN store). */
bool hc_valid_token_name(const char *name);
/* "30d", "8h", "90m", "3600s", "2w", "3600": seconds, or -1. */
long long hc_parse_duration(const char *text);
/* Writes the table of every key (section and key, default, meaning) as
 * Markdown rows: README's configuration table. Thread-safe. */
void hc_config_doc(FILE *out);

#endif
