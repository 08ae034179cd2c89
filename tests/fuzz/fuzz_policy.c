/*
 * fuzz_policy.c - the RFC 9111 field parsers and decisions (cache/
 * policy.c, and cache_facts() that reads a response head for them):
 * Cache-Control, Age, Expires, Date, Last-Modified, Vary, ETag with
 * If-None-Match and If-Modified-Since, Range. The clock is fixed, so a
 * finding replays.
 *
 * Input: byte 0 picks the status, method and Authorization, byte 1 the
 * body size for Range; then response field lines ("Name: value", one per
 * line), an empty line, and request field lines. Every value also goes
 * straight to each parser as a raw string.
 */
#include <math.h>
#include <stdio.h>

#include "cache/cache_int.h"
#include "cache/policy.h"
#include "config.h"
#include "fuzz.h"
#include "http.h"

#define NOW ((time_t)1767225600) /* 2026-01-01T00:00:00Z */
#define HEAD_MAX (64 * 1024)

static int noop_head(void *arg, struct http_msg *m)
{
    (void)arg, (void)m;
    return 0;
}

static int noop_body(void *arg, const char *p, size_t n)
{
    (void)arg, (void)p, (void)n;
    return 0;
}

static int noop_done(void *arg)
{
    (void)arg;
    return 0;
}

static const struct http_reader_ops noop_ops = {noop_head, noop_body, noop_done};

/* Builds "first CRLF (line CRLF)* CRLF" from '\n'-separated lines and
   parses it; NULL if it is not a valid head. */
static struct http_reader *parse_head(bool request, const char *first, const char *lines, size_t n)
{
    char *head = malloc(strlen(first) + 2 * n + 8);
    if (!head)
        abort();
    size_t len = (size_t)sprintf(head, "%s\r\n", first);
    for (size_t i = 0; i < n; i++) {
        if (lines[i] == '\n')
            head[len++] = '\r';
        head[len++] = lines[i];
    }
    if (n && lines[n - 1] != '\n')
        len += (size_t)sprintf(head + len, "\r\n");
    len += (size_t)sprintf(head + len, "\r\n");
    struct http_reader *r = http_reader_new(request, &noop_ops, NULL);
    if (!r)
        abort();
    if (!request)
        http_reader_expect_no_body(r);
    size_t scanned = 0, head_len = 0;
    enum http_error err = HTTP_ERR_SYNTAX;
    if (http_head_scan(head, len, HEAD_MAX, HEAD_MAX, &scanned, &head_len) == HTTP_SCAN_DONE)
        http_reader_feed(r, head, head_len, &err);
    free(head);
    if (err != HTTP_OK)
        http_reader_free(&r);
    return r;
}

static void check_date(const char *v)
{
    time_t t = http_date_parse(v);
    (void)http_date_parse_at(v, NOW);
    if (t < 0)
        return;
    char out[64];
    size_t n = http_date_format(t, out, sizeof(out));
    if (n >= sizeof(out) || strlen(out) != n)
        abort();
    if (t < (time_t)253402300800 && http_date_parse(out) != t)
        abort(); /* magpie's own dates (before year 10000) parse back */
}

static const char *null_field(const char *name, void *arg)
{
    (void)name, (void)arg;
    return NULL;
}

/* Each raw value through each parser: they take any C string. */
static void raw_values(const char *lines, size_t n, uint64_t size)
{
    char *s = fuzz_strndup((const uint8_t *)lines, n);
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        char *v = strchr(line, ':');
        v = v ? v + 1 : line;
        struct cc cc;
        cc_init(&cc);
        cc_parse(&cc, v);
        if (cc.max_age < CC_UNSET || cc.s_maxage < CC_UNSET || cc.max_stale < CC_UNSET)
            abort();
        check_date(v);
        char key[256];
        long k = policy_vary_key(v, null_field, NULL, key, sizeof(key));
        if (k >= (long)sizeof(key))
            abort();
        uint64_t first = 0, last = 0;
        if (policy_range(v, size, &first, &last) == 1 && (first > last || last >= size))
            abort();
        (void)policy_not_modified(v, v, v, NOW);
    }
    free(s);
}

static const char *req_field(const char *name, void *arg)
{
    const struct http_header *h = http_find(arg, name);
    return h ? http_hvalue(arg, h) : NULL;
}

