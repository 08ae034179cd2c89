/*
 * test_config.c - config.c through its public API: the file's structure
 * (unknown and repeated keys, types, nesting, syntax), whole valid files,
 * defaults, route lookup and the rules spanning two keys, with every error
 * line (file:line:col: message) compared exactly. Single values, good and
 * bad, and the ACL, PURGE and CONNECT matching are in test_cfgval.c.
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

#include "auth.h"
#include "cfgval.h"
#include "config.h"
#include "rules.h"

#include "cfgload.h"

/* ---- queries ---- */

static void test_routes(void **state)
{
    struct config *cfg = load_ok("routes:\n"
                                 "  - host: API.Local\n"
                                 "    origin: http://127.0.0.1:8080\n"
                                 "  - { host: secure.local, origin: \"https://Backend.Example\" }\n"
                                 "  - { host: v6.local, origin: \"http://[::1]:9000/\" }\n"
                                 "  - { host: plain.local, origin: \"HTTP://origin.local\" }\n");
    const struct cfg_route *r;

    (void)state;
    assert_int_equal(cfg->nroutes, 4);
    r = config_route_find(cfg, "api.local");
    assert_non_null(r);
    assert_ptr_equal(r, config_route_find(cfg, "API.LOCAL"));
    assert_string_equal(r->host, "api.local");
    assert_string_equal(r->origin, "http://127.0.0.1:8080");
    assert_false(r->origin_tls);
    assert_string_equal(r->origin_host, "127.0.0.1");
    assert_int_equal(r->origin_port, 8080);

    r = config_route_find(cfg, "secure.local");
    assert_non_null(r);
    assert_true(r->origin_tls);
    assert_string_equal(r->origin_host, "backend.example");
    assert_int_equal(r->origin_port, 443);

    r = config_route_find(cfg, "V6.local");
    assert_non_null(r);
    assert_string_equal(r->origin_host, "::1");
    assert_int_equal(r->origin_port, 9000);

    r = config_route_find(cfg, "plain.local");
    assert_non_null(r);
    assert_false(r->origin_tls);
    assert_int_equal(r->origin_port, 80);

    assert_null(config_route_find(cfg, "api.local.evil"));
    assert_null(config_route_find(cfg, "api"));
    assert_null(config_route_find(cfg, ""));
    assert_null(config_route_find(cfg, NULL));
    config_unref(&cfg);
}

/* ---- valid files ---- */

static void check_compression_defaults(const struct config *cfg, bool enabled)
{
    static const char *const types[] = {CFG_DEFAULT_COMPRESSION_TYPES};

    assert_true(cfg->compression.enabled == enabled);
    assert_int_equal(cfg->compression.nencodings, 3);
    assert_int_equal(cfg->compression.encodings[0], CODING_ZSTD);
    assert_int_equal(cfg->compression.encodings[1], CODING_BR);
    assert_int_equal(cfg->compression.encodings[2], CODING_GZIP);
    assert_int_equal(cfg->compression.ntypes, sizeof types / sizeof types[0]);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        assert_string_equal(cfg->compression.types[i], types[i]);
    assert_true(cfg->compression.min_size == CFG_DEFAULT_COMPRESSION_MIN_SIZE);
    assert_int_equal(cfg->compression.level[CODING_GZIP], CFG_DEFAULT_COMPRESSION_GZIP_LEVEL);
    assert_int_equal(cfg->compression.level[CODING_BR], CFG_DEFAULT_COMPRESSION_BR_LEVEL);
    assert_int_equal(cfg->compression.level[CODING_ZSTD], CFG_DEFAULT_COMPRESSION_ZSTD_LEVEL);
    assert_true(cfg->compression.decompress == CFG_DEFAULT_COMPRESSION_DECOMPRESS);
    /* the values the issue names, whatever the macros say */
    assert_string_equal(types[0], "text/*");
    assert_string_equal(types[6], "image/svg+xml");
    assert_true(cfg->compression.min_size == 1024);
    assert_int_equal(cfg->compression.level[CODING_GZIP], 6);
    assert_int_equal(cfg->compression.level[CODING_BR], 5);
    assert_int_equal(cfg->compression.level[CODING_ZSTD], 3);
    assert_true(cfg->compression.decompress);
}

/* Every default; compression_enabled: what compression.enabled must be
   (etc/magpie.yaml shows compression on, everything else at its default). */
static void check_defaults_with(const struct config *cfg, bool compression_enabled)
{
    assert_int_equal(cfg->nlisten, 1);
    assert_string_equal(cfg->listen[0].text, CFG_DEFAULT_LISTEN);
    assert_int_equal(cfg->listen[0].addr.ss_family, AF_INET);
    assert_int_equal(cfg->nacl_allow, 2);
    assert_string_equal(cfg->access_log, "-");
    assert_string_equal(cfg->error_log, "-");
    assert_int_equal(cfg->log_level, LOGL_INFO);
    assert_non_null(cfg->proxy_name);
    assert_true(cfg->proxy_name[0] != '\0');
    /* the default, or what this process's hard open-file limit fits */
    assert_int_equal(cfg->limits.max_connections,
                     cfgval_fit_connections(CFG_DEFAULT_MAX_CONNECTIONS));
    assert_true(cfg->limits.max_connections <= CFG_DEFAULT_MAX_CONNECTIONS);
    assert_int_equal(cfg->limits.max_header_bytes, CFG_DEFAULT_MAX_HEADER_BYTES);
    assert_int_equal(cfg->limits.max_uri_bytes, CFG_DEFAULT_MAX_URI_BYTES);
    assert_true(cfg->limits.client_header_timeout == CFG_DEFAULT_CLIENT_HEADER_TIMEOUT);
    assert_true(cfg->limits.client_idle_timeout == CFG_DEFAULT_CLIENT_IDLE_TIMEOUT);
    assert_true(cfg->limits.shutdown_timeout == CFG_DEFAULT_SHUTDOWN_TIMEOUT);
    assert_true(cfg->upstream.connect_timeout == CFG_DEFAULT_CONNECT_TIMEOUT);
    assert_true(cfg->upstream.read_timeout == CFG_DEFAULT_READ_TIMEOUT);
    assert_int_equal(cfg->upstream.retries, CFG_DEFAULT_RETRIES);
    assert_int_equal(cfg->upstream.pool.max_per_origin, CFG_DEFAULT_POOL_MAX_PER_ORIGIN);
    assert_int_equal(cfg->upstream.pool.max_idle_per_origin, CFG_DEFAULT_POOL_MAX_IDLE_PER_ORIGIN);
    assert_true(cfg->upstream.pool.idle_timeout == CFG_DEFAULT_POOL_IDLE_TIMEOUT);
    assert_true(cfg->upstream.pool.queue_timeout == CFG_DEFAULT_POOL_QUEUE_TIMEOUT);
    assert_true(cfg->upstream.tls.verify == CFG_DEFAULT_TLS_VERIFY);
    assert_string_equal(cfg->upstream.tls.ca_file, CFG_DEFAULT_TLS_CA_FILE);
    assert_int_equal(cfg->nconnect_allowed_ports, 1);
    assert_int_equal(cfg->connect_allowed_ports[0], CFG_DEFAULT_CONNECT_PORT);
    assert_null(cfg->listen[0].tls_cert);
    assert_null(cfg->listen[0].tls_key);
    assert_int_equal(cfg->dns.nservers, 0);
    assert_true(cfg->dns.max_ttl == CFG_DEFAULT_DNS_MAX_TTL);
    assert_true(cfg->dns.timeout == CFG_DEFAULT_DNS_TIMEOUT);
    assert_int_equal(cfg->nroutes, 0);
    assert_int_equal(cfg->nredirects, 0);
    assert_int_equal(cfg->npurge_allow, 2);
    assert_int_equal(cfg->purge_allow[0].family, AF_INET);
    assert_int_equal(cfg->purge_allow[0].prefix, 8);
    assert_int_equal(cfg->purge_allow[1].family, AF_INET6);
    assert_int_equal(cfg->purge_allow[1].prefix, 128);
    assert_true(cfg->cache.enabled == CFG_DEFAULT_CACHE_ENABLED);
    assert_string_equal(cfg->cache.dir, CFG_DEFAULT_CACHE_DIR);
    assert_true(cfg->cache.max_size == CFG_DEFAULT_CACHE_MAX_SIZE);
    assert_true(cfg->cache.max_object_size == CFG_DEFAULT_CACHE_MAX_OBJECT_SIZE);
    assert_true(cfg->cache.memory_size == CFG_DEFAULT_CACHE_MEMORY_SIZE);
    assert_int_equal(cfg->cache.set_cookie, CFG_SET_COOKIE_EXPLICIT);
    assert_true(cfg->cache.stale_on_error == 600);
    assert_true(CFG_DEFAULT_CACHE_MAX_SIZE == 1ull << 30);
    assert_true(CFG_DEFAULT_CACHE_MAX_OBJECT_SIZE == 256ull << 20);
    assert_true(CFG_DEFAULT_CACHE_MEMORY_SIZE == 64ull << 20);
    check_compression_defaults(cfg, compression_enabled);
}

static void check_defaults(const struct config *cfg)
{
    check_defaults_with(cfg, false);
    assert_false(config_compression_on(cfg, NULL));
}

static void test_defaults_and_refs(void **state)
{
    struct config *cfg = config_default(), *ref;

    (void)state;
    assert_non_null(cfg);
    assert_null(cfg->path);
    assert_int_equal(cfg->refs, 1);
    check_defaults(cfg);
    ref = config_ref(cfg);
    assert_ptr_equal(ref, cfg);
    assert_int_equal(cfg->refs, 2);
    config_unref(&ref);
    assert_null(ref);
    assert_int_equal(cfg->refs, 1);
    config_unref(&cfg);
    assert_null(cfg);
    config_unref(&cfg); /* idempotent */
    config_unref(NULL);
}

static void test_empty_files(void **state)
{
    static const char *const empties[] = {"",      "\n",         "# only a comment\n",
                                          "---\n", "---\n...\n", "~\n"};
    (void)state;
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
        struct config *cfg = load_ok(empties[i]);
        check_defaults(cfg);
        assert_non_null(cfg->path);
        config_unref(&cfg);
    }
    /* keys with no value keep their defaults */
    struct config *cfg =
        load_ok("limits:\nupstream:\ndns:\nacl:\nroutes:\ncache:\nadmin:\ncompression:\n");
    check_defaults(cfg);
    config_unref(&cfg);
    cfg = load_ok("upstream:\n  pool:\n  tls:\nconnect:\ncompression: {levels: }\n");
    check_defaults(cfg);
    config_unref(&cfg);
}

static void test_full_file(void **state)
{
    struct config *cfg =
        load_ok("listen:\n"
                "  - 0.0.0.0:8080\n"
                "  - \"[::]:8081\"\n"
                "acl:\n"
                "  allow: [10.0.0.0/8, fd00::/8]\n"
                "access_log: off\n"
                "error_log: /var/log/magpie/error.log\n"
                "log_level: debug\n"
                "proxy_name: magpie-1.example_net\n"
                "limits:\n"
                "  max_connections: 500\n"
                "  max_header_bytes: 16KiB\n"
                "  max_uri_bytes: 16KiB\n"
                "  client_header_timeout: 2500ms\n"
                "  client_idle_timeout: 2m\n"
                "  shutdown_timeout: 0.5\n"
                "upstream: {connect_timeout: 1s, read_timeout: 1h}\n"
                "dns:\n"
                "  servers: [127.0.0.1, \"127.0.0.1:5353\", \"[::1]:53\", \"::1\", \"[::1]\"]\n"
                "  max_ttl: 0s\n"
                "  timeout: 3s\n"
                "routes:\n"
                "  - { host: api.local, origin: \"http://127.0.0.1:8080\" }\n");
    (void)state;
    assert_int_equal(cfg->nlisten, 2);
    assert_string_equal(cfg->listen[0].text, "0.0.0.0:8080");
    assert_string_equal(cfg->listen[1].text, "[::]:8081");
    assert_int_equal(cfg->listen[1].addr.ss_family, AF_INET6);
    assert_int_equal(cfg->listen[1].addrlen, sizeof(struct sockaddr_in6));
    assert_int_equal(cfg->nacl_allow, 2);
    assert_int_equal(cfg->acl_allow[1].family, AF_INET6);
    assert_null(cfg->access_log);
    assert_string_equal(cfg->error_log, "/var/log/magpie/error.log");
    assert_int_equal(cfg->log_level, LOGL_DEBUG);
    assert_string_equal(cfg->proxy_name, "magpie-1.example_net");
    assert_int_equal(cfg->limits.max_connections, 500);
    assert_int_equal(cfg->limits.max_header_bytes, 16384);
    assert_int_equal(cfg->limits.max_uri_bytes, 16384);
    assert_true(cfg->limits.client_header_timeout == 2.5);
    assert_true(cfg->limits.client_idle_timeout == 120);
    assert_true(cfg->limits.shutdown_timeout == 0.5);
    assert_true(cfg->upstream.connect_timeout == 1);
    assert_true(cfg->upstream.read_timeout == 3600);
    assert_int_equal(cfg->dns.nservers, 5);
    assert_string_equal(cfg->dns.servers[2], "[::1]:53");
    assert_true(cfg->dns.max_ttl == 0);
    assert_true(cfg->dns.timeout == 3);
    assert_int_equal(cfg->nroutes, 1);
    config_unref(&cfg);
}

