/*
 * config.c: parses the INI config with libinih and checks every value.
 * inih does not report line numbers to the handler in Debian's build, so
 * the line reader below counts lines itself.
 */
#include "config.h"
#include "proto/proto_check.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <pwd.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

static const char *const profile_names[HC_P_COUNT] = {
    "pkcs11", "pdns", "bind", "sshca", "cli"
};

int hc_profile_id(const char *name)
{
    for (int i = 0; i < HC_P_COUNT; i++)
        if (strcmp(name, profile_names[i]) == 0)
            return i;
    return -1;
}

const char *hc_profile_name(int id)
{
    return id >= 0 && id < HC_P_COUNT ? profile_names[id] : "?";
}

bool hc_valid_token_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > HC_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-')
            return false;
    }
    return true;
}

/* Reader state: inih pulls lines through read_line(). */
struct reader {
    const char *text, *end;
    int line;
    bool too_long;
    int too_long_line;
};

/* Parser state handed to the handler. */
struct parse {
    const char *name;
    struct reader rd;
    hc_config_t *cfg;
    hc_err_t *err;
    bool failed;
    char section[128];
    hc_token_cfg_t *cur_token;
    hc_profile_cfg_t *cur_profile;
    hc_client_cfg_t *cur_client;
    bool in_core, in_agent, in_shared;
};

static bool enter_section(struct parse *p, const char *section);

/* Feeds inih one line at a time, counting lines for error messages. A
 * section header is handled here, not in the handler, because inih calls
 * the handler only for keys: an empty or unknown section would go unseen. */
static char *read_line(char *str, int num, void *stream)
{
    struct parse *p = (struct parse *)((char *)stream - offsetof(struct parse, rd));
    struct reader *rd = stream;
    if (rd->text >= rd->end)
        return NULL;
    const char *nl = memchr(rd->text, '\n', (size_t)(rd->end - rd->text));
    const char *line_end = nl ? nl + 1 : rd->end;
    size_t len = (size_t)(line_end - rd->text);
    rd->line++;
    if (len > (size_t)num - 1) {
        if (!rd->too_long) {
            rd->too_long = true;
            rd->too_long_line = rd->line;
        }
        len = (size_t)num - 1;
    }
    memcpy(str, rd->text, len);
    str[len] = '\0';
    rd->text = line_end;

    const char *s = str;
    while (*s == ' ' || *s == '\t')
        s++;
    const char *close = *s == '[' ? strchr(s, ']') : NULL;
    if (close && !p->failed) {
        char section[128];
        size_t n = (size_t)(close - s - 1);
        if (n >= sizeof section)
            n = sizeof section - 1;
        memcpy(section, s + 1, n);
        section[n] = '\0';
        enter_section(p, section);
    }
    return str;
}

