/*
 * rules.h - URL patterns (PCRE2, JIT-compiled once when the config loads)
 * and the templates their matches fill ("$1".."$9"), for the redirect
 * rules and the cache's URL rules. A pattern is matched against a
 * request's absolute URL, scheme://host[:port]/path?query.
 */
#ifndef MAGPIE_RULES_H
#define MAGPIE_RULES_H

#include <stdbool.h>
#include <stddef.h>

struct rule_re;

/* Compiles pattern. NULL on a bad pattern, with PCRE2's message and the
   offset in the pattern it names in why (why_size bytes; "at offset N: message"). */
struct rule_re *rule_re_compile(const char *pattern, char *why, size_t why_size);
void rule_re_free(struct rule_re *re);

/* The most groups a match reports ($0..$9). */
#define RULE_GROUPS 10

struct rule_match {
    size_t ngroups;                /* groups set, $0 included */
    size_t start[RULE_GROUPS];     /* a group that did not take part: start == end == SIZE_MAX */
    size_t end[RULE_GROUPS];
};

/* Whether re matches subject[0..len); the groups into m (may be NULL). */
bool rule_re_match(const struct rule_re *re, const char *subject, size_t len,
                   struct rule_match *m);

/*
 * Fills template with the groups of m over subject: "$1".."$9" (a group
 * that did not take part, or is beyond the pattern's, is empty), "$$" a
 * dollar; any other "$" stays as it is. The length written (without the
 * NUL), or -1 when it does not fit in size.
 */
long rule_expand(const char *template, const char *subject, const struct rule_match *m,
                 char *out, size_t size);

#endif
