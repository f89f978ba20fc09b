/* test_group.c: token groups (core/group.h) against real SoftHSM tokens.
 * The setup (run once, under with-token.sh's $HC_TEST_DIR) makes three
 * tokens: ga and gb hold the same imported RSA key pair "gkey" (gb behind
 * the simulator, its own copy, so faults hit gb only), gc a different key
 * pair under the same label and id. Groups: ha = ga, gb; bad = ga, gc.
 * Signatures are checked with OpenSSL against the key pair's own public
 * key file, not the core's; which member signed is read from the
 * per-member counters (`hsmcache stats` text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "hsmcache.h"
#include "unit_shell.h"

static const unsigned char rrset[] = "www.example.com. 3600 IN A 192.0.2.80";
static char T[PATH_MAX], build[PATH_MAX];

#define PINV "Zq7-pin-4711-Xy"
#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"

static int setup(void **state)
{
    (void)state;
    const char *dir = getenv("HC_TEST_DIR");
    if (!dir || !unit_build_dir(build, sizeof build))
        return -1;
    snprintf(T, sizeof T, "%s/group", dir);
    sh("mkdir -p %s", T);
    for (const char *const *l = (const char *const[]){ "ga", "gb", "gc", NULL }; *l; l++)
        sh("printf 'so-pin-0815\\n%s\\n' | %s/tests/mktoken %s %s >/dev/null", PINV, build, SOFTHSM,
           *l);
    sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s/k1.pem 2>/dev/null",
       T);
    sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s/k2.pem 2>/dev/null",
       T);
    sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s/k3.pem 2>/dev/null",
       T);
    sh("openssl pkey -in %s/k1.pem -pubout -out %s/k1.pub", T, T);
    sh("openssl pkey -in %s/k3.pem -pubout -out %s/k3.pub", T, T);
    sh("softhsm2-util --import %s/k1.pem --token ga --label gkey --id 0a0b --pin %s >/dev/null", T,
       PINV);
    sh("softhsm2-util --import %s/k1.pem --token gb --label gkey --id 0a0b --pin %s >/dev/null", T,
       PINV);
    sh("softhsm2-util --import %s/k2.pem --token gc --label gkey --id 0a0b --pin %s >/dev/null", T,
       PINV);
    /* gb behind its own simulator copy over its own SoftHSM instance. */
    sh("cp %s/tests/hsmsim.so %s/hsmsim-b.so && cp %s %s/softhsm-b.so", build, T, SOFTHSM, T);
    sh("printf 'module = %s/softhsm-b.so\\nstate = %s/sim-b.state\\nlatency-ms = 0\\n"
       "latency.C_Sign = 20\\nconcurrency = 0\\n' > %s/sim-b.conf",
       T, T, T);
    char conf[PATH_MAX];
    snprintf(conf, sizeof conf, "%s/sim-b.conf", T);
    setenv("HSMSIM_CONF_hsmsim_b", conf, 1);
    sh("printf '[core]\\npin-store = %s/pins\\ncache-dir = %s/cache\\n"
       "[token ga]\\nmodule = softhsm2\\nlabel = ga\\n"
       "[token gb]\\nmodule = %s/hsmsim-b.so\\nlabel = gb\\ntimeout = 1\\n"
       "[token gc]\\nmodule = softhsm2\\nlabel = gc\\n"
       "[token ha]\\nmembers = ga, gb\\n"
       "[token bad]\\nmembers = ga, gc\\n"
       "[pkcs11]\\nsignature-cache = no\\n' > %s/hsmcache.conf",
       T, T, T, T);
    snprintf(conf, sizeof conf, "%s/hsmcache.conf", T);
    setenv("HSMCACHE_CONF", conf, 1);
    for (const char *const *l = (const char *const[]){ "ga", "gb", "gc", NULL }; *l; l++)
        sh("printf '%%s\\n' '%s' | %s/hsmcache pin set %s >/dev/null", PINV, build, *l);
    return 0;
}

static hc_ctx_t *open_ctx(void)
{
    hc_ctx_t *ctx = NULL;
    hc_err_t err = { 0 };
    if (hc_open(HC_PROFILE_PKCS11, NULL, &ctx, &err) != CKR_OK)
        fail_msg("hc_open: %s", err.msg);
    return ctx;
}

static hc_obj_t group_key(hc_ctx_t *ctx, const char *token, size_t want)
{
    long tok = hc_token_index(ctx, token);
    assert_true(tok >= 0);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_LABEL, "gkey", 4 } };
    hc_obj_t *objs = NULL;
    size_t n = 0;
    hc_err_t err = { 0 };
    if (hc_find(ctx, (size_t)tok, t, 2, &objs, &n, &err) != CKR_OK)
        fail_msg("find on %s: %s", token, err.msg);
    assert_int_equal(n, want);
    hc_obj_t o = n ? objs[0] : 0;
    free(objs);
    return o;
}

/* Signs rrset with SHA256-RSA: the module's answer, the error in `err`. */
static CK_RV sign_rrset(hc_ctx_t *ctx, hc_obj_t key, unsigned char *sig, size_t *len, hc_err_t *err)
{
    CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
    return hc_sign(ctx, key, &m, rrset, sizeof rrset, sig, len, err);
}

/* The public key in file NAME of the test's folder, or NULL (no cmocka
 * check: signing threads read it too). */
static EVP_PKEY *pub_key(const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", T, name);
    FILE *f = fopen(path, "r");
    EVP_PKEY *pub = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    return pub;
}

/* Whether a signature of rrset verifies with the public key file PUB
 * (OpenSSL); false when the file cannot be read either. */
