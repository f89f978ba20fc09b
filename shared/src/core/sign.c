/*
 * sign.c: the private-key path. A signature request is answered, in
 * order, by the in-memory cache, the persistent cache (verified with the
 * public key before it is served), or the HSM through a pooled session,
 * sending a locally computed hash instead of the data when the token has
 * the raw mechanism, with the key's session copy where the token allows
 * one (keycopy.h). Every signature a token makes is verified with the
 * key's public key before it is delivered or cached (check_sig; a group's
 * adopted key). Verification runs in libcrypto; encrypt and decrypt go
 * to the token.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "util/err.h"
#include "core/group.h"
#include "core/keycopy.h"
#include "core/swcrypto.h"

struct sign_arg {
    hc_token_t *host;         /* the token the host named (a group) */
    hc_keyent_t *e;           /* its entry: messages, stats, public key */
    const CK_MECHANISM *mech; /* the caller's */
    const unsigned char *data;
    size_t len;
    unsigned char sig[HC_MAX_SIG];
    size_t sig_len;
    bool verified; /* sig checked with e's public key */
};

/* Verifies with the key's parsed public key (the SPKI as a fallback). */
static CK_RV key_verify(const hc_keyent_t *e, const CK_MECHANISM *mech, const unsigned char *data,
                        size_t len, const unsigned char *sig, size_t sig_len)
{
    return e->pkey ? hc_sw_verify_pkey(e->pkey, mech, data, len, sig, sig_len)
                   : hc_sw_verify(e->spki, e->spki_len, mech, data, len, sig, sig_len);
}

/* Every signature is checked with the key's public key before it leaves
 * (a group's: the adopted key, so a member signing with another key pair
 * under the key's handle, or a faulty one, is caught: a wrong RSA-CRT
 * signature even gives the key away). Not checked, and delivered as the
 * token made it: a key no public key was found for, and a mechanism
 * libcrypto does not verify here (hc_sw_verify's CKR_MECHANISM_INVALID,
 * a PSS parameter it cannot read). Only signatures: decryption has no
 * such check. A rejected one is HC_SIGN_MISMATCH (group.h), logged and
 * counted as one of the token's HSM errors. */
static CK_RV check_sig(hc_token_t *t, const hc_session_t *s, CK_OBJECT_HANDLE h, struct sign_arg *a,
                       hc_err_t *err)
{
    pthread_mutex_lock(&a->host->idx_lock); /* written once, under it */
    bool have = a->e->spki != NULL;
    pthread_mutex_unlock(&a->host->idx_lock);
    if (!have)
        return CKR_OK;
    CK_RV v = key_verify(a->e, a->mech, a->data, a->len, a->sig, a->sig_len);
    a->verified = v == CKR_OK;
    /* A token's own key found again after a refused handle (its epoch
     * moved: destroyed and imported again, perhaps as another key pair)
     * signs with the object found now, while its kept public key was read
     * once, maybe from the old one (a host's old reference keeps signing
     * after a rotation, test_core's recreated key): a signature the kept
     * key rejects is checked with the object's public key read now, and
     * delivered if that accepts it (not cached: the cache's key is the
     * kept one). A group's key is checked with its adopted key only. */
    if ((v == CKR_SIGNATURE_INVALID || v == CKR_SIGNATURE_LEN_RANGE) && t == a->host &&
        hc_keyindex_epoch(t, a->e) != 0) {
        EVP_PKEY *now = NULL;
        if (hc_keyindex_public_now(t, s, h, a->e, &now, NULL) == CKR_OK)
            v = hc_sw_verify_pkey(now, a->mech, a->data, a->len, a->sig, a->sig_len);
        EVP_PKEY_free(now);
    }
    if (v != CKR_SIGNATURE_INVALID && v != CKR_SIGNATURE_LEN_RANGE)
        return CKR_OK;
    HC_INC(t->stats->hsm_errors);
    char name[300], whose[96];
    if (t == a->host)
        snprintf(whose, sizeof whose, "the key's public key");
    else
        snprintf(whose, sizeof whose, "token group %s's public key", a->host->cfg->name);
    hc_err_t e;
    hc_err(&e, HC_SIGN_MISMATCH,
           "token %s: C_Sign with key %s answered a "
           "signature that does not verify with %s (a faulty device, or another "
           "key pair under the key's handle); not delivered",
           t->cfg->name, hc_keyent_name(a->e, name, sizeof name), whose);
    hc_log(&t->core->log, HC_LOG_ERROR, "%s", e.msg);
    if (err)
        *err = e;
    return HC_SIGN_MISMATCH;
}

/* `t` is the token that signs: a group's member (group.h) may have other
 * raw mechanisms than another member, so the offload is chosen here. */
