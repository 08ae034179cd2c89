/*
 * cache/inspect.c - what is stored for a URL, as JSON: the keys a request
 * for it would be looked up under and, for each stored variant, the facts
 * the lookup judges it by. It reads the store as a hit does (store_peek:
 * a memory copy, or the file's header and head read synchronously on the
 * loop, as store_get does) without a hit's effects, and judges with the
 * lookup's own functions (cache_url_key, cache_stored_facts,
 * policy_freshness_lifetime_src, policy_current_age, policy_use), so what
 * it says is what the cache would do. No socket and no answer here: the
 * admin listener (admin_cache.c) sends what this writes.
 */
#include "cache/inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access_log.h"
#include "buf.h"
#include "cache/cache_int.h"
#include "coding.h"
#include "proxy.h"

/* One key a request for the URL could be stored under. */
struct inspect_key {
    char key[CACHE_KEY_MAX];
    const struct cfg_route *rt; /* NULL: forward */
    const struct cfg_cache_rule *rule;
};

/* ---- JSON pieces ---- */

/* A JSON string of s[0..n), escaped for any bytes (access_json_escape). */
static int json_str(struct buf *out, const char *s, size_t n)
{
    if (n > (UINT32_MAX - 2) / 6)
        return -1;
    char *e = malloc(6 * n + 2);
    if (!e)
        return -1;
    size_t w = access_json_escape(e + 1, 6 * n, s, n);
    e[0] = e[w + 1] = '"';
    int rc = buf_append(out, e, w + 2);
    free(e);
    return rc;
}

static int json_cstr(struct buf *out, const char *s)
{
    return s ? json_str(out, s, strlen(s)) : buf_append_lit(out, "null");
}

/* ,"name": */
static int json_name(struct buf *out, const char *name, bool first)
{
    return buf_printf(out, "%s\"%s\":", first ? "" : ",", name);
}

static int json_field_str(struct buf *out, const char *name, const char *v)
{
    return json_name(out, name, false) < 0 ? -1 : json_cstr(out, v);
}

static int json_field_int(struct buf *out, const char *name, long long v)
{
    return buf_printf(out, ",\"%s\":%lld", name, v);
}

static int json_field_bool(struct buf *out, const char *name, bool v)
{
    return buf_printf(out, ",\"%s\":%s", name, v ? "true" : "false");
}

int cache_inspect_variant_json(const char *variant, struct buf *out)
{
    if (buf_append_lit(out, "{") < 0)
        return -1;
    bool first = true;
    for (const char *p = variant; *p;) {
        const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
        const char *colon = memchr(p, ':', (size_t)(end - p)); /* names are tokens: no ':' */
        const char *ne = colon ? colon : end;
        if ((!first && buf_append_lit(out, ",") < 0) || json_str(out, p, (size_t)(ne - p)) < 0 ||
            buf_append_lit(out, ":") < 0 ||
            (colon ? json_str(out, colon + 1, (size_t)(end - colon - 1))
                   : buf_append_lit(out, "null")) < 0) /* absent, which differs from empty */
            return -1;
        first = false;
        p = nl ? nl + 1 : end;
    }
    return buf_append_lit(out, "}");
}

/* ---- keys ---- */

/* Where the rule governing a key is written in the configuration. */
static void inspect_rule_name(const struct config *cfg, const struct inspect_key *k, char *out,
                              size_t size)
{
    if (k->rt && k->rule == &k->rt->cache)
        snprintf(out, size, "routes[%zu].cache", (size_t)(k->rt - cfg->routes));
    else if (cfg->cache.nrules && k->rule >= cfg->cache.rules &&
             k->rule < cfg->cache.rules + cfg->cache.nrules)
        snprintf(out, size, "cache.rules[%zu]", (size_t)(k->rule - cfg->cache.rules));
    else
        snprintf(out, size, "default");
}

/* The forward key, and the routed one when a reverse route serves the
   URL's host: a request could have been stored under either. */
static enum cache_inspect_rc inspect_keys(const struct config *cfg, const char *url,
                                          struct inspect_key k[2], unsigned *n)
{
    struct url u;
    if (url_parse_absolute(url, strlen(url), &u) < 0)
        return INSPECT_NOT_URL;
    *n = 0;
    k[0].rt = NULL;
    if (cache_url_key(cfg, NULL, url, k[0].key, sizeof(k[0].key), &k[0].rule) < 0)
        return INSPECT_NO_KEY;
    *n = 1;
    const struct cfg_route *rt = config_route_find(cfg, u.host);
    if (rt && cache_url_key(cfg, rt, url, k[1].key, sizeof(k[1].key), &k[1].rule) == 0) {
        k[1].rt = rt;
        *n = 2;
    }
    return INSPECT_OK;
}

static int inspect_put_keys(const struct config *cfg, const struct inspect_key *k, unsigned n,
                            struct buf *out)
{
    if (buf_append_lit(out, ",\"keys\":[") < 0)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        char rule[64];
        inspect_rule_name(cfg, &k[i], rule, sizeof(rule));
        if (buf_append_str(out, i ? ",{" : "{") < 0 || json_name(out, "key", true) < 0 ||
            json_cstr(out, k[i].key) < 0 ||
            json_field_str(out, "route", k[i].rt ? k[i].rt->host : NULL) < 0 ||
            json_field_str(out, "rule", rule) < 0 || buf_append_lit(out, "}") < 0)
            return -1;
    }
    return buf_append_lit(out, "]");
}

/* ---- variants ---- */

static const char *inspect_use_name(enum policy_use u)
{
    switch (u) {
    case USE_FRESH:
        return "fresh";
    case USE_STALE:
        return "stale";
    case USE_STALE_REVALIDATE:
        return "stale-while-revalidate";
    case USE_REVALIDATE:
        return "revalidate";
    }
    return "revalidate";
}

