/*
 * test_respond.c - respond.c through its public API, on a client and an
 * exchange built by hand (no socket): the exact heads respond_local()
 * queues for answers magpie makes itself, and the way respond_finish()
 * ends every head (Age, Via, framing, Cache-Status, Connection).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgload.h"
#include "proxy.h"
#include "respond.h"

#include "rows.h"

#define NAME "mp.test"

/* A connection with one exchange, resting in CS_RECEIVE, its output empty. */
struct fx {
    struct config *cfg;
    struct client c;
    struct exchange ex;
};

static void fx_reset(struct fx *f)
{
    buf_free(&f->c.out);
    memset(&f->c, 0, sizeof(f->c));
    memset(&f->ex, 0, sizeof(f->ex));
    f->c.cfg = f->cfg;
    f->c.state = CS_RECEIVE;
    f->c.ex = &f->ex;
    buf_init(&f->c.out, PROXY_OUT_MAX);
    f->ex.client = &f->c;
    f->ex.keep_alive = true;
    f->ex.method_id = HTTP_M_GET;
    f->ex.minor = 1;
    f->ex.cx.obj.fd = -1; /* nothing from the store is open */
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->cfg = load_ok("proxy_name: " NAME "\n");
    fx_reset(f);
    *state = f;
    return rows_reset(state);
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    buf_free(&f->c.out);
    config_unref(&f->cfg);
    free(f);
    return 0;
}

/* What the client writer holds, as a string. */
static char *queued(const struct client *c)
{
    size_t n = buf_used(&c->out);
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, buf_head(&c->out), n);
    s[n] = '\0';
    return s;
}

static void expect_out(const char *name, const struct buf *out, const char *want)
{
    size_t n = buf_used(out);
    if (n != strlen(want) || memcmp(buf_head(out), want, n) != 0)
        row_fail("%s:\n got \"%.*s\"\nwant \"%s\"", name, (int)n, buf_head(out), want);
}

/* ---- respond_local ---- */

#define LOC "Location: http://x/\r\n"
#define PAUTH "Proxy-Authenticate: Basic realm=\"m\"\r\n"
/* the heads of a 302 with a 6-byte body, kept, and of a 407 with 11, closed */
#define HEAD302                                                                                    \
    "HTTP/1.1 302 Found\r\nContent-Type: text/plain\r\n" LOC "Cache-Control: no-store\r\n"         \
    "Via: 1.1 " NAME "\r\nContent-Length: 6\r\nConnection: keep-alive\r\n\r\n"
#define HEAD407                                                                                    \
    "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Type: text/html\r\n" PAUTH              \
    "Cache-Control: no-store\r\nVia: 1.1 " NAME "\r\nContent-Length: 11\r\n"                       \
    "Connection: close\r\n\r\n"

static void test_local_heads(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *name;
        struct answer a;
        bool keep_alive;
        enum http_method_id method;
        const char *want;
    } cases[] = {
        {"302, a field and a body, kept",
         {.status = 302,
          .reason = "redirect",
          .fields = LOC,
          .fields_len = sizeof(LOC) - 1,
          .body = "moved\n",
          .body_len = 6},
         true,
         HTTP_M_GET,
         HEAD302 "moved\n"},
        {"407, its type, closed",
         {.status = 407,
          .reason = "auth",
          .fields = PAUTH,
          .fields_len = sizeof(PAUTH) - 1,
          .body = "<p>who?</p>",
          .body_len = 11,
          .type = "text/html"},
         false,
         HTTP_M_GET,
         HEAD407 "<p>who?</p>"},
        {"two fields, no body",
         {.status = 302,
          .reason = "redirect",
          .fields = LOC PAUTH,
          .fields_len = sizeof(LOC PAUTH) - 1,
          .body = NULL,
          .body_len = 0,
          .type = NULL},
         true,
         HTTP_M_GET,
         "HTTP/1.1 302 Found\r\n" LOC PAUTH "Cache-Control: no-store\r\n"
         "Via: 1.1 " NAME "\r\n"
         "Content-Length: 0\r\n"
         "Connection: keep-alive\r\n"
         "\r\n"},
        {"no fields",
         {.status = 404,
          .reason = "unknown",
          .fields = NULL,
          .fields_len = 0,
          .body = "not here\n",
          .body_len = 9,
          .type = NULL},
         false,
         HTTP_M_PURGE,
         "HTTP/1.1 404 Not Found\r\n"
         "Content-Type: text/plain\r\n"
         "Cache-Control: no-store\r\n"
         "Via: 1.1 " NAME "\r\n"
         "Content-Length: 9\r\n"
         "Connection: close\r\n"
         "\r\n"
         "not here\n"},
        {"HEAD: the body's length, no body",
         {.status = 302,
          .reason = "redirect",
          .fields = LOC,
          .fields_len = sizeof(LOC) - 1,
          .body = "moved\n",
          .body_len = 6},
         true,
         HTTP_M_HEAD,
         HEAD302},
        {"HEAD, closed",
         {.status = 407,
          .reason = "auth",
          .fields = PAUTH,
          .fields_len = sizeof(PAUTH) - 1,
          .body = "<p>who?</p>",
          .body_len = 11,
          .type = "text/html"},
         false,
         HTTP_M_HEAD,
         HEAD407},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_reset(f);
        f->ex.keep_alive = cases[i].keep_alive;
        f->ex.method_id = cases[i].method;
        int rc = respond_local(&f->c, &cases[i].a);
        if (rc != 0)
            row_fail("%s: rc %d", cases[i].name, rc);
        expect_out(cases[i].name, &f->c.out, cases[i].want);
        if (f->ex.bytes_sent != strlen(cases[i].want))
            row_fail("%s: bytes_sent %llu, want %zu", cases[i].name,
                     (unsigned long long)f->ex.bytes_sent, strlen(cases[i].want));
        if (f->ex.status != cases[i].a.status || !f->ex.rsp_head_sent)
            row_fail("%s: status %d, head sent %d", cases[i].name, f->ex.status,
                     f->ex.rsp_head_sent);
    }
    rows_done();
}

