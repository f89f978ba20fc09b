/*
 * peer.h: one client connection of hsmcached (a peer), as its thread
 * (serve.c) holds it, and the gates its requests pass (access.c). ("Session"
 * is kept for PKCS#11 sessions: the front's and the pool's.) A peer is
 * owned by its connection's thread: none of these calls is made on one
 * peer from two threads.
 */
#ifndef HC_AGENT_PEER_H
#define HC_AGENT_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "agent.h"
#include "util/err.h"
#include "proto/proto.h"

typedef struct peer {
    agent_t *ag;
    agent_state_t *st;
    int fd;
    struct ucred cred;
    uint64_t accepted_ms;
    bool quiet;           /* refusal at accept not logged (main.c) */
    agent_rules_t *rules; /* NULL: not listed */
    hc_ctx_t *ctx;        /* after HELLO */
    int profile;
    hc_obj_t *allowed;         /* objects already authorized, sorted (freed
                                 * by the owner): a find over thousands of
                                 * keys stays n log n */
    size_t nallowed, callowed; /* used, allocated */
} peer_t;

/* Whether the client may use obj (one of its [client] keys covers it);
 * `st` is obj's token status when the caller has it, else NULL (read, at
 * most 1 s old). An object allowed once is remembered for the connection. */
bool agent_obj_allowed(peer_t *s, hc_obj_t obj, const hc_token_status_t *st);

/* Whether token tok of the peer's profile is the client's (one of its
 * keys URIs selects it). */
bool agent_token_visible(peer_t *s, size_t tok);

/* Counts a refusal for the client and logs "refused WHAT" with its name,
 * uid and pid. */
void agent_log_refusal(peer_t *s, const char *what);

/* Refuses op on obj: logs the key's name, and answers the client with
 * its own reference only (to it, the key is not there). */
CK_RV agent_refuse_key(peer_t *s, const char *op, hc_obj_t obj, hc_err_t *err);

/* The gates request q passes before its handler runs, all from the op
 * table (proto_ops.c): the op's [client] operations bit, the decoder's
 * whitelists (proto_check.h), the client's mechanisms (mech_policy.h),
 * then the op's scope: the token it names must be one the client's keys
 * select (*tok set), the object it references one its keys cover.
 * CKR_OK when it may run; otherwise the refusal, logged and counted. */
CK_RV agent_gate(peer_t *s, const hc_req_t *q, size_t *tok, hc_err_t *err);

#endif
