/*
 * server.c - listeners and accept, the live configuration (reload on
 * SIGHUP), log reopening (SIGUSR1), graceful shutdown (SIGTERM/SIGINT:
 * stop accepting, let requests in flight finish, bounded by
 * limits.shutdown_timeout) and the deferred free of closed connections.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "activate.h"
#include "cfgval.h"
#include "dns.h"
#include "log.h"
#include "notify.h"
#include "pool.h"
#include "proxy.h"
#include "sock.h"
#include "tls.h"

#define SERVER_BACKLOG 1024
#define SERVER_ACCEPT_BATCH 64
#define SERVER_REJECT_SLACK 64 /* refused-with-503 connections on top of the limit */
#define SERVER_STATUS_EVERY 5. /* seconds between checks of systemd's STATUS= */
#define RELOAD_FAILED "reload failed, keeping the running config: "

/*
 * Raises the soft descriptor limit towards what max_connections needs: a
 * client and its origin connection each, plus room for listeners, cache
 * files and DNS. Shells and `make run` start at 1,024, far below the
 * default of 10,000 connections; the hard limit is the operator's (the
 * systemd unit sets LimitNOFILE).
 */
static void server_fd_limit(const struct config *cfg)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)cfg->limits.max_connections * 2 + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
        return;
    rlim_t cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (cur > rl.rlim_cur) {
        rl.rlim_cur = cur;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warn("cannot raise the open file limit to %llu: %s", (unsigned long long)cur,
                     strerror(errno));
    }
    if (cur < want)
        log_warn("open file limit %llu is below the %llu that limits.max_connections %u may "
                 "need; raise it (systemd: LimitNOFILE)",
                 (unsigned long long)cur, (unsigned long long)want, cfg->limits.max_connections);
}

static void server_accept_cb(struct ev_loop *loop, ev_io *w, int revents);

static int server_bind(const struct cfg_listen *l)
{
    int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* [::] takes IPv4 clients too, as Linux does by default (they arrive as
       ::ffff:a.b.c.d, seen as IPv4 from accept on); another IPv6 address
       only its own */
    if (l->addr.ss_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)&l->addr)->sin6_addr;
        int v6only = !IN6_IS_ADDR_UNSPECIFIED(a6);
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
    }
    if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) < 0 ||
        listen(fd, SERVER_BACKLOG) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

static void server_pause_accept(struct server *srv, bool pause)
{
    if (srv->accept_paused == pause)
        return;
    srv->accept_paused = pause;
    for (size_t i = 0; i < srv->nlisteners; i++) {
        if (srv->listeners[i].fd < 0)
            continue;
        if (pause)
            ev_io_stop(srv->loop, &srv->listeners[i].io);
        else
            ev_io_start(srv->loop, &srv->listeners[i].io);
    }
}

static void server_accept_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    struct server *srv = w->data;
    if (!srv->draining)
        server_pause_accept(srv, false);
}

static void server_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct listener *l = w->data;
    struct server *srv = l->srv;
    for (int i = 0; i < SERVER_ACCEPT_BATCH; i++) {
        if (srv->nclients >= srv->cfg->limits.max_connections + SERVER_REJECT_SLACK) {
            server_pause_accept(srv, true); /* resumes as connections close */
            return;
        }
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                log_error("accept on %s: %s; pausing accepts for 100ms", l->addr.text,
                          strerror(errno));
                server_pause_accept(srv, true);
                ev_timer_set(&srv->accept_timer, 0.1, 0.);
                ev_timer_start(loop, &srv->accept_timer);
            }
            return; /* EAGAIN and per-connection errors alike */
        }
        client_accept(srv, fd, (struct sockaddr *)&ss, len, l->tls, l->admin);
    }
}

