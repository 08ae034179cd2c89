/*
 * main.c - command line, start-up and exit codes.
 *
 *   magpie [-c FILE]      run in the foreground (no -c: embedded defaults)
 *   magpie -t [-c FILE]   check the configuration as a start would, and exit
 *   magpie -T [-c FILE]   print the effective configuration as YAML, and exit
 *   magpie -V | -h
 *
 * Exit codes: 0 success, 1 invalid configuration (for -t also: a listener's
 * certificate or key, or upstream.tls.ca_file, does not load), 2 usage
 * error, 3 start-up failure (cannot listen, cannot open a log, TLS files).
 */
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfgdump.h"
#include "config.h"
#include "log.h"
#include "server.h"
#include "tls.h"
#include "version.h"

enum { EXIT_OK = 0, EXIT_CONFIG = 1, EXIT_USAGE = 2, EXIT_STARTUP = 3 };

static void usage(FILE *out)
{
    fprintf(out, "usage: magpie [-t | -T] [-c FILE]\n"
                 "       magpie -V | -h\n"
                 "  -c, --config FILE   configuration file (default: the embedded defaults,\n"
                 "                      listening on " CFG_DEFAULT_LISTEN ")\n"
                 "  -t, --test          check the configuration as a start would, TLS\n"
                 "                      certificates, keys and CA file included, and exit\n"
                 "  -T, --print-config  print the effective configuration (defaults filled\n"
                 "                      in) as YAML that -c accepts, and exit\n"
                 "  -V, --version       print the versions of magpie and its libraries, and exit\n"
                 "  -h, --help          print this help and exit\n"
                 "exit codes: 0 ok, 1 invalid configuration, 2 usage error, 3 start-up failure\n");
}

static struct config *load(const char *path)
{
    return path ? config_load(path, stderr) : config_default();
}

static int run(struct config *cfg)
{
    if (log_open(cfg->error_log, cfg->access_log, cfg->log_level) < 0)
        return EXIT_STARTUP;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit fails one cache write, not the daemon */
    struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
    if (!loop) {
        log_error("cannot initialise the event loop");
        return EXIT_STARTUP;
    }
    struct server srv;
    int rc = EXIT_STARTUP;
    if (server_init(&srv, loop, cfg) == 0) {
        log_info("magpie %s started (pid %ld, config %s)", MAGPIE_VERSION, (long)getpid(),
                 cfg->path ? cfg->path : "embedded defaults");
        rc = server_run(&srv);
        log_info("magpie stopped");
    }
    server_free(&srv);
    ev_loop_destroy(loop);
    log_close();
    return rc;
}

/*
 * What a start reads besides the file (server.c): each TLS listener's
 * certificate and key, and upstream.tls.ca_file, which is loaded whether or
 * not verification is on. Reported as the start reports them; the contexts
 * are dropped at once.
 */
static int check_tls(const struct config *cfg)
{
    char err[512];
    int bad = 0;

    for (size_t i = 0; i < cfg->nlisten; i++) {
        const struct cfg_listen *l = &cfg->listen[i];
        if (!l->tls_cert)
            continue;
        struct tls_ctx *ctx = tls_server_ctx_new(l->tls_cert, l->tls_key, err, sizeof err);
        if (!ctx) {
            fprintf(stderr, "magpie: listen %s: %s\n", l->text, err);
            bad = -1;
        }
        tls_ctx_free(ctx);
    }
    struct tls_ctx *ctx = tls_client_ctx_new(cfg->upstream.tls.ca_file, true, err, sizeof err);
    if (!ctx) {
        fprintf(stderr, "magpie: upstream.tls.ca_file: %s\n", err);
        bad = -1;
    }
    tls_ctx_free(ctx);
    return bad;
}

/* -t and -T: the loaded configuration checked and/or printed. */
static int check_or_print(struct config *cfg, const char *path, bool test, bool print)
{
    if (test && check_tls(cfg) < 0)
        return EXIT_CONFIG;
    if (print)
        printf("# magpie %s: the effective configuration of %s\n", MAGPIE_VERSION,
               path ? path : "the embedded defaults");
    if (print && cfgdump_write(cfg, stdout) < 0) {
        fprintf(stderr, "magpie: cannot write the configuration: stdout\n");
        return EXIT_CONFIG;
    }
    if (test && !print)
        printf("magpie: configuration %s is valid\n", path ? path : "(embedded defaults)");
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"test", no_argument, NULL, 't'},
        {"print-config", no_argument, NULL, 'T'}, {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    bool test_only = false, print = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:tTVh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 't':
            test_only = true;
            break;
        case 'T':
            print = true;
            break;
        case 'V':
            version_print(stdout);
            return EXIT_OK;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "magpie: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    struct config *cfg = load(path);
    if (!cfg)
        return EXIT_CONFIG;
    int rc = test_only || print ? check_or_print(cfg, path, test_only, print) : run(cfg);
    config_unref(&cfg);
    return rc;
}