static void test_listen_forms(void **state)
{
    struct config *cfg = load_ok("listen: \"[::1]:3128\"\n");

    (void)state;
    assert_int_equal(cfg->nlisten, 1);
    assert_int_equal(cfg->listen[0].addr.ss_family, AF_INET6);
    assert_string_equal(cfg->listen[0].text, "[::1]:3128");
    config_unref(&cfg);

    cfg = load_ok("listen: [\"[::1]:3128\", 127.0.0.1:3128]\nacl: {allow: 10.0.0.0/8}\n");
    assert_int_equal(cfg->nlisten, 2);
    assert_int_equal(cfg->nacl_allow, 1);
    config_unref(&cfg);
}

static void test_upstream_keys(void **state)
{
    struct config *cfg = load_ok("upstream:\n"
                                 "  retries: 0\n"
                                 "  pool:\n"
                                 "    max_per_origin: 100000\n"
                                 "    max_idle_per_origin: 0\n"
                                 "    idle_timeout: 24h\n"
                                 "    queue_timeout: 1ms\n"
                                 "  tls:\n"
                                 "    verify: false\n"
                                 "    ca_file: /etc/magpie/ca.pem\n");

    (void)state;
    assert_int_equal(cfg->upstream.retries, 0);
    assert_int_equal(cfg->upstream.pool.max_per_origin, 100000);
    assert_int_equal(cfg->upstream.pool.max_idle_per_origin, 0);
    assert_true(cfg->upstream.pool.idle_timeout == 86400);
    assert_true(cfg->upstream.pool.queue_timeout == 0.001);
    assert_false(cfg->upstream.tls.verify);
    assert_string_equal(cfg->upstream.tls.ca_file, "/etc/magpie/ca.pem");
    config_unref(&cfg);

    /* the other end of each range; idle may equal max */
    cfg = load_ok("upstream:\n"
                  "  retries: 5\n"
                  "  pool: {max_per_origin: 1, max_idle_per_origin: 1, idle_timeout: 1ms, "
                  "queue_timeout: 1h}\n"
                  "  tls: {verify: true}\n");
    assert_int_equal(cfg->upstream.retries, 5);
    assert_int_equal(cfg->upstream.pool.max_per_origin, 1);
    assert_int_equal(cfg->upstream.pool.max_idle_per_origin, 1);
    assert_true(cfg->upstream.pool.idle_timeout == 0.001);
    assert_true(cfg->upstream.pool.queue_timeout == 3600);
    assert_true(cfg->upstream.tls.verify);
    assert_string_equal(cfg->upstream.tls.ca_file, CFG_DEFAULT_TLS_CA_FILE);
    config_unref(&cfg);
}

static void test_listen_tls(void **state)
{
    struct config *cfg = load_ok("listen:\n"
                                 "  - 127.0.0.1:3128\n"
                                 "  - address: 0.0.0.0:3129\n"
                                 "    tls:\n"
                                 "      cert: /etc/magpie/proxy.crt\n"
                                 "      key: /etc/magpie/proxy.key\n"
                                 "  - { address: \"[::1]:3130\" }\n");

    (void)state;
    assert_int_equal(cfg->nlisten, 3);
    assert_string_equal(cfg->listen[0].text, "127.0.0.1:3128");
    assert_null(cfg->listen[0].tls_cert);
    assert_null(cfg->listen[0].tls_key);
    assert_string_equal(cfg->listen[1].text, "0.0.0.0:3129");
    assert_int_equal(cfg->listen[1].addr.ss_family, AF_INET);
    assert_string_equal(cfg->listen[1].tls_cert, "/etc/magpie/proxy.crt");
    assert_string_equal(cfg->listen[1].tls_key, "/etc/magpie/proxy.key");
    assert_string_equal(cfg->listen[2].text, "[::1]:3130");
    assert_int_equal(cfg->listen[2].addr.ss_family, AF_INET6);
    assert_null(cfg->listen[2].tls_cert);
    assert_null(cfg->listen[2].tls_key);
    config_unref(&cfg);
}

static void test_route_tls(void **state)
{
    /* upstream.tls.verify comes after the routes that inherit it */
    struct config *cfg =
        load_ok("routes:\n"
                "  - { host: a.local, origin: \"https://a.example\" }\n"
                "  - { host: b.local, origin: \"https://b.example\", tls: {verify: yes} }\n"
                "  - { host: c.local, origin: \"http://c.example\" }\n"
                "  - { host: d.local, origin: \"https://d.example\", tls: {} }\n"
                "upstream: {tls: {verify: off}}\n");
    const struct cfg_route *r;

    (void)state;
    r = config_route_find(cfg, "a.local");
    assert_false(r->tls_verify);
    assert_false(r->tls_verify_set);
    r = config_route_find(cfg, "b.local");
    assert_true(r->tls_verify);
    assert_true(r->tls_verify_set);
    r = config_route_find(cfg, "c.local");
    assert_false(r->tls_verify_set);
    r = config_route_find(cfg, "d.local");
    assert_false(r->tls_verify);
    assert_false(r->tls_verify_set);
    config_unref(&cfg);

    cfg = load_ok("routes:\n"
                  "  - host: a.local\n"
                  "    origin: \"https://10.0.0.5:8443\"\n"
                  "    tls: {verify: false}\n"
                  "  - { host: b.local, origin: \"https://b.example\" }\n");
    r = config_route_find(cfg, "a.local");
    assert_false(r->tls_verify);
    assert_true(r->tls_verify_set);
    r = config_route_find(cfg, "b.local");
    assert_true(r->tls_verify);
    assert_false(r->tls_verify_set);
    config_unref(&cfg);
}

static void test_cache_keys(void **state)
{
    struct config *cfg = load_ok("cache:\n"
                                 "  enabled: false\n"
                                 "  dir: /var/cache/magpie\n"
                                 "  max_size: 16TiB\n"
                                 "  max_object_size: 16TiB\n"
                                 "  memory_size: 0\n"
                                 "admin:\n"
                                 "  purge_allow: [10.0.0.0/8, \"fd00::/8\"]\n");

    (void)state;
    assert_false(cfg->cache.enabled);
    assert_string_equal(cfg->cache.dir, "/var/cache/magpie");
    assert_true(cfg->cache.max_size == 16ull << 40);
    assert_true(cfg->cache.max_object_size == 16ull << 40);
    assert_true(cfg->cache.memory_size == 0);
    assert_int_equal(cfg->npurge_allow, 2);
    assert_int_equal(cfg->purge_allow[1].family, AF_INET6);
    assert_true(purges(cfg, "10.1.2.3"));
    assert_true(purges(cfg, "::ffff:10.1.2.3"));
    assert_true(purges(cfg, "fd12::1"));
    assert_false(purges(cfg, "127.0.0.1"));
    assert_false(purges(cfg, "::1"));
    assert_true(allows(cfg, "127.0.0.1")); /* the ACL keeps its default */
    config_unref(&cfg);

    /* the other end of each range; unset keys keep their defaults */
    cfg = load_ok("cache: {max_size: 1MiB, max_object_size: 1KiB, memory_size: 64GiB}\n"
                  "admin: {purge_allow: 192.0.2.1}\n");
    assert_true(cfg->cache.enabled);
    assert_string_equal(cfg->cache.dir, CFG_DEFAULT_CACHE_DIR);
    assert_true(cfg->cache.max_size == 1ull << 20);
    assert_true(cfg->cache.max_object_size == 1024);
    assert_true(cfg->cache.memory_size == 64ull << 30);
    assert_int_equal(cfg->npurge_allow, 1);
    assert_true(purges(cfg, "192.0.2.1"));
    assert_false(purges(cfg, "192.0.2.2"));
    config_unref(&cfg);

    cfg = load_ok("cache: {dir: cache, max_size: 2GiB}\nadmin: {purge_allow: []}\n");
    assert_string_equal(cfg->cache.dir, "cache");
    assert_true(cfg->cache.max_object_size == CFG_DEFAULT_CACHE_MAX_OBJECT_SIZE);
    assert_int_equal(cfg->npurge_allow, 0);
    assert_false(purges(cfg, "127.0.0.1"));
    config_unref(&cfg);
}

/* cache.set_cookie, cache.stale_on_error and routes[].cache.targeted_field */
static void test_cache_poison_keys(void **state)
{
    static const struct {
        const char *yaml;
        enum cfg_set_cookie sc;
        double soe;
    } rows[] = {
        {"cache: {set_cookie: explicit}\n", CFG_SET_COOKIE_EXPLICIT, 600},
        {"cache: {set_cookie: strip, stale_on_error: 0}\n", CFG_SET_COOKIE_STRIP, 0},
        {"cache: {set_cookie: never, stale_on_error: 90s}\n", CFG_SET_COOKIE_NEVER, 90},
        {"cache: {stale_on_error: 8760h}\n", CFG_SET_COOKIE_EXPLICIT, 365 * 24 * 3600.0},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct config *cfg = load_ok(rows[i].yaml);
        assert_int_equal(cfg->cache.set_cookie, rows[i].sc);
        assert_true(cfg->cache.stale_on_error == rows[i].soe);
        config_unref(&cfg);
    }
    struct config *cfg = load_ok("routes:\n"
                                 "  - host: a.local\n"
                                 "    origin: \"http://127.0.0.1:8080\"\n"
                                 "    cache: {targeted_field: Magpie-Cache-Control}\n"
                                 "  - { host: b.local, origin: \"http://b.example\" }\n");
    assert_string_equal(config_route_find(cfg, "a.local")->cache.targeted_field,
                        "Magpie-Cache-Control");
    assert_null(config_route_find(cfg, "b.local")->cache.targeted_field);
    config_unref(&cfg);
}

static void test_err_cache_poison_keys(void **state)
{
    (void)state;
    expect_errors("cache:\n"
                  "  set_cookie: always\n"
                  "  stale_on_error: 10 minutes\n"
                  "  set_cookies: strip\n",
                  "magpie.yaml:2:15: cache.set_cookie: \"always\" is not a Set-Cookie policy (use "
                  "explicit, strip or never)\n"
                  "magpie.yaml:3:19: cache.stale_on_error: \"10 minutes\" is not a duration (use "
                  "ms, s, m, h or d)\n"
                  "magpie.yaml:4:3: unknown key \"cache.set_cookies\" (did you mean "
                  "\"cache.set_cookie\"?)\n");
    expect_errors("cache: {set_cookie: [strip], stale_on_error: 8761h}\n",
                  "magpie.yaml:1:21: cache.set_cookie: expected a Set-Cookie policy, got a list\n"
                  "magpie.yaml:1:46: cache.stale_on_error: 8761h is out of range (0s..365d)\n");
    expect_errors(
        "routes:\n"
        "  - host: a.local\n"
        "    origin: \"http://127.0.0.1:8080\"\n"
        "    cache: {targeted_field: \"Bad Field\"}\n"
        "  - { host: b.local, origin: \"http://b.example\", cache: {targeted_field: } }\n"
        "  - { host: c.local, origin: \"http://c\", cache: {targeted_field: cache-control} }\n"
        "  - { host: d.local, origin: \"http://d\", cache: {targeted_field: \"a:b\"} }\n",
        "magpie.yaml:4:29: routes[0].cache.targeted_field: \"Bad Field\" is not a field "
        "name\n"
        "magpie.yaml:5:74: routes[1].cache.targeted_field: expected a field name, got "
        "nothing\n"
        "magpie.yaml:6:66: routes[2].cache.targeted_field: \"cache-control\" is already "
        "consulted (name the route's own field)\n"
        "magpie.yaml:7:66: routes[3].cache.targeted_field: \"a:b\" is not a field name\n");
}

