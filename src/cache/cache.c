/*
 * cache/cache.c - the cache in the request path. A GET or HEAD through an
 * enabled cache is looked up by its key (url_cache_key) and, when the
 * stored response varies, by the request's values of the Vary fields; a
 * response policy.c deems usable is served from disk, anything else goes
 * upstream, and a storable response is written to the store while it
 * streams to the client. Unsafe methods invalidate what they touch.
 */
#include "cache/cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache_int.h"
#include "cache/tags.h"
#include "hash.h"
#include "log.h"
#include "proxy.h"

#define CACHE_FLIGHT_BUCKETS 4096

static bool cache_collapse(struct client *c);
static struct cache_flight *cache_flight_find(struct server *srv, const char *key, uint8_t coding);
static struct cache_flight *cache_flight_new(struct client *c, const char *key, uint8_t coding);
static uint8_t cache_flight_coding(const struct client *c);
static void cache_flights_doom(struct server *srv, const char *key);
static bool cache_follow_open(struct client *fc, struct cache_flight *f, struct store_writer *w);
static void cache_flight_decide(struct client *leader, const struct http_msg *m);
static void cache_flight_progress(struct client *leader, uint64_t written);
static void cache_flight_end(struct client *leader, bool complete);
static void cache_unfollow(struct client *c);
static bool cache_parse_stored(struct cache_xchg *x);

struct store *cache_open(const struct config *cfg)
{
    if (!cfg->cache.enabled)
        return NULL;
    char err[512];
    struct store *s = store_open(cfg->cache.dir, cfg->cache.max_size, cfg->cache.max_object_size,
                                 err, sizeof(err));
    if (!s) {
        log_error("cache disabled: %s: %s", cfg->cache.dir, err);
        return NULL;
    }
    if (store_set_memory(s, cfg->cache.memory_size) < 0)
        log_error("cache: no memory for the memory tier; serving from disk only");
    return s;
}

const char *cache_result_name(enum cache_result r)
{
    switch (r) {
    case CACHE_NONE:
        return "DIRECT";
    case CACHE_BYPASS:
        return "BYPASS";
    case CACHE_MISS:
        return "MISS";
    case CACHE_HIT:
        return "HIT";
    case CACHE_STALE:
        return "STALE";
    case CACHE_REVALIDATED:
        return "REVALIDATED";
    case CACHE_REDIRECT:
        return "REDIRECT";
    }
    return "DIRECT";
}

void cache_xchg_reset(struct client *c)
{
    if (!c->ex)
        return;
    struct cache_xchg *x = &c->ex->cx;
    if (x->flight && x->role == ROLE_FOLLOWER)
        cache_unfollow(c);
    else if (x->flight)
        cache_flight_end(c, false);
    if (x->writer)
        store_abort(x->writer);
    store_obj_close(&x->obj);
    http_reader_free(&x->head);
    free(x->key);
    memset(x, 0, sizeof(*x));
    x->obj.fd = -1;
    x->rule = &config_default_rule;
}

/* ---- requests ---- */

static void cache_request_cc(const struct http_msg *m, struct cc *cc)
{
    bool any = false;
    cc_init(cc);
    for (size_t i = 0; i < m->nhdrs; i++) {
        if (m->hdrs[i].name_len == 13 &&
            strcasecmp(http_hname(m, &m->hdrs[i]), "Cache-Control") == 0) {
            cc_parse(cc, http_hvalue(m, &m->hdrs[i]));
            any = true;
        }
    }
    const char *pragma = cache_hval(m, "Pragma");
    if (!any && pragma && http_list_has(pragma, "no-cache"))
        cc->no_cache = true; /* RFC 9111 §5.4: Pragma counts only without Cache-Control */
}

static int cache_noop_head(void *arg, struct http_msg *m)
{
    (void)arg, (void)m;
    return 0;
}

static int cache_noop_body(void *arg, const char *p, size_t n)
{
    (void)arg, (void)p, (void)n;
    return 0;
}

static int cache_noop_done(void *arg)
{
    (void)arg;
    return 0;
}

static const struct http_reader_ops cache_head_ops = {
    .on_head = cache_noop_head,
    .on_body = cache_noop_body,
    .on_done = cache_noop_done,
};

/* Parses the stored head block of x->obj; false if it is not a response head. */
static bool cache_parse_stored(struct cache_xchg *x)
{
    http_reader_free(&x->head);
    x->head = http_reader_new(false, &cache_head_ops, NULL);
    if (!x->head)
        return false;
    http_reader_expect_no_body(x->head);
    enum http_error err;
    http_reader_feed(x->head, x->obj.head, x->obj.head_len, &err);
    if (err == HTTP_OK && http_reader_msg(x->head)->status >= 200)
        return true;
    http_reader_free(&x->head);
    return false;
}

const struct http_msg *cache_stored_msg(struct cache_xchg *x)
{
    if (!x->head && !cache_parse_stored(x))
        return NULL;
    return http_reader_msg(x->head);
}

bool cache_stored_facts(struct cache_xchg *x, struct cache_resp *r)
{
    const struct cache_prep *p = cache_prep_of(x);
    if (p) {
        *r = p->r;
        return true;
    }
    /* no memory copy, or no memory for its preparation: parse the head */
    const struct http_msg *m = cache_stored_msg(x);
    if (!m)
        return false;
    cache_facts(m, x->rt != NULL, x->rule->targeted_field, x->obj.request_time,
                x->obj.response_time, r);
    return true;
}

