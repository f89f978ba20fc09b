/*
 * hsmsim.c: a PKCS#11 module that wraps the real SoftHSM and behaves like
 * a slow, fragile device: latency per call (a default, overridable per
 * function), a limit on calls in flight across all processes (1 = one
 * card reader, N = a network HSM), call counters in a shared file, and
 * faults: token removed (for a time, or after N signatures), all sessions
 * invalidated, user PIN locking after N wrong tries.
 *
 * Config: the file named by $HSMSIM_CONF, lines `key = value`:
 *   module = /usr/lib/softhsm/libsofthsm2.so   the real module
 *   state = PATH             shared counters/faults (default CONF.state)
 *   latency-ms = 1           every call
 *   latency.C_Sign = 50      one function (ms, may be fractional)
 *   concurrency = 1          calls in flight at once; 0 = unlimited
 *   pin-tries = 3            wrong user PINs before the PIN locks; 0 = never
 *   absent-after-ops = N     remove the token after the Nth C_Sign ...
 *   absent-for-ms = T        ... for T ms
 *   hostile = NAME           a hostile fault from the start (below)
 * $HSMSIM_SET="key=value;key=value" overrides the file (for one run).
 * Faults are switched at run time with hsmsim-ctl.
 *
 * Several simulated devices in one process (the members of a token
 * group): copy hsmsim.so to another name, e.g. hsmsim-a.so; that copy
 * reads $HSMSIM_CONF_hsmsim_a (its file name without ".so", every byte
 * but a letter or digit made '_') when set, else $HSMSIM_CONF. Each copy
 * has its own config and state file; for faults that close sessions
 * (remove, invalidate) to hit one device only, give each copy its own
 * copy of the real module too (`module =`): one module instance serves
 * every copy that names the same file.
 *
 * Hang: `hsmsim-ctl STATE hang on` makes every call that reaches the
 * device block until `hang off` (a device that stops answering, as a
 * network HSM behind a dead link does); `hsmsim-ctl STATE hanging` says
 * how many calls are blocked.
 *
 * Sign error: `hsmsim-ctl STATE sign-error RV` makes every C_Sign answer
 * RV (a number, e.g. 0x5 for CKR_GENERAL_ERROR; 0 = off) after the real
 * call ended the operation: a device that fails signatures in its own
 * way while the rest of it answers.
 *
 * Hostile mode: answers a buggy or hostile module gives, one fault at a
 * time, switched for every process by `hsmsim-ctl STATE hostile NAME|off`
 * (which then overrides the config's `hostile`). The simulator never
 * writes past a caller's buffer: it only reports the lengths and counts.
 * Each falsified answer counts as a hit of its function (hsmsim-ctl hits).
 *   sign-oversize     C_Sign: CKR_OK with a length 64 bytes over the
 *                     caller's buffer; a size query (no buffer) 1 GiB
 *   sign-empty        C_Sign: CKR_OK with length 0, the caller's buffer
 *                     untouched (size query and real call alike)
 *   attr-huge         C_GetAttributeValue: CKR_BUFFER_TOO_SMALL with
 *                     ulValueLen 1 GiB on CKA_LABEL, CKA_ID and CKA_VALUE
 *   attr-oversize     C_GetAttributeValue: CKR_OK, the first byte-string
 *                     attribute (not a CK_ULONG or CK_BBOOL one) with a
 *                     buffer reported 64 bytes over that buffer
 *   attr-scalar-len   C_GetAttributeValue: CK_ULONG attributes (CKA_CLASS,
 *                     CKA_KEY_TYPE, ...) and CK_BBOOL ones (CKA_TOKEN,
 *                     CKA_SIGN, ...) reported with length 4
 *   attr-unavailable  C_GetAttributeValue: CKR_OK, and every attribute
 *                     the object has reported CK_UNAVAILABLE_INFORMATION
 *   attr-label-bytes  C_GetAttributeValue: every CKA_LABEL is the 17 bytes
 *                     "ev\x1b[2J\r\nFAKE\a\xff\0il" (an escape sequence, CR
 *                     LF and a forged line, BEL, 0xff, NUL)
 *   count-oversize    C_GetSlotList, C_GetMechanismList, C_FindObjects:
 *                     CKR_OK with a count 8 over the capacity given (size
 *                     queries are answered truly)
 *   stale-objects     C_FindObjects: each handle found replaced by one no
 *                     object has, then CK_INVALID_HANDLE if there is room
 *   invalid-session   C_OpenSession: CKR_OK with CK_INVALID_HANDLE (the
 *                     real session closed again)
 *   sign-bitflip      C_Sign: CKR_OK with one byte of the real signature
 *                     flipped (a faulty device, or another key pair under
 *                     the key's handle: a signature the public key rejects)
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "hsmsim.h"

CK_FUNCTION_LIST *sim_real;

static struct {
    char module[PATH_MAX];
    char state[PATH_MAX];
    double latency_default;
    double latency[SIM_NFUNCS]; /* < 0: use the default */
    unsigned concurrency;
    unsigned pin_tries;
    uint64_t absent_after_ops;
    int64_t absent_for_ms;
    enum sim_hostile hostile;
} cfg;

