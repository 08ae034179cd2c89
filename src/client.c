/*
 * client.c - the client connection: its life (accept, TLS handshake,
 * close, deferred free), reading request heads and feeding them and the
 * request body to the parser with backpressure, the watcher's events,
 * timers, background refreshes and the access log.
 *
 * What a parsed request means (hooks, routing, the request head for the
 * origin) is client_request.c; what the exchange does next is exchange.c,
 * the only code that moves its steps; writing to the client is writer.c.
 */
#include "proxy.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include "access_log.h"
#include "auth.h"
#include "log.h"

static void client_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void client_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void client_handshake(struct client *c);

/* ---- life cycle ---- */

/* A connection's struct, on the server's list; fd -1 for a background fetch. */
static struct client *client_new(struct server *srv, int fd, const struct sockaddr *sa,
                                 socklen_t len)
{
    struct client *c = calloc(1, sizeof(*c));
    if (!c) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    c->srv = srv;
    c->cfg = config_ref(srv->cfg);
    c->id = ++srv->next_id;
    sock_init(&c->sock, fd);
    memcpy(&c->addr, sa, len < sizeof(c->addr) ? len : sizeof(c->addr));
    sock_unmap_v4(&c->addr.sa);
    sock_format_addr(c->addr_text, sizeof(c->addr_text), &c->addr.sa, true);
    buf_init(&c->in, c->cfg->limits.max_header_bytes + PROXY_FEED_MAX);
    buf_init(&c->out, PROXY_OUT_MAX);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ev_io_init(&c->io, client_io_cb, fd, 0);
    ev_init(&c->timer, client_timer_cb);
    c->io.data = c->timer.data = c;
    c->next = srv->clients;
    if (srv->clients)
        srv->clients->prev = c;
    srv->clients = c;
    srv->nclients++;
    exchange_begin(c, false);
    return c;
}

void client_accept(struct server *srv, int fd, const struct sockaddr *sa, socklen_t len,
                   struct tls_ctx *tls, bool admin)
{
    struct client *c = client_new(srv, fd, sa, len);
    if (!c)
        return;
    c->admin = admin;
    srv->metrics.accepted++;
    if (admin ? !config_admin_allowed(c->cfg, &c->addr.sa) : !config_acl_allows(c->cfg, sa)) {
        c->deny_status = 403;
        srv->metrics.refused_acl++;
    } else if (srv->nclients > c->cfg->limits.max_connections) {
        c->deny_status = 503;
        srv->metrics.refused_limit++;
    }
    exchange_begin(c, tls != NULL);
    if (tls)
        c->sock.tls = tls_server_new(tls, fd);
    if (tls && !c->sock.tls) {
        client_close(c, CLOSE_INTERNAL, "out of memory");
        return;
    }
    c->timer.repeat = c->cfg->limits.client_idle_timeout;
    /* a trickled handshake must not hold the slot longer than a head may */
    c->tls_head_deadline = tls != NULL;
    if (tls)
        c->timer.repeat = c->cfg->limits.client_header_timeout;
    if (c->deny_status)
        c->timer.repeat = 1.0; /* refused anyway: give the head a second */
    ev_timer_again(srv->loop, &c->timer);
    log_debug("#%llu %s: connected", c->id, c->addr_text);
    if (c->state == CS_TLS)
        client_handshake(c);
    else
        client_update_io(c);
}

void client_reset_request(struct client *c)
{
    struct exchange *ex = c->ex;
    c->head_started = false;
    c->scanned = 0;
    free(c->log_head);
    c->log_head = NULL;
    if (!ex)
        return;
    free(ex->method);
    free(ex->url);
    ex->method = ex->url = NULL;
    ex->req_done = ex->req_chunked = ex->keep_alive = false;
    ex->rsp_head_sent = ex->rsp_done = false;
    ex->status = 0;
    ex->bytes_sent = ex->bytes_received = ex->rsp_mark = 0;
    ex->connect = ex->ws_upgrade = ex->bodiless = false;
    ex->plan = PLAN_NONE;
    ex->compress_on = ex->etag_mapped = false;
    ex->coding_want = ex->decoding = CODING_IDENTITY;
    ex->coding_sent = CODING_NONE;
    free(ex->local_reason);
    ex->local_reason = NULL;
    ex->local_status = 0;
    ex->framing = HTTP_FRAME_NONE;
    ex->started = 0;
    ex->up.peer[0] = '\0';
    chain_close(&ex->fetch);
    chain_close(&ex->deliver);
    memset(&ex->wr, 0, sizeof(ex->wr));
    cache_xchg_reset(c);
    follow_free(ex);
}

