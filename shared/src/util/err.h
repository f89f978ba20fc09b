/* err.h: filling hc_err_t; every failure names the thing at fault. */
#ifndef HC_ERR_H
#define HC_ERR_H

#include "hsmcache.h"

/* Sets err (if not NULL) and returns rv, so callers can write
 * `return hc_err(err, CKR_..., "token %s: ...", name);` */
CK_RV hc_err(hc_err_t *err, CK_RV rv, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Appends to err's message (if err is not NULL; cut at its size) and
 * returns rv: the context a caller adds to a message built elsewhere,
 * e.g. p11call.c's "token dns: C_Sign: CKR_..." + " (key 'zsk')". */
CK_RV hc_err_append(hc_err_t *err, CK_RV rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Name of a PKCS#11 return value ("CKR_PIN_INCORRECT"), or hex. The result
 * points to static storage or to buf (at least 32 bytes). */
const char *hc_rv_name(CK_RV rv, char *buf);

#endif