/* After a pipelined response still queued, the answer's count is its own. */
static void test_local_after_queued(void **state)
{
    struct fx *f = *state;
    fx_reset(f);
    assert_int_equal(buf_append_lit(&f->c.out, "earlier bytes"), 0);
    f->ex.bytes_sent = 0;
    struct answer a = {.status = 404,
                       .reason = "unknown",
                       .fields = NULL,
                       .fields_len = 0,
                       .body = "x",
                       .body_len = 1,
                       .type = NULL};
    assert_int_equal(respond_local(&f->c, &a), 0);
    char *s = queued(&f->c);
    assert_true(strncmp(s, "earlier bytesHTTP/1.1 404 Not Found\r\n", 37) == 0);
    assert_int_equal(f->ex.bytes_sent, strlen(s) - strlen("earlier bytes"));
    assert_string_equal(s + strlen(s) - 5, "\r\n\r\nx");
    free(s);
}

/* A background refresh has no client: nothing is queued or counted. */
static void test_local_phantom(void **state)
{
    struct fx *f = *state;
    fx_reset(f);
    f->c.phantom = true;
    chain_init(&f->ex.deliver, &discard_sink, &f->c, NULL, NULL); /* as client.c gives it */
    struct answer a = {.status = 302,
                       .reason = "redirect",
                       .fields = LOC,
                       .fields_len = sizeof(LOC) - 1,
                       .body = "moved\n",
                       .body_len = 6};
    assert_int_equal(respond_local(&f->c, &a), 0);
    assert_int_equal(buf_used(&f->c.out), 0);
    assert_int_equal(f->ex.bytes_sent, 0);
}

/* An answer that does not fit the client's buffer fails. */
static void test_local_full(void **state)
{
    struct fx *f = *state;
    fx_reset(f);
    buf_free(&f->c.out);
    buf_init(&f->c.out, 64);
    struct answer a = {.status = 302,
                       .reason = "redirect",
                       .fields = LOC,
                       .fields_len = sizeof(LOC) - 1,
                       .body = "moved\n",
                       .body_len = 6};
    assert_int_equal(respond_local(&f->c, &a), -1);
}

/* ---- respond_finish ---- */

struct parsed {
    struct http_reader *r;
    struct http_msg *m;
};

static int p_head(void *arg, struct http_msg *m)
{
    ((struct parsed *)arg)->m = m;
    return 0;
}
static int p_body(void *arg, const char *p, size_t n)
{
    (void)arg, (void)p, (void)n;
    return 0;
}
static int p_done(void *arg)
{
    (void)arg;
    return 0;
}
static const struct http_reader_ops p_ops = {p_head, p_body, p_done};

/* A response head as the http reader parses it. */
static void parse_response(struct parsed *p, const char *head)
{
    enum http_error err = HTTP_OK;
    memset(p, 0, sizeof(*p));
    p->r = http_reader_new(false, &p_ops, p);
    assert_non_null(p->r);
    http_reader_feed(p->r, head, strlen(head), &err);
    assert_int_equal(err, HTTP_OK);
    assert_non_null(p->m);
}

