/*
 * cache/tags.c - cache tags (tags.h): reading them from Surrogate-Key and
 * Cache-Tag values, and the index from a tag to the objects carrying it.
 *
 * Tags are chosen by origins, and in forward mode any web site is one, so
 * the table hashes them with SipHash-2-4 under a per-index random seed (no
 * origin can aim its tags at one bucket) and doubles when it holds more
 * tags than buckets. Each object owns one allocation of links, one per tag
 * (tag_links), and each tag a doubly linked list through those links, so
 * attaching and detaching an object cost O(its tags) and purging a tag
 * O(its objects). Memory is bounded by the objects: at most TAGS_MAX links
 * of 32 bytes each, plus the tags' own entries (TAG_LEN_MAX bytes at most),
 * which the objects sharing a tag share.
 *
 * What is parsed here (stored heads, PURGE requests) is read within the
 * lengths given, item by item, each byte once.
 */
#include "cache/tags.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache/index.h"
#include "hash.h"

#define TAG_MIN_BUCKETS 64

struct tag_entry {
    struct tag_entry *hnext; /* bucket chain */
    uint64_t hash;
    struct tag_link *objs; /* the objects carrying it; never empty */
    size_t nobjs;
    uint16_t len;
    char name[];
};

struct tag_link {
    struct tag_entry *tag;
    struct index_obj *obj;
    struct tag_link *prev, *next; /* in tag->objs */
};

/* An object's links, one per tag: index_obj._tags. */
struct tag_links {
    unsigned n;
    struct tag_link link[];
};

struct tag_index {
    struct tag_entry **buckets;
    size_t nbuckets; /* power of two */
    size_t ntags;
    uint64_t seed[2];
};

/* ---- parsing ---- */

char tags_field_sep(const char *name, size_t len)
{
    if (len == 13 && strncasecmp(name, "Surrogate-Key", 13) == 0)
        return ' ';
    if (len == 9 && strncasecmp(name, "Cache-Tag", 9) == 0)
        return ',';
    return 0;
}

static bool tag_ws(char ch)
{
    return ch == ' ' || ch == '\t';
}

static bool tag_visible(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
            return false;
    return true;
}

size_t tags_next(const char *v, size_t len, size_t *pos, char sep, const char **tag)
{
    size_t i = *pos;
    while (i < len) {
        while (i < len && (v[i] == sep || tag_ws(v[i])))
            i++;
        size_t start = i;
        /* an item ends at the separator (Cache-Tag items may hold blanks,
           which then make them invalid rather than two tags) */
        while (i < len && (sep == ' ' ? !tag_ws(v[i]) : v[i] != sep))
            i++;
        size_t end = i;
        while (end > start && tag_ws(v[end - 1]))
            end--;
        if (end > start && end - start <= TAG_LEN_MAX && tag_visible(v + start, end - start)) {
            *pos = i;
            *tag = v + start;
            return end - start;
        }
    }
    *pos = i;
    return 0;
}

bool tags_list_add(struct tag_list *l, const char *tag, size_t len)
{
    for (unsigned i = 0; i < l->n; i++)
        if (l->len[i] == len && memcmp(l->tag[i], tag, len) == 0)
            return true;
    if (l->n == TAGS_MAX)
        return false;
    l->tag[l->n] = tag;
    l->len[l->n] = (uint16_t)len;
    l->n++;
    return true;
}

/* Adds the tags of one field value; false once l is full. */
static bool tags_add_value(struct tag_list *l, const char *v, size_t len, char sep)
{
    size_t pos = 0, n;
    const char *tag;
    while ((n = tags_next(v, len, &pos, sep, &tag)))
        if (!tags_list_add(l, tag, n))
            return false;
    return true;
}

unsigned tags_from_head(const char *head, size_t len, struct tag_list *out)
{
    out->n = 0;
    const char *p = memchr(head, '\n', len), *end = head + len;
    while (p && ++p < end) { /* p: the start of a field line */
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *stop = eol ? eol : end;
        if (stop > p && stop[-1] == '\r')
            stop--;
        if (stop == p)
            break; /* the empty line ends the head */
        const char *colon = memchr(p, ':', (size_t)(stop - p));
        char sep = colon ? tags_field_sep(p, (size_t)(colon - p)) : 0;
        if (sep && !tags_add_value(out, colon + 1, (size_t)(stop - colon - 1), sep))
            break;
        p = eol;
    }
    return out->n;
}

int tags_pack(const struct tag_list *l, char **out)
{
    size_t size = 1;
    *out = NULL;
    if (!l->n)
        return 0;
    for (unsigned i = 0; i < l->n; i++)
        size += (size_t)l->len[i] + 1;
    char *p = malloc(size);
    if (!p)
        return -1;
    *out = p;
    for (unsigned i = 0; i < l->n; i++) {
        memcpy(p, l->tag[i], l->len[i]);
        p += l->len[i];
        *p++ = '\0';
    }
    *p = '\0';
    return 0;
}

