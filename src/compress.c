/*
 * compress.c - the compression filters (compress.h): one codec (codec.h)
 * between a chain's pieces, paced by the rest of the chain.
 *
 * A filter keeps what it could not consume yet: a held piece by
 * reference (memory, or a file range read a slice at a time), anything
 * else copied into its queue. It steps its codec into one slice of output
 * at a time and passes that on only while the nodes after it have room,
 * so a stream that inflates a thousandfold is decoded as fast as the
 * client reads, never ahead of it. While it holds input, or its codec may
 * hold output, it says it has no room; the chain's resume lets it go on.
 *
 * No codec starts before the first byte. An empty body decoded stays
 * empty; one encoded becomes the coding's empty stream at its end, since
 * its head already says Content-Encoding (a bodiless answer never joins).
 */
#include "compress.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"

/* A producer pushes at most one parse step past a "no room" (16 KiB); this
   caps what a careless one can make a filter copy. */
#define QUEUE_MAX (1024 * 1024)

struct zfilter {
    enum coding coding;
    enum codec_dir dir;
    int level;
    struct codec *k; /* NULL until the first byte */
    uint8_t *out;    /* COMPRESS_SLICE: what goes downstream */
    /* input not consumed yet, in order: a held piece (memory, or a file
       range with its slice read so far in fbuf), then the queue */
    struct piece cur;
    uint8_t *fbuf; /* COMPRESS_SLICE */
    size_t fpos, flen;
    uint8_t *q;
    size_t qoff, qlen, qcap;
    enum codec_flush mode; /* what is under way: RUN, a FLUSH op, or FINISH (the body ended) */
    bool more_out;         /* the last step filled the slice: the codec may hold more */
    bool done;             /* filter_end was called */
    bool pumping;          /* in pump(): a resume from within a pass is that same loop */
    char why[160];
};

static int fail(struct filter *f, const char *fmt, const char *a, const char *b)
{
    struct zfilter *z = f->state;
    snprintf(z->why, sizeof(z->why), fmt, a, b);
    filter_set_why(z->why);
    return -1;
}

static int fail_codec(struct filter *f)
{
    struct zfilter *z = f->state;
    return fail(f, z->dir == CODEC_DECODE ? "corrupt %s stream: %s" : "%s encoder failed: %s",
                coding_name(z->coding), codec_error(z->k));
}

static bool has_input(const struct zfilter *z)
{
    return z->flen || z->cur.len || z->qlen;
}

static bool busy(const struct zfilter *z)
{
    return has_input(z) || z->more_out || z->mode != CODEC_RUN;
}

/* The codec and the output slice, at the first byte. */
static int start(struct filter *f)
{
    struct zfilter *z = f->state;
    if (!z->out && !(z->out = malloc(COMPRESS_SLICE)))
        return fail(f, "out of memory for the %s %s", coding_name(z->coding), "filter");
    if (!(z->k = codec_new(z->coding, z->dir, z->level)))
        return fail(f, "out of memory for the %s %s", coding_name(z->coding),
                    z->dir == CODEC_DECODE ? "decoder" : "encoder");
    return 0;
}

/* Reads up to n bytes of a file range into dst: the count, or -1. */
static ssize_t read_range(struct filter *f, int fd, uint64_t off, void *dst, size_t n)
{
    struct zfilter *z = f->state;
    for (;;) {
        ssize_t r = pread(fd, dst, n, (off_t)off);
        if (r > 0)
            return r;
        if (r < 0 && errno == EINTR)
            continue;
        return fail(f, "cannot read the %s body: %s", coding_name(z->coding),
                    r == 0 ? "the file ends early" : strerror(errno));
    }
}

static int too_much(struct filter *f)
{
    struct zfilter *z = f->state;
    return fail(f, "%s %s: more input than the chain has room for", coding_name(z->coding),
                "filter");
}

static int queue_add(struct filter *f, const void *p, size_t n)
{
    struct zfilter *z = f->state;
    if (z->qoff) {
        memmove(z->q, z->q + z->qoff, z->qlen);
        z->qoff = 0;
    }
    if (n > QUEUE_MAX - z->qlen)
        return too_much(f);
    if (z->qlen + n > z->qcap) {
        size_t cap = z->qcap ? z->qcap : COMPRESS_SLICE;
        while (cap < z->qlen + n)
            cap = cap * 2 > QUEUE_MAX ? QUEUE_MAX : cap * 2;
        uint8_t *q = realloc(z->q, cap);
        if (!q)
            return fail(f, "out of memory for the %s %s", coding_name(z->coding), "filter");
        z->q = q;
        z->qcap = cap;
    }
    memcpy(z->q + z->qlen, p, n);
    z->qlen += n;
    return 0;
}