static void test_finish(void **state)
{
    struct fx *f = *state;
    struct parsed two, hop;
    /* two Via lines; X-Hop is hop-by-hop because Connection names it */
    parse_response(&two, "HTTP/1.1 200 OK\r\n"
                         "Via: 1.0 first\r\n"
                         "Connection: X-Hop\r\n"
                         "X-Hop: 1\r\n"
                         "Via: 1.1 second, 1.1 third\r\n"
                         "Content-Length: 0\r\n\r\n");
    /* Connection names Via itself: its lines are hop-by-hop, not passed on */
    parse_response(&hop, "HTTP/1.1 200 OK\r\n"
                         "Via: 1.0 gone\r\n"
                         "Connection: via\r\n"
                         "Content-Length: 0\r\n\r\n");
    const struct {
        const char *name;
        struct head_end e;
        bool keep_alive;
        enum cache_result result;
        bool sure;
        const char *want;
    } cases[] = {
        {"plain",
         {.via_minor = 1, .age = -1, .length = 5},
         true,
         CACHE_NONE,
         false,
         "Via: 1.1 " NAME "\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n"},
        {"closed",
         {.via_minor = 1, .age = -1, .length = 5},
         false,
         CACHE_NONE,
         false,
         "Via: 1.1 " NAME "\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"},
        {"age rounds down",
         {.via_minor = 1, .age = 3.4, .length = 0},
         true,
         CACHE_NONE,
         false,
         "Age: 3\r\nVia: 1.1 " NAME "\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"},
        {"age rounds up",
         {.via_minor = 1, .age = 3.5, .length = 0},
         true,
         CACHE_NONE,
         false,
         "Age: 4\r\nVia: 1.1 " NAME "\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"},
        {"age zero",
         {.via_minor = 1, .age = 0, .length = 0},
         true,
         CACHE_NONE,
         false,
         "Age: 0\r\nVia: 1.1 " NAME "\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"},
        {"age below half",
         {.via_minor = 1, .age = 0.4, .length = 0},
         true,
         CACHE_NONE,
         false,
         "Age: 0\r\nVia: 1.1 " NAME "\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"},
        {"no age",
         {.via_minor = 1, .age = -0.5, .length = 0},
         true,
         CACHE_NONE,
         false,
         "Via: 1.1 " NAME "\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"},
        {"HTTP/1.0 origin",
         {.via_minor = 0, .age = -1, .length = 2},
         true,
         CACHE_NONE,
         false,
         "Via: 1.0 " NAME "\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n"},
        {"origin's Via first",
         {.via_minor = 1, .via_from = two.m, .age = -1, .length = 0},
         true,
         CACHE_NONE,
         false,
         "Via: 1.0 first, 1.1 second, 1.1 third, 1.1 " NAME "\r\n"
         "Content-Length: 0\r\nConnection: keep-alive\r\n\r\n"},
        {"origin's Via, HTTP/1.0",
         {.via_minor = 0, .via_from = two.m, .age = 7, .length = 0},
         true,
         CACHE_NONE,
         false,
         "Age: 7\r\nVia: 1.0 first, 1.1 second, 1.1 third, 1.0 " NAME "\r\n"
         "Content-Length: 0\r\nConnection: keep-alive\r\n\r\n"},
        {"hop-by-hop Via dropped",
         {.via_minor = 1, .via_from = hop.m, .age = -1, .length = 0},
         true,
         CACHE_NONE,
         false,
         "Via: 1.1 " NAME "\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"},
        {"no length",
         {.via_minor = 1, .age = -1, .length = -1},
         false,
         CACHE_NONE,
         false,
         "Via: 1.1 " NAME "\r\nConnection: close\r\n\r\n"},
        {"chunked",
         {.via_minor = 1, .age = -1, .length = -1, .chunked = true},
         true,
         CACHE_NONE,
         false,
         "Via: 1.1 " NAME "\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"},
        {"interim",
         {.via_minor = 1,
          .via_from = two.m,
          .age = 2,
          .length = 9,
          .chunked = true,
          .interim = true,
          .cache_status = true},
         true,
         CACHE_MISS,
         false,
         "Age: 2\r\nVia: 1.0 first, 1.1 second, 1.1 third, 1.1 " NAME "\r\n\r\n"},
        {"interim, closing",
         {.via_minor = 1, .age = -1, .length = -1, .interim = true},
         false,
         CACHE_NONE,
         false,
         "Via: 1.1 " NAME "\r\n\r\n"},
        {"upgrade",
         {.via_minor = 1, .age = -1, .length = 0, .upgrade = true, .cache_status = true},
         true,
         CACHE_MISS,
         false,
         "Via: 1.1 " NAME "\r\nConnection: Upgrade\r\n\r\n"},
        {"upgrade, not kept",
         {.via_minor = 1, .age = -1, .length = -1, .upgrade = true},
         false,
         CACHE_NONE,
         false,
         "Via: 1.1 " NAME "\r\nConnection: Upgrade\r\n\r\n"},
        {"miss",
         {.via_minor = 1, .age = -1, .length = 3, .cache_status = true},
         true,
         CACHE_MISS,
         false,
         "Via: 1.1 " NAME "\r\nContent-Length: 3\r\n"
         "Cache-Status: magpie; fwd=miss\r\nX-Cache: MISS\r\nConnection: keep-alive\r\n\r\n"},
        {"miss, stored",
         {.via_minor = 1, .age = -1, .length = 3, .cache_status = true},
         false,
         CACHE_MISS,
         true,
         "Via: 1.1 " NAME "\r\nContent-Length: 3\r\n"
         "Cache-Status: magpie; fwd=miss; stored\r\nX-Cache: MISS\r\nConnection: close\r\n\r\n"},
        {"hit",
         {.via_minor = 0, .age = 12.6, .length = 3, .cache_status = true},
         true,
         CACHE_HIT,
         false,
         "Age: 13\r\nVia: 1.0 " NAME "\r\nContent-Length: 3\r\n"
         "Cache-Status: magpie; hit; ttl=47\r\nX-Cache: HIT\r\nConnection: keep-alive\r\n\r\n"},
        {"bypass, chunked",
         {.via_minor = 1, .age = -1, .length = -1, .chunked = true, .cache_status = true},
         true,
         CACHE_BYPASS,
         false,
         "Via: 1.1 " NAME "\r\nTransfer-Encoding: chunked\r\n"
         "Cache-Status: magpie; fwd=bypass\r\nX-Cache: BYPASS\r\nConnection: keep-alive\r\n\r\n"},
        {"revalidated",
         {.via_minor = 1, .age = 0, .length = 3, .cache_status = true},
         true,
         CACHE_REVALIDATED,
         false,
         "Age: 0\r\nVia: 1.1 " NAME "\r\nContent-Length: 3\r\n"
         "Cache-Status: magpie; fwd=stale; fwd-status=304; ttl=60\r\nX-Cache: REVALIDATED\r\n"
         "Connection: keep-alive\r\n\r\n"},
        {"not through the cache",
         {.via_minor = 1, .age = -1, .length = 3, .cache_status = true},
         true,
         CACHE_NONE,
         false,
         "Via: 1.1 " NAME "\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n"},
        {"cache status not asked",
         {.via_minor = 1, .age = -1, .length = 3},
         true,
         CACHE_MISS,
         false,
         "Via: 1.1 " NAME "\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_reset(f);
        f->ex.keep_alive = cases[i].keep_alive;
        f->ex.cx.result = cases[i].result;
        f->ex.cx.sure = cases[i].sure;
        /* a stored response fresh for 60 s, as old as the Age sent: ttl = 60 - Age */
        f->ex.cx.lifetime = 60;
        f->ex.cx.age = cases[i].e.age > 0 ? cases[i].e.age : 0;
        struct buf out;
        buf_init(&out, 4096);
        int rc = respond_finish(&f->c, &out, &cases[i].e);
        if (rc != 0)
            row_fail("%s: rc %d", cases[i].name, rc);
        expect_out(cases[i].name, &out, cases[i].want);
        buf_free(&out);
        /* the head goes where it is told, not into the writer */
        if (buf_used(&f->c.out) || f->ex.bytes_sent)
            row_fail("%s: the writer holds %zu bytes", cases[i].name, buf_used(&f->c.out));
    }
    http_reader_free(&two.r);
    http_reader_free(&hop.r);
    rows_done();
}

/* Appended after what the source wrote, and -1 when it does not fit. */
static void test_finish_appends(void **state)
{
    struct fx *f = *state;
    fx_reset(f);
    struct head_end e = {.via_minor = 1, .age = -1, .length = 1};
    struct buf out;
    buf_init(&out, 4096);
    assert_int_equal(http_put_status(&out, 200, NULL), 0);
    assert_int_equal(respond_finish(&f->c, &out, &e), 0);
    expect_out("after a status line", &out,
               "HTTP/1.1 200 OK\r\nVia: 1.1 " NAME "\r\nContent-Length: 1\r\n"
               "Connection: keep-alive\r\n\r\n");
    buf_free(&out);
    rows_done();

    const size_t whole = strlen("Via: 1.1 " NAME "\r\nContent-Length: 1\r\n"
                                "Connection: keep-alive\r\n\r\n");
    for (size_t max = 1; max < whole; max += 7) {
        buf_init(&out, max);
        assert_int_equal(respond_finish(&f->c, &out, &e), -1);
        buf_free(&out);
    }
    buf_init(&out, whole);
    assert_int_equal(respond_finish(&f->c, &out, &e), 0);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_heads),   cmocka_unit_test(test_local_after_queued),
        cmocka_unit_test(test_local_phantom), cmocka_unit_test(test_local_full),
        cmocka_unit_test(test_finish),        cmocka_unit_test(test_finish_appends),
    };
    return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
