/*
 * agent_link.h: the agent client's plumbing (agent_link.c), shared with
 * its transport members (agent_client.c): connections to hsmcached, the
 * request/reply round trip with its retry rule, and the table that maps
 * this process's object references to the agent's.
 */
#ifndef HC_AGENT_LINK_H
#define HC_AGENT_LINK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/proto.h"
#include "transport.h"

struct conn {
    int fd;
    uint64_t instance;
    uid_t euid; /* who dialed: the agent knows us by that */
    struct conn *next;
};

struct ref {
    size_t tok;
    uint64_t agent_ref, instance;
    hc_obj_identity_t id;
    unsigned char *spki;
    size_t spki_len, sig_len;
};

typedef struct hc_agent {
    char conf_path[4096];
    char socket[108];
    char profile[16];
    int timeout_ms;
    char **tokens;
    size_t ntokens;
    bool cache_enabled;
    pthread_mutex_t lock;
    struct conn *idle;
    struct ref **refs;
    size_t nrefs;
    uint64_t instance; /* the newest agent instance seen */
    /* Mechanism info, asked at every C_SignInit: kept per agent instance
     * (a token's mechanisms do not change while the agent runs). */
    struct mech_memo {
        size_t tok;
        CK_MECHANISM_TYPE type;
        CK_MECHANISM_INFO info;
        uint64_t instance;
    } *memo;
    size_t nmemo;
} hc_agent_t;

/* One request (q's fields set as its op's table entry says, q->obj
 * filled in here): `obj` (0: none) is translated to the agent's
 * reference; templates the agent would refuse are refused before sending
 * (hc_req_check); an op the table marks `retry` is sent again once on a
 * fresh connection when the first one was lost. Returns the agent's rv
 * (its message in err) with its results in *rep, or a transport error;
 * free *rep with hc_rep_free either way. */
CK_RV hc_link_call(hc_agent_t *a, hc_req_t *q, hc_obj_t obj, hc_rep_t *rep, hc_err_t *err);
/* Connections: a new one (HELLO; `names`: keep the token list), an idle
 * one or a new one, back to the idle list, closed, all idle ones closed. */
struct conn *hc_link_conn_new(hc_agent_t *a, bool names, hc_err_t *err);
struct conn *hc_link_conn_take(hc_agent_t *a, hc_err_t *err);
void hc_link_conn_put(hc_agent_t *a, struct conn *c);
void hc_link_conn_close(struct conn *c);
void hc_link_drop_idle(hc_agent_t *a);
/* Our reference's entry, or NULL. */
struct ref *hc_link_ref_get(hc_agent_t *a, hc_obj_t obj);
/* Our reference for an object the agent named in a reply (instance 0:
 * to be found again by identity at its next use). */
hc_obj_t hc_link_ref_intern(hc_agent_t *a, size_t tok, uint64_t instance, const hc_proto_obj_t *o);
/* FIND on connection c; the objects as our references (*objs malloc'ed). */
CK_RV hc_link_find_on(hc_agent_t *a, struct conn *c, size_t tok, const CK_ATTRIBUTE *tmpl,
                      CK_ULONG n, hc_obj_t **objs, size_t *count, bool *lost, hc_err_t *err);

#endif
