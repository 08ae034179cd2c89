/*
 * cache/store.c - the disk store: one file per response variant, written
 * under <dir>/tmp/ and renamed into <dir>/ab/cd/<sha256 hex> when complete.
 * docs/CACHE.md has the file format; cache/index.c holds what is in memory.
 *
 * Why it looks like this:
 * - Never trust the disk (nginx ngx_http_file_cache.c). Every file is
 *   checked before use: magic, version, lengths within bounds, file size
 *   exactly what the lengths add up to (catches truncation), a CRC over the
 *   header, key, variant, Vary and head, and the key and variant that the
 *   file name was hashed from. Small bodies (<= 64 KiB) are checked against
 *   their CRC on every hit; big ones are not (that would read the whole
 *   body twice), and the start-up scan checks no body at all so that
 *   100,000 objects index in well under two seconds. A file that fails is
 *   unlinked and counted, and the log gets one line per reason (per scan,
 *   or per minute at run time), not one per file.
 * - No torn objects: the final header (body length and CRCs) is written
 *   last, then the file is renamed into place. Nothing is fsync()ed: a
 *   process crash never exposes a half-written object, but a power loss may
 *   persist the rename before the data on some file systems; the size and
 *   header checks catch most such files (see docs/CACHE.md for the trade).
 * - Bounded: strings <= 64 KiB, heads <= 1 MiB, at most STORE_MAX_VARIANTS
 *   per key, total bytes <= max_size (LRU eviction), every buffer capped.
 * - Single-threaded, like the rest of magpie: no locks. One process per
 *   directory (store_open() empties tmp/).
 * - File system calls are relative to a directory fd (openat, renameat), so
 *   paths stay short and a chdir() elsewhere cannot confuse us.
 */
#include "cache/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cache/index.h"
#include "cache/memory.h"
#include "log.h"

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

#define SCAN_READ 4096         /* first read of a file: header + usual strings */
#define LOG_INTERVAL 60        /* seconds between run-time lines of one reason */
#define TOUCH_INTERVAL 60      /* a hit refreshes the file's mtime at most this often */
#define COPY_CHUNK (64 * 1024) /* read/write fallback of store_refresh */
#define MAX_WERR 8             /* distinct write errnos remembered for logging */
#define REL_LEN 72             /* "ab/cd/" + 64 hex + NUL, rounded */
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

static const char *const bad_text[BAD_MAX] = {
    "ok",
#define X(name, text) text,
    STORE_BAD_TABLE(X)
#undef X
};
/* clang-format on */

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
    /* Log rate limits (no globals: they live here). */
    bool scanning;
    uint32_t scan_logged;          /* bit per reason: logged in this scan */
    uint64_t scan_bad[BAD_MAX];    /* per reason, for the scan summary */
    time_t bad_logged_at[BAD_MAX]; /* monotonic; 0: never */
    int werr_logged[MAX_WERR];     /* errnos logged since the last commit */
    unsigned nwerr_logged;
};

struct store_writer {
    struct store *s;
    int fd;
    char tmp[TMP_LEN]; /* "tmp/<pid>.<seq>" */
    char *strs;        /* key NUL variant NUL vary NUL */
    uint32_t klen, vlen, ylen, hlen;
    uint64_t body_len, limit; /* limit: most head + body bytes allowed */
    uint32_t body_crc, meta_crc;
    time_t request_time, response_time;
    bool failed;
};

/* What a validated file holds; pointers into s->rbuf. */
struct meta {
    uint32_t klen, vlen, ylen, hlen;
    uint64_t body_len, body_off;
    int64_t request_time, response_time;
    uint32_t body_crc;
    const char *key, *variant, *vary;
    const unsigned char *head;
};

/* ---- small helpers ---- */

/* Little-endian n-byte fields, whatever the host's order. */
static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static time_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1; /* never 0, which means "never" */
}

/* Writes all n bytes at off, or at the file offset when off < 0, going on
   after short writes and EINTR. 0, or -1 with errno. */
static int write_full(int fd, const void *p, size_t n, off_t off)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = off < 0 ? write(fd, c, n) : pwrite(fd, c, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            return -1;
        }
        c += w;
        n -= (size_t)w;
        if (off >= 0)
            off += w;
    }
    return 0;
}

/* Bytes read (fewer only at end of file), or -1. */
static ssize_t pread_full(int fd, void *p, size_t n, off_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)p + done, n - done, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

static int rbuf_reserve(struct store *s, size_t n)
{
    if (n <= s->rbuf_cap)
        return 0;
    unsigned char *p = realloc(s->rbuf, n);
    if (!p)
        return -1;
    s->rbuf = p;
    s->rbuf_cap = n;
    return 0;
}

static int store_hash(struct store *s, const char *key, size_t klen, const char *variant,
                      size_t vlen, unsigned char id[INDEX_ID_LEN])
{
    unsigned n = 0;
    if (EVP_DigestInit_ex(s->mdctx, s->md, NULL) != 1 ||
        EVP_DigestUpdate(s->mdctx, key, klen) != 1 || EVP_DigestUpdate(s->mdctx, "\n", 1) != 1 ||
        EVP_DigestUpdate(s->mdctx, variant, vlen) != 1 ||
        EVP_DigestFinal_ex(s->mdctx, id, &n) != 1 || n != INDEX_ID_LEN)
        return -1;
    return 0;
}

/* "ab/cd/abcd...": where the object with this id lives under dir. */
static void rel_path(const unsigned char id[INDEX_ID_LEN], char out[REL_LEN])
{
    static const char hex[] = "0123456789abcdef";
    char *h = out + 6;
    for (int i = 0; i < INDEX_ID_LEN; i++) {
        h[2 * i] = hex[id[i] >> 4];
        h[2 * i + 1] = hex[id[i] & 15];
    }
    h[2 * INDEX_ID_LEN] = '\0';
    out[0] = h[0], out[1] = h[1], out[2] = '/';
    out[3] = h[2], out[4] = h[3], out[5] = '/';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case is not ours: we only write lower */
}