static void cache_drop_obj(struct cache_xchg *x)
{
    store_obj_close(&x->obj);
    http_reader_free(&x->head);
}

bool cache_refresh_sends(struct client *c, const char *name)
{
    struct cache_xchg *x = &c->ex->cx;
    const struct http_msg *stored = cache_stored_msg(x);
    char vary[CACHE_VARIANT_MAX];
    struct cache_resp r;
    if (!stored)
        return false;
    cache_vary_of(stored, vary, sizeof(vary));
    if (http_list_has(vary, name))
        return true; /* keyed on it: the refresh must ask for the same variant */
    if (strcasecmp(name, "Authorization") != 0 || !cache_stored_facts(x, &r))
        return false;
    /* RFC 9111 §3.5: what permitted storing it for an authorized request */
    return r.cc.public_ || r.cc.s_maxage != CC_UNSET || r.cc.must_revalidate;
}

int cache_refresh_lead(struct client *p, const struct client *c)
{
    struct cache_flight *f = cache_flight_new(p, c->ex->cx.key, cache_flight_coding(c));
    if (!f)
        return -1;
    p->ex->cx.flight = f;
    return 0;
}

/*
 * A stale stored response: go up conditional on its validators when the
 * client's request is not conditional itself, and keep it open while it may
 * still answer (a 304, or stale-if-error).
 */
static void cache_plan_revalidation(struct client *c, const struct http_msg *req,
                                    const struct cache_resp *r, double lifetime, double age)
{
    struct cache_xchg *x = &c->ex->cx;
    const struct http_msg *stored = cache_stored_msg(x);
    bool conditional = http_find(req, "If-None-Match") || http_find(req, "If-Modified-Since") ||
                       http_find(req, "Range") || http_find(req, "If-Range");
    x->result = CACHE_STALE;
    x->age = age;
    x->revalidate = stored && stored->status == 200 && !conditional &&
                    (cache_hval(stored, "ETag") || cache_hval(stored, "Last-Modified"));
    x->stale_if_error = policy_stale_if_error(&x->req_cc, r, lifetime, age);
    x->stale_on_error = policy_stale_on_error(r, lifetime, age, c->cfg->cache.stale_on_error);
    if (!x->revalidate && !x->stale_if_error && !x->stale_on_error)
        cache_drop_obj(x);
}

/* The lifetime of the stored response answering, for Cache-Status's ttl=. */
static void cache_keep_lifetime(struct cache_xchg *x, double lifetime)
{
    x->lifetime = lifetime < INT32_MAX ? (int32_t)lifetime : INT32_MAX;
}

/* 1 when a stored response can answer m as it is, else 0. */
static int cache_lookup(struct client *c, const struct http_msg *m)
{
    struct cache_xchg *x = &c->ex->cx;
    struct store *st = c->srv->store;
    const char *vary = store_vary(st, x->key);
    char variant[CACHE_VARIANT_MAX];
    x->fwd = vary ? FWD_VARY_MISS : FWD_URI_MISS;
    if (!vary || !cache_variant(c, vary, variant, sizeof(variant)))
        return 0;
    if (store_get(st, x->key, variant, &x->obj) < 0)
        return 0;
    struct cache_resp r;
    if (!cache_stored_facts(x, &r)) {
        log_warn("cache: unparsable stored head for %s; removing it", x->key);
        cache_drop_obj(x);
        store_remove(st, x->key);
        return 0;
    }
    time_t now = (time_t)ev_now(c->srv->loop);
    double lifetime = policy_freshness_lifetime(&r, x->rule->default_ttl, x->rule->max_ttl);
    double age = policy_current_age(&r, now);
    enum policy_use use = policy_use(&x->req_cc, &r, lifetime, age);
    cache_keep_lifetime(x, lifetime);
    /* fresh, yet not for this request: its directives (no-cache, max-age...) */
    x->fwd = lifetime > age && !r.cc.no_cache ? FWD_REQUEST : FWD_STALE;
    if (c->phantom || use == USE_REVALIDATE) {
        cache_plan_revalidation(c, m, &r, lifetime, age);
        return 0;
    }
    x->result = use == USE_FRESH ? CACHE_HIT : CACHE_STALE;
    x->age = age;
    if (use == USE_STALE_REVALIDATE) {
        x->swr = true;
        if (!cache_flight_find(c->srv, x->key, cache_flight_coding(c)))
            exchange_refresh(c, m);
    }
    return 1;
}

/*
 * Invalidation and PURGE: what is stored goes, and so does the fetch of key
 * in flight, which may predate the change: it is not stored (store_remove
 * dooms a writer already open) and later requests do not join it.
 */
static int cache_remove(struct server *srv, const char *key)
{
    cache_flights_doom(srv, key);
    return srv->store ? store_remove(srv->store, key) : 0;
}

int cache_purge(struct client *c, const struct http_msg *m, bool https, const char *host,
                uint16_t port, const char *path, size_t path_len, const struct cfg_route *rt)
{
    char key[CACHE_KEY_MAX];
    if (cache_key_for(rt, c->ex->cx.rule, rt ? cache_hval(m, "Host") : NULL, https, host, port,
                      path, path_len, key, sizeof(key)) < 0)
        return -1;
    return cache_remove(c->srv, key);
}

