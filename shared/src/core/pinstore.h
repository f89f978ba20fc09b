/*
 * pinstore.h: PINs live in files, never in a host's config.
 *
 * Lookup order for token NAME: $CREDENTIALS_DIRECTORY/hsmcache-pin-NAME
 * (systemd credentials), then STORE/NAME. A file is refused, with the path
 * and the fix, when it is a symlink, not a regular file, writable by group
 * or others, readable by others, readable by group (unless owned by root
 * with one of the process's groups: the shared-service-group layout), or
 * owned by anyone but root or the process's user.
 *
 * Thread-safe (no shared state). PIN bytes are returned in malloc'ed memory
 * that hc_pin_wipe() cleanses and frees.
 */
#ifndef HC_PINSTORE_H
#define HC_PINSTORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmcache.h"

#define HC_PIN_MAX 255

typedef struct hc_pin {
    unsigned char *bytes;
    size_t len;
} hc_pin_t;

/* Identity of one version of a PIN file: any rewrite changes it (a new
 * inode from the atomic rename, or new mtime/ctime/size). */
typedef struct hc_pin_version {
    uint64_t dev, ino, size;
    int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
} hc_pin_version_t;

/* Path of the PIN file that would be used for `token` (credentials first). */
void hc_pin_path(const char *store, const char *token, char *out, size_t size);

/* CKR_OK and the PIN; CKR_USER_PIN_NOT_INITIALIZED when no file exists;
 * CKR_GENERAL_ERROR when the file is refused (err says why and the fix). */
CK_RV hc_pin_read(const char *store, const char *token, hc_pin_t *pin, hc_pin_version_t *ver,
                  hc_err_t *err);
/* Same checks, without reading the PIN. */
CK_RV hc_pin_check(const char *store, const char *token, hc_pin_version_t *ver, hc_err_t *err);
void hc_pin_wipe(hc_pin_t *pin);

/* Why a token's PIN file is or is not used, in parts an operator's table
 * can show ("refused: PATH WHAT (FIX)"); the messages of hc_pin_read and
 * hc_pin_check are made of the same parts. */
typedef enum hc_pin_verdict {
    HC_PIN_USABLE,     /* it would be read */
    HC_PIN_ABSENT,     /* no file (what: strerror) */
    HC_PIN_REFUSED,    /* unsafe owner, mode, type or size: what and fix */
    HC_PIN_UNREADABLE, /* this process cannot reach it (what: strerror) */
} hc_pin_verdict_t;

typedef struct hc_pin_state {
    hc_pin_verdict_t verdict;
    char path[PATH_MAX];     /* the file judged (credentials first) */
    char what[192];          /* after the path: "is readable by others" */
    char fix[PATH_MAX + 96]; /* REFUSED: the command that fixes it,
                              * "chmod 600 PATH"; else "" */
} hc_pin_state_t;

/* Judges `token`'s PIN file by hc_pin_check's rules, without reading the
 * PIN. Thread-safe (no shared state). */
void hc_pin_inspect(const char *store, const char *token, hc_pin_state_t *ps);

/* Atomically replaces STORE/token with `pin` (mode 0600): temp file,
 * fsync, rename, fsync of the directory. Creates STORE (0700) if needed.
 * On failure the old file is untouched and no temp file is left. Two
 * writers at once each put a whole file in place; the later one stays. */
CK_RV hc_pin_write(const char *store, const char *token, const unsigned char *pin, size_t len,
                   hc_err_t *err);
/* The same, but only where STORE/token does not exist: the file is put in
 * place with link(2), which fails on an existing name, so of writers at
 * once exactly one creates it and a file stored meanwhile (another
 * writer's, an operator's `hsmcache pin set`) is never replaced. CKR_OK
 * and *created false when a file was there (nothing written: the caller
 * reads it to compare). */
CK_RV hc_pin_create(const char *store, const char *token, const unsigned char *pin, size_t len,
                    bool *created, hc_err_t *err);

/* A token group has no PIN of its own (each member has its PIN file and
 * rejection mark): CKR_ARGUMENTS_BAD with `err` naming the group, the
 * config line and the members' commands (`hsmcache pin CMD MEMBER`) when
 * `token` is a group of `cfg`, else CKR_OK. */
struct hc_config;
CK_RV hc_pin_not_group(const struct hc_config *cfg, const char *token, const char *cmd,
                       hc_err_t *err);

bool hc_pin_version_equal(const hc_pin_version_t *a, const hc_pin_version_t *b);

#endif
