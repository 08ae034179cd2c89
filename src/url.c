/*
 * url.c - parsing of absolute-form targets (RFC 9112 §3.2.2) and of
 * authorities (Host headers, route origins). Strict: anything that is not
 * clearly a host and a port is refused, since the result picks where magpie
 * connects to.
 */
#include "url.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool url_host_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

static int url_parse_port(const char *s, size_t len, uint16_t *port)
{
    if (len == 0 || len > 5)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

static int url_copy_host(const char *s, size_t len, char *host, size_t hostsz, bool v6)
{
    if (len == 0 || len >= hostsz)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (v6 ? !(isxdigit((unsigned char)c) || c == ':' || c == '.') : !url_host_char(c))
            return -1;
        host[i] = (char)tolower((unsigned char)c);
    }
    host[len] = '\0';
    if (v6) {
        struct in6_addr a;
        if (inet_pton(AF_INET6, host, &a) != 1)
            return -1;
    }
    return 0;
}

int url_parse_authority(const char *s, size_t len, char *host, size_t hostsz, uint16_t *port,
                        uint16_t defport)
{
    const char *end = s + len;
    const char *colon;
    bool v6 = len > 0 && s[0] == '[';
    if (v6) {
        const char *rb = memchr(s, ']', len);
        if (!rb)
            return -1;
        if (url_copy_host(s + 1, (size_t)(rb - s - 1), host, hostsz, true) < 0)
            return -1;
        colon = rb + 1 < end ? rb + 1 : NULL;
        if (colon && *colon != ':')
            return -1;
    } else {
        colon = memchr(s, ':', len);
        size_t hlen = colon ? (size_t)(colon - s) : len;
        if (url_copy_host(s, hlen, host, hostsz, false) < 0)
            return -1;
    }
    if (!colon) {
        *port = defport;
        return 0;
    }
    /* "host:" with an empty port means the default (RFC 3986 §3.2.3) */
    if (colon + 1 == end) {
        *port = defport;
        return 0;
    }
    return url_parse_port(colon + 1, (size_t)(end - colon - 1), port);
}

int url_parse_absolute(const char *s, size_t len, struct url *u)
{
    static const struct {
        const char *prefix;
        bool https;
        uint16_t port;
    } schemes[] = {{"http://", false, 80}, {"https://", true, 443}};
    size_t i;
    for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t plen = strlen(schemes[i].prefix);
        if (len > plen && strncasecmp(s, schemes[i].prefix, plen) == 0)
            break;
    }
    if (i == sizeof(schemes) / sizeof(schemes[0]))
        return -1;
    size_t plen = strlen(schemes[i].prefix);
    const char *auth = s + plen, *end = s + len;
    const char *p = auth;
    while (p < end && *p != '/' && *p != '?' && *p != '#')
        p++;
    if (memchr(auth, '@', (size_t)(p - auth)))
        return -1; /* userinfo is deprecated and a phishing vector (RFC 9110 §4.2.4) */
    u->https = schemes[i].https;
    if (url_parse_authority(auth, (size_t)(p - auth), u->host, sizeof(u->host), &u->port,
                            schemes[i].port) < 0)
        return -1;
    const char *frag = memchr(p, '#', (size_t)(end - p));
    if (frag)
        end = frag;
    if (p == end || *p != '/') {
        /* "http://h" has the empty path, sent as "/"; "http://h?q" keeps
           its query and the serializer adds the slash */
        u->path = p == end ? "/" : p;
        u->path_len = p == end ? 1 : (size_t)(end - p);
        return 0;
    }
    u->path = p;
    u->path_len = (size_t)(end - p);
    return 0;
}

void url_format_hostport(char *out, size_t size, const char *host, uint16_t port)
{
    if (strchr(host, ':'))
        snprintf(out, size, "[%s]:%u", host, port);
    else
        snprintf(out, size, "%s:%u", host, port);
}

struct url_param {
    const char *p;
    size_t len;
    size_t name_len; /* up to the first '=' */
};

/* Parameter names in byte order; one name's values keep their order, since
   an origin may tell "a=1&a=2" from "a=2&a=1" (insertion sort: stable, and
   at most URL_MAX_PARAMS elements). */
static int url_name_cmp(const struct url_param *x, const struct url_param *y)
{
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->p, y->p, n);
    return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static void url_params_sort(struct url_param *q, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct url_param v = q[i];
        size_t j = i;
        for (; j > 0 && url_name_cmp(&q[j - 1], &v) > 0; j--)
            q[j] = q[j - 1];
        q[j] = v;
    }
}

static bool url_param_ignored(const struct url_param *q, char *const *ignore, size_t nignore)
{
    for (size_t i = 0; i < nignore; i++)
        if (strlen(ignore[i]) == q->name_len && memcmp(ignore[i], q->p, q->name_len) == 0)
            return true;
    return false;
}

#define URL_MAX_PARAMS 256

