/*
 * http.c - HTTP/1.x messages on top of http-parser: the reader
 * (http-parser for start lines and fields; body framing, strict chunked
 * decoding and trailers here), hop-by-hop rules and framing decisions.
 * Head scanning and the request line and Host checks are http_check.c.
 * Nothing here does I/O; the connection state machines in client.c and
 * upstream.c drive it.
 */
#include "http.h"

#include <http_parser.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_MAX_HEADERS 256
#define HTTP_CHUNK_LINE_MAX 4096 /* chunk-size and chunk-ext, without CRLF */

/* How the body of the message being read is delimited (RFC 9112 §6.3). */
enum http_body { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_EOF };

/* Where a chunked body is (RFC 9112 §7.1), one byte of framing at a time. */
enum http_chunk_state {
    CH_SIZE0,       /* the first HEXDIG of chunk-size */
    CH_SIZE,        /* more HEXDIG, chunk-ext or CR */
    CH_EXT_WS,      /* BWS before ";" */
    CH_EXT_NAME0,   /* BWS after ";", then the name */
    CH_EXT_NAME,    /* token */
    CH_EXT_NAME_WS, /* BWS after the name: "=" or ";" */
    CH_EXT_VAL0,    /* BWS after "=", then token or quoted-string */
    CH_EXT_VAL,     /* token */
    CH_EXT_QSTR,    /* quoted-string */
    CH_EXT_QPAIR,   /* after a backslash in it */
    CH_EXT_QEND,    /* after its closing quote */
    CH_SIZE_LF,     /* the size line's CR was read */
    CH_DATA,        /* chunk-data: passed on in bulk */
    CH_DATA_CR,     /* the CRLF after the data */
    CH_DATA_LF,
    CH_TRL_START,   /* a trailer field line or the empty line that ends */
    CH_TRL_NAME,
    CH_TRL_VALUE,
    CH_TRL_LF,
    CH_TRL_END_LF,
};

struct http_reader {
    http_parser parser; /* the start line and fields only */
    const struct http_reader_ops *ops;
    void *arg;
    struct http_msg msg;
    bool request;
    bool in_message;
    bool head_done; /* http-parser ended the head: the body is ours */
    int cur; /* the arena string being appended to (STR_*) */
    bool no_body_next;
    bool done;
    bool reason_bad; /* the reason phrase holds a control byte */
    enum http_error cb_error;
    const char *why; /* our own error text, else http-parser's */
    enum http_body body;
    uint64_t remaining; /* of a Content-Length body or the current chunk */
    enum http_chunk_state ch;
    size_t line_len;    /* bytes of the current chunk size line */
    size_t trailer_len; /* bytes of the trailer section so far */
    size_t max_trailer;
    /* Small chunks' data gathered for one on_body call (allocated at the
       first small chunk): one chunk per call made a body of 1-byte chunks
       cost a store write per byte. */
    char *stage;
    size_t stage_len;
    /* A callback may free the reader (an error closes the exchange): then
       the free waits until the outermost feed or eof returns. */
    unsigned busy;
    bool doomed;
};

/* ---- message arena ---- */

static void http_msg_clear(struct http_msg *m)
{
    m->mem_len = 0;
    m->nhdrs = 0;
    m->method = m->target = m->reason = HTTP_NO_STR;
    m->target_len = 0;
    m->method_id = HTTP_M_OTHER;
    m->status = 0;
    m->major = 1;
    m->minor = 1;
    m->content_length = -1;
    m->chunked = m->keep_alive = m->upgrade = m->expect_continue = false;
}

static void http_msg_free(struct http_msg *m)
{
    free(m->mem);
    free(m->hdrs);
    memset(m, 0, sizeof(*m));
}

static int http_mem_reserve(struct http_msg *m, size_t n)
{
    if (m->mem_len + n + 1 <= m->mem_cap)
        return 0;
    size_t cap = m->mem_cap ? m->mem_cap : 1024;
    while (cap < m->mem_len + n + 1)
        cap *= 2;
    char *p = realloc(m->mem, cap);
    if (!p)
        return -1;
    m->mem = p;
    m->mem_cap = cap;
    return 0;
}

/* Room for one more field line in m->hdrs. 0, or -1 out of memory. */
static int http_hdrs_room(struct http_msg *m)
{
    if (m->nhdrs < m->hdrs_cap)
        return 0;
    size_t cap = m->hdrs_cap ? m->hdrs_cap * 2 : 32;
    struct http_header *h = realloc(m->hdrs, cap * sizeof(*h));
    if (!h)
        return -1;
    m->hdrs = h;
    m->hdrs_cap = cap;
    return 0;
}

/* Opens a string of kind k at the arena's end, closing the open one. */
static uint32_t http_mem_open(struct http_reader *r, int k);

/* Appends to the open string (the parser may split a string). */
static int http_mem_extend(struct http_msg *m, const char *p, size_t n)
{
    if (http_mem_reserve(m, n) < 0)
        return -1;
    memcpy(m->mem + m->mem_len, p, n);
    m->mem_len += n;
    m->mem[m->mem_len] = '\0';
    return 0;
}

/* ---- parser callbacks ---- */

enum { STR_NONE, STR_TARGET, STR_REASON, STR_NAME, STR_VALUE };

