/*
 * test_auth.c - proxy authentication (auth.c): strict base64, the
 * Proxy-Authorization value, htpasswd files (accepted and refused hash
 * formats, bounds), verification against bcrypt and SHA-512/256 crypt
 * hashes made here with crypt_r, the table of verified headers (bounds,
 * expiry, eviction), the crypt budget and the rate of failure lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <crypt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "rows.h"

/* ---- base64 ---- */

static void test_b64(void **state)
{
    static const struct {
        const char *in;
        const char *out; /* NULL: refused */
    } rows[] = {
        {"", ""},
        {"YQ==", "a"},
        {"YWI=", "ab"},
        {"YWJj", "abc"},
        {"YWxpY2U6c2VjcmV0", "alice:secret"},
        {"Pz8+", "?\?>"},
        {"Pz8/", "?\?\?"},
        {"YQ", NULL},       /* padding is required */
        {"YQ=", NULL},      /* not a multiple of four */
        {"Y===", NULL},     /* three pad characters */
        {"YQ==YQ==", NULL}, /* padding in the middle */
        {"Y=Q=", NULL},     /* a character after padding */
        {"YR==", NULL},     /* bits left over must be zero (RFC 4648 §3.5) */
        {"YWJ=", NULL},     /* the same with one pad */
        {"YW Jj", NULL},    /* whitespace */
        {"YW\nJj", NULL},   /* a line break */
        {"YW-j", NULL},     /* the URL-safe alphabet is not base64 */
        {"YW_j", NULL},     /* either */
        {"YWJj\0", NULL},   /* a NUL byte within the length (the last row counts it) */
    };
    char out[64];

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t n = strlen(rows[i].in) + (i == sizeof rows / sizeof rows[0] - 1);
        long got = auth_b64_decode(rows[i].in, n, out, sizeof out);
        if (!rows[i].out && got >= 0)
            row_fail("b64 \"%s\": accepted (%ld bytes)", rows[i].in, got);
        if (rows[i].out &&
            (got != (long)strlen(rows[i].out) || memcmp(out, rows[i].out, (size_t)got)))
            row_fail("b64 \"%s\": got %ld bytes, want \"%s\"", rows[i].in, got, rows[i].out);
    }
    /* the output's capacity is a bound, never overrun */
    if (auth_b64_decode("YWJj", 4, out, 2) != -1)
        row_fail("b64: wrote past a 2-byte buffer");
    if (auth_b64_decode("YWI=", 4, out, 2) != 2)
        row_fail("b64: a 2-byte result does not fit 2 bytes");
    rows_done();
}

/* ---- Proxy-Authorization ---- */

static void test_parse_basic(void **state)
{
    static const struct {
        const char *v;
        enum auth_verdict want;
        const char *user, *pass;
    } rows[] = {
        {"Basic YWxpY2U6c2VjcmV0", AUTH_OK, "alice", "secret"},
        {"basic YWxpY2U6c2VjcmV0", AUTH_OK, "alice", "secret"},
        {"BASIC   YWxpY2U6c2VjcmV0", AUTH_OK, "alice", "secret"},
        {"Basic YWxpY2U6c2VjcmV0  ", AUTH_OK, "alice", "secret"},
        {"Basic YTpiOmM=", AUTH_OK, "a", "b:c"},  /* a:b:c: the password keeps ':' */
        {"Basic YWxpY2U6", AUTH_OK, "alice", ""}, /* alice: an empty password */
        {"Basic w6lsw6g6cMOkc3M=", AUTH_OK, "\xc3\xa9l\xc3\xa8", "p\xc3\xa4ss"}, /* UTF-8 */
        {"Bearer abc", AUTH_MISSING, NULL, NULL},
        {"Digest username=\"a\"", AUTH_MISSING, NULL, NULL},
        {"BasicYWxpY2U6c2VjcmV0", AUTH_MISSING, NULL, NULL}, /* another scheme's name */
        {"", AUTH_MISSING, NULL, NULL},
        {"Basic", AUTH_BAD, NULL, NULL},
        {"Basic ", AUTH_BAD, NULL, NULL},
        {"Basic YWxpY2U=", AUTH_BAD, NULL, NULL},             /* "alice": no colon */
        {"Basic OnNlY3JldA==", AUTH_BAD, NULL, NULL},         /* ":secret": no user */
        {"Basic YWxpY2U6c2VjcmV0=", AUTH_BAD, NULL, NULL},    /* bad padding */
        {"Basic YWxpY2U6c2Vj cmV0", AUTH_BAD, NULL, NULL},    /* a space inside */
        {"Basic YWxpY2UKOnNlY3JldA==", AUTH_BAD, NULL, NULL}, /* "alice\n:secret" */
        {"Basic YWxpY2U6c2VjAHJldA==", AUTH_BAD, NULL, NULL}, /* a NUL in the password */
    };
    char buf[128];
    const char *user, *pass;

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        enum auth_verdict got =
            auth_parse_basic(rows[i].v, strlen(rows[i].v), buf, sizeof buf, &user, &pass);
        if (got != rows[i].want) {
            row_fail("\"%s\": verdict %d, want %d", rows[i].v, got, rows[i].want);
            continue;
        }
        if (got == AUTH_OK && (strcmp(user, rows[i].user) || strcmp(pass, rows[i].pass)))
            row_fail("\"%s\": \"%s\" \"%s\"", rows[i].v, user, pass);
    }
    /* a value decoding past the buffer is refused, not cut */
    if (auth_parse_basic("Basic YWxpY2U6c2VjcmV0", 22, buf, 8, &user, &pass) != AUTH_BAD)
        row_fail("a credential longer than the buffer was not refused");
    rows_done();
}

