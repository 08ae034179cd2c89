/*
 * cache/store.h - the disk store: one file per stored response variant,
 * an in-memory index rebuilt from the files at start, LRU eviction by
 * bytes. Files are written under <dir>/tmp/ and renamed into place only
 * when complete, so a crash never leaves a visible half object; every file
 * is checked (magic, version, lengths, checksums) before it is trusted,
 * and one that fails is removed and counted.
 *
 * Layout: <dir>/<2 hex>/<2 hex>/<sha256(key "\n" variant) in hex>.
 * docs/CACHE.md describes the file format.
 *
 * Single-threaded, and one process per directory (store_open() empties
 * <dir>/tmp/). Keys are C strings: key, variant and vary cannot hold NUL.
 */
#ifndef MAGPIE_CACHE_STORE_H
#define MAGPIE_CACHE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct mem_obj;
struct store;
struct store_writer;

/* Bounds every stored file respects: store_begin() refuses larger input,
   and a file on disk claiming more is invalid. */
#define STORE_MAX_KEY (64 * 1024)      /* key, variant and Vary names, each */
#define STORE_MAX_HEAD (1024 * 1024)   /* the stored head block */
#define STORE_MAX_VARIANTS 64          /* per key; more evicts the oldest stored */
#define STORE_BODY_CRC_MAX (64 * 1024) /* bodies up to this are CRC-checked by store_get */
#define STORE_MEM_OBJECT_MAX (1024 * 1024) /* larger objects are sent from their file */

/* An open stored response, for serving: a file, or a memory copy. */
struct store_obj {
    int fd;            /* -1 for a memory copy */
    const char *head;  /* the stored response head block, ending in CRLF CRLF */
    size_t head_len;
    uint64_t body_off; /* where the body starts in fd (for sendfile) */
    uint64_t body_len;
    time_t request_time, response_time;
    struct mem_obj *mem; /* the memory copy (head and body point into it), or NULL */
};

static inline bool store_obj_is_open(const struct store_obj *o)
{
    return o->fd >= 0 || o->mem;
}

/*
 * Opens (creating) dir, deletes leftover temporary files, and rebuilds the
 * index from the stored files. NULL on failure with a reason in err.
 * max_size bounds the bytes of all files (evicting least recently used
 * first); max_object_size bounds head + body of one response (0: only
 * max_size does). A response is also refused when it alone passes max_size.
 */
struct store *store_open(const char *dir, uint64_t max_size, uint64_t max_object_size, char *err,
                         size_t errlen);
/*
 * Keeps copies of small objects (up to STORE_MEM_OBJECT_MAX, and an eighth
 * of bytes) in memory once read, within bytes; 0 (the default) keeps none.
 * -1 when out of memory.
 */
int store_set_memory(struct store *s, uint64_t bytes);
/* What the index holds now, for systemd's STATUS= line. */
void store_usage(const struct store *s, uint64_t *objects, uint64_t *bytes);

struct store_stats {
    uint64_t objects, bytes;  /* what the index holds now */
    uint64_t removed_invalid; /* files that failed validation */
    uint64_t removed_tmp;     /* leftover temporary files deleted at start */
    uint64_t evicted;         /* removed to stay under max_size (or STORE_MAX_VARIANTS) */
    uint64_t write_errors;    /* writes abandoned (disk full, I/O error) */
    uint64_t stored;          /* commits that put an object in the index */
    uint64_t memory_objects, memory_bytes; /* copies in the memory tier */
};
/* The counters, with the memory tier's gauges read now (a copy made on a
   read is not synced into stats). */
void store_stats_get(const struct store *s, struct store_stats *out);
/* Every writer must be committed or aborted first. Open store_obj stay
   valid (they own their fd and head). */
void store_close(struct store *s);

/*
 * The Vary field names recorded with the newest variant of key ("" when it
 * does not vary), or NULL when nothing is stored for key. Valid until the
 * next call that changes the store.
 */
const char *store_vary(struct store *s, const char *key);