static uint32_t http_mem_open(struct http_reader *r, int k)
{
    struct http_msg *m = &r->msg;
    if (r->cur != STR_NONE)
        m->mem_len++; /* keep the open string's NUL */
    r->cur = k;
    if (http_mem_reserve(m, 0) < 0)
        return UINT32_MAX;
    m->mem[m->mem_len] = '\0';
    return (uint32_t)m->mem_len;
}

static int http_on_begin(http_parser *p)
{
    struct http_reader *r = p->data;
    http_msg_clear(&r->msg);
    r->cur = STR_NONE;
    r->in_message = true;
    r->cb_error = HTTP_OK;
    r->why = NULL;
    r->reason_bad = false;
    return 0;
}

static int http_on_url(http_parser *p, const char *at, size_t n)
{
    struct http_reader *r = p->data;
    if (r->cur != STR_TARGET)
        r->msg.target = http_mem_open(r, STR_TARGET);
    r->msg.target_len += (uint32_t)n;
    return http_mem_extend(&r->msg, at, n);
}

static int http_on_status(http_parser *p, const char *at, size_t n)
{
    struct http_reader *r = p->data;
    if (r->cur != STR_REASON)
        r->msg.reason = http_mem_open(r, STR_REASON);
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)at[i] < 0x20 && at[i] != '\t') || at[i] == 0x7f)
            r->reason_bad = true;
    return http_mem_extend(&r->msg, at, n);
}

static int http_on_field(http_parser *p, const char *at, size_t n)
{
    struct http_reader *r = p->data;
    struct http_msg *m = &r->msg;
    if (r->cur != STR_NAME) {
        if (m->nhdrs == HTTP_MAX_HEADERS) {
            r->cb_error = HTTP_ERR_TOO_MANY_HEADERS;
            return -1;
        }
        if (http_hdrs_room(m) < 0)
            return -1;
        struct http_header *h = &m->hdrs[m->nhdrs++];
        memset(h, 0, sizeof(*h));
        h->value = HTTP_NO_STR;
        h->name = http_mem_open(r, STR_NAME);
    }
    m->hdrs[m->nhdrs - 1].name_len += (uint32_t)n;
    return http_mem_extend(m, at, n);
}

static int http_on_value(http_parser *p, const char *at, size_t n)
{
    struct http_reader *r = p->data;
    struct http_msg *m = &r->msg;
    struct http_header *h = &m->hdrs[m->nhdrs - 1];
    if (r->cur != STR_VALUE)
        h->value = http_mem_open(r, STR_VALUE);
    h->value_len += (uint32_t)n;
    return http_mem_extend(m, at, n);
}

static enum http_method_id http_method_id(unsigned method)
{
    switch (method) {
    case HTTP_GET:
        return HTTP_M_GET;
    case HTTP_HEAD:
        return HTTP_M_HEAD;
    case HTTP_POST:
        return HTTP_M_POST;
    case HTTP_PUT:
        return HTTP_M_PUT;
    case HTTP_CONNECT:
        return HTTP_M_CONNECT;
    case HTTP_DELETE:
        return HTTP_M_DELETE;
    case HTTP_OPTIONS:
        return HTTP_M_OPTIONS;
    case HTTP_TRACE:
        return HTTP_M_TRACE;
    case HTTP_PURGE:
        return HTTP_M_PURGE;
    default:
        return HTTP_M_OTHER;
    }
}

#define HTTP_MAX_CONN_OPTIONS 64

struct http_token {
    const char *p;
    size_t len;
};

/* The next non-empty element of a comma-separated list at *v, without the
   whitespace around it (RFC 9110 §5.6.1); false at the list's end. */
static bool http_list_next(const char **v, struct http_token *t)
{
    const char *p = *v;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s) {
            *v = p;
            *t = (struct http_token){s, (size_t)(e - s)};
            return true;
        }
    }
    *v = p;
    return false;
}

/* The options of every Connection line into t (at most max); -1 if there
   are more. */
static int http_conn_options(const struct http_msg *m, struct http_token *t, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nhdrs; i++) {
        if (m->hdrs[i].name_len != 10 || strcasecmp(http_hname(m, &m->hdrs[i]), "Connection") != 0)
            continue;
        const char *v = http_hvalue(m, &m->hdrs[i]);
        struct http_token tok;
        while (http_list_next(&v, &tok)) {
            if (n == max)
                return -1;
            t[n++] = tok;
        }
    }
    return (int)n;
}

/* Marks the headers a Connection header names as hop-by-hop. The options
   are split once and bounded: matching every field against every
   Connection line cost a 64 KiB head of them ~30 times a plain one. */
static int http_mark_hops(struct http_msg *m)
{
    struct http_token opt[HTTP_MAX_CONN_OPTIONS];
    int nopt = http_conn_options(m, opt, HTTP_MAX_CONN_OPTIONS);
    if (nopt < 0)
        return -1;
    for (size_t i = 0; i < m->nhdrs; i++) {
        struct http_header *h = &m->hdrs[i];
        const char *name = http_hname(m, h);
        h->hop = http_is_hop_name(name);
        for (int k = 0; k < nopt && !h->hop; k++)
            h->hop = opt[k].len == h->name_len && strncasecmp(opt[k].p, name, opt[k].len) == 0;
    }
    return 0;
}

/* http-parser keeps trailing whitespace, which is not part of a field value
   (RFC 9110 §5.5): "Expect: 100-continue " must still match. */
