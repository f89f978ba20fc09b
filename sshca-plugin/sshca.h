/*
 * sshca.h: the SSH CA profile of the PKCS#11 front, for
 * `ssh-keygen -s ca.pub -D hsmcache-sshca.so ...`.
 *
 * Only the keys named in [sshca] keys (and the other halves sharing their
 * CKA_ID) are visible. Before each signature the policy in [sshca] is
 * checked against ssh-keygen's own arguments (/proc/self/cmdline) and the
 * calling user; every attempt, signed or refused, appends one JSON line
 * to the audit log. The audit log failing means no signature (fail
 * closed).
 */
#ifndef SSHCA_H
#define SSHCA_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "hsmcache.h"
#include "log.h"

/* What the host process asked for, from its command line. */
typedef struct sshca_args {
    char *program;        /* basename of /proc/self/exe */
    bool is_keygen;       /* ssh-keygen */
    bool is_agent_helper; /* ssh-agent's ssh-pkcs11-helper */
    const char *identity, *principals, *validity, *serial, *ca_file;
    const char **options; /* -O, repeated */
    size_t noptions;
    bool host_cert, use_agent;
    const char **files;   /* the public keys to certify, in order */
    size_t nfiles;
    char *buf;            /* backing store of all strings */
    size_t buflen;
} sshca_args_t;

typedef struct sshca_key {
    hc_obj_t obj;
    const char *uri;      /* from the config */
    char *fingerprint;    /* SHA256:... of the CA public key */
} sshca_key_t;

typedef struct sshca_state {
    hc_config_t *cfg;
    hc_logger_t log;
    hc_obj_t *visible;
    size_t nvisible;
    sshca_key_t *keys;
    size_t nkeys;
    sshca_args_t args;
    pthread_mutex_t lock;
    size_t attempts;      /* signing attempts so far: index into files */
} sshca_state_t;

/* cmdline.c: parses a NUL-separated argv (as in /proc/self/cmdline). */
int sshca_args_parse(sshca_args_t *a, const char *exe, const char *cmdline,
                     size_t len);
int sshca_args_read_self(sshca_args_t *a);
void sshca_args_free(sshca_args_t *a);

/* validity.c: ssh-keygen -V syntax -> [from, to] (seconds since the
 * epoch); unbounded ends are LLONG_MIN / LLONG_MAX. 0 or -1 (bad). */
int sshca_validity(const char *spec, time_t now, long long *from, long long *to);

/* policy.c: NULL when allowed, else the rule's name; `why` says what
 * failed and how to satisfy it. */
const char *sshca_policy_check(const hc_sshca_cfg_t *cfg, const sshca_args_t *a,
                               time_t now, char *why, size_t size);

/* audit.c: one JSON line for the [sshca] audit log, appended through
 * hc_audit (O_APPEND, flock, fsync; by hsmcached when ctx talks to it).
 * 0 or -1 with errno. `subject_file` may be NULL. */
int sshca_audit(hc_ctx_t *ctx, const sshca_args_t *a, const sshca_key_t *key,
                const char *subject_file, const char *result);
/* Checks that the audit log can be opened for appending. */
int sshca_audit_writable(const char *path);

#endif
