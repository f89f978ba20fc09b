/* log.h: the core's logging to stderr (systemd and pdns capture it).
 * Secrets are never passed here: callers format names, never PINs. */
#ifndef HC_LOG_H
#define HC_LOG_H

/* The levels (enum hc_log_level) are hsmcache.h's: plugins log through
 * hc_ctx_log with the same ones. */
#include <stdarg.h>

#include "hsmcache.h"

typedef struct hc_logger {
    char prefix[48]; /* "hsmcache[pdns]" */
    int level;       /* messages above it are dropped */
} hc_logger_t;

void hc_log(const hc_logger_t *lg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with a va_list (hc_ctx_log). */
void hc_vlog(const hc_logger_t *lg, int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
