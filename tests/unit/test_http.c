/*
 * test_http.c - http.c through its public API: head scanning (whole, byte
 * by byte and split at every offset), the reader on requests and responses
 * (framing, pipelining, interim responses, EOF, limits, callbacks; strict
 * chunked framing and trailers, whole, split and byte by byte), the
 * hop-by-hop rules, framing decisions and chunk output. Inputs and
 * expectations are tables wherever the cases share a shape.
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

#include "http.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#include "rows.h"

/* ---- http_head_scan ---- */

#define BIG 8192

struct scan_case {
    const char *name;
    const char *in;
    size_t max_head, max_line;
    enum http_scan want;
    size_t head_len; /* for DONE; 0 means strlen(in) */
};

static const struct scan_case scan_cases[] = {
    /* complete */
    {"simple", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", BIG, BIG, HTTP_SCAN_DONE, 0},
    {"no fields", "GET / HTTP/1.0\r\n\r\n", BIG, BIG, HTTP_SCAN_DONE, 0},
    {"response", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", BIG, BIG, HTTP_SCAN_DONE, 0},
    {"empty value", "GET / HTTP/1.1\r\nX-E:\r\nHost: a\r\n\r\n", BIG, BIG, HTTP_SCAN_DONE, 0},
    {"body follows", "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody", BIG, BIG, HTTP_SCAN_DONE,
     38},
    {"body starts with space", "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n x", BIG, BIG,
     HTTP_SCAN_DONE, 38},
    {"body starts with tab", "HTTP/1.1 200 OK\r\n\r\n\tx", BIG, BIG, HTTP_SCAN_DONE, 19},
    {"body has bare CR and LF", "HTTP/1.1 200 OK\r\n\r\n\r\r\n\n ", BIG, BIG, HTTP_SCAN_DONE, 19},
    {"pipelined", "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", BIG, BIG, HTTP_SCAN_DONE, 19},
    {"leading empty line", "\r\nGET / HTTP/1.1\r\n\r\n", BIG, BIG, HTTP_SCAN_DONE, 0},
    {"leading empty lines", "\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", BIG, BIG,
     HTTP_SCAN_DONE, 0},
    /* incomplete */
    {"nothing", "", BIG, BIG, HTTP_SCAN_MORE, 0},
    {"partial line", "GET / HT", BIG, BIG, HTTP_SCAN_MORE, 0},
    {"lone CR", "\r", BIG, BIG, HTTP_SCAN_MORE, 0},
    {"only empty lines", "\r\n\r\n", BIG, BIG, HTTP_SCAN_MORE, 0},
    {"request line ends", "GET / HTTP/1.1\r\n", BIG, BIG, HTTP_SCAN_MORE, 0},
    {"field ends", "GET / HTTP/1.1\r\nHost: a\r\n", BIG, BIG, HTTP_SCAN_MORE, 0},
    {"final CR", "GET / HTTP/1.1\r\nHost: a\r\n\r", BIG, BIG, HTTP_SCAN_MORE, 0},
    {"field CR", "GET / HTTP/1.1\r\nHost: a\r", BIG, BIG, HTTP_SCAN_MORE, 0},
    /* bare CR, bare LF */
    {"bare LF request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", BIG, BIG, HTTP_SCAN_BAD, 0},
    {"bare LF field", "GET / HTTP/1.1\r\nHost: a\n\r\n", BIG, BIG, HTTP_SCAN_BAD, 0},
    {"bare LF end", "GET / HTTP/1.1\r\nHost: a\r\n\n", BIG, BIG, HTTP_SCAN_BAD, 0},
    {"bare LF first", "\nGET / HTTP/1.1\r\n\r\n", BIG, BIG, HTTP_SCAN_BAD, 0},
    {"bare LF after empty line", "\r\n\nGET / HTTP/1.1\r\n\r\n", BIG, BIG, HTTP_SCAN_BAD, 0},
    {"bare CR request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", BIG, BIG, HTTP_SCAN_BAD, 0},
    {"bare CR in value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", BIG, BIG, HTTP_SCAN_BAD, 0},
    {"bare CR end", "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", BIG, BIG, HTTP_SCAN_BAD, 0},
    {"CR CR LF", "GET / HTTP/1.1\r\r\n\r\n", BIG, BIG, HTTP_SCAN_BAD, 0},
    /* obs-fold and whitespace before the first field */
    {"fold space", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", BIG, BIG, HTTP_SCAN_BAD, 0},
    {"fold tab", "GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n", BIG, BIG, HTTP_SCAN_BAD, 0},
    {"fold in response", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", BIG, BIG, HTTP_SCAN_BAD, 0},
    {"space before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", BIG, BIG, HTTP_SCAN_BAD, 0},
    {"tab before first field", "GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", BIG, BIG, HTTP_SCAN_BAD, 0},
    /* too large (431): max_head counts every byte up to the end of the head */
    {"too large", "GET / HTTP/1.1\r\nHost: aaaaaaaaaaaaaaaaaaaa\r\n\r\n", 32, BIG,
     HTTP_SCAN_TOO_LARGE, 0},
    {"too large, unended", "GET / HTTP/1.1\r\nX: 0123456789012345678901234567890", 32, BIG,
     HTTP_SCAN_TOO_LARGE, 0},
    {"exactly max_head", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, BIG, HTTP_SCAN_DONE, 0},
    {"one over max_head", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 26, BIG, HTTP_SCAN_TOO_LARGE, 0},
    {"exactly max_head, body after", "GET / HTTP/1.1\r\nHost: a\r\n\r\nbody", 27, BIG,
     HTTP_SCAN_DONE, 27},
    {"empty lines count", "\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", 24, BIG,
     HTTP_SCAN_TOO_LARGE, 0},
    {"only empty lines over max", "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n", 16, BIG,
     HTTP_SCAN_TOO_LARGE, 0},
    /* request line over max_line (414); "GET /abcdefghijk" is 16 bytes */
    {"line at max_line", "GET /abcdefghijk\r\nHost: a\r\n\r\n", BIG, 16, HTTP_SCAN_DONE, 0},
    {"line over max_line", "GET /abcdefghijkl\r\nHost: a\r\n\r\n", BIG, 16, HTTP_SCAN_URI_LONG, 0},
    {"line over max_line, unended", "GET /abcdefghijkl", BIG, 16, HTTP_SCAN_URI_LONG, 0},
    {"line at max_line, unended", "GET /abcdefghijk", BIG, 16, HTTP_SCAN_MORE, 0},
    {"line at max_line, CR", "GET /abcdefghijk\r", BIG, 16, HTTP_SCAN_MORE, 0},
    {"line at max_line, CRLF", "GET /abcdefghijk\r\n", BIG, 16, HTTP_SCAN_MORE, 0},
    {"long field is not the line", "GET / HTTP/1.1\r\nX-Long: 0123456789abcdefghij\r\n\r\n", BIG,
     16, HTTP_SCAN_DONE, 0},
    {"empty lines not in line", "\r\n\r\n\r\nGET /abcdefghijk\r\n\r\n", BIG, 16, HTTP_SCAN_DONE, 0},
    {"long line, long head", "GET /0123456789abcdefghijklmnopqrstuvwxyz\r\n\r\n", 1000, 16,
     HTTP_SCAN_URI_LONG, 0},
};

static void scan_check(const struct scan_case *t, const char *how, enum http_scan got,
                       size_t head_len)
{
    size_t want_len = t->head_len ? t->head_len : strlen(t->in);
    if (got != t->want)
        row_fail("%s (%s): got %d, want %d", t->name, how, got, t->want);
    if (got == HTTP_SCAN_DONE && head_len != want_len)
        row_fail("%s (%s): head_len %zu, want %zu", t->name, how, head_len, want_len);
}

static void test_head_scan_whole(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(scan_cases); i++) {
        const struct scan_case *t = &scan_cases[i];
        size_t scanned = 0, head_len = 0;
        enum http_scan r =
            http_head_scan(t->in, strlen(t->in), t->max_head, t->max_line, &scanned, &head_len);
        scan_check(t, "whole", r, head_len);
        if (r == HTTP_SCAN_MORE && scanned > strlen(t->in))
            row_fail("%s: scanned %zu past the end", t->name, scanned);
    }
    rows_done();
}

/* Bytes arrive one at a time, scanned carried over: same verdict. */
static void test_head_scan_bytewise(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(scan_cases); i++) {
        const struct scan_case *t = &scan_cases[i];
        size_t len = strlen(t->in), scanned = 0, head_len = 0, last = 0;
        enum http_scan r = HTTP_SCAN_MORE;
        for (size_t n = 0; n <= len && r == HTTP_SCAN_MORE; n++) {
            char *p = malloc(n ? n : 1); /* so ASan sees reads past the prefix */
            assert_non_null(p);
            memcpy(p, t->in, n);
            r = http_head_scan(p, n, t->max_head, t->max_line, &scanned, &head_len);
            free(p);
            if (r == HTTP_SCAN_MORE && (scanned > n || scanned < last))
                row_fail("%s: scanned %zu after %zu bytes (was %zu)", t->name, scanned, n, last);
            last = scanned;
        }
        scan_check(t, "bytewise", r, head_len);
    }
    rows_done();
}

/* Two reads, split at every offset: same verdict. */
static void test_head_scan_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(scan_cases); i++) {
        const struct scan_case *t = &scan_cases[i];
        size_t len = strlen(t->in);
        for (size_t k = 0; k <= len; k++) {
            size_t scanned = 0, head_len = 0;
            enum http_scan r =
                http_head_scan(t->in, k, t->max_head, t->max_line, &scanned, &head_len);
            if (r == HTTP_SCAN_MORE)
                r = http_head_scan(t->in, len, t->max_head, t->max_line, &scanned, &head_len);
            char how[32];
            int before = failed_rows;
            snprintf(how, sizeof(how), "split at %zu", k);
            scan_check(t, how, r, head_len);
            if (failed_rows != before)
                break; /* one split per row is enough to show */
        }
    }
    rows_done();
}

/* A head whose last byte so far is a field's LF; the next read starts a
 * folded line. The LF must be looked at again once its successor is in. */
static void test_head_scan_fold_next_read(void **state)
{
    static const char *const rests[] = {" folded\r\n\r\n", "\tfolded\r\n\r\n"};
    const char *first = "GET / HTTP/1.1\r\nA: b\r\n";
    (void)state;
    for (size_t i = 0; i < N(rests); i++) {
        char in[128];
        size_t scanned = 0, head_len = 0;
        snprintf(in, sizeof(in), "%s%s", first, rests[i]);
        assert_int_equal(http_head_scan(in, strlen(first), BIG, BIG, &scanned, &head_len),
                         HTTP_SCAN_MORE);
        assert_true(scanned < strlen(first));
        assert_int_equal(http_head_scan(in, strlen(in), BIG, BIG, &scanned, &head_len),
                         HTTP_SCAN_BAD);
    }
    rows_done();
}

