/*
 * sigcache.h: the signature cache: memory, local disk, and optionally the
 * fleet's shared tier (sharedtier.h), in that lookup order.
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
 * - shared ([shared-cache], hc_sigcache_set_shared): asked on a disk miss.
 *   Its rows come from other machines, so hc_sigcache_get_disk returns
 *   them as HC_DISK_LEGACY: unverified. The caller's next step for that
 *   key tells the tier the outcome: hc_sigcache_put_disk with the same
 *   signature (it verified: a hit, now tagged locally) or
 *   hc_sigcache_del_disk (it did not: counted forged, never served). A
 *   signature put for any other reason (the HSM made it) is queued for
 *   the shared tier.
 *
 * Thread-safe.
 */
#ifndef HC_SIGCACHE_H
#define HC_SIGCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmcache.h"
#include "util/log.h"
#include "core/sharedtier.h"

#define HC_CACHE_KEY_LEN 72

typedef struct hc_sigcache hc_sigcache_t;

/* dir NULL: memory only. Failing to open the disk tier is not fatal: it
 * is logged and the cache runs memory-only. */
hc_sigcache_t *hc_sigcache_new(size_t mem_entries, const char *dir, size_t disk_mb,
                               const hc_logger_t *log);
void hc_sigcache_free(hc_sigcache_t *c);
/* Adds the shared tier below the disk tier; the cache owns it from then on
 * (freed with it). Call once, before the cache is used by other threads;
 * NULL is ignored. */
void hc_sigcache_set_shared(hc_sigcache_t *c, hc_sharedtier_t *t);
/* The shared tier, or NULL (none configured, or it could not start). */
hc_sharedtier_t *hc_sigcache_shared(const hc_sigcache_t *c);
bool hc_sigcache_has_disk(const hc_sigcache_t *c);

void hc_sigcache_key(const unsigned char spki_hash[32], const CK_MECHANISM *mech,
                     const unsigned char *data, size_t len, unsigned char key[HC_CACHE_KEY_LEN]);

/* *len: buffer size in, signature size out. */
bool hc_sigcache_get_mem(hc_sigcache_t *c, const unsigned char *key, unsigned char *sig,
                         size_t *len);
typedef enum {
    HC_DISK_MISS,     /* no live entry (or no disk tier, or *len too small) */
    HC_DISK_HIT,      /* tag checked: serve it */
    HC_DISK_LEGACY,   /* not proven ours (an untagged older entry, or a row
                         of the shared tier): verify it with the public key
                         before serving, then hc_sigcache_put_disk it with
                         *expires to tag it; hc_sigcache_del_disk it if the
                         verification fails */
    HC_DISK_REJECTED, /* tag wrong or entry cut short: already deleted; the
                         caller counts it and signs anew */
} hc_disk_get_t;

/* *len: buffer size in, signature size out; *expires set on HIT/LEGACY. */
hc_disk_get_t hc_sigcache_get_disk(hc_sigcache_t *c, const unsigned char *key, unsigned char *sig,
                                   size_t *len, int64_t *expires);
void hc_sigcache_put_mem(hc_sigcache_t *c, const unsigned char *key, const unsigned char *sig,
                         size_t len);
/* expires: Unix time after which the entry is dropped (0 = never). */
void hc_sigcache_put_disk(hc_sigcache_t *c, const unsigned char *key, const unsigned char *sig,
                          size_t len, int64_t expires);
void hc_sigcache_del_disk(hc_sigcache_t *c, const unsigned char *key);
/* Deletes disk entries that expired before `now`; returns how many. */
size_t hc_sigcache_purge(hc_sigcache_t *c, int64_t now);

#endif
