/* err.c: error messages and PKCS#11 return-value names. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

CK_RV hc_err(hc_err_t *err, CK_RV rv, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->rv = rv;
    }
    return rv;
}

CK_RV hc_err_append(hc_err_t *err, CK_RV rv, const char *fmt, ...)
{
    if (err) {
        size_t n = strnlen(err->msg, sizeof err->msg);
        va_list ap;
        va_start(ap, fmt);
        if (n + 1 < sizeof err->msg)
            vsnprintf(err->msg + n, sizeof err->msg - n, fmt, ap);
        va_end(ap);
        err->rv = rv;
    }
    return rv;
}

const char *hc_rv_name(CK_RV rv, char *buf)
{
    static const struct {
        CK_RV rv;
        const char *name;
    } names[] = {
#define N(x) { x, #x }
        N(CKR_OK),
        N(CKR_HOST_MEMORY),
        N(CKR_SLOT_ID_INVALID),
        N(CKR_GENERAL_ERROR),
        N(CKR_FUNCTION_FAILED),
        N(CKR_ARGUMENTS_BAD),
        N(CKR_ATTRIBUTE_SENSITIVE),
        N(CKR_ATTRIBUTE_TYPE_INVALID),
        N(CKR_ATTRIBUTE_VALUE_INVALID),
        N(CKR_DATA_INVALID),
        N(CKR_DATA_LEN_RANGE),
        N(CKR_DEVICE_ERROR),
        N(CKR_DEVICE_MEMORY),
        N(CKR_DEVICE_REMOVED),
        N(CKR_FUNCTION_CANCELED),
        N(CKR_FUNCTION_NOT_SUPPORTED),
        N(CKR_KEY_HANDLE_INVALID),
        N(CKR_KEY_TYPE_INCONSISTENT),
        N(CKR_MECHANISM_INVALID),
        N(CKR_MECHANISM_PARAM_INVALID),
        N(CKR_OBJECT_HANDLE_INVALID),
        N(CKR_OPERATION_ACTIVE),
        N(CKR_OPERATION_NOT_INITIALIZED),
        N(CKR_PIN_INCORRECT),
        N(CKR_PIN_INVALID),
        N(CKR_PIN_LEN_RANGE),
        N(CKR_PIN_EXPIRED),
        N(CKR_PIN_LOCKED),
        N(CKR_SESSION_CLOSED),
        N(CKR_SESSION_HANDLE_INVALID),
        N(CKR_SIGNATURE_INVALID),
        N(CKR_SIGNATURE_LEN_RANGE),
        N(CKR_TEMPLATE_INCOMPLETE),
        N(CKR_TEMPLATE_INCONSISTENT),
        N(CKR_TOKEN_NOT_PRESENT),
        N(CKR_TOKEN_NOT_RECOGNIZED),
        N(CKR_USER_ALREADY_LOGGED_IN),
        N(CKR_USER_NOT_LOGGED_IN),
        N(CKR_USER_PIN_NOT_INITIALIZED),
        N(CKR_USER_TYPE_INVALID),
        N(CKR_BUFFER_TOO_SMALL),
        N(CKR_CRYPTOKI_NOT_INITIALIZED),
        N(CKR_CRYPTOKI_ALREADY_INITIALIZED),
        N(CKR_FUNCTION_REJECTED),
        N(CKR_SESSION_READ_ONLY),
        N(CKR_SESSION_EXISTS),
        N(CKR_TOKEN_WRITE_PROTECTED),
        N(CKR_ENCRYPTED_DATA_INVALID),
        N(CKR_ENCRYPTED_DATA_LEN_RANGE),
        N(CKR_KEY_FUNCTION_NOT_PERMITTED),
        N(CKR_KEY_SIZE_RANGE),
        N(CKR_RANDOM_NO_RNG),
        N(CKR_RANDOM_SEED_NOT_SUPPORTED),
        N(CKR_ACTION_PROHIBITED),
        N(CKR_ATTRIBUTE_READ_ONLY),
        N(CKR_KEY_NOT_NEEDED),
        N(CKR_KEY_UNEXTRACTABLE),
#undef N
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].rv == rv)
            return names[i].name;
    snprintf(buf, 32, "CKR_0x%lx", (unsigned long)rv);
    return buf;
}