/* A TLS listener's context; the files are read now, so errors show at start. */
static int server_listener_tls(struct listener *l)
{
    if (!l->addr.tls_cert)
        return 0;
    char err[512];
    l->tls = tls_server_ctx_new(l->addr.tls_cert, l->addr.tls_key, err, sizeof(err));
    if (!l->tls) {
        log_error("listen %s: %s", l->addr.text, err);
        return -1;
    }
    return 0;
}

/* A listener's socket: the one systemd passed for its address, else a new one. */
static int server_listen_fd(struct server *srv, const struct cfg_listen *a, const char **passed)
{
    *passed = NULL;
    for (size_t i = 0; i < srv->npassed; i++) {
        struct activated *p = &srv->passed[i];
        if (p->fd >= 0 && activate_same_addr((const struct sockaddr *)&p->addr,
                                             (const struct sockaddr *)&a->addr)) {
            int fd = p->fd;
            p->fd = -1;
            *passed = p->name;
            return fd;
        }
    }
    for (size_t i = 0; i < srv->npassed; i++) {
        const struct activated *p = &srv->passed[i];
        if (p->fd >= 0 && cfgval_listen_overlap((const struct sockaddr *)&p->addr,
                                                (const struct sockaddr *)&a->addr)) {
            /* a bind would only say EADDRINUSE: name the socket that holds the port */
            char addr[INET6_ADDRSTRLEN + 8];
            sock_format_addr(addr, sizeof(addr), (const struct sockaddr *)&p->addr, true);
            log_error("listen %s: systemd passed socket %s on %s, which takes this port: list "
                      "\"%s\" under listen instead, or change the socket unit",
                      a->text, p->name, addr, addr);
            errno = EADDRINUSE;
            return -1;
        }
    }
    return server_bind(a);
}

static void server_free_passed(struct server *srv)
{
    for (size_t i = 0; i < srv->npassed; i++)
        if (srv->passed[i].fd >= 0)
            close(srv->passed[i].fd);
    free(srv->passed);
    srv->passed = NULL;
    srv->npassed = 0;
}

/*
 * A passed socket no listen entry claims is a start-up error: the socket
 * unit and the config disagree, and serving on a port the config does not
 * list (with its defaults) or leaving its connections queued unanswered
 * would both hide that.
 */
static int server_check_passed(struct server *srv)
{
    int rc = 0;
    for (size_t i = 0; i < srv->npassed; i++) {
        struct activated *p = &srv->passed[i];
        if (p->fd < 0)
            continue;
        char addr[INET6_ADDRSTRLEN + 8];
        sock_format_addr(addr, sizeof(addr), (const struct sockaddr *)&p->addr, true);
        log_error("socket %s passed by systemd (%s) matches no listen entry: list its "
                  "address under listen, or remove it from the socket unit",
                  p->name, addr);
        rc = -1;
    }
    server_free_passed(srv);
    return rc;
}

static int server_open_listeners(struct server *srv, const struct config *cfg)
{
    char err[256];
    if (activate_take(ACTIVATE_FIRST_FD, &srv->passed, &srv->npassed, err, sizeof(err)) < 0) {
        log_error("socket activation: %s", err);
        return -1;
    }
    size_t n = config_nlisteners(cfg);
    srv->listeners = calloc(n ? n : 1, sizeof(*srv->listeners));
    if (!srv->listeners)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct listener *l = &srv->listeners[i];
        l->srv = srv;
        l->addr = *config_listener(cfg, i);
        l->admin = i >= cfg->nlisten;
        l->fd = -1;
        srv->nlisteners++;
        /* certificates first: sockets then open back to back */
        if (server_listener_tls(l) < 0)
            return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct listener *l = &srv->listeners[i];
        const char *passed;
        l->fd = server_listen_fd(srv, config_listener(cfg, i), &passed);
        if (l->fd < 0) {
            log_error("cannot listen on %s: %s", l->addr.text, strerror(errno));
            return -1;
        }
        ev_io_init(&l->io, server_accept_cb, l->fd, EV_READ);
        l->io.data = l;
        ev_io_start(srv->loop, &l->io);
        if (passed)
            log_info("listening on %s (socket %s passed by systemd)", l->addr.text, passed);
        else
            log_info("listening on %s", l->addr.text);
    }
    return server_check_passed(srv);
}

