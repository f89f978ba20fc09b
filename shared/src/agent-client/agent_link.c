/*
 * agent_link.c: the agent client's connections, round trips and
 * reference table (see agent_client.c for the design, agent_link.h for
 * the contract).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent-client/agent_conn.h"
#include "util/clock.h"
#include "util/err.h"
#include "proto/proto.h"
#include "agent-client/agent_link.h"

/* ---- connections ---- */

static CK_RV dial_error(hc_agent_t *a, int e, hc_err_t *err)
{
    if (e == ENOENT || e == ECONNREFUSED)
        return hc_err(err, CKR_DEVICE_ERROR,
                      "hsmcached is not running: %s %s "
                      "(start hsmcached, or remove 'agent' from [core] in %s)",
                      a->socket, e == ENOENT ? "does not exist" : "refuses connections",
                      a->conf_path);
    if (e == EACCES)
        return hc_err(err, CKR_DEVICE_ERROR,
                      "hsmcached socket %s: permission "
                      "denied (see [agent] socket-group and socket-mode)",
                      a->socket);
    return hc_err(err, CKR_DEVICE_ERROR, "hsmcached socket %s: %s", a->socket,
                  e == ETIMEDOUT ? "no answer (timed out)" : strerror(e));
}

static int dial(hc_agent_t *a, hc_err_t *err)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", a->socket);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        dial_error(a, errno, err);
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        if (e == EAGAIN || e == EINPROGRESS) {
            /* The agent's backlog is full: wait, within the timeout. */
            struct pollfd p = { fd, POLLOUT, 0 };
            socklen_t sl = sizeof e;
            e = poll(&p, 1, a->timeout_ms) == 1 &&
                        getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) == 0
                    ? e
                    : ETIMEDOUT;
        }
        if (e) {
            close(fd);
            dial_error(a, e, err);
            return -1;
        }
    }
    return fd;
}

/* Sends q on c and reads its reply into rep (fields pointing into
 * rep->body). *lost: failed before any reply byte (safe to resend on a
 * new connection for calls that change nothing). CKR_OK when a well-formed
 * reply came, whatever its rv (rep->rv; its message in err). */
static CK_RV round_trip(hc_agent_t *a, struct conn *c, const hc_req_t *q, hc_rep_t *rep, bool *lost,
                        hc_err_t *err)
{
    *lost = false;
    memset(rep, 0, sizeof *rep);
    hc_wbuf_t w = { 0 };
    bool encoded = hc_req_encode(&w, q);
    uint64_t deadline = hc_now_ms() + (uint64_t)a->timeout_ms;
    int sent = encoded ? hc_send_all(c->fd, w.p, w.len, deadline) : 0;
    int e = errno;
    hc_w_free(&w); /* wiped: a login request carries a PIN */
    if (!encoded)
        return hc_err(err, CKR_ARGUMENTS_BAD,
                      "%s request for hsmcached too "
                      "large (or a value above the protocol's limits)",
                      hc_op_name(q->op));
    if (sent != 0) {
        *lost = e == EPIPE || e == ECONNRESET;
        return dial_error(a, e, err);
    }
    unsigned char *body = NULL;
    size_t len = 0;
    switch (hc_recv_frame(c->fd, &body, &len, a->timeout_ms, a->timeout_ms, -1)) {
    case HC_RECV_OK: break;
    case HC_RECV_EOF:
        *lost = true;
        return hc_err(err, CKR_DEVICE_ERROR,
                      "hsmcached at %s closed the "
                      "connection",
                      a->socket);
    case HC_RECV_TIMEOUT: return dial_error(a, ETIMEDOUT, err);
    default: return hc_err(err, CKR_DEVICE_ERROR, "hsmcached at %s: broken reply", a->socket);
    }
    bool other_version = len > 0 && body[0] != HC_PROTO_VERSION;
    if (!hc_rep_decode(body, len, q, rep)) {
        OPENSSL_cleanse(body, len);
        free(body);
        if (other_version)
            return hc_err(err, CKR_DEVICE_ERROR,
                          "hsmcached at %s speaks another "
                          "protocol version (this client: %d)",
                          a->socket, HC_PROTO_VERSION);
        return hc_err(err, CKR_DEVICE_ERROR, "hsmcached at %s: malformed %s reply", a->socket,
                      hc_op_name(q->op));
    }
    rep->body = body;
    rep->body_len = len;
    if (rep->rv != CKR_OK)
        hc_err(err, rep->rv, "%s", rep->msg);
    return CKR_OK;
}

void hc_link_conn_close(struct conn *c)
{
    if (c) {
        close(c->fd);
        free(c);
    }
}

void hc_link_drop_idle(hc_agent_t *a)
{
    pthread_mutex_lock(&a->lock);
    struct conn *list = a->idle;
    a->idle = NULL;
    pthread_mutex_unlock(&a->lock);
    while (list) {
        struct conn *n = list->next;
        hc_link_conn_close(list);
        list = n;
    }
}

