/*
 * gen_store.c - writes the seed corpus of fuzz_store: real cache files,
 * made by the store itself (so they follow store.c's format, whatever it
 * becomes), each with fuzz_store's option byte in front. The damaged
 * seeds (short, truncated, bad-version, huge-*, nul-in-key, body-crc,
 * odd-times) were cut from plain by hand. Run from the top of the tree
 * after `make`:
 *   cc -std=gnu11 -D_GNU_SOURCE -Isrc -Itests/fuzz -o build/gen_store \
 *      tests/fuzz/gen_store.c build/libmagpie.a -lev -lhttp_parser -lssl \
 *      -lcrypto -lz -lyaml -lcares -lm && build/gen_store tests/fuzz/corpus/store
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/store.h"
#include "log.h"

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

struct seed {
    const char *name, *key, *variant, *vary, *head;
    size_t body_len;
    unsigned char opt; /* fuzz_store's option byte */
};

static const struct seed seeds[] = {
    {"plain", "http://example.test:80/", "", "",
     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nCache-Control: max-age=60\r\n\r\n", 5, 0x04},
    {"plain-mem", "http://example.test:80/m", "", "",
     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", 3, 0x1c},
    {"fixed-crcs", "http://example.test:80/f", "", "",
     "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", 4, 0x07},
    {"vary", "https://a.test:443/v?a=1&b=2", "accept-encoding:gzip\n", "Accept-Encoding",
     "HTTP/1.1 200 OK\r\nVary: Accept-Encoding\r\nContent-Encoding: gzip\r\n"
     "Content-Length: 10\r\nETag: \"x\"\r\n\r\n",
     10, 0x04},
    {"vary-absent", "http://a.test:80/v", "cookie\nx-a:1\n", "Cookie, X-A",
     "HTTP/1.1 200 OK\r\nVary: Cookie, X-A\r\nContent-Length: 0\r\n\r\n", 0, 0x04},
    {"empty-body", "http://a.test:80/e", "", "", "HTTP/1.1 204 No Content\r\n\r\n", 0, 0x04},
    {"no-head", "http://a.test:80/n", "", "", "", 0, 0x04},
    {"chunked-head", "http://a.test:80/c", "", "",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 7\r\n\r\n", 7, 0x04},
    {"bad-head", "http://a.test:80/b", "", "", "not a response\r\n\r\n", 2, 0x04},
    {"wrong-name", "http://a.test:80/w", "", "", "HTTP/1.1 200 OK\r\n\r\n", 1, 0x00},
    {"big-body", "http://a.test:80/big", "", "", "HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n",
     70000, 0x04},
    {"long-key",
     "http://a.test:80/"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "", "", "HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n", 0, 0x04},
};

static void copy_out(const char *cache, const char *outdir, const struct seed *sd)
{
    char cmd[1024];
    /* the only object file: the store holds one object at a time here */
    snprintf(cmd, sizeof(cmd), "find %s -mindepth 3 -type f -not -path '%s/tmp/*'", cache, cache);
    FILE *p = popen(cmd, "r");
    char path[512];
    if (!p || !fgets(path, sizeof(path), p))
        abort();
    pclose(p);
    path[strcspn(path, "\n")] = '\0';
    FILE *in = fopen(path, "rb");
    char out[512];
    snprintf(out, sizeof(out), "%s/%s", outdir, sd->name);
    FILE *o = fopen(out, "wb");
    if (!in || !o)
        abort();
    fputc(sd->opt, o);
    int c;
    while ((c = fgetc(in)) != EOF)
        fputc(c, o);
    fclose(in);
    fclose(o);
    unlink(path);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s outdir\n", argv[0]);
        return 2;
    }
    char base[] = "/tmp/magpie-gen-store-XXXXXX", cache[64], err[256];
    if (!mkdtemp(base))
        return 1;
    snprintf(cache, sizeof(cache), "%s/cache", base);
    log_open("/dev/null", NULL, LOGL_ERROR);
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        const struct seed *sd = &seeds[i];
        struct store *s = store_open(cache, 1ULL << 30, 0, err, sizeof(err));
        if (!s)
            return 1;
        struct store_writer *w = store_begin(s, sd->key, sd->variant, sd->vary, sd->head,
                                             strlen(sd->head), 1767225000, 1767225001);
        char *body = malloc(sd->body_len + 1);
        for (size_t j = 0; j < sd->body_len; j++)
            body[j] = (char)('a' + j % 26);
        if (!w || store_append(w, body, sd->body_len) < 0 || store_commit(w) < 0)
            return 1;
        free(body);
        store_close(s);
        copy_out(cache, argv[1], sd);
    }
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
