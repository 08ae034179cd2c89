/*
 * proxy.h - one client connection and the upstream exchange it drives,
 * shared by client.c and client_request.c (the client half) and upstream.c
 * and upstream_relay.c (the origin half).
 *
 * A connection handles one request at a time; pipelined requests wait in
 * the input buffer, so responses go out in request order. Requests and
 * responses stream through two bounded buffers: each side stops reading
 * while the buffer towards the other side is above PROXY_HIGH_WATER
 * (except a collapsed fetch being stored: its leader then reads the file).
 */
#ifndef MAGPIE_PROXY_H
#define MAGPIE_PROXY_H

#include <ev.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "cache/cache.h"
#include "close_reason.h"
#include "dns.h"
#include "filter.h"
#include "hooks.h"
#include "http.h"
#include "pool.h"
#include "server.h"
#include "sock.h"
#include "url.h"

#define PROXY_HIGH_WATER (64 * 1024)
#define PROXY_FEED_MAX (16 * 1024)           /* parsed per step, so buffers stay bounded */
#define UPSTREAM_KEY_MAX (URL_HOST_MAX + 32) /* "https://" host:port " noverify" */
#define PROXY_OUT_MAX (1024 * 1024)          /* hard cap; the watermark keeps far below it */

/*
 * The step an exchange is in; exchange.c alone moves it (docs/ARCHITECTURE.md).
 * How far a fetch has got with its origin connection is upstream.c's own
 * phase (struct upstream).
 */
enum client_state {
    CS_TLS,     /* TLS handshake with the client (TLS listeners) */
    CS_RECEIVE, /* waiting for or reading a request head; hooks and lookup run on it */
    CS_FETCH,   /* the origin is asked, and its response streams to the client */
    CS_DELIVER, /* answering from the store, or following another request's fetch */
    CS_TUNNEL,  /* CONNECT or WebSocket: bytes relayed both ways */
    CS_CLOSED,  /* closed; freed once the loop iteration ends */
};

/* A fetch's progress towards its origin (upstream.c). */
enum up_phase {
    UP_IDLE,    /* not started: the request body is read first, or a follower's spare request */
    UP_QUEUED,  /* waiting for a connection slot to the origin */
    UP_RESOLVE, /* looking up the origin */
    UP_CONNECT, /* connecting (and TLS handshaking) */
    UP_FORWARD, /* request going up, response coming down */
};

/*
 * One connection to an origin. Busy, it belongs to a client exchange
 * (owner); idle, to the pool, which notices when the origin closes it.
 */
struct upconn {
    struct pool_conn pc; /* first: the pool hands back this pointer */
    struct server *srv;
    struct client *owner; /* NULL while idle */
    struct sock sock;
    ev_io rio, wio;
    bool connected; /* TCP is up */
    bool ready;     /* and TLS too, when https */
    bool hs_want_read, hs_want_write;
    unsigned requests; /* responses completed on it */
    double connect_at; /* ev_time() of connect() on the address that answers; 0 once ready */
    double sent_at;    /* ev_time() its request started out; 0 once an answer byte came */
    char host[URL_HOST_MAX];
    char peer[48];                /* "ip:port" or "[ip6]:port" */
    struct sockaddr_storage addr; /* connected to, for the destination check on reuse */
    unsigned long dest_gen;       /* gen of the config whose destination check it passed; 0: none */
};

struct upstream {
    enum up_phase phase;
    struct upconn *conn;
    struct pool_waiter waiter;
    ev_timer timer; /* queue, connect, then read_timeout per progress */
    struct buf in, out;
    size_t head_scanned; /* of the response head at the start of in, by http_head_scan */
    struct http_reader *reader;
    struct dns_query *query;
    struct dns_addrs *addrs; /* while connecting anew (NULL on a pooled connection) */
    size_t next_addr;
    char host[URL_HOST_MAX];
    uint16_t port;
    bool https;
    bool verify;   /* https: check the chain and host name */
    bool forward;  /* absolute URI or CONNECT: destinations are checked (dest.h) */
    char peer[48]; /* "ip:port" used, for the access log: "[" 39 "]:65535" at most */
    char *head;    /* the request head, kept while a replay is allowed */
    size_t head_len;
    unsigned retries_left;
    bool granted; /* the pool answered a queued request */
    bool later;   /* queued to start from the loop (a released follower) */
    bool eof;
    bool keep_alive; /* the origin allows reuse after this response */
    bool switching;  /* a 101 answered an Upgrade: becomes a tunnel */
    bool req_cut;    /* the request could not be sent whole: never pooled */
};

