/* test_pinstore.c: PIN files are read only when safe, refused with the
 * path and the fix otherwise, written atomically; the rejection mark
 * matches exactly one version of a PIN file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pinmark.h"
#include "util/clock.h"
#include "core/pinstore.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/hc-pinstore.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    chmod(dir, 0700);
    unsetenv("CREDENTIALS_DIRECTORY");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static void put(const char *name, const char *content, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    chmod(path, mode);
}

static const char *refusal(const char *token)
{
    static hc_err_t err;
    hc_pin_t pin;
    memset(&err, 0, sizeof err);
    assert_int_not_equal(hc_pin_read(dir, token, &pin, NULL, &err), CKR_OK);
    assert_null(pin.bytes);
    return err.msg;
}

static void reads_pin_without_trailing_newline(void **state)
{
    (void)state;
    put("dns", "1234\n", 0600);
    hc_pin_t pin;
    assert_int_equal(hc_pin_read(dir, "dns", &pin, NULL, NULL), CKR_OK);
    assert_int_equal(pin.len, 4);
    assert_memory_equal(pin.bytes, "1234", 4);
    hc_pin_wipe(&pin);
    assert_null(pin.bytes);
}

static void refuses_unsafe_files_with_fix(void **state)
{
    (void)state;
    char path[512], expect[600];
    snprintf(path, sizeof path, "%s/dns", dir);
    put("dns", "1234", 0644);
    snprintf(expect, sizeof expect, "chmod 600 %s", path);
    assert_non_null(strstr(refusal("dns"), "readable by others"));
    assert_non_null(strstr(refusal("dns"), expect));
    put("dns", "1234", 0620);
    assert_non_null(strstr(refusal("dns"), "writable by group"));
    put("dns", "1234", 0640); /* group-readable, owned by root: allowed only
                                 when the group is one of ours (it is: root's
                                 own group) */
    assert_int_equal(chown(path, 0, getegid()), 0);
    hc_pin_t pin;
    assert_int_equal(hc_pin_read(dir, "dns", &pin, NULL, NULL), CKR_OK);
    hc_pin_wipe(&pin);
    assert_int_equal(chown(path, 0, 4242), 0); /* a group we are not in */
    assert_non_null(strstr(refusal("dns"), "readable by group"));
    put("dns", "1234", 0600);
    assert_int_equal(chown(path, 4242, 0), 0); /* another user's file */
    assert_non_null(strstr(refusal("dns"), "owned by uid 4242"));
}

static void refuses_symlinks_and_non_files(void **state)
{
    (void)state;
    put("real", "1234", 0600);
    char link[512], sub[512];
    snprintf(link, sizeof link, "%s/dns", dir);
    unlink(link);
    assert_int_equal(symlink("real", link), 0);
    assert_non_null(strstr(refusal("dns"), "symlink"));
    unlink(link);
    snprintf(sub, sizeof sub, "%s/dns", dir);
    mkdir(sub, 0700);
    assert_non_null(strstr(refusal("dns"), "not a regular file"));
    rmdir(sub);
}

static void missing_pin_says_how_to_set_it(void **state)
{
    (void)state;
    hc_pin_t pin;
    hc_err_t err = { 0 };
    assert_int_equal(hc_pin_read(dir, "nothere", &pin, NULL, &err), CKR_USER_PIN_NOT_INITIALIZED);
    assert_non_null(strstr(err.msg, "hsmcache pin set nothere"));
    put("empty", "", 0600);
    assert_non_null(strstr(refusal("empty"), "1 to 255 bytes"));
}

