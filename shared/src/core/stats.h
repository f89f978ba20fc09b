/*
 * stats.h: counters per token and key, kept in a small file per process
 * (CACHE_DIR/stats/PROFILE-PID.stats, mmap'ed, mode 0600) so that
 * `hsmcache stats` can read them while the host runs and after it exits.
 * Counters are updated with relaxed atomic adds: lock-free, thread-safe.
 * With no usable cache dir the counters live in anonymous memory.
 */
#ifndef HC_STATS_H
#define HC_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmcache.h"

#define HC_STATS_MAGIC 0x48435354u /* "HCST" */
#define HC_STATS_VERSION 7u
#define HC_STATS_TOKENS 32
#define HC_STATS_KEYS 128
#define HC_STATS_MEMBERS 32
#define HC_STATS_BUCKETS 12

/* Upper bounds (ms) of the HSM latency buckets; the last is +Inf. */
extern const unsigned hc_stats_bucket_ms[HC_STATS_BUCKETS - 1];

typedef struct hc_token_stats {
    char name[64];
    uint64_t sign_requests;   /* hc_sign calls */
    uint64_t cache_hits_mem;  /* answered by the in-memory LRU */
    uint64_t cache_hits_disk; /* answered by the persistent store */
    uint64_t cache_misses;    /* went to the HSM */
    uint64_t hsm_signs;       /* C_Sign calls made */
    uint64_t hsm_errors;      /* module calls that failed, each logged with
                                 its call and CKR_ name (p11call.h) */
    uint64_t recoveries;      /* pool resets after a lost session/token */
    uint64_t logins;          /* C_Login calls made */
    uint64_t login_failures;
    uint64_t hsm_latency_us; /* sum over hsm_signs */
    uint64_t latency[HC_STATS_BUCKETS];
    uint64_t cache_rejected; /* persistent entries whose tag failed: dropped */
} hc_token_stats_t;

typedef struct hc_key_stats {
    char token[64];
    char label[64];
    uint64_t sign_requests, cache_hits, hsm_signs;
} hc_key_stats_t;

/* A plugin's own values (hsmcache.h hc_stats_register; the PowerDNS
 * presigner's "presign"): gauges of the process, shown while it lives and
 * `shown` is 1 (hc_stats_collect keeps one live process's area: today
 * only the presigner has one). Names are checked at registration and
 * again when rendered (another process wrote the file). */
typedef struct hc_plugin_stat {
    char name[24]; /* [a-z0-9_] */
    char unit[8];  /* printed after the value in text; "" */
    uint64_t value;
} hc_plugin_stat_t;
typedef struct hc_plugin_area {
    char group[16]; /* [a-z0-9_]; "" = none registered */
    uint64_t shown;
    uint32_t n;
    hc_plugin_stat_t v[HC_PLUGIN_STATS];
} hc_plugin_area_t;

/* A member of a token group (group.h), as its group routes to it: the
 * counters summed over every file, the gauges over live processes only.
 * Its module calls, errors and latency are in its own token entry too
 * (which an agent's client may not be shown). */
typedef struct hc_member_stats {
    char group[64];
    char member[64];
    uint64_t routed;    /* group operations sent to it */
    uint64_t served;    /* ... it answered (an answer, not a failure) */
    uint64_t signs;     /* ... of those, signatures it made */
    uint64_t errors;    /* ... that failed on it with a device,
                                 session, timeout or PIN error, or with
                                 an error another member did not give */
    uint64_t failovers; /* ... of those, run again on another member */
    uint64_t inflight;  /* gauge: group operations on it now */
    uint64_t up;        /* gauge: 1 while this process routes to it */
    uint64_t down;      /* gauge: 1 while it is down for this process */
} hc_member_stats_t;

/* The shared signature tier (sharedtier.h): counters, summed over all
 * files, and gauges (1 or 0 per process), summed over live processes. */
typedef struct hc_shared_stats {
    uint64_t enabled;      /* 1: this process has the tier */
    uint64_t reading;      /* gauge: lookups use the tier */
    uint64_t skipping;     /* gauge: the breaker is open, lookups skip it */
    uint64_t writing;      /* gauge: the writer's connection is up */
    uint64_t purging;      /* gauge: holds the purge lease (sharedpurge.h) */
    uint64_t hits;         /* rows verified with the public key, served */
    uint64_t misses;       /* lookups the tier had no live row for */
    uint64_t forged;       /* rows that failed verification: never served */
    uint64_t skipped;      /* lookups not made: breaker open, no idle
                                 connection, or the read failed */
    uint64_t written;      /* signatures written by the writer */
    uint64_t write_errors; /* batches the database refused or lost */
    uint64_t dropped;      /* signatures given up (queue full, failed batch) */
    uint64_t purged;       /* expired rows deleted as the lease holder */
} hc_shared_stats_t;

typedef struct hc_stats_file {
    uint32_t magic, version;
    int32_t pid;
    char profile[16];
    int64_t started;
    uint32_t ntokens, nkeys; /* slots claimed */
    hc_token_stats_t tokens[HC_STATS_TOKENS];
    hc_key_stats_t keys[HC_STATS_KEYS];
    hc_plugin_area_t plugin;
    hc_shared_stats_t shared;
    uint32_t nmembers; /* slots claimed */
    hc_member_stats_t members[HC_STATS_MEMBERS];
} hc_stats_file_t;

typedef struct hc_stats {
    hc_stats_file_t *f;
    hc_token_stats_t sink; /* counts nobody reads, when the table is full */
    bool mapped;
    char path[4096];
    void *key_lock; /* pthread_mutex_t*, guards claiming key slots */
} hc_stats_t;

/* This process's plugin area in the stats file (transport.h
 * plugin_stats); hsmcache.h's hc_stats_register hands it to a plugin. */
hc_plugin_area_t *hc_stats_plugin(hc_stats_t *s);

/* Opens this process's stats file under cache_dir (or anonymous memory). */
void hc_stats_open(hc_stats_t *s, const char *cache_dir, const char *profile);
void hc_stats_close(hc_stats_t *s);
hc_token_stats_t *hc_stats_token(hc_stats_t *s, const char *name);
/* The slot for (token, label); NULL when the table is full. */
hc_key_stats_t *hc_stats_key(hc_stats_t *s, const char *token, const char *label);
void hc_stats_latency(hc_token_stats_t *t, uint64_t us);
/* The slot for member `member` of group `group`; NULL when the table is
 * full. Thread-safe. */
hc_member_stats_t *hc_stats_member(hc_stats_t *s, const char *group, const char *member);

#define HC_INC(field) __atomic_fetch_add(&(field), 1, __ATOMIC_RELAXED)
#define HC_ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define HC_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* Sums every stats file in cache_dir/stats (live and exited processes)
 * into `sum`; returns the number of files read, *live = those whose
 * process still runs. */
int hc_stats_collect(const char *cache_dir, hc_stats_file_t *sum, int *live);
/* Renders `f` as text or Prometheus exposition into a malloc'ed string. */
char *hc_stats_render(const hc_stats_file_t *f, bool prometheus, int files, int live);

#endif
