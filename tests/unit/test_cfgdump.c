/*
 * test_cfgdump.c - magpie -T's printer: a configuration written as YAML and
 * loaded back is the same configuration, field by field (compared here
 * without the printer's help), and printing it again gives the same text.
 * Tried on the embedded defaults, on etc/magpie.yaml, on a file using
 * routes, redirects, cache rules with header rules and follow_redirects
 * and compression, and on strings and durations chosen to break quoting
 * and unit choice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "cfgdump.h"
#include "config.h"
#include "rows.h"

#include "cfgload.h"

/* ---- comparing two configurations, every field the file sets ---- */

#define SAME_NUM(what, x, y)                                                                       \
    do {                                                                                           \
        if ((x) != (y))                                                                            \
            row_fail("%s: %s differs", where, what);                                               \
    } while (0)

static void same_str(const char *where, const char *what, const char *x, const char *y)
{
    if ((x == NULL) != (y == NULL) || (x && strcmp(x, y)))
        row_fail("%s: %s differs: \"%s\" vs \"%s\"", where, what, x ? x : "(null)",
                 y ? y : "(null)");
}

static void same_strs(const char *where, const char *what, char *const *x, size_t nx,
                      char *const *y, size_t ny)
{
    SAME_NUM(what, nx, ny);
    for (size_t i = 0; i < nx && i < ny; i++)
        same_str(where, what, x[i], y[i]);
}

static void same_cidrs(const char *where, const char *what, const struct cfg_cidr *x, size_t nx,
                       const struct cfg_cidr *y, size_t ny)
{
    SAME_NUM(what, nx, ny);
    for (size_t i = 0; i < nx && i < ny; i++)
        if (x[i].family != y[i].family || x[i].prefix != y[i].prefix ||
            memcmp(x[i].addr, y[i].addr, sizeof x[i].addr))
            row_fail("%s: %s[%zu] differs", where, what, i);
}

static void same_edit(const char *where, const char *what, const struct cfg_hdr_edit *x,
                      const struct cfg_hdr_edit *y)
{
    SAME_NUM(what, x->nset, y->nset);
    for (size_t i = 0; i < x->nset && i < y->nset; i++) {
        same_str(where, what, x->set[i].name, y->set[i].name);
        same_str(where, what, x->set[i].value, y->set[i].value);
    }
    same_strs(where, what, x->remove, x->nremove, y->remove, y->nremove);
}

static void same_rule(const char *where, const struct cfg_cache_rule *x,
                      const struct cfg_cache_rule *y)
{
    same_str(where, "match", x->match, y->match);
    SAME_NUM("re", x->re == NULL, y->re == NULL);
    SAME_NUM("enabled", x->enabled, y->enabled);
    SAME_NUM("default_ttl", x->default_ttl, y->default_ttl);
    SAME_NUM("max_ttl", x->max_ttl, y->max_ttl);
    same_strs(where, "ignore_query_params", x->ignore_params, x->nignore_params, y->ignore_params,
              y->nignore_params);
    same_str(where, "targeted_field", x->targeted_field, y->targeted_field);
    SAME_NUM("follow_redirects.max", x->follow_max, y->follow_max);
    SAME_NUM("follow_redirects.scope", x->follow_scope, y->follow_scope);
    same_edit(where, "request_headers", &x->request_headers, &y->request_headers);
    same_edit(where, "response_headers", &x->response_headers, &y->response_headers);
}

static void same_route(const char *where, const struct cfg_route *x, const struct cfg_route *y)
{
    same_str(where, "host", x->host, y->host);
    same_str(where, "origin", x->origin, y->origin);
    SAME_NUM("origin_tls", x->origin_tls, y->origin_tls);
    same_str(where, "origin_host", x->origin_host, y->origin_host);
    SAME_NUM("origin_port", x->origin_port, y->origin_port);
    SAME_NUM("tls_verify", x->tls_verify, y->tls_verify);
    SAME_NUM("tls_verify_set", x->tls_verify_set, y->tls_verify_set);
    SAME_NUM("has_cache", x->has_cache, y->has_cache);
    same_rule(where, &x->cache, &y->cache);
    SAME_NUM("compression_enabled", x->compression_enabled, y->compression_enabled);
    SAME_NUM("rewrite_location", x->rewrite_location, y->rewrite_location);
    same_edit(where, "request_headers", &x->request_headers, &y->request_headers);
    same_edit(where, "response_headers", &x->response_headers, &y->response_headers);
}

