/*
 * sock.h - a connected, non-blocking socket that may carry TLS: one read
 * and one write function for both, so the state machines do not care.
 * With TLS a read may have to wait for writability and a write for
 * readability; the want_* flags say so, and the owner's watchers follow.
 */
#ifndef MAGPIE_SOCK_H
#define MAGPIE_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "buf.h"
#include "tls.h"

struct sock {
    int fd;               /* -1 when closed */
    struct tls_conn *tls; /* NULL for plain TCP */
    bool read_wants_write;
    bool write_wants_read;
    int err; /* errno of the last SOCK_ERROR on plain TCP */
};

enum sock_io {
    SOCK_OK,    /* *n bytes moved (> 0) */
    SOCK_AGAIN, /* nothing now; wait as the want_* flags say */
    SOCK_EOF,   /* the peer closed (reads only) */
    SOCK_FULL,  /* the buffer has no room (reads only) */
    SOCK_ERROR, /* sock_error() says why */
};

void sock_init(struct sock *s, int fd);
enum sock_io sock_read(struct sock *s, struct buf *b, size_t *n);
enum sock_io sock_write(struct sock *s, struct buf *b, size_t *n);
const char *sock_error(const struct sock *s);
/* Whether a read would find bytes the fd no longer signals (TLS buffers). */
bool sock_pending(const struct sock *s);
/* Sends close_notify when TLS, frees the TLS state and closes the fd. */
void sock_close(struct sock *s);

/*
 * An address as text, truncated to size: "192.0.2.1:80" and "[2001:db8::1]:80"
 * with the port (the logs), "192.0.2.1" and "2001:db8::1" without
 * (X-Forwarded-For). Any other family is "unix" with the port and "unknown",
 * X-Forwarded-For's word for an address it cannot give, without.
 */
void sock_format_addr(char *out, size_t size, const struct sockaddr *sa, bool with_port);
/* An IPv4-mapped IPv6 address (an IPv4 client of a dual-stack [::]
   listener) rewritten in place as the IPv4 address it is; sa must have
   room for a sockaddr_in. Anything else is left alone. */
void sock_unmap_v4(struct sockaddr *sa);

#endif
