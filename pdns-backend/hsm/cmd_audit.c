/* cmd_audit.c: `pdns-hsm audit`: one line per PKCS#11 key row; exit 1 if
 * any row stores a PIN or cannot be resolved through hsmcache. */
#include <stdio.h>
#include <stdlib.h>

#include "pdnshsm.h"

int cmd_audit(struct pdns_hsm *h)
{
    char err[512];
    db_t *db = db_open(&h->pdns, err, sizeof err);
    if (!db) {
        pdns_hsm_error("%s", err);
        return 2;
    }
    key_row_t *rows;
    size_t n;
    if (db_key_rows(db, NULL, &rows, &n, err, sizeof err) != 0) {
        pdns_hsm_error("%s", err);
        db_close(db);
        return 2;
    }
    hc_ctx_t *ctx = NULL;
    hc_err_t herr = { 0 };
    if (hc_open(HC_PROFILE_CLI, h->hsmcache_conf, &ctx, &herr) != CKR_OK) {
        pdns_hsm_error("%s", herr.msg);
        rows_free(rows, n);
        db_close(db);
        return 2;
    }
    int status = 0;
    size_t pkcs11 = 0;
    printf("%-24s %5s %-4s %-6s %-16s %-16s %-24s %-10s %s\n", "ZONE", "ID", "ROLE", "ACTIVE",
           "ENGINE", "SLOT", "LABEL", "PIN-STORED", "RESOLVES");
    for (size_t i = 0; i < n; i++) {
        key_row_t *r = &rows[i];
        if (!r->pkcs11)
            continue;
        pkcs11++;
        const char *token = row_token(ctx, r);
        bool resolves = token && row_key(ctx, r, token) != 0;
        bool pin = r->pin[0] != '\0';
        const char *how = !resolves                       ? "no"
                          : engine_is_hsmcache(r->engine) ? "yes"
                                                          : "after migrate";
        char where[96] = "";
        if (token)
            snprintf(where, sizeof where, " (token %s)", token);
        printf("%-24s %5u %-4s %-6s %-16s %-16s %-24s %-10s %s%s\n", r->zone, r->id,
               r->flags == 257 ? "KSK" : "ZSK", r->active ? "yes" : "no", r->engine, r->slot,
               r->label, pin ? "YES" : "no", how, where);
        if (pin || !resolves || !engine_is_hsmcache(r->engine))
            status = 1;
    }
    printf("%zu PKCS#11 key row(s); %s\n", pkcs11,
           status ? "action needed: see pdns-hsm migrate" : "no PIN stored, all through hsmcache");
    hc_close(ctx);
    rows_free(rows, n);
    db_close(db);
    return status;
}