/* hc_pin_inspect gives the same verdict in parts: what and the fix. */
static void inspect_says_why_in_parts(void **state)
{
    (void)state;
    char path[512], fix[600];
    snprintf(path, sizeof path, "%s/dns", dir);
    hc_pin_state_t ps;
    hc_pin_inspect(dir, "dns", &ps);
    assert_int_equal(ps.verdict, HC_PIN_ABSENT);
    assert_string_equal(ps.path, path);
    put("dns", "1234", 0644);
    hc_pin_inspect(dir, "dns", &ps);
    assert_int_equal(ps.verdict, HC_PIN_REFUSED);
    assert_string_equal(ps.what, "is readable by others");
    snprintf(fix, sizeof fix, "chmod 600 %s", path);
    assert_string_equal(ps.fix, fix);
    put("dns", "", 0600);
    hc_pin_inspect(dir, "dns", &ps);
    assert_int_equal(ps.verdict, HC_PIN_REFUSED);
    assert_non_null(strstr(ps.what, "holds 0 bytes"));
    put("dns", "1234", 0600);
    hc_pin_inspect(dir, "dns", &ps);
    assert_int_equal(ps.verdict, HC_PIN_USABLE);
    hc_pin_inspect(dir, "../dns", &ps);
    assert_int_equal(ps.verdict, HC_PIN_REFUSED);
}

static void write_is_atomic_and_private(void **state)
{
    (void)state;
    char store[300], path[400];
    snprintf(store, sizeof store, "%s/store", dir);
    assert_int_equal(hc_pin_write(store, "dns", (const unsigned char *)"1111", 4, NULL), CKR_OK);
    hc_pin_version_t v1, v2;
    assert_int_equal(hc_pin_check(store, "dns", &v1, NULL), CKR_OK);
    assert_int_equal(hc_pin_write(store, "dns", (const unsigned char *)"2222", 4, NULL), CKR_OK);
    assert_int_equal(hc_pin_check(store, "dns", &v2, NULL), CKR_OK);
    assert_false(hc_pin_version_equal(&v1, &v2));
    snprintf(path, sizeof path, "%s/dns", store);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(store, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    hc_pin_t pin;
    assert_int_equal(hc_pin_read(store, "dns", &pin, NULL, NULL), CKR_OK);
    assert_memory_equal(pin.bytes, "2222", 4);
    hc_pin_wipe(&pin);
    /* Refused input leaves the old file and no temp file behind. */
    hc_err_t err = { 0 };
    assert_int_not_equal(hc_pin_write(store, "dns", (const unsigned char *)"a\nb", 3, &err),
                         CKR_OK);
    assert_int_equal(hc_pin_read(store, "dns", &pin, NULL, NULL), CKR_OK);
    assert_memory_equal(pin.bytes, "2222", 4);
    hc_pin_wipe(&pin);
    DIR *d = opendir(store);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d)))
        files += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    assert_int_equal(files, 1);
}

static void credentials_directory_wins(void **state)
{
    (void)state;
    char creds[300], path[400];
    snprintf(creds, sizeof creds, "%s/creds", dir);
    mkdir(creds, 0700);
    snprintf(path, sizeof path, "%s/hsmcache-pin-dns", creds);
    FILE *f = fopen(path, "w");
    fputs("from-creds", f);
    fclose(f);
    chmod(path, 0400);
    put("dns", "from-store", 0600);
    setenv("CREDENTIALS_DIRECTORY", creds, 1);
    hc_pin_t pin;
    assert_int_equal(hc_pin_read(dir, "dns", &pin, NULL, NULL), CKR_OK);
    assert_int_equal(pin.len, 10);
    assert_memory_equal(pin.bytes, "from-creds", 10);
    hc_pin_wipe(&pin);
    unsetenv("CREDENTIALS_DIRECTORY");
}

