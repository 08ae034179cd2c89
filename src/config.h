/*
 * config.h - magpie's configuration: one immutable, reference-counted struct
 * built from a YAML file (or from the embedded defaults). A reload builds a
 * new struct and swaps the global pointer; live connections keep the one
 * they started with until they drop their reference.
 */
#ifndef MAGPIE_CONFIG_H
#define MAGPIE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "coding.h"

enum log_level { LOGL_ERROR, LOGL_WARN, LOGL_INFO, LOGL_DEBUG };

struct cfg_listen {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char text[64];  /* as written: "127.0.0.1:3128", "[::1]:3128" */
    char *tls_cert; /* TLS listener: PEM certificate chain path; NULL: plain */
    char *tls_key;  /* TLS listener: PEM private key path; NULL: plain */
};

struct cfg_cidr {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network bytes, host bits zeroed */
    unsigned prefix;
};

/* A header rule's edits: fields set (replacing the message's own lines of
   that name) and fields removed. Names are field names (tokens); values
   one line of visible text. */
struct cfg_hdr_field {
    char *name;
    char *value;
};

struct cfg_hdr_edit {
    struct cfg_hdr_field *set;
    size_t nset;
    char **remove;
    size_t nremove;
};

/* follow_redirects.scope: where a redirect magpie follows may lead. */
enum cfg_follow_scope {
    CFG_FOLLOW_SAME_ORIGIN, /* scheme, host and port of the URL asked for */
    CFG_FOLLOW_SAME_SITE,   /* the same registrable domain; http may become https */
    CFG_FOLLOW_ANY,
};

struct rule_re;

/*
 * How the cache treats the URLs a rule matches: an entry of cache.rules, or
 * a route's cache: block (match NULL: every URL routed to it). A request
 * is governed by exactly one (config_cache_rule).
 */
struct cfg_cache_rule {
    char *match;          /* the pattern as written; NULL for a route's own */
    struct rule_re *re;   /* compiled once, at load */
    bool enabled;         /* false: these requests bypass the cache */
    double default_ttl;   /* seconds of freshness when the origin gives none; -1: none */
    double max_ttl;       /* seconds: a cap on any freshness lifetime; -1: none */
    char **ignore_params; /* query parameters left out of the cache key */
    size_t nignore_params;
    char *targeted_field; /* routes: checked before CDN-Cache-Control; or NULL */
    unsigned follow_max;  /* follow_redirects.max; 0: redirects go to the client */
    enum cfg_follow_scope follow_scope;
    /* toward the origin, and toward the client */
    struct cfg_hdr_edit request_headers, response_headers;
};

struct cfg_route {
    char *host;        /* matched against the request Host, lower case, no port */
    char *origin;      /* as written, "http://127.0.0.1:8080" */
    bool origin_tls;   /* https:// */
    char *origin_host; /* lower case, IPv6 without brackets */
    uint16_t origin_port;
    bool tls_verify;     /* https origins: the route's tls.verify, else upstream.tls.verify */
    bool tls_verify_set; /* the route said tls.verify itself */
    bool has_cache;      /* the route has a cache: block, which is its rule */
    struct cfg_cache_rule cache; /* cache: (match NULL); its header edits stay empty */
    int compression_enabled; /* compression.enabled: 1 or 0; -1 unset (the global one decides) */
    bool rewrite_location;   /* Location naming the origin goes out naming the route's host */
    /* request_headers and response_headers, for every request routed here */
    struct cfg_hdr_edit request_headers, response_headers;
};

/* acl.rules[]: decided once the destination is known; the first rule that
   applies to a request decides it, and a request none applies to goes on.
   A rule applies when the client is in nets and every condition given
   holds (none given: any). */
struct cfg_acl_rule {
    bool deny; /* deny: 403; allow: no later rule is asked */
    struct cfg_cidr *nets;
    size_t nnets;
    char **dest_suffix; /* lower case; ".example.com" also names example.com itself */
    size_t ndest_suffix;
    uint16_t *ports;
    size_t nports;
    char **methods; /* as sent, case-sensitive (RFC 9110 §9.1) */
    size_t nmethods;
};

