/*
 * cmd_pin.c: `hsmcache pin set TOKEN`, `hsmcache pin check TOKEN` and
 * `hsmcache pin clear TOKEN` (removes the rejection mark: the operator's
 * way to allow one more try of the same PIN). A token group has no PIN
 * file or mark of its own: set and clear name its members instead; check
 * logs every member in.
 * The PIN is read from the terminal with echo off (asked twice), or from
 * stdin when it is not a terminal; never from argv or the environment.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "core/pinmark.h"
#include "core/pinstore.h"

/* Reads one line (without its newline) from fd; -1 on error/too long. */
static int read_line_fd(int fd, unsigned char *buf, size_t size)
{
    size_t n = 0;
    for (;;) {
        unsigned char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || c == '\n')
            break;
        if (n + 1 >= size)
            return -1;
        buf[n++] = c;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    return (int)n;
}

static int prompt(int tty, const char *text, unsigned char *buf, size_t size)
{
    struct termios old, quiet;
    if (write(tty, text, strlen(text)) < 0 || tcgetattr(tty, &old) != 0)
        return -1;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    tcsetattr(tty, TCSAFLUSH, &quiet);
    int n = read_line_fd(tty, buf, size);
    tcsetattr(tty, TCSAFLUSH, &old);
    if (write(tty, "\n", 1) < 0)
        n = -1;
    return n;
}

/* Reads the new PIN; returns its length or -1 (message printed). */
static int read_new_pin(const char *token, unsigned char *pin, size_t size)
{
    if (!isatty(STDIN_FILENO))
        return read_line_fd(STDIN_FILENO, pin, size);
    int tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (tty < 0)
        tty = STDIN_FILENO;
    char text[128];
    unsigned char again[HC_PIN_MAX + 2];
    snprintf(text, sizeof text, "PIN for token %s: ", token);
    int n = prompt(tty, text, pin, size);
    int m = n > 0 ? prompt(tty, "Again: ", again, sizeof again) : -1;
    if (n > 0 && (m != n || memcmp(pin, again, (size_t)n) != 0)) {
        hc_cli_error("the two PINs differ; nothing stored");
        n = -1;
    }
    OPENSSL_cleanse(again, sizeof again);
    if (tty != STDIN_FILENO)
        close(tty);
    return n;
}

static int pin_set(const hc_cli_t *cli, const char *token)
{
    hc_config_t *cfg = hc_cli_config(cli);
    if (!cfg)
        return 2;
    hc_err_t err = { 0 };
    if (!hc_config_token(cfg, token) || hc_pin_not_group(cfg, token, "set", &err) != CKR_OK) {
        if (err.msg[0])
            hc_cli_error("%s; nothing stored", err.msg);
        else
            hc_cli_error("%s: no [token %s] in the config", cfg->path, token);
        hc_config_free(cfg);
        return 2;
    }
    unsigned char pin[HC_PIN_MAX + 2];
    int n = read_new_pin(token, pin, sizeof pin);
    int status = 1;
    if (n <= 0)
        hc_cli_error("no PIN read (1 to %d bytes on one line); nothing stored", HC_PIN_MAX);
    else if (hc_pin_write(cfg->pin_store, token, pin, (size_t)n, &err) != CKR_OK)
        hc_cli_error("%s", err.msg);
    else {
        printf("PIN for token %s stored in %s/%s\n", token, cfg->pin_store, token);
        status = 0;
    }
    OPENSSL_cleanse(pin, sizeof pin);
    hc_config_free(cfg);
    return status;
}

static int pin_check(const hc_cli_t *cli, const char *token)
{
    hc_ctx_t *ctx = hc_cli_open(cli);
    if (!ctx)
        return 2;
    long tok = hc_cli_token(ctx, token);
    if (tok < 0) {
        hc_close(ctx);
        return 2;
    }
    hc_err_t err = { 0 };
    CK_RV rv = hc_login_check(ctx, (size_t)tok, &err);
    hc_token_status_t st;
    hc_token_status(ctx, (size_t)tok, &st, NULL);
    int status = 1;
    if (rv == CKR_OK) {
        printf("token %s: PIN ok\n", token);
        if (st.info.flags & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY))
            printf("token %s: warning: the token reports earlier wrong PIN tries%s\n", token,
                   (st.info.flags & CKF_USER_PIN_FINAL_TRY) ? " (final try left)" : "");
        status = 0;
    } else if (rv == CKR_PIN_LOCKED || (st.info.flags & CKF_USER_PIN_LOCKED)) {
        printf("token %s: PIN locked: %s\n", token, err.msg);
    } else if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE ||
               rv == CKR_PIN_EXPIRED) {
        printf("token %s: PIN wrong: %s\n", token, err.msg);
    } else {
        printf("token %s: cannot check: %s\n", token, err.msg);
    }
    hc_close(ctx);
    return status;
}

