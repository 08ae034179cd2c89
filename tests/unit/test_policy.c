/*
 * test_policy.c - cache/policy.c as tables: Cache-Control parsing
 * (repeats, quotes, malformed values), HTTP-dates in all three formats and
 * garbage, the §4.2.3 age arithmetic with explicit numbers, the storability
 * matrix, freshness lifetimes, the reuse matrix (max-age, max-stale,
 * min-fresh, no-cache, must-revalidate, s-maxage, RFC 5861), invalidation,
 * Vary keys, conditionals and byte ranges. Every time is passed in; nothing
 * reads the clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cache/policy.h"

#include "rows.h"

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))
#define U CC_UNSET
#define BIG 2147483648LL /* 2^31, where delta-seconds saturate */

/* Sun, 06 Nov 1994 08:49:37 GMT, the RFC 9110 example date */
#define T94 ((time_t)784111777)

static struct cc cc_of(const char *value)
{
    struct cc cc;
    cc_init(&cc);
    cc_parse(&cc, value);
    return cc;
}

/* A response as policy sees it; times in seconds, -1 for absent. */
static struct cache_resp resp_of(int status, const char *cc, time_t date, time_t expires,
                                 time_t last_modified, int64_t age, time_t request_time,
                                 time_t response_time)
{
    struct cache_resp r = {
        .status = status,
        .cc = cc_of(cc),
        .date = date,
        .expires = expires,
        .last_modified = last_modified,
        .age = age,
        .request_time = request_time,
        .response_time = response_time,
    };
    return r;
}

/* ---- Cache-Control ---- */

enum {
    NS = 1 << 0,   /* no-store */
    NC = 1 << 1,   /* no-cache */
    PRIV = 1 << 2, /* private */
    PUB = 1 << 3,  /* public */
    MR = 1 << 4,   /* must-revalidate */
    PR = 1 << 5,   /* proxy-revalidate */
    OIC = 1 << 6,  /* only-if-cached */
    IMM = 1 << 7,  /* immutable */
    NT = 1 << 8,   /* no-transform */
};

static unsigned cc_flags(const struct cc *cc)
{
    return (cc->no_store ? NS : 0) | (cc->no_cache ? NC : 0) | (cc->private_ ? PRIV : 0) |
           (cc->public_ ? PUB : 0) | (cc->must_revalidate ? MR : 0) |
           (cc->proxy_revalidate ? PR : 0) | (cc->only_if_cached ? OIC : 0) |
           (cc->immutable ? IMM : 0) | (cc->no_transform ? NT : 0);
}

static void test_cc_parse(void **state)
{
    /* d: max-age, s-maxage, max-stale, min-fresh, stale-while-revalidate,
     * stale-if-error; lines are separate Cache-Control field lines */
    static const struct {
        const char *lines[3];
        unsigned flags;
        int64_t d[6];
    } cases[] = {
        {{""}, 0, {U, U, U, U, U, U}},
        {{",, ,\t,"}, 0, {U, U, U, U, U, U}},
        {{"no-store"}, NS, {U, U, U, U, U, U}},
        {{"NO-STORE"}, NS, {U, U, U, U, U, U}},
        {{"No-Cache, Private"}, NC | PRIV, {U, U, U, U, U, U}},
        {{"no-store, no-cache, private, public, must-revalidate, proxy-revalidate, "
          "only-if-cached, immutable, no-transform"},
         NS | NC | PRIV | PUB | MR | PR | OIC | IMM | NT,
         {U, U, U, U, U, U}},
        /* RFC 9111 §5.2.2.1 and §5.2.3 examples */
        {{"max-age=5"}, 0, {5, U, U, U, U, U}},
        {{"private, community=\"UCI\""}, PRIV, {U, U, U, U, U, U}},
        /* RFC 5861 examples */
        {{"max-age=600, stale-while-revalidate=30"}, 0, {600, U, U, U, 30, U}},
        {{"max-age=600, stale-if-error=1200"}, 0, {600, U, U, U, U, 1200}},
        {{"Stale-While-Revalidate=7, STALE-IF-ERROR=8"}, 0, {U, U, U, U, 7, 8}},
        /* whitespace, tabs, quoted delta-seconds */
        {{"  max-age = 60 ,\tpublic\t"}, PUB, {60, U, U, U, U, U}},
        {{"max-age=\"60\""}, 0, {60, U, U, U, U, U}},
        {{"s-maxage=0"}, 0, {U, 0, U, U, U, U}},
        /* malformed delta-seconds read as 0 */
        {{"max-age=abc"}, 0, {0, U, U, U, U, U}},
        {{"max-age"}, 0, {0, U, U, U, U, U}},
        {{"max-age="}, 0, {0, U, U, U, U, U}},
        {{"max-age=-1"}, 0, {0, U, U, U, U, U}},
        {{"max-age=1.5"}, 0, {0, U, U, U, U, U}},
        {{"max-age=60abc"}, 0, {0, U, U, U, U, U}},
        {{"max-age=6 0"}, 0, {0, U, U, U, U, U}},
        {{"max-age 60"}, 0, {0, U, U, U, U, U}},
        {{"max-age=\"6\\0\""}, 0, {0, U, U, U, U, U}},
        {{"stale-while-revalidate, stale-if-error=x"}, 0, {U, U, U, U, 0, 0}},
        /* overflow saturates at 2^31 */
        {{"max-age=2147483647"}, 0, {2147483647, U, U, U, U, U}},
        {{"max-age=2147483648"}, 0, {BIG, U, U, U, U, U}},
        {{"max-age=99999999999999999999999999"}, 0, {BIG, U, U, U, U, U}},
        /* repeats keep the most restrictive */
        {{"max-age=60, max-age=30"}, 0, {30, U, U, U, U, U}},
        {{"max-age=30", "max-age=60"}, 0, {30, U, U, U, U, U}},
        {{"max-age=60, max-age=abc"}, 0, {0, U, U, U, U, U}},
        {{"s-maxage=10", "s-maxage=5", "s-maxage=7"}, 0, {U, 5, U, U, U, U}},
        {{"stale-if-error=100, stale-if-error=10"}, 0, {U, U, U, U, U, 10}},
        /* max-stale: bare means any staleness */
        {{"max-stale"}, 0, {U, U, CC_ANY, U, U, U}},
        {{"max-stale=10"}, 0, {U, U, 10, U, U, U}},
        {{"max-stale, max-stale=10"}, 0, {U, U, 10, U, U, U}},
        {{"max-stale=x"}, 0, {U, U, 0, U, U, U}},
        /* min-fresh: the largest is the most restrictive */
        {{"min-fresh=5, min-fresh=10"}, 0, {U, U, U, 10, U, U}},
        {{"min-fresh=x"}, 0, {U, U, U, BIG, U, U}},
        {{"min-fresh"}, 0, {U, U, U, BIG, U, U}},
        /* qualified forms count as unqualified; commas inside quotes */
        {{"no-cache=\"Set-Cookie, Foo\", max-age=5"}, NC, {5, U, U, U, U, U}},
        {{"private=\"x, y\", public"}, PRIV | PUB, {U, U, U, U, U, U}},
        {{"no-cache=\"a\\\"b,max-age=1\", max-age=9"}, NC, {9, U, U, U, U, U}},
        {{"ext=\"a,max-age=0\", max-age=100"}, 0, {100, U, U, U, U, U}},
        {{"no-cache=Set-Cookie"}, NC, {U, U, U, U, U, U}},
        {{"no-store=foo, must-revalidate=1"}, NS | MR, {U, U, U, U, U, U}},
        /* widening directives with an argument are ignored */
        {{"public=\"x\", immutable=1"}, 0, {U, U, U, U, U, U}},
        {{"public", "immutable"}, PUB | IMM, {U, U, U, U, U, U}},
        /* an unterminated quote swallows the rest */
        {{"no-cache=\"abc, max-age=5"}, NC, {U, U, U, U, U, U}},
        {{"max-age=\"5"}, 0, {0, U, U, U, U, U}},
        /* unknown and garbage elements are skipped */
        {{"foo, bar=baz, max-age=3"}, 0, {3, U, U, U, U, U}},
        {{"@@@, =5, \"x\", max-age=7"}, 0, {7, U, U, U, U, U}},
        {{"max-agex=5, xmax-age=5"}, 0, {U, U, U, U, U, U}},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct cc cc;
        cc_init(&cc);
        for (size_t k = 0; k < 3 && cases[i].lines[k]; k++)
            cc_parse(&cc, cases[i].lines[k]);
        int64_t got[6] = {
            cc.max_age,       cc.s_maxage, cc.max_stale, cc.min_fresh, cc.stale_while_revalidate,
            cc.stale_if_error};
        if (cc_flags(&cc) != cases[i].flags)
            row_fail("\"%s\": flags %#x, want %#x", cases[i].lines[0], cc_flags(&cc),
                     cases[i].flags);
        for (int k = 0; k < 6; k++)
            if (got[k] != cases[i].d[k])
                row_fail("\"%s\": delta #%d is %" PRId64 ", want %" PRId64, cases[i].lines[0], k,
                         got[k], cases[i].d[k]);
    }
    struct cc cc = cc_of(NULL);
    assert_true(cc_flags(&cc) == 0 && cc.max_age == CC_UNSET && cc.max_stale == CC_UNSET);
    rows_done();
}

