/*
 * tls.c - everything magpie does with OpenSSL, behind the opaque types of
 * tls.h: client contexts (TLS 1.2+, chain and host verification, client-side
 * session caching left to the caller), server contexts for TLS listeners,
 * and non-blocking handshake, read, write and shutdown that report what
 * OpenSSL wants (readable or writable) so the event loop can wait for it.
 *
 * What does not live here: sockets, timers and the per-origin session store.
 * The fd belongs to the caller (SSL_set_fd uses BIO_NOCLOSE); sessions are
 * handed out as struct tls_session for the caller to keep per origin.
 *
 * OpenSSL's per-thread error queue is cleared before and after every call
 * that can fail, so an error never leaks from one connection's call into
 * another's message. No state is kept here beyond what hangs off SSL_CTX.
 *
 * SSL_OP_IGNORE_UNEXPECTED_EOF makes a peer that closes without
 * close_notify a plain EOF, as browsers and curl treat it. Truncation is
 * then caught by HTTP framing (Content-Length, chunked), not by TLS.
 * SIGPIPE: SSL writes through write(2); the daemon ignores SIGPIPE.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TLS_ERR_MAX 256

struct tls_ctx {
    SSL_CTX *ssl_ctx;
    bool client; /* made by tls_client_ctx_new(): only for tls_client_new() */
    bool verify; /* client only: chain and host checks on */
};

struct tls_conn {
    SSL *ssl;
    bool verify; /* copied from the ctx: verify results mean something */
    bool failed; /* a fatal error happened: no shutdown, no session */
    bool shut;   /* tls_shutdown() ran */
    char *host;  /* client only, for error messages; NULL for servers */
    char err[TLS_ERR_MAX];
};

struct tls_session {
    SSL_SESSION *sess;
};

/* ---- errors ---- */

/* The reason string of one queued OpenSSL error, never NULL. */
static const char *tls_reason(unsigned long e, char *tmp, size_t tmplen)
{
    if (e == 0)
        return "unknown error";
    if (ERR_SYSTEM_ERROR(e))
        return strerror(ERR_GET_REASON(e));
    const char *r = ERR_reason_error_string(e);
    if (r)
        return r;
    ERR_error_string_n(e, tmp, tmplen);
    return tmp;
}

/* "prefix: <first queued reason>" into err, then empties the queue. */
static void tls_queue_error(char *err, size_t errlen, const char *prefix)
{
    char tmp[TLS_ERR_MAX];
    unsigned long e = ERR_get_error();
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", prefix, tls_reason(e, tmp, sizeof(tmp)));
    ERR_clear_error();
}

/* ---- contexts ---- */

static SSL_CTX *tls_ssl_ctx_new(const SSL_METHOD *method, char *err, size_t errlen)
{
    ERR_clear_error();
    SSL_CTX *c = SSL_CTX_new(method);
    if (!c) {
        tls_queue_error(err, errlen, "cannot create TLS context");
        return NULL;
    }
    if (!SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION)) {
        tls_queue_error(err, errlen, "cannot set minimum TLS version");
        SSL_CTX_free(c);
        return NULL;
    }
    SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    /* our buffers move (compaction) and we write whatever part fits */
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
    return c;
}

static struct tls_ctx *tls_ctx_wrap(SSL_CTX *c, bool client, bool verify, char *err, size_t errlen)
{
    struct tls_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx) {
        snprintf(err, errlen, "out of memory");
        SSL_CTX_free(c);
        return NULL;
    }
    ctx->ssl_ctx = c;
    ctx->client = client;
    ctx->verify = verify;
    return ctx;
}

/* Loads the trust anchors; a missing file is named with errno's text. */
static int tls_load_ca(SSL_CTX *c, const char *ca_file, char *err, size_t errlen)
{
    FILE *f = fopen(ca_file, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read CA file \"%s\": %s", ca_file, strerror(errno));
        return -1;
    }
    fclose(f);
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(c, ca_file, NULL) != 1) {
        char prefix[PATH_MAX + 32];
        snprintf(prefix, sizeof(prefix), "cannot load CA file \"%s\"", ca_file);
        tls_queue_error(err, errlen, prefix);
        return -1;
    }
    return 0;
}

