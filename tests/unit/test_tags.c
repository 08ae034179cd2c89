/*
 * test_tags.c - cache tags (cache/tags.c): reading Surrogate-Key and
 * Cache-Tag values, bounded whatever an origin sends, and the index from
 * a tag to the objects carrying it, kept in step as objects go.
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
#include "cache/tags.h"

static const unsigned char ID[INDEX_ID_LEN] = {1};

/* The tags of one value, joined with '|'. */
static void tags_of(const char *v, char sep, char *out, size_t size)
{
    size_t pos = 0, n, used = 0;
    const char *t;
    out[0] = '\0';
    while ((n = tags_next(v, strlen(v), &pos, sep, &t)))
        used += (size_t)snprintf(out + used, size - used, "%s%.*s", used ? "|" : "", (int)n, t);
}

static void test_parse(void **state)
{
    char got[4096];
    (void)state;
    assert_int_equal(tags_field_sep("surrogate-key", 13), ' ');
    assert_int_equal(tags_field_sep("CACHE-TAG", 9), ',');
    assert_int_equal(tags_field_sep("Cache-Tags", 10), 0);
    tags_of("  a b\t\tc  ", ' ', got, sizeof got);
    assert_string_equal(got, "a|b|c");
    tags_of(" a , b c ,,d,", ',', got, sizeof got);
    assert_string_equal(got, "a|d"); /* "b c" holds a blank: no tag */
    tags_of("ok bad\x01x \xc3\xa9 fine", ' ', got, sizeof got);
    assert_string_equal(got, "ok|fine");
    char v[TAG_LEN_MAX + 16];
    memset(v, 'x', TAG_LEN_MAX + 1);
    strcpy(v + TAG_LEN_MAX + 1, " y");
    tags_of(v, ' ', got, sizeof got);
    assert_string_equal(got, "y"); /* an overlong item is skipped, not cut */
    v[TAG_LEN_MAX] = ' ';
    tags_of(v, ' ', got, sizeof got);
    assert_int_equal(strlen(got), TAG_LEN_MAX + 2); /* TAG_LEN_MAX bytes is a tag */
}

static void test_from_head(void **state)
{
    (void)state;
    struct tag_list l;
    const char head[] = "HTTP/1.1 200 OK\r\nSurrogate-Key: a b a\r\nX: y\r\n"
                        "cache-tag: b,c\r\n\r\nSurrogate-Key: body";
    assert_int_equal(tags_from_head(head, sizeof head - 1, &l), 3);
    assert_int_equal(l.len[2], 1);
    assert_memory_equal(l.tag[2], "c", 1);
    /* cut anywhere, nothing is read past the length */
    for (size_t n = 0; n < sizeof head - 1; n++) {
        char *cut = malloc(n ? n : 1);
        memcpy(cut, head, n);
        assert_true(tags_from_head(cut, n, &l) <= 3);
        free(cut);
    }
    /* an origin's many tags: the first TAGS_MAX distinct ones */
    size_t size = 32 + 8 * 1000;
    char *big = malloc(size);
    size_t used = (size_t)snprintf(big, size, "HTTP/1.1 200 OK\r\nSurrogate-Key:");
    for (int i = 0; i < 1000; i++)
        used += (size_t)snprintf(big + used, size - used, " t%d", i % 500);
    used += (size_t)snprintf(big + used, size - used, "\r\n\r\n");
    assert_int_equal(tags_from_head(big, used, &l), TAGS_MAX);
    assert_memory_equal(l.tag[TAGS_MAX - 1], "t63", 3);
    free(big);
}

static void test_pack(void **state)
{
    (void)state;
    struct tag_list l = {0}, back;
    char *p;
    assert_int_equal(tags_pack(&l, &p), 0);
    assert_null(p);
    assert_false(tags_packed_has(NULL, "a", 1));
    assert_true(tags_list_add(&l, "ab", 2));
    assert_true(tags_list_add(&l, "c", 1));
    assert_true(tags_list_add(&l, "ab", 2)); /* already there */
    assert_int_equal(l.n, 2);
    assert_int_equal(tags_pack(&l, &p), 0);
    assert_true(tags_packed_has(p, "ab", 2));
    assert_false(tags_packed_has(p, "a", 1));
    tags_unpack(p, &back);
    assert_int_equal(back.n, 2);
    assert_memory_equal(back.tag[1], "c", 1);
    free(p);
}

static struct tag_list list_of(const char *v)
{
    struct tag_list l = {0};
    size_t pos = 0, n;
    const char *t;
    while ((n = tags_next(v, strlen(v), &pos, ' ', &t)))
        tags_list_add(&l, t, n);
    return l;
}

static void test_index(void **state)
{
    (void)state;
    struct index *idx = index_new();
    struct index_obj *a = index_insert(idx, "http://a/", "", "", 10, ID);
    struct index_obj *b = index_insert(idx, "http://b/", "", "", 10, ID);
    struct tag_list la = list_of("shared only-a"), lb = list_of("shared");
    assert_int_equal(index_set_tags(idx, a, &la), 0);
    assert_int_equal(index_set_tags(idx, b, &lb), 0);
    const struct tag_index *t = index_tag_index(idx);
    assert_int_equal(tag_index_count(t, "shared", 6), 2);
    assert_int_equal(tag_index_tags(t), 2);
    assert_ptr_equal(index_tagged(idx, "only-a", 6), a);
    assert_null(index_tagged(idx, "only", 4));
    /* replacing tags, then removing objects, leaves nothing dangling */
    struct tag_list la2 = list_of("new");
    assert_int_equal(index_set_tags(idx, a, &la2), 0);
    assert_null(index_tagged(idx, "only-a", 6));
    assert_int_equal(tag_index_count(t, "shared", 6), 1);
    index_remove(idx, b);
    assert_null(index_tagged(idx, "shared", 6));
    assert_int_equal(tag_index_tags(t), 1);
    index_remove(idx, a);
    assert_int_equal(tag_index_tags(t), 0);
    /* many tags over many objects: the table grows, every tag is found */
    char key[32], tag[16];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "http://k/%d", i);
        snprintf(tag, sizeof tag, "t%d o%d", i, i % 7);
        struct tag_list l = list_of(tag);
        assert_int_equal(index_set_tags(idx, index_insert(idx, key, "", "", 1, ID), &l), 0);
    }
    assert_int_equal(tag_index_tags(t), 307);
    assert_int_equal(tag_index_count(t, "o3", 2), 43);
    struct index_obj *o;
    int purged = 0;
    while ((o = index_tagged(idx, "o3", 2)))
        index_remove(idx, o), purged++;
    assert_int_equal(purged, 43);
    assert_int_equal(tag_index_tags(t), 307 - 43 - 1);
    index_free(idx); /* frees the tagged objects that are left: ASan checks */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_pack),
        cmocka_unit_test(test_from_head),
        cmocka_unit_test(test_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
