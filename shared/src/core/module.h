/*
 * module.h: loads real PKCS#11 modules through p11-kit, by registered
 * module name ("softhsm2") or absolute path. Each module is loaded and
 * initialized once per context, on first use, and finalized at close.
 * p11-kit's managed mode gives us fork safety and lets several users of
 * one module in a process (e.g. pdns and us) initialize it independently.
 *
 * Thread-safe: calls are serialized by the set's own mutex.
 */
#ifndef HC_MODULE_H
#define HC_MODULE_H

#include <stdbool.h>
#include <stddef.h>

#include "hsmcache.h"

typedef struct hc_modules hc_modules_t;

hc_modules_t *hc_modules_new(void);
void hc_modules_free(hc_modules_t *m);
/* The initialized function list for `name_or_path`. */
CK_RV hc_modules_get(hc_modules_t *m, const char *name_or_path, CK_FUNCTION_LIST **out,
                     hc_err_t *err);

/* The library a p11-kit module name stands for, from its p11-kit module
 * file (the directories p11-kit reads); false when there is no file. */
bool hc_module_registered_path(const char *name, char *out, size_t size);

#endif