/* ---- the reader ---- */

#define MAX_MSGS 4

struct cap {
    int heads, dones;
    int status[MAX_MSGS]; /* per head, in order */
    char body[32768];
    size_t body_len;
    int bodies; /* on_body calls */
    int fail_head, fail_body, fail_done; /* return -1 from that callback */
    struct http_reader *r;
    bool mid_at_head, mid_at_done;
};

static int cap_head(void *arg, struct http_msg *m)
{
    struct cap *c = arg;
    if (c->heads < MAX_MSGS)
        c->status[c->heads] = m->status;
    c->heads++;
    c->mid_at_head = http_reader_mid_message(c->r);
    return c->fail_head ? -1 : 0;
}

static int cap_body(void *arg, const char *p, size_t n)
{
    struct cap *c = arg;
    assert_true(c->body_len + n <= sizeof(c->body));
    memcpy(c->body + c->body_len, p, n);
    c->body_len += n;
    c->bodies++;
    return c->fail_body ? -1 : 0;
}

static int cap_done(void *arg)
{
    struct cap *c = arg;
    c->dones++;
    c->mid_at_done = http_reader_mid_message(c->r);
    return c->fail_done ? -1 : 0;
}

static const struct http_reader_ops cap_ops = {cap_head, cap_body, cap_done};

static struct http_reader *cap_reader(bool request, struct cap *c)
{
    memset(c, 0, sizeof(*c));
    c->r = http_reader_new(request, &cap_ops, c);
    assert_non_null(c->r);
    return c->r;
}

static void expect_body(const struct cap *c, const char *name, const char *want)
{
    if (c->body_len != strlen(want) || memcmp(c->body, want, c->body_len) != 0)
        row_fail("%s: body \"%.*s\", want \"%s\"", name, (int)c->body_len, c->body, want);
}

struct req_case {
    const char *name;
    const char *in;
    enum http_error err;
    /* when err == HTTP_OK: */
    int done; /* messages ended */
    enum http_method_id method_id;
    const char *method, *target;
    unsigned minor;
    bool keep_alive, chunked, expect_continue, upgrade;
    int64_t content_length;
    const char *body;
};

#define H11 "HTTP/1.1\r\nHost: h\r\n"
/* an error row: only name, in and err matter */
#define REQ_ERR(n, i, e)                                                                           \
    {                                                                                              \
        .name = n, .in = i, .err = e                                                               \
    }

