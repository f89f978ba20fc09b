/*
 * config_keys.c: the table of every config key. A row names the sections
 * the key may appear in, its parser (and the field it fills), its default
 * (a value text run through the same parser) and its one-line meaning;
 * the parser, the "unknown key (known: ...)" lists, the defaults and
 * README's configuration table (`hsmcache config-keys`) all come from it.
 * Adding a key: a row here, and for the core's own sections a field in
 * config.h. A profile's own keys ([pdns], [sshca], and the [sshca] keys a
 * [client] may set for itself) have no field: their values are kept per
 * row (hc_cfg_value_t), and the plugin that owns the section reads them
 * by key (settings.c walks these rows; hsmcached and the CLI ask
 * hc_config_setting). [shared-cache]'s values are judged by
 * config_shared.c; its rows are here too.
 */
#include "config_int.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/proto_check.h"
#include "util/log.h"

typedef struct hc_cfg_parse parse_t;
struct key;
/* Parses `v` for row `k` into `dst` (the row's field in the current
 * section's struct). False (after hc_cfg_fail) when refused. */
typedef bool parse_fn(parse_t *p, const struct key *k, const char *v, void *dst);

/* The struct a row's field is in; W_VALUE: the row's own value
 * (hc_config_t values, or a [client]'s own for an issue row). */
enum where { W_CONFIG, W_TOKEN, W_CLIENT, W_PROFILE, W_VALUE };
#define TYPE_W_CONFIG hc_config_t
#define TYPE_W_TOKEN hc_token_cfg_t
#define TYPE_W_CLIENT hc_client_cfg_t
#define TYPE_W_PROFILE hc_profile_cfg_t
#define TYPE_W_VALUE hc_cfg_value_t

struct key {
    unsigned sec; /* HC_S_* sections it may appear in */
    const char *name;
    parse_fn *parse;
    enum where where;
    size_t off, size;            /* the field: offset in `where`, size */
    long long min, max;          /* whole numbers */
    bool (*valid)(const char *); /* list items must pass it... */
    const char *what;            /* ...or be refused as "not a valid WHAT" */
    enum hc_cfg_kind kind;       /* as a plugin reads it; NONE: it does not */
    bool issue;                  /* an [sshca] key a [client] may set for itself */
    bool limits_tokens;          /* a list of URIs: the profile's tokens are
                                   those they may select (hc_config_token_limit) */
    const char *def;             /* the default, as a value; NULL: none */
    const char *shown;           /* the default in words, when def is NULL */
    const char *doc;
};

/* The field `m` of the struct of `w`, which must have type `want`: a
 * parser given a field of another type fails to compile (negative array). */
#define TYPE_IS(t, m, want) \
    (0 * sizeof(char[__builtin_types_compatible_p(__typeof__(((t *)0)->m), want) ? 1 : -1]))
