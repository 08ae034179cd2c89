/*
 * fuzz_response.c - origin responses: heads, interim 1xx, Content-Length,
 * chunked bodies with extensions and trailers, close-delimited bodies,
 * and the HEAD case (http_reader_expect_no_body()), several on one
 * connection, split wherever the fuzzer likes.
 */
#include "http_drive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    drive_run(false, data, size);
    return 0;
}
