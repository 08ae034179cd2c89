/*
 * test_codec.c - codec.c through its public API: round trips of every
 * coding at its levels through slices of every size down to one byte in
 * and one byte out (checked against the libraries' own one-shot
 * decoders), flushes that make the bytes so far decodable, gzip members
 * one after another, raw deflate, corrupt, truncated and over-long
 * streams, windows past CODEC_MAX_WINDOW, and a bomb decoded a slice at a
 * time within bounded memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "codec.h"

#include "codec_run.h"
#include "rows.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MIB (1024 * 1024)
#define SPIN_MAX (4 * MIB) /* a flush that never completes stops here */

static const enum coding all[] = {CODING_GZIP, CODING_DEFLATE, CODING_BR, CODING_ZSTD};

/* ---- inputs ---- */

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Words and numbers, compressible like a page of text. */
static struct bytes text(size_t n, uint32_t seed)
{
    static const char *const words[] = {"magpie ", "caches ", "the ",      "response ", "and ",
                                        "serves ", "it ",     "again, ",   "fresh ",    "stale\n",
                                        "<div> ",  "</div> ", "\"etag\" ", "vary: "};
    struct bytes b = {0};
    char num[16];
    while (b.n < n) {
        const char *w = words[lcg(&seed) % N(words)];
        bytes_add(&b, w, strlen(w));
        if (lcg(&seed) % 7 == 0) {
            int len = snprintf(num, sizeof(num), "%u ", lcg(&seed) % 100000);
            bytes_add(&b, num, (size_t)len);
        }
    }
    b.n = n;
    return b;
}

static struct bytes noise(size_t n, uint32_t seed)
{
    struct bytes b = {0};
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)lcg(&seed);
        bytes_add(&b, &c, 1);
    }
    return b;
}

static struct bytes encoded(enum coding c, int level, const struct bytes *in)
{
    struct bytes out = {0};
    assert_int_equal(codec_all(c, CODEC_ENCODE, level, in->p, in->n, 65536, 65536, &out),
                     CODEC_END);
    return out;
}

/* The libraries' own one-shot decoders, for a second opinion. */
static bool reference_decode(enum coding c, const struct bytes *enc, const struct bytes *want)
{
    size_t cap = want->n + 1;
    uint8_t *dst = malloc(cap);
    size_t got = 0;
    bool ok = false;
    assert_non_null(dst);
    switch (c) {
    case CODING_GZIP:
    case CODING_DEFLATE: {
        z_stream s = {0};
        if (inflateInit2(&s, c == CODING_GZIP ? 15 + 16 : 15) != Z_OK)
            break;
        s.next_in = enc->p;
        s.avail_in = (uInt)enc->n;
        s.next_out = dst;
        s.avail_out = (uInt)cap;
        ok = inflate(&s, Z_FINISH) == Z_STREAM_END && s.avail_in == 0;
        got = s.total_out;
        inflateEnd(&s);
        break;
    }
    case CODING_BR:
        got = cap;
        ok = BrotliDecoderDecompress(enc->n, enc->p, &got, dst) == BROTLI_DECODER_RESULT_SUCCESS;
        break;
    case CODING_ZSTD:
        got = ZSTD_decompress(dst, cap, enc->p, enc->n);
        ok = !ZSTD_isError(got);
        break;
    case CODING_IDENTITY:
    case CODING_UNKNOWN:
        break;
    }
    ok = ok && got == want->n && (!got || memcmp(dst, want->p, got) == 0);
    free(dst);
    return ok;
}

/* What each coding's stream opens with. */
static bool opens_right(enum coding c, const struct bytes *enc)
{
    const uint8_t *p = enc->p;
    switch (c) {
    case CODING_GZIP:
        return enc->n >= 18 && p[0] == 0x1f && p[1] == 0x8b;
    case CODING_DEFLATE:
        return enc->n >= 6 && (p[0] & 0x0f) == 8 && ((p[0] << 8) | p[1]) % 31 == 0;
    case CODING_ZSTD:
        return enc->n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd;
    case CODING_BR:
        return enc->n >= 1;
    case CODING_IDENTITY:
    case CODING_UNKNOWN:
        break;
    }
    return false;
}