/* Each tag of every Surrogate-Key and Cache-Tag field of m, at most
   TAGS_PURGE_MAX of them; the objects removed, or -1 when m names none. */
int cache_purge_tags(struct client *c, const struct http_msg *m)
{
    unsigned ntags = 0;
    int n = 0;
    for (size_t i = 0; i < m->nhdrs && ntags < TAGS_PURGE_MAX; i++) {
        const struct http_header *h = &m->hdrs[i];
        char sep = tags_field_sep(http_hname(m, h), h->name_len);
        const char *v = http_hvalue(m, h), *tag;
        size_t pos = 0, len;
        while (sep && ntags < TAGS_PURGE_MAX &&
               (len = tags_next(v, h->value_len, &pos, sep, &tag))) {
            ntags++;
            n += c->srv->store ? store_purge_tag(c->srv->store, tag, len) : 0;
        }
    }
    return ntags ? n : -1;
}

enum cache_decision cache_request(struct client *c, const struct http_msg *m, bool https,
                                  const char *host, uint16_t port, const char *path,
                                  size_t path_len, const struct cfg_route *rt)
{
    struct cache_xchg *x = &c->ex->cx;
    struct store *st = c->srv->store;
    char key[CACHE_KEY_MAX];
    x->result = CACHE_BYPASS;
    if (!st)
        return CACHE_GO_UP; /* no store: nothing to look up or invalidate */
    if (cache_key_for(rt, c->ex->cx.rule, rt ? cache_hval(m, "Host") : NULL, https, host, port,
                      path, path_len, key, sizeof(key)) < 0)
        return CACHE_GO_UP;
    x->key = strdup(key);
    if (!x->key)
        return CACHE_GO_UP;
    if (c->ex->method_id != HTTP_M_GET && c->ex->method_id != HTTP_M_HEAD) {
        x->why = WHY_METHOD;
        return CACHE_GO_UP;
    }
    if (!x->rule->enabled) {
        x->why = WHY_RULE_DISABLED;
        return CACHE_GO_UP;
    }
    if (!c->ex->bodiless) {
        x->why = WHY_BODY; /* an origin may answer a GET by its body, which no key holds */
        return CACHE_GO_UP;
    }
    cache_request_cc(m, &x->req_cc);
    if (x->req_cc.no_store) {
        x->why = WHY_NO_STORE;
        return CACHE_GO_UP;
    }
    x->req_auth = http_find(m, "Authorization") != NULL;
    x->lookup = true;
    x->result = CACHE_MISS;
    if (cache_lookup(c, m))
        return CACHE_SERVE;
    if (x->req_cc.only_if_cached) {
        x->why = WHY_ONLY_IF_CACHED;
        return CACHE_NOT_STORED;
    }
    if (x->result == CACHE_MISS && c->ex->method_id == HTTP_M_GET && !store_obj_is_open(&x->obj))
        return cache_collapse(c) ? CACHE_FOLLOW : CACHE_GO_UP;
    return CACHE_GO_UP;
}

/* ---- storing responses ---- */

/* The status line of m, as a stored head starts: with the origin's
   version, which hits name in Via. */
static int cache_put_status(const struct http_msg *m, struct buf *out)
{
    return http_put_status_v(out, m->minor, m->status, http_str(m, m->reason));
}

/* m's end-to-end fields, framing left out (a stored body has its length),
   and Set-Cookie too when no_cookie. */
static int cache_put_fields(const struct http_msg *m, bool no_cookie, struct buf *out)
{
    for (size_t i = 0; i < m->nhdrs; i++) {
        const struct http_header *h = &m->hdrs[i];
        const char *name = http_hname(m, h);
        if (h->hop || strcasecmp(name, "Content-Length") == 0 ||
            (no_cookie && strcasecmp(name, "Set-Cookie") == 0))
            continue;
        if (http_put_header(out, m, h) < 0)
            return -1;
    }
    return 0;
}

/* The head block as stored: the origin's status and end-to-end headers
   (cache.set_cookie: strip leaves Set-Cookie out). */
static int cache_head_block(const struct http_msg *m, bool no_cookie, struct buf *out)
{
    if (cache_put_status(m, out) < 0 || cache_put_fields(m, no_cookie, out) < 0)
        return -1;
    return buf_append(out, "\r\n", 2);
}

/* Removes what a Location or Content-Location names, if same-origin. */
static void cache_invalidate_ref(struct client *c, const char *ref)
{
    const char *key = c->ex->cx.key;
    const char *rest = strstr(key, "://");
    if (!ref || !rest)
        return;
    const char *slash = strchr(rest + 3, '/');
    size_t origin_len = slash ? (size_t)(slash - key) : strlen(key);
    char other[CACHE_KEY_MAX];
    if (cache_ref_key(c, ref, other, sizeof(other)) < 0 || strncmp(other, key, origin_len) != 0 ||
        other[origin_len] != '/')
        return; /* another origin: RFC 9111 §4.4 forbids touching it */
    cache_remove(c->srv, other);
}