static void http_trim_values(struct http_msg *m)
{
    for (size_t i = 0; i < m->nhdrs; i++) {
        struct http_header *h = &m->hdrs[i];
        while (h->value_len > 0 && (m->mem[h->value + h->value_len - 1] == ' ' ||
                                    m->mem[h->value + h->value_len - 1] == '\t'))
            m->mem[h->value + --h->value_len] = '\0';
    }
}

/* Fails the head: the reader's error, with our text for it. */
static int http_head_fail(struct http_reader *r, enum http_error e, const char *why)
{
    r->cb_error = e;
    r->why = why;
    return -1;
}

enum http_te { TE_NONE, TE_CHUNKED, TE_OTHER };

/* Transfer-Encoding over all its field lines: absent, exactly "chunked",
   or anything else (another coding, chunked twice, an empty list). */
static enum http_te http_te_kind(const struct http_msg *m)
{
    size_t codings = 0;
    bool chunked = false, seen = false;
    for (size_t i = 0; i < m->nhdrs; i++) {
        const struct http_header *h = &m->hdrs[i];
        if (h->name_len != 17 || strcasecmp(http_hname(m, h), "Transfer-Encoding") != 0)
            continue;
        seen = true;
        const char *v = http_hvalue(m, h);
        struct http_token t;
        while (http_list_next(&v, &t)) {
            codings++;
            chunked = chunked || (t.len == 7 && strncasecmp(t.p, "chunked", 7) == 0);
        }
    }
    if (!seen)
        return TE_NONE;
    return codings == 1 && chunked ? TE_CHUNKED : TE_OTHER;
}

/* RFC 9112 §6.3 for a request; Upgrade changes nothing here. */
static int http_frame_request(struct http_reader *r, const http_parser *p, struct http_msg *m,
                              enum http_te te)
{
    bool has_length = (p->flags & F_CONTENTLENGTH) != 0;
    if (te != TE_NONE && (p->http_major == 0 || (p->http_major == 1 && p->http_minor == 0)))
        return http_head_fail(r, HTTP_ERR_FRAMING, "Transfer-Encoding in an HTTP/1.0 request");
    if (te == TE_OTHER)
        return http_head_fail(r, HTTP_ERR_FRAMING,
                              "Transfer-Encoding other than a single \"chunked\"");
    if (m->method_id == HTTP_M_CONNECT) {
        if (te != TE_NONE || (has_length && p->content_length > 0))
            return http_head_fail(r, HTTP_ERR_FRAMING, "CONNECT request with a body");
        r->body = BODY_NONE; /* what follows is the tunnel's */
        return 0;
    }
    if (te == TE_CHUNKED) {
        m->chunked = true;
        r->body = BODY_CHUNKED;
    } else if (has_length && p->content_length > 0) {
        r->body = BODY_LENGTH;
        r->remaining = p->content_length;
    }
    return 0;
}

/* RFC 9112 §6.3 for a response: no_body for HEAD, 1xx, 204 and 304. */
static int http_frame_response(struct http_reader *r, const http_parser *p, struct http_msg *m,
                               enum http_te te, bool no_body)
{
    bool has_length = (p->flags & F_CONTENTLENGTH) != 0;
    m->chunked = te == TE_CHUNKED;
    if (no_body)
        return 0;
    if (te != TE_NONE && (p->http_major == 0 || (p->http_major == 1 && p->http_minor == 0)))
        return http_head_fail(r, HTTP_ERR_FRAMING, "Transfer-Encoding in an HTTP/1.0 response");
    if (te == TE_OTHER)
        return http_head_fail(r, HTTP_ERR_FRAMING,
                              "transfer coding other than a single \"chunked\"");
    if (te == TE_CHUNKED) {
        r->body = BODY_CHUNKED;
    } else if (has_length) {
        r->body = p->content_length > 0 ? BODY_LENGTH : BODY_NONE;
        r->remaining = p->content_length;
    } else {
        r->body = BODY_EOF;
    }
    return 0;
}

/* Keep-alive by version and Connection, as http_should_keep_alive() does,
   and never after a close-delimited body. */
static bool http_keep_alive(const struct http_reader *r, const http_parser *p)
{
    bool ka = p->http_major > 0 && p->http_minor > 0 ? !(p->flags & F_CONNECTION_CLOSE)
                                                     : (p->flags & F_CONNECTION_KEEP_ALIVE) != 0;
    return ka && r->body != BODY_EOF;
}

