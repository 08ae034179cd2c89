/*
 * test_url.c - url.c through its public API: absolute-form targets,
 * authorities (Host headers, route origins) and host:port formatting,
 * each as a table of inputs and expected results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "url.h"

#include "rows.h"

static void test_parse_absolute(void **state)
{
    static const struct {
        const char *in;
        int rc;
        bool https;
        const char *host;
        uint16_t port;
        const char *path; /* path and query as returned */
    } cases[] = {
        {"http://example.com/", 0, false, "example.com", 80, "/"},
        {"https://example.com/", 0, true, "example.com", 443, "/"},
        {"http://example.com:8080/a/b?c=d", 0, false, "example.com", 8080, "/a/b?c=d"},
        {"https://example.com:1/x", 0, true, "example.com", 1, "/x"},
        {"http://example.com:65535/", 0, false, "example.com", 65535, "/"},
        {"http://example.com:/p", 0, false, "example.com", 80, "/p"},
        {"http://[::1]/", 0, false, "::1", 80, "/"},
        {"http://[::1]:8080/x", 0, false, "::1", 8080, "/x"},
        {"https://[2001:DB8::A]/", 0, true, "2001:db8::a", 443, "/"},
        {"http://[::ffff:10.0.0.1]:81/", 0, false, "::ffff:10.0.0.1", 81, "/"},
        {"HTTP://EXAMPLE.COM/Path", 0, false, "example.com", 80, "/Path"},
        {"HtTpS://Example.Com:444/", 0, true, "example.com", 444, "/"},
        {"http://example.com", 0, false, "example.com", 80, "/"},
        {"http://example.com:8080", 0, false, "example.com", 8080, "/"},
        {"http://h?q=1", 0, false, "h", 80, "?q=1"},
        {"http://h/p#frag", 0, false, "h", 80, "/p"},
        {"http://h/p?q#frag", 0, false, "h", 80, "/p?q"},
        {"http://h#frag", 0, false, "h", 80, "/"},
        {"http://h?q#f", 0, false, "h", 80, "?q"},
        {"http://10.1.2.3:3128/", 0, false, "10.1.2.3", 3128, "/"},
        {"http://my_host.internal-1/", 0, false, "my_host.internal-1", 80, "/"},
        /* refused */
        {.in = "http://user@example.com/", .rc = -1},
        {.in = "http://user:pw@example.com/", .rc = -1},
        {.in = "http://example.com:0/", .rc = -1},
        {.in = "http://example.com:65536/", .rc = -1},
        {.in = "http://example.com:99999/", .rc = -1},
        {.in = "http://example.com:123456/", .rc = -1},
        {.in = "http://example.com:8o/", .rc = -1},
        {.in = "http://example.com:http/", .rc = -1},
        {.in = "http://example.com:-1/", .rc = -1},
        {.in = "http://example.com:+80/", .rc = -1},
        {.in = "http://example.com:80:80/", .rc = -1},
        {.in = "http:///path", .rc = -1},
        {.in = "http://", .rc = -1},
        {.in = "https://", .rc = -1},
        {.in = "http://:80/", .rc = -1},
        {.in = "http://?q", .rc = -1},
        {.in = "ftp://example.com/", .rc = -1},
        {.in = "ws://example.com/", .rc = -1},
        {.in = "example.com/", .rc = -1},
        {.in = "/relative/path", .rc = -1},
        {.in = "http:/example.com/", .rc = -1},
        {.in = "http:example.com", .rc = -1},
        {.in = "", .rc = -1},
        {.in = "garbage", .rc = -1},
        {.in = "http://exa mple.com/", .rc = -1},
        {.in = "http://exa%41mple.com/", .rc = -1},
        {.in = "http://[::1/", .rc = -1},
        {.in = "http://[]/", .rc = -1},
        {.in = "http://[::1]x/", .rc = -1},
        {.in = "http://[not:v6:zz]/", .rc = -1},
        {.in = "http://[1.2.3.4]/", .rc = -1},
        {.in = "http://::1/", .rc = -1},
        {.in = "http://[::1]:0/", .rc = -1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *in = cases[i].in;
        struct url u;
        memset(&u, 0, sizeof(u));
        int rc = url_parse_absolute(in, strlen(in), &u);
        if (rc != cases[i].rc) {
            row_fail("%s: rc %d, want %d", in, rc, cases[i].rc);
            continue;
        }
        if (rc < 0)
            continue;
        if (u.https != cases[i].https)
            row_fail("%s: https %d", in, u.https);
        if (strcmp(u.host, cases[i].host) != 0)
            row_fail("%s: host \"%s\", want \"%s\"", in, u.host, cases[i].host);
        if (u.port != cases[i].port)
            row_fail("%s: port %u, want %u", in, u.port, cases[i].port);
        if (u.path_len != strlen(cases[i].path) || memcmp(u.path, cases[i].path, u.path_len) != 0)
            row_fail("%s: path \"%.*s\", want \"%s\"", in, (int)u.path_len, u.path, cases[i].path);
    }
    rows_done();
}