/* Appends n bytes at *len, leaving room for a NUL; -1 when out is full. */
static int url_put(char *out, size_t size, size_t *len, const char *p, size_t n)
{
    if (*len + n >= size)
        return -1;
    memcpy(out + *len, p, n);
    *len += n;
    return 0;
}

/* The path, then the query normalised, after the n bytes already in out. */
static int url_key_target(const char *path, size_t path_len, char *const *ignore, size_t nignore,
                          char *out, size_t size, size_t n)
{
    const char *q = memchr(path, '?', path_len);
    size_t plen = q ? (size_t)(q - path) : path_len;
    if ((!(plen && path[0] == '/') && url_put(out, size, &n, "/", 1) < 0) ||
        url_put(out, size, &n, path, plen) < 0)
        return -1;
    out[n] = '\0';
    if (!q)
        return 0;
    struct url_param params[URL_MAX_PARAMS];
    size_t np = 0;
    const char *end = path + path_len, *s = q + 1;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        if (e > s) {
            if (np == URL_MAX_PARAMS)
                return -1; /* too many to normalise: not cacheable under a stable key */
            const char *eq = memchr(s, '=', (size_t)(e - s));
            params[np++] = (struct url_param){s, (size_t)(e - s), (size_t)((eq ? eq : e) - s)};
        }
        s = e + 1;
    }
    url_params_sort(params, np);
    size_t len = n;
    char sep = '?';
    for (size_t i = 0; i < np; i++) {
        if (url_param_ignored(&params[i], ignore, nignore))
            continue;
        if (len + 1 + params[i].len + 1 > size)
            return -1;
        out[len++] = sep;
        memcpy(out + len, params[i].p, params[i].len);
        len += params[i].len;
        sep = '&';
    }
    out[len] = '\0';
    return 0;
}

int url_cache_key(bool https, const char *host, uint16_t port, const char *path, size_t path_len,
                  char *const *ignore, size_t nignore, char *out, size_t size)
{
    char portbuf[8];
    int portlen = snprintf(portbuf, sizeof(portbuf), ":%u", port);
    bool v6 = strchr(host, ':') != NULL;
    size_t n = 0;
    if (url_put(out, size, &n, https ? "https://" : "http://", https ? 8 : 7) < 0 ||
        (v6 && url_put(out, size, &n, "[", 1) < 0) ||
        url_put(out, size, &n, host, strlen(host)) < 0 || (v6 && url_put(out, size, &n, "]", 1) < 0) ||
        url_put(out, size, &n, portbuf, (size_t)portlen) < 0)
        return -1;
    return url_key_target(path, path_len, ignore, nignore, out, size, n);
}

int url_cache_key_routed(const char *host_hdr, size_t host_len, const char *path, size_t path_len,
                         char *const *ignore, size_t nignore, char *out, size_t size)
{
    size_t n = 0;
    if (url_put(out, size, &n, URL_ROUTED_PREFIX, sizeof(URL_ROUTED_PREFIX) - 1) < 0 ||
        host_len + n >= size)
        return -1;
    for (size_t i = 0; i < host_len; i++) {
        char ch = host_hdr[i];
        if (ch == '/' || ch == '?' || ch == '#' || (unsigned char)ch <= ' ' || ch == 0x7f)
            return -1; /* not an authority: no key that could be confused */
        out[n++] = (char)tolower((unsigned char)ch);
    }
    return url_key_target(path, path_len, ignore, nignore, out, size, n);
}

static int url_hex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes s[0..n) into out (NUL-terminated): its length, or -1
   for a malformed escape, an escaped NUL, or no room. */
static long url_unescape(const char *s, size_t n, char *out, size_t size)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++, w++) {
        char ch = s[i];
        if (ch == '%') {
            int hi = i + 2 < n ? url_hex(s[i + 1]) : -1;
            int lo = hi >= 0 ? url_hex(s[i + 2]) : -1;
            if (lo < 0 || (hi == 0 && lo == 0))
                return -1;
            ch = (char)(hi * 16 + lo);
            i += 2;
        }
        if (w + 1 >= size)
            return -1;
        out[w] = ch;
    }
    if (size == 0)
        return -1;
    out[w] = '\0';
    return (long)w;
}

long url_query_param(const char *query, size_t len, const char *name, char *out, size_t size,
                     size_t *others)
{
    size_t nlen = strlen(name), found = 0;
    const char *val = NULL, *end = query + len, *s = query;
    size_t vlen = 0;
    *others = 0;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        const char *ne = eq ? eq : e;
        if ((size_t)(ne - s) == nlen && memcmp(s, name, nlen) == 0) {
            found++;
            val = eq ? eq + 1 : e;
            vlen = (size_t)(e - val);
        } else if (e > s) {
            (*others)++;
        }
        s = e + 1;
    }
    if (found == 0)
        return URL_PARAM_ABSENT;
    if (found > 1)
        return URL_PARAM_REPEATED;
    long n = url_unescape(val, vlen, out, size);
    return n < 0 ? URL_PARAM_MALFORMED : n;
}
