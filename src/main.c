/*
 * main.c - command line, start-up and exit codes.
 *
 *   magpie [-c FILE]      run in the foreground (no -c: embedded defaults)
 *   magpie -t [-c FILE]   check the configuration and exit
 *   magpie -V | -h
 *
 * Exit codes: 0 success, 1 invalid configuration, 2 usage error,
 * 3 start-up failure (cannot listen, cannot open a log).
 */
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "notify.h"
#include "server.h"

enum { EXIT_OK = 0, EXIT_CONFIG = 1, EXIT_USAGE = 2, EXIT_STARTUP = 3 };

static void usage(FILE *out)
{
    fprintf(out, "usage: magpie [-t] [-c FILE]\n"
                 "       magpie -V | -h\n"
                 "  -c FILE  configuration file (default: the embedded defaults,\n"
                 "           listening on " CFG_DEFAULT_LISTEN ")\n"
                 "  -t       check the configuration and exit (0 valid, 1 invalid)\n"
                 "  -V       print the version and exit\n"
                 "  -h       print this help and exit\n"
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
        notify_systemd("READY=1");
        rc = server_run(&srv);
        log_info("magpie stopped");
    }
    server_free(&srv);
    ev_loop_destroy(loop);
    log_close();
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    bool test_only = false;
    int opt;
    while ((opt = getopt(argc, argv, "c:tVh")) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 't':
            test_only = true;
            break;
        case 'V':
            printf("magpie %s\n", MAGPIE_VERSION);
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
    if (test_only) {
        printf("magpie: configuration %s is valid\n", path ? path : "(embedded defaults)");
        config_unref(&cfg);
        return EXIT_OK;
    }
    int rc = run(cfg);
    config_unref(&cfg);
    return rc;
}
