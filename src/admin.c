/*
 * admin.c - what an admin listener (admin.listen) answers: GET /metrics
 * (metrics.c, Prometheus text format 0.0.4), GET /healthz (200 while
 * accepting, 503 while draining) and GET /cache?url= (what is stored for a
 * URL, admin_cache.c). Nothing on an admin listener is routed, proxied or
 * cached; admin.allow says who may ask.
 */
#include "proxy.h"

#include <string.h>

#include "buf.h"
#include "hooks.h"
#include "respond.h"
#include "server.h"

#define ADMIN_METRICS_MAX (512 * 1024) /* far above what the counters print */

/* The path of an origin-form target, without its query. */
static bool admin_path_is(const struct http_msg *m, const char *path)
{
    const char *t = http_str(m, m->target);
    size_t n = strlen(path);
    return m->target_len >= n && strncmp(t, path, n) == 0 && (m->target_len == n || t[n] == '?');
}

static void admin_send(struct client *c, int status, const char *type, const char *body, size_t len)
{
    struct answer a = {
        .status = status, .reason = "admin", .body = body, .body_len = len, .type = type};
    exchange_answer(c, &a);
}

static void admin_metrics(struct client *c)
{
    struct buf out;
    buf_init(&out, ADMIN_METRICS_MAX);
    if (metrics_render(c->srv, &out) < 0) {
        buf_free(&out);
        exchange_fail(c, 500, "the metrics do not fit");
        return;
    }
    admin_send(c, 200, "text/plain; version=0.0.4; charset=utf-8", buf_head(&out), buf_used(&out));
    buf_free(&out);
}

void admin_answer(struct client *c, const char *what)
{
    if (strcmp(what, "/metrics") == 0)
        admin_metrics(c);
    else if (strncmp(what, "/cache", 6) == 0)
        admin_cache(c, what); /* the whole target: its query says the URL */
    else if (c->srv->draining)
        admin_send(c, 503, NULL, "draining\n", 9);
    else
        admin_send(c, 200, NULL, "ok\n", 3);
}

/* On an admin listener every request is answered here, once the parser
   has returned (exchange_answer_held calls admin_answer). */
enum hook_rc request_hook_admin(void *arg, struct http_msg *m)
{
    struct client *c = ((struct head_ctx *)arg)->c;
    struct exchange *ex = c->ex;
    if (!c->admin)
        return HOOK_NEXT;
    c->srv->metrics.admin_requests++;
    const char *what = admin_path_is(m, "/metrics")   ? "/metrics"
                       : admin_path_is(m, "/healthz") ? "/healthz"
                       : admin_path_is(m, "/cache")   ? "/cache"
                                                      : NULL;
    if (m->method_id != HTTP_M_GET && m->method_id != HTTP_M_HEAD)
        exchange_fail(c, 405, "the admin listener answers GET and HEAD only");
    else if (!what)
        exchange_fail(c, 404, "the admin listener has /metrics, /healthz and /cache");
    else if (!ex->in_head || !ex->bodiless)
        exchange_fail(c, 400, "an admin request has no body");
    else if (!ex->local_status) {
        ex->local_status = 200; /* held: admin_answer once the parser returned */
        /* /cache needs its query: the whole target is kept */
        ex->local_reason = strcmp(what, "/cache") == 0
                               ? strndup(http_str(m, m->target), m->target_len)
                               : strdup(what);
    }
    return HOOK_ANSWERED;
}
