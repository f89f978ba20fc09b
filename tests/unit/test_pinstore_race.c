/* test_pinstore_race.c: PIN files written by several writers at once
 * (pinstore.h, hsmcache.h's hc_token_pin_store), and a token group, which
 * has no PIN file (with-token.sh's environment: token "dns" on SoftHSM).
 * Writers start together at a barrier, many rounds over: "create only"
 * must be won by exactly one writer, whose PIN the file then holds, never
 * replaced by a later one; a replacing writer never leaves a reader a
 * partial, empty or missing file; every file is 0600 and no temp file is
 * left. Answers are compared with the bytes on disk, read back here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pinstore.h"
#include "hsmcache.h"
#include "transport.h"

#define WRITERS 6
#define ROUNDS 40

static char store[4096];

static const char *test_dir; /* with-token.sh's $HC_TEST_DIR */

static int setup(void **state)
{
    (void)state;
    test_dir = getenv("HC_TEST_DIR");
    return test_dir && test_dir[0] == '/' ? 0 : -1; /* run by with-token.sh only */
}

/* A new empty store directory's parent: the store itself is created by
 * the writers (ensure_store_dir). */
static void fresh_store(const char *name)
{
    char parent[4096];
    snprintf(parent, sizeof parent, "%s/race-%s-XXXXXX", test_dir, name);
    assert_non_null(mkdtemp(parent));
    snprintf(store, sizeof store, "%s/pins", parent);
}

/* The file's bytes into buf (NUL-terminated); -1 when absent. */
static int slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (int)n;
}