/* ---- round trips ---- */

static void test_new_refuses(void **state)
{
    (void)state;
    assert_null(codec_new(CODING_IDENTITY, CODEC_ENCODE, 6));
    assert_null(codec_new(CODING_IDENTITY, CODEC_DECODE, 6));
    assert_null(codec_new(CODING_UNKNOWN, CODEC_ENCODE, 6));
    assert_null(codec_new(CODING_UNKNOWN, CODEC_DECODE, 6));
    assert_null(codec_new((enum coding)42, CODEC_DECODE, 6));
    codec_free(NULL);
    rows_done();
}

static void test_round_trips(void **state)
{
    /* levels at each end of each range, the defaults, and some out of range (clamped) */
    static const struct {
        enum coding c;
        int level;
    } levels[] = {
        {CODING_GZIP, 1},  {CODING_GZIP, 6},    {CODING_GZIP, 9},    {CODING_GZIP, 0},
        {CODING_GZIP, 99}, {CODING_DEFLATE, 1}, {CODING_DEFLATE, 9}, {CODING_BR, 0},
        {CODING_BR, 5},    {CODING_BR, 11},     {CODING_BR, -3},     {CODING_ZSTD, 1},
        {CODING_ZSTD, 3},  {CODING_ZSTD, 19},   {CODING_ZSTD, -7},   {CODING_ZSTD, 22},
    };
    static const struct {
        size_t in, out;
    } steps[] = {
        {1, 1}, {1, 4096}, {4096, 1}, {7, 13}, {16384, 16384}, {SIZE_MAX, 65536},
    };
    struct bytes inputs[] = {{0}, {0}, text(40000, 1), noise(20000, 2), {0}};
    bytes_add(&inputs[1], "a", 1);
    struct bytes mixed = text(30000, 3);
    bytes_add(&mixed, inputs[3].p, 5000);
    inputs[4] = mixed;
    (void)state;
    for (size_t l = 0; l < N(levels); l++) {
        enum coding c = levels[l].c;
        for (size_t d = 0; d < N(inputs); d++) {
            for (size_t s = 0; s < N(steps); s++) {
                const struct bytes *in = &inputs[d];
                /* decode in other slices than the encoding took */
                size_t t = (s + 1) % N(steps);
                /* byte by byte, a few thousand bytes say as much as all */
                bool tiny =
                    steps[s].in < 16 || steps[s].out < 16 || steps[t].in < 16 || steps[t].out < 16;
                struct bytes part = {in->p, tiny && in->n > 6000 ? 6000 : in->n, 0};
                in = &part;
                struct bytes enc = {0}, dec = {0};
                int rc = codec_all(c, CODEC_ENCODE, levels[l].level, in->p, in->n, steps[s].in,
                                   steps[s].out, &enc);
                if (rc != CODEC_END || !opens_right(c, &enc)) {
                    row_fail("%s level %d, input %zu, steps %zu: encoding rc %d, %zu bytes",
                             coding_name(c), levels[l].level, d, s, rc, enc.n);
                    bytes_free(&enc);
                    continue;
                }
                /* brotli's fastest levels encode each call's input on its own */
                bool whole = levels[l].c != CODING_BR || levels[l].level > 1 || steps[s].in >= 4096;
                if (d == 2 && whole && enc.n > in->n / 2)
                    row_fail("%s level %d: text of %zu bytes encoded to %zu", coding_name(c),
                             levels[l].level, in->n, enc.n);
                if (!reference_decode(c, &enc, in))
                    row_fail("%s level %d, input %zu, steps %zu: the library's decoder disagrees",
                             coding_name(c), levels[l].level, d, s);
                rc = codec_all(c, CODEC_DECODE, 0, enc.p, enc.n, steps[t].in, steps[t].out, &dec);
                if (rc != CODEC_END || dec.n != in->n || (in->n && memcmp(dec.p, in->p, in->n)))
                    row_fail("%s level %d, input %zu, steps %zu/%zu: decoding rc %d, %zu of %zu "
                             "bytes",
                             coding_name(c), levels[l].level, d, s, t, rc, dec.n, in->n);
                bytes_free(&enc);
                bytes_free(&dec);
            }
        }
    }
    for (size_t d = 0; d < N(inputs); d++)
        bytes_free(&inputs[d]);
    rows_done();
}

