/* validity.c: ssh-keygen's -V, read as each version's parse_cert_times()
 * reads it, to the certificate's valid_after/valid_before (contract in
 * keygen.h).
 *
 * "+TIME" alone: from ((now - 59) / 60) * 60 (a backdate of 59 to 118 s
 * for badly synchronised clocks) to now + TIME. Anything else must be
 * FROM:TO, each side "+TIME"/"-TIME" relative to now, YYYYMMDD[HHMM[SS]]
 * (local time; UTC with a Z or UTC suffix), or 0x<hex>; FROM may be
 * "always", TO "forever". A lone date, 0x value or -TIME is refused, as
 * is an empty interval. TIME is convtime()'s: numbers with an optional
 * unit s/m/h/d/w, at most INT_MAX seconds in all. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "keygen.h"

/* misc.c convtime(): seconds, or -1. */
static long long convtime(sshca_convtime_t how, const char *s)
{
    long long total = 0;
    if (!*s)
        return -1;
    while (*s) {
        const char *p = s;
        if (how == SSHCA_CONVTIME_STRTOL) {
            /* 9.2's strtol: leading blanks and a sign are taken; a
             * negative number is refused, "-0" is 0 */
            while (isspace((unsigned char)*p))
                p++;
            if (*p == '+' || *p == '-')
                p++;
        }
        bool negative = how == SSHCA_CONVTIME_STRTOL && p > s && p[-1] == '-';
        const char *digits = p;
        long long n = 0;
        for (; isdigit((unsigned char)*p); p++)
            if ((n = n * 10 + (*p - '0')) > INT_MAX)
                n = (long long)INT_MAX + 1; /* too big either way; keep scanning */
        if (p == digits || (negative && n != 0))
            return -1;
        long long mult = 1;
        switch (*p) {
        case '\0': break;
        case 's':
        case 'S': p++; break;
        case 'm':
        case 'M':
            mult = 60;
            p++;
            break;
        case 'h':
        case 'H':
            mult = 3600;
            p++;
            break;
        case 'd':
        case 'D':
            mult = 86400;
            p++;
            break;
        case 'w':
        case 'W':
            mult = 604800;
            p++;
            break;
        default: return -1;
        }
        if (n > INT_MAX / mult || total > INT_MAX - n * mult)
            return -1;
        total += n * mult;
        s = p;
    }
    return total;
}

/* parse_relative_time(): now +/- TIME; a start before the epoch is refused. */
static int relative(sshca_convtime_t how, const char *s, time_t now, uint64_t *t)
{
    long long secs = convtime(how, s + 1);
    if (secs < 0 || (*s == '-' && secs > (long long)now))
        return -1;
    *t = (uint64_t)now + (uint64_t)(*s == '-' ? -secs : secs);
    return 0;
}

/* parse_hex_u64(): "0x" then hex digits to the end, at most 2^64-1. */
static int hex64(const char *s, uint64_t *t)
{
    const char *p = s + 2;
    uint64_t v = 0;
    if (!*p)
        return -1;
    for (; *p; p++) {
        if (!isxdigit((unsigned char)*p) || v >> 60)
            return -1;
        v = v << 4 | (uint64_t)(isdigit((unsigned char)*p) ? *p - '0' : (*p | 0x20) - 'a' + 10);
    }
    *t = v;
    return 0;
}

/* misc.c parse_absolute_time(): the same strptime format on the same
 * reshaped text, then timegm (Z, UTC) or mktime with tm zeroed (so
 * tm_isdst 0); before the epoch is refused. */
