/* cmd_keys.c: `hsmcache tokens` and `hsmcache keys TOKEN`. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "core/pinstore.h"
#include "core/swcrypto.h"
#include "table.h"
#include "util/textsafe.h"

static const hc_cmdline_t tokens_cmdline = {
    .prog = "hsmcache tokens",
    .args = "",
    .help = "The configured tokens, one a line: the hsmcache name, the module, the real\n"
            "token's label and serial, whether it is present, and its PIN file: stored;\n"
            "missing; rejected (the token refused this file: hsmcache pin set); refused,\n"
            "with the reason and the fix (an owner or mode that could leak it); or\n"
            "unreadable by this user. Columns stay aligned whatever a module path's length.\n"
            "Options:\n"
            "  --help   this help\n",
    .exits =
        HC_CLI_EXIT_OK "  1  a token is absent, or its state cannot be read\n" HC_CLI_EXIT_USAGE,
    .shortopts = "",
    .longopts = hc_cli_no_options,
};

/* The PIN column: the PIN store's own verdict (in-process), or the
 * agent's (it reads the PIN files as its own user, not ours). */
static void pin_cell(const hc_config_t *cfg, const hc_token_status_t *st, char *out, size_t size)
{
    const hc_token_cfg_t *t = hc_config_token(cfg, st->name);
    if (t && t->members.n) { /* a token group: its members' PIN files */
        snprintf(out, size, "members': %s",
                 st->pin_rejected ? "one rejected"
                 : st->pin_stored ? "stored"
                                  : "one missing or refused");
        return;
    }
    if (cfg->agent.socket[0]) {
        snprintf(out, size, "%s",
                 !st->pin_stored    ? "missing or refused (for hsmcached)"
                 : st->pin_rejected ? "rejected"
                                    : "stored");
        return;
    }
    hc_pin_state_t ps;
    hc_pin_inspect(cfg->pin_store, st->name, &ps);
    switch (ps.verdict) {
    case HC_PIN_ABSENT: snprintf(out, size, "missing"); break;
    case HC_PIN_REFUSED:
        snprintf(out, size, "refused: %s %s (%s)", ps.path, ps.what, ps.fix);
        break;
    case HC_PIN_UNREADABLE: snprintf(out, size, "unreadable: %s: %s", ps.path, ps.what); break;
    case HC_PIN_USABLE: snprintf(out, size, "%s", st->pin_rejected ? "rejected" : "stored"); break;
    }
}

int hc_cmd_tokens(hc_cli_t *cli)
{
    int first, status = hc_cli_args(cli, &tokens_cmdline, 0, 0, &first);
    if (status >= 0)
        return status;
    hc_ctx_t *ctx = hc_cli_open(cli);
    hc_config_t *cfg = NULL;
    hc_err_t err = { 0 };
    if (ctx && hc_config_load(hc_config_path(ctx), &cfg, &err) != CKR_OK)
        hc_cli_error("%s", err.msg);
    static const char *const headers[] = { "TOKEN",  "MODULE",  "REAL LABEL",
                                           "SERIAL", "PRESENT", "PIN" };
    hc_table_t *table = cfg ? hc_table_new(6, headers) : NULL;
    if (!table) {
        hc_config_free(cfg);
        hc_close(ctx);
        return cfg ? 1 : 2;
    }
    status = 0;
    for (size_t i = 0; i < hc_token_count(ctx); i++) {
        hc_token_status_t st;
        err.msg[0] = '\0';
        CK_RV rv = hc_token_status(ctx, i, &st, &err);
        char label[33] = "", serial[17] = "";
        if (st.info_valid) {
            hc_cli_field(label, sizeof label, st.info.label, sizeof st.info.label);
            hc_cli_field(serial, sizeof serial, st.info.serialNumber, sizeof st.info.serialNumber);
        }
        /* A module's label and serial are whatever it says: escaped. */
        char module[4 * sizeof st.module + 1], shown_label[4 * sizeof label + 1],
            shown_serial[4 * sizeof serial + 1], pin[sizeof(hc_pin_state_t) + 32];
        hc_text_escape(st.module, strnlen(st.module, sizeof st.module), module, sizeof module);
        hc_text_escape(label, strlen(label), shown_label, sizeof shown_label);
        hc_text_escape(serial, strlen(serial), shown_serial, sizeof shown_serial);
        pin_cell(cfg, &st, pin, sizeof pin);
        const char *row[] = { st.name,
                              module,
                              label[0] ? shown_label : "-",
                              serial[0] ? shown_serial : "-",
                              st.present ? "yes" : "no",
                              pin };
        if (hc_table_add(table, row) != 0) {
            hc_cli_error("out of memory");
            status = 1;
        }
        if (rv != CKR_OK) {
            hc_cli_error("%s", err.msg);
            status = 1;
        }
    }
    hc_table_print(table, stdout);
    hc_table_free(table);
    hc_config_free(cfg);
    hc_close(ctx);
    return status;
}

