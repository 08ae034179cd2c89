/*
 * upstream.c - the origin half of a proxied exchange: a connection from the
 * pool or a new one (name resolution, non-blocking connect trying each
 * address, TLS handshake for https), sending the request the client half
 * buffered in c->ex->up.out, and relaying the response into the client buffer
 * with the framing the client needs. A finished exchange gives its
 * connection back to the pool when the origin allows; a request that fails
 * on a reused connection before any response byte is replayed on a fresh one
 * if it is idempotent and has no body.
 *
 * struct upconn (one origin connection) lives here too: while idle it
 * belongs to the pool and only watches for the origin closing it.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "tls.h"

static void upstream_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void upstream_connect_next(struct client *c);
static void upstream_finish_eof(struct client *c);
static void upstream_readable(struct client *c);
static void upstream_writable(struct client *c);
static void upstream_acquire(struct client *c);
static void upstream_write_request(struct client *c);
static int upstream_on_head(void *arg, struct http_msg *m);
static int upstream_on_body(void *arg, const char *p, size_t n);
static int upstream_on_done(void *arg);

static const struct http_reader_ops upstream_reader_ops = {
    .on_head = upstream_on_head,
    .on_body = upstream_on_body,
    .on_done = upstream_on_done,
};

static struct client *upstream_client(struct pool_waiter *w)
{
    return ((struct exchange *)((char *)w - offsetof(struct exchange, up.waiter)))->client;
}

/* ---- origin connections ---- */

static void upconn_free(struct upconn *uc)
{
    ev_io_stop(uc->srv->loop, &uc->rio);
    ev_io_stop(uc->srv->loop, &uc->wio);
    sock_close(&uc->sock);
    free(uc);
}

/* An idle connection became readable: the origin closed it, or broke HTTP. */
static void upconn_idle_readable(struct upconn *uc)
{
    if (uc->sock.tls) {
        /* TLS 1.3 session tickets may arrive late: only data or EOF count */
        struct buf scratch;
        buf_init(&scratch, 512);
        size_t n;
        enum sock_io r = sock_read(&uc->sock, &scratch, &n);
        buf_free(&scratch);
        if (r == SOCK_AGAIN)
            return;
    }
    log_debug("idle connection to %s closed by the origin", uc->peer);
    pool_remove(uc->srv->pool, &uc->pc);
    upconn_free(uc);
}

static void upconn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop, (void)revents;
    struct upconn *uc = w->data;
    if (uc->owner)
        upstream_readable(uc->owner);
    else
        upconn_idle_readable(uc);
}

static void upconn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop, (void)revents;
    struct upconn *uc = w->data;
    if (uc->owner)
        upstream_writable(uc->owner);
    else
        ev_io_stop(loop, w);
}

static struct upconn *upconn_new(struct server *srv, const char *host)
{
    struct upconn *uc = calloc(1, sizeof(*uc));
    if (!uc)
        return NULL;
    uc->srv = srv;
    sock_init(&uc->sock, -1);
    snprintf(uc->host, sizeof(uc->host), "%s", host);
    ev_init(&uc->rio, upconn_read_cb);
    ev_init(&uc->wio, upconn_write_cb);
    uc->rio.data = uc->wio.data = uc;
    return uc;
}

