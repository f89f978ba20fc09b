/*
 * config_shared.c: the [shared-cache] section (config.h), the fleet's
 * signature tier on MariaDB. Every value is whitelisted: names that end
 * up in SQL (database) or in rows (node) hold only characters that need
 * no quoting. The password never passes through here: only the path of
 * the file holding it, whose owner and mode are checked at load (when
 * this process may look at it) and again when it is read.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/secretfile.h"

static bool refuse(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool refuse(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return false;
}

static bool only_chars(const char *v, const char *extra)
{
    for (const char *c = v; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr(extra, *c)))
            return false;
    return true;
}

static bool text(const char *v, const char *extra, const char *what, char *dst, size_t dsize,
                 char *why, size_t size)
{
    if (!v[0] || strlen(v) >= dsize || !only_chars(v, extra))
        return refuse(why, size,
                      "'%s' is not %s (1 to %zu of letters, digits "
                      "and '%s')",
                      v, what, dsize - 1, extra);
    strcpy(dst, v);
    return true;
}

static bool path(const char *v, char *dst, size_t dsize, char *why, size_t size)
{
    if (v[0] != '/')
        return refuse(why, size, "'%s' is not an absolute path", v);
    if (strlen(v) >= dsize)
        return refuse(why, size, "path longer than %zu characters", dsize - 1);
    strcpy(dst, v);
    return true;
}

static bool number(const char *v, unsigned long min, unsigned long max, unsigned *out, char *why,
                   size_t size)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || v[0] == '+' || n < min || n > max)
        return refuse(why, size, "'%s' is not a whole number from %lu to %lu", v, min, max);
    *out = (unsigned)n;
    return true;
}

/* The file must exist and pass the secret-file rules now if this process
 * can see it; one it may not look at (another service's) is left to the
 * read, where the same rules apply. */
static bool password_file(hc_shared_cfg_t *s, const char *v, char *why, size_t size)
{
    if (!path(v, s->password_file, sizeof s->password_file, why, size))
        return false;
    struct stat st;
    if (lstat(v, &st) != 0) {
        if (errno == EACCES)
            return true;
        return refuse(why, size, "%s: %s", v, strerror(errno));
    }
    hc_err_t err;
    if (hc_secret_check("password file", v, &st, &err) != CKR_OK)
        return refuse(why, size, "%s", err.msg);
    return true;
}

static bool endpoint_key(hc_db_endpoint_t *e, const char *k, const char *v, char *why, size_t size)
{
    if (!strcmp(k, "host"))
        return text(v, ".-:", "a host name or address", e->host, sizeof e->host, why, size);
    if (!strcmp(k, "port"))
        return number(v, 1, 65535, &e->port, why, size);
    return path(v, e->socket, sizeof e->socket, why, size); /* "socket" */
}

void hc_shared_cfg_defaults(hc_shared_cfg_t *s)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) == 0 && hc_valid_token_name(host))
        snprintf(s->node, sizeof s->node, "%s", host);
}

bool hc_shared_cfg_key(hc_shared_cfg_t *s, const char *k, const char *v, char *why, size_t size)
{
    if (!strcmp(k, "host") || !strcmp(k, "port") || !strcmp(k, "socket"))
        return endpoint_key(&s->write, k, v, why, size);
    if (!strcmp(k, "read-host") || !strcmp(k, "read-port") || !strcmp(k, "read-socket"))
        return endpoint_key(&s->read, k + 5, v, why, size);
    if (!strcmp(k, "database"))
        return text(v, "_", "a database name", s->database, sizeof s->database, why, size);
    if (!strcmp(k, "user"))
        return text(v, "_.-", "a user name", s->user, sizeof s->user, why, size);
    if (!strcmp(k, "password-file"))
        return password_file(s, v, why, size);
    if (!strcmp(k, "tls")) {
        if (!strcmp(v, "no") || !strcmp(v, "verify"))
            return s->tls = strcmp(v, "no") ? HC_TLS_VERIFY : HC_TLS_NO, true;
        if (!strcmp(v, "yes"))
            return refuse(why, size,
                          "'yes' (TLS without checking the server) is not "
                          "offered: libmariadb would log in in plain text to a server "
                          "without TLS; use verify (with tls-ca for a private CA)");
        return refuse(why, size,
                      "'%s' is not no or verify (TLS required, the server's "
                      "certificate checked)",
                      v);
    }
    if (!strcmp(k, "tls-ca"))
        return path(v, s->tls_ca, sizeof s->tls_ca, why, size);
    if (!strcmp(k, "read-timeout-ms"))
        return number(v, 1, 10000, &s->read_timeout_ms, why, size);
    if (!strcmp(k, "purge-interval")) {
        long long secs = hc_parse_duration(v);
        if (secs < 1 || secs > 7 * 86400)
            return refuse(why, size, "'%s' is not a duration from 1s to 7d (e.g. 1h)", v);
        s->purge_interval_s = (unsigned)secs;
        return true;
    }
    if (!strcmp(k, "node")) {
        if (!hc_valid_token_name(v))
            return refuse(why, size,
                          "'%s' is not a node name (1 to %d of letters, "
                          "digits, '.', '_', '-')",
                          v, HC_NAME_MAX);
        snprintf(s->node, sizeof s->node, "%s", v);
        return true;
    }
    return refuse(why, size, "not a key of this section"); /* config_keys.c has a row
                                                                 for each of the above */
}

static bool endpoint_check(const hc_db_endpoint_t *e, const char *pre, bool required, char *why,
                           size_t size)
{
    if (e->host[0] && e->socket[0])
        return refuse(why, size, "'%shost' and '%ssocket' both given: one of them", pre, pre);
    if (e->port && !e->host[0])
        return refuse(why, size, "'%sport' without '%shost'", pre, pre);
    if (required && !e->host[0] && !e->socket[0])
        return refuse(why, size,
                      "missing key '%shost' or '%ssocket' (where the "
                      "primary is)",
                      pre, pre);
    return true;
}

bool hc_shared_cfg_check(const hc_shared_cfg_t *s, char *why, size_t size)
{
    if (!endpoint_check(&s->write, "", true, why, size) ||
        !endpoint_check(&s->read, "read-", false, why, size))
        return false;
    if (!s->database[0])
        return refuse(why, size, "missing key 'database'");
    if (!s->user[0])
        return refuse(why, size, "missing key 'user'");
    if (!s->node[0])
        return refuse(why, size,
                      "missing key 'node': the host name is not "
                      "usable as one (letters, digits, '.', '_', '-')");
    if (s->tls_ca[0] && s->tls != HC_TLS_VERIFY)
        return refuse(why, size, "'tls-ca' given without tls = verify");
    return true;
}
