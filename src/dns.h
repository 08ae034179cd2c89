/*
 * dns.h - non-blocking name resolution on the event loop (c-ares), with a
 * small cache whose entries live for the record TTL capped at dns.max_ttl.
 * IP literals never reach the resolver.
 */
#ifndef MAGPIE_DNS_H
#define MAGPIE_DNS_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DNS_MAX_ADDRS 8

struct dns_addrs {
    size_t n;
    struct sockaddr_storage addr[DNS_MAX_ADDRS]; /* port 0; the caller sets it */
    socklen_t len[DNS_MAX_ADDRS];
};

enum dns_status { DNS_OK, DNS_NOTFOUND, DNS_TIMEOUT, DNS_FAIL };

struct dns;
struct dns_query;
typedef void (*dns_cb)(void *arg, enum dns_status status, const struct dns_addrs *addrs);

/*
 * servers: "ip", "ip:port" or "[ip6]:port"; nservers 0 uses /etc/resolv.conf.
 * Returns NULL (and logs why) on failure.
 */
struct dns *dns_new(struct ev_loop *loop, char *const *servers, size_t nservers, double max_ttl,
                    double timeout);
void dns_free(struct dns *dns);

/*
 * Resolves host (a name or an IP literal, IPv6 without brackets).
 * Returns NULL after filling *out when the answer is known at once (literal,
 * cached, or an immediate failure, which leaves out->n == 0 and sets
 * *status): the callback is then never called. Otherwise returns a pending
 * query whose callback runs exactly once from the loop, unless cancelled;
 * the callback's addrs is valid only during the call.
 */
struct dns_query *dns_resolve(struct dns *dns, const char *host, struct dns_addrs *out,
                              enum dns_status *status, dns_cb cb, void *arg);
/* The callback will not run; safe until the callback has started. */
void dns_cancel(struct dns_query *q);
const char *dns_strstatus(enum dns_status status);

/* For GET /metrics. */
struct dns_stats {
    uint64_t queries;    /* lookups handed to c-ares (one per name in flight) */
    uint64_t cache_hits; /* names answered from the cache, "no such host" too */
    uint64_t failures;   /* lookups answered with an error, and waits given up at the timeout */
};
const struct dns_stats *dns_stats(const struct dns *dns);

#endif
