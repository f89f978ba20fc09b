/* appendlog.c: appending one record to a log file whole (the SSH CA audit
 * log, written by the module's embedded core or by hsmcached). */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/appendlog.h"

int hc_append_line(const char *path, const char *line, size_t len)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    int rc = -1;
    struct iovec v[2] = { { (void *)line, len }, { "\n", 1 } };
    /* One write under flock: concurrent writers never interleave, and
     * fsync makes the record durable before the signature is released. */
    if (fd >= 0 && flock(fd, LOCK_EX) == 0 && writev(fd, v, 2) == (ssize_t)len + 1 &&
        fsync(fd) == 0)
        rc = 0;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    errno = saved;
    return rc;
}