static void same_listen(const char *where, const struct config *a, const struct config *b)
{
    SAME_NUM("nlisten", a->nlisten, b->nlisten);
    for (size_t i = 0; i < a->nlisten && i < b->nlisten; i++) {
        const struct cfg_listen *x = &a->listen[i], *y = &b->listen[i];
        if (x->addrlen != y->addrlen || memcmp(&x->addr, &y->addr, x->addrlen))
            row_fail("%s: listen[%zu] address differs", where, i);
        same_str(where, "listen text", x->text, y->text);
        same_str(where, "listen tls.cert", x->tls_cert, y->tls_cert);
        same_str(where, "listen tls.key", x->tls_key, y->tls_key);
    }
}

static void same_scalars(const char *where, const struct config *a, const struct config *b)
{
    same_str(where, "access_log", a->access_log, b->access_log);
    SAME_NUM("access_log_format", a->access_log_format, b->access_log_format);
    same_str(where, "error_log", a->error_log, b->error_log);
    SAME_NUM("log_level", a->log_level, b->log_level);
    same_str(where, "proxy_name", a->proxy_name, b->proxy_name);
    SAME_NUM("limits", memcmp(&a->limits, &b->limits, sizeof a->limits), 0);
    SAME_NUM("upstream.connect_timeout", a->upstream.connect_timeout, b->upstream.connect_timeout);
    SAME_NUM("upstream.read_timeout", a->upstream.read_timeout, b->upstream.read_timeout);
    SAME_NUM("upstream.retries", a->upstream.retries, b->upstream.retries);
    SAME_NUM("upstream.pool", memcmp(&a->upstream.pool, &b->upstream.pool, sizeof a->upstream.pool),
             0);
    SAME_NUM("upstream.tls.verify", a->upstream.tls.verify, b->upstream.tls.verify);
    same_str(where, "upstream.tls.ca_file", a->upstream.tls.ca_file, b->upstream.tls.ca_file);
    SAME_NUM("connect.allowed_ports", a->nconnect_allowed_ports, b->nconnect_allowed_ports);
    for (size_t i = 0; i < a->nconnect_allowed_ports && i < b->nconnect_allowed_ports; i++)
        SAME_NUM("connect.allowed_ports[i]", a->connect_allowed_ports[i],
                 b->connect_allowed_ports[i]);
    same_strs(where, "dns.servers", a->dns.servers, a->dns.nservers, b->dns.servers,
              b->dns.nservers);
    SAME_NUM("dns.max_ttl", a->dns.max_ttl, b->dns.max_ttl);
    SAME_NUM("dns.timeout", a->dns.timeout, b->dns.timeout);
}

static void same_cache(const char *where, const struct config *a, const struct config *b)
{
    SAME_NUM("cache.enabled", a->cache.enabled, b->cache.enabled);
    same_str(where, "cache.dir", a->cache.dir, b->cache.dir);
    SAME_NUM("cache.max_size", a->cache.max_size, b->cache.max_size);
    SAME_NUM("cache.max_object_size", a->cache.max_object_size, b->cache.max_object_size);
    SAME_NUM("cache.memory_size", a->cache.memory_size, b->cache.memory_size);
    SAME_NUM("cache.set_cookie", a->cache.set_cookie, b->cache.set_cookie);
    SAME_NUM("cache.stale_on_error", a->cache.stale_on_error, b->cache.stale_on_error);
    SAME_NUM("cache.rules", a->cache.nrules, b->cache.nrules);
    for (size_t i = 0; i < a->cache.nrules && i < b->cache.nrules; i++)
        same_rule(where, &a->cache.rules[i], &b->cache.rules[i]);
}

static void same_compression(const char *where, const struct config *a, const struct config *b)
{
    SAME_NUM("compression.enabled", a->compression.enabled, b->compression.enabled);
    SAME_NUM("compression.encodings", a->compression.nencodings, b->compression.nencodings);
    for (size_t i = 0; i < a->compression.nencodings && i < b->compression.nencodings; i++)
        SAME_NUM("compression.encodings[i]", a->compression.encodings[i],
                 b->compression.encodings[i]);
    same_strs(where, "compression.types", a->compression.types, a->compression.ntypes,
              b->compression.types, b->compression.ntypes);
    SAME_NUM("compression.min_size", a->compression.min_size, b->compression.min_size);
    SAME_NUM("compression.levels",
             memcmp(a->compression.level, b->compression.level, sizeof a->compression.level), 0);
    SAME_NUM("compression.decompress", a->compression.decompress, b->compression.decompress);
}

