/* policy.c: the [sshca] signing rules, checked before every signature.
 * Each refusal names its rule and says how to satisfy it. */
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sshca.h"

static bool listed(const hc_strlist_t *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], name) == 0)
            return true;
    return false;
}

static bool in_allowed_group(const hc_strlist_t *allowed)
{
    gid_t groups[256];
    int n = getgroups(256, groups);
    if (n < 0)
        n = 0;
    groups[n < 256 ? n++ : 255] = getgid();
    for (int i = 0; i < n; i++) {
        struct group *g = getgrgid(groups[i]);
        if (g && listed(allowed, g->gr_name))
            return true;
    }
    return false;
}

static void human(long long s, char *out, size_t size)
{
    if (s % 86400 == 0)
        snprintf(out, size, "%lldd", s / 86400);
    else if (s % 3600 == 0)
        snprintf(out, size, "%lldh", s / 3600);
    else
        snprintf(out, size, "%llds", s);
}

const char *sshca_policy_check(const hc_sshca_cfg_t *cfg, const sshca_args_t *a,
                               time_t now, char *why, size_t size)
{
    struct passwd *pw = getpwuid(getuid());
    const char *user = pw ? pw->pw_name : "?";
    if ((cfg->allowed_users.n || cfg->allowed_groups.n) &&
        !listed(&cfg->allowed_users, user) && !in_allowed_group(&cfg->allowed_groups)) {
        snprintf(why, size, "user %s (uid %u) is not in allowed-users and in "
                 "none of allowed-groups; run as an allowed user or ask for "
                 "the user to be added", user, (unsigned)getuid());
        return "allowed-users";
    }
    if (a->is_agent_helper) {
        if (!cfg->allow_agent) {
            snprintf(why, size, "signing through ssh-agent is off (its "
                     "arguments cannot be checked); use ssh-keygen -D, or "
                     "set allow-agent = yes in [sshca]");
            return "allow-agent";
        }
        return NULL; /* the agent's own checks apply; nothing more to see */
    }
    if (!a->is_keygen) {
        snprintf(why, size, "the host program is %s, not ssh-keygen",
                 a->program ? a->program : "?");
        return "host";
    }
    if (!a->ca_file) {
        snprintf(why, size, "ssh-keygen was not asked to certify (-s)");
        return "host";
    }
    if (a->host_cert && !cfg->host_certs) {
        snprintf(why, size, "host certificates (-h) are not allowed here "
                 "(host-certs = no)");
        return "host-certs";
    }
    if (cfg->require_principals && (!a->principals || !a->principals[0])) {
        snprintf(why, size, "no principals: give -n with the user (or host) "
                 "names the certificate is for");
        return "require-principals";
    }
    if (!a->validity) {
        if (cfg->require_validity || cfg->max_validity_s) {
            snprintf(why, size, "no validity: give -V, e.g. -V +8h");
            return "require-validity";
        }
        return NULL;
    }
    long long from, to;
    if (sshca_validity(a->validity, now, &from, &to) != 0) {
        snprintf(why, size, "-V %s is not a validity interval this policy "
                 "understands; use e.g. -V +8h or -V -5m:+8h", a->validity);
        return "require-validity";
    }
    if (cfg->max_validity_s &&
        (from == LLONG_MIN || to == LLONG_MAX || to - from > cfg->max_validity_s)) {
        char max[32], got[32] = "unbounded";
        human(cfg->max_validity_s, max, sizeof max);
        if (from != LLONG_MIN && to != LLONG_MAX)
            human(to - from, got, sizeof got);
        snprintf(why, size, "-V %s is valid for %s, more than max-validity %s; "
                 "give a shorter -V, e.g. -V +%s", a->validity, got, max, max);
        return "max-validity";
    }
    return NULL;
}