/* Whether an idle connection still looks usable before it is handed out. */
static bool upconn_alive(struct upconn *uc)
{
    if (uc->sock.tls)
        return true; /* the idle watcher handles TLS; a replay covers the rest */
    char b;
    ssize_t n = recv(uc->sock.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void upstream_pool_close(struct pool_conn *pc)
{
    upconn_free((struct upconn *)pc);
}

/* A queued exchange's turn: act on it from the loop, not from inside the pool. */
static void upstream_pool_grant(struct pool_waiter *w, struct pool_conn *pc)
{
    struct client *c = upstream_client(w);
    struct upstream *u = &c->ex->up;
    u->granted = true;
    if (pc) {
        u->conn = (struct upconn *)pc;
    } else {
        u->conn = upconn_new(c->srv, u->host);
        if (u->conn)
            pool_conn_add(c->srv->pool, w, &u->conn->pc);
        else
            pool_remove_reserved(c->srv->pool, w);
    }
    if (u->conn)
        u->conn->owner = c;
    ev_timer_stop(c->srv->loop, &u->timer);
    ev_timer_set(&u->timer, 0., 0.);
    ev_timer_start(c->srv->loop, &u->timer);
}

const struct pool_ops upstream_pool_ops = {
    .close = upstream_pool_close,
    .grant = upstream_pool_grant,
};

void upstream_session_free(void *session)
{
    tls_session_free(session);
}

/* ---- starting an exchange ---- */

static void upstream_set_key(struct upstream *u)
{
    char hp[URL_HOST_MAX + 8];
    url_format_hostport(hp, sizeof(hp), u->host, u->port);
    snprintf(u->key, sizeof(u->key), "%s://%s%s", u->https ? "https" : "http", hp,
             u->https && !u->verify ? " noverify" : "");
}

static bool upstream_replayable(const struct client *c)
{
    switch (c->ex->method_id) {
    case HTTP_M_GET:
    case HTTP_M_HEAD:
    case HTTP_M_PUT:
        break;
    default:
        if (strcmp(c->ex->method, "OPTIONS") != 0 && strcmp(c->ex->method, "DELETE") != 0 &&
            strcmp(c->ex->method, "TRACE") != 0)
            return false;
    }
    /* a body is streamed, not kept: only bodiless requests can be sent again */
    return c->ex->req_done && c->ex->bytes_received == 0 && !c->ex->req_chunked;
}

static int upstream_new_reader(struct client *c)
{
    struct upstream *u = &c->ex->up;
    http_reader_free(&u->reader);
    u->reader = http_reader_new(false, &upstream_reader_ops, c);
    if (!u->reader)
        return -1;
    if (c->ex->method_id == HTTP_M_HEAD)
        http_reader_expect_no_body(u->reader);
    return 0;
}

void upstream_start(struct client *c)
{
    struct upstream *u = &c->ex->up;
    if (upstream_new_reader(c) < 0) {
        client_fail(c, 500, "out of memory");
        return;
    }
    ev_init(&u->timer, upstream_timer_cb);
    u->timer.data = c;
    u->eof = u->granted = u->switching = u->keep_alive = false;
    u->waiter.fresh = false;
    u->peer[0] = '\0';
    u->retries_left = c->cfg->upstream.retries;
    free(u->head);
    u->head = NULL;
    upstream_set_key(u);
    upstream_acquire(c);
}

static void upstream_dns_cb(void *arg, enum dns_status st, const struct dns_addrs *addrs)
{
    struct client *c = arg;
    struct upstream *u = &c->ex->up;
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

static void upstream_resolve(struct client *c)
{
    struct upstream *u = &c->ex->up;
    enum dns_status st = DNS_OK;
    c->state = CS_RESOLVE;
    u->query = dns_resolve(c->srv->dns, u->host, &u->addrs, &st, upstream_dns_cb, c);
    if (!u->query)
        upstream_dns_cb(c, u->addrs.n ? DNS_OK : st, &u->addrs);
}

void upstream_start_later(struct client *c)
{
    c->state = CS_QUEUED;
    c->ex->cx.released = true;
    ev_init(&c->ex->up.timer, upstream_timer_cb);
    c->ex->up.timer.data = c;
    ev_feed_event(c->srv->loop, &c->ex->up.timer, EV_TIMER);
}

void upstream_requery(struct client *c)
{
    dns_cancel(c->ex->up.query);
    c->ex->up.query = NULL;
    upstream_resolve(c);
}

/* The connection can carry the request now. */
static void upstream_ready(struct client *c)
{
    struct upstream *u = &c->ex->up;
    snprintf(u->peer, sizeof(u->peer), "%s", u->conn->peer);
    if (c->ex->connect) {
        ev_timer_stop(c->srv->loop, &u->timer);
        client_tunnel_start(c);
        return;
    }
    /* only a reused connection can fail before answering: keep the head
       for a replay then, and copy nothing on new connections */
    if (!u->head && u->conn->requests > 0 && u->retries_left > 0 && upstream_replayable(c)) {
        u->head = malloc(buf_used(&u->out));
        if (u->head) {
            u->head_len = buf_used(&u->out);
            memcpy(u->head, buf_head(&u->out), u->head_len);
        }
    }
    c->state = CS_FORWARD;
    u->timer.repeat = c->cfg->upstream.read_timeout;
    ev_timer_again(c->srv->loop, &u->timer);
    upstream_write_request(c); /* a ready connection takes it now: no loop pass */
}

/* Goes on with a connection the pool granted or handed back. */
static void upstream_use_conn(struct client *c)
{
    struct upstream *u = &c->ex->up;
    if (!u->conn) {
        client_fail(c, 500, "out of memory");
        return;
    }
    u->conn->owner = c;
    if (u->conn->ready) {
        /* the idle watcher saw nothing, or it would have an event pending */
        if (ev_is_pending(&u->conn->rio) && !upconn_alive(u->conn)) {
            pool_remove(c->srv->pool, &u->conn->pc);
            upconn_free(u->conn);
            u->conn = NULL;
            upstream_acquire(c);
            return;
        }
        upstream_ready(c);
        return;
    }
    upstream_resolve(c);
}

static void upstream_acquire(struct client *c)
{
    struct upstream *u = &c->ex->up;
    struct server *srv = c->srv;
    if (c->ex->connect) {
        /* tunnels are not pooled: their connection is theirs alone */
        u->conn = upconn_new(srv, u->host);
        upstream_use_conn(c);
        return;
    }
    const struct pool_limits lim = {c->cfg->upstream.pool.max_per_origin,
                                    c->cfg->upstream.pool.max_idle_per_origin};
    struct pool_conn *pc = NULL;
    switch (pool_acquire(srv->pool, u->key, &lim, &u->waiter, &pc)) {
    case POOL_REUSE:
        u->conn = (struct upconn *)pc;
        upstream_use_conn(c);
        return;
    case POOL_CONNECT:
        u->conn = upconn_new(srv, u->host);
        if (u->conn)
            pool_conn_add(srv->pool, &u->waiter, &u->conn->pc);
        else
            pool_remove_reserved(srv->pool, &u->waiter);
        upstream_use_conn(c);
        return;
    case POOL_WAIT:
        c->state = CS_QUEUED;
        u->timer.repeat = c->cfg->upstream.pool.queue_timeout;
        ev_timer_again(srv->loop, &u->timer);
        client_update_io(c);
        return;
    case POOL_NOMEM:
        client_fail(c, 500, "out of memory");
        return;
    }
}

/* ---- connecting ---- */

static void upstream_set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static void upstream_format_peer(char *out, size_t size, const struct sockaddr_storage *ss,
                                 uint16_t port)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof(ip));
    else
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip, sizeof(ip));
    url_format_hostport(out, size, ip, port);
}

