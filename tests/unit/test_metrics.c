/*
 * test_metrics.c - metrics.c: where an exchange is counted (method, status
 * class, cache result, duration bucket, bytes) and the exposition text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"
#include "proxy.h"
#include "server.h"

#include "rows.h"

static void test_counting(void **state)
{
    static const struct {
        enum http_method_id method;
        int status;
        enum cache_result result;
        double seconds;
        unsigned cls;
        size_t bucket;
    } rows[] = {
        {HTTP_M_GET, 200, CACHE_HIT, 0.0001, 1, 0},
        {HTTP_M_GET, 200, CACHE_HIT, 0.0005, 1, 0}, /* on a bound: that bucket */
        {HTTP_M_HEAD, 304, CACHE_REVALIDATED, 0.003, 2, 3},
        {HTTP_M_POST, 502, CACHE_BYPASS, 0.2, 4, 8},
        {HTTP_M_CONNECT, 200, CACHE_NONE, 30, 1, METRICS_BUCKETS}, /* past the last: +Inf */
        {HTTP_M_OTHER, 0, CACHE_MISS, 0, 5, 0},                    /* no status sent */
        {HTTP_M_PURGE, 404, CACHE_NONE, 0.01, 3, 4},
    };
    static struct server srv;
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct exchange ex = {.method_id = rows[i].method,
                              .status = rows[i].status,
                              .bytes_sent = 100,
                              .bytes_received = 7};
        ex.cx.result = rows[i].result;
        struct metrics before = srv.metrics;
        metrics_exchange(&srv.metrics, &ex, rows[i].seconds);
        if (srv.metrics.requests[rows[i].method][rows[i].cls][rows[i].result] !=
            before.requests[rows[i].method][rows[i].cls][rows[i].result] + 1)
            row_fail("row %zu: not counted under its labels", i);
        if (srv.metrics.duration.count[rows[i].bucket] != before.duration.count[rows[i].bucket] + 1)
            row_fail("row %zu: not in bucket %zu", i, rows[i].bucket);
    }
    if (srv.metrics.bytes_sent != 700 || srv.metrics.bytes_received != 49)
        row_fail("bytes: %llu sent, %llu received", (unsigned long long)srv.metrics.bytes_sent,
                 (unsigned long long)srv.metrics.bytes_received);
    struct buf out;
    buf_init(&out, 1 << 20);
    assert_int_equal(metrics_render(&srv, &out), 0);
    assert_int_equal(buf_append(&out, "", 1), 0);
    const char *text = buf_head(&out);
    static const char *const want[] = {
        "# TYPE magpie_requests_total counter\n",
        "magpie_requests_total{method=\"GET\",code=\"2xx\",cache=\"HIT\"} 2\n",
        "magpie_requests_total{method=\"HEAD\",code=\"3xx\",cache=\"REVALIDATED\"} 1\n",
        "magpie_requests_total{method=\"other\",code=\"other\",cache=\"MISS\"} 1\n",
        "# TYPE magpie_request_duration_seconds histogram\n",
        "magpie_request_duration_seconds_bucket{le=\"0.0005\"} 3\n", /* cumulative */
        "magpie_request_duration_seconds_bucket{le=\"10\"} 6\n",
        "magpie_request_duration_seconds_bucket{le=\"+Inf\"} 7\n",
        "magpie_request_duration_seconds_count 7\n",
        "magpie_sent_bytes_total 700\n",
        "magpie_received_bytes_total 49\n",
        "magpie_cache_objects 0\n",
        "magpie_build_info{version=\"" MAGPIE_VERSION "\"} 1\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(text, want[i]))
            row_fail("missing %s", want[i]);
    size_t lines = 0;
    for (const char *l = strstr(text, "\nmagpie_requests_total{"); l;
         l = strstr(l + 1, "\nmagpie_requests_total{")) {
        lines++;
        const char *end = strchr(l + 1, '\n');
        if (end && end - l > 2 && end[-1] == '0' && end[-2] == ' ')
            row_fail("a combination never seen is printed");
    }
    if (lines != 6) /* the seven rows, two of them the same labels */
        row_fail("%zu request lines, want 6", lines);
    buf_free(&out);
    rows_done();
}

/* Every family the exposition promises, with its type, and a labelled
   sample each: what a dashboard finds by name. */
