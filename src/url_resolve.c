/*
 * url_resolve.c - references resolved against a base URI (RFC 3986 §5.2),
 * for a Location that is relative: the components split by the generic
 * syntax (§3), merged, and dot segments removed (§5.2.4). Strings only:
 * nothing is decoded, normalised or checked beyond the split.
 */
#include <string.h>

#include "url.h"

struct uparts {
    const char *scheme, *auth, *path, *query, *frag; /* NULL: not defined */
    size_t scheme_len, auth_len, path_len, query_len, frag_len;
};

/* §3 (Appendix B's expression, by hand): scheme ":" "//" authority path
   "?" query "#" fragment. */
static void uri_split(const char *s, struct uparts *p)
{
    memset(p, 0, sizeof(*p));
    size_t n = strcspn(s, ":/?#");
    if (s[n] == ':' && n > 0) {
        p->scheme = s;
        p->scheme_len = n;
        s += n + 1;
    }
    if (s[0] == '/' && s[1] == '/') {
        p->auth = s + 2;
        p->auth_len = strcspn(p->auth, "/?#");
        s = p->auth + p->auth_len;
    }
    p->path = s;
    p->path_len = strcspn(s, "?#");
    s += p->path_len;
    if (*s == '?') {
        p->query = s + 1;
        p->query_len = strcspn(p->query, "#");
        s = p->query + p->query_len;
    }
    if (*s == '#') {
        p->frag = s + 1;
        p->frag_len = strlen(p->frag);
    }
}

struct ubuf {
    char *p;
    size_t size, len;
    bool over;
};

static void ub_put(struct ubuf *b, const char *s, size_t n)
{
    if (b->over || n >= b->size - b->len) {
        b->over = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* §5.2.4: in places, over out[0..len), which holds only the path. */
static size_t remove_dots(char *in, size_t len)
{
    size_t r = 0, w = 0; /* read and write positions: the output never outgrows the input */
    while (r < len) {
        const char *s = in + r;
        size_t left = len - r;
        if (left >= 3 && !strncmp(s, "../", 3)) {
            r += 3;
        } else if (left >= 2 && !strncmp(s, "./", 2)) {
            r += 2;
        } else if (left >= 3 && !strncmp(s, "/./", 3)) {
            r += 2; /* "/./" -> "/" */
        } else if (left == 2 && !strncmp(s, "/.", 2)) {
            in[r + 1] = '/'; /* "/." at the end -> "/" */
            r += 1;
        } else if ((left >= 4 && !strncmp(s, "/../", 4)) || (left == 3 && !strncmp(s, "/..", 3))) {
            if (left == 3) {
                in[r + 2] = '/'; /* "/.." at the end -> "/" */
                r += 2;
            } else {
                r += 3;
            }
            while (w > 0 && in[--w] != '/')
                ; /* the last segment written goes, with its "/" */
        } else if ((left == 1 && s[0] == '.') || (left == 2 && !strncmp(s, "..", 2))) {
            r = len;
        } else {
            /* the first segment: its "/" if any, up to the next "/" */
            size_t n = 1;
            while (n < left && s[n] != '/')
                n++;
            memmove(in + w, s, n);
            w += n;
            r += n;
        }
    }
    in[w] = '\0';
    return w;
}

/* The path part of the output from w0 on, dot segments removed. */
static void finish_path(struct ubuf *b, size_t w0)
{
    if (!b->over)
        b->len = w0 + remove_dots(b->p + w0, b->len - w0);
}

int url_resolve(const char *base, const char *ref, char *out, size_t size)
{
    struct uparts B, R;
    struct ubuf b = {out, size, 0, size == 0};
    if (size)
        out[0] = '\0';
    uri_split(base, &B);
    uri_split(ref, &R);
    if (!B.scheme)
        return -1; /* §5.1: the base must be absolute */
    const struct uparts *s = R.scheme ? &R : &B; /* whose scheme */
    ub_put(&b, s->scheme, s->scheme_len);
    ub_put(&b, ":", 1);
    const struct uparts *a = R.scheme || R.auth ? &R : &B; /* whose authority */
    if (a->auth) {
        ub_put(&b, "//", 2);
        ub_put(&b, a->auth, a->auth_len);
    }
    size_t w0 = b.len;
    const char *query = R.query;
    size_t qlen = R.query_len;
    if (R.scheme || R.auth) {
        ub_put(&b, R.path, R.path_len);
        finish_path(&b, w0);
    } else if (R.path_len == 0) {
        ub_put(&b, B.path, B.path_len);
        if (!R.query) {
            query = B.query;
            qlen = B.query_len;
        }
    } else if (R.path[0] == '/') {
        ub_put(&b, R.path, R.path_len);
        finish_path(&b, w0);
    } else {
        /* §5.2.3 merge: the base path up to its last "/", or "/" with an
           authority and an empty path */
        if (B.auth && B.path_len == 0) {
            ub_put(&b, "/", 1);
        } else {
            size_t keep = B.path_len;
            while (keep > 0 && B.path[keep - 1] != '/')
                keep--;
            ub_put(&b, B.path, keep);
        }
        ub_put(&b, R.path, R.path_len);
        finish_path(&b, w0);
    }
    if (query) {
        ub_put(&b, "?", 1);
        ub_put(&b, query, qlen);
    }
    if (R.frag) {
        ub_put(&b, "#", 1);
        ub_put(&b, R.frag, R.frag_len);
    }
    return b.over ? -1 : (int)b.len;
}
