/* keygen_argv.c: the ssh-keygen versions this module knows, their option
 * tables, and a command line read as their getopt reads it (contract in
 * keygen.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keygen.h"

/* ssh-keygen.c main()'s getopt string, the same in 9.2p1, 10.0p1 and
 * 10.0p2 (read at tags V_9_2_P1, V_10_0_P1, V_10_0_P2). A later release
 * is refused until its source has been read: 10.1 changed nothing here,
 * but 10.5 reads -V's times as fractions (convtime_double). */
#define KEYGEN_OPTS_9_2 "ABHKLQUXceghiklopquvy" "C:D:E:F:I:M:N:O:P:R:V:Y:Z:" \
                        "a:b:f:g:m:n:r:s:t:w:z:"

static const sshca_keygen_version_t versions[] = {
    { "9.2p1", KEYGEN_OPTS_9_2, SSHCA_CONVTIME_STRTOL },  /* Debian 12 */
    { "10.0p1", KEYGEN_OPTS_9_2, SSHCA_CONVTIME_DIGITS }, /* bookworm-backports */
    { "10.0p2", KEYGEN_OPTS_9_2, SSHCA_CONVTIME_DIGITS },
};
#define NVERSIONS (sizeof versions / sizeof versions[0])

/* SSHKEY_CERT_MAX_PRINCIPALS (sshkey.h), 256 in every version above. */
#define MAX_PRINCIPALS 256

const sshca_keygen_version_t *sshca_keygen_version(const char *release)
{
    for (size_t i = 0; release && i < NVERSIONS; i++)
        if (strcmp(versions[i].release, release) == 0)
            return &versions[i];
    return NULL;
}

const char *sshca_keygen_versions(void)
{
    return "9.2p1, 10.0p1, 10.0p2";
}

static int refuse(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return -1;
}

/* -z [+]DIGITS, at most 2^64-1 (ssh-keygen: a digit first, strtoull to
 * the end, ERANGE refused). */
static int parse_serial(const char *s, uint64_t *serial, bool *autoinc)
{
    if (*s == '+') {
        *autoinc = true; /* never reset by a later -z (as in ssh-keygen) */
        s++;
    }
    if (*s < '0' || *s > '9')
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *serial = v;
    return 0;
}

/* -n split at commas (strsep: "" is one empty name, refused). */
static int split_principals(sshca_request_t *r, char *why, size_t size)
{
    const char *s = r->principals_arg;
    size_t n = 1;
    for (const char *c = s; *c; c++)
        n += *c == ',';
    if (n > MAX_PRINCIPALS)
        return refuse(why, size,
                      "-n '%.100s...' names %zu principals; ssh-keygen "
                      "refuses more than %d",
                      s, n, MAX_PRINCIPALS);
    if (!(r->principals = calloc(n, sizeof *r->principals)))
        return refuse(why, size, "out of memory");
    for (const char *start = s;;) {
        const char *end = strchrnul(start, ',');
        if (end == start)
            return refuse(why, size,
                          "-n '%.200s' has an empty principal name; "
                          "ssh-keygen refuses it",
                          s);
        if (!(r->principals[r->nprincipals++] = strndup(start, (size_t)(end - start))))
            return refuse(why, size, "out of memory");
        if (!*end)
            break;
        start = end + 1;
    }
    return 0;
}

static int append(const char ***list, size_t *n, const char *s)
{
    const char **g = realloc(*list, (*n + 1) * sizeof *g);
    if (!g)
        return -1;
    *list = g;
    g[(*n)++] = s;
    return 0;
}

/* The modes main() handles before certifying, and whether they stop it. */
struct modes {
    const char *sign_op; /* -Y */
    bool gen_krl, check_krl, change_pass, change_comment, fingerprint, delete_host, hash_hosts;
};