/* What the lookup would make of the stored response, as fields. */
static int inspect_put_judgement(struct cache_xchg *x, const struct http_msg *m, time_t now,
                                 struct buf *out)
{
    struct cache_resp r;
    if (!cache_stored_facts(x, &r))
        return json_field_str(out, "error", "the stored head does not parse");
    enum policy_ttl_src src;
    double lifetime =
        policy_freshness_lifetime_src(&r, x->rule->default_ttl, x->rule->max_ttl, &src);
    double age = policy_current_age(&r, now);
    enum policy_use use = policy_use(NULL, &r, lifetime, age);
    if (json_field_int(out, "status", r.status) < 0 ||
        json_field_int(out, "stored_at", (long long)r.response_time) < 0 ||
        json_field_int(out, "requested_at", (long long)r.request_time) < 0 ||
        json_field_int(out, "age", (long long)age) < 0 ||
        json_field_int(out, "lifetime", (long long)lifetime) < 0 ||
        json_field_str(out, "lifetime_source", policy_ttl_src_name(src)) < 0 ||
        json_field_int(out, "ttl", (long long)lifetime - (long long)age) < 0 ||
        json_field_bool(out, "fresh", lifetime > age) < 0 ||
        json_field_str(out, "use", inspect_use_name(use)) < 0 ||
        json_field_str(out, "etag", cache_hval(m, "ETag")) < 0 ||
        json_field_str(out, "last_modified", cache_hval(m, "Last-Modified")) < 0 ||
        json_field_str(out, "coding", coding_name(cache_stored_coding(m))) < 0)
        return -1;
    return 0;
}

/* One variant's object into out. */
static int inspect_put_variant(const struct inspect_key *k, struct store_peek *p, time_t now,
                               struct buf *out)
{
    struct cache_xchg x;
    memset(&x, 0, sizeof(x));
    x.obj = p->obj;
    x.rt = k->rt;
    x.rule = k->rule;
    const struct http_msg *m = cache_stored_msg(&x);
    int rc = -1;
    if (buf_append_lit(out, "{") < 0 || json_name(out, "key", true) < 0 ||
        json_cstr(out, k->key) < 0 || json_field_str(out, "file", p->name) < 0 ||
        json_field_str(out, "vary", p->vary) < 0 || json_name(out, "request_values", false) < 0 ||
        cache_inspect_variant_json(p->variant, out) < 0 ||
        json_field_int(out, "body_bytes", (long long)p->obj.body_len) < 0 ||
        json_field_int(out, "size", (long long)p->size) < 0 ||
        json_field_bool(out, "memory", p->in_memory) < 0)
        goto done;
    if (m ? inspect_put_judgement(&x, m, now, out) < 0
          : json_field_str(out, "error", "the stored head does not parse") < 0)
        goto done;
    rc = buf_append_lit(out, "}");
done:
    http_reader_free(&x.head); /* x.obj stays p's */
    return rc;
}

#define INSPECT_TAIL 64 /* kept free for what closes the object */

/* Appends a rendered variant when it fits with the tail kept free. */
static bool inspect_append(struct buf *out, const struct buf *one, bool first)
{
    size_t need = buf_used(one) + (first ? 0 : 1) + INSPECT_TAIL;
    if (buf_used(out) + need > out->max)
        return false;
    return (first || buf_append_lit(out, ",") == 0) &&
           buf_append(out, buf_head(one), buf_used(one)) == 0;
}

/* The variants of one key, each only when all of it fits (else *cut). */
static int inspect_put_key_variants(struct store *st, const struct inspect_key *k, time_t now,
                                    bool *first, bool *cut, struct buf *out)
{
    struct store_peek *p = calloc(CACHE_INSPECT_MAX_VARIANTS, sizeof(*p));
    if (!p)
        return -1;
    unsigned n = store_peek(st, k->key, p, CACHE_INSPECT_MAX_VARIANTS);
    for (unsigned i = 0; i < n; i++) {
        struct buf one;
        buf_init(&one, out->max);
        if (!*cut && inspect_put_variant(k, &p[i], now, &one) == 0 &&
            inspect_append(out, &one, *first))
            *first = false;
        else
            *cut = true;
        buf_free(&one);
        store_peek_free(&p[i]);
    }
    free(p);
    return 0;
}

enum cache_inspect_rc cache_inspect(struct store *st, const struct config *cfg, const char *url,
                                    time_t now, struct buf *out)
{
    struct inspect_key *k = malloc(2 * sizeof(*k));
    unsigned nk = 0;
    if (!k)
        return INSPECT_NOMEM;
    enum cache_inspect_rc rc = inspect_keys(cfg, url, k, &nk);
    if (rc != INSPECT_OK) {
        free(k);
        return rc;
    }
    bool first = true, cut = false;
    if (buf_append_lit(out, "{\"url\":") < 0 || json_cstr(out, url) < 0 ||
        json_field_bool(out, "enabled", st != NULL) < 0 || inspect_put_keys(cfg, k, nk, out) < 0 ||
        buf_append_lit(out, ",\"variants\":[") < 0)
        rc = INSPECT_NOMEM;
    for (unsigned i = 0; rc == INSPECT_OK && st && i < nk; i++)
        if (inspect_put_key_variants(st, &k[i], now, &first, &cut, out) < 0)
            rc = INSPECT_NOMEM;
    /* inspect_append kept the room for this */
    if (rc == INSPECT_OK && buf_printf(out, "],\"truncated\":%s}\n", cut ? "true" : "false") < 0)
        rc = INSPECT_NOMEM;
    free(k);
    return rc;
}
