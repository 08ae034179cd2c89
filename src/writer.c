/*
 * writer.c - the client writer: the deliver chain's sink, and the only code
 * that frames response bodies (chunked or not), counts the bytes sent to
 * the client (heads and framing included) and writes the client socket.
 *
 * Pieces it is given are copied into c->out, except a held one (a memory
 * copy of a stored object, a range of an object file), which it sends by
 * reference: a memory copy together with the head in one gathered write,
 * a file by sendfile (to TLS clients: through c->out). It takes one held
 * piece at a time; when that is sent, the chain is told there is room.
 */
#include "proxy.h"

#include <errno.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "filter.h"

#define WRITER_SENDFILE_MAX (4 * 1024 * 1024)

static void writer_settle(struct client *c);

/* ---- what goes in ---- */

/* Nobody reads this delivery (a background refresh, a client that left):
   heads are dropped as the discard sink drops bodies. */
static bool writer_discards(const struct client *c)
{
    return c->ex->deliver.sink == &discard_sink;
}

struct buf *writer_head_begin(struct client *c, size_t *mark)
{
    *mark = buf_used(&c->out);
    return &c->out;
}

int writer_head_end(struct client *c, size_t mark, int rc)
{
    if (rc < 0 || writer_discards(c)) {
        c->out.len = c->out.off + (uint32_t)mark; /* nobody to answer, or it did not fit */
        return rc < 0 ? -1 : 0;
    }
    c->ex->bytes_sent += buf_used(&c->out) - mark;
    return 0;
}

int writer_out(struct client *c, const void *p, size_t n)
{
    if (writer_discards(c))
        return 0;
    if (buf_append(&c->out, p, n) < 0)
        return -1;
    c->ex->bytes_sent += n;
    return 0;
}

enum sock_io writer_read_from(struct client *c, struct sock *from, size_t *n)
{
    enum sock_io r = sock_read(from, &c->out, n);
    c->ex->bytes_sent += *n;
    return r;
}

uint64_t writer_mark(const struct client *c)
{
    return c->out_written + buf_used(&c->out) + 1;
}

bool writer_take_back(struct client *c)
{
    struct exchange *ex = c->ex;
    if (!ex->rsp_mark || writer_discards(c) || c->out_written + 1 > ex->rsp_mark)
        return false;
    uint64_t before = ex->rsp_mark - 1 - c->out_written; /* earlier bytes, still queued */
    if (before > buf_used(&c->out))
        return false;
    ex->bytes_sent -= buf_used(&c->out) - before;
    c->out.len = c->out.off + (uint32_t)before;
    ex->rsp_head_sent = false;
    ex->rsp_mark = 0;
    ex->framing = HTTP_FRAME_NONE;
    return true;
}

/* ---- the sink ---- */

static int writer_piece(void *arg, const struct piece *pc)
{
    struct client *c = arg;
    struct exchange *ex = c->ex;
    struct writer *w = &ex->wr;
    bool chunked = ex->framing == HTTP_FRAME_CHUNKED;
    if (pc->len == 0)
        return 0;
    if (pc->held || pc->kind == PIECE_FILE) {
        if (w->held.len)
            return -1; /* one at a time: room said no */
        size_t mark = buf_used(&c->out);
        if (chunked && http_chunk_head(&c->out, pc->len) < 0)
            return -1;
        /* its bytes count as they go (writer_send_held): a client that
           leaves a large hit early is logged with what it got */
        ex->bytes_sent += buf_used(&c->out) - mark;
        w->held = *pc;
        w->crlf_after = chunked;
        return 0;
    }
    size_t mark = buf_used(&c->out);
    int rc = chunked ? http_chunk_append(&c->out, pc->p, pc->len)
                     : buf_append(&c->out, pc->p, pc->len);
    ex->bytes_sent += buf_used(&c->out) - mark;
    return rc;
}