struct tls_ctx *tls_client_ctx_new(const char *ca_file, bool verify, char *err, size_t errlen)
{
    SSL_CTX *c = tls_ssl_ctx_new(TLS_client_method(), err, errlen);
    if (!c)
        return NULL;
    /*
     * Sessions go to the caller through tls_session_get(); OpenSSL's own
     * client store is never looked up, so do not fill it.
     */
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    if (!verify) {
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
        return tls_ctx_wrap(c, true, false, err, errlen);
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    if (tls_load_ca(c, ca_file ? ca_file : TLS_DEFAULT_CA_FILE, err, errlen) < 0) {
        SSL_CTX_free(c);
        return NULL;
    }
    return tls_ctx_wrap(c, true, true, err, errlen);
}

/* "what \"file\": <first queued reason>" into err. */
static void tls_file_error(const char *what, const char *file, char *err, size_t errlen)
{
    char prefix[PATH_MAX + 64];
    snprintf(prefix, sizeof(prefix), "%s \"%s\"", what, file);
    tls_queue_error(err, errlen, prefix);
}

static bool tls_key_mismatch(void)
{
    unsigned long e = ERR_peek_error();
    return ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH;
}

/* The listener's chain and key: 0, or -1 with err naming the file. */
static int tls_load_server_files(SSL_CTX *c, const char *cert_file, const char *key_file, char *err,
                                 size_t errlen)
{
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(c, cert_file) != 1) {
        tls_file_error("cannot load certificate chain", cert_file, err, errlen);
        return -1;
    }
    /* a key that is not the certificate's fails here already */
    if (SSL_CTX_use_PrivateKey_file(c, key_file, SSL_FILETYPE_PEM) == 1 &&
        SSL_CTX_check_private_key(c) == 1)
        return 0;
    if (tls_key_mismatch()) {
        snprintf(err, errlen, "private key \"%s\" does not match certificate \"%s\"", key_file,
                 cert_file);
        ERR_clear_error();
    } else {
        tls_file_error("cannot load private key", key_file, err, errlen);
    }
    return -1;
}

struct tls_ctx *tls_server_ctx_new(const char *cert_file, const char *key_file, char *err,
                                   size_t errlen)
{
    SSL_CTX *c = tls_ssl_ctx_new(TLS_server_method(), err, errlen);
    if (!c)
        return NULL;
    if (tls_load_server_files(c, cert_file, key_file, err, errlen) < 0) {
        SSL_CTX_free(c);
        return NULL;
    }
    return tls_ctx_wrap(c, false, false, err, errlen);
}

void tls_ctx_free(struct tls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

const char *tls_library_version(void)
{
    return OpenSSL_version(OPENSSL_VERSION);
}

/* ---- connections ---- */

static struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd)
{
    struct tls_conn *tc = calloc(1, sizeof(*tc));
    if (!tc)
        return NULL;
    ERR_clear_error();
    tc->ssl = SSL_new(ctx->ssl_ctx);
    if (!tc->ssl || SSL_set_fd(tc->ssl, fd) != 1) {
        ERR_clear_error();
        tls_conn_free(tc);
        return NULL;
    }
    tc->verify = ctx->verify;
    return tc;
}

/* Whether host is an IPv4 or IPv6 literal (brackets allowed). *ip gets it
   without brackets. */
static bool tls_host_is_ip(const char *host, char *ip, size_t iplen)
{
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n >= iplen)
        return false;
    memcpy(ip, host, n);
    ip[n] = '\0';
    unsigned char addr[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, ip, addr) == 1 || inet_pton(AF_INET6, ip, addr) == 1;
}

/* SNI for names only (RFC 6066 forbids literals); the check for either. */
static int tls_client_set_host(struct tls_conn *tc, const char *host)
{
    char ip[INET6_ADDRSTRLEN + 1];
    if (tls_host_is_ip(host, ip, sizeof(ip))) {
        if (tc->verify && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tc->ssl), ip) != 1)
            return -1;
        return 0;
    }
    if (SSL_set_tlsext_host_name(tc->ssl, host) != 1)
        return -1;
    if (!tc->verify)
        return 0;
    /* subjectAltName only: a subject CN is never a name (RFC 9525 §6.3) */
    SSL_set_hostflags(tc->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
                                   X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
    return SSL_set1_host(tc->ssl, host) == 1 ? 0 : -1;
}

struct tls_conn *tls_client_new(struct tls_ctx *ctx, int fd, const char *host,
                                struct tls_session *resume)
{
    if (!ctx->client)
        return NULL;
    struct tls_conn *tc = tls_conn_new(ctx, fd);
    if (!tc)
        return NULL;
    tc->host = strdup(host);
    if (!tc->host || tls_client_set_host(tc, host) < 0 ||
        (resume && SSL_set_session(tc->ssl, resume->sess) != 1)) {
        ERR_clear_error();
        tls_conn_free(tc);
        return NULL;
    }
    SSL_set_connect_state(tc->ssl);
    return tc;
}

