/*
 * test_buf.c - buf.c through its public API: appends against the hard max,
 * growth of buf_room() capped at max, consume and compact, buf_printf on
 * both sides of its 512-byte stack buffer, and fd I/O over a socketpair.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"

#include "rows.h"

/* ---- append ---- */

static void test_append_max(void **state)
{
    /* appends of n bytes in sequence into a buffer of a given max */
    static const struct {
        const char *name;
        size_t max;
        size_t n[4]; /* 0 ends the list */
        int rc[4];
        size_t used; /* after all appends */
    } cases[] = {
        {"fits", 10, {4, 6}, {0, 0}, 10},
        {"one over", 10, {4, 7}, {0, -1}, 4},
        {"first over", 10, {11}, {-1}, 0},
        {"over then fits", 10, {8, 3, 2}, {0, -1, 0}, 10},
        {"exactly max at once", 10, {10, 1}, {0, -1}, 10},
        {"max 0", 0, {1}, {-1}, 0},
        {"past min alloc", 20000, {4096, 4096, 8192, 3617}, {0, 0, 0, -1}, 16384},
    };
    char src[20000];
    (void)state;
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b;
        size_t at = 0;
        buf_init(&b, cases[i].max);
        for (size_t k = 0; k < 4 && cases[i].n[k]; k++) {
            int rc = buf_append(&b, src + at, cases[i].n[k]);
            if (rc != cases[i].rc[k])
                row_fail("%s: append #%zu gave %d, want %d", cases[i].name, k, rc, cases[i].rc[k]);
            if (rc == 0)
                at += cases[i].n[k];
        }
        if (buf_used(&b) != cases[i].used)
            row_fail("%s: used %zu, want %zu", cases[i].name, buf_used(&b), cases[i].used);
        else if (cases[i].used)
            assert_memory_equal(buf_head(&b), src, cases[i].used);
        assert_true(b.cap <= b.max);
        buf_free(&b);
    }
    rows_done();
}

static void test_append_empty_allocates_nothing(void **state)
{
    struct buf b;
    (void)state;
    buf_init(&b, 100);
    assert_int_equal(buf_append(&b, "", 0), 0);
    assert_null(b.data);
    assert_true(buf_empty(&b));
    buf_free(&b);
    rows_done();
}

/* ---- room ---- */

static void test_room_growth(void **state)
{
    /* fill whatever buf_room() offers, repeatedly: the room each call gives */
    static const struct {
        const char *name;
        size_t max;
        size_t rooms[6]; /* 0 ends: then buf_room() must answer 0 */
    } cases[] = {
        {"small max", 100, {100}},
        {"min alloc", 4096, {4096}},
        {"doubles", 16384, {4096, 4096, 8192}},
        {"capped", 10000, {4096, 4096, 1808}},
        {"max 0", 0, {0}},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b;
        size_t k;
        buf_init(&b, cases[i].max);
        for (k = 0; k < 6 && cases[i].rooms[k]; k++) {
            size_t room = buf_room(&b);
            if (room != cases[i].rooms[k])
                row_fail("%s: room #%zu is %zu, want %zu", cases[i].name, k, room,
                         cases[i].rooms[k]);
            memset(buf_tail(&b), 'x', room);
            b.len += room;
        }
        if (buf_room(&b) != 0)
            row_fail("%s: room left at max", cases[i].name);
        assert_int_equal(b.cap, b.len);
        assert_true(b.cap <= cases[i].max);
        buf_free(&b);
    }
    rows_done();
}

static void test_room_compacts(void **state)
{
    struct buf b;
    (void)state;
    buf_init(&b, 8);
    assert_int_equal(buf_append(&b, "abcdefgh", 8), 0);
    assert_int_equal(buf_room(&b), 0);
    buf_consume(&b, 3);
    /* full at the tail: room comes from moving the data to the front */
    assert_int_equal(buf_room(&b), 3);
    assert_int_equal(b.off, 0);
    assert_memory_equal(buf_head(&b), "defgh", 5);
    memcpy(buf_tail(&b), "xyz", 3);
    b.len += 3;
    assert_memory_equal(buf_head(&b), "defghxyz", 8);
    buf_free(&b);
    rows_done();
}