static int http_on_headers_complete(http_parser *p)
{
    struct http_reader *r = p->data;
    struct http_msg *m = &r->msg;
    if (r->cur != STR_NONE)
        m->mem_len++;
    r->cur = STR_NONE;
    /* Lenient http-parser lets spaces into field names; "Content-Length :"
       would then pass our name checks and reach the origin, a smuggling
       vector. RFC 9112 §5.1: reject. It also takes any control byte as the
       first byte of a value: a NUL would make the value we check ("")
       differ from the one we forward, and an origin that drops the others
       would see another value than we did (RFC 9110 §5.5: reject). */
    for (size_t i = 0; i < m->nhdrs; i++) {
        if (memchr(http_hname(m, &m->hdrs[i]), ' ', m->hdrs[i].name_len))
            return http_head_fail(r, HTTP_ERR_SYNTAX, "whitespace in a header field name");
        const unsigned char *v = (const unsigned char *)http_hvalue(m, &m->hdrs[i]);
        if (strlen((const char *)v) != m->hdrs[i].value_len || (v[0] < 0x20 && v[0]) ||
            v[0] == 0x7f)
            return http_head_fail(r, HTTP_ERR_SYNTAX, "control byte in a header field value");
    }
    m->major = p->http_major;
    m->minor = p->http_minor;
    if (p->type == HTTP_REQUEST) {
        m->method_id = http_method_id(p->method);
        const char *name = http_method_str((enum http_method)p->method);
        m->method = http_mem_open(r, STR_TARGET);
        if (http_mem_extend(m, name, strlen(name)) < 0)
            return -1;
        m->mem_len++;
        r->cur = STR_NONE;
    } else {
        m->status = (int)p->status_code;
        /* "HTTP/1.1 010" parses as 10, which would pass for an interim
           response and be relayed (RFC 9110 §15: 100..599) */
        if (m->status < 100)
            return http_head_fail(r, HTTP_ERR_SYNTAX, "status code below 100");
        if (m->status > 599)
            return http_head_fail(r, HTTP_ERR_SYNTAX, "status code above 599");
        /* http-parser takes any byte but CR and LF in the reason phrase
           (RFC 9112 §4: HTAB, SP, VCHAR, obs-text); a client may split
           lines on VT or FF, and a NUL would cut what we relay: ours then */
        if (r->reason_bad && m->reason != HTTP_NO_STR)
            m->mem[m->reason] = '\0';
    }
    /* http-parser takes any uint64_t: 2^63 and up would be a negative
       length here, forwarded as none while the reader waits for that much
       body, which would then reach the origin as requests of its own */
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > INT64_MAX)
        return http_head_fail(r, HTTP_ERR_FRAMING, "Content-Length too large");
    if ((p->flags & F_CONTENTLENGTH) && !(p->flags & F_CHUNKED))
        m->content_length = (int64_t)p->content_length;
    http_trim_values(m);
    r->body = BODY_NONE;
    r->remaining = 0;
    /* http-parser notes a Transfer-Encoding line; without one there is
       nothing to scan (and the field is never forwarded as received) */
    enum http_te te = p->uses_transfer_encoding ? http_te_kind(m) : TE_NONE;
    int rc;
    if (p->type == HTTP_REQUEST) {
        rc = http_frame_request(r, p, m, te);
    } else {
        /* A response to HEAD, a 1xx, 204 or 304 has no body whatever its
           headers say. The HEAD mark outlives interim responses; it is for
           the final one. */
        bool no_body = r->no_body_next || !http_status_has_body(HTTP_M_OTHER, m->status);
        if (m->status >= 200)
            r->no_body_next = false;
        rc = http_frame_response(r, p, m, te, no_body);
    }
    if (rc < 0)
        return -1;
    if (m->chunked)
        m->content_length = -1;
    m->keep_alive = http_keep_alive(r, p);
    m->upgrade = p->upgrade || (p->flags & F_UPGRADE);
    const struct http_header *e = http_find(m, "Expect");
    m->expect_continue = e && strcasecmp(http_hvalue(m, e), "100-continue") == 0;
    if (http_mark_hops(m) < 0)
        return http_head_fail(r, HTTP_ERR_SYNTAX, "more than 64 Connection options");
    if (r->ops->on_head(r->arg, m) < 0)
        return http_head_fail(r, HTTP_ERR_ABORTED, "aborted");
    return 1; /* F_SKIPBODY: http-parser ends the message at its head */
}

