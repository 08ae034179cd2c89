/*
 * metrics.c - the counters behind GET /metrics (metrics.h), and their
 * rendering as Prometheus text exposition format 0.0.4.
 */
#include "metrics.h"

#include <string.h>

#include "buf.h"
#include "cache/store.h"
#include "dns.h"
#include "pool.h"
#include "proxy.h"
#include "server.h"

/* Upper bounds of every histogram's buckets, seconds: from a loopback
   connect (well under a millisecond) to an origin's slowest answer. */
static const double metrics_bounds[METRICS_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

void metrics_observe(struct metrics_hist *h, double seconds)
{
    size_t b = 0;
    while (b < METRICS_BUCKETS && seconds > metrics_bounds[b])
        b++;
    h->count[b]++;
    h->sum += seconds > 0 ? seconds : 0;
}

void metrics_exchange(struct metrics *m, const struct exchange *ex, double seconds)
{
    unsigned cls = ex->status >= 100 && ex->status < 600 ? (unsigned)ex->status / 100 - 1 : 5;
    unsigned method = ex->method_id < METRICS_METHODS ? ex->method_id : HTTP_M_OTHER;
    unsigned result = ex->cx.result < METRICS_RESULTS ? ex->cx.result : CACHE_NONE;
    m->requests[method][cls][result]++;
    m->bytes_sent += ex->bytes_sent;
    m->bytes_received += ex->bytes_received;
    metrics_observe(&m->duration, seconds);
}

static const char *metrics_method(unsigned m)
{
    switch ((enum http_method_id)m) {
    case HTTP_M_OTHER:
        return "other";
    case HTTP_M_GET:
        return "GET";
    case HTTP_M_HEAD:
        return "HEAD";
    case HTTP_M_POST:
        return "POST";
    case HTTP_M_PUT:
        return "PUT";
    case HTTP_M_CONNECT:
        return "CONNECT";
    case HTTP_M_DELETE:
        return "DELETE";
    case HTTP_M_OPTIONS:
        return "OPTIONS";
    case HTTP_M_TRACE:
        return "TRACE";
    case HTTP_M_PURGE:
        return "PURGE";
    }
    return "other";
}

static int metrics_head(struct buf *out, const char *name, const char *type, const char *help)
{
    return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int metrics_requests(const struct metrics *m, struct buf *out)
{
    static const char *const classes[METRICS_CLASSES] = {"1xx", "2xx", "3xx",
                                                         "4xx", "5xx", "other"};
    int rc = metrics_head(out, "magpie_requests_total", "counter",
                          "Requests answered, by method, status class and cache result.");
    for (unsigned i = 0; i < METRICS_METHODS; i++)
        for (unsigned k = 0; k < METRICS_CLASSES; k++)
            for (unsigned r = 0; r < METRICS_RESULTS; r++)
                if (m->requests[i][k][r])
                    rc |= buf_printf(out,
                                     "magpie_requests_total{method=\"%s\",code=\"%s\","
                                     "cache=\"%s\"} %llu\n",
                                     metrics_method(i), classes[k],
                                     cache_result_name((enum cache_result)r),
                                     (unsigned long long)m->requests[i][k][r]);
    return rc;
}

static int metrics_histogram(struct buf *out, const char *name, const char *help,
                             const struct metrics_hist *h)
{
    int rc = metrics_head(out, name, "histogram", help);
    uint64_t n = 0;
    for (size_t b = 0; b < METRICS_BUCKETS; b++) {
        n += h->count[b];
        rc |= buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, metrics_bounds[b],
                         (unsigned long long)n);
    }
    n += h->count[METRICS_BUCKETS];
    rc |= buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
                     (unsigned long long)n, name, h->sum, name, (unsigned long long)n);
    return rc;
}

