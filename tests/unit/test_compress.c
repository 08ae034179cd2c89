/*
 * test_compress.c - the compression filters (compress.c) driven through
 * chains (filter.c) into a test sink that copies what it is given, counts
 * pieces and ends, and can say it has no room until told otherwise: round
 * trips through the encoder and the decoder, held, copied and file
 * pieces, a bomb paced slice by slice, the end arriving while input is
 * held, flushes, corrupt and truncated streams failing the chain with a
 * reason, and the filters opting out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compress.h"

#include "codec_run.h"
#include "rows.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MIB (1024 * 1024)
#define ALWAYS SIZE_MAX /* a sink budget: room for ever */

static const enum coding all[] = {CODING_GZIP, CODING_DEFLATE, CODING_BR, CODING_ZSTD};

/* ---- the test sink ---- */

struct tsink {
    struct bytes got; /* every byte, when keep */
    bool keep;
    uint64_t total;   /* bytes given */
    uint64_t nonzero; /* of them, not zero */
    size_t pieces, ends, max_piece, held, files;
    size_t budget;     /* pieces it takes before it says no room; ALWAYS: no limit */
    size_t early;      /* pieces given while it said no room */
    size_t ends_early; /* ends given while bytes were still to come (checked by the test) */
};

static int tsink_piece(void *arg, const struct piece *pc)
{
    struct tsink *s = arg;
    if (s->budget == 0)
        s->early++;
    else if (s->budget != ALWAYS)
        s->budget--;
    s->pieces++;
    s->held += pc->held;
    if (pc->kind == PIECE_FILE) {
        s->files++;
        return 0;
    }
    if (pc->len > s->max_piece)
        s->max_piece = pc->len;
    s->total += pc->len;
    for (size_t i = 0; i < pc->len; i++)
        s->nonzero += pc->p[i] != 0;
    if (s->keep)
        bytes_add(&s->got, pc->p, pc->len);
    return 0;
}

static int tsink_end(void *arg)
{
    ((struct tsink *)arg)->ends++;
    return 0;
}

static bool tsink_room(void *arg)
{
    return ((struct tsink *)arg)->budget > 0;
}

static const struct sink_ops tsink_ops = {tsink_piece, tsink_end, tsink_room};

/* A chain into a fresh sink, and a producer that counts its resumes. */
struct rig {
    struct tsink sink;
    struct chain ch;
    struct filter_head head;
    int resumes;
    uint64_t total_at_resume; /* what the sink had when the producer was last resumed */
};

static void producer_resume(void *arg)
{
    struct rig *r = arg;
    r->resumes++;
    r->total_at_resume = r->sink.total;
    assert_true(chain_room(&r->ch));
}

static void rig_init(struct rig *r, enum coding encode, enum coding decode)
{
    memset(r, 0, sizeof(*r));
    r->sink.keep = true;
    r->sink.budget = ALWAYS;
    r->head = (struct filter_head){
        .status = 200, .length = 4321, .encode = encode, .decode = decode, .level = 6};
    chain_init(&r->ch, &tsink_ops, &r->sink, producer_resume, r);
    static const struct filter_ops *const both[] = {&compress_encode_filter,
                                                    &compress_decode_filter};
    assert_int_equal(chain_open(&r->ch, both, N(both), &r->head), 0);
}

static void rig_close(struct rig *r)
{
    chain_close(&r->ch);
    bytes_free(&r->sink.got);
}

/* Pushes p[0..n) in pieces of step bytes. Copied pieces come from a
   buffer spoiled right after the push, so a filter that kept a pointer
   to one would send garbage. */
