/*
 * cache/index.c - the store's in-memory index. Keys (URLs, chosen by
 * clients) hash with SipHash-2-4 under a per-index random seed, so nobody
 * can aim many keys at one bucket; the table doubles when it holds more
 * keys than buckets. Each key owns a singly linked list of its variants,
 * newest stored first (store_vary() answers from its head); every object
 * is also on one doubly linked LRU list, so touch, insert, remove and
 * "oldest" are O(1) and eviction by bytes is a walk from the old end.
 *
 * Memory: one allocation per key (the key string inline) and one per
 * object (variant and Vary strings inline), plus one per tagged object for
 * its tags' links (tags.c). Nothing here touches the disk.
 */
#include "cache/index.h"

#include <stdlib.h>
#include <string.h>

#include "cache/memory.h"
#include "cache/tags.h"
#include "hash.h"

#define INDEX_MIN_BUCKETS 1024

struct index_key {
    struct index_key *hnext; /* bucket chain */
    uint64_t hash;
    struct index_obj *variants; /* newest stored first; never NULL */
    unsigned nvariants;
    char key[];
};

struct index {
    struct index_key **buckets;
    size_t nbuckets; /* power of two */
    size_t nkeys;
    uint64_t nobjs, bytes;
    struct index_obj *lru_old, *lru_new; /* the two ends of the LRU list */
    struct tag_index *tags;              /* tag -> objects carrying it */
    uint64_t seed[2];
};

/* ---- table ---- */

struct index *index_new(void)
{
    struct index *idx = calloc(1, sizeof(*idx));
    if (!idx)
        return NULL;
    idx->nbuckets = INDEX_MIN_BUCKETS;
    idx->buckets = calloc(idx->nbuckets, sizeof(*idx->buckets));
    idx->tags = tag_index_new();
    if (!idx->buckets || !idx->tags) {
        free(idx->buckets);
        tag_index_free(idx->tags);
        free(idx);
        return NULL;
    }
    hash_random_seed(idx->seed);
    return idx;
}

void index_free(struct index *idx)
{
    if (!idx)
        return;
    for (size_t i = 0; i < idx->nbuckets; i++) {
        struct index_key *k = idx->buckets[i];
        while (k) {
            struct index_key *next = k->hnext;
            struct index_obj *o = k->variants;
            while (o) {
                struct index_obj *onext = o->_vnext;
                if (o->mem)
                    mem_drop(o->mem);
                tag_index_detach(idx->tags, o);
                free(o);
                o = onext;
            }
            free(k);
            k = next;
        }
    }
    tag_index_free(idx->tags);
    free(idx->buckets);
    free(idx);
}

static struct index_key *index_key_find(const struct index *idx, const char *key, uint64_t h)
{
    for (struct index_key *k = idx->buckets[h & (idx->nbuckets - 1)]; k; k = k->hnext)
        if (k->hash == h && strcmp(k->key, key) == 0)
            return k;
    return NULL;
}

/* Doubles the table; on allocation failure the old one simply stays
   (longer chains, still correct). */
static void index_grow(struct index *idx)
{
    size_t n = idx->nbuckets * 2;
    struct index_key **b = calloc(n, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < idx->nbuckets; i++) {
        struct index_key *k = idx->buckets[i];
        while (k) {
            struct index_key *next = k->hnext;
            k->hnext = b[k->hash & (n - 1)];
            b[k->hash & (n - 1)] = k;
            k = next;
        }
    }
    free(idx->buckets);
    idx->buckets = b;
    idx->nbuckets = n;
}

static struct index_key *index_key_add(struct index *idx, const char *key, uint64_t h)
{
    size_t len = strlen(key);
    struct index_key *k = malloc(sizeof(*k) + len + 1);
    if (!k)
        return NULL;
    memcpy(k->key, key, len + 1);
    k->hash = h;
    k->variants = NULL;
    k->nvariants = 0;
    struct index_key **b = &idx->buckets[h & (idx->nbuckets - 1)];
    k->hnext = *b;
    *b = k;
    if (++idx->nkeys > idx->nbuckets)
        index_grow(idx);
    return k;
}

static void index_key_del(struct index *idx, struct index_key *k)
{
    struct index_key **pp = &idx->buckets[k->hash & (idx->nbuckets - 1)];
    while (*pp != k)
        pp = &(*pp)->hnext;
    *pp = k->hnext;
    idx->nkeys--;
    free(k);
}

/* ---- lookups ---- */

struct index_obj *index_newest(struct index *idx, const char *key)
{
    struct index_key *k = index_key_find(idx, key, hash_siphash(idx->seed, key, strlen(key)));
    return k ? k->variants : NULL;
}

struct index_obj *index_find(struct index *idx, const char *key, const char *variant)
{
    for (struct index_obj *o = index_newest(idx, key); o; o = o->_vnext)
        if (strcmp(o->variant, variant) == 0)
            return o;
    return NULL;
}

struct index_obj *index_next_variant(const struct index_obj *o)
{
    return o->_vnext;
}

