/*
 * sigload.c: signs in parallel through a PKCS#11 module and checks every
 * signature with OpenSSL. Used by the concurrency test and the benchmark.
 *
 *   sigload MODULE LABEL THREADS SECONDS [options]
 *     --pin-file F   log in with the PIN in F (a module that needs login)
 *     --same-data    sign the same data every time (cache hits)
 *     --fork         fork after the first signature; the child initializes
 *                    again and must sign too
 *     --token T      the slot whose token label is T (default: first slot)
 *     --no-verify    do not verify (benchmarks: measure signing only)
 * Prints "signatures N verified N failed N rate R/s" and exits 1 on any
 * failure. Mechanism: CKM_ECDSA over a SHA-256 hash (EC keys).
 */
#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/swcrypto.h"

static CK_FUNCTION_LIST *f;
static CK_SLOT_ID slot;
static const char *label;
static double seconds;
static bool same_data;
static bool no_verify;
static EVP_PKEY *pub;
static unsigned long total, verified, failed;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static CK_OBJECT_HANDLE find(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls)
{
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls },
                         { CKA_LABEL, (void *)label, strlen(label) } };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    if (f->C_FindObjectsInit(s, t, 2) == CKR_OK) {
        f->C_FindObjects(s, &h, 1, &n);
        f->C_FindObjectsFinal(s);
    }
    return n == 1 ? h : CK_INVALID_HANDLE;
}

static EVP_PKEY *public_key(CK_SESSION_HANDLE s)
{
    unsigned char params[64], point[200], *spki;
    CK_ATTRIBUTE a[] = { { CKA_EC_PARAMS, params, sizeof params },
                         { CKA_EC_POINT, point, sizeof point } };
    size_t len;
    EVP_PKEY *k = NULL;
    CK_OBJECT_HANDLE h = find(s, CKO_PUBLIC_KEY);
    if (h == CK_INVALID_HANDLE || f->C_GetAttributeValue(s, h, a, 2) != CKR_OK ||
        hc_spki_build(CKK_EC, NULL, 0, NULL, 0, params, a[0].ulValueLen, point, a[1].ulValueLen,
                      &spki, &len, &k) != CKR_OK)
        return NULL;
    free(spki);
    return k;
}

static bool verify(const unsigned char *hash, const unsigned char *sig, size_t len)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)len / 2, NULL),
                   BN_bin2bn(sig + len / 2, (int)len / 2, NULL));
    unsigned char der[160], *d = der;
    int dl = i2d_ECDSA_SIG(es, &d);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pub, NULL);
    bool ok =
        c && EVP_PKEY_verify_init(c) == 1 && EVP_PKEY_verify(c, der, (size_t)dl, hash, 32) == 1;
    EVP_PKEY_CTX_free(c);
    return ok;
}

static CK_RV sign_once(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, unsigned char *hash,
                       unsigned char *sig, CK_ULONG *len)
{
    CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
    if (!same_data)
        RAND_bytes(hash, 32);
    *len = 256;
    CK_RV rv = f->C_SignInit(s, &m, key);
    return rv == CKR_OK ? f->C_Sign(s, hash, 32, sig, len) : rv;
}

static void *worker(void *arg)
{
    (void)arg;
    CK_SESSION_HANDLE s;
    unsigned long n = 0, good = 0, bad = 0;
    if (f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK) {
        __atomic_fetch_add(&failed, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY);
    unsigned char hash[32] = { 42 }, sig[256];
    double end = now() + seconds;
    while (key != CK_INVALID_HANDLE && now() < end) {
        CK_ULONG len;
        CK_RV rv = sign_once(s, key, hash, sig, &len);
        n++;
        if (rv == CKR_OK && (no_verify || verify(hash, sig, len)))
            good++;
        else
            bad++;
    }
    if (key == CK_INVALID_HANDLE)
        bad++;
    f->C_CloseSession(s);
    pthread_mutex_lock(&count_lock);
    total += n;
    verified += good;
    failed += bad;
    pthread_mutex_unlock(&count_lock);
    return NULL;
}

static CK_RV init_module(void)
{
    CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
    return f->C_Initialize(&args);
}

static bool pick_slot(const char *token)
{
    CK_SLOT_ID slots[32];
    CK_ULONG n = 32;
    if (f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK || n == 0)
        return false;
    slot = slots[0];
    for (CK_ULONG i = 0; token && i < n; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
            strncmp((char *)ti.label, token, strlen(token)) == 0 &&
            (strlen(token) == 32 || ti.label[strlen(token)] == ' ')) {
            slot = slots[i];
            return true;
        }
    }
    return !token;
}