/* Parses a file name of 64 lower-case hex digits. 0 or -1. */
static int parse_id(const char *name, unsigned char id[INDEX_ID_LEN])
{
    if (strlen(name) != 2 * INDEX_ID_LEN)
        return -1;
    for (int i = 0; i < INDEX_ID_LEN; i++) {
        int hi = hexval(name[2 * i]), lo = hexval(name[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        id[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static bool is_fanout_name(const char *name)
{
    return hexval(name[0]) >= 0 && hexval(name[1]) >= 0 && name[2] == '\0';
}

static void store_sync_stats(struct store *s)
{
    s->stats.objects = index_objects(s->idx);
    s->stats.bytes = index_bytes(s->idx);
    s->stats.memory_objects = mem_objects(s->mem);
    s->stats.memory_bytes = mem_bytes(s->mem);
}

/* ---- invalid files and their log lines ---- */

/* Whether a line for this reason may be logged now: once per reason per
   scan, or per LOG_INTERVAL at run time, so a damaged disk (or a full fd
   table) yields a handful of lines, not thousands. */
static bool store_log_ok(struct store *s, enum store_bad why)
{
    if (s->scanning) {
        s->scan_bad[why]++;
        bool first = !(s->scan_logged & (1u << why));
        s->scan_logged |= 1u << why;
        return first;
    }
    time_t now = mono_now();
    if (s->bad_logged_at[why] && now - s->bad_logged_at[why] < LOG_INTERVAL)
        return false;
    s->bad_logged_at[why] = now;
    return true;
}

/* err: an errno to show, or 0. */
static void store_log_bad(struct store *s, const char *rel, enum store_bad why, int err)
{
    if (!store_log_ok(s, why))
        return;
    log_warn("cache: %s/%s: %s%s%s; %s (%s)", s->dir, rel, bad_text[why], err ? ": " : "",
             err ? strerror(err) : "", why < BAD_NOMEM ? "removed" : "kept",
             s->scanning ? "more are counted in the scan summary"
                         : "logged at most once a minute per reason");
}

/* Unlinks a file that failed validation and counts it; for our own
   trouble (BAD_NOMEM and after) only logs. */
static void store_reject(struct store *s, const char *rel, enum store_bad why, int err)
{
    store_log_bad(s, rel, why, err);
    if (why >= BAD_NOMEM)
        return;
    if (unlinkat(s->dfd, rel, 0) < 0 && errno != ENOENT)
        store_log_bad(s, rel, BAD_UNLINK, errno);
    s->stats.removed_invalid++;
}

/* Counts a write failure; logs it once per errno until a commit succeeds
   again, so a full disk gives one line, not one per response. */
static void store_write_error(struct store *s, const char *what, int err)
{
    s->stats.write_errors++;
    for (unsigned i = 0; i < s->nwerr_logged; i++)
        if (s->werr_logged[i] == err)
            return;
    if (s->nwerr_logged < MAX_WERR)
        s->werr_logged[s->nwerr_logged++] = err;
    log_warn("cache: %s in %s: %s (not logged again until a store succeeds; see write_errors)",
             what, s->dir, strerror(err));
}

/* ---- reading and validating a stored file ---- */

/* Checks the fixed header in s->rbuf against the file size; fills lengths. */
static enum store_bad meta_parse_fixed(const unsigned char *h, uint64_t fsize, struct meta *m)
{
    if (memcmp(h + OFF_MAGIC, FMT_MAGIC, 8) != 0)
        return BAD_MAGIC;
    if ((uint32_t)get_le(h + OFF_VERSION, 4) != FMT_VERSION)
        return BAD_VERSION;
    if ((uint32_t)get_le(h + OFF_HSIZE, 4) != FMT_HDR)
        return BAD_HSIZE;
    m->klen = (uint32_t)get_le(h + OFF_KLEN, 4);
    m->vlen = (uint32_t)get_le(h + OFF_VLEN, 4);
    m->ylen = (uint32_t)get_le(h + OFF_YLEN, 4);
    m->hlen = (uint32_t)get_le(h + OFF_HLEN, 4);
    m->body_len = get_le(h + OFF_BLEN, 8);
    if (m->klen == 0 || m->klen > STORE_MAX_KEY || m->vlen > STORE_MAX_KEY ||
        m->ylen > STORE_MAX_KEY || m->hlen > STORE_MAX_HEAD)
        return BAD_LENGTHS;
    /* All terms are bounded above, so this sum cannot overflow. */
    m->body_off = (uint64_t)FMT_HDR + m->klen + m->vlen + m->ylen + m->hlen;
    if (m->body_len > fsize || m->body_off + m->body_len != fsize)
        return BAD_SIZE;
    m->request_time = (int64_t)get_le(h + OFF_REQT, 8);
    m->response_time = (int64_t)get_le(h + OFF_RESPT, 8);
    m->body_crc = (uint32_t)get_le(h + OFF_BCRC, 4);
    return BAD_NONE;
}

/* Points m's strings into s->rbuf (again, after it may have moved). */
static void meta_point(const struct store *s, struct meta *m)
{
    m->key = (const char *)s->rbuf + FMT_HDR;
    m->variant = m->key + m->klen;
    m->vary = m->variant + m->vlen;
    m->head = (const unsigned char *)m->vary + m->ylen;
}

/* Checks strings, the header CRC and that id is the hash of key and variant. */
static enum store_bad meta_check_strings(struct store *s, struct meta *m,
                                         const unsigned char id[INDEX_ID_LEN])
{
    const unsigned char *h = s->rbuf;
    meta_point(s, m);
    if (memchr(m->key, '\0', (size_t)m->klen + m->vlen + m->ylen))
        return BAD_STRING;
    uLong crc = crc32(0, h, OFF_HCRC);
    crc = crc32_z(crc, h + FMT_HDR, (size_t)(m->body_off - FMT_HDR));
    if ((uint32_t)crc != (uint32_t)get_le(h + OFF_HCRC, 4))
        return BAD_HCRC;
    unsigned char got[INDEX_ID_LEN];
    if (store_hash(s, m->key, m->klen, m->variant, m->vlen, got) < 0)
        return BAD_NOMEM;
    if (memcmp(got, id, INDEX_ID_LEN) != 0)
        return BAD_NAME;
    return BAD_NONE;
}

/*
 * Reads and validates everything but the body of the open file fd, whose
 * name says it holds id. One pread of SCAN_READ bytes covers the usual
 * object; a second one fetches the rest of a long head.
 */
static enum store_bad meta_load(struct store *s, int fd, const unsigned char id[INDEX_ID_LEN],
                                struct stat *st, struct meta *m)
{
    if (fstat(fd, st) < 0)
        return BAD_READ;
    if (!S_ISREG(st->st_mode))
        return BAD_NOTREG;
    if (st->st_size < (off_t)FMT_HDR)
        return BAD_SHORT;
    uint64_t fsize = (uint64_t)st->st_size;
    size_t first = fsize < SCAN_READ ? (size_t)fsize : SCAN_READ;
    if (rbuf_reserve(s, SCAN_READ) < 0)
        return BAD_NOMEM;
    ssize_t r = pread_full(fd, s->rbuf, first, 0);
    if (r < 0)
        return BAD_READ;
    if ((size_t)r < FMT_HDR)
        return BAD_SHORT;
    enum store_bad bad = meta_parse_fixed(s->rbuf, fsize, m);
    if (bad)
        return bad;
    if (m->body_off > (uint64_t)r) {
        size_t need = (size_t)m->body_off;
        if (rbuf_reserve(s, need) < 0)
            return BAD_NOMEM;
        ssize_t r2 = pread_full(fd, s->rbuf + r, need - (size_t)r, r);
        if (r2 < 0)
            return BAD_READ;
        if ((size_t)r2 != need - (size_t)r)
            return BAD_SIZE;
    }
    return meta_check_strings(s, m, id);
}

/* Checks a small body against its CRC (it lands in s->rbuf after the head). */
static enum store_bad meta_check_body(struct store *s, int fd, struct meta *m)
{
    size_t off = (size_t)m->body_off, n = (size_t)m->body_len;
    if (rbuf_reserve(s, off + n) < 0)
        return BAD_NOMEM;
    meta_point(s, m);
    ssize_t r = pread_full(fd, s->rbuf + off, n, (off_t)off);
    if (r < 0)
        return BAD_READ;
    if ((size_t)r != n)
        return BAD_SIZE;
    if ((uint32_t)crc32_z(0, s->rbuf + off, n) != m->body_crc)
        return BAD_BCRC;
    return BAD_NONE;
}

/*
 * Checks a large body against its CRC in chunks. Done once per object and
 * process: the first read after start pays one extra pass over the body
 * (which sendfile then finds in the page cache); a damaged one is never
 * served.
 */
static enum store_bad meta_check_body_stream(int fd, const struct meta *m)
{
    unsigned char chunk[65536];
    uint32_t crc = 0;
    uint64_t left = m->body_len;
    off_t off = (off_t)m->body_off;
    while (left > 0) {
        size_t want = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);
        ssize_t r = pread_full(fd, chunk, want, off);
        if (r < 0)
            return BAD_READ;
        if ((size_t)r != want)
            return BAD_SIZE;
        crc = (uint32_t)crc32_z(crc, chunk, want);
        off += (off_t)want;
        left -= want;
    }
    return crc == m->body_crc ? BAD_NONE : BAD_BCRC;
}

/* ---- start-up: tmp/ cleanup and the scan ---- */

struct scan_rec {
    struct timespec mtime;
    uint64_t size;
    unsigned char id[INDEX_ID_LEN];
    char *strs; /* key NUL variant NUL vary NUL */
};

struct scan {
    struct scan_rec *recs;
    size_t n, cap;
    bool ignored_logged, oom_logged;
};

static DIR *open_dir_at(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d)
        close(fd);
    return d;
}

/* d_type, or what lstat says when the file system does not fill it in. */
static unsigned char entry_type(DIR *d, const struct dirent *de)
{
    struct stat st;
    if (de->d_type != DT_UNKNOWN)
        return de->d_type;
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return DT_UNKNOWN;
    if (S_ISDIR(st.st_mode))
        return DT_DIR;
    return S_ISREG(st.st_mode) ? DT_REG : DT_LNK; /* anything else is "not regular" */
}

static bool is_dot(const char *n)
{
    return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

/* Deletes everything in tmp/: objects a previous run never committed. */
static void store_clean_tmp(struct store *s)
{
    DIR *d = open_dir_at(s->dfd, "tmp");
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (is_dot(de->d_name))
            continue;
        int flags = entry_type(d, de) == DT_DIR ? AT_REMOVEDIR : 0;
        char rel[8 + sizeof(de->d_name)];
        snprintf(rel, sizeof(rel), "tmp/%s", de->d_name);
        if (unlinkat(dirfd(d), de->d_name, flags) == 0)
            s->stats.removed_tmp++;
        else
            store_log_bad(s, rel, BAD_UNLINK, errno);
    }
    closedir(d);
}

/* Directories and top-level files we did not make are left alone. */
static void scan_ignore(struct store *s, struct scan *sc, const char *rel)
{
    if (sc->ignored_logged)
        return;
    sc->ignored_logged = true;
    log_info("cache: leaving alone unexpected entry %s/%s (further ones are not logged)", s->dir,
             rel);
}

/* "key NUL variant NUL vary NUL" in one allocation. */
static char *strs_dup(const char *k, size_t klen, const char *v, size_t vlen, const char *y,
                      size_t ylen)
{
    char *p = malloc(klen + vlen + ylen + 3);
    if (!p)
        return NULL;
    memcpy(p, k, klen);
    p[klen] = '\0';
    memcpy(p + klen + 1, v, vlen);
    p[klen + 1 + vlen] = '\0';
    memcpy(p + klen + vlen + 2, y, ylen);
    p[klen + vlen + 2 + ylen] = '\0';
    return p;
}

static void scan_add(struct store *s, struct scan *sc, const struct stat *st, const struct meta *m,
                     const unsigned char id[INDEX_ID_LEN])
{
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? 2 * sc->cap : 1024;
        struct scan_rec *r = realloc(sc->recs, cap * sizeof(*r));
        if (!r)
            goto oom;
        sc->recs = r;
        sc->cap = cap;
    }
    char *p = strs_dup(m->key, m->klen, m->variant, m->vlen, m->vary, m->ylen);
    if (!p)
        goto oom;
    struct scan_rec *r = &sc->recs[sc->n++];
    r->mtime = st->st_mtim;
    r->size = (uint64_t)st->st_size;
    memcpy(r->id, id, INDEX_ID_LEN);
    r->strs = p;
    return;
oom:
    if (!sc->oom_logged)
        log_error("cache: out of memory indexing %s; some objects stay unindexed", s->dir);
    sc->oom_logged = true;
}

/* One entry of <dir>/ab/cd/ (dir): a stored object, or something to remove. */
static void scan_file(struct store *s, struct scan *sc, DIR *d, const char *dir,
                      const struct dirent *de)
{
    char rel[8 + sizeof(de->d_name)];
    unsigned char id[INDEX_ID_LEN];
    unsigned char type = entry_type(d, de);
    snprintf(rel, sizeof(rel), "%.5s/%s", dir, de->d_name);
    if (type == DT_DIR) {
        scan_ignore(s, sc, rel);
        return;
    }
    if (parse_id(de->d_name, id) < 0 || memcmp(de->d_name, dir, 2) != 0 ||
        memcmp(de->d_name + 2, dir + 3, 2) != 0) {
        store_reject(s, rel, BAD_BADNAME, 0);
        return;
    }
    if (type != DT_REG && type != DT_UNKNOWN) {
        store_reject(s, rel, BAD_NOTREG, 0);
        return;
    }
    /* O_NONBLOCK: a FIFO planted here must not hang the start. */
    int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ELOOP)
            store_reject(s, rel, BAD_NOTREG, 0);
        else if (errno != ENOENT)
            store_reject(s, rel, BAD_OPEN, errno);
        return;
    }
    struct stat st;
    struct meta m;
    enum store_bad bad = meta_load(s, fd, id, &st, &m);
    close(fd);
    if (bad)
        store_reject(s, rel, bad, 0);
    else
        scan_add(s, sc, &st, &m, id);
}

