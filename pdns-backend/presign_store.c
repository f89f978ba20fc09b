/* presign_store.c: the recorded signing inputs, in LMDB. */
#include "presign_store.h"

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rrsig.h"

#define RECORD_VERSION 1u
#define MAP_MB 1024
#define REFRESH_S 86400 /* last_seen is rewritten at most once a day */

/* Value: a fixed header, then token, id, label and input bytes. */
struct rec_hdr {
    uint32_t version;
    uint32_t msg_len;
    int64_t last_seen;
    uint64_t mech, digest;
    uint16_t token_len, id_len, label_len, pad;
};

struct hc_pstore {
    MDB_env *env;
    MDB_dbi dbi;
};

hc_pstore_t *hc_pstore_open(const char *cache_dir)
{
    char path[PATH_MAX];
    if (mkdir(cache_dir, 0700) != 0 && errno != EEXIST)
        return NULL;
    snprintf(path, sizeof path, "%s/presign.mdb", cache_dir);
    hc_pstore_t *s = calloc(1, sizeof *s);
    MDB_txn *txn = NULL;
    int rc = s ? mdb_env_create(&s->env) : ENOMEM;
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, (size_t)MAP_MB << 20);
    if (rc == 0)
        rc = mdb_env_open(s->env, path, MDB_NOSUBDIR | MDB_NOTLS | MDB_NOSYNC, 0600);
    if (rc == 0)
        rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, NULL, 0, &s->dbi);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
    } else if (txn) {
        mdb_txn_abort(txn);
    }
    if (rc != 0) {
        if (s && s->env)
            mdb_env_close(s->env);
        free(s);
        errno = rc > 0 ? rc : EIO;
        return NULL;
    }
    return s;
}

void hc_pstore_close(hc_pstore_t *s)
{
    if (!s)
        return;
    mdb_env_sync(s->env, 1);
    mdb_env_close(s->env);
    free(s);
}

static void record_key(const hc_presign_input_t *in, unsigned char key[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 32;
    uint64_t m[2] = { in->mech, in->digest };
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(ctx, in->token, strlen(in->token) + 1) ||
        !EVP_DigestUpdate(ctx, in->id, in->idlen) ||
        !EVP_DigestUpdate(ctx, in->label, strlen(in->label) + 1) ||
        !EVP_DigestUpdate(ctx, m, sizeof m) || !EVP_DigestUpdate(ctx, in->msg, in->len) ||
        !EVP_DigestFinal_ex(ctx, key, &n))
        memset(key, 0, 32);
    EVP_MD_CTX_free(ctx);
}

/* Whether the record under `k` was seen within REFRESH_S of `now`. */
static bool fresh_in(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, int64_t now)
{
    MDB_val v;
    struct rec_hdr h;
    if (mdb_get(txn, dbi, k, &v) != 0 || v.mv_size < sizeof h)
        return false;
    memcpy(&h, v.mv_data, sizeof h);
    return h.version == RECORD_VERSION && h.last_seen > now - REFRESH_S;
}

bool hc_pstore_fresh(hc_pstore_t *s, const hc_presign_input_t *in, int64_t now)
{
    unsigned char key[32];
    record_key(in, key);
    MDB_val k = { sizeof key, key };
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return false;
    bool fresh = fresh_in(txn, s->dbi, &k, now);
    mdb_txn_abort(txn);
    return fresh;
}

/* One record's value: header, token, id, label, input (malloc'ed). */
static unsigned char *encode(const hc_presign_input_t *in, int64_t now, size_t *size)
{
    size_t tl = strlen(in->token), ll = strlen(in->label);
    struct rec_hdr h = { RECORD_VERSION, (uint32_t)in->len,   now,          in->mech, in->digest,
                         (uint16_t)tl,   (uint16_t)in->idlen, (uint16_t)ll, 0 };
    *size = sizeof h + tl + in->idlen + ll + in->len;
    unsigned char *buf = malloc(*size), *p = buf;
    if (!buf)
        return NULL;
    memcpy(p, &h, sizeof h);
    p += sizeof h;
    memcpy(p, in->token, tl);
    p += tl;
    memcpy(p, in->id, in->idlen);
    p += in->idlen;
    memcpy(p, in->label, ll);
    p += ll;
    memcpy(p, in->msg, in->len);
    return buf;
}

