/* log.c: one line per message, written with a single write(2) so lines
 * from threads and processes sharing stderr do not interleave. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void hc_log(const hc_logger_t *lg, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hc_vlog(lg, level, fmt, ap);
    va_end(ap);
}

void hc_vlog(const hc_logger_t *lg, int level, const char *fmt, va_list ap)
{
    static const char *names[] = { "error", "warning", "info", "debug" };
    if (!lg || level < HC_LOG_ERROR || level > lg->level)
        return;
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: %s: ", lg->prefix, names[level]);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
