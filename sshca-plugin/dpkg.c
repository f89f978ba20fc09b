/* dpkg.c: which OpenSSH release the running /usr/bin/ssh-keygen is.
 *
 * ssh-keygen prints no version and its binary holds no version string
 * (unlike ssh's "OpenSSH_9.2p1 Debian-..."). So the release comes from
 * dpkg's database, tied to the very bytes running: the binary's MD5 must
 * be the one openssh-client's md5sums lists for usr/bin/ssh-keygen, and
 * that package must be installed; its Version, without epoch and Debian
 * revision ("1:9.2p1-2+deb12u10" -> "9.2p1"), is the release. A binary
 * put there by hand, or one dpkg did not record, has no release and is
 * refused. Both database files must be root's (sshca_root_only). */
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

static FILE *open_root(const char *path, char *why, size_t wsize)
{
    FILE *f = fopen(path, "re");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || !sshca_root_only(&st)) {
        snprintf(why, wsize, "%s is missing, or not a file only root can write", path);
        if (f)
            fclose(f);
        return NULL;
    }
    return f;
}

/* openssh-client's recorded MD5 of usr/bin/ssh-keygen equals `md5`. */
static int recorded(const char *md5, char *why, size_t wsize)
{
    FILE *f = open_root(MD5SUMS, why, wsize);
    if (!f)
        return -1;
    char line[512];
    int rc = -1;
    snprintf(why, wsize, MD5SUMS " lists no usr/bin/ssh-keygen");
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strlen(line) != 32 + 2 + 18 || strcmp(line + 32, "  usr/bin/ssh-keygen") != 0)
            continue;
        if (strncmp(line, md5, 32) == 0)
            rc = 0;
        else
            snprintf(why, wsize, "/usr/bin/ssh-keygen (MD5 %s) is not the file the "
                     "openssh-client package installed (MD5 %.32s in " MD5SUMS ")",
                     md5, line);
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
 * to the empty line that ends it (the last of each counts). */
static int installed_version(char *version, size_t size, char *why, size_t wsize)
{
    static const char pkg[] = "Package: openssh-client";
    FILE *f = open_root(STATUS, why, wsize);
    if (!f)
        return -1;
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
        p = memmem(p, (size_t)(end - p), "\n" "Package: openssh-client", sizeof pkg);
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

int sshca_dpkg_release(int exe_fd, char *release, size_t size, char *why, size_t wsize)
{
    char md5[33], version[128];
    if (md5_hex(exe_fd, md5) != 0) {
        snprintf(why, wsize, "cannot read the running binary");
        return -1;
    }
    if (recorded(md5, why, wsize) != 0 || installed_version(version, sizeof version, why, wsize) != 0)
        return -1;
    const char *up = strchr(version, ':') ? strchr(version, ':') + 1 : version;
    const char *rev = strrchr(up, '-');
    snprintf(release, size, "%.*s", (int)(rev ? (size_t)(rev - up) : strlen(up)), up);
    return 0;
}
