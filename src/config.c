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
 * sockets, log files or TLS files: the caller acts on the validated result.
 * Turning a scalar's text into a value (numbers, addresses, origins), the
 * queries on a loaded config and its life cycle (defaults, references,
 * freeing) are in cfgval.c; this file walks the YAML and reports.
 */
#include "config.h"
#include "auth.h"
#include "cfgval.h"
#include "rules.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define CFG_PATH_MAX 128 /* longest dotted key path we build, "routes[12].origin" */
#define CFG_MAX_KEYS 24  /* keys per mapping level (the top level has 17) */
/* Values an alias may read again: without a bound, a short file naming one
   long list many times would hold the loop (a reload) and fill memory. */
#define CFG_ALIAS_READS 16384

/* One load: where errors go and how many there were. */
struct ctx {
    const char *file;
    FILE *errs;
    yaml_document_t *doc;
    unsigned nerr;
    size_t reads, max_reads; /* keys and scalars read: the document's nodes, aliases aside */
    bool read_out;           /* past max_reads: what follows goes unreported */
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
    item_fn *mitem;        /* ... a mapping item's (s is NULL), NULL if not allowed ... */
    size_t isz, noff;      /* ... the item size, the offset of the count field */
    const char *want;      /* ... what an item is, for type errors ... */
    bool owns_strs;        /* ... and whether the default's items are strings it owns */
};

#define FIELD(base, k, type) ((type *)(void *)((char *)(base) + (k)->off))

/* ---- error reporting ---- */

