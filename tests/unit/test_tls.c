/*
 * test_tls.c - tls.c over non-blocking socketpairs, against certificates
 * made at start-up with the OpenSSL API in a mkdtemp directory: a CA, a
 * leaf for origin.test and 127.0.0.1 signed by it, an expired leaf, a
 * self-signed leaf and a second, unrelated CA. Both ends of each connection
 * run in this thread: the driver steps whichever side is pending and polls
 * both fds when neither can move, with a bounded wait.
 *
 * Covered: verification outcomes and their error text (table), TLS 1.1
 * peers on either side, data both ways including 1 MiB with partial
 * writes, clean and unclean EOF, session resumption over TLS 1.3 and 1.2,
 * and context creation errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "tls.h"

#define WAIT_MS 5000 /* longest a stalled exchange may sit in poll() */
#define MIB (1024 * 1024)

#include "rows.h"

/* ---- certificates ---- */

enum pem {
    PEM_CA,       /* the trusted CA */
    PEM_OTHER_CA, /* a CA that signed nothing we serve */
    PEM_LEAF,     /* origin.test + 127.0.0.1, then the CA: a chain file */
    PEM_LEAF_KEY,
    PEM_EXPIRED, /* origin.test, notAfter yesterday, signed by the CA */
    PEM_EXPIRED_KEY,
    PEM_SELF, /* origin.test, self-signed */
    PEM_SELF_KEY,
    PEM_CNONLY, /* CN=origin.test and no subjectAltName, signed by the CA, leaf's key */
    PEM_COUNT
};
static const char *pem_names[PEM_COUNT] = {
    "ca.pem",      "other-ca.pem", "leaf.pem", "leaf.key",
    "expired.pem", "expired.key",  "self.pem", "self.key", "cnonly.pem",
};
static char tmpdir[] = "/tmp/magpie-tls-XXXXXX";
static char pem_paths[PEM_COUNT][PATH_MAX];

static const char *pem(enum pem f)
{
    return pem_paths[f];
}

struct cert_spec {
    const char *cn;
    const char *san; /* NULL for none */
    bool ca;
    long from, until; /* validity, seconds from now */
    long serial;
};

static void cert_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

/* A certificate for key, signed by ikey (issuer NULL: self-signed). */
static X509 *cert_make(const struct cert_spec *cs, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey)
{
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), cs->serial);
    X509_gmtime_adj(X509_getm_notBefore(x), cs->from);
    X509_gmtime_adj(X509_getm_notAfter(x), cs->until);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cs->cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    assert_int_equal(X509_set_pubkey(x, key), 1);
    X509 *signer = issuer ? issuer : x;
    cert_ext(x, signer, NID_basic_constraints, cs->ca ? "critical,CA:TRUE" : "CA:FALSE");
    cert_ext(x, signer, NID_key_usage,
             cs->ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    cert_ext(x, signer, NID_subject_key_identifier, "hash");
    if (issuer)
        cert_ext(x, signer, NID_authority_key_identifier, "keyid:always");
    if (cs->san)
        cert_ext(x, signer, NID_subject_alt_name, cs->san);
    assert_true(X509_sign(x, ikey ? ikey : key, EVP_sha256()) > 0);
    return x;
}

