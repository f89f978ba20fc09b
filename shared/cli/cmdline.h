/*
 * cmdline.h: the command-line conventions every command we ship follows
 * (hsmcache and each of its subcommands, pdns-hsm and its subcommands,
 * hsmcached, the simulator's hsmsim-ctl), kept in one place so that no
 * command re-implements them:
 *
 * - Options are read by glibc's getopt_long: long options as --opt VALUE
 *   or --opt=VALUE (or an unambiguous prefix, as GNU tools take them),
 *   short ones as -o VALUE or -oVALUE; "--" ends the options.
 * - --help prints the usage line, what the command does, its options and
 *   its exit statuses to stdout, and the command exits 0.
 * - An unknown option, a missing value, a value given to a flag, too few
 *   or too many arguments: one line on stderr naming the option or
 *   argument at fault, the usage line, and where the help is; exit 2.
 * - Exit statuses: HC_EXIT_OK 0 success, HC_EXIT_FAILED 1 the operation
 *   failed or found a problem, HC_EXIT_USAGE 2 usage or configuration
 *   error. A command lists its own meanings in its hc_cmdline_t.exits,
 *   printed by --help and repeated in its man page.
 *
 * Not thread-safe: getopt_long's state (optind, optarg) is global. Commands
 * parse their options in main's thread, before starting any other.
 */
#ifndef HC_CMDLINE_H
#define HC_CMDLINE_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#define HC_EXIT_OK 0
#define HC_EXIT_FAILED 1
#define HC_EXIT_USAGE 2

/* hc_opt_next's value for --help when the command has no -h (the value
 * of the longopts entry named "help" is the one that means help: a
 * command whose -h means help too gives that entry the value 'h'). */
#define HC_OPT_HELP 0x1000
#define HC_LONGOPT_HELP { "help", no_argument, NULL, HC_OPT_HELP }
/* hc_opt_next: stop now, and exit with the hc_opts_t's status. */
#define HC_OPT_STOP (-2)

typedef struct hc_cmdline {
    const char *prog;              /* "hsmcache pin set": names the command in every
                            * error and in its usage */
    const char *args;              /* the usage line after prog: "[--user USER]" */
    const char *help;              /* the rest of --help (what it does, options,
                            * commands), lines ending in '\n'; or NULL */
    const char *exits;             /* its exit statuses, lines "  N  meaning\n" */
    const char *shortopts;         /* getopt's short options ("c:"), or "" */
    const struct option *longopts; /* with an entry named "help", ending
                                    * in a zero entry; a long option
                                    * without a short one has a value of
                                    * 256 or more */
    bool in_order;                 /* options end at the first argument (it names
                            * a subcommand, whose own options follow) */
} hc_cmdline_t;

/* One command's parse: set it up with HC_OPTS, call hc_opt_next until -1.
 * After the loop, argv[first .. argc-1] are the arguments (non-options),
 * in order. */
typedef struct hc_opts {
    const hc_cmdline_t *cl;
    int argc;
    char **argv; /* argv[0] is the command's name (getopt's) */
    int first;   /* the first argument, once hc_opt_next gave -1 */
    int status;  /* the exit status after HC_OPT_STOP */
    bool started;
} hc_opts_t;

#define HC_OPTS(cl_, argc_, argv_) \
    { .cl = (cl_), .argc = (argc_), .argv = (argv_), .first = 1, .status = 0, .started = false }

/* The next option: its getopt value, with optarg set for one that takes
 * a value; -1 when the options end (o->first is then the first argument);
 * HC_OPT_STOP after --help (usage printed to stdout, o->status 0) or a
 * usage error (printed to stderr naming the option, o->status 2). */
int hc_opt_next(hc_opts_t *o);

/* Checks that min..max arguments follow the options (max -1: any number);
 * returns -1 when they do, else prints which is missing or unexpected and
 * returns HC_EXIT_USAGE. Call after hc_opt_next gave -1. */
int hc_opt_args(const hc_opts_t *o, int min, int max);

/* The whole --help text (usage line, help, exit statuses) to `out`. */
void hc_usage(const hc_cmdline_t *cl, FILE *out);

/* "PROG: MESSAGE", the usage line and "Try 'PROG --help'" on stderr;
 * returns HC_EXIT_USAGE, for `return hc_usage_error(...)`. */
int hc_usage_error(const hc_cmdline_t *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