static const struct req_case req_cases[] = {
    {"GET", "GET /a?b=c " H11 "\r\n", HTTP_OK, 1, HTTP_M_GET, "GET", "/a?b=c", 1, true, false,
     false, false, -1, ""},
    {"HEAD", "HEAD / " H11 "\r\n", HTTP_OK, 1, HTTP_M_HEAD, "HEAD", "/", 1, true, false, false,
     false, -1, ""},
    {"POST with length", "POST /p " H11 "Content-Length: 5\r\n\r\nhello", HTTP_OK, 1, HTTP_M_POST,
     "POST", "/p", 1, true, false, false, false, 5, "hello"},
    {"POST length 0", "POST /p " H11 "Content-Length: 0\r\n\r\n", HTTP_OK, 1, HTTP_M_POST, "POST",
     "/p", 1, true, false, false, false, 0, ""},
    {"PUT chunked",
     "PUT /p " H11 "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
     HTTP_OK, 1, HTTP_M_PUT, "PUT", "/p", 1, true, true, false, false, -1, "hello world"},
    {"chunk extensions",
     "PUT /p " H11 "Transfer-Encoding: chunked\r\n\r\n"
     "5;a=b\r\nhello\r\nA;name=\"v\";x\r\n0123456789\r\n0;last\r\n\r\n",
     HTTP_OK, 1, HTTP_M_PUT, "PUT", "/p", 1, true, true, false, false, -1, "hello0123456789"},
    {"chunk ext forms",
     "PUT /p " H11 "Transfer-Encoding: chunked\r\n\r\n"
     "1 ;a\r\nx\r\n1; a = b ;c=\"q\\\"\\\\\" \t;d\r\ny\r\n00\r\n\r\n",
     HTTP_OK, 1, HTTP_M_PUT, "PUT", "/p", 1, true, true, false, false, -1, "xy"},
    {"size in upper and lower hex",
     "PUT /p " H11 "Transfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0a\r\n0123456789\r\n"
     "0\r\n\r\n",
     HTTP_OK, 1, HTTP_M_PUT, "PUT", "/p", 1, true, true, false, false, -1,
     "01234567890123456789"},
    /* Upgrade does not end a request at its head (RFC 9112 §6.3) */
    {"Upgrade with a length",
     "POST /u " H11 "Upgrade: foo\r\nConnection: upgrade\r\nContent-Length: 5\r\n\r\nhello",
     HTTP_OK, 1, HTTP_M_POST, "POST", "/u", 1, true, false, false, true, 5, "hello"},
    {"Upgrade, length, unfinished",
     "POST /u " H11 "Upgrade: foo\r\nConnection: upgrade\r\nContent-Length: 9\r\n\r\nhello",
     HTTP_OK, 0, HTTP_M_POST, "POST", "/u", 1, true, false, false, true, 9, "hello"},
    {"Upgrade chunked",
     "POST /u " H11 "Upgrade: foo\r\nConnection: upgrade\r\nTransfer-Encoding: chunked\r\n\r\n"
     "2\r\nhi\r\n0\r\n\r\n",
     HTTP_OK, 1, HTTP_M_POST, "POST", "/u", 1, true, true, false, true, -1, "hi"},
    {"CONNECT length 0", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nContent-Length: 0\r\n\r\n",
     HTTP_OK, 1, HTTP_M_CONNECT, "CONNECT", "h:443", 1, true, false, false, true, 0, ""},
    {"chunk trailer",
     "POST /p " H11 "Transfer-Encoding: chunked\r\n\r\n"
     "3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n",
     HTTP_OK, 1, HTTP_M_POST, "POST", "/p", 1, true, true, false, false, -1, "abc"},
    {"chunked, body unfinished", "POST /p " H11 "Transfer-Encoding: chunked\r\n\r\n3\r\nab",
     HTTP_OK, 0, HTTP_M_POST, "POST", "/p", 1, true, true, false, false, -1, "ab"},
    {"length, body unfinished", "POST /p " H11 "Content-Length: 10\r\n\r\nhello", HTTP_OK, 0,
     HTTP_M_POST, "POST", "/p", 1, true, false, false, false, 10, "hello"},
    {"CONNECT", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", HTTP_OK, 1, HTTP_M_CONNECT,
     "CONNECT", "h:443", 1, true, false, false, true, -1, ""},
    {"DELETE", "DELETE /x " H11 "\r\n", HTTP_OK, 1, HTTP_M_DELETE, "DELETE", "/x", 1, true, false,
     false, false, -1, ""},
    {"OPTIONS *", "OPTIONS * " H11 "\r\n", HTTP_OK, 1, HTTP_M_OPTIONS, "OPTIONS", "*", 1, true,
     false, false, false, -1, ""},
    {"TRACE", "TRACE /t " H11 "\r\n", HTTP_OK, 1, HTTP_M_TRACE, "TRACE", "/t", 1, true, false,
     false, false, -1, ""},
    {"PURGE", "PURGE /x " H11 "\r\n", HTTP_OK, 1, HTTP_M_PURGE, "PURGE", "/x", 1, true, false,
     false, false, -1, ""},
    {"PATCH is other", "PATCH /x " H11 "Content-Length: 1\r\n\r\nx", HTTP_OK, 1, HTTP_M_OTHER,
     "PATCH", "/x", 1, true, false, false, false, 1, "x"},
    {"MKCOL is other", "MKCOL /d " H11 "\r\n", HTTP_OK, 1, HTTP_M_OTHER, "MKCOL", "/d", 1, true,
     false, false, false, -1, ""},
    {"absolute form", "GET http://example.com:8080/x?y " H11 "\r\n", HTTP_OK, 1, HTTP_M_GET, "GET",
     "http://example.com:8080/x?y", 1, true, false, false, false, -1, ""},
    {"HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", HTTP_OK, 1, HTTP_M_GET, "GET", "/", 0, false, false,
     false, false, -1, ""},
    {"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", HTTP_OK, 1,
     HTTP_M_GET, "GET", "/", 0, true, false, false, false, -1, ""},
    {"HTTP/1.0 Keep-Alive", "GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n", HTTP_OK, 1,
     HTTP_M_GET, "GET", "/", 0, true, false, false, false, -1, ""},
    {"HTTP/1.1 close", "GET / " H11 "Connection: close\r\n\r\n", HTTP_OK, 1, HTTP_M_GET, "GET", "/",
     1, false, false, false, false, -1, ""},
    {"HTTP/1.1 Close", "GET / " H11 "Connection: Close\r\n\r\n", HTTP_OK, 1, HTTP_M_GET, "GET", "/",
     1, false, false, false, false, -1, ""},
    {"Expect", "PUT /p " H11 "Expect: 100-continue\r\nContent-Length: 1\r\n\r\n", HTTP_OK, 0,
     HTTP_M_PUT, "PUT", "/p", 1, true, false, true, false, 1, ""},
    {"Expect case", "PUT /p " H11 "expect: 100-Continue\r\nContent-Length: 1\r\n\r\nx", HTTP_OK, 1,
     HTTP_M_PUT, "PUT", "/p", 1, true, false, true, false, 1, "x"},
    {"Expect, trailing space",
     "PUT /p " H11 "Expect: 100-continue \t\r\nContent-Length: 1\r\n\r\nx", HTTP_OK, 1, HTTP_M_PUT,
     "PUT", "/p", 1, true, false, true, false, 1, "x"},
    {"Expect other", "PUT /p " H11 "Expect: 100-continue-ish\r\nContent-Length: 1\r\n\r\nx",
     HTTP_OK, 1, HTTP_M_PUT, "PUT", "/p", 1, true, false, false, false, 1, "x"},
    {"Upgrade", "GET /ws " H11 "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n", HTTP_OK, 1,
     HTTP_M_GET, "GET", "/ws", 1, true, false, false, true, -1, ""},
    {"leading empty lines", "\r\n\r\nGET / " H11 "\r\n", HTTP_OK, 1, HTTP_M_GET, "GET", "/", 1,
     true, false, false, false, -1, ""},
    /* errors */
    REQ_ERR("length and chunked",
            "POST / " H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("chunked and length",
            "POST / " H11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("two lengths", "POST / " H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            HTTP_ERR_FRAMING),
    REQ_ERR("bad length", "POST / " H11 "Content-Length: 5x\r\n\r\nhello", HTTP_ERR_FRAMING),
    REQ_ERR("negative length", "POST / " H11 "Content-Length: -1\r\n\r\n", HTTP_ERR_FRAMING),
    REQ_ERR("huge length", "POST / " H11 "Content-Length: 99999999999999999999999\r\n\r\n",
            HTTP_ERR_FRAMING),
    /* fits http-parser's uint64_t, not an int64_t: read as no length, the
       body went to the origin as requests of its own */
    REQ_ERR("length 2^63", "POST / " H11 "Content-Length: 9223372036854775808\r\n\r\nx",
            HTTP_ERR_FRAMING),
    REQ_ERR("bad chunk size",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("chunk size overflow",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("request not chunked at end", "POST / " H11 "Transfer-Encoding: gzip\r\n\r\n",
            HTTP_ERR_FRAMING),
    /* RFC 9112 §6.1, §6.3: one "chunked" is the only transfer coding */
    REQ_ERR("gzip, chunked", "POST / " H11 "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("chunked, chunked",
            "POST / " H11 "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("chunked on two lines",
            "POST / " H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
            "0\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("gzip line then chunked line",
            "POST / " H11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
            "0\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("identity", "POST / " H11 "Transfer-Encoding: identity\r\n\r\n", HTTP_ERR_FRAMING),
    REQ_ERR("empty TE", "POST / " H11 "Transfer-Encoding:\r\n\r\n", HTTP_ERR_FRAMING),
    REQ_ERR("chunked with a parameter",
            "POST / " H11 "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", HTTP_ERR_FRAMING),
    REQ_ERR("TE in HTTP/1.0",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", HTTP_ERR_FRAMING),
    REQ_ERR("CONNECT with a length",
            "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nContent-Length: 5\r\n\r\nhello",
            HTTP_ERR_FRAMING),
    REQ_ERR("CONNECT chunked",
            "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nTransfer-Encoding: chunked\r\n\r\n",
            HTTP_ERR_FRAMING),
    /* strict chunk framing (RFC 9112 §7.1) */
    REQ_ERR("bare LF in chunk ext",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n3;a\nb\r\nabc\r\n0\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("bare LF after size",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("two bytes instead of CRLF after data",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("bare LF after data",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("bare CR after data",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r0\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("bare CR after size",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n3\rabc\r\n0\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("bare CR in ext",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n3;a=b\rc\r\nabc\r\n0\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("empty size", "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n\r\nabc\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("0x prefix", "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("sign", "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("space before size", "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n 3\r\nabc\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("space after size, no ext",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n", HTTP_ERR_FRAMING),
    REQ_ERR("overlong size", "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n"
            "10000000000000000\r\n", HTTP_ERR_FRAMING),
    REQ_ERR("ext without name", "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n3;\r\nabc\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("ext name not a token",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n3;a@b\r\nabc\r\n", HTTP_ERR_FRAMING),
    REQ_ERR("ext empty value", "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n3;a=\r\nabc\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("ext unterminated quote",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n3;a=\"b\r\nabc\r\n", HTTP_ERR_FRAMING),
    REQ_ERR("ext control byte",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n3;a=b\x01\r\nabc\r\n", HTTP_ERR_FRAMING),
    REQ_ERR("ext trailing space",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n3;a=b \r\nabc\r\n", HTTP_ERR_FRAMING),
    REQ_ERR("trailer bare LF",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\n\r\n", HTTP_ERR_FRAMING),
    REQ_ERR("trailer end bare LF",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\n", HTTP_ERR_FRAMING),
    REQ_ERR("trailer bare CR",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\rX\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("trailer fold",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n 2\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("trailer no colon",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T 1\r\n\r\n", HTTP_ERR_FRAMING),
    REQ_ERR("trailer space before colon",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T : 1\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("trailer control byte",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\x7f\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("trailer line without a colon",
            "POST / " H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nXY\r\n", HTTP_ERR_FRAMING),
    REQ_ERR("bad method", "G@T / " H11 "\r\n", HTTP_ERR_SYNTAX),
    /* names are case-sensitive (RFC 9110 §9.1): "get" is no GET, and no method at all */
    REQ_ERR("lower-case get", "get / " H11 "\r\n", HTTP_ERR_SYNTAX),
    REQ_ERR("lower-case purge", "purge / " H11 "\r\n", HTTP_ERR_SYNTAX),
    REQ_ERR("unknown method", "FOO / " H11 "\r\n", HTTP_ERR_SYNTAX),
    REQ_ERR("bad field name", "GET / " H11 "Bad<Name: x\r\n\r\n", HTTP_ERR_SYNTAX),
    /* RFC 9112 §5.1: no whitespace in or after a field name */
    REQ_ERR("space in field name", "GET / " H11 "Bad Name: x\r\n\r\n", HTTP_ERR_SYNTAX),
    REQ_ERR("space before colon, length", "POST / " H11 "Content-Length : 5\r\n\r\nhello",
            HTTP_ERR_SYNTAX),
    REQ_ERR("space before colon, chunked",
            "POST / " H11 "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", HTTP_ERR_SYNTAX),
    REQ_ERR("space before colon, host", "GET / HTTP/1.1\r\nHost : evil\r\n\r\n", HTTP_ERR_SYNTAX),
    REQ_ERR("tab before colon", "GET / " H11 "X-A\t: 1\r\n\r\n", HTTP_ERR_SYNTAX),
    REQ_ERR("bad version", "GET / XTTP/1.1\r\n\r\n", HTTP_ERR_SYNTAX),
    REQ_ERR("bad version digits", "GET / HTTP/x.1\r\n\r\n", HTTP_ERR_SYNTAX),
};

static void check_req(const struct req_case *t, const struct cap *c, struct http_reader *r)
{
    struct http_msg *m = http_reader_msg(r);
    if (c->dones != t->done)
        row_fail("%s: %d messages ended, want %d", t->name, c->dones, t->done);
    if (c->heads != 1)
        row_fail("%s: %d heads", t->name, c->heads);
    if (m->method_id != t->method_id)
        row_fail("%s: method_id %d, want %d", t->name, m->method_id, t->method_id);
    if (strcmp(http_str(m, m->method), t->method) != 0)
        row_fail("%s: method %s", t->name, http_str(m, m->method));
    if (strcmp(http_str(m, m->target), t->target) != 0 || m->target_len != strlen(t->target))
        row_fail("%s: target %s", t->name, http_str(m, m->target));
    if (m->major != 1 || m->minor != t->minor)
        row_fail("%s: version %u.%u", t->name, m->major, m->minor);
    if (m->keep_alive != t->keep_alive)
        row_fail("%s: keep_alive %d", t->name, m->keep_alive);
    if (m->chunked != t->chunked)
        row_fail("%s: chunked %d", t->name, m->chunked);
    if (m->expect_continue != t->expect_continue)
        row_fail("%s: expect_continue %d", t->name, m->expect_continue);
    if (m->upgrade != t->upgrade)
        row_fail("%s: upgrade %d", t->name, m->upgrade);
    if (m->content_length != t->content_length)
        row_fail("%s: content_length %lld", t->name, (long long)m->content_length);
    expect_body(c, t->name, t->body);
    if (http_reader_mid_message(r) != (t->done == 0))
        row_fail("%s: mid_message %d", t->name, http_reader_mid_message(r));
}

static void test_reader_requests(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(req_cases); i++) {
        const struct req_case *t = &req_cases[i];
        struct cap c;
        struct http_reader *r = cap_reader(true, &c);
        enum http_error err;
        size_t n = strlen(t->in);
        size_t used = http_reader_feed(r, t->in, n, &err);
        if (err != t->err) {
            row_fail("%s: error %d (%s), want %d", t->name, err, http_reader_strerror(r), t->err);
        } else if (err == HTTP_OK) {
            if (used != n)
                row_fail("%s: used %zu of %zu", t->name, used, n);
            check_req(t, &c, r);
        } else {
            assert_non_null(http_reader_strerror(r));
            assert_int_equal(c.dones, 0);
        }
        http_reader_free(&r);
        assert_null(r);
    }
    rows_done();
}

/* The head is fed whole; the body may come a byte at a time. */
static void test_reader_body_bytewise(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(req_cases); i++) {
        const struct req_case *t = &req_cases[i];
        if (t->err != HTTP_OK)
            continue;
        struct cap c;
        struct http_reader *r = cap_reader(true, &c);
        enum http_error err;
        size_t n = strlen(t->in), head_len = 0, scanned = 0;
        assert_int_equal(http_head_scan(t->in, n, BIG, BIG, &scanned, &head_len), HTTP_SCAN_DONE);
        assert_int_equal(http_reader_feed(r, t->in, head_len, &err), head_len);
        assert_int_equal(err, HTTP_OK);
        for (size_t k = head_len; k < n; k++) {
            if (http_reader_feed(r, t->in + k, 1, &err) != 1 || err != HTTP_OK)
                row_fail("%s: byte %zu not taken (error %d)", t->name, k, err);
        }
        check_req(t, &c, r);
        http_reader_free(&r);
    }
    rows_done();
}

static void test_reader_empty_values(void **state)
{
    static const char in[] = "GET / HTTP/1.1\r\nX-Empty:\r\nX-Spaces:   \r\nHost: h\r\n"
                             "X-Last:\r\n\r\n";
    static const struct {
        const char *name, *value;
    } want[] = {{"X-Empty", ""}, {"X-Spaces", ""}, {"Host", "h"}, {"X-Last", ""}};
    struct cap c;
    struct http_reader *r = cap_reader(true, &c);
    enum http_error err;
    (void)state;
    assert_int_equal(http_reader_feed(r, in, strlen(in), &err), strlen(in));
    assert_int_equal(err, HTTP_OK);
    struct http_msg *m = http_reader_msg(r);
    assert_int_equal(m->nhdrs, N(want));
    for (size_t i = 0; i < N(want); i++) {
        const struct http_header *h = &m->hdrs[i];
        assert_string_equal(http_hname(m, h), want[i].name);
        assert_int_equal(h->name_len, strlen(want[i].name));
        assert_string_equal(http_hvalue(m, h), want[i].value);
        assert_int_equal(h->value_len, strlen(want[i].value));
    }
    http_reader_free(&r);
    rows_done();
}

static void test_reader_values(void **state)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: example.com\r\nX-Multi: a, b ,c\r\n"
                             "X-Tabs:\tv\t\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n";
    struct cap c;
    struct http_reader *r = cap_reader(true, &c);
    enum http_error err;
    (void)state;
    http_reader_feed(r, in, strlen(in), &err);
    assert_int_equal(err, HTTP_OK);
    struct http_msg *m = http_reader_msg(r);
    assert_int_equal(m->nhdrs, 5);
    assert_string_equal(http_hvalue(m, http_find(m, "host")), "example.com");
    assert_string_equal(http_hvalue(m, http_find(m, "X-Multi")), "a, b ,c");
    assert_string_equal(http_hvalue(m, http_find(m, "x-tabs")), "v");
    /* the first of duplicates, case-insensitively */
    assert_ptr_equal(http_find(m, "X-DUP"), &m->hdrs[3]);
    assert_string_equal(http_hvalue(m, http_find(m, "x-dup")), "1");
    assert_null(http_find(m, "X-Du"));
    assert_null(http_find(m, "X-Dupe"));
    assert_null(http_find(m, "Content-Length"));
    http_reader_free(&r);
    rows_done();
}

/* hop-by-hop marks on one message */
static void test_reader_strerror(void **state)
{
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", "whitespace in a header field name"},
        {"G@T / HTTP/1.1\r\n\r\n", NULL},
        {"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", NULL},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        struct cap c;
        struct http_reader *r = cap_reader(true, &c);
        enum http_error err;
        http_reader_feed(r, cases[i].in, strlen(cases[i].in), &err);
        assert_int_not_equal(err, HTTP_OK);
        const char *s = http_reader_strerror(r);
        assert_non_null(s);
        assert_true(*s != '\0');
        if (cases[i].want)
            assert_string_equal(s, cases[i].want);
        http_reader_free(&r);
    }
    rows_done();
}

static void test_reader_hop(void **state)
{
    static const char in[] = "GET / HTTP/1.1\r\n"
                             "Host: h\r\n"
                             "Connection: keep-alive, X-Foo\r\n"
                             "Connection: x-bar\r\n"
                             "X-Foo: 1\r\n"
                             "X-Bar: 2\r\n"
                             "X-Foobar: 3\r\n"
                             "Keep-Alive: timeout=5\r\n"
                             "Proxy-Connection: keep-alive\r\n"
                             "TE: trailers\r\n"
                             "Trailer: X-T\r\n"
                             "Upgrade: h2c\r\n"
                             "Proxy-Authorization: Basic Zm9vOmJhcg==\r\n"
                             "Proxy-Authenticate: Basic\r\n"
                             "Accept: */*\r\n"
                             "Cache-Control: no-cache\r\n"
                             "Authorization: Basic Zm9v\r\n"
                             "Content-Type: text/plain\r\n"
                             "Cookie: a=b\r\n"
                             "\r\n";
    static const struct {
        const char *name;
        bool hop;
    } want[] = {
        {"Host", false},
        {"Connection", true},
        {"X-Foo", true},
        {"X-Bar", true},
        {"X-Foobar", false},
        {"Keep-Alive", true},
        {"Proxy-Connection", true},
        {"TE", true},
        {"Trailer", true},
        {"Upgrade", true},
        {"Proxy-Authorization", true},
        {"Proxy-Authenticate", true},
        {"Accept", false},
        {"Cache-Control", false},
        {"Authorization", false},
        {"Content-Type", false},
        {"Cookie", false},
    };
    struct cap c;
    struct http_reader *r = cap_reader(true, &c);
    enum http_error err;
    (void)state;
    http_reader_feed(r, in, strlen(in), &err);
    assert_int_equal(err, HTTP_OK);
    struct http_msg *m = http_reader_msg(r);
    for (size_t i = 0; i < N(want); i++) {
        const struct http_header *h = http_find(m, want[i].name);
        if (!h)
            row_fail("%s: missing", want[i].name);
        else if (h->hop != want[i].hop)
            row_fail("%s: hop %d, want %d", want[i].name, h->hop, want[i].hop);
    }
    http_reader_free(&r);
    rows_done();
}

/* Connection options are bounded: 64 are read (the last one still marks
   its field), a 65th fails the head, which else cost fields x options */
static void test_reader_conn_options_bounded(void **state)
{
    (void)state;
    for (int extra = 0; extra < 2; extra++) {
        char in[4096];
        size_t n = (size_t)snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: h\r\nConnection: ");
        for (int i = 0; i < 63 + extra; i++)
            n += (size_t)snprintf(in + n, sizeof(in) - n, "x-%d, ", i);
        n += (size_t)snprintf(in + n, sizeof(in) - n, "X-Last\r\nX-Last: 1\r\nX-Keep: 2\r\n\r\n");
        struct cap c;
        struct http_reader *r = cap_reader(true, &c);
        enum http_error err;
        http_reader_feed(r, in, n, &err);
        if (extra) {
            assert_int_equal(err, HTTP_ERR_SYNTAX);
            assert_string_equal(http_reader_strerror(r), "more than 64 Connection options");
        } else {
            assert_int_equal(err, HTTP_OK);
            struct http_msg *m = http_reader_msg(r);
            assert_true(http_find(m, "X-Last")->hop);
            assert_false(http_find(m, "X-Keep")->hop);
        }
        http_reader_free(&r);
    }
    rows_done();
}

/* Small chunks reach on_body gathered: one call for 2000 one-byte chunks
   fed at once (else a store write each); a large chunk goes out as it is,
   in order with the small ones around it. */
static void test_reader_small_chunks_gathered(void **state)
{
    (void)state;
    static char in[20000], want[4000];
    size_t n = (size_t)snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    size_t head = n;
    for (int i = 0; i < 2000; i++) {
        n += (size_t)snprintf(in + n, sizeof(in) - n, "1\r\n%c\r\n", 'a' + i % 26);
        want[i] = (char)('a' + i % 26);
    }
    memcpy(in + n, "0\r\n\r\n", 5);
    n += 5;
    struct cap c;
    struct http_reader *r = cap_reader(false, &c);
    enum http_error err;
    http_reader_feed(r, in, head, &err);
    assert_int_equal(http_reader_feed(r, in + head, n - head, &err), n - head);
    assert_int_equal(err, HTTP_OK);
    assert_int_equal(c.dones, 1);
    assert_int_equal(c.bodies, 1);
    assert_int_equal(c.body_len, 2000);
    assert_memory_equal(c.body, want, 2000);
    http_reader_free(&r);

    n = (size_t)snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                         "1\r\na\r\n7d0\r\n");
    memset(in + n, 'x', 2000);
    n += 2000;
    n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\n1\r\nb\r\n0\r\n\r\n");
    r = cap_reader(false, &c);
    assert_int_equal(http_reader_feed(r, in, n, &err), n);
    assert_int_equal(err, HTTP_OK);
    assert_int_equal(c.dones, 1);
    assert_int_equal(c.bodies, 3);
    assert_int_equal(c.body_len, 2002);
    assert_true(c.body[0] == 'a' && c.body[1] == 'x' && c.body[2000] == 'x' && c.body[2001] == 'b');
    http_reader_free(&r);
    rows_done();
}

static void test_reader_pipelined(void **state)
{
    static const char in[] = "POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                             "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
                             "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n";
    static const char *const targets[] = {"/1", "/2", "/3"};
    struct cap c;
    struct http_reader *r = cap_reader(true, &c);
    enum http_error err;
    size_t off = 0, n = strlen(in);
    (void)state;
    for (size_t i = 0; i < N(targets); i++) {
        size_t used = http_reader_feed(r, in + off, n - off, &err);
        assert_int_equal(err, HTTP_OK);
        assert_int_equal(c.dones, i + 1);
        struct http_msg *m = http_reader_msg(r);
        assert_string_equal(http_str(m, m->target), targets[i]);
        assert_false(http_reader_mid_message(r));
        off += used;
        if (i + 1 < N(targets))
            assert_true(off < n); /* stopped after this message */
        /* paused: nothing more is taken until next() */
        assert_int_equal(http_reader_feed(r, in + off, n - off, &err), 0);
        assert_int_equal(err, HTTP_OK);
        assert_int_equal(c.dones, i + 1);
        http_reader_next(r);
    }
    assert_int_equal(off, n);
    expect_body(&c, "pipelined", "abc");
    assert_int_equal(c.heads, 3);
    http_reader_free(&r);
    rows_done();
}

static void test_reader_many_headers(void **state)
{
    static const struct {
        size_t nhdrs;
        enum http_error err;
    } cases[] = {{0, HTTP_OK},
                 {255, HTTP_OK},
                 {256, HTTP_OK},
                 {257, HTTP_ERR_TOO_MANY_HEADERS},
                 {1000, HTTP_ERR_TOO_MANY_HEADERS}};
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        struct buf b;
        struct cap c;
        struct http_reader *r = cap_reader(true, &c);
        enum http_error err;
        buf_init(&b, 1 << 20);
        assert_int_equal(buf_printf(&b, "GET / HTTP/1.1\r\n"), 0);
        for (size_t k = 0; k < cases[i].nhdrs; k++)
            assert_int_equal(buf_printf(&b, "X-H%zu: %zu\r\n", k, k), 0);
        assert_int_equal(buf_printf(&b, "\r\n"), 0);
        http_reader_feed(r, buf_head(&b), buf_used(&b), &err);
        if (err != cases[i].err) {
            row_fail("%zu headers: error %d", cases[i].nhdrs, err);
        } else if (err == HTTP_OK) {
            struct http_msg *m = http_reader_msg(r);
            assert_int_equal(m->nhdrs, cases[i].nhdrs);
            if (cases[i].nhdrs)
                assert_string_equal(http_hvalue(m, &m->hdrs[cases[i].nhdrs - 1]),
                                    http_hname(m, &m->hdrs[cases[i].nhdrs - 1]) + 3);
        } else {
            assert_int_equal(c.heads, 0);
            assert_string_equal(http_reader_strerror(r), "too many header fields");
        }
        http_reader_free(&r);
        buf_free(&b);
    }
    rows_done();
}

/* Long strings outgrow the first arena block; offsets stay valid. */
static void test_reader_big_head(void **state)
{
    struct buf b;
    struct cap c;
    struct http_reader *r = cap_reader(true, &c);
    enum http_error err;
    char big[5000];
    (void)state;
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_printf(&b, "GET /%s HTTP/1.1\r\nA: %s\r\nB: b\r\n\r\n", big, big), 0);
    assert_int_equal(http_reader_feed(r, buf_head(&b), buf_used(&b), &err), buf_used(&b));
    assert_int_equal(err, HTTP_OK);
    struct http_msg *m = http_reader_msg(r);
    assert_string_equal(http_str(m, m->target) + 1, big);
    assert_string_equal(http_hvalue(m, http_find(m, "A")), big);
    assert_string_equal(http_hvalue(m, http_find(m, "B")), "b");
    assert_string_equal(http_str(m, m->method), "GET");
    http_reader_free(&r);
    buf_free(&b);
    rows_done();
}

static void test_reader_callback_abort(void **state)
{
    static const struct {
        const char *name;
        bool request;
        const char *in;
        int fail_head, fail_body, fail_done;
        int heads, dones;
    } cases[] = {
        {"head", true, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 1, 0, 0, 1, 0},
        {"body", true, "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab", 0, 1, 0, 1, 0},
        {"done", true, "GET / HTTP/1.1\r\n\r\n", 0, 0, 1, 1, 1},
        {"response head", false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab", 1, 0, 0, 1, 0},
        {"chunked body", false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",
         0, 1, 0, 1, 0},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        struct cap c;
        struct http_reader *r = cap_reader(cases[i].request, &c);
        enum http_error err;
        c.fail_head = cases[i].fail_head;
        c.fail_body = cases[i].fail_body;
        c.fail_done = cases[i].fail_done;
        http_reader_feed(r, cases[i].in, strlen(cases[i].in), &err);
        if (err != HTTP_ERR_ABORTED)
            row_fail("%s: error %d", cases[i].name, err);
        assert_int_equal(c.heads, cases[i].heads);
        assert_int_equal(c.dones, cases[i].dones);
        http_reader_free(&r);
    }
    rows_done();
}

/* A callback may free the reader (an error closes the exchange): the
   free waits until the feed returns. ASan tells if it does not. */
static struct http_reader *freed_reader;

static int free_on_head(void *arg, struct http_msg *m)
{
    (void)arg, (void)m;
    http_reader_free(&freed_reader);
    return -1;
}

static int free_on_done(void *arg)
{
    (void)arg;
    http_reader_free(&freed_reader);
    return 0;
}

static void test_reader_freed_by_callback(void **state)
{
    static const struct http_reader_ops on_head = {free_on_head, cap_body, cap_done};
    static const struct http_reader_ops on_done = {cap_head, cap_body, free_on_done};
    static const char *const ins[] = {
        "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
    };
    struct cap c;
    (void)state;
    memset(&c, 0, sizeof(c));
    for (size_t i = 0; i < N(ins); i++) {
        for (int k = 0; k < 2; k++) {
            enum http_error err;
            freed_reader = http_reader_new(true, k ? &on_done : &on_head, &c);
            struct http_reader *r = freed_reader;
            c.r = r;
            http_reader_feed(r, ins[i], strlen(ins[i]), &err);
            assert_null(freed_reader);
            if (!k)
                assert_int_equal(err, HTTP_ERR_ABORTED);
        }
    }
    rows_done();
}

/* ---- responses ---- */

struct rsp_case {
    const char *name;
    const char *in;
    bool head_request; /* http_reader_expect_no_body() first */
    enum http_error err;
    int done;
    int status;
    const char *reason;
    unsigned minor;
    bool keep_alive, chunked;
    int64_t content_length;
    const char *body;
    size_t used; /* 0: all of in */
};

static const struct rsp_case rsp_cases[] = {
    {"200 length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, HTTP_OK, 1, 200,
     "OK", 1, true, false, 5, "hello", 0},
    {"404", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false, HTTP_OK, 1, 404,
     "Not Found", 1, true, false, 0, "", 0},
    {"custom reason", "HTTP/1.1 599 Odd  Reason \r\nContent-Length: 0\r\n\r\n", false, HTTP_OK, 1,
     599, "Odd  Reason ", 1, true, false, 0, "", 0},
    {"chunked",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "4;x=y\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n",
     false, HTTP_OK, 1, 200, "OK", 1, true, true, -1, "wikipedia", 0},
    {"close-delimited", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc", false, HTTP_OK, 0,
     200, "OK", 1, false, false, -1, "abc", 0},
    {"1.0 length", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", false, HTTP_OK, 1, 200, "OK",
     0, false, false, 2, "hi", 0},
    {"1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
     false, HTTP_OK, 1, 200, "OK", 0, true, false, 2, "hi", 0},
    {"1.1 close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi", false,
     HTTP_OK, 1, 200, "OK", 1, false, false, 2, "hi", 0},
    {"204", "HTTP/1.1 204 No Content\r\n\r\n", false, HTTP_OK, 1, 204, "No Content", 1, true, false,
     -1, "", 0},
    {"304", "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", false, HTTP_OK, 1, 304,
     "Not Modified", 1, true, false, -1, "", 0},
    /* RFC 9110 §8.6: a 304 may carry the length of the representation it
     * stands for; there is still no body (RFC 9112 §6.3) */
    {"304 with length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", false, HTTP_OK,
     1, 304, "Not Modified", 1, true, false, 100, "", 0},
    {"204 with length", "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n", false, HTTP_OK, 1,
     204, "No Content", 1, true, false, 3, "", 0},
    {"100 with length", "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n", false, HTTP_OK, 1,
     100, "Continue", 1, true, false, 5, "", 0},
    {"HEAD with length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true, HTTP_OK, 1, 200,
     "OK", 1, true, false, 100, "", 0},
    {"HEAD chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, HTTP_OK, 1, 200,
     "OK", 1, true, true, -1, "", 0},
    {"HEAD no length", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n", true, HTTP_OK, 1, 200,
     "OK", 1, true, false, -1, "", 0},
    {"HEAD, next response waits",
     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
     "HTTP/1.1 200 OK\r\n\r\n",
     true, HTTP_OK, 1, 200, "OK", 1, true, false, 3, "", 38},
    {"100 stops at its end", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", false, HTTP_OK,
     1, 100, "Continue", 1, true, false, -1, "", 25},
    /* a transfer coding magpie does not decode: not relayed as if close-delimited */
    REQ_ERR("TE gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz", HTTP_ERR_FRAMING),
    REQ_ERR("TE gzip, chunked",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("TE chunked twice",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("TE in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            HTTP_ERR_FRAMING),
    {"304 with TE has no body", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
     false, HTTP_OK, 1, 304, "Not Modified", 1, true, true, -1, "", 0},
    {"chunked, empty list elements", "HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked ,\r\n\r\n"
     "2\r\nok\r\n0\r\n\r\n", false, HTTP_OK, 1, 200, "OK", 1, true, true, -1, "ok", 0},
    {"101 ends at its head", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
     "Connection: upgrade\r\n\r\nframes", false, HTTP_OK, 1, 101, "Switching Protocols", 1, true,
     false, -1, "", 77},
    REQ_ERR("length and chunked",
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("length 2^63", "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
            HTTP_ERR_FRAMING),
    REQ_ERR("bad status", "HTTP/1.1 2x0 OK\r\n\r\n", HTTP_ERR_SYNTAX),
    REQ_ERR("status 600", "HTTP/1.1 600 OK\r\nContent-Length: 0\r\n\r\n", HTTP_ERR_SYNTAX),
    REQ_ERR("status 999", "HTTP/1.1 999 OK\r\nContent-Length: 0\r\n\r\n", HTTP_ERR_SYNTAX),
    /* control bytes in the reason phrase are not relayed: the default reason goes out */
    {"VT in reason", "HTTP/1.1 200 O\vK\r\nContent-Length: 0\r\n\r\n", false, HTTP_OK, 1, 200, "",
     1, true, false, 0, "", 0},
    {"tab in reason", "HTTP/1.1 200 O\tK\r\nContent-Length: 0\r\n\r\n", false, HTTP_OK, 1, 200,
     "O\tK", 1, true, false, 0, "", 0},
    REQ_ERR("space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nhi",
            HTTP_ERR_SYNTAX),
};

static void test_reader_responses(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(rsp_cases); i++) {
        const struct rsp_case *t = &rsp_cases[i];
        struct cap c;
        struct http_reader *r = cap_reader(false, &c);
        enum http_error err;
        size_t n = strlen(t->in);
        if (t->head_request)
            http_reader_expect_no_body(r);
        size_t used = http_reader_feed(r, t->in, n, &err);
        if (err != t->err)
            row_fail("%s: error %d (%s), want %d", t->name, err, http_reader_strerror(r), t->err);
        if (err != t->err || err != HTTP_OK) {
            http_reader_free(&r);
            continue;
        }
        struct http_msg *m = http_reader_msg(r);
        if (used != (t->used ? t->used : n))
            row_fail("%s: used %zu of %zu", t->name, used, n);
        if (c.dones != t->done)
            row_fail("%s: %d messages ended, want %d", t->name, c.dones, t->done);
        if (m->status != t->status)
            row_fail("%s: status %d", t->name, m->status);
        if (strcmp(http_str(m, m->reason), t->reason) != 0)
            row_fail("%s: reason \"%s\"", t->name, http_str(m, m->reason));
        if (m->minor != t->minor)
            row_fail("%s: minor %u", t->name, m->minor);
        if (m->keep_alive != t->keep_alive)
            row_fail("%s: keep_alive %d", t->name, m->keep_alive);
        if (m->chunked != t->chunked)
            row_fail("%s: chunked %d", t->name, m->chunked);
        if (m->content_length != t->content_length)
            row_fail("%s: content_length %lld", t->name, (long long)m->content_length);
        if (m->method != HTTP_NO_STR || strcmp(http_str(m, m->method), "") != 0)
            row_fail("%s: a response has a method", t->name);
        expect_body(&c, t->name, t->body);
        http_reader_free(&r);
    }
    rows_done();
}

static void test_reader_eof(void **state)
{
    static const struct {
        const char *name;
        bool request;
        const char *in;
        enum http_error eof;
        int dones; /* after http_reader_eof() */
        const char *body;
    } cases[] = {
        {"nothing read", false, "", HTTP_OK, 0, ""},
        {"after a message", false, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", HTTP_OK, 1,
         "x"},
        {"close-delimited", false, "HTTP/1.1 200 OK\r\n\r\nall of it", HTTP_OK, 1, "all of it"},
        {"close-delimited, empty", false, "HTTP/1.0 200 OK\r\n\r\n", HTTP_OK, 1, ""},
        {"length truncated", false, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
         HTTP_ERR_EOF, 0, "abc"},
        {"chunked truncated", false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
         HTTP_ERR_EOF, 0, "ab"},
        {"chunked, no last chunk", false,
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", HTTP_ERR_EOF, 0,
         "abc"},
        {"mid head", false, "HTTP/1.1 200 OK\r\nContent-", HTTP_ERR_EOF, 0, ""},
        {"request body truncated", true, "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab",
         HTTP_ERR_EOF, 0, "ab"},
        {"request complete", true, "GET / HTTP/1.1\r\n\r\n", HTTP_OK, 1, ""},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        struct cap c;
        struct http_reader *r = cap_reader(cases[i].request, &c);
        enum http_error err;
        size_t n = strlen(cases[i].in);
        assert_int_equal(http_reader_feed(r, cases[i].in, n, &err), n);
        assert_int_equal(err, HTTP_OK);
        enum http_error e = http_reader_eof(r);
        if (e != cases[i].eof)
            row_fail("%s: eof gave %d, want %d", cases[i].name, e, cases[i].eof);
        if (c.dones != cases[i].dones)
            row_fail("%s: %d messages ended", cases[i].name, c.dones);
        expect_body(&c, cases[i].name, cases[i].body);
        assert_false(http_reader_mid_message(r) && e == HTTP_OK);
        http_reader_free(&r);
    }
    rows_done();
}

/* Interim responses end on their own; the final one follows on next(). */
static void test_reader_interim(void **state)
{
    static const struct {
        const char *name;
        const char *in;
        bool head_request;
        int statuses[MAX_MSGS]; /* 0 ends */
        const char *body;
    } cases[] = {
        {"100 then 200",
         "HTTP/1.1 100 Continue\r\n\r\n"
         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
         false,
         {100, 200},
         "ok"},
        {"100, 103, 200",
         "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
         "Link: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
         false,
         {100, 103, 200},
         "ok"},
        /* the HEAD mark waits for the final response */
        {"HEAD: 103 then 200 with length",
         "HTTP/1.1 103 Early Hints\r\nLink: <x>\r\n\r\n"
         "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
         true,
         {103, 200},
         ""},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        struct cap c;
        struct http_reader *r = cap_reader(false, &c);
        enum http_error err;
        size_t off = 0, n = strlen(cases[i].in), k;
        if (cases[i].head_request)
            http_reader_expect_no_body(r);
        for (k = 0; k < MAX_MSGS && cases[i].statuses[k]; k++) {
            off += http_reader_feed(r, cases[i].in + off, n - off, &err);
            assert_int_equal(err, HTTP_OK);
            if (c.dones != (int)k + 1)
                row_fail("%s: message %zu did not end", cases[i].name, k);
            assert_int_equal(c.status[k], cases[i].statuses[k]);
            http_reader_next(r);
        }
        if (off != n)
            row_fail("%s: used %zu of %zu", cases[i].name, off, n);
        assert_int_equal(c.heads, k);
        expect_body(&c, cases[i].name, cases[i].body);
        assert_false(http_reader_mid_message(r));
        assert_int_equal(http_reader_eof(r), HTTP_OK);
        http_reader_free(&r);
    }
    rows_done();
}

/* One response reader across keep-alive requests: HEAD, then GET. */
static void test_reader_head_then_get(void **state)
{
    static const char head_rsp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    static const char get_rsp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    struct cap c;
    struct http_reader *r = cap_reader(false, &c);
    enum http_error err;
    (void)state;
    http_reader_expect_no_body(r);
    assert_int_equal(http_reader_feed(r, head_rsp, strlen(head_rsp), &err), strlen(head_rsp));
    assert_int_equal(err, HTTP_OK);
    assert_int_equal(c.dones, 1);
    http_reader_next(r);
    assert_int_equal(http_reader_feed(r, get_rsp, strlen(get_rsp), &err), strlen(get_rsp));
    assert_int_equal(err, HTTP_OK);
    assert_int_equal(c.dones, 2);
    expect_body(&c, "GET after HEAD", "hello");
    http_reader_free(&r);
    rows_done();
}

static void test_reader_mid_message(void **state)
{
    static const char in[] = "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
    struct cap c;
    struct http_reader *r = cap_reader(true, &c);
    enum http_error err;
    (void)state;
    assert_false(http_reader_mid_message(r));
    http_reader_feed(r, in, strlen(in) - 2, &err);
    assert_int_equal(err, HTTP_OK);
    assert_true(c.mid_at_head);
    assert_true(http_reader_mid_message(r));
    http_reader_feed(r, in + strlen(in) - 2, 2, &err);
    assert_false(c.mid_at_done);
    assert_false(http_reader_mid_message(r));
    http_reader_free(&r);
    http_reader_free(&r); /* idempotent */
    rows_done();
}

/* ---- strict chunked framing and trailers ---- */

/* Every body error of the request table, fed a byte at a time after the
   head: the error comes at some byte, never a message end. */
static void test_reader_errors_bytewise(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(req_cases); i++) {
        const struct req_case *t = &req_cases[i];
        size_t n = strlen(t->in), head_len = 0, scanned = 0;
        if (t->err == HTTP_OK ||
            http_head_scan(t->in, n, BIG, BIG, &scanned, &head_len) != HTTP_SCAN_DONE)
            continue;
        struct cap c;
        struct http_reader *r = cap_reader(true, &c);
        enum http_error err;
        http_reader_feed(r, t->in, head_len, &err);
        for (size_t k = head_len; k < n && err == HTTP_OK; k++)
            http_reader_feed(r, t->in + k, 1, &err);
        if (err != t->err)
            row_fail("%s: bytewise error %d, want %d", t->name, err, t->err);
        if (c.dones != 0)
            row_fail("%s: a message ended", t->name);
        http_reader_free(&r);
    }
    rows_done();
}

static void test_reader_chunk_strerror(void **state)
{
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"3;a\nb\r\nabc\r\n", "bare LF in chunked body"},
        {"3\r\nabc\n", "bare LF in chunked body"},
        {"3\r\nabc\r0", "bare CR in chunked body"},
        {"3\rabc", "bare CR in chunked body"},
        {"3\r\nabcXY", "chunk data not followed by CRLF"},
        {"z\r\n", "invalid chunk size line"},
        {"3;=\r\n", "invalid chunk extension"},
        {"10000000000000000\r\n", "chunk size too large"},
        {"0\r\nX-T : 1\r\n", "invalid trailer field name"},
        {"0\r\nX-T: \x01\r\n", "control byte in a trailer field"},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        static const char head[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        char in[256];
        snprintf(in, sizeof(in), "%s%s", head, cases[i].body);
        struct cap c;
        struct http_reader *r = cap_reader(true, &c);
        enum http_error err;
        http_reader_feed(r, in, strlen(in), &err);
        if (err != HTTP_ERR_FRAMING)
            row_fail("%s: error %d", cases[i].want, err);
        else if (strcmp(http_reader_strerror(r), cases[i].want) != 0)
            row_fail("%s: strerror \"%s\"", cases[i].want, http_reader_strerror(r));
        http_reader_free(&r);
    }
    rows_done();
}

/* A chunk size line is bounded: a long run of extensions is an error. */
static void test_reader_chunk_line_bound(void **state)
{
    struct buf b;
    (void)state;
    for (int over = 0; over <= 1; over++) {
        buf_init(&b, 1 << 16);
        assert_int_equal(buf_printf(&b, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1"),
                         0);
        size_t line = 1;
        while (line + 2 <= 4096 - 1 + (size_t)over * 2) {
            assert_int_equal(buf_append_lit(&b, ";a"), 0);
            line += 2;
        }
        assert_int_equal(buf_printf(&b, "\r\nx\r\n0\r\n\r\n"), 0);
        struct cap c;
        struct http_reader *r = cap_reader(true, &c);
        enum http_error err;
        http_reader_feed(r, buf_head(&b), buf_used(&b), &err);
        if (over) {
            assert_int_equal(err, HTTP_ERR_FRAMING);
            assert_string_equal(http_reader_strerror(r), "chunk size line too long");
        } else {
            assert_int_equal(err, HTTP_OK);
            assert_int_equal(c.dones, 1);
            expect_body(&c, "long ext line", "x");
        }
        http_reader_free(&r);
        buf_free(&b);
    }
    rows_done();
}

/* Trailer fields are checked and counted, then dropped: never headers. */
static void test_reader_trailers(void **state)
{
    static const char in[] = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "3\r\nabc\r\n0\r\nContent-Length: 99\r\nHost: evil\r\n"
                             "X-T:\tv\xe9\r\n\r\n";
    const size_t trailer = 20 + 12 + 9 + 2; /* its three lines and the empty one */
    (void)state;
    for (int split = 0; split <= 1; split++) {
        struct cap c;
        struct http_reader *r = cap_reader(true, &c);
        enum http_error err = HTTP_OK;
        size_t n = strlen(in), used = 0;
        if (split) {
            for (size_t k = 0; k < n && err == HTTP_OK; k++) {
                size_t head = strstr(in, "\r\n\r\n") + 4 - in;
                if (k < head) {
                    used += http_reader_feed(r, in, head, &err);
                    k = head - 1;
                    continue;
                }
                used += http_reader_feed(r, in + k, 1, &err);
            }
        } else {
            used = http_reader_feed(r, in, n, &err);
        }
        assert_int_equal(err, HTTP_OK);
        assert_int_equal(used, n);
        assert_int_equal(c.dones, 1);
        expect_body(&c, "trailers", "abc");
        struct http_msg *m = http_reader_msg(r);
        assert_int_equal(m->nhdrs, 2);
        assert_null(http_find(m, "Content-Length"));
        assert_null(http_find(m, "X-T"));
        assert_string_equal(http_hvalue(m, http_find(m, "Host")), "h");
        http_reader_free(&r);
    }
    /* the limit counts the trailer section, its last CRLF included */
    for (size_t limit = trailer - 1; limit <= trailer; limit++) {
        struct cap c;
        struct http_reader *r = cap_reader(true, &c);
        enum http_error err;
        http_reader_set_max_trailer(r, limit);
        http_reader_feed(r, in, strlen(in), &err);
        if (limit < trailer) {
            assert_int_equal(err, HTTP_ERR_TRAILER_TOO_LARGE);
            assert_string_equal(http_reader_strerror(r), "trailer section too large");
            assert_int_equal(c.dones, 0);
        } else {
            assert_int_equal(err, HTTP_OK);
            assert_int_equal(c.dones, 1);
        }
        http_reader_free(&r);
    }
    rows_done();
}

/* An endless trailer is refused once past the limit, fed in slices. */
static void test_reader_trailer_flood(void **state)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
    char slice[4096];
    struct cap c;
    struct http_reader *r = cap_reader(false, &c);
    enum http_error err;
    (void)state;
    http_reader_set_max_trailer(r, 64 * 1024);
    assert_int_equal(http_reader_feed(r, head, strlen(head), &err), strlen(head));
    assert_int_equal(err, HTTP_OK);
    for (size_t i = 0; i < sizeof(slice); i += 16)
        memcpy(slice + i, "X-Flood: aaaaa\r\n", 16);
    size_t fed = 0;
    while (err == HTTP_OK && fed < 1024 * 1024) {
        http_reader_feed(r, slice, sizeof(slice), &err);
        fed += sizeof(slice);
    }
    assert_int_equal(err, HTTP_ERR_TRAILER_TOO_LARGE);
    assert_true(fed <= 64 * 1024 + sizeof(slice));
    assert_int_equal(http_reader_msg(r)->nhdrs, 1);
    assert_int_equal(c.dones, 0);
    http_reader_free(&r);
    rows_done();
}

/* Pipelined requests after chunked bodies (with trailers) parse cleanly,
   whole and a byte at a time; so does a request after an Upgrade one. */
static void test_reader_pipelined_chunked(void **state)
{
    static const char in[] = "POST /1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"
                             "POST /2 HTTP/1.1\r\nHost: h\r\nUpgrade: foo\r\nConnection: upgrade\r\n"
                             "Content-Length: 4\r\n\r\nGET "
                             "PUT /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "1\r\nd\r\n0\r\n\r\n"
                             "GET /4 HTTP/1.1\r\nHost: h\r\n\r\n";
    static const char *const targets[] = {"/1", "/2", "/3", "/4"};
    (void)state;
    for (int bytewise = 0; bytewise <= 1; bytewise++) {
        struct cap c;
        struct http_reader *r = cap_reader(true, &c);
        enum http_error err = HTTP_OK;
        size_t off = 0, n = strlen(in);
        for (size_t i = 0; i < N(targets); i++) {
            /* each head whole (as client.c feeds it), the body as it comes */
            size_t head_len = 0, scanned = 0;
            assert_int_equal(http_head_scan(in + off, n - off, BIG, BIG, &scanned, &head_len),
                             HTTP_SCAN_DONE);
            off += http_reader_feed(r, in + off, head_len, &err);
            while (err == HTTP_OK && c.dones == (int)i && off < n)
                off += http_reader_feed(r, in + off, bytewise ? 1 : n - off, &err);
            assert_int_equal(err, HTTP_OK);
            assert_int_equal(c.dones, i + 1);
            struct http_msg *m = http_reader_msg(r);
            assert_string_equal(http_str(m, m->target), targets[i]);
            assert_null(http_find(m, "X-T"));
            http_reader_next(r);
        }
        assert_int_equal(off, n);
        expect_body(&c, "pipelined chunked", "abcGET d");
        http_reader_free(&r);
    }
    rows_done();
}

static void test_reader_eof_chunked(void **state)
{
    static const char *const ins[] = {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\"x",
    };
    (void)state;
    for (size_t i = 0; i < N(ins); i++) {
        struct cap c;
        struct http_reader *r = cap_reader(false, &c);
        enum http_error err;
        http_reader_feed(r, ins[i], strlen(ins[i]), &err);
        assert_int_equal(err, HTTP_OK);
        assert_int_equal(http_reader_eof(r), HTTP_ERR_EOF);
        assert_int_equal(c.dones, 0);
        http_reader_free(&r);
    }
    rows_done();
}

/* Random well-formed chunked messages (extensions, trailers, pipelined
   after each other), fed in random slices: the decoded body is exact and
   every message ends where it should. A fixed seed keeps it repeatable. */
static unsigned rnd_state = 12345;
static unsigned rnd(unsigned n)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 16) % n;
}

static void test_reader_chunked_random(void **state)
{
    static const char *const exts[] = {"", ";a", ";a=b", " ;x=\"q y\"", ";n=\"\\\"\"", "\t; k = v"};
    static const char *const trailers[] = {"", "X-T: 1\r\n", "A: \r\nB:\tc d\r\n"};
    struct buf in;
    char want[4096];
    (void)state;
    for (int iter = 0; iter < 300; iter++) {
        buf_init(&in, 1 << 20);
        size_t want_len = 0;
        int msgs = 1 + (int)rnd(3);
        for (int m = 0; m < msgs; m++) {
            assert_int_equal(buf_printf(&in, "POST /%d HTTP/1.1\r\nHost: h\r\n"
                                             "Transfer-Encoding: chunked\r\n\r\n", m), 0);
            int chunks = (int)rnd(4);
            for (int k = 0; k < chunks; k++) {
                unsigned n = 1 + rnd(300);
                assert_int_equal(buf_printf(&in, rnd(2) ? "%x%s\r\n" : "%X%s\r\n", n,
                                            exts[rnd(N(exts))]), 0);
                for (unsigned j = 0; j < n; j++) {
                    char ch = (char)rnd(256);
                    want[want_len++] = ch;
                    assert_int_equal(buf_append(&in, &ch, 1), 0);
                }
                assert_int_equal(buf_append_lit(&in, "\r\n"), 0);
            }
            assert_int_equal(buf_printf(&in, "0%s\r\n%s\r\n", exts[rnd(N(exts))],
                                        trailers[rnd(N(trailers))]), 0);
        }
        struct cap c;
        struct http_reader *r = cap_reader(true, &c);
        enum http_error err = HTTP_OK;
        size_t off = 0, n = buf_used(&in);
        const char *p = buf_head(&in);
        while (off < n && err == HTTP_OK) {
            size_t head_len = 0, scanned = 0;
            if (!http_reader_mid_message(r)) { /* a head goes in whole */
                assert_int_equal(http_head_scan(p + off, n - off, BIG, BIG, &scanned, &head_len),
                                 HTTP_SCAN_DONE);
                off += http_reader_feed(r, p + off, head_len, &err);
                continue;
            }
            size_t k = 1 + rnd(64);
            size_t used = http_reader_feed(r, p + off, k < n - off ? k : n - off, &err);
            off += used;
            if (!http_reader_mid_message(r))
                http_reader_next(r);
        }
        if (err != HTTP_OK || c.dones != msgs || c.body_len != want_len ||
            memcmp(c.body, want, want_len) != 0)
            row_fail("iteration %d: error %d (%s), %d of %d messages, %zu of %zu body bytes", iter,
                     err, http_reader_strerror(r), c.dones, msgs, c.body_len, want_len);
        assert_int_equal(http_reader_msg(r)->nhdrs, 2);
        http_reader_free(&r);
        buf_free(&in);
    }
    rows_done();
}

/* ---- header rules ---- */

static void test_list_has(void **state)
{
    static const struct {
        const char *value, *token;
        bool want;
    } cases[] = {
        {"close", "close", true},
        {"Close", "close", true},
        {"close", "CLOSE", true},
        {"keep-alive, close", "close", true},
        {"keep-alive,close", "close", true},
        {" close ", "close", true},
        {"\tclose\t", "close", true},
        {"a , b\t,c", "b", true},
        {"a,,b", "b", true},
        {",,close,,", "close", true},
        {"upgrade, keep-alive", "upgrade", true},
        {"closed", "close", false},
        {"x-close", "close", false},
        {"clo", "close", false},
        {"clo se", "close", false},
        {"", "close", false},
        {",", "close", false},
        {"close", "", false},
        {"", "", false},
        {"a, b", "a, b", false},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++)
        if (http_list_has(cases[i].value, cases[i].token) != cases[i].want)
            row_fail("\"%s\" has \"%s\": want %d", cases[i].value, cases[i].token, cases[i].want);
    rows_done();
}

static void test_is_hop_name(void **state)
{
    static const struct {
        const char *name;
        bool hop;
    } cases[] = {
        {"Connection", true},
        {"connection", true},
        {"Keep-Alive", true},
        {"keep-alive", true},
        {"Proxy-Connection", true},
        {"TE", true},
        {"te", true},
        {"Trailer", true},
        {"Transfer-Encoding", true},
        {"Upgrade", true},
        {"Proxy-Authorization", true},
        {"PROXY-AUTHENTICATE", true},
        {"Content-Length", false},
        {"Host", false},
        {"Authorization", false},
        {"Trailers", false},
        {"Connection2", false},
        {"T", false},
        {"", false},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++)
        if (http_is_hop_name(cases[i].name) != cases[i].hop)
            row_fail("%s: want hop %d", cases[i].name, cases[i].hop);
    rows_done();
}

static void test_status_has_body(void **state)
{
    static const struct {
        int method_id, status;
        bool want;
    } cases[] = {
        {HTTP_M_GET, 200, true},   {HTTP_M_GET, 201, true},  {HTTP_M_GET, 204, false},
        {HTTP_M_GET, 206, true},   {HTTP_M_GET, 301, true},  {HTTP_M_GET, 304, false},
        {HTTP_M_GET, 404, true},   {HTTP_M_GET, 500, true},  {HTTP_M_GET, 100, false},
        {HTTP_M_GET, 101, false},  {HTTP_M_GET, 103, false}, {HTTP_M_HEAD, 200, false},
        {HTTP_M_HEAD, 404, false}, {HTTP_M_POST, 200, true}, {HTTP_M_POST, 204, false},
        {HTTP_M_OTHER, 200, true}, {HTTP_M_PUT, 201, true},  {HTTP_M_CONNECT, 200, true},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++)
        if (http_status_has_body(cases[i].method_id, cases[i].status) != cases[i].want)
            row_fail("method %d status %d: want %d", cases[i].method_id, cases[i].status,
                     cases[i].want);
    rows_done();
}

static void test_response_framing(void **state)
{
    static const struct {
        const char *name;
        int method_id, status;
        int64_t content_length;
        bool chunked;
        unsigned minor;
        enum http_framing want;
    } cases[] = {
        {"HEAD", HTTP_M_HEAD, 200, 100, false, 1, HTTP_FRAME_NONE},
        {"HEAD chunked", HTTP_M_HEAD, 200, -1, true, 1, HTTP_FRAME_NONE},
        {"HEAD 1.0", HTTP_M_HEAD, 200, -1, false, 0, HTTP_FRAME_NONE},
        {"204", HTTP_M_GET, 204, -1, false, 1, HTTP_FRAME_NONE},
        {"204 with length", HTTP_M_GET, 204, 10, false, 1, HTTP_FRAME_NONE},
        {"304", HTTP_M_GET, 304, 100, false, 1, HTTP_FRAME_NONE},
        {"304 1.0", HTTP_M_GET, 304, -1, false, 0, HTTP_FRAME_NONE},
        {"100", HTTP_M_POST, 100, -1, false, 1, HTTP_FRAME_NONE},
        {"103", HTTP_M_GET, 103, -1, false, 1, HTTP_FRAME_NONE},
        {"length", HTTP_M_GET, 200, 5, false, 1, HTTP_FRAME_LENGTH},
        {"length 0", HTTP_M_GET, 200, 0, false, 1, HTTP_FRAME_LENGTH},
        {"length to 1.0", HTTP_M_GET, 200, 5, false, 0, HTTP_FRAME_LENGTH},
        {"chunked to 1.1", HTTP_M_GET, 200, -1, true, 1, HTTP_FRAME_CHUNKED},
        {"chunked to 1.0", HTTP_M_GET, 200, -1, true, 0, HTTP_FRAME_CLOSE},
        {"chunked wins over length", HTTP_M_GET, 200, 5, true, 1, HTTP_FRAME_CHUNKED},
        {"unknown length to 1.1", HTTP_M_GET, 200, -1, false, 1, HTTP_FRAME_CHUNKED},
        {"unknown length to 1.0", HTTP_M_GET, 200, -1, false, 0, HTTP_FRAME_CLOSE},
        {"POST 201 length", HTTP_M_POST, 201, 2, false, 1, HTTP_FRAME_LENGTH},
        {"404 unknown to 1.1", HTTP_M_GET, 404, -1, false, 1, HTTP_FRAME_CHUNKED},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        enum http_framing f =
            http_response_framing(cases[i].method_id, cases[i].status, cases[i].content_length,
                                  cases[i].chunked, cases[i].minor);
        if (f != cases[i].want)
            row_fail("%s: framing %d, want %d", cases[i].name, f, cases[i].want);
    }
    rows_done();
}

static void test_reason(void **state)
{
    static const struct {
        int status;
        const char *want;
    } cases[] = {
        {100, "Continue"},
        {200, "OK"},
        {204, "No Content"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {404, "Not Found"},
        {407, "Proxy Authentication Required"},
        {414, "URI Too Long"},
        {431, "Request Header Fields Too Large"},
        {502, "Bad Gateway"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
        {0, "Unknown"},
        {299, "Unknown"},
        {999, "Unknown"},
        {-1, "Unknown"},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        const char *s = http_reason(cases[i].status);
        assert_non_null(s);
        if (strcmp(s, cases[i].want) != 0)
            row_fail("%d: \"%s\", want \"%s\"", cases[i].status, s, cases[i].want);
    }
    rows_done();
}

static void test_chunk_append(void **state)
{
    static const struct {
        size_t n;
        const char *head; /* the size line */
    } cases[] = {
        {1, "1\r\n"},        {9, "9\r\n"},         {10, "a\r\n"},    {15, "f\r\n"},
        {16, "10\r\n"},      {255, "ff\r\n"},      {256, "100\r\n"}, {4096, "1000\r\n"},
        {65535, "ffff\r\n"}, {65536, "10000\r\n"},
    };
    static char data[65536];
    (void)state;
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i % 251);
    for (size_t i = 0; i < N(cases); i++) {
        struct buf b;
        size_t hl = strlen(cases[i].head), n = cases[i].n;
        buf_init(&b, 1 << 20);
        assert_int_equal(http_chunk_append(&b, data, n), 0);
        if (buf_used(&b) != hl + n + 2 || memcmp(buf_head(&b), cases[i].head, hl) != 0) {
            row_fail("%zu: \"%.*s\"", n, (int)hl, buf_head(&b));
        } else {
            assert_memory_equal(buf_head(&b) + hl, data, n);
            assert_memory_equal(buf_head(&b) + hl + n, "\r\n", 2);
        }
        buf_free(&b);
    }
    rows_done();
}

static void test_chunk_append_stream(void **state)
{
    struct buf b;
    const char want[] = "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n";
    (void)state;
    buf_init(&b, 1024);
    assert_int_equal(http_chunk_append(&b, "hello", 5), 0);
    assert_int_equal(http_chunk_append(&b, " ", 1), 0);
    assert_int_equal(http_chunk_append(&b, "world", 5), 0);
    assert_int_equal(http_chunk_append(&b, NULL, 0), 0);
    assert_int_equal(buf_used(&b), strlen(want));
    assert_memory_equal(buf_head(&b), want, strlen(want));

    /* what it writes, the reader takes back */
    struct cap c;
    struct http_reader *r = cap_reader(false, &c);
    enum http_error err;
    const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    http_reader_feed(r, head, strlen(head), &err);
    assert_int_equal(err, HTTP_OK);
    assert_int_equal(http_reader_feed(r, buf_head(&b), buf_used(&b), &err), buf_used(&b));
    assert_int_equal(err, HTTP_OK);
    assert_int_equal(c.dones, 1);
    expect_body(&c, "round trip", "hello world");
    http_reader_free(&r);
    buf_free(&b);

    /* over the buffer's max: refused */
    buf_init(&b, 8);
    assert_int_equal(http_chunk_append(&b, "hello", 5), -1);
    buf_free(&b);
    buf_init(&b, 4);
    assert_int_equal(http_chunk_append(&b, NULL, 0), -1);
    buf_free(&b);
    rows_done();
}

/* What fuzzing found (tests/fuzz/corpus/{request,response}/finding-*): a NUL
 * as the first byte of a field value, which http-parser lets through, made
 * the value magpie checks ("") differ from the bytes it forwards (any other
 * control byte there passed too); a status below 100 ("010") passed for an
 * interim response and was relayed. */
static void test_reader_fuzz_findings(void **state)
{
#define ROW(req, s, detail)                                                                        \
    {                                                                                              \
        req, s, sizeof(s) - 1, detail                                                              \
    }
    static const struct {
        bool request;
        const char *in;
        size_t len;
        const char *detail;
    } cases[] = {
        ROW(true, "GET / HTTP/1.1\r\nHost: a\r\nX-A: \0evil\r\n\r\n",
            "control byte in a header field value"),
        ROW(true, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\0chunked\r\n\r\n0\r\n\r\n",
            "control byte in a header field value"),
        ROW(true, "GET / HTTP/1.1\r\nHost:\0\r\n\r\n", "control byte in a header field value"),
        ROW(true,
            "GET / HTTP/1.1\r\nHost: a\r\nX-A: \x01"
            "b\r\n\r\n",
            "control byte in a header field value"),
        ROW(false,
            "HTTP/1.1 200 OK\r\nX-A:\x7f"
            "b\r\nContent-Length: 0\r\n\r\n",
            "control byte in a header field value"),
        ROW(false, "HTTP/1.1 200 OK\r\nSet-Cookie: \0id=1\r\nContent-Length: 0\r\n\r\n",
            "control byte in a header field value"),
        ROW(false, "HTTP/1.1 010 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", "status code below 100"),
        ROW(false, "HTTP/1.1 000 X\r\nContent-Length: 0\r\n\r\n", "status code below 100"),
        ROW(false, "HTTP/1.1 99 X\r\n\r\n", NULL),
    };
#undef ROW
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        struct cap c;
        struct http_reader *r = cap_reader(cases[i].request, &c);
        enum http_error err;
        http_reader_feed(r, cases[i].in, cases[i].len, &err);
        if (err != HTTP_ERR_SYNTAX)
            row_fail("row %zu: error %d, want HTTP_ERR_SYNTAX", i, err);
        if (c.heads != 0)
            row_fail("row %zu: the head reached the callback", i);
        if (cases[i].detail && strcmp(http_reader_strerror(r), cases[i].detail) != 0)
            row_fail("row %zu: \"%s\"", i, http_reader_strerror(r));
        http_reader_free(&r);
    }
    /* still fine: an empty value, and the lowest valid status */
    struct cap c;
    struct http_reader *r = cap_reader(false, &c);
    enum http_error err;
    const char ok[] = "HTTP/1.1 100 Continue\r\nX-A:\r\n\r\n";
    http_reader_feed(r, ok, sizeof(ok) - 1, &err);
    assert_int_equal(err, HTTP_OK);
    assert_int_equal(c.heads, 1);
    http_reader_free(&r);
    rows_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_head_scan_whole, rows_reset),
        cmocka_unit_test_setup(test_head_scan_bytewise, rows_reset),
        cmocka_unit_test_setup(test_head_scan_split, rows_reset),
        cmocka_unit_test_setup(test_head_scan_fold_next_read, rows_reset),
        cmocka_unit_test_setup(test_reader_requests, rows_reset),
        cmocka_unit_test_setup(test_reader_body_bytewise, rows_reset),
        cmocka_unit_test_setup(test_reader_empty_values, rows_reset),
        cmocka_unit_test_setup(test_reader_values, rows_reset),
        cmocka_unit_test_setup(test_reader_strerror, rows_reset),
        cmocka_unit_test_setup(test_reader_hop, rows_reset),
        cmocka_unit_test_setup(test_reader_conn_options_bounded, rows_reset),
        cmocka_unit_test_setup(test_reader_small_chunks_gathered, rows_reset),
        cmocka_unit_test_setup(test_reader_pipelined, rows_reset),
        cmocka_unit_test_setup(test_reader_many_headers, rows_reset),
        cmocka_unit_test_setup(test_reader_big_head, rows_reset),
        cmocka_unit_test_setup(test_reader_callback_abort, rows_reset),
        cmocka_unit_test_setup(test_reader_responses, rows_reset),
        cmocka_unit_test_setup(test_reader_eof, rows_reset),
        cmocka_unit_test_setup(test_reader_interim, rows_reset),
        cmocka_unit_test_setup(test_reader_head_then_get, rows_reset),
        cmocka_unit_test_setup(test_reader_mid_message, rows_reset),
        cmocka_unit_test_setup(test_reader_freed_by_callback, rows_reset),
        cmocka_unit_test_setup(test_reader_errors_bytewise, rows_reset),
        cmocka_unit_test_setup(test_reader_chunk_strerror, rows_reset),
        cmocka_unit_test_setup(test_reader_chunk_line_bound, rows_reset),
        cmocka_unit_test_setup(test_reader_trailers, rows_reset),
        cmocka_unit_test_setup(test_reader_trailer_flood, rows_reset),
        cmocka_unit_test_setup(test_reader_pipelined_chunked, rows_reset),
        cmocka_unit_test_setup(test_reader_eof_chunked, rows_reset),
        cmocka_unit_test_setup(test_reader_chunked_random, rows_reset),
        cmocka_unit_test_setup(test_list_has, rows_reset),
        cmocka_unit_test_setup(test_is_hop_name, rows_reset),
        cmocka_unit_test_setup(test_status_has_body, rows_reset),
        cmocka_unit_test_setup(test_response_framing, rows_reset),
        cmocka_unit_test_setup(test_reason, rows_reset),
        cmocka_unit_test_setup(test_chunk_append, rows_reset),
        cmocka_unit_test_setup(test_chunk_append_stream, rows_reset),
        cmocka_unit_test_setup(test_reader_fuzz_findings, rows_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