static bool good_sig(const char *pub_file, const unsigned char *sig, size_t len)
{
    EVP_PKEY *pub = pub_key(pub_file);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    bool ok = pub && c && EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, pub) == 1 &&
              EVP_DigestVerify(c, sig, len, rrset, sizeof rrset) == 1;
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(pub);
    return ok;
}

/* Checks a signature of rrset with the public key file PUB. */
static void verifies_with(const char *pub_file, const unsigned char *sig, size_t len)
{
    if (!good_sig(pub_file, sig, len))
        fail_msg("a delivered signature does not verify with %s", pub_file);
}

static void verifies(const unsigned char *sig, size_t len)
{
    verifies_with("k1.pub", sig, len);
}

/* Signs rrset with SHA256-RSA and checks it with k1.pub (OpenSSL). */
static void signs_and_verifies(hc_ctx_t *ctx, hc_obj_t key)
{
    unsigned char sig[512];
    size_t len = sizeof sig;
    hc_err_t err = { 0 };
    if (sign_rrset(ctx, key, sig, &len, &err) != CKR_OK)
        fail_msg("sign: %s", err.msg);
    verifies(sig, len);
}

/* A counter from the stats text line starting with `head`; `field` is
 * the word(s) before the number; *state (when not NULL) what follows the
 * head up to the first comma. */
static unsigned long long line_stat(hc_ctx_t *ctx, const char *head, const char *field, char *state,
                                    size_t size)
{
    char *text = NULL;
    hc_err_t err = { 0 };
    if (hc_stats_text(ctx, false, &text, &err) != CKR_OK)
        fail_msg("stats: %s", err.msg);
    char *line = strstr(text, head);
    if (!line)
        fail_msg("no line '%s' in:\n%s", head, text);
    char *end = strchr(line, '\n');
    *end = '\0';
    if (state) {
        const char *s = line + strlen(head);
        snprintf(state, size, "%.*s", (int)strcspn(s, ","), s);
    }
    char want[64];
    snprintf(want, sizeof want, " %s ", field);
    char *at = strstr(line, want);
    if (!at)
        fail_msg("no '%s' in: %s", field, line);
    unsigned long long v = strtoull(at + strlen(want), NULL, 10);
    free(text);
    return v;
}

/* A member's counter ("member gb of group ha: up, in flight 0, signs 3,
 * errors 0, failovers 0 (operations routed 3, answered 3)"). */
static unsigned long long member_stat(hc_ctx_t *ctx, const char *member, const char *field,
                                      char *state, size_t size)
{
    char head[128];
    snprintf(head, sizeof head, "member %s of group ha: ", member);
    return line_stat(ctx, head, field, state, size);
}

/* The number `hsmsim-ctl sim-b.state ARGS` prints first (gb's simulator):
 * a call count (get FN), or a filtered report. */
static unsigned long long sim_number(const char *args)
{
    char cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof cmd, "%s/tests/hsmsim-ctl %s/sim-b.state %s", build, T, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    unsigned long long v = 0;
    if (fscanf(p, "%llu", &v) != 1)
        v = 0; /* a report with no line for it */
    pclose(p);
    return v;
}

static void group_is_one_slot(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx();
    /* Members are no slots of their own unless a profile names them. */
    assert_int_equal(hc_token_count(ctx), 2);
    assert_string_equal(hc_token_name(ctx, 0), "ha");
    assert_string_equal(hc_token_name(ctx, 1), "bad");
    hc_token_status_t st;
    hc_err_t err = { 0 };
    assert_int_equal(hc_token_status(ctx, 0, &st, &err), CKR_OK);
    assert_true(st.present);
    assert_memory_equal(st.info.label, "ha ", 3);
    hc_close(ctx);
}

static void both_members_sign_with_one_key_round_robin(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx();
    hc_obj_t key = group_key(ctx, "ha", 1);
    for (int i = 0; i < 10; i++)
        signs_and_verifies(ctx, key);
    /* One at a time: every tie, so strictly alternating. */
    assert_int_equal(member_stat(ctx, "ga", "routed", NULL, 0), 5);
    assert_int_equal(member_stat(ctx, "gb", "routed", NULL, 0), 5);
    assert_int_equal(member_stat(ctx, "gb", "signs", NULL, 0), 5);
    hc_close(ctx);
}

struct signer {
    hc_ctx_t *ctx;
    hc_obj_t key;
    int failures;
};