/* http-parser reached the end of the head; the body is read by us. */
static int http_on_complete(http_parser *p)
{
    struct http_reader *r = p->data;
    r->head_done = true;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings http_settings = {
    .on_message_begin = http_on_begin,
    .on_url = http_on_url,
    .on_status = http_on_status,
    .on_header_field = http_on_field,
    .on_header_value = http_on_value,
    .on_headers_complete = http_on_headers_complete,
    .on_message_complete = http_on_complete,
};

/* ---- reader ---- */

static void http_parser_restart(struct http_reader *r)
{
    /* a clean parser for the next head: no pause, no upgrade exit, no
       "connection: close" dead state carried over */
    http_parser_init(&r->parser, r->request ? HTTP_REQUEST : HTTP_RESPONSE);
    r->parser.data = r;
}

struct http_reader *http_reader_new(bool request, const struct http_reader_ops *ops, void *arg)
{
    static bool limit_set;
    if (!limit_set) {
        /* magpie bounds heads itself (limits.max_header_bytes) */
        http_parser_set_max_header_size(UINT32_MAX / 2);
        limit_set = true;
    }
    struct http_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->request = request;
    http_parser_restart(r);
    r->ops = ops;
    r->arg = arg;
    r->max_trailer = HTTP_READER_MAX_TRAILER;
    http_msg_clear(&r->msg);
    return r;
}

static void http_reader_destroy(struct http_reader *r)
{
    free(r->stage);
    http_msg_free(&r->msg);
    free(r);
}

void http_reader_free(struct http_reader **rp)
{
    if (!*rp)
        return;
    if ((*rp)->busy)
        (*rp)->doomed = true;
    else
        http_reader_destroy(*rp);
    *rp = NULL;
}

static void http_reader_enter(struct http_reader *r)
{
    r->busy++;
}

/* false if the reader was freed meanwhile: touch nothing of it then */
static bool http_reader_leave(struct http_reader *r)
{
    if (--r->busy == 0 && r->doomed) {
        http_reader_destroy(r);
        return false;
    }
    return true;
}

void http_reader_set_max_trailer(struct http_reader *r, size_t bytes)
{
    r->max_trailer = bytes;
}

static enum http_error http_classify(const struct http_reader *r)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (r->cb_error != HTTP_OK)
        return r->cb_error;
    switch (e) {
    case HPE_INVALID_CONTENT_LENGTH:
    case HPE_UNEXPECTED_CONTENT_LENGTH:
    case HPE_INVALID_CHUNK_SIZE:
    case HPE_INVALID_TRANSFER_ENCODING:
    case HPE_LF_EXPECTED:
        return HTTP_ERR_FRAMING;
    case HPE_OK:
    case HPE_CB_message_begin:
    case HPE_CB_url:
    case HPE_CB_header_field:
    case HPE_CB_header_value:
    case HPE_CB_headers_complete:
    case HPE_CB_body:
    case HPE_CB_message_complete:
    case HPE_CB_status:
    case HPE_CB_chunk_header:
    case HPE_CB_chunk_complete:
    case HPE_INVALID_EOF_STATE:
    case HPE_HEADER_OVERFLOW:
    case HPE_CLOSED_CONNECTION:
    case HPE_INVALID_VERSION:
    case HPE_INVALID_STATUS:
    case HPE_INVALID_METHOD:
    case HPE_INVALID_URL:
    case HPE_INVALID_HOST:
    case HPE_INVALID_PORT:
    case HPE_INVALID_PATH:
    case HPE_INVALID_QUERY_STRING:
    case HPE_INVALID_FRAGMENT:
    case HPE_INVALID_HEADER_TOKEN:
    case HPE_INVALID_CONSTANT:
    case HPE_INVALID_INTERNAL_STATE:
    case HPE_STRICT:
    case HPE_PAUSED:
    case HPE_UNKNOWN:
        break;
    }
    return HTTP_ERR_SYNTAX;
}

/* The message ended: the reader pauses, then the owner hears of it (and
   may call http_reader_next() from on_done). */
static void http_end(struct http_reader *r, enum http_error *err)
{
    r->in_message = false;
    r->head_done = false;
    r->body = BODY_NONE;
    r->done = true;
    if (r->ops->on_done(r->arg) < 0) {
        r->cb_error = *err = HTTP_ERR_ABORTED;
        r->why = "aborted";
    }
}

static int http_deliver(struct http_reader *r, const char *p, size_t n, enum http_error *err)
{
    if (r->ops->on_body(r->arg, p, n) < 0) {
        r->cb_error = *err = HTTP_ERR_ABORTED;
        r->why = "aborted";
        return -1;
    }
    return 0;
}

static int http_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One byte of chunk-ext (RFC 9112 §7.1.1): false if it does not fit. */
static bool http_chunk_ext_step(struct http_reader *r, unsigned char c)
{
    bool ws = c == ' ' || c == '\t';
    switch (r->ch) {
    case CH_EXT_WS:
        if (c == ';')
            r->ch = CH_EXT_NAME0;
        return ws || c == ';';
    case CH_EXT_NAME0:
        if (http_tchar(c))
            r->ch = CH_EXT_NAME;
        return ws || http_tchar(c);
    case CH_EXT_NAME:
    case CH_EXT_VAL:
        if (http_tchar(c))
            return true;
        if (c == '=' && r->ch == CH_EXT_NAME)
            r->ch = CH_EXT_VAL0;
        else if (c == ';')
            r->ch = CH_EXT_NAME0;
        else if (ws)
            r->ch = r->ch == CH_EXT_NAME ? CH_EXT_NAME_WS : CH_EXT_WS;
        else if (c == '\r')
            r->ch = CH_SIZE_LF;
        else
            return false;
        return true;
    case CH_EXT_NAME_WS:
        if (c == '=')
            r->ch = CH_EXT_VAL0;
        else if (c == ';')
            r->ch = CH_EXT_NAME0;
        return ws || c == '=' || c == ';';
    case CH_EXT_VAL0:
        if (http_tchar(c))
            r->ch = CH_EXT_VAL;
        else if (c == '"')
            r->ch = CH_EXT_QSTR;
        return ws || http_tchar(c) || c == '"';
    case CH_EXT_QSTR:
        /* qdtext: HTAB, SP, VCHAR but DQUOTE and backslash, obs-text */
        if (c == '"')
            r->ch = CH_EXT_QEND;
        else if (c == '\\')
            r->ch = CH_EXT_QPAIR;
        return c == '\t' || (c >= 0x20 && c != 0x7f);
    case CH_EXT_QPAIR:
        r->ch = CH_EXT_QSTR;
        return c == '\t' || (c >= 0x20 && c != 0x7f);
    case CH_EXT_QEND:
        if (c == ';')
            r->ch = CH_EXT_NAME0;
        else if (ws)
            r->ch = CH_EXT_WS;
        else if (c == '\r')
            r->ch = CH_SIZE_LF;
        return ws || c == ';' || c == '\r';
    case CH_SIZE0:
    case CH_SIZE:
    case CH_SIZE_LF:
    case CH_DATA:
    case CH_DATA_CR:
    case CH_DATA_LF:
    case CH_TRL_START:
    case CH_TRL_NAME:
    case CH_TRL_VALUE:
    case CH_TRL_LF:
    case CH_TRL_END_LF:
        break; /* not in a chunk-ext */
    }
    return false;
}

