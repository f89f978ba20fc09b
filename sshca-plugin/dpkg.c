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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sshca.h"

#define MD5SUMS "/var/lib/dpkg/info/openssh-client.md5sums"
#define STATUS "/var/lib/dpkg/status"

/* The MD5 of everything `fd` holds, in hex. */
static int md5_hex(int fd, char out[33])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    off_t off = 0;
    ssize_t n = 0;
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    while (ok && (n = pread(fd, buf, sizeof buf, off)) > 0) {
        ok = EVP_DigestUpdate(ctx, buf, (size_t)n);
        off += n;
    }
    ok = ok && n == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 16;
    EVP_MD_CTX_free(ctx);
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

/* openssh-client's Version, if dpkg has it installed. */
static int installed_version(char *version, size_t size, char *why, size_t wsize)
{
    FILE *f = open_root(STATUS, why, wsize);
    if (!f)
        return -1;
    char line[4096];
    bool in = false, ok = false;
    version[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0]) {          /* a stanza ends */
            if (in)
                break;
            continue;
        }
        if (!strcmp(line, "Package: openssh-client"))
            in = true;
        else if (in && !strncmp(line, "Status: ", 8))
            ok = !strcmp(line + 8, "install ok installed");
        else if (in && !strncmp(line, "Version: ", 9))
            snprintf(version, size, "%s", line + 9);
    }
    fclose(f);
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
