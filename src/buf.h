/*
 * buf.h - a byte buffer with one owner and a hard capacity. Data lives in
 * [off, len); consumers advance off, producers append at len. Memory is
 * allocated on first use so idle connections hold none.
 */
#ifndef MAGPIE_BUF_H
#define MAGPIE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* 32-bit offsets: a connection holds two of these while idle, and no
   buffer may grow past 4 GiB anyway (buf_init clamps max). */
struct buf {
    char *data;
    uint32_t off; /* first unconsumed byte */
    uint32_t len; /* end of data */
    uint32_t cap; /* allocated */
    uint32_t max; /* hard limit on cap */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
static inline size_t buf_used(const struct buf *b)
{
    return b->len - b->off;
}
static inline const char *buf_head(const struct buf *b)
{
    return b->data + b->off;
}
static inline bool buf_empty(const struct buf *b)
{
    return b->len == b->off;
}
/* Free room at the tail after compacting; allocates up to max. */
size_t buf_room(struct buf *b);
/* Tail pointer; valid after buf_room() returned non-zero. */
static inline char *buf_tail(struct buf *b)
{
    return b->data + b->len;
}
/* Appends; fails (-1) if it would pass max. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Appends a string literal. */
#define buf_append_lit(b, lit) buf_append((b), (lit), sizeof(lit) - 1)
/* Appends a C string. */
static inline int buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}
/* Appends v in decimal. */
int buf_append_u64(struct buf *b, uint64_t v);
/* Appends "name: value\r\n" (header lines, without a printf per line). */
int buf_append_field(struct buf *b, const char *name, size_t nlen, const char *value, size_t vlen);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_consume(struct buf *b, size_t n);
/* Drops consumed bytes; frees the memory when empty and `release`. */
void buf_compact(struct buf *b, bool release);
/* read(2) into the tail: >0 bytes, 0 EOF, -1 error (errno), -2 full. */
ssize_t buf_read_fd(struct buf *b, int fd);
/* send(2) from the head, without SIGPIPE: >=0 bytes, -1 error (errno). */
ssize_t buf_write_fd(struct buf *b, int fd);

#endif
