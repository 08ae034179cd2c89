/*
 * follow.c - redirects magpie follows on its client's behalf, when the
 * cache rule governing a GET or HEAD says follow_redirects: a 301, 302,
 * 303, 307 or 308 from the origin is not relayed; its Location (resolved
 * against the URL that was asked, RFC 3986 §5) is asked instead, up to
 * the rule's max, within its scope. The client gets the final response,
 * which the cache stores under the client's URL and under its own.
 *
 * A URL asked twice in one chain is a loop, and one redirect more than
 * max is too many: both answer 502 saying so. A redirect outside the
 * scope, to a scheme other than http(s), or without one usable Location
 * goes to the client as it is. A request that leaves the client's origin
 * carries no Authorization, no Cookie and no header rule's values, and a
 * forward-mode destination check applies to it (a reverse route's origin
 * redirecting to an internal address is not followed there unchecked).
 *
 * The redirect's body is read and dropped when it is short and of known
 * length, so that the connection can go back to the pool; any other
 * redirect's connection is closed instead.
 */
#include "proxy.h"

#include <libpsl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hash.h"
#include "log.h"
#include "respond.h"

#define FOLLOW_URL_MAX 8192          /* a Location resolved: as long as a target may be */
#define FOLLOW_DRAIN_MAX (64 * 1024) /* redirect bodies up to this are read, not cut */

struct follow {
    unsigned hops; /* redirects followed */
    bool dropping; /* a redirect's body is being read and dropped */
    bool cut;      /* its body is not read: its connection closes */
    bool read;     /* its message ended */
    bool foreign;  /* the last request went to another origin than the client's */
    bool routed;   /* the last request went through the client's reverse route */
    char *next;    /* where the redirect being dropped leads */
    char *last;    /* the URL asked last, once a redirect was followed */
    /* every URL asked in the chain, the client's first, as hashes: a chain
       holds 21 at most, and its loops are found without keeping them */
    uint64_t seen[CFG_FOLLOW_MAX_LIMIT + 1];
    struct store_writer *writer; /* the final response under its own key (cache.c) */
};

static bool follow_status(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* The registrable domain of host (the Public Suffix List), or host itself
   for an IP literal or a name that has none (localhost, a bare suffix). */
static const char *follow_site(const char *host)
{
    if (strchr(host, ':') || strspn(host, "0123456789.") == strlen(host))
        return host;
    const char *d = psl_registrable_domain(psl_builtin(), host);
    return d ? d : host;
}

bool follow_in_scope(enum cfg_follow_scope scope, const char *from, const char *to)
{
    struct url a, b;
    if (url_parse_absolute(from, strlen(from), &a) < 0 ||
        url_parse_absolute(to, strlen(to), &b) < 0)
        return false;
    switch (scope) {
    case CFG_FOLLOW_SAME_ORIGIN:
        return a.https == b.https && a.port == b.port && strcmp(a.host, b.host) == 0;
    case CFG_FOLLOW_SAME_SITE:
        /* http may become https, never the other way */
        return (!a.https || b.https) && strcmp(follow_site(a.host), follow_site(b.host)) == 0;
    case CFG_FOLLOW_ANY:
        return true;
    }
    return false;
}

uint64_t follow_hash(const char *url)
{
    return hash_fnv1a(url, 0);
}

enum follow_verdict follow_decide(const char *first, const uint64_t *seen, unsigned hops,
                                  unsigned max, enum cfg_follow_scope scope, const char *to)
{
    if (!follow_in_scope(scope, first, to))
        return FOLLOW_PASS;
    uint64_t h = follow_hash(to);
    for (unsigned i = 0; i <= hops; i++)
        if (seen[i] == h) /* a collision can only end a chain early, never miss a loop */
            return FOLLOW_LOOP;
    return hops >= max ? FOLLOW_TOO_MANY : FOLLOW_GO;
}

bool follow_dropping(const struct exchange *ex)
{
    return ex->follow && ex->follow->dropping;
}

bool follow_ready(const struct exchange *ex)
{
    const struct follow *f = ex->follow;
    return f && f->dropping && (f->cut || f->read);
}

void follow_read(struct exchange *ex)
{
    ex->follow->read = true;
}

unsigned follow_hops(const struct exchange *ex)
{
    return ex->follow ? ex->follow->hops : 0;
}

const char *follow_final_url(const struct exchange *ex)
{
    return ex->follow ? ex->follow->last : NULL;
}

bool follow_routed(const struct exchange *ex)
{
    return !ex->follow || ex->follow->routed;
}

struct store_writer **follow_writer(struct exchange *ex)
{
    return ex->follow ? &ex->follow->writer : NULL;
}

void follow_free(struct exchange *ex)
{
    struct follow *f = ex->follow;
    if (!f)
        return;
    if (f->writer)
        store_abort(f->writer);
    free(f->last);
    free(f->next);
    free(f);
    ex->follow = NULL;
}

/* Visible ASCII only: the URL goes into a request line and the access log. */
static bool follow_printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return false;
    return true;
}

