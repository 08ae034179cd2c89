/*
 * http_drive.h - drives an http_reader the way client.c (requests) and
 * upstream_relay.c (responses) do: bytes arrive in pieces split where the
 * fuzzer chose, each head is found with http_head_scan() and fed whole,
 * bodies are fed as they come, and after each message the reader goes on
 * to the next (pipelining, interim responses); after a final response it
 * is freed and a new one reads the next, as upstream.c gives each exchange
 * on a reused origin connection its own. The callbacks check what the rest
 * of magpie takes for granted about a parsed message.
 *
 * Input: byte 0 picks options (bit 0-2: how many split points follow as
 * 16-bit offsets; bit 3: the first response answers a HEAD; bit 4: feed
 * bodies one byte at a time; bit 5: a 64-byte trailer limit instead of
 * max_header_bytes), then the split points, then the stream.
 */
#ifndef MAGPIE_FUZZ_HTTP_DRIVE_H
#define MAGPIE_FUZZ_HTTP_DRIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"

#define DRIVE_MAX_HEAD (64 * 1024) /* limits.max_header_bytes' default */
#define DRIVE_MAX_LINE (8 * 1024 + 32)
#define DRIVE_FEED_MAX (16 * 1024) /* PROXY_FEED_MAX */
#define DRIVE_MAX_SPLITS 8

struct drive {
    bool request;
    struct http_reader *r;
    size_t max_trailer;
    bool in_msg, done;
    bool head_pending; /* the next final response answers a HEAD */
    int64_t content_length;
    size_t nhdrs; /* at the head: trailers must never add fields */
    uint64_t body, stream_len;
    unsigned messages;
};

/* What every consumer of a parsed head relies on: strings inside the
   arena, NUL-terminated at their length, no NUL inside. */
static void drive_check_str(const struct http_msg *m, uint32_t off, size_t len)
{
    if (off == HTTP_NO_STR) {
        if (len)
            abort();
        return;
    }
    if ((size_t)off + len >= m->mem_len + 1 || m->mem[off + len] != '\0' ||
        strlen(m->mem + off) != len)
        abort();
}

static int drive_on_head(void *arg, struct http_msg *m)
{
    struct drive *d = arg;
    if (d->in_msg || d->done)
        abort(); /* a head while a message is open */
    d->in_msg = true;
    d->body = 0;
    d->content_length = m->content_length;
    d->nhdrs = m->nhdrs;
    if (m->chunked && m->content_length >= 0)
        abort(); /* framing must be one or the other */
    for (size_t i = 0; i < m->nhdrs; i++) {
        const struct http_header *h = &m->hdrs[i];
        drive_check_str(m, h->name, h->name_len);
        drive_check_str(m, h->value, h->value_len);
        if (h->name_len == 0)
            abort();
    }
    if (d->request) {
        drive_check_str(m, m->target, m->target_len);
        if (m->method == HTTP_NO_STR)
            abort();
    } else if (m->status < 100 || m->status > 999) {
        abort();
    }
    /* what client_request.c and cache.c ask of every head */
    (void)http_find(m, "Host");
    const struct http_header *c = http_find(m, "Connection");
    if (c)
        (void)http_list_has(http_hvalue(m, c), "close");
    return 0;
}

static int drive_on_body(void *arg, const char *p, size_t n)
{
    struct drive *d = arg;
    if (!d->in_msg || d->done)
        abort(); /* body bytes outside a message */
    for (size_t i = 0; i < n; i++)
        (void)*(volatile const char *)(p + i); /* ASan: inside the fed bytes */
    d->body += n;
    if (d->body > d->stream_len)
        abort(); /* decoded more than was sent */
    if (d->content_length >= 0 && d->body > (uint64_t)d->content_length)
        abort();
    return 0;
}

static int drive_on_done(void *arg)
{
    struct drive *d = arg;
    if (d->done || http_reader_msg(d->r)->nhdrs != d->nhdrs)
        abort(); /* a trailer field became a header field */
    d->done = true;
    d->in_msg = false;
    d->messages++;
    return 0;
}

static const struct http_reader_ops drive_ops = {
    .on_head = drive_on_head,
    .on_body = drive_on_body,
    .on_done = drive_on_done,
};

/* A fresh reader, as upstream_new_reader() makes one per exchange. */
static void drive_new_reader(struct drive *d)
{
    http_reader_free(&d->r);
    d->r = http_reader_new(d->request, &drive_ops, d);
    if (!d->r)
        abort();
    http_reader_set_max_trailer(d->r, d->max_trailer);
}

