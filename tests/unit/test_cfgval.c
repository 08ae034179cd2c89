/*
 * test_cfgval.c - values: the cfgval.c parsers (durations, sizes, addresses,
 * networks, booleans), ranges formatted back for messages, ACL, PURGE and
 * CONNECT port matching, then the error line each kind of bad value gives
 * in a file, compared exactly. test_config.c has the file's structure
 * (keys, types, nesting, syntax), whole valid files and cross-key rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfgval.h"

#include "cfgload.h"

static void set_nets(struct cfg_cidr **list, size_t *count, const char *const *nets, size_t n)
{
    free(*list);
    *list = calloc(n ? n : 1, sizeof **list);
    assert_non_null(*list);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(config_parse_cidr(nets[i], &(*list)[i]), 0);
    *count = n;
}

/* ---- parsers ---- */

static void test_parse_duration(void **state)
{
    static const struct {
        const char *in;
        double want;
    } ok[] = {{"250ms", 0.25}, {"10s", 10},       {"5m", 300},      {"1h", 3600},
              {"7", 7},        {"0", 0},          {"1.5s", 1.5},    {"0.5m", 30},
              {"2.25h", 8100}, {"1.5ms", 0.0015}, {"30d", 2592000}, {"0.5d", 43200}};
    static const char *const bad[] = {"",    "s",  "10x",  "-1s", "1.s", ".5s", "10 s",  "1e3",
                                      "10S", "1D", "10ss", "1w",  "1dd", "+1s", "1.2.3s"};
    double d;

    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(config_parse_duration(ok[i].in, &d), 0);
        assert_true(d == ok[i].want);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(config_parse_duration(bad[i], &d), 0);
    assert_int_not_equal(config_parse_duration("99999999999999999999s", &d), 0);
}

static void test_parse_size(void **state)
{
    static const struct {
        const char *in;
        uint64_t want;
    } ok[] = {{"0", 0},
              {"512", 512},
              {"512B", 512},
              {"64KiB", 65536},
              {"1MiB", 1048576},
              {"1GiB", 1073741824},
              {"1TiB", 1099511627776},
              {"16TiB", 16ull << 40},
              {"16777215TiB", 16777215ull << 40},
              {"17179869183GiB", 17179869183ull << 30},
              {"18446744073709551615", UINT64_MAX},
              {"18446744073709551615B", UINT64_MAX}};
    static const char *const bad[] = {"",    "B",      "64XB", "64kib", "64KB",
                                      "64K", "1.5MiB", "-1",   "1 KiB", "0x10",
                                      "+5",  "1MiBB",  "1TB",  "1tib",  "1PiB"};
    uint64_t n;

    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(config_parse_size(ok[i].in, &n), 0);
        assert_true(n == ok[i].want);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(config_parse_size(bad[i], &n), -1);
    /* overflow: of the digits, and of the unit multiplication */
    assert_int_equal(config_parse_size("18446744073709551616", &n), -2);
    assert_int_equal(config_parse_size("17179869184GiB", &n), -2);
    assert_int_equal(config_parse_size("18014398509481984KiB", &n), -2);
    assert_int_equal(config_parse_size("16777216TiB", &n), -2);
    assert_int_equal(config_parse_size("99999999999999999999999XB", &n), -1);
}

static void test_parse_sockaddr(void **state)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    struct in6_addr lo6 = IN6ADDR_LOOPBACK_INIT;
    socklen_t len;

    (void)state;
    assert_int_equal(config_parse_sockaddr("127.0.0.1:3128", &ss, &len), 0);
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_int_equal(ntohs(sin->sin_port), 3128);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);

    assert_int_equal(config_parse_sockaddr("[::1]:65535", &ss, &len), 0);
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    assert_int_equal(ntohs(sin6->sin6_port), 65535);
    assert_memory_equal(&sin6->sin6_addr, &lo6, 16);

    assert_int_equal(config_parse_sockaddr("0.0.0.0:1", &ss, &len), 0);
    assert_int_equal(config_parse_sockaddr("[::ffff:10.0.0.1]:80", &ss, &len), 0);

    static const char *const bad_addr[] = {"",
                                           "1.2.3.4",
                                           ":80",
                                           "1.2.3:80",
                                           "1.2.3.4.5:80",
                                           "::1:80",
                                           "[::1]",
                                           "[::1]80",
                                           "localhost:80",
                                           "[1.2.3.4]:80",
                                           "256.1.1.1:80",
                                           "[::1:80",
                                           "1.2.3.4:80:80"};
    for (size_t i = 0; i < sizeof bad_addr / sizeof bad_addr[0]; i++)
        assert_int_equal(config_parse_sockaddr(bad_addr[i], &ss, &len), -1);
    static const char *const bad_port[] = {"1.2.3.4:",   "1.2.3.4:0",     "1.2.3.4:65536",
                                           "1.2.3.4:-1", "1.2.3.4:8a",    "[::1]:999999",
                                           "[::1]:",     "1.2.3.4:000080"};
    for (size_t i = 0; i < sizeof bad_port / sizeof bad_port[0]; i++)
        assert_int_equal(config_parse_sockaddr(bad_port[i], &ss, &len), -2);
}