/* access_log_format: one of three names, default when absent */
static void test_access_log_format(void **state)
{
    static const struct {
        const char *yaml;
        enum cfg_access_log_format want;
    } rows[] = {
        {"log_level: info\n", CFG_ACCESS_LOG_DEFAULT},
        {"access_log_format: default\n", CFG_ACCESS_LOG_DEFAULT},
        {"access_log_format: combined\n", CFG_ACCESS_LOG_COMBINED},
        {"access_log_format: \"json\"\n", CFG_ACCESS_LOG_JSON},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct config *cfg = load_ok(rows[i].yaml);
        assert_int_equal(cfg->access_log_format, rows[i].want);
        config_unref(&cfg);
    }
}

static void test_err_access_log_format(void **state)
{
    (void)state;
    expect_errors("log_level: info\n"
                  "access_log_format: Combined\n",
                  "magpie.yaml:2:20: access_log_format: \"Combined\" is not an access log format "
                  "(use default, combined or json)\n");
    expect_errors("access_log_format: [json]\n",
                  "magpie.yaml:1:20: access_log_format: expected an access log format, got a "
                  "list\n");
    expect_errors("access_log_format:\n",
                  "magpie.yaml:1:19: access_log_format: expected an access log format, got "
                  "nothing\n");
    expect_errors("access_log_formt: json\n",
                  "magpie.yaml:1:1: unknown key \"access_log_formt\" (did you mean "
                  "\"access_log_format\"?)\n");
}

static void test_route_cache(void **state)
{
    struct config *cfg =
        load_ok("routes:\n"
                "  - host: a.local\n"
                "    origin: \"http://127.0.0.1:8080\"\n"
                "    cache:\n"
                "      enabled: false\n"
                "      default_ttl: 60s\n"
                "      ignore_query_params: [utm_source, UTM_source, fbclid]\n"
                "  - { host: b.local, origin: \"http://b.example\" }\n"
                "  - { host: c.local, origin: \"http://c.example\", cache: }\n"
                "  - { host: d.local, origin: \"http://d.example\", cache: {default_ttl: 0s} }\n"
                "  - host: e.local\n"
                "    origin: \"http://e.example\"\n"
                "    cache: {default_ttl: 8760h, ignore_query_params: gclid, enabled: yes}\n");
    const struct cfg_route *r;

    (void)state;
    r = config_route_find(cfg, "a.local");
    assert_false(r->cache.enabled);
    assert_true(r->cache.default_ttl == 60);
    assert_int_equal(r->cache.nignore_params, 3);
    assert_string_equal(r->cache.ignore_params[0], "utm_source");
    assert_string_equal(r->cache.ignore_params[1], "UTM_source"); /* case-sensitive */
    assert_string_equal(r->cache.ignore_params[2], "fbclid");
    /* no cache key, or one with no value: the defaults */
    for (const char *const *h = (const char *const[]){"b.local", "c.local", NULL}; *h; h++) {
        r = config_route_find(cfg, *h);
        assert_true(r->cache.enabled == CFG_DEFAULT_RULE_ENABLED);
        assert_true(r->cache.default_ttl == CFG_DEFAULT_RULE_DEFAULT_TTL);
        assert_true(r->cache.default_ttl == -1);
        assert_int_equal(r->cache.nignore_params, 0);
        assert_null(r->cache.ignore_params);
    }
    r = config_route_find(cfg, "d.local");
    assert_true(r->cache.enabled);
    assert_true(r->cache.default_ttl == 0);
    r = config_route_find(cfg, "e.local");
    assert_true(r->cache.enabled);
    assert_true(r->cache.default_ttl == 365 * 24 * 3600.0);
    assert_int_equal(r->cache.nignore_params, 1);
    assert_string_equal(r->cache.ignore_params[0], "gclid");
    config_unref(&cfg);
}

/* cache.rules: every key of a rule, rule order, and route rules first. */
static void test_cache_rules(void **state)
{
    struct config *cfg = load_ok(
        "cache:\n"
        "  rules:\n"
        "    - match: \"\\\\.deb$\"\n"
        "      default_ttl: 30d\n"
        "      max_ttl: 90d\n"
        "      ignore_query_params: [utm_source]\n"
        "      follow_redirects: { max: 3, scope: same-site }\n"
        "    - match: \"^https?://private\\\\.\"\n"
        "      enabled: false\n"
        "      follow_redirects: true\n"
        "    - match: \"/api/\"\n"
        "      follow_redirects: { scope: any }\n"
        "      request_headers: { set: { X-Api-Key: k-1, X-Env: \"a b\" }, remove: [Cookie] }\n"
        "      response_headers: { remove: Server }\n"
        "    - { match: \"/old/\", follow_redirects: false }\n"
        "routes:\n"
        "  - host: api.local\n"
        "    origin: \"http://127.0.0.1:8080\"\n"
        "    cache: { default_ttl: 1m, follow_redirects: {max: 0} }\n"
        "    request_headers: { set: { X-Api-Key: \"k-123\" }, remove: [Cookie] }\n"
        "    response_headers: { set: { X-Served-By: magpie }, remove: [Server] }\n"
        "  - { host: plain.local, origin: \"http://127.0.0.1:8081\" }\n");
    const struct cfg_cache_rule *r;
    const struct cfg_route *api, *plain;
    const char *u;

    (void)state;
    assert_int_equal(cfg->cache.nrules, 4);
    r = &cfg->cache.rules[0];
    assert_string_equal(r->match, "\\.deb$");
    assert_true(r->enabled);
    assert_true(r->default_ttl == 30 * 86400.0);
    assert_true(r->max_ttl == 90 * 86400.0);
    assert_int_equal(r->nignore_params, 1);
    assert_string_equal(r->ignore_params[0], "utm_source");
    assert_int_equal(r->follow_max, 3);
    assert_int_equal(r->follow_scope, CFG_FOLLOW_SAME_SITE);
    assert_int_equal(r->request_headers.nset + r->request_headers.nremove, 0);
    r = &cfg->cache.rules[1];
    assert_false(r->enabled);
    assert_true(r->default_ttl == -1 && r->max_ttl == -1);
    assert_int_equal(r->follow_max, CFG_DEFAULT_FOLLOW_MAX);
    assert_int_equal(r->follow_scope, CFG_DEFAULT_FOLLOW_SCOPE);
    r = &cfg->cache.rules[2];
    assert_int_equal(r->follow_max, CFG_DEFAULT_FOLLOW_MAX);
    assert_int_equal(r->follow_scope, CFG_FOLLOW_ANY);
    assert_int_equal(r->request_headers.nset, 2);
    assert_string_equal(r->request_headers.set[0].name, "X-Api-Key");
    assert_string_equal(r->request_headers.set[0].value, "k-1");
    assert_string_equal(r->request_headers.set[1].value, "a b");
    assert_int_equal(r->request_headers.nremove, 1);
    assert_string_equal(r->request_headers.remove[0], "Cookie");
    assert_int_equal(r->response_headers.nset, 0);
    assert_int_equal(r->response_headers.nremove, 1); /* a lone name is a list of one */
    assert_string_equal(r->response_headers.remove[0], "Server");
    assert_int_equal(cfg->cache.rules[3].follow_max, 0);

    api = config_route_find(cfg, "api.local");
    plain = config_route_find(cfg, "plain.local");
    assert_true(api->has_cache);
    assert_null(api->cache.match);
    assert_true(api->cache.default_ttl == 60);
    assert_int_equal(api->cache.follow_max, 0);
    assert_string_equal(api->request_headers.set[0].value, "k-123");
    assert_string_equal(api->response_headers.set[0].name, "X-Served-By");
    assert_string_equal(api->response_headers.remove[0], "Server");
    assert_false(plain->has_cache);

    /* the first rule that matches; a route's own block before any */
    u = "http://mirror.example/pool/a.deb";
    assert_ptr_equal(config_cache_rule(cfg, NULL, u, strlen(u)), &cfg->cache.rules[0]);
    u = "https://private.example/api/x.deb"; /* three match: the first wins */
    assert_ptr_equal(config_cache_rule(cfg, NULL, u, strlen(u)), &cfg->cache.rules[0]);
    u = "https://private.example/api/x";
    assert_ptr_equal(config_cache_rule(cfg, NULL, u, strlen(u)), &cfg->cache.rules[1]);
    u = "http://a.example/api/x";
    assert_ptr_equal(config_cache_rule(cfg, NULL, u, strlen(u)), &cfg->cache.rules[2]);
    u = "http://a.example/other";
    assert_ptr_equal(config_cache_rule(cfg, NULL, u, strlen(u)), &config_default_rule);
    u = "http://api.local/pool/a.deb";
    assert_ptr_equal(config_cache_rule(cfg, api, u, strlen(u)), &api->cache);
    assert_ptr_equal(config_cache_rule(cfg, plain, u, strlen(u)), &cfg->cache.rules[0]);
    u = "http://plain.local/nothing";
    assert_ptr_equal(config_cache_rule(cfg, plain, u, strlen(u)), &config_default_rule);
    assert_true(config_default_rule.enabled);
    assert_true(config_default_rule.default_ttl == -1 && config_default_rule.max_ttl == -1);
    assert_int_equal(config_default_rule.follow_max, 0);
    config_unref(&cfg);
}

static void test_err_cache_rules(void **state)
{
    (void)state;
    expect_errors(
        "cache:\n"
        "  rules:\n"
        "    - { default_ttl: 1h }\n"
        "    - { match: \"(unclosed\" }\n"
        "    - { match: a, default_ttl: 3d, max_ttl: 2d }\n"
        "    - { match: b, follow_redirects: {max: 21, scope: elsewhere, hops: 1} }\n"
        "    - { match: c, follow_redirects: maybe, targeted_field: X-A }\n"
        "    - just-a-string\n"
        "    - { match: d, max_ttl: 366d }\n",
        "magpie.yaml:3:7: cache.rules[0]: missing \"match\"\n"
        "magpie.yaml:4:16: cache.rules[1].match: \"(unclosed\" is not a regular expression "
        "(at offset 9: missing closing parenthesis)\n"
        "magpie.yaml:5:7: cache.rules[2].default_ttl (3d) must not exceed cache.rules[2].max_ttl "
        "(2d)\n"
        "magpie.yaml:6:43: cache.rules[3].follow_redirects.max: 21 is out of range (0..20)\n"
        "magpie.yaml:6:54: cache.rules[3].follow_redirects.scope: \"elsewhere\" is not a scope "
        "(use same-origin, same-site or any)\n"
        "magpie.yaml:6:65: unknown key \"cache.rules[3].follow_redirects.hops\"\n"
        "magpie.yaml:7:37: cache.rules[4].follow_redirects: \"maybe\" is not a boolean (use true "
        "or false)\n"
        "magpie.yaml:7:44: unknown key \"cache.rules[4].targeted_field\"\n"
        "magpie.yaml:8:7: cache.rules[5]: expected a mapping, got \"just-a-string\"\n"
        "magpie.yaml:9:28: cache.rules[6].max_ttl: 366d is out of range (0s..365d)\n");
}

