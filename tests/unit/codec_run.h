/*
 * codec_run.h - for tests of the codecs (tests/unit/test_codec.c,
 * test_compress.c and tests/fuzz/fuzz_decode.c): a growing byte buffer,
 * and a driver that steps a codec over an input in slices of given sizes
 * exactly as codec.h tells a caller to. No cmocka here: the fuzz target
 * uses it too.
 */
#ifndef MAGPIE_TEST_CODEC_RUN_H
#define MAGPIE_TEST_CODEC_RUN_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

struct bytes {
    uint8_t *p;
    size_t n, cap;
};

static inline void bytes_add(struct bytes *b, const void *p, size_t n)
{
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            abort();
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

static inline void bytes_free(struct bytes *b)
{
    free(b->p);
    *b = (struct bytes){0};
}

/* codec_run's answer when a call neither moved a byte nor completed: a
   caller following codec.h would call again for ever */
#define CODEC_RUN_STUCK (-1)

/*
 * Steps k over in[0..n): in_step bytes of input at a time (RUN for every
 * slice but the last, `last` for the last one; an empty input is one call
 * with `last`), into out_step bytes of space at a time, appending to out.
 * Each slice is stepped until it is consumed and the call left space
 * unused, or the codec ended. Stops early, with CODEC_OK, once out holds
 * max_out bytes or more (0: no limit). Returns the last step's rc, or
 * CODEC_RUN_STUCK. *calls (may be NULL) counts the steps.
 */
static inline int codec_run(struct codec *k, const uint8_t *in, size_t n, size_t in_step,
                            size_t out_step, enum codec_flush last, size_t max_out,
                            struct bytes *out, size_t *calls)
{
    uint8_t *obuf = malloc(out_step); /* exactly: a step writing past it is an overflow ASan sees */
    if (!obuf)
        abort();
    size_t off = 0;
    int rc = CODEC_OK;
    for (;;) {
        size_t chunk = n - off < in_step ? n - off : in_step;
        bool final = off + chunk == n;
        enum codec_flush fl = final ? last : CODEC_RUN;
        const uint8_t *p = in ? in + off : NULL; /* never NULL + 0 */
        size_t left = chunk;
        for (;;) {
            uint8_t *o = obuf;
            size_t room = out_step, before = left;
            rc = codec_step(k, &p, &left, &o, &room, fl);
            if (calls)
                (*calls)++;
            if (rc == CODEC_ERROR)
                goto done; /* what the failing step wrote is not output */
            bytes_add(out, obuf, out_step - room);
            if (max_out && out->n >= max_out)
                goto done;
            if (rc == CODEC_END && left == 0)
                break;
            if (left == 0 && room > 0)
                break;
            if (left == before && room == out_step) {
                rc = CODEC_RUN_STUCK;
                goto done;
            }
        }
        off += chunk;
        if (final)
            break;
    }
done:
    free(obuf);
    return rc;
}

/* The whole of in through a fresh codec of c, finished; a codec that
   makes more than CODEC_ALL_MAX bytes stops there (bounding a spin). */
#ifndef CODEC_ALL_MAX
#define CODEC_ALL_MAX (16u << 20)
#endif
static inline int codec_all(enum coding c, enum codec_dir dir, int level, const uint8_t *in,
                            size_t n, size_t in_step, size_t out_step, struct bytes *out)
{
    struct codec *k = codec_new(c, dir, level);
    if (!k)
        abort();
    int rc = codec_run(k, in, n, in_step, out_step, CODEC_FINISH, CODEC_ALL_MAX, out, NULL);
    codec_free(k);
    return rc;
}

#endif