static void test_parse_cidr(void **state)
{
    static const uint8_t ten[16] = {10};
    static const uint8_t v6net[16] = {0x20, 0x01, 0x0d, 0xb8, 0x80};
    struct cfg_cidr c;

    (void)state;
    assert_int_equal(config_parse_cidr("10.0.0.0/8", &c), 0);
    assert_int_equal(c.family, AF_INET);
    assert_int_equal(c.prefix, 8);
    assert_memory_equal(c.addr, ten, 16);
    /* host bits are zeroed */
    assert_int_equal(config_parse_cidr("10.1.2.3/8", &c), 0);
    assert_memory_equal(c.addr, ten, 16);
    assert_int_equal(config_parse_cidr("192.168.1.7", &c), 0);
    assert_int_equal(c.prefix, 32);
    assert_int_equal(config_parse_cidr("0.0.0.0/0", &c), 0);
    assert_int_equal(c.prefix, 0);
    assert_int_equal(config_parse_cidr("::1", &c), 0);
    assert_int_equal(c.family, AF_INET6);
    assert_int_equal(c.prefix, 128);
    assert_int_equal(c.addr[15], 1);
    assert_int_equal(config_parse_cidr("2001:db8:80ff::1/33", &c), 0);
    assert_int_equal(c.prefix, 33);
    assert_memory_equal(c.addr, v6net, 16);
    assert_int_equal(config_parse_cidr("::/0", &c), 0);

    static const char *const bad[] = {"",
                                      "10.0.0.0/33",
                                      "::/129",
                                      "10.0.0.0/",
                                      "10.0.0.0/-1",
                                      "10.0.0/8",
                                      "10.0.0.0/8/8",
                                      "/8",
                                      "10.0.0.0/0008",
                                      "host/8",
                                      "::1/12a",
                                      "10.0.0.0/ 8",
                                      "10.0.0.0/99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(config_parse_cidr(bad[i], &c), 0);
}

/* ---- ranges back to text ---- */

static void test_fmt(void **state)
{
    static const struct {
        uint64_t in;
        const char *want;
    } sizes[] = {{0, "0B"},
                 {512, "512B"},
                 {1536, "1536B"},
                 {65536, "64KiB"},
                 {1 << 20, "1MiB"},
                 {1023ull << 30, "1023GiB"},
                 {1ull << 40, "1TiB"},
                 {16ull << 40, "16TiB"},
                 {1ull << 50, "1024TiB"}};
    static const struct {
        double in;
        const char *want;
    } durations[] = {{0, "0s"},
                     {0.001, "1ms"},
                     {0.25, "250ms"},
                     {10, "10s"},
                     {90, "90s"},
                     {300, "5m"},
                     {3600, "1h"},
                     {86400, "24h"},
                     {2 * 86400, "2d"},
                     {90000, "25h"},
                     {365 * 24 * 3600.0, "365d"}};
    char buf[32];

    (void)state;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        assert_string_equal(cfgval_fmt_size(sizes[i].in, buf, sizeof buf), sizes[i].want);
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++)
        assert_string_equal(cfgval_fmt_duration(durations[i].in, buf, sizeof buf),
                            durations[i].want);
}

/* ---- queries ---- */

