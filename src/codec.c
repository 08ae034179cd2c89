/*
 * codec.c - the content codings' streaming encoders and decoders (codec.h)
 * over zlib, libbrotli and libzstd. Each library has its own idea of when
 * a flush is done and what may follow an end; this file turns them into
 * the one contract of codec_step, and keeps every decoder's memory within
 * CODEC_MAX_WINDOW whatever the stream asks for.
 */
#include "codec.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#define BR_LGWIN 20      /* the brotli encoder's window: 1 MiB */
#define ZSTD_ENC_WLOG 21 /* the zstd encoder's window at most: 2 MiB */
#define ZSTD_DEC_WLOG 23 /* log2(CODEC_MAX_WINDOW) */
#define STASH 16         /* more than the 6 bytes zlib's sync flush marker needs */
#define GZIP_WBITS (15 + 16)

_Static_assert((1u << ZSTD_DEC_WLOG) == CODEC_MAX_WINDOW, "zstd's window limit is the codec's");

struct zlib_part {
    z_stream s;
    bool live; /* deflateInit2 or inflateInit2 done */
    /* deflate decoding: the first two bytes, which tell a zlib wrapper
       from raw deflate, kept until both are there */
    uint8_t head[2];
    uint8_t nhead, head_off;
    /* encoding: sync flushes into small outputs go through here */
    uint8_t stash[STASH];
    uint8_t stash_off, stash_len;
};

struct br_part {
    BrotliEncoderState *enc;
    BrotliDecoderState *dec;
    bool op_live; /* a flush or finish is under way: brotli wants it finished without new input */
    BrotliEncoderOperation op;
};

struct zstd_part {
    ZSTD_CCtx *c;
    ZSTD_DCtx *d;
    uint8_t magic; /* the decoder: bytes of the magic number checked */
};

struct codec {
    enum coding coding;
    enum codec_dir dir;
    bool ended;  /* encoder: finished; decoder: the stream (gzip: a member) ended */
    bool failed; /* sticky: a broken stream stays broken */
    const char *err;
    char msg[96];
    union {
        struct zlib_part z;
        struct br_part br;
        struct zstd_part zs;
    } u;
};

static enum codec_rc fail(struct codec *k, const char *why)
{
    if (why != k->msg)
        snprintf(k->msg, sizeof(k->msg), "%s", why);
    k->err = k->msg;
    k->failed = true;
    return CODEC_ERROR;
}

static const char *const truncated = "truncated: the stream stops short of its end";
static const char *const trailing = "bytes after the end of the stream";

static int clamp_level(enum coding c, int level)
{
    int lo = c == CODING_BR ? 0 : 1;
    int hi = c == CODING_BR ? 11 : c == CODING_ZSTD ? 19 : 9;
    return level < lo ? lo : level > hi ? hi : level;
}

static uInt zlen(size_t n)
{
    return n > UINT_MAX ? UINT_MAX : (uInt)n;
}

static enum codec_rc zfail(struct codec *k, int rc)
{
    const char *m = k->u.z.s.msg;
    return fail(k, m ? m : rc == Z_MEM_ERROR ? "out of memory" : zError(rc));
}

/* Moves a caller's pointers on; never as NULL + 0 (an empty input may be
   NULL). */
static void took(const uint8_t **in, size_t *in_left, size_t n)
{
    if (n) {
        *in += n;
        *in_left -= n;
    }
}

static void gave(uint8_t **out, size_t *out_left, size_t n)
{
    if (n) {
        *out += n;
        *out_left -= n;
    }
}

/* ---- zlib: gzip and deflate ---- */

static void stash_out(struct zlib_part *z, uint8_t **out, size_t *out_left)
{
    size_t n = (size_t)(z->stash_len - z->stash_off);
    if (n > *out_left)
        n = *out_left;
    if (!n)
        return;
    memcpy(*out, z->stash + z->stash_off, n);
    gave(out, out_left, n);
    z->stash_off += (uint8_t)n;
    if (z->stash_off == z->stash_len)
        z->stash_off = z->stash_len = 0;
}

