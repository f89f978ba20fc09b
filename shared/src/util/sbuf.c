/* sbuf.c: a growable string (see sbuf.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/sbuf.h"

void hc_sb_printf(hc_sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *g = realloc(b->p, cap);
        if (!g)
            return;
        b->p = g;
        b->cap = cap;
    }
}

char *hc_sb_take(hc_sbuf_t *b)
{
    char *text = b->p ? b->p : strdup("");
    b->p = NULL;
    b->len = b->cap = 0;
    return text;
}