/* A fan-out directory: "ab" (level 1, holding "cd" directories) or
   "ab/cd" (level 2, holding objects). Files in level 1 are not ours to
   keep; directories we did not make are left alone. */
static void scan_dir(struct store *s, struct scan *sc, const char *dir, int level)
{
    DIR *d = open_dir_at(s->dfd, dir);
    if (!d) {
        store_log_bad(s, dir, BAD_OPEN, errno);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        char rel[4 + sizeof(de->d_name)];
        if (is_dot(de->d_name))
            continue;
        if (level == 2) {
            scan_file(s, sc, d, dir, de);
            continue;
        }
        snprintf(rel, sizeof(rel), "%.2s/%s", dir, de->d_name);
        unsigned char type = entry_type(d, de);
        if (type == DT_DIR && is_fanout_name(de->d_name))
            scan_dir(s, sc, rel, 2);
        else if (type == DT_DIR)
            scan_ignore(s, sc, rel);
        else
            store_reject(s, rel, BAD_BADNAME, 0);
    }
    closedir(d);
}

static int scan_rec_cmp(const void *pa, const void *pb)
{
    const struct scan_rec *a = pa, *b = pb;
    if (a->mtime.tv_sec != b->mtime.tv_sec)
        return a->mtime.tv_sec < b->mtime.tv_sec ? -1 : 1;
    if (a->mtime.tv_nsec != b->mtime.tv_nsec)
        return a->mtime.tv_nsec < b->mtime.tv_nsec ? -1 : 1;
    return 0;
}

