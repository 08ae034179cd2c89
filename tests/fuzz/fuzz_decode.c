/*
 * fuzz_decode.c - the decoders (codec.c) and the decode filter
 * (compress.c) on bytes from a peer or the disk. Each input goes to one
 * coding's decoder through small output buffers, the input split where
 * the fuzzer chooses, its output bounded (a bomb is stopped, not
 * followed). A stream that decodes whole is encoded again and must come
 * back the same. The same bytes then go through a chain holding the
 * decode filter into a sink with room for one piece at a time, which must
 * agree with the codec: the same bytes, the same verdict.
 *
 * Input: byte 0 picks options: bits 0-1 the coding (gzip, deflate, br,
 * zstd), bits 2-4 the output buffer size, bits 5-7 the input slice; the
 * rest is the encoded body.
 */
#include <stdbool.h>
#include <stdio.h>

#include "../unit/codec_run.h"
#include "compress.h"
#include "fuzz.h"

#define OUT_MAX (1u << 20) /* what one input may decode to before it is cut off */

static const enum coding codings[] = {CODING_GZIP, CODING_DEFLATE, CODING_BR, CODING_ZSTD};
static const size_t out_steps[] = {1, 2, 3, 7, 64, 512, 4096, 16384};
static const size_t in_steps[] = {1, 2, 5, 16, 100, 1000, 4096, SIZE_MAX};

/* The longer of a and b starts with the shorter. */
static bool prefix_of(const struct bytes *a, const struct bytes *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    return !n || memcmp(a->p, b->p, n) == 0;
}

static void round_trip(enum coding c, const struct bytes *plain, int level)
{
    struct bytes enc = {0}, dec = {0};
    if (codec_all(c, CODEC_ENCODE, level, plain->p, plain->n, 4096, 4096, &enc) != CODEC_END ||
        codec_all(c, CODEC_DECODE, 0, enc.p, enc.n, 4096, 4096, &dec) != CODEC_END ||
        dec.n != plain->n || !prefix_of(&dec, plain))
        abort();
    bytes_free(&enc);
    bytes_free(&dec);
}

/* ---- the filter ---- */

struct sink {
    struct bytes got;
    size_t cap; /* more than this fails the body, as a client that left would */
    size_t budget, ends, early;
};

static int sink_piece(void *arg, const struct piece *pc)
{
    struct sink *s = arg;
    if (!s->budget)
        s->early++;
    else
        s->budget--;
    if (pc->kind != PIECE_MEM || pc->len > COMPRESS_SLICE)
        abort();
    bytes_add(&s->got, pc->p, pc->len);
    return s->got.n > s->cap ? -1 : 0;
}

static int sink_end(void *arg)
{
    ((struct sink *)arg)->ends++;
    return 0;
}

static bool sink_room(void *arg)
{
    return ((struct sink *)arg)->budget > 0;
}

static const struct sink_ops sink_ops = {sink_piece, sink_end, sink_room};

/* The filter, paced one piece a round; returns whether the body broke. */
static bool through_filter(enum coding c, const uint8_t *p, size_t n, size_t step, struct sink *s)
{
    static const struct filter_ops *const list[] = {&compress_decode_filter};
    struct filter_head h = {.status = 200, .length = (int64_t)n, .decode = c};
    struct chain ch;
    chain_init(&ch, &sink_ops, s, NULL, NULL);
    filter_set_why("");
    if (chain_open(&ch, list, 1, &h) < 0 || !chain_filtered(&ch) || h.length != -1)
        abort();
    size_t off = 0;
    bool ended = false;
    /* every round moves a byte of input or a piece of output, or ends */
    for (size_t round = 0; round < 4 * (n + OUT_MAX) && !ch.failed && !s->ends; round++) {
        s->budget = 1;
        if (off < n && chain_room(&ch)) {
            size_t len = n - off < step ? n - off : step;
            struct piece pc = piece_mem(p + off, len, false);
            off += len;
            chain_push(&ch, &pc);
        } else if (off == n && !ended) {
            ended = true;
            chain_end(&ch);
        } else {
            chain_resume(&ch);
        }
        s->budget = 0;
    }
    bool failed = ch.failed;
    if (failed && s->got.n <= s->cap && !*filter_why())
        abort(); /* a body the filter broke says why (the sink's own refusal does not) */
    if (!failed && !s->ends)
        abort(); /* neither ended nor failed: it stalled */
    if (s->early)
        abort(); /* a piece given without room */
    chain_close(&ch);
    return failed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t opt = fuzz_byte(&data, &size);
    enum coding c = codings[opt & 3];
    size_t out_step = out_steps[(opt >> 2) & 7];
    size_t in_step = in_steps[(opt >> 5) & 7];
    /* byte by byte, a bomb is followed only so far */
    size_t max_out = out_step * 4096 < OUT_MAX ? out_step * 4096 : OUT_MAX;

    struct codec *k = codec_new(c, CODEC_DECODE, 0);
    struct bytes out = {0};
    if (!k)
        abort();
    int rc = codec_run(k, data, size, in_step, out_step, CODEC_FINISH, max_out, &out, NULL);
    if (rc == CODEC_RUN_STUCK || out.n > max_out + out_step)
        abort();
    if (rc == CODEC_ERROR && !*codec_error(k))
        abort();
    codec_free(k);
    if (rc == CODEC_END && out.n <= 65536)
        round_trip(c, &out, (int)(size % 10));

    /* room for all the codec could have made, so the two stop alike */
    struct sink s = {.cap = max_out + out_step};
    bool failed = through_filter(c, data, size, in_step, &s);
    if (!prefix_of(&s.got, &out))
        abort();
    if (size == 0 && (failed || s.got.n))
        abort(); /* an empty body stays empty */
    if (size && rc == CODEC_END && (failed || s.got.n != out.n))
        abort();
    if (size && rc == CODEC_ERROR && !failed)
        abort();
    bytes_free(&s.got);
    bytes_free(&out);
    return 0;
}
