/*
 * cache/flight.c - a collapsed fetch apart from its leader's client. While
 * a streaming fetch (cache.c, struct cache_flight) fills the object file,
 * the origin is read at its own pace: once the leader's client buffer is
 * full, the leader reads the rest of the body from the file from its own
 * offset, as its followers do, and after the fetch ended it finishes as a
 * hit (CS_DELIVER, exchange.c). When the leader's client goes away, the fetch goes on
 * without it to the end (client.c makes it a phantom), so followers finish
 * and the object is stored.
 *
 * Registering fetches, followers and storing are cache.c; sending from the
 * file is serve.c.
 */
#include "cache/cache_int.h"
#include "log.h"
#include "proxy.h"

static struct cache_flight *cache_led_flight(const struct client *c)
{
    struct cache_flight *f = c->ex->cx.flight;
    return f && f->leader == c && c->ex->cx.role != ROLE_FOLLOWER ? f : NULL;
}

bool cache_leader_unpace(struct client *c)
{
    struct cache_xchg *x = &c->ex->cx;
    if (x->role == ROLE_BEHIND)
        return true;
    struct cache_flight *f = cache_led_flight(c);
    if (c->phantom || !f || !f->streaming || !x->writer || c->ex->framing != HTTP_FRAME_LENGTH ||
        x->written > f->total)
        return false;
    uint64_t body_off;
    store_obj_close(&x->obj);
    x->obj.fd = store_writer_reader(x->writer, &body_off);
    if (x->obj.fd < 0)
        return false;
    x->obj.body_off = body_off;
    x->obj.body_len = f->total;
    /* every body byte stored so far also went into the client buffer */
    x->body_off = x->written;
    x->body_left = f->total - x->written;
    x->avail = x->written;
    x->role = ROLE_BEHIND;
    log_debug("#%llu %s: behind its fetch of %s at %llu bytes: reading the file", c->id,
              c->addr_text, x->key, (unsigned long long)x->written);
    return true;
}

bool cache_leader_catch_up(struct client *c)
{
    struct cache_xchg *x = &c->ex->cx;
    bool more = x->role == ROLE_BEHIND && x->body_left > 0;
    x->role = ROLE_OWN; /* the file is complete: a hit from here on */
    return more;
}

bool cache_fetch_outlives(const struct client *c)
{
    const struct cache_xchg *x = &c->ex->cx;
    if (x->writer)
        return true;
    const struct cache_flight *f = cache_led_flight(c);
    return f && f->followers && !c->ex->rsp_head_sent;
}

void cache_leader_detach(struct client *c)
{
    struct cache_xchg *x = &c->ex->cx;
    if (x->role != ROLE_BEHIND)
        return;
    store_obj_close(&x->obj);
    x->role = ROLE_OWN;
    x->body_left = 0;
}
