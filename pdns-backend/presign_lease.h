/*
 * presign_lease.h: one presigner per token across a fleet. Nodes sharing
 * [shared-cache] would each sign next week's version of the same RRsets;
 * instead, within a pass, a node signs a token's inputs only while it
 * holds the fleet's lease 'presign:TOKEN' (hsmcache.h hc_fleet_lease: a
 * row on the shared database's primary). A node that finds the lease
 * held elsewhere skips that token's inputs for the pass: the holder's
 * signatures reach it through the shared tier (at query time, or in its
 * own later pass, where they count as done without the card).
 *
 * Resuming is derived from the rows already present: every renewal first
 * writes the holder's queued signatures to the shared table, and the
 * lease is renewed before each card signature that follows another, so
 * a node that takes over finds all of a dead holder's signatures but at
 * most the last one, and signs only the rest. The lease lasts
 * `lease_s` (the presigner uses three presign-intervals): a holder that
 * dies is taken over once it has expired; a pass that ends gives its
 * leases back at once, so another node's pass may take them.
 *
 * Without a shared tier every lease is held (a fleet of one). If the
 * database fails, the node presigns the token alone for the pass (its
 * own local tiers need next week's signatures either way), logged once.
 *
 * Thread-safety: a hc_presign_leases_t belongs to one pass on one thread.
 */
#ifndef HC_PRESIGN_LEASE_H
#define HC_PRESIGN_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmcache.h"

#define HC_PRESIGN_LEASE_TOKENS 64

typedef struct hc_presign_leases {
    hc_ctx_t *ctx;
    unsigned lease_s;
    size_t n;
    struct {
        char token[64];
        int state;       /* LEASE_* in presign_lease.c */
        int64_t renewed; /* CLOCK_MONOTONIC s of the last take or renewal */
    } t[HC_PRESIGN_LEASE_TOKENS];
} hc_presign_leases_t;

/* A pass begins: no lease taken yet. */
void hc_presign_leases_begin(hc_presign_leases_t *l, hc_ctx_t *ctx, unsigned lease_s);
/* Whether this node may sign `token`'s next-week inputs now: the lease is
 * taken on the token's first input of the pass, renewed when `signed_last`
 * (the pass's previous input cost a card signature, which the renewal
 * writes to the shared table first: the write is the process's, whatever
 * the token) or a third of the lease has passed.
 * false: another node holds it (or more than HC_PRESIGN_LEASE_TOKENS
 * tokens in one pass): skip the input. */
bool hc_presign_lease_may(hc_presign_leases_t *l, const char *token, bool signed_last);
/* The pass ends: every lease it holds is given back. */
void hc_presign_leases_end(hc_presign_leases_t *l);

#endif