static void pem_write(enum pem f, X509 *x, X509 *chain, EVP_PKEY *key)
{
    FILE *fp = fopen(pem(f), "w");
    assert_non_null(fp);
    if (x)
        assert_int_equal(PEM_write_X509(fp, x), 1);
    if (chain)
        assert_int_equal(PEM_write_X509(fp, chain), 1);
    if (key)
        assert_int_equal(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(fclose(fp), 0);
}

static int certs_setup(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(tmpdir));
    for (int i = 0; i < PEM_COUNT; i++)
        snprintf(pem_paths[i], sizeof(pem_paths[i]), "%s/%s", tmpdir, pem_names[i]);
    const long day = 86400;
    const struct cert_spec ca = {"magpie test CA", NULL, true, -day, 30 * day, 1};
    const struct cert_spec other = {"magpie other CA", NULL, true, -day, 30 * day, 2};
    const struct cert_spec leaf = {
        "origin.test", "DNS:origin.test,IP:127.0.0.1", false, -day, 30 * day, 3};
    const struct cert_spec expired = {
        "origin.test", "DNS:origin.test,IP:127.0.0.1", false, -10 * day, -day, 4};
    const struct cert_spec self = {"origin.test", "DNS:origin.test", false, -day, 30 * day, 5};
    const struct cert_spec cnonly = {"origin.test", NULL, false, -day, 30 * day, 6};
    EVP_PKEY *k_ca = EVP_EC_gen("P-256"), *k_other = EVP_EC_gen("P-256");
    EVP_PKEY *k_leaf = EVP_EC_gen("P-256"), *k_self = EVP_EC_gen("P-256");
    assert_true(k_ca && k_other && k_leaf && k_self);
    X509 *x_ca = cert_make(&ca, k_ca, NULL, NULL);
    X509 *x_other = cert_make(&other, k_other, NULL, NULL);
    X509 *x_leaf = cert_make(&leaf, k_leaf, x_ca, k_ca);
    X509 *x_expired = cert_make(&expired, k_leaf, x_ca, k_ca);
    X509 *x_self = cert_make(&self, k_self, NULL, NULL);
    X509 *x_cnonly = cert_make(&cnonly, k_leaf, x_ca, k_ca);
    pem_write(PEM_CA, x_ca, NULL, NULL);
    pem_write(PEM_OTHER_CA, x_other, NULL, NULL);
    pem_write(PEM_LEAF, x_leaf, x_ca, NULL);
    pem_write(PEM_LEAF_KEY, NULL, NULL, k_leaf);
    pem_write(PEM_EXPIRED, x_expired, x_ca, NULL);
    pem_write(PEM_EXPIRED_KEY, NULL, NULL, k_leaf);
    pem_write(PEM_SELF, x_self, NULL, NULL);
    pem_write(PEM_SELF_KEY, NULL, NULL, k_self);
    pem_write(PEM_CNONLY, x_cnonly, x_ca, NULL);
    X509 *certs[] = {x_ca, x_other, x_leaf, x_expired, x_self, x_cnonly};
    EVP_PKEY *keys[] = {k_ca, k_other, k_leaf, k_self};
    for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
        X509_free(certs[i]);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        EVP_PKEY_free(keys[i]);
    return 0;
}

static int certs_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < PEM_COUNT; i++)
        unlink(pem(i));
    rmdir(tmpdir);
    return 0;
}

/* ---- driving both ends ---- */

/* One end of a connection: ours (tc) or a raw OpenSSL one (raw). */
struct end {
    struct tls_conn *tc;
    SSL *raw;
    int fd;
    enum tls_status st;
};

static void socket_pair(int *a, int *b)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(fcntl(sv[i], F_SETFL, fcntl(sv[i], F_GETFL) | O_NONBLOCK), 0);
    *a = sv[0];
    *b = sv[1];
}

static enum tls_status raw_handshake(SSL *ssl)
{
    int rc = SSL_do_handshake(ssl);
    if (rc == 1)
        return TLS_OK;
    int e = SSL_get_error(ssl, rc);
    ERR_clear_error();
    return e == SSL_ERROR_WANT_READ    ? TLS_WANT_READ
           : e == SSL_ERROR_WANT_WRITE ? TLS_WANT_WRITE
                                       : TLS_ERROR;
}

static bool pending(enum tls_status st)
{
    return st == TLS_WANT_READ || st == TLS_WANT_WRITE;
}

static short poll_events(enum tls_status st)
{
    return st == TLS_WANT_READ ? POLLIN : st == TLS_WANT_WRITE ? POLLOUT : 0;
}

