/*
 * textsafe.h: bytes from a module (labels, ids) made safe to print.
 * A token's label is whatever its module says: it may hold NUL, terminal
 * escapes, CR/LF that forge a log line, or invalid UTF-8. Printing goes
 * through here: printable ASCII stays, every other byte (and the quote
 * and backslash, so the text can be read back unambiguously) becomes
 * \xNN. Thread-safe: no state.
 */
#ifndef HC_TEXTSAFE_H
#define HC_TEXTSAFE_H

#include <stddef.h>

/* Writes the escaped bytes into buf (always NUL-terminated when size >
 * 0); stops at a whole escape that would not fit. Returns buf. */
char *hc_text_escape(const void *bytes, size_t len, char *buf, size_t size);

#endif
