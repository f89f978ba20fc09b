/*
 * audit_record.c: an SSH CA audit record from a client, parsed with
 * libjansson, checked against the module's fields and written back
 * canonically (contract in audit_record.h).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "audit_fields.h"
#include "audit_record.h"
#include "util/err.h"
#include "jsonline.h"
#include "transport.h"

struct agent_audit {
    json_t *obj;
};

/* The fields, their kinds and order: audit_fields.h, which the module
 * writes from too. */
#define NFIELDS ((size_t)HC_AUDIT_NFIELDS)

static bool kind_ok(const json_t *v, hc_audit_kind_t k)
{
    switch (k) {
    case HC_AUDIT_STR: return json_is_string(v);
    case HC_AUDIT_STR_OR_NULL: return json_is_string(v) || json_is_null(v);
    case HC_AUDIT_UINT:
        return json_is_integer(v) && json_integer_value(v) >= 0 &&
               json_integer_value(v) <= UINT32_MAX;
    case HC_AUDIT_BOOL: return json_is_boolean(v);
    case HC_AUDIT_STR_ARRAY:
        if (!json_is_array(v))
            return false;
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!json_is_string(json_array_get(v, i)))
                return false;
        return true;
    }
    return false;
}

static const char *kind_name(hc_audit_kind_t k)
{
    static const char *const names[] = { "a string", "a string or null",
                                         "an integer from 0 to 2^32-1", "true or false",
                                         "an array of strings" };
    return names[k];
}

CK_RV agent_audit_parse(const char *text, agent_audit_t **rec, hc_err_t *err)
{
    *rec = NULL;
    json_error_t je;
    /* One object, nothing after it (jansson's end-of-input check), no key
     * twice, valid UTF-8 and no NUL inside strings (jansson's defaults). */
    json_t *obj = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!obj)
        return hc_err(err, CKR_ARGUMENTS_BAD,
                      "hsmcached: the audit record is not "
                      "one JSON object: %s at byte %d",
                      je.text, je.position);
    const char *bad = NULL, *want = NULL;
    if (!json_is_object(obj)) {
        bad = "(the record)";
        want = "an object";
    }
    for (size_t i = 0; !bad && i < NFIELDS; i++) {
        json_t *v = json_object_get(obj, hc_audit_fields[i].name);
        if (!v || !kind_ok(v, hc_audit_fields[i].kind)) {
            bad = hc_audit_fields[i].name;
            want = v ? kind_name(hc_audit_fields[i].kind) : "present";
        }
    }
    if (!bad && json_object_size(obj) != NFIELDS) {
        const char *key;
        json_t *v;
        json_object_foreach(obj, key, v)
        {
            bool known = false;
            for (size_t i = 0; i < NFIELDS && !known; i++)
                known = !strcmp(key, hc_audit_fields[i].name);
            if (!known) {
                bad = key;
                want = "absent (not a field of the SSH CA module's record)";
                break;
            }
        }
    }
    if (bad) {
        CK_RV rv = hc_err(err, CKR_ARGUMENTS_BAD,
                          "hsmcached: audit record field "
                          "'%.64s' must be %s",
                          bad, want);
        json_decref(obj);
        return rv;
    }
    if (!(*rec = malloc(sizeof **rec))) {
        json_decref(obj);
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    }
    (*rec)->obj = obj;
    return CKR_OK;
}

const char *agent_audit_ca_key(const agent_audit_t *rec)
{
    return json_string_value(json_object_get(rec->obj, "ca_key"));
}

CK_RV agent_audit_authorize(const agent_rules_t *rules, hc_ctx_t *ctx, const hc_config_t *cfg,
                            const agent_audit_t *rec, hc_err_t *err)
{
    const char *uri = agent_audit_ca_key(rec);
    bool listed = false;
    const hc_cfg_value_t *keys = hc_config_setting(cfg, HC_P_SSHCA, NULL, "keys", HC_CFG_LIST);
    for (size_t i = 0; keys && i < keys->list.n && !listed; i++)
        listed = !strcmp(keys->list.items[i], uri);
    if (!listed)
        return hc_err(err, CKR_KEY_HANDLE_INVALID,
                      "hsmcached refused an audit "
                      "record from [client %s]: its ca_key '%.200s' is not one of "
                      "the [sshca] keys in %s",
                      agent_rules_name(rules), uri, cfg->path);
    if (rules->cfg && !(rules->cfg->ops & HC_PERM_SIGN))
        return hc_err(err, CKR_FUNCTION_REJECTED,
                      "hsmcached refused an audit "
                      "record from [client %s]: 'sign' is not in its operations, "
                      "and only a signer of the CA key may add one",
                      agent_rules_name(rules));
    hc_obj_t *objs = NULL;
    size_t n = 0;
    bool found = false;
    if (hc_find_uri(ctx, uri, &objs, &n, NULL) == CKR_OK)
        for (size_t i = 0; i < n && !found; i++) {
            hc_obj_identity_t id;
            found = hc_describe(ctx, objs[i], &id, NULL) == CKR_OK && id.cls == CKO_PRIVATE_KEY &&
                    agent_key_allowed(rules, ctx, objs[i], NULL);
        }
    free(objs);
    if (!found)
        return hc_err(err, CKR_KEY_HANDLE_INVALID,
                      "hsmcached refused an audit "
                      "record from [client %s]: its ca_key '%.200s' names no "
                      "private key in its keys",
                      agent_rules_name(rules), uri);
    return CKR_OK;
}

const char *agent_audit_log(const hc_config_t *cfg)
{
    const hc_cfg_value_t *v = hc_config_setting(cfg, HC_P_SSHCA, NULL, "audit-log", HC_CFG_TEXT);
    return v && v->text ? v->text : "";
}

char *agent_audit_line(const agent_audit_t *rec, unsigned peer_uid, int peer_pid,
                       const char *client)
{
    json_t *out = json_object();
    bool ok = out != NULL;
    for (size_t i = 0; ok && i < NFIELDS; i++)
        ok = json_object_set(out, hc_audit_fields[i].name,
                             json_object_get(rec->obj, hc_audit_fields[i].name)) == 0;
    /* What the agent knows for sure, last, and never from the sender. */
    ok = ok && json_object_set_new(out, "peer_uid", json_integer(peer_uid)) == 0 &&
         json_object_set_new(out, "peer_pid", json_integer(peer_pid)) == 0 &&
         json_object_set_new(out, "client", json_string(client)) == 0;
    /* Compact, insertion order, every non-ASCII and control character
     * (DEL too) escaped: one line of printable ASCII. */
    char *line = ok ? hc_json_escape_del(json_dumps(out, JSON_COMPACT | JSON_ENSURE_ASCII)) : NULL;
    json_decref(out);
    return line;
}

void agent_audit_free(agent_audit_t *rec)
{
    if (rec) {
        json_decref(rec->obj);
        free(rec);
    }
}