#define AT_(w, m, typed, want) .where = w, \
    .off = offsetof(TYPE_##w, m) + TYPE_IS(TYPE_##w, typed, want), .size = sizeof(((TYPE_##w *)0)->m)
#define AT(w, m, want) AT_(w, m, m, want)
#define BOOL(w, m) .parse = p_bool, AT(w, m, bool), .kind = HC_CFG_FLAG
#define SIZE(w, m, lo, hi) .parse = p_size, AT(w, m, size_t), .min = lo, .max = hi
#define UINT(w, m, lo, hi) .parse = p_uint, AT(w, m, unsigned), .min = lo, .max = hi
#define DURATION(w, m) .parse = p_duration, AT(w, m, long long)
#define STR(fn, w, m) .parse = fn, AT_(w, m, m[0], char)
#define LIST(w, m, ok, name) .parse = p_list, AT(w, m, hc_strlist_t), .valid = ok, .what = name
/* A profile's own key, kept as the row's value. */
#define V_BOOL .parse = p_bool, AT(W_VALUE, flag, bool), .kind = HC_CFG_FLAG
#define V_NUMBER(lo, hi) .parse = p_number, AT(W_VALUE, number, long long), .min = lo, \
    .max = hi, .kind = HC_CFG_NUMBER
#define V_DURATION .parse = p_duration, AT(W_VALUE, number, long long), .kind = HC_CFG_NUMBER
#define V_PATH .parse = p_path, AT(W_VALUE, text, char *), .kind = HC_CFG_TEXT
#define V_LIST(ok, name) .parse = p_list, AT(W_VALUE, list, hc_strlist_t), .valid = ok, \
    .what = name, .kind = HC_CFG_LIST
#define ISSUE .issue = true

/* A text into its field, or for a row's own value a copy (up to PATH_MAX). */
static bool copy_value(parse_t *p, const struct key *k, const char *v, char *dst)
{
    size_t max = k->where == W_VALUE ? PATH_MAX : k->size;
    if (strlen(v) >= max)
        return hc_cfg_fail(p, k->name, "value longer than %zu characters", max - 1);
    if (k->where != W_VALUE) {
        strcpy(dst, v);
        return true;
    }
    char *copy = strdup(v);
    if (!copy)
        return hc_cfg_fail(p, k->name, "out of memory");
    free(*(char **)dst);
    *(char **)dst = copy;
    return true;
}

static bool p_text(parse_t *p, const struct key *k, const char *v, void *dst)
{
    return copy_value(p, k, v, dst);
}

static bool p_path(parse_t *p, const struct key *k, const char *v, void *dst)
{
    if (v[0] != '/')
        return hc_cfg_fail(p, k->name, "'%s' is not an absolute path", v);
    return copy_value(p, k, v, dst);
}

static bool p_module(parse_t *p, const struct key *k, const char *v, void *dst)
{
    if (!v[0])
        return hc_cfg_fail(p, k->name, "empty module");
    return copy_value(p, k, v, dst);
}

/* [core] agent: a socket path, or empty for none. */
static bool p_socket(parse_t *p, const struct key *k, const char *v, void *dst)
{
    if (v[0] && strlen(v) >= k->size)
        return hc_cfg_fail(p, k->name, "socket path longer than %zu characters", k->size - 1);
    return !v[0] || p_path(p, k, v, dst);
}

static bool p_bool(parse_t *p, const struct key *k, const char *v, void *dst)
{
    bool *out = dst;
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
        *out = true;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
        *out = false;
    else
        return hc_cfg_fail(p, k->name, "'%s' is not yes or no", v);
    return true;
}

static bool whole_number(parse_t *p, const struct key *k, const char *v, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || n < (unsigned long long)k->min ||
        n > (unsigned long long)k->max)
        return hc_cfg_fail(p, k->name, "'%s' is not a whole number from %lld to %lld", v, k->min,
                           k->max);
    *out = (size_t)n;
    return true;
}

static bool p_size(parse_t *p, const struct key *k, const char *v, void *dst)
{
    return whole_number(p, k, v, dst);
}

static bool p_number(parse_t *p, const struct key *k, const char *v, void *dst)
{
    size_t n;
    if (!whole_number(p, k, v, &n))
        return false;
    *(long long *)dst = (long long)n; /* k->max fits: the table's rows */
    return true;
}

static bool p_uint(parse_t *p, const struct key *k, const char *v, void *dst)
{
    size_t n;
    if (!whole_number(p, k, v, &n))
        return false;
    *(unsigned *)dst = (unsigned)n; /* k->max fits: the table's rows */
    return true;
}

long long hc_parse_duration(const char *text)
{
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (errno || end == text || n < 0)
        return -1;
    static const struct {
        char unit;
        long long s;
    } units[] = {
        { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 },
    };
    if (*end == '\0')
        return n;
    for (size_t i = 0; i < 5; i++)
        if (end[0] == units[i].unit && end[1] == '\0')
            return n > LLONG_MAX / units[i].s ? -1 : n * units[i].s;
    return -1;
}

static bool p_duration(parse_t *p, const struct key *k, const char *v, void *dst)
{
    long long s = hc_parse_duration(v);
    if (s <= 0)
        return hc_cfg_fail(p, k->name, "'%s' is not a duration (e.g. 30s, 8h, 2d)", v);
    *(long long *)dst = s;
    return true;
}

/* A duration kept in milliseconds. */
static bool p_ms(parse_t *p, const struct key *k, const char *v, void *dst)
{
    long long s = 0;
    if (!p_duration(p, k, v, &s))
        return false;
    if (s > LLONG_MAX / 1000)
        return hc_cfg_fail(p, k->name, "'%s' is too long", v);
    *(long long *)dst = s * 1000;
    return true;
}

/* [token] timeout: up to an hour (core/watchdog.h keeps it in an unsigned). */
static bool p_call_timeout(parse_t *p, const struct key *k, const char *v, void *dst)
{
    if (!p_ms(p, k, v, dst))
        return false;
    return *(long long *)dst <= 3600000 ? true : hc_cfg_fail(p, k->name, "'%s' is over an hour", v);
}

/* Appends the comma/space separated items of `v` to the list; each must
 * pass the row's `valid` (if it has one). */
