/*
 * cache/store_int.h - what the store's files share: store.c (open, read,
 * write, evict), store_check.c (checking a stored file, rejecting one that
 * fails) and store_scan.c (start-up: the directory, tmp/, the index rebuilt
 * from the files). Not for the rest of magpie: store.h is the store's API.
 */
#ifndef MAGPIE_CACHE_STORE_INT_H
#define MAGPIE_CACHE_STORE_INT_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "cache/index.h"
#include "cache/store.h"

/* ---- the file format (docs/CACHE.md) ---- */

#define FMT_MAGIC "MAGPIEC" /* 8 bytes with its NUL */
#define FMT_VERSION 1u
#define FMT_HDR 64u /* fixed header size in version 1 */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 8,
    OFF_HSIZE = 12,
    OFF_KLEN = 16,
    OFF_VLEN = 20,
    OFF_YLEN = 24,
    OFF_HLEN = 28,
    OFF_BLEN = 32,
    OFF_REQT = 40,
    OFF_RESPT = 48,
    OFF_BCRC = 56,
    OFF_HCRC = 60, /* covers bytes [0, 60) and key, variant, vary, head */
};

#define MAX_WERR 8 /* distinct write errnos remembered for logging */
#define TMP_LEN 48

/* Why a file was rejected: reason, log text. */
/* clang-format off */
#define STORE_BAD_TABLE(X)                                                                         \
    X(SHORT, "shorter than a header")                                                              \
    X(MAGIC, "bad magic")                                                                          \
    X(VERSION, "unknown format version")                                                           \
    X(HSIZE, "bad header size")                                                                    \
    X(LENGTHS, "lengths out of range")                                                             \
    X(SIZE, "file size does not match its lengths (truncated?)")                                   \
    X(STRING, "NUL byte in key, variant or Vary")                                                  \
    X(HCRC, "header checksum mismatch")                                                            \
    X(BCRC, "body checksum mismatch")                                                              \
    X(NAME, "file name does not match its key and variant")                                        \
    X(BADNAME, "not a cache file name")                                                            \
    X(NOTREG, "not a regular file")                                                                \
    X(READ, "read error")                                                                          \
    X(NOMEM, "out of memory") /* from here on: our trouble, the file stays */                      \
    X(OPEN, "cannot open")                                                                         \
    X(UNLINK, "cannot remove")

enum store_bad {
    BAD_NONE,
#define X(name, text) BAD_##name,
    STORE_BAD_TABLE(X)
#undef X
    BAD_MAX
};
/* clang-format on */

/*
 * Counters the store keeps for its scan summary and for tests, which read
 * them through store_stats(); magpie reports no others (docs/CACHE.md).
 */
struct store {
    char *dir;
    int dfd; /* the cache directory; every path is relative to it */
    uint64_t max_size, max_object_size;
    struct index *idx;
    struct mem_tier *mem; /* NULL: no memory tier */
    struct store_stats stats;
    EVP_MD *md;
    EVP_MD_CTX *mdctx;
    unsigned char *rbuf; /* header/strings/head/small body of the file being read */
    size_t rbuf_cap;
    uint64_t tmp_seq; /* makes temporary names unique within this process */
    unsigned writers; /* writers not yet committed or aborted */
    struct store_writer *wlist; /* those writers, for store_remove() */
    /* Log rate limits (no globals: they live here). */
    bool scanning;
    uint32_t scan_logged;          /* bit per reason: logged in this scan */
    uint64_t scan_bad[BAD_MAX];    /* per reason, for the scan summary */
    time_t bad_logged_at[BAD_MAX]; /* monotonic; 0: never */
    int werr_logged[MAX_WERR];     /* errnos logged since the last commit */
    unsigned nwerr_logged;
};

static inline const struct store_stats *store_stats(const struct store *s)
{
    return &s->stats;
}

/* What a validated file holds; pointers into s->rbuf. */
struct meta {
    uint32_t klen, vlen, ylen, hlen;
    uint64_t body_len, body_off;
    int64_t request_time, response_time;
    uint32_t body_crc;
    const char *key, *variant, *vary;
    const unsigned char *head;
};

/* store.c */
/* Writes all n bytes at off, or at the file offset when off < 0, going on
   after short writes and EINTR. 0, or -1 with errno. */
int store_write_full(int fd, const void *p, size_t n, off_t off);
/* Bytes read (fewer only at end of file), or -1. */
ssize_t store_pread_full(int fd, void *p, size_t n, off_t off);
/* id = SHA-256(key "\n" variant): the object's file name. 0 or -1. */
int store_hash(struct store *s, const char *key, size_t klen, const char *variant, size_t vlen,
               unsigned char id[INDEX_ID_LEN]);
/* "key NUL variant NUL vary NUL" in one allocation. */
char *store_strs_dup(const char *k, size_t klen, const char *v, size_t vlen, const char *y,
                     size_t ylen);
/* A new file under tmp/ with a name no other writer of ours uses. */
int store_tmp_open(struct store *s, char name[TMP_LEN]);
/* Indexes o's cache tags from a packed list (cache/tags.h); 0, or -1 out
   of memory. An object whose tags are not indexed must not stay: a purge
   by tag would miss it. */
int store_set_tags(struct store *s, struct index_obj *o, const char *packed);

/* store_check.c */
extern const char *const store_bad_text[BAD_MAX];
/* Logs a file's trouble, rate limited; err: an errno to show, or 0. */
void store_log_bad(struct store *s, const char *rel, enum store_bad why, int err);
/* Unlinks a file that failed validation and counts it; for our own
   trouble (BAD_NOMEM and after) only logs. */
void store_reject(struct store *s, const char *rel, enum store_bad why, int err);
/* Reads and validates everything but the body of the open file fd, whose
   name says it holds id. */
enum store_bad store_meta_load(struct store *s, int fd, const unsigned char id[INDEX_ID_LEN],
                               struct stat *st, struct meta *m);
/* Checks a small body against its CRC (it lands in s->rbuf after the head). */
enum store_bad store_meta_check_body(struct store *s, int fd, struct meta *m);
/* Checks a large body against its CRC in chunks. */
enum store_bad store_meta_check_body_stream(int fd, const struct meta *m);

/* store_scan.c */
/* Creates dir, empties tmp/ and proves files can be written there; -1
   with a reason in err. */
int store_prepare_dir(struct store *s, char *err, size_t errlen);
/* Rebuilds the index from <dir>/ab/cd/ files, with one summary line. */
void store_scan(struct store *s);

#endif
