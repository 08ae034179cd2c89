/*
 * cfgdump.c - struct config back to YAML for magpie -T. Every string is
 * double-quoted, so that no value (a regex with backslashes, a header value
 * with '#' or ": ", a path starting with '[') can be read back as anything
 * else; numbers, booleans, sizes and durations are plain. Sizes and
 * durations are written in the units the parser takes, chosen so that the
 * text reads back to the same number.
 */
#include "cfgdump.h"
#include "auth.h"
#include "cfgval.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

/* Block-style writer state: the indentation of the keys being written, and
   whether the next key opens a list item ("- key: ..."). */
struct em {
    FILE *f;
    int ind;
    bool item;
};

static void key(struct em *e, const char *name)
{
    if (e->item)
        fprintf(e->f, "%*s- %s:", e->ind - 2, "", name);
    else
        fprintf(e->f, "%*s%s:", e->ind, "", name);
    e->item = false;
}

/* A key whose value is a nested block mapping: its keys go one level in. */
static void open_map(struct em *e, const char *name)
{
    key(e, name);
    fputc('\n', e->f);
    e->ind += 2;
}

static void close_map(struct em *e)
{
    e->ind -= 2;
}

/* A key with no value to write: a comment saying what it is. */
static void unset(struct em *e, const char *name, const char *what)
{
    fprintf(e->f, "%*s# %s: %s\n", e->ind, "", name, what);
}

/* The length of the UTF-8 sequence at p when YAML must not read it raw
   between quotes, with its code point in *cp: a C1 control (refused, and
   U+0085 is a line break), LS and PS (line breaks), a BOM (may be
   skipped), U+FFFE and U+FFFF (refused); 0 for anything else. */
static size_t needs_escape(const unsigned char *p, unsigned *cp)
{
    if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
        *cp = p[1];
        return 2;
    }
    if ((p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) ||
        (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) ||
        (p[0] == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf))) {
        *cp = (p[0] & 0x0fu) << 12 | (p[1] & 0x3fu) << 6 | (p[2] & 0x3fu);
        return 3;
    }
    return 0;
}

