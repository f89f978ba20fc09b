/* test_sigcache.c: the LRU keeps at most its capacity and evicts the
 * least recently used; the disk tier survives a new instance; keys differ
 * by public key, mechanism, parameter and data, and one key's entry is
 * never a hit for another key; a file LMDB cannot open is moved aside
 * (kept, with its bytes) and a working cache started in its place. */
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

#include "sigcache.h"

static const hc_logger_t quiet = { "test", HC_LOG_ERROR };
static const unsigned char spki_hash[32] = { 1, 2, 3 };

static void key_for(const char *data, CK_MECHANISM_TYPE m, unsigned char *key)
{
    CK_MECHANISM mech = { m, NULL, 0 };
    hc_sigcache_key(spki_hash, &mech, (const unsigned char *)data, strlen(data), key);
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
    CK_MECHANISM m1 = { CKM_RSA_PKCS_PSS, &p1, sizeof p1 }, m2 = { CKM_RSA_PKCS_PSS, &p2, sizeof p2 };
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
    assert_true(hc_sigcache_get_disk(c, ka, out, &n));
    n = sizeof out;
    assert_false(hc_sigcache_get_mem(c, kb, out, &n));
    n = sizeof out;
    assert_false(hc_sigcache_get_disk(c, kb, out, &n));
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
    assert_true(hc_sigcache_get_disk(c, k, out, &n));
    assert_int_equal(n, 9);
    assert_memory_equal(out, "persisted", 9);
    hc_sigcache_del_disk(c, k);
    n = sizeof out;
    assert_false(hc_sigcache_get_disk(c, k, out, &n));
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
    assert_false(hc_sigcache_get_disk(c, old, out, &n));
    n = sizeof out;
    assert_true(hc_sigcache_get_disk(c, live, out, &n));
    assert_int_equal(hc_sigcache_purge(c, now), 1);
    assert_int_equal(hc_sigcache_purge(c, now), 0);
    assert_int_equal(hc_sigcache_purge(c, now + 7200), 1); /* "live" is now past */
    n = sizeof out;
    assert_true(hc_sigcache_get_disk(c, forever, out, &n));
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
    assert_true(hc_sigcache_get_disk(c, k, out, &n));
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
