/*
 * config.c - the YAML file (or the embedded defaults) to one immutable,
 * reference-counted struct config.
 *
 * The file is read with libyaml's document API, whose nodes carry start
 * marks, so every complaint can say file:line:col. Each mapping level is a
 * static key table (name, setter, field offset, allowed range); the walker
 * looks keys up there, rejects unknown and repeated ones (with a "did you
 * mean" when a valid key is close) and calls the setter. Setters report and
 * carry on, so a single run lists every error in the file. Nothing here opens
 * sockets or log files: the caller acts on the validated result.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define CFG_PATH_MAX 128   /* longest dotted key path we build, "routes[12].origin" */
#define CFG_MAX_KEYS 16    /* keys per mapping level */
#define CFG_NAME_MAX 253   /* proxy_name and host names */
#define CFG_SUGGEST_MAX 32 /* longer unknown keys get no suggestion */
#define CFG_NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._"

/* One load: where errors go and how many there were. */
struct ctx {
    const char *file;
    FILE *errs;
    yaml_document_t *doc;
    unsigned nerr;
};

struct key;
/* Validates v and stores it in base (the struct the table describes). */
typedef void key_set_fn(struct ctx *c, const char *path, yaml_node_t *v, void *base,
                        const struct key *k);
#define SETTER(fn)                                                                                 \
    static void fn(struct ctx *c, const char *path, yaml_node_t *v, void *base,                    \
                   __attribute__((unused)) const struct key *k)
/* Parses list item s into arr[got] (got items are already good); true keeps it. */
typedef bool item_fn(struct ctx *c, const char *path, yaml_node_t *it, const char *s, void *arr,
                     size_t got);

struct key {
    const char *name;
    key_set_fn *set;
    size_t off;            /* field offset from base */
    double min, max;       /* numbers, sizes, durations: allowed range */
    const struct key *sub; /* set_map: the nested mapping's keys */
    item_fn *item;         /* set_list: one item's parser ... */
    size_t isz, noff;      /* ... the item size, the offset of the count field */
    const char *want;      /* ... and what an item is, for type errors */
};

#define FIELD(base, k, type) ((type *)(void *)((char *)(base) + (k)->off))

/* ---- error reporting ---- */

__attribute__((format(printf, 3, 4))) static void cfg_err(struct ctx *c, yaml_mark_t m,
                                                          const char *fmt, ...)
{
    va_list ap;

    fprintf(c->errs, "%s:%zu:%zu: ", c->file, m.line + 1, m.column + 1);
    va_start(ap, fmt);
    vfprintf(c->errs, fmt, ap);
    va_end(ap);
    fputc('\n', c->errs);
    c->nerr++;
}