/* no-cache="..." naming Set-Cookie: the cookie is not to be reused */
static void test_cc_no_cache_cookie(void **state)
{
    static const struct {
        const char *line;
        bool want;
    } cases[] = {
        {"no-cache=\"Set-Cookie\"", true},
        {"public, no-cache=\"X-Foo, set-cookie\", max-age=9", true},
        {"no-cache=Set-Cookie", true},
        {"no-cache=\" Set-Cookie ,X\"", true},
        {"no-cache", false},
        {"no-cache=\"Set-Cookie2\"", false},
        {"no-cache=\"X-Set-Cookie\"", false},
        {"private=\"Set-Cookie\"", false}, /* private: not stored at all */
        {"no-cache=\"Set-Cookie", false},  /* unterminated */
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct cc cc = cc_of(cases[i].line);
        if (cc.no_cache_cookie != cases[i].want)
            row_fail("\"%s\": no_cache_cookie %d, want %d", cases[i].line, cc.no_cache_cookie,
                     cases[i].want);
    }
    rows_done();
}

/* ---- HTTP-date ---- */

static void test_date_parse(void **state)
{
    static const struct {
        const char *s;
        time_t want;
    } cases[] = {
        /* RFC 9110 §5.6.7: the same instant in all three formats */
        {"Sun, 06 Nov 1994 08:49:37 GMT", T94},
        {"Sunday, 06-Nov-94 08:49:37 GMT", T94},
        {"Sun Nov  6 08:49:37 1994", T94},
        {"Sun Nov 06 08:49:37 1994", T94},
        {"sun, 06 nov 1994 08:49:37 gmt", T94},
        {"SUNDAY, 06-NOV-94 08:49:37 GMT", T94},
        {"  Sun, 06 Nov 1994 08:49:37 GMT\t", T94},
        {"Mon, 06 Nov 1994 08:49:37 GMT", T94}, /* weekday not checked */
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
        {"Sat, 29 Feb 2020 12:00:00 GMT", 1582977600},
        {"Tue, 29 Feb 2000 00:00:00 GMT", 951782400},
        {"Mon, 31 Dec 2029 23:59:59 GMT", 1893455999},
        {"Tue, 19 Jan 2038 03:14:08 GMT", 2147483648},
        {"Fri, 31 Dec 9999 23:59:59 GMT", 253402300799},
        {"Sun, 06 Nov 1994 08:49:60 GMT", T94 + 23}, /* leap second */
        {"Wed Feb 29 12:00:00 2020", 1582977600},
        /* before 1970: long expired */
        {"Wed, 31 Dec 1969 23:59:59 GMT", 0},
        {"Mon, 01 Jan 1900 00:00:00 GMT", 0},
        /* RFC 850 two-digit years around the 2025 reference */
        {"Thursday, 01-Jan-76 00:00:00 GMT", 189302400},
        {"Wednesday, 01-Jan-70 00:00:00 GMT", 3155760000},
        /* out of range */
        {"Fri, 29 Feb 2019 00:00:00 GMT", -1},
        {"Mon, 29 Feb 1900 00:00:00 GMT", -1},
        {"Sun, 31 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 32 Oct 1994 08:49:37 GMT", -1},
        {"Sun, 00 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06 Nov 1994 24:00:00 GMT", -1},
        {"Sun, 06 Nov 1994 08:60:00 GMT", -1},
        {"Sun, 06 Nov 1994 08:49:61 GMT", -1},
        /* malformed */
        {"", -1},
        {"garbage", -1},
        {"0", -1},
        {"784111777", -1},
        {"Sun, 06 Nov 1994 08:49:37", -1},
        {"Sun, 06 Nov 1994 08:49:37 UTC", -1},
        {"Sun, 06 Nov 1994 08:49:37 GMTx", -1},
        {"Sun, 06 Nov 1994 08:49:37 GMT x", -1},
        {"Sun, 6 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06 Nov 94 08:49:37 GMT", -1},
        {"Sun, 06 Nov 1994 8:49:37 GMT", -1},
        {"Sun, 06 Nov 1994 08.49.37 GMT", -1},
        {"Sun,06 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06  Nov 1994 08:49:37 GMT", -1},
        {"Foo, 06 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06 Foo 1994 08:49:37 GMT", -1},
        {"Sunday, 06 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06-Nov-94 08:49:37 GMT", -1},
        {"Sunday, 06-Nov-1994 08:49:37 GMT", -1},
        {"Sunday, 06-Nov-94 08:49:37", -1},
        {"Sun Nov 6 08:49:37 1994", -1},
        {"Sun Nov  6 08:49:37 1994 GMT", -1},
        {"Sun Nov  6 08:49:37 94", -1},
        {"Sund, 06 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06 Nov 1994 08:49:37 GMT\n", -1},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        time_t got = http_date_parse(cases[i].s);
        if (got != cases[i].want)
            row_fail("\"%s\": %lld, want %lld", cases[i].s, (long long)got,
                     (long long)cases[i].want);
    }
    assert_int_equal(http_date_parse(NULL), -1);
    rows_done();
}

static void test_date_rfc850_years(void **state)
{
    /* §5.6.7: a year more than 50 years ahead of now is the most recent
     * past year with the same two digits */
    static const struct {
        time_t now;
        const char *s;
        time_t want;
    } cases[] = {
        {1748736000 /* 2025-06 */, "Sunday, 06-Nov-94 08:49:37 GMT", T94},
        {1748736000, "Saturday, 01-Jun-75 00:00:00 GMT", 3326572800},
        {1748736000, "Thursday, 01-Jan-76 00:00:00 GMT", 189302400},
        {801964800 /* 1995-06 */, "Sunday, 06-Nov-94 08:49:37 GMT", T94},
        {801964800, "Sunday, 01-Jan-45 00:00:00 GMT", 2366841600},
        {801964800, "Monday, 01-Jan-46 00:00:00 GMT", 0}, /* 1946 */
        {4083955200 /* 2099-06 */, "Tuesday, 01-Mar-01 00:00:00 GMT", 4139078400},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        time_t got = http_date_parse_at(cases[i].s, cases[i].now);
        if (got != cases[i].want)
            row_fail("\"%s\" at %lld: %lld, want %lld", cases[i].s, (long long)cases[i].now,
                     (long long)got, (long long)cases[i].want);
    }
    rows_done();
}

static void test_date_format(void **state)
{
    static const struct {
        time_t t;
        const char *want;
    } cases[] = {
        {T94, "Sun, 06 Nov 1994 08:49:37 GMT"},
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
        {2147483648, "Tue, 19 Jan 2038 03:14:08 GMT"},
        {253402300799, "Fri, 31 Dec 9999 23:59:59 GMT"},
        {253402300800, ""}, /* year 10000 has no IMF-fixdate */
    };
    char out[30];
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        size_t n = http_date_format(cases[i].t, out, sizeof(out));
        if (n != strlen(cases[i].want) || strcmp(out, cases[i].want) != 0)
            row_fail("%lld: \"%s\" (%zu), want \"%s\"", (long long)cases[i].t, out, n,
                     cases[i].want);
    }
    /* too small a buffer writes nothing */
    assert_int_equal(http_date_format(T94, out, 29), 0);
    assert_string_equal(out, "");
    /* round trip, across leap days and centuries */
    for (time_t t = 0; t < 4200000000; t += 86400 * 37 + 3601) {
        http_date_format(t, out, sizeof(out));
        if (http_date_parse(out) != t)
            row_fail("round trip of %lld via \"%s\"", (long long)t, out);
    }
    rows_done();
}

/* ---- age and freshness ---- */

static void test_current_age(void **state)
{
    static const struct {
        const char *name;
        time_t date;
        int64_t age;
        time_t req, resp, now;
        double want;
    } cases[] = {
        {"just received", 1000, -1, 1000, 1000, 1000, 0},
        {"resident a minute", 1000, -1, 1000, 1000, 1060, 60},
        {"no Date: delay + resident", -1, -1, 1000, 1002, 1010, 10},
        /* apparent_age 100 > corrected_age_value 10 + 1 */
        {"apparent age wins", 900, 10, 999, 1000, 1050, 150},
        /* apparent 5 < corrected 60 + 2 */
        {"Age header wins", 995, 60, 998, 1000, 1000, 62},
        {"Age plus delay plus resident", 1000, 30, 990, 1000, 1100, 140},
        {"Date ahead of us", 1100, -1, 1000, 1000, 1030, 30},
        {"Age absent, Date absent, instant", -1, -1, 500, 500, 500, 0},
        {"clock stepped back", 1000, 5, 1000, 1000, 900, 5},
        {"request after response", 1000, -1, 1010, 1000, 1000, 0},
        {"huge Age", 1000, BIG, 1000, 1000, 1000, (double)BIG},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct cache_resp r =
            resp_of(200, "", cases[i].date, -1, -1, cases[i].age, cases[i].req, cases[i].resp);
        double got = policy_current_age(&r, cases[i].now);
        if (got != cases[i].want)
            row_fail("%s: %g, want %g", cases[i].name, got, cases[i].want);
    }
    rows_done();
}