static void rejection_mark_matches_one_version(void **state)
{
    (void)state;
    char store[300], cache[300];
    snprintf(store, sizeof store, "%s/s2", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    hc_pin_version_t v1, v2;
    hc_pin_write(store, "dns", (const unsigned char *)"bad", 3, NULL);
    hc_pin_check(store, "dns", &v1, NULL);
    assert_false(hc_pinmark_matches(cache, "dns", &v1, NULL, NULL));
    assert_true(hc_pinmark_set(cache, "dns", &v1, CKR_PIN_INCORRECT));
    CK_RV rv = 0;
    assert_true(hc_pinmark_matches(cache, "dns", &v1, &rv, NULL));
    assert_int_equal(rv, CKR_PIN_INCORRECT);
    hc_pin_write(store, "dns", (const unsigned char *)"good", 4, NULL);
    hc_pin_check(store, "dns", &v2, NULL);
    assert_false(hc_pinmark_matches(cache, "dns", &v2, NULL, NULL));
    hc_pinmark_clear(cache, "dns");
    assert_false(hc_pinmark_matches(cache, "dns", &v1, NULL, NULL));
}

/* Fail closed: a mark that cannot be kept or read is an error naming the
 * path, never "no mark" (the caller then tries no login). Root passes
 * permission checks, so the unusable dirs here are files. */
static void unusable_mark_is_an_error(void **state)
{
    (void)state;
    char cache[300], file[300], why[600], mark[400];
    snprintf(file, sizeof file, "%s/a-file", dir);
    close(open(file, O_CREAT | O_WRONLY, 0600));
    snprintf(cache, sizeof cache, "%s/a-file/cache", dir);
    assert_int_equal(hc_pinmark_lock(cache, "dns", why, sizeof why), -1);
    assert_non_null(strstr(why, cache));
    snprintf(cache, sizeof cache, "%s/c2", dir);
    mkdir(cache, 0700);
    snprintf(mark, sizeof mark, "%s/pin-rejected", cache);
    close(open(mark, O_CREAT | O_WRONLY, 0600)); /* a file, not a dir */
    assert_int_equal(hc_pinmark_lock(cache, "dns", why, sizeof why), -1);
    assert_non_null(strstr(why, mark));
    unlink(mark);
    mkdir(mark, 0700);
    snprintf(mark, sizeof mark, "%s/pin-rejected/dns", cache);
    mkdir(mark, 0700); /* a mark that cannot be read as one */
    hc_pin_version_t v = { 0 };
    assert_int_equal(hc_pinmark_read(cache, "dns", &v, NULL, NULL, why, sizeof why), -1);
    assert_non_null(strstr(why, mark));
    assert_false(hc_pinmark_matches(cache, "dns", &v, NULL, NULL));
    rmdir(mark);
    assert_int_equal(hc_pinmark_read(cache, "dns", &v, NULL, NULL, why, sizeof why), 0);
    int fd = hc_pinmark_lock(cache, "dns", why, sizeof why);
    assert_true(fd >= 0);
    hc_pinmark_unlock(fd);
}

/* The bounded lock (a late C_Login's report): held elsewhere (another
 * open file, as another process would hold it), it gives up after about
 * the wait, saying why; free, it is taken at once. */
static void bounded_lock_gives_up(void **state)
{
    (void)state;
    char cache[300], why[600] = "";
    snprintf(cache, sizeof cache, "%s/c3", dir);
    int held = hc_pinmark_lock(cache, "dns", why, sizeof why);
    assert_true(held >= 0);
    uint64_t t0 = hc_now_ms();
    assert_int_equal(hc_pinmark_lock_within(cache, "dns", 150, why, sizeof why), -1);
    uint64_t waited = hc_now_ms() - t0;
    assert_true(waited >= 150 && waited < 5000);
    assert_non_null(strstr(why, "still locked by another login"));
    hc_pinmark_unlock(held);
    int fd = hc_pinmark_lock_within(cache, "dns", 150, why, sizeof why);
    assert_true(fd >= 0);
    hc_pinmark_unlock(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reads_pin_without_trailing_newline, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_unsafe_files_with_fix, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_symlinks_and_non_files, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_pin_says_how_to_set_it, setup, teardown),
        cmocka_unit_test_setup_teardown(inspect_says_why_in_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(write_is_atomic_and_private, setup, teardown),
        cmocka_unit_test_setup_teardown(credentials_directory_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(rejection_mark_matches_one_version, setup, teardown),
        cmocka_unit_test_setup_teardown(unusable_mark_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(bounded_lock_gives_up, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
