/*
 * test_hash.c - hash.h against published FNV-1a 64 vectors, bytes above 0x7f
 * taken unsigned, and the seed XORed into the offset basis (a seed equal to
 * the basis leaves a bare multiply, so its result is checkable by hand).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hash.h"

static void test_fnv1a_vectors(void **state)
{
    (void)state;
    assert_int_equal(hash_fnv1a("", 0), 0xcbf29ce484222325ULL);
    assert_int_equal(hash_fnv1a("a", 0), 0xaf63dc4c8601ec8cULL);
    assert_int_equal(hash_fnv1a("foobar", 0), 0x85944171f73967e8ULL);
}

static void test_fnv1a_high_bytes(void **state)
{
    (void)state;
    /* a signed char would XOR in 0xffffffffffffffff instead of 0xff */
    assert_int_equal(hash_fnv1a("\xff", 0), 0xaf64724c8602eb6eULL);
}

static void test_fnv1a_seed(void **state)
{
    (void)state;
    assert_int_equal(hash_fnv1a("", 1), 0xcbf29ce484222324ULL);
    assert_int_equal(hash_fnv1a("a", 1), 0xaf63dd4c8601ee3fULL);
    assert_int_equal(hash_fnv1a("a", 0xcbf29ce484222325ULL), 0x61ULL * 0x100000001b3ULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv1a_vectors),
        cmocka_unit_test(test_fnv1a_high_bytes),
        cmocka_unit_test(test_fnv1a_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
