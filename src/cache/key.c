/*
 * cache/key.c - what a message says to the cache: the primary key of a
 * request (forward: the absolute URI; reverse route: the Host as
 * forwarded), its Vary secondary key over the fields as forwarded, the key
 * a Location names, and a response's freshness facts, with RFC 9213
 * targeted fields on reverse routes. No I/O, no store.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cache/cache_int.h"
#include "proxy.h"

static void cache_targeted(const struct http_msg *m, const char *field, struct cache_resp *r);

void cache_facts(const struct http_msg *m, bool routed, const char *field, time_t req_t,
                 time_t resp_t, struct cache_resp *r)
{
    memset(r, 0, sizeof(*r));
    r->status = m->status;
    cc_init(&r->cc);
    r->date = r->expires = r->last_modified = -1;
    r->age = -1;
    r->request_time = req_t;
    r->response_time = resp_t;
    bool age_seen = false;
    for (size_t i = 0; i < m->nhdrs; i++) {
        const char *n = http_hname(m, &m->hdrs[i]), *v = http_hvalue(m, &m->hdrs[i]);
        size_t len = m->hdrs[i].name_len;
        if (len != 13 && len != 4 && len != 7 && len != 3)
            continue; /* none of the names below */
        if (strcasecmp(n, "Cache-Control") == 0) {
            cc_parse(&r->cc, v);
        } else if (strcasecmp(n, "Date") == 0) {
            r->date = http_date_parse(v);
        } else if (strcasecmp(n, "Expires") == 0) {
            time_t t = http_date_parse(v);
            r->expires = t < 0 ? 0 : t; /* an invalid Expires means already expired */
        } else if (strcasecmp(n, "Last-Modified") == 0) {
            r->last_modified = http_date_parse(v);
        } else if (strcasecmp(n, "Age") == 0) {
            if (!age_seen)
                r->age = policy_age_value(v); /* the first line's first member */
            age_seen = true;
        } else if (strcasecmp(n, "Vary") == 0) {
            r->vary_star = r->vary_star || http_list_has(v, "*");
        } else if (strcasecmp(n, "ETag") == 0) {
            r->has_etag = true;
        }
    }
    if (routed)
        cache_targeted(m, field, r);
}

/* Every Vary field of m joined with ", " into out; false when they do not
   all fit (a Vary cut short would key on fewer fields than it names). */
bool cache_vary_of(const struct http_msg *m, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < m->nhdrs; i++) {
        if (strcasecmp(http_hname(m, &m->hdrs[i]), "Vary") != 0)
            continue;
        int n =
            snprintf(out + len, size - len, "%s%s", len ? ", " : "", http_hvalue(m, &m->hdrs[i]));
        if (n < 0 || (size_t)n >= size - len) {
            out[len] = '\0';
            return false;
        }
        len += (size_t)n;
    }
    return true;
}

/* What cache_req_field() reads from and combines into. */
struct cache_fields {
    const struct http_msg *req;
    const char *accept_encoding; /* compression on: the negotiated coding stands for the field */
    bool overflow;               /* a combined value did not fit: no key */
    char buf[CACHE_VARIANT_MAX];
};

/*
 * The request's value of a field as the origin got it: every field line of
 * the name combined with ", " (RFC 9110 §5.3), none when it was not
 * forwarded (hop-by-hop, named in Connection). With compression on,
 * Accept-Encoding went up as the one negotiated coding, so a thousand ways
 * of asking for gzip make one variant.
 */
static const char *cache_req_field(const char *name, void *arg)
{
    struct cache_fields *f = arg;
    if (f->accept_encoding &&
        strcmp(name, "accept-encoding") == 0) /* Vary names come lower-cased */
        return f->accept_encoding;
    bool over;
    const char *v = http_msg_value(f->req, name, true, f->buf, sizeof(f->buf), &over);
    f->overflow = f->overflow || over;
    return v;
}

/* The secondary key of c's request for a response varying on vary. */
bool cache_variant(const struct client *c, const char *vary, char *out, size_t size)
{
    if (!vary || !*vary) {
        if (size)
            out[0] = '\0';
        return size > 0;
    }
    if (c->ex->compress_on && strcasecmp(vary, "Accept-Encoding") == 0) {
        /* the usual compressible response's: the key policy_vary_key makes,
           without walking the list */
        static const char field[] = "accept-encoding:";
        const char *token = coding_name(c->ex->coding_want);
        size_t t = strlen(token), n = sizeof(field) - 1 + t + 1;
        if (n + 1 >= size)
            return false;
        memcpy(out, field, sizeof(field) - 1);
        memcpy(out + sizeof(field) - 1, token, t);
        memcpy(out + n - 1, "\n", 2);
        return true;
    }
    struct cache_fields f;
    f.req = http_reader_msg(c->reader);
    f.accept_encoding = c->ex->compress_on ? coding_name(c->ex->coding_want) : NULL;
    f.overflow = false;
    long n = policy_vary_key(vary, cache_req_field, &f, out, size);
    return n >= 0 && !f.overflow && (size_t)n + 1 < size; /* a key that fills out may be cut */
}