static void server_close_listeners(struct server *srv)
{
    for (size_t i = 0; i < srv->nlisteners; i++) {
        struct listener *l = &srv->listeners[i];
        if (l->fd < 0)
            continue;
        ev_io_stop(srv->loop, &l->io);
        close(l->fd);
        l->fd = -1;
    }
    for (size_t i = 0; i < srv->nlisteners; i++)
        tls_ctx_free(srv->listeners[i].tls);
    free(srv->listeners);
    srv->listeners = NULL;
    srv->nlisteners = 0;
}

/* Draining: the proxy's listeners close; admin ones stay, so /healthz can
   say 503 until the end (their answers close, and shutdown_timeout bounds
   the drain). */
static void server_close_proxy_listeners(struct server *srv)
{
    for (size_t i = 0; i < srv->nlisteners; i++) {
        struct listener *l = &srv->listeners[i];
        if (l->fd < 0 || l->admin)
            continue;
        ev_io_stop(srv->loop, &l->io);
        close(l->fd);
        l->fd = -1;
    }
}

/* Whether fd is a running listener's socket (one a reload keeps). */
static bool server_fd_running(const struct server *srv, int fd)
{
    for (size_t i = 0; i < srv->nlisteners; i++)
        if (srv->listeners[i].fd == fd)
            return true;
    return false;
}

/* Undoes server_prepare_listeners(): the running listeners are untouched. */
static void server_discard_listeners(struct server *srv, struct listener *ls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ls[i].fd >= 0 && !server_fd_running(srv, ls[i].fd))
            close(ls[i].fd);
        tls_ctx_free(ls[i].tls);
    }
    free(ls);
}

/*
 * Listeners for the new config, or NULL (the reason logged): a reload that
 * cannot listen where its config says fails whole. Sockets on addresses
 * kept are shared with the running listeners, never closed and reopened,
 * so no connection to them is refused; TLS certificates are read anew, so
 * a reload rotates them.
 */