static void test_err_header_rules(void **state)
{
    (void)state;
    expect_errors(
        "routes:\n"
        "  - host: a.local\n"
        "    origin: \"http://127.0.0.1:8080\"\n"
        "    request_headers:\n"
        "      set: { Connection: close, Host: b, \"Bad Name\": x, X-A: 1, x-a: 2 }\n"
        "      remove: [Transfer-Encoding, Via, Cookie, cookie]\n"
        "      add: { X-B: 1 }\n"
        "    response_headers:\n"
        "      set: { Content-Length: \"5\", Cache-Status: x, Age: \"1\", Host: ok }\n"
        "      remove: [Server]\n"
        "  - host: b.local\n"
        "    origin: \"http://127.0.0.1:8080\"\n"
        "    request_headers: { set: { X-A: [1] }, remove: X-A }\n"
        "    response_headers: { set: { X-Line: \"a\\r\\nInjected: 1\" } }\n",
        "magpie.yaml:5:14: routes[0].request_headers.set: \"Connection\" is hop-by-hop: magpie "
        "manages it\n"
        "magpie.yaml:5:33: routes[0].request_headers.set: \"Host\" routes the request and names "
        "it in the cache: use routes[].origin\n"
        "magpie.yaml:5:42: routes[0].request_headers.set: \"Bad Name\" is not a field name\n"
        "magpie.yaml:5:65: routes[0].request_headers.set: \"x-a\" is set twice\n"
        "magpie.yaml:6:16: routes[0].request_headers.remove[0]: \"Transfer-Encoding\" frames "
        "the message: magpie manages it\n"
        "magpie.yaml:6:35: routes[0].request_headers.remove[1]: \"Via\" is magpie's own: it "
        "appends itself\n"
        "magpie.yaml:6:48: routes[0].request_headers.remove[3]: \"cookie\" is listed twice\n"
        "magpie.yaml:7:7: unknown key \"routes[0].request_headers.add\"\n"
        "magpie.yaml:9:14: routes[0].response_headers.set: \"Content-Length\" frames the "
        "message: magpie manages it\n"
        "magpie.yaml:9:35: routes[0].response_headers.set: \"Cache-Status\" is magpie's own: it "
        "says what the cache did\n"
        "magpie.yaml:9:52: routes[0].response_headers.set: \"Age\" is magpie's own: it says how "
        "old a stored response is\n"
        "magpie.yaml:13:36: routes[1].request_headers.set.X-A: expected a field value, got a "
        "list\n"
        "magpie.yaml:14:40: routes[1].response_headers.set.X-Line: must not contain control "
        "characters (CR, LF...)\n");
    expect_errors(
        "routes:\n"
        "  - host: a.local\n"
        "    origin: \"http://127.0.0.1:8080\"\n"
        "    request_headers: { set: { X-Forwarded-For: 1.2.3.4 }, remove: [X-Forwarded-For] }\n"
        "    response_headers: { set: { X-Cache: HIT } }\n",
        "magpie.yaml:4:31: routes[0].request_headers.set: \"X-Forwarded-For\" is magpie's "
        "on reverse routes: it appends the client's address (remove it to drop what "
        "clients send)\n"
        "magpie.yaml:5:32: routes[0].response_headers.set: \"X-Cache\" is magpie's own: it "
        "says what the cache did\n");
    expect_errors("routes:\n"
                  "  - host: a.local\n"
                  "    origin: \"http://127.0.0.1:8080\"\n"
                  "    request_headers: { set: { X-A: \"1\" }, remove: [x-a] }\n",
                  "magpie.yaml:4:22: routes[0].request_headers: \"X-A\" is both set and "
                  "removed\n");
    /* bounded: a value of 8KiB at most, 64 names an edit */
    {
        char value[8194], yaml[16384 + 1024];
        size_t n = 0;

        memset(value, 'v', sizeof value - 1);
        value[sizeof value - 1] = '\0';
        n += (size_t)snprintf(yaml + n, sizeof yaml - n,
                              "routes:\n"
                              "  - host: a.local\n"
                              "    origin: \"http://127.0.0.1:8080\"\n"
                              "    request_headers: { set: { X-Ok: %.8192s, X-Long: %s } }\n"
                              "    response_headers:\n"
                              "      remove: [",
                              value, value);
        for (int i = 0; i < 65; i++)
            n += (size_t)snprintf(yaml + n, sizeof yaml - n, "%sX-%d", i ? ", " : "", i);
        snprintf(yaml + n, sizeof yaml - n, "]\n");
        expect_errors(yaml, "magpie.yaml:4:8239: routes[0].request_headers.set.X-Long: is "
                            "longer than 8192 bytes\n"
                            "magpie.yaml:6:7: routes[0].response_headers: names 65 fields (at "
                            "most 64)\n");
    }
    /* an empty set: still counts as the key given */
    expect_errors(
        "routes:\n"
        "  - host: a.local\n"
        "    origin: \"http://127.0.0.1:8080\"\n"
        "    request_headers: { set: ~, set: { X-A: \"1\" }, remove: ~, remove: [X-B] }\n",
        "magpie.yaml:4:32: duplicate key \"routes[0].request_headers.set\" (first at "
        "line 4)\n"
        "magpie.yaml:4:62: duplicate key \"routes[0].request_headers.remove\" (first "
        "at line 4)\n");
}

/* Aliases share a block; repeating one long list many times stops at a
   bound (a reload reads the file in the loop). */
static void test_aliases(void **state)
{
    struct config *cfg =
        load_ok("routes:\n"
                "  - host: a.local\n"
                "    origin: \"http://127.0.0.1:8080\"\n"
                "    request_headers: &h { set: { X-Api-Key: k }, remove: [Cookie] }\n"
                "  - host: b.local\n"
                "    origin: \"http://127.0.0.1:8081\"\n"
                "    request_headers: *h\n");
    char yaml[64 * 1024];
    size_t n = 0;

    (void)state;
    assert_int_equal(cfg->nroutes, 2);
    assert_string_equal(cfg->routes[1].request_headers.set[0].value, "k");
    assert_string_equal(cfg->routes[1].request_headers.remove[0], "Cookie");
    config_unref(&cfg);

    /* 100 names, then 200 rules each naming them: 20000 values again */
    n += (size_t)snprintf(yaml + n, sizeof yaml - n,
                          "cache:\n  rules:\n"
                          "    - &r { match: a, ignore_query_params: [");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "%sp%d", i ? ", " : "", i);
    n += (size_t)snprintf(yaml + n, sizeof yaml - n, "] }\n");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "    - *r\n");
    expect_errors(yaml, "magpie.yaml:3:80: aliases repeat more than 16384 values: not read "
                        "further\n");
}

static void test_compression_keys(void **state)
{
    struct config *cfg = load_ok("compression:\n"
                                 "  enabled: true\n"
                                 "  encodings: [gzip, zstd]\n"
                                 "  types:\n"
                                 "    - Text/HTML\n"
                                 "    - \"application/*+json\"\n"
                                 "    - text/*\n"
                                 "    - application/vnd.api+json\n"
                                 "  min_size: 0\n"
                                 "  levels: {gzip: 9, br: 11, zstd: 19}\n"
                                 "  decompress: false\n");

    (void)state;
    assert_true(cfg->compression.enabled);
    assert_int_equal(cfg->compression.nencodings, 2);
    assert_int_equal(cfg->compression.encodings[0], CODING_GZIP);
    assert_int_equal(cfg->compression.encodings[1], CODING_ZSTD);
    assert_int_equal(cfg->compression.ntypes, 4);
    assert_string_equal(cfg->compression.types[0], "text/html"); /* media types ignore case */
    assert_string_equal(cfg->compression.types[1], "application/*+json");
    assert_string_equal(cfg->compression.types[2], "text/*");
    assert_string_equal(cfg->compression.types[3], "application/vnd.api+json");
    assert_true(cfg->compression.min_size == 0);
    assert_int_equal(cfg->compression.level[CODING_GZIP], 9);
    assert_int_equal(cfg->compression.level[CODING_BR], 11);
    assert_int_equal(cfg->compression.level[CODING_ZSTD], 19);
    assert_false(cfg->compression.decompress);
    assert_true(config_compression_on(cfg, NULL));
    config_unref(&cfg);

    /* the other end of each range, lone scalars as one-item lists, coding
       names in any case (RFC 9110 §8.4.1) */
    cfg = load_ok("compression: {encodings: BR, types: image/svg+xml, min_size: 1GiB,\n"
                  "  levels: {gzip: 1, br: 0, zstd: 1}, enabled: off}\n");
    assert_false(cfg->compression.enabled);
    assert_int_equal(cfg->compression.nencodings, 1);
    assert_int_equal(cfg->compression.encodings[0], CODING_BR);
    assert_int_equal(cfg->compression.ntypes, 1);
    assert_string_equal(cfg->compression.types[0], "image/svg+xml");
    assert_true(cfg->compression.min_size == 1ull << 30);
    assert_int_equal(cfg->compression.level[CODING_GZIP], 1);
    assert_int_equal(cfg->compression.level[CODING_BR], 0);
    assert_int_equal(cfg->compression.level[CODING_ZSTD], 1);
    assert_true(cfg->compression.decompress);
    config_unref(&cfg);

    /* unset keys keep their defaults, one level alone too */
    cfg = load_ok("compression:\n  levels: {br: 7}\n  encodings: [Zstd, gzip, br]\n");
    assert_false(cfg->compression.enabled);
    assert_int_equal(cfg->compression.nencodings, 3);
    assert_int_equal(cfg->compression.encodings[0], CODING_ZSTD);
    assert_int_equal(cfg->compression.encodings[1], CODING_GZIP);
    assert_int_equal(cfg->compression.encodings[2], CODING_BR);
    assert_int_equal(cfg->compression.level[CODING_GZIP], CFG_DEFAULT_COMPRESSION_GZIP_LEVEL);
    assert_int_equal(cfg->compression.level[CODING_BR], 7);
    assert_int_equal(cfg->compression.level[CODING_ZSTD], CFG_DEFAULT_COMPRESSION_ZSTD_LEVEL);
    assert_int_equal(cfg->compression.ntypes, 7);
    assert_true(cfg->compression.min_size == CFG_DEFAULT_COMPRESSION_MIN_SIZE);
    assert_true(cfg->compression.decompress);
    config_unref(&cfg);
}

/* routes[].compression.enabled over compression.enabled, through config_compression_on. */
static void test_route_compression(void **state)
{
    static const char *const routes =
        "routes:\n"
        "  - { host: on.local, origin: \"http://a\", compression: {enabled: true} }\n"
        "  - { host: off.local, origin: \"http://b\", compression: {enabled: no} }\n"
        "  - { host: unset.local, origin: \"http://c\" }\n"
        "  - { host: null.local, origin: \"http://d\", compression: }\n"
        "  - { host: empty.local, origin: \"http://e\", compression: {} }\n";
    static const struct {
        const char *host; /* NULL: forward mode */
        int route_enabled;
        bool on_when_global_off, on_when_global_on;
    } rows[] = {
        {"on.local", 1, true, true},      {"off.local", 0, false, false},
        {"unset.local", -1, false, true}, {"null.local", -1, false, true},
        {"empty.local", -1, false, true}, {NULL, 0, false, true},
    };
    char yaml[1024];

    (void)state;
    for (int global = 0; global < 2; global++) {
        snprintf(yaml, sizeof yaml, "%scompression: {enabled: %s}\n", routes,
                 global ? "true" : "false");
        struct config *cfg = load_ok(yaml);
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            const struct cfg_route *r = rows[i].host ? config_route_find(cfg, rows[i].host) : NULL;
            if (rows[i].host) {
                assert_non_null(r);
                assert_int_equal(r->compression_enabled, rows[i].route_enabled);
            }
            assert_true(config_compression_on(cfg, r) ==
                        (global ? rows[i].on_when_global_on : rows[i].on_when_global_off));
        }
        config_unref(&cfg);
    }
    assert_int_equal(CFG_DEFAULT_ROUTE_COMPRESSION_ENABLED, -1);
}

/* routes[].rewrite_location: on unless a route says no; not a bool: an error. */
static void test_route_rewrite_location(void **state)
{
    (void)state;
    struct config *cfg =
        load_ok("routes:\n"
                "  - { host: a.local, origin: \"http://a\" }\n"
                "  - { host: b.local, origin: \"http://b\", rewrite_location: false }\n"
                "  - { host: c.local, origin: \"http://c\", rewrite_location: yes }\n");
    assert_true(config_route_find(cfg, "a.local")->rewrite_location);
    assert_false(config_route_find(cfg, "b.local")->rewrite_location);
    assert_true(config_route_find(cfg, "c.local")->rewrite_location);
    config_unref(&cfg);
    expect_errors(
        "routes:\n  - { host: a.local, origin: \"http://a\", rewrite_location: maybe }\n",
        "magpie.yaml:2:60: routes[0].rewrite_location: \"maybe\" is not a boolean (use true "
        "or false)\n");
}

