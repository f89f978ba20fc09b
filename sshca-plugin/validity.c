/* validity.c: ssh-keygen's -V validity interval, to check max-validity.
 * Forms: "TO" or "FROM:TO"; each side "always"/"forever", a relative
 * "+1w2d"/"-4w" (units s m h d w, none = seconds), an absolute
 * YYYYMMDD[HHMM[SS]] (in the local time zone, as ssh-keygen's mktime
 * reads it; UTC with a trailing Z or UTC), or 0x<hex seconds>. A lone TO
 * starts now. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sshca.h"

/* "1w2d3h": seconds, or -1. */
static long long interval(const char *s, size_t n)
{
    long long total = 0;
    size_t i = 0;
    if (n == 0)
        return -1;
    while (i < n) {
        long long v = 0;
        size_t start = i;
        while (i < n && isdigit((unsigned char)s[i])) {
            if (v > LLONG_MAX / 10)
                return -1;
            v = v * 10 + (s[i++] - '0');
        }
        if (i == start)
            return -1;
        long long mult = 1;
        if (i < n) {
            switch (s[i]) {
            case 's': case 'S': mult = 1; break;
            case 'm': case 'M': mult = 60; break;
            case 'h': case 'H': mult = 3600; break;
            case 'd': case 'D': mult = 86400; break;
            case 'w': case 'W': mult = 604800; break;
            default: return -1;
            }
            i++;
        }
        if (v > (LLONG_MAX - total) / mult)
            return -1;
        total += v * mult;
    }
    return total;
}

static int absolute(const char *s, size_t n, long long *out)
{
    bool utc = true;
    if (n > 1 && (s[n - 1] == 'Z' || s[n - 1] == 'z'))
        n--;
    else if (n > 3 && !strncasecmp(s + n - 3, "UTC", 3))
        n -= 3;
    else
        utc = false;
    if (n != 8 && n != 12 && n != 14)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return -1;
    struct tm tm = { 0 };
    char part[5] = { 0 };
    memcpy(part, s, 4); tm.tm_year = atoi(part) - 1900;
    part[2] = '\0';
    memcpy(part, s + 4, 2); tm.tm_mon = atoi(part) - 1;
    memcpy(part, s + 6, 2); tm.tm_mday = atoi(part);
    if (n >= 12) {
        memcpy(part, s + 8, 2); tm.tm_hour = atoi(part);
        memcpy(part, s + 10, 2); tm.tm_min = atoi(part);
    }
    if (n == 14) {
        memcpy(part, s + 12, 2); tm.tm_sec = atoi(part);
    }
    /* ssh-keygen's parse_absolute_time: tm zeroed (tm_isdst 0), mktime. */
    *out = (long long)(utc ? timegm(&tm) : mktime(&tm));
    return 0;
}

static int one_time(const char *s, size_t n, time_t now, bool is_end, long long *out)
{
    if ((n == 6 && !strncmp(s, "always", 6)) || (n == 7 && !strncmp(s, "forever", 7))) {
        *out = is_end ? LLONG_MAX : LLONG_MIN;
        return 0;
    }
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        char tmp[32];
        if (n >= sizeof tmp)
            return -1;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        char *end;
        *out = strtoll(tmp, &end, 16);
        return *end ? -1 : 0;
    }
    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        long long d = interval(s + 1, n - 1);
        if (d < 0)
            return -1;
        *out = s[0] == '+' ? (long long)now + d : (long long)now - d;
        return 0;
    }
    return absolute(s, n, out);
}

int sshca_validity(const char *spec, time_t now, long long *from, long long *to)
{
    const char *colon = strchr(spec, ':');
    if (!colon) {
        *from = (long long)now;
        return one_time(spec, strlen(spec), now, true, to);
    }
    if (one_time(spec, (size_t)(colon - spec), now, false, from) != 0 ||
        one_time(colon + 1, strlen(colon + 1), now, true, to) != 0)
        return -1;
    return 0;
}
