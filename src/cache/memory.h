/*
 * cache/memory.h - the hot-object memory tier: copies of small stored
 * responses (head block and body) kept in RAM, least recently used
 * dropped first, within a byte budget (cache.memory_size). A hit on one
 * needs no system call but the send.
 *
 * The store owns the tier and keeps it in step with its index: a copy
 * exists only while its index entry does, so replacing, refreshing,
 * invalidating or evicting an object drops its copy too. Exchanges that
 * are sending a copy hold a reference, so a dropped copy lives on until
 * the last of them lets go. Single-threaded.
 */
#ifndef MAGPIE_CACHE_MEMORY_H
#define MAGPIE_CACHE_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct index_obj;
struct mem_tier;

/* One copy. Fields without '_' may be read by holders of a reference. */
struct mem_obj {
    const char *head;    /* NUL-terminated stored head block */
    size_t head_len;
    const char *body;
    uint64_t body_len;
    time_t request_time, response_time;
    time_t touched;            /* last refresh of the file's mtime (the store's LRU) */
    void *aux;                 /* derived data a reader attached (mem_set_aux) */
    void (*aux_free)(void *);
    unsigned _refs;            /* the tier's (while linked) and each holder's */
    size_t _size;              /* bytes charged to the budget */
    struct mem_tier *_tier;    /* NULL once dropped */
    struct index_obj *_io;     /* the index entry it copies */
    struct mem_obj *_prev, *_next; /* LRU: prev is less recently used */
    char _data[];              /* head NUL body */
};

/* max_bytes: the budget; objects larger than max_object are never kept. */
struct mem_tier *mem_new(uint64_t max_bytes, uint64_t max_object);
/* Drops every copy (ones still held are freed by their last mem_put). */
void mem_free(struct mem_tier *t);
/* Whether an object of this size may be kept at all. */
bool mem_fits(const struct mem_tier *t, size_t head_len, uint64_t body_len);

/*
 * A new copy for io, most recently used, with room for head (copied here)
 * and body_len body bytes that the caller fills through mem_body_buf()
 * before anyone reads it. Older copies are dropped to make room. NULL when
 * it does not fit or memory is short. The tier holds the only reference.
 */
struct mem_obj *mem_add(struct mem_tier *t, struct index_obj *io, const char *head,
                        size_t head_len, uint64_t body_len);
char *mem_body_buf(struct mem_obj *m);
/* Unlinks a copy from the tier and its index entry (the entry is going). */
void mem_drop(struct mem_obj *m);
void mem_touch(struct mem_obj *m);

void mem_get(struct mem_obj *m);
void mem_put(struct mem_obj *m);
/* Attaches derived data, freed with the copy (once: later calls are ignored). */
void mem_set_aux(struct mem_obj *m, void *aux, void (*aux_free)(void *));

uint64_t mem_bytes(const struct mem_tier *t);
uint64_t mem_objects(const struct mem_tier *t);

#endif
