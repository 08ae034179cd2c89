/*
 * test_sock.c - sock.c's address text: what the access log (with the port)
 * and X-Forwarded-For (without) print for IPv4, IPv6, IPv4-mapped IPv6 and
 * any other family, and truncation that stays inside the buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "sock.h"

#include "rows.h"

/* An address of family (AF_INET, AF_INET6, else a bare sa_family) and port. */
static void make_addr(struct sockaddr_storage *ss, int family, const char *ip, uint16_t port)
{
    memset(ss, 0, sizeof(*ss));
    ss->ss_family = (sa_family_t)family;
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
        in->sin_port = htons(port);
    } else if (family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
        in6->sin6_port = htons(port);
    }
}

static void test_format_addr(void **state)
{
    static const struct {
        int family;
        const char *ip;
        uint16_t port;
        bool with_port;
        size_t size;
        const char *out;
    } cases[] = {
        {AF_INET, "192.0.2.1", 80, true, 64, "192.0.2.1:80"},
        {AF_INET, "192.0.2.1", 80, false, 64, "192.0.2.1"},
        {AF_INET, "0.0.0.0", 0, true, 64, "0.0.0.0:0"},
        {AF_INET, "255.255.255.255", 65535, true, 64, "255.255.255.255:65535"},
        {AF_INET6, "::1", 443, true, 64, "[::1]:443"},
        {AF_INET6, "::1", 443, false, 64, "::1"},
        {AF_INET6, "2001:DB8::A", 8080, true, 64, "[2001:db8::a]:8080"},
        {AF_INET6, "::ffff:192.0.2.1", 3128, true, 64, "[::ffff:192.0.2.1]:3128"},
        {AF_INET6, "::ffff:192.0.2.1", 3128, false, 64, "::ffff:192.0.2.1"},
        /* the longest of each fits the buffers magpie gives them */
        {AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, true, 48,
         "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"},
        {AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, false, INET6_ADDRSTRLEN,
         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
        /* other families: the log's word and X-Forwarded-For's */
        {AF_UNIX, NULL, 0, true, 64, "unix"},
        {AF_UNIX, NULL, 0, false, 64, "unknown"},
        {AF_UNSPEC, NULL, 0, true, 64, "unix"},
        {AF_UNSPEC, NULL, 0, false, 64, "unknown"},
        /* truncated, still terminated */
        {AF_INET, "192.0.2.1", 80, true, 8, "192.0.2"},
        {AF_INET, "192.0.2.1", 80, false, 4, "192"},
        {AF_INET6, "::1", 443, true, 4, "[::"},
        {AF_UNIX, NULL, 0, false, 3, "un"},
        {AF_INET, "192.0.2.1", 80, true, 1, ""},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sockaddr_storage ss;
        char out[65];
        make_addr(&ss, cases[i].family, cases[i].ip, cases[i].port);
        memset(out, 'X', sizeof(out));
        sock_format_addr(out, cases[i].size, (const struct sockaddr *)&ss, cases[i].with_port);
        if (out[cases[i].size] != 'X' || memchr(out, '\0', cases[i].size) == NULL)
            row_fail("row %zu: wrote outside %zu bytes or left no NUL", i, cases[i].size);
        else if (strcmp(out, cases[i].out) != 0)
            row_fail("row %zu (%s %u%s): \"%s\", want \"%s\"", i,
                     cases[i].ip ? cases[i].ip : "-", cases[i].port,
                     cases[i].with_port ? " with port" : "", out, cases[i].out);
    }
    rows_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_format_addr, rows_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