static sim_shared_t *sh;
static void *real_handle;
static pthread_mutex_t epoch_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t seen_removal, seen_invalidate;
static __thread int slot_fd = -1;
static int idx_sign = -1;
static bool we_initialized; /* false: the real module was already up */

static void sim_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "hsmsim: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
}

static int set_option(const char *key, const char *val)
{
    if (!strcmp(key, "module"))
        snprintf(cfg.module, sizeof cfg.module, "%s", val);
    else if (!strcmp(key, "state"))
        snprintf(cfg.state, sizeof cfg.state, "%s", val);
    else if (!strcmp(key, "latency-ms"))
        cfg.latency_default = atof(val);
    else if (!strncmp(key, "latency.", 8)) {
        int i = sim_index(key + 8);
        if (i < 0) {
            sim_error("unknown function in '%s'", key);
            return -1;
        }
        cfg.latency[i] = atof(val);
    } else if (!strcmp(key, "concurrency"))
        cfg.concurrency = (unsigned)atoi(val);
    else if (!strcmp(key, "pin-tries"))
        cfg.pin_tries = (unsigned)atoi(val);
    else if (!strcmp(key, "absent-after-ops"))
        cfg.absent_after_ops = strtoull(val, NULL, 10);
    else if (!strcmp(key, "absent-for-ms"))
        cfg.absent_for_ms = strtoll(val, NULL, 10);
    else if (!strcmp(key, "hostile")) {
        int h = sim_hostile_index(val);
        if (h < 0) {
            sim_error("unknown hostile fault '%s'", val);
            return -1;
        }
        cfg.hostile = (enum sim_hostile)h;
    } else {
        sim_error("unknown key '%s'", key);
        return -1;
    }
    return 0;
}

/* Parses "key = value" from one line (or one ';' item); ignores comments. */
static int parse_item(char *item)
{
    char *hash = strchr(item, '#');
    if (hash)
        *hash = '\0';
    char *eq = strchr(item, '=');
    if (!eq)
        return 0;
    *eq = '\0';
    char *key = item, *val = eq + 1;
    while (*key == ' ' || *key == '\t')
        key++;
    while (*val == ' ' || *val == '\t')
        val++;
    for (char *e = key + strlen(key); e > key && (e[-1] == ' ' || e[-1] == '\t');)
        *--e = '\0';
    for (char *e = val + strlen(val); e > val && strchr(" \t\r\n", e[-1]);)
        *--e = '\0';
    return key[0] ? set_option(key, val) : 0;
}

/* "HSMSIM_CONF_" and this copy's file name without ".so", every byte
 * but a letter or digit made '_'; false when the name is unknown or long. */
