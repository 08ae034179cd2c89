/*
 * pool.c - per-origin connection bookkeeping: open counts against the cap,
 * idle lists (most recently used first out, oldest first expired), and
 * FIFO wait queues. Origins live in a hash table while they have a
 * connection or a waiter, and are freed as soon as they have neither, so a
 * forward proxy visiting many hosts holds nothing for the ones it left.
 */
#include "pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define POOL_BUCKETS 1024

struct pool_origin {
    struct pool_origin *hnext; /* hash chain */
    char *key;
    unsigned nopen; /* connecting, busy or idle, plus reserved slots */
    unsigned nidle;
    struct pool_conn *idle_head, *idle_tail; /* oldest first */
    struct pool_waiter *wait_head, *wait_tail;
    unsigned nwait;
    void *data;
    struct pool *pool; /* for its totals */
};

struct pool {
    const struct pool_ops *ops;
    struct pool_stats stats;
    void (*data_free)(void *);
    struct pool_origin *buckets[POOL_BUCKETS];
};

static uint32_t pool_hash(const char *s)
{
    return (uint32_t)hash_fnv1a(s, 0);
}

struct pool *pool_new(const struct pool_ops *ops)
{
    struct pool *p = calloc(1, sizeof(*p));
    if (p)
        p->ops = ops;
    return p;
}

void pool_set_data_free(struct pool *p, void (*data_free)(void *))
{
    p->data_free = data_free;
}

static struct pool_origin *pool_find(struct pool *p, const char *key)
{
    for (struct pool_origin *o = p->buckets[pool_hash(key) % POOL_BUCKETS]; o; o = o->hnext)
        if (strcmp(o->key, key) == 0)
            return o;
    return NULL;
}

static struct pool_origin *pool_get(struct pool *p, const char *key)
{
    struct pool_origin *o = pool_find(p, key);
    if (o)
        return o;
    o = calloc(1, sizeof(*o));
    if (!o || !(o->key = strdup(key))) {
        free(o);
        return NULL;
    }
    uint32_t b = pool_hash(key) % POOL_BUCKETS;
    o->hnext = p->buckets[b];
    o->pool = p;
    p->buckets[b] = o;
    return o;
}

/* Frees an origin that has nothing left. */
static void pool_gc(struct pool *p, struct pool_origin *o)
{
    if (o->nopen > 0 || o->nwait > 0)
        return;
    struct pool_origin **pp = &p->buckets[pool_hash(o->key) % POOL_BUCKETS];
    while (*pp != o)
        pp = &(*pp)->hnext;
    *pp = o->hnext;
    if (o->data && p->data_free)
        p->data_free(o->data);
    free(o->key);
    free(o);
}

static void pool_idle_unlink(struct pool_origin *o, struct pool_conn *pc)
{
    if (pc->prev)
        pc->prev->next = pc->next;
    else
        o->idle_head = pc->next;
    if (pc->next)
        pc->next->prev = pc->prev;
    else
        o->idle_tail = pc->prev;
    pc->prev = pc->next = NULL;
    pc->idle = false;
    o->nidle--;
    o->pool->stats.idle--;
}

static void pool_idle_push(struct pool_origin *o, struct pool_conn *pc, double now)
{
    pc->idle = true;
    pc->idle_since = now;
    pc->next = NULL;
    pc->prev = o->idle_tail;
    if (o->idle_tail)
        o->idle_tail->next = pc;
    else
        o->idle_head = pc;
    o->idle_tail = pc;
    o->nidle++;
    o->pool->stats.idle++;
}

static struct pool_waiter *pool_dequeue(struct pool_origin *o)
{
    struct pool_waiter *w = o->wait_head;
    if (!w)
        return NULL;
    o->wait_head = w->next;
    if (o->wait_head)
        o->wait_head->prev = NULL;
    else
        o->wait_tail = NULL;
    w->prev = w->next = NULL;
    w->queued = false;
    o->nwait--;
    o->pool->stats.waiting--;
    return w;
}

static void pool_enqueue(struct pool_origin *o, struct pool_waiter *w)
{
    w->queued = true;
    w->next = NULL;
    w->prev = o->wait_tail;
    if (o->wait_tail)
        o->wait_tail->next = w;
    else
        o->wait_head = w;
    o->wait_tail = w;
    o->nwait++;
    o->pool->stats.waiting++;
    o->pool->stats.queued++;
}

/* Closes the oldest idle connection to make room; false if none. */
static bool pool_drop_oldest_idle(struct pool *p, struct pool_origin *o)
{
    struct pool_conn *pc = o->idle_head;
    if (!pc)
        return false;
    pool_idle_unlink(o, pc);
    pc->origin = NULL;
    o->nopen--;
    p->stats.open--;
    p->ops->close(pc);
    return true;
}

