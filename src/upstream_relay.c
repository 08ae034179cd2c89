/*
 * upstream_relay.c - what comes back from the origin: reading the
 * response, parsing it in slices while the fetch chain has room (a head
 * only once it is whole; a collapsed fetch being stored is read on
 * regardless, cache/flight.c), and the response parser's callbacks
 * (upstream_reader_ops): the client's head (the origin's end-to-end
 * fields, then respond_finish), the chains opened on it, and the body
 * pushed into the fetch chain, whose sink (fetch_sink) feeds the store
 * writer and the leader's delivery. Interim responses go to HTTP/1.1
 * clients; a 101 turns the exchange into a tunnel (tunnel.c).
 *
 * Getting a connection, sending the request, replays and timers are
 * upstream.c; the socket watchers there call in here when bytes arrive.
 */
#include "proxy.h"

#include <stdint.h>
#include <strings.h>

#include "cache/tags.h"
#include "filter.h"
#include "hdr_rules.h"
#include "log.h"
#include "respond.h"

static void upstream_finish_eof(struct client *c);

/* ---- reading and parsing the response ---- */

/*
 * A fetch that goes on without its client (client.c, client_detach) ends
 * here when nothing is left to fetch for: the response is not stored.
 * And a leader reading the file cannot go on once storing failed. These
 * are found after the parser returned, so nothing is freed under it.
 */
static bool upstream_fetch_lost(struct client *c, enum http_error err)
{
    struct exchange *ex = c->ex;
    if (ex->cx.writer || ex->rsp_done)
        return false;
    if (c->detached && ex->status >= 200) {
        client_close(c, CLOSE_STORE_ERROR, "the fetch its client left is not stored");
        return true;
    }
    if (err == HTTP_ERR_ABORTED && ex->cx.role == ROLE_BEHIND) {
        client_close(c, CLOSE_STORE_ERROR, "storing the response it reads failed");
        return true;
    }
    return false;
}

