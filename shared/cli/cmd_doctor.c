/*
 * cmd_doctor.c: `hsmcache doctor [--user USER]`: checks what usually goes
 * wrong on a new install, each with a one-line verdict and the fix:
 * config, PIN store and files, p11-kit registration of the front, the
 * real modules and tokens, SoftHSM's config and token directory, the
 * cache dir, and [shared-cache]'s databases (cmd_sharedcache.c),
 * optionally from the point of view of a service user.
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_sharedcache.h"
#include "config.h"
#include "core/pinstore.h"

struct doctor {
    int failures, warnings;
    const struct passwd *user; /* --user, or NULL */
    gid_t groups[256];
    int ngroups;
};

static void verdict(struct doctor *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void verdict(struct doctor *d, int level, const char *fmt, ...)
{
    static const char *tags[] = { "ok  ", "warn", "FAIL" };
    va_list ap;
    printf("[%s] ", tags[level]);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    d->warnings += level == 1;
    d->failures += level == 2;
}

/* Can the --user read (or write) `path`, judged from its mode bits? */
static bool user_can(const struct doctor *d, const struct stat *st, bool write)
{
    if (d->user->pw_uid == 0)
        return true;
    mode_t u = write ? S_IWUSR : S_IRUSR, g = write ? S_IWGRP : S_IRGRP,
           o = write ? S_IWOTH : S_IROTH;
    if (st->st_uid == d->user->pw_uid)
        return st->st_mode & u;
    for (int i = 0; i < d->ngroups; i++)
        if (d->groups[i] == st->st_gid)
            return st->st_mode & g;
    return st->st_mode & o;
}

static void check_pin(struct doctor *d, const hc_config_t *cfg, const char *token)
{
    char path[PATH_MAX];
    hc_pin_path(cfg->pin_store, token, path, sizeof path);
    hc_err_t err = { 0 };
    CK_RV rv = hc_pin_check(cfg->pin_store, token, NULL, &err);
    if (rv != CKR_OK) {
        verdict(d, 2, "token %s: %s", token, err.msg);
        return;
    }
    struct stat st;
    if (d->user && stat(path, &st) == 0 && !user_can(d, &st, false))
        verdict(d, 2,
                "token %s: PIN file %s is not readable by user %s (fix: "
                "chown %s %s, or use the agent)",
                token, path, d->user->pw_name, d->user->pw_name, path);
    else
        verdict(d, 0, "token %s: PIN file %s", token, path);
}

/* Is the front registered with p11-kit (a .module naming our .so)? */
static void check_registration(struct doctor *d)
{
    static const char *dirs[] = { "/etc/pkcs11/modules", "/usr/share/p11-kit/modules" };
    for (size_t i = 0; i < 2; i++) {
        DIR *dir = opendir(dirs[i]);
        struct dirent *de;
        while (dir && (de = readdir(dir))) {
            char path[PATH_MAX], line[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", dirs[i], de->d_name);
            FILE *f = strstr(de->d_name, ".module") ? fopen(path, "re") : NULL;
            bool ours = false;
            while (f && fgets(line, sizeof line, f))
                ours = ours ||
                       (strncmp(line, "module:", 7) == 0 && strstr(line, "hsmcache-pkcs11.so"));
            if (f)
                fclose(f);
            if (ours) {
                verdict(d, 0, "p11-kit module registered: %s", path);
                closedir(dir);
                return;
            }
        }
        if (dir)
            closedir(dir);
    }
    verdict(d, 1,
            "the hsmcache PKCS#11 front is not registered with p11-kit "
            "(hosts that load modules by name need it: make install, or a "
            "file /etc/pkcs11/modules/hsmcache.module with 'module: PATH')");
}

static void check_softhsm(struct doctor *d)
{
    const char *conf = secure_getenv("SOFTHSM2_CONF");
    if (!conf || !conf[0])
        conf = "/etc/softhsm/softhsm2.conf";
    FILE *f = fopen(conf, "re");
    if (!f) {
        verdict(d, 2, "SoftHSM config %s: %s (set SOFTHSM2_CONF)", conf, strerror(errno));
        return;
    }
    char line[PATH_MAX + 64], dir[PATH_MAX] = "";
    while (fgets(line, sizeof line, f))
        if (sscanf(line, " directories.tokendir = %4095s", dir) == 1)
            break;
    fclose(f);
    struct stat st;
    if (!dir[0])
        verdict(d, 2, "SoftHSM config %s has no directories.tokendir", conf);
    else if (stat(dir, &st) != 0)
        verdict(d, 2, "SoftHSM token dir %s (from %s): %s", dir, conf, strerror(errno));
    else if (d->user && (!user_can(d, &st, false) || !user_can(d, &st, true)))
        verdict(d, 2,
                "SoftHSM token dir %s is not readable and writable by user "
                "%s (fix: chown -R %s %s)",
                dir, d->user->pw_name, d->user->pw_name, dir);
    else
        verdict(d, 0, "SoftHSM config %s, token dir %s", conf, dir);
}

static void check_cache_dir(struct doctor *d, const hc_config_t *cfg)
{
    struct stat st;
    if (stat(cfg->cache_dir, &st) != 0)
        verdict(d, 1,
                "cache-dir %s does not exist yet (created on first use; "
                "the persistent cache and PIN-rejection marks live there)",
                cfg->cache_dir);
    else if (d->user && !user_can(d, &st, true))
        verdict(d, 2, "cache-dir %s is not writable by user %s (fix: chown %s %s)", cfg->cache_dir,
                d->user->pw_name, d->user->pw_name, cfg->cache_dir);
    else
        verdict(d, 0, "cache-dir %s", cfg->cache_dir);
}

enum { OPT_USER = 256 };

static const struct option doctor_longopts[] = {
    { "user", required_argument, NULL, OPT_USER },
    HC_LONGOPT_HELP,
    { 0 },
};

static const hc_cmdline_t doctor_cmdline = {
    .prog = "hsmcache doctor",
    .args = "[--user USER]",
    .help = "Checks what usually goes wrong on a new install, one verdict a line with the\n"
            "fix: the config, the PIN files, the front's p11-kit registration, the modules\n"
            "and tokens, SoftHSM's config and token directory, the cache directory.\n"
            "Options:\n"
            "  --user USER   also judge whether USER (a service's user) can read what it\n"
            "                needs\n"
            "  --help        this help\n",
    .exits =
        HC_CLI_EXIT_OK "  1  a check failed (the config cannot be loaded, a PIN file is refused,\n"
                       "     a token is absent, ...)\n"
                       "  2  usage error (an unknown option, an unknown USER)\n",
    .shortopts = "",
    .longopts = doctor_longopts,
};

int hc_cmd_doctor(hc_cli_t *cli)
{
    struct doctor d = { 0 };
    hc_opts_t o = HC_OPTS(&doctor_cmdline, cli->argc, cli->argv);
    int c;
    while ((c = hc_opt_next(&o)) != -1) {
        if (c == HC_OPT_STOP)
            return o.status;
        if (c == OPT_USER && !(d.user = getpwnam(optarg)))
            return hc_usage_error(&doctor_cmdline, "no user '%s'", optarg);
    }
    if ((c = hc_opt_args(&o, 0, 0)) >= 0)
        return c;
    if (d.user) {
        d.ngroups = 256;
        getgrouplist(d.user->pw_name, d.user->pw_gid, d.groups, &d.ngroups);
    }
    const char *path = hc_config_resolve(cli->conf);
    hc_config_t *cfg;
    hc_err_t err = { 0 };
    if (hc_config_load(path, &cfg, &err) != CKR_OK) {
        verdict(&d, 2, "config: %s", err.msg);
        return 1;
    }
    verdict(&d, 0, "config %s: %zu token(s)", path, cfg->ntokens);
    check_registration(&d);
    bool agent = cfg->agent.socket[0] != '\0';
    /* With the agent, PIN files, tokens and cache dir are the agent's:
     * it reports on them below; this user may not even read them. */
    bool softhsm = false;
    for (size_t i = 0; !agent && i < cfg->ntokens; i++) {
        if (cfg->tokens[i].members.n)
            continue; /* a token group: its members have the PIN files */
        check_pin(&d, cfg, cfg->tokens[i].name);
        softhsm = softhsm || strstr(cfg->tokens[i].module, "softhsm");
    }
    if (softhsm)
        check_softhsm(&d);
    if (!agent)
        check_cache_dir(&d, cfg);
    hc_ctx_t *ctx = NULL;
    if (agent && hc_open(HC_PROFILE_CLI, path, &ctx, &err) != CKR_OK)
        verdict(&d, 2, "agent: %s", err.msg);
    else if (agent)
        verdict(&d, 0, "agent: hsmcached answers on %s", cfg->agent.socket);
    else
        ctx = hc_cli_open(cli);
    for (size_t i = 0; ctx && i < hc_token_count(ctx); i++) {
        hc_token_status_t st;
        err.msg[0] = '\0';
        if (hc_token_status(ctx, i, &st, &err) != CKR_OK)
            verdict(&d, 2, "token %s: %s", st.name, err.msg);
        else if (agent && !st.pin_stored)
            verdict(&d, 2,
                    "token %s: hsmcached has no usable PIN file for it "
                    "(as the agent's user: hsmcache pin set %s)",
                    st.name, st.name);
        else if (st.pin_rejected)
            verdict(&d, 2,
                    "token %s: present, but it rejected the current PIN "
                    "file; signing is refused until it changes (hsmcache pin set %s)",
                    st.name, st.name);
        else
            verdict(&d, 0, "token %s: present in module %s", st.name, st.module);
    }
    hc_close(ctx);
    d.failures += hc_sharedcache_doctor(cfg, &d.warnings);
    hc_config_free(cfg);
    printf("%d failure(s), %d warning(s)\n", d.failures, d.warnings);
    return d.failures ? 1 : 0;
}