/* ---- flush ---- */

static void test_flush(void **state)
{
    static const size_t outs[] = {1, 5, 16, 4096};
    struct bytes a = text(10000, 4), b = text(7000, 5);
    (void)state;
    for (size_t i = 0; i < N(all); i++) {
        for (size_t o = 0; o < N(outs); o++) {
            enum coding c = all[i];
            struct codec *k = codec_new(c, CODEC_ENCODE, 6);
            struct bytes enc = {0}, dec = {0}, whole = {0};
            assert_non_null(k);
            int rc = codec_run(k, a.p, a.n, 1000, outs[o], CODEC_FLUSH, SPIN_MAX, &enc, NULL);
            if (rc != CODEC_OK)
                row_fail("%s out %zu: flush rc %d", coding_name(c), outs[o], rc);
            /* what came out so far decodes to all that went in */
            struct codec *d = codec_new(c, CODEC_DECODE, 0);
            rc = codec_run(d, enc.p, enc.n, 4096, 4096, CODEC_RUN, SPIN_MAX, &dec, NULL);
            codec_free(d);
            if (rc == CODEC_ERROR || dec.n != a.n || memcmp(dec.p, a.p, a.n) != 0)
                row_fail("%s out %zu: %zu bytes flushed decode to %zu of %zu", coding_name(c),
                         outs[o], enc.n, dec.n, a.n);
            /* a flush with nothing new adds nothing */
            size_t before = enc.n;
            rc = codec_run(k, NULL, 0, 1, outs[o], CODEC_FLUSH, SPIN_MAX, &enc, NULL);
            if (rc != CODEC_OK || enc.n != before)
                row_fail("%s out %zu: a second flush: rc %d, %zu more bytes", coding_name(c),
                         outs[o], rc, enc.n - before);
            rc = codec_run(k, b.p, b.n, 999, outs[o], CODEC_FINISH, SPIN_MAX, &enc, NULL);
            codec_free(k);
            bytes_add(&whole, a.p, a.n);
            bytes_add(&whole, b.p, b.n);
            if (rc != CODEC_END || !reference_decode(c, &enc, &whole))
                row_fail("%s out %zu: the finished stream: rc %d", coding_name(c), outs[o], rc);
            bytes_free(&enc);
            bytes_free(&dec);
            bytes_free(&whole);
        }
    }
    bytes_free(&a);
    bytes_free(&b);
    rows_done();
}

/* A flush before any input, and encoders finished with nothing at all. */
static void test_empty_streams(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(all); i++) {
        struct codec *k = codec_new(all[i], CODEC_ENCODE, 3);
        struct bytes enc = {0}, dec = {0}, none = {0};
        assert_non_null(k);
        int rc1 = codec_run(k, NULL, 0, 1, 64, CODEC_FLUSH, SPIN_MAX, &enc, NULL);
        int rc2 = codec_run(k, NULL, 0, 1, 64, CODEC_FINISH, 0, &enc, NULL);
        /* finished is finished: again END, and input is refused */
        int rc3 = codec_run(k, NULL, 0, 1, 64, CODEC_FINISH, 0, &enc, NULL);
        int rc4 = codec_run(k, (const uint8_t *)"x", 1, 1, 64, CODEC_RUN, 0, &enc, NULL);
        codec_free(k);
        if (rc1 != CODEC_OK || rc2 != CODEC_END || rc3 != CODEC_END || rc4 != CODEC_ERROR)
            row_fail("%s: rc %d %d %d %d", coding_name(all[i]), rc1, rc2, rc3, rc4);
        if (!reference_decode(all[i], &enc, &none))
            row_fail("%s: the empty stream does not decode", coding_name(all[i]));
        if (codec_all(all[i], CODEC_DECODE, 0, enc.p, enc.n, 1, 1, &dec) != CODEC_END || dec.n)
            row_fail("%s: decoding the empty stream", coding_name(all[i]));
        bytes_free(&enc);
        bytes_free(&dec);
    }
    rows_done();
}

