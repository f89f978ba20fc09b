/*
 * presign.h: keeps PowerDNS's weekly signature turnover off the HSM's
 * critical path. The PowerDNS front records every RRSIG signing input it
 * signs (presign_store.h); a background thread, from `presign-lead`
 * before each weekly boundary (Thursday 00:00 UTC), signs next week's
 * version of every input seen this week (inception and expiration one
 * week later) through the pool as background work, at most
 * `presign-rate` HSM signatures per second, into the persistent cache.
 * What is cached already counts as done, so a restart resumes the work.
 * Inputs not seen for two weeks are forgotten; expired cache entries are
 * purged. One process per cache dir presigns at a time (a lock file),
 * and, with [shared-cache], one node of the fleet per token (a lease:
 * presign_lease.h), the others finding its signatures in the shared tier.
 */
#ifndef HC_PRESIGN_H
#define HC_PRESIGN_H

#include <stddef.h>

#include "hsmcache.h"

typedef struct hc_presigner hc_presigner_t;

/* NULL when presigning is off ([pdns] presign = no) or cannot run (the
 * reason is logged). Thread-safe to record into from any thread. */
hc_presigner_t *hc_presigner_start(hc_ctx_t *ctx);
/* Stops the thread (finishing the signature in progress) and frees. */
void hc_presigner_stop(hc_presigner_t *p);

/* PowerDNS had `key` sign signing input `msg` with `mech` (after hashing
 * it with `digest` when not 0). */
void hc_presigner_record(hc_presigner_t *p, hc_obj_t key, CK_MECHANISM_TYPE mech,
                         CK_MECHANISM_TYPE digest, const unsigned char *msg, size_t len);

#endif
