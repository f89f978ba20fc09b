/* cmd_sshca.c: `hsmcache sshca pubkey`: the CA keys named in [sshca] keys,
 * as OpenSSH public key lines (for -s ca.pub, TrustedUserCAKeys and
 * @cert-authority); `sshca sign` is cmd_sshca_sign.c's, `sshca revoke` and
 * `sshca krl` cmd_sshca_revoke.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "sshkey.h"

/* Prints the public key line of every key `uri` names; returns how many. */
static int print_keys(hc_ctx_t *ctx, const char *uri, char ***seen, size_t *nseen)
{
    hc_obj_t *objs;
    size_t n;
    hc_err_t err = { 0 };
    if (hc_find_uri(ctx, uri, &objs, &n, &err) != CKR_OK) {
        hc_cli_error("[sshca] keys: %s", err.msg);
        return -1;
    }
    int printed = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char *spki;
        size_t len;
        char label[256] = "";
        CK_ATTRIBUTE a = { CKA_LABEL, label, sizeof label - 1 };
        if (hc_public_key(ctx, objs[i], &spki, &len, NULL) != CKR_OK)
            continue;
        if (hc_get_attrs(ctx, objs[i], &a, 1, NULL) == CKR_OK &&
            a.ulValueLen != CK_UNAVAILABLE_INFORMATION)
            label[a.ulValueLen] = '\0';
        char *line = hc_ssh_pubkey_line(spki, len, label[0] ? label : NULL);
        free(spki);
        if (!line) {
            hc_cli_error("%s: a key OpenSSH cannot use", uri);
            continue;
        }
        /* A URI without type= finds both halves: print each key once. */
        bool dup = false;
        size_t klen = strcspn(line, " ") + 1;
        klen += strcspn(line + klen, " ");
        for (size_t k = 0; k < *nseen && !dup; k++)
            dup = strncmp((*seen)[k], line, klen) == 0;
        if (dup) {
            free(line);
            continue;
        }
        char **grown = realloc(*seen, (*nseen + 1) * sizeof *grown);
        if (!grown) {
            free(line);
            break;
        }
        *seen = grown;
        (*seen)[(*nseen)++] = line;
        puts(line);
        printed++;
    }
    free(objs);
    return printed;
}

static const hc_cmdline_t sshca_cmdline = {
    .prog = "hsmcache sshca",
    .args = "pubkey|sign|revoke|krl [ARGS]",
    .help = "The SSH CA whose keys [sshca] keys names:\n"
            "  pubkey                  the CA keys as OpenSSH public key lines\n"
            "  sign [-I ID] [-n PRINCIPALS] [-V VALIDITY] [-h] [-O OPTION]... PUBKEY\n"
            "                          a certificate issued by hsmcached (PUBKEY-cert.pub)\n"
            "  revoke SERIAL|KEYFILE   record a revoked certificate serial or key\n"
            "  krl FILE                an OpenSSH KRL of every revocation\n"
            "Each answers --help.\n"
            "Options:\n"
            "  --help   this help\n",
    .exits = HC_CLI_EXIT_OK "  1  see each subcommand's --help\n" HC_CLI_EXIT_USAGE,
    .shortopts = "",
    .longopts = hc_cli_no_options,
    .in_order = true,
};

static const hc_cmdline_t pubkey_cmdline = {
    .prog = "hsmcache sshca pubkey",
    .args = "",
    .help = "The CA keys named in [sshca] keys, as OpenSSH public key lines (for\n"
            "ssh-keygen -s, TrustedUserCAKeys and @cert-authority), each key once.\n"
            "Options:\n"
            "  --help   this help\n",
    .exits =
        HC_CLI_EXIT_OK "  1  a URI of [sshca] keys matches no key\n"
                       "  2  usage or configuration error ([sshca] keys empty, a bad config)\n",
    .shortopts = "",
    .longopts = hc_cli_no_options,
};

int hc_cmd_sshca(hc_cli_t *cli)
{
    int first, usage = hc_cli_args(cli, &sshca_cmdline, 1, -1, &first);
    if (usage >= 0)
        return usage;
    const char *name = cli->argv[first];
    hc_cli_t sub = { cli->conf, cli->argc - first, cli->argv + first };
    if (!strcmp(name, "sign"))
        return hc_cmd_sshca_sign(&sub);
    if (!strcmp(name, "revoke") || !strcmp(name, "krl"))
        return hc_cmd_sshca_revoke(&sub);
    if (strcmp(name, "pubkey"))
        return hc_usage_error(&sshca_cmdline, "unknown subcommand '%s'", name);
    if ((usage = hc_cli_args(&sub, &pubkey_cmdline, 0, 0, &first)) >= 0)
        return usage;
    hc_config_t *cfg = hc_cli_config(cli);
    if (!cfg)
        return 2;
    const hc_cfg_value_t *keys = hc_config_setting(cfg, HC_P_SSHCA, NULL, "keys", HC_CFG_LIST);
    if (!keys || keys->list.n == 0) {
        hc_cli_error("%s: [sshca] keys is empty; name the CA keys by pkcs11: URI", cfg->path);
        hc_config_free(cfg);
        return 2;
    }
    hc_ctx_t *ctx = hc_cli_open(cli);
    int status = ctx ? 0 : 2;
    char **seen = NULL;
    size_t nseen = 0;
    for (size_t i = 0; ctx && i < keys->list.n; i++) {
        int n = print_keys(ctx, keys->list.items[i], &seen, &nseen);
        if (n <= 0) {
            if (n == 0)
                hc_cli_error("[sshca] keys: %s matches no key", keys->list.items[i]);
            status = 1;
        }
    }
    for (size_t i = 0; i < nseen; i++)
        free(seen[i]);
    free(seen);
    hc_close(ctx);
    hc_config_free(cfg);
    return status;
}