/* ---- gzip members, raw deflate ---- */

static void test_gzip_members(void **state)
{
    static const char *const parts[] = {"Hello, ", "", "world", "!\n"};
    struct bytes stream = {0}, want = {0};
    size_t ends[N(parts)];
    (void)state;
    for (size_t i = 0; i < N(parts); i++) {
        struct bytes p = {0};
        bytes_add(&p, parts[i], strlen(parts[i]));
        struct bytes m = encoded(CODING_GZIP, 6, &p);
        bytes_add(&stream, m.p, m.n);
        bytes_add(&want, p.p, p.n);
        ends[i] = stream.n;
        bytes_free(&m);
        bytes_free(&p);
    }
    static const size_t steps[] = {1, 2, 19, 4096};
    for (size_t s = 0; s < N(steps); s++) {
        struct bytes dec = {0};
        int rc =
            codec_all(CODING_GZIP, CODEC_DECODE, 0, stream.p, stream.n, steps[s], steps[s], &dec);
        if (rc != CODEC_END || dec.n != want.n || memcmp(dec.p, want.p, want.n) != 0)
            row_fail("steps %zu: rc %d, %.*s", steps[s], rc, (int)dec.n, (char *)dec.p);
        bytes_free(&dec);
    }
    /* each member ends the stream for now; the next one starts it again */
    struct codec *k = codec_new(CODING_GZIP, CODEC_DECODE, 0);
    struct bytes dec = {0};
    size_t from = 0;
    for (size_t i = 0; i < N(parts); i++) {
        bool last = i + 1 == N(parts);
        int rc = codec_run(k, stream.p + from, ends[i] - from, 4096, 4096,
                           last ? CODEC_FINISH : CODEC_RUN, 0, &dec, NULL);
        if (rc != CODEC_END)
            row_fail("member %zu: rc %d", i, rc);
        from = ends[i];
    }
    if (dec.n != want.n || memcmp(dec.p, want.p, want.n) != 0)
        row_fail("member by member: %.*s", (int)dec.n, (char *)dec.p);
    codec_free(k);
    bytes_free(&dec);

    /* only gzip: two zlib streams or zstd frames in a row are refused */
    static const enum coding single[] = {CODING_DEFLATE, CODING_BR, CODING_ZSTD};
    for (size_t i = 0; i < N(single); i++) {
        struct bytes one = encoded(single[i], 3, &want), two = {0}, out = {0};
        bytes_add(&two, one.p, one.n);
        bytes_add(&two, one.p, one.n);
        int rc = codec_all(single[i], CODEC_DECODE, 0, two.p, two.n, 4096, 4096, &out);
        if (rc != CODEC_ERROR)
            row_fail("%s: two streams in a row: rc %d", coding_name(single[i]), rc);
        bytes_free(&one);
        bytes_free(&two);
        bytes_free(&out);
    }
    bytes_free(&stream);
    bytes_free(&want);
    rows_done();
}