static bool append_list(parse_t *p, const struct key *k, const char *v, hc_strlist_t *list)
{
    char *copy = strdup(v);
    if (!copy)
        return hc_cfg_fail(p, k->name, "out of memory");
    for (char *save = NULL, *t = strtok_r(copy, ", \t", &save); t;
         t = strtok_r(NULL, ", \t", &save)) {
        if (k->valid && !k->valid(t)) {
            hc_cfg_fail(p, k->name, "'%s' is not a valid %s", t, k->what);
            free(copy);
            return false;
        }
        char **grown = realloc(list->items, (list->n + 1) * sizeof *grown);
        if (!grown || !(grown[list->n] = strdup(t))) {
            list->items = grown ? grown : list->items;
            free(copy);
            return hc_cfg_fail(p, k->name, "out of memory");
        }
        list->items = grown;
        list->n++;
    }
    free(copy);
    return true;
}

static bool p_list(parse_t *p, const struct key *k, const char *v, void *dst)
{
    return append_list(p, k, v, dst);
}

static void free_words(hc_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
}

/* A profile's tokens (a char ** and a count, not an hc_strlist_t). */
static bool p_profile_tokens(parse_t *p, const struct key *k, const char *v, void *dst)
{
    (void)dst;
    hc_strlist_t list = { p->cur_profile->tokens, p->cur_profile->ntokens };
    bool ok = append_list(p, k, v, &list);
    p->cur_profile->tokens = list.items;
    p->cur_profile->ntokens = list.n;
    return ok;
}

/* [token] members: a token group (config_group.c checks the names once
 * the whole file is read; its messages need this line). */
static bool p_members(parse_t *p, const struct key *k, const char *v, void *dst)
{
    p->cur_token->members_line = p->rd.line;
    hc_strlist_t *list = dst;
    if (!append_list(p, k, v, list))
        return false;
    return list->n ? true : hc_cfg_fail(p, k->name, "no token names");
}

static bool p_log_level(parse_t *p, const struct key *k, const char *v, void *dst)
{
    static const char *const levels[] = { "error", "warning", "info", "debug" };
    for (int i = 0; i < 4; i++)
        if (!strcmp(v, levels[i])) {
            *(int *)dst = i; /* HC_LOG_ERROR .. HC_LOG_DEBUG */
            return true;
        }
    return hc_cfg_fail(p, k->name, "'%s' is not error, warning, info or debug", v);
}

static bool p_mode(parse_t *p, const struct key *k, const char *v, void *dst)
{
    char *end;
    unsigned long m = strtoul(v, &end, 8);
    if (end == v || *end || m > 0777 || (m & 0600) != 0600)
        return hc_cfg_fail(p, k->name,
                           "'%s' is not an octal mode with owner read and "
                           "write (e.g. 0660)",
                           v);
    *(unsigned *)dst = (unsigned)m;
    return true;
}

/* A numeric uid/gid (not -1, which means "unchanged" to the kernel). */
static bool parse_id(const char *v, unsigned *id)
{
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (end == v || *end || v[0] == '-' || n > 0xfffffffeul)
        return false;
    *id = (unsigned)n;
    return true;
}

/* A user name or number; false when no such user exists. */
static bool lookup_uid(const char *v, unsigned *uid)
{
    char buf[4096];
    struct passwd pw, *res = NULL;
    if (getpwnam_r(v, &pw, buf, sizeof buf, &res) == 0 && res) {
        *uid = res->pw_uid;
        return true;
    }
    return parse_id(v, uid);
}

static bool lookup_gid(const char *v, unsigned *gid)
{
    char buf[16384];
    struct group gr, *res = NULL;
    if (getgrnam_r(v, &gr, buf, sizeof buf, &res) == 0 && res) {
        *gid = res->gr_gid;
        return true;
    }
    return parse_id(v, gid);
}

/* A user or group (name or number) into `dst`; `given` records it was. */
static bool id_value(parse_t *p, const struct key *k, const char *v, void *dst, bool user,
                     bool *given)
{
    if (!(user ? lookup_uid(v, dst) : lookup_gid(v, dst)))
        return hc_cfg_fail(p, k->name, "no %s '%s'", user ? "user" : "group", v);
    *given = true;
    return true;
}

static bool p_client_uid(parse_t *p, const struct key *k, const char *v, void *dst)
{
    return id_value(p, k, v, dst, true, &p->cur_client->has_uid);
}

static bool p_client_group(parse_t *p, const struct key *k, const char *v, void *dst)
{
    return id_value(p, k, v, dst, false, &p->cur_client->has_group);
}

static bool p_socket_group(parse_t *p, const struct key *k, const char *v, void *dst)
{
    return id_value(p, k, v, dst, false, &p->cfg->agent.has_group);
}

