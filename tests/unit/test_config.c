/* test_config.c: the config parser accepts what it documents and names
 * file, line, section and key for everything it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "config.h"

static hc_config_t *parse_ok(const char *text)
{
    hc_config_t *cfg = NULL;
    hc_err_t err = { 0 };
    CK_RV rv = hc_config_parse("t.conf", text, strlen(text), &cfg, &err);
    if (rv != CKR_OK)
        fail_msg("unexpected error: %s", err.msg);
    return cfg;
}

/* Parses `text`, expects failure, returns the message (static). */
static const char *parse_err(const char *text)
{
    static hc_err_t err;
    hc_config_t *cfg = NULL;
    memset(&err, 0, sizeof err);
    assert_int_not_equal(hc_config_parse("t.conf", text, strlen(text), &cfg, &err), CKR_OK);
    assert_null(cfg);
    return err.msg;
}

static void valid_config_with_defaults(void **state)
{
    (void)state;
    hc_config_t *c = parse_ok("; comment\n[core]\npin-store = /p\n"
                              "[token dns]\nmodule = softhsm2 ; inline\nlabel = dns-hsm\n"
                              "max-sessions = 8\n[token ssh]\nmodule = /x.so\nserial = 123\n"
                              "[sshca]\ntokens = ssh\n");
    assert_string_equal(c->pin_store, "/p");
    assert_string_equal(c->cache_dir, HC_DEFAULT_CACHE_DIR);
    assert_int_equal(c->ntokens, 2);
    assert_string_equal(c->tokens[0].module, "softhsm2");
    assert_string_equal(c->tokens[0].label, "dns-hsm");
    assert_int_equal(c->tokens[0].max_sessions, 8);
    assert_int_equal(c->tokens[1].max_sessions, 4);
    assert_string_equal(c->tokens[1].serial, "123");
    assert_true(c->profiles[HC_P_PDNS].signature_cache);   /* default on */
    assert_false(c->profiles[HC_P_SSHCA].signature_cache); /* default off */
    assert_int_equal(c->profiles[HC_P_SSHCA].ntokens, 1);
    hc_config_free(c);
}

static void unknown_key_names_file_line_section_key(void **state)
{
    (void)state;
    const char *m = parse_err("[core]\npin-store = /p\n[token dns]\nmodule = m\nlabell = x\n");
    assert_non_null(strstr(m, "t.conf:5:"));
    assert_non_null(strstr(m, "[token dns]"));
    assert_non_null(strstr(m, "labell"));
    assert_non_null(strstr(m, "unknown key"));
}

static void unknown_section_is_an_error(void **state)
{
    (void)state;
    const char *m = parse_err("[core]\n[cor]\n");
    assert_non_null(strstr(m, "t.conf:2:"));
    assert_non_null(strstr(m, "[cor]"));
}

static void empty_token_section_is_caught(void **state)
{
    (void)state;
    const char *m = parse_err("[token dns]\n\n[core]\n");
    assert_non_null(strstr(m, "t.conf:1:"));
    assert_non_null(strstr(m, "missing key 'module'"));
}

static void token_without_label_or_serial(void **state)
{
    (void)state;
    const char *m = parse_err("[token dns]\nmodule = softhsm2\n");
    assert_non_null(strstr(m, "'label' or 'serial'"));
}

static void bad_values_are_named(void **state)
{
    (void)state;
    const char *m = parse_err("[token a]\nmodule = m\nlabel = l\nmax-sessions = many\n");
    assert_non_null(strstr(m, "t.conf:4:"));
    assert_non_null(strstr(m, "max-sessions"));
    m = parse_err("[pdns]\nsignature-cache = maybe\n");
    assert_non_null(strstr(m, "t.conf:2: [pdns] signature-cache"));
    m = parse_err("[core]\ncache-dir = relative/dir\n");
    assert_non_null(strstr(m, "absolute path"));
    m = parse_err("[core]\nlog-level = loud\n");
    assert_non_null(strstr(m, "log-level"));
}

static void profile_tokens_must_exist(void **state)
{
    (void)state;
    const char *m = parse_err("[token a]\nmodule = m\nlabel = l\n[pdns]\ntokens = a, b\n");
    assert_non_null(strstr(m, "[pdns] tokens"));
    assert_non_null(strstr(m, "token b"));
}

static void invalid_token_names(void **state)
{
    (void)state;
    assert_non_null(strstr(parse_err("[token ../x]\n"), "not a valid token name"));
    assert_non_null(strstr(parse_err("[token .hidden]\n"), "not a valid token name"));
    assert_non_null(strstr(parse_err("[token a]\nmodule=m\nlabel=l\n[token a]\n"), "twice"));
}

static void module_hsmcache_refused(void **state)
{
    (void)state;
    assert_non_null(strstr(parse_err("[token a]\nmodule = hsmcache\nlabel = l\n"),
                           "this module itself"));
}

static void long_line_and_syntax_errors(void **state)
{
    (void)state;
    char text[600] = "[core]\npin-store = /";
    memset(text + strlen(text), 'a', 400);
    assert_non_null(strstr(parse_err(text), "t.conf:2: line longer"));
    assert_non_null(strstr(parse_err("[core]\njust words\n"), "t.conf:2: syntax error"));
    assert_non_null(strstr(parse_err("key = value\n"), "outside any section"));
}

static void missing_file_is_named(void **state)
{
    (void)state;
    hc_config_t *cfg;
    hc_err_t err = { 0 };
    assert_int_not_equal(hc_config_load("/nonexistent/hsmcache.conf", &cfg, &err), CKR_OK);
    assert_non_null(strstr(err.msg, "/nonexistent/hsmcache.conf"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_config_with_defaults),
        cmocka_unit_test(unknown_key_names_file_line_section_key),
        cmocka_unit_test(unknown_section_is_an_error),
        cmocka_unit_test(empty_token_section_is_caught),
        cmocka_unit_test(token_without_label_or_serial),
        cmocka_unit_test(bad_values_are_named),
        cmocka_unit_test(profile_tokens_must_exist),
        cmocka_unit_test(invalid_token_names),
        cmocka_unit_test(module_hsmcache_refused),
        cmocka_unit_test(long_line_and_syntax_errors),
        cmocka_unit_test(missing_file_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
