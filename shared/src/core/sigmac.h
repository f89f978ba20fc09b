/*
 * sigmac.h: the integrity tag of the local signature store.
 *
 * Entries of the local LMDB tier carry an HMAC-SHA256 tag, truncated to
 * 128 bits, over (format version, cache key, expiry, signature), keyed by
 * a 32-byte secret in DIR/signatures.key. Whoever can read the secret can
 * also write the store (both belong to the same user, mode 0600), so the
 * tag proves an entry was written by a process of that user and has not
 * been altered or cut since: a copy or an edit by anyone else, a torn
 * write, or bytes from another store fail it. Checking a tag costs about
 * a third of a microsecond, against ~46 us for an ECDSA verify; entries
 * that cross machines (a shared tier) are verified with the public key
 * instead, because they were not made with this secret.
 */
#ifndef HC_SIGMAC_H
#define HC_SIGMAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/log.h"

#define HC_SIGMAC_LEN 16
#define HC_SIGMAC_SECRET_LEN 32

typedef struct hc_sigmac hc_sigmac_t;

/* Reads DIR/signatures.key, creating it on first use (32 bytes from the
 * OS's random source, mode 0600, created whole: written to a temporary
 * file and linked into place, so a process racing to create it reads
 * either nothing or the winner's complete secret). Returns NULL, with a
 * warning naming the path and the fix, when the file is a symlink or not
 * a regular file, is not owned by this process's user, can be read or
 * written by group or others, or does not hold exactly 32 bytes: the
 * caller then runs without the disk tier (fail closed). */
hc_sigmac_t *hc_sigmac_open(const char *dir, const hc_logger_t *log);
void hc_sigmac_free(hc_sigmac_t *m);

/* Writes the tag of one entry. False only if OpenSSL fails (the entry
 * must then be neither written nor served). Thread-safe: one internal
 * lock held for the few hundred nanoseconds of the computation. */
bool hc_sigmac_tag(hc_sigmac_t *m, uint32_t version, const unsigned char *key, size_t key_len,
                   int64_t expires, const unsigned char *sig, size_t sig_len,
                   unsigned char tag[HC_SIGMAC_LEN]);

/* True if `tag` is the entry's tag (constant-time comparison). */
bool hc_sigmac_check(hc_sigmac_t *m, uint32_t version, const unsigned char *key, size_t key_len,
                     int64_t expires, const unsigned char *sig, size_t sig_len,
                     const unsigned char tag[HC_SIGMAC_LEN]);

#endif
