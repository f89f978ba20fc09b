/*
 * unsupported.c: calls the front does not offer. Each returns
 * CKR_FUNCTION_NOT_SUPPORTED (or what PKCS#11 prescribes) and touches
 * nothing. Token administration (InitToken, PINs) belongs to the real
 * module's own tools; the rest is not needed by the hosts we serve.
 */
#include "front.h"

#define NOT_SUPPORTED(name, params) \
    CK_RV name params { return CKR_FUNCTION_NOT_SUPPORTED; }

#define U __attribute__((unused))

NOT_SUPPORTED(C_InitToken,
              (U CK_SLOT_ID s, U CK_UTF8CHAR_PTR p, U CK_ULONG l, U CK_UTF8CHAR_PTR lb))
NOT_SUPPORTED(C_InitPIN, (U CK_SESSION_HANDLE s, U CK_UTF8CHAR_PTR p, U CK_ULONG l))
NOT_SUPPORTED(C_SetPIN, (U CK_SESSION_HANDLE s, U CK_UTF8CHAR_PTR o, U CK_ULONG ol,
                         U CK_UTF8CHAR_PTR n, U CK_ULONG nl))
NOT_SUPPORTED(C_GetOperationState, (U CK_SESSION_HANDLE s, U CK_BYTE_PTR p, U CK_ULONG_PTR l))
NOT_SUPPORTED(C_SetOperationState, (U CK_SESSION_HANDLE s, U CK_BYTE_PTR p, U CK_ULONG l,
                                    U CK_OBJECT_HANDLE e, U CK_OBJECT_HANDLE a))
NOT_SUPPORTED(C_CreateObject,
              (U CK_SESSION_HANDLE s, U CK_ATTRIBUTE_PTR t, U CK_ULONG n, U CK_OBJECT_HANDLE_PTR o))
NOT_SUPPORTED(C_CopyObject, (U CK_SESSION_HANDLE s, U CK_OBJECT_HANDLE o, U CK_ATTRIBUTE_PTR t,
                             U CK_ULONG n, U CK_OBJECT_HANDLE_PTR no))
NOT_SUPPORTED(C_GetObjectSize, (U CK_SESSION_HANDLE s, U CK_OBJECT_HANDLE o, U CK_ULONG_PTR l))
NOT_SUPPORTED(C_SetAttributeValue,
              (U CK_SESSION_HANDLE s, U CK_OBJECT_HANDLE o, U CK_ATTRIBUTE_PTR t, U CK_ULONG n))
NOT_SUPPORTED(C_DigestKey, (U CK_SESSION_HANDLE s, U CK_OBJECT_HANDLE k))
NOT_SUPPORTED(C_SignRecoverInit,
              (U CK_SESSION_HANDLE s, U CK_MECHANISM_PTR m, U CK_OBJECT_HANDLE k))
NOT_SUPPORTED(C_SignRecover, (U CK_SESSION_HANDLE s, U CK_BYTE_PTR d, U CK_ULONG dl,
                              U CK_BYTE_PTR o, U CK_ULONG_PTR ol))
NOT_SUPPORTED(C_VerifyRecoverInit,
              (U CK_SESSION_HANDLE s, U CK_MECHANISM_PTR m, U CK_OBJECT_HANDLE k))
NOT_SUPPORTED(C_VerifyRecover, (U CK_SESSION_HANDLE s, U CK_BYTE_PTR d, U CK_ULONG dl,
                                U CK_BYTE_PTR o, U CK_ULONG_PTR ol))
NOT_SUPPORTED(C_DigestEncryptUpdate, (U CK_SESSION_HANDLE s, U CK_BYTE_PTR d, U CK_ULONG dl,
                                      U CK_BYTE_PTR o, U CK_ULONG_PTR ol))
NOT_SUPPORTED(C_DecryptDigestUpdate, (U CK_SESSION_HANDLE s, U CK_BYTE_PTR d, U CK_ULONG dl,
                                      U CK_BYTE_PTR o, U CK_ULONG_PTR ol))
NOT_SUPPORTED(C_SignEncryptUpdate, (U CK_SESSION_HANDLE s, U CK_BYTE_PTR d, U CK_ULONG dl,
                                    U CK_BYTE_PTR o, U CK_ULONG_PTR ol))
NOT_SUPPORTED(C_DecryptVerifyUpdate, (U CK_SESSION_HANDLE s, U CK_BYTE_PTR d, U CK_ULONG dl,
                                      U CK_BYTE_PTR o, U CK_ULONG_PTR ol))
NOT_SUPPORTED(C_GenerateKey, (U CK_SESSION_HANDLE s, U CK_MECHANISM_PTR m, U CK_ATTRIBUTE_PTR t,
                              U CK_ULONG n, U CK_OBJECT_HANDLE_PTR k))
NOT_SUPPORTED(C_WrapKey, (U CK_SESSION_HANDLE s, U CK_MECHANISM_PTR m, U CK_OBJECT_HANDLE w,
                          U CK_OBJECT_HANDLE k, U CK_BYTE_PTR o, U CK_ULONG_PTR ol))
NOT_SUPPORTED(C_UnwrapKey,
              (U CK_SESSION_HANDLE s, U CK_MECHANISM_PTR m, U CK_OBJECT_HANDLE u, U CK_BYTE_PTR w,
               U CK_ULONG wl, U CK_ATTRIBUTE_PTR t, U CK_ULONG n, U CK_OBJECT_HANDLE_PTR k))
NOT_SUPPORTED(C_DeriveKey, (U CK_SESSION_HANDLE s, U CK_MECHANISM_PTR m, U CK_OBJECT_HANDLE b,
                            U CK_ATTRIBUTE_PTR t, U CK_ULONG n, U CK_OBJECT_HANDLE_PTR k))
NOT_SUPPORTED(C_WaitForSlotEvent, (U CK_FLAGS f, U CK_SLOT_ID_PTR s, U CK_VOID_PTR r))

CK_RV C_GetFunctionStatus(U CK_SESSION_HANDLE s)
{
    return CKR_FUNCTION_NOT_PARALLEL;
}
CK_RV C_CancelFunction(U CK_SESSION_HANDLE s)
{
    return CKR_FUNCTION_NOT_PARALLEL;
}
