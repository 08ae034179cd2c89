/*
 * hooks.h - the request phase as an ordered list of hooks. Each hook looks
 * at a parsed request head and answers: go on to the next hook, the
 * request was answered (a local answer is queued), or the exchange failed.
 * A capability that acts on requests (ACL, loop check, PURGE, route
 * choice; later redirect rules, proxy authentication) is one function and
 * one line of the list in hooks.c.
 */
#ifndef MAGPIE_HOOKS_H
#define MAGPIE_HOOKS_H

#include <stddef.h>

struct http_msg;

enum hook_rc {
    HOOK_NEXT,     /* not mine, or fine: the next hook decides */
    HOOK_ANSWERED, /* answered here: no later hook runs, nothing goes upstream */
    HOOK_ERROR,    /* the exchange failed (and was answered or closed) */
};

struct hook {
    const char *name; /* for the debug log */
    enum hook_rc (*run)(void *arg, struct http_msg *m);
};

/* Runs list[0..n) in order until a hook answers other than HOOK_NEXT and
   returns that answer (HOOK_NEXT when every hook passed); *stopped, if
   not NULL, is the index of the hook that stopped it (n when none did). */
enum hook_rc hooks_run(const struct hook *list, size_t n, void *arg, struct http_msg *m,
                       size_t *stopped);

/* The request hooks magpie runs on each request head, in order (hooks.c);
   arg is the request's struct head_ctx (proxy.h). */
extern const struct hook request_hooks[];
extern const size_t request_hook_count;

#endif
