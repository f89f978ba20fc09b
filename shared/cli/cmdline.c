/* cmdline.c: getopt_long with the house's --help, error and exit-status
 * conventions (cmdline.h). */
#include "cmdline.h"

#include <stdarg.h>
#include <string.h>

void hc_usage(const hc_cmdline_t *cl, FILE *out)
{
    fprintf(out, "usage: %s%s%s\n", cl->prog, cl->args[0] ? " " : "", cl->args);
    if (cl->help)
        fputs(cl->help, out);
    fprintf(out, "Exit status:\n%s", cl->exits);
}

int hc_usage_error(const hc_cmdline_t *cl, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", cl->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s%s%s\nTry '%s --help' for more.\n", cl->prog,
            cl->args[0] ? " " : "", cl->args, cl->prog);
    return HC_EXIT_USAGE;
}

/* The value getopt_long gives for --help (and -h, where that is help). */
static int help_value(const hc_cmdline_t *cl)
{
    for (const struct option *lo = cl->longopts; lo->name; lo++)
        if (!strcmp(lo->name, "help"))
            return lo->val;
    return HC_OPT_HELP;
}

/* The long option that `val` stands for, or NULL. */
static const struct option *long_of(const hc_cmdline_t *cl, int val)
{
    for (const struct option *lo = cl->longopts; lo->name; lo++)
        if (lo->val == val)
            return lo;
    return NULL;
}

/* Why getopt_long refused the word it just read, said by name. It leaves
 * optopt 0 for an unknown or ambiguous long option, the character for an
 * unknown short one, and the option's value for a long option given a
 * value it does not take; a missing value (':') is always the last word,
 * since getopt takes the next word, whatever it is, as the value. */
static int refuse(hc_opts_t *o, int c)
{
    const hc_cmdline_t *cl = o->cl;
    if (c == ':') {
        const char *last = o->argv[o->argc - 1];
        o->status = !strncmp(last, "--", 2)
                        ? hc_usage_error(cl, "option '%s' needs a value", last)
                        : hc_usage_error(cl, "option '-%c' needs a value", optopt);
        return HC_OPT_STOP;
    }
    if (optopt == 0) {
        const char *word = o->argv[optind - 1];
        int len = (int)strcspn(word, "=");
        int matches = 0;
        for (const struct option *lo = cl->longopts; lo->name; lo++)
            matches += len > 2 && !strncmp(lo->name, word + 2, (size_t)len - 2);
        o->status = matches > 1
                        ? hc_usage_error(cl, "option '%.*s' is ambiguous (give more of its name)",
                                         len, word)
                        : hc_usage_error(cl, "unknown option '%.*s'", len, word);
        return HC_OPT_STOP;
    }
    const struct option *lo = long_of(cl, optopt);
    if (optopt < 256 && !strchr(cl->shortopts, optopt))
        o->status = hc_usage_error(cl, "unknown option '-%c'", optopt);
    else
        o->status = hc_usage_error(cl, "option '--%s' takes no value", lo ? lo->name : "?");
    return HC_OPT_STOP;
}

int hc_opt_next(hc_opts_t *o)
{
    const hc_cmdline_t *cl = o->cl;
    char optstring[128];
    /* '+': options end at the first argument (a subcommand follows);
     * ':': a missing value comes back as ':', and getopt prints nothing
     * (its messages would name argv[0], a subcommand's bare name). */
    snprintf(optstring, sizeof optstring, "%s:%s", cl->in_order ? "+" : "", cl->shortopts);
    if (!o->started) {
        optind = 0; /* glibc: start over, reading optstring's '+' again */
        o->started = true;
    }
    opterr = 0;
    int c = getopt_long(o->argc, o->argv, optstring, cl->longopts, NULL);
    if (c == -1) {
        o->first = optind;
        return -1;
    }
    if (c == help_value(cl)) {
        hc_usage(cl, stdout);
        o->status = HC_EXIT_OK;
        return HC_OPT_STOP;
    }
    if (c == '?' || c == ':')
        return refuse(o, c);
    return c;
}

/* The names of positional arguments from..to-1 in the usage line (words
 * outside [...] groups, not options), space-separated into out; false
 * when the usage line names fewer. */
static bool positional_names(const char *args, int from, int to, char *out, size_t size)
{
    int depth = 0, index = 0;
    size_t len = 0;
    out[0] = '\0';
    for (const char *p = args; *p && index < to;) {
        while (*p == ' ')
            p++;
        const char *w = p;
        int start_depth = depth;
        for (; *p && *p != ' '; p++)
            depth += *p == '[' ? 1 : *p == ']' ? -1 : 0;
        if (p == w || start_depth > 0 || *w == '[' || *w == '-')
            continue;
        if (index++ >= from && len < size) {
            int n = snprintf(out + len, size - len, "%s%.*s", len ? " " : "", (int)(p - w), w);
            len += n > 0 ? (size_t)n : 0;
        }
    }
    return index >= to && len < size;
}

int hc_opt_args(const hc_opts_t *o, int min, int max)
{
    int n = o->argc - o->first;
    char missing[128];
    if (n < min && positional_names(o->cl->args, n, min, missing, sizeof missing))
        return hc_usage_error(o->cl, "missing %s", missing);
    if (n < min)
        return hc_usage_error(o->cl, "%d argument%s given, %d wanted", n, n == 1 ? "" : "s", min);
    if (max >= 0 && n > max)
        return hc_usage_error(o->cl, "unexpected argument '%s'", o->argv[o->first + max]);
    return -1;
}