static void *sign_many(void *arg)
{
    struct signer *s = arg;
    CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
    for (int i = 0; i < 25; i++) {
        unsigned char sig[512];
        size_t len = sizeof sig;
        if (hc_sign(s->ctx, s->key, &m, rrset, sizeof rrset, sig, &len, NULL) != CKR_OK)
            __atomic_fetch_add(&s->failures, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void busy_member_gets_fewer(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx();
    struct signer s = { ctx, group_key(ctx, "ha", 1), 0 };
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, sign_many, &s);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(s.failures, 0);
    /* gb takes 20 ms a signature, ga about 1: the fewest in flight sends
     * most to ga (round robin alone would split them 50/50). */
    unsigned long long a = member_stat(ctx, "ga", "routed", NULL, 0),
                       b = member_stat(ctx, "gb", "routed", NULL, 0);
    if (!(a + b == 100 && b * 3 < a))
        fail_msg("routed: ga %llu, gb %llu", a, b);
    assert_int_equal(member_stat(ctx, "ga", "in flight", NULL, 0), 0);
    hc_close(ctx);
}

/* A ciphertext of the wrong length: the caller's error, the same on any
 * member (SoftHSM answers CKR_GENERAL_ERROR for it, as for most such
 * errors). CKR_GENERAL_ERROR is checked once on the other member, which
 * answers the same: the host gets the first answer, nobody is marked. */
static void data_error_marks_no_member(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx();
    hc_obj_t key = group_key(ctx, "ha", 1);
    CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
    unsigned char in[100] = { 1 }, out[512];
    size_t len = sizeof out;
    hc_err_t err = { 0 };
    CK_RV rv = hc_decrypt(ctx, key, &m, in, sizeof in, out, &len, &err);
    if (rv != CKR_GENERAL_ERROR)
        fail_msg("decrypt: 0x%lx %s", rv, err.msg);
    char sa[64], sb[64];
    assert_int_equal(member_stat(ctx, "ga", "routed", sa, sizeof sa), 1);
    assert_int_equal(member_stat(ctx, "gb", "routed", sb, sizeof sb), 1);
    assert_string_equal(sa, "up");
    assert_string_equal(sb, "up");
    assert_int_equal(
        member_stat(ctx, "ga", "errors", NULL, 0) + member_stat(ctx, "gb", "errors", NULL, 0), 0);
    assert_int_equal(member_stat(ctx, "ga", "failovers", NULL, 0) +
                         member_stat(ctx, "gb", "failovers", NULL, 0),
                     0);
    /* Served: the same answer from both. */
    assert_int_equal(member_stat(ctx, "ga", "answered", NULL, 0) +
                         member_stat(ctx, "gb", "answered", NULL, 0),
                     2);
    hc_close(ctx);
}

/* A member whose every signature fails with CKR_GENERAL_ERROR answers
 * fast, so it has the fewest in flight and would draw every request:
 * the other member's success on the same request marks it down, the host
 * sees no error, and it rejoins by itself once it signs again. */
static void member_answering_general_error_is_marked_down(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx();
    hc_obj_t key = group_key(ctx, "ha", 1);
    signs_and_verifies(ctx, key); /* both connected */
    signs_and_verifies(ctx, key);
    sh("%s/tests/hsmsim-ctl %s/sim-b.state sign-error 0x5", build, T);
    int failed = 0;
    hc_err_t err = { 0 };
    for (int i = 0; i < 8; i++) {
        unsigned char sig[512];
        size_t len = sizeof sig;
        if (sign_rrset(ctx, key, sig, &len, &err) == CKR_OK)
            verifies(sig, len);
        else
            failed++;
    }
    char st[64];
    unsigned long long errors = member_stat(ctx, "gb", "errors", st, sizeof st),
                       routed = member_stat(ctx, "gb", "routed", NULL, 0);
    sh("%s/tests/hsmsim-ctl %s/sim-b.state sign-error 0", build, T);
    if (failed)
        fail_msg("%d of 8 signatures failed with gb failing: %s", failed, err.msg);
    assert_string_equal(st, "down");
    assert_int_equal(errors, 1);
    assert_int_equal(member_stat(ctx, "gb", "failovers", NULL, 0), 1);
    /* Down: gb had its one failed request and, after 0.5 s, probes. */
    if (routed > 3)
        fail_msg("gb, down, was still routed %llu requests", routed);
    assert_int_equal(member_stat(ctx, "ga", "errors", NULL, 0), 0);
    for (int i = 0; i < 40 && strcmp(st, "up") != 0; i++) {
        usleep(100 * 1000);
        signs_and_verifies(ctx, key);
        member_stat(ctx, "gb", "routed", st, sizeof st);
    }
    assert_string_equal(st, "up");
    hc_close(ctx);
}

/* gb's signatures do not verify with the group's public key (hsmsim's
 * sign-bitflip: a faulty device, or another key pair under the key's
 * handle): none is delivered, ga signs each request instead, gb is down
 * with its error and failover counted, its key is found and compared
 * again (a C_FindObjectsInit on gb), and it is up once it signs truly. */
static void member_signing_bad_signatures_is_marked_down(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx();
    hc_obj_t key = group_key(ctx, "ha", 1);
    signs_and_verifies(ctx, key); /* both connected, gb's key linked */
    signs_and_verifies(ctx, key);
    unsigned long long finds = sim_number("get C_FindObjectsInit"),
                       flipped = sim_number("hits | sed -n 's/^C_Sign //p'");
    sh("%s/tests/hsmsim-ctl %s/sim-b.state hostile sign-bitflip", build, T);
    int failed = 0, bad = 0;
    hc_err_t err = { 0 };
    for (int i = 0; i < 12; i++) {
        unsigned char sig[512];
        size_t len = sizeof sig;
        if (sign_rrset(ctx, key, sig, &len, &err) != CKR_OK)
            failed++;
        else if (!good_sig("k1.pub", sig, len))
            bad++;
    }
    char st[64];
    unsigned long long errors = member_stat(ctx, "gb", "errors", st, sizeof st),
                       failovers = member_stat(ctx, "gb", "failovers", NULL, 0);
    flipped = sim_number("hits | sed -n 's/^C_Sign //p'") - flipped;
    sh("%s/tests/hsmsim-ctl %s/sim-b.state hostile off", build, T);
    if (bad || failed)
        fail_msg("gb flipping its signatures (%llu flipped): %d of 12 delivered signatures "
                 "do not verify with the group's key, %d failed (%s)",
                 flipped, bad, failed, err.msg);
    if (flipped == 0)
        fail_msg("gb never signed with the fault on: nothing was checked");
    assert_string_equal(st, "down");
    assert_true(errors >= 1);
    assert_int_equal(failovers, errors);
    assert_int_equal(member_stat(ctx, "ga", "errors", NULL, 0), 0);
    for (int i = 0; i < 40 && strcmp(st, "up") != 0; i++) {
        usleep(100 * 1000);
        signs_and_verifies(ctx, key);
        member_stat(ctx, "gb", "routed", st, sizeof st);
    }
    assert_string_equal(st, "up");
    if (sim_number("get C_FindObjectsInit") <= finds)
        fail_msg("gb's key was not found again after its bad signature");
    hc_close(ctx);
}

/* gb as a slot of its own (no group), its signatures bit-flipped: the
 * host gets CKR_DEVICE_ERROR naming gb and the key, never the bad bytes,
 * with the signature cache off and on (which never keeps one); each is
 * one of gb's HSM errors. Once gb signs truly the same request verifies. */
static void lone_token_bad_signature_is_an_error(void **state)
{
    (void)state;
    char conf[PATH_MAX], alt[PATH_MAX];
    snprintf(conf, sizeof conf, "%s/hsmcache.conf", T);
    for (const char *const *cache = (const char *const[]){ "no", "yes", NULL }; *cache; cache++) {
        snprintf(alt, sizeof alt, "%s/lone-%s.conf", T, *cache);
        sh("sed 's/^signature-cache = no$/signature-cache = %s\\ntokens = gb/' %s > %s", *cache,
           conf, alt);
        setenv("HSMCACHE_CONF", alt, 1);
        hc_ctx_t *ctx = open_ctx();
        setenv("HSMCACHE_CONF", conf, 1);
        hc_obj_t key = group_key(ctx, "gb", 1);
        unsigned long long errs = line_stat(ctx, "token gb: ", "HSM errors", NULL, 0);
        sh("%s/tests/hsmsim-ctl %s/sim-b.state hostile sign-bitflip", build, T);
        unsigned char sig[512];
        size_t len = sizeof sig;
        hc_err_t err = { 0 };
        CK_RV rv = sign_rrset(ctx, key, sig, &len, &err);
        sh("%s/tests/hsmsim-ctl %s/sim-b.state hostile off", build, T);
        if (rv == CKR_OK)
            fail_msg("cache %s: a signature delivered with gb flipping bits (%s)", *cache,
                     good_sig("k1.pub", sig, len) ? "it verifies" : "it does NOT verify");
        if (rv != CKR_DEVICE_ERROR || !strstr(err.msg, "token gb") || !strstr(err.msg, "'gkey'"))
            fail_msg("cache %s: 0x%lx %s", *cache, rv, err.msg);
        assert_int_equal(line_stat(ctx, "token gb: ", "HSM errors", NULL, 0), errs + 1);
        len = sizeof sig;
        if (sign_rrset(ctx, key, sig, &len, &err) != CKR_OK)
            fail_msg("cache %s, fault off: %s", *cache, err.msg);
        verifies(sig, len);
        hc_close(ctx);
    }
}

/* The check stays on for a lone token's key found again after a refused
 * handle (its epoch moved): a faulty signature is checked with the
 * object's public key read then, and refused (reviewer F16: one
 * CKR_OBJECT_HANDLE_INVALID used to turn the check off for the key). */
static void lone_token_key_found_again_is_still_checked(void **state)
{
    (void)state;
    char conf[PATH_MAX + 32];
    snprintf(conf, sizeof conf, "%s/lone-again.conf", T);
    sh("sed 's/^\\[pkcs11\\]$/[pkcs11]\\ntokens = gb/' %s/hsmcache.conf > %s", T, conf);
    hc_ctx_t *ctx = NULL;
    hc_err_t err = { 0 };
    if (hc_open(HC_PROFILE_PKCS11, conf, &ctx, &err) != CKR_OK)
        fail_msg("hc_open: %s", err.msg);
    hc_obj_t key = group_key(ctx, "gb", 1);
    signs_and_verifies(ctx, key);
    unsigned char sig[512];
    size_t len = sizeof sig;
    sh("%s/tests/hsmsim-ctl %s/sim-b.state sign-error 0x82", build, T);
    sign_rrset(ctx, key, sig, &len, &err); /* one refused handle */
    sh("%s/tests/hsmsim-ctl %s/sim-b.state sign-error 0", build, T);
    signs_and_verifies(ctx, key); /* found again, signing */
    sh("%s/tests/hsmsim-ctl %s/sim-b.state hostile sign-bitflip", build, T);
    int bad = 0, refused = 0;
    for (int i = 0; i < 10; i++) {
        len = sizeof sig;
        if (sign_rrset(ctx, key, sig, &len, &err) != CKR_OK)
            refused++;
        else if (!good_sig("k1.pub", sig, len))
            bad++;
    }
    sh("%s/tests/hsmsim-ctl %s/sim-b.state hostile off", build, T);
    if (bad || refused != 10)
        fail_msg("after one refused handle, gb flipping bits: %d bad delivered, %d of 10 refused",
                 bad, refused);
    signs_and_verifies(ctx, key);
    hc_close(ctx);
}

/* Raw RSA data longer than the key: SoftHSM (ga) answers the vague
 * CKR_GENERAL_ERROR (the data's or a broken member's), gb (hsmsim's
 * sign-error) the precise CKR_DATA_LEN_RANGE, as another vendor's device
 * would: the host gets the precise answer, with ga's vague one named, and
 * no member is marked down. Two requests: one at least starts on ga (one
 * at a time, the members alternate). */
static void vague_error_gives_way_to_a_precise_one(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx();
    hc_obj_t key = group_key(ctx, "ha", 1);
    CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
    unsigned char data[300] = { 1 }, sig[512];
    size_t len;
    hc_err_t err = { 0 };
    sh("%s/tests/hsmsim-ctl %s/sim-b.state sign-error 0x21", build, T);
    int through_ga = 0;
    CK_RV got[2];
    char msgs[2][sizeof err.msg];
    for (int i = 0; i < 2; i++) {
        len = sizeof sig;
        got[i] = hc_sign(ctx, key, &m, data, sizeof data, sig, &len, &err);
        snprintf(msgs[i], sizeof msgs[i], "%s", err.msg);
        through_ga += strstr(err.msg, "CKR_GENERAL_ERROR") && strstr(err.msg, "ga");
    }
    char sa[64], sb[64];
    member_stat(ctx, "ga", "routed", sa, sizeof sa);
    member_stat(ctx, "gb", "routed", sb, sizeof sb);
    sh("%s/tests/hsmsim-ctl %s/sim-b.state sign-error 0", build, T);
    for (int i = 0; i < 2; i++)
        if (got[i] != CKR_DATA_LEN_RANGE || !strstr(msgs[i], "member gb"))
            fail_msg("request %d: 0x%lx %s", i, got[i], msgs[i]);
    if (through_ga == 0)
        fail_msg("no request named ga's vague answer: %s | %s", msgs[0], msgs[1]);
    assert_string_equal(sa, "up");
    assert_string_equal(sb, "up");
    assert_int_equal(
        member_stat(ctx, "ga", "errors", NULL, 0) + member_stat(ctx, "gb", "errors", NULL, 0), 0);
    hc_close(ctx);
}

static void removed_member_fails_over_and_rejoins(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx();
    hc_obj_t key = group_key(ctx, "ha", 1);
    signs_and_verifies(ctx, key); /* both connected: ga first */
    signs_and_verifies(ctx, key);
    sh("%s/tests/hsmsim-ctl %s/sim-b.state remove 1500", build, T);
    for (int i = 0; i < 6; i++)
        signs_and_verifies(ctx, key); /* the host sees no error */
    char st[64];
    assert_int_equal(member_stat(ctx, "gb", "failovers", st, sizeof st), 1);
    assert_string_equal(st, "down");
    assert_true(member_stat(ctx, "gb", "errors", NULL, 0) >= 1);
    hc_token_status_t ts;
    hc_err_t err = { 0 };
    assert_int_not_equal(hc_token_status(ctx, 0, &ts, &err), CKR_OK);
    assert_true(ts.present); /* ga serves */
    assert_non_null(strstr(err.msg, "member gb"));
    /* Back after 1.5 s; probed with backoff (0.5, 1, 2 s): up by itself. */
    unsigned long long before = member_stat(ctx, "gb", "answered", NULL, 0);
    for (int i = 0; i < 80 && strcmp(st, "up") != 0; i++) {
        usleep(100 * 1000);
        signs_and_verifies(ctx, key);
        member_stat(ctx, "gb", "routed", st, sizeof st);
    }
    assert_string_equal(st, "up");
    assert_true(member_stat(ctx, "gb", "answered", NULL, 0) > before);
    hc_close(ctx);
}

static void mismatching_key_is_refused(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx();
    group_key(ctx, "bad", 0);
    hc_token_status_t st;
    hc_err_t err = { 0 };
    assert_int_not_equal(hc_token_status(ctx, 1, &st, &err), CKR_OK);
    const char *m = err.msg;
    if (!strstr(m, "key 'gkey' refused") || !strstr(m, "ga (sha256:") || !strstr(m, "gc (sha256:"))
        fail_msg("status: %s", m);
    hc_close(ctx);
}

static void keygen_on_a_group_is_refused(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx();
    CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    static const unsigned char p256[] = {
        0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
    };
    CK_ATTRIBUTE pub[] = { { CKA_EC_PARAMS, (void *)p256, sizeof p256 } };
    hc_obj_t a, b;
    hc_err_t err = { 0 };
    assert_int_equal(hc_generate_key_pair(ctx, 0, &m, pub, 1, NULL, 0, &a, &b, &err),
                     CKR_FUNCTION_NOT_SUPPORTED);
    assert_non_null(strstr(err.msg, "vendor's tools"));
    hc_close(ctx);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* gb's `timeout` is 1 s: no request waits longer for it. */
static void hanging_member_delays_by_the_timeout_at_most(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx();
    hc_obj_t key = group_key(ctx, "ha", 1);
    signs_and_verifies(ctx, key);
    signs_and_verifies(ctx, key);
    sh("%s/tests/hsmsim-ctl %s/sim-b.state hang on", build, T);
    double worst = 0;
    for (int i = 0; i < 8; i++) {
        double t0 = now_s();
        signs_and_verifies(ctx, key);
        double took = now_s() - t0;
        worst = took > worst ? took : worst;
    }
    sh("%s/tests/hsmsim-ctl %s/sim-b.state hang off", build, T);
    /* The call left behind is out of the device before the next test:
     * its counts and states start clean. */
    sh("for i in $(seq 50); do [ \"$(%s/tests/hsmsim-ctl %s/sim-b.state hanging)\" = 0 ] "
       "&& break; sleep 0.1; done; sleep 0.3",
       build, T);
    if (worst > 1.5)
        fail_msg("a request took %.2f s with gb hanging (timeout 1 s)", worst);
    assert_true(member_stat(ctx, "gb", "failovers", NULL, 0) >= 1);
    hc_close(ctx);
}

/* Replaces the key pair 'gkey' on member token LABEL by the one in PEM
 * (same label and id): a rotation, made outside hsmcache. */
static void rotate(const char *label, const char *pem)
{
    for (const char *const *type = (const char *const[]){ "privkey", "pubkey", NULL }; *type;
         type++)
        sh("pkcs11-tool --module %s --token-label %s --login --pin %s --delete-object "
           "--type %s --label gkey >/dev/null 2>&1",
           SOFTHSM, label, PINV, *type);
    sh("softhsm2-util --import %s/%s --token %s --label gkey --id 0a0b --pin %s >/dev/null", T, pem,
       label, PINV);
}

/* Signs twice (once per member, one at a time) and checks both with PUB;
 * the group's public key is PUB's too. */
static void group_signs_with(hc_ctx_t *ctx, hc_obj_t key, const char *pub)
{
    for (int i = 0; i < 2; i++) {
        unsigned char sig[512];
        size_t len = sizeof sig;
        hc_err_t err = { 0 };
        if (sign_rrset(ctx, key, sig, &len, &err) != CKR_OK)
            fail_msg("sign (want %s): %s", pub, err.msg);
        verifies_with(pub, sig, len);
    }
    unsigned char *spki = NULL;
    size_t n = 0;
    hc_err_t err = { 0 };
    if (hc_public_key(ctx, key, &spki, &n, &err) != CKR_OK)
        fail_msg("public key (want %s): %s", pub, err.msg);
    EVP_PKEY *want = pub_key(pub);
    assert_non_null(want);
    unsigned char *der = NULL;
    int dlen = i2d_PUBKEY(want, &der);
    assert_true(dlen > 0);
    if ((size_t)dlen != n || memcmp(der, spki, n) != 0)
        fail_msg("the group's public key is not %s's", pub);
    OPENSSL_free(der);
    EVP_PKEY_free(want);
    free(spki);
}

/* The key replaced on every member (same label and id, a new key pair):
 * found and used with its new public key in the same context, and a
 * member replaced with another key pair after that still refused. */
static void rotated_key_is_used_without_restart(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx();
    hc_obj_t old = group_key(ctx, "ha", 1);
    group_signs_with(ctx, old, "k1.pub");
    rotate("ga", "k3.pem");
    rotate("gb", "k3.pem");
    hc_obj_t now = group_key(ctx, "ha", 1);
    group_signs_with(ctx, now, "k3.pub");
    /* The old reference is a destroyed object's: refused, never k1's
     * public key with k3's signatures. */
    unsigned char sig[512];
    size_t len = sizeof sig;
    hc_err_t err = { 0 };
    assert_int_equal(sign_rrset(ctx, old, sig, &len, &err), CKR_OBJECT_HANDLE_INVALID);
    if (!strstr(err.msg, "replaced"))
        fail_msg("old reference: %s", err.msg);
    /* gb back to k1 alone: the members differ again. */
    rotate("gb", "k1.pem");
    group_key(ctx, "ha", 0);
    hc_token_status_t st;
    assert_int_not_equal(hc_token_status(ctx, 0, &st, &err), CKR_OK);
    if (!strstr(err.msg, "key 'gkey' refused") || !strstr(err.msg, "ga (sha256:") ||
        !strstr(err.msg, "gb (sha256:"))
        fail_msg("status: %s", err.msg);
    /* Both on k1 again: the group's key once more, with k1's public key. */
    rotate("ga", "k1.pem");
    group_signs_with(ctx, group_key(ctx, "ha", 1), "k1.pub");
    hc_close(ctx);
}

/* The key's CKA_MODULUS into buf (512 bytes), its length; 0 when the
 * read fails (no cmocka check: threads are running). */
static size_t modulus(hc_ctx_t *ctx, hc_obj_t key, unsigned char *buf)
{
    CK_ATTRIBUTE a = { CKA_MODULUS, buf, 512 };
    return hc_get_attrs(ctx, key, &a, 1, NULL) == CKR_OK ? a.ulValueLen : 0;
}

/* How many private keys 'gkey' group ha shows (no cmocka check: threads
 * are running). */
static size_t keys_found(hc_ctx_t *ctx)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_LABEL, "gkey", 4 } };
    hc_obj_t *objs = NULL;
    size_t n = 0;
    if (hc_find(ctx, (size_t)hc_token_index(ctx, "ha"), t, 2, &objs, &n, NULL) != CKR_OK)
        n = 99;
    free(objs);
    return n;
}

