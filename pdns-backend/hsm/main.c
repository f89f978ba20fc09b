/* main.c: `pdns-hsm` options (cmdline.h's conventions: --help, --opt VALUE
 * and --opt=VALUE as pdnsutil takes them, exit statuses) and dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmdline.h"
#include "pdnshsm.h"

void pdns_hsm_error(const char *fmt, ...)
{
    va_list ap;
    fputs("pdns-hsm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

enum { OPT_CONFIG_DIR = 256, OPT_HSMCACHE_CONF, OPT_ENGINE, OPT_SERVER, OPT_APPLY, OPT_SHA384 };

/* Every command takes the two settings pdns-hsm takes before it. */
#define COMMON_LONGOPTS \
    { "config-dir", required_argument, NULL, OPT_CONFIG_DIR }, \
    { "hsmcache-conf", required_argument, NULL, OPT_HSMCACHE_CONF }, \
    { "help", no_argument, NULL, 'h' }
#define COMMON_HELP \
    "  --config-dir DIR       where pdns.conf is (and its include-dir); default\n" \
    "                         /etc/powerdns\n" \
    "  --hsmcache-conf FILE   the hsmcache config; default $HSMCACHE_CONF, then\n" \
    "                         /etc/hsmcache/hsmcache.conf\n" \
    "  -h, --help             this help\n"
#define EXIT_OK "  0  success\n"
#define EXIT_USAGE "  2  usage, configuration or database error (an unknown option, no\n" \
                   "     pdns.conf, the database unreachable)\n"

static const struct option common_longopts[] = { COMMON_LONGOPTS, { 0 } };
/* Before the command every command's option is read (`pdns-hsm --apply
 * migrate` as well as `pdns-hsm migrate --apply`); once the command is
 * known, one that is not its own is refused as if given after it. */
static const struct option any_longopts[] = {
    COMMON_LONGOPTS,
    { "apply", no_argument, NULL, OPT_APPLY },
    { "engine", required_argument, NULL, OPT_ENGINE },
    { "sha384", no_argument, NULL, OPT_SHA384 },
    { "server", required_argument, NULL, OPT_SERVER },
    { 0 },
};
static const struct option migrate_longopts[] = {
    COMMON_LONGOPTS,
    { "apply", no_argument, NULL, OPT_APPLY },
    { "engine", required_argument, NULL, OPT_ENGINE },
    { 0 },
};
static const struct option ds_longopts[] = {
    COMMON_LONGOPTS,
    { "sha384", no_argument, NULL, OPT_SHA384 },
    { 0 },
};
static const struct option server_longopts[] = {
    COMMON_LONGOPTS,
    { "server", required_argument, NULL, OPT_SERVER },
    { 0 },
};

static const hc_cmdline_t main_cmdline = {
    .prog = "pdns-hsm",
    .args = "[--config-dir DIR] [--hsmcache-conf FILE] COMMAND [ARGS]",
    .help = "Commands (each answers --help; the options below go before or after it):\n"
            "  audit                  PKCS#11 key rows; exit 1 if one stores a PIN or\n"
            "                         does not resolve through hsmcache\n"
            "  migrate [--apply] [--engine NAME]\n"
            "                         move stored PINs into the hsmcache PIN store and\n"
            "                         rewrite the rows to Engine: NAME (default hsmcache)\n"
            "  ds ZONE [--sha384]     DS records from the HSM's public keys of the KSKs\n"
            "  check ZONE [--server ADDRESS[:PORT]]\n"
            "                         AXFR from pdns_server and verify every RRSIG\n"
            "  warm ZONE [--server ADDRESS[:PORT]]\n"
            "                         ask pdns_server for every RRset of ZONE once, so\n"
            "                         its signatures are cached before clients ask\n"
            "Options:\n" COMMON_HELP,
    .exits = EXIT_OK "  1  a finding or failure (each command's --help says which)\n" EXIT_USAGE,
    .shortopts = "h",
    .longopts = any_longopts,
    .in_order = true,
};

