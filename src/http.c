/*
 * http.c - HTTP/1.x messages on top of http-parser: head scanning, the
 * reader, hop-by-hop rules and framing decisions. Nothing here does I/O;
 * the connection state machines in client.c and upstream.c drive it.
 */
#include "http.h"

#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_MAX_HEADERS 256

struct http_reader {
    http_parser parser;
    const struct http_reader_ops *ops;
    void *arg;
    struct http_msg msg;
    bool in_message;
    int cur; /* the arena string being appended to (STR_*) */
    bool no_body_next;
    bool done;
    enum http_error cb_error;
    const char *detail; /* what HTTP_ERR_SYNTAX found, for the log; NULL: the default */
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
    r->detail = NULL;
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
        if (m->nhdrs == m->hdrs_cap) {
            size_t cap = m->hdrs_cap ? m->hdrs_cap * 2 : 32;
            struct http_header *h = realloc(m->hdrs, cap * sizeof(*h));
            if (!h)
                return -1;
            m->hdrs = h;
            m->hdrs_cap = cap;
        }
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

static int http_method_id(unsigned method)
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
    default:
        return HTTP_M_OTHER;
    }
}

/* Marks the headers a Connection header names as hop-by-hop. */
static void http_mark_hops(struct http_msg *m)
{
    for (size_t i = 0; i < m->nhdrs; i++) {
        struct http_header *h = &m->hdrs[i];
        h->hop = http_is_hop_name(http_hname(m, h));
    }
    for (size_t i = 0; i < m->nhdrs; i++) {
        if (m->hdrs[i].name_len != 10 || strcasecmp(http_hname(m, &m->hdrs[i]), "Connection") != 0)
            continue;
        const char *conn = http_hvalue(m, &m->hdrs[i]);
        for (size_t j = 0; j < m->nhdrs; j++)
            if (http_list_has(conn, http_hname(m, &m->hdrs[j])))
                m->hdrs[j].hop = true;
    }
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
        if (memchr(http_hname(m, &m->hdrs[i]), ' ', m->hdrs[i].name_len)) {
            r->cb_error = HTTP_ERR_SYNTAX;
            return -1;
        }
        const unsigned char *v = (const unsigned char *)http_hvalue(m, &m->hdrs[i]);
        if (strlen((const char *)v) != m->hdrs[i].value_len || (v[0] < 0x20 && v[0]) ||
            v[0] == 0x7f) {
            r->cb_error = HTTP_ERR_SYNTAX;
            r->detail = "control byte in a header field value";
            return -1;
        }
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
        if (m->status < 100) {
            r->cb_error = HTTP_ERR_SYNTAX;
            r->detail = "status code below 100";
            return -1;
        }
    }
    m->chunked = (p->flags & F_CHUNKED) != 0;
    if ((p->flags & F_CONTENTLENGTH) && !m->chunked)
        m->content_length = (int64_t)p->content_length;
    /* A response to HEAD, a 1xx, 204 or 304 has no body whatever its headers
       say (RFC 9112 §6.3): http-parser would wait for a 304's Content-Length.
       The HEAD mark outlives interim responses; it is for the final one. */
    bool no_body = false;
    if (p->type == HTTP_RESPONSE) {
        no_body = r->no_body_next || !http_status_has_body(HTTP_M_OTHER, m->status);
        if (m->status >= 200)
            r->no_body_next = false;
    }
    if (no_body)
        p->flags |= F_SKIPBODY; /* else keep-alive is judged as if read to EOF */
    m->keep_alive = http_should_keep_alive(p) != 0;
    m->upgrade = p->upgrade || (p->flags & F_UPGRADE);
    http_trim_values(m);
    const struct http_header *e = http_find(m, "Expect");
    m->expect_continue = e && strcasecmp(http_hvalue(m, e), "100-continue") == 0;
    http_mark_hops(m);
    if (r->ops->on_head(r->arg, m) < 0) {
        r->cb_error = HTTP_ERR_ABORTED;
        return -1;
    }
    return no_body ? 1 : 0;
}

static int http_on_body(http_parser *p, const char *at, size_t n)
{
    struct http_reader *r = p->data;
    if (r->ops->on_body(r->arg, at, n) < 0) {
        r->cb_error = HTTP_ERR_ABORTED;
        return -1;
    }
    return 0;
}

static int http_on_complete(http_parser *p)
{
    struct http_reader *r = p->data;
    r->in_message = false;
    r->done = true;
    http_parser_pause(p, 1);
    if (r->ops->on_done(r->arg) < 0) {
        r->cb_error = HTTP_ERR_ABORTED;
        return -1;
    }
    return 0;
}

static const http_parser_settings http_settings = {
    .on_message_begin = http_on_begin,
    .on_url = http_on_url,
    .on_status = http_on_status,
    .on_header_field = http_on_field,
    .on_header_value = http_on_value,
    .on_headers_complete = http_on_headers_complete,
    .on_body = http_on_body,
    .on_message_complete = http_on_complete,
};

/* ---- reader ---- */

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
    http_parser_init(&r->parser, request ? HTTP_REQUEST : HTTP_RESPONSE);
    r->parser.data = r;
    r->ops = ops;
    r->arg = arg;
    http_msg_clear(&r->msg);
    return r;
}

void http_reader_free(struct http_reader **rp)
{
    if (!*rp)
        return;
    http_msg_free(&(*rp)->msg);
    free(*rp);
    *rp = NULL;
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
    default:
        return HTTP_ERR_SYNTAX;
    }
}

