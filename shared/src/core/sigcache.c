/*
 * sigcache.c: in-memory LRU and the LMDB persistent tier.
 *
 * Disk entry, format 2: version u32 | 0 u32 | expires i64 | tag[16] | sig.
 * The tag is sigmac.h's HMAC over version, cache key, expiry and
 * signature. Format 1 (no tag: version | 0 | expires | sig) was written
 * by hsmcache before 2026-11; such an entry is handed to the caller as
 * unverified, checked once with the public key and rewritten in format 2.
 *
 * The shared tier's rows are handed out the same way (unverified); which
 * keys were handed out so is remembered in `pending` (a small table, a
 * newer key evicting an older one in its slot) until the caller's
 * put_disk or del_disk for that key says how the verification went.
 */
#include "core/sigcache.h"

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/sigmac.h"
#include "core/swcrypto.h"

#define DISK_VERSION 2u
#define LEGACY_VERSION 1u
#define HEAD_LEN 16                     /* version, padding, expires */
#define TAGGED_LEN (HEAD_LEN + HC_SIGMAC_LEN)
#define PENDING_SLOTS 256

/* A shared row handed out unverified (see the file comment). */
struct pending {
    bool used;
    unsigned char key[HC_CACHE_KEY_LEN];
    size_t len;
    unsigned char sig[HC_MAX_SIG];
    char node[HC_NAME_MAX + 1];
};

struct lru_ent {
    unsigned char key[HC_CACHE_KEY_LEN];
    struct lru_ent *prev, *next; /* recency list, most recent first */
    struct lru_ent *chain;       /* hash bucket */
    size_t len;
    unsigned char sig[];
};

struct hc_sigcache {
    const hc_logger_t *log;
    pthread_mutex_t lock;
    size_t cap, count, nbuckets;
    struct lru_ent **buckets;
    struct lru_ent *head, *tail;
    MDB_env *env;
    MDB_dbi dbi;
    hc_sigmac_t *mac; /* set whenever env is */
    bool disk_full_warned;
    hc_sharedtier_t *shared; /* NULL: no shared tier */
    struct pending *pending; /* PENDING_SLOTS, with shared; under lock */
};

void hc_sigcache_key(const unsigned char spki_hash[32], const CK_MECHANISM *mech,
                     const unsigned char *data, size_t len, unsigned char key[HC_CACHE_KEY_LEN])
{
    memcpy(key, spki_hash, 32);
    uint64_t m = mech->mechanism;
    for (int i = 0; i < 8; i++)
        key[32 + i] = (unsigned char)(m >> (56 - 8 * i));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 32;
    uint64_t plen = mech->pParameter ? mech->ulParameterLen : 0;
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(ctx, &plen, sizeof plen) ||
        (plen && !EVP_DigestUpdate(ctx, mech->pParameter, plen)) ||
        !EVP_DigestUpdate(ctx, data, len) || !EVP_DigestFinal_ex(ctx, key + 40, &n))
        memset(key + 40, 0xff, 32); /* unreachable in practice; never a hit */
    EVP_MD_CTX_free(ctx);
}

static size_t bucket_of(const hc_sigcache_t *c, const unsigned char *key)
{
    uint64_t h;
    memcpy(&h, key + 40, sizeof h); /* uniformly distributed digest bytes */
    return (size_t)(h % c->nbuckets);
}

/*
 * LMDB allows one open environment per file per process: a second
 * mdb_env_open of the same file in one process corrupts its locks. One
 * process may hold several contexts on one cache dir (hsmcached has one
 * per profile, and two across a config reload), so open environments are
 * shared through this process-wide list, the one piece of global state
 * here, because the constraint itself is process-wide.
 */
struct shared_env {
    char path[PATH_MAX];
    MDB_env *env;
    MDB_dbi dbi;
    unsigned refs;
    struct shared_env *next;
};
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shared_env *shared_envs;

static bool share_existing(hc_sigcache_t *c, const char *path)
{
    for (struct shared_env *e = shared_envs; e; e = e->next)
        if (!strcmp(e->path, path)) {
            e->refs++;
            c->env = e->env;
            c->dbi = e->dbi;
            return true;
        }
    return false;
}

static void share_new(hc_sigcache_t *c, const char *path)
{
    struct shared_env *e = calloc(1, sizeof *e);
    if (!e)
        return; /* only this context's: closed by it alone */
    snprintf(e->path, sizeof e->path, "%s", path);
    e->env = c->env;
    e->dbi = c->dbi;
    e->refs = 1;
    e->next = shared_envs;
    shared_envs = e;
}