/* Waits until one of the two ends can make the progress it asked for. */
static void wait_either(int fd1, enum tls_status st1, int fd2, enum tls_status st2)
{
    struct pollfd p[2] = {{fd1, poll_events(st1), 0}, {fd2, poll_events(st2), 0}};
    int n = poll(p, 2, WAIT_MS);
    if (n <= 0)
        fail_msg("stalled: poll gave %d (states %d, %d)", n, st1, st2);
}

static void end_step(struct end *e)
{
    if (pending(e->st))
        e->st = e->tc ? tls_handshake(e->tc) : raw_handshake(e->raw);
}

/*
 * Runs the handshake until the client has finished or failed and, if the
 * client succeeded, the server has settled too. A failed server keeps
 * stepping the client, which then sees the alert or EOF.
 */
static void handshake(struct end *c, struct end *s)
{
    c->st = s->st = TLS_WANT_READ;
    for (;;) {
        end_step(c);
        end_step(s);
        if (c->st == TLS_ERROR || c->st == TLS_EOF)
            return;
        if (!pending(c->st) && !pending(s->st))
            return;
        if (pending(c->st) && pending(s->st))
            wait_either(c->fd, c->st, s->fd, s->st);
        else if (pending(c->st))
            wait_either(c->fd, c->st, -1, TLS_OK);
        else
            wait_either(s->fd, s->st, -1, TLS_OK);
    }
}

/* A connected pair over a new socketpair: client to host, server on sctx. */
struct pair {
    struct end c, s;
};

static void pair_open(struct pair *p, struct tls_ctx *cctx, const char *host,
                      struct tls_session *resume, struct tls_ctx *sctx)
{
    memset(p, 0, sizeof(*p));
    socket_pair(&p->c.fd, &p->s.fd);
    p->c.tc = tls_client_new(cctx, p->c.fd, host, resume);
    assert_non_null(p->c.tc);
    if (sctx) {
        p->s.tc = tls_server_new(sctx, p->s.fd);
        assert_non_null(p->s.tc);
    }
}

static void pair_close(struct pair *p)
{
    tls_conn_free(p->c.tc);
    tls_conn_free(p->s.tc);
    SSL_free(p->s.raw);
    if (p->c.fd >= 0)
        close(p->c.fd);
    if (p->s.fd >= 0)
        close(p->s.fd);
    memset(p, 0, sizeof(*p));
}

static struct tls_ctx *client_ctx(enum pem ca, bool verify)
{
    char err[256] = "";
    struct tls_ctx *ctx = tls_client_ctx_new(pem(ca), verify, err, sizeof(err));
    if (!ctx)
        fail_msg("client ctx: %s", err);
    return ctx;
}

static struct tls_ctx *server_ctx(enum pem cert, enum pem key)
{
    char err[256] = "";
    struct tls_ctx *ctx = tls_server_ctx_new(pem(cert), pem(key), err, sizeof(err));
    if (!ctx)
        fail_msg("server ctx: %s", err);
    return ctx;
}

/* ---- verification outcomes ---- */

