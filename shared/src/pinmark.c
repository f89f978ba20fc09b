/* pinmark.c: the on-disk "this PIN file version was rejected" mark. */
#include "pinmark.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static bool mark_dir(const char *dir, char *out, size_t size)
{
    if (!dir || !dir[0])
        return false;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return false;
    snprintf(out, size, "%s/pin-rejected", dir);
    return mkdir(out, 0700) == 0 || errno == EEXIST;
}

int hc_pinmark_lock(const char *dir, const char *token)
{
    char d[PATH_MAX], path[PATH_MAX + 80];
    if (!mark_dir(dir, d, sizeof d))
        return -1;
    snprintf(path, sizeof path, "%s/%s.lock", d, token);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

void hc_pinmark_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

static void format_version(const hc_pin_version_t *v, char *out, size_t size)
{
    snprintf(out, size, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 ".%"
             PRId64 " %" PRId64 ".%" PRId64, v->dev, v->ino, v->size,
             v->mtime_s, v->mtime_ns, v->ctime_s, v->ctime_ns);
}

bool hc_pinmark_matches(const char *dir, const char *token,
                        const hc_pin_version_t *ver, CK_RV *rv, time_t *when)
{
    char d[PATH_MAX], path[PATH_MAX + 80];
    if (!dir || !dir[0])
        return false;
    snprintf(d, sizeof d, "%s/pin-rejected", dir);
    snprintf(path, sizeof path, "%s/%s", d, token);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char line[256], want[256];
    format_version(ver, want, sizeof want);
    bool match = false;
    unsigned long r = 0;
    long long t = 0;
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        match = strncmp(line, "version ", 8) == 0 && strcmp(line + 8, want) == 0;
    }
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "rv %lx", &r);
        sscanf(line, "time %lld", &t);
    }
    fclose(f);
    if (rv)
        *rv = (CK_RV)r;
    if (when)
        *when = (time_t)t;
    return match;
}

bool hc_pinmark_set(const char *dir, const char *token,
                    const hc_pin_version_t *ver, CK_RV rv)
{
    char d[PATH_MAX], path[PATH_MAX + 80], tmp[PATH_MAX + 90], v[256];
    if (!mark_dir(dir, d, sizeof d))
        return false;
    snprintf(path, sizeof path, "%s/%s", d, token);
    snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", d, token);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return false;
    format_version(ver, v, sizeof v);
    char body[512];
    int n = snprintf(body, sizeof body, "version %s\nrv %lx\ntime %lld\n", v,
                     (unsigned long)rv, (long long)time(NULL));
    bool ok = n > 0 && write(fd, body, (size_t)n) == n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    if (!ok)
        unlink(tmp);
    return ok;
}

void hc_pinmark_clear(const char *dir, const char *token)
{
    char path[PATH_MAX + 100];
    if (!dir || !dir[0])
        return;
    snprintf(path, sizeof path, "%s/pin-rejected/%s", dir, token);
    unlink(path);
}