/* ---- htpasswd ---- */

struct errs {
    char text[4096];
    unsigned n;
};

static void collect(void *arg, unsigned line, const char *msg)
{
    struct errs *e = arg;
    size_t len = strlen(e->text);
    snprintf(e->text + len, sizeof e->text - len, "%u: %s\n", line, msg);
    e->n++;
}

#define BCRYPT "$2y$05$HrMCabSVEdBHUkT4W4ngB.CM8qQjC7jJSOQlVdLjcRUgf9jMcl4wa"
#define SHA512                                                                                     \
    "$6$SC2waEn/duJJJwOs$6Y2TRXirujhUlAxVvTsZ2/jdfV20GrsWRB1TaXF3.uI1SWaM0PzIigoQyniYI7q/"         \
    "iVEIuNz/Y.vSTdu3NCwj8."
#define SHA256 "$5$pkTYxCskka7LbfEm$XPy6L77to3oRxsaf2tSicPLa9O.9wXZIZC2e0YMEWr1"

static void test_htpasswd_ok(void **state)
{
    const char *text =
        "# made by htpasswd\n"
        "\n"
        "alice:" BCRYPT "\r\n"
        "  # indented comment\n"
        "bob:" SHA512 "\n"
        "carol:" SHA256 "  \n"
        "dave:$2b$05$HrMCabSVEdBHUkT4W4ngB.CM8qQjC7jJSOQlVdLjcRUgf9jMcl4wa\n"
        "erin with space:$2a$05$HrMCabSVEdBHUkT4W4ngB.CM8qQjC7jJSOQlVdLjcRUgf9jMcl4wa";
    struct auth *a = auth_new();
    struct errs e = {{0}, 0};

    (void)state;
    assert_non_null(a);
    assert_int_equal(auth_htpasswd_parse(a, text, strlen(text), collect, &e), 0);
    assert_string_equal(e.text, "");
    assert_int_equal(a->nusers, 5);
    assert_string_equal(a->users[0].name, "alice");
    assert_string_equal(a->users[0].hash, BCRYPT);
    assert_string_equal(a->users[2].hash, SHA256); /* trailing blanks dropped */
    assert_int_equal(auth_find_user(a, "erin with space"), 4);
    assert_int_equal(auth_find_user(a, "Alice"), -1);
    auth_free(a);
}

