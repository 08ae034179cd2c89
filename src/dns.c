/*
 * dns.c - non-blocking name resolution: c-ares driven by the libev loop,
 * plus a small TTL cache. Nothing here blocks; getaddrinfo is never called.
 *
 * c-ares tells us which sockets it wants watched through its sock-state
 * callback (one ev_io per socket, dns_sock_*) and how long until its next
 * retry through ares_timeout() (one ev_timer, dns_ares_timer_*). A lookup
 * (struct dns_lookup) is one ares_getaddrinfo() call for one lower-cased
 * host; callers wait on it through a struct dns_query, which has its own
 * timer bounding the whole resolution by dns->timeout. Concurrent resolves
 * of the same host share one young lookup. Cancelling or timing out a
 * query frees it at once; the lookup lives on until c-ares calls back
 * (c-ares has no per-query cancel), then fills the cache and is freed.
 *
 * Addresses: IPv4 and IPv6 interleaved, IPv4 first (v4, v6, v4, ...), so a
 * host without IPv6 connectivity succeeds on the first address while a
 * dual-stack origin still gets an IPv6 fallback early in the list.
 *
 * Cache: a hash table keyed by the lower-cased host with an LRU list, at
 * most DNS_CACHE_MAX entries. Answers live min(record TTL, max_ttl);
 * "no such host" lives min(max_ttl, DNS_NEG_TTL); max_ttl 0 disables it.
 *
 * Search domains are never appended (like Squid's "dns_defnames off"): a
 * proxy gets absolute names from URLs, and a stray search suffix would
 * send origin names to whatever zone resolv.conf happens to list.
 *
 * Not supported: calling dns_free() from inside a dns callback (the lookup
 * callback runs inside c-ares, which cannot destroy its channel there).
 */
#include "dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "hash.h"
#include "log.h"

#define DNS_CACHE_MAX 1024
#define DNS_CACHE_BUCKETS 1024 /* power of two */
#define DNS_NEG_TTL 5.0        /* seconds, cap for cached "no such host" */
#define DNS_DEFAULT_TIMEOUT 5.0
#define DNS_TRIES 3
#define DNS_TRY_MIN_MS 100
#define DNS_TRY_MAX_MS 5000
#define DNS_HOST_MAX 253
#define DNS_LABEL_MAX 63
#define DNS_DEFAULT_PORT 53

struct dns_entry {
    struct dns_entry *hnext;    /* hash chain */
    TAILQ_ENTRY(dns_entry) lru; /* head: most recently used */
    uint32_t hash;
    double expires;         /* ev_now() time */
    enum dns_status status; /* DNS_OK or DNS_NOTFOUND */
    struct dns_addrs addrs;
    char host[]; /* lower case */
};

struct dns_lookup;

/* What dns_resolve() hands out; owned by the caller until cb or cancel. */
struct dns_query {
    LIST_ENTRY(dns_query) link; /* in lookup->waiters */
    struct dns_lookup *lookup;
    ev_timer timer; /* whole-resolution bound */
    dns_cb cb;
    void *arg;
};

/* One ares_getaddrinfo() call; freed only from its c-ares callback. */
struct dns_lookup {
    LIST_ENTRY(dns_lookup) link; /* in dns->inflight iff indexed */
    bool indexed;
    bool starting; /* inside ares_getaddrinfo(): a callback now is synchronous */
    bool done;     /* answered synchronously: status and addrs are set */
    struct dns *dns;
    LIST_HEAD(, dns_query) waiters;
    double started;
    enum dns_status status;
    struct dns_addrs addrs;
    char host[]; /* lower case */
};

/* One c-ares socket watched on the loop. */
struct dns_sock {
    ev_io io;
    struct dns_sock *next;
};

struct dns {
    struct ev_loop *loop;
    ares_channel channel;
    ev_timer ares_timer; /* c-ares retransmissions */
    struct dns_sock *socks;
    double max_ttl;
    double timeout;
    LIST_HEAD(, dns_lookup) inflight;
    struct dns_entry *buckets[DNS_CACHE_BUCKETS];
    TAILQ_HEAD(dns_entry_lru, dns_entry) lru;
    size_t ncache;
    struct dns_stats stats;
};

static const struct dns_addrs dns_no_addrs;

const char *dns_strstatus(enum dns_status status)
{
    switch (status) {
    case DNS_OK:
        return "ok";
    case DNS_NOTFOUND:
        return "host not found";
    case DNS_TIMEOUT:
        return "timed out";
    case DNS_FAIL:
        return "resolver failure";
    }
    return "resolver failure";
}

