/*
 * test_rules.c - rules.c through rules.h: patterns that do not compile
 * (PCRE2's message and offset), matches and their groups, the match limit
 * and bad UTF-8 (both no match), and the "$1".."$9" templates; the same
 * matches where writable executable memory is refused (systemd's
 * MemoryDenyWriteExecute=, here the kernel's PR_SET_MDWE): PCRE2's JIT
 * cannot allocate and the interpreter answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rules.h"

#include "rows.h"

static void test_compile_errors(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *why;
    } rows[] = {
        {"(", "at offset 1: missing closing parenthesis"},
        {"^http://(a|b", "at offset 12: missing closing parenthesis"},
        {"[a", "at offset 2: missing terminating ] for character class"},
        {"*a", "at offset 0: quantifier does not follow a repeatable item"},
        {"a{2,1}", "at offset 5: numbers out of order in {} quantifier"},
        {"a)", "at offset 1: unmatched closing parenthesis"},
        {"\\", "at offset 1: \\ at end of pattern"},
        {"(?<n>a)(?<n>b)",
         "at offset 12: two named subpatterns have the same name (PCRE2_DUPNAMES not set)"},
        /* patterns are UTF-8, as URLs are */
        {"caf\xc3", "at offset 3: UTF-8 error: 1 byte missing at end"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char why[256] = "";
        struct rule_re *re = rule_re_compile(rows[i].pattern, why, sizeof(why));
        if (re) {
            row_fail("row %zu (%s): compiled", i, rows[i].pattern);
            rule_re_free(re);
        } else if (strcmp(why, rows[i].why)) {
            row_fail("row %zu (%s): got \"%s\", want \"%s\"", i, rows[i].pattern, why, rows[i].why);
        }
    }
    /* a short buffer gets a truncated message, still terminated */
    char small[12];
    memset(small, 'x', sizeof(small));
    assert_null(rule_re_compile("(", small, sizeof(small)));
    assert_string_equal(small, "at offset 1");
    rows_done();
}

#define UNSET ((size_t)-1)

/* One match: the pattern, the subject and the groups expected ($0 first). */
struct match_row {
    const char *pattern, *subject;
    bool match;
    size_t ngroups;
    struct {
        size_t start, end;
    } g[4];
};

static void check_match(size_t i, const struct match_row *r)
{
    char why[256];
    struct rule_re *re = rule_re_compile(r->pattern, why, sizeof(why));
    struct rule_match m;

    if (!re) {
        row_fail("row %zu (%s): %s", i, r->pattern, why);
        return;
    }
    memset(&m, 0xa5, sizeof(m));
    bool got = rule_re_match(re, r->subject, strlen(r->subject), &m);
    if (got != r->match || m.ngroups != (r->match ? r->ngroups : 0))
        row_fail("row %zu (%s on %s): got %d with %zu groups", i, r->pattern, r->subject, got,
                 m.ngroups);
    for (size_t g = 0; got && g < r->ngroups && g < 4; g++)
        if (m.start[g] != r->g[g].start || m.end[g] != r->g[g].end)
            row_fail("row %zu (%s on %s): group %zu is %zu..%zu", i, r->pattern, r->subject, g,
                     m.start[g], m.end[g]);
    /* without groups wanted, the answer is the same */
    if (rule_re_match(re, r->subject, strlen(r->subject), NULL) != r->match)
        row_fail("row %zu (%s on %s): differs without groups", i, r->pattern, r->subject);
    rule_re_free(re);
}

