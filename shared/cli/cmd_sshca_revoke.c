/* cmd_sshca_revoke.c: `hsmcache sshca revoke SERIAL|KEYFILE` records a
 * revocation, `hsmcache sshca krl FILE` writes an OpenSSH KRL of every
 * one recorded (ssh-keygen -k -s CA), for sshd's RevokedKeys.
 *
 * The record is [core] cache-dir/sshca-revoked, one line per revocation
 * in ssh-keygen's KRL specification syntax ("serial: N", "key: TYPE
 * BASE64"), appended with O_APPEND, flock and fsync (hc_append_line):
 * revocations are only ever added. Serials are the CA's: the KRL is
 * bound to the first key of [sshca] keys, the one hsmcached issues
 * with. Each line is checked before it is recorded (a decimal serial
 * from 1 to 2^64-1; a public key or certificate line of a known type in
 * base64), so the file always feeds ssh-keygen -k whole. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/appendlog.h"
#include "cli.h"
#include "config.h"
#include "sshkey.h"

#define REVOKED_FILE "sshca-revoked"
#define KEYGEN "/usr/bin/ssh-keygen"

static void revoked_path(const hc_config_t *cfg, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", cfg->cache_dir, REVOKED_FILE);
}

/* "serial: N" for a decimal serial, else NULL. */
static char *serial_line(const char *arg)
{
    if (!*arg || strlen(arg) > 20 || strspn(arg, "0123456789") != strlen(arg) || arg[0] == '0')
        return NULL;
    errno = 0;
    unsigned long long v = strtoull(arg, NULL, 10);
    if (errno)
        return NULL;
    char *line;
    return asprintf(&line, "serial: %llu", v) < 0 ? NULL : line;
}

/* "key: TYPE BASE64" from a public key or certificate file, or NULL with
 * the reason printed. */
