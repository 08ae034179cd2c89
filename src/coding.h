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
   Unknown codings are ignored; a member with a malformed q is ignored. */
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
 * any coding).
 */
enum coding coding_negotiate(const struct coding_accept *a, const enum coding *prefs, size_t n);

/* Why a response is not compressed; COMPRESS_YES when it may be. */
enum compress_verdict {
    COMPRESS_YES,
    COMPRESS_NO_STATUS,       /* 1xx, 204, 206, 304: no body, or a range of the identity one */
    COMPRESS_NO_METHOD,       /* CONNECT (a tunnel carries no representation) */
    COMPRESS_NO_TRANSFORM,    /* Cache-Control: no-transform (RFC 9110 §7.7) */
    COMPRESS_NO_ENCODED,      /* it has a Content-Encoding already */
    COMPRESS_NO_TYPE,         /* Content-Type absent or not in compression.types */
    COMPRESS_NO_EVENT_STREAM, /* text/event-stream: every event must go at once */
    COMPRESS_NO_SMALL,        /* known length under compression.min_size */
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
enum compress_verdict coding_compressible(const struct compress_facts *f, char *const *types,
                                          size_t ntypes, uint64_t min_size);
/* Whether a media type (parameters ignored, case-insensitive) matches one of
   the patterns: a whole type, "type/" then a star (any subtype), or "type/"
   then a star then "+suffix" (RFC 6839 structured syntax suffixes). */
bool coding_type_listed(const char *content_type, char *const *types, size_t ntypes);
const char *compress_verdict_name(enum compress_verdict v);

/*
 * Entity tags of encoded variants: the coding's name joins the opaque tag
 * inside the quotes after a '~' ("abc" -> "abc~gzip", W/"abc" ->
 * W/"abc~gzip"); the strength stays. 0, or -1 when etag is not one entity
 * tag or out is too small.
 */
int coding_etag_derive(const char *etag, enum coding c, char *out, size_t size);
/* Whether etag is one derived for c. */
bool coding_etag_derived(const char *etag, enum coding c);
/*
 * An If-None-Match or If-Match list with every tag derived for c mapped
 * back to the origin's (and "*" kept): what goes to the origin. Returns the
 * number of tags mapped (0: out holds list unchanged), or -1 when out is
 * too small.
 */
int coding_etag_list_base(const char *list, enum coding c, char *out, size_t size);
/* The tag of a decoded body: the same opaque tag, weak (W/"abc"). */
int coding_etag_weaken(const char *etag, char *out, size_t size);

/* vary (every Vary line joined; NULL or "" when none) with Accept-Encoding
   added unless it is there (any case) or vary is "*". 0, or -1 when out is
   too small. */
int coding_vary_merge(const char *vary, char *out, size_t size);

#endif
