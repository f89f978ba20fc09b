/* urimatch.h: pkcs11: URIs as access rules (hsmcached's [client] keys),
 * and which configured tokens a URI can be on at all (hosts leave the
 * others' modules unloaded). A compiled URI is immutable and may be
 * matched from any thread. */
#ifndef HC_URIMATCH_H
#define HC_URIMATCH_H

#include "hsmcache.h"
#include "transport.h"

/* NULL (err set) when invalid or carrying a PIN. */
void *hc_uri_compile(const char *uri, hc_err_t *err);
void hc_uri_release(void *u);
/* true when the URI selects the token (by hsmcache name or real token
 * info, as hc_find_uri does) and its object attributes match `id`. */
/* true when the URI selects the token at all (any of its objects). */
bool hc_uri_selects_token(void *u, const char *token_name, const hc_token_status_t *st);
bool hc_uri_covers(void *u, const char *token_name, const hc_token_status_t *st,
                   const hc_obj_identity_t *id);
/* false only when the URI cannot select the token, known without asking
 * it: its token= is neither `token_name` nor the real label the token is
 * configured to have (`cfg_label`; "" when unknown). Lets a host leave a
 * token's module unloaded. */
bool hc_uri_may_select(void *u, const char *token_name, const char *cfg_label);

#endif