static bool p_ops(parse_t *p, const struct key *k, const char *v, void *dst)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {
        { "sign", HC_PERM_SIGN },       { "decrypt", HC_PERM_DECRYPT },
        { "encrypt", HC_PERM_ENCRYPT }, { "generate", HC_PERM_GENERATE },
        { "destroy", HC_PERM_DESTROY }, { "random", HC_PERM_RANDOM },
        { "login", HC_PERM_LOGIN },     { "issue", HC_PERM_ISSUE },
        { "all", HC_PERM_ALL },
    };
    unsigned *ops = dst;
    hc_strlist_t list = { 0 };
    bool ok = append_list(p, k, v, &list);
    *ops = 0;
    for (size_t i = 0; ok && i < list.n; i++) {
        size_t j = 0;
        while (j < sizeof names / sizeof names[0] && strcmp(names[j].name, list.items[i]))
            j++;
        if (j == sizeof names / sizeof names[0])
            ok = hc_cfg_fail(p, k->name,
                             "'%s' is not an operation (known: sign, decrypt, "
                             "encrypt, generate, destroy, random, login, all)",
                             list.items[i]);
        else
            *ops |= names[j].bit;
    }
    free_words(&list);
    return ok;
}

static bool p_mechs(parse_t *p, const struct key *k, const char *v, void *dst)
{
    (void)dst;
    hc_client_cfg_t *c = p->cur_client;
    hc_strlist_t list = { 0 };
    bool ok = append_list(p, k, v, &list);
    c->nmechs = 0;
    if (ok && list.n == 0)
        ok = hc_cfg_fail(p, k->name, "empty list (leave it out for the signature mechanisms)");
    for (size_t i = 0; ok && i < list.n; i++) {
        CK_MECHANISM_TYPE t;
        if (!hc_mech_by_name(list.items[i], &t))
            ok = hc_cfg_fail(p, k->name,
                             "'%s' is not a mechanism the agent passes on (e.g. "
                             "CKM_ECDSA, CKM_SHA256_RSA_PKCS, CKM_RSA_PKCS_PSS, "
                             "CKM_RSA_PKCS_OAEP, CKM_RSA_X_509, CKM_EDDSA)",
                             list.items[i]);
        else if (c->nmechs == sizeof c->mechs / sizeof c->mechs[0])
            ok = hc_cfg_fail(p, k->name, "more than %zu mechanisms",
                             sizeof c->mechs / sizeof c->mechs[0]);
        else
            c->mechs[c->nmechs++] = t;
    }
    free_words(&list);
    return ok;
}

/* [shared-cache]: config_shared.c judges the value, this names file,
 * line and key. */
static bool p_shared(parse_t *p, const struct key *k, const char *v, void *dst)
{
    (void)dst;
    char why[400];
    if (!hc_shared_cfg_key(&p->cfg->shared, k->name, v, why, sizeof why))
        return hc_cfg_fail(p, k->name, "%s", why);
    return true;
}

static bool uri_like(const char *v)
{
    return strncmp(v, "pkcs11:", 7) == 0;
}

/* The -O option names ssh-keygen knows (certopts.c), lower case. */
static const char *const certopt_names[] = {
    "clear",
    "force-command",
    "source-address",
    "verify-required",
    "no-verify-required",
    "permit-x11-forwarding",
    "no-x11-forwarding",
    "permit-agent-forwarding",
    "no-agent-forwarding",
    "permit-port-forwarding",
    "no-port-forwarding",
    "permit-pty",
    "no-pty",
    "permit-user-rc",
    "no-user-rc",
    "no-touch-required",
    "touch-required",
};

/* Whether the first `n` bytes of v name an -O option, and whether it
 * takes a value (force-command=, source-address=). */
static bool certopt_name(const char *v, size_t n, bool *valued)
{
    for (size_t i = 0; i < sizeof certopt_names / sizeof certopt_names[0]; i++)
        if (strlen(certopt_names[i]) == n && !strncasecmp(certopt_names[i], v, n)) {
            *valued = i == 1 || i == 2;
            return true;
        }
    return false;
}

static bool allowed_option_like(const char *v)
{
    bool valued;
    return certopt_name(v, strlen(v), &valued);
}

static bool force_option_like(const char *v)
{
    bool valued;
    size_t n = strcspn(v, "=");
    return certopt_name(v, n, &valued) && valued == (v[n] == '=') && (!valued || v[n + 1]);
}

#define ISSUE_SECS (HC_S_SSHCA | HC_S_CLIENT)
#define OR_CLIENTS "; a `[client]` with `operations = issue` may set its own"