static struct listener *server_prepare_listeners(struct server *srv, const struct config *cfg)
{
    size_t n = config_nlisteners(cfg);
    struct listener *ls = calloc(n ? n : 1, sizeof(*ls));
    if (!ls) {
        log_error(RELOAD_FAILED "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        struct listener *l = &ls[i];
        l->srv = srv;
        l->addr = *config_listener(cfg, i);
        l->admin = i >= cfg->nlisten;
        l->fd = -1;
        for (size_t j = 0; j < srv->nlisteners && l->fd < 0; j++)
            if (srv->listeners[j].fd >= 0 &&
                activate_same_addr((const struct sockaddr *)&srv->listeners[j].addr.addr,
                                   (const struct sockaddr *)&l->addr.addr))
                l->fd = srv->listeners[j].fd;
        if (l->fd < 0 && (l->fd = server_bind(&l->addr)) < 0)
            log_error(RELOAD_FAILED "cannot listen on %s: %s", l->addr.text, strerror(errno));
        else if (server_listener_tls(l) < 0)
            log_error(RELOAD_FAILED "listen %s: no usable certificate", l->addr.text);
        else
            continue;
        server_discard_listeners(srv, ls, i + 1);
        return NULL;
    }
    return ls;
}

/*
 * Swaps in the prepared listeners: sockets no longer listed close (their
 * connections go on: a client owns its own socket), new ones start.
 */
static void server_commit_listeners(struct server *srv, struct listener *ls, size_t n)
{
    for (size_t i = 0; i < n; i++) /* nothing fails from here on */
        if (!server_fd_running(srv, ls[i].fd))
            log_info("reload: listening on %s", ls[i].addr.text);
    for (size_t j = 0; j < srv->nlisteners; j++) {
        struct listener *o = &srv->listeners[j];
        if (o->fd < 0)
            continue;
        ev_io_stop(srv->loop, &o->io);
        bool kept = false;
        for (size_t i = 0; i < n && !kept; i++)
            kept = ls[i].fd == o->fd;
        if (!kept) {
            close(o->fd);
            log_info("reload: no longer listening on %s", o->addr.text);
        }
        o->fd = -1;
    }
    server_close_listeners(srv); /* the old TLS contexts and array */
    srv->listeners = ls;
    srv->nlisteners = n;
    for (size_t i = 0; i < n; i++) {
        struct listener *l = &ls[i];
        ev_io_init(&l->io, server_accept_cb, l->fd, EV_READ);
        l->io.data = l;
        if (!srv->accept_paused)
            ev_io_start(srv->loop, &l->io);
    }
}

static void server_warn_noverify(const struct config *cfg)
{
    if (!cfg->upstream.tls.verify)
        log_warn("upstream.tls.verify is off: https origins are NOT authenticated");
    for (size_t i = 0; i < cfg->nroutes; i++)
        if (cfg->routes[i].origin_tls && !cfg->routes[i].tls_verify)
            log_warn("route %s -> %s: tls verify is off, the origin is NOT authenticated",
                     cfg->routes[i].host, cfg->routes[i].origin);
}

/*
 * Client TLS contexts for https origins, verifying and not. Connections in
 * flight keep the contexts they were made with (OpenSSL counts references).
 */
static int server_upstream_tls(struct server *srv, const struct config *cfg)
{
    char err[512];
    struct tls_ctx *v = tls_client_ctx_new(cfg->upstream.tls.ca_file, true, err, sizeof(err));
    if (!v) {
        log_error("upstream.tls.ca_file: %s", err);
        return -1;
    }
    struct tls_ctx *nv = tls_client_ctx_new(NULL, false, err, sizeof(err));
    if (!nv) {
        log_error("upstream TLS: %s", err);
        tls_ctx_free(v);
        return -1;
    }
    tls_ctx_free(srv->tls_verify);
    tls_ctx_free(srv->tls_noverify);
    srv->tls_verify = v;
    srv->tls_noverify = nv;
    server_warn_noverify(cfg);
    return 0;
}

static void server_pool_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct server *srv = w->data;
    pool_expire(srv->pool, ev_now(loop), srv->cfg->upstream.pool.idle_timeout);
}

static bool server_same_dns(const struct config *a, const struct config *b)
{
    if (a->dns.nservers != b->dns.nservers || a->dns.max_ttl != b->dns.max_ttl ||
        a->dns.timeout != b->dns.timeout)
        return false;
    for (size_t i = 0; i < a->dns.nservers; i++)
        if (strcmp(a->dns.servers[i], b->dns.servers[i]) != 0)
            return false;
    return true;
}

static void server_requery(struct server *srv)
{
    struct client *next;
    for (struct client *c = srv->clients; c; c = next) {
        next = c->next;
        if (c->state == CS_FETCH && c->ex->up.phase == UP_RESOLVE && c->ex->up.query)
            upstream_requery(c);
    }
}

/* The resolver for cfg: the running one when its settings stay, else a new one. */
static struct dns *server_reload_dns(struct server *srv, const struct config *cfg)
{
    if (server_same_dns(srv->cfg, cfg))
        return srv->dns;
    return dns_new(srv->loop, cfg->dns.servers, cfg->dns.nservers, cfg->dns.max_ttl,
                   cfg->dns.timeout);
}

static struct config *server_reload_load(const char *path)
{
    char *errs = NULL;
    size_t errlen = 0;
    FILE *ef = open_memstream(&errs, &errlen);
    struct config *cfg = ef ? config_load(path, ef) : NULL;
    if (ef)
        fclose(ef);
    if (!cfg)
        for (char *line = strtok(errs ? errs : "", "\n"); line; line = strtok(NULL, "\n"))
            log_error(RELOAD_FAILED "%s", line);
    free(errs);
    return cfg;
}

