/*
 * metrics.c - the counters behind GET /metrics (metrics.h), and their
 * rendering as Prometheus text exposition format 0.0.4.
 */
#include "metrics.h"

#include <string.h>

#include "buf.h"
#include "cache/store.h"
#include "proxy.h"
#include "server.h"

/* Upper bounds of the request duration buckets, seconds. */
static const double metrics_bounds[METRICS_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

void metrics_exchange(struct metrics *m, const struct exchange *ex, double seconds)
{
    unsigned cls = ex->status >= 100 && ex->status < 600 ? (unsigned)ex->status / 100 - 1 : 5;
    unsigned method = ex->method_id < METRICS_METHODS ? ex->method_id : HTTP_M_OTHER;
    unsigned result = ex->cx.result < METRICS_RESULTS ? ex->cx.result : CACHE_NONE;
    m->requests[method][cls][result]++;
    m->bytes_sent += ex->bytes_sent;
    m->bytes_received += ex->bytes_received;
    size_t b = 0;
    while (b < METRICS_BUCKETS && seconds > metrics_bounds[b])
        b++;
    m->duration[b]++;
    m->duration_sum += seconds > 0 ? seconds : 0;
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

static int metrics_durations(const struct metrics *m, struct buf *out)
{
    const char *name = "magpie_request_duration_seconds";
    int rc = metrics_head(out, name, "histogram",
                          "Time from a request's first byte to the end of its answer.");
    uint64_t n = 0;
    for (size_t b = 0; b < METRICS_BUCKETS; b++) {
        n += m->duration[b];
        rc |= buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, metrics_bounds[b],
                         (unsigned long long)n);
    }
    n += m->duration[METRICS_BUCKETS];
    rc |= buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
                     (unsigned long long)n, name, m->duration_sum, name, (unsigned long long)n);
    return rc;
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

int metrics_render(const struct server *srv, struct buf *out)
{
    const struct metrics *m = &srv->metrics;
    uint64_t objects = 0, bytes = 0;
    if (srv->store)
        store_usage(srv->store, &objects, &bytes);
    int rc = metrics_head(out, "magpie_build_info", "gauge", "The running version.") |
             buf_printf(out, "magpie_build_info{version=\"%s\"} 1\n", MAGPIE_VERSION);
    rc |= metrics_requests(m, out) | metrics_durations(m, out);
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
    rc |= metrics_gauge(out, "magpie_cache_objects", "Responses in the disk store.", objects);
    rc |= metrics_gauge(out, "magpie_cache_bytes", "Bytes the disk store's objects take.", bytes);
    rc |= metrics_counter(out, "magpie_admin_requests_total", "Requests to the admin listeners.",
                          m->admin_requests);
    rc |= metrics_counter(out, "magpie_auth_failures_total",
                          "Requests refused for wrong proxy credentials (407, auth.basic), or "
                          "unchecked from an address that failed too often (429).",
                          m->auth_failures);
    rc |= metrics_gauge(out, "magpie_draining", "1 while stopping (SIGTERM).", srv->draining);
    return rc < 0 ? -1 : 0;
}
