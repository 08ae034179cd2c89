/*
 * upstream.c - the origin half of a proxied exchange: name resolution,
 * non-blocking connect (trying each address in turn), sending the request
 * the client half buffered in c->up.out, and relaying the response head and
 * body into the client buffer with the framing the client needs.
 *
 * Each request has its own origin connection here, closed when the
 * exchange ends; nothing is reused across requests yet.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"

static void upstream_read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void upstream_write_cb(struct ev_loop *loop, ev_io *w, int revents);
static void upstream_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void upstream_connect_next(struct client *c);
static void upstream_finish_eof(struct client *c);
static int upstream_on_head(void *arg, struct http_msg *m);
static int upstream_on_body(void *arg, const char *p, size_t n);
static int upstream_on_done(void *arg);

static const struct http_reader_ops upstream_reader_ops = {
    .on_head = upstream_on_head,
    .on_body = upstream_on_body,
    .on_done = upstream_on_done,
};

static void upstream_dns_cb(void *arg, enum dns_status st, const struct dns_addrs *addrs)
{
    struct client *c = arg;
    struct upstream *u = &c->up;
    u->query = NULL;
    if (st != DNS_OK || addrs->n == 0) {
        char reason[URL_HOST_MAX + 64];
        snprintf(reason, sizeof(reason), "cannot resolve %s: %s", u->host, dns_strstatus(st));
        client_fail(c, st == DNS_TIMEOUT ? 504 : 502, reason);
        return;
    }
    u->addrs = *addrs;
    u->next_addr = 0;
    upstream_connect_next(c);
}

void upstream_start(struct client *c)
{
    struct upstream *u = &c->up;
    struct ev_loop *loop = c->srv->loop;
    u->reader = http_reader_new(false, &upstream_reader_ops, c);
    if (!u->reader) {
        client_fail(c, 500, "out of memory");
        return;
    }
    if (c->method_id == HTTP_M_HEAD)
        http_reader_expect_no_body(u->reader);
    ev_io_init(&u->rio, upstream_read_cb, -1, EV_READ);
    ev_io_init(&u->wio, upstream_write_cb, -1, EV_WRITE);
    ev_init(&u->timer, upstream_timer_cb);
    u->rio.data = u->wio.data = u->timer.data = c;
    u->eof = u->connected = false;
    u->peer[0] = '\0';
    (void)loop;
    enum dns_status st = DNS_OK;
    u->query = dns_resolve(c->srv->dns, u->host, &u->addrs, &st, upstream_dns_cb, c);
    if (u->query) {
        c->state = CS_RESOLVE;
        return;
    }
    upstream_dns_cb(c, u->addrs.n ? DNS_OK : st, &u->addrs);
}

void upstream_requery(struct client *c)
{
    struct upstream *u = &c->up;
    dns_cancel(u->query);
    enum dns_status st = DNS_OK;
    u->query = dns_resolve(c->srv->dns, u->host, &u->addrs, &st, upstream_dns_cb, c);
    if (!u->query)
        upstream_dns_cb(c, u->addrs.n ? DNS_OK : st, &u->addrs);
}

static void upstream_set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static void upstream_format_peer(struct upstream *u, const struct sockaddr_storage *ss)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof(ip));
    else
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip, sizeof(ip));
    url_format_hostport(u->peer, sizeof(u->peer), ip, u->port);
}

static void upstream_connected(struct client *c)
{
    struct upstream *u = &c->up;
    u->connected = true;
    c->state = CS_FORWARD;
    u->timer.repeat = c->cfg->upstream.read_timeout;
    ev_timer_again(c->srv->loop, &u->timer);
    log_debug("#%llu %s: connected to %s", c->id, c->addr_text, u->peer);
    client_update_io(c);
}

/* Drops the socket of a failed attempt, keeping the exchange. */
static void upstream_drop_fd(struct client *c)
{
    struct upstream *u = &c->up;
    if (u->fd < 0)
        return;
    ev_io_stop(c->srv->loop, &u->rio);
    ev_io_stop(c->srv->loop, &u->wio);
    close(u->fd);
    u->fd = -1;
}

