/*
 * main.c: hsmcached [--config FILE] [--pidfile FILE] (options, --help and
 * exit statuses by cmdline.h's conventions)
 *
 * Runs in the foreground and logs to stderr (systemd's way; no fork, no
 * socket activation: the agent creates its socket itself, so it works the
 * same under systemd, runit or a shell). SIGHUP reloads the config (and
 * with it the PIN files, read again at the next login); SIGTERM/SIGINT
 * stop accepting, let requests in flight finish, and exit.
 *
 * Fairness: a peer's uid is checked at accept. An unlisted one gets its
 * refusal at once and never a thread or a connection slot (its socket
 * lingers in a small list of the accept loop until it has read the
 * refusal); max-connections and max-connections-per-client count only
 * listed peers, and those must complete their first request within
 * FIRST_REQUEST_MS of connecting (serve.c).
 *
 * Process hardening, first thing, before the config or any PIN is read:
 * not dumpable (no core file; /proc/PID/mem, environ and ptrace refused
 * to every uid but root's CAP_SYS_PTRACE, the agent's own uid included)
 * and a core size limit of 0 (hard too, so a later dumpable flip still
 * writes no core). Either failing stops the agent: a PIN holder that
 * could be dumped does not start.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "util/clock.h"
#include "cmdline.h"
#include "util/err.h"

#define STOP_GRACE_S 30
#define REFUSED_MAX 64            /* unlisted peers awaiting their refusal */
#define REFUSED_LINGER_MS 2000
#define REFUSALS_LOGGED 10

/* Unlisted peers' sockets, owned by the accept loop only. */
static struct refused {
    int fd;
    uint64_t until_ms;
} refused[REFUSED_MAX];
static size_t nrefused;

