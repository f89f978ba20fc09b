/* test_p11kit_rules.c: p11kit_rules.h answers as p11-kit 0.24 does. Each
 * case below was run through the real p11-kit (`p11-kit list-modules`
 * copied under the program's name, the module file in a private
 * /etc/pkcs11/modules, one module library per file) and its answer is the
 * expected value here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/p11kit_rules.h"

#define M "module: /usr/lib/x86_64-linux-gnu/hsmcache/hsmcache-pdns.so\n"

static bool on(const char *text, const char *prog)
{
    return hc_p11kit_enabled(text, strlen(text), prog);
}

static void no_rule_loads_everywhere(void **state)
{
    (void)state;
    assert_true(on(M, "pdnsutil"));
    assert_true(on(M, "p11tool"));
    assert_true(on(M, NULL));
    assert_true(on(M "#enable-in: foo\n", "pdnsutil")); /* a comment */
}

static void enable_in_names_the_programs(void **state)
{
    (void)state;
    const char *f = M "enable-in: pdns_server, pdnsutil\n";
    assert_true(on(f, "pdns_server"));
    assert_true(on(f, "pdnsutil"));
    assert_false(on(f, "p11-kit"));
    assert_false(on(f, "p11tool"));
    assert_false(on(f, "pdns")); /* whole names only */
    assert_false(on(f, "pdnsutil2"));
    assert_false(on(f, "lt-pdnsutil")); /* no libtool stripping */
    assert_false(on(f, "PDNSUTIL"));    /* case-sensitive */
    assert_false(on(f, NULL));
    assert_false(on(f, ""));
    assert_true(on(M "enable-in: pdnsutil2, pdnsutil\n", "pdnsutil"));
    assert_true(on(M "enable-in:pdns_server,pdnsutil\n", "pdnsutil"));
    assert_true(on(M "  enable-in   :   foo pdnsutil  \n", "pdnsutil"));
    assert_true(on(M "enable-in: pdnsutil\tfoo\n", "pdnsutil"));
    assert_true(on(M "enable-in: ,pdnsutil,\n", "pdnsutil"));
    assert_true(on(M "enable-in: foo # pdnsutil\n", "pdnsutil")); /* '#' mid-line is a word */
    assert_false(on(M "enable-in: PDNSUTIL\n", "pdnsutil"));
    assert_true(on(M "enable-in: pdnsutil\r\n", "pdnsutil"));
}

static void empty_enable_in_loads_nowhere(void **state)
{
    (void)state;
    assert_false(on(M "enable-in:\n", "pdnsutil"));
    assert_false(on(M "enable-in:", "p11-kit"));
    assert_false(on(M "enable-in:   \n", NULL));
}

static void disable_in_and_precedence(void **state)
{
    (void)state;
    assert_false(on(M "disable-in: pdnsutil\n", "pdnsutil"));
    assert_true(on(M "disable-in: pdnsutil\n", "lt-pdnsutil"));
    assert_true(on(M "disable-in: pdnsutil\n", NULL));
    /* both: enable-in decides */
    assert_true(on(M "enable-in: pdnsutil\ndisable-in: pdnsutil\n", "pdnsutil"));
    assert_false(on(M "disable-in: foo\nenable-in: pdnsutil\n", "foo"));
    /* a key given twice: the last */
    assert_true(on(M "enable-in: foo\nenable-in: pdnsutil\n", "pdnsutil"));
    assert_false(on(M "enable-in: foo\nenable-in: pdnsutil\n", "foo"));
}

static void broken_files_are_refused(void **state)
{
    (void)state;
    /* p11-kit loads no module at all from a registry with these */
    assert_false(on(M "enable-in pdnsutil\n", "pdnsutil"));
    assert_false(on(M "[x]\nenable-in: pdnsutil\n", "pdnsutil"));
    assert_false(on("garbage\n", "pdnsutil"));
    const char nul[] = M "enable-in: pdnsutil\n\0x: y\n";
    assert_false(hc_p11kit_enabled(nul, sizeof nul - 1, "pdnsutil"));
    assert_false(hc_p11kit_enabled(NULL, 0, "pdnsutil"));
    assert_true(hc_p11kit_enabled("", 0, "pdnsutil")); /* no rule in it */
}

static void files_are_read_from_the_start(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    fputs(M "enable-in: pdns_server, pdnsutil\n", f);
    assert_true(hc_p11kit_file_enabled(f, "pdnsutil")); /* position at the end */
    assert_false(hc_p11kit_file_enabled(f, "p11tool"));
    fclose(f);
    /* longer than any module file: refused, even with the rule at its start */
    f = tmpfile();
    assert_non_null(f);
    fputs(M "enable-in: pdnsutil\n", f);
    for (int i = 0; i < HC_P11KIT_FILE_MAX / 8; i++)
        fputs("# pad  \n", f);
    assert_false(hc_p11kit_file_enabled(f, "pdnsutil"));
    fclose(f);
}

static void progname_is_ours(void **state)
{
    (void)state;
    assert_string_equal(hc_p11kit_progname(), "test_p11kit_rules");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_rule_loads_everywhere),
        cmocka_unit_test(enable_in_names_the_programs),
        cmocka_unit_test(empty_enable_in_loads_nowhere),
        cmocka_unit_test(disable_in_and_precedence),
        cmocka_unit_test(broken_files_are_refused),
        cmocka_unit_test(files_are_read_from_the_start),
        cmocka_unit_test(progname_is_ours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
