/* main.c: `hsmcache` options (cmdline.h's conventions) and dispatch, and
 * the helpers the commands share. */
#include <p11-kit/uri.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_config.h"
#include "cmd_sharedcache.h"
#include "config.h"

static const struct option main_longopts[] = {
    { "config", required_argument, NULL, 'c' },
    { "help", no_argument, NULL, 'h' },
    { 0 },
};

static const hc_cmdline_t main_cmdline = {
    .prog = "hsmcache",
    .args = "[-c CONFIG] COMMAND [ARGS]",
    .help = "Commands (each answers --help):\n"
            "  tokens                     configured tokens: module, real token, present, PIN\n"
            "  keys TOKEN                 keys on a token: label, id, type, size, fingerprint\n"
            "  keygen TOKEN LABEL ALGO    new key pair on the token (rsa2048, rsa3072,\n"
            "                             rsa4096, ecdsa-p256, ecdsa-p384, ed25519)\n"
            "  pin set TOKEN              store the token's PIN (from the tty, or stdin)\n"
            "  pin check TOKEN            one login: ok, wrong or locked\n"
            "  pin clear TOKEN            remove the PIN rejection mark (one more try)\n"
            "  stats [--prometheus]       counters of every process using hsmcache\n"
            "  doctor [--user USER]       check config, PIN files, modules, tokens\n"
            "  sshca pubkey               the [sshca] CA keys in OpenSSH format\n"
            "  sshca sign [-I ID] [-n PRINCIPALS] [-V VALIDITY] [-h] [-O OPTION]... PUBKEY\n"
            "                             a certificate issued by hsmcached (PUBKEY-cert.pub)\n"
            "  sshca revoke SERIAL|KEYFILE  record a revoked certificate serial or key\n"
            "  sshca krl FILE             an OpenSSH KRL of every revocation (sshd RevokedKeys)\n"
            "  shared-cache init|status   the fleet's shared signature table on MariaDB\n"
            "  config-keys                every config key: default and meaning\n"
            "Options:\n"
            "  -c, --config CONFIG        the configuration; default $HSMCACHE_CONF, then\n"
            "                             /etc/hsmcache/hsmcache.conf\n"
            "  -h, --help                 this help\n",
    .exits = HC_CLI_EXIT_OK
    "  1  the operation failed or found a problem (each command's --help says which)\n" HC_CLI_EXIT_USAGE,
    .shortopts = "c:h",
    .longopts = main_longopts,
    .in_order = true,
};

const struct option hc_cli_no_options[] = { HC_LONGOPT_HELP, { 0 } };

int hc_cli_args(hc_cli_t *cli, const hc_cmdline_t *cl, int min, int max, int *first)
{
    hc_opts_t o = HC_OPTS(cl, cli->argc, cli->argv);
    int c;
    while ((c = hc_opt_next(&o)) != -1)
        if (c == HC_OPT_STOP)
            return o.status;
    *first = o.first;
    return hc_opt_args(&o, min, max);
}

void hc_cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("hsmcache: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

hc_ctx_t *hc_cli_open(const hc_cli_t *cli)
{
    hc_ctx_t *ctx = NULL;
    hc_err_t err = { 0 };
    if (hc_open(HC_PROFILE_CLI, cli->conf, &ctx, &err) != CKR_OK) {
        hc_cli_error("%s", err.msg);
        return NULL;
    }
    return ctx;
}

hc_config_t *hc_cli_config(const hc_cli_t *cli)
{
    hc_config_t *cfg = NULL;
    hc_err_t err = { 0 };
    if (hc_config_load(hc_config_resolve(cli->conf), &cfg, &err) != CKR_OK)
        hc_cli_error("%s", err.msg);
    return cfg;
}

long hc_cli_token(hc_ctx_t *ctx, const char *name)
{
    long i = hc_token_index(ctx, name);
    if (i < 0)
        hc_cli_error("%s: no [token %s] in the config", hc_config_path(ctx), name);
    return i;
}

void hc_cli_field(char *out, size_t size, const unsigned char *field, size_t n)
{
    while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\0'))
        n--;
    if (n >= size)
        n = size - 1;
    memcpy(out, field, n);
    out[n] = '\0';
}

char *hc_cli_uri(const char *token, const char *label, size_t labellen, const unsigned char *id,
                 size_t idlen, CK_OBJECT_CLASS cls)
{
    P11KitUri *u = p11_kit_uri_new();
    char *out = NULL;
    if (!u)
        return NULL;
    CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(u);
    memset(ti->label, ' ', sizeof ti->label);
    memcpy(ti->label, token, strlen(token) < sizeof ti->label ? strlen(token) : sizeof ti->label);
    CK_ATTRIBUTE a[] = {
        { CKA_LABEL, (void *)label, labellen },
        { CKA_ID, (void *)id, idlen },
        { CKA_CLASS, &cls, sizeof cls },
    };
    for (size_t i = 0; i < 3; i++)
        if (a[i].ulValueLen)
            p11_kit_uri_set_attribute(u, &a[i]);
    p11_kit_uri_format(u, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &out);
    p11_kit_uri_free(u);
    return out;
}

int main(int argc, char **argv)
{
    hc_cli_t cli = { 0 };
    hc_opts_t o = HC_OPTS(&main_cmdline, argc, argv);
    int c;
    while ((c = hc_opt_next(&o)) != -1) {
        if (c == HC_OPT_STOP)
            return o.status;
        if (c == 'c')
            cli.conf = optarg;
    }
    if (o.first >= argc)
        return hc_usage_error(&main_cmdline, "no COMMAND given");
    static const struct {
        const char *name;
        int (*fn)(hc_cli_t *);
    } cmds[] = {
        { "tokens", hc_cmd_tokens },
        { "keys", hc_cmd_keys },
        { "keygen", hc_cmd_keygen },
        { "pin", hc_cmd_pin },
        { "stats", hc_cmd_stats },
        { "doctor", hc_cmd_doctor },
        { "sshca", hc_cmd_sshca },
        { "shared-cache", hc_cmd_sharedcache },
        { "config-keys", hc_cmd_config_keys },
    };
    const char *name = argv[o.first];
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
        if (!strcmp(name, cmds[k].name)) {
            cli.argc = argc - o.first;
            cli.argv = argv + o.first;
            return cmds[k].fn(&cli);
        }
    return hc_usage_error(&main_cmdline, "unknown command '%s'", name);
}
