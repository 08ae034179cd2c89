/*
 * cache/policy.h - RFC 9111 (HTTP caching) and RFC 5861 decisions as pure
 * functions: no I/O, no clock (callers pass `now`). Everything the cache
 * decides about storing, freshness, age, variants and validation lives
 * here, so it can be tested table by table.
 */
#ifndef MAGPIE_CACHE_POLICY_H
#define MAGPIE_CACHE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http.h" /* enum http_method_id */

#define CC_UNSET (-1)    /* a delta-seconds directive that was absent */
#define CC_ANY INT64_MAX /* max-stale without a value */

/* Cache-Control directives (RFC 9111 §5.2), requests and responses alike. */
struct cc {
    bool no_store, no_cache, private_, public_, must_revalidate, proxy_revalidate;
    bool only_if_cached, immutable, no_transform;
    bool no_cache_cookie; /* no-cache="..." names Set-Cookie (§5.2.2.4) */
    int64_t max_age, s_maxage, max_stale, min_fresh;
    int64_t stale_while_revalidate, stale_if_error; /* RFC 5861 */
};

void cc_init(struct cc *cc);
/*
 * Adds the directives of one Cache-Control field value (call once per
 * field line). Names are case-insensitive; arguments may be tokens or
 * quoted strings (commas inside quotes do not split). Unknown directives
 * are ignored; a malformed delta-seconds makes that directive count as its
 * most conservative reading (max-age="abc" or a bare max-age is max-age=0,
 * RFC 9111 §4.2.1; a malformed min-fresh is 2^31), and "no-cache=\"x\""
 * and "private=\"x\"" count as their unqualified forms (a no-cache naming
 * Set-Cookie also sets no_cache_cookie). public and
 * immutable carrying an argument are ignored, as they would only widen
 * reuse. Repeated directives keep the most restrictive value: the smallest
 * max-age, s-maxage, max-stale, stale-while-revalidate, stale-if-error,
 * the largest min-fresh. Values saturate at 2^31 (§1.2.2).
 */
void cc_parse(struct cc *cc, const char *value);

/*
 * HTTP-date (IMF-fixdate, RFC 850, asctime; RFC 9110 §5.6.7). -1 if
 * invalid. Names are matched case-insensitively, the weekday is not
 * checked against the date, surrounding whitespace is allowed; no locale
 * or time zone is consulted. Dates before 1970 give 0.
 * RFC 850 two-digit years: http_date_parse reads them as 1976..2075 (the
 * §5.6.7 rule applied as of 2025, keeping it clock-free);
 * http_date_parse_at (added) applies the rule against `now` exactly.
 */
time_t http_date_parse(const char *s);
time_t http_date_parse_at(const char *s, time_t now);
/* IMF-fixdate; out must hold 30 bytes. Returns the length. */
size_t http_date_format(time_t t, char *out, size_t size);

/* The Age a field line says (RFC 9111 §5.1): its first list member, as
   delta-seconds (saturating at 2^31); -1 when that member is not one, and
   the Age is then ignored. Only a response's first Age line counts. */
int64_t policy_age_value(const char *v);

/* What policy needs to know about a response, stored or arriving. */
struct cache_resp {
    int status;
    struct cc cc;
    time_t date;          /* Date, -1 if absent or invalid */
    time_t expires;       /* Expires; -1 absent; 0 if present but invalid (already expired) */
    time_t last_modified; /* -1 if absent */
    int64_t age;          /* Age header, -1 if absent or invalid */
    bool vary_star;       /* Vary: * */
    bool has_etag;
    time_t request_time;  /* when the request that got it was sent */
    time_t response_time; /* when it was received */
};

/* Whether the status may be cached heuristically (RFC 9110 §15.1). This is
 * the RFC's list, so it includes 206, which policy_storable still refuses. */
bool policy_heuristic_status(int status);
/* Whether a shared cache understands the status for storing (RFC 9111 §3):
 * final (200..599), but not 206 (we only store complete responses) or 304
 * (it only refreshes a stored response, §4.3.4). */
bool policy_understood_status(int status);

/*
 * RFC 9111 §3 for a shared cache: may this response to this request be
 * stored? method is the request method; req_authorization whether the
 * request had Authorization (allowed only with public, s-maxage or
 * must-revalidate, §3.5); default_ttl >= 0 makes responses without explicit
 * freshness storable (a cache rule's default_ttl), -1 means none. Besides
 * that: GET or HEAD, an understood status, no no-store (request or
 * response), no private, no Vary: *, and then explicit freshness
 * (s-maxage, max-age, Expires), public, or a heuristically cacheable
 * status. default_ttl does not apply to 4xx/5xx statuses outside the
 * heuristic list (500, 502, 503, 401, ...), so an origin's transient
 * error is never kept for default_ttl, nor to the temporary redirects 302,
 * 303 and 307; only explicit freshness or public stores those.
 */