static enum dns_status dns_map_status(int status)
{
    switch (status) {
    case ARES_SUCCESS:
        return DNS_OK;
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
        return DNS_NOTFOUND;
    case ARES_ETIMEOUT:
        return DNS_TIMEOUT;
    default:
        return DNS_FAIL;
    }
}

/* ---- c-ares <-> libev glue ---- */

static void dns_ares_timer_update(struct dns *dns)
{
    struct timeval tv;

    ev_timer_stop(dns->loop, &dns->ares_timer);
    if (ares_timeout(dns->channel, NULL, &tv) == NULL)
        return;
    ev_timer_set(&dns->ares_timer, (double)tv.tv_sec + (double)tv.tv_usec / 1e6, 0.);
    ev_timer_start(dns->loop, &dns->ares_timer);
}

static void dns_ares_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct dns *dns = w->data;

    (void)loop;
    (void)revents;
    ares_process_fd(dns->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    dns_ares_timer_update(dns);
}

static void dns_sock_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct dns *dns = w->data;
    ares_socket_t fd = w->fd;

    (void)loop;
    ares_process_fd(dns->channel, (revents & EV_READ) ? fd : ARES_SOCKET_BAD,
                    (revents & EV_WRITE) ? fd : ARES_SOCKET_BAD);
    dns_ares_timer_update(dns);
}

static struct dns_sock **dns_sock_find(struct dns *dns, ares_socket_t fd)
{
    struct dns_sock **pp;

    for (pp = &dns->socks; *pp != NULL; pp = &(*pp)->next)
        if ((*pp)->io.fd == fd)
            break;
    return pp;
}

/* ARES_OPT_SOCK_STATE_CB: c-ares opened, re-armed or is closing a socket. */
static void dns_sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    struct dns *dns = data;
    struct dns_sock **pp = dns_sock_find(dns, fd);
    struct dns_sock *s = *pp;

    if (s != NULL) {
        ev_io_stop(dns->loop, &s->io);
        if (!readable && !writable) {
            *pp = s->next;
            free(s);
            return;
        }
    } else {
        if (!readable && !writable)
            return;
        s = calloc(1, sizeof(*s));
        if (s == NULL) {
            /* The query will time out; nothing better to do here. */
            log_error("dns: out of memory watching a resolver socket");
            return;
        }
        s->next = dns->socks;
        dns->socks = s;
    }
    ev_io_init(&s->io, dns_sock_cb, fd, (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
    s->io.data = dns;
    ev_io_start(dns->loop, &s->io);
}

/* ---- host names ---- */

static uint32_t dns_hash(const char *s)
{
    return (uint32_t)hash_fnv1a(s, 0);
}

/* ASCII only, whatever the locale. */
static bool dns_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool dns_label_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || dns_digit(c) || c == '-' || c == '_';
}

/*
 * Letters, digits, '-', '_' in dot-separated labels of 1..63 bytes, at most
 * 253 bytes in all (one trailing dot allowed). A name of only digits and
 * dots that inet_pton() rejected ("127.1") is refused too, rather than
 * left to the resolver's inet_aton() interpretation.
 */
static bool dns_valid_name(const char *host)
{
    size_t len = strlen(host), label = 0, i;
    bool numeric = true;

    if (len == 0 || len > DNS_HOST_MAX + (host[len - 1] == '.'))
        return false;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)host[i];

        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!dns_label_char(c) || ++label > DNS_LABEL_MAX)
            return false;
        if (!dns_digit(c))
            numeric = false;
    }
    return !numeric;
}

/* Fills out with host as an IPv4 or IPv6 literal; false if it is not one. */
static bool dns_literal(const char *host, struct dns_addrs *out)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};

    if (inet_pton(AF_INET, host, &sin.sin_addr) == 1) {
        memcpy(&out->addr[0], &sin, sizeof(sin));
        out->len[0] = sizeof(sin);
    } else if (inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1) {
        memcpy(&out->addr[0], &sin6, sizeof(sin6));
        out->len[0] = sizeof(sin6);
    } else {
        return false;
    }
    out->n = 1;
    return true;
}

/* ---- cache ---- */

static void dns_cache_remove(struct dns *dns, struct dns_entry *e)
{
    struct dns_entry **pp = &dns->buckets[e->hash & (DNS_CACHE_BUCKETS - 1)];

    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    TAILQ_REMOVE(&dns->lru, e, lru);
    dns->ncache--;
    free(e);
}

