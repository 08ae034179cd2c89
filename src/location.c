/*
 * location.c - Location and Content-Location on reverse routes: a value
 * naming the route's origin goes out naming the route's public host and
 * the client's scheme instead (what nginx's `proxy_redirect default` and
 * Apache's ProxyPassReverse do), on relayed responses and on hits alike.
 * The stored head keeps the origin's value.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proxy.h"

/* The part of v after the origin it names ("http://host:port"), or NULL:
   the origin as written, then the end, a '/', '?' or '#'. */
static const char *location_rest(const struct cfg_route *rt, const char *v)
{
    size_t n = strlen(rt->origin);
    while (n && rt->origin[n - 1] == '/')
        n--; /* an origin written with a trailing slash names the same */
    if (strncasecmp(v, rt->origin, n) != 0)
        return NULL;
    char c = v[n];
    return c == '\0' || c == '/' || c == '?' || c == '#' ? v + n : NULL;
}

int location_put_field(const struct client *c, struct buf *out, const struct http_msg *m,
                       const struct http_header *h)
{
    const struct cfg_route *rt = c->ex->cx.rt;
    if (!rt || !rt->rewrite_location || (h->name_len != 8 && h->name_len != 16))
        return 0;
    const char *name = http_hname(m, h);
    if (strcasecmp(name, "Location") != 0 && strcasecmp(name, "Content-Location") != 0)
        return 0;
    const char *rest = location_rest(rt, http_hvalue(m, h));
    const struct http_header *host = rest ? http_find(http_reader_msg(c->reader), "Host") : NULL;
    if (!host)
        return 0;
    const char *scheme = c->sock.tls ? "https://" : "http://";
    return buf_append_str(out, name) < 0 || buf_append_lit(out, ": ") < 0 ||
                   buf_append_str(out, scheme) < 0 ||
                   buf_append_str(out, http_hvalue(http_reader_msg(c->reader), host)) < 0 ||
                   buf_append_str(out, rest) < 0 || buf_append_lit(out, "\r\n") < 0
               ? -1
               : 1;
}

const char *location_public(const struct client *c, const char *v, char *buf, size_t size)
{
    const struct cfg_route *rt = c->ex->cx.rt;
    const char *rest = rt ? location_rest(rt, v) : NULL;
    const struct http_header *host = rest ? http_find(http_reader_msg(c->reader), "Host") : NULL;
    if (!host)
        return v;
    int n = snprintf(buf, size, "%s://%s%s", c->sock.tls ? "https" : "http",
                     http_hvalue(http_reader_msg(c->reader), host), rest);
    return n > 0 && (size_t)n < size ? buf : v;
}
