/*
 * config.c: reads the INI config with libinih: lines, sections, the
 * checks that need the whole file, loading and freeing. Each key's parser,
 * default and meaning are rows of config_keys.c's table. inih does not
 * report line numbers to the handler in Debian's build, so the line
 * reader below counts lines itself.
 */
#include "config_int.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const profile_names[HC_P_COUNT] = { "pkcs11", "pdns", "bind", "sshca", "cli" };

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

static bool enter_section(struct hc_cfg_parse *p, const char *section);

/* Feeds inih one line at a time, counting lines for error messages. A
 * section header is handled here, not in the handler, because inih calls
 * the handler only for keys: an empty or unknown section would go unseen. */
static char *read_line(char *str, int num, void *stream)
{
    struct hc_cfg_parse *p =
        (struct hc_cfg_parse *)((char *)stream - offsetof(struct hc_cfg_parse, rd));
    struct hc_cfg_reader *rd = stream;
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

bool hc_cfg_fail(struct hc_cfg_parse *p, const char *key, const char *fmt, ...)
{
    if (!p->failed) {
        char what[480];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        if (key)
            hc_err(p->err, CKR_GENERAL_ERROR, "%s:%d: [%s] %s: %s", p->name, p->rd.line, p->section,
                   key, what);
        else
            hc_err(p->err, CKR_GENERAL_ERROR, "%s:%d: [%s]: %s", p->name, p->rd.line, p->section,
                   what);
        p->failed = true;
    }
    return false;
}

static bool enter_section(struct hc_cfg_parse *p, const char *section)
{
    snprintf(p->section, sizeof p->section, "%s", section);
    p->cur_token = NULL;
    p->cur_profile = NULL;
    p->cur_client = NULL;
    p->sec = 0;
    if (!strcmp(section, "shared-cache")) {
        if (p->cfg->shared.enabled)
            return hc_cfg_fail(p, NULL, "section given twice");
        p->cfg->shared.enabled = true;
        p->cfg->shared.line = p->rd.line;
        p->sec = HC_S_SHARED;
        return true;
    }
    if (!strcmp(section, "core")) {
        p->sec = HC_S_CORE;
        return true;
    }
    if (!strcmp(section, "agent")) {
        p->sec = HC_S_AGENT;
        return true;
    }
    if (!strncmp(section, "client ", 7)) {
        const char *name = section + 7;
        while (*name == ' ')
            name++;
        if (!hc_valid_token_name(name))
            return hc_cfg_fail(p, NULL,
                               "'%s' is not a valid client name (letters, "
                               "digits, '.', '_', '-')",
                               name);
        for (size_t i = 0; i < p->cfg->nclients; i++)
            if (!strcmp(p->cfg->clients[i].name, name))
                return hc_cfg_fail(p, NULL, "client '%s' is defined twice", name);
        hc_client_cfg_t *grown = realloc(p->cfg->clients, (p->cfg->nclients + 1) * sizeof *grown);
        if (!grown)
            return hc_cfg_fail(p, NULL, "out of memory");
        p->cfg->clients = grown;
        hc_client_cfg_t *c = &grown[p->cfg->nclients++];
        memset(c, 0, sizeof *c);
        snprintf(c->name, sizeof c->name, "%s", name);
        c->line = p->rd.line;
        if (!(c->values = hc_cfg_values_new()))
            return hc_cfg_fail(p, NULL, "out of memory");
        p->cur_client = c;
        p->sec = HC_S_CLIENT;
        return hc_cfg_defaults(p, HC_S_CLIENT);
    }
    if (!strncmp(section, "token ", 6)) {
        const char *name = section + 6;
        while (*name == ' ')
            name++;
        if (!hc_valid_token_name(name))
            return hc_cfg_fail(p, NULL,
                               "'%s' is not a valid token name (letters, "
                               "digits, '.', '_', '-'; it names a PIN file)",
                               name);
        if (hc_config_token(p->cfg, name))
            return hc_cfg_fail(p, NULL, "token '%s' is defined twice", name);
        hc_token_cfg_t *grown = realloc(p->cfg->tokens, (p->cfg->ntokens + 1) * sizeof *grown);
        if (!grown)
            return hc_cfg_fail(p, NULL, "out of memory");
        p->cfg->tokens = grown;
        hc_token_cfg_t *t = &grown[p->cfg->ntokens++];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", name);
        t->line = p->rd.line;
        p->cur_token = t;
        p->sec = HC_S_TOKEN;
        return hc_cfg_defaults(p, HC_S_TOKEN);
    }
    int id = hc_profile_id(section);
    if (id >= 0) {
        p->cur_profile = &p->cfg->profiles[id];
        p->sec = hc_cfg_profile_sections(id);
        return true;
    }
    return hc_cfg_fail(p, NULL,
                       "unknown section (known: core, token NAME, pkcs11, "
                       "pdns, bind, sshca, cli, agent, client NAME, shared-cache)");
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
    struct hc_cfg_parse *p = user;
    (void)section; /* tracked by read_line, which also sees empty sections */
    if (!p->failed)
        hc_cfg_value(p, key, value);
    return 1;
}

/* The defaults of the sections that exist once (the table's), and the one
 * the table cannot say as a value: [pdns] alone caches signatures. */
static bool set_defaults(struct hc_cfg_parse *p)
{
    hc_shared_cfg_defaults(&p->cfg->shared);
    p->cfg->profiles[HC_P_PDNS].signature_cache = true;
    return hc_cfg_defaults(p, HC_S_ONCE);
}

/* Checks that need the whole file: each token is complete, each profile's
 * token list names defined tokens. */
static CK_RV check_whole(const char *name, hc_config_t *c, hc_err_t *err)
{
    CK_RV grv = hc_group_cfg_check(name, c, err);
    if (grv != CKR_OK)
        return grv;
    for (size_t i = 0; i < c->ntokens; i++) {
        hc_token_cfg_t *t = &c->tokens[i];
        if (t->members.n)
            continue; /* a token group: config_group.c */
        if (!t->module[0])
            return hc_err(err, CKR_GENERAL_ERROR,
                          "%s:%d: [token %s]: missing "
                          "key 'module' (a p11-kit module name or an absolute "
                          "path)",
                          name, t->line, t->name);
        if (!t->label[0] && !t->serial[0])
            return hc_err(err, CKR_GENERAL_ERROR,
                          "%s:%d: [token %s]: missing "
                          "key 'label' or 'serial' (the real token is found by "
                          "them, never by slot number)",
                          name, t->line, t->name);
        if (strcmp(t->module, "hsmcache") == 0)
            return hc_err(err, CKR_GENERAL_ERROR,
                          "%s:%d: [token %s] module: "
                          "'hsmcache' is this module itself; name the real "
                          "module (e.g. softhsm2)",
                          name, t->line, t->name);
    }
    for (int id = 0; id < HC_P_COUNT; id++) {
        hc_profile_cfg_t *pr = &c->profiles[id];
        for (size_t i = 0; i < pr->ntokens; i++)
            if (!hc_config_token(c, pr->tokens[i]))
                return hc_err(err, CKR_GENERAL_ERROR,
                              "%s: [%s] tokens: no "
                              "[token %s] section is defined",
                              name, profile_names[id], pr->tokens[i]);
    }
    for (size_t i = 0; i < c->nclients; i++) {
        hc_client_cfg_t *cl = &c->clients[i];
        if (!cl->has_uid && !cl->has_group)
            return hc_err(err, CKR_GENERAL_ERROR,
                          "%s:%d: [client %s]: missing "
                          "key 'uid' or 'group' (who the client is)",
                          name, cl->line, cl->name);
        if (cl->keys.n == 0)
            return hc_err(err, CKR_GENERAL_ERROR,
                          "%s:%d: [client %s]: missing "
                          "key 'keys' (the pkcs11: URIs it may use)",
                          name, cl->line, cl->name);
        if (hc_cfg_client_sets_issue(cl) && !(cl->ops & HC_PERM_ISSUE))
            return hc_err(err, CKR_GENERAL_ERROR,
                          "%s:%d: [client %s]: allowed-principals, "
                          "max-validity, host-certs, allowed-options and force-options "
                          "apply to operations = issue, which it lacks",
                          name, cl->line, cl->name);
    }
    char why[400];
    if (c->shared.enabled && !hc_shared_cfg_check(&c->shared, why, sizeof why))
        return hc_err(err, CKR_GENERAL_ERROR, "%s:%d: [shared-cache]: %s", name, c->shared.line,
                      why);
    return CKR_OK;
}

CK_RV hc_config_parse(const char *name, const char *text, size_t len, hc_config_t **out,
                      hc_err_t *err)
{
    *out = NULL;
    hc_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return hc_err(err, CKR_HOST_MEMORY, "%s: out of memory", name);
    snprintf(cfg->path, sizeof cfg->path, "%s", name);
    if (!(cfg->values = hc_cfg_values_new())) {
        hc_config_free(cfg);
        return hc_err(err, CKR_HOST_MEMORY, "%s: out of memory", name);
    }
    if (memchr(text, '\0', len)) {
        hc_config_free(cfg);
        return hc_err(err, CKR_GENERAL_ERROR, "%s: contains a NUL byte", name);
    }
    struct hc_cfg_parse p = { .name = name, .cfg = cfg, .err = err };
    p.rd.text = text;
    p.rd.end = text + len;
    if (!set_defaults(&p)) {
        hc_config_free(cfg);
        return CKR_GENERAL_ERROR;
    }
    int rc = ini_parse_stream(read_line, &p.rd, handler, &p);
    CK_RV rv = CKR_OK;
    if (p.failed) {
        rv = CKR_GENERAL_ERROR;
    } else if (p.rd.too_long) {
        rv = hc_err(err, CKR_GENERAL_ERROR,
                    "%s:%d: line longer than %d "
                    "characters",
                    name, p.rd.too_long_line, INI_MAX_LINE - 2);
    } else if (rc > 0) {
        rv = hc_err(err, CKR_GENERAL_ERROR,
                    "%s:%d: syntax error (expected "
                    "'[section]', 'key = value' or a comment)",
                    name, rc);
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
        return hc_err(err, CKR_GENERAL_ERROR,
                      "%s: cannot open config: %s "
                      "(set HSMCACHE_CONF or create it)",
                      path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            if (cap > (16u << 20)) {
                free(text);
                fclose(f);
                return hc_err(err, CKR_GENERAL_ERROR, "%s: larger than 16 MiB", path);
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
    hc_cfg_values_free(cfg->values);
    for (size_t i = 0; i < cfg->nclients; i++) {
        free_list(&cfg->clients[i].keys);
        hc_cfg_values_free(cfg->clients[i].values);
    }
    free(cfg->clients);
    for (int id = 0; id < HC_P_COUNT; id++) {
        for (size_t i = 0; i < cfg->profiles[id].ntokens; i++)
            free(cfg->profiles[id].tokens[i]);
        free(cfg->profiles[id].tokens);
    }
    for (size_t i = 0; i < cfg->ntokens; i++)
        free_list(&cfg->tokens[i].members);
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
