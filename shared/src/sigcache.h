/*
 * sigcache.h: the signature cache, two tiers.
 *
 * Key: SHA-256(SPKI) | mechanism | SHA-256(mechanism parameter | data).
 * Value: the signature. Signatures and signed data are public, so the
 * cache holds no secret; only integrity matters: an entry read from the
 * persistent tier is served only if its tag (sigmac.h) proves it was
 * written by this user's processes and is intact; an entry of the older,
 * untagged format is returned as unverified, for the caller to verify
 * with the public key once and write back tagged.
 *
 * - memory: a bounded LRU (capacity 0 disables it);
 * - disk: LMDB at DIR/signatures.mdb (mode 0600), shared by the processes
 *   of one user, surviving restarts, keyed by DIR/signatures.key. Written
 *   without fsync per entry (a cache, checked on read); synced at close.
 *   A file LMDB cannot open is moved aside and a fresh one started; no
 *   usable secret means no disk tier (memory only, logged).
 *
 * Thread-safe.
 */
#ifndef HC_SIGCACHE_H
#define HC_SIGCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmcache.h"
#include "log.h"

#define HC_CACHE_KEY_LEN 72

typedef struct hc_sigcache hc_sigcache_t;

/* dir NULL: memory only. Failing to open the disk tier is not fatal: it
 * is logged and the cache runs memory-only. */
hc_sigcache_t *hc_sigcache_new(size_t mem_entries, const char *dir,
                               size_t disk_mb, const hc_logger_t *log);
void hc_sigcache_free(hc_sigcache_t *c);
bool hc_sigcache_has_disk(const hc_sigcache_t *c);

void hc_sigcache_key(const unsigned char spki_hash[32],
                     const CK_MECHANISM *mech, const unsigned char *data,
                     size_t len, unsigned char key[HC_CACHE_KEY_LEN]);

/* *len: buffer size in, signature size out. */
bool hc_sigcache_get_mem(hc_sigcache_t *c, const unsigned char *key,
                         unsigned char *sig, size_t *len);
typedef enum {
    HC_DISK_MISS,     /* no live entry (or no disk tier, or *len too small) */
    HC_DISK_HIT,      /* tag checked: serve it */
    HC_DISK_LEGACY,   /* untagged older entry: verify it with the public key
                         before serving, then hc_sigcache_put_disk it again
                         with *expires to tag it; delete it if it fails */
    HC_DISK_REJECTED, /* tag wrong or entry cut short: already deleted; the
                         caller counts it and signs anew */
} hc_disk_get_t;

/* *len: buffer size in, signature size out; *expires set on HIT/LEGACY. */
hc_disk_get_t hc_sigcache_get_disk(hc_sigcache_t *c, const unsigned char *key,
                                   unsigned char *sig, size_t *len, int64_t *expires);
void hc_sigcache_put_mem(hc_sigcache_t *c, const unsigned char *key,
                         const unsigned char *sig, size_t len);
/* expires: Unix time after which the entry is dropped (0 = never). */
void hc_sigcache_put_disk(hc_sigcache_t *c, const unsigned char *key,
                          const unsigned char *sig, size_t len, int64_t expires);
void hc_sigcache_del_disk(hc_sigcache_t *c, const unsigned char *key);
/* Deletes disk entries that expired before `now`; returns how many. */
size_t hc_sigcache_purge(hc_sigcache_t *c, int64_t now);

#endif