/* After fork: the child must initialize again and be able to sign. */
static int child_signs(void)
{
    if (init_module() != CKR_OK)
        return 10;
    CK_SESSION_HANDLE s;
    if (f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
        return 11;
    CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY);
    unsigned char hash[32], sig[256];
    CK_ULONG len;
    if (key == CK_INVALID_HANDLE || sign_once(s, key, hash, sig, &len) != CKR_OK)
        return 12;
    int rc = verify(hash, sig, len) ? 0 : 13;
    f->C_Finalize(NULL);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: sigload MODULE LABEL THREADS SECONDS [--pin-file F] "
                        "[--same-data] [--fork] [--token T]\n");
        return 2;
    }
    label = argv[2];
    int threads = atoi(argv[3]);
    seconds = atof(argv[4]);
    const char *pin_file = NULL, *token = NULL;
    bool do_fork = false;
    for (int i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "--pin-file") && i + 1 < argc)
            pin_file = argv[++i];
        else if (!strcmp(argv[i], "--token") && i + 1 < argc)
            token = argv[++i];
        else if (!strcmp(argv[i], "--same-data"))
            same_data = true;
        else if (!strcmp(argv[i], "--no-verify"))
            no_verify = true;
        else if (!strcmp(argv[i], "--fork"))
            do_fork = true;
    }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList get = h ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList") : NULL;
    if (!get || get(&f) != CKR_OK || init_module() != CKR_OK || !pick_slot(token)) {
        fprintf(stderr, "sigload: cannot load and initialize %s\n", argv[1]);
        return 1;
    }
    CK_SESSION_HANDLE s;
    f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
    if (pin_file) {
        char pin[256] = "";
        FILE *pf = fopen(pin_file, "r");
        size_t n = pf ? fread(pin, 1, sizeof pin - 1, pf) : 0;
        if (pf)
            fclose(pf);
        n = strcspn(pin, "\n");
        if (f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin, n) != CKR_OK) {
            fprintf(stderr, "sigload: login failed\n");
            return 1;
        }
        memset(pin, 0, sizeof pin);
    }
    if (!(pub = public_key(s))) {
        fprintf(stderr, "sigload: no EC key labelled %s\n", label);
        return 1;
    }
    if (do_fork) {
        CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY);
        unsigned char hash[32], sig[256];
        CK_ULONG len;
        if (sign_once(s, key, hash, sig, &len) != CKR_OK) {
            fprintf(stderr, "sigload: sign before fork failed\n");
            return 1;
        }
        pid_t pid = fork();
        if (pid == 0)
            _exit(child_signs());
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "sigload: child after fork failed (status %d)\n", status);
            return 1;
        }
        printf("fork: child initialized again and signed\n");
    }
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    double start = now();
    for (int i = 0; i < threads; i++)
        pthread_create(&tids[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(tids[i], NULL);
    double elapsed = now() - start;
    f->C_CloseSession(s);
    f->C_Finalize(NULL);
    EVP_PKEY_free(pub);
    free(tids);
    printf("signatures %lu %s %lu failed %lu rate %.1f/s\n", total,
           no_verify ? "unverified" : "verified", verified, failed, (double)total / elapsed);
    return failed || !verified ? 1 : 0;
}