bool hc_pstore_record(hc_pstore_t *s, const hc_presign_input_t *in, size_t n, int64_t now)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return false;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        unsigned char key[32];
        record_key(&in[i], key);
        MDB_val k = { sizeof key, key };
        if (fresh_in(txn, s->dbi, &k, now))
            continue; /* a repeat within the batch, or another process's */
        size_t size;
        unsigned char *buf = encode(&in[i], now, &size);
        MDB_val v = { size, buf };
        rc = buf ? mdb_put(txn, s->dbi, &k, &v, 0) : ENOMEM;
        free(buf);
    }
    if (rc == 0)
        return mdb_txn_commit(txn) == 0;
    mdb_txn_abort(txn);
    return false;
}

/* Decodes a value; false when it is not a record of this version. */
static bool decode(const MDB_val *v, hc_presign_input_t *in)
{
    struct rec_hdr h;
    if (v->mv_size < sizeof h)
        return false;
    memcpy(&h, v->mv_data, sizeof h);
    if (h.version != RECORD_VERSION || h.token_len >= sizeof in->token ||
        h.id_len > sizeof in->id || h.label_len >= sizeof in->label ||
        v->mv_size != sizeof h + h.token_len + h.id_len + h.label_len + h.msg_len)
        return false;
    const unsigned char *p = (const unsigned char *)v->mv_data + sizeof h;
    memset(in, 0, sizeof *in);
    memcpy(in->token, p, h.token_len);
    p += h.token_len;
    memcpy(in->id, p, h.id_len);
    in->idlen = h.id_len;
    p += h.id_len;
    memcpy(in->label, p, h.label_len);
    p += h.label_len;
    in->mech = h.mech;
    in->digest = h.digest;
    in->last_seen = h.last_seen;
    in->len = h.msg_len;
    in->msg = (unsigned char *)p; /* borrowed until copied */
    return true;
}

size_t hc_pstore_load(hc_pstore_t *s, uint32_t inception, hc_presign_input_t **out)
{
    *out = NULL;
    MDB_txn *txn;
    MDB_cursor *cur;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return 0;
    if (mdb_cursor_open(txn, s->dbi, &cur) != 0) {
        mdb_txn_abort(txn);
        return 0;
    }
    size_t n = 0, cap = 0;
    MDB_val k, v;
    hc_presign_input_t in;
    uint32_t inc, exp;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (!decode(&v, &in) || !hc_rrsig_times(in.msg, in.len, &inc, &exp) || inc != inception)
            continue;
        if (n == cap) {
            size_t c2 = cap ? cap * 2 : 256;
            hc_presign_input_t *g = realloc(*out, c2 * sizeof *g);
            if (!g)
                break;
            *out = g;
            cap = c2;
        }
        unsigned char *copy = malloc(in.len);
        if (!copy)
            break;
        memcpy(copy, in.msg, in.len);
        in.msg = copy;
        (*out)[n++] = in;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return n;
}

void hc_pstore_free_inputs(hc_presign_input_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(in[i].msg);
    free(in);
}

size_t hc_pstore_forget(hc_pstore_t *s, int64_t cutoff)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0)
        return 0;
    if (mdb_cursor_open(txn, s->dbi, &cur) != 0) {
        mdb_txn_abort(txn);
        return 0;
    }
    size_t dropped = 0;
    MDB_val k, v;
    hc_presign_input_t in;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        bool ok = decode(&v, &in);
        if ((!ok || in.last_seen < cutoff) && mdb_cursor_del(cur, 0) == 0)
            dropped++;
    }
    mdb_cursor_close(cur);
    if (mdb_txn_commit(txn) != 0)
        return 0;
    return dropped;
}
