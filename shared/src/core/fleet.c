/*
 * fleet.c: the embedded core's fleet-wide leases (fleet.h).
 */
#include "core/fleet.h"

#include "core/core.h"
#include "core/sigcache.h"

CK_RV hc_core_fleet_lease(void *impl, const char *name, unsigned seconds, bool *held, hc_err_t *err)
{
    hc_core_t *c = impl;
    hc_sharedtier_t *t = c->cache ? hc_sigcache_shared(c->cache) : NULL;
    if (!t) { /* no shared tier: nobody else to share with */
        *held = seconds > 0;
        return CKR_OK;
    }
    return hc_sharedtier_lease(t, name, seconds, held, err);
}
