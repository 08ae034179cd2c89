/*
 * test_hooks.c - hooks.c through its public API: hooks_run over lists of
 * recording hooks, stopping at the first that answers or fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hooks.h"
#include "http.h"

#include "rows.h"

/* What the hooks saw: their letters in the order they ran. */
struct seen {
    char ran[16];
    size_t n;
    struct http_msg *m;
};

static enum hook_rc record(void *arg, struct http_msg *m, char letter, enum hook_rc rc)
{
    struct seen *s = arg;
    assert_ptr_equal(m, s->m);
    assert_true(s->n + 1 < sizeof(s->ran));
    s->ran[s->n++] = letter;
    s->ran[s->n] = '\0';
    return rc;
}

static enum hook_rc hook_a(void *arg, struct http_msg *m)
{
    return record(arg, m, 'a', HOOK_NEXT);
}
static enum hook_rc hook_b(void *arg, struct http_msg *m)
{
    return record(arg, m, 'b', HOOK_NEXT);
}
static enum hook_rc hook_c(void *arg, struct http_msg *m)
{
    return record(arg, m, 'c', HOOK_NEXT);
}
static enum hook_rc hook_answer(void *arg, struct http_msg *m)
{
    return record(arg, m, 'A', HOOK_ANSWERED);
}
static enum hook_rc hook_error(void *arg, struct http_msg *m)
{
    return record(arg, m, 'E', HOOK_ERROR);
}

static const struct hook A = {"a", hook_a}, B = {"b", hook_b}, C = {"c", hook_c};
static const struct hook ANS = {"answer", hook_answer}, ERR = {"error", hook_error};

static void test_run(void **state)
{
    static const struct {
        const char *name;
        struct hook list[4];
        size_t n;
        enum hook_rc rc;
        size_t stopped;
        const char *ran;
    } cases[] = {
        {"all next", {A, B, C}, 3, HOOK_NEXT, 3, "abc"},
        {"order kept", {C, A, B}, 3, HOOK_NEXT, 3, "cab"},
        {"one", {A}, 1, HOOK_NEXT, 1, "a"},
        {"answered first", {ANS, A, B}, 3, HOOK_ANSWERED, 0, "A"},
        {"answered middle", {A, ANS, C}, 3, HOOK_ANSWERED, 1, "aA"},
        {"answered last", {A, B, ANS}, 3, HOOK_ANSWERED, 2, "abA"},
        {"error middle", {A, B, ERR, C}, 4, HOOK_ERROR, 2, "abE"},
        {"error before answer", {ERR, ANS}, 2, HOOK_ERROR, 0, "E"},
        {"answer before error", {A, ANS, ERR}, 3, HOOK_ANSWERED, 1, "aA"},
        {"n shorter than the list", {A, B, ANS}, 2, HOOK_NEXT, 2, "ab"},
    };
    struct http_msg m;
    (void)state;
    memset(&m, 0, sizeof(m));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct seen s = {.m = &m};
        size_t stopped = 99;
        enum hook_rc rc = hooks_run(cases[i].list, cases[i].n, &s, &m, &stopped);
        if (rc != cases[i].rc)
            row_fail("%s: rc %d, want %d", cases[i].name, (int)rc, (int)cases[i].rc);
        if (stopped != cases[i].stopped)
            row_fail("%s: stopped at %zu, want %zu", cases[i].name, stopped, cases[i].stopped);
        if (strcmp(s.ran, cases[i].ran) != 0)
            row_fail("%s: ran %s, want %s", cases[i].name, s.ran, cases[i].ran);
        /* without a place for the index the answer is the same */
        struct seen again = {.m = &m};
        if (hooks_run(cases[i].list, cases[i].n, &again, &m, NULL) != cases[i].rc ||
            strcmp(again.ran, cases[i].ran) != 0)
            row_fail("%s: differs without stopped", cases[i].name);
    }
    rows_done();
}

/* magpie's own list: the order the request phase relies on (an ACL
   verdict before anything, proxy authentication right after it and
   before anything looks at the request (not on an admin listener), the
   route before PURGE, which needs its key, and acl.rules right after the
   route, which gives them the destination,
   and redirects after PURGE, so that a redirected URL can still be purged,
   and before the cache; header rules last, on a request that goes on to
   the cache and the origin; an admin listener's endpoints once the head is
   checked, before anything routes it). */
static void test_request_hooks_order(void **state)
{
    (void)state;
    static const char *const want[] = {"acl",   "auth",      "checks", "admin",    "loop",
                                       "route", "acl_rules", "purge",  "redirect", "headers"};
    assert_int_equal(request_hook_count, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < request_hook_count; i++) {
        assert_string_equal(request_hooks[i].name, want[i]);
        assert_non_null(request_hooks[i].run);
    }
}

static void test_empty(void **state)
{
    size_t stopped = 99;
    (void)state;
    assert_int_equal(hooks_run(NULL, 0, NULL, NULL, &stopped), HOOK_NEXT);
    assert_int_equal(stopped, 0);
    assert_int_equal(hooks_run(NULL, 0, NULL, NULL, NULL), HOOK_NEXT);
    rows_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_run, rows_reset),
        cmocka_unit_test_setup(test_empty, rows_reset),
        cmocka_unit_test(test_request_hooks_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