/* Closes the socket of a failed attempt, keeping the connection object. */
static void upstream_drop_fd(struct client *c)
{
    struct upconn *uc = c->ex->up.conn;
    if (!uc)
        return;
    ev_io_stop(c->srv->loop, &uc->rio);
    ev_io_stop(c->srv->loop, &uc->wio);
    sock_close(&uc->sock);
    uc->connected = uc->ready = false;
}

static void upstream_handshake(struct client *c)
{
    struct upconn *uc = c->ex->up.conn;
    uc->hs_want_read = uc->hs_want_write = false;
    switch (tls_handshake(uc->sock.tls)) {
    case TLS_OK:
        uc->ready = true;
        log_debug("#%llu %s: TLS to %s established%s", c->id, c->addr_text, uc->peer,
                  tls_conn_resumed(uc->sock.tls) ? " (resumed)" : "");
        upstream_ready(c);
        return;
    case TLS_WANT_READ:
        uc->hs_want_read = true;
        break;
    case TLS_WANT_WRITE:
        uc->hs_want_write = true;
        break;
    case TLS_EOF:
    case TLS_ERROR: {
        char reason[URL_HOST_MAX + 300];
        snprintf(reason, sizeof(reason), "TLS to %s (%s) failed: %s", uc->peer, c->ex->up.host,
                 tls_conn_error(uc->sock.tls));
        client_fail(c, 502, reason);
        return;
    }
    }
    client_update_io(c);
}

