/*
 * sshkey.h: public keys in OpenSSH's formats (RFC 4253/5656/8709 wire
 * blobs, "type base64 comment" lines, SHA256 fingerprints), built from
 * DER SubjectPublicKeyInfo. Thread-safe; results are malloc'ed.
 * SSH's business, so the SSH CA module's: hsmcache and hsmcached link it.
 */
#ifndef HC_SSHKEY_H
#define HC_SSHKEY_H

#include <stddef.h>

/* The key's wire blob; NULL for a key type OpenSSH cannot use. */
unsigned char *hc_ssh_blob(const unsigned char *spki, size_t spki_len, size_t *blob_len);
/* "ecdsa-sha2-nistp256 AAAA... comment" (comment may be NULL). */
char *hc_ssh_pubkey_line(const unsigned char *spki, size_t spki_len, const char *comment);
/* "SHA256:..." of a wire blob, as ssh-keygen -l prints it. */
char *hc_ssh_fingerprint(const unsigned char *blob, size_t len);

#endif