/*
 * Fetches without a client (background refreshes, detached fetches) each
 * hold a max_connections slot, as long as a trickling origin lets them: an
 * eighth of the slots at most, so that one client pipelining stale hits,
 * or leaving slow fetches again and again, cannot turn every other away.
 */
bool client_phantom_room(const struct client *c)
{
    unsigned cap = c->cfg->limits.max_connections / 8;
    return c->srv->nphantom < (cap ? cap : 1);
}

/* The client left a fetch that goes on for the store (exchange_detach):
   its socket and buffers go, the exchange stays. */
void client_become_phantom(struct client *c)
{
    ev_io_stop(c->srv->loop, &c->io);
    ev_io_modify(&c->io, 0); /* client_io_cb must not go on to read */
    ev_timer_stop(c->srv->loop, &c->timer);
    sock_close(&c->sock);
    c->phantom = c->detached = true;
    c->srv->nphantom++;
    c->in.off = c->in.len = c->out.off = c->out.len = 0;
    buf_compact(&c->in, true);
    buf_compact(&c->out, true);
    chain_close(&c->ex->deliver);
    chain_init(&c->ex->deliver, &discard_sink, c, exchange_deliver_resume, c);
    memset(&c->ex->wr, 0, sizeof(c->ex->wr));
}

/* Closes now; the memory goes at the end of this loop iteration. */
void client_close(struct client *c, enum close_reason r, const char *why)
{
    static const char *const texts[CLOSE_REASONS] = {
#define X(name, label, text) text,
        CLOSE_REASON_TABLE(X)
#undef X
    };
    if (c->state == CS_CLOSED)
        return;
    struct server *srv = c->srv;
    if (!why)
        why = texts[r];
    log_debug("#%llu %s: closed: %s", c->id, c->addr_text, why);
    if (!c->phantom) /* a detached fetch was counted when its client left */
        srv->metrics.closed[r]++;
    if (c->ex && c->ex->method) {
        client_count(c);
        client_log_access(c); /* a request cut short */
    }
    if (exchange_detach(c, why))
        return;
    cache_xchg_reset(c); /* releases the requests that followed this one */
    upstream_close(c);
    ev_io_stop(srv->loop, &c->io);
    ev_timer_stop(srv->loop, &c->timer);
    sock_close(&c->sock);
    exchange_closed(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = srv->dead;
    srv->dead = c;
    if (c->phantom)
        srv->nphantom--;
    server_client_closed(srv);
}

/* What a request needs beyond the connection: 0, or -1 out of memory. */
static int client_begin(struct client *c)
{
    if (!c->reader) {
        if (!(c->reader = http_reader_new(true, &client_reader_ops, c)))
            return -1;
        http_reader_set_max_trailer(c->reader, c->cfg->limits.max_header_bytes);
    }
    if (c->ex)
        return 0;
    struct exchange *ex = calloc(1, sizeof(*ex));
    if (!ex)
        return -1;
    buf_init(&ex->up.in, c->cfg->limits.max_header_bytes + PROXY_FEED_MAX);
    buf_init(&ex->up.out, c->cfg->limits.max_header_bytes + PROXY_OUT_MAX);
    ex->cx.obj.fd = -1;
    ex->cx.rule = &config_default_rule;
    ex->coding_sent = CODING_NONE;
    ex->client = c;
    chain_init(&ex->fetch, &fetch_sink, c, upstream_resume_cb, c);
    chain_init(&ex->deliver, c->phantom ? &discard_sink : &writer_sink, c, exchange_deliver_resume,
               c);
    c->ex = ex;
    return 0;
}

/* Frees the request state; the origin side must be done with it. */
static void client_end(struct client *c)
{
    struct exchange *ex = c->ex;
    http_reader_free(&c->reader);
    free(c->log_head);
    c->log_head = NULL;
    if (!ex)
        return;
    cache_xchg_reset(c);
    follow_free(ex);
    chain_close(&ex->fetch);
    chain_close(&ex->deliver);
    upstream_close(c); /* a no-op unless an error path left it open */
    buf_free(&ex->up.in);
    buf_free(&ex->up.out);
    http_reader_free(&ex->up.reader);
    free(ex->method);
    free(ex->url);
    free(ex->local_reason);
    free(ex);
    c->ex = NULL;
}

void client_free(struct client *c)
{
    buf_free(&c->in);
    buf_free(&c->out);
    client_end(c);
    config_unref(&c->cfg);
    free(c);
}

/* ---- I/O ---- */

static bool client_wants_read(const struct client *c)
{
    if (c->read_eof || c->close_after_flush)
        return false;
    switch (c->state) {
    case CS_TLS:
        return false; /* the handshake says what it waits for */
    case CS_RECEIVE:
        return buf_used(&c->out) < PROXY_HIGH_WATER;
    case CS_FETCH:
    case CS_DELIVER:
        /* after the request, keep the watcher armed (re-arming it costs two
           epoll_ctl per request); pipelined bytes wait in c->in */
        if (c->ex->req_done)
            return buf_used(&c->in) < PROXY_FEED_MAX;
        return buf_used(&c->ex->up.out) < PROXY_HIGH_WATER && buf_used(&c->in) < PROXY_FEED_MAX;
    case CS_TUNNEL:
        return tunnel_client_wants_read(c);
    case CS_CLOSED:
        return false;
    }
    return false;
}

void client_update_io(struct client *c)
{
    struct ev_loop *loop = c->srv->loop;
    if (c->state == CS_CLOSED)
        return;
    if (c->phantom) {
        upstream_update_io(c); /* no client socket: only the origin side moves */
        return;
    }
    bool hs = c->state == CS_TLS;
    bool rd = client_wants_read(c);
    bool hit = writer_pending(c);
    int events = 0;
    if (rd || c->sock.write_wants_read || (hs && c->tls_want_read))
        events |= EV_READ;
    if (!buf_empty(&c->out) || hit || c->sock.read_wants_write || (hs && c->tls_want_write))
        events |= EV_WRITE;
    if (!ev_is_active(&c->io) || (c->io.events & (EV_READ | EV_WRITE)) != events) {
        ev_io_stop(loop, &c->io);
        ev_io_modify(&c->io, events);
        if (events)
            ev_io_start(loop, &c->io);
    }
    if (rd && sock_pending(&c->sock))
        ev_feed_event(loop, &c->io, EV_READ);
    upstream_update_io(c);
}

/*
 * stale-while-revalidate: the stale response was served; this refreshes it
 * in the background, as a connection of its own with no client socket that
 * replays the request head (without conditionals: it fetches for the cache).
 */
struct client *client_spawn_refresh(struct client *c, const struct http_msg *m)
{
    if (!client_phantom_room(c)) {
        log_debug("#%llu: not refreshing %s: %u fetches without a client run", c->id,
                  c->ex->url ? c->ex->url : "-", c->srv->nphantom);
        return NULL;
    }
    struct client *p = client_new(c->srv, -1, (const struct sockaddr *)&c->addr, sizeof(c->addr));
    if (!p)
        return NULL;
    p->phantom = true;
    c->srv->nphantom++;
    if (client_begin(p) < 0) {
        client_close(p, CLOSE_INTERNAL, "out of memory");
        return NULL;
    }
    /* a bodiless GET of its own: no conditionals, no framing or Expect of
       the triggering request, no hop-by-hop fields, and that client's
       credentials only where the stored response was keyed or allowed for
       them */
    static const char *const skip[] = {"If-None-Match",  "If-Modified-Since", "If-Range",
                                       "Range",          "Cache-Control",     "Pragma",
                                       "Content-Length", "Transfer-Encoding", "Expect"};
    bool auth = cache_refresh_sends(c, "Authorization"), cookie = cache_refresh_sends(c, "Cookie");
    int rc = buf_printf(&p->in, "GET %s HTTP/1.1\r\n", http_str(m, m->target));
    for (size_t i = 0; i < m->nhdrs && rc == 0; i++) {
        const char *name = http_hname(m, &m->hdrs[i]);
        bool drop = m->hdrs[i].hop;
        for (size_t k = 0; k < sizeof(skip) / sizeof(skip[0]); k++)
            drop = drop || strcasecmp(name, skip[k]) == 0;
        drop = drop || (!auth && strcasecmp(name, "Authorization") == 0) ||
               (!cookie && strcasecmp(name, "Cookie") == 0);
        if (!drop)
            rc = http_put_header(&p->in, m, &m->hdrs[i]);
    }
    if (rc < 0 || buf_append(&p->in, "\r\n", 2) < 0) {
        client_close(p, CLOSE_INTERNAL, "refresh request too large");
        return NULL;
    }
    log_debug("#%llu: refreshing %s in the background for #%llu", p->id, c->ex->url, c->id);
    ev_timer_set(&p->timer, 0., 0.); /* starts from the loop: client_timer_cb */
    ev_timer_start(c->srv->loop, &p->timer);
    return p;
}

static void client_handshake(struct client *c)
{
    c->tls_want_read = c->tls_want_write = false;
    switch (tls_handshake(c->sock.tls)) {
    case TLS_OK:
        c->srv->metrics.tls_done[METRICS_CLIENT]++;
        exchange_handshake_done(c);
        break;
    case TLS_WANT_READ:
        c->tls_want_read = true;
        break;
    case TLS_WANT_WRITE:
        c->tls_want_write = true;
        break;
    case TLS_EOF:
    case TLS_ERROR:
        log_info("#%llu %s: TLS handshake failed: %s", c->id, c->addr_text,
                 tls_conn_error(c->sock.tls));
        c->srv->metrics.tls_failed[METRICS_CLIENT]++;
        client_close(c, CLOSE_TLS_FAILED, NULL);
        return;
    }
    client_update_io(c);
}

static void client_on_eof(struct client *c)
{
    c->read_eof = true;
    if (c->state == CS_TUNNEL) {
        tunnel_client_eof(c);
        return;
    }
    if (c->state == CS_RECEIVE && buf_empty(&c->in)) {
        client_close(c, CLOSE_CLIENT_CLOSED, NULL);
        return;
    }
    if (c->state != CS_RECEIVE && c->ex->req_done) {
        /* a half-close after a complete request: finish the response */
        client_update_io(c);
        return;
    }
    client_close(c, CLOSE_CLIENT_ABORTED, NULL);
}

static void client_do_read(struct client *c)
{
    size_t n;
    switch (sock_read(&c->sock, &c->in, &n)) {
    case SOCK_OK:
    case SOCK_FULL:
        break;
    case SOCK_AGAIN:
        client_update_io(c);
        return;
    case SOCK_EOF:
        client_on_eof(c);
        return;
    case SOCK_ERROR:
        client_close(c, CLOSE_READ_ERROR, sock_error(&c->sock));
        return;
    }
    if (c->state != CS_RECEIVE)
        ev_timer_again(c->srv->loop, &c->timer);
    if (c->state == CS_TUNNEL) {
        tunnel_client_read(c, n);
        return;
    }
    client_process(c);
}

/* One watcher for both directions: its events follow client_update_io(). */
static void client_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    struct client *c = w->data;
    if (c->state == CS_TLS) {
        client_handshake(c);
        return;
    }
    if (revents & EV_WRITE) {
        if (c->sock.read_wants_write)
            client_do_read(c);
        else
            writer_write(c);
        if (c->state == CS_CLOSED || !(c->io.events & EV_READ))
            return; /* reading waits for room now */
    }
    if (revents & EV_READ) {
        if (c->sock.write_wants_read)
            writer_write(c);
        else
            client_do_read(c);
    }
}

