/*
 * test_dest.c - dest.c, the forward-mode destination policy: the built-in
 * ranges (link-local, cloud metadata, unspecified) in IPv4, IPv6 and
 * IPv4-mapped form, magpie's own listeners (exact and wildcard), and
 * acl.deny_destinations / acl.allow_destinations loaded from YAML, with the
 * reason each refusal names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dest.h"

#include "cfgload.h"

/* "ip:port" / "[ip6]:port" as a sockaddr. */
static const struct sockaddr *sa(const char *s)
{
    static struct sockaddr_storage ss;
    socklen_t len;

    assert_int_equal(config_parse_sockaddr(s, &ss, &len), 0);
    return (const struct sockaddr *)&ss;
}

static void refused(const struct config *cfg, const char *addr, const char *why)
{
    const char *got = dest_refusal(cfg, sa(addr));

    if (!got)
        fail_msg("%s was allowed, want \"%s\"", addr, why);
    assert_string_equal(got, why);
}

static void allowed(const struct config *cfg, const char *addr)
{
    const char *got = dest_refusal(cfg, sa(addr));

    if (got)
        fail_msg("%s was refused: %s", addr, got);
}

static void test_builtin(void **state)
{
    struct config *cfg = config_default();

    (void)state;
    refused(cfg, "169.254.169.254:80", "link-local / cloud metadata");
    refused(cfg, "[::ffff:169.254.169.254]:80", "link-local / cloud metadata");
    refused(cfg, "169.254.0.1:80", "link-local");
    refused(cfg, "169.254.255.255:443", "link-local");
    refused(cfg, "[fe80::1]:80", "link-local");
    refused(cfg, "[febf:ffff::1]:80", "link-local");
    refused(cfg, "[fd00:ec2::254]:80", "cloud metadata");
    refused(cfg, "100.100.100.200:80", "cloud metadata");
    refused(cfg, "192.0.0.192:80", "cloud metadata");
    refused(cfg, "0.0.0.0:80", "unspecified (this host)");
    refused(cfg, "0.1.2.3:80", "unspecified (this host)");
    refused(cfg, "[::]:80", "unspecified (this host)");
    refused(cfg, "[::ffff:0.0.0.0]:80", "unspecified (this host)");
    /* IPv4 carried for translation: NAT64 (RFC 6052), IPv4-compatible */
    refused(cfg, "[64:ff9b::a9fe:a9fe]:80", "link-local / cloud metadata");
    refused(cfg, "[64:ff9b::169.254.1.1]:80", "link-local");
    refused(cfg, "[::169.254.169.254]:80", "link-local / cloud metadata");
    refused(cfg, "[64:ff9b::6464:64c8]:80", "cloud metadata");
    allowed(cfg, "[64:ff9b::a00:1]:80");
    allowed(cfg, "[::2]:80");
    /* neighbours of the ranges, loopback and the usual private ranges pass */
    allowed(cfg, "169.253.255.255:80");
    allowed(cfg, "169.255.0.0:80");
    allowed(cfg, "[fec0::1]:80");
    allowed(cfg, "[fd00:ec2::253]:80");
    allowed(cfg, "100.100.100.201:80");
    allowed(cfg, "192.0.0.193:80");
    allowed(cfg, "1.0.0.0:80");
    allowed(cfg, "127.0.0.1:80");
    allowed(cfg, "[::1]:80");
    allowed(cfg, "[::ffff:127.0.0.1]:80");
    allowed(cfg, "10.0.0.1:80");
    allowed(cfg, "192.168.1.1:80");
    config_unref(&cfg);
}

static void test_own_listener(void **state)
{
    struct config *cfg = load_ok("listen: [\"127.0.0.1:3128\", \"[::1]:3129\"]\n");

    (void)state;
    refused(cfg, "127.0.0.1:3128", "magpie's own listener");
    refused(cfg, "[::ffff:127.0.0.1]:3128", "magpie's own listener");
    refused(cfg, "[::1]:3129", "magpie's own listener");
    allowed(cfg, "127.0.0.1:3129"); /* another port */
    allowed(cfg, "127.0.0.2:3128"); /* another address: not magpie */
    allowed(cfg, "[::1]:3128");
    config_unref(&cfg);
}

/* A first non-loopback IPv4 interface address, or 0 when there is none. */
static int first_interface_v4(char *out, size_t size)
{
    struct ifaddrs *ifs, *i;
    int found = 0;

    if (getifaddrs(&ifs) != 0)
        return 0;
    for (i = ifs; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        const struct sockaddr_in *in = (const struct sockaddr_in *)(void *)i->ifa_addr;
        if ((ntohl(in->sin_addr.s_addr) >> 24) == 127)
            continue;
        found = inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)size) != NULL;
    }
    freeifaddrs(ifs);
    return found;
}

