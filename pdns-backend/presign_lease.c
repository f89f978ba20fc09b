/* presign_lease.c: the presigner's fleet leases (presign_lease.h). */
#include "presign_lease.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

enum { LEASE_NONE, LEASE_HELD, LEASE_ELSEWHERE, LEASE_ALONE };

void hc_presign_leases_begin(hc_presign_leases_t *l, hc_ctx_t *ctx, unsigned lease_s)
{
    memset(l, 0, sizeof *l);
    l->ctx = ctx;
    l->lease_s = lease_s;
}

static void lease_name(char *name, size_t size, const char *token)
{
    snprintf(name, size, "presign:%s", token);
}

bool hc_presign_lease_may(hc_presign_leases_t *l, const char *token, bool signed_last)
{
    size_t i = 0;
    while (i < l->n && strcmp(l->t[i].token, token))
        i++;
    if (i == l->n) {
        if (l->n == HC_PRESIGN_LEASE_TOKENS)
            return false;
        snprintf(l->t[i].token, sizeof l->t[i].token, "%s", token);
        l->n++;
    }
    /* Paced by the monotonic clock: a wall clock stepped back must not
     * make a lease that expired on the database's clock look fresh. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec;
    switch (l->t[i].state) {
    case LEASE_ELSEWHERE: return false;
    case LEASE_ALONE: return true;
    case LEASE_HELD:
        if (!signed_last && now - l->t[i].renewed < (int64_t)l->lease_s / 3)
            return true;
        break;
    }
    char name[96];
    lease_name(name, sizeof name, token);
    bool held = false;
    hc_err_t err = { 0 };
    if (hc_fleet_lease(l->ctx, name, l->lease_s, &held, &err) != CKR_OK) {
        hc_ctx_log(l->ctx, HC_LOG_WARN,
                   "presign: token %s: the fleet's lease %s failed (%s); "
                   "this node presigns the token alone for this pass",
                   token, name, err.msg);
        l->t[i].state = LEASE_ALONE;
        return true;
    }
    if (!held) {
        if (l->t[i].state == LEASE_HELD)
            hc_ctx_log(l->ctx, HC_LOG_WARN,
                       "presign: token %s: lease %s lost to another node "
                       "(this pass stalled longer than the lease); it goes on from here",
                       token, name);
        else
            hc_ctx_log(l->ctx, HC_LOG_DEBUG,
                       "presign: token %s: another node holds lease "
                       "%s; its signatures come through the shared tier",
                       token, name);
        l->t[i].state = LEASE_ELSEWHERE;
        return false;
    }
    l->t[i].state = LEASE_HELD;
    l->t[i].renewed = now;
    return true;
}

void hc_presign_leases_end(hc_presign_leases_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->t[i].state != LEASE_HELD)
            continue;
        char name[96];
        lease_name(name, sizeof name, l->t[i].token);
        bool held;
        hc_err_t err = { 0 };
        if (hc_fleet_lease(l->ctx, name, 0, &held, &err) != CKR_OK)
            hc_ctx_log(l->ctx, HC_LOG_WARN,
                       "presign: lease %s not given back (it expires "
                       "by itself): %s",
                       name, err.msg);
    }
    l->n = 0;
}