/* redirects: in order, each pattern compiled, status 301 unless given. */
static void test_redirects(void **state)
{
    static const int statuses[] = {301, 302, 303, 307, 308};
    struct config *cfg =
        load_ok("redirects:\n"
                "  - { match: \"^http://old\\\\.example/(.*)$\", to: \"https://new.example/$1\", "
                "status: 301 }\n"
                "  - match: '^https?://a\\.test/(\\w+)\\?id=(\\d+)$'\n"
                "    to: /items/$2/$1\n"
                "  - { match: x, to: \"http://h/$$\", status: 302 }\n"
                "  - { match: x, to: \"http://h/\", status: 303 }\n"
                "  - { match: x, to: \"http://h/\", status: 307 }\n"
                "  - { match: x, to: \"http://h/\", status: 308 }\n");
    const struct cfg_redirect *r = cfg->redirects;
    struct rule_match m;
    char out[128];
    const char *url = "http://old.example/a/b?c=d";

    (void)state;
    assert_int_equal(cfg->nredirects, 6);
    assert_string_equal(r[0].match, "^http://old\\.example/(.*)$");
    assert_string_equal(r[0].to, "https://new.example/$1");
    assert_int_equal(r[0].status, 301);
    assert_true(rule_re_match(r[0].re, url, strlen(url), &m));
    assert_int_equal(rule_expand(r[0].to, url, &m, out, sizeof out), 27);
    assert_string_equal(out, "https://new.example/a/b?c=d");
    assert_false(rule_re_match(r[0].re, "http://new.example/", 19, NULL));

    assert_string_equal(r[1].match, "^https?://a\\.test/(\\w+)\\?id=(\\d+)$");
    assert_string_equal(r[1].to, "/items/$2/$1");
    assert_int_equal(r[1].status, CFG_DEFAULT_REDIRECT_STATUS);
    url = "https://a.test/shoe?id=42";
    assert_true(rule_re_match(r[1].re, url, strlen(url), &m));
    assert_int_equal(rule_expand(r[1].to, url, &m, out, sizeof out), 14);
    assert_string_equal(out, "/items/42/shoe");
    assert_string_equal(r[2].to, "http://h/$$");
    for (size_t i = 1; i < 5; i++) /* r[2..5]: 302, 303, 307, 308 */
        assert_int_equal(r[i + 1].status, statuses[i]);
    config_unref(&cfg);

    cfg = load_ok("redirects: []\n");
    assert_int_equal(cfg->nredirects, 0);
    config_unref(&cfg);
    cfg = load_ok("redirects:\n");
    assert_int_equal(cfg->nredirects, 0);
    config_unref(&cfg);
}

static void test_example_file(void **state)
{
    struct config *cfg = load_example();

    (void)state;
    check_defaults_with(cfg, true);
    assert_true(config_compression_on(cfg, NULL));
    config_unref(&cfg);
}

/* ---- broken files: every error, exactly ---- */

static void test_err_unknown_key_suggest(void **state)
{
    (void)state;
    expect_errors("log_level: info\n"
                  "limts:\n"
                  "  max_connections: 10\n",
                  "magpie.yaml:2:1: unknown key \"limts\" (did you mean \"limits\"?)\n");
    expect_errors("limits:\n"
                  "  max_conections: 10\n"
                  "  client_timeout_header: 1s\n",
                  "magpie.yaml:2:3: unknown key \"limits.max_conections\" "
                  "(did you mean \"limits.max_connections\"?)\n"
                  "magpie.yaml:3:3: unknown key \"limits.client_timeout_header\"\n");
    expect_errors("Listen: [127.0.0.1:1]\nacl: {alow: []}\n",
                  "magpie.yaml:1:1: unknown key \"Listen\" (did you mean \"listen\"?)\n"
                  "magpie.yaml:2:7: unknown key \"acl.alow\" (did you mean \"acl.allow\"?)\n");
}

static void test_err_unknown_key_plain(void **state)
{
    (void)state;
    expect_errors("cache_dir: /var/cache\n", "magpie.yaml:1:1: unknown key \"cache_dir\"\n");
}

static void test_err_wrong_type(void **state)
{
    (void)state;
    expect_errors("limits:\n"
                  "  max_connections: {a: 1}\n"
                  "  max_header_bytes: [1]\n"
                  "  client_idle_timeout:\n",
                  "magpie.yaml:2:20: limits.max_connections: expected a number, got a mapping\n"
                  "magpie.yaml:3:21: limits.max_header_bytes: expected a size, got a list\n"
                  "magpie.yaml:4:23: limits.client_idle_timeout: expected a duration, got "
                  "nothing\n");
    expect_errors("limits: [1, 2]\nupstream: 5\nlisten: {a: b}\n",
                  "magpie.yaml:1:9: limits: expected a mapping, got a list\n"
                  "magpie.yaml:2:11: upstream: expected a mapping, got \"5\"\n"
                  "magpie.yaml:3:9: listen: expected a list, got a mapping\n");
    expect_errors("- a\n- b\n", "magpie.yaml:1:1: top level: expected a mapping, got a list\n");
    expect_errors("just words\n",
                  "magpie.yaml:1:1: top level: expected a mapping, got \"just words\"\n");
}

static void test_err_listen(void **state)
{
    (void)state;
    expect_errors("listen:\n"
                  "  - 127.0.0.1:3128\n"
                  "  - 1.2.3.4\n"
                  "  - localhost:80\n"
                  "  - 127.0.0.1:3128\n",
                  "magpie.yaml:3:5: listen[1]: \"1.2.3.4\" is not an address:port\n"
                  "magpie.yaml:4:5: listen[2]: \"localhost:80\" is not an address:port\n"
                  "magpie.yaml:5:5: listen[3]: \"127.0.0.1:3128\" is listed twice\n");
    expect_errors("listen: []\n", "magpie.yaml:1:9: listen: must not be empty\n");
    expect_errors("listen: ::1:3128\n", "magpie.yaml:1:9: listen: \"::1:3128\" is not an "
                                        "address:port\n");
    /* sockets Linux would not bind side by side, refused before any bind */
    const char *overlap = "overlaps another listener on its port (a wildcard address takes "
                          "the whole port, and [::] takes IPv4 too): keep one of them\n";
    char want[1024];
    snprintf(want, sizeof want,
             "magpie.yaml:1:23: listen[1]: \"0.0.0.0:3128\" %s"
             "magpie.yaml:1:39: listen[2]: \"127.0.0.1:3128\" %s",
             overlap, overlap);
    expect_errors("listen: [\"[::]:3128\", \"0.0.0.0:3128\", \"127.0.0.1:3128\"]\n", want);
    snprintf(want, sizeof want, "magpie.yaml:1:21: listen[1]: \"[::1]:80\" %s", overlap);
    expect_errors("listen: [\"[::]:80\", \"[::1]:80\"]\n", want);
    /* what Linux does bind side by side stays allowed */
    char *errs;
    struct config *cfg = load_yaml("listen: [\"[::1]:80\", \"127.0.0.1:80\", \"127.0.0.2:80\", "
                                   "\"[::]:81\", \"0.0.0.0:82\"]\n",
                                   &errs);
    assert_string_equal(errs, "");
    assert_non_null(cfg);
    assert_int_equal(cfg->nlisten, 5);
    free(errs);
    config_unref(&cfg);
}

static void test_err_log_settings(void **state)
{
    (void)state;
    expect_errors("log_level: verbose\n",
                  "magpie.yaml:1:12: log_level: \"verbose\" is not a log level (use error, warn, "
                  "info or debug)\n");
    expect_errors("error_log: off\naccess_log: \"\"\n",
                  "magpie.yaml:1:12: error_log: cannot be \"off\" (use a path or \"-\")\n"
                  "magpie.yaml:2:13: access_log: expected a path, got \"\"\n");
}

static void test_err_proxy_name(void **state)
{
    (void)state;
    expect_errors("proxy_name: \"my proxy\"\n",
                  "magpie.yaml:1:13: proxy_name: \"my proxy\" is not a valid name (use letters, "
                  "digits, '-', '.' or '_')\n");
}

static void test_err_routes(void **state)
{
    (void)state;
    expect_errors("routes:\n"
                  "  - { host: a.local, origin: \"ftp://127.0.0.1\" }\n"
                  "  - { host: b.local }\n"
                  "  - { origin: \"http://x\" }\n"
                  "  - { host: c.local, origin: \"http://x/path\" }\n"
                  "  - { host: d.local, origin: \"https://x:0\" }\n"
                  "  - { host: \"bad host\", origin: \"http://[::1\" }\n",
                  "magpie.yaml:2:30: routes[0].origin: \"ftp://127.0.0.1\" must start with "
                  "http:// or https://\n"
                  "magpie.yaml:3:5: routes[1]: missing \"origin\"\n"
                  "magpie.yaml:4:5: routes[2]: missing \"host\"\n"
                  "magpie.yaml:5:30: routes[3].origin: \"http://x/path\" is not an origin (use "
                  "http[s]://host[:port])\n"
                  "magpie.yaml:6:30: routes[4].origin: \"https://x:0\" has a bad port (use "
                  "1..65535)\n"
                  "magpie.yaml:7:13: routes[5].host: \"bad host\" is not a host name\n"
                  "magpie.yaml:7:33: routes[5].origin: \"http://[::1\" is not an origin (use "
                  "http[s]://host[:port])\n");
    expect_errors("routes:\n"
                  "  - { host: api.local, origin: \"http://127.0.0.1:8080\" }\n"
                  "  - { host: other.local, origin: \"http://127.0.0.1:8081\" }\n"
                  "  - { host: API.local, origin: \"http://127.0.0.1:8082\" }\n",
                  "magpie.yaml:4:13: routes[2].host: duplicate host \"api.local\" (see "
                  "routes[0])\n");
    expect_errors("routes: {host: a, origin: \"http://b\"}\n",
                  "magpie.yaml:1:9: routes: expected a list, got a mapping\n");
    expect_errors("routes: [a.local]\n",
                  "magpie.yaml:1:10: routes[0]: expected a mapping, got \"a.local\"\n");
}

static void test_err_redirects(void **state)
{
    (void)state;
    expect_errors(
        "redirects:\n"
        "  - { match: \"(\", to: \"https://n/$1\" }\n"
        "  - { match: \"a{2,1}\", to: \"https://n/\" }\n"
        "  - { match: \"^x\", to: \"https://n/\", status: 300 }\n"
        "  - { match: \"^x\", to: \"https://n/\", status: 304 }\n"
        "  - { match: \"^x\", to: \"https://n/\", status: permanent }\n"
        "  - { to: \"https://n/\" }\n"
        "  - { match: \"^x\" }\n"
        "  - { match: \"^x\", to: \"\" }\n"
        "  - { match: \"^x\", to: \"https://n/\\r\\nSet-Cookie: a=b\" }\n"
        "  - { match: \"^x\", to: \"https://n/\\ta\" }\n"
        "  - { match: \"^x\", to: \"https://n/\\x7f\" }\n"
        "  - { match: \"^x\", to: \"https://n/\\0\" }\n"
        "  - { match: \"^x\", to: \"https://n/\", stauts: 302 }\n"
        "  - { match: \"^x\", to: \"https://n/\", code: 302 }\n"
        "  - { match: [a], to: {a: b}, status: }\n"
        "  - \"^x\"\n"
        "  - { match: \"^x\", to: \"https://n/\", status: 302, status: 303 }\n",
        "magpie.yaml:2:14: redirects[0].match: \"(\" is not a regular expression (at offset 1: "
        "missing closing parenthesis)\n"
        "magpie.yaml:3:14: redirects[1].match: \"a{2,1}\" is not a regular expression (at "
        "offset 5: numbers out of order in {} quantifier)\n"
        "magpie.yaml:4:46: redirects[2].status: \"300\" is not a redirect status (use 301, 302, "
        "303, 307 or 308)\n"
        "magpie.yaml:5:46: redirects[3].status: \"304\" is not a redirect status (use 301, 302, "
        "303, 307 or 308)\n"
        "magpie.yaml:6:46: redirects[4].status: \"permanent\" is not a redirect status (use "
        "301, 302, 303, 307 or 308)\n"
        "magpie.yaml:7:5: redirects[5]: missing \"match\"\n"
        "magpie.yaml:8:5: redirects[6]: missing \"to\"\n"
        "magpie.yaml:9:24: redirects[7].to: expected a URL template, got \"\"\n"
        "magpie.yaml:10:24: redirects[8].to: must not contain control characters (CR, LF, "
        "tab...)\n"
        "magpie.yaml:11:24: redirects[9].to: must not contain control characters (CR, LF, "
        "tab...)\n"
        "magpie.yaml:12:24: redirects[10].to: must not contain control characters (CR, LF, "
        "tab...)\n"
        "magpie.yaml:13:24: redirects[11].to: contains a NUL byte\n"
        "magpie.yaml:14:38: unknown key \"redirects[12].stauts\" (did you mean "
        "\"redirects[12].status\"?)\n"
        "magpie.yaml:15:38: unknown key \"redirects[13].code\"\n"
        "magpie.yaml:16:14: redirects[14].match: expected a regular expression, got a list\n"
        "magpie.yaml:16:23: redirects[14].to: expected a URL template, got a mapping\n"
        "magpie.yaml:16:39: redirects[14].status: expected a redirect status, got nothing\n"
        "magpie.yaml:17:5: redirects[15]: expected a mapping, got \"^x\"\n"
        "magpie.yaml:18:51: duplicate key \"redirects[16].status\" (first at line 18)\n");
    expect_errors("redirects: {match: x, to: y}\n",
                  "magpie.yaml:1:12: redirects: expected a list, got a mapping\n");
    expect_errors("redirects: \"^x\"\n",
                  "magpie.yaml:1:12: redirects: expected a list, got \"^x\"\n");
    expect_errors("redirect: []\n",
                  "magpie.yaml:1:1: unknown key \"redirect\" (did you mean \"redirects\"?)\n");
}

