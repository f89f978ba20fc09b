/* dpkg.c: which OpenSSH release the running /usr/bin/ssh-keygen is.
 *
 * ssh-keygen prints no version and its binary holds no version string
 * (unlike ssh's "OpenSSH_9.2p1 Debian-..."). So the release comes from
 * dpkg's database, tied to the very bytes running: the binary's MD5 must
 * be the one openssh-client's md5sums lists for usr/bin/ssh-keygen, and
 * that package must be installed; its Version, without epoch and Debian
 * revision ("1:9.2p1-2+deb12u10" -> "9.2p1"), is the release. A binary
 * put there by hand, or one dpkg did not record, has no release and is
 * refused. Both database files must be root's (sshca_root_only).
 *
 * The memo. Hashing the 660 KB binary is most of the module's own cost
 * in a one-certificate ssh-keygen run (6.3 M of 7.3 M instructions, the
 * whole run 48 M). A run as root that has checked everything writes what
 * it found to MEMO: the binary's identity (device, inode, size, mtime
 * and ctime to the nanosecond), the MD5 md5sums listed, the status file's
 * identity, the release. A later run, any user's, takes the release from
 * it when all of that is still so: the binary is the very file that was
 * hashed and has not been written since (a write changes its mtime and
 * ctime, which only root can set back, and a file put in its place is
 * another inode), md5sums still lists that MD5 (read every run: it is
 * 2.5 KB), and the status file has not been touched (dpkg replaces it on
 * every change, a new inode). So the memo proves what the hash proves,
 * against anyone but root, whom the check trusts anyway (the binary and
 * both database files are root's alone). The memo is believed only when
 * it and every directory above it are root's alone, as the files it
 * stands for; a run as another user never writes it, only pays for the
 * whole check until root's next run. Anything else (missing, stale, a
 * byte off) is the whole check, never a refusal. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sshca.h"

#define MD5SUMS "/var/lib/dpkg/info/openssh-client.md5sums"
#define STATUS "/var/lib/dpkg/status"

/* Files are mapped, not read: the status file is about a megabyte, read
 * in every ssh-keygen run; read line by line through stdio it cost 220
 * read() calls and 4.9 M instructions, and read whole into a buffer 220
 * page faults (the rest of the module adds 150 to a run). A mapping
 * shares the page cache. The files are root's (open_root; the running binary cannot
 * be written at all), and dpkg replaces its status file by rename, never
 * in place, so no mapped page goes away under the reader. */
#define MAP_MAX (256u << 20) /* larger is not a dpkg file or ssh-keygen */

/* All of `fd`, mapped read-only (*len bytes); NULL when empty, larger
 * than MAP_MAX or unmappable. */
static const char *map_whole(int fd, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0 || (uintmax_t)st.st_size > MAP_MAX)
        return NULL;
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        return NULL;
    *len = (size_t)st.st_size;
    return p;
}

/* The MD5 of everything `fd` holds, in hex. */
static int md5_hex(int fd, char out[33])
{
    size_t len = 0;
    const char *data = map_whole(fd, &len);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    bool ok = data && EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) && mdlen == 16;
    if (data)
        munmap((void *)data, len);
    for (unsigned i = 0; ok && i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return ok ? 0 : -1;
}

static FILE *open_root(const char *path, struct stat *st, char *why, size_t wsize)
{
    FILE *f = fopen(path, "re");
    if (!f || fstat(fileno(f), st) != 0 || !S_ISREG(st->st_mode) || !sshca_root_only(st)) {
        snprintf(why, wsize, "%s is missing, or not a file only root can write", path);
        if (f)
            fclose(f);
        return NULL;
    }
    return f;
}

/* The MD5 openssh-client's md5sums lists for usr/bin/ssh-keygen. */
static int listed_md5(char listed[33], char *why, size_t wsize)
{
    struct stat st;
    FILE *f = open_root(MD5SUMS, &st, why, wsize);
    if (!f)
        return -1;
    char line[512];
    int rc = -1;
    snprintf(why, wsize, MD5SUMS " lists no usr/bin/ssh-keygen");
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strlen(line) != 32 + 2 + 18 || strcmp(line + 32, "  usr/bin/ssh-keygen") != 0 ||
            strspn(line, "0123456789abcdef") != 32)
            continue;
        memcpy(listed, line, 32);
        listed[32] = '\0';
        rc = 0;
        break;
    }
    fclose(f);
    return rc;
}

/* The line [p, eol) starts with `prefix`. */
static bool starts(const char *p, const char *eol, const char *prefix)
{
    size_t n = strlen(prefix);
    return (size_t)(eol - p) >= n && memcmp(p, prefix, n) == 0;
}

/* The line at `p` (up to '\n' or `end`) is `want`. */
static bool line_is(const char *p, const char *end, const char *want)
{
    size_t n = strlen(want);
    return starts(p, end, want) && (p + n == end || p[n] == '\n');
}

/* openssh-client's Version, if dpkg has it installed: the first line
 * "Package: openssh-client", and its stanza's Status and Version lines up
 * to the empty line that ends it (the last of each counts). `f`: the
 * status file, closed here. */
