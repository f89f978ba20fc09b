/*
 * mech_policy.h: which mechanisms a [client] may use (its `mechanisms =`
 * list, issue 13 item 6). Listed: exactly those, for sign, verify,
 * encrypt and decrypt. Not listed: the signature mechanisms on the
 * protocol's list but raw RSA (CKM_RSA_X_509), for sign and verify only;
 * decryption, encryption and raw RSA need listing. Key generation is
 * governed by `operations = generate` (its mechanism by the protocol's
 * list). The agent's own user (rules->cfg NULL) may use every mechanism.
 * No state; thread-safe.
 */
#ifndef HC_MECH_POLICY_H
#define HC_MECH_POLICY_H

#include <stdbool.h>

#include "agent.h"
#include "proto/proto.h"

/* Whether the client may run request q's mechanism. */
bool agent_mech_allowed(const agent_rules_t *rules, const hc_req_t *q);

#endif