static void test_acl_match(void **state)
{
    static const char *const nets[] = {"10.0.0.0/8", "192.168.1.7", "2001:db8::/32",
                                       "172.16.0.0/12"};
    struct config *cfg = config_default();

    (void)state;
    assert_true(allows(cfg, "127.0.0.1"));
    assert_true(allows(cfg, "127.255.0.9"));
    assert_true(allows(cfg, "::1"));
    assert_true(allows(cfg, "::ffff:127.0.0.1"));
    assert_false(allows(cfg, "::2"));
    assert_false(allows(cfg, "10.0.0.1"));
    struct sockaddr sa = {.sa_family = AF_UNIX};
    assert_false(config_acl_allows(cfg, &sa));

    set_nets(&cfg->acl_allow, &cfg->nacl_allow, nets, 4);
    assert_true(allows(cfg, "10.0.0.1"));
    assert_true(allows(cfg, "10.255.255.255"));
    assert_false(allows(cfg, "11.0.0.1"));
    assert_true(allows(cfg, "192.168.1.7"));
    assert_false(allows(cfg, "192.168.1.8"));
    assert_true(allows(cfg, "172.31.255.255"));
    assert_false(allows(cfg, "172.32.0.0"));
    assert_false(allows(cfg, "127.0.0.1"));
    assert_true(allows(cfg, "2001:db8::1"));
    assert_true(allows(cfg, "2001:db8:ffff::1"));
    assert_false(allows(cfg, "2001:db9::1"));
    assert_false(allows(cfg, "::1"));
    /* IPv4-mapped IPv6 clients match IPv4 networks */
    assert_true(allows(cfg, "::ffff:10.1.2.3"));
    assert_true(allows(cfg, "::ffff:192.168.1.7"));
    assert_false(allows(cfg, "::ffff:192.168.1.8"));
    /* ...but an IPv4-compatible or other v6 address with the same tail does not */
    assert_false(allows(cfg, "::10.1.2.3"));
    assert_false(allows(cfg, "64:ff9b::10.1.2.3"));
    /* the PURGE list is a separate one */
    assert_true(purges(cfg, "127.0.0.1"));
    assert_false(purges(cfg, "10.0.0.1"));
    config_unref(&cfg);
}

static void test_purge_allowed(void **state)
{
    static const char *const nets[] = {"10.0.0.0/8", "2001:db8::/32", "192.0.2.1"};
    static const char *const all[] = {"0.0.0.0/0", "::/0"};
    struct config *cfg = config_default();
    struct sockaddr sa = {.sa_family = AF_UNIX};

    (void)state;
    /* default: loopback only, v4, v6 and v4-mapped */
    assert_true(purges(cfg, "127.0.0.1"));
    assert_true(purges(cfg, "127.255.0.9"));
    assert_true(purges(cfg, "::1"));
    assert_true(purges(cfg, "::ffff:127.0.0.1"));
    assert_false(purges(cfg, "::2"));
    assert_false(purges(cfg, "128.0.0.1"));
    assert_false(purges(cfg, "10.0.0.1"));
    assert_false(purges(cfg, "::ffff:10.0.0.1"));
    assert_false(config_purge_allowed(cfg, &sa));

    /* its own list, whatever the ACL says */
    set_nets(&cfg->purge_allow, &cfg->npurge_allow, nets, 3);
    set_nets(&cfg->acl_allow, &cfg->nacl_allow, all, 2);
    assert_true(purges(cfg, "10.1.2.3"));
    assert_false(purges(cfg, "11.0.0.1"));
    assert_true(purges(cfg, "192.0.2.1"));
    assert_false(purges(cfg, "192.0.2.2"));
    assert_false(purges(cfg, "127.0.0.1"));
    assert_true(allows(cfg, "127.0.0.1"));
    assert_true(purges(cfg, "2001:db8::5"));
    assert_true(purges(cfg, "2001:db8:ffff:ffff::1"));
    assert_false(purges(cfg, "2001:db9::5"));
    assert_false(purges(cfg, "::1"));
    assert_true(purges(cfg, "::ffff:10.9.9.9"));
    assert_true(purges(cfg, "::ffff:192.0.2.1"));
    assert_false(purges(cfg, "::ffff:11.0.0.1"));
    assert_false(purges(cfg, "::10.1.2.3"));
    assert_false(purges(cfg, "64:ff9b::10.1.2.3"));
    assert_false(config_purge_allowed(cfg, &sa));

    /* empty: nobody */
    set_nets(&cfg->purge_allow, &cfg->npurge_allow, NULL, 0);
    assert_false(purges(cfg, "127.0.0.1"));
    assert_false(purges(cfg, "::1"));
    assert_true(allows(cfg, "127.0.0.1"));
    config_unref(&cfg);
}