static enum codec_rc zenc_step(struct codec *k, const uint8_t **in, size_t *in_left, uint8_t **out,
                               size_t *out_left, enum codec_flush flush)
{
    struct zlib_part *z = &k->u.z;
    int zf = flush == CODEC_RUN ? Z_NO_FLUSH : flush == CODEC_FLUSH ? Z_SYNC_FLUSH : Z_FINISH;
    for (;;) {
        stash_out(z, out, out_left);
        if (z->stash_len)
            return CODEC_OK; /* out is full */
        if (k->ended)
            return *in_left ? fail(k, "input after the end of the stream") : CODEC_END;
        if (*out_left == 0)
            return CODEC_OK;
        /* a sync flush that ends with no output space left is repeated by
           the next call (zlib.h: keep avail_out above six), so a small
           output takes it through the stash */
        bool small = zf == Z_SYNC_FLUSH && *out_left < STASH;
        uint8_t *dst = small ? z->stash : *out;
        z->s.next_in = (Bytef *)*in;
        z->s.avail_in = zlen(*in_left);
        z->s.next_out = dst;
        z->s.avail_out = small ? STASH : zlen(*out_left);
        int rc = deflate(&z->s, zf);
        size_t used = (size_t)(z->s.next_in - *in);
        size_t made = (size_t)(z->s.next_out - dst);
        took(in, in_left, used);
        if (small) {
            z->stash_off = 0;
            z->stash_len = (uint8_t)made;
        } else {
            gave(out, out_left, made);
        }
        if (rc == Z_STREAM_END) {
            k->ended = true;
            continue;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return zfail(k, rc);
        if (used == 0 && made == 0)
            return CODEC_OK; /* nothing more to do with this input (Z_BUF_ERROR) */
    }
}

/* Whether two bytes open a zlib stream (RFC 1950): deflate, a window of at
   most 32 KiB, and the header check. Raw deflate practically never passes:
   its first byte would have to open a stored block with a padding bit set. */
static bool zlib_header(const uint8_t *h)
{
    return (h[0] & 0x0f) == 8 && (h[0] >> 4) <= 7 && ((h[0] << 8) | h[1]) % 31 == 0;
}

/* Deflate decoding: gathers the two bytes that tell the wrapper, then
   starts inflate. CODEC_OK with live set once started. */
static enum codec_rc zdec_start(struct codec *k, const uint8_t **in, size_t *in_left,
                                enum codec_flush flush)
{
    struct zlib_part *z = &k->u.z;
    while (z->nhead < 2 && *in_left) {
        z->head[z->nhead++] = **in;
        (*in)++;
        (*in_left)--;
    }
    if (z->nhead < 2)
        return flush == CODEC_FINISH ? fail(k, truncated) : CODEC_OK;
    int rc = inflateInit2(&z->s, zlib_header(z->head) ? 15 : -15);
    if (rc != Z_OK)
        return zfail(k, rc);
    z->live = true;
    return CODEC_OK;
}

static enum codec_rc zdec_step(struct codec *k, const uint8_t **in, size_t *in_left, uint8_t **out,
                               size_t *out_left, enum codec_flush flush)
{
    struct zlib_part *z = &k->u.z;
    if (!z->live) {
        enum codec_rc rc = zdec_start(k, in, in_left, flush);
        if (!z->live)
            return rc;
    }
    for (;;) {
        bool from_head = z->head_off < z->nhead;
        const uint8_t *src = from_head ? z->head + z->head_off : *in;
        size_t n = from_head ? (size_t)(z->nhead - z->head_off) : *in_left;
        if (k->ended) {
            if (n == 0)
                return CODEC_END;
            if (k->coding != CODING_GZIP)
                return fail(k, trailing);
            /* gzip: another member follows (RFC 1952 §2.2) */
            if (inflateReset(&z->s) != Z_OK)
                return fail(k, "cannot restart for the next member");
            k->ended = false;
        }
        if (*out_left == 0)
            return CODEC_OK;
        z->s.next_in = (Bytef *)src;
        z->s.avail_in = zlen(n);
        z->s.next_out = *out;
        z->s.avail_out = zlen(*out_left);
        int rc = inflate(&z->s, Z_NO_FLUSH);
        size_t used = (size_t)(z->s.next_in - src);
        size_t made = (size_t)(z->s.next_out - *out);
        if (from_head) {
            z->head_off += (uint8_t)used;
        } else {
            took(in, in_left, used);
        }
        gave(out, out_left, made);
        if (rc == Z_STREAM_END) {
            k->ended = true;
            continue;
        }
        if (rc == Z_NEED_DICT)
            return fail(k, "the stream needs a preset dictionary");
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return zfail(k, rc);
        if (*out_left == 0)
            return CODEC_OK;
        if (z->head_off == z->nhead && *in_left == 0)
            return flush == CODEC_FINISH ? fail(k, truncated) : CODEC_OK;
        if (used == 0 && made == 0)
            return fail(k, "inflate made no progress");
    }
}

/* ---- brotli ---- */

static enum codec_rc brenc_call(struct codec *k, BrotliEncoderOperation op, const uint8_t **in,
                                size_t *in_left, uint8_t **out, size_t *out_left)
{
    if (!BrotliEncoderCompressStream(k->u.br.enc, op, in_left, in, out_left, out, NULL))
        return fail(k, "the brotli encoder failed");
    return CODEC_OK;
}

/* Brotli wants a flush or finish repeated with the very input it began
   with until it is done; so input goes in with PROCESS, and the flush or
   finish is asked for only once all of it is in, with none. */
static enum codec_rc brenc_step(struct codec *k, const uint8_t **in, size_t *in_left, uint8_t **out,
                                size_t *out_left, enum codec_flush flush)
{
    struct br_part *b = &k->u.br;
    for (;;) {
        if (k->ended)
            return *in_left ? fail(k, "input after the end of the stream") : CODEC_END;
        if (*out_left == 0)
            return CODEC_OK;
        if (b->op_live) {
            const uint8_t *none = NULL;
            size_t zero = 0;
            if (brenc_call(k, b->op, &none, &zero, out, out_left) != CODEC_OK)
                return CODEC_ERROR;
            if (b->op == BROTLI_OPERATION_FINISH && BrotliEncoderIsFinished(b->enc)) {
                k->ended = true;
                continue;
            }
            if (BrotliEncoderHasMoreOutput(b->enc))
                return CODEC_OK; /* out is full */
            if (b->op == BROTLI_OPERATION_FLUSH) {
                b->op_live = false;
                if (flush == CODEC_FLUSH && *in_left == 0)
                    return CODEC_OK; /* the flush asked for is done */
            }
            continue;
        }
        if (*in_left || flush == CODEC_RUN) {
            if (brenc_call(k, BROTLI_OPERATION_PROCESS, in, in_left, out, out_left) != CODEC_OK)
                return CODEC_ERROR;
            if (*in_left || flush == CODEC_RUN)
                return CODEC_OK;
            continue;
        }
        b->op = flush == CODEC_FLUSH ? BROTLI_OPERATION_FLUSH : BROTLI_OPERATION_FINISH;
        b->op_live = true;
    }
}

/* "_ERROR_FORMAT_PADDING_1" -> "format padding 1" */
static enum codec_rc brdec_fail(struct codec *k)
{
    const char *s = BrotliDecoderErrorString(BrotliDecoderGetErrorCode(k->u.br.dec));
    if (strncmp(s, "_ERROR_", 7) == 0)
        s += 7;
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof(k->msg); i++) {
        char ch = s[i];
        k->msg[i] = ch == '_' ? ' ' : (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    k->msg[i] = '\0';
    return fail(k, k->msg);
}

static enum codec_rc brdec_step(struct codec *k, const uint8_t **in, size_t *in_left, uint8_t **out,
                                size_t *out_left, enum codec_flush flush)
{
    struct br_part *b = &k->u.br;
    for (;;) {
        if (k->ended)
            return *in_left ? fail(k, trailing) : CODEC_END;
        if (*out_left == 0)
            return CODEC_OK;
        BrotliDecoderResult r =
            BrotliDecoderDecompressStream(b->dec, in_left, in, out_left, out, NULL);
        switch (r) {
        case BROTLI_DECODER_RESULT_SUCCESS:
            k->ended = true;
            continue;
        case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
            return CODEC_OK;
        case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
            return flush == CODEC_FINISH ? fail(k, truncated) : CODEC_OK;
        case BROTLI_DECODER_RESULT_ERROR:
            return brdec_fail(k);
        }
        return fail(k, "the brotli decoder said something unknown");
    }
}

/* ---- zstd ---- */

static enum codec_rc zsenc_step(struct codec *k, const uint8_t **in, size_t *in_left, uint8_t **out,
                                size_t *out_left, enum codec_flush flush)
{
    ZSTD_EndDirective d = flush == CODEC_RUN     ? ZSTD_e_continue
                          : flush == CODEC_FLUSH ? ZSTD_e_flush
                                                 : ZSTD_e_end;
    for (;;) {
        if (k->ended)
            return *in_left ? fail(k, "input after the end of the stream") : CODEC_END;
        if (*out_left == 0)
            return CODEC_OK;
        ZSTD_inBuffer i = {*in, *in_left, 0};
        ZSTD_outBuffer o = {*out, *out_left, 0};
        size_t r = ZSTD_compressStream2(k->u.zs.c, &o, &i, d);
        took(in, in_left, i.pos);
        gave(out, out_left, o.pos);
        if (ZSTD_isError(r))
            return fail(k, ZSTD_getErrorName(r));
        if (d == ZSTD_e_end && r == 0) {
            k->ended = true;
            continue;
        }
        /* r: what the flush or end has still to write */
        bool idle = *in_left == 0 && (d == ZSTD_e_continue || r == 0);
        if (idle || (i.pos == 0 && o.pos == 0))
            return CODEC_OK;
    }
}

/* A Zstandard frame's magic number first (RFC 8878 §3.1.1): libzstd would
   also take its legacy formats, older code no origin should need; a
   skippable frame first is refused too (what follows it would be
   trailing bytes anyway). */
static bool zstd_magic_ok(struct codec *k, const uint8_t *in, size_t n)
{
    static const uint8_t magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    for (size_t i = 0; k->u.zs.magic < sizeof(magic) && i < n; i++)
        if (in[i] != magic[k->u.zs.magic++])
            return false;
    return true;
}

static enum codec_rc zsdec_step(struct codec *k, const uint8_t **in, size_t *in_left, uint8_t **out,
                                size_t *out_left, enum codec_flush flush)
{
    if (!zstd_magic_ok(k, *in, *in_left))
        return fail(k, "not a Zstandard frame");
    for (;;) {
        if (k->ended)
            return *in_left ? fail(k, trailing) : CODEC_END;
        if (*out_left == 0)
            return CODEC_OK;
        ZSTD_inBuffer i = {*in, *in_left, 0};
        ZSTD_outBuffer o = {*out, *out_left, 0};
        size_t r = ZSTD_decompressStream(k->u.zs.d, &o, &i);
        took(in, in_left, i.pos);
        gave(out, out_left, o.pos);
        if (ZSTD_isError(r))
            return fail(k, ZSTD_getErrorName(r));
        if (r == 0) {
            k->ended = true; /* a frame decoded and flushed whole */
            continue;
        }
        if (*out_left == 0)
            return CODEC_OK;
        /* output space left: the decoder flushed all it could */
        if (*in_left == 0)
            return flush == CODEC_FINISH ? fail(k, truncated) : CODEC_OK;
        if (i.pos == 0 && o.pos == 0)
            return fail(k, "zstd made no progress");
    }
}

/* ---- the interface ---- */

static bool zstd_set(ZSTD_CCtx *c, ZSTD_cParameter p, int v)
{
    return !ZSTD_isError(ZSTD_CCtx_setParameter(c, p, v));
}

static bool codec_init(struct codec *k, int level)
{
    bool enc = k->dir == CODEC_ENCODE;
    switch (k->coding) {
    case CODING_GZIP:
    case CODING_DEFLATE: {
        int wbits = k->coding == CODING_GZIP ? GZIP_WBITS : 15;
        if (enc)
            k->u.z.live =
                deflateInit2(&k->u.z.s, level, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) == Z_OK;
        else if (k->coding == CODING_GZIP)
            k->u.z.live = inflateInit2(&k->u.z.s, wbits) == Z_OK;
        /* deflate decoding starts once its first two bytes are known */
        return k->u.z.live || (!enc && k->coding == CODING_DEFLATE);
    }
    case CODING_BR:
        if (!enc)
            return (k->u.br.dec = BrotliDecoderCreateInstance(NULL, NULL, NULL)) != NULL;
        if (!(k->u.br.enc = BrotliEncoderCreateInstance(NULL, NULL, NULL)))
            return false;
        return BrotliEncoderSetParameter(k->u.br.enc, BROTLI_PARAM_QUALITY, (uint32_t)level) &&
               BrotliEncoderSetParameter(k->u.br.enc, BROTLI_PARAM_LGWIN, BR_LGWIN);
    case CODING_ZSTD:
        if (!enc) {
            if (!(k->u.zs.d = ZSTD_createDCtx()))
                return false;
            return !ZSTD_isError(
                ZSTD_DCtx_setParameter(k->u.zs.d, ZSTD_d_windowLogMax, ZSTD_DEC_WLOG));
        }
        if (!(k->u.zs.c = ZSTD_createCCtx()))
            return false;
        /* levels 1 and 2 default to smaller windows (19 and 20); from 3 up
           the default is 21 or more, and 21 bounds it */
        return zstd_set(k->u.zs.c, ZSTD_c_compressionLevel, level) &&
               (level < 3 || zstd_set(k->u.zs.c, ZSTD_c_windowLog, ZSTD_ENC_WLOG)) &&
               zstd_set(k->u.zs.c, ZSTD_c_checksumFlag, 1);
    case CODING_IDENTITY:
    case CODING_UNKNOWN:
        return false;
    }
    return false;
}

struct codec *codec_new(enum coding c, enum codec_dir dir, int level)
{
    if (c != CODING_GZIP && c != CODING_DEFLATE && c != CODING_BR && c != CODING_ZSTD)
        return NULL;
    struct codec *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->coding = c;
    k->dir = dir;
    k->err = "no error";
    if (!codec_init(k, clamp_level(c, level))) {
        codec_free(k);
        return NULL;
    }
    return k;
}

enum codec_rc codec_step(struct codec *k, const uint8_t **in, size_t *in_left, uint8_t **out,
                         size_t *out_left, enum codec_flush flush)
{
    if (k->failed)
        return CODEC_ERROR;
    bool enc = k->dir == CODEC_ENCODE;
    switch (k->coding) {
    case CODING_GZIP:
    case CODING_DEFLATE:
        return enc ? zenc_step(k, in, in_left, out, out_left, flush)
                   : zdec_step(k, in, in_left, out, out_left, flush);
    case CODING_BR:
        return enc ? brenc_step(k, in, in_left, out, out_left, flush)
                   : brdec_step(k, in, in_left, out, out_left, flush);
    case CODING_ZSTD:
        return enc ? zsenc_step(k, in, in_left, out, out_left, flush)
                   : zsdec_step(k, in, in_left, out, out_left, flush);
    case CODING_IDENTITY:
    case CODING_UNKNOWN:
        break;
    }
    return fail(k, "no such coding");
}

const char *codec_error(const struct codec *k)
{
    return k->err;
}

void codec_free(struct codec *k)
{
    if (!k)
        return;
    switch (k->coding) {
    case CODING_GZIP:
    case CODING_DEFLATE:
        if (k->u.z.live)
            (void)(k->dir == CODEC_ENCODE ? deflateEnd(&k->u.z.s) : inflateEnd(&k->u.z.s));
        break;
    case CODING_BR:
        if (k->u.br.enc)
            BrotliEncoderDestroyInstance(k->u.br.enc);
        if (k->u.br.dec)
            BrotliDecoderDestroyInstance(k->u.br.dec);
        break;
    case CODING_ZSTD:
        ZSTD_freeCCtx(k->u.zs.c);
        ZSTD_freeDCtx(k->u.zs.d);
        break;
    case CODING_IDENTITY:
    case CODING_UNKNOWN:
        break;
    }
    free(k);
}
