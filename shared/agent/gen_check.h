/*
 * gen_check.h: a key-pair generation request, checked before the module
 * is called (gen_check.c).
 *
 * The agent used to generate first and destroy what the client should not
 * have made; a destroy can fail (CKA_DESTROYABLE false, a card pulled), and
 * the key stayed behind. Now the request itself must show that both halves
 * will fall inside the client's `keys` (token, CKA_LABEL, CKA_ID as the
 * core will set them) and that the private half will be sensitive and
 * never extractable, and both halves destroyable; else nothing reaches
 * C_GenerateKeyPair.
 */
#ifndef HC_AGENT_GEN_CHECK_H
#define HC_AGENT_GEN_CHECK_H

#include "agent.h"
#include "proto/proto.h"

/* The templates to generate with: the request's attributes, in order,
 * then the safe values the request left out (CKA_SENSITIVE true,
 * CKA_EXTRACTABLE false on the private half, CKA_DESTROYABLE true on
 * both when the module reports Cryptoki 2.40 or later: an older one
 * refuses a type it does not know, and has no undestroyable keys). Values
 * point into the request's templates or static storage. */
typedef struct agent_gen_tmpl {
    CK_ATTRIBUTE pub[HC_PROTO_MAX_ATTRS + 3];
    CK_ATTRIBUTE priv[HC_PROTO_MAX_ATTRS + 3];
    CK_ULONG npub, npriv;
} agent_gen_tmpl_t;

/* Checks the generation request of `rules`'s client on token `tok` of
 * `ctx` (templates of at most HC_PROTO_MAX_ATTRS attributes each); `v240`:
 * the token's module reports Cryptoki 2.40 or later (module_info.c). CKR_OK:
 * `out` holds the templates to pass to the module. Else nothing is
 * filled, and err names the client, the token and the attribute at fault:
 * CKR_TEMPLATE_INCONSISTENT (an attribute given twice, a wrong class),
 * CKR_ATTRIBUTE_VALUE_INVALID (an unsafe or malformed value),
 * CKR_KEY_HANDLE_INVALID (the key would fall outside the client's keys, as
 * the agent's other key refusals), CKR_TOKEN_NOT_PRESENT (the token's
 * identity cannot be read to match the keys URIs). May read the token's
 * status (a call to the token). Thread-safe. */
CK_RV agent_gen_check(const agent_rules_t *rules, hc_ctx_t *ctx, size_t tok, bool v240,
                      const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv,
                      CK_ULONG npriv, agent_gen_tmpl_t *out, hc_err_t *err);
/* After the module made the pair: reads the keys back and checks they are
 * what agent_gen_check asked for (private half sensitive and not
 * extractable; both destroyable when `v240`). CKR_OK, or
 * CKR_TEMPLATE_INCONSISTENT naming the client, token, half and attribute
 * (one that cannot be read counts as wrong): the caller destroys the
 * pair. Calls the token. Thread-safe. */
CK_RV agent_gen_verify(const agent_rules_t *rules, hc_ctx_t *ctx, size_t tok, bool v240,
                       hc_obj_t pub, hc_obj_t priv, hc_err_t *err);

#endif
