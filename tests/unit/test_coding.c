/*
 * test_coding.c - coding.c as tables: coding names, Accept-Encoding
 * parsing with q-value boundaries and OWS, acceptability and negotiation
 * (RFC 9110 §12.5.3's examples among the rows), Content-Encoding of a
 * response, the no-compress matrix and the order of its checks, media type
 * patterns, entity tags derived, recognised, mapped back in lists and
 * weakened, Vary merging, and inputs far longer than any head.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "coding.h"
#include "http.h" /* HTTP_M_* */

#include "rows.h"

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))
#define N (-1) /* not named */
#define ID CODING_IDENTITY
#define GZ CODING_GZIP
#define DF CODING_DEFLATE
#define BR CODING_BR
#define ZS CODING_ZSTD
#define UK CODING_UNKNOWN
#define PREFS {ZS, BR, GZ}, 3 /* compression.encodings' default */

static const char *show(const char *s)
{
    return s ? s : "(null)";
}

/* ---- names ---- */

static void test_names(void **state)
{
    static const struct {
        enum coding c;
        const char *name;
    } names[] = {
        {ID, "identity"},
        {GZ, "gzip"},
        {DF, "deflate"},
        {BR, "br"},
        {ZS, "zstd"},
        {UK, "unknown"},
        {(enum coding)99, "unknown"},
    };
    static const struct {
        const char *token;
        enum coding want;
    } tokens[] = {
        {"identity", ID}, {"IDENTITY", ID}, {"gzip", GZ},       {"GZip", GZ},    {"x-gzip", GZ},
        {"X-GZIP", GZ},   {"deflate", DF},  {"br", BR},         {"BR", BR},      {"zstd", ZS},
        {"Zstd", ZS},     {"compress", UK}, {"x-compress", UK}, {"gzi", UK},     {"gzipx", UK},
        {"x-br", UK},     {"", UK},         {"*", UK},          {"unknown", UK},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(names); i++)
        if (strcmp(coding_name(names[i].c), names[i].name) != 0)
            row_fail("coding_name(%d) is %s, want %s", (int)names[i].c, coding_name(names[i].c),
                     names[i].name);
    for (size_t i = 0; i < NROWS(tokens); i++) {
        enum coding got = coding_from_token(tokens[i].token, strlen(tokens[i].token));
        if (got != tokens[i].want)
            row_fail("token \"%s\": %s, want %s", tokens[i].token, coding_name(got),
                     coding_name(tokens[i].want));
    }
    /* only len bytes count: "gzip" inside a longer string */
    assert_int_equal(coding_from_token("gzip, br", 4), GZ);
    assert_int_equal(coding_from_token("brotli", 2), BR);
    rows_done();
}

/* ---- Accept-Encoding ---- */

static void check_accept(const char *ae, const struct coding_accept *a, bool present,
                         const int16_t *q, int16_t star)
{
    if (a->present != present)
        row_fail("\"%s\": present %d, want %d", show(ae), a->present, present);
    for (int c = 0; c < CODING_KNOWN; c++)
        if (a->q[c] != q[c])
            row_fail("\"%s\": q[%s] %d, want %d", show(ae), coding_name((enum coding)c), a->q[c],
                     q[c]);
    if (a->star != star)
        row_fail("\"%s\": star %d, want %d", show(ae), a->star, star);
}

static void test_accept_parse(void **state)
{
    /* q: identity, gzip, deflate, br, zstd */
    static const struct {
        const char *ae;
        int16_t q[CODING_KNOWN];
        int16_t star;
    } cases[] = {
        {"", {N, N, N, N, N}, N},
        {" \t, ,,\t", {N, N, N, N, N}, N},
        {"gzip", {N, 1000, N, N, N}, N},
        {"GZIP;Q=0.5", {N, 500, N, N, N}, N},
        {"x-gzip;q=0.3", {N, 300, N, N, N}, N},
        {"identity, deflate, br, zstd", {1000, N, 1000, 1000, 1000}, N},
        /* RFC 9110 §12.5.3 examples */
        {"compress, gzip", {N, 1000, N, N, N}, N},
        {"*", {N, N, N, N, N}, 1000},
        {"compress;q=0.5, gzip;q=1.0", {N, 1000, N, N, N}, N},
        {"gzip;q=1.0, identity; q=0.5, *;q=0", {500, 1000, N, N, N}, 0},
        /* qvalue boundaries */
        {"gzip;q=1", {N, 1000, N, N, N}, N},
        {"gzip;q=1.", {N, 1000, N, N, N}, N},
        {"gzip;q=1.0", {N, 1000, N, N, N}, N},
        {"gzip;q=1.000", {N, 1000, N, N, N}, N},
        {"gzip;q=1.001", {N, N, N, N, N}, N},
        {"gzip;q=1.5", {N, N, N, N, N}, N},
        {"gzip;q=1.0000", {N, N, N, N, N}, N},
        {"gzip;q=0", {N, 0, N, N, N}, N},
        {"gzip;q=0.", {N, 0, N, N, N}, N},
        {"gzip;q=0.000", {N, 0, N, N, N}, N},
        {"gzip;q=0.001", {N, 1, N, N, N}, N},
        {"gzip;q=0.01", {N, 10, N, N, N}, N},
        {"gzip;q=0.999", {N, 999, N, N, N}, N},
        {"gzip;q=0.1234", {N, N, N, N, N}, N},
        {"gzip;q=.5", {N, N, N, N, N}, N},
        {"gzip;q=2", {N, N, N, N, N}, N},
        {"gzip;q=-1", {N, N, N, N, N}, N},
        {"gzip;q=01", {N, N, N, N, N}, N},
        {"gzip;q=", {N, N, N, N, N}, N},
        {"gzip;q", {N, N, N, N, N}, N},
        {"gzip;", {N, N, N, N, N}, N},
        {"gzip;q=0.5a", {N, N, N, N, N}, N},
        {"gzip;q=\"0.5\"", {N, N, N, N, N}, N},
        {"gzip;q=0.5;", {N, N, N, N, N}, N},
        {"gzip;q=0.5;q=0.6", {N, N, N, N, N}, N},
        {"gzip;level=1", {N, N, N, N, N}, N},
        {"gzip;x=1;q=0.5", {N, N, N, N, N}, N},
        /* OWS where the grammar has it, and nowhere else */
        {"gzip ; q=0.5", {N, 500, N, N, N}, N},
        {"gzip\t;\tq=0.5\t", {N, 500, N, N, N}, N},
        {"  gzip;q=0.5  ,  br  ", {N, 500, N, 1000, N}, N},
        {"\tgzip\t,\tbr\t", {N, 1000, N, 1000, N}, N},
        {",,, gzip ,, ", {N, 1000, N, N, N}, N},
        {"gzip,br,zstd", {N, 1000, N, 1000, 1000}, N},
        {"gzip; q =0.5", {N, N, N, N, N}, N},
        {"gzip; q= 0.5", {N, N, N, N, N}, N},
        {"gzip br", {N, N, N, N, N}, N},
        {"gzip;q=0.5 0.6, br", {N, N, N, 1000, N}, N},
        /* malformed and unknown members are skipped, the rest still count */
        {"gzip, br;q=x, zstd", {N, 1000, N, N, 1000}, N},
        {"foo;q=0.9, bar, br;q=0.2", {N, N, N, 200, N}, N},
        {";q=1", {N, N, N, N, N}, N},
        {"\"gzip\", br", {N, N, N, 1000, N}, N},
        {"@@@, zstd;q=0.25", {N, N, N, N, 250}, N},
        {"br;q=0.5\"x,y\", gzip", {N, 1000, N, N, N}, N},
        /* named twice: the first well-formed member stands */
        {"gzip;q=0.2, gzip;q=0.9", {N, 200, N, N, N}, N},
        {"gzip;q=x, gzip;q=0.4", {N, 400, N, N, N}, N},
        {"gzip, x-gzip;q=0", {N, 1000, N, N, N}, N},
        {"*;q=0, *", {N, N, N, N, N}, 0},
        {"identity;q=0, IDENTITY", {0, N, N, N, N}, N},
        /* the cases the negotiation rests on */
        {"identity;q=0", {0, N, N, N, N}, N},
        {"*;q=0", {N, N, N, N, N}, 0},
        {"br;q=0, *", {N, N, N, 0, N}, 1000},
        {"*;q=0.5", {N, N, N, N, N}, 500},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct coding_accept a;
        memset(&a, 0x5a, sizeof(a)); /* every field must be set */
        coding_accept_parse(cases[i].ae, &a);
        check_accept(cases[i].ae, &a, true, cases[i].q, cases[i].star);
    }
    struct coding_accept a;
    static const int16_t none[CODING_KNOWN] = {N, N, N, N, N};
    memset(&a, 0x5a, sizeof(a));
    coding_accept_parse(NULL, &a);
    check_accept(NULL, &a, false, none, N);
    rows_done();
}

