/*
 * sharedfleet.c: what fleet-wide work needs from the shared tier
 * (sharedtier.h): waiting until this process's queued signatures are in
 * the table (sync), and leases (sharedlease.h) taken on a connection of
 * their own, so that neither the keeper's writes nor a lookup waits for
 * them. State and locking: sharedtier_int.h.
 */
#include "core/sharedtier_int.h"

#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/err.h"

#define SYNC_MS 2000

bool hc_sharedtier_sync(hc_sharedtier_t *t, unsigned timeout_ms)
{
    if (!t)
        return true;
    struct timespec until = hc_deadline_in_ms(timeout_ms);
    pthread_mutex_lock(&t->lock);
    uint64_t mine = t->queued;
    t->syncing++;
    pthread_cond_signal(&t->wake);
    while (t->settled < mine && !t->stop &&
           pthread_cond_timedwait(&t->flushed, &t->lock, &until) == 0)
        ;
    t->syncing--;
    bool done = t->settled >= mine;
    pthread_mutex_unlock(&t->lock);
    return done;
}

/* The slot of lease `name` among those held, or nleases. */
static size_t held_slot(const hc_sharedtier_t *t, const char *name)
{
    size_t i = 0;
    while (i < t->nleases && strcmp(t->leases[i], name))
        i++;
    return i;
}

/* Records (held) or forgets (not held) lease `name`; under lease_lock. */
static void note(hc_sharedtier_t *t, const char *name, bool held)
{
    size_t i = held_slot(t, name);
    if (held && i == t->nleases && t->nleases < HC_SHARED_LEASES)
        strcpy(t->leases[t->nleases++], name);
    else if (!held && i < t->nleases)
        memmove(t->leases[i], t->leases[i + 1], (--t->nleases - i) * sizeof t->leases[0]);
}

CK_RV hc_sharedtier_lease(hc_sharedtier_t *t, const char *name, unsigned seconds, bool *held,
                          hc_err_t *err)
{
    *held = false;
    if (!hc_valid_lease_name(name))
        return hc_err(err, CKR_ARGUMENTS_BAD,
                      "shared cache: lease name '%s' has a "
                      "character outside [A-Za-z0-9._:-] or is too long",
                      name);
    pthread_mutex_lock(&t->lease_lock);
    /* A lease the caller does not hold yet counts against the limit: a
     * lease taken that could not be given back at the end would stay
     * taken until it expires. */
    if (seconds && held_slot(t, name) == t->nleases && t->nleases == HC_SHARED_LEASES) {
        pthread_mutex_unlock(&t->lease_lock);
        return hc_err(err, CKR_GENERAL_ERROR,
                      "shared cache: lease %s: this process holds "
                      "%d leases already",
                      name, HC_SHARED_LEASES);
    }
    hc_sharedtier_sync(t, SYNC_MS);
    CK_RV rv = CKR_OK;
    if (!t->lease_db && !(t->lease_db = hc_db_connect(&t->cfg, &t->cfg.write, CONNECT_MS, err)))
        rv = CKR_DEVICE_ERROR;
    if (rv == CKR_OK)
        rv = seconds ? hc_lease_take(t->lease_db, name, t->holder, seconds, held, err)
                     : hc_lease_release(t->lease_db, name, t->holder, err);
    if (rv == CKR_OK) {
        note(t, name, *held);
    } else if (t->lease_db) {
        hc_db_close(t->lease_db); /* unknown state: the next call opens another */
        t->lease_db = NULL;
    }
    pthread_mutex_unlock(&t->lease_lock);
    return rv;
}

void hc_sharedfleet_free(hc_sharedtier_t *t)
{
    pthread_mutex_lock(&t->lease_lock);
    for (size_t i = 0; t->lease_db && i < t->nleases; i++) {
        hc_err_t err = { 0 };
        if (hc_lease_release(t->lease_db, t->leases[i], t->holder, &err) != CKR_OK)
            hc_log(t->log, HC_LOG_WARN,
                   "shared cache: lease %s not given back (it "
                   "expires by itself): %s",
                   t->leases[i], err.msg);
    }
    t->nleases = 0;
    hc_db_close(t->lease_db);
    t->lease_db = NULL;
    pthread_mutex_unlock(&t->lease_lock);
}