static void cache_invalidate(struct client *c, const struct http_msg *m)
{
    if (!c->srv->store || !c->ex->cx.key || !policy_invalidates(c->ex->method_id, m->status))
        return;
    int n = cache_remove(c->srv, c->ex->cx.key);
    cache_invalidate_ref(c, cache_hval(m, "Location"));
    cache_invalidate_ref(c, cache_hval(m, "Content-Location"));
    log_debug("#%llu %s: %s invalidated %s (%d stored)", c->id, c->addr_text, c->ex->method,
              c->ex->cx.key, n);
}

int cache_request_headers(struct client *c, struct buf *out)
{
    struct cache_xchg *x = &c->ex->cx;
    if (!x->revalidate)
        return 0;
    const struct http_msg *stored = cache_stored_msg(x);
    if (!stored)
        return 0;
    char base[1024];
    const char *etag = compress_plan_revalidation_tag(c, stored, base, sizeof(base));
    const char *lm = cache_hval(stored, "Last-Modified");
    if (etag && buf_printf(out, "If-None-Match: %s\r\n", etag) < 0)
        return -1;
    if (lm && buf_printf(out, "If-Modified-Since: %s\r\n", lm) < 0)
        return -1;
    return 0;
}

/* The stored head updated with a 304's fields (RFC 9111 §3.2, §4.3.4).
   A 304's Set-Cookie answers the one client that revalidated: it is not
   merged, and the stored response keeps what it had. */
static int cache_merged_head(const struct http_msg *stored, const struct http_msg *m,
                             struct buf *out)
{
    if (cache_put_status(stored, out) < 0)
        return -1;
    for (size_t i = 0; i < stored->nhdrs; i++) {
        const char *name = http_hname(stored, &stored->hdrs[i]);
        const struct http_header *h = http_find(m, name);
        if (h && !h->hop && strcasecmp(name, "Content-Length") != 0 &&
            strcasecmp(name, "Set-Cookie") != 0)
            continue; /* the 304's value replaces it */
        if (http_put_header(out, stored, &stored->hdrs[i]) < 0)
            return -1;
    }
    if (cache_put_fields(m, true, out) < 0)
        return -1;
    return buf_append(out, "\r\n", 2);
}

/* A 304 to our revalidation: the stored response is fresh again. */
static void cache_refresh(struct client *c, const struct http_msg *m)
{
    struct cache_xchg *x = &c->ex->cx;
    const struct http_msg *stored = cache_stored_msg(x);
    char vary[CACHE_VARIANT_MAX], variant[CACHE_VARIANT_MAX];
    if (!stored)
        return;
    cache_vary_of(stored, vary, sizeof(vary));
    struct buf head;
    buf_init(&head, c->cfg->limits.max_header_bytes * 2);
    if (cache_variant(c, vary, variant, sizeof(variant)) &&
        cache_merged_head(stored, m, &head) == 0)
        store_refresh(c->srv->store, x->key, variant, buf_head(&head), buf_used(&head),
                      (time_t)c->ex->started, (time_t)ev_now(c->srv->loop));
    buf_free(&head);
}

static void cache_store_response(struct client *c, const struct http_msg *m);

/* Whether the request as sent upstream was conditional: the client's
   forwarded If-None-Match or If-Modified-Since, or our revalidation's. */
static bool cache_sent_validator(struct client *c)
{
    const struct http_msg *req = http_reader_msg(c->reader);
    if (c->ex->cx.revalidate)
        return true;
    for (size_t i = 0; req && i < req->nhdrs; i++) {
        const struct http_header *h = &req->hdrs[i];
        const char *n = http_hname(req, h);
        if (!h->hop &&
            (strcasecmp(n, "If-None-Match") == 0 || strcasecmp(n, "If-Modified-Since") == 0))
            return true;
    }
    return false;
}

int cache_response_head(struct client *c, const struct http_msg *m)
{
    struct cache_xchg *x = &c->ex->cx;
    if (m->status == 304 && !cache_sent_validator(c)) {
        /* RFC 9110 §15.4.5: a 304 answers a conditional request only; this
           one would hand the client an empty body as if it were current */
        x->instead = INSTEAD_BAD_304;
        return 1; /* read and dropped, then 502 (exchange_serve_stored) */
    }
    if (x->revalidate) /* our conditional request's answer */
        m->status == 304 ? c->srv->metrics.revalidated++ : c->srv->metrics.revalidation_full++;
    cache_invalidate(c, m);
    if (store_obj_is_open(&x->obj) && m->status == 304 && x->revalidate) {
        cache_refresh(c, m);
        x->result = CACHE_REVALIDATED;
        x->instead = INSTEAD_REVALIDATED;
        return 1;
    }
    if (store_obj_is_open(&x->obj) && m->status >= 500 && x->stale_if_error) {
        x->fwd_status = m->status;
        x->instead = INSTEAD_STALE_5XX;
        return 1;
    }
    if (store_obj_is_open(&x->obj))
        cache_drop_obj(x); /* a full response replaces what was stored */
    cache_store_response(c, m);
    cache_flight_decide(c, m);
    return 0;
}

/*
 * cache.set_cookie for a response with Set-Cookie, which would hand one
 * user's cookie to the next: explicit stores it only when the origin said
 * it may be shared (RFC 9111 §3.1, §7.3), strip stores it without the
 * field, never does not store it.
 */
