/*
 * access_log.h - the access line in its three layouts (access_log_format):
 * magpie's default, Apache's combined plus the cache result, and one JSON
 * object a line. The client controls the URL and the header values logged,
 * so every string is escaped: a line stays one line, and a JSON line stays
 * valid JSON whatever bytes it carries.
 */
#ifndef MAGPIE_ACCESS_LOG_H
#define MAGPIE_ACCESS_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "config.h"
#include "http.h"

/* What the combined layout needs from the request head, copied when the
   head arrives: the reader that holds it may be gone by the time the line
   is written (an error answered from the head frees it). */
struct access_head {
    const char *target;     /* as received */
    const char *referer;    /* NULL: absent */
    const char *user_agent; /* NULL: absent */
    char mem[];
};

/* One request, as the access line tells it. */
struct access_entry {
    struct timeval when;            /* the line's time */
    const char *client;             /* "ip:port" */
    const char *user;               /* the authenticated user; NULL: none */
    const char *method, *url;       /* NULL: the head never arrived */
    unsigned minor;                 /* HTTP/1.minor */
    const struct access_head *head; /* combined only; NULL: not kept */
    int status;
    uint64_t sent, received;
    long ms;
    const char *cache;
    const char *upstream;     /* NULL: none */
    const char *coding;       /* NULL: no body sent */
    unsigned hops;            /* redirects followed for the client */
    const char *followed_url; /* where the last one led, when hops */
};

/* Longest strings logged (longer ones are cut) and the line that holds the
   most they can escape to: JSON's \u00XX makes a byte 6. */
#define ACCESS_URL_MAX 2048 /* url, target, followed_url */
#define ACCESS_HDR_MAX 1024 /* referer, user_agent */
#define ACCESS_USER_MAX 256 /* user */
#define ACCESS_SHORT_MAX 64 /* method, client, upstream, cache, coding */
#define ACCESS_LINE_MAX (32 * 1024)

/* Copies what combined logs from the request head; NULL out of memory. */
struct access_head *access_head_new(const struct http_msg *m);

/* The line for layout f, newline included, into out (ACCESS_LINE_MAX
   bytes); returns its length. The default layout has no time: log_access()
   puts it first. */
size_t access_format(enum cfg_access_log_format f, const struct access_entry *e, char *out);

/* s[0..n) escaped into out, at most cap bytes and never half an escape;
   returns the bytes written. JSON (RFC 8259): quotes, backslashes and
   control characters escaped, bytes that are not valid UTF-8 as \u00XX of
   the byte. Apache's log escaping: quotes and backslashes escaped, \b \n \r
   \t \v by name, any other byte outside printable ASCII as \xhh. */
size_t access_json_escape(char *out, size_t cap, const char *s, size_t n);
size_t access_clf_escape(char *out, size_t cap, const char *s, size_t n);

#endif
