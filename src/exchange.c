/*
 * exchange.c - the controller: the only code that moves a connection from
 * one step to the next (enum client_state, docs/ARCHITECTURE.md). A request
 * head is received and its hooks run (client_request.c); the cache decides
 * whether the store answers, a fetch is followed or the origin is asked;
 * this file acts on that decision: deliver from the store, fetch (upstream.c
 * takes the origin connection through its own phases), synthesize a local
 * answer, tunnel, and end the exchange when its response is complete.
 *
 * The cache returns decisions and tells the controller what it decided for
 * the followers of a fetch (exchange_release, exchange_follow_*); it never
 * sets a step, closes a connection or writes a socket.
 */
#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "respond.h"

static void exchange_answer_held(struct client *c, size_t head_len);

/* ---- the connection's first and last steps ---- */

void exchange_begin(struct client *c, bool tls)
{
    c->state = tls ? CS_TLS : CS_RECEIVE;
}

void exchange_handshake_done(struct client *c)
{
    c->state = CS_RECEIVE;
}

void exchange_closed(struct client *c)
{
    c->state = CS_CLOSED;
}

/*
 * A fetch outlives its client when its response is being stored, or when
 * other requests wait for its head (cache_fetch_outlives): the connection
 * becomes a phantom, as a background refresh is, that reads the response
 * to its end for the store alone, bounded by read_timeout and
 * max_object_size, and counted against max_connections until it ends. It
 * is dropped once its response turns out not to be stored
 * (upstream_relay.c).
 */
bool exchange_detach(struct client *c, const char *why)
{
    struct exchange *ex = c->ex;
    /* the origin side must be alive: no reader once it failed (exchange_fail) */
    if (c->phantom || c->srv->draining || !ex || c->state != CS_FETCH || !ex->req_done ||
        ex->rsp_done || ex->body_first || !ex->up.reader || !cache_fetch_outlives(c))
        return false;
    if (!client_phantom_room(c)) {
        log_info("#%llu %s: %s; %u fetches without a client already: the fetch of %s ends", c->id,
                 c->addr_text, why, c->srv->nphantom, ex->url ? ex->url : "-");
        return false;
    }
    log_info("#%llu %s: %s; the fetch of %s goes on for the cache", c->id, c->addr_text, why,
             ex->url ? ex->url : "-");
    client_become_phantom(c);
    cache_leader_detach(c);
    upstream_update_io(c); /* nothing holds the origin back now */
    return true;
}

/* ---- after the request head ---- */

/*
 * A request body is read into up.out before an origin connection is taken,
 * until it is complete or the buffer holds PROXY_HIGH_WATER: a client that
 * trickles or stalls its body then holds no slot of
 * upstream.pool.max_per_origin, and a larger body holds one only while it
 * keeps coming (client_idle_timeout, else 408). Not with
 * Expect: 100-continue, whose client waits for the origin's word.
 */
static bool exchange_body_first(const struct client *c)
{
    const struct exchange *ex = c->ex;
    if (ex->bodiless || ex->req_done || ex->connect)
        return false;
    return !http_reader_msg(c->reader)->expect_continue;
}

/*
 * The store's body into the deliver chain, as far as it is ready. now: on
 * this connection's own turn, written at once (and a response with nothing
 * left to write ends here); otherwise (from the writer, or from another
 * request's fetch) the writer goes on from the loop, so that no exchange
 * ends under a caller walking a list it is on.
 */
static void exchange_store_push(struct client *c, bool now)
{
    if (cache_serve_more(c) < 0) {
        if (c->ex->decoding != CODING_IDENTITY)
            log_warn("#%llu %s: stored %s: %s", c->id, c->addr_text, c->ex->url ? c->ex->url : "-",
                     *filter_why() ? filter_why() : "the body could not be decoded");
        client_close(c, CLOSE_STORE_ERROR, "cannot send the stored body");
        return;
    }
    if (!now) {
        client_update_io(c);
        return;
    }
    if (c->ex->wr.ended && !writer_pending(c) && buf_empty(&c->out)) {
        exchange_delivered(c); /* nothing was left to write */
        return;
    }
    client_flush(c);
}

