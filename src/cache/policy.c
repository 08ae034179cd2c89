/*
 * cache/policy.c - the rules of RFC 9111 (HTTP caching), RFC 5861
 * (stale-while-revalidate, stale-if-error) and the RFC 9110 conditionals and
 * ranges, as pure functions over already-parsed messages: Cache-Control,
 * HTTP-dates, storability, freshness, age, reuse, Vary keys, If-None-Match /
 * If-Modified-Since and single byte ranges.
 *
 * Nothing here does I/O, reads the clock, allocates or looks at the locale
 * or the time zone (no <ctype.h>, no strftime, no mktime): callers pass `now`
 * and the same input always gives the same answer, which is what lets
 * tests/unit/test_policy.c check every rule from a table. Finding and
 * combining header fields is http.c's job; acting on the answers (storing,
 * revalidating, sending 304/206/416) is the cache integration's.
 *
 * When input is malformed the reading chosen is the one that makes the
 * cache do less: store less, serve stale less, answer 304/206 less.
 */
#include "cache/policy.h"

#include <stdio.h>
#include <string.h>

/* RFC 9111 §1.2.2: a delta-seconds too big to represent counts as 2^31. */
#define POLICY_DELTA_MAX 2147483648LL
/* §4.2.2 encourages at most 10% of the time since Last-Modified; we also
 * cap it at a day, as common caches do, so a years-old file is still
 * rechecked daily. */
#define POLICY_HEURISTIC_FRACTION 0.1
#define POLICY_HEURISTIC_MAX 86400.0
/* http_date_parse's stand-in for `now` when placing RFC 850 two-digit
 * years (2025-01-01T00:00:00Z, so 76..99 are 19xx): a fixed point keeps it
 * pure, and only dates decades away read differently from the exact rule. */
#define POLICY_RFC850_REFERENCE ((time_t)1735689600)
/* Longest Vary field name we look up; longer ones make the Vary unusable. */
#define POLICY_VARY_NAME_MAX 128

/* ---- ASCII helpers: locale-independent on purpose ---- */

static bool policy_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool policy_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool policy_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char policy_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* tchar of RFC 9110 §5.6.2 */
static bool policy_tchar(char c)
{
    return c != '\0' && (policy_alpha(c) || policy_digit(c) || strchr("!#$%&'*+-.^_`|~", c));
}

static const char *policy_skip_ows(const char *p)
{
    while (policy_ows(*p))
        p++;
    return p;
}

/* Case-insensitive comparison of p[0..len) with the lower-case word w. */
static bool policy_word_eq(const char *p, size_t len, const char *w)
{
    size_t i;
    for (i = 0; i < len; i++)
        if (w[i] == '\0' || policy_lower(p[i]) != w[i])
            return false;
    return w[i] == '\0';
}

/* ---- Cache-Control ---- */

void cc_init(struct cc *cc)
{
    memset(cc, 0, sizeof(*cc));
    cc->max_age = cc->s_maxage = cc->max_stale = cc->min_fresh = CC_UNSET;
    cc->stale_while_revalidate = cc->stale_if_error = CC_UNSET;
}

/*
 * How each directive reads, so repeated and malformed directives resolve to
 * the reading that restricts most.
 */
enum cc_kind {
    CC_RESTRICTS, /* flag; set even with a stray argument (no-cache="x") */
    CC_WIDENS,    /* flag that permits more; ignored with any argument */
    CC_DELTA,     /* delta-seconds; smallest wins, malformed reads as 0 */
    CC_DELTA_OPT, /* max-stale: valueless means any; otherwise as CC_DELTA */
    CC_DELTA_MIN, /* min-fresh: largest wins, malformed reads as 2^31 */
};

static const struct {
    const char *name;
    enum cc_kind kind;
    size_t off;
} cc_directives[] = {
    {"no-store", CC_RESTRICTS, offsetof(struct cc, no_store)},
    {"no-cache", CC_RESTRICTS, offsetof(struct cc, no_cache)},
    {"private", CC_RESTRICTS, offsetof(struct cc, private_)},
    {"must-revalidate", CC_RESTRICTS, offsetof(struct cc, must_revalidate)},
    {"proxy-revalidate", CC_RESTRICTS, offsetof(struct cc, proxy_revalidate)},
    {"only-if-cached", CC_RESTRICTS, offsetof(struct cc, only_if_cached)},
    {"no-transform", CC_RESTRICTS, offsetof(struct cc, no_transform)},
    {"public", CC_WIDENS, offsetof(struct cc, public_)},
    {"immutable", CC_WIDENS, offsetof(struct cc, immutable)},
    {"max-age", CC_DELTA, offsetof(struct cc, max_age)},
    {"s-maxage", CC_DELTA, offsetof(struct cc, s_maxage)},
    {"stale-while-revalidate", CC_DELTA, offsetof(struct cc, stale_while_revalidate)},
    {"stale-if-error", CC_DELTA, offsetof(struct cc, stale_if_error)},
    {"max-stale", CC_DELTA_OPT, offsetof(struct cc, max_stale)},
    {"min-fresh", CC_DELTA_MIN, offsetof(struct cc, min_fresh)},
};