/* A plain empty, "~" or "null" scalar: the key is present with no value. */
static bool is_null(const yaml_node_t *n)
{
    const char *v = (const char *)n->data.scalar.value;

    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static void type_err(struct ctx *c, const char *path, const yaml_node_t *n, const char *want)
{
    const char *got = n->type == YAML_MAPPING_NODE    ? "a mapping"
                      : n->type == YAML_SEQUENCE_NODE ? "a list"
                      : is_null(n)                    ? "nothing"
                                                      : NULL;

    if (got)
        cfg_err(c, n->start_mark, "%s: expected %s, got %s", path, want, got);
    else
        cfg_err(c, n->start_mark, "%s: expected %s, got \"%.40s\"", path, want,
                (const char *)n->data.scalar.value);
}

static void oom(struct ctx *c, const yaml_node_t *n)
{
    cfg_err(c, n->start_mark, "out of memory");
}

/* The text of a non-empty scalar, or NULL after reporting what it was. */
static const char *get_scalar(struct ctx *c, const char *path, yaml_node_t *n, const char *want)
{
    const char *s = (const char *)n->data.scalar.value;

    if (n->type != YAML_SCALAR_NODE || is_null(n) || !*s) {
        type_err(c, path, n, want);
        return NULL;
    }
    if (strlen(s) != n->data.scalar.length) {
        cfg_err(c, n->start_mark, "%s: contains a NUL byte", path);
        return NULL;
    }
    return s;
}

/* ---- small parsers ---- */

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

static int parse_uint(const char *s, uint64_t *out)
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
    } units[] = {{"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}};
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
    } units[] = {{"", 1, 1}, {"ms", 1, 1000}, {"s", 1, 1}, {"m", 60, 1}, {"h", 3600, 1}};
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

/* "80": 1..65535, at most 5 digits, nothing after. */
static int parse_port(const char *s, uint16_t *port)
{
    uint64_t v;

    if (strlen(s) > 5 || parse_uint(s, &v) || v < 1 || v > 65535)
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
    if (parse_port(end + 1, &port))
        return -2;
    if (v6)
        u.in6.sin6_family = AF_INET6, u.in6.sin6_port = htons(port);
    else
        u.in.sin_family = AF_INET, u.in.sin_port = htons(port);
    *ss = u.ss;
    *len = v6 ? sizeof u.in6 : sizeof u.in;
    return 0;
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
    if (slash && (strlen(slash + 1) > 3 || parse_uint(slash + 1, &prefix) ||
                  prefix > (c.family == AF_INET ? 32u : 128u)))
        return -1;
    c.prefix = (unsigned)prefix;
    for (unsigned bit = c.prefix; bit < 128; bit++)
        c.addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    *out = c;
    return 0;
}

/* A DNS server: "ip", "[ip6]", "ip:port" or "[ip6]:port"; -2 for a bad port. */
static int parse_dns_server(const char *s)
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

static bool is_name(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n <= CFG_NAME_MAX && strspn(s, CFG_NAME_CHARS) == n;
}

static char *dup_lower(const char *s, size_t n)
{
    char *d = strndup(s, n);

    for (char *p = d; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return d;
}

/* "http[s]://host[:port][/]". -1: scheme, -2: malformed, -3: port. */
static int parse_origin(const char *s, struct cfg_route *r)
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
        hl = strspn(p, CFG_NAME_CHARS);
        if (hl == 0 || hl > CFG_NAME_MAX)
            return -2;
        e = p + hl;
    }
    if (*e == ':') {
        pl = strcspn(e + 1, "/");
        if (!copy_span(port, sizeof port, e + 1, pl) || parse_port(port, &r->origin_port))
            return -3;
        e += 1 + pl;
    }
    if (*e && strcmp(e, "/"))
        return -2;
    free(r->origin_host);
    r->origin_host = dup_lower(p, hl);
    return 0;
}

/* ---- formatting ranges back for messages ---- */

static const char *fmt_duration(double v, char *buf, size_t sz)
{
    uint64_t i = (uint64_t)v;

    if (v != (double)i)
        snprintf(buf, sz, "%gms", v * 1000);
    else if (i && i % 3600 == 0)
        snprintf(buf, sz, "%" PRIu64 "h", i / 3600);
    else if (i && i % 60 == 0)
        snprintf(buf, sz, "%" PRIu64 "m", i / 60);
    else
        snprintf(buf, sz, "%" PRIu64 "s", i);
    return buf;
}

static const char *fmt_size(uint64_t v, char *buf, size_t sz)
{
    static const char *const sfx[] = {"B", "KiB", "MiB", "GiB"};
    unsigned u = 0;

    while (u < 3 && v && v % 1024 == 0)
        v /= 1024, u++;
    snprintf(buf, sz, "%" PRIu64 "%s", v, sfx[u]);
    return buf;
}

/* ---- the walker ---- */

static unsigned min3(unsigned a, unsigned b, unsigned c)
{
    return a < b ? (a < c ? a : c) : (b < c ? b : c);
}

