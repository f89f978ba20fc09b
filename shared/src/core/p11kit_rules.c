/* p11kit_rules.c: p11-kit's enable-in/disable-in rule for a module file
 * (see p11kit_rules.h for the rule and how it was measured). */
#include "core/p11kit_rules.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One key's value, as a span of the text (NULL: not given). */
struct span {
    const char *p;
    size_t n;
};

static bool is_delim(char c)
{
    return c == ',' || isspace((unsigned char)c);
}

/* Is `name` one of the comma/space separated words of `list`? */
static bool in_list(struct span list, const char *name)
{
    size_t nlen = strlen(name);
    size_t i = 0;
    while (i < list.n) {
        while (i < list.n && is_delim(list.p[i]))
            i++;
        size_t start = i;
        while (i < list.n && !is_delim(list.p[i]))
            i++;
        if (i > start && i - start == nlen && memcmp(list.p + start, name, nlen) == 0)
            return true;
    }
    return false;
}

static void trim(const char **p, size_t *n)
{
    while (*n && isspace((unsigned char)**p)) {
        (*p)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*p)[*n - 1]))
        (*n)--;
}

static bool key_is(const char *k, size_t kn, const char *want)
{
    return kn == strlen(want) && memcmp(k, want, kn) == 0;
}

bool hc_p11kit_enabled(const char *text, size_t len, const char *progname)
{
    if (!text || len > HC_P11KIT_FILE_MAX || memchr(text, '\0', len))
        return false;
    struct span enable = { NULL, 0 }, disable = { NULL, 0 };
    const char *end = text + len;
    for (const char *line = text; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *p = line;
        size_t n = (size_t)((nl ? nl : end) - line);
        line = nl ? nl + 1 : end;
        trim(&p, &n);
        if (n == 0 || p[0] == '#')
            continue;
        const char *colon = p[0] == '[' ? NULL : memchr(p, ':', n);
        if (!colon)
            return false; /* p11-kit refuses the whole registry */
        const char *k = p, *v = colon + 1;
        size_t kn = (size_t)(colon - p), vn = n - kn - 1;
        trim(&k, &kn);
        trim(&v, &vn);
        if (key_is(k, kn, "enable-in"))
            enable = (struct span){ v, vn };
        else if (key_is(k, kn, "disable-in"))
            disable = (struct span){ v, vn };
    }
    if (enable.p)
        return progname && in_list(enable, progname);
    if (disable.p)
        return !progname || !in_list(disable, progname);
    return true;
}

bool hc_p11kit_file_enabled(FILE *f, const char *progname)
{
    char *buf = malloc(HC_P11KIT_FILE_MAX + 1);
    if (!buf || fseek(f, 0, SEEK_SET) != 0) {
        free(buf);
        return false;
    }
    size_t n = fread(buf, 1, HC_P11KIT_FILE_MAX + 1, f);
    bool ok = !ferror(f) && hc_p11kit_enabled(buf, n, progname);
    free(buf);
    return ok;
}

const char *hc_p11kit_progname(void)
{
    return program_invocation_short_name && program_invocation_short_name[0]
               ? program_invocation_short_name
               : NULL;
}
