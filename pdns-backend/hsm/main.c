/* main.c: `pdns-hsm` options and dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

static int usage(FILE *out)
{
    fputs("usage: pdns-hsm [--config-dir DIR] [--hsmcache-conf FILE] COMMAND\n"
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
          "DIR defaults to /etc/powerdns (pdns.conf and its include-dir).\n", out);
    return 2;
}

int main(int argc, char **argv)
{
    struct pdns_hsm h = { .engine = "hsmcache" };
    const char *config_dir = "/etc/powerdns", *cmd = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--config-dir") && more)
            config_dir = argv[++i];
        else if (!strcmp(a, "--hsmcache-conf") && more)
            h.hsmcache_conf = argv[++i];
        else if (!strcmp(a, "--engine") && more)
            h.engine = argv[++i];
        else if (!strcmp(a, "--server") && more)
            h.server = argv[++i];
        else if (!strcmp(a, "--apply"))
            h.apply = true;
        else if (!strcmp(a, "--sha384"))
            h.sha384 = true;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(stdout) & 0;
        else if (a[0] == '-')
            return usage(stderr);
        else if (!cmd)
            cmd = a;
        else if (!h.zone)
            h.zone = a;
        else
            return usage(stderr);
    }
    if (!cmd)
        return usage(stderr);
    char err[512];
    if (pdns_settings_read(config_dir, &h.pdns, err, sizeof err) != 0) {
        pdns_hsm_error("%s", err);
        return 2;
    }
    bool zoned = !strcmp(cmd, "ds") || !strcmp(cmd, "check") || !strcmp(cmd, "warm");
    if (zoned != (h.zone != NULL))
        return usage(stderr);
    if (!strcmp(cmd, "audit"))
        return cmd_audit(&h);
    if (!strcmp(cmd, "migrate"))
        return cmd_migrate(&h);
    if (!strcmp(cmd, "ds"))
        return cmd_ds(&h);
    if (!strcmp(cmd, "check"))
        return cmd_check(&h);
    if (!strcmp(cmd, "warm"))
        return cmd_warm(&h);
    return usage(stderr);
}