/*
 * Whether magpie waits on the origin (or the fetch followed) rather than
 * on this client: the origin's timers rule then. Not while the client
 * leaves output unread, nor while magpie wants request body it does not
 * send (unless magpie stopped reading it: up.out is full).
 */
static bool client_waits_on_origin(const struct client *c)
{
    if (!c->ex || !buf_empty(&c->out) || writer_pending(c))
        return false;
    switch (c->state) {
    case CS_FETCH:
        return c->ex->req_done || buf_used(&c->ex->up.out) >= PROXY_HIGH_WATER;
    case CS_DELIVER:
        return c->ex->cx.role == ROLE_FOLLOWER; /* nothing new from the fetch yet */
    case CS_TLS:
    case CS_RECEIVE:
    case CS_TUNNEL:
    case CS_CLOSED:
        return false;
    }
    return false;
}

/* limits.client_idle_timeout passed with no progress by the client. */
static void client_stalled(struct client *c)
{
    double t = c->cfg->limits.client_idle_timeout;
    if (c->ex && !c->ex->req_done && !c->ex->rsp_head_sent && buf_empty(&c->out)) {
        /* its body stopped: an origin slot must not wait on it */
        log_info("#%llu %s: client stalled: no request body for %.3gs", c->id, c->addr_text, t);
        exchange_fail(c, 408, "request body timed out");
        return;
    }
    log_info("#%llu %s: client stalled: %s for %.3gs", c->id, c->addr_text,
             c->ex && !c->ex->req_done ? "no request body" : "nothing read", t);
    client_close(c, CLOSE_CLIENT_STALLED, NULL);
}