static void same_config(const char *where, const struct config *a, const struct config *b)
{
    same_listen(where, a, b);
    same_cidrs(where, "acl.allow", a->acl_allow, a->nacl_allow, b->acl_allow, b->nacl_allow);
    same_cidrs(where, "acl.deny_destinations", a->acl_deny_dest, a->nacl_deny_dest,
               b->acl_deny_dest, b->nacl_deny_dest);
    same_cidrs(where, "acl.allow_destinations", a->acl_allow_dest, a->nacl_allow_dest,
               b->acl_allow_dest, b->nacl_allow_dest);
    /* unset allows any destination, [] none */
    SAME_NUM("acl.allow_destinations set", a->acl_allow_dest == NULL, b->acl_allow_dest == NULL);
    same_cidrs(where, "admin.purge_allow", a->purge_allow, a->npurge_allow, b->purge_allow,
               b->npurge_allow);
    same_cidrs(where, "admin.allow", a->admin_allow, a->nadmin_allow, b->admin_allow,
               b->nadmin_allow);
    SAME_NUM("admin.listen", a->nadmin_listen, b->nadmin_listen);
    for (size_t i = 0; i < a->nadmin_listen && i < b->nadmin_listen; i++)
        same_str(where, "admin.listen", a->admin_listen[i].text, b->admin_listen[i].text);
    same_scalars(where, a, b);
    same_cache(where, a, b);
    same_compression(where, a, b);
    SAME_NUM("routes", a->nroutes, b->nroutes);
    for (size_t i = 0; i < a->nroutes && i < b->nroutes; i++)
        same_route(where, &a->routes[i], &b->routes[i]);
    SAME_NUM("acl.rules", a->nacl_rules, b->nacl_rules);
    for (size_t i = 0; i < a->nacl_rules && i < b->nacl_rules; i++) {
        const struct cfg_acl_rule *x = &a->acl_rules[i], *y = &b->acl_rules[i];
        SAME_NUM("acl.rules.deny", x->deny, y->deny);
        same_cidrs(where, "acl.rules.nets", x->nets, x->nnets, y->nets, y->nnets);
        same_strs(where, "acl.rules.dest_suffix", x->dest_suffix, x->ndest_suffix, y->dest_suffix,
                  y->ndest_suffix);
        SAME_NUM("acl.rules.ports", x->nports, y->nports);
        for (size_t j = 0; j < x->nports && j < y->nports; j++)
            SAME_NUM("acl.rules.ports[j]", x->ports[j], y->ports[j]);
        same_strs(where, "acl.rules.methods", x->methods, x->nmethods, y->methods, y->nmethods);
    }
    SAME_NUM("auth set", a->auth == NULL, b->auth == NULL);
    if (a->auth && b->auth) {
        same_str(where, "auth.basic.realm", a->auth->realm, b->auth->realm);
        same_str(where, "auth.basic.htpasswd", a->auth->htpasswd, b->auth->htpasswd);
        SAME_NUM("auth users", a->auth->nusers, b->auth->nusers);
    }
    SAME_NUM("redirects", a->nredirects, b->nredirects);
    for (size_t i = 0; i < a->nredirects && i < b->nredirects; i++) {
        same_str(where, "redirects.match", a->redirects[i].match, b->redirects[i].match);
        same_str(where, "redirects.to", a->redirects[i].to, b->redirects[i].to);
        SAME_NUM("redirects.status", a->redirects[i].status, b->redirects[i].status);
    }
}

/* ---- round trips ---- */

static char *dump(const struct config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    assert_int_equal(cfgdump_write(cfg, f), 0);
    fclose(f);
    return text;
}