static void test_err_duplicate_key(void **state)
{
    (void)state;
    expect_errors("log_level: info\n"
                  "limits:\n"
                  "  max_connections: 10\n"
                  "  max_connections: 20\n"
                  "log_level: warn\n",
                  "magpie.yaml:4:3: duplicate key \"limits.max_connections\" (first at line 3)\n"
                  "magpie.yaml:5:1: duplicate key \"log_level\" (first at line 1)\n");
}

static void test_err_syntax(void **state)
{
    (void)state;
    expect_errors("limits:\n  max_connections: 10\n bad: [\n",
                  "magpie.yaml:3:2: syntax error: did not find expected key (while parsing a "
                  "block mapping)\n");
    expect_errors("listen: [127.0.0.1:1\n",
                  "magpie.yaml:2:1: syntax error: did not find expected ',' or ']' (while "
                  "parsing a flow sequence)\n");
    expect_errors("a: *nope\n", "magpie.yaml:1:4: syntax error: found undefined alias\n");
    /* libyaml cannot take an unquoted "::1" in a flow list; we say so */
    expect_errors("acl: {allow: [127.0.0.0/8, ::1/128]}\n",
                  "magpie.yaml:1:28: syntax error: did not find expected node content (while "
                  "parsing a flow node); quote addresses like \"::1\" and \"[::1]:3128\"\n");
    expect_errors("listen:\n  - [::1]:3128\n",
                  "magpie.yaml:2:6: syntax error: did not find expected node content (while "
                  "parsing a flow node); quote addresses like \"::1\" and \"[::1]:3128\"\n");
    expect_errors("log_level: info\nerror_log: \xff\n",
                  "magpie.yaml:2:12: syntax error: invalid leading UTF-8 octet\n");
    expect_errors("log_level: info\n---\nlog_level: debug\n",
                  "magpie.yaml:3:1: only one YAML document is allowed\n");
}

static void test_err_many(void **state)
{
    (void)state;
    expect_errors("listen: [1.2.3.4]\n"
                  "acl: {allow: [10.0.0.0/33]}\n"
                  "log_levl: info\n"
                  "limits:\n"
                  "  max_connections: 0\n"
                  "  max_header_bytes: 64XB\n"
                  "  client_idle_timeout: soon\n"
                  "dns: {servers: [1.2.3]}\n"
                  "routes: [{host: x}]\n",
                  "magpie.yaml:1:10: listen[0]: \"1.2.3.4\" is not an address:port\n"
                  "magpie.yaml:2:15: acl.allow[0]: \"10.0.0.0/33\" is not a CIDR\n"
                  "magpie.yaml:3:1: unknown key \"log_levl\" (did you mean \"log_level\"?)\n"
                  "magpie.yaml:5:20: limits.max_connections: 0 is out of range (1..1000000)\n"
                  "magpie.yaml:6:21: limits.max_header_bytes: \"64XB\" is not a size (use B, "
                  "KiB, MiB, GiB or TiB)\n"
                  "magpie.yaml:7:24: limits.client_idle_timeout: \"soon\" is not a duration (use "
                  "ms, s, m, h or d)\n"
                  "magpie.yaml:8:17: dns.servers[0]: \"1.2.3\" is not an IP address or "
                  "address:port\n"
                  "magpie.yaml:9:10: routes[0]: missing \"origin\"\n");
}

static void test_err_uri_vs_header(void **state)
{
    (void)state;
    expect_errors("limits:\n  max_header_bytes: 16KiB\n  max_uri_bytes: 32KiB\n",
                  "magpie.yaml:3:18: limits.max_uri_bytes (32KiB) must not exceed "
                  "limits.max_header_bytes (16KiB)\n");
    /* the default max_uri_bytes (8KiB) is over a smaller max_header_bytes */
    expect_errors("limits:\n  max_header_bytes: 4KiB\n",
                  "magpie.yaml:2:21: limits.max_uri_bytes (8KiB) must not exceed "
                  "limits.max_header_bytes (4KiB)\n");
}

/* An unset max_idle_per_origin follows max_per_origin; a written one stays. */
static void test_pool_idle_follows_max(void **state)
{
    struct config *cfg = load_ok("upstream:\n  pool:\n    max_per_origin: 4\n");

    (void)state;
    assert_int_equal(cfg->upstream.pool.max_per_origin, 4);
    assert_int_equal(cfg->upstream.pool.max_idle_per_origin, 4);
    config_unref(&cfg);
    cfg = load_ok("upstream:\n  pool:\n    max_per_origin: 1000\n");
    assert_int_equal(cfg->upstream.pool.max_idle_per_origin, 1000);
    config_unref(&cfg);
    cfg = load_ok("upstream:\n  pool:\n    max_idle_per_origin: 2\n    max_per_origin: 4\n");
    assert_int_equal(cfg->upstream.pool.max_idle_per_origin, 2);
    config_unref(&cfg);
    cfg = load_ok("upstream:\n  pool:\n    idle_timeout: 5s\n");
    assert_int_equal(cfg->upstream.pool.max_per_origin, CFG_DEFAULT_POOL_MAX_PER_ORIGIN);
    assert_int_equal(cfg->upstream.pool.max_idle_per_origin, CFG_DEFAULT_POOL_MAX_PER_ORIGIN);
    config_unref(&cfg);
    cfg = config_default();
    assert_int_equal(cfg->upstream.pool.max_idle_per_origin, cfg->upstream.pool.max_per_origin);
    config_unref(&cfg);
}

static void test_err_pool(void **state)
{
    (void)state;
    expect_errors("upstream:\n"
                  "  pool:\n"
                  "    max_per_origin: 10\n"
                  "    max_idle_per_origin: 20\n",
                  "magpie.yaml:4:26: upstream.pool.max_idle_per_origin (20) must not exceed "
                  "upstream.pool.max_per_origin (10)\n");
    expect_errors("upstream:\n"
                  "  pool:\n"
                  "    max_per_orign: 10\n"
                  "    max_per_origin: 0\n"
                  "    idle_timeout: 25h\n"
                  "    queue_timeout: 0s\n"
                  "    size: 3\n",
                  "magpie.yaml:3:5: unknown key \"upstream.pool.max_per_orign\" (did you mean "
                  "\"upstream.pool.max_per_origin\"?)\n"
                  "magpie.yaml:4:21: upstream.pool.max_per_origin: 0 is out of range "
                  "(1..100000)\n"
                  "magpie.yaml:5:19: upstream.pool.idle_timeout: 25h is out of range (1ms..24h)\n"
                  "magpie.yaml:6:20: upstream.pool.queue_timeout: 0s is out of range (1ms..1h)\n"
                  "magpie.yaml:7:5: unknown key \"upstream.pool.size\"\n");
    expect_errors("upstream: {pool: [1]}\n",
                  "magpie.yaml:1:18: upstream.pool: expected a mapping, got a list\n");
}

static void test_err_listen_map(void **state)
{
    (void)state;
    expect_errors("listen:\n"
                  "  - tls: {cert: a.crt, key: a.key}\n"
                  "  - address: 127.0.0.1:3129\n"
                  "    tls:\n"
                  "      cert: b.crt\n"
                  "  - { address: 127.0.0.1:3130, tls: }\n"
                  "  - { address: 127.0.0.1:3131, tls: [a] }\n"
                  "  - { address: 127.0.0.1:3132, tls: {cert: c, key: d, ca: e}, port: 1 }\n",
                  "magpie.yaml:2:5: listen[0]: missing \"address\"\n"
                  "magpie.yaml:5:7: listen[1].tls: missing \"key\"\n"
                  "magpie.yaml:6:37: listen[2].tls: missing \"cert\"\n"
                  "magpie.yaml:6:37: listen[2].tls: missing \"key\"\n"
                  "magpie.yaml:7:37: listen[3].tls: expected a mapping, got a list\n"
                  "magpie.yaml:8:55: unknown key \"listen[4].tls.ca\"\n"
                  "magpie.yaml:8:63: unknown key \"listen[4].port\"\n");
    /* duplicates are found across both forms */
    expect_errors("listen:\n"
                  "  - 127.0.0.1:3128\n"
                  "  - { address: 127.0.0.1:3128, tls: {cert: a, key: b} }\n"
                  "  - { address: 127.0.0.1:3129, tls: {cert: a, key: b} }\n"
                  "  - 127.0.0.1:3129\n"
                  "  - { address: 1.2.3.4 }\n"
                  "  - { address: [1] }\n",
                  "magpie.yaml:3:16: listen[1].address: \"127.0.0.1:3128\" is listed twice\n"
                  "magpie.yaml:5:5: listen[3]: \"127.0.0.1:3129\" is listed twice\n"
                  "magpie.yaml:6:16: listen[4].address: \"1.2.3.4\" is not an address:port\n"
                  "magpie.yaml:7:16: listen[5].address: expected an address:port, got a list\n");
}

static void test_err_route_tls(void **state)
{
    (void)state;
    expect_errors("routes:\n"
                  "  - host: a.local\n"
                  "    origin: \"http://127.0.0.1:8080\"\n"
                  "    tls: {verify: false}\n",
                  "magpie.yaml:4:10: routes[0].tls: only applies to https:// origins\n");
    expect_errors("routes:\n"
                  "  - host: a.local\n"
                  "    origin: \"https://a.example\"\n"
                  "    tls:\n"
                  "      verfy: false\n"
                  "      ca_file: x\n"
                  "  - { host: b.local, origin: \"https://b.example\", tls: {verify: maybe} }\n"
                  "  - { host: c.local, origin: \"https://c.example\", tls: false }\n",
                  "magpie.yaml:5:7: unknown key \"routes[0].tls.verfy\" (did you mean "
                  "\"routes[0].tls.verify\"?)\n"
                  "magpie.yaml:6:7: unknown key \"routes[0].tls.ca_file\"\n"
                  "magpie.yaml:7:65: routes[1].tls.verify: \"maybe\" is not a boolean (use true "
                  "or false)\n"
                  "magpie.yaml:8:56: routes[2].tls: expected a mapping, got \"false\"\n");
}

static void test_err_cache(void **state)
{
    (void)state;
    expect_errors("cache:\n"
                  "  max_sise: 1GiB\n"
                  "  dir: \"\"\n"
                  "  max_size: 1TB\n"
                  "  memory_size: 65GiB\n"
                  "  max_object_size: 512B\n"
                  "  enabled: maybe\n",
                  "magpie.yaml:2:3: unknown key \"cache.max_sise\" (did you mean "
                  "\"cache.max_size\"?)\n"
                  "magpie.yaml:3:8: cache.dir: expected a path, got \"\"\n"
                  "magpie.yaml:4:13: cache.max_size: \"1TB\" is not a size (use B, KiB, MiB, GiB "
                  "or TiB)\n"
                  "magpie.yaml:5:16: cache.memory_size: 65GiB is out of range (0B..64GiB)\n"
                  "magpie.yaml:6:20: cache.max_object_size: 512B is out of range (1KiB..16TiB)\n"
                  "magpie.yaml:7:12: cache.enabled: \"maybe\" is not a boolean (use true or "
                  "false)\n");
    expect_errors("cache: {max_size: 17TiB, dir: }\n",
                  "magpie.yaml:1:19: cache.max_size: 17TiB is out of range (1MiB..16TiB)\n"
                  "magpie.yaml:1:31: cache.dir: expected a path, got nothing\n");
    expect_errors("cache:\n  max_size: 1023KiB\n  memory_size: 99999999999TiB\n",
                  "magpie.yaml:2:13: cache.max_size: 1023KiB is out of range (1MiB..16TiB)\n"
                  "magpie.yaml:3:16: cache.memory_size: 99999999999TiB is out of range "
                  "(0B..64GiB)\n");
    /* docs/CACHE.md says so: 0 is no "unbounded" here */
    expect_errors("cache: {max_object_size: 0}\n",
                  "magpie.yaml:1:26: cache.max_object_size: 0 is out of range (1KiB..16TiB)\n");
    expect_errors("cache: [1]\nadmin: on\n",
                  "magpie.yaml:1:8: cache: expected a mapping, got a list\n"
                  "magpie.yaml:2:8: admin: expected a mapping, got \"on\"\n");
}

