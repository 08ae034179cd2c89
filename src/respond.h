/*
 * respond.h - the heads of every response magpie sends, and the answers it
 * makes itself. A source (the relay, the store, a local answer) writes its
 * status line and its own fields; respond_finish() ends every head the
 * same way: Age, Via, framing, Cache-Status, Connection.
 */
#ifndef MAGPIE_RESPOND_H
#define MAGPIE_RESPOND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct client;
struct http_msg;

/* An answer magpie makes itself: errors, PURGE, later redirects and 407. */
struct answer {
    int status;
    const char *reason; /* for the log and the connection's close */
    const char *fields; /* extra header lines ("Name: value\r\n"), or NULL */
    size_t fields_len;
    const char *body;   /* NULL: no body */
    size_t body_len;
    const char *type;   /* the body's Content-Type; NULL: text/plain */
    const char *phrase; /* the status line's reason phrase; NULL: the usual one */
    bool tunnel;        /* a 2xx to CONNECT: no framing fields, no Connection */
    const char *cache_control; /* its Cache-Control value; NULL: no-store */
};

/* How a head ends, after the source's status line and fields. */
struct head_end {
    /* Via names the version of the response as magpie got it: the
       origin's status line for relayed and stored responses (1.<minor>),
       HTTP/1.1 for answers magpie makes */
    unsigned via_minor;
    const struct http_msg *via_from; /* the origin's Via entries come first, or NULL */
    const char *via_prior; /* or these, already joined (a prepared stored head) */
    size_t via_prior_len;
    double age;      /* < 0: no Age field */
    int64_t length;  /* Content-Length to state; -1: none (chunked says so itself) */
    bool chunked;    /* Transfer-Encoding: chunked */
    bool interim;    /* a 1xx: Via, then the end of the head */
    bool upgrade;    /* a 101: Connection: Upgrade */
    bool tunnel;     /* a 2xx to CONNECT (RFC 9110 §9.3.6): Via, then the end */
    bool cache_status; /* Cache-Status and X-Cache */
};

/* Appends the end of a head to out: 0, or -1 when out is full. */
int respond_finish(const struct client *c, struct buf *out, const struct head_end *e);
/* The head and body of a local answer, into the client writer; 0 or -1. */
int respond_local(struct client *c, const struct answer *a);

#endif
