/*
 * admin_cache.c - GET /cache?url=<percent-encoded absolute URL> on an
 * admin listener: what the cache holds for that URL, as JSON
 * (cache/inspect.c writes it). The query takes exactly one parameter, url:
 * a repeated or unknown one is refused rather than guessed at (an
 * unescaped '&' in the URL would otherwise inspect a shorter URL).
 */
#include "proxy.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cache/inspect.h"
#include "respond.h"
#include "server.h"
#include "url.h"

#define ADMIN_CACHE_MAX (1024 * 1024) /* the JSON; variants past it are left out */

/* What a request target may hold (RFC 9112 §3.2): no controls or spaces. */
static bool admin_cache_url_ok(const char *url)
{
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

/* The decoded url= of target into out; NULL after answering 400. */
static const char *admin_cache_url(struct client *c, const char *target, char *out, size_t size)
{
    const char *q = strchr(target, '?');
    size_t others = 0;
    long n =
        q ? url_query_param(q + 1, strlen(q + 1), "url", out, size, &others) : URL_PARAM_ABSENT;
    const char *why = n == URL_PARAM_ABSENT      ? "GET /cache needs ?url=<percent-encoded URL>"
                      : n == URL_PARAM_REPEATED  ? "url= is given more than once"
                      : n == URL_PARAM_MALFORMED ? "url= has a malformed or NUL escape"
                      : others ? "GET /cache takes url= alone (percent-encode the URL's & as %26)"
                      : !admin_cache_url_ok(out) ? "url= holds a control character or a space"
                                                 : NULL;
    if (why) {
        exchange_fail(c, 400, why);
        return NULL;
    }
    return out;
}

void admin_cache(struct client *c, const char *target)
{
    size_t size = strlen(target) + 1; /* decoding never lengthens it */
    char *url = malloc(size);
    if (!url) {
        exchange_fail(c, 500, "out of memory");
        return;
    }
    if (!admin_cache_url(c, target, url, size)) {
        free(url);
        return;
    }
    struct buf out;
    buf_init(&out, ADMIN_CACHE_MAX);
    time_t now = (time_t)ev_now(c->srv->loop);
    enum cache_inspect_rc rc = cache_inspect(c->srv->store, c->cfg, url, now, &out);
    free(url);
    if (rc == INSPECT_OK) {
        struct answer a = {.status = 200,
                           .reason = "admin",
                           .body = buf_head(&out),
                           .body_len = buf_used(&out),
                           .type = "application/json"};
        exchange_answer(c, &a);
    } else {
        exchange_fail(c, rc == INSPECT_NOMEM ? 500 : 400,
                      rc == INSPECT_NOT_URL  ? "url= is not an absolute http:// or https:// URL"
                      : rc == INSPECT_NO_KEY ? "no cache key can name that URL (too long, or "
                                               "over 256 query parameters)"
                                             : "out of memory, or the JSON did not fit");
    }
    buf_free(&out);
}