/* Damerau-Levenshtein (optimal string alignment), ignoring ASCII case. */
static unsigned edit_distance(const char *a, const char *b)
{
    unsigned d[CFG_SUGGEST_MAX + 1][CFG_SUGGEST_MAX + 1];
    size_t la = strlen(a), lb = strlen(b);

    if (la > CFG_SUGGEST_MAX || lb > CFG_SUGGEST_MAX)
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

static void unknown_key(struct ctx *c, const char *path, const yaml_node_t *kn, const char *name,
                        const struct key *keys)
{
    const char *best = NULL, *dot = *path ? "." : "";
    unsigned bestd = 3;

    for (const struct key *k = keys; k->name; k++) {
        unsigned d = edit_distance(name, k->name);
        if (d < bestd)
            best = k->name, bestd = d;
    }
    if (best)
        cfg_err(c, kn->start_mark, "unknown key \"%s%s%s\" (did you mean \"%s%s%s\"?)", path, dot,
                name, path, dot, best);
    else
        cfg_err(c, kn->start_mark, "unknown key \"%s%s%s\"", path, dot, name);
}

/* Checks each key of map against keys and calls its setter. vals, when
 * given (CFG_MAX_KEYS long), receives the value node of each key seen. */
static void walk_map(struct ctx *c, const char *path, yaml_node_t *map, void *base,
                     const struct key *keys, yaml_node_t **vals)
{
    yaml_node_t *seen[CFG_MAX_KEYS] = {0};
    char cp[CFG_PATH_MAX];

    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(c->doc, p->value);
        const char *name;
        size_t i = 0;

        if (kn->type != YAML_SCALAR_NODE) {
            type_err(c, *path ? path : "key", kn, "a key name");
            continue;
        }
        name = (const char *)kn->data.scalar.value;
        while (keys[i].name && strcmp(keys[i].name, name))
            i++;
        if (!keys[i].name) {
            unknown_key(c, path, kn, name, keys);
            continue;
        }
        snprintf(cp, sizeof cp, "%s%s%s", path, *path ? "." : "", name);
        if (seen[i]) {
            cfg_err(c, kn->start_mark, "duplicate key \"%s\" (first at line %zu)", cp,
                    seen[i]->start_mark.line + 1);
            continue;
        }
        seen[i] = kn;
        if (vals)
            vals[i] = vn;
        keys[i].set(c, cp, vn, base, &keys[i]);
    }
}

/* True for a mapping with content; a key with no value keeps its defaults. */
static bool is_map(struct ctx *c, const char *path, yaml_node_t *v)
{
    if (is_null(v))
        return false;
    if (v->type != YAML_MAPPING_NODE) {
        type_err(c, path, v, "a mapping");
        return false;
    }
    return true;
}

/* A list value: a sequence, nothing (empty) or, if lone_ok, one scalar. */
static bool is_list(struct ctx *c, const char *path, yaml_node_t *v, bool lone_ok)
{
    if (v->type == YAML_MAPPING_NODE || (v->type == YAML_SCALAR_NODE && !lone_ok && !is_null(v))) {
        type_err(c, path, v, "a list");
        return false;
    }
    return true;
}