static void test_verify(void **state)
{
    static const struct {
        const char *name;
        enum pem ca;
        bool verify;
        const char *host;
        enum pem cert, key;
        const char *want; /* substring of the client's error; NULL: success */
    } cases[] = {
        {"name", PEM_CA, true, "origin.test", PEM_LEAF, PEM_LEAF_KEY, NULL},
        {"IPv4 literal", PEM_CA, true, "127.0.0.1", PEM_LEAF, PEM_LEAF_KEY, NULL},
        {"wrong name", PEM_CA, true, "other.test", PEM_LEAF, PEM_LEAF_KEY,
         "certificate does not match host \"other.test\""},
        {"wrong IP", PEM_CA, true, "127.0.0.2", PEM_LEAF, PEM_LEAF_KEY,
         "certificate does not match host \"127.0.0.2\""},
        {"IP literal not in SAN", PEM_CA, true, "::1", PEM_LEAF, PEM_LEAF_KEY,
         "does not match host"},
        /* RFC 9525: the subject CN is never a name */
        {"CN only, no subjectAltName", PEM_CA, true, "origin.test", PEM_CNONLY, PEM_LEAF_KEY,
         "certificate does not match host \"origin.test\""},
        {"unknown issuer", PEM_OTHER_CA, true, "origin.test", PEM_LEAF, PEM_LEAF_KEY,
         "unknown issuer ("},
        {"expired", PEM_CA, true, "origin.test", PEM_EXPIRED, PEM_EXPIRED_KEY,
         "certificate has expired"},
        {"self-signed, verify on", PEM_CA, true, "origin.test", PEM_SELF, PEM_SELF_KEY,
         "unknown issuer (self-signed certificate)"},
        {"self-signed, verify off", PEM_CA, false, "origin.test", PEM_SELF, PEM_SELF_KEY, NULL},
        {"expired, verify off", PEM_CA, false, "origin.test", PEM_EXPIRED, PEM_EXPIRED_KEY, NULL},
        {"wrong name, verify off", PEM_CA, false, "other.test", PEM_LEAF, PEM_LEAF_KEY, NULL},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tls_ctx *cctx = client_ctx(cases[i].ca, cases[i].verify);
        struct tls_ctx *sctx = server_ctx(cases[i].cert, cases[i].key);
        struct pair p;
        pair_open(&p, cctx, cases[i].host, NULL, sctx);
        handshake(&p.c, &p.s);
        const char *err = tls_conn_error(p.c.tc);
        print_message("%s: %s\n", cases[i].name, err);
        if (!cases[i].want && (p.c.st != TLS_OK || p.s.st != TLS_OK))
            row_fail("%s: states %d/%d, error \"%s\"", cases[i].name, p.c.st, p.s.st, err);
        if (cases[i].want && (p.c.st != TLS_ERROR || !strstr(err, cases[i].want)))
            row_fail("%s: state %d, error \"%s\", want \"%s\"", cases[i].name, p.c.st, err,
                     cases[i].want);
        if (!cases[i].want && tls_conn_resumed(p.c.tc))
            row_fail("%s: a first connection reports resumption", cases[i].name);
        pair_close(&p);
        tls_ctx_free(cctx);
        tls_ctx_free(sctx);
    }
    rows_done();
}

/* ---- protocol versions ---- */