static char *key_line(const char *path)
{
    static const char *const types[] = {
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "ssh-rsa",
        "ssh-ed25519-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "ssh-rsa-cert-v01@openssh.com",
    };
    FILE *f = fopen(path, "re");
    if (!f) {
        hc_cli_error("sshca revoke: %s: %m (give a serial or a public key file)", path);
        return NULL;
    }
    char buf[20000];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    char *sp = strchr(buf, ' ');
    size_t b64 = sp ? strspn(sp + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789+/=")
                    : 0;
    bool known = false;
    for (size_t i = 0; sp && i < sizeof types / sizeof types[0] && !known; i++)
        known = strlen(types[i]) == (size_t)(sp - buf) && !strncmp(buf, types[i], sp - buf);
    if (!known || b64 < 16 || (sp[1 + b64] && sp[1 + b64] != ' ')) {
        hc_cli_error("sshca revoke: %s: not an OpenSSH public key or certificate line", path);
        return NULL;
    }
    char *line;
    return asprintf(&line, "key: %.*s", (int)(sp - buf + 1 + b64), buf) < 0 ? NULL : line;
}

static int do_revoke(hc_cli_t *cli, const char *arg)
{
    hc_config_t *cfg = hc_cli_config(cli);
    if (!cfg)
        return 2;
    char path[4200];
    revoked_path(cfg, path, sizeof path);
    char *line = serial_line(arg);
    if (!line && strspn(arg, "0123456789") == strlen(arg)) {
        hc_cli_error("sshca revoke: '%s' is not a serial (1 to 18446744073709551615)", arg);
        hc_config_free(cfg);
        return 2;
    }
    if (!line)
        line = key_line(arg);
    int status = line ? 0 : 2;
    if (line && hc_append_line(path, line, strlen(line)) != 0) {
        hc_cli_error("sshca revoke: %s: cannot append: %m", path);
        status = 1;
    }
    if (status == 0)
        fprintf(stderr, "revoked (%s): %.80s\n", path, line);
    free(line);
    hc_config_free(cfg);
    return status;
}

/* The public key line of the key `uri` (the first [sshca] key) into `fd`. */
static int write_ca(hc_cli_t *cli, const char *uri, int fd)
{
    hc_ctx_t *ctx = hc_cli_open(cli);
    hc_obj_t *objs = NULL;
    size_t n = 0;
    hc_err_t err = { 0 };
    int rc = -1;
    if (ctx && hc_find_uri(ctx, uri, &objs, &n, &err) != CKR_OK)
        hc_cli_error("[sshca] keys: %s", err.msg);
    for (size_t i = 0; rc != 0 && i < n; i++) {
        unsigned char *spki;
        size_t len;
        if (hc_public_key(ctx, objs[i], &spki, &len, NULL) != CKR_OK)
            continue;
        char *line = hc_ssh_pubkey_line(spki, len, NULL);
        free(spki);
        if (line && dprintf(fd, "%s\n", line) > 0)
            rc = 0;
        free(line);
    }
    if (ctx && rc != 0 && n == 0)
        hc_cli_error("[sshca] keys: %s matches no key", uri);
    free(objs);
    hc_close(ctx);
    return rc;
}

static int do_krl(hc_cli_t *cli, const char *out)
{
    hc_config_t *cfg = hc_cli_config(cli);
    if (!cfg)
        return 2;
    char spec[4200], ca[] = "/tmp/hsmcache-krl-ca.XXXXXX";
    revoked_path(cfg, spec, sizeof spec);
    int status = 0;
    if (access(spec, R_OK) != 0) {
        hc_cli_error("sshca krl: %s: %m (nothing revoked yet?)", spec);
        status = 1;
    }
    const hc_cfg_value_t *keys = hc_config_setting(cfg, HC_P_SSHCA, NULL, "keys", HC_CFG_LIST);
    if (status == 0 && (!keys || keys->list.n == 0)) {
        hc_cli_error("sshca krl: %s: [sshca] keys is empty", cfg->path);
        status = 2;
    }
    int fd = status == 0 ? mkstemp(ca) : -1;
    if (status == 0 && (fd < 0 || write_ca(cli, keys->list.items[0], fd) != 0))
        status = 1;
    if (fd >= 0)
        close(fd);
    if (status == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_RDONLY);
            if (null >= 0)
                dup2(null, 0);
            execl(KEYGEN, "ssh-keygen", "-q", "-k", "-f", out, "-s", ca, "--", spec, (char *)NULL);
            _exit(127);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
            hc_cli_error("sshca krl: %s -k -f %s -s (the CA) %s failed", KEYGEN, out, spec);
            status = 1;
        }
    }
    if (fd >= 0)
        unlink(ca);
    hc_config_free(cfg);
    return status;
}

static const hc_cmdline_t revoke_cmdline = {
    .prog = "hsmcache sshca revoke",
    .args = "SERIAL|KEYFILE",
    .help = "Records a revocation in [core] cache-dir/sshca-revoked: a certificate serial\n"
            "(1 to 18446744073709551615), or a public key or certificate file. Revocations\n"
            "are only ever added; sshca krl makes the KRL sshd reads.\n"
            "Options:\n"
            "  --help   this help\n",
    .exits = HC_CLI_EXIT_OK
    "  1  the record cannot be appended\n"
    "  2  usage or configuration error (a bad serial, KEYFILE not a public key)\n",
    .shortopts = "",
    .longopts = hc_cli_no_options,
};

static const hc_cmdline_t krl_cmdline = {
    .prog = "hsmcache sshca krl",
    .args = "FILE",
    .help = "Writes an OpenSSH KRL of every recorded revocation to FILE (ssh-keygen -k,\n"
            "bound to the first key of [sshca] keys), for sshd's RevokedKeys.\n"
            "Options:\n"
            "  --help   this help\n",
    .exits =
        HC_CLI_EXIT_OK "  1  nothing revoked yet, the CA key not found, or ssh-keygen failed\n"
                       "  2  usage or configuration error ([sshca] keys empty, a bad config)\n",
    .shortopts = "",
    .longopts = hc_cli_no_options,
};

int hc_cmd_sshca_revoke(hc_cli_t *cli)
{
    bool is_krl = !strcmp(cli->argv[0], "krl");
    int first, usage = hc_cli_args(cli, is_krl ? &krl_cmdline : &revoke_cmdline, 1, 1, &first);
    if (usage >= 0)
        return usage;
    return is_krl ? do_krl(cli, cli->argv[first]) : do_revoke(cli, cli->argv[first]);
}