/* redirects[]: answered by magpie before the cache and the origin. */
struct cfg_redirect {
    char *match;        /* the pattern as written */
    struct rule_re *re; /* compiled once, at load */
    char *to;           /* the Location template: "$1".."$9" from the match */
    int status;         /* 301, 302, 303, 307 or 308 */
};

/* cache.set_cookie: what the cache does with responses carrying Set-Cookie. */
enum cfg_set_cookie {
    CFG_SET_COOKIE_EXPLICIT, /* stored only with explicit freshness from the origin */
    CFG_SET_COOKIE_STRIP,    /* stored without it: hits never send it */
    CFG_SET_COOKIE_NEVER,    /* never stored */
};

/* access_log_format: the access line's layout (access_log.h). */
enum cfg_access_log_format {
    CFG_ACCESS_LOG_DEFAULT,  /* magpie's own space-separated line */
    CFG_ACCESS_LOG_COMBINED, /* Apache's combined, then the cache result */
    CFG_ACCESS_LOG_JSON,     /* one JSON object a line */
};

struct auth;

struct config {
    int refs;
    unsigned long gen; /* unique per loaded config, never reused */
    char *path;        /* NULL for the embedded defaults */

    struct cfg_listen *listen;
    size_t nlisten;
    struct cfg_cidr *acl_allow;
    size_t nacl_allow;
    /* forward-mode destinations (dest.h): refused on top of the built-in
       ranges; and, when acl_allow_dest is non-NULL (set, even to []), the
       only ones allowed */
    struct cfg_cidr *acl_deny_dest;
    size_t nacl_deny_dest;
    struct cfg_cidr *acl_allow_dest;
    size_t nacl_allow_dest;
    struct cfg_acl_rule *acl_rules; /* acl.rules, in order */
    size_t nacl_rules;

    char *access_log; /* file path, "-" for stderr, NULL when "off" */
    char *error_log;  /* file path, "-" for stderr */
    enum cfg_access_log_format access_log_format;
    enum log_level log_level;
    char *proxy_name; /* Via pseudonym; defaults to the host name */

    struct {
        unsigned max_connections;
        size_t max_header_bytes;      /* whole request head -> 431 */
        size_t max_uri_bytes;         /* request target -> 414 */
        double client_header_timeout; /* seconds, to receive a request head */
        double client_idle_timeout;   /* seconds of no progress otherwise */
        double shutdown_timeout;      /* SIGTERM drain limit */
    } limits;

    struct {
        double connect_timeout;
        double read_timeout;
        unsigned retries; /* attempts after the first one fails, 0..5 */
        struct {
            unsigned max_per_origin;      /* open at once (connecting, busy, idle) */
            unsigned max_idle_per_origin; /* kept for reuse; <= max_per_origin, which
                                             it follows when unset */
            double idle_timeout;          /* seconds before an idle one is closed */
            double queue_timeout;         /* seconds a request waits for a slot */
        } pool;
        struct {
            bool verify;   /* check https origins' chains and host names */
            char *ca_file; /* PEM bundle, never NULL; opened by tls.c, not here */
        } tls;
    } upstream;

    /* CONNECT targets: only these ports; none at all when empty (deny by default). */
    uint16_t *connect_allowed_ports;
    size_t nconnect_allowed_ports;

    struct {
        char **servers; /* "ip" or "ip:port" / "[ip6]:port"; empty: resolv.conf */
        size_t nservers;
        double max_ttl;
        double timeout; /* whole resolution */
    } dns;

    struct cfg_route *routes;
    size_t nroutes;

    /* redirects: the first whose pattern matches the absolute URL applies */
    struct cfg_redirect *redirects;
    size_t nredirects;

    /* admin.purge_allow: client networks whose PURGE requests are obeyed. */
    struct cfg_cidr *purge_allow;
    size_t npurge_allow;
    /* admin.listen: plain listeners for /metrics and /healthz (none by
       default), and admin.allow: the client networks they answer */
    struct cfg_listen *admin_listen;
    size_t nadmin_listen;
    struct cfg_cidr *admin_allow;
    size_t nadmin_allow;