static const struct command {
    const char *name;
    bool zoned; /* takes ZONE */
    int (*fn)(struct pdns_hsm *);
    hc_cmdline_t cl;
} commands[] = {
    { "audit",
      false,
      cmd_audit,
      { .prog = "pdns-hsm audit",
        .args = "[OPTIONS]",
        .help = "One line per PKCS#11 key row of the database: zone, id, KSK or ZSK, active,\n"
                "engine, slot, label, whether the row stores a PIN, and whether it resolves\n"
                "through hsmcache (and to which token). Never prints a PIN.\n"
                "Options:\n" COMMON_HELP,
        .exits = EXIT_OK "  1  a row stores a PIN, does not resolve through hsmcache, or names\n"
                         "     another engine\n" EXIT_USAGE,
        .shortopts = "h",
        .longopts = common_longopts } },
    { "migrate",
      false,
      cmd_migrate,
      { .prog = "pdns-hsm migrate",
        .args = "[--apply] [--engine NAME] [OPTIONS]",
        .help = "Every row that stores a PIN: the PIN goes into the hsmcache PIN store of\n"
                "its token, and the row is rewritten to Engine: NAME, Slot: the token's\n"
                "hsmcache name, and an empty PIN. Without --apply, only the plan is printed.\n"
                "Options:\n"
                "  --apply                change the store and the rows\n"
                "  --engine NAME          what migrated rows name (default hsmcache)\n" COMMON_HELP,
        .exits = EXIT_OK "  1  a row's token is not configured, rows of a token hold different\n"
                         "     PINs, the store holds another PIN, or a write failed\n" EXIT_USAGE,
        .shortopts = "h",
        .longopts = migrate_longopts } },
    { "ds",
      true,
      cmd_ds,
      { .prog = "pdns-hsm ds",
        .args = "ZONE [--sha384] [OPTIONS]",
        .help = "DS records of ZONE's active KSKs, computed from the public keys on the\n"
                "HSM (not from the database).\n"
                "Options:\n"
                "  --sha384               SHA-384 digests (default SHA-256)\n" COMMON_HELP,
        .exits = EXIT_OK "  1  a KSK's public key is on no hsmcache token, or ZONE has no active\n"
                         "     PKCS#11 KSK\n" EXIT_USAGE,
        .shortopts = "h",
        .longopts = ds_longopts } },
    { "check",
      true,
      cmd_check,
      { .prog = "pdns-hsm check",
        .args = "ZONE [--server ADDRESS[:PORT]] [OPTIONS]",
        .help =
            "Transfers ZONE from the running pdns_server (AXFR) and verifies every\n"
            "RRSIG against the zone's DNSKEYs; prints counts and the first failures.\n"
            "Options:\n"
            "  --server ADDRESS[:PORT]  default pdns.conf's local-address and local-port\n" COMMON_HELP,
        .exits = EXIT_OK "  1  a signature does not verify, or none was verified\n"
                         "  2  usage, configuration or transfer error (the AXFR failed)\n",
        .shortopts = "h",
        .longopts = server_longopts } },
    { "warm",
      true,
      cmd_warm,
      { .prog = "pdns-hsm warm",
        .args = "ZONE [--server ADDRESS[:PORT]] [OPTIONS]",
        .help =
            "Asks the running pdns_server for every RRset of ZONE once, so that its\n"
            "signatures are in hsmcache's persistent cache before clients ask; prints\n"
            "progress with an estimate of the time left.\n"
            "Options:\n"
            "  --server ADDRESS[:PORT]  default pdns.conf's local-address and local-port\n" COMMON_HELP,
        .exits = EXIT_OK "  1  an answer failed or came without an RRSIG\n"
                         "  2  usage, configuration or database error (ZONE has no records)\n",
        .shortopts = "h",
        .longopts = server_longopts } },
};

/* One option of either parse (before the command, or the command's). */
static void take(struct pdns_hsm *h, const char **config_dir, int c)
{
    switch (c) {
    case OPT_CONFIG_DIR: *config_dir = optarg; break;
    case OPT_HSMCACHE_CONF: h->hsmcache_conf = optarg; break;
    case OPT_ENGINE: h->engine = optarg; break;
    case OPT_SERVER: h->server = optarg; break;
    case OPT_APPLY: h->apply = true; break;
    case OPT_SHA384: h->sha384 = true; break;
    }
}

int main(int argc, char **argv)
{
    struct pdns_hsm h = { .engine = "hsmcache" };
    const char *config_dir = "/etc/powerdns";
    hc_opts_t o = HC_OPTS(&main_cmdline, argc, argv);
    int c, before[8], nbefore = 0; /* command options given before it */
    while ((c = hc_opt_next(&o)) != -1) {
        if (c == HC_OPT_STOP)
            return o.status;
        if (c >= OPT_ENGINE && nbefore < 8)
            before[nbefore++] = c;
        take(&h, &config_dir, c);
    }
    if (o.first >= argc)
        return hc_usage_error(&main_cmdline, "no COMMAND given");
    const struct command *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[o.first], commands[i].name))
            cmd = &commands[i];
    if (!cmd)
        return hc_usage_error(&main_cmdline, "unknown command '%s'", argv[o.first]);
    for (int i = 0; i < nbefore; i++) {
        const struct option *l = cmd->cl.longopts;
        while (l->name && l->val != before[i])
            l++;
        if (!l->name) {
            const struct option *a = any_longopts;
            while (a->val != before[i])
                a++;
            return hc_usage_error(&cmd->cl, "unknown option '--%s'", a->name);
        }
    }
    /* The command's own options, anywhere after it (pdnsutil's way:
     * "ds ZONE --sha384"), with --config-dir and --hsmcache-conf too. */
    hc_opts_t co = HC_OPTS(&cmd->cl, argc - o.first, argv + o.first);
    while ((c = hc_opt_next(&co)) != -1) {
        if (c == HC_OPT_STOP)
            return co.status;
        take(&h, &config_dir, c);
    }
    if ((c = hc_opt_args(&co, cmd->zoned, cmd->zoned)) >= 0)
        return c;
    if (cmd->zoned)
        h.zone = co.argv[co.first];
    char err[512];
    if (pdns_settings_read(config_dir, &h.pdns, err, sizeof err) != 0) {
        pdns_hsm_error("%s", err);
        return 2;
    }
    return cmd->fn(&h);
}
