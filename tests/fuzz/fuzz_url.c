/*
 * fuzz_url.c - request targets and authorities (url.c): absolute-form
 * URLs, Host values, and the cache key built from them, with query
 * parameters to ignore. Checks that an authority magpie formats parses
 * back to itself and that the cache key fits exactly the buffer it says.
 *
 * Input: byte 0 picks options (bit 0: https; bits 1-3: a small output
 * buffer size), then the target, then up to 4 parameter names to ignore,
 * each after a NUL.
 */
#include <ctype.h>

#include "fuzz.h"
#include "url.h"

#define KEY_MAX 16384
#define MAX_IGNORE 4

static void check_host(const char *host)
{
    size_t n = strlen(host);
    if (n == 0 || n >= URL_HOST_MAX)
        abort();
    for (size_t i = 0; i < n; i++)
        if (isupper((unsigned char)host[i]))
            abort(); /* hosts come out lower-cased */
}

/* host:port as magpie writes it (Via, Host, logs) must parse back. */
static void check_round_trip(const char *host, uint16_t port)
{
    char hp[URL_HOST_MAX + 16], h2[URL_HOST_MAX];
    uint16_t p2 = 0;
    url_format_hostport(hp, sizeof(hp), host, port);
    if (url_parse_authority(hp, strlen(hp), h2, sizeof(h2), &p2, 1) < 0 || strcmp(h2, host) != 0 ||
        p2 != port)
        abort();
}

static void check_key(bool https, const char *host, uint16_t port, const char *path,
                      size_t path_len, char *const *ign, size_t nign, size_t small)
{
    static char key[KEY_MAX], key2[KEY_MAX];
    if (url_cache_key(https, host, port, path, path_len, ign, nign, key, sizeof(key)) < 0)
        return;
    size_t len = strlen(key);
    if (len + 1 > sizeof(key) || strncmp(key, https ? "https://" : "http://", 7) != 0)
        abort();
    /* exactly len + 1 bytes suffice, len do not */
    if (url_cache_key(https, host, port, path, path_len, ign, nign, key2, len + 1) < 0 ||
        strcmp(key, key2) != 0)
        abort();
    if (url_cache_key(https, host, port, path, path_len, ign, nign, key2, len) == 0)
        abort();
    char *tiny = malloc(small);
    if (!tiny)
        abort();
    if (url_cache_key(https, host, port, path, path_len, ign, nign, tiny, small) == 0 &&
        strcmp(tiny, key) != 0)
        abort();
    free(tiny);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t opt = fuzz_byte(&data, &size);
    bool https = opt & 1;
    size_t small = 1 + ((opt >> 1) & 7) * 9;
    const uint8_t *nul = memchr(data, '\0', size);
    size_t tlen = nul ? (size_t)(nul - data) : size;
    char *target = fuzz_strndup(data, tlen);
    char *ign[MAX_IGNORE];
    size_t nign = 0;
    while (nul && nign < MAX_IGNORE) {
        const uint8_t *s = nul + 1, *end = data + size;
        nul = memchr(s, '\0', (size_t)(end - s));
        ign[nign++] = fuzz_strndup(s, nul ? (size_t)(nul - s) : (size_t)(end - s));
    }

    /* the bytes as a Location resolved against a base, in a small buffer
       and a large one: a length that is the string's, and one answer */
    static char big[KEY_MAX], little[64];
    int nb = url_resolve("http://a/b/c/d;p?q", target, big, sizeof(big));
    int nl = url_resolve("http://a/b/c/d;p?q", target, little, small);
    if ((nb >= 0 && (size_t)nb != strlen(big)) ||
        (nl >= 0 && (nb < 0 || strcmp(little, big) != 0)))
        abort();
    struct url u;
    if (url_parse_absolute(target, tlen, &u) == 0) {
        check_host(u.host);
        check_round_trip(u.host, u.port);
        bool inside = u.path >= target && u.path + u.path_len <= target + tlen;
        if (u.path_len == 0 || (!inside && !(u.path_len == 1 && u.path[0] == '/')))
            abort(); /* the path points into the target, or is the empty path's "/" */
        check_key(u.https, u.host, u.port, u.path, u.path_len, ign, nign, small);
    }
    /* the same bytes as a Host field value, with and without room */
    char host[URL_HOST_MAX];
    uint16_t port = 0;
    if (url_parse_authority(target, tlen, host, sizeof(host), &port, https ? 443 : 80) == 0) {
        check_host(host);
        if (port == 0)
            abort();
        check_round_trip(host, port);
        check_key(https, host, port, "/", 1, ign, nign, small);
    }
    char tiny[8];
    if (url_parse_authority(target, tlen, tiny, sizeof(tiny), &port, 80) == 0 &&
        strlen(tiny) >= sizeof(tiny))
        abort();
    /* the target as an origin-form path under a fixed host */
    if (tlen && target[0] == '/')
        check_key(https, "example.test", 8080, target, tlen, ign, nign, small);
    for (size_t i = 0; i < nign; i++)
        free(ign[i]);
    free(target);
    return 0;
}
