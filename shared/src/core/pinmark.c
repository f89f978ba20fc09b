/* pinmark.c: the on-disk "this PIN was rejected" mark and its lock. */
#include "core/pinmark.h"

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

#include "util/clock.h"

static void say(char *why, size_t size, const char *path, const char *what)
{
    if (why && size)
        snprintf(why, size, "%s: %s", path, what);
}

/* Whether DIR is group-shared (setgid): then marks are for the group. */
static bool shared_dir(const char *dir)
{
    struct stat sb;
    return stat(dir, &sb) == 0 && (sb.st_mode & S_ISGID);
}

/* DIR/pin-rejected into `out`, created if missing; false with `why`. */
static bool mark_dir(const char *dir, char *out, size_t size, char *why, size_t whysize)
{
    if (!dir || !dir[0]) {
        say(why, whysize, "(empty)", "no cache-dir configured");
        return false;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        say(why, whysize, dir, strerror(errno));
        return false;
    }
    bool group = shared_dir(dir);
    snprintf(out, size, "%s/pin-rejected", dir);
    if (mkdir(out, 0700) == 0) {
        if (group)
            chmod(out, 02770);
    } else if (errno != EEXIST) {
        say(why, whysize, out, strerror(errno));
        return false;
    }
    struct stat sb;
    if (lstat(out, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        say(why, whysize, out, "not a directory");
        return false;
    }
    /* The lock file may exist while the directory is read-only: then a
     * rejection could not be recorded, so nothing may be tried. */
    if (faccessat(AT_FDCWD, out, W_OK | X_OK, AT_EACCESS) != 0) {
        say(why, whysize, out, strerror(errno));
        return false;
    }
    return true;
}

/* Takes the lock, waiting forever (wait_ms < 0) or at most wait_ms. */
static int lock_mark(const char *dir, const char *token, long wait_ms, char *why, size_t whysize)
{
    char d[PATH_MAX], path[PATH_MAX + 80];
    if (!mark_dir(dir, d, sizeof d, why, whysize))
        return -1;
    snprintf(path, sizeof path, "%s/%s.lock", d, token);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        say(why, whysize, path, strerror(errno));
        return -1;
    }
    if (shared_dir(dir))
        fchmod(fd, 0660); /* fails harmlessly when another member owns it */
    uint64_t until = wait_ms < 0 ? 0 : hc_now_ms() + (uint64_t)wait_ms;
    while (flock(fd, wait_ms < 0 ? LOCK_EX : LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK && hc_now_ms() < until) {
            usleep(10000);
            continue;
        }
        if (errno != EINTR) {
            say(why, whysize, path,
                errno == EWOULDBLOCK ? "still locked by another login" : strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

int hc_pinmark_lock(const char *dir, const char *token, char *why, size_t whysize)
{
    return lock_mark(dir, token, -1, why, whysize);
}

int hc_pinmark_lock_within(const char *dir, const char *token, unsigned wait_ms, char *why,
                           size_t whysize)
{
    return lock_mark(dir, token, wait_ms, why, whysize);
}

void hc_pinmark_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

static void format_version(const hc_pin_version_t *v, char *out, size_t size)
{
    snprintf(out, size,
             "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 ".%" PRId64 " %" PRId64 ".%" PRId64,
             v->dev, v->ino, v->size, v->mtime_s, v->mtime_ns, v->ctime_s, v->ctime_ns);
}

int hc_pinmark_read(const char *dir, const char *token, const hc_pin_version_t *ver, CK_RV *rv,
                    time_t *when, char *why, size_t whysize)
{
    return hc_pinmark_read_id(dir, token, ver, rv, when, NULL, why, whysize);
}

int hc_pinmark_read_id(const char *dir, const char *token, const hc_pin_version_t *ver, CK_RV *rv,
                       time_t *when, uint64_t *id, char *why, size_t whysize)
{
    char path[PATH_MAX + 100];
    if (!dir || !dir[0]) {
        say(why, whysize, "(empty)", "no cache-dir configured");
        return -1;
    }
    snprintf(path, sizeof path, "%s/pin-rejected/%s", dir, token);
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        say(why, whysize, path, strerror(errno));
        return -1;
    }
    char line[256], want[256];
    format_version(ver, want, sizeof want);
    bool match = false;
    unsigned long r = 0;
    long long t = 0;
    unsigned long long n = 0;
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        match = strncmp(line, "version ", 8) == 0 && strcmp(line + 8, want) == 0;
    }
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "rv %lx", &r);
        sscanf(line, "time %lld", &t);
        sscanf(line, "id %llx", &n);
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        say(why, whysize, path, "read error");
        return -1;
    }
    if (rv)
        *rv = (CK_RV)r;
    if (when)
        *when = (time_t)t;
    if (id)
        *id = n;
    return match ? 1 : 0;
}

bool hc_pinmark_matches(const char *dir, const char *token, const hc_pin_version_t *ver, CK_RV *rv,
                        time_t *when)
{
    return hc_pinmark_read(dir, token, ver, rv, when, NULL, 0) == 1;
}

bool hc_pinmark_set(const char *dir, const char *token, const hc_pin_version_t *ver, CK_RV rv)
{
    return hc_pinmark_set_id(dir, token, ver, rv, 0);
}

bool hc_pinmark_set_id(const char *dir, const char *token, const hc_pin_version_t *ver, CK_RV rv,
                       uint64_t id)
{
    char d[PATH_MAX], path[PATH_MAX + 80], tmp[PATH_MAX + 90], v[256];
    if (!mark_dir(dir, d, sizeof d, NULL, 0))
        return false;
    snprintf(path, sizeof path, "%s/%s", d, token);
    snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", d, token);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return false;
    if (shared_dir(dir))
        fchmod(fd, 0660);
    format_version(ver, v, sizeof v);
    char body[512];
    int n = snprintf(body, sizeof body, "version %s\nrv %lx\ntime %lld\nid %llx\n", v,
                     (unsigned long)rv, (long long)time(NULL), (unsigned long long)id);
    bool ok = n > 0 && write(fd, body, (size_t)n) == n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    if (!ok)
        unlink(tmp);
    return ok;
}

int hc_pinmark_clear(const char *dir, const char *token)
{
    char path[PATH_MAX + 100];
    if (!dir || !dir[0]) {
        errno = ENOENT;
        return -1;
    }
    snprintf(path, sizeof path, "%s/pin-rejected/%s", dir, token);
    return unlink(path);
}