static void test_freshness_lifetime(void **state)
{
    static const struct {
        const char *name;
        int status;
        const char *cc;
        time_t date, expires, lm, resp;
        double ttl, want;
    } cases[] = {
        {"s-maxage beats max-age", 200, "max-age=60, s-maxage=30", 1000, -1, -1, 1000, -1, 30},
        {"max-age beats Expires", 200, "max-age=60", 1000, 5000, -1, 1000, -1, 60},
        {"max-age=0", 200, "max-age=0", 1000, -1, 900, 1000, 300, 0},
        {"Expires - Date", 200, "", 1000, 1600, -1, 1010, -1, 600},
        {"Expires - response_time without Date", 200, "", -1, 1600, -1, 1100, -1, 500},
        {"Expires in the past", 200, "", 1000, 900, -1, 1000, -1, 0},
        {"Expires invalid (0)", 200, "", 1000, 0, 500, 1000, 300, 0},
        {"Expires beats default_ttl", 200, "", 1000, 1010, -1, 1000, 300, 10},
        {"default_ttl", 200, "", 1000, -1, -1, 1000, 300, 300},
        {"default_ttl beats heuristic", 200, "", 100000, -1, 90000, 100000, 300, 300},
        {"default_ttl 0", 200, "", 100000, -1, 90000, 100000, 0, 0},
        {"no default_ttl on 302", 302, "", 1000, -1, -1, 1000, 300, 0},
        {"no default_ttl on 303", 303, "", 1000, -1, -1, 1000, 300, 0},
        {"no default_ttl on 307", 307, "", 1000, -1, -1, 1000, 300, 0},
        {"default_ttl on 301", 301, "", 1000, -1, -1, 1000, 300, 300},
        {"default_ttl on 308", 308, "", 1000, -1, -1, 1000, 300, 300},
        {"no default_ttl on 500", 500, "", 1000, -1, -1, 1000, 300, 0},
        {"no default_ttl on 503", 503, "", 1000, -1, 500, 1000, 300, 0},
        {"default_ttl on 404", 404, "", 1000, -1, -1, 1000, 300, 300},
        {"explicit on 500", 500, "max-age=60", 1000, -1, -1, 1000, 300, 60},
        {"heuristic 10%", 200, "", 100000, -1, 90000, 100000, -1, 1000},
        {"heuristic from response_time", 200, "", -1, -1, 90000, 100000, -1, 1000},
        {"heuristic capped at a day", 200, "", 10000000, -1, 0, 10000000, -1, 86400},
        {"heuristic on 404", 404, "", 100000, -1, 90000, 100000, -1, 1000},
        {"heuristic on 301", 301, "", 100000, -1, 90000, 100000, -1, 1000},
        {"no heuristic on 302", 302, "", 100000, -1, 90000, 100000, -1, 0},
        {"no heuristic on 500", 500, "public", 100000, -1, 90000, 100000, -1, 0},
        {"Last-Modified after Date", 200, "", 1000, -1, 2000, 1000, -1, 0},
        {"no Last-Modified", 200, "", 1000, -1, -1, 1000, -1, 0},
        {"no-cache keeps its max-age", 200, "no-cache, max-age=60", 1000, -1, -1, 1000, -1, 60},
        {"saturated max-age", 200, "max-age=999999999999", 1000, -1, -1, 1000, -1, (double)BIG},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct cache_resp r = resp_of(cases[i].status, cases[i].cc, cases[i].date, cases[i].expires,
                                      cases[i].lm, -1, cases[i].resp, cases[i].resp);
        double got = policy_freshness_lifetime(&r, cases[i].ttl, -1);
        if (got != cases[i].want)
            row_fail("%s: %g, want %g", cases[i].name, got, cases[i].want);
    }
    rows_done();
}

/* The reason policy_storable refuses, first failing check first (the
   Cache-Status detail a miss carries). */
static void test_store_verdict(void **state)
{
    static const struct {
        const char *name;
        enum http_method_id method;
        const char *req_cc;
        bool auth;
        int status;
        const char *cc;
        bool vary_star;
        double ttl;
        enum policy_why want;
    } cases[] = {
        {"storable", HTTP_M_GET, "", false, 200, "max-age=60", false, -1, WHY_NONE},
        {"POST", HTTP_M_POST, "", false, 200, "max-age=60", false, -1, WHY_METHOD},
        {"206", HTTP_M_GET, "", false, 206, "max-age=60", false, -1, WHY_STATUS},
        {"response no-store", HTTP_M_GET, "", false, 200, "no-store", false, -1, WHY_NO_STORE},
        {"request no-store", HTTP_M_GET, "no-store", false, 200, "max-age=60", false, -1,
         WHY_NO_STORE},
        {"private", HTTP_M_GET, "", false, 200, "private, max-age=60", false, -1, WHY_PRIVATE},
        {"no-store before private", HTTP_M_GET, "", false, 200, "private, no-store", false, -1,
         WHY_NO_STORE},
        {"authorization", HTTP_M_GET, "", true, 200, "max-age=60", false, -1, WHY_AUTHORIZATION},
        {"authorization and public", HTTP_M_GET, "", true, 200, "public", false, -1, WHY_NONE},
        {"Vary: *", HTTP_M_GET, "", false, 200, "max-age=60", true, -1, WHY_VARY_STAR},
        {"302 with nothing", HTTP_M_GET, "", false, 302, "", false, -1, WHY_NO_FRESHNESS},
        {"302 and default_ttl", HTTP_M_GET, "", false, 302, "", false, 60, WHY_NO_FRESHNESS},
        {"500 and default_ttl", HTTP_M_GET, "", false, 500, "", false, 60, WHY_NO_FRESHNESS},
        {"404 and default_ttl", HTTP_M_GET, "", false, 404, "", false, 60, WHY_NONE},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct cc req = cc_of(cases[i].req_cc);
        struct cache_resp r = resp_of(cases[i].status, cases[i].cc, 1000, -1, -1, -1, 1000, 1000);
        r.vary_star = cases[i].vary_star;
        enum policy_why got =
            policy_store_verdict(cases[i].method, &req, cases[i].auth, &r, cases[i].ttl);
        if (got != cases[i].want)
            row_fail("%s: %s, want %s", cases[i].name, policy_why_name(got),
                     policy_why_name(cases[i].want));
        if (policy_storable(cases[i].method, &req, cases[i].auth, &r, cases[i].ttl) !=
            (cases[i].want == WHY_NONE))
            row_fail("%s: policy_storable disagrees", cases[i].name);
    }
    for (int w = WHY_NO_STORE; w <= WHY_ONLY_IF_CACHED; w++)
        if (!*policy_why_name((enum policy_why)w) ||
            strspn(policy_why_name((enum policy_why)w), "abcdefghijklmnopqrstuvwxyz-") !=
                strlen(policy_why_name((enum policy_why)w)))
            row_fail("reason %d has no token name", w); /* a Cache-Status token */
    rows_done();
}

/* A rule's max_ttl caps every source of freshness, and only caps. */
static void test_freshness_max_ttl(void **state)
{
    static const struct {
        const char *name;
        int status;
        const char *cc;
        time_t expires, lm;
        double ttl, max, want;
    } cases[] = {
        {"caps s-maxage", 200, "s-maxage=600", -1, -1, -1, 60, 60},
        {"caps max-age", 200, "max-age=600", -1, -1, -1, 60, 60},
        {"caps Expires", 200, "", 1600, -1, -1, 60, 60},
        {"caps the heuristic", 200, "", -1, 90000, -1, 60, 60},
        {"caps default_ttl", 200, "", -1, -1, 3600, 60, 60},
        {"under the cap", 200, "max-age=30", -1, -1, -1, 60, 30},
        {"max_ttl 0: always stale", 200, "max-age=600", -1, -1, -1, 0, 0},
        {"no cap", 200, "max-age=600", -1, -1, -1, -1, 600},
        {"nothing to cap", 200, "", -1, -1, -1, 60, 0},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct cache_resp r = resp_of(cases[i].status, cases[i].cc, 1000, cases[i].expires,
                                      cases[i].lm, -1, 1000, 1000);
        if (cases[i].lm != -1)
            r.date = r.response_time = 100000; /* 10% of 10000 s: 1000 s */
        double got = policy_freshness_lifetime(&r, cases[i].ttl, cases[i].max);
        if (got != cases[i].want)
            row_fail("%s: %g, want %g", cases[i].name, got, cases[i].want);
    }
    rows_done();
}

/* What gave a lifetime (GET /cache reports it): the first source that
   applies in §4.2.1's order, and max_ttl when the rule's cap cut it. */
