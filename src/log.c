/*
 * log.c - the error log and the access log. Each is a file descriptor
 * written with one write(2) per line (O_APPEND keeps lines whole when
 * several processes share a file). Lines are small and the files local, so
 * writes are synchronous, like nginx's.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct log_file {
    char *path; /* NULL: off; "-": stderr */
    int fd;
};

static struct log_file error_log = {NULL, STDERR_FILENO};
static struct log_file access_log = {NULL, -1};
static enum log_level min_level = LOGL_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static int log_file_open(const char *path)
{
    if (!path)
        return -1;
    if (strcmp(path, "-") == 0)
        return STDERR_FILENO;
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

static void log_file_close(struct log_file *lf)
{
    if (lf->fd > STDERR_FILENO)
        close(lf->fd);
    lf->fd = -1;
    free(lf->path);
    lf->path = NULL;
}

/* Opens path into lf, keeping lf as it was if that fails. */
static int log_file_set(struct log_file *lf, const char *path)
{
    int fd = -1;
    if (path) {
        fd = log_file_open(path);
        if (fd < 0)
            return -1;
    }
    char *copy = path ? strdup(path) : NULL;
    log_file_close(lf);
    lf->fd = fd;
    lf->path = copy;
    return 0;
}

static size_t log_timestamp(char *out, size_t size)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(out + n, size - n, ".%03dZ", (int)(tv.tv_usec / 1000));
    return n;
}

int log_open(const char *error_path, const char *access_path, enum log_level level)
{
    min_level = level;
    if (log_file_set(&error_log, error_path ? error_path : "-") < 0) {
        fprintf(stderr, "magpie: cannot open error log %s: %s\n", error_path, strerror(errno));
        return -1;
    }
    if (log_file_set(&access_log, access_path) < 0) {
        log_error("cannot open access log %s: %s", access_path, strerror(errno));
        return -1;
    }
    return 0;
}

int log_apply(const struct config *cfg)
{
    int rc = 0;
    if (log_file_set(&error_log, cfg->error_log ? cfg->error_log : "-") < 0) {
        log_error("cannot open error log %s: %s; keeping %s", cfg->error_log, strerror(errno),
                  error_log.path);
        rc = -1;
    }
    if (log_file_set(&access_log, cfg->access_log) < 0) {
        log_error("cannot open access log %s: %s; keeping %s", cfg->access_log, strerror(errno),
                  access_log.path ? access_log.path : "off");
        rc = -1;
    }
    min_level = cfg->log_level;
    return rc;
}

static void log_file_reopen(struct log_file *lf)
{
    if (!lf->path || strcmp(lf->path, "-") == 0)
        return;
    int fd = log_file_open(lf->path);
    if (fd < 0) {
        log_error("cannot reopen %s: %s", lf->path, strerror(errno));
        return;
    }
    if (lf->fd > STDERR_FILENO)
        close(lf->fd);
    lf->fd = fd;
}

void log_reopen(void)
{
    log_file_reopen(&error_log);
    log_file_reopen(&access_log);
    log_info("logs reopened");
}

void log_close(void)
{
    log_file_close(&access_log);
    log_file_close(&error_log);
    error_log.fd = STDERR_FILENO;
}

bool log_enabled(enum log_level level)
{
    return level <= min_level;
}

static void log_write(int fd, const char *line, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, line, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* nowhere left to report it */
        line += n;
        len -= (size_t)n;
    }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level) || error_log.fd < 0)
        return;
    char line[2048];
    size_t n = log_timestamp(line, sizeof(line));
    n += (size_t)snprintf(line + n, sizeof(line) - n, " [%s] ", level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += (size_t)m;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    log_write(error_log.fd, line, n);
}

bool log_access_enabled(void)
{
    return access_log.fd >= 0;
}

void log_access(const char *line, size_t len)
{
    if (access_log.fd < 0)
        return;
    char out[4096 + 64];
    size_t n = log_timestamp(out, sizeof(out));
    out[n++] = ' ';
    if (len > sizeof(out) - n - 1)
        len = sizeof(out) - n - 1;
    memcpy(out + n, line, len);
    n += len;
    out[n++] = '\n';
    log_write(access_log.fd, out, n);
}

void log_access_line(const char *line, size_t len)
{
    if (access_log.fd >= 0)
        log_write(access_log.fd, line, len);
}