struct tls_conn *tls_server_new(struct tls_ctx *ctx, int fd)
{
    if (ctx->client)
        return NULL;
    struct tls_conn *tc = tls_conn_new(ctx, fd);
    if (tc)
        SSL_set_accept_state(tc->ssl);
    return tc;
}

void tls_conn_free(struct tls_conn *tc)
{
    if (!tc)
        return;
    /*
     * SSL_free() takes a connection that never sent close_notify for a
     * broken one and evicts its session (a listener's TLS 1.2 session-ID
     * cache loses it). Most HTTP connections just close; only a fatal
     * error should cost the session.
     */
    if (tc->ssl && !tc->failed && SSL_is_init_finished(tc->ssl))
        SSL_set_shutdown(tc->ssl, SSL_get_shutdown(tc->ssl) | SSL_SENT_SHUTDOWN);
    SSL_free(tc->ssl);
    free(tc->host);
    free(tc);
}

const char *tls_conn_error(const struct tls_conn *tc)
{
    return tc->err[0] ? tc->err : "no error";
}

bool tls_conn_resumed(const struct tls_conn *tc)
{
    return SSL_session_reused(tc->ssl) == 1;
}

/* ---- handshake ---- */

static bool tls_unknown_issuer(long v)
{
    return v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
           v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT || v == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
           v == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
           v == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

/* A failed chain or host check, in words for a 502 body. */
static void tls_verify_error(struct tls_conn *tc, long v)
{
    const char *s = X509_verify_cert_error_string(v);
    if (v == X509_V_ERR_CERT_HAS_EXPIRED)
        snprintf(tc->err, sizeof(tc->err), "certificate has expired");
    else if (v == X509_V_ERR_CERT_NOT_YET_VALID)
        snprintf(tc->err, sizeof(tc->err), "certificate is not yet valid");
    else if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
        snprintf(tc->err, sizeof(tc->err), "certificate does not match host \"%s\"",
                 tc->host ? tc->host : "");
    else if (tls_unknown_issuer(v))
        snprintf(tc->err, sizeof(tc->err), "unknown issuer (%s)", s);
    else
        snprintf(tc->err, sizeof(tc->err), "certificate verification failed: %s", s);
}

/* Fills tc->err after SSL_do_handshake() failed with SSL error `e`. */
static void tls_handshake_error(struct tls_conn *tc, int e, int saved_errno)
{
    long v = tc->verify ? SSL_get_verify_result(tc->ssl) : X509_V_OK;
    if (v != X509_V_OK) {
        tls_verify_error(tc, v);
        ERR_clear_error();
        return;
    }
    unsigned long q = ERR_peek_error();
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && saved_errno == 0 && q == 0) ||
        (q != 0 && ERR_GET_LIB(q) == ERR_LIB_SSL &&
         ERR_GET_REASON(q) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        snprintf(tc->err, sizeof(tc->err), "handshake failed: peer closed the connection");
        ERR_clear_error();
        return;
    }
    if (e == SSL_ERROR_SYSCALL && q == 0) {
        snprintf(tc->err, sizeof(tc->err), "handshake failed: %s", strerror(saved_errno));
        return;
    }
    tls_queue_error(tc->err, sizeof(tc->err), "handshake failed");
}

enum tls_status tls_handshake(struct tls_conn *tc)
{
    if (tc->failed)
        return TLS_ERROR;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(tc->ssl);
    if (rc == 1)
        return TLS_OK;
    int saved_errno = errno;
    int e = SSL_get_error(tc->ssl, rc);
    if (e == SSL_ERROR_WANT_READ)
        return TLS_WANT_READ;
    if (e == SSL_ERROR_WANT_WRITE)
        return TLS_WANT_WRITE;
    tc->failed = true;
    tls_handshake_error(tc, e, saved_errno);
    return TLS_ERROR;
}

/* ---- data ---- */

/* The peer is gone: EOF for a read; for a write, which tls.h says never
   returns TLS_EOF, an error. */
static enum tls_status tls_io_eof(struct tls_conn *tc, bool writing)
{
    if (!writing)
        return TLS_EOF;
    tc->failed = true;
    snprintf(tc->err, sizeof(tc->err), "write failed: peer closed the connection");
    return TLS_ERROR;
}

/*
 * Maps SSL_get_error() after a read or write that returned <= 0. Either
 * operation may want either direction (a read can need to send a key
 * update, a write can need to read during a handshake); report exactly
 * what OpenSSL asks for.
 */