bool policy_storable(enum http_method_id method, const struct cc *req_cc, bool req_authorization,
                     const struct cache_resp *r, double default_ttl);

/* Why a response is not stored, or not looked up (Cache-Status detail). */
enum policy_why {
    WHY_NONE,
    WHY_NO_STORE,       /* no-store, in the response or the request */
    WHY_PRIVATE,        /* private */
    WHY_AUTHORIZATION,  /* an answer to Authorization without public, s-maxage, must-revalidate */
    WHY_SET_COOKIE,     /* cache.set_cookie kept it out */
    WHY_TOO_LARGE,      /* over cache.max_object_size */
    WHY_VARY_STAR,      /* Vary: * */
    WHY_NO_FRESHNESS,   /* nothing makes it fresh, nor can it be validated */
    WHY_RULE_DISABLED,  /* its cache rule says enabled: false */
    WHY_METHOD,         /* not GET (HEAD is answered, never stored itself) */
    WHY_STATUS,         /* a status no cache stores (206, 304, 1xx, unknown) */
    WHY_VARY,           /* varies on a field magpie rewrites per client, or too many */
    WHY_BODY,           /* a GET or HEAD with a body: no key holds it */
    WHY_INVALIDATED,    /* its URL was invalidated or purged while it was fetched */
    WHY_STORE_FAILED,   /* the store could not take it (disk, space) */
    WHY_ONLY_IF_CACHED, /* nothing usable stored, and the request forbade going up */
};
/* policy_storable's answer with the reason: WHY_NONE when storable. */
enum policy_why policy_store_verdict(enum http_method_id method, const struct cc *req_cc,
                                     bool req_authorization, const struct cache_resp *r,
                                     double default_ttl);
/* The Cache-Status detail token for w ("" for WHY_NONE). */
const char *policy_why_name(enum policy_why w);

/*
 * Freshness lifetime in seconds (§4.2.1): s-maxage, max-age, Expires minus
 * Date (Date defaults to response_time; Expires 0 gives 0), else
 * default_ttl when >= 0 (for the statuses policy_storable applies it to),
 * else the heuristic for heuristically cacheable statuses: 10% of the time
 * from Last-Modified to Date (or response_time), at most 24 h; else 0.
 * Never negative, and never over max_ttl when that is >= 0 (a rule's cap).
 */
double policy_freshness_lifetime(const struct cache_resp *r, double default_ttl, double max_ttl);
/* Where a freshness lifetime came from (GET /cache on the admin listener
   reports it). */
enum policy_ttl_src {
    TTL_NONE,        /* nothing gave it one: 0 */
    TTL_S_MAXAGE,    /* s-maxage (or a targeted field's) */
    TTL_MAX_AGE,     /* max-age */
    TTL_EXPIRES,     /* Expires minus Date (an invalid Expires: 0) */
    TTL_DEFAULT_TTL, /* the governing cache rule's default_ttl */
    TTL_HEURISTIC,   /* 10% of the time since Last-Modified */
    TTL_MAX_TTL,     /* the rule's max_ttl cut a longer one */
};
/* policy_freshness_lifetime, saying in *src (when not NULL) what gave it. */
double policy_freshness_lifetime_src(const struct cache_resp *r, double default_ttl, double max_ttl,
                                     enum policy_ttl_src *src);
/* "max-age", "heuristic", ... for s. */
const char *policy_ttl_src_name(enum policy_ttl_src s);
/* Current age in seconds (§4.2.3). A response delay or resident time below
 * 0 (a clock stepped back) counts as 0. */
double policy_current_age(const struct cache_resp *r, time_t now);

enum policy_use {
    USE_FRESH,            /* serve it */
    USE_STALE,            /* stale, but the request's max-stale allows it */
    USE_STALE_REVALIDATE, /* stale-while-revalidate: serve, refresh in the background */
    USE_REVALIDATE,       /* must be validated (or refetched) first */
};
/*
 * How a stored response may satisfy a request (§4.2, §5.2.1, RFC 5861):
 * request no-cache, max-age, max-stale, min-fresh; response no-cache,
 * must-revalidate, proxy-revalidate, s-maxage (which implies
 * proxy-revalidate for shared caches). In that order: no-cache on either
 * side or an age above the request's max-age revalidates; fresh (lifetime
 * > age, and lifetime - age >= min-fresh when given) serves; a stale one
 * with must-revalidate, proxy-revalidate or s-maxage revalidates; then
 * max-stale allows USE_STALE, stale-while-revalidate USE_STALE_REVALIDATE.
 * A response too close to expiry for min-fresh is treated as stale.
 * req_cc may be NULL.
 */
