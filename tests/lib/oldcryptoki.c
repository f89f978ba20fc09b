/*
 * oldcryptoki.c: a PKCS#11 module for tests that behaves like one written
 * before Cryptoki 2.40: it is the real module named by $OLDCRYPTOKI_REAL
 * (SoftHSM), but reports version 2.20 in C_GetInfo and its function list,
 * and refuses a C_GenerateKeyPair template holding CKA_DESTROYABLE (a
 * type 2.20 does not define) with CKR_ATTRIBUTE_TYPE_INVALID, as such a
 * module does. While the file named by $OLDCRYPTOKI_UNSAFE exists it is
 * also a buggy one: it makes private keys non-sensitive and extractable
 * whatever the template asks. Built by the test that uses it
 * (hostile_keygen.sh), with cc -shared.
 */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ATTRS 64

static CK_FUNCTION_LIST list;
static CK_FUNCTION_LIST_PTR real;
static const CK_BBOOL no = CK_FALSE, yes = CK_TRUE;

static CK_RV old_GetInfo(CK_INFO_PTR info)
{
    CK_RV rv = real->C_GetInfo(info);
    if (rv == CKR_OK)
        info->cryptokiVersion = (CK_VERSION){ 2, 20 };
    return rv;
}

static bool has(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (t[i].type == type)
            return true;
    return false;
}

static CK_RV old_GenerateKeyPair(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub,
                                 CK_ULONG npub, CK_ATTRIBUTE_PTR priv, CK_ULONG npriv,
                                 CK_OBJECT_HANDLE_PTR hpub, CK_OBJECT_HANDLE_PTR hpriv)
{
    if (has(pub, npub, CKA_DESTROYABLE) || has(priv, npriv, CKA_DESTROYABLE))
        return CKR_ATTRIBUTE_TYPE_INVALID;
    const char *unsafe = getenv("OLDCRYPTOKI_UNSAFE");
    if (!unsafe || access(unsafe, F_OK) != 0 || npriv > MAX_ATTRS - 2)
        return real->C_GenerateKeyPair(s, m, pub, npub, priv, npriv, hpub, hpriv);
    CK_ATTRIBUTE t[MAX_ATTRS];
    CK_ULONG n = 0;
    for (CK_ULONG i = 0; i < npriv; i++)
        if (priv[i].type != CKA_SENSITIVE && priv[i].type != CKA_EXTRACTABLE)
            t[n++] = priv[i];
    t[n++] = (CK_ATTRIBUTE){ CKA_SENSITIVE, (void *)&no, sizeof no };
    t[n++] = (CK_ATTRIBUTE){ CKA_EXTRACTABLE, (void *)&yes, sizeof yes };
    return real->C_GenerateKeyPair(s, m, pub, npub, t, n, hpub, hpriv);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
    if (!real) {
        const char *path = getenv("OLDCRYPTOKI_REAL");
        void *h = dlopen(path ? path : "/usr/lib/softhsm/libsofthsm2.so", RTLD_NOW | RTLD_LOCAL);
        CK_C_GetFunctionList get = h ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList") : NULL;
        if (!get || get(&real) != CKR_OK)
            return CKR_GENERAL_ERROR;
        list = *real;
        list.version = (CK_VERSION){ 2, 20 };
        list.C_GetInfo = old_GetInfo;
        list.C_GenerateKeyPair = old_GenerateKeyPair;
    }
    *out = &list;
    return CKR_OK;
}