static void test_families(void **state)
{
    static const char *const families[][2] = {
        {"magpie_upstream_connect_seconds", "histogram"},
        {"magpie_upstream_first_byte_seconds", "histogram"},
        {"magpie_upstream_connections_open", "gauge"},
        {"magpie_upstream_connections_idle", "gauge"},
        {"magpie_upstream_connections_new_total", "counter"},
        {"magpie_upstream_connections_reused_total", "counter"},
        {"magpie_upstream_queue_waiting", "gauge"},
        {"magpie_upstream_queued_total", "counter"},
        {"magpie_dns_queries_total", "counter"},
        {"magpie_dns_cache_hits_total", "counter"},
        {"magpie_dns_failures_total", "counter"},
        {"magpie_cache_memory_bytes", "gauge"},
        {"magpie_cache_stores_total", "counter"},
        {"magpie_cache_store_failures_total", "counter"},
        {"magpie_cache_evictions_total", "counter"},
        {"magpie_cache_revalidations_total", "counter"},
        {"magpie_cache_collapsed_total", "counter"},
        {"magpie_connections_closed_total", "counter"},
        {"magpie_tls_handshakes_total", "counter"},
        {"magpie_tls_handshake_failures_total", "counter"},
    };
    static struct server srv;
    (void)state;
    metrics_observe(&srv.metrics.connect, 0.0002);
    metrics_observe(&srv.metrics.connect, 0.03);
    metrics_observe(&srv.metrics.first_byte, -1); /* a clock step back: 0, in the first bucket */
    srv.metrics.closed[CLOSE_IDLE_TIMEOUT] = 3;
    srv.metrics.closed[CLOSE_BAD_REQUEST] = 1;
    srv.metrics.tls_failed[METRICS_ORIGIN] = 2;
    srv.metrics.revalidated = 5;
    struct buf out;
    buf_init(&out, 1 << 20);
    assert_int_equal(metrics_render(&srv, &out), 0);
    assert_int_equal(buf_append(&out, "", 1), 0);
    const char *text = buf_head(&out);
    char want[256];
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        snprintf(want, sizeof(want), "# TYPE %s %s\n", families[i][0], families[i][1]);
        if (!strstr(text, want))
            row_fail("missing %s", want);
    }
    static const char *const samples[] = {
        "magpie_upstream_connect_seconds_bucket{le=\"0.0005\"} 1\n",
        "magpie_upstream_connect_seconds_bucket{le=\"0.025\"} 1\n",
        "magpie_upstream_connect_seconds_bucket{le=\"0.05\"} 2\n",
        "magpie_upstream_connect_seconds_count 2\n",
        "magpie_upstream_connect_seconds_sum 0.030200\n",
        "magpie_upstream_first_byte_seconds_bucket{le=\"0.0005\"} 1\n",
        "magpie_upstream_first_byte_seconds_sum 0.000000\n",
        "magpie_request_duration_seconds_count 0\n",
        "magpie_connections_closed_total{reason=\"idle_timeout\"} 3\n",
        "magpie_connections_closed_total{reason=\"bad_request\"} 1\n",
        "magpie_connections_closed_total{reason=\"client_closed\"} 0\n", /* zero too */
        "magpie_tls_handshake_failures_total{side=\"origin\"} 2\n",
        "magpie_tls_handshake_failures_total{side=\"client\"} 0\n",
        "magpie_cache_revalidations_total{result=\"not_modified\"} 5\n",
        "magpie_cache_revalidations_total{result=\"full\"} 0\n",
        "magpie_upstream_connections_open 0\n", /* no pool: zero, not absent */
        "magpie_dns_queries_total 0\n",
    };
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
        if (!strstr(text, samples[i]))
            row_fail("missing %s", samples[i]);
    size_t reasons = 0;
    for (const char *l = strstr(text, "\nmagpie_connections_closed_total{"); l;
         l = strstr(l + 1, "\nmagpie_connections_closed_total{"))
        reasons++;
    if (reasons != CLOSE_REASONS)
        row_fail("%zu close reasons printed, want all %d", reasons, CLOSE_REASONS);
    buf_free(&out);
    rows_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_counting, rows_reset),
        cmocka_unit_test_setup(test_families, rows_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
