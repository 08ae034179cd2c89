/*
 * filter.c - body-filter chains: opening a chain against a response head,
 * moving pieces down it, ending and closing it. A chain that no filter
 * joined costs one indirect call (the sink's) per piece.
 */
#include "filter.h"

#include "compress.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>

/* The registries (filter.h): a filter joins by one line here. */
const struct filter_ops *const filter_fetch_list[] = {&compress_encode_filter};
const size_t filter_fetch_count = 1;
const struct filter_ops *const filter_deliver_list[] = {&compress_decode_filter};
const size_t filter_deliver_count = 1;

/* Where a node's state starts in its one allocation: past the node,
   aligned for any type a filter keeps there. */
#define STATE_OFF                                                                                  \
    ((sizeof(struct filter) + alignof(max_align_t) - 1) / alignof(max_align_t) *                   \
     alignof(max_align_t))

static struct filter *node_new(struct chain *ch, const struct filter_ops *ops)
{
    if (ops->state_size > SIZE_MAX - STATE_OFF)
        return NULL;
    struct filter *f = calloc(1, STATE_OFF + ops->state_size);
    if (!f)
        return NULL;
    f->ops = ops;
    f->chain = ch;
    f->state = (char *)f + STATE_OFF;
    return f;
}

void chain_init(struct chain *ch, const struct sink_ops *sink, void *sink_arg,
                void (*resume)(void *), void *resume_arg)
{
    *ch = (struct chain){
        .sink = sink,
        .sink_arg = sink_arg,
        .resume = resume,
        .resume_arg = resume_arg,
    };
}

int chain_open(struct chain *ch, const struct filter_ops *const *list, size_t n,
               struct filter_head *h)
{
    struct filter **tail = &ch->first;
    while (*tail)
        tail = &(*tail)->next;
    for (size_t i = 0; i < n; i++) {
        if (!list[i])
            continue;
        struct filter *f = node_new(ch, list[i]);
        int rc = f ? f->ops->open(f, h) : -1;
        if (rc == 0) {
            *tail = f;
            tail = &f->next;
            continue;
        }
        free(f);
        if (rc < 0) {
            chain_close(ch);
            return -1;
        }
    }
    return 0;
}

/* rc from the node after (or the sink): any failure breaks the body. */
static int settle(struct chain *ch, int rc)
{
    if (rc < 0 || ch->failed) {
        ch->failed = true;
        return -1;
    }
    return 0;
}

int chain_push(struct chain *ch, const struct piece *pc)
{
    if (ch->failed || ch->ended)
        return -1;
    struct filter *f = ch->first;
    return settle(ch, f ? f->ops->piece(f, pc) : ch->sink->piece(ch->sink_arg, pc));
}

int chain_end(struct chain *ch)
{
    if (ch->failed || ch->ended)
        return -1;
    /* ended first: a resume reaching the producer from within the end ops
       would invite pushes into a finished body */
    ch->ended = true;
    struct filter *f = ch->first;
    return settle(ch, f ? f->ops->end(f) : ch->sink->end(ch->sink_arg));
}

int chain_flush(struct chain *ch)
{
    if (ch->failed || ch->ended)
        return ch->failed ? -1 : 0;
    for (struct filter *f = ch->first; f; f = f->next)
        if (f->ops->flush && f->ops->flush(f) < 0)
            return settle(ch, -1);
    return 0;
}

/* Room at node f, or at the sink when f is NULL. */
static bool node_room(const struct chain *ch, const struct filter *f)
{
    for (; f; f = f->next)
        if (f->ops->room)
            return f->ops->room(f);
    return ch->sink->room ? ch->sink->room(ch->sink_arg) : true;
}

bool chain_room(const struct chain *ch)
{
    return node_room(ch, ch->first);
}

void chain_resume(struct chain *ch)
{
    for (struct filter *f = ch->first; f && !ch->failed; f = f->next)
        if (f->ops->resume && f->ops->resume(f) < 0)
            ch->failed = true;
    if (!ch->failed && !ch->ended && ch->resume && chain_room(ch))
        ch->resume(ch->resume_arg);
}

void chain_free_filters(struct chain *ch)
{
    struct filter *f = ch->first;
    while (f) {
        struct filter *next = f->next;
        if (f->ops->close)
            f->ops->close(f);
        free(f);
        f = next;
    }
    ch->first = NULL;
    ch->failed = false;
    ch->ended = false;
}

static char why_text[160];

void filter_set_why(const char *why)
{
    snprintf(why_text, sizeof(why_text), "%s", why);
}

const char *filter_why(void)
{
    return why_text;
}

int filter_pass(struct filter *f, const struct piece *pc)
{
    struct chain *ch = f->chain;
    if (ch->failed)
        return -1;
    struct filter *next = f->next;
    return settle(ch, next ? next->ops->piece(next, pc) : ch->sink->piece(ch->sink_arg, pc));
}

int filter_end(struct filter *f)
{
    struct chain *ch = f->chain;
    if (ch->failed)
        return -1;
    struct filter *next = f->next;
    return settle(ch, next ? next->ops->end(next) : ch->sink->end(ch->sink_arg));
}

bool filter_room(const struct filter *f)
{
    return node_room(f->chain, f->next);
}
