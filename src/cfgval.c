/*
 * cfgval.c - configuration values from text: the numbers, sizes, durations,
 * ports, booleans, addresses, networks, names and origin URLs that config.c
 * finds in YAML scalars, plus the formatting of ranges back into messages
 * and the edit distance behind "did you mean"; then the questions asked of
 * a loaded config (ACL, PURGE, route, CONNECT port, compression). Pure
 * functions: no YAML, no error reporting, no allocation beyond the strings
 * they return.
 * Last, the struct's life cycle (defaults, references, freeing), which
 * needs no YAML either.
 */
#include "cfgval.h"
#include "auth.h"
#include "rules.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#define CFGVAL_NAME_MAX 253   /* proxy_name and host names */
#define CFGVAL_SUGGEST_MAX 32 /* longer keys get no suggestion */
#define CFGVAL_NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._"
/* RFC 9110 §5.6.2 tchar without '*', which patterns keep for "any subtype" */
#define CFGVAL_MEDIA_CHARS                                                                         \
    "!#$%&'+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define CFGVAL_MEDIA_PART_MAX 127 /* RFC 6838 §4.2: type and subtype names */

/* ---- numbers ---- */

/* Consumes decimal digits; *ovf is set past UINT64_MAX. */
static void scan_digits(const char **sp, uint64_t *out, bool *ovf)
{
    const char *s = *sp;
    uint64_t v = 0;

    *ovf = false;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            *ovf = true;
        v = v * 10 + d;
    }
    *out = v;
    *sp = s;
}

int cfgval_uint(const char *s, uint64_t *out)
{
    const char *p = s;
    bool ovf;

    scan_digits(&p, out, &ovf);
    if (p == s || *p)
        return -1;
    return ovf ? -2 : 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *sfx;
        unsigned shift;
    } units[] = {{"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
    const char *p = s;
    uint64_t n;
    bool ovf;

    scan_digits(&p, &n, &ovf);
    if (p == s)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(p, units[i].sfx))
            continue;
        if (ovf || n > (UINT64_MAX >> units[i].shift))
            return -2;
        *out = n << units[i].shift;
        return 0;
    }
    return -1;
}

int config_parse_duration(const char *s, double *out)
{
    static const struct {
        const char *sfx;
        double mul, div;
    } units[] = {{"", 1, 1},   {"ms", 1, 1000}, {"s", 1, 1},
                 {"m", 60, 1}, {"h", 3600, 1},  {"d", 86400, 1}};
    const char *p = s, *q;
    double frac = 0, scale = 1;
    uint64_t n;
    bool ovf;

    scan_digits(&p, &n, &ovf);
    if (p == s)
        return -1;
    if (*p == '.') {
        for (q = ++p; *p >= '0' && *p <= '9'; p++) {
            if (scale < 1e15) {
                frac = frac * 10 + (*p - '0');
                scale *= 10;
            }
        }
        if (p == q)
            return -1;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(p, units[i].sfx))
            continue;
        if (ovf)
            return -2;
        *out = ((double)n + frac / scale) * units[i].mul / units[i].div;
        return 0;
    }
    return -1;
}

int cfgval_bool(const char *s, bool *out)
{
    static const struct {
        const char *name;
        bool val;
    } words[] = {{"true", true}, {"false", false}, {"yes", true},
                 {"no", false},  {"on", true},     {"off", false}};

    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (!strcasecmp(s, words[i].name)) {
            *out = words[i].val;
            return 0;
        }
    }
    return -1;
}

/* ---- addresses ---- */

