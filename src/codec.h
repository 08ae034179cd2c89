/*
 * codec.h - streaming encoders and decoders for the content codings
 * (zlib for gzip and deflate, libbrotli, libzstd) behind one interface, so
 * a filter moves bytes from an input to a bounded output without knowing
 * which library does the work. Memory per stream is bounded whatever the
 * input says: decoders refuse windows past CODEC_MAX_WINDOW.
 */
#ifndef MAGPIE_CODEC_H
#define MAGPIE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "coding.h"

/*
 * The largest window a zstd decoder accepts (RFC 8878 asks decoders for
 * 8 MiB); a frame asking for more is an error, not an allocation. brotli's
 * standard windows go up to WBITS 24 (16 MiB - 16, what the brotli tool
 * writes by default), which is accepted so that such bodies decode; its
 * large-window extension is refused. gzip and deflate need 32 KiB.
 */
#define CODEC_MAX_WINDOW (8u << 20)

enum codec_dir { CODEC_ENCODE, CODEC_DECODE };

enum codec_flush {
    CODEC_RUN,    /* more input follows */
    CODEC_FLUSH,  /* emit everything given so far (a sync flush) */
    CODEC_FINISH, /* no more input: end the stream (encoders), check it ended (decoders) */
};

enum codec_rc {
    CODEC_OK,    /* progress; call again while output space ran out */
    CODEC_END,   /* the stream is complete (an encoder after FINISH; a decoder at the end of its data) */
    CODEC_ERROR, /* corrupt, truncated at FINISH, trailing bytes, or out of memory: codec_error() */
};

struct codec;

/* An encoder of c at level (gzip and deflate 1..9, br 0..11, zstd 1..19;
   a level outside is taken as the nearest end), or a decoder of c. NULL
   when out of memory or c is IDENTITY/UNKNOWN. Encoders bound their own
   windows: brotli 1 MiB, zstd 2 MiB. brotli's levels 0 and 1 encode the
   input of each step on its own, so they want it in large slices. */
struct codec *codec_new(enum coding c, enum codec_dir dir, int level);
/*
 * Moves bytes from *in (*in_left of them; advanced) into *out (*out_left of
 * space; advanced), as far as both allow. A flush or finish is complete
 * when the call leaves input empty and output space unused (*out_left > 0),
 * or returns CODEC_END; until then call again with more space. A gzip
 * decoder takes concatenated members (CODEC_END after each, and more
 * input starts the next); other decoders refuse bytes after their
 * stream's end. A deflate decoder takes the zlib wrapper (RFC 1950) and,
 * when the first two bytes are not one, raw deflate. A zstd decoder takes
 * RFC 8878 frames only (not libzstd's legacy formats). CODEC_ERROR is
 * final, and what the failing call wrote to *out is not to be used.
 */
enum codec_rc codec_step(struct codec *k, const uint8_t **in, size_t *in_left, uint8_t **out,
                         size_t *out_left, enum codec_flush flush);
/* Why the last step failed, for the error log. */
const char *codec_error(const struct codec *k);
void codec_free(struct codec *k);

#endif
