/*
 * secretfile.c: reading a secret from a file only its owner may read
 * (secretfile.h). The PIN store (pinstore.c) has its own rules: a PIN file
 * may be group-readable in the root-owned service-group layout.
 */
#include "util/secretfile.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"

CK_RV hc_secret_check(const char *what, const char *path, const struct stat *st, hc_err_t *err)
{
    if (S_ISLNK(st->st_mode))
        return hc_err(err, CKR_GENERAL_ERROR,
                      "%s %s is a symlink; refused "
                      "(replace it with a regular file)",
                      what, path);
    if (!S_ISREG(st->st_mode))
        return hc_err(err, CKR_GENERAL_ERROR,
                      "%s %s is not a regular file; "
                      "refused",
                      what, path);
    if (st->st_uid != 0 && st->st_uid != geteuid())
        return hc_err(err, CKR_GENERAL_ERROR,
                      "%s %s is owned by uid %u, neither "
                      "root nor this process's user (uid %u); refused (fix: chown "
                      "%u %s)",
                      what, path, (unsigned)st->st_uid, (unsigned)geteuid(), (unsigned)geteuid(),
                      path);
    if (st->st_mode & 077)
        return hc_err(err, CKR_GENERAL_ERROR,
                      "%s %s has mode %04o: group or "
                      "others may read or write it; refused (fix: chmod 600 %s)",
                      what, path, (unsigned)(st->st_mode & 07777), path);
    return CKR_OK;
}

CK_RV hc_secret_read(const char *what, const char *path, unsigned char *buf, size_t size,
                     size_t *len, hc_err_t *err)
{
    *len = 0;
    struct stat st;
    if (lstat(path, &st) != 0)
        return hc_err(err, CKR_GENERAL_ERROR, "%s %s: %s", what, path, strerror(errno));
    CK_RV rv = hc_secret_check(what, path, &st, err);
    if (rv != CKR_OK)
        return rv;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return hc_err(err, CKR_GENERAL_ERROR, "%s %s: %s", what, path, strerror(errno));
    if (fstat(fd, &st) != 0 || (rv = hc_secret_check(what, path, &st, err)) != CKR_OK) {
        close(fd);
        return rv != CKR_OK
                   ? rv
                   : hc_err(err, CKR_GENERAL_ERROR, "%s %s: %s", what, path, strerror(errno));
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rv = hc_err(err, CKR_GENERAL_ERROR, "%s %s: %s", what, path, strerror(errno));
            break;
        }
        if (r == 0 || (n += (size_t)r) == size)
            break;
    }
    close(fd);
    if (rv == CKR_OK && n == size)
        rv = hc_err(err, CKR_GENERAL_ERROR, "%s %s: longer than %zu bytes; refused", what, path,
                    size - 1);
    if (rv == CKR_OK && n > 0 && buf[n - 1] == '\n')
        n--;
    if (rv == CKR_OK && n > 0 && buf[n - 1] == '\r')
        n--;
    if (rv == CKR_OK && n == 0)
        rv = hc_err(err, CKR_GENERAL_ERROR, "%s %s is empty; refused", what, path);
    if (rv != CKR_OK) {
        OPENSSL_cleanse(buf, size);
        return rv;
    }
    *len = n;
    return CKR_OK;
}
