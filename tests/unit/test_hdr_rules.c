/*
 * test_hdr_rules.c - hdr_rules.c through hdr_rules.h, on an exchange built
 * by hand (no socket) under a configuration loaded from YAML: which
 * exchanges have edits, a request head as it is after the route's and then
 * the rule's edits, and a response head as the writers compose it (the
 * fields not dropped, then the set ones), names matched case-insensitively.
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
#include "hdr_rules.h"
#include "proxy.h"

#include "rows.h"

/* api.local has edits of its own, and the first rule overrides some of
   them; own.local's cache: block governs it, so no cache.rules entry
   does; plain.local has none, but rules may apply to it. */
static const char yaml[] =
    "routes:\n"
    "  - host: api.local\n"
    "    origin: \"http://127.0.0.1:8080\"\n"
    "    request_headers:\n"
    "      set: { X-Api-Key: k-123, X-Who: route, X-Gone: r }\n"
    "      remove: [Cookie, X-Tag]\n"
    "    response_headers:\n"
    "      set: { X-Served-By: magpie, X-Who: route, X-Gone: r }\n"
    "      remove: [server, X-Tag]\n"
    "  - host: plain.local\n"
    "    origin: \"http://127.0.0.1:8081\"\n"
    "  - host: own.local\n"
    "    origin: \"http://127.0.0.1:8082\"\n"
    "    cache: { default_ttl: 60s }\n"
    "cache:\n"
    "  rules:\n"
    "    - match: \"^http://api\\\\.local/both/\"\n"
    "      request_headers: { set: { X-Who: rule, X-Tag: rule }, remove: [X-Gone] }\n"
    "      response_headers: { set: { X-Who: rule, X-Tag: rule }, remove: [x-gone] }\n"
    "    - match: \"/fw/\"\n"
    "      request_headers: { set: { X-Env: prod }, remove: [cookie] }\n"
    "      response_headers: { set: { X-Rule: hit }, remove: [X-Powered-By] }\n";

struct fx {
    struct config *cfg;
    struct client c;
    struct exchange ex;
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->cfg = load_ok(yaml);
    f->c.cfg = f->cfg;
    f->c.ex = &f->ex;
    f->ex.client = &f->c;
    *state = f;
    return rows_reset(state);
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    config_unref(&f->cfg);
    free(f);
    return 0;
}

/* The exchange of a request for url: routed by host (NULL: forward mode)
   and governed by the rule for url, as request_hook_route leaves it. */
static void fx_route(struct fx *f, const char *host, const char *url)
{
    f->ex.cx.rt = host ? config_route_find(f->cfg, host) : NULL;
    assert_true(!host || f->ex.cx.rt);
    f->ex.cx.rule = config_cache_rule(f->cfg, f->ex.cx.rt, url, strlen(url));
}

/* ---- which exchanges have edits ---- */

static void test_any(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *host, *url;
        bool request, response;
    } rows[] = {
        {"api.local", "http://api.local/x", true, true},        /* the route's */
        {"api.local", "http://api.local/both/x", true, true},   /* the route's and the rule's */
        {"plain.local", "http://plain.local/x", false, false},  /* nothing: no cost */
        {"plain.local", "http://plain.local/fw/x", true, true}, /* a rule on a route */
        {"own.local", "http://own.local/fw/x", false, false},   /* its cache: block governs */
        {NULL, "http://origin.test/fw/x", true, true},          /* a rule, forward mode */
        {NULL, "http://origin.test/other", false, false},       /* the default rule */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        fx_route(f, rows[i].host, rows[i].url);
        if (hdr_rules_request_any(&f->c) != rows[i].request)
            row_fail("row %zu (%s): request edits %d", i, rows[i].url, !rows[i].request);
        if (hdr_rules_response_any(&f->c) != rows[i].response)
            row_fail("row %zu (%s): response edits %d", i, rows[i].url, !rows[i].response);
    }
    rows_done();
}

/* ---- toward the origin ---- */

