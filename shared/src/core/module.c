/* module.c: p11-kit module loading, by name or path, once per context;
 * a module whose function list the core cannot use is refused here. */
#include "core/module.h"

#include <dlfcn.h>
#include <limits.h>
#include <p11-kit/p11-kit.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "core/p11call.h"
#include "core/p11kit_rules.h"
#include "core/watchdog.h"

struct loaded {
    char *key; /* name or path as configured */
    CK_FUNCTION_LIST *fl;
    bool from_registry; /* part of `registry`, released with it */
};

struct hc_modules {
    pthread_mutex_t lock;
    CK_FUNCTION_LIST **registry; /* p11-kit's registered modules, loaded */
    struct loaded *mods;
    size_t n;
};

hc_modules_t *hc_modules_new(void)
{
    hc_modules_t *m = calloc(1, sizeof *m);
    if (m)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void hc_modules_free(hc_modules_t *m)
{
    if (!m)
        return;
    bool held = false;
    for (size_t i = 0; i < m->n; i++) {
        /* A call left behind in the module (watchdog.h) still runs its
         * code, and p11-kit's finalize would close sessions through the
         * device that hangs: such a module is neither finalized nor
         * unloaded. */
        if (hc_watch_held_in(m->mods[i].fl)) {
            held = true;
        } else {
            p11_kit_module_finalize(m->mods[i].fl);
            if (!m->mods[i].from_registry)
                p11_kit_module_release(m->mods[i].fl);
        }
        free(m->mods[i].key);
    }
    if (m->registry && !held)
        p11_kit_modules_release(m->registry);
    free(m->mods);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

#ifndef HC_P11_MODULE_PATH
#define HC_P11_MODULE_PATH "/usr/lib/x86_64-linux-gnu/pkcs11"
#endif
#ifndef HC_P11_PACKAGE_MODULES
#define HC_P11_PACKAGE_MODULES "/usr/share/p11-kit/modules"
#endif

/* The library a registered module name stands for, from the module's
 * p11-kit file: the same directories p11-kit reads (the user's only when
 * not root), a relative path taken against p11-kit's module directory.
 * Why not p11_kit_modules_load(): it dlopens every registered module
 * (the trust store, OpenSC, ...), about 4 ms in each short-lived host such
 * as ssh-keygen. When no file is found, the full registry is used. A
 * file whose enable-in/disable-in leaves this program out is not used
 * (p11kit_rules.h), nor is the module then found in the registry. */
bool hc_module_registered_path(const char *name, char *out, size_t size)
{
    char dirs[3][PATH_MAX];
    int ndirs = 0;
    const char *home = secure_getenv("HOME");
    if (geteuid() != 0 && home && home[0])
        snprintf(dirs[ndirs++], PATH_MAX, "%s/.config/pkcs11/modules", home);
    snprintf(dirs[ndirs++], PATH_MAX, "/etc/pkcs11/modules");
    snprintf(dirs[ndirs++], PATH_MAX, "%s", HC_P11_PACKAGE_MODULES);
    for (int i = 0; i < ndirs; i++) {
        char file[PATH_MAX + 80], line[PATH_MAX + 16];
        snprintf(file, sizeof file, "%s/%s.module", dirs[i], name);
        FILE *f = fopen(file, "re");
        if (!f)
            continue;
        bool found = false;
        while (!found && fgets(line, sizeof line, f)) {
            char *v = line + strspn(line, " \t");
            if (strncmp(v, "module:", 7) != 0)
                continue;
            v += 7 + strspn(v + 7, " \t");
            v[strcspn(v, "\r\n")] = '\0';
            if (!v[0])
                continue;
            if (v[0] == '/')
                snprintf(out, size, "%s", v);
            else
                snprintf(out, size, "%s/%s", HC_P11_MODULE_PATH, v);
            found = true;
        }
        /* ... and its enable-in/disable-in rule, as p11-kit applies it */
        found = found && hc_p11kit_file_enabled(f, hc_p11kit_progname());
        fclose(f);
        return found; /* the first file for a name decides, as in p11-kit */
    }
    return false;
}

/* The module's own function list, checked before p11-kit wraps it:
 * p11-kit 0.24 crashes on a NULL list and hands NULL functions and any
 * version through. `who` names the module in messages. *handle: ours,
 * to dlclose once p11-kit holds its own (NULL on failure to open).
 * `flags` RTLD_NOLOAD: a module p11-kit has already loaded. */
static CK_RV check_own_list(const char *file, const char *who, int flags, void **handle,
                            hc_err_t *err)
{
    *handle = dlopen(file, RTLD_NOW | RTLD_LOCAL | flags);
    if (!*handle) {
        const char *e = dlerror();
        return hc_err(err, CKR_GENERAL_ERROR, "module %s: cannot load: %s", who, e ? e : "?");
    }
    void *sym = dlsym(*handle, "C_GetFunctionList");
    if (!sym)
        return hc_err(err, CKR_GENERAL_ERROR,
                      "module %s: refused: it has no "
                      "C_GetFunctionList",
                      who);
    CK_C_GetFunctionList get;
    memcpy(&get, &sym, sizeof get);
    CK_FUNCTION_LIST *fl = NULL;
    CK_RV rv = get(&fl);
    if (rv != CKR_OK) {
        char b[32];
        return hc_err(err, CKR_GENERAL_ERROR,
                      "module %s: refused: "
                      "C_GetFunctionList: %s",
                      who, hc_rv_name(rv, b));
    }
    return hc_p11_check_list(fl, who, err);
}

static CK_RV load_locked(hc_modules_t *m, const char *key, CK_FUNCTION_LIST **out, hc_err_t *err)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->mods[i].key, key) == 0) {
            *out = m->mods[i].fl;
            return CKR_OK;
        }
    CK_FUNCTION_LIST *fl = NULL;
    bool from_registry = false;
    char path[PATH_MAX], who[PATH_MAX + 80];
    void *own = NULL;
    CK_RV rv;
    if (key[0] == '/' || hc_module_registered_path(key, path, sizeof path)) {
        const char *file = key[0] == '/' ? key : path;
        if (key[0] == '/')
            snprintf(who, sizeof who, "%s", key);
        else
            snprintf(who, sizeof who, "'%s' (%s)", key, path);
        if ((rv = check_own_list(file, who, 0, &own, err)) == CKR_OK &&
            !(fl = p11_kit_module_load(file, 0)))
            rv = hc_err(err, CKR_GENERAL_ERROR, "module %s: cannot load: %s", who,
                        p11_kit_message() ? p11_kit_message() : "?");
        if (own)
            dlclose(own);
        if (rv != CKR_OK)
            return rv;
    } else {
        if (!m->registry)
            m->registry = p11_kit_modules_load(NULL, 0);
        if (m->registry)
            fl = p11_kit_module_for_name(m->registry, key);
        if (!fl)
            return hc_err(err, CKR_GENERAL_ERROR,
                          "module '%s' is not registered"
                          " with p11-kit for program '%s' (see 'p11-kit "
                          "list-modules' and the module file's enable-in/"
                          "disable-in; or give an absolute path)",
                          key, hc_p11kit_progname());
        from_registry = true;
        char *file = p11_kit_module_get_filename(fl);
        snprintf(who, sizeof who, "'%s' (%s)", key, file ? file : "no file");
        rv = file ? check_own_list(file, who, RTLD_NOLOAD, &own, err) : CKR_OK;
        if (own)
            dlclose(own);
        free(file);
        if (rv != CKR_OK)
            return rv;
    }
    /* What we call is p11-kit's wrapper: it must have every function too. */
    if ((rv = hc_p11_check_list(fl, who, err)) == CKR_OK &&
        (rv = p11_kit_module_initialize(fl)) != CKR_OK) {
        char b[32];
        hc_err(err, rv, "module %s: C_Initialize failed: %s", who, hc_rv_name(rv, b));
    }
    if (rv != CKR_OK) {
        if (!from_registry)
            p11_kit_module_release(fl);
        return rv;
    }
    struct loaded *grown = realloc(m->mods, (m->n + 1) * sizeof *grown);
    char *k = strdup(key);
    if (!grown || !k) {
        free(k);
        if (grown)
            m->mods = grown;
        p11_kit_module_finalize(fl);
        if (!from_registry)
            p11_kit_module_release(fl);
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    }
    m->mods = grown;
    m->mods[m->n++] = (struct loaded){ k, fl, from_registry };
    *out = fl;
    return CKR_OK;
}

CK_RV hc_modules_get(hc_modules_t *m, const char *key, CK_FUNCTION_LIST **out, hc_err_t *err)
{
    pthread_mutex_lock(&m->lock);
    CK_RV rv = load_locked(m, key, out, err);
    pthread_mutex_unlock(&m->lock);
    return rv;
}
