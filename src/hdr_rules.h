/*
 * hdr_rules.h - request_headers and response_headers (routes[] and
 * cache.rules): for one exchange, the edits of its reverse route, then
 * those of the cache rule that governs it, so that a name both name is the
 * rule's to decide. Toward the origin they change the parsed request
 * itself, before anything reads it, so the forwarded head, the cache key
 * and Vary's secondary key all see the same fields. Toward the client they
 * change a head as it is written, relayed or a hit, never what is stored.
 */
#ifndef MAGPIE_HDR_RULES_H
#define MAGPIE_HDR_RULES_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct client;
struct http_msg;

/* Whether the exchange has request edits (most have none: no cost then). */
bool hdr_rules_request_any(const struct client *c);
/* Removes and sets the request's fields in m. Strings taken from m before
   the call may move (http_msg_set). 0, or -1 out of memory. */
int hdr_rules_request(const struct client *c, struct http_msg *m);

/* Whether the exchange has response edits. */
bool hdr_rules_response_any(const struct client *c);
/* Whether the response field name[0..len) (case-insensitive) stays out of
   the client's head: removed, or replaced by a set field. */
bool hdr_rules_response_drops(const struct client *c, const char *name, size_t len);
/* Appends the set fields, "Name: value\r\n" each. 0, or -1 when full. */
int hdr_rules_response_put(const struct client *c, struct buf *out);

#endif
