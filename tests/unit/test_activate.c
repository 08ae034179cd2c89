/*
 * test_activate.c - socket activation: which LISTEN_PID/LISTEN_FDS are
 * ours, address matching (family, address, port, IPv6 scope), and taking
 * real passed sockets: names from LISTEN_FDNAMES, non-blocking and
 * close-on-exec, the variables unset, and the sockets refused (a datagram
 * socket, one not listening, a pipe).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "activate.h"

#include "rows.h"

#define SELF 4242
#define BASE_FD 200 /* far above what cmocka and the test open */

static void test_count(void **state)
{
    (void)state;
    static const struct {
        const char *name, *pid, *fds;
        int want;
    } rows[] = {
        {"no LISTEN_PID", NULL, "2", 0},
        {"empty LISTEN_PID", "", "2", 0},
        {"another process's", "4243", "2", 0},
        {"ours, two sockets", "4242", "2", 2},
        {"ours, none", "4242", "0", 0},
        {"ours, the most", "4242", "64", 64},
        {"ours, too many", "4242", "65", -1},
        {"ours, no LISTEN_FDS", "4242", NULL, -1},
        {"ours, LISTEN_FDS not a number", "4242", "two", -1},
        {"ours, negative LISTEN_FDS", "4242", "-1", -1},
        {"LISTEN_PID with garbage", "4242x", "2", -1},
        {"LISTEN_PID negative", "-4242", "2", -1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int got = activate_count(rows[i].pid, rows[i].fds, SELF);
        if (got != rows[i].want)
            row_fail("%s: %d, want %d", rows[i].name, got, rows[i].want);
    }
    rows_done();
}

static void make_addr(struct sockaddr_storage *ss, const char *ip, uint16_t port, uint32_t scope)
{
    memset(ss, 0, sizeof(*ss));
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
        in6->sin6_port = htons(port);
        in6->sin6_scope_id = scope;
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
        in->sin_port = htons(port);
    }
}

static void test_same_addr(void **state)
{
    (void)state;
    static const struct {
        const char *a;
        uint16_t pa;
        uint32_t sa;
        const char *b;
        uint16_t pb;
        uint32_t sb;
        bool want;
    } rows[] = {
        {"127.0.0.1", 3128, 0, "127.0.0.1", 3128, 0, true},
        {"127.0.0.1", 3128, 0, "127.0.0.1", 3129, 0, false},
        {"127.0.0.1", 3128, 0, "127.0.0.2", 3128, 0, false},
        {"0.0.0.0", 3128, 0, "127.0.0.1", 3128, 0, false},
        {"::1", 3128, 0, "::1", 3128, 0, true},
        {"::1", 3128, 0, "::1", 80, 0, false},
        {"fe80::1", 3128, 2, "fe80::1", 3128, 3, false},
        {"::ffff:127.0.0.1", 3128, 0, "127.0.0.1", 3128, 0, false},
        {"::", 3128, 0, "0.0.0.0", 3128, 0, false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct sockaddr_storage a, b;
        make_addr(&a, rows[i].a, rows[i].pa, rows[i].sa);
        make_addr(&b, rows[i].b, rows[i].pb, rows[i].sb);
        bool got = activate_same_addr((struct sockaddr *)&a, (struct sockaddr *)&b);
        bool back = activate_same_addr((struct sockaddr *)&b, (struct sockaddr *)&a);
        if (got != rows[i].want || back != rows[i].want)
            row_fail("%s:%u vs %s:%u: %d/%d, want %d", rows[i].a, rows[i].pa, rows[i].b, rows[i].pb,
                     got, back, rows[i].want);
    }
    rows_done();
}

/* A TCP socket on 127.0.0.1 (listening or not) or a UDP one, moved to fd. */
enum kind { K_LISTEN, K_BOUND, K_UDP, K_PIPE };

static void put_fd(enum kind k, int fd)
{
    int s;
    if (k == K_PIPE) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        close(p[1]);
        s = p[0];
    } else {
        s = socket(AF_INET, k == K_UDP ? SOCK_DGRAM : SOCK_STREAM, 0);
        assert_true(s >= 0);
        struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_int_equal(bind(s, (struct sockaddr *)&in, sizeof(in)), 0);
        if (k == K_LISTEN)
            assert_int_equal(listen(s, 8), 0);
    }
    assert_int_equal(dup2(s, fd), fd);
    close(s);
}