/* One byte of framing outside chunk-data: false if it does not fit
   (r->why may say why). */
static bool http_chunk_step(struct http_reader *r, unsigned char c)
{
    int h;
    switch (r->ch) {
    case CH_SIZE0:
        if ((h = http_hex(c)) < 0)
            return false;
        r->remaining = (uint64_t)h;
        r->ch = CH_SIZE;
        return true;
    case CH_SIZE:
        if ((h = http_hex(c)) >= 0) {
            if (r->remaining >> 59) {
                r->why = "chunk size too large";
                return false;
            }
            r->remaining = r->remaining << 4 | (uint64_t)h;
            return true;
        }
        if (c == '\r')
            r->ch = CH_SIZE_LF;
        else if (c == ';')
            r->ch = CH_EXT_NAME0;
        else if (c == ' ' || c == '\t')
            r->ch = CH_EXT_WS;
        else
            return false;
        return true;
    case CH_SIZE_LF:
        if (c != '\n')
            return false;
        if (r->remaining > 0) {
            r->ch = CH_DATA;
        } else {
            r->ch = CH_TRL_START;
            r->trailer_len = 0;
        }
        return true;
    case CH_DATA_CR:
        r->ch = CH_DATA_LF;
        return c == '\r';
    case CH_DATA_LF:
        r->ch = CH_SIZE0;
        r->line_len = 0;
        return c == '\n';
    case CH_TRL_START:
        if (c == '\r')
            r->ch = CH_TRL_END_LF;
        else if (http_tchar(c))
            r->ch = CH_TRL_NAME;
        else
            return false;
        return true;
    case CH_TRL_NAME:
        if (c == ':')
            r->ch = CH_TRL_VALUE;
        return c == ':' || http_tchar(c);
    case CH_TRL_VALUE:
        /* field-value: VCHAR, obs-text, SP and HTAB; no other control */
        if (c == '\r')
            r->ch = CH_TRL_LF;
        return c == '\r' || c == '\t' || (c >= 0x20 && c != 0x7f);
    case CH_TRL_LF:
        r->ch = CH_TRL_START;
        return c == '\n';
    case CH_TRL_END_LF:
        return c == '\n'; /* the caller sees the end */
    case CH_EXT_WS:
    case CH_EXT_NAME0:
    case CH_EXT_NAME:
    case CH_EXT_NAME_WS:
    case CH_EXT_VAL0:
    case CH_EXT_VAL:
    case CH_EXT_QSTR:
    case CH_EXT_QPAIR:
    case CH_EXT_QEND:
        return http_chunk_ext_step(r, c);
    case CH_DATA:
        break; /* passed on in bulk, never a byte at a time */
    }
    return false;
}

/* Why byte c was refused in state st (before the step). */
static const char *http_chunk_why(enum http_chunk_state st, unsigned char c)
{
    if (c == '\n')
        return "bare LF in chunked body";
    switch (st) {
    case CH_SIZE_LF:
    case CH_DATA_LF:
    case CH_TRL_LF:
    case CH_TRL_END_LF:
        return "bare CR in chunked body";
    case CH_SIZE0:
    case CH_SIZE:
        return "invalid chunk size line";
    case CH_DATA_CR:
        return "chunk data not followed by CRLF";
    case CH_TRL_START:
    case CH_TRL_NAME:
        return "invalid trailer field name";
    case CH_TRL_VALUE:
        return "control byte in a trailer field";
    case CH_EXT_WS:
    case CH_EXT_NAME0:
    case CH_EXT_NAME:
    case CH_EXT_NAME_WS:
    case CH_EXT_VAL0:
    case CH_EXT_VAL:
    case CH_EXT_QSTR:
    case CH_EXT_QPAIR:
    case CH_EXT_QEND:
    case CH_DATA:
        break;
    }
    return "invalid chunk extension";
}

#define HTTP_STAGE_CAP 16384
#define HTTP_STAGE_SMALL 1024 /* chunk data below this is gathered */

static int http_stage_flush(struct http_reader *r, enum http_error *err)
{
    size_t n = r->stage_len;
    r->stage_len = 0;
    return n ? http_deliver(r, r->stage, n, err) : 0;
}

/* Chunk data: small pieces gathered, large ones passed on as they are. */
static int http_chunk_data(struct http_reader *r, const char *p, size_t k, enum http_error *err)
{
    if (k < HTTP_STAGE_SMALL && (r->stage || (r->stage = malloc(HTTP_STAGE_CAP)))) {
        if (r->stage_len + k > HTTP_STAGE_CAP && http_stage_flush(r, err) < 0)
            return -1;
        memcpy(r->stage + r->stage_len, p, k);
        r->stage_len += k;
        return 0;
    }
    if (http_stage_flush(r, err) < 0)
        return -1;
    return http_deliver(r, p, k, err);
}