/*
 * Opens the variant of key whose secondary key is variant ("" without
 * Vary). 0 on success (and the object becomes most recently used), -1 when
 * absent or invalid (an invalid file is removed and counted).
 * On success out holds either a reference to the object's memory copy
 * (out->mem; fd -1) or an O_RDONLY fd (the body is at body_off, for
 * sendfile/pread) and a malloc'd copy of the head; the head is
 * NUL-terminated either way. store_obj_close() lets go of them. Eviction
 * or replacement of the object meanwhile does not disturb an open one. On
 * failure out->fd is -1 and store_obj_close(out) is harmless.
 */
int store_get(struct store *s, const char *key, const char *variant, struct store_obj *out);
void store_obj_close(struct store_obj *o);

/* One stored variant as store_peek() reports it. */
struct store_peek {
    char *variant, *vary; /* its secondary key and Vary names (copies) */
    uint64_t size;        /* the bytes its file takes */
    bool in_memory;       /* a copy is in the memory tier */
    char name[72];        /* its file, "ab/cd/<sha256 hex>" under the store's directory */
    struct store_obj obj; /* its head and times, as store_get() gives them; fd -1 */
};
/*
 * Up to max stored variants of key, newest stored first, for inspection
 * (GET /cache): each read as store_get() reads it (the memory copy, else
 * the file's header and head, synchronously, checked; an invalid file is
 * removed and left out) but without a hit's effects: not made most
 * recently used, no mtime refreshed, no memory copy made, no body read.
 * Returns how many; store_peek_free() each of them.
 */
unsigned store_peek(struct store *s, const char *key, struct store_peek *out, unsigned max);
void store_peek_free(struct store_peek *p);

/*
 * Starts storing a response: head is its head block as it will be served.
 * NULL when it cannot be stored (the reason is logged once per cause, so a
 * full disk does not flood the log).
 */
struct store_writer *store_begin(struct store *s, const char *key, const char *variant,
                                 const char *vary, const void *head, size_t head_len,
                                 time_t request_time, time_t response_time);
/* Appends body bytes (blocking write(2)s). -1 when the object is
   abandoned (over max_object_size, or a write error): call store_abort()
   (store_commit() of a failed writer also just cleans up and returns -1). */
int store_append(struct store_writer *w, const void *p, size_t n);
/* Makes the object visible, replacing the same variant, and evicts what
   max_size requires. Frees the writer. 0, or -1 (nothing stored; when the
   object was complete but alone too big for max_size, the variant it
   would have replaced is removed too, being superseded). */
int store_commit(struct store_writer *w);
/*
 * A read-only descriptor on the object being written, for readers that
 * stream it while it grows (collapsed forwarding): the body starts at
 * *body_off. It stays valid after commit or abort. -1 on failure.
 */
int store_writer_reader(struct store_writer *w, uint64_t *body_off);
/*
 * Whether a body of body_len bytes will fit: within the object size limit
 * (head included) and with the disk space for it reserved now, so that
 * only I/O errors or the origin can still keep the object from being
 * committed. 0, or -1 when no such promise can be made.
 */
int store_writer_reserve(struct store_writer *w, uint64_t body_len);
/* Drops the temporary file and frees the writer. */
void store_abort(struct store_writer *w);

/*
 * A 304 refreshed a stored variant: its head block and times are replaced,
 * its body kept (written to a new file and renamed, so readers of the old
 * one are unaffected). 0 or -1.
 */
int store_refresh(struct store *s, const char *key, const char *variant, const void *head,
                  size_t head_len, time_t request_time, time_t response_time);

/* Removes every variant of key, and makes the writers of key in progress
   abort at commit (what they fetched may predate the removal). Returns
   how many were removed. */
int store_remove(struct store *s, const char *key);
/* Removes every object whose head carries the cache tag tag[0..len)
   (Surrogate-Key, Cache-Tag: cache/tags.h), and makes the writers whose
   head carries it abort at commit. Returns how many were removed. */
int store_purge_tag(struct store *s, const char *tag, size_t len);
/* Whether w will not be committed: its key or one of its tags was removed
   after it began. */
bool store_writer_doomed(const struct store_writer *w);

#endif
