/*
 * url.h - request targets: absolute-URI and authority parsing. Hosts come
 * out lower-cased, IPv6 literals without brackets.
 */
#ifndef MAGPIE_URL_H
#define MAGPIE_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define URL_HOST_MAX 256

struct url {
    bool https;
    char host[URL_HOST_MAX];
    uint16_t port;
    const char *path; /* into the parsed string; "/" when empty; may start with "?" */
    size_t path_len;  /* path and query, without fragment */
};

/* "http://host[:port][/path][?query][#frag]". 0 or -1. */
int url_parse_absolute(const char *s, size_t len, struct url *u);
/* "host[:port]" or "[v6][:port]"; port defaults to defport. 0 or -1. */
int url_parse_authority(const char *s, size_t len, char *host, size_t hostsz, uint16_t *port,
                        uint16_t defport);
/*
 * The cache key of a request target: "scheme://host:port/path?query" with
 * the query's parameters sorted by name (so their order does not split the
 * cache; values of one name keep their relative order, which an origin can
 * tell apart) and those named in ignore[0..nignore) removed. -1 if it does
 * not fit.
 */
int url_cache_key(bool https, const char *host, uint16_t port, const char *path, size_t path_len,
                  char *const *ignore, size_t nignore, char *out, size_t size);
/*
 * The key of a request sent to a reverse route: keyed on the Host field as
 * forwarded (lower-cased, its port only if the client sent one), since the
 * origin sees that Host and may answer each differently: "routed://" host
 * path?query, a scheme no absolute URI of the forward proxy can produce.
 */
#define URL_ROUTED_PREFIX "routed://"
int url_cache_key_routed(const char *host_hdr, size_t host_len, const char *path, size_t path_len,
                         char *const *ignore, size_t nignore, char *out, size_t size);
/*
 * ref resolved against the absolute URI base (RFC 3986 §5.2, strict: a
 * reference with a scheme is taken as it is), into out: its length, or -1
 * when base has no scheme or the result does not fit in size.
 */
int url_resolve(const char *base, const char *ref, char *out, size_t size);
/*
 * The query parameter name in query[0..len) (what follows '?'; names are
 * matched as written), percent-decoded into out with a NUL ('+' stays a
 * plus). Its length, or URL_PARAM_ABSENT, URL_PARAM_REPEATED (given more
 * than once: which one was meant?), URL_PARAM_MALFORMED (a bad or NUL
 * escape, or longer than size - 1). *others counts the other parameters.
 */
#define URL_PARAM_ABSENT (-1)
#define URL_PARAM_REPEATED (-2)
#define URL_PARAM_MALFORMED (-3)
long url_query_param(const char *query, size_t len, const char *name, char *out, size_t size,
                     size_t *others);
/* Writes "host:port" (brackets for IPv6) into out. */
void url_format_hostport(char *out, size_t size, const char *host, uint16_t port);

#endif
