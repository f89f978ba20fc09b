/* simstate.c: mapping the simulator's shared state file, and the names
 * of its functions' counters and of its hostile faults. */
#include "simstate.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

sim_shared_t *sim_map(const char *path, bool create)
{
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (!create && (fstat(fd, &st) != 0 || st.st_size != (off_t)sizeof(sim_shared_t))) {
        close(fd);
        return NULL;
    }
    void *p = MAP_FAILED;
    if (!create || ftruncate(fd, sizeof(sim_shared_t)) == 0)
        p = mmap(NULL, sizeof(sim_shared_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    sim_shared_t *s = p;
    uint32_t expected = 0;
    /* First user initializes; a zero-filled new file has magic 0. */
    __atomic_compare_exchange_n(&s->magic, &expected, SIM_MAGIC, false, __ATOMIC_ACQ_REL,
                                __ATOMIC_ACQUIRE);
    return s;
}

int sim_index(const char *name)
{
    for (int i = 0; i < SIM_NFUNCS; i++)
        if (strcmp(sim_function_names[i], name) == 0)
            return i;
    return -1;
}

const char *const sim_hostile_names[SIM_NHOSTILE] = {
    [SIM_HOSTILE_OFF] = "off",
    [SIM_SIGN_OVERSIZE] = "sign-oversize",
    [SIM_SIGN_EMPTY] = "sign-empty",
    [SIM_ATTR_HUGE] = "attr-huge",
    [SIM_ATTR_OVERSIZE] = "attr-oversize",
    [SIM_ATTR_SCALAR_LEN] = "attr-scalar-len",
    [SIM_ATTR_UNAVAILABLE] = "attr-unavailable",
    [SIM_ATTR_LABEL_BYTES] = "attr-label-bytes",
    [SIM_COUNT_OVERSIZE] = "count-oversize",
    [SIM_STALE_OBJECTS] = "stale-objects",
    [SIM_INVALID_SESSION] = "invalid-session",
    [SIM_SIGN_BITFLIP] = "sign-bitflip",
};

int sim_hostile_index(const char *name)
{
    for (int i = 0; i < SIM_NHOSTILE; i++)
        if (strcmp(sim_hostile_names[i], name) == 0)
            return i;
    return -1;
}

int64_t sim_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
