/*
 * simstate.h: the HSM simulator's state shared by every process that
 * loads it and by hsmsim-ctl: call counters per PKCS#11 function and the
 * fault switches. It lives in a small mmap'ed file so tests can read the
 * counts and flip faults while the host (pdns_server, ssh-keygen) runs.
 */
#ifndef SIM_STATE_H
#define SIM_STATE_H

#include <stdbool.h>
#include <stdint.h>

#define SIM_NFUNCS 68
#define SIM_MAGIC 0x53494d32u

typedef struct sim_shared {
    uint32_t magic, version;
    uint64_t calls[SIM_NFUNCS];     /* per function, every process */
    int64_t absent_until_ms;        /* wall clock; token absent until then */
    uint64_t removal_epoch;         /* bumps on every removal */
    uint64_t invalidate_epoch;      /* bumps on "invalidate all sessions" */
    uint32_t wrong_pins;            /* consecutive wrong user PINs */
    uint32_t locked;                /* user PIN locked */
    uint64_t sign_ops;              /* C_Sign calls, for absent-after-ops */
    uint64_t loads;                 /* C_Initialize of the simulator, ever;
                                       not cleared by reset: proves a
                                       simulator used this file */
} sim_shared_t;

extern const char *const sim_function_names[SIM_NFUNCS];

/* Maps the state file; NULL on error. With create false, a file that
 * does not exist (or has the wrong size) is an error, not a new state. */
sim_shared_t *sim_map(const char *path, bool create);
/* Index of "C_Sign", or -1. */
int sim_index(const char *name);
int64_t sim_now_ms(void);

#endif
