/*
 * coding.c - content codings by name, Accept-Encoding negotiation, the
 * decision whether a response is compressed, entity tags of encoded
 * variants and Vary merging (coding.h). Pure functions over strings.
 */
#include "coding.h"

#include <string.h>
#include <strings.h>

#include "cache/policy.h" /* cc_parse, policy_etag_parse */
#include "http.h"         /* http_tchar, http_list_has, HTTP_M_CONNECT */

static const char *const names[] = {
    [CODING_IDENTITY] = "identity", [CODING_GZIP] = "gzip", [CODING_DEFLATE] = "deflate",
    [CODING_BR] = "br",             [CODING_ZSTD] = "zstd", [CODING_UNKNOWN] = "unknown",
};

const char *coding_name(enum coding c)
{
    return (unsigned)c <= CODING_UNKNOWN ? names[c] : names[CODING_UNKNOWN];
}

enum coding coding_from_token(const char *s, size_t len)
{
    for (int c = CODING_IDENTITY; c < CODING_KNOWN; c++)
        if (strlen(names[c]) == len && strncasecmp(s, names[c], len) == 0)
            return (enum coding)c;
    if (len == 6 && strncasecmp(s, "x-gzip", 6) == 0)
        return CODING_GZIP;
    return CODING_UNKNOWN;
}

/* ---- lists, tokens and the bounded writer ---- */

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

static const char *skip_ows(const char *p)
{
    while (ows(*p))
        p++;
    return p;
}

/* Past the empty members and the whitespace before the next one. */
static const char *skip_empty(const char *p)
{
    while (ows(*p) || *p == ',')
        p++;
    return p;
}

static const char *skip_token(const char *p)
{
    while (http_tchar((unsigned char)*p))
        p++;
    return p;
}

