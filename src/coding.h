/*
 * coding.h - content codings as HTTP names them (RFC 9110 §8.4.1), and the
 * pure decisions compression rests on: what a request's Accept-Encoding
 * accepts and which coding it gets (§12.5.3), whether a response may be
 * compressed at all, the entity tag of an encoded variant and the way back
 * to the origin's own, and Vary with Accept-Encoding merged in. No I/O and
 * no allocation: the unit tests drive every function from tables.
 */
#ifndef MAGPIE_CODING_H
#define MAGPIE_CODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum coding {
    CODING_IDENTITY,
    CODING_GZIP, /* also "x-gzip" (RFC 9110 §8.4.1.3) */
    CODING_DEFLATE,
    CODING_BR,
    CODING_ZSTD,
    CODING_UNKNOWN, /* a coding magpie cannot decode, or several stacked */
};
#define CODING_KNOWN 5 /* IDENTITY..ZSTD */

/* "identity", "gzip", "deflate", "br", "zstd"; "unknown" for the rest. */
const char *coding_name(enum coding c);
/* A coding token, case-insensitive, of len bytes; CODING_UNKNOWN when it is
   none of the known ones. */
enum coding coding_from_token(const char *s, size_t len);
/* A response's Content-Encoding value (NULL: the field is absent):
   IDENTITY when absent, empty or "identity"; one known coding; UNKNOWN for
   anything else, including two codings stacked ("gzip, br"). */
enum coding coding_of_response(const char *content_encoding);

/* What an Accept-Encoding field accepts. q-values are in thousandths. */
struct coding_accept {
    bool present;              /* the request had the field */
    int16_t q[CODING_KNOWN];   /* per coding as named, -1 when not named */
    int16_t star;              /* "*", -1 when not named */
};
/* ae: the field's value, every line combined with ", " (NULL: absent).
   Unknown codings are ignored; a member with a malformed q is ignored:
   the weight must be exactly OWS ";" OWS "q=" qvalue (RFC 9110 §12.4.2),
   so "q=.5", "q=1.001", four decimals, "q = 1" or any other parameter
   drop the member. Codings and "q" are case-insensitive; "x-gzip" is
   gzip. A coding named twice keeps its first well-formed member (RFC 9110
   does not say; the first is what the client wrote first). Linear time. */
void coding_accept_parse(const char *ae, struct coding_accept *a);
/* Whether coding c may be sent (q > 0). Absent field or empty value:
   identity only (magpie does not encode for a client that said nothing).
   identity is acceptable unless "identity;q=0", or "*;q=0" without
   identity named. */
bool coding_acceptable(const struct coding_accept *a, enum coding c);
/*
 * The coding to send for a body magpie may encode: the acceptable one of
 * prefs[0..n) (magpie's order) and identity with the highest q; ties go
 * to the earlier in prefs, and identity loses a tie to any of them. When
 * nothing is acceptable, identity (RFC 9110 §12.5.3: a response without
 * any coding). identity not named weighs what "*" does, or without "*" the
 * least there is: any coding the client named acceptable beats it. prefs
 * naming identity or an unknown coding change nothing.
 */
enum coding coding_negotiate(const struct coding_accept *a, const enum coding *prefs, size_t n);

