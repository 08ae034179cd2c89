/*
 * cache/store_scan.c - the store's start-up, all of it run by store_open()
 * before the first request: the cache directory made (with its parents)
 * and proved writable, tmp/ emptied of what a previous run never committed,
 * and the index rebuilt from the ab/cd/ files. The scan checks each file
 * as a read would (store_check.c) but reads no body, so 100,000 objects
 * index in well under two seconds; the cache tags are read again from
 * each head, which the check has read anyway; it inserts oldest first, so the LRU
 * order survives a restart, and it ends with one summary line counting
 * what it indexed and removed.
 *
 * Entries the store did not make (other top-level files and directories)
 * are left alone; within the fan-out tree, anything that is not a valid
 * object file is removed.
 */
#include "cache/store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/tags.h"
#include "log.h"

/* ---- names and directories ---- */

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

/* ---- the directory: made, emptied of tmp/ leftovers, proved writable ---- */

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

/* Proves we can create and write files, so a read-only or foreign-owned
   directory fails at start rather than on every store. */
static int store_probe(struct store *s)
{
    char name[TMP_LEN];
    int fd = store_tmp_open(s, name);
    if (fd < 0)
        return -1;
    int rc = store_write_full(fd, "magpie cache probe\n", 19, -1);
    int saved = errno;
    if (close(fd) < 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    unlinkat(s->dfd, name, 0);
    errno = saved;
    return rc;
}

int store_prepare_dir(struct store *s, char *err, size_t errlen)
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

/* ---- the scan ---- */

struct scan_rec {
    struct timespec mtime;
    uint64_t size;
    unsigned char id[INDEX_ID_LEN];
    char *strs; /* key NUL variant NUL vary NUL */
    char *tags; /* the head's cache tags, packed (cache/tags.h); NULL: none */
};

struct scan {
    struct scan_rec *recs;
    size_t n, cap;
    bool ignored_logged, oom_logged;
};

/* Directories and top-level files we did not make are left alone. */
static void scan_ignore(struct store *s, struct scan *sc, const char *rel)
{
    if (sc->ignored_logged)
        return;
    sc->ignored_logged = true;
    log_info("cache: leaving alone unexpected entry %s/%s (further ones are not logged)", s->dir,
             rel);
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
    struct tag_list tags;
    char *packed = NULL;
    if (tags_from_head((const char *)m->head, m->hlen, &tags) && tags_pack(&tags, &packed) < 0)
        goto oom;
    char *p = store_strs_dup(m->key, m->klen, m->variant, m->vlen, m->vary, m->ylen);
    if (!p) {
        free(packed);
        goto oom;
    }
    struct scan_rec *r = &sc->recs[sc->n++];
    r->tags = packed;
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
    enum store_bad bad = store_meta_load(s, fd, id, &st, &m);
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
        struct index_obj *o = index_insert(s->idx, key, variant, vary, r->size, r->id);
        if (o && store_set_tags(s, o, r->tags) < 0) {
            index_remove(s->idx, o);
            o = NULL;
        }
        if (!o && !sc->oom_logged) {
            log_error("cache: out of memory indexing %s; some objects stay unindexed", s->dir);
            sc->oom_logged = true;
        }
        free(r->strs);
        free(r->tags);
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
                                  n ? ", " : "; files: ", store_bad_text[i],
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
void store_scan(struct store *s)
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
