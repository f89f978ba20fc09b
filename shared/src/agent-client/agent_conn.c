/* agent_conn.c: framed socket I/O with deadlines (see agent_conn.h). */
#include "agent-client/agent_conn.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "util/clock.h"
#include "proto/proto.h"

static int wait_for(int fd, short events, uint64_t deadline_ms, int stop_fd)
{
    for (;;) {
        uint64_t now = hc_now_ms();
        int timeout = -1;
        if (deadline_ms) {
            if (now >= deadline_ms) {
                errno = ETIMEDOUT;
                return -1;
            }
            timeout = (int)(deadline_ms - now);
        }
        struct pollfd p[2] = { { fd, events, 0 }, { stop_fd, POLLIN, 0 } };
        int n = poll(p, stop_fd >= 0 ? 2 : 1, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            continue; /* the deadline check above ends it */
        if (stop_fd >= 0 && (p[1].revents & POLLIN) && !(p[0].revents & events)) {
            errno = ECANCELED;
            return -1;
        }
        return 0;
    }
}

int hc_send_all(int fd, const void *buf, size_t len, uint64_t deadline_ms)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_for(fd, POLLOUT, deadline_ms, -1) != 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* Reads exactly len bytes; returns bytes read before an error/EOF. */
static size_t read_full(int fd, unsigned char *p, size_t len, uint64_t deadline_ms, int *err)
{
    size_t got = 0;
    *err = 0;
    while (got < len) {
        ssize_t n = recv(fd, p + got, len - got, 0);
        if (n > 0) {
            got += (size_t)n;
        } else if (n == 0) {
            *err = ECONNRESET;
            return got;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_for(fd, POLLIN, deadline_ms, -1) != 0) {
                *err = errno;
                return got;
            }
        } else {
            *err = errno;
            return got;
        }
    }
    return got;
}

enum hc_recv_result hc_recv_frame(int fd, unsigned char **body, size_t *len, int first_ms,
                                  int rest_ms, int stop_fd)
{
    *body = NULL;
    *len = 0;
    uint64_t first_deadline = first_ms > 0 ? hc_now_ms() + (uint64_t)first_ms : 0;
    if (wait_for(fd, POLLIN, first_deadline, stop_fd) != 0)
        return errno == ETIMEDOUT   ? HC_RECV_TIMEOUT
               : errno == ECANCELED ? HC_RECV_EOF
                                    : HC_RECV_ERROR;
    uint64_t deadline = hc_now_ms() + (uint64_t)(rest_ms > 0 ? rest_ms : 1);
    unsigned char hdr[4];
    int e;
    size_t got = read_full(fd, hdr, 4, deadline, &e);
    if (got == 0 && e == ECONNRESET)
        return HC_RECV_EOF;
    if (got < 4) {
        errno = e;
        return e == ETIMEDOUT ? HC_RECV_TIMEOUT : HC_RECV_ERROR;
    }
    uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (n > HC_PROTO_MAX_BODY)
        return HC_RECV_TOO_BIG;
    unsigned char *b = malloc(n ? n : 1);
    if (!b) {
        errno = ENOMEM;
        return HC_RECV_ERROR;
    }
    if (read_full(fd, b, n, deadline, &e) < n) {
        free(b);
        errno = e;
        return e == ETIMEDOUT ? HC_RECV_TIMEOUT : HC_RECV_ERROR;
    }
    *body = b;
    *len = n;
    return HC_RECV_OK;
}