/* A new connection, introduced with HELLO. `names`: keep the agent's
 * token list (at open). */
struct conn *hc_link_conn_new(hc_agent_t *a, bool names, hc_err_t *err)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        hc_err(err, CKR_HOST_MEMORY, "out of memory");
        return NULL;
    }
    c->euid = geteuid();
    if ((c->fd = dial(a, err)) < 0) {
        free(c);
        return NULL;
    }
    hc_req_t q = { .op = HC_OP_HELLO };
    snprintf(q.text, sizeof q.text, "%s", a->profile);
    hc_rep_t rep;
    bool lost;
    CK_RV rv = round_trip(a, c, &q, &rep, &lost, err);
    if (rv == CKR_OK && (rv = rep.rv) == CKR_OK) {
        c->instance = rep.num[0];
        pthread_mutex_lock(&a->lock);
        a->instance = c->instance;
        pthread_mutex_unlock(&a->lock);
    }
    if (rv == CKR_OK && names) {
        /* The client's tokens (its slots), kept for the context's life. */
        char **toks = calloc(rep.nnames + 1, sizeof *toks);
        for (uint32_t i = 0; toks && i < rep.nnames; i++)
            if (!(toks[i] = strdup(rep.names[i]))) {
                for (uint32_t k = 0; k < i; k++)
                    free(toks[k]);
                free(toks);
                toks = NULL;
            }
        if (toks) {
            a->tokens = toks;
            a->ntokens = rep.nnames;
            a->cache_enabled = rep.flags != 0;
        } else {
            rv = hc_err(err, CKR_HOST_MEMORY, "out of memory");
        }
    }
    hc_rep_free(&rep);
    if (rv != CKR_OK) {
        hc_link_conn_close(c);
        return NULL;
    }
    return c;
}

struct conn *hc_link_conn_take(hc_agent_t *a, hc_err_t *err)
{
    pthread_mutex_lock(&a->lock);
    struct conn *c = a->idle;
    if (c)
        a->idle = c->next;
    pthread_mutex_unlock(&a->lock);
    /* The agent knows a connection by the credentials of its connect().
     * A host that dropped privileges since (pdns_server's setuid=) must
     * be known as what it is now, not as root: dial again. */
    if (c && c->euid != geteuid()) {
        hc_link_conn_close(c);
        hc_link_drop_idle(a);
        c = NULL;
    }
    return c ? c : hc_link_conn_new(a, false, err);
}

void hc_link_conn_put(hc_agent_t *a, struct conn *c)
{
    pthread_mutex_lock(&a->lock);
    c->next = a->idle;
    a->idle = c;
    pthread_mutex_unlock(&a->lock);
}

/* ---- references ---- */

struct ref *hc_link_ref_get(hc_agent_t *a, hc_obj_t obj)
{
    size_t i = hc_obj_index(obj) + 1;
    pthread_mutex_lock(&a->lock);
    struct ref *r = i >= 1 && i <= a->nrefs ? a->refs[i - 1] : NULL;
    pthread_mutex_unlock(&a->lock);
    return r;
}

static bool same_identity(const hc_obj_identity_t *x, const hc_proto_obj_t *o)
{
    return x->cls == o->cls && x->idlen == o->idlen && x->labellen == o->labellen &&
           memcmp(x->id, o->id, o->idlen) == 0 && memcmp(x->label, o->label, o->labellen) == 0;
}

/* Our reference for an object the agent named in a reply: the one we
 * gave for the same agent reference, else one from before an agent
 * restart with the same identity (rebound), else a new one. */
hc_obj_t hc_link_ref_intern(hc_agent_t *a, size_t tok, uint64_t instance, const hc_proto_obj_t *o)
{
    hc_obj_t id = 0;
    pthread_mutex_lock(&a->lock);
    for (int pass = 0; pass < 2 && !id; pass++)
        for (size_t i = 0; i < a->nrefs && !id; i++) {
            struct ref *r = a->refs[i];
            bool match = pass == 0
                             ? r->tok == tok && r->instance == instance && r->agent_ref == o->ref
                             : r->tok == tok && r->instance != instance && same_identity(&r->id, o);
            if (match) {
                r->agent_ref = o->ref;
                r->instance = instance;
                id = hc_obj_make(tok, i);
            }
        }
    if (!id) {
        struct ref **grown = realloc(a->refs, (a->nrefs + 1) * sizeof *grown);
        struct ref *r = calloc(1, sizeof *r);
        if (grown)
            a->refs = grown;
        if (grown && r) {
            r->tok = tok;
            r->agent_ref = o->ref;
            r->instance = instance;
            r->id.cls = o->cls;
            r->id.idlen = o->idlen;
            memcpy(r->id.id, o->id, o->idlen);
            r->id.labellen = o->labellen;
            memcpy(r->id.label, o->label, o->labellen);
            a->refs[a->nrefs++] = r;
            id = hc_obj_make(tok, a->nrefs - 1);
        } else {
            free(r);
        }
    }
    pthread_mutex_unlock(&a->lock);
    return id;
}

