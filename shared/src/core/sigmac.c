/* sigmac.c: the local store's secret file and its HMAC-SHA256 tags. */
#include "core/sigmac.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct hc_sigmac {
    pthread_mutex_t lock;
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx; /* keyed once; re-initialized per tag, same key */
};

/* Creates the secret file whole, or leaves the one a racing process made. */
static void create_secret(const char *path, const hc_logger_t *log)
{
    unsigned char secret[HC_SIGMAC_SECRET_LEN];
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.new-%ld", path, (long)getpid());
    if (RAND_priv_bytes(secret, sizeof secret) != 1) {
        hc_log(log, HC_LOG_WARN, "signature cache: no random bytes for %s", path);
        return;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    bool ok =
        fd >= 0 && write(fd, secret, sizeof secret) == (ssize_t)sizeof secret && fsync(fd) == 0;
    OPENSSL_cleanse(secret, sizeof secret);
    if (fd >= 0)
        close(fd);
    /* link, not rename: a secret another process created first stays. */
    if (ok && link(tmp, path) != 0 && errno != EEXIST)
        ok = false;
    if (!ok)
        hc_log(log, HC_LOG_WARN, "signature cache: cannot create %s: %s", path, strerror(errno));
    unlink(tmp);
}

/* Reads the secret after checking the file is ours alone; false logged. */
static bool read_secret(const char *path, unsigned char *secret, const hc_logger_t *log)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        create_secret(path, log);
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
        hc_log(log, HC_LOG_WARN,
               "signature cache: cannot open %s: %s%s; "
               "running memory-only",
               path, strerror(errno), errno == ELOOP ? " (a symlink; remove it)" : "");
        return false;
    }
    struct stat st;
    const char *wrong = NULL;
    if (fstat(fd, &st) != 0)
        wrong = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        wrong = "not a regular file";
    else if (st.st_uid != geteuid())
        wrong = "owned by another user (chown it to this service's user)";
    else if (st.st_mode & 077)
        wrong = "readable or writable by group or others (chmod 600 it)";
    else if (st.st_size != HC_SIGMAC_SECRET_LEN)
        wrong = "not 32 bytes long (remove it: a new one is made, and the "
                "cached signatures are signed again)";
    else if (read(fd, secret, HC_SIGMAC_SECRET_LEN) != HC_SIGMAC_SECRET_LEN)
        wrong = "short read";
    close(fd);
    if (wrong) {
        hc_log(log, HC_LOG_WARN,
               "signature cache: refusing secret %s: %s; "
               "running memory-only",
               path, wrong);
        OPENSSL_cleanse(secret, HC_SIGMAC_SECRET_LEN);
    }
    return !wrong;
}

hc_sigmac_t *hc_sigmac_open(const char *dir, const hc_logger_t *log)
{
    char path[PATH_MAX];
    unsigned char secret[HC_SIGMAC_SECRET_LEN];
    if ((size_t)snprintf(path, sizeof path, "%s/signatures.key", dir) >= sizeof path ||
        !read_secret(path, secret, log))
        return NULL;
    hc_sigmac_t *m = calloc(1, sizeof *m);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (m && (m->mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) && (m->ctx = EVP_MAC_CTX_new(m->mac)) &&
        EVP_MAC_init(m->ctx, secret, sizeof secret, params)) {
        OPENSSL_cleanse(secret, sizeof secret);
        pthread_mutex_init(&m->lock, NULL);
        return m;
    }
    OPENSSL_cleanse(secret, sizeof secret);
    hc_log(log, HC_LOG_WARN,
           "signature cache: HMAC-SHA256 unavailable; "
           "running memory-only");
    if (m) {
        EVP_MAC_CTX_free(m->ctx);
        EVP_MAC_free(m->mac);
        free(m);
    }
    return NULL;
}

void hc_sigmac_free(hc_sigmac_t *m)
{
    if (!m)
        return;
    EVP_MAC_CTX_free(m->ctx); /* OpenSSL cleanses the key it holds */
    EVP_MAC_free(m->mac);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

bool hc_sigmac_tag(hc_sigmac_t *m, uint32_t version, const unsigned char *key, size_t key_len,
                   int64_t expires, const unsigned char *sig, size_t sig_len,
                   unsigned char tag[HC_SIGMAC_LEN])
{
    unsigned char full[32];
    size_t n = 0;
    /* Fixed-size fields first, so the signature's length is implied. */
    uint64_t v = version, e = (uint64_t)expires;
    pthread_mutex_lock(&m->lock);
    bool ok = EVP_MAC_init(m->ctx, NULL, 0, NULL) &&
              EVP_MAC_update(m->ctx, (const unsigned char *)&v, sizeof v) &&
              EVP_MAC_update(m->ctx, key, key_len) &&
              EVP_MAC_update(m->ctx, (const unsigned char *)&e, sizeof e) &&
              EVP_MAC_update(m->ctx, sig, sig_len) &&
              EVP_MAC_final(m->ctx, full, &n, sizeof full) && n == sizeof full;
    pthread_mutex_unlock(&m->lock);
    if (ok)
        memcpy(tag, full, HC_SIGMAC_LEN);
    return ok;
}

bool hc_sigmac_check(hc_sigmac_t *m, uint32_t version, const unsigned char *key, size_t key_len,
                     int64_t expires, const unsigned char *sig, size_t sig_len,
                     const unsigned char tag[HC_SIGMAC_LEN])
{
    unsigned char want[HC_SIGMAC_LEN];
    return hc_sigmac_tag(m, version, key, key_len, expires, sig, sig_len, want) &&
           CRYPTO_memcmp(want, tag, HC_SIGMAC_LEN) == 0;
}
