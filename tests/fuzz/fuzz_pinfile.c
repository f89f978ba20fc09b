/* fuzz_pinfile.c: reading a PIN file of arbitrary content: the result is
 * either a PIN of 1-255 bytes equal to the content (less one trailing
 * newline) or a refusal with a message. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pinstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/hc-fuzz-pin.XXXXXX");
        if (!mkdtemp(dir))
            abort();
    }
    char path[128];
    snprintf(path, sizeof path, "%s/tok", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
        abort();
    close(fd);
    hc_pin_t pin;
    hc_err_t err = { 0 };
    if (hc_pin_read(dir, "tok", &pin, NULL, &err) == CKR_OK) {
        size_t want = size;
        if (want && data[want - 1] == '\n')
            want--;
        if (want && data[want - 1] == '\r')
            want--;
        if (pin.len != want || pin.len == 0 || pin.len > HC_PIN_MAX ||
            memcmp(pin.bytes, data, pin.len) != 0)
            __builtin_trap();
        hc_pin_wipe(&pin);
    } else if (!err.msg[0]) {
        __builtin_trap();
    }
    return 0;
}