/* bit per coding: which of identity..zstd are acceptable */
#define A(c) (1u << (c))

static void test_acceptable(void **state)
{
    static const struct {
        const char *ae;
        unsigned want;
    } cases[] = {
        {NULL, A(ID)}, /* absent: magpie encodes for no one who said nothing */
        {"", A(ID)},
        {"gzip", A(ID) | A(GZ)},
        {"x-gzip", A(ID) | A(GZ)},
        {"compress, gzip", A(ID) | A(GZ)},
        {"foo", A(ID)},
        {"gzip;q=0", A(ID)},
        {"gzip;q=0.001", A(ID) | A(GZ)},
        {"gzip;q=1.001", A(ID)}, /* the member is ignored */
        {"identity;q=0", 0},
        {"identity;q=0.000", 0},
        {"identity;q=0, gzip", A(GZ)},
        {"*;q=0", 0},
        {"*;q=0, identity", A(ID)},
        {"*;q=0, identity;q=0.1", A(ID)},
        {"*;q=0, identity;q=1.001", 0},
        {"*;q=0, gzip;q=0.5", A(GZ)},
        {"*", A(ID) | A(GZ) | A(DF) | A(BR) | A(ZS)},
        {"*;q=0.5", A(ID) | A(GZ) | A(DF) | A(BR) | A(ZS)},
        {"br;q=0, *", A(ID) | A(GZ) | A(DF) | A(ZS)},
        {"*, identity;q=0", A(GZ) | A(DF) | A(BR) | A(ZS)},
        {"gzip;q=1.0, identity; q=0.5, *;q=0", A(ID) | A(GZ)},
        {"deflate, zstd;q=0.1", A(ID) | A(DF) | A(ZS)},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct coding_accept a;
        coding_accept_parse(cases[i].ae, &a);
        for (int c = 0; c < CODING_KNOWN; c++) {
            bool want = (cases[i].want & A(c)) != 0;
            if (coding_acceptable(&a, (enum coding)c) != want)
                row_fail("\"%s\": %s acceptable %d, want %d", show(cases[i].ae),
                         coding_name((enum coding)c), !want, want);
        }
        if (coding_acceptable(&a, UK) || coding_acceptable(&a, (enum coding)99))
            row_fail("\"%s\": an unknown coding is acceptable", show(cases[i].ae));
    }
    rows_done();
}

