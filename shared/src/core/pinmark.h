/*
 * pinmark.h: remembers, on disk, that a token rejected a PIN.
 *
 * Cards lock after three wrong tries and short-lived hosts (every
 * ssh-keygen run) start fresh, so the rejection must outlive the process:
 * DIR/pin-rejected/TOKEN holds the identity of the rejected PIN file
 * version (all zeros: a caller's PIN, tried while the store had no file),
 * what the token answered, when, and which login wrote it.
 * A login attempt takes DIR/pin-rejected/TOKEN.lock (flock) around
 * "check mark, C_Login, write mark", so that exactly one try is made per
 * PIN file version across all processes sharing DIR.
 *
 * Fail closed: when the lock cannot be taken, the directory is not
 * writable or an existing mark cannot be read, the caller must not log in
 * (hc_pinmark_lock / hc_pinmark_read say why, naming the path).
 *
 * Several uids on one token (embedded mode): a DIR with the setgid bit
 * (mode 2770, one group) makes pin-rejected/ 2770 and its files 0660, so
 * every member can take the lock and write the mark.
 *
 * Thread-safe (no shared state; callers serialize per token).
 */
#ifndef HC_PINMARK_H
#define HC_PINMARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/pinstore.h"

/* Takes the per-token cross-process lock; returns an fd to pass to
 * hc_pinmark_unlock, or -1 when DIR is unusable for marks (missing and
 * not creatable, not writable, lock not openable): then `why` (if not
 * NULL) names the path and the error, and no login may be tried. */
int hc_pinmark_lock(const char *dir, const char *token, char *why, size_t whysize);
/* The same lock, waited for at most wait_ms (-1 also when it is still held
 * then, `why` saying so): for a caller that must not block long, such as
 * a watchdog runner reporting a late C_Login while another process holds
 * the lock across its own login. */
int hc_pinmark_lock_within(const char *dir, const char *token, unsigned wait_ms, char *why,
                           size_t whysize);
void hc_pinmark_unlock(int fd);

/* 1 when the mark names exactly this PIN file version (*rv and *when say
 * what the token answered and when), 0 when there is no mark or it names
 * another version, -1 when a mark exists but cannot be read (`why` set).
 * rv, when, why may be NULL. */
int hc_pinmark_read(const char *dir, const char *token, const hc_pin_version_t *ver, CK_RV *rv,
                    time_t *when, char *why, size_t whysize);
/* The same, and *id (may be NULL): which login wrote it (hc_pinmark_set_id). */
int hc_pinmark_read_id(const char *dir, const char *token, const hc_pin_version_t *ver, CK_RV *rv,
                       time_t *when, uint64_t *id, char *why, size_t whysize);
/* hc_pinmark_read() == 1 (an unreadable mark counts as no match). */
bool hc_pinmark_matches(const char *dir, const char *token, const hc_pin_version_t *ver, CK_RV *rv,
                        time_t *when);
/* Records the rejection (atomic write); false if it could not be saved. */
bool hc_pinmark_set(const char *dir, const char *token, const hc_pin_version_t *ver, CK_RV rv);
/* The same with `id` (0: none), which tells one mark from another of the
 * same version: the mark of a C_Login whose answer did not come in time
 * carries one, so that its late answer (login.c) changes that mark only,
 * never one another process or login wrote since (processes share the
 * marks). */
bool hc_pinmark_set_id(const char *dir, const char *token, const hc_pin_version_t *ver, CK_RV rv,
                       uint64_t id);
/* Removes the mark: 0, or -1 with errno (ENOENT: there was none). */
int hc_pinmark_clear(const char *dir, const char *token);

#endif
