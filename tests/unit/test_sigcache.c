/* test_sigcache.c: the LRU keeps at most its capacity and evicts the
 * least recently used; the disk tier survives a new instance; keys differ
 * by public key, mechanism, parameter and data, and one key's entry is
 * never a hit for another key; a file LMDB cannot open is moved aside
 * (kept, with its bytes) and a working cache started in its place.
 * Integrity of the disk tier: an entry altered in place (signature,
 * expiry), cut short, or written under another secret is rejected and
 * deleted, never served; an untagged entry of the older format is handed
 * out as unverified and is tagged once written back; a secret file that
 * is not ours alone (mode, owner, symlink, size) disables the disk tier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include <lmdb.h>
#include <unistd.h>

#include "core/sigcache.h"

static const hc_logger_t quiet = { "test", HC_LOG_ERROR };
static const unsigned char spki_hash[32] = { 1, 2, 3 };

static void key_for(const char *data, CK_MECHANISM_TYPE m, unsigned char *key)
{
    CK_MECHANISM mech = { m, NULL, 0 };
    hc_sigcache_key(spki_hash, &mech, (const unsigned char *)data, strlen(data), key);
}

/* The disk tier served a tagged, intact entry. */
static bool disk_hit(hc_sigcache_t *c, const unsigned char *k, unsigned char *out, size_t *n)
{
    int64_t expires;
    return hc_sigcache_get_disk(c, k, out, n, &expires) == HC_DISK_HIT;
}

static hc_disk_get_t disk_get(hc_sigcache_t *c, const unsigned char *k)
{
    unsigned char out[64];
    size_t n = sizeof out;
    int64_t expires;
    return hc_sigcache_get_disk(c, k, out, &n, &expires);
}

/* Rewrites one raw LMDB value as an attacker with the file would: `edit`
 * gets the stored bytes and returns the new length. */