static bool cache_cookie_storable(const struct client *c, const struct http_msg *m,
                                  const struct cache_resp *r, bool *strip)
{
    *strip = false;
    if (!http_find(m, "Set-Cookie"))
        return true;
    switch (c->cfg->cache.set_cookie) {
    case CFG_SET_COOKIE_EXPLICIT:
        /* no-cache="Set-Cookie": the origin shares the rest, not the cookie */
        *strip = r->cc.no_cache_cookie;
        return *strip || policy_explicitly_cacheable(r);
    case CFG_SET_COOKIE_STRIP:
        *strip = true;
        return true;
    case CFG_SET_COOKIE_NEVER:
        return false;
    }
    return false;
}

/* Whether rule lets the response r to c's request be stored: policy's
   verdict, then a response stale at once and impossible to validate,
   which could never be reused. */
static enum policy_why cache_verdict(const struct client *c, const struct cache_resp *r,
                                     const struct cfg_cache_rule *rule)
{
    const struct cache_xchg *x = &c->ex->cx;
    enum policy_why why =
        policy_store_verdict(c->ex->method_id, &x->req_cc, x->req_auth, r, rule->default_ttl);
    if (why == WHY_NONE && policy_freshness_lifetime(r, rule->default_ttl, rule->max_ttl) <= 0 &&
        !r->has_etag && r->last_modified < 0)
        why = WHY_NO_FRESHNESS;
    return why;
}

/* Whether a request governed by a is sent as one governed by b: the
   response to one may then be stored for the other. */
static bool cache_same_edits(const struct cfg_cache_rule *a, const struct cfg_cache_rule *b)
{
    return a == b || (!a->request_headers.nset && !a->request_headers.nremove &&
                      !b->request_headers.nset && !b->request_headers.nremove);
}

/*
 * A response reached by following redirects is stored under its own URL's
 * key too, as that URL's rule allows: asked for directly, it is a hit. Not
 * for one fetched past the client's reverse route, which no request for
 * its key would ask, nor when that URL's rule would edit the request
 * otherwise (its header rules): stored there, it would answer requests
 * other than the one that fetched it.
 */
static void cache_store_final(struct client *c, const struct cache_resp *r, const struct buf *head,
                              const char *variant, const char *vary)
{
    struct cache_xchg *x = &c->ex->cx;
    const char *url = follow_final_url(c->ex);
    struct store_writer **w = follow_writer(c->ex);
    char key[CACHE_KEY_MAX];
    if (!url || (x->rt && !follow_routed(c->ex)) || cache_ref_key(c, url, key, sizeof(key)) < 0 ||
        strcmp(key, x->key) == 0)
        return;
    const struct cfg_cache_rule *rule = config_cache_rule(c->cfg, x->rt, url, strlen(url));
    if (!cache_same_edits(rule, x->rule) || !rule->enabled || cache_verdict(c, r, rule) != WHY_NONE)
        return;
    *w = store_begin(c->srv->store, key, variant, vary, buf_head(head), buf_used(head),
                     (time_t)c->ex->started, (time_t)ev_now(c->srv->loop));
}

/* Opens a writer for a storable response (x->writer stays NULL otherwise). */
static void cache_store_response(struct client *c, const struct http_msg *m)
{
    struct cache_xchg *x = &c->ex->cx;
    struct store *st = c->srv->store;
    if (!x->lookup || !st)
        return;
    if (c->ex->method_id != HTTP_M_GET || (x->flight && x->flight->doomed)) {
        x->why = c->ex->method_id != HTTP_M_GET ? WHY_METHOD : WHY_INVALIDATED;
        return;
    }
    time_t now = (time_t)ev_now(c->srv->loop);
    struct cache_resp r;
    cache_facts(m, x->rt != NULL, x->rule->targeted_field, (time_t)c->ex->started, now, &r);
    if ((x->why = cache_verdict(c, &r, x->rule)) != WHY_NONE)
        return;
    if (m->content_length > 0 && (uint64_t)m->content_length > c->cfg->cache.max_object_size) {
        x->why = WHY_TOO_LARGE;
        return;
    }
    bool strip = false;
    if (!cache_cookie_storable(c, m, &r, &strip)) {
        x->why = WHY_SET_COOKIE;
        return;
    }
    char vary[CACHE_VARIANT_MAX], variant[CACHE_VARIANT_MAX];
    if (!cache_vary_of(m, vary, sizeof(vary)) || cache_vary_rewritten(vary, x->rt) ||
        !cache_variant(c, vary, variant, sizeof(variant))) {
        x->why = WHY_VARY;
        return;
    }
    struct buf head;
    buf_init(&head, c->cfg->limits.max_header_bytes * 2);
    if (cache_head_block(m, strip, &head) == 0) {
        x->writer = store_begin(st, x->key, variant, vary, buf_head(&head), buf_used(&head),
                                (time_t)c->ex->started, now);
        if (x->writer)
            cache_store_final(c, &r, &head, variant, vary);
    }
    struct cache_flight *f = x->flight;
    if (x->writer && f && f->leader == c && (f->head = malloc(buf_used(&head)))) {
        memcpy(f->head, buf_head(&head), buf_used(&head));
        f->head_len = buf_used(&head);
        f->variant = strdup(variant);
        f->vary = strdup(vary);
        f->request_time = (time_t)c->ex->started;
        f->response_time = now;
        if (!f->variant || !f->vary) {
            free(f->head);
            f->head = NULL;
        }
    }
    buf_free(&head);
    if (!x->writer)
        x->why = WHY_STORE_FAILED;
    /* "stored" goes out in the head, before the body: claimed only for a
       known length that fits with its space reserved (a body of unknown
       length may still pass max_object_size, and a close cannot be told
       from a failure) */
    x->sure = x->writer && m->content_length >= 0 && c->ex->method_id == HTTP_M_GET &&
              store_writer_reserve(x->writer, (uint64_t)m->content_length) == 0;
}

