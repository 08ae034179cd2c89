/*
 * test_follow.c - follow.c's decisions: where a redirect magpie follows may
 * lead under same-origin, same-site (the Public Suffix List's registrable
 * domain, no https to http) and any; loops and the hop limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "proxy.h"

#include "rows.h"

static void test_scope(void **state)
{
    static const struct {
        const char *from, *to;
        bool origin, site, any;
    } rows[] = {
        {"http://a.example/x", "http://a.example/y?q", true, true, true},
        {"http://a.example/x", "http://A.EXAMPLE:80/y", true, true, true}, /* case, default port */
        {"http://a.example/x", "http://a.example:8080/y", false, true, true},
        {"http://a.example/x", "https://a.example/y", false, true, true},  /* upgrade */
        {"https://a.example/x", "http://a.example/y", false, false, true}, /* downgrade */
        {"https://a.example/x", "https://a.example:443/y", true, true, true},
        {"http://www.example.com/", "http://dl.example.com/f", false, true, true},
        {"http://example.com/", "http://cdn.example.com/f", false, true, true},
        {"http://example.com/", "http://example.org/f", false, false, true},
        /* a public suffix separates sites under it */
        {"http://a.example.co.uk/", "http://b.example.co.uk/", false, true, true},
        {"http://example.co.uk/", "http://other.co.uk/", false, false, true},
        {"http://alice.github.io/", "http://bob.github.io/", false, false, true},
        /* addresses are their own site */
        {"http://127.0.0.1:8080/", "http://127.0.0.1:9090/", false, true, true},
        {"http://127.0.0.1/", "http://127.0.0.2/", false, false, true},
        {"http://10.0.0.1/", "http://0.1/", false, false, true},
        {"http://[::1]:8080/", "http://[::1]:9090/", false, true, true},
        {"http://[::1]/", "http://[::2]/", false, false, true},
        {"http://localhost/", "http://localhost:81/", false, true, true},
        {"http://a.localhost/", "http://b.localhost/", false, false, true},
        /* not http(s): never */
        {"http://a.example/", "ftp://a.example/", false, false, false},
        {"http://a.example/", "/relative", false, false, false},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        bool got[3] = {follow_in_scope(CFG_FOLLOW_SAME_ORIGIN, rows[i].from, rows[i].to),
                       follow_in_scope(CFG_FOLLOW_SAME_SITE, rows[i].from, rows[i].to),
                       follow_in_scope(CFG_FOLLOW_ANY, rows[i].from, rows[i].to)};
        bool want[3] = {rows[i].origin, rows[i].site, rows[i].any};
        for (int k = 0; k < 3; k++)
            if (got[k] != want[k])
                row_fail("%s -> %s, scope %d: %d, want %d", rows[i].from, rows[i].to, k, got[k],
                         want[k]);
    }
    rows_done();
}

/* Loops, the hop limit and the scope, in the order follow_head asks them. */
static void test_decide(void **state)
{
    static const char *const chain[] = {"http://a.example/start", "http://a.example/one",
                                        "http://a.example/two"};
    static const struct {
        const char *name;
        unsigned hops, max;
        enum cfg_follow_scope scope;
        const char *to;
        enum follow_verdict want;
    } rows[] = {
        {"first hop", 0, 5, CFG_FOLLOW_SAME_ORIGIN, "http://a.example/one", FOLLOW_GO},
        {"back to the client's URL", 2, 5, CFG_FOLLOW_SAME_ORIGIN, "http://a.example/start",
         FOLLOW_LOOP},
        {"back to a hop", 2, 5, CFG_FOLLOW_SAME_ORIGIN, "http://a.example/one", FOLLOW_LOOP},
        {"to itself", 2, 5, CFG_FOLLOW_SAME_ORIGIN, "http://a.example/two", FOLLOW_LOOP},
        {"a hop not yet taken is no loop", 1, 5, CFG_FOLLOW_SAME_ORIGIN, "http://a.example/two",
         FOLLOW_GO},
        {"another query is another URL", 2, 5, CFG_FOLLOW_SAME_ORIGIN, "http://a.example/one?x",
         FOLLOW_GO},
        {"the max-th hop", 1, 2, CFG_FOLLOW_SAME_ORIGIN, "http://a.example/three", FOLLOW_GO},
        {"one past max", 2, 2, CFG_FOLLOW_SAME_ORIGIN, "http://a.example/three", FOLLOW_TOO_MANY},
        {"a loop is named before the limit", 2, 2, CFG_FOLLOW_SAME_ORIGIN, "http://a.example/one",
         FOLLOW_LOOP},
        {"outside the scope is passed on, even past max", 2, 2, CFG_FOLLOW_SAME_ORIGIN,
         "http://b.example/x", FOLLOW_PASS},
        {"same-site lets a sibling host in", 0, 5, CFG_FOLLOW_SAME_SITE, "http://cdn.a.example/x",
         FOLLOW_GO},
        {"any", 0, 5, CFG_FOLLOW_ANY, "https://elsewhere.example/x", FOLLOW_GO},
    };
    uint64_t seen[3];
    (void)state;
    for (size_t i = 0; i < 3; i++)
        seen[i] = follow_hash(chain[i]);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        enum follow_verdict got =
            follow_decide(chain[0], seen, rows[i].hops, rows[i].max, rows[i].scope, rows[i].to);
        if (got != rows[i].want)
            row_fail("%s: %d, want %d", rows[i].name, got, rows[i].want);
    }
    rows_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_scope, rows_reset),
        cmocka_unit_test_setup(test_decide, rows_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
