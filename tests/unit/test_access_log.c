/*
 * test_access_log.c - the access line's layouts and escaping: exact lines
 * for default, combined and json, JSON and Apache escaping of hostile
 * bytes, escapes never cut in half, and the request head combined keeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rows.h"

#include "access_log.h"
#include "http.h"

#define S(lit) lit, sizeof(lit) - 1 /* a literal and its length, NULs included */

struct esc_row {
    const char *name;
    const char *in;
    size_t n;
    const char *want;
};

static void check_escape(const struct esc_row *rows, size_t count,
                         size_t (*esc)(char *, size_t, const char *, size_t))
{
    for (size_t i = 0; i < count; i++) {
        char out[256];
        size_t w = esc(out, sizeof(out), rows[i].in, rows[i].n);
        if (w != strlen(rows[i].want) || memcmp(out, rows[i].want, w) != 0)
            row_fail("%s: got \"%.*s\", want \"%s\"", rows[i].name, (int)w, out, rows[i].want);
    }
}

static void test_json_escape(void **state)
{
    static const struct esc_row rows[] = {
        {"plain", S("/a?b=c&d"), "/a?b=c&d"},
        {"quote and backslash", S("a\"b\\c"), "a\\\"b\\\\c"},
        {"named controls", S("\n\r\t\b\f"), "\\n\\r\\t\\b\\f"},
        {"other controls", S("\x01\x1f\x7f"), "\\u0001\\u001f\\u007f"},
        {"NUL", S("a\0b"), "a\\u0000b"},
        {"two-byte UTF-8", S("caf\xc3\xa9"), "caf\xc3\xa9"},
        {"three-byte UTF-8", S("\xe2\x82\xac"), "\xe2\x82\xac"},
        {"four-byte UTF-8", S("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80"},
        {"highest code point", S("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf"},
        {"lone high byte", S("\xff"), "\\u00ff"},
        {"lone continuation", S("\x80x"), "\\u0080x"},
        {"sequence cut short", S("\xc3"), "\\u00c3"},
        {"sequence broken",
         S("\xe2\x82"
           "A"),
         "\\u00e2\\u0082A"},
        {"overlong slash", S("\xc0\xaf"), "\\u00c0\\u00af"},
        {"overlong three-byte", S("\xe0\x80\xaf"), "\\u00e0\\u0080\\u00af"},
        {"surrogate", S("\xed\xa0\x80"), "\\u00ed\\u00a0\\u0080"},
        {"past U+10FFFF", S("\xf4\x90\x80\x80"), "\\u00f4\\u0090\\u0080\\u0080"},
        {"F5 lead", S("\xf5\x80\x80\x80"), "\\u00f5\\u0080\\u0080\\u0080"},
    };
    (void)state;
    check_escape(rows, sizeof(rows) / sizeof(rows[0]), access_json_escape);
    rows_done();
}

/* Each byte alone becomes itself (printable ASCII but the two escaped),
   its named escape, or \u00XX of the byte: never anything else. */
static void test_json_escape_every_byte(void **state)
{
    (void)state;
    for (int b = 0; b < 256; b++) {
        char in = (char)b, out[16], want[16];
        size_t w = access_json_escape(out, sizeof(out), &in, 1);
        const char *named = b == '"'    ? "\\\""
                            : b == '\\' ? "\\\\"
                            : b == '\n' ? "\\n"
                            : b == '\r' ? "\\r"
                            : b == '\t' ? "\\t"
                            : b == '\b' ? "\\b"
                            : b == '\f' ? "\\f"
                                        : NULL;
        if (named)
            snprintf(want, sizeof(want), "%s", named);
        else if (b >= 0x20 && b < 0x7f)
            snprintf(want, sizeof(want), "%c", b);
        else
            snprintf(want, sizeof(want), "\\u%04x", b);
        if (w != strlen(want) || memcmp(out, want, w) != 0)
            row_fail("byte 0x%02x: got \"%.*s\", want \"%s\"", b, (int)w, out, want);
    }
    rows_done();
}

static void test_clf_escape(void **state)
{
    static const struct esc_row rows[] = {
        {"plain", S("Mozilla/5.0 (X11)"), "Mozilla/5.0 (X11)"},
        {"quote and backslash", S("a\"b\\c"), "a\\\"b\\\\c"},
        {"named controls", S("\b\n\r\t\v"), "\\b\\n\\r\\t\\v"},
        {"other controls", S("\x01\x1f\x7f"), "\\x01\\x1f\\x7f"},
        {"NUL", S("a\0b"), "a\\x00b"},
        {"high bytes, UTF-8 or not", S("\xc3\xa9\xff"), "\\xc3\\xa9\\xff"},
        {"form feed", S("\f"), "\\x0c"},
    };
    (void)state;
    check_escape(rows, sizeof(rows) / sizeof(rows[0]), access_clf_escape);
    rows_done();
}

/* Out of room, both stop before an escape that does not fit whole. */
static void test_escape_cap(void **state)
{
    static const struct {
        const char *name;
        bool json;
        const char *in;
        size_t n, cap;
        const char *want;
    } rows[] = {
        {"json quote", true, S("ab\""), 3, "ab"},
        {"json control", true, S("a\x01"), 6, "a"},
        {"json utf-8", true, S("a\xc3\xa9"), 2, "a"},
        {"json exact", true, S("a\x01"), 7, "a\\u0001"},
        {"json nothing", true, S("abc"), 0, ""},
        {"clf quote", false, S("ab\""), 3, "ab"},
        {"clf hex", false, S("a\xff"), 4, "a"},
        {"clf exact", false, S("a\xff"), 5, "a\\xff"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[16];
        memset(out, '#', sizeof(out));
        size_t w = rows[i].json ? access_json_escape(out, rows[i].cap, rows[i].in, rows[i].n)
                                : access_clf_escape(out, rows[i].cap, rows[i].in, rows[i].n);
        if (w != strlen(rows[i].want) || memcmp(out, rows[i].want, w) != 0)
            row_fail("%s: got \"%.*s\", want \"%s\"", rows[i].name, (int)w, out, rows[i].want);
        for (size_t k = w; k < sizeof(out); k++)
            if (out[k] != '#') {
                row_fail("%s: wrote past what it returned", rows[i].name);
                break;
            }
    }
    rows_done();
}

/* 2026-12-02T04:35:01.042Z */
#define WHEN                                                                                       \
    {                                                                                              \
        .tv_sec = 1796186101, .tv_usec = 42999                                                     \
    }

static const struct access_head head_x = {
    .target = "/x?q=1", .referer = "http://ref.example/", .user_agent = "curl/8.0"};
static const struct access_head head_hostile = {
    .target = "/a\"b\\c\xff", .referer = "x\"y\xc3\xa9", .user_agent = NULL};

static void test_format(void **state)
{
    static const struct {
        const char *name;
        enum cfg_access_log_format f;
        struct access_entry e;
        const char *want;
    } rows[] = {
        {"default",
         CFG_ACCESS_LOG_DEFAULT,
         {.client = "127.0.0.1:5000",
          .method = "GET",
          .url = "http://h/x",
          .status = 200,
          .sent = 1234,
          .ms = 5,
          .cache = "MISS",
          .upstream = "127.0.0.1:8080",
          .coding = "gzip"},
         "127.0.0.1:5000 GET http://h/x 200 1234 5 MISS 127.0.0.1:8080 0 gzip -"},
        {"default followed, nothing known",
         CFG_ACCESS_LOG_DEFAULT,
         {.client = "[::1]:5000",
          .status = 400,
          .sent = 99,
          .received = 3,
          .cache = "DIRECT",
          .hops = 2,
          .followed_url = "http://cdn/f"},
         "[::1]:5000 - - 400 99 0 DIRECT - 3 - 2:http://cdn/f"},
        {"combined",
         CFG_ACCESS_LOG_COMBINED,
         {.when = WHEN,
          .client = "127.0.0.1:5000",
          .method = "GET",
          .url = "http://h/x?q=1",
          .minor = 1,
          .head = &head_x,
          .status = 200,
          .sent = 1234,
          .cache = "HIT"},
         "127.0.0.1 - - [02/Dec/2026:04:35:01 +0000] \"GET /x?q=1 HTTP/1.1\" 200 1234 "
         "\"http://ref.example/\" \"curl/8.0\" HIT \"-\""},
        {"combined, no head kept, user, HTTP/1.0, followed",
         CFG_ACCESS_LOG_COMBINED,
         {.when = WHEN,
          .client = "[::1]:5000",
          .user = "ann",
          .method = "GET",
          .url = "http://h/y",
          .status = 200,
          .sent = 0,
          .cache = "MISS",
          .hops = 1,
          .followed_url = "http://h/z \"q\""},
         "::1 - ann [02/Dec/2026:04:35:01 +0000] \"GET http://h/y HTTP/1.0\" 200 - \"-\" \"-\" "
         "MISS \"1:http://h/z \\\"q\\\"\""},
        {"combined, head never arrived",
         CFG_ACCESS_LOG_COMBINED,
         {.when = WHEN, .client = "10.0.0.1:1", .status = 400, .sent = 120, .cache = "DIRECT"},
         "10.0.0.1 - - [02/Dec/2026:04:35:01 +0000] \"-\" 400 120 \"-\" \"-\" DIRECT \"-\""},
        {"combined, hostile bytes",
         CFG_ACCESS_LOG_COMBINED,
         {.when = WHEN,
          .client = "127.0.0.1:5000",
          .method = "GET",
          .url = "http://h/a",
          .minor = 1,
          .head = &head_hostile,
          .status = 404,
          .sent = 7,
          .cache = "MISS"},
         "127.0.0.1 - - [02/Dec/2026:04:35:01 +0000] \"GET /a\\\"b\\\\c\\xff HTTP/1.1\" 404 7 "
         "\"x\\\"y\\xc3\\xa9\" \"-\" MISS \"-\""},
        {"json",
         CFG_ACCESS_LOG_JSON,
         {.when = WHEN,
          .client = "127.0.0.1:5000",
          .method = "GET",
          .url = "http://h/x",
          .status = 200,
          .sent = 1234,
          .received = 3,
          .ms = 5,
          .cache = "MISS",
          .upstream = "127.0.0.1:8080",
          .coding = "gzip",
          .hops = 2,
          .followed_url = "http://cdn/f"},
         "{\"time\":\"2026-12-02T04:35:01.042Z\",\"client\":\"127.0.0.1:5000\",\"user\":null,"
         "\"method\":\"GET\",\"url\":\"http://h/x\",\"status\":200,\"bytes\":1234,\"received\":3,"
         "\"duration_ms\":5,\"cache\":\"MISS\",\"upstream\":\"127.0.0.1:8080\",\"encoding\":"
         "\"gzip\",\"followed\":{\"hops\":2,\"url\":\"http://cdn/f\"}}"},
        {"json nulls and hostile url",
         CFG_ACCESS_LOG_JSON,
         {.when = WHEN,
          .client = "[::1]:5000",
          .user = "a\"n",
          .url = "http://h/\"\\\x01\xff",
          .status = 400,
          .cache = "DIRECT"},
         "{\"time\":\"2026-12-02T04:35:01.042Z\",\"client\":\"[::1]:5000\",\"user\":\"a\\\"n\","
         "\"method\":null,\"url\":\"http://h/\\\"\\\\\\u0001\\u00ff\",\"status\":400,\"bytes\":0,"
         "\"received\":0,\"duration_ms\":0,\"cache\":\"DIRECT\",\"upstream\":null,\"encoding\":"
         "null,\"followed\":null}"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        static char out[ACCESS_LINE_MAX];
        size_t n = access_format(rows[i].f, &rows[i].e, out);
        if (n != strlen(rows[i].want) || memcmp(out, rows[i].want, n) != 0)
            row_fail("%s:\n got  %.*s\n want %s", rows[i].name, (int)n, out, rows[i].want);
    }
    rows_done();
}

/* The longest strings, all escaping to \u00XX, still make one whole line
   that ends its object: the cut falls on the strings, never the line. */
static void test_format_longest(void **state)
{
    static char url[3 * ACCESS_URL_MAX + 1], out[ACCESS_LINE_MAX];
    (void)state;
    memset(url, 0x01, sizeof(url) - 1);
    struct access_entry e = {.client = url,
                             .user = url,
                             .method = url,
                             .url = url,
                             .cache = url,
                             .upstream = url,
                             .coding = url,
                             .hops = 1,
                             .followed_url = url};
    size_t n = access_format(CFG_ACCESS_LOG_JSON, &e, out);
    assert_true(n < ACCESS_LINE_MAX);
    assert_memory_equal(out + n - 2, "}}", 2);
    /* the url field: exactly ACCESS_URL_MAX escaped bytes */
    const char *u = strstr(out, "\"url\":\"");
    assert_non_null(u);
    u += strlen("\"url\":\"");
    assert_int_equal(strcspn(u, "\""), 6 * ACCESS_URL_MAX);
    struct access_head h = {.target = url, .referer = url, .user_agent = url};
    e.head = &h;
    n = access_format(CFG_ACCESS_LOG_COMBINED, &e, out);
    assert_true(n < ACCESS_LINE_MAX);
    assert_memory_equal(out + n - 1, "\"", 1);
    assert_null(memchr(out, '\n', n));
}

/* ---- the head combined keeps ---- */

static struct access_head *kept;
static int keep_head(void *arg, struct http_msg *m)
{
    (void)arg;
    kept = access_head_new(m);
    return 0;
}
static int keep_body(void *arg, const char *p, size_t n)
{
    (void)arg;
    (void)p;
    (void)n;
    return 0;
}
static int keep_done(void *arg)
{
    (void)arg;
    return 0;
}
static const struct http_reader_ops keep_ops = {keep_head, keep_body, keep_done};

static struct access_head *head_of(const char *req)
{
    struct http_reader *r = http_reader_new(true, &keep_ops, NULL);
    enum http_error err = HTTP_OK;
    kept = NULL;
    assert_non_null(r);
    http_reader_feed(r, req, strlen(req), &err);
    http_reader_free(&r);
    assert_non_null(kept);
    return kept;
}

static void test_head_kept(void **state)
{
    static const struct {
        const char *name, *req, *target, *referer, *ua;
    } rows[] = {
        {"both", "GET /x?y HTTP/1.1\r\nHost: h\r\nuser-agent: curl/8\r\nReferer: http://r/\r\n\r\n",
         "/x?y", "http://r/", "curl/8"},
        {"neither", "GET http://h/z HTTP/1.0\r\nHost: h\r\n\r\n", "http://h/z", NULL, NULL},
        {"empty referer", "GET / HTTP/1.1\r\nHost: h\r\nReferer:\r\n\r\n", "/", "", NULL},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct access_head *h = head_of(rows[i].req);
        const char *got[] = {h->target, h->referer, h->user_agent};
        const char *want[] = {rows[i].target, rows[i].referer, rows[i].ua};
        for (int k = 0; k < 3; k++)
            if (!got[k] != !want[k] || (got[k] && strcmp(got[k], want[k])))
                row_fail("%s: field %d \"%s\", want \"%s\"", rows[i].name, k,
                         got[k] ? got[k] : "(null)", want[k] ? want[k] : "(null)");
        free(h);
    }
    rows_done();
}

/* A huge User-Agent is kept cut to ACCESS_HDR_MAX. */
static void test_head_cut(void **state)
{
    static char req[ACCESS_HDR_MAX * 3];
    (void)state;
    int n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: ");
    memset(req + n, 'u', ACCESS_HDR_MAX * 2);
    strcpy(req + n + ACCESS_HDR_MAX * 2, "\r\n\r\n");
    struct access_head *h = head_of(req);
    assert_int_equal(strlen(h->user_agent), ACCESS_HDR_MAX);
    assert_null(h->referer);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_json_escape, rows_reset),
        cmocka_unit_test_setup(test_json_escape_every_byte, rows_reset),
        cmocka_unit_test_setup(test_clf_escape, rows_reset),
        cmocka_unit_test_setup(test_escape_cap, rows_reset),
        cmocka_unit_test_setup(test_format, rows_reset),
        cmocka_unit_test(test_format_longest),
        cmocka_unit_test_setup(test_head_kept, rows_reset),
        cmocka_unit_test(test_head_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
