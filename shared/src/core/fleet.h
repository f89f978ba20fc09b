/*
 * fleet.h: the embedded core's side of hsmcache.h's hc_fleet_lease: a
 * fleet-wide lease on the shared tier's database (sharedtier.h,
 * sharedlease.h), or, without a shared tier, a fleet of one (every lease
 * held). Thread-safety: as hc_sharedtier_lease.
 */
#ifndef HC_FLEET_H
#define HC_FLEET_H

#include <stdbool.h>

#include "hsmcache.h"

/* The transport's fleet_lease (transport.h) for the embedded core. */
CK_RV hc_core_fleet_lease(void *impl, const char *name, unsigned seconds, bool *held,
                          hc_err_t *err);

#endif