/* One directive as found in the field value. */
struct cc_item {
    const char *name, *arg; /* arg NULL: no "=" */
    size_t name_len, arg_len;
    bool bad; /* anything malformed after the name */
};

/* delta-seconds (RFC 9111 §1.2.2): 1*DIGIT, saturating at 2^31. */
static bool cc_delta(const char *s, size_t len, int64_t *out)
{
    int64_t v = 0;
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!policy_digit(s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
        if (v > POLICY_DELTA_MAX)
            v = POLICY_DELTA_MAX;
    }
    *out = v;
    return true;
}

int64_t policy_age_value(const char *v)
{
    const char *p = policy_skip_ows(v), *d = p;
    while (policy_digit(*p))
        p++;
    int64_t age;
    if (!cc_delta(d, (size_t)(p - d), &age))
        return -1;
    p = policy_skip_ows(p);
    return *p == '\0' || *p == ',' ? age : -1;
}

static void cc_apply_delta(int64_t *field, enum cc_kind kind, const struct cc_item *it)
{
    int64_t v;
    bool ok = it->arg && !it->bad && cc_delta(it->arg, it->arg_len, &v);
    if (kind == CC_DELTA_MIN) {
        v = ok ? v : POLICY_DELTA_MAX;
        if (*field == CC_UNSET || v > *field)
            *field = v;
        return;
    }
    if (kind == CC_DELTA_OPT && !it->arg && !it->bad)
        v = CC_ANY;
    else if (!ok)
        v = 0;
    if (*field == CC_UNSET || v < *field)
        *field = v;
}

/* Whether a directive's argument, a list of field names, holds name. */
static bool cc_arg_lists(const struct cc_item *it, const char *name)
{
    const char *p = it->arg, *end = it->arg + it->arg_len;
    while (p && p < end) {
        while (p < end && (policy_ows(*p) || *p == ','))
            p++;
        const char *s = p;
        while (p < end && policy_tchar(*p))
            p++;
        if (p > s && policy_word_eq(s, (size_t)(p - s), name))
            return true;
        if (p == s)
            p++; /* not a token: step over it */
    }
    return false;
}

static void cc_apply(struct cc *cc, const struct cc_item *it)
{
    if (it->arg && !it->bad && policy_word_eq(it->name, it->name_len, "no-cache") &&
        cc_arg_lists(it, "set-cookie"))
        cc->no_cache_cookie = true;
    for (size_t i = 0; i < sizeof(cc_directives) / sizeof(cc_directives[0]); i++) {
        if (!policy_word_eq(it->name, it->name_len, cc_directives[i].name))
            continue;
        void *field = (char *)cc + cc_directives[i].off;
        switch (cc_directives[i].kind) {
        case CC_RESTRICTS:
            *(bool *)field = true;
            break;
        case CC_WIDENS:
            if (!it->arg && !it->bad)
                *(bool *)field = true;
            break;
        case CC_DELTA:
        case CC_DELTA_OPT:
        case CC_DELTA_MIN:
            cc_apply_delta(field, cc_directives[i].kind, it);
            break;
        }
        return;
    }
}

