/* sbuf.h: a growable string for rendering reports (stats text). Not
 * shared between threads. On out of memory the text stops growing. */
#ifndef HC_SBUF_H
#define HC_SBUF_H

#include <stddef.h>

typedef struct hc_sbuf {
    char *p;
    size_t len, cap;
} hc_sbuf_t;

void hc_sb_printf(hc_sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text, malloc'ed (the caller frees it; "" when nothing was
 * written); NULL only when out of memory. */
char *hc_sb_take(hc_sbuf_t *b);

#endif