static int push(struct rig *r, const uint8_t *p, size_t n, size_t step, bool held)
{
    for (size_t off = 0; off < n; off += step) {
        size_t len = n - off < step ? n - off : step;
        uint8_t *copy = held ? NULL : malloc(len);
        if (copy)
            memcpy(copy, p + off, len);
        struct piece pc = piece_mem(held ? p + off : copy, len, held);
        int rc = chain_push(&r->ch, &pc);
        if (copy)
            memset(copy, 0xee, len);
        free(copy);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Lets the sink take one piece at a time until the chain asks for more
   input or has ended; bounded. */
static void drip(struct rig *r, size_t max_rounds)
{
    for (size_t i = 0; i < max_rounds && !r->ch.failed; i++) {
        if (r->sink.budget == ALWAYS || (chain_room(&r->ch) && !r->ch.ended))
            return;
        if (r->ch.ended && r->sink.ends)
            return;
        size_t before = r->sink.pieces;
        r->sink.budget = 1;
        chain_resume(&r->ch);
        if (r->sink.pieces > before + 1)
            row_fail("%zu pieces for room for one", r->sink.pieces - before);
        r->sink.budget = 0;
    }
}

static bool sink_has(const struct rig *r, const struct bytes *want)
{
    return r->sink.got.n == want->n && (!want->n || memcmp(r->sink.got.p, want->p, want->n) == 0);
}

/* ---- inputs ---- */

static struct bytes text(size_t n, unsigned seed)
{
    struct bytes b = {0};
    char line[96];
    for (unsigned i = 0; b.n < n; i++) {
        int len = snprintf(line, sizeof(line), "line %u of the body, seed %u, value %u\n", i, seed,
                           (i * 2654435761u + seed) % 1000);
        bytes_add(&b, line, (size_t)len);
    }
    b.n = n;
    return b;
}

static struct bytes encoded(enum coding c, const struct bytes *in)
{
    struct bytes out = {0};
    assert_int_equal(codec_all(c, CODEC_ENCODE, 6, in->p, in->n, 65536, 65536, &out), CODEC_END);
    return out;
}

static bool decodes_to(enum coding c, const struct bytes *enc, const struct bytes *want)
{
    struct bytes dec = {0};
    int rc = codec_all(c, CODEC_DECODE, 0, enc->p, enc->n, 65536, 65536, &dec);
    bool ok = rc == CODEC_END && dec.n == want->n && (!dec.n || !memcmp(dec.p, want->p, dec.n));
    bytes_free(&dec);
    return ok;
}

/* ---- opting in and out ---- */

static void test_open(void **state)
{
    static const struct {
        enum coding encode, decode;
        bool enc_joins, dec_joins;
    } rows[] = {
        {CODING_IDENTITY, CODING_IDENTITY, false, false},
        {CODING_UNKNOWN, CODING_UNKNOWN, false, false},
        {CODING_GZIP, CODING_IDENTITY, true, false},
        {CODING_DEFLATE, CODING_UNKNOWN, true, false},
        {CODING_IDENTITY, CODING_BR, false, true},
        {CODING_UNKNOWN, CODING_ZSTD, false, true},
        {CODING_ZSTD, CODING_GZIP, true, true},
        {CODING_BR, CODING_DEFLATE, true, true},
    };
    (void)state;
    for (size_t i = 0; i < N(rows); i++) {
        struct rig r;
        rig_init(&r, rows[i].encode, rows[i].decode);
        const struct filter *f = r.ch.first;
        bool enc = f && f->ops == &compress_encode_filter;
        if (enc)
            f = f->next;
        bool dec = f && f->ops == &compress_decode_filter;
        if (dec)
            f = f->next;
        bool joined = rows[i].enc_joins || rows[i].dec_joins;
        if (enc != rows[i].enc_joins || dec != rows[i].dec_joins || f)
            row_fail("%s/%s: encoder %d, decoder %d, more %d", coding_name(rows[i].encode),
                     coding_name(rows[i].decode), enc, dec, f != NULL);
        if (r.head.length != (joined ? -1 : 4321))
            row_fail("%s/%s: length %lld", coding_name(rows[i].encode), coding_name(rows[i].decode),
                     (long long)r.head.length);
        if (chain_filtered(&r.ch) != joined)
            row_fail("%s/%s: filtered %d", coding_name(rows[i].encode), coding_name(rows[i].decode),
                     chain_filtered(&r.ch));
        /* without filters the pieces go through as they are */
        if (!joined) {
            static const char body[] = "as it is";
            struct piece pc = piece_mem(body, 8, true);
            assert_int_equal(chain_push(&r.ch, &pc), 0);
            assert_int_equal(chain_end(&r.ch), 0);
            if (r.sink.got.n != 8 || r.sink.held != 1 || r.sink.ends != 1)
                row_fail("%s/%s: passed through as %zu bytes", coding_name(rows[i].encode),
                         coding_name(rows[i].decode), r.sink.got.n);
        }
        rig_close(&r);
    }
    rows_done();
}

/* ---- round trips ---- */

static void test_round_trips(void **state)
{
    static const size_t steps[] = {1, 100, 5000, COMPRESS_SLICE + 1, SIZE_MAX};
    struct bytes in = text(70000, 1);
    (void)state;
    for (size_t i = 0; i < N(all); i++) {
        enum coding c = all[i];
        for (size_t s = 0; s < N(steps); s++) {
            for (int held = 0; held < 2; held++) {
                /* byte by byte, some thousands say as much as all */
                size_t n = steps[s] == 1 ? 3000 : in.n;
                struct bytes part = {in.p, n, 0};
                struct rig e, d;
                rig_init(&e, c, CODING_IDENTITY);
                int rc = push(&e, in.p, n, steps[s], held);
                if (rc < 0 || chain_end(&e.ch) < 0 || e.sink.ends != 1 || e.sink.held ||
                    e.sink.max_piece > COMPRESS_SLICE || !decodes_to(c, &e.sink.got, &part))
                    row_fail("%s step %zu held %d: encoding: %zu bytes, %zu ends, %zu held, "
                             "largest %zu",
                             coding_name(c), steps[s], held, e.sink.got.n, e.sink.ends, e.sink.held,
                             e.sink.max_piece);
                rig_init(&d, CODING_IDENTITY, c);
                rc = push(&d, e.sink.got.p, e.sink.got.n, steps[s], held);
                if (rc < 0 || chain_end(&d.ch) < 0 || d.sink.ends != 1 || d.sink.held ||
                    d.sink.max_piece > COMPRESS_SLICE || !sink_has(&d, &part))
                    row_fail("%s step %zu held %d: decoding: %zu of %zu bytes, %zu ends",
                             coding_name(c), steps[s], held, d.sink.got.n, n, d.sink.ends);
                rig_close(&e);
                rig_close(&d);
            }
        }
    }
    bytes_free(&in);
    rows_done();
}

/* Both filters in one chain, the decoder pacing the encoder. */
static void test_encode_then_decode(void **state)
{
    struct bytes in = text(200000, 2);
    (void)state;
    for (size_t i = 0; i < N(all); i++) {
        for (int paced = 0; paced < 2; paced++) {
            struct rig r;
            rig_init(&r, all[i], all[i]);
            r.sink.budget = paced ? 0 : ALWAYS;
            size_t off = 0;
            /* the producer pushes only when the chain has room; paced, the
               sink takes one piece a round */
            for (size_t round = 0; round < 100000 && off < in.n; round++) {
                size_t before = r.sink.pieces;
                if (paced)
                    r.sink.budget = 1;
                if (chain_room(&r.ch)) {
                    size_t len = in.n - off < 7000 ? in.n - off : 7000;
                    assert_int_equal(push(&r, in.p + off, len, len, false), 0);
                    off += len;
                } else {
                    chain_resume(&r.ch);
                }
                if (paced) {
                    r.sink.budget = 0;
                    if (r.sink.pieces > before + 1)
                        row_fail("%s: %zu pieces for room for one", coding_name(all[i]),
                                 r.sink.pieces - before);
                }
            }
            if (off != in.n)
                row_fail("%s paced %d: only %zu of %zu bytes pushed", coding_name(all[i]), paced,
                         off, in.n);
            assert_int_equal(chain_end(&r.ch), 0);
            drip(&r, 100000);
            if (!sink_has(&r, &in) || r.sink.ends != 1 || r.sink.early)
                row_fail("%s paced %d: %zu of %zu bytes, %zu ends, %zu given without room",
                         coding_name(all[i]), paced, r.sink.got.n, in.n, r.sink.ends, r.sink.early);
            rig_close(&r);
        }
    }
    bytes_free(&in);
    rows_done();
}

/* ---- file pieces ---- */

static int temp_file(const struct bytes *prefix, const struct bytes *body)
{
    char path[] = "/tmp/magpie-test-compress-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, prefix->p, prefix->n), (ssize_t)prefix->n);
    assert_int_equal(write(fd, body->p, body->n), (ssize_t)body->n);
    return fd;
}

static void test_file_pieces(void **state)
{
    struct bytes in = text(90000, 3), junk = text(777, 99);
    (void)state;
    for (size_t i = 0; i < N(all); i++) {
        struct bytes enc = encoded(all[i], &in);
        /* decoding a stored encoded body: ranges of a file after other bytes */
        int fd = temp_file(&junk, &enc);
        struct rig r;
        rig_init(&r, CODING_IDENTITY, all[i]);
        const uint64_t cut1 = 1, cut2 = enc.n / 2 + 3;
        struct piece a = piece_file(fd, junk.n, cut1);
        struct piece b = piece_file(fd, junk.n + cut1, cut2 - cut1);
        struct piece c = piece_file(fd, junk.n + cut2, enc.n - cut2);
        assert_int_equal(chain_push(&r.ch, &a), 0);
        assert_int_equal(chain_push(&r.ch, &b), 0);
        assert_int_equal(chain_push(&r.ch, &c), 0);
        assert_int_equal(chain_end(&r.ch), 0);
        if (!sink_has(&r, &in) || r.sink.files || r.sink.ends != 1)
            row_fail("%s: decoded %zu of %zu bytes from the file", coding_name(all[i]),
                     r.sink.got.n, in.n);
        rig_close(&r);

        /* the same while the sink takes a piece at a time: the file is
           read a slice at a time, as room comes */
        rig_init(&r, CODING_IDENTITY, all[i]);
        r.sink.budget = 0;
        struct piece whole = piece_file(fd, junk.n, enc.n);
        assert_int_equal(chain_push(&r.ch, &whole), 0);
        assert_false(chain_room(&r.ch));
        drip(&r, 100000);
        assert_int_equal(chain_end(&r.ch), 0);
        drip(&r, 100000);
        if (!sink_has(&r, &in) || r.sink.ends != 1 || r.sink.early)
            row_fail("%s: paced from the file: %zu of %zu bytes", coding_name(all[i]), r.sink.got.n,
                     in.n);
        rig_close(&r);

        /* a range past the file's end breaks the body */
        rig_init(&r, CODING_IDENTITY, all[i]);
        struct piece past = piece_file(fd, junk.n, enc.n + 100);
        filter_set_why("");
        int rc = chain_push(&r.ch, &past);
        if (rc == 0)
            rc = chain_end(&r.ch);
        if (rc != -1 || !strstr(filter_why(), "cannot read"))
            row_fail("%s: a short file: rc %d, why %s", coding_name(all[i]), rc,
                     filter_why());
        rig_close(&r);
        close(fd);

        /* encoding from a file, too */
        fd = temp_file(&junk, &in);
        rig_init(&r, all[i], CODING_IDENTITY);
        struct piece body = piece_file(fd, junk.n, in.n);
        assert_int_equal(chain_push(&r.ch, &body), 0);
        assert_int_equal(chain_end(&r.ch), 0);
        if (!decodes_to(all[i], &r.sink.got, &in))
            row_fail("%s: encoding from a file", coding_name(all[i]));
        rig_close(&r);
        close(fd);
        bytes_free(&enc);
    }
    bytes_free(&in);
    bytes_free(&junk);
    rows_done();
}

/* ---- backpressure ---- */

static size_t heap_used(void)
{
    return mallinfo2().uordblks; /* glibc's; under ASan its own heap is not counted */
}

static void test_bomb_paced(void **state)
{
    const size_t size = 32 * MIB;
    static uint8_t zeros[MIB];
    (void)state;
    for (size_t i = 0; i < N(all); i++) {
        /* the bomb, made without holding it */
        struct codec *k = codec_new(all[i], CODEC_ENCODE, 9);
        struct bytes enc = {0};
        for (size_t done = 0; done < size; done += sizeof(zeros))
            codec_run(k, zeros, sizeof(zeros), sizeof(zeros), 65536,
                      done + sizeof(zeros) >= size ? CODEC_FINISH : CODEC_RUN, 0, &enc, NULL);
        codec_free(k);

        struct rig r;
        rig_init(&r, CODING_IDENTITY, all[i]);
        r.sink.keep = false; /* counts only: the sink must not be what grows */
        r.sink.budget = 0;
        size_t base = heap_used();
        assert_int_equal(push(&r, enc.p, enc.n, enc.n, false), 0);
        /* nothing moves while the sink has no room */
        if (r.sink.pieces || chain_room(&r.ch))
            row_fail("%s: %zu pieces into a full sink", coding_name(all[i]), r.sink.pieces);
        size_t peak = 0, rounds = 0;
        for (; rounds < 4 * size / COMPRESS_SLICE && !r.resumes; rounds++) {
            size_t before = r.sink.pieces;
            r.sink.budget = 1;
            chain_resume(&r.ch);
            if (r.sink.pieces > before + 1)
                row_fail("%s: %zu pieces for room for one", coding_name(all[i]),
                         r.sink.pieces - before);
            r.sink.budget = 0;
            size_t used = heap_used() - base;
            if (heap_used() > base && used > peak)
                peak = used;
            if (r.ch.failed)
                break;
        }
        /* the producer is asked for more once all the output is out */
        if (r.resumes != 1 || r.total_at_resume != size)
            row_fail("%s: the producer resumed %d times, the last at %llu bytes",
                     coding_name(all[i]), r.resumes, (unsigned long long)r.total_at_resume);
        assert_int_equal(chain_end(&r.ch), 0);
        drip(&r, 100);
        if (r.sink.total != size || r.sink.nonzero || r.sink.ends != 1 || r.sink.early ||
            r.sink.max_piece > COMPRESS_SLICE)
            row_fail("%s: %llu of %zu bytes, %llu not zero, %zu ends, %zu early, largest %zu",
                     coding_name(all[i]), (unsigned long long)r.sink.total, size,
                     (unsigned long long)r.sink.nonzero, r.sink.ends, r.sink.early,
                     r.sink.max_piece);
        if (rounds < size / COMPRESS_SLICE)
            row_fail("%s: %zu bytes in %zu rounds", coding_name(all[i]), size, rounds);
        /* the codec's window, the slice, the copied input: nothing in proportion to the output */
        if (peak > CODEC_MAX_WINDOW + MIB)
            row_fail("%s: the heap grew by %zu bytes", coding_name(all[i]), peak);
        rig_close(&r);
        bytes_free(&enc);
    }
    rows_done();
}

static void test_end_while_held(void **state)
{
    struct bytes in = text(60000, 4);
    (void)state;
    for (size_t i = 0; i < N(all); i++) {
        struct bytes enc = encoded(all[i], &in);
        for (int dir = 0; dir < 2; dir++) {
            struct rig r;
            const struct bytes *push_in = dir ? &enc : &in;
            rig_init(&r, dir ? CODING_IDENTITY : all[i], dir ? all[i] : CODING_IDENTITY);
            r.sink.budget = 0;
            assert_int_equal(push(&r, push_in->p, push_in->n, push_in->n, false), 0);
            assert_int_equal(chain_end(&r.ch), 0);
            if (r.sink.ends || r.sink.pieces)
                row_fail("%s %s: the end passed a full sink", coding_name(all[i]),
                         dir ? "decoding" : "encoding");
            r.sink.budget = ALWAYS;
            chain_resume(&r.ch);
            bool ok = dir ? sink_has(&r, &in) : decodes_to(all[i], &r.sink.got, &in);
            if (!ok || r.sink.ends != 1 || r.resumes)
                row_fail("%s %s: after the resume: %zu bytes, %zu ends, %d producer resumes",
                         coding_name(all[i]), dir ? "decoding" : "encoding", r.sink.got.n,
                         r.sink.ends, r.resumes);
            rig_close(&r);
        }
        bytes_free(&enc);
    }
    bytes_free(&in);
    rows_done();
}

/* A producer that pushes while told there is no room: copied, in order. */
static void test_pushed_without_room(void **state)
{
    struct bytes in = text(40000, 5);
    (void)state;
    for (size_t i = 0; i < N(all); i++) {
        struct bytes enc = encoded(all[i], &in);
        int fd = temp_file(&(struct bytes){0}, &enc);
        struct rig r;
        rig_init(&r, CODING_IDENTITY, all[i]);
        r.sink.budget = 0;
        size_t q = enc.n / 4;
        struct piece held = piece_mem(enc.p + q, q, true);
        struct piece file = piece_file(fd, 2 * q, q);
        assert_int_equal(push(&r, enc.p, q, 1000, false), 0);
        assert_int_equal(chain_push(&r.ch, &held), 0);
        assert_int_equal(chain_push(&r.ch, &file), 0);
        assert_int_equal(push(&r, enc.p + 3 * q, enc.n - 3 * q, 333, false), 0);
        assert_int_equal(chain_end(&r.ch), 0);
        r.sink.budget = ALWAYS;
        chain_resume(&r.ch);
        if (!sink_has(&r, &in) || r.sink.ends != 1)
            row_fail("%s: %zu of %zu bytes, %zu ends", coding_name(all[i]), r.sink.got.n, in.n,
                     r.sink.ends);
        rig_close(&r);

        /* a producer that does not stop at all is cut off, not buffered for ever */
        rig_init(&r, all[i], CODING_IDENTITY);
        r.sink.budget = 0;
        filter_set_why("");
        int rc = 0;
        for (size_t n = 0; n < 4 * MIB && rc == 0; n += in.n)
            rc = push(&r, in.p, in.n, in.n, false);
        if (rc != -1 || !r.ch.failed || !strstr(filter_why(), "more input"))
            row_fail("%s: 4 MiB pushed into a full chain: rc %d", coding_name(all[i]), rc);
        rig_close(&r);

        /* the same with a file range too large to queue behind a held piece */
        rig_init(&r, CODING_IDENTITY, all[i]);
        r.sink.budget = 0;
        struct piece big = piece_file(fd, 0, 2 * MIB);
        assert_int_equal(chain_push(&r.ch, &held), 0);
        filter_set_why("");
        rc = chain_push(&r.ch, &big);
        if (rc != -1 || !strstr(filter_why(), "more input"))
            row_fail("%s: 2 MiB of file behind a held piece: rc %d", coding_name(all[i]), rc);
        rig_close(&r);
        close(fd);
        bytes_free(&enc);
    }
    bytes_free(&in);
    rows_done();
}

/* ---- flush ---- */

static void test_flush(void **state)
{
    struct bytes a = text(3000, 6), b = text(5000, 7), ab = {0};
    bytes_add(&ab, a.p, a.n);
    bytes_add(&ab, b.p, b.n);
    (void)state;
    for (size_t i = 0; i < N(all); i++) {
        for (int full = 0; full < 2; full++) {
            struct rig r;
            rig_init(&r, all[i], CODING_IDENTITY);
            /* before any byte: nothing to flush */
            assert_int_equal(chain_flush(&r.ch), 0);
            if (r.sink.pieces)
                row_fail("%s: a flush of nothing passed %zu bytes", coding_name(all[i]),
                         r.sink.got.n);
            assert_int_equal(push(&r, a.p, a.n, 512, false), 0);
            r.sink.budget = full ? 0 : ALWAYS;
            assert_int_equal(chain_flush(&r.ch), 0);
            if (full) {
                size_t before = r.sink.pieces;
                if (chain_room(&r.ch))
                    row_fail("%s: room while the flush waits", coding_name(all[i]));
                r.sink.budget = ALWAYS;
                chain_resume(&r.ch);
                if (r.sink.pieces == before)
                    row_fail("%s: the resume passed nothing", coding_name(all[i]));
            }
            /* what reached the sink decodes to all that was pushed */
            struct codec *k = codec_new(all[i], CODEC_DECODE, 0);
            struct bytes dec = {0};
            int rc = codec_run(k, r.sink.got.p, r.sink.got.n, 4096, 4096, CODEC_RUN, 0, &dec, NULL);
            codec_free(k);
            if (rc == CODEC_ERROR || dec.n != a.n || memcmp(dec.p, a.p, a.n) != 0)
                row_fail("%s full %d: flushed bytes decode to %zu of %zu", coding_name(all[i]),
                         full, dec.n, a.n);
            bytes_free(&dec);
            size_t flushed = r.sink.got.n;
            assert_int_equal(chain_flush(&r.ch), 0);
            if (r.sink.got.n != flushed)
                row_fail("%s: a second flush passed %zu bytes", coding_name(all[i]),
                         r.sink.got.n - flushed);
            assert_int_equal(push(&r, b.p, b.n, 4096, true), 0);
            assert_int_equal(chain_end(&r.ch), 0);
            if (!decodes_to(all[i], &r.sink.got, &ab) || r.sink.ends != 1)
                row_fail("%s full %d: the whole stream", coding_name(all[i]), full);
            rig_close(&r);
        }
    }
    bytes_free(&a);
    bytes_free(&b);
    bytes_free(&ab);
    rows_done();
}

/* ---- broken streams ---- */

static void test_corrupt(void **state)
{
    struct bytes in = text(30000, 8);
    (void)state;
    for (size_t i = 0; i < N(all); i++) {
        struct bytes enc = encoded(all[i], &in);
        struct bytes garbage = {0}, cut = {enc.p, enc.n / 2, 0}, tail = {0};
        bytes_add(&garbage, "\xff\xfe this is not it", 18);
        bytes_add(&tail, enc.p, enc.n);
        bytes_add(&tail, "trailing", 8);
        const struct {
            const char *what;
            const struct bytes *b;
            bool paced;          /* the sink full until resumed: the failure comes in resume */
            const char *because; /* in why */
        } rows[] = {
            {"garbage", &garbage, false, ""},        {"garbage", &garbage, true, ""},
            {"truncated", &cut, false, "truncated"}, {"truncated", &cut, true, "truncated"},
            {"trailing bytes", &tail, false, ""},
        };
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "corrupt %s stream: ", coding_name(all[i]));
        for (size_t j = 0; j < N(rows); j++) {
            struct rig r;
            rig_init(&r, CODING_IDENTITY, all[i]);
            r.sink.budget = rows[j].paced ? 0 : ALWAYS;
            filter_set_why(""); /* what a failure says is this row's */
            int rc = push(&r, rows[j].b->p, rows[j].b->n, 4096, false);
            if (rc == 0)
                rc = chain_end(&r.ch);
            if (rows[j].paced && rc == 0) {
                r.sink.budget = ALWAYS;
                chain_resume(&r.ch);
                rc = r.ch.failed ? -1 : 0;
            }
            const char *why = filter_why();
            if (rc != -1 || !r.ch.failed || strncmp(why, prefix, strlen(prefix)) != 0 ||
                !strstr(why, rows[j].because) || r.sink.ends || r.resumes)
                row_fail("%s %s%s: rc %d, why \"%s\", %zu ends, %d resumes", coding_name(all[i]),
                         rows[j].what, rows[j].paced ? " (paced)" : "", rc, why, r.sink.ends,
                         r.resumes);
            /* a failed chain takes nothing more */
            if (push(&r, in.p, 10, 10, false) != -1)
                row_fail("%s %s: a push after the failure", coding_name(all[i]), rows[j].what);
            rig_close(&r);
        }
        bytes_free(&enc);
        bytes_free(&garbage);
        bytes_free(&tail);
    }
    bytes_free(&in);
    rows_done();
}

/* ---- empty bodies, closing ---- */

static void test_empty_body(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(all); i++) {
        for (int dir = 0; dir < 2; dir++) {
            struct rig r;
            rig_init(&r, dir ? CODING_IDENTITY : all[i], dir ? all[i] : CODING_IDENTITY);
            struct piece none = piece_mem("", 0, false);
            assert_int_equal(chain_push(&r.ch, &none), 0);
            assert_int_equal(chain_flush(&r.ch), 0);
            assert_int_equal(chain_end(&r.ch), 0);
            if (r.sink.pieces || r.sink.ends != 1)
                row_fail("%s %s: an empty body gave %zu pieces, %zu ends", coding_name(all[i]),
                         dir ? "decoding" : "encoding", r.sink.pieces, r.sink.ends);
            rig_close(&r);
        }
    }
    rows_done();
}