/* Prints cfg, loads the text, and checks both configurations and both texts. */
static void round_trip(const char *where, const struct config *cfg)
{
    char *text = dump(cfg), *errs, *again;
    struct config *back = load_yaml(text, &errs);

    if (!back) {
        row_fail("%s: the printed file does not load:\n%s\n--- printed:\n%s", where, errs, text);
    } else {
        same_config(where, cfg, back);
        again = dump(back);
        if (strcmp(text, again))
            row_fail("%s: printed twice differently:\n%s\n---\n%s", where, text, again);
        free(again);
    }
    config_unref(&back);
    free(errs);
    free(text);
}

static void test_defaults(void **state)
{
    struct config *cfg = config_default();
    char *text = dump(cfg);

    (void)state;
    round_trip("defaults", cfg);
    /* every top-level key, in etc/magpie.yaml's order */
    const char *keys[] = {"\nacl:",       "\naccess_log:",  "\naccess_log_format:",
                          "\nerror_log:", "\nlog_level:",   "\nproxy_name:",
                          "\nlimits:",    "\nupstream:",    "\nconnect:",
                          "\ndns:",       "\ncache:",       "\ncompression:",
                          "\nadmin:",     "\nroutes: []\n", "\nredirects: []\n"};
    const char *at = text;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *p = strstr(at, keys[i]);
        if (!p)
            row_fail("defaults: \"%s\" missing or out of order", keys[i] + 1);
        else
            at = p;
    }
    if (strncmp(text, "listen:\n  - \"127.0.0.1:3128\"\n", 29))
        row_fail("defaults: listen is not first: %.40s", text);
    if (!strstr(text, "\n    max_idle_per_origin: 64\n"))
        row_fail("defaults: the pool's idle cap is not filled in");
    if (!strstr(text, "\n  # allow_destinations: unset"))
        row_fail("defaults: an unset allow_destinations is not a comment");
    free(text);
    config_unref(&cfg);
    rows_done();
}

static void test_example_file(void **state)
{
    struct config *cfg = load_example();

    (void)state;
    round_trip("etc/magpie.yaml", cfg);
    config_unref(&cfg);
    rows_done();
}

static const char rich[] =
    "listen:\n"
    "  - 127.0.0.1:3128\n"
    "  - \"[::1]:3130\"\n"
    "  - { address: 127.0.0.1:3129, tls: { cert: /etc/magpie/p.crt, key: '/k #1.key' } }\n"
    "acl: { allow: [10.1.2.3/8, \"::1\", \"fe80::/10\"], deny_destinations: [192.168.0.0/16],\n"
    "       allow_destinations: [] }\n"
    "access_log: off\n"
    "access_log_format: json\n"
    "error_log: /var/log/magpie/error.log\n"
    "log_level: debug\n"
    "proxy_name: edge-1\n"
    "limits: { max_connections: 7, max_header_bytes: 1000KiB, max_uri_bytes: 999,\n"
    "          client_header_timeout: 1.5s, client_idle_timeout: 250ms, shutdown_timeout: 1h }\n"
    "upstream:\n"
    "  connect_timeout: 0.001s\n"
    "  read_timeout: 1.2345678s\n"
    "  retries: 0\n"
    "  pool: { max_per_origin: 10, max_idle_per_origin: 0, idle_timeout: 1d, queue_timeout: 59s }\n"
    "  tls: { verify: false, ca_file: \"/etc/ssl/my ca.pem\" }\n"
    "connect: { allowed_ports: [443, 8443, 22] }\n"
    "dns: { servers: [127.0.0.1, \"[::1]:5353\"], max_ttl: 0s, timeout: 5m }\n"
    "cache:\n"
    "  enabled: false\n"
    "  dir: /var/cache/magpie\n"
    "  max_size: 3TiB\n"
    "  max_object_size: 1025KiB\n"
    "  memory_size: 0\n"
    "  set_cookie: strip\n"
    "  stale_on_error: 365d\n"
    "  rules:\n"
    "    - { match: '\\.(deb|udeb)$', default_ttl: 30d }\n"
    "    - match: '^https?://dl\\.example/[^#]*\\?x=1: y'\n"
    "      enabled: false\n"
    "      max_ttl: 5m\n"
    "      default_ttl: 90s\n"
    "      ignore_query_params: [utm_source, \"a b\"]\n"
    "      follow_redirects: { max: 20, scope: same-site }\n"
    "      request_headers: { set: { X-Api-Key: 'k: \"1\" #x', 'null': '[x' }, remove: [Cookie] }\n"
    "      response_headers: { set: { X-Served-By: \"tab\\there\" }, remove: [Server, "
    "X-Powered-By] "
    "}\n"
    "    - { match: '^http://a/', follow_redirects: true }\n"
    "    - { match: '^http://b/', follow_redirects: { max: 0, scope: any } }\n"
    "compression:\n"
    "  enabled: true\n"
    "  encodings: [gzip, zstd]\n"
    "  types: [\"text/*\", Application/JSON]\n"
    "  min_size: 0\n"
    "  levels: { gzip: 9, br: 0, zstd: 19 }\n"
    "  decompress: false\n"
    "admin: { purge_allow: [], listen: [\"127.0.0.1:3139\", \"[::1]:3139\"], allow: [10.0.0.0/8] "
    "}\n"
    "routes:\n"
    "  - host: API.local\n"
    "    origin: \"http://127.0.0.1:8080\"\n"
    "    rewrite_location: false\n"
    "    request_headers: { set: { X-Api-Key: k-123 }, remove: [Cookie] }\n"
    "  - host: secure.local\n"
    "    origin: \"https://[::1]:8443\"\n"
    "    tls: { verify: true }\n"
    "    cache: { default_ttl: 60s, max_ttl: 1h, ignore_query_params: utm_source,\n"
    "             targeted_field: Magpie-Cache-Control, follow_redirects: { scope: any } }\n"
    "    compression: { enabled: false }\n"
    "  - host: inherit.local\n"
    "    origin: \"https://backend.example\"\n"
    "    cache: { enabled: false }\n"
    "    compression: { enabled: true }\n"
    "    response_headers: { remove: [Server] }\n"
    "redirects:\n"
    "  - { match: \"^http://old\\\\.example/(.*)$\", to: \"https://new.example/$1\" }\n"
    "  - match: '^https?://shop\\.local/item\\?id=(\\d+)$'\n"
    "    to: \"http://shop.local/items/$1?a=#b&c=$$\"\n"
    "    status: 308\n";

