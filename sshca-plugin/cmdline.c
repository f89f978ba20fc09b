/* cmdline.c: ssh-keygen's arguments, parsed the way its getopt does
 * (glibc permutes: options may follow file names). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sshca.h"

/* ssh-keygen 9.x options that take an argument. */
static const char with_arg[] = "CDEFIMNOPRVZYabfgmnrstwz";

static void set_opt(sshca_args_t *a, char c, const char *v)
{
    switch (c) {
    case 'I': a->identity = v; break;
    case 'n': a->principals = v; break;
    case 'V': a->validity = v; break;
    case 'z': a->serial = v; break;
    case 's': a->ca_file = v; break;
    case 'O': {
        const char **g = realloc(a->options, (a->noptions + 1) * sizeof *g);
        if (g) {
            a->options = g;
            a->options[a->noptions++] = v;
        }
        break;
    }
    default: break;
    }
}

static void add_file(sshca_args_t *a, const char *f)
{
    const char **g = realloc(a->files, (a->nfiles + 1) * sizeof *g);
    if (g) {
        a->files = g;
        a->files[a->nfiles++] = f;
    }
}

int sshca_args_parse(sshca_args_t *a, const char *exe, const char *cmdline,
                     size_t len)
{
    memset(a, 0, sizeof *a);
    if (!(a->buf = malloc(len + 1)))
        return -1;
    memcpy(a->buf, cmdline, len);
    a->buf[len] = '\0';
    a->buflen = len;
    const char *base = strrchr(exe, '/');
    a->program = strdup(base ? base + 1 : exe);
    if (!a->program)
        return -1;
    a->is_keygen = strcmp(a->program, "ssh-keygen") == 0;
    a->is_agent_helper = strcmp(a->program, "ssh-pkcs11-helper") == 0;
    /* argv[0] first, then the arguments. */
    char *argv_end = a->buf + len;
    char *p = a->buf + strlen(a->buf) + 1;
    bool only_files = false;
    while (p < argv_end) {
        char *arg = p;
        p += strlen(p) + 1;
        if (only_files || arg[0] != '-' || arg[1] == '\0') {
            add_file(a, arg);
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_files = true;
            continue;
        }
        for (char *c = arg + 1; *c; c++) {
            if (strchr(with_arg, *c)) {
                const char *v = c[1] ? c + 1 : (p < argv_end ? p : NULL);
                if (!c[1] && p < argv_end)
                    p += strlen(p) + 1;
                if (v)
                    set_opt(a, *c, v);
                break;
            }
            if (*c == 'h')
                a->host_cert = true;
            else if (*c == 'U')
                a->use_agent = true;
        }
    }
    return 0;
}

int sshca_args_read_self(sshca_args_t *a)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        return -1;
    exe[n] = '\0';
    FILE *f = fopen("/proc/self/cmdline", "re");
    if (!f)
        return -1;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            char *g = realloc(buf, cap += 4096);
            if (!g)
                break;
            buf = g;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        if (r == 0)
            break;
        len += r;
    }
    fclose(f);
    int rc = buf ? sshca_args_parse(a, exe, buf, len) : -1;
    free(buf);
    return rc;
}

void sshca_args_free(sshca_args_t *a)
{
    free(a->options);
    free(a->files);
    free(a->buf);
    free(a->program);
    memset(a, 0, sizeof *a);
}