static void upstream_connect_next(struct client *c)
{
    struct upstream *u = &c->up;
    int err = ECONNREFUSED;
    while (u->next_addr < u->addrs.n) {
        size_t i = u->next_addr++;
        struct sockaddr_storage *ss = &u->addrs.addr[i];
        upstream_set_port(ss, u->port);
        upstream_format_peer(u, ss);
        int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        u->fd = fd;
        ev_io_set(&u->rio, fd, EV_READ);
        ev_io_set(&u->wio, fd, EV_WRITE);
        if (connect(fd, (struct sockaddr *)ss, u->addrs.len[i]) == 0) {
            upstream_connected(c);
            return;
        }
        if (errno == EINPROGRESS) {
            c->state = CS_CONNECT;
            u->timer.repeat = c->cfg->upstream.connect_timeout;
            ev_timer_again(c->srv->loop, &u->timer);
            client_update_io(c);
            return;
        }
        err = errno;
        log_debug("#%llu %s: connect to %s: %s", c->id, c->addr_text, u->peer, strerror(err));
        upstream_drop_fd(c);
    }
    char reason[URL_HOST_MAX + 128];
    snprintf(reason, sizeof(reason), "cannot connect to %s: %s", u->peer[0] ? u->peer : u->host,
             strerror(err));
    client_fail(c, 502, reason);
}

void upstream_close(struct client *c)
{
    struct upstream *u = &c->up;
    if (u->query) {
        dns_cancel(u->query);
        u->query = NULL;
    }
    upstream_drop_fd(c);
    ev_timer_stop(c->srv->loop, &u->timer);
    http_reader_free(&u->reader);
    u->in.off = u->in.len = 0;
    u->out.off = u->out.len = 0;
    buf_compact(&u->in, true);
    buf_compact(&u->out, true);
    buf_free(&u->in);
    buf_free(&u->out);
    u->connected = false;
}

void upstream_update_io(struct client *c)
{
    struct upstream *u = &c->up;
    struct ev_loop *loop = c->srv->loop;
    if (u->fd < 0)
        return;
    bool rd = u->connected && !c->rsp_done && !u->eof && buf_used(&c->out) < PROXY_HIGH_WATER;
    bool wr = !u->connected || !buf_empty(&u->out);
    if (rd)
        ev_io_start(loop, &u->rio);
    else
        ev_io_stop(loop, &u->rio);
    if (wr)
        ev_io_start(loop, &u->wio);
    else
        ev_io_stop(loop, &u->wio);
}

/* ---- events ---- */

static void upstream_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    struct client *c = w->data;
    struct upstream *u = &c->up;
    char reason[URL_HOST_MAX + 96];
    if (c->state == CS_CONNECT) {
        log_debug("#%llu %s: connect to %s timed out", c->id, c->addr_text, u->peer);
        upstream_drop_fd(c);
        if (u->next_addr < u->addrs.n) {
            upstream_connect_next(c);
            return;
        }
        snprintf(reason, sizeof(reason), "connect to %s timed out after %.3gs", u->peer,
                 c->cfg->upstream.connect_timeout);
        client_fail(c, 504, reason);
        return;
    }
    snprintf(reason, sizeof(reason), "upstream %s sent nothing for %.3gs", u->peer,
             c->cfg->upstream.read_timeout);
    client_fail(c, 504, reason);
}

/* The origin is gone: an error status if nothing was relayed yet, else a close. */
static void upstream_lost(struct client *c, const char *what)
{
    char reason[URL_HOST_MAX + 128];
    snprintf(reason, sizeof(reason), "upstream %s %s%s", c->up.peer, what,
             c->rsp_head_sent ? " mid-response" : " before responding");
    client_fail(c, 502, reason);
}

