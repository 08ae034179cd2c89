/*
 * cache/serve.c - answering from the store: the head of a hit (200, or 304,
 * 206 or 416 for conditional and range requests), ended by respond_finish,
 * then its body pushed into the deliver chain: a memory copy as one held
 * piece (the client writer sends it with the head in one gathered write),
 * a file as a range (sendfile). A memory copy's head block is prepared
 * once per copy. Nothing here writes a socket.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache/cache_int.h"
#include "cache/memory.h"
#include "cache/tags.h"
#include "filter.h"
#include "hdr_rules.h"
#include "proxy.h"
#include "respond.h"

/* Whether a hit's Cache-Status names the stored variant's coding: one of
   a compressible response's (keyed on the coding), or an encoded body. */
static bool cache_names_variant(const struct exchange *ex)
{
    return ex->compress_on || ex->decoding != CODING_IDENTITY ||
           (ex->coding_sent != CODING_IDENTITY && ex->coding_sent != CODING_NONE);
}

/* RFC 9211's fwd= for a request that went up from a lookup. */
static const char *cache_fwd_name(const struct cache_xchg *x)
{
    switch ((enum cache_fwd)x->fwd) {
    case FWD_MISS:
        return "miss";
    case FWD_URI_MISS:
        return "uri-miss";
    case FWD_VARY_MISS:
        return "vary-miss";
    case FWD_STALE:
        return "stale";
    case FWD_REQUEST:
        return "request";
    }
    return "miss";
}

/* Seconds of freshness left of the stored response answering (ttl=),
   rounded down: 0 or below once it is stale. */
static long long cache_ttl(const struct cache_xchg *x)
{
    return (long long)floor((double)x->lifetime - x->age);
}

/* "; detail=..." of a response fetched: why it was not stored, the
   redirects followed for it, or both (then as one string). */
static int cache_fetch_detail(const struct client *c, char *out, size_t size)
{
    const char *why = policy_why_name((enum policy_why)c->ex->cx.why);
    unsigned hops = follow_hops(c->ex);
    if (hops && *why)
        return snprintf(out, size, "; detail=\"followed-%u %s\"", hops, why);
    if (hops)
        return snprintf(out, size, "; detail=followed-%u", hops);
    return *why ? snprintf(out, size, "; detail=%s", why) : (out[0] = '\0', 0);
}

/* Every form but the common hit's, which has its own fast path below. */
static int cache_status_slow(const struct client *c, char *out, size_t size)
{
    const struct cache_xchg *x = &c->ex->cx;
    const char *xc = cache_result_name(x->result);
    char detail[96];
    if (x->why == WHY_ONLY_IF_CACHED) /* not forwarded: no fwd= */
        return snprintf(out, size, "Cache-Status: magpie; detail=only-if-cached\r\nX-Cache: %s\r\n",
                        xc);
    switch (x->result) {
    case CACHE_NONE:
    case CACHE_REDIRECT:
    case CACHE_HIT:
        break;
    case CACHE_BYPASS:
        cache_fetch_detail(c, detail, sizeof(detail));
        return snprintf(out, size, "Cache-Status: magpie; fwd=bypass%s\r\nX-Cache: %s\r\n", detail,
                        xc);
    case CACHE_REVALIDATED:
        return snprintf(out, size,
                        "Cache-Status: magpie; fwd=%s; fwd-status=304; ttl=%lld\r\nX-Cache: %s\r\n",
                        x->fwd == FWD_REQUEST ? "request" : "stale", cache_ttl(x), xc);
    case CACHE_STALE:
        if (x->fwd_status)
            return snprintf(out, size,
                            "Cache-Status: magpie; hit; fwd=stale; fwd-status=%d; ttl=%lld\r\n"
                            "X-Cache: STALE\r\n",
                            x->fwd_status, cache_ttl(x));
        if (x->instead == INSTEAD_NONE && store_obj_is_open(&x->obj) && c->state == CS_DELIVER)
            return snprintf(out, size,
                            "Cache-Status: magpie; hit; ttl=%lld; detail=%s\r\nX-Cache: STALE\r\n",
                            cache_ttl(x), x->swr ? "stale-while-revalidate" : "max-stale");
        if (x->instead != INSTEAD_NONE)
            return snprintf(out, size,
                            "Cache-Status: magpie; hit; fwd=stale; ttl=%lld; detail=%s\r\n"
                            "X-Cache: STALE\r\n",
                            cache_ttl(x),
                            x->instead == INSTEAD_STALE_UNREACHABLE ? "origin-unreachable"
                                                                    : "origin-error");
        __attribute__((fallthrough)); /* fetched again in full */
    case CACHE_MISS:
        if (x->role == ROLE_FOLLOWER)
            return snprintf(out, size, "Cache-Status: magpie; fwd=%s; collapsed\r\nX-Cache: %s\r\n",
                            cache_fwd_name(x), xc);
        cache_fetch_detail(c, detail, sizeof(detail));
        return snprintf(out, size, "Cache-Status: magpie; fwd=%s%s%s\r\nX-Cache: %s\r\n",
                        cache_fwd_name(x), x->sure ? "; stored" : "", detail, xc);
    }
    out[0] = '\0';
    return 0;
}

