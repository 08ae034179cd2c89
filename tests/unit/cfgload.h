/*
 * cfgload.h - helpers shared by the configuration tests: load YAML text
 * through a temporary file and compare the exact error output.
 */
#ifndef MAGPIE_TEST_CFGLOAD_H
#define MAGPIE_TEST_CFGLOAD_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"


/* Writes yaml to a temp file, loads it, returns the config (or NULL) and
 * what was printed, with the temp path replaced by "magpie.yaml". */
static inline struct config *load_yaml(const char *yaml, char **errs)
{
    char path[] = "/tmp/magpie-test-config-XXXXXX";
    char *buf = NULL, *out, *p, *q;
    size_t len = 0, pl = strlen(path);
    struct config *cfg;
    FILE *ef;
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    ef = open_memstream(&buf, &len);
    assert_non_null(ef);
    cfg = config_load(path, ef);
    fclose(ef);
    unlink(path);
    out = calloc(1, len + 1);
    assert_non_null(out);
    for (p = buf, q = out; *p;) {
        if (!strncmp(p, path, pl)) {
            strcpy(q, "magpie.yaml");
            q += strlen(q);
            p += pl;
        } else {
            *q++ = *p++;
        }
    }
    free(buf);
    *errs = out;
    return cfg;
}

/* etc/magpie.yaml, from the checkout or from build/tests. */
static inline struct config *load_example(void)
{
    const char *path =
        access("etc/magpie.yaml", R_OK) == 0 ? "etc/magpie.yaml" : "../../etc/magpie.yaml";
    struct config *cfg = config_load(path, stderr);

    assert_non_null(cfg);
    return cfg;
}

static inline struct config *load_ok(const char *yaml)
{
    char *errs;
    struct config *cfg = load_yaml(yaml, &errs);

    assert_string_equal(errs, "");
    free(errs);
    assert_non_null(cfg);
    return cfg;
}

static inline void expect_errors(const char *yaml, const char *want)
{
    char *errs;
    struct config *cfg = load_yaml(yaml, &errs);

    assert_string_equal(errs, want);
    assert_null(cfg);
    free(errs);
}

static inline struct sockaddr_storage addr(const char *ip)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

    if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
    } else {
        assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
        sin6->sin6_family = AF_INET6;
    }
    return ss;
}

static inline bool allows(const struct config *cfg, const char *ip)
{
    struct sockaddr_storage ss = addr(ip);

    return config_acl_allows(cfg, (struct sockaddr *)&ss);
}

static inline bool purges(const struct config *cfg, const char *ip)
{
    struct sockaddr_storage ss = addr(ip);

    return config_purge_allowed(cfg, (struct sockaddr *)&ss);
}

#endif
