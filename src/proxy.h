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
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "buf.h"
#include "cache/cache.h"
#include "dns.h"
#include "http.h"
#include "pool.h"
#include "server.h"
#include "sock.h"
#include "url.h"

#define PROXY_HIGH_WATER (64 * 1024)
#define PROXY_FEED_MAX (16 * 1024)     /* parsed per step, so buffers stay bounded */
#define PROXY_OUT_MAX (1024 * 1024)    /* hard cap; the watermark keeps far below it */

enum client_state {
    CS_TLS,     /* TLS handshake with the client (TLS listeners) */
    CS_HEAD,    /* waiting for or reading a request head */
    CS_QUEUED,  /* waiting for a connection slot to the origin */
    CS_RESOLVE, /* looking up the origin */
    CS_CONNECT, /* connecting (and TLS handshaking) to the origin */
    CS_FORWARD, /* request going up, response coming down */
    CS_HIT,     /* answering from the cache */
    CS_TUNNEL,  /* CONNECT or WebSocket: bytes relayed both ways */
    CS_CLOSED,  /* closed; freed once the loop iteration ends */
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
    char host[URL_HOST_MAX];
    char peer[64];
    struct sockaddr_storage addr; /* connected to, for the destination check on reuse */
    unsigned long dest_gen; /* gen of the config whose destination check it passed; 0: none */
};

struct upstream {
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
    bool verify;       /* https: check the chain and host name */
    bool forward;      /* absolute URI or CONNECT: destinations are checked (dest.h) */
    char key[URL_HOST_MAX + 32]; /* pool key */
    char peer[64];     /* "ip:port" used, for the access log */
    char *head;        /* the request head, kept while a replay is allowed */
    size_t head_len;
    unsigned retries_left;
    bool granted; /* the pool answered a queued request */
    bool eof;
    bool keep_alive; /* the origin allows reuse after this response */
    bool switching;  /* a 101 answered an Upgrade: becomes a tunnel */
    bool req_cut;    /* the request could not be sent whole: never pooled */
};

/* What one request needs beyond its connection: allocated when the request
   head starts, freed when the connection rests between requests, so an
   idle keep-alive connection holds only its struct client. */
struct exchange {
    struct client *client; /* whose it is (pool callbacks start from up.waiter) */
    /* the request */
    bool req_done;     /* its message was read completely */
    bool req_chunked;  /* its body goes up chunked */
    bool keep_alive;
    bool connect;      /* a CONNECT tunnel */
    bool ws_upgrade;   /* asked for Upgrade: websocket */
    bool bodiless;     /* its head is the whole message */
    bool in_head;      /* its head is being parsed: a local answer waits (client_fail) */
    bool body_first;   /* its body is read before an origin connection is taken */
    int local_status;  /* the answer that waits, and why */
    char *local_reason;
    enum http_method_id method_id;
    unsigned minor;
    char *method;      /* as received: the request line sent on, the logs */
    char *url;         /* absolute, for the access log */
    ev_tstamp started;

    /* the response */
    bool rsp_head_sent;
    bool rsp_done;
    int status;
    enum http_framing framing;
    uint64_t bytes_sent;
    uint64_t bytes_received; /* request body or tunnel bytes from the client */
    uint64_t rsp_mark; /* 1 + where the relayed response starts in the client's
                          output stream (client.out_written); 0: not relayed */


    struct upstream up;
    struct cache_xchg cx;
};

struct client {
    struct client *next, *prev; /* server's list */
    struct server *srv;
    struct config *cfg; /* the config this connection started with */
    unsigned long long id;
    enum client_state state;
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
    size_t scanned; /* head scan progress in `in` */
    bool head_started; /* first byte of the current head arrived */
    bool read_eof;
    bool close_after_flush;
    bool tls_want_read, tls_want_write; /* client TLS handshake */
    bool tls_head_deadline; /* TLS: header timeout runs from accept to the first head's end */
    bool phantom; /* a background refresh: no client socket, output dropped */
    bool detached; /* a phantom since its client left a fetch that goes on for the store */
    bool flushing; /* in client_flush(): a nested one waits for the loop */
    uint64_t out_written; /* bytes client_do_write() sent from `out` (all of a
                             relayed response goes that way) */

    struct exchange *ex; /* NULL while the connection rests */
};

/* client.c */
void client_accept(struct server *srv, int fd, const struct sockaddr *sa, socklen_t len,
                   struct tls_ctx *tls);
void client_close(struct client *c, const char *why);
void client_free(struct client *c);
/* Sends a locally made response; closes the connection unless it can be kept. */
void client_fail(struct client *c, int status, const char *reason);
void client_update_io(struct client *c);
/* Writes pending output now if the socket takes it, else waits for it. */
void client_flush(struct client *c);
/* The response went out completely: log it and take the next request. */
void client_response_done(struct client *c);
/* Appends to the client buffer, counting bytes for the log. -1 if over the cap. */
int client_out(struct client *c, const void *p, size_t n);
/* Refreshes a stale stored response from the loop, with no client waiting. */
struct client *client_spawn_refresh(struct client *c, const struct http_msg *m);
/* Parses request bytes that were waiting for room upstream. */
void client_pump(struct client *c);
/* Stops reading; the connection stays open just long enough to flush. */
void client_drain_idle(struct client *c);

/* client_request.c */
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
/* The client buffer drained: parse response bytes that were waiting. */
void upstream_resume(struct client *c);
/* Tunnel: the client sent bytes (in c->in) for the origin. */
void upstream_tunnel_flush(struct client *c);
/* For upstream.c: the response parser's callbacks, and what its socket
   watchers call when the origin's side has bytes (response or tunnel). */
extern const struct http_reader_ops upstream_reader_ops;
void upstream_read_response(struct client *c);
void upstream_tunnel_read(struct client *c);

/* client.c, tunnels */
/* The origin connection is ready for a CONNECT: answer 200 and relay. */
void client_tunnel_start(struct client *c);
/* The origin's side of a tunnel ended and its bytes reached the client. */
void client_tunnel_origin_done(struct client *c);

#endif
