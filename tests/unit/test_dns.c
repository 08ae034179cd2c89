/*
 * test_dns.c - dns.c on a real libev loop against a tiny DNS server that
 * the test runs itself on 127.0.0.1 UDP (same loop). It never uses the
 * machine's resolver or network: every dns_new() points at that server.
 *
 * The server answers A for origin.test (127.0.0.2, TTL 60), A and AAAA for
 * dual.test (two of each), NOERROR with no answers for any other type of
 * those names, and NXDOMAIN for everything else. A "silent" server reads
 * queries and never answers. Both count what they receive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns.h"

#define T_A 1
#define T_AAAA 28

/* ---- the test's own DNS server ---- */

struct tdns {
    int fd;
    ev_io io;
    bool silent;
    unsigned nqueries;
    unsigned nqueries_a;
    char server[32]; /* "127.0.0.1:port" for dns_new() */
};

struct treply {
    uint8_t buf[512];
    size_t len;
    uint16_t ancount;
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void treply_add(struct treply *r, uint16_t type, const void *rdata, uint16_t rdlen)
{
    uint8_t *p = r->buf + r->len;

    put16(p, 0xc00c); /* name: pointer to the question */
    put16(p + 2, type);
    put16(p + 4, 1); /* IN */
    put16(p + 6, 0);
    put16(p + 8, 60); /* TTL */
    put16(p + 10, rdlen);
    memcpy(p + 12, rdata, rdlen);
    r->len += 12 + (size_t)rdlen;
    r->ancount++;
}

/* Reads the question name (lower-cased, dotted); returns its end or 0. */
static size_t tdns_qname(const uint8_t *q, size_t len, char *name, size_t cap)
{
    size_t p = 12, n = 0;

    while (p < len && q[p] != 0) {
        size_t l = q[p++], i;

        if (l > 63 || p + l > len || n + l + 2 > cap)
            return 0;
        if (n > 0)
            name[n++] = '.';
        for (i = 0; i < l; i++)
            name[n++] = (char)tolower(q[p + i]);
        p += l;
    }
    name[n] = '\0';
    return p < len ? p + 1 : 0;
}

/* Answers per the table at the top; rcode 3 is NXDOMAIN. */
static void tdns_answer(struct treply *r, const char *name, uint16_t qtype, int *rcode)
{
    static const uint8_t o4[4] = {127, 0, 0, 2}, d4a[4] = {127, 0, 0, 3}, d4b[4] = {127, 0, 0, 4};
    struct in6_addr d6a, d6b;

    *rcode = 0;
    if (strcmp(name, "origin.test") == 0) {
        if (qtype == T_A)
            treply_add(r, T_A, o4, 4);
    } else if (strcmp(name, "dual.test") == 0) {
        inet_pton(AF_INET6, "::1", &d6a);
        inet_pton(AF_INET6, "::2", &d6b);
        if (qtype == T_A) {
            treply_add(r, T_A, d4a, 4);
            treply_add(r, T_A, d4b, 4);
        } else if (qtype == T_AAAA) {
            treply_add(r, T_AAAA, &d6a, 16);
            treply_add(r, T_AAAA, &d6b, 16);
        }
    } else {
        *rcode = 3;
    }
}

static void tdns_handle(struct tdns *t, const uint8_t *q, size_t len,
                        const struct sockaddr_storage *from, socklen_t fromlen)
{
    struct treply r = {.len = 0};
    char name[256];
    size_t end = tdns_qname(q, len, name, sizeof(name));
    uint16_t qtype;
    int rcode;

    if (end == 0 || end + 4 > len || end + 4 > 300)
        return;
    qtype = (uint16_t)(q[end] << 8 | q[end + 1]);
    if (qtype == T_A)
        t->nqueries_a++;
    memcpy(r.buf, q, end + 4); /* header and question */
    r.len = end + 4;
    tdns_answer(&r, name, qtype, &rcode);
    r.buf[2] = (uint8_t)(0x80 | (q[2] & 0x79)); /* QR, opcode, RD */
    r.buf[3] = (uint8_t)(0x80 | rcode);         /* RA */
    put16(r.buf + 4, 1);
    put16(r.buf + 6, r.ancount);
    put16(r.buf + 8, 0);
    put16(r.buf + 10, 0);
    sendto(t->fd, r.buf, r.len, 0, (const struct sockaddr *)from, fromlen);
}

static void tdns_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct tdns *t = w->data;
    uint8_t buf[1500];
    struct sockaddr_storage from;
    socklen_t fromlen;
    ssize_t n;