/* The one Location of m, or NULL (none, or several: which one is meant?). */
static const char *follow_location(const struct http_msg *m)
{
    const char *v = NULL;
    for (size_t i = 0; i < m->nhdrs; i++) {
        if (m->hdrs[i].name_len != 8 || strcasecmp(http_hname(m, &m->hdrs[i]), "Location") != 0)
            continue;
        if (v)
            return NULL;
        v = http_hvalue(m, &m->hdrs[i]);
    }
    return v && *v ? v : NULL;
}

static struct follow *follow_state(struct exchange *ex)
{
    if (!ex->follow && (ex->follow = calloc(1, sizeof(*ex->follow))))
        ex->follow->seen[0] = follow_hash(ex->url);
    return ex->follow;
}

/* Whether acl.rules would refuse the client asking u itself: magpie does
   not fetch on its behalf what it may not fetch for itself. */
static bool follow_denied(const struct client *c, const struct url *u)
{
    const struct cfg_acl_rule *r =
        c->cfg->nacl_rules ? config_acl_rule(c->cfg, &c->addr.sa, u->host, u->port, c->ex->method)
                           : NULL;
    return r && r->deny;
}

/* A redirect that ends the chain: loop or too many, answered 502. */
static int follow_fail(struct client *c, const char *why, const char *url)
{
    char reason[FOLLOW_URL_MAX + 128];
    snprintf(reason, sizeof(reason), "%s: %s", why, url);
    log_info("#%llu %s: %s %s: %s", c->id, c->addr_text, c->ex->method, c->ex->url, reason);
    exchange_fail(c, 502, reason);
    return -1;
}

int follow_head(struct client *c, const struct http_msg *m)
{
    struct exchange *ex = c->ex;
    const struct cfg_cache_rule *rule = ex->cx.rule;
    /* a request body is streamed up, not kept: no second request could carry it */
    if (!rule->follow_max || !follow_status(m->status) || ex->ws_upgrade || !ex->bodiless ||
        (ex->method_id != HTTP_M_GET && ex->method_id != HTTP_M_HEAD))
        return 0;
    const char *loc = follow_location(m);
    struct follow *f = loc ? follow_state(ex) : NULL;
    if (!f)
        return 0;
    char pub[FOLLOW_URL_MAX], to[FOLLOW_URL_MAX];
    struct url u;
    loc = location_public(c, loc, pub, sizeof(pub));
    if (url_resolve(f->last ? f->last : ex->url, loc, to, sizeof(to)) < 0 ||
        strlen(to) > c->cfg->limits.max_uri_bytes || !follow_printable(to) ||
        url_parse_absolute(to, strlen(to), &u) < 0)
        return 0; /* not an http(s) URL magpie can ask: the client may know better */
    char why[64];
    switch (follow_decide(ex->url, f->seen, f->hops, rule->follow_max, rule->follow_scope, to)) {
    case FOLLOW_GO:
        break;
    case FOLLOW_PASS:
        log_debug("#%llu %s: redirect to %s is outside the rule's scope: passed on", c->id,
                  c->addr_text, to);
        return 0;
    case FOLLOW_LOOP:
        return follow_fail(c, "redirect loop: asked twice", to);
    case FOLLOW_TOO_MANY:
        snprintf(why, sizeof(why), "more than %u redirects, the next to", rule->follow_max);
        return follow_fail(c, why, to);
    }
    if (follow_denied(c, &u)) {
        log_debug("#%llu %s: redirect to %s is denied by acl.rules: passed on", c->id, c->addr_text,
                  to);
        return 0; /* the client asks it itself, and acl.rules judge that request */
    }
    if (!(f->next = strdup(to))) {
        exchange_fail(c, 502, "out of memory following a redirect");
        return -1;
    }
    f->dropping = true;
    f->read = false;
    f->cut = ex->method_id != HTTP_M_HEAD && m->content_length != 0 &&
             (m->content_length < 0 || m->content_length > FOLLOW_DRAIN_MAX);
    ex->up.keep_alive = m->keep_alive;
    return 1;
}

