/*
 * notify.h - systemd readiness notification (sd_notify's protocol: one
 * datagram to $NOTIFY_SOCKET), written out so magpie needs no libsystemd.
 */
#ifndef MAGPIE_NOTIFY_H
#define MAGPIE_NOTIFY_H

/* Sends state ("READY=1", "RELOADING=1", "STOPPING=1") if run by systemd. */
void notify_systemd(const char *state);

#endif
