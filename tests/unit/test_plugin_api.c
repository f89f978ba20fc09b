/* test_plugin_api.c: what hsmcache.h gives plugins besides tokens and
 * keys (with-token.sh's config: token "dns", [pdns] signature-cache on):
 * their profile's settings by key and kind, their own stats group as
 * `hsmcache stats` prints it, software digests and DigestInfo, and the
 * PIN store call pdns-hsm migrate uses. Each answer is compared with what
 * the config says or an independent computation (OpenSSL), never with the
 * code's own output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmcache.h"

static hc_ctx_t *open_ctx(const char *profile)
{
    hc_ctx_t *ctx = NULL;
    hc_err_t err = { 0 };
    if (hc_open(profile, NULL, &ctx, &err) != CKR_OK)
        fail_msg("hc_open: %s", err.msg);
    return ctx;
}

static void settings_by_key_and_kind(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx(HC_PROFILE_PDNS);
    hc_err_t err = { 0 };
    bool b = false;
    long long n = 0;
    /* the config's value, then the documented defaults */
    assert_int_equal(hc_setting_bool(ctx, "signature-cache", &b, &err), CKR_OK);
    assert_true(b);
    assert_int_equal(hc_setting_bool(ctx, "presign", &b, &err), CKR_OK);
    assert_true(b);
    assert_int_equal(hc_setting_number(ctx, "presign-lead", &n, &err), CKR_OK);
    assert_int_equal(n, 48 * 3600);
    assert_int_equal(hc_setting_number(ctx, "presign-rate", &n, &err), CKR_OK);
    assert_int_equal(n, 10);
    /* a typo and a wrong kind fail closed, naming section and key */
    assert_int_equal(hc_setting_bool(ctx, "presgin", &b, &err), CKR_ARGUMENTS_BAD);
    assert_string_equal(err.msg, "[pdns] has no key presgin");
    assert_int_equal(hc_setting_number(ctx, "presign", &n, &err), CKR_ARGUMENTS_BAD);
    assert_string_equal(err.msg, "[pdns] presign is yes or no, not a number");
    const char *t = NULL;
    assert_int_equal(hc_setting_text(ctx, "keys", &t, &err), CKR_ARGUMENTS_BAD);
    hc_close(ctx);
    /* [sshca]'s own keys, defaults where the config is silent */
    ctx = open_ctx(HC_PROFILE_SSHCA);
    assert_int_equal(hc_setting_text(ctx, "audit-log", &t, &err), CKR_OK);
    assert_string_equal(t, "/var/log/hsmcache/sshca.log");
    const char *const *items = NULL;
    size_t count = 9;
    assert_int_equal(hc_setting_list(ctx, "allowed-users", &items, &count, &err), CKR_OK);
    assert_int_equal(count, 0);
    assert_int_equal(hc_setting_bool(ctx, "presign", &b, &err), CKR_ARGUMENTS_BAD);
    hc_close(ctx);
}

static char *stats_text(hc_ctx_t *ctx, bool prometheus)
{
    char *out = NULL;
    hc_err_t err = { 0 };
    assert_int_equal(hc_stats_text(ctx, prometheus, &out, &err), CKR_OK);
    return out;
}

static void stats_group_shown_while_on(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx(HC_PROFILE_PDNS);
    static const hc_stat_def_t defs[] = { { "lead", "s" }, { "inputs_dropped", "" } };
    hc_plugin_stats_t *s = NULL;
    hc_err_t err = { 0 };
    assert_int_equal(hc_stats_register(ctx, "testgrp", defs, 2, &s, &err), CKR_OK);
    hc_stat_set(s, 0, 172800);
    hc_stat_add(s, 1, 3);
    hc_stat_add(s, 1, 4);
    hc_stat_set(s, 2, 99); /* past the group: ignored */
    char *txt = stats_text(ctx, false);
    assert_null(strstr(txt, "testgrp:")); /* not shown yet */
    free(txt);
    hc_stats_show(s, true);
    txt = stats_text(ctx, false);
    assert_non_null(strstr(txt, "\ntestgrp: lead 172800s, inputs dropped 7\n"));
    free(txt);
    txt = stats_text(ctx, true);
    assert_non_null(strstr(txt, "\nhsmcache_testgrp_lead 172800\n"));
    assert_non_null(strstr(txt, "\nhsmcache_testgrp_inputs_dropped 7\n"));
    free(txt);
    hc_stats_show(s, false);
    txt = stats_text(ctx, false);
    assert_null(strstr(txt, "testgrp:"));
    free(txt);
    /* one group per context */
    hc_plugin_stats_t *again = NULL;
    assert_int_equal(hc_stats_register(ctx, "other", defs, 1, &again, &err), CKR_ARGUMENTS_BAD);
    assert_null(again);
    hc_close(ctx);
}

