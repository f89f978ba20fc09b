/* profile_sshca.c: the SSH CA front (build/hsmcache-sshca.so): visible
 * keys, policy and audit around every signature. See sshca.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../shared/front/front.h"
#include "sshca.h"
#include "sshkey.h"

static void add_visible(sshca_state_t *st, hc_obj_t obj)
{
    for (size_t i = 0; i < st->nvisible; i++)
        if (st->visible[i] == obj)
            return;
    hc_obj_t *g = realloc(st->visible, (st->nvisible + 1) * sizeof *g);
    if (g) {
        st->visible = g;
        st->visible[st->nvisible++] = obj;
    }
}

static char *ca_fingerprint(hc_ctx_t *ctx, hc_obj_t obj)
{
    unsigned char *spki, *blob;
    size_t len, blen;
    if (hc_public_key(ctx, obj, &spki, &len, NULL) != CKR_OK)
        return NULL;
    blob = hc_ssh_blob(spki, len, &blen);
    free(spki);
    char *fp = blob ? hc_ssh_fingerprint(blob, blen) : NULL;
    free(blob);
    return fp;
}

/* The objects `uri` names, and every object sharing their CKA_ID (the
 * other half of each pair), become visible; private keys become CA keys. */
static void admit(sshca_state_t *st, hc_ctx_t *ctx, const char *uri)
{
    hc_obj_t *objs;
    size_t n;
    hc_err_t err = { 0 };
    if (hc_find_uri(ctx, uri, &objs, &n, &err) != CKR_OK || n == 0) {
        hc_ctx_log(ctx, HC_LOG_ERROR, "[sshca] keys: %s: %s", uri,
                   n == 0 && !err.msg[0] ? "matches no key" : err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char id[128];
        CK_OBJECT_CLASS cls = 0;
        CK_ATTRIBUTE a[] = { { CKA_ID, id, sizeof id }, { CKA_CLASS, &cls, sizeof cls } };
        if (hc_get_attrs(ctx, objs[i], a, 2, NULL) != CKR_OK)
            continue;
        add_visible(st, objs[i]);
        if (cls == CKO_PRIVATE_KEY) {
            sshca_key_t *g = realloc(st->keys, (st->nkeys + 1) * sizeof *g);
            if (g) {
                st->keys = g;
                st->keys[st->nkeys++] = (sshca_key_t){ objs[i], uri, ca_fingerprint(ctx, objs[i]) };
            }
        }
        hc_obj_t *pair;
        size_t np;
        if (a[0].ulValueLen && a[0].ulValueLen != CK_UNAVAILABLE_INFORMATION &&
            hc_find(ctx, hc_obj_token(objs[i]), a, 1, &pair, &np, NULL) == CKR_OK) {
            for (size_t k = 0; k < np; k++)
                add_visible(st, pair[k]);
            free(pair);
        }
    }
    free(objs);
}

/* The [sshca] rules from the context's section (borrowed from it). */
static CK_RV ctx_flag(const void *ctx, const char *key, bool *out, hc_err_t *err)
{
    return hc_setting_bool(ctx, key, out, err);
}

static CK_RV ctx_number(const void *ctx, const char *key, long long *out, hc_err_t *err)
{
    return hc_setting_number(ctx, key, out, err);
}

static CK_RV ctx_list(const void *ctx, const char *key, const char *const **items, size_t *n,
                      hc_err_t *err)
{
    return hc_setting_list(ctx, key, items, n, err);
}

static CK_RV read_policy(hc_ctx_t *ctx, sshca_policy_t *p, hc_err_t *err)
{
    const sshca_settings_t from = { ctx_flag, ctx_number, ctx_list, ctx };
    return sshca_policy_read(&from, p, err);
}

static void sshca_fini(void *state)
{
    sshca_state_t *st = state;
    if (!st)
        return;
    for (size_t i = 0; i < st->nkeys; i++)
        free(st->keys[i].fingerprint);
    free(st->keys);
    free(st->visible);
    sshca_args_free(&st->args);
    sshca_caller_free(&st->caller);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static CK_RV sshca_init(hc_ctx_t *ctx, void **state)
{
    sshca_state_t *st = calloc(1, sizeof *st);
    if (!st)
        return CKR_HOST_MEMORY;
    pthread_mutex_init(&st->lock, NULL);
    hc_err_t err = { 0 };
    const char *const *keys = NULL;
    size_t nkeys = 0;
    if (read_policy(ctx, &st->policy, &err) != CKR_OK ||
        hc_setting_text(ctx, "audit-log", &st->audit_log, &err) != CKR_OK ||
        hc_setting_list(ctx, "keys", &keys, &nkeys, &err) != CKR_OK) {
        hc_ctx_log(ctx, HC_LOG_ERROR, "%s", err.msg);
        sshca_fini(st);
        return CKR_GENERAL_ERROR;
    }
    if (nkeys == 0) {
        hc_ctx_log(ctx, HC_LOG_ERROR,
                   "%s: [sshca] keys is empty: name the CA "
                   "keys by pkcs11: URI",
                   hc_config_path(ctx));
        sshca_fini(st);
        return CKR_GENERAL_ERROR;
    }
    if (sshca_args_read_self(&st->args) != 0 || sshca_caller_self(&st->caller) != 0) {
        hc_ctx_log(ctx, HC_LOG_ERROR,
                   "cannot read this process's command line, "
                   "binary or user from /proc and the user database");
        sshca_fini(st);
        return CKR_GENERAL_ERROR;
    }
    for (size_t i = 0; i < nkeys; i++)
        admit(st, ctx, keys[i]);
    *state = st;
    return CKR_OK;
}

static bool sshca_visible(void *state, hc_obj_t obj)
{
    const sshca_state_t *st = state;
    for (size_t i = 0; i < st->nvisible; i++)
        if (st->visible[i] == obj)
            return true;
    return false;
}

static CK_RV sshca_sign(void *state, hc_ctx_t *ctx, hc_obj_t key, const CK_MECHANISM *mech,
                        const unsigned char *data, size_t len, const hc_front_msg_t *msg,
                        unsigned char *sig, size_t *sig_len, hc_err_t *err)
{
    (void)msg;
    sshca_state_t *st = state;
    pthread_mutex_lock(&st->lock);
    size_t attempt = st->attempts++;
    pthread_mutex_unlock(&st->lock);
    const sshca_key_t *ca = NULL;
    for (size_t i = 0; i < st->nkeys; i++)
        if (st->keys[i].obj == key)
            ca = &st->keys[i];
    if (!ca)
        return hc_err(err, CKR_KEY_HANDLE_INVALID, "not one of the [sshca] keys");

    char why[512], result[600];
    const char *rule = sshca_policy_check(&st->policy, &st->caller, &st->args, why, sizeof why);
    /* one signature per key file, in order: more than the files given
     * is not ssh-keygen certifying them */
    if (!rule && st->args.is_keygen && attempt >= st->args.req.nfiles) {
        snprintf(why, sizeof why,
                 "signature %zu asked for, but ssh-keygen was "
                 "given %zu key file(s)",
                 attempt + 1, st->args.req.nfiles);
        rule = "arguments";
    }
    if (rule) {
        hc_ctx_log(ctx, HC_LOG_ERROR, "refused by rule %s: %s", rule, why);
        snprintf(result, sizeof result, "refused: %s", rule);
        if (sshca_audit(ctx, st->audit_log, &st->caller, &st->args, ca, attempt, result) != 0)
            hc_ctx_log(ctx, HC_LOG_ERROR, "audit log %s: %s", st->audit_log, strerror(errno));
        return hc_err(err, CKR_FUNCTION_REJECTED, "refused by rule %s", rule);
    }
    /* No signature without an audit record: check before signing, and
     * withhold the signature if the record cannot be written after. */
    if (!hc_via_agent(ctx) && sshca_audit_writable(st->audit_log) != 0) {
        hc_ctx_log(ctx, HC_LOG_ERROR,
                   "audit log %s: %s; not signing without "
                   "an audit record",
                   st->audit_log, strerror(errno));
        return hc_err(err, CKR_FUNCTION_FAILED, "audit log unavailable");
    }
    CK_RV rv = hc_sign(ctx, key, mech, data, len, sig, sig_len, err);
    char b[32];
    snprintf(result, sizeof result, rv == CKR_OK ? "signed" : "failed: %s", hc_rv_name(rv, b));
    if (sshca_audit(ctx, st->audit_log, &st->caller, &st->args, ca, attempt, result) != 0 &&
        rv == CKR_OK) {
        hc_ctx_log(ctx, HC_LOG_ERROR, "audit log %s: %s; signature withheld", st->audit_log,
                   strerror(errno));
        return hc_err(err, CKR_FUNCTION_FAILED, "audit record not written");
    }
    return rv;
}

const hc_front_profile_t hc_front_profile = {
    .name = HC_PROFILE_SSHCA,
    .init = sshca_init,
    .fini = sshca_fini,
    .visible = sshca_visible,
    .sign = sshca_sign,
};