static int keep_head(void *arg, struct http_msg *m)
{
    (void)arg;
    (void)m;
    return 0;
}

static int keep_done(void *arg)
{
    (void)arg;
    return 0;
}

/* a bodiless GET: its head, then its end */
static const struct http_reader_ops keep_ops = {.on_head = keep_head, .on_done = keep_done};

/* The fields of m, "Name: value\r\n" each, in order, into out. */
static void put_fields(const struct http_msg *m, char *out, size_t size)
{
    struct buf b;
    buf_init(&b, size - 1);
    for (size_t i = 0; i < m->nhdrs; i++)
        assert_int_equal(http_put_header(&b, m, &m->hdrs[i]), 0);
    memcpy(out, buf_used(&b) ? buf_head(&b) : "", buf_used(&b));
    out[buf_used(&b)] = '\0';
    buf_free(&b);
}

static void test_request(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *name, *host, *url, *fields, *want;
    } rows[] = {
        {"route: set added, removed dropped (every line), the rest kept in order", "api.local",
         "http://api.local/x", "Cookie: a=1\r\nAccept: */*\r\nX-Tag: t\r\ncookie: b=2\r\n",
         "Accept: */*\r\nX-Api-Key: k-123\r\nX-Who: route\r\nX-Gone: r\r\n"},
        {"route: a sent value of a set name is replaced, not added to", "api.local",
         "http://api.local/x", "X-API-KEY: mine\r\nx-api-key: also\r\nA: 1\r\n",
         "A: 1\r\nX-Api-Key: k-123\r\nX-Who: route\r\nX-Gone: r\r\n"},
        {"route, then rule: the rule's set wins, its remove beats the route's set", "api.local",
         "http://api.local/both/x", "X-Who: client\r\nX-Gone: client\r\nA: 1\r\n",
         "A: 1\r\nX-Api-Key: k-123\r\nX-Who: rule\r\nX-Tag: rule\r\n"},
        {"a rule's set of a name the route removes", "api.local", "http://api.local/both/x",
         "X-Tag: client\r\n", "X-Api-Key: k-123\r\nX-Who: rule\r\nX-Tag: rule\r\n"},
        {"forward mode: the rule's edits, names case-insensitive", NULL, "http://origin.test/fw/x",
         "COOKIE: s=1\r\nX-ENV: test\r\nA: 1\r\n", "A: 1\r\nX-Env: prod\r\n"},
        {"a rule on a route without edits", "plain.local", "http://plain.local/fw/x",
         "Cookie: s=1\r\n", "X-Env: prod\r\n"},
        {"no edits: the head as sent", "plain.local", "http://plain.local/x",
         "Cookie: s=1\r\nA: 1\r\n", "Host: h\r\nCookie: s=1\r\nA: 1\r\n"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char head[1024], got[1024];
        /* the rows that edit leave Host out of want: it stays first */
        snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: h\r\n%s\r\n", rows[i].fields);
        struct http_reader *r = http_reader_new(true, &keep_ops, NULL);
        assert_non_null(r);
        enum http_error err = HTTP_OK;
        http_reader_feed(r, head, strlen(head), &err);
        assert_int_equal(err, HTTP_OK);
        struct http_msg *m = http_reader_msg(r);
        fx_route(f, rows[i].host, rows[i].url);
        bool any = hdr_rules_request_any(&f->c);
        if (hdr_rules_request(&f->c, m) < 0) {
            row_fail("%s: out of memory", rows[i].name);
        } else {
            char want[1024];
            snprintf(want, sizeof(want), "%s%s", any ? "Host: h\r\n" : "", rows[i].want);
            put_fields(m, got, sizeof(got));
            if (strcmp(got, want) != 0)
                row_fail("%s:\n got \"%s\"\nwant \"%s\"", rows[i].name, got, want);
        }
        http_reader_free(&r);
    }
    rows_done();
}

/* ---- toward the client ---- */

/* The origin's fields as a head writer composes them: each one not
   dropped, then the set ones. */
