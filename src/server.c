/*
 * server.c - listeners and accept, the live configuration (reload on
 * SIGHUP), log reopening (SIGUSR1), graceful shutdown (SIGTERM/SIGINT:
 * stop accepting, let requests in flight finish, bounded by
 * limits.shutdown_timeout) and the deferred free of closed connections.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns.h"
#include "log.h"
#include "notify.h"
#include "pool.h"
#include "proxy.h"
#include "tls.h"

#define SERVER_BACKLOG 1024
#define SERVER_ACCEPT_BATCH 64
#define SERVER_REJECT_SLACK 64 /* refused-with-503 connections on top of the limit */

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
                 (unsigned long long)cur, (unsigned long long)want,
                 cfg->limits.max_connections);
}

static void server_accept_cb(struct ev_loop *loop, ev_io *w, int revents);

static int server_bind(const struct cfg_listen *l)
{
    int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (l->addr.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
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
        client_accept(srv, fd, (struct sockaddr *)&ss, len, l->tls);
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

static int server_open_listeners(struct server *srv, const struct config *cfg)
{
    srv->listeners = calloc(cfg->nlisten, sizeof(*srv->listeners));
    if (!srv->listeners)
        return -1;
    for (size_t i = 0; i < cfg->nlisten; i++) {
        struct listener *l = &srv->listeners[i];
        l->srv = srv;
        l->addr = cfg->listen[i];
        l->fd = -1;
        srv->nlisteners++;
        /* certificates first: sockets then open back to back */
        if (server_listener_tls(l) < 0)
            return -1;
    }
    for (size_t i = 0; i < cfg->nlisten; i++) {
        struct listener *l = &srv->listeners[i];
        l->fd = server_bind(&cfg->listen[i]);
        if (l->fd < 0) {
            log_error("cannot listen on %s: %s", l->addr.text, strerror(errno));
            return -1;
        }
        ev_io_init(&l->io, server_accept_cb, l->fd, EV_READ);
        l->io.data = l;
        ev_io_start(srv->loop, &l->io);
        log_info("listening on %s", l->addr.text);
    }
    return 0;
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

/*
 * Listeners for the new config. Sockets on addresses kept stay open (no
 * connection is refused during a reload); TLS certificates are read anew,
 * so a reload rotates them.
 */
static int server_rebind(struct server *srv, const struct config *cfg)
{
    struct server tmp = {.loop = srv->loop};
    struct listener *old = srv->listeners;
    size_t nold = srv->nlisteners;
    tmp.listeners = calloc(cfg->nlisten, sizeof(*tmp.listeners));
    if (!tmp.listeners)
        return -1;
    for (size_t i = 0; i < cfg->nlisten; i++) {
        struct listener *l = &tmp.listeners[i];
        l->srv = srv;
        l->addr = cfg->listen[i];
        l->fd = -1;
        for (size_t j = 0; j < nold; j++) {
            if (old[j].fd >= 0 && old[j].addr.addrlen == l->addr.addrlen &&
                memcmp(&old[j].addr.addr, &l->addr.addr, l->addr.addrlen) == 0) {
                ev_io_stop(srv->loop, &old[j].io);
                l->fd = old[j].fd;
                old[j].fd = -1;
            }
        }
        if (l->fd < 0)
            l->fd = server_bind(&l->addr);
        tmp.nlisteners++;
        if (l->fd < 0) {
            log_error("reload: cannot listen on %s: %s", l->addr.text, strerror(errno));
            continue;
        }
        if (server_listener_tls(l) < 0) {
            close(l->fd);
            l->fd = -1;
            continue;
        }
        ev_io_init(&l->io, server_accept_cb, l->fd, EV_READ);
        l->io.data = l;
    }
    server_close_listeners(srv);
    srv->listeners = tmp.listeners;
    srv->nlisteners = tmp.nlisteners;
    srv->accept_paused = true;
    server_pause_accept(srv, false);
    return 0;
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

static void server_reload(struct server *srv)
{
    const char *path = srv->cfg->path;
    if (!path) {
        log_warn("reload: running on the embedded defaults, no file to reload");
        return;
    }
    char *errs = NULL;
    size_t errlen = 0;
    FILE *ef = open_memstream(&errs, &errlen);
    struct config *cfg = ef ? config_load(path, ef) : NULL;
    if (ef)
        fclose(ef);
    if (!cfg) {
        for (char *line = strtok(errs ? errs : "", "\n"); line; line = strtok(NULL, "\n"))
            log_error("reload failed, keeping the running config: %s", line);
        free(errs);
        return;
    }
    free(errs);
    if (!server_same_dns(srv->cfg, cfg)) {
        struct dns *dns = dns_new(srv->loop, cfg->dns.servers, cfg->dns.nservers,
                                  cfg->dns.max_ttl, cfg->dns.timeout);
        if (!dns) {
            log_error("reload failed, keeping the running config: cannot set up DNS");
            config_unref(&cfg);
            return;
        }
        struct dns *old = srv->dns;
        srv->dns = dns;
        server_requery(srv); /* lookups in flight move to the new resolver */
        dns_free(old);
    }
    if (server_upstream_tls(srv, cfg) < 0) {
        log_error("reload failed, keeping the running config: cannot set up upstream TLS");
        config_unref(&cfg);
        return;
    }
    server_rebind(srv, cfg);
    log_apply(cfg);
    server_fd_limit(cfg);
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
    log_info("configuration reloaded from %s", path); /* path is the old config's */
    config_unref(&srv->cfg);
    srv->cfg = cfg;
}

/* ---- shutdown ---- */

static void server_stop(struct server *srv)
{
    ev_timer_stop(srv->loop, &srv->drain_timer);
    ev_timer_stop(srv->loop, &srv->accept_timer);
    ev_timer_stop(srv->loop, &srv->pool_timer);
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
        client_close(srv->clients, "shutdown timeout");
}

static void server_drain(struct server *srv)
{
    if (srv->draining)
        return;
    srv->draining = true;
    notify_systemd("STOPPING=1");
    log_info("shutting down: %u connection(s) to finish, at most %.3gs", srv->nclients,
             srv->cfg->limits.shutdown_timeout);
    server_close_listeners(srv);
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
        log_info("SIGHUP: reloading");
        notify_systemd("RELOADING=1");
        server_reload(srv);
        notify_systemd("READY=1");
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
    srv->dns = dns_new(loop, cfg->dns.servers, cfg->dns.nservers, cfg->dns.max_ttl,
                       cfg->dns.timeout);
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
    return server_open_listeners(srv, cfg) < 0 ? -1 : 0;
}

int server_run(struct server *srv)
{
    ev_run(srv->loop, 0);
    return srv->exit_code;
}

void server_free(struct server *srv)
{
    while (srv->clients)
        client_close(srv->clients, "exit");
    while (srv->dead) {
        struct client *c = srv->dead;
        srv->dead = c->next;
        client_free(c);
    }
    server_close_listeners(srv);
    ev_timer_stop(srv->loop, &srv->pool_timer);
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