static void test_freshness_source(void **state)
{
    static const struct {
        const char *name;
        int status;
        const char *cc;
        time_t expires, lm;
        double ttl, max;
        enum policy_ttl_src want;
        double lifetime;
    } cases[] = {
        {"s-maxage over max-age", 200, "max-age=60, s-maxage=30", 5000, 1, 300, -1, TTL_S_MAXAGE,
         30},
        {"max-age over Expires", 200, "max-age=60", 5000, 1, 300, -1, TTL_MAX_AGE, 60},
        {"max-age=0 is still max-age", 200, "max-age=0", -1, 1, 300, -1, TTL_MAX_AGE, 0},
        {"Expires", 200, "", 1600, 1, 300, -1, TTL_EXPIRES, 600},
        {"invalid Expires", 200, "", 0, 1, 300, -1, TTL_EXPIRES, 0},
        {"default_ttl over heuristic", 200, "", -1, 1, 300, -1, TTL_DEFAULT_TTL, 300},
        {"default_ttl 0", 200, "", -1, 1, 0, -1, TTL_DEFAULT_TTL, 0},
        {"heuristic", 200, "", -1, 0, -1, -1, TTL_HEURISTIC, 100},
        {"heuristic status, no Last-Modified", 200, "", -1, -1, -1, -1, TTL_NONE, 0},
        {"no heuristic on 302", 302, "", -1, 0, 300, -1, TTL_NONE, 0},
        {"cut by max_ttl", 200, "max-age=600", -1, -1, -1, 60, TTL_MAX_TTL, 60},
        {"under max_ttl", 200, "max-age=30", -1, -1, -1, 60, TTL_MAX_AGE, 30},
        {"heuristic cut by max_ttl", 200, "", -1, 0, -1, 10, TTL_MAX_TTL, 10},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct cache_resp r = resp_of(cases[i].status, cases[i].cc, 1000, cases[i].expires,
                                      cases[i].lm, -1, 1000, 1000);
        enum policy_ttl_src src = (enum policy_ttl_src) - 1;
        double got = policy_freshness_lifetime_src(&r, cases[i].ttl, cases[i].max, &src);
        if (src != cases[i].want || got != cases[i].lifetime)
            row_fail("%s: %s %g, want %s %g", cases[i].name, policy_ttl_src_name(src), got,
                     policy_ttl_src_name(cases[i].want), cases[i].lifetime);
        if (got != policy_freshness_lifetime(&r, cases[i].ttl, cases[i].max))
            row_fail("%s: the two entry points disagree", cases[i].name);
    }
    assert_string_equal(policy_ttl_src_name(TTL_HEURISTIC), "heuristic");
    assert_string_equal(policy_ttl_src_name(TTL_DEFAULT_TTL), "default_ttl");
    rows_done();
}

/* ---- storing ---- */

static void test_status_lists(void **state)
{
    static const struct {
        int status;
        bool heuristic, understood;
    } cases[] = {
        {100, false, false}, {101, false, false}, {199, false, false}, {200, true, true},
        {201, false, true},  {203, true, true},   {204, true, true},   {206, true, false},
        {300, true, true},   {301, true, true},   {302, false, true},  {304, false, false},
        {307, false, true},  {308, true, true},   {400, false, true},  {404, true, true},
        {405, true, true},   {410, true, true},   {414, true, true},   {500, false, true},
        {501, true, true},   {503, false, true},  {599, false, true},  {600, false, false},
        {0, false, false},   {-1, false, false},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        if (policy_heuristic_status(cases[i].status) != cases[i].heuristic)
            row_fail("%d: heuristic %d", cases[i].status, !cases[i].heuristic);
        if (policy_understood_status(cases[i].status) != cases[i].understood)
            row_fail("%d: understood %d", cases[i].status, !cases[i].understood);
    }
    rows_done();
}

/* Every method id magpie has. */
static const enum http_method_id all_methods[] = {
    HTTP_M_OTHER,   HTTP_M_GET,    HTTP_M_HEAD,    HTTP_M_POST,  HTTP_M_PUT,
    HTTP_M_CONNECT, HTTP_M_DELETE, HTTP_M_OPTIONS, HTTP_M_TRACE, HTTP_M_PURGE,
};

static void test_storable(void **state)
{
    static const struct {
        const char *name;
        enum http_method_id method;
        const char *req_cc;
        bool auth;
        int status;
        const char *cc;
        time_t expires;
        bool vary_star;
        double ttl;
        bool want;
    } cases[] = {
        {"plain 200", HTTP_M_GET, "", false, 200, "", -1, false, -1, true},
        {"HEAD", HTTP_M_HEAD, "", false, 200, "", -1, false, -1, true},
        {"POST", HTTP_M_POST, "", false, 200, "max-age=60", -1, false, -1, false},
        {"PUT", HTTP_M_PUT, "", false, 200, "public", -1, false, 60, false},
        {"DELETE", HTTP_M_DELETE, "", false, 200, "max-age=60", -1, false, -1, false},
        {"OPTIONS", HTTP_M_OPTIONS, "", false, 200, "public", -1, false, 60, false},
        {"TRACE", HTTP_M_TRACE, "", false, 200, "max-age=60", -1, false, -1, false},
        {"CONNECT", HTTP_M_CONNECT, "", false, 200, "max-age=60", -1, false, -1, false},
        {"PURGE", HTTP_M_PURGE, "", false, 200, "max-age=60", -1, false, -1, false},
        /* PATCH, the WebDAV methods, ...; "get" never parses (test_http.c) */
        {"a method without an id", HTTP_M_OTHER, "", false, 200, "max-age=60", -1, false, -1,
         false},
        {"206", HTTP_M_GET, "", false, 206, "max-age=60", -1, false, -1, false},
        {"304", HTTP_M_GET, "", false, 304, "max-age=60", -1, false, -1, false},
        {"1xx", HTTP_M_GET, "", false, 100, "max-age=60", -1, false, -1, false},
        {"600", HTTP_M_GET, "", false, 600, "max-age=60", -1, false, -1, false},
        {"599 with max-age", HTTP_M_GET, "", false, 599, "max-age=60", -1, false, -1, true},
        {"response no-store", HTTP_M_GET, "", false, 200, "no-store, max-age=60", -1, false, 60,
         false},
        {"request no-store", HTTP_M_GET, "no-store", false, 200, "max-age=60", -1, false, -1,
         false},
        {"request no-cache stores", HTTP_M_GET, "no-cache", false, 200, "max-age=60", -1, false, -1,
         true},
        {"private", HTTP_M_GET, "", false, 200, "private, max-age=60", -1, false, -1, false},
        {"private=\"x\"", HTTP_M_GET, "", false, 200, "private=\"Set-Cookie\"", -1, false, -1,
         false},
        {"response no-cache stores", HTTP_M_GET, "", false, 200, "no-cache", -1, false, -1, true},
        {"Authorization alone", HTTP_M_GET, "", true, 200, "max-age=60", -1, false, -1, false},
        {"Authorization + public", HTTP_M_GET, "", true, 200, "public", -1, false, -1, true},
        {"Authorization + s-maxage", HTTP_M_GET, "", true, 200, "s-maxage=60", -1, false, -1, true},
        {"Authorization + must-revalidate", HTTP_M_GET, "", true, 200, "must-revalidate", -1, false,
         -1, true},
        {"Authorization + default_ttl", HTTP_M_GET, "", true, 200, "", -1, false, 60, false},
        {"Vary: *", HTTP_M_GET, "", false, 200, "max-age=60", -1, true, -1, false},
        {"302 bare", HTTP_M_GET, "", false, 302, "", -1, false, -1, false},
        {"302 max-age", HTTP_M_GET, "", false, 302, "max-age=60", -1, false, -1, true},
        {"302 s-maxage", HTTP_M_GET, "", false, 302, "s-maxage=60", -1, false, -1, true},
        {"302 Expires", HTTP_M_GET, "", false, 302, "", 5000, false, -1, true},
        {"302 invalid Expires", HTTP_M_GET, "", false, 302, "", 0, false, -1, true},
        {"302 public", HTTP_M_GET, "", false, 302, "public", -1, false, -1, true},
        {"302 default_ttl: temporary", HTTP_M_GET, "", false, 302, "", -1, false, 60, false},
        {"303 default_ttl: temporary", HTTP_M_GET, "", false, 303, "", -1, false, 60, false},
        {"307 default_ttl 0: temporary", HTTP_M_GET, "", false, 307, "", -1, false, 0, false},
        {"308 default_ttl", HTTP_M_GET, "", false, 308, "", -1, false, 60, true},
        {"201 default_ttl", HTTP_M_GET, "", false, 201, "", -1, false, 60, true},
        {"500 bare", HTTP_M_GET, "", false, 500, "", -1, false, -1, false},
        {"500 default_ttl", HTTP_M_GET, "", false, 500, "", -1, false, 60, false},
        {"503 default_ttl", HTTP_M_GET, "", false, 503, "", -1, false, 60, false},
        {"403 default_ttl", HTTP_M_GET, "", false, 403, "", -1, false, 60, false},
        {"500 max-age", HTTP_M_GET, "", false, 500, "max-age=10", -1, false, -1, true},
        {"503 public", HTTP_M_GET, "", false, 503, "public", -1, false, -1, true},
        {"404 heuristic", HTTP_M_GET, "", false, 404, "", -1, false, -1, true},
        {"410 heuristic", HTTP_M_GET, "", false, 410, "", -1, false, -1, true},
        {"501 heuristic", HTTP_M_GET, "", false, 501, "", -1, false, -1, true},
        {"public with argument", HTTP_M_GET, "", false, 302, "public=1", -1, false, -1, false},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct cache_resp r =
            resp_of(cases[i].status, cases[i].cc, -1, cases[i].expires, -1, -1, 1000, 1000);
        struct cc req = cc_of(cases[i].req_cc);
        r.vary_star = cases[i].vary_star;
        bool got = policy_storable(cases[i].method, &req, cases[i].auth, &r, cases[i].ttl);
        if (got != cases[i].want)
            row_fail("%s: %d, want %d", cases[i].name, got, cases[i].want);
    }
    /* no request directives at all */
    struct cache_resp r = resp_of(200, "", -1, -1, -1, -1, 0, 0);
    assert_true(policy_storable(HTTP_M_GET, NULL, false, &r, -1));
    /* every method: only GET and HEAD store what GET would */
    r = resp_of(200, "public, max-age=60", -1, -1, -1, -1, 0, 0);
    for (size_t i = 0; i < NROWS(all_methods); i++) {
        bool want = all_methods[i] == HTTP_M_GET || all_methods[i] == HTTP_M_HEAD;
        if (policy_storable(all_methods[i], NULL, false, &r, 60) != want)
            row_fail("method id %d: storable %d", (int)all_methods[i], !want);
    }
    rows_done();
}