/* A raw context limited to TLS 1.0-1.1, or NULL if this OpenSSL refuses. */
static SSL_CTX *old_ctx(const SSL_METHOD *method)
{
    SSL_CTX *c = SSL_CTX_new(method);
    assert_non_null(c);
    SSL_CTX_set_security_level(c, 0); /* TLS < 1.2 needs SHA-1/MD5 */
    if (SSL_CTX_set_min_proto_version(c, TLS1_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(c, TLS1_1_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(c, "DEFAULT:@SECLEVEL=0") != 1) {
        ERR_clear_error();
        SSL_CTX_free(c);
        return NULL;
    }
    return c;
}

static void test_tls11_server(void **state)
{
    (void)state;
    SSL_CTX *raw = old_ctx(TLS_server_method());
    if (!raw)
        skip();
    assert_int_equal(SSL_CTX_use_certificate_chain_file(raw, pem(PEM_LEAF)), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(raw, pem(PEM_LEAF_KEY), SSL_FILETYPE_PEM), 1);
    struct tls_ctx *cctx = client_ctx(PEM_CA, true);
    struct pair p;
    pair_open(&p, cctx, "origin.test", NULL, NULL);
    p.s.raw = SSL_new(raw);
    SSL_set_fd(p.s.raw, p.s.fd);
    SSL_set_accept_state(p.s.raw);
    handshake(&p.c, &p.s);
    print_message("TLS 1.1 server: %s\n", tls_conn_error(p.c.tc));
    assert_int_equal(p.c.st, TLS_ERROR);
    assert_non_null(strstr(tls_conn_error(p.c.tc), "handshake failed: "));
    pair_close(&p);
    tls_ctx_free(cctx);
    SSL_CTX_free(raw);
}

static void test_tls11_client(void **state)
{
    (void)state;
    SSL_CTX *raw = old_ctx(TLS_client_method());
    if (!raw)
        skip();
    struct tls_ctx *sctx = server_ctx(PEM_LEAF, PEM_LEAF_KEY);
    struct pair p;
    memset(&p, 0, sizeof(p));
    socket_pair(&p.c.fd, &p.s.fd);
    p.s.tc = tls_server_new(sctx, p.s.fd);
    assert_non_null(p.s.tc);
    SSL *c = SSL_new(raw);
    SSL_set_fd(c, p.c.fd);
    SSL_set_connect_state(c);
    /* roles swapped: our server is the end whose error we check */
    struct end rc = {NULL, c, p.c.fd, TLS_WANT_READ};
    handshake(&p.s, &rc);
    print_message("TLS 1.1 client: %s\n", tls_conn_error(p.s.tc));
    assert_int_equal(p.s.st, TLS_ERROR);
    assert_non_null(strstr(tls_conn_error(p.s.tc), "handshake failed: "));
    SSL_free(c);
    pair_close(&p);
    tls_ctx_free(sctx);
    SSL_CTX_free(raw);
}

/* ---- data ---- */

/*
 * Moves size bytes from w to r through tls_write_buf/tls_read_buf and
 * returns how many writes sent less than was offered.
 */
static size_t transfer(struct end *w, struct end *r, const char *data, size_t size)
{
    struct buf out, in;
    size_t partial = 0;
    buf_init(&out, size);
    buf_init(&in, size);
    assert_int_equal(buf_append(&out, data, size), 0);
    enum tls_status ws = TLS_OK, rs = TLS_OK;
    while (buf_used(&in) < size) {
        bool moved = false;
        size_t n, offered;
        while (!buf_empty(&out) && (offered = buf_used(&out)) &&
               (ws = tls_write_buf(w->tc, &out, &n)) == TLS_OK) {
            partial += n < offered;
            moved = true;
        }
        assert_true(ws != TLS_ERROR);
        while ((rs = tls_read_buf(r->tc, &in, &n)) == TLS_OK && n > 0)
            moved = true;
        assert_int_not_equal(rs, TLS_ERROR);
        assert_int_not_equal(rs, TLS_EOF);
        if (!moved && buf_used(&in) < size)
            wait_either(w->fd, buf_empty(&out) ? TLS_OK : ws, r->fd, rs);
    }
    assert_memory_equal(in.data + in.off, data, size);
    buf_free(&out);
    buf_free(&in);
    return partial;
}

static char *pattern(size_t size, unsigned seed)
{
    char *d = malloc(size);
    assert_non_null(d);
    for (size_t i = 0; i < size; i++)
        d[i] = (char)((i * 31 + seed + i / 4099) & 0xff);
    return d;
}

static void open_ok(struct pair *p, struct tls_ctx *cctx, struct tls_ctx *sctx,
                    struct tls_session *resume)
{
    pair_open(p, cctx, "origin.test", resume, sctx);
    handshake(&p->c, &p->s);
    if (p->c.st != TLS_OK || p->s.st != TLS_OK)
        fail_msg("handshake: %d/%d: %s / %s", p->c.st, p->s.st, tls_conn_error(p->c.tc),
                 p->s.tc ? tls_conn_error(p->s.tc) : "raw");
}

static void test_round_trip(void **state)
{
    (void)state;
    struct tls_ctx *cctx = client_ctx(PEM_CA, true);
    struct tls_ctx *sctx = server_ctx(PEM_LEAF, PEM_LEAF_KEY);
    struct pair p;
    open_ok(&p, cctx, sctx, NULL);
    const char req[] = "GET / HTTP/1.1\r\nHost: origin.test\r\n\r\n";
    transfer(&p.c, &p.s, req, sizeof(req) - 1);
    const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    transfer(&p.s, &p.c, resp, sizeof(resp) - 1);
    char *big = pattern(MIB, 1);
    size_t partial = transfer(&p.c, &p.s, big, MIB);
    print_message("client to server: %zu partial writes\n", partial);
    assert_true(partial > 0);
    free(big);
    big = pattern(MIB, 2);
    partial = transfer(&p.s, &p.c, big, MIB);
    print_message("server to client: %zu partial writes\n", partial);
    assert_true(partial > 0);
    free(big);
    pair_close(&p);
    tls_ctx_free(cctx);
    tls_ctx_free(sctx);
}

/* A full buffer reads nothing and is not an error. */
static void test_read_full_buf(void **state)
{
    (void)state;
    struct tls_ctx *cctx = client_ctx(PEM_CA, true);
    struct tls_ctx *sctx = server_ctx(PEM_LEAF, PEM_LEAF_KEY);
    struct pair p;
    open_ok(&p, cctx, sctx, NULL);
    struct buf b;
    size_t n = 99;
    buf_init(&b, 4);
    assert_int_equal(buf_append(&b, "full", 4), 0);
    assert_int_equal(tls_read_buf(p.c.tc, &b, &n), TLS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(tls_write_buf(p.c.tc, &(struct buf){0}, &n), TLS_OK);
    assert_int_equal(n, 0);
    buf_free(&b);
    pair_close(&p);
    tls_ctx_free(cctx);
    tls_ctx_free(sctx);
}

/* ---- end of stream ---- */

/* Reads on the client until something other than data or WANT_READ. */
static enum tls_status read_until_end(struct end *c)
{
    struct buf b;
    size_t n;
    enum tls_status st;
    buf_init(&b, 64 * 1024);
    while ((st = tls_read_buf(c->tc, &b, &n)) == TLS_WANT_READ || (st == TLS_OK && n > 0))
        if (st == TLS_WANT_READ)
            wait_either(c->fd, st, -1, TLS_OK);
    buf_free(&b);
    return st;
}

static void test_eof(void **state)
{
    (void)state;
    struct tls_ctx *cctx = client_ctx(PEM_CA, true);
    struct tls_ctx *sctx = server_ctx(PEM_LEAF, PEM_LEAF_KEY);
    for (int clean = 0; clean < 2; clean++) {
        struct pair p;
        open_ok(&p, cctx, sctx, NULL);
        transfer(&p.s, &p.c, "bye", 3);
        if (clean)
            tls_shutdown(p.s.tc);
        tls_conn_free(p.s.tc);
        p.s.tc = NULL;
        close(p.s.fd);
        p.s.fd = -1;
        enum tls_status st = read_until_end(&p.c);
        if (st != TLS_EOF)
            row_fail("%s EOF: state %d, error \"%s\"", clean ? "clean" : "unclean", st,
                     tls_conn_error(p.c.tc));
        tls_shutdown(p.c.tc); /* to a closed peer: must neither block nor crash */
        pair_close(&p);
    }
    tls_ctx_free(cctx);
    tls_ctx_free(sctx);
    rows_done();
}

/*
 * The peer closes mid-handshake: after reading the ClientHello (a plain
 * EOF), or without reading it (the kernel resets the connection).
 */
static void test_eof_in_handshake(void **state)
{
    static const struct {
        bool drain;
        const char *want;
    } cases[] = {
        {true, "handshake failed: peer closed the connection"},
        {false, "handshake failed: Connection reset by peer"},
    };
    (void)state;
    struct tls_ctx *cctx = client_ctx(PEM_CA, true);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pair p;
        pair_open(&p, cctx, "origin.test", NULL, NULL);
        assert_int_equal(tls_handshake(p.c.tc), TLS_WANT_READ);
        char hello[4096];
        if (cases[i].drain)
            assert_true(read(p.s.fd, hello, sizeof(hello)) > 0);
        close(p.s.fd);
        p.s.fd = -1;
        enum tls_status st = tls_handshake(p.c.tc);
        if (st != TLS_ERROR || strcmp(tls_conn_error(p.c.tc), cases[i].want) != 0)
            row_fail("drain %d: state %d, \"%s\", want \"%s\"", cases[i].drain, st,
                     tls_conn_error(p.c.tc), cases[i].want);
        if (tls_handshake(p.c.tc) != TLS_ERROR)
            row_fail("drain %d: a failed handshake recovered", cases[i].drain);
        tls_shutdown(p.c.tc);
        if (tls_session_get(p.c.tc))
            row_fail("drain %d: a session from a failed handshake", cases[i].drain);
        pair_close(&p);
    }
    tls_ctx_free(cctx);
    rows_done();
}

/* Garbage instead of a ServerHello. */
static void test_not_tls(void **state)
{
    (void)state;
    struct tls_ctx *cctx = client_ctx(PEM_CA, true);
    struct pair p;
    pair_open(&p, cctx, "origin.test", NULL, NULL);
    assert_int_equal(tls_handshake(p.c.tc), TLS_WANT_READ);
    const char junk[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    assert_int_equal(write(p.s.fd, junk, sizeof(junk) - 1), (ssize_t)(sizeof(junk) - 1));
    assert_int_equal(tls_handshake(p.c.tc), TLS_ERROR);
    print_message("not TLS: %s\n", tls_conn_error(p.c.tc));
    assert_non_null(strstr(tls_conn_error(p.c.tc), "handshake failed: "));
    assert_true(ERR_peek_error() == 0); /* nothing left for the next connection */
    pair_close(&p);
    tls_ctx_free(cctx);
}

/* ---- sessions ---- */

static void test_resume_tls13(void **state)
{
    (void)state;
    struct tls_ctx *cctx = client_ctx(PEM_CA, true);
    struct tls_ctx *sctx = server_ctx(PEM_LEAF, PEM_LEAF_KEY);
    struct pair p;
    open_ok(&p, cctx, sctx, NULL);
    /* TLS 1.3: the tickets come after the handshake, read with data */
    assert_null(tls_session_get(p.c.tc));
    transfer(&p.s, &p.c, "hello", 5);
    struct tls_session *s = tls_session_get(p.c.tc);
    assert_non_null(s);
    assert_false(tls_conn_resumed(p.c.tc));
    /* the connection dies after the session was taken: the reset of a
       socket closed with unread data; the stored session must survive */
    struct buf b;
    size_t n;
    buf_init(&b, 64);
    assert_int_equal(buf_append(&b, "unread", 6), 0);
    assert_int_equal(tls_write_buf(p.c.tc, &b, &n), TLS_OK);
    close(p.s.fd);
    p.s.fd = -1;
    assert_int_equal(tls_read_buf(p.c.tc, &b, &n), TLS_ERROR);
    assert_string_equal(tls_conn_error(p.c.tc), "read failed: Connection reset by peer");
    assert_null(tls_session_get(p.c.tc));
    buf_free(&b);
    pair_close(&p);

    open_ok(&p, cctx, sctx, s);
    assert_true(tls_conn_resumed(p.c.tc));
    assert_true(tls_conn_resumed(p.s.tc));
    transfer(&p.c, &p.s, "again", 5);
    pair_close(&p);
    tls_session_free(s);
    tls_session_free(NULL);
    tls_ctx_free(cctx);
    tls_ctx_free(sctx);
}

static void raw_server(struct pair *p, SSL_CTX *raw)
{
    p->s.raw = SSL_new(raw);
    assert_non_null(p->s.raw);
    SSL_set_fd(p->s.raw, p->s.fd);
    SSL_set_accept_state(p->s.raw);
}

static void test_resume_tls12(void **state)
{
    (void)state;
    SSL_CTX *raw = SSL_CTX_new(TLS_server_method());
    assert_non_null(raw);
    assert_int_equal(SSL_CTX_set_max_proto_version(raw, TLS1_2_VERSION), 1);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(raw, pem(PEM_LEAF)), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(raw, pem(PEM_LEAF_KEY), SSL_FILETYPE_PEM), 1);
    struct tls_ctx *cctx = client_ctx(PEM_CA, true);
    struct pair p;
    pair_open(&p, cctx, "origin.test", NULL, NULL);
    raw_server(&p, raw);
    handshake(&p.c, &p.s);
    assert_int_equal(p.c.st, TLS_OK);
    /* TLS 1.2: resumable as soon as the handshake is done */
    struct tls_session *s = tls_session_get(p.c.tc);
    assert_non_null(s);
    pair_close(&p);

    pair_open(&p, cctx, "origin.test", s, NULL);
    raw_server(&p, raw);
    handshake(&p.c, &p.s);
    assert_int_equal(p.c.st, TLS_OK);
    assert_true(tls_conn_resumed(p.c.tc));
    assert_int_equal(SSL_version(p.s.raw), TLS1_2_VERSION);
    pair_close(&p);
    tls_session_free(s);
    tls_ctx_free(cctx);
    SSL_CTX_free(raw);
}

/* ---- context errors ---- */

static void test_ctx_errors(void **state)
{
    static const struct {
        const char *name;
        bool server;
        const char *cert, *key; /* names in tmpdir; cert is the CA file for clients */
        const char *want[3];    /* substrings of the message, NULL ends */
    } cases[] = {
        {"missing cert", true, "nope.pem", "leaf.key", {"load certificate chain", "nope.pem"}},
        {"missing key", true, "leaf.pem", "nope.key", {"cannot load private key", "nope.key"}},
        {"key of another cert", true, "leaf.pem", "self.key", {"does not match", "leaf.pem"}},
        {"cert file holds no cert", true, "leaf.key", "leaf.key", {"chain", "leaf.key"}},
        {"missing CA file",
         false,
         "nope-ca.pem",
         NULL,
         {"read CA file", "nope-ca", "No such file"}},
        {"CA file holds no cert", false, "leaf.key", NULL, {"cannot load CA file", "leaf.key"}},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char cert[PATH_MAX], key[PATH_MAX], err[256] = "";
        snprintf(cert, sizeof(cert), "%s/%s", tmpdir, cases[i].cert);
        snprintf(key, sizeof(key), "%s/%s", tmpdir, cases[i].key ? cases[i].key : "");
        struct tls_ctx *ctx = cases[i].server ? tls_server_ctx_new(cert, key, err, sizeof(err))
                                              : tls_client_ctx_new(cert, true, err, sizeof(err));
        print_message("%s: %s\n", cases[i].name, err);
        if (ctx)
            row_fail("%s: a context was made", cases[i].name);
        for (int k = 0; k < 3 && cases[i].want[k]; k++)
            if (!strstr(err, cases[i].want[k]))
                row_fail("%s: \"%s\" lacks \"%s\"", cases[i].name, err, cases[i].want[k]);
        if (ERR_peek_error() != 0)
            row_fail("%s: OpenSSL error queue not empty", cases[i].name);
        tls_ctx_free(ctx);
    }
    /* verify off ignores the CA file entirely */
    char err[256] = "";
    struct tls_ctx *ctx = tls_client_ctx_new("/nonexistent/ca.pem", false, err, sizeof(err));
    assert_non_null(ctx);
    tls_ctx_free(ctx);
    tls_ctx_free(NULL);
    rows_done();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as main.c does: SSL writes with write(2) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_verify, rows_reset),
        cmocka_unit_test(test_tls11_server),
        cmocka_unit_test(test_tls11_client),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_read_full_buf),
        cmocka_unit_test_setup(test_eof, rows_reset),
        cmocka_unit_test_setup(test_eof_in_handshake, rows_reset),
        cmocka_unit_test(test_not_tls),
        cmocka_unit_test(test_resume_tls13),
        cmocka_unit_test(test_resume_tls12),
        cmocka_unit_test_setup(test_ctx_errors, rows_reset),
    };
    return cmocka_run_group_tests(tests, certs_setup, certs_teardown);
}
