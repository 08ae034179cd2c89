/*
 * activate.h - systemd socket activation (sd_listen_fds' protocol, written
 * out so magpie needs no libsystemd): the listening sockets systemd (or
 * systemd-socket-activate) passes as fds 3.., described by $LISTEN_PID,
 * $LISTEN_FDS and $LISTEN_FDNAMES. Each is matched to a `listen` entry by
 * its bound address, so a restart never closes the port.
 */
#ifndef MAGPIE_ACTIVATE_H
#define MAGPIE_ACTIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#define ACTIVATE_FIRST_FD 3 /* SD_LISTEN_FDS_START */
#define ACTIVATE_MAX_FDS 64 /* more listeners than any config lists */

struct activated {
    int fd; /* -1 once taken by a listener, or when refused */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char name[64]; /* from $LISTEN_FDNAMES, or "fd N" */
};

/*
 * How many sockets the variables pass to process self: 0 when they are not
 * for it (no LISTEN_PID, another pid: a parent's leftovers), -1 when they
 * are malformed or pass more than ACTIVATE_MAX_FDS.
 */
int activate_count(const char *listen_pid, const char *listen_fds, pid_t self);

/*
 * Takes the passed sockets: reads and unsets the three variables, checks
 * that each fd from first on is a listening stream socket, makes it
 * non-blocking and close-on-exec, and records its address. *out is NULL
 * and *n 0 without activation. 0, or -1 with the reason in err.
 */
int activate_take(int first, struct activated **out, size_t *n, char *err, size_t errlen);

/* Whether two socket addresses are the same family, address and port. */
bool activate_same_addr(const struct sockaddr *a, const struct sockaddr *b);

#endif
