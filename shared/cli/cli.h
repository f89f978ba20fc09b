/* cli.h: the `hsmcache` command-line tool's commands. Each returns the
 * process exit status (cmdline.h): 0 ok, 1 the operation failed or found
 * a problem, 2 usage or configuration error; each reads its options with
 * cmdline.h and answers --help with its own usage and exit statuses. */
#ifndef HC_CLI_H
#define HC_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "cmdline.h"
#include "hsmcache.h"

typedef struct hc_cli {
    const char *conf; /* -c PATH, or NULL for the default */
    int argc;
    char **argv; /* the command's name, then its own arguments
                            * (getopt's convention: argv[0] is skipped) */
} hc_cli_t;

/* The exit statuses every command shares, for hc_cmdline_t.exits. */
#define HC_CLI_EXIT_OK "  0  success\n"
#define HC_CLI_EXIT_USAGE "  2  usage or configuration error (an unknown option or token, a bad config)\n"

/* The options of a command that has none but --help. */
extern const struct option hc_cli_no_options[];

/* Reads a command's options when it has none but --help, and checks that
 * min..max arguments follow (max -1: any number). Returns -1 to go on,
 * with *first the index of the first argument in cli->argv, else the exit
 * status (0 after --help, 2 after a usage error, both printed). */
int hc_cli_args(hc_cli_t *cli, const hc_cmdline_t *cl, int min, int max, int *first);

int hc_cmd_tokens(hc_cli_t *cli);
int hc_cmd_keys(hc_cli_t *cli);
int hc_cmd_keygen(hc_cli_t *cli);
int hc_cmd_pin(hc_cli_t *cli);
int hc_cmd_stats(hc_cli_t *cli);
int hc_cmd_doctor(hc_cli_t *cli);
int hc_cmd_sshca(hc_cli_t *cli);
/* `sshca sign` (cmd_sshca_sign.c); argv[0] is "sign". */
int hc_cmd_sshca_sign(hc_cli_t *cli);
/* `sshca revoke` and `sshca krl` (cmd_sshca_revoke.c); argv[0] says which. */
int hc_cmd_sshca_revoke(hc_cli_t *cli);

/* Opens the CLI's context or prints why not (returns NULL). */
hc_ctx_t *hc_cli_open(const hc_cli_t *cli);
/* The config, for commands that read settings rather than tokens; prints
 * the error and returns NULL on failure. Free with hc_config_free. */
struct hc_config *hc_cli_config(const hc_cli_t *cli);
/* Token index by name, or prints the error and returns -1. */
long hc_cli_token(hc_ctx_t *ctx, const char *name);
void hc_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Fixed PKCS#11 text field without its padding. */
void hc_cli_field(char *out, size_t size, const unsigned char *field, size_t n);
/* pkcs11: URI of an object (token by hsmcache name; the label's bytes,
 * any of them, percent-encoded by p11-kit); malloc'ed. */
char *hc_cli_uri(const char *token, const char *label, size_t labellen, const unsigned char *id,
                 size_t idlen, CK_OBJECT_CLASS cls);

#endif