static void test_htpasswd_refused(void **state)
{
    static const struct {
        const char *text;
        const char *want;
    } rows[] = {
        {"dave:$apr1$vwoMGMeQ$MxlvKK7z4ZBC4AIT.NtxS.\n",
         "1: user \"dave\": the password is an Apache MD5 ($apr1$) hash, which magpie does not "
         "accept; use htpasswd -B (bcrypt) or -5 (SHA-512)\n"},
        {"eve:{SHA}DQOu4namYhecwmcVgM50lrKXyAs=\n",
         "1: user \"eve\": the password is an unsalted SHA-1 ({SHA}) hash, which magpie does not "
         "accept; use htpasswd -B (bcrypt) or -5 (SHA-512)\n"},
        {"# c\nfrank:rOgkFGvzbtJ6w\n",
         "2: user \"frank\": the password looks like a DES crypt hash, which magpie does not "
         "accept; use htpasswd -B (bcrypt) or -5 (SHA-512)\n"},
        {"gina:secret\n", "1: user \"gina\": the password is not a hash (plain text?), which "
                          "magpie does not accept; use htpasswd -B (bcrypt) or -5 (SHA-512)\n"},
        {"hal:$1$abc$def\n", "1: user \"hal\": the password is an MD5-crypt ($1$) hash, which "
                             "magpie does not accept; use htpasswd -B (bcrypt) or -5 (SHA-512)\n"},
        {"ian:$y$j9T$abc$def\n", "1: user \"ian\": the password is a crypt format magpie does not "
                                 "accept; use htpasswd -B (bcrypt) or -5 (SHA-512)\n"},
        {"jo:$2y$05$short\n", "1: user \"jo\": the password is a malformed bcrypt hash (not 60 "
                              "characters); use htpasswd -B (bcrypt) or -5 (SHA-512)\n"},
        {"lee:$2y$13$abcdefghijklmnopqrstuuKs7O4.Ri4dNEOW9/x1Om7gNgBDnRNj2\n",
         "1: user \"lee\": the password is a bcrypt hash of a cost over 12, each check of which "
         "would stop magpie too long (htpasswd -B -C 12 or less); use htpasswd -B (bcrypt) or -5 "
         "(SHA-512)\n"},
        {"mia:$6$rounds=5000000$salt$abc\n",
         "1: user \"mia\": the password is a SHA-crypt hash of more than 100000 rounds, each "
         "check of which would stop magpie too long; use htpasswd -B (bcrypt) or -5 (SHA-512)\n"},
        {"kim:$6$salt$has space\n", "1: user \"kim\": the password is a malformed hash; use "
                                    "htpasswd -B (bcrypt) or -5 (SHA-512)\n"},
        {"no colon here\n", "1: not a \"user:hash\" line\n"},
        {":" BCRYPT "\n", "1: not a \"user:hash\" line\n"},
        {"alice:" BCRYPT "\nalice:" SHA512 "\n", "2: user \"alice\" is listed twice\n"},
        {"# only comments\n\n", "0: lists no users (add one with htpasswd -B FILE USER)\n"},
        {"", "0: lists no users (add one with htpasswd -B FILE USER)\n"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct auth *a = auth_new();
        struct errs e = {{0}, 0};
        assert_non_null(a);
        unsigned n = auth_htpasswd_parse(a, rows[i].text, strlen(rows[i].text), collect, &e);
        if (n == 0 || n != e.n || strcmp(e.text, rows[i].want))
            row_fail("row %zu: %u error(s):\n%s want:\n%s", i, n, e.text, rows[i].want);
        auth_free(a);
    }
    rows_done();
}

/* A line with a NUL byte, one too long, and the cap on lines reported. */
static void test_htpasswd_bounds(void **state)
{
    static const char nul[] = "al\0ce:" BCRYPT "\n";
    struct auth *a = auth_new();
    struct errs e = {{0}, 0};

    (void)state;
    assert_non_null(a);
    assert_int_equal(auth_htpasswd_parse(a, nul, sizeof nul - 1, collect, &e), 1);
    assert_string_equal(e.text, "1: contains a NUL byte\n");

    size_t big = 600;
    char *longline = malloc(big + 1);
    assert_non_null(longline);
    memset(longline, 'x', big);
    longline[big] = '\0';
    e = (struct errs){{0}, 0};
    assert_int_equal(auth_htpasswd_parse(a, longline, big, collect, &e), 1);
    assert_string_equal(e.text, "1: line too long\n");
    free(longline);

    /* a file in a refused format stops being reported after AUTH_FILE_ERRORS lines */
    char many[4096] = "";
    for (int i = 0; i < 50; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "u%d:plain\n", i);
    e = (struct errs){{0}, 0};
    assert_int_equal(auth_htpasswd_parse(a, many, strlen(many), collect, &e), AUTH_FILE_ERRORS);
    auth_free(a);

    /* a file that cannot be read says why */
    a = auth_new();
    assert_non_null(a);
    e = (struct errs){{0}, 0};
    assert_int_equal(auth_htpasswd_load(a, "/nonexistent/htpasswd", collect, &e), 1);
    assert_string_equal(e.text, "0: cannot read: No such file or directory\n");
    e = (struct errs){{0}, 0};
    assert_int_equal(auth_htpasswd_load(a, "/tmp", collect, &e), 1);
    assert_string_equal(e.text, "0: cannot read: not a regular file\n");
    auth_free(a);
}

/* The users limit: AUTH_USERS_MAX are taken, one more is an error. */
static void test_htpasswd_users_max(void **state)
{
    size_t cap = (size_t)(AUTH_USERS_MAX + 1) * 80;
    char *text = malloc(cap), *p = text;
    struct auth *a = auth_new();
    struct errs e = {{0}, 0};

    (void)state;
    assert_non_null(text);
    assert_non_null(a);
    for (int i = 0; i <= AUTH_USERS_MAX; i++)
        p += sprintf(p, "u%d:%s\n", i, BCRYPT);
    assert_int_equal(auth_htpasswd_parse(a, text, (size_t)(p - text), collect, &e), 1);
    assert_int_equal(a->nusers, AUTH_USERS_MAX);
    assert_string_equal(e.text, "10001: more than 10000 users\n");
    free(text);
    auth_free(a);
}

/* ---- verification ---- */

/* A hash of pass made here with crypt_r under the prefix (cost/rounds) given. */
static char *make_hash(const char *prefix, const char *pass)
{
    struct crypt_data cd;
    memset(&cd, 0, sizeof cd);
    const char *salt = crypt_gensalt_rn(prefix, 0, NULL, 0, cd.setting, sizeof cd.setting);
    assert_non_null(salt);
    const char *h = crypt_r(pass, salt, &cd);
    assert_non_null(h);
    assert_true(h[0] == '$');
    return strdup(h);
}

static struct auth *users_of(const char *const *lines, size_t n)
{
    char text[2048] = "";
    struct auth *a = auth_new();
    struct errs e = {{0}, 0};
    assert_non_null(a);
    for (size_t i = 0; i < n; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s\n", lines[i]);
    assert_int_equal(auth_htpasswd_parse(a, text, strlen(text), collect, &e), 0);
    return a;
}

static void test_verify(void **state)
{
    char *b = make_hash("$2b$", "s3cret"), *s6 = make_hash("$6$", "p\xc3\xa4ss"),
         *s5 = make_hash("$5$", "x");
    char l0[256], l1[256], l2[256];
    snprintf(l0, sizeof l0, "alice:%s", b);
    snprintf(l1, sizeof l1, "bob:%s", s6);
    snprintf(l2, sizeof l2, "carol:%s", s5);
    const char *const lines[] = {l0, l1, l2, "dave:" BCRYPT}; /* dave: htpasswd's, "secret" */
    struct auth *a = users_of(lines, 4);

    (void)state;
    assert_true(auth_verify(a, 0, "s3cret"));
    assert_false(auth_verify(a, 0, "s3cre"));
    assert_false(auth_verify(a, 0, "S3cret"));
    assert_false(auth_verify(a, 0, ""));
    assert_true(auth_verify(a, 1, "p\xc3\xa4ss"));
    assert_false(auth_verify(a, 1, "pass"));
    assert_true(auth_verify(a, 2, "x"));
    assert_false(auth_verify(a, 2, "y"));
    assert_true(auth_verify(a, 3, "secret"));
    assert_false(auth_verify(a, 3, "secreT"));
    auth_free(a);
    free(b);
    free(s6);
    free(s5);
}

/* auth_check end to end: base64 of "alice:s3cret", "alice:wrong", "zed:x". */
static void test_check(void **state)
{
    char *b = make_hash("$2b$", "s3cret");
    char l0[256];
    snprintf(l0, sizeof l0, "alice:%s", b);
    const char *const lines[] = {l0};
    struct auth *a = users_of(lines, 1);
    const char *good = "Basic YWxpY2U6czNjcmV0",
               *wrong = "Basic YWxpY2U6d3Jvbmc=", *unknown = "Basic emVkOng=";
    uint32_t u = 7;

    (void)state;
    assert_int_equal(auth_check(a, NULL, 0, 0, 1, &u), AUTH_MISSING);
    assert_int_equal(auth_check(a, "Bearer x", 8, 0, 1, &u), AUTH_MISSING);
    assert_int_equal(auth_check(a, wrong, strlen(wrong), 0, 1, &u), AUTH_BAD);
    assert_int_equal(u, 0); /* a known user with a wrong password */
    assert_int_equal(auth_check(a, unknown, strlen(unknown), 0, 1, &u), AUTH_BAD);
    assert_int_equal(u, UINT32_MAX);
    assert_false(auth_cache_find(a, wrong, strlen(wrong), 1, &u)); /* failures never stored */
    assert_int_equal(auth_check(a, good, strlen(good), 0, 1, &u), AUTH_OK);
    assert_int_equal(u, 0);
    assert_true(auth_cache_find(a, good, strlen(good), 1, &u));
    /* an over-long value is refused before anything else */
    char big[AUTH_HEADER_MAX + 2];
    memset(big, 'A', sizeof big);
    assert_int_equal(auth_check(a, big, sizeof big, 0, 1, &u), AUTH_BAD);
    /* with the budget spent, a cached header still passes and a new one waits */
    a->budget = -1;
    a->budget_at = 1;
    assert_int_equal(auth_check(a, good, strlen(good), 0, 1, &u), AUTH_OK);
    assert_int_equal(auth_check(a, wrong, strlen(wrong), 0, 1, &u), AUTH_BUSY);
    auth_free(a);
    free(b);
}

/* One address failing AUTH_STRIKE_MAX checks is refused unchecked for the
   rest of its window; another address, a cached header and a new window
   are not. */
static void test_strikes(void **state)
{
    char *h = make_hash("$5$", "s3cret");
    char l0[256];
    snprintf(l0, sizeof l0, "alice:%s", h);
    const char *const lines[] = {l0};
    struct auth *a = users_of(lines, 1);
    const char *good = "Basic YWxpY2U6czNjcmV0",
               *wrong = "Basic YWxpY2U6d3Jvbmc=", *malformed = "Basic !!!!";
    struct sockaddr_in one = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000001)};
    struct sockaddr_in two = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000002)};
    struct sockaddr_in6 six_a = {.sin6_family = AF_INET6}, six_b = {.sin6_family = AF_INET6};
    six_a.sin6_addr.s6_addr[0] = six_b.sin6_addr.s6_addr[0] = 0x20;
    six_a.sin6_addr.s6_addr[15] = 1;
    six_b.sin6_addr.s6_addr[15] = 2; /* same /64 */
    uint64_t p1 = auth_peer_tag(a, (struct sockaddr *)&one),
             p2 = auth_peer_tag(a, (struct sockaddr *)&two);
    uint32_t u;

    (void)state;
    assert_int_not_equal(p1, p2);
    assert_int_equal(auth_peer_tag(a, (struct sockaddr *)&six_a),
                     auth_peer_tag(a, (struct sockaddr *)&six_b));
    /* the right password before any failure: cached, so it passes throughout */
    assert_int_equal(auth_check(a, good, strlen(good), p1, 100, &u), AUTH_OK);
    for (int i = 0; i < AUTH_STRIKE_MAX; i++)
        assert_int_equal(auth_check(a, wrong, strlen(wrong), p1, 100 + i, &u), AUTH_BAD);
    assert_int_equal(auth_check(a, wrong, strlen(wrong), p1, 110, &u), AUTH_THROTTLED);
    assert_int_equal(auth_retry_after(a, p1, 110), 50);
    assert_int_equal(auth_check(a, good, strlen(good), p1, 110, &u), AUTH_OK); /* cached */
    /* a malformed header costs no crypt: refused as before, not throttled */
    assert_int_equal(auth_check(a, malformed, strlen(malformed), p1, 110, &u), AUTH_BAD);
    /* nor does it count: many of them do not throttle another address */
    for (int i = 0; i < 3 * AUTH_STRIKE_MAX; i++)
        assert_int_equal(auth_check(a, malformed, strlen(malformed), p2, 110, &u), AUTH_BAD);
    /* another address is checked */
    assert_int_equal(auth_check(a, wrong, strlen(wrong), p2, 110, &u), AUTH_BAD);
    /* the window over, the first address is checked again */
    assert_int_equal(auth_check(a, wrong, strlen(wrong), p1, 100 + AUTH_STRIKE_WINDOW, &u),
                     AUTH_BAD);
    /* a success forgets the failures before it */
    for (int i = 0; i < AUTH_STRIKE_MAX - 2; i++)
        assert_int_equal(auth_check(a, wrong, strlen(wrong), p2, 111, &u), AUTH_BAD);
    const char *good2 = "Basic  YWxpY2U6czNjcmV0"; /* not the cached value: crypt again */
    assert_int_equal(auth_check(a, good2, strlen(good2), p2, 111, &u), AUTH_OK);
    for (int i = 0; i < AUTH_STRIKE_MAX; i++)
        assert_int_equal(auth_check(a, wrong, strlen(wrong), p2, 112, &u), AUTH_BAD);
    assert_int_equal(auth_check(a, wrong, strlen(wrong), p2, 112, &u), AUTH_THROTTLED);
    auth_free(a);
    free(h);
}

