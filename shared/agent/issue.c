/*
 * issue.c: one issue request (contract in issue.h): who asks (the peer's
 * uid, its user's groups), what it asks (the SSH CA module's parser, as
 * if ssh-keygen had been given these options), whether it may (the
 * module's policy), then the certificate: serial reserved, nonce from
 * RAND_bytes, signed by the CA key, audited, returned.
 */
#include <grp.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/appendlog.h"
#include "audit_fields.h"
#include "audit_record.h"
#include "util/err.h"
#include "issue.h"
#include "sshca.h"
#include "sshcert.h"
#include "sshkey.h"
#include "transport.h"

#define MAX_OPTS 64           /* option pairs in one request */
#define AGENT_KEYGEN_RELEASE "9.2p1" /* whose reading of -V the agent applies */

/* The peer as the policy sees it: its uid's name and the names of its
 * gid and of its user's groups (the user database, not the peer). */
static int caller_of(const struct ucred *cred, sshca_caller_t *c)
{
    memset(c, 0, sizeof *c);
    c->uid = cred->uid;
    char buf[8192];
    struct passwd pw, *res = NULL;
    gid_t groups[256];
    int n = 0;
    if (getpwuid_r(cred->uid, &pw, buf, sizeof buf, &res) == 0 && res) {
        snprintf(c->user, sizeof c->user, "%s", res->pw_name);
        n = sizeof groups / sizeof groups[0] - 1;
        if (getgrouplist(res->pw_name, res->pw_gid, groups, &n) < 0)
            return -1; /* more groups than we read: never judge on a part */
    }
    groups[n++] = cred->gid;
    if (!(c->groups = calloc((size_t)n, sizeof *c->groups)))
        return -1;
    for (int i = 0; i < n; i++) {
        struct group gr, *gres = NULL;
        char gbuf[8192];
        if (getgrgid_r(groups[i], &gr, gbuf, sizeof gbuf, &gres) == 0 && gres &&
            !(c->groups[c->ngroups++] = strdup(gres->gr_name)))
            return -1;
    }
    return 0;
}

/* The request's options as ssh-keygen's argv: ssh-keygen -s (agent) OPTS
 * -O FORCED... -- (key). Only -I -n -V -O with a value and -h without:
 * the CA, the serial and the files are the agent's; the policy's
 * force-options come after the caller's. argv has room for
 * 3 + 2 * (MAX_OPTS + force->n) + 3. */
static CK_RV build_argv(const unsigned char *opts, size_t len, const sshca_list_t *force,
                        char **argv, int *argc, hc_err_t *err)
{
    static char prog[] = "ssh-keygen", s[] = "-s", ca[] = "hsmcached", dd[] = "--",
                key[] = "PUBKEY";
    static char flags[5][3] = { "-I", "-n", "-V", "-O", "-h" };
    int n = 0;
    argv[n++] = prog, argv[n++] = s, argv[n++] = ca;
    size_t off = 0;
    while (off < len) {
        const char *letter = (const char *)opts + off;
        size_t ll = strnlen(letter, len - off);
        if (ll == len - off)
            return hc_err(err, CKR_ARGUMENTS_BAD, "issue: options not NUL-terminated");
        const char *value = letter + ll + 1;
        off += ll + 1;
        size_t vl = off < len ? strnlen(value, len - off) : 0;
        if (off >= len || vl == len - off)
            return hc_err(err, CKR_ARGUMENTS_BAD, "issue: option '%.8s' without a value", letter);
        off += vl + 1;
        const char *f = ll == 1 ? strchr("InVOh", letter[0]) : NULL;
        if (!f || !*letter)
            return hc_err(err, CKR_ARGUMENTS_BAD,
                          "issue: option '%.8s' is not one of "
                          "-I -n -V -h -O",
                          letter);
        bool h = *f == 'h';
        if (h != (vl == 0))
            return hc_err(err, CKR_ARGUMENTS_BAD,
                          h ? "issue: -h takes no value" : "issue: -%c needs a value", *f);
        if (n + 2 > 3 + 2 * MAX_OPTS)
            return hc_err(err, CKR_ARGUMENTS_BAD, "issue: more than %d options", MAX_OPTS);
        argv[n++] = flags[f - "InVOh"];
        if (!h)
            argv[n++] = (char *)value;
    }
    for (size_t i = 0; i < force->n; i++)
        argv[n++] = flags[3], argv[n++] = (char *)force->items[i]; /* only read */
    argv[n++] = dd, argv[n++] = key;
    argv[n] = NULL;
    *argc = n;
    return CKR_OK;
}