static size_t list_len(const yaml_node_t *v)
{
    if (v->type == YAML_SEQUENCE_NODE)
        return (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    return is_null(v) ? 0 : 1;
}

/* Item i of a list value, with its path ("listen[1]") in buf. */
static yaml_node_t *list_at(struct ctx *c, const char *path, yaml_node_t *v, size_t i, char *buf)
{
    if (v->type != YAML_SEQUENCE_NODE) {
        snprintf(buf, CFG_PATH_MAX, "%s", path);
        return v;
    }
    snprintf(buf, CFG_PATH_MAX, "%s[%zu]", path, i);
    return yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
}

/* ---- setters ---- */

/* Reports `path: "s" what` and returns false. */
static bool bad(struct ctx *c, const yaml_node_t *n, const char *path, const char *s,
                const char *what)
{
    cfg_err(c, n->start_mark, "%s: \"%s\" %s", path, s, what);
    return false;
}

#define BAD_PORT "has a bad port (use 1..65535)"

SETTER(set_map)
{
    if (is_map(c, path, v))
        walk_map(c, path, v, base, k->sub, NULL);
}

SETTER(set_uint)
{
    const char *s = get_scalar(c, path, v, "a number");
    uint64_t n;
    int rc = s ? parse_uint(s, &n) : 0;

    if (!s)
        return;
    if (rc == -1)
        bad(c, v, path, s, "is not a number");
    else if (rc || n < k->min || n > k->max)
        cfg_err(c, v->start_mark, "%s: %s is out of range (%.0f..%.0f)", path, s, k->min, k->max);
    else
        *FIELD(base, k, unsigned) = (unsigned)n;
}

SETTER(set_size)
{
    const char *s = get_scalar(c, path, v, "a size");
    char lo[32], hi[32];
    uint64_t n;
    int rc = s ? config_parse_size(s, &n) : 0;

    if (!s)
        return;
    if (rc == -1)
        bad(c, v, path, s, "is not a size (use B, KiB, MiB or GiB)");
    else if (rc || n < k->min || n > k->max)
        cfg_err(c, v->start_mark, "%s: %s is out of range (%s..%s)", path, s,
                fmt_size((uint64_t)k->min, lo, sizeof lo),
                fmt_size((uint64_t)k->max, hi, sizeof hi));
    else
        *FIELD(base, k, size_t) = (size_t)n;
}

SETTER(set_duration)
{
    const char *s = get_scalar(c, path, v, "a duration");
    char lo[32], hi[32];
    double d;
    int rc = s ? config_parse_duration(s, &d) : 0;

    if (!s)
        return;
    if (rc == -1)
        bad(c, v, path, s, "is not a duration (use ms, s, m or h)");
    else if (rc || d < k->min || d > k->max)
        cfg_err(c, v->start_mark, "%s: %s is out of range (%s..%s)", path, s,
                fmt_duration(k->min, lo, sizeof lo), fmt_duration(k->max, hi, sizeof hi));
    else
        *FIELD(base, k, double) = d;
}

SETTER(set_log_level)
{
    static const char *const names[] = {
        [LOGL_ERROR] = "error", [LOGL_WARN] = "warn", [LOGL_INFO] = "info", [LOGL_DEBUG] = "debug"};
    const char *s = get_scalar(c, path, v, "a log level");

    for (int i = LOGL_ERROR; s && i <= LOGL_DEBUG; i++) {
        if (!strcmp(s, names[i])) {
            *FIELD(base, k, enum log_level) = (enum log_level)i;
            return;
        }
    }
    if (s)
        bad(c, v, path, s, "is not a log level (use error, warn, info or debug)");
}

/* Replaces a string field with a copy of s (NULL clears it). */
static void store_str(struct ctx *c, yaml_node_t *v, char **field, const char *s)
{
    char *d = NULL;

    if (s && !(d = strdup(s))) {
        oom(c, v);
        return;
    }
    free(*field);
    *field = d;
}

/* A path, "-" for stderr, or "off" (NULL). */
SETTER(set_access_log)
{
    const char *s = get_scalar(c, path, v, "a path");

    if (s)
        store_str(c, v, FIELD(base, k, char *), strcmp(s, "off") ? s : NULL);
}

/* A path or "-": errors are never thrown away. */
SETTER(set_error_log)
{
    const char *s = get_scalar(c, path, v, "a path");

    if (s && !strcmp(s, "off"))
        cfg_err(c, v->start_mark, "%s: cannot be \"off\" (use a path or \"-\")", path);
    else if (s)
        store_str(c, v, FIELD(base, k, char *), s);
}

SETTER(set_name)
{
    const char *s = get_scalar(c, path, v, "a name");

    if (s && !is_name(s))
        bad(c, v, path, s, "is not a valid name (use letters, digits, '-', '.' or '_')");
    else if (s)
        store_str(c, v, FIELD(base, k, char *), s);
}

/*
 * A list of scalars (a lone scalar is a one-item list) into a new array of
 * k->isz items, replacing the array at k->off and its count at k->noff. The
 * old array is always a default of flat items: each key is set only once.
 */
SETTER(set_list)
{
    size_t n = list_len(v), got = 0;
    char *arr, *old, ip[CFG_PATH_MAX];

    if (!is_list(c, path, v, true))
        return;
    if (n < k->min) {
        cfg_err(c, v->start_mark, "%s: must not be empty", path);
        return;
    }
    if (!(arr = calloc(n ? n : 1, k->isz))) {
        oom(c, v);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = list_at(c, path, v, i, ip);
        const char *s = get_scalar(c, ip, it, k->want);

        if (s && k->item(c, ip, it, s, arr, got))
            got++;
    }
    memcpy(&old, FIELD(base, k, char *), sizeof old);
    free(old);
    memcpy(FIELD(base, k, char *), &arr, sizeof arr);
    *(size_t *)(void *)((char *)base + k->noff) = got;
}

static bool listen_item(struct ctx *c, const char *path, yaml_node_t *it, const char *s, void *arr,
                        size_t got)
{
    struct cfg_listen *ls = arr, *l = &ls[got];
    int rc = config_parse_sockaddr(s, &l->addr, &l->addrlen);

    if (rc == -1 || strlen(s) >= sizeof l->text)
        return bad(c, it, path, s, "is not an address:port");
    if (rc)
        return bad(c, it, path, s, BAD_PORT);
    for (size_t j = 0; j < got; j++)
        if (ls[j].addrlen == l->addrlen && !memcmp(&ls[j].addr, &l->addr, l->addrlen))
            return bad(c, it, path, s, "is listed twice");
    snprintf(l->text, sizeof l->text, "%s", s);
    return true;
}

static bool cidr_item(struct ctx *c, const char *path, yaml_node_t *it, const char *s, void *arr,
                      size_t got)
{
    if (config_parse_cidr(s, (struct cfg_cidr *)arr + got))
        return bad(c, it, path, s, "is not a CIDR");
    return true;
}

static bool dns_server_item(struct ctx *c, const char *path, yaml_node_t *it, const char *s,
                            void *arr, size_t got)
{
    int rc = parse_dns_server(s);

    if (rc == -1)
        return bad(c, it, path, s, "is not an IP address or address:port");
    if (rc)
        return bad(c, it, path, s, BAD_PORT);
    if (!(((char **)arr)[got] = strdup(s))) {
        oom(c, it);
        return false;
    }
    return true;
}

SETTER(set_route_host)
{
    struct cfg_route *r = base;
    const char *s = get_scalar(c, path, v, "a host name");

    if (s && !is_name(s))
        bad(c, v, path, s, "is not a host name");
    else if (s && !(r->host = dup_lower(s, strlen(s))))
        oom(c, v);
}

SETTER(set_route_origin)
{
    struct cfg_route *r = base;
    const char *s = get_scalar(c, path, v, "an origin URL");
    int rc = s ? parse_origin(s, r) : 0;

    if (!s)
        return;
    if (rc == -1)
        bad(c, v, path, s, "must start with http:// or https://");
    else if (rc == -2)
        bad(c, v, path, s, "is not an origin (use http[s]://host[:port])");
    else if (rc)
        bad(c, v, path, s, BAD_PORT);
    else if (!r->origin_host || !(r->origin = strdup(s)))
        oom(c, v);
}

static const struct key route_keys[] = {
    {.name = "host", .set = set_route_host},
    {.name = "origin", .set = set_route_origin},
    {.name = NULL},
};

static void parse_route(struct ctx *c, const char *path, size_t i, yaml_node_t *it,
                        struct config *cfg)
{
    yaml_node_t *vals[CFG_MAX_KEYS] = {0};
    struct cfg_route *r = &cfg->routes[i];
    char ip[CFG_PATH_MAX];

    snprintf(ip, sizeof ip, "%s[%zu]", path, i);
    if (it->type != YAML_MAPPING_NODE) {
        type_err(c, ip, it, "a mapping");
        return;
    }
    walk_map(c, ip, it, r, route_keys, vals);
    for (size_t j = 0; route_keys[j].name; j++)
        if (!vals[j])
            cfg_err(c, it->start_mark, "%s: missing \"%s\"", ip, route_keys[j].name);
    for (size_t j = 0; r->host && j < i; j++) {
        if (cfg->routes[j].host && !strcmp(cfg->routes[j].host, r->host)) {
            cfg_err(c, vals[0]->start_mark, "%s.host: duplicate host \"%s\" (see %s[%zu])", ip,
                    r->host, path, j);
            break;
        }
    }
}

static void free_routes(struct cfg_route *rs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rs[i].host);
        free(rs[i].origin);
        free(rs[i].origin_host);
    }
    free(rs);
}