static void edit_raw(const char *dir, const unsigned char *k,
                     size_t (*edit)(unsigned char *v, size_t len))
{
    char path[128];
    snprintf(path, sizeof path, "%s/signatures.mdb", dir);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    MDB_val key = { HC_CACHE_KEY_LEN, (void *)k }, v;
    assert_int_equal(mdb_get(txn, dbi, &key, &v), 0);
    unsigned char buf[600];
    assert_true(v.mv_size <= sizeof buf);
    memcpy(buf, v.mv_data, v.mv_size);
    MDB_val nv = { edit(buf, v.mv_size), buf };
    assert_int_equal(mdb_put(txn, dbi, &key, &nv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static size_t flip_last_byte(unsigned char *v, size_t len)
{
    v[len - 1] ^= 1; /* the signature's last byte */
    return len;
}

static size_t extend_expiry(unsigned char *v, size_t len)
{
    v[8 + 7] ^= 0x01; /* expiry moved by 2^56 s, as if to keep it forever */
    return len;
}

static size_t cut_to_tag(unsigned char *v, size_t len)
{
    (void)v;
    (void)len;
    return 32; /* header and tag, no signature */
}

static size_t cut_by_one(unsigned char *v, size_t len)
{
    (void)v;
    return len - 1;
}

/* Format 1 as hsmcache wrote it before tags: version 1 | 0 | expires | sig. */
static size_t to_legacy(unsigned char *v, size_t len)
{
    uint32_t one = 1;
    memcpy(v, &one, sizeof one);
    memmove(v + 16, v + 32, len - 32);
    return len - 16;
}

static void rm_rf(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void altered_entries_are_rejected(void **state)
{
    (void)state;
    size_t (*edits[])(unsigned char *, size_t) = {
        flip_last_byte,
        extend_expiry,
        cut_to_tag,
        cut_by_one,
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char dir[] = "/tmp/hc-sigcache.XXXXXX";
        assert_non_null(mkdtemp(dir));
        unsigned char k[HC_CACHE_KEY_LEN], good[HC_CACHE_KEY_LEN];
        key_for("altered", CKM_ECDSA, k);
        key_for("untouched", CKM_ECDSA, good);
        int64_t later = (int64_t)time(NULL) + 3600;
        hc_sigcache_t *c = hc_sigcache_new(10, dir, 16, &quiet);
        hc_sigcache_put_disk(c, k, (const unsigned char *)"a signature", 11, later);
        hc_sigcache_put_disk(c, good, (const unsigned char *)"another one", 11, later);
        assert_int_equal(disk_get(c, k), HC_DISK_HIT); /* the control */
        hc_sigcache_free(c);
        edit_raw(dir, k, edits[i]);
        c = hc_sigcache_new(10, dir, 16, &quiet);
        assert_int_equal(disk_get(c, k), HC_DISK_REJECTED);
        assert_int_equal(disk_get(c, k), HC_DISK_MISS); /* deleted */
        assert_int_equal(disk_get(c, good), HC_DISK_HIT);
        hc_sigcache_free(c);
        rm_rf(dir);
    }
}

static void another_secret_rejects_every_entry(void **state)
{
    (void)state;
    char dir[] = "/tmp/hc-sigcache.XXXXXX", key_path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(key_path, sizeof key_path, "%s/signatures.key", dir);
    unsigned char k[HC_CACHE_KEY_LEN];
    key_for("rrset", CKM_ECDSA, k);
    hc_sigcache_t *c = hc_sigcache_new(10, dir, 16, &quiet);
    hc_sigcache_put_disk(c, k, (const unsigned char *)"sig", 3, 0);
    hc_sigcache_free(c);
    struct stat st;
    assert_int_equal(stat(key_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);
    assert_int_equal(unlink(key_path), 0); /* a new secret is made on open */
    c = hc_sigcache_new(10, dir, 16, &quiet);
    assert_true(hc_sigcache_has_disk(c));
    assert_int_equal(disk_get(c, k), HC_DISK_REJECTED);
    hc_sigcache_free(c);
    rm_rf(dir);
}

static void legacy_entry_is_unverified_until_rewritten(void **state)
{
    (void)state;
    char dir[] = "/tmp/hc-sigcache.XXXXXX";
    assert_non_null(mkdtemp(dir));
    unsigned char k[HC_CACHE_KEY_LEN], out[16];
    key_for("old format", CKM_ECDSA, k);
    int64_t later = (int64_t)time(NULL) + 3600, expires = 0;
    hc_sigcache_t *c = hc_sigcache_new(10, dir, 16, &quiet);
    hc_sigcache_put_disk(c, k, (const unsigned char *)"legacy", 6, later);
    hc_sigcache_free(c);
    edit_raw(dir, k, to_legacy);
    c = hc_sigcache_new(10, dir, 16, &quiet);
    size_t n = sizeof out;
    assert_int_equal(hc_sigcache_get_disk(c, k, out, &n, &expires), HC_DISK_LEGACY);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "legacy", 6);
    assert_int_equal(expires, later);
    hc_sigcache_put_disk(c, k, out, n, expires); /* what the caller does once verified */
    assert_int_equal(disk_get(c, k), HC_DISK_HIT);
    hc_sigcache_free(c);
    rm_rf(dir);
}

/* A secret others could read lets them forge entries: no disk tier. */
static void unsafe_secret_disables_disk(void **state)
{
    (void)state;
    for (int how = 0; how < 4; how++) {
        char dir[] = "/tmp/hc-sigcache.XXXXXX", key_path[64], other[64];
        assert_non_null(mkdtemp(dir));
        snprintf(key_path, sizeof key_path, "%s/signatures.key", dir);
        snprintf(other, sizeof other, "%s/elsewhere", dir);
        hc_sigcache_t *c = hc_sigcache_new(10, dir, 16, &quiet);
        assert_true(hc_sigcache_has_disk(c)); /* the control */
        hc_sigcache_free(c);
        if (how == 0)
            assert_int_equal(chmod(key_path, 0640), 0);
        else if (how == 1)
            assert_int_equal(chown(key_path, 65534, (gid_t)-1), 0);
        else if (how == 2)
            assert_int_equal(truncate(key_path, 16), 0);
        else {
            assert_int_equal(rename(key_path, other), 0);
            assert_int_equal(symlink(other, key_path), 0);
        }
        c = hc_sigcache_new(10, dir, 16, &quiet);
        assert_false(hc_sigcache_has_disk(c));
        hc_sigcache_free(c);
        rm_rf(dir);
    }
}

static void lru_evicts_least_recent(void **state)
{
    (void)state;
    hc_sigcache_t *c = hc_sigcache_new(2, NULL, 0, &quiet);
    unsigned char a[HC_CACHE_KEY_LEN], b[HC_CACHE_KEY_LEN], d[HC_CACHE_KEY_LEN];
    key_for("a", CKM_ECDSA, a);
    key_for("b", CKM_ECDSA, b);
    key_for("d", CKM_ECDSA, d);
    hc_sigcache_put_mem(c, a, (const unsigned char *)"sigA", 4);
    hc_sigcache_put_mem(c, b, (const unsigned char *)"sigB", 4);
    unsigned char out[16];
    size_t n = sizeof out;
    assert_true(hc_sigcache_get_mem(c, a, out, &n)); /* a is now most recent */
    hc_sigcache_put_mem(c, d, (const unsigned char *)"sigD", 4);
    n = sizeof out;
    assert_false(hc_sigcache_get_mem(c, b, out, &n)); /* b evicted */
    n = sizeof out;
    assert_true(hc_sigcache_get_mem(c, a, out, &n));
    assert_memory_equal(out, "sigA", 4);
    n = sizeof out;
    assert_true(hc_sigcache_get_mem(c, d, out, &n));
    n = 2; /* too small a buffer is a miss, never a truncated copy */
    assert_false(hc_sigcache_get_mem(c, d, out, &n));
    hc_sigcache_free(c);
}

static void keys_differ_by_every_input(void **state)
{
    (void)state;
    unsigned char k1[HC_CACHE_KEY_LEN], k2[HC_CACHE_KEY_LEN], k3[HC_CACHE_KEY_LEN];
    key_for("x", CKM_ECDSA, k1);
    key_for("x", CKM_ECDSA_SHA256, k2);
    key_for("y", CKM_ECDSA, k3);
    assert_memory_not_equal(k1, k2, HC_CACHE_KEY_LEN);
    assert_memory_not_equal(k1, k3, HC_CACHE_KEY_LEN);
    CK_RSA_PKCS_PSS_PARAMS p1 = { CKM_SHA256, CKG_MGF1_SHA256, 32 }, p2 = p1;
    p2.sLen = 0;
    CK_MECHANISM m1 = { CKM_RSA_PKCS_PSS, &p1, sizeof p1 },
                 m2 = { CKM_RSA_PKCS_PSS, &p2, sizeof p2 };
    hc_sigcache_key(spki_hash, &m1, (const unsigned char *)"x", 1, k1);
    hc_sigcache_key(spki_hash, &m2, (const unsigned char *)"x", 1, k2);
    assert_memory_not_equal(k1, k2, HC_CACHE_KEY_LEN);
}

/* Same data, same mechanism, another public key: another entry, in
 * memory and on disk, and no hit across keys. */
static void keys_differ_by_public_key(void **state)
{
    (void)state;
    static const unsigned char other_spki_hash[32] = { 9, 8, 7 };
    CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
    unsigned char ka[HC_CACHE_KEY_LEN], kb[HC_CACHE_KEY_LEN], out[16];
    hc_sigcache_key(spki_hash, &mech, (const unsigned char *)"x", 1, ka);
    hc_sigcache_key(other_spki_hash, &mech, (const unsigned char *)"x", 1, kb);
    assert_memory_not_equal(ka, kb, HC_CACHE_KEY_LEN);
    char dir[] = "/tmp/hc-sigcache.XXXXXX";
    assert_non_null(mkdtemp(dir));
    hc_sigcache_t *c = hc_sigcache_new(10, dir, 16, &quiet);
    hc_sigcache_put_mem(c, ka, (const unsigned char *)"sigA", 4);
    hc_sigcache_put_disk(c, ka, (const unsigned char *)"sigA", 4, 0);
    size_t n = sizeof out;
    assert_true(hc_sigcache_get_mem(c, ka, out, &n)); /* the control: A hits */
    n = sizeof out;
    assert_true(disk_hit(c, ka, out, &n));
    n = sizeof out;
    assert_false(hc_sigcache_get_mem(c, kb, out, &n));
    n = sizeof out;
    assert_false(disk_hit(c, kb, out, &n));
    hc_sigcache_free(c);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void disk_tier_survives_restart(void **state)
{
    (void)state;
    char dir[] = "/tmp/hc-sigcache.XXXXXX";
    assert_non_null(mkdtemp(dir));
    unsigned char k[HC_CACHE_KEY_LEN], out[16];
    key_for("rrset", CKM_ECDSA, k);
    hc_sigcache_t *c = hc_sigcache_new(10, dir, 16, &quiet);
    assert_true(hc_sigcache_has_disk(c));
    hc_sigcache_put_disk(c, k, (const unsigned char *)"persisted", 9, 0);
    hc_sigcache_free(c);
    c = hc_sigcache_new(10, dir, 16, &quiet);
    size_t n = sizeof out;
    assert_false(hc_sigcache_get_mem(c, k, out, &n));
    n = sizeof out;
    assert_true(disk_hit(c, k, out, &n));
    assert_int_equal(n, 9);
    assert_memory_equal(out, "persisted", 9);
    hc_sigcache_del_disk(c, k);
    n = sizeof out;
    assert_false(disk_hit(c, k, out, &n));
    hc_sigcache_free(c);
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "%s/signatures.mdb", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* RRSIGs expire: an expired entry is a miss and the purge deletes it,
 * leaving entries that have not expired or never do. */
static void expired_disk_entries_are_misses_and_purged(void **state)
{
    (void)state;
    char dir[] = "/tmp/hc-sigcache.XXXXXX";
    assert_non_null(mkdtemp(dir));
    unsigned char old[HC_CACHE_KEY_LEN], live[HC_CACHE_KEY_LEN], forever[HC_CACHE_KEY_LEN], out[16];
    key_for("last week", CKM_ECDSA, old);
    key_for("this week", CKM_ECDSA, live);
    key_for("no expiry", CKM_ECDSA, forever);
    hc_sigcache_t *c = hc_sigcache_new(10, dir, 16, &quiet);
    int64_t now = (int64_t)time(NULL);
    hc_sigcache_put_disk(c, old, (const unsigned char *)"old", 3, now - 10);
    hc_sigcache_put_disk(c, live, (const unsigned char *)"live", 4, now + 3600);
    hc_sigcache_put_disk(c, forever, (const unsigned char *)"forever", 7, 0);
    size_t n = sizeof out;
    assert_false(disk_hit(c, old, out, &n));
    n = sizeof out;
    assert_true(disk_hit(c, live, out, &n));
    assert_int_equal(hc_sigcache_purge(c, now), 1);
    assert_int_equal(hc_sigcache_purge(c, now), 0);
    assert_int_equal(hc_sigcache_purge(c, now + 7200), 1); /* "live" is now past */
    n = sizeof out;
    assert_true(disk_hit(c, forever, out, &n));
    assert_memory_equal(out, "forever", 7);
    hc_sigcache_free(c);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void unusable_disk_is_moved_aside(void **state)
{
    (void)state;
    static const char junk[] = "this is not an LMDB file, and it is long enough to be read as one";
    char dir[] = "/tmp/hc-sigcache.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/signatures.mdb", dir);
    FILE *f = fopen(path, "w");
    fputs(junk, f);
    fclose(f);
    hc_sigcache_t *c = hc_sigcache_new(10, dir, 16, &quiet);
    assert_non_null(c);
    assert_true(hc_sigcache_has_disk(c));
    /* The corrupt file is kept as signatures.mdb.bad-TIME, bytes intact. */
    char cmd[256], aside[256] = "";
    snprintf(cmd, sizeof cmd, "ls %s/signatures.mdb.bad-* 2>/dev/null", dir);
    FILE *ls = popen(cmd, "r");
    assert_non_null(ls);
    assert_non_null(fgets(aside, sizeof aside, ls));
    pclose(ls);
    aside[strcspn(aside, "\n")] = '\0';
    char bytes[sizeof junk + 8] = "";
    f = fopen(aside, "r");
    assert_non_null(f);
    size_t got = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    assert_int_equal(got, strlen(junk));
    assert_memory_equal(bytes, junk, got);
    /* The new file works, and keeps its entries across a new instance. */
    unsigned char k[HC_CACHE_KEY_LEN], out[16];
    key_for("after", CKM_ECDSA, k);
    hc_sigcache_put_disk(c, k, (const unsigned char *)"fresh", 5, 0);
    hc_sigcache_free(c);
    c = hc_sigcache_new(10, dir, 16, &quiet);
    assert_true(hc_sigcache_has_disk(c));
    size_t n = sizeof out;
    assert_true(disk_hit(c, k, out, &n));
    assert_int_equal(n, 5);
    assert_memory_equal(out, "fresh", 5);
    hc_sigcache_free(c);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lru_evicts_least_recent),
        cmocka_unit_test(keys_differ_by_every_input),
        cmocka_unit_test(keys_differ_by_public_key),
        cmocka_unit_test(disk_tier_survives_restart),
        cmocka_unit_test(expired_disk_entries_are_misses_and_purged),
        cmocka_unit_test(unusable_disk_is_moved_aside),
        cmocka_unit_test(altered_entries_are_rejected),
        cmocka_unit_test(another_secret_rejects_every_entry),
        cmocka_unit_test(legacy_entry_is_unverified_until_rewritten),
        cmocka_unit_test(unsafe_secret_disables_disk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
