/*
 * rules.c - URL patterns and templates (rules.h) over PCRE2: each pattern
 * compiled once, JIT-compiled when the platform allows (the interpreter
 * otherwise), matched with a match context bounding its work, so a
 * pattern written badly cannot hold the loop on a hostile URL.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "rules.h"

#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Backtracking steps one match may take: far more than any sane URL
   pattern needs, far less than a catastrophic one would. */
#define RULE_MATCH_LIMIT 100000

struct rule_re {
    pcre2_code *code;
    pcre2_match_data *md; /* one loop, one match at a time: kept with the pattern */
    pcre2_match_context *mc;
};

struct rule_re *rule_re_compile(const char *pattern, char *why, size_t why_size)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err,
                                     &off, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof(msg));
        snprintf(why, why_size, "at offset %zu: %s", (size_t)off, (const char *)msg);
        return NULL;
    }
    struct rule_re *re = calloc(1, sizeof(*re));
    if (re) {
        re->code = code;
        re->md = pcre2_match_data_create_from_pattern(code, NULL);
        re->mc = pcre2_match_context_create(NULL);
    }
    if (!re || !re->md || !re->mc) {
        snprintf(why, why_size, "out of memory");
        rule_re_free(re);
        if (!re)
            pcre2_code_free(code);
        return NULL;
    }
    pcre2_set_match_limit(re->mc, RULE_MATCH_LIMIT);
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* the interpreter does without it */
    return re;
}

void rule_re_free(struct rule_re *re)
{
    if (!re)
        return;
    pcre2_match_data_free(re->md);
    pcre2_match_context_free(re->mc);
    pcre2_code_free(re->code);
    free(re);
}

bool rule_re_match(const struct rule_re *re, const char *subject, size_t len,
                   struct rule_match *m)
{
    /* PCRE2_NO_UTF_CHECK is not given: a URL with invalid UTF-8 is no match */
    int rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, re->md, re->mc);
    if (rc < 0) {
        if (m)
            m->ngroups = 0;
        return false; /* no match, bad UTF-8 or the match limit: the rule does not apply */
    }
    if (!m)
        return true;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    uint32_t pairs = pcre2_get_ovector_count(re->md);
    size_t n = pairs < RULE_GROUPS ? pairs : RULE_GROUPS;
    for (size_t i = 0; i < RULE_GROUPS; i++) {
        bool set = i < n && i < (size_t)rc && ov[2 * i] != PCRE2_UNSET;
        m->start[i] = set ? (size_t)ov[2 * i] : SIZE_MAX;
        m->end[i] = set ? (size_t)ov[2 * i + 1] : SIZE_MAX;
    }
    m->ngroups = n;
    return true;
}

long rule_expand(const char *template, const char *subject, const struct rule_match *m,
                 char *out, size_t size)
{
    size_t len = 0;
    for (const char *p = template; *p; p++) {
        const char *piece = p;
        size_t n = 1;
        if (p[0] == '$' && p[1] == '$') {
            p++; /* "$$": one dollar */
        } else if (p[0] == '$' && p[1] >= '1' && p[1] <= '9') {
            size_t g = (size_t)(p[1] - '0');
            p++;
            bool set = m && g < m->ngroups && m->start[g] != SIZE_MAX;
            piece = set ? subject + m->start[g] : "";
            n = set ? m->end[g] - m->start[g] : 0;
        }
        if (n >= size - len)
            return -1;
        memcpy(out + len, piece, n);
        len += n;
    }
    if (len >= size)
        return -1;
    out[len] = '\0';
    return (long)len;
}
