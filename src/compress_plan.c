/*
 * compress_plan.c - what one exchange does with content codings, applying
 * coding.c's decisions at the three places they matter:
 *
 *  - the request's head: with compression on, Accept-Encoding is reduced
 *    to the one negotiated coding, which goes up and keys the variant
 *    (cache/key.c), and entity tags the client holds for an encoded
 *    variant go up as the origin's own;
 *  - the origin's response head: a compressible response gets Vary:
 *    Accept-Encoding, and for a client that gets it encoded, its
 *    Content-Encoding, no length and a derived entity tag, in the message
 *    itself, so the store and the client see one head; the fetch chain's
 *    encoder then makes the bytes that are stored;
 *  - any head going to a client (relayed or stored): a body in a coding
 *    the client does not accept is decoded on its way (the deliver chain),
 *    its Content-Encoding and length dropped and its entity tag weakened.
 */
#include <string.h>
#include <strings.h>

#include "cache/cache_int.h"
#include "coding.h"
#include "proxy.h"

/* Field values magpie rewrites are combined into this much, at most. */
#define PLAN_FIELD_MAX 1024

static const char *plan_value(const struct http_msg *m, const char *name, char *buf)
{
    bool over;
    const char *v = http_msg_value(m, name, true, buf, PLAN_FIELD_MAX, &over);
    return over ? NULL : v;
}

/* ---- the request ---- */

/*
 * The coding for an Accept-Encoding text (NULL: none), remembered for the
 * last text seen under this config: the clients of one proxy send the
 * same few texts over and over, and a comparison is cheaper than parsing.
 */
static enum coding plan_negotiate(const struct config *cfg, const char *text)
{
    static struct {
        unsigned long gen; /* 0: empty (configs count from 1) */
        uint8_t coding;
        char text[64];
    } last;
    if (text && last.gen == cfg->gen && strcmp(text, last.text) == 0)
        return (enum coding)last.coding;
    struct coding_accept a;
    coding_accept_parse(text, &a);
    enum coding want =
        coding_negotiate(&a, cfg->compression.encodings, cfg->compression.nencodings);
    if (text && strlen(text) < sizeof(last.text)) {
        last.gen = cfg->gen;
        last.coding = (uint8_t)want;
        memcpy(last.text, text, strlen(text) + 1);
    }
    return want;
}

void compress_plan_request(struct client *c, const struct http_msg *req,
                           const struct cfg_route *rt)
{
    struct exchange *ex = c->ex;
    ex->compress_on = config_compression_on(c->cfg, rt);
    ex->coding_want = CODING_IDENTITY;
    if (!ex->compress_on)
        return;
    /* one pass for both fields, as this is every request's cost */
    const struct http_header *ae = NULL;
    bool several = false;
    for (size_t i = 0; i < req->nhdrs; i++) {
        const struct http_header *h = &req->hdrs[i];
        if (h->name_len == 5 && strcasecmp(http_hname(req, h), "Range") == 0)
            return; /* a range is one of the identity representation */
        if (h->name_len == 15 && !h->hop &&
            strcasecmp(http_hname(req, h), "Accept-Encoding") == 0) {
            several = ae != NULL;
            ae = h;
        }
    }
    char buf[PLAN_FIELD_MAX];
    const char *text = several ? plan_value(req, "Accept-Encoding", buf)
                       : ae    ? http_hvalue(req, ae)
                               : NULL;
    ex->coding_want = (uint8_t)plan_negotiate(c->cfg, text);
}

bool compress_plan_rewrites(const struct client *c, const struct http_msg *m,
                            const struct http_header *h)
{
    if (!c->ex->compress_on)
        return false;
    const char *name = http_hname(m, h);
    switch (h->name_len) { /* every forwarded field asks: its length rules most out */
    case 15:
        return strcasecmp(name, "Accept-Encoding") == 0;
    case 13:
        return strcasecmp(name, "If-None-Match") == 0;
    case 8:
        return strcasecmp(name, "If-Match") == 0;
    default:
        return false;
    }
}

/* A conditional field with the tags derived for the coding the client
   gets mapped back to the origin's. */