static void test_negotiate(void **state)
{
    static const struct {
        const char *ae;
        enum coding prefs[4];
        size_t n;
        enum coding want;
    } cases[] = {
        {NULL, PREFS, ID},
        {"", PREFS, ID},
        /* RFC 9110 §12.5.3 examples */
        {"compress, gzip", PREFS, GZ},
        {"*", PREFS, ZS},
        {"compress;q=0.5, gzip;q=1.0", PREFS, GZ},
        {"gzip;q=1.0, identity; q=0.5, *;q=0", PREFS, GZ},
        /* nothing acceptable: a response without any coding */
        {"identity;q=0", PREFS, ID},
        {"*;q=0", PREFS, ID},
        {"identity;q=0, gzip;q=0", PREFS, ID},
        {"gzip;q=0, br;q=0, zstd;q=0", PREFS, ID},
        {"foo, bar", PREFS, ID},
        {"deflate", PREFS, ID}, /* acceptable, but not one magpie offers */
        /* star with exceptions */
        {"br;q=0, *", PREFS, ZS},
        {"br;q=0, *", {BR, GZ}, 2, GZ},
        {"zstd;q=0, br;q=0, *;q=0.2", PREFS, GZ},
        /* q ties go to magpie's order */
        {"gzip, br", PREFS, BR},
        {"gzip, br", {GZ, BR}, 2, GZ},
        {"gzip, br, zstd", PREFS, ZS},
        {"gzip;q=0.5, br;q=0.5, zstd;q=0.4", PREFS, BR},
        /* a higher q wins over magpie's order */
        {"gzip;q=0.9, br;q=0.8", PREFS, GZ},
        {"zstd;q=0.1, gzip;q=1.001, br;q=0.2", PREFS, BR},
        {"x-gzip;q=0.8, br;q=0.7", PREFS, GZ},
        {"gzip;q=0.5, gzip;q=1, br;q=0.6", PREFS, BR},
        /* identity loses a tie, wins with a higher q */
        {"identity, gzip", PREFS, GZ},
        {"identity;q=0.5, gzip;q=0.5", PREFS, GZ},
        {"identity;q=1, gzip;q=0.9", PREFS, ID},
        {"gzip;q=0.001", PREFS, GZ},                          /* identity not named ranks last */
        {"*;q=0.5, gzip;q=0.3, br;q=0, zstd;q=0", PREFS, ID}, /* identity by star: 0.5 */
        {"*;q=0.5, identity;q=0.4, gzip;q=0.3", PREFS, ZS},
        /* prefs that are empty, or hold what is skipped */
        {"gzip", {GZ}, 0, ID},
        {"gzip", {ID, UK, GZ}, 3, GZ},
        {"*", {ID}, 1, ID},
        {"*", {UK, (enum coding)99}, 2, ID},
        {"*;q=0", {GZ}, 1, ID},
        {"br;q=0.3, br;q=0.9, gzip;q=0.5", {BR, GZ, BR}, 3, GZ},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        struct coding_accept a;
        coding_accept_parse(cases[i].ae, &a);
        enum coding got = coding_negotiate(&a, cases[i].prefs, cases[i].n);
        if (got != cases[i].want)
            row_fail("\"%s\" (row %zu): %s, want %s", show(cases[i].ae), i, coding_name(got),
                     coding_name(cases[i].want));
        /* whatever is chosen is acceptable, unless nothing is */
        if (got != ID && !coding_acceptable(&a, got))
            row_fail("\"%s\": chose %s, which is not acceptable", show(cases[i].ae),
                     coding_name(got));
    }
    rows_done();
}

/* ---- Content-Encoding ---- */

static void test_of_response(void **state)
{
    static const struct {
        const char *ce;
        enum coding want;
    } cases[] = {
        {NULL, ID},           {"", ID},           {"  \t", ID},      {",", ID},
        {"identity", ID},     {" IDENTITY ", ID}, {"gzip", GZ},      {" GZip\t", GZ},
        {"x-gzip", GZ},       {"deflate", DF},    {"br", BR},        {"\tbr\t", BR},
        {"zstd", ZS},         {"ZSTD", ZS},       {",gzip,", GZ},    {"gzip, identity", GZ},
        {"identity, br", BR}, {"compress", UK},   {"foo", UK},       {"gzip, br", UK}, /* stacked */
        {"gzip,gzip", UK},    {"gzip, foo", UK},  {"foo, gzip", UK}, {"gzip;q=1", UK},
        {"g zip", UK},        {"\"gzip\"", UK},   {"gzip/1", UK},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        enum coding got = coding_of_response(cases[i].ce);
        if (got != cases[i].want)
            row_fail("Content-Encoding \"%s\": %s, want %s", show(cases[i].ce), coding_name(got),
                     coding_name(cases[i].want));
    }
    rows_done();
}

/* ---- media types ---- */

static char *const default_types[] = {
    "text/*",          "application/json",   "application/javascript",
    "application/xml", "application/*+json", "application/*+xml",
    "image/svg+xml",
};

static void test_type_listed(void **state)
{
    static const struct {
        const char *ct;
        bool want;
    } defaults[] = {
        {"text/html", true},
        {"TEXT/HTML", true},
        {"text/plain", true},
        {"text/html; charset=utf-8", true},
        {"text/html;charset=utf-8", true},
        {" text/plain ;charset=x", true},
        {"\ttext/css\t", true},
        {"application/json", true},
        {"Application/JSON; charset=UTF-8", true},
        {"application/javascript", true},
        {"application/xml", true},
        {"application/ld+json", true},
        {"application/vnd.api+JSON", true},
        {"application/soap+xml", true},
        {"image/svg+xml", true},
        {"IMAGE/SVG+XML", true},
        {"application/jsonx", false},
        {"application/json-seq", false},
        {"application/+json", false}, /* nothing before the suffix */
        {"application/json+ld", false},
        {"application/ld+jsonx", false},
        {"image/png", false},
        {"image/svg", false},
        {"video/mp4", false},
        {"textual/html", false},
        {"tex/html", false},
        {"application/octet-stream", false},
        /* not token "/" token */
        {"", false},
        {"text", false},
        {"text/", false},
        {"/html", false},
        {"text /html", false},
        {"text/ html", false},
        {"text/html garbage", false},
        {"text/html, image/png", false},
        {"\"text/html\"", false},
        {NULL, false},
    };
    static const struct {
        char *types[3];
        size_t n;
        const char *ct;
        bool want;
    } patterns[] = {
        {{"*/*"}, 1, "image/png", true},
        {{"*/*"}, 1, "Application/Octet-Stream; x=y", true},
        {{"*/*"}, 1, "garbage", false},
        {{"*/*+json"}, 1, "application/a+json", true},
        {{"*/*+json"}, 1, "application/json", false},
        {{"image/*"}, 1, "image/png", true},
        {{"image/*"}, 1, "text/html", false},
        {{"IMAGE/*"}, 1, "image/webp", true},
        {{"application/*+json"}, 1, "text/a+json", false},
        {{"text/html"}, 1, "text/htm", false},
        {{"text/htm"}, 1, "text/html", false},
        {{"text/html"}, 1, "text/html", true},
        {{"bogus", "text/plain"}, 2, "text/plain", true},
        {{"bogus"}, 1, "bogus", false},
        {{"text/html", "text/css", "text/plain"}, 3, "text/plain", true},
        {{"text/html", "text/css", "text/plain"}, 2, "text/plain", false}, /* only n count */
        {{NULL, "text/plain"}, 2, "text/plain", true},
        {{"text/plain"}, 0, "text/plain", false},
        {{"*"}, 1, "text/plain", false},
        {{"text/*+"}, 1, "text/a+", false},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(defaults); i++)
        if (coding_type_listed(defaults[i].ct, default_types, NROWS(default_types)) !=
            defaults[i].want)
            row_fail("\"%s\": listed %d, want %d", show(defaults[i].ct), !defaults[i].want,
                     defaults[i].want);
    for (size_t i = 0; i < NROWS(patterns); i++)
        if (coding_type_listed(patterns[i].ct, patterns[i].types, patterns[i].n) !=
            patterns[i].want)
            row_fail("\"%s\" against \"%s\" (row %zu): listed %d, want %d", patterns[i].ct,
                     show(patterns[i].types[0]), i, !patterns[i].want, patterns[i].want);
    rows_done();
}

