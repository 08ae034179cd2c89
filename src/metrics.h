/*
 * metrics.h - counters for GET /metrics on an admin listener (admin.c):
 * plain integers in struct server, bumped where things happen (no
 * allocation, no lock, no formatting), turned into Prometheus text
 * exposition format 0.0.4 only when scraped.
 */
#ifndef MAGPIE_METRICS_H
#define MAGPIE_METRICS_H

#include <stdint.h>

#include "cache/cache.h"
#include "close_reason.h"
#include "http.h"

#define METRICS_METHODS (HTTP_M_PURGE + 1)
#define METRICS_CLASSES 6 /* 1xx..5xx, then anything else (none sent) */
#define METRICS_RESULTS (CACHE_REDIRECT + 1)
#define METRICS_BUCKETS 14 /* one set of bounds for every histogram (metrics.c) */

/* Seconds, counted per bucket (not cumulative: rendering adds them up). */
struct metrics_hist {
    uint64_t count[METRICS_BUCKETS + 1]; /* the last: past every bound (+Inf) */
    double sum;
};

enum metrics_side { METRICS_CLIENT, METRICS_ORIGIN, METRICS_SIDES };

struct metrics {
    uint64_t requests[METRICS_METHODS][METRICS_CLASSES][METRICS_RESULTS];
    uint64_t bytes_sent, bytes_received;
    struct metrics_hist duration;   /* a request's first byte to its answer's end */
    struct metrics_hist connect;    /* new origin connections: TCP, then TLS for https */
    struct metrics_hist first_byte; /* request starts out, first response byte in */
    uint64_t accepted, refused_acl, refused_limit;
    uint64_t closed[CLOSE_REASONS];         /* client connections, by why (client_close) */
    uint64_t upstream_new, upstream_reused; /* requests on a new or a pooled origin connection */
    uint64_t tls_done[METRICS_SIDES], tls_failed[METRICS_SIDES];
    uint64_t revalidated, revalidation_full; /* stale entries asked again: 304, or anything else */
    uint64_t collapsed;                      /* requests that followed another's fetch */
    uint64_t admin_requests;
    uint64_t auth_failures; /* requests refused for wrong proxy credentials (auth.c) */
};

struct buf;
struct exchange;
struct server;

/* A request answered (or cut short): its method, status, cache result,
   bytes and how long it took, in seconds. */
void metrics_exchange(struct metrics *m, const struct exchange *ex, double seconds);
/* One observation of seconds (negative ones, from a clock step, count as 0). */
void metrics_observe(struct metrics_hist *h, double seconds);
/* The whole exposition into out. 0, or -1 when it does not fit. */
int metrics_render(const struct server *srv, struct buf *out);

#endif
