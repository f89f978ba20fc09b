/* fuzz_config.c: the INI parser on arbitrary bytes: it must accept or
 * refuse with a message, never crash, leak or read out of bounds. */
#include <stdint.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hc_config_t *cfg = NULL;
    hc_err_t err = { 0 };
    if (hc_config_parse("fuzz.conf", (const char *)data, size, &cfg, &err) == CKR_OK) {
        if (!cfg)
            __builtin_trap();
        hc_config_free(cfg);
    } else if (cfg || !err.msg[0]) {
        __builtin_trap(); /* a refusal always comes with a message */
    }
    return 0;
}