/* The live entry for host, made most recently used; expired ones go. */
static struct dns_entry *dns_cache_get(struct dns *dns, const char *host)
{
    uint32_t h = dns_hash(host);
    struct dns_entry *e = dns->buckets[h & (DNS_CACHE_BUCKETS - 1)];

    while (e != NULL && (e->hash != h || strcmp(e->host, host) != 0))
        e = e->hnext;
    if (e == NULL)
        return NULL;
    if (e->expires <= ev_now(dns->loop)) {
        dns_cache_remove(dns, e);
        return NULL;
    }
    TAILQ_REMOVE(&dns->lru, e, lru);
    TAILQ_INSERT_HEAD(&dns->lru, e, lru);
    return e;
}

static void dns_cache_put(struct dns *dns, const char *host, enum dns_status status,
                          const struct dns_addrs *addrs, double ttl)
{
    size_t len = strlen(host);
    struct dns_entry *e, **bucket;

    if (ttl <= 0)
        return;
    if ((e = dns_cache_get(dns, host)) != NULL)
        dns_cache_remove(dns, e);
    if (dns->ncache >= DNS_CACHE_MAX)
        dns_cache_remove(dns, TAILQ_LAST(&dns->lru, dns_entry_lru));
    if ((e = malloc(sizeof(*e) + len + 1)) == NULL)
        return; /* not caching is always correct */
    memcpy(e->host, host, len + 1);
    e->hash = dns_hash(host);
    e->expires = ev_now(dns->loop) + ttl;
    e->status = status;
    e->addrs = *addrs;
    bucket = &dns->buckets[e->hash & (DNS_CACHE_BUCKETS - 1)];
    e->hnext = *bucket;
    *bucket = e;
    TAILQ_INSERT_HEAD(&dns->lru, e, lru);
    dns->ncache++;
}

static void dns_cache_clear(struct dns *dns)
{
    while (!TAILQ_EMPTY(&dns->lru))
        dns_cache_remove(dns, TAILQ_FIRST(&dns->lru));
}

/* ---- answers ---- */

static void dns_addrs_push(struct dns_addrs *out, const struct ares_addrinfo_node *ai)
{
    size_t len = (size_t)ai->ai_addrlen;

    if (len > sizeof(out->addr[0]))
        return;
    memset(&out->addr[out->n], 0, sizeof(out->addr[0]));
    memcpy(&out->addr[out->n], ai->ai_addr, len);
    if (ai->ai_family == AF_INET)
        ((struct sockaddr_in *)&out->addr[out->n])->sin_port = 0;
    else
        ((struct sockaddr_in6 *)&out->addr[out->n])->sin6_port = 0;
    out->len[out->n++] = (socklen_t)len;
}

/* The next node of family af at or after ai, or NULL. */
static const struct ares_addrinfo_node *dns_next_family(const struct ares_addrinfo_node *ai, int af)
{
    while (ai != NULL && ai->ai_family != af)
        ai = ai->ai_next;
    return ai;
}

/* Interleaves IPv4 and IPv6 (IPv4 first) into out, up to DNS_MAX_ADDRS. */
static void dns_addrs_from(struct dns_addrs *out, const struct ares_addrinfo *res)
{
    const struct ares_addrinfo_node *v4 = dns_next_family(res->nodes, AF_INET);
    const struct ares_addrinfo_node *v6 = dns_next_family(res->nodes, AF_INET6);

    out->n = 0;
    while ((v4 != NULL || v6 != NULL) && out->n < DNS_MAX_ADDRS) {
        if (v4 != NULL) {
            dns_addrs_push(out, v4);
            v4 = dns_next_family(v4->ai_next, AF_INET);
        }
        if (v6 != NULL && out->n < DNS_MAX_ADDRS) {
            dns_addrs_push(out, v6);
            v6 = dns_next_family(v6->ai_next, AF_INET6);
        }
    }
}

/* Smallest TTL over the addresses and CNAMEs, in seconds (0 if none). */
static double dns_min_ttl(const struct ares_addrinfo *res)
{
    const struct ares_addrinfo_node *ai;
    const struct ares_addrinfo_cname *cn;
    int ttl = -1;

    for (ai = res->nodes; ai != NULL; ai = ai->ai_next)
        if (ttl < 0 || ai->ai_ttl < ttl)
            ttl = ai->ai_ttl;
    for (cn = res->cnames; cn != NULL; cn = cn->next)
        if (ttl < 0 || cn->ttl < ttl)
            ttl = cn->ttl;
    return ttl > 0 ? (double)ttl : 0.;
}