enum drive_phase { PHASE_HEAD, PHASE_BODY, PHASE_STOP };

/* Parses what has arrived in p[*off..avail), as the connection code does. */
static enum drive_phase drive_step(struct drive *d, enum drive_phase ph, const char *p,
                                   size_t avail, size_t *off, size_t *scanned, bool bytewise)
{
    while (ph != PHASE_STOP && *off < avail) {
        enum http_error err;
        if (ph == PHASE_HEAD) {
            size_t head_len = 0;
            if (!d->request)
                *scanned = 0; /* upstream_feed() rescans from the start */
            enum http_scan s =
                http_head_scan(p + *off, avail - *off, DRIVE_MAX_HEAD,
                               d->request ? DRIVE_MAX_LINE : SIZE_MAX / 2, scanned, &head_len);
            if (s == HTTP_SCAN_MORE)
                return ph;
            if (s != HTTP_SCAN_DONE)
                return PHASE_STOP;
            if (head_len == 0 || head_len > avail - *off)
                abort();
            size_t used = http_reader_feed(d->r, p + *off, head_len, &err);
            if (err != HTTP_OK)
                return PHASE_STOP;
            if (used != head_len)
                abort(); /* client.c consumes the head as one: none of it may be left */
            *off += used;
            ph = PHASE_BODY;
        } else {
            size_t n = avail - *off;
            if (n > DRIVE_FEED_MAX)
                n = DRIVE_FEED_MAX;
            if (bytewise)
                n = 1;
            size_t used = http_reader_feed(d->r, p + *off, n, &err);
            if (err != HTTP_OK)
                return PHASE_STOP;
            if (used > n)
                abort();
            *off += used;
            if (used == 0 && !d->done)
                abort(); /* neither progress nor an end: the caller would spin */
        }
        if (d->done) {
            struct http_msg *m = http_reader_msg(d->r);
            bool tunnel = d->request ? m->upgrade : m->status == 101;
            bool bodyless =
                !d->request && (d->head_pending || !http_status_has_body(HTTP_M_OTHER, m->status));
            if (d->content_length >= 0 && !tunnel && !bodyless &&
                d->body != (uint64_t)d->content_length)
                abort(); /* ended short of its Content-Length */
            if (bodyless && d->body)
                abort(); /* a body where none can be */
            if (tunnel)
                return PHASE_STOP; /* the bytes that follow are another protocol */
            d->done = false;
            if (!d->request && m->status >= 200) {
                d->head_pending = false;
                drive_new_reader(d); /* the exchange ended; the next has its own */
            } else {
                http_reader_next(d->r);
            }
            *scanned = 0;
            ph = PHASE_HEAD;
        }
    }
    return ph;
}

static int drive_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static void drive_run(bool request, const uint8_t *data, size_t size)
{
    uint8_t opt = fuzz_byte(&data, &size);
    size_t splits[DRIVE_MAX_SPLITS + 1], ns = opt & 7;
    for (size_t i = 0; i < ns; i++) {
        size_t lo = fuzz_byte(&data, &size), hi = fuzz_byte(&data, &size);
        splits[i] = lo | hi << 8;
    }
    char *p = malloc(size ? size : 1);
    if (!p)
        abort();
    memcpy(p, data, size);
    for (size_t i = 0; i < ns; i++)
        splits[i] = size ? splits[i] % (size + 1) : 0;
    splits[ns++] = size;
    qsort(splits, ns, sizeof(splits[0]), drive_cmp);

    struct drive d = {.request = request,
                      .max_trailer = (opt & 32) ? 64 : DRIVE_MAX_HEAD,
                      .stream_len = size,
                      .content_length = -1};
    drive_new_reader(&d);
    if (!request && (opt & 8)) {
        http_reader_expect_no_body(d.r);
        d.head_pending = true;
    }
    enum drive_phase ph = PHASE_HEAD;
    size_t off = 0, scanned = 0;
    for (size_t i = 0; i < ns && ph != PHASE_STOP; i++)
        ph = drive_step(&d, ph, p, splits[i], &off, &scanned, (opt & 16) != 0);
    if (ph != PHASE_STOP) {
        enum http_error e = http_reader_eof(d.r);
        (void)http_reader_strerror(d.r);
        if (e == HTTP_OK && http_reader_mid_message(d.r))
            abort();
    }
    http_reader_free(&d.r);
    free(p);
}

#endif