/* ---- whether a response is compressed ---- */

#define GET HTTP_M_GET
#define HTML "text/html"
#define KB 1024

static void test_compressible(void **state)
{
    /* facts: method, status, type, encoding, cache-control, length, range */
    static const struct {
        const char *name;
        struct compress_facts f;
        uint64_t min_size;
        enum compress_verdict want;
    } cases[] = {
        {"plain", {GET, 200, HTML, NULL, NULL, 5000, false}, KB, COMPRESS_YES},
        {"HEAD", {HTTP_M_HEAD, 200, HTML, NULL, NULL, 5000, false}, KB, COMPRESS_YES},
        {"POST", {HTTP_M_POST, 200, HTML, NULL, NULL, 5000, false}, KB, COMPRESS_YES},
        {"CONNECT", {HTTP_M_CONNECT, 200, HTML, NULL, NULL, 5000, false}, KB, COMPRESS_NO_METHOD},
        /* statuses */
        {"100", {GET, 100, HTML, NULL, NULL, 5000, false}, KB, COMPRESS_NO_STATUS},
        {"101", {GET, 101, HTML, NULL, NULL, -1, false}, KB, COMPRESS_NO_STATUS},
        {"199", {GET, 199, HTML, NULL, NULL, 5000, false}, KB, COMPRESS_NO_STATUS},
        {"201", {GET, 201, HTML, NULL, NULL, 5000, false}, KB, COMPRESS_YES},
        {"203", {GET, 203, HTML, NULL, NULL, 5000, false}, KB, COMPRESS_YES},
        {"204", {GET, 204, HTML, NULL, NULL, -1, false}, KB, COMPRESS_NO_STATUS},
        {"205", {GET, 205, HTML, NULL, NULL, 0, false}, KB, COMPRESS_NO_STATUS},
        {"205, min_size 0", {GET, 205, HTML, NULL, NULL, -1, false}, 0, COMPRESS_NO_STATUS},
        {"206", {GET, 206, HTML, NULL, NULL, 5000, false}, KB, COMPRESS_NO_STATUS},
        {"304", {GET, 304, HTML, NULL, NULL, 5000, false}, KB, COMPRESS_NO_STATUS},
        {"404", {GET, 404, HTML, NULL, NULL, 5000, false}, KB, COMPRESS_YES},
        {"500", {GET, 500, HTML, NULL, NULL, 5000, false}, KB, COMPRESS_YES},
        /* no-transform as a directive */
        {"no-transform",
         {GET, 200, HTML, NULL, "no-transform", 5000, false},
         KB,
         COMPRESS_NO_TRANSFORM},
        {"No-Transform",
         {GET, 200, HTML, NULL, "No-Transform", 5000, false},
         KB,
         COMPRESS_NO_TRANSFORM},
        {"in a list",
         {GET, 200, HTML, NULL, "public, no-transform, max-age=5", 5000, false},
         KB,
         COMPRESS_NO_TRANSFORM},
        {"lines joined",
         {GET, 200, HTML, NULL, "max-age=5, NO-TRANSFORM", 5000, false},
         KB,
         COMPRESS_NO_TRANSFORM},
        {"OWS",
         {GET, 200, HTML, NULL, " \tno-transform\t", 5000, false},
         KB,
         COMPRESS_NO_TRANSFORM},
        {"no-transformx", {GET, 200, HTML, NULL, "no-transformx", 5000, false}, KB, COMPRESS_YES},
        {"x-no-transform", {GET, 200, HTML, NULL, "x-no-transform", 5000, false}, KB, COMPRESS_YES},
        {"quoted",
         {GET, 200, HTML, NULL, "no-cache=\"no-transform\"", 5000, false},
         KB,
         COMPRESS_YES},
        {"in an argument",
         {GET, 200, HTML, NULL, "ext=\"a, no-transform\"", 5000, false},
         KB,
         COMPRESS_YES},
        {"other directives",
         {GET, 200, HTML, NULL, "max-age=60, public", 5000, false},
         KB,
         COMPRESS_YES},
        /* Content-Encoding */
        {"gzip", {GET, 200, HTML, "gzip", NULL, 5000, false}, KB, COMPRESS_NO_ENCODED},
        {"br", {GET, 200, HTML, "br", NULL, 5000, false}, KB, COMPRESS_NO_ENCODED},
        {"stacked", {GET, 200, HTML, "gzip, br", NULL, 5000, false}, KB, COMPRESS_NO_ENCODED},
        {"unknown coding", {GET, 200, HTML, "foo", NULL, 5000, false}, KB, COMPRESS_NO_ENCODED},
        {"identity", {GET, 200, HTML, "identity", NULL, 5000, false}, KB, COMPRESS_YES},
        {"empty encoding", {GET, 200, HTML, "", NULL, 5000, false}, KB, COMPRESS_YES},
        /* types */
        {"event-stream",
         {GET, 200, "text/event-stream", NULL, NULL, -1, false},
         KB,
         COMPRESS_NO_EVENT_STREAM},
        {"Event-Stream; charset",
         {GET, 200, " Text/Event-Stream; charset=utf-8", NULL, NULL, 5000, false},
         KB,
         COMPRESS_NO_EVENT_STREAM},
        {"event-streams",
         {GET, 200, "text/event-streams", NULL, NULL, 5000, false},
         KB,
         COMPRESS_YES},
        {"no type", {GET, 200, NULL, NULL, NULL, 5000, false}, KB, COMPRESS_NO_TYPE},
        {"empty type", {GET, 200, "", NULL, NULL, 5000, false}, KB, COMPRESS_NO_TYPE},
        {"image/png", {GET, 200, "image/png", NULL, NULL, 5000, false}, KB, COMPRESS_NO_TYPE},
        {"+json",
         {GET, 200, "application/problem+json", NULL, NULL, 5000, false},
         KB,
         COMPRESS_YES},
        /* length */
        {"min_size - 1", {GET, 200, HTML, NULL, NULL, KB - 1, false}, KB, COMPRESS_NO_SMALL},
        {"min_size", {GET, 200, HTML, NULL, NULL, KB, false}, KB, COMPRESS_YES},
        {"empty", {GET, 200, HTML, NULL, NULL, 0, false}, KB, COMPRESS_NO_SMALL},
        {"unknown length", {GET, 200, HTML, NULL, NULL, -1, false}, KB, COMPRESS_YES},
        {"huge", {GET, 200, HTML, NULL, NULL, INT64_MAX, false}, KB, COMPRESS_YES},
        {"min_size 0, empty", {GET, 200, HTML, NULL, NULL, 0, false}, 0, COMPRESS_NO_SMALL},
        {"min_size 0, 1 byte", {GET, 200, HTML, NULL, NULL, 1, false}, 0, COMPRESS_YES},
        {"min_size over int64",
         {GET, 200, HTML, NULL, NULL, INT64_MAX, false},
         UINT64_MAX,
         COMPRESS_NO_SMALL},
        /* Range */
        {"range", {GET, 200, HTML, NULL, NULL, 5000, true}, KB, COMPRESS_NO_RANGE},
        {"range, unknown length", {GET, 200, HTML, NULL, NULL, -1, true}, KB, COMPRESS_NO_RANGE},
        /* the order: the first check that applies decides */
        {"CONNECT before status",
         {HTTP_M_CONNECT, 204, HTML, NULL, "no-transform", 0, true},
         KB,
         COMPRESS_NO_METHOD},
        {"status before no-transform",
         {GET, 304, HTML, "gzip", "no-transform", 0, true},
         KB,
         COMPRESS_NO_STATUS},
        {"206 before range", {GET, 206, HTML, NULL, NULL, 5000, true}, KB, COMPRESS_NO_STATUS},
        {"no-transform before encoding",
         {GET, 200, "image/png", "gzip", "no-transform", 0, true},
         KB,
         COMPRESS_NO_TRANSFORM},
        {"encoding before type",
         {GET, 200, "image/png", "br", NULL, 0, true},
         KB,
         COMPRESS_NO_ENCODED},
        {"encoding before event-stream",
         {GET, 200, "text/event-stream", "gzip", NULL, -1, false},
         KB,
         COMPRESS_NO_ENCODED},
        {"event-stream before small",
         {GET, 200, "text/event-stream", NULL, NULL, 10, true},
         KB,
         COMPRESS_NO_EVENT_STREAM},
        {"type before small", {GET, 200, "image/png", NULL, NULL, 10, true}, KB, COMPRESS_NO_TYPE},
        {"small before range", {GET, 200, HTML, NULL, NULL, 10, true}, KB, COMPRESS_NO_SMALL},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        enum compress_verdict got = coding_compressible(&cases[i].f, default_types,
                                                        NROWS(default_types), cases[i].min_size);
        if (got != cases[i].want)
            row_fail("%s: %s, want %s", cases[i].name, compress_verdict_name(got),
                     compress_verdict_name(cases[i].want));
    }
    /* event-stream is refused even where the types list every type */
    char *const all[] = {"*/*"};
    struct compress_facts sse = {GET, 200, "text/event-stream", NULL, NULL, -1, false};
    assert_int_equal(coding_compressible(&sse, all, 1, KB), COMPRESS_NO_EVENT_STREAM);
    /* and without types nothing is listed */
    struct compress_facts html = {GET, 200, HTML, NULL, NULL, 5000, false};
    assert_int_equal(coding_compressible(&html, NULL, 0, KB), COMPRESS_NO_TYPE);
    rows_done();
}

