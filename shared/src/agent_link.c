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

#include "agent_conn.h"
#include "clock.h"
#include "err.h"
#include "proto.h"
#include "agent_link.h"

/* ---- connections ---- */

static CK_RV dial_error(hc_agent_t *a, int e, hc_err_t *err)
{
    if (e == ENOENT || e == ECONNREFUSED)
        return hc_err(err, CKR_DEVICE_ERROR, "hsmcached is not running: %s %s "
                      "(start hsmcached, or remove 'agent' from [core] in %s)",
                      a->socket, e == ENOENT ? "does not exist" : "refuses connections",
                      a->conf_path);
    if (e == EACCES)
        return hc_err(err, CKR_DEVICE_ERROR, "hsmcached socket %s: permission "
                      "denied (see [agent] socket-group and socket-mode)", a->socket);
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
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) == 0 ? e : ETIMEDOUT;
        }
        if (e) {
            close(fd);
            dial_error(a, e, err);
            return -1;
        }
    }
    return fd;
}

/* Sends w and reads the reply body. *lost: failed before any reply byte
 * (safe to retry on a new connection for calls that change nothing). */
static CK_RV exchange(hc_agent_t *a, struct conn *c, hc_wbuf_t *w,
                      unsigned char **body, size_t *len, bool *lost,
                      hc_err_t *err)
{
    *lost = false;
    if (!hc_w_finish(w))
        return hc_err(err, CKR_ARGUMENTS_BAD, "request for hsmcached too large "
                      "(or an array attribute, which the agent does not carry)");
    uint64_t deadline = hc_now_ms() + (uint64_t)a->timeout_ms;
    if (hc_send_all(c->fd, w->p, w->len, deadline) != 0) {
        int e = errno;
        *lost = e == EPIPE || e == ECONNRESET;
        return dial_error(a, e, err);
    }
    switch (hc_recv_frame(c->fd, body, len, a->timeout_ms, a->timeout_ms, -1)) {
    case HC_RECV_OK:
        return CKR_OK;
    case HC_RECV_EOF:
        *lost = true;
        return hc_err(err, CKR_DEVICE_ERROR, "hsmcached at %s closed the "
                      "connection", a->socket);
    case HC_RECV_TIMEOUT:
        return dial_error(a, ETIMEDOUT, err);
    default:
        return hc_err(err, CKR_DEVICE_ERROR, "hsmcached at %s: broken reply",
                      a->socket);
    }
}

/* Reads a reply header; CKR_OK when it is well formed, the agent's rv in
 * *rv (with its message in err). */
static bool read_header(hc_rbuf_t *r, uint8_t op, CK_RV *rv, hc_err_t *err)
{
    char msg[512];
    if (hc_r_u8(r) != HC_PROTO_VERSION || hc_r_u8(r) != op)
        return false;
    *rv = (CK_RV)hc_r_u64(r);
    hc_r_str(r, msg, sizeof msg);
    if (!r->bad && *rv != CKR_OK)
        hc_err(err, *rv, "%s", msg);
    return !r->bad;
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
    hc_wbuf_t w = { 0 };
    hc_w_begin(&w, HC_OP_HELLO);
    hc_w_str(&w, a->profile);
    unsigned char *body = NULL;
    size_t len;
    bool lost;
    CK_RV rv = exchange(a, c, &w, &body, &len, &lost, err);
    hc_w_free(&w);
    if (rv == CKR_OK) {
        hc_rbuf_t r;
        hc_r_init(&r, body, len);
        if (!read_header(&r, HC_OP_HELLO, &rv, err)) {
            rv = hc_err(err, CKR_DEVICE_ERROR, "hsmcached at %s speaks another "
                        "protocol version (this client: %d)", a->socket,
                        HC_PROTO_VERSION);
        } else {
            c->instance = hc_r_u64(&r);
            pthread_mutex_lock(&a->lock);
            a->instance = c->instance;
            pthread_mutex_unlock(&a->lock);
            bool cache = hc_r_u8(&r) != 0;
            uint32_t n = hc_r_u32(&r);
            if (n > HC_PROTO_MAX_TOKENS)
                r.bad = true;
            char **toks = names && !r.bad ? calloc(n + 1, sizeof *toks) : NULL;
            for (uint32_t i = 0; i < n && !r.bad; i++) {
                char name[64];
                hc_r_str(&r, name, sizeof name);
                if (toks)
                    toks[i] = strdup(name);
            }
            char client[64];
            hc_r_str(&r, client, sizeof client);
            if (rv == CKR_OK && (!hc_r_done(&r) || (names && !toks)))
                rv = hc_err(err, CKR_DEVICE_ERROR, "hsmcached at %s: broken "
                            "hello reply", a->socket);
            if (rv == CKR_OK && names) {
                a->tokens = toks;
                a->ntokens = n;
                a->cache_enabled = cache;
                toks = NULL;
            }
            for (uint32_t i = 0; toks && i < n; i++)
                free(toks[i]);
            free(toks);
        }
    }
    free(body);
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
           memcmp(x->id, o->id, o->idlen) == 0 &&
           memcmp(x->label, o->label, o->labellen) == 0;
}

/* Our reference for an object the agent named in a reply: the one we
 * gave for the same agent reference, else one from before an agent
 * restart with the same identity (rebound), else a new one. */
