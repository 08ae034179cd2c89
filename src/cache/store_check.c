/*
 * cache/store_check.c - never trusting the disk: checking a stored file
 * before it is used (magic, version, lengths, file size, the header CRC,
 * the name against its key and variant, and a body's CRC when asked), and
 * what becomes of a file that fails: unlinked, counted, and one log line
 * per reason per scan or per minute, not one per file.
 *
 * Both the start-up scan (store_scan.c) and every read (store.c) come here,
 * so a file passes the same checks whichever finds it; docs/CACHE.md lists
 * them in order. Nothing here changes the index.
 */
#include "cache/store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"

#define SCAN_READ 4096  /* first read of a file: header + usual strings */
#define LOG_INTERVAL 60 /* seconds between run-time lines of one reason */

/* clang-format off */
const char *const store_bad_text[BAD_MAX] = {
    "ok",
#define X(name, text) text,
    STORE_BAD_TABLE(X)
#undef X
};
/* clang-format on */

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
void store_log_bad(struct store *s, const char *rel, enum store_bad why, int err)
{
    if (!store_log_ok(s, why))
        return;
    log_warn("cache: %s/%s: %s%s%s; %s (%s)", s->dir, rel, store_bad_text[why], err ? ": " : "",
             err ? strerror(err) : "", why < BAD_NOMEM ? "removed" : "kept",
             s->scanning ? "more are counted in the scan summary"
                         : "logged at most once a minute per reason");
}

/* Unlinks a file that failed validation and counts it; for our own
   trouble (BAD_NOMEM and after) only logs. */
void store_reject(struct store *s, const char *rel, enum store_bad why, int err)
{
    store_log_bad(s, rel, why, err);
    if (why >= BAD_NOMEM)
        return;
    if (unlinkat(s->dfd, rel, 0) < 0 && errno != ENOENT)
        store_log_bad(s, rel, BAD_UNLINK, errno);
    s->stats.removed_invalid++;
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
enum store_bad store_meta_load(struct store *s, int fd, const unsigned char id[INDEX_ID_LEN],
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
    ssize_t r = store_pread_full(fd, s->rbuf, first, 0);
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
        ssize_t r2 = store_pread_full(fd, s->rbuf + r, need - (size_t)r, r);
        if (r2 < 0)
            return BAD_READ;
        if ((size_t)r2 != need - (size_t)r)
            return BAD_SIZE;
    }
    return meta_check_strings(s, m, id);
}

/* Checks a small body against its CRC (it lands in s->rbuf after the head). */
enum store_bad store_meta_check_body(struct store *s, int fd, struct meta *m)
{
    size_t off = (size_t)m->body_off, n = (size_t)m->body_len;
    if (rbuf_reserve(s, off + n) < 0)
        return BAD_NOMEM;
    meta_point(s, m);
    ssize_t r = store_pread_full(fd, s->rbuf + off, n, (off_t)off);
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
enum store_bad store_meta_check_body_stream(int fd, const struct meta *m)
{
    unsigned char chunk[65536];
    uint32_t crc = 0;
    uint64_t left = m->body_len;
    off_t off = (off_t)m->body_off;
    while (left > 0) {
        size_t want = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);
        ssize_t r = store_pread_full(fd, chunk, want, off);
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
