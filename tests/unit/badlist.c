/* badlist.c: a PKCS#11 module whose function list the core must refuse at
 * load (test_p11call, through module.c). Built once per fault:
 *   -DBADLIST_null     C_GetFunctionList returns CKR_OK and no list
 *   -DBADLIST_version  a full list that claims PKCS#11 9.1
 *   -DBADLIST_nosign   a 2.40 list with every function but C_Sign
 * Its functions are never called: the list is refused before p11-kit
 * loads the module or anyone calls C_Initialize. */
#include <stddef.h>
#include <string.h>
#include <p11-kit/pkcs11.h>

static CK_RV never(void)
{
    return CKR_GENERAL_ERROR;
}

static CK_FUNCTION_LIST list;

CK_RV C_GetFunctionList(CK_FUNCTION_LIST **out)
{
    void (*const any)(void) = (void (*)(void))never;
    for (size_t off = offsetof(CK_FUNCTION_LIST, C_Initialize); off + sizeof any <= sizeof list;
         off += sizeof any)
        memcpy((char *)&list + off, &any, sizeof any);
    list.version.major = 2;
    list.version.minor = 40;
#if defined BADLIST_null
    *out = NULL;
    return CKR_OK;
#elif defined BADLIST_version
    list.version.major = 9;
    list.version.minor = 1;
#elif defined BADLIST_nosign
    list.C_Sign = NULL;
#else
#error "build with -DBADLIST_null, _version or _nosign"
#endif
    *out = &list;
    return CKR_OK;
}
