/*
 * p11kit_rules.h: p11-kit's per-program rule for a module file
 * (pkcs11.conf(5): `enable-in:`, `disable-in:`), so that the core's own
 * module-file reader (module.c) loads a module into exactly the programs
 * p11-kit itself would, and an operator's rule keeps its meaning when
 * hsmcache names the module (`[token] module = NAME`).
 *
 * The answers are p11-kit 0.24's, measured with `p11-kit list-modules`
 * run under other names (tests/unit/test_p11kit_rules.c lists the cases):
 * lists split at commas and white space, names compared whole and
 * case-sensitively with the program's short name (no "lt-" stripping);
 * neither key: enabled; enable-in given: enabled only for a listed name
 * (an empty list enables nothing), and disable-in is then ignored;
 * disable-in alone: enabled unless listed; a key given twice: the last.
 * Lines are trimmed; empty lines and lines starting with '#' are skipped.
 * A line without ':' or a "[section]" line makes p11-kit load no module
 * at all: here the file is refused (not enabled), as is a file with a NUL
 * byte or longer than HC_P11KIT_FILE_MAX.
 *
 * Thread-safe: no state; each call reads only its arguments (and the
 * FILE, which the caller must not share during the call).
 */
#ifndef HC_P11KIT_RULES_H
#define HC_P11KIT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Module files are a few lines; anything longer is not one. */
#define HC_P11KIT_FILE_MAX 65536

/* Would p11-kit load the module of this module-file text (`len` bytes)
 * into a program named `progname` (NULL: a program p11-kit cannot name)? */
bool hc_p11kit_enabled(const char *text, size_t len, const char *progname);

/* The same for an open module file, read from its start. */
bool hc_p11kit_file_enabled(FILE *f, const char *progname);

/* This process's name as p11-kit matches it (program_invocation_short_name). */
const char *hc_p11kit_progname(void);

#endif