static struct bytes raw_deflate(const struct bytes *in, int level)
{
    z_stream s = {0};
    struct bytes out = {0};
    uint8_t buf[4096];
    assert_int_equal(deflateInit2(&s, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    s.next_in = in->p;
    s.avail_in = (uInt)in->n;
    int rc;
    do {
        s.next_out = buf;
        s.avail_out = sizeof(buf);
        rc = deflate(&s, Z_FINISH);
        bytes_add(&out, buf, sizeof(buf) - s.avail_out);
    } while (rc == Z_OK);
    assert_int_equal(rc, Z_STREAM_END);
    deflateEnd(&s);
    return out;
}

static void test_raw_deflate(void **state)
{
    static const int levels[] = {0, 1, 6, 9};
    static const size_t steps[] = {1, 3, 4096, SIZE_MAX};
    struct bytes inputs[] = {text(30000, 6), noise(3000, 7), {0}};
    (void)state;
    for (size_t d = 0; d < N(inputs); d++) {
        for (size_t l = 0; l < N(levels); l++) {
            struct bytes raw = raw_deflate(&inputs[d], levels[l]);
            if (raw.n >= 2 && (raw.p[0] & 0x0f) == 8 && ((raw.p[0] << 8) | raw.p[1]) % 31 == 0)
                row_fail("input %zu level %d: raw deflate that looks like zlib", d, levels[l]);
            for (size_t s = 0; s < N(steps); s++) {
                struct bytes dec = {0};
                size_t out = steps[s] == SIZE_MAX ? 65536 : steps[s];
                int rc =
                    codec_all(CODING_DEFLATE, CODEC_DECODE, 0, raw.p, raw.n, steps[s], out, &dec);
                if (rc != CODEC_END || dec.n != inputs[d].n ||
                    (dec.n && memcmp(dec.p, inputs[d].p, dec.n) != 0))
                    row_fail("input %zu level %d steps %zu: rc %d, %zu bytes", d, levels[l],
                             steps[s], rc, dec.n);
                bytes_free(&dec);
            }
            bytes_free(&raw);
        }
    }
    for (size_t d = 0; d < N(inputs); d++)
        bytes_free(&inputs[d]);
    rows_done();
}

/* ---- broken streams ---- */

/* A stream of c with one byte changed (at off from the end when off < 0). */
static struct bytes damaged(enum coding c, const struct bytes *in, long off, uint8_t xor)
{
    struct bytes enc = encoded(c, 6, in);
    size_t at = off < 0 ? enc.n - (size_t)-off : (size_t)off;
    assert_true(at < enc.n);
    enc.p[at] ^= xor;
    return enc;
}

static void test_corrupt(void **state)
{
    struct bytes t = text(20000, 8);
    struct bytes nonsense = {0};
    bytes_add(&nonsense, "this is not a compressed stream at all, just text", 49);
    static const struct {
        enum coding c;
        long off; /* from the end when negative */
        uint8_t xor ;
        const char *what;
    } flips[] = {
        {CODING_GZIP, 0, 0xff, "the magic"},
        {CODING_GZIP, 2, 0x01, "the method"},
        {CODING_GZIP, -8, 0x01, "the CRC"},
        {CODING_GZIP, -1, 0x01, "the length"},
        {CODING_DEFLATE, 1, 0x01, "the header check"},
        {CODING_DEFLATE, -1, 0x80, "the Adler-32"},
        {CODING_BR, 1, 0xff, "the first meta-block header"},
        {CODING_BR, -1, 0xff, "the last byte"},
        {CODING_ZSTD, 0, 0x01, "the magic"},
        {CODING_ZSTD, 0, 0x28 ^ 0x25, "the magic, to a legacy one (v0.5)"},
        {CODING_ZSTD, -1, 0x01, "the checksum"},
        {CODING_ZSTD, 4, 0x08, "the frame header's reserved bit"},
    };
    (void)state;
    for (size_t i = 0; i < N(flips); i++) {
        struct bytes enc = damaged(flips[i].c, &t, flips[i].off, flips[i].xor), dec = {0};
        struct codec *k = codec_new(flips[i].c, CODEC_DECODE, 0);
        int rc = codec_run(k, enc.p, enc.n, 4096, 4096, CODEC_FINISH, 0, &dec, NULL);
        const char *err = codec_error(k);
        if (rc != CODEC_ERROR || !err || !*err || strcmp(err, "no error") == 0)
            row_fail("%s, %s changed: rc %d, error \"%s\"", coding_name(flips[i].c), flips[i].what,
                     rc, err ? err : "(null)");
        /* broken stays broken */
        uint8_t o[16], *op = o;
        size_t ol = sizeof(o), none = 0;
        const uint8_t *ip = NULL;
        if (codec_step(k, &ip, &none, &op, &ol, CODEC_FINISH) != CODEC_ERROR)
            row_fail("%s, %s changed: a step after the error did not fail", coding_name(flips[i].c),
                     flips[i].what);
        codec_free(k);
        bytes_free(&enc);
        bytes_free(&dec);
    }
    for (size_t i = 0; i < N(all); i++) {
        struct bytes dec = {0};
        int rc = codec_all(all[i], CODEC_DECODE, 0, nonsense.p, nonsense.n, 7, 7, &dec);
        if (rc != CODEC_ERROR)
            row_fail("%s: plain text decoded: rc %d", coding_name(all[i]), rc);
        bytes_free(&dec);
    }
    bytes_free(&t);
    bytes_free(&nonsense);
    rows_done();
}

static void test_truncated(void **state)
{
    struct bytes t = text(40000, 9);
    (void)state;
    for (size_t i = 0; i < N(all); i++) {
        struct bytes enc = encoded(all[i], 6, &t);
        const size_t cuts[] = {0, 1, 2, 10, enc.n / 2, enc.n - 4, enc.n - 1};
        for (size_t j = 0; j < N(cuts); j++) {
            struct bytes dec = {0};
            struct codec *k = codec_new(all[i], CODEC_DECODE, 0);
            int rc = codec_run(k, enc.p, cuts[j], 1000, 1000, CODEC_FINISH, 0, &dec, NULL);
            if (rc != CODEC_ERROR || !strstr(codec_error(k), "truncated"))
                row_fail("%s cut at %zu of %zu: rc %d, \"%s\"", coding_name(all[i]), cuts[j], enc.n,
                         rc, codec_error(k));
            codec_free(k);
            /* the same bytes without the finish are only "not yet" */
            k = codec_new(all[i], CODEC_DECODE, 0);
            rc = codec_run(k, enc.p, cuts[j], 1000, 1000, CODEC_RUN, 0, &dec, NULL);
            if (rc != CODEC_OK)
                row_fail("%s cut at %zu, not finished: rc %d", coding_name(all[i]), cuts[j], rc);
            codec_free(k);
            bytes_free(&dec);
        }
        bytes_free(&enc);
    }
    bytes_free(&t);
    rows_done();
}

static void test_trailing(void **state)
{
    static const char *const tails[] = {"x", "\n", "garbage after the stream"};
    struct bytes t = text(5000, 10);
    (void)state;
    for (size_t i = 0; i < N(all); i++) {
        struct bytes enc = encoded(all[i], 6, &t);
        for (size_t j = 0; j < N(tails); j++) {
            const uint8_t *tail = (const uint8_t *)tails[j];
            size_t tl = strlen(tails[j]);
            /* in the same call as the stream's end */
            struct bytes both = {0}, dec = {0};
            bytes_add(&both, enc.p, enc.n);
            bytes_add(&both, tail, tl);
            int rc = codec_all(all[i], CODEC_DECODE, 0, both.p, both.n, 4096, 4096, &dec);
            if (rc != CODEC_ERROR)
                row_fail("%s + \"%s\" together: rc %d", coding_name(all[i]), tails[j], rc);
            /* in a call of its own after the end */
            struct codec *k = codec_new(all[i], CODEC_DECODE, 0);
            int rc1 = codec_run(k, enc.p, enc.n, 4096, 4096, CODEC_RUN, 0, &dec, NULL);
            int rc2 = codec_run(k, tail, tl, 1, 1, CODEC_FINISH, 0, &dec, NULL);
            if (rc1 != CODEC_END || rc2 != CODEC_ERROR)
                row_fail("%s + \"%s\" apart: rc %d then %d", coding_name(all[i]), tails[j], rc1,
                         rc2);
            codec_free(k);
            bytes_free(&both);
            bytes_free(&dec);
        }
        bytes_free(&enc);
    }
    bytes_free(&t);
    rows_done();
}

/* ---- windows ---- */

/* A zstd frame by hand: no content size, window 2^wlog, one raw block "a". */
static struct bytes zstd_frame(unsigned wlog)
{
    struct bytes f = {0};
    const uint8_t head[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, (uint8_t)((wlog - 10) << 3),
                            0x09, 0x00, 0x00, 'a'};
    bytes_add(&f, head, sizeof(head));
    return f;
}

static struct bytes zstd_real(int wlog, size_t n)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    struct bytes in = text(n, 11), out = {0};
    assert_non_null(c);
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, wlog)));
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0)));
    size_t cap = ZSTD_compressBound(n);
    out.p = malloc(cap);
    out.cap = cap;
    ZSTD_inBuffer i = {in.p, in.n, 0};
    ZSTD_outBuffer o = {out.p, cap, 0};
    /* a first call that does not end: zstd does not know the size, and
       cannot shrink the window to it */
    assert_false(ZSTD_isError(ZSTD_compressStream2(c, &o, &i, ZSTD_e_continue)));
    assert_int_equal(i.pos, i.size);
    assert_int_equal(ZSTD_compressStream2(c, &o, &i, ZSTD_e_end), 0);
    out.n = o.pos;
    ZSTD_freeCCtx(c);
    bytes_free(&in);
    return out;
}