static bool fail(struct parse *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(struct parse *p, const char *key, const char *fmt, ...)
{
    if (!p->failed) {
        char what[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        if (key)
            hc_err(p->err, CKR_GENERAL_ERROR, "%s:%d: [%s] %s: %s", p->name,
                   p->rd.line, p->section, key, what);
        else
            hc_err(p->err, CKR_GENERAL_ERROR, "%s:%d: [%s]: %s", p->name,
                   p->rd.line, p->section, what);
        p->failed = true;
    }
    return false;
}

static bool parse_bool(struct parse *p, const char *key, const char *v, bool *out)
{
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
        *out = true;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
        *out = false;
    else
        return fail(p, key, "'%s' is not yes or no", v);
    return true;
}

static bool parse_size(struct parse *p, const char *key, const char *v,
                       size_t min, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || n < min || n > max)
        return fail(p, key, "'%s' is not a whole number from %zu to %zu", v,
                    min, max);
    *out = (size_t)n;
    return true;
}

static bool copy_value(struct parse *p, const char *key, const char *v,
                       char *dst, size_t size)
{
    if (strlen(v) >= size)
        return fail(p, key, "value longer than %zu characters", size - 1);
    strcpy(dst, v);
    return true;
}

static bool parse_path(struct parse *p, const char *key, const char *v,
                       char *dst, size_t size)
{
    if (v[0] != '/')
        return fail(p, key, "'%s' is not an absolute path", v);
    return copy_value(p, key, v, dst, size);
}

/* Appends the comma/space separated items of `v` to `list`; each must
 * pass `valid` (if given). */
static bool parse_list(struct parse *p, const char *key, const char *v,
                       hc_strlist_t *list, bool (*valid)(const char *),
                       const char *what)
{
    char *copy = strdup(v);
    if (!copy)
        return fail(p, key, "out of memory");
    for (char *save = NULL, *t = strtok_r(copy, ", \t", &save); t;
         t = strtok_r(NULL, ", \t", &save)) {
        if (valid && !valid(t)) {
            fail(p, key, "'%s' is not a valid %s", t, what);
            free(copy);
            return false;
        }
        char **grown = realloc(list->items, (list->n + 1) * sizeof *grown);
        if (!grown || !(grown[list->n] = strdup(t))) {
            list->items = grown ? grown : list->items;
            free(copy);
            return fail(p, key, "out of memory");
        }
        list->items = grown;
        list->n++;
    }
    free(copy);
    return true;
}

long long hc_parse_duration(const char *text)
{
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (errno || end == text || n < 0)
        return -1;
    static const struct { char unit; long long s; } units[] = {
        { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 },
    };
    if (*end == '\0')
        return n;
    for (size_t i = 0; i < 5; i++)
        if (end[0] == units[i].unit && end[1] == '\0')
            return n > LLONG_MAX / units[i].s ? -1 : n * units[i].s;
    return -1;
}

static bool uri_like(const char *v)
{
    return strncmp(v, "pkcs11:", 7) == 0;
}

static bool duration_key(struct parse *p, const char *k, const char *v, long long *out)
{
    long long s = hc_parse_duration(v);
    if (s <= 0)
        return fail(p, k, "'%s' is not a duration (e.g. 30s, 8h, 2d)", v);
    *out = s;
    return true;
}

/* The -O option names ssh-keygen knows (certopts.c), lower case. */
static const char *const certopt_names[] = {
    "clear", "force-command", "source-address", "verify-required", "no-verify-required",
    "permit-x11-forwarding", "no-x11-forwarding", "permit-agent-forwarding",
    "no-agent-forwarding", "permit-port-forwarding", "no-port-forwarding", "permit-pty",
    "no-pty", "permit-user-rc", "no-user-rc", "no-touch-required", "touch-required",
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

/* The issue policy keys, in [sshca] and in a [client]: true when `k` is
 * one (parsed into c, *bit set), false otherwise (*bit 0) or on error. */
static bool issue_key(struct parse *p, const char *k, const char *v, hc_sshca_cfg_t *c,
                      unsigned *bit)
{
    *bit = 0;
    if (!strcmp(k, "allowed-principals"))
        return *bit = HC_ISSUE_PRINCIPALS, parse_list(p, k, v, &c->allowed_principals, NULL, NULL);
    if (!strcmp(k, "max-validity"))
        return *bit = HC_ISSUE_MAX_VALIDITY, duration_key(p, k, v, &c->max_validity_s);
    if (!strcmp(k, "host-certs"))
        return *bit = HC_ISSUE_HOST_CERTS, parse_bool(p, k, v, &c->host_certs);
    if (!strcmp(k, "allowed-options"))
        return *bit = HC_ISSUE_ALLOWED_OPTIONS,
               parse_list(p, k, v, &c->allowed_options, allowed_option_like,
                          "ssh-keygen -O option name (e.g. permit-pty, force-command)");
    if (!strcmp(k, "force-options"))
        return *bit = HC_ISSUE_FORCE_OPTIONS,
               parse_list(p, k, v, &c->force_options, force_option_like,
                          "ssh-keygen -O option (e.g. no-port-forwarding, "
                          "source-address=10.0.0.0/8, force-command=/usr/bin/true)");
    return false;
}

void hc_client_sshca(const hc_config_t *cfg, const hc_client_cfg_t *c, hc_sshca_cfg_t *out)
{
    *out = cfg->sshca;
    unsigned set = c ? c->issue_set : 0;
    if (set & HC_ISSUE_PRINCIPALS)
        out->allowed_principals = c->issue.allowed_principals;
    if (set & HC_ISSUE_MAX_VALIDITY)
        out->max_validity_s = c->issue.max_validity_s;
    if (set & HC_ISSUE_HOST_CERTS)
        out->host_certs = c->issue.host_certs;
    if (set & HC_ISSUE_ALLOWED_OPTIONS)
        out->allowed_options = c->issue.allowed_options;
    if (set & HC_ISSUE_FORCE_OPTIONS)
        out->force_options = c->issue.force_options;
}

/* [sshca] settings beyond the common profile keys. */
static bool sshca_key(struct parse *p, const char *k, const char *v)
{
    hc_sshca_cfg_t *c = &p->cfg->sshca;
    unsigned bit;
    bool ok = issue_key(p, k, v, c, &bit);
    if (bit)
        return ok;
    if (!strcmp(k, "keys"))
        return parse_list(p, k, v, &c->keys, uri_like, "pkcs11: URI");
    if (!strcmp(k, "audit-log"))
        return parse_path(p, k, v, c->audit_log, sizeof c->audit_log);
    if (!strcmp(k, "require-validity"))
        return parse_bool(p, k, v, &c->require_validity);
    if (!strcmp(k, "require-principals"))
        return parse_bool(p, k, v, &c->require_principals);
    if (!strcmp(k, "allow-agent"))
        return parse_bool(p, k, v, &c->allow_agent);
    if (!strcmp(k, "allowed-users"))
        return parse_list(p, k, v, &c->allowed_users, NULL, NULL);
    if (!strcmp(k, "allowed-groups"))
        return parse_list(p, k, v, &c->allowed_groups, NULL, NULL);
    return fail(p, k, "unknown key (known: signature-cache, tokens, keys, "
                "audit-log, require-validity, max-validity, require-principals, "
                "allowed-users, allowed-groups, host-certs, allow-agent, "
                "allowed-principals, allowed-options, force-options)");
}

/* [pdns] settings beyond the common profile keys. */
static bool pdns_key(struct parse *p, const char *k, const char *v)
{
    hc_pdns_cfg_t *c = &p->cfg->pdns;
    if (!strcmp(k, "presign"))
        return parse_bool(p, k, v, &c->presign);
    if (!strcmp(k, "presign-lead"))
        return duration_key(p, k, v, &c->presign_lead_s);
    if (!strcmp(k, "presign-interval"))
        return duration_key(p, k, v, &c->presign_interval_s);
    if (!strcmp(k, "presign-rate"))
        return parse_size(p, k, v, 1, 100000, &c->presign_rate);
    return fail(p, k, "unknown key (known: signature-cache, tokens, presign, "
                "presign-lead, presign-rate, presign-interval)");
}

static bool core_key(struct parse *p, const char *k, const char *v)
{
    hc_config_t *c = p->cfg;
    if (!strcmp(k, "pin-store"))
        return parse_path(p, k, v, c->pin_store, sizeof c->pin_store);
    if (!strcmp(k, "cache-dir"))
        return parse_path(p, k, v, c->cache_dir, sizeof c->cache_dir);
    if (!strcmp(k, "memory-cache-entries"))
        return parse_size(p, k, v, 0, 100000000, &c->memory_cache_entries);
    if (!strcmp(k, "persistent-cache"))
        return parse_bool(p, k, v, &c->persistent_cache);
    if (!strcmp(k, "persistent-cache-mb"))
        return parse_size(p, k, v, 1, 1024 * 1024, &c->persistent_cache_mb);
    if (!strcmp(k, "log-level")) {
        static const char *levels[] = { "error", "warning", "info", "debug" };
        for (int i = 0; i < 4; i++)
            if (!strcmp(v, levels[i])) {
                c->log_level = i;
                return true;
            }
        return fail(p, k, "'%s' is not error, warning, info or debug", v);
    }
    if (!strcmp(k, "agent")) {
        if (v[0] && strlen(v) >= sizeof c->agent.socket)
            return fail(p, k, "socket path longer than %zu characters",
                        sizeof c->agent.socket - 1);
        return !v[0] || parse_path(p, k, v, c->agent.socket, sizeof c->agent.socket);
    }
    if (!strcmp(k, "agent-timeout")) {
        long long s = 0;
        if (!duration_key(p, k, v, &s))
            return false;
        c->agent.timeout_ms = s * 1000;
        return true;
    }
    return fail(p, k, "unknown key (known: pin-store, cache-dir, "
                "memory-cache-entries, persistent-cache, persistent-cache-mb, "
                "log-level, agent, agent-timeout)");
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

/* [agent]: hsmcached's socket and limits. */
static bool agent_key(struct parse *p, const char *k, const char *v)
{
    hc_agent_cfg_t *a = &p->cfg->agent;
    if (!strcmp(k, "socket-mode")) {
        char *end;
        unsigned long m = strtoul(v, &end, 8);
        if (end == v || *end || m > 0777 || (m & 0600) != 0600)
            return fail(p, k, "'%s' is not an octal mode with owner read and "
                        "write (e.g. 0660)", v);
        a->socket_mode = (unsigned)m;
        return true;
    }
    if (!strcmp(k, "socket-group")) {
        if (!lookup_gid(v, &a->socket_gid))
            return fail(p, k, "no group '%s'", v);
        a->has_group = true;
        return true;
    }
    if (!strcmp(k, "max-connections"))
        return parse_size(p, k, v, 1, 65536, &a->max_connections);
    if (!strcmp(k, "max-connections-per-client"))
        return parse_size(p, k, v, 1, 65536, &a->max_per_client);
    return fail(p, k, "unknown key (known: socket-mode, socket-group, "
                "max-connections, max-connections-per-client)");
}

/* [shared-cache]: config_shared.c judges, this names file, line and key. */
static bool shared_key(struct parse *p, const char *k, const char *v)
{
    char why[400];
    if (!hc_shared_cfg_key(&p->cfg->shared, k, v, why, sizeof why))
        return fail(p, k, "%s", why);
    return true;
}

static bool parse_ops(struct parse *p, const char *k, const char *v, unsigned *ops)
{
    static const struct { const char *name; unsigned bit; } names[] = {
        { "sign", HC_OPS_SIGN }, { "decrypt", HC_OPS_DECRYPT },
        { "encrypt", HC_OPS_ENCRYPT }, { "generate", HC_OPS_GENERATE },
        { "destroy", HC_OPS_DESTROY }, { "random", HC_OPS_RANDOM },
        { "login", HC_OPS_LOGIN }, { "issue", HC_OPS_ISSUE }, { "all", HC_OPS_ALL },
    };
    hc_strlist_t list = { 0 };
    bool ok = parse_list(p, k, v, &list, NULL, NULL);
    *ops = 0;
    for (size_t i = 0; ok && i < list.n; i++) {
        size_t j = 0;
        while (j < sizeof names / sizeof names[0] && strcmp(names[j].name, list.items[i]))
            j++;
        if (j == sizeof names / sizeof names[0])
            ok = fail(p, k, "'%s' is not an operation (known: sign, decrypt, "
                      "encrypt, generate, destroy, random, login, all)", list.items[i]);
        else
            *ops |= names[j].bit;
    }
    for (size_t i = 0; i < list.n; i++)
        free(list.items[i]);
    free(list.items);
    return ok;
}

static bool parse_mechs(struct parse *p, const char *k, const char *v,
                        hc_client_cfg_t *c)
{
    hc_strlist_t list = { 0 };
    bool ok = parse_list(p, k, v, &list, NULL, NULL);
    c->nmechs = 0;
    if (ok && list.n == 0)
        ok = fail(p, k, "empty list (leave it out for the signature mechanisms)");
    for (size_t i = 0; ok && i < list.n; i++) {
        CK_MECHANISM_TYPE t;
        if (!hc_mech_by_name(list.items[i], &t))
            ok = fail(p, k, "'%s' is not a mechanism the agent passes on (e.g. "
                      "CKM_ECDSA, CKM_SHA256_RSA_PKCS, CKM_RSA_PKCS_PSS, "
                      "CKM_RSA_PKCS_OAEP, CKM_RSA_X_509, CKM_EDDSA)", list.items[i]);
        else if (c->nmechs == sizeof c->mechs / sizeof c->mechs[0])
            ok = fail(p, k, "more than %zu mechanisms", sizeof c->mechs / sizeof c->mechs[0]);
        else
            c->mechs[c->nmechs++] = t;
    }
    for (size_t i = 0; i < list.n; i++)
        free(list.items[i]);
    free(list.items);
    return ok;
}

/* [client NAME]: who may use the agent. */
static bool client_key(struct parse *p, const char *k, const char *v)
{
    hc_client_cfg_t *c = p->cur_client;
    if (!strcmp(k, "uid")) {
        if (!lookup_uid(v, &c->uid))
            return fail(p, k, "no user '%s'", v);
        c->has_uid = true;
        return true;
    }
    if (!strcmp(k, "group")) {
        if (!lookup_gid(v, &c->gid))
            return fail(p, k, "no group '%s'", v);
        c->has_group = true;
        return true;
    }
    if (!strcmp(k, "keys"))
        return parse_list(p, k, v, &c->keys, uri_like, "pkcs11: URI");
    if (!strcmp(k, "operations"))
        return parse_ops(p, k, v, &c->ops);
    if (!strcmp(k, "mechanisms"))
        return parse_mechs(p, k, v, c);
    unsigned bit;
    bool ok = issue_key(p, k, v, &c->issue, &bit);
    if (bit && ok && (c->issue_set & bit))
        return fail(p, k, "given twice in [client %s]", c->name);
    c->issue_set |= bit;
    if (bit)
        return ok;
    return fail(p, k, "unknown key (known: uid, group, keys, operations, mechanisms, "
                "and with operations = issue: allowed-principals, max-validity, "
                "host-certs, allowed-options, force-options)");
}

static bool token_key(struct parse *p, const char *k, const char *v)
{
    hc_token_cfg_t *t = p->cur_token;
    if (!strcmp(k, "module")) {
        if (!v[0])
            return fail(p, k, "empty module");
        return copy_value(p, k, v, t->module, sizeof t->module);
    }
    if (!strcmp(k, "label"))
        return copy_value(p, k, v, t->label, sizeof t->label);
    if (!strcmp(k, "serial"))
        return copy_value(p, k, v, t->serial, sizeof t->serial);
    if (!strcmp(k, "max-sessions")) {
        size_t n;
        if (!parse_size(p, k, v, 1, 1024, &n))
            return false;
        t->max_sessions = (unsigned)n;
        return true;
    }
    return fail(p, k, "unknown key (known: module, label, serial, max-sessions)");
}

static bool profile_key(struct parse *p, const char *k, const char *v)
{
    if (!strcmp(k, "signature-cache"))
        return parse_bool(p, k, v, &p->cur_profile->signature_cache);
    if (!strcmp(k, "tokens")) {
        hc_strlist_t list = { p->cur_profile->tokens, p->cur_profile->ntokens };
        bool ok = parse_list(p, k, v, &list, hc_valid_token_name, "token name");
        p->cur_profile->tokens = list.items;
        p->cur_profile->ntokens = list.n;
        return ok;
    }
    if (p->cur_profile == &p->cfg->profiles[HC_P_SSHCA])
        return sshca_key(p, k, v);
    if (p->cur_profile == &p->cfg->profiles[HC_P_PDNS])
        return pdns_key(p, k, v);
    return fail(p, k, "unknown key (known: signature-cache, tokens)");
}

static bool enter_section(struct parse *p, const char *section)
{
    snprintf(p->section, sizeof p->section, "%s", section);
    p->cur_token = NULL;
    p->cur_profile = NULL;
    p->cur_client = NULL;
    p->in_core = p->in_agent = p->in_shared = false;
    if (!strcmp(section, "shared-cache")) {
        if (p->cfg->shared.enabled)
            return fail(p, NULL, "section given twice");
        p->cfg->shared.enabled = true;
        p->cfg->shared.line = p->rd.line;
        p->in_shared = true;
        return true;
    }
    if (!strcmp(section, "core")) {
        p->in_core = true;
        return true;
    }
    if (!strcmp(section, "agent")) {
        p->in_agent = true;
        return true;
    }
    if (!strncmp(section, "client ", 7)) {
        const char *name = section + 7;
        while (*name == ' ')
            name++;
        if (!hc_valid_token_name(name))
            return fail(p, NULL, "'%s' is not a valid client name (letters, "
                        "digits, '.', '_', '-')", name);
        for (size_t i = 0; i < p->cfg->nclients; i++)
            if (!strcmp(p->cfg->clients[i].name, name))
                return fail(p, NULL, "client '%s' is defined twice", name);
        hc_client_cfg_t *grown = realloc(p->cfg->clients,
                                         (p->cfg->nclients + 1) * sizeof *grown);
        if (!grown)
            return fail(p, NULL, "out of memory");
        p->cfg->clients = grown;
        hc_client_cfg_t *c = &grown[p->cfg->nclients++];
        memset(c, 0, sizeof *c);
        snprintf(c->name, sizeof c->name, "%s", name);
        c->ops = HC_OPS_SIGN;
        c->line = p->rd.line;
        p->cur_client = c;
        return true;
    }
    if (!strncmp(section, "token ", 6)) {
        const char *name = section + 6;
        while (*name == ' ')
            name++;
        if (!hc_valid_token_name(name))
            return fail(p, NULL, "'%s' is not a valid token name (letters, "
                        "digits, '.', '_', '-'; it names a PIN file)", name);
        if (hc_config_token(p->cfg, name))
            return fail(p, NULL, "token '%s' is defined twice", name);
        hc_token_cfg_t *grown = realloc(p->cfg->tokens,
                                        (p->cfg->ntokens + 1) * sizeof *grown);
        if (!grown)
            return fail(p, NULL, "out of memory");
        p->cfg->tokens = grown;
        hc_token_cfg_t *t = &grown[p->cfg->ntokens++];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", name);
        t->max_sessions = 4;
        t->line = p->rd.line;
        p->cur_token = t;
        return true;
    }
    int id = hc_profile_id(section);
    if (id >= 0) {
        p->cur_profile = &p->cfg->profiles[id];
        return true;
    }
    return fail(p, NULL, "unknown section (known: core, token NAME, pkcs11, "
                "pdns, bind, sshca, cli, agent, client NAME, shared-cache)");
}

static int handler(void *user, const char *section, const char *key,
                   const char *value)
{
    struct parse *p = user;
    (void)section; /* tracked by read_line, which also sees empty sections */
    if (p->failed)
        return 1;
    if (p->cur_token)
        token_key(p, key, value);
    else if (p->cur_client)
        client_key(p, key, value);
    else if (p->in_agent)
        agent_key(p, key, value);
    else if (p->in_shared)
        shared_key(p, key, value);
    else if (p->cur_profile)
        profile_key(p, key, value);
    else if (p->in_core)
        core_key(p, key, value);
    else
        fail(p, key, "key outside any section");
    return 1;
}

static void set_defaults(hc_config_t *c)
{
    snprintf(c->pin_store, sizeof c->pin_store, "%s", HC_DEFAULT_PIN_STORE);
    snprintf(c->cache_dir, sizeof c->cache_dir, "%s", HC_DEFAULT_CACHE_DIR);
    c->memory_cache_entries = 100000;
    c->persistent_cache = true;
    c->persistent_cache_mb = 1024;
    c->log_level = HC_LOG_WARN;
    c->profiles[HC_P_PDNS].signature_cache = true;
    c->pdns.presign = true;
    c->pdns.presign_lead_s = 48 * 3600;
    c->pdns.presign_rate = 10;
    c->pdns.presign_interval_s = 60;
    snprintf(c->sshca.audit_log, sizeof c->sshca.audit_log,
             "/var/log/hsmcache/sshca.log");
    c->sshca.require_validity = true;
    c->sshca.require_principals = true;
    c->sshca.host_certs = true;
    c->agent.timeout_ms = 30000;
    c->agent.socket_mode = 0660;
    c->agent.max_connections = 256;
    c->agent.max_per_client = 64;
    hc_shared_cfg_defaults(&c->shared);
}

/* Checks that need the whole file: each token is complete, each profile's
 * token list names defined tokens. */
static CK_RV check_whole(const char *name, hc_config_t *c, hc_err_t *err)
{
    for (size_t i = 0; i < c->ntokens; i++) {
        hc_token_cfg_t *t = &c->tokens[i];
        if (!t->module[0])
            return hc_err(err, CKR_GENERAL_ERROR, "%s:%d: [token %s]: missing "
                          "key 'module' (a p11-kit module name or an absolute "
                          "path)", name, t->line, t->name);
        if (!t->label[0] && !t->serial[0])
            return hc_err(err, CKR_GENERAL_ERROR, "%s:%d: [token %s]: missing "
                          "key 'label' or 'serial' (the real token is found by "
                          "them, never by slot number)", name, t->line, t->name);
        if (strcmp(t->module, "hsmcache") == 0)
            return hc_err(err, CKR_GENERAL_ERROR, "%s:%d: [token %s] module: "
                          "'hsmcache' is this module itself; name the real "
                          "module (e.g. softhsm2)", name, t->line, t->name);
    }
    for (int id = 0; id < HC_P_COUNT; id++) {
        hc_profile_cfg_t *pr = &c->profiles[id];
        for (size_t i = 0; i < pr->ntokens; i++)
            if (!hc_config_token(c, pr->tokens[i]))
                return hc_err(err, CKR_GENERAL_ERROR, "%s: [%s] tokens: no "
                              "[token %s] section is defined", name,
                              profile_names[id], pr->tokens[i]);
    }
    for (size_t i = 0; i < c->nclients; i++) {
        hc_client_cfg_t *cl = &c->clients[i];
        if (!cl->has_uid && !cl->has_group)
            return hc_err(err, CKR_GENERAL_ERROR, "%s:%d: [client %s]: missing "
                          "key 'uid' or 'group' (who the client is)", name,
                          cl->line, cl->name);
        if (cl->keys.n == 0)
            return hc_err(err, CKR_GENERAL_ERROR, "%s:%d: [client %s]: missing "
                          "key 'keys' (the pkcs11: URIs it may use)", name,
                          cl->line, cl->name);
        if (cl->issue_set && !(cl->ops & HC_OPS_ISSUE))
            return hc_err(err, CKR_GENERAL_ERROR, "%s:%d: [client %s]: allowed-principals, "
                          "max-validity, host-certs, allowed-options and force-options "
                          "apply to operations = issue, which it lacks", name, cl->line,
                          cl->name);
    }
    char why[400];
    if (c->shared.enabled && !hc_shared_cfg_check(&c->shared, why, sizeof why))
        return hc_err(err, CKR_GENERAL_ERROR, "%s:%d: [shared-cache]: %s", name,
                      c->shared.line, why);
    return CKR_OK;
}

CK_RV hc_config_parse(const char *name, const char *text, size_t len,
                      hc_config_t **out, hc_err_t *err)
{
    *out = NULL;
    hc_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return hc_err(err, CKR_HOST_MEMORY, "%s: out of memory", name);
    snprintf(cfg->path, sizeof cfg->path, "%s", name);
    set_defaults(cfg);
    if (memchr(text, '\0', len)) {
        hc_config_free(cfg);
        return hc_err(err, CKR_GENERAL_ERROR, "%s: contains a NUL byte", name);
    }
    struct parse p = { .name = name, .cfg = cfg, .err = err };
    p.rd.text = text;
    p.rd.end = text + len;
    int rc = ini_parse_stream(read_line, &p.rd, handler, &p);
    CK_RV rv = CKR_OK;
    if (p.failed) {
        rv = CKR_GENERAL_ERROR;
    } else if (p.rd.too_long) {
        rv = hc_err(err, CKR_GENERAL_ERROR, "%s:%d: line longer than %d "
                    "characters", name, p.rd.too_long_line, INI_MAX_LINE - 2);
    } else if (rc > 0) {
        rv = hc_err(err, CKR_GENERAL_ERROR, "%s:%d: syntax error (expected "
                    "'[section]', 'key = value' or a comment)", name, rc);
    } else if (rc < 0) {
        rv = hc_err(err, CKR_HOST_MEMORY, "%s: parser out of memory", name);
    } else {
        rv = check_whole(name, cfg, err);
    }
    if (rv != CKR_OK) {
        hc_config_free(cfg);
        return rv;
    }
    *out = cfg;
    return CKR_OK;
}

const char *hc_config_resolve(const char *given)
{
    if (given && given[0])
        return given;
    /* secure_getenv, here and for every variable the core reads: a setuid,
     * setgid or capability-raised host ignores its caller's environment;
     * the caller must not choose a privileged process's config. */
    const char *env = secure_getenv("HSMCACHE_CONF");
    return env && env[0] ? env : HC_DEFAULT_CONF;
}

CK_RV hc_config_load(const char *path, hc_config_t **out, hc_err_t *err)
{
    *out = NULL;
    FILE *f = fopen(path, "re");
    if (!f)
        return hc_err(err, CKR_GENERAL_ERROR, "%s: cannot open config: %s "
                      "(set HSMCACHE_CONF or create it)", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            if (cap > (16u << 20)) {
                free(text);
                fclose(f);
                return hc_err(err, CKR_GENERAL_ERROR, "%s: larger than 16 MiB",
                              path);
            }
            char *grown = realloc(text, cap + 65536);
            if (!grown) {
                free(text);
                fclose(f);
                return hc_err(err, CKR_HOST_MEMORY, "%s: out of memory", path);
            }
            text = grown;
            cap += 65536;
        }
        size_t n = fread(text + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    bool read_error = ferror(f);
    fclose(f);
    if (read_error) {
        free(text);
        return hc_err(err, CKR_GENERAL_ERROR, "%s: read error", path);
    }
    CK_RV rv = hc_config_parse(path, text, len, out, err);
    free(text);
    return rv;
}

static void free_list(hc_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
}

void hc_config_free(hc_config_t *cfg)
{
    if (!cfg)
        return;
    free_list(&cfg->sshca.keys);
    free_list(&cfg->sshca.allowed_users);
    free_list(&cfg->sshca.allowed_groups);
    free_list(&cfg->sshca.allowed_principals);
    free_list(&cfg->sshca.allowed_options);
    free_list(&cfg->sshca.force_options);
    for (size_t i = 0; i < cfg->nclients; i++) {
        free_list(&cfg->clients[i].keys);
        free_list(&cfg->clients[i].issue.allowed_principals);
        free_list(&cfg->clients[i].issue.allowed_options);
        free_list(&cfg->clients[i].issue.force_options);
    }
    free(cfg->clients);
    for (int id = 0; id < HC_P_COUNT; id++) {
        for (size_t i = 0; i < cfg->profiles[id].ntokens; i++)
            free(cfg->profiles[id].tokens[i]);
        free(cfg->profiles[id].tokens);
    }
    free(cfg->tokens);
    free(cfg);
}

const hc_token_cfg_t *hc_config_token(const hc_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ntokens; i++)
        if (strcmp(cfg->tokens[i].name, name) == 0)
            return &cfg->tokens[i];
    return NULL;
}