static int walk(const sshca_keygen_version_t *v, sshca_request_t *r, struct modes *m, time_t now,
                char *why, size_t size)
{
    int argc = (int)r->argc_copy, optind = 1;
    char *const *argv = r->argv_copy;
    const char *place = "";
    /* openbsd-compat getopt() without permutation: options end at the
     * first non-option, "--" (consumed), or "-" alone (a non-option,
     * since '-' is not in the table); a lone '-' after grouped flags
     * ("-h-") also ends them, that argument then being the first file. */
    for (;;) {
        if (!*place) {
            if (optind >= argc)
                break;
            place = argv[optind];
            if (place[0] != '-' || place[1] == '\0')
                break;
            if (*++place == '-' && place[1] == '\0') {
                optind++;
                break;
            }
        }
        char c = *place++;
        const char *oli = c == ':' || c == '-' ? NULL : strchr(v->optstring, c);
        if (!oli) {
            if (c == '-' && *place == '\0')
                break;
            return refuse(why, size,
                          "argument %d '%.100s': -%c is not an option of "
                          "ssh-keygen %s (it would print its usage and stop)",
                          optind, argv[optind], c, v->release);
        }
        const char *arg = NULL;
        if (oli[1] != ':') {
            if (!*place)
                optind++;
        } else {
            if (*place)
                arg = place;
            else if (++optind >= argc)
                return refuse(why, size,
                              "argument %d: -%c needs a value (ssh-keygen "
                              "would stop)",
                              optind - 1, c);
            else
                arg = argv[optind];
            place = "";
            optind++;
        }
        switch (c) {
        case 'I': r->key_id = arg; break;
        case 'n': r->principals_arg = arg; break;
        case 's': r->ca_file = arg; break;
        case 'D': r->provider = arg; break;
        case 'h': r->host = true; break;
        case 'O':
            if (append(&r->raw_options, &r->nraw_options, arg) != 0)
                return refuse(why, size, "out of memory");
            break;
        case 'V': {
            char vwhy[256];
            /* parsed where ssh-keygen parses it: a bad -V stops it even
             * when a later one is good */
            if (sshca_validity(v, arg, now, &r->valid_after, &r->valid_before, &r->backdated, vwhy,
                               sizeof vwhy) != 0)
                return refuse(why, size, "-V '%.100s': %s", arg, vwhy);
            r->validity_arg = arg;
            break;
        }
        case 'z':
            if (parse_serial(arg, &r->serial, &r->serial_autoinc) != 0)
                return refuse(why, size,
                              "-z '%.100s' is not a serial number ssh-keygen "
                              "takes ([+]decimal, at most 2^64-1)",
                              arg);
            break;
        case 'Y': m->sign_op = arg; break;
        case 'k': m->gen_krl = true; break;
        case 'Q': m->check_krl = true; break;
        case 'p': m->change_pass = true; break;
        case 'c': m->change_comment = true; break;
        case 'l': m->fingerprint = true; break;
        case 'R': m->delete_host = true; break;
        case 'H': m->hash_hosts = true; break;
        default:
            /* Options that do not change a certificate's content (-t picks
             * the signature algorithm; -b, -E, -m, ... are checked by
             * ssh-keygen itself, which stops on a bad one before signing). */
            break;
        }
    }
    for (int i = optind; i < argc; i++)
        if (append(&r->files, &r->nfiles, argv[i]) != 0)
            return refuse(why, size, "out of memory");
    return 0;
}

int sshca_keygen_parse(const sshca_keygen_version_t *v, int argc, char *const argv[], time_t now,
                       sshca_request_t *r, char *why, size_t size)
{
    memset(r, 0, sizeof *r);
    r->valid_before = UINT64_MAX; /* ssh-keygen's defaults: valid forever */
    if (argc < 1)
        return refuse(why, size, "empty command line");
    int rc = 0;
    if (!(r->argv_copy = calloc((size_t)argc + 1, sizeof *r->argv_copy)))
        rc = refuse(why, size, "out of memory");
    else
        r->argc_copy = (size_t)argc;
    for (int i = 0; rc == 0 && i < argc; i++)
        if (!(r->argv_copy[i] = strdup(argv[i])))
            rc = refuse(why, size, "out of memory");
    struct modes m = { 0 };
    if (rc == 0)
        rc = walk(v, r, &m, now, why, size);
    if (rc == 0) {
        /* main(): -Y, a missing file, -p with -c, -l with -R/-H, -k and
         * -Q all come before certifying; a missing -I stops it. */
        r->certify = !m.sign_op && r->ca_file && r->nfiles > 0 && !m.gen_krl && !m.check_krl &&
                     !(m.change_pass && m.change_comment) &&
                     !(m.fingerprint && (m.delete_host || m.hash_hosts)) && r->key_id;
        if (r->certify && r->principals_arg)
            rc = split_principals(r, why, size);
        if (r->certify && rc == 0)
            rc = sshca_certopts(r->raw_options, r->nraw_options, r->host, &r->options, &r->noptions,
                                why, size);
    }
    if (rc != 0)
        sshca_request_free(r);
    return rc;
}

uint64_t sshca_request_serial(const sshca_request_t *r, size_t i)
{
    /* do_ca_sign: cert_serial++ after each key (wrapping, u_int64_t) */
    return r->serial_autoinc ? r->serial + (uint64_t)i : r->serial;
}

void sshca_request_free(sshca_request_t *r)
{
    for (size_t i = 0; r->principals && i < r->nprincipals; i++)
        free(r->principals[i]);
    free(r->principals);
    sshca_certopts_free(r->options, r->noptions);
    free(r->raw_options);
    free(r->files);
    for (size_t i = 0; r->argv_copy && i < r->argc_copy; i++)
        free(r->argv_copy[i]);
    free(r->argv_copy);
    memset(r, 0, sizeof *r);
}