static void test_zstd_window(void **state)
{
    static const struct {
        unsigned wlog;
        bool real; /* made by libzstd rather than by hand */
        bool ok;
    } rows[] = {
        {10, false, true},  {20, false, true},  {23, false, true},
        {24, false, false}, {27, false, false}, {31, false, false},
        {23, true, true},   {24, true, false},  {26, true, false},
    };
    (void)state;
    for (size_t i = 0; i < N(rows); i++) {
        struct bytes f =
            rows[i].real ? zstd_real((int)rows[i].wlog, 2000) : zstd_frame(rows[i].wlog);
        struct bytes dec = {0};
        struct codec *k = codec_new(CODING_ZSTD, CODEC_DECODE, 0);
        int rc = codec_run(k, f.p, f.n, 4096, 4096, CODEC_FINISH, 0, &dec, NULL);
        if ((rc == CODEC_END) != rows[i].ok || (!rows[i].ok && rc != CODEC_ERROR))
            row_fail("window 2^%u (%s): rc %d, \"%s\"", rows[i].wlog,
                     rows[i].real ? "libzstd" : "by hand", rc, codec_error(k));
        if (!rows[i].ok && rc == CODEC_ERROR && dec.n)
            row_fail("window 2^%u: %zu bytes decoded anyway", rows[i].wlog, dec.n);
        codec_free(k);
        bytes_free(&f);
        bytes_free(&dec);
    }
    rows_done();
}