/* Names in the store beginning with '.': temp files left behind. */
static int leftovers(void)
{
    DIR *d = opendir(store);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

static pthread_barrier_t start;

struct writer {
    int id;
    hc_ctx_t *ctx; /* hc_token_pin_store's, else hc_pin_create */
    size_t tok;
    CK_RV rv;
    bool created;
    char pin[32];
};

static void *create_one(void *arg)
{
    struct writer *w = arg;
    hc_err_t err = { 0 };
    pthread_barrier_wait(&start);
    if (w->ctx)
        w->rv = hc_token_pin_store(w->ctx, w->tok, (const unsigned char *)w->pin, strlen(w->pin),
                                   &w->created, &err);
    else
        w->rv = hc_pin_create(store, "dns", (const unsigned char *)w->pin, strlen(w->pin),
                              &w->created, &err);
    return NULL;
}

/* WRITERS writers of distinct PINs at once, ROUNDS times: one creates. */
static void race_creators(hc_ctx_t *ctx, size_t tok, const char *path)
{
    for (int round = 0; round < ROUNDS; round++) {
        unlink(path);
        struct writer w[WRITERS];
        pthread_t th[WRITERS];
        pthread_barrier_init(&start, NULL, WRITERS);
        for (int i = 0; i < WRITERS; i++) {
            w[i] = (struct writer){ .id = i, .ctx = ctx, .tok = tok };
            snprintf(w[i].pin, sizeof w[i].pin, "pin-%d-%d", round, i);
            pthread_create(&th[i], NULL, create_one, &w[i]);
        }
        int winners = 0, winner = -1;
        for (int i = 0; i < WRITERS; i++) {
            pthread_join(th[i], NULL);
            if (w[i].created) {
                winners++;
                winner = i;
            }
        }
        pthread_barrier_destroy(&start);
        if (winners != 1)
            fail_msg("round %d: %d writers say they created %s (want 1)", round, winners, path);
        /* The others: told the store holds another PIN (the library
         * call), or that a file was there (create only); none failed. */
        for (int i = 0; i < WRITERS; i++)
            if (i != winner)
                assert_int_equal(w[i].rv, ctx ? CKR_PIN_INVALID : CKR_OK);
        assert_int_equal(w[winner].rv, CKR_OK);
        char got[64];
        assert_int_equal(slurp(path, got, sizeof got), (int)strlen(w[winner].pin));
        assert_string_equal(got, w[winner].pin);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(st.st_nlink, 1);
        assert_int_equal(leftovers(), 0);
    }
}

static void create_only_has_one_winner(void **state)
{
    (void)state;
    fresh_store("create");
    char path[4200];
    snprintf(path, sizeof path, "%s/dns", store);
    race_creators(NULL, 0, path);
    /* A file present is never replaced: created false, bytes unchanged. */
    bool created = true;
    assert_int_equal(hc_pin_create(store, "dns", (const unsigned char *)"later", 5, &created, NULL),
                     CKR_OK);
    assert_false(created);
    char got[64];
    assert_true(slurp(path, got, sizeof got) > 0);
    assert_string_not_equal(got, "later");
    /* A PIN ending in '\r' would be read back without it: refused. */
    unlink(path);
    assert_int_equal(
        hc_pin_create(store, "dns", (const unsigned char *)"1234\r", 5, &created, NULL),
        CKR_PIN_INVALID);
    assert_false(created);
    assert_int_equal(access(path, F_OK), -1);
}

static int replace_failures;

static void *replace_loop(void *arg)
{
    int id = (int)(intptr_t)arg;
    char pin[64];
    /* Lengths differ per writer: a torn file would show. */
    snprintf(pin, sizeof pin, "replacer-%d-%.*s", id, 8 * id + 1,
             "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    for (int i = 0; i < 200; i++)
        if (hc_pin_write(store, "dns", (const unsigned char *)pin, strlen(pin), NULL) != CKR_OK)
            __atomic_fetch_add(&replace_failures, 1, __ATOMIC_RELAXED);
    return NULL;
}

/* Replacing writers at once: a reader always finds one whole PIN. */
static void replacing_writers_leave_whole_files(void **state)
{
    (void)state;
    fresh_store("replace");
    assert_int_equal(hc_pin_write(store, "dns", (const unsigned char *)"first", 5, NULL), CKR_OK);
    char path[4200];
    snprintf(path, sizeof path, "%s/dns", store);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, replace_loop, (void *)(intptr_t)i);
    int reads = 0;
    bool joined[4] = { false };
    for (int alive = 4; alive > 0; reads++) {
        char got[64];
        int n = slurp(path, got, sizeof got);
        if (n < 0)
            fail_msg("read %d: %s missing while writers replaced it", reads, path);
        int id = -1, len = 0;
        bool whole = !strcmp(got, "first") ||
                     (sscanf(got, "replacer-%d-%n", &id, &len) == 1 && id >= 0 && id < 4 &&
                      strspn(got + len, "z") == (size_t)(8 * id + 1) && !got[len + 8 * id + 1]);
        if (!whole)
            fail_msg("read %d: %s holds '%s', no writer's whole PIN", reads, path, got);
        alive = 0;
        for (int i = 0; i < 4; i++)
            if (!joined[i] && !(joined[i] = pthread_tryjoin_np(th[i], NULL) == 0))
                alive++;
    }
    assert_int_equal(replace_failures, 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(leftovers(), 0);
}

/* A second config with token "dns2" (no PIN stored: the race's subject)
 * and group "both" of dns and dns2, opened embedded. */
static hc_ctx_t *open_group_config(char *pins, size_t size)
{
    const char *dir = test_dir;
    char src[4200], dst[4200], line[4200];
    snprintf(src, sizeof src, "%s", getenv("HSMCACHE_CONF"));
    snprintf(dst, sizeof dst, "%s/race-group.conf", dir);
    FILE *in = fopen(src, "r"), *out = fopen(dst, "w");
    assert_non_null(in);
    assert_non_null(out);
    char module[4200] = "", label[4200] = "";
    while (fgets(line, sizeof line, in)) {
        fputs(line, out);
        sscanf(line, "module = %4199s", module);
        sscanf(line, "label = %4199s", label);
    }
    fclose(in);
    fprintf(out,
            "[token dns2]\nmodule = %s\nlabel = %s\n[token both]\nmembers = dns, dns2\n"
            "[cli]\ntokens = both, dns2\n",
            module, label);
    fclose(out);
    snprintf(pins, size, "%s/pins", dir);
    hc_ctx_t *ctx = NULL;
    hc_err_t err = { 0 };
    if (hc_open_embedded(HC_PROFILE_CLI, dst, &ctx, &err) != CKR_OK)
        fail_msg("hc_open_embedded %s: %s", dst, err.msg);
    return ctx;
}

static void library_store_one_winner_and_no_group(void **state)
{
    (void)state;
    char pins[4200], path[4300];
    hc_ctx_t *ctx = open_group_config(pins, sizeof pins);
    snprintf(store, sizeof store, "%s", pins);
    long tok = hc_token_index(ctx, "dns2"), grp = hc_token_index(ctx, "both");
    assert_true(tok >= 0 && grp >= 0);
    snprintf(path, sizeof path, "%s/dns2", pins);
    race_creators(ctx, (size_t)tok, path);
    unlink(path);
    /* The group: refused, naming its members' commands; nothing written. */
    hc_err_t err = { 0 };
    bool written = true;
    assert_int_equal(
        hc_token_pin_store(ctx, (size_t)grp, (const unsigned char *)"1234", 4, &written, &err),
        CKR_ARGUMENTS_BAD);
    assert_false(written);
    assert_non_null(strstr(err.msg, "token both is a token group"));
    assert_non_null(strstr(err.msg, "'hsmcache pin set dns', 'hsmcache pin set dns2'"));
    snprintf(path, sizeof path, "%s/both", pins);
    assert_int_equal(access(path, F_OK), -1);
    hc_close(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_only_has_one_winner),
        cmocka_unit_test(replacing_writers_leave_whole_files),
        cmocka_unit_test(library_store_one_winner_and_no_group),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