static bool own_conf_var(char *out, size_t size)
{
    Dl_info info;
    if (!dladdr((void *)&sim_enter, &info) || !info.dli_fname)
        return false;
    const char *base = strrchr(info.dli_fname, '/');
    base = base ? base + 1 : info.dli_fname;
    size_t len = strlen(base);
    if (len > 3 && !strcmp(base + len - 3, ".so"))
        len -= 3;
    if (len == 0 || len + 13 > size)
        return false;
    memcpy(out, "HSMSIM_CONF_", 12);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)base[i];
        out[12 + i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                          ? (char)c
                          : '_';
    }
    out[12 + len] = '\0';
    return true;
}

static int load_config(void)
{
    memset(&cfg, 0, sizeof cfg);
    for (int i = 0; i < SIM_NFUNCS; i++)
        cfg.latency[i] = -1;
    cfg.concurrency = 1;
    cfg.pin_tries = 3;
    snprintf(cfg.module, sizeof cfg.module, "/usr/lib/softhsm/libsofthsm2.so");
    char own[64];
    const char *path = own_conf_var(own, sizeof own) ? getenv(own) : NULL;
    if (!path || !path[0])
        path = getenv("HSMSIM_CONF");
    if (!path || !path[0]) {
        sim_error("%s", "HSMSIM_CONF is not set");
        return -1;
    }
    snprintf(cfg.state, sizeof cfg.state, "%s.state", path);
    FILE *f = fopen(path, "re");
    if (!f) {
        sim_error("cannot open %s", path);
        return -1;
    }
    char line[PATH_MAX + 64];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f))
        rc = parse_item(line);
    fclose(f);
    const char *set = getenv("HSMSIM_SET");
    if (rc == 0 && set && set[0]) {
        char *copy = strdup(set), *save = NULL;
        for (char *it = strtok_r(copy, ";", &save); it && rc == 0; it = strtok_r(NULL, ";", &save))
            rc = parse_item(it);
        free(copy);
    }
    return rc;
}

