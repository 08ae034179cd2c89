/*
 * version.c - magpie's version and its libraries' (magpie -V). Each
 * library is asked for its own version string or number; none of this
 * needs a configuration or touches the network.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "version.h"
#include "tls.h"

#include <ares.h>
#include <brotli/encode.h>
#include <ev.h>
#include <http_parser.h>
#include <libpsl.h>
#include <pcre2.h>
#include <stdint.h>
#include <yaml.h>
#include <zlib.h>
#include <zstd.h>

/* Brotli packs major, minor and patch into 12-bit fields. */
static void print_brotli(FILE *out)
{
    uint32_t v = BrotliEncoderVersion();

    fprintf(out, "brotli %u.%u.%u\n", (unsigned)(v >> 24), (unsigned)((v >> 12) & 0xfff),
            (unsigned)(v & 0xfff));
}

static void print_pcre2(FILE *out)
{
    char buf[64];

    /* the length asked first: pcre2_config does not bound its copy */
    if (pcre2_config(PCRE2_CONFIG_VERSION, NULL) <= (int)sizeof buf &&
        pcre2_config(PCRE2_CONFIG_VERSION, buf) > 0)
        fprintf(out, "PCRE2 %s\n", buf);
}

void version_print(FILE *out)
{
    unsigned long hp = http_parser_version();

    fprintf(out, "magpie %s\n", MAGPIE_VERSION);
    fprintf(out, "%s\n", tls_library_version());
    fprintf(out, "libev %d.%d\n", ev_version_major(), ev_version_minor());
    fprintf(out, "zlib %s\n", zlibVersion());
    fprintf(out, "zstd %s\n", ZSTD_versionString());
    print_brotli(out);
    print_pcre2(out);
    fprintf(out, "libyaml %s\n", yaml_get_version_string());
    fprintf(out, "c-ares %s\n", ares_version(NULL));
    fprintf(out, "libpsl %s\n", psl_get_version());
    fprintf(out, "http-parser %lu.%lu.%lu\n", (hp >> 16) & 255, (hp >> 8) & 255, hp & 255);
}