enum cache_after cache_after_intercept(struct client *c)
{
    struct cache_xchg *x = &c->ex->cx;
    if (x->instead == INSTEAD_BAD_304) {
        x->instead = INSTEAD_NONE; /* once: stale-if-error may still answer from the store */
        return CACHE_BAD_304;
    }
    if (c->phantom)
        return CACHE_STORED_ONLY; /* the refresh is in the store: nobody to serve */
    if (x->result == CACHE_REVALIDATED) {
        /* serve the refreshed copy: its Age starts again */
        const char *vary = store_vary(c->srv->store, x->key);
        char variant[CACHE_VARIANT_MAX];
        struct store_obj fresh = {.fd = -1};
        struct cache_resp r;
        bool refreshed = vary && cache_variant(c, vary, variant, sizeof(variant)) &&
                         store_get(c->srv->store, x->key, variant, &fresh) == 0;
        if (refreshed) {
            cache_drop_obj(x);
            x->obj = fresh;
        } /* else invalidated meanwhile: the 304 vouches for the copy still open */
        if (!cache_stored_facts(x, &r))
            return CACHE_VANISHED;
        x->age = refreshed ? policy_current_age(&r, (time_t)ev_now(c->srv->loop)) : 0;
        cache_keep_lifetime(x,
                            policy_freshness_lifetime(&r, x->rule->default_ttl, x->rule->max_ttl));
    }
    return CACHE_SERVE_IT;
}

/*
 * Whether the origin could not be reached at all (RFC 9111 §4.2.4
 * "disconnected"): no lookup, connection or TLS handshake, or a reset or
 * timeout before it sent a byte of a response. An origin that answered,
 * even with garbage, or a full connection queue (503), is not that.
 */
static bool cache_unreachable(const struct client *c, int status)
{
    if ((status != 502 && status != 504) || c->state != CS_FETCH)
        return false;
    switch (c->ex->up.phase) {
    case UP_RESOLVE:
    case UP_CONNECT:
        return true;
    case UP_FORWARD:
        return c->ex->status == 0 && buf_empty(&c->ex->up.in);
    case UP_IDLE:
    case UP_QUEUED:
        return false;
    }
    return false;
}

bool cache_stale_on_failure(struct client *c, int status)
{
    struct cache_xchg *x = &c->ex->cx;
    if (status < 500 || !store_obj_is_open(&x->obj) || c->ex->rsp_head_sent)
        return false;
    bool unreachable = !x->stale_if_error && x->stale_on_error && cache_unreachable(c, status);
    if (!x->stale_if_error && !unreachable)
        return false;
    log_info("#%llu %s: origin failed (%d); serving the stale stored %s", c->id, c->addr_text,
             status, x->key);
    x->result = CACHE_STALE;
    x->instead = unreachable ? INSTEAD_STALE_UNREACHABLE : INSTEAD_STALE_FAILED;
    x->revalidate = false;
    return true;
}

/* The final response's copy under its own key (cache_store_final) goes
   the way of the main one. */
static void cache_final_append(struct client *c, const char *p, size_t n)
{
    struct store_writer **w = follow_writer(c->ex);
    if (w && *w && store_append(*w, p, n) < 0) {
        store_abort(*w);
        *w = NULL;
    }
}

static void cache_final_end(struct client *c, bool commit)
{
    struct store_writer **w = follow_writer(c->ex);
    if (!w || !*w)
        return;
    if (commit)
        store_commit(*w);
    else
        store_abort(*w);
    *w = NULL;
}

void cache_response_abort(struct client *c)
{
    struct cache_xchg *x = &c->ex->cx;
    cache_final_end(c, false);
    if (!x->writer)
        return;
    store_abort(x->writer);
    x->writer = NULL;
    cache_flight_end(c, false);
}

void cache_response_body(struct client *c, const char *p, size_t n)
{
    struct cache_xchg *x = &c->ex->cx;
    if (!x->writer)
        return;
    if (store_append(x->writer, p, n) < 0) {
        cache_response_abort(c);
        return;
    }
    cache_final_append(c, p, n);
    x->written += n;
    cache_flight_progress(c, x->written);
}

void cache_response_end(struct client *c)
{
    struct cache_xchg *x = &c->ex->cx;
    if (!x->writer)
        return;
    bool stored = store_commit(x->writer) == 0;
    if (!stored)
        log_debug("#%llu %s: %s was not stored", c->id, c->addr_text, x->key);
    x->writer = NULL;
    cache_final_end(c, stored);
    cache_flight_end(c, true); /* followers read the file through their own fd */
}

