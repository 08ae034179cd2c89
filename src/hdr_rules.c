/*
 * hdr_rules.c - the header edits of an exchange's route and cache rule
 * (hdr_rules.h). The configuration keeps names unique within one edit and
 * never both set and removed there, and refuses hop-by-hop, framing and
 * magpie's own fields, so what is left here is the order of the two edits.
 */
#include "hdr_rules.h"

#include <string.h>
#include <strings.h>

#include "proxy.h"

/* The two edits in the order they apply: the route's (NULL in forward
   mode), then the rule's. */
static void hdr_edits(const struct client *c, bool request, const struct cfg_hdr_edit *e[2])
{
    const struct cfg_route *rt = c->ex->cx.rt;
    const struct cfg_cache_rule *rule = c->ex->cx.rule;
    e[0] = rt ? (request ? &rt->request_headers : &rt->response_headers) : NULL;
    e[1] = request ? &rule->request_headers : &rule->response_headers;
}

static bool hdr_edit_any(const struct cfg_hdr_edit *e)
{
    return e && (e->nset || e->nremove);
}

/* Whether the configured name is name[0..len), case-insensitively. The
   length first: cfg[len] is past cfg's end when cfg is shorter. */
static bool hdr_name_is(const char *cfg, const char *name, size_t len)
{
    return strnlen(cfg, len + 1) == len && strncasecmp(cfg, name, len) == 0;
}

/* Whether e sets or removes name[0..len). */
static bool hdr_edit_names(const struct cfg_hdr_edit *e, const char *name, size_t len)
{
    if (!e)
        return false;
    for (size_t i = 0; i < e->nset; i++)
        if (hdr_name_is(e->set[i].name, name, len))
            return true;
    for (size_t i = 0; i < e->nremove; i++)
        if (hdr_name_is(e->remove[i], name, len))
            return true;
    return false;
}

bool hdr_rules_request_any(const struct client *c)
{
    const struct cfg_hdr_edit *e[2];
    hdr_edits(c, true, e);
    return hdr_edit_any(e[0]) || hdr_edit_any(e[1]);
}

int hdr_rules_request(const struct client *c, struct http_msg *m)
{
    const struct cfg_hdr_edit *e[2];
    hdr_edits(c, true, e);
    for (size_t k = 0; k < 2; k++) {
        if (!e[k])
            continue;
        for (size_t i = 0; i < e[k]->nremove; i++)
            if (http_msg_set(m, e[k]->remove[i], NULL) < 0)
                return -1;
        for (size_t i = 0; i < e[k]->nset; i++)
            if (http_msg_set(m, e[k]->set[i].name, e[k]->set[i].value) < 0)
                return -1;
    }
    return 0;
}

bool hdr_rules_response_any(const struct client *c)
{
    const struct cfg_hdr_edit *e[2];
    hdr_edits(c, false, e);
    return hdr_edit_any(e[0]) || hdr_edit_any(e[1]);
}

bool hdr_rules_response_drops(const struct client *c, const char *name, size_t len)
{
    const struct cfg_hdr_edit *e[2];
    hdr_edits(c, false, e);
    return hdr_edit_names(e[0], name, len) || hdr_edit_names(e[1], name, len);
}

static int hdr_put_field(struct buf *out, const struct cfg_hdr_field *f)
{
    return buf_append_field(out, f->name, strlen(f->name), f->value, strlen(f->value));
}

int hdr_rules_response_put(const struct client *c, struct buf *out)
{
    const struct cfg_hdr_edit *e[2];
    hdr_edits(c, false, e);
    for (size_t i = 0; e[0] && i < e[0]->nset; i++) {
        const struct cfg_hdr_field *f = &e[0]->set[i];
        /* the rule, applied after the route, sets or removes it itself */
        if (!hdr_edit_names(e[1], f->name, strlen(f->name)) && hdr_put_field(out, f) < 0)
            return -1;
    }
    for (size_t i = 0; i < e[1]->nset; i++)
        if (hdr_put_field(out, &e[1]->set[i]) < 0)
            return -1;
    return 0;
}
