/*
 * faultload.c: signs through a module while steering the simulator, and
 * reports what a host would see. One process, one session and one key
 * handle from start to end, as pdns_server keeps them.
 *   faultload MODULE LABEL HSMSIM_CTL STATE
 * Steps: sign; invalidate all sessions; sign (must succeed); remove the
 * token for 800 ms; sign repeatedly while absent (must fail fast); wait;
 * sign (must succeed).
 */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static CK_FUNCTION_LIST *f;

static double ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static CK_RV sign(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key)
{
    CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
    unsigned char hash[32] = { 1, 2, 3 }, sig[128];
    CK_ULONG len = sizeof sig;
    CK_RV rv = f->C_SignInit(s, &m, key);
    return rv == CKR_OK ? f->C_Sign(s, hash, 32, sig, &len) : rv;
}

static int ctl(const char *tool, const char *state, const char *cmd)
{
    char line[1024];
    snprintf(line, sizeof line, "%s %s %s", tool, state, cmd);
    return system(line);
}

int main(int argc, char **argv)
{
    if (argc != 5)
        return 2;
    void *h = dlopen(argv[1], RTLD_NOW);
    CK_C_GetFunctionList get = h ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList") : NULL;
    CK_SESSION_HANDLE s;
    if (!get || get(&f) != CKR_OK || f->C_Initialize(NULL) != CKR_OK ||
        f->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
        return 1;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_LABEL, argv[2], strlen(argv[2]) } };
    CK_OBJECT_HANDLE key;
    CK_ULONG n = 0;
    f->C_FindObjectsInit(s, t, 2);
    f->C_FindObjects(s, &key, 1, &n);
    f->C_FindObjectsFinal(s);
    if (n != 1 || sign(s, key) != CKR_OK) {
        printf("initial signature failed\n");
        return 1;
    }
    int status = 0;
    ctl(argv[3], argv[4], "invalidate");
    CK_RV rv = sign(s, key);
    printf("after invalidate: %s (rv 0x%lx)\n", rv == CKR_OK ? "ok" : "FAILED", rv);
    status |= rv != CKR_OK;

    ctl(argv[3], argv[4], "remove 800");
    double start = ms_now(), slowest = 0;
    int failures = 0, successes = 0, others = 0;
    CK_RV other_rv = CKR_OK;
    while (ms_now() - start < 600) {
        double t0 = ms_now();
        rv = sign(s, key);
        double took = ms_now() - t0;
        if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED) {
            failures++;
            slowest = took > slowest ? took : slowest;
        } else if (rv == CKR_OK) {
            successes++;
        } else {
            others++;
            other_rv = rv;
        }
        usleep(20000);
    }
    printf("while absent: %s (%d failures, %d successes, %d other errors, last 0x%lx), "
           "slowest failure %.0f ms\n",
           failures > 0 && successes == 0 && others == 0 ? "fast failure" : "UNEXPECTED", failures,
           successes, others, other_rv, slowest);
    status |= failures == 0 || successes != 0 || others != 0;
    usleep(2500 * 1000); /* the token is back; the pool's probe backoff is at most 2 s */
    rv = sign(s, key);
    printf("after return: %s (rv 0x%lx)\n", rv == CKR_OK ? "ok" : "FAILED", rv);
    status |= rv != CKR_OK;
    f->C_CloseSession(s);
    f->C_Finalize(NULL);
    return status;
}