/* ---- the table of verified headers ---- */

static void test_cache(void **state)
{
    struct auth *a = auth_new();
    uint32_t u;
    char v[64];

    (void)state;
    assert_non_null(a);
    assert_false(auth_cache_find(a, "x", 1, 0, &u));
    auth_cache_put(a, "Basic one", 9, 100, 3);
    assert_true(auth_cache_find(a, "Basic one", 9, 100 + AUTH_CACHE_TTL - 1, &u));
    assert_int_equal(u, 3);
    assert_false(auth_cache_find(a, "Basic one", 9, 100 + AUTH_CACHE_TTL, &u)); /* expired */
    assert_false(auth_cache_find(a, "Basic one ", 10, 101, &u)); /* the whole value counts */
    assert_false(auth_cache_find(a, "Basic on", 8, 101, &u));

    /* many more headers than slots: the table stays its size, the newest
       are found and the oldest were evicted */
    size_t slots = AUTH_CACHE_SETS * AUTH_CACHE_WAYS, n = slots * 4, found_old = 0;
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(v, sizeof v, "Basic %zu", i);
        auth_cache_put(a, v, (size_t)len, 200 + (double)i / 1000, (uint32_t)i);
    }
    double now = 200 + (double)n / 1000;
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(v, sizeof v, "Basic %zu", i);
        if (auth_cache_find(a, v, (size_t)len, now, &u)) {
            found++;
            found_old += i < n - slots;
            if (u != i)
                row_fail("header %zu found as user %u", i, u);
        }
    }
    /* every slot is taken and none is left unexpired beyond them */
    if (found != slots)
        row_fail("%zu headers found in a table of %zu slots", found, slots);
    /* with AUTH_CACHE_WAYS ways per set, an old entry survives only in a
       set that got fewer than that of the newest; about a fifth do */
    if (found_old > found / 3)
        row_fail("%zu of %zu entries found are among the oldest", found_old, found);
    /* the newest one is always there */
    int len = snprintf(v, sizeof v, "Basic %zu", n - 1);
    if (!auth_cache_find(a, v, (size_t)len, now, &u))
        row_fail("the newest header was evicted");
    auth_free(a);
    rows_done();
}

