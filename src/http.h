/*
 * http.h - the HTTP/1.x message model and reader. http.c is the only file
 * that includes http_parser.h, so the parser can be swapped in one place.
 *
 * A reader parses one message at a time and pauses when it ends, which is
 * how pipelined requests wait their turn. The head must be complete in
 * memory before it is fed (see http_head_scan()), so a message's strings are
 * copied once into the message's own arena.
 *
 * http-parser reads only the start line and the fields. The body is framed
 * here (RFC 9112 §6.3), whatever Upgrade says, and chunked framing is
 * checked strictly (§7.1: exact CRLFs, a bounded size line, a valid
 * chunk-ext, a trailer section bounded by http_reader_set_max_trailer()
 * whose fields are checked and dropped, never added to the message).
 */
#ifndef MAGPIE_HTTP_H
#define MAGPIE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct http_header {
    uint32_t name, value; /* offsets into the message arena */
    uint32_t name_len, value_len;
    bool hop; /* hop-by-hop: never forwarded */
};

/*
 * The methods magpie acts on, from http-parser's method (which matches
 * names case-sensitively, RFC 9110 §9.1, and refuses names it does not
 * know); any other method it accepts (PATCH, the WebDAV ones, ...) is
 * HTTP_M_OTHER. The name as received stays in the message for logs.
 */
enum http_method_id {
    HTTP_M_OTHER,
    HTTP_M_GET,
    HTTP_M_HEAD,
    HTTP_M_POST,
    HTTP_M_PUT,
    HTTP_M_CONNECT,
    HTTP_M_DELETE,
    HTTP_M_OPTIONS,
    HTTP_M_TRACE,
    HTTP_M_PURGE, /* cache.c: removes stored responses */
};

struct http_msg {
    char *mem; /* arena: NUL-terminated strings */
    size_t mem_len, mem_cap;
    struct http_header *hdrs;
    size_t nhdrs, hdrs_cap;

    uint32_t method, target, reason; /* arena offsets */
    uint32_t target_len;
    enum http_method_id method_id;
    int status;
    unsigned major, minor;

    int64_t content_length; /* -1: none (or chunked) */
    bool chunked;           /* Transfer-Encoding is exactly "chunked" */
    bool keep_alive; /* per version and Connection */
    bool upgrade;    /* Upgrade with Connection: upgrade, or CONNECT */
    bool expect_continue;
};

/* Offsets of strings the message did not have (an empty reason phrase). */
#define HTTP_NO_STR UINT32_MAX

static inline const char *http_str(const struct http_msg *m, uint32_t off)
{
    return off == HTTP_NO_STR ? "" : m->mem + off;
}
static inline const char *http_hname(const struct http_msg *m, const struct http_header *h)
{
    return m->mem + h->name;
}
static inline const char *http_hvalue(const struct http_msg *m, const struct http_header *h)
{
    return http_str(m, h->value);
}
/* The first header called name (case-insensitive), or NULL. */
const struct http_header *http_find(const struct http_msg *m, const char *name);
/* Appends "HTTP/1.1 status reason\r\n"; an empty reason becomes the
   standard one. 0 or -1 (full). */
/* The same with the version 1.minor, as a stored head keeps the origin's. */
int http_put_status_v(struct buf *out, unsigned minor, int status, const char *reason);
int http_put_status(struct buf *out, int status, const char *reason);
/* Appends the header line "Name: value\r\n" of h to out. 0 or -1 (full). */
int http_put_header(struct buf *out, const struct http_msg *m, const struct http_header *h);
/*
 * Replaces every field line called name (case-insensitive) by one line
 * with value, at the end; value NULL removes them. For a response head
 * that magpie changes before it is relayed and stored (compression):
 * strings taken from m before the call may move. 0, or -1 out of memory.
 */
int http_msg_set(struct http_msg *m, const char *name, const char *value);
/*
 * The value of a field as one list: every line called name combined with
 * ", " (RFC 9110 §5.3) into buf, or the one line as it is without copying;
 * NULL when there is none (or only hop-by-hop ones, with skip_hop), or when
 * the combination does not fit in size (*overflow set).
 */
const char *http_msg_value(const struct http_msg *m, const char *name, bool skip_hop, char *buf,
                           size_t size, bool *overflow);
/* Whether a comma-separated header value list holds token (case-insensitive). */
bool http_list_has(const char *value, const char *token);

/* Result of scanning a head that is not yet parsed. */
enum http_scan {
    HTTP_SCAN_MORE,      /* incomplete; read more */
    HTTP_SCAN_DONE,      /* complete; *head_len set */
    HTTP_SCAN_TOO_LARGE, /* over max_head bytes -> 431 */
    HTTP_SCAN_URI_LONG,  /* request line over max_line -> 414 */
    HTTP_SCAN_BAD,       /* bare CR, bare LF or obs-fold -> 400 */
};
/*
 * Finds the end of a message head in p[0..len) and checks its line
 * structure: every line ends in CRLF, no bare CR, no obs-fold. *scanned
 * carries progress between calls (start it at 0).
 */
