/*
 * fuzz.h - what every fuzz target shares: the libFuzzer entry points (so
 * the targets build with -Wmissing-prototypes under gcc too, for the
 * corpus replay of `make test`) and a few helpers for splitting one input
 * into choices and data.
 */
#ifndef MAGPIE_FUZZ_H
#define MAGPIE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The input as a fresh NUL-terminated heap copy: a read past the end is
   then a heap overflow ASan sees, not a read of the NUL. */
static inline char *fuzz_strndup(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Takes one byte off the front of the input (0 when it is empty). */
static inline uint8_t fuzz_byte(const uint8_t **p, size_t *n)
{
    if (*n == 0)
        return 0;
    (*n)--;
    return *(*p)++;
}

#endif