static int installed_version(FILE *f, char *version, size_t size, char *why, size_t wsize)
{
    static const char pkg[] = "Package: openssh-client";
    size_t len = 0;
    const char *text = map_whole(fileno(f), &len);
    fclose(f); /* the mapping stays */
    if (!text) {
        snprintf(why, wsize, STATUS " is empty or cannot be read");
        return -1;
    }
    const char *end = text + len, *p = text;
    bool ok = false;
    version[0] = '\0';
    while (p && !line_is(p, end, pkg)) { /* p: a line's start */
        p = memmem(p, (size_t)(end - p),
                   "\n"
                   "Package: openssh-client",
                   sizeof pkg);
        p = p ? p + 1 : NULL;
    }
    bool in = p != NULL;
    while (p && p < end && *p != '\n') { /* the stanza, to its empty line */
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        eol = eol ? eol : end;
        if (starts(p, eol, "Status: "))
            ok = line_is(p, eol, "Status: install ok installed");
        else if (starts(p, eol, "Version: "))
            snprintf(version, size, "%.*s", (int)(eol - p - 9), p + 9);
        p = eol < end ? eol + 1 : end;
    }
    munmap((void *)text, len);
    if (!in || !ok || !version[0]) {
        snprintf(why, wsize, STATUS " has no installed openssh-client with a Version");
        return -1;
    }
    return 0;
}

#define MEMO_DIR "/var/cache/hsmcache-sshca"
#define MEMO MEMO_DIR "/ssh-keygen.release"
#define MEMO_MAX 512 /* bytes: the key below and a release */
#define RELEASE_CHARS "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.+~"

/* "device inode size mtime ctime", the times to the nanosecond. */
static int identity(const struct stat *st, char *out, size_t size)
{
    return snprintf(out, size, "%ju %ju %jd %jd.%09ld %jd.%09ld", (uintmax_t)st->st_dev,
                    (uintmax_t)st->st_ino, (intmax_t)st->st_size, (intmax_t)st->st_mtim.tv_sec,
                    st->st_mtim.tv_nsec, (intmax_t)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

/* The memo's text up to the release: everything a whole check read. */
static int memo_key(const struct stat *exe, const char *listed, const struct stat *status,
                    char *key, size_t size)
{
    char e[160], s[160];
    identity(exe, e, sizeof e);
    identity(status, s, sizeof s);
    int n = snprintf(key, size,
                     "hsmcache-sshca release memo 1\nexe %s\nmd5 %s\nstatus %s\n"
                     "release ",
                     e, listed, s);
    return n > 0 && (size_t)n < size ? n : -1;
}

/* The release MEMO holds for `key`, if it holds one and only root could
 * have written it. */
static bool memo_get(const char *key, size_t klen, char *release, size_t size)
{
    char buf[MEMO_MAX + 1], why[200];
    struct stat st;
    int fd = open(MEMO, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return false;
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && sshca_root_only(&st) && st.st_size > 0 &&
        st.st_size <= MEMO_MAX)
        n = read(fd, buf, sizeof buf);
    close(fd);
    if (n <= 0 || n != st.st_size || (size_t)n <= klen + 1 || memcmp(buf, key, klen) != 0 ||
        buf[n - 1] != '\n' || sshca_root_dirs(MEMO, why, sizeof why) != 0)
        return false;
    size_t rlen = (size_t)n - 1 - klen;
    if (rlen >= size || strspn(buf + klen, RELEASE_CHARS) != rlen)
        return false;
    memcpy(release, buf + klen, rlen);
    release[rlen] = '\0';
    return true;
}

/* As root: `key` and `release` into MEMO (a new file renamed over it).
 * Quiet: without a memo the next run checks everything again. */
static void memo_put(const char *key, const char *release)
{
    char tmp[] = MEMO_DIR "/.release.XXXXXX", why[200];
    if (geteuid() != 0)
        return;
    if (mkdir(MEMO_DIR, 0755) != 0 && errno != EEXIST)
        return;
    if (sshca_root_dirs(MEMO, why, sizeof why) != 0)
        return;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return;
    FILE *f = fdopen(fd, "w");
    bool ok = f && fchmod(fd, 0644) == 0 && fprintf(f, "%s%s\n", key, release) > 0;
    ok = (f ? fclose(f) == 0 : close(fd) == 0) && ok;
    if (!ok || rename(tmp, MEMO) != 0)
        unlink(tmp);
}

int sshca_dpkg_release(int exe_fd, char *release, size_t size, char *why, size_t wsize)
{
    char listed[33], md5[33], version[128], key[MEMO_MAX];
    struct stat exe, status;
    if (fstat(exe_fd, &exe) != 0) {
        snprintf(why, wsize, "cannot read the running binary");
        return -1;
    }
    if (listed_md5(listed, why, wsize) != 0)
        return -1;
    FILE *f = open_root(STATUS, &status, why, wsize);
    if (!f)
        return -1;
    int klen = memo_key(&exe, listed, &status, key, sizeof key);
    if (klen > 0 && memo_get(key, (size_t)klen, release, size)) {
        fclose(f);
        return 0;
    }
    if (md5_hex(exe_fd, md5) != 0) {
        fclose(f);
        snprintf(why, wsize, "cannot read the running binary");
        return -1;
    }
    if (strcmp(md5, listed) != 0) {
        fclose(f);
        snprintf(why, wsize,
                 "/usr/bin/ssh-keygen (MD5 %s) is not the file the "
                 "openssh-client package installed (MD5 %s in " MD5SUMS ")",
                 md5, listed);
        return -1;
    }
    if (installed_version(f, version, sizeof version, why, wsize) != 0)
        return -1;
    const char *up = strchr(version, ':') ? strchr(version, ':') + 1 : version;
    const char *rev = strrchr(up, '-');
    snprintf(release, size, "%.*s", (int)(rev ? (size_t)(rev - up) : strlen(up)), up);
    if (klen > 0 && release[0] && strspn(release, RELEASE_CHARS) == strlen(release))
        memo_put(key, release);
    return 0;
}