/* "80": 1..65535, at most 5 digits, nothing after. */
int cfgval_port(const char *s, uint16_t *port)
{
    uint64_t v;

    if (strlen(s) > 5 || cfgval_uint(s, &v) || v < 1 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* Copies s[0..n) into dst as a string; false if it does not fit. */
static bool copy_span(char *dst, size_t dsz, const char *s, size_t n)
{
    if (n >= dsz)
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

/* -1: not an address:port; -2: the address is fine but the port is not. */
int config_parse_sockaddr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    union {
        struct sockaddr_storage ss;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } u = {.ss = {0}};
    char host[INET6_ADDRSTRLEN];
    bool v6 = *s == '[';
    const char *h = s + v6, *end = strchr(h, v6 ? ']' : ':');
    uint16_t port;

    if (!end || !copy_span(host, sizeof host, h, (size_t)(end - h)) || (v6 && *++end != ':') ||
        strchr(end + 1, ':'))
        return -1;
    if (v6 ? inet_pton(AF_INET6, host, &u.in6.sin6_addr) != 1
           : inet_pton(AF_INET, host, &u.in.sin_addr) != 1)
        return -1;
    if (cfgval_port(end + 1, &port))
        return -2;
    if (v6)
        u.in6.sin6_family = AF_INET6, u.in6.sin6_port = htons(port);
    else
        u.in.sin_family = AF_INET, u.in.sin_port = htons(port);
    *ss = u.ss;
    *len = v6 ? sizeof u.in6 : sizeof u.in;
    return 0;
}

/* Linux refuses a second listening socket on a port whose address overlaps
   one already bound there, SO_REUSEADDR or not: the same address, a
   wildcard of the same family, or [::] (dual-stack, server.c) against
   any IPv4 address. */
bool cfgval_listen_overlap(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family == AF_INET && b->sa_family == AF_INET6)
        return cfgval_listen_overlap(b, a);
    const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
    const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;
    if (a->sa_family == AF_INET && b->sa_family == AF_INET)
        return a4->sin_port == b4->sin_port &&
               (a4->sin_addr.s_addr == b4->sin_addr.s_addr || a4->sin_addr.s_addr == INADDR_ANY ||
                b4->sin_addr.s_addr == INADDR_ANY);
    if (a->sa_family != AF_INET6)
        return false;
    bool any = IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr);
    if (b->sa_family == AF_INET)
        return any && a6->sin6_port == b4->sin_port;
    return b->sa_family == AF_INET6 && a6->sin6_port == b6->sin6_port &&
           (any || IN6_IS_ADDR_UNSPECIFIED(&b6->sin6_addr) ||
            memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof a6->sin6_addr) == 0);
}

