/*
 * upstream.c - the origin half of a proxied exchange: a connection from the
 * pool or a new one (name resolution, non-blocking connect trying each
 * address, TLS handshake for https), sending the request the client half
 * buffered in c->ex->up.out, the origin's timers and socket events. A
 * finished exchange gives its connection back to the pool when the origin
 * allows; a request that fails on a reused connection before any response
 * byte is replayed on a fresh one if it is idempotent and has no body.
 *
 * struct upconn (one origin connection) lives here too: while idle it
 * belongs to the pool and only watches for the origin closing it.
 *
 * Reading what the origin sends is upstream_relay.c, tunnel bytes
 * tunnel.c. How far a fetch has got is its own phase (enum up_phase); the
 * exchange's step is exchange.c's.
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
#include <unistd.h>

#include "dest.h"
#include "log.h"
#include "tls.h"

static void upstream_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void upstream_connect_next(struct client *c);
static void upstream_readable(struct client *c);
static void upstream_writable(struct client *c);
static void upstream_acquire(struct client *c);
static void upstream_write_request(struct client *c);
static void upstream_set_port(struct sockaddr_storage *ss, uint16_t port);
static void upstream_close_conn(struct client *c);

static struct client *upstream_client(struct pool_waiter *w)
{
    return ((struct exchange *)((char *)w - offsetof(struct exchange, up.waiter)))->client;
}

/*
 * Forward mode only: refuses a destination dest.h forbids with a 403 naming
 * why. True when refused (the exchange is answered).
 */
