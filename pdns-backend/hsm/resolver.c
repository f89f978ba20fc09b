/* resolver.c: where the running pdns_server answers. */
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdnshsm.h"

ldns_resolver *pdns_resolver(const struct pdns_hsm *h)
{
    char addr[256];
    unsigned port = h->pdns.local_port;
    snprintf(addr, sizeof addr, "%s", h->server ? h->server : h->pdns.local_address);
    char *colon = strrchr(addr, ':');
    if (colon && strchr(addr, '.')) { /* a.b.c.d:port */
        *colon = '\0';
        port = (unsigned)atoi(colon + 1);
    }
    ldns_rdf *ns =
        ldns_rdf_new_frm_str(strchr(addr, ':') ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, addr);
    ldns_resolver *res = ns ? ldns_resolver_new() : NULL;
    if (res) {
        ldns_resolver_push_nameserver(res, ns);
        ldns_resolver_set_port(res, (uint16_t)port);
        ldns_resolver_set_timeout(res, (struct timeval){ 5, 0 });
        ldns_resolver_set_retry(res, 1);
    }
    ldns_rdf_deep_free(ns);
    return res;
}