/* The keys, section by section, in the order of README's table and of
 * the "known:" lists. A key's default is `def` when it has one (README
 * shows it as it is), else `shown` says what holds without it. */
static const struct key keys[] = {
    { HC_S_CORE, "pin-store", STR(p_path, W_CONFIG, pin_store), .def = HC_DEFAULT_PIN_STORE,
      .doc = "directory of PIN files, one per token, named after it" },
    { HC_S_CORE, "cache-dir", STR(p_path, W_CONFIG, cache_dir), .def = HC_DEFAULT_CACHE_DIR,
      .doc = "persistent signature cache (`signatures.mdb`), PIN-rejection marks "
             "(`pin-rejected/`), per-process stats (`stats/`)" },
    { HC_S_CORE, "memory-cache-entries", SIZE(W_CONFIG, memory_cache_entries, 0, 100000000),
      .def = "100000", .doc = "in-memory LRU size (0 = off)" },
    { HC_S_CORE, "persistent-cache", BOOL(W_CONFIG, persistent_cache), .def = "yes",
      .doc = "the LMDB tier" },
    { HC_S_CORE, "persistent-cache-mb", SIZE(W_CONFIG, persistent_cache_mb, 1, 1024 * 1024),
      .def = "1024",
      .doc = "its map size; when full, new signatures stay in memory (logged once)" },
    { HC_S_CORE, "log-level", .parse = p_log_level, AT(W_CONFIG, log_level, int), .def = "warning",
      .doc = "error, warning, info, debug (to stderr)" },
    { HC_S_CORE, "agent", STR(p_socket, W_CONFIG, agent.socket),
      .shown = "none: the core runs in each process",
      .doc = "`hsmcached`'s socket: every core call goes to the agent" },
    { HC_S_CORE, "agent-timeout", .parse = p_ms, AT(W_CONFIG, agent.timeout_ms, long long),
      .def = "30s", .doc = "client side: connecting and each request" },

    { HC_S_AGENT, "socket-mode", .parse = p_mode, AT(W_CONFIG, agent.socket_mode, unsigned),
      .def = "0660", .doc = "octal mode of the agent's socket, with owner read and write" },
    { HC_S_AGENT, "socket-group", .parse = p_socket_group, AT(W_CONFIG, agent.socket_gid, unsigned),
      .shown = "the agent's group",
      .doc = "the socket's group: the users allowed to connect at all" },
    { HC_S_AGENT, "max-connections", SIZE(W_CONFIG, agent.max_connections, 1, 65536), .def = "256",
      .doc = "authorized connections at once" },
    { HC_S_AGENT, "max-connections-per-client", SIZE(W_CONFIG, agent.max_per_client, 1, 65536),
      .def = "64", .doc = "per uid: one client cannot starve the others" },

    { HC_S_TOKEN, "module", STR(p_module, W_TOKEN, module), .shown = "required",
      .doc = "p11-kit module name (`softhsm2`) or absolute path" },
    { HC_S_TOKEN, "label", STR(p_text, W_TOKEN, label), .shown = "label or serial required",
      .doc = "the real token's label: found by label and/or serial, never by slot number" },
    { HC_S_TOKEN, "serial", STR(p_text, W_TOKEN, serial), .shown = "label or serial required",
      .doc = "the real token's serial number" },
    { HC_S_TOKEN, "max-sessions", UINT(W_TOKEN, max_sessions, 1, 1024), .def = "4",
      .doc = "real sessions in the pool" },
    { HC_S_TOKEN, "timeout", .parse = p_call_timeout, AT(W_TOKEN, timeout_ms, long long),
      .def = "5s",
      .doc =
          "a call into the module (connecting, logging in; every call of a group member) that has not answered by then fails, and the token counts as hung until it answers again" },
    { HC_S_TOKEN, "members", .parse = p_members, AT(W_TOKEN, members, hc_strlist_t),
      .valid = hc_valid_token_name, .what = "token name", .shown = "none: a token",
      .doc =
          "a token group: these tokens, which hold the same keys, behind one slot (README, Token groups)" },

    { HC_S_CLIENT, "uid", .parse = p_client_uid, AT(W_CLIENT, uid, unsigned),
      .shown = "uid or group required",
      .doc = "the peer's user (name or number), as the kernel reports it" },
    { HC_S_CLIENT, "group", .parse = p_client_group, AT(W_CLIENT, gid, unsigned),
      .shown = "uid or group required",
      .doc = "the peer's primary or supplementary group; with uid, both must match" },
    { HC_S_CLIENT, "keys", LIST(W_CLIENT, keys, uri_like, "pkcs11: URI"), .shown = "required",
      .doc = "`pkcs11:` URIs of the objects the client may see and use" },
    { HC_S_CLIENT, "operations", .parse = p_ops, AT(W_CLIENT, ops, unsigned), .def = "sign",
      .doc =
          "beyond reading: sign, decrypt, encrypt, generate, destroy, random, login, issue, all" },
    { HC_S_CLIENT, "mechanisms", .parse = p_mechs, AT(W_CLIENT, nmechs, size_t),
      .shown = "the signature mechanisms but raw RSA",
      .doc = "the only mechanisms (PKCS#11 names) it may sign, verify, encrypt or decrypt with" },

    { HC_S_PROFILE, "signature-cache", BOOL(W_PROFILE, signature_cache),
      .shown = "yes for `[pdns]`, no otherwise", .doc = "cache signatures for this profile" },
    { HC_S_PROFILE, "tokens", .parse = p_profile_tokens, AT(W_PROFILE, ntokens, size_t),
      .valid = hc_valid_token_name, .what = "token name", .shown = "all",
      .doc = "comma list of the tokens the profile may use" },

    { HC_S_PDNS, "presign", V_BOOL, .def = "yes",
      .doc = "the PowerDNS presigner (pdns-backend/README.md); needs the persistent cache" },
    { HC_S_PDNS, "presign-lead", V_DURATION, .def = "48h",
      .doc = "how long before the week's boundary it starts" },
    { HC_S_PDNS, "presign-rate", V_NUMBER(1, 100000), .def = "10",
      .doc = "HSM signatures per second at most" },
    { HC_S_PDNS, "presign-interval", V_DURATION, .def = "60s",
      .doc = "how often it looks for new inputs" },

    { HC_S_SSHCA, "keys", V_LIST(uri_like, "pkcs11: URI"), .limits_tokens = true, .shown = "none",
      .doc = "`pkcs11:` URIs of the CA keys (sshca-plugin/README.md)" },
    { HC_S_SSHCA, "audit-log", V_PATH, .def = "/var/log/hsmcache/sshca.log",
      .doc = "one line per certificate; if it cannot be written, nothing is signed" },
    { HC_S_SSHCA, "require-validity", V_BOOL, .def = "yes",
      .doc = "refuse a certificate without `-V`" },
    { HC_S_SSHCA, "require-principals", V_BOOL, .def = "yes",
      .doc = "refuse a certificate without `-n`" },
    { HC_S_SSHCA, "allowed-users", V_LIST(NULL, NULL), .shown = "anyone",
      .doc = "the calling users who may sign" },
    { HC_S_SSHCA, "allowed-groups", V_LIST(NULL, NULL), .shown = "anyone",
      .doc = "groups whose members may sign" },
    { HC_S_SSHCA, "allow-agent", V_BOOL, .def = "no",
      .doc = "signing from ssh-agent's `ssh-pkcs11-helper`, whose requests carry no "
             "ssh-keygen arguments to check" },
    { ISSUE_SECS, "allowed-principals", V_LIST(NULL, NULL), ISSUE, .shown = "any",
      .doc = "each principal must be one of these (`%u`: the caller's user name)" OR_CLIENTS },
    { ISSUE_SECS, "max-validity", V_DURATION, ISSUE, .shown = "none",
      .doc = "the longest `-V` (`8h`, `30d`, `2w`)" OR_CLIENTS },
    { ISSUE_SECS, "host-certs", V_BOOL, ISSUE, .def = "yes",
      .doc = "host certificates (`-h`) allowed" OR_CLIENTS },
    { ISSUE_SECS, "allowed-options",
      V_LIST(allowed_option_like, "ssh-keygen -O option name (e.g. permit-pty, force-command)"),
      ISSUE, .shown = "any", .doc = "the `-O` option names a caller may give" OR_CLIENTS },
    { ISSUE_SECS, "force-options",
      V_LIST(force_option_like, "ssh-keygen -O option (e.g. no-port-forwarding, "
                                "source-address=10.0.0.0/8, force-command=/usr/bin/true)"),
      ISSUE, .shown = "none",
      .doc = "`-O` options every certificate gets, after the caller's" OR_CLIENTS },

    { HC_S_SHARED, "host", .parse = p_shared, .shown = "host or socket required",
      .doc = "the primary, which takes the writes: a host name or address" },
    { HC_S_SHARED, "port", .parse = p_shared, .shown = "3306", .doc = "the primary's port" },
    { HC_S_SHARED, "socket", .parse = p_shared, .shown = "host or socket required",
      .doc = "the primary's unix socket" },
    { HC_S_SHARED, "read-host", .parse = p_shared, .shown = "the primary",
      .doc = "where lookups go (a replica next to this node)" },
    { HC_S_SHARED, "read-port", .parse = p_shared, .shown = "3306", .doc = "its port" },
    { HC_S_SHARED, "read-socket", .parse = p_shared, .shown = "the primary",
      .doc = "its unix socket" },
    { HC_S_SHARED, "database", .parse = p_shared, .shown = "required",
      .doc = "letters, digits, `_`" },
    { HC_S_SHARED, "user", .parse = p_shared, .shown = "required",
      .doc = "letters, digits, `_`, `.`, `-`" },
    { HC_S_SHARED, "password-file", .parse = p_shared, .shown = "none (unix_socket auth)",
      .doc = "the password; mode 0600 or 0400" },
    { HC_S_SHARED, "tls", .parse = p_shared, .def = "no",
      .doc = "`verify`: TLS required and the server's certificate checked; there is no "
             "`yes` (pdns-backend/README.md says why)" },
    { HC_S_SHARED, "tls-ca", .parse = p_shared, .shown = "the system's CAs",
      .doc = "the CAs `tls = verify` checks against" },
    { HC_S_SHARED, "read-timeout-ms", .parse = p_shared, .def = "50",
      .doc = "a lookup on the query path, at most (1 to 10000)" },
    { HC_S_SHARED, "node", .parse = p_shared, .shown = "the host name",
      .doc = "this node's name in the rows it writes" },
    { HC_S_SHARED, "purge-interval", .parse = p_shared, .def = "1h",
      .doc = "how often expired rows are purged (1s to 7d)" },
};
#define NKEYS (sizeof keys / sizeof keys[0])