static void upstream_connected(struct client *c)
{
    struct upstream *u = &c->ex->up;
    struct upconn *uc = u->conn;
    uc->connected = true;
    log_debug("#%llu %s: connected to %s", c->id, c->addr_text, uc->peer);
    if (!u->https) {
        uc->ready = true;
        upstream_ready(c);
        return;
    }
    struct tls_ctx *ctx = u->verify ? c->srv->tls_verify : c->srv->tls_noverify;
    void **session = u->waiter.origin ? pool_origin_data(u->waiter.origin) : NULL;
    uc->sock.tls = ctx ? tls_client_new(ctx, uc->sock.fd, u->host, session ? *session : NULL)
                       : NULL;
    if (!uc->sock.tls) {
        client_fail(c, 502, ctx ? "cannot start TLS" : "no TLS context (see the error log)");
        return;
    }
    upstream_handshake(c);
}

static void upstream_connect_next(struct client *c)
{
    struct upstream *u = &c->ex->up;
    struct upconn *uc = u->conn;
    int err = ECONNREFUSED;
    c->state = CS_CONNECT;
    while (u->next_addr < u->addrs.n) {
        size_t i = u->next_addr++;
        struct sockaddr_storage *ss = &u->addrs.addr[i];
        upstream_set_port(ss, u->port);
        upstream_format_peer(uc->peer, sizeof(uc->peer), ss, u->port);
        snprintf(u->peer, sizeof(u->peer), "%s", uc->peer);
        int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        sock_init(&uc->sock, fd);
        ev_io_set(&uc->rio, fd, EV_READ);
        ev_io_set(&uc->wio, fd, EV_WRITE);
        u->timer.repeat = c->cfg->upstream.connect_timeout;
        ev_timer_again(c->srv->loop, &u->timer);
        if (connect(fd, (struct sockaddr *)ss, u->addrs.len[i]) == 0) {
            upstream_connected(c);
            return;
        }
        if (errno == EINPROGRESS) {
            client_update_io(c);
            return;
        }
        err = errno;
        log_debug("#%llu %s: connect to %s: %s", c->id, c->addr_text, uc->peer, strerror(err));
        upstream_drop_fd(c);
    }
    char reason[URL_HOST_MAX + 128];
    snprintf(reason, sizeof(reason), "cannot connect to %s: %s", u->peer[0] ? u->peer : u->host,
             strerror(err));
    client_fail(c, 502, reason);
}

/* ---- ending an exchange ---- */

/* Frees what the exchange holds, except the connection. */
static void upstream_reset(struct client *c)
{
    struct upstream *u = &c->ex->up;
    if (u->query) {
        dns_cancel(u->query);
        u->query = NULL;
    }
    pool_cancel(c->srv->pool, &u->waiter);
    u->waiter.origin = NULL; /* may be freed once nothing of ours counts in it */
    ev_timer_stop(c->srv->loop, &u->timer);
    http_reader_free(&u->reader);
    free(u->head);
    u->head = NULL;
    u->in.off = u->in.len = 0;
    u->out.off = u->out.len = 0;
    buf_free(&u->in);
    buf_free(&u->out);
}

/* Forgets the connection without closing it. */
static struct upconn *upstream_detach(struct client *c)
{
    struct upconn *uc = c->ex->up.conn;
    c->ex->up.conn = NULL;
    if (uc) {
        ev_io_stop(c->srv->loop, &uc->rio);
        ev_io_stop(c->srv->loop, &uc->wio);
        uc->owner = NULL;
    }
    return uc;
}

void upstream_close(struct client *c)
{
    if (!c->ex)
        return;
    struct upconn *uc = upstream_detach(c);
    if (uc) {
        pool_remove(c->srv->pool, &uc->pc);
        upconn_free(uc);
    }
    upstream_reset(c);
}

void upstream_done(struct client *c)
{
    struct upstream *u = &c->ex->up;
    struct upconn *uc = u->conn;
    bool reusable = uc && uc->ready && u->keep_alive && c->ex->rsp_done && c->ex->req_done &&
                    !u->eof && buf_empty(&u->out) && buf_empty(&u->in) && !c->ex->connect &&
                    !u->switching && !c->srv->draining;
    if (!reusable) {
        upstream_close(c);
        return;
    }
    uc->requests++;
    if (uc->sock.tls && u->waiter.origin) {
        struct tls_session *s = tls_session_get(uc->sock.tls);
        void **slot = pool_origin_data(u->waiter.origin);
        if (s) {
            tls_session_free(*slot);
            *slot = s;
        }
    }
    upstream_detach(c);
    upstream_reset(c);
    const struct pool_limits lim = {c->cfg->upstream.pool.max_per_origin,
                                    c->cfg->upstream.pool.max_idle_per_origin};
    if (pool_release(c->srv->pool, &uc->pc, true, &lim, ev_now(c->srv->loop))) {
        if (!uc->owner)
            ev_io_start(c->srv->loop, &uc->rio); /* idle: notice the origin closing it */
        return;
    }
    upconn_free(uc);
}

