/*
 * server.h - the daemon's one event loop: listeners, accept, the live
 * configuration, signals (HUP reload, USR1 reopen logs, TERM/INT drain) and
 * deferred frees of closed connections.
 */
#ifndef MAGPIE_SERVER_H
#define MAGPIE_SERVER_H

#include <ev.h>
#include <stdbool.h>

#include "config.h"
#include "metrics.h"

struct client;
struct dns;
struct pool;
struct store;
struct tls_ctx;

struct listener {
    int fd;
    ev_io io;
    struct cfg_listen addr;
    struct tls_ctx *tls; /* TLS listener, or NULL */
    bool admin;          /* an admin.listen entry */
    struct server *srv;
};

struct server {
    struct ev_loop *loop;
    struct config *cfg; /* current; connections hold their own reference */
    struct dns *dns;
    struct pool *pool;             /* idle and busy origin connections */
    struct store *store;           /* the disk cache, NULL when disabled */
    struct cache_flight **flights; /* misses being fetched, for collapsing (cache.c) */
    uint64_t flight_seed;
    struct tls_ctx *tls_verify;   /* https origins, verified */
    struct tls_ctx *tls_noverify; /* https origins with verify: false */
    ev_timer pool_timer;          /* expires idle origin connections */
    struct listener *listeners;
    size_t nlisteners;
    bool accept_paused;
    ev_timer accept_timer; /* retries accept after EMFILE */

    struct client *clients; /* every open connection */
    struct client *dead;    /* closed, freed in check_w */
    unsigned nclients;
    unsigned nphantom; /* of those, without a client: refreshes, detached fetches */
    unsigned long long next_id;

    /* systemd (notify.h, activate.h) */
    struct activated *passed; /* sockets passed at start, until matched */
    size_t npassed;
    ev_timer watchdog_timer; /* WATCHDOG=1 at half of $WATCHDOG_USEC */
    ev_timer status_timer;   /* STATUS= when it changed */
    char status[128];        /* the STATUS= last sent */
    bool reload_failed;      /* the last SIGHUP kept the running config */

    struct metrics metrics; /* GET /metrics (metrics.h) */

    bool draining;
    ev_timer drain_timer;
    ev_signal sig_hup, sig_usr1, sig_term, sig_int;
    ev_check check_w;
    int exit_code;
};

/* Binds every listener and installs the signal handlers. 0 or -1. */
int server_init(struct server *srv, struct ev_loop *loop, struct config *cfg);
/* Tells systemd READY=1, then runs until drained after SIGTERM/SIGINT;
   returns the exit code. */
int server_run(struct server *srv);
void server_free(struct server *srv);

/* For client.c: bookkeeping as connections open and close. */
void server_client_closed(struct server *srv);

#endif
