/* test_sshca_keygen.c: the SSH CA module's reading of ssh-keygen's argv
 * (sshca-plugin/keygen.h), for what the differential test cannot reach
 * with the installed 9.2: the 10.0 table and its stricter -V times,
 * releases it does not know, options it does not have, exact -V values
 * at a fixed time. The pure files are compiled in (no /proc, no clock). */
#include "../../sshca-plugin/certopts.c"
#include "../../sshca-plugin/keygen_argv.c"
#include "../../sshca-plugin/validity.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#define NOW ((time_t)1800000000) /* 2027-01-15T08:00:00Z */

static char why[400];

/* Parses the NULL-terminated argv as `release` would; 0 or -1. */
static int parse(const char *release, sshca_request_t *r, ...)
{
    const char *argv[64] = { "ssh-keygen" };
    int argc = 1;
    va_list ap;
    va_start(ap, r);
    for (const char *a; (a = va_arg(ap, const char *));)
        argv[argc++] = a;
    va_end(ap);
    const sshca_keygen_version_t *v = sshca_keygen_version(release);
    assert_non_null(v);
    why[0] = '\0';
    return sshca_keygen_parse(v, argc, (char *const *)argv, NOW, r, why, sizeof why);
}

static void releases(void **state)
{
    (void)state;
    assert_non_null(sshca_keygen_version("9.2p1"));
    assert_non_null(sshca_keygen_version("10.0p1"));
    assert_null(sshca_keygen_version("10.5p1")); /* -V fractions: not read yet */
    assert_null(sshca_keygen_version("9.3p1"));
    assert_null(sshca_keygen_version(""));
}

/* 10.0's convtime takes digits only; 9.2's strtol takes a sign and blanks. */
static void convtime_by_release(void **state)
{
    (void)state;
    sshca_request_t r;
    assert_int_equal(parse("9.2p1", &r, "-s", "ca", "-I", "x", "-V", "++1h", "k.pub", NULL), 0);
    assert_true(r.certify && r.backdated);
    assert_int_equal(r.valid_before, (uint64_t)NOW + 3600);
    sshca_request_free(&r);
    assert_int_equal(parse("10.0p1", &r, "-s", "ca", "-I", "x", "-V", "++1h", "k.pub", NULL), -1);
    assert_non_null(strstr(why, "-V '++1h'"));
    assert_int_equal(parse("9.2p1", &r, "-s", "ca", "-I", "x", "-V", "-0:+ 1h", "k.pub", NULL), 0);
    assert_int_equal(r.valid_after, (uint64_t)NOW);
    assert_int_equal(r.valid_before, (uint64_t)NOW + 3600);
    sshca_request_free(&r);
    assert_int_equal(parse("10.0p2", &r, "-s", "ca", "-I", "x", "-V", "-0:+ 1h", "k.pub", NULL),
                     -1);
    assert_non_null(strstr(why, "the end '+ 1h'"));
}

static void validity_values(void **state)
{
    (void)state;
    const sshca_keygen_version_t *v = sshca_keygen_version("9.2p1");
    uint64_t a, b;
    bool back;
    /* +TIME: backdated to a minute boundary 59-118 s back */
    assert_int_equal(sshca_validity(v, "+8h", NOW, &a, &b, &back, why, sizeof why), 0);
    assert_int_equal(a, (uint64_t)(NOW - 59) / 60 * 60);
    assert_int_equal(b, (uint64_t)NOW + 8 * 3600);
    assert_int_equal(
        sshca_validity(v, "0x10:0xffffffffffffffff", NOW, &a, &b, &back, why, sizeof why), 0);
    assert_true(a == 16 && b == UINT64_MAX && !back);
    assert_int_equal(
        sshca_validity(v, "20270101Z:20270102UTC", NOW, &a, &b, &back, why, sizeof why), 0);
    assert_true(a == 1798761600 && b == 1798761600 + 86400);
    char text[48];
    sshca_validity_format(a, b, text, sizeof text);
    assert_string_equal(text, "20270101000000Z:20270102000000Z");
    sshca_validity_format(0, UINT64_MAX, text, sizeof text);
    assert_string_equal(text, "always:forever");
    const char *bad[] = { "20270101",
                          "0x10",
                          "-1h",
                          "forever:+1h",
                          "+1h:always",
                          "+2h:+1h",
                          ":+1h",
                          "+1h:",
                          "0X10:0X20",
                          "0x:0x20",
                          "0x10000000000000000:forever",
                          "+2147483648",
                          "+1x",
                          "-1h:+1h:+2h" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sshca_validity(v, bad[i], NOW, &a, &b, &back, why, sizeof why) == 0)
            fail_msg("-V %s was accepted", bad[i]);
}