    (void)loop;
    (void)revents;
    for (;;) {
        fromlen = sizeof(from);
        n = recvfrom(t->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
        if (n < 0)
            break;
        t->nqueries++;
        if (!t->silent)
            tdns_handle(t, buf, (size_t)n, &from, fromlen);
    }
}

static void tdns_start(struct tdns *t, struct ev_loop *loop, bool silent)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);

    memset(t, 0, sizeof(*t));
    t->silent = silent;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    t->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(t->fd >= 0);
    assert_int_equal(bind(t->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(t->fd, (struct sockaddr *)&sin, &len), 0);
    snprintf(t->server, sizeof(t->server), "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    ev_io_init(&t->io, tdns_read_cb, t->fd, EV_READ);
    t->io.data = t;
    ev_io_start(loop, &t->io);
}

static void tdns_stop(struct tdns *t, struct ev_loop *loop)
{
    ev_io_stop(loop, &t->io);
    close(t->fd);
}

/* ---- fixtures and helpers ---- */

struct fx {
    struct ev_loop *loop;
    struct tdns srv;
    struct dns *dns;
};

struct result {
    int calls;
    enum dns_status status;
    struct dns_addrs addrs;
};

static void result_cb(void *arg, enum dns_status status, const struct dns_addrs *addrs)
{
    struct result *r = arg;

    r->calls++;
    r->status = status;
    r->addrs = *addrs;
}

static void fx_open(struct fx *f, bool silent, double max_ttl, double timeout)
{
    char *servers[1];

    f->loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(f->loop);
    tdns_start(&f->srv, f->loop, silent);
    servers[0] = f->srv.server;
    f->dns = dns_new(f->loop, servers, 1, max_ttl, timeout);
    assert_non_null(f->dns);
}

static int setup(void **state)
{
    static struct fx f;

    fx_open(&f, false, 300, 2.0);
    *state = &f;
    return 0;
}

static int setup_silent(void **state)
{
    static struct fx f;

    fx_open(&f, true, 300, 0.3);
    *state = &f;
    return 0;
}

static int setup_nocache(void **state)
{
    static struct fx f;

    fx_open(&f, false, 0, 2.0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    dns_free(f->dns);
    tdns_stop(&f->srv, f->loop);
    ev_loop_destroy(f->loop);
    return 0;
}

static void wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

/* Runs the loop until *calls > 0 or secs have passed. */
static void run_until(struct ev_loop *loop, const int *calls, double secs)
{
    ev_timer wake;
    double end;

    ev_now_update(loop);
    end = ev_now(loop) + secs;
    ev_timer_init(&wake, wake_cb, 0.01, 0.01);
    ev_timer_start(loop, &wake);
    while ((calls == NULL || *calls == 0) && ev_now(loop) < end)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &wake);
}

static void assert_addr(const struct dns_addrs *a, size_t i, int af, const char *text)
{
    char buf[INET6_ADDRSTRLEN];
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->addr[i];
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->addr[i];

    assert_true(i < a->n);
    assert_int_equal(a->addr[i].ss_family, af);
    if (af == AF_INET) {
        assert_int_equal(a->len[i], sizeof(*sin));
        assert_int_equal(sin->sin_port, 0);
        inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
    } else {
        assert_int_equal(a->len[i], sizeof(*sin6));
        assert_int_equal(sin6->sin6_port, 0);
        inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
    }
    assert_string_equal(buf, text);
}

/* Resolves host to completion (at once or through the loop). */
static enum dns_status resolve_wait(struct fx *f, const char *host, struct result *r)
{
    enum dns_status st = DNS_FAIL;
    struct dns_query *q;

    memset(r, 0, sizeof(*r));
    q = dns_resolve(f->dns, host, &r->addrs, &st, result_cb, r);
    if (q == NULL)
        return st;
    run_until(f->loop, &r->calls, 5.0);
    assert_int_equal(r->calls, 1);
    return r->status;
}

/* ---- tests ---- */

static void test_literals(void **state)
{
    struct fx *f = *state;
    struct result r = {0};
    struct dns_addrs out;
    enum dns_status st = DNS_FAIL;

    assert_null(dns_resolve(f->dns, "192.0.2.7", &out, &st, result_cb, &r));
    assert_int_equal(st, DNS_OK);
    assert_int_equal(out.n, 1);
    assert_addr(&out, 0, AF_INET, "192.0.2.7");

    st = DNS_FAIL;
    assert_null(dns_resolve(f->dns, "2001:db8::1", &out, &st, result_cb, &r));
    assert_int_equal(st, DNS_OK);
    assert_int_equal(out.n, 1);
    assert_addr(&out, 0, AF_INET6, "2001:db8::1");

    run_until(f->loop, NULL, 0.05);
    assert_int_equal(r.calls, 0);
    assert_int_equal(f->srv.nqueries, 0);
}

static void test_invalid_names(void **state)
{
    static const char *const bad[] = {
        "",      ".",         "a..b",  ".a", "bad host", "x/y", "a:b", "ex\xc3\xa4mple.com",
        "127.1", "1.2.3.4.5", "[::1]",
    };
    struct fx *f = *state;
    struct result r = {0};
    struct dns_addrs out;
    enum dns_status st;
    char longname[300], longlabel[80];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        st = DNS_OK;
        out.n = 5;
        assert_null(dns_resolve(f->dns, bad[i], &out, &st, result_cb, &r));
        assert_int_equal(st, DNS_NOTFOUND);
        assert_int_equal(out.n, 0);
    }
    memset(longname, 'a', sizeof(longname));
    for (i = 1; i < 254; i += 2)
        longname[i] = '.';
    longname[255] = '\0'; /* 255 bytes, "a.a. ... a.aa" */
    st = DNS_OK;
    assert_null(dns_resolve(f->dns, longname, &out, &st, result_cb, &r));
    assert_int_equal(st, DNS_NOTFOUND);
    memset(longlabel, 'b', 64);
    strcpy(longlabel + 64, ".test");
    st = DNS_OK;
    assert_null(dns_resolve(f->dns, longlabel, &out, &st, result_cb, &r));
    assert_int_equal(st, DNS_NOTFOUND);

    run_until(f->loop, NULL, 0.05);
    assert_int_equal(r.calls, 0);
    assert_int_equal(f->srv.nqueries, 0);
}