/* ---- reuse ---- */

static const char *use_name(enum policy_use u)
{
    switch (u) {
    case USE_FRESH:
        return "FRESH";
    case USE_STALE:
        return "STALE";
    case USE_STALE_REVALIDATE:
        return "STALE_REVALIDATE";
    case USE_REVALIDATE:
        return "REVALIDATE";
    }
    return "?";
}

static void test_use(void **state)
{
    static const struct {
        const char *req, *resp;
        double lifetime, age;
        enum policy_use want;
    } cases[] = {
        {"", "", 100, 50, USE_FRESH},
        {"", "", 100, 99.5, USE_FRESH},
        {"", "", 100, 100, USE_REVALIDATE}, /* fresh means lifetime > age */
        {"", "", 100, 150, USE_REVALIDATE},
        {"", "", 0, 0, USE_REVALIDATE},
        /* no-cache on either side */
        {"", "no-cache", 100, 0, USE_REVALIDATE},
        {"", "no-cache=\"Set-Cookie\"", 100, 0, USE_REVALIDATE},
        {"no-cache", "", 100, 0, USE_REVALIDATE},
        {"no-cache, max-stale", "stale-while-revalidate=60", 100, 120, USE_REVALIDATE},
        {"", "no-cache, stale-while-revalidate=60", 100, 120, USE_REVALIDATE},
        /* request max-age */
        {"max-age=30", "", 100, 50, USE_REVALIDATE},
        {"max-age=50", "", 100, 50, USE_FRESH},
        {"max-age=0", "", 100, 0, USE_REVALIDATE}, /* a reload, even within the second */
        {"max-age=0", "", 100, 1, USE_REVALIDATE},
        {"max-age=10, max-stale", "", 5, 8, USE_STALE},
        {"max-age=10", "stale-while-revalidate=60", 100, 20, USE_REVALIDATE},
        /* min-fresh */
        {"min-fresh=50", "", 100, 50, USE_FRESH},
        {"min-fresh=60", "", 100, 50, USE_REVALIDATE},
        {"min-fresh=60, max-stale", "", 100, 50, USE_STALE},
        {"min-fresh=60", "stale-while-revalidate=10", 100, 50, USE_STALE_REVALIDATE},
        {"min-fresh=60", "must-revalidate, stale-while-revalidate=10", 100, 50, USE_REVALIDATE},
        {"min-fresh=x", "", 1e9, 0, USE_REVALIDATE},
        /* max-stale */
        {"max-stale", "", 100, 1e9, USE_STALE},
        {"max-stale=10", "", 100, 110, USE_STALE},
        {"max-stale=10", "", 100, 111, USE_REVALIDATE},
        {"max-stale=0", "", 100, 100, USE_STALE},
        {"max-stale", "", 100, 50, USE_FRESH},
        /* never served stale */
        {"max-stale", "must-revalidate", 100, 101, USE_REVALIDATE},
        {"max-stale", "proxy-revalidate", 100, 101, USE_REVALIDATE},
        {"max-stale", "s-maxage=100", 100, 101, USE_REVALIDATE},
        {"", "must-revalidate", 100, 50, USE_FRESH},
        {"", "s-maxage=100", 100, 50, USE_FRESH},
        /* RFC 5861 stale-while-revalidate */
        {"", "max-age=600, stale-while-revalidate=30", 600, 620, USE_STALE_REVALIDATE},
        {"", "max-age=600, stale-while-revalidate=30", 600, 630, USE_STALE_REVALIDATE},
        {"", "max-age=600, stale-while-revalidate=30", 600, 631, USE_REVALIDATE},
        {"", "max-age=600, stale-while-revalidate=30", 600, 300, USE_FRESH},
        {"", "stale-while-revalidate=30, must-revalidate", 600, 610, USE_REVALIDATE},
        {"", "stale-while-revalidate=30, s-maxage=600", 600, 610, USE_REVALIDATE},
        {"", "stale-while-revalidate", 600, 600, USE_STALE_REVALIDATE}, /* reads as 0 */
        {"", "stale-while-revalidate", 600, 601, USE_REVALIDATE},
        /* the client's max-stale is checked before the origin's swr */
        {"max-stale=5", "stale-while-revalidate=30", 100, 103, USE_STALE},
        {"max-stale=5", "stale-while-revalidate=30", 100, 120, USE_STALE_REVALIDATE},
        /* stale-if-error does not allow normal stale serving */
        {"stale-if-error=100", "stale-if-error=100", 100, 120, USE_REVALIDATE},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct cc req = cc_of(cases[i].req);
        struct cache_resp r = resp_of(200, cases[i].resp, -1, -1, -1, -1, 0, 0);
        enum policy_use got = policy_use(&req, &r, cases[i].lifetime, cases[i].age);
        if (got != cases[i].want)
            row_fail("req \"%s\" resp \"%s\" lifetime %g age %g: %s, want %s", cases[i].req,
                     cases[i].resp, cases[i].lifetime, cases[i].age, use_name(got),
                     use_name(cases[i].want));
    }
    struct cache_resp r = resp_of(200, "", -1, -1, -1, -1, 0, 0);
    assert_int_equal(policy_use(NULL, &r, 100, 50), USE_FRESH);
    assert_int_equal(policy_use(NULL, &r, 100, 150), USE_REVALIDATE);
    rows_done();
}

static void test_stale_if_error(void **state)
{
    static const struct {
        const char *req, *resp;
        double lifetime, age;
        bool want;
    } cases[] = {
        /* RFC 5861 §4 example: max-age=600, stale-if-error=1200 */
        {"", "max-age=600, stale-if-error=1200", 600, 1000, true},
        {"", "max-age=600, stale-if-error=1200", 600, 1800, true},
        {"", "max-age=600, stale-if-error=1200", 600, 1801, false},
        {"stale-if-error=60", "", 100, 160, true},
        {"stale-if-error=60", "", 100, 161, false},
        {"stale-if-error=10", "stale-if-error=100", 100, 150, true},
        {"stale-if-error=100", "stale-if-error=10", 100, 150, true},
        {"", "", 100, 101, false},
        {"", "stale-if-error", 100, 101, false}, /* malformed reads as 0 */
        {"", "stale-if-error=60", 100, 50, true},
        {"no-cache", "stale-if-error=60", 100, 120, true},
        {"", "stale-if-error=60, must-revalidate", 100, 120, false},
        {"", "stale-if-error=60, proxy-revalidate", 100, 120, false},
        {"", "stale-if-error=60, s-maxage=100", 100, 120, false},
        {"", "stale-if-error=60, no-cache", 100, 120, false},
        {"stale-if-error=60", "must-revalidate", 100, 120, false},
        {"", "stale-while-revalidate=60", 100, 120, false},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct cc req = cc_of(cases[i].req);
        struct cache_resp r = resp_of(200, cases[i].resp, -1, -1, -1, -1, 0, 0);
        bool got = policy_stale_if_error(&req, &r, cases[i].lifetime, cases[i].age);
        if (got != cases[i].want)
            row_fail("req \"%s\" resp \"%s\" lifetime %g age %g: %d, want %d", cases[i].req,
                     cases[i].resp, cases[i].lifetime, cases[i].age, got, cases[i].want);
    }
    struct cache_resp r = resp_of(200, "stale-if-error=60", -1, -1, -1, -1, 0, 0);
    assert_true(policy_stale_if_error(NULL, &r, 100, 120));
    rows_done();
}

static void test_age_value(void **state)
{
    static const struct {
        const char *in;
        int64_t want;
    } cases[] = {
        {"5", 5},       {"0", 0},
        {" 7 ", 7},     {"5, 10", 5}, /* a list: its first member (RFC 9111 §5.1) */
        {"5,10", 5},    {"10, 5", 10},
        {"5,", 5},      {"99999999999999", BIG},
        {"", -1},       {"abc", -1},
        {"abc, 5", -1}, /* an invalid first member: the Age is ignored */
        {"-5", -1},     {"5x", -1},
        {"5 x", -1},    {"5.0", -1},
        {", 5", -1},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        int64_t got = policy_age_value(cases[i].in);
        if (got != cases[i].want)
            row_fail("Age \"%s\": %" PRId64 ", want %" PRId64, cases[i].in, got, cases[i].want);
    }
    rows_done();
}

