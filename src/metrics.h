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
#include "http.h"

#define METRICS_METHODS (HTTP_M_PURGE + 1)
#define METRICS_CLASSES 6 /* 1xx..5xx, then anything else (none sent) */
#define METRICS_RESULTS (CACHE_REDIRECT + 1)
#define METRICS_BUCKETS 14 /* request durations, METRICS_BOUNDS */

struct metrics {
    uint64_t requests[METRICS_METHODS][METRICS_CLASSES][METRICS_RESULTS];
    uint64_t bytes_sent, bytes_received;
    uint64_t duration[METRICS_BUCKETS + 1]; /* per bucket, not cumulative; the last +Inf */
    double duration_sum;
    uint64_t accepted, refused_acl, refused_limit;
    uint64_t admin_requests;
    uint64_t auth_failures; /* requests refused for wrong proxy credentials (auth.c) */
};

struct buf;
struct exchange;
struct server;

/* A request answered (or cut short): its method, status, cache result,
   bytes and how long it took, in seconds. */
void metrics_exchange(struct metrics *m, const struct exchange *ex, double seconds);
/* The whole exposition into out. 0, or -1 when it does not fit. */
int metrics_render(const struct server *srv, struct buf *out);

#endif
