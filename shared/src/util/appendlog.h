/* appendlog.h: appends `len` bytes and a newline (one whole line) to
 * `path` (created 0640, never through a symlink) with flock and fsync.
 * 0, or -1 with errno. Thread-safe. */
#ifndef HC_APPENDLOG_H
#define HC_APPENDLOG_H

#include <stddef.h>

int hc_append_line(const char *path, const char *line, size_t len);

#endif