static const struct key *find_key(unsigned sec, const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if ((keys[i].sec & sec) && !strcmp(keys[i].name, name))
            return &keys[i];
    return NULL;
}

/* The struct the row's field is in, for the current section. */
static void *row_base(parse_t *p, const struct key *k)
{
    switch (k->where) {
    case W_TOKEN: return p->cur_token;
    case W_CLIENT: return p->cur_client;
    case W_PROFILE: return p->cur_profile;
    case W_VALUE: return (p->cur_client ? p->cur_client->values : p->cfg->values) + (k - keys);
    case W_CONFIG: break;
    }
    return p->cfg;
}

/* "unknown key (known: ...)": the section's keys; in a [client], the
 * issue policy keys after the others, with their condition. */
static bool unknown_key(parse_t *p, const char *name)
{
    char known[400] = "";
    size_t n = 0;
    for (int issue = 0; issue < 2; issue++) {
        bool first = true;
        for (size_t i = 0; i < NKEYS; i++) {
            bool is_issue = (p->sec & HC_S_CLIENT) && keys[i].issue;
            if (!(keys[i].sec & p->sec) || is_issue != (issue == 1))
                continue;
            const char *pre = n == 0           ? ""
                              : first && issue ? ", and with operations = issue: "
                                               : ", ";
            int w = snprintf(known + n, sizeof known - n, "%s%s", pre, keys[i].name);
            if (w > 0)
                n = n + (size_t)w < sizeof known ? n + (size_t)w : sizeof known - 1;
            first = false;
        }
    }
    return hc_cfg_fail(p, name, "unknown key (known: %s)", known);
}

