/*
 * hash.h - FNV-1a over a NUL-terminated string, for magpie's in-memory hash
 * tables (pool origins, DNS cache, fetches in flight). Nothing hashed here
 * is ever written out, so the values may change between builds.
 */
#ifndef MAGPIE_HASH_H
#define MAGPIE_HASH_H

#include <stdint.h>

/*
 * 64-bit FNV-1a with seed XORed into the offset basis: 0 gives plain FNV-1a,
 * a per-process random seed keeps clients from aiming keys at one chain.
 * The low bits depend only on the low bits of each byte; a table indexed by
 * them mixes the high bits down itself when that matters.
 */
static inline uint64_t hash_fnv1a(const char *s, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    return h;
}

#endif
