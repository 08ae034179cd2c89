/*
 * cfgval.h - the string-to-value parsers behind config.c: numbers, ports,
 * booleans, names, origins, and the reverse (ranges formatted back for
 * error messages). They know nothing of YAML or of where a value came
 * from; config.c reports. cfgval.c also holds the config_parse_* parsers,
 * the config_* queries (ACL, PURGE, route, CONNECT port) and the life cycle
 * (config_default, config_ref, config_unref) declared in config.h.
 */
#ifndef MAGPIE_CFGVAL_H
#define MAGPIE_CFGVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Decimal digits only. -1: not a number, -2: past UINT64_MAX. */
int cfgval_uint(const char *s, uint64_t *out);
/* "80": 1..65535, at most 5 digits, nothing after. 0 on success. */
int cfgval_port(const char *s, uint16_t *port);
/* true/false, yes/no, on/off, any case. 0 on success. */
int cfgval_bool(const char *s, bool *out);
/* A DNS server: "ip", "[ip6]", "ip:port" or "[ip6]:port"; -2 for a bad port. */
int cfgval_dns_server(const char *s);
/* Letters, digits, '-', '.' and '_', 1..253 of them. */
bool cfgval_is_name(const char *s);
/* A compression.types pattern: "type/subtype", "type/" then a star, or
   "type/" then a star and "+suffix"; each name a token (RFC 9110 §5.6.2)
   of at most 127 characters, with no star but that one; no parameters. */
bool cfgval_media_pattern(const char *s);
/* A lower-case copy of s[0..n); NULL when out of memory. */
char *cfgval_dup_lower(const char *s, size_t n);
/*
 * "http[s]://host[:port][/]" into r's origin_tls, origin_host (replaced)
 * and origin_port (origin_host NULL when out of memory). -1: scheme,
 * -2: malformed, -3: port.
 */
int cfgval_origin(const char *s, struct cfg_route *r);

/* Why a header rule may not set (or, set false, remove) field name
   (request: toward the origin, else toward the client), or NULL when it may. */
const char *cfgval_hdr_refused(const char *name, bool request, bool set);

/* Could listening sockets on a and b not be bound side by side? The same
   port with the same address, a wildcard, or [::] beside any IPv4 address. */
bool cfgval_listen_overlap(const struct sockaddr *a, const struct sockaddr *b);

/* Is sa in one of cs[0..n)? IPv4-mapped IPv6 addresses also match IPv4 networks. */
bool cfgval_cidrs_match(const struct cfg_cidr *cs, size_t n, const struct sockaddr *sa);

/* Back to text for messages: "250ms", "10s", "5m", "1h", "2d"; "512B", "64KiB", "16TiB". */
const char *cfgval_fmt_duration(double v, char *buf, size_t sz);
const char *cfgval_fmt_size(uint64_t v, char *buf, size_t sz);

/* max_connections when the file does not set it: want, or as many as the
   hard open-file limit fits (two descriptors each, plus 256). */
unsigned cfgval_fit_connections(unsigned want);

/* Edit distance ignoring ASCII case, UINT_MAX for long strings: "did you mean". */
unsigned cfgval_distance(const char *a, const char *b);

#endif
