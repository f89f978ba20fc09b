/*
 * mktoken.c: initializes a SoftHSM token for tests and the demo, reading
 * the SO PIN and user PIN from stdin (two lines), so that no PIN is ever
 * on a command line, even in test setup.
 *   printf 'SOPIN\nPIN\n' | mktoken MODULE LABEL
 */
#include <dlfcn.h>
#include <openssl/crypto.h>
#include <p11-kit/pkcs11.h>
#include <stdio.h>
#include <string.h>

static size_t read_pin(char *buf, size_t size)
{
    if (!fgets(buf, (int)size, stdin))
        return 0;
    return strcspn(buf, "\r\n");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: printf 'SOPIN\\nPIN\\n' | mktoken MODULE LABEL\n");
        return 2;
    }
    char so[256], pin[256];
    size_t so_len = read_pin(so, sizeof so), pin_len = read_pin(pin, sizeof pin);
    void *h = dlopen(argv[1], RTLD_NOW);
    CK_C_GetFunctionList get = h ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList") : NULL;
    CK_FUNCTION_LIST *f;
    if (!so_len || !pin_len || !get || get(&f) != CKR_OK || f->C_Initialize(NULL) != CKR_OK) {
        fprintf(stderr, "mktoken: cannot load %s or read the PINs\n", argv[1]);
        return 1;
    }
    /* SoftHSM always offers one uninitialized token: use it. */
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    CK_RV rv = f->C_GetSlotList(CK_TRUE, slots, &n);
    CK_SLOT_ID slot = (CK_SLOT_ID)-1;
    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && !(ti.flags & CKF_TOKEN_INITIALIZED))
            slot = slots[i];
    }
    unsigned char label[32];
    memset(label, ' ', sizeof label);
    memcpy(label, argv[2], strlen(argv[2]) < 32 ? strlen(argv[2]) : 32);
    CK_SESSION_HANDLE s;
    if (slot == (CK_SLOT_ID)-1)
        rv = CKR_SLOT_ID_INVALID;
    if (rv == CKR_OK)
        rv = f->C_InitToken(slot, (CK_UTF8CHAR *)so, so_len, label);
    if (rv == CKR_OK)
        rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
    if (rv == CKR_OK)
        rv = f->C_Login(s, CKU_SO, (CK_UTF8CHAR *)so, so_len);
    if (rv == CKR_OK)
        rv = f->C_InitPIN(s, (CK_UTF8CHAR *)pin, pin_len);
    OPENSSL_cleanse(so, sizeof so);
    OPENSSL_cleanse(pin, sizeof pin);
    f->C_Finalize(NULL);
    if (rv != CKR_OK) {
        fprintf(stderr, "mktoken: initializing token '%s' failed: rv 0x%lx\n", argv[2], rv);
        return 1;
    }
    return 0;
}
