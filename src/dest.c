/*
 * dest.c - the destination policy of forward mode (see dest.h): a fixed
 * table of ranges no client may reach through magpie, magpie's own
 * listeners, then the operator's acl.deny_destinations and
 * acl.allow_destinations. Called for every address upstream.c is about to
 * connect to and for every pooled connection a forward request reuses.
 */
#include "dest.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "cfgval.h"
#include "url.h"

static const struct {
    const char *cidr;
    const char *why;
} dest_builtin[] = {
    /* most specific first: the first match names the reason */
    {"169.254.169.254/32", "link-local / cloud metadata"},
    {"fd00:ec2::254/128", "cloud metadata"},
    {"100.100.100.200/32", "cloud metadata"},
    {"192.0.0.192/32", "cloud metadata"},
    {"169.254.0.0/16", "link-local"},
    {"fe80::/10", "link-local"},
    {"0.0.0.0/8", "unspecified (this host)"},
    {"::/128", "unspecified (this host)"},
};

#define DEST_NBUILTIN (sizeof(dest_builtin) / sizeof(dest_builtin[0]))

/* One address family and its bytes, IPv4-mapped IPv6 turned into IPv4. */
struct dest_addr {
    int family;
    uint8_t a[16];
    uint16_t port;
    struct sockaddr_storage ss; /* the same, as a sockaddr for cfgval */
};

static bool dest_normalize(const struct sockaddr *sa, struct dest_addr *d)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    struct sockaddr_in sin = {0};
    struct sockaddr_in6 sin6;

    memset(d, 0, sizeof(*d));
    if (sa->sa_family == AF_INET) {
        memcpy(&sin, sa, sizeof(sin));
    } else if (sa->sa_family == AF_INET6) {
        memcpy(&sin6, sa, sizeof(sin6));
        if (memcmp(&sin6.sin6_addr, mapped, sizeof(mapped)) != 0) {
            d->family = AF_INET6;
            memcpy(d->a, &sin6.sin6_addr, 16);
            d->port = ntohs(sin6.sin6_port);
            memcpy(&d->ss, &sin6, sizeof(sin6));
            return true;
        }
        sin.sin_family = AF_INET;
        sin.sin_port = sin6.sin6_port;
        memcpy(&sin.sin_addr, (const uint8_t *)&sin6.sin6_addr + 12, 4);
    } else {
        return false;
    }
    d->family = AF_INET;
    memcpy(d->a, &sin.sin_addr, 4);
    d->port = ntohs(sin.sin_port);
    memcpy(&d->ss, &sin, sizeof(sin));
    return true;
}

static const char *dest_builtin_refusal(const struct dest_addr *d)
{
    static struct cfg_cidr nets[DEST_NBUILTIN];
    static bool parsed;

    if (!parsed) {
        for (size_t i = 0; i < DEST_NBUILTIN; i++)
            config_parse_cidr(dest_builtin[i].cidr, &nets[i]);
        parsed = true;
    }
    for (size_t i = 0; i < DEST_NBUILTIN; i++)
        if (cfgval_cidrs_match(&nets[i], 1, (const struct sockaddr *)&d->ss))
            return dest_builtin[i].why;
    return NULL;
}

/*
 * The IPv4 address an IPv6 one carries for translation: RFC 6052's NAT64
 * prefix 64:ff9b::/96, and the deprecated IPv4-compatible ::a.b.c.d (a
 * not 0, so :: and ::1 stay themselves). A NAT64 delivers it to that IPv4
 * address, so the built-in ranges hold for it too.
 */
static bool dest_embedded_v4(const struct dest_addr *d, struct dest_addr *v4)
{
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
    static const uint8_t zero[12] = {0};
    struct sockaddr_in sin = {.sin_family = AF_INET};

    if (d->family != AF_INET6 ||
        !(memcmp(d->a, nat64, 12) == 0 || (memcmp(d->a, zero, 12) == 0 && d->a[12] != 0)))
        return false;
    sin.sin_port = htons(d->port);
    memcpy(&sin.sin_addr, d->a + 12, 4);
    return dest_normalize((const struct sockaddr *)&sin, v4);
}

static bool dest_is_loopback(const struct dest_addr *d)
{
    static const uint8_t one6[16] = {[15] = 1};
    return d->family == AF_INET ? d->a[0] == 127 : memcmp(d->a, one6, 16) == 0;
}

static bool dest_same_ip(const struct dest_addr *x, const struct dest_addr *y)
{
    return x->family == y->family && memcmp(x->a, y->a, x->family == AF_INET ? 4 : 16) == 0;
}

/* Is d one of this host's own addresses (loopback or an interface's)? */
static bool dest_is_local(const struct dest_addr *d)
{
    struct ifaddrs *ifs, *i;
    struct dest_addr la;
    bool found = false;

    if (dest_is_loopback(d))
        return true;
    if (getifaddrs(&ifs) != 0)
        return true; /* cannot tell: refuse rather than risk a loop */
    for (i = ifs; i && !found; i = i->ifa_next)
        found = i->ifa_addr && dest_normalize(i->ifa_addr, &la) && dest_same_ip(&la, d);
    freeifaddrs(ifs);
    return found;
}

/* A listener of magpie's own (admin ones too): its address and port, or
   (bound to 0.0.0.0 or ::) any local address of either family with its port. */
static bool dest_is_listener(const struct config *cfg, const struct dest_addr *d)
{
    static const uint8_t any[16] = {0};
    struct dest_addr la;

    for (size_t i = 0; i < config_nlisteners(cfg); i++) {
        const struct cfg_listen *l = config_listener(cfg, i);
        if (!dest_normalize((const struct sockaddr *)&l->addr, &la) || la.port != d->port)
            continue;
        if (dest_same_ip(&la, d))
            return true;
        if (memcmp(la.a, any, la.family == AF_INET ? 4 : 16) == 0 && dest_is_local(d))
            return true;
    }
    return false;
}

const char *dest_refusal(const struct config *cfg, const struct sockaddr *sa)
{
    struct dest_addr d;
    const char *why;

    if (!dest_normalize(sa, &d))
        return "not an IP address";
    if ((why = dest_builtin_refusal(&d)))
        return why;
    struct dest_addr v4;
    if (dest_embedded_v4(&d, &v4) && (why = dest_builtin_refusal(&v4)))
        return why;
    if (dest_is_listener(cfg, &d))
        return "magpie's own listener";
    /* the original form too: an operator may list ::ffff:0:0/96 itself */
    if (cfgval_cidrs_match(cfg->acl_deny_dest, cfg->nacl_deny_dest,
                           (const struct sockaddr *)&d.ss) ||
        cfgval_cidrs_match(cfg->acl_deny_dest, cfg->nacl_deny_dest, sa))
        return "in acl.deny_destinations";
    if (cfg->acl_allow_dest && !cfgval_cidrs_match(cfg->acl_allow_dest, cfg->nacl_allow_dest,
                                                   (const struct sockaddr *)&d.ss))
        return "not in acl.allow_destinations";
    return NULL;
}

void dest_format_refusal(char *out, size_t size, const struct sockaddr *sa, const char *why)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    struct dest_addr d;

    if (dest_normalize(sa, &d))
        inet_ntop(d.family, d.a, ip, sizeof(ip));
    snprintf(out, size, "destination %s is %s (acl)", ip, why);
}