/* Two structs (two loaded configs) key the same header differently, so a
   reload's table starts empty whatever the old one held. */
static void test_cache_per_config(void **state)
{
    struct auth *a = auth_new(), *b = auth_new();
    uint32_t u;

    (void)state;
    assert_non_null(a);
    assert_non_null(b);
    auth_cache_put(a, "Basic x", 7, 1, 0);
    assert_true(auth_cache_find(a, "Basic x", 7, 2, &u));
    assert_false(auth_cache_find(b, "Basic x", 7, 2, &u));
    assert_true(memcmp(a->key, b->key, sizeof a->key) != 0);
    auth_free(a);
    auth_free(b);
}

/* ---- budget and log rate ---- */

static void test_budget(void **state)
{
    struct auth *a = auth_new();

    (void)state;
    assert_non_null(a);
    assert_true(auth_budget_take(a, 10));
    auth_budget_spend(a, 0.2);
    assert_true(auth_budget_take(a, 10)); /* 0.05 left */
    auth_budget_spend(a, 0.1);
    assert_false(auth_budget_take(a, 10));   /* spent past zero */
    assert_false(auth_budget_take(a, 10.1)); /* refilled 0.025: still below */
    assert_true(auth_budget_take(a, 10.5));  /* refilled 0.125 in all */
    /* the budget never grows past AUTH_BUDGET however long the pause */
    assert_true(auth_budget_take(a, 1000));
    assert_true(a->budget <= AUTH_BUDGET);
    auth_budget_spend(a, AUTH_BUDGET + 0.001);
    assert_false(auth_budget_take(a, 1000));
    /* time going backwards (a test's clock) changes nothing */
    assert_false(auth_budget_take(a, 999));
    /* ... and refilling goes on from there, not from the later time */
    assert_true(auth_budget_take(a, 999.5));
    auth_free(a);
}