/* Closed while holding input and output: everything freed (ASan's leak
   check says so in the sanitized run). */
static void test_close_midway(void **state)
{
    struct bytes in = text(100000, 9);
    (void)state;
    for (size_t i = 0; i < N(all); i++) {
        struct rig r;
        rig_init(&r, all[i], all[i]);
        r.sink.budget = 0;
        assert_int_equal(push(&r, in.p, in.n, 30000, false), 0);
        assert_false(chain_room(&r.ch));
        r.sink.budget = 3;
        chain_resume(&r.ch);
        rig_close(&r);
        assert_false(chain_filtered(&r.ch));
    }
    bytes_free(&in);
    rows_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_open, rows_reset),
        cmocka_unit_test_setup(test_round_trips, rows_reset),
        cmocka_unit_test_setup(test_encode_then_decode, rows_reset),
        cmocka_unit_test_setup(test_file_pieces, rows_reset),
        cmocka_unit_test_setup(test_bomb_paced, rows_reset),
        cmocka_unit_test_setup(test_end_while_held, rows_reset),
        cmocka_unit_test_setup(test_pushed_without_room, rows_reset),
        cmocka_unit_test_setup(test_flush, rows_reset),
        cmocka_unit_test_setup(test_corrupt, rows_reset),
        cmocka_unit_test_setup(test_empty_body, rows_reset),
        cmocka_unit_test_setup(test_close_midway, rows_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