/* Past a quoted-string whose opening quote is at p; NULL if unterminated. */
static const char *policy_skip_quoted(const char *p)
{
    for (p++; *p; p++) {
        if (*p == '\\' && p[1])
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* To the next top-level comma (or the end), stepping over quoted commas. */
static const char *policy_skip_element(const char *p)
{
    while (*p && *p != ',') {
        if (*p == '"') {
            const char *q = policy_skip_quoted(p);
            if (!q)
                return p + strlen(p);
            p = q;
        } else {
            p++;
        }
    }
    return p;
}

/* The argument after "=": token or quoted-string (kept with its escapes,
 * which no delta-seconds accepts anyway). */
static const char *cc_parse_arg(const char *p, struct cc_item *it)
{
    p = policy_skip_ows(p);
    if (*p == '"') {
        const char *end = policy_skip_quoted(p);
        if (!end) {
            it->bad = true;
            return p + strlen(p);
        }
        it->arg = p + 1;
        it->arg_len = (size_t)(end - p - 2);
        return end;
    }
    it->arg = p;
    while (policy_tchar(*p))
        p++;
    it->arg_len = (size_t)(p - it->arg);
    if (it->arg_len == 0)
        it->bad = true;
    return p;
}

void cc_parse(struct cc *cc, const char *value)
{
    const char *p = value;
    if (!p)
        return;
    while (*p) {
        struct cc_item it = {0};
        while (policy_ows(*p) || *p == ',')
            p++;
        it.name = p;
        while (policy_tchar(*p))
            p++;
        it.name_len = (size_t)(p - it.name);
        p = policy_skip_ows(p);
        if (*p == '=')
            p = policy_skip_ows(cc_parse_arg(p + 1, &it));
        if (*p && *p != ',') {
            it.bad = true;
            p = policy_skip_element(p);
        }
        if (it.name_len)
            cc_apply(cc, &it);
    }
}

/* ---- HTTP-date (RFC 9110 §5.6.7) ---- */

static const char policy_months[12][4] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char policy_wdays[7][4] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
static const char *const policy_long_wdays[7] = {"sunday",   "monday", "tuesday", "wednesday",
                                                 "thursday", "friday", "saturday"};

struct date_fields {
    int year, mon, day, hour, min, sec; /* mon 1..12 */
};

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil), so no timegm/mktime and no TZ. */
static int64_t policy_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int policy_month_days(int year, int mon)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return mon == 2 && leap ? 29 : days[mon - 1];
}

/* Range checks, then seconds since the epoch. Dates before 1970 read as 0
 * (long expired), so -1 stays unambiguous. A leap second (:60) is allowed
 * and lands on the next minute. */
static time_t date_to_time(const struct date_fields *f)
{
    if (f->day < 1 || f->day > policy_month_days(f->year, f->mon) || f->hour > 23 || f->min > 59 ||
        f->sec > 60)
        return -1;
    int64_t t = policy_days_from_civil(f->year, f->mon, f->day) * 86400 + f->hour * 3600 +
                f->min * 60 + f->sec;
    return t < 0 ? 0 : (time_t)t;
}

/* Exactly n digits. */
static const char *date_num(const char *p, int n, int *out)
{
    *out = 0;
    for (int i = 0; i < n; i++, p++) {
        if (!policy_digit(*p))
            return NULL;
        *out = *out * 10 + (*p - '0');
    }
    return p;
}

static const char *date_lit(const char *p, const char *lit)
{
    size_t n = strlen(lit);
    /* policy_word_eq stops at p's NUL, as no literal contains one */
    return p && policy_word_eq(p, n, lit) ? p + n : NULL;
}

static const char *date_month(const char *p, int *mon)
{
    for (int i = 0; p && i < 12; i++) {
        if (policy_word_eq(p, 3, policy_months[i])) {
            *mon = i + 1;
            return p + 3;
        }
    }
    return NULL;
}

/* "08:49:37" */
static const char *date_clock(const char *p, struct date_fields *f)
{
    p = p ? date_num(p, 2, &f->hour) : NULL;
    p = date_lit(p, ":");
    p = p ? date_num(p, 2, &f->min) : NULL;
    p = date_lit(p, ":");
    return p ? date_num(p, 2, &f->sec) : NULL;
}

/* IMF-fixdate after "Sun,": " 06 Nov 1994 08:49:37 GMT" */
static const char *date_imf(const char *p, struct date_fields *f)
{
    p = date_lit(p, " ");
    p = p ? date_num(p, 2, &f->day) : NULL;
    p = date_month(date_lit(p, " "), &f->mon);
    p = date_lit(p, " ");
    p = p ? date_num(p, 4, &f->year) : NULL;
    p = date_clock(date_lit(p, " "), f);
    return date_lit(p, " gmt");
}

/* rfc850-date after "Sunday,": " 06-Nov-94 08:49:37 GMT"; the year is
 * placed within 50 years of `now` (§5.6.7: one more than 50 years in the
 * future is the most recent past year with those digits). */
static const char *date_rfc850(const char *p, struct date_fields *f, time_t now)
{
    struct tm tm;
    int yy = 0;
    p = date_lit(p, " ");
    p = p ? date_num(p, 2, &f->day) : NULL;
    p = date_month(date_lit(p, "-"), &f->mon);
    p = date_lit(p, "-");
    p = p ? date_num(p, 2, &yy) : NULL;
    p = date_clock(date_lit(p, " "), f);
    p = date_lit(p, " gmt");
    if (!p || !gmtime_r(&now, &tm))
        return NULL;
    int cur = tm.tm_year + 1900;
    f->year = cur - cur % 100 + yy;
    if (f->year > cur + 50)
        f->year -= 100;
    else if (f->year <= cur - 50)
        f->year += 100;
    return p;
}

