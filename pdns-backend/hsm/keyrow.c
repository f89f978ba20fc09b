/* keyrow.c: the text of a cryptokeys row ("Key: value" lines) and how a
 * row's key is found through hsmcache. */
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pdnshsm.h"

static void field(const char *content, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (const char *p = content; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1 + strspn(p + nl + 1, " ");
            size_t len = strcspn(v, "\r\n");
            if (len >= size)
                len = size - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return;
        }
    }
}

void key_row_parse(key_row_t *r)
{
    char alg[64];
    field(r->content, "Engine", r->engine, sizeof r->engine);
    field(r->content, "Slot", r->slot, sizeof r->slot);
    field(r->content, "PIN", r->pin, sizeof r->pin);
    field(r->content, "Label", r->label, sizeof r->label);
    field(r->content, "PubLabel", r->publabel, sizeof r->publabel);
    field(r->content, "Algorithm", alg, sizeof alg);
    r->algorithm = (unsigned)atoi(alg);
    r->pkcs11 = r->engine[0] != '\0';
}

void wipe_rows_pins(key_row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        OPENSSL_cleanse(rows[i].pin, sizeof rows[i].pin);
}

char *key_row_rewrite(const key_row_t *r, const char *engine, const char *slot)
{
    size_t cap = strlen(r->content) + strlen(engine) + strlen(slot) + 64;
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    for (const char *p = r->content; *p;) {
        size_t len = strcspn(p, "\n");
        if (!strncmp(p, "Engine:", 7))
            o += sprintf(o, "Engine: %s", engine);
        else if (!strncmp(p, "Slot:", 5))
            o += sprintf(o, "Slot: %s", slot);
        else if (!strncmp(p, "PIN:", 4))
            o += sprintf(o, "PIN: ");
        else {
            memcpy(o, p, len);
            o += len;
        }
        p += len;
        if (*p == '\n')
            *o++ = *p++;
    }
    *o = '\0';
    return out;
}

bool engine_is_hsmcache(const char *engine)
{
    char path[PATH_MAX];
    if (!hc_module_registered_path(engine, path, sizeof path))
        return false;
    const char *base = strrchr(path, '/');
    return strncmp(base ? base + 1 : path, "hsmcache-", 9) == 0;
}

const char *row_token(hc_ctx_t *ctx, const key_row_t *r)
{
    if (engine_is_hsmcache(r->engine)) {
        /* PowerDNS takes the first slot whose token label matches Slot
         * ignoring case (`Slot: DNS` signs with token dns), so do we. */
        for (size_t i = 0; i < hc_token_count(ctx); i++) {
            const char *name = hc_token_name(ctx, i);
            if (name && !strcasecmp(name, r->slot))
                return name;
        }
        return NULL;
    }
    /* A stock row: the [token] with this module and real label (ignoring
     * case, as PowerDNS does). */
    for (size_t i = 0; i < hc_token_count(ctx); i++) {
        hc_token_status_t st;
        if (hc_token_status(ctx, i, &st, NULL) != CKR_OK && !st.info_valid)
            continue;
        char label[33];
        size_t n = sizeof st.info.label;
        while (n > 0 && st.info.label[n - 1] == ' ')
            n--;
        memcpy(label, st.info.label, n);
        label[n] = '\0';
        if (!strcmp(st.module, r->engine) && !strcasecmp(label, r->slot))
            return hc_token_name(ctx, i);
    }
    return NULL;
}

hc_obj_t row_key(hc_ctx_t *ctx, const key_row_t *r, const char *token)
{
    long tok = token ? hc_token_index(ctx, token) : -1;
    if (tok < 0 || !r->label[0])
        return 0;
    /* By label, any class: before the store has the PIN only the public
     * half is visible, and it is enough to show the key is there and to
     * read its public key. The private half is preferred when visible. */
    CK_ATTRIBUTE t = { CKA_LABEL, (void *)r->label, strlen(r->label) };
    hc_obj_t *objs = NULL, found = 0;
    size_t n = 0;
    if (hc_find(ctx, (size_t)tok, &t, 1, &objs, &n, NULL) == CKR_OK) {
        for (size_t i = 0; i < n; i++) {
            CK_OBJECT_CLASS cls = 0;
            CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof cls };
            if (hc_get_attrs(ctx, objs[i], &a, 1, NULL) != CKR_OK ||
                (cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY))
                continue;
            if (!found || cls == CKO_PRIVATE_KEY)
                found = objs[i];
        }
    }
    free(objs);
    return found;
}
