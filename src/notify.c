/*
 * notify.c - tells systemd (Type=notify) when magpie is ready, reloading
 * or stopping, what it is doing (STATUS=) and that its loop still turns
 * (WATCHDOG=1). A no-op unless $NOTIFY_SOCKET is set. Never blocks: the
 * datagram is sent with MSG_DONTWAIT and a failure is only logged.
 */
#include "notify.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cfgval.h"
#include "log.h"

void notify_systemd(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len >= sizeof(sun.sun_path) || (path[0] != '/' && path[0] != '@')) {
        log_warn("NOTIFY_SOCKET %s is not a usable socket path", path);
        return;
    }
    memcpy(sun.sun_path, path, len);
    if (path[0] == '@')
        sun.sun_path[0] = '\0'; /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    /* one line per kind of failure, not per ping: a watchdog pings often */
    static int failing;
    if (sendto(fd, state, strlen(state), MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sun,
               alen) < 0) {
        if (errno != failing)
            log_warn("cannot notify systemd (%s): %s; not said again until it works", state,
                     strerror(errno));
        failing = errno;
    } else {
        failing = 0;
    }
    close(fd);
}

void notify_systemdf(const char *fmt, ...)
{
    char msg[NOTIFY_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n > 0)
        notify_systemd(msg); /* a cut STATUS= still says the most of it */
}

void notify_reloading(void)
{
    /* systemd >= 253 (Type=notify-reload) matches the reload to this stamp */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    notify_systemdf("RELOADING=1\nMONOTONIC_USEC=%llu",
                    (unsigned long long)ts.tv_sec * 1000000ull +
                        (unsigned long long)ts.tv_nsec / 1000ull);
}

double notify_watchdog_every(unsigned long long usec)
{
    double every = (double)usec / 2e6;
    return every < NOTIFY_WATCHDOG_MIN ? NOTIFY_WATCHDOG_MIN : every;
}

unsigned long long notify_watchdog_usec(const char *usec, const char *pid, pid_t self)
{
    uint64_t v, p;
    if (!usec || cfgval_uint(usec, &v) != 0 || v == 0)
        return 0;
    if (pid && *pid && (cfgval_uint(pid, &p) != 0 || p > INT_MAX || (pid_t)p != self))
        return 0; /* meant for another process (a parent's leftover) */
    return v;
}
