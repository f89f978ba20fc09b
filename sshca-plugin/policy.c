/* policy.c: the [sshca] signing rules, read by key (the module from its
 * context, hsmcached from its config), checked before every signature
 * against the caller and what ssh-keygen will put in the certificate (not
 * its raw argv). Each refusal names its rule and says how to satisfy it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sshca.h"

CK_RV sshca_policy_read(const sshca_settings_t *from, sshca_policy_t *p, hc_err_t *err)
{
    struct {
        const char *key;
        sshca_list_t *l;
    } lists[] = {
        { "allowed-users", &p->allowed_users },
        { "allowed-groups", &p->allowed_groups },
        { "allowed-principals", &p->allowed_principals },
        { "allowed-options", &p->allowed_options },
        { "force-options", &p->force_options },
    };
    struct {
        const char *key;
        bool *b;
    } flags[] = {
        { "require-validity", &p->require_validity },
        { "require-principals", &p->require_principals },
        { "host-certs", &p->host_certs },
        { "allow-agent", &p->allow_agent },
    };
    CK_RV rv = from->number(from->src, "max-validity", &p->max_validity_s, err);
    for (size_t i = 0; rv == CKR_OK && i < sizeof lists / sizeof lists[0]; i++)
        rv = from->list(from->src, lists[i].key, &lists[i].l->items, &lists[i].l->n, err);
    for (size_t i = 0; rv == CKR_OK && i < sizeof flags / sizeof flags[0]; i++)
        rv = from->flag(from->src, flags[i].key, flags[i].b, err);
    return rv;
}

static bool listed(const sshca_list_t *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], name) == 0)
            return true;
    return false;
}

static bool in_allowed_group(const sshca_list_t *allowed, const sshca_caller_t *who)
{
    for (size_t i = 0; i < who->ngroups; i++)
        if (listed(allowed, who->groups[i]))
            return true;
    return false;
}

static void human(unsigned long long s, char *out, size_t size)
{
    if (s % 86400 == 0)
        snprintf(out, size, "%llud", s / 86400);
    else if (s % 3600 == 0)
        snprintf(out, size, "%lluh", s / 3600);
    else
        snprintf(out, size, "%llus", s);
}

/* The host and the command line: ssh-keygen itself, a release we can
 * read, arguments it will certify with. */
static const char *host_check(const sshca_policy_t *cfg, const sshca_args_t *a, char *why,
                              size_t size)
{
    if (a->is_agent_helper) {
        if (!cfg->allow_agent) {
            snprintf(why, size,
                     "signing through ssh-agent is off (its "
                     "arguments cannot be checked); use ssh-keygen -D, or "
                     "set allow-agent = yes in [sshca]");
            return "allow-agent";
        }
        return NULL;
    }
    if (!a->is_keygen) {
        snprintf(why, size,
                 "%s; only the installed ssh-keygen may sign with "
                 "this module",
                 a->host_why);
        return "host";
    }
    if (!a->parsed) {
        snprintf(why, size, "ssh-keygen %s's arguments: %s", a->release, a->parse_why);
        return "arguments";
    }
    if (!a->req.certify) {
        snprintf(why, size,
                 "ssh-keygen %s was not asked to certify a key (-s CA "
                 "-I ID ... KEYFILE, options before the key files)",
                 a->release);
        return "arguments";
    }
    return NULL;
}

static const char *validity_check(const sshca_policy_t *cfg, const sshca_args_t *a, char *why,
                                  size_t size)
{
    const sshca_request_t *r = &a->req;
    if (!r->validity_arg) {
        if (cfg->require_validity || cfg->max_validity_s) {
            snprintf(why, size, "no validity: give -V, e.g. -V +8h");
            return "require-validity";
        }
        return NULL;
    }
    if (!cfg->max_validity_s)
        return NULL;
    /* the length of the interval in the certificate; for -V +TIME,
     * ssh-keygen's own backdate (under 2 min, for skewed clocks) is not
     * counted: TIME from now is what was asked */
    bool unbounded = r->valid_after == 0 || r->valid_before == UINT64_MAX;
    uint64_t start = r->backdated ? (uint64_t)a->now : r->valid_after;
    uint64_t len = unbounded || r->valid_before < start ? 0 : r->valid_before - start;
    if (unbounded || len > (uint64_t)cfg->max_validity_s) {
        char max[32], got[32] = "unbounded", iv[48];
        human((unsigned long long)cfg->max_validity_s, max, sizeof max);
        if (!unbounded)
            human((unsigned long long)len, got, sizeof got);
        sshca_validity_format(r->valid_after, r->valid_before, iv, sizeof iv);
        snprintf(why, size,
                 "-V %s (%s) is valid for %s, more than max-validity %s; "
                 "give a shorter -V, e.g. -V +%s",
                 r->validity_arg, iv, got, max, max);
        return "max-validity";
    }
    return NULL;
}

/* Whether `name` matches the allowed-principals entry `pat`: equal, with
 * each "%u" standing for `user` (never matched when the caller has no
 * name). */
