/*
 * keyscale.c: what looking keys up costs a host as a token fills, through
 * the public API ($HSMCACHE_CONF, profile "cli"), for bench-scale and the
 * key-index test. On a token holding pairs PREFIX-1..PREFIX-COUNT (mkkeys):
 *   keyscale TOKEN PREFIX COUNT LOOKUPS
 * times hc_open, the first lookup (a search of the token), the slowest of
 * the next WARMUP (max_ms: the core indexes every object at a context's
 * 16th lookup, so that is the pass) and LOOKUPS later ones of PREFIX-i's
 * private key, the steady state, i
 * spread over 1..COUNT, each by URI (pkcs11:token=TOKEN;object=PREFIX-i;
 * type=private, as BIND names keys), then as many by template with
 * hc_find (CKA_CLASS and CKA_LABEL: the key index alone, without the URI
 * layer's per-lookup token status). Every answer is checked, untimed: one
 * object, whose CKA_LABEL is PREFIX-i. Prints one line:
 *   open_ms X first_ms X later_us X later_p90_us X rss_kb X find_us X max_ms X
 * (later, find: median and 90th percentile / median; rss_kb: VmRSS growth
 * from before hc_open to the end) and exits 1 on a wrong answer, naming it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmcache.h"

/* Lookups after the first and before the timed ones: past the core's
 * threshold for indexing the token (objects.c, 16). */
#define WARMUP 20

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Looks PREFIX-i up, by URI or (`by_uri` false) by template on token 0;
 * returns its time in us, or -1 (message printed). */
static double lookup(hc_ctx_t *ctx, const char *tok, const char *prefix, long i, bool by_uri)
{
    char uri[512], label[300];
    int len = snprintf(label, sizeof label, "%s-%ld", prefix, i);
    snprintf(uri, sizeof uri, "pkcs11:token=%s;object=%s;type=private", tok, label);
    hc_obj_t *objs = NULL;
    size_t n = 0;
    hc_err_t err = { 0 };
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_LABEL, label, (CK_ULONG)len } };
    double t0 = now_us();
    CK_RV rv =
        by_uri ? hc_find_uri(ctx, uri, &objs, &n, &err) : hc_find(ctx, 0, tmpl, 2, &objs, &n, &err);
    double took = now_us() - t0;
    if (rv != CKR_OK || n != 1) {
        fprintf(stderr, "keyscale: %s: %zu objects (%s)\n", uri, n,
                rv == CKR_OK ? "want 1" : err.msg);
        free(objs);
        return -1;
    }
    char got[300];
    CK_ATTRIBUTE a = { CKA_LABEL, got, sizeof got - 1 };
    rv = hc_get_attrs(ctx, objs[0], &a, 1, &err);
    free(objs);
    if (rv != CKR_OK || a.ulValueLen != strlen(label) || memcmp(got, label, a.ulValueLen)) {
        fprintf(stderr, "keyscale: %s answered an object labelled '%.*s'\n", uri,
                rv == CKR_OK ? (int)a.ulValueLen : 0, got);
        return -1;
    }
    return took;
}

int main(int argc, char **argv)
{
    char *e1 = NULL, *e2 = NULL;
    long count = argc == 5 ? strtol(argv[3], &e1, 10) : 0;
    long lookups = argc == 5 ? strtol(argv[4], &e2, 10) : 0;
    if (argc != 5 || *e1 || *e2 || count < 1 || lookups < 1 || lookups > 1000000) {
        fprintf(stderr, "usage: keyscale TOKEN PREFIX COUNT LOOKUPS\n");
        return 2;
    }
    long rss0 = rss_kb();
    hc_ctx_t *ctx = NULL;
    hc_err_t err = { 0 };
    double t0 = now_us();
    if (hc_open(HC_PROFILE_CLI, NULL, &ctx, &err) != CKR_OK) {
        fprintf(stderr, "keyscale: hc_open: %s\n", err.msg);
        return 1;
    }
    double open_us = now_us() - t0;
    double first = lookup(ctx, argv[1], argv[2], 1, true), slowest = 0;
    for (long k = 0; k < WARMUP && first >= 0; k++) {
        double w = lookup(ctx, argv[1], argv[2], 1 + (k * 7919) % count, true);
        if (w < 0)
            return 1;
        slowest = w > slowest ? w : slowest;
    }
    double *later = calloc((size_t)lookups, sizeof *later);
    double *find = calloc((size_t)lookups, sizeof *find);
    if (first < 0 || !later || !find)
        return 1;
    /* A stride coprime to most counts walks the whole range. */
    for (long k = 0; k < lookups; k++)
        if ((later[k] = lookup(ctx, argv[1], argv[2], 1 + (k * 7919) % count, true)) < 0 ||
            (find[k] = lookup(ctx, argv[1], argv[2], 1 + (k * 7727) % count, false)) < 0)
            return 1;
    qsort(later, (size_t)lookups, sizeof *later, cmp_double);
    qsort(find, (size_t)lookups, sizeof *find, cmp_double);
    printf("open_ms %.2f first_ms %.2f later_us %.1f later_p90_us %.1f rss_kb %ld "
           "find_us %.1f max_ms %.2f\n",
           open_us / 1e3, first / 1e3, later[lookups / 2], later[(size_t)((double)lookups * 0.9)],
           rss_kb() - rss0, find[lookups / 2], slowest / 1e3);
    free(later);
    free(find);
    hc_close(ctx);
    return 0;
}