int config_parse_cidr(const char *s, struct cfg_cidr *out)
{
    char host[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t hl = slash ? (size_t)(slash - s) : strlen(s);
    uint64_t prefix;
    struct cfg_cidr c = {0};

    if (!copy_span(host, sizeof host, s, hl))
        return -1;
    if (inet_pton(AF_INET, host, c.addr) == 1)
        c.family = AF_INET;
    else if (inet_pton(AF_INET6, host, c.addr) == 1)
        c.family = AF_INET6;
    else
        return -1;
    prefix = c.family == AF_INET ? 32 : 128;
    if (slash && (strlen(slash + 1) > 3 || cfgval_uint(slash + 1, &prefix) ||
                  prefix > (c.family == AF_INET ? 32u : 128u)))
        return -1;
    c.prefix = (unsigned)prefix;
    for (unsigned bit = c.prefix; bit < 128; bit++)
        c.addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    *out = c;
    return 0;
}

/* A DNS server: "ip", "[ip6]", "ip:port" or "[ip6]:port"; -2 for a bad port. */
int cfgval_dns_server(const char *s)
{
    char host[INET6_ADDRSTRLEN];
    struct in6_addr a;
    struct sockaddr_storage ss;
    socklen_t len;
    size_t n = strlen(s);

    if (inet_pton(AF_INET, s, &a) == 1 || inet_pton(AF_INET6, s, &a) == 1)
        return 0;
    if (n > 2 && *s == '[' && s[n - 1] == ']' && copy_span(host, sizeof host, s + 1, n - 2) &&
        inet_pton(AF_INET6, host, &a) == 1)
        return 0;
    return config_parse_sockaddr(s, &ss, &len);
}

/* ---- names ---- */

bool cfgval_is_name(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n <= CFGVAL_NAME_MAX && strspn(s, CFGVAL_NAME_CHARS) == n;
}

char *cfgval_dup_lower(const char *s, size_t n)
{
    char *d = strndup(s, n);

    for (char *p = d; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return d;
}

/* The length of a media type name part at s (1..CFGVAL_MEDIA_PART_MAX), 0 if none. */
static size_t media_part(const char *s)
{
    size_t n = strspn(s, CFGVAL_MEDIA_CHARS);

    return n <= CFGVAL_MEDIA_PART_MAX ? n : 0;
}

bool cfgval_media_pattern(const char *s)
{
    size_t n = media_part(s);

    if (!n || s[n] != '/')
        return false;
    s += n + 1;
    if (*s == '*')
        return !s[1] || (s[1] == '+' && (n = media_part(s + 2)) && !s[2 + n]);
    return (n = media_part(s)) && !s[n];
}

/* "http[s]://host[:port][/]". -1: scheme, -2: malformed, -3: port. */
int cfgval_origin(const char *s, struct cfg_route *r)
{
    char host[INET6_ADDRSTRLEN], port[8];
    struct in6_addr a;
    const char *p, *e;
    size_t hl, pl;

    if (!strncasecmp(s, "http://", 7)) {
        r->origin_tls = false, r->origin_port = 80, p = s + 7;
    } else if (!strncasecmp(s, "https://", 8)) {
        r->origin_tls = true, r->origin_port = 443, p = s + 8;
    } else {
        return -1;
    }
    if (*p == '[') {
        e = strchr(++p, ']');
        hl = e ? (size_t)(e - p) : sizeof host;
        if (!copy_span(host, sizeof host, p, hl) || inet_pton(AF_INET6, host, &a) != 1)
            return -2;
        e++;
    } else {
        hl = strspn(p, CFGVAL_NAME_CHARS);
        if (hl == 0 || hl > CFGVAL_NAME_MAX)
            return -2;
        e = p + hl;
    }
    if (*e == ':') {
        pl = strcspn(e + 1, "/");
        if (!copy_span(port, sizeof port, e + 1, pl) || cfgval_port(port, &r->origin_port))
            return -3;
        e += 1 + pl;
    }
    if (*e && strcmp(e, "/"))
        return -2;
    free(r->origin_host);
    r->origin_host = cfgval_dup_lower(p, hl);
    return 0;
}

/* ---- ranges back to text, for messages ---- */

const char *cfgval_fmt_duration(double v, char *buf, size_t sz)
{
    uint64_t i = (uint64_t)v;

    if (v != (double)i)
        snprintf(buf, sz, "%gms", v * 1000);
    else if (i >= 2 * 86400 && i % 86400 == 0) /* 24h stays so, 48h reads 2d */
        snprintf(buf, sz, "%" PRIu64 "d", i / 86400);
    else if (i && i % 3600 == 0)
        snprintf(buf, sz, "%" PRIu64 "h", i / 3600);
    else if (i && i % 60 == 0)
        snprintf(buf, sz, "%" PRIu64 "m", i / 60);
    else
        snprintf(buf, sz, "%" PRIu64 "s", i);
    return buf;
}

const char *cfgval_fmt_size(uint64_t v, char *buf, size_t sz)
{
    static const char *const sfx[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;

    while (u < 4 && v && v % 1024 == 0)
        v /= 1024, u++;
    snprintf(buf, sz, "%" PRIu64 "%s", v, sfx[u]);
    return buf;
}

static unsigned min3(unsigned a, unsigned b, unsigned c)
{
    return a < b ? (a < c ? a : c) : (b < c ? b : c);
}

/* ---- suggestions ---- */

/* Damerau-Levenshtein (optimal string alignment), ignoring ASCII case. */
unsigned cfgval_distance(const char *a, const char *b)
{
    unsigned d[CFGVAL_SUGGEST_MAX + 1][CFGVAL_SUGGEST_MAX + 1];
    size_t la = strlen(a), lb = strlen(b);

    if (la > CFGVAL_SUGGEST_MAX || lb > CFGVAL_SUGGEST_MAX)
        return UINT_MAX;
    for (size_t i = 0; i <= la; i++) {
        for (size_t j = 0; j <= lb; j++) {
            if (!i || !j) {
                d[i][j] = (unsigned)(i + j);
                continue;
            }
            d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1,
                           d[i - 1][j - 1] + ((a[i - 1] | 0x20) != (b[j - 1] | 0x20)));
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = min3(d[i][j], d[i - 2][j - 2] + 1, UINT_MAX);
        }
    }
    return d[la][lb];
}

/* ---- queries on a loaded config ---- */

static bool prefix_match(const uint8_t *net, const uint8_t *addr, unsigned prefix)
{
    unsigned bytes = prefix / 8, bits = prefix % 8;
    uint8_t mask = (uint8_t)(0xff00u >> bits);

    if (memcmp(net, addr, bytes))
        return false;
    return !bits || (net[bytes] & mask) == (addr[bytes] & mask);
}

/* Is sa in one of cs[0..n)? IPv4-mapped IPv6 addresses also match IPv4 networks. */
static bool cidrs_match(const struct cfg_cidr *cs, size_t n, const struct sockaddr *sa)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    uint8_t a[16];
    int family = sa->sa_family;
    bool is_mapped = false;

    if (family == AF_INET) {
        memcpy(&sin, sa, sizeof sin);
        memcpy(a, &sin.sin_addr, 4);
    } else if (family == AF_INET6) {
        memcpy(&sin6, sa, sizeof sin6);
        memcpy(a, &sin6.sin6_addr, 16);
        is_mapped = !memcmp(a, mapped, sizeof mapped);
    } else {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const struct cfg_cidr *c = &cs[i];
        if (c->family == family && prefix_match(c->addr, a, c->prefix))
            return true;
        if (is_mapped && c->family == AF_INET && prefix_match(c->addr, a + 12, c->prefix))
            return true;
    }
    return false;
}

bool cfgval_cidrs_match(const struct cfg_cidr *cs, size_t n, const struct sockaddr *sa)
{
    return cidrs_match(cs, n, sa);
}

bool config_acl_allows(const struct config *cfg, const struct sockaddr *sa)
{
    return cidrs_match(cfg->acl_allow, cfg->nacl_allow, sa);
}

bool config_admin_allowed(const struct config *cfg, const struct sockaddr *sa)
{
    return cidrs_match(cfg->admin_allow, cfg->nadmin_allow, sa);
}

/* host is suffix, or (for ".domain") under it or the domain itself. */
static bool suffix_match(const char *host, size_t hlen, const char *sfx)
{
    size_t n = strlen(sfx);
    if (sfx[0] == '.' && hlen == n - 1 && strcasecmp(host, sfx + 1) == 0)
        return true;
    if (sfx[0] != '.')
        return hlen == n && strcasecmp(host, sfx) == 0;
    return hlen > n && strcasecmp(host + hlen - n, sfx) == 0;
}

static bool acl_rule_applies(const struct cfg_acl_rule *r, const struct sockaddr *sa,
                             const char *host, uint16_t port, const char *method)
{
    size_t hlen = strlen(host);
    bool ok = cidrs_match(r->nets, r->nnets, sa);
    bool any_sfx = r->ndest_suffix == 0, any_port = r->nports == 0, any_method = r->nmethods == 0;
    for (size_t i = 0; ok && !any_sfx && i < r->ndest_suffix; i++)
        any_sfx = suffix_match(host, hlen, r->dest_suffix[i]);
    for (size_t i = 0; ok && !any_port && i < r->nports; i++)
        any_port = r->ports[i] == port;
    for (size_t i = 0; ok && !any_method && i < r->nmethods; i++)
        any_method = strcmp(r->methods[i], method) == 0;
    return ok && any_sfx && any_port && any_method;
}

const struct cfg_acl_rule *config_acl_rule(const struct config *cfg, const struct sockaddr *sa,
                                           const char *host, uint16_t port, const char *method)
{
    for (size_t i = 0; i < cfg->nacl_rules; i++)
        if (acl_rule_applies(&cfg->acl_rules[i], sa, host, port, method))
            return &cfg->acl_rules[i];
    return NULL;
}

bool config_purge_allowed(const struct config *cfg, const struct sockaddr *sa)
{
    return cidrs_match(cfg->purge_allow, cfg->npurge_allow, sa);
}

const struct cfg_route *config_route_find(const struct config *cfg, const char *host)
{
    if (!host)
        return NULL;
    for (size_t i = 0; i < cfg->nroutes; i++)
        if (cfg->routes[i].host && !strcasecmp(cfg->routes[i].host, host))
            return &cfg->routes[i];
    return NULL;
}

bool config_connect_port_allowed(const struct config *cfg, uint16_t port)
{
    for (size_t i = 0; i < cfg->nconnect_allowed_ports; i++)
        if (cfg->connect_allowed_ports[i] == port)
            return true;
    return false;
}

bool config_compression_on(const struct config *cfg, const struct cfg_route *rt)
{
    if (rt && rt->compression_enabled >= 0)
        return rt->compression_enabled > 0;
    return cfg->compression.enabled;
}

const struct cfg_cache_rule config_default_rule = {
    .enabled = CFG_DEFAULT_RULE_ENABLED,
    .default_ttl = CFG_DEFAULT_RULE_DEFAULT_TTL,
    .max_ttl = CFG_DEFAULT_RULE_MAX_TTL,
    .follow_scope = CFG_DEFAULT_FOLLOW_SCOPE,
};

const struct cfg_cache_rule *config_cache_rule(const struct config *cfg, const struct cfg_route *rt,
                                               const char *url, size_t len)
{
    if (rt && rt->has_cache)
        return &rt->cache;
    for (size_t i = 0; i < cfg->cache.nrules; i++)
        if (rule_re_match(cfg->cache.rules[i].re, url, len, NULL))
            return &cfg->cache.rules[i];
    return &config_default_rule;
}

const char *cfgval_hdr_refused(const char *name, bool request, bool set)
{
    static const struct {
        const char *name;
        int dir; /* 1: requests only, 2: responses only, 3: both; 4: set only */
        const char *why;
    } refused[] = {
        {"Connection", 3, "is hop-by-hop: magpie manages it"},
        {"Keep-Alive", 3, "is hop-by-hop: magpie manages it"},
        {"Proxy-Connection", 3, "is hop-by-hop: magpie manages it"},
        {"TE", 3, "is hop-by-hop: magpie manages it"},
        {"Trailer", 3, "is hop-by-hop: magpie manages it"},
        {"Upgrade", 3, "is hop-by-hop: magpie manages it"},
        {"Proxy-Authenticate", 3, "is hop-by-hop: magpie manages it"},
        {"Proxy-Authorization", 3, "is hop-by-hop: magpie manages it"},
        {"Transfer-Encoding", 3, "frames the message: magpie manages it"},
        {"Content-Length", 3, "frames the message: magpie manages it"},
        {"Content-Encoding", 3, "describes the body as it is sent: magpie manages it"},
        {"Content-Range", 3, "describes the body as it is sent: magpie manages it"},
        {"Via", 3, "is magpie's own: it appends itself"},
        {"Host", 1, "routes the request and names it in the cache: use routes[].origin"},
        {"Cache-Status", 2, "is magpie's own: it says what the cache did"},
        {"Age", 2, "is magpie's own: it says how old a stored response is"},
        {"X-Cache", 2, "is magpie's own: it says what the cache did"},
        /* removing it is how a route stops trusting what clients claim */
        {"X-Forwarded-For", 1 | 4,
         "is magpie's on reverse routes: it appends the client's "
         "address (remove it to drop what clients send)"},
    };

    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if ((refused[i].dir & (request ? 1 : 2)) && (set || !(refused[i].dir & 4)) &&
            !strcasecmp(name, refused[i].name))
            return refused[i].why;
    return NULL;
}

unsigned cfgval_fit_connections(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max == RLIM_INFINITY ||
        rl.rlim_max >= (rlim_t)want * 2 + 256)
        return want;
    return rl.rlim_max > 258 ? (unsigned)((rl.rlim_max - 256) / 2) : 1;
}

