/* jsonline.c: DEL escaped in a dumped JSON line (see jsonline.h). */
#include <stdlib.h>
#include <string.h>

#include "jsonline.h"

char *hc_json_escape_del(char *json)
{
    if (!json || !strchr(json, 0x7f))
        return json;
    size_t n = 0, dels = 0;
    for (; json[n]; n++)
        dels += json[n] == 0x7f;
    char *out = malloc(n + 5 * dels + 1), *o = out;
    for (size_t i = 0; out && i < n; i++) {
        if (json[i] == 0x7f) {
            memcpy(o, "\\u007f", 6);
            o += 6;
        } else {
            *o++ = json[i];
        }
    }
    if (out)
        *o = '\0';
    free(json);
    return out;
}
