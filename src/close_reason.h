/*
 * close_reason.h - why a client connection closed: one table, as Varnish's
 * sess_close.h, giving each reason its enum name, the label of its
 * magpie_connections_closed_total counter (metrics.c) and the words of the
 * debug log line (client_close). Every close names one; there is no
 * "unknown".
 */
#ifndef MAGPIE_CLOSE_REASON_H
#define MAGPIE_CLOSE_REASON_H

/* X(name, metric label, log text) */
#define CLOSE_REASON_TABLE(X)                                                                      \
    X(CLIENT_CLOSED, "client_closed", "client closed")                                             \
    X(CLIENT_ABORTED, "client_aborted", "client closed mid-request")                               \
    X(READ_ERROR, "read_error", "read error")                                                      \
    X(WRITE_ERROR, "write_error", "write error")                                                   \
    X(IDLE_TIMEOUT, "idle_timeout", "idle timeout")                                                \
    X(REQUEST_TIMEOUT, "request_timeout", "request timed out")                                     \
    X(CLIENT_STALLED, "client_stalled", "client stalled")                                          \
    X(TLS_FAILED, "tls_failed", "TLS handshake failed or timed out")                               \
    X(NOT_KEPT, "connection_close", "not kept alive")                                              \
    X(BAD_REQUEST, "bad_request", "bad request")                                                   \
    X(BODY_UNREAD, "body_unread", "answered before the request body was read")                     \
    X(ACL, "acl", "refused by the acl")                                                            \
    X(LIMIT, "limit", "over max_connections")                                                      \
    X(SHUTDOWN, "shutdown", "shutting down")                                                       \
    X(SHUTDOWN_TIMEOUT, "shutdown_timeout", "shutdown timeout")                                    \
    X(UPSTREAM_ERROR, "upstream_error", "the origin failed mid-response")                          \
    X(STORE_ERROR, "store_error", "the stored response failed")                                    \
    X(TUNNEL_END, "tunnel_end", "tunnel closed")                                                   \
    X(OVERFLOW, "overflow", "buffer overflow")                                                     \
    X(INTERNAL, "internal", "internal error")

enum close_reason {
#define X(name, label, text) CLOSE_##name,
    CLOSE_REASON_TABLE(X)
#undef X
        CLOSE_REASONS
};

#endif
