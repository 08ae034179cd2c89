/*
 * access_log.c - the access line's layouts and their escaping. The default
 * layout is one snprintf, as it always was; combined and json escape every
 * string the client or the origin chose, each cut to a fixed length, so
 * the longest line fits ACCESS_LINE_MAX and is never cut mid-escape.
 */
#include "access_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The most a line can need: every string at its cut (two URLs: the target
   or URL, and the followed one), escaped at 6 bytes a byte (JSON; Apache's
   \xhh is 4), plus the fixed text and numbers. */
#define ACCESS_FIXED_MAX 512
_Static_assert(6 * (2 * ACCESS_URL_MAX + ACCESS_USER_MAX + 5 * ACCESS_SHORT_MAX) +
                       ACCESS_FIXED_MAX <=
                   ACCESS_LINE_MAX,
               "a JSON line fits");
_Static_assert(4 * (2 * ACCESS_URL_MAX + 2 * ACCESS_HDR_MAX + ACCESS_USER_MAX +
                    3 * ACCESS_SHORT_MAX) +
                       ACCESS_FIXED_MAX <=
                   ACCESS_LINE_MAX,
               "a combined line fits");

static const char hex[] = "0123456789abcdef";

/* ---- escaping ---- */

static bool cont(unsigned char b)
{
    return (b & 0xc0) == 0x80;
}

/* The length of the valid UTF-8 sequence at s (RFC 3629: no overlong
   forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    size_t len = b < 0xc2 ? 0 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : b < 0xf5 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    /* the second byte's range narrows after E0, ED, F0 and F4 */
    unsigned char lo = b == 0xe0 ? 0xa0 : b == 0xf0 ? 0x90 : 0x80;
    unsigned char hi = b == 0xed ? 0x9f : b == 0xf4 ? 0x8f : 0xbf;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (!cont(s[i]))
            return 0;
    return len;
}

/* The JSON form of the byte (or sequence) at s into e; its length, and
   how many input bytes it stands for in *used. */
static size_t json_unit(const unsigned char *s, size_t n, char e[6], size_t *used)
{
    static const char named[] = {['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r',
                                 ['\t'] = 't', ['"'] = '"',  ['\\'] = '\\'};
    unsigned char b = s[0];
    *used = 1;
    if (b < sizeof(named) && named[b]) {
        e[0] = '\\';
        e[1] = named[b];
        return 2;
    }
    if (b >= 0x20 && b < 0x7f) {
        e[0] = (char)b;
        return 1;
    }
    size_t len = b >= 0x80 ? utf8_len(s, n) : 0;
    if (len) {
        memcpy(e, s, len);
        *used = len;
        return len;
    }
    memcpy(e, "\\u00", 4);
    e[4] = hex[b >> 4];
    e[5] = hex[b & 15];
    return 6;
}

size_t access_json_escape(char *out, size_t cap, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0;
    while (n > 0) {
        char e[6];
        size_t used, len = json_unit(p, n, e, &used);
        if (len > cap - w)
            break;
        memcpy(out + w, e, len);
        w += len;
        p += used;
        n -= used;
    }
    return w;
}

/* As Apache's ap_escape_logitem(). */
static size_t clf_unit(unsigned char b, char e[4])
{
    static const char named[] = {['\b'] = 'b', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
                                 ['\v'] = 'v', ['"'] = '"',  ['\\'] = '\\'};
    if (b < sizeof(named) && named[b]) {
        e[0] = '\\';
        e[1] = named[b];
        return 2;
    }
    if (b >= 0x20 && b < 0x7f) {
        e[0] = (char)b;
        return 1;
    }
    e[0] = '\\';
    e[1] = 'x';
    e[2] = hex[b >> 4];
    e[3] = hex[b & 15];
    return 4;
}

size_t access_clf_escape(char *out, size_t cap, const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        char e[4];
        size_t len = clf_unit((unsigned char)s[i], e);
        if (len > cap - w)
            break;
        memcpy(out + w, e, len);
        w += len;
    }
    return w;
}