/* The length bounds the parse: bytes past it are never read. */
static void test_parse_absolute_len(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        int rc;
        const char *host;
        uint16_t port;
        const char *path;
    } cases[] = {
        {"http://h/path-and-more", 8, 0, "h", 80, "/"},
        {"http://host:8080/x", 11, 0, "host", 80, "/"},
        {"http://host:8080/x", 14, 0, "host", 80, "/"}, /* "http://host:80" */
        {"http://h@x/", 8, 0, "h", 80, "/"},
        {.in = "http://example.com/", .len = 7, .rc = -1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct url u;
        int rc = url_parse_absolute(cases[i].in, cases[i].len, &u);
        if (rc != cases[i].rc) {
            row_fail("%.*s: rc %d", (int)cases[i].len, cases[i].in, rc);
            continue;
        }
        if (rc < 0)
            continue;
        assert_string_equal(u.host, cases[i].host);
        assert_int_equal(u.port, cases[i].port);
        assert_int_equal(u.path_len, strlen(cases[i].path));
        assert_memory_equal(u.path, cases[i].path, u.path_len);
    }
    rows_done();
}

static void test_host_length(void **state)
{
    char in[URL_HOST_MAX + 32], host[URL_HOST_MAX + 1];
    struct url u;
    (void)state;
    /* the longest host that fits with its NUL */
    memset(host, 'a', URL_HOST_MAX - 1);
    host[URL_HOST_MAX - 1] = '\0';
    snprintf(in, sizeof(in), "http://%s/", host);
    assert_int_equal(url_parse_absolute(in, strlen(in), &u), 0);
    assert_string_equal(u.host, host);
    /* one more does not */
    memset(host, 'a', URL_HOST_MAX);
    host[URL_HOST_MAX] = '\0';
    snprintf(in, sizeof(in), "http://%s/", host);
    assert_int_equal(url_parse_absolute(in, strlen(in), &u), -1);
    rows_done();
}

