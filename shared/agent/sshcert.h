/*
 * sshcert.h: OpenSSH certificates as hsmcached builds them for the issue
 * operation (OpenSSH PROTOCOL.certkeys): the subject's public key line
 * read and checked field by field, the certificate's to-be-signed body,
 * and the CA's signature in SSH wire form. Pure functions of their
 * arguments (no files, no clock, no randomness: the caller gives the
 * nonce): thread-safe.
 */
#ifndef HC_AGENT_SSHCERT_H
#define HC_AGENT_SSHCERT_H

#include <stddef.h>
#include <stdint.h>

#include "keygen.h"

/* A growable byte buffer; `failed` once out of memory. */
typedef struct agent_bytes {
    unsigned char *p;
    size_t len, cap;
    int failed;
} agent_bytes_t;
void agent_bytes_free(agent_bytes_t *b);

/* "TYPE BASE64 [COMMENT]" (one line, at most `len` bytes): 0 and the
 * key's wire blob (malloc'ed) with its type, or -1 and `why` naming what
 * is wrong. Only ssh-ed25519, ecdsa-sha2-nistp256/384/521 and ssh-rsa
 * (2048 to 16384 bits) keys, every field checked, nothing after them. */
int agent_ssh_pubkey_read(const char *line, size_t len, unsigned char **blob, size_t *blob_len,
                          char *type, size_t tsize, char *why, size_t wsize);

/* The certificate body for key `blob` (of `type`) up to its signature:
 * cert type, nonce (32 bytes), the key's fields, serial, user/host
 * (r->host), key id, principals, validity, critical options and
 * extensions (r->options, as ssh-keygen encodes them), reserved, the CA
 * key's blob. 0, or -1 when out of memory. */
int agent_cert_tbs(const char *type, const unsigned char *blob, size_t blob_len,
                   const sshca_request_t *r, uint64_t serial, const unsigned char nonce[32],
                   const unsigned char *ca_blob, size_t ca_len, agent_bytes_t *out);

/* How the CA key (its blob's type) signs: the PKCS#11 mechanism, the SSH
 * signature algorithm, the hash the agent applies first (NID, 0: none:
 * the mechanism hashes). -1 for a CA key type not supported here. */
typedef struct agent_ca_alg {
    unsigned long mechanism;
    const char *ssh_name;
    int hash_nid;
    size_t half; /* ECDSA: the length of r and of s; 0 otherwise */
} agent_ca_alg_t;
int agent_ca_alg(const unsigned char *ca_blob, size_t ca_len, agent_ca_alg_t *alg);

/* Appends the signature field (string(string alg, string sig)) for the
 * token's raw signature `sig` (ECDSA: r || s). 0, or -1 when `sig` has
 * the wrong length or out of memory. */
int agent_cert_sign_field(const agent_ca_alg_t *alg, const unsigned char *sig, size_t sig_len,
                          agent_bytes_t *out);

/* "TYPE-cert-v01@openssh.com BASE64 COMMENT" for the whole certificate;
 * malloc'ed, NULL when out of memory. */
char *agent_cert_line(const char *type, const agent_bytes_t *cert, const char *comment);

#endif