/* What the request head decided (client_request.c, the cache), acted on by
   exchange.c once the parser returned. */
enum exchange_plan {
    PLAN_NONE,   /* answered locally, or failed */
    PLAN_FETCH,  /* ask the origin (CONNECT: open a tunnel to it) */
    PLAN_SERVE,  /* the store answers */
    PLAN_FOLLOW, /* follow another request's fetch of the same key */
};

/* The client writer's state for one response (writer.c). */
struct writer {
    struct piece held; /* sent by reference; len 0: none */
    bool crlf_after;   /* chunked: the held piece's chunk ends after it */
    bool last_after;   /* chunked: and the body with it */
    bool ended;        /* the deliver chain ended */
};

/* What one request needs beyond its connection: allocated when the request
   head starts, freed when the connection rests between requests, so an
   idle keep-alive connection holds only its struct client. */
struct exchange {
    struct client *client; /* whose it is (pool callbacks start from up.waiter) */
    /* the request */
    bool req_done;    /* its message was read completely */
    bool req_chunked; /* its body goes up chunked */
    bool keep_alive;
    bool connect;    /* a CONNECT tunnel */
    bool ws_upgrade; /* asked for Upgrade: websocket */
    bool bodiless;   /* its head is the whole message */
    bool in_head;    /* its head is being parsed: a local answer waits (exchange_fail) */
    bool body_first; /* its body is read before an origin connection is taken */
    /* the response (the rest below) */
    bool rsp_head_sent;
    bool rsp_done;
    /* compression (coding.h), decided on the request's head */
    bool compress_on;    /* Accept-Encoding went up and keys variants as coding_want alone */
    bool etag_mapped;    /* derived entity tags went up as the origin's own (If-None-Match) */
    uint8_t coding_want; /* enum coding: what magpie encodes into for this client */
    uint8_t coding_sent; /* enum coding of the body sent (the access log); CODING_NONE: none yet */
    uint8_t decoding;    /* enum coding decoded for this client; CODING_IDENTITY: none */
    enum exchange_plan plan;
    int local_status; /* the answer that waits, and why */
    char *local_reason;
    enum http_method_id method_id;
    unsigned minor;
    char *method; /* as received: the request line sent on, the logs */
    char *url;    /* absolute, for the access log */
    ev_tstamp started;

    /* the response */
    int status;
    enum http_framing framing;
    uint64_t bytes_sent;
    uint64_t bytes_received; /* request body or tunnel bytes from the client */
    uint64_t rsp_mark;       /* 1 + where the relayed response starts in the client's
                                output stream (client.out_written); 0: not relayed */

    struct upstream up;
    struct follow *follow; /* redirects followed for the client (follow.c), or NULL */
    struct cache_xchg cx;
    /* the response body's way: once per fetch (origin to the store writer
       and the leader's delivery), then per client (to the client writer) */
    struct chain fetch, deliver;
    struct writer wr;
};

struct client {
    struct client *next, *prev; /* server's list */
    struct server *srv;
    struct config *cfg; /* the config this connection started with */
    unsigned long long id;
    enum client_state state;
    uint32_t auth_user; /* the request's proxy user: 1 + its index in cfg->auth; 0: none */
    struct sock sock;
    ev_io io; /* read and write: the events follow what the connection waits for */
    ev_timer timer;
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } addr;
    char addr_text[48]; /* "ip:port" / "[ip6]:port": "[" 39 "]:65535" at most */
    int deny_status;    /* 403 (ACL) or 503 (over the limit), answered after the head */

    struct buf in, out;
    struct http_reader *reader; /* NULL while the connection rests */
    size_t scanned;             /* head scan progress in `in` */
    bool head_started;          /* first byte of the current head arrived */
    bool read_eof;
    bool close_after_flush;
    enum close_reason close_why;        /* set with close_after_flush */
    bool tls_want_read, tls_want_write; /* client TLS handshake */
    bool tls_head_deadline; /* TLS: header timeout runs from accept to the first head's end */
    bool phantom;           /* a background refresh: no client socket, output dropped */
    bool admin;   /* came in on an admin listener: /metrics, /healthz, /cache only (admin.c) */
    bool detached;          /* a phantom since its client left a fetch that goes on for the store */
    bool flushing;          /* in client_flush(): a nested one waits for the loop */
    uint64_t out_written;   /* bytes client_do_write() sent from `out` (all of a
                               relayed response goes that way) */

    struct exchange *ex; /* NULL while the connection rests */
    /* what the combined access line needs from the current request's head
       (access_log.h), or NULL; here, not in the exchange, which stays small
       enough for malloc's per-thread cache */
    struct access_head *log_head;
};