/* Why a response is not compressed; COMPRESS_YES when it may be. */
enum compress_verdict {
    COMPRESS_YES,
    COMPRESS_NO_STATUS,       /* 1xx, 204, 205, 206, 304: no body, or a range of the identity one */
    COMPRESS_NO_METHOD,       /* CONNECT (a tunnel carries no representation) */
    COMPRESS_NO_TRANSFORM,    /* Cache-Control: no-transform (RFC 9110 §7.7) */
    COMPRESS_NO_ENCODED,      /* it has a Content-Encoding already */
    COMPRESS_NO_TYPE,         /* Content-Type absent or not in compression.types */
    COMPRESS_NO_EVENT_STREAM, /* text/event-stream: every event must go at once */
    COMPRESS_NO_SMALL,        /* known length under compression.min_size, or 0 */
    COMPRESS_NO_RANGE,        /* the request asked for a range */
};
struct compress_facts {
    int method;                   /* enum http_method_id */
    int status;
    const char *content_type;     /* NULL: absent */
    const char *content_encoding; /* NULL: absent */
    const char *cache_control;    /* every line combined (NULL: absent) */
    int64_t length;               /* -1: unknown */
    bool range_request;           /* the request had Range */
};
/*
 * The checks run in this order, the first that applies deciding: method,
 * status, no-transform, Content-Encoding, text/event-stream (before the
 * list, so "text/" + star does not take it in), type, length, Range.
 * What the response is comes first and what this one exchange is last:
 * NO_SMALL and NO_RANGE name a response of a compressible kind that is not
 * compressed this time. A Cache-Control no-transform counts as a directive
 * (cc_parse: names case-insensitive, quoted arguments skipped).
 */
enum compress_verdict coding_compressible(const struct compress_facts *f, char *const *types,
                                          size_t ntypes, uint64_t min_size);
/* Whether a media type (parameters ignored, case-insensitive) matches one of
   the patterns: a whole type, "type/" then a star (any subtype), or "type/"
   then a star then "+suffix" (RFC 6839 structured syntax suffixes: a
   subtype with something before "+suffix"). A star as the type matches any
   type, so star "/" star lists everything. A content type that is not
   token "/" token (OWS around it allowed), or a pattern that is not, never
   matches. */
bool coding_type_listed(const char *content_type, char *const *types, size_t ntypes);
/* For logs: "yes", "status", "method", "no-transform", "encoded", "type",
   "event-stream", "small", "range". */
const char *compress_verdict_name(enum compress_verdict v);

/*
 * Entity tags of encoded variants: the coding's name joins the opaque tag
 * inside the quotes after a '~' ("abc" -> "abc~gzip", W/"abc" ->
 * W/"abc~gzip"); the strength stays. 0, or -1 (out left empty) when etag
 * is not one entity tag (OWS around it allowed), c is UNKNOWN, or out is
 * too small. The identity variant keeps the origin's tag: for
 * CODING_IDENTITY out is etag as it is.
 */
int coding_etag_derive(const char *etag, enum coding c, char *out, size_t size);
/* Whether etag is one well-formed entity tag whose opaque part ends with
   "~" and c's name (case-sensitive, as tags are); never for identity. */
bool coding_etag_derived(const char *etag, enum coding c);
/*
 * An If-None-Match or If-Match list with every tag derived for c mapped
 * back to the origin's (and "*" kept): what goes to the origin. Returns the
 * number of tags mapped (0: out holds list unchanged), or -1 when out is
 * too small (out left empty). With tags mapped the members are joined by
 * ", ", others kept in their order. A list that is neither "*" nor
 * #entity-tag goes unchanged too (0): a derived tag left in it matches none of the
 * origin's tags, so the origin answers in full (If-None-Match) or refuses
 * (If-Match) - never a 304 or a write the client's condition did not ask
 * for - and mapping part of a list magpie cannot read could do just that.
 */
int coding_etag_list_base(const char *list, enum coding c, char *out, size_t size);
/* The tag of a decoded body: the same opaque tag, weak (W/"abc"); 0, or -1
   as coding_etag_derive. */
int coding_etag_weaken(const char *etag, char *out, size_t size);

/* vary (every Vary line joined; NULL or "" when none) with Accept-Encoding
   added unless it is a member (any case) or "*" is one; then out is vary
   as it is. Adding drops empty members at the ends ("a, " -> "a,
   Accept-Encoding"). 0, or -1 (out left empty) when out is too small. */
int coding_vary_merge(const char *vary, char *out, size_t size);

#endif