static void client_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct client *c = w->data;
    if (c->phantom && c->state == CS_RECEIVE && !c->head_started) {
        client_process(c); /* a background refresh starts */
        return;
    }
    if (client_waits_on_origin(c)) {
        ev_timer_again(loop, w);
        return;
    }
    if (c->state == CS_RECEIVE && c->head_started && !c->ex->rsp_head_sent && buf_empty(&c->out)) {
        log_info("#%llu %s: request head not received within %.3gs", c->id, c->addr_text,
                 c->cfg->limits.client_header_timeout);
        exchange_fail(c, 408, "request head timed out");
        return;
    }
    if (c->tls_head_deadline) {
        log_info("#%llu %s: TLS handshake and request head not done within %.3gs", c->id,
                 c->addr_text, c->cfg->limits.client_header_timeout);
        if (c->state == CS_TLS)
            c->srv->metrics.tls_failed[METRICS_CLIENT]++;
        client_close(c, CLOSE_TLS_FAILED, "TLS handshake or first head timed out");
        return;
    }
    if (c->state == CS_RECEIVE || c->state == CS_TUNNEL || c->state == CS_TLS) {
        client_close(c, c->state == CS_RECEIVE ? CLOSE_IDLE_TIMEOUT : CLOSE_CLIENT_STALLED, NULL);
        return;
    }
    client_stalled(c);
}