static void test_verdict_names(void **state)
{
    static const struct {
        enum compress_verdict v;
        const char *name;
    } cases[] = {
        {COMPRESS_YES, "yes"},
        {COMPRESS_NO_STATUS, "status"},
        {COMPRESS_NO_METHOD, "method"},
        {COMPRESS_NO_TRANSFORM, "no-transform"},
        {COMPRESS_NO_ENCODED, "encoded"},
        {COMPRESS_NO_TYPE, "type"},
        {COMPRESS_NO_EVENT_STREAM, "event-stream"},
        {COMPRESS_NO_SMALL, "small"},
        {COMPRESS_NO_RANGE, "range"},
        {(enum compress_verdict)99, "unknown"},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++)
        if (strcmp(compress_verdict_name(cases[i].v), cases[i].name) != 0)
            row_fail("verdict %d: \"%s\", want \"%s\"", (int)cases[i].v,
                     compress_verdict_name(cases[i].v), cases[i].name);
    rows_done();
}

/* ---- entity tags ---- */

#define FAIL (-1)
#define BIG 256

/* out (BIG bytes, 'X' before the call) must be "" after a failure, so no
   caller sends half a value, and untouched past size */
static void check_out(const char *what, const char *in, int got, int want, const char *out,
                      size_t size, const char *want_out)
{
    if (got != want)
        row_fail("%s \"%s\" (size %zu): %d, want %d", what, show(in), size, got, want);
    if (size < BIG && out[size] != 'X')
        row_fail("%s \"%s\": wrote past size %zu", what, show(in), size);
    if (size == 0)
        return;
    const char *expect = got < 0 ? "" : want_out;
    if (strcmp(out, expect) != 0)
        row_fail("%s \"%s\" (size %zu): \"%s\", want \"%s\"", what, show(in), size, out, expect);
}

