/* stats.c: per-process counter files and their aggregation. */
#include "util/sbuf.h"
#include "core/stats.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const unsigned hc_stats_bucket_ms[HC_STATS_BUCKETS - 1] = { 1,   2,   5,   10,   20,  50,
                                                            100, 200, 500, 1000, 2000 };

static hc_stats_file_t *map_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return NULL;
    void *p = MAP_FAILED;
    if (ftruncate(fd, sizeof(hc_stats_file_t)) == 0)
        p = mmap(NULL, sizeof(hc_stats_file_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

static void add_token(hc_stats_file_t *sum, const hc_token_stats_t *t);
static void add_key(hc_stats_file_t *sum, const hc_key_stats_t *k);
static void add_shared(hc_stats_file_t *sum, const hc_shared_stats_t *sh);
static void add_member(hc_stats_file_t *sum, const hc_member_stats_t *m, bool live);
static void *map_existing(const char *path, int prot);

/* Folds the files of processes that have exited into retired.stats, so
 * the directory does not grow with every short-lived host (each
 * ssh-keygen run) while their counts stay in the totals. */
static void fold_exited(const char *dir)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock < 0 || flock(lock, LOCK_EX) != 0) {
        if (lock >= 0)
            close(lock);
        return;
    }
    snprintf(path, sizeof path, "%s/retired.stats", dir);
    hc_stats_file_t *retired = map_existing(path, PROT_READ | PROT_WRITE);
    if (!retired && (retired = map_file(path))) {
        retired->version = HC_STATS_VERSION;
        snprintf(retired->profile, sizeof retired->profile, "retired");
        retired->magic = HC_STATS_MAGIC;
    }
    DIR *d = retired ? opendir(dir) : NULL;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 7 || strcmp(de->d_name + len - 6, ".stats") != 0 ||
            strcmp(de->d_name, "retired.stats") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        hc_stats_file_t *f = map_existing(path, PROT_READ);
        if (!f)
            continue;
        bool exited =
            f->magic == HC_STATS_MAGIC && f->pid > 0 && kill(f->pid, 0) != 0 && errno == ESRCH;
        if (exited) {
            for (uint32_t i = 0; i < f->ntokens && i < HC_STATS_TOKENS; i++)
                add_token(retired, &f->tokens[i]);
            for (uint32_t i = 0; i < f->nkeys && i < HC_STATS_KEYS; i++)
                add_key(retired, &f->keys[i]);
            add_shared(retired, &f->shared);
            for (uint32_t i = 0; i < f->nmembers && i < HC_STATS_MEMBERS; i++)
                add_member(retired, &f->members[i], false);
            unlink(path);
        }
        munmap(f, sizeof *f);
    }
    if (d)
        closedir(d);
    if (retired) {
        retired->pid = 0;
        munmap(retired, sizeof *retired);
    }
    close(lock); /* releases the flock */
}