/* ---- locally made responses ---- */

void client_count(struct client *c)
{
    const struct exchange *ex = c->ex;
    if (!ex || c->detached || c->admin || c->phantom)
        return; /* a detached fetch's request was counted when its client left */
    ev_tstamp now = ev_now(c->srv->loop);
    metrics_exchange(&c->srv->metrics, ex, ex->started > 0 ? now - ex->started : 0);
}

void client_log_access(struct client *c)
{
    const struct exchange *ex = c->ex;
    if (!log_access_enabled() || !ex || c->detached)
        return; /* a detached fetch's request was logged when its client left */
    static char line[ACCESS_LINE_MAX]; /* one loop: one line at a time */
    ev_tstamp now = ev_now(c->srv->loop);
    enum cfg_access_log_format f = c->cfg->access_log_format;
    unsigned hops = follow_hops(ex);
    bool coded = ex->coding_sent != CODING_NONE && http_status_has_body(ex->method_id, ex->status);
    struct access_entry e = {
        .client = c->addr_text,
        .user = auth_user(c),
        .method = ex->method,
        .url = ex->url,
        .minor = ex->minor,
        .head = c->log_head,
        .status = ex->status,
        .sent = ex->bytes_sent,
        .received = ex->bytes_received,
        .ms = ex->started > 0 ? (long)((now - ex->started) * 1000.0 + 0.5) : 0,
        .cache = cache_result_name(ex->cx.result),
        .upstream = ex->up.peer[0] ? ex->up.peer : NULL,
        .coding = coded ? coding_name(ex->coding_sent) : NULL,
        .hops = hops,
        .followed_url = hops ? follow_final_url(ex) : NULL,
    };
    if (f == CFG_ACCESS_LOG_DEFAULT) {
        log_access(line, access_format(f, &e, line)); /* log_access puts the time first */
        return;
    }
    gettimeofday(&e.when, NULL);
    size_t n = access_format(f, &e, line);
    line[n++] = '\n';
    log_access_line(line, n);
}