struct rotation_signer {
    hc_ctx_t *ctx;
    hc_obj_t key;
    int stop;
    int good, refused, bad, other;
    CK_RV other_rv;
};

/* Signs until told to stop; a delivered signature must verify with k1's
 * public key (the group's), checked here without cmocka (a thread). */
static void *sign_through_rotation(void *arg)
{
    struct rotation_signer *r = arg;
    EVP_PKEY *pub = pub_key("k1.pub");
    while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
        unsigned char sig[512];
        size_t len = sizeof sig;
        CK_RV rv = sign_rrset(r->ctx, r->key, sig, &len, NULL);
        if (rv == CKR_OK) {
            EVP_MD_CTX *c = EVP_MD_CTX_new();
            bool ok = pub && EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, pub) == 1 &&
                      EVP_DigestVerify(c, sig, len, rrset, sizeof rrset) == 1;
            EVP_MD_CTX_free(c);
            __atomic_fetch_add(ok ? &r->good : &r->bad, 1, __ATOMIC_RELAXED);
        } else if (rv == CKR_KEY_TYPE_INCONSISTENT) {
            __atomic_fetch_add(&r->refused, 1, __ATOMIC_RELAXED);
        } else {
            __atomic_fetch_add(&r->other, 1, __ATOMIC_RELAXED);
            __atomic_store_n(&r->other_rv, rv, __ATOMIC_RELAXED);
        }
    }
    EVP_PKEY_free(pub);
    return NULL;
}

