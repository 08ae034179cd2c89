/*
 * cache/index.h - the in-memory index of the disk store: a hash table from
 * key to its stored variants (newest stored first), and one LRU list over
 * every object, with the byte total that eviction keeps under max_size.
 * It does no I/O: cache/store.c decides what is on disk and keeps this in
 * step with it. Each object may carry cache tags (cache/tags.c), indexed
 * from tag to objects; removing an object unlinks them, so no tag ever
 * names an object that is gone.
 */
#ifndef MAGPIE_CACHE_INDEX_H
#define MAGPIE_CACHE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INDEX_ID_LEN 32 /* SHA-256 of key "\n" variant: the file name */

struct index;
struct index_key;
struct mem_obj;
struct tag_index;
struct tag_links;
struct tag_list;

/* One stored variant. Fields without '_' may be read; none may be written
   except through index_* calls. */
struct index_obj {
    const char *variant; /* secondary key, "" without Vary */
    const char *vary;    /* Vary field names of this response, "" if none */
    uint64_t size;       /* bytes the file takes (what max_size counts) */
    bool verified;       /* its body CRC was checked (or it was written) by this process */
    struct mem_obj *mem; /* its copy in the memory tier, or NULL */
    unsigned char id[INDEX_ID_LEN];
    struct tag_links *_tags;                 /* its cache tags' links (tags.c), or NULL */
    struct index_key *_key;                  /* owner; never NULL */
    struct index_obj *_vnext;                /* next older variant of _key */
    struct index_obj *_lru_prev, *_lru_next; /* prev: less recently used */
    char _data[];                            /* variant NUL vary NUL */
};

/* Marks the body as checked: later reads skip the CRC of large bodies. */
void index_set_verified(struct index_obj *o);
/* Records o's memory copy (memory.c); removing o drops the copy. */
void index_set_mem(struct index_obj *o, struct mem_obj *m);

struct index *index_new(void);
void index_free(struct index *idx);

/* The variant of key stored as variant, or NULL. */
struct index_obj *index_find(struct index *idx, const char *key, const char *variant);
/* The most recently stored variant of key, or NULL. */
struct index_obj *index_newest(struct index *idx, const char *key);
/* The next older stored variant of o's key, or NULL. */
struct index_obj *index_next_variant(const struct index_obj *o);
/* The least recently stored variant of o's key (o itself if alone). */
struct index_obj *index_oldest_variant(const struct index_obj *o);
unsigned index_variants(const struct index_obj *o);
const char *index_obj_key(const struct index_obj *o);

/*
 * Adds an object as the newest variant of key and the most recently used
 * object, replacing (and freeing) an entry with the same key and variant.
 * NULL when out of memory (the index is then unchanged).
 */
struct index_obj *index_insert(struct index *idx, const char *key, const char *variant,
                               const char *vary, uint64_t size,
                               const unsigned char id[INDEX_ID_LEN]);
/* Unlinks and frees o (and its key when it was the last variant). */
void index_remove(struct index *idx, struct index_obj *o);
/* Makes o the most recently used object. */
void index_touch(struct index *idx, struct index_obj *o);
void index_set_size(struct index *idx, struct index_obj *o, uint64_t size);

/*
 * Records o's cache tags (cache/tags.h), replacing any it had: removing o
 * takes it out of their lists. 0, or -1 out of memory (o then has none).
 */
int index_set_tags(struct index *idx, struct index_obj *o, const struct tag_list *l);
/* An object carrying tag[0..len), or NULL. */
struct index_obj *index_tagged(const struct index *idx, const char *tag, size_t len);
const struct tag_index *index_tag_index(const struct index *idx);
/* For tags.c only: the links it keeps for o. */
struct tag_links *index_tag_links(const struct index_obj *o);
void index_set_tag_links(struct index_obj *o, struct tag_links *ls);

/* The least recently used object, or NULL when empty. */
struct index_obj *index_lru_oldest(const struct index *idx);
uint64_t index_objects(const struct index *idx);
uint64_t index_bytes(const struct index *idx);

#endif
