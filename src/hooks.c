/*
 * hooks.c - the request phase: each request head goes through the hooks
 * in order until one of them answers it or fails it. The list magpie runs
 * is here; a capability that acts on requests is one function and one line.
 */
#include "hooks.h"

#include "auth.h"
#include "proxy.h"

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

/* arg: the request's struct head_ctx (proxy.h) */
const struct hook request_hooks[] = {
    {"acl", request_hook_acl},           /* client ACL and connection limits */
    {"auth", request_hook_auth},         /* auth.basic: Proxy-Authorization, else 407 */
    {"checks", request_hook_checks},     /* version, target length, Host */
    {"admin", request_hook_admin},       /* an admin listener: /metrics, /healthz, /cache */
    {"loop", request_hook_loop},         /* Via already names this proxy */
    {"route", request_hook_route},       /* CONNECT target, absolute URI or reverse route */
    /* acl.rules: by client network, destination host suffix and port, method */
    {"acl_rules", request_hook_acl_rules},
    {"purge", request_hook_purge},       /* PURGE: answered from the cache */
    {"redirect", request_hook_redirect}, /* redirects: answered before the cache and the origin */
    {"headers", request_hook_headers},   /* request_headers of the route and the cache rule */
};
const size_t request_hook_count = sizeof(request_hooks) / sizeof(request_hooks[0]);