static int metrics_histograms(const struct metrics *m, struct buf *out)
{
    return metrics_histogram(out, "magpie_request_duration_seconds",
                             "Time from a request's first byte to the end of its answer.",
                             &m->duration) |
           metrics_histogram(out, "magpie_upstream_connect_seconds",
                             "New origin connections (tunnels' too): from connect() on the "
                             "address that answered to ready, TCP and, for https, the TLS "
                             "handshake.",
                             &m->connect) |
           metrics_histogram(out, "magpie_upstream_first_byte_seconds",
                             "From a request starting out on a ready origin connection to the "
                             "first byte of its response.",
                             &m->first_byte);
}

/* One sample without labels, of type "counter" or "gauge". */
static int metrics_one(struct buf *out, const char *type, const char *name, const char *help,
                       uint64_t v)
{
    return metrics_head(out, name, type, help) |
           buf_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

#define metrics_counter(out, ...) metrics_one(out, "counter", __VA_ARGS__)
#define metrics_gauge(out, ...) metrics_one(out, "gauge", __VA_ARGS__)

/* One sample of a labelled family, after its head. */
static int metrics_labelled(struct buf *out, const char *name, const char *label, const char *value,
                            uint64_t v)
{
    return buf_printf(out, "%s{%s=\"%s\"} %llu\n", name, label, value, (unsigned long long)v);
}

/* Every reason, zero included, so a dashboard sees the whole table. */
static int metrics_closes(const struct metrics *m, struct buf *out)
{
    static const char *const labels[CLOSE_REASONS] = {
#define X(name, label, text) label,
        CLOSE_REASON_TABLE(X)
#undef X
    };
    const char *name = "magpie_connections_closed_total";
    int rc = metrics_head(out, name, "counter", "Client connections closed, by why.");
    for (size_t r = 0; r < CLOSE_REASONS; r++)
        rc |= metrics_labelled(out, name, "reason", labels[r], m->closed[r]);
    return rc;
}

static int metrics_upstream(const struct server *srv, struct buf *out)
{
    static const struct pool_stats none;
    const struct metrics *m = &srv->metrics;
    const struct pool_stats *p = srv->pool ? pool_stats(srv->pool) : &none;
    const char *tls = "magpie_tls_handshakes_total", *tls_f = "magpie_tls_handshake_failures_total";
    int rc = metrics_gauge(out, "magpie_upstream_connections_open",
                           "Pooled origin connections open: connecting, busy or idle.", p->open);
    rc |= metrics_gauge(out, "magpie_upstream_connections_idle",
                        "Origin connections idle in the pool.", p->idle);
    rc |= metrics_counter(out, "magpie_upstream_connections_new_total",
                          "Requests sent on a new origin connection (tunnels not counted).",
                          m->upstream_new);
    rc |= metrics_counter(out, "magpie_upstream_connections_reused_total",
                          "Requests sent on a pooled origin connection.", m->upstream_reused);
    rc |= metrics_gauge(out, "magpie_upstream_queue_waiting",
                        "Requests waiting now for a connection slot (pool.max_per_origin).",
                        p->waiting);
    rc |= metrics_counter(out, "magpie_upstream_queued_total",
                          "Requests that had to wait for a connection slot.", p->queued);
    rc |= metrics_head(out, tls, "counter",
                       "TLS handshakes completed, with clients (a TLS "
                       "listener) and with origins.") |
          metrics_labelled(out, tls, "side", "client", m->tls_done[METRICS_CLIENT]) |
          metrics_labelled(out, tls, "side", "origin", m->tls_done[METRICS_ORIGIN]);
    rc |= metrics_head(out, tls_f, "counter", "TLS handshakes that failed or could not start.") |
          metrics_labelled(out, tls_f, "side", "client", m->tls_failed[METRICS_CLIENT]) |
          metrics_labelled(out, tls_f, "side", "origin", m->tls_failed[METRICS_ORIGIN]);
    return rc;
}

static int metrics_dns(const struct server *srv, struct buf *out)
{
    static const struct dns_stats none;
    const struct dns_stats *d = srv->dns ? dns_stats(srv->dns) : &none;
    return metrics_counter(out, "magpie_dns_queries_total",
                           "Name lookups sent to the resolver (one per name, shared by the "
                           "requests waiting on it).",
                           d->queries) |
           metrics_counter(out, "magpie_dns_cache_hits_total",
                           "Names answered from the DNS cache, negative answers included.",
                           d->cache_hits) |
           metrics_counter(out, "magpie_dns_failures_total",
                           "Lookups answered with an error (no such host, timeout, failure), "
                           "and waits given up at dns.timeout.",
                           d->failures);
}

static int metrics_cache(const struct server *srv, struct buf *out)
{
    const struct metrics *m = &srv->metrics;
    struct store_stats st = {0};
    if (srv->store)
        store_stats_get(srv->store, &st);
    const char *rv = "magpie_cache_revalidations_total";
    int rc = metrics_gauge(out, "magpie_cache_objects", "Responses in the disk store.", st.objects);
    rc |=
        metrics_gauge(out, "magpie_cache_bytes", "Bytes the disk store's objects take.", st.bytes);
    rc |= metrics_gauge(out, "magpie_cache_memory_bytes",
                        "Bytes of the copies in the memory tier (cache.memory_size).",
                        st.memory_bytes);
    rc |=
        metrics_counter(out, "magpie_cache_stores_total",
                        "Objects written to the store: responses and refreshed heads.", st.stored);
    rc |= metrics_counter(out, "magpie_cache_store_failures_total",
                          "Writes to the store abandoned for an I/O error (disk full...).",
                          st.write_errors);
    rc |= metrics_counter(out, "magpie_cache_evictions_total",
                          "Objects removed to stay under cache.max_size or the variant cap.",
                          st.evicted);
    rc |= metrics_head(out, rv, "counter",
                       "Conditional requests sent for stale entries, by answer: 304 "
                       "(not_modified) or any other (full).") |
          metrics_labelled(out, rv, "result", "not_modified", m->revalidated) |
          metrics_labelled(out, rv, "result", "full", m->revalidation_full);
    rc |= metrics_counter(out, "magpie_cache_collapsed_total",
                          "Requests that waited on another request's fetch of the same key.",
                          m->collapsed);
    return rc;
}

int metrics_render(const struct server *srv, struct buf *out)
{
    const struct metrics *m = &srv->metrics;
    int rc = metrics_head(out, "magpie_build_info", "gauge", "The running version.") |
             buf_printf(out, "magpie_build_info{version=\"%s\"} 1\n", MAGPIE_VERSION);
    rc |= metrics_requests(m, out) | metrics_histograms(m, out);
    rc |= metrics_counter(out, "magpie_sent_bytes_total",
                          "Bytes sent to clients: heads, framing and bodies.", m->bytes_sent);
    rc |=
        metrics_counter(out, "magpie_received_bytes_total",
                        "Request body and tunnel bytes received from clients.", m->bytes_received);
    rc |= metrics_counter(out, "magpie_connections_accepted_total", "Client connections accepted.",
                          m->accepted);
    rc |= metrics_head(out, "magpie_connections_refused_total", "counter",
                       "Client connections answered 403 (acl) or 503 (over max_connections).") |
          buf_printf(out,
                     "magpie_connections_refused_total{reason=\"acl\"} %llu\n"
                     "magpie_connections_refused_total{reason=\"limit\"} %llu\n",
                     (unsigned long long)m->refused_acl, (unsigned long long)m->refused_limit);
    rc |= metrics_gauge(out, "magpie_connections_open",
                        "Client connections open, background fetches included.", srv->nclients);
    rc |= metrics_closes(m, out) | metrics_upstream(srv, out) | metrics_dns(srv, out);
    rc |= metrics_cache(srv, out);
    rc |= metrics_counter(out, "magpie_admin_requests_total", "Requests to the admin listeners.",
                          m->admin_requests);
    rc |= metrics_counter(out, "magpie_auth_failures_total",
                          "Requests refused for wrong proxy credentials (407, auth.basic), or "
                          "unchecked from an address that failed too often (429).",
                          m->auth_failures);
    rc |= metrics_gauge(out, "magpie_draining", "1 while stopping (SIGTERM).", srv->draining);
    return rc < 0 ? -1 : 0;
}
