/*
 * cache/policy_sf.c - targeted cache-control fields (RFC 9213) as RFC 8941
 * Dictionaries: a strict parser of the Structured Fields syntax, since an
 * invalid field must be ignored as a whole rather than half-read, and the
 * mapping of its members onto struct cc. Pure, like policy.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cache/policy.h"

#define SF_DELTA_MAX 2147483648LL /* delta-seconds saturate at 2^31 */

enum sf_type { SF_NONE, SF_INT, SF_DEC, SF_STR, SF_TOK, SF_BYTES, SF_BOOL, SF_LIST };

struct sf_val {
    enum sf_type type;
    int64_t num; /* SF_INT; SF_BOOL: 0 or 1 */
};

static bool sf_lcalpha(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool sf_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool sf_alpha(char c)
{
    return sf_lcalpha(c) || (c >= 'A' && c <= 'Z');
}

static bool sf_tchar(char c)
{
    return c && (sf_alpha(c) || sf_digit(c) || strchr("!#$%&'*+-.^_`|~", c));
}

static const char *sf_sp(const char *p)
{
    while (*p == ' ')
        p++;
    return p;
}

static const char *sf_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
static const char *sf_key(const char *p, size_t *len)
{
    const char *s = p;
    if (!sf_lcalpha(*p) && *p != '*')
        return NULL;
    for (p++; sf_lcalpha(*p) || sf_digit(*p) || (*p && strchr("_-.*", *p)); p++)
        ;
    *len = (size_t)(p - s);
    return p;
}

static const char *sf_number(const char *p, struct sf_val *v)
{
    bool neg = *p == '-';
    int64_t n = 0;
    size_t digits = 0, frac = 0;
    if (neg)
        p++;
    for (; sf_digit(*p); p++, digits++) {
        if (digits == 15)
            return NULL;
        n = n * 10 + (*p - '0');
    }
    if (digits == 0)
        return NULL;
    v->type = SF_INT;
    if (*p == '.') {
        if (digits > 12)
            return NULL;
        for (p++; sf_digit(*p); p++)
            if (++frac > 3)
                return NULL;
        if (frac == 0)
            return NULL;
        v->type = SF_DEC;
    }
    v->num = neg ? -n : n;
    return p;
}

static const char *sf_string(const char *p)
{
    for (p++; *p != '"'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\\') {
            p++;
            if (*p != '"' && *p != '\\')
                return NULL;
        } else if (c < 0x20 || c > 0x7e) {
            return NULL; /* the NUL at the end too */
        }
    }
    return p + 1;
}

static const char *sf_bytes(const char *p)
{
    for (p++; *p != ':'; p++)
        if (!(sf_alpha(*p) || sf_digit(*p) || *p == '+' || *p == '/' || *p == '='))
            return NULL;
    return p + 1;
}

static const char *sf_bare(const char *p, struct sf_val *v)
{
    v->num = 0;
    if (*p == '-' || sf_digit(*p))
        return sf_number(p, v);
    if (*p == '"') {
        v->type = SF_STR;
        return sf_string(p);
    }
    if (*p == ':') {
        v->type = SF_BYTES;
        return sf_bytes(p);
    }
    if (*p == '?') {
        if (p[1] != '0' && p[1] != '1')
            return NULL;
        v->type = SF_BOOL;
        v->num = p[1] == '1';
        return p + 2;
    }
    if (sf_alpha(*p) || *p == '*') {
        for (p++; sf_tchar(*p) || *p == ':' || *p == '/'; p++)
            ;
        v->type = SF_TOK;
        return p;
    }
    return NULL;
}

/* *( ";" *SP key [ "=" bare-item ] ) */
static const char *sf_params(const char *p)
{
    while (p && *p == ';') {
        size_t len;
        struct sf_val v;
        p = sf_key(sf_sp(p + 1), &len);
        if (p && *p == '=')
            p = sf_bare(p + 1, &v);
    }
    return p;
}

static const char *sf_inner_list(const char *p)
{
    struct sf_val v;
    p = sf_sp(p + 1);
    while (*p != ')') {
        p = sf_params(sf_bare(p, &v));
        if (!p || (*p != ' ' && *p != ')'))
            return NULL;
        p = sf_sp(p);
    }
    return sf_params(p + 1);
}

/* member-value: an Item or an Inner List, with its parameters */
static const char *sf_member_value(const char *p, struct sf_val *v)
{
    if (*p == '(') {
        v->type = SF_LIST;
        return sf_inner_list(p);
    }
    return sf_params(sf_bare(p, v));
}

static bool sf_is(const char *k, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(k, name, len) == 0;
}

/* A delta-seconds directive: a non-negative Integer, else 0. */
static int64_t sf_delta(const struct sf_val *v)
{
    if (v->type != SF_INT || v->num < 0)
        return 0;
    return v->num > SF_DELTA_MAX ? SF_DELTA_MAX : v->num;
}

static void sf_apply(struct cc *cc, const char *k, size_t len, const struct sf_val *v)
{
    /* restrictive flags: on unless ?0 */
    bool on = !(v->type == SF_BOOL && v->num == 0);
    /* widening flags: on only as a true Boolean */
    bool yes = v->type == SF_BOOL && v->num == 1;
    if (sf_is(k, len, "max-age"))
        cc->max_age = sf_delta(v);
    else if (sf_is(k, len, "s-maxage"))
        cc->s_maxage = sf_delta(v);
    else if (sf_is(k, len, "stale-while-revalidate"))
        cc->stale_while_revalidate = sf_delta(v);
    else if (sf_is(k, len, "stale-if-error"))
        cc->stale_if_error = sf_delta(v);
    else if (sf_is(k, len, "no-store"))
        cc->no_store = on;
    else if (sf_is(k, len, "no-cache"))
        cc->no_cache = on;
    else if (sf_is(k, len, "private"))
        cc->private_ = on;
    else if (sf_is(k, len, "must-revalidate"))
        cc->must_revalidate = on;
    else if (sf_is(k, len, "proxy-revalidate"))
        cc->proxy_revalidate = on;
    else if (sf_is(k, len, "public"))
        cc->public_ = yes;
    else if (sf_is(k, len, "immutable"))
        cc->immutable = yes;
}

bool policy_targeted_cc(const char *value, struct cc *cc)
{
    struct cc out;
    cc_init(&out);
    const char *p = sf_sp(value);
    if (!*p)
        return false; /* empty: as if absent */
    for (;;) {
        size_t len;
        const char *k = p;
        struct sf_val v = {SF_BOOL, 1}; /* a bare key is true */
        if (!(p = sf_key(p, &len)))
            return false;
        p = *p == '=' ? sf_member_value(p + 1, &v) : sf_params(p);
        if (!p)
            return false;
        sf_apply(&out, k, len, &v);
        p = sf_ows(p);
        if (!*p)
            break;
        if (*p != ',')
            return false;
        p = sf_ows(p + 1);
        if (!*p)
            return false; /* a trailing comma */
    }
    *cc = out;
    return true;
}
