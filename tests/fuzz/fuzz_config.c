/*
 * fuzz_config.c - config_load() on YAML text: the input becomes the
 * config file (a memfd, opened by its /proc/self/fd path as a real file
 * would be), errors go to /dev/null. A config that loads is queried the
 * way the daemon does; the value parsers also get the raw text.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

#define CONFIG_MAX (256 * 1024)

static int cfg_fd = -1;
static char cfg_path[64];
static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    cfg_fd = memfd_create("magpie-fuzz.yaml", MFD_CLOEXEC);
    devnull = fopen("/dev/null", "w");
    if (cfg_fd < 0 || !devnull)
        abort();
    snprintf(cfg_path, sizeof(cfg_path), "/proc/self/fd/%d", cfg_fd);
    return 0;
}

static void query(struct config *cfg)
{
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    struct sockaddr_in other = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000001)};
    (void)config_acl_allows(cfg, (struct sockaddr *)&v4);
    (void)config_acl_allows(cfg, (struct sockaddr *)&v6);
    (void)config_acl_allows(cfg, (struct sockaddr *)&other);
    (void)config_purge_allowed(cfg, (struct sockaddr *)&v4);
    (void)config_purge_allowed(cfg, (struct sockaddr *)&other);
    (void)config_connect_port_allowed(cfg, 443);
    (void)config_connect_port_allowed(cfg, 1);
    (void)config_route_find(cfg, "example.test");
    (void)config_route_find(cfg, "rev.test");
    struct config *ref = config_ref(cfg);
    config_unref(&ref);
}

static void raw_values(const uint8_t *data, size_t size)
{
    if (size > 256)
        return;
    char *s = fuzz_strndup(data, size);
    double d;
    uint64_t u;
    struct sockaddr_storage ss;
    socklen_t sl;
    struct cfg_cidr cidr;
    (void)config_parse_duration(s, &d);
    (void)config_parse_size(s, &u);
    (void)config_parse_sockaddr(s, &ss, &sl);
    (void)config_parse_cidr(s, &cidr);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (cfg_fd < 0)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size > CONFIG_MAX)
        return 0;
    raw_values(data, size);
    if (ftruncate(cfg_fd, 0) < 0 || pwrite(cfg_fd, data, size, 0) != (ssize_t)size)
        abort();
    struct config *cfg = config_load(cfg_path, devnull);
    if (cfg)
        query(cfg);
    config_unref(&cfg);
    return 0;
}