/* ---- through a file ---- */

static void test_acl(void **state)
{
    /* libyaml wants a flow-list item that starts with ":" quoted */
    struct config *cfg = load_ok("acl: {allow: [0.0.0.0/0, \"::/0\"]}\n");

    (void)state;
    assert_int_equal(cfg->nacl_allow, 2);
    assert_true(allows(cfg, "1.2.3.4"));
    assert_true(allows(cfg, "fe80::1"));
    config_unref(&cfg);

    cfg = load_ok("acl: {allow: []}\n");
    assert_int_equal(cfg->nacl_allow, 0);
    assert_false(allows(cfg, "127.0.0.1"));
    config_unref(&cfg);
}

/* compression.types patterns: a whole type, type/ and a star, type/, a star and +suffix. */
static void test_media_pattern(void **state)
{
    char longest[128 + 1 + 127 + 1], too_long[128 + 1 + 128 + 1];
    static const char *const ok[] = {
        "text/html",
        "text/*",
        "application/*+json",
        "image/svg+xml",
        "application/vnd.api+json",
        "Text/HTML",
        "application/x-www-form-urlencoded",
        "a/b",
        "x.y/z_1",
        "a/*+b+c",
    };
    static const char *const bad[] = {
        "",
        "text",
        "text/",
        "/html",
        "*/*",
        "*/html",
        "text/**",
        "text/x*",
        "text/*+",
        "text/*json",
        "text/*+*",
        "text/html/x",
        "text/html;",
        "text/html; charset=utf-8",
        " text/html",
        "text/html ",
        "te xt/html",
        "text//html",
        "text/h\"tml",
        "text/ht,ml",
        "text/(html)",
        "text/html*",
    };

    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!cfgval_media_pattern(ok[i]))
            fail_msg("refused \"%s\"", ok[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cfgval_media_pattern(bad[i]))
            fail_msg("took \"%s\"", bad[i]);
    /* type and subtype names of up to 127 characters (RFC 6838 §4.2) */
    memset(longest, 'a', sizeof longest - 1);
    longest[127] = '/';
    longest[sizeof longest - 2] = '\0';
    assert_int_equal(strlen(longest), 127 + 1 + 127);
    assert_true(cfgval_media_pattern(longest));
    memset(too_long, 'a', sizeof too_long - 1);
    too_long[128] = '/';
    too_long[sizeof too_long - 1] = '\0';
    assert_false(cfgval_media_pattern(too_long));
    too_long[128] = 'a';
    too_long[127] = '/'; /* a type of 127, a subtype of 129 */
    assert_false(cfgval_media_pattern(too_long));
}

static void test_booleans(void **state)
{
    static const struct {
        const char *in;
        bool want;
    } forms[] = {{"true", true},   {"True", true},   {"TRUE", true}, {"yes", true},
                 {"Yes", true},    {"on", true},     {"ON", true},   {"\"true\"", true},
                 {"false", false}, {"False", false}, {"no", false},  {"NO", false},
                 {"off", false},   {"Off", false}};
    char yaml[128];

    (void)state;
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        snprintf(yaml, sizeof yaml, "upstream: {tls: {verify: %s}}\n", forms[i].in);
        struct config *cfg = load_ok(yaml);
        assert_true(cfg->upstream.tls.verify == forms[i].want);
        config_unref(&cfg);
    }
}