static void test_err_object_vs_cache_size(void **state)
{
    (void)state;
    expect_errors("cache:\n  max_size: 1GiB\n  max_object_size: 2GiB\n",
                  "magpie.yaml:3:20: cache.max_object_size (2GiB) must not exceed "
                  "cache.max_size (1GiB)\n");
    /* the default max_object_size (256MiB) is over a smaller max_size */
    expect_errors("cache:\n  max_size: 128MiB\n",
                  "magpie.yaml:2:13: cache.max_object_size (256MiB) must not exceed "
                  "cache.max_size (128MiB)\n");
}

static void test_err_admin(void **state)
{
    (void)state;
    expect_errors("admin:\n"
                  "  purge_allow:\n"
                  "    - 127.0.0.1/33\n"
                  "    - localhost\n"
                  "    - {net: 10.0.0.0/8}\n"
                  "  purge_alow: []\n",
                  "magpie.yaml:3:7: admin.purge_allow[0]: \"127.0.0.1/33\" is not a CIDR\n"
                  "magpie.yaml:4:7: admin.purge_allow[1]: \"localhost\" is not a CIDR\n"
                  "magpie.yaml:5:7: admin.purge_allow[2]: expected a CIDR, got a mapping\n"
                  "magpie.yaml:6:3: unknown key \"admin.purge_alow\" (did you mean "
                  "\"admin.purge_allow\"?)\n");
    expect_errors("admin: {purge_allow: \"::1/129\"}\n",
                  "magpie.yaml:1:22: admin.purge_allow: \"::1/129\" is not a CIDR\n");
}

/* ---- acl.rules ---- */

static const struct cfg_acl_rule *rule_for(const struct config *cfg, const char *ip,
                                           const char *host, uint16_t port, const char *method)
{
    struct sockaddr_storage ss = addr(ip);

    return config_acl_rule(cfg, (struct sockaddr *)&ss, host, port, method);
}

static void test_acl_rules(void **state)
{
    struct config *cfg = load_ok(
        "acl:\n"
        "  rules:\n"
        "    - { deny: [\"0.0.0.0/0\", \"::/0\"], dest_suffix: [.Internal.example, exact.host],\n"
        "        ports: [22, 25], methods: [CONNECT] }\n"
        "    - { allow: 127.0.0.2, methods: [GET, HEAD] }\n"
        "    - { deny: [127.0.0.0/8], dest_suffix: .example.org }\n"
        "    - { deny: \"::1/128\", ports: 8080 }\n");
    static const struct {
        const char *ip, *host;
        uint16_t port;
        const char *method;
        int want; /* the rule's index, or -1 for none */
    } rows[] = {
        {"127.0.0.1", "db.internal.example", 22, "CONNECT", 0},
        {"10.1.2.3", "INTERNAL.example", 25, "CONNECT", 0}, /* the domain itself, any case */
        {"::1", "exact.host", 22, "CONNECT", 0},
        {"127.0.0.1", "sub.exact.host", 22, "CONNECT", -1},    /* no dot: that name only */
        {"127.0.0.1", "xinternal.example", 22, "CONNECT", -1}, /* a label boundary */
        {"127.0.0.1", "db.internal.example", 443, "CONNECT", -1},
        {"127.0.0.1", "db.internal.example", 22, "GET", -1},
        {"127.0.0.1", "db.internal.example", 22, "connect", -1}, /* methods are case-sensitive */
        {"127.0.0.2", "www.example.org", 80, "GET", 1},          /* allowed before the deny */
        {"127.0.0.2", "www.example.org", 80, "POST", 2},
        {"127.0.0.1", "example.org", 80, "GET", 2},
        {"127.0.0.1", "example.com", 80, "GET", -1},
        {"::1", "example.com", 8080, "GET", 3},
        {"::ffff:127.0.0.1", "example.org", 80, "GET", 2}, /* IPv4-mapped, as acl.allow */
    };

    (void)state;
    assert_int_equal(cfg->nacl_rules, 4);
    assert_true(cfg->acl_rules[0].deny);
    assert_false(cfg->acl_rules[1].deny);
    assert_string_equal(cfg->acl_rules[0].dest_suffix[0], ".internal.example");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct cfg_acl_rule *r =
            rule_for(cfg, rows[i].ip, rows[i].host, rows[i].port, rows[i].method);
        int got = r ? (int)(r - cfg->acl_rules) : -1;
        if (got != rows[i].want)
            fail_msg("row %zu (%s %s:%u %s): rule %d, want %d", i, rows[i].ip, rows[i].host,
                     rows[i].port, rows[i].method, got, rows[i].want);
    }
    config_unref(&cfg);
    cfg = load_ok("acl: { rules: [] }\n");
    assert_int_equal(cfg->nacl_rules, 0);
    assert_null(rule_for(cfg, "127.0.0.1", "x", 80, "GET"));
    config_unref(&cfg);
}

static void test_err_acl_rules(void **state)
{
    (void)state;
    expect_errors(
        "acl:\n"
        "  rules:\n"
        "    - { dest_suffix: [a.b] }\n"
        "    - { allow: [10.0.0.0/8], deny: [10.0.0.0/8] }\n"
        "    - { deny: [10.0.0.0/33], dest_suffix: [\"a/b\", .a.b, .A.b], ports: [0, 22, 22],\n"
        "        methods: [GET, \"G T\", GET], match: x }\n"
        "    - deny\n",
        "magpie.yaml:3:7: acl.rules[0]: missing \"allow\" or \"deny\" (the client networks it "
        "applies to)\n"
        "magpie.yaml:4:36: acl.rules[1]: give allow or deny, not both\n"
        "magpie.yaml:5:16: acl.rules[2].deny[0]: \"10.0.0.0/33\" is not a CIDR\n"
        "magpie.yaml:5:44: acl.rules[2].dest_suffix[0]: \"a/b\" is not a host name or .domain "
        "suffix\n"
        "magpie.yaml:5:57: acl.rules[2].dest_suffix[2]: \".A.b\" is listed twice\n"
        "magpie.yaml:5:72: acl.rules[2].ports[0]: 0 is out of range (1..65535)\n"
        "magpie.yaml:5:79: acl.rules[2].ports[2]: \"22\" is listed twice\n"
        "magpie.yaml:6:24: acl.rules[2].methods[1]: \"G T\" is not a method name (a token, such "
        "as GET or CONNECT)\n"
        "magpie.yaml:6:31: acl.rules[2].methods[2]: \"GET\" is listed twice\n"
        "magpie.yaml:6:37: unknown key \"acl.rules[2].match\"\n"
        "magpie.yaml:7:7: acl.rules[3]: expected a mapping, got \"deny\"\n");
}

/* ---- auth ---- */

#define HTPASSWD_BCRYPT "$2y$05$HrMCabSVEdBHUkT4W4ngB.CM8qQjC7jJSOQlVdLjcRUgf9jMcl4wa"

/* An htpasswd file with text at a fixed path (the messages name it). */
static const char *htpasswd_file(const char *text)
{
    static const char path[] = "/tmp/magpie-test-htpasswd";
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    fclose(f);
    return path;
}

static void test_auth_keys(void **state)
{
    struct config *cfg;

    (void)state;
    cfg = load_ok("log_level: info\n");
    assert_null(cfg->auth); /* off unless set */
    config_unref(&cfg);

    htpasswd_file("# users\nalice:" HTPASSWD_BCRYPT "\n\nbob:$6$salt$abc./DEF\n");
    cfg = load_ok("auth:\n  basic: { htpasswd: /tmp/magpie-test-htpasswd }\n");
    assert_non_null(cfg->auth);
    assert_string_equal(cfg->auth->realm, "magpie");
    assert_string_equal(cfg->auth->htpasswd, "/tmp/magpie-test-htpasswd");
    assert_int_equal(cfg->auth->nusers, 2);
    assert_string_equal(cfg->auth->users[1].name, "bob");
    assert_string_equal(cfg->auth->challenge,
                        "Proxy-Authenticate: Basic realm=\"magpie\", charset=\"UTF-8\"\r\n");
    config_unref(&cfg);

    cfg = load_ok("auth: {basic: {realm: \"Corp proxy\", htpasswd: /tmp/magpie-test-htpasswd}}\n");
    assert_string_equal(cfg->auth->realm, "Corp proxy");
    config_unref(&cfg);
    /* an empty auth block keeps authentication off */
    cfg = load_ok("auth:\n");
    assert_null(cfg->auth);
    config_unref(&cfg);
    unlink("/tmp/magpie-test-htpasswd");
}

static void test_err_auth(void **state)
{
    (void)state;
    expect_errors("auth:\n  basic: { realm: x }\n",
                  "magpie.yaml:2:10: auth.basic: missing \"htpasswd\"\n");
    expect_errors("auth: {basic: {htpasswd: /tmp/x, realm: 'a\"b'}}\n",
                  "magpie.yaml:1:41: auth.basic.realm: \"a\"b\" is not a valid realm (1..128 "
                  "printable ASCII characters, no '\"' or '\\')\n"
                  "magpie.yaml:1:26: auth.basic.htpasswd: /tmp/x: cannot read: No such file or "
                  "directory\n");
    expect_errors("auth: {basic: {htpasswd: /tmp/x}, basics: 1}\n",
                  "magpie.yaml:1:26: auth.basic.htpasswd: /tmp/x: cannot read: No such file or "
                  "directory\n"
                  "magpie.yaml:1:35: unknown key \"auth.basics\" (did you mean \"auth.basic\"?)\n");
    expect_errors("auth:\n  basic:\n", "magpie.yaml:2:9: auth.basic: missing \"htpasswd\"\n");
    expect_errors("auth: {basic: [x]}\n",
                  "magpie.yaml:1:15: auth.basic: expected a mapping, got a list\n");
    expect_errors("auth: {basic: {htpasswd: /tmp/x, user: a}}\n",
                  "magpie.yaml:1:34: unknown key \"auth.basic.user\"\n"
                  "magpie.yaml:1:26: auth.basic.htpasswd: /tmp/x: cannot read: No such file or "
                  "directory\n");
    /* each refused line names the file, the line and what to use instead */
    htpasswd_file("alice:" HTPASSWD_BCRYPT "\n"
                  "dave:$apr1$vwoMGMeQ$MxlvKK7z4ZBC4AIT.NtxS.\n"
                  "# comment\n"
                  "eve:{SHA}DQOu4namYhecwmcVgM50lrKXyAs=\n"
                  "frank:plaintext\n");
    expect_errors("auth:\n  basic:\n    htpasswd: /tmp/magpie-test-htpasswd\n",
                  "magpie.yaml:3:15: auth.basic.htpasswd: /tmp/magpie-test-htpasswd:2: user "
                  "\"dave\": the password is an Apache MD5 ($apr1$) hash, which magpie does not "
                  "accept; use htpasswd -B (bcrypt) or -5 (SHA-512)\n"
                  "magpie.yaml:3:15: auth.basic.htpasswd: /tmp/magpie-test-htpasswd:4: user "
                  "\"eve\": the password is an unsalted SHA-1 ({SHA}) hash, which magpie does not "
                  "accept; use htpasswd -B (bcrypt) or -5 (SHA-512)\n"
                  "magpie.yaml:3:15: auth.basic.htpasswd: /tmp/magpie-test-htpasswd:5: user "
                  "\"frank\": the password is not a hash (plain text?), which magpie does not "
                  "accept; use htpasswd -B (bcrypt) or -5 (SHA-512)\n");
    htpasswd_file("# nobody\n");
    expect_errors("auth: {basic: {htpasswd: /tmp/magpie-test-htpasswd}}\n",
                  "magpie.yaml:1:26: auth.basic.htpasswd: /tmp/magpie-test-htpasswd: lists no "
                  "users (add one with htpasswd -B FILE USER)\n");
    unlink("/tmp/magpie-test-htpasswd");
}