/* ---- consume and compact ---- */

static void test_consume_compact(void **state)
{
    struct buf b;
    (void)state;
    buf_init(&b, 64);
    assert_int_equal(buf_append(&b, "hello world", 11), 0);
    buf_consume(&b, 6);
    assert_int_equal(buf_used(&b), 5);
    assert_memory_equal(buf_head(&b), "world", 5);
    buf_compact(&b, true); /* not empty: moves, keeps the memory */
    assert_int_equal(b.off, 0);
    assert_int_equal(b.len, 5);
    assert_non_null(b.data);
    assert_memory_equal(buf_head(&b), "world", 5);

    /* append after a partial consume keeps the order */
    buf_consume(&b, 2);
    assert_int_equal(buf_append(&b, "!!", 2), 0);
    assert_int_equal(buf_used(&b), 5);
    assert_memory_equal(buf_head(&b), "rld!!", 5);

    /* consuming past the end empties without underflow */
    buf_consume(&b, 100);
    assert_true(buf_empty(&b));
    assert_int_equal(buf_used(&b), 0);

    buf_compact(&b, false); /* empty, no release: memory stays */
    assert_non_null(b.data);
    buf_compact(&b, true); /* empty and release: memory goes */
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.max, 64);

    /* usable again after release */
    assert_int_equal(buf_append(&b, "again", 5), 0);
    assert_memory_equal(buf_head(&b), "again", 5);
    buf_free(&b);
    buf_free(&b); /* idempotent */
    assert_null(b.data);
    rows_done();
}

static void test_append_reuses_consumed_room(void **state)
{
    struct buf b;
    (void)state;
    buf_init(&b, 10);
    assert_int_equal(buf_append(&b, "0123456789", 10), 0);
    buf_consume(&b, 4);
    /* 6 used + 4 fits max 10 only once consumed bytes are dropped */
    assert_int_equal(buf_append(&b, "abcd", 4), 0);
    assert_memory_equal(buf_head(&b), "456789abcd", 10);
    assert_int_equal(buf_append(&b, "x", 1), -1);
    buf_free(&b);
    rows_done();
}

/* ---- printf ---- */

static void test_printf(void **state)
{
    static const size_t lens[] = {0, 1, 511, 512, 513, 600, 5000};
    (void)state;
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t n = lens[i];
        char *s = malloc(n + 1);
        struct buf b;
        assert_non_null(s);
        for (size_t k = 0; k < n; k++)
            s[k] = (char)('A' + k % 26);
        s[n] = '\0';
        buf_init(&b, 8192);
        assert_int_equal(buf_append(&b, "<", 1), 0);
        if (buf_printf(&b, "%s|%d", s, 42) != 0)
            row_fail("len %zu: buf_printf failed", n);
        if (buf_used(&b) != n + 4) {
            row_fail("len %zu: used %zu", n, buf_used(&b));
        } else {
            assert_memory_equal(buf_head(&b) + 1, s, n);
            assert_memory_equal(buf_head(&b) + 1 + n, "|42", 3);
        }
        buf_free(&b);
        free(s);
    }
    rows_done();
}

static void test_printf_over_max(void **state)
{
    struct buf b;
    char big[700];
    (void)state;
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    buf_init(&b, 600);
    assert_int_equal(buf_printf(&b, "%s", "short"), 0);
    assert_int_equal(buf_printf(&b, "%s", big), -1); /* heap path, over max */
    assert_int_equal(buf_printf(&b, "%.594s", big), 0);
    assert_int_equal(buf_used(&b), 599);
    assert_int_equal(buf_printf(&b, "%s", "ab"), -1); /* stack path, over max */
    assert_int_equal(buf_used(&b), 599);
    buf_free(&b);
    rows_done();
}

/* ---- fd I/O ---- */

static void socket_pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
}

