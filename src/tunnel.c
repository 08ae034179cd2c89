/*
 * tunnel.c - CONNECT and WebSocket (after a 101) tunnels: once open, bytes
 * are relayed both ways as they come, each direction paced by the buffer
 * it fills (c->in towards the origin, c->out towards the client), and a
 * half-close on either side is passed on (RFC 9110 §9.3.6) until both
 * sides have closed or client_idle_timeout passes in silence.
 *
 * The client's socket is read by client.c and written by the client
 * writer; the origin connection's socket is upstream.c's. This file says
 * what a tunnel does with their events.
 */
#include "proxy.h"

#include <sys/socket.h>

#include "log.h"
#include "respond.h"

void tunnel_open(struct client *c)
{
    struct exchange *ex = c->ex;
    static const struct answer established = {
        .status = 200, .phrase = "Connection established", .reason = "tunnel", .tunnel = true};
    if (ex->connect && respond_local(c, &established) < 0) {
        client_close(c, CLOSE_OVERFLOW, "client buffer overflow");
        return;
    }
    log_debug("#%llu %s: tunnel to %s open", c->id, c->addr_text, ex->up.peer);
    ex->keep_alive = false;
    ev_timer_stop(c->srv->loop, &ex->up.timer);
    c->timer.repeat = c->cfg->limits.client_idle_timeout;
    ev_timer_again(c->srv->loop, &c->timer);
    if (!buf_empty(&c->in)) {
        tunnel_to_origin(c); /* bytes the client sent ahead of the answer */
        return;
    }
    client_update_io(c);
}

/*
 * The origin half-closed the tunnel and all it sent reached the client:
 * pass the half-close on and keep relaying the client's bytes up until it
 * closes too. A TLS client connection has no half-close here: it closes,
 * as does a tunnel whose client already finished.
 */
void tunnel_origin_done(struct client *c)
{
    if (c->read_eof || c->sock.tls || shutdown(c->sock.fd, SHUT_WR) < 0) {
        client_close(c, CLOSE_TUNNEL_END, "origin closed the tunnel");
        return;
    }
    client_update_io(c);
}

/*
 * The client half-closed the tunnel and all it sent reached the origin:
 * pass the half-close on (shutdown of the write side) and keep relaying
 * what the origin sends until it closes too. A TLS origin connection (a
 * WebSocket to https) has no half-close here, and a tunnel the origin
 * already ended closes once the client has its bytes. -1 when the tunnel
 * was closed.
 */
static int tunnel_client_done(struct client *c)
{
    struct upconn *uc = c->ex->up.conn;
    if (c->ex->up.eof) {
        if (!buf_empty(&c->out)) {
            c->close_after_flush = true;
            c->close_why = CLOSE_TUNNEL_END;
            return 0;
        }
        client_close(c, CLOSE_TUNNEL_END, "tunnel closed by both sides");
        return -1;
    }
    if (uc->sock.tls || shutdown(uc->sock.fd, SHUT_WR) < 0) {
        client_close(c, CLOSE_TUNNEL_END, "client closed the tunnel");
        return -1;
    }
    return 0;
}

void tunnel_from_origin(struct client *c)
{
    struct upconn *uc = c->ex->up.conn;
    size_t n;
    switch (writer_read_from(c, &uc->sock, &n)) {
    case SOCK_OK:
        ev_timer_again(c->srv->loop, &c->timer);
        break;
    case SOCK_AGAIN:
    case SOCK_FULL:
        break;
    case SOCK_EOF:
        c->ex->up.eof = true;
        if (buf_empty(&c->out)) {
            tunnel_origin_done(c); /* else once the client has it all */
            return;
        }
        break;
    case SOCK_ERROR:
        client_close(c, CLOSE_UPSTREAM_ERROR, "origin tunnel error");
        return;
    }
    client_update_io(c);
}

void tunnel_to_origin(struct client *c)
{
    struct upconn *uc = c->ex->up.conn;
    size_t n;
    if (!uc || uc->sock.fd < 0)
        return;
    enum sock_io r = sock_write(&uc->sock, &c->in, &n);
    if (r == SOCK_ERROR) {
        client_close(c, CLOSE_UPSTREAM_ERROR, "origin tunnel error");
        return;
    }
    if (n > 0)
        ev_timer_again(c->srv->loop, &c->timer);
    if (c->read_eof && buf_empty(&c->in) && tunnel_client_done(c) < 0)
        return;
    client_update_io(c);
}

void tunnel_client_read(struct client *c, size_t n)
{
    c->ex->bytes_received += n;
    tunnel_to_origin(c);
}

void tunnel_client_eof(struct client *c)
{
    tunnel_to_origin(c); /* the last bytes go up, then the half-close */
}

void tunnel_client_drained(struct client *c)
{
    if (c->ex->up.eof)
        tunnel_origin_done(c);
    else
        client_update_io(c);
}

bool tunnel_client_wants_read(const struct client *c)
{
    return buf_used(&c->in) < PROXY_HIGH_WATER;
}

void tunnel_origin_wants(const struct client *c, bool *rd, bool *wr)
{
    *rd = !c->ex->up.eof && buf_used(&c->out) < PROXY_HIGH_WATER;
    *wr = !buf_empty(&c->in);
}

void tunnel_switch(struct client *c)
{
    struct upstream *u = &c->ex->up;
    if (writer_out(c, buf_head(&u->in), buf_used(&u->in)) < 0) {
        client_close(c, CLOSE_OVERFLOW, "client buffer overflow");
        return;
    }
    u->in.off = u->in.len = 0;
    u->head_scanned = 0;
    exchange_tunnel(c);
}
