/*
 * client_request.c - what the client half does with a parsed request: the
 * request parser's callbacks (client_reader_ops) and the request hooks
 * (hooks.c runs them in order). A head is checked first (the ACL and
 * connection-limit verdicts, HTTP version, target length, one valid Host,
 * required in HTTP/1.1, a forwarding loop seen in Via), then routed (an
 * absolute URI goes to its authority, an origin-form target or OPTIONS *
 * to the reverse route for its Host; a CONNECT target is parsed and its
 * port checked), PURGE answered, offered to the cache, and rewritten into
 * the head that goes to the origin (hop-by-hop fields dropped, Host, Via,
 * X-Forwarded-For, framing); ex->plan says what exchange.c does next. Body
 * bytes go into the upstream buffer, chunked again when the request was
 * chunked.
 *
 * Nothing here touches a socket or a timer: reading, writing and the
 * connection's life are client.c, which feeds the parser.
 */
#include "proxy.h"
#include "rules.h"

#include "access_log.h"
#include "cache/tags.h"
#include "hdr_rules.h"
#include "hooks.h"
#include "log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int client_on_connect(struct client *c, const struct http_msg *m);
static bool client_is_asterisk(const struct http_msg *m);
static bool client_options_server(const struct http_msg *m);

/* Whether a Via header already names this proxy: a forwarding loop. */
static bool client_is_loop(const struct http_msg *m, const char *name)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < m->nhdrs; i++) {
        if (m->hdrs[i].name_len != 3 || strcasecmp(http_hname(m, &m->hdrs[i]), "Via") != 0)
            continue;
        const char *p = http_hvalue(m, &m->hdrs[i]);
        while (*p) {
            /* each entry: protocol SP received-by [SP comment] */
            while (*p == ' ' || *p == ',')
                p++;
            while (*p && *p != ' ' && *p != ',')
                p++;
            while (*p == ' ')
                p++;
            const char *by = p;
            while (*p && *p != ' ' && *p != ',')
                p++;
            if ((size_t)(p - by) == nlen && strncasecmp(by, name, nlen) == 0)
                return true;
            while (*p && *p != ',')
                p++;
        }
    }
    return false;
}

/* Writes "Name: v1, v2, extra\r\n" merging every header called name. */
static int client_merge_header(struct buf *out, const struct http_msg *m, const char *name,
                               const char *extra)
{
    size_t len = strlen(name);
    if (buf_append(out, name, len) < 0 || buf_append_lit(out, ": ") < 0)
        return -1;
    for (size_t i = 0; i < m->nhdrs; i++) {
        const struct http_header *h = &m->hdrs[i];
        /* a line the client named in Connection is its own hop's: not forwarded */
        if (h->hop || h->name_len != len || strcasecmp(http_hname(m, h), name) != 0)
            continue;
        if (buf_append(out, http_hvalue(m, h), h->value_len) < 0 || buf_append_lit(out, ", ") < 0)
            return -1;
    }
    if (buf_append(out, extra, strlen(extra)) < 0)
        return -1;
    return buf_append_lit(out, "\r\n");
}

/* Headers that client_build_request() writes itself. */
static bool client_header_rewritten(const char *name, bool reverse)
{
    static const char *const own[] = {"Host", "Content-Length", "Via"};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (strcasecmp(name, own[i]) == 0)
            return true;
    return reverse && strcasecmp(name, "X-Forwarded-For") == 0;
}

/* Whether edits sets field name: the request header rules' values are for
   the origin the rule names, never another one a redirect leads to. */
static bool client_edit_sets(const struct cfg_hdr_edit *e, const char *name)
{
    for (size_t i = 0; i < e->nset; i++)
        if (strcasecmp(e->set[i].name, name) == 0)
            return true;
    return false;
}

/* What never goes to an origin other than the one the client asked. */
static bool client_not_foreign(const struct client *c, const char *name)
{
    const struct cfg_route *rt = c->ex->cx.rt;
    return strcasecmp(name, "Authorization") == 0 || strcasecmp(name, "Cookie") == 0 ||
           (rt && client_edit_sets(&rt->request_headers, name)) ||
           client_edit_sets(&c->ex->cx.rule->request_headers, name);
}

