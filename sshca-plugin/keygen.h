/*
 * keygen.h: what an ssh-keygen command line makes ssh-keygen put in the
 * certificates it signs, read exactly as that ssh-keygen version reads
 * it. The policy and the audit record judge this, never the raw argv.
 *
 * Everything here is a pure function of its arguments (argv, the version,
 * the time `now`): no /proc, no clock, no files, no globals, so hsmcached
 * can judge its own requests with the same code. Absolute -V dates are
 * read with strptime/mktime in the process's local time zone, as
 * ssh-keygen reads them (tzset's state is libc's). Thread-safe.
 *
 * Files: keygen_argv.c (versions, OpenSSH's getopt, what each option
 * sets), validity.c (-V), certopts.c (-O). The model follows the source of
 * each version (openssh-portable, ssh-keygen.c main(), do_ca_sign(),
 * parse_cert_times(), add_cert_option(), finalise_cert_exts(); misc.c
 * convtime(), parse_absolute_time(); openbsd-compat/getopt_long.c, which
 * Linux builds use because glibc has no optreset).
 */
#ifndef SSHCA_KEYGEN_H
#define SSHCA_KEYGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* How a version reads -V's relative times (misc.c convtime()). */
typedef enum sshca_convtime {
    SSHCA_CONVTIME_STRTOL, /* 9.2: strtol per number (blanks, a sign, "-0") */
    SSHCA_CONVTIME_DIGITS, /* 10.0: ASCII digits only per number */
} sshca_convtime_t;

typedef struct sshca_keygen_version {
    const char *release;   /* as in the binary's "OpenSSH_<release> ": "9.2p1" */
    const char *optstring; /* ssh-keygen.c's getopt() option string */
    sshca_convtime_t convtime;
} sshca_keygen_version_t;

/* The version whose release is `release`, or NULL: not one this module
 * has read the source of (the caller refuses, naming it). */
const sshca_keygen_version_t *sshca_keygen_version(const char *release);
/* The releases known, comma-separated, for messages. */
const char *sshca_keygen_versions(void);

/* A certificate option, as ssh-keygen -L lists it. */
typedef struct sshca_certopt {
    char *name;
    char *value;   /* NULL: a flag */
    bool critical; /* critical option, else extension */
} sshca_certopt_t;

/* What ssh-keygen will do with the command line. Every pointer points
 * into the request's own memory (release with sshca_request_free). */
typedef struct sshca_request {
    bool certify;               /* it will sign certificates (do_ca_sign) */
    const char *ca_file;        /* -s */
    const char *provider;       /* -D */
    const char *key_id;         /* -I (last one given) */
    const char *principals_arg; /* -n as given (last), NULL when none */
    char **principals;          /* -n split at commas: the certificate's list */
    size_t nprincipals;
    const char *validity_arg;           /* -V as given (last), NULL when none */
    uint64_t valid_after, valid_before; /* the certificate's, 0 / ~0 unbounded */
    bool backdated;                     /* -V +TIME: ssh-keygen starts it up to 118 s before now */
    bool host;                          /* -h: a host certificate */
    uint64_t serial;                    /* -z: the first certificate's serial */
    bool serial_autoinc;                /* -z +N: each further key file gets the next */
    const char **raw_options;           /* -O as given, in order */
    size_t nraw_options;
    sshca_certopt_t *options; /* the certificate's, in its (sorted) order */
    size_t noptions;
    const char **files; /* the public keys to certify, in order */
    size_t nfiles;
    char **argv_copy; /* (backing store) */
    size_t argc_copy;
} sshca_request_t;

/* Reads argv[1..argc-1] (argv[0] is the program) as `v`'s ssh-keygen
 * does, at time `now` (ssh-keygen's time(NULL) while it parses -V).
 * 0: *r says what ssh-keygen will do (r->certify false: it signs nothing,
 * e.g. -D alone lists keys). -1: ssh-keygen refuses the command line
 * itself or this model cannot vouch for it (an option not in the
 * version's table, a missing argument, a -V/-z/-O/-n it rejects); `why`
 * names the argument and what is wrong ("out of memory" too), and *r is
 * empty. */
int sshca_keygen_parse(const sshca_keygen_version_t *v, int argc, char *const argv[], time_t now,
                       sshca_request_t *r, char *why, size_t size);
void sshca_request_free(sshca_request_t *r);

/* The serial of the certificate for r->files[i]. */
uint64_t sshca_request_serial(const sshca_request_t *r, size_t i);

/* validity.c: -V `spec` as `v` parses it (parse_cert_times): 0 and the
 * interval, or -1 with `why`. */
int sshca_validity(const sshca_keygen_version_t *v, const char *spec, time_t now, uint64_t *after,
                   uint64_t *before, bool *backdated, char *why, size_t size);
/* The interval in ssh-keygen's own -V syntax, exact: UTC
 * YYYYMMDDHHMMSSZ, "always" / "forever" for the open ends, 0x<hex> past
 * year 9999. `out` needs 48 bytes. */
void sshca_validity_format(uint64_t after, uint64_t before, char *out, size_t size);

/* certopts.c: the -O options `opts` (in order) on a user (host false) or
 * host certificate: 0 and the certificate's options, sorted as
 * ssh-keygen sorts them (malloc'ed; sshca_certopts_free), or -1 with
 * `why` naming the option ssh-keygen refuses. */
int sshca_certopts(const char *const *opts, size_t nopts, bool host, sshca_certopt_t **out,
                   size_t *nout, char *why, size_t size);
void sshca_certopts_free(sshca_certopt_t *o, size_t n);
/* One option as an -O argument that gives it ("permit-pty",
 * "force-command=/bin/true", "extension:name=value"); malloc'ed. */
char *sshca_certopt_text(const sshca_certopt_t *o);

#endif