/* A file piece behind other input: its bytes join the queue. */
static int queue_file(struct filter *f, const struct piece *pc)
{
    struct zfilter *z = f->state;
    if (pc->len > QUEUE_MAX - z->qlen)
        return too_much(f);
    for (uint64_t done = 0; done < pc->len;) {
        uint8_t slice[4096];
        size_t n = pc->len - done < sizeof(slice) ? (size_t)(pc->len - done) : sizeof(slice);
        ssize_t r = read_range(f, pc->fd, pc->off + done, slice, n);
        if (r < 0 || queue_add(f, slice, (size_t)r) < 0)
            return -1;
        done += (uint64_t)r;
    }
    return 0;
}

/* The next input bytes, in order, reading the held file's next slice when
   its last one is used up. 0, or -1 when the read fails. */
static int input_window(struct filter *f, const uint8_t **p, size_t *n)
{
    struct zfilter *z = f->state;
    if (!z->flen && z->cur.len && z->cur.kind == PIECE_FILE) {
        size_t want = z->cur.len < COMPRESS_SLICE ? (size_t)z->cur.len : COMPRESS_SLICE;
        if (!z->fbuf && !(z->fbuf = malloc(COMPRESS_SLICE)))
            return fail(f, "out of memory for the %s %s", coding_name(z->coding), "filter");
        ssize_t r = read_range(f, z->cur.fd, z->cur.off, z->fbuf, want);
        if (r < 0)
            return -1;
        z->cur.off += (uint64_t)r;
        z->cur.len -= (uint64_t)r;
        z->fpos = 0;
        z->flen = (size_t)r;
    }
    if (z->flen) {
        *p = z->fbuf + z->fpos;
        *n = z->flen;
    } else if (z->cur.len) {
        *p = (const uint8_t *)z->cur.p;
        *n = (size_t)z->cur.len;
    } else if (z->qlen) {
        *p = z->q + z->qoff;
        *n = z->qlen;
    } else {
        static const uint8_t none[1];
        *p = none; /* not NULL: a codec moves it on by nothing */
        *n = 0;
    }
    return 0;
}

/* used bytes of the window input_window gave went into the codec */
static void input_used(struct zfilter *z, size_t used)
{
    if (z->flen) {
        z->fpos += used;
        z->flen -= used;
    } else if (z->cur.len) {
        z->cur.p += used;
        z->cur.len -= used;
    } else {
        z->qoff += used;
        z->qlen -= used;
        if (!z->qlen && z->qcap > 4 * COMPRESS_SLICE) {
            free(z->q); /* a careless producer's burst is not kept for the whole body */
            z->q = NULL;
            z->qcap = 0;
        }
        if (!z->qlen)
            z->qoff = 0;
    }
}

/*
 * Steps the codec while the rest of the chain has room: input first (as
 * RUN), then, once none is left, the operation under way (a flush, or the
 * finish at the end of the body). 0 when it waits for room or for input,
 * 1 when the stream is finished and the body is to end, -1 when it broke.
 */
static int pump_loop(struct filter *f)
{
    struct zfilter *z = f->state;
    for (;;) {
        if (z->done || !busy(z) || !filter_room(f))
            return 0;
        const uint8_t *p, *p0;
        size_t n;
        if (input_window(f, &p, &n) < 0)
            return -1;
        enum codec_flush op = n ? CODEC_RUN : z->mode;
        uint8_t *o = z->out;
        size_t room = COMPRESS_SLICE;
        p0 = p;
        enum codec_rc rc = codec_step(z->k, &p, &n, &o, &room, op);
        size_t used = (size_t)(p - p0), made = COMPRESS_SLICE - room;
        input_used(z, used);
        z->more_out = room == 0;
        if (rc == CODEC_ERROR)
            return fail_codec(f); /* what that step wrote is not to be trusted */
        if (made) {
            struct piece pc = piece_mem(z->out, made, false);
            if (filter_pass(f, &pc) < 0)
                return -1;
        }
        if (op == CODEC_RUN) {
            if (n && !used && !made)
                return fail(f, "the %s %s stalled", coding_name(z->coding), "codec");
            continue;
        }
        if (rc == CODEC_END && op == CODEC_FINISH) {
            z->done = true;
            return 1;
        }
        if (room == 0)
            continue;           /* the flush or finish has more to write */
        if (op == CODEC_FINISH) /* a codec that neither ended nor failed */
            return fail(f, "the %s %s did not end its stream", coding_name(z->coding), "codec");
        z->mode = CODEC_RUN; /* the flush is complete */
    }
}