static void stats_names_checked(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx(HC_PROFILE_PDNS);
    hc_plugin_stats_t *s = NULL;
    hc_err_t err = { 0 };
    const hc_stat_def_t ok = { "done", "" }, bad_name = { "Done-1", "" },
                        bad_unit = { "done", "a,b" };
    assert_int_equal(hc_stats_register(ctx, "pre\nsign", &ok, 1, &s, &err), CKR_ARGUMENTS_BAD);
    assert_int_equal(hc_stats_register(ctx, "presign_is_too_long", &ok, 1, &s, &err),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(hc_stats_register(ctx, "g", &bad_name, 1, &s, &err), CKR_ARGUMENTS_BAD);
    assert_non_null(strstr(err.msg, "Done-1"));
    assert_int_equal(hc_stats_register(ctx, "g", &bad_unit, 1, &s, &err), CKR_ARGUMENTS_BAD);
    assert_int_equal(hc_stats_register(ctx, "g", &ok, 0, &s, &err), CKR_ARGUMENTS_BAD);
    assert_int_equal(hc_stats_register(ctx, "g", &ok, HC_PLUGIN_STATS + 1, &s, &err),
                     CKR_ARGUMENTS_BAD);
    assert_null(s);
    /* refusals took nothing: the context still registers its group */
    assert_int_equal(hc_stats_register(ctx, "g", &ok, 1, &s, &err), CKR_OK);
    hc_close(ctx);
}

static void digests_as_openssl(void **state)
{
    (void)state;
    static const unsigned char msg[] = "www.example.com. 3600 IN A 192.0.2.80";
    const struct {
        CK_MECHANISM_TYPE m;
        const char *name;
    } ds[] = {
        { CKM_SHA_1, "SHA1" },
        { CKM_SHA256, "SHA256" },
        { CKM_SHA384, "SHA384" },
        { CKM_SHA512, "SHA512" },
    };
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        unsigned char want[EVP_MAX_MD_SIZE], got[64];
        unsigned int wl = 0;
        assert_true(
            EVP_Digest(msg, sizeof msg - 1, want, &wl, EVP_get_digestbyname(ds[i].name), NULL));
        size_t gl = sizeof got;
        assert_int_equal(hc_digest(ds[i].m, msg, sizeof msg - 1, got, &gl), CKR_OK);
        assert_int_equal(gl, wl);
        assert_memory_equal(got, want, wl);
        /* DigestInfo: the digest is its tail, after RFC 8017's prefix */
        unsigned char di[128];
        size_t dl = hc_digest_info(ds[i].m, got, gl, di, sizeof di);
        assert_int_equal(dl, (ds[i].m == CKM_SHA_1 ? 15 : 19) + gl);
        assert_memory_equal(di + dl - gl, want, wl);
        assert_int_equal(hc_digest_info(ds[i].m, got, gl - 1, di, sizeof di), 0);
        assert_int_equal(hc_digest_info(ds[i].m, got, gl, di, dl - 1), 0);
    }
    unsigned char small[16];
    size_t sl = sizeof small;
    assert_int_equal(hc_digest(CKM_SHA256, msg, 3, small, &sl), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(sl, 32);
    sl = 0;
    assert_int_equal(hc_digest(CKM_SHA384, msg, 3, NULL, &sl), CKR_OK);
    assert_int_equal(sl, 48);
    sl = sizeof small;
    assert_int_equal(hc_digest(CKM_RSA_PKCS, msg, 3, small, &sl), CKR_MECHANISM_INVALID);
}

/* with-token.sh stored the test PIN for "dns": read back from its file. */
static void pin_store_keeps_its_pin(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx(HC_PROFILE_CLI);
    hc_err_t err = { 0 };
    long tok = hc_token_index(ctx, "dns");
    assert_true(tok >= 0);
    char file[4096], want[4096];
    assert_int_equal(hc_token_pin_file(ctx, (size_t)tok, file, sizeof file, &err), CKR_OK);
    snprintf(want, sizeof want, "%s/pins/dns", getenv("HC_TEST_DIR"));
    assert_string_equal(file, want);
    assert_int_equal(hc_token_pin_file(ctx, (size_t)tok, file, 8, &err), CKR_BUFFER_TOO_SMALL);
    bool written = true;
    char pin[256] = "";
    FILE *f = fopen(want, "r");
    assert_non_null(f);
    assert_non_null(fgets(pin, sizeof pin, f));
    fclose(f);
    pin[strcspn(pin, "\n")] = '\0';
    assert_int_equal(hc_token_pin_store(ctx, (size_t)tok, (const unsigned char *)pin, strlen(pin),
                                        &written, &err),
                     CKR_OK);
    assert_false(written);
    assert_int_equal(
        hc_token_pin_store(ctx, (size_t)tok, (const unsigned char *)"other", 5, &written, &err),
        CKR_PIN_INVALID);
    assert_false(written);
    assert_non_null(strstr(err.msg, want));
    assert_int_equal(hc_token_pin_store(ctx, 99, (const unsigned char *)"x", 1, &written, &err),
                     CKR_SLOT_ID_INVALID);
    hc_close(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(settings_by_key_and_kind), cmocka_unit_test(stats_group_shown_while_on),
        cmocka_unit_test(stats_names_checked),      cmocka_unit_test(digests_as_openssl),
        cmocka_unit_test(pin_store_keeps_its_pin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