static void sleep_ms(double ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = { (time_t)(ms / 1000),
                           (long)((ms - (double)(time_t)(ms / 1000) * 1000) * 1e6) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static bool absent(void)
{
    return __atomic_load_n(&sh->absent_until_ms, __ATOMIC_RELAXED) > sim_now_ms();
}

/* A removal or invalidation announced by another process (or hsmsim-ctl)
 * closes this process's real sessions once, as a real device would. */
static void apply_epochs(void)
{
    uint64_t r = __atomic_load_n(&sh->removal_epoch, __ATOMIC_ACQUIRE);
    uint64_t v = __atomic_load_n(&sh->invalidate_epoch, __ATOMIC_ACQUIRE);
    if (r == __atomic_load_n(&seen_removal, __ATOMIC_RELAXED) &&
        v == __atomic_load_n(&seen_invalidate, __ATOMIC_RELAXED))
        return;
    pthread_mutex_lock(&epoch_lock);
    if (r != seen_removal || v != seen_invalidate) {
        CK_SLOT_ID slots[64];
        CK_ULONG n = 64;
        if (sim_real->C_GetSlotList(CK_FALSE, slots, &n) == CKR_OK)
            for (CK_ULONG i = 0; i < n; i++)
                sim_real->C_CloseAllSessions(slots[i]);
        __atomic_store_n(&seen_removal, r, __ATOMIC_RELAXED);
        __atomic_store_n(&seen_invalidate, v, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&epoch_lock);
}

static void remove_token(int64_t for_ms)
{
    __atomic_store_n(&sh->absent_until_ms, sim_now_ms() + for_ms, __ATOMIC_RELAXED);
    __atomic_fetch_add(&sh->removal_epoch, 1, __ATOMIC_RELEASE);
}

/* The fault in force: hsmsim-ctl's if it ever set one, else the config's. */
static enum sim_hostile hostile_now(void)
{
    uint32_t set = __atomic_load_n(&sh->hostile, __ATOMIC_RELAXED);
    return set && set <= SIM_NHOSTILE ? (enum sim_hostile)(set - 1) : cfg.hostile;
}

/* True when fault `h` is in force; then it counts a hit of function idx,
 * as the caller is about to falsify its answer. */
static bool hostile_is(enum sim_hostile h, int idx)
{
    if (hostile_now() != h)
        return false;
    __atomic_fetch_add(&sh->hits[idx], 1, __ATOMIC_RELAXED);
    return true;
}

static int open_slot(unsigned i)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s.slot%u", cfg.state, i);
    return open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

/* Takes one of `concurrency` lock files shared by all processes: a free
 * one if any, else waits on one (picked per thread, so waiters spread). */
static void take_slot(void)
{
    if (cfg.concurrency == 0)
        return;
    for (unsigned i = 0; i < cfg.concurrency; i++) {
        int fd = open_slot(i);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
            slot_fd = fd;
            return;
        }
        if (fd >= 0)
            close(fd);
    }
    int fd = open_slot((unsigned)((uintptr_t)&slot_fd >> 6) % cfg.concurrency);
    if (fd >= 0 && flock(fd, LOCK_EX) == 0)
        slot_fd = fd;
    else if (fd >= 0)
        close(fd);
}

static void give_slot(void)
{
    if (slot_fd >= 0) {
        close(slot_fd); /* releases the flock */
        slot_fd = -1;
    }
}

CK_RV sim_enter(int idx, enum sim_kind kind)
{
    if (!sim_real)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    __atomic_fetch_add(&sh->calls[idx], 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&sh->hang, __ATOMIC_RELAXED)) {
        __atomic_fetch_add(&sh->hanging, 1, __ATOMIC_RELAXED);
        while (__atomic_load_n(&sh->hang, __ATOMIC_RELAXED))
            sleep_ms(5);
        __atomic_fetch_sub(&sh->hanging, 1, __ATOMIC_RELAXED);
    }
    if (idx == idx_sign && cfg.absent_after_ops &&
        __atomic_add_fetch(&sh->sign_ops, 1, __ATOMIC_RELAXED) == cfg.absent_after_ops)
        remove_token(cfg.absent_for_ms);
    apply_epochs();
    if (absent()) {
        if (kind == SIM_SESSION)
            return CKR_DEVICE_REMOVED;
        if (kind == SIM_SLOT)
            return CKR_TOKEN_NOT_PRESENT;
    }
    take_slot();
    sleep_ms(cfg.latency[idx] >= 0 ? cfg.latency[idx] : cfg.latency_default);
    return CKR_OK;
}

void sim_leave(int idx, CK_RV rv)
{
    (void)idx;
    (void)rv;
    give_slot();
}

CK_RV C_Initialize(CK_VOID_PTR args)
{
    if (sim_real)
        return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    if (load_config() != 0)
        return CKR_GENERAL_ERROR;
    if (!(sh = sim_map(cfg.state, true))) {
        sim_error("cannot map state file %s", cfg.state);
        return CKR_GENERAL_ERROR;
    }
    idx_sign = sim_index("C_Sign");
    if (!real_handle && !(real_handle = dlopen(cfg.module, RTLD_NOW | RTLD_LOCAL))) {
        sim_error("cannot load %s", cfg.module);
        return CKR_GENERAL_ERROR;
    }
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(real_handle, "C_GetFunctionList");
    CK_FUNCTION_LIST *real = NULL;
    if (!get || get(&real) != CKR_OK)
        return CKR_GENERAL_ERROR;
    __atomic_fetch_add(&sh->calls[sim_index("C_Initialize")], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&sh->loads, 1, __ATOMIC_RELAXED);
    /* Another user in this process (PowerDNS loads every registered
     * module, SoftHSM among them) may have initialized the real module
     * already: dlopen of the same library gives the same instance. */
    CK_RV rv = real->C_Initialize(args);
    we_initialized = rv == CKR_OK;
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
        rv = CKR_OK;
    if (rv == CKR_OK) {
        seen_removal = sh->removal_epoch;
        seen_invalidate = sh->invalidate_epoch;
        sim_real = real;
    }
    return rv;
}

CK_RV C_Finalize(CK_VOID_PTR reserved)
{
    if (!sim_real)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    __atomic_fetch_add(&sh->calls[sim_index("C_Finalize")], 1, __ATOMIC_RELAXED);
    CK_RV rv = we_initialized ? sim_real->C_Finalize(reserved) : CKR_OK;
    sim_real = NULL;
    return rv;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    if (!list)
        return CKR_ARGUMENTS_BAD;
    *list = &sim_function_list;
    return CKR_OK;
}

CK_RV C_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    CK_RV rv = sim_enter(sim_index("C_GetSlotList"), SIM_OTHER);
    if (rv != CKR_OK)
        return rv;
    CK_ULONG cap = list && count ? *count : 0;
    if (present && absent())
        *count = 0;
    else
        rv = sim_real->C_GetSlotList(present, list, count);
    if (list && rv == CKR_OK && hostile_is(SIM_COUNT_OVERSIZE, sim_index("C_GetSlotList")))
        *count = cap + 8;
    give_slot();
    return rv;
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    CK_RV rv = sim_enter(sim_index("C_GetSlotInfo"), SIM_OTHER);
    if (rv != CKR_OK)
        return rv;
    rv = sim_real->C_GetSlotInfo(slot, info);
    if (rv == CKR_OK && absent())
        info->flags &= ~(CK_FLAGS)CKF_TOKEN_PRESENT;
    give_slot();
    return rv;
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    CK_RV rv = sim_enter(sim_index("C_GetTokenInfo"), SIM_SLOT);
    if (rv != CKR_OK)
        return rv;
    rv = sim_real->C_GetTokenInfo(slot, info);
    if (rv == CKR_OK) {
        uint32_t wrong = __atomic_load_n(&sh->wrong_pins, __ATOMIC_RELAXED);
        if (__atomic_load_n(&sh->locked, __ATOMIC_RELAXED))
            info->flags |= CKF_USER_PIN_LOCKED;
        else if (wrong > 0)
            info->flags |=
                CKF_USER_PIN_COUNT_LOW |
                (cfg.pin_tries && wrong + 1 == cfg.pin_tries ? CKF_USER_PIN_FINAL_TRY : 0);
    }
    give_slot();
    return rv;
}

