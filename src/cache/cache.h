/*
 * cache/cache.h - the shared HTTP cache as the proxy sees it: deciding per
 * request whether the store can answer, serving hits (head block, then the
 * body by sendfile), storing responses as they stream through, and
 * invalidating after unsafe methods. RFC 9111 decisions come from
 * policy.c, bytes on disk from store.c.
 */
#ifndef MAGPIE_CACHE_CACHE_H
#define MAGPIE_CACHE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "cache/policy.h"
#include "cache/store.h"

struct buf;
struct cache_flight;
struct client;
struct server;
struct http_msg;
struct http_reader;
struct config;
struct cfg_route;

/* What the cache did for a request: the X-Cache value and the log field. */
enum cache_result {
    CACHE_NONE,   /* not through the cache (CONNECT, WebSocket, errors) */
    CACHE_BYPASS, /* not cacheable (method, request no-store, disabled route) */
    CACHE_MISS,
    CACHE_HIT,
    CACHE_STALE,       /* stale: fetched again, or served because the origin failed */
    CACHE_REVALIDATED, /* stale, and the origin's 304 said it still holds */
    CACHE_REDIRECT,    /* answered by a redirect rule, before the cache */
};

/* What answers instead of the origin's response, once it decided. */
enum cache_instead {
    INSTEAD_NONE,              /* the origin's response is relayed */
    INSTEAD_REVALIDATED,       /* its 304 to our revalidation: the refreshed copy */
    INSTEAD_STALE_5XX,         /* stale-if-error for its 5xx (fwd_status) */
    INSTEAD_STALE_FAILED,      /* stale-if-error: it failed before answering */
    INSTEAD_STALE_UNREACHABLE, /* cache.stale_on_error: it could not be reached */
    INSTEAD_BAD_304,           /* a 304 to a request without validators: 502 */
};

/* Where a collapsed fetch's body comes from for this exchange. */
enum cache_role {
    ROLE_OWN,      /* its own fetch (leading it, if others follow), or the store */
    ROLE_FOLLOWER, /* another request's fetch, read from the file as it grows */
    ROLE_BEHIND,   /* leads its fetch but reads the file behind it (cache/flight.c) */
};

/* Why a request the cache looked up went to the origin (RFC 9211 fwd). */
enum cache_fwd {
    FWD_MISS,      /* nothing said more (a background refresh) */
    FWD_URI_MISS,  /* nothing stored for the URL */
    FWD_VARY_MISS, /* stored, but not for this request's Vary values */
    FWD_STALE,     /* stored and stale */
    FWD_REQUEST,   /* stored and fresh, but the request's directives refused it */
};

/* Per-exchange cache state, embedded in struct exchange. */
struct cache_xchg {
    enum cache_result result;
    enum cache_instead instead; /* set: the origin's answer is consumed, the store answers */
    int32_t lifetime;    /* freshness lifetime of the stored response found, seconds, capped */
    uint16_t fwd_status; /* the origin's status when the store answered instead */
    uint8_t role;        /* enum cache_role */
    uint8_t fwd;         /* enum cache_fwd: why the request went to the origin */
    uint8_t why;         /* enum policy_why: why it was not looked up, or its answer not stored */
    bool lookup;         /* GET/HEAD through an enabled cache */
    bool sure;           /* a writer is open and the length known: Cache-Status may say "stored" */
    bool revalidate;     /* the request goes up conditional on the stored validators */
    bool stale_if_error; /* the stored response may answer if the origin fails */
    bool stale_on_error; /* and if it cannot be reached (cache.stale_on_error) */
    bool swr;            /* served stale while a background refresh runs */
    bool req_auth;
    /* collapsed forwarding: one fetch per key, later requests follow it */
    struct cache_flight *flight; /* the fetch this exchange leads or follows */
    struct client *fnext;        /* next follower of the same fetch */
    uint64_t avail;   /* follower, or leader behind: body bytes the fetch has written so far */
    uint64_t written; /* leader: body bytes stored so far */
    char *key;        /* primary cache key */
    const struct cfg_route *rt; /* the reverse route (of the exchange's config), or NULL */
    struct cc req_cc;
    const struct cfg_cache_rule *rule; /* governs the request (config_cache_rule); never NULL */
    struct store_obj obj;              /* the stored response being served (fd >= 0) */
    struct http_reader *head;          /* parses obj.head */
    uint64_t body_off, body_left;      /* serving progress */
    struct store_writer *writer;
    double age; /* of the stored response being served */
};

/* Opens the store named by cfg (NULL and a log line if it cannot, or if
   the cache is disabled: magpie then runs without one). */
struct store *cache_open(const struct config *cfg);

