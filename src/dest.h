/*
 * dest.h - where forward-mode requests may go (SSRF guard). The address
 * checked is the exact sockaddr about to be connected to, after name
 * resolution, so DNS cannot rebind around it. Reverse routes are not
 * checked: their origins are the operator's own choice.
 *
 * Always refused: link-local 169.254.0.0/16 and fe80::/10 (169.254.169.254
 * is the AWS, GCP and Azure metadata service), the other cloud metadata
 * addresses fd00:ec2::254 (AWS IPv6), 100.100.100.200 (Alibaba) and
 * 192.0.0.192 (Oracle), "this network" 0.0.0.0/8 and the unspecified ::
 * (a connect to them reaches the host itself), and magpie's own listeners.
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are checked as IPv4. Then
 * acl.deny_destinations refuses more, and acl.allow_destinations, when set,
 * refuses everything outside it; deny wins over allow, and allow cannot
 * reopen a built-in range (a link-local origin is reached through a route).
 */
#ifndef MAGPIE_DEST_H
#define MAGPIE_DEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "config.h"

/* Why sa (address and port) is refused, for the 403 and the log; NULL when allowed. */
const char *dest_refusal(const struct config *cfg, const struct sockaddr *sa);

/* "destination 169.254.169.254 is link-local / cloud metadata (acl)" into out. */
void dest_format_refusal(char *out, size_t size, const struct sockaddr *sa, const char *why);

#endif
