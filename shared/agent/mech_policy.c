/*
 * mech_policy.c: per-client mechanisms. See mech_policy.h.
 */
#include "mech_policy.h"
#include "proto/proto_check.h"

bool agent_mech_allowed(const agent_rules_t *rules, const hc_req_t *q)
{
    const hc_client_cfg_t *c = rules->cfg;
    if (!c || (q->op != HC_OP_SIGN && q->op != HC_OP_VERIFY && q->op != HC_OP_CRYPT))
        return true;
    CK_MECHANISM_TYPE t = q->mech.m.mechanism;
    if (c->nmechs == 0)
        return q->op != HC_OP_CRYPT && hc_mech_default_sign(t);
    for (size_t i = 0; i < c->nmechs; i++)
        if (c->mechs[i] == t)
            return true;
    return false;
}