/* The store answers: its head and body through the deliver chain; now
   as in exchange_store_push. */
static void exchange_deliver_from(struct client *c, bool now)
{
    c->state = CS_DELIVER;
    if (cache_serve_start(c) < 0) {
        client_close(c, CLOSE_STORE_ERROR, "cannot serve the stored response");
        return;
    }
    exchange_store_push(c, now);
}

void exchange_deliver(struct client *c)
{
    exchange_deliver_from(c, true);
}

void exchange_deliver_resume(void *arg)
{
    struct client *c = arg;
    if (c->state == CS_DELIVER && chain_filtered(&c->ex->fetch))
        chain_resume(&c->ex->fetch); /* draining: an encoder holds the rest (exchange_drain) */
    else if (c->state == CS_DELIVER || c->ex->cx.role == ROLE_BEHIND)
        exchange_store_push(c, false);
    else
        chain_resume(&c->ex->fetch);
}

void exchange_drain(struct client *c)
{
    upstream_done(c);
    c->state = CS_DELIVER;
    client_flush(c);
}

void exchange_delivered(struct client *c)
{
    c->ex->rsp_done = true;
    exchange_done(c);
}

/*
 * The parser returned from a complete request head (head_len bytes of
 * c->in); the hooks and the cache decided what happens (ex->plan). 0 when
 * the exchange goes on reading the request body, -1 when the connection
 * is done with the input for now.
 */
int exchange_received(struct client *c, size_t head_len)
{
    struct exchange *ex = c->ex;
    if (ex->local_status) {
        exchange_answer_held(c, head_len);
        return -1;
    }
    switch (ex->plan) {
    case PLAN_NONE:
        return -1; /* answered, or closed */
    case PLAN_SERVE:
        exchange_deliver(c);
        return -1;
    case PLAN_FOLLOW:
        c->state = CS_DELIVER;
        if (store_obj_is_open(&ex->cx.obj))
            exchange_deliver(c); /* a fetch already streaming */
        else
            client_flush(c);
        return -1;
    case PLAN_FETCH:
        break;
    }
    c->state = CS_FETCH;
    ex->body_first = exchange_body_first(c);
    if (!ex->body_first)
        upstream_start(c);
    return c->state == CS_FETCH ? 0 : -1;
}

/* body_first: the body is in, or as much of it as the buffer holds. */
void exchange_body_read(struct client *c)
{
    struct exchange *ex = c->ex;
    if (c->state != CS_FETCH || !ex->body_first ||
        (!ex->req_done && buf_used(&ex->up.out) < PROXY_HIGH_WATER))
        return;
    ex->body_first = false;
    upstream_start(c);
}

/* ---- what the cache decides for followers of a fetch ---- */

void exchange_release(struct client *c)
{
    c->state = CS_FETCH;
    upstream_start_later(c);
}

/* A follower's fetch streams: its head and what is stored so far, written
   from the loop (the leader's turn is walking its followers). */
void exchange_follow_start(struct client *c)
{
    exchange_deliver_from(c, false);
}

void exchange_follow_failed(struct client *c)
{
    client_close(c, CLOSE_UPSTREAM_ERROR, "the fetch it followed failed");
}

void exchange_follow_more(struct client *c)
{
    if (c->state == CS_DELIVER && c->ex->rsp_head_sent)
        exchange_store_push(c, false); /* from the leader's turn: written from the loop */
}

/* The fetch ended while its leader's client was behind: the rest of the
   body goes from the file. */
void exchange_catch_up(struct client *c)
{
    cache_leader_catch_up(c);
    c->state = CS_DELIVER;
    c->ex->rsp_done = false;
    exchange_store_push(c, true);
}

/*
 * The origin's answer was read and dropped: the store answers instead (a
 * 304 to a revalidation, stale-if-error), or nobody needs an answer (a
 * background refresh).
 */