/* ---- collapsed forwarding ---- */

/*
 * Fetches in flight are found by key in a fixed hash table (chains stay
 * short with thousands in flight); the seed is random per process so that
 * clients cannot aim many keys at one chain.
 */
static uint64_t cache_flight_hash(const struct server *srv, const char *key)
{
    uint64_t h = hash_fnv1a(key, srv->flight_seed);
    return h ^ (h >> 29);
}

/* The table, made on first use (with the seed every hash depends on). */
static bool cache_flights_ready(struct server *srv)
{
    if (srv->flights)
        return true;
    srv->flights = calloc(CACHE_FLIGHT_BUCKETS, sizeof(*srv->flights));
    if (!srv->flights)
        return false;
    if (getrandom(&srv->flight_seed, sizeof(srv->flight_seed), GRND_NONBLOCK) < 0)
        srv->flight_seed = (uint64_t)(uintptr_t)srv->flights ^ (uint64_t)time(NULL);
    return true;
}

/*
 * With compression on, requests for one key that negotiated different
 * codings fetch different variants (Accept-Encoding goes up as the
 * coding): each coding has its own flight, so that gzip clients collapse
 * onto one fetch and br clients onto another. CODING_NONE: compression off.
 */
static uint8_t cache_flight_coding(const struct client *c)
{
    return c->ex->compress_on ? c->ex->coding_want : CODING_NONE;
}

static struct cache_flight *cache_flight_find(struct server *srv, const char *key, uint8_t coding)
{
    if (!srv->flights)
        return NULL;
    uint64_t h = cache_flight_hash(srv, key);
    for (struct cache_flight *f = srv->flights[h % CACHE_FLIGHT_BUCKETS]; f; f = f->next)
        if (f->hash == h && f->coding == coding && strcmp(f->key, key) == 0)
            return f;
    return NULL;
}

/* Every fetch of key in flight, whatever its coding, is not stored. */
static void cache_flights_doom(struct server *srv, const char *key)
{
    if (!srv->flights)
        return;
    uint64_t h = cache_flight_hash(srv, key);
    for (struct cache_flight *f = srv->flights[h % CACHE_FLIGHT_BUCKETS]; f; f = f->next)
        if (f->hash == h && strcmp(f->key, key) == 0)
            f->doomed = true;
}

/* A new fetch of key led by c; NULL when out of memory. */
static struct cache_flight *cache_flight_new(struct client *c, const char *key, uint8_t coding)
{
    struct server *srv = c->srv;
    struct cache_flight *f = calloc(1, sizeof(*f));
    if (!f || !cache_flights_ready(srv) || !(f->key = strdup(key))) {
        free(f);
        return NULL;
    }
    f->hash = cache_flight_hash(srv, key);
    f->coding = coding;
    f->leader = c;
    struct cache_flight **chain = &srv->flights[f->hash % CACHE_FLIGHT_BUCKETS];
    f->next = *chain;
    *chain = f;
    return f;
}

static void cache_flight_unlink(struct server *srv, struct cache_flight *f)
{
    struct cache_flight **pp = &srv->flights[f->hash % CACHE_FLIGHT_BUCKETS];
    while (*pp && *pp != f)
        pp = &(*pp)->next;
    if (*pp)
        *pp = f->next;
    free(f->key);
    free(f->head);
    free(f->variant);
    free(f->vary);
    free(f);
}

void cache_flights_free(struct server *srv)
{
    for (size_t i = 0; srv->flights && i < CACHE_FLIGHT_BUCKETS; i++)
        while (srv->flights[i])
            cache_flight_unlink(srv, srv->flights[i]);
    free(srv->flights);
    srv->flights = NULL;
}

/* A follower goes upstream itself, from the loop (its request is built). */
static void cache_release(struct client *c)
{
    struct cache_xchg *x = &c->ex->cx;
    x->flight = NULL;
    x->fnext = NULL;
    x->role = ROLE_OWN;
    exchange_release(c);
}

/* A complete fetch of a length only its end told: what a follower still
   sends is known now. A follower whose head is not out yet sends it with
   the length. */
static void cache_follow_end(struct client *fc, const struct cache_flight *f)
{
    struct cache_xchg *x = &fc->ex->cx;
    if (f->total != CACHE_LENGTH_UNKNOWN || x->obj.body_len != CACHE_LENGTH_UNKNOWN)
        return;
    x->obj.body_len = f->written;
    x->avail = f->written;
    if (fc->ex->rsp_head_sent && x->body_left) /* not a HEAD's or a 304's */
        x->body_left = f->written > x->body_off ? f->written - x->body_off : 0;
}

/* Ends a flight: every follower is released, or closed if it was mid-body. */
static void cache_flight_end(struct client *leader, bool complete)
{
    struct cache_xchg *x = &leader->ex->cx;
    struct cache_flight *f = x->flight;
    if (!f || f->leader != leader)
        return;
    struct client *next;
    for (struct client *fc = f->followers; fc; fc = next) {
        next = fc->ex->cx.fnext;
        fc->ex->cx.flight = NULL;
        fc->ex->cx.fnext = NULL;
        if (!f->streaming)
            cache_release(fc);
        else if (!complete && fc->ex->cx.avail < f->total)
            exchange_follow_failed(fc);
        else
            cache_follow_end(fc, f), exchange_follow_more(fc);
    }
    x->flight = NULL;
    cache_flight_unlink(leader->srv, f);
}