static int plan_put_conditional(struct client *c, const struct http_msg *req, const char *name,
                                struct buf *out)
{
    char buf[PLAN_FIELD_MAX], mapped[PLAN_FIELD_MAX];
    bool over;
    const char *v = http_msg_value(req, name, true, buf, sizeof(buf), &over);
    int n = v ? coding_etag_list_base(v, (enum coding)c->ex->coding_want, mapped, sizeof(mapped))
              : 0;
    if (over || n < 0) {
        /* too long to map: the lines go as they came (a derived tag the
           origin does not know matches nothing: a full answer, not a wrong one) */
        for (size_t i = 0; i < req->nhdrs; i++) {
            const struct http_header *h = &req->hdrs[i];
            if (!h->hop && strcasecmp(http_hname(req, h), name) == 0 &&
                http_put_header(out, req, h) < 0)
                return -1;
        }
        return 0;
    }
    if (!v)
        return 0;
    if (n > 0)
        c->ex->etag_mapped = true;
    return buf_printf(out, "%s: %s\r\n", name, n > 0 ? mapped : v);
}

int compress_plan_request_fields(struct client *c, const struct http_msg *req, struct buf *out)
{
    if (!c->ex->compress_on)
        return 0;
    if (buf_printf(out, "Accept-Encoding: %s\r\n", coding_name(c->ex->coding_want)) < 0)
        return -1;
    if (plan_put_conditional(c, req, "If-None-Match", out) < 0 ||
        plan_put_conditional(c, req, "If-Match", out) < 0)
        return -1;
    return 0;
}

const char *compress_plan_revalidation_tag(struct client *c, const struct http_msg *stored,
                                           char *out, size_t size)
{
    const char *etag = cache_hval(stored, "ETag");
    if (!etag)
        return NULL;
    char buf[PLAN_FIELD_MAX];
    enum coding ce = coding_of_response(plan_value(stored, "Content-Encoding", buf));
    if (ce == CODING_IDENTITY || ce == CODING_UNKNOWN || !coding_etag_derived(etag, ce) ||
        coding_etag_list_base(etag, ce, out, size) <= 0)
        return etag;
    c->ex->etag_mapped = true;
    return out;
}

/* ---- the response ---- */

/* Whether the client's own Accept-Encoding accepts coding ce. */
static bool plan_client_accepts(struct client *c, enum coding ce)
{
    if (c->ex->compress_on && ce == (enum coding)c->ex->coding_want)
        return true;
    char buf[PLAN_FIELD_MAX];
    struct coding_accept a;
    coding_accept_parse(plan_value(http_reader_msg(c->reader), "Accept-Encoding", buf), &a);
    return coding_acceptable(&a, ce);
}

enum coding compress_plan_decode(struct client *c, enum coding ce)
{
    struct exchange *ex = c->ex;
    ex->decoding = CODING_IDENTITY;
    ex->coding_sent = (uint8_t)ce;
    /* a refresh's output is dropped: nothing to decode it for */
    if (ce == CODING_IDENTITY || ce == CODING_UNKNOWN || !c->cfg->compression.decompress ||
        c->phantom || plan_client_accepts(c, ce))
        return CODING_IDENTITY;
    ex->decoding = (uint8_t)ce;
    ex->coding_sent = CODING_IDENTITY;
    return ce;
}

/* The 304 to a request whose tags went up as the origin's: its tag is the
   variant's again, as the client and the store know it. */
static int plan_not_modified(struct client *c, struct http_msg *m)
{
    char buf[PLAN_FIELD_MAX], tag[PLAN_FIELD_MAX];
    enum coding want = (enum coding)c->ex->coding_want;
    const char *etag = cache_hval(m, "ETag");
    if (!c->ex->etag_mapped || want == CODING_IDENTITY || !etag)
        return 0;
    if (coding_etag_derive(etag, want, tag, sizeof(tag)) < 0)
        return 0; /* not a tag we could have derived: left as it is */
    bool over;
    const char *vary = http_msg_value(m, "Vary", true, buf, sizeof(buf), &over);
    char merged[PLAN_FIELD_MAX];
    if (over || coding_vary_merge(vary, merged, sizeof(merged)) < 0)
        return 0; /* as the 200 would have gone: not encoded, its tag the origin's */
    return http_msg_set(m, "ETag", tag) < 0 || http_msg_set(m, "Vary", merged) < 0 ? -1 : 0;
}

/* A compressible response: Vary says the coding matters, and for a client
   that gets it encoded, the head describes the encoded variant. 1 when it
   does, 0 when it goes as it is, -1 out of memory. */