static void test_stale_on_error(void **state)
{
    static const struct {
        const char *resp;
        double lifetime, age, limit;
        bool want;
    } cases[] = {
        {"max-age=60", 60, 100, 600, true},
        {"max-age=60", 60, 660, 600, true},
        {"max-age=60", 60, 661, 600, false},
        {"max-age=60", 60, 100, 0, false}, /* 0 turns it off */
        {"", 0, 30, 600, true},
        {"max-age=60, must-revalidate", 60, 100, 600, false},
        {"max-age=60, proxy-revalidate", 60, 100, 600, false},
        {"max-age=60, no-cache", 60, 100, 600, false},
        {"max-age=60, s-maxage=60", 60, 100, 600, false},
        {"max-age=60, stale-if-error=5", 60, 100, 600, true},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct cache_resp r = resp_of(200, cases[i].resp, -1, -1, -1, -1, 0, 0);
        bool got = policy_stale_on_error(&r, cases[i].lifetime, cases[i].age, cases[i].limit);
        if (got != cases[i].want)
            row_fail("resp \"%s\" lifetime %g age %g limit %g: %d, want %d", cases[i].resp,
                     cases[i].lifetime, cases[i].age, cases[i].limit, got, cases[i].want);
    }
    rows_done();
}

static void test_explicitly_cacheable(void **state)
{
    static const struct {
        const char *cc;
        time_t expires, last_modified;
        bool want;
    } cases[] = {
        {"public", -1, -1, true},
        {"max-age=60", -1, -1, true},
        {"s-maxage=60", -1, -1, true},
        {"max-age=0", -1, -1, false}, /* fresh for no time: revalidated per reuse */
        {"s-maxage=0", -1, -1, false},
        {"public, max-age=0", -1, -1, true},
        {"", T94 + 60, -1, true},
        {"", T94, -1, false}, /* Expires at Date */
        {"", 0, -1, false},   /* an invalid Expires: already expired */
        {"", -1, T94, false}, /* fresh only by heuristic */
        {"", -1, -1, false},
        {"must-revalidate", -1, T94, false},
        {"stale-while-revalidate=60", -1, -1, false},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct cache_resp r =
            resp_of(200, cases[i].cc, T94, cases[i].expires, cases[i].last_modified, -1, T94, T94);
        if (policy_explicitly_cacheable(&r) != cases[i].want)
            row_fail("\"%s\" expires %lld: want %d", cases[i].cc, (long long)cases[i].expires,
                     cases[i].want);
    }
    rows_done();
}

static void test_targeted_cc(void **state)
{
    static const struct {
        const char *in;
        bool valid;
        unsigned flags;
        int64_t max_age, s_maxage, swr;
    } cases[] = {
        {"max-age=60", true, 0, 60, U, U},
        {"no-store", true, NS, U, U, U},
        {"private", true, PRIV, U, U, U},
        {"no-cache", true, NC, U, U, U},
        {"no-cache, max-age=60", true, NC, 60, U, U},
        {"max-age=60, s-maxage=30, stale-while-revalidate=10", true, 0, 60, 30, 10},
        {"max-age=60;foo=bar, public", true, PUB, 60, U, U},
        {"max-age=60, max-age=10", true, 0, 10, U, U}, /* a Dictionary: the last wins */
        {"max-age=10, max-age=60", true, 0, 60, U, U},
        {"no-store=?0, max-age=5", true, 0, 5, U, U},
        {"no-store=?1", true, NS, U, U, U},
        {"must-revalidate, proxy-revalidate", true, MR | PR, U, U, U},
        {"public=?0", true, 0, U, U, U},
        {"public=\"yes\"", true, 0, U, U, U},            /* widening only as a true Boolean */
        {"private=\"set-cookie\"", true, PRIV, U, U, U}, /* a String: conservative */
        {"no-cache=(\"a\" \"b\")", true, NC, U, U, U},
        {"max-age=\"60\"", true, 0, 0, U, U}, /* not an Integer: 0 */
        {"max-age=1.5", true, 0, 0, U, U},
        {"max-age=-5", true, 0, 0, U, U},
        {"max-age=99999999999", true, 0, BIG, U, U},
        {"max-age=60, x-ext=:aGk=:, y=tok/en, z=?1", true, 0, 60, U, U},
        {"  max-age=60  ,  no-store", true, NS, 60, U, U},
        {"immutable, max-age=60", true, IMM, 60, U, U},
        /* not a Dictionary: the field is ignored */
        {"", false, 0, U, U, U},
        {"   ", false, 0, U, U, U},
        {"Max-Age=60", false, 0, U, U, U},
        {"max-age=60,", false, 0, U, U, U},
        {"max-age=60;", false, 0, U, U, U},
        {"max-age=", false, 0, U, U, U},
        {"max-age=60 no-store", false, 0, U, U, U},
        {"max-age=\"60", false, 0, U, U, U},
        {"max-age=\"a\\x\"", false, 0, U, U, U},
        {"max-age=1234567890123456", false, 0, U, U, U},
        {"max-age=1.2345", false, 0, U, U, U},
        {"no-store=?2", false, 0, U, U, U},
        {"a=(1 2", false, 0, U, U, U},
        {"a=:not base64!:", false, 0, U, U, U},
        {",max-age=60", false, 0, U, U, U},
        {"max-age=60,,no-store", false, 0, U, U, U},
        {"1abc", false, 0, U, U, U},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct cc cc;
        cc_init(&cc);
        cc.max_age = 777; /* untouched when invalid */
        bool valid = policy_targeted_cc(cases[i].in, &cc);
        if (valid != cases[i].valid) {
            row_fail("\"%s\": valid %d, want %d", cases[i].in, valid, cases[i].valid);
            continue;
        }
        if (!valid) {
            if (cc.max_age != 777)
                row_fail("\"%s\": an invalid field changed the directives", cases[i].in);
            continue;
        }
        if (cc_flags(&cc) != cases[i].flags || cc.max_age != cases[i].max_age ||
            cc.s_maxage != cases[i].s_maxage || cc.stale_while_revalidate != cases[i].swr)
            row_fail("\"%s\": flags %#x max-age %" PRId64 " s-maxage %" PRId64 " swr %" PRId64,
                     cases[i].in, cc_flags(&cc), cc.max_age, cc.s_maxage,
                     cc.stale_while_revalidate);
    }
    rows_done();
}

static void test_invalidates(void **state)
{
    static const struct {
        const char *name;
        enum http_method_id method;
        int status;
        bool want;
    } cases[] = {
        {"POST", HTTP_M_POST, 200, true},        {"PUT", HTTP_M_PUT, 201, true},
        {"DELETE", HTTP_M_DELETE, 204, true},    {"PATCH (no id)", HTTP_M_OTHER, 302, true},
        {"POST", HTTP_M_POST, 399, true},        {"CONNECT", HTTP_M_CONNECT, 200, true},
        {"PURGE", HTTP_M_PURGE, 200, true},      {"POST", HTTP_M_POST, 199, false},
        {"POST", HTTP_M_POST, 400, false},       {"POST", HTTP_M_POST, 404, false},
        {"DELETE", HTTP_M_DELETE, 500, false},   {"no id", HTTP_M_OTHER, 100, false},
        {"GET", HTTP_M_GET, 200, false},         {"HEAD", HTTP_M_HEAD, 200, false},
        {"OPTIONS", HTTP_M_OPTIONS, 200, false}, {"TRACE", HTTP_M_TRACE, 200, false},
        {"GET", HTTP_M_GET, 302, false},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++)
        if (policy_invalidates(cases[i].method, cases[i].status) != cases[i].want)
            row_fail("%s %d: want %d", cases[i].name, cases[i].status, cases[i].want);
    /* every method: all but the safe ones (RFC 9110 §9.2.1) invalidate on a 2xx */
    for (size_t i = 0; i < NROWS(all_methods); i++) {
        enum http_method_id m = all_methods[i];
        bool want = m != HTTP_M_GET && m != HTTP_M_HEAD && m != HTTP_M_OPTIONS && m != HTTP_M_TRACE;
        if (policy_invalidates(m, 200) != want)
            row_fail("method id %d: invalidates %d", (int)m, !want);
    }
    rows_done();
}

/* ---- Vary ---- */

/* A request's fields, one "Name:value" per line, as fields_get sees them;
 * the value is kept verbatim so normalisation can be tested. */
struct fields {
    const char *text;
    char buf[256];
};

static const char *fields_get(const char *name, void *arg)
{
    struct fields *f = arg;
    size_t n = strlen(name);
    for (const char *p = f->text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncasecmp(p, name, n) != 0 || p[n] != ':')
            continue;
        size_t len = strcspn(p + n + 1, "\n");
        assert_true(len < sizeof(f->buf));
        memcpy(f->buf, p + n + 1, len);
        f->buf[len] = '\0';
        return f->buf;
    }
    return NULL;
}

