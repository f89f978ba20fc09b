/*
 * hsmsim-ctl.c: reads and steers a running simulator through its state
 * file.
 *   hsmsim-ctl STATE counts          nonzero call counts, "C_Sign 12"
 *   hsmsim-ctl STATE get C_Login     one count
 *   hsmsim-ctl STATE reset           zero the counters
 *   hsmsim-ctl STATE remove MS       token absent for MS milliseconds
 *   hsmsim-ctl STATE insert          token back now
 *   hsmsim-ctl STATE invalidate      every process's sessions closed
 *   hsmsim-ctl STATE pin-status      "wrong N locked 0|1"
 *   hsmsim-ctl STATE unlock          clear the PIN lock
 *   hsmsim-ctl STATE loads           how many times a simulator loaded it
 *   hsmsim-ctl STATE hostile NAME    every process's hostile fault (hsmsim.c
 *                                    lists them); `off` for none, over the
 *                                    config's `hostile` too
 *   hsmsim-ctl STATE hits            answers the fault falsified since the
 *                                    last reset, per function, "C_Sign 2"
 *   hsmsim-ctl STATE hang on|off     every call blocks until `hang off`
 *   hsmsim-ctl STATE hanging         how many calls are blocked now
 *   hsmsim-ctl STATE sign-error RV   every C_Sign answers RV (0x5 =
 *                                    CKR_GENERAL_ERROR; 0 = off)
 * Only `reset` creates a missing state file. The reports (counts, get,
 * pin-status, hits) refuse a file no simulator has loaded: a count of 0 from a
 * simulator nobody used is not an answer.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "simstate.h"

static const struct option longopts[] = { HC_LONGOPT_HELP, { 0 } };

static const hc_cmdline_t cmdline = {
    .prog = "hsmsim-ctl",
    .args = "STATE counts|get FN|reset|remove MS|insert|invalidate|pin-status|unlock|"
            "loads|hostile NAME|hits|hang on|off|hanging|sign-error RV",
    .help = "Reads and steers the simulators that use the state file STATE (see the top\n"
            "of tests/sim/hsmsim-ctl.c for each command). Options:\n"
            "  --help   this help\n",
    .exits = "  0  done\n"
             "  1  STATE cannot be mapped, or no simulator loaded it (for a report)\n"
             "  2  usage error (an unknown option, command, function or fault)\n",
    .shortopts = "",
    .longopts = longopts,
    .in_order = true,
};

int main(int argc, char **argv)
{
    hc_opts_t o = HC_OPTS(&cmdline, argc, argv);
    int c;
    while ((c = hc_opt_next(&o)) != -1)
        if (c == HC_OPT_STOP)
            return o.status;
    if ((c = hc_opt_args(&o, 2, 3)) >= 0)
        return c;
    argc -= o.first - 1; /* STATE is argv[1] below, whatever came before */
    argv += o.first - 1;
    const char *cmd = argv[2];
    sim_shared_t *s = sim_map(argv[1], !strcmp(cmd, "reset"));
    if (!s) {
        fprintf(stderr, "hsmsim-ctl: cannot map %s (no simulator state there)\n", argv[1]);
        return 1;
    }
    bool report = !strcmp(cmd, "counts") || !strcmp(cmd, "get") || !strcmp(cmd, "pin-status") ||
                  !strcmp(cmd, "hits");
    if (report && __atomic_load_n(&s->loads, __ATOMIC_RELAXED) == 0) {
        fprintf(stderr, "hsmsim-ctl: no simulator has loaded %s: nothing to report\n", argv[1]);
        return 1;
    }
    if (!strcmp(cmd, "counts") || !strcmp(cmd, "hits")) {
        uint64_t *per = !strcmp(cmd, "counts") ? s->calls : s->hits;
        for (int i = 0; i < SIM_NFUNCS; i++) {
            uint64_t n = __atomic_load_n(&per[i], __ATOMIC_RELAXED);
            if (n)
                printf("%s %llu\n", sim_function_names[i], (unsigned long long)n);
        }
    } else if (!strcmp(cmd, "hostile") && argc == 4) {
        int h = sim_hostile_index(argv[3]);
        if (h < 0) {
            fprintf(stderr, "hsmsim-ctl: unknown hostile fault %s\n", argv[3]);
            return 2;
        }
        __atomic_store_n(&s->hostile, (uint32_t)h + 1, __ATOMIC_RELAXED);
    } else if (!strcmp(cmd, "get") && argc == 4) {
        int i = sim_index(argv[3]);
        if (i < 0) {
            fprintf(stderr, "hsmsim-ctl: unknown function %s\n", argv[3]);
            return 2;
        }
        printf("%llu\n", (unsigned long long)__atomic_load_n(&s->calls[i], __ATOMIC_RELAXED));
    } else if (!strcmp(cmd, "reset")) {
        for (int i = 0; i < SIM_NFUNCS; i++) {
            __atomic_store_n(&s->calls[i], 0, __ATOMIC_RELAXED);
            __atomic_store_n(&s->hits[i], 0, __ATOMIC_RELAXED);
        }
        __atomic_store_n(&s->sign_ops, 0, __ATOMIC_RELAXED);
    } else if (!strcmp(cmd, "remove") && argc == 4) {
        __atomic_store_n(&s->absent_until_ms, sim_now_ms() + atoll(argv[3]), __ATOMIC_RELAXED);
        __atomic_fetch_add(&s->removal_epoch, 1, __ATOMIC_RELEASE);
    } else if (!strcmp(cmd, "insert")) {
        __atomic_store_n(&s->absent_until_ms, 0, __ATOMIC_RELAXED);
    } else if (!strcmp(cmd, "invalidate")) {
        __atomic_fetch_add(&s->invalidate_epoch, 1, __ATOMIC_RELEASE);
    } else if (!strcmp(cmd, "pin-status")) {
        printf("wrong %u locked %u\n", s->wrong_pins, s->locked);
    } else if (!strcmp(cmd, "loads")) {
        printf("%llu\n", (unsigned long long)__atomic_load_n(&s->loads, __ATOMIC_RELAXED));
    } else if (!strcmp(cmd, "hang") && argc == 4 &&
               (!strcmp(argv[3], "on") || !strcmp(argv[3], "off"))) {
        __atomic_store_n(&s->hang, !strcmp(argv[3], "on"), __ATOMIC_RELAXED);
    } else if (!strcmp(cmd, "sign-error") && argc == 4) {
        char *end;
        unsigned long long rv = strtoull(argv[3], &end, 0);
        if (!argv[3][0] || *end) {
            fprintf(stderr, "hsmsim-ctl: sign-error wants a CKR number, not %s\n", argv[3]);
            return 2;
        }
        __atomic_store_n(&s->sign_rv, (uint64_t)rv, __ATOMIC_RELAXED);
    } else if (!strcmp(cmd, "hanging")) {
        printf("%u\n", __atomic_load_n(&s->hanging, __ATOMIC_RELAXED));
    } else if (!strcmp(cmd, "unlock")) {
        __atomic_store_n(&s->wrong_pins, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->locked, 0, __ATOMIC_RELAXED);
    } else {
        fprintf(stderr, "hsmsim-ctl: unknown command %s\n", cmd);
        return 2;
    }
    return 0;
}