/* Fills the cache from one finished lookup. */
static void dns_cache_answer(struct dns *dns, const struct dns_lookup *l, double ttl)
{
    if (l->status == DNS_OK)
        ttl = ttl < dns->max_ttl ? ttl : dns->max_ttl;
    else if (l->status == DNS_NOTFOUND)
        ttl = dns->max_ttl < DNS_NEG_TTL ? dns->max_ttl : DNS_NEG_TTL;
    else
        return;
    dns_cache_put(dns, l->host, l->status, &l->addrs, ttl);
}

/* ---- queries and lookups ---- */

static void dns_lookup_unindex(struct dns_lookup *l)
{
    if (l->indexed)
        LIST_REMOVE(l, link);
    l->indexed = false;
}

/* Detaches q and frees it; the caller already copied cb and arg. */
static void dns_query_free(struct dns_query *q)
{
    LIST_REMOVE(q, link);
    ev_timer_stop(q->lookup->dns->loop, &q->timer);
    free(q);
}

static void dns_query_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct dns_query *q = w->data;
    dns_cb cb = q->cb;
    void *arg = q->arg;

    (void)loop;
    (void)revents;
    log_debug("dns: %s: %s", q->lookup->host, dns_strstatus(DNS_TIMEOUT));
    q->lookup->dns->stats.failures++;
    dns_query_free(q);
    cb(arg, DNS_TIMEOUT, &dns_no_addrs);
}

void dns_cancel(struct dns_query *q)
{
    if (q != NULL)
        dns_query_free(q);
}

/*
 * Each waiter is detached and freed before its callback runs, so a callback
 * may resolve (the lookup is already out of the index) or cancel others.
 */
static void dns_lookup_deliver(struct dns_lookup *l)
{
    struct dns_query *q;

    while ((q = LIST_FIRST(&l->waiters)) != NULL) {
        dns_cb cb = q->cb;
        void *arg = q->arg;

        dns_query_free(q);
        cb(arg, l->status, &l->addrs);
    }
}

/* ares_getaddrinfo() completion; the one place a lookup is freed. */
static void dns_lookup_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    struct dns_lookup *l = arg;
    double ttl = 0.;

    (void)timeouts;
    if (status == ARES_EDESTRUCTION) { /* dns_free(): waiters are gone */
        if (res != NULL)
            ares_freeaddrinfo(res);
        dns_lookup_unindex(l);
        free(l);
        return;
    }
    l->status = dns_map_status(status);
    l->addrs.n = 0;
    if (res != NULL && status == ARES_SUCCESS) {
        dns_addrs_from(&l->addrs, res);
        ttl = dns_min_ttl(res);
        if (l->addrs.n == 0)
            l->status = DNS_NOTFOUND;
    }
    if (res != NULL)
        ares_freeaddrinfo(res);
    log_debug("dns: %s: %s (%zu addresses, c-ares: %s)", l->host, dns_strstatus(l->status),
              l->addrs.n, ares_strerror(status));
    dns_lookup_unindex(l);
    if (l->status != DNS_OK)
        l->dns->stats.failures++;
    dns_cache_answer(l->dns, l, ttl);
    if (l->starting) { /* dns_resolve() picks the answer up and frees l */
        l->done = true;
        return;
    }
    dns_lookup_deliver(l);
    free(l);
}

/* A recent lookup for host to share: only when it has time left to run. */
static struct dns_lookup *dns_lookup_find(struct dns *dns, const char *host)
{
    struct dns_lookup *l;
    double now = ev_now(dns->loop);

    for (l = LIST_FIRST(&dns->inflight); l != NULL; l = LIST_NEXT(l, link))
        if (strcmp(l->host, host) == 0 && now - l->started < dns->timeout / 2)
            return l;
    return NULL;
}

/*
 * Starts a lookup. Returns NULL on allocation failure, or the lookup, which
 * is either done (answered synchronously, e.g. from /etc/hosts: the caller
 * frees it) or indexed and in flight.
 */
static struct dns_lookup *dns_lookup_start(struct dns *dns, const char *host)
{
    struct ares_addrinfo_hints hints = {
        .ai_flags = ARES_AI_NOSORT,
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
    };
    size_t len = strlen(host);
    struct dns_lookup *l = calloc(1, sizeof(*l) + len + 1);

