/*
 * cmd_migrate.c: `pdns-hsm migrate [--apply]`: every row that stores a PIN
 * gets its PIN moved into the hsmcache PIN store and is rewritten to the
 * hsmcache engine, the hsmcache token name and an empty PIN.
 *
 * Crash-safe by order: all PINs are durable in the store (atomic write,
 * fsync) before any row changes; then all rows change in one transaction,
 * each only if it still reads as planned. A rerun after a crash anywhere
 * finds the PINs already stored (equal: fine) and the rows either still
 * holding their PINs (migrated now) or already migrated (nothing to do).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pdnshsm.h"

struct move {
    key_row_t *row;
    const char *token;
    char *content; /* the rewritten row */
};

/* Stores the PIN for `token` unless the same PIN is stored already. */
static int store_pin(hc_ctx_t *ctx, const char *token, const char *pin)
{
    hc_err_t err = { 0 };
    bool written = false;
    long tok = hc_token_index(ctx, token);
    char file[PATH_MAX + 80];
    if (tok < 0 || hc_token_pin_file(ctx, (size_t)tok, file, sizeof file, &err) != CKR_OK) {
        pdns_hsm_error("token %s: %s", token, tok < 0 ? "not in the config" : err.msg);
        return -1;
    }
    CK_RV rv = hc_token_pin_store(ctx, (size_t)tok, (const unsigned char *)pin, strlen(pin),
                                  &written, &err);
    if (rv == CKR_PIN_INVALID) {
        pdns_hsm_error("token %s: the PIN store already holds a different PIN "
                       "(%s) than the database rows; nothing was changed. "
                       "Check which is right, fix one, and run again",
                       token, file);
        return -1;
    }
    if (rv != CKR_OK) {
        pdns_hsm_error("%s", err.msg);
        return -1;
    }
    if (written)
        printf("stored the PIN of token %s in %s\n", token, file);
    return 0;
}

static int apply(hc_ctx_t *ctx, db_t *db, struct move *m, size_t n)
{
    /* 1. Rows of one token must agree on its PIN. */
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n; k++)
            if (!strcmp(m[i].token, m[k].token) && strcmp(m[i].row->pin, m[k].row->pin)) {
                pdns_hsm_error("token %s: rows %u and %u hold different PINs; "
                               "nothing was changed",
                               m[i].token, m[i].row->id, m[k].row->id);
                return 1;
            }
    /* 2. PINs durable in the store, before any row changes. */
    for (size_t i = 0; i < n; i++)
        if (store_pin(ctx, m[i].token, m[i].row->pin) != 0)
            return 1;
    /* A test hook: die here, between the store and the rows. */
    if (secure_getenv("PDNS_HSM_TEST_CRASH_AFTER_STORE"))
        _exit(75);
    /* 3. All rows in one transaction. */
    const key_row_t **rows = calloc(n, sizeof *rows);
    char **contents = calloc(n, sizeof *contents);
    char err[512] = "";
    int rc = rows && contents ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rows[i] = m[i].row;
        contents[i] = m[i].content;
    }
    if (rc == 0)
        rc = db_rewrite(db, rows, contents, n, err, sizeof err);
    free(rows);
    free(contents);
    if (rc != 0) {
        pdns_hsm_error("rows not changed: %s (the PINs are stored; run again)", err);
        return 1;
    }
    printf("migrated %zu row(s); restart pdns_server or wait for its key cache\n", n);
    return 0;
}

int cmd_migrate(struct pdns_hsm *h)
{
    char err[512];
    hc_ctx_t *ctx = NULL;
    hc_err_t herr = { 0 };
    if (hc_open(HC_PROFILE_CLI, h->hsmcache_conf, &ctx, &herr) != CKR_OK) {
        pdns_hsm_error("%s", herr.msg);
        hc_close(ctx);
        return 2;
    }
    db_t *db = db_open(&h->pdns, err, sizeof err);
    key_row_t *rows = NULL;
    size_t n = 0;
    if (!db || db_key_rows(db, NULL, &rows, &n, err, sizeof err) != 0) {
        pdns_hsm_error("%s", err);
        hc_close(ctx);
        db_close(db);
        return 2;
    }
    struct move *m = calloc(n ? n : 1, sizeof *m);
    size_t nm = 0;
    int status = 0;
    for (size_t i = 0; m && i < n; i++) {
        key_row_t *r = &rows[i];
        if (!r->pkcs11 || !r->pin[0])
            continue;
        const char *token = row_token(ctx, r);
        if (!token) {
            printf("%s key %u: no hsmcache token for module %s, token label '%s'. "
                   "Add to %s:\n  [token %s]\n  module = %s\n  label = %s\n",
                   r->zone, r->id, r->engine, r->slot, hc_config_path(ctx),
                   hc_valid_token_name(r->slot) ? r->slot : "NAME", r->engine, r->slot);
            status = 1;
            continue;
        }
        m[nm].row = r;
        m[nm].token = token;
        m[nm].content = key_row_rewrite(r, h->engine, token);
        char file[PATH_MAX + 80] = "";
        hc_token_pin_file(ctx, (size_t)hc_token_index(ctx, token), file, sizeof file, NULL);
        printf("%s key %u (%s, label %s): PIN -> %s; row -> Engine: %s, "
               "Slot: %s, PIN: (empty)\n",
               r->zone, r->id, r->flags == 257 ? "KSK" : "ZSK", r->label, file, h->engine, token);
        nm++;
    }
    if (nm == 0 && status == 0)
        printf("no row stores a PIN: nothing to migrate\n");
    else if (!h->apply)
        printf("dry run: nothing changed (run with --apply)\n");
    else if (status == 0)
        status = apply(ctx, db, m, nm);
    else
        printf("nothing changed: add the missing [token] sections first\n");
    for (size_t i = 0; i < nm; i++)
        free(m[i].content);
    free(m);
    rows_free(rows, n);
    db_close(db);
    hc_close(ctx);
    return status;
}