CK_RV C_Login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
    CK_RV rv = sim_enter(sim_index("C_Login"), SIM_SESSION);
    if (rv != CKR_OK)
        return rv;
    if (user == CKU_USER && __atomic_load_n(&sh->locked, __ATOMIC_RELAXED)) {
        give_slot();
        return CKR_PIN_LOCKED;
    }
    rv = sim_real->C_Login(session, user, pin, len);
    if (user == CKU_USER) {
        if (rv == CKR_PIN_INCORRECT) {
            uint32_t n = __atomic_add_fetch(&sh->wrong_pins, 1, __ATOMIC_RELAXED);
            if (cfg.pin_tries && n >= cfg.pin_tries)
                __atomic_store_n(&sh->locked, 1, __ATOMIC_RELAXED);
        } else if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
            __atomic_store_n(&sh->wrong_pins, 0, __ATOMIC_RELAXED);
        }
    }
    give_slot();
    return rv;
}

/* ---- Hand-written for the hostile faults (see the header). ---- */

CK_RV C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
    int idx = sim_index("C_GetMechanismList");
    CK_RV rv = sim_enter(idx, SIM_SLOT);
    if (rv != CKR_OK)
        return rv;
    CK_ULONG cap = list && count ? *count : 0;
    rv = sim_real->C_GetMechanismList(slot, list, count);
    if (list && rv == CKR_OK && hostile_is(SIM_COUNT_OVERSIZE, idx))
        *count = cap + 8;
    sim_leave(idx, rv);
    return rv;
}

CK_RV C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                    CK_SESSION_HANDLE_PTR session)
{
    int idx = sim_index("C_OpenSession");
    CK_RV rv = sim_enter(idx, SIM_SLOT);
    if (rv != CKR_OK)
        return rv;
    rv = sim_real->C_OpenSession(slot, flags, app, notify, session);
    if (rv == CKR_OK && hostile_is(SIM_INVALID_SESSION, idx)) {
        sim_real->C_CloseSession(*session);
        *session = CK_INVALID_HANDLE;
    }
    sim_leave(idx, rv);
    return rv;
}

