/* rrsig.c: reading and moving the validity period of a signing input. */
#include "rrsig.h"

#include <string.h>

#define OFF_EXPIRATION 8
#define OFF_INCEPTION 12
#define OFF_SIGNER 18

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static bool known_algorithm(unsigned a)
{
    /* RSASHA1, RSASHA1-NSEC3, RSASHA256, RSASHA512, ECDSA P-256/P-384,
     * Ed25519, Ed448 */
    return a == 5 || a == 7 || a == 8 || a == 10 || a == 13 || a == 14 || a == 15 || a == 16;
}

bool hc_rrsig_times(const unsigned char *in, size_t len, uint32_t *inception, uint32_t *expiration)
{
    if (len < OFF_SIGNER + 2 || !known_algorithm(in[2]))
        return false;
    size_t pos = OFF_SIGNER, name_len = 0;
    for (;;) {
        if (pos >= len)
            return false;
        unsigned label = in[pos];
        if (label > 63) /* compression is not allowed in signing input */
            return false;
        name_len += label + 1;
        if (name_len > 255)
            return false;
        pos += label + 1;
        if (label == 0)
            break;
    }
    if (pos >= len) /* no RRset after the RDATA */
        return false;
    *expiration = get32(in + OFF_EXPIRATION);
    *inception = get32(in + OFF_INCEPTION);
    return true;
}

void hc_rrsig_shift(const unsigned char *in, size_t len, unsigned char *out, uint32_t delta)
{
    memcpy(out, in, len);
    put32(out + OFF_EXPIRATION, get32(in + OFF_EXPIRATION) + delta);
    put32(out + OFF_INCEPTION, get32(in + OFF_INCEPTION) + delta);
}