void cfgdump_quote(const char *s, FILE *out)
{
    unsigned cp;
    size_t n;

    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((n = needs_escape(p, &cp))) {
            fprintf(out, "\\u%04x", cp);
            p += n - 1;
        } else if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\x%02x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void str(struct em *e, const char *name, const char *s)
{
    key(e, name);
    fputc(' ', e->f);
    cfgdump_quote(s, e->f);
    fputc('\n', e->f);
}

static void plain(struct em *e, const char *name, const char *s)
{
    key(e, name);
    fprintf(e->f, " %s\n", s);
}

static void boolean(struct em *e, const char *name, bool b)
{
    plain(e, name, b ? "true" : "false");
}

static void number(struct em *e, const char *name, uint64_t n)
{
    key(e, name);
    fprintf(e->f, " %llu\n", (unsigned long long)n);
}

static void size(struct em *e, const char *name, uint64_t n)
{
    char buf[32];

    plain(e, name, cfgval_fmt_size(n, buf, sizeof buf));
}

static bool reads_back(const char *s, double v)
{
    double got;

    return config_parse_duration(s, &got) == 0 && got == v;
}

const char *cfgdump_duration(double v, char *buf, size_t sz)
{
    cfgval_fmt_duration(v, buf, sz);
    for (int digits = 1; !reads_back(buf, v) && digits <= 15; digits++)
        snprintf(buf, sz, "%.*fs", digits, v);
    for (int digits = 1; !reads_back(buf, v) && digits <= 15; digits++)
        snprintf(buf, sz, "%.*fms", digits, v * 1000);
    return buf;
}

static void duration(struct em *e, const char *name, double v)
{
    char buf[64];

    plain(e, name, cfgdump_duration(v, buf, sizeof buf));
}

/* A list key: " []" when empty, else one "- " line per item from each(). */
static void list(struct em *e, const char *name, size_t n,
                 void (*each)(FILE *f, const void *arr, size_t i), const void *arr)
{
    key(e, name);
    if (!n) {
        fputs(" []\n", e->f);
        return;
    }
    fputc('\n', e->f);
    for (size_t i = 0; i < n; i++) {
        fprintf(e->f, "%*s- ", e->ind + 2, "");
        each(e->f, arr, i);
        fputc('\n', e->f);
    }
}

static void each_str(FILE *f, const void *arr, size_t i)
{
    cfgdump_quote(((char *const *)arr)[i], f);
}

static void each_listen(FILE *f, const void *arr, size_t i)
{
    cfgdump_quote(((const struct cfg_listen *)arr)[i].text, f);
}

static void each_cidr(FILE *f, const void *arr, size_t i)
{
    const struct cfg_cidr *c = (const struct cfg_cidr *)arr + i;
    char host[INET6_ADDRSTRLEN], buf[INET6_ADDRSTRLEN + 8];

    if (!inet_ntop(c->family, c->addr, host, sizeof host))
        snprintf(host, sizeof host, "?");
    snprintf(buf, sizeof buf, "%s/%u", host, c->prefix);
    cfgdump_quote(buf, f);
}

static void each_port(FILE *f, const void *arr, size_t i)
{
    fprintf(f, "%u", (unsigned)((const uint16_t *)arr)[i]);
}

static void each_coding(FILE *f, const void *arr, size_t i)
{
    fputs(coding_name(((const enum coding *)arr)[i]), f);
}

/* ---- sections ---- */

static void dump_listen(struct em *e, const struct config *cfg)
{
    key(e, "listen");
    fputc('\n', e->f);
    for (size_t i = 0; i < cfg->nlisten; i++) {
        const struct cfg_listen *l = &cfg->listen[i];

        if (!l->tls_cert) {
            fprintf(e->f, "%*s- ", e->ind + 2, "");
            cfgdump_quote(l->text, e->f);
            fputc('\n', e->f);
            continue;
        }
        e->ind += 4;
        e->item = true;
        str(e, "address", l->text);
        open_map(e, "tls");
        str(e, "cert", l->tls_cert);
        str(e, "key", l->tls_key);
        close_map(e);
        e->ind -= 4;
    }
}

static void open_item(struct em *e);
static void close_item(struct em *e);

/* acl.rules: each item's allow or deny, then its conditions ([] is any). */
static void dump_acl_rules(struct em *e, const struct config *cfg)
{
    key(e, "rules");
    fputs(cfg->nacl_rules ? "\n" : " []\n", e->f);
    for (size_t i = 0; i < cfg->nacl_rules; i++) {
        const struct cfg_acl_rule *r = &cfg->acl_rules[i];

        open_item(e);
        list(e, r->deny ? "deny" : "allow", r->nnets, each_cidr, r->nets);
        list(e, "dest_suffix", r->ndest_suffix, each_str, r->dest_suffix);
        list(e, "ports", r->nports, each_port, r->ports);
        list(e, "methods", r->nmethods, each_str, r->methods);
        close_item(e);
    }
}

static void dump_acl(struct em *e, const struct config *cfg)
{
    open_map(e, "acl");
    list(e, "allow", cfg->nacl_allow, each_cidr, cfg->acl_allow);
    list(e, "deny_destinations", cfg->nacl_deny_dest, each_cidr, cfg->acl_deny_dest);
    if (cfg->acl_allow_dest)
        list(e, "allow_destinations", cfg->nacl_allow_dest, each_cidr, cfg->acl_allow_dest);
    else
        unset(e, "allow_destinations", "unset (any destination)");
    dump_acl_rules(e, cfg);
    close_map(e);
}

static const char *log_level_name(enum log_level l)
{
    switch (l) {
    case LOGL_ERROR:
        return "error";
    case LOGL_WARN:
        return "warn";
    case LOGL_INFO:
        return "info";
    case LOGL_DEBUG:
        return "debug";
    }
    return "info";
}

static const char *access_log_format_name(enum cfg_access_log_format f)
{
    switch (f) {
    case CFG_ACCESS_LOG_DEFAULT:
        return "default";
    case CFG_ACCESS_LOG_COMBINED:
        return "combined";
    case CFG_ACCESS_LOG_JSON:
        return "json";
    }
    return "default";
}

static void dump_logs(struct em *e, const struct config *cfg)
{
    if (cfg->access_log)
        str(e, "access_log", cfg->access_log);
    else
        plain(e, "access_log", "off");
    plain(e, "access_log_format", access_log_format_name(cfg->access_log_format));
    str(e, "error_log", cfg->error_log);
    plain(e, "log_level", log_level_name(cfg->log_level));
    str(e, "proxy_name", cfg->proxy_name);
}

static void dump_limits(struct em *e, const struct config *cfg)
{
    open_map(e, "limits");
    number(e, "max_connections", cfg->limits.max_connections);
    size(e, "max_header_bytes", cfg->limits.max_header_bytes);
    size(e, "max_uri_bytes", cfg->limits.max_uri_bytes);
    duration(e, "client_header_timeout", cfg->limits.client_header_timeout);
    duration(e, "client_idle_timeout", cfg->limits.client_idle_timeout);
    duration(e, "shutdown_timeout", cfg->limits.shutdown_timeout);
    close_map(e);
}

static void dump_upstream(struct em *e, const struct config *cfg)
{
    open_map(e, "upstream");
    duration(e, "connect_timeout", cfg->upstream.connect_timeout);
    duration(e, "read_timeout", cfg->upstream.read_timeout);
    number(e, "retries", cfg->upstream.retries);
    open_map(e, "pool");
    number(e, "max_per_origin", cfg->upstream.pool.max_per_origin);
    number(e, "max_idle_per_origin", cfg->upstream.pool.max_idle_per_origin);
    duration(e, "idle_timeout", cfg->upstream.pool.idle_timeout);
    duration(e, "queue_timeout", cfg->upstream.pool.queue_timeout);
    close_map(e);
    open_map(e, "tls");
    boolean(e, "verify", cfg->upstream.tls.verify);
    str(e, "ca_file", cfg->upstream.tls.ca_file);
    close_map(e);
    close_map(e);
}

static void dump_connect_dns(struct em *e, const struct config *cfg)
{
    open_map(e, "connect");
    list(e, "allowed_ports", cfg->nconnect_allowed_ports, each_port, cfg->connect_allowed_ports);
    close_map(e);
    open_map(e, "dns");
    list(e, "servers", cfg->dns.nservers, each_str, cfg->dns.servers);
    duration(e, "max_ttl", cfg->dns.max_ttl);
    duration(e, "timeout", cfg->dns.timeout);
    close_map(e);
}

static const char *scope_name(enum cfg_follow_scope s)
{
    switch (s) {
    case CFG_FOLLOW_SAME_ORIGIN:
        return "same-origin";
    case CFG_FOLLOW_SAME_SITE:
        return "same-site";
    case CFG_FOLLOW_ANY:
        return "any";
    }
    return "same-origin";
}

/* set: a mapping of quoted names to quoted values; remove: quoted names. */
static void dump_hdr_edit(struct em *e, const char *name, const struct cfg_hdr_edit *h)
{
    open_map(e, name);
    key(e, "set");
    fputs(h->nset ? "\n" : " {}\n", e->f);
    for (size_t i = 0; i < h->nset; i++) {
        fprintf(e->f, "%*s", e->ind + 2, "");
        cfgdump_quote(h->set[i].name, e->f);
        fputs(": ", e->f);
        cfgdump_quote(h->set[i].value, e->f);
        fputc('\n', e->f);
    }
    list(e, "remove", h->nremove, each_str, h->remove);
    close_map(e);
}

/* The keys a cache rule and a route's cache: block share. A TTL of none
   cannot be written (any duration is one), so it is a comment. */
static void dump_rule_keys(struct em *e, const struct cfg_cache_rule *r)
{
    boolean(e, "enabled", r->enabled);
    if (r->default_ttl >= 0)
        duration(e, "default_ttl", r->default_ttl);
    else
        unset(e, "default_ttl", "none");
    if (r->max_ttl >= 0)
        duration(e, "max_ttl", r->max_ttl);
    else
        unset(e, "max_ttl", "none");
    list(e, "ignore_query_params", r->nignore_params, each_str, r->ignore_params);
    open_map(e, "follow_redirects");
    number(e, "max", r->follow_max);
    plain(e, "scope", scope_name(r->follow_scope));
    close_map(e);
}

static const char *set_cookie_name(enum cfg_set_cookie s)
{
    switch (s) {
    case CFG_SET_COOKIE_EXPLICIT:
        return "explicit";
    case CFG_SET_COOKIE_STRIP:
        return "strip";
    case CFG_SET_COOKIE_NEVER:
        return "never";
    }
    return "explicit";
}

/* Starts item i of a list of mappings whose key is at e's indentation. */
static void open_item(struct em *e)
{
    e->ind += 4;
    e->item = true;
}

static void close_item(struct em *e)
{
    e->ind -= 4;
}

static void dump_cache(struct em *e, const struct config *cfg)
{
    open_map(e, "cache");
    boolean(e, "enabled", cfg->cache.enabled);
    str(e, "dir", cfg->cache.dir);
    size(e, "max_size", cfg->cache.max_size);
    size(e, "max_object_size", cfg->cache.max_object_size);
    size(e, "memory_size", cfg->cache.memory_size);
    plain(e, "set_cookie", set_cookie_name(cfg->cache.set_cookie));
    plain(e, "tag_headers", cfg->cache.keep_tag_headers ? "keep" : "strip");
    duration(e, "stale_on_error", cfg->cache.stale_on_error);
    key(e, "rules");
    fputs(cfg->cache.nrules ? "\n" : " []\n", e->f);
    for (size_t i = 0; i < cfg->cache.nrules; i++) {
        const struct cfg_cache_rule *r = &cfg->cache.rules[i];

        open_item(e);
        str(e, "match", r->match);
        dump_rule_keys(e, r);
        dump_hdr_edit(e, "request_headers", &r->request_headers);
        dump_hdr_edit(e, "response_headers", &r->response_headers);
        close_item(e);
    }
    close_map(e);
}

static void dump_compression(struct em *e, const struct config *cfg)
{
    open_map(e, "compression");
    boolean(e, "enabled", cfg->compression.enabled);
    list(e, "encodings", cfg->compression.nencodings, each_coding, cfg->compression.encodings);
    list(e, "types", cfg->compression.ntypes, each_str, cfg->compression.types);
    size(e, "min_size", cfg->compression.min_size);
    open_map(e, "levels");
    number(e, "gzip", (uint64_t)cfg->compression.level[CODING_GZIP]);
    number(e, "br", (uint64_t)cfg->compression.level[CODING_BR]);
    number(e, "zstd", (uint64_t)cfg->compression.level[CODING_ZSTD]);
    close_map(e);
    boolean(e, "decompress", cfg->compression.decompress);
    close_map(e);
}

static void dump_admin(struct em *e, const struct config *cfg)
{
    open_map(e, "admin");
    list(e, "purge_allow", cfg->npurge_allow, each_cidr, cfg->purge_allow);
    list(e, "listen", cfg->nadmin_listen, each_listen, cfg->admin_listen);
    list(e, "allow", cfg->nadmin_allow, each_cidr, cfg->admin_allow);
    close_map(e);
}

static void dump_auth(struct em *e, const struct config *cfg)
{
    if (!cfg->auth) {
        unset(e, "auth", "{basic: unset} (no proxy authentication)");
        return;
    }
    open_map(e, "auth");
    open_map(e, "basic");
    str(e, "realm", cfg->auth->realm);
    str(e, "htpasswd", cfg->auth->htpasswd);
    close_map(e);
    close_map(e);
}

/* tls and compression.enabled are written only when the file set them:
   unset, they follow upstream.tls.verify and compression.enabled. */
static void dump_route(struct em *e, const struct cfg_route *r)
{
    open_item(e);
    str(e, "host", r->host);
    str(e, "origin", r->origin);
    if (r->tls_verify_set) {
        open_map(e, "tls");
        boolean(e, "verify", r->tls_verify);
        close_map(e);
    } else if (r->origin_tls) {
        unset(e, "tls",
              r->tls_verify ? "{verify: true} from upstream.tls.verify"
                            : "{verify: false} from upstream.tls.verify");
    }
    if (r->has_cache) {
        open_map(e, "cache");
        dump_rule_keys(e, &r->cache);
        if (r->cache.targeted_field)
            str(e, "targeted_field", r->cache.targeted_field);
        else
            unset(e, "targeted_field", "none");
        close_map(e);
    } else {
        unset(e, "cache", "none (cache.rules apply)");
    }
    if (r->compression_enabled >= 0) {
        open_map(e, "compression");
        boolean(e, "enabled", r->compression_enabled);
        close_map(e);
    } else {
        unset(e, "compression", "{enabled: unset} (compression.enabled decides)");
    }
    boolean(e, "rewrite_location", r->rewrite_location);
    dump_hdr_edit(e, "request_headers", &r->request_headers);
    dump_hdr_edit(e, "response_headers", &r->response_headers);
    close_item(e);
}

static void dump_routes(struct em *e, const struct config *cfg)
{
    key(e, "routes");
    fputs(cfg->nroutes ? "\n" : " []\n", e->f);
    for (size_t i = 0; i < cfg->nroutes; i++)
        dump_route(e, &cfg->routes[i]);
}

static void dump_redirects(struct em *e, const struct config *cfg)
{
    key(e, "redirects");
    fputs(cfg->nredirects ? "\n" : " []\n", e->f);
    for (size_t i = 0; i < cfg->nredirects; i++) {
        open_item(e);
        str(e, "match", cfg->redirects[i].match);
        str(e, "to", cfg->redirects[i].to);
        number(e, "status", (uint64_t)cfg->redirects[i].status);
        close_item(e);
    }
}

int cfgdump_write(const struct config *cfg, FILE *out)
{
    struct em e = {.f = out};

    dump_listen(&e, cfg);
    dump_acl(&e, cfg);
    dump_logs(&e, cfg);
    dump_limits(&e, cfg);
    dump_upstream(&e, cfg);
    dump_connect_dns(&e, cfg);
    dump_cache(&e, cfg);
    dump_compression(&e, cfg);
    dump_admin(&e, cfg);
    dump_auth(&e, cfg);
    dump_routes(&e, cfg);
    dump_redirects(&e, cfg);
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}
