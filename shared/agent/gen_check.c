/*
 * gen_check.c: a key-pair generation request checked before the module
 * sees it (contract in gen_check.h). Each half of the pair is checked on
 * its own template: no attribute twice, the right class if one is given,
 * the label and id within their sizes, safe boolean values; then the key
 * it will become (token, class, label, the id the core will give it) must
 * be covered by one of the client's keys URIs, exactly as the agent
 * authorizes an existing object (hc_uri_covers). After generation the
 * made keys are read back (agent_gen_verify): the agent trusts what the
 * module did, not what it was asked.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"
#include "gen_check.h"
#include "urimatch.h"

/* The module reads template values, never writes them. */
static const CK_BBOOL true_value = CK_TRUE, false_value = CK_FALSE;

typedef struct half {
    const char *name; /* "public", "private" */
    CK_OBJECT_CLASS cls;
    const CK_ATTRIBUTE *in;
    CK_ULONG n;
    CK_ATTRIBUTE *out;
    CK_ULONG *nout;
} half_t;

typedef struct check {
    const agent_rules_t *rules;
    const char *token;
    hc_err_t *err;
} check_t;

static CK_RV refuse(const check_t *c, CK_RV rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static CK_RV refuse(const check_t *c, CK_RV rv, const char *fmt, ...)
{
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return hc_err(c->err, rv,
                  "hsmcached refused generate for [client %s] on "
                  "token %s: %s; no key was made",
                  agent_rules_name(c->rules), c->token, why);
}

static const CK_ATTRIBUTE *attr(const half_t *h, CK_ATTRIBUTE_TYPE type)
{
    for (CK_ULONG i = 0; i < h->n; i++)
        if (h->in[i].type == type)
            return &h->in[i];
    return NULL;
}

/* A boolean attribute: absent (-1), false (0) or true (1); -2 malformed. */
static int flag(const half_t *h, CK_ATTRIBUTE_TYPE type)
{
    const CK_ATTRIBUTE *a = attr(h, type);
    if (!a)
        return -1;
    if (a->ulValueLen != sizeof(CK_BBOOL) || !a->pValue)
        return -2;
    return *(const CK_BBOOL *)a->pValue != CK_FALSE;
}

/* One boolean the key must have: `want` when absent is added; the other
 * value, or a malformed one, refuses. */
static CK_RV require(const check_t *c, half_t *h, CK_ATTRIBUTE_TYPE type, const char *type_name,
                     bool want, const char *why)
{
    int v = flag(h, type);
    if (v == -2)
        return refuse(c, CKR_ATTRIBUTE_VALUE_INVALID,
                      "the %s key's %s is not "
                      "one CK_BBOOL",
                      h->name, type_name);
    if (v == -1) {
        const CK_BBOOL *value = want ? &true_value : &false_value;
        h->out[(*h->nout)++] = (CK_ATTRIBUTE){ type, (void *)value, sizeof *value };
        return CKR_OK;
    }
    if ((v == 1) != want)
        return refuse(c, CKR_ATTRIBUTE_VALUE_INVALID, "the %s key's %s is %s: %s", h->name,
                      type_name, v ? "true" : "false", why);
    return CKR_OK;
}

/* CKA_DESTROYABLE (Cryptoki 2.40): false is refused; when absent it is
 * added as true only for a module of 2.40 or later, which knows it (an
 * older one refuses a template with a type it does not know, and keys
 * there are always destroyable: agent_gen_verify checks the rest). */
static CK_RV destroyable(const check_t *c, half_t *h, bool v240)
{
    if (v240)
        return require(c, h, CKA_DESTROYABLE, "CKA_DESTROYABLE", true,
                       "a key the agent makes can be destroyed");
    if (flag(h, CKA_DESTROYABLE) == -2)
        return refuse(c, CKR_ATTRIBUTE_VALUE_INVALID,
                      "the %s key's CKA_DESTROYABLE "
                      "is not one CK_BBOOL",
                      h->name);
    if (flag(h, CKA_DESTROYABLE) == 0)
        return refuse(c, CKR_ATTRIBUTE_VALUE_INVALID,
                      "the %s key's CKA_DESTROYABLE "
                      "is false: a key the agent makes can be destroyed",
                      h->name);
    return CKR_OK;
}

/* The template's shape: no type twice, its class, label and id sizes. */
static CK_RV shape(const check_t *c, const half_t *h)
{
    for (CK_ULONG i = 0; i < h->n; i++)
        for (CK_ULONG j = 0; j < i; j++)
            if (h->in[i].type == h->in[j].type)
                return refuse(c, CKR_TEMPLATE_INCONSISTENT,
                              "the %s key's "
                              "template gives attribute 0x%lx twice",
                              h->name, (unsigned long)h->in[i].type);
    const CK_ATTRIBUTE *a = attr(h, CKA_CLASS);
    if (a && (a->ulValueLen != sizeof(CK_OBJECT_CLASS) || !a->pValue ||
              *(const CK_OBJECT_CLASS *)a->pValue != h->cls))
        return refuse(c, CKR_TEMPLATE_INCONSISTENT,
                      "the %s key's CKA_CLASS is "
                      "not that of a %s key",
                      h->name, h->name);
    hc_obj_identity_t id;
    a = attr(h, CKA_LABEL);
    if (a && (a->ulValueLen >= sizeof id.label || (a->ulValueLen && !a->pValue)))
        return refuse(c, CKR_ATTRIBUTE_VALUE_INVALID,
                      "the %s key's CKA_LABEL "
                      "is longer than %zu bytes",
                      h->name, sizeof id.label - 1);
    a = attr(h, CKA_ID);
    if (a && (a->ulValueLen > sizeof id.id || (a->ulValueLen && !a->pValue)))
        return refuse(c, CKR_ATTRIBUTE_VALUE_INVALID,
                      "the %s key's CKA_ID is "
                      "longer than %zu bytes",
                      h->name, sizeof id.id);
    return CKR_OK;
}

/* Whether the key this half becomes falls inside the client's keys. */
static CK_RV covered(const check_t *c, const half_t *h, const CK_ATTRIBUTE *given_id,
                     const hc_token_status_t *st)
{
    if (!c->rules->cfg) /* the agent's own user */
        return CKR_OK;
    hc_obj_identity_t id;
    memset(&id, 0, sizeof id);
    id.cls = h->cls;
    const CK_ATTRIBUTE *label = attr(h, CKA_LABEL);
    if (label && label->ulValueLen) {
        memcpy(id.label, label->pValue, label->ulValueLen);
        id.labellen = label->ulValueLen;
    }
    /* No usable id given: the core makes a fresh random one, which no
     * keys URI naming an id can cover (an empty id matches none). */
    if (given_id) {
        memcpy(id.id, given_id->pValue, given_id->ulValueLen);
        id.idlen = given_id->ulValueLen;
    }
    for (size_t i = 0; i < c->rules->nuris; i++)
        if (hc_uri_covers(c->rules->uris[i], c->token, st, &id))
            return CKR_OK;
    return refuse(c, CKR_KEY_HANDLE_INVALID,
                  "a %s key with CKA_LABEL '%.*s'%s "
                  "on this token is not in its keys",
                  h->name, (int)id.labellen, id.label, given_id ? " and the CKA_ID given" : "");
}

CK_RV agent_gen_check(const agent_rules_t *rules, hc_ctx_t *ctx, size_t tok, bool v240,
                      const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv,
                      CK_ULONG npriv, agent_gen_tmpl_t *out, hc_err_t *err)
{
    const char *token = hc_token_name(ctx, tok);
    check_t c = { rules, token ? token : "?", err };
    if (!token || npub > HC_PROTO_MAX_ATTRS || npriv > HC_PROTO_MAX_ATTRS || (npub && !pub) ||
        (npriv && !priv))
        return refuse(&c, CKR_ARGUMENTS_BAD, "malformed request");
    agent_gen_tmpl_t t;
    memcpy(t.pub, pub, npub * sizeof *pub);
    memcpy(t.priv, priv, npriv * sizeof *priv);
    t.npub = npub;
    t.npriv = npriv;
    half_t halves[2] = {
        { "public", CKO_PUBLIC_KEY, pub, npub, t.pub, &t.npub },
        { "private", CKO_PRIVATE_KEY, priv, npriv, t.priv, &t.npriv },
    };
    half_t *pubh = &halves[0], *privh = &halves[1];
    CK_RV rv;
    if ((rv = shape(&c, pubh)) != CKR_OK || (rv = shape(&c, privh)) != CKR_OK)
        return rv;
    if ((rv = require(&c, privh, CKA_SENSITIVE, "CKA_SENSITIVE", true,
                      "a private key the agent makes must be sensitive")) != CKR_OK ||
        (rv = require(&c, privh, CKA_EXTRACTABLE, "CKA_EXTRACTABLE", false,
                      "a private key the agent makes never leaves the token")) != CKR_OK ||
        (rv = destroyable(&c, privh, v240)) != CKR_OK ||
        (rv = destroyable(&c, pubh, v240)) != CKR_OK)
        return rv;
    if (flag(pubh, CKA_TOKEN) == -2 || flag(privh, CKA_TOKEN) == -2)
        return refuse(&c, CKR_ATTRIBUTE_VALUE_INVALID, "CKA_TOKEN is not one CK_BBOOL");
    if (rules->cfg) {
        hc_token_status_t st;
        memset(&st, 0, sizeof st);
        if (hc_token_status(ctx, tok, &st, NULL) != CKR_OK && !st.info_valid)
            return refuse(&c, CKR_TOKEN_NOT_PRESENT,
                          "the token's identity cannot "
                          "be read to match its keys");
        const CK_ATTRIBUTE *given_id = hc_keygen_given_id(pub, npub, priv, npriv);
        if ((rv = covered(&c, pubh, given_id, &st)) != CKR_OK ||
            (rv = covered(&c, privh, given_id, &st)) != CKR_OK)
            return rv;
    }
    *out = t;
    return CKR_OK;
}

/* One boolean attribute of a made key: 0, 1, or -1 when it cannot be read
 * (unknown to the module, or an error). */
static int made_flag(hc_ctx_t *ctx, hc_obj_t obj, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL v = CK_FALSE;
    CK_ATTRIBUTE a = { type, &v, sizeof v };
    if (hc_get_attrs(ctx, obj, &a, 1, NULL) != CKR_OK || a.ulValueLen != sizeof v)
        return -1;
    return v != CK_FALSE;
}

CK_RV agent_gen_verify(const agent_rules_t *rules, hc_ctx_t *ctx, size_t tok, bool v240,
                       hc_obj_t pub, hc_obj_t priv, hc_err_t *err)
{
    const char *token = hc_token_name(ctx, tok);
    check_t c = { rules, token ? token : "?", err };
    static const struct {
        bool private_half, want, v240_only;
        CK_ATTRIBUTE_TYPE type;
        const char *name;
    } musts[] = {
        { true, true, false, CKA_SENSITIVE, "CKA_SENSITIVE" },
        { true, false, false, CKA_EXTRACTABLE, "CKA_EXTRACTABLE" },
        { true, true, true, CKA_DESTROYABLE, "CKA_DESTROYABLE" },
        { false, true, true, CKA_DESTROYABLE, "CKA_DESTROYABLE" },
    };
    for (size_t i = 0; i < sizeof musts / sizeof *musts; i++) {
        if (musts[i].v240_only && !v240)
            continue;
        int v = made_flag(ctx, musts[i].private_half ? priv : pub, musts[i].type);
        if (v != musts[i].want)
            return hc_err(err, CKR_TEMPLATE_INCONSISTENT,
                          "hsmcached refused generate "
                          "for [client %s] on token %s: the module made a %s key whose "
                          "%s is %s",
                          agent_rules_name(c.rules), c.token,
                          musts[i].private_half ? "private" : "public", musts[i].name,
                          v < 0 ? "unreadable"
                          : v   ? "true"
                                : "false");
    }
    return CKR_OK;
}