/* What the cache decides for a routed request. */
enum cache_decision {
    CACHE_GO_UP,      /* ask the origin (conditionally, when revalidating) */
    CACHE_SERVE,      /* the store answers (cache_serve_start) */
    CACHE_FOLLOW,     /* follow the fetch of the same key already in flight; the
                         upstream request is still built, in case it has to go alone */
    CACHE_NOT_STORED, /* only-if-cached, and nothing usable is stored: 504 */
};

/* Called with a request head once it is routed; the target and route
   name what the origin would be asked. */
enum cache_decision cache_request(struct client *c, const struct http_msg *m, bool https,
                                  const char *host, uint16_t port, const char *path,
                                  size_t path_len, const struct cfg_route *rt);
/* PURGE: removes what is stored for the target (a fetch of it in flight
   is not stored). The number removed, or -1 if no key can name it. */
/* PURGE by tag: every stored object whose response carried one of the
   Surrogate-Key / Cache-Tag values of m. How many were removed, or -1
   when m has no such field with a valid tag. */
int cache_purge_tags(struct client *c, const struct http_msg *m);
int cache_purge(struct client *c, const struct http_msg *m, bool https, const char *host,
                uint16_t port, const char *path, size_t path_len, const struct cfg_route *rt);
/* Registers background refresh p as the fetch in flight of what c found
   stale (its key, the coding it negotiated); -1 out of memory. */
int cache_refresh_lead(struct client *p, const struct client *c);
/* Writes the hit's head into the client buffer and starts its body; -1
   when the stored head cannot be served. */
int cache_serve_start(struct client *c);
/* Pushes what of the stored body is ready into the deliver chain while
   it has room (a memory copy as one held piece, else a range of the
   file), and ends the chain once all of it went; 0, or -1 when the chain
   failed. A follower, or a leader behind its fetch, pushes only what the
   fetch has written. */
int cache_serve_more(struct client *c);
/* Frees the fetches still registered (at exit, after every client closed). */
void cache_flights_free(struct server *srv);

/* A background refresh for c's stale stored response: whether it may
   carry c's field name (Authorization, Cookie): only if the response was
   keyed on it (Vary), or, for Authorization, stored as allowed for it
   (public, s-maxage, must-revalidate). */
bool cache_refresh_sends(struct client *c, const char *name);
/* Conditional header lines for revalidating a stale stored response. */
int cache_request_headers(struct client *c, struct buf *out);
/*
 * The final response head arrived from the origin: store it if allowed.
 * Returns 1 when the store answers instead (a 304 to our revalidation, or
 * a 5xx that stale-if-error covers): the origin's response is then read
 * and dropped, and cache_serve_stored() answers once it ended.
 */
int cache_response_head(struct client *c, const struct http_msg *m);
/* What answers after an intercepted origin response. */
enum cache_after {
    CACHE_SERVE_IT,    /* the stored response (revalidated, or stale-if-error) */
    CACHE_STORED_ONLY, /* nobody waits: a background refresh */
    CACHE_BAD_304,     /* a 304 to a request without validators: 502 */
    CACHE_VANISHED,    /* the revalidated response is gone: 502 */
};
enum cache_after cache_after_intercept(struct client *c);
/* The origin failed with status before answering: true when a stale
   stored response may answer instead (the caller closes the origin side
   and serves it, exchange_serve_stored). */
bool cache_stale_on_failure(struct client *c, int status);
void cache_response_body(struct client *c, const char *p, size_t n);
/* The response being stored is not to be kept (its body is broken). */
void cache_response_abort(struct client *c);
/* The response arrived whole: what is being stored is committed. */
void cache_response_end(struct client *c);
/* Cache-Status and X-Cache header lines for the response. */
int cache_status_headers(const struct client *c, char *out, size_t size);
/* The access log's cache field. */
const char *cache_result_name(enum cache_result r);
/* cache/flight.c: a collapsed fetch is not paced by its leader's client
   and outlives it. */
/* Lets the origin be read past the client buffer's high water, if it can:
   the leader of a streaming fetch switches (the first time) to reading the
   body from the object file from its own offset, as its followers do.
   True when it reads from the file. */
bool cache_leader_unpace(struct client *c);
/* The fetch ended while the leader's client was behind: the rest goes from
   the file. false when nothing is left to send from it. */
bool cache_leader_catch_up(struct client *c);
/* Whether the exchange should go on without its client: a response being
   stored, or a fetch others wait on for its head. */
bool cache_fetch_outlives(const struct client *c);
/* The leader's client left: nothing is read for it from the file. */
void cache_leader_detach(struct client *c);

/* Frees what an exchange holds (idempotent). */
void cache_xchg_reset(struct client *c);

#endif