static int pin_clear(const hc_cli_t *cli, const char *token)
{
    hc_config_t *cfg = hc_cli_config(cli);
    if (!cfg)
        return 2;
    int status = 0;
    hc_err_t err = { 0 };
    if (!hc_config_token(cfg, token)) {
        hc_cli_error("%s: no [token %s] in the config", cfg->path, token);
        status = 2;
    } else if (hc_pin_not_group(cfg, token, "clear", &err) != CKR_OK) {
        hc_cli_error("%s; no mark removed", err.msg);
        status = 2;
    } else if (hc_pinmark_clear(cfg->cache_dir, token) == 0) {
        printf("token %s: PIN rejection mark removed from %s/pin-rejected; the "
               "next login tries the PIN once\n",
               token, cfg->cache_dir);
    } else if (errno == ENOENT) {
        printf("token %s: no PIN rejection mark in %s/pin-rejected\n", token, cfg->cache_dir);
    } else {
        hc_cli_error("%s/pin-rejected/%s: %s (run as the user that owns the "
                     "cache dir)",
                     cfg->cache_dir, token, strerror(errno));
        status = 1;
    }
    hc_config_free(cfg);
    return status;
}

#define PIN_HELP_OPTIONS "Options:\n  --help   this help\n"

static const hc_cmdline_t pin_cmdline = {
    .prog = "hsmcache pin",
    .args = "set|check|clear TOKEN",
    .help = "The PIN of TOKEN (an hsmcache token name), in the PIN store:\n"
            "  set TOKEN     store it (from the terminal without echo, or stdin)\n"
            "  check TOKEN   one login: ok, wrong or locked\n"
            "  clear TOKEN   remove the PIN rejection mark (one more try)\n"
            "Each answers --help.\n" PIN_HELP_OPTIONS,
    .exits = HC_CLI_EXIT_OK "  1  see each subcommand's --help\n" HC_CLI_EXIT_USAGE,
    .shortopts = "",
    .longopts = hc_cli_no_options,
    .in_order = true,
};

static const hc_cmdline_t pin_sub_cmdline[] = {
    {
        .prog = "hsmcache pin set",
        .args = "TOKEN",
        .help =
            "Reads the PIN of TOKEN from the terminal without echo (asked twice), or one\n"
            "line of standard input when it is not a terminal, never from the command\n"
            "line or the environment, and writes it atomically to the PIN store (mode\n"
            "0600). Run it as the user that reads the PINs (hsmcached's, with an agent).\n" PIN_HELP_OPTIONS,
        .exits = HC_CLI_EXIT_OK
        "  1  no PIN read, or the PIN file cannot be written\n" HC_CLI_EXIT_USAGE,
        .shortopts = "",
        .longopts = hc_cli_no_options,
    },
    {
        .prog = "hsmcache pin check",
        .args = "TOKEN",
        .help = "One login with the stored PIN (unless the token rejected this PIN file\n"
                "before): ok, wrong or locked, and why.\n" PIN_HELP_OPTIONS,
        .exits = HC_CLI_EXIT_OK
        "  1  the PIN is wrong or locked, or cannot be checked\n" HC_CLI_EXIT_USAGE,
        .shortopts = "",
        .longopts = hc_cli_no_options,
    },
    {
        .prog = "hsmcache pin clear",
        .args = "TOKEN",
        .help = "Removes TOKEN's PIN rejection mark, so that the next login tries the PIN\n"
                "file once more.\n" PIN_HELP_OPTIONS,
        .exits = HC_CLI_EXIT_OK "  1  the mark cannot be removed\n" HC_CLI_EXIT_USAGE,
        .shortopts = "",
        .longopts = hc_cli_no_options,
    },
};

int hc_cmd_pin(hc_cli_t *cli)
{
    int first, usage = hc_cli_args(cli, &pin_cmdline, 1, -1, &first);
    if (usage >= 0)
        return usage;
    static const char *const subs[] = { "set", "check", "clear" };
    size_t k = 0;
    while (k < 3 && strcmp(cli->argv[first], subs[k]))
        k++;
    if (k == 3)
        return hc_usage_error(&pin_cmdline, "unknown subcommand '%s'", cli->argv[first]);
    hc_cli_t sub = { cli->conf, cli->argc - first, cli->argv + first };
    if ((usage = hc_cli_args(&sub, &pin_sub_cmdline[k], 1, 1, &first)) >= 0)
        return usage;
    const char *token = sub.argv[first];
    if (!hc_valid_token_name(token))
        return hc_usage_error(&pin_sub_cmdline[k], "'%s' is not a valid token name", token);
    return k == 0 ? pin_set(cli, token) : k == 1 ? pin_check(cli, token) : pin_clear(cli, token);
}