static void refused_close(size_t i)
{
    char sink[512];
    while (recv(refused[i].fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
        ; /* what it sent (its hello) is not read by anyone */
    close(refused[i].fd);
    refused[i] = refused[--nrefused];
}

/* An unlisted peer: its hello is answered before it is sent (the reply
 * names its uid and the config); the socket is kept, without a thread or
 * a slot, until the peer has sent something, hung up, or
 * REFUSED_LINGER_MS passed, so that it can read the refusal. */
static void refuse_peer(agent_t *ag, agent_state_t *st, int fd, const struct ucred *cred)
{
    /* At most REFUSALS_LOGGED refusals logged a second: a flood of
     * connections must not flood the log. */
    static uint64_t window_ms;
    static unsigned long logged, unlogged;
    uint64_t now = hc_now_ms();
    if (now - window_ms >= 1000) {
        if (unlogged)
            hc_log(&ag->log, HC_LOG_WARN,
                   "%lu more connections of unlisted "
                   "uids refused (at most %d logged a second)",
                   unlogged, REFUSALS_LOGGED);
        window_ms = now;
        logged = unlogged = 0;
    }
    bool log = logged < REFUSALS_LOGGED;
    if (log)
        logged++;
    else
        unlogged++;
    hc_wbuf_t w = { 0 };
    if (agent_refusal_frame(ag, st, cred, log, &w) &&
        send(fd, w.p, w.len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        hc_log(&ag->log, HC_LOG_INFO, "uid %u (pid %d): refusal not sent: %s", (unsigned)cred->uid,
               (int)cred->pid, strerror(errno));
    hc_w_free(&w);
    if (nrefused == REFUSED_MAX) {
        size_t oldest = 0;
        for (size_t i = 1; i < nrefused; i++)
            if (refused[i].until_ms < refused[oldest].until_ms)
                oldest = i;
        refused_close(oldest);
    }
    refused[nrefused++] = (struct refused){ fd, hc_now_ms() + REFUSED_LINGER_MS };
}

static int wake_pipe[2] = { -1, -1 };

/* Memory holding PINs is never written to a core file nor read through
 * /proc or ptrace by another process of our uid. Fails closed. */
static bool harden_process(void)
{
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        fprintf(stderr,
                "hsmcached: prctl(PR_SET_DUMPABLE, 0): %s; not starting "
                "(PINs would be readable through /proc and core files)\n",
                strerror(errno));
        return false;
    }
    const struct rlimit none = { 0, 0 };
    if (setrlimit(RLIMIT_CORE, &none) != 0) {
        fprintf(stderr,
                "hsmcached: setrlimit(RLIMIT_CORE, 0): %s; not starting "
                "(a crash would write PINs to a core file)\n",
                strerror(errno));
        return false;
    }
    return true;
}

enum { OPT_CONFIG = 256, OPT_PIDFILE };

static const struct option longopts[] = {
    { "config", required_argument, NULL, OPT_CONFIG },
    { "pidfile", required_argument, NULL, OPT_PIDFILE },
    HC_LONGOPT_HELP,
    { 0 },
};

static const hc_cmdline_t cmdline = {
    .prog = "hsmcached",
    .args = "[--config FILE] [--pidfile FILE]",
    .help = "Serves the hsmcache core on the unix socket named by [core] agent, in the\n"
            "foreground, logging to stderr. SIGHUP reloads the config; SIGTERM stops\n"
            "after the requests in flight.\n"
            "Options:\n"
            "  --config FILE    the configuration; default $HSMCACHE_CONF, then\n"
            "                   " HC_DEFAULT_CONF "\n"
            "  --pidfile FILE   write the agent's process id to FILE\n"
            "  --help           this help\n",
    .exits = "  0  stopped by SIGTERM or SIGINT, after the requests in flight\n"
             "  1  could not start (process hardening, the config, the socket, the\n"
             "     pidfile), or could not run\n"
             "  2  usage error (an unknown option, a missing value, an argument)\n",
    .shortopts = "",
    .longopts = longopts,
};

/* Binds the socket, refusing to take over from a running agent. */
static int listen_on(agent_t *ag, const hc_agent_cfg_t *cfg)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", ag->socket);
    struct stat sb;
    if (lstat(ag->socket, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode)) {
            hc_log(&ag->log, HC_LOG_ERROR,
                   "%s exists and is not a socket; "
                   "not replacing it",
                   ag->socket);
            return -1;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool alive = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
        if (probe >= 0)
            close(probe);
        if (alive) {
            hc_log(&ag->log, HC_LOG_ERROR, "another hsmcached is listening on %s", ag->socket);
            return -1;
        }
        unlink(ag->socket); /* left by an agent that died */
    } else {
        char dir[sizeof ag->socket];
        snprintf(dir, sizeof dir, "%s", ag->socket);
        mkdir(dirname(dir), 0755); /* /run/hsmcache on a fresh boot */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    mode_t old = umask(0177); /* never briefly wider than the final mode */
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc == 0 && cfg->has_group && chown(ag->socket, (uid_t)-1, cfg->socket_gid) != 0)
        rc = -1;
    if (rc == 0)
        rc = chmod(ag->socket, cfg->socket_mode);
    if (rc == 0)
        rc = listen(fd, 128);
    if (rc != 0) {
        hc_log(&ag->log, HC_LOG_ERROR, "socket %s: %s", ag->socket, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void *signal_thread(void *arg)
{
    agent_t *ag = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            hc_err_t err = { 0 };
            agent_state_t *st = agent_state_load(ag, &err);
            if (!st) {
                hc_log(&ag->log, HC_LOG_ERROR,
                       "reload failed, keeping the "
                       "running config: %s",
                       err.msg);
                continue;
            }
            agent_state_install(ag, st);
            hc_log(&ag->log, HC_LOG_WARN, "reloaded %s", ag->conf_path);
            continue;
        }
        if (write(wake_pipe[1], "x", 1) != 1)
            _exit(1);
        return NULL;
    }
}

/* Admits a connection within the global and per-uid limits. */
static bool admit(agent_t *ag, const struct ucred *cred, const hc_agent_cfg_t *cfg)
{
    bool ok = false;
    pthread_mutex_lock(&ag->lock);
    struct uid_count *u = NULL;
    for (size_t i = 0; i < ag->nuids && !u; i++)
        if (ag->uids[i].uid == cred->uid)
            u = &ag->uids[i];
    if (!u) {
        struct uid_count *grown = realloc(ag->uids, (ag->nuids + 1) * sizeof *grown);
        if (grown) {
            ag->uids = grown;
            u = &grown[ag->nuids++];
            *u = (struct uid_count){ cred->uid, 0 };
        }
    }
    if (u && ag->nconns < cfg->max_connections && u->n < cfg->max_per_client) {
        ag->nconns++;
        u->n++;
        ok = true;
    }
    pthread_mutex_unlock(&ag->lock);
    return ok;
}

static void accept_one(agent_t *ag, int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    agent_conn_arg_t *a = calloc(1, sizeof *a);
    socklen_t len = sizeof a->cred;
    agent_state_t *st = agent_state_get(ag);
    bool ok = a && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &a->cred, &len) == 0;
    if (!ok)
        /* Without the peer's credentials no rule can admit it: closed,
         * and said, so a refused client is never a silent one. */
        hc_log(&ag->log, HC_LOG_WARN, "connection closed: %s",
               a ? "the kernel gave no peer credentials (SO_PEERCRED)"
                 : "no memory for a connection");
    if (ok && !agent_match_client(st, &a->cred)) {
        refuse_peer(ag, st, fd, &a->cred);
        agent_state_put(st);
        free(a);
        return;
    }
    if (ok)
        a->accepted_ms = hc_now_ms();
    if (ok && !(ok = admit(ag, &a->cred, &st->cfg->agent)))
        hc_log(&ag->log, HC_LOG_WARN,
               "uid %u (pid %d): connection refused, "
               "over max-connections or max-connections-per-client",
               (unsigned)a->cred.uid, (int)a->cred.pid);
    agent_state_put(st);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (ok) {
        a->agent = ag;
        a->fd = fd;
        if (pthread_create(&t, &attr, agent_serve, a) != 0) {
            hc_log(&ag->log, HC_LOG_ERROR, "no thread for a connection");
            pthread_mutex_lock(&ag->lock);
            ag->nconns--;
            for (size_t i = 0; i < ag->nuids; i++)
                if (ag->uids[i].uid == a->cred.uid)
                    ag->uids[i].n--;
            pthread_mutex_unlock(&ag->lock);
            ok = false;
        }
    }
    pthread_attr_destroy(&attr);
    if (!ok) {
        close(fd);
        free(a);
    }
}

/* Stops: no new connections; idle ones close; requests in flight are
 * answered (bounded by STOP_GRACE_S). */
static void drain(agent_t *ag)
{
    pthread_mutex_lock(&ag->lock);
    agent_state_t *st = ag->state;
    pthread_mutex_unlock(&ag->lock);
    if (write(st->stop_pipe[1], "x", 1) != 1)
        hc_log(&ag->log, HC_LOG_WARN, "cannot wake idle connections");
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += STOP_GRACE_S;
    pthread_mutex_lock(&ag->lock);
    while (ag->nconns > 0)
        if (pthread_cond_timedwait(&ag->idle, &ag->lock, &until) == ETIMEDOUT)
            break;
    size_t left = ag->nconns;
    pthread_mutex_unlock(&ag->lock);
    if (left)
        hc_log(&ag->log, HC_LOG_WARN,
               "%zu requests still running after %ds; "
               "exiting anyway",
               left, STOP_GRACE_S);
    else
        agent_state_put(st); /* closes the contexts (C_Finalize) */
}

int main(int argc, char **argv)
{
    if (!harden_process())
        return 1;
    const char *conf = NULL, *pidfile = NULL;
    hc_opts_t o = HC_OPTS(&cmdline, argc, argv);
    int c;
    while ((c = hc_opt_next(&o)) != -1) {
        if (c == HC_OPT_STOP)
            return o.status;
        if (c == OPT_CONFIG)
            conf = optarg;
        else if (c == OPT_PIDFILE)
            pidfile = optarg;
    }
    if ((c = hc_opt_args(&o, 0, 0)) >= 0)
        return c;
    static agent_t ag;
    snprintf(ag.conf_path, sizeof ag.conf_path, "%s", hc_config_resolve(conf));
    snprintf(ag.log.prefix, sizeof ag.log.prefix, "hsmcached");
    ag.log.level = HC_LOG_INFO;
    pthread_mutex_init(&ag.lock, NULL);
    pthread_cond_init(&ag.idle, NULL);

    /* Signals go to the signal thread only; a client vanishing mid-reply
     * must not kill the agent. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    hc_err_t err = { 0 };
    agent_state_t *st = agent_state_load(&ag, &err);
    if (!st) {
        fprintf(stderr, "hsmcached: %s\n", err.msg);
        return 1;
    }
    snprintf(ag.socket, sizeof ag.socket, "%s", st->cfg->agent.socket);
    ag.log.level = st->cfg->log_level > HC_LOG_INFO ? st->cfg->log_level : HC_LOG_INFO;
    int lfd = listen_on(&ag, &st->cfg->agent);
    if (lfd < 0 || pipe2(wake_pipe, O_CLOEXEC) != 0)
        return 1;
    agent_state_install(&ag, st);
    if (pidfile) {
        FILE *f = fopen(pidfile, "we");
        if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0) {
            hc_log(&ag.log, HC_LOG_ERROR, "pidfile %s: %s", pidfile, strerror(errno));
            unlink(ag.socket);
            return 1;
        }
    }
    pthread_t sig;
    if (pthread_create(&sig, NULL, signal_thread, &ag) != 0)
        return 1;
    hc_log(&ag.log, HC_LOG_WARN, "listening on %s (config %s)", ag.socket, ag.conf_path);
    for (;;) {
        struct pollfd p[2 + REFUSED_MAX] = { { lfd, POLLIN, 0 }, { wake_pipe[0], POLLIN, 0 } };
        uint64_t now = hc_now_ms(), next = UINT64_MAX;
        for (size_t i = 0; i < nrefused; i++) {
            p[2 + i] = (struct pollfd){ refused[i].fd, POLLIN, 0 };
            if (refused[i].until_ms < next)
                next = refused[i].until_ms;
        }
        int wait = next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now);
        size_t polled = nrefused;
        if (poll(p, 2 + polled, wait) < 0 && errno != EINTR)
            break;
        if (p[1].revents & POLLIN)
            break;
        now = hc_now_ms();
        for (size_t i = polled; i-- > 0;)
            if (p[2 + i].revents || refused[i].until_ms <= now)
                refused_close(i);
        if (p[0].revents & POLLIN)
            accept_one(&ag, lfd);
    }
    while (nrefused)
        refused_close(nrefused - 1);
    close(lfd);
    unlink(ag.socket);
    hc_log(&ag.log, HC_LOG_WARN, "stopping: finishing requests in flight");
    drain(&ag);
    if (pidfile)
        unlink(pidfile);
    hc_log(&ag.log, HC_LOG_WARN, "stopped");
    return 0;
}