static void test_rich_file(void **state)
{
    struct config *cfg = load_ok(rich);

    (void)state;
    /* the file really sets what the round trip is meant to carry */
    assert_int_equal(cfg->nroutes, 3);
    assert_int_equal(cfg->cache.nrules, 4);
    assert_int_equal(cfg->cache.rules[1].request_headers.nset, 2);
    assert_int_equal(cfg->cache.rules[2].follow_max, 5);
    assert_int_equal(cfg->nredirects, 2);
    assert_false(cfg->routes[2].tls_verify);
    assert_false(cfg->routes[2].tls_verify_set);
    assert_non_null(cfg->acl_allow_dest);
    round_trip("rich", cfg);
    config_unref(&cfg);
    rows_done();
}

/* acl.rules round trip, allow and deny, conditions given or not. */
static void test_acl_rules(void **state)
{
    struct config *cfg =
        load_ok("acl:\n"
                "  rules:\n"
                "    - { deny: [\"0.0.0.0/0\", \"::/0\"], dest_suffix: [.Internal.x, "
                "h.y], ports: [22, 25], methods: [CONNECT] }\n"
                "    - { allow: 127.0.0.2, methods: [GET, HEAD] }\n"
                "    - { deny: [127.0.0.0/8] }\n");

    (void)state;
    assert_int_equal(cfg->nacl_rules, 3);
    round_trip("acl.rules", cfg);
    config_unref(&cfg);
    rows_done();
}

/* auth.basic round trips, its realm quoted; unset, it is a comment. */
static void test_auth(void **state)
{
    static const char path[] = "/tmp/magpie-test-cfgdump-htpasswd";
    FILE *f = fopen(path, "w");

    (void)state;
    assert_non_null(f);
    fputs("alice:$2y$05$HrMCabSVEdBHUkT4W4ngB.CM8qQjC7jJSOQlVdLjcRUgf9jMcl4wa\n", f);
    fclose(f);
    struct config *cfg = load_ok("auth: {basic: {realm: \"Corp: #1 'x'\", htpasswd: "
                                 "/tmp/magpie-test-cfgdump-htpasswd}}\n");
    assert_non_null(cfg->auth);
    round_trip("auth", cfg);
    char *text = dump(cfg);
    if (!strstr(text, "\nauth:\n  basic:\n    realm: \"Corp: #1 'x'\"\n"))
        row_fail("auth: not printed as a block:\n%s", text);
    free(text);
    config_unref(&cfg);
    unlink(path);
    cfg = config_default();
    text = dump(cfg);
    if (!strstr(text, "\n# auth: {basic: unset}"))
        row_fail("an unset auth is not a comment");
    free(text);
    config_unref(&cfg);
    rows_done();
}