/* Joins the fetch of x->key in flight, or starts one. True when joined. */
static bool cache_collapse(struct client *c)
{
    struct cache_xchg *x = &c->ex->cx;
    if (x->flight)
        return false; /* a background refresh (leading its flight) that found nothing to revalidate
                       */
    struct cache_flight *f = cache_flight_find(c->srv, x->key, cache_flight_coding(c));
    if (f &&
        (f->doomed || (f->leader->ex->cx.writer && store_writer_doomed(f->leader->ex->cx.writer))))
        return false; /* sent before an invalidation or a purge: this request goes alone */
    if (f && f->streaming) {
        /* already streaming: follow it from where it is, if it is our variant */
        char variant[CACHE_VARIANT_MAX];
        if (!cache_variant(c, f->vary, variant, sizeof(variant)) ||
            strcmp(variant, f->variant) != 0 || !f->leader->ex->cx.writer)
            return false;
    }
    if (f) {
        log_debug("#%llu %s: follows #%llu's fetch of %s%s", c->id, c->addr_text, f->leader->id,
                  f->key, f->streaming ? " (streaming)" : "");
        x->flight = f;
        x->role = ROLE_FOLLOWER;
        c->srv->metrics.collapsed++;
        x->fnext = f->followers;
        f->followers = c;
        if (f->streaming && !cache_follow_open(c, f, f->leader->ex->cx.writer)) {
            cache_unfollow(c);
            x->role = ROLE_OWN;
            return false;
        }
        return true;
    }
    x->flight = cache_flight_new(c, x->key, cache_flight_coding(c));
    return false;
}

/* Opens the object a follower streams; false if it cannot. */
static bool cache_follow_open(struct client *fc, struct cache_flight *f, struct store_writer *w)
{
    struct cache_xchg *x = &fc->ex->cx;
    uint64_t body_off;
    char *head = malloc(f->head_len);
    x->obj.head = head;
    x->obj.fd = store_writer_reader(w, &body_off);
    if (x->obj.fd < 0 || !head)
        return false;
    memcpy(head, f->head, f->head_len);
    x->obj.head_len = f->head_len;
    x->obj.body_off = body_off;
    x->obj.body_len = f->total;
    x->obj.request_time = f->request_time;
    x->obj.response_time = f->response_time;
    if (!cache_parse_stored(x))
        return false;
    x->age = 0;
    x->result = CACHE_MISS;
    x->avail = f->written;
    return true;
}

/* A follower whose variant matches starts streaming from the file. */
static void cache_follow(struct client *fc, struct cache_flight *f, struct store_writer *w)
{
    if (!cache_follow_open(fc, f, w)) {
        exchange_follow_failed(fc);
        return;
    }
    exchange_follow_start(fc);
}

/* The leader's head is in: followers of its variant stream, others go alone. */
static void cache_flight_decide(struct client *leader, const struct http_msg *m)
{
    struct cache_xchg *x = &leader->ex->cx;
    struct cache_flight *f = x->flight;
    if (!f || f->leader != leader)
        return;
    bool can = x->writer && f->head;
    struct client **pp = &f->followers;
    while (*pp) {
        struct client *fc = *pp;
        char variant[CACHE_VARIANT_MAX];
        bool same = can && cache_variant(fc, f->vary, variant, sizeof(variant)) &&
                    strcmp(variant, f->variant) == 0;
        if (same) {
            pp = &fc->ex->cx.fnext;
            continue;
        }
        *pp = fc->ex->cx.fnext;
        cache_release(fc);
    }
    if (!can) {
        cache_flight_end(leader, false);
        return;
    }
    /* streaming stays registered even alone: later misses join it mid-way */
    f->streaming = true;
    /* an encoded variant's (or a chunked body's) length is known at its end */
    f->total = m->content_length >= 0 ? (uint64_t)m->content_length : CACHE_LENGTH_UNKNOWN;
    struct client *next;
    for (struct client *fc = f->followers; fc; fc = next) {
        next = fc->ex->cx.fnext; /* a follower that fails leaves the list */
        cache_follow(fc, f, x->writer);
    }
}

/* The leader stored more body: followers may send it. */
static void cache_flight_progress(struct client *leader, uint64_t written)
{
    struct cache_flight *f = leader->ex->cx.flight;
    if (!f || f->leader != leader || !f->streaming)
        return;
    f->written = written;
    leader->ex->cx.avail = written; /* for the leader too, once it reads the file */
    struct client *next;
    for (struct client *fc = f->followers; fc; fc = next) {
        next = fc->ex->cx.fnext; /* a follower that fails leaves the list */
        fc->ex->cx.avail = written;
        exchange_follow_more(fc);
    }
}

/* A follower leaves before its fetch ended (it closed, or failed). */
static void cache_unfollow(struct client *c)
{
    struct cache_flight *f = c->ex->cx.flight;
    if (!f)
        return;
    for (struct client **pp = &f->followers; *pp; pp = &(*pp)->ex->cx.fnext) {
        if (*pp == c) {
            *pp = c->ex->cx.fnext;
            break;
        }
    }
    c->ex->cx.flight = NULL;
}