struct index_obj *index_oldest_variant(const struct index_obj *o)
{
    while (o->_vnext)
        o = o->_vnext;
    return (struct index_obj *)o;
}

unsigned index_variants(const struct index_obj *o)
{
    return o->_key->nvariants;
}

const char *index_obj_key(const struct index_obj *o)
{
    return o->_key->key;
}

struct index_obj *index_lru_oldest(const struct index *idx)
{
    return idx->lru_old;
}

uint64_t index_objects(const struct index *idx)
{
    return idx->nobjs;
}

uint64_t index_bytes(const struct index *idx)
{
    return idx->bytes;
}

/* ---- LRU list ---- */

static void lru_unlink(struct index *idx, struct index_obj *o)
{
    if (o->_lru_prev)
        o->_lru_prev->_lru_next = o->_lru_next;
    else
        idx->lru_old = o->_lru_next;
    if (o->_lru_next)
        o->_lru_next->_lru_prev = o->_lru_prev;
    else
        idx->lru_new = o->_lru_prev;
    o->_lru_prev = o->_lru_next = NULL;
}

static void lru_push_new(struct index *idx, struct index_obj *o)
{
    o->_lru_next = NULL;
    o->_lru_prev = idx->lru_new;
    if (idx->lru_new)
        idx->lru_new->_lru_next = o;
    else
        idx->lru_old = o;
    idx->lru_new = o;
}

void index_touch(struct index *idx, struct index_obj *o)
{
    if (idx->lru_new == o)
        return;
    lru_unlink(idx, o);
    lru_push_new(idx, o);
}

void index_set_size(struct index *idx, struct index_obj *o, uint64_t size)
{
    idx->bytes = idx->bytes - o->size + size;
    o->size = size;
}

/* ---- insert / remove ---- */

void index_set_verified(struct index_obj *o)
{
    o->verified = true;
}

void index_set_mem(struct index_obj *o, struct mem_obj *m)
{
    o->mem = m;
}

static struct index_obj *index_obj_new(const char *variant, const char *vary, uint64_t size,
                                       const unsigned char id[INDEX_ID_LEN])
{
    size_t vlen = strlen(variant), ylen = strlen(vary);
    struct index_obj *o = malloc(sizeof(*o) + vlen + 1 + ylen + 1);
    if (!o)
        return NULL;
    memcpy(o->_data, variant, vlen + 1);
    memcpy(o->_data + vlen + 1, vary, ylen + 1);
    o->variant = o->_data;
    o->vary = o->_data + vlen + 1;
    o->size = size;
    o->verified = false;
    o->mem = NULL;
    o->_tags = NULL;
    memcpy(o->id, id, INDEX_ID_LEN);
    o->_key = NULL;
    o->_vnext = NULL;
    o->_lru_prev = o->_lru_next = NULL;
    return o;
}

struct index_obj *index_insert(struct index *idx, const char *key, const char *variant,
                               const char *vary, uint64_t size,
                               const unsigned char id[INDEX_ID_LEN])
{
    struct index_obj *o = index_obj_new(variant, vary, size, id);
    if (!o)
        return NULL;
    uint64_t h = hash_siphash(idx->seed, key, strlen(key));
    struct index_key *k = index_key_find(idx, key, h);
    struct index_obj *old = NULL;
    if (k) {
        for (old = k->variants; old && strcmp(old->variant, variant) != 0; old = old->_vnext)
            ;
    } else if (!(k = index_key_add(idx, key, h))) {
        free(o);
        return NULL;
    }
    /* Link the new object first, so removing the old one never empties
       (and frees) the key. */
    o->_key = k;
    o->_vnext = k->variants;
    k->variants = o;
    k->nvariants++;
    lru_push_new(idx, o);
    idx->nobjs++;
    idx->bytes += size;
    if (old)
        index_remove(idx, old);
    return o;
}

void index_remove(struct index *idx, struct index_obj *o)
{
    struct index_key *k = o->_key;
    struct index_obj **pp = &k->variants;
    while (*pp != o)
        pp = &(*pp)->_vnext;
    *pp = o->_vnext;
    k->nvariants--;
    lru_unlink(idx, o);
    idx->nobjs--;
    idx->bytes -= o->size;
    if (o->mem)
        mem_drop(o->mem);
    tag_index_detach(idx->tags, o);
    free(o);
    if (!k->variants)
        index_key_del(idx, k);
}

/* ---- cache tags ---- */

int index_set_tags(struct index *idx, struct index_obj *o, const struct tag_list *l)
{
    tag_index_detach(idx->tags, o);
    return tag_index_attach(idx->tags, o, l);
}

struct index_obj *index_tagged(const struct index *idx, const char *tag, size_t len)
{
    return tag_index_first(idx->tags, tag, len);
}

const struct tag_index *index_tag_index(const struct index *idx)
{
    return idx->tags;
}

struct tag_links *index_tag_links(const struct index_obj *o)
{
    return o->_tags;
}

void index_set_tag_links(struct index_obj *o, struct tag_links *ls)
{
    o->_tags = ls;
}
