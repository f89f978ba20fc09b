/*
 * unit_shell.h: for the unit tests that build their devices with shell
 * commands (SoftHSM tokens, simulator copies, imported keys): sh() runs
 * one that must succeed, unit_build_dir() finds the build directory from
 * the test program's own path. Include after <cmocka.h> (fail_msg).
 */
#ifndef HC_UNIT_SHELL_H
#define HC_UNIT_SHELL_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A shell command that must succeed. Under ASan the commands' own leak
 * check is off (LeakSanitizer cannot stop the world in the sanitizer
 * runs' namespace); the test program's stays on. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[8192];
    int n = snprintf(cmd, sizeof cmd,
                     "export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}"
                     "detect_leaks=0; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

/* The build directory (build/tests/unit/NAME -> build) into out; false
 * when the program's path cannot be read. */
static bool unit_build_dir(char *out, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    for (int i = 0; i < 3; i++) {
        char *slash = strrchr(exe, '/');
        if (!slash)
            return false;
        *slash = '\0';
    }
    snprintf(out, size, "%s", exe);
    return true;
}

#endif
