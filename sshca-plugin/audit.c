/* audit.c: one JSON object per line per signing attempt, appended with
 * O_APPEND under an exclusive flock and fsync'ed, so concurrent signers
 * never interleave and a crash loses at most the line being written. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "sshca.h"
#include "sshkey.h"

struct out {
    char *p;
    size_t len, cap;
};

static void raw(struct out *o, const char *s, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        size_t cap = (o->len + n + 1) * 2;
        char *g = realloc(o->p, cap);
        if (!g)
            return;
        o->p = g;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void str(struct out *o, const char *s)
{
    if (!s) {
        raw(o, "null", 4);
        return;
    }
    raw(o, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            raw(o, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            raw(o, esc, 6);
        } else {
            raw(o, (const char *)&c, 1);
        }
    }
    raw(o, "\"", 1);
}

static void field(struct out *o, const char *name, const char *value)
{
    raw(o, ",", o->len > 1 ? 1 : 0);
    str(o, name);
    raw(o, ":", 1);
    str(o, value);
}

/* The OpenSSH public key in `file`: its "type base64" and fingerprint. */
static void subject(const char *file, char **key, char **fp)
{
    *key = *fp = NULL;
    FILE *f = file ? fopen(file, "re") : NULL;
    char line[16384];
    if (!f)
        return;
    if (fgets(line, sizeof line, f)) {
        char *type = strtok(line, " \t\r\n"), *b64 = strtok(NULL, " \t\r\n");
        if (type && b64) {
            unsigned char *blob = malloc(strlen(b64));
            int n = blob ? EVP_DecodeBlock(blob, (unsigned char *)b64, (int)strlen(b64)) : -1;
            if (n > 0) {
                size_t len = (size_t)n - (b64[strlen(b64) - 1] == '=') -
                             (strlen(b64) > 1 && b64[strlen(b64) - 2] == '=');
                *fp = hc_ssh_fingerprint(blob, len);
                if (asprintf(key, "%s %s", type, b64) < 0)
                    *key = NULL;
            }
            free(blob);
        }
    }
    fclose(f);
}

int sshca_audit_writable(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

int sshca_audit(hc_ctx_t *ctx, const sshca_args_t *a, const sshca_key_t *key,
                const char *subject_file, const char *result)
{
    struct out o = { 0 };
    char when[32], num[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    struct passwd *pw = getpwuid(getuid());
    raw(&o, "{", 1);
    field(&o, "time", when);
    snprintf(num, sizeof num, "%u", (unsigned)getuid());
    raw(&o, ",\"uid\":", 7);
    raw(&o, num, strlen(num));
    field(&o, "user", pw ? pw->pw_name : NULL);
    snprintf(num, sizeof num, "%d", (int)getpid());
    raw(&o, ",\"pid\":", 7);
    raw(&o, num, strlen(num));
    field(&o, "host", a->program);
    field(&o, "identity", a->identity);
    field(&o, "principals", a->principals);
    field(&o, "validity", a->validity);
    field(&o, "serial", a->serial);
    raw(&o, ",\"options\":[", 12);
    for (size_t i = 0; i < a->noptions; i++) {
        raw(&o, ",", i ? 1 : 0);
        str(&o, a->options[i]);
    }
    raw(&o, "]", 1);
    raw(&o, a->host_cert ? ",\"host_certificate\":true" : ",\"host_certificate\":false",
        a->host_cert ? 24 : 25);
    field(&o, "key_file", subject_file);
    char *subj, *subj_fp;
    subject(subject_file, &subj, &subj_fp);
    field(&o, "public_key", subj);
    field(&o, "public_key_fingerprint", subj_fp);
    free(subj);
    free(subj_fp);
    field(&o, "ca_key", key ? key->uri : NULL);
    field(&o, "ca_fingerprint", key ? key->fingerprint : NULL);
    field(&o, "result", result);
    raw(&o, "}", 1);
    if (!o.p)
        return -1;
    /* Embedded, the core appends to [sshca] audit-log; with hsmcached, the
     * agent appends to its own (this process may not be able to write it)
     * with the uid and pid it verified. */
    hc_err_t err;
    int rc = hc_audit(ctx, o.p, &err) == CKR_OK ? 0 : -1;
    int saved = hc_via_agent(ctx) ? EIO : errno;
    free(o.p);
    errno = saved;
    return rc;
}
