/* cmd_keys.c: `hsmcache tokens` and `hsmcache keys TOKEN`. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "swcrypto.h"
#include "textsafe.h"

int hc_cmd_tokens(hc_cli_t *cli)
{
    hc_ctx_t *ctx = hc_cli_open(cli);
    if (!ctx)
        return 2;
    int status = 0;
    printf("%-16s %-12s %-32s %-18s %-8s %s\n", "TOKEN", "MODULE", "REAL LABEL",
           "SERIAL", "PRESENT", "PIN");
    for (size_t i = 0; i < hc_token_count(ctx); i++) {
        hc_token_status_t st;
        hc_err_t err = { 0 };
        CK_RV rv = hc_token_status(ctx, i, &st, &err);
        char label[33] = "", serial[17] = "";
        if (st.info_valid) {
            hc_cli_field(label, sizeof label, st.info.label, sizeof st.info.label);
            hc_cli_field(serial, sizeof serial, st.info.serialNumber,
                         sizeof st.info.serialNumber);
        }
        const char *pin = !st.pin_stored ? "missing"
                          : st.pin_rejected ? "rejected" : "stored";
        printf("%-16s %-12s %-32s %-18s %-8s %s\n", st.name, st.module,
               label[0] ? label : "-", serial[0] ? serial : "-",
               rv == CKR_OK ? "yes" : "no", pin);
        if (rv != CKR_OK) {
            hc_cli_error("%s", err.msg);
            status = 1;
        }
    }
    hc_close(ctx);
    return status;
}

/* "EC P-256", "RSA", ... and the size in bits, from the SPKI. */
static void describe(const unsigned char *spki, size_t len, char *type,
                     size_t size, int *bits, char *fp, size_t fpsize)
{
    const unsigned char *p = spki;
    EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)len);
    snprintf(type, size, "?");
    *bits = 0;
    if (k) {
        *bits = EVP_PKEY_get_bits(k);
        switch (EVP_PKEY_get_base_id(k)) {
        case EVP_PKEY_RSA: snprintf(type, size, "RSA"); break;
        case EVP_PKEY_ED25519: snprintf(type, size, "Ed25519"); break;
        case EVP_PKEY_EC: {
            char group[64] = "";
            EVP_PKEY_get_group_name(k, group, sizeof group, NULL);
            snprintf(type, size, "EC %s", !strcmp(group, "prime256v1") ? "P-256"
                     : !strcmp(group, "secp384r1") ? "P-384" : group);
            break;
        }
        }
        EVP_PKEY_free(k);
    }
    unsigned char h[32];
    hc_sha256(spki, len, h);
    int n = snprintf(fp, fpsize, "sha256:");
    for (int i = 0; i < 32; i++)
        n += snprintf(fp + n, fpsize - (size_t)n, "%02x", h[i]);
}

int hc_cmd_keys(hc_cli_t *cli)
{
    if (cli->argc != 1) {
        hc_cli_error("usage: hsmcache keys TOKEN");
        return 2;
    }
    hc_ctx_t *ctx = hc_cli_open(cli);
    if (!ctx)
        return 2;
    long tok = hc_cli_token(ctx, cli->argv[0]);
    if (tok < 0) {
        hc_close(ctx);
        return 2;
    }
    int status = 0;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl = { CKA_CLASS, &cls, sizeof cls };
    hc_obj_t *objs;
    size_t n;
    hc_err_t err = { 0 };
    if (hc_find(ctx, (size_t)tok, &tmpl, 1, &objs, &n, &err) != CKR_OK) {
        hc_cli_error("%s", err.msg);
        hc_close(ctx);
        return 1;
    }
    printf("%-24s %-34s %-9s %-6s %s\n", "LABEL", "ID", "TYPE", "BITS",
           "PUBLIC KEY FINGERPRINT");
    for (size_t i = 0; i < n; i++) {
        char label[256] = "";
        unsigned char id[128];
        CK_ATTRIBUTE a[] = { { CKA_LABEL, label, sizeof label - 1 },
                             { CKA_ID, id, sizeof id } };
        hc_err_t aerr = { 0 };
        if (hc_get_attrs(ctx, objs[i], a, 2, &aerr) != CKR_OK) {
            hc_cli_error("a key's label and id cannot be read: %s", aerr.msg);
            status = 1;
            continue;
        }
        size_t labellen = a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : a[0].ulValueLen;
        label[labellen] = '\0';
        char shown[4 * sizeof label + 1]; /* every byte may become \xNN */
        hc_text_escape(label, labellen, shown, sizeof shown);
        size_t idlen = a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : a[1].ulValueLen;
        char idhex[260] = "";
        for (size_t k = 0; k < idlen && k < 128; k++)
            snprintf(idhex + 2 * k, 3, "%02x", id[k]);
        unsigned char *spki = NULL;
        size_t spki_len = 0;
        char type[32] = "?", fp[80] = "-";
        int bits = 0;
        if (hc_public_key(ctx, objs[i], &spki, &spki_len, NULL) == CKR_OK)
            describe(spki, spki_len, type, sizeof type, &bits, fp, sizeof fp);
        free(spki);
        printf("%-24s %-34s %-9s %-6d %s\n", shown[0] ? shown : "-",
               idhex[0] ? idhex : "-", type, bits, fp);
        char *uri = hc_cli_uri(cli->argv[0], label, labellen, id, idlen,
                               CKO_PRIVATE_KEY);
        if (uri)
            printf("  %s\n", uri);
        free(uri);
    }
    free(objs);
    hc_close(ctx);
    return status;
}