/* asctime-date after "Sun": " Nov  6 08:49:37 1994" */
static const char *date_asctime(const char *p, struct date_fields *f)
{
    p = date_month(date_lit(p, " "), &f->mon);
    p = date_lit(p, " ");
    if (p && *p == ' ')
        p = date_num(p + 1, 1, &f->day);
    else if (p)
        p = date_num(p, 2, &f->day);
    p = date_clock(date_lit(p, " "), f);
    p = date_lit(p, " ");
    return p ? date_num(p, 4, &f->year) : NULL;
}

/* Which of the three formats, told apart by the weekday and what follows
 * it. The weekday must be a real one but need not match the date. */
static const char *date_any(const char *p, struct date_fields *f, time_t now)
{
    size_t n = 0;
    while (policy_alpha(p[n]))
        n++;
    for (int i = 0; i < 7; i++) {
        if (n == 3 && policy_word_eq(p, 3, policy_wdays[i]))
            return p[3] == ',' ? date_imf(p + 4, f) : date_asctime(p + 3, f);
        if (policy_word_eq(p, n, policy_long_wdays[i]) && p[n] == ',')
            return date_rfc850(p + n + 1, f, now);
    }
    return NULL;
}

time_t http_date_parse_at(const char *s, time_t now)
{
    struct date_fields f = {0};
    if (!s)
        return -1;
    const char *p = date_any(policy_skip_ows(s), &f, now);
    if (!p || *policy_skip_ows(p) != '\0')
        return -1;
    return date_to_time(&f);
}

time_t http_date_parse(const char *s)
{
    return http_date_parse_at(s, POLICY_RFC850_REFERENCE);
}

size_t http_date_format(time_t t, char *out, size_t size)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    static const char wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    struct tm tm;
    if (size == 0)
        return 0;
    out[0] = '\0';
    /* gmtime_r is locale- and TZ-free; strftime's %a/%b are not. */
    if (size < 30 || !gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return 0;
    int n =
        snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday], tm.tm_mday,
                 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return n < 0 ? 0 : (size_t)n;
}

/* ---- storing and freshness ---- */