/* One member's key replaced by another key pair while three threads sign
 * (and the group searches, as hosts do): no signature made with the other
 * key is ever delivered; the key is refused while the members differ and
 * signs again once gb has k1 back. Under ThreadSanitizer it also checks
 * the group entries' locking (ge->mismatch read while a search writes
 * it). */
static void member_key_replaced_while_signing(void **state)
{
    (void)state;
    hc_ctx_t *ctx = open_ctx();
    struct rotation_signer r = { .ctx = ctx, .key = group_key(ctx, "ha", 1) };
    unsigned char k1mod[512];
    size_t k1len = modulus(ctx, r.key, k1mod);
    assert_true(k1len > 0);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, sign_through_rotation, &r);
    usleep(200 * 1000);
    rotate("gb", "k3.pem");
    usleep(300 * 1000); /* signing on gb's new object, before any search */
    /* Reads of the key (no session copy: gb's token object itself, found
     * again by identity once its handle is refused): never k3's. */
    int k3_read = 0;
    for (int i = 0; i < 6; i++) {
        unsigned char mod[512];
        size_t n = modulus(ctx, r.key, mod);
        k3_read += n && (n != k1len || memcmp(mod, k1mod, n) != 0);
    }
    size_t while_differ = keys_found(ctx); /* the search sees the difference */
    usleep(300 * 1000);
    int refused_then = __atomic_load_n(&r.refused, __ATOMIC_RELAXED);
    rotate("gb", "k1.pem");
    size_t once_fixed = keys_found(ctx);
    int good_before = __atomic_load_n(&r.good, __ATOMIC_RELAXED);
    usleep(300 * 1000);
    __atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    if (k3_read)
        fail_msg("%d of 6 reads of the group's key gave gb's new key's modulus", k3_read);
    if (while_differ != 0 || once_fixed != 1)
        fail_msg("found %zu keys while gb had k3, %zu once it had k1 back (want 0, 1)",
                 while_differ, once_fixed);
    if (r.bad || r.other)
        fail_msg("%d signatures not made with the group's key delivered, %d other "
                 "errors (last 0x%lx); %d good, %d refused",
                 r.bad, r.other, r.other_rv, r.good, r.refused);
    if (refused_then == 0)
        fail_msg("never refused while the members differed (%d good)", r.good);
    if (r.good <= good_before)
        fail_msg("no signature after gb had k1 back (%d good)", r.good);
    hc_close(ctx);
}