/* Strings a plain or careless scalar would misread: each as cache.dir,
   which takes any text, and as a header value where it is a valid one. */
static void test_strings(void **state)
{
    static const char *const rows[] = {
        "null",
        "~",
        "true",
        "123",
        "- a",
        "[x",
        "{x",
        "x: y",
        "a #b",
        "#a",
        "'",
        "\"",
        "\\",
        "\\.",
        "*a",
        "&a",
        "!a",
        "%a",
        "@a",
        "`a",
        "|",
        ">",
        "? a",
        " lead",
        "trail ",
        "tab\there",
        "caf\xc3\xa9",
        "ctl\x01\x1f",
        "del\x7f",
        "nl\nx",
        "cr\r",
        /* what YAML reads as a line break (NEL, LS, PS) or refuses raw (C1
           controls, U+FFFE, U+FFFF), and a BOM, which it may skip */
        "nel\xc2\x85x",
        "ls\xe2\x80\xa8x",
        "ps\xe2\x80\xa9x",
        "c1\xc2\x80\xc2\x9f",
        "bom\xef\xbb\xbfx",
        "\xef\xbb\xbf",
        "nc\xef\xbf\xbe\xef\xbf\xbf",
        "nbsp\xc2\xa0x",
        "astral\xf0\x9f\x90\xa6",
    };
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct config *cfg = config_default();
        assert_non_null(cfg);
        free(cfg->cache.dir);
        cfg->cache.dir = strdup(rows[i]);
        assert_non_null(cfg->cache.dir);
        char *text = dump(cfg), *errs;
        struct config *back = load_yaml(text, &errs);
        if (!back)
            row_fail("string %zu does not load: %s", i, errs);
        else
            same_str("strings", "cache.dir", rows[i], back->cache.dir);
        config_unref(&back);
        config_unref(&cfg);
        free(errs);
        free(text);
    }
    rows_done();
}

/* Each duration the parser can produce reads back from its printed form. */
static void test_durations(void **state)
{
    static const struct {
        double v;
        const char *want; /* NULL: any text that reads back */
    } rows[] = {
        {0, "0s"},          {0.25, "250ms"},    {10, "10s"},      {90, "90s"},
        {300, "5m"},        {3600, "1h"},       {86400, "24h"},   {172800, "2d"},
        {31536000, "365d"}, {1.5, "1500ms"},    {0.001, "1ms"},   {1.2345678, NULL},
        {0.0005, NULL},     {123456.789, NULL}, {0.1 * 60, NULL}, {1e-9, NULL},
    };
    char buf[64];
    double got;

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        cfgdump_duration(rows[i].v, buf, sizeof buf);
        if (config_parse_duration(buf, &got) || got != rows[i].v)
            row_fail("duration %.17g printed as \"%s\" does not read back", rows[i].v, buf);
        if (rows[i].want && strcmp(buf, rows[i].want))
            row_fail("duration %.17g printed as \"%s\", want \"%s\"", rows[i].v, buf, rows[i].want);
    }
    rows_done();
}

/* A stream that cannot be written is reported. */
static void test_write_error(void **state)
{
    struct config *cfg = config_default();
    FILE *f = fopen("/dev/full", "w");

    (void)state;
    assert_non_null(f);
    assert_int_equal(cfgdump_write(cfg, f), -1);
    fclose(f);
    config_unref(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_auth, rows_reset),
        cmocka_unit_test_setup(test_acl_rules, rows_reset),
        cmocka_unit_test_setup(test_defaults, rows_reset),
        cmocka_unit_test_setup(test_example_file, rows_reset),
        cmocka_unit_test_setup(test_rich_file, rows_reset),
        cmocka_unit_test_setup(test_strings, rows_reset),
        cmocka_unit_test_setup(test_durations, rows_reset),
        cmocka_unit_test(test_write_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