static void server_reload_cache(struct server *srv, const struct config *cfg)
{
    if (cfg->cache.enabled != srv->cfg->cache.enabled ||
        strcmp(cfg->cache.dir, srv->cfg->cache.dir) != 0 ||
        cfg->cache.max_size != srv->cfg->cache.max_size ||
        cfg->cache.max_object_size != srv->cfg->cache.max_object_size)
        log_warn("reload: cache.enabled, dir, max_size and max_object_size take effect at the "
                 "next start; the running store is kept");
    if (srv->store && cfg->cache.memory_size != srv->cfg->cache.memory_size) {
        /* copies being sent are reference counted: they outlive the old tier */
        if (store_set_memory(srv->store, cfg->cache.memory_size) < 0)
            log_error("reload: no memory for the memory tier; serving from disk only");
        else
            log_info("reload: cache.memory_size is now %llu bytes; the memory tier starts empty",
                     (unsigned long long)cfg->cache.memory_size);
    }
}

/*
 * Everything that can fail (parsing, listening, DNS, upstream TLS) is set
 * up before anything changes, so a failed reload leaves the running config
 * whole. 0, or -1 (logged).
 */
static int server_reload(struct server *srv)
{
    const char *path = srv->cfg->path;
    if (!path) {
        log_warn("reload: running on the embedded defaults, no file to reload");
        return -1;
    }
    struct config *cfg = server_reload_load(path);
    if (!cfg)
        return -1;
    struct listener *ls = server_prepare_listeners(srv, cfg);
    struct dns *dns = ls ? server_reload_dns(srv, cfg) : NULL;
    if (ls && !dns)
        log_error(RELOAD_FAILED "cannot set up DNS");
    if (dns && server_upstream_tls(srv, cfg) < 0) {
        log_error(RELOAD_FAILED "cannot set up upstream TLS");
        if (dns != srv->dns)
            dns_free(dns);
        dns = NULL;
    }
    if (!dns) {
        if (ls)
            server_discard_listeners(srv, ls, config_nlisteners(cfg));
        config_unref(&cfg);
        return -1;
    }
    if (dns != srv->dns) {
        struct dns *old = srv->dns;
        srv->dns = dns;
        server_requery(srv); /* lookups in flight move to the new resolver */
        dns_free(old);
    }
    server_commit_listeners(srv, ls, config_nlisteners(cfg));
    log_apply(cfg);
    server_fd_limit(cfg);
    server_reload_cache(srv, cfg);
    log_info("configuration reloaded from %s", path); /* path is the old config's */
    config_unref(&srv->cfg);
    srv->cfg = cfg;
    return 0;
}

/* ---- systemd: status and watchdog ---- */

static void server_status_text(const struct server *srv, char *out, size_t size)
{
    unsigned conns = srv->nclients - srv->nphantom;
    /* stopping first: the timer goes on through the drain */
    const char *note = srv->draining        ? "stopping: "
                       : srv->reload_failed ? "last reload failed, running the previous config; "
                                            : "";
    if (!srv->store) {
        snprintf(out, size, "%s%u connection%s, cache off", note, conns, conns == 1 ? "" : "s");
        return;
    }
    uint64_t objects, bytes;
    store_usage(srv->store, &objects, &bytes);
    snprintf(out, size, "%s%u connection%s, cache %llu object%s / %.1f MiB", note, conns,
             conns == 1 ? "" : "s", (unsigned long long)objects, objects == 1 ? "" : "s",
             (double)bytes / (1024. * 1024.));
}

/* READY=1 or STOPPING=1 (prefix "READY=1\n") with STATUS=, or a bare
   STATUS= when the text changed. */
static void server_status(struct server *srv, const char *prefix)
{
    char now[sizeof(srv->status)];
    server_status_text(srv, now, sizeof(now));
    if (!prefix && strcmp(now, srv->status) == 0)
        return;
    memcpy(srv->status, now, sizeof(now));
    notify_systemdf("%sSTATUS=%s", prefix ? prefix : "", now);
}