/* gb's key destroyed in this very process (through a profile showing gb
 * as a slot of its own: the same token as the member) and imported again
 * with another key pair: the group's next use of gb, before any search,
 * finds it again and compares it, and the key is refused. */
static void member_key_destroyed_here_is_compared_again(void **state)
{
    (void)state;
    char conf[PATH_MAX], alt[PATH_MAX];
    snprintf(conf, sizeof conf, "%s/hsmcache.conf", T);
    snprintf(alt, sizeof alt, "%s/with-gb.conf", T);
    sh("sed 's/^signature-cache = no$/&\\ntokens = ha, gb/' %s > %s", conf, alt);
    setenv("HSMCACHE_CONF", alt, 1);
    hc_ctx_t *ctx = open_ctx();
    setenv("HSMCACHE_CONF", conf, 1);
    hc_obj_t key = group_key(ctx, "ha", 1);
    group_signs_with(ctx, key, "k1.pub"); /* both members compared */
    long gb = hc_token_index(ctx, "gb");
    assert_true(gb >= 0);
    CK_ATTRIBUTE t[] = { { CKA_LABEL, "gkey", 4 } };
    hc_obj_t *objs = NULL;
    size_t n = 0;
    hc_err_t err = { 0 };
    assert_int_equal(hc_find(ctx, (size_t)gb, t, 1, &objs, &n, &err), CKR_OK);
    assert_int_equal(n, 2); /* the pair */
    for (size_t i = 0; i < n; i++)
        if (hc_destroy(ctx, objs[i], &err) != CKR_OK)
            fail_msg("destroy on gb: %s", err.msg);
    free(objs);
    sh("softhsm2-util --import %s/k3.pem --token gb --label gkey --id 0a0b --pin %s >/dev/null", T,
       PINV);
    for (int i = 0; i < 2; i++) {
        unsigned char sig[512];
        size_t len = sizeof sig;
        CK_RV rv = sign_rrset(ctx, key, sig, &len, &err);
        if (rv == CKR_OK)
            verifies(sig, len);
        else if (rv != CKR_KEY_TYPE_INCONSISTENT)
            fail_msg("sign: 0x%lx %s", rv, err.msg);
    }
    hc_token_status_t st;
    assert_int_not_equal(hc_token_status(ctx, (size_t)hc_token_index(ctx, "ha"), &st, &err),
                         CKR_OK);
    if (!strstr(err.msg, "key 'gkey' refused") || !strstr(err.msg, "gb (sha256:"))
        fail_msg("status: %s", err.msg);
    hc_close(ctx);
}