void exchange_serve_stored(struct client *c)
{
    switch (cache_after_intercept(c)) {
    case CACHE_SERVE_IT:
        c->ex->rsp_head_sent = c->ex->rsp_done = false;
        exchange_deliver(c);
        return;
    case CACHE_STORED_ONLY:
        c->ex->rsp_done = true;
        exchange_done(c);
        return;
    case CACHE_BAD_304:
        exchange_fail(c, 502, "the origin answered 304 to a request without validators");
        return;
    case CACHE_VANISHED:
        exchange_fail(c, 502, "the revalidated response vanished from the cache");
        return;
    }
}

void exchange_refresh(struct client *c, const struct http_msg *m)
{
    struct client *p = client_spawn_refresh(c, m);
    if (p && cache_refresh_lead(p, c) < 0)
        client_close(p, CLOSE_INTERNAL, "out of memory");
}

void exchange_tunnel(struct client *c)
{
    c->state = CS_TUNNEL;
    tunnel_open(c);
}

/* ---- synthesized answers ---- */

/* After these, what the client sends next cannot be trusted to be a
   request (a bad or oversized head, a timeout, another protocol): close,
   as nginx does. */
static bool exchange_status_closes(int status)
{
    return status == 400 || status == 408 || status == 414 || status == 431 || status == 505;
}

/* Why the connection closes after an answer of this status, or after an
   exchange that could not keep it: the first cause that applies. */
static enum close_reason exchange_close_why(const struct client *c, int status)
{
    if (c->deny_status)
        return c->deny_status == 503 ? CLOSE_LIMIT : CLOSE_ACL;
    if (c->srv->draining)
        return CLOSE_SHUTDOWN;
    if (status == 408)
        return CLOSE_REQUEST_TIMEOUT;
    if (exchange_status_closes(status))
        return CLOSE_BAD_REQUEST;
    if (c->read_eof)
        return CLOSE_CLIENT_CLOSED; /* half-closed after its request */
    if (c->ex && !c->ex->req_done)
        return CLOSE_BODY_UNREAD;
    return CLOSE_NOT_KEPT;
}

/* Why a response already under way is cut: its head went out, so the
   failure can only show as a close. */
static enum close_reason exchange_cut_why(int status)
{
    if (status == 502 || status == 503 || status == 504)
        return CLOSE_UPSTREAM_ERROR;
    return status == 408 ? CLOSE_REQUEST_TIMEOUT : CLOSE_INTERNAL;
}

void exchange_answer(struct client *c, const struct answer *a)
{
    struct exchange *ex = c->ex;
    if (c->state == CS_CLOSED)
        return;
    upstream_close(c);
    if (ex->rsp_head_sent && !writer_take_back(c)) {
        /* too late for a status: a close makes the truncation visible */
        client_close(c, exchange_cut_why(a->status), a->reason);
        return;
    }
    bool keep =
        ex->req_done && ex->keep_alive && !c->srv->draining && !exchange_status_closes(a->status);
    ex->keep_alive = keep;
    if (respond_local(c, a) < 0) {
        client_close(c, CLOSE_OVERFLOW, "output buffer full");
        return;
    }
    ex->rsp_done = true;
    if (!keep) {
        c->close_why = exchange_close_why(c, a->status); /* before req_done is forced */
        ex->req_done = true;
        c->close_after_flush = true;
    }
    exchange_done(c);
}