/* ---- life cycle ---- */

static void free_strs(char **ss, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ss[i]);
    free(ss);
}

static void free_hdr_edit(struct cfg_hdr_edit *e)
{
    for (size_t i = 0; i < e->nset; i++) {
        free(e->set[i].name);
        free(e->set[i].value);
    }
    free(e->set);
    free_strs(e->remove, e->nremove);
}

static void free_rule(struct cfg_cache_rule *r)
{
    free(r->match);
    rule_re_free(r->re);
    free_strs(r->ignore_params, r->nignore_params);
    free(r->targeted_field);
    free_hdr_edit(&r->request_headers);
    free_hdr_edit(&r->response_headers);
}

static void free_routes(struct cfg_route *rs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rs[i].host);
        free(rs[i].origin);
        free(rs[i].origin_host);
        free_rule(&rs[i].cache);
        free_hdr_edit(&rs[i].request_headers);
        free_hdr_edit(&rs[i].response_headers);
    }
    free(rs);
}

static void free_rules(struct cfg_cache_rule *rs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free_rule(&rs[i]);
    free(rs);
}

static void free_redirects(struct cfg_redirect *rs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rs[i].match);
        rule_re_free(rs[i].re);
        free(rs[i].to);
    }
    free(rs);
}

static void free_acl_rules(struct cfg_acl_rule *rs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rs[i].nets);
        free_strs(rs[i].dest_suffix, rs[i].ndest_suffix);
        free(rs[i].ports);
        free_strs(rs[i].methods, rs[i].nmethods);
    }
    free(rs);
}