static void test_connect_ports(void **state)
{
    struct config *cfg = config_default();

    (void)state;
    assert_true(config_connect_port_allowed(cfg, 443));
    assert_false(config_connect_port_allowed(cfg, 80));
    assert_false(config_connect_port_allowed(cfg, 0));
    assert_false(config_connect_port_allowed(cfg, 8443));
    config_unref(&cfg);

    cfg = load_ok("connect:\n  allowed_ports:\n    - 443\n    - 8443\n    - 1\n    - 65535\n");
    assert_int_equal(cfg->nconnect_allowed_ports, 4);
    assert_int_equal(cfg->connect_allowed_ports[1], 8443);
    assert_true(config_connect_port_allowed(cfg, 443));
    assert_true(config_connect_port_allowed(cfg, 8443));
    assert_true(config_connect_port_allowed(cfg, 1));
    assert_true(config_connect_port_allowed(cfg, 65535));
    assert_false(config_connect_port_allowed(cfg, 80));
    config_unref(&cfg);

    /* a single port, not a list */
    cfg = load_ok("connect: {allowed_ports: 8443}\n");
    assert_int_equal(cfg->nconnect_allowed_ports, 1);
    assert_true(config_connect_port_allowed(cfg, 8443));
    assert_false(config_connect_port_allowed(cfg, 443));
    config_unref(&cfg);

    /* empty: CONNECT is refused everywhere */
    cfg = load_ok("connect: {allowed_ports: []}\n");
    assert_int_equal(cfg->nconnect_allowed_ports, 0);
    assert_false(config_connect_port_allowed(cfg, 443));
    config_unref(&cfg);
}

/* ---- bad values: every error, exactly ---- */

static void test_err_duration(void **state)
{
    (void)state;
    expect_errors("upstream:\n  read_timeout: 10x\n",
                  "magpie.yaml:2:17: upstream.read_timeout: \"10x\" is not a duration "
                  "(use ms, s, m, h or d)\n");
    expect_errors("limits: {shutdown_timeout: 2h, client_header_timeout: 0s}\n",
                  "magpie.yaml:1:28: limits.shutdown_timeout: 2h is out of range (1ms..1h)\n"
                  "magpie.yaml:1:55: limits.client_header_timeout: 0s is out of range "
                  "(1ms..1h)\n");
    expect_errors("dns: {max_ttl: 25h}\n",
                  "magpie.yaml:1:16: dns.max_ttl: 25h is out of range (0s..24h)\n");
}

static void test_err_size(void **state)
{
    (void)state;
    expect_errors("limits:\n  max_header_bytes: 64XB\n",
                  "magpie.yaml:2:21: limits.max_header_bytes: \"64XB\" is not a size "
                  "(use B, KiB, MiB, GiB or TiB)\n");
    expect_errors("limits:\n  max_header_bytes: 99999999999999999999KiB\n",
                  "magpie.yaml:2:21: limits.max_header_bytes: 99999999999999999999KiB is out of "
                  "range (1KiB..1MiB)\n");
    expect_errors("limits:\n  max_uri_bytes: 255\n",
                  "magpie.yaml:2:18: limits.max_uri_bytes: 255 is out of range (256B..1MiB)\n");
}

static void test_err_number_range(void **state)
{
    (void)state;
    expect_errors("limits:\n  max_connections: 0\n",
                  "magpie.yaml:2:20: limits.max_connections: 0 is out of range (1..1000000)\n");
    expect_errors("limits:\n  max_connections: 99999999999999999999999\n",
                  "magpie.yaml:2:20: limits.max_connections: 99999999999999999999999 is out of "
                  "range (1..1000000)\n");
    expect_errors("limits:\n  max_connections: 1e3\n",
                  "magpie.yaml:2:20: limits.max_connections: \"1e3\" is not a number\n");
}

static void test_err_port(void **state)
{
    (void)state;
    expect_errors("listen: [127.0.0.1:70000, \"[::1]:0\"]\n",
                  "magpie.yaml:1:10: listen[0]: \"127.0.0.1:70000\" has a bad port (use "
                  "1..65535)\n"
                  "magpie.yaml:1:27: listen[1]: \"[::1]:0\" has a bad port (use 1..65535)\n");
}

static void test_err_cidr(void **state)
{
    (void)state;
    expect_errors("acl:\n  allow:\n    - 10.0.0.0/33\n    - ::1/129\n    - {a: b}\n",
                  "magpie.yaml:3:7: acl.allow[0]: \"10.0.0.0/33\" is not a CIDR\n"
                  "magpie.yaml:4:7: acl.allow[1]: \"::1/129\" is not a CIDR\n"
                  "magpie.yaml:5:7: acl.allow[2]: expected a CIDR, got a mapping\n");
}

