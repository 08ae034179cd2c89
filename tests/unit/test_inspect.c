/*
 * test_inspect.c - cache/inspect.c's pure part: a secondary key as the
 * JSON object of request values GET /cache shows, for any bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "buf.h"
#include "cache/inspect.h"

#include "rows.h"

static void test_variant_json(void **state)
{
    static const struct {
        const char *variant, *want;
    } rows[] = {
        {"", "{}"},
        {"accept-encoding:gzip\n", "{\"accept-encoding\":\"gzip\"}"},
        {"accept-encoding\n", "{\"accept-encoding\":null}"}, /* absent */
        {"x:\n", "{\"x\":\"\"}"},                            /* present, empty */
        {"a:1\nb\nc:x:y\n", "{\"a\":\"1\",\"b\":null,\"c\":\"x:y\"}"},
        {"a:\"q\\\x01\xff\n", "{\"a\":\"\\\"q\\\\\\u0001\\u00ff\"}"},
        {"a:1", "{\"a\":\"1\"}"}, /* no final newline */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct buf b;
        buf_init(&b, 4096);
        int rc = cache_inspect_variant_json(rows[i].variant, &b);
        if (rc != 0 || buf_used(&b) != strlen(rows[i].want) ||
            memcmp(buf_head(&b), rows[i].want, buf_used(&b)) != 0)
            row_fail("row %zu: rc %d \"%.*s\"", i, rc, (int)buf_used(&b), buf_head(&b));
        buf_free(&b);
    }
    rows_done();
}

/* A buffer too small says so instead of writing half an object. */
static void test_variant_json_full(void **state)
{
    struct buf b;
    (void)state;
    buf_init(&b, 8);
    assert_int_equal(cache_inspect_variant_json("accept-encoding:gzip\n", &b), -1);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_variant_json, rows_reset),
        cmocka_unit_test(test_variant_json_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
