/*
 * fuzz_store.c - the stored-object loader: the input is a cache file as
 * found on disk. It is put where its key and variant say, the store is
 * opened (the start-up scan checks it), then read back with store_get()
 * (header, lengths, strings, CRCs, the body) and its head parsed as a hit
 * would. A bad file must be refused and removed, never trusted.
 *
 * Input: byte 0 picks options, the rest is the file. Bit 0 fixes the
 * header CRC and bit 1 the body CRC, so mutations get past the checksums
 * to what lies behind them; bit 2 names the file after its own key and
 * variant (else a fixed name, which the name check refuses); bit 3 turns
 * the memory tier on; bit 4 reads the object twice (the second time from
 * memory).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cache/store.h"
#include "cache/store_int.h" /* store_stats() */
#include "fuzz.h"
#include "http.h"
#include "log.h"

#define HDR 64 /* the fixed header, format version 1 (docs/CACHE.md) */
#define OFF_KLEN 16
#define OFF_VLEN 20
#define OFF_YLEN 24
#define OFF_HLEN 28
#define OFF_BCRC 56
#define OFF_HCRC 60
#define FILE_MAX (4 * 1024 * 1024)

static char base[256], dir[300];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    if (base[0])
        nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(base, sizeof(base), "%s/magpie-fuzz-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(base))
        abort();
    snprintf(dir, sizeof(dir), "%s/cache", base);
    atexit(cleanup);
    if (log_open("/dev/null", NULL, LOGL_ERROR) < 0)
        abort();
    return 0;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Where the strings and the body start, if the lengths fit the file. */
static bool layout(const uint8_t *f, size_t n, uint64_t *body_off)
{
    if (n < HDR)
        return false;
    uint64_t off = (uint64_t)HDR + get32(f + OFF_KLEN) + get32(f + OFF_VLEN) + get32(f + OFF_YLEN) +
                   get32(f + OFF_HLEN);
    *body_off = off;
    return off <= n;
}

static void fix_crcs(uint8_t *f, size_t n, uint8_t opt)
{
    uint64_t off;
    if (!layout(f, n, &off))
        return;
    if (opt & 2)
        put32(f + OFF_BCRC, (uint32_t)crc32_z(0, f + off, n - (size_t)off));
    if (opt & 1) {
        uLong crc = crc32(0, f, OFF_HCRC);
        put32(f + OFF_HCRC, (uint32_t)crc32_z(crc, f + HDR, (size_t)off - HDR));
    }
}

/* "ab/cd/<64 hex>" for sha256(key "\n" variant). */
static void name_of(const char *key, const char *variant, char rel[80])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char id[32];
    unsigned len = 0;
    size_t kl = strlen(key), vl = strlen(variant);
    char *in = malloc(kl + vl + 2);
    if (!in)
        abort();
    memcpy(in, key, kl);
    in[kl] = '\n';
    memcpy(in + kl + 1, variant, vl);
    if (EVP_Digest(in, kl + vl + 1, id, &len, EVP_sha256(), NULL) != 1 || len != 32)
        abort();
    free(in);
    char h[65];
    for (int i = 0; i < 32; i++) {
        h[2 * i] = hex[id[i] >> 4];
        h[2 * i + 1] = hex[id[i] & 15];
    }
    h[64] = '\0';
    snprintf(rel, 80, "%.2s/%.2s/%s", h, h + 2, h);
}

static int noop_head(void *arg, struct http_msg *m)
{
    (void)arg, (void)m;
    return 0;
}

static int noop_body(void *arg, const char *p, size_t n)
{
    (void)arg, (void)p, (void)n;
    return 0;
}

static int noop_done(void *arg)
{
    (void)arg;
    return 0;
}

static const struct http_reader_ops noop_ops = {noop_head, noop_body, noop_done};

/* What a hit does with the object: parse its head, read its body. */
static void use_obj(const struct store_obj *o, size_t file_len)
{
    if (!o->head || strlen(o->head) > o->head_len || o->head[o->head_len] != '\0')
        abort();
    struct http_reader *r = http_reader_new(false, &noop_ops, NULL);
    if (!r)
        abort();
    http_reader_expect_no_body(r);
    enum http_error err;
    http_reader_feed(r, o->head, o->head_len, &err);
    http_reader_free(&r);
    if (o->fd >= 0) {
        if (o->body_off + o->body_len != file_len)
            abort(); /* sendfile would send what is not the body */
        char buf[4096];
        size_t n = o->body_len < sizeof(buf) ? (size_t)o->body_len : sizeof(buf);
        if (pread(o->fd, buf, n, (off_t)o->body_off) != (ssize_t)n)
            abort();
    } else if (o->body_len > file_len) {
        abort();
    }
}

static void load(const char *key, const char *variant, uint8_t opt, size_t file_len)
{
    char err[256];
    struct store *s = store_open(dir, 1ULL << 30, 0, err, sizeof(err));
    if (!s)
        abort();
    if ((opt & 8) && store_set_memory(s, 64ULL << 20) < 0)
        abort();
    if (key) {
        (void)store_vary(s, key);
        for (int i = 0; i < ((opt & 16) ? 2 : 1); i++) {
            struct store_obj o;
            if (store_get(s, key, variant, &o) == 0)
                use_obj(&o, file_len);
            store_obj_close(&o);
        }
        (void)store_remove(s, key);
    }
    const struct store_stats *st = store_stats(s);
    if (st->objects > 1)
        abort(); /* one file, at most one object */
    store_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base[0])
        LLVMFuzzerInitialize(NULL, NULL);
    uint8_t opt = fuzz_byte(&data, &size);
    if (size > FILE_MAX)
        return 0;
    uint8_t *f = malloc(size ? size : 1);
    if (!f)
        abort();
    memcpy(f, data, size);
    fix_crcs(f, size, opt);

    char *key = NULL, *variant = NULL;
    uint64_t off;
    if (layout(f, size, &off)) {
        uint32_t kl = get32(f + OFF_KLEN), vl = get32(f + OFF_VLEN);
        key = fuzz_strndup(f + HDR, kl);
        variant = fuzz_strndup(f + HDR + kl, vl);
    }
    char rel[80];
    name_of((opt & 4) && key ? key : "", (opt & 4) && variant ? variant : "-", rel);
    char path[512];
    snprintf(path, sizeof(path), "%s/%.2s", dir, rel);
    (void)mkdir(dir, 0700);
    (void)mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/%.5s", dir, rel);
    (void)mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, f, size) != (ssize_t)size || close(fd) < 0)
        abort();

    load(key, variant, opt, size);

    (void)unlink(path); /* the store removed it if it was bad */
    snprintf(path, sizeof(path), "%s/%.5s", dir, rel);
    (void)rmdir(path);
    snprintf(path, sizeof(path), "%s/%.2s", dir, rel);
    (void)rmdir(path);
    free(key);
    free(variant);
    free(f);
    return 0;
}