/* Routes are a list of mappings; the default (none) is replaced. */
SETTER(set_routes)
{
    struct config *cfg = base;
    size_t n = list_len(v);

    if (!is_list(c, path, v, false))
        return;
    if (!(cfg->routes = calloc(n ? n : 1, sizeof *cfg->routes))) {
        oom(c, v);
        return;
    }
    cfg->nroutes = n;
    for (size_t i = 0; i < n; i++)
        parse_route(c, path, i, yaml_document_get_node(c->doc, v->data.sequence.items.start[i]),
                    cfg);
}

/* ---- the schema ---- */

#define OFF(f) offsetof(struct config, f)
#define MS 0.001
#define MIN 60.0
#define HOUR 3600.0
#define DURATION(n, f, lo, hi)                                                                     \
    {                                                                                              \
        .name = n, .set = set_duration, .off = OFF(f), .min = lo, .max = hi                        \
    }
#define SIZE(n, f, lo, hi)                                                                         \
    {                                                                                              \
        .name = n, .set = set_size, .off = OFF(f), .min = lo, .max = hi                            \
    }
#define LIST(n, f, cnt, fn, atleast, what)                                                         \
    {                                                                                              \
        .name = n, .set = set_list, .off = OFF(f), .noff = OFF(cnt), .item = fn,                   \
        .isz = sizeof(*((struct config *)0)->f), .min = atleast, .want = what                      \
    }