size_t http_reader_feed(struct http_reader *r, const char *p, size_t n, enum http_error *err)
{
    *err = HTTP_OK;
    if (r->done)
        return 0; /* paused until http_reader_next() */
    size_t used = http_parser_execute(&r->parser, &http_settings, p, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (e == HPE_PAUSED)
        return used;
    if (e != HPE_OK) {
        *err = http_classify(r);
        return used;
    }
    if (r->parser.upgrade && !r->done) {
        /* a request whose body rules end at the head (CONNECT): done */
        r->done = true;
        r->in_message = false;
        if (r->ops->on_done(r->arg) < 0)
            *err = HTTP_ERR_ABORTED;
    }
    return used;
}

enum http_error http_reader_eof(struct http_reader *r)
{
    if (!r->in_message)
        return HTTP_OK;
    http_parser_execute(&r->parser, &http_settings, NULL, 0);
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (e != HPE_OK && e != HPE_PAUSED)
        return r->cb_error != HTTP_OK ? r->cb_error : HTTP_ERR_EOF;
    return r->in_message ? HTTP_ERR_EOF : HTTP_OK;
}

void http_reader_next(struct http_reader *r)
{
    r->done = false;
    if (HTTP_PARSER_ERRNO(&r->parser) == HPE_PAUSED)
        http_parser_pause(&r->parser, 0);
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
    if (r->cb_error == HTTP_ERR_TOO_MANY_HEADERS)
        return "too many header fields";
    if (r->cb_error == HTTP_ERR_SYNTAX)
        return r->detail ? r->detail : "whitespace in a header field name";
    return http_errno_description(HTTP_PARSER_ERRNO(&r->parser));
}

void http_reader_release(struct http_reader *r)
{
    if (r->in_message)
        return;
    http_msg_free(&r->msg);
    http_msg_clear(&r->msg);
}

struct http_msg *http_reader_msg(struct http_reader *r)
{
    return &r->msg;
}

/* ---- head scanning ---- */

enum http_scan http_head_scan(const char *p, size_t len, size_t max_head, size_t max_line,
                              size_t *scanned, size_t *head_len)
{
    size_t i = *scanned;
    /* Leading empty lines before a request line are ignored (RFC 9112 §2.2),
       but count towards max_head: else they could fill the buffer for ever. */
    size_t start = 0;
    while (start + 1 < len && p[start] == '\r' && p[start + 1] == '\n')
        start += 2;
    if (start >= max_head)
        return HTTP_SCAN_TOO_LARGE;
    if (i < start)
        i = start;
    /* whether the request line ended in what earlier calls scanned: found
       once here, not for every line (that would be quadratic in the lines) */
    bool first_done = i > start && memchr(p + start, '\n', i - start) != NULL;
    for (; i < len; i++) {
        if (i >= max_head)
            return HTTP_SCAN_TOO_LARGE;
        char c = p[i];
        if (c == '\r') {
            if (i + 1 == len)
                break; /* need the next byte */
            if (p[i + 1] != '\n')
                return HTTP_SCAN_BAD;
            continue;
        }
        if (c != '\n')
            continue;
        if (i == start || p[i - 1] != '\r')
            return HTTP_SCAN_BAD;
        size_t line_start = i - 1;
        /* the request line is the first line: bound it, without CRLF, for 414 */
        if (!first_done && line_start - start > max_line)
            return HTTP_SCAN_URI_LONG;
        first_done = true;
        if (line_start >= 2 && p[line_start - 1] == '\n') {
            *head_len = i + 1;
            *scanned = i + 1;
            return HTTP_SCAN_DONE;
        }
        if (i + 1 == len)
            break; /* the next byte tells whether this line is folded */
        if (p[i + 1] == ' ' || p[i + 1] == '\t')
            return HTTP_SCAN_BAD; /* obs-fold, or whitespace before the first field */
    }
    *scanned = i;
    /* an unended request line (i is at its end or its CR); one that ended
       with the last byte was bounded above */
    if (!first_done && i - start > max_line)
        return HTTP_SCAN_URI_LONG;
    return HTTP_SCAN_MORE;
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

bool http_list_has(const char *value, const char *token)
{
    size_t tlen = strlen(token);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tlen && tlen > 0 && strncasecmp(s, token, tlen) == 0)
            return true;
    }
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

bool http_status_has_body(int method_id, int status)
{
    if (method_id == HTTP_M_HEAD)
        return false;
    return !(status < 200 || status == 204 || status == 304);
}

enum http_framing http_response_framing(int method_id, int status, int64_t content_length,
                                        bool chunked, unsigned client_minor)
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

int http_chunk_append(struct buf *out, const char *p, size_t n)
{
    if (n == 0)
        return buf_append(out, "0\r\n\r\n", 5);
    char head[24];
    int h = snprintf(head, sizeof(head), "%zx\r\n", n);
    if (buf_append(out, head, (size_t)h) < 0 || buf_append(out, p, n) < 0)
        return -1;
    return buf_append(out, "\r\n", 2);
}

int http_put_header(struct buf *out, const struct http_msg *m, const struct http_header *h)
{
    return buf_append_field(out, http_hname(m, h), h->name_len, http_hvalue(m, h), h->value_len);
}

int http_put_status(struct buf *out, int status, const char *reason)
{
    if (!reason || !reason[0])
        reason = http_reason(status);
    if (buf_append_lit(out, "HTTP/1.1 ") < 0 || buf_append_u64(out, (uint64_t)status) < 0 ||
        buf_append_lit(out, " ") < 0 || buf_append_str(out, reason) < 0)
        return -1;
    return buf_append_lit(out, "\r\n");
}