static void test_etag_derive(void **state)
{
    static const struct {
        const char *etag;
        enum coding c;
        size_t size;
        int want;
        const char *out;
    } cases[] = {
        {"\"abc\"", GZ, BIG, 0, "\"abc~gzip\""},
        {"W/\"abc\"", GZ, BIG, 0, "W/\"abc~gzip\""},
        {"\"abc\"", BR, BIG, 0, "\"abc~br\""},
        {"\"abc\"", ZS, BIG, 0, "\"abc~zstd\""},
        {"\"abc\"", DF, BIG, 0, "\"abc~deflate\""},
        {"W/\"abc\"", ZS, BIG, 0, "W/\"abc~zstd\""},
        {"\"abc\"", ID, BIG, 0, "\"abc\""}, /* the identity variant keeps it */
        {"W/\"abc\"", ID, BIG, 0, "W/\"abc\""},
        {"\"abc\"", UK, BIG, FAIL, NULL},
        {"\"abc\"", (enum coding)99, BIG, FAIL, NULL},
        {"\"\"", GZ, BIG, 0, "\"~gzip\""},
        {" \t\"abc\"\t ", GZ, BIG, 0, "\"abc~gzip\""},
        {"\"abc~gzip\"", GZ, BIG, 0, "\"abc~gzip~gzip\""},
        {"\"!#$~\x7e\"", BR, BIG, 0, "\"!#$~\x7e~br\""},
        {"\"\x80\xff\"", GZ, BIG, 0, "\"\x80\xff~gzip\""}, /* obs-text */
        {"\"a,b\"", GZ, BIG, 0, "\"a,b~gzip\""},
        /* not one entity tag */
        {"abc", GZ, BIG, FAIL, NULL},
        {"\"abc", GZ, BIG, FAIL, NULL},
        {"abc\"", GZ, BIG, FAIL, NULL},
        {"\"a\"b\"", GZ, BIG, FAIL, NULL},
        {"\"a b\"", GZ, BIG, FAIL, NULL},
        {"\"a\tb\"", GZ, BIG, FAIL, NULL},
        {"\"a\x7f\"", GZ, BIG, FAIL, NULL},
        {"\"a\x01\"", GZ, BIG, FAIL, NULL},
        {"w/\"abc\"", GZ, BIG, FAIL, NULL}, /* W/ is case-sensitive */
        {"W/ \"abc\"", GZ, BIG, FAIL, NULL},
        {"W\"abc\"", GZ, BIG, FAIL, NULL},
        {"W/abc", GZ, BIG, FAIL, NULL},
        {"\"abc\", \"def\"", GZ, BIG, FAIL, NULL},
        {"\"abc\"x", GZ, BIG, FAIL, NULL},
        {"*", GZ, BIG, FAIL, NULL},
        {"", GZ, BIG, FAIL, NULL},
        {NULL, GZ, BIG, FAIL, NULL},
        /* out sizes: "abc~gzip" in quotes is 10 bytes and its NUL */
        {"\"abc\"", GZ, 11, 0, "\"abc~gzip\""},
        {"\"abc\"", GZ, 10, FAIL, NULL},
        {"\"abc\"", GZ, 1, FAIL, NULL},
        {"\"abc\"", GZ, 0, FAIL, NULL},
        {"W/\"abc\"", GZ, 13, 0, "W/\"abc~gzip\""},
        {"W/\"abc\"", GZ, 12, FAIL, NULL},
        {"W/\"abc\"", GZ, 2, FAIL, NULL},
        {"\"abc\"", ID, 6, 0, "\"abc\""},
        {"\"abc\"", ID, 5, FAIL, NULL},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        char out[BIG];
        memset(out, 'X', sizeof(out));
        int got = coding_etag_derive(cases[i].etag, cases[i].c, out, cases[i].size);
        check_out(coding_name(cases[i].c), cases[i].etag, got, cases[i].want, out, cases[i].size,
                  cases[i].out);
    }
    rows_done();
}

static void test_etag_derived(void **state)
{
    static const struct {
        const char *etag;
        enum coding c;
        bool want;
    } cases[] = {
        {"\"abc~gzip\"", GZ, true},
        {"W/\"abc~gzip\"", GZ, true},
        {"\"abc~br\"", BR, true},
        {"\"abc~zstd\"", ZS, true},
        {"\"abc~deflate\"", DF, true},
        {"\"~gzip\"", GZ, true},
        {" \"abc~gzip\"\t", GZ, true},
        {"\"abc~gzip~br\"", BR, true},
        {"\"a,b~gzip\"", GZ, true},
        {"\"abc~gzip\"", BR, false},
        {"\"abc~gzip\"", ZS, false},
        {"\"abc~gzip~br\"", GZ, false},
        {"\"abc~GZIP\"", GZ, false}, /* tags are case-sensitive */
        {"\"abc-gzip\"", GZ, false},
        {"\"abcgzip\"", GZ, false},
        {"\"gzip\"", GZ, false},
        {"\"abc~gzi\"", GZ, false},
        {"\"abc~gzipx\"", GZ, false},
        {"\"abc~x-gzip\"", GZ, false},
        {"\"abc\"", GZ, false},
        {"\"abc~identity\"", ID, false},
        {"\"abc\"", ID, false},
        {"\"abc~unknown\"", UK, false},
        {"\"abc~gzip\"", (enum coding)99, false},
        /* not one well-formed tag */
        {"abc~gzip", GZ, false},
        {"\"abc~gzip", GZ, false},
        {"\"a\"~gzip\"", GZ, false},
        {"\"a b~gzip\"", GZ, false},
        {"w/\"abc~gzip\"", GZ, false},
        {"\"abc~gzip\", \"x\"", GZ, false},
        {"\"x\", \"abc~gzip\"", GZ, false},
        {"", GZ, false},
        {NULL, GZ, false},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++)
        if (coding_etag_derived(cases[i].etag, cases[i].c) != cases[i].want)
            row_fail("\"%s\" derived for %s: %d, want %d", show(cases[i].etag),
                     coding_name(cases[i].c), !cases[i].want, cases[i].want);
    rows_done();
}

