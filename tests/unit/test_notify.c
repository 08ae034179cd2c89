/*
 * test_notify.c - systemd notification: which WATCHDOG_USEC/WATCHDOG_PID
 * ask this process for a watchdog, and the datagrams themselves, read from
 * a socket the test binds (a path and an abstract name): RELOADING=1 with
 * a MONOTONIC_USEC taken while it was sent, formatted states cut at
 * NOTIFY_MAX, and nothing sent (nor any crash) without NOTIFY_SOCKET.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

#include "rows.h"

#define SELF 4242

/* Half the interval, never faster than every 10 ms. */
static void test_watchdog_every(void **state)
{
    (void)state;
    assert_true(notify_watchdog_every(30000000) == 15.0);
    assert_true(notify_watchdog_every(200000) == 0.1);
    assert_true(notify_watchdog_every(20000) == NOTIFY_WATCHDOG_MIN);
    assert_true(notify_watchdog_every(1) == NOTIFY_WATCHDOG_MIN);
}

static void test_watchdog_usec(void **state)
{
    (void)state;
    static const struct {
        const char *name, *usec, *pid;
        unsigned long long want;
    } rows[] = {
        {"none", NULL, NULL, 0},
        {"for anyone", "200000", NULL, 200000},
        {"for us", "30000000", "4242", 30000000},
        {"empty WATCHDOG_PID", "200000", "", 200000},
        {"for another process", "200000", "4243", 0},
        {"zero", "0", NULL, 0},
        {"not a number", "soon", NULL, 0},
        {"trailing garbage", "200000us", NULL, 0},
        {"negative", "-5", NULL, 0},
        {"bad WATCHDOG_PID", "200000", "42x", 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        unsigned long long got = notify_watchdog_usec(rows[i].usec, rows[i].pid, SELF);
        if (got != rows[i].want)
            row_fail("%s: %llu, want %llu", rows[i].name, got, rows[i].want);
    }
    rows_done();
}

/* A datagram socket at name ("@..." abstract), set as NOTIFY_SOCKET. */
static int listen_notify(const char *name)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    memcpy(sun.sun_path, name, len);
    if (name[0] == '@')
        sun.sun_path[0] = '\0';
    else
        unlink(name);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun,
                          (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
                     0);
    setenv("NOTIFY_SOCKET", name, 1);
    return fd;
}

static ssize_t recv_msg(int fd, char *buf, size_t size)
{
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n = recv(fd, buf, size - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return n;
}

static unsigned long long mono_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000ull;
}

static void test_reloading(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/magpie-notify-%ld", (long)getpid());
    const char *names[] = {path, "@magpie-notify-test"};
    for (size_t i = 0; i < 2; i++) {
        int fd = listen_notify(names[i]);
        unsigned long long before = mono_usec();
        notify_reloading();
        unsigned long long after = mono_usec();
        char buf[NOTIFY_MAX + 64];
        assert_true(recv_msg(fd, buf, sizeof(buf)) > 0);
        unsigned long long stamp = 0;
        if (sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu", &stamp) != 1)
            row_fail("%s: \"%s\" is not RELOADING=1 with MONOTONIC_USEC", names[i], buf);
        else if (stamp < before || stamp > after)
            row_fail("%s: MONOTONIC_USEC %llu outside [%llu, %llu]", names[i], stamp, before,
                     after);
        close(fd);
    }
    unlink(path);
    rows_done();
}

static void test_formatted(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/magpie-notify-%ld", (long)getpid());
    int fd = listen_notify(path);
    char buf[NOTIFY_MAX * 4];
    notify_systemdf("READY=1\nSTATUS=%u connections", 7u);
    assert_true(recv_msg(fd, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "READY=1\nSTATUS=7 connections");
    char big[NOTIFY_MAX * 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    notify_systemdf("STATUS=%s", big);
    assert_int_equal(recv_msg(fd, buf, sizeof(buf)), NOTIFY_MAX - 1);
    assert_memory_equal(buf, "STATUS=xxx", 10);
    unsetenv("NOTIFY_SOCKET");
    notify_systemd("READY=1");
    struct timeval tv = {.tv_usec = 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_true(recv(fd, buf, sizeof(buf), 0) < 0); /* nothing sent */
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_watchdog_usec, rows_reset),
        cmocka_unit_test_setup(test_watchdog_every, rows_reset),
        cmocka_unit_test_setup(test_reloading, rows_reset),
        cmocka_unit_test(test_formatted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