static void test_log_rate(void **state)
{
    struct auth *a = auth_new();
    unsigned skipped = 99;

    (void)state;
    assert_non_null(a);
    assert_true(auth_log_due(a, 0, &skipped));
    assert_int_equal(skipped, 0);
    for (int i = 0; i < 5; i++)
        assert_false(auth_log_due(a, 0.1 * (i + 1), &skipped));
    assert_true(auth_log_due(a, 1.0, &skipped));
    assert_int_equal(skipped, 5);
    assert_false(auth_log_due(a, 1.5, &skipped));
    assert_true(auth_log_due(a, 3, &skipped));
    assert_int_equal(skipped, 1);
    /* after the clock steps back, failures are still logged */
    assert_true(auth_log_due(a, 2, &skipped));
    assert_int_equal(skipped, 0);
    assert_false(auth_log_due(a, 2.5, &skipped));
    auth_free(a);
}

static void test_realm(void **state)
{
    struct auth *a = auth_new();

    (void)state;
    assert_non_null(a);
    assert_string_equal(a->challenge,
                        "Proxy-Authenticate: Basic realm=\"magpie\", charset=\"UTF-8\"\r\n");
    assert_int_equal(a->challenge_len, strlen(a->challenge));
    assert_int_equal(auth_set_realm(a, "Corp proxy"), 0);
    assert_string_equal(a->challenge,
                        "Proxy-Authenticate: Basic realm=\"Corp proxy\", charset=\"UTF-8\"\r\n");
    assert_true(auth_realm_ok("x"));
    assert_true(auth_realm_ok("Corp proxy (EU) #1"));
    assert_false(auth_realm_ok(""));
    assert_false(auth_realm_ok("a\"b"));
    assert_false(auth_realm_ok("a\\b"));
    assert_false(auth_realm_ok("a\tb"));
    assert_false(auth_realm_ok("caf\xc3\xa9"));
    char big[AUTH_REALM_MAX + 2];
    memset(big, 'r', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_false(auth_realm_ok(big));
    big[AUTH_REALM_MAX] = '\0';
    assert_true(auth_realm_ok(big));
    auth_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_b64, rows_reset),
        cmocka_unit_test_setup(test_parse_basic, rows_reset),
        cmocka_unit_test(test_htpasswd_ok),
        cmocka_unit_test_setup(test_htpasswd_refused, rows_reset),
        cmocka_unit_test(test_htpasswd_bounds),
        cmocka_unit_test(test_htpasswd_users_max),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_check),
        cmocka_unit_test_setup(test_cache, rows_reset),
        cmocka_unit_test(test_cache_per_config),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_strikes),
        cmocka_unit_test(test_log_rate),
        cmocka_unit_test(test_realm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