/* client.c: the connection's life, reading, timers, the access log */
void client_accept(struct server *srv, int fd, const struct sockaddr *sa, socklen_t len,
                   struct tls_ctx *tls, bool admin);
/* why: the log's words, or NULL for the reason's own (close_reason.h). */
void client_close(struct client *c, enum close_reason r, const char *why);
void client_free(struct client *c);
void client_update_io(struct client *c);
/* Refreshes a stale stored response from the loop, with no client waiting. */
struct client *client_spawn_refresh(struct client *c, const struct http_msg *m);
/* Reads and parses what c->in holds, as far as the step allows. */
void client_process(struct client *c);
/* Stops reading; the connection stays open just long enough to flush. */
void client_drain_idle(struct client *c);
/* For exchange.c. */
bool client_phantom_room(const struct client *c);
void client_become_phantom(struct client *c);
void client_log_access(struct client *c);
/* The request ends: the metrics count it (not an admin one, nor a background fetch). */
void client_count(struct client *c);
void client_reset_request(struct client *c);
void client_next_request(struct client *c);
/* Between requests a keep-alive connection holds no buffers. */
void client_rest(struct client *c);

/* writer.c: the client writer, the only code that frames bodies, counts
   bytes sent and writes the client socket */
/* A head is composed straight into the writer's buffer: begin lends it
   (mark: where the head starts), end counts it, or takes it back when
   rc < 0 (then -1). */
struct buf *writer_head_begin(struct client *c, size_t *mark);
int writer_head_end(struct client *c, size_t mark, int rc);
/* Bytes as they are (a local answer, a tunnel's): -1 if over the cap. */
int writer_out(struct client *c, const void *p, size_t n);
/* A tunnel: reads the origin's bytes into the writer's buffer. */
enum sock_io writer_read_from(struct client *c, struct sock *from, size_t *n);
/* Where the next byte queued starts in the client's output stream, plus 1
   (ex->rsp_mark). */
uint64_t writer_mark(const struct client *c);
/* Drops a relayed response none of whose bytes reached the socket yet,
   so an error status can replace it. */
bool writer_take_back(struct client *c);
/* Whether a held piece waits for the socket. */
bool writer_pending(const struct client *c);
/* The socket is writable. */
void writer_write(struct client *c);
/* Writes pending output now if the socket takes it, else waits for it. */
void client_flush(struct client *c);
extern const struct sink_ops writer_sink;  /* arg: struct client */
extern const struct sink_ops discard_sink; /* a delivery nobody reads */

/* compress_plan.c: content codings for one exchange (coding.h decides) */
#define CODING_NONE 0xff /* ex->coding_sent before a head with a body went out */
/* The request's head, once routed: compression on or off for it, and the
   coding it gets when magpie encodes (ex->compress_on, ex->coding_want). */
void compress_plan_request(struct client *c, const struct http_msg *req,
                           const struct cfg_route *rt);
/* Whether the request field h of m goes up as compress_plan_request_fields
   writes it rather than as the client sent it. */
bool compress_plan_rewrites(const struct client *c, const struct http_msg *m,
                            const struct http_header *h);
/* Accept-Encoding as the negotiated coding, and If-None-Match / If-Match
   with derived entity tags mapped back to the origin's. 0 or -1 (full). */
int compress_plan_request_fields(struct client *c, const struct http_msg *req, struct buf *out);
/* The entity tag a revalidation of stored sends: the origin's own (into
   out) when stored is a variant magpie encoded; NULL when it has none. */
const char *compress_plan_revalidation_tag(struct client *c, const struct http_msg *stored,
                                           char *out, size_t size);
/* The final response head from the origin, before it is stored or relayed:
   edits m for a compressible response and sets what the chains are to do
   in fh (encode, decode, level; length -1 when the body changes). 0 or -1. */
int compress_plan_response(struct client *c, struct http_msg *m, struct filter_head *fh);
/* A body in coding ce is about to go to the client: the coding to decode
   it from on the way (ex->decoding), or CODING_IDENTITY when it goes as it is. */
enum coding compress_plan_decode(struct client *c, enum coding ce);
/* One field of a head whose body goes decoded (ex->decoding): 1 when it
   was dropped or written changed, 0 to write it as it is, -1 when full. */
int compress_plan_put_field(struct buf *out, const struct http_msg *m, const struct http_header *h);

