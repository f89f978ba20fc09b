/*
 * mkkeys.c: makes ECDSA P-256 key pairs on a token in bulk, straight
 * through its PKCS#11 module (one process, one login), for tests and
 * benchmarks that need many keys (bench-scale) or keys with attributes the
 * hsmcache CLI does not set. The user PIN is read from stdin (one line),
 * never from the command line.
 *   printf 'PIN\n' | mkkeys [--not-copyable] [--first N] MODULE TOKEN PREFIX COUNT
 * Pair i (N..N+COUNT-1, N default 1) is labelled PREFIX-i, or PREFIX alone
 * when COUNT is 1 and no --first is given, and has that label as its
 * CKA_ID too (--first lets a bench make its keys in timed chunks). --not-copyable sets CKA_COPYABLE
 * false on the private keys. Prints "made COUNT key pairs in S s" and
 * exits 1 on the first failure, naming the call and the CKR_ value.
 */
#include <dlfcn.h>
#include <openssl/crypto.h>
#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fail(const char *what, CK_RV rv)
{
    fprintf(stderr, "mkkeys: %s: CKR 0x%lx\n", what, (unsigned long)rv);
    return 1;
}

/* The slot whose token label (space padded) is `label`. */
static CK_RV find_slot(CK_FUNCTION_LIST *f, const char *label, CK_SLOT_ID *out)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    CK_RV rv = f->C_GetSlotList(CK_TRUE, slots, &n);
    size_t len = strlen(label);
    for (CK_ULONG i = 0; rv == CKR_OK && i < n && i < 64; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK || len > sizeof ti.label ||
            memcmp(ti.label, label, len) != 0)
            continue;
        size_t k = len;
        while (k < sizeof ti.label && ti.label[k] == ' ')
            k++;
        if (k == sizeof ti.label) {
            *out = slots[i];
            return CKR_OK;
        }
    }
    return rv == CKR_OK ? CKR_TOKEN_NOT_PRESENT : rv;
}

int main(int argc, char **argv)
{
    bool copyable = true, numbered = false;
    long first = 1;
    for (;;) {
        if (argc > 1 && !strcmp(argv[1], "--not-copyable")) {
            copyable = false;
            argc--;
            argv++;
        } else if (argc > 2 && !strcmp(argv[1], "--first")) {
            char *e = NULL;
            first = strtol(argv[2], &e, 10);
            if (!e || *e || first < 1 || first > 1000000)
                first = 0;
            numbered = true;
            argc -= 2;
            argv += 2;
        } else {
            break;
        }
    }
    char *end = NULL;
    long count = argc == 5 ? strtol(argv[4], &end, 10) : 0;
    if (argc != 5 || !end || *end || count < 1 || count > 1000000 || first < 1) {
        fprintf(stderr, "usage: printf 'PIN\\n' | mkkeys [--not-copyable] [--first N] "
                        "MODULE TOKEN PREFIX COUNT (1..1000000)\n");
        return 2;
    }
    char pin[256];
    size_t pin_len = fgets(pin, sizeof pin, stdin) ? strcspn(pin, "\r\n") : 0;
    void *h = dlopen(argv[1], RTLD_NOW);
    CK_C_GetFunctionList get = h ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList") : NULL;
    CK_FUNCTION_LIST *f;
    if (!pin_len || !get || get(&f) != CKR_OK || f->C_Initialize(NULL) != CKR_OK) {
        fprintf(stderr, "mkkeys: cannot load %s or read the PIN\n", argv[1]);
        return 1;
    }
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    CK_RV rv = find_slot(f, argv[2], &slot);
    if (rv != CKR_OK)
        return fail(argv[2], rv);
    if ((rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s)) !=
        CKR_OK)
        return fail("C_OpenSession", rv);
    rv = f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin, pin_len);
    OPENSSL_cleanse(pin, sizeof pin);
    if (rv != CKR_OK)
        return fail("C_Login", rv);
    static const unsigned char p256[] = {
        0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
    };
    CK_BBOOL yes = CK_TRUE, cp = copyable ? CK_TRUE : CK_FALSE;
    CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = first; i < first + count; i++) {
        char label[300];
        int n = count == 1 && !numbered ? snprintf(label, sizeof label, "%s", argv[3])
                                        : snprintf(label, sizeof label, "%s-%ld", argv[3], i);
        if (n < 0 || (size_t)n >= sizeof label)
            return fail("label too long", CKR_ARGUMENTS_BAD);
        CK_ATTRIBUTE pub[] = {
            { CKA_EC_PARAMS, (void *)p256, sizeof p256 },
            { CKA_TOKEN, &yes, 1 },
            { CKA_VERIFY, &yes, 1 },
            { CKA_LABEL, label, (CK_ULONG)n },
            { CKA_ID, label, (CK_ULONG)n },
        };
        CK_ATTRIBUTE priv[] = {
            { CKA_TOKEN, &yes, 1 },
            { CKA_PRIVATE, &yes, 1 },
            { CKA_SENSITIVE, &yes, 1 },
            { CKA_SIGN, &yes, 1 },
            { CKA_LABEL, label, (CK_ULONG)n },
            { CKA_ID, label, (CK_ULONG)n },
            { CKA_COPYABLE, &cp, 1 },
        };
        CK_OBJECT_HANDLE hp, hs;
        if ((rv = f->C_GenerateKeyPair(s, &m, pub, 5, priv, 7, &hp, &hs)) != CKR_OK)
            return fail(label, rv);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("made %ld key pairs in %.2f s\n", count,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    f->C_Logout(s);
    f->C_CloseSession(s);
    f->C_Finalize(NULL);
    return 0;
}
