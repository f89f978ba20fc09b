/* textsafe.c: module bytes escaped for terminals and logs. */
#include "util/textsafe.h"

#include <stdio.h>

char *hc_text_escape(const void *bytes, size_t len, char *buf, size_t size)
{
    const unsigned char *b = bytes;
    size_t n = 0;
    if (size == 0)
        return buf;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = b[i];
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
            if (n + 1 >= size)
                break;
            buf[n++] = (char)c;
        } else {
            if (n + 4 >= size)
                break;
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
        }
    }
    buf[n] = '\0';
    return buf;
}