/* location.c: Location rewriting on reverse routes */
/* One field of a head to the client: 1 when it was a Location or
   Content-Location naming the route's origin, written naming the route's
   host; 0 to write it as it is; -1 when full. */
int location_put_field(const struct client *c, struct buf *out, const struct http_msg *m,
                       const struct http_header *h);
/* A Location the route's origin sent naming itself, as the URL the client
   knows it by (in buf); v itself when it names anything else. */
const char *location_public(const struct client *c, const char *v, char *buf, size_t size);

/* follow.c: redirects magpie follows for its client (a cache rule's
   follow_redirects), GET and HEAD only */
/* The origin's final head m: 1 when it is a redirect magpie follows (its
   body is dropped, then follow_go), 0 when it goes to the client, -1
   after answering 502 (a loop, too many redirects). */
int follow_head(struct client *c, const struct http_msg *m);
/* A followed redirect's body is being read and dropped. */
bool follow_dropping(const struct exchange *ex);
/* Its body was read (or is not to be): the next request goes up. */
bool follow_ready(const struct exchange *ex);
/* The redirect's message ended. */
void follow_read(struct exchange *ex);
void follow_go(struct client *c);
/* Redirects followed so far, and the URL the last one led to (NULL: none). */
unsigned follow_hops(const struct exchange *ex);
const char *follow_final_url(const struct exchange *ex);
/* Whether the last request went through the client's reverse route. */
bool follow_routed(const struct exchange *ex);
/* The store writer of the final response under its own URL's key. */
struct store_writer **follow_writer(struct exchange *ex);
void follow_free(struct exchange *ex);
/* Whether to may be reached from from under scope (both absolute URLs). */
bool follow_in_scope(enum cfg_follow_scope scope, const char *from, const char *to);
/* What a redirect to "to" does to a chain of hops redirects so far, max
   at most: first is the client's URL, seen[0..hops] the follow_hash of it
   and of each URL followed. */
enum follow_verdict {
    FOLLOW_GO,       /* ask it */
    FOLLOW_PASS,     /* outside the scope: the redirect goes to the client */
    FOLLOW_LOOP,     /* asked already in this chain: 502 */
    FOLLOW_TOO_MANY, /* one more than max: 502 */
};
enum follow_verdict follow_decide(const char *first, const uint64_t *seen, unsigned hops,
                                  unsigned max, enum cfg_follow_scope scope, const char *to);
/* How a chain remembers the URLs it asked (follow_decide's seen). */
uint64_t follow_hash(const char *url);

/* exchange.c: the controller, the only writer of c->state */
void exchange_begin(struct client *c, bool tls);
void exchange_handshake_done(struct client *c);
void exchange_closed(struct client *c);
/* The origin's response is complete but a chain still holds some of it
   (an encoder or a decoder paced by its client): the origin connection
   goes back, and the writer ends the exchange once the chains have ended. */
void exchange_drain(struct client *c);
/* The client is leaving: true when its fetch goes on without it. */
bool exchange_detach(struct client *c, const char *why);
/* A request head was parsed (and the parser returned): act on ex->plan.
   0 when its body is read on, -1 otherwise. */
int exchange_received(struct client *c, size_t head_len);
/* A body read before the fetch (body_first) may now start it. */
void exchange_body_read(struct client *c);
void exchange_deliver(struct client *c);
void exchange_tunnel(struct client *c);
/* The origin's answer was dropped: the store answers (or nobody needs one). */
void exchange_serve_stored(struct client *c);
/* The fetch a behind leader reads ended: the rest from the file. */
void exchange_catch_up(struct client *c);
/* The cache served c stale while revalidating: refresh in the background. */
void exchange_refresh(struct client *c, const struct http_msg *m);
/* What the cache decided for a follower of a fetch. */
void exchange_release(struct client *c);
void exchange_follow_start(struct client *c);
void exchange_follow_failed(struct client *c);
void exchange_follow_more(struct client *c);
/* An error answer (status, reason): stale from the store if it may, else
   synthesized; closes the connection unless it can be kept. */
void exchange_fail(struct client *c, int status, const char *reason);
/* A redirect rule's answer: status (301 302 303 307 308) with Location,
   held like exchange_fail's until the parser has returned. */
void exchange_redirect(struct client *c, int status, const char *location);
bool exchange_is_redirect(int status);
struct answer;
/* Sends a locally made answer (respond.h). */
void exchange_answer(struct client *c, const struct answer *a);
/* The response went out completely: log it and take the next request. */
void exchange_done(struct client *c);
/* The writer sent the last of a delivered (stored) response. */
void exchange_delivered(struct client *c);
/* The deliver chain has room: its producer (the fetch, or the store) goes on. */
void exchange_deliver_resume(void *arg);

