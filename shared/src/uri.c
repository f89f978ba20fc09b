/*
 * uri.c: RFC 7512 pkcs11: URIs, parsed with p11-kit's URI API.
 *
 * token= matches the hsmcache token name first (what plugins and configs
 * use), else the real token label; serial=, model=, manufacturer= match the
 * real token. object=, id= and type= become the find template. A URI that
 * carries pin-value or pin-source is refused: PINs come from the store.
 * A token the URI cannot select by what is configured (hc_uri_may_select)
 * is not asked at all, so a lookup never loads an unrelated token's module.
 */
#include <p11-kit/uri.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "hsmcache.h"
#include "urimatch.h"

static size_t field_len(const unsigned char *f, size_t n)
{
    while (n > 0 && (f[n - 1] == ' ' || f[n - 1] == '\0'))
        n--;
    return n;
}

static bool token_selected(P11KitUri *u, const char *name, const hc_token_status_t *st)
{
    CK_TOKEN_INFO *want = p11_kit_uri_get_token_info(u);
    CK_TOKEN_INFO real = st->info;
    size_t wl = field_len(want->label, sizeof want->label);
    if (wl == strlen(name) && memcmp(want->label, name, wl) == 0) {
        /* Named by hsmcache name: match the rest against the real token. */
        memset(real.label, ' ', sizeof real.label);
        memcpy(real.label, name, strlen(name));
    }
    return st->info_valid && p11_kit_uri_match_token_info(u, &real);
}

/* Parses `uri`; NULL (err set) when invalid or when it carries a PIN. */
static P11KitUri *parse(const char *uri, hc_err_t *err)
{
    P11KitUri *u = p11_kit_uri_new();
    if (!u) {
        hc_err(err, CKR_HOST_MEMORY, "out of memory");
        return NULL;
    }
    int rc = p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, u);
    if (rc != P11_KIT_URI_OK) {
        hc_err(err, CKR_ARGUMENTS_BAD, "'%s' is not a valid pkcs11: URI: %s", uri,
               p11_kit_uri_message(rc));
    } else if (p11_kit_uri_get_pin_value(u) || p11_kit_uri_get_pin_source(u)) {
        hc_err(err, CKR_ARGUMENTS_BAD,
               "pkcs11: URI carries a PIN "
               "(pin-value/pin-source); remove it: hsmcache reads PINs "
               "from its PIN store only");
    } else {
        return u;
    }
    p11_kit_uri_free(u);
    return NULL;
}

CK_RV hc_uri_target(hc_ctx_t *ctx, const char *uri, size_t *tok, char *label, size_t label_size,
                    unsigned char *id, size_t *id_len, hc_err_t *err)
{
    P11KitUri *u = parse(uri, err);
    if (!u)
        return err ? err->rv : CKR_ARGUMENTS_BAD;
    CK_RV rv = hc_err(err, CKR_TOKEN_NOT_PRESENT,
                      "%s: no configured, present "
                      "token matches (see 'hsmcache tokens')",
                      uri);
    for (size_t i = 0; i < hc_token_count(ctx); i++) {
        hc_token_status_t st;
        if (!hc_uri_may_select(u, hc_token_name(ctx, i), hc_token_configured_label(ctx, i)))
            continue; /* not asked: its module stays unloaded */
        if (hc_token_status(ctx, i, &st, NULL) != CKR_OK && !st.info_valid)
            continue;
        if (token_selected(u, hc_token_name(ctx, i), &st)) {
            *tok = i;
            rv = CKR_OK;
            break;
        }
    }
    CK_ATTRIBUTE *a = p11_kit_uri_get_attribute(u, CKA_LABEL);
    size_t n = a && a->ulValueLen < label_size ? a->ulValueLen : 0;
    memcpy(label, a && n ? a->pValue : "", n);
    label[n] = '\0';
    a = p11_kit_uri_get_attribute(u, CKA_ID);
    size_t cap = *id_len;
    *id_len = a && a->ulValueLen <= cap ? a->ulValueLen : 0;
    if (*id_len)
        memcpy(id, a->pValue, *id_len);
    p11_kit_uri_free(u);
    return rv;
}