/* Replays a bodiless idempotent request on a fresh connection. */
static bool upstream_retry(struct client *c, const char *what)
{
    struct upstream *u = &c->ex->up;
    if (!u->head || u->retries_left == 0 || !u->conn || u->conn->requests == 0 ||
        c->ex->rsp_head_sent || !buf_empty(&u->in) || c->ex->connect)
        return false;
    u->retries_left--;
    log_info("#%llu %s: reused connection to %s %s; retrying %s on a new one", c->id,
             c->addr_text, u->peer, what, c->ex->url ? c->ex->url : "");
    struct upconn *uc = upstream_detach(c);
    pool_remove(c->srv->pool, &uc->pc);
    upconn_free(uc);
    u->eof = false;
    u->out.off = u->out.len = 0;
    if (buf_append(&u->out, u->head, u->head_len) < 0 || upstream_new_reader(c) < 0)
        return false;
    u->waiter.fresh = true;
    upstream_acquire(c);
    return true;
}

/* The origin is gone: a retry, an error status, or (mid-response) a close. */
static void upstream_lost(struct client *c, const char *what)
{
    if (upstream_retry(c, what))
        return;
    char reason[URL_HOST_MAX + 256];
    snprintf(reason, sizeof(reason), "upstream %s %s%s", c->ex->up.peer, what,
             c->ex->rsp_head_sent ? " mid-response" : " before responding");
    client_fail(c, 502, reason);
}

/* ---- events ---- */

static void upstream_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    struct client *c = w->data;
    struct upstream *u = &c->ex->up;
    char reason[URL_HOST_MAX + 128];
    switch (c->state) {
    case CS_QUEUED:
        if (c->ex->cx.released) {
            c->ex->cx.released = false;
            upstream_start(c);
            return;
        }
        if (u->granted) {
            u->granted = false;
            upstream_use_conn(c);
            return;
        }
        pool_cancel(c->srv->pool, &u->waiter);
        snprintf(reason, sizeof(reason), "no connection to %s free within %.3gs", u->key,
                 c->cfg->upstream.pool.queue_timeout);
        client_fail(c, 503, reason);
        return;
    case CS_CONNECT:
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
    case CS_FORWARD:
        snprintf(reason, sizeof(reason), "upstream %s sent nothing for %.3gs", u->peer,
                 c->cfg->upstream.read_timeout);
        client_fail(c, 504, reason);
        return;
    case CS_TLS:
    case CS_HEAD:
    case CS_HIT:
    case CS_RESOLVE:
    case CS_TUNNEL:
    case CS_CLOSED:
        return; /* not armed in these states */
    }
}