bool policy_heuristic_status(int status)
{
    static const int codes[] = {200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (codes[i] == status)
            return true;
    return false;
}

/* We store only complete final responses: 206 would need range merging
 * and a 304 only ever refreshes a stored response (§4.3.4). */
bool policy_understood_status(int status)
{
    return status >= 200 && status <= 599 && status != 206 && status != 304;
}

/*
 * A rule's default_ttl stands in for the origin's missing freshness, but
 * not on errors that are not heuristically cacheable (a 500, 502 or 503
 * from a struggling origin must not be pinned for default_ttl), nor on
 * temporary redirects: a 302 to a freshly signed URL or a login page is
 * meant for this request alone (RFC 9110 §15.4).
 */
static bool policy_default_applies(int status, double default_ttl)
{
    return default_ttl >= 0 && policy_understood_status(status) &&
           (status < 400 || policy_heuristic_status(status)) && status != 302 && status != 303 &&
           status != 307;
}

static bool policy_explicit_freshness(const struct cache_resp *r)
{
    return r->cc.s_maxage != CC_UNSET || r->cc.max_age != CC_UNSET || r->expires != -1;
}

enum policy_why policy_store_verdict(enum http_method_id method, const struct cc *req_cc,
                                     bool req_authorization, const struct cache_resp *r,
                                     double default_ttl)
{
    if (method != HTTP_M_GET && method != HTTP_M_HEAD)
        return WHY_METHOD;
    if (!policy_understood_status(r->status))
        return WHY_STATUS;
    if (r->cc.no_store || (req_cc && req_cc->no_store))
        return WHY_NO_STORE;
    if (r->cc.private_)
        return WHY_PRIVATE;
    /* §3.5: only these let a shared cache reuse an authenticated answer */
    if (req_authorization && !r->cc.public_ && r->cc.s_maxage == CC_UNSET && !r->cc.must_revalidate)
        return WHY_AUTHORIZATION;
    /* Vary: * never matches a later request (§4.1), so storing is waste */
    if (r->vary_star)
        return WHY_VARY_STAR;
    return policy_explicit_freshness(r) || r->cc.public_ || policy_heuristic_status(r->status) ||
                   policy_default_applies(r->status, default_ttl)
               ? WHY_NONE
               : WHY_NO_FRESHNESS;
}

bool policy_storable(enum http_method_id method, const struct cc *req_cc, bool req_authorization,
                     const struct cache_resp *r, double default_ttl)
{
    return policy_store_verdict(method, req_cc, req_authorization, r, default_ttl) == WHY_NONE;
}

const char *policy_why_name(enum policy_why w)
{
    switch (w) {
    case WHY_NONE:
        return "";
    case WHY_NO_STORE:
        return "no-store";
    case WHY_PRIVATE:
        return "private";
    case WHY_AUTHORIZATION:
        return "authorization";
    case WHY_SET_COOKIE:
        return "set-cookie";
    case WHY_TOO_LARGE:
        return "too-large";
    case WHY_VARY_STAR:
        return "vary-star";
    case WHY_NO_FRESHNESS:
        return "no-freshness";
    case WHY_RULE_DISABLED:
        return "rule-disabled";
    case WHY_METHOD:
        return "method";
    case WHY_STATUS:
        return "status";
    case WHY_VARY:
        return "vary";
    case WHY_BODY:
        return "request-body";
    case WHY_INVALIDATED:
        return "invalidated";
    case WHY_STORE_FAILED:
        return "store-failed";
    case WHY_ONLY_IF_CACHED:
        return "only-if-cached";
    }
    return "";
}

static double policy_nonneg(double v)
{
    return v > 0 ? v : 0;
}

/* 10% of the time since Last-Modified, measured at Date (§4.2.2). */
static double policy_heuristic(const struct cache_resp *r)
{
    time_t base = r->date != -1 ? r->date : r->response_time;
    if (r->last_modified == -1)
        return 0;
    double v = policy_nonneg((double)base - (double)r->last_modified) * POLICY_HEURISTIC_FRACTION;
    return v < POLICY_HEURISTIC_MAX ? v : POLICY_HEURISTIC_MAX;
}

static double policy_lifetime(const struct cache_resp *r, double default_ttl,
                              enum policy_ttl_src *src)
{
    if (r->cc.s_maxage != CC_UNSET) {
        *src = TTL_S_MAXAGE;
        return policy_nonneg((double)r->cc.s_maxage);
    }
    if (r->cc.max_age != CC_UNSET) {
        *src = TTL_MAX_AGE;
        return policy_nonneg((double)r->cc.max_age);
    }
    if (r->expires != -1) {
        /* an invalid Expires (0) means already expired (§5.3) */
        time_t date = r->date != -1 ? r->date : r->response_time;
        *src = TTL_EXPIRES;
        return r->expires == 0 ? 0 : policy_nonneg((double)r->expires - (double)date);
    }
    if (policy_default_applies(r->status, default_ttl)) {
        *src = TTL_DEFAULT_TTL;
        return default_ttl;
    }
    if (policy_heuristic_status(r->status) && r->last_modified != -1) {
        *src = TTL_HEURISTIC;
        return policy_heuristic(r);
    }
    *src = TTL_NONE;
    return 0;
}

double policy_freshness_lifetime_src(const struct cache_resp *r, double default_ttl, double max_ttl,
                                     enum policy_ttl_src *src)
{
    enum policy_ttl_src ignored;
    if (!src)
        src = &ignored;
    double v = policy_lifetime(r, default_ttl, src);
    if (max_ttl >= 0 && v > max_ttl) {
        *src = TTL_MAX_TTL;
        return max_ttl;
    }
    return v;
}

double policy_freshness_lifetime(const struct cache_resp *r, double default_ttl, double max_ttl)
{
    return policy_freshness_lifetime_src(r, default_ttl, max_ttl, NULL);
}

const char *policy_ttl_src_name(enum policy_ttl_src s)
{
    switch (s) {
    case TTL_NONE:
        return "none";
    case TTL_S_MAXAGE:
        return "s-maxage";
    case TTL_MAX_AGE:
        return "max-age";
    case TTL_EXPIRES:
        return "expires";
    case TTL_DEFAULT_TTL:
        return "default_ttl";
    case TTL_HEURISTIC:
        return "heuristic";
    case TTL_MAX_TTL:
        return "max_ttl";
    }
    return "none";
}

/*
 * §4.2.3 step by step. Two guards the RFC leaves implicit: a response
 * delay or resident time below 0 (the clock stepped back, or the caller
 * mixed up its times) counts as 0, so a bad clock never makes a response
 * younger than its corrected initial age.
 */
double policy_current_age(const struct cache_resp *r, time_t now)
{
    double age_value = r->age >= 0 ? (double)r->age : 0;
    double apparent_age =
        r->date != -1 ? policy_nonneg((double)r->response_time - (double)r->date) : 0;
    double response_delay = policy_nonneg((double)r->response_time - (double)r->request_time);
    double corrected_age_value = age_value + response_delay;
    double corrected_initial_age =
        apparent_age > corrected_age_value ? apparent_age : corrected_age_value;
    double resident_time = policy_nonneg((double)now - (double)r->response_time);
    return corrected_initial_age + resident_time;
}

/* ---- reuse ---- */

/* s-maxage carries proxy-revalidate for a shared cache (§5.2.2.10). */
static bool policy_never_stale(const struct cc *rc)
{
    return rc->must_revalidate || rc->proxy_revalidate || rc->s_maxage != CC_UNSET;
}

static bool policy_within(int64_t limit, double staleness)
{
    return limit != CC_UNSET && (limit == CC_ANY || staleness <= (double)limit);
}

enum policy_use policy_use(const struct cc *req_cc, const struct cache_resp *r, double lifetime,
                           double age)
{
    struct cc none;
    if (!req_cc) {
        cc_init(&none);
        req_cc = &none;
    }
    if (r->cc.no_cache || req_cc->no_cache)
        return USE_REVALIDATE;
    /* max-age=0 is how clients ask for a reload: ages are whole seconds, so
       "no older than 0" would otherwise still accept a response this second */
    if (req_cc->max_age != CC_UNSET && (age > (double)req_cc->max_age || req_cc->max_age == 0))
        return USE_REVALIDATE;
    /* min-fresh: not fresh enough for this client counts as stale */
    bool fresh = lifetime > age &&
                 (req_cc->min_fresh == CC_UNSET || lifetime - age >= (double)req_cc->min_fresh);
    if (fresh)
        return USE_FRESH;
    if (policy_never_stale(&r->cc))
        return USE_REVALIDATE;
    double staleness = age - lifetime;
    if (policy_within(req_cc->max_stale, staleness))
        return USE_STALE;
    if (policy_within(r->cc.stale_while_revalidate, staleness))
        return USE_STALE_REVALIDATE;
    return USE_REVALIDATE;
}

bool policy_stale_if_error(const struct cc *req_cc, const struct cache_resp *r, double lifetime,
                           double age)
{
    if (policy_never_stale(&r->cc) || r->cc.no_cache)
        return false;
    double staleness = age - lifetime;
    return (req_cc && policy_within(req_cc->stale_if_error, staleness)) ||
           policy_within(r->cc.stale_if_error, staleness);
}

bool policy_stale_on_error(const struct cache_resp *r, double lifetime, double age, double limit)
{
    if (limit <= 0 || policy_never_stale(&r->cc) || r->cc.no_cache)
        return false;
    return age - lifetime <= limit;
}

bool policy_explicitly_cacheable(const struct cache_resp *r)
{
    /* fresh for no time (max-age=0, an Expires already past) is a
       revalidation per reuse: the origin's 304 for the next client does not
       hand it the first client's Set-Cookie */
    enum policy_ttl_src src;
    return r->cc.public_ || (policy_explicit_freshness(r) && policy_lifetime(r, -1, &src) > 0);
}

bool policy_invalidates(enum http_method_id method, int status)
{
    if (status < 200 || status > 399)
        return false;
    switch (method) {
    case HTTP_M_GET:
    case HTTP_M_HEAD:
    case HTTP_M_OPTIONS:
    case HTTP_M_TRACE:
        return false; /* safe (RFC 9110 §9.2.1) */
    case HTTP_M_OTHER:
    case HTTP_M_POST:
    case HTTP_M_PUT:
    case HTTP_M_CONNECT:
    case HTTP_M_DELETE:
    case HTTP_M_PURGE:
        break;
    }
    return true;
}

/* ---- Vary ---- */

/* Bounded writer: keeps what fits, always NUL-terminated. */
struct vkey {
    char *out;
    size_t size, len;
};

static void vkey_put(struct vkey *k, char c)
{
    if (k->len + 1 < k->size)
        k->out[k->len++] = c;
}

static void vkey_puts(struct vkey *k, const char *s)
{
    while (*s)
        vkey_put(k, *s++);
}

/* Next list element of Vary, trimmed; NULL when the list is done. */
static const char *vary_next(const char *p, const char **name, size_t *len)
{
    while (policy_ows(*p) || *p == ',')
        p++;
    if (!*p)
        return NULL;
    *name = p;
    while (*p && *p != ',')
        p++;
    const char *end = p;
    while (end > *name && policy_ows(end[-1]))
        end--;
    *len = (size_t)(end - *name);
    return p;
}

/* -1, 0, 1 as name (case-folded) sorts before, equal to, after low. */
static int vary_cmp(const char *name, size_t len, const char *low)
{
    for (size_t i = 0;; i++) {
        char a = i < len ? policy_lower(name[i]) : '\0';
        if (a != low[i])
            return (unsigned char)a < (unsigned char)low[i] ? -1 : 1;
        if (a == '\0')
            return 0;
    }
}

/* Every element a token and short enough, and none "*". */
static bool vary_valid(const char *vary)
{
    const char *p = vary, *name;
    size_t len;
    while ((p = vary_next(p, &name, &len))) {
        if (len >= POLICY_VARY_NAME_MAX || (len == 1 && name[0] == '*'))
            return false;
        for (size_t i = 0; i < len; i++)
            if (!policy_tchar(name[i]))
                return false;
    }
    return true;
}

/* The smallest name after prev (lower-cased into out); false when none.
 * Walking the list in order this way sorts and de-duplicates it without
 * any allocation; Vary lists are short. */
static bool vary_after(const char *vary, const char *prev, char *out)
{
    const char *p = vary, *name;
    size_t len;
    bool found = false;
    while ((p = vary_next(p, &name, &len))) {
        if ((prev[0] && vary_cmp(name, len, prev) <= 0) || (found && vary_cmp(name, len, out) >= 0))
            continue;
        for (size_t i = 0; i < len; i++)
            out[i] = policy_lower(name[i]);
        out[len] = '\0';
        found = true;
    }
    return found;
}

static bool vary_newline(char c)
{
    return c == '\r' || c == '\n';
}

static bool vary_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The value with outer whitespace trimmed, inner runs folded to one space
 * and whitespace next to commas dropped; quoted strings are kept as they
 * are except that CR/LF become spaces, so the key never holds a newline. */
static void vary_put_value(struct vkey *k, const char *v)
{
    bool quoted = false, pending = false;
    char last = '\0';
    for (; *v; v++) {
        char c = *v;
        if (quoted) {
            vkey_put(k, vary_newline(c) ? ' ' : c);
            if (c == '\\' && v[1]) {
                v++;
                vkey_put(k, vary_newline(*v) ? ' ' : *v);
            } else if (c == '"') {
                quoted = false;
            }
            last = c;
            continue;
        }
        if (vary_space(c)) {
            pending = true;
            continue;
        }
        if (pending && last != '\0' && last != ',' && c != ',')
            vkey_put(k, ' ');
        pending = false;
        quoted = c == '"';
        vkey_put(k, c);
        last = c;
    }
}

/* "name:value\n" when present, "name\n" when absent: a name is a token,
 * so it cannot contain ':', and absent differs from empty. */
static void vary_put_field(struct vkey *k, const char *name,
                           const char *(*get)(const char *name, void *arg), void *arg)
{
    const char *v = get(name, arg);
    vkey_puts(k, name);
    if (v) {
        vkey_put(k, ':');
        vary_put_value(k, v);
    }
    vkey_put(k, '\n');
}

/* A Vary of one name (Accept-Encoding, most often): lower-cased into
   name in the one pass that checks it; false when it is not a token. */
static bool vary_single(const char *vary, char *name)
{
    const char *p = vary, *start;
    size_t len;
    if (!vary_next(p, &start, &len) || len >= POLICY_VARY_NAME_MAX || (len == 1 && start[0] == '*'))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!policy_tchar(start[i]))
            return false;
        name[i] = policy_lower(start[i]);
    }
    name[len] = '\0';
    return true;
}