/* "EC P-256", "RSA", ... and the size in bits, from the SPKI. */
static void describe(const unsigned char *spki, size_t len, char *type, size_t size, int *bits,
                     char *fp, size_t fpsize)
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
            snprintf(type, size, "EC %s",
                     !strcmp(group, "prime256v1")  ? "P-256"
                     : !strcmp(group, "secp384r1") ? "P-384"
                                                   : group);
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

static const hc_cmdline_t keys_cmdline = {
    .prog = "hsmcache keys",
    .args = "TOKEN",
    .help = "The private keys on TOKEN (an hsmcache token name): label (escaped), id,\n"
            "type, bits, the SHA-256 fingerprint of the public key, and the key's\n"
            "pkcs11: URI on the next line. For a token group, the keys on every member;\n"
            "a key refused (its public key differs between members) and a member that\n"
            "is down are named after the list.\n"
            "Options:\n"
            "  --help   this help\n",
    .exits = HC_CLI_EXIT_OK
    "  1  the keys cannot be listed, a key's label and id cannot be read, or\n"
    "     (a token group) a key is refused or a member is down\n" HC_CLI_EXIT_USAGE,
    .shortopts = "",
    .longopts = hc_cli_no_options,
};

int hc_cmd_keys(hc_cli_t *cli)
{
    int first, usage = hc_cli_args(cli, &keys_cmdline, 1, 1, &first);
    if (usage >= 0)
        return usage;
    const char *token = cli->argv[first];
    hc_ctx_t *ctx = hc_cli_open(cli);
    if (!ctx)
        return 2;
    long tok = hc_cli_token(ctx, token);
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
    printf("%-24s %-34s %-9s %-6s %s\n", "LABEL", "ID", "TYPE", "BITS", "PUBLIC KEY FINGERPRINT");
    for (size_t i = 0; i < n; i++) {
        char label[256] = "";
        unsigned char id[128];
        CK_ATTRIBUTE a[] = { { CKA_LABEL, label, sizeof label - 1 }, { CKA_ID, id, sizeof id } };
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
        printf("%-24s %-34s %-9s %-6d %s\n", shown[0] ? shown : "-", idhex[0] ? idhex : "-", type,
               bits, fp);
        char *uri = hc_cli_uri(token, label, labellen, id, idlen, CKO_PRIVATE_KEY);
        if (uri)
            printf("  %s\n", uri);
        free(uri);
    }
    free(objs);
    /* A group's refused keys are in no list: its status names them. */
    hc_token_status_t st;
    err.msg[0] = '\0';
    if (hc_token_status(ctx, (size_t)tok, &st, &err) != CKR_OK && st.info_valid &&
        !memcmp(st.info.model, "token group", 11)) {
        hc_cli_error("%s", err.msg);
        status = 1;
    }
    hc_close(ctx);
    return status;
}