/* Parses buffered response bytes while the client buffer has room. */
static void upstream_feed(struct client *c)
{
    struct upstream *u = &c->ex->up;
    while (!c->ex->rsp_done && !buf_empty(&u->in) && buf_used(&c->out) < PROXY_HIGH_WATER) {
        size_t n = buf_used(&u->in);
        if (n > PROXY_FEED_MAX)
            n = PROXY_FEED_MAX;
        if (!c->ex->rsp_head_sent) {
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
        if (c->state != CS_FORWARD)
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
    if (c->ex->rsp_done && c->ex->cx.intercept) {
        upstream_done(c);
        cache_serve_stored(c);
        return;
    }
    if (c->ex->rsp_done && u->switching) {
        /* what the origin sent after its 101 belongs to the new protocol */
        if (client_out(c, buf_head(&u->in), buf_used(&u->in)) < 0) {
            client_close(c, "client buffer overflow");
            return;
        }
        u->in.off = u->in.len = 0;
        client_tunnel_start(c);
        return;
    }
    if (c->ex->rsp_done) {
        client_response_done(c);
        return;
    }
    if (u->eof && (buf_empty(&u->in) || !c->ex->rsp_head_sent)) {
        upstream_finish_eof(c); /* everything parsed, or a head that cannot complete */
        return;
    }
    client_flush(c);
}

void upstream_resume(struct client *c)
{
    if (c->state == CS_FORWARD && !buf_empty(&c->ex->up.in))
        upstream_feed(c);
}

/* The origin closed and every byte it sent was parsed. */
static void upstream_finish_eof(struct client *c)
{
    struct upstream *u = &c->ex->up;
    if (!c->ex->rsp_head_sent && !http_reader_mid_message(u->reader)) {
        upstream_lost(c, "closed the connection");
        return;
    }
    if (http_reader_eof(u->reader) != HTTP_OK || !c->ex->rsp_done) {
        upstream_lost(c, "closed the connection");
        return;
    }
    client_response_done(c);
}

/* Tunnel: origin to client. */
static void upstream_tunnel_read(struct client *c)
{
    struct upconn *uc = c->ex->up.conn;
    size_t n;
    switch (sock_read(&uc->sock, &c->out, &n)) {
    case SOCK_OK:
        c->ex->bytes_sent += n;
        ev_timer_again(c->srv->loop, &c->timer);
        break;
    case SOCK_AGAIN:
    case SOCK_FULL:
        break;
    case SOCK_EOF:
        c->ex->up.eof = true;
        if (buf_empty(&c->out)) {
            client_close(c, "origin closed the tunnel");
            return;
        }
        c->close_after_flush = true;
        break;
    case SOCK_ERROR:
        client_close(c, "origin tunnel error");
        return;
    }
    client_update_io(c);
}

void upstream_tunnel_flush(struct client *c)
{
    struct upconn *uc = c->ex->up.conn;
    size_t n;
    if (!uc || uc->sock.fd < 0)
        return;
    enum sock_io r = sock_write(&uc->sock, &c->in, &n);
    if (r == SOCK_ERROR) {
        client_close(c, "origin tunnel error");
        return;
    }
    if (n > 0)
        ev_timer_again(c->srv->loop, &c->timer);
    if (c->read_eof && buf_empty(&c->in)) {
        client_close(c, "client closed the tunnel");
        return;
    }
    client_update_io(c);
}

static void upstream_read_response(struct client *c)
{
    struct upstream *u = &c->ex->up;
    size_t n;
    switch (sock_read(&u->conn->sock, &u->in, &n)) {
    case SOCK_OK:
        ev_timer_again(c->srv->loop, &u->timer);
        break;
    case SOCK_AGAIN:
        client_update_io(c);
        return;
    case SOCK_FULL:
        upstream_feed(c); /* full: only a head over the limit can do that */
        if (c->state == CS_FORWARD && !c->ex->rsp_head_sent)
            upstream_lost(c, "sent a response head over the size limit");
        return;
    case SOCK_EOF:
        u->eof = true;
        break;
    case SOCK_ERROR:
        upstream_lost(c, sock_error(&u->conn->sock));
        return;
    }
    upstream_feed(c);
}

static void upstream_write_request(struct client *c)
{
    struct upstream *u = &c->ex->up;
    size_t n;
    enum sock_io r = sock_write(&u->conn->sock, &u->out, &n);
    if (r == SOCK_ERROR) {
        if (c->ex->rsp_head_sent || !buf_empty(&u->in)) {
            /* the origin answered early and stopped reading: keep its answer */
            u->out.off = u->out.len = 0;
            c->ex->keep_alive = false;
            client_update_io(c);
            return;
        }
        upstream_lost(c, sock_error(&u->conn->sock));
        return;
    }
    if (n > 0)
        ev_timer_again(c->srv->loop, &u->timer);
    if (!c->ex->req_done && buf_used(&u->out) < PROXY_HIGH_WATER)
        client_pump(c); /* the client may have body bytes waiting */
    else
        client_update_io(c);
}

static void upstream_readable(struct client *c)
{
    struct upconn *uc = c->ex->up.conn;
    if (!uc->ready) {
        upstream_handshake(c);
        return;
    }
    if (uc->sock.write_wants_read) {
        c->state == CS_TUNNEL ? upstream_tunnel_flush(c) : upstream_write_request(c);
        return;
    }
    if (c->state == CS_TUNNEL)
        upstream_tunnel_read(c);
    else
        upstream_read_response(c);
}

static void upstream_writable(struct client *c)
{
    struct upconn *uc = c->ex->up.conn;
    if (!uc->connected) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(uc->sock.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            log_debug("#%llu %s: connect to %s: %s", c->id, c->addr_text, uc->peer,
                      strerror(err));
            upstream_drop_fd(c);
            upstream_connect_next(c);
            return;
        }
        upstream_connected(c);
        return;
    }
    if (!uc->ready) {
        upstream_handshake(c);
        return;
    }
    if (uc->sock.read_wants_write) {
        c->state == CS_TUNNEL ? upstream_tunnel_read(c) : upstream_read_response(c);
        return;
    }
    if (c->state == CS_TUNNEL)
        upstream_tunnel_flush(c);
    else
        upstream_write_request(c);
}

void upstream_update_io(struct client *c)
{
    if (!c->ex)
        return;
    struct upconn *uc = c->ex->up.conn;
    struct ev_loop *loop = c->srv->loop;
    if (!uc || uc->sock.fd < 0)
        return;
    bool rd, wr;
    if (!uc->connected) {
        rd = false;
        wr = true;
    } else if (!uc->ready) {
        rd = uc->hs_want_read;
        wr = uc->hs_want_write;
    } else if (c->state == CS_TUNNEL) {
        rd = !c->ex->up.eof && buf_used(&c->out) < PROXY_HIGH_WATER;
        wr = !buf_empty(&c->in);
    } else if (c->state == CS_FORWARD) {
        rd = !c->ex->rsp_done && !c->ex->up.eof && buf_used(&c->out) < PROXY_HIGH_WATER;
        wr = !buf_empty(&c->ex->up.out);
    } else {
        rd = wr = false;
    }
    rd = rd || uc->sock.write_wants_read;
    wr = wr || uc->sock.read_wants_write;
    if (rd) {
        ev_io_start(loop, &uc->rio);
        if (sock_pending(&uc->sock))
            ev_feed_event(loop, &uc->rio, EV_READ);
    } else {
        ev_io_stop(loop, &uc->rio);
    }
    if (wr)
        ev_io_start(loop, &uc->wio);
    else
        ev_io_stop(loop, &uc->wio);
}
/* ---- the response ---- */

/* The response head as it goes to the client: the origin's end-to-end
   fields, one merged Via, our framing, Cache-Status and Connection. */
static int upstream_put_head(struct client *c, const struct http_msg *m, bool interim,
                             struct buf *out)
{
    const char *reason = http_str(m, m->reason);
    if (buf_printf(out, "HTTP/1.1 %d %s\r\n", m->status,
                   reason[0] ? reason : http_reason(m->status)) < 0)
        return -1;
    bool via = false;
    for (size_t i = 0; i < m->nhdrs; i++) {
        const struct http_header *h = &m->hdrs[i];
        const char *name = http_hname(m, h);
        if (strcasecmp(name, "Via") == 0) {
            via = true;
            continue;
        }
        if (h->hop && !(m->status == 101 && strcasecmp(name, "Upgrade") == 0))
            continue;
        if (c->ex->framing != HTTP_FRAME_NONE && strcasecmp(name, "Content-Length") == 0)
            continue;
        if (http_put_header(out, m, h) < 0)
            return -1;
    }
    /* one Via line: the origin's entries, then ours */
    if (buf_append_lit(out, "Via: ") < 0)
        return -1;
    for (size_t i = 0; via && i < m->nhdrs; i++) {
        const struct http_header *h = &m->hdrs[i];
        if (strcasecmp(http_hname(m, h), "Via") == 0 &&
            (buf_append(out, http_hvalue(m, h), h->value_len) < 0 || buf_append_lit(out, ", ") < 0))
            return -1;
    }
    if (buf_printf(out, "1.%u %s\r\n", m->minor, c->cfg->proxy_name) < 0)
        return -1;
    if (m->status == 101)
        return buf_append_lit(out, "Connection: Upgrade\r\n\r\n");
    if (interim)
        return buf_append_lit(out, "\r\n");
    char cs[128];
    int csn = cache_status_headers(c, cs, sizeof(cs));
    if (csn > 0 && (size_t)csn < sizeof(cs) && buf_append(out, cs, (size_t)csn) < 0)
        return -1;
    if (c->ex->framing == HTTP_FRAME_LENGTH &&
        buf_printf(out, "Content-Length: %lld\r\n", (long long)m->content_length) < 0)
        return -1;
    if (c->ex->framing == HTTP_FRAME_CHUNKED &&
        buf_append_lit(out, "Transfer-Encoding: chunked\r\n") < 0)
        return -1;
    if (!c->ex->keep_alive)
        return buf_append_lit(out, "Connection: close\r\n\r\n");
    if (c->ex->minor == 0)
        return buf_append_lit(out, "Connection: keep-alive\r\n\r\n");
    return buf_append_lit(out, "\r\n");
}

static int upstream_write_head(struct client *c, const struct http_msg *m, bool interim)
{
    if (c->phantom)
        return 0; /* a background refresh: nobody to answer */
    size_t before = buf_used(&c->out);
    if (upstream_put_head(c, m, interim, &c->out) < 0)
        return -1;
    c->ex->bytes_sent += buf_used(&c->out) - before;
    return 0;
}

static int upstream_on_head(void *arg, struct http_msg *m)
{
    struct client *c = arg;
    if (m->status == 101) {
        c->ex->keep_alive = false;
        if (!c->ex->ws_upgrade) {
            client_fail(c, 502, "upstream switched protocols, which was not asked for");
            return -1;
        }
        c->ex->status = 101;
        c->ex->framing = HTTP_FRAME_NONE;
        c->ex->up.switching = true;
        if (upstream_write_head(c, m, false) < 0) {
            client_close(c, "client buffer overflow");
            return -1;
        }
        c->ex->rsp_head_sent = true;
        return 0;
    }
    if (m->status < 200) {
        /* interim (100 Continue, 103 Early Hints): relayed to HTTP/1.1 clients */
        if (c->ex->method_id == HTTP_M_HEAD)
            http_reader_expect_no_body(c->ex->up.reader);
        c->ex->framing = HTTP_FRAME_NONE;
        if (c->ex->minor >= 1 && upstream_write_head(c, m, true) < 0) {
            client_close(c, "client buffer overflow");
            return -1;
        }
        return 0;
    }
    c->ex->status = m->status;
    c->ex->up.keep_alive = m->keep_alive;
    c->ex->framing = http_response_framing(c->ex->method_id, m->status, m->content_length, m->chunked,
                                       c->ex->minor);
    if (c->ex->framing == HTTP_FRAME_CLOSE || !c->ex->req_done || c->srv->draining)
        c->ex->keep_alive = false;
    c->ex->bytes_sent = 0; /* interim responses are not counted */
    if (cache_response_head(c, m) == 1)
        return 0; /* read and dropped; the store answers once it ended */
    if (upstream_write_head(c, m, false) < 0) {
        client_close(c, "client buffer overflow");
        return -1;
    }
    c->ex->rsp_head_sent = true;
    return 0;
}

static int upstream_on_body(void *arg, const char *p, size_t n)
{
    struct client *c = arg;
    if (c->ex->cx.intercept)
        return 0;
    if (c->phantom) {
        cache_response_body(c, p, n); /* nobody to relay to: only the store */
        return 0;
    }
    int rc = c->ex->framing == HTTP_FRAME_CHUNKED ? http_chunk_append(&c->out, p, n)
                                              : buf_append(&c->out, p, n);
    c->ex->bytes_sent += n;
    if (rc < 0) {
        client_close(c, "client buffer overflow");
        return -1;
    }
    cache_response_body(c, p, n);
    return 0;
}

static int upstream_on_done(void *arg)
{
    struct client *c = arg;
    if (c->ex->cx.intercept) {
        c->ex->rsp_done = true;
        return 0;
    }
    if (!c->ex->rsp_head_sent) {
        http_reader_next(c->ex->up.reader); /* an interim response: the final one follows */
        return 0;
    }
    if (c->ex->framing == HTTP_FRAME_CHUNKED && !c->phantom && http_chunk_append(&c->out, NULL, 0) < 0) {
        client_close(c, "client buffer overflow");
        return -1;
    }
    c->ex->rsp_done = true;
    cache_response_end(c, true);
    return 0;
}