/* Whether the exchange's request is going up and its response coming down. */
static inline bool exchange_forwarding(const struct client *c)
{
    return c->state == CS_FETCH && c->ex->up.phase == UP_FORWARD;
}

/* client_request.c */
/* What the request hooks share about one head while it is parsed. */
struct head_ctx {
    struct client *c;
    bool routed;  /* the route hook chose an origin: */
    struct url u; /* its target (pointing into the head) */
    const char *host_hdr;
    bool reverse; /* through a reverse route */
    const struct cfg_route *rt;
};
enum hook_rc request_hook_acl(void *arg, struct http_msg *m);
/* admin.c: /metrics, /healthz and /cache on an admin listener */
enum hook_rc request_hook_admin(void *arg, struct http_msg *m);
/* The held answer to an admin request for what ("/metrics", "/healthz"). */
void admin_answer(struct client *c, const char *what);
/* admin_cache.c: GET /cache?url=, answered as JSON; target is the whole request target. */
void admin_cache(struct client *c, const char *target);
enum hook_rc request_hook_checks(void *arg, struct http_msg *m);
enum hook_rc request_hook_loop(void *arg, struct http_msg *m);
enum hook_rc request_hook_route(void *arg, struct http_msg *m);
enum hook_rc request_hook_acl_rules(void *arg, struct http_msg *m);
enum hook_rc request_hook_purge(void *arg, struct http_msg *m);
enum hook_rc request_hook_redirect(void *arg, struct http_msg *m);
enum hook_rc request_hook_headers(void *arg, struct http_msg *m);
/* The head of m as it goes up into c->ex->up.out, for path on host_hdr:
   reverse adds X-Forwarded-For; foreign (a redirect followed to another
   origin) leaves out Authorization, Cookie and what header rules set. */
int client_build_request(struct client *c, const struct http_msg *m, const char *path,
                         size_t path_len, const char *host_hdr, bool reverse, bool foreign);
/* The request parser's callbacks, for client.c: a head is checked, routed
   and rewritten for the origin into c->ex->up.out (or answered locally);
   body bytes follow it there. */
extern const struct http_reader_ops client_reader_ops;

/* upstream.c */
/* Acquires an origin connection for c->up.host:port, then sends c->up.out. */
void upstream_start(struct client *c);
/* The exchange failed or was abandoned: the origin connection is closed. */
void upstream_close(struct client *c);
/* The exchange ended well: the connection goes back to the pool if it can. */
void upstream_done(struct client *c);
void upstream_update_io(struct client *c);
/* Starts the exchange from the loop rather than from the caller's stack. */
void upstream_start_later(struct client *c);
/* Restarts a pending lookup on the server's current resolver. */
void upstream_requery(struct client *c);
/* Pool callbacks, for server.c. */
extern const struct pool_ops upstream_pool_ops;
void upstream_session_free(void *session);
/* The origin is gone: a retry, an error status, or (mid-response) a close. */
void upstream_lost(struct client *c, const char *what);

/* upstream_relay.c */
/* The fetch chain has room: parse response bytes that were waiting. */
void upstream_resume_cb(void *arg);
/* The fetch chain's sink: the store writer and the leader's delivery. */
extern const struct sink_ops fetch_sink; /* arg: struct client */
/* For upstream.c: the response parser's callbacks, and what its socket
   watchers call when the origin's side has bytes (response or tunnel). */
extern const struct http_reader_ops upstream_reader_ops;
void upstream_read_response(struct client *c);

/* tunnel.c: CONNECT and WebSocket relaying */
/* The origin connection is ready for a CONNECT (200 goes out), or a 101
   switched protocols: relay both ways from now on. */
void tunnel_open(struct client *c);
/* A 101 to a WebSocket upgrade ended: its leftover bytes, then tunnel_open. */
void tunnel_switch(struct client *c);
/* Origin socket events. */
void tunnel_from_origin(struct client *c);
void tunnel_to_origin(struct client *c);
/* The origin's side ended and its bytes reached the client. */
void tunnel_origin_done(struct client *c);
/* Client socket events: n bytes read into c->in, its EOF, c->out drained. */
void tunnel_client_read(struct client *c, size_t n);
void tunnel_client_eof(struct client *c);
void tunnel_client_drained(struct client *c);
/* What each side's watcher waits for. */
bool tunnel_client_wants_read(const struct client *c);
void tunnel_origin_wants(const struct client *c, bool *rd, bool *wr);

#endif