static int writer_end(void *arg)
{
    struct client *c = arg;
    struct writer *w = &c->ex->wr;
    w->ended = true;
    if (c->ex->framing != HTTP_FRAME_CHUNKED)
        return 0;
    if (w->held.len) {
        w->last_after = true; /* after the held piece's bytes */
        return 0;
    }
    size_t mark = buf_used(&c->out);
    int rc = http_chunk_append(&c->out, NULL, 0);
    c->ex->bytes_sent += buf_used(&c->out) - mark;
    return rc;
}

static bool writer_room(void *arg)
{
    const struct client *c = arg;
    return !c->ex->wr.held.len && buf_used(&c->out) < PROXY_HIGH_WATER;
}

const struct sink_ops writer_sink = {
    .piece = writer_piece,
    .end = writer_end,
    .room = writer_room,
};

/* A background refresh's delivery, and a client that left: nobody reads. */
static int discard_piece(void *arg, const struct piece *pc)
{
    (void)arg, (void)pc;
    return 0;
}

static int discard_end(void *arg)
{
    (void)arg;
    return 0;
}

static bool discard_room(void *arg)
{
    (void)arg;
    return true;
}

const struct sink_ops discard_sink = {
    .piece = discard_piece,
    .end = discard_end,
    .room = discard_room,
};

bool writer_pending(const struct client *c)
{
    return c->ex && c->ex->wr.held.len > 0;
}

/* ---- the socket ---- */

/* The held memory piece after whatever of the head is still in c->out,
   in one sendmsg. Body bytes sent, or -1 (errno). */
static ssize_t writer_gather(struct client *c, const struct piece *h)
{
    struct iovec iov[2];
    int n = 0;
    size_t head = buf_used(&c->out);
    if (head > 0)
        iov[n++] = (struct iovec){(void *)buf_head(&c->out), head};
    iov[n++] = (struct iovec){(void *)h->p, (size_t)h->len};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t w = sendmsg(c->sock.fd, &msg, MSG_NOSIGNAL);
    if (w < 0)
        return w;
    size_t from_head = (size_t)w < head ? (size_t)w : head;
    buf_consume(&c->out, from_head);
    c->out_written += from_head;
    if (buf_empty(&c->out))
        buf_compact(&c->out, true);
    return w - (ssize_t)from_head;
}

/* To a TLS client the held piece goes through c->out. */
static ssize_t writer_copy_held(struct client *c, const struct piece *h)
{
    size_t room = buf_room(&c->out);
    if (room > h->len)
        room = (size_t)h->len;
    if (room == 0)
        return 0;
    ssize_t n = (ssize_t)room;
    if (h->kind == PIECE_MEM)
        memcpy(buf_tail(&c->out), h->p, room);
    else if ((n = pread(h->fd, buf_tail(&c->out), room, (off_t)h->off)) <= 0)
        return -1; /* the file is shorter than its header said */
    c->out.len += (uint32_t)n;
    return n;
}

/* Moves the held piece on: 1 when all of it went, 0 when more is left,
   -1 on error. */
static int writer_send_held(struct client *c)
{
    struct writer *w = &c->ex->wr;
    struct piece *h = &w->held;
    ssize_t n;
    if (c->sock.tls) {
        n = writer_copy_held(c, h);
    } else if (h->kind == PIECE_MEM) {
        n = writer_gather(c, h);
    } else {
        off_t off = (off_t)h->off;
        size_t ask = h->len < WRITER_SENDFILE_MAX ? (size_t)h->len : WRITER_SENDFILE_MAX;
        n = sendfile(c->sock.fd, h->fd, &off, ask);
        if (n == 0)
            return -1; /* the file is shorter than its header said */
    }
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    c->ex->bytes_sent += (uint64_t)n;
    h->len -= (uint64_t)n;
    if (h->kind == PIECE_MEM)
        h->p += n;
    else
        h->off += (uint64_t)n;
    if (h->len > 0)
        return 0;
    size_t mark = buf_used(&c->out);
    if (w->crlf_after && buf_append_lit(&c->out, "\r\n") < 0)
        return -1;
    if (w->last_after && http_chunk_append(&c->out, NULL, 0) < 0)
        return -1;
    c->ex->bytes_sent += buf_used(&c->out) - mark;
    w->crlf_after = w->last_after = false;
    return 1;
}