static void test_err_dns(void **state)
{
    (void)state;
    expect_errors("dns:\n"
                  "  servers:\n"
                  "    - 1.2.3\n"
                  "    - ns1.example:53\n"
                  "    - 127.0.0.1:99999\n"
                  "    - \"[1.2.3.4]\"\n"
                  "  timeout: 0\n",
                  "magpie.yaml:3:7: dns.servers[0]: \"1.2.3\" is not an IP address or "
                  "address:port\n"
                  "magpie.yaml:4:7: dns.servers[1]: \"ns1.example:53\" is not an IP address or "
                  "address:port\n"
                  "magpie.yaml:5:7: dns.servers[2]: \"127.0.0.1:99999\" has a bad port (use "
                  "1..65535)\n"
                  "magpie.yaml:6:7: dns.servers[3]: \"[1.2.3.4]\" is not an IP address or "
                  "address:port\n"
                  "magpie.yaml:7:12: dns.timeout: 0 is out of range (1ms..5m)\n");
}

static void test_err_retries(void **state)
{
    (void)state;
    expect_errors("upstream:\n  retries: 6\n",
                  "magpie.yaml:2:12: upstream.retries: 6 is out of range (0..5)\n");
    expect_errors("upstream: {retries: -1}\n",
                  "magpie.yaml:1:21: upstream.retries: \"-1\" is not a number\n");
}

static void test_err_bool(void **state)
{
    (void)state;
    expect_errors("upstream:\n  tls:\n    verify: maybe\n",
                  "magpie.yaml:3:13: upstream.tls.verify: \"maybe\" is not a boolean (use true "
                  "or false)\n");
    expect_errors("upstream: {tls: {verify: 1, ca_file: \"\"}}\n",
                  "magpie.yaml:1:26: upstream.tls.verify: \"1\" is not a boolean (use true or "
                  "false)\n"
                  "magpie.yaml:1:38: upstream.tls.ca_file: expected a path, got \"\"\n");
    expect_errors("upstream: {tls: {verify: [true], ca_file: }}\n",
                  "magpie.yaml:1:26: upstream.tls.verify: expected a boolean, got a list\n"
                  "magpie.yaml:1:43: upstream.tls.ca_file: expected a path, got nothing\n");
}

static void test_err_connect_ports(void **state)
{
    (void)state;
    expect_errors("connect:\n"
                  "  allowed_ports:\n"
                  "    - 0\n"
                  "    - https\n"
                  "    - 65536\n"
                  "    - 443\n"
                  "    - 443\n"
                  "    - {port: 80}\n",
                  "magpie.yaml:3:7: connect.allowed_ports[0]: 0 is out of range (1..65535)\n"
                  "magpie.yaml:4:7: connect.allowed_ports[1]: \"https\" is not a port number "
                  "(use 1..65535)\n"
                  "magpie.yaml:5:7: connect.allowed_ports[2]: 65536 is out of range "
                  "(1..65535)\n"
                  "magpie.yaml:7:7: connect.allowed_ports[4]: \"443\" is listed twice\n"
                  "magpie.yaml:8:7: connect.allowed_ports[5]: expected a port, got a mapping\n");
    expect_errors("connect: {allowed_ports: https}\n",
                  "magpie.yaml:1:26: connect.allowed_ports: \"https\" is not a port number (use "
                  "1..65535)\n");
    expect_errors("connect: {alowed_ports: [443]}\n",
                  "magpie.yaml:1:11: unknown key \"connect.alowed_ports\" (did you mean "
                  "\"connect.allowed_ports\"?)\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_sockaddr),
        cmocka_unit_test(test_parse_cidr),
        cmocka_unit_test(test_fmt),
        cmocka_unit_test(test_acl_match),
        cmocka_unit_test(test_purge_allowed),
        cmocka_unit_test(test_acl),
        cmocka_unit_test(test_media_pattern),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_connect_ports),
        cmocka_unit_test(test_err_duration),
        cmocka_unit_test(test_err_size),
        cmocka_unit_test(test_err_number_range),
        cmocka_unit_test(test_err_port),
        cmocka_unit_test(test_err_cidr),
        cmocka_unit_test(test_err_dns),
        cmocka_unit_test(test_err_retries),
        cmocka_unit_test(test_err_bool),
        cmocka_unit_test(test_err_connect_ports),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