enum pool_result pool_acquire(struct pool *p, const char *key, const struct pool_limits *lim,
                              struct pool_waiter *w, struct pool_conn **out)
{
    struct pool_origin *o = pool_get(p, key);
    if (!o)
        return POOL_NOMEM;
    w->origin = o;
    if (!w->fresh && o->idle_tail) {
        struct pool_conn *pc = o->idle_tail; /* the warmest */
        pool_idle_unlink(o, pc);
        *out = pc;
        return POOL_REUSE;
    }
    if (o->nopen >= lim->max_per_origin && w->fresh)
        pool_drop_oldest_idle(p, o);
    if (o->nopen < lim->max_per_origin && o->nwait == 0) {
        o->nopen++;
        return POOL_CONNECT;
    }
    pool_enqueue(o, w);
    return POOL_WAIT;
}

void pool_cancel(struct pool *p, struct pool_waiter *w)
{
    struct pool_origin *o = w->origin;
    if (!w->queued || !o)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        o->wait_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        o->wait_tail = w->prev;
    w->prev = w->next = NULL;
    w->queued = false;
    o->nwait--;
    p->stats.waiting--;
    pool_gc(p, o);
}

void pool_conn_add(struct pool *p, struct pool_waiter *w, struct pool_conn *pc)
{
    memset(pc, 0, sizeof(*pc));
    pc->origin = w->origin;
    p->stats.open++;
}

/*
 * A slot freed: the first waiter gets it. Returns true when one did; the
 * caller must then not touch o, which the grant callback may have freed (it
 * may give the slot back with pool_remove_reserved()).
 */
static bool pool_grant_slot(struct pool *p, struct pool_origin *o)
{
    struct pool_waiter *w = pool_dequeue(o);
    if (!w)
        return false;
    o->nopen++;
    p->ops->grant(w, NULL);
    return true;
}

void pool_remove(struct pool *p, struct pool_conn *pc)
{
    struct pool_origin *o = pc->origin;
    if (!o)
        return;
    if (pc->idle)
        pool_idle_unlink(o, pc);
    pc->origin = NULL;
    o->nopen--;
    p->stats.open--;
    if (!pool_grant_slot(p, o))
        pool_gc(p, o);
}

void pool_remove_reserved(struct pool *p, struct pool_waiter *w)
{
    struct pool_origin *o = w->origin;
    if (!o)
        return;
    o->nopen--;
    if (!pool_grant_slot(p, o))
        pool_gc(p, o);
}

bool pool_release(struct pool *p, struct pool_conn *pc, bool reusable,
                  const struct pool_limits *lim, double now)
{
    struct pool_origin *o = pc->origin;
    if (!o)
        return false;
    if (reusable && o->wait_head && !o->wait_head->fresh &&
        o->nopen <= lim->max_per_origin) {
        p->ops->grant(pool_dequeue(o), pc);
        return true;
    }
    if (reusable && !o->wait_head && o->nidle < lim->max_idle_per_origin &&
        o->nopen <= lim->max_per_origin) {
        pool_idle_push(o, pc, now);
        return true;
    }
    pool_remove(p, pc);
    return false;
}

void pool_expire(struct pool *p, double now, double idle_timeout)
{
    for (size_t b = 0; b < POOL_BUCKETS; b++) {
        struct pool_origin *o = p->buckets[b], *next;
        for (; o; o = next) {
            next = o->hnext;
            while (o->idle_head && now - o->idle_head->idle_since >= idle_timeout)
                pool_drop_oldest_idle(p, o);
            pool_gc(p, o);
        }
    }
}

void pool_free(struct pool *p)
{
    if (!p)
        return;
    for (size_t b = 0; b < POOL_BUCKETS; b++) {
        while (p->buckets[b]) {
            struct pool_origin *o = p->buckets[b];
            while (pool_drop_oldest_idle(p, o))
                ;
            p->buckets[b] = o->hnext;
            if (o->data && p->data_free)
                p->data_free(o->data);
            free(o->key);
            free(o);
        }
    }
    free(p);
}

const struct pool_stats *pool_stats(const struct pool *p)
{
    return &p->stats;
}

unsigned pool_open_count(struct pool *p, const char *key)
{
    struct pool_origin *o = pool_find(p, key);
    return o ? o->nopen : 0;
}

unsigned pool_idle_count(struct pool *p, const char *key)
{
    struct pool_origin *o = pool_find(p, key);
    return o ? o->nidle : 0;
}

unsigned pool_waiting_count(struct pool *p, const char *key)
{
    struct pool_origin *o = pool_find(p, key);
    return o ? o->nwait : 0;
}

void **pool_origin_data(struct pool_origin *o)
{
    return &o->data;
}