/* An exchange ended (exchange_done): flush, then the next request or rest. */
void client_next_request(struct client *c)
{
    c->timer.repeat = c->cfg->limits.client_idle_timeout;
    ev_timer_again(c->srv->loop, &c->timer);
    if (c->close_after_flush) {
        c->in.off = c->in.len = 0; /* anything pipelined is dropped with the connection */
        if (buf_empty(&c->out)) {
            /* a phantom has no client to have closed: its fetch ended */
            client_close(c, c->close_why, c->phantom ? "done (a fetch without its client)" : NULL);
            return;
        }
    }
    if (!buf_empty(&c->out)) {
        client_flush(c); /* once written, a pipelined request goes on */
        return;
    }
    if (!buf_empty(&c->in)) {
        client_process(c);
        return;
    }
    client_rest(c);
    client_update_io(c);
}

/* Between requests a keep-alive connection holds no buffers. */
void client_rest(struct client *c)
{
    if (c->state != CS_RECEIVE || c->head_started || !buf_empty(&c->in) || !buf_empty(&c->out))
        return;
    buf_compact(&c->in, true);
    buf_compact(&c->out, true);
    client_end(c);
}

void client_drain_idle(struct client *c)
{
    if (c->ex)
        c->ex->keep_alive = false;
    if (c->state != CS_RECEIVE || c->head_started)
        return; /* finishes its request, then closes */
    if (buf_empty(&c->out)) {
        client_close(c, CLOSE_SHUTDOWN, NULL);
    } else {
        c->close_after_flush = true;
        c->close_why = CLOSE_SHUTDOWN;
    }
}

/* ---- request heads ---- */

static void client_head_error(struct client *c, enum http_scan r)
{
    switch (r) {
    case HTTP_SCAN_TOO_LARGE:
        exchange_fail(c, 431, "request header fields too large");
        return;
    case HTTP_SCAN_URI_LONG:
        exchange_fail(c, 414, "request target too long");
        return;
    case HTTP_SCAN_BAD:
        exchange_fail(c, 400, "malformed request head (bare CR or LF, or folded header line)");
        return;
    case HTTP_SCAN_MORE:
    case HTTP_SCAN_DONE:
        return;
    }
}

static void client_parse_error(struct client *c, enum http_error err)
{
    const char *detail = http_reader_strerror(c->reader);
    char reason[256];
    switch (err) {
    case HTTP_ERR_FRAMING:
        snprintf(reason, sizeof(reason), "ambiguous or invalid message framing (%s)", detail);
        exchange_fail(c, 400, reason);
        return;
    case HTTP_ERR_TOO_MANY_HEADERS:
        exchange_fail(c, 431, "too many header fields");
        return;
    case HTTP_ERR_TRAILER_TOO_LARGE:
        exchange_fail(c, 431, "request trailer section too large");
        return;
    case HTTP_ERR_ABORTED:
        return; /* the callback already answered */
    case HTTP_ERR_SYNTAX:
    case HTTP_ERR_EOF:
    case HTTP_OK:
        snprintf(reason, sizeof(reason), "malformed request (%s)", detail);
        exchange_fail(c, 400, reason);
        return;
    }
}