static void config_free(struct config *cfg)
{
    free(cfg->path);
    for (size_t i = 0; i < cfg->nlisten; i++) {
        free(cfg->listen[i].tls_cert);
        free(cfg->listen[i].tls_key);
    }
    free(cfg->listen);
    free(cfg->acl_allow);
    free(cfg->acl_deny_dest);
    free(cfg->acl_allow_dest);
    free_acl_rules(cfg->acl_rules, cfg->nacl_rules);
    free(cfg->access_log);
    free(cfg->error_log);
    free(cfg->proxy_name);
    free(cfg->upstream.tls.ca_file);
    free(cfg->connect_allowed_ports);
    free_strs(cfg->dns.servers, cfg->dns.nservers);
    free_routes(cfg->routes, cfg->nroutes);
    free_redirects(cfg->redirects, cfg->nredirects);
    free(cfg->purge_allow);
    free(cfg->admin_listen);
    free(cfg->admin_allow);
    free(cfg->cache.dir);
    free_rules(cfg->cache.rules, cfg->cache.nrules);
    free_strs(cfg->compression.types, cfg->compression.ntypes);
    auth_free(cfg->auth);
    free(cfg);
}

static char *default_proxy_name(void)
{
    char h[256];

    if (gethostname(h, sizeof h) != 0)
        return strdup("magpie");
    h[sizeof h - 1] = '\0';
    return strdup(cfgval_is_name(h) ? h : "magpie");
}