/* A chunked body: data in bulk, framing checked byte by byte. */
static size_t http_chunked_feed_in(struct http_reader *r, const char *p, size_t n,
                                   enum http_error *err)
{
    size_t i = 0;
    while (i < n) {
        if (r->ch == CH_DATA) {
            size_t k = n - i < r->remaining ? n - i : (size_t)r->remaining;
            if (http_chunk_data(r, p + i, k, err) < 0)
                return i;
            i += k;
            r->remaining -= k;
            if (r->remaining == 0)
                r->ch = CH_DATA_CR;
            continue;
        }
        unsigned char c = (unsigned char)p[i++];
        enum http_chunk_state st = r->ch;
        if (st >= CH_TRL_START && ++r->trailer_len > r->max_trailer) {
            r->cb_error = *err = HTTP_ERR_TRAILER_TOO_LARGE;
            r->why = "trailer section too large";
            return i;
        }
        if (st <= CH_SIZE_LF && ++r->line_len > HTTP_CHUNK_LINE_MAX + 2) {
            r->cb_error = *err = HTTP_ERR_FRAMING;
            r->why = "chunk size line too long";
            return i;
        }
        r->why = NULL;
        if (!http_chunk_step(r, c)) {
            r->cb_error = *err = HTTP_ERR_FRAMING;
            if (!r->why)
                r->why = http_chunk_why(st, c);
            return i;
        }
        if (st == CH_TRL_END_LF) {
            if (http_stage_flush(r, err) == 0)
                http_end(r, err);
            return i;
        }
    }
    return i;
}

/* What was gathered goes out before the feed returns: the owner paces by
   what it got. A failed message drops it. */
static size_t http_chunked_feed(struct http_reader *r, const char *p, size_t n,
                                enum http_error *err)
{
    size_t used = http_chunked_feed_in(r, p, n, err);
    if (*err == HTTP_OK)
        http_stage_flush(r, err);
    else
        r->stage_len = 0;
    return used;
}

/* Body bytes after the head, by the framing the head decided. */
static size_t http_body_feed(struct http_reader *r, const char *p, size_t n, enum http_error *err)
{
    switch (r->body) {
    case BODY_NONE:
        http_end(r, err);
        return 0;
    case BODY_LENGTH: {
        size_t k = n < r->remaining ? n : (size_t)r->remaining;
        if (k > 0 && http_deliver(r, p, k, err) < 0)
            return k;
        r->remaining -= k;
        if (r->remaining == 0)
            http_end(r, err);
        return k;
    }
    case BODY_CHUNKED:
        return http_chunked_feed(r, p, n, err);
    case BODY_EOF:
        if (n > 0)
            http_deliver(r, p, n, err);
        return n;
    }
    return 0;
}

static size_t http_reader_feed_in(struct http_reader *r, const char *p, size_t n,
                                  enum http_error *err)
{
    size_t used = 0;
    if (!r->head_done) {
        used = http_parser_execute(&r->parser, &http_settings, p, n);
        enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
        if (e != HPE_OK && e != HPE_PAUSED) {
            *err = http_classify(r);
            return used;
        }
        if (!r->head_done)
            return used; /* more head to come */
        http_parser_restart(r);
        r->ch = CH_SIZE0;
        r->line_len = 0;
        if (r->body == BODY_NONE) {
            http_end(r, err);
            return used;
        }
    }
    return used + http_body_feed(r, p + used, n - used, err);
}

size_t http_reader_feed(struct http_reader *r, const char *p, size_t n, enum http_error *err)
{
    *err = HTTP_OK;
    if (r->done)
        return 0; /* paused until http_reader_next() */
    http_reader_enter(r);
    size_t used = http_reader_feed_in(r, p, n, err);
    http_reader_leave(r);
    return used;
}

enum http_error http_reader_eof(struct http_reader *r)
{
    if (!r->in_message)
        return HTTP_OK;
    if (!r->head_done || r->body != BODY_EOF)
        return HTTP_ERR_EOF;
    enum http_error err = HTTP_OK;
    http_reader_enter(r);
    http_end(r, &err);
    http_reader_leave(r);
    return err;
}

void http_reader_next(struct http_reader *r)
{
    r->done = false;
}

void http_reader_expect_no_body(struct http_reader *r)
{
    r->no_body_next = true;
}

bool http_reader_mid_message(const struct http_reader *r)
{
    return r->in_message;
}

const char *http_reader_strerror(const struct http_reader *r)
{
    if (r->why)
        return r->why;
    if (r->cb_error == HTTP_ERR_TOO_MANY_HEADERS)
        return "too many header fields";
    return http_errno_description(HTTP_PARSER_ERRNO(&r->parser));
}

struct http_msg *http_reader_msg(struct http_reader *r)
{
    return &r->msg;
}

/* ---- header rules ---- */

const struct http_header *http_find(const struct http_msg *m, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < m->nhdrs; i++)
        if (m->hdrs[i].name_len == len && strcasecmp(http_hname(m, &m->hdrs[i]), name) == 0)
            return &m->hdrs[i];
    return NULL;
}

/* A string appended to the arena after parsing: its offset, or
   HTTP_NO_STR when out of memory. */
static uint32_t http_mem_add(struct http_msg *m, const char *p, size_t n)
{
    if (m->mem_len + n + 1 > UINT32_MAX || http_mem_reserve(m, n) < 0)
        return HTTP_NO_STR;
    uint32_t off = (uint32_t)m->mem_len;
    memcpy(m->mem + off, p, n);
    m->mem[off + n] = '\0';
    m->mem_len += n + 1;
    return off;
}