enum { LIM_CONNS, LIM_HEADER, LIM_URI, LIM_HDR_TIMEOUT, LIM_IDLE_TIMEOUT, LIM_SHUTDOWN, LIM_N };

static const struct key limits_keys[] = {
    [LIM_CONNS] = {.name = "max_connections",
                   .set = set_uint,
                   .off = OFF(limits.max_connections),
                   .min = 1,
                   .max = 1000000},
    [LIM_HEADER] = SIZE("max_header_bytes", limits.max_header_bytes, 1024, 1 << 20),
    [LIM_URI] = SIZE("max_uri_bytes", limits.max_uri_bytes, 256, 1 << 20),
    [LIM_HDR_TIMEOUT] = DURATION("client_header_timeout", limits.client_header_timeout, MS, HOUR),
    [LIM_IDLE_TIMEOUT] = DURATION("client_idle_timeout", limits.client_idle_timeout, MS, 24 * HOUR),
    [LIM_SHUTDOWN] = DURATION("shutdown_timeout", limits.shutdown_timeout, MS, HOUR),
    [LIM_N] = {.name = NULL},
};

/* limits, plus the one rule that spans two keys. */
SETTER(set_limits)
{
    struct config *cfg = base;
    yaml_node_t *vals[CFG_MAX_KEYS] = {0};
    unsigned nerr = c->nerr;
    char a[32], b[32];

    if (!is_map(c, path, v))
        return;
    walk_map(c, path, v, base, limits_keys, vals);
    if (c->nerr != nerr || cfg->limits.max_uri_bytes <= cfg->limits.max_header_bytes)
        return;
    cfg_err(c, (vals[LIM_URI] ? vals[LIM_URI] : vals[LIM_HEADER])->start_mark,
            "%s.max_uri_bytes (%s) must not exceed %s.max_header_bytes (%s)", path,
            fmt_size(cfg->limits.max_uri_bytes, a, sizeof a), path,
            fmt_size(cfg->limits.max_header_bytes, b, sizeof b));
}