hc_obj_t hc_link_ref_intern(hc_agent_t *a, size_t tok, uint64_t instance,
                           const hc_proto_obj_t *o)
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
CK_RV hc_link_find_on(hc_agent_t *a, struct conn *c, size_t tok,
                     const CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_obj_t **objs,
                     size_t *count, bool *lost, hc_err_t *err)
{
    *objs = NULL;
    *count = 0;
    hc_wbuf_t w = { 0 };
    hc_w_begin(&w, HC_OP_FIND);
    hc_w_str(&w, a->tokens[tok]);
    hc_w_template(&w, tmpl, n);
    unsigned char *body = NULL;
    size_t len;
    CK_RV rv = exchange(a, c, &w, &body, &len, lost, err);
    hc_w_free(&w);
    if (rv != CKR_OK)
        return rv;
    hc_rbuf_t r;
    hc_r_init(&r, body, len);
    CK_RV arv;
    if (!read_header(&r, HC_OP_FIND, &arv, err)) {
        free(body);
        return hc_err(err, CKR_DEVICE_ERROR, "hsmcached: broken find reply");
    }
    uint32_t m = hc_r_u32(&r);
    if (m > HC_PROTO_MAX_OBJS)
        r.bad = true;
    hc_obj_t *out = r.bad ? NULL : malloc((m ? m : 1) * sizeof *out);
    for (uint32_t i = 0; out && i < m && !r.bad; i++) {
        hc_proto_obj_t o;
        hc_r_obj(&r, &o);
        out[i] = r.bad ? 0 : hc_link_ref_intern(a, tok, c->instance, &o);
        if (!r.bad && !out[i])
            arv = hc_err(err, CKR_HOST_MEMORY, "out of memory");
    }
    if (!hc_r_done(&r) || !out)
        arv = hc_err(err, CKR_DEVICE_ERROR, "hsmcached: broken find reply");
    free(body);
    if (arv != CKR_OK) {
        free(out);
        return arv;
    }
    *objs = out;
    *count = m;
    return CKR_OK;
}

/* The agent's reference for `obj` on connection c's instance: found again
 * by identity when the agent restarted since. */
static CK_RV agent_ref(hc_agent_t *a, struct conn *c, hc_obj_t obj,
                       uint64_t *out, bool *lost, hc_err_t *err)
{
    struct ref *r = hc_link_ref_get(a, obj);
    if (!r)
        return hc_err(err, CKR_OBJECT_HANDLE_INVALID, "no object with "
                      "reference 0x%llx", (unsigned long long)obj);
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
                   : hc_err(err, CKR_OBJECT_HANDLE_INVALID, "token %s: object "
                            "'%s' is gone since hsmcached restarted",
                            a->tokens[r->tok], id.label);
}

/* ---- calls ---- */

/* One request: `obj` (0: none) is translated to the agent's reference;
 * `retry`: the call changes nothing, so it is retried once on a fresh
 * connection when the first one was lost. */
CK_RV hc_link_call(hc_agent_t *a, uint8_t op, hc_obj_t obj, bool retry,
                  build_fn build, parse_fn parse, void *arg, hc_err_t *err)
{
    for (int attempt = 0;; attempt++) {
        struct conn *c = hc_link_conn_take(a, err);
        if (!c)
            return err ? err->rv : CKR_DEVICE_ERROR;
        uint64_t aref = 0;
        bool lost = false;
        CK_RV rv = obj ? agent_ref(a, c, obj, &aref, &lost, err) : CKR_OK;
        unsigned char *body = NULL;
        size_t len = 0;
        if (rv == CKR_OK) {
            hc_wbuf_t w = { 0 };
            hc_w_begin(&w, op);
            build(&w, aref, arg);
            rv = exchange(a, c, &w, &body, &len, &lost, err);
            hc_w_free(&w);
        }
        if (lost) {
            hc_link_conn_close(c);
            hc_link_drop_idle(a);
            if (retry && attempt == 0)
                continue;
            return rv;
        }
        if (rv != CKR_OK && !body) {
            /* An object gone or a request refused before sending leaves
             * the connection usable; an I/O failure does not. */
            if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_ARGUMENTS_BAD)
                hc_link_conn_put(a, c);
            else
                hc_link_conn_close(c);
            return rv;
        }
        hc_rbuf_t r;
        hc_r_init(&r, body, len);
        if (read_header(&r, op, &rv, err))
            parse(&r, &rv, arg, err);
        bool ok = hc_r_done(&r);
        OPENSSL_cleanse(body, len);
        free(body);
        if (!ok) {
            hc_link_conn_close(c);
            return hc_err(err, CKR_DEVICE_ERROR, "hsmcached at %s: malformed "
                          "%s reply", a->socket, hc_op_name(op));
        }
        hc_link_conn_put(a, c);
        return rv;
    }
}

void hc_link_parse_none(hc_rbuf_t *r, CK_RV *rv, void *arg, hc_err_t *err)
{
    (void)r, (void)rv, (void)arg, (void)err;
}

void hc_link_build_token(hc_wbuf_t *w, uint64_t aref, void *arg)
{
    (void)aref;
    hc_w_str(w, arg);
}

void hc_link_build_obj(hc_wbuf_t *w, uint64_t aref, void *arg)
{
    (void)arg;
    hc_w_u64(w, aref);
}


void hc_link_parse_out(hc_rbuf_t *r, CK_RV *rv, void *arg, hc_err_t *err)
{
    struct out_buf *o = arg;
    uint64_t n = hc_r_u64(r);
    size_t got;
    const unsigned char *p = hc_r_bytes(r, &got, HC_PROTO_MAX_VALUE);
    if (r->bad)
        return;
    if (*rv == CKR_OK || *rv == CKR_BUFFER_TOO_SMALL)
        *o->len = (size_t)n;
    if (*rv == CKR_OK && o->buf) {
        if (got > o->cap || got != n)
            *rv = hc_err(err, CKR_DEVICE_ERROR, "hsmcached: reply larger "
                         "than the buffer");
        else
            memcpy(o->buf, p, got);
    }
}

