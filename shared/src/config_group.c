/*
 * config_group.c: token groups in the config (core/group.h):
 *     [token ha]
 *     members = a, b
 * A group names two or more [token] sections (at most
 * HC_GROUP_MAX_MEMBERS), each once, none of them a group, and has no
 * module, label or serial of its own. Every refusal names the file, the
 * line of the members key and the member at fault. config.c calls these.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "util/err.h"

/* Whether [token NAME] is a group. */
static bool is_group(const hc_token_cfg_t *t)
{
    return t->members.n > 0;
}

static CK_RV check_group(const char *file, const hc_config_t *c, const hc_token_cfg_t *g,
                         hc_err_t *err)
{
    const char *own = g->module[0]   ? "module"
                      : g->label[0]  ? "label"
                      : g->serial[0] ? "serial"
                                     : NULL;
    if (own)
        return hc_err(err, CKR_GENERAL_ERROR,
                      "%s:%d: [token %s]: a group "
                      "(members =) has no '%s' of its own: its members have "
                      "theirs",
                      file, g->line, g->name, own);
    if (g->members.n < 2)
        return hc_err(err, CKR_GENERAL_ERROR,
                      "%s:%d: [token %s] members: a "
                      "group needs at least 2 members, got %zu ('%s'); use the "
                      "token itself instead",
                      file, g->members_line, g->name, g->members.n, g->members.items[0]);
    if (g->members.n > HC_GROUP_MAX_MEMBERS)
        return hc_err(err, CKR_GENERAL_ERROR,
                      "%s:%d: [token %s] members: %zu "
                      "members, at most %d",
                      file, g->members_line, g->name, g->members.n, HC_GROUP_MAX_MEMBERS);
    for (size_t i = 0; i < g->members.n; i++) {
        const char *name = g->members.items[i];
        const hc_token_cfg_t *m = hc_config_token(c, name);
        if (!m)
            return hc_err(err, CKR_GENERAL_ERROR,
                          "%s:%d: [token %s] members: "
                          "no [token %s] section is defined",
                          file, g->members_line, g->name, name);
        if (m == g)
            return hc_err(err, CKR_GENERAL_ERROR,
                          "%s:%d: [token %s] members: "
                          "a group cannot be its own member",
                          file, g->members_line, g->name);
        if (is_group(m))
            return hc_err(err, CKR_GENERAL_ERROR,
                          "%s:%d: [token %s] members: "
                          "'%s' is itself a group (line %d); groups do not "
                          "nest: list its members instead",
                          file, g->members_line, g->name, name, m->members_line);
        for (size_t k = 0; k < i; k++)
            if (strcmp(g->members.items[k], name) == 0)
                return hc_err(err, CKR_GENERAL_ERROR,
                              "%s:%d: [token %s] "
                              "members: '%s' is listed twice",
                              file, g->members_line, g->name, name);
    }
    return CKR_OK;
}

CK_RV hc_group_cfg_check(const char *file, const hc_config_t *c, hc_err_t *err)
{
    for (size_t i = 0; i < c->ntokens; i++)
        if (is_group(&c->tokens[i])) {
            CK_RV rv = check_group(file, c, &c->tokens[i], err);
            if (rv != CKR_OK)
                return rv;
        }
    return CKR_OK;
}