static void test_parse_authority(void **state)
{
    static const struct {
        const char *in;
        uint16_t defport;
        int rc;
        const char *host;
        uint16_t port;
    } cases[] = {
        {"example.com", 80, 0, "example.com", 80},
        {"example.com", 443, 0, "example.com", 443},
        {"Example.COM:8080", 80, 0, "example.com", 8080},
        {"example.com:", 80, 0, "example.com", 80},
        {"example.com:", 443, 0, "example.com", 443},
        {"127.0.0.1:3128", 80, 0, "127.0.0.1", 3128},
        {"[::1]", 443, 0, "::1", 443},
        {"[::1]:8443", 443, 0, "::1", 8443},
        {"[::1]:", 80, 0, "::1", 80},
        {"[FE80::1]:1", 80, 0, "fe80::1", 1},
        {"a", 80, 0, "a", 80},
        /* refused */
        {.in = "", .defport = 80, .rc = -1},
        {.in = ":80", .defport = 80, .rc = -1},
        {.in = "example.com:0", .defport = 80, .rc = -1},
        {.in = "example.com:65536", .defport = 80, .rc = -1},
        {.in = "example.com:abc", .defport = 80, .rc = -1},
        {.in = "example.com:80x", .defport = 80, .rc = -1},
        {.in = "example.com:80:80", .defport = 80, .rc = -1},
        {.in = "exa mple.com", .defport = 80, .rc = -1},
        {.in = "example.com/", .defport = 80, .rc = -1},
        {.in = "user@example.com", .defport = 80, .rc = -1},
        {.in = "exam\"ple", .defport = 80, .rc = -1},
        {.in = "ex\tample", .defport = 80, .rc = -1},
        {.in = "[::1", .defport = 80, .rc = -1},
        {.in = "[::1]8080", .defport = 80, .rc = -1},
        {.in = "[::1]]:80", .defport = 80, .rc = -1},
        {.in = "[]:80", .defport = 80, .rc = -1},
        {.in = "[::g]:80", .defport = 80, .rc = -1},
        {.in = "[::1%eth0]", .defport = 80, .rc = -1},
        {.in = "::1", .defport = 80, .rc = -1},
        {.in = "[example.com]", .defport = 80, .rc = -1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *in = cases[i].in;
        char host[URL_HOST_MAX];
        uint16_t port = 7;
        int rc = url_parse_authority(in, strlen(in), host, sizeof(host), &port, cases[i].defport);
        if (rc != cases[i].rc) {
            row_fail("%s: rc %d, want %d", in, rc, cases[i].rc);
            continue;
        }
        if (rc < 0)
            continue;
        if (strcmp(host, cases[i].host) != 0)
            row_fail("%s: host \"%s\", want \"%s\"", in, host, cases[i].host);
        if (port != cases[i].port)
            row_fail("%s: port %u, want %u", in, port, cases[i].port);
    }
    rows_done();
}

static void test_authority_hostsz(void **state)
{
    char host[8];
    uint16_t port;
    (void)state;
    assert_int_equal(url_parse_authority("abcdefg", 7, host, sizeof(host), &port, 80), 0);
    assert_string_equal(host, "abcdefg");
    assert_int_equal(url_parse_authority("abcdefgh", 8, host, sizeof(host), &port, 80), -1);
    assert_int_equal(url_parse_authority("[1::2:3]", 8, host, sizeof(host), &port, 80), 0);
    assert_string_equal(host, "1::2:3");
    assert_int_equal(url_parse_authority("[1::2:3:4]", 10, host, sizeof(host), &port, 80), -1);
    rows_done();
}

static void test_format_hostport(void **state)
{
    static const struct {
        const char *host;
        uint16_t port;
        size_t size;
        const char *out;
    } cases[] = {
        {"example.com", 80, 64, "example.com:80"},
        {"127.0.0.1", 65535, 64, "127.0.0.1:65535"},
        {"::1", 443, 64, "[::1]:443"},
        {"2001:db8::a", 8080, 64, "[2001:db8::a]:8080"},
        {"example.com", 8080, 8, "example"}, /* truncated, still terminated */
        {"::1", 443, 4, "[::"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[64];
        memset(out, 'X', sizeof(out));
        url_format_hostport(out, cases[i].size, cases[i].host, cases[i].port);
        if (strcmp(out, cases[i].out) != 0)
            row_fail("%s %u: \"%s\", want \"%s\"", cases[i].host, cases[i].port, out, cases[i].out);
    }
    rows_done();
}

/* What url_format_hostport writes, url_parse_authority reads back. */
static void test_roundtrip(void **state)
{
    static const struct {
        const char *host;
        uint16_t port;
    } cases[] = {{"example.com", 80}, {"10.0.0.1", 1}, {"::1", 65535}, {"fe80::1:2", 8080}};
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[URL_HOST_MAX + 16], host[URL_HOST_MAX];
        uint16_t port = 0;
        url_format_hostport(out, sizeof(out), cases[i].host, cases[i].port);
        assert_int_equal(url_parse_authority(out, strlen(out), host, sizeof(host), &port, 9), 0);
        assert_string_equal(host, cases[i].host);
        assert_int_equal(port, cases[i].port);
    }
    rows_done();
}

static void test_cache_key(void **state)
{
    (void)state;
    static char *const ignore[] = {"utm_source", "fbclid"};
    static const struct {
        bool https;
        const char *host;
        uint16_t port;
        const char *path;
        size_t nignore;
        const char *want; /* NULL: does not fit */
    } rows[] = {
        {false, "a.test", 80, "/", 0, "http://a.test:80/"},
        {true, "a.test", 443, "/x/y", 0, "https://a.test:443/x/y"},
        {false, "::1", 8080, "/p", 0, "http://[::1]:8080/p"},
        {false, "a.test", 80, "?q=1", 0, "http://a.test:80/?q=1"},
        {false, "a.test", 80, "/s?b=2&a=1", 0, "http://a.test:80/s?a=1&b=2"},
        {false, "a.test", 80, "/s?a=1&b=2", 0, "http://a.test:80/s?a=1&b=2"},
        /* one name's values keep their order: an origin can tell them apart */
        {false, "a.test", 80, "/s?a=2&a=1", 0, "http://a.test:80/s?a=2&a=1"},
        {false, "a.test", 80, "/s?a=1&a=2", 0, "http://a.test:80/s?a=1&a=2"},
        {false, "a.test", 80, "/s?b=1&a=3&b=0&a=2&a", 0, "http://a.test:80/s?a=3&a=2&a&b=1&b=0"},
        {false, "a.test", 80, "/s?ab=1&a=2&a-=3", 0, "http://a.test:80/s?a=2&a-=3&ab=1"},
        {false, "a.test", 80, "/s?a=2&utm_source=1&a=1", 2, "http://a.test:80/s?a=2&a=1"},
        {false, "a.test", 80, "/s?", 0, "http://a.test:80/s"},
        {false, "a.test", 80, "/s?&&b&a", 0, "http://a.test:80/s?a&b"},
        {false, "a.test", 80, "/s?utm_source=x&id=3", 2, "http://a.test:80/s?id=3"},
        {false, "a.test", 80, "/s?utm_source=x", 2, "http://a.test:80/s"},
        {false, "a.test", 80, "/s?utm_sourcex=1", 2, "http://a.test:80/s?utm_sourcex=1"},
        {false, "a.test", 80, "/s?fbclid&z=1", 2, "http://a.test:80/s?z=1"},
        {false, "a.test", 80, "/s?utm_source=x", 0, "http://a.test:80/s?utm_source=x"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[256];
        int rc = url_cache_key(rows[i].https, rows[i].host, rows[i].port, rows[i].path,
                               strlen(rows[i].path), ignore, rows[i].nignore, out, sizeof(out));
        if (rc != 0 || strcmp(out, rows[i].want) != 0)
            fail_msg("row %zu (%s): got rc %d \"%s\", want \"%s\"", i, rows[i].path, rc,
                     rc == 0 ? out : "", rows[i].want);
    }
    char small[24];
    assert_int_equal(url_cache_key(false, "a.test", 80, "/a-long-path", 12, NULL, 0, small,
                                   sizeof(small)),
                     -1);
}

static void test_cache_key_routed(void **state)
{
    (void)state;
    static const struct {
        const char *host, *path, *want; /* want NULL: refused */
    } rows[] = {
        {"rev.test", "/x", "routed://rev.test/x"},
        {"Rev.Test:9999", "/x?b=1&a=2", "routed://rev.test:9999/x?a=2&b=1"},
        {"rev.test:", "/", "routed://rev.test:/"},
        {"[::1]:81", "/", "routed://[::1]:81/"},
        {"rev.test", "?q", "routed://rev.test/?q"},
        {"rev.test/evil", "/", NULL},
        {"rev.test?x", "/", NULL},
        {"rev test", "/", NULL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[256];
        int rc = url_cache_key_routed(rows[i].host, strlen(rows[i].host), rows[i].path,
                                      strlen(rows[i].path), NULL, 0, out, sizeof(out));
        if (!rows[i].want ? rc != -1 : rc != 0 || strcmp(out, rows[i].want) != 0)
            fail_msg("row %zu (%s): got rc %d \"%s\"", i, rows[i].host, rc, rc == 0 ? out : "");
    }
    /* a routed key never equals a forward proxy key for the same names */
    char a[64], b[64];
    assert_int_equal(url_cache_key(false, "rev.test", 80, "/x", 2, NULL, 0, a, sizeof(a)), 0);
    assert_int_equal(url_cache_key_routed("rev.test:80", 11, "/x", 2, NULL, 0, b, sizeof(b)), 0);
    assert_string_not_equal(a, b);
    char small[12];
    assert_int_equal(url_cache_key_routed("rev.test", 8, "/x", 2, NULL, 0, small, sizeof(small)),
                     -1);
}

/* RFC 3986 §5.4: every normal and abnormal example, against its base. */
/* The query GET /cache reads its url= from: percent-decoded, refused
   when repeated or malformed, other parameters counted. */
static void test_query_param(void **state)
{
    static const struct {
        const char *query;
        long rc;
        const char *want;
        size_t others;
    } rows[] = {
        {"url=http%3A%2F%2Fa.test%2Fx", 15, "http://a.test/x", 0},
        {"url=http://a.test/x?b=1", 19, "http://a.test/x?b=1", 0},
        {"a=1&url=%41%4a%4A&b", 3, "AJJ", 2},
        {"url=a+b", 3, "a+b", 0}, /* a plus stays a plus */
        {"url=", 0, "", 0},
        {"url", 0, "", 0},
        {"url=%25", 1, "%", 0},
        {"url=%ff%0d%0a", 3, "\xff\r\n", 0}, /* decoded as they are: the caller judges */
        {"&&url=x&&", 1, "x", 0},
        {"URL=x", URL_PARAM_ABSENT, NULL, 1}, /* names as written */
        {"urlx=1&xurl=2", URL_PARAM_ABSENT, NULL, 2},
        {"", URL_PARAM_ABSENT, NULL, 0},
        {"url=a&url=b", URL_PARAM_REPEATED, NULL, 0},
        {"url=a&url=a", URL_PARAM_REPEATED, NULL, 0},
        {"url=%", URL_PARAM_MALFORMED, NULL, 0},
        {"url=%4", URL_PARAM_MALFORMED, NULL, 0},
        {"url=%zz", URL_PARAM_MALFORMED, NULL, 0},
        {"url=%4g", URL_PARAM_MALFORMED, NULL, 0},
        {"url=a%00b", URL_PARAM_MALFORMED, NULL, 0}, /* a key is a C string */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[64];
        size_t others = 99;
        long rc =
            url_query_param(rows[i].query, strlen(rows[i].query), "url", out, sizeof(out), &others);
        if (rc != rows[i].rc || others != rows[i].others ||
            (rc >= 0 && (strlen(out) != (size_t)rc || strcmp(out, rows[i].want) != 0)))
            row_fail("%s: rc %ld others %zu \"%s\"", rows[i].query, rc, others, rc >= 0 ? out : "");
    }
    rows_done();
}

/* The decoded value and its NUL must fit, or nothing is returned. */
static void test_query_param_bounds(void **state)
{
    char out[4];
    size_t others;
    (void)state;
    assert_int_equal(url_query_param("url=abc", 7, "url", out, sizeof(out), &others), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(url_query_param("url=abcd", 8, "url", out, sizeof(out), &others),
                     URL_PARAM_MALFORMED);
    assert_int_equal(url_query_param("url=%41%42%43", 13, "url", out, sizeof(out), &others), 3);
    /* the length is the caller's: nothing past it is read */
    assert_int_equal(url_query_param("url=ab&url=c", 6, "url", out, sizeof(out), &others), 2);
}

static void test_resolve_rfc3986(void **state)
{
    static const struct {
        const char *ref, *want;
    } rows[] = {
        /* §5.4.1 normal */
        {"g:h", "g:h"},
        {"g", "http://a/b/c/g"},
        {"./g", "http://a/b/c/g"},
        {"g/", "http://a/b/c/g/"},
        {"/g", "http://a/g"},
        {"//g", "http://g"},
        {"?y", "http://a/b/c/d;p?y"},
        {"g?y", "http://a/b/c/g?y"},
        {"#s", "http://a/b/c/d;p?q#s"},
        {"g#s", "http://a/b/c/g#s"},
        {"g?y#s", "http://a/b/c/g?y#s"},
        {";x", "http://a/b/c/;x"},
        {"g;x", "http://a/b/c/g;x"},
        {"g;x?y#s", "http://a/b/c/g;x?y#s"},
        {"", "http://a/b/c/d;p?q"},
        {".", "http://a/b/c/"},
        {"./", "http://a/b/c/"},
        {"..", "http://a/b/"},
        {"../", "http://a/b/"},
        {"../g", "http://a/b/g"},
        {"../..", "http://a/"},
        {"../../", "http://a/"},
        {"../../g", "http://a/g"},
        /* §5.4.2 abnormal */
        {"../../../g", "http://a/g"},
        {"../../../../g", "http://a/g"},
        {"/./g", "http://a/g"},
        {"/../g", "http://a/g"},
        {"g.", "http://a/b/c/g."},
        {".g", "http://a/b/c/.g"},
        {"g..", "http://a/b/c/g.."},
        {"..g", "http://a/b/c/..g"},
        {"./../g", "http://a/b/g"},
        {"./g/.", "http://a/b/c/g/"},
        {"g/./h", "http://a/b/c/g/h"},
        {"g/../h", "http://a/b/c/h"},
        {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
        {"g;x=1/../y", "http://a/b/c/y"},
        {"g?y/./x", "http://a/b/c/g?y/./x"},
        {"g?y/../x", "http://a/b/c/g?y/../x"},
        {"g#s/./x", "http://a/b/c/g#s/./x"},
        {"g#s/../x", "http://a/b/c/g#s/../x"},
        {"http:g", "http:g"}, /* strict parsers */
    };
    char out[256];
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int n = url_resolve("http://a/b/c/d;p?q", rows[i].ref, out, sizeof out);
        if (n < 0 || strcmp(out, rows[i].want) != 0 || (size_t)n != strlen(rows[i].want))
            row_fail("\"%s\": got \"%s\" (%d), want \"%s\"", rows[i].ref, n < 0 ? "" : out, n,
                     rows[i].want);
    }
    rows_done();
}

/* What else a Location may be: a base without path, exact fits, no scheme. */
static void test_resolve_bounds(void **state)
{
    char out[64];
    (void)state;
    assert_int_equal(url_resolve("http://a", "g", out, sizeof out), 10);
    assert_string_equal(out, "http://a/g");
    assert_int_equal(url_resolve("https://h:8443/x/y", "/z?q=1", out, sizeof out), 20);
    assert_string_equal(out, "https://h:8443/z?q=1");
    /* "http://a/b/c/g" is 14 bytes: 15 fit, 14 do not */
    assert_int_equal(url_resolve("http://a/b/c/d", "g", out, 15), 14);
    assert_int_equal(url_resolve("http://a/b/c/d", "g", out, 14), -1);
    assert_int_equal(url_resolve("/no/scheme", "g", out, sizeof out), -1);
    assert_int_equal(url_resolve("http://a/b", "g", out, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_parse_absolute, rows_reset),
        cmocka_unit_test_setup(test_parse_absolute_len, rows_reset),
        cmocka_unit_test_setup(test_host_length, rows_reset),
        cmocka_unit_test_setup(test_parse_authority, rows_reset),
        cmocka_unit_test_setup(test_authority_hostsz, rows_reset),
        cmocka_unit_test_setup(test_format_hostport, rows_reset),
        cmocka_unit_test_setup(test_roundtrip, rows_reset),
        cmocka_unit_test(test_cache_key),
        cmocka_unit_test(test_cache_key_routed),
        cmocka_unit_test_setup(test_query_param, rows_reset),
        cmocka_unit_test(test_query_param_bounds),
        cmocka_unit_test_setup(test_resolve_rfc3986, rows_reset),
        cmocka_unit_test(test_resolve_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