/* The first private key [sshca] keys names, on the agent's own SSH CA
 * context, with its public blob and fingerprint. */
static CK_RV ca_key(agent_state_t *st, hc_ctx_t **ctx, hc_obj_t *key, const char **uri,
                    unsigned char **blob, size_t *blob_len, char **fp, hc_err_t *err)
{
    const hc_config_t *cfg = st->cfg;
    const hc_cfg_value_t *keys = hc_config_setting(cfg, HC_P_SSHCA, NULL, "keys", HC_CFG_LIST);
    if (!keys || keys->list.n == 0)
        return hc_err(err, CKR_KEY_HANDLE_INVALID,
                      "hsmcached: [sshca] keys in %s is "
                      "empty: no CA key to issue with",
                      cfg->path);
    *uri = keys->list.items[0];
    if (!(*ctx = agent_state_ctx(st, HC_P_SSHCA, err)))
        return err->rv ? err->rv : CKR_GENERAL_ERROR;
    hc_obj_t *objs = NULL;
    size_t n = 0;
    CK_RV rv = hc_find_uri(*ctx, *uri, &objs, &n, err);
    *key = 0;
    for (size_t i = 0; rv == CKR_OK && i < n && !*key; i++) {
        hc_obj_identity_t id;
        if (hc_describe(*ctx, objs[i], &id, NULL) == CKR_OK && id.cls == CKO_PRIVATE_KEY)
            *key = objs[i];
    }
    free(objs);
    if (rv == CKR_OK && !*key)
        rv = hc_err(err, CKR_KEY_HANDLE_INVALID,
                    "hsmcached: [sshca] keys: %s names "
                    "no private key",
                    *uri);
    unsigned char *spki = NULL;
    size_t len = 0;
    if (rv == CKR_OK)
        rv = hc_public_key(*ctx, *key, &spki, &len, err);
    if (rv == CKR_OK && (!(*blob = hc_ssh_blob(spki, len, blob_len)) ||
                         !(*fp = hc_ssh_fingerprint(*blob, *blob_len))))
        rv = hc_err(err, CKR_KEY_TYPE_INCONSISTENT,
                    "hsmcached: [sshca] keys: %s is "
                    "not a key OpenSSH can use",
                    *uri);
    free(spki);
    return rv;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* The audit record, built as the module builds its own (audit_fields.h),
 * checked by the same parser as a client's record, and appended with the
 * peer's uid and pid and the client's name. */
static CK_RV audit(agent_state_t *st, const agent_rules_t *rules, const struct ucred *cred,
                   const sshca_caller_t *who, const sshca_request_t *r, uint64_t serial,
                   const char *subject, const char *subject_fp, const char *uri, const char *ca_fp,
                   const char *result, hc_err_t *err)
{
    char when[32], validity[48], ser[24], *principals = NULL;
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    if (r) {
        sshca_validity_format(r->valid_after, r->valid_before, validity, sizeof validity);
        snprintf(ser, sizeof ser, "%llu", (unsigned long long)serial);
        size_t len = 1;
        for (size_t i = 0; i < r->nprincipals; i++)
            len += strlen(r->principals[i]) + 1;
        if (r->nprincipals && (principals = calloc(1, len)))
            for (size_t i = 0; i < r->nprincipals; i++)
                strcat(strcat(principals, i ? "," : ""), r->principals[i]);
    }
    json_t *opts = json_array();
    for (size_t i = 0; r && opts && i < r->noptions; i++) {
        char *t = sshca_certopt_text(&r->options[i]);
        if (!t || json_array_append_new(opts, json_string(t)) != 0) {
            json_decref(opts);
            opts = NULL;
        }
        free(t);
    }
#define S(x) str_or_null(x)
    json_t *o = json_object();
    for (int f = 0; o && f < HC_AUDIT_NFIELDS; f++) {
        json_t *v = NULL;
        switch ((hc_audit_field_t)f) {
        case HC_AUDIT_F_time: v = json_string(when); break;
        case HC_AUDIT_F_uid: v = json_integer((json_int_t)cred->uid); break;
        case HC_AUDIT_F_user: v = S(who->user[0] ? who->user : NULL); break;
        case HC_AUDIT_F_pid: v = json_integer((json_int_t)cred->pid); break;
        case HC_AUDIT_F_host: v = json_string("hsmcached"); break;
        case HC_AUDIT_F_identity: v = S(r ? r->key_id : NULL); break;
        case HC_AUDIT_F_principals: v = S(principals); break;
        case HC_AUDIT_F_validity: v = S(r ? validity : NULL); break;
        case HC_AUDIT_F_serial: v = S(r && serial ? ser : NULL); break;
        case HC_AUDIT_F_options: v = opts ? json_incref(opts) : NULL; break;
        case HC_AUDIT_F_host_certificate: v = json_boolean(r && r->host); break;
        case HC_AUDIT_F_key_file: v = json_null(); break;
        case HC_AUDIT_F_public_key: v = S(subject); break;
        case HC_AUDIT_F_public_key_fingerprint: v = S(subject_fp); break;
        case HC_AUDIT_F_ca_key: v = json_string(uri ? uri : ""); break;
        case HC_AUDIT_F_ca_fingerprint: v = S(ca_fp); break;
        case HC_AUDIT_F_result: v = json_string(result); break;
        case HC_AUDIT_NFIELDS: break;
        }
        if (!v || json_object_set_new(o, hc_audit_fields[f].name, v) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
#undef S
    json_decref(opts);
    free(principals);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    agent_audit_t *rec = NULL;
    CK_RV rv =
        text ? agent_audit_parse(text, &rec, err) : hc_err(err, CKR_HOST_MEMORY, "out of memory");
    free(text);
    char *line = rv == CKR_OK ? agent_audit_line(rec, (unsigned)cred->uid, (int)cred->pid,
                                                 agent_rules_name(rules))
                              : NULL;
    agent_audit_free(rec);
    const char *path = agent_audit_log(st->cfg);
    if (rv == CKR_OK && (!line || hc_append_line(path, line, strlen(line)) != 0)) {
        hc_log(&st->agent->log, HC_LOG_ERROR, "audit log %s: cannot append: %m", path);
        rv = hc_err(err, CKR_FUNCTION_FAILED,
                    "hsmcached: audit log %s cannot be "
                    "written: no certificate issued",
                    path);
    }
    free(line);
    return rv;
}

/* Signs the body in `cert` with the CA key and appends the signature. */
static CK_RV sign_cert(hc_ctx_t *ctx, hc_obj_t key, const unsigned char *ca_blob, size_t ca_len,
                       agent_bytes_t *cert, hc_err_t *err)
{
    agent_ca_alg_t alg;
    if (agent_ca_alg(ca_blob, ca_len, &alg) != 0)
        return hc_err(err, CKR_KEY_TYPE_INCONSISTENT,
                      "hsmcached: the CA key's type "
                      "cannot sign certificates here");
    unsigned char digest[EVP_MAX_MD_SIZE], sig[4096];
    unsigned int dlen = 0;
    const unsigned char *data = cert->p;
    size_t len = cert->len, slen = sizeof sig;
    if (alg.hash_nid) {
        if (!EVP_Digest(cert->p, cert->len, digest, &dlen, EVP_get_digestbynid(alg.hash_nid), NULL))
            return hc_err(err, CKR_GENERAL_ERROR, "hsmcached: digest failed");
        data = digest, len = dlen;
    }
    CK_MECHANISM mech = { alg.mechanism, NULL, 0 };
    hc_sign_opts_t o = { 0 };
    CK_RV rv = hc_sign_ex(ctx, key, &mech, data, len, &o, sig, &slen, err);
    if (rv == CKR_OK && agent_cert_sign_field(&alg, sig, slen, cert) != 0)
        rv = hc_err(err, CKR_DEVICE_ERROR,
                    "hsmcached: the token's signature has "
                    "an unexpected length (%zu)",
                    slen);
    return rv;
}

static void free_caller(sshca_caller_t *c)
{
    for (size_t i = 0; i < c->ngroups; i++)
        free(c->groups[i]);
    free(c->groups);
}

/* The policy's keys for one client (sshca_policy_read): the [client]'s
 * own issue keys, else [sshca]'s, by name from the config's rows. */
typedef struct policy_src {
    const hc_config_t *cfg;
    const hc_client_cfg_t *client;
} policy_src_t;

static const hc_cfg_value_t *policy_value(const void *src, const char *key, enum hc_cfg_kind kind,
                                          hc_err_t *err)
{
    const policy_src_t *p = src;
    const hc_cfg_value_t *v = hc_config_setting(p->cfg, HC_P_SSHCA, p->client, key, kind);
    if (!v)
        hc_err(err, CKR_GENERAL_ERROR, "hsmcached: [sshca] has no key %s", key);
    return v;
}

static CK_RV cfg_flag(const void *src, const char *key, bool *out, hc_err_t *err)
{
    const hc_cfg_value_t *v = policy_value(src, key, HC_CFG_FLAG, err);
    if (v)
        *out = v->flag;
    return v ? CKR_OK : err->rv;
}

static CK_RV cfg_number(const void *src, const char *key, long long *out, hc_err_t *err)
{
    const hc_cfg_value_t *v = policy_value(src, key, HC_CFG_NUMBER, err);
    if (v)
        *out = v->number;
    return v ? CKR_OK : err->rv;
}

static CK_RV cfg_list(const void *src, const char *key, const char *const **items, size_t *n,
                      hc_err_t *err)
{
    const hc_cfg_value_t *v = policy_value(src, key, HC_CFG_LIST, err);
    if (v) {
        *items = (const char *const *)v->list.items;
        *n = v->list.n;
    }
    return v ? CKR_OK : err->rv;
}

CK_RV agent_issue(agent_state_t *st, const agent_rules_t *rules, const struct ucred *cred,
                  const unsigned char *opts, size_t opts_len, const unsigned char *pubkey,
                  size_t pubkey_len, char **cert, uint64_t *serial, hc_err_t *err)
{
    *cert = NULL;
    *serial = 0;
    sshca_caller_t who;
    sshca_args_t a;
    memset(&a, 0, sizeof a);
    sshca_policy_t policy;
    memset(&policy, 0, sizeof policy);
    const policy_src_t src = { st->cfg, rules->cfg };
    const sshca_settings_t from = { cfg_flag, cfg_number, cfg_list, &src };
    char **argv = NULL;
    char why[600], type[32], *subject = NULL, *subject_fp = NULL, *ca_fp = NULL, result[80];
    int argc = 0;
    bool have_req = false;
    unsigned char *blob = NULL, *ca_blob = NULL;
    size_t blob_len = 0, ca_len = 0;
    hc_ctx_t *ctx = NULL;
    hc_obj_t key = 0;
    const char *uri = NULL;
    agent_bytes_t body = { 0 };
    const sshca_keygen_version_t *v = sshca_keygen_version(AGENT_KEYGEN_RELEASE);
    CK_RV rv = caller_of(cred, &who) == 0
                   ? CKR_OK
                   : hc_err(err, CKR_HOST_MEMORY, "hsmcached: uid %u's groups cannot be read",
                            (unsigned)cred->uid);
    if (rv == CKR_OK) /* this client's policy: its own issue keys, else [sshca]'s */
        rv = sshca_policy_read(&from, &policy, err);
    if (rv == CKR_OK &&
        !(argv = calloc(3 + 2 * (MAX_OPTS + policy.force_options.n) + 3, sizeof *argv)))
        rv = hc_err(err, CKR_HOST_MEMORY, "out of memory");
    if (rv == CKR_OK)
        rv = ca_key(st, &ctx, &key, &uri, &ca_blob, &ca_len, &ca_fp, err);
    if (rv == CKR_OK)
        rv = build_argv(opts, opts_len, &policy.force_options, argv, &argc, err);
    a.nforced = policy.force_options.n;
    if (rv == CKR_OK && agent_ssh_pubkey_read((const char *)pubkey, pubkey_len, &blob, &blob_len,
                                              type, sizeof type, why, sizeof why))
        rv = hc_err(err, CKR_ARGUMENTS_BAD, "hsmcached refused issue: %s", why);
    if (rv == CKR_ARGUMENTS_BAD) /* malformed: refused before the policy, not audited */
        hc_log(&st->agent->log, HC_LOG_WARN, "client %s (uid %u, pid %d): %s",
               agent_rules_name(rules), (unsigned)cred->uid, (int)cred->pid, err->msg);
    /* the audited key: type and base64 of the checked blob (the request's
     * bytes are not NUL-terminated, and its comment is not audited) */
    size_t slen = strlen(type) + 1 + (blob_len + 2) / 3 * 4 + 1;
    if (rv == CKR_OK &&
        (!(subject_fp = hc_ssh_fingerprint(blob, blob_len)) || !(subject = malloc(slen))))
        rv = hc_err(err, CKR_HOST_MEMORY, "out of memory");
    if (rv == CKR_OK) {
        int n = snprintf(subject, slen, "%s ", type);
        EVP_EncodeBlock((unsigned char *)subject + n, blob, (int)blob_len);
    }
    a.program = (char *)"hsmcached";
    a.is_keygen = true;
    a.now = time(NULL);
    snprintf(a.release, sizeof a.release, "%s", AGENT_KEYGEN_RELEASE);
    if (rv == CKR_OK) {
        a.parsed = have_req = v && sshca_keygen_parse(v, argc, argv, a.now, &a.req, a.parse_why,
                                                      sizeof a.parse_why) == 0;
        if (a.parsed && !a.req.certify) {
            a.parsed = false;
            snprintf(a.parse_why, sizeof a.parse_why, "no key id: give -I ID");
        }
        const char *rule;
        if (!a.parsed) {
            rule = "arguments";
            snprintf(why, sizeof why, "%s", a.parse_why);
        } else {
            rule = sshca_policy_check(&policy, &who, &a, why, sizeof why);
        }
        if (rule) {
            snprintf(result, sizeof result, "refused: %s", rule);
            hc_log(&st->agent->log, HC_LOG_WARN,
                   "client %s (uid %u, pid %d): refused "
                   "issue by rule %s: %s",
                   agent_rules_name(rules), (unsigned)cred->uid, (int)cred->pid, rule, why);
            CK_RV arv = audit(st, rules, cred, &who, a.parsed ? &a.req : NULL, 0, subject,
                              subject_fp, uri, ca_fp, result, err);
            rv = arv != CKR_OK ? arv
                               : hc_err(err, a.parsed ? CKR_FUNCTION_REJECTED : CKR_ARGUMENTS_BAD,
                                        "hsmcached refused issue by rule %s: %s", rule, why);
        }
    }
    unsigned char nonce[32];
    if (rv == CKR_OK)
        rv = agent_serial_reserve(st->cfg->cache_dir, serial, err);
    if (rv == CKR_OK && RAND_bytes(nonce, sizeof nonce) != 1)
        rv = hc_err(err, CKR_GENERAL_ERROR, "hsmcached: no random nonce");
    if (rv == CKR_OK) {
        a.req.serial = *serial;
        if (agent_cert_tbs(type, blob, blob_len, &a.req, *serial, nonce, ca_blob, ca_len, &body) !=
            0)
            rv = hc_err(err, CKR_HOST_MEMORY, "out of memory");
    }
    if (rv == CKR_OK)
        rv = sign_cert(ctx, key, ca_blob, ca_len, &body, err);
    if (rv == CKR_OK)
        rv = audit(st, rules, cred, &who, &a.req, *serial, subject, subject_fp, uri, ca_fp,
                   "signed", err);
    if (rv == CKR_OK && !(*cert = agent_cert_line(type, &body, "")))
        rv = hc_err(err, CKR_HOST_MEMORY, "out of memory");
    if (rv == CKR_OK)
        hc_log(&st->agent->log, HC_LOG_INFO,
               "client %s (uid %u, pid %d): issued "
               "certificate serial %llu, key id '%s'",
               agent_rules_name(rules), (unsigned)cred->uid, (int)cred->pid,
               (unsigned long long)*serial, a.req.key_id);
    agent_bytes_free(&body);
    if (have_req)
        sshca_request_free(&a.req);
    free_caller(&who);
    free(argv);
    free(blob);
    free(ca_blob);
    free(ca_fp);
    free(subject);
    free(subject_fp);
    return rv;
}