CK_RV C_FindObjects(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE_PTR found, CK_ULONG max,
                    CK_ULONG_PTR count)
{
    int idx = sim_index("C_FindObjects");
    CK_RV rv = sim_enter(idx, SIM_SESSION);
    if (rv != CKR_OK)
        return rv;
    rv = sim_real->C_FindObjects(session, found, max, count);
    if (rv == CKR_OK && hostile_is(SIM_COUNT_OVERSIZE, idx))
        *count = max + 8;
    /* Only a search that found something is falsified: a fault that never
     * ended a search would be another fault. */
    else if (rv == CKR_OK && *count > 0 && hostile_is(SIM_STALE_OBJECTS, idx)) {
        for (CK_ULONG i = 0; i < *count; i++)
            found[i] = 0x7ead0000 + i;
        if (*count < max)
            found[(*count)++] = CK_INVALID_HANDLE;
    }
    sim_leave(idx, rv);
    return rv;
}

CK_RV C_Sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
             CK_ULONG_PTR sig_len)
{
    int idx = sim_index("C_Sign");
    CK_RV rv = sim_enter(idx, SIM_SESSION);
    if (rv != CKR_OK)
        return rv;
    enum sim_hostile h = hostile_now();
    CK_RV forced = (CK_RV)__atomic_load_n(&sh->sign_rv, __ATOMIC_RELAXED);
    if (((h == SIM_SIGN_EMPTY && sig) || forced != CKR_OK) && sig_len) {
        /* The real signature goes to a buffer of ours, so the operation
         * ends as it would (a size query's too, under sign-error: the
         * error ends it for the caller), and the caller's is left as it
         * was. */
        CK_BYTE mine[8192];
        CK_ULONG n = sizeof mine;
        rv = sim_real->C_Sign(session, data, len, mine, &n);
        memset(mine, 0, sizeof mine);
    } else {
        CK_ULONG cap = sig && sig_len ? *sig_len : 0;
        rv = sim_real->C_Sign(session, data, len, sig, sig_len);
        if (rv == CKR_OK && hostile_is(SIM_SIGN_OVERSIZE, idx))
            *sig_len = sig ? cap + 64 : 1ul << 30;
        else if (rv == CKR_OK && sig && *sig_len > 0 && *sig_len <= cap &&
                 hostile_is(SIM_SIGN_BITFLIP, idx))
            sig[*sig_len / 2] ^= 0x5a;
    }
    if (rv == CKR_OK && hostile_is(SIM_SIGN_EMPTY, idx))
        *sig_len = 0;
    if (forced != CKR_OK)
        rv = forced;
    sim_leave(idx, rv);
    return rv;
}

static bool is_ulong_attr(CK_ATTRIBUTE_TYPE t)
{
    static const CK_ATTRIBUTE_TYPE ulongs[] = {
        CKA_CLASS,
        CKA_KEY_TYPE,
        CKA_CERTIFICATE_TYPE,
        CKA_MODULUS_BITS,
        CKA_VALUE_LEN,
        CKA_KEY_GEN_MECHANISM,
        CKA_CERTIFICATE_CATEGORY,
        CKA_HW_FEATURE_TYPE,
        CKA_NAME_HASH_ALGORITHM,
        CKA_PRIME_BITS,
        CKA_SUB_PRIME_BITS,
        CKA_MECHANISM_TYPE,
    };
    for (size_t i = 0; i < sizeof ulongs / sizeof *ulongs; i++)
        if (ulongs[i] == t)
            return true;
    return false;
}