static void server_status_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    server_status(w->data, NULL);
}

/* From the loop: a loop stuck anywhere stops these and systemd restarts magpie. */
static void server_watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)w, (void)revents;
    notify_systemd("WATCHDOG=1");
}

static void server_systemd_timers(struct server *srv)
{
    unsigned long long usec =
        notify_watchdog_usec(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"), getpid());
    double every = notify_watchdog_every(usec);
    ev_timer_init(&srv->watchdog_timer, server_watchdog_cb, every, every);
    ev_timer_init(&srv->status_timer, server_status_cb, SERVER_STATUS_EVERY, SERVER_STATUS_EVERY);
    srv->watchdog_timer.data = srv->status_timer.data = srv;
    if (usec)
        ev_timer_start(srv->loop, &srv->watchdog_timer);
    const char *ns = getenv("NOTIFY_SOCKET");
    if (ns && *ns)
        ev_timer_start(srv->loop, &srv->status_timer);
}

/* ---- shutdown ---- */

static void server_stop(struct server *srv)
{
    ev_timer_stop(srv->loop, &srv->drain_timer);
    ev_timer_stop(srv->loop, &srv->accept_timer);
    ev_timer_stop(srv->loop, &srv->pool_timer);
    ev_timer_stop(srv->loop, &srv->watchdog_timer);
    ev_timer_stop(srv->loop, &srv->status_timer);
    ev_signal_stop(srv->loop, &srv->sig_hup);
    ev_signal_stop(srv->loop, &srv->sig_usr1);
    ev_signal_stop(srv->loop, &srv->sig_term);
    ev_signal_stop(srv->loop, &srv->sig_int);
    ev_check_stop(srv->loop, &srv->check_w);
    ev_break(srv->loop, EVBREAK_ALL);
}

void server_client_closed(struct server *srv)
{
    srv->nclients--;
    if (srv->draining && srv->nclients == 0) {
        log_info("all connections finished; exiting");
        server_stop(srv); /* server_free() frees the closed ones */
        return;
    }
    if (srv->accept_paused && !srv->draining &&
        srv->nclients < srv->cfg->limits.max_connections + SERVER_REJECT_SLACK &&
        !ev_is_active(&srv->accept_timer))
        server_pause_accept(srv, false);
    if (!ev_is_active(&srv->check_w))
        ev_check_start(srv->loop, &srv->check_w);
}

static void server_check_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    (void)loop, (void)revents;
    struct server *srv = w->data;
    while (srv->dead) {
        struct client *c = srv->dead;
        srv->dead = c->next;
        client_free(c);
    }
    ev_check_stop(srv->loop, &srv->check_w);
}

static void server_drain_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    struct server *srv = w->data;
    log_warn("shutdown timeout: closing %u connection(s) still open", srv->nclients);
    for (struct client *c = srv->clients; c; c = c->next)
        log_warn("#%llu %s: state %d, %s %s%s", c->id, c->addr_text, (int)c->state,
                 c->ex && c->ex->method ? c->ex->method : "-",
                 c->ex && c->ex->url ? c->ex->url : "(between requests)",
                 c->ex && c->ex->cx.role == ROLE_FOLLOWER ? " (following a fetch)" : "");
    while (srv->clients)
        client_close(srv->clients, CLOSE_SHUTDOWN_TIMEOUT, NULL);
}

static void server_drain(struct server *srv)
{
    if (srv->draining)
        return;
    srv->draining = true;
    server_status(srv, "STOPPING=1\n");
    log_info("shutting down: %u connection(s) to finish, at most %.3gs", srv->nclients,
             srv->cfg->limits.shutdown_timeout);
    server_close_proxy_listeners(srv);
    struct client *next;
    for (struct client *c = srv->clients; c; c = next) {
        next = c->next;
        client_drain_idle(c);
    }
    if (srv->nclients == 0) {
        log_info("no connections open; exiting");
        server_stop(srv);
        return;
    }
    ev_timer_set(&srv->drain_timer, srv->cfg->limits.shutdown_timeout, 0.);
    ev_timer_start(srv->loop, &srv->drain_timer);
}