/* Parses buffered response bytes while the client buffer has room. */
static void upstream_feed(struct client *c)
{
    struct upstream *u = &c->up;
    while (!c->rsp_done && !buf_empty(&u->in) && buf_used(&c->out) < PROXY_HIGH_WATER) {
        size_t n = buf_used(&u->in);
        if (n > PROXY_FEED_MAX)
            n = PROXY_FEED_MAX;
        if (!c->rsp_head_sent) {
            /* the head must be whole and well-formed before the parser sees it */
            size_t head_len, scanned = 0;
            enum http_scan r = http_head_scan(buf_head(&u->in), buf_used(&u->in),
                                              c->cfg->limits.max_header_bytes, SIZE_MAX / 2,
                                              &scanned, &head_len);
            if (r == HTTP_SCAN_MORE)
                break;
            if (r != HTTP_SCAN_DONE) {
                upstream_lost(c, "sent a malformed response head");
                return;
            }
            n = head_len;
        }
        enum http_error err;
        size_t used = http_reader_feed(u->reader, buf_head(&u->in), n, &err);
        if (c->state == CS_CLOSED || c->state == CS_HEAD)
            return;
        if (err != HTTP_OK) {
            log_info("#%llu %s: bad response from %s: %s", c->id, c->addr_text, u->peer,
                     http_reader_strerror(u->reader));
            upstream_lost(c, "sent an invalid response");
            return;
        }
        buf_consume(&u->in, used);
        if (used == 0)
            break;
    }
    if (c->rsp_done) {
        client_response_done(c);
        return;
    }
    if (u->eof && (buf_empty(&u->in) || !c->rsp_head_sent)) {
        upstream_finish_eof(c); /* everything parsed, or a head that cannot complete */
        return;
    }
    client_update_io(c);
}

void upstream_resume(struct client *c)
{
    if (c->state == CS_FORWARD && !buf_empty(&c->up.in))
        upstream_feed(c);
}

/* The origin closed and every byte it sent was parsed. */
static void upstream_finish_eof(struct client *c)
{
    struct upstream *u = &c->up;
    if (!c->rsp_head_sent && !http_reader_mid_message(u->reader)) {
        upstream_lost(c, "closed the connection");
        return;
    }
    if (http_reader_eof(u->reader) != HTTP_OK || !c->rsp_done) {
        upstream_lost(c, "closed the connection");
        return;
    }
    client_response_done(c);
}

static void upstream_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct client *c = w->data;
    struct upstream *u = &c->up;
    ssize_t n = buf_read_fd(&u->in, u->fd);
    if (n == -2) {
        upstream_feed(c); /* full: only a head over the limit can do that */
        if (c->state == CS_FORWARD && !c->rsp_head_sent)
            upstream_lost(c, "sent a response head over the size limit");
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        upstream_lost(c, strerror(errno));
        return;
    }
    ev_timer_again(loop, &u->timer);
    if (n == 0)
        u->eof = true;
    upstream_feed(c);
}

static void upstream_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct client *c = w->data;
    struct upstream *u = &c->up;
    if (!u->connected) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            log_debug("#%llu %s: connect to %s: %s", c->id, c->addr_text, u->peer, strerror(err));
            upstream_drop_fd(c);
            upstream_connect_next(c);
            return;
        }
        upstream_connected(c);
        return;
    }
    ssize_t n = buf_write_fd(&u->out, u->fd);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (c->rsp_head_sent || !buf_empty(&u->in)) {
            /* the origin answered early and stopped reading: keep its answer */
            u->out.off = u->out.len = 0;
            c->keep_alive = false;
            client_update_io(c);
            return;
        }
        upstream_lost(c, strerror(errno));
        return;
    }
    ev_timer_again(loop, &u->timer);
    if (!c->req_done && buf_used(&u->out) < PROXY_HIGH_WATER)
        client_pump(c); /* the client may have body bytes waiting */
    else
        client_update_io(c);
}

/* ---- the response ---- */

