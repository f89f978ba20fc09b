/* audit.c: one JSON object per line per signing attempt (written with
 * libjansson), appended with O_APPEND under an exclusive flock and
 * fsync'ed, so concurrent signers never interleave and a crash loses at
 * most the line being written. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "jsonline.h"
#include "sshca.h"
#include "sshkey.h"

/* A JSON string for `s` (null when NULL). Arguments come from the
 * command line and files, in any encoding: bytes that are not UTF-8 are
 * written as the text \xNN, so the record stays valid JSON and still
 * shows what was given. */
static json_t *text(const char *s)
{
    if (!s)
        return json_null();
    json_t *v = json_string(s);
    if (v)
        return v;
    size_t n = strlen(s);
    char *fixed = malloc(4 * n + 1);
    if (!fixed)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t len = 1;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            /* the longest valid UTF-8 sequence here, else one byte */
            len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
            json_t *probe = len <= n - i ? json_stringn(s + i, len) : NULL;
            if (!probe)
                len = 0;
            json_decref(probe);
        }
        if (len == 0) {
            k += (size_t)sprintf(fixed + k, "\\x%02x", c);
            i++;
        } else {
            memcpy(fixed + k, s + i, len);
            k += len;
            i += len;
        }
    }
    fixed[k] = '\0';
    v = json_string(fixed);
    free(fixed);
    return v;
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
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    struct passwd *pw = getpwuid(getuid());
    char *subj, *subj_fp;
    subject(subject_file, &subj, &subj_fp);
    json_t *options = json_array();
    for (size_t i = 0; options && i < a->noptions; i++)
        json_array_append_new(options, text(a->options[i]));
    /* The fields in this order are what hsmcached accepts from the module
     * (shared/agent/audit_record.c): a change here is a change there. */
    json_t *o = json_pack("{s:o, s:I, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:b,"
                          " s:o, s:o, s:o, s:o, s:o, s:o}",
                          "time", text(when),
                          "uid", (json_int_t)getuid(),
                          "user", text(pw ? pw->pw_name : NULL),
                          "pid", (json_int_t)getpid(),
                          "host", text(a->program),
                          "identity", text(a->identity),
                          "principals", text(a->principals),
                          "validity", text(a->validity),
                          "serial", text(a->serial),
                          "options", options,
                          "host_certificate", a->host_cert,
                          "key_file", text(subject_file),
                          "public_key", text(subj),
                          "public_key_fingerprint", text(subj_fp),
                          "ca_key", text(key ? key->uri : NULL),
                          "ca_fingerprint", text(key ? key->fingerprint : NULL),
                          "result", text(result));
    free(subj);
    free(subj_fp);
    /* Compact, in this order, every non-ASCII and control character
     * (DEL too) escaped: one line of printable ASCII. */
    char *line = o ? hc_json_escape_del(json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII)) : NULL;
    json_decref(o);
    if (!line) {
        errno = ENOMEM;
        return -1;
    }
    /* Embedded, the core appends to [sshca] audit-log; with hsmcached, the
     * agent appends to its own (this process may not be able to write it)
     * with the uid and pid it verified. */
    hc_err_t err;
    int rc = hc_audit(ctx, line, &err) == CKR_OK ? 0 : -1;
    int saved = hc_via_agent(ctx) ? EIO : errno;
    free(line);
    errno = saved;
    return rc;
}