static void test_resolve_then_cached(void **state)
{
    struct fx *f = *state;
    struct result r = {0};
    enum dns_status st = DNS_FAIL;
    struct dns_query *q;
    unsigned seen;

    q = dns_resolve(f->dns, "origin.test", &r.addrs, &st, result_cb, &r);
    assert_non_null(q);
    assert_int_equal(r.calls, 0);
    run_until(f->loop, &r.calls, 5.0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, DNS_OK);
    assert_int_equal(r.addrs.n, 1);
    assert_addr(&r.addrs, 0, AF_INET, "127.0.0.2");
    seen = f->srv.nqueries;
    assert_true(seen >= 1);

    /* Second time: straight from the cache, any letter case. */
    memset(&r, 0, sizeof(r));
    st = DNS_FAIL;
    assert_null(dns_resolve(f->dns, "Origin.TEST", &r.addrs, &st, result_cb, &r));
    assert_int_equal(st, DNS_OK);
    assert_int_equal(r.addrs.n, 1);
    assert_addr(&r.addrs, 0, AF_INET, "127.0.0.2");
    run_until(f->loop, NULL, 0.05);
    assert_int_equal(r.calls, 0);
    assert_int_equal(f->srv.nqueries, seen);
}

static void test_nxdomain(void **state)
{
    struct fx *f = *state;
    struct result r;
    enum dns_status st = DNS_FAIL;
    unsigned seen;

    assert_int_equal(resolve_wait(f, "nosuch.test", &r), DNS_NOTFOUND);
    assert_int_equal(r.addrs.n, 0);
    seen = f->srv.nqueries;
    assert_true(seen >= 1);

    /* Negative answers are cached (briefly) too. */
    r.addrs.n = 3;
    assert_null(dns_resolve(f->dns, "nosuch.test", &r.addrs, &st, result_cb, &r));
    assert_int_equal(st, DNS_NOTFOUND);
    assert_int_equal(r.addrs.n, 0);
    assert_int_equal(f->srv.nqueries, seen);
}