static int upstream_write_head(struct client *c, const struct http_msg *m, bool interim)
{
    char buf[512];
    const char *reason = http_str(m, m->reason);
    int n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\n", m->status,
                     reason[0] ? reason : http_reason(m->status));
    if (client_out(c, buf, (size_t)n) < 0)
        return -1;
    for (size_t i = 0; i < m->nhdrs; i++) {
        const struct http_header *h = &m->hdrs[i];
        const char *name = http_hname(m, h);
        if (h->hop || strcasecmp(name, "Via") == 0)
            continue;
        if (c->framing != HTTP_FRAME_NONE && strcasecmp(name, "Content-Length") == 0)
            continue;
        n = snprintf(buf, sizeof(buf), "%s: ", name);
        if (client_out(c, buf, (size_t)n) < 0 ||
            client_out(c, http_hvalue(m, h), h->value_len) < 0 || client_out(c, "\r\n", 2) < 0)
            return -1;
    }
    struct buf via;
    buf_init(&via, 64 * 1024);
    for (size_t i = 0; i < m->nhdrs; i++)
        if (strcasecmp(http_hname(m, &m->hdrs[i]), "Via") == 0)
            buf_printf(&via, "%s, ", http_hvalue(m, &m->hdrs[i]));
    buf_printf(&via, "1.%u %s", m->minor, c->cfg->proxy_name);
    n = snprintf(buf, sizeof(buf), "Via: ");
    int rc = client_out(c, buf, (size_t)n) < 0 || client_out(c, buf_head(&via), buf_used(&via)) < 0;
    buf_free(&via);
    if (rc)
        return -1;
    if (interim)
        return client_out(c, "\r\n", 2);
    if (c->framing == HTTP_FRAME_LENGTH)
        n = snprintf(buf, sizeof(buf), "\r\nContent-Length: %lld", (long long)m->content_length);
    else if (c->framing == HTTP_FRAME_CHUNKED)
        n = snprintf(buf, sizeof(buf), "\r\nTransfer-Encoding: chunked");
    else
        n = 0;
    if (client_out(c, buf, (size_t)n) < 0)
        return -1;
    const char *conn = !c->keep_alive ? "close" : c->minor == 0 ? "keep-alive" : NULL;
    n = conn ? snprintf(buf, sizeof(buf), "\r\nConnection: %s\r\n\r\n", conn)
             : snprintf(buf, sizeof(buf), "\r\n\r\n");
    return client_out(c, buf, (size_t)n);
}

static int upstream_on_head(void *arg, struct http_msg *m)
{
    struct client *c = arg;
    if (m->status == 101) {
        c->keep_alive = false;
        client_fail(c, 502, "upstream switched protocols, which was not asked for");
        return -1;
    }
    if (m->status < 200) {
        /* interim (100 Continue, 103 Early Hints): relayed to HTTP/1.1 clients */
        if (c->method_id == HTTP_M_HEAD)
            http_reader_expect_no_body(c->up.reader);
        c->framing = HTTP_FRAME_NONE;
        if (c->minor >= 1 && upstream_write_head(c, m, true) < 0) {
            client_close(c, "client buffer overflow");
            return -1;
        }
        return 0;
    }
    c->status = m->status;
    c->framing = http_response_framing(c->method_id, m->status, m->content_length, m->chunked,
                                       c->minor);
    if (c->framing == HTTP_FRAME_CLOSE || !c->req_done || c->srv->draining)
        c->keep_alive = false;
    c->bytes_sent = 0; /* interim responses are not counted */
    if (upstream_write_head(c, m, false) < 0) {
        client_close(c, "client buffer overflow");
        return -1;
    }
    c->rsp_head_sent = true;
    return 0;
}

static int upstream_on_body(void *arg, const char *p, size_t n)
{
    struct client *c = arg;
    int rc = c->framing == HTTP_FRAME_CHUNKED ? http_chunk_append(&c->out, p, n)
                                              : buf_append(&c->out, p, n);
    c->bytes_sent += n;
    if (rc < 0) {
        client_close(c, "client buffer overflow");
        return -1;
    }
    return 0;
}

static int upstream_on_done(void *arg)
{
    struct client *c = arg;
    if (!c->rsp_head_sent) {
        http_reader_next(c->up.reader); /* an interim response: the final one follows */
        return 0;
    }
    if (c->framing == HTTP_FRAME_CHUNKED && http_chunk_append(&c->out, NULL, 0) < 0) {
        client_close(c, "client buffer overflow");
        return -1;
    }
    c->rsp_done = true;
    return 0;
}