bool hc_cfg_value(parse_t *p, const char *name, const char *value)
{
    if (!p->sec)
        return hc_cfg_fail(p, name, "key outside any section");
    const struct key *k = find_key(p->sec, name);
    if (!k)
        return unknown_key(p, name);
    char *base = row_base(p, k);
    if (k->where == W_VALUE) {
        hc_cfg_value_t *v = (hc_cfg_value_t *)base;
        /* A repeat never decides silently: a later, looser max-validity
         * or a second allowed-principals (a union) would widen a policy. */
        if (v->set && p->cur_client)
            return hc_cfg_fail(p, name, "given twice in [client %s]", p->cur_client->name);
        if (v->set)
            return hc_cfg_fail(p, name,
                               "given twice in [%s] (remove one; a repeat "
                               "would silently replace or widen the first)",
                               p->section);
        v->set = true;
    }
    return k->parse(p, k, value, base + k->off);
}

bool hc_cfg_defaults(parse_t *p, unsigned sec)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        /* A [client]'s issue keys fall back to [sshca]'s: it has none. */
        if (!(k->sec & sec) || !k->def || (k->issue && p->cur_client))
            continue;
        if (!k->parse(p, k, k->def, (char *)row_base(p, k) + k->off))
            return false;
    }
    return true;
}

