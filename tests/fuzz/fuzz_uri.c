/* fuzz_uri.c: pkcs11: URI handling (p11-kit's parser and our checks for
 * PINs, tokens and attributes) on arbitrary strings. The context has one
 * token on a module that does not exist, so lookups end at the token. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsmcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hc_ctx_t *ctx;

static void open_ctx(void)
{
    char path[] = "/tmp/hc-fuzz-uri.XXXXXX";
    int fd = mkstemp(path);
    const char conf[] = "[core]\npin-store = /nonexistent/pins\ncache-dir = /nonexistent/cache\n"
                        "[token dns]\nmodule = /nonexistent/module.so\nlabel = dns\n";
    if (fd < 0 || write(fd, conf, sizeof conf - 1) < 0)
        abort();
    close(fd);
    if (hc_open(HC_PROFILE_CLI, path, &ctx, NULL) != CKR_OK)
        abort();
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx)
        open_ctx();
    char *uri = malloc(size + 1);
    memcpy(uri, data, size);
    uri[size] = '\0';
    hc_obj_t *objs = NULL;
    size_t n = 0;
    hc_err_t err = { 0 };
    if (hc_find_uri(ctx, uri, &objs, &n, &err) == CKR_OK)
        __builtin_trap(); /* no token is present: never a success */
    if (objs || !err.msg[0])
        __builtin_trap();
    free(uri);
    return 0;
}
