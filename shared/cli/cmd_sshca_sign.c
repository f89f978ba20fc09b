/* cmd_sshca_sign.c: `hsmcache sshca sign [-I ID] [-n PRINCIPALS]
 * [-V VALIDITY] [-h] [-O OPTION]... PUBKEY`: asks hsmcached to issue a
 * certificate for PUBKEY (the `issue` operation: the agent judges the
 * request by its [sshca] policy, signs with its CA key and audits) and
 * writes it where ssh-keygen would: PUBKEY without .pub, plus -cert.pub.
 * Options mean what they mean to ssh-keygen, and are read as OpenSSH's
 * getopt reads them (options end at the first non-option). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "proto/proto.h"

static const struct option sign_longopts[] = { HC_LONGOPT_HELP, { 0 } };

static const hc_cmdline_t sign_cmdline = {
    .prog = "hsmcache sshca sign",
    .args = "[-I ID] [-n PRINCIPALS] [-V VALIDITY] [-h] [-O OPTION]... PUBKEY",
    .help = "Asks hsmcached to issue a certificate for the public key in PUBKEY, under its\n"
            "[sshca] policy, and writes it where ssh-keygen would: PUBKEY without .pub,\n"
            "plus -cert.pub. Options mean what they mean to ssh-keygen -s, and end at the\n"
            "first argument, as ssh-keygen's do:\n"
            "  -I ID           the key identity\n"
            "  -n PRINCIPALS   comma-separated user or host names\n"
            "  -V VALIDITY     validity interval (e.g. +1h, always:forever)\n"
            "  -h              a host certificate (not help: that is --help)\n"
            "  -O OPTION       a certificate option (repeatable)\n"
            "  --help          this help\n",
    .exits = HC_CLI_EXIT_OK
    "  1  hsmcached refused or failed, or the certificate cannot be written\n"
    "  2  usage or configuration error (an unknown option, PUBKEY unreadable, no\n"
    "     [core] agent)\n",
    .shortopts = "I:n:V:hO:",
    .longopts = sign_longopts,
    .in_order = true, /* as OpenSSH's getopt reads them */
};

/* Appends "L\0VALUE\0" to the request's options. */
static int add_opt(unsigned char *buf, size_t *len, char letter, const char *value)
{
    size_t vl = strlen(value);
    if (*len + vl + 3 > HC_ISSUE_MAX_OPTS)
        return -1;
    buf[(*len)++] = (unsigned char)letter;
    buf[(*len)++] = '\0';
    memcpy(buf + *len, value, vl + 1);
    *len += vl + 1;
    return 0;
}

/* The first line of the public key file (at most HC_ISSUE_MAX_PUBKEY
 * bytes), malloc'ed, or NULL with the reason printed. */
static char *read_pubkey(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        hc_cli_error("%s: %m", path);
        return NULL;
    }
    char *line = malloc(HC_ISSUE_MAX_PUBKEY + 2);
    size_t n = line ? fread(line, 1, HC_ISSUE_MAX_PUBKEY + 1, f) : 0;
    fclose(f);
    if (!line || n == 0 || n > HC_ISSUE_MAX_PUBKEY) {
        hc_cli_error("%s: %s", path,
                     !line ? "out of memory"
                     : n   ? "larger than a public key"
                           : "empty");
        free(line);
        return NULL;
    }
    line[n] = '\0';
    line[strcspn(line, "\n")] = '\0';
    return line;
}

/* ssh-keygen's name for the certificate of `path`. */
static char *cert_path(const char *path)
{
    size_t n = strlen(path);
    if (n > 4 && !strcmp(path + n - 4, ".pub"))
        n -= 4;
    char *out = malloc(n + sizeof "-cert.pub");
    if (out)
        sprintf(out, "%.*s-cert.pub", (int)n, path);
    return out;
}

static int write_cert(const char *path, const char *cert, const char *comment)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        hc_cli_error("%s: %m", path);
        return -1;
    }
    fprintf(f, "%s%s%s\n", cert, *comment ? " " : "", comment);
    if (fclose(f) != 0) {
        hc_cli_error("%s: %m", path);
        return -1;
    }
    return 0;
}

int hc_cmd_sshca_sign(hc_cli_t *cli)
{
    unsigned char opts[HC_ISSUE_MAX_OPTS];
    size_t len = 0;
    int c;
    bool host = false;
    hc_opts_t o = HC_OPTS(&sign_cmdline, cli->argc, cli->argv);
    while ((c = hc_opt_next(&o)) != -1) {
        if (c == HC_OPT_STOP)
            return o.status;
        host |= c == 'h';
        if (add_opt(opts, &len, (char)c, c == 'h' ? "" : optarg) != 0)
            return hc_usage_error(&sign_cmdline, "options longer than %d bytes", HC_ISSUE_MAX_OPTS);
    }
    /* Options end at PUBKEY (ssh-keygen's way): one after it is an
     * argument too many, and the message says why. */
    int nargs = cli->argc - o.first;
    if (nargs != 1)
        return hc_usage_error(&sign_cmdline,
                              "give exactly one PUBKEY, after the options "
                              "(%d argument%s given%s%s%s)",
                              nargs, nargs == 1 ? "" : "s", nargs > 1 ? "; unexpected '" : "",
                              nargs > 1 ? cli->argv[o.first + 1] : "", nargs > 1 ? "'" : "");
    const char *file = cli->argv[o.first];
    hc_config_t *cfg = hc_cli_config(cli);
    if (!cfg)
        return 2;
    if (!cfg->agent.socket[0]) {
        hc_cli_error("sshca sign: %s names no hsmcached ([core] agent): only the agent "
                     "issues certificates",
                     cfg->path);
        hc_config_free(cfg);
        return 2;
    }
    char *line = read_pubkey(file), *out = cert_path(file), *cert = NULL;
    uint64_t serial = 0;
    int status = line && out ? 0 : 2;
    hc_err_t err = { 0 };
    if (status == 0 && hc_agent_issue(cfg->path, cfg->agent.socket, cfg->agent.timeout_ms, opts,
                                      len, line, &cert, &serial, &err) != CKR_OK) {
        hc_cli_error("sshca sign %s: %s", file, err.msg);
        status = 1;
    }
    /* the key's comment, as ssh-keygen keeps it */
    const char *comment = "";
    if (status == 0) {
        const char *p = strchr(line, ' ');
        p = p ? strchr(p + 1, ' ') : NULL;
        comment = p ? p + 1 : "";
    }
    if (status == 0 && write_cert(out, cert, comment) != 0)
        status = 1;
    if (status == 0)
        fprintf(stderr, "Signed %s key %s: serial %llu\n", host ? "host" : "user", out,
                (unsigned long long)serial);
    free(cert);
    free(line);
    free(out);
    hc_config_free(cfg);
    return status;
}
