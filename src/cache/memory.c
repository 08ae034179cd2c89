/*
 * cache/memory.c - the hot-object memory tier (see memory.h). One
 * allocation per copy (header, head and body together), one LRU list,
 * reference counts so a copy being sent outlives its eviction.
 */
#include "cache/memory.h"

#include <stdlib.h>
#include <string.h>

#include "cache/index.h"

struct mem_tier {
    uint64_t max_bytes, max_object;
    uint64_t bytes, objects;
    struct mem_obj *lru_old, *lru_new;
};

struct mem_tier *mem_new(uint64_t max_bytes, uint64_t max_object)
{
    struct mem_tier *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->max_bytes = max_bytes;
    t->max_object = max_object < max_bytes ? max_object : max_bytes;
    return t;
}

static void lru_unlink(struct mem_tier *t, struct mem_obj *m)
{
    if (m->_prev)
        m->_prev->_next = m->_next;
    else
        t->lru_old = m->_next;
    if (m->_next)
        m->_next->_prev = m->_prev;
    else
        t->lru_new = m->_prev;
    m->_prev = m->_next = NULL;
}

static void lru_push_new(struct mem_tier *t, struct mem_obj *m)
{
    m->_prev = t->lru_new;
    m->_next = NULL;
    if (t->lru_new)
        t->lru_new->_next = m;
    else
        t->lru_old = m;
    t->lru_new = m;
}

void mem_free(struct mem_tier *t)
{
    if (!t)
        return;
    while (t->lru_old)
        mem_drop(t->lru_old);
    free(t);
}

static size_t mem_charge(size_t head_len, uint64_t body_len)
{
    return sizeof(struct mem_obj) + head_len + 1 + (size_t)body_len;
}

bool mem_fits(const struct mem_tier *t, size_t head_len, uint64_t body_len)
{
    return t && body_len <= t->max_object && mem_charge(head_len, body_len) <= t->max_object;
}

struct mem_obj *mem_add(struct mem_tier *t, struct index_obj *io, const char *head,
                        size_t head_len, uint64_t body_len)
{
    if (!mem_fits(t, head_len, body_len))
        return NULL;
    size_t size = mem_charge(head_len, body_len);
    while (t->bytes + size > t->max_bytes && t->lru_old)
        mem_drop(t->lru_old);
    struct mem_obj *m = malloc(size);
    if (!m)
        return NULL;
    memset(m, 0, sizeof(*m));
    memcpy(m->_data, head, head_len);
    m->_data[head_len] = '\0';
    m->head = m->_data;
    m->head_len = head_len;
    m->body = m->_data + head_len + 1;
    m->body_len = body_len;
    m->_refs = 1;
    m->_size = size;
    m->_tier = t;
    m->_io = io;
    index_set_mem(io, m);
    lru_push_new(t, m);
    t->bytes += size;
    t->objects++;
    return m;
}

char *mem_body_buf(struct mem_obj *m)
{
    return m->_data + m->head_len + 1;
}

void mem_drop(struct mem_obj *m)
{
    struct mem_tier *t = m->_tier;
    if (!t)
        return;
    lru_unlink(t, m);
    t->bytes -= m->_size;
    t->objects--;
    m->_tier = NULL;
    if (m->_io)
        index_set_mem(m->_io, NULL);
    m->_io = NULL;
    mem_put(m);
}

void mem_touch(struct mem_obj *m)
{
    struct mem_tier *t = m->_tier;
    if (!t || t->lru_new == m)
        return;
    lru_unlink(t, m);
    lru_push_new(t, m);
}

void mem_get(struct mem_obj *m)
{
    m->_refs++;
}

void mem_put(struct mem_obj *m)
{
    if (!m || --m->_refs > 0)
        return;
    if (m->aux_free)
        m->aux_free(m->aux);
    free(m);
}

void mem_set_aux(struct mem_obj *m, void *aux, void (*aux_free)(void *))
{
    if (m->aux) {
        if (aux_free)
            aux_free(aux);
        return;
    }
    m->aux = aux;
    m->aux_free = aux_free;
}

uint64_t mem_bytes(const struct mem_tier *t)
{
    return t ? t->bytes : 0;
}

uint64_t mem_objects(const struct mem_tier *t)
{
    return t ? t->objects : 0;
}
