/* pinstore.c: reading, checking and atomically writing PIN files. */
#include "core/pinstore.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "util/err.h"

void hc_pin_path(const char *store, const char *token, char *out, size_t size)
{
    /* Not from a setuid/setgid host's caller (secure_getenv): it would
     * name the directory the PINs are read from. */
    const char *creds = secure_getenv("CREDENTIALS_DIRECTORY");
    if (creds && creds[0]) {
        snprintf(out, size, "%s/hsmcache-pin-%s", creds, token);
        struct stat st;
        if (lstat(out, &st) == 0)
            return;
    }
    snprintf(out, size, "%s/%s", store, token);
}

static bool in_my_groups(gid_t gid)
{
    if (gid == getegid())
        return true;
    gid_t groups[256];
    int n = getgroups(256, groups);
    for (int i = 0; i < n; i++)
        if (groups[i] == gid)
            return true;
    return false;
}

/* The ownership and mode rules; HC_PIN_USABLE, or HC_PIN_REFUSED with
 * what is wrong and the command that fixes it. */
static hc_pin_verdict_t check_stat(const char *token, const struct stat *st, hc_pin_state_t *ps)
{
    const char *path = ps->path;
    ps->verdict = HC_PIN_REFUSED;
    if (S_ISLNK(st->st_mode) || !S_ISREG(st->st_mode)) {
        snprintf(ps->what, sizeof ps->what, "%s",
                 S_ISLNK(st->st_mode) ? "is a symlink" : "is not a regular file");
        snprintf(ps->fix, sizeof ps->fix, "rm %s; hsmcache pin set %s", path, token);
    } else if (st->st_uid != 0 && st->st_uid != geteuid()) {
        snprintf(ps->what, sizeof ps->what,
                 "is owned by uid %u, neither root nor "
                 "this process's user (uid %u)",
                 (unsigned)st->st_uid, (unsigned)geteuid());
        /* Judged for this user: the file may well be a service's own, so
         * the fix does not hand it to whoever runs the check. */
        snprintf(ps->fix, sizeof ps->fix,
                 "if it is uid %u's: chown %u %s; a service's "
                 "own: hsmcache doctor --user NAME",
                 (unsigned)geteuid(), (unsigned)geteuid(), path);
    } else if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(ps->what, sizeof ps->what, "is writable by group or others");
        snprintf(ps->fix, sizeof ps->fix, "chmod 600 %s", path);
    } else if (st->st_mode & S_IROTH) {
        snprintf(ps->what, sizeof ps->what, "is readable by others");
        snprintf(ps->fix, sizeof ps->fix, "chmod 600 %s", path);
    } else if ((st->st_mode & S_IRGRP) && !(st->st_uid == 0 && in_my_groups(st->st_gid))) {
        snprintf(ps->what, sizeof ps->what, "is readable by group %u", (unsigned)st->st_gid);
        snprintf(ps->fix, sizeof ps->fix,
                 "chmod 600 %s, or chown root:<service group> "
                 "and chmod 640 for a group of services",
                 path);
    } else {
        ps->verdict = HC_PIN_USABLE;
    }
    return ps->verdict;
}

static void version_of(const struct stat *st, hc_pin_version_t *v)
{
    memset(v, 0, sizeof *v);
    v->dev = st->st_dev;
    v->ino = st->st_ino;
    v->size = (uint64_t)st->st_size;
    v->mtime_s = st->st_mtim.tv_sec;
    v->mtime_ns = st->st_mtim.tv_nsec;
    v->ctime_s = st->st_ctim.tv_sec;
    v->ctime_ns = st->st_ctim.tv_nsec;
}

bool hc_pin_version_equal(const hc_pin_version_t *a, const hc_pin_version_t *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_s == b->mtime_s &&
           a->mtime_ns == b->mtime_ns && a->ctime_s == b->ctime_s && a->ctime_ns == b->ctime_ns;
}

/* Opens the PIN file after the checks; returns an fd, or -1 with the
 * verdict and its reason in *ps. */
static int open_checked(const char *store, const char *token, hc_pin_state_t *ps,
                        hc_pin_version_t *ver)
{
    memset(ps, 0, sizeof *ps);
    hc_pin_path(store, token, ps->path, sizeof ps->path);
    struct stat st;
    if (lstat(ps->path, &st) != 0) {
        ps->verdict = errno == ENOENT ? HC_PIN_ABSENT : HC_PIN_UNREADABLE;
        snprintf(ps->what, sizeof ps->what, "%s", strerror(errno));
        return -1;
    }
    if (check_stat(token, &st, ps) != HC_PIN_USABLE)
        return -1;
    int fd = open(ps->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        ps->verdict = HC_PIN_UNREADABLE;
        snprintf(ps->what, sizeof ps->what, "%s", strerror(errno));
        return -1;
    }
    /* Check again on the open file: the path may have been swapped. */
    if (fstat(fd, &st) != 0) {
        ps->verdict = HC_PIN_UNREADABLE;
        snprintf(ps->what, sizeof ps->what, "%s", strerror(errno));
    } else if (check_stat(token, &st, ps) == HC_PIN_USABLE &&
               (st.st_size == 0 || st.st_size > HC_PIN_MAX + 2)) {
        ps->verdict = HC_PIN_REFUSED;
        snprintf(ps->what, sizeof ps->what, "holds %lld bytes, and a PIN is 1 to %d bytes",
                 (long long)st.st_size, HC_PIN_MAX);
        snprintf(ps->fix, sizeof ps->fix, "hsmcache pin set %s", token);
    }
    if (ps->verdict != HC_PIN_USABLE) {
        close(fd);
        return -1;
    }
    if (ver)
        version_of(&st, ver);
    return fd;
}

