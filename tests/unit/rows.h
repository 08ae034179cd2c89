/*
 * rows.h - table-driven cmocka tests: a failed row is reported with its
 * name and the other rows still run; the test fails at its end
 * (rows_done()). Include after <cmocka.h>.
 */
#ifndef MAGPIE_TEST_ROWS_H
#define MAGPIE_TEST_ROWS_H

static int failed_rows;
#define row_fail(...)                                                                              \
    do {                                                                                           \
        print_error("ERROR: " __VA_ARGS__);                                                        \
        print_error("\n");                                                                         \
        failed_rows++;                                                                             \
    } while (0)
#define rows_done()                                                                                \
    do {                                                                                           \
        int n_ = failed_rows;                                                                      \
        failed_rows = 0;                                                                           \
        if (n_)                                                                                    \
            fail_msg("%d failed check(s)", n_);                                                    \
    } while (0)
static int rows_reset(void **state)
{
    (void)state;
    failed_rows = 0;
    return 0;
}

#endif