long policy_vary_key(const char *vary, const char *(*get)(const char *name, void *arg), void *arg,
                     char *out, size_t size)
{
    struct vkey k = {out, size, 0};
    char prev[POLICY_VARY_NAME_MAX] = "", name[POLICY_VARY_NAME_MAX];
    if (size)
        out[0] = '\0';
    if (!vary)
        return 0;
    if (!strchr(vary, ',') && *vary) {
        if (!vary_single(vary, name))
            return *policy_skip_ows(vary) ? -1 : 0; /* only whitespace: no name */
        vary_put_field(&k, name, get, arg);
        if (size)
            out[k.len] = '\0';
        return (long)k.len;
    }
    if (!vary_valid(vary))
        return -1;
    while (vary_after(vary, prev, name)) {
        vary_put_field(&k, name, get, arg);
        memcpy(prev, name, strlen(name) + 1);
    }
    if (size)
        out[k.len] = '\0';
    return (long)k.len;
}

/* ---- conditionals ---- */

const char *policy_etag_parse(const char *p, const char **opaque, size_t *len)
{
    if (p[0] == 'W' && p[1] == '/')
        p += 2;
    if (*p != '"')
        return NULL;
    *opaque = ++p;
    while (*p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c < 0x21 || c == 0x7f)
            return NULL;
        p++;
    }
    *len = (size_t)(p - *opaque);
    return p + 1;
}

