/*
 * notify.h - systemd readiness notification (sd_notify's protocol: one
 * datagram to $NOTIFY_SOCKET), written out so magpie needs no libsystemd.
 */
#ifndef MAGPIE_NOTIFY_H
#define MAGPIE_NOTIFY_H

#include <sys/types.h>

#define NOTIFY_MAX 512 /* one datagram: states and a STATUS= line */

/* Sends state ("READY=1", "STOPPING=1", "WATCHDOG=1") if run by systemd. */
void notify_systemd(const char *state);
/* The same, formatted; cut at NOTIFY_MAX. */
void notify_systemdf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC now), in one datagram. */
void notify_reloading(void);
/*
 * The watchdog interval systemd asks of process self ($WATCHDOG_USEC, for
 * it when $WATCHDOG_PID is unset or self), in microseconds; 0: none.
 */
unsigned long long notify_watchdog_usec(const char *usec, const char *pid, pid_t self);
/* Seconds between WATCHDOG=1 pings for WATCHDOG_USEC usec: half of it, but
   never under NOTIFY_WATCHDOG_MIN, so that a tiny value cannot spin the loop. */
#define NOTIFY_WATCHDOG_MIN 0.01
double notify_watchdog_every(unsigned long long usec);

#endif