    struct {
        bool enabled;
        char *dir;                /* relative to the working directory unless absolute */
        uint64_t max_size;        /* on disk, 1MiB..16TiB */
        uint64_t max_object_size; /* one stored response, 1KiB..max_size */
        uint64_t memory_size;     /* hot objects kept in RAM; 0: no memory tier */
        enum cfg_set_cookie set_cookie;
        bool keep_tag_headers; /* tag_headers: keep (Surrogate-Key, Cache-Tag reach clients) */
        double stale_on_error; /* seconds a stale response may stand in for an unreachable origin */
        /* cache.rules: after the routes' own, the first whose pattern
           matches the absolute URL governs */
        struct cfg_cache_rule *rules;
        size_t nrules;
    } cache;

    struct {
        bool enabled; /* on-the-fly compression (routes may override) */
        enum coding
            encodings[CODING_KNOWN]; /* offered, magpie's preference first: zstd, br, gzip */
        size_t nencodings;
        char **types; /* media type patterns: a whole type, "text/" + star, "application/" + star +
                         "+json" */
        size_t ntypes;
        uint64_t min_size;       /* known lengths under it go as they are */
        int level[CODING_KNOWN]; /* per coding: level[CODING_GZIP] etc. */
        bool decompress;         /* decode for clients that do not accept a coding */
    } compression;

    /* auth.basic: proxy credentials (auth.h), its htpasswd file read at
       load; NULL: no authentication */
    struct auth *auth;
};

/* Defaults in one place; etc/magpie.yaml documents each. */
#define CFG_DEFAULT_LISTEN "127.0.0.1:3128"
#define CFG_DEFAULT_MAX_CONNECTIONS 10000
#define CFG_DEFAULT_MAX_HEADER_BYTES (64 * 1024)
#define CFG_DEFAULT_MAX_URI_BYTES (8 * 1024)
#define CFG_DEFAULT_CLIENT_HEADER_TIMEOUT 10.0
#define CFG_DEFAULT_CLIENT_IDLE_TIMEOUT 60.0
#define CFG_DEFAULT_SHUTDOWN_TIMEOUT 10.0
#define CFG_DEFAULT_CONNECT_TIMEOUT 5.0
#define CFG_DEFAULT_READ_TIMEOUT 30.0
#define CFG_DEFAULT_RETRIES 1
#define CFG_DEFAULT_POOL_MAX_PER_ORIGIN 64
#define CFG_DEFAULT_POOL_MAX_IDLE_PER_ORIGIN CFG_DEFAULT_POOL_MAX_PER_ORIGIN /* follows it */
#define CFG_DEFAULT_POOL_IDLE_TIMEOUT 60.0
#define CFG_DEFAULT_POOL_QUEUE_TIMEOUT 10.0
#define CFG_DEFAULT_TLS_VERIFY true
#define CFG_DEFAULT_TLS_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define CFG_DEFAULT_CONNECT_PORT 443 /* connect.allowed_ports: [443] */
#define CFG_DEFAULT_DNS_MAX_TTL 300.0
#define CFG_DEFAULT_DNS_TIMEOUT 5.0
#define CFG_DEFAULT_CACHE_ENABLED true
#define CFG_DEFAULT_CACHE_DIR "var/cache"
#define CFG_DEFAULT_CACHE_MAX_SIZE (UINT64_C(1) << 30)          /* 1GiB */
#define CFG_DEFAULT_CACHE_MAX_OBJECT_SIZE (UINT64_C(256) << 20) /* 256MiB */
#define CFG_DEFAULT_CACHE_MEMORY_SIZE (UINT64_C(64) << 20)      /* 64MiB */
#define CFG_DEFAULT_CACHE_SET_COOKIE CFG_SET_COOKIE_EXPLICIT
#define CFG_DEFAULT_CACHE_STALE_ON_ERROR 600.0   /* 10m */
#define CFG_DEFAULT_PURGE_ALLOW_V4 "127.0.0.0/8" /* admin.purge_allow: [V4, V6] */
#define CFG_DEFAULT_PURGE_ALLOW_V6 "::1/128"
#define CFG_DEFAULT_REDIRECT_STATUS 301
#define CFG_DEFAULT_RULE_ENABLED true
#define CFG_DEFAULT_RULE_DEFAULT_TTL (-1.0) /* none */
#define CFG_DEFAULT_RULE_MAX_TTL (-1.0)     /* none */
#define CFG_DEFAULT_FOLLOW_MAX 5            /* follow_redirects given without max */
#define CFG_FOLLOW_MAX_LIMIT 20
#define CFG_DEFAULT_FOLLOW_SCOPE CFG_FOLLOW_SAME_ORIGIN
#define CFG_DEFAULT_ROUTE_REWRITE_LOCATION true
#define CFG_DEFAULT_ROUTE_COMPRESSION_ENABLED (-1) /* unset: compression.enabled decides */
#define CFG_DEFAULT_COMPRESSION_ENABLED false
#define CFG_DEFAULT_COMPRESSION_MIN_SIZE 1024 /* 1KiB */
#define CFG_DEFAULT_COMPRESSION_GZIP_LEVEL 6
#define CFG_DEFAULT_COMPRESSION_BR_LEVEL 5
#define CFG_DEFAULT_COMPRESSION_ZSTD_LEVEL 3
#define CFG_DEFAULT_COMPRESSION_DECOMPRESS true
/* compression.encodings: [zstd, br, gzip]; compression.types: */
#define CFG_DEFAULT_COMPRESSION_TYPES                                                              \
    "text/*", "application/json", "application/javascript", "application/xml",                     \
        "application/*+json", "application/*+xml", "image/svg+xml"

