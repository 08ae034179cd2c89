/*
 * compress.h - the compression filters: one encodes a body into the coding
 * magpie chose (the fetch chain's, so the stored variant is encoded once),
 * one decodes a body for a client that does not accept its coding (the
 * deliver chain's). What to do is decided before the chain opens and
 * handed to them in the filter head (struct filter_head: encode, decode,
 * level); each opts out when its part is IDENTITY.
 *
 * Both hold at most one input piece (copied unless held) and emit output
 * in slices of COMPRESS_SLICE bytes while the rest of the chain has room,
 * so memory stays bounded whatever the ratio (a decompression bomb is
 * paced by the client). A corrupt or truncated stream fails the chain.
 */
#ifndef MAGPIE_COMPRESS_H
#define MAGPIE_COMPRESS_H

#include "filter.h"

#define COMPRESS_SLICE (16 * 1024)

extern const struct filter_ops compress_encode_filter;
extern const struct filter_ops compress_decode_filter;

#endif
