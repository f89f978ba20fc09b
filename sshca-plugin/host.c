/* host.c: the process the SSH CA module is loaded in (contract in
 * sshca.h). Everything /proc-dependent lives here; what the command line
 * means is keygen_argv.c's, a pure function the agent can share.
 *
 * The host is trusted as ssh-keygen only when /proc/self/exe is
 * /usr/bin/ssh-keygen itself: that path, a regular file owned by root
 * and writable by no one else, in directories owned by root and
 * writable by no one else, and the very inode running (not a copy, not
 * a file replaced since). Its OpenSSH release is dpkg's for exactly
 * those bytes (dpkg.c). A renamed or copied ssh-keygen, another
 * release, or any other program gets no signature (the policy's host
 * rule). */
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sshca.h"

#define KEYGEN_PATH "/usr/bin/ssh-keygen"
#define HELPER_PATH "/usr/lib/openssh/ssh-pkcs11-helper"
#define MAX_ARGV (1 << 20) /* bytes of /proc/self/cmdline read at most */

/* Root's and no one else's to change: owned by root, not writable by
 * others, nor by a group other than root's. */
bool sshca_root_only(const struct stat *st)
{
    return st->st_uid == 0 && !(st->st_mode & S_IWOTH) &&
           (!(st->st_mode & S_IWGRP) || st->st_gid == 0);
}

/* `path` (absolute) is the running binary `self`, and only root can have
 * put it there. 0, or -1 with `why`. */