    if (l == NULL)
        return NULL;
    memcpy(l->host, host, len + 1);
    l->dns = dns;
    l->started = ev_now(dns->loop);
    LIST_INIT(&l->waiters);
    l->starting = true;
    dns->stats.queries++;
    ares_getaddrinfo(dns->channel, host, NULL, &hints, dns_lookup_cb, l);
    l->starting = false;
    if (!l->done) {
        LIST_INSERT_HEAD(&dns->inflight, l, link);
        l->indexed = true;
        dns_ares_timer_update(dns);
    }
    return l;
}

static struct dns_query *dns_query_new(struct dns *dns, dns_cb cb, void *arg)
{
    struct dns_query *q = calloc(1, sizeof(*q));

    if (q == NULL)
        return NULL;
    q->cb = cb;
    q->arg = arg;
    ev_timer_init(&q->timer, dns_query_timeout_cb, dns->timeout, 0.);
    q->timer.data = q;
    return q;
}

static void dns_query_attach(struct dns *dns, struct dns_query *q, struct dns_lookup *l)
{
    q->lookup = l;
    LIST_INSERT_HEAD(&l->waiters, q, link);
    ev_timer_start(dns->loop, &q->timer);
}

/* Lower-cases host into key (DNS_HOST_MAX + 2 bytes); the name is valid. */
static void dns_key(char *key, const char *host)
{
    size_t i;

    for (i = 0; host[i] != '\0'; i++)
        key[i] = host[i] >= 'A' && host[i] <= 'Z' ? (char)(host[i] - 'A' + 'a') : host[i];
    key[i] = '\0';
}

/* The answers known without waiting: literal, invalid or cached. */
static bool dns_resolve_now(struct dns *dns, const char *host, const char *key,
                            struct dns_addrs *out, enum dns_status *status)
{
    struct dns_entry *e;

    if (dns_literal(host, out)) {
        *status = DNS_OK;
        return true;
    }
    if (key == NULL) {
        *status = DNS_NOTFOUND;
        return true;
    }
    if ((e = dns_cache_get(dns, key)) == NULL)
        return false;
    dns->stats.cache_hits++;
    *status = e->status;
    *out = e->addrs;
    return true;
}

struct dns_query *dns_resolve(struct dns *dns, const char *host, struct dns_addrs *out,
                              enum dns_status *status, dns_cb cb, void *arg)
{
    char key[DNS_HOST_MAX + 2];
    struct dns_lookup *l;
    struct dns_query *q;
    bool valid = dns_valid_name(host);

    out->n = 0;
    if (valid)
        dns_key(key, host);
    if (dns_resolve_now(dns, host, valid ? key : NULL, out, status))
        return NULL;
    *status = DNS_FAIL;
    if ((q = dns_query_new(dns, cb, arg)) == NULL)
        return NULL;
    if ((l = dns_lookup_find(dns, key)) == NULL && (l = dns_lookup_start(dns, key)) == NULL) {
        free(q);
        return NULL;
    }
    if (l->done) {
        *status = l->status;
        *out = l->addrs;
        free(l);
        free(q);
        return NULL;
    }
    dns_query_attach(dns, q, l);
    return q;
}

const struct dns_stats *dns_stats(const struct dns *dns)
{
    return &dns->stats;
}

/* ---- channel ---- */

/*
 * Parses "ip", "ip:port" or "[ip6]:port" (a bare IPv6 literal also works)
 * into node. Returns false on a malformed entry.
 */
static bool dns_parse_server(const char *s, struct ares_addr_port_node *node)
{
    char ip[INET6_ADDRSTRLEN + 1];
    const char *port = NULL, *end;
    size_t len;
    long p = DNS_DEFAULT_PORT;

    if (s[0] == '[') {
        if ((end = strchr(s, ']')) == NULL || (end[1] != '\0' && end[1] != ':'))
            return false;
        port = end[1] == ':' ? end + 2 : NULL;
        s++;
    } else if ((end = strchr(s, ':')) != NULL && strchr(end + 1, ':') == NULL) {
        port = end + 1; /* exactly one colon: IPv4 with a port */
    } else {
        end = s + strlen(s);
    }
    if ((len = (size_t)(end - s)) == 0 || len >= sizeof(ip))
        return false;
    memcpy(ip, s, len);
    ip[len] = '\0';
    if (port != NULL) {
        char *stop;

        p = strtol(port, &stop, 10);
        if (*port == '\0' || *stop != '\0' || p < 1 || p > 65535)
            return false;
    }
    node->udp_port = node->tcp_port = (int)p;
    if (inet_pton(AF_INET, ip, &node->addr.addr4) == 1)
        node->family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &node->addr.addr6) == 1)
        node->family = AF_INET6;
    else
        return false;
    return true;
}