static CK_RV sign_op(hc_token_t *t, const hc_session_t *s, CK_OBJECT_HANDLE h, void *arg,
                     hc_err_t *err)
{
    struct sign_arg *a = arg;
    /* Hash here and send only the hash or DigestInfo when the token can. */
    unsigned char prepared[128];
    size_t prepared_len;
    CK_MECHANISM raw;
    const CK_MECHANISM *mech = a->mech;
    const unsigned char *data = a->data;
    size_t len = a->len;
    bool rsa, pss, ecdsa;
    hc_token_raw_mechs(t, &rsa, &pss, &ecdsa);
    if (hc_offload(a->mech, rsa, pss, ecdsa, a->data, a->len, &raw, prepared, &prepared_len)) {
        mech = &raw;
        data = prepared;
        len = prepared_len;
    }
    uint64_t start = hc_now_us();
    CK_RV rv = hc_p11_sign_init(&t->p11, s->h, mech, h, err);
    if (rv == CKR_OK) {
        CK_ULONG n = sizeof a->sig;
        rv = hc_p11_sign(&t->p11, s->h, data, len, a->sig, &n, err);
        a->sig_len = n;
        if (rv == HC_SIGN_MISMATCH) /* a module's own: not our verdict */
            rv = CKR_GENERAL_ERROR;
        HC_INC(t->stats->hsm_signs);
        hc_key_stats_t *ks = __atomic_load_n(&a->e->stats, __ATOMIC_RELAXED);
        if (ks)
            HC_INC(ks->hsm_signs);
        hc_stats_latency(t->stats, hc_now_us() - start);
    }
    char name[300];
    if (rv != CKR_OK)
        return hc_err_append(err, rv, " (key %s)", hc_keyent_name(a->e, name, sizeof name));
    /* sign_op, the caller's operation, runs again after a lost session:
     * a verdict is the last signature's. */
    return check_sig(t, s, h, a, err);
}

static CK_RV deliver(const unsigned char *sig, size_t len, unsigned char *out, size_t *out_len,
                     hc_err_t *err)
{
    if (out && *out_len < len) {
        *out_len = len;
        return hc_err(err, CKR_BUFFER_TOO_SMALL, "signature needs %zu bytes", len);
    }
    if (out)
        memcpy(out, sig, len);
    *out_len = len;
    return CKR_OK;
}

/* A cache answer proven ours (memory, a tagged disk entry, or an older
 * untagged one verified with the public key and tagged now), or false. */
static bool from_cache(hc_core_t *c, hc_token_t *t, hc_keyent_t *e, const unsigned char *key,
                       const CK_MECHANISM *mech, const unsigned char *data, size_t len,
                       unsigned char *sig, size_t *sig_len)
{
    if (hc_sigcache_get_mem(c->cache, key, sig, sig_len)) {
        HC_INC(t->stats->cache_hits_mem);
        return true;
    }
    int64_t expires = 0;
    char name[300];
    switch (hc_sigcache_get_disk(c->cache, key, sig, sig_len, &expires)) {
    case HC_DISK_MISS: return false;
    case HC_DISK_REJECTED:
        HC_INC(t->stats->cache_rejected);
        hc_log(&c->log, HC_LOG_WARN,
               "token %s: a cached signature for key %s "
               "failed its integrity tag (altered, cut short, or written with "
               "another signatures.key); dropped it and signing anew",
               t->cfg->name, hc_keyent_name(e, name, sizeof name));
        return false;
    case HC_DISK_LEGACY:
        if (key_verify(e, mech, data, len, sig, *sig_len) != CKR_OK) {
            hc_log(&c->log, HC_LOG_WARN,
                   "token %s: a cached signature for key "
                   "%s does not verify; dropped it and signing anew",
                   t->cfg->name, hc_keyent_name(e, name, sizeof name));
            hc_sigcache_del_disk(c->cache, key);
            return false;
        }
        hc_sigcache_put_disk(c->cache, key, sig, *sig_len, expires);
        break;
    case HC_DISK_HIT: break;
    }
    hc_sigcache_put_mem(c->cache, key, sig, *sig_len);
    HC_INC(t->stats->cache_hits_disk);
    return true;
}

