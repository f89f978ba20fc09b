/*
 * audit_record.h: an SSH CA audit record a client sends (HC_OP_AUDIT),
 * checked and rewritten by the agent (audit_record.c).
 *
 * The SSH CA module (sshca-plugin/audit.c) writes one JSON object per
 * signing attempt. The agent parses it with libjansson and accepts only
 * that object: exactly the fields of audit_fields.h with their types, no field
 * twice, nothing after it, valid UTF-8 (no NUL). It writes the record
 * back itself, compact, in the module's field order, every non-ASCII or
 * control character escaped, followed by what it knows of the sender
 * (peer_uid, peer_pid, client): the log holds whole canonical lines only.
 * Only a client that may sign with the CA key the record names may add
 * one.
 */
#ifndef HC_AGENT_AUDIT_RECORD_H
#define HC_AGENT_AUDIT_RECORD_H

#include "agent.h"

typedef struct agent_audit agent_audit_t;

/* Parses and checks `text`. CKR_OK and *rec (release with
 * agent_audit_free), or CKR_ARGUMENTS_BAD with err saying what is wrong
 * (the field, the JSON error and its position). Thread-safe. */
CK_RV agent_audit_parse(const char *text, agent_audit_t **rec, hc_err_t *err);
/* The record's ca_key: the pkcs11: URI of the CA key it was signed with. */
const char *agent_audit_ca_key(const agent_audit_t *rec);
/* Whether `rules`'s client may add the record: its ca_key is one of the
 * agent's [sshca] keys (`cfg`: the log is the SSH CA's), and the client
 * may sign with it: the sign operation, and the URI finds a private key
 * in the client's keys on `ctx`. CKR_OK, or CKR_FUNCTION_REJECTED /
 * CKR_KEY_HANDLE_INVALID with err naming the client, the URI and the
 * config. Calls the token (find). */
CK_RV agent_audit_authorize(const agent_rules_t *rules, hc_ctx_t *ctx, const hc_config_t *cfg,
                            const agent_audit_t *rec, hc_err_t *err);
/* Where the agent appends SSH CA records: its own config's [sshca]
 * audit-log (a client's record never says where it goes). */
const char *agent_audit_log(const hc_config_t *cfg);
/* The line to append (no newline; malloc'ed, NULL when out of memory). */
char *agent_audit_line(const agent_audit_t *rec, unsigned peer_uid, int peer_pid,
                       const char *client);
void agent_audit_free(agent_audit_t *rec);

#endif
