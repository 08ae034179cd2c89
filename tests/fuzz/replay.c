/*
 * replay.c - runs a fuzz target over files, without libFuzzer: each file
 * (or each file in a directory, in name order) is read into a buffer of
 * exactly its size and handed to LLVMFuzzerTestOneInput() once. `make
 * test` links it with each target under gcc's ASan + UBSan, so the
 * corpora (and every reproducer kept there) are checked without clang.
 * Prints "<target>: N inputs" and exits 0, or dies naming the input.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);
/* the sanitizers' runtime, when linked in */
__attribute__((weak)) void __sanitizer_set_death_callback(void (*callback)(void));

static size_t ninputs;
static const char *current; /* the input being run */

/* Names the input that killed the run (async-signal-safe: write only). */
static void name_current(void)
{
    if (!current)
        return;
    static const char pre[] = "replay: died on ";
    (void)!write(2, pre, sizeof(pre) - 1);
    (void)!write(2, current, strlen(current));
    (void)!write(2, "\n", 1);
}

static void on_abort(int sig)
{
    name_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) < 0) {
        fprintf(stderr, "replay: %s: cannot open\n", path);
        exit(2);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *p = malloc(n ? n : 1);
    if (!p || fread(p, 1, n, f) != n) {
        fprintf(stderr, "replay: %s: cannot read\n", path);
        exit(2);
    }
    fclose(f);
    current = path;
    LLVMFuzzerTestOneInput(p, n);
    current = NULL;
    free(p);
    ninputs++;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        fprintf(stderr, "replay: %s: no such file or directory\n", path);
        exit(2);
    }
    if (!S_ISDIR(st.st_mode)) {
        run_file(path);
        return;
    }
    struct dirent **ents;
    int n = scandir(path, &ents, NULL, name_cmp);
    if (n < 0) {
        fprintf(stderr, "replay: %s: cannot list\n", path);
        exit(2);
    }
    for (int i = 0; i < n; i++) {
        char sub[4096];
        if (ents[i]->d_name[0] != '.') {
            snprintf(sub, sizeof(sub), "%s/%s", path, ents[i]->d_name);
            run_path(sub);
        }
        free(ents[i]);
    }
    free(ents);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s file-or-dir...\n", argv[0]);
        return 2;
    }
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(name_current);
    signal(SIGABRT, on_abort);
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    const char *name = strrchr(argv[0], '/');
    for (int i = 1; i < argc; i++)
        run_path(argv[i]);
    printf("%s: %zu inputs\n", name ? name + 1 : argv[0], ninputs);
    return 0;
}
