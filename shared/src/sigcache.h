/*
 * sigcache.h: the signature cache, two tiers.
 *
 * Key: SHA-256(SPKI) | mechanism | SHA-256(mechanism parameter | data).
 * Value: the signature. Signatures and signed data are public, so the
 * cache holds no secret; only integrity matters, which is why entries read
 * from the persistent tier are verified (by the caller, with the public
 * key) before they are served or promoted to memory.
 *
 * - memory: a bounded LRU (capacity 0 disables it);
 * - disk: LMDB at DIR/signatures.mdb (mode 0600), shared by the processes
 *   of one user, surviving restarts. Written without fsync per entry (a
 *   cache, verified on read); synced at close. A file LMDB cannot open is
 *   moved aside and a fresh one started.
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
/* Unverified: the caller must verify before serving. */
bool hc_sigcache_get_disk(hc_sigcache_t *c, const unsigned char *key,
                          unsigned char *sig, size_t *len);
void hc_sigcache_put_mem(hc_sigcache_t *c, const unsigned char *key,
                         const unsigned char *sig, size_t len);
/* expires: Unix time after which the entry is dropped (0 = never). */
void hc_sigcache_put_disk(hc_sigcache_t *c, const unsigned char *key,
                          const unsigned char *sig, size_t len, int64_t expires);
void hc_sigcache_del_disk(hc_sigcache_t *c, const unsigned char *key);
/* Deletes disk entries that expired before `now`; returns how many. */
size_t hc_sigcache_purge(hc_sigcache_t *c, int64_t now);

#endif