enum policy_use policy_use(const struct cc *req_cc, const struct cache_resp *r, double lifetime,
                           double age);
/* Whether a stale response may answer a failed revalidation (RFC 5861 §4):
 * stale-if-error=N in the request or the response covers age - lifetime,
 * and the response has none of no-cache, must-revalidate,
 * proxy-revalidate, s-maxage. req_cc may be NULL. */
bool policy_stale_if_error(const struct cc *req_cc, const struct cache_resp *r, double lifetime,
                           double age);

/*
 * Whether a stale response may answer when the origin cannot be reached at
 * all (RFC 9111 §4.2.4, "disconnected": refused, reset, timed out): stale by
 * no more than limit seconds (cache.stale_on_error; 0 turns it off), and
 * none of no-cache, must-revalidate, proxy-revalidate, s-maxage forbids it.
 */
bool policy_stale_on_error(const struct cache_resp *r, double lifetime, double age, double limit);
/* Whether the origin gave freshness explicitly: public, or an s-maxage,
   max-age or Expires of more than zero seconds (a heuristic or a route's
   default_ttl is not). */
bool policy_explicitly_cacheable(const struct cache_resp *r);
/*
 * A targeted cache-control field (RFC 9213: CDN-Cache-Control, or a
 * route's own) as directives. Its value is a Structured Fields Dictionary
 * (RFC 8941): false when it does not parse as one or is empty, and the
 * field is then ignored. Directives as in Cache-Control, the last of a
 * repeated key winning as in any Dictionary; booleans may be ?0 (off).
 * A directive whose value has the wrong type reads as its most
 * conservative form: max-age, s-maxage, stale-* not a non-negative Integer
 * are 0; no-store, no-cache, private, must-revalidate, proxy-revalidate
 * with any value but ?0 are on; public and immutable other than ?1 are
 * off. Unknown keys are ignored.
 */
bool policy_targeted_cc(const char *value, struct cc *cc);

/* Whether an unsafe method (anything but GET, HEAD, OPTIONS, TRACE) with a
 * 2xx or 3xx status invalidates stored responses (§4.4). */
bool policy_invalidates(enum http_method_id method, int status);

/*
 * Vary (§4.1): the secondary key of a request for a response whose Vary
 * lists field names. get(name, arg) returns the request's combined value of
 * that field or NULL. Names are lower-cased and sorted, values normalised
 * (whitespace around commas trimmed, runs of spaces folded), so equivalent
 * requests make equal keys. Duplicate names count once. The key is
 * "name:value\n" per name, or "name\n" when the request lacks the field,
 * so absent and empty differ; get() is called with the lower-cased name.
 * Returns the length written (truncated to size with a NUL), or -1 for
 * Vary: * and for a Vary naming something that is not a field name (not a
 * token, or 128 bytes or longer), which cannot be matched either. A result
 * of size - 1 may be a truncation: treat it as too long to vary on.
 */
long policy_vary_key(const char *vary, const char *(*get)(const char *name, void *arg), void *arg,
                     char *out, size_t size);

/* One entity-tag at p ([W/] DQUOTE *etagc DQUOTE, RFC 9110 §8.8.3): sets
 * the opaque part between the quotes (weak comparison ignores W/, so the
 * caller tells strength by whether p starts with it); the end of the tag,
 * or NULL if malformed. */
const char *policy_etag_parse(const char *p, const char **opaque, size_t *len);

/*
 * Conditional requests answered from a stored response (RFC 9110 §13):
 * true when the request's If-None-Match (or, without it, If-Modified-Since)
 * says the client already has it, so 304 is the answer. etag and
 * last_modified describe the stored response (NULL/-1 when absent).
 * If-None-Match uses weak comparison (W/ ignored) over its list, "*"
 * matches; a malformed list matches nothing, and an empty one counts as
 * absent. If-Modified-Since: last_modified <= the date (invalid: false).
 */
bool policy_not_modified(const char *if_none_match, const char *if_modified_since, const char *etag,
                         time_t last_modified);

/*
 * A single byte range (RFC 9110 §14) against a body of size bytes:
 * 1 with [*first, *last] set, 0 when the header should be ignored (absent,
 * multiple ranges, unknown unit, syntax error, last < first), -1 when
 * unsatisfiable (416): first at or past size, a zero suffix, or size 0.
 * last is clamped to size - 1; a suffix longer than the body is all of it.
 */
int policy_range(const char *range, uint64_t size, uint64_t *first, uint64_t *last);

#endif