/* ---- the request head combined keeps ---- */

static const char *head_value(const struct http_msg *m, const char *name, size_t *len)
{
    const struct http_header *h = http_find(m, name);
    if (!h)
        return NULL;
    *len = h->value_len < ACCESS_HDR_MAX ? h->value_len : ACCESS_HDR_MAX;
    return http_hvalue(m, h);
}

/* Copies s[0..n) into mem at *at, NUL-terminated; returns where it went. */
static const char *head_copy(char *mem, size_t *at, const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = mem + *at;
    memcpy(d, s, n);
    d[n] = '\0';
    *at += n + 1;
    return d;
}

struct access_head *access_head_new(const struct http_msg *m)
{
    const char *target = http_str(m, m->target);
    size_t tlen = m->target_len < ACCESS_URL_MAX ? m->target_len : ACCESS_URL_MAX;
    size_t rlen = 0, ulen = 0;
    const char *ref = head_value(m, "Referer", &rlen);
    const char *ua = head_value(m, "User-Agent", &ulen);
    struct access_head *h = malloc(sizeof(*h) + tlen + rlen + ulen + 3);
    if (!h)
        return NULL;
    size_t at = 0;
    h->target = head_copy(h->mem, &at, target, tlen);
    h->referer = head_copy(h->mem, &at, ref, rlen);
    h->user_agent = head_copy(h->mem, &at, ua, ulen);
    return h;
}

/* ---- building a line ---- */

/* One line being written into out; one byte stays free for the newline. */
struct line {
    char *p;
    size_t len;
};

static size_t room(const struct line *l)
{
    return ACCESS_LINE_MAX - 1 - l->len;
}

