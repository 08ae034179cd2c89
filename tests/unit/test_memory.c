/*
 * test_memory.c - cache/memory.c: the byte budget and the per-object
 * limit, least recently used copies dropped first, references that keep a
 * dropped copy alive (AddressSanitizer catches any early free), derived
 * data freed exactly once, and the link to the index entry both ways.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/index.h"
#include "cache/memory.h"

static const unsigned char ID[INDEX_ID_LEN];

static struct index_obj *entry(struct index *idx, const char *key)
{
    struct index_obj *o = index_insert(idx, key, "", "", 100, ID);
    assert_non_null(o);
    return o;
}

/* A copy of body under key, with head "H <key>". */
static struct mem_obj *add(struct mem_tier *t, struct index *idx, const char *key, size_t body)
{
    char head[64];
    snprintf(head, sizeof(head), "H %s", key);
    struct mem_obj *m = mem_add(t, entry(idx, key), head, strlen(head), body);
    if (m)
        memset(mem_body_buf(m), key[0], body);
    return m;
}

static void test_add_and_read(void **state)
{
    (void)state;
    struct index *idx = index_new();
    struct mem_tier *t = mem_new(1 << 20, 1 << 16);
    struct mem_obj *m = add(t, idx, "a", 1000);
    assert_non_null(m);
    assert_string_equal(m->head, "H a");
    assert_int_equal(m->head_len, 3);
    assert_int_equal(m->body_len, 1000);
    assert_int_equal(m->body[999], 'a');
    assert_ptr_equal(index_newest(idx, "a")->mem, m);
    assert_int_equal(mem_objects(t), 1);
    assert_true(mem_bytes(t) >= 1003);
    mem_free(t);
    assert_null(index_newest(idx, "a")->mem);
    index_free(idx);
}

static void test_object_limit(void **state)
{
    (void)state;
    struct index *idx = index_new();
    struct mem_tier *t = mem_new(1 << 20, 4096);
    assert_true(mem_fits(t, 10, 1000));
    assert_false(mem_fits(t, 10, 5000));
    assert_false(mem_fits(NULL, 10, 10)); /* no tier keeps nothing */
    assert_null(add(t, idx, "big", 5000));
    assert_null(index_newest(idx, "big")->mem);
    assert_int_equal(mem_objects(t), 0);
    mem_free(t);
    index_free(idx);
}

static void test_budget_drops_least_recently_used(void **state)
{
    (void)state;
    struct index *idx = index_new();
    struct mem_tier *t = mem_new(3 * 1200, 1200); /* room for three 1000-byte bodies */
    struct mem_obj *a = add(t, idx, "a", 1000);
    add(t, idx, "b", 1000);
    add(t, idx, "c", 1000);
    assert_int_equal(mem_objects(t), 3);
    mem_touch(a); /* b is now the least recently used */
    add(t, idx, "d", 1000);
    assert_true(mem_bytes(t) <= 3 * 1200);
    assert_int_equal(mem_objects(t), 3);
    assert_non_null(index_newest(idx, "a")->mem);
    assert_null(index_newest(idx, "b")->mem);
    assert_non_null(index_newest(idx, "c")->mem);
    assert_non_null(index_newest(idx, "d")->mem);
    mem_free(t);
    index_free(idx);
}

static void test_reference_outlives_drop(void **state)
{
    (void)state;
    struct index *idx = index_new();
    struct mem_tier *t = mem_new(1 << 20, 1 << 16);
    struct mem_obj *m = add(t, idx, "a", 100);
    mem_get(m); /* an exchange is sending it */
    index_remove(idx, index_newest(idx, "a")); /* invalidated meanwhile */
    assert_int_equal(mem_objects(t), 0);
    assert_int_equal(mem_bytes(t), 0);
    assert_int_equal(m->body[99], 'a'); /* still readable by its holder */
    mem_put(m);
    mem_free(t);
    index_free(idx);
}

static void test_replacing_the_entry_drops_the_copy(void **state)
{
    (void)state;
    struct index *idx = index_new();
    struct mem_tier *t = mem_new(1 << 20, 1 << 16);
    add(t, idx, "a", 100);
    entry(idx, "a"); /* a new response for the same key and variant */
    assert_null(index_newest(idx, "a")->mem);
    assert_int_equal(mem_objects(t), 0);
    mem_free(t);
    index_free(idx);
}

static int aux_frees;
static void aux_free(void *p)
{
    aux_frees++;
    free(p);
}

static void test_aux_freed_once_with_the_copy(void **state)
{
    (void)state;
    struct index *idx = index_new();
    struct mem_tier *t = mem_new(1 << 20, 1 << 16);
    struct mem_obj *m = add(t, idx, "a", 10);
    aux_frees = 0;
    mem_set_aux(m, malloc(16), aux_free);
    void *first = m->aux;
    mem_set_aux(m, malloc(16), aux_free); /* a second one is freed at once */
    assert_ptr_equal(m->aux, first);
    assert_int_equal(aux_frees, 1);
    mem_get(m);
    mem_drop(m);
    assert_int_equal(aux_frees, 1); /* held */
    mem_put(m);
    assert_int_equal(aux_frees, 2);
    mem_free(t);
    index_free(idx);
}

static void test_index_free_drops_copies(void **state)
{
    (void)state;
    struct index *idx = index_new();
    struct mem_tier *t = mem_new(1 << 20, 1 << 16);
    add(t, idx, "a", 10);
    add(t, idx, "b", 10);
    index_free(idx);
    assert_int_equal(mem_objects(t), 0);
    mem_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_and_read),
        cmocka_unit_test(test_object_limit),
        cmocka_unit_test(test_budget_drops_least_recently_used),
        cmocka_unit_test(test_reference_outlives_drop),
        cmocka_unit_test(test_replacing_the_entry_drops_the_copy),
        cmocka_unit_test(test_aux_freed_once_with_the_copy),
        cmocka_unit_test(test_index_free_drops_copies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