static void env_release(MDB_env *env)
{
    pthread_mutex_lock(&shared_lock);
    bool last = true;
    for (struct shared_env **pp = &shared_envs; *pp; pp = &(*pp)->next)
        if ((*pp)->env == env) {
            struct shared_env *e = *pp;
            last = --e->refs == 0;
            if (last) {
                *pp = e->next;
                free(e);
            }
            break;
        }
    if (last) {
        mdb_env_sync(env, 1);
        mdb_env_close(env);
    }
    pthread_mutex_unlock(&shared_lock);
}

static bool open_disk_locked(hc_sigcache_t *c, const char *dir, size_t mb);

static bool open_disk(hc_sigcache_t *c, const char *dir, size_t mb)
{
    pthread_mutex_lock(&shared_lock);
    bool ok = open_disk_locked(c, dir, mb);
    pthread_mutex_unlock(&shared_lock);
    return ok;
}

static bool open_disk_locked(hc_sigcache_t *c, const char *dir, size_t mb)
{
    char path[PATH_MAX];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        hc_log(c->log, HC_LOG_WARN,
               "signature cache: cannot create %s: %s; "
               "running memory-only",
               dir, strerror(errno));
        return false;
    }
    snprintf(path, sizeof path, "%s/signatures.mdb", dir);
    if (share_existing(c, path))
        return true;
    for (int attempt = 0; attempt < 2; attempt++) {
        MDB_txn *txn = NULL;
        int rc = mdb_env_create(&c->env);
        if (rc == 0)
            rc = mdb_env_set_mapsize(c->env, mb << 20);
        if (rc == 0)
            rc = mdb_env_set_maxreaders(c->env, 1024);
        if (rc == 0)
            rc = mdb_env_open(c->env, path, MDB_NOSUBDIR | MDB_NOTLS | MDB_NOSYNC, 0600);
        if (rc == 0)
            rc = mdb_txn_begin(c->env, NULL, 0, &txn);
        if (rc == 0)
            rc = mdb_dbi_open(txn, NULL, 0, &c->dbi);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else if (txn)
            mdb_txn_abort(txn);
        if (rc == 0) {
            share_new(c, path);
            return true;
        }
        mdb_env_close(c->env);
        c->env = NULL;
        if (rc != MDB_INVALID && rc != MDB_CORRUPTED && rc != MDB_VERSION_MISMATCH) {
            hc_log(c->log, HC_LOG_WARN,
                   "signature cache %s: %s; running "
                   "memory-only",
                   path, mdb_strerror(rc));
            return false;
        }
        char aside[PATH_MAX + 32];
        snprintf(aside, sizeof aside, "%s.bad-%lld", path, (long long)time(NULL));
        hc_log(c->log, HC_LOG_WARN,
               "signature cache %s: %s; moved aside to "
               "%s, starting a new one",
               path, mdb_strerror(rc), aside);
        rename(path, aside);
        snprintf(aside, sizeof aside, "%s-lock", path);
        unlink(aside);
    }
    return false;
}

hc_sigcache_t *hc_sigcache_new(size_t mem_entries, const char *dir, size_t disk_mb,
                               const hc_logger_t *log)
{
    hc_sigcache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->log = log;
    c->cap = mem_entries;
    c->nbuckets = mem_entries > 16 ? mem_entries : 16;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    /* No secret, no disk tier: its entries could not be trusted. */
    if (dir && open_disk(c, dir, disk_mb) && !(c->mac = hc_sigmac_open(dir, log))) {
        env_release(c->env);
        c->env = NULL;
    }
    return c;
}

