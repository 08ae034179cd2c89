/*
 * hooks.c - the request hooks and the order they run in. Each answers
 * next, answered or error (hooks.h); the first that does not say next
 * ends the request phase.
 */
#include "hooks.h"

#include "proxy.h"

enum hook_rc hooks_run(const struct hook *list, size_t n, void *arg, struct http_msg *m,
                       size_t *stopped)
{
    size_t i;
    enum hook_rc rc = HOOK_NEXT;
    for (i = 0; i < n && rc == HOOK_NEXT; i++)
        rc = list[i].run(arg, m);
    if (stopped)
        *stopped = rc == HOOK_NEXT ? n : i - 1;
    return rc;
}

/* arg: the request's struct head_ctx (proxy.h) */
const struct hook request_hooks[] = {
    {"acl", request_hook_acl},       /* client ACL and connection limits */
    {"checks", request_hook_checks}, /* version, target length, Host */
    {"loop", request_hook_loop},     /* Via already names this proxy */
    {"route", request_hook_route},   /* CONNECT target, absolute URI or reverse route */
    {"purge", request_hook_purge},   /* PURGE: answered from the cache */
};
const size_t request_hook_count = sizeof(request_hooks) / sizeof(request_hooks[0]);