static void test_interleaved(void **state)
{
    struct fx *f = *state;
    struct result r;

    assert_int_equal(resolve_wait(f, "dual.test", &r), DNS_OK);
    assert_int_equal(r.addrs.n, 4);
    assert_addr(&r.addrs, 0, AF_INET, "127.0.0.3");
    assert_addr(&r.addrs, 1, AF_INET6, "::1");
    assert_addr(&r.addrs, 2, AF_INET, "127.0.0.4");
    assert_addr(&r.addrs, 3, AF_INET6, "::2");
}

static void test_hosts_file(void **state)
{
    struct fx *f = *state;
    struct result r;
    size_t i;
    bool loopback = false;

    /* /etc/hosts is consulted before DNS and never reaches the server. */
    assert_int_equal(resolve_wait(f, "localhost", &r), DNS_OK);
    assert_true(r.addrs.n >= 1);
    for (i = 0; i < r.addrs.n; i++) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&r.addrs.addr[i];

        if (r.addrs.addr[i].ss_family == AF_INET && sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
            loopback = true;
        if (r.addrs.addr[i].ss_family == AF_INET6)
            loopback = true;
    }
    assert_true(loopback);
    assert_int_equal(f->srv.nqueries, 0);
}

static void test_shared_lookup(void **state)
{
    struct fx *f = *state;
    struct result a = {0}, b = {0};
    enum dns_status st;

    assert_non_null(dns_resolve(f->dns, "origin.test", &a.addrs, &st, result_cb, &a));
    assert_non_null(dns_resolve(f->dns, "ORIGIN.test", &b.addrs, &st, result_cb, &b));
    run_until(f->loop, &a.calls, 5.0);
    run_until(f->loop, &b.calls, 5.0);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(a.status, DNS_OK);
    assert_int_equal(b.status, DNS_OK);
    assert_addr(&b.addrs, 0, AF_INET, "127.0.0.2");
    assert_int_equal(f->srv.nqueries_a, 1);
}

static void test_no_cache(void **state)
{
    struct fx *f = *state;
    struct result r;

    assert_int_equal(resolve_wait(f, "origin.test", &r), DNS_OK);
    assert_int_equal(f->srv.nqueries_a, 1);
    assert_int_equal(resolve_wait(f, "origin.test", &r), DNS_OK);
    assert_int_equal(r.calls, 1);
    assert_int_equal(f->srv.nqueries_a, 2);
    assert_int_equal(resolve_wait(f, "nosuch.test", &r), DNS_NOTFOUND);
    assert_int_equal(r.calls, 1);
}

static void test_cancel(void **state)
{
    struct fx *f = *state;
    struct result r = {0};
    enum dns_status st = DNS_FAIL;
    struct dns_query *q;

    q = dns_resolve(f->dns, "origin.test", &r.addrs, &st, result_cb, &r);
    assert_non_null(q);
    dns_cancel(q);
    run_until(f->loop, NULL, 0.3);
    assert_int_equal(r.calls, 0);
    assert_true(f->srv.nqueries >= 1);

    /* The lookup itself went on and filled the cache. */
    st = DNS_FAIL;
    assert_null(dns_resolve(f->dns, "origin.test", &r.addrs, &st, result_cb, &r));
    assert_int_equal(st, DNS_OK);
}

static void test_cancel_one_of_two(void **state)
{
    struct fx *f = *state;
    struct result a = {0}, b = {0};
    enum dns_status st;
    struct dns_query *qa;

    qa = dns_resolve(f->dns, "dual.test", &a.addrs, &st, result_cb, &a);
    assert_non_null(qa);
    assert_non_null(dns_resolve(f->dns, "dual.test", &b.addrs, &st, result_cb, &b));
    dns_cancel(qa);
    run_until(f->loop, &b.calls, 5.0);
    run_until(f->loop, NULL, 0.05);
    assert_int_equal(a.calls, 0);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.status, DNS_OK);
}