static void test_etag_list_base(void **state)
{
    static const struct {
        const char *list;
        enum coding c;
        size_t size;
        int want;
        const char *out; /* NULL: the list as it is */
    } cases[] = {
        {"\"abc~gzip\"", GZ, BIG, 1, "\"abc\""},
        {"W/\"abc~gzip\"", GZ, BIG, 1, "W/\"abc\""},
        {"\"abc~br\"", BR, BIG, 1, "\"abc\""},
        {"\"abc~gzip\", \"def\"", GZ, BIG, 1, "\"abc\", \"def\""},
        {"\"x\",\"abc~gzip\" ,W/\"y~gzip\"", GZ, BIG, 2, "\"x\", \"abc\", W/\"y\""},
        {" \t\"abc~zstd\"\t", ZS, BIG, 1, "\"abc\""},
        {", ,\"abc~gzip\",,", GZ, BIG, 1, "\"abc\""},
        {"\"~gzip\"", GZ, BIG, 1, "\"\""},
        {"\"abc~gzip~gzip\"", GZ, BIG, 1, "\"abc~gzip\""},
        {"\"a,b~gzip\", \"c\"", GZ, BIG, 1, "\"a,b\", \"c\""}, /* a comma inside a tag */
        {"\"abc~br\", \"def~gzip\"", GZ, BIG, 1, "\"abc~br\", \"def\""},
        {"\"\x80~gzip\"", GZ, BIG, 1, "\"\x80\""},
        /* nothing derived for c: unchanged, to the byte */
        {"\"abc~br\"", GZ, BIG, 0, NULL},
        {"\"abc\"", GZ, BIG, 0, NULL},
        {"  \"abc\" ,, W/\"d\"", GZ, BIG, 0, NULL},
        {"\"abc~gzip\"", ID, BIG, 0, NULL},
        {"\"abc~gzip\"", UK, BIG, 0, NULL},
        {"*", GZ, BIG, 0, NULL},
        {" * ", GZ, BIG, 0, NULL},
        {"", GZ, BIG, 0, NULL},
        {" , ", GZ, BIG, 0, NULL},
        /* malformed: unchanged too */
        {"*, \"abc~gzip\"", GZ, BIG, 0, NULL},
        {"\"abc~gzip\", *", GZ, BIG, 0, NULL},
        {"\"abc~gzip\", garbage", GZ, BIG, 0, NULL},
        {"\"abc~gzip\" \"def\"", GZ, BIG, 0, NULL},
        {"\"abc~gzip\"x", GZ, BIG, 0, NULL},
        {"\"abc~gzip", GZ, BIG, 0, NULL},
        {"abc~gzip", GZ, BIG, 0, NULL},
        {"w/\"abc~gzip\"", GZ, BIG, 0, NULL},
        {"\"a b~gzip\"", GZ, BIG, 0, NULL},
        /* out sizes: mapped, unchanged, malformed */
        {"\"abc~gzip\"", GZ, 6, 1, "\"abc\""}, /* shorter than the list */
        {"\"abc~gzip\"", GZ, 5, FAIL, NULL},
        {"\"abc~gzip\"", GZ, 0, FAIL, NULL},
        {"\"abc~br\"", GZ, 9, 0, NULL},
        {"\"abc~br\"", GZ, 8, FAIL, NULL},
        {"\"abc~gzip\", junk", GZ, 17, 0, NULL},
        {"\"abc~gzip\", junk", GZ, 16, FAIL, NULL},
        {"", GZ, 1, 0, NULL},
        {"", GZ, 0, FAIL, NULL},
        {"\"a~gzip\",\"b~gzip\"", GZ, 9, 2, "\"a\", \"b\""},
        {"\"a~gzip\",\"b~gzip\"", GZ, 8, FAIL, NULL},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        char out[BIG];
        memset(out, 'X', sizeof(out));
        int got = coding_etag_list_base(cases[i].list, cases[i].c, out, cases[i].size);
        check_out(coding_name(cases[i].c), cases[i].list, got, cases[i].want, out, cases[i].size,
                  cases[i].out ? cases[i].out : cases[i].list);
    }
    char out[8];
    assert_int_equal(coding_etag_list_base(NULL, GZ, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    rows_done();
}

static void test_etag_weaken(void **state)
{
    static const struct {
        const char *etag;
        size_t size;
        int want;
        const char *out;
    } cases[] = {
        {"\"abc\"", BIG, 0, "W/\"abc\""},
        {"W/\"abc\"", BIG, 0, "W/\"abc\""},
        {" \"abc\" ", BIG, 0, "W/\"abc\""},
        {"\"abc~gzip\"", BIG, 0, "W/\"abc~gzip\""},
        {"\"\"", BIG, 0, "W/\"\""},
        {"abc", BIG, FAIL, NULL},
        {"\"a\"b\"", BIG, FAIL, NULL},
        {"w/\"abc\"", BIG, FAIL, NULL},
        {"\"abc\", \"d\"", BIG, FAIL, NULL},
        {"", BIG, FAIL, NULL},
        {NULL, BIG, FAIL, NULL},
        {"\"abc\"", 8, 0, "W/\"abc\""},
        {"\"abc\"", 7, FAIL, NULL},
        {"W/\"abc\"", 8, 0, "W/\"abc\""},
        {"W/\"abc\"", 7, FAIL, NULL},
        {"\"abc\"", 0, FAIL, NULL},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        char out[BIG];
        memset(out, 'X', sizeof(out));
        int got = coding_etag_weaken(cases[i].etag, out, cases[i].size);
        check_out("weaken", cases[i].etag, got, cases[i].want, out, cases[i].size, cases[i].out);
    }
    rows_done();
}

/* Every coding's derived tag is recognised as its own only, maps back to
   the origin's, and weakens keeping the suffix. */
static void test_etag_round_trip(void **state)
{
    static const char *const tags[] = {"\"abc\"",          "W/\"abc\"", "\"\"",      "\"x~y\"",
                                       "\"\x80\x90\xff\"", "\"a,b\"",   "\"abc~br\""};
    (void)state;
    for (size_t i = 0; i < NROWS(tags); i++) {
        for (int c = GZ; c < CODING_KNOWN; c++) {
            char derived[64], base[64], weak[64];
            if (coding_etag_derive(tags[i], (enum coding)c, derived, sizeof(derived)) != 0) {
                row_fail("%s: %s not derived", tags[i], coding_name((enum coding)c));
                continue;
            }
            for (int o = ID; o <= UK; o++)
                if (coding_etag_derived(derived, (enum coding)o) != (o == c))
                    row_fail("%s: derived for %s, yet taken for %s: %d", derived,
                             coding_name((enum coding)c), coding_name((enum coding)o), o != c);
            if (coding_etag_list_base(derived, (enum coding)c, base, sizeof(base)) != 1 ||
                strcmp(base, tags[i]) != 0)
                row_fail("%s: maps back to %s, want %s", derived, base, tags[i]);
            if (coding_etag_weaken(derived, weak, sizeof(weak)) != 0 ||
                strncmp(weak, "W/", 2) != 0 || strcmp(weak + 2, derived + (*derived == 'W') * 2))
                row_fail("%s: weakened to %s", derived, weak);
        }
    }
    rows_done();
}

/* ---- Vary ---- */

static void test_vary_merge(void **state)
{
    static const struct {
        const char *vary;
        size_t size;
        int want;
        const char *out; /* NULL: vary as it is */
    } cases[] = {
        {NULL, BIG, 0, "Accept-Encoding"},
        {"", BIG, 0, "Accept-Encoding"},
        {"  \t", BIG, 0, "Accept-Encoding"},
        {", ,", BIG, 0, "Accept-Encoding"},
        {"Cookie", BIG, 0, "Cookie, Accept-Encoding"},
        {"Cookie, ", BIG, 0, "Cookie, Accept-Encoding"},
        {" ,Cookie,User-Agent ,", BIG, 0, "Cookie,User-Agent, Accept-Encoding"},
        {"Accept", BIG, 0, "Accept, Accept-Encoding"},
        {"X-Accept-Encoding", BIG, 0, "X-Accept-Encoding, Accept-Encoding"},
        {"Accept-Encodings", BIG, 0, "Accept-Encodings, Accept-Encoding"},
        {"Accept-Encoding-X", BIG, 0, "Accept-Encoding-X, Accept-Encoding"},
        {"Accept Encoding", BIG, 0, "Accept Encoding, Accept-Encoding"},
        {"**", BIG, 0, "**, Accept-Encoding"},
        /* there already, or "*": unchanged */
        {"Accept-Encoding", BIG, 0, NULL},
        {"accept-encoding", BIG, 0, NULL},
        {"Cookie, ACCEPT-ENCODING", BIG, 0, NULL},
        {" Accept-Encoding ,Cookie", BIG, 0, NULL},
        {"Cookie,\tAccept-Encoding\t", BIG, 0, NULL},
        {"*", BIG, 0, NULL},
        {"Cookie, *", BIG, 0, NULL},
        {" * ", BIG, 0, NULL},
        /* out sizes */
        {NULL, 16, 0, "Accept-Encoding"},
        {NULL, 15, FAIL, NULL},
        {"Cookie", 24, 0, "Cookie, Accept-Encoding"},
        {"Cookie", 23, FAIL, NULL},
        {"Cookie", 7, FAIL, NULL},
        {"*", 2, 0, NULL},
        {"*", 1, FAIL, NULL},
        {"Accept-Encoding", 15, FAIL, NULL},
        {"", 0, FAIL, NULL},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(cases); i++) {
        char out[BIG];
        memset(out, 'X', sizeof(out));
        int got = coding_vary_merge(cases[i].vary, out, cases[i].size);
        check_out("vary", cases[i].vary, got, cases[i].want, out, cases[i].size,
                  cases[i].out ? cases[i].out : cases[i].vary);
    }
    rows_done();
}

/* ---- inputs far past any head's size ---- */

#define LONG (256 * 1024)
static char in[LONG + 64], out[2 * LONG], want[2 * LONG];

/* in = head, then rep until LONG bytes, then tail */
static const char *build(const char *head, const char *rep, const char *tail)
{
    size_t n = strlen(head), r = strlen(rep);
    memcpy(in, head, n);
    while (n + r <= LONG) {
        memcpy(in + n, rep, r);
        n += r;
    }
    snprintf(in + n, sizeof(in) - n, "%s", tail);
    return in;
}

static int16_t q_of(const char *ae, enum coding c)
{
    struct coding_accept a;
    coding_accept_parse(ae, &a);
    return c == UK ? a.star : a.q[c];
}

static void test_long_inputs(void **state)
{
    static const struct {
        const char *head, *rep, *tail;
        enum coding c; /* UK: star */
        int16_t want;
    } ae[] = {
        {"", "foo;q=0.5, ", "br;q=0.3", BR, 300},
        {"gzip;q=0.", "0", ", zstd", GZ, N},
        {"gzip;q=0.", "0", ", zstd", ZS, 1000},
        {"", " ", "gzip", GZ, 1000},
        {"", ",", "*;q=0.2", UK, 200},
        {"", "a", ", gzip", GZ, 1000},
        {"br;q=0.4", ", br;q=1", "", BR, 400},
        {"gzip;", ";", ", br", GZ, N},
        {"zstd", "\t", ";q=0.5", ZS, 500},
    };
    (void)state;
    for (size_t i = 0; i < NROWS(ae); i++) {
        int16_t got = q_of(build(ae[i].head, ae[i].rep, ae[i].tail), ae[i].c);
        if (got != ae[i].want)
            row_fail("long \"%s\" + \"%s\"... + \"%s\": q[%s] %d, want %d", ae[i].head, ae[i].rep,
                     ae[i].tail, coding_name(ae[i].c), got, ae[i].want);
    }
    if (coding_of_response(build("", "identity, ", "gzip")) != GZ)
        row_fail("long identity list then gzip is not gzip");
    if (coding_of_response(build("gzip", ", identity", ", br")) != UK)
        row_fail("long list stacking gzip and br is not unknown");
    char *const types[] = {"text/*"};
    if (!coding_type_listed(build("text/html;", "a=b;", ""), types, 1))
        row_fail("text/html with long parameters is not listed");
    if (!coding_type_listed(build("text/", "x", ""), types, 1))
        row_fail("a long subtype is not listed");
    if (coding_type_listed(build("", "x", "/html"), types, 1))
        row_fail("a long type is listed");

    /* an If-None-Match of thousands of derived tags maps every one */
    size_t n = 0, w = 0;
    int tags = 0;
    while (n < LONG - 64) {
        n += (size_t)sprintf(in + n, "%sW/\"t%d~gzip\"", tags ? "," : "", tags);
        w += (size_t)sprintf(want + w, "%sW/\"t%d\"", tags ? ", " : "", tags);
        tags++;
    }
    assert_int_equal(coding_etag_list_base(in, GZ, out, sizeof(out)), tags);
    assert_string_equal(out, want);
    assert_int_equal(coding_etag_list_base(in, BR, out, sizeof(out)), 0);
    assert_string_equal(out, in);
    assert_int_equal(coding_etag_list_base(in, GZ, out, w), FAIL); /* one byte short */
    assert_string_equal(out, "");
    strcat(in, ", junk");
    assert_int_equal(coding_etag_list_base(in, GZ, out, sizeof(out)), 0);
    assert_string_equal(out, in);

    /* a long Vary, with and without Accept-Encoding at its end */
    build("A0", ", H", "");
    snprintf(want, sizeof(want), "%s, Accept-Encoding", in);
    assert_int_equal(coding_vary_merge(in, out, sizeof(out)), 0);
    assert_string_equal(out, want);
    build("A0", ", H", ", accept-encoding");
    assert_int_equal(coding_vary_merge(in, out, sizeof(out)), 0);
    assert_string_equal(out, in);
    rows_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_names, rows_reset),
        cmocka_unit_test_setup(test_accept_parse, rows_reset),
        cmocka_unit_test_setup(test_acceptable, rows_reset),
        cmocka_unit_test_setup(test_negotiate, rows_reset),
        cmocka_unit_test_setup(test_of_response, rows_reset),
        cmocka_unit_test_setup(test_type_listed, rows_reset),
        cmocka_unit_test_setup(test_compressible, rows_reset),
        cmocka_unit_test_setup(test_verdict_names, rows_reset),
        cmocka_unit_test_setup(test_etag_derive, rows_reset),
        cmocka_unit_test_setup(test_etag_derived, rows_reset),
        cmocka_unit_test_setup(test_etag_list_base, rows_reset),
        cmocka_unit_test_setup(test_etag_weaken, rows_reset),
        cmocka_unit_test_setup(test_etag_round_trip, rows_reset),
        cmocka_unit_test_setup(test_vary_merge, rows_reset),
        cmocka_unit_test_setup(test_long_inputs, rows_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
