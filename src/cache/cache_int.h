/*
 * cache/cache_int.h - what cache.c (lookup, storing, collapsed forwarding),
 * flight.c (a fetch apart from its leader's client) and serve.c (answering
 * from the store) share. Not for the rest of magpie.
 */
#ifndef MAGPIE_CACHE_CACHE_INT_H
#define MAGPIE_CACHE_CACHE_INT_H

#include <stdbool.h>
#include <time.h>

#include "cache/cache.h"
#include "cache/policy.h"

struct client;
struct http_msg;
struct client;
struct cfg_route;

#define CACHE_KEY_MAX 8192
#define CACHE_VARIANT_MAX 4096

/*
 * One fetch of a key in flight. Requests for the same key that miss while
 * it is on its way follow it instead of going upstream: once its response
 * head shows a stored, length-delimited response of their variant, they
 * stream the body from the temporary file as it grows; otherwise they are
 * released to fetch for themselves.
 */
struct cache_flight {
    struct cache_flight *next; /* in its hash chain */
    uint64_t hash;
    char *key;
    uint8_t coding;     /* the coding its requests negotiated; CODING_NONE: compression off */
    struct client *leader;
    struct client *followers;
    bool streaming;     /* followers are being served from the file */
    bool doomed;        /* its key was invalidated or purged: not stored, not joined */
    char *head;         /* the stored head block */
    size_t head_len;
    char *variant;
    char *vary;
    uint64_t total;     /* body length (Content-Length); CACHE_LENGTH_UNKNOWN until the end */
    uint64_t written;
    time_t request_time, response_time;
};

/* What a memory copy's head says, worked out once for all its hits. */
#define CACHE_LENGTH_UNKNOWN UINT64_MAX

struct cache_prep {
    struct cache_resp r;  /* freshness facts (times of the stored object) */
    unsigned minor;       /* the origin's HTTP/1.minor, for Via */
    uint8_t coding;       /* enum coding of the stored body */
    bool has_location;    /* a Location or Content-Location a reverse route may rewrite */
    size_t prefix_len;    /* of prefix: a 200 hit's status line and repeated fields */
    size_t via_len;       /* the stored Via entries, joined, after the prefix */
    char prefix[];
};

/* The coding of a stored body, from its head (serve.c). */
enum coding cache_stored_coding(const struct http_msg *m);
/* The value of the first field called name, or NULL. */
const char *cache_hval(const struct http_msg *m, const char *name);
/* The freshness facts of a response head; a response routed through a
   reverse route heeds targeted fields (RFC 9213): field (the rule's, or
   NULL), then CDN-Cache-Control. */
void cache_facts(const struct http_msg *m, bool routed, const char *field, time_t req_t,
                 time_t resp_t, struct cache_resp *r);
/* key.c: every Vary field of m joined with ", " into out; false if they
   do not fit. */
bool cache_vary_of(const struct http_msg *m, char *out, size_t size);
/* key.c: the request's secondary key for a response varying on vary (the
   combined, forwarded value of each field); false when it cannot be made. */
bool cache_variant(const struct client *c, const char *vary, char *out, size_t size);
/* Whether vary names a field magpie rewrites per client as it forwards it,
   so that no request's own value says what the origin saw. */
bool cache_vary_rewritten(const char *vary, const struct cfg_route *rt);
/* key.c: the primary key of a target; rt is the reverse route (NULL in
   forward mode), host_hdr its request's Host, rule what governs it. 0, or
   -1 if it does not fit. */
int cache_key_for(const struct cfg_route *rt, const struct cfg_cache_rule *rule,
                  const char *host_hdr, bool https, const char *host, uint16_t port,
                  const char *path, size_t path_len, char *key, size_t size);
/* key.c: the key a Location or Content-Location names, by the rule that
   governs what it names. 0, or -1. */
int cache_ref_key(struct client *c, const char *ref, char *out, size_t size);
/* key.c: the key of an absolute URL as a request for it would be keyed:
   in forward mode (rt NULL), or on the reverse route rt with the URL's
   authority as written standing for the Host. The rule governing it in
   *rulep (when not NULL). 0, or -1 when it is no URL or does not fit. */
int cache_url_key(const struct config *cfg, const struct cfg_route *rt, const char *url, char *out,
                  size_t size, const struct cfg_cache_rule **rulep);
/* The open stored response's head, parsed on first use; NULL if it is not
   a valid response head. */
const struct http_msg *cache_stored_msg(struct cache_xchg *x);
/* The facts of the open stored response: from its memory copy's
   preparation, else from its parsed head. false if unparsable. */
bool cache_stored_facts(struct cache_xchg *x, struct cache_resp *r);
/* The preparation of the open memory copy (made on first use), or NULL. */
const struct cache_prep *cache_prep_of(struct cache_xchg *x);

#endif
