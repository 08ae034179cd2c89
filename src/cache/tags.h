/*
 * cache/tags.h - cache tags: the Surrogate-Key and Cache-Tag values of a
 * stored response, read from its head block (the store keeps the origin's
 * fields, so the tags are on disk with the object and the start-up scan
 * reads them again), and the index from a tag to the objects carrying it,
 * which PURGE by tag walks. The index is cache/index.c's: removing an
 * object there takes it out of its tags' lists, whatever removed it.
 *
 * A tag is 1..TAG_LEN_MAX visible ASCII bytes (0x21-0x7e), compared byte
 * for byte (case-sensitively). Surrogate-Key lists tags separated by
 * spaces (Fastly, Varnish xkey), Cache-Tag by commas (Cloudflare), with
 * whitespace around them dropped. An item that is not a valid tag is
 * skipped, not cut, and an object keeps its first TAGS_MAX distinct tags.
 */
#ifndef MAGPIE_CACHE_TAGS_H
#define MAGPIE_CACHE_TAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAGS_MAX 64        /* distinct tags per object; more are ignored */
#define TAG_LEN_MAX 256    /* bytes; a longer item is not a tag */
#define TAGS_PURGE_MAX 256 /* tags one PURGE may name */

struct index_obj;
struct tag_index;

/* Up to TAGS_MAX distinct tags, pointing into what they were read from. */
struct tag_list {
    unsigned n;
    uint16_t len[TAGS_MAX];
    const char *tag[TAGS_MAX];
};

/* The list separator of a tag field: ' ' for Surrogate-Key, ',' for
   Cache-Tag (names case-insensitive), 0 for any other field. */
char tags_field_sep(const char *name, size_t len);

/*
 * The next tag of the field value v[0..len) from *pos on, whose list
 * separator is sep (tags_field_sep): its length, with *tag at its first
 * byte, or 0 when no tag is left. Items that are not valid tags are
 * skipped. Linear in len over all calls.
 */
size_t tags_next(const char *v, size_t len, size_t *pos, char sep, const char **tag);

/*
 * The tags of a head block (status line, "Name: value" lines, the empty
 * line): those of every Surrogate-Key and Cache-Tag line, in order, each
 * once, at most TAGS_MAX. Bounded by len; a damaged head yields fewer
 * tags, never a read past it. Returns out->n.
 */
unsigned tags_from_head(const char *head, size_t len, struct tag_list *out);

/* Adds tag[0..len) to l unless it is there or l is full. false when full. */
bool tags_list_add(struct tag_list *l, const char *tag, size_t len);

/* l as one allocation, "tag NUL tag NUL ... NUL" (*out NULL for no tag).
   0, or -1 out of memory. */
int tags_pack(const struct tag_list *l, char **out);
/* A packed list back into l (pointing into packed). */
void tags_unpack(const char *packed, struct tag_list *l);
/* Whether a packed list (NULL: none) holds tag[0..len). */
bool tags_packed_has(const char *packed, const char *tag, size_t len);

/* ---- the index: tag -> objects ---- */

struct tag_index *tag_index_new(void);
/* Every object must have been detached first. */
void tag_index_free(struct tag_index *t);
/* Links o to each tag of l (o must carry none yet). 0, or -1 out of
   memory, with o then carrying none. */
int tag_index_attach(struct tag_index *t, struct index_obj *o, const struct tag_list *l);
/* Unlinks o from its tags (a tag left with no object is forgotten). */
void tag_index_detach(struct tag_index *t, struct index_obj *o);
/* An object carrying tag[0..len), or NULL. */
struct index_obj *tag_index_first(const struct tag_index *t, const char *tag, size_t len);
/* How many objects carry tag[0..len); how many distinct tags are known. */
size_t tag_index_count(const struct tag_index *t, const char *tag, size_t len);
size_t tag_index_tags(const struct tag_index *t);

#endif
