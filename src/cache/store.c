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
 *
 * This file opens and closes the store, reads objects (store_get, with the
 * memory tier kept in step), writes them (begin, append, commit, abort),
 * refreshes, removes (by key, or by cache tag) and evicts. The checks a file must pass, and what
 * becomes of one that fails, are in store_check.c; the start-up (the
 * directory, tmp/, the scan that rebuilds the index) is store_scan.c;
 * store_int.h holds what the three share.
 */
#include "cache/store_int.h"

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
#include "cache/tags.h"
#include "log.h"

#define TOUCH_INTERVAL 60      /* a hit refreshes the file's mtime at most this often */
#define COPY_CHUNK (64 * 1024) /* read/write fallback of store_refresh */
#define REL_LEN 72             /* "ab/cd/" + 64 hex + NUL, rounded */

struct store_writer {
    struct store *s;
    int fd;
    char tmp[TMP_LEN]; /* "tmp/<pid>.<seq>" */
    char *strs;        /* key NUL variant NUL vary NUL */
    char *tags;        /* the head's cache tags, packed (tags.h); NULL: none */
    uint32_t klen, vlen, ylen, hlen;
    uint64_t body_len, limit; /* limit: most head + body bytes allowed */
    uint32_t body_crc, meta_crc;
    time_t request_time, response_time;
    bool failed;
    bool doomed; /* its key or a tag was removed after it began: never committed */
    struct store_writer *wprev, *wnext;
};

/* ---- small helpers ---- */

/* Little-endian n-byte fields, whatever the host's order. */
static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Writes all n bytes at off, or at the file offset when off < 0, going on
   after short writes and EINTR. 0, or -1 with errno. */
int store_write_full(int fd, const void *p, size_t n, off_t off)
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
ssize_t store_pread_full(int fd, void *p, size_t n, off_t off)
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

int store_hash(struct store *s, const char *key, size_t klen, const char *variant, size_t vlen,
               unsigned char id[INDEX_ID_LEN])
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

static void store_sync_stats(struct store *s)
{
    s->stats.objects = index_objects(s->idx);
    s->stats.bytes = index_bytes(s->idx);
    s->stats.memory_objects = mem_objects(s->mem);
    s->stats.memory_bytes = mem_bytes(s->mem);
}

/* "key NUL variant NUL vary NUL" in one allocation. */
char *store_strs_dup(const char *k, size_t klen, const char *v, size_t vlen, const char *y,
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

/* ---- write errors and their log lines ---- */

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
    log_warn("cache: %s in %s: %s (not logged again until a store succeeds)", what, s->dir,
             strerror(err));
}

/* ---- open / close ---- */

/* A new file under tmp/ with a name no other writer of ours uses. */
int store_tmp_open(struct store *s, char name[TMP_LEN])
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
        bad = store_meta_load(s, fd, o->id, st, m);
    if (!bad && check_body &&
        (m->body_len <= STORE_BODY_CRC_MAX || mem_fits(s->mem, m->hlen, m->body_len)))
        bad = store_meta_check_body(s, fd, m); /* into s->rbuf, where a memory copy takes it */
    else if (!bad && check_body && !o->verified)
        bad = store_meta_check_body_stream(fd, m);
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

/* out holds a reference to the memory copy m. */
static void obj_from_mem(struct mem_obj *m, struct store_obj *out)
{
    mem_get(m);
    out->mem = m;
    out->head = m->head;
    out->head_len = m->head_len;
    out->body_len = m->body_len;
    out->request_time = m->request_time;
    out->response_time = m->response_time;
}

/* A hit on a memory copy: no system call, but one a minute for the LRU. */
static void store_get_mem(struct store *s, struct index_obj *o, struct store_obj *out)
{
    struct mem_obj *m = o->mem;
    obj_from_mem(m, out);
    mem_touch(m);
    index_touch(s->idx, o);
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
    struct mem_obj *c = mem_add(s->mem, o, (const char *)m->head, m->hlen, m->body_len);
    if (!c)
        return;
    memcpy(mem_body_buf(c), s->rbuf + m->body_off, (size_t)m->body_len);
    c->request_time = (time_t)m->request_time;
    c->response_time = (time_t)m->response_time;
    c->touched = mtime;
}

void store_usage(const struct store *s, uint64_t *objects, uint64_t *bytes)
{
    *objects = s->stats.objects;
    *bytes = s->stats.bytes;
}