static const struct key acl_keys[] = {
    LIST("allow", acl_allow, nacl_allow, cidr_item, 0, "a CIDR"),
    {.name = NULL},
};

static const struct key upstream_keys[] = {
    DURATION("connect_timeout", upstream.connect_timeout, MS, 10 * MIN),
    DURATION("read_timeout", upstream.read_timeout, MS, HOUR),
    {.name = NULL},
};

static const struct key dns_keys[] = {
    LIST("servers", dns.servers, dns.nservers, dns_server_item, 0, "an address"),
    DURATION("max_ttl", dns.max_ttl, 0, 24 * HOUR),
    DURATION("timeout", dns.timeout, MS, 5 * MIN),
    {.name = NULL},
};

static const struct key top_keys[] = {
    LIST("listen", listen, nlisten, listen_item, 1, "an address:port"),
    {.name = "acl", .set = set_map, .sub = acl_keys},
    {.name = "access_log", .set = set_access_log, .off = OFF(access_log)},
    {.name = "error_log", .set = set_error_log, .off = OFF(error_log)},
    {.name = "log_level", .set = set_log_level, .off = OFF(log_level)},
    {.name = "proxy_name", .set = set_name, .off = OFF(proxy_name)},
    {.name = "limits", .set = set_limits},
    {.name = "upstream", .set = set_map, .sub = upstream_keys},
    {.name = "dns", .set = set_map, .sub = dns_keys},
    {.name = "routes", .set = set_routes},
    {.name = NULL},
};

/* ---- life cycle ---- */

static void config_free(struct config *cfg)
{
    free(cfg->path);
    free(cfg->listen);
    free(cfg->acl_allow);
    free(cfg->access_log);
    free(cfg->error_log);
    free(cfg->proxy_name);
    for (size_t i = 0; i < cfg->dns.nservers; i++)
        free(cfg->dns.servers[i]);
    free(cfg->dns.servers);
    free_routes(cfg->routes, cfg->nroutes);
    free(cfg);
}

static char *default_proxy_name(void)
{
    char h[256];

    if (gethostname(h, sizeof h) != 0)
        return strdup("magpie");
    h[sizeof h - 1] = '\0';
    return strdup(is_name(h) ? h : "magpie");
}

struct config *config_default(void)
{
    struct config *cfg = calloc(1, sizeof *cfg);