static void test_vary_key(void **state)
{
    static const struct {
        const char *vary, *req;
        long want_len;
        const char *want;
    } cases[] = {
        {NULL, "Accept:x", 0, ""},
        {"", "Accept:x", 0, ""},
        {" , ,", "", 0, ""},
        {"Accept-Encoding", "Accept-Encoding:gzip", 21, "accept-encoding:gzip\n"},
        {"accept-encoding", "ACCEPT-ENCODING:gzip", 21, "accept-encoding:gzip\n"},
        {"Accept", "", 7, "accept\n"},
        {"Accept", "Accept:", 8, "accept:\n"},
        {"User-Agent, Accept-Encoding", "User-Agent:ua\nAccept-Encoding:br", 33,
         "accept-encoding:br\nuser-agent:ua\n"},
        {"Accept, accept, ACCEPT", "Accept:a", 9, "accept:a\n"},
        {"b, a, c, a, b", "a:1\nc:3", 10, "a:1\nb\nc:3\n"},
        {"Accept-Encoding", "Accept-Encoding:  gzip ,  br  ", 24, "accept-encoding:gzip,br\n"},
        {"X", "X:a   b\t\tc", 8, "x:a b c\n"},
        {"X", "X:\"a  , b\" ,c", 13, "x:\"a  , b\",c\n"},
        {"X", "X:a\rb", 6, "x:a b\n"},
        {"X", "X:\"q\\\" ,\" , d", 12, "x:\"q\\\" ,\",d\n"},
        {"*", "", -1, ""},
        {"Accept, *", "", -1, ""},
        {" * ", "", -1, ""},
        {"User Agent", "", -1, ""},
        {"a;b", "", -1, ""},
        {"a*b", "", 4, "a*b\n"},
    };
    char out[256];
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct fields req = {.text = cases[i].req};
        long n = policy_vary_key(cases[i].vary, fields_get, &req, out, sizeof(out));
        if (n != cases[i].want_len || (n >= 0 && strcmp(out, cases[i].want) != 0))
            row_fail("Vary \"%s\": %ld \"%s\", want %ld \"%s\"",
                     cases[i].vary ? cases[i].vary : "(null)", n, n >= 0 ? out : "",
                     cases[i].want_len, cases[i].want);
        else if (n >= 0 && (long)strlen(out) != n)
            row_fail("Vary \"%s\": length %ld but string %zu", cases[i].vary, n, strlen(out));
    }
    /* a name too long to look up makes the Vary unusable */
    char lng[200];
    memset(lng, 'x', sizeof(lng) - 1);
    lng[sizeof(lng) - 1] = '\0';
    struct fields none = {.text = ""};
    assert_int_equal(policy_vary_key(lng, fields_get, &none, out, sizeof(out)), -1);
    rows_done();
}

static void test_vary_key_truncates(void **state)
{
    struct fields req = {.text = "Accept:text/html"};
    char out[8];
    (void)state;
    memset(out, '#', sizeof(out));
    assert_int_equal(policy_vary_key("Accept", fields_get, &req, out, sizeof(out)), 7);
    assert_string_equal(out, "accept:");
    assert_int_equal(policy_vary_key("Accept", fields_get, &req, out, 1), 0);
    assert_string_equal(out, "");
    assert_int_equal(policy_vary_key("Accept", fields_get, &req, NULL, 0), 0);
    rows_done();
}

static void test_vary_key_equivalence(void **state)
{
    /* do two requests (each under its response's Vary) make equal keys? */
    static const struct {
        const char *name, *vary1, *req1, *vary2, *req2;
        bool same;
    } cases[] = {
        {"spaces around commas", "Accept-Encoding", "Accept-Encoding:gzip, br", "Accept-Encoding",
         "accept-encoding:gzip,br", true},
        {"folded runs", "Accept", "Accept: text/html;  q=1 ", "Accept", "Accept:text/html; q=1",
         true},
        {"Vary order and case", "Accept, User-Agent", "Accept:a\nUser-Agent:u", "user-agent,ACCEPT",
         "User-Agent:u\nAccept:a", true},
        {"unvaried field differs", "Accept", "Accept:a\nCookie:1", "Accept", "Accept:a\nCookie:2",
         true},
        {"duplicate Vary names", "Accept, Accept", "Accept:a", "Accept", "Accept:a", true},
        {"different values", "Accept-Encoding", "Accept-Encoding:gzip", "Accept-Encoding",
         "Accept-Encoding:br", false},
        {"value case matters", "Accept-Encoding", "Accept-Encoding:gzip", "Accept-Encoding",
         "Accept-Encoding:GZIP", false},
        {"absent vs empty", "Accept", "", "Accept", "Accept:", false},
        {"absent vs present", "Accept", "", "Accept", "Accept:a", false},
        {"inner space kept", "X", "X:a b", "X", "X:ab", false},
        {"value moved to other field", "A, B", "A:x", "A, B", "B:x", false},
        {"quoted spaces kept", "X", "X:\"a  b\"", "X", "X:\"a b\"", false},
        {"one Vary name more", "A", "A:x", "A, B", "A:x", false},
    };
    char k1[256], k2[256];
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct fields r1 = {.text = cases[i].req1}, r2 = {.text = cases[i].req2};
        long n1 = policy_vary_key(cases[i].vary1, fields_get, &r1, k1, sizeof(k1));
        long n2 = policy_vary_key(cases[i].vary2, fields_get, &r2, k2, sizeof(k2));
        bool same = n1 == n2 && strcmp(k1, k2) == 0;
        if (n1 < 0 || n2 < 0 || same != cases[i].same)
            row_fail("%s: \"%s\" vs \"%s\", want %s", cases[i].name, k1, k2,
                     cases[i].same ? "equal" : "different");
    }
    rows_done();
}

/* ---- conditionals ---- */

static void test_not_modified(void **state)
{
    static const struct {
        const char *inm, *ims, *etag;
        time_t lm;
        bool want;
    } cases[] = {
        /* RFC 9110 §8.8.3.2 weak comparison table */
        {"W/\"1\"", NULL, "W/\"1\"", -1, true},
        {"W/\"1\"", NULL, "W/\"2\"", -1, false},
        {"W/\"1\"", NULL, "\"1\"", -1, true},
        {"\"1\"", NULL, "W/\"1\"", -1, true},
        {"\"1\"", NULL, "\"1\"", -1, true},
        /* RFC 9110 §13.1.2 examples */
        {"\"xyzzy\"", NULL, "\"xyzzy\"", -1, true},
        {"W/\"xyzzy\"", NULL, "\"xyzzy\"", -1, true},
        {"\"xyzzy\", \"r2d2xxxx\", \"c3piozzzz\"", NULL, "\"c3piozzzz\"", -1, true},
        {"W/\"xyzzy\", W/\"r2d2xxxx\", W/\"c3piozzzz\"", NULL, "\"r2d2xxxx\"", -1, true},
        {"\"xyzzy\", \"r2d2xxxx\"", NULL, "\"c3piozzzz\"", -1, false},
        {"*", NULL, "\"x\"", -1, true},
        {"*", NULL, NULL, -1, true},
        {" * ", NULL, NULL, -1, true},
        /* lists and quoting */
        {"\"a,b\"", NULL, "\"a,b\"", -1, true},
        {"\"a,b\"", NULL, "\"a\"", -1, false},
        {" ,\"a\" ,, \"b\" ", NULL, "\"b\"", -1, true},
        {"\"\"", NULL, "\"\"", -1, true},
        /* If-None-Match present: If-Modified-Since ignored */
        {"\"a\"", "Sun, 06 Nov 1994 08:49:37 GMT", "\"b\"", T94, false},
        {"\"a\"", "Sun, 06 Nov 1994 08:49:37 GMT", NULL, T94, false},
        /* malformed If-None-Match matches nothing */
        {"xyzzy", NULL, "\"xyzzy\"", -1, false},
        {"\"a\" junk", NULL, "\"a\"", -1, false},
        {"\"a\", xyz", NULL, "\"a\"", -1, false},
        {"\"a", NULL, "\"a\"", -1, false},
        {"w/\"a\"", NULL, "\"a\"", -1, false},
        {"*, \"a\"", NULL, "\"a\"", -1, false},
        {"\"a b\"", NULL, "\"a b\"", -1, false},
        /* a malformed stored ETag matches nothing */
        {"\"abc\"", NULL, "abc", -1, false},
        {"\"abc\"", NULL, "\"abc\" x", -1, false},
        /* empty If-None-Match counts as absent */
        {"", "Sun, 06 Nov 1994 08:49:37 GMT", "\"a\"", T94, true},
        {"  ", "Sun, 06 Nov 1994 08:49:37 GMT", "\"a\"", T94, true},
        /* If-Modified-Since */
        {NULL, "Sun, 06 Nov 1994 08:49:37 GMT", NULL, T94, true},
        {NULL, "Sun, 06 Nov 1994 08:49:36 GMT", NULL, T94, false},
        {NULL, "Sun, 06 Nov 1994 08:50:00 GMT", NULL, T94, true},
        {NULL, "Sunday, 06-Nov-94 08:49:37 GMT", NULL, T94, true},
        {NULL, "Sun Nov  6 08:49:37 1994", NULL, T94, true},
        {NULL, "Sun, 06 Nov 1994 08:49:37 GMT", NULL, -1, false},
        {NULL, "yesterday", NULL, T94, false},
        {NULL, "", NULL, T94, false},
        {NULL, NULL, "\"a\"", T94, false},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        bool got = policy_not_modified(cases[i].inm, cases[i].ims, cases[i].etag, cases[i].lm);
        if (got != cases[i].want)
            row_fail("INM %s IMS %s ETag %s: %d, want %d", cases[i].inm ? cases[i].inm : "-",
                     cases[i].ims ? cases[i].ims : "-", cases[i].etag ? cases[i].etag : "-", got,
                     cases[i].want);
    }
    rows_done();
}

