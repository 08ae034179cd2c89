/*
 * filter.h - body-filter chains. A body moves from its producer (the
 * origin's response, or the store) to its consumer (the store writer, the
 * client writer) through an ordered list of filters, as pieces: memory, or
 * a range of a file, so a hit's sendfile survives a chain that holds only
 * the client writer. Two edges only: push ("bytes ready", producer towards
 * consumer) and resume ("room again", consumer towards producer).
 *
 * A chain is opened when its head is known: each filter of its list is
 * asked whether it takes part, and one that opts out is not linked, so an
 * exchange without it pays nothing. The last node is the sink, which owns
 * nothing of the pieces it is given: it copies what it keeps, except a
 * piece marked `held`, whose bytes stay valid until the chain is closed
 * (a memory-tier copy, a file the exchange holds open).
 *
 * Nothing here knows of sockets or of struct client: the unit tests drive
 * chains with test filters and sinks alone.
 */
#ifndef MAGPIE_FILTER_H
#define MAGPIE_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"

struct buf;
struct http_msg;

enum piece_kind {
    PIECE_MEM,  /* p, len */
    PIECE_FILE, /* fd, off, len */
};

struct piece {
    enum piece_kind kind;
    bool held;     /* the bytes (or the fd) outlive the call: a sink may refer to them */
    const char *p; /* PIECE_MEM */
    int fd;        /* PIECE_FILE */
    uint64_t off;  /* PIECE_FILE: where in fd */
    uint64_t len;
};

/* What filters see of a response head when their chain opens, and may
   change before it is finished (a filter that changes the body's length
   sets length to -1; one that adds fields appends them to add). */
struct filter_head {
    const struct http_msg *msg; /* the head as received or stored; NULL for local answers */
    int status;
    int64_t length;  /* the body's length, -1 when unknown */
    struct buf *add; /* header lines ("Name: value\r\n") filters add; may be NULL */
    /* what the compression filters are to do, decided before the chain
       opens (compress.h); IDENTITY: that filter opts out */
    enum coding encode, decode;
    int level; /* the encoder's */
};

struct filter;

struct filter_ops {
    const char *name;
    size_t state_size; /* bytes of per-exchange state, zeroed, at f->state */
    /* The head is known: 0 to take part, 1 to opt out (the node is freed
       and never linked), -1 to fail the chain. Only a node that returned
       0 gets its close op: one that returns 1 or -1 frees what it took. */
    int (*open)(struct filter *f, struct filter_head *h);
    /* A piece of body: pass it on, changed or not, with filter_pass() (zero
       or more times). 0, or -1 to fail the body. */
    int (*piece)(struct filter *f, const struct piece *pc);
    /* The body is complete: pass on what is held, then filter_end(). */
    int (*end)(struct filter *f);
    /* Optional. Whether the filter takes more now; absent: whatever the
       rest of the chain says (filter_room). */
    bool (*room)(const struct filter *f);
    /* Optional. Room again downstream: pass on what was held back. */
    int (*resume)(struct filter *f);
    /* Optional. The producer has nothing more for now (a slow origin):
       pass on what is held back for the sake of a better ratio. */
    int (*flush)(struct filter *f);
    /* Optional. Frees what the state points to. */
    void (*close)(struct filter *f);
};

struct filter {
    const struct filter_ops *ops;
    struct filter *next; /* towards the sink */
    struct chain *chain;
    void *state;
};

/* The consumer at the end of a chain. */
struct sink_ops {
    int (*piece)(void *arg, const struct piece *pc);
    int (*end)(void *arg);
    bool (*room)(void *arg); /* NULL: always room */
};

struct chain {
    struct filter *first; /* NULL: pieces go straight to the sink */
    const struct sink_ops *sink;
    void *sink_arg;
    /* the producer, called when the chain has room again */
    void (*resume)(void *arg);
    void *resume_arg;
    bool failed; /* a piece failed: the body is broken, nothing more passes */
    bool ended;
};

/* A chain with no filters yet, ending in sink. */
void chain_init(struct chain *ch, const struct sink_ops *sink, void *sink_arg,
                void (*resume)(void *), void *resume_arg);
/* Asks each filter of list[0..n) in order whether it takes part for head
   h, linking those that do. 0, or -1 (out of memory, or a filter failed:
   the chain is then closed). */
int chain_open(struct chain *ch, const struct filter_ops *const *list, size_t n,
               struct filter_head *h);
/* Whether any filter took part. */
static inline bool chain_filtered(const struct chain *ch)
{
    return ch->first != NULL;
}
/* Bytes ready: through the chain to the sink. 0, or -1 once failed (or
   ended), without calling anything. */
int chain_push(struct chain *ch, const struct piece *pc);
/* The body is complete: the filters' end ops in order, then the sink's.
   0, or -1 (then failed; at once when failed or ended already). */
int chain_end(struct chain *ch);
/* The producer waits for more (a slow origin): the filters' flush ops in
   order. 0, or -1 (then failed). */
int chain_flush(struct chain *ch);
/* Whether the producer may push now (backpressure towards it). */
bool chain_room(const struct chain *ch);
/* The sink has room again: filters holding bytes pass them on (from the
   first; none more once one fails), then the producer is called if the
   chain has room and is neither failed nor ended. */
void chain_resume(struct chain *ch);
/* Frees the filters (idempotent); the chain can be opened again. */
void chain_free_filters(struct chain *ch);
static inline void chain_close(struct chain *ch)
{
    if (ch->first)
        chain_free_filters(ch); /* an exchange without filters pays nothing here */
    ch->failed = ch->ended = false;
}

/* For filters: passes a piece to the next node (or the sink). A -1 from
   there fails the chain; once failed, -1 without calling anything. The
   same holds for filter_end. */
int filter_pass(struct filter *f, const struct piece *pc);
/* For filters: the body ends after what f passed. */
int filter_end(struct filter *f);
/* For filters: why a body failed, for the log (one loop, one message at a
   time: the text is copied, and read back by whoever saw the -1 with
   filter_why(), which is "" when no filter said). */
void filter_set_why(const char *why);
const char *filter_why(void);
/* For filters: whether the nodes after f take more now. */
bool filter_room(const struct filter *f);

/* Convenience for producers. */
static inline struct piece piece_mem(const void *p, size_t n, bool held)
{
    return (struct piece){.kind = PIECE_MEM, .held = held, .p = p, .fd = -1, .len = n};
}
static inline struct piece piece_file(int fd, uint64_t off, uint64_t len)
{
    return (struct piece){.kind = PIECE_FILE, .held = true, .fd = fd, .off = off, .len = len};
}

/*
 * The lists magpie opens, in order: the fetch chain's (once per fetch,
 * from the origin's response to the store writer and the leader's
 * delivery) and the deliver chain's (per client, from the stored or
 * fetched bytes to the client writer). A filter joins by one line in
 * filter.c.
 */
extern const struct filter_ops *const filter_fetch_list[];
extern const size_t filter_fetch_count;
extern const struct filter_ops *const filter_deliver_list[];
extern const size_t filter_deliver_count;

#endif