/* Parses buffered response bytes while the fetch chain has room. */
static void upstream_feed(struct client *c)
{
    struct upstream *u = &c->ex->up;
    /* a full client buffer paces the origin, unless the response streams
       into the store for a collapsed fetch: its leader then reads the file */
    while (!c->ex->rsp_done && !buf_empty(&u->in) && chain_room(&c->ex->fetch)) {
        size_t n = buf_used(&u->in);
        if (n > PROXY_FEED_MAX)
            n = PROXY_FEED_MAX;
        if (!c->ex->rsp_head_sent && !follow_dropping(c->ex)) {
            /* the head must be whole and well-formed before the parser sees
               it; scanning goes on where the last read's scan stopped, so a
               head trickled in small reads costs no scan per read */
            size_t head_len;
            enum http_scan r =
                http_head_scan(buf_head(&u->in), buf_used(&u->in), c->cfg->limits.max_header_bytes,
                               SIZE_MAX / 2, &u->head_scanned, &head_len);
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
        if (!exchange_forwarding(c))
            return;
        if (follow_ready(c->ex)) {
            if (err == HTTP_OK)
                buf_consume(&u->in, used); /* the connection may go back clean */
            follow_go(c);
            return;
        }
        if (upstream_fetch_lost(c, err))
            return;
        if (err != HTTP_OK) {
            log_info("#%llu %s: bad response from %s: %s", c->id, c->addr_text, u->peer,
                     http_reader_strerror(u->reader));
            upstream_lost(c, "sent an invalid response");
            return;
        }
        buf_consume(&u->in, used);
        if (used > 0)
            u->head_scanned = 0; /* a next head starts where this one ended */
        if (used == 0)
            break;
    }
    if (c->ex->rsp_done && c->ex->cx.instead != INSTEAD_NONE) {
        upstream_done(c);
        exchange_serve_stored(c);
        return;
    }
    if (c->ex->rsp_done && u->switching) {
        tunnel_switch(c); /* what the origin sent after its 101 is the new protocol's */
        return;
    }
    if (c->ex->rsp_done && c->ex->cx.role == ROLE_BEHIND) {
        upstream_done(c); /* the origin is done; the client reads on from the file */
        exchange_catch_up(c);
        return;
    }
    if (c->ex->rsp_done && !c->ex->wr.ended &&
        (chain_filtered(&c->ex->fetch) || chain_filtered(&c->ex->deliver)) &&
        c->ex->deliver.sink != &discard_sink) {
        exchange_drain(c); /* a filter still holds what the client has no room for */
        return;
    }
    if (c->ex->rsp_done) {
        exchange_done(c);
        return;
    }
    if (u->eof && (buf_empty(&u->in) || !c->ex->rsp_head_sent)) {
        upstream_finish_eof(c); /* everything parsed, or a head that cannot complete */
        return;
    }
    client_flush(c);
}

void upstream_resume_cb(void *arg)
{
    struct client *c = arg;
    if (exchange_forwarding(c) && !buf_empty(&c->ex->up.in))
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
    exchange_done(c);
}

/*
 * The origin has sent all it has for now (a read took less than there was
 * room for) and every byte of it was parsed: an encoder holding bytes for
 * a better ratio lets them go, so a slow body reaches the client as it is
 * made. An origin faster than the encoder always fills the read, and its
 * body is encoded without a flush.
 */
static void upstream_flush_idle(struct client *c)
{
    struct exchange *ex = c->ex;
    if (!exchange_forwarding(c) || !ex->rsp_head_sent || ex->rsp_done || !buf_empty(&ex->up.in) ||
        !chain_filtered(&ex->fetch))
        return;
    if (chain_flush(&ex->fetch) < 0) {
        upstream_lost(c, "its response could not be encoded");
        return;
    }
    client_flush(c);
}

void upstream_read_response(struct client *c)
{
    struct upstream *u = &c->ex->up;
    size_t n, room = buf_room(&u->in);
    switch (sock_read(&u->conn->sock, &u->in, &n)) {
    case SOCK_OK:
        ev_timer_again(c->srv->loop, &u->timer);
        if (u->conn->sent_at > 0) {
            metrics_observe(&c->srv->metrics.first_byte, ev_time() - u->conn->sent_at);
            u->conn->sent_at = 0;
        }
        break;
    case SOCK_AGAIN:
        client_update_io(c);
        return;
    case SOCK_FULL:
        upstream_feed(c); /* full: only a head over the limit can do that */
        if (exchange_forwarding(c) && !c->ex->rsp_head_sent)
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
    if (n < room)
        upstream_flush_idle(c);
}

/* ---- the response head and body ---- */

/* The response head as it goes to the client: the origin's end-to-end
   fields, a final one's with the header rules' edits, then the common end
   (respond_finish) with one merged Via, our framing, Cache-Status and
   Connection. */
static int upstream_put_head(struct client *c, const struct http_msg *m, bool interim,
                             struct buf *out)
{
    if (http_put_status(out, m->status, http_str(m, m->reason)) < 0)
        return -1;
    bool edits = m->status >= 200 && hdr_rules_response_any(c);
    for (size_t i = 0; i < m->nhdrs; i++) {
        const struct http_header *h = &m->hdrs[i];
        const char *name = http_hname(m, h);
        if (h->name_len == 3 && strcasecmp(name, "Via") == 0)
            continue; /* merged into ours */
        if (h->hop && !(m->status == 101 && strcasecmp(name, "Upgrade") == 0))
            continue;
        if (edits && hdr_rules_response_drops(c, name, h->name_len))
            continue;
        if (!c->cfg->cache.keep_tag_headers && tags_field_sep(name, h->name_len))
            continue; /* cache tags are for magpie's PURGE, not for clients */
        if (c->ex->decoding != CODING_IDENTITY) {
            int rc = compress_plan_put_field(out, m, h);
            if (rc < 0)
                return -1;
            if (rc > 0)
                continue;
        }
        if (c->ex->cx.rt) {
            int rc = location_put_field(c, out, m, h);
            if (rc < 0)
                return -1;
            if (rc > 0)
                continue;
        }
        if ((c->ex->framing != HTTP_FRAME_NONE || m->status < 200 || m->status == 204) &&
            strcasecmp(name, "Content-Length") == 0)
            continue; /* ours, or not allowed on 1xx and 204 (RFC 9110 §8.6) */
        if (http_put_header(out, m, h) < 0)
            return -1;
    }
    if (edits && hdr_rules_response_put(c, out) < 0)
        return -1;
    struct head_end e = {
        .via_minor = m->minor,
        .via_from = m,
        .age = -1,
        .length = c->ex->framing == HTTP_FRAME_LENGTH ? m->content_length : -1,
        .chunked = c->ex->framing == HTTP_FRAME_CHUNKED,
        .interim = interim,
        .upgrade = m->status == 101,
        .cache_status = true,
    };
    return respond_finish(c, out, &e);
}

static int upstream_write_head(struct client *c, const struct http_msg *m, bool interim)
{
    size_t mark;
    struct buf *out = writer_head_begin(c, &mark);
    return writer_head_end(c, mark, upstream_put_head(c, m, interim, out));
}

/*
 * The final head: the fetch chain's filters (once per fetch) and the
 * deliver chain's (for this client) see it, as compress_plan_response left
 * it in h, and may opt out; one that changes the body's length (from
 * length, the origin's) leaves the framing to the client writer.
 */
static int upstream_open_chains(struct client *c, struct filter_head *h, int64_t length)
{
    struct exchange *ex = c->ex;
    if (h->encode == CODING_IDENTITY && h->decode == CODING_IDENTITY)
        return 0; /* nothing to do: the chains hold their sinks only */
    if (chain_open(&ex->fetch, filter_fetch_list, filter_fetch_count, h) < 0 ||
        chain_open(&ex->deliver, filter_deliver_list, filter_deliver_count, h) < 0)
        return -1;
    if (h->length != length)
        ex->framing =
            http_response_framing(ex->method_id, h->status, h->length, h->length < 0, ex->minor);
    return 0;
}

static int upstream_on_head(void *arg, struct http_msg *m)
{
    struct client *c = arg;
    if (m->status == 101) {
        c->ex->keep_alive = false;
        if (!c->ex->ws_upgrade) {
            exchange_fail(c, 502, "upstream switched protocols, which was not asked for");
            return -1;
        }
        if (!c->ex->req_done || !buf_empty(&c->ex->up.out)) {
            /* the rest of the body would go into the new protocol */
            exchange_fail(c, 502, "upstream switched protocols before the request body was sent");
            return -1;
        }
        c->ex->status = 101;
        c->ex->framing = HTTP_FRAME_NONE;
        c->ex->up.switching = true;
        if (upstream_write_head(c, m, false) < 0) {
            client_close(c, CLOSE_OVERFLOW, "client buffer overflow");
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
            client_close(c, CLOSE_OVERFLOW, "client buffer overflow");
            return -1;
        }
        return 0;
    }
    switch (follow_head(c, m)) {
    case 1: /* a redirect magpie follows: its body, if read, is dropped */
        return follow_ready(c->ex) ? -1 : 0;
    case -1:
        return -1;
    }
    c->ex->status = m->status;
    c->ex->up.keep_alive = m->keep_alive;
    int64_t length = m->content_length;
    c->ex->framing =
        http_response_framing(c->ex->method_id, m->status, length, m->chunked, c->ex->minor);
    if (c->ex->framing == HTTP_FRAME_CLOSE || !c->ex->req_done || c->srv->draining)
        c->ex->keep_alive = false;
    struct filter_head fh = {.msg = m, .status = m->status, .length = length};
    if (compress_plan_response(c, m, &fh) < 0) {
        exchange_fail(c, 502, "out of memory for the response head");
        return -1;
    }
    if (cache_response_head(c, m) == 1)
        return 0; /* read and dropped; the store answers once it ended */
    if (upstream_open_chains(c, &fh, length) < 0) {
        exchange_fail(c, 502, "cannot set up the response's filters");
        return -1;
    }
    if (c->ex->framing == HTTP_FRAME_CLOSE)
        c->ex->keep_alive = false; /* a filter changed the length for an HTTP/1.0 client */
    c->ex->rsp_mark = writer_mark(c);
    if (upstream_write_head(c, m, false) < 0) {
        client_close(c, CLOSE_OVERFLOW, "client buffer overflow");
        return -1;
    }
    c->ex->rsp_head_sent = true;
    return 0;
}

static int upstream_on_body(void *arg, const char *p, size_t n)
{
    struct client *c = arg;
    if (c->ex->cx.instead != INSTEAD_NONE || follow_dropping(c->ex))
        return 0; /* read and dropped: the store answers, or a redirect is followed */
    struct piece pc = piece_mem(p, n, false);
    return chain_push(&c->ex->fetch, &pc);
}

static int upstream_on_done(void *arg)
{
    struct client *c = arg;
    if (c->ex->cx.instead != INSTEAD_NONE) {
        c->ex->rsp_done = true;
        return 0;
    }
    if (follow_dropping(c->ex)) {
        follow_read(c->ex);
        return 0;
    }
    if (!c->ex->rsp_head_sent) {
        http_reader_next(c->ex->up.reader); /* an interim response: the final one follows */
        return 0;
    }
    c->ex->rsp_done = true;
    return chain_end(&c->ex->fetch);
}

/* ---- the fetch chain's sink ---- */

/*
 * The leader's delivery failed: a full client buffer, or a body that could
 * not be decoded for it. A body that does not decode is not stored either:
 * it would be served as it is to clients that accept its coding.
 */
static void upstream_delivery_failed(struct client *c)
{
    if (c->ex->decoding == CODING_IDENTITY) {
        client_close(c, CLOSE_OVERFLOW, "client buffer overflow");
        return;
    }
    /* a decoder keeps to the writer's room: its failure is the body's */
    log_warn("#%llu %s: %s from %s: %s", c->id, c->addr_text, c->ex->url ? c->ex->url : "-",
             c->ex->up.peer, *filter_why() ? filter_why() : "the body could not be decoded");
    cache_response_abort(c);
    client_close(c, CLOSE_UPSTREAM_ERROR, "the response body could not be decoded");
}

/*
 * The store writer and the leader's delivery. A leader behind its fetch
 * (cache/flight.c) reads from the object file instead: what is stored is
 * pushed to it from there.
 */
static int fetch_sink_piece(void *arg, const struct piece *pc)
{
    struct client *c = arg;
    struct exchange *ex = c->ex;
    if (pc->kind != PIECE_MEM)
        return -1; /* what the origin sent is memory; a fetch filter must not turn it into a file */
    if (ex->cx.role != ROLE_BEHIND && chain_push(&ex->deliver, pc) < 0) {
        upstream_delivery_failed(c);
        return -1;
    }
    cache_response_body(c, pc->p, (size_t)pc->len);
    if (ex->cx.role != ROLE_BEHIND)
        return 0;
    if (!ex->cx.writer)
        return -1; /* storing failed: the file it reads ends here */
    if (chain_room(&ex->deliver) && cache_serve_more(c) < 0) {
        client_close(c, CLOSE_STORE_ERROR, "cannot send the stored body");
        return -1;
    }
    return 0;
}

static int fetch_sink_end(void *arg)
{
    struct client *c = arg;
    if (c->ex->cx.role != ROLE_BEHIND && chain_end(&c->ex->deliver) < 0) {
        upstream_delivery_failed(c);
        return -1;
    }
    cache_response_end(c);
    return 0;
}

/* A full client buffer holds the origin back, unless the leader of a
   collapsed fetch can read the rest from the object file. */
static bool fetch_sink_room(void *arg)
{
    struct client *c = arg;
    return c->ex->cx.role == ROLE_BEHIND || chain_room(&c->ex->deliver) || cache_leader_unpace(c);
}

const struct sink_ops fetch_sink = {
    .piece = fetch_sink_piece,
    .end = fetch_sink_end,
    .room = fetch_sink_room,
};

const struct http_reader_ops upstream_reader_ops = {
    .on_head = upstream_on_head,
    .on_body = upstream_on_body,
    .on_done = upstream_on_done,
};