/*
 * Loads and validates path. On failure returns NULL after printing every
 * error found to errs, one per line, as "path:line:col: message".
 */
struct config *config_load(const char *path, FILE *errs);
/* The embedded defaults: listen 127.0.0.1:3128, ACL and PURGE loopback only, CONNECT to 443. */
struct config *config_default(void);
struct config *config_ref(struct config *cfg);
/* Drops a reference and clears *cfgp; frees on the last one. */
void config_unref(struct config **cfgp);

bool config_acl_allows(const struct config *cfg, const struct sockaddr *sa);
/* Every listener magpie opens: listen's entries, then admin.listen's. */
static inline size_t config_nlisteners(const struct config *cfg)
{
    return cfg->nlisten + cfg->nadmin_listen;
}

static inline const struct cfg_listen *config_listener(const struct config *cfg, size_t i)
{
    return i < cfg->nlisten ? &cfg->listen[i] : &cfg->admin_listen[i - cfg->nlisten];
}

/* May this client use an admin listener? admin.allow, matched like the ACL. */
bool config_admin_allowed(const struct config *cfg, const struct sockaddr *sa);
/* May this client PURGE? admin.purge_allow, matched like the ACL. */
bool config_purge_allowed(const struct config *cfg, const struct sockaddr *sa);
/* host: the request's Host without port; case-insensitive. */
const struct cfg_route *config_route_find(const struct config *cfg, const char *host);
/* Whether responses on route rt (NULL: forward mode) are compressed. */
bool config_compression_on(const struct config *cfg, const struct cfg_route *rt);
/*
 * The cache rule governing url (absolute, len bytes) on route rt (NULL:
 * forward mode): the route's own cache: block, else the first of
 * cache.rules whose pattern matches, else config_default_rule. Never NULL.
 */
const struct cfg_cache_rule *config_cache_rule(const struct config *cfg, const struct cfg_route *rt,
                                               const char *url, size_t len);
/* What governs a URL no rule names: cached per RFC 9111 alone. */
extern const struct cfg_cache_rule config_default_rule;
/* The first of acl.rules that applies to a client at sa asking method of
   host:port (host without brackets), or NULL when none does. */
const struct cfg_acl_rule *config_acl_rule(const struct config *cfg, const struct sockaddr *sa,
                                           const char *host, uint16_t port, const char *method);
/* May a CONNECT request reach this port? Never with an empty list. */
bool config_connect_port_allowed(const struct config *cfg, uint16_t port);

/* "250ms", "10s", "5m", "1h", "30d" (a bare number is seconds). 0 on success. */
int config_parse_duration(const char *s, double *out);
/* "512", "512B", "64KiB", "1MiB", "1GiB", "1TiB". 0 on success. */
int config_parse_size(const char *s, uint64_t *out);
/* "1.2.3.4:80", "[::1]:80". 0 on success. */
int config_parse_sockaddr(const char *s, struct sockaddr_storage *ss, socklen_t *len);
/* "10.0.0.0/8", "::1/128", or a bare address (full prefix). 0 on success. */
int config_parse_cidr(const char *s, struct cfg_cidr *out);

#endif
