/*
 * sock.c - reads and writes for plain and TLS sockets alike.
 */
#include "sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "url.h"

void sock_init(struct sock *s, int fd)
{
    memset(s, 0, sizeof(*s));
    s->fd = fd;
}

static enum sock_io sock_tls_status(struct sock *s, enum tls_status st, bool reading)
{
    switch (st) {
    case TLS_OK:
        return SOCK_OK;
    case TLS_WANT_READ:
        if (!reading)
            s->write_wants_read = true;
        return SOCK_AGAIN;
    case TLS_WANT_WRITE:
        if (reading)
            s->read_wants_write = true;
        return SOCK_AGAIN;
    case TLS_EOF:
        return SOCK_EOF;
    case TLS_ERROR:
        return SOCK_ERROR;
    }
    return SOCK_ERROR;
}

enum sock_io sock_read(struct sock *s, struct buf *b, size_t *n)
{
    *n = 0;
    s->read_wants_write = false;
    if (s->tls) {
        enum sock_io r = sock_tls_status(s, tls_read_buf(s->tls, b, n), true);
        if (r == SOCK_OK && *n == 0)
            return SOCK_FULL;
        return r;
    }
    ssize_t got = buf_read_fd(b, s->fd);
    if (got > 0) {
        *n = (size_t)got;
        return SOCK_OK;
    }
    if (got == 0)
        return SOCK_EOF;
    if (got == -2)
        return SOCK_FULL;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return SOCK_AGAIN;
    s->err = errno;
    return SOCK_ERROR;
}

enum sock_io sock_write(struct sock *s, struct buf *b, size_t *n)
{
    *n = 0;
    s->write_wants_read = false;
    if (buf_empty(b))
        return SOCK_OK;
    if (s->tls)
        return sock_tls_status(s, tls_write_buf(s->tls, b, n), false);
    ssize_t put = buf_write_fd(b, s->fd);
    if (put >= 0) {
        *n = (size_t)put;
        return SOCK_OK;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return SOCK_AGAIN;
    s->err = errno;
    return SOCK_ERROR;
}

bool sock_pending(const struct sock *s)
{
    return s->tls && tls_pending(s->tls);
}

const char *sock_error(const struct sock *s)
{
    if (s->tls)
        return tls_conn_error(s->tls);
    return strerror(s->err ? s->err : EIO);
}

void sock_close(struct sock *s)
{
    if (s->tls) {
        tls_shutdown(s->tls);
        tls_conn_free(s->tls);
        s->tls = NULL;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->read_wants_write = s->write_wants_read = false;
}

void sock_unmap_v4(struct sockaddr *sa)
{
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (sa->sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
        return;
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = in6->sin6_port};
    memcpy(&in.sin_addr, in6->sin6_addr.s6_addr + 12, 4);
    memcpy(sa, &in, sizeof(in));
}

void sock_format_addr(char *out, size_t size, const struct sockaddr *sa, bool with_port)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    uint16_t port;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
    } else {
        snprintf(out, size, "%s", with_port ? "unix" : "unknown");
        return;
    }
    if (with_port)
        url_format_hostport(out, size, ip, port); /* brackets IPv6 */
    else
        snprintf(out, size, "%s", ip);
}