static bool word_eq(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* Writes into out[0..size) and keeps it a string; a value that does not
   fit leaves out empty, never cut short. */
struct out {
    char *p;
    size_t size, len;
    bool full;
};

static struct out out_start(char *p, size_t size)
{
    if (size)
        p[0] = '\0';
    return (struct out){p, size, 0, size == 0};
}

static void out_put(struct out *o, const char *s, size_t n)
{
    if (o->full || n >= o->size - o->len) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static int out_end(struct out *o)
{
    if (!o->full)
        return 0;
    if (o->size)
        o->p[0] = '\0';
    return -1;
}

/* ---- Accept-Encoding (RFC 9110 §12.5.3) ---- */

/* qvalue (§12.4.2): "0" ["." 0*3DIGIT] / "1" ["." 0*3"0"], in thousandths;
   -1 in *q when malformed. Returns where it stopped. */
static const char *parse_qvalue(const char *p, int *q)
{
    *q = -1;
    if (*p != '0' && *p != '1')
        return p;
    int whole = *p++ - '0', frac = 0, digits = 0;
    if (*p == '.')
        for (p++; digits < 3 && *p >= '0' && *p <= '9'; digits++)
            frac = frac * 10 + (*p++ - '0');
    for (; digits < 3; digits++)
        frac *= 10;
    if (whole == 0 || frac == 0)
        *q = whole * 1000 + frac;
    return p;
}

/* One member `codings [ weight ]` at p: its token [*tok, +*len) (maybe
   empty: no coding) and q (-1: malformed, anything but OWS ";" OWS "q="
   qvalue after the token). Returns the ',' or NUL that ends it. */
static const char *accept_member(const char *p, const char **tok, size_t *len, int *q)
{
    *tok = p;
    p = skip_token(p);
    *len = (size_t)(p - *tok);
    p = skip_ows(p);
    *q = 1000;
    if (*p == ';') {
        p = skip_ows(p + 1);
        if ((*p == 'q' || *p == 'Q') && p[1] == '=')
            p = skip_ows(parse_qvalue(p + 2, q));
        else
            *q = -1;
    }
    if (*p && *p != ',') {
        *q = -1;
        p += strcspn(p, ",");
    }
    return p;
}

static int16_t *accept_slot(struct coding_accept *a, const char *tok, size_t len)
{
    if (len == 1 && *tok == '*')
        return &a->star;
    enum coding c = coding_from_token(tok, len);
    return c < CODING_KNOWN ? &a->q[c] : NULL;
}

void coding_accept_parse(const char *ae, struct coding_accept *a)
{
    a->present = ae != NULL;
    for (int c = 0; c < CODING_KNOWN; c++)
        a->q[c] = -1;
    a->star = -1;
    if (!ae)
        return;
    for (const char *p = skip_empty(ae); *p; p = skip_empty(p)) {
        const char *tok;
        size_t len;
        int q;
        p = accept_member(p, &tok, &len, &q);
        int16_t *slot = q < 0 ? NULL : accept_slot(a, tok, len);
        if (slot && *slot < 0) /* named again: the first stands */
            *slot = (int16_t)q;
    }
}

/* The q coding c gets, 0 when it is not acceptable. identity not named
   takes the q of "*", or without "*" the least there is, so that any
   coding the client named acceptable wins over it. */
static int accept_weight(const struct coding_accept *a, enum coding c)
{
    if ((unsigned)c >= CODING_KNOWN)
        return 0;
    if (!a->present)
        return c == CODING_IDENTITY ? 1000 : 0;
    if (a->q[c] >= 0)
        return a->q[c];
    if (a->star >= 0)
        return a->star;
    return c == CODING_IDENTITY ? 1 : 0;
}

bool coding_acceptable(const struct coding_accept *a, enum coding c)
{
    return accept_weight(a, c) > 0;
}

enum coding coding_negotiate(const struct coding_accept *a, const enum coding *prefs, size_t n)
{
    enum coding best = CODING_IDENTITY;
    int best_q = accept_weight(a, CODING_IDENTITY);
    for (size_t i = 0; i < n; i++) {
        int q = accept_weight(a, prefs[i]);
        if (q > 0 && (q > best_q || (q == best_q && best == CODING_IDENTITY))) {
            best = prefs[i];
            best_q = q;
        }
    }
    return best;
}

enum coding coding_of_response(const char *content_encoding)
{
    enum coding got = CODING_IDENTITY;
    if (!content_encoding)
        return got;
    for (const char *p = skip_empty(content_encoding); *p; p = skip_empty(p)) {
        const char *tok = p;
        p = skip_token(p);
        enum coding c = coding_from_token(tok, (size_t)(p - tok));
        p = skip_ows(p);
        if (*p && *p != ',')
            return CODING_UNKNOWN;
        if (c == CODING_IDENTITY) /* no transformation: it stacks nothing */
            continue;
        if (got != CODING_IDENTITY)
            return CODING_UNKNOWN;
        got = c;
    }
    return got;
}

/* ---- whether a response is compressed ---- */

struct media_type {
    const char *type, *sub;
    size_t type_len, sub_len;
};

/* type "/" subtype with OWS before and after, parameters after ';'
   ignored (RFC 9110 §8.3.1); false when s is not one. */
static bool media_type_parse(const char *s, struct media_type *m)
{
    const char *p = skip_ows(s);
    m->type = p;
    p = skip_token(p);
    m->type_len = (size_t)(p - m->type);
    if (!m->type_len || *p != '/')
        return false;
    m->sub = ++p;
    p = skip_token(p);
    m->sub_len = (size_t)(p - m->sub);
    p = skip_ows(p);
    return m->sub_len && (*p == '\0' || *p == ';');
}

static bool is_star(const char *s, size_t len)
{
    return len == 1 && *s == '*';
}

/* A star for the type matches any type ("*" + "/" + "*": everything); a
   star for the subtype any subtype; "*+suffix" a subtype with something
   before "+suffix". */
static bool media_type_matches(const struct media_type *t, const struct media_type *pat)
{
    if (!is_star(pat->type, pat->type_len) &&
        !(t->type_len == pat->type_len && strncasecmp(t->type, pat->type, t->type_len) == 0))
        return false;
    if (is_star(pat->sub, pat->sub_len))
        return true;
    if (pat->sub_len > 2 && pat->sub[0] == '*' && pat->sub[1] == '+') {
        size_t n = pat->sub_len - 1; /* "+suffix" */
        return t->sub_len > n && strncasecmp(t->sub + t->sub_len - n, pat->sub + 1, n) == 0;
    }
    return t->sub_len == pat->sub_len && strncasecmp(t->sub, pat->sub, t->sub_len) == 0;
}

bool coding_type_listed(const char *content_type, char *const *types, size_t ntypes)
{
    struct media_type t, pat;
    if (!content_type || !media_type_parse(content_type, &t))
        return false;
    for (size_t i = 0; i < ntypes; i++)
        if (types[i] && media_type_parse(types[i], &pat) && media_type_matches(&t, &pat))
            return true;
    return false;
}

static bool is_event_stream(const char *content_type)
{
    struct media_type t;
    return content_type && media_type_parse(content_type, &t) &&
           word_eq(t.type, t.type_len, "text") && word_eq(t.sub, t.sub_len, "event-stream");
}

static bool no_transform(const char *cache_control)
{
    struct cc cc;
    cc_init(&cc);
    cc_parse(&cc, cache_control); /* directives, not substrings; quotes respected */
    return cc.no_transform;
}

enum compress_verdict coding_compressible(const struct compress_facts *f, char *const *types,
                                          size_t ntypes, uint64_t min_size)
{
    if (f->method == HTTP_M_CONNECT)
        return COMPRESS_NO_METHOD;
    if (f->status < 200 || f->status == 204 || f->status == 205 || f->status == 206 ||
        f->status == 304)
        return COMPRESS_NO_STATUS;
    if (no_transform(f->cache_control))
        return COMPRESS_NO_TRANSFORM;
    if (coding_of_response(f->content_encoding) != CODING_IDENTITY)
        return COMPRESS_NO_ENCODED;
    if (is_event_stream(f->content_type))
        return COMPRESS_NO_EVENT_STREAM;
    if (!coding_type_listed(f->content_type, types, ntypes))
        return COMPRESS_NO_TYPE;
    /* an empty body stays empty even with min_size 0: encoded, it grows */
    if (f->length == 0 || (f->length > 0 && (uint64_t)f->length < min_size))
        return COMPRESS_NO_SMALL;
    if (f->range_request)
        return COMPRESS_NO_RANGE;
    return COMPRESS_YES;
}

const char *compress_verdict_name(enum compress_verdict v)
{
    switch (v) {
    case COMPRESS_YES:
        return "yes";
    case COMPRESS_NO_STATUS:
        return "status";
    case COMPRESS_NO_METHOD:
        return "method";
    case COMPRESS_NO_TRANSFORM:
        return "no-transform";
    case COMPRESS_NO_ENCODED:
        return "encoded";
    case COMPRESS_NO_TYPE:
        return "type";
    case COMPRESS_NO_EVENT_STREAM:
        return "event-stream";
    case COMPRESS_NO_SMALL:
        return "small";
    case COMPRESS_NO_RANGE:
        return "range";
    }
    return "unknown";
}

/* ---- entity tags ---- */

struct etag {
    bool weak;
    const char *opaque; /* between the quotes */
    size_t len;
};

/* One entity tag at p; the end of it, or NULL when malformed. */
static const char *etag_scan(const char *p, struct etag *t)
{
    t->weak = *p == 'W';
    return policy_etag_parse(p, &t->opaque, &t->len);
}

/* Exactly one entity tag, OWS around it allowed. */
static bool etag_one(const char *s, struct etag *t)
{
    const char *end = s ? etag_scan(skip_ows(s), t) : NULL;
    return end && *skip_ows(end) == '\0';
}

/* The length of the origin's opaque part when t is derived for c. */
static bool etag_base(const struct etag *t, enum coding c, size_t *base_len)
{
    if (c == CODING_IDENTITY || (unsigned)c >= CODING_KNOWN)
        return false;
    size_t n = strlen(coding_name(c));
    if (t->len <= n || t->opaque[t->len - n - 1] != '~' ||
        memcmp(t->opaque + t->len - n, coding_name(c), n) != 0)
        return false;
    *base_len = t->len - n - 1;
    return true;
}

/* [W/]"opaque[0..len)[~suffix]" */
static void etag_put(struct out *o, bool weak, const char *opaque, size_t len, const char *suffix)
{
    if (weak)
        out_put(o, "W/", 2);
    out_put(o, "\"", 1);
    out_put(o, opaque, len);
    if (suffix) {
        out_put(o, "~", 1);
        out_put(o, suffix, strlen(suffix));
    }
    out_put(o, "\"", 1);
}

int coding_etag_derive(const char *etag, enum coding c, char *out, size_t size)
{
    struct out o = out_start(out, size);
    struct etag t;
    if ((unsigned)c >= CODING_KNOWN || !etag_one(etag, &t)) {
        o.full = true;
        return out_end(&o);
    }
    etag_put(&o, t.weak, t.opaque, t.len, c == CODING_IDENTITY ? NULL : coding_name(c));
    return out_end(&o);
}

bool coding_etag_derived(const char *etag, enum coding c)
{
    struct etag t;
    size_t base_len;
    return etag_one(etag, &t) && etag_base(&t, c, &base_len);
}

/* The list with the tags derived for c mapped back, members joined by
   ", "; the number mapped, or -1 when the list is not "#entity-tag". */
static int etag_list_map(const char *list, enum coding c, struct out *o)
{
    int mapped = 0;
    for (const char *p = skip_empty(list); *p; p = skip_empty(p)) {
        struct etag t;
        size_t base_len;
        if (!(p = etag_scan(p, &t)))
            return -1;
        p = skip_ows(p);
        if (*p && *p != ',')
            return -1;
        bool derived = etag_base(&t, c, &base_len);
        if (o->len)
            out_put(o, ", ", 2);
        etag_put(o, t.weak, t.opaque, derived ? base_len : t.len, NULL);
        mapped += derived;
    }
    return mapped;
}

int coding_etag_list_base(const char *list, enum coding c, char *out, size_t size)
{
    if (!list)
        list = "";
    struct out o = out_start(out, size);
    int mapped = etag_list_map(list, c, &o);
    if (mapped <= 0) { /* nothing of ours in it, "*", or malformed: as sent */
        mapped = 0;
        o = out_start(out, size);
        out_put(&o, list, strlen(list));
    }
    return out_end(&o) < 0 ? -1 : mapped;
}

int coding_etag_weaken(const char *etag, char *out, size_t size)
{
    struct out o = out_start(out, size);
    struct etag t;
    if (!etag_one(etag, &t)) {
        o.full = true;
        return out_end(&o);
    }
    etag_put(&o, true, t.opaque, t.len, NULL);
    return out_end(&o);
}

/* ---- Vary ---- */

int coding_vary_merge(const char *vary, char *out, size_t size)
{
    struct out o = out_start(out, size);
    const char *v = vary ? vary : "";
    if (http_list_has(v, "*") || http_list_has(v, "Accept-Encoding")) {
        out_put(&o, v, strlen(v));
        return out_end(&o);
    }
    v = skip_empty(v);
    size_t len = strlen(v);
    while (len && (ows(v[len - 1]) || v[len - 1] == ','))
        len--;
    out_put(&o, v, len);
    if (len)
        out_put(&o, ", ", 2);
    out_put(&o, "Accept-Encoding", 15);
    return out_end(&o);
}