static int compose(const struct client *c, const char *fields, struct buf *out)
{
    const char *p = fields;
    while (*p) {
        const char *colon = strchr(p, ':'), *end = strstr(p, "\r\n");
        assert_true(colon && end && colon < end);
        if (!hdr_rules_response_drops(c, p, (size_t)(colon - p)) &&
            buf_append(out, p, (size_t)(end + 2 - p)) < 0)
            return -1;
        p = end + 2;
    }
    return hdr_rules_response_put(c, out);
}

static void test_response(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *name, *host, *url, *fields, *want;
    } rows[] = {
        {"route: Server removed however spelled, a set name replaced, the set ones appended",
         "api.local", "http://api.local/x",
         "SERVER: o\r\nDate: d\r\nx-served-by: origin\r\nX-Tag: 1\r\nX-Tag: 2\r\nETag: \"e\"\r\n",
         "Date: d\r\nETag: \"e\"\r\nX-Served-By: magpie\r\nX-Who: route\r\nX-Gone: r\r\n"},
        {"route, then rule: one X-Who, the rule's; X-Gone removed; X-Tag the rule's", "api.local",
         "http://api.local/both/x", "X-Who: origin\r\nX-Gone: origin\r\nServer: o\r\nA: 1\r\n",
         "A: 1\r\nX-Served-By: magpie\r\nX-Who: rule\r\nX-Tag: rule\r\n"},
        {"forward mode: the rule's", NULL, "http://origin.test/fw/x",
         "x-powered-by: php\r\nServer: o\r\nX-Rule: origin\r\n", "Server: o\r\nX-Rule: hit\r\n"},
        {"the default rule: nothing dropped, nothing added", NULL, "http://origin.test/other",
         "Server: o\r\nX-Powered-By: php\r\n", "Server: o\r\nX-Powered-By: php\r\n"},
        {"a prefix or an extension of a name is another name", "api.local", "http://api.local/x",
         "Serve: a\r\nServers: b\r\nX-Ta: c\r\n",
         "Serve: a\r\nServers: b\r\nX-Ta: c\r\nX-Served-By: magpie\r\nX-Who: route\r\n"
         "X-Gone: r\r\n"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct buf out;
        buf_init(&out, 4096);
        fx_route(f, rows[i].host, rows[i].url);
        if (compose(&f->c, rows[i].fields, &out) < 0) {
            row_fail("%s: full", rows[i].name);
        } else {
            size_t n = buf_used(&out);
            if (n != strlen(rows[i].want) || memcmp(buf_head(&out), rows[i].want, n) != 0)
                row_fail("%s:\n got \"%.*s\"\nwant \"%s\"", rows[i].name, (int)n,
                         n ? buf_head(&out) : "", rows[i].want);
        }
        buf_free(&out);
    }
    /* a name with a NUL in it is not the configured name it starts with,
       nor is that name read past its end */
    fx_route(f, "api.local", "http://api.local/x");
    if (hdr_rules_response_drops(&f->c, "Server\0zz", 9))
        row_fail("\"Server\\0zz\" dropped as Server");
    rows_done();
}

/* A full head buffer is an error, whichever set field does not fit. */
static void test_response_full(void **state)
{
    struct fx *f = *state;
    /* "X-Served-By: magpie\r\n" is 21 bytes, the three route fields 46 */
    static const size_t caps[] = {0, 10, 21, 34, 45};
    fx_route(f, "api.local", "http://api.local/x");
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        struct buf out;
        buf_init(&out, caps[i]);
        if (hdr_rules_response_put(&f->c, &out) != -1)
            row_fail("cap %zu: fitted", caps[i]);
        buf_free(&out);
    }
    struct buf out;
    buf_init(&out, 46);
    assert_int_equal(hdr_rules_response_put(&f->c, &out), 0);
    assert_int_equal(buf_used(&out), 46);
    buf_free(&out);
    rows_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_any),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_response_full),
    };
    return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