/* The held piece, once c->out is empty (or with it, gathered). */
static void writer_held_step(struct client *c)
{
    int r = writer_send_held(c);
    if (r < 0) {
        client_close(c, CLOSE_STORE_ERROR, "cannot send the stored body");
        return;
    }
    if (r > 0) {
        chain_resume(&c->ex->deliver); /* the producer may push the next piece */
        if (c->state != CS_DELIVER && c->state != CS_FETCH)
            return; /* closed, or the response is complete */
    }
    writer_settle(c);
}

/* Everything queued went out: true when that ended the connection's turn
   (closed, a tunnel's next step, the next pipelined request). */
static bool writer_drained(struct client *c)
{
    buf_compact(&c->out, true);
    if (c->close_after_flush) {
        client_close(c, c->close_why, NULL);
        return true;
    }
    if (c->state == CS_TUNNEL) {
        tunnel_client_drained(c);
        return true;
    }
    if (c->state == CS_RECEIVE && !buf_empty(&c->in)) {
        client_process(c); /* a pipelined request was waiting */
        return true;
    }
    if (c->state == CS_RECEIVE)
        client_rest(c);
    return false;
}

/* After the held piece moved: the response may be complete. */
static void writer_settle(struct client *c)
{
    struct exchange *ex = c->ex;
    if (ex->wr.ended && !ex->wr.held.len && buf_empty(&c->out) && c->state == CS_DELIVER) {
        exchange_delivered(c);
        return;
    }
    ev_timer_again(c->srv->loop, &c->timer);
    client_update_io(c);
}

void writer_write(struct client *c)
{
    struct exchange *ex = c->ex;
    if (ex && ex->wr.held.len && ex->wr.held.kind == PIECE_MEM && !c->sock.tls) {
        writer_held_step(c); /* head and body in one write */
        return;
    }
    size_t n;
    enum sock_io r = sock_write(&c->sock, &c->out, &n);
    c->out_written += n;
    if (r == SOCK_ERROR) {
        client_close(c, CLOSE_WRITE_ERROR, sock_error(&c->sock));
        return;
    }
    if (r == SOCK_AGAIN) {
        client_update_io(c);
        return;
    }
    if (c->state != CS_RECEIVE || !buf_empty(&c->out))
        ev_timer_again(c->srv->loop, &c->timer);
    if (buf_empty(&c->out) && ex && ex->wr.held.len) {
        writer_held_step(c);
        return;
    }
    if (buf_empty(&c->out) && ex && ex->wr.ended && c->state == CS_DELIVER) {
        exchange_delivered(c);
        return;
    }
    if (buf_empty(&c->out) && writer_drained(c))
        return;
    if ((c->state == CS_FETCH || c->state == CS_DELIVER) && buf_used(&c->out) < PROXY_HIGH_WATER) {
        chain_resume(&ex->deliver); /* room again: what waited moves on */
        if (c->state == CS_CLOSED)
            return;
    }
    client_update_io(c);
}

/*
 * Writes what is ready now instead of after a loop pass: the socket is
 * nearly always writable, and waiting for it costs a loop pass and two
 * epoll_ctl. Not nested: a pipelined request answered from within a write
 * waits for the next pass, so the stack stays shallow.
 */
void client_flush(struct client *c)
{
    bool waiting = ev_is_active(&c->io) && (c->io.events & EV_WRITE); /* for room, after EAGAIN */
    bool ready = !buf_empty(&c->out) || writer_pending(c);
    if (c->flushing || c->phantom || c->state == CS_CLOSED || c->state == CS_TLS || waiting ||
        !ready) {
        client_update_io(c);
        return;
    }
    c->flushing = true;
    writer_write(c);
    c->flushing = false;
}
