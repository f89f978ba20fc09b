/* test_hang_sessions.c: a hang leaks no module session (pool.c). A token
 * "hs" on a SoftHSM token behind its own simulator copy, [token] timeout
 * 1 s: it signs (the pool opens a session), the device hangs (hsmsim-ctl
 * hang on) under a timed call (hsmcache tokens' live C_GetTokenInfo), the
 * pool resets and its C_CloseAllSessions is refused while the token is
 * hung; the device answers again (hang off), the call left behind returns
 * and the token signs again. The sessions open in the module are counted
 * by asking SoftHSM itself (C_GetSessionInfo on every small handle, in
 * this process, the same loaded copy as the core's): after each of
 * several rounds no more than the pool's own are open, and the closes
 * reached the module once each (the simulator's C_CloseSession count). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsmcache.h"
#include "unit_shell.h"

#define PINV "Zq7-pin-4711-Xy"
#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"
#define ROUNDS 3

static char T[PATH_MAX], build[PATH_MAX];

/* The simulator's count of one function. */
static long sim_count(const char *fn)
{
    char cmd[PATH_MAX * 2 + 64], out[64] = "";
    snprintf(cmd, sizeof cmd, "%s/tests/hsmsim-ctl %s/sim-hs.state get %s", build, T, fn);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    if (!fgets(out, sizeof out, p))
        out[0] = '\0';
    pclose(p);
    return strtol(out, NULL, 10);
}

static int setup(void **state)
{
    (void)state;
    const char *dir = getenv("HC_TEST_DIR");
    if (!dir || !unit_build_dir(build, sizeof build))
        return -1;
    snprintf(T, sizeof T, "%s/hang", dir);
    sh("mkdir -p %s && printf 'so-pin-0815\\n%s\\n' | %s/tests/mktoken %s hs >/dev/null", T, PINV,
       build, SOFTHSM);
    sh("cp %s/tests/hsmsim.so %s/hsmsim-hs.so && cp %s %s/softhsm-hs.so", build, T, SOFTHSM, T);
    sh("printf 'module = %s/softhsm-hs.so\\nstate = %s/sim-hs.state\\nlatency-ms = 0\\n"
       "concurrency = 0\\n' > %s/sim-hs.conf",
       T, T, T);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/sim-hs.conf", T);
    setenv("HSMSIM_CONF_hsmsim_hs", path, 1);
    sh("printf '[core]\\npin-store = %s/pins\\ncache-dir = %s/cache\\n"
       "[token hs]\\nmodule = %s/hsmsim-hs.so\\nlabel = hs\\ntimeout = 1\\n"
       "[pkcs11]\\nsignature-cache = no\\n' > %s/hsmcache.conf",
       T, T, T, T);
    snprintf(path, sizeof path, "%s/hsmcache.conf", T);
    setenv("HSMCACHE_CONF", path, 1);
    sh("printf '%%s\\n' '%s' | %s/hsmcache pin set hs >/dev/null", PINV, build);
    sh("%s/hsmcache keygen hs k ecdsa-p256 >/dev/null", build);
    return 0;
}

/* Sessions open in this process's SoftHSM copy: C_GetSessionInfo on
 * every handle it could have given out. */
static int module_sessions(void)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/softhsm-hs.so", T);
    void *lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(lib); /* loaded by the core through the simulator */
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
    CK_FUNCTION_LIST *fl = NULL;
    assert_non_null(get);
    assert_int_equal(get(&fl), CKR_OK);
    int open = 0;
    /* SoftHSM numbers sessions and objects from one counter, never
     * reused: this test makes far fewer than 2^16 of them. */
    for (CK_SESSION_HANDLE h = 1; h <= 65536; h++) {
        CK_SESSION_INFO si;
        open += fl->C_GetSessionInfo(h, &si) == CKR_OK;
    }
    dlclose(lib);
    return open;
}

static CK_RV sign_once(hc_ctx_t *ctx, hc_err_t *err)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_LABEL, "k", 1 } };
    hc_obj_t *objs = NULL;
    size_t n = 0;
    CK_RV rv = hc_find(ctx, 0, t, 2, &objs, &n, err);
    if (rv == CKR_OK && n != 1)
        rv = hc_err(err, CKR_GENERAL_ERROR, "%zu keys labelled k", n);
    unsigned char sig[256];
    size_t len = sizeof sig;
    CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
    if (rv == CKR_OK)
        rv = hc_sign(ctx, objs[0], &m, (const unsigned char *)"data", 4, sig, &len, err);
    free(objs);
    return rv;
}

/* Signs within 5 s (the pool probes the token back with backoff). */
static void signs_again(hc_ctx_t *ctx, int round)
{
    hc_err_t err = { 0 };
    for (int i = 0; i < 50; i++) {
        if (sign_once(ctx, &err) == CKR_OK)
            return;
        usleep(100000);
    }
    fail_msg("round %d: no signature 5 s after the hang: %s", round, err.msg);
}

static void a_hang_leaks_no_session(void **state)
{
    (void)state;
    hc_ctx_t *ctx = NULL;
    hc_err_t err = { 0 };
    if (hc_open(HC_PROFILE_PKCS11, NULL, &ctx, &err) != CKR_OK)
        fail_msg("hc_open: %s", err.msg);
    signs_again(ctx, 0);
    int before = module_sessions();
    assert_true(before >= 1);
    for (int round = 1; round <= ROUNDS; round++) {
        long closes = sim_count("C_CloseSession");
        sh("%s/tests/hsmsim-ctl %s/sim-hs.state hang on", build, T);
        hc_token_status_t st;
        /* Timed out after 1 s: the token is hung, its pool reset. */
        assert_int_not_equal(hc_token_status(ctx, 0, &st, &err), CKR_OK);
        sh("%s/tests/hsmsim-ctl %s/sim-hs.state hang off", build, T);
        sh("for i in $(seq 50); do [ \"$(%s/tests/hsmsim-ctl %s/sim-hs.state hanging)\" = 0 ] "
           "&& break; sleep 0.1; done; sleep 0.2",
           build, T);
        signs_again(ctx, round);
        int now = module_sessions();
        if (now != before)
            fail_msg("round %d: %d session(s) open in the module after hang, answer "
                     "and recovery (%d before the first hang)",
                     round, now, before);
        /* The pool's sessions of before the hang, each closed once. */
        long closed = sim_count("C_CloseSession") - closes;
        if (closed != before)
            fail_msg("round %d: %ld C_CloseSession call(s) reached the device, for "
                     "%d session(s) kept open by the hang",
                     round, closed, before);
    }
    hc_close(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_hang_leaks_no_session),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