__attribute__((format(printf, 3, 4))) static void cfg_err(struct ctx *c, yaml_mark_t m,
                                                          const char *fmt, ...)
{
    va_list ap;

    c->nerr++;
    if (c->read_out)
        return;
    fprintf(c->errs, "%s:%zu:%zu: ", c->file, m.line + 1, m.column + 1);
    va_start(ap, fmt);
    vfprintf(c->errs, fmt, ap);
    va_end(ap);
    fputc('\n', c->errs);
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

/* Whether one more key or scalar may be read (reported once when not). */
static bool may_read(struct ctx *c, const yaml_node_t *n)
{
    if (c->reads++ < c->max_reads)
        return true;
    if (!c->read_out)
        cfg_err(c, n->start_mark, "aliases repeat more than %d values: not read further",
                CFG_ALIAS_READS);
    c->read_out = true;
    return false;
}

/* The text of a non-empty scalar, or NULL after reporting what it was. */
static const char *get_scalar(struct ctx *c, const char *path, yaml_node_t *n, const char *want)
{
    const char *s = (const char *)n->data.scalar.value;

    if (!may_read(c, n))
        return NULL;
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

/* ---- the walker ---- */

static void unknown_key(struct ctx *c, const char *path, const yaml_node_t *kn, const char *name,
                        const struct key *keys)
{
    const char *best = NULL, *dot = *path ? "." : "";
    unsigned bestd = 3;

    for (const struct key *k = keys; k->name; k++) {
        unsigned d = cfgval_distance(name, k->name);
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

        if (!may_read(c, kn))
            return;
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

/* A key path into buf (CFG_PATH_MAX bytes), cut short when it is longer:
   it only names the key in messages. */
__attribute__((format(printf, 2, 3))) static void path_fmt(char *buf, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, CFG_PATH_MAX, fmt, ap);
    va_end(ap);
}

/* Item i of a list value, with its path ("listen[1]") in buf. */
static yaml_node_t *list_at(struct ctx *c, const char *path, yaml_node_t *v, size_t i, char *buf)
{
    if (v->type != YAML_SEQUENCE_NODE) {
        snprintf(buf, CFG_PATH_MAX, "%s", path);
        return v;
    }
    path_fmt(buf, "%s[%zu]", path, i);
    return yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
}

/* A list of mappings (routes, redirects, cache.rules): a zeroed array of
 *n items of isz bytes, or NULL (*n 0) after reporting. */
static void *mapping_list(struct ctx *c, const char *path, yaml_node_t *v, size_t isz, size_t *n)
{
    size_t len = list_len(v);
    void *arr;

    *n = 0;
    if (!is_list(c, path, v, false))
        return NULL;
    if (!(arr = calloc(len ? len : 1, isz))) {
        oom(c, v);
        return NULL;
    }
    *n = len;
    return arr;
}

/* Item i of sequence v (mapping_list made room for each). */
static yaml_node_t *seq_item(struct ctx *c, yaml_node_t *v, size_t i)
{
    return yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
}

/* Reports each of the first n keys that vals (from walk_map) lacks. */
static void require_keys(struct ctx *c, const char *path, const yaml_node_t *map,
                         const struct key *keys, yaml_node_t **vals, size_t n)
{
    for (size_t j = 0; j < n; j++)
        if (!vals[j])
            cfg_err(c, map->start_mark, "%s: missing \"%s\"", path, keys[j].name);
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
    int rc = s ? cfgval_uint(s, &n) : 0;

    if (!s)
        return;
    if (rc == -1)
        bad(c, v, path, s, "is not a number");
    else if (rc || n < k->min || n > k->max)
        cfg_err(c, v->start_mark, "%s: %s is out of range (%.0f..%.0f)", path, s, k->min, k->max);
    else
        *FIELD(base, k, unsigned) = (unsigned)n;
}

/* A size within k's range into *n; false after reporting. */
static bool get_size(struct ctx *c, const char *path, yaml_node_t *v, const struct key *k,
                     uint64_t *n)
{
    const char *s = get_scalar(c, path, v, "a size");
    char lo[32], hi[32];
    int rc = s ? config_parse_size(s, n) : 0;

    if (!s)
        return false;
    if (rc == -1)
        return bad(c, v, path, s, "is not a size (use B, KiB, MiB, GiB or TiB)");
    if (!rc && *n >= k->min && *n <= k->max)
        return true;
    cfg_err(c, v->start_mark, "%s: %s is out of range (%s..%s)", path, s,
            cfgval_fmt_size((uint64_t)k->min, lo, sizeof lo),
            cfgval_fmt_size((uint64_t)k->max, hi, sizeof hi));
    return false;
}

SETTER(set_size)
{
    uint64_t n;

    if (get_size(c, path, v, k, &n))
        *FIELD(base, k, size_t) = (size_t)n;
}

/* Cache sizes: 64 bits wherever size_t is narrower. */
SETTER(set_size64)
{
    uint64_t n;

    if (get_size(c, path, v, k, &n))
        *FIELD(base, k, uint64_t) = n;
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
        bad(c, v, path, s, "is not a duration (use ms, s, m, h or d)");
    else if (rc || d < k->min || d > k->max)
        cfg_err(c, v->start_mark, "%s: %s is out of range (%s..%s)", path, s,
                cfgval_fmt_duration(k->min, lo, sizeof lo),
                cfgval_fmt_duration(k->max, hi, sizeof hi));
    else
        *FIELD(base, k, double) = d;
}

/* One of an enum's names[0..n), in the enum's order: its index, or -1
   after reporting that v is not want (and what to use, in use). */
static int get_enum(struct ctx *c, const char *path, yaml_node_t *v, const char *want,
                    const char *const *names, int n, const char *use)
{
    const char *s = get_scalar(c, path, v, want);

    for (int i = 0; s && i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    if (s)
        cfg_err(c, v->start_mark, "%s: \"%s\" is not %s (use %s)", path, s, want, use);
    return -1;
}

SETTER(set_log_level)
{
    static const char *const names[] = {
        [LOGL_ERROR] = "error", [LOGL_WARN] = "warn", [LOGL_INFO] = "info", [LOGL_DEBUG] = "debug"};
    int i =
        get_enum(c, path, v, "a log level", names, LOGL_DEBUG + 1, "error, warn, info or debug");

    if (i >= 0)
        *FIELD(base, k, enum log_level) = (enum log_level)i;
}

SETTER(set_access_log_format)
{
    static const char *const names[] = {[CFG_ACCESS_LOG_DEFAULT] = "default",
                                        [CFG_ACCESS_LOG_COMBINED] = "combined",
                                        [CFG_ACCESS_LOG_JSON] = "json"};
    int i = get_enum(c, path, v, "an access log format", names, CFG_ACCESS_LOG_JSON + 1,
                     "default, combined or json");

    if (i >= 0)
        *FIELD(base, k, enum cfg_access_log_format) = (enum cfg_access_log_format)i;
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

    if (s && !cfgval_is_name(s))
        bad(c, v, path, s, "is not a valid name (use letters, digits, '-', '.' or '_')");
    else if (s)
        store_str(c, v, FIELD(base, k, char *), s);
}

/* A file path (only its syntax: the files are opened by whoever uses them). */
SETTER(set_path)
{
    const char *s = get_scalar(c, path, v, "a path");

    if (s)
        store_str(c, v, FIELD(base, k, char *), s);
}

/* A boolean into *b; false after reporting. */
static bool get_bool(struct ctx *c, const char *path, yaml_node_t *v, bool *b)
{
    const char *s = get_scalar(c, path, v, "a boolean");

    if (s && cfgval_bool(s, b))
        return bad(c, v, path, s, "is not a boolean (use true or false)");
    return s != NULL;
}

SETTER(set_bool)
{
    bool b;

    if (get_bool(c, path, v, &b))
        *FIELD(base, k, bool) = b;
}

/* A boolean that may be left unset: 1 or 0 into an int whose default is -1. */
SETTER(set_bool_int)
{
    bool b;

    if (get_bool(c, path, v, &b))
        *FIELD(base, k, int) = b;
}

/* A list value with at least k->min items; false after reporting. */
static bool list_sized(struct ctx *c, const char *path, yaml_node_t *v, const struct key *k)
{
    if (!is_list(c, path, v, true))
        return false;
    if (list_len(v) >= k->min)
        return true;
    cfg_err(c, v->start_mark, "%s: must not be empty", path);
    return false;
}

/* Parses each item of list v into arr with k's item parsers; the number kept. */
static size_t list_items(struct ctx *c, const char *path, yaml_node_t *v, const struct key *k,
                         void *arr)
{
    size_t n = list_len(v), got = 0;
    char ip[CFG_PATH_MAX];

    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = list_at(c, path, v, i, ip);
        const char *s;

        if (k->mitem && it->type == YAML_MAPPING_NODE) {
            if (k->mitem(c, ip, it, NULL, arr, got))
                got++;
        } else if ((s = get_scalar(c, ip, it, k->want)) && k->item(c, ip, it, s, arr, got)) {
            got++;
        }
    }
    return got;
}

/*
 * A list of scalars (a lone scalar is a one-item list) into a new array of
 * k->isz items, replacing the array at k->off and its count at k->noff.
 * Items that are mappings go to k->mitem when it is set. The old array is
 * always a default (each key is set only once) whose items own no memory,
 * or, with k->owns_strs, are strings freed with it.
 */
SETTER(set_list)
{
    size_t n = list_len(v), *count = (size_t *)(void *)((char *)base + k->noff);
    char *arr, *old;

    if (!list_sized(c, path, v, k))
        return;
    if (!(arr = calloc(n ? n : 1, k->isz))) {
        oom(c, v);
        return;
    }
    memcpy(&old, FIELD(base, k, char *), sizeof old);
    for (size_t i = 0; k->owns_strs && i < *count; i++)
        free(((char **)(void *)old)[i]);
    free(old);
    memcpy(FIELD(base, k, char *), &arr, sizeof arr);
    *count = list_items(c, path, v, k, arr);
}

/* "ip:port" into l's address and text. */
static bool listen_addr(struct ctx *c, const char *path, yaml_node_t *n, const char *s,
                        struct cfg_listen *l)
{
    int rc = config_parse_sockaddr(s, &l->addr, &l->addrlen);

    if (rc == -1 || strlen(s) >= sizeof l->text)
        return bad(c, n, path, s, "is not an address:port");
    if (rc)
        return bad(c, n, path, s, BAD_PORT);
    snprintf(l->text, sizeof l->text, "%s", s);
    return true;
}

/* Why listeners on a and b cannot both be bound, or NULL when they can. */
static const char *listen_clash(const struct cfg_listen *a, const struct cfg_listen *b)
{
    if (a->addrlen == b->addrlen && !memcmp(&a->addr, &b->addr, a->addrlen))
        return "is listed twice";
    if (cfgval_listen_overlap((const struct sockaddr *)&a->addr, (const struct sockaddr *)&b->addr))
        return "overlaps another listener on its port (a wildcard address takes the whole "
               "port, and [::] takes IPv4 too): keep one of them";
    return NULL;
}

/* ls[got] must not clash with an earlier listener, whatever their forms. */
static bool listen_unique(struct ctx *c, const char *path, yaml_node_t *n,
                          const struct cfg_listen *ls, size_t got)
{
    for (size_t j = 0; j < got; j++) {
        const char *why = listen_clash(&ls[j], &ls[got]);
        if (why)
            return bad(c, n, path, ls[got].text, why);
    }
    return true;
}

static bool listen_item(struct ctx *c, const char *path, yaml_node_t *it, const char *s, void *arr,
                        size_t got)
{
    return listen_addr(c, path, it, s, (struct cfg_listen *)arr + got) &&
           listen_unique(c, path, it, arr, got);
}

SETTER(set_listen_address)
{
    const char *s = get_scalar(c, path, v, "an address:port");

    if (s)
        listen_addr(c, path, v, s, base);
}

static const struct key listen_tls_keys[] = {
    {.name = "cert", .set = set_path, .off = offsetof(struct cfg_listen, tls_cert)},
    {.name = "key", .set = set_path, .off = offsetof(struct cfg_listen, tls_key)},
    {.name = NULL},
};

/* Both files, always: an empty "tls:" must not quietly mean plain text. */
SETTER(set_listen_tls)
{
    yaml_node_t *vals[CFG_MAX_KEYS] = {0};

    if (!is_null(v) && !is_map(c, path, v))
        return;
    if (!is_null(v))
        walk_map(c, path, v, base, listen_tls_keys, vals);
    require_keys(c, path, v, listen_tls_keys, vals, 2);
}

enum { LISTEN_ADDRESS, LISTEN_TLS };

static const struct key listen_keys[] = {
    [LISTEN_ADDRESS] = {.name = "address", .set = set_listen_address},
    [LISTEN_TLS] = {.name = "tls", .set = set_listen_tls},
    {.name = NULL},
};

/*
 * { address: "ip:port", tls: { cert: PATH, key: PATH } }. The slot may hold
 * a rejected item's leftovers (which own no memory); a rejected mapping
 * frees its paths so that the next item starts clean.
 */
static bool listen_map_item(struct ctx *c, const char *path, yaml_node_t *it,
                            __attribute__((unused)) const char *s, void *arr, size_t got)
{
    yaml_node_t *vals[CFG_MAX_KEYS] = {0};
    struct cfg_listen *l = (struct cfg_listen *)arr + got;
    char ap[CFG_PATH_MAX];
    unsigned nerr = c->nerr;

    memset(l, 0, sizeof *l);
    walk_map(c, path, it, l, listen_keys, vals);
    require_keys(c, path, it, listen_keys, vals, LISTEN_TLS);
    snprintf(ap, sizeof ap, "%s.address", path);
    if (c->nerr == nerr && listen_unique(c, ap, vals[LISTEN_ADDRESS], arr, got))
        return true;
    free(l->tls_cert);
    free(l->tls_key);
    memset(l, 0, sizeof *l);
    return false;
}

static bool cidr_item(struct ctx *c, const char *path, yaml_node_t *it, const char *s, void *arr,
                      size_t got)
{
    if (config_parse_cidr(s, (struct cfg_cidr *)arr + got))
        return bad(c, it, path, s, "is not a CIDR");
    return true;
}

/* A CONNECT port: a number, not a service name. */
static bool port_item(struct ctx *c, const char *path, yaml_node_t *it, const char *s, void *arr,
                      size_t got)
{
    uint16_t *ports = arr;
    uint64_t n;
    int rc = cfgval_uint(s, &n);

    if (rc == -1)
        return bad(c, it, path, s, "is not a port number (use 1..65535)");
    if (rc || n < 1 || n > 65535) {
        cfg_err(c, it->start_mark, "%s: %s is out of range (1..65535)", path, s);
        return false;
    }
    ports[got] = (uint16_t)n;
    for (size_t j = 0; j < got; j++)
        if (ports[j] == ports[got])
            return bad(c, it, path, s, "is listed twice");
    return true;
}

static bool dns_server_item(struct ctx *c, const char *path, yaml_node_t *it, const char *s,
                            void *arr, size_t got)
{
    int rc = cfgval_dns_server(s);

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

/* A query parameter name for the cache key: exact and case-sensitive. */
static bool param_item(struct ctx *c, const char *path, yaml_node_t *it, const char *s, void *arr,
                       size_t got)
{
    char **names = arr;

    for (size_t j = 0; j < got; j++)
        if (!strcmp(names[j], s))
            return bad(c, it, path, s, "is listed twice");
    if (!(names[got] = strdup(s))) {
        oom(c, it);
        return false;
    }
    return true;
}

SETTER(set_route_host)
{
    struct cfg_route *r = base;
    const char *s = get_scalar(c, path, v, "a host name");

    if (s && !cfgval_is_name(s))
        bad(c, v, path, s, "is not a host name");
    else if (s && !(r->host = cfgval_dup_lower(s, strlen(s))))
        oom(c, v);
}

SETTER(set_route_origin)
{
    struct cfg_route *r = base;
    const char *s = get_scalar(c, path, v, "an origin URL");
    int rc = s ? cfgval_origin(s, r) : 0;

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

static const struct key route_tls_keys[] = {
    {.name = "verify", .set = set_bool, .off = offsetof(struct cfg_route, tls_verify)},
    {.name = NULL},
};

/* Whether the origin is https:// is checked once the whole route is read. */
SETTER(set_route_tls)
{
    struct cfg_route *r = base;
    yaml_node_t *vals[CFG_MAX_KEYS] = {0};

    if (is_map(c, path, v))
        walk_map(c, path, v, base, route_tls_keys, vals);
    r->tls_verify_set = vals[0] != NULL;
}

#define ROFF(f) offsetof(struct cfg_route, f)
#define QOFF(f) offsetof(struct cfg_cache_rule, f)
#define CFG_YEAR (365 * 24 * 3600.0)

/* A field name (RFC 9110 §5.1, a token) of at most 128 bytes. */
static bool is_field_name(const char *s)
{
    size_t n = strspn(s, "!#$%&'*+-.^_`|~0123456789"
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");

    return *s && !s[n] && n <= 128;
}

/* routes[].cache.targeted_field */
SETTER(set_targeted_field)
{
    struct cfg_cache_rule *r = base;
    const char *s = get_scalar(c, path, v, "a field name");

    if (!s)
        return;
    if (!is_field_name(s))
        bad(c, v, path, s, "is not a field name");
    else if (!strcasecmp(s, "Cache-Control") || !strcasecmp(s, "CDN-Cache-Control"))
        bad(c, v, path, s, "is already consulted (name the route's own field)");
    else
        store_str(c, v, &r->targeted_field, s);
}

/* A pattern compiled now, so that a bad one is found at load. */
static void set_pattern(struct ctx *c, const char *path, yaml_node_t *v, char **match,
                        struct rule_re **re)
{
    const char *s = get_scalar(c, path, v, "a regular expression");
    char why[256];

    if (!s)
        return;
    if (!(*re = rule_re_compile(s, why, sizeof why)))
        cfg_err(c, v->start_mark, "%s: \"%.60s\" is not a regular expression (%s)", path, s, why);
    else if (!(*match = strdup(s)))
        oom(c, v);
}

SETTER(set_rule_match)
{
    struct cfg_cache_rule *r = base;

    set_pattern(c, path, v, &r->match, &r->re);
}

/* follow_redirects.scope */
SETTER(set_follow_scope)
{
    static const char *const names[] = {[CFG_FOLLOW_SAME_ORIGIN] = "same-origin",
                                        [CFG_FOLLOW_SAME_SITE] = "same-site",
                                        [CFG_FOLLOW_ANY] = "any"};
    struct cfg_cache_rule *r = base;
    int i =
        get_enum(c, path, v, "a scope", names, CFG_FOLLOW_ANY + 1, "same-origin, same-site or any");

    if (i >= 0)
        r->follow_scope = (enum cfg_follow_scope)i;
}

static const struct key follow_keys[] = {
    {.name = "max",
     .set = set_uint,
     .off = QOFF(follow_max),
     .min = 0,
     .max = CFG_FOLLOW_MAX_LIMIT},
    {.name = "scope", .set = set_follow_scope},
    {.name = NULL},
};

/* follow_redirects: a mapping, or true (the defaults) or false (off). */
SETTER(set_follow)
{
    struct cfg_cache_rule *r = base;
    bool on;

    if (v->type == YAML_SCALAR_NODE && !is_null(v)) {
        if (get_bool(c, path, v, &on))
            r->follow_max = on ? CFG_DEFAULT_FOLLOW_MAX : 0;
        return;
    }
    r->follow_max = CFG_DEFAULT_FOLLOW_MAX;
    if (is_map(c, path, v))
        walk_map(c, path, v, base, follow_keys, NULL);
}

/* A field a header rule names: never one that frames the message or
   belongs to one hop (cfgval_hdr_refused says why). */
static bool hdr_name_ok(struct ctx *c, const char *path, const yaml_node_t *n, const char *s,
                        bool request, bool set)
{
    const char *why;

    if (!is_field_name(s))
        return bad(c, n, path, s, "is not a field name");
    if ((why = cfgval_hdr_refused(s, request, set)))
        return bad(c, n, path, s, why);
    return true;
}

/* A header rule's bounds: every set value goes into each head it edits,
   and every name is compared with each field of each response. */
#define CFG_HDR_VALUE_MAX 8192
#define CFG_HDR_NAMES_MAX 64 /* set and remove together, in one edit */

/* One visible line: a value with no control character but tab. */
static bool hdr_value_ok(struct ctx *c, const char *path, const yaml_node_t *n, const char *s)
{
    if (strlen(s) > CFG_HDR_VALUE_MAX) {
        cfg_err(c, n->start_mark, "%s: is longer than %d bytes", path, CFG_HDR_VALUE_MAX);
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
            cfg_err(c, n->start_mark, "%s: must not contain control characters (CR, LF...)", path);
            return false;
        }
    }
    return true;
}

static bool hdr_listed(char *const *names, size_t n, const char *s)
{
    for (size_t j = 0; j < n; j++)
        if (!strcasecmp(names[j], s))
            return true;
    return false;
}

/* request_headers.set / response_headers.set: a mapping of name to value. */
static void parse_hdr_set(struct ctx *c, const char *path, yaml_node_t *v, struct cfg_hdr_edit *e,
                          bool request)
{
    size_t n;
    char ip[CFG_PATH_MAX];

    if (!is_map(c, path, v))
        return;
    n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    if (!(e->set = calloc(n ? n : 1, sizeof *e->set))) {
        oom(c, v);
        return;
    }
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(c->doc, p->value);
        const char *name = get_scalar(c, path, kn, "a field name"), *val;
        bool dup = false;

        if (!name || !hdr_name_ok(c, path, kn, name, request, true))
            continue;
        path_fmt(ip, "%s.%s", path, name);
        for (size_t j = 0; j < e->nset && !dup; j++)
            dup = !strcasecmp(e->set[j].name, name);
        if (dup) {
            bad(c, kn, path, name, "is set twice");
            continue;
        }
        if (!(val = get_scalar(c, ip, vn, "a field value")) || !hdr_value_ok(c, ip, vn, val))
            continue;
        e->set[e->nset].name = strdup(name);
        e->set[e->nset].value = strdup(val);
        if (!e->set[e->nset].name || !e->set[e->nset].value) {
            free(e->set[e->nset].name);
            free(e->set[e->nset].value);
            oom(c, vn);
            return;
        }
        e->nset++;
    }
}

/* request_headers.remove / response_headers.remove: field names, each
   once whatever its case. */
static bool hdr_remove_item(struct ctx *c, const char *path, yaml_node_t *it, const char *s,
                            char **names, size_t got, bool request)
{
    if (!hdr_name_ok(c, path, it, s, request, false))
        return false;
    if (hdr_listed(names, got, s))
        return bad(c, it, path, s, "is listed twice");
    if (!(names[got] = strdup(s))) {
        oom(c, it);
        return false;
    }
    return true;
}

static bool request_remove_item(struct ctx *c, const char *path, yaml_node_t *it, const char *s,
                                void *arr, size_t got)
{
    return hdr_remove_item(c, path, it, s, arr, got, true);
}

static bool response_remove_item(struct ctx *c, const char *path, yaml_node_t *it, const char *s,
                                 void *arr, size_t got)
{
    return hdr_remove_item(c, path, it, s, arr, got, false);
}

/* base: the struct cfg_hdr_edit. */
SETTER(set_request_hdr_set)
{
    parse_hdr_set(c, path, v, base, true);
}

SETTER(set_response_hdr_set)
{
    parse_hdr_set(c, path, v, base, false);
}

/* The keys of request_headers and response_headers: one table each, as
   the names they take depend on the direction. */
#define HDR_EDIT_KEYS(set_fn, remove_fn)                                                           \
    {                                                                                              \
        {.name = "set", .set = set_fn},                                                            \
            {.name = "remove",                                                                     \
             .set = set_list,                                                                      \
             .off = offsetof(struct cfg_hdr_edit, remove),                                         \
             .noff = offsetof(struct cfg_hdr_edit, nremove),                                       \
             .isz = sizeof(char *),                                                                \
             .item = remove_fn,                                                                    \
             .want = "a field name",                                                               \
             .owns_strs = true},                                                                   \
        {                                                                                          \
            .name = NULL                                                                           \
        }                                                                                          \
    }

static const struct key request_hdr_keys[] =
    HDR_EDIT_KEYS(set_request_hdr_set, request_remove_item);
static const struct key response_hdr_keys[] =
    HDR_EDIT_KEYS(set_response_hdr_set, response_remove_item);

/* The edits of request_headers or response_headers (keys says which). */
static void set_hdr_edit(struct ctx *c, const char *path, yaml_node_t *v, struct cfg_hdr_edit *e,
                         const struct key *keys)
{
    if (!is_map(c, path, v))
        return;
    walk_map(c, path, v, e, keys, NULL);
    if (e->nset + e->nremove > CFG_HDR_NAMES_MAX)
        cfg_err(c, v->start_mark, "%s: names %zu fields (at most %d)", path, e->nset + e->nremove,
                CFG_HDR_NAMES_MAX);
    for (size_t i = 0; i < e->nset; i++)
        if (hdr_listed(e->remove, e->nremove, e->set[i].name))
            cfg_err(c, v->start_mark, "%s: \"%s\" is both set and removed", path, e->set[i].name);
}

/* k->off: the struct cfg_hdr_edit in base. */
SETTER(set_request_headers)
{
    set_hdr_edit(c, path, v, FIELD(base, k, struct cfg_hdr_edit), request_hdr_keys);
}

SETTER(set_response_headers)
{
    set_hdr_edit(c, path, v, FIELD(base, k, struct cfg_hdr_edit), response_hdr_keys);
}

/* What a cache rule holds, in cache.rules and in a route's cache: block. */
#define RULE_KEYS                                                                                  \
    {.name = "enabled", .set = set_bool, .off = QOFF(enabled)},                                    \
        {.name = "default_ttl", .set = set_duration, .off = QOFF(default_ttl), .max = CFG_YEAR},   \
        {.name = "max_ttl", .set = set_duration, .off = QOFF(max_ttl), .max = CFG_YEAR},           \
        {.name = "ignore_query_params",                                                            \
         .set = set_list,                                                                          \
         .off = QOFF(ignore_params),                                                               \
         .noff = QOFF(nignore_params),                                                             \
         .isz = sizeof(char *),                                                                    \
         .item = param_item,                                                                       \
         .want = "a parameter name"},                                                              \
    {                                                                                              \
        .name = "follow_redirects", .set = set_follow                                              \
    }

static const struct key route_compression_keys[] = {
    {.name = "enabled", .set = set_bool_int, .off = ROFF(compression_enabled)},
    {.name = NULL},
};

static const struct key route_cache_keys[] = {
    RULE_KEYS,
    {.name = "targeted_field", .set = set_targeted_field},
    {.name = NULL},
};

/* Defaults of every cache rule. */
static void rule_defaults(struct cfg_cache_rule *r)
{
    r->enabled = CFG_DEFAULT_RULE_ENABLED;
    r->default_ttl = CFG_DEFAULT_RULE_DEFAULT_TTL;
    r->max_ttl = CFG_DEFAULT_RULE_MAX_TTL;
    r->follow_scope = CFG_DEFAULT_FOLLOW_SCOPE;
}

/* A rule's one cross-key check: a cap below the default it caps. */
static void rule_check(struct ctx *c, const char *path, const yaml_node_t *v,
                       const struct cfg_cache_rule *r)
{
    char a[32], b[32];

    if (r->max_ttl >= 0 && r->default_ttl > r->max_ttl)
        cfg_err(c, v->start_mark, "%s.default_ttl (%s) must not exceed %s.max_ttl (%s)", path,
                cfgval_fmt_duration(r->default_ttl, a, sizeof a), path,
                cfgval_fmt_duration(r->max_ttl, b, sizeof b));
}

/* routes[].cache: the route's own rule. */
SETTER(set_route_cache)
{
    struct cfg_route *r = base;

    if (!is_map(c, path, v))
        return;
    r->has_cache = true;
    walk_map(c, path, v, &r->cache, route_cache_keys, NULL);
    rule_check(c, path, v, &r->cache);
}

/* The required keys come first. */
enum { ROUTE_HOST, ROUTE_ORIGIN, ROUTE_TLS };

static const struct key route_keys[] = {
    [ROUTE_HOST] = {.name = "host", .set = set_route_host},
    [ROUTE_ORIGIN] = {.name = "origin", .set = set_route_origin},
    [ROUTE_TLS] = {.name = "tls", .set = set_route_tls},
    {.name = "cache", .set = set_route_cache},
    {.name = "compression", .set = set_map, .sub = route_compression_keys},
    {.name = "rewrite_location", .set = set_bool, .off = ROFF(rewrite_location)},
    {.name = "request_headers", .set = set_request_headers, .off = ROFF(request_headers)},
    {.name = "response_headers", .set = set_response_headers, .off = ROFF(response_headers)},
    {.name = NULL},
};

static void parse_route(struct ctx *c, const char *path, size_t i, yaml_node_t *it,
                        struct config *cfg)
{
    yaml_node_t *vals[CFG_MAX_KEYS] = {0};
    struct cfg_route *r = &cfg->routes[i];
    char ip[CFG_PATH_MAX];

    rule_defaults(&r->cache);
    r->compression_enabled = CFG_DEFAULT_ROUTE_COMPRESSION_ENABLED;
    r->rewrite_location = CFG_DEFAULT_ROUTE_REWRITE_LOCATION;
    snprintf(ip, sizeof ip, "%s[%zu]", path, i);
    if (it->type != YAML_MAPPING_NODE) {
        type_err(c, ip, it, "a mapping");
        return;
    }
    walk_map(c, ip, it, r, route_keys, vals);
    require_keys(c, ip, it, route_keys, vals, ROUTE_TLS);
    if (vals[ROUTE_TLS] && r->origin && !r->origin_tls)
        cfg_err(c, vals[ROUTE_TLS]->start_mark, "%s.tls: only applies to https:// origins", ip);
    for (size_t j = 0; r->host && j < i; j++) {
        if (cfg->routes[j].host && !strcmp(cfg->routes[j].host, r->host)) {
            cfg_err(c, vals[ROUTE_HOST]->start_mark, "%s.host: duplicate host \"%s\" (see %s[%zu])",
                    ip, r->host, path, j);
            break;
        }
    }
}

/* Routes are a list of mappings; the default (none) is replaced. */
SETTER(set_routes)
{
    struct config *cfg = base;

    if (!(cfg->routes = mapping_list(c, path, v, sizeof *cfg->routes, &cfg->nroutes)))
        return;
    for (size_t i = 0; i < cfg->nroutes; i++)
        parse_route(c, path, i, seq_item(c, v, i), cfg);
}

SETTER(set_redirect_match)
{
    struct cfg_redirect *r = base;

    set_pattern(c, path, v, &r->match, &r->re);
}

/* redirects[].to: it becomes a Location field, so no control characters. */
SETTER(set_redirect_to)
{
    struct cfg_redirect *r = base;
    const char *s = get_scalar(c, path, v, "a URL template");

    if (!s)
        return;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            cfg_err(c, v->start_mark, "%s: must not contain control characters (CR, LF, tab...)",
                    path);
            return;
        }
    }
    store_str(c, v, &r->to, s);
}

SETTER(set_redirect_status)
{
    struct cfg_redirect *r = base;
    const char *s = get_scalar(c, path, v, "a redirect status");
    uint64_t n;

    if (!s)
        return;
    if (cfgval_uint(s, &n) || (n != 301 && n != 302 && n != 303 && n != 307 && n != 308))
        bad(c, v, path, s, "is not a redirect status (use 301, 302, 303, 307 or 308)");
    else
        r->status = (int)n;
}

/* The required keys come first. */
enum { REDIRECT_MATCH, REDIRECT_TO, REDIRECT_STATUS };

static const struct key redirect_keys[] = {
    [REDIRECT_MATCH] = {.name = "match", .set = set_redirect_match},
    [REDIRECT_TO] = {.name = "to", .set = set_redirect_to},
    [REDIRECT_STATUS] = {.name = "status", .set = set_redirect_status},
    {.name = NULL},
};

static void parse_redirect(struct ctx *c, const char *path, size_t i, yaml_node_t *it,
                           struct config *cfg)
{
    yaml_node_t *vals[CFG_MAX_KEYS] = {0};
    char ip[CFG_PATH_MAX];

    cfg->redirects[i].status = CFG_DEFAULT_REDIRECT_STATUS;
    snprintf(ip, sizeof ip, "%s[%zu]", path, i);
    if (it->type != YAML_MAPPING_NODE) {
        type_err(c, ip, it, "a mapping");
        return;
    }
    walk_map(c, ip, it, &cfg->redirects[i], redirect_keys, vals);
    require_keys(c, ip, it, redirect_keys, vals, REDIRECT_STATUS);
}

/* Redirects are a list of mappings, in order; the default (none) is replaced. */
SETTER(set_redirects)
{
    struct config *cfg = base;

    if (!(cfg->redirects = mapping_list(c, path, v, sizeof *cfg->redirects, &cfg->nredirects)))
        return;
    for (size_t i = 0; i < cfg->nredirects; i++)
        parse_redirect(c, path, i, seq_item(c, v, i), cfg);
}

/* compression.encodings: one of the codings magpie compresses with, once. */
static bool encoding_item(struct ctx *c, const char *path, yaml_node_t *it, const char *s,
                          void *arr, size_t got)
{
    enum coding *cs = arr, e = coding_from_token(s, strlen(s));

    /* coding_from_token also takes the alias x-gzip, which is not offered */
    if ((e != CODING_GZIP && e != CODING_BR && e != CODING_ZSTD) ||
        strlen(s) != strlen(coding_name(e)))
        return bad(c, it, path, s,
                   "is not an encoding magpie compresses with (use zstd, br or gzip)");
    for (size_t j = 0; j < got; j++)
        if (cs[j] == e)
            return bad(c, it, path, s, "is listed twice");
    cs[got] = e; /* got < 3: only three distinct items get here */
    return true;
}

/* The array is part of the struct: the list is parsed in place of set_list's copy. */
SETTER(set_encodings)
{
    struct config *cfg = base;
    enum coding cs[CODING_KNOWN];

    if (!list_sized(c, path, v, k))
        return;
    cfg->compression.nencodings = list_items(c, path, v, k, cs);
    memcpy(cfg->compression.encodings, cs, cfg->compression.nencodings * sizeof cs[0]);
}

/* compression.types: a media type pattern, stored in lower case, once. */
static bool type_item(struct ctx *c, const char *path, yaml_node_t *it, const char *s, void *arr,
                      size_t got)
{
    char **types = arr;

    if (!cfgval_media_pattern(s))
        return bad(c, it, path, s,
                   "is not a media type pattern (use type/subtype, type/* or type/*+suffix)");
    for (size_t j = 0; j < got; j++)
        if (!strcasecmp(types[j], s))
            return bad(c, it, path, s, "is listed twice");
    if (!(types[got] = cfgval_dup_lower(s, strlen(s)))) {
        oom(c, it);
        return false;
    }
    return true;
}

/* ---- the schema ---- */

#define OFF(f) offsetof(struct config, f)
#define MS 0.001
#define MIN 60.0
#define HOUR 3600.0
#define KIB 1024.0
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define TIB (1024 * GIB)
#define DURATION(n, f, lo, hi)                                                                     \
    {                                                                                              \
        .name = n, .set = set_duration, .off = OFF(f), .min = lo, .max = hi                        \
    }
#define SIZE(n, f, lo, hi)                                                                         \
    {                                                                                              \
        .name = n, .set = set_size, .off = OFF(f), .min = lo, .max = hi                            \
    }
#define SIZE64(n, f, lo, hi)                                                                       \
    {                                                                                              \
        .name = n, .set = set_size64, .off = OFF(f), .min = lo, .max = hi                          \
    }
#define UINT(n, f, lo, hi)                                                                         \
    {                                                                                              \
        .name = n, .set = set_uint, .off = OFF(f), .min = lo, .max = hi                            \
    }
/* A list whose items may also be mappings (given to mfn). */
#define LIST_OF(n, f, cnt, fn, mfn, atleast, what)                                                 \
    {                                                                                              \
        .name = n, .set = set_list, .off = OFF(f), .noff = OFF(cnt), .item = fn, .mitem = mfn,     \
        .isz = sizeof(*((struct config *)0)->f), .min = atleast, .want = what                      \
    }
#define LIST(n, f, cnt, fn, atleast, what) LIST_OF(n, f, cnt, fn, NULL, atleast, what)

enum { LIM_CONNS, LIM_HEADER, LIM_URI, LIM_HDR_TIMEOUT, LIM_IDLE_TIMEOUT, LIM_SHUTDOWN, LIM_N };

static const struct key limits_keys[] = {
    [LIM_CONNS] = UINT("max_connections", limits.max_connections, 1, 1000000),
    [LIM_HEADER] = SIZE("max_header_bytes", limits.max_header_bytes, 1024, 1 << 20),
    [LIM_URI] = SIZE("max_uri_bytes", limits.max_uri_bytes, 256, 1 << 20),
    [LIM_HDR_TIMEOUT] = DURATION("client_header_timeout", limits.client_header_timeout, MS, HOUR),
    [LIM_IDLE_TIMEOUT] = DURATION("client_idle_timeout", limits.client_idle_timeout, MS, 24 * HOUR),
    [LIM_SHUTDOWN] = DURATION("shutdown_timeout", limits.shutdown_timeout, MS, HOUR),
    [LIM_N] = {.name = NULL},
};

/* Reports that keys[big] (a) exceeds keys[lim] (b), at whichever of the two
 * the file sets (the one that exceeds, when both are). */
static void size_over(struct ctx *c, const char *path, yaml_node_t **vals, const struct key *keys,
                      int big, int lim, uint64_t a, uint64_t b)
{
    char as[32], bs[32];

    cfg_err(c, (vals[big] ? vals[big] : vals[lim])->start_mark,
            "%s.%s (%s) must not exceed %s.%s (%s)", path, keys[big].name,
            cfgval_fmt_size(a, as, sizeof as), path, keys[lim].name,
            cfgval_fmt_size(b, bs, sizeof bs));
}

/* limits, plus the one rule that spans two keys. */
SETTER(set_limits)
{
    struct config *cfg = base;
    yaml_node_t *vals[CFG_MAX_KEYS] = {0};
    unsigned nerr = c->nerr;

    if (!is_map(c, path, v))
        return;
    walk_map(c, path, v, base, limits_keys, vals);
    if (c->nerr == nerr && cfg->limits.max_uri_bytes > cfg->limits.max_header_bytes)
        size_over(c, path, vals, limits_keys, LIM_URI, LIM_HEADER, cfg->limits.max_uri_bytes,
                  cfg->limits.max_header_bytes);
}

/* ---- acl.rules ---- */

/* A destination host suffix: a host name, or one with a leading dot for
   the domain and every name under it; stored in lower case, once. */
static bool suffix_item(struct ctx *c, const char *path, yaml_node_t *it, const char *s, void *arr,
                        size_t got)
{
    char **sfx = arr;

    if (!cfgval_is_name(s[0] == '.' ? s + 1 : s))
        return bad(c, it, path, s, "is not a host name or .domain suffix");
    if (!(sfx[got] = cfgval_dup_lower(s, strlen(s)))) {
        oom(c, it);
        return false;
    }
    for (size_t j = 0; j < got; j++)
        if (!strcmp(sfx[j], sfx[got])) {
            free(sfx[got]);
            return bad(c, it, path, s, "is listed twice");
        }
    return true;
}

static bool method_item(struct ctx *c, const char *path, yaml_node_t *it, const char *s, void *arr,
                        size_t got)
{
    if (!is_field_name(s))
        return bad(c, it, path, s, "is not a method name (a token, such as GET or CONNECT)");
    return param_item(c, path, it, s, arr, got);
}

/* allow or deny: the client networks, and what the rule does to them. */
SETTER(set_acl_nets)
{
    ((struct cfg_acl_rule *)base)->deny = !strcmp(k->name, "deny");
    set_list(c, path, v, base, k);
}

#define AOFF(f) offsetof(struct cfg_acl_rule, f)
enum { ARULE_ALLOW, ARULE_DENY };

/* One list key of a rule: its name, setter, item parser and field. */
#define ARULE_LIST(key, setter, f, fn, what, strs)                                                 \
    {                                                                                              \
        .name = key, .set = setter, .off = AOFF(f), .noff = AOFF(n##f),                            \
        .isz = sizeof(*((struct cfg_acl_rule *)0)->f), .item = fn, .want = what, .owns_strs = strs \
    }

static const struct key acl_rule_keys[] = {
    [ARULE_ALLOW] = ARULE_LIST("allow", set_acl_nets, nets, cidr_item, "a CIDR", false),
    [ARULE_DENY] = ARULE_LIST("deny", set_acl_nets, nets, cidr_item, "a CIDR", false),
    ARULE_LIST("dest_suffix", set_list, dest_suffix, suffix_item, "a host suffix", true),
    ARULE_LIST("ports", set_list, ports, port_item, "a port", false),
    ARULE_LIST("methods", set_list, methods, method_item, "a method", true),
    {.name = NULL},
};

static void parse_acl_rule(struct ctx *c, const char *path, size_t i, yaml_node_t *it,
                           struct cfg_acl_rule *r)
{
    yaml_node_t *vals[CFG_MAX_KEYS] = {0};
    char ip[CFG_PATH_MAX];

    snprintf(ip, sizeof ip, "%s[%zu]", path, i);
    if (it->type != YAML_MAPPING_NODE) {
        type_err(c, ip, it, "a mapping");
        return;
    }
    walk_map(c, ip, it, r, acl_rule_keys, vals);
    if (vals[ARULE_ALLOW] && vals[ARULE_DENY])
        cfg_err(c, vals[ARULE_DENY]->start_mark, "%s: give allow or deny, not both", ip);
    else if (!vals[ARULE_ALLOW] && !vals[ARULE_DENY])
        cfg_err(c, it->start_mark,
                "%s: missing \"allow\" or \"deny\" (the client networks it applies to)", ip);
}

SETTER(set_acl_rules)
{
    struct config *cfg = base;

    if (!(cfg->acl_rules = mapping_list(c, path, v, sizeof *cfg->acl_rules, &cfg->nacl_rules)))
        return;
    for (size_t i = 0; i < cfg->nacl_rules; i++)
        parse_acl_rule(c, path, i, seq_item(c, v, i), &cfg->acl_rules[i]);
}

static const struct key acl_keys[] = {
    LIST("allow", acl_allow, nacl_allow, cidr_item, 0, "a CIDR"),
    LIST("deny_destinations", acl_deny_dest, nacl_deny_dest, cidr_item, 0, "a CIDR"),
    LIST("allow_destinations", acl_allow_dest, nacl_allow_dest, cidr_item, 0, "a CIDR"),
    {.name = "rules", .set = set_acl_rules},
    {.name = NULL},
};

enum { POOL_MAX, POOL_IDLE, POOL_IDLE_TIMEOUT, POOL_QUEUE_TIMEOUT, POOL_N };

static const struct key pool_keys[] = {
    [POOL_MAX] = UINT("max_per_origin", upstream.pool.max_per_origin, 1, 100000),
    [POOL_IDLE] = UINT("max_idle_per_origin", upstream.pool.max_idle_per_origin, 0, 100000),
    [POOL_IDLE_TIMEOUT] = DURATION("idle_timeout", upstream.pool.idle_timeout, MS, 24 * HOUR),
    [POOL_QUEUE_TIMEOUT] = DURATION("queue_timeout", upstream.pool.queue_timeout, MS, HOUR),
    [POOL_N] = {.name = NULL},
};

/* upstream.pool, plus its one rule that spans two keys; an unset idle cap
   follows max_per_origin (a lower one closes connections needed again). */
SETTER(set_pool)
{
    struct config *cfg = base;
    yaml_node_t *vals[CFG_MAX_KEYS] = {0};
    unsigned nerr = c->nerr;

    if (!is_map(c, path, v))
        return;
    walk_map(c, path, v, base, pool_keys, vals);
    if (!vals[POOL_IDLE])
        cfg->upstream.pool.max_idle_per_origin = cfg->upstream.pool.max_per_origin;
    if (c->nerr != nerr ||
        cfg->upstream.pool.max_idle_per_origin <= cfg->upstream.pool.max_per_origin)
        return;
    cfg_err(c, (vals[POOL_IDLE] ? vals[POOL_IDLE] : vals[POOL_MAX])->start_mark,
            "%s.max_idle_per_origin (%u) must not exceed %s.max_per_origin (%u)", path,
            cfg->upstream.pool.max_idle_per_origin, path, cfg->upstream.pool.max_per_origin);
}

static const struct key upstream_tls_keys[] = {
    {.name = "verify", .set = set_bool, .off = OFF(upstream.tls.verify)},
    {.name = "ca_file", .set = set_path, .off = OFF(upstream.tls.ca_file)},
    {.name = NULL},
};

static const struct key upstream_keys[] = {
    DURATION("connect_timeout", upstream.connect_timeout, MS, 10 * MIN),
    DURATION("read_timeout", upstream.read_timeout, MS, HOUR),
    UINT("retries", upstream.retries, 0, 5),
    {.name = "pool", .set = set_pool},
    {.name = "tls", .set = set_map, .sub = upstream_tls_keys},
    {.name = NULL},
};

static const struct key connect_keys[] = {
    LIST("allowed_ports", connect_allowed_ports, nconnect_allowed_ports, port_item, 0, "a port"),
    {.name = NULL},
};

static const struct key dns_keys[] = {
    LIST("servers", dns.servers, dns.nservers, dns_server_item, 0, "an address"),
    DURATION("max_ttl", dns.max_ttl, 0, 24 * HOUR),
    DURATION("timeout", dns.timeout, MS, 5 * MIN),
    {.name = NULL},
};

/* admin.listen: plain addresses, none shared with listen (checked once
   the whole file is read). */
static const struct key admin_keys[] = {
    LIST("purge_allow", purge_allow, npurge_allow, cidr_item, 0, "a CIDR"),
    LIST("listen", admin_listen, nadmin_listen, listen_item, 0, "an address:port"),
    LIST("allow", admin_allow, nadmin_allow, cidr_item, 0, "a CIDR"),
    {.name = NULL},
};

enum {
    CACHE_ENABLED,
    CACHE_DIR,
    CACHE_MAX,
    CACHE_OBJECT,
    CACHE_MEMORY,
    CACHE_SET_COOKIE,
    CACHE_TAG_HEADERS,
    CACHE_STALE_ON_ERROR,
    CACHE_RULES,
    CACHE_N
};

/* cache.set_cookie: explicit, strip or never. */
SETTER(set_set_cookie)
{
    static const char *const names[] = {[CFG_SET_COOKIE_EXPLICIT] = "explicit",
                                        [CFG_SET_COOKIE_STRIP] = "strip",
                                        [CFG_SET_COOKIE_NEVER] = "never"};
    int i = get_enum(c, path, v, "a Set-Cookie policy", names, CFG_SET_COOKIE_NEVER + 1,
                     "explicit, strip or never");

    if (i >= 0)
        *FIELD(base, k, enum cfg_set_cookie) = (enum cfg_set_cookie)i;
}

/* cache.tag_headers: strip (Surrogate-Key and Cache-Tag stay out of
   responses to clients) or keep. */
SETTER(set_tag_headers)
{
    static const char *const names[] = {"strip", "keep"};
    int i = get_enum(c, path, v, "a tag header policy", names, 2, "strip or keep");

    if (i >= 0)
        *FIELD(base, k, bool) = i == 1;
}

/* The required keys come first. */
enum { RULE_MATCH };

static const struct key cache_rule_keys[] = {
    [RULE_MATCH] = {.name = "match", .set = set_rule_match},
    RULE_KEYS,
    {.name = "request_headers", .set = set_request_headers, .off = QOFF(request_headers)},
    {.name = "response_headers", .set = set_response_headers, .off = QOFF(response_headers)},
    {.name = NULL},
};

static void parse_cache_rule(struct ctx *c, const char *path, size_t i, yaml_node_t *it,
                             struct cfg_cache_rule *r)
{
    yaml_node_t *vals[CFG_MAX_KEYS] = {0};
    char ip[CFG_PATH_MAX];

    rule_defaults(r);
    snprintf(ip, sizeof ip, "%s[%zu]", path, i);
    if (it->type != YAML_MAPPING_NODE) {
        type_err(c, ip, it, "a mapping");
        return;
    }
    walk_map(c, ip, it, r, cache_rule_keys, vals);
    require_keys(c, ip, it, cache_rule_keys, vals, RULE_MATCH + 1);
    rule_check(c, ip, it, r);
}

/* cache.rules: a list of mappings, in order. */
SETTER(set_cache_rules)
{
    struct config *cfg = base;

    if (!(cfg->cache.rules =
              mapping_list(c, path, v, sizeof *cfg->cache.rules, &cfg->cache.nrules)))
        return;
    for (size_t i = 0; i < cfg->cache.nrules; i++)
        parse_cache_rule(c, path, i, seq_item(c, v, i), &cfg->cache.rules[i]);
}

static const struct key cache_keys[] = {
    [CACHE_ENABLED] = {.name = "enabled", .set = set_bool, .off = OFF(cache.enabled)},
    [CACHE_DIR] = {.name = "dir", .set = set_path, .off = OFF(cache.dir)},
    [CACHE_MAX] = SIZE64("max_size", cache.max_size, MIB, 16 * TIB),
    [CACHE_OBJECT] = SIZE64("max_object_size", cache.max_object_size, KIB, 16 * TIB),
    [CACHE_MEMORY] = SIZE64("memory_size", cache.memory_size, 0, 64 * GIB),
    [CACHE_SET_COOKIE] = {.name = "set_cookie",
                          .set = set_set_cookie,
                          .off = OFF(cache.set_cookie)},
    [CACHE_TAG_HEADERS] = {.name = "tag_headers",
                           .set = set_tag_headers,
                           .off = OFF(cache.keep_tag_headers)},
    [CACHE_STALE_ON_ERROR] = DURATION("stale_on_error", cache.stale_on_error, 0, CFG_YEAR),
    [CACHE_RULES] = {.name = "rules", .set = set_cache_rules},
    [CACHE_N] = {.name = NULL},
};

/* cache, plus the one rule that spans two keys. */
SETTER(set_cache)
{
    struct config *cfg = base;
    yaml_node_t *vals[CFG_MAX_KEYS] = {0};
    unsigned nerr = c->nerr;

    if (!is_map(c, path, v))
        return;
    walk_map(c, path, v, base, cache_keys, vals);
    if (c->nerr == nerr && cfg->cache.max_object_size > cfg->cache.max_size)
        size_over(c, path, vals, cache_keys, CACHE_OBJECT, CACHE_MAX, cfg->cache.max_object_size,
                  cfg->cache.max_size);
}

/* Levels as each library numbers them; zstd's 20..22 ("ultra") need
   window sizes far past what a streaming proxy should hold per response. */
static const struct key compression_levels_keys[] = {
    UINT("gzip", compression.level[CODING_GZIP], 1, 9),
    UINT("br", compression.level[CODING_BR], 0, 11),
    UINT("zstd", compression.level[CODING_ZSTD], 1, 19),
    {.name = NULL},
};

static const struct key compression_keys[] = {
    {.name = "enabled", .set = set_bool, .off = OFF(compression.enabled)},
    {.name = "encodings",
     .set = set_encodings,
     .min = 1,
     .want = "an encoding",
     .item = encoding_item},
    {.name = "types",
     .set = set_list,
     .off = OFF(compression.types),
     .noff = OFF(compression.ntypes),
     .isz = sizeof(char *),
     .min = 1,
     .item = type_item,
     .want = "a media type pattern",
     .owns_strs = true},
    SIZE64("min_size", compression.min_size, 0, GIB),
    {.name = "levels", .set = set_map, .sub = compression_levels_keys},
    {.name = "decompress", .set = set_bool, .off = OFF(compression.decompress)},
    {.name = NULL},
};

/* ---- auth ---- */

SETTER(set_auth_realm)
{
    const char *s = get_scalar(c, path, v, "a realm");
    struct auth *a = base;

    if (s && !auth_realm_ok(s))
        bad(c, v, path, s,
            "is not a valid realm (1..128 printable ASCII characters, no '\"' or '\\')");
    else if (s && auth_set_realm(a, s) < 0)
        oom(c, v);
}

/* The required keys come first. */
enum { BASIC_HTPASSWD, BASIC_REALM, BASIC_N };

static const struct key auth_basic_keys[] = {
    [BASIC_HTPASSWD] = {.name = "htpasswd",
                        .set = set_path,
                        .off = offsetof(struct auth, htpasswd)},
    [BASIC_REALM] = {.name = "realm", .set = set_auth_realm},
    [BASIC_N] = {.name = NULL},
};

/* Where an htpasswd complaint goes: at the htpasswd key's value. */
struct htpasswd_ctx {
    struct ctx *c;
    const char *path;
    const yaml_node_t *at;
    const char *file;
};

static void htpasswd_err(void *arg, unsigned line, const char *msg)
{
    struct htpasswd_ctx *h = arg;

    if (line)
        cfg_err(h->c, h->at->start_mark, "%s: %s:%u: %s", h->path, h->file, line, msg);
    else
        cfg_err(h->c, h->at->start_mark, "%s: %s: %s", h->path, h->file, msg);
}

/* auth.basic: the file is read now, so that -t and a reload see it. */
SETTER(set_auth_basic)
{
    struct config *cfg = base;
    yaml_node_t *vals[CFG_MAX_KEYS] = {0};
    char hp[CFG_PATH_MAX];

    /* "basic:" alone must not leave a proxy open that was meant to be closed */
    if (is_null(v)) {
        cfg_err(c, v->start_mark, "%s: missing \"htpasswd\"", path);
        return;
    }
    if (!is_map(c, path, v))
        return;
    if (!cfg->auth && !(cfg->auth = auth_new())) {
        oom(c, v);
        return;
    }
    walk_map(c, path, v, cfg->auth, auth_basic_keys, vals);
    require_keys(c, path, v, auth_basic_keys, vals, BASIC_REALM);
    if (!vals[BASIC_HTPASSWD] || !cfg->auth->htpasswd)
        return;
    path_fmt(hp, "%s.htpasswd", path);
    struct htpasswd_ctx h = {c, hp, vals[BASIC_HTPASSWD], cfg->auth->htpasswd};
    auth_htpasswd_load(cfg->auth, cfg->auth->htpasswd, htpasswd_err, &h);
}

static const struct key auth_keys[] = {
    {.name = "basic", .set = set_auth_basic},
    {.name = NULL},
};

static const struct key top_keys[] = {
    LIST_OF("listen", listen, nlisten, listen_item, listen_map_item, 1, "an address:port"),
    {.name = "acl", .set = set_map, .sub = acl_keys},
    {.name = "access_log", .set = set_access_log, .off = OFF(access_log)},
    {.name = "error_log", .set = set_error_log, .off = OFF(error_log)},
    {.name = "access_log_format", .set = set_access_log_format, .off = OFF(access_log_format)},
    {.name = "log_level", .set = set_log_level, .off = OFF(log_level)},
    {.name = "proxy_name", .set = set_name, .off = OFF(proxy_name)},
    {.name = "limits", .set = set_limits},
    {.name = "upstream", .set = set_map, .sub = upstream_keys},
    {.name = "connect", .set = set_map, .sub = connect_keys},
    {.name = "dns", .set = set_map, .sub = dns_keys},
    {.name = "routes", .set = set_routes},
    {.name = "redirects", .set = set_redirects},
    {.name = "cache", .set = set_cache},
    {.name = "admin", .set = set_map, .sub = admin_keys},
    {.name = "compression", .set = set_map, .sub = compression_keys},
    {.name = "auth", .set = set_map, .sub = auth_keys},
    {.name = NULL},
};

_Static_assert(sizeof top_keys / sizeof top_keys[0] <= CFG_MAX_KEYS + 1,
               "walk_map's tables hold CFG_MAX_KEYS keys a level");

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

/* The value of key name in mapping map, or NULL. */
static yaml_node_t *map_get(struct ctx *c, yaml_node_t *map, const char *name)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
        if (kn->type == YAML_SCALAR_NODE && !strcmp((const char *)kn->data.scalar.value, name))
            return yaml_document_get_node(c->doc, p->value);
    }
    return NULL;
}

/* admin.listen against listen, whichever came first in the file. */
static void admin_listen_own(struct ctx *c, const struct config *cfg, yaml_node_t *root)
{
    for (size_t i = 0; i < cfg->nadmin_listen; i++)
        for (size_t j = 0; j < cfg->nlisten; j++)
            if (listen_clash(&cfg->listen[j], &cfg->admin_listen[i]))
                cfg_err(c, map_get(c, root, "admin")->start_mark,
                        "admin.listen: \"%s\" is also in listen, as \"%s\" (an admin listener "
                        "is its own)",
                        cfg->admin_listen[i].text, cfg->listen[j].text);
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
    admin_listen_own(c, cfg, root);
    /* upstream.tls.verify may come after the routes that inherit it */
    for (size_t i = 0; i < cfg->nroutes; i++)
        if (!cfg->routes[i].tls_verify_set)
            cfg->routes[i].tls_verify = cfg->upstream.tls.verify;
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
        c->max_reads = (size_t)(doc.nodes.top - doc.nodes.start) + CFG_ALIAS_READS;
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