void exchange_fail(struct client *c, int status, const char *reason)
{
    if (c->state == CS_CLOSED)
        return;
    struct exchange *ex = c->ex;
    if (!ex) { /* no request to answer */
        log_info("#%llu %s: %d %s", c->id, c->addr_text, status, reason);
        client_close(c, exchange_close_why(c, status), reason);
        return;
    }
    if (ex->in_head && ex->bodiless && !ex->connect && !c->deny_status &&
        !exchange_status_closes(status)) {
        /* answered once the parser has returned (exchange_answer_held): the
           request is then complete, and the connection can be kept */
        if (!ex->local_status) {
            ex->local_status = status;
            ex->local_reason = strdup(reason);
        }
        return;
    }
    /* a 407 is how every proxy client starts; auth.c logs failures itself, rate limited */
    log_msg(status == 407 ? LOGL_DEBUG : LOGL_INFO, "#%llu %s: %d %s%s%s", c->id, c->addr_text,
            status, reason, ex->url ? " for " : "", ex->url ? ex->url : "");
    if (c->state == CS_FETCH && cache_stale_on_failure(c, status)) {
        upstream_close(c);
        exchange_serve_stored(c);
        return;
    }
    char body[512];
    int blen = snprintf(body, sizeof(body), "magpie: %s\n", reason);
    struct answer a = {.status = status, .reason = reason, .body = body, .body_len = (size_t)blen};
    char retry[64];
    if (status == 407)
        a.fields = auth_challenge(c->cfg, &a.fields_len);
    else if (status == 429) /* only auth.c answers 429 */
        a.fields = retry, a.fields_len = auth_retry_field(c, retry, sizeof(retry));
    exchange_answer(c, &a);
}

/*
 * A bodiless request answered from its head (an error, PURGE): the answer
 * waited until the parser returned, so the head can be consumed and the
 * connection kept, like after any complete request. The parser stopped at
 * the head's end; a fresh one takes the next request.
 */
static void exchange_answer_held(struct client *c, size_t head_len)
{
    int status = c->ex->local_status;
    char *reason = c->ex->local_reason;
    c->ex->local_status = 0;
    c->ex->local_reason = NULL;
    buf_consume(&c->in, head_len);
    http_reader_free(&c->reader);
    c->ex->req_done = true;
    if (exchange_is_redirect(status) && reason)
        exchange_redirect(c, status, reason); /* a held redirect keeps its Location there */
    else if (c->admin && status == 200 && reason)
        admin_answer(c, reason); /* what an admin listener was asked */
    else
        exchange_fail(c, status, reason ? reason : "out of memory");
    free(reason);
}

bool exchange_is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

void exchange_redirect(struct client *c, int status, const char *location)
{
    struct exchange *ex = c->ex;
    if (c->state == CS_CLOSED || !ex)
        return;
    ex->cx.result = CACHE_REDIRECT;
    if (ex->in_head && ex->bodiless && !c->deny_status) {
        if (!ex->local_status) { /* answered once the parser has returned */
            ex->local_status = status;
            ex->local_reason = strdup(location);
        }
        return;
    }
    size_t llen = strlen(location);
    char *fields = malloc(llen + 16);
    char *body = malloc(llen + 32);
    if (!fields || !body) {
        free(fields);
        free(body);
        exchange_fail(c, 500, "out of memory for a redirect");
        return;
    }
    int flen = snprintf(fields, llen + 16, "Location: %s\r\n", location);
    int blen = snprintf(body, llen + 32, "magpie: moved to %s\n", location);
    /* 301 and 308 are cacheable by default (RFC 9111 §4.2.2); the others
       are not, and a rule's temporary answer should not outlive it */
    bool permanent = status == 301 || status == 308;
    struct answer a = {.status = status,
                       .reason = "redirected",
                       .fields = fields,
                       .fields_len = (size_t)flen,
                       .body = body,
                       .body_len = (size_t)blen,
                       .cache_control = permanent ? "max-age=3600" : "no-store"};
    exchange_answer(c, &a);
    free(fields);
    free(body);
}

/* ---- the end of an exchange ---- */

void exchange_done(struct client *c)
{
    if (c->state == CS_CLOSED)
        return;
    client_count(c);
    client_log_access(c);
    upstream_done(c);
    if (!c->close_after_flush &&
        (!c->ex->req_done || !c->ex->keep_alive || c->srv->draining || c->read_eof || c->phantom)) {
        c->close_after_flush = true;
        c->close_why = exchange_close_why(c, c->ex->status);
    }
    client_reset_request(c);
    if (c->reader)
        http_reader_next(c->reader);
    c->state = CS_RECEIVE;
    client_next_request(c);
}