static bool upstream_dest_refused(struct client *c, const struct sockaddr_storage *ss)
{
    if (!c->ex->up.forward)
        return false;
    const char *why = dest_refusal(c->cfg, (const struct sockaddr *)ss);
    if (!why)
        return false;
    char reason[INET6_ADDRSTRLEN + 96];
    dest_format_refusal(reason, sizeof(reason), (const struct sockaddr *)ss, why);
    exchange_fail(c, 403, reason); /* which logs it */
    return true;
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

/*
 * Whether a connection about to carry a new request holds nothing unread:
 * bytes an origin sent after its last response, or its close, must never
 * be parsed as the next response (RFC 9112 §6.3). TLS: records OpenSSL
 * holds count; a readable fd counts only if a read yields data or EOF (a
 * late TLS 1.3 session ticket is no data).
 */
static bool upconn_clean(struct upconn *uc)
{
    if (uc->sock.tls && tls_unread(uc->sock.tls))
        return false;
    char b;
    ssize_t n = recv(uc->sock.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return true;
    if (n != 1 || !uc->sock.tls)
        return false;
    struct buf scratch;
    buf_init(&scratch, 512);
    size_t got;
    enum sock_io r = sock_read(&uc->sock, &scratch, &got);
    buf_free(&scratch);
    return r == SOCK_AGAIN && !uc->sock.read_wants_write && !tls_unread(uc->sock.tls);
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

/* The pool key, made when needed rather than kept: the exchange stays
   small (it is allocated per request). */
static void upstream_key(const struct upstream *u, char *out, size_t size)
{
    char hp[URL_HOST_MAX + 8];
    url_format_hostport(hp, sizeof(hp), u->host, u->port);
    snprintf(out, size, "%s://%s%s", u->https ? "https" : "http", hp,
             u->https && !u->verify ? " noverify" : "");
}

static bool upstream_replayable(const struct client *c)
{
    switch (c->ex->method_id) {
    case HTTP_M_GET:
    case HTTP_M_HEAD:
    case HTTP_M_PUT:
    case HTTP_M_DELETE:
    case HTTP_M_OPTIONS:
    case HTTP_M_TRACE:
        break;
    case HTTP_M_OTHER:
    case HTTP_M_POST:
    case HTTP_M_CONNECT:
    case HTTP_M_PURGE:
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
    http_reader_set_max_trailer(u->reader, c->cfg->limits.max_header_bytes);
    if (c->ex->method_id == HTTP_M_HEAD)
        http_reader_expect_no_body(u->reader);
    return 0;
}

void upstream_start(struct client *c)
{
    struct upstream *u = &c->ex->up;
    if (upstream_new_reader(c) < 0) {
        exchange_fail(c, 500, "out of memory");
        return;
    }
    ev_init(&u->timer, upstream_timer_cb);
    u->timer.data = c;
    u->eof = u->granted = u->switching = u->keep_alive = u->req_cut = false;
    u->head_scanned = 0;
    u->waiter.fresh = false;
    u->peer[0] = '\0';
    u->retries_left = c->cfg->upstream.retries;
    free(u->head);
    u->head = NULL;
    free(u->addrs);
    u->addrs = NULL;
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
        exchange_fail(c, st == DNS_TIMEOUT ? 504 : 502, reason);
        return;
    }
    if (addrs != u->addrs)
        *u->addrs = *addrs;
    u->next_addr = 0;
    /* a name with any refused address is refused whole, before any connect:
       no partial trust in answers that point somewhere forbidden */
    for (size_t i = 0; i < u->addrs->n; i++) {
        upstream_set_port(&u->addrs->addr[i], u->port);
        if (upstream_dest_refused(c, &u->addrs->addr[i]))
            return;
    }
    upstream_connect_next(c);
}

static void upstream_resolve(struct client *c)
{
    struct upstream *u = &c->ex->up;
    enum dns_status st = DNS_OK;
    /* only new connections need addresses: the exchange carries them only then */
    if (!u->addrs && !(u->addrs = malloc(sizeof(*u->addrs)))) {
        exchange_fail(c, 500, "out of memory");
        return;
    }
    u->addrs->n = 0;
    u->phase = UP_RESOLVE;
    u->query = dns_resolve(c->srv->dns, u->host, u->addrs, &st, upstream_dns_cb, c);
    if (!u->query)
        upstream_dns_cb(c, u->addrs->n ? DNS_OK : st, u->addrs);
}

void upstream_start_later(struct client *c)
{
    c->ex->up.phase = UP_QUEUED;
    c->ex->up.later = true;
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
    struct metrics *mt = &c->srv->metrics;
    snprintf(u->peer, sizeof(u->peer), "%s", u->conn->peer);
    if (u->conn->connect_at > 0) {
        metrics_observe(&mt->connect, ev_time() - u->conn->connect_at);
        u->conn->connect_at = 0;
    }
    if (c->ex->connect) {
        ev_timer_stop(c->srv->loop, &u->timer);
        exchange_tunnel(c);
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
    u->conn->requests > 0 ? mt->upstream_reused++ : mt->upstream_new++;
    u->conn->sent_at = ev_time();
    u->phase = UP_FORWARD;
    u->timer.repeat = c->cfg->upstream.read_timeout;
    ev_timer_again(c->srv->loop, &u->timer);
    upstream_write_request(c); /* a ready connection takes it now: no loop pass */
}

/*
 * May a pooled connection carry the next request? One taken from the idle
 * list was watched: the peek is needed only when its watcher has an event
 * not yet handled (the cheap path). One handed straight over from a
 * finished exchange was never watched: always peek. TLS data OpenSSL
 * already holds is checked either way (no fd event announces it).
 */
static bool upstream_reuse_ok(struct client *c)
{
    struct upconn *uc = c->ex->up.conn;
    bool watched = ev_is_active(&uc->rio) && !ev_is_pending(&uc->rio);
    bool clean = watched ? !(uc->sock.tls && tls_unread(uc->sock.tls)) : upconn_clean(uc);
    if (!clean)
        log_info("#%llu %s: pooled connection to %s has unread bytes or was closed; not reused",
                 c->id, c->addr_text, uc->peer);
    return clean;
}

/* Goes on with a connection the pool granted or handed back. */
static void upstream_use_conn(struct client *c)
{
    struct upstream *u = &c->ex->up;
    if (!u->conn) {
        exchange_fail(c, 500, "out of memory");
        return;
    }
    u->conn->owner = c;
    if (u->conn->ready && u->forward && u->conn->dest_gen != c->cfg->gen) {
        /* pooled by a route, or checked under a config a reload replaced */
        if (dest_refusal(c->cfg, (struct sockaddr *)&u->conn->addr)) {
            struct sockaddr_storage ss = u->conn->addr;
            upstream_close_conn(c);
            upstream_dest_refused(c, &ss);
            return;
        }
        u->conn->dest_gen = c->cfg->gen;
    }
    if (u->conn->ready) {
        if (!upstream_reuse_ok(c)) {
            upstream_close_conn(c);
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
    char key[UPSTREAM_KEY_MAX];
    upstream_key(u, key, sizeof(key));
    switch (pool_acquire(srv->pool, key, &lim, &u->waiter, &pc)) {
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
        u->phase = UP_QUEUED;
        u->timer.repeat = c->cfg->upstream.pool.queue_timeout;
        ev_timer_again(srv->loop, &u->timer);
        client_update_io(c);
        return;
    case POOL_NOMEM:
        exchange_fail(c, 500, "out of memory");
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
        c->srv->metrics.tls_done[METRICS_ORIGIN]++;
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
        c->srv->metrics.tls_failed[METRICS_ORIGIN]++;
        snprintf(reason, sizeof(reason), "TLS to %s (%s) failed: %s", uc->peer, c->ex->up.host,
                 tls_conn_error(uc->sock.tls));
        exchange_fail(c, 502, reason);
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
        c->srv->metrics.tls_failed[METRICS_ORIGIN]++;
        exchange_fail(c, 502, ctx ? "cannot start TLS" : "no TLS context (see the error log)");
        return;
    }
    upstream_handshake(c);
}

static void upstream_connect_next(struct client *c)
{
    struct upstream *u = &c->ex->up;
    struct upconn *uc = u->conn;
    int err = ECONNREFUSED;
    u->phase = UP_CONNECT;
    while (u->addrs && u->next_addr < u->addrs->n) {
        size_t i = u->next_addr++;
        struct sockaddr_storage *ss = &u->addrs->addr[i];
        upstream_set_port(ss, u->port);
        sock_format_addr(uc->peer, sizeof(uc->peer), (const struct sockaddr *)ss, true);
        snprintf(u->peer, sizeof(u->peer), "%s", uc->peer);
        if (upstream_dest_refused(c, ss)) /* the exact address connected to */
            return;
        uc->addr = *ss;
        uc->dest_gen = u->forward ? c->cfg->gen : 0;
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
        uc->connect_at = ev_time();
        if (connect(fd, (struct sockaddr *)ss, u->addrs->len[i]) == 0) {
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
    exchange_fail(c, 502, reason);
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
    u->phase = UP_IDLE;
    ev_timer_stop(c->srv->loop, &u->timer);
    http_reader_free(&u->reader);
    free(u->head);
    u->head = NULL;
    free(u->addrs);
    u->addrs = NULL;
    u->in.off = u->in.len = 0;
    u->head_scanned = 0;
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

/* Closes the exchange's connection (dead, dirty or refused); the exchange stays. */
static void upstream_close_conn(struct client *c)
{
    struct upconn *uc = upstream_detach(c);
    if (uc) {
        pool_remove(c->srv->pool, &uc->pc);
        upconn_free(uc);
    }
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
                    !u->switching && !u->req_cut && !c->srv->draining;
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
void upstream_lost(struct client *c, const char *what)
{
    if (upstream_retry(c, what))
        return;
    char reason[URL_HOST_MAX + 256];
    int n = snprintf(reason, sizeof(reason), "upstream %s %s%s", c->ex->up.peer, what,
                     c->ex->rsp_head_sent ? " mid-response" : " before responding");
    if (follow_hops(c->ex) && n > 0 && (size_t)n < sizeof(reason))
        snprintf(reason + n, sizeof(reason) - (size_t)n, " (redirect %u of the chain)",
                 follow_hops(c->ex));
    exchange_fail(c, 502, reason);
}

/* ---- events ---- */

static void upstream_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    struct client *c = w->data;
    struct upstream *u = &c->ex->up;
    char reason[URL_HOST_MAX + 128], key[UPSTREAM_KEY_MAX];
    if (c->state != CS_FETCH)
        return; /* not armed in other steps */
    switch (u->phase) {
    case UP_QUEUED:
        if (u->later) {
            u->later = false;
            upstream_start(c);
            return;
        }
        if (u->granted) {
            u->granted = false;
            upstream_use_conn(c);
            return;
        }
        pool_cancel(c->srv->pool, &u->waiter);
        upstream_key(u, key, sizeof(key));
        snprintf(reason, sizeof(reason), "no connection to %s free within %.3gs", key,
                 c->cfg->upstream.pool.queue_timeout);
        exchange_fail(c, 503, reason);
        return;
    case UP_CONNECT:
        log_debug("#%llu %s: connect to %s timed out", c->id, c->addr_text, u->peer);
        upstream_drop_fd(c);
        if (u->addrs && u->next_addr < u->addrs->n) {
            upstream_connect_next(c);
            return;
        }
        snprintf(reason, sizeof(reason), "connect to %s timed out after %.3gs", u->peer,
                 c->cfg->upstream.connect_timeout);
        exchange_fail(c, 504, reason);
        return;
    case UP_FORWARD:
        snprintf(reason, sizeof(reason), "upstream %s sent nothing for %.3gs", u->peer,
                 c->cfg->upstream.read_timeout);
        exchange_fail(c, 504, reason);
        return;
    case UP_IDLE:
    case UP_RESOLVE:
        return; /* not armed in these phases */
    }
}


/*
 * read_timeout runs only while magpie waits on the origin: to take the
 * request (wr), or to send the response once the request is sent or the
 * response has begun. It pauses while magpie holds the origin back itself
 * (the client buffer is full: the client's timer rules, client_timer_cb)
 * and while the origin waits for request body the client has not sent;
 * it starts afresh when reading resumes.
 */
static void upstream_pace_timer(struct client *c, bool held, bool rd, bool wr)
{
    const struct exchange *ex = c->ex;
    ev_timer *t = &c->ex->up.timer;
    bool waits = !held && (wr || (rd && (ex->req_done || ex->rsp_head_sent ||
                                         !buf_empty(&ex->up.in))));
    if (waits && !ev_is_active(t))
        ev_timer_again(c->srv->loop, t);
    else if (!waits && ev_is_active(t))
        ev_timer_stop(c->srv->loop, t);
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
            u->req_cut = true;
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
        client_process(c); /* the client may have body bytes waiting */
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
        c->state == CS_TUNNEL ? tunnel_to_origin(c) : upstream_write_request(c);
        return;
    }
    if (c->state == CS_TUNNEL)
        tunnel_from_origin(c);
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
        c->state == CS_TUNNEL ? tunnel_from_origin(c) : upstream_read_response(c);
        return;
    }
    if (c->state == CS_TUNNEL)
        tunnel_to_origin(c);
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
        tunnel_origin_wants(c, &rd, &wr);
    } else if (exchange_forwarding(c)) {
        /* the fetch chain says when the origin is held back */
        bool held = !chain_room(&c->ex->fetch);
        rd = !c->ex->rsp_done && !c->ex->up.eof && !held;
        wr = !buf_empty(&c->ex->up.out);
        upstream_pace_timer(c, held, rd, wr);
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
