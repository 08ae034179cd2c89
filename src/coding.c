/*
 * coding.c - content codings by name, Accept-Encoding negotiation, the
 * decision whether a response is compressed, entity tags of encoded
 * variants and Vary merging (coding.h). Pure functions over strings.
 */
#include "coding.h"

#include <string.h>
#include <strings.h>

static const char *const names[] = {
    [CODING_IDENTITY] = "identity", [CODING_GZIP] = "gzip", [CODING_DEFLATE] = "deflate",
    [CODING_BR] = "br",             [CODING_ZSTD] = "zstd", [CODING_UNKNOWN] = "unknown",
};

const char *coding_name(enum coding c)
{
    return (unsigned)c <= CODING_UNKNOWN ? names[c] : names[CODING_UNKNOWN];
}

enum coding coding_from_token(const char *s, size_t len)
{
    for (int c = CODING_IDENTITY; c < CODING_KNOWN; c++)
        if (strlen(names[c]) == len && strncasecmp(s, names[c], len) == 0)
            return (enum coding)c;
    if (len == 6 && strncasecmp(s, "x-gzip", 6) == 0)
        return CODING_GZIP;
    return CODING_UNKNOWN;
}