static void test_read_fd(void **state)
{
    int sv[2];
    struct buf b;
    (void)state;
    socket_pair(sv);
    buf_init(&b, 8);

    errno = 0;
    assert_int_equal(buf_read_fd(&b, sv[0]), -1); /* nothing yet */
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);

    assert_int_equal(write(sv[1], "abcde", 5), 5);
    assert_int_equal(buf_read_fd(&b, sv[0]), 5);
    assert_memory_equal(buf_head(&b), "abcde", 5);

    assert_int_equal(write(sv[1], "fghijkl", 7), 7);
    assert_int_equal(buf_read_fd(&b, sv[0]), 3); /* only up to max */
    assert_int_equal(buf_used(&b), 8);
    assert_int_equal(buf_read_fd(&b, sv[0]), -2); /* full */

    buf_consume(&b, 8);
    assert_int_equal(buf_read_fd(&b, sv[0]), 4);
    assert_memory_equal(buf_head(&b), "ijkl", 4);

    close(sv[1]);
    assert_int_equal(buf_read_fd(&b, sv[0]), 0); /* EOF */
    assert_int_equal(buf_used(&b), 4);
    close(sv[0]);
    buf_free(&b);
    rows_done();
}

static void test_write_fd(void **state)
{
    int sv[2];
    struct buf b;
    char got[64];
    (void)state;
    socket_pair(sv);
    buf_init(&b, 64);

    assert_int_equal(buf_write_fd(&b, sv[0]), 0); /* nothing to write */
    assert_int_equal(buf_append(&b, "hello world", 11), 0);
    buf_consume(&b, 6);
    assert_int_equal(buf_write_fd(&b, sv[0]), 5);
    assert_true(buf_empty(&b));
    assert_int_equal(read(sv[1], got, sizeof(got)), 5);
    assert_memory_equal(got, "world", 5);

    /* a closed peer is an error, not a SIGPIPE */
    close(sv[1]);
    assert_int_equal(buf_append(&b, "x", 1), 0);
    errno = 0;
    assert_int_equal(buf_write_fd(&b, sv[0]), -1);
    assert_int_equal(errno, EPIPE);
    assert_int_equal(buf_used(&b), 1);
    close(sv[0]);
    buf_free(&b);
    rows_done();
}

static void test_write_fd_partial(void **state)
{
    int sv[2];
    struct buf b;
    size_t total = 0, size = 1 << 20;
    char *data = malloc(size), *back = malloc(size);
    ssize_t n;
    (void)state;
    assert_non_null(data);
    assert_non_null(back);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)(i * 7);
    socket_pair(sv);
    buf_init(&b, size);
    assert_int_equal(buf_append(&b, data, size), 0);
    /* the socket buffer takes less than 1 MiB: writes are partial */
    while ((n = buf_write_fd(&b, sv[0])) > 0)
        ;
    assert_int_equal(n, -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    assert_false(buf_empty(&b));
    /* drain the peer and finish; every byte arrives once, in order */
    while (total < size) {
        n = read(sv[1], back + total, size - total);
        if (n > 0) {
            total += (size_t)n;
            continue;
        }
        assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
        n = buf_write_fd(&b, sv[0]);
        assert_true(n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)));
    }
    assert_true(buf_empty(&b));
    assert_memory_equal(back, data, size);
    close(sv[0]);
    close(sv[1]);
    buf_free(&b);
    free(data);
    free(back);
    rows_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_append_max, rows_reset),
        cmocka_unit_test_setup(test_append_empty_allocates_nothing, rows_reset),
        cmocka_unit_test_setup(test_room_growth, rows_reset),
        cmocka_unit_test_setup(test_room_compacts, rows_reset),
        cmocka_unit_test_setup(test_consume_compact, rows_reset),
        cmocka_unit_test_setup(test_append_reuses_consumed_room, rows_reset),
        cmocka_unit_test_setup(test_printf, rows_reset),
        cmocka_unit_test_setup(test_printf_over_max, rows_reset),
        cmocka_unit_test_setup(test_read_fd, rows_reset),
        cmocka_unit_test_setup(test_write_fd, rows_reset),
        cmocka_unit_test_setup(test_write_fd_partial, rows_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