/* The verdict as a CK_RV and a message naming the file and the fix. */
static CK_RV verdict_err(const char *token, const hc_pin_state_t *ps, hc_err_t *err)
{
    switch (ps->verdict) {
    case HC_PIN_USABLE: return CKR_OK;
    case HC_PIN_ABSENT:
        return hc_err(err, CKR_USER_PIN_NOT_INITIALIZED,
                      "no PIN for token %s: %s: %s "
                      "(fix: hsmcache pin set %s)",
                      token, ps->path, ps->what, token);
    case HC_PIN_REFUSED:
        return hc_err(err, CKR_GENERAL_ERROR, "PIN file %s %s; refused (fix: %s)", ps->path,
                      ps->what, ps->fix);
    case HC_PIN_UNREADABLE: break;
    }
    return hc_err(err, CKR_GENERAL_ERROR, "PIN file %s: %s", ps->path, ps->what);
}

void hc_pin_inspect(const char *store, const char *token, hc_pin_state_t *ps)
{
    if (!hc_valid_token_name(token)) {
        memset(ps, 0, sizeof *ps);
        ps->verdict = HC_PIN_REFUSED;
        snprintf(ps->what, sizeof ps->what,
                 "is not looked for: '%s' is not a valid "
                 "token name",
                 token);
        return;
    }
    int fd = open_checked(store, token, ps, NULL);
    if (fd >= 0)
        close(fd);
}

/* open_checked for the readers: an fd, or -1 with rv and err set. */
static int open_pin(const char *store, const char *token, char *path, size_t path_size,
                    hc_pin_version_t *ver, CK_RV *rv, hc_err_t *err)
{
    if (!hc_valid_token_name(token)) {
        *rv = hc_err(err, CKR_ARGUMENTS_BAD, "'%s' is not a valid token name", token);
        return -1;
    }
    hc_pin_state_t ps;
    int fd = open_checked(store, token, &ps, ver);
    snprintf(path, path_size, "%s", ps.path);
    *rv = verdict_err(token, &ps, err);
    return fd;
}

CK_RV hc_pin_check(const char *store, const char *token, hc_pin_version_t *ver, hc_err_t *err)
{
    char path[PATH_MAX];
    CK_RV rv = CKR_OK;
    int fd = open_pin(store, token, path, sizeof path, ver, &rv, err);
    if (fd >= 0)
        close(fd);
    return rv;
}

CK_RV hc_pin_read(const char *store, const char *token, hc_pin_t *pin, hc_pin_version_t *ver,
                  hc_err_t *err)
{
    pin->bytes = NULL;
    pin->len = 0;
    char path[PATH_MAX];
    CK_RV rv = CKR_OK;
    int fd = open_pin(store, token, path, sizeof path, ver, &rv, err);
    if (fd < 0)
        return rv;
    unsigned char buf[HC_PIN_MAX + 3];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rv = hc_err(err, CKR_GENERAL_ERROR, "PIN file %s: %s", path, strerror(errno));
            break;
        }
        if (n == 0 || (len += (size_t)n) == sizeof buf)
            break;
    }
    close(fd);
    /* One trailing newline (an editor's or echo's) is not part of the PIN. */
    if (rv == CKR_OK && len > 0 && buf[len - 1] == '\n')
        len--;
    if (rv == CKR_OK && len > 0 && buf[len - 1] == '\r')
        len--;
    if (rv == CKR_OK && (len == 0 || len > HC_PIN_MAX))
        rv = hc_err(err, CKR_GENERAL_ERROR,
                    "PIN file %s: a PIN is 1 to %d "
                    "bytes (fix: hsmcache pin set %s)",
                    path, HC_PIN_MAX, token);
    if (rv == CKR_OK && !(pin->bytes = malloc(len)))
        rv = hc_err(err, CKR_HOST_MEMORY, "out of memory");
    if (rv == CKR_OK) {
        memcpy(pin->bytes, buf, len);
        pin->len = len;
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return rv;
}

void hc_pin_wipe(hc_pin_t *pin)
{
    if (pin->bytes) {
        OPENSSL_cleanse(pin->bytes, pin->len);
        free(pin->bytes);
    }
    pin->bytes = NULL;
    pin->len = 0;
}

