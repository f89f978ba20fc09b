/*
 * serial.c: the SSH certificate serial counter hsmcached keeps in its
 * cache dir (contract in issue.h). A serial is reserved (written and
 * fsync'ed, renamed into place, the directory fsync'ed) before the
 * certificate is signed: a crash between signing and saving loses a
 * number, never reuses one.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "util/err.h"
#include "issue.h"

static pthread_mutex_t serial_lock = PTHREAD_MUTEX_INITIALIZER;

/* The last serial in `path` (0 when there is none yet); -1 when the file
 * exists but cannot be read or holds anything but one decimal number. */
static int last_serial(const char *path, uint64_t *last)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        *last = 0;
        return errno == ENOENT ? 0 : -1;
    }
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 2 || buf[n - 1] != '\n')
        return -1;
    buf[n - 1] = '\0';
    for (ssize_t i = 0; i < n - 1; i++)
        if (buf[i] < '0' || buf[i] > '9')
            return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || *end || (buf[0] == '0' && buf[1]))
        return -1;
    *last = v;
    return 0;
}

static int write_serial(const char *dir, const char *path, uint64_t v)
{
    char tmp[PATH_MAX + 16], text[32];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int len = snprintf(text, sizeof text, "%" PRIu64 "\n", v);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    bool ok = write(fd, text, (size_t)len) == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ok = dfd >= 0 && fsync(dfd) == 0;
    if (dfd >= 0)
        close(dfd);
    return ok ? 0 : -1;
}

CK_RV agent_serial_reserve(const char *dir, uint64_t *serial, hc_err_t *err)
{
    char path[PATH_MAX], lock[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/%s", dir, AGENT_SERIAL_FILE);
    snprintf(lock, sizeof lock, "%s.lock", path);
    pthread_mutex_lock(&serial_lock);
    /* another hsmcached on the same cache dir: one at a time */
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    CK_RV rv = CKR_OK;
    uint64_t last = 0;
    if (lfd < 0 || flock(lfd, LOCK_EX) != 0)
        rv = hc_err(err, CKR_FUNCTION_FAILED,
                    "hsmcached: serial counter %s: cannot "
                    "lock: %s",
                    lock, strerror(errno));
    else if (last_serial(path, &last) != 0)
        rv = hc_err(err, CKR_FUNCTION_FAILED,
                    "hsmcached: serial counter %s: unreadable "
                    "or not one decimal number; no certificate is issued until it is "
                    "repaired",
                    path);
    else if (last == UINT64_MAX)
        rv = hc_err(err, CKR_FUNCTION_FAILED, "hsmcached: serial counter %s: exhausted", path);
    else if (write_serial(dir, path, last + 1) != 0)
        rv = hc_err(err, CKR_FUNCTION_FAILED,
                    "hsmcached: serial counter %s: cannot "
                    "be written: %s",
                    path, strerror(errno));
    if (lfd >= 0)
        close(lfd);
    pthread_mutex_unlock(&serial_lock);
    if (rv == CKR_OK)
        *serial = last + 1;
    return rv;
}
