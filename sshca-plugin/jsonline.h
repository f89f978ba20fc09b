/* jsonline.h: the last step of writing a JSON record as one line of
 * printable ASCII (the SSH CA audit log). libjansson's JSON_ENSURE_ASCII
 * escapes control characters below 0x20 and everything above 0x7f, but
 * writes DEL (0x7f) as is, which JSON allows. */
#ifndef HC_JSONLINE_H
#define HC_JSONLINE_H

/* `json` (malloc'ed, consumed) with every DEL byte written as \u007f: the
 * same JSON value (DEL can only stand inside a string). Returns a
 * malloc'ed string, or NULL (json freed) when out of memory or json is
 * NULL. Thread-safe. */
char *hc_json_escape_del(char *json);

#endif