static const struct match_row match_rows[] = {
    {"^http://old\\.example/(.*)$", "http://old.example/a/b?c", true, 2, {{0, 24}, {19, 24}}},
    {"^http://old\\.example/(.*)$", "http://old.example/", true, 2, {{0, 19}, {19, 19}}},
    {"^http://old\\.example/(.*)$", "http://oldXexample/a", false, 0, {{0, 0}}},
    {"^https?://([^/:]+)(:\\d+)?(/.*)$",
     "http://h.test:81/x",
     true,
     4,
     {{0, 18}, {7, 13}, {13, 16}, {16, 18}}},
    /* a group that did not take part: unset, the others still set */
    {"^https?://([^/:]+)(:\\d+)?(/.*)$",
     "https://h.test/x",
     true,
     4,
     {{0, 16}, {8, 14}, {UNSET, UNSET}, {14, 16}}},
    {"(a)|(b)", "xb", true, 3, {{1, 2}, {UNSET, UNSET}, {1, 2}}},
    {"(a)|b", "b", true, 2, {{0, 1}, {UNSET, UNSET}}},
    /* unanchored: anywhere in the URL; anchored: only there */
    {"\\.deb", "http://h/p.deb?x", true, 1, {{10, 14}}},
    {"\\.deb$", "http://h/p.deb?x", false, 0, {{0, 0}}},
    {"^\\.deb", "http://h/p.deb", false, 0, {{0, 0}}},
    {"^http://h/$", "http://h/", true, 1, {{0, 9}}},
    {"^http://h/$", "http://h/x", false, 0, {{0, 0}}},
    {"\\Ahttp://h/\\z", "http://h/", true, 1, {{0, 9}}},
    /* case matters unless the pattern says otherwise */
    {"^http://H/", "http://h/", false, 0, {{0, 0}}},
    {"(?i)^http://H/", "http://h/", true, 1, {{0, 9}}},
    /* UTF-8 in the subject is characters, not bytes */
    {"^http://h/(.)$", "http://h/\xc3\xa9", true, 2, {{0, 11}, {9, 11}}},
    /* invalid UTF-8 in the subject: no match, not an error */
    {"^http://h/", "http://h/\xff", false, 0, {{0, 0}}},
    {".", "http://h/\xc3", false, 0, {{0, 0}}},
};

static void test_match(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(match_rows) / sizeof(match_rows[0]); i++)
        check_match(i, &match_rows[i]);
    rows_done();
}

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif

/* In a child, since the refusal cannot be undone: its exit code is the
   count of failed rows, 100 when memory is not refused, 101 without MDWE. */
static void test_match_without_jit(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0)
            _exit(101);
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (p != MAP_FAILED)
            _exit(100);
        for (size_t i = 0; i < sizeof(match_rows) / sizeof(match_rows[0]); i++)
            check_match(i, &match_rows[i]);
        _exit(failed_rows > 99 ? 99 : failed_rows);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 101)
        fail_msg("this kernel has no PR_SET_MDWE (Linux 6.3 or later is needed)");
    assert_int_not_equal(WEXITSTATUS(status), 100);
    assert_int_equal(WEXITSTATUS(status), 0); /* failed rows, printed by the child */
}

/* More than RULE_GROUPS groups: only $0..$9 are reported. */
static void test_many_groups(void **state)
{
    (void)state;
    char why[256];
    struct rule_re *re = rule_re_compile("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)", why, sizeof(why));
    struct rule_match m;

    assert_non_null(re);
    assert_true(rule_re_match(re, "abcdefghijkl", 12, &m));
    assert_int_equal(m.ngroups, RULE_GROUPS);
    for (size_t g = 1; g < RULE_GROUPS; g++) {
        assert_int_equal(m.start[g], g - 1);
        assert_int_equal(m.end[g], g);
    }
    rule_re_free(re);
}

/* A pattern that backtracks exponentially stops at the match limit: no match. */
static void test_match_limit(void **state)
{
    (void)state;
    static const char *const patterns[] = {"^(a+)+$", "^(\\w|a)*x$", "^http://h/(.*)*z$"};
    size_t n = 30000;
    char *url = malloc(n + 1);
    char why[256];

    assert_non_null(url);
    memcpy(url, "http://h/", 9);
    memset(url + 9, 'a', n - 9);
    url[n - 1] = '!';
    url[n] = '\0';
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        struct rule_re *re = rule_re_compile(patterns[i], why, sizeof(why));
        struct rule_match m;
        assert_non_null(re);
        /* the subject without its "http://h/" prefix for the first two */
        const char *s = i < 2 ? url + 9 : url;
        assert_false(rule_re_match(re, s, strlen(s), &m));
        assert_int_equal(m.ngroups, 0);
        /* the same pattern still matches what it should */
        const char *ok = i == 0 ? "aaaa" : i == 1 ? "aaax" : "http://h/abz";
        assert_true(rule_re_match(re, ok, strlen(ok), NULL));
        rule_re_free(re);
    }
    free(url);
}

