/*
 * pool.h - bookkeeping of upstream keep-alive connections per origin, with
 * no sockets in it: how many connections an origin has open, which are
 * idle, and who waits for one. upstream.c embeds a pool_conn in each
 * origin connection and a pool_waiter in each exchange.
 *
 * An origin is keyed by "scheme://host:port" (plus anything else that must
 * not be shared, such as a TLS verification opt-out). Its open connections
 * (connecting, busy or idle) never exceed max_per_origin; requests beyond
 * that wait in FIFO order.
 */
#ifndef MAGPIE_POOL_H
#define MAGPIE_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool_origin;

struct pool_conn {
    struct pool_origin *origin; /* non-NULL iff counted in an origin */
    struct pool_conn *prev, *next; /* in the origin's idle list iff idle */
    bool idle;
    double idle_since;
};

struct pool_waiter {
    struct pool_origin *origin; /* set by pool_acquire() */
    struct pool_waiter *prev, *next;
    bool queued;
    bool fresh; /* wants a new connection, not an idle one (a retry) */
};

struct pool_ops {
    /* The pool drops an idle connection (expired, over the idle cap, or the
       pool is freed): close and free it. */
    void (*close)(struct pool_conn *pc);
    /*
     * A queued waiter's turn: pc is an idle connection now owned by the
     * waiter, or NULL when a slot is reserved for it to open a new one
     * (bound with pool_conn_add(), or given back with pool_remove_reserved()
     * when no connection takes it). Called from inside pool functions: defer
     * real work to the loop.
     */
    void (*grant)(struct pool_waiter *w, struct pool_conn *pc);
};

struct pool_limits {
    unsigned max_per_origin;
    unsigned max_idle_per_origin;
};

enum pool_result {
    POOL_REUSE,   /* *out is an idle connection, now the caller's */
    POOL_CONNECT, /* open a new connection and pool_conn_add() it */
    POOL_WAIT,    /* queued; ops->grant() will be called */
    POOL_NOMEM,
};

struct pool;

struct pool *pool_new(const struct pool_ops *ops);
/* Closes every idle connection; busy ones must have been removed. */
void pool_free(struct pool *p);

enum pool_result pool_acquire(struct pool *p, const char *key, const struct pool_limits *lim,
                              struct pool_waiter *w, struct pool_conn **out);
/* Leaves the queue (the waiter gave up); a no-op if not queued. */
void pool_cancel(struct pool *p, struct pool_waiter *w);
/*
 * Binds a new connection to the slot that POOL_CONNECT or a NULL grant
 * reserved for the waiter. Until pool_remove(), it counts against the cap.
 */
void pool_conn_add(struct pool *p, struct pool_waiter *w, struct pool_conn *pc);
/*
 * A busy connection is done with. Returns true when the pool kept it (idle,
 * or handed to a waiter); false when the caller must close it, the pool
 * having already forgotten it.
 */
bool pool_release(struct pool *p, struct pool_conn *pc, bool reusable,
                  const struct pool_limits *lim, double now);
/* Gives back a slot reserved for the waiter that no connection took. */
void pool_remove_reserved(struct pool *p, struct pool_waiter *w);
/* A connection goes away (failed, closed by the origin, idle close). */
void pool_remove(struct pool *p, struct pool_conn *pc);
/* Closes idle connections idle for idle_timeout or longer. */
void pool_expire(struct pool *p, double now, double idle_timeout);

/* Totals over every origin, for GET /metrics: kept as the pool changes,
   so reading them walks nothing. */
struct pool_stats {
    uint64_t open;    /* connections bound to a slot: connecting, busy or idle */
    uint64_t idle;    /* of those, in an idle list */
    uint64_t waiting; /* waiters queued now */
    uint64_t queued;  /* waiters ever queued */
};
const struct pool_stats *pool_stats(const struct pool *p);

/* Counts, for metrics, logs and tests. */
unsigned pool_open_count(struct pool *p, const char *key);
unsigned pool_idle_count(struct pool *p, const char *key);
unsigned pool_waiting_count(struct pool *p, const char *key);
/* Per-origin data kept while the origin has connections (a TLS session). */
void **pool_origin_data(struct pool_origin *o);
void pool_set_data_free(struct pool *p, void (*data_free)(void *));

#endif