static void argv_shapes(void **state)
{
    (void)state;
    sshca_request_t r;
    /* an option the table does not have is refused, naming it */
    assert_int_equal(parse("9.2p1", &r, "-s", "ca", "-j", "-I", "x", "k.pub", NULL), -1);
    assert_non_null(strstr(why, "-j is not an option of ssh-keygen 9.2p1"));
    assert_int_equal(parse("9.2p1", &r, "-s", "ca", "-I", NULL), -1);
    assert_non_null(strstr(why, "-I needs a value"));
    /* -h- : h, then the lone '-' ends the options; "-h-" is a file */
    assert_int_equal(parse("9.2p1", &r, "-s", "ca", "-I", "x", "-h-", "k.pub", NULL), 0);
    assert_true(r.host && r.nfiles == 2);
    assert_string_equal(r.files[0], "-h-");
    sshca_request_free(&r);
    /* options after a file are files */
    assert_int_equal(parse("9.2p1", &r, "-s", "ca", "-I", "x", "k.pub", "-h", "-n", "w", NULL), 0);
    assert_true(!r.host && r.nprincipals == 0 && r.nfiles == 4 && r.valid_before == UINT64_MAX);
    sshca_request_free(&r);
    /* grouped flags and attached values; the last -n; -z +N sticks */
    assert_int_equal(parse("9.2p1", &r, "-qhIweb", "-sca", "-n", "a", "-nb,c", "-z", "+5", "-z",
                           "9", "--", "-k.pub", "k2.pub", NULL),
                     0);
    assert_true(r.certify && r.host && !strcmp(r.key_id, "web"));
    assert_true(r.nprincipals == 2 && !strcmp(r.principals[1], "c"));
    assert_true(sshca_request_serial(&r, 1) == 10 && !strcmp(r.files[0], "-k.pub"));
    sshca_request_free(&r);
    /* -k: a KRL, nothing certified */
    assert_int_equal(parse("9.2p1", &r, "-k", "-s", "ca", "-I", "x", "k.pub", NULL), 0);
    assert_false(r.certify);
    sshca_request_free(&r);
}

static void certificate_options(void **state)
{
    (void)state;
    sshca_request_t r;
    assert_int_equal(parse("10.0p1", &r, "-s", "ca", "-I", "x", "-O", "clear", "-O", "PERMIT-PTY",
                           "-O", "extension:z@x=1", "-O", "force-command=/bin/true", "k.pub", NULL),
                     0);
    const char *want[] = { "force-command=/bin/true", "permit-pty", "extension:z@x=1" };
    assert_int_equal(r.noptions, 3);
    for (size_t i = 0; i < 3; i++) {
        char *t = sshca_certopt_text(&r.options[i]);
        assert_string_equal(t, want[i]);
        free(t);
    }
    sshca_request_free(&r);
    assert_int_equal(parse("9.2p1", &r, "-s", "ca", "-I", "x", "-O", "bogus", "k.pub", NULL), -1);
    assert_non_null(strstr(why, "-O 'bogus'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(releases),
        cmocka_unit_test(convtime_by_release),
        cmocka_unit_test(validity_values),
        cmocka_unit_test(argv_shapes),
        cmocka_unit_test(certificate_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
