/*
 * issue.h: SSH certificates issued by hsmcached (HC_OP_ISSUE, the
 * [client] operation `issue`): the caller is who SO_PEERCRED says; its
 * request (ssh-keygen's -I -n -V -h -O) is read by the SSH CA module's
 * own parser (sshca-plugin/keygen.h) and judged by the module's own
 * policy (sshca_policy_read, sshca_policy_check) with the client's issue
 * keys in place of [sshca]'s (hc_config_setting), its force-options added
 * after the caller's options; the agent builds the certificate
 * (sshcert.h), signs it with the first of [sshca] keys through its
 * embedded core, appends the audit record itself and only then answers.
 * A client with `issue` gets certificates, never a raw signature: the
 * CA key is the agent's to use, not in the client's keys.
 *
 *   issue.c   the request, the policy, the audit record, the signing
 *   serial.c  the durable serial counter
 *   sshcert.c the certificate format
 *
 * Thread-safe: serials are reserved under a process-wide mutex and a
 * lock file; everything else works on the request's own memory.
 */
#ifndef HC_AGENT_ISSUE_H
#define HC_AGENT_ISSUE_H

#include <stdint.h>

#include "agent.h"

/* The counter's file in [core] cache-dir. */
#define AGENT_SERIAL_FILE "sshca-serial"

/* Reserves the next serial (1, 2, ...) in dir/AGENT_SERIAL_FILE: written
 * durably before it is returned, so it is never handed out twice, even
 * when the agent dies before using it. A file that is not one decimal
 * number refuses (fail closed, naming the file). */
CK_RV agent_serial_reserve(const char *dir, uint64_t *serial, hc_err_t *err);

/* Runs one issue request from `cred`'s peer (client `rules`): options
 * `opts` (pairs "LETTER\0VALUE\0", see proto.h) and the public key line
 * `pubkey` (`pubkey_len` bytes, not NUL-terminated). CKR_OK with *cert
 * (the certificate line, malloc'ed) and *serial; or a refusal naming the
 * rule (CKR_FUNCTION_REJECTED), the argument (CKR_ARGUMENTS_BAD) or what
 * failed. Every request whose options and key are well-formed is
 * audited, signed or refused by a rule (malformed ones are refused
 * before, and logged); an audit that cannot be written withholds the
 * certificate. */
CK_RV agent_issue(agent_state_t *st, const agent_rules_t *rules, const struct ucred *cred,
                  const unsigned char *opts, size_t opts_len, const unsigned char *pubkey,
                  size_t pubkey_len, char **cert, uint64_t *serial, hc_err_t *err);

#endif
