/* cmd_keygen.c: `hsmcache keygen TOKEN LABEL ALGO`: a key pair made on
 * the token, private half sensitive and never extractable, with a fresh
 * unique CKA_ID (the core assigns it). Prints the key's pkcs11: URI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifndef CKM_EC_EDWARDS_KEY_PAIR_GEN
#define CKM_EC_EDWARDS_KEY_PAIR_GEN 0x1055UL
#endif
#ifndef CKK_EC_EDWARDS
#define CKK_EC_EDWARDS 0x40UL
#endif

struct algo {
    const char *name;
    CK_MECHANISM_TYPE mech;
    CK_ULONG rsa_bits;
    const unsigned char *params; /* DER OID for EC */
    size_t params_len;
};

static const unsigned char oid_p256[] = {
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
};
static const unsigned char oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const unsigned char oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };

static const struct algo algos[] = {
    { "rsa2048", CKM_RSA_PKCS_KEY_PAIR_GEN, 2048, NULL, 0 },
    { "rsa3072", CKM_RSA_PKCS_KEY_PAIR_GEN, 3072, NULL, 0 },
    { "rsa4096", CKM_RSA_PKCS_KEY_PAIR_GEN, 4096, NULL, 0 },
    { "ecdsa-p256", CKM_EC_KEY_PAIR_GEN, 0, oid_p256, sizeof oid_p256 },
    { "ecdsa-p384", CKM_EC_KEY_PAIR_GEN, 0, oid_p384, sizeof oid_p384 },
    { "ed25519", CKM_EC_EDWARDS_KEY_PAIR_GEN, 0, oid_ed25519, sizeof oid_ed25519 },
};

static bool label_taken(hc_ctx_t *ctx, size_t tok, const char *label)
{
    CK_ATTRIBUTE t = { CKA_LABEL, (void *)label, strlen(label) };
    hc_obj_t *objs = NULL;
    size_t n = 0;
    bool taken = hc_find(ctx, tok, &t, 1, &objs, &n, NULL) == CKR_OK && n > 0;
    free(objs);
    return taken;
}

static const hc_cmdline_t keygen_cmdline = {
    .prog = "hsmcache keygen",
    .args = "TOKEN LABEL ALGO",
    .help = "A key pair made on TOKEN, labelled LABEL (1 to 255 bytes, not in use on the\n"
            "token), with a fresh CKA_ID; the private half is sensitive and never\n"
            "extractable. ALGO: rsa2048, rsa3072, rsa4096, ecdsa-p256, ecdsa-p384 or\n"
            "ed25519 (where the token has it). Prints the private key's pkcs11: URI.\n"
            "Options:\n"
            "  --help   this help\n",
    .exits = HC_CLI_EXIT_OK
    "  1  the token cannot make such a key, the label is taken, or generation\n"
    "     failed\n"
    "  2  usage or configuration error (an unknown option, token or ALGO, a bad\n"
    "     LABEL, a bad config)\n",
    .shortopts = "",
    .longopts = hc_cli_no_options,
};

int hc_cmd_keygen(hc_cli_t *cli)
{
    int first, usage = hc_cli_args(cli, &keygen_cmdline, 3, 3, &first);
    if (usage >= 0)
        return usage;
    const char *token = cli->argv[first], *label = cli->argv[first + 1],
               *algo = cli->argv[first + 2];
    const struct algo *al = NULL;
    for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++)
        if (!strcmp(algo, algos[i].name))
            al = &algos[i];
    if (!al) {
        hc_cli_error("unknown algorithm '%s' (rsa2048, rsa3072, rsa4096, "
                     "ecdsa-p256, ecdsa-p384, ed25519)",
                     algo);
        return 2;
    }
    if (!label[0] || strlen(label) > 255) {
        hc_cli_error("a label is 1 to 255 bytes");
        return 2;
    }
    hc_ctx_t *ctx = hc_cli_open(cli);
    if (!ctx)
        return 2;
    long tok = hc_cli_token(ctx, token);
    int status = 1;
    if (tok < 0) {
        status = 2;
        goto out;
    }
    CK_MECHANISM_INFO mi;
    hc_err_t err = { 0 };
    if (hc_mechanism_info(ctx, (size_t)tok, al->mech, &mi, &err) != CKR_OK) {
        hc_cli_error("token %s cannot generate %s keys%s%s", token, al->name,
                     err.msg[0] ? ": " : "", err.msg);
        goto out;
    }
    if (label_taken(ctx, (size_t)tok, label)) {
        hc_cli_error("token %s already has an object labelled '%s'; choose "
                     "another label",
                     token, label);
        goto out;
    }
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG bits = al->rsa_bits;
    unsigned char e65537[] = { 0x01, 0x00, 0x01 };
    CK_ATTRIBUTE pub[8] = {
        { CKA_TOKEN, &yes, sizeof yes },
        { CKA_PRIVATE, &no, sizeof no },
        { CKA_VERIFY, &yes, sizeof yes },
        { CKA_LABEL, (void *)label, strlen(label) },
    };
    CK_ULONG npub = 4;
    if (al->rsa_bits) {
        pub[npub++] = (CK_ATTRIBUTE){ CKA_MODULUS_BITS, &bits, sizeof bits };
        pub[npub++] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, e65537, sizeof e65537 };
    } else {
        pub[npub++] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)al->params, al->params_len };
    }
    CK_ATTRIBUTE priv[] = {
        { CKA_TOKEN, &yes, sizeof yes },     { CKA_PRIVATE, &yes, sizeof yes },
        { CKA_SENSITIVE, &yes, sizeof yes }, { CKA_EXTRACTABLE, &no, sizeof no },
        { CKA_SIGN, &yes, sizeof yes },      { CKA_LABEL, (void *)label, strlen(label) },
    };
    CK_MECHANISM mech = { al->mech, NULL, 0 };
    hc_obj_t p, q;
    if (hc_generate_key_pair(ctx, (size_t)tok, &mech, pub, npub, priv, sizeof priv / sizeof priv[0],
                             &p, &q, &err) != CKR_OK) {
        hc_cli_error("%s", err.msg);
        goto out;
    }
    unsigned char id[128];
    CK_ATTRIBUTE ida = { CKA_ID, id, sizeof id };
    if (hc_get_attrs(ctx, q, &ida, 1, &err) != CKR_OK) {
        hc_cli_error("key made, but reading its id failed: %s", err.msg);
        goto out;
    }
    char *uri = hc_cli_uri(token, label, strlen(label), id, ida.ulValueLen, CKO_PRIVATE_KEY);
    printf("%s\n", uri ? uri : "?");
    free(uri);
    status = 0;
out:
    hc_close(ctx);
    return status;
}