/* The tests after it want k1 on both members, whatever failed above. */
static int back_to_k1(void **state)
{
    (void)state;
    rotate("ga", "k1.pem");
    rotate("gb", "k1.pem");
    return 0;
}

/* Runs `hsmcache ARGS` (stdout and stderr into *out), returns its status. */
static int cli(char *out, size_t size, const char *args)
{
    char cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof cmd, "%s/hsmcache %s 2>&1", build, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void cli_and_prometheus_show_groups(void **state)
{
    (void)state;
    static char out[65536];
    /* keys: the group's key with its fingerprint; the refused one named. */
    assert_int_equal(cli(out, sizeof out, "keys ha"), 0);
    if (!strstr(out, "gkey") || !strstr(out, "sha256:"))
        fail_msg("keys ha:\n%s", out);
    assert_int_equal(cli(out, sizeof out, "keys bad"), 1);
    if (!strstr(out, "key 'gkey' refused") || !strstr(out, "ga (sha256:") ||
        !strstr(out, "gc (sha256:"))
        fail_msg("keys bad:\n%s", out);
    assert_int_equal(cli(out, sizeof out, "doctor"), 1);
    if (!strstr(out, "token bad: token group bad") || !strstr(out, "refused") ||
        strstr(out, "token ha: token group"))
        fail_msg("doctor:\n%s", out);
    /* No PIN file of its own is asked of a group. */
    if (strstr(out, "pins/ha"))
        fail_msg("doctor:\n%s", out);
    hc_ctx_t *ctx = open_ctx();
    signs_and_verifies(ctx, group_key(ctx, "ha", 1));
    char *text = NULL;
    assert_int_equal(hc_stats_text(ctx, true, &text, NULL), CKR_OK);
    if (!strstr(text, "hsmcache_member_routed_total{group=\"ha\",member=\"ga\"} 1\n") ||
        !strstr(text, "hsmcache_member_up{group=\"ha\",member=\"gb\"} 1\n") ||
        !strstr(text, "hsmcache_member_inflight{group=\"ha\",member=\"ga\"} 0\n"))
        fail_msg("prometheus:\n%s", text);
    free(text);
    hc_close(ctx);
}

/* Last: it leaves gb's PIN marked rejected. */
static void wrong_pin_marks_one_member(void **state)
{
    (void)state;
    sh("printf 'wrong-pin-1234\\n' | %s/hsmcache pin set gb >/dev/null", build);
    sh("%s/tests/hsmsim-ctl %s/sim-b.state reset", build, T);
    hc_ctx_t *ctx = open_ctx();
    hc_obj_t key = group_key(ctx, "ha", 1);
    for (int i = 0; i < 6; i++)
        signs_and_verifies(ctx, key);
    hc_token_status_t st;
    hc_err_t err = { 0 };
    assert_int_not_equal(hc_token_status(ctx, 0, &st, &err), CKR_OK);
    if (!strstr(err.msg, "member gb rejected its PIN file"))
        fail_msg("status: %s", err.msg);
    hc_close(ctx);
    ctx = open_ctx();
    key = group_key(ctx, "ha", 1);
    for (int i = 0; i < 4; i++)
        signs_and_verifies(ctx, key);
    hc_close(ctx);
    /* One C_Login with the wrong PIN, in either context: never twice. */
    assert_int_equal(sim_number("get C_Login"), 1);
}

static void config_errors_name_file_and_line(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        { "[token a]\nmodule = m\nlabel = a\n[token g]\nmembers = a\n",
          "t.conf:5: [token g] members: a group needs at least 2 members" },
        { "[token a]\nmodule = m\nlabel = a\n[token g]\nmembers = a, a\n",
          "t.conf:5: [token g] members: 'a' is listed twice" },
        { "[token a]\nmodule = m\nlabel = a\n[token g]\nmembers = a, zz\n",
          "t.conf:5: [token g] members: no [token zz] section is defined" },
        { "[token a]\nmodule = m\nlabel = a\n[token b]\nmodule = m\nlabel = b\n"
          "[token g]\nmembers = a, b\n[token h]\nmembers = g, a\n",
          "t.conf:10: [token h] members: 'g' is itself a group (line 8)" },
        { "[token a]\nmodule = m\nlabel = a\n[token b]\nmodule = m\nlabel = b\n"
          "[token g]\nmodule = m\nmembers = a, b\n",
          "t.conf:7: [token g]: a group (members =) has no 'module' of its own" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hc_config_t *cfg = NULL;
        hc_err_t err = { 0 };
        assert_int_not_equal(
            hc_config_parse("t.conf", cases[i].text, strlen(cases[i].text), &cfg, &err), CKR_OK);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("case %zu: got '%s', want '%s'", i, err.msg, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_errors_name_file_and_line),
        cmocka_unit_test(group_is_one_slot),
        cmocka_unit_test(both_members_sign_with_one_key_round_robin),
        cmocka_unit_test(data_error_marks_no_member),
        cmocka_unit_test(member_answering_general_error_is_marked_down),
        cmocka_unit_test(member_signing_bad_signatures_is_marked_down),
        cmocka_unit_test(lone_token_bad_signature_is_an_error),
        cmocka_unit_test(lone_token_key_found_again_is_still_checked),
        cmocka_unit_test(vague_error_gives_way_to_a_precise_one),
        cmocka_unit_test(busy_member_gets_fewer),
        cmocka_unit_test(mismatching_key_is_refused),
        cmocka_unit_test(keygen_on_a_group_is_refused),
        cmocka_unit_test(removed_member_fails_over_and_rejoins),
        cmocka_unit_test(hanging_member_delays_by_the_timeout_at_most),
        cmocka_unit_test_teardown(rotated_key_is_used_without_restart, back_to_k1),
        cmocka_unit_test_teardown(member_key_replaced_while_signing, back_to_k1),
        cmocka_unit_test_teardown(member_key_destroyed_here_is_compared_again, back_to_k1),
        cmocka_unit_test(cli_and_prometheus_show_groups),
        cmocka_unit_test(wrong_pin_marks_one_member),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
