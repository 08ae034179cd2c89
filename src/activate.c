/*
 * activate.c - socket activation: see activate.h. The variables are unset
 * once read (as sd_listen_fds(1) does), so that nothing magpie runs later
 * believes the sockets are its own.
 */
#include "activate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfgval.h"

/* Decimal digits only, at most max (cfgval_uint's rules). */
static bool parse_upto(const char *s, uint64_t max, uint64_t *out)
{
    return s && cfgval_uint(s, out) == 0 && *out <= max;
}

int activate_count(const char *listen_pid, const char *listen_fds, pid_t self)
{
    uint64_t pid, n;
    if (!listen_pid || !*listen_pid)
        return 0;
    if (!parse_upto(listen_pid, INT_MAX, &pid))
        return -1;
    if ((pid_t)pid != self)
        return 0;
    if (!parse_upto(listen_fds, ACTIVATE_MAX_FDS, &n))
        return -1;
    return (int)n;
}

/* The i-th name of the colon-separated list, or "fd N". */
static void activate_name(struct activated *a, const char *names, size_t i)
{
    for (size_t k = 0; names && k < i; k++) {
        names = strchr(names, ':');
        if (names)
            names++;
    }
    size_t len = names ? strcspn(names, ":") : 0;
    if (len == 0 || len >= sizeof(a->name))
        snprintf(a->name, sizeof(a->name), "fd %d", a->fd);
    else
        snprintf(a->name, sizeof(a->name), "%.*s", (int)len, names);
}

/* fd must be a listening stream socket on an IP address. */
static int activate_check(struct activated *a, char *err, size_t errlen)
{
    int type = 0, acc = 0;
    socklen_t tl = sizeof(type), al = sizeof(acc);
    a->addrlen = sizeof(a->addr);
    if (getsockopt(a->fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
        getsockopt(a->fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) < 0 ||
        getsockname(a->fd, (struct sockaddr *)&a->addr, &a->addrlen) < 0) {
        snprintf(err, errlen, "passed socket %s: %s", a->name, strerror(errno));
        return -1;
    }
    if (type != SOCK_STREAM || !acc ||
        (a->addr.ss_family != AF_INET && a->addr.ss_family != AF_INET6)) {
        snprintf(err, errlen, "passed socket %s is not a listening TCP socket", a->name);
        return -1;
    }
    int fl = fcntl(a->fd, F_GETFL);
    if (fl < 0 || fcntl(a->fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(a->fd, F_SETFD, FD_CLOEXEC) < 0) {
        snprintf(err, errlen, "passed socket %s: %s", a->name, strerror(errno));
        return -1;
    }
    return 0;
}

int activate_take(int first, struct activated **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    int count = activate_count(getenv("LISTEN_PID"), getenv("LISTEN_FDS"), getpid());
    char *names = getenv("LISTEN_FDNAMES");
    names = names ? strdup(names) : NULL;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    int rc = 0;
    if (count < 0) {
        snprintf(err, errlen, "LISTEN_PID/LISTEN_FDS are malformed (at most %d sockets)",
                 ACTIVATE_MAX_FDS);
        rc = -1;
    } else if (count > 0 && !(*out = calloc((size_t)count, sizeof(**out)))) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < count; i++) {
        struct activated *a = &(*out)[i];
        a->fd = first + i;
        activate_name(a, names, (size_t)i);
        (*n)++;
        /* a descriptor that is no listening socket is not magpie's to
           close (without activation fd 3 may be the loop's own) */
        if ((rc = activate_check(a, err, errlen)) < 0)
            a->fd = -1;
    }
    free(names);
    return rc;
}

bool activate_same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return false;
}