static void test_wildcard_listener(void **state)
{
    struct config *cfg = load_ok("listen: [\"0.0.0.0:3128\", \"[::]:8080\"]\n");
    char ip[INET_ADDRSTRLEN], a[INET_ADDRSTRLEN + 8];

    (void)state;
    /* any local address with the port, either family */
    refused(cfg, "127.0.0.1:3128", "magpie's own listener");
    refused(cfg, "127.9.9.9:3128", "magpie's own listener");
    refused(cfg, "[::1]:3128", "magpie's own listener");
    refused(cfg, "127.0.0.1:8080", "magpie's own listener");
    allowed(cfg, "127.0.0.1:3129");
    allowed(cfg, "192.0.2.1:3128"); /* TEST-NET: not this host */
    if (first_interface_v4(ip, sizeof ip)) {
        snprintf(a, sizeof a, "%s:3128", ip);
        refused(cfg, a, "magpie's own listener");
    }
    config_unref(&cfg);
}

static void test_deny_destinations(void **state)
{
    struct config *cfg = load_ok("acl:\n  deny_destinations: [127.0.0.2/32, \"fc00::/7\", "
                                 "10.0.0.0/8]\n");

    (void)state;
    assert_int_equal(cfg->nacl_deny_dest, 3);
    refused(cfg, "127.0.0.2:80", "in acl.deny_destinations");
    refused(cfg, "[::ffff:127.0.0.2]:80", "in acl.deny_destinations");
    refused(cfg, "10.1.2.3:80", "in acl.deny_destinations");
    refused(cfg, "[fd12::1]:80", "in acl.deny_destinations");
    refused(cfg, "169.254.169.254:80", "link-local / cloud metadata"); /* built-ins first */
    allowed(cfg, "127.0.0.1:80");
    allowed(cfg, "127.0.0.3:80");
    config_unref(&cfg);
}

static void test_allow_destinations(void **state)
{
    struct config *cfg = load_ok("acl:\n  allow_destinations: [127.0.0.1/32, 169.254.0.0/16]\n"
                                 "  deny_destinations: [127.0.0.1/32]\n");

    (void)state;
    refused(cfg, "127.0.0.3:80", "not in acl.allow_destinations");
    refused(cfg, "[::1]:80", "not in acl.allow_destinations");
    /* deny wins over allow; allow cannot reopen a built-in range */
    refused(cfg, "127.0.0.1:80", "in acl.deny_destinations");
    refused(cfg, "169.254.1.1:80", "link-local");
    config_unref(&cfg);

    cfg = load_ok("acl:\n  allow_destinations: [127.0.0.1/32]\n");
    allowed(cfg, "127.0.0.1:80");
    allowed(cfg, "[::ffff:127.0.0.1]:80");
    refused(cfg, "127.0.0.3:80", "not in acl.allow_destinations");
    config_unref(&cfg);

    /* set but empty: nothing is allowed; unset: anything not denied */
    cfg = load_ok("acl:\n  allow_destinations: []\n");
    refused(cfg, "127.0.0.1:80", "not in acl.allow_destinations");
    config_unref(&cfg);
    cfg = config_default();
    assert_null(cfg->acl_allow_dest);
    assert_int_equal(cfg->nacl_deny_dest, 0);
    allowed(cfg, "203.0.113.9:80");
    config_unref(&cfg);
}

static void test_bad_destinations(void **state)
{
    (void)state;
    expect_errors("acl:\n  deny_destinations: [10.0.0.0/33]\n  allow_destinations: [nope]\n",
                  "magpie.yaml:2:23: acl.deny_destinations[0]: \"10.0.0.0/33\" is not a CIDR\n"
                  "magpie.yaml:3:24: acl.allow_destinations[0]: \"nope\" is not a CIDR\n");
}

static void test_format(void **state)
{
    char out[128];

    (void)state;
    dest_format_refusal(out, sizeof out, sa("[::ffff:169.254.169.254]:80"),
                        "link-local / cloud metadata");
    assert_string_equal(out, "destination 169.254.169.254 is link-local / cloud metadata (acl)");
    dest_format_refusal(out, sizeof out, sa("[fe80::1]:443"), "link-local");
    assert_string_equal(out, "destination fe80::1 is link-local (acl)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin),
        cmocka_unit_test(test_own_listener),
        cmocka_unit_test(test_wildcard_listener),
        cmocka_unit_test(test_deny_destinations),
        cmocka_unit_test(test_allow_destinations),
        cmocka_unit_test(test_bad_destinations),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
