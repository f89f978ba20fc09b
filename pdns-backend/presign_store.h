/*
 * presign_store.h: the signing inputs PowerDNS asked us to sign, kept in
 * LMDB at CACHE_DIR/presign.mdb (mode 0600) so that the presigner knows,
 * across restarts, which RRsets to sign for next week. One record per
 * (key, mechanism, input); inputs are public DNS data, like signatures.
 * Thread-safe (LMDB transactions); shared by the processes of one user.
 */
#ifndef HC_PRESIGN_STORE_H
#define HC_PRESIGN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmcache.h"

typedef struct hc_presign_input {
    char token[64];        /* hsmcache token name */
    unsigned char id[128]; /* the private key's CKA_ID ... */
    size_t idlen;
    char label[256];          /* ... and CKA_LABEL */
    CK_MECHANISM_TYPE mech;   /* what PowerDNS signed with */
    CK_MECHANISM_TYPE digest; /* its C_Digest before CKM_ECDSA, or 0 */
    int64_t last_seen;        /* Unix time PowerDNS last asked */
    unsigned char *msg;       /* the signing input (malloc'ed) */
    size_t len;
} hc_presign_input_t;

typedef struct hc_pstore hc_pstore_t;

/* NULL (and errno) when CACHE_DIR/presign.mdb cannot be opened. */
hc_pstore_t *hc_pstore_open(const char *cache_dir);
void hc_pstore_close(hc_pstore_t *s);

/* true when `in` is recorded and was seen within the last day: nothing
 * to write. One read. */
bool hc_pstore_fresh(hc_pstore_t *s, const hc_presign_input_t *in, int64_t now);
/* Records inputs seen at `now` in one transaction (those not fresh);
 * false when the write failed. */
bool hc_pstore_record(hc_pstore_t *s, const hc_presign_input_t *in, size_t n, int64_t now);

/* Every recorded input whose RRSIG inception is `inception`, in an array
 * (*out, malloc'ed; free with hc_pstore_free_inputs). Returns the count. */
size_t hc_pstore_load(hc_pstore_t *s, uint32_t inception, hc_presign_input_t **out);
void hc_pstore_free_inputs(hc_presign_input_t *in, size_t n);

/* Forgets inputs last seen before `cutoff`; returns how many. */
size_t hc_pstore_forget(hc_pstore_t *s, int64_t cutoff);

#endif
