/* log.h: the core's logging to stderr (systemd and pdns capture it).
 * Secrets are never passed here: callers format names, never PINs. */
#ifndef HC_LOG_H
#define HC_LOG_H

enum hc_log_level { HC_LOG_ERROR = 0, HC_LOG_WARN, HC_LOG_INFO, HC_LOG_DEBUG };

typedef struct hc_logger {
    char prefix[48];  /* "hsmcache[pdns]" */
    int level;        /* messages above it are dropped */
} hc_logger_t;

void hc_log(const hc_logger_t *lg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