void tags_unpack(const char *packed, struct tag_list *l)
{
    l->n = 0;
    for (const char *p = packed; p && *p && l->n < TAGS_MAX; p += l->len[l->n - 1] + 1) {
        l->tag[l->n] = p;
        l->len[l->n] = (uint16_t)strlen(p);
        l->n++;
    }
}

bool tags_packed_has(const char *packed, const char *tag, size_t len)
{
    for (const char *p = packed; p && *p; p += strlen(p) + 1)
        if (strlen(p) == len && memcmp(p, tag, len) == 0)
            return true;
    return false;
}

/* ---- the table ---- */

struct tag_index *tag_index_new(void)
{
    struct tag_index *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->nbuckets = TAG_MIN_BUCKETS;
    if (!(t->buckets = calloc(t->nbuckets, sizeof(*t->buckets)))) {
        free(t);
        return NULL;
    }
    hash_random_seed(t->seed);
    return t;
}

void tag_index_free(struct tag_index *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct tag_entry *e = t->buckets[i], *next; e; e = next) {
            next = e->hnext;
            free(e);
        }
    free(t->buckets);
    free(t);
}

static struct tag_entry *tag_find(const struct tag_index *t, const char *tag, size_t len,
                                  uint64_t h)
{
    for (struct tag_entry *e = t->buckets[h & (t->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && e->len == len && memcmp(e->name, tag, len) == 0)
            return e;
    return NULL;
}

/* Doubles the table; on allocation failure the old one stays (longer
   chains, still correct). */
static void tag_grow(struct tag_index *t)
{
    size_t n = t->nbuckets * 2;
    struct tag_entry **b = calloc(n, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct tag_entry *e = t->buckets[i], *next; e; e = next) {
            next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

static struct tag_entry *tag_get(struct tag_index *t, const char *tag, size_t len)
{
    uint64_t h = hash_siphash(t->seed, tag, len);
    struct tag_entry *e = tag_find(t, tag, len, h);
    if (e)
        return e;
    if (!(e = malloc(sizeof(*e) + len)))
        return NULL;
    memcpy(e->name, tag, len);
    e->len = (uint16_t)len;
    e->hash = h;
    e->objs = NULL;
    e->nobjs = 0;
    struct tag_entry **b = &t->buckets[h & (t->nbuckets - 1)];
    e->hnext = *b;
    *b = e;
    if (++t->ntags > t->nbuckets)
        tag_grow(t);
    return e;
}

static void tag_forget(struct tag_index *t, struct tag_entry *e)
{
    struct tag_entry **pp = &t->buckets[e->hash & (t->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    t->ntags--;
    free(e);
}

static void tag_unlink(struct tag_index *t, struct tag_link *k)
{
    struct tag_entry *e = k->tag;
    if (k->prev)
        k->prev->next = k->next;
    else
        e->objs = k->next;
    if (k->next)
        k->next->prev = k->prev;
    if (--e->nobjs == 0)
        tag_forget(t, e);
}

static void tag_links_drop(struct tag_index *t, struct tag_links *ls)
{
    for (unsigned i = 0; i < ls->n; i++)
        tag_unlink(t, &ls->link[i]);
    free(ls);
}

int tag_index_attach(struct tag_index *t, struct index_obj *o, const struct tag_list *l)
{
    if (!l->n)
        return 0;
    struct tag_links *ls = malloc(sizeof(*ls) + l->n * sizeof(ls->link[0]));
    if (!ls)
        return -1;
    ls->n = 0;
    for (unsigned i = 0; i < l->n; i++) {
        struct tag_entry *e = tag_get(t, l->tag[i], l->len[i]);
        if (!e) {
            tag_links_drop(t, ls);
            return -1;
        }
        if (e->objs && e->objs->obj == o)
            continue; /* a repeated tag: o is already at the head of its list */
        struct tag_link *k = &ls->link[ls->n++];
        k->tag = e;
        k->obj = o;
        k->prev = NULL;
        k->next = e->objs;
        if (e->objs)
            e->objs->prev = k;
        e->objs = k;
        e->nobjs++;
    }
    index_set_tag_links(o, ls);
    return 0;
}

void tag_index_detach(struct tag_index *t, struct index_obj *o)
{
    struct tag_links *ls = index_tag_links(o);
    if (!ls)
        return;
    index_set_tag_links(o, NULL);
    tag_links_drop(t, ls);
}

struct index_obj *tag_index_first(const struct tag_index *t, const char *tag, size_t len)
{
    struct tag_entry *e = tag_find(t, tag, len, hash_siphash(t->seed, tag, len));
    return e ? e->objs->obj : NULL;
}

size_t tag_index_count(const struct tag_index *t, const char *tag, size_t len)
{
    struct tag_entry *e = tag_find(t, tag, len, hash_siphash(t->seed, tag, len));
    return e ? e->nobjs : 0;
}

size_t tag_index_tags(const struct tag_index *t)
{
    return t->ntags;
}
