/*
 * pinmark.h: remembers, on disk, that a token rejected a PIN file version.
 *
 * Cards lock after three wrong tries and short-lived hosts (every
 * ssh-keygen run) start fresh, so the rejection must outlive the process:
 * DIR/pin-rejected/TOKEN holds the identity of the rejected PIN file
 * version. A login attempt takes DIR/pin-rejected/TOKEN.lock (flock) around
 * "check mark, C_Login, write mark", so that exactly one try is made per
 * PIN file version across all processes sharing DIR.
 *
 * Thread-safe (no shared state; callers serialize per token).
 */
#ifndef HC_PINMARK_H
#define HC_PINMARK_H

#include <stdbool.h>
#include <time.h>

#include "pinstore.h"

/* Takes the per-token cross-process lock; returns an fd to pass to
 * hc_pinmark_unlock, or -1 if DIR is unusable (then marks are in memory
 * only, and the caller logs that). */
int hc_pinmark_lock(const char *dir, const char *token);
void hc_pinmark_unlock(int fd);

/* true if the mark names exactly this PIN file version; *rv and *when say
 * what the token answered and when. */
bool hc_pinmark_matches(const char *dir, const char *token,
                        const hc_pin_version_t *ver, CK_RV *rv, time_t *when);
/* Records the rejection (atomic write); false if it could not be saved. */
bool hc_pinmark_set(const char *dir, const char *token,
                    const hc_pin_version_t *ver, CK_RV rv);
void hc_pinmark_clear(const char *dir, const char *token);

#endif