/* Writes v in decimal at p; the end. */
static char *cache_put_i64(char *p, long long v)
{
    char tmp[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        tmp[n++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        *p++ = '-';
    while (n)
        *p++ = tmp[--n];
    return p;
}

int cache_status_headers(const struct client *c, char *out, size_t size)
{
    const struct cache_xchg *x = &c->ex->cx;
    if (x->result == CACHE_NONE || x->result == CACHE_REDIRECT) {
        out[0] = '\0';
        return 0;
    }
    if (x->result != CACHE_HIT)
        return cache_status_slow(c, out, size);
    /* a hit, the common case, once per response: no printf */
    static const char p1[] = "Cache-Status: magpie; hit; ttl=", p2[] = "\r\nX-Cache: HIT\r\n",
                      p3[] = "; detail=";
    const char *variant = NULL;
    if (cache_names_variant(c->ex))
        variant =
            coding_name(c->ex->decoding != CODING_IDENTITY ? c->ex->decoding : c->ex->coding_sent);
    size_t v = variant ? sizeof(p3) - 1 + strlen(variant) : 0;
    if (sizeof(p1) - 1 + 21 + v + sizeof(p2) > size) { /* not with the callers' 128 bytes */
        out[0] = '\0';
        return 0;
    }
    char *p = out;
    memcpy(p, p1, sizeof(p1) - 1), p += sizeof(p1) - 1;
    p = cache_put_i64(p, cache_ttl(x));
    if (variant) {
        memcpy(p, p3, sizeof(p3) - 1), p += sizeof(p3) - 1;
        memcpy(p, variant, v - (sizeof(p3) - 1)), p += v - (sizeof(p3) - 1);
    }
    memcpy(p, p2, sizeof(p2)), p += sizeof(p2) - 1; /* with the NUL */
    return (int)(p - out);
}

/* What a hit answers: 200, 304 (the client has it), 206 or 416 (Range;
   not for a body decoded on its way, whose ranges nobody knows). */
static int cache_hit_status(struct client *c, const struct http_msg *req,
                            const struct http_msg *rsp, uint64_t *first, uint64_t *len)
{
    const char *etag = cache_hval(rsp, "ETag");
    const char *lm = cache_hval(rsp, "Last-Modified");
    const char *inm = cache_hval(req, "If-None-Match");
    const char *ims = cache_hval(req, "If-Modified-Since");
    *first = 0;
    *len = c->ex->cx.obj.body_len;
    if (rsp->status != 200)
        return rsp->status;
    if ((inm || ims) && policy_not_modified(inm, ims, etag, lm ? http_date_parse(lm) : (time_t)-1))
        return 304;
    const char *range = c->ex->decoding == CODING_IDENTITY && *len != CACHE_LENGTH_UNKNOWN
                            ? cache_hval(req, "Range")
                            : NULL;
    const char *if_range = cache_hval(req, "If-Range");
    if (!range || (if_range && (!etag || strcmp(if_range, etag) != 0)))
        return 200;
    uint64_t a, b;
    int r = policy_range(range, c->ex->cx.obj.body_len, &a, &b);
    if (r == 0)
        return 200;
    if (r < 0)
        return 416;
    *first = a;
    *len = b - a + 1;
    return 206;
}

/* Stored fields a hit writes itself, or that do not describe its answer:
   a stored 200's own Content-Range is end-to-end and goes out with it,
   but a 206 or 416 states its own, and a 304 has none. */
static bool cache_hit_skips(const char *name, int status)
{
    /* Via: its entries go into the one Via line respond_finish writes */
    static const char *const own[] = {"Age", "Content-Length", "Connection", "Via"};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (strcasecmp(name, own[i]) == 0)
            return true;
    if ((status == 206 || status == 416 || status == 304) && strcasecmp(name, "Content-Range") == 0)
        return true;
    return status == 304 && strcasecmp(name, "Content-Type") == 0;
}

/* ---- memory copies: the head block, prepared once ---- */

/* The stored head as a hit with the stored status repeats it; for client
   c (NULL: the memory tier's prepared copy, for anyone), a body decoded on
   its way (compress_plan_put_field), a reverse route's Location
   (location_put_field) and the header rules' edits. */
static int cache_put_stored_head(struct buf *out, const struct http_msg *rsp, int status,
                                 const struct client *c)
{
    if (http_put_status(out, status, status == rsp->status ? http_str(rsp, rsp->reason) : "") < 0)
        return -1;
    bool decoded = c && c->ex->decoding != CODING_IDENTITY, routed = c && c->ex->cx.rt;
    bool edits = c && hdr_rules_response_any(c);
    for (size_t i = 0; i < rsp->nhdrs; i++) {
        const struct http_header *h = &rsp->hdrs[i];
        const char *name = http_hname(rsp, h);
        if (cache_hit_skips(name, status) ||
            (edits && hdr_rules_response_drops(c, name, h->name_len)) ||
            ((!c || !c->cfg->cache.keep_tag_headers) && tags_field_sep(name, h->name_len)))
            continue;
        int rc = decoded ? compress_plan_put_field(out, rsp, h) : 0;
        if (rc == 0 && routed)
            rc = location_put_field(c, out, rsp, h);
        if (rc < 0 || (rc == 0 && http_put_header(out, rsp, h) < 0))
            return -1;
    }
    return edits ? hdr_rules_response_put(c, out) : 0;
}

/* The stored Via entries joined with ", " into out (nothing when none). */
static int cache_put_via(struct buf *out, const struct http_msg *m)
{
    for (size_t i = 0; i < m->nhdrs; i++) {
        const struct http_header *h = &m->hdrs[i];
        if (h->hop || h->name_len != 3 || strcasecmp(http_hname(m, h), "Via") != 0)
            continue;
        if ((buf_used(out) && buf_append_lit(out, ", ") < 0) ||
            buf_append(out, http_hvalue(m, h), h->value_len) < 0)
            return -1;
    }
    return 0;
}

static struct cache_prep *cache_prep_build(struct cache_xchg *x)
{
    const struct http_msg *m = cache_stored_msg(x);
    if (!m)
        return NULL;
    struct buf b, via;
    buf_init(&b, 2 * x->obj.head_len + 64);
    buf_init(&via, x->obj.head_len + 1);
    struct cache_prep *p = NULL;
    if (cache_put_stored_head(&b, m, m->status, NULL) == 0 && cache_put_via(&via, m) == 0 &&
        (p = malloc(sizeof(*p) + buf_used(&b) + buf_used(&via)))) {
        cache_facts(m, x->rt != NULL, x->rule->targeted_field, x->obj.request_time,
                    x->obj.response_time, &p->r);
        p->minor = m->minor;
        p->coding = (uint8_t)cache_stored_coding(m);
        p->has_location = http_find(m, "Location") || http_find(m, "Content-Location");
        p->prefix_len = buf_used(&b);
        memcpy(p->prefix, buf_head(&b), p->prefix_len);
        p->via_len = buf_used(&via);
        if (p->via_len) /* an empty buf has no memory at all */
            memcpy(p->prefix + p->prefix_len, buf_head(&via), p->via_len);
    }
    buf_free(&b);
    buf_free(&via);
    return p;
}

const struct cache_prep *cache_prep_of(struct cache_xchg *x)
{
    struct mem_obj *m = x->obj.mem;
    if (!m)
        return NULL;
    if (!m->aux) {
        struct cache_prep *p = cache_prep_build(x);
        if (!p)
            return NULL;
        mem_set_aux(m, p, free);
    }
    return m->aux;
}

/* A request that wants the whole stored response as it is. */
static bool cache_plain_request(const struct http_msg *req)
{
    for (size_t i = 0; i < req->nhdrs; i++) {
        const char *n = http_hname(req, &req->hdrs[i]);
        if ((n[0] == 'I' || n[0] == 'i' || n[0] == 'R' || n[0] == 'r') &&
            (strcasecmp(n, "If-None-Match") == 0 || strcasecmp(n, "If-Modified-Since") == 0 ||
             strcasecmp(n, "Range") == 0))
            return false;
    }
    return true;
}

/* ---- the head ---- */

/* A range's Content-Range, then the common end of the head
   (respond_finish). 0, or -1 when the client buffer is full. */
static int cache_put_tail(struct client *c, int status, struct head_end *e, uint64_t first,
                          uint64_t len, struct buf *out)
{
    struct cache_xchg *x = &c->ex->cx;
    int rc = 0;
    if (status == 206) {
        rc |= buf_append_lit(out, "Content-Range: bytes ");
        rc |= buf_append_u64(out, first);
        rc |= buf_append_lit(out, "-");
        rc |= buf_append_u64(out, first + len - 1);
        rc |= buf_append_lit(out, "/");
        rc |= buf_append_u64(out, x->obj.body_len);
        rc |= buf_append_lit(out, "\r\n");
    } else if (status == 416) {
        rc |= buf_append_lit(out, "Content-Range: bytes */");
        rc |= buf_append_u64(out, x->obj.body_len);
        rc |= buf_append_lit(out, "\r\n");
    }
    e->age = x->age;
    /* RFC 9110 §8.6: a 204 has none; a 304 may omit it */
    if (status == 304 || status == 204 || c->ex->decoding != CODING_IDENTITY ||
        len == CACHE_LENGTH_UNKNOWN)
        e->length = -1; /* or it is not known yet */
    else
        e->length = status == 416 ? 0 : (int64_t)len;
    e->cache_status = true;
    return rc | respond_finish(c, out, e);
}

/* The coding of a stored body, from its head. */
enum coding cache_stored_coding(const struct http_msg *m)
{
    char buf[256];
    bool over;
    const char *ce = http_msg_value(m, "Content-Encoding", true, buf, sizeof(buf), &over);
    return over ? CODING_UNKNOWN : coding_of_response(ce);
}

/* The deliver chain's filters see the stored head; -1 if one failed. */
static int cache_open_deliver(struct client *c, const struct http_msg *rsp, int status,
                              uint64_t len)
{
    struct filter_head h = {.msg = rsp,
                            .status = status,
                            .length = (int64_t)len,
                            .decode = (enum coding)c->ex->decoding};
    return chain_open(&c->ex->deliver, filter_deliver_list, filter_deliver_count, &h);
}

/* A body whose length the head cannot say (decoded on its way, or a
   fetch still streaming whose length only its end tells): chunked, or to
   the end of the connection for HTTP/1.0. */
static void cache_unsized_framing(struct client *c, int status, struct head_end *e)
{
    struct exchange *ex = c->ex;
    if (status != 200 || ex->method_id == HTTP_M_HEAD)
        return;
    ex->framing = ex->minor >= 1 ? HTTP_FRAME_CHUNKED : HTTP_FRAME_CLOSE;
    e->chunked = ex->framing == HTTP_FRAME_CHUNKED;
    if (ex->framing == HTTP_FRAME_CLOSE)
        ex->keep_alive = false;
}

int cache_serve_start(struct client *c)
{
    struct cache_xchg *x = &c->ex->cx;
    const struct http_msg *req = http_reader_msg(c->reader);
    const struct cache_prep *p = cache_prep_of(x);
    const struct http_msg *rsp = NULL;
    uint64_t first = 0, len = x->obj.body_len;
    int status;
    struct head_end e = {0};
    enum coding ce = p ? (enum coding)p->coding : CODING_UNKNOWN;
    if (!p && !(rsp = cache_stored_msg(x)))
        return -1; /* unparsable stored head */
    bool decoded = compress_plan_decode(c, p ? ce : cache_stored_coding(rsp)) != CODING_IDENTITY;
    /* the prepared copy is anyone's: a head changed for this client is not it */
    const struct cfg_route *rt = x->rt;
    bool own = decoded || (p && p->has_location && rt && rt->rewrite_location) ||
               hdr_rules_response_any(c) || c->cfg->cache.keep_tag_headers;
    if (p && !own && cache_plain_request(req)) {
        status = p->r.status;
    } else if (rsp || (rsp = cache_stored_msg(x))) {
        status = cache_hit_status(c, req, rsp, &first, &len);
    } else {
        return -1;
    }
    if (decoded || len == CACHE_LENGTH_UNKNOWN)
        cache_unsized_framing(c, status, &e);
    if (decoded) {
        if (status == 200 && c->ex->method_id != HTTP_M_HEAD &&
            cache_open_deliver(c, rsp, status, len) < 0)
            return -1;
    }
    size_t mark;
    struct buf *out = writer_head_begin(c, &mark);
    bool prepared = p && !own && status == p->r.status;
    int rc = prepared ? buf_append(out, p->prefix, p->prefix_len)
                      : cache_put_stored_head(out, rsp, status, c);
    if (prepared) {
        e.via_minor = p->minor;
        e.via_prior = p->prefix + p->prefix_len;
        e.via_prior_len = p->via_len;
    } else {
        e.via_minor = rsp->minor;
        e.via_from = rsp;
    }
    if (rc == 0)
        rc = cache_put_tail(c, status, &e, first, len, out);
    if (writer_head_end(c, mark, rc) < 0)
        return -1; /* too large for the client buffer */
    c->ex->status = status;
    c->ex->rsp_head_sent = true;
    x->body_off = first;
    x->body_left = (status == 304 || status == 416 || c->ex->method_id == HTTP_M_HEAD) ? 0 : len;
    return 0;
}

/* ---- the body ---- */

int cache_serve_more(struct client *c)
{
    struct cache_xchg *x = &c->ex->cx;
    struct chain *ch = &c->ex->deliver;
    while (x->body_left > 0 && chain_room(ch)) {
        uint64_t ready = x->body_left;
        if (x->role != ROLE_OWN && x->avail < x->body_off + ready) /* only what the fetch wrote */
            ready = x->avail > x->body_off ? x->avail - x->body_off : 0;
        if (ready == 0)
            return 0;
        struct piece pc = x->obj.mem ? piece_mem(x->obj.mem->body + x->body_off, ready, true)
                                     : piece_file(x->obj.fd, x->obj.body_off + x->body_off, ready);
        x->body_off += ready;
        x->body_left -= ready;
        if (chain_push(ch, &pc) < 0)
            return -1;
    }
    if (x->body_left == 0 && x->role != ROLE_BEHIND && !ch->ended)
        return chain_end(ch);
    return 0;
}