static struct bytes br_with(int lgwin, bool large, const struct bytes *in)
{
    BrotliEncoderState *e = BrotliEncoderCreateInstance(NULL, NULL, NULL);
    struct bytes out = {0};
    assert_non_null(e);
    assert_true(BrotliEncoderSetParameter(e, BROTLI_PARAM_QUALITY, 5));
    assert_true(BrotliEncoderSetParameter(e, BROTLI_PARAM_LARGE_WINDOW, large));
    assert_true(BrotliEncoderSetParameter(e, BROTLI_PARAM_LGWIN, (uint32_t)lgwin));
    size_t cap = BrotliEncoderMaxCompressedSize(in->n) + 64;
    out.p = malloc(cap);
    out.cap = cap;
    size_t avail_in = in->n, avail_out = cap;
    const uint8_t *next_in = in->p;
    uint8_t *next_out = out.p;
    assert_true(BrotliEncoderCompressStream(e, BROTLI_OPERATION_FINISH, &avail_in, &next_in,
                                            &avail_out, &next_out, NULL));
    assert_true(BrotliEncoderIsFinished(e));
    out.n = cap - avail_out;
    BrotliEncoderDestroyInstance(e);
    return out;
}

static void test_br_window(void **state)
{
    static const struct {
        int lgwin;
        bool large;
        bool ok;
    } rows[] = {
        {10, false, true}, {15, false, true}, {16, false, true}, {17, false, true},
        {18, false, true}, {22, false, true}, {23, false, true}, {24, false, true},
        {25, true, false}, {30, true, false},
    };
    struct bytes t = text(50000, 12);
    (void)state;
    for (size_t i = 0; i < N(rows); i++) {
        struct bytes enc = br_with(rows[i].lgwin, rows[i].large, &t), dec = {0};
        if (rows[i].lgwin == 24 && (enc.p[0] & 0x0f) != 0x0f)
            row_fail("brotli wrote window bits %#x for lgwin 24", enc.p[0] & 0x0f);
        struct codec *k = codec_new(CODING_BR, CODEC_DECODE, 0);
        int rc = codec_run(k, enc.p, enc.n, 1, 4096, CODEC_FINISH, 0, &dec, NULL);
        if ((rc == CODEC_END) != rows[i].ok || (!rows[i].ok && rc != CODEC_ERROR))
            row_fail("lgwin %d%s: rc %d, \"%s\"", rows[i].lgwin, rows[i].large ? " (large)" : "",
                     rc, codec_error(k));
        if (rows[i].ok && (dec.n != t.n || memcmp(dec.p, t.p, t.n) != 0))
            row_fail("lgwin %d: decoded %zu of %zu bytes", rows[i].lgwin, dec.n, t.n);
        codec_free(k);
        bytes_free(&enc);
        bytes_free(&dec);
    }
    bytes_free(&t);
    rows_done();
}