/* A route's X-Forwarded-For goes with the client's address appended, and
   Via with the client's HTTP version: a response varying on them was made
   for what the client did not send. */
bool cache_vary_rewritten(const char *vary, const struct cfg_route *rt)
{
    return http_list_has(vary, "Via") || (rt && http_list_has(vary, "X-Forwarded-For"));
}

/*
 * RFC 9213 on a reverse route: the first targeted field with a valid,
 * non-empty value (the route's own, then CDN-Cache-Control) decides
 * instead of Cache-Control and Expires. An invalid one is ignored.
 */
static void cache_targeted(const struct http_msg *m, const char *field, struct cache_resp *r)
{
    const char *names[] = {field, "CDN-Cache-Control"};
    struct cache_fields f;
    f.req = m;
    f.accept_encoding = NULL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        f.overflow = false;
        const char *v = names[i] ? cache_req_field(names[i], &f) : NULL;
        struct cc cc;
        if (v && !f.overflow && policy_targeted_cc(v, &cc)) {
            r->cc = cc;
            r->expires = -1;
            return;
        }
    }
}

const char *cache_hval(const struct http_msg *m, const char *name)
{
    const struct http_header *h = http_find(m, name);
    return h ? http_hvalue(m, h) : NULL;
}

/*
 * The primary key of a target: a reverse route's request is keyed on the
 * Host as forwarded (two hosts routed to one origin, or "h:9999" and "h",
 * never share entries); a forward request on its absolute URI. rt is the
 * route (NULL in forward mode), host_hdr the Host field value; the rule
 * names the query parameters left out.
 */
int cache_key_for(const struct cfg_route *rt, const struct cfg_cache_rule *rule,
                  const char *host_hdr, bool https, const char *host, uint16_t port,
                  const char *path, size_t path_len, char *key, size_t size)
{
    if (rt)
        return host_hdr ? url_cache_key_routed(host_hdr, strlen(host_hdr), path, path_len,
                                               rule->ignore_params, rule->nignore_params, key, size)
                        : -1;
    return url_cache_key(https, host, port, path, path_len, rule->ignore_params,
                         rule->nignore_params, key, size);
}

/* "scheme://authority" of the exchange's URL: the base of a reference
   that starts with "/". Its length, or 0. */
static size_t cache_url_origin(const struct client *c)
{
    const char *url = c->ex->url, *auth = url ? strstr(url, "://") : NULL;
    return auth ? (size_t)(auth + 3 - url) + strcspn(auth + 3, "/?#") : 0;
}

int cache_ref_key(struct client *c, const char *ref, char *out, size_t size)
{
    char abs[CACHE_KEY_MAX];
    size_t olen = cache_url_origin(c);
    if (ref[0] == '/' && ref[1] != '/') {
        if (!olen ||
            (size_t)snprintf(abs, sizeof(abs), "%.*s%s", (int)olen, c->ex->url, ref) >= sizeof(abs))
            return -1;
        ref = abs;
    }
    return cache_url_key(c->cfg, c->ex->cx.rt, ref, out, size, NULL);
}

int cache_url_key(const struct config *cfg, const struct cfg_route *rt, const char *url, char *out,
                  size_t size, const struct cfg_cache_rule **rulep)
{
    struct url u;
    if (url_parse_absolute(url, strlen(url), &u) < 0)
        return -1;
    const struct cfg_cache_rule *rule = config_cache_rule(cfg, rt, url, strlen(url));
    if (rulep)
        *rulep = rule;
    if (!rt)
        return cache_key_for(NULL, rule, NULL, u.https, u.host, u.port, u.path, u.path_len, out,
                             size);
    /* a routed key: the URL's authority as written stands for the Host */
    const char *auth = strstr(url, "://") + 3;
    size_t alen = strcspn(auth, "/?#");
    return url_cache_key_routed(auth, alen, u.path, u.path_len, rule->ignore_params,
                                rule->nignore_params, out, size);
}