/* Feeds request bytes to the parser while the upstream buffer has room. */
static void client_feed(struct client *c)
{
    while (c->state != CS_CLOSED && !c->ex->req_done && !buf_empty(&c->in) &&
           buf_used(&c->ex->up.out) < PROXY_HIGH_WATER) {
        size_t n = buf_used(&c->in);
        if (n > PROXY_FEED_MAX)
            n = PROXY_FEED_MAX;
        enum http_error err;
        size_t used = http_reader_feed(c->reader, buf_head(&c->in), n, &err);
        if (c->state == CS_CLOSED)
            return;
        if (err != HTTP_OK) {
            c->ex->keep_alive = false;
            client_parse_error(c, err);
            return;
        }
        buf_consume(&c->in, used);
        if (used == 0)
            break;
        if (exchange_forwarding(c))
            ev_timer_again(c->srv->loop, &c->ex->up.timer); /* the origin waits on the client */
    }
}

/* The request line, strictly (RFC 9112 §3): http-parser lets tabs, runs of
   spaces and any HTTP/1.x through. -1 after answering. */
static int client_check_line(struct client *c, size_t head_len)
{
    const char *why = NULL;
    switch (http_request_line_check(buf_head(&c->in), head_len, &why)) {
    case HTTP_LINE_OK:
        return 0;
    case HTTP_LINE_BAD:
        exchange_fail(c, 400, why);
        return -1;
    case HTTP_LINE_VERSION:
        exchange_fail(c, 505, why);
        return -1;
    }
    return 0;
}

void client_process(struct client *c)
{
    if (c->state == CS_RECEIVE) {
        if (buf_empty(&c->in))
            return;
        if (!c->head_started) {
            if (client_begin(c) < 0) {
                client_close(c, CLOSE_INTERNAL, "out of memory");
                return;
            }
            c->head_started = true;
            c->ex->started = ev_now(c->srv->loop);
            c->timer.repeat = c->cfg->limits.client_header_timeout;
            if (!c->deny_status && !c->tls_head_deadline)
                ev_timer_again(c->srv->loop, &c->timer);
        }
        size_t head_len;
        enum http_scan r =
            http_head_scan(buf_head(&c->in), buf_used(&c->in), c->cfg->limits.max_header_bytes,
                           c->cfg->limits.max_uri_bytes + 32, &c->scanned, &head_len);
        if (r == HTTP_SCAN_MORE) {
            client_update_io(c);
            return;
        }
        if (r != HTTP_SCAN_DONE) {
            client_head_error(c, r);
            return;
        }
        c->tls_head_deadline = false;
        c->timer.repeat = c->cfg->limits.client_idle_timeout;
        ev_timer_again(c->srv->loop, &c->timer);
        if (client_check_line(c, head_len) < 0)
            return;
        enum http_error err;
        c->ex->in_head = true;
        size_t used = http_reader_feed(c->reader, buf_head(&c->in), head_len, &err);
        c->ex->in_head = false;
        if (c->state == CS_CLOSED)
            return;
        bool held = c->ex->local_status != 0; /* an answer waited for the parser */
        if (!held && err != HTTP_OK) {
            client_parse_error(c, err);
            return;
        }
        if (!held)
            buf_consume(&c->in, used);
        if (exchange_received(c, head_len) < 0)
            return;
    }
    client_feed(c);
    if (c->state == CS_FETCH && c->ex->body_first) {
        exchange_body_read(c);
        if (c->state != CS_FETCH)
            return;
        if (!c->ex->body_first)
            client_feed(c);
    }
    if (c->state != CS_CLOSED)
        client_update_io(c);
}
