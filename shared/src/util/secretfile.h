/*
 * secretfile.h: a secret kept in a file of its own, such as the shared
 * signature tier's database password ([shared-cache] password-file).
 *
 * The file is refused, with the path and the fix, when it is a symlink,
 * not a regular file, owned by anyone but root or the process's user, or
 * open to group or others in any way (mode & 077): unlike a PIN file
 * there is no group-readable layout, the password is read by one service
 * user. The bytes are read into the caller's buffer, which the caller
 * wipes with OPENSSL_cleanse; they are never logged.
 *
 * Thread-safe (no shared state).
 */
#ifndef HC_SECRETFILE_H
#define HC_SECRETFILE_H

#include <stddef.h>
#include <sys/stat.h>

#include "hsmcache.h"

/* The ownership and mode rules on `st` (from lstat or fstat of `path`):
 * CKR_OK, or CKR_GENERAL_ERROR with err naming `what` (e.g. "password
 * file"), the path and the fix. */
CK_RV hc_secret_check(const char *what, const char *path, const struct stat *st, hc_err_t *err);

/* Reads the file (checked before opening and again on the open file, so a
 * swapped path is caught) into buf; one trailing newline (and CR) is not
 * part of the secret. Refuses an empty file and one of `size` bytes or
 * more. On failure buf holds nothing of the secret. */
CK_RV hc_secret_read(const char *what, const char *path, unsigned char *buf, size_t size,
                     size_t *len, hc_err_t *err);

#endif