int client_build_request(struct client *c, const struct http_msg *m, const char *path,
                         size_t path_len, const char *host_hdr, bool reverse, bool foreign)
{
    struct buf *out = &c->ex->up.out;
    bool asterisk = path_len == 1 && path[0] == '*'; /* OPTIONS * stays so */
    if (buf_append_str(out, c->ex->method) < 0 || buf_append_lit(out, " ") < 0 ||
        (path[0] != '/' && !asterisk && buf_append_lit(out, "/") < 0) ||
        buf_append(out, path, path_len) < 0 || buf_append_lit(out, " HTTP/1.1\r\nHost: ") < 0 ||
        buf_append_str(out, host_hdr) < 0 || buf_append_lit(out, "\r\n") < 0)
        return -1;
    for (size_t i = 0; i < m->nhdrs; i++) {
        const struct http_header *h = &m->hdrs[i];
        if (h->hop || client_header_rewritten(http_hname(m, h), reverse) ||
            compress_plan_rewrites(c, m, h) || (foreign && client_not_foreign(c, http_hname(m, h))))
            continue;
        if (http_put_header(out, m, h) < 0)
            return -1;
    }
    char via[300];
    snprintf(via, sizeof(via), "1.%u %s", m->minor, c->cfg->proxy_name);
    if (client_merge_header(out, m, "Via", via) < 0)
        return -1;
    if (reverse) {
        char ip[INET6_ADDRSTRLEN];
        sock_format_addr(ip, sizeof(ip), (const struct sockaddr *)&c->addr, false);
        if (client_merge_header(out, m, "X-Forwarded-For", ip) < 0)
            return -1;
    }
    if (m->chunked && buf_append_lit(out, "Transfer-Encoding: chunked\r\n") < 0)
        return -1;
    if (m->content_length >= 0 &&
        (buf_append_lit(out, "Content-Length: ") < 0 ||
         buf_append_u64(out, (uint64_t)m->content_length) < 0 || buf_append_lit(out, "\r\n") < 0))
        return -1;
    if (compress_plan_request_fields(c, m, out) < 0 || cache_request_headers(c, out) < 0)
        return -1;
    if (c->ex->ws_upgrade)
        return buf_append_lit(out, "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    return buf_append_lit(out, "\r\n");
}

/* Picks the origin: the absolute-URI's authority or the route for Host. */
static int client_route(struct client *c, const struct http_msg *m, struct url *u,
                        const char **host_hdr, bool *reverse, const struct cfg_route **rtp)
{
    *rtp = NULL;
    const char *target = http_str(m, m->target);
    if (url_parse_absolute(target, m->target_len, u) == 0) {
        c->ex->url = strndup(target, m->target_len);
        if (client_options_server(m)) {
            u->path = "*"; /* RFC 9112 §3.2.4: the last proxy sends asterisk-form */
            u->path_len = 1;
        }
        c->ex->up.verify = c->cfg->upstream.tls.verify;
        *reverse = false;
        return 0;
    }
    const struct http_header *hh = http_find(m, "Host");
    bool asterisk = client_is_asterisk(m);
    if (target[0] != '/' && !asterisk) {
        exchange_fail(c, 400, "request target is neither an absolute URI nor a path");
        return -1;
    }
    if (!hh) {
        exchange_fail(c, 400, "origin-form request without a Host header");
        return -1;
    }
    char host[URL_HOST_MAX];
    uint16_t port;
    const char *hv = http_hvalue(m, hh);
    if (url_parse_authority(hv, strlen(hv), host, sizeof(host), &port, 80) < 0) {
        exchange_fail(c, 400, "malformed Host header");
        return -1;
    }
    size_t ulen = strlen(hv) + m->target_len + 16;
    c->ex->url = malloc(ulen);
    if (c->ex->url)
        snprintf(c->ex->url, ulen, "%s://%s%s", c->sock.tls ? "https" : "http", hv, target);
    const struct cfg_route *rt = config_route_find(c->cfg, host);
    *rtp = rt;
    if (!rt && asterisk) {
        /* in forward mode it would ask about magpie itself */
        exchange_fail(c, 400,
                      "OPTIONS * is forwarded only to a reverse route's origin "
                      "(ask an origin with OPTIONS http://host:port, no path)");
        return -1;
    }
    if (!rt) {
        char reason[URL_HOST_MAX + 96];
        snprintf(reason, sizeof(reason),
                 "no route for host \"%s\" (send an absolute URI to use the forward proxy)", host);
        exchange_fail(c, 400, reason);
        return -1;
    }
    u->https = rt->origin_tls;
    c->ex->up.verify = rt->tls_verify;
    snprintf(u->host, sizeof(u->host), "%s", rt->origin_host);
    u->port = rt->origin_port;
    u->path = target;
    u->path_len = m->target_len;
    *host_hdr = hv;
    *reverse = true;
    return 0;
}

/* OPTIONS http://host[:port] with no path at all: about the server as a
   whole, forwarded as OPTIONS * (RFC 9112 §3.2.4). */
static bool client_options_server(const struct http_msg *m)
{
    if (m->method_id != HTTP_M_OPTIONS)
        return false;
    const char *t = http_str(m, m->target);
    const char *auth = strstr(t, "://");
    return auth && !strpbrk(auth + 3, "/?#");
}

/* OPTIONS * (asterisk-form, RFC 9112 §3.2.4): the origin server as a whole. */
static bool client_is_asterisk(const struct http_msg *m)
{
    return m->target_len == 1 && http_str(m, m->target)[0] == '*' && m->method_id == HTTP_M_OPTIONS;
}

static size_t client_count_headers(const struct http_msg *m, const char *name)
{
    size_t n = 0, len = strlen(name);
    for (size_t i = 0; i < m->nhdrs; i++)
        n += m->hdrs[i].name_len == len && strcasecmp(http_hname(m, &m->hdrs[i]), name) == 0;
    return n;
}

/* RFC 9112 §3.2: one Host, always in HTTP/1.1 (also with an absolute
   target), and a valid authority. An empty value passes here; a route
   needs a name, so only an absolute target can go on with it. A background
   refresh replays what its client sent, Host or not. -1 after answering. */
static int client_check_host(struct client *c, const struct http_msg *m)
{
    size_t n = client_count_headers(m, "Host");
    if (n > 1) {
        exchange_fail(c, 400, "more than one Host header");
        return -1;
    }
    if (n == 0 && m->minor >= 1 && !c->phantom) {
        exchange_fail(c, 400, "HTTP/1.1 request without a Host header");
        return -1;
    }
    const struct http_header *h = n ? http_find(m, "Host") : NULL;
    if (h && !http_host_valid(http_hvalue(m, h), h->value_len)) {
        exchange_fail(c, 400, "Host header is not a valid authority");
        return -1;
    }
    return 0;
}

/* ---- request hooks (hooks.c lists them in order) ---- */

/* ACL and connection limits: verdicts made at accept, answered here. */
enum hook_rc request_hook_acl(void *arg, struct http_msg *m)
{
    struct client *c = ((struct head_ctx *)arg)->c;
    (void)m;
    if (c->deny_status == 403) {
        exchange_fail(c, 403, "client address not allowed");
        return HOOK_ANSWERED;
    }
    if (c->deny_status == 503) {
        exchange_fail(c, 503, "too many connections");
        return HOOK_ANSWERED;
    }
    return HOOK_NEXT;
}

/* What a head must be before anything goes upstream: version, target
   length, Host. */
enum hook_rc request_hook_checks(void *arg, struct http_msg *m)
{
    struct client *c = ((struct head_ctx *)arg)->c;
    if (m->major != 1 || m->minor > 1) {
        exchange_fail(c, 505, "HTTP version not supported");
        return HOOK_ANSWERED;
    }
    if (m->target_len > c->cfg->limits.max_uri_bytes) {
        exchange_fail(c, 414, "request target too long");
        return HOOK_ANSWERED;
    }
    return client_check_host(c, m) < 0 ? HOOK_ANSWERED : HOOK_NEXT;
}

enum hook_rc request_hook_loop(void *arg, struct http_msg *m)
{
    struct client *c = ((struct head_ctx *)arg)->c;
    if (!client_is_loop(m, c->cfg->proxy_name))
        return HOOK_NEXT;
    exchange_fail(c, 508, "forwarding loop detected: the request already passed this proxy");
    return HOOK_ANSWERED;
}

/* The origin: a CONNECT target, an absolute URI's authority, or the
   reverse route for Host. */
enum hook_rc request_hook_route(void *arg, struct http_msg *m)
{
    struct head_ctx *h = arg;
    struct client *c = h->c;
    if (m->method_id == HTTP_M_CONNECT)
        return client_on_connect(c, m) < 0 ? HOOK_ANSWERED : HOOK_NEXT;
    if (client_route(c, m, &h->u, &h->host_hdr, &h->reverse, &h->rt) < 0)
        return HOOK_ANSWERED;
    if (!c->ex->url) {
        exchange_fail(c, 500, "out of memory");
        return HOOK_ERROR;
    }
    h->routed = true;
    c->ex->cx.rt = h->rt;
    c->ex->cx.rule = config_cache_rule(c->cfg, h->rt, c->ex->url, strlen(c->ex->url));
    return HOOK_NEXT;
}

/* The destination acl.rules judge: a CONNECT's target, an absolute URI's
   authority, or for a reverse route the host and port the client asked
   for. false when there is none (the route hook answered). */
static bool client_destination(const struct head_ctx *h, char *host, size_t size, uint16_t *port)
{
    const struct client *c = h->c;
    if (c->ex->connect) {
        snprintf(host, size, "%s", c->ex->up.host);
        *port = c->ex->up.port;
        return true;
    }
    if (!h->routed)
        return false;
    if (!h->reverse) {
        snprintf(host, size, "%s", h->u.host);
        *port = h->u.port;
        return true;
    }
    return url_parse_authority(h->host_hdr, strlen(h->host_hdr), host, size, port,
                               c->sock.tls ? 443 : 80) == 0;
}

/* acl.rules: by client network, destination host suffix and port, method. */
enum hook_rc request_hook_acl_rules(void *arg, struct http_msg *m)
{
    struct head_ctx *h = arg;
    struct client *c = h->c;
    char host[URL_HOST_MAX];
    uint16_t port;
    (void)m;
    if (!c->cfg->nacl_rules || c->phantom || !client_destination(h, host, sizeof host, &port))
        return HOOK_NEXT;
    const struct cfg_acl_rule *r =
        config_acl_rule(c->cfg, (const struct sockaddr *)&c->addr, host, port, c->ex->method);
    if (!r || !r->deny)
        return HOOK_NEXT;
    char reason[64];
    snprintf(reason, sizeof reason, "denied by acl.rules[%zu]", (size_t)(r - c->cfg->acl_rules));
    exchange_fail(c, 403, reason);
    return HOOK_ANSWERED;
}

/* PURGE of a cached URL, or with Surrogate-Key / Cache-Tag fields of every
   object tagged so (whatever the URL), from the addresses
   cache.purge_allow lists. */
enum hook_rc request_hook_purge(void *arg, struct http_msg *m)
{
    struct head_ctx *h = arg;
    struct client *c = h->c;
    if (!h->routed || c->ex->method_id != HTTP_M_PURGE || client_is_asterisk(m) ||
        c->ex->ws_upgrade)
        return HOOK_NEXT;
    if (!config_purge_allowed(c->cfg, (const struct sockaddr *)&c->addr)) {
        exchange_fail(c, 403, "PURGE is not allowed from this address");
        return HOOK_ANSWERED;
    }
    bool tagged = false;
    for (size_t i = 0; i < m->nhdrs && !tagged; i++)
        tagged = tags_field_sep(http_hname(m, &m->hdrs[i]), m->hdrs[i].name_len) != 0;
    int n = tagged ? cache_purge_tags(c, m)
                   : cache_purge(c, m, h->u.https, h->u.host, h->u.port, h->u.path, h->u.path_len,
                                 h->rt);
    if (tagged && n < 0) {
        exchange_fail(c, 400, "the PURGE's Surrogate-Key or Cache-Tag names no valid tag");
        return HOOK_ANSWERED;
    }
    char reason[64];
    snprintf(reason, sizeof(reason), "purged %d stored response%s", n, n == 1 ? "" : "s");
    exchange_fail(c, n > 0 ? 200 : 404, n > 0 ? reason : "not in the cache");
    return HOOK_ANSWERED;
}

#define REDIRECT_LOCATION_MAX 8192 /* a filled template, as long as a request target may be */

/* redirects: the first rule whose pattern matches the absolute URL answers
   with its Location. Not for CONNECT, whose target is no URL. */
enum hook_rc request_hook_redirect(void *arg, struct http_msg *m)
{
    struct head_ctx *h = arg;
    struct client *c = h->c;
    const struct config *cfg = c->cfg;
    (void)m;
    if (!cfg->nredirects || !h->routed || c->ex->method_id == HTTP_M_CONNECT || !c->ex->url)
        return HOOK_NEXT;
    const char *url = c->ex->url;
    size_t len = strlen(url);
    for (size_t i = 0; i < cfg->nredirects; i++) {
        const struct cfg_redirect *r = &cfg->redirects[i];
        struct rule_match mt;
        if (!rule_re_match(r->re, url, len, &mt))
            continue;
        char to[REDIRECT_LOCATION_MAX];
        if (rule_expand(r->to, url, &mt, to, sizeof(to)) < 0 || strpbrk(to, "\r\n")) {
            exchange_fail(c, 500, "a redirect rule's Location is too long or not one line");
            return HOOK_ANSWERED;
        }
        exchange_redirect(c, r->status, to);
        return HOOK_ANSWERED;
    }
    return HOOK_NEXT;
}

/* p, taken from an arena that was at old (used bytes) and is now at mem:
   where it is now. A pointer elsewhere (a literal) stays. */
static const char *client_rebase(const char *p, uintptr_t old, size_t used, const char *mem)
{
    uintptr_t a = (uintptr_t)p;
    return a >= old && a < old + used ? mem + (a - old) : p;
}

/* request_headers of the route and of the cache rule: the request is
   edited in place before client_plan reads it, so that what is forwarded
   is also what the cache keys and matches Vary on. */
enum hook_rc request_hook_headers(void *arg, struct http_msg *m)
{
    struct head_ctx *h = arg;
    struct client *c = h->c;
    if (!h->routed || c->ex->method_id == HTTP_M_CONNECT || !hdr_rules_request_any(c))
        return HOOK_NEXT;
    /* the route hook's pointers into the head follow its arena if it moves */
    uintptr_t old = (uintptr_t)m->mem;
    size_t used = m->mem_len;
    int rc = hdr_rules_request(c, m);
    h->u.path = client_rebase(h->u.path, old, used, m->mem);
    if (h->host_hdr)
        h->host_hdr = client_rebase(h->host_hdr, old, used, m->mem);
    if (rc < 0) {
        exchange_fail(c, 500, "out of memory for the request's header rules");
        return HOOK_ERROR;
    }
    return HOOK_NEXT;
}

/* The head as the origin gets it, and what the exchange does next. -1
   after answering. */
static int client_plan(struct client *c, const struct http_msg *m, struct head_ctx *h)
{
    struct url *u = &h->u;
    bool follow = false;
    if (!c->ex->ws_upgrade)
        compress_plan_request(c, m, h->rt);
    if (!c->ex->ws_upgrade && !(u->path_len == 1 && u->path[0] == '*')) {
        switch (cache_request(c, m, u->https, u->host, u->port, u->path, u->path_len, h->rt)) {
        case CACHE_SERVE:
            c->ex->plan = PLAN_SERVE; /* served once the parser has returned */
            return 0;
        case CACHE_NOT_STORED:
            exchange_fail(c, 504, "not in the cache (only-if-cached)");
            return -1;
        case CACHE_FOLLOW:
            follow = true;
            break;
        case CACHE_GO_UP:
            break;
        }
    }
    char authority[URL_HOST_MAX + 8];
    const char *host_hdr = h->host_hdr;
    if (!h->reverse) {
        if (u->port == (u->https ? 443 : 80))
            snprintf(authority, sizeof(authority), strchr(u->host, ':') ? "[%s]" : "%s", u->host);
        else
            url_format_hostport(authority, sizeof(authority), u->host, u->port);
        host_hdr = authority;
    }
    if (client_build_request(c, m, u->path, u->path_len, host_hdr, h->reverse, false) < 0) {
        exchange_fail(c, 431, "request head too large to forward");
        return -1;
    }
    /* connecting starts once the parser has returned (exchange_received) */
    snprintf(c->ex->up.host, sizeof(c->ex->up.host), "%s", u->host);
    c->ex->up.port = u->port;
    c->ex->up.https = u->https;
    c->ex->up.forward = !h->reverse;
    /* a follower waits for the fetch it joined; its request is ready in case */
    c->ex->plan = follow ? PLAN_FOLLOW : PLAN_FETCH;
    return 0;
}

static int client_on_head(void *arg, struct http_msg *m)
{
    struct client *c = arg;
    c->ex->method = strdup(http_str(m, m->method));
    c->ex->method_id = m->method_id;
    c->ex->minor = m->minor;
    c->ex->req_chunked = m->chunked;
    c->ex->bodiless = !m->chunked && m->content_length <= 0;
    /* Only a WebSocket upgrade is forwarded as one (and becomes a tunnel on
       a 101); any other Upgrade is an ordinary request framed by its body,
       its Upgrade and Connection fields dropped as hop-by-hop. */
    const struct http_header *upg = http_find(m, "Upgrade");
    c->ex->ws_upgrade = m->upgrade && upg && http_list_has(http_hvalue(m, upg), "websocket");
    c->ex->keep_alive = m->keep_alive && !c->ex->ws_upgrade;
    if (!c->ex->method) {
        client_close(c, CLOSE_INTERNAL, "out of memory");
        return -1;
    }
    /* the combined line's request line and fields; without memory for
       them it logs the absolute URL and "-" */
    if (c->cfg->access_log_format == CFG_ACCESS_LOG_COMBINED && log_access_enabled())
        c->log_head = access_head_new(m);
    struct head_ctx h = {.c = c};
    size_t stopped;
    if (hooks_run(request_hooks, request_hook_count, &h, m, &stopped) != HOOK_NEXT) {
        log_debug("#%llu %s: answered by the %s hook", c->id, c->addr_text,
                  request_hooks[stopped].name);
        return -1;
    }
    if (m->method_id == HTTP_M_CONNECT)
        return 0; /* the route hook made the tunnel's plan */
    return client_plan(c, m, &h);
}

/* CONNECT host:port: a tunnel, if the port is allowed. */
static int client_on_connect(struct client *c, const struct http_msg *m)
{
    const char *target = http_str(m, m->target);
    char host[URL_HOST_MAX];
    uint16_t port = 0;
    c->ex->connect = true;
    c->ex->keep_alive = false;
    c->ex->url = strndup(target, m->target_len);
    if (url_parse_authority(target, m->target_len, host, sizeof(host), &port, 0) < 0 || port == 0) {
        exchange_fail(c, 400, "CONNECT needs a host:port target");
        return -1;
    }
    if (!config_connect_port_allowed(c->cfg, port)) {
        char reason[64];
        snprintf(reason, sizeof(reason), "CONNECT to port %u is not allowed", port);
        exchange_fail(c, 403, reason);
        return -1;
    }
    snprintf(c->ex->up.host, sizeof(c->ex->up.host), "%s", host);
    c->ex->up.port = port;
    c->ex->up.https = false;
    c->ex->up.forward = true;
    c->ex->plan = PLAN_FETCH;
    return 0;
}

static int client_on_body(void *arg, const char *p, size_t n)
{
    struct client *c = arg;
    c->ex->bytes_received += n;
    int rc = c->ex->req_chunked ? http_chunk_append(&c->ex->up.out, p, n)
                                : buf_append(&c->ex->up.out, p, n);
    if (rc < 0) {
        client_close(c, CLOSE_OVERFLOW, "upstream buffer overflow");
        return -1;
    }
    return 0;
}

static int client_on_done(void *arg)
{
    struct client *c = arg;
    c->ex->req_done = true;
    if (c->ex->req_chunked && c->state != CS_RECEIVE &&
        http_chunk_append(&c->ex->up.out, NULL, 0) < 0) {
        client_close(c, CLOSE_OVERFLOW, "upstream buffer overflow");
        return -1;
    }
    return 0;
}

const struct http_reader_ops client_reader_ops = {
    .on_head = client_on_head,
    .on_body = client_on_body,
    .on_done = client_on_done,
};
