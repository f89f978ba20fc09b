/* sshkey.c: SPKI -> OpenSSH public key blob, line and fingerprint. */
#include "sshkey.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmcache.h"

struct buf {
    unsigned char *p;
    size_t len, cap;
    bool failed;
};

static void put(struct buf *b, const void *data, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2 + 64;
        unsigned char *g = realloc(b->p, cap);
        if (!g) {
            b->failed = true;
            return;
        }
        b->p = g;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_string(struct buf *b, const void *data, size_t n)
{
    unsigned char len[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                             (unsigned char)(n >> 8), (unsigned char)n };
    put(b, len, 4);
    put(b, data, n);
}

static void put_cstring(struct buf *b, const char *s)
{
    put_string(b, s, strlen(s));
}

/* SSH mpint: big-endian, minimal, a leading zero byte if the top bit is set. */
static void put_mpint(struct buf *b, const BIGNUM *bn)
{
    unsigned char tmp[1100];
    int n = BN_num_bytes(bn);
    if (n < 0 || (size_t)n + 1 > sizeof tmp) {
        b->failed = true;
        return;
    }
    tmp[0] = 0;
    BN_bn2bin(bn, tmp + 1);
    bool pad = n > 0 && (tmp[1] & 0x80);
    put_string(b, pad ? tmp : tmp + 1, (size_t)n + (pad ? 1 : 0));
}

static void put_ec(struct buf *b, const EVP_PKEY *k)
{
    char group[64] = "";
    EVP_PKEY_get_group_name(k, group, sizeof group, NULL);
    const char *curve = !strcmp(group, "prime256v1")  ? "nistp256"
                        : !strcmp(group, "secp384r1") ? "nistp384"
                        : !strcmp(group, "secp521r1") ? "nistp521"
                                                      : NULL;
    unsigned char point[200];
    size_t pl = 0;
    if (!curve ||
        !EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &pl)) {
        b->failed = true;
        return;
    }
    char type[32] = "ecdsa-sha2-";
    strcat(type, curve);
    put_cstring(b, type);
    put_cstring(b, curve);
    put_string(b, point, pl);
}

unsigned char *hc_ssh_blob(const unsigned char *spki, size_t spki_len, size_t *blob_len)
{
    const unsigned char *p = spki;
    EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)spki_len);
    struct buf b = { 0 };
    if (!k)
        return NULL;
    switch (EVP_PKEY_get_base_id(k)) {
    case EVP_PKEY_RSA: {
        BIGNUM *n = NULL, *e = NULL;
        if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n) &&
            EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e)) {
            put_cstring(&b, "ssh-rsa");
            put_mpint(&b, e);
            put_mpint(&b, n);
        } else {
            b.failed = true;
        }
        BN_free(n);
        BN_free(e);
        break;
    }
    case EVP_PKEY_EC: put_ec(&b, k); break;
    case EVP_PKEY_ED25519: {
        unsigned char raw[32];
        size_t rl = sizeof raw;
        if (EVP_PKEY_get_raw_public_key(k, raw, &rl)) {
            put_cstring(&b, "ssh-ed25519");
            put_string(&b, raw, rl);
        } else {
            b.failed = true;
        }
        break;
    }
    default: b.failed = true;
    }
    EVP_PKEY_free(k);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *blob_len = b.len;
    return b.p;
}

static char *base64(const unsigned char *data, size_t len, bool pad)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    if (!pad)
        while (n > 0 && out[n - 1] == '=')
            n--;
    out[n] = '\0';
    return out;
}

char *hc_ssh_pubkey_line(const unsigned char *spki, size_t spki_len, const char *comment)
{
    size_t len;
    unsigned char *blob = hc_ssh_blob(spki, spki_len, &len);
    if (!blob)
        return NULL;
    uint32_t tlen =
        ((uint32_t)blob[0] << 24) | ((uint32_t)blob[1] << 16) | ((uint32_t)blob[2] << 8) | blob[3];
    char *b64 = base64(blob, len, true);
    char *line = NULL;
    if (b64 && tlen + 4 <= len &&
        asprintf(&line, "%.*s %s%s%s", (int)tlen, (const char *)blob + 4, b64, comment ? " " : "",
                 comment ? comment : "") < 0)
        line = NULL;
    free(b64);
    free(blob);
    return line;
}

char *hc_ssh_fingerprint(const unsigned char *blob, size_t len)
{
    unsigned char h[32];
    size_t hl = sizeof h;
    if (hc_digest(CKM_SHA256, blob, len, h, &hl) != CKR_OK)
        return NULL;
    char *b64 = base64(h, sizeof h, false), *out = NULL;
    if (b64 && asprintf(&out, "SHA256:%s", b64) < 0)
        out = NULL;
    free(b64);
    return out;
}