/* Inserts oldest first, so the LRU order and each key's "newest variant"
   follow the files' mtimes. */
static void scan_index(struct store *s, struct scan *sc)
{
    if (sc->n)
        qsort(sc->recs, sc->n, sizeof(*sc->recs), scan_rec_cmp);
    for (size_t i = 0; i < sc->n; i++) {
        struct scan_rec *r = &sc->recs[i];
        const char *key = r->strs, *variant = key + strlen(key) + 1;
        const char *vary = variant + strlen(variant) + 1;
        if (!index_insert(s->idx, key, variant, vary, r->size, r->id) && !sc->oom_logged) {
            log_error("cache: out of memory indexing %s; some objects stay unindexed", s->dir);
            sc->oom_logged = true;
        }
        free(r->strs);
    }
    free(sc->recs);
}

static void scan_summary(struct store *s, double secs)
{
    char why[512] = "";
    size_t n = 0;
    for (int i = 1; i < BAD_MAX && n < sizeof(why); i++)
        if (s->scan_bad[i])
            n += (size_t)snprintf(why + n, sizeof(why) - n, "%s%s: %llu",
                                  n ? ", " : "; files: ", bad_text[i],
                                  (unsigned long long)s->scan_bad[i]);
    log_info("cache: %s: indexed %llu objects, %llu bytes in %.3f s; removed %llu invalid, "
             "%llu temporary%s",
             s->dir, (unsigned long long)index_objects(s->idx),
             (unsigned long long)index_bytes(s->idx), secs,
             (unsigned long long)s->stats.removed_invalid, (unsigned long long)s->stats.removed_tmp,
             why);
}