/* Weak comparison against every tag of the list; a malformed list matches
 * nothing, so the full response goes out. */
static bool inm_match(const char *p, const char *etag)
{
    const char *have = NULL, *tag;
    size_t have_len = 0, len;
    bool match = false;
    if (etag) {
        const char *end = policy_etag_parse(policy_skip_ows(etag), &have, &have_len);
        if (!end || *policy_skip_ows(end) != '\0')
            have = NULL;
    }
    for (;;) {
        while (policy_ows(*p) || *p == ',')
            p++;
        if (!*p)
            return match;
        if (!(p = policy_etag_parse(p, &tag, &len)))
            return false;
        match = match || (have && len == have_len && memcmp(tag, have, len) == 0);
        p = policy_skip_ows(p);
        if (*p && *p != ',')
            return false;
    }
}

bool policy_not_modified(const char *if_none_match, const char *if_modified_since, const char *etag,
                         time_t last_modified)
{
    /* an empty If-None-Match is taken as absent: it names no tag */
    const char *inm = if_none_match ? policy_skip_ows(if_none_match) : NULL;
    if (inm && *inm) {
        /* "*" matches any current representation, and we have one */
        if (*inm == '*')
            return *policy_skip_ows(inm + 1) == '\0';
        return inm_match(inm, etag);
    }
    if (!if_modified_since || last_modified == -1)
        return false;
    time_t since = http_date_parse(if_modified_since);
    return since != -1 && last_modified <= since;
}