/* Whether url's authority is the Host the client asked its reverse route
   for, in the client's scheme: then it goes through the route again. */
static bool follow_via_route(const struct client *c, const char *url)
{
    const struct http_msg *req = http_reader_msg(c->reader);
    const struct http_header *host = req ? http_find(req, "Host") : NULL;
    const char *scheme = c->sock.tls ? "https://" : "http://";
    size_t slen = strlen(scheme);
    if (!c->ex->cx.rt || !host || strncmp(url, scheme, slen) != 0)
        return false;
    const char *auth = url + slen;
    size_t alen = strcspn(auth, "/?#");
    return alen == host->value_len && strncasecmp(auth, http_hvalue(req, host), alen) == 0;
}

/* The next request's origin and head, for url. -1 after answering. */
static int follow_request(struct client *c, const char *url)
{
    struct exchange *ex = c->ex;
    struct follow *f = ex->follow;
    const struct http_msg *req = http_reader_msg(c->reader);
    struct url u;
    if (!req || url_parse_absolute(url, strlen(url), &u) < 0) {
        exchange_fail(c, 502, "cannot follow the redirect");
        return -1;
    }
    const struct cfg_route *rt = ex->cx.rt;
    char authority[URL_HOST_MAX + 8];
    const char *host_hdr = authority;
    f->routed = follow_via_route(c, url);
    f->foreign = !follow_in_scope(CFG_FOLLOW_SAME_ORIGIN, ex->url, url);
    if (f->routed) {
        host_hdr = http_hvalue(req, http_find(req, "Host"));
        snprintf(ex->up.host, sizeof(ex->up.host), "%s", rt->origin_host);
        ex->up.port = rt->origin_port;
        ex->up.https = rt->origin_tls;
        ex->up.verify = rt->tls_verify;
        ex->up.forward = false;
    } else {
        if (u.port == (u.https ? 443 : 80))
            snprintf(authority, sizeof(authority), strchr(u.host, ':') ? "[%s]" : "%s", u.host);
        else
            url_format_hostport(authority, sizeof(authority), u.host, u.port);
        snprintf(ex->up.host, sizeof(ex->up.host), "%s", u.host);
        ex->up.port = u.port;
        ex->up.https = u.https;
        ex->up.verify = c->cfg->upstream.tls.verify;
        ex->up.forward = true; /* wherever a redirect points, the destination checks apply */
    }
    ex->up.out.off = ex->up.out.len = 0;
    if (client_build_request(c, req, u.path, u.path_len, host_hdr, f->routed, f->foreign) < 0) {
        exchange_fail(c, 502, "the request for a redirect's Location is too large");
        return -1;
    }
    return 0;
}

void follow_go(struct client *c)
{
    struct exchange *ex = c->ex;
    struct follow *f = ex->follow;
    char *url = f->next;
    f->next = NULL;
    free(f->last);
    f->last = url;
    f->seen[++f->hops] = follow_hash(url);
    f->dropping = false;
    if (f->cut) {
        upstream_close(c);
    } else {
        ex->rsp_done = true; /* the redirect's message: its connection may be reused */
        upstream_done(c);
        ex->rsp_done = false;
    }
    ex->status = 0;
    ex->framing = HTTP_FRAME_NONE;
    log_debug("#%llu %s: %s %s: following redirect %u to %s", c->id, c->addr_text, ex->method,
              ex->url, f->hops, url);
    if (follow_request(c, url) == 0)
        upstream_start(c);
}
