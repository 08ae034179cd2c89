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
        if (srv.metrics.duration[rows[i].bucket] != before.duration[rows[i].bucket] + 1)
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_counting, rows_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
