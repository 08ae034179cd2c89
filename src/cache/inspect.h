/*
 * cache/inspect.h - what the cache holds for a URL, as JSON (GET /cache on
 * the admin listener; admin_cache.c answers with it).
 */
#ifndef MAGPIE_CACHE_INSPECT_H
#define MAGPIE_CACHE_INSPECT_H

#include <time.h>

struct buf;
struct config;
struct store;

#define CACHE_INSPECT_MAX_VARIANTS 64 /* listed per key: STORE_MAX_VARIANTS, all there are */

enum cache_inspect_rc {
    INSPECT_OK = 0,
    INSPECT_NOT_URL = -1, /* not an absolute http:// or https:// URL magpie would take */
    INSPECT_NO_KEY = -2,  /* no cache key can name it (too long, too many parameters) */
    INSPECT_NOMEM = -3,
};

/*
 * {"url": ..., "enabled": ..., "keys": [...], "variants": [...],
 * "truncated": ...} for url (decoded, NUL-terminated) into out: the keys a
 * GET of it would be looked up under (forward, and on the reverse route
 * for its host, if any) and every variant stored under them, judged at
 * now as the lookup judges it. st may be NULL (no cache). Variants that
 * do not fit out's limit are left out and "truncated" says so.
 */
enum cache_inspect_rc cache_inspect(struct store *st, const struct config *cfg, const char *url,
                                    time_t now, struct buf *out);

/* The request values a secondary key ("name:value\n" or "name\n" per
   field) holds, as a JSON object ({"accept-encoding": "gzip", "x": null})
   appended to out. 0, or -1 when out is full. */
int cache_inspect_variant_json(const char *variant, struct buf *out);

#endif