CK_RV hc_find_uri(hc_ctx_t *ctx, const char *uri, hc_obj_t **objs, size_t *count, hc_err_t *err)
{
    *objs = NULL;
    *count = 0;
    P11KitUri *u = parse(uri, err);
    if (!u)
        return err ? err->rv : CKR_ARGUMENTS_BAD;
    CK_RV rv = CKR_OK;
    CK_ULONG nattrs = 0;
    CK_ATTRIBUTE *attrs = p11_kit_uri_get_attributes(u, &nattrs);
    bool any_token = false;
    for (size_t tok = 0; tok < hc_token_count(ctx) && rv == CKR_OK; tok++) {
        hc_token_status_t st;
        if (!hc_uri_may_select(u, hc_token_name(ctx, tok), hc_token_configured_label(ctx, tok)))
            continue; /* not asked: its module stays unloaded */
        if (hc_token_status(ctx, tok, &st, NULL) != CKR_OK && !st.info_valid)
            continue;
        if (!token_selected(u, hc_token_name(ctx, tok), &st))
            continue;
        any_token = true;
        hc_obj_t *found;
        size_t n;
        if ((rv = hc_find(ctx, tok, attrs, nattrs, &found, &n, err)) != CKR_OK)
            break;
        hc_obj_t *grown = realloc(*objs, (*count + n + 1) * sizeof *grown);
        if (!grown) {
            free(found);
            rv = hc_err(err, CKR_HOST_MEMORY, "out of memory");
            break;
        }
        *objs = grown;
        if (n) /* a token with no match gives found == NULL */
            memcpy(*objs + *count, found, n * sizeof *found);
        *count += n;
        free(found);
    }
    if (rv == CKR_OK && !any_token)
        rv = hc_err(err, CKR_TOKEN_NOT_PRESENT,
                    "%s: no configured, present "
                    "token matches (see 'hsmcache tokens')",
                    uri);
    if (rv != CKR_OK) {
        free(*objs);
        *objs = NULL;
        *count = 0;
    }
    p11_kit_uri_free(u);
    return rv;
}

/* ---- hsmcached's authorization: does a [client] keys URI cover an
 * object? ---- */

void *hc_uri_compile(const char *uri, hc_err_t *err)
{
    return parse(uri, err);
}

bool hc_uri_selects_token(void *u, const char *token_name, const hc_token_status_t *st)
{
    return token_selected(u, token_name, st);
}

bool hc_uri_may_select(void *u, const char *token_name, const char *cfg_label)
{
    const CK_TOKEN_INFO *want = p11_kit_uri_get_token_info(u);
    size_t wl = field_len(want->label, sizeof want->label);
    if (wl == 0 || !cfg_label[0])
        return true;
    /* token_selected: the hsmcache name, else the real label, which is
     * the configured one whenever the token is connected at all. */
    return (wl == strlen(token_name) && memcmp(want->label, token_name, wl) == 0) ||
           (wl == strlen(cfg_label) && memcmp(want->label, cfg_label, wl) == 0);
}

void hc_uri_release(void *u)
{
    if (u)
        p11_kit_uri_free(u);
}

bool hc_uri_covers(void *u, const char *token_name, const hc_token_status_t *st,
                   const hc_obj_identity_t *id)
{
    if (!token_selected(u, token_name, st))
        return false;
    CK_OBJECT_CLASS cls = id->cls;
    CK_ATTRIBUTE a[3] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_ID, (void *)id->id, id->idlen },
        { CKA_LABEL, (void *)id->label, id->labellen },
    };
    return p11_kit_uri_match_attributes(u, a, 3) == 1;
}