enum http_scan http_head_scan(const char *p, size_t len, size_t max_head, size_t max_line,
                              size_t *scanned, size_t *head_len);

enum http_error {
    HTTP_OK,
    HTTP_ERR_SYNTAX,  /* malformed -> 400 */
    HTTP_ERR_FRAMING, /* ambiguous or invalid framing -> 400 and close */
    HTTP_ERR_TOO_MANY_HEADERS,
    HTTP_ERR_TRAILER_TOO_LARGE, /* trailer section over its limit -> 431 and close */
    HTTP_ERR_EOF,     /* the peer closed before the message ended */
    HTTP_ERR_ABORTED, /* a callback asked to stop */
};

struct http_reader_ops {
    /* The head is in msg. Return 0 to go on, -1 to abort. */
    int (*on_head)(void *arg, struct http_msg *msg);
    /* Decoded body bytes (chunk framing removed). 0 or -1. */
    int (*on_body)(void *arg, const char *p, size_t n);
    /* The message ended; the reader is paused until http_reader_next(). */
    int (*on_done)(void *arg);
};

struct http_reader;

struct http_reader *http_reader_new(bool request, const struct http_reader_ops *ops, void *arg);
void http_reader_free(struct http_reader **rp);
/*
 * Feeds bytes; returns how many were consumed. Stops early when a message
 * ends (paused) or on error (*err set, consumed bytes meaningless).
 */
size_t http_reader_feed(struct http_reader *r, const char *p, size_t n, enum http_error *err);
/* The peer closed: ends a close-delimited body, or is an error mid-message. */
enum http_error http_reader_eof(struct http_reader *r);
/* Unpauses after a message ended, for the next one. */
void http_reader_next(struct http_reader *r);
/* The next response answers a HEAD request: it has no body. */
void http_reader_expect_no_body(struct http_reader *r);
/* Bytes a chunked body's trailer section may have (HTTP_READER_MAX_TRAILER
   until set); past them the message is an error. */
void http_reader_set_max_trailer(struct http_reader *r, size_t bytes);
#define HTTP_READER_MAX_TRAILER (16 * 1024)
/* Whether a message has started and not ended. */
bool http_reader_mid_message(const struct http_reader *r);
/* Detailed parser error text for logs and error bodies. */
const char *http_reader_strerror(const struct http_reader *r);
/* The message being read or last read. */
struct http_msg *http_reader_msg(struct http_reader *r);

/* http_check.c */
/* Whether c is a tchar (RFC 9110 §5.6.2), the bytes of a token. */
bool http_tchar(unsigned char c);
/* Result of checking a request line (RFC 9112 §3). */
enum http_line_check {
    HTTP_LINE_OK,
    HTTP_LINE_BAD,     /* -> 400 */
    HTTP_LINE_VERSION, /* well-formed, but not HTTP/1.0 or 1.1 -> 505 */
};
/*
 * Checks the request line at the start of a scanned head p[0..len) (leading
 * empty lines allowed): method token, one SP, a target of visible ASCII
 * bytes, one SP, HTTP/DIGIT.DIGIT, CRLF. *why explains a failure.
 */
enum http_line_check http_request_line_check(const char *p, size_t len, const char **why);
/* Whether a Host field value is uri-host [":" port] (RFC 9112 §3.2, RFC 3986
   §3.2.2); an empty value is allowed. */
bool http_host_valid(const char *v, size_t len);

/* Hop-by-hop by name alone (RFC 9110 §7.6.1 and the usual extras). */
bool http_is_hop_name(const char *name);

/* How a response body is delimited towards the client. */
enum http_framing { HTTP_FRAME_NONE, HTTP_FRAME_LENGTH, HTTP_FRAME_CHUNKED, HTTP_FRAME_CLOSE };
/*
 * Framing for relaying a response with the given status and upstream
 * framing to a client of version 1.minor that sent method.
 */
enum http_framing http_response_framing(enum http_method_id method_id, int status,
                                        int64_t content_length, bool chunked,
                                        unsigned client_minor);
/* Whether a response with this status to this method can have a body. */
bool http_status_has_body(enum http_method_id method_id, int status);

const char *http_reason(int status);

/* Appends one chunk's framing and data; n == 0 writes the last chunk. */
int http_chunk_append(struct buf *out, const char *p, size_t n);
/* The size line of a chunk of n bytes (its data and CRLF follow). */
int http_chunk_head(struct buf *out, uint64_t n);

#endif
