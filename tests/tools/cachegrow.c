/*
 * cachegrow.c: how the signature cache's disk tier (sigcache.h) grows, for
 * bench-scale: ENTRIES ECDSA P-256-sized signatures (64 bytes) under
 * distinct keys into a fresh cache in DIR, through the cache's own API,
 * half of them already expired; then
 *   put_us    mean time per hc_sigcache_put_disk
 *   get_us    mean time per hc_sigcache_get_disk of a live entry (10,000
 *             spread over the range, each a checked hit)
 *   purge_s   hc_sigcache_purge of the expired half (checked: that many)
 *   fill_b    signatures.mdb's size once filled, and per_entry_b that
 *             over ENTRIES (LMDB grows the file as it uses pages)
 *   tree_b    after the purge, the bytes of the pages the live half's tree
 *             holds (freed pages stay in the file, kept for reuse)
 *   cachegrow DIR ENTRIES MAP_MB
 * Prints one line of `name value` pairs; exits 1 on a wrong answer.
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/sigcache.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Entry i's key: a spki hash and data of its own, the real key function. */
static void key_of(long i, unsigned char key[HC_CACHE_KEY_LEN])
{
    unsigned char spki_hash[32] = { 0x5c };
    char data[32];
    int n = snprintf(data, sizeof data, "rrset %ld", i);
    CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
    hc_sigcache_key(spki_hash, &m, (const unsigned char *)data, (size_t)n, key);
}

/* The bytes of the pages the main tree holds, from the closed file. */
static long long tree_bytes(const char *path)
{
    MDB_env *env;
    MDB_stat st;
    long long used = -1;
    if (mdb_env_create(&env) != 0)
        return -1;
    if (mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY, 0600) == 0 &&
        mdb_env_stat(env, &st) == 0)
        used =
            (long long)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
    mdb_env_close(env);
    return used;
}

int main(int argc, char **argv)
{
    char *e1 = NULL, *e2 = NULL;
    long entries = argc == 4 ? strtol(argv[2], &e1, 10) : 0;
    long map_mb = argc == 4 ? strtol(argv[3], &e2, 10) : 0;
    if (argc != 4 || *e1 || *e2 || entries < 2 || map_mb < 1) {
        fprintf(stderr, "usage: cachegrow DIR ENTRIES MAP_MB\n");
        return 2;
    }
    hc_logger_t log = { "cachegrow", HC_LOG_WARN };
    hc_sigcache_t *c = hc_sigcache_new(0, argv[1], (size_t)map_mb, &log);
    if (!c || !hc_sigcache_has_disk(c)) {
        fprintf(stderr, "cachegrow: no disk tier in %s\n", argv[1]);
        return 1;
    }
    int64_t t = (int64_t)time(NULL);
    unsigned char key[HC_CACHE_KEY_LEN], sig[64], got[128];
    double t0 = now_s();
    for (long i = 0; i < entries; i++) {
        key_of(i, key);
        memcpy(sig, key, sizeof sig);
        /* Odd entries expired an hour ago, even ones live for a week. */
        hc_sigcache_put_disk(c, key, sig, sizeof sig, i % 2 ? t - 3600 : t + 7 * 86400);
    }
    double put = now_s() - t0;
    char path[4096];
    snprintf(path, sizeof path, "%s/signatures.mdb", argv[1]);
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "cachegrow: cannot read %s\n", path);
        return 1;
    }
    long long fill = (long long)st.st_size;
    long gets = entries / 2 < 10000 ? entries / 2 : 10000;
    t0 = now_s();
    for (long k = 0; k < gets; k++) {
        long i = 2 * ((k * 7919) % (entries / 2));
        size_t len = sizeof got;
        int64_t exp;
        key_of(i, key);
        if (hc_sigcache_get_disk(c, key, got, &len, &exp) != HC_DISK_HIT || len != sizeof sig ||
            memcmp(got, key, len) != 0) {
            fprintf(stderr, "cachegrow: entry %ld not read back\n", i);
            return 1;
        }
    }
    double get = now_s() - t0;
    t0 = now_s();
    size_t purged = hc_sigcache_purge(c, t);
    double purge = now_s() - t0;
    hc_sigcache_free(c);
    if (purged != (size_t)(entries / 2)) {
        fprintf(stderr, "cachegrow: purge dropped %zu of %ld expired\n", purged, entries / 2);
        return 1;
    }
    long long tree = tree_bytes(path);
    if (tree < 0) {
        fprintf(stderr, "cachegrow: cannot read %s\n", path);
        return 1;
    }
    printf("entries %ld put_us %.2f get_us %.2f purge_s %.2f fill_b %lld per_entry_b %.0f "
           "tree_b %lld\n",
           entries, put / (double)entries * 1e6, get / (double)gets * 1e6, purge, fill,
           (double)fill / (double)entries, tree);
    return 0;
}
