/*
 * simstate.h: the HSM simulator's state shared by every process that
 * loads it and by hsmsim-ctl: call counters per PKCS#11 function and the
 * fault switches. It lives in a small mmap'ed file so tests can read the
 * counts and flip faults while the host (pdns_server, ssh-keygen) runs.
 * Thread-safety: every field is read and written with __atomic builtins;
 * the functions below are safe from any thread.
 */
#ifndef SIM_STATE_H
#define SIM_STATE_H

#include <stdbool.h>
#include <stdint.h>

#define SIM_NFUNCS 68
#define SIM_MAGIC 0x53494d33u

/* The hostile faults (a buggy or hostile module's answers; hsmsim.c's
 * header says what each does). SIM_HOSTILE_OFF is none. */
enum sim_hostile {
    SIM_HOSTILE_OFF,
    SIM_SIGN_OVERSIZE,
    SIM_SIGN_EMPTY,
    SIM_ATTR_HUGE,
    SIM_ATTR_OVERSIZE,
    SIM_ATTR_SCALAR_LEN,
    SIM_ATTR_UNAVAILABLE,
    SIM_ATTR_LABEL_BYTES,
    SIM_COUNT_OVERSIZE,
    SIM_STALE_OBJECTS,
    SIM_INVALID_SESSION,
    SIM_SIGN_BITFLIP,
    SIM_NHOSTILE
};

typedef struct sim_shared {
    uint32_t magic, version;
    uint64_t calls[SIM_NFUNCS]; /* per function, every process */
    int64_t absent_until_ms;    /* wall clock; token absent until then */
    uint64_t removal_epoch;     /* bumps on every removal */
    uint64_t invalidate_epoch;  /* bumps on "invalidate all sessions" */
    uint32_t wrong_pins;        /* consecutive wrong user PINs */
    uint32_t locked;            /* user PIN locked */
    uint64_t sign_ops;          /* C_Sign calls, for absent-after-ops */
    uint64_t loads;             /* C_Initialize of the simulator, ever;
                                       not cleared by reset: proves a
                                       simulator used this file */
    uint32_t hostile;           /* set by hsmsim-ctl: 0 = never (the
                                       config's `hostile` holds), else
                                       1 + enum sim_hostile (1 = off) */
    uint64_t hits[SIM_NFUNCS];  /* answers a hostile fault falsified,
                                       per function, since reset */
    uint32_t hang;              /* set by hsmsim-ctl hang on: every call
                                       blocks until it is off again */
    uint32_t hanging;           /* calls blocked by it right now */
    uint64_t sign_rv;           /* set by hsmsim-ctl sign-error: every
                                       C_Sign answers it (0 = off) */
} sim_shared_t;

extern const char *const sim_function_names[SIM_NFUNCS];
/* "off", "sign-oversize", ... indexed by enum sim_hostile. */
extern const char *const sim_hostile_names[SIM_NHOSTILE];

/* Maps the state file; NULL on error. With create false, a file that
 * does not exist (or has the wrong size) is an error, not a new state. */
sim_shared_t *sim_map(const char *path, bool create);
/* Index of "C_Sign", or -1. */
int sim_index(const char *name);
/* The enum sim_hostile of "sign-oversize" ("off" too), or -1. */
int sim_hostile_index(const char *name);
int64_t sim_now_ms(void);

#endif