static int dns_set_servers(struct dns *dns, char *const *servers, size_t nservers)
{
    struct ares_addr_port_node *nodes = calloc(nservers, sizeof(*nodes));
    int rc = -1, arc;
    size_t i;

    if (nodes == NULL) {
        log_error("dns: out of memory");
        return -1;
    }
    for (i = 0; i < nservers; i++) {
        if (!dns_parse_server(servers[i], &nodes[i])) {
            log_error("dns: bad server \"%s\" (want ip, ip:port or [ip6]:port)", servers[i]);
            goto out;
        }
        nodes[i].next = i + 1 < nservers ? &nodes[i + 1] : NULL;
    }
    if ((arc = ares_set_servers_ports(dns->channel, nodes)) != ARES_SUCCESS) {
        log_error("dns: cannot set servers: %s", ares_strerror(arc));
        goto out;
    }
    rc = 0;
out:
    free(nodes);
    return rc;
}

/*
 * Per-try timeout: a quarter of the whole budget, so that with one server
 * the first two tries (c-ares doubles the wait each round) fit in it.
 */
static int dns_init_channel(struct dns *dns)
{
    struct ares_options opts;
    int rc, ms = (int)(dns->timeout * 1000 / 4);

    memset(&opts, 0, sizeof(opts));
    opts.flags = ARES_FLAG_NOSEARCH;
    opts.timeout = ms < DNS_TRY_MIN_MS ? DNS_TRY_MIN_MS : ms > DNS_TRY_MAX_MS ? DNS_TRY_MAX_MS : ms;
    opts.tries = DNS_TRIES;
    opts.ndomains = 0;
    opts.domains = NULL;
    opts.lookups = (char *)"fb";
    opts.sock_state_cb = dns_sock_state_cb;
    opts.sock_state_cb_data = dns;
    rc = ares_init_options(&dns->channel, &opts,
                           ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_DOMAINS |
                               ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB);
    if (rc != ARES_SUCCESS) {
        log_error("dns: cannot initialise c-ares: %s", ares_strerror(rc));
        return -1;
    }
    return 0;
}

struct dns *dns_new(struct ev_loop *loop, char *const *servers, size_t nservers, double max_ttl,
                    double timeout)
{
    struct dns *dns;
    int rc;

    if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
        log_error("dns: cannot initialise c-ares: %s", ares_strerror(rc));
        return NULL;
    }
    if ((dns = calloc(1, sizeof(*dns))) == NULL) {
        log_error("dns: out of memory");
        ares_library_cleanup();
        return NULL;
    }
    dns->loop = loop;
    dns->max_ttl = max_ttl > 0 ? max_ttl : 0.;
    dns->timeout = timeout > 0 ? timeout : DNS_DEFAULT_TIMEOUT;
    LIST_INIT(&dns->inflight);
    TAILQ_INIT(&dns->lru);
    ev_timer_init(&dns->ares_timer, dns_ares_timer_cb, 0., 0.);
    dns->ares_timer.data = dns;
    if (dns_init_channel(dns) < 0) {
        free(dns);
        ares_library_cleanup();
        return NULL;
    }
    if (nservers > 0 && dns_set_servers(dns, servers, nservers) < 0) {
        dns_free(dns);
        return NULL;
    }
    return dns;
}

/*
 * Frees every waiting query without calling it, then destroys the channel:
 * c-ares calls each lookup back with ARES_EDESTRUCTION, which frees it, and
 * closes its sockets through dns_sock_state_cb.
 */
void dns_free(struct dns *dns)
{
    struct dns_lookup *l;
    struct dns_sock *s;

    if (dns == NULL)
        return;
    for (l = LIST_FIRST(&dns->inflight); l != NULL; l = LIST_NEXT(l, link))
        while (!LIST_EMPTY(&l->waiters))
            dns_query_free(LIST_FIRST(&l->waiters));
    ares_destroy(dns->channel);
    while ((s = dns->socks) != NULL) {
        dns->socks = s->next;
        ev_io_stop(dns->loop, &s->io);
        free(s);
    }
    ev_timer_stop(dns->loop, &dns->ares_timer);
    dns_cache_clear(dns);
    free(dns);
    ares_library_cleanup();
}