static void check_vary(const struct http_msg *rsp, const struct http_msg *req)
{
    static char key[8192], key2[8192];
    const struct http_header *vary = http_find(rsp, "Vary");
    if (!vary)
        return;
    const char *v = http_hvalue(rsp, vary);
    long n = req ? policy_vary_key(v, req_field, (void *)req, key, sizeof(key))
                 : policy_vary_key(v, null_field, NULL, key, sizeof(key));
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(key) || strlen(key) != (size_t)n)
        abort();
    long n2 = req ? policy_vary_key(v, req_field, (void *)req, key2, sizeof(key2))
                  : policy_vary_key(v, null_field, NULL, key2, sizeof(key2));
    if (n2 != n || strcmp(key, key2) != 0)
        abort(); /* the same request makes the same key */
    char tiny[5];
    long t = req ? policy_vary_key(v, req_field, (void *)req, tiny, sizeof(tiny))
                 : policy_vary_key(v, null_field, NULL, tiny, sizeof(tiny));
    if (t >= (long)sizeof(tiny) || strlen(tiny) >= sizeof(tiny))
        abort();
}

static void decide(const struct http_msg *rsp, const struct http_msg *req, uint8_t opt,
                   uint64_t size)
{
    static const enum http_method_id methods[] = {HTTP_M_GET, HTTP_M_HEAD, HTTP_M_POST,
                                                  HTTP_M_DELETE};
    enum http_method_id method = methods[(opt >> 4) & 3];
    struct cache_resp r;
    /* bit 2 and 3: a reverse route, with or without its own targeted field,
       so CDN-Cache-Control (RFC 9213) and the route's field are parsed too */
    cache_facts(rsp, opt & 4, (opt & 8) ? "Magpie-Cache-Control" : NULL, NOW - 2, NOW - 1, &r);
    struct cc req_cc;
    cc_init(&req_cc);
    for (size_t i = 0; req && i < req->nhdrs; i++)
        if (strcasecmp(http_hname(req, &req->hdrs[i]), "Cache-Control") == 0)
            cc_parse(&req_cc, http_hvalue(req, &req->hdrs[i]));
    double ttl = (opt & 64) ? 300.0 : -1.0;
    (void)policy_storable(method, &req_cc, opt & 128, &r, ttl);
    /* bit 0: a rule's max_ttl caps it */
    double life = policy_freshness_lifetime(&r, ttl, (opt & 1) ? 60.0 : -1.0),
           age = policy_current_age(&r, NOW);
    if (isnan(life) || isnan(age) || life < 0 || age < 0)
        abort();
    (void)policy_use(req ? &req_cc : NULL, &r, life, age);
    (void)policy_stale_if_error(req ? &req_cc : NULL, &r, life, age);
    (void)policy_invalidates(method, r.status);
    (void)policy_heuristic_status(r.status);
    (void)policy_understood_status(r.status);
    check_vary(rsp, req);
    if (req) {
        const struct http_header *etag = http_find(rsp, "ETag");
        (void)policy_not_modified(cache_hval(req, "If-None-Match"),
                                  cache_hval(req, "If-Modified-Since"),
                                  etag ? http_hvalue(rsp, etag) : NULL, r.last_modified);
        const char *range = cache_hval(req, "Range");
        uint64_t first = 0, last = 0;
        if (range && policy_range(range, size, &first, &last) == 1 &&
            (first > last || last >= size))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {200, 203, 204, 206, 300, 301, 304, 404,
                                   405, 410, 414, 500, 501, 502, 503, 599};
    uint8_t opt = fuzz_byte(&data, &size), sz = fuzz_byte(&data, &size);
    uint64_t body_size = sz < 200 ? sz : (uint64_t)1 << (sz - 200);
    const char *text = (const char *)data;
    if (size > HEAD_MAX || memchr(data, '\0', size))
        return 0; /* field values never hold NUL; heads are bounded */
    raw_values(text, size, body_size);
    const char *sep = memmem(text, size, "\n\n", 2);
    size_t rlen = sep ? (size_t)(sep - text) + 1 : size;
    char first[32];
    snprintf(first, sizeof(first), "HTTP/1.1 %d X", statuses[opt & 15]);
    struct http_reader *rr = parse_head(false, first, text, rlen), *qr = NULL;
    if (sep)
        qr = parse_head(true, "GET / HTTP/1.1", sep + 2, size - rlen - 1);
    if (rr)
        decide(http_reader_msg(rr), qr ? http_reader_msg(qr) : NULL, opt, body_size);
    http_reader_free(&rr);
    http_reader_free(&qr);
    return 0;
}
