/* certopts.c: ssh-keygen's -O options to the critical options and
 * extensions of the certificate (add_cert_option() then
 * finalise_cert_exts(), the same in 9.2 and 10.0; contract in keygen.h).
 *
 * A user certificate starts with the five permit-* extensions, a host
 * certificate (-h) with none; -O clear drops them, permit-X / no-X add
 * and drop one, force-command= and source-address= (once each) and
 * verify-required are critical options, critical:NAME[=V] and
 * extension:NAME[=V] add any other. Option names are matched without
 * regard to case. The list is sorted as ssh-keygen sorts it: critical
 * options first, then by name, then by value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keygen.h"

/* The flag options, in the order finalise_cert_exts() adds them. */
static const struct flag {
    const char *name; /* in the certificate */
    const char *off;  /* the -O that drops it */
    bool critical;
    bool user_default; /* on in a user certificate unless dropped */
} flags[] = {
    { "verify-required", "no-verify-required", true, false },
    { "permit-X11-forwarding", "no-x11-forwarding", false, true },
    { "permit-agent-forwarding", "no-agent-forwarding", false, true },
    { "permit-port-forwarding", "no-port-forwarding", false, true },
    { "permit-pty", "no-pty", false, true },
    { "permit-user-rc", "no-user-rc", false, true },
    { "no-touch-required", "touch-required", false, false },
};
#define NFLAGS (sizeof flags / sizeof flags[0])

static int bad_option(char *why, size_t size, const char *what, const char *opt)
{
    snprintf(why, size, "-O '%.200s': %s", opt, what);
    return -1;
}

static int add(sshca_certopt_t **out, size_t *n, const char *name, size_t name_len,
               const char *value, bool critical)
{
    sshca_certopt_t *g = realloc(*out, (*n + 1) * sizeof *g);
    if (!g)
        return -1;
    *out = g;
    sshca_certopt_t *o = &g[*n];
    o->name = strndup(name, name_len);
    o->value = value ? strdup(value) : NULL;
    o->critical = critical;
    (*n)++;
    return o->name && (!value || o->value) ? 0 : -1;
}

static int cmp(const void *pa, const void *pb)
{
    const sshca_certopt_t *a = pa, *b = pb;
    int r;
    if (a->critical != b->critical)
        return a->critical ? -1 : 1;
    if ((r = strcmp(a->name, b->name)) != 0)
        return r;
    if (!a->value != !b->value)
        return !a->value ? -1 : 1;
    return a->value ? strcmp(a->value, b->value) : 0;
}

/* source-address= takes a CIDR list (addr_match_cidr_list); ssh-keygen
 * checks its syntax. Only the characters of addresses, masks and commas
 * pass here: what ssh-keygen refuses never reaches a signature anyway. */
static bool cidr_chars(const char *s)
{
    return *s && strspn(s, "0123456789abcdefABCDEF.:/,") == strlen(s);
}

int sshca_certopts(const char *const *opts, size_t nopts, bool host, sshca_certopt_t **out,
                   size_t *nout, char *why, size_t size)
{
    bool on[NFLAGS];
    const char *command = NULL, *source = NULL;
    sshca_certopt_t *list = NULL;
    size_t n = 0;
    for (size_t f = 0; f < NFLAGS; f++)
        on[f] = !host && flags[f].user_default;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nopts; i++) {
        const char *o = opts[i];
        bool done = false;
        if (strcasecmp(o, "clear") == 0) {
            for (size_t f = 0; f < NFLAGS; f++)
                on[f] = false;
            done = true;
        }
        for (size_t f = 0; !done && f < NFLAGS; f++) {
            if (strcasecmp(o, flags[f].name) == 0)
                on[f] = done = true;
            else if (strcasecmp(o, flags[f].off) == 0) {
                on[f] = false;
                done = true;
            }
        }
        if (done)
            continue;
        if (strncasecmp(o, "force-command=", 14) == 0) {
            if (!o[14])
                rc = bad_option(why, size, "empty force-command (ssh-keygen refuses it)", o);
            else if (command)
                rc = bad_option(why, size, "force-command given twice (ssh-keygen refuses it)", o);
            command = o + 14;
        } else if (strncasecmp(o, "source-address=", 15) == 0) {
            if (!cidr_chars(o + 15))
                rc = bad_option(why, size, "not a list of addresses/masks", o);
            else if (source)
                rc = bad_option(why, size, "source-address given twice (ssh-keygen refuses it)", o);
            source = o + 15;
        } else if (strncasecmp(o, "extension:", 10) == 0 || strncasecmp(o, "critical:", 9) == 0) {
            bool crit = (o[0] | 0x20) == 'c';
            const char *name = strchr(o, ':') + 1, *eq = strchr(name, '=');
            if (add(&list, &n, name, eq ? (size_t)(eq - name) : strlen(name), eq ? eq + 1 : NULL,
                    crit) != 0)
                rc = bad_option(why, size, "out of memory", o);
        } else {
            rc = bad_option(why, size,
                            "not a certificate option ssh-keygen knows "
                            "(it refuses it)",
                            o);
        }
    }
    if (rc == 0 && command && add(&list, &n, "force-command", 13, command, true) != 0)
        rc = bad_option(why, size, "out of memory", command);
    if (rc == 0 && source && add(&list, &n, "source-address", 14, source, true) != 0)
        rc = bad_option(why, size, "out of memory", source);
    for (size_t f = 0; rc == 0 && f < NFLAGS; f++)
        if (on[f] &&
            add(&list, &n, flags[f].name, strlen(flags[f].name), NULL, flags[f].critical) != 0)
            rc = bad_option(why, size, "out of memory", flags[f].name);
    if (rc != 0) {
        sshca_certopts_free(list, n);
        return -1;
    }
    if (n > 1)
        qsort(list, n, sizeof *list, cmp);
    *out = list;
    *nout = n;
    return 0;
}

void sshca_certopts_free(sshca_certopt_t *o, size_t n)
{
    for (size_t i = 0; o && i < n; i++) {
        free(o[i].name);
        free(o[i].value);
    }
    free(o);
}

char *sshca_certopt_text(const sshca_certopt_t *o)
{
    bool known = o->critical && o->value &&
                 (!strcmp(o->name, "force-command") || !strcmp(o->name, "source-address"));
    for (size_t f = 0; !known && f < NFLAGS; f++)
        known = !strcmp(o->name, flags[f].name) && !o->value && flags[f].critical == o->critical;
    char *s;
    if (asprintf(&s, "%s%s%s%s",
                 known         ? ""
                 : o->critical ? "critical:"
                               : "extension:",
                 o->name, o->value ? "=" : "", o->value ? o->value : "") < 0)
        return NULL;
    return s;
}