/* compression.types' defaults, owned like the strings of a loaded list
   (a file's list replaces them); false when out of memory. */
static bool default_types(struct config *cfg)
{
    static const char *const types[] = {CFG_DEFAULT_COMPRESSION_TYPES};
    size_t n = sizeof types / sizeof types[0];

    if (!(cfg->compression.types = calloc(n, sizeof *cfg->compression.types)))
        return false;
    for (; cfg->compression.ntypes < n; cfg->compression.ntypes++) {
        char **t = &cfg->compression.types[cfg->compression.ntypes];
        if (!(*t = strdup(types[cfg->compression.ntypes])))
            return false;
    }
    return true;
}

static void default_compression(struct config *cfg)
{
    static const enum coding encodings[] = {CODING_ZSTD, CODING_BR, CODING_GZIP};

    cfg->compression.enabled = CFG_DEFAULT_COMPRESSION_ENABLED;
    memcpy(cfg->compression.encodings, encodings, sizeof encodings);
    cfg->compression.nencodings = sizeof encodings / sizeof encodings[0];
    cfg->compression.min_size = CFG_DEFAULT_COMPRESSION_MIN_SIZE;
    cfg->compression.level[CODING_GZIP] = CFG_DEFAULT_COMPRESSION_GZIP_LEVEL;
    cfg->compression.level[CODING_BR] = CFG_DEFAULT_COMPRESSION_BR_LEVEL;
    cfg->compression.level[CODING_ZSTD] = CFG_DEFAULT_COMPRESSION_ZSTD_LEVEL;
    cfg->compression.decompress = CFG_DEFAULT_COMPRESSION_DECOMPRESS;
}

struct config *config_default(void)
{
    struct config *cfg = calloc(1, sizeof *cfg);