/* ---- the bomb ---- */

/* size bytes of zeros, encoded by our encoder without ever holding them. */
static struct bytes bomb(enum coding c, size_t size)
{
    static uint8_t zeros[MIB];
    struct codec *k = codec_new(c, CODEC_ENCODE, c == CODING_BR ? 5 : 9);
    struct bytes out = {0};
    assert_non_null(k);
    for (size_t done = 0; done < size; done += sizeof(zeros))
        assert_int_equal(codec_run(k, zeros, sizeof(zeros), sizeof(zeros), 65536,
                                   done + sizeof(zeros) >= size ? CODEC_FINISH : CODEC_RUN, 0, &out,
                                   NULL),
                         done + sizeof(zeros) >= size ? CODEC_END : CODEC_OK);
    codec_free(k);
    return out;
}

static size_t heap_used(void)
{
    return mallinfo2().uordblks; /* glibc's; under ASan its own heap is not counted */
}

static void test_bomb(void **state)
{
    const size_t size = 64 * MIB, slice = 16384;
    (void)state;
    for (size_t i = 0; i < N(all); i++) {
        struct bytes enc = bomb(all[i], size);
        if (enc.n > size / 500)
            row_fail("%s: %zu zeros encoded to %zu bytes", coding_name(all[i]), size, enc.n);
        size_t base = heap_used(), peak = 0, total = 0, steps = 0, off = 0, nonzero = 0;
        struct codec *k = codec_new(all[i], CODEC_DECODE, 0);
        uint8_t *out = malloc(slice);
        enum codec_rc rc = CODEC_OK;
        /* the decoder writes no more than the space it is given, however
           much its input says, and goes on when given more */
        while (rc == CODEC_OK && steps < 2 * size / slice) {
            const uint8_t *p = enc.p + off;
            size_t left = enc.n - off, room = slice;
            uint8_t *o = out;
            rc = codec_step(k, &p, &left, &o, &room, CODEC_FINISH);
            off = enc.n - left;
            total += slice - room;
            for (size_t j = 0; j < slice - room; j += 997)
                nonzero += out[j] != 0;
            steps++;
            size_t used = heap_used() - base;
            if (heap_used() > base && used > peak)
                peak = used;
        }
        if (rc != CODEC_END || total != size || nonzero || off != enc.n)
            row_fail("%s: rc %d, %zu of %zu bytes, %zu not zero", coding_name(all[i]), rc, total,
                     size, nonzero);
        if (steps < size / slice)
            row_fail("%s: %zu bytes in %zu steps of %zu", coding_name(all[i]), total, steps, slice);
        if (peak > CODEC_MAX_WINDOW + MIB)
            row_fail("%s: the decoder's heap grew by %zu bytes", coding_name(all[i]), peak);
        free(out);
        codec_free(k);
        bytes_free(&enc);
    }
    rows_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_new_refuses, rows_reset),
        cmocka_unit_test_setup(test_round_trips, rows_reset),
        cmocka_unit_test_setup(test_flush, rows_reset),
        cmocka_unit_test_setup(test_empty_streams, rows_reset),
        cmocka_unit_test_setup(test_gzip_members, rows_reset),
        cmocka_unit_test_setup(test_raw_deflate, rows_reset),
        cmocka_unit_test_setup(test_corrupt, rows_reset),
        cmocka_unit_test_setup(test_truncated, rows_reset),
        cmocka_unit_test_setup(test_trailing, rows_reset),
        cmocka_unit_test_setup(test_zstd_window, rows_reset),
        cmocka_unit_test_setup(test_br_window, rows_reset),
        cmocka_unit_test_setup(test_bomb, rows_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