void store_stats_get(const struct store *s, struct store_stats *out)
{
    *out = s->stats;
    out->memory_objects = mem_objects(s->mem);
    out->memory_bytes = mem_bytes(s->mem);
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

/* ---- inspection: store_peek ---- */

_Static_assert(sizeof(((struct store_peek *)0)->name) >= REL_LEN, "a peek holds a file name");

/* Opens one variant for store_peek: its memory copy, else its file's
   header and head (read and checked as store_get does, the body not). */
static int store_peek_one(struct store *s, const char *key, struct store_peek *p)
{
    struct index_obj *o = index_find(s->idx, key, p->variant);
    struct stat st;
    struct meta m;
    if (o && o->mem) {
        obj_from_mem(o->mem, &p->obj);
    } else {
        int fd = store_open_obj(s, key, p->variant, &o, &st, &m, false);
        if (fd < 0)
            return -1;
        close(fd);
        char *head = malloc((size_t)m.hlen + 1);
        if (!head)
            return -1;
        memcpy(head, m.head, m.hlen);
        head[m.hlen] = '\0';
        p->obj.head = head;
        p->obj.head_len = m.hlen;
        p->obj.body_off = m.body_off;
        p->obj.body_len = m.body_len;
        p->obj.request_time = (time_t)m.request_time;
        p->obj.response_time = (time_t)m.response_time;
    }
    if (!(p->vary = strdup(o->vary))) {
        store_obj_close(&p->obj);
        return -1;
    }
    p->size = o->size;
    p->in_memory = o->mem != NULL;
    rel_path(o->id, p->name);
    return 0;
}

unsigned store_peek(struct store *s, const char *key, struct store_peek *out, unsigned max)
{
    unsigned n = 0, kept = 0;
    /* the secondary keys first: a file found bad leaves the index meanwhile */
    for (struct index_obj *o = index_newest(s->idx, key); o && n < max; o = index_next_variant(o)) {
        memset(&out[n], 0, sizeof(out[n]));
        out[n].obj.fd = -1;
        if ((out[n].variant = strdup(o->variant)))
            n++;
    }
    for (unsigned i = 0; i < n; i++) {
        struct store_peek p = out[i];
        if (store_peek_one(s, key, &p) == 0)
            out[kept++] = p;
        else
            free(p.variant);
    }
    store_sync_stats(s);
    return kept;
}

void store_peek_free(struct store_peek *p)
{
    store_obj_close(&p->obj);
    free(p->variant);
    free(p->vary);
    p->variant = p->vary = NULL;
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
    int rc = store_write_full(w->fd, buf, FMT_HDR + slen, -1);
    int saved = errno;
    free(buf);
    errno = saved;
    if (rc == 0 && w->hlen)
        rc = store_write_full(w->fd, head, w->hlen, -1);
    return rc;
}

static void writer_free(struct store_writer *w)
{
    w->s->writers--;
    if (w->wprev)
        w->wprev->wnext = w->wnext;
    else
        w->s->wlist = w->wnext;
    if (w->wnext)
        w->wnext->wprev = w->wprev;
    free(w->strs);
    free(w->tags);
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
    if (!w || !(w->strs = store_strs_dup(key, klen, variant, vlen, vary, ylen))) {
        free(w);
        return NULL;
    }
    w->s = s;
    w->fd = -1;
    w->klen = (uint32_t)klen, w->vlen = (uint32_t)vlen, w->ylen = (uint32_t)ylen;
    w->hlen = (uint32_t)head_len;
    w->limit = limit;
    s->writers++;
    w->wnext = s->wlist;
    if (s->wlist)
        s->wlist->wprev = w;
    s->wlist = w;
    return w;
}

struct store_writer *store_begin(struct store *s, const char *key, const char *variant,
                                 const char *vary, const void *head, size_t head_len,
                                 time_t request_time, time_t response_time)
{
    struct store_writer *w = writer_new(s, key, variant, vary, head_len);
    struct tag_list tags;
    if (!w)
        return NULL;
    if (tags_from_head(head, head_len, &tags) && tags_pack(&tags, &w->tags) < 0) {
        store_abort(w);
        return NULL;
    }
    w->request_time = request_time;
    w->response_time = response_time;
    w->fd = store_tmp_open(s, w->tmp);
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
    if (store_write_full(w->fd, p, n, -1) < 0) {
        store_write_error(w->s, "cannot write a temporary file", errno);
        w->failed = true;
        return -1;
    }
    w->body_crc = (uint32_t)crc32_z(w->body_crc, p, n);
    w->body_len += n;
    return 0;
}

int store_writer_reserve(struct store_writer *w, uint64_t body_len)
{
    if (w->failed || body_len > w->limit - w->hlen - w->body_len)
        return -1;
    off_t at = (off_t)lseek(w->fd, 0, SEEK_CUR);
    if (body_len == 0)
        return 0;
    if (at < 0 || fallocate(w->fd, FALLOC_FL_KEEP_SIZE, at, (off_t)body_len) < 0)
        return -1; /* no room now, or no way to know: no promise */
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
    int rc = store_write_full(w->fd, h, FMT_HDR, 0);
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
    if (w->doomed) {
        /* invalidated or purged while it streamed: it may predate that */
        log_debug("cache: not storing %s: removed while it was fetched", key);
        store_abort(w);
        return -1;
    }
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
    } else if (store_set_tags(s, o, w->tags) < 0) {
        store_drop(s, o);
        o = NULL;
    } else {
        s->stats.stored++;
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
        ssize_t r = store_pread_full(in, buf, n < COPY_CHUNK ? (size_t)n : COPY_CHUNK, off);
        if (r <= 0 || store_write_full(out, buf, (size_t)r, -1) < 0) {
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
    for (struct store_writer *w = s->wlist; w; w = w->wnext)
        w->doomed = w->doomed || strcmp(w->strs, key) == 0;
    while ((o = index_newest(s->idx, key))) {
        store_drop(s, o);
        n++;
    }
    store_sync_stats(s);
    return n;
}

int store_set_tags(struct store *s, struct index_obj *o, const char *packed)
{
    struct tag_list l;
    tags_unpack(packed, &l);
    return index_set_tags(s->idx, o, &l);
}

int store_purge_tag(struct store *s, const char *tag, size_t len)
{
    int n = 0;
    struct index_obj *o;
    for (struct store_writer *w = s->wlist; w; w = w->wnext)
        w->doomed = w->doomed || tags_packed_has(w->tags, tag, len);
    while ((o = index_tagged(s->idx, tag, len))) {
        store_drop(s, o);
        n++;
    }
    store_sync_stats(s);
    return n;
}

bool store_writer_doomed(const struct store_writer *w)
{
    return w->doomed;
}

int store_writer_reader(struct store_writer *w, uint64_t *body_off)
{
    if (w->failed)
        return -1;
    *body_off = (uint64_t)FMT_HDR + w->klen + w->vlen + w->ylen + w->hlen;
    return openat(w->s->dfd, w->tmp, O_RDONLY | O_CLOEXEC);
}
