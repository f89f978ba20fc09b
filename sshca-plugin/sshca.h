/*
 * sshca.h: the SSH CA profile of the PKCS#11 front, for
 * `ssh-keygen -s ca.pub -D hsmcache-sshca.so ...`.
 *
 * Only the keys named in [sshca] keys (and the other halves sharing their
 * CKA_ID) are visible. Before each signature the policy in [sshca] is
 * checked against the calling user and what ssh-keygen will put in the
 * certificate: its own arguments (/proc/self/cmdline) read as the
 * installed ssh-keygen reads them (keygen.h), after checking that the
 * process is that ssh-keygen. Every attempt, signed or refused, appends
 * one JSON line to the audit log. The audit log failing means no
 * signature (fail closed).
 */
#ifndef SSHCA_H
#define SSHCA_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#include "keygen.h"
#include "hsmcache.h"

/* The process the module is loaded in, and what its command line asks
 * (host.c). */
typedef struct sshca_args {
    char *program;        /* basename of /proc/self/exe */
    char *exe;            /* /proc/self/exe */
    bool is_keygen;       /* the installed /usr/bin/ssh-keygen, checked */
    bool is_agent_helper; /* the installed ssh-agent ssh-pkcs11-helper, checked */
    char host_why[320];   /* why neither (the name, path, owner or version at fault) */
    char release[32];     /* ssh-keygen's, from its binary ("9.2p1") */
    time_t now;           /* when the module loaded: ssh-keygen's -V clock */
    bool parsed;          /* req holds ssh-keygen's reading of its argv */
    size_t nforced;       /* the last nforced of req.raw_options are the
                             policy's force-options, added by hsmcached (0
                             in the module: ssh-keygen's argv is the caller's) */
    char parse_why[320];  /* else why not */
    sshca_request_t req;
} sshca_args_t;

/* A list of names from the config; borrowed. */
typedef struct sshca_list {
    const char *const *items;
    size_t n;
} sshca_list_t;

/* The signing rules, the one place that says what [sshca]'s policy keys
 * mean (the core keeps them as config_keys.c's rows, by name):
 * sshca_policy_read fills it from the module's context section
 * (hsmcache.h hc_setting_*), or for hsmcached from its config with a
 * [client]'s issue keys in their place. Lists borrowed from their owner. */
typedef struct sshca_policy {
    bool require_validity;      /* -V must be given */
    long long max_validity_s;   /* 0: no limit */
    bool require_principals;    /* -n must be given */
    sshca_list_t allowed_users; /* calling user names; empty: anyone */
    sshca_list_t allowed_groups;
    bool host_certs;  /* -h allowed */
    bool allow_agent; /* signing from ssh-agent's helper */
    /* Each principal must be one of these ("%u": the caller's own user
     * name); empty: any. */
    sshca_list_t allowed_principals;
    /* The -O option names a caller may give (before any '='); empty: any. */
    sshca_list_t allowed_options;
    /* -O options every certificate gets, after the caller's. */
    sshca_list_t force_options;
} sshca_policy_t;

/* Where sshca_policy_read gets the keys: getters with hc_setting_*'s
 * contract (CKR_OK, or an error naming the section and key), over `src`. */
typedef struct sshca_settings {
    CK_RV (*flag)(const void *src, const char *key, bool *out, hc_err_t *err);
    CK_RV (*number)(const void *src, const char *key, long long *out, hc_err_t *err);
    CK_RV (*list)(const void *src, const char *key, const char *const **items, size_t *n,
                  hc_err_t *err);
    const void *src;
} sshca_settings_t;

/* Who runs it, for allowed-users / allowed-groups. */
typedef struct sshca_caller {
    unsigned uid;
    char user[64]; /* "" when the uid has no name */
    char **groups; /* the names of its gid and supplementary groups */
    size_t ngroups;
} sshca_caller_t;

typedef struct sshca_key {
    hc_obj_t obj;
    const char *uri;   /* from the config */
    char *fingerprint; /* SHA256:... of the CA public key */
} sshca_key_t;

typedef struct sshca_state {
    sshca_policy_t policy; /* from the context's [sshca] section */
    const char *audit_log; /* [sshca] audit-log, the context's: where
                                   hc_audit appends embedded */
    hc_obj_t *visible;
    size_t nvisible;
    sshca_key_t *keys;
    size_t nkeys;
    sshca_args_t args;
    sshca_caller_t caller;
    pthread_mutex_t lock;
    size_t attempts; /* signing attempts so far: index into files */
} sshca_state_t;

/* host.c: this process: its binary (path, owner, mode, the same inode
 * as the installed file, the OpenSSH release inside it) and its
 * command line read as that release reads it. -1 only when /proc cannot
 * be read; a host that is not trusted is recorded in a->host_why. Called
 * once, from the module's init. */
int sshca_args_read_self(sshca_args_t *a);
void sshca_args_free(sshca_args_t *a);
/* Only root can change it: owned by root, not writable by others, nor by
 * a group other than root's. */
bool sshca_root_only(const struct stat *st);
/* Every directory above absolute `path`, up to "/", is a directory (not a
 * link) only root can change (sshca_root_only). 0, or -1 with `why`
 * naming the first that is not. */
int sshca_root_dirs(const char *path, char *why, size_t size);
/* dpkg.c: the OpenSSH release of the running ssh-keygen (`exe_fd`: its
 * /proc/self/exe), which dpkg installed with exactly these bytes. 0, or
 * -1 with `why`. */
int sshca_dpkg_release(int exe_fd, char *release, size_t size, char *why, size_t wsize);
/* The calling user: real uid, its name and its groups' names. 0 or -1.
 * Uses getpwuid/getgrgid: call once, from the module's init. */
int sshca_caller_self(sshca_caller_t *c);
void sshca_caller_free(sshca_caller_t *c);

/* policy.c: the policy's keys, each by name from `from` (lists borrowed
 * from its owner). CKR_OK, or the first getter's error. */
CK_RV sshca_policy_read(const sshca_settings_t *from, sshca_policy_t *p, hc_err_t *err);
/* NULL when allowed, else the rule's name; `why` says what
 * failed and how to satisfy it. The rules, in order: allowed-users /
 * allowed-groups, the host and its arguments, host-certs,
 * require-principals, allowed-principals (each principal one of the list,
 * "%u" the caller's user name), allowed-options (each -O the caller gave,
 * by name), force-options (the certificate's options must be what they
 * are with force-options added after the caller's), max-validity /
 * require-validity. Pure (reads only its arguments): thread-safe. */
const char *sshca_policy_check(const sshca_policy_t *cfg, const sshca_caller_t *who,
                               const sshca_args_t *a, char *why, size_t size);

/* audit.c: one JSON line for the audit log `log` ([sshca] audit-log),
 * appended through hc_audit (O_APPEND, flock, fsync; by hsmcached, to its
 * own log, when ctx talks to it): the certificate for the `index`th key
 * file (its serial), or the refusal. 0 or -1 with errno. */
int sshca_audit(hc_ctx_t *ctx, const char *log, const sshca_caller_t *who, const sshca_args_t *a,
                const sshca_key_t *key, size_t index, const char *result);
/* Checks that the audit log can be opened for appending. */
int sshca_audit_writable(const char *path);

#endif