static int installed(const char *path, const struct stat *self, char *why, size_t size)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(why, size, "%s cannot be opened", path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    if (!S_ISREG(st.st_mode) || !sshca_root_only(&st)) {
        snprintf(why, size,
                 "%s is not a regular file owned by root and writable "
                 "only by root (uid %u, mode %03o)",
                 path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    if (st.st_dev != self->st_dev || st.st_ino != self->st_ino) {
        snprintf(why, size,
                 "the running binary is not %s's file (replaced since "
                 "it started?)",
                 path);
        return -1;
    }
    return sshca_root_dirs(path, why, size);
}

int sshca_root_dirs(const char *path, char *why, size_t size)
{
    char dir[PATH_MAX];
    struct stat st;
    snprintf(dir, sizeof dir, "%s", path);
    for (char *slash = strrchr(dir, '/'); slash; slash = strrchr(dir, '/')) {
        slash[slash == dir] = '\0'; /* "/usr/bin/x" -> "/usr/bin" ... "/" */
        if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || !sshca_root_only(&st)) {
            snprintf(why, size,
                     "directory %s is not owned by root and writable "
                     "only by root",
                     dir);
            return -1;
        }
        if (!strcmp(dir, "/"))
            break;
    }
    return 0;
}

/* Whether the running binary is the installed `path`, and for
 * ssh-keygen which release. */
static bool trusted(sshca_args_t *a, const char *path, bool want_release)
{
    if (strcmp(a->exe, path) != 0) {
        snprintf(a->host_why, sizeof a->host_why, "the host program is %s, not %s", a->exe, path);
        return false;
    }
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    struct stat self;
    bool ok = fd >= 0 && fstat(fd, &self) == 0 &&
              installed(path, &self, a->host_why, sizeof a->host_why) == 0;
    if (fd < 0)
        snprintf(a->host_why, sizeof a->host_why, "cannot open /proc/self/exe");
    if (ok && want_release) {
        char why[240];
        ok = sshca_dpkg_release(fd, a->release, sizeof a->release, why, sizeof why) == 0;
        if (!ok)
            snprintf(a->host_why, sizeof a->host_why, "%s: %s", path, why);
    }
    if (fd >= 0)
        close(fd);
    return ok;
}

static char *read_cmdline(size_t *len)
{
    FILE *f = fopen("/proc/self/cmdline", "re");
    char *buf = f ? malloc(MAX_ARGV + 1) : NULL;
    *len = buf ? fread(buf, 1, MAX_ARGV + 1, f) : 0;
    if (f)
        fclose(f);
    if (buf && *len > MAX_ARGV) { /* fail closed: a cut argv misleads */
        free(buf);
        return NULL;
    }
    return buf;
}

/* The NUL-separated argv of /proc/self/cmdline, parsed as `v` parses it. */
static void parse_cmdline(sshca_args_t *a, const sshca_keygen_version_t *v, char *buf, size_t len)
{
    size_t argc = 0;
    for (size_t i = 0; i < len; i++)
        argc += buf[i] == '\0';
    if (len == 0 || buf[len - 1] != '\0') {
        snprintf(a->parse_why, sizeof a->parse_why,
                 "/proc/self/cmdline does not "
                 "end in a NUL (the process rewrote its argv)");
        return;
    }
    char **argv = calloc(argc + 1, sizeof *argv);
    if (!argv) {
        snprintf(a->parse_why, sizeof a->parse_why, "out of memory");
        return;
    }
    for (size_t i = 0, k = 0; k < argc; i += strlen(buf + i) + 1)
        argv[k++] = buf + i;
    a->parsed = sshca_keygen_parse(v, (int)argc, argv, a->now, &a->req, a->parse_why,
                                   sizeof a->parse_why) == 0;
    free(argv);
}

int sshca_args_read_self(sshca_args_t *a)
{
    memset(a, 0, sizeof *a);
    a->now = time(NULL);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        return -1;
    exe[n] = '\0';
    const char *base = strrchr(exe, '/');
    a->exe = strdup(exe);
    a->program = strdup(base ? base + 1 : exe);
    if (!a->exe || !a->program)
        return -1;
    if (!strcmp(a->program, "ssh-pkcs11-helper")) {
        a->is_agent_helper = trusted(a, HELPER_PATH, false);
        return 0; /* its argv says nothing about what it signs */
    }
    if (strcmp(a->program, "ssh-keygen") != 0) {
        snprintf(a->host_why, sizeof a->host_why, "the host program is %s, not " KEYGEN_PATH,
                 a->exe);
        return 0;
    }
    if (!trusted(a, KEYGEN_PATH, true))
        return 0;
    const sshca_keygen_version_t *v = sshca_keygen_version(a->release);
    if (!v) {
        snprintf(a->host_why, sizeof a->host_why,
                 KEYGEN_PATH " is OpenSSH %s, a "
                             "release whose arguments this module cannot read (it knows %s)",
                 a->release, sshca_keygen_versions());
        return 0;
    }
    a->is_keygen = true;
    size_t len;
    char *buf = read_cmdline(&len);
    if (!buf)
        snprintf(a->parse_why, sizeof a->parse_why,
                 "cannot read all of "
                 "/proc/self/cmdline");
    else
        parse_cmdline(a, v, buf, len);
    free(buf);
    return 0;
}

void sshca_args_free(sshca_args_t *a)
{
    sshca_request_free(&a->req);
    free(a->program);
    free(a->exe);
    memset(a, 0, sizeof *a);
}

int sshca_caller_self(sshca_caller_t *c)
{
    memset(c, 0, sizeof *c);
    c->uid = (unsigned)getuid();
    struct passwd *pw = getpwuid(getuid());
    if (pw)
        snprintf(c->user, sizeof c->user, "%s", pw->pw_name);
    int n = getgroups(0, NULL);
    gid_t *gids = n >= 0 ? calloc((size_t)n + 1, sizeof *gids) : NULL;
    if (!gids || (n = getgroups(n, gids)) < 0 ||
        !(c->groups = calloc((size_t)n + 1, sizeof *c->groups))) {
        free(gids);
        return -1;
    }
    gids[n++] = getgid();
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        struct group *g = getgrgid(gids[i]);
        if (g && !(c->groups[c->ngroups++] = strdup(g->gr_name)))
            rc = -1;
    }
    free(gids);
    return rc;
}

void sshca_caller_free(sshca_caller_t *c)
{
    for (size_t i = 0; c->groups && i < c->ngroups; i++)
        free(c->groups[i]);
    free(c->groups);
    memset(c, 0, sizeof *c);
}