static enum tls_status tls_io_status(struct tls_conn *tc, int rc, int saved_errno, bool writing)
{
    const char *what = writing ? "write" : "read";
    int e = SSL_get_error(tc->ssl, rc);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return tls_io_eof(tc, writing);
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0) {
            if (saved_errno == 0)
                return tls_io_eof(tc, writing); /* an EOF OpenSSL did not classify */
            tc->failed = true;
            snprintf(tc->err, sizeof(tc->err), "%s failed: %s", what, strerror(saved_errno));
            return TLS_ERROR;
        }
        break;
    case SSL_ERROR_SSL:
        if (ERR_GET_LIB(ERR_peek_error()) == ERR_LIB_SSL &&
            ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            ERR_clear_error();
            return tls_io_eof(tc, writing);
        }
        break;
    default:
        break;
    }
    tc->failed = true;
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "%s failed", what);
    tls_queue_error(tc->err, sizeof(tc->err), prefix);
    return TLS_ERROR;
}

bool tls_pending(const struct tls_conn *tc)
{
    return !tc->failed && SSL_pending(tc->ssl) > 0;
}

bool tls_unread(const struct tls_conn *tc)
{
    return !tc->failed && (SSL_pending(tc->ssl) > 0 || SSL_has_pending(tc->ssl));
}

enum tls_status tls_read_buf(struct tls_conn *tc, struct buf *b, size_t *n)
{
    *n = 0;
    if (tc->failed)
        return TLS_ERROR;
    size_t room = buf_room(b);
    if (room == 0)
        return TLS_OK;
    if (room > INT_MAX)
        room = INT_MAX;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_read(tc->ssl, buf_tail(b), (int)room);
    if (rc > 0) {
        b->len += (size_t)rc;
        *n = (size_t)rc;
        return TLS_OK;
    }
    return tls_io_status(tc, rc, errno, false);
}

/*
 * After a WANT_*, OpenSSL needs the retry to offer the same bytes and at
 * least as many of them. buf keeps unsent bytes at its head and only
 * grows at the tail, so that holds; ACCEPT_MOVING_WRITE_BUFFER covers
 * compaction moving the head.
 */
enum tls_status tls_write_buf(struct tls_conn *tc, struct buf *b, size_t *n)
{
    *n = 0;
    if (tc->failed)
        return TLS_ERROR;
    size_t len = buf_used(b);
    if (len == 0)
        return TLS_OK;
    if (len > INT_MAX)
        len = INT_MAX;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_write(tc->ssl, buf_head(b), (int)len);
    if (rc > 0) {
        buf_consume(b, (size_t)rc);
        *n = (size_t)rc;
        return TLS_OK;
    }
    return tls_io_status(tc, rc, errno, true);
}

void tls_shutdown(struct tls_conn *tc)
{
    /* OpenSSL forbids SSL_shutdown() after a fatal error; mid-handshake it
       only fails. One attempt: the fd is non-blocking and nobody waits. */
    if (tc->shut || tc->failed || !SSL_is_init_finished(tc->ssl))
        return;
    tc->shut = true;
    ERR_clear_error();
    (void)SSL_shutdown(tc->ssl);
    ERR_clear_error();
}

/* ---- sessions ---- */

/*
 * TLS 1.2: the session exists once the handshake is done. TLS 1.3: it
 * comes in NewSessionTicket messages that the server sends after the
 * handshake and that are only processed by a later SSL_read(); until then
 * the session is not resumable and this returns NULL. Callers should take
 * the session when the connection goes back to the pool after a complete
 * response (by then the tickets have been read), replacing the stored one.
 *
 * The caller gets a copy: OpenSSL marks a connection's own session object
 * not resumable when that connection later fails, which must not reach
 * back into the pool's store.
 */
struct tls_session *tls_session_get(struct tls_conn *tc)
{
    if (tc->failed || !SSL_is_init_finished(tc->ssl))
        return NULL;
    SSL_SESSION *cur = SSL_get0_session(tc->ssl);
    if (!cur || !SSL_SESSION_is_resumable(cur))
        return NULL;
    struct tls_session *s = malloc(sizeof(*s));
    if (!s)
        return NULL;
    s->sess = SSL_SESSION_dup(cur);
    if (!s->sess) {
        ERR_clear_error();
        free(s);
        return NULL;
    }
    return s;
}

void tls_session_free(struct tls_session *s)
{
    if (!s)
        return;
    SSL_SESSION_free(s->sess);
    free(s);
}