/* FIND on connection c; objects interned into *objs (malloc'ed). */
CK_RV hc_link_find_on(hc_agent_t *a, struct conn *c, size_t tok, const CK_ATTRIBUTE *tmpl,
                      CK_ULONG n, hc_obj_t **objs, size_t *count, bool *lost, hc_err_t *err)
{
    *objs = NULL;
    *count = 0;
    hc_req_t q = { .op = HC_OP_FIND, .tmpl = tmpl, .n = n };
    snprintf(q.token, sizeof q.token, "%s", a->tokens[tok]);
    hc_rep_t rep;
    CK_RV rv = round_trip(a, c, &q, &rep, lost, err);
    if (rv == CKR_OK)
        rv = rep.rv;
    hc_obj_t *out = rv == CKR_OK ? malloc((rep.nobjs ? rep.nobjs : 1) * sizeof *out) : NULL;
    if (rv == CKR_OK && !out)
        rv = hc_err(err, CKR_HOST_MEMORY, "out of memory");
    for (uint32_t i = 0; out && i < rep.nobjs && rv == CKR_OK; i++)
        if (!(out[i] = hc_link_ref_intern(a, tok, c->instance, &rep.objs[i])))
            rv = hc_err(err, CKR_HOST_MEMORY, "out of memory");
    if (rv == CKR_OK) {
        *objs = out;
        *count = rep.nobjs;
    } else {
        free(out);
    }
    hc_rep_free(&rep);
    return rv;
}

/* The agent's reference for `obj` on connection c's instance: found again
 * by identity when the agent restarted since. */
static CK_RV agent_ref(hc_agent_t *a, struct conn *c, hc_obj_t obj, uint64_t *out, bool *lost,
                       hc_err_t *err)
{
    struct ref *r = hc_link_ref_get(a, obj);
    if (!r)
        return hc_err(err, CKR_OBJECT_HANDLE_INVALID,
                      "no object with "
                      "reference 0x%llx",
                      (unsigned long long)obj);
    pthread_mutex_lock(&a->lock);
    bool current = r->instance == c->instance;
    *out = r->agent_ref;
    hc_obj_identity_t id = r->id;
    pthread_mutex_unlock(&a->lock);
    if (current)
        return CKR_OK;
    CK_ATTRIBUTE t[3] = { { CKA_CLASS, &id.cls, sizeof id.cls } };
    CK_ULONG n = 1;
    if (id.idlen)
        t[n++] = (CK_ATTRIBUTE){ CKA_ID, id.id, id.idlen };
    if (id.labellen)
        t[n++] = (CK_ATTRIBUTE){ CKA_LABEL, id.label, id.labellen };
    hc_obj_t *found;
    size_t count;
    CK_RV rv = hc_link_find_on(a, c, r->tok, t, n, &found, &count, lost, err);
    if (rv != CKR_OK)
        return rv;
    free(found); /* interning updated r for every exact identity match */
    pthread_mutex_lock(&a->lock);
    current = r->instance == c->instance;
    *out = r->agent_ref;
    pthread_mutex_unlock(&a->lock);
    return current ? CKR_OK
                   : hc_err(err, CKR_OBJECT_HANDLE_INVALID,
                            "token %s: object "
                            "'%s' is gone since hsmcached restarted",
                            a->tokens[r->tok], id.label);
}

/* ---- calls ---- */

CK_RV hc_link_call(hc_agent_t *a, hc_req_t *q, hc_obj_t obj, hc_rep_t *rep, hc_err_t *err)
{
    memset(rep, 0, sizeof *rep);
    /* What the agent would refuse is refused here with the same code,
     * before anything is sent. */
    char why[200];
    CK_RV rv = hc_req_check(q, why, sizeof why);
    if (rv != CKR_OK)
        return hc_err(err, rv, "hsmcache: %s (not sent to hsmcached)", why);
    const hc_op_def_t *d = hc_op_def(q->op);
    bool retry = d && d->retry;
    for (int attempt = 0;; attempt++) {
        struct conn *c = hc_link_conn_take(a, err);
        if (!c)
            return err ? err->rv : CKR_DEVICE_ERROR;
        bool lost = false;
        rv = obj ? agent_ref(a, c, obj, &q->obj, &lost, err) : CKR_OK;
        if (rv == CKR_OK)
            rv = round_trip(a, c, q, rep, &lost, err);
        if (lost) {
            hc_link_conn_close(c);
            hc_link_drop_idle(a);
            if (retry && attempt == 0)
                continue;
            return rv;
        }
        if (rv != CKR_OK) {
            /* An object gone or a request refused before sending leaves
             * the connection usable; an I/O failure or a broken reply
             * does not. */
            if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_ARGUMENTS_BAD)
                hc_link_conn_put(a, c);
            else
                hc_link_conn_close(c);
            return rv;
        }
        hc_link_conn_put(a, c);
        return rep->rv;
    }
}