    if (!cfg)
        return NULL;
    cfg->refs = 1;
    cfg->listen = calloc(1, sizeof *cfg->listen);
    cfg->acl_allow = calloc(2, sizeof *cfg->acl_allow);
    cfg->access_log = strdup("-");
    cfg->error_log = strdup("-");
    cfg->proxy_name = default_proxy_name();
    if (!cfg->listen || !cfg->acl_allow || !cfg->access_log || !cfg->error_log ||
        !cfg->proxy_name) {
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
    cfg->limits.max_connections = CFG_DEFAULT_MAX_CONNECTIONS;
    cfg->limits.max_header_bytes = CFG_DEFAULT_MAX_HEADER_BYTES;
    cfg->limits.max_uri_bytes = CFG_DEFAULT_MAX_URI_BYTES;
    cfg->limits.client_header_timeout = CFG_DEFAULT_CLIENT_HEADER_TIMEOUT;
    cfg->limits.client_idle_timeout = CFG_DEFAULT_CLIENT_IDLE_TIMEOUT;
    cfg->limits.shutdown_timeout = CFG_DEFAULT_SHUTDOWN_TIMEOUT;
    cfg->upstream.connect_timeout = CFG_DEFAULT_CONNECT_TIMEOUT;
    cfg->upstream.read_timeout = CFG_DEFAULT_READ_TIMEOUT;
    cfg->dns.max_ttl = CFG_DEFAULT_DNS_MAX_TTL;
    cfg->dns.timeout = CFG_DEFAULT_DNS_TIMEOUT;
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

/* libyaml gives reader errors (bad UTF-8) as a byte offset only. */
static yaml_mark_t offset_mark(FILE *f, size_t offset)
{
    yaml_mark_t m = {0, 0, 0};
    int ch;

    rewind(f);
    for (; m.index < offset && (ch = getc(f)) != EOF; m.index++) {
        m.column = ch == '\n' ? 0 : m.column + 1;
        m.line += ch == '\n';
    }
    return m;
}

static void syntax_err(struct ctx *c, const yaml_parser_t *p, FILE *f)
{
    yaml_mark_t m = p->problem_mark;
    const char *problem = p->problem ? p->problem : "out of memory", *hint = "";

    if (p->error == YAML_READER_ERROR)
        m = offset_mark(f, p->problem_offset);
    /* An unquoted "::1" or "[::1]:80" in a list trips on the ':'. */
    else if (!strcmp(problem, "did not find expected node content") &&
             fseek(f, (long)m.index, SEEK_SET) == 0 && getc(f) == ':')
        hint = "; quote addresses like \"::1\" and \"[::1]:3128\"";
    if (p->context)
        cfg_err(c, m, "syntax error: %s (%s)%s", problem, p->context, hint);
    else
        cfg_err(c, m, "syntax error: %s%s", problem, hint);
}

static void load_root(struct ctx *c, struct config *cfg, yaml_node_t *root)
{
    if (!root || is_null(root))
        return;
    if (root->type != YAML_MAPPING_NODE) {
        type_err(c, "top level", root, "a mapping");
        return;
    }
    walk_map(c, "", root, cfg, top_keys, NULL);
}

/* Parses the one document in the stream into cfg, reporting to c. */
static void load_stream(struct ctx *c, struct config *cfg, FILE *f)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *extra;

    if (!yaml_parser_initialize(&parser)) {
        fprintf(c->errs, "%s: out of memory\n", c->file);
        c->nerr++;
        return;
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_err(c, &parser, f);
    } else {
        c->doc = &doc;
        load_root(c, cfg, yaml_document_get_root_node(&doc));
        yaml_document_delete(&doc);
        c->doc = NULL;
        if (!yaml_parser_load(&parser, &doc)) {
            syntax_err(c, &parser, f);
        } else {
            if ((extra = yaml_document_get_root_node(&doc)))
                cfg_err(c, extra->start_mark, "only one YAML document is allowed");
            yaml_document_delete(&doc);
        }
    }
    yaml_parser_delete(&parser);
}

struct config *config_load(const char *path, FILE *errs)
{
    struct ctx c = {.file = path, .errs = errs ? errs : stderr};
    struct config *cfg;
    struct stat st;
    FILE *f = fopen(path, "rb");

    if (f && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        f = NULL;
        errno = EISDIR;
    }
    if (!f) {
        fprintf(c.errs, "%s: cannot open: %s\n", path, strerror(errno));
        return NULL;
    }
    cfg = config_default();
    if (!cfg || !(cfg->path = strdup(path))) {
        fprintf(c.errs, "%s: out of memory\n", path);
        config_unref(&cfg);
        fclose(f);
        return NULL;
    }
    load_stream(&c, cfg, f);
    fclose(f);
    if (c.nerr)
        config_unref(&cfg);
    return cfg;
}

/* ---- queries ---- */

static bool prefix_match(const uint8_t *net, const uint8_t *addr, unsigned prefix)
{
    unsigned bytes = prefix / 8, bits = prefix % 8;
    uint8_t mask = (uint8_t)(0xff00u >> bits);

    if (memcmp(net, addr, bytes))
        return false;
    return !bits || (net[bytes] & mask) == (addr[bytes] & mask);
}

bool config_acl_allows(const struct config *cfg, const struct sockaddr *sa)
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
    for (size_t i = 0; i < cfg->nacl_allow; i++) {
        const struct cfg_cidr *c = &cfg->acl_allow[i];
        if (c->family == family && prefix_match(c->addr, a, c->prefix))
            return true;
        if (is_mapped && c->family == AF_INET && prefix_match(c->addr, a + 12, c->prefix))
            return true;
    }
    return false;
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
