/* audit.c: one JSON object per line per signing attempt (written with
 * libjansson), appended with O_APPEND under an exclusive flock and
 * fsync'ed, so concurrent signers never interleave and a crash loses at
 * most the line being written. Its fields are audit_fields.h's, which
 * hsmcached checks against; their values are the certificate's. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "audit_fields.h"
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

/* The certificate's options as -O arguments (see audit_fields.h). */
static json_t *options_of(const sshca_request_t *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < r->noptions; i++) {
        char *t = sshca_certopt_text(&r->options[i]);
        if (!t || json_array_append_new(arr, text(t)) != 0) {
            free(t);
            json_decref(arr);
            return NULL;
        }
        free(t);
    }
    return arr;
}

static json_t *principals_of(const sshca_request_t *r)
{
    if (r->nprincipals == 0)
        return json_null();
    size_t len = 0;
    for (size_t i = 0; i < r->nprincipals; i++)
        len += strlen(r->principals[i]) + 1;
    char *joined = malloc(len), *p = joined;
    if (!joined)
        return NULL;
    for (size_t i = 0; i < r->nprincipals; i++)
        p = stpcpy(p, r->principals[i]), *p++ = ',';
    p[-1] = '\0';
    json_t *v = text(joined);
    free(joined);
    return v;
}

int sshca_audit(hc_ctx_t *ctx, const char *log, const sshca_caller_t *who, const sshca_args_t *a,
                const sshca_key_t *key, size_t index, const char *result)
{
    char when[32], validity[48], serial[24];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    /* What ssh-keygen puts in the certificate, when its arguments were
     * read; nothing of it otherwise (the refusal says why). */
    const sshca_request_t *r = a->parsed && a->req.certify ? &a->req : NULL;
    const char *file = r && index < r->nfiles ? r->files[index] : NULL;
    if (r) {
        sshca_validity_format(r->valid_after, r->valid_before, validity, sizeof validity);
        snprintf(serial, sizeof serial, "%llu", (unsigned long long)sshca_request_serial(r, index));
    }
    char *subj, *subj_fp;
    subject(file, &subj, &subj_fp);
    json_t *o = json_object();
    for (int f = 0; o && f < HC_AUDIT_NFIELDS; f++) {
        json_t *v = NULL;
        switch ((hc_audit_field_t)f) {
        case HC_AUDIT_F_time: v = text(when); break;
        case HC_AUDIT_F_uid: v = json_integer((json_int_t)who->uid); break;
        case HC_AUDIT_F_user: v = text(who->user[0] ? who->user : NULL); break;
        case HC_AUDIT_F_pid: v = json_integer((json_int_t)getpid()); break;
        case HC_AUDIT_F_host: v = text(a->program); break;
        case HC_AUDIT_F_identity: v = text(r ? r->key_id : NULL); break;
        case HC_AUDIT_F_principals: v = r ? principals_of(r) : json_null(); break;
        case HC_AUDIT_F_validity: v = text(r ? validity : NULL); break;
        case HC_AUDIT_F_serial: v = text(r ? serial : NULL); break;
        case HC_AUDIT_F_options: v = r ? options_of(r) : json_array(); break;
        case HC_AUDIT_F_host_certificate: v = json_boolean(r && r->host); break;
        case HC_AUDIT_F_key_file: v = text(file); break;
        case HC_AUDIT_F_public_key: v = text(subj); break;
        case HC_AUDIT_F_public_key_fingerprint: v = text(subj_fp); break;
        case HC_AUDIT_F_ca_key: v = text(key ? key->uri : NULL); break;
        case HC_AUDIT_F_ca_fingerprint: v = text(key ? key->fingerprint : NULL); break;
        case HC_AUDIT_F_result: v = text(result); break;
        case HC_AUDIT_NFIELDS: break;
        }
        if (!v || json_object_set_new(o, hc_audit_fields[f].name, v) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
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
    /* Embedded, the core appends to `log`; with hsmcached, the agent
     * appends to its own (this process may not be able to write it) with
     * the uid and pid it verified. */
    hc_err_t err;
    int rc = hc_audit(ctx, log, line, &err) == CKR_OK ? 0 : -1;
    int saved = hc_via_agent(ctx) ? EIO : errno;
    free(line);
    errno = saved;
    return rc;
}
