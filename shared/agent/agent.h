/*
 * agent.h: hsmcached, the core served over a unix socket.
 *
 *   main.c    arguments, socket, signals, accept loop, shutdown
 *   state.c   one loaded config: the embedded contexts (one per profile,
 *             opened on first use) and the compiled [client] rules;
 *             replaced whole on SIGHUP
 *   access.c  who a peer is (SO_PEERCRED -> [client]) and which keys
 *             and operations it may use
 *   serve.c   one thread per connection: read a request, authorize it,
 *             run it on the core, answer
 *   report.c  per-client counters and the stats reply
 *   scope.c   which tokens a client may see; token status at most 1 s old
 *   module_info.c  the Cryptoki version each token's module reports
 *
 * Threads: the accept loop, one per connection, one waiting for signals.
 * `agent_t.lock` guards the current state, connection counts and client
 * counters' table; counters themselves are atomic.
 */
#ifndef HC_AGENT_H
#define HC_AGENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "hsmcache.h"
#include "util/log.h"
#include "proto/proto.h"
#include "transport.h"

/* Counters of one [client] section (kept across reloads, by name). */
typedef struct agent_counts {
    char name[HC_NAME_MAX + 1];
    uint64_t connections, requests, signatures, refused, malformed;
} agent_counts_t;

/* One [client] section, compiled. */
typedef struct agent_rules {
    const hc_client_cfg_t *cfg; /* NULL: the agent's own user (all) */
    void **uris;                /* compiled keys URIs */
    size_t nuris;
    agent_counts_t *counts;
} agent_rules_t;

typedef struct agent agent_t;

typedef struct agent_state {
    agent_t *agent;
    hc_config_t *cfg;
    uint64_t instance;    /* random, never 0: clients' references
                                     are valid for one instance */
    pthread_mutex_t lock; /* opening contexts */
    hc_ctx_t *ctx[HC_P_COUNT];
    agent_rules_t *rules;
    size_t nrules;
    agent_rules_t self;
    pthread_mutex_t tokstat_lock; /* guards tokstat (scope.c) */
    struct agent_tokstat *tokstat[HC_P_COUNT];
    pthread_mutex_t modinfo_lock; /* guards the three below (module_info.c) */
    struct hc_modules *modules;   /* the state's own module loads */
    struct agent_modinfo *modinfo;
    size_t nmodinfo;
    int stop_pipe[2]; /* readable once the state is retired */
    unsigned refs;    /* guarded by agent->lock */
} agent_state_t;

struct agent {
    char conf_path[4096];
    char socket[108];
    hc_logger_t log;
    pthread_mutex_t lock;
    pthread_cond_t idle; /* signalled when a connection ends */
    agent_state_t *state;
    size_t nconns;
    struct uid_count { /* open connections per peer uid */
        unsigned uid;
        size_t n;
    } *uids;
    size_t nuids;
    agent_counts_t **counts;
    size_t ncounts;
};

/* state.c */
agent_state_t *agent_state_load(agent_t *ag, hc_err_t *err);
/* The current state with a reference held; release with agent_state_put. */
agent_state_t *agent_state_get(agent_t *ag);
void agent_state_put(agent_state_t *st);
/* Makes `st` current; the old one is retired (its connections close once
 * their request is answered). */
void agent_state_install(agent_t *ag, agent_state_t *st);
/* The embedded context for a profile id, opened on first use. */
hc_ctx_t *agent_state_ctx(agent_state_t *st, int profile, hc_err_t *err);

/* access.c */
/* The rules for a peer, or NULL when no [client] section lists it. */
agent_rules_t *agent_match_client(agent_state_t *st, const struct ucred *cred);
/* Whether `rules` cover object `obj` of `ctx`. `st`: the status of the
 * object's token when the caller has it, else NULL (it is read: a call
 * to the token). */
bool agent_key_allowed(const agent_rules_t *rules, hc_ctx_t *ctx, hc_obj_t obj,
                       const hc_token_status_t *st);
const char *agent_rules_name(const agent_rules_t *rules);

/* scope.c */
/* The token's status as read at most 1 s ago (one card call per token per
 * second, whoever asks). */
CK_RV agent_token_status(agent_state_t *st, hc_ctx_t *ctx, int profile, size_t tok,
                         hc_token_status_t *out, hc_err_t *err);
/* Whether one of `rules`' keys URIs selects the token `name` (status `st`). */
bool agent_token_allowed(const agent_rules_t *rules, const char *name, const hc_token_status_t *st);
void agent_tokstat_free(agent_state_t *st);

/* module_info.c */
/* The Cryptoki version `module` (a token's module name or path as
 * configured) reports in C_GetInfo; read once per state. An error (err
 * names the module) when it cannot be loaded or answered. */
CK_RV agent_module_version(agent_state_t *st, const char *module, CK_VERSION *v, hc_err_t *err);
void agent_modinfo_free(agent_state_t *st);

/* serve.c */
typedef struct agent_conn_arg {
    agent_t *agent;
    int fd;
    struct ucred cred;
    uint64_t accepted_ms; /* hc_now_ms() at accept */
} agent_conn_arg_t;
void *agent_serve(void *arg);
/* The reply to an unlisted peer's hello (naming its uid and the config),
 * framed in `w`: sent at accept, before the peer has said anything; with
 * `log`, the refusal is also logged. */
bool agent_refusal_frame(agent_t *ag, agent_state_t *st, const struct ucred *cred, bool log,
                         hc_wbuf_t *w);

/* report.c */
agent_counts_t *agent_counts_for(agent_t *ag, const char *name);
/* The stats reply: the core's counters of this cache dir, then clients;
 * for a [client] (rules->cfg set), only its tokens, keys and counters,
 * matched as its requests are (`ctx`, `profile`: the client's; a find on
 * each of its tokens that has key counters). */
char *agent_stats_text(agent_t *ag, agent_state_t *st, const agent_rules_t *rules, hc_ctx_t *ctx,
                       int profile, bool prometheus);

#endif