static CK_RV ensure_store_dir(const char *store, hc_err_t *err)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", store);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return hc_err(err, CKR_GENERAL_ERROR, "cannot create %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(store, 0700) != 0 && errno != EEXIST)
        return hc_err(err, CKR_GENERAL_ERROR, "cannot create PIN store %s: %s", store,
                      strerror(errno));
    struct stat st;
    if (lstat(store, &st) != 0 || !S_ISDIR(st.st_mode))
        return hc_err(err, CKR_GENERAL_ERROR, "PIN store %s is not a directory", store);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return hc_err(err, CKR_GENERAL_ERROR,
                      "PIN store %s is writable by "
                      "group or others; refused (fix: chmod 700 %s)",
                      store, store);
    return CKR_OK;
}

static CK_RV write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return CKR_GENERAL_ERROR;
        p += n;
        len -= (size_t)n;
    }
    return CKR_OK;
}

/* Writes `pin` to a temp file in STORE and puts it in place as
 * STORE/token: over any file there (`replace`), or only where none is
 * (link(2), which fails on an existing name: two writers cannot both
 * believe they created it, and a file stored meanwhile is never
 * overwritten); *created says whether it was put in place. */
static CK_RV put(const char *store, const char *token, const unsigned char *pin, size_t len,
                 bool replace, bool *created, hc_err_t *err)
{
    *created = false;
    if (!hc_valid_token_name(token))
        return hc_err(err, CKR_ARGUMENTS_BAD, "'%s' is not a valid token name", token);
    if (len == 0 || len > HC_PIN_MAX)
        return hc_err(err, CKR_PIN_LEN_RANGE, "a PIN is 1 to %d bytes, not %zu", HC_PIN_MAX, len);
    /* A trailing '\r' is stripped when the file is read (an editor's
     * CRLF): such a PIN would never be sent whole. */
    if (memchr(pin, '\n', len) || memchr(pin, '\0', len) || pin[len - 1] == '\r')
        return hc_err(err, CKR_PIN_INVALID,
                      "a PIN may not contain a newline "
                      "or NUL byte, nor end in a carriage return");
    CK_RV rv = ensure_store_dir(store, err);
    if (rv != CKR_OK)
        return rv;
    char tmp[PATH_MAX], path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", store, token);
    snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", store, token);
    mode_t old = umask(077);
    int fd = mkstemp(tmp);
    umask(old);
    if (fd < 0)
        return hc_err(err, CKR_GENERAL_ERROR, "cannot create a file in %s: %s", store,
                      strerror(errno));
    const char *step = NULL;
    if (fchmod(fd, 0600) != 0)
        step = "chmod";
    else if (write_all(fd, pin, len) != CKR_OK)
        step = "write";
    else if (fsync(fd) != 0)
        step = "fsync";
    int saved = errno;
    if (close(fd) != 0 && !step) {
        step = "close";
        saved = errno;
    }
    bool exists = false;
    if (!step && replace && rename(tmp, path) != 0) {
        step = "rename";
        saved = errno;
    } else if (!step && !replace && link(tmp, path) != 0) {
        exists = errno == EEXIST;
        step = exists ? NULL : "link";
        saved = errno;
    }
    if (step || !replace)
        unlink(tmp); /* after link: the stored name remains */
    if (step)
        return hc_err(err, CKR_GENERAL_ERROR,
                      "PIN file %s not written (%s: "
                      "%s); the previous file is unchanged",
                      path, step, strerror(saved));
    if (exists)
        return CKR_OK;
    *created = true;
    int dfd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        saved = errno;
        if (dfd >= 0)
            close(dfd);
        return hc_err(err, CKR_GENERAL_ERROR,
                      "PIN file %s written, but "
                      "syncing %s failed: %s",
                      path, store, strerror(saved));
    }
    close(dfd);
    return CKR_OK;
}

CK_RV hc_pin_write(const char *store, const char *token, const unsigned char *pin, size_t len,
                   hc_err_t *err)
{
    bool created;
    return put(store, token, pin, len, true, &created, err);
}

CK_RV hc_pin_create(const char *store, const char *token, const unsigned char *pin, size_t len,
                    bool *created, hc_err_t *err)
{
    return put(store, token, pin, len, false, created, err);
}

CK_RV hc_pin_not_group(const hc_config_t *cfg, const char *token, const char *cmd, hc_err_t *err)
{
    const hc_token_cfg_t *tc = hc_config_token(cfg, token);
    if (!tc || tc->members.n == 0)
        return CKR_OK;
    char names[HC_GROUP_MAX_MEMBERS * (HC_NAME_MAX + 24)] = "";
    for (size_t i = 0, at = 0; i < tc->members.n && at < sizeof names; i++) {
        int n = snprintf(names + at, sizeof names - at, "%s'hsmcache pin %s %s'", i ? ", " : "",
                         cmd, tc->members.items[i]);
        at += n > 0 ? (size_t)n : 0;
    }
    return hc_err(err, CKR_ARGUMENTS_BAD,
                  "token %s is a token group (%s line "
                  "%d): it has no PIN of its own; each member has its own PIN "
                  "file and rejection mark: %s",
                  token, cfg->path, tc->members_line, names);
}
