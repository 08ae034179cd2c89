/*
 * log.h - the error log (levelled, timestamped lines) and the access log
 * (one line per request). Both reopen on SIGUSR1 for log rotation.
 */
#ifndef MAGPIE_LOG_H
#define MAGPIE_LOG_H

#include "config.h"

/* Opens both logs ("-" is stderr, NULL access log is off). 0 or -1. */
int log_open(const char *error_log, const char *access_log, enum log_level level);
/* Reopens the same files (after rotation). */
void log_reopen(void);
void log_close(void);
/* Applies a reloaded config's logs; keeps the old ones if they fail to open. */
int log_apply(const struct config *cfg);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOGL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOGL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOGL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOGL_DEBUG))                                                               \
            log_msg(LOGL_DEBUG, __VA_ARGS__);                                                      \
    } while (0)

/* Writes one preformatted access line (a newline is added). */
void log_access(const char *line, size_t len);
/* Writes one whole line as it is, its time and newline included (combined, json). */
void log_access_line(const char *line, size_t len);
bool log_access_enabled(void);

#endif
