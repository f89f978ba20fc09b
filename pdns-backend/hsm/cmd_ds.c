/* cmd_ds.c: `pdns-hsm ds ZONE [--sha384]`: DS records of the zone's active
 * KSKs, computed with ldns from the public keys the HSM holds (not from
 * what the database says). */
#include <ldns/ldns.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdnshsm.h"

/* DNSKEY public key field (RFC 3110, 6605, 8080) from an SPKI. */
static size_t dnskey_field(const unsigned char *spki, size_t len, unsigned char *out, size_t size)
{
    const unsigned char *p = spki;
    EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)len);
    size_t n = 0;
    if (!k)
        return 0;
    if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
        unsigned char point[200];
        size_t pl = 0;
        if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &pl) &&
            pl > 1 && pl - 1 <= size) {
            memcpy(out, point + 1, pl - 1); /* drop the 0x04 prefix */
            n = pl - 1;
        }
    } else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519) {
        n = size;
        if (!EVP_PKEY_get_raw_public_key(k, out, &n))
            n = 0;
    } else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
        BIGNUM *bn_n = NULL, *bn_e = NULL;
        if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &bn_n) &&
            EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &bn_e)) {
            size_t el = (size_t)BN_num_bytes(bn_e), nl = (size_t)BN_num_bytes(bn_n);
            size_t hdr = el < 256 ? 1 : 3;
            if (hdr + el + nl <= size) {
                if (hdr == 1) {
                    out[0] = (unsigned char)el;
                } else {
                    out[0] = 0;
                    out[1] = (unsigned char)(el >> 8);
                    out[2] = (unsigned char)el;
                }
                BN_bn2bin(bn_e, out + hdr);
                BN_bn2bin(bn_n, out + hdr + el);
                n = hdr + el + nl;
            }
        }
        BN_free(bn_n);
        BN_free(bn_e);
    }
    EVP_PKEY_free(k);
    return n;
}

static char *b64(const unsigned char *d, size_t n)
{
    char *o = malloc(4 * ((n + 2) / 3) + 1);
    if (o)
        EVP_EncodeBlock((unsigned char *)o, d, (int)n);
    return o;
}

int cmd_ds(struct pdns_hsm *h)
{
    char err[512];
    hc_ctx_t *ctx = NULL;
    hc_err_t herr = { 0 };
    if (hc_open(HC_PROFILE_CLI, h->hsmcache_conf, &ctx, &herr) != CKR_OK) {
        pdns_hsm_error("%s", herr.msg);
        return 2;
    }
    db_t *db = db_open(&h->pdns, err, sizeof err);
    key_row_t *rows = NULL;
    size_t n = 0;
    if (!db || db_key_rows(db, h->zone, &rows, &n, err, sizeof err) != 0) {
        pdns_hsm_error("%s", err);
        hc_close(ctx);
        db_close(db);
        return 2;
    }
    int status = 0, printed = 0;
    for (size_t i = 0; i < n; i++) {
        key_row_t *r = &rows[i];
        if (!r->pkcs11 || r->flags != 257 || !r->active)
            continue;
        const char *token = row_token(ctx, r);
        hc_obj_t key = row_key(ctx, r, token);
        unsigned char *spki = NULL, field[1100];
        size_t spki_len = 0, flen = 0;
        if (key && hc_public_key(ctx, key, &spki, &spki_len, &herr) == CKR_OK)
            flen = dnskey_field(spki, spki_len, field, sizeof field);
        free(spki);
        if (!flen) {
            pdns_hsm_error("%s key %u (label %s): its public key is not on any "
                           "hsmcache token",
                           r->zone, r->id, r->label);
            status = 1;
            continue;
        }
        char *key64 = b64(field, flen), *text = NULL;
        ldns_rr *dnskey = NULL;
        if (key64 &&
            asprintf(&text, "%s. 3600 IN DNSKEY 257 3 %u %s", r->zone, r->algorithm, key64) > 0 &&
            ldns_rr_new_frm_str(&dnskey, text, 0, NULL, NULL) == LDNS_STATUS_OK) {
            ldns_rr *ds = ldns_key_rr2ds(dnskey, h->sha384 ? LDNS_SHA384 : LDNS_SHA256);
            char *out = ds ? ldns_rr2str(ds) : NULL;
            if (out) {
                fputs(out, stdout);
                printed++;
            }
            free(out);
            ldns_rr_free(ds);
        }
        ldns_rr_free(dnskey);
        free(text);
        free(key64);
    }
    if (!printed && !status) {
        pdns_hsm_error("zone %s has no active PKCS#11 KSK", h->zone);
        status = 1;
    }
    rows_free(rows, n);
    db_close(db);
    hc_close(ctx);
    return status;
}