/* Rebuilds the index from <dir>/ab/cd/ files. Top-level entries other
   than tmp/ and the fan-out directories are not ours and stay. */
static void store_scan(struct store *s)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct scan sc = {0};
    s->scanning = true;
    s->scan_logged = 0;
    memset(s->scan_bad, 0, sizeof(s->scan_bad));
    DIR *d = open_dir_at(s->dfd, ".");
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (is_dot(de->d_name) || strcmp(de->d_name, "tmp") == 0)
                continue;
            if (is_fanout_name(de->d_name) && entry_type(d, de) == DT_DIR)
                scan_dir(s, &sc, de->d_name, 1);
            else
                scan_ignore(s, &sc, de->d_name);
        }
        closedir(d);
    }
    scan_index(s, &sc);
    s->scanning = false;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    scan_summary(s, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

/* ---- open / close ---- */

/* Creates dir and its missing parents (0700 for what we create). */
static int mkdir_p(const char *dir)
{
    char *p = strdup(dir);
    if (!p)
        return -1;
    for (char *q = strchr(p + 1, '/'); q; q = strchr(q + 1, '/')) {
        *q = '\0';
        (void)mkdir(p, 0700); /* an existing or unreachable parent shows below */
        *q = '/';
    }
    int rc = mkdir(p, 0700) == 0 || errno == EEXIST ? 0 : -1;
    int saved = errno;
    free(p);
    errno = saved;
    return rc;
}

/* A new file under tmp/ with a name no other writer of ours uses. */
static int tmp_open(struct store *s, char name[TMP_LEN])
{
    for (int tries = 0; tries < 16; tries++) {
        snprintf(name, TMP_LEN, "tmp/%ld.%llu", (long)getpid(), (unsigned long long)++s->tmp_seq);
        int fd = openat(s->dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno == ENOENT && mkdirat(s->dfd, "tmp", 0700) == 0)
            continue; /* someone removed tmp/: make it again */
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* Proves we can create and write files, so a read-only or foreign-owned
   directory fails at start rather than on every store. */
static int store_probe(struct store *s)
{
    char name[TMP_LEN];
    int fd = tmp_open(s, name);
    if (fd < 0)
        return -1;
    int rc = write_full(fd, "magpie cache probe\n", 19, -1);
    int saved = errno;
    if (close(fd) < 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    unlinkat(s->dfd, name, 0);
    errno = saved;
    return rc;
}

static int store_prepare_dir(struct store *s, char *err, size_t errlen)
{
    if (mkdir_p(s->dir) < 0) {
        snprintf(err, errlen, "cannot create cache directory %s: %s", s->dir, strerror(errno));
        return -1;
    }
    s->dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dfd < 0) {
        snprintf(err, errlen, "cannot open cache directory %s: %s", s->dir, strerror(errno));
        return -1;
    }
    if (mkdirat(s->dfd, "tmp", 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s/tmp: %s", s->dir, strerror(errno));
        return -1;
    }
    store_clean_tmp(s);
    if (store_probe(s) < 0) {
        snprintf(err, errlen, "cannot write in %s/tmp: %s", s->dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Unlinks an object's file and forgets it. */
static void store_drop(struct store *s, struct index_obj *o)
{
    char rel[REL_LEN];
    rel_path(o->id, rel);
    if (unlinkat(s->dfd, rel, 0) < 0 && errno != ENOENT)
        store_log_bad(s, rel, BAD_UNLINK, errno);
    index_remove(s->idx, o);
}

/* Removes least recently used objects until the total fits max_size. */
static void store_evict(struct store *s)
{
    struct index_obj *o;
    while (index_bytes(s->idx) > s->max_size && (o = index_lru_oldest(s->idx))) {
        store_drop(s, o);
        s->stats.evicted++;
    }
    store_sync_stats(s);
}

struct store *store_open(const char *dir, uint64_t max_size, uint64_t max_object_size, char *err,
                         size_t errlen)
{
    struct store *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->dfd = -1;
    s->max_size = max_size;
    s->max_object_size = max_object_size;
    if (!(s->dir = strdup(dir)) || !(s->idx = index_new()) || !(s->mdctx = EVP_MD_CTX_new()) ||
        !(s->md = EVP_MD_fetch(NULL, "SHA256", NULL))) {
        snprintf(err, errlen, "cache %s: out of memory or no SHA-256", dir);
        store_close(s);
        return NULL;
    }
    if (store_prepare_dir(s, err, errlen) < 0) {
        store_close(s);
        return NULL;
    }
    store_scan(s);
    store_evict(s);
    return s;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    if (s->writers)
        log_error("cache: %s closed with %u writers open (a bug: they must be committed or "
                  "aborted first)",
                  s->dir, s->writers);
    mem_free(s->mem);
    index_free(s->idx);
    if (s->dfd >= 0)
        close(s->dfd);
    EVP_MD_CTX_free(s->mdctx);
    EVP_MD_free(s->md);
    free(s->rbuf);
    free(s->dir);
    free(s);
}

const struct store_stats *store_stats(const struct store *s)
{
    return &s->stats;
}

const char *store_vary(struct store *s, const char *key)
{
    struct index_obj *o = index_newest(s->idx, key);
    return o ? o->vary : NULL;
}

/* ---- reading: store_get ---- */

/* The file is valid but was hashed from another key or variant (the
   "\n" joining them makes such pairs possible): not ours to serve. */
static bool meta_is(const struct meta *m, const char *key, const char *variant)
{
    return m->klen == strlen(key) && memcmp(m->key, key, m->klen) == 0 &&
           m->vlen == strlen(variant) && memcmp(m->variant, variant, m->vlen) == 0;
}

/*
 * Opens the file of key's variant and validates it (with a small body's
 * CRC when check_body). An invalid file is removed and counted; a vanished
 * one (evicted or removed meanwhile) or one holding another key is a miss
 * and leaves the index. Returns the fd and sets *op, or -1.
 */
static int store_open_obj(struct store *s, const char *key, const char *variant,
                          struct index_obj **op, struct stat *st, struct meta *m, bool check_body)
{
    struct index_obj *o = *op = index_find(s->idx, key, variant);
    if (!o)
        return -1;
    char rel[REL_LEN];
    rel_path(o->id, rel);
    int fd = openat(s->dfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    enum store_bad bad = BAD_NONE;
    if (fd < 0 && errno == ENOENT) {
        index_remove(s->idx, o);
        return -1;
    }
    if (fd < 0 && errno != ELOOP) {
        store_reject(s, rel, BAD_OPEN, errno);
        return -1;
    }
    if (fd < 0)
        bad = BAD_NOTREG;
    if (!bad)
        bad = meta_load(s, fd, o->id, st, m);
    if (!bad && check_body &&
        (m->body_len <= STORE_BODY_CRC_MAX || mem_fits(s->mem, m->hlen, m->body_len)))
        bad = meta_check_body(s, fd, m); /* into s->rbuf, where a memory copy takes it */
    else if (!bad && check_body && !o->verified)
        bad = meta_check_body_stream(fd, m);
    if (!bad && check_body)
        index_set_verified(o);
    if (bad) {
        if (fd >= 0)
            close(fd);
        store_reject(s, rel, bad, 0);
        if (bad != BAD_NOMEM)
            index_remove(s->idx, o);
        return -1;
    }
    if (!meta_is(m, key, variant)) {
        close(fd);
        index_remove(s->idx, o);
        return -1;
    }
    return fd;
}

static void obj_reset(struct store_obj *out)
{
    memset(out, 0, sizeof(*out));
    out->fd = -1;
}

/* A hit on a memory copy: no system call, but one a minute for the LRU. */
static void store_get_mem(struct store *s, struct index_obj *o, struct store_obj *out)
{
    struct mem_obj *m = o->mem;
    mem_get(m);
    mem_touch(m);
    index_touch(s->idx, o);
    out->mem = m;
    out->head = m->head;
    out->head_len = m->head_len;
    out->body_len = m->body_len;
    out->request_time = m->request_time;
    out->response_time = m->response_time;
    time_t now = time(NULL);
    if (m->touched + TOUCH_INTERVAL <= now) {
        char rel[REL_LEN];
        rel_path(o->id, rel);
        (void)utimensat(s->dfd, rel, NULL, 0);
        m->touched = now;
    }
}

/* Keeps a copy of a small object just read and checked (its body is in
   s->rbuf). Whether it worked or not, the file serves this request. */
static void store_keep_copy(struct store *s, struct index_obj *o, const struct meta *m,
                            time_t mtime)
{
    if (!mem_fits(s->mem, m->hlen, m->body_len))
        return;
    struct mem_obj *c = mem_add(s->mem, o, (const char *)m->head, m->hlen, m->body_len);
    if (!c)
        return;
    memcpy(mem_body_buf(c), s->rbuf + m->body_off, (size_t)m->body_len);
    c->request_time = (time_t)m->request_time;
    c->response_time = (time_t)m->response_time;
    c->touched = mtime;
}

int store_set_memory(struct store *s, uint64_t bytes)
{
    mem_free(s->mem);
    s->mem = NULL;
    uint64_t per_object = bytes / 8 < STORE_MEM_OBJECT_MAX ? bytes / 8 : STORE_MEM_OBJECT_MAX;
    if (bytes && !(s->mem = mem_new(bytes, per_object)))
        return -1;
    store_sync_stats(s);
    return 0;
}

int store_get(struct store *s, const char *key, const char *variant, struct store_obj *out)
{
    struct stat st;
    struct meta m;
    struct index_obj *o;
    obj_reset(out);
    o = index_find(s->idx, key, variant);
    if (o && o->mem) {
        store_get_mem(s, o, out);
        return 0;
    }
    int fd = store_open_obj(s, key, variant, &o, &st, &m, true);
    if (fd >= 0 && (uint64_t)st.st_size != o->size) /* replaced behind our back, but valid */
        index_set_size(s->idx, o, (uint64_t)st.st_size);
    if (fd >= 0)
        store_keep_copy(s, o, &m, st.st_mtime);
    if (fd >= 0 && o->mem) {
        close(fd);
        store_get_mem(s, o, out);
        store_sync_stats(s);
        return 0;
    }
    char *head = fd >= 0 ? malloc((size_t)m.hlen + 1) : NULL;
    if (fd >= 0 && !head) {
        close(fd);
        fd = -1;
    }
    store_sync_stats(s);
    if (fd < 0)
        return -1;
    memcpy(head, m.head, m.hlen);
    head[m.hlen] = '\0';
    out->head = head;
    out->head_len = m.hlen;
    out->fd = fd;
    out->body_off = m.body_off;
    out->body_len = m.body_len;
    out->request_time = (time_t)m.request_time;
    out->response_time = (time_t)m.response_time;
    index_touch(s->idx, o);
    /* The mtime carries LRU order across restarts; refresh it cheaply. */
    if (st.st_mtime + TOUCH_INTERVAL <= time(NULL))
        (void)futimens(fd, NULL);
    store_sync_stats(s);
    return 0;
}

void store_obj_close(struct store_obj *o)
{
    if (o->fd >= 0)
        close(o->fd);
    if (o->mem)
        mem_put(o->mem);
    else
        free((char *)o->head);
    obj_reset(o);
}

/* ---- writing: begin, append, commit, abort ---- */

/* The fixed header; body length and CRCs are zero until commit. */
static void writer_header(const struct store_writer *w, unsigned char h[FMT_HDR], bool final)
{
    memset(h, 0, FMT_HDR);
    memcpy(h + OFF_MAGIC, FMT_MAGIC, 8);
    put_le(h + OFF_VERSION, FMT_VERSION, 4);
    put_le(h + OFF_HSIZE, FMT_HDR, 4);
    put_le(h + OFF_KLEN, w->klen, 4);
    put_le(h + OFF_VLEN, w->vlen, 4);
    put_le(h + OFF_YLEN, w->ylen, 4);
    put_le(h + OFF_HLEN, w->hlen, 4);
    put_le(h + OFF_REQT, (uint64_t)(int64_t)w->request_time, 8);
    put_le(h + OFF_RESPT, (uint64_t)(int64_t)w->response_time, 8);
    if (!final)
        return;
    put_le(h + OFF_BLEN, w->body_len, 8);
    put_le(h + OFF_BCRC, w->body_crc, 4);
    uLong crc = crc32(0, h, OFF_HCRC);
    size_t meta_len = (size_t)w->klen + w->vlen + w->ylen + w->hlen;
    put_le(h + OFF_HCRC, (uint32_t)crc32_combine(crc, w->meta_crc, (z_off_t)meta_len), 4);
}

/* Header placeholder, key, variant, Vary, then the head. */
static int writer_start(struct store_writer *w, const void *head)
{
    size_t slen = (size_t)w->klen + w->vlen + w->ylen;
    unsigned char *buf = malloc(FMT_HDR + slen);
    if (!buf)
        return -1;
    writer_header(w, buf, false);
    memcpy(buf + FMT_HDR, w->strs, w->klen);
    memcpy(buf + FMT_HDR + w->klen, w->strs + w->klen + 1, w->vlen);
    memcpy(buf + FMT_HDR + w->klen + w->vlen, w->strs + w->klen + w->vlen + 2, w->ylen);
    uLong crc = crc32_z(0, buf + FMT_HDR, slen);
    w->meta_crc = (uint32_t)crc32_z(crc, head, w->hlen);
    int rc = write_full(w->fd, buf, FMT_HDR + slen, -1);
    int saved = errno;
    free(buf);
    errno = saved;
    if (rc == 0 && w->hlen)
        rc = write_full(w->fd, head, w->hlen, -1);
    return rc;
}

static void writer_free(struct store_writer *w)
{
    w->s->writers--;
    free(w->strs);
    free(w);
}

/* NULL without a log line when the object is simply too big to keep. */
static struct store_writer *writer_new(struct store *s, const char *key, const char *variant,
                                       const char *vary, size_t head_len)
{
    size_t klen = strlen(key), vlen = strlen(variant), ylen = strlen(vary);
    uint64_t limit = s->max_object_size ? s->max_object_size : UINT64_MAX;
    if (limit > s->max_size) /* a bigger object would be dropped at commit anyway */
        limit = s->max_size;
    if (klen == 0 || klen > STORE_MAX_KEY || vlen > STORE_MAX_KEY || ylen > STORE_MAX_KEY ||
        head_len > STORE_MAX_HEAD || head_len > limit) {
        log_debug("cache: not storing %s: key, variant, Vary or head too large", key);
        return NULL;
    }
    struct store_writer *w = calloc(1, sizeof(*w));
    if (!w || !(w->strs = strs_dup(key, klen, variant, vlen, vary, ylen))) {
        free(w);
        return NULL;
    }
    w->s = s;
    w->fd = -1;
    w->klen = (uint32_t)klen, w->vlen = (uint32_t)vlen, w->ylen = (uint32_t)ylen;
    w->hlen = (uint32_t)head_len;
    w->limit = limit;
    s->writers++;
    return w;
}

struct store_writer *store_begin(struct store *s, const char *key, const char *variant,
                                 const char *vary, const void *head, size_t head_len,
                                 time_t request_time, time_t response_time)
{
    struct store_writer *w = writer_new(s, key, variant, vary, head_len);
    if (!w)
        return NULL;
    w->request_time = request_time;
    w->response_time = response_time;
    w->fd = tmp_open(s, w->tmp);
    if (w->fd < 0) {
        store_write_error(s, "cannot create a temporary file", errno);
        w->tmp[0] = '\0'; /* not ours */
        store_abort(w);
        return NULL;
    }
    if (writer_start(w, head) < 0) {
        store_write_error(s, "cannot write a temporary file", errno);
        store_abort(w);
        return NULL;
    }
    return w;
}

int store_append(struct store_writer *w, const void *p, size_t n)
{
    if (w->failed)
        return -1;
    if (n > w->limit - w->hlen - w->body_len) {
        log_debug("cache: not storing %s: larger than the object size limit", w->strs);
        w->failed = true;
        return -1;
    }
    if (write_full(w->fd, p, n, -1) < 0) {
        store_write_error(w->s, "cannot write a temporary file", errno);
        w->failed = true;
        return -1;
    }
    w->body_crc = (uint32_t)crc32_z(w->body_crc, p, n);
    w->body_len += n;
    return 0;
}

void store_abort(struct store_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp[0]) /* also after a failed rename, when fd is already closed */
        unlinkat(w->s->dfd, w->tmp, 0);
    writer_free(w);
}

/* Final header, close, rename into place (making the fan-out dirs the
   first time). 0, or -1 with errno; the temporary file is then left for
   the caller to remove. */
static int writer_finish(struct store_writer *w, const char *rel)
{
    unsigned char h[FMT_HDR];
    writer_header(w, h, true);
    int rc = write_full(w->fd, h, FMT_HDR, 0);
    if (close(w->fd) < 0 && rc == 0)
        rc = -1; /* NFS and friends report write errors at close */
    w->fd = -1;
    if (rc < 0)
        return -1;
    if (renameat(w->s->dfd, w->tmp, w->s->dfd, rel) == 0)
        return 0;
    if (errno != ENOENT)
        return -1;
    char d[8];
    snprintf(d, sizeof(d), "%.2s", rel);
    (void)mkdirat(w->s->dfd, d, 0700);
    snprintf(d, sizeof(d), "%.5s", rel);
    (void)mkdirat(w->s->dfd, d, 0700);
    return renameat(w->s->dfd, w->tmp, w->s->dfd, rel);
}

/* Keeps a key's variant list bounded (Vary: User-Agent and the like). */
static void store_cap_variants(struct store *s, struct index_obj *o)
{
    while (index_variants(o) > STORE_MAX_VARIANTS) {
        store_drop(s, index_oldest_variant(o));
        s->stats.evicted++;
    }
}

static void store_writes_ok(struct store *s)
{
    if (!s->nwerr_logged)
        return;
    log_info("cache: writes to %s succeed again", s->dir);
    s->nwerr_logged = 0;
}

int store_commit(struct store_writer *w)
{
    struct store *s = w->s;
    const char *key = w->strs, *variant = key + w->klen + 1, *vary = variant + w->vlen + 1;
    uint64_t size = (uint64_t)FMT_HDR + w->klen + w->vlen + w->ylen + w->hlen + w->body_len;
    unsigned char id[INDEX_ID_LEN];
    char rel[REL_LEN];
    struct index_obj *old = index_find(s->idx, key, variant);
    if (w->failed || size > s->max_size || store_hash(s, key, w->klen, variant, w->vlen, id) < 0) {
        if (old && !w->failed) /* superseded by a response too big to keep */
            store_drop(s, old);
        store_abort(w);
        store_sync_stats(s);
        return -1;
    }
    rel_path(id, rel);
    if (writer_finish(w, rel) < 0) {
        store_write_error(s, "cannot commit an object", errno);
        store_abort(w);
        return -1;
    }
    /* The rename replaced old's file (same name), so old goes either way. */
    struct index_obj *o = index_insert(s->idx, key, variant, vary, size, id);
    if (o)
        index_set_verified(o); /* written by us: its CRC is the one we computed */
    if (!o) {
        if (old)
            index_remove(s->idx, old);
        (void)unlinkat(s->dfd, rel, 0);
    } else {
        store_cap_variants(s, o);
        store_evict(s);
        store_writes_ok(s);
    }
    writer_free(w);
    store_sync_stats(s);
    return o ? 0 : -1;
}

/* ---- refresh and remove ---- */

/* Copies n bytes from in at off to out's file offset: copy_file_range
   (which may share extents), else read and write. 0 or -1. */
static int copy_body(int in, off_t off, int out, uint64_t n)
{
    while (n > 0) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : (size_t)n;
        ssize_t r = copy_file_range(in, &off, out, NULL, chunk, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP ||
                      errno == EBADF))
            break;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* the file shrank under us */
            return -1;
        }
        n -= (uint64_t)r;
    }
    char *buf = n ? malloc(COPY_CHUNK) : NULL;
    if (n && !buf)
        return -1;
    while (n > 0) {
        ssize_t r = pread_full(in, buf, n < COPY_CHUNK ? (size_t)n : COPY_CHUNK, off);
        if (r <= 0 || write_full(out, buf, (size_t)r, -1) < 0) {
            if (r == 0)
                errno = EIO;
            free(buf);
            return -1;
        }
        off += r;
        n -= (uint64_t)r;
    }
    free(buf);
    return 0;
}

int store_refresh(struct store *s, const char *key, const char *variant, const void *head,
                  size_t head_len, time_t request_time, time_t response_time)
{
    struct stat st;
    struct meta m;
    struct index_obj *o;
    int fd = store_open_obj(s, key, variant, &o, &st, &m, false);
    store_sync_stats(s);
    if (fd < 0)
        return -1;
    uint64_t body_off = m.body_off, body_len = m.body_len;
    uint32_t body_crc = m.body_crc; /* same bytes, same CRC: no need to read them */
    struct store_writer *w =
        store_begin(s, key, variant, o->vary, head, head_len, request_time, response_time);
    if (w && body_len > w->limit - w->hlen) {
        w->failed = true;
    } else if (w && copy_body(fd, (off_t)body_off, w->fd, body_len) < 0) {
        store_write_error(s, "cannot copy a refreshed body", errno);
        w->failed = true;
    } else if (w) {
        w->body_len = body_len;
        w->body_crc = body_crc;
    }
    close(fd);
    return w ? store_commit(w) : -1;
}

int store_remove(struct store *s, const char *key)
{
    int n = 0;
    struct index_obj *o;
    while ((o = index_newest(s->idx, key))) {
        store_drop(s, o);
        n++;
    }
    store_sync_stats(s);
    return n;
}

int store_writer_reader(struct store_writer *w, uint64_t *body_off)
{
    if (w->failed)
        return -1;
    *body_off = (uint64_t)FMT_HDR + w->klen + w->vlen + w->ylen + w->hlen;
    return openat(w->s->dfd, w->tmp, O_RDONLY | O_CLOEXEC);
}
