/*
 * fuzz_request.c - request heads and bodies as a client sends them:
 * http_head_scan() then the request reader, pipelined messages, Content-
 * Length and chunked bodies, split wherever the fuzzer likes.
 */
#include "http_drive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    drive_run(true, data, size);
    return 0;
}