int http_msg_set(struct http_msg *m, const char *name, const char *value)
{
    size_t len = strlen(name), kept = 0;
    for (size_t i = 0; i < m->nhdrs; i++) {
        const struct http_header *h = &m->hdrs[i];
        if (h->name_len == len && strcasecmp(http_hname(m, h), name) == 0)
            continue;
        m->hdrs[kept++] = *h;
    }
    m->nhdrs = kept;
    if (!value)
        return 0;
    size_t vlen = strlen(value);
    if (http_hdrs_room(m) < 0)
        return -1;
    uint32_t n = http_mem_add(m, name, len), v = http_mem_add(m, value, vlen);
    if (n == HTTP_NO_STR || v == HTTP_NO_STR)
        return -1;
    m->hdrs[m->nhdrs++] = (struct http_header){
        .name = n, .value = v, .name_len = (uint32_t)len, .value_len = (uint32_t)vlen};
    return 0;
}

const char *http_msg_value(const struct http_msg *m, const char *name, bool skip_hop, char *buf,
                           size_t size, bool *overflow)
{
    size_t len = strlen(name), used = 0;
    const char *first = NULL;
    *overflow = false;
    for (size_t i = 0; i < m->nhdrs; i++) {
        const struct http_header *h = &m->hdrs[i];
        if ((skip_hop && h->hop) || h->name_len != len || strcasecmp(http_hname(m, h), name) != 0)
            continue;
        const char *v = http_hvalue(m, h);
        if (!first) {
            first = v;
            continue;
        }
        if (used == 0) {
            size_t n = strlen(first);
            if (n >= size) {
                *overflow = true;
                return NULL;
            }
            memcpy(buf, first, n + 1);
            used = n;
        }
        int n = snprintf(buf + used, size - used, ", %s", v);
        if (n < 0 || (size_t)n >= size - used) {
            *overflow = true;
            return NULL;
        }
        used += (size_t)n;
    }
    return used ? buf : first;
}

bool http_list_has(const char *value, const char *token)
{
    size_t tlen = strlen(token);
    struct http_token t;
    while (http_list_next(&value, &t))
        if (t.len == tlen && strncasecmp(t.p, token, tlen) == 0)
            return true;
    return false;
}

bool http_is_hop_name(const char *name)
{
#define HOP(s) {s, sizeof(s) - 1}
    static const struct {
        const char *name;
        size_t len;
    } hops[] = {
        HOP("Connection"), HOP("Keep-Alive"), HOP("Proxy-Connection"),    HOP("TE"),
        HOP("Trailer"),    HOP("Upgrade"),    HOP("Transfer-Encoding"),   HOP("Proxy-Authenticate"),
        HOP("Proxy-Authorization"),
    };
#undef HOP
    size_t len = strlen(name); /* most names are no hop: the length rules them out */
    for (size_t i = 0; i < sizeof(hops) / sizeof(hops[0]); i++)
        if (len == hops[i].len && strcasecmp(name, hops[i].name) == 0)
            return true;
    return false;
}

bool http_status_has_body(enum http_method_id method_id, int status)
{
    if (method_id == HTTP_M_HEAD)
        return false;
    return !(status < 200 || status == 204 || status == 304);
}

enum http_framing http_response_framing(enum http_method_id method_id, int status,
                                        int64_t content_length, bool chunked, unsigned client_minor)
{
    if (!http_status_has_body(method_id, status))
        return HTTP_FRAME_NONE;
    if (content_length >= 0 && !chunked)
        return HTTP_FRAME_LENGTH;
    return client_minor >= 1 ? HTTP_FRAME_CHUNKED : HTTP_FRAME_CLOSE;
}

const char *http_reason(int status)
{
    const char *s = http_status_str((enum http_status)status);
    return strcmp(s, "<unknown>") == 0 ? "Unknown" : s;
}

int http_chunk_head(struct buf *out, uint64_t n)
{
    char head[24];
    int h = snprintf(head, sizeof(head), "%" PRIx64 "\r\n", n);
    return buf_append(out, head, (size_t)h);
}

int http_chunk_append(struct buf *out, const char *p, size_t n)
{
    if (n == 0)
        return buf_append(out, "0\r\n\r\n", 5);
    if (http_chunk_head(out, n) < 0 || buf_append(out, p, n) < 0)
        return -1;
    return buf_append(out, "\r\n", 2);
}

int http_put_header(struct buf *out, const struct http_msg *m, const struct http_header *h)
{
    return buf_append_field(out, http_hname(m, h), h->name_len, http_hvalue(m, h), h->value_len);
}

int http_put_status(struct buf *out, int status, const char *reason)
{
    return http_put_status_v(out, 1, status, reason);
}

int http_put_status_v(struct buf *out, unsigned minor, int status, const char *reason)
{
    if (!reason || !reason[0])
        reason = http_reason(status);
    if (buf_append_lit(out, "HTTP/1.") < 0 || buf_append_u64(out, minor) < 0 ||
        buf_append_lit(out, " ") < 0 || buf_append_u64(out, (uint64_t)status) < 0 ||
        buf_append_lit(out, " ") < 0 || buf_append_str(out, reason) < 0)
        return -1;
    return buf_append_lit(out, "\r\n");
}