void hc_stats_open(hc_stats_t *s, const char *cache_dir, const char *profile)
{
    memset(s, 0, sizeof *s);
    char dir[4096];
    /* The cache dir itself too: the first process on a new one counts. */
    if (cache_dir && cache_dir[0] &&
        snprintf(dir, sizeof dir, "%s/stats", cache_dir) < (int)sizeof dir &&
        (mkdir(cache_dir, 0700) == 0 || errno == EEXIST) &&
        (mkdir(dir, 0700) == 0 || errno == EEXIST)) {
        fold_exited(dir);
        snprintf(s->path, sizeof s->path, "%s/%s-%d.stats", dir, profile, (int)getpid());
        s->f = map_file(s->path);
        s->mapped = s->f != NULL;
    }
    if (!s->f) {
        s->path[0] = '\0';
        void *p = mmap(NULL, sizeof(hc_stats_file_t), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        s->f = p == MAP_FAILED ? calloc(1, sizeof(hc_stats_file_t)) : p;
        s->mapped = p != MAP_FAILED;
    }
    if (s->f) {
        s->f->version = HC_STATS_VERSION;
        s->f->pid = (int32_t)getpid();
        snprintf(s->f->profile, sizeof s->f->profile, "%s", profile);
        s->f->started = (int64_t)time(NULL);
        __atomic_store_n(&s->f->magic, HC_STATS_MAGIC, __ATOMIC_RELEASE);
    }
    pthread_mutex_t *m = malloc(sizeof *m);
    if (m)
        pthread_mutex_init(m, NULL);
    s->key_lock = m;
}

/* Maps an existing stats file of the right size, or NULL. */
static void *map_existing(const char *path, int prot)
{
    int fd = open(path, ((prot & PROT_WRITE) ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    struct stat st;
    void *p = MAP_FAILED;
    if (fstat(fd, &st) == 0 && (size_t)st.st_size == sizeof(hc_stats_file_t))
        p = mmap(NULL, sizeof(hc_stats_file_t), prot, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

void hc_stats_close(hc_stats_t *s)
{
    if (s->f) {
        if (s->mapped)
            munmap(s->f, sizeof(hc_stats_file_t));
        else
            free(s->f);
    }
    if (s->key_lock) {
        pthread_mutex_destroy(s->key_lock);
        free(s->key_lock);
    }
    memset(s, 0, sizeof *s);
}

hc_token_stats_t *hc_stats_token(hc_stats_t *s, const char *name)
{
    if (!s->f)
        return &s->sink;
    pthread_mutex_lock(s->key_lock);
    hc_token_stats_t *t = &s->sink;
    for (uint32_t i = 0; i < HC_STATS_TOKENS; i++) {
        if (i == s->f->ntokens) {
            snprintf(s->f->tokens[i].name, sizeof s->f->tokens[i].name, "%s", name);
            s->f->ntokens++;
        }
        if (strcmp(s->f->tokens[i].name, name) == 0) {
            t = &s->f->tokens[i];
            break;
        }
    }
    pthread_mutex_unlock(s->key_lock);
    return t;
}

hc_key_stats_t *hc_stats_key(hc_stats_t *s, const char *token, const char *label)
{
    if (!s->f)
        return NULL;
    hc_key_stats_t *k = NULL;
    pthread_mutex_lock(s->key_lock);
    for (uint32_t i = 0; i < HC_STATS_KEYS; i++) {
        hc_key_stats_t *e = &s->f->keys[i];
        if (i == s->f->nkeys) {
            snprintf(e->token, sizeof e->token, "%s", token);
            snprintf(e->label, sizeof e->label, "%s", label);
            s->f->nkeys++;
        }
        if (!strcmp(e->token, token) && !strncmp(e->label, label, sizeof e->label - 1)) {
            k = e;
            break;
        }
    }
    pthread_mutex_unlock(s->key_lock);
    return k;
}

hc_member_stats_t *hc_stats_member(hc_stats_t *s, const char *group, const char *member)
{
    if (!s->f)
        return NULL;
    hc_member_stats_t *m = NULL;
    pthread_mutex_lock(s->key_lock);
    for (uint32_t i = 0; i < HC_STATS_MEMBERS && !m; i++) {
        hc_member_stats_t *e = &s->f->members[i];
        if (i == s->f->nmembers) {
            snprintf(e->group, sizeof e->group, "%s", group);
            snprintf(e->member, sizeof e->member, "%s", member);
            s->f->nmembers++;
        }
        if (!strcmp(e->group, group) && !strcmp(e->member, member))
            m = e;
    }
    pthread_mutex_unlock(s->key_lock);
    return m;
}

void hc_stats_latency(hc_token_stats_t *t, uint64_t us)
{
    HC_ADD(t->hsm_latency_us, us);
    unsigned b = 0;
    while (b < HC_STATS_BUCKETS - 1 && us > hc_stats_bucket_ms[b] * 1000ull)
        b++;
    HC_INC(t->latency[b]);
}

static void add_token(hc_stats_file_t *sum, const hc_token_stats_t *t)
{
    hc_token_stats_t *d = NULL;
    for (uint32_t i = 0; i < sum->ntokens; i++)
        if (!strcmp(sum->tokens[i].name, t->name))
            d = &sum->tokens[i];
    if (!d) {
        if (sum->ntokens == HC_STATS_TOKENS)
            return;
        d = &sum->tokens[sum->ntokens++];
        memcpy(d->name, t->name, sizeof d->name);
    }
    const uint64_t *src = &t->sign_requests;
    uint64_t *dst = &d->sign_requests;
    size_t n = (sizeof *t - offsetof(hc_token_stats_t, sign_requests)) / sizeof(uint64_t);
    for (size_t i = 0; i < n; i++)
        dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

static void add_key(hc_stats_file_t *sum, const hc_key_stats_t *k)
{
    hc_key_stats_t *d = NULL;
    for (uint32_t i = 0; i < sum->nkeys; i++)
        if (!strcmp(sum->keys[i].token, k->token) && !strcmp(sum->keys[i].label, k->label))
            d = &sum->keys[i];
    if (!d) {
        if (sum->nkeys == HC_STATS_KEYS)
            return;
        d = &sum->keys[sum->nkeys++];
        memcpy(d->token, k->token, sizeof d->token);
        memcpy(d->label, k->label, sizeof d->label);
    }
    d->sign_requests += HC_GET(k->sign_requests);
    d->cache_hits += HC_GET(k->cache_hits);
    d->hsm_signs += HC_GET(k->hsm_signs);
}

/* The shared tier's counters, from every file. */
static void add_shared(hc_stats_file_t *sum, const hc_shared_stats_t *sh)
{
    const uint64_t *src = &sh->hits;
    uint64_t *dst = &sum->shared.hits;
    size_t n = (sizeof *sh - offsetof(hc_shared_stats_t, hits)) / sizeof(uint64_t);
    sum->shared.enabled += HC_GET(sh->enabled);
    for (size_t i = 0; i < n; i++)
        dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

/* A group member's counters from every file, its gauges (in flight, up,
 * down) from live processes only. Names are another process's bytes:
 * used only when terminated. */
static void add_member(hc_stats_file_t *sum, const hc_member_stats_t *m, bool live)
{
    if (strnlen(m->group, sizeof m->group) == sizeof m->group ||
        strnlen(m->member, sizeof m->member) == sizeof m->member)
        return;
    hc_member_stats_t *d = NULL;
    for (uint32_t i = 0; i < sum->nmembers && !d; i++)
        if (!strcmp(sum->members[i].group, m->group) && !strcmp(sum->members[i].member, m->member))
            d = &sum->members[i];
    if (!d) {
        if (sum->nmembers == HC_STATS_MEMBERS)
            return;
        d = &sum->members[sum->nmembers++];
        memcpy(d->group, m->group, sizeof d->group);
        memcpy(d->member, m->member, sizeof d->member);
    }
    d->routed += HC_GET(m->routed);
    d->served += HC_GET(m->served);
    d->signs += HC_GET(m->signs);
    d->errors += HC_GET(m->errors);
    d->failovers += HC_GET(m->failovers);
    if (live) {
        d->inflight += HC_GET(m->inflight);
        d->up += HC_GET(m->up);
        d->down += HC_GET(m->down);
    }
}

/* ... and its gauges, from live processes only. */
static void add_shared_gauges(hc_stats_file_t *sum, const hc_shared_stats_t *sh)
{
    sum->shared.reading += HC_GET(sh->reading);
    sum->shared.skipping += HC_GET(sh->skipping);
    sum->shared.writing += HC_GET(sh->writing);
    sum->shared.purging += HC_GET(sh->purging);
}

int hc_stats_collect(const char *cache_dir, hc_stats_file_t *sum, int *live)
{
    memset(sum, 0, sizeof *sum);
    *live = 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/stats", cache_dir);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int files = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 7 || strcmp(de->d_name + len - 6, ".stats") != 0)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        void *p = map_existing(path, PROT_READ);
        if (!p)
            continue;
        const hc_stats_file_t *f = p;
        if (f->magic == HC_STATS_MAGIC && f->version == HC_STATS_VERSION) {
            files += f->pid > 0;
            if (f->pid > 0 && (kill(f->pid, 0) == 0 || errno == EPERM)) {
                (*live)++;
                if (HC_GET(f->plugin.shown) && f->plugin.group[0])
                    sum->plugin = f->plugin; /* one process's, as documented */
                add_shared_gauges(sum, &f->shared);
            }
            add_shared(sum, &f->shared);
            for (uint32_t i = 0; i < f->ntokens && i < HC_STATS_TOKENS; i++)
                add_token(sum, &f->tokens[i]);
            for (uint32_t i = 0; i < f->nkeys && i < HC_STATS_KEYS; i++)
                add_key(sum, &f->keys[i]);
            bool live_now = f->pid > 0 && (kill(f->pid, 0) == 0 || errno == EPERM);
            for (uint32_t i = 0; i < f->nmembers && i < HC_STATS_MEMBERS; i++)
                add_member(sum, &f->members[i], live_now);
        }
        munmap(p, sizeof(hc_stats_file_t));
    }
    closedir(d);
    return files;
}

hc_plugin_area_t *hc_stats_plugin(hc_stats_t *s)
{
    return s->f ? &s->f->plugin : NULL;
}

/* true when `w`, a field of size `size` another process wrote, holds a
 * terminated name of [a-z0-9_] (`empty`: or nothing) or, for a unit,
 * printable characters without a comma. */
static bool plugin_word(const char *w, size_t size, bool empty, bool unit)
{
    size_t n = strnlen(w, size);
    if (n == size || (n == 0 && !empty))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = w[i];
        bool ok = unit ? (c > ' ' && c < 127 && c != ',')
                       : ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
        if (!ok)
            return false;
    }
    return true;
}

/* The area's values to show, 0 when none or when the file's words are not
 * what a registration writes (shown nothing rather than its bytes). */
static uint32_t plugin_count(const hc_plugin_area_t *a)
{
    if (!HC_GET(a->shown) || !plugin_word(a->group, sizeof a->group, false, false) ||
        a->n > HC_PLUGIN_STATS)
        return 0;
    for (uint32_t i = 0; i < a->n; i++)
        if (!plugin_word(a->v[i].name, sizeof a->v[i].name, false, false) ||
            !plugin_word(a->v[i].unit, sizeof a->v[i].unit, true, true))
            return 0;
    return a->n;
}

/* "GROUP: name value[unit], ..." with underscores read as spaces. */
static void plugin_text(hc_sbuf_t *b, const hc_plugin_area_t *a)
{
    uint32_t n = plugin_count(a);
    if (!n)
        return;
    hc_sb_printf(b, "%s:", a->group);
    for (uint32_t i = 0; i < n; i++) {
        char name[sizeof a->v[i].name];
        snprintf(name, sizeof name, "%s", a->v[i].name);
        for (char *c = name; *c; c++)
            if (*c == '_')
                *c = ' ';
        hc_sb_printf(b, "%s %s %llu%s", i ? "," : "", name,
                     (unsigned long long)HC_GET(a->v[i].value), a->v[i].unit);
    }
    hc_sb_printf(b, "\n");
}

/* One gauge per value: hsmcache_GROUP_NAME. */
static void plugin_prometheus(hc_sbuf_t *b, const hc_plugin_area_t *a)
{
    uint32_t n = plugin_count(a);
    for (uint32_t i = 0; i < n; i++)
        hc_sb_printf(b,
                     "# HELP hsmcache_%s_%s The %s plugin's %s%s%s.\n"
                     "# TYPE hsmcache_%s_%s gauge\nhsmcache_%s_%s %llu\n",
                     a->group, a->v[i].name, a->group, a->v[i].name, a->v[i].unit[0] ? ", in " : "",
                     a->v[i].unit, a->group, a->v[i].name, a->group, a->v[i].name,
                     (unsigned long long)HC_GET(a->v[i].value));
}

/* "up", "down", both with the processes' counts, or "not in use". */
static const char *member_state(const hc_member_stats_t *m, char *buf, size_t size)
{
    if (m->up && !m->down)
        return "up";
    if (m->down && !m->up)
        return "down";
    if (!m->up && !m->down)
        return "not in use by a running process";
    snprintf(buf, size, "up in %llu processes, down in %llu", (unsigned long long)m->up,
             (unsigned long long)m->down);
    return buf;
}

static void members_text(hc_sbuf_t *b, const hc_stats_file_t *f)
{
    for (uint32_t i = 0; i < f->nmembers; i++) {
        const hc_member_stats_t *m = &f->members[i];
        char state[80];
        hc_sb_printf(b,
                     "member %s of group %s: %s, in flight %llu, signs %llu, "
                     "errors %llu, failovers %llu (operations routed %llu, "
                     "answered %llu)\n",
                     m->member, m->group, member_state(m, state, sizeof state),
                     (unsigned long long)m->inflight, (unsigned long long)m->signs,
                     (unsigned long long)m->errors, (unsigned long long)m->failovers,
                     (unsigned long long)m->routed, (unsigned long long)m->served);
    }
}

static void members_prometheus(hc_sbuf_t *b, const hc_stats_file_t *f)
{
    if (!f->nmembers)
        return;
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } m[] = {
#define M(n, t, h) { #n, t, h, offsetof(hc_member_stats_t, n) }
        M(routed, "counter", "Token group operations sent to the member"),
        M(served, "counter", "Token group operations the member answered"),
        M(signs, "counter", "Token group signatures the member made"),
        M(errors, "counter",
          "Token group operations that failed on the member with a device, session, timeout or PIN error"),
        M(failovers, "counter",
          "Token group operations that failed on the member and ran again on another"),
        M(inflight, "gauge", "Token group operations on the member now"),
        M(up, "gauge", "Running processes that route to the member"),
        M(down, "gauge", "Running processes for which the member is down"),
#undef M
    };
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
        bool counter = m[k].type[0] == 'c';
        hc_sb_printf(b, "# HELP hsmcache_member_%s%s %s.\n# TYPE hsmcache_member_%s%s %s\n",
                     m[k].name, counter ? "_total" : "", m[k].help, m[k].name,
                     counter ? "_total" : "", m[k].type);
        for (uint32_t i = 0; i < f->nmembers; i++) {
            const uint64_t *v = (const uint64_t *)((const char *)&f->members[i] + m[k].off);
            hc_sb_printf(b, "hsmcache_member_%s%s{group=\"%s\",member=\"%s\"} %llu\n", m[k].name,
                         counter ? "_total" : "", f->members[i].group, f->members[i].member,
                         (unsigned long long)*v);
        }
    }
}

char *hc_stats_render(const hc_stats_file_t *f, bool prometheus, int files, int live)
{
    hc_sbuf_t b = { 0 };
    if (!prometheus) {
        hc_sb_printf(&b, "processes: %d recorded, %d running\n", files, live);
        for (uint32_t i = 0; i < f->ntokens; i++) {
            const hc_token_stats_t *t = &f->tokens[i];
            double avg =
                t->hsm_signs ? (double)t->hsm_latency_us / (double)t->hsm_signs / 1000.0 : 0;
            hc_sb_printf(&b,
                         "token %s: sign requests %llu, cache hits %llu "
                         "(memory %llu, disk %llu), misses %llu, HSM signs %llu "
                         "(avg %.2f ms), HSM errors %llu, recoveries %llu, logins "
                         "%llu (failed %llu), cache entries rejected %llu\n",
                         t->name, (unsigned long long)t->sign_requests,
                         (unsigned long long)(t->cache_hits_mem + t->cache_hits_disk),
                         (unsigned long long)t->cache_hits_mem,
                         (unsigned long long)t->cache_hits_disk,
                         (unsigned long long)t->cache_misses, (unsigned long long)t->hsm_signs, avg,
                         (unsigned long long)t->hsm_errors, (unsigned long long)t->recoveries,
                         (unsigned long long)t->logins, (unsigned long long)t->login_failures,
                         (unsigned long long)t->cache_rejected);
            hc_sb_printf(&b, "  HSM latency:");
            for (unsigned k = 0; k < HC_STATS_BUCKETS; k++) {
                if (k < HC_STATS_BUCKETS - 1)
                    hc_sb_printf(&b, " <=%ums:%llu", hc_stats_bucket_ms[k],
                                 (unsigned long long)t->latency[k]);
                else
                    hc_sb_printf(&b, " more:%llu\n", (unsigned long long)t->latency[k]);
            }
        }
        for (uint32_t i = 0; i < f->nkeys; i++)
            hc_sb_printf(&b,
                         "key %s/%s: sign requests %llu, cache hits %llu, HSM "
                         "signs %llu\n",
                         f->keys[i].token, f->keys[i].label,
                         (unsigned long long)f->keys[i].sign_requests,
                         (unsigned long long)f->keys[i].cache_hits,
                         (unsigned long long)f->keys[i].hsm_signs);
        members_text(&b, f);
        plugin_text(&b, &f->plugin);
        const hc_shared_stats_t *sh = &f->shared;
        if (sh->enabled)
            hc_sb_printf(&b,
                         "shared-cache: processes reading %llu, skipping %llu, "
                         "writing %llu, purging %llu; hits %llu, misses %llu, forged %llu, "
                         "skipped %llu, written %llu, write errors %llu, dropped %llu, "
                         "purged %llu\n",
                         (unsigned long long)sh->reading, (unsigned long long)sh->skipping,
                         (unsigned long long)sh->writing, (unsigned long long)sh->purging,
                         (unsigned long long)sh->hits, (unsigned long long)sh->misses,
                         (unsigned long long)sh->forged, (unsigned long long)sh->skipped,
                         (unsigned long long)sh->written, (unsigned long long)sh->write_errors,
                         (unsigned long long)sh->dropped, (unsigned long long)sh->purged);

        return hc_sb_take(&b);
    }
    static const struct {
        const char *name, *help;
        size_t off;
    } m[] = {
#define M(n, h) { #n, h, offsetof(hc_token_stats_t, n) }
        M(sign_requests, "Signature requests"),
        M(cache_hits_mem, "Signatures served from the in-memory cache"),
        M(cache_hits_disk, "Signatures served from the persistent cache"),
        M(cache_misses, "Signature requests that went to the HSM"),
        M(hsm_signs, "C_Sign calls made to the HSM"),
        M(hsm_errors,
          "PKCS#11 module calls that failed (an answer such as an absent attribute or a size query is not counted)"),
        M(recoveries, "Session pool resets after lost sessions or tokens"),
        M(logins, "C_Login calls made"),
        M(login_failures, "C_Login calls that failed"),
        M(cache_rejected, "Persistent cache entries dropped because their integrity tag failed"),
#undef M
    };
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
        hc_sb_printf(&b,
                     "# HELP hsmcache_%s_total %s.\n# TYPE hsmcache_%s_total "
                     "counter\n",
                     m[k].name, m[k].help, m[k].name);
        for (uint32_t i = 0; i < f->ntokens; i++) {
            const uint64_t *v = (const uint64_t *)((const char *)&f->tokens[i] + m[k].off);
            hc_sb_printf(&b, "hsmcache_%s_total{token=\"%s\"} %llu\n", m[k].name, f->tokens[i].name,
                         (unsigned long long)*v);
        }
    }
    hc_sb_printf(&b, "# HELP hsmcache_hsm_sign_seconds HSM signature latency.\n"
                     "# TYPE hsmcache_hsm_sign_seconds histogram\n");
    for (uint32_t i = 0; i < f->ntokens; i++) {
        const hc_token_stats_t *t = &f->tokens[i];
        unsigned long long cum = 0;
        for (unsigned k = 0; k < HC_STATS_BUCKETS; k++) {
            cum += t->latency[k];
            if (k < HC_STATS_BUCKETS - 1)
                hc_sb_printf(&b,
                             "hsmcache_hsm_sign_seconds_bucket{token=\"%s\","
                             "le=\"%g\"} %llu\n",
                             t->name, hc_stats_bucket_ms[k] / 1000.0, cum);
            else
                hc_sb_printf(&b,
                             "hsmcache_hsm_sign_seconds_bucket{token=\"%s\","
                             "le=\"+Inf\"} %llu\n",
                             t->name, cum);
        }
        hc_sb_printf(&b,
                     "hsmcache_hsm_sign_seconds_sum{token=\"%s\"} %g\n"
                     "hsmcache_hsm_sign_seconds_count{token=\"%s\"} %llu\n",
                     t->name, (double)t->hsm_latency_us / 1e6, t->name,
                     (unsigned long long)t->hsm_signs);
    }
    hc_sb_printf(&b,
                 "# HELP hsmcache_processes Processes with a stats file.\n"
                 "# TYPE hsmcache_processes gauge\nhsmcache_processes{state="
                 "\"recorded\"} %d\nhsmcache_processes{state=\"running\"} %d\n",
                 files, live);
    members_prometheus(&b, f);
    const hc_shared_stats_t *sh = &f->shared;
    if (sh->enabled) {
        hc_sb_printf(&b, "# HELP hsmcache_shared_total Shared signature tier events "
                         "(sharedtier.h).\n# TYPE hsmcache_shared_total counter\n");
        static const char *const ev[] = { "hits",    "misses",       "forged",  "skipped",
                                          "written", "write_errors", "dropped", "purged" };
        _Static_assert(sizeof *sh == offsetof(hc_shared_stats_t, hits) +
                                         sizeof ev / sizeof ev[0] * sizeof(uint64_t),
                       "one name per shared counter");
        const uint64_t *v = &sh->hits;
        for (size_t k = 0; k < sizeof ev / sizeof ev[0]; k++)
            hc_sb_printf(&b, "hsmcache_shared_total{event=\"%s\"} %llu\n", ev[k],
                         (unsigned long long)v[k]);
        hc_sb_printf(&b,
                     "# HELP hsmcache_shared_processes Running processes by the "
                     "shared tier's state.\n# TYPE hsmcache_shared_processes gauge\n"
                     "hsmcache_shared_processes{state=\"reading\"} %llu\n"
                     "hsmcache_shared_processes{state=\"skipping\"} %llu\n"
                     "hsmcache_shared_processes{state=\"writing\"} %llu\n"
                     "hsmcache_shared_processes{state=\"purging\"} %llu\n",
                     (unsigned long long)sh->reading, (unsigned long long)sh->skipping,
                     (unsigned long long)sh->writing, (unsigned long long)sh->purging);
    }
    plugin_prometheus(&b, &f->plugin);
    return hc_sb_take(&b);
}