hc_cfg_value_t *hc_cfg_values_new(void)
{
    return calloc(NKEYS, sizeof(hc_cfg_value_t));
}

void hc_cfg_values_free(hc_cfg_value_t *v)
{
    for (size_t i = 0; v && i < NKEYS; i++) {
        free(v[i].text);
        free_words(&v[i].list);
    }
    free(v);
}

bool hc_cfg_client_sets_issue(const hc_client_cfg_t *c)
{
    for (size_t i = 0; c->values && i < NKEYS; i++)
        if (keys[i].issue && c->values[i].set)
            return true;
    return false;
}

unsigned hc_cfg_profile_sections(int id)
{
    return HC_S_PROFILE | (id == HC_P_PDNS ? HC_S_PDNS : 0) | (id == HC_P_SSHCA ? HC_S_SSHCA : 0);
}

/* Row i's value for profile `id` (whose section has the row): the
 * client's own when it set it, else the section's; a profile field
 * (signature-cache) is copied into `tmp`. */
static const hc_cfg_value_t *row_value(const hc_config_t *cfg, int id,
                                       const hc_client_cfg_t *client, size_t i, hc_cfg_value_t *tmp)
{
    const struct key *k = &keys[i];
    if (k->where == W_VALUE)
        return client && client->values && client->values[i].set ? &client->values[i]
                                                                 : &cfg->values[i];
    *tmp = (hc_cfg_value_t){ .flag = *(const bool *)((const char *)&cfg->profiles[id] + k->off) };
    return tmp; /* W_PROFILE: only its flags have a kind */
}

bool hc_config_section_walk(const hc_config_t *cfg, int profile, const hc_client_cfg_t *client,
                            hc_cfg_walk_fn *fn, void *arg)
{
    if (profile < 0 || profile >= HC_P_COUNT)
        return true;
    unsigned sec = hc_cfg_profile_sections(profile);
    for (size_t i = 0; i < NKEYS; i++) {
        hc_cfg_value_t tmp;
        if ((keys[i].sec & sec) && keys[i].kind != HC_CFG_NONE &&
            !fn(arg, keys[i].name, keys[i].kind, row_value(cfg, profile, client, i, &tmp)))
            return false;
    }
    return true;
}

const hc_strlist_t *hc_config_token_limit(const hc_config_t *cfg, int profile)
{
    if (profile < 0 || profile >= HC_P_COUNT)
        return NULL;
    unsigned sec = hc_cfg_profile_sections(profile);
    for (size_t i = 0; i < NKEYS; i++)
        if ((keys[i].sec & sec) && keys[i].limits_tokens && cfg->values[i].list.n)
            return &cfg->values[i].list;
    return NULL;
}

const hc_cfg_value_t *hc_config_setting(const hc_config_t *cfg, int profile,
                                        const hc_client_cfg_t *client, const char *key,
                                        enum hc_cfg_kind kind)
{
    if (profile < 0 || profile >= HC_P_COUNT || kind == HC_CFG_NONE)
        return NULL;
    unsigned sec = hc_cfg_profile_sections(profile);
    for (size_t i = 0; i < NKEYS; i++)
        if ((keys[i].sec & sec) && keys[i].where == W_VALUE && keys[i].kind == kind &&
            !strcmp(keys[i].name, key))
            return row_value(cfg, profile, client, i, NULL);
    return NULL;
}

void hc_config_doc(FILE *out)
{
    static const struct {
        unsigned sec;
        const char *name;
    } labels[] = {
        { HC_S_CORE, "[core]" },          { HC_S_AGENT, "[agent]" },
        { HC_S_TOKEN, "[token NAME]" },   { HC_S_PROFILE, "[pkcs11] [pdns] [bind] [sshca] [cli]" },
        { HC_S_PDNS, "[pdns]" },          { HC_S_SSHCA, "[sshca]" },
        { HC_S_CLIENT, "[client NAME]" }, { HC_S_SHARED, "[shared-cache]" },
    };
    fputs("| section / key | default | meaning |\n| --- | --- | --- |\n", out);
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        fputs("| `", out);
        for (size_t j = 0; j < sizeof labels / sizeof labels[0]; j++)
            if (k->sec & labels[j].sec)
                fprintf(out, "%s ", labels[j].name);
        fprintf(out, "%s` | ", k->name);
        if (k->def)
            fprintf(out, "`%s`", k->def);
        else
            fputs(k->shown, out);
        fprintf(out, " | %s |\n", k->doc);
    }
}
