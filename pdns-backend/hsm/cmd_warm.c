/* cmd_warm.c: `pdns-hsm warm ZONE`: asks the running pdns_server for
 * every RRset of the zone once, with the DO bit, so that each signature is
 * made (or found) and kept in hsmcache's persistent cache before clients
 * ask. Names come from the database. Prints progress with an ETA at the
 * rate measured so far (the HSM's rate while most answers need a new
 * signature); exit 1 if any answer failed or came without an RRSIG. */
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pdnshsm.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* true when pdns answered NOERROR with at least one RRSIG. */
static bool ask_signed(ldns_resolver *res, const rrset_name_t *s, char *why, size_t size)
{
    ldns_rdf *name = ldns_dname_new_frm_str(s->name);
    ldns_rr_type type = ldns_get_rr_type_by_name(s->type);
    ldns_pkt *p = NULL;
    ldns_status st = name && type
                         ? ldns_resolver_send(&p, res, name, type, LDNS_RR_CLASS_IN, LDNS_RD)
                         : LDNS_STATUS_ERR;
    bool ok = false;
    if (st != LDNS_STATUS_OK || !p) {
        snprintf(why, size, "%s", name && type ? ldns_get_errorstr_by_id(st) : "bad name or type");
    } else if (ldns_pkt_get_rcode(p) != LDNS_RCODE_NOERROR) {
        char *rc = ldns_pkt_rcode2str(ldns_pkt_get_rcode(p));
        snprintf(why, size, "%s", rc ? rc : "error");
        free(rc);
    } else {
        ldns_rr_list *sigs =
            ldns_pkt_rr_list_by_type(p, LDNS_RR_TYPE_RRSIG, LDNS_SECTION_ANY_NOQUESTION);
        ok = sigs && ldns_rr_list_rr_count(sigs) > 0;
        if (!ok)
            snprintf(why, size, "no RRSIG in the answer");
        ldns_rr_list_deep_free(sigs);
    }
    ldns_pkt_free(p);
    ldns_rdf_deep_free(name);
    return ok;
}

static void progress(FILE *out, const char *zone, size_t i, size_t n, double elapsed, bool end)
{
    double rate = elapsed > 0 ? (double)i / elapsed : 0;
    if (end || !rate)
        fprintf(out, "warm %s: %zu/%zu RRsets in %.1f s (%.1f/s)\n", zone, i, n, elapsed, rate);
    else
        fprintf(out, "warm %s: %zu/%zu RRsets, %.1f/s, ETA %.0f s\n", zone, i, n, rate,
                (double)(n - i) / rate);
    fflush(out);
}

int cmd_warm(struct pdns_hsm *h)
{
    char err[512];
    db_t *db = db_open(&h->pdns, err, sizeof err);
    rrset_name_t *sets = NULL;
    size_t n = 0;
    if (!db || db_zone_rrsets(db, h->zone, &sets, &n, err, sizeof err) != 0) {
        pdns_hsm_error("%s", err);
        db_close(db);
        return 2;
    }
    db_close(db);
    if (n == 0) {
        pdns_hsm_error("zone %s: no records in the database (%s)", h->zone, h->pdns.path);
        free(sets);
        return 2;
    }
    ldns_resolver *res = pdns_resolver(h);
    if (!res) {
        pdns_hsm_error("bad server address");
        free(sets);
        return 2;
    }
    ldns_resolver_set_dnssec(res, true);
    ldns_resolver_set_dnssec_cd(res, true);
    size_t failed = 0;
    double start = now_s(), last = start;
    for (size_t i = 0; i < n; i++) {
        char why[128];
        if (!ask_signed(res, &sets[i], why, sizeof why) && ++failed <= 5)
            fprintf(stderr, "pdns-hsm: warm %s: %s %s: %s\n", h->zone, sets[i].name, sets[i].type,
                    why);
        double t = now_s();
        if (t - last >= 1.0) {
            progress(stderr, h->zone, i + 1, n, t - start, false);
            last = t;
        }
    }
    progress(stdout, h->zone, n, n, now_s() - start, true);
    if (failed)
        printf("%zu RRsets failed\n", failed);
    ldns_resolver_deep_free(res);
    free(sets);
    return failed ? 1 : 0;
}
