/*
 * hash.h - FNV-1a over a NUL-terminated string, for magpie's in-memory hash
 * tables (pool origins, DNS cache, fetches in flight), and SipHash-2-4
 * under a random per-process key where clients choose what is hashed and
 * must not predict it (the cache index, proxy credentials). Nothing hashed
 * here is ever written out, so the values may change between builds.
 */
#ifndef MAGPIE_HASH_H
#define MAGPIE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

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

/* ---- SipHash-2-4 (Aumasson, Bernstein), 64-bit output ---- */

#define HASH_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define HASH_SIPROUND                                                                              \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = HASH_ROTL(v1, 13);                                                                    \
        v1 ^= v0;                                                                                  \
        v0 = HASH_ROTL(v0, 32);                                                                    \
        v2 += v3;                                                                                  \
        v3 = HASH_ROTL(v3, 16);                                                                    \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = HASH_ROTL(v3, 21);                                                                    \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = HASH_ROTL(v1, 17);                                                                    \
        v1 ^= v2;                                                                                  \
        v2 = HASH_ROTL(v2, 32);                                                                    \
    } while (0)

static inline uint64_t hash_load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t hash_siphash(const uint64_t k[2], const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t v0 = 0x736f6d6570736575ULL ^ k[0], v1 = 0x646f72616e646f6dULL ^ k[1];
    uint64_t v2 = 0x6c7967656e657261ULL ^ k[0], v3 = 0x7465646279746573ULL ^ k[1];
    size_t whole = len & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = hash_load_le64(p + i);
        v3 ^= m;
        HASH_SIPROUND;
        HASH_SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++)
        b |= (uint64_t)p[whole + i] << (8 * i);
    v3 ^= b;
    HASH_SIPROUND;
    HASH_SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    HASH_SIPROUND;
    HASH_SIPROUND;
    HASH_SIPROUND;
    HASH_SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* A random SipHash key, from the kernel when it has entropy. */
static inline void hash_random_seed(uint64_t seed[2])
{
    if (getrandom(seed, 2 * sizeof(uint64_t), GRND_NONBLOCK) == (ssize_t)(2 * sizeof(uint64_t)))
        return;
    /* No entropy yet (early boot): weaker, but the index still works. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    seed[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
    seed[1] = (uint64_t)ts.tv_sec * 0xc2b2ae3d27d4eb4fULL ^ (uint64_t)(uintptr_t)seed;
}

#endif