static bool is_bool_attr(CK_ATTRIBUTE_TYPE t)
{
    static const CK_ATTRIBUTE_TYPE bools[] = {
        CKA_TOKEN,
        CKA_PRIVATE,
        CKA_TRUSTED,
        CKA_SENSITIVE,
        CKA_ENCRYPT,
        CKA_DECRYPT,
        CKA_WRAP,
        CKA_UNWRAP,
        CKA_SIGN,
        CKA_SIGN_RECOVER,
        CKA_VERIFY,
        CKA_VERIFY_RECOVER,
        CKA_DERIVE,
        CKA_EXTRACTABLE,
        CKA_LOCAL,
        CKA_NEVER_EXTRACTABLE,
        CKA_ALWAYS_SENSITIVE,
        CKA_MODIFIABLE,
        CKA_COPYABLE,
        CKA_DESTROYABLE,
        CKA_ALWAYS_AUTHENTICATE,
        CKA_WRAP_WITH_TRUSTED,
    };
    for (size_t i = 0; i < sizeof bools / sizeof *bools; i++)
        if (bools[i] == t)
            return true;
    return false;
}

/* The real answer in a (the caller's buffer sizes in cap), falsified by
 * fault h; returns the rv to report and whether it changed anything. */
static CK_RV attr_hostile(enum sim_hostile h, CK_ATTRIBUTE_PTR a, const CK_ULONG *cap, CK_ULONG n,
                          CK_RV rv, bool *changed)
{
    /* Control bytes first, so a printer that stops at the NUL still
     * meets them; a forged line after the CR LF. */
    static const char label[] = "ev\x1b[2J\r\nFAKE\a\xff\0il";
    const CK_ULONG label_len = sizeof label - 1;
    bool oversized = false;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_ATTRIBUTE *x = &a[i];
        bool exists = x->ulValueLen != CK_UNAVAILABLE_INFORMATION;
        bool scalar = is_ulong_attr(x->type) || is_bool_attr(x->type);
        if (h == SIM_ATTR_HUGE &&
            (x->type == CKA_LABEL || x->type == CKA_ID || x->type == CKA_VALUE)) {
            x->ulValueLen = 1ul << 30;
            rv = CKR_BUFFER_TOO_SMALL;
        } else if (h == SIM_ATTR_OVERSIZE && !oversized && exists && x->pValue && !scalar) {
            x->ulValueLen = cap[i] + 64;
            oversized = true;
        } else if (h == SIM_ATTR_SCALAR_LEN && exists && scalar) {
            x->ulValueLen = 4;
        } else if (h == SIM_ATTR_UNAVAILABLE && exists) {
            x->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        } else if (h == SIM_ATTR_LABEL_BYTES && exists && x->type == CKA_LABEL) {
            /* A buffer too small for them gets the true answer to that. */
            if (x->pValue && cap[i] < label_len)
                rv = CKR_BUFFER_TOO_SMALL;
            else if (x->pValue)
                memcpy(x->pValue, label, label_len);
            x->ulValueLen = label_len;
        } else {
            continue;
        }
        *changed = true;
    }
    if (*changed && h == SIM_ATTR_UNAVAILABLE)
        rv = CKR_OK;
    return rv;
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR tmpl,
                          CK_ULONG n)
{
    int idx = sim_index("C_GetAttributeValue");
    CK_RV rv = sim_enter(idx, SIM_SESSION);
    if (rv != CKR_OK)
        return rv;
    enum sim_hostile h = hostile_now();
    bool attr_fault = h >= SIM_ATTR_HUGE && h <= SIM_ATTR_LABEL_BYTES;
    /* The caller's buffer sizes, which the real call overwrites. */
    CK_ULONG *cap = attr_fault && tmpl && n ? calloc(n, sizeof *cap) : NULL;
    for (CK_ULONG i = 0; cap && i < n; i++)
        cap[i] = tmpl[i].ulValueLen;
    rv = sim_real->C_GetAttributeValue(session, object, tmpl, n);
    bool changed = false;
    if (cap && (rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
                rv == CKR_BUFFER_TOO_SMALL)) {
        CK_RV hrv = attr_hostile(h, tmpl, cap, n, rv, &changed);
        if (changed && hostile_is(h, idx))
            rv = hrv;
    }
    free(cap);
    sim_leave(idx, rv);
    return rv;
}
