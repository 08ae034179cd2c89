/*
 * respond.c - one end for every response head, and the answers magpie
 * makes itself (respond.h).
 */
#include "respond.h"

#include <string.h>
#include <strings.h>

#include "proxy.h"

/* One Via line: the origin's entries, then ours ("1.<minor> name"). */
static int respond_via(const struct client *c, struct buf *out, const struct head_end *e)
{
    const struct http_msg *m = e->via_from;
    if (buf_append_lit(out, "Via: ") < 0)
        return -1;
    for (size_t i = 0; m && i < m->nhdrs; i++) {
        const struct http_header *h = &m->hdrs[i];
        if (!h->hop && h->name_len == 3 && strcasecmp(http_hname(m, h), "Via") == 0 &&
            (buf_append(out, http_hvalue(m, h), h->value_len) < 0 || buf_append_lit(out, ", ") < 0))
            return -1;
    }
    if (e->via_prior_len &&
        (buf_append(out, e->via_prior, e->via_prior_len) < 0 || buf_append_lit(out, ", ") < 0))
        return -1;
    char v[] = "1.1 ";
    if (e->via_minor < 10)
        v[2] = (char)('0' + e->via_minor);
    if (buf_append(out, v, sizeof(v) - 1) < 0 || buf_append_str(out, c->cfg->proxy_name) < 0)
        return -1;
    return buf_append_lit(out, "\r\n");
}

int respond_finish(const struct client *c, struct buf *out, const struct head_end *e)
{
    if (e->age >= 0 &&
        (buf_append_lit(out, "Age: ") < 0 || buf_append_u64(out, (uint64_t)(e->age + 0.5)) < 0 ||
         buf_append_lit(out, "\r\n") < 0))
        return -1;
    if (respond_via(c, out, e) < 0)
        return -1;
    if (e->upgrade)
        return buf_append_lit(out, "Connection: Upgrade\r\n\r\n");
    if (e->interim || e->tunnel)
        return buf_append_lit(out, "\r\n");
    if (e->length >= 0 &&
        (buf_append_lit(out, "Content-Length: ") < 0 ||
         buf_append_u64(out, (uint64_t)e->length) < 0 || buf_append_lit(out, "\r\n") < 0))
        return -1;
    if (e->chunked && buf_append_lit(out, "Transfer-Encoding: chunked\r\n") < 0)
        return -1;
    if (e->cache_status) {
        char cs[256];
        int n = cache_status_headers(c, cs, sizeof(cs));
        if (n > 0 && (size_t)n < sizeof(cs) && buf_append(out, cs, (size_t)n) < 0)
            return -1;
    }
    /* stated either way, so that no client version has to guess */
    if (!c->ex->keep_alive)
        return buf_append_lit(out, "Connection: close\r\n\r\n");
    return buf_append_lit(out, "Connection: keep-alive\r\n\r\n");
}

int respond_local(struct client *c, const struct answer *a)
{
    struct exchange *ex = c->ex;
    size_t mark;
    struct buf *out = writer_head_begin(c, &mark);
    int rc = http_put_status(out, a->status, a->phrase);
    if (!a->tunnel)
        ex->coding_sent = CODING_IDENTITY; /* magpie's own words go as they are */
    if (a->body)
        rc |= buf_append_lit(out, "Content-Type: ") |
              buf_append_str(out, a->type ? a->type : "text/plain") | buf_append_lit(out, "\r\n");
    if (a->fields)
        rc |= buf_append(out, a->fields, a->fields_len);
    if (!a->tunnel)
        rc |= buf_append_lit(out, "Cache-Control: ") |
              buf_append_str(out, a->cache_control ? a->cache_control : "no-store") |
              buf_append_lit(out, "\r\n");
    /* a request the cache looked at says so, answered here or not */
    struct head_end e = {.via_minor = 1,
                         .age = -1,
                         .length = a->body ? (int64_t)a->body_len : 0,
                         .tunnel = a->tunnel,
                         .cache_status = !a->tunnel};
    if (rc == 0)
        rc = respond_finish(c, out, &e);
    if (writer_head_end(c, mark, rc) < 0)
        return -1;
    ex->status = a->status;
    ex->rsp_head_sent = true;
    if (a->body && ex->method_id != HTTP_M_HEAD)
        return writer_out(c, a->body, a->body_len);
    return 0;
}