    if (!cfg)
        return NULL;
    static unsigned long gens;
    cfg->refs = 1;
    cfg->gen = ++gens;
    cfg->listen = calloc(1, sizeof *cfg->listen);
    cfg->acl_allow = calloc(2, sizeof *cfg->acl_allow);
    cfg->access_log = strdup("-");
    cfg->error_log = strdup("-");
    cfg->proxy_name = default_proxy_name();
    cfg->upstream.tls.ca_file = strdup(CFG_DEFAULT_TLS_CA_FILE);
    cfg->connect_allowed_ports = calloc(1, sizeof *cfg->connect_allowed_ports);
    cfg->purge_allow = calloc(2, sizeof *cfg->purge_allow);
    cfg->admin_allow = calloc(2, sizeof *cfg->admin_allow);
    cfg->cache.dir = strdup(CFG_DEFAULT_CACHE_DIR);
    if (!cfg->listen || !cfg->acl_allow || !cfg->access_log || !cfg->error_log ||
        !cfg->proxy_name || !cfg->upstream.tls.ca_file || !cfg->connect_allowed_ports ||
        !cfg->purge_allow || !cfg->admin_allow || !cfg->cache.dir || !default_types(cfg)) {
        config_free(cfg);
        return NULL;
    }
    config_parse_sockaddr(CFG_DEFAULT_LISTEN, &cfg->listen[0].addr, &cfg->listen[0].addrlen);
    snprintf(cfg->listen[0].text, sizeof cfg->listen[0].text, "%s", CFG_DEFAULT_LISTEN);
    cfg->nlisten = 1;
    config_parse_cidr("127.0.0.0/8", &cfg->acl_allow[0]);
    config_parse_cidr("::1/128", &cfg->acl_allow[1]);
    cfg->nacl_allow = 2;
    cfg->log_level = LOGL_INFO;
    cfg->limits.max_connections = cfgval_fit_connections(CFG_DEFAULT_MAX_CONNECTIONS);
    cfg->limits.max_header_bytes = CFG_DEFAULT_MAX_HEADER_BYTES;
    cfg->limits.max_uri_bytes = CFG_DEFAULT_MAX_URI_BYTES;
    cfg->limits.client_header_timeout = CFG_DEFAULT_CLIENT_HEADER_TIMEOUT;
    cfg->limits.client_idle_timeout = CFG_DEFAULT_CLIENT_IDLE_TIMEOUT;
    cfg->limits.shutdown_timeout = CFG_DEFAULT_SHUTDOWN_TIMEOUT;
    cfg->upstream.connect_timeout = CFG_DEFAULT_CONNECT_TIMEOUT;
    cfg->upstream.read_timeout = CFG_DEFAULT_READ_TIMEOUT;
    cfg->upstream.retries = CFG_DEFAULT_RETRIES;
    cfg->upstream.pool.max_per_origin = CFG_DEFAULT_POOL_MAX_PER_ORIGIN;
    cfg->upstream.pool.max_idle_per_origin = CFG_DEFAULT_POOL_MAX_IDLE_PER_ORIGIN;
    cfg->upstream.pool.idle_timeout = CFG_DEFAULT_POOL_IDLE_TIMEOUT;
    cfg->upstream.pool.queue_timeout = CFG_DEFAULT_POOL_QUEUE_TIMEOUT;
    cfg->upstream.tls.verify = CFG_DEFAULT_TLS_VERIFY;
    cfg->connect_allowed_ports[0] = CFG_DEFAULT_CONNECT_PORT;
    cfg->nconnect_allowed_ports = 1;
    cfg->dns.max_ttl = CFG_DEFAULT_DNS_MAX_TTL;
    cfg->dns.timeout = CFG_DEFAULT_DNS_TIMEOUT;
    config_parse_cidr(CFG_DEFAULT_PURGE_ALLOW_V4, &cfg->purge_allow[0]);
    config_parse_cidr(CFG_DEFAULT_PURGE_ALLOW_V6, &cfg->purge_allow[1]);
    cfg->npurge_allow = 2;
    config_parse_cidr(CFG_DEFAULT_PURGE_ALLOW_V4, &cfg->admin_allow[0]);
    config_parse_cidr(CFG_DEFAULT_PURGE_ALLOW_V6, &cfg->admin_allow[1]);
    cfg->nadmin_allow = 2;
    cfg->cache.enabled = CFG_DEFAULT_CACHE_ENABLED;
    cfg->cache.max_size = CFG_DEFAULT_CACHE_MAX_SIZE;
    cfg->cache.max_object_size = CFG_DEFAULT_CACHE_MAX_OBJECT_SIZE;
    cfg->cache.memory_size = CFG_DEFAULT_CACHE_MEMORY_SIZE;
    cfg->cache.set_cookie = CFG_DEFAULT_CACHE_SET_COOKIE;
    cfg->cache.stale_on_error = CFG_DEFAULT_CACHE_STALE_ON_ERROR;
    default_compression(cfg);
    return cfg;
}

struct config *config_ref(struct config *cfg)
{
    if (cfg)
        cfg->refs++;
    return cfg;
}

void config_unref(struct config **cfgp)
{
    if (!cfgp || !*cfgp)
        return;
    if (--(*cfgp)->refs == 0)
        config_free(*cfgp);
    *cfgp = NULL;
}