/* ---- ranges ---- */

static void test_range(void **state)
{
    static const struct {
        const char *range;
        uint64_t size;
        int rc;
        uint64_t first, last;
    } cases[] = {
        /* RFC 9110 §14.1.2 examples on a 10000-byte body */
        {"bytes=0-499", 10000, 1, 0, 499},
        {"bytes=500-999", 10000, 1, 500, 999},
        {"bytes=-500", 10000, 1, 9500, 9999},
        {"bytes=9500-", 10000, 1, 9500, 9999},
        {"bytes=0-0,-1", 10000, 0, 0, 0},
        {"bytes=500-600,601-999", 10000, 0, 0, 0},
        {"bytes=500-700,601-999", 10000, 0, 0, 0},
        /* edges */
        {"bytes=0-", 10000, 1, 0, 9999},
        {"bytes=0-0", 10000, 1, 0, 0},
        {"bytes=9999-", 10000, 1, 9999, 9999},
        {"bytes=9999-9999", 10000, 1, 9999, 9999},
        {"bytes=0-99999", 10000, 1, 0, 9999},
        {"bytes=-20000", 10000, 1, 0, 9999},
        {"bytes=-1", 1, 1, 0, 0},
        {"bytes=10000-", 10000, -1, 0, 0},
        {"bytes=10000-10001", 10000, -1, 0, 0},
        {"bytes=-0", 10000, -1, 0, 0},
        {"bytes=0-", 0, -1, 0, 0},
        {"bytes=-5", 0, -1, 0, 0},
        {"bytes=99999999999999999999999-", 10, -1, 0, 0},
        {"bytes=0-99999999999999999999999", 10, 1, 0, 9},
        {"bytes=-99999999999999999999999", 10, 1, 0, 9},
        /* whitespace, case, empty list elements */
        {" bytes = 0 - 10 ", 10000, 1, 0, 10},
        {"bytes=\t- 5", 10000, 1, 9995, 9999},
        {"BYTES=0-1", 10000, 1, 0, 1},
        {"Bytes=0-10,", 10000, 1, 0, 10},
        {"bytes=, 0-10 ,,", 10000, 1, 0, 10},
        /* ignored */
        {NULL, 10000, 0, 0, 0},
        {"", 10000, 0, 0, 0},
        {"bytes", 10000, 0, 0, 0},
        {"bytes=", 10000, 0, 0, 0},
        {"bytes=,", 10000, 0, 0, 0},
        {"bytes=-", 10000, 0, 0, 0},
        {"bytes=5", 10000, 0, 0, 0},
        {"bytes=10-5", 10000, 0, 0, 0},
        {"bytes=a-b", 10000, 0, 0, 0},
        {"bytes=1-2-3", 10000, 0, 0, 0},
        {"bytes=--1", 10000, 0, 0, 0},
        {"bytes=+1-2", 10000, 0, 0, 0},
        {"bytes=0-1 x", 10000, 0, 0, 0},
        {"bytes=0-1;x", 10000, 0, 0, 0},
        {"bytes 0-1", 10000, 0, 0, 0},
        {"bytesx=0-1", 10000, 0, 0, 0},
        {"items=0-1", 10000, 0, 0, 0},
        {"=0-1", 10000, 0, 0, 0},
        {"bytes=20000-,0-1", 10000, 0, 0, 0},
        {"bytes=0-1,junk", 10000, 0, 0, 0},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        uint64_t first = 77, last = 77;
        int rc = policy_range(cases[i].range, cases[i].size, &first, &last);
        if (rc != cases[i].rc)
            row_fail("\"%s\" size %" PRIu64 ": %d, want %d", cases[i].range, cases[i].size, rc,
                     cases[i].rc);
        else if (rc == 1 && (first != cases[i].first || last != cases[i].last))
            row_fail("\"%s\" size %" PRIu64 ": %" PRIu64 "-%" PRIu64 ", want %" PRIu64 "-%" PRIu64,
                     cases[i].range, cases[i].size, first, last, cases[i].first, cases[i].last);
    }
    rows_done();
}

/* ---- the pieces together ---- */

static void test_scenarios(void **state)
{
    /* One stored response, sent for at T94 - 2 and received at T94 with
     * Date T94, asked for `at` seconds later: header strings in, decision
     * out. */
    static const struct {
        const char *name, *cc, *expires, *last_modified;
        int64_t age;
        const char *req_cc;
        time_t at;
        enum policy_use want;
    } cases[] = {
        /* the response delay of 2 s counts: stale once at + 2 >= 60 */
        {"max-age fresh", "max-age=60", NULL, NULL, -1, "", 57, USE_FRESH},
        {"max-age stale", "max-age=60", NULL, NULL, -1, "", 58, USE_REVALIDATE},
        {"Age header counts", "max-age=60", NULL, NULL, 50, "", 7, USE_FRESH},
        {"Age header makes it stale", "max-age=60", NULL, NULL, 50, "", 8, USE_REVALIDATE},
        {"Expires", "", "Sun, 06 Nov 1994 08:59:37 GMT", NULL, -1, "", 597, USE_FRESH},
        {"Expires passed", "", "Sun, 06 Nov 1994 08:59:37 GMT", NULL, -1, "", 598, USE_REVALIDATE},
        {"Expires invalid", "", "0", NULL, -1, "", 0, USE_REVALIDATE},
        /* Last-Modified 10000 s before Date: a 1000 s heuristic lifetime */
        {"heuristic", "", NULL, "Sun, 06 Nov 1994 06:02:57 GMT", -1, "", 997, USE_FRESH},
        {"heuristic over", "", NULL, "Sunday, 06-Nov-94 06:02:57 GMT", -1, "", 998, USE_REVALIDATE},
        {"swr window", "max-age=60, stale-while-revalidate=30", NULL, NULL, -1, "", 80,
         USE_STALE_REVALIDATE},
        {"swr over", "max-age=60, stale-while-revalidate=30", NULL, NULL, -1, "", 89,
         USE_REVALIDATE},
        {"client max-stale", "max-age=60", NULL, NULL, -1, "max-stale=100", 100, USE_STALE},
        {"client max-age", "max-age=600", NULL, NULL, -1, "max-age=10", 100, USE_REVALIDATE},
        {"s-maxage over max-age", "max-age=600, s-maxage=10", NULL, NULL, -1, "max-stale", 100,
         USE_REVALIDATE},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct cache_resp r = resp_of(200, cases[i].cc, T94, -1, -1, cases[i].age, T94 - 2, T94);
        struct cc req = cc_of(cases[i].req_cc);
        if (cases[i].expires) {
            r.expires = http_date_parse(cases[i].expires);
            if (r.expires == -1)
                r.expires = 0; /* present but invalid: already expired */
        }
        if (cases[i].last_modified)
            r.last_modified = http_date_parse(cases[i].last_modified);
        double lifetime = policy_freshness_lifetime(&r, -1, -1);
        double age = policy_current_age(&r, T94 + cases[i].at);
        enum policy_use got = policy_use(&req, &r, lifetime, age);
        if (got != cases[i].want)
            row_fail("%s: %s (lifetime %g, age %g), want %s", cases[i].name, use_name(got),
                     lifetime, age, use_name(cases[i].want));
    }
    rows_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_cc_parse, rows_reset),
        cmocka_unit_test_setup(test_date_parse, rows_reset),
        cmocka_unit_test_setup(test_date_rfc850_years, rows_reset),
        cmocka_unit_test_setup(test_date_format, rows_reset),
        cmocka_unit_test_setup(test_current_age, rows_reset),
        cmocka_unit_test_setup(test_freshness_lifetime, rows_reset),
        cmocka_unit_test_setup(test_freshness_max_ttl, rows_reset),
        cmocka_unit_test_setup(test_freshness_source, rows_reset),
        cmocka_unit_test_setup(test_store_verdict, rows_reset),
        cmocka_unit_test_setup(test_status_lists, rows_reset),
        cmocka_unit_test_setup(test_storable, rows_reset),
        cmocka_unit_test_setup(test_use, rows_reset),
        cmocka_unit_test_setup(test_stale_if_error, rows_reset),
        cmocka_unit_test_setup(test_age_value, rows_reset),
        cmocka_unit_test_setup(test_stale_on_error, rows_reset),
        cmocka_unit_test_setup(test_explicitly_cacheable, rows_reset),
        cmocka_unit_test_setup(test_cc_no_cache_cookie, rows_reset),
        cmocka_unit_test_setup(test_targeted_cc, rows_reset),
        cmocka_unit_test_setup(test_invalidates, rows_reset),
        cmocka_unit_test_setup(test_vary_key, rows_reset),
        cmocka_unit_test_setup(test_vary_key_truncates, rows_reset),
        cmocka_unit_test_setup(test_vary_key_equivalence, rows_reset),
        cmocka_unit_test_setup(test_not_modified, rows_reset),
        cmocka_unit_test_setup(test_range, rows_reset),
        cmocka_unit_test_setup(test_scenarios, rows_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
