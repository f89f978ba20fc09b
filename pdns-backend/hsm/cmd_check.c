/* cmd_check.c: `pdns-hsm check ZONE`: transfers the zone from the running
 * pdns_server (AXFR) and verifies every RRSIG with ldns against the zone's
 * own DNSKEYs. Prints counts and the first failures; exit 1 on any. */
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdnshsm.h"

int cmd_check(struct pdns_hsm *h)
{
    ldns_resolver *res = pdns_resolver(h);
    ldns_rdf *zone = ldns_dname_new_frm_str(h->zone);
    if (!res || !zone) {
        pdns_hsm_error("bad server address or zone name");
        return 2;
    }
    ldns_status s = ldns_axfr_start(res, zone, LDNS_RR_CLASS_IN);
    ldns_rr_list *all = ldns_rr_list_new(), *keys = ldns_rr_list_new();
    ldns_rr *rr;
    int soas = 0;
    while (s == LDNS_STATUS_OK && soas < 2 && (rr = ldns_axfr_next(res))) {
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ++soas == 2) {
            ldns_rr_free(rr); /* the closing SOA */
            break;
        }
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY)
            ldns_rr_list_push_rr(keys, ldns_rr_clone(rr));
        ldns_rr_list_push_rr(all, rr);
    }
    int status = 0;
    if (s != LDNS_STATUS_OK || soas == 0) {
        pdns_hsm_error("AXFR of %s failed: %s", h->zone,
                       s != LDNS_STATUS_OK ? ldns_get_errorstr_by_id(s) : "no SOA");
        status = 2;
    }
    size_t good = 0, bad = 0;
    for (size_t i = 0; status == 0 && i < ldns_rr_list_rr_count(all); i++) {
        ldns_rr *sig = ldns_rr_list_rr(all, i);
        if (ldns_rr_get_type(sig) != LDNS_RR_TYPE_RRSIG)
            continue;
        ldns_rr_type covered = ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(sig));
        ldns_rr_list *set = ldns_rr_list_new();
        for (size_t k = 0; k < ldns_rr_list_rr_count(all); k++) {
            ldns_rr *x = ldns_rr_list_rr(all, k);
            if (ldns_rr_get_type(x) == covered &&
                ldns_dname_compare(ldns_rr_owner(x), ldns_rr_owner(sig)) == 0)
                ldns_rr_list_push_rr(set, x);
        }
        ldns_status v = ldns_rr_list_rr_count(set) == 0
                            ? LDNS_STATUS_ERR
                            : ldns_verify_rrsig_keylist(set, sig, keys, NULL);
        if (v == LDNS_STATUS_OK) {
            good++;
        } else if (++bad <= 5) {
            char *owner = ldns_rdf2str(ldns_rr_owner(sig));
            char *type = ldns_rr_type2str(covered);
            printf("FAILED %s %s: %s\n", owner, type, ldns_get_errorstr_by_id(v));
            free(owner);
            free(type);
        }
        ldns_rr_list_free(set); /* the RRs belong to `all` */
    }
    if (status == 0) {
        printf("%s: %zu records, %zu DNSKEYs, %zu RRSIGs verified, %zu failed\n", h->zone,
               ldns_rr_list_rr_count(all), ldns_rr_list_rr_count(keys), good, bad);
        status = bad || !good ? 1 : 0;
    }
    ldns_rr_list_deep_free(all);
    ldns_rr_list_deep_free(keys);
    ldns_rdf_deep_free(zone);
    ldns_resolver_deep_free(res);
    return status;
}
