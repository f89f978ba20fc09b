/*
 * rrsig.h: PowerDNS's signing input for an RRset (RFC 4034 3.1.8.1): the
 * RRSIG RDATA without the signature (type covered, algorithm, labels,
 * original TTL, expiration, inception, key tag, signer name) followed by
 * the RRset in canonical form. Within one week PowerDNS's input for an
 * RRset is fixed; next week's differs only in inception and expiration,
 * both 604800 s later.
 */
#ifndef HC_RRSIG_H
#define HC_RRSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HC_WEEK 604800u

/* The validity period of a signing input; false unless `in` starts with
 * a well-formed RRSIG RDATA prefix (a known DNSSEC algorithm, a signer
 * name in uncompressed wire form) followed by at least one byte. */
bool hc_rrsig_times(const unsigned char *in, size_t len, uint32_t *inception, uint32_t *expiration);

/* Copies `in` to `out` (len bytes) with inception and expiration moved
 * by `delta` seconds. `in` must have passed hc_rrsig_times. */
void hc_rrsig_shift(const unsigned char *in, size_t len, unsigned char *out, uint32_t delta);

#endif