static void server_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop, (void)revents;
    struct server *srv = w->data;
    switch (w->signum) {
    case SIGHUP:
        if (srv->draining) {
            log_info("SIGHUP while shutting down: not reloading");
            break;
        }
        log_info("SIGHUP: reloading");
        notify_reloading();
        srv->reload_failed = server_reload(srv) < 0;
        server_status(srv, "READY=1\n");
        break;
    case SIGUSR1:
        log_reopen();
        break;
    case SIGTERM:
    case SIGINT:
        server_drain(srv);
        break;
    default:
        break;
    }
}

static void server_signal(struct server *srv, ev_signal *w, int signum)
{
    ev_signal_init(w, server_signal_cb, signum);
    w->data = srv;
    ev_signal_start(srv->loop, w);
}

int server_init(struct server *srv, struct ev_loop *loop, struct config *cfg)
{
    memset(srv, 0, sizeof(*srv));
    srv->loop = loop;
    srv->cfg = config_ref(cfg);
    server_fd_limit(cfg);
    ev_init(&srv->accept_timer, server_accept_timer_cb);
    ev_init(&srv->drain_timer, server_drain_timeout_cb);
    ev_check_init(&srv->check_w, server_check_cb);
    srv->accept_timer.data = srv->drain_timer.data = srv->check_w.data = srv;
    srv->dns =
        dns_new(loop, cfg->dns.servers, cfg->dns.nservers, cfg->dns.max_ttl, cfg->dns.timeout);
    if (!srv->dns)
        return -1;
    srv->pool = pool_new(&upstream_pool_ops);
    if (!srv->pool)
        return -1;
    pool_set_data_free(srv->pool, upstream_session_free);
    ev_timer_init(&srv->pool_timer, server_pool_timer_cb, 1., 1.);
    srv->pool_timer.data = srv;
    ev_timer_start(loop, &srv->pool_timer);
    if (server_upstream_tls(srv, cfg) < 0)
        return -1;
    srv->store = cache_open(cfg);
    /* before listening: a SIGTERM sent once the port answers must drain,
       not kill (the watchers run from the loop, after this returns) */
    server_signal(srv, &srv->sig_hup, SIGHUP);
    server_signal(srv, &srv->sig_usr1, SIGUSR1);
    server_signal(srv, &srv->sig_term, SIGTERM);
    server_signal(srv, &srv->sig_int, SIGINT);
    server_systemd_timers(srv);
    return server_open_listeners(srv, cfg) < 0 ? -1 : 0;
}

int server_run(struct server *srv)
{
    server_status(srv, "READY=1\n");
    ev_run(srv->loop, 0);
    return srv->exit_code;
}

void server_free(struct server *srv)
{
    while (srv->clients)
        client_close(srv->clients, CLOSE_SHUTDOWN, "exit");
    while (srv->dead) {
        struct client *c = srv->dead;
        srv->dead = c->next;
        client_free(c);
    }
    server_close_listeners(srv);
    server_free_passed(srv);
    ev_timer_stop(srv->loop, &srv->pool_timer);
    ev_timer_stop(srv->loop, &srv->watchdog_timer);
    ev_timer_stop(srv->loop, &srv->status_timer);
    pool_free(srv->pool);
    srv->pool = NULL;
    cache_flights_free(srv);
    if (srv->store)
        store_close(srv->store);
    srv->store = NULL;
    tls_ctx_free(srv->tls_verify);
    tls_ctx_free(srv->tls_noverify);
    srv->tls_verify = srv->tls_noverify = NULL;
    if (srv->dns)
        dns_free(srv->dns);
    srv->dns = NULL;
    config_unref(&srv->cfg);
}