static void test_expand(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *subject, *template, *want;
    } rows[] = {
        {"^http://old\\.example/(.*)$", "http://old.example/a?b", "https://new.example/$1",
         "https://new.example/a?b"},
        {"(a)(b)(c)(d)(e)(f)(g)(h)(i)", "abcdefghi", "$9$8$7$6$5$4$3$2$1", "ihgfedcba"},
        {"(a)(b)", "ab", "$1-$1-$2", "a-a-b"},
        /* "$$" is one dollar, and does not start a group */
        {"(a)", "a", "$$", "$"},
        {"(a)", "a", "$$1", "$1"},
        {"(a)", "a", "x$$$1", "x$a"},
        /* any other "$" stays as it is */
        {"(a)", "a", "$", "$"},
        {"(a)", "a", "x$", "x$"},
        {"(a)", "a", "$x$1", "$xa"},
        {"(a)", "a", "$0", "$0"},
        {"(a)", "a", "$10", "a0"},
        /* groups beyond the pattern's, or that did not take part: empty */
        {"(a)", "a", "<$2$9>", "<>"},
        {"(a)|(b)", "b", "<$1|$2>", "<|b>"},
        {"x", "x", "", ""},
        {"x", "x", "plain", "plain"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char why[256], out[128];
        struct rule_re *re = rule_re_compile(rows[i].pattern, why, sizeof(why));
        struct rule_match m;
        if (!re || !rule_re_match(re, rows[i].subject, strlen(rows[i].subject), &m)) {
            row_fail("row %zu (%s): no match", i, rows[i].pattern);
            rule_re_free(re);
            continue;
        }
        long n = rule_expand(rows[i].template, rows[i].subject, &m, out, sizeof(out));
        if (n != (long)strlen(rows[i].want) || strcmp(out, rows[i].want))
            row_fail("row %zu (%s): got %ld \"%s\", want \"%s\"", i, rows[i].template, n,
                     n >= 0 ? out : "", rows[i].want);
        rule_re_free(re);
    }
    rows_done();
}

/* No match given: every group is empty. */
static void test_expand_no_match(void **state)
{
    (void)state;
    char out[16];

    assert_int_equal(rule_expand("a$1b$$", "", NULL, out, sizeof(out)), 3);
    assert_string_equal(out, "ab$");
}

/* The output and its NUL must fit: size exactly the length fails, one more fits. */
static void test_expand_sizes(void **state)
{
    (void)state;
    static const char *const templates[] = {"", "abc", "x$1y", "$1$1", "$$$1"};
    char why[256];
    struct rule_re *re = rule_re_compile("^(\\w+)$", why, sizeof(why));
    struct rule_match m;

    assert_non_null(re);
    assert_true(rule_re_match(re, "hello", 5, &m));
    for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
        char full[64], out[64];
        long want = rule_expand(templates[i], "hello", &m, full, sizeof(full));
        assert_true(want >= 0);
        assert_int_equal((size_t)want, strlen(full));
        for (size_t size = 0; size <= (size_t)want + 1; size++) {
            memset(out, '#', sizeof(out));
            long n = rule_expand(templates[i], "hello", &m, out, size);
            if (size <= (size_t)want ? n != -1 : n != want || strcmp(out, full))
                row_fail("\"%s\" in %zu bytes: got %ld", templates[i], size, n);
            /* nothing is written past size */
            if (out[size] != '#')
                row_fail("\"%s\" in %zu bytes: wrote past the end", templates[i], size);
        }
    }
    rule_re_free(re);
    rows_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_compile_errors, rows_reset),
        cmocka_unit_test_setup(test_match, rows_reset),
        cmocka_unit_test_setup(test_match_without_jit, rows_reset),
        cmocka_unit_test(test_many_groups),
        cmocka_unit_test(test_match_limit),
        cmocka_unit_test_setup(test_expand, rows_reset),
        cmocka_unit_test(test_expand_no_match),
        cmocka_unit_test_setup(test_expand_sizes, rows_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
