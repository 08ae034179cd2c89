/*
 * buf.c - bounded byte buffers. Growth doubles up to the buffer's max; a
 * buffer that drains is compacted so steady streaming reuses one block.
 */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_MIN_ALLOC 4096

void buf_init(struct buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max < UINT32_MAX ? (uint32_t)max : UINT32_MAX;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}

void buf_compact(struct buf *b, bool release)
{
    /* before the off == 0 shortcut: buf_consume() leaves a drained buffer
       at off == len == 0, and that is the case `release` is for */
    if (b->off == b->len) {
        b->off = b->len = 0;
        if (release)
            buf_free(b);
        return;
    }
    if (b->off == 0)
        return;
    memmove(b->data, b->data + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
}

static int buf_grow(struct buf *b, size_t need)
{
    if (need > b->max)
        return -1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : BUF_MIN_ALLOC;
    while (cap < need)
        cap *= 2;
    if (cap > b->max)
        cap = b->max;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

size_t buf_room(struct buf *b)
{
    if (b->off > 0 && (b->len == b->cap || b->off == b->len))
        buf_compact(b, false);
    if (b->len == b->cap) {
        size_t want = b->cap ? b->cap * 2 : BUF_MIN_ALLOC;
        if (want > b->max)
            want = b->max;
        if (want <= b->cap || buf_grow(b, want) < 0)
            return 0;
    }
    return b->cap - b->len;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (b->len + n > b->cap)
        buf_compact(b, false); /* reuse consumed room before growing */
    if (buf_grow(b, b->len + n) < 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int buf_append_field(struct buf *b, const char *name, size_t nlen, const char *value, size_t vlen)
{
    size_t n = nlen + 2 + vlen + 2;
    if (b->len + n > b->cap)
        buf_compact(b, false);
    if (buf_grow(b, b->len + n) < 0)
        return -1;
    char *p = b->data + b->len;
    memcpy(p, name, nlen);
    memcpy(p + nlen, ": ", 2);
    memcpy(p + nlen + 2, value, vlen);
    memcpy(p + nlen + 2 + vlen, "\r\n", 2);
    b->len += n;
    return 0;
}

int buf_append_u64(struct buf *b, uint64_t v)
{
    char t[20];
    size_t i = sizeof(t);
    do
        t[--i] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    return buf_append(b, t + i, sizeof(t) - i);
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof(small))
        return buf_append(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = buf_append(b, big, (size_t)n);
    free(big);
    return rc;
}

void buf_consume(struct buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

ssize_t buf_read_fd(struct buf *b, int fd)
{
    size_t room = buf_room(b);
    if (room == 0)
        return -2;
    ssize_t n;
    do
        n = read(fd, buf_tail(b), room);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        b->len += (size_t)n;
    return n;
}

ssize_t buf_write_fd(struct buf *b, int fd)
{
    size_t n = buf_used(b);
    if (n == 0)
        return 0;
    ssize_t w;
    do
        w = send(fd, buf_head(b), n, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w > 0)
        buf_consume(b, (size_t)w);
    return w;
}