static bool principal_matches(const char *pat, const char *name, const char *user)
{
    while (*pat) {
        if (pat[0] == '%' && pat[1] == 'u') {
            size_t n = strlen(user);
            if (!n || strncmp(name, user, n) != 0)
                return false;
            name += n, pat += 2;
        } else if (*pat++ != *name++) {
            return false;
        }
    }
    return *name == '\0';
}

static const char *principals_check(const sshca_policy_t *cfg, const sshca_caller_t *who,
                                    const sshca_request_t *r, char *why, size_t size)
{
    const sshca_list_t *l = &cfg->allowed_principals;
    if (!l->n)
        return NULL;
    if (r->nprincipals == 0) {
        snprintf(why, size,
                 "no principals, which would be valid for every name; give "
                 "-n with names allowed-principals allows");
        return "allowed-principals";
    }
    for (size_t i = 0; i < r->nprincipals; i++) {
        bool ok = false;
        for (size_t j = 0; j < l->n && !ok; j++)
            ok = principal_matches(l->items[j], r->principals[i], who->user);
        if (!ok) {
            snprintf(why, size,
                     "principal '%.100s' is not in allowed-principals (for "
                     "user %s: %s%s)",
                     r->principals[i], who->user[0] ? who->user : "?", l->items[0],
                     l->n > 1 ? ", ..." : "");
            return "allowed-principals";
        }
    }
    return NULL;
}

static bool same_options(const sshca_certopt_t *a, size_t na, const sshca_certopt_t *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (a[i].critical != b[i].critical || strcmp(a[i].name, b[i].name) ||
            !a[i].value != !b[i].value || (a[i].value && strcmp(a[i].value, b[i].value)))
            return false;
    return true;
}

static const char *options_check(const sshca_policy_t *cfg, const sshca_args_t *a, char *why,
                                 size_t size)
{
    const sshca_request_t *r = &a->req;
    size_t own = r->nraw_options >= a->nforced ? r->nraw_options - a->nforced : 0;
    for (size_t i = 0; cfg->allowed_options.n && i < own; i++) {
        const char *o = r->raw_options[i];
        size_t n = strcspn(o, "=");
        bool ok = false;
        for (size_t j = 0; j < cfg->allowed_options.n && !ok; j++)
            ok = strlen(cfg->allowed_options.items[j]) == n &&
                 !strncasecmp(cfg->allowed_options.items[j], o, n);
        if (!ok) {
            snprintf(why, size, "-O '%.100s' is not in allowed-options", o);
            return "allowed-options";
        }
    }
    if (!cfg->force_options.n || a->nforced == cfg->force_options.n)
        return NULL;
    /* the caller's own ssh-keygen: its options must already be what the
     * forced ones make them */
    size_t n = r->nraw_options + cfg->force_options.n;
    const char **all = malloc(n * sizeof *all);
    sshca_certopt_t *want = NULL;
    size_t nwant = 0;
    char w[200];
    bool ok = all != NULL;
    for (size_t i = 0; ok && i < r->nraw_options; i++)
        all[i] = r->raw_options[i];
    for (size_t i = 0; ok && i < cfg->force_options.n; i++)
        all[r->nraw_options + i] = cfg->force_options.items[i];
    ok = ok && sshca_certopts(all, n, r->host, &want, &nwant, w, sizeof w) == 0 &&
         same_options(want, nwant, r->options, r->noptions);
    sshca_certopts_free(want, nwant);
    free(all);
    if (!ok) {
        snprintf(why, size,
                 "the certificate's options are not what force-options "
                 "make them; add -O %s%s after the others",
                 cfg->force_options.items[0],
                 cfg->force_options.n > 1 ? " (and the rest of force-options)" : "");
        return "force-options";
    }
    return NULL;
}

const char *sshca_policy_check(const sshca_policy_t *cfg, const sshca_caller_t *who,
                               const sshca_args_t *a, char *why, size_t size)
{
    const char *user = who->user[0] ? who->user : "?";
    if ((cfg->allowed_users.n || cfg->allowed_groups.n) && !listed(&cfg->allowed_users, user) &&
        !in_allowed_group(&cfg->allowed_groups, who)) {
        snprintf(why, size,
                 "user %s (uid %u) is not in allowed-users and in "
                 "none of allowed-groups; run as an allowed user or ask for "
                 "the user to be added",
                 user, who->uid);
        return "allowed-users";
    }
    const char *rule = host_check(cfg, a, why, size);
    if (rule || a->is_agent_helper)
        return rule;
    const sshca_request_t *r = &a->req;
    if (r->host && !cfg->host_certs) {
        snprintf(why, size,
                 "host certificates (-h) are not allowed here "
                 "(host-certs = no)");
        return "host-certs";
    }
    if (cfg->require_principals && r->nprincipals == 0) {
        snprintf(why, size,
                 "no principals: give -n with the user (or host) "
                 "names the certificate is for, before the key files");
        return "require-principals";
    }
    const char *rule2 = principals_check(cfg, who, r, why, size);
    if (!rule2)
        rule2 = options_check(cfg, a, why, size);
    return rule2 ? rule2 : validity_check(cfg, a, why, size);
}