static int absolute(const char *s, uint64_t *t)
{
    size_t l = strlen(s);
    bool utc = false;
    if (l > 1 && strcasecmp(s + l - 1, "Z") == 0) {
        utc = true;
        l--;
    } else if (l > 3 && strcasecmp(s + l - 3, "UTC") == 0) {
        utc = true;
        l -= 3;
    }
    char buf[32];
    const char *fmt;
    switch (l) {
    case 8:
        fmt = "%Y-%m-%d";
        snprintf(buf, sizeof buf, "%.4s-%.2s-%.2s", s, s + 4, s + 6);
        break;
    case 12:
        fmt = "%Y-%m-%dT%H:%M";
        snprintf(buf, sizeof buf, "%.4s-%.2s-%.2sT%.2s:%.2s", s, s + 4, s + 6, s + 8, s + 10);
        break;
    case 14:
        fmt = "%Y-%m-%dT%H:%M:%S";
        snprintf(buf, sizeof buf, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2s", s, s + 4, s + 6, s + 8, s + 10,
                 s + 12);
        break;
    default: return -1;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(buf, fmt, &tm);
    if (!end || *end)
        return -1;
    time_t tt = utc ? timegm(&tm) : mktime(&tm);
    if (tt < 0)
        return -1;
    *t = (uint64_t)tt;
    return 0;
}

static int side(const sshca_keygen_version_t *v, const char *s, time_t now, bool is_to, uint64_t *t)
{
    if (*s == '-' || *s == '+')
        return relative(v->convtime, s, now, t);
    if (strcmp(s, is_to ? "forever" : "always") == 0) {
        *t = is_to ? UINT64_MAX : 0;
        return 0;
    }
    if (strncmp(s, "0x", 2) == 0)
        return hex64(s, t);
    return absolute(s, t);
}

int sshca_validity(const sshca_keygen_version_t *v, const char *spec, time_t now, uint64_t *after,
                   uint64_t *before, bool *backdated, char *why, size_t size)
{
    const char *colon = strchr(spec, ':');
    if (*spec == '+' && !colon) {
        long long secs = convtime(v->convtime, spec + 1);
        if (secs < 0) {
            snprintf(why, size, "'%s' is not a time ssh-keygen %s reads", spec + 1, v->release);
            return -1;
        }
        *before = (uint64_t)now + (uint64_t)secs;
        *after = (uint64_t)(((long long)now - 59) / 60 * 60);
        *backdated = true;
        return 0;
    }
    if (!colon || colon == spec || !colon[1]) {
        snprintf(why, size,
                 "ssh-keygen takes +TIME or FROM:TO (a lone date, 0x "
                 "value or -TIME is refused)");
        return -1;
    }
    char from[256];
    size_t n = (size_t)(colon - spec);
    if (n >= sizeof from) {
        snprintf(why, size, "its start is longer than any time ssh-keygen reads");
        return -1;
    }
    memcpy(from, spec, n);
    from[n] = '\0';
    uint64_t a, b;
    if (side(v, from, now, false, &a) != 0) {
        snprintf(why, size, "the start '%s' is not a time ssh-keygen %s reads", from, v->release);
        return -1;
    }
    /* TO is everything after the first colon (a second colon makes it bad) */
    if (side(v, colon + 1, now, true, &b) != 0) {
        snprintf(why, size, "the end '%.100s' is not a time ssh-keygen %s reads", colon + 1,
                 v->release);
        return -1;
    }
    if (b <= a) {
        snprintf(why, size, "the interval is empty (ssh-keygen refuses it)");
        return -1;
    }
    *after = a;
    *before = b;
    *backdated = false;
    return 0;
}

static void one(uint64_t t, bool is_to, char *out, size_t size)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t == (is_to ? UINT64_MAX : 0))
        snprintf(out, size, "%s", is_to ? "forever" : "always");
    else if (t <= 253402300799ULL && gmtime_r(&tt, &tm)) /* up to 9999-12-31 */
        strftime(out, size, "%Y%m%d%H%M%SZ", &tm);
    else
        snprintf(out, size, "0x%llx", (unsigned long long)t);
}

void sshca_validity_format(uint64_t after, uint64_t before, char *out, size_t size)
{
    char a[24], b[24];
    one(after, false, a, sizeof a);
    one(before, true, b, sizeof b);
    snprintf(out, size, "%s:%s", a, b);
}