CK_RV hc_core_sign(void *impl, hc_obj_t obj, const CK_MECHANISM *mech, const unsigned char *data,
                   size_t len, hc_sign_opts_t *opts, unsigned char *sig, size_t *sig_len,
                   hc_err_t *err)
{
    hc_core_t *c = impl;
    hc_token_t *t;
    CK_RV rv;
    hc_keyent_t *e = hc_key_lookup(c, obj, &t, &rv, err);
    if (!e)
        return rv;
    HC_INC(t->stats->sign_requests);
    /* Set once, by whichever thread signs with the key first. */
    if (!__atomic_load_n(&e->stats, __ATOMIC_RELAXED)) {
        char name[300];
        hc_key_stats_t *ks = hc_stats_key(
            &c->stats, t->cfg->name, e->labellen ? e->label : hc_keyent_name(e, name, sizeof name));
        __atomic_store_n(&e->stats, ks, __ATOMIC_RELAXED);
    }
    hc_key_stats_t *ks = __atomic_load_n(&e->stats, __ATOMIC_RELAXED);
    if (ks)
        HC_INC(ks->sign_requests);

    /* The cache is used only for mechanisms we can verify in software, so
     * that a disk entry can always be checked before it is served. */
    unsigned char key[HC_CACHE_KEY_LEN];
    /* Read once per key: the check of every signature (check_sig) needs
     * it too. */
    bool cacheable = hc_keyindex_public(t, e, NULL) == CKR_OK && c->cache;
    if (cacheable) {
        unsigned char probe[HC_MAX_SIG];
        size_t n = sizeof probe;
        hc_sigcache_key(e->spki_hash, mech, data, len, key);
        if (from_cache(c, t, e, key, mech, data, len, probe, &n)) {
            if (ks)
                HC_INC(ks->cache_hits);
            opts->from_cache = true;
            return deliver(probe, n, sig, sig_len, err);
        }
    }
    HC_INC(t->stats->cache_misses); /* counts every request the HSM serves */
    struct sign_arg *a = calloc(1, sizeof *a);
    if (!a)
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    a->host = t;
    a->e = e;
    a->mech = mech;
    a->data = data;
    a->len = len;
    opts->from_cache = false;
    rv = hc_key_run_signing(t, e, !opts->background, sign_op, a, err);
    if (rv == HC_SIGN_MISMATCH) /* a token of its own: its device failed */
        rv = hc_err_append(err, CKR_DEVICE_ERROR, "%s", "");
    if (rv == CKR_OK && cacheable && a->verified) {
        hc_sigcache_put_mem(c->cache, key, a->sig, a->sig_len);
        hc_sigcache_put_disk(c->cache, key, a->sig, a->sig_len, opts->expires);
    }
    if (rv == CKR_OK)
        rv = deliver(a->sig, a->sig_len, sig, sig_len, err);
    free(a);
    return rv;
}

CK_RV hc_core_cache_purge(void *impl, size_t *dropped, hc_err_t *err)
{
    (void)err;
    hc_core_t *c = impl;
    *dropped = c->cache ? hc_sigcache_purge(c->cache, (int64_t)time(NULL)) : 0;
    return CKR_OK;
}

struct token_verify_arg {
    const CK_MECHANISM *mech;
    const unsigned char *data, *sig;
    size_t len, sig_len;
};

static CK_RV token_verify_op(hc_token_t *t, const hc_session_t *s, CK_OBJECT_HANDLE h, void *arg,
                             hc_err_t *err)
{
    struct token_verify_arg *a = arg;
    CK_RV rv;
    if ((rv = hc_p11_verify_init(&t->p11, s->h, a->mech, h, err)) != CKR_OK)
        return rv;
    return hc_p11_verify(&t->p11, s->h, a->data, a->len, a->sig, a->sig_len, err);
}

CK_RV hc_core_verify(void *impl, hc_obj_t obj, const CK_MECHANISM *mech, const unsigned char *data,
                     size_t len, const unsigned char *sig, size_t sig_len, hc_err_t *err)
{
    hc_token_t *t;
    CK_RV rv;
    hc_keyent_t *e = hc_key_lookup(impl, obj, &t, &rv, err);
    if (!e)
        return rv;
    if (hc_keyindex_public(t, e, NULL) == CKR_OK) {
        rv = key_verify(e, mech, data, len, sig, sig_len);
        if (rv != CKR_MECHANISM_INVALID)
            return rv;
    }
    /* A mechanism libcrypto does not do here: ask the token. */
    struct token_verify_arg a = { mech, data, sig, len, sig_len };
    return hc_key_run(t, e, true, false, token_verify_op, &a, err);
}

struct crypt_arg {
    bool encrypt;
    const CK_MECHANISM *mech;
    const unsigned char *in;
    size_t in_len;
    unsigned char *out;
    CK_ULONG out_len;
};

static CK_RV crypt_op(hc_token_t *t, const hc_session_t *s, CK_OBJECT_HANDLE h, void *arg,
                      hc_err_t *err)
{
    struct crypt_arg *a = arg;
    CK_RV rv = hc_p11_crypt_init(&t->p11, a->encrypt, s->h, a->mech, h, err);
    if (rv != CKR_OK)
        return rv;
    return hc_p11_crypt(&t->p11, a->encrypt, s->h, a->in, a->in_len, a->out, &a->out_len, err);
}

CK_RV hc_core_crypt(void *impl, bool encrypt, hc_obj_t obj, const CK_MECHANISM *mech,
                    const unsigned char *in, size_t in_len, unsigned char *out, size_t *out_len,
                    hc_err_t *err)
{
    hc_token_t *t;
    CK_RV rv;
    hc_keyent_t *e = hc_key_lookup(impl, obj, &t, &rv, err);
    if (!e)
        return rv;
    /* Always into our own buffer: a token's size query and the real call
     * would otherwise need one session across two pool runs. */
    unsigned char buf[HC_MAX_SIG + 64];
    struct crypt_arg a = { encrypt, mech, in, in_len, buf, sizeof buf };
    rv = hc_key_run(t, e, true, !encrypt, crypt_op, &a, err);
    if (rv != CKR_OK)
        return rv;
    if (out && *out_len < a.out_len) {
        *out_len = a.out_len;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (out)
        memcpy(out, buf, a.out_len);
    *out_len = a.out_len;
    OPENSSL_cleanse(buf, sizeof buf);
    return CKR_OK;
}