static void test_err_route_cache(void **state)
{
    (void)state;
    expect_errors(
        "routes:\n"
        "  - host: a.local\n"
        "    origin: \"http://127.0.0.1:8080\"\n"
        "    cache:\n"
        "      default_ttl: 1w\n"
        "      ignore_query_params: [utm_source, \"\", fbclid, utm_source]\n"
        "      enable: false\n"
        "  - { host: b.local, origin: \"http://b.example\", cache: {default_ttl: 8761h} }\n"
        "  - { host: c.local, origin: \"http://c.example\", cache: off }\n"
        "  - host: d.local\n"
        "    origin: \"http://d.example\"\n"
        "    cache: {ignore_query_params: {a: 1}, enabled: 2, default_ttl: }\n"
        "  - host: e.local\n"
        "    origin: \"http://e.example\"\n"
        "    cache: {ignore_query_params: [a, ~, [b]]}\n",
        "magpie.yaml:5:20: routes[0].cache.default_ttl: \"1w\" is not a duration (use "
        "ms, s, m, h or d)\n"
        "magpie.yaml:6:41: routes[0].cache.ignore_query_params[1]: expected a parameter "
        "name, got \"\"\n"
        "magpie.yaml:6:53: routes[0].cache.ignore_query_params[3]: \"utm_source\" is "
        "listed twice\n"
        "magpie.yaml:7:7: unknown key \"routes[0].cache.enable\" (did you mean "
        "\"routes[0].cache.enabled\"?)\n"
        "magpie.yaml:8:71: routes[1].cache.default_ttl: 8761h is out of range "
        "(0s..365d)\n"
        "magpie.yaml:9:57: routes[2].cache: expected a mapping, got \"off\"\n"
        "magpie.yaml:12:34: routes[3].cache.ignore_query_params: expected a list, got "
        "a mapping\n"
        "magpie.yaml:12:51: routes[3].cache.enabled: \"2\" is not a boolean (use true "
        "or false)\n"
        "magpie.yaml:12:67: routes[3].cache.default_ttl: expected a duration, got "
        "nothing\n"
        "magpie.yaml:15:38: routes[4].cache.ignore_query_params[1]: expected a "
        "parameter name, got nothing\n"
        "magpie.yaml:15:41: routes[4].cache.ignore_query_params[2]: expected a "
        "parameter name, got a list\n");
}

static void test_err_compression(void **state)
{
    (void)state;
    expect_errors("compression:\n"
                  "  enabled: sometimes\n"
                  "  encodings: [gzip, deflate, gzip, x-gzip, identity, [br], \"\"]\n"
                  "  min_size: 2GiB\n"
                  "  decompres: true\n"
                  "  levels: {gzip: 0, br: 12, zstd: 20, deflate: 6, gzp: 1}\n"
                  "  decompress: maybe\n",
                  "magpie.yaml:2:12: compression.enabled: \"sometimes\" is not a boolean (use "
                  "true or false)\n"
                  "magpie.yaml:3:21: compression.encodings[1]: \"deflate\" is not an encoding "
                  "magpie compresses with (use zstd, br or gzip)\n"
                  "magpie.yaml:3:30: compression.encodings[2]: \"gzip\" is listed twice\n"
                  "magpie.yaml:3:36: compression.encodings[3]: \"x-gzip\" is not an encoding "
                  "magpie compresses with (use zstd, br or gzip)\n"
                  "magpie.yaml:3:44: compression.encodings[4]: \"identity\" is not an encoding "
                  "magpie compresses with (use zstd, br or gzip)\n"
                  "magpie.yaml:3:54: compression.encodings[5]: expected an encoding, got a list\n"
                  "magpie.yaml:3:60: compression.encodings[6]: expected an encoding, got \"\"\n"
                  "magpie.yaml:4:13: compression.min_size: 2GiB is out of range (0B..1GiB)\n"
                  "magpie.yaml:5:3: unknown key \"compression.decompres\" (did you mean "
                  "\"compression.decompress\"?)\n"
                  "magpie.yaml:6:18: compression.levels.gzip: 0 is out of range (1..9)\n"
                  "magpie.yaml:6:25: compression.levels.br: 12 is out of range (0..11)\n"
                  "magpie.yaml:6:35: compression.levels.zstd: 20 is out of range (1..19)\n"
                  "magpie.yaml:6:39: unknown key \"compression.levels.deflate\"\n"
                  "magpie.yaml:6:51: unknown key \"compression.levels.gzp\" (did you mean "
                  "\"compression.levels.gzip\"?)\n"
                  "magpie.yaml:7:15: compression.decompress: \"maybe\" is not a boolean (use "
                  "true or false)\n");
    expect_errors("compression:\n"
                  "  types:\n"
                  "    - text/html\n"
                  "    - \"text/html; charset=utf-8\"\n"
                  "    - text\n"
                  "    - \"*/*\"\n"
                  "    - \"text/**\"\n"
                  "    - TEXT/HTML\n"
                  "    - \"application/*+\"\n"
                  "    - \"application/x*\"\n"
                  "    - \"/json\"\n"
                  "    - ~\n"
                  "    - {a: b}\n",
                  "magpie.yaml:4:7: compression.types[1]: \"text/html; charset=utf-8\" is not a "
                  "media type pattern (use type/subtype, type/* or type/*+suffix)\n"
                  "magpie.yaml:5:7: compression.types[2]: \"text\" is not a media type pattern "
                  "(use type/subtype, type/* or type/*+suffix)\n"
                  "magpie.yaml:6:7: compression.types[3]: \"*/*\" is not a media type pattern "
                  "(use type/subtype, type/* or type/*+suffix)\n"
                  "magpie.yaml:7:7: compression.types[4]: \"text/**\" is not a media type "
                  "pattern (use type/subtype, type/* or type/*+suffix)\n"
                  "magpie.yaml:8:7: compression.types[5]: \"TEXT/HTML\" is listed twice\n"
                  "magpie.yaml:9:7: compression.types[6]: \"application/*+\" is not a media "
                  "type pattern (use type/subtype, type/* or type/*+suffix)\n"
                  "magpie.yaml:10:7: compression.types[7]: \"application/x*\" is not a media "
                  "type pattern (use type/subtype, type/* or type/*+suffix)\n"
                  "magpie.yaml:11:7: compression.types[8]: \"/json\" is not a media type "
                  "pattern (use type/subtype, type/* or type/*+suffix)\n"
                  "magpie.yaml:12:7: compression.types[9]: expected a media type pattern, got "
                  "nothing\n"
                  "magpie.yaml:13:7: compression.types[10]: expected a media type pattern, got "
                  "a mapping\n");
    expect_errors("compression: {encodings: [], types: []}\n",
                  "magpie.yaml:1:26: compression.encodings: must not be empty\n"
                  "magpie.yaml:1:37: compression.types: must not be empty\n");
    expect_errors("compression: {encodings: {gzip: 1}, types: {a: b}, levels: [6], min_size: "
                  "1KB}\n",
                  "magpie.yaml:1:26: compression.encodings: expected a list, got a mapping\n"
                  "magpie.yaml:1:44: compression.types: expected a list, got a mapping\n"
                  "magpie.yaml:1:60: compression.levels: expected a mapping, got a list\n"
                  "magpie.yaml:1:75: compression.min_size: \"1KB\" is not a size (use B, KiB, "
                  "MiB, GiB or TiB)\n");
    expect_errors("compression: {levels: {gzip: six, br: -1, zstd: }}\n",
                  "magpie.yaml:1:30: compression.levels.gzip: \"six\" is not a number\n"
                  "magpie.yaml:1:39: compression.levels.br: \"-1\" is not a number\n"
                  "magpie.yaml:1:49: compression.levels.zstd: expected a number, got nothing\n");
    expect_errors("compression: on\ncompresion: {enabled: true}\n",
                  "magpie.yaml:1:14: compression: expected a mapping, got \"on\"\n"
                  "magpie.yaml:2:1: unknown key \"compresion\" (did you mean \"compression\"?)\n");
    expect_errors("compression:\n  enabled: true\n  enabled: false\n",
                  "magpie.yaml:3:3: duplicate key \"compression.enabled\" (first at line 2)\n");
}

static void test_err_route_compression(void **state)
{
    (void)state;
    expect_errors("routes:\n"
                  "  - host: a.local\n"
                  "    origin: \"http://127.0.0.1:8080\"\n"
                  "    compression:\n"
                  "      enable: true\n"
                  "      levels: {gzip: 9}\n"
                  "  - { host: b.local, origin: \"http://b\", compression: {enabled: maybe} }\n"
                  "  - { host: c.local, origin: \"http://c\", compression: true }\n"
                  "  - { host: d.local, origin: \"http://d\", compression: {enabled: } }\n",
                  "magpie.yaml:5:7: unknown key \"routes[0].compression.enable\" (did you mean "
                  "\"routes[0].compression.enabled\"?)\n"
                  "magpie.yaml:6:7: unknown key \"routes[0].compression.levels\"\n"
                  "magpie.yaml:7:65: routes[1].compression.enabled: \"maybe\" is not a boolean "
                  "(use true or false)\n"
                  "magpie.yaml:8:55: routes[2].compression: expected a mapping, got \"true\"\n"
                  "magpie.yaml:9:65: routes[3].compression.enabled: expected a boolean, got "
                  "nothing\n");
}

static void test_err_open(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *ef = open_memstream(&buf, &len);

    (void)state;
    assert_null(config_load("/nonexistent/magpie.yaml", ef));
    assert_null(config_load("/tmp", ef));
    fclose(ef);
    assert_string_equal(buf, "/nonexistent/magpie.yaml: cannot open: No such file or directory\n"
                             "/tmp: cannot open: Is a directory\n");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_cache_rules),
        cmocka_unit_test(test_err_cache_rules),
        cmocka_unit_test(test_err_header_rules),
        cmocka_unit_test(test_err_redirects),
        cmocka_unit_test(test_defaults_and_refs),
        cmocka_unit_test(test_empty_files),
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_listen_forms),
        cmocka_unit_test(test_upstream_keys),
        cmocka_unit_test(test_listen_tls),
        cmocka_unit_test(test_route_tls),
        cmocka_unit_test(test_cache_keys),
        cmocka_unit_test(test_route_cache),
        cmocka_unit_test(test_cache_poison_keys),
        cmocka_unit_test(test_err_cache_poison_keys),
        cmocka_unit_test(test_access_log_format),
        cmocka_unit_test(test_err_access_log_format),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_compression_keys),
        cmocka_unit_test(test_route_compression),
        cmocka_unit_test(test_route_rewrite_location),
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_err_unknown_key_suggest),
        cmocka_unit_test(test_err_unknown_key_plain),
        cmocka_unit_test(test_err_wrong_type),
        cmocka_unit_test(test_err_listen),
        cmocka_unit_test(test_err_log_settings),
        cmocka_unit_test(test_err_proxy_name),
        cmocka_unit_test(test_err_routes),
        cmocka_unit_test(test_err_duplicate_key),
        cmocka_unit_test(test_err_syntax),
        cmocka_unit_test(test_err_many),
        cmocka_unit_test(test_err_uri_vs_header),
        cmocka_unit_test(test_pool_idle_follows_max),
        cmocka_unit_test(test_err_pool),
        cmocka_unit_test(test_err_listen_map),
        cmocka_unit_test(test_err_route_tls),
        cmocka_unit_test(test_err_cache),
        cmocka_unit_test(test_err_object_vs_cache_size),
        cmocka_unit_test(test_err_admin),
        cmocka_unit_test(test_err_route_cache),
        cmocka_unit_test(test_err_compression),
        cmocka_unit_test(test_err_route_compression),
        cmocka_unit_test(test_err_open),
        cmocka_unit_test(test_auth_keys),
        cmocka_unit_test(test_err_auth),
        cmocka_unit_test(test_acl_rules),
        cmocka_unit_test(test_err_acl_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
