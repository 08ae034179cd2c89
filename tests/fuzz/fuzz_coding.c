/*
 * fuzz_coding.c - what clients and origins send that coding.c reads:
 * Accept-Encoding (negotiation), Content-Encoding, media types, entity
 * tags and their lists, Vary. Checks the promises coding.h makes: the
 * negotiated coding is acceptable or identity, a derived tag is
 * recognised as derived and maps back to where it came from, outputs fit
 * the buffer they were given exactly, and Vary merged names the coding
 * once.
 *
 * Input: byte 0 picks a small output size (for the "too small" paths),
 * then the text.
 */
#include "coding.h"
#include "fuzz.h"

#define OUT_MAX 4096

static const enum coding prefs[] = {CODING_ZSTD, CODING_BR, CODING_GZIP};

static void check_negotiation(const char *text)
{
    struct coding_accept a;
    coding_accept_parse(text, &a);
    enum coding c = coding_negotiate(&a, prefs, 3);
    if (c != CODING_IDENTITY && !coding_acceptable(&a, c))
        abort(); /* a coding the client refused */
    if (c != CODING_IDENTITY && c != CODING_ZSTD && c != CODING_BR && c != CODING_GZIP)
        abort(); /* one magpie does not offer */
    (void)coding_of_response(text);
}

static void check_etag(const char *text, size_t small)
{
    static char d[OUT_MAX], back[OUT_MAX], w[OUT_MAX];
    for (enum coding c = CODING_GZIP; c < CODING_KNOWN; c++) {
        if (coding_etag_derive(text, c, d, sizeof(d)) < 0)
            continue;
        if (!coding_etag_derived(d, c))
            abort(); /* derived, but not recognised as such */
        int n = coding_etag_list_base(d, c, back, sizeof(back));
        if (n != 1 || coding_etag_derive(back, c, w, sizeof(w)) < 0 || strcmp(w, d) != 0)
            abort(); /* the way back must lead to a tag deriving to the same */
        if (coding_etag_derive(text, c, w, small) == 0 && strlen(w) + 1 > small)
            abort();
    }
    if (coding_etag_weaken(text, w, sizeof(w)) == 0 && strncmp(w, "W/\"", 3) != 0)
        abort();
    int n = coding_etag_list_base(text, CODING_GZIP, back, small);
    if (n >= 0 && strlen(back) + 1 > small)
        abort();
}

static void check_vary(const char *text, size_t small)
{
    static char out[OUT_MAX], again[OUT_MAX];
    if (coding_vary_merge(text, out, sizeof(out)) < 0)
        return;
    /* merging twice changes nothing more */
    if (coding_vary_merge(out, again, sizeof(again)) < 0 || strcmp(out, again) != 0)
        abort();
    if (coding_vary_merge(text, again, small) == 0 && strlen(again) + 1 > small)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t small = 1 + fuzz_byte(&data, &size) % 64;
    char *text = fuzz_strndup(data, size);
    check_negotiation(text);
    check_etag(text, small);
    check_vary(text, small);
    char *types[] = {"text/*", "application/*+json", "image/svg+xml"};
    (void)coding_type_listed(text, types, 3);
    free(text);
    return 0;
}