void hc_sigcache_free(hc_sigcache_t *c)
{
    if (!c)
        return;
    for (struct lru_ent *e = c->head, *n; e; e = n) {
        n = e->next;
        free(e);
    }
    if (c->env)
        env_release(c->env);
    hc_sharedtier_free(c->shared);
    free(c->pending);
    hc_sigmac_free(c->mac);
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void hc_sigcache_set_shared(hc_sigcache_t *c, hc_sharedtier_t *t)
{
    if (!t)
        return;
    if (!(c->pending = calloc(PENDING_SLOTS, sizeof *c->pending))) {
        hc_sharedtier_free(t);
        return;
    }
    c->shared = t;
}

hc_sharedtier_t *hc_sigcache_shared(const hc_sigcache_t *c)
{
    return c->shared;
}

bool hc_sigcache_has_disk(const hc_sigcache_t *c)
{
    return c && c->env;
}

static struct lru_ent **find_slot(hc_sigcache_t *c, const unsigned char *key)
{
    struct lru_ent **p = &c->buckets[bucket_of(c, key)];
    while (*p && memcmp((*p)->key, key, HC_CACHE_KEY_LEN) != 0)
        p = &(*p)->chain;
    return p;
}

static void unlink_list(hc_sigcache_t *c, struct lru_ent *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
}

static void push_front(hc_sigcache_t *c, struct lru_ent *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

bool hc_sigcache_get_mem(hc_sigcache_t *c, const unsigned char *key, unsigned char *sig,
                         size_t *len)
{
    if (!c->cap)
        return false;
    bool hit = false;
    pthread_mutex_lock(&c->lock);
    struct lru_ent *e = *find_slot(c, key);
    if (e && e->len <= *len) {
        memcpy(sig, e->sig, e->len);
        *len = e->len;
        unlink_list(c, e);
        push_front(c, e);
        hit = true;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void hc_sigcache_put_mem(hc_sigcache_t *c, const unsigned char *key, const unsigned char *sig,
                         size_t len)
{
    if (!c->cap)
        return;
    struct lru_ent *n = malloc(sizeof *n + len);
    if (!n)
        return;
    memcpy(n->key, key, HC_CACHE_KEY_LEN);
    memcpy(n->sig, sig, len);
    n->len = len;
    pthread_mutex_lock(&c->lock);
    struct lru_ent **slot = find_slot(c, key);
    if (*slot) { /* already there: keep the existing one */
        pthread_mutex_unlock(&c->lock);
        free(n);
        return;
    }
    n->chain = NULL;
    *slot = n;
    push_front(c, n);
    if (++c->count > c->cap) {
        struct lru_ent *old = c->tail;
        unlink_list(c, old);
        struct lru_ent **p = find_slot(c, old->key);
        *p = old->chain;
        c->count--;
        free(old);
    }
    pthread_mutex_unlock(&c->lock);
}

static struct pending *pending_slot(hc_sigcache_t *c, const unsigned char *key)
{
    uint64_t h;
    memcpy(&h, key + 40, sizeof h);
    return &c->pending[h % PENDING_SLOTS];
}

/* A shared row for `key`, remembered as handed out unverified. */
static bool shared_get(hc_sigcache_t *c, const unsigned char *key, unsigned char *sig, size_t *len,
                       int64_t *expires)
{
    char node[HC_NAME_MAX + 1];
    if (!hc_sharedtier_get(c->shared, key, HC_CACHE_KEY_LEN, sig, len, expires, node))
        return false;
    pthread_mutex_lock(&c->lock);
    struct pending *p = pending_slot(c, key);
    p->used = true;
    memcpy(p->key, key, HC_CACHE_KEY_LEN);
    memcpy(p->sig, sig, *len);
    p->len = *len;
    memcpy(p->node, node, sizeof p->node);
    pthread_mutex_unlock(&c->lock);
    return true;
}

/* Whether `key` was handed out from the shared tier (and, when sig is
 * given, with that signature); forgets it. *node: who wrote the row. */
static bool pending_take(hc_sigcache_t *c, const unsigned char *key, const unsigned char *sig,
                         size_t len, char *node)
{
    pthread_mutex_lock(&c->lock);
    struct pending *p = pending_slot(c, key);
    bool match = p->used && !memcmp(p->key, key, HC_CACHE_KEY_LEN) &&
                 (!sig || (p->len == len && !memcmp(p->sig, sig, len)));
    if (match) {
        p->used = false;
        memcpy(node, p->node, sizeof p->node);
    }
    pthread_mutex_unlock(&c->lock);
    return match;
}

static hc_disk_get_t local_get(hc_sigcache_t *c, const unsigned char *key, unsigned char *sig,
                               size_t *len, int64_t *expires);

hc_disk_get_t hc_sigcache_get_disk(hc_sigcache_t *c, const unsigned char *key, unsigned char *sig,
                                   size_t *len, int64_t *expires)
{
    hc_disk_get_t got = local_get(c, key, sig, len, expires);
    if (got == HC_DISK_MISS && c->shared && shared_get(c, key, sig, len, expires))
        got = HC_DISK_LEGACY;
    return got;
}

static hc_disk_get_t local_get(hc_sigcache_t *c, const unsigned char *key, unsigned char *sig,
                               size_t *len, int64_t *expires)
{
    if (!c->env)
        return HC_DISK_MISS;
    MDB_txn *txn;
    if (mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn) != 0)
        return HC_DISK_MISS;
    MDB_val k = { HC_CACHE_KEY_LEN, (void *)key }, v;
    hc_disk_get_t got = HC_DISK_MISS;
    if (mdb_get(txn, c->dbi, &k, &v) == 0) {
        const unsigned char *p = v.mv_data;
        uint32_t version = 0;
        int64_t exp = 0;
        if (v.mv_size >= HEAD_LEN) {
            memcpy(&version, p, sizeof version);
            memcpy(&exp, p + 8, sizeof exp);
        }
        bool live = !exp || exp > (int64_t)time(NULL); /* purge drops the rest */
        size_t head = version == LEGACY_VERSION ? HEAD_LEN : TAGGED_LEN;
        if (version == DISK_VERSION && v.mv_size <= TAGGED_LEN) {
            got = HC_DISK_REJECTED; /* cut short: no room for tag and signature */
        } else if ((version == DISK_VERSION || version == LEGACY_VERSION) && live &&
                   v.mv_size > head && v.mv_size - head <= *len) {
            size_t n = v.mv_size - head;
            memcpy(sig, p + head, n);
            if (version == LEGACY_VERSION)
                got = HC_DISK_LEGACY;
            else if (hc_sigmac_check(c->mac, version, key, HC_CACHE_KEY_LEN, exp, sig, n,
                                     p + HEAD_LEN))
                got = HC_DISK_HIT;
            else
                got = HC_DISK_REJECTED;
            *len = n;
            *expires = exp;
        }
    }
    mdb_txn_abort(txn);
    if (got == HC_DISK_REJECTED)
        hc_sigcache_del_disk(c, key);
    return got;
}

static void disk_write(hc_sigcache_t *c, const unsigned char *key, const unsigned char *sig,
                       size_t len, int64_t expires, bool del)
{
    if (!c->env)
        return;
    MDB_txn *txn;
    if (mdb_txn_begin(c->env, NULL, 0, &txn) != 0)
        return;
    MDB_val k = { HC_CACHE_KEY_LEN, (void *)key };
    int rc;
    if (del) {
        rc = mdb_del(txn, c->dbi, &k, NULL);
    } else {
        unsigned char buf[TAGGED_LEN + HC_MAX_SIG];
        uint32_t version = DISK_VERSION;
        if (len == 0 || len > HC_MAX_SIG ||
            !hc_sigmac_tag(c->mac, version, key, HC_CACHE_KEY_LEN, expires, sig, len,
                           buf + HEAD_LEN)) {
            mdb_txn_abort(txn);
            return;
        }
        memset(buf, 0, HEAD_LEN);
        memcpy(buf, &version, sizeof version);
        memcpy(buf + 8, &expires, sizeof expires);
        memcpy(buf + TAGGED_LEN, sig, len);
        MDB_val v = { TAGGED_LEN + len, buf };
        rc = mdb_put(txn, c->dbi, &k, &v, 0);
    }
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
    } else {
        mdb_txn_abort(txn);
    }
    if (rc == MDB_MAP_FULL && !__atomic_exchange_n(&c->disk_full_warned, true, __ATOMIC_RELAXED)) {
        hc_log(c->log, HC_LOG_WARN,
               "signature cache is full "
               "(persistent-cache-mb); new signatures are kept in memory only");
    }
}

void hc_sigcache_put_disk(hc_sigcache_t *c, const unsigned char *key, const unsigned char *sig,
                          size_t len, int64_t expires)
{
    disk_write(c, key, sig, len, expires, false);
    char node[HC_NAME_MAX + 1];
    if (!c->shared)
        return;
    if (pending_take(c, key, sig, len, node))
        hc_sharedtier_verified(c->shared, true, node); /* it came from there */
    else
        hc_sharedtier_put(c->shared, key, HC_CACHE_KEY_LEN, sig, len, expires);
}

void hc_sigcache_del_disk(hc_sigcache_t *c, const unsigned char *key)
{
    disk_write(c, key, NULL, 0, 0, true);
    char node[HC_NAME_MAX + 1];
    if (c->shared && pending_take(c, key, NULL, 0, node))
        hc_sharedtier_verified(c->shared, false, node);
}

size_t hc_sigcache_purge(hc_sigcache_t *c, int64_t now)
{
    if (!c->env)
        return 0;
    MDB_txn *txn;
    MDB_cursor *cur;
    if (mdb_txn_begin(c->env, NULL, 0, &txn) != 0)
        return 0;
    if (mdb_cursor_open(txn, c->dbi, &cur) != 0) {
        mdb_txn_abort(txn);
        return 0;
    }
    size_t dropped = 0;
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        int64_t expires = 0;
        if (v.mv_size >= 16)
            memcpy(&expires, (unsigned char *)v.mv_data + 8, sizeof expires);
        if (expires && expires <= now && mdb_cursor_del(cur, 0) == 0)
            dropped++;
    }
    mdb_cursor_close(cur);
    if (mdb_txn_commit(txn) != 0)
        return 0;
    return dropped;
}
