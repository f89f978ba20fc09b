/*
 * agent_conn.h: framed I/O on a unix stream socket with deadlines, shared
 * by the agent client and hsmcached. Sockets are non-blocking; every wait
 * is a poll() bounded by the deadline, so neither side can hang on the
 * other. Sends never raise SIGPIPE in the host.
 */
#ifndef HC_AGENT_CONN_H
#define HC_AGENT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes all of buf before the deadline: 0, or -1 with errno set
 * (ETIMEDOUT when the deadline passed). */
int hc_send_all(int fd, const void *buf, size_t len, uint64_t deadline_ms);

enum hc_recv_result {
    HC_RECV_OK = 0,
    HC_RECV_EOF,   /* closed before the first byte of a frame */
    HC_RECV_ERROR, /* I/O error or a frame cut short (errno set) */
    HC_RECV_TIMEOUT,
    HC_RECV_TOO_BIG, /* the length prefix is above HC_PROTO_MAX_BODY */
};
/* Reads one frame: *body (malloc'ed, free it) of *len bytes. `first_ms`
 * bounds the wait for its first byte (0: wait for ever); `stop_fd` >= 0
 * becoming readable also ends that wait, as HC_RECV_EOF. Once the first
 * byte is there, the whole frame must arrive within `rest_ms`. */
enum hc_recv_result hc_recv_frame(int fd, unsigned char **body, size_t *len, int first_ms,
                                  int rest_ms, int stop_fd);

#endif
