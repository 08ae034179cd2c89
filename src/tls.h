/*
 * tls.h - OpenSSL for magpie: client contexts for HTTPS origins (TLS 1.2 or
 * later, SNI, chain and host name verification, session resumption), server
 * contexts for TLS listeners, and non-blocking handshakes and I/O that fit
 * the event loop. The only file that includes OpenSSL headers besides tls.c
 * is none: callers see opaque pointers.
 */
#ifndef MAGPIE_TLS_H
#define MAGPIE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct tls_ctx;     /* an SSL_CTX and its settings */
struct tls_conn;    /* one SSL connection on a non-blocking fd */
struct tls_session; /* a resumable client session, owned by whoever keeps it */

#define TLS_DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/*
 * A client context. verify false skips chain and host checks (logged by the
 * caller). ca_file NULL means TLS_DEFAULT_CA_FILE. NULL on failure with a
 * reason in err.
 */
struct tls_ctx *tls_client_ctx_new(const char *ca_file, bool verify, char *err, size_t errlen);
/* A server context from a PEM certificate chain and key. NULL on failure. */
struct tls_ctx *tls_server_ctx_new(const char *cert_file, const char *key_file, char *err,
                                   size_t errlen);
void tls_ctx_free(struct tls_ctx *ctx);
/* The OpenSSL magpie runs with, "OpenSSL 3.0.x  1 Jul 2025" (magpie -V). */
const char *tls_library_version(void);

/*
 * A client connection to host (a name or an IP literal: SNI is sent for
 * names only; the certificate is checked against either). resume may be
 * NULL. NULL on failure.
 */
struct tls_conn *tls_client_new(struct tls_ctx *ctx, int fd, const char *host,
                                struct tls_session *resume);
struct tls_conn *tls_server_new(struct tls_ctx *ctx, int fd);
/* Frees the connection (the fd stays open: its owner closes it). */
void tls_conn_free(struct tls_conn *tc);

enum tls_status {
    TLS_OK,         /* done / progress made */
    TLS_WANT_READ,  /* retry when the fd is readable */
    TLS_WANT_WRITE, /* retry when the fd is writable */
    TLS_EOF,        /* the peer closed (close_notify or plain EOF) */
    TLS_ERROR,      /* failed; tls_conn_error() says why */
};

/* Advances the handshake. */
enum tls_status tls_handshake(struct tls_conn *tc);
/* Why the connection failed, for logs and 502 bodies: "certificate has
   expired", "certificate does not match host \"x\"", "unknown issuer
   (self-signed certificate in certificate chain)", "handshake failed: ..." */
const char *tls_conn_error(const struct tls_conn *tc);
/* Whether the session was resumed (for tests and debug logs). */
bool tls_conn_resumed(const struct tls_conn *tc);

/*
 * Reads into b's tail: TLS_OK with *n > 0; TLS_WANT_*; TLS_EOF; TLS_ERROR.
 * Reports TLS_OK with *n == 0 when b is full.
 */
enum tls_status tls_read_buf(struct tls_conn *tc, struct buf *b, size_t *n);
/* Writes from b's head: TLS_OK (some or all written, *n bytes); TLS_WANT_*; TLS_ERROR. */
enum tls_status tls_write_buf(struct tls_conn *tc, struct buf *b, size_t *n);
/* Decrypted bytes OpenSSL holds that no fd event will announce. */
bool tls_pending(const struct tls_conn *tc);
/* Anything received that the application has not read: decrypted bytes, or
   record bytes OpenSSL read from the fd and has not processed yet. */
bool tls_unread(const struct tls_conn *tc);
/* Sends close_notify, best effort, without blocking. */
void tls_shutdown(struct tls_conn *tc);

/* The session to resume the next connection to the same origin, or NULL. */
struct tls_session *tls_session_get(struct tls_conn *tc);
void tls_session_free(struct tls_session *s);

#endif