/* ---- ranges ---- */

struct range_spec {
    bool suffix, has_last;
    uint64_t first, last; /* suffix: last holds the suffix length */
};

/* 1*DIGIT, saturating: a huge position is still a position. */
static const char *range_num(const char *p, uint64_t *out)
{
    if (!policy_digit(*p))
        return NULL;
    *out = 0;
    for (; policy_digit(*p); p++) {
        uint64_t d = (uint64_t)(*p - '0');
        *out = *out > (UINT64_MAX - d) / 10 ? UINT64_MAX : *out * 10 + d;
    }
    return p;
}

static const char *range_spec_parse(const char *p, struct range_spec *s)
{
    memset(s, 0, sizeof(*s));
    if (*p == '-') {
        s->suffix = true;
        return range_num(policy_skip_ows(p + 1), &s->last);
    }
    if (!(p = range_num(p, &s->first)))
        return NULL;
    p = policy_skip_ows(p);
    if (*p++ != '-')
        return NULL;
    p = policy_skip_ows(p);
    if (!policy_digit(*p))
        return p;
    s->has_last = true;
    p = range_num(p, &s->last);
    /* §14.1.1: last before first makes the range-spec invalid */
    return s->last < s->first ? NULL : p;
}

/* §14.1.1 satisfiability, clamping last to the end of the body. */
static int range_resolve(const struct range_spec *s, uint64_t size, uint64_t *first, uint64_t *last)
{
    if (size == 0)
        return -1;
    if (s->suffix) {
        if (s->last == 0)
            return -1;
        *first = s->last >= size ? 0 : size - s->last;
        *last = size - 1;
        return 1;
    }
    if (s->first >= size)
        return -1;
    *first = s->first;
    *last = s->has_last && s->last < size - 1 ? s->last : size - 1;
    return 1;
}

int policy_range(const char *range, uint64_t size, uint64_t *first, uint64_t *last)
{
    struct range_spec spec = {0}, s;
    int n = 0;
    if (!range)
        return 0;
    const char *p = policy_skip_ows(range);
    /* range units are case-insensitive (§14.1) */
    if (!policy_word_eq(p, 5, "bytes"))
        return 0;
    p = policy_skip_ows(p + 5);
    if (*p++ != '=')
        return 0;
    for (;;) {
        while (policy_ows(*p) || *p == ',')
            p++;
        if (!*p)
            break;
        if (!(p = range_spec_parse(p, &s)))
            return 0;
        p = policy_skip_ows(p);
        if (*p && *p != ',')
            return 0;
        spec = s;
        n++;
    }
    /* several ranges would need multipart/byteranges: send it all */
    if (n != 1)
        return 0;
    return range_resolve(&spec, size, first, last);
}