static int plan_encode(struct client *c, struct http_msg *m, struct filter_head *fh)
{
    enum coding want = (enum coding)c->ex->coding_want;
    char buf[PLAN_FIELD_MAX], merged[PLAN_FIELD_MAX];
    bool over;
    const char *vary = http_msg_value(m, "Vary", true, buf, sizeof(buf), &over);
    if (over || coding_vary_merge(vary, merged, sizeof(merged)) < 0)
        return 0; /* a Vary too long to say the coding matters: sent as it is, not encoded */
    if (http_msg_set(m, "Vary", merged) < 0)
        return -1;
    if (want == CODING_IDENTITY)
        return 0;
    const char *etag = cache_hval(m, "ETag");
    char tag[PLAN_FIELD_MAX];
    if (etag && coding_etag_derive(etag, want, tag, sizeof(tag)) < 0)
        tag[0] = '\0'; /* malformed: an encoded variant cannot share it, so it has none */
    if (etag && http_msg_set(m, "ETag", tag[0] ? tag : NULL) < 0)
        return -1;
    if (http_msg_set(m, "Content-Encoding", coding_name(want)) < 0 ||
        http_msg_set(m, "Content-Length", NULL) < 0)
        return -1;
    m->content_length = -1; /* the store learns the length at the end */
    if (http_status_has_body(c->ex->method_id, m->status)) {
        fh->encode = want;
        fh->level = c->cfg->compression.level[want];
        fh->length = -1;
    }
    return 1;
}

int compress_plan_response(struct client *c, struct http_msg *m, struct filter_head *fh)
{
    struct exchange *ex = c->ex;
    fh->encode = fh->decode = CODING_IDENTITY;
    char buf[PLAN_FIELD_MAX];
    bool ce_over, cc_over = false;
    const char *ce_text = http_msg_value(m, "Content-Encoding", true, buf, sizeof(buf), &ce_over);
    /* a coding list too long to read is no coding magpie knows */
    enum coding ce = ce_over ? CODING_UNKNOWN : coding_of_response(ce_text);
    if (ex->compress_on && m->status == 304)
        return plan_not_modified(c, m);
    char cc_buf[PLAN_FIELD_MAX];
    const char *cc = ex->compress_on ? http_msg_value(m, "Cache-Control", true, cc_buf,
                                                      sizeof(cc_buf), &cc_over)
                                     : NULL;
    /* what cannot be read whole might say no-transform: left as it is */
    if (ex->compress_on && !ce_over && !cc_over) {
        struct compress_facts f = {
            .method = ex->method_id,
            .status = m->status,
            .content_type = cache_hval(m, "Content-Type"),
            .content_encoding = ce_text,
            .cache_control = cc,
            .length = m->content_length,
            .range_request = http_find(http_reader_msg(c->reader), "Range") != NULL,
        };
        const struct config *cfg = c->cfg;
        enum compress_verdict v = coding_compressible(&f, cfg->compression.types,
                                                      cfg->compression.ntypes,
                                                      cfg->compression.min_size);
        /* a range request's answer is the identity variant of a response
           that varies on the coding like any other */
        if (v == COMPRESS_YES || v == COMPRESS_NO_RANGE) {
            int rc = plan_encode(c, m, fh);
            if (rc < 0)
                return -1;
            if (rc > 0)
                ce = (enum coding)ex->coding_want;
        }
    }
    if (compress_plan_decode(c, ce) != CODING_IDENTITY &&
        http_status_has_body(ex->method_id, m->status)) {
        fh->decode = ce;
        fh->length = -1;
    }
    return 0;
}

/* ---- heads towards a client that gets the body decoded ---- */

int compress_plan_put_field(struct buf *out, const struct http_msg *m, const struct http_header *h)
{
    const char *name = http_hname(m, h);
    if (strcasecmp(name, "Content-Encoding") == 0 || strcasecmp(name, "Content-Length") == 0)
        return 1; /* the body goes decoded, chunked */
    if (strcasecmp(name, "ETag") != 0)
        return 0;
    char tag[PLAN_FIELD_MAX];
    if (coding_etag_weaken(http_hvalue(m, h), tag, sizeof(tag)) < 0)
        return 1; /* not one entity tag: the decoded body goes without */
    return buf_printf(out, "ETag: %s\r\n", tag) < 0 ? -1 : 1;
}