static void set_env(int n, const char *names)
{
    char pid[32], fds[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    snprintf(fds, sizeof(fds), "%d", n);
    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDS", fds, 1);
    if (names)
        setenv("LISTEN_FDNAMES", names, 1);
    else
        unsetenv("LISTEN_FDNAMES");
}

static void close_all(struct activated *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        close(BASE_FD + (int)i);
    free(a);
}

static void test_take(void **state)
{
    (void)state;
    put_fd(K_LISTEN, BASE_FD);
    put_fd(K_LISTEN, BASE_FD + 1);
    set_env(2, "web:");
    struct activated *a;
    size_t n;
    char err[256] = "";
    assert_int_equal(activate_take(BASE_FD, &a, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_string_equal(a[0].name, "web");
    assert_string_equal(a[1].name, "fd 201");
    for (size_t i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        assert_int_equal(a[i].fd, BASE_FD + (int)i);
        assert_int_equal(getsockname(a[i].fd, (struct sockaddr *)&ss, &len), 0);
        assert_true(activate_same_addr((struct sockaddr *)&ss, (struct sockaddr *)&a[i].addr));
        assert_true(fcntl(a[i].fd, F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(a[i].fd, F_GETFD) & FD_CLOEXEC);
    }
    assert_null(getenv("LISTEN_PID"));
    assert_null(getenv("LISTEN_FDS"));
    assert_null(getenv("LISTEN_FDNAMES"));
    close_all(a, n);
}

static void test_take_none(void **state)
{
    (void)state;
    unsetenv("LISTEN_PID");
    setenv("LISTEN_FDS", "3", 1);
    struct activated *a = (void *)1;
    size_t n = 9;
    char err[256] = "";
    assert_int_equal(activate_take(BASE_FD, &a, &n, err, sizeof(err)), 0);
    assert_null(a);
    assert_int_equal(n, 0);
    assert_null(getenv("LISTEN_FDS")); /* a parent's leftovers go too */
}

static void test_take_refuses(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum kind k;
        const char *want;
    } rows[] = {
        {"a UDP socket", K_UDP, "not a listening TCP socket"},
        {"a TCP socket not listening", K_BOUND, "not a listening TCP socket"},
        {"a pipe", K_PIPE, "passed socket fd 201"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        put_fd(K_LISTEN, BASE_FD);
        put_fd(rows[i].k, BASE_FD + 1);
        set_env(2, NULL);
        struct activated *a;
        size_t n;
        char err[256] = "";
        int rc = activate_take(BASE_FD, &a, &n, err, sizeof(err));
        if (rc != -1 || !strstr(err, rows[i].want))
            row_fail("%s: rc %d, error \"%s\", want \"%s\"", rows[i].name, rc, err, rows[i].want);
        else if (n != 2 || a[0].fd != BASE_FD || a[1].fd != -1)
            row_fail("%s: the refused descriptor is still held (n %zu)", rows[i].name, n);
        close_all(a, 2);
    }
    set_env(65, NULL);
    struct activated *a;
    size_t n;
    char err[256] = "";
    if (activate_take(BASE_FD, &a, &n, err, sizeof(err)) != -1 || !strstr(err, "malformed"))
        row_fail("65 sockets: accepted (\"%s\")", err);
    free(a);
    rows_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_count, rows_reset),
        cmocka_unit_test_setup(test_same_addr, rows_reset),
        cmocka_unit_test(test_take),
        cmocka_unit_test(test_take_none),
        cmocka_unit_test_setup(test_take_refuses, rows_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