static int pump(struct filter *f)
{
    struct zfilter *z = f->state;
    if (z->pumping)
        return 0; /* a resume from within our own pass: the loop below goes on */
    z->pumping = true;
    int rc = pump_loop(f);
    z->pumping = false;
    /* the end goes last: what it sets off downstream may close the chain */
    return rc > 0 ? filter_end(f) : rc;
}

static int open_as(struct filter *f, struct filter_head *h, enum coding c, enum codec_dir dir)
{
    if (c != CODING_GZIP && c != CODING_DEFLATE && c != CODING_BR && c != CODING_ZSTD)
        return 1;
    struct zfilter *z = f->state;
    z->coding = c;
    z->dir = dir;
    z->level = h->level;
    z->mode = CODEC_RUN;
    h->length = -1;
    filter_set_why(""); /* a reason read after this body fails is this body's */
    return 0;
}

static int encode_open(struct filter *f, struct filter_head *h)
{
    return open_as(f, h, h->encode, CODEC_ENCODE);
}

static int decode_open(struct filter *f, struct filter_head *h)
{
    return open_as(f, h, h->decode, CODEC_DECODE);
}

static int z_piece(struct filter *f, const struct piece *pc)
{
    struct zfilter *z = f->state;
    if (z->done || z->mode == CODEC_FINISH)
        return fail(f, "%s %s: a piece after the end", coding_name(z->coding), "filter");
    if (pc->len == 0)
        return 0;
    if (!z->k && start(f) < 0)
        return -1;
    if (has_input(z)) {
        /* pushed while we said no room: it waits behind what we hold */
        int rc = pc->kind == PIECE_FILE ? queue_file(f, pc) : queue_add(f, pc->p, pc->len);
        return rc < 0 ? -1 : pump(f);
    }
    z->cur = *pc;
    if (pump(f) < 0)
        return -1;
    if (pc->kind == PIECE_MEM && !pc->held && z->cur.len) {
        /* the caller's bytes do not outlive this call */
        const char *rest = z->cur.p;
        size_t n = z->cur.len;
        z->cur.len = 0;
        return queue_add(f, rest, n);
    }
    return 0;
}

static int z_end(struct filter *f)
{
    struct zfilter *z = f->state;
    if (z->done)
        return 0;
    if (!z->k && z->dir == CODEC_DECODE) {
        z->done = true;
        return filter_end(f);
    }
    if (!z->k && start(f) < 0)
        return -1;
    z->mode = CODEC_FINISH;
    return pump(f);
}

static bool z_room(const struct filter *f)
{
    return !busy(f->state) && filter_room(f);
}

static int z_resume(struct filter *f)
{
    return pump(f);
}

static int z_flush(struct filter *f)
{
    struct zfilter *z = f->state;
    if (!z->k || z->mode != CODEC_RUN)
        return 0;
    z->mode = CODEC_FLUSH;
    return pump(f);
}

static void z_close(struct filter *f)
{
    struct zfilter *z = f->state;
    codec_free(z->k);
    free(z->out);
    free(z->fbuf);
    free(z->q);
}

const struct filter_ops compress_encode_filter = {
    .name = "compress",
    .state_size = sizeof(struct zfilter),
    .open = encode_open,
    .piece = z_piece,
    .end = z_end,
    .room = z_room,
    .resume = z_resume,
    .flush = z_flush,
    .close = z_close,
};

const struct filter_ops compress_decode_filter = {
    .name = "decompress",
    .state_size = sizeof(struct zfilter),
    .open = decode_open,
    .piece = z_piece,
    .end = z_end,
    .room = z_room,
    .resume = z_resume,
    .close = z_close,
};
