/*
 * hooks.c - the request phase: each request head goes through the hooks
 * in order until one of them answers it or fails it.
 */
#include "hooks.h"

enum hook_rc hooks_run(const struct hook *list, size_t n, void *arg, struct http_msg *m,
                       size_t *stopped)
{
    size_t i = 0;
    enum hook_rc rc = HOOK_NEXT;
    while (i < n && (rc = list[i].run(arg, m)) == HOOK_NEXT)
        i++;
    if (stopped)
        *stopped = i;
    return rc;
}
