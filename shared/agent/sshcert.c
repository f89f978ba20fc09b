/*
 * sshcert.c: OpenSSH certificates built by hsmcached (contract in
 * sshcert.h). The format is PROTOCOL.certkeys: the certificate repeats
 * the subject key's fields after a random nonce, so the subject's blob is
 * checked field by field first (a whitelist of types, exact lengths,
 * nothing trailing) and then copied; options are encoded as ssh-keygen's
 * prepare_options_buf() encodes them.
 */
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmcache.h"
#include "sshcert.h"

void agent_bytes_free(agent_bytes_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void put(agent_bytes_t *b, const void *p, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 512) + n;
        unsigned char *grown = realloc(b->p, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->p = grown, b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_u32(agent_bytes_t *b, uint32_t v)
{
    unsigned char x[4] = { v >> 24, v >> 16, v >> 8, v };
    put(b, x, 4);
}

static void put_u64(agent_bytes_t *b, uint64_t v)
{
    put_u32(b, (uint32_t)(v >> 32));
    put_u32(b, (uint32_t)v);
}

static void put_string(agent_bytes_t *b, const void *p, size_t n)
{
    if (n > UINT32_MAX)
        b->failed = 1;
    put_u32(b, (uint32_t)n);
    put(b, p, n);
}

static void put_cstring(agent_bytes_t *b, const char *s)
{
    put_string(b, s, strlen(s));
}

/* An unsigned big-endian integer as an SSH mpint. */
static void put_mpint(agent_bytes_t *b, const unsigned char *p, size_t n)
{
    while (n && !*p)
        p++, n--;
    bool pad = n && (*p & 0x80);
    put_u32(b, (uint32_t)(n + pad));
    if (pad)
        put(b, "", 1);
    put(b, p, n);
}

/* ---- reading a key blob ---- */

typedef struct rd {
    const unsigned char *p;
    size_t len, off;
} rd_t;

static const unsigned char *get_string(rd_t *r, size_t *n)
{
    if (r->len - r->off < 4)
        return NULL;
    const unsigned char *q = r->p + r->off;
    size_t l = (size_t)q[0] << 24 | (size_t)q[1] << 16 | (size_t)q[2] << 8 | q[3];
    if (l > r->len - r->off - 4)
        return NULL;
    r->off += 4 + l;
    *n = l;
    return q + 4;
}

static bool string_is(rd_t *r, const char *want)
{
    size_t n;
    const unsigned char *s = get_string(r, &n);
    return s && n == strlen(want) && memcmp(s, want, n) == 0;
}

/* A positive mpint in minimal form; its size in bits. */
static bool get_mpint(rd_t *r, size_t *bits)
{
    size_t n;
    const unsigned char *s = get_string(r, &n);
    if (!s || n == 0 || (s[0] & 0x80) || (s[0] == 0 && (n == 1 || !(s[1] & 0x80))))
        return false;
    if (s[0] == 0)
        s++, n--;
    size_t b = n * 8;
    for (unsigned char top = s[0]; !(top & 0x80); top <<= 1)
        b--;
    *bits = b;
    return true;
}

static const struct keytype {
    const char *name;
    const char *curve; /* ECDSA */
    size_t point;      /* ECDSA: uncompressed point length */
} keytypes[] = {
    { "ssh-ed25519", NULL, 0 },
    { "ecdsa-sha2-nistp256", "nistp256", 65 },
    { "ecdsa-sha2-nistp384", "nistp384", 97 },
    { "ecdsa-sha2-nistp521", "nistp521", 133 },
    { "ssh-rsa", NULL, 0 },
};

static const struct keytype *keytype(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof keytypes / sizeof keytypes[0]; i++)
        if (strlen(keytypes[i].name) == n && memcmp(keytypes[i].name, name, n) == 0)
            return &keytypes[i];
    return NULL;
}

/* Whether `blob` is a well-formed key of type `t`, exactly. */
static const char *blob_check(const struct keytype *t, const unsigned char *blob, size_t len)
{
    rd_t r = { blob, len, 0 };
    size_t n, bits;
    const unsigned char *s;
    if (!string_is(&r, t->name))
        return "the key's blob names another type than its line";
    if (!strcmp(t->name, "ssh-ed25519")) {
        if (!(s = get_string(&r, &n)) || n != 32)
            return "an Ed25519 key is 32 bytes";
    } else if (t->curve) {
        if (!string_is(&r, t->curve))
            return "the ECDSA key names another curve than its type";
        if (!(s = get_string(&r, &n)) || n != t->point || s[0] != 4)
            return "the ECDSA point is not an uncompressed point of its curve";
    } else {
        if (!get_mpint(&r, &bits) || bits < 2 || bits > 64)
            return "the RSA exponent is not a positive number of at most 64 bits";
        if (!get_mpint(&r, &bits) || bits < 2048 || bits > 16384)
            return "the RSA modulus is not 2048 to 16384 bits";
    }
    return r.off == r.len ? NULL : "bytes after the key's fields";
}

int agent_ssh_pubkey_read(const char *line, size_t len, unsigned char **blob, size_t *blob_len,
                          char *type, size_t tsize, char *why, size_t wsize)
{
    *blob = NULL;
    size_t tl = 0;
    while (tl < len && line[tl] != ' ' && line[tl] != '\0' && line[tl] != '\n')
        tl++;
    const struct keytype *t = keytype(line, tl);
    if (!t || tl >= len || line[tl] != ' ') {
        snprintf(why, wsize,
                 "public key: type '%.*s' is not one of ssh-ed25519, "
                 "ecdsa-sha2-nistp256/384/521, ssh-rsa",
                 (int)(tl > 40 ? 40 : tl), line);
        return -1;
    }
    const char *b64 = line + tl + 1;
    size_t bl = 0, rest = len - tl - 1;
    while (bl < rest && b64[bl] != ' ' && b64[bl] != '\n' && b64[bl] != '\0')
        bl++;
    for (size_t i = bl; i < rest; i++)
        if (b64[i] == '\0' || (b64[i] == '\n' && i != rest - 1)) {
            snprintf(why, wsize, "public key: more than one line");
            return -1;
        }
    size_t pad = bl >= 1 && b64[bl - 1] == '=' ? (bl >= 2 && b64[bl - 2] == '=' ? 2 : 1) : 0;
    bool ok = bl > 0 && bl % 4 == 0 && bl <= 16384;
    for (size_t i = 0; ok && i < bl - pad; i++)
        ok = (b64[i] >= 'A' && b64[i] <= 'Z') || (b64[i] >= 'a' && b64[i] <= 'z') ||
             (b64[i] >= '0' && b64[i] <= '9') || b64[i] == '+' || b64[i] == '/';
    unsigned char *out = ok ? malloc(bl / 4 * 3 + 1) : NULL;
    int n = out ? EVP_DecodeBlock(out, (const unsigned char *)b64, (int)bl) : -1;
    if (n < 0 || (size_t)n < pad) {
        free(out);
        snprintf(why, wsize, "public key: its second field is not base64");
        return -1;
    }
    *blob_len = (size_t)n - pad;
    const char *bad = blob_check(t, out, *blob_len);
    if (bad) {
        free(out);
        snprintf(why, wsize, "public key (%s): %s", t->name, bad);
        return -1;
    }
    snprintf(type, tsize, "%s", t->name);
    *blob = out;
    return 0;
}

/* ---- the certificate ---- */

static void put_options(agent_bytes_t *b, const sshca_request_t *r, bool critical)
{
    agent_bytes_t list = { 0 }, inner = { 0 };
    for (size_t i = 0; i < r->noptions; i++) {
        const sshca_certopt_t *o = &r->options[i];
        if (o->critical != critical)
            continue;
        put_cstring(&list, o->name);
        if (!o->value) {
            put_string(&list, NULL, 0);
        } else {
            inner.len = 0;
            put_cstring(&inner, o->value);
            put_string(&list, inner.p, inner.len);
            list.failed |= inner.failed;
        }
    }
    put_string(b, list.p, list.len);
    b->failed |= list.failed;
    agent_bytes_free(&list);
    agent_bytes_free(&inner);
}

int agent_cert_tbs(const char *type, const unsigned char *blob, size_t blob_len,
                   const sshca_request_t *r, uint64_t serial, const unsigned char nonce[32],
                   const unsigned char *ca_blob, size_t ca_len, agent_bytes_t *out)
{
    char ctype[64];
    snprintf(ctype, sizeof ctype, "%s-cert-v01@openssh.com", type);
    put_cstring(out, ctype);
    put_string(out, nonce, 32);
    /* the key's fields: its blob after its type string */
    size_t skip = 4 + strlen(type);
    if (blob_len < skip)
        return -1;
    put(out, blob + skip, blob_len - skip);
    put_u64(out, serial);
    put_u32(out, r->host ? 2 : 1);
    put_cstring(out, r->key_id ? r->key_id : "");
    agent_bytes_t names = { 0 };
    for (size_t i = 0; i < r->nprincipals; i++)
        put_cstring(&names, r->principals[i]);
    put_string(out, names.p, names.len);
    out->failed |= names.failed;
    agent_bytes_free(&names);
    put_u64(out, r->valid_after);
    put_u64(out, r->valid_before);
    put_options(out, r, true);
    put_options(out, r, false);
    put_string(out, NULL, 0); /* reserved */
    put_string(out, ca_blob, ca_len);
    return out->failed ? -1 : 0;
}

int agent_ca_alg(const unsigned char *ca_blob, size_t ca_len, agent_ca_alg_t *alg)
{
    rd_t r = { ca_blob, ca_len, 0 };
    size_t n;
    const unsigned char *s = get_string(&r, &n);
    const struct keytype *t = s ? keytype((const char *)s, n) : NULL;
    if (!t)
        return -1;
    memset(alg, 0, sizeof *alg);
    alg->ssh_name = t->name;
    if (!strcmp(t->name, "ssh-ed25519")) {
        alg->mechanism = CKM_EDDSA;
    } else if (!strcmp(t->name, "ssh-rsa")) {
        alg->mechanism = CKM_SHA512_RSA_PKCS;
        alg->ssh_name = "rsa-sha2-512";
    } else {
        alg->mechanism = CKM_ECDSA;
        alg->half = (t->point - 1) / 2;
        alg->hash_nid = t->point == 65 ? NID_sha256 : t->point == 97 ? NID_sha384 : NID_sha512;
    }
    return 0;
}

int agent_cert_sign_field(const agent_ca_alg_t *alg, const unsigned char *sig, size_t sig_len,
                          agent_bytes_t *out)
{
    agent_bytes_t s = { 0 }, inner = { 0 };
    put_cstring(&s, alg->ssh_name);
    if (alg->half) {
        if (sig_len != 2 * alg->half)
            return -1;
        put_mpint(&inner, sig, alg->half);
        put_mpint(&inner, sig + alg->half, alg->half);
        put_string(&s, inner.p, inner.len);
    } else {
        put_string(&s, sig, sig_len);
    }
    put_string(out, s.p, s.len);
    out->failed |= s.failed | inner.failed;
    agent_bytes_free(&s);
    agent_bytes_free(&inner);
    return out->failed ? -1 : 0;
}

char *agent_cert_line(const char *type, const agent_bytes_t *cert, const char *comment)
{
    size_t b64 = (cert->len + 2) / 3 * 4;
    size_t size = strlen(type) + 32 + b64 + strlen(comment) + 2;
    char *line = malloc(size);
    if (!line)
        return NULL;
    int n = snprintf(line, size, "%s-cert-v01@openssh.com ", type);
    EVP_EncodeBlock((unsigned char *)line + n, cert->p, (int)cert->len);
    snprintf(line + n + b64, size - n - b64, "%s%s", *comment ? " " : "", comment);
    return line;
}
