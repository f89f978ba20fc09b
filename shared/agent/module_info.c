/*
 * module_info.c: the Cryptoki version each token's module reports
 * (C_GetInfo). It decides whether the agent may name attributes that
 * version 2.40 added (CKA_DESTROYABLE) in a template it completes: a
 * module older than that refuses a template holding a type it does not
 * know (CKR_ATTRIBUTE_TYPE_INVALID), which would make every generation
 * fail. Read once per module per agent state, through the state's own
 * load of the module (module.h: p11-kit's managed mode, so the module is
 * initialized once per process however many load it), and kept for the
 * state's life. The core keeps no module info (its loads are per
 * context and private to it).
 *
 * Thread-safe: agent_state_t.modinfo_lock guards the list and the load
 * set's creation; no module call is made under it.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "util/err.h"
#include "core/module.h"
#include "core/p11call.h"

#define MODINFO_MAX 64

struct agent_modinfo {
    char module[PATH_MAX];
    CK_VERSION v;
};

void agent_modinfo_free(agent_state_t *st)
{
    hc_modules_free(st->modules);
    free(st->modinfo);
    pthread_mutex_destroy(&st->modinfo_lock);
}

CK_RV agent_module_version(agent_state_t *st, const char *module, CK_VERSION *v, hc_err_t *err)
{
    pthread_mutex_lock(&st->modinfo_lock);
    for (size_t i = 0; i < st->nmodinfo; i++)
        if (!strcmp(st->modinfo[i].module, module)) {
            *v = st->modinfo[i].v;
            pthread_mutex_unlock(&st->modinfo_lock);
            return CKR_OK;
        }
    if (!st->modules)
        st->modules = hc_modules_new();
    hc_modules_t *mods = st->modules;
    pthread_mutex_unlock(&st->modinfo_lock);
    if (!mods)
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    CK_FUNCTION_LIST *fl;
    CK_RV rv = hc_modules_get(mods, module, &fl, err);
    CK_INFO info;
    memset(&info, 0, sizeof info);
    /* Through the checked layer, as every call into a module (p11call.h);
     * the caller logs the error it returns. */
    hc_p11_t p = { fl, NULL, module, NULL, NULL, NULL };
    if (rv == CKR_OK)
        rv = hc_p11_get_info(&p, &info, err);
    if (rv != CKR_OK)
        return rv;
    *v = info.cryptokiVersion;
    pthread_mutex_lock(&st->modinfo_lock);
    if (st->nmodinfo < MODINFO_MAX) {
        if (!st->modinfo)
            st->modinfo = calloc(MODINFO_MAX, sizeof *st->modinfo);
        if (st->modinfo) {
            snprintf(st->modinfo[st->nmodinfo].module, sizeof st->modinfo->module, "%s", module);
            st->modinfo[st->nmodinfo++].v = *v;
        }
    }
    pthread_mutex_unlock(&st->modinfo_lock);
    return CKR_OK;
}