static void test_timeout(void **state)
{
    struct fx *f = *state;
    struct result r = {0};
    enum dns_status st = DNS_FAIL;
    double start;

    ev_now_update(f->loop);
    start = ev_now(f->loop);
    assert_non_null(dns_resolve(f->dns, "origin.test", &r.addrs, &st, result_cb, &r));
    run_until(f->loop, &r.calls, 3.0);
    ev_now_update(f->loop);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, DNS_TIMEOUT);
    assert_int_equal(r.addrs.n, 0);
    assert_true(ev_now(f->loop) - start >= 0.25);
    assert_true(ev_now(f->loop) - start < 1.0);
    assert_true(f->srv.nqueries >= 1);
    run_until(f->loop, NULL, 0.1);
    assert_int_equal(r.calls, 1);
}

static void test_free_outstanding(void **state)
{
    struct fx *f = *state;
    struct result r = {0}, r2 = {0};
    enum dns_status st;

    assert_non_null(dns_resolve(f->dns, "origin.test", &r.addrs, &st, result_cb, &r));
    assert_non_null(dns_resolve(f->dns, "other.test", &r2.addrs, &st, result_cb, &r2));
    run_until(f->loop, NULL, 0.05);
    assert_true(f->srv.nqueries >= 1);
    dns_free(f->dns);
    f->dns = NULL;
    run_until(f->loop, NULL, 0.5);
    assert_int_equal(r.calls, 0);
    assert_int_equal(r2.calls, 0);
}

/* A callback that resolves again from inside the callback. */
struct chain {
    struct fx *f;
    struct result inner;
    int calls;
    enum dns_status inner_st;
    bool inner_now;
};

static void chain_cb(void *arg, enum dns_status status, const struct dns_addrs *addrs)
{
    struct chain *c = arg;

    (void)addrs;
    c->calls++;
    assert_int_equal(status, DNS_OK);
    c->inner_now = dns_resolve(c->f->dns, "origin.test", &c->inner.addrs, &c->inner_st, result_cb,
                               &c->inner) == NULL;
}

static void test_resolve_from_callback(void **state)
{
    struct fx *f = *state;
    struct chain c = {.f = f};
    enum dns_status st;

    assert_non_null(dns_resolve(f->dns, "origin.test", &c.inner.addrs, &st, chain_cb, &c));
    run_until(f->loop, &c.calls, 5.0);
    assert_int_equal(c.calls, 1);
    assert_true(c.inner_now); /* cached before the callbacks ran */
    assert_int_equal(c.inner_st, DNS_OK);
}

static void test_bad_servers(void **state)
{
    static char *const bad[] = {"bogus", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:",
                                "[::1",  "[::1]x",      "[]:53",           "1.2.3.4:53x"};
    static char *const good[] = {"127.0.0.1", "127.0.0.1:5353", "::1", "[::1]:5353", "[::1]"};
    struct fx *f = *state;
    struct dns *d;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(dns_new(f->loop, &bad[i], 1, 60, 1));
    d = dns_new(f->loop, good, sizeof(good) / sizeof(good[0]), 60, 1);
    assert_non_null(d);
    dns_free(d);
}

static void test_strstatus(void **state)
{
    (void)state;
    assert_string_equal(dns_strstatus(DNS_OK), "ok");
    assert_string_equal(dns_strstatus(DNS_NOTFOUND), "host not found");
    assert_string_equal(dns_strstatus(DNS_TIMEOUT), "timed out");
    assert_string_equal(dns_strstatus(DNS_FAIL), "resolver failure");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_literals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_then_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nxdomain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interleaved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hosts_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_cache, setup_nocache, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_one_of_two, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup_silent, teardown),
        cmocka_unit_test_setup_teardown(test_free_outstanding, setup_silent, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_from_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_servers, setup, teardown),
        cmocka_unit_test(test_strstatus),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