static void put(struct line *l, const char *s)
{
    size_t n = strlen(s);
    if (n > room(l))
        n = room(l);
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

__attribute__((format(printf, 2, 3))) static void putf(struct line *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->p + l->len, room(l) + 1, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len += (size_t)n < room(l) ? (size_t)n : room(l);
}

/* A JSON string, at most max bytes of s, or null. */
static void put_json(struct line *l, const char *s, size_t max)
{
    if (!s) {
        put(l, "null");
        return;
    }
    put(l, "\"");
    l->len += access_json_escape(l->p + l->len, room(l), s, strnlen(s, max));
    put(l, "\"");
}

/* Apache's quoted field: "-" when absent. */
static void put_clf_quoted(struct line *l, const char *s, size_t max)
{
    put(l, "\"");
    if (s)
        l->len += access_clf_escape(l->p + l->len, room(l), s, strnlen(s, max));
    else
        put(l, "-");
    put(l, "\"");
}

static void put_clf(struct line *l, const char *s, size_t max)
{
    if (s)
        l->len += access_clf_escape(l->p + l->len, room(l), s, strnlen(s, max));
    else
        put(l, "-");
}

/* Apache's %h: the address without its port ("[v6]:port" or "v4:port"). */
static void put_host(struct line *l, const char *client)
{
    const char *colon = strrchr(client, ':');
    const char *s = client;
    size_t n = colon ? (size_t)(colon - client) : strlen(client);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    l->len +=
        access_clf_escape(l->p + l->len, room(l), s, n < ACCESS_SHORT_MAX ? n : ACCESS_SHORT_MAX);
}

static void put_clf_time(struct line *l, const struct timeval *when)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&when->tv_sec, &tm);
    putf(l, "[%02d/%s/%04d:%02d:%02d:%02d +0000]", tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
         tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void put_iso_time(struct line *l, const struct timeval *when)
{
    struct tm tm;
    gmtime_r(&when->tv_sec, &tm);
    putf(l, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
         tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(when->tv_usec / 1000));
}

/* ---- the layouts ---- */

static size_t format_default(const struct access_entry *e, char *out)
{
    char followed[16] = "-";
    if (e->hops)
        snprintf(followed, sizeof(followed), "%u:", e->hops);
    int n = snprintf(out, ACCESS_LINE_MAX, "%s %s %s %d %llu %ld %s %s %llu %s %s%s", e->client,
                     e->method ? e->method : "-", e->url ? e->url : "-", e->status,
                     (unsigned long long)e->sent, e->ms, e->cache, e->upstream ? e->upstream : "-",
                     (unsigned long long)e->received, e->coding ? e->coding : "-", followed,
                     e->hops ? e->followed_url : "");
    if (n < 0)
        return 0;
    return (size_t)n < ACCESS_LINE_MAX ? (size_t)n : ACCESS_LINE_MAX - 1;
}

/* %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" CACHE "FOLLOWED" */
static size_t format_combined(const struct access_entry *e, char *out)
{
    struct line l = {out, 0};
    const struct access_head *h = e->head;
    put_host(&l, e->client);
    put(&l, " - ");
    put_clf(&l, e->user, ACCESS_USER_MAX);
    put(&l, " ");
    put_clf_time(&l, &e->when);
    put(&l, " \"");
    if (e->method) {
        put_clf(&l, e->method, ACCESS_SHORT_MAX);
        put(&l, " ");
        put_clf(&l, h ? h->target : e->url, ACCESS_URL_MAX);
        putf(&l, " HTTP/1.%u", e->minor);
    } else {
        put(&l, "-");
    }
    putf(&l, "\" %d ", e->status);
    if (e->sent)
        putf(&l, "%llu ", (unsigned long long)e->sent);
    else
        put(&l, "- ");
    put_clf_quoted(&l, h ? h->referer : NULL, ACCESS_HDR_MAX);
    put(&l, " ");
    put_clf_quoted(&l, h ? h->user_agent : NULL, ACCESS_HDR_MAX);
    put(&l, " ");
    put_clf(&l, e->cache, ACCESS_SHORT_MAX);
    if (e->hops) {
        putf(&l, " \"%u:", e->hops);
        put_clf(&l, e->followed_url, ACCESS_URL_MAX);
        put(&l, "\"");
    } else {
        put(&l, " \"-\"");
    }
    return l.len;
}

static size_t format_json(const struct access_entry *e, char *out)
{
    struct line l = {out, 0};
    put(&l, "{\"time\":");
    put_iso_time(&l, &e->when);
    put(&l, ",\"client\":");
    put_json(&l, e->client, ACCESS_SHORT_MAX);
    put(&l, ",\"user\":");
    put_json(&l, e->user, ACCESS_USER_MAX);
    put(&l, ",\"method\":");
    put_json(&l, e->method, ACCESS_SHORT_MAX);
    put(&l, ",\"url\":");
    put_json(&l, e->url, ACCESS_URL_MAX);
    putf(&l, ",\"status\":%d,\"bytes\":%llu,\"received\":%llu,\"duration_ms\":%ld,\"cache\":",
         e->status, (unsigned long long)e->sent, (unsigned long long)e->received, e->ms);
    put_json(&l, e->cache, ACCESS_SHORT_MAX);
    put(&l, ",\"upstream\":");
    put_json(&l, e->upstream, ACCESS_SHORT_MAX);
    put(&l, ",\"encoding\":");
    put_json(&l, e->coding, ACCESS_SHORT_MAX);
    put(&l, ",\"followed\":");
    if (e->hops) {
        putf(&l, "{\"hops\":%u,\"url\":", e->hops);
        put_json(&l, e->followed_url, ACCESS_URL_MAX);
        put(&l, "}}");
    } else {
        put(&l, "null}");
    }
    return l.len;
}

size_t access_format(enum cfg_access_log_format f, const struct access_entry *e, char *out)
{
    switch (f) {
    case CFG_ACCESS_LOG_DEFAULT:
        return format_default(e, out);
    case CFG_ACCESS_LOG_COMBINED:
        return format_combined(e, out);
    case CFG_ACCESS_LOG_JSON:
        return format_json(e, out);
    }
    return 0;
}
