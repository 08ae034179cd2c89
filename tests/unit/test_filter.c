/*
 * test_filter.c - filter.c through its public API: chains driven by test
 * filters (one that uppercases and holds bytes back while the sink is
 * full, one that doubles bytes, suffixers, a spy passing pieces through
 * untouched, filters that opt out or fail) into a sink recording every
 * piece and end it is given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdalign.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

#include "rows.h"

/* ---- the op log: which filter op ran, in order ---- */

static char oplog[512];

static void note(const char *who, const char *what)
{
    size_t n = strlen(oplog);
    snprintf(oplog + n, sizeof(oplog) - n, "%s%s.%s", n ? " " : "", who, what);
}

static int setup(void **state)
{
    oplog[0] = '\0';
    return rows_reset(state);
}

/* ---- the test sink ---- */

enum ev_kind { EV_MEM, EV_FILE, EV_END };

struct event {
    enum ev_kind kind;
    bool held;
    const char *p; /* EV_MEM: the pointer given */
    int fd;
    uint64_t off, len;
};

struct tsink {
    char bytes[256]; /* every memory piece, concatenated */
    size_t n;
    struct event ev[32];
    size_t nev;
    size_t pieces;  /* piece calls, the failing one included */
    size_t fail_at; /* the piece call (from 1) that fails; 0: none */
    bool room;
};

static int tsink_piece(void *arg, const struct piece *pc)
{
    struct tsink *s = arg;
    if (++s->pieces == s->fail_at)
        return -1;
    assert_true(s->nev < sizeof(s->ev) / sizeof(s->ev[0]));
    struct event *e = &s->ev[s->nev++];
    *e = (struct event){.kind = pc->kind == PIECE_MEM ? EV_MEM : EV_FILE,
                        .held = pc->held,
                        .fd = -1,
                        .len = pc->len};
    if (pc->kind == PIECE_FILE) {
        e->fd = pc->fd;
        e->off = pc->off;
        return 0;
    }
    e->p = pc->p;
    assert_true(pc->len <= sizeof(s->bytes) - s->n);
    memcpy(s->bytes + s->n, pc->p, pc->len);
    s->n += pc->len;
    return 0;
}

static int tsink_end(void *arg)
{
    struct tsink *s = arg;
    assert_true(s->nev < sizeof(s->ev) / sizeof(s->ev[0]));
    s->ev[s->nev++] = (struct event){.kind = EV_END, .fd = -1};
    return 0;
}

static bool tsink_room(void *arg)
{
    return ((struct tsink *)arg)->room;
}

static const struct sink_ops tsink_ops = {tsink_piece, tsink_end, tsink_room};

static size_t sink_ends(const struct tsink *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nev; i++)
        n += s->ev[i].kind == EV_END;
    return n;
}

static void assert_sink_bytes(const struct tsink *s, const char *want)
{
    assert_int_equal(s->n, strlen(want));
    assert_memory_equal(s->bytes, want, s->n);
}

/* ---- the producer ---- */

struct producer {
    int resumes;
    size_t sink_n; /* the sink's bytes when last resumed */
    struct tsink *sink;
    struct chain *ch;
};

static void producer_resume(void *arg)
{
    struct producer *p = arg;
    p->resumes++;
    p->sink_n = p->sink->n;
    assert_true(chain_room(p->ch));
}

/* A chain into a fresh sink with room, and its producer. */
struct rig {
    struct tsink sink;
    struct producer prod;
    struct chain ch;
    struct filter_head head;
};

static void rig_init(struct rig *r)
{
    memset(r, 0, sizeof(*r));
    r->sink.room = true;
    r->prod.sink = &r->sink;
    r->prod.ch = &r->ch;
    r->head = (struct filter_head){.status = 200, .length = 10};
    chain_init(&r->ch, &tsink_ops, &r->sink, producer_resume, &r->prod);
}

static int rig_open(struct rig *r, const struct filter_ops *const *list, size_t n)
{
    return chain_open(&r->ch, list, n, &r->head);
}

static int push_str(struct chain *ch, const char *s)
{
    struct piece pc = piece_mem(s, strlen(s), false);
    return chain_push(ch, &pc);
}

/* ---- test filters ---- */

/* Every filter checks what chain_open hands it. */
static void check_fresh(struct filter *f, size_t state_size)
{
    assert_non_null(f->chain);
    assert_null(f->next);
    assert_true((uintptr_t)f->state % alignof(max_align_t) == 0);
    for (size_t i = 0; i < state_size; i++)
        assert_int_equal(((unsigned char *)f->state)[i], 0);
}

/* upper: uppercases memory; while the rest of the chain has no room it
   keeps the bytes in a small buffer and says it has no room either. */
struct upper {
    char hold[16];
    size_t n;
};

static int upper_open(struct filter *f, struct filter_head *h)
{
    (void)h;
    check_fresh(f, sizeof(struct upper));
    note("upper", "open");
    return 0;
}

static void upcase(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (src[i] >= 'a' && src[i] <= 'z') ? (char)(src[i] - 'a' + 'A') : src[i];
}

static int upper_flush(struct filter *f)
{
    struct upper *u = f->state;
    struct piece pc = piece_mem(u->hold, u->n, false);
    int rc = u->n ? filter_pass(f, &pc) : 0;
    u->n = 0;
    return rc;
}

static int upper_piece(struct filter *f, const struct piece *pc)
{
    struct upper *u = f->state;
    if (pc->kind != PIECE_MEM)
        return -1;
    if (u->n || !filter_room(f)) {
        if (pc->len > sizeof(u->hold) - u->n)
            return -1;
        upcase(u->hold + u->n, pc->p, pc->len);
        u->n += pc->len;
        return 0;
    }
    char tmp[8];
    for (uint64_t at = 0; at < pc->len; at += sizeof(tmp)) {
        size_t k = pc->len - at < sizeof(tmp) ? pc->len - at : sizeof(tmp);
        upcase(tmp, pc->p + at, k);
        struct piece out = piece_mem(tmp, k, false);
        if (filter_pass(f, &out) < 0)
            return -1;
    }
    return 0;
}

static int upper_end(struct filter *f)
{
    note("upper", "end");
    if (upper_flush(f) < 0)
        return -1;
    return filter_end(f);
}

static bool upper_room(const struct filter *f)
{
    const struct upper *u = f->state;
    return u->n == 0 && filter_room(f);
}

static int upper_resume(struct filter *f)
{
    note("upper", "resume");
    return filter_room(f) ? upper_flush(f) : 0;
}

static void upper_close(struct filter *f)
{
    (void)f;
    note("upper", "close");
}

static const struct filter_ops upper_ops = {
    .name = "upper",
    .state_size = sizeof(struct upper),
    .open = upper_open,
    .piece = upper_piece,
    .end = upper_end,
    .room = upper_room,
    .resume = upper_resume,
    .close = upper_close,
};

/* dbl: doubles each byte, so the body's length changes. */
static int dbl_open(struct filter *f, struct filter_head *h)
{
    check_fresh(f, 0);
    note("dbl", "open");
    h->length = -1;
    return 0;
}

static int dbl_piece(struct filter *f, const struct piece *pc)
{
    char tmp[64];
    if (pc->kind != PIECE_MEM || pc->len > sizeof(tmp) / 2)
        return -1;
    for (size_t i = 0; i < pc->len; i++)
        tmp[2 * i] = tmp[2 * i + 1] = pc->p[i];
    struct piece out = piece_mem(tmp, 2 * pc->len, false);
    return filter_pass(f, &out);
}

static int dbl_end(struct filter *f)
{
    note("dbl", "end");
    return filter_end(f);
}

static const struct filter_ops dbl_ops = {
    .name = "dbl", .open = dbl_open, .piece = dbl_piece, .end = dbl_end};

/* x, y: pass each piece on, then one byte of their name after it. */
static int suffix_open(struct filter *f, struct filter_head *h)
{
    (void)h;
    check_fresh(f, 0);
    note(f->ops->name, "open");
    return 0;
}

static int suffix_piece(struct filter *f, const struct piece *pc)
{
    struct piece tag = piece_mem(f->ops->name, 1, true);
    if (filter_pass(f, pc) < 0)
        return -1;
    return filter_pass(f, &tag);
}

static int suffix_end(struct filter *f)
{
    note(f->ops->name, "end");
    return filter_end(f);
}

static const struct filter_ops x_ops = {
    .name = "x", .open = suffix_open, .piece = suffix_piece, .end = suffix_end};
static const struct filter_ops y_ops = {
    .name = "y", .open = suffix_open, .piece = suffix_piece, .end = suffix_end};

/* spy: counts what passes and passes it on as given; its state points to
   memory its close frees. */
struct spy {
    size_t pieces;
    uint64_t bytes;
    char *mem;
};

static int spy_open(struct filter *f, struct filter_head *h)
{
    struct spy *s = f->state;
    (void)h;
    check_fresh(f, sizeof(struct spy));
    note("spy", "open");
    s->mem = malloc(32);
    return s->mem ? 0 : -1;
}

static int spy_piece(struct filter *f, const struct piece *pc)
{
    struct spy *s = f->state;
    s->pieces++;
    s->bytes += pc->len;
    return filter_pass(f, pc);
}

static int spy_end(struct filter *f)
{
    note("spy", "end");
    return filter_end(f);
}

static void spy_close(struct filter *f)
{
    struct spy *s = f->state;
    note("spy", "close");
    free(s->mem);
}

static const struct filter_ops spy_ops = {
    .name = "spy",
    .state_size = sizeof(struct spy),
    .open = spy_open,
    .piece = spy_piece,
    .end = spy_end,
    .close = spy_close,
};

/* out: never takes part; a large state that must not leak. */
static int out_open(struct filter *f, struct filter_head *h)
{
    (void)h;
    check_fresh(f, 256);
    note("out", "open");
    return 1;
}

static int never_piece(struct filter *f, const struct piece *pc)
{
    (void)f;
    (void)pc;
    fail_msg("piece op of a filter not linked");
    return -1;
}

static int never_end(struct filter *f)
{
    (void)f;
    fail_msg("end op of a filter not linked");
    return -1;
}

static void never_close(struct filter *f)
{
    (void)f;
    fail_msg("close op of a filter not linked");
}

static const struct filter_ops out_ops = {
    .name = "out",
    .state_size = 256,
    .open = out_open,
    .piece = never_piece,
    .end = never_end,
    .close = never_close,
};

/* badopen: fails the chain when it opens. */
static int badopen_open(struct filter *f, struct filter_head *h)
{
    (void)h;
    check_fresh(f, 64);
    note("badopen", "open");
    return -1;
}

static const struct filter_ops badopen_ops = {
    .name = "badopen",
    .state_size = 64,
    .open = badopen_open,
    .piece = never_piece,
    .end = never_end,
    .close = never_close,
};

/* failer: passes its first piece, fails its second. */
static int failer_open(struct filter *f, struct filter_head *h)
{
    (void)h;
    check_fresh(f, sizeof(int));
    return 0;
}

static int failer_piece(struct filter *f, const struct piece *pc)
{
    int *calls = f->state;
    if (++*calls == 2)
        return -1;
    return filter_pass(f, pc);
}

static int failer_end(struct filter *f)
{
    note("failer", "end");
    return filter_end(f);
}

static const struct filter_ops failer_ops = {
    .name = "failer",
    .state_size = sizeof(int),
    .open = failer_open,
    .piece = failer_piece,
    .end = failer_end,
};

/* deaf: passes each piece on and a tag after it, ignoring what the
   rest of the chain answers. */
static int deaf_piece(struct filter *f, const struct piece *pc)
{
    struct piece tag = piece_mem("!", 1, true);
    (void)filter_pass(f, pc);
    (void)filter_pass(f, &tag);
    return 0;
}

static int deaf_end(struct filter *f)
{
    struct piece tag = piece_mem("!", 1, true);
    (void)filter_pass(f, &tag);
    return filter_end(f);
}

static const struct filter_ops deaf_ops = {
    .name = "deaf", .open = suffix_open, .piece = deaf_piece, .end = deaf_end};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- no filters ---- */

static void test_no_filters(void **state)
{
    static const char held[] = "kept by the exchange";
    static const struct filter_ops *const nulls[] = {NULL, NULL};
    char scratch[] = "copied";
    struct rig r;
    (void)state;
    rig_init(&r);
    assert_int_equal(rig_open(&r, filter_fetch_list, filter_fetch_count), 0);
    assert_int_equal(rig_open(&r, filter_deliver_list, filter_deliver_count), 0);
    assert_int_equal(rig_open(&r, nulls, N(nulls)), 0);
    assert_false(chain_filtered(&r.ch));
    assert_int_equal(r.head.length, 10);

    struct piece a = piece_mem(held, strlen(held), true);
    struct piece b = piece_mem(scratch, strlen(scratch), false);
    struct piece c = piece_file(7, 1000, 4096);
    assert_int_equal(chain_push(&r.ch, &a), 0);
    assert_int_equal(chain_push(&r.ch, &b), 0);
    assert_int_equal(chain_push(&r.ch, &c), 0);
    assert_int_equal(chain_end(&r.ch), 0);
    assert_true(r.ch.ended);

    assert_int_equal(r.sink.nev, 4);
    assert_int_equal(r.sink.ev[0].kind, EV_MEM);
    assert_ptr_equal(r.sink.ev[0].p, held);
    assert_true(r.sink.ev[0].held);
    assert_int_equal(r.sink.ev[1].kind, EV_MEM);
    assert_ptr_equal(r.sink.ev[1].p, scratch);
    assert_false(r.sink.ev[1].held);
    assert_int_equal(r.sink.ev[2].kind, EV_FILE);
    assert_int_equal(r.sink.ev[2].fd, 7);
    assert_int_equal(r.sink.ev[2].off, 1000);
    assert_int_equal(r.sink.ev[2].len, 4096);
    assert_true(r.sink.ev[2].held);
    assert_int_equal(r.sink.ev[3].kind, EV_END);
    assert_sink_bytes(&r.sink, "kept by the exchangecopied");

    /* a finished body takes nothing more */
    assert_int_equal(push_str(&r.ch, "late"), -1);
    assert_int_equal(chain_end(&r.ch), -1);
    assert_int_equal(r.sink.nev, 4);
    chain_close(&r.ch);
    rows_done();
}

static void test_sink_without_room_op(void **state)
{
    static const struct sink_ops ops = {tsink_piece, tsink_end, NULL};
    struct tsink s = {.room = false};
    struct chain ch;
    (void)state;
    chain_init(&ch, &ops, &s, NULL, NULL);
    assert_true(chain_room(&ch));
    chain_resume(&ch); /* no producer callback: nothing to call */
    assert_int_equal(push_str(&ch, "ab"), 0);
    assert_sink_bytes(&s, "ab");
    chain_close(&ch);
    rows_done();
}

/* ---- filters changing bytes, or not ---- */

static void test_changes_bytes(void **state)
{
    static const struct filter_ops *const up[] = {&upper_ops};
    static const struct filter_ops *const dbl[] = {&dbl_ops};
    struct rig r;
    (void)state;

    rig_init(&r);
    assert_int_equal(rig_open(&r, up, N(up)), 0);
    assert_true(chain_filtered(&r.ch));
    assert_int_equal(r.head.length, 10); /* upper keeps the length */
    assert_int_equal(push_str(&r.ch, "Hello, "), 0);
    assert_int_equal(push_str(&r.ch, "world!"), 0);
    assert_int_equal(chain_end(&r.ch), 0);
    assert_sink_bytes(&r.sink, "HELLO, WORLD!");
    for (size_t i = 0; i + 1 < r.sink.nev; i++)
        assert_false(r.sink.ev[i].held); /* upper's own bytes do not outlive the call */
    assert_int_equal(r.sink.ev[r.sink.nev - 1].kind, EV_END);
    assert_int_equal(sink_ends(&r.sink), 1);
    chain_close(&r.ch);

    rig_init(&r);
    assert_int_equal(rig_open(&r, dbl, N(dbl)), 0);
    assert_int_equal(r.head.length, -1);
    assert_int_equal(push_str(&r.ch, "ab"), 0);
    assert_int_equal(push_str(&r.ch, "c"), 0);
    assert_int_equal(chain_end(&r.ch), 0);
    assert_sink_bytes(&r.sink, "aabbcc");
    chain_close(&r.ch);
    rows_done();
}

static void test_file_ranges_pass(void **state)
{
    static const struct filter_ops *const list[] = {&spy_ops};
    static const char body[] = "head of body";
    struct rig r;
    (void)state;
    rig_init(&r);
    assert_int_equal(rig_open(&r, list, N(list)), 0);
    struct piece a = piece_mem(body, strlen(body), true);
    struct piece f1 = piece_file(9, 0, 65536);
    struct piece f2 = piece_file(9, 65536, 12);
    assert_int_equal(chain_push(&r.ch, &a), 0);
    assert_int_equal(chain_push(&r.ch, &f1), 0);
    assert_int_equal(chain_push(&r.ch, &f2), 0);
    assert_int_equal(chain_end(&r.ch), 0);

    const struct spy *s = r.ch.first->state;
    assert_int_equal(s->pieces, 3);
    assert_int_equal(s->bytes, strlen(body) + 65536 + 12);
    assert_int_equal(r.sink.nev, 4);
    assert_ptr_equal(r.sink.ev[0].p, body);
    assert_true(r.sink.ev[0].held);
    const struct piece *want[] = {&f1, &f2};
    for (size_t i = 0; i < 2; i++) {
        const struct event *e = &r.sink.ev[1 + i];
        assert_int_equal(e->kind, EV_FILE);
        assert_int_equal(e->fd, want[i]->fd);
        assert_int_equal(e->off, want[i]->off);
        assert_int_equal(e->len, want[i]->len);
        assert_true(e->held);
    }
    assert_int_equal(r.sink.ev[3].kind, EV_END);
    chain_close(&r.ch);
    assert_string_equal(oplog, "spy.open spy.end spy.close");
    rows_done();
}

/* ---- backpressure ---- */

static void test_backpressure_no_filters(void **state)
{
    struct rig r;
    (void)state;
    rig_init(&r);
    r.sink.room = false;
    assert_false(chain_room(&r.ch));
    chain_resume(&r.ch);
    assert_int_equal(r.prod.resumes, 0);
    r.sink.room = true;
    assert_true(chain_room(&r.ch));
    chain_resume(&r.ch);
    assert_int_equal(r.prod.resumes, 1);
    chain_close(&r.ch);
    rows_done();
}

static void test_backpressure_held(void **state)
{
    /* upper alone, and with a spy (no room op of its own) before or after
       it: the same bytes, the same room, the same single resume */
    static const struct filter_ops *const alone[] = {&upper_ops};
    static const struct filter_ops *const spy_first[] = {&spy_ops, &upper_ops};
    static const struct filter_ops *const spy_last[] = {&upper_ops, &spy_ops};
    static const struct {
        const char *name;
        const struct filter_ops *const *list;
        size_t n;
    } cases[] = {
        {"upper", alone, N(alone)},
        {"spy, upper", spy_first, N(spy_first)},
        {"upper, spy", spy_last, N(spy_last)},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        struct rig r;
        rig_init(&r);
        r.sink.room = false;
        assert_int_equal(rig_open(&r, cases[i].list, cases[i].n), 0);
        if (chain_room(&r.ch))
            row_fail("%s: room with a full sink", cases[i].name);
        /* the producer pushes anyway: upper keeps the bytes */
        assert_int_equal(push_str(&r.ch, "abc"), 0);
        if (r.sink.n != 0)
            row_fail("%s: %zu bytes reached a full sink", cases[i].name, r.sink.n);
        chain_resume(&r.ch); /* still full */
        if (r.sink.n != 0 || r.prod.resumes != 0)
            row_fail("%s: resumed without room: %zu bytes, %d resumes", cases[i].name, r.sink.n,
                     r.prod.resumes);
        r.sink.room = true;
        if (chain_room(&r.ch))
            row_fail("%s: room while upper holds bytes", cases[i].name);
        chain_resume(&r.ch);
        if (r.sink.n != 3 || memcmp(r.sink.bytes, "ABC", 3) != 0)
            row_fail("%s: sink has %.*s after resume", cases[i].name, (int)r.sink.n, r.sink.bytes);
        if (r.prod.resumes != 1 || r.prod.sink_n != 3)
            row_fail("%s: %d resumes, sink at %zu bytes when resumed", cases[i].name,
                     r.prod.resumes, r.prod.sink_n);
        if (!chain_room(&r.ch))
            row_fail("%s: no room after the flush", cases[i].name);
        assert_int_equal(push_str(&r.ch, "de"), 0);
        assert_int_equal(chain_end(&r.ch), 0);
        if (r.sink.n != 5 || memcmp(r.sink.bytes, "ABCDE", 5) != 0 || sink_ends(&r.sink) != 1)
            row_fail("%s: sink has %.*s and %zu ends", cases[i].name, (int)r.sink.n, r.sink.bytes,
                     sink_ends(&r.sink));
        /* an ended chain does not ask for more */
        chain_resume(&r.ch);
        if (r.prod.resumes != 1)
            row_fail("%s: producer resumed after the end", cases[i].name);
        chain_close(&r.ch);
    }
    rows_done();
}

/* ---- opting out ---- */

static void test_opt_out(void **state)
{
    static const struct filter_ops *const all_out[] = {&out_ops, &out_ops};
    static const struct filter_ops *const between[] = {&upper_ops, &out_ops, &dbl_ops};
    struct rig r;
    (void)state;

    rig_init(&r);
    assert_int_equal(rig_open(&r, all_out, N(all_out)), 0);
    assert_false(chain_filtered(&r.ch));
    assert_int_equal(push_str(&r.ch, "abc"), 0);
    assert_int_equal(chain_end(&r.ch), 0);
    assert_sink_bytes(&r.sink, "abc");
    chain_close(&r.ch);
    assert_string_equal(oplog, "out.open out.open");

    oplog[0] = '\0';
    rig_init(&r);
    assert_int_equal(rig_open(&r, between, N(between)), 0);
    assert_non_null(r.ch.first);
    assert_ptr_equal(r.ch.first->ops, &upper_ops);
    assert_non_null(r.ch.first->next);
    assert_ptr_equal(r.ch.first->next->ops, &dbl_ops);
    assert_null(r.ch.first->next->next);
    assert_int_equal(push_str(&r.ch, "ab"), 0);
    assert_int_equal(chain_end(&r.ch), 0);
    assert_sink_bytes(&r.sink, "AABB");
    chain_close(&r.ch);
    assert_string_equal(oplog, "upper.open out.open dbl.open upper.end dbl.end upper.close");
    rows_done();
}

/* ---- failures ---- */

static void test_filter_fails_mid_body(void **state)
{
    static const struct filter_ops *const list[] = {&failer_ops};
    struct rig r;
    (void)state;
    rig_init(&r);
    assert_int_equal(rig_open(&r, list, N(list)), 0);
    const int *calls = r.ch.first->state;
    assert_int_equal(push_str(&r.ch, "a"), 0);
    assert_int_equal(push_str(&r.ch, "b"), -1);
    assert_true(r.ch.failed);
    assert_int_equal(push_str(&r.ch, "c"), -1);
    assert_int_equal(*calls, 2);
    assert_int_equal(chain_end(&r.ch), -1);
    assert_string_equal(oplog, ""); /* failer's end never ran */
    assert_int_equal(r.sink.nev, 1);
    assert_sink_bytes(&r.sink, "a");
    assert_int_equal(sink_ends(&r.sink), 0);
    chain_resume(&r.ch); /* room, but a broken body asks for nothing */
    assert_int_equal(r.prod.resumes, 0);
    chain_close(&r.ch);
    rows_done();
}

static void test_sink_fails(void **state)
{
    static const struct filter_ops *const up[] = {&upper_ops};
    static const struct filter_ops *const two[] = {&upper_ops, &upper_ops};
    struct rig r;
    (void)state;

    /* straight to the sink */
    rig_init(&r);
    r.sink.fail_at = 2;
    assert_int_equal(push_str(&r.ch, "a"), 0);
    assert_int_equal(push_str(&r.ch, "b"), -1);
    assert_int_equal(push_str(&r.ch, "c"), -1);
    assert_int_equal(chain_end(&r.ch), -1);
    assert_int_equal(r.sink.pieces, 2);
    assert_int_equal(sink_ends(&r.sink), 0);
    chain_close(&r.ch);

    /* while a filter passes on what it held back in resume */
    rig_init(&r);
    r.sink.fail_at = 1;
    r.sink.room = false;
    assert_int_equal(rig_open(&r, up, N(up)), 0);
    assert_int_equal(push_str(&r.ch, "ab"), 0);
    r.sink.room = true;
    chain_resume(&r.ch);
    assert_true(r.ch.failed);
    assert_int_equal(r.prod.resumes, 0);
    assert_int_equal(push_str(&r.ch, "c"), -1);
    assert_int_equal(chain_end(&r.ch), -1);
    assert_int_equal(r.sink.pieces, 1);
    assert_int_equal(sink_ends(&r.sink), 0);
    chain_close(&r.ch);

    /* two holding filters: the first one's resume breaks the body, so the
       second one's resume is not called */
    oplog[0] = '\0';
    rig_init(&r);
    r.sink.fail_at = 1;
    r.sink.room = false;
    assert_int_equal(rig_open(&r, two, N(two)), 0);
    assert_int_equal(push_str(&r.ch, "ab"), 0);
    r.sink.room = true;
    chain_resume(&r.ch);
    assert_true(r.ch.failed);
    assert_string_equal(oplog, "upper.open upper.open upper.resume");
    assert_int_equal(r.prod.resumes, 0);
    chain_close(&r.ch);
    rows_done();
}

static void test_failure_not_heard(void **state)
{
    /* a filter ignoring the sink's -1 still breaks the body: its push
       fails, and its second piece never reaches the sink */
    static const struct filter_ops *const list[] = {&deaf_ops};
    struct rig r;
    (void)state;
    rig_init(&r);
    r.sink.fail_at = 1;
    assert_int_equal(rig_open(&r, list, N(list)), 0);
    assert_int_equal(push_str(&r.ch, "ab"), -1);
    assert_true(r.ch.failed);
    assert_int_equal(r.sink.pieces, 1);
    assert_int_equal(chain_end(&r.ch), -1);
    assert_int_equal(sink_ends(&r.sink), 0);
    chain_close(&r.ch);

    /* the same in its end: the last bytes fail, so the end never arrives */
    rig_init(&r);
    r.sink.fail_at = 1;
    assert_int_equal(rig_open(&r, list, N(list)), 0);
    assert_int_equal(chain_end(&r.ch), -1);
    assert_int_equal(r.sink.pieces, 1);
    assert_int_equal(sink_ends(&r.sink), 0);
    chain_close(&r.ch);
    rows_done();
}

static void test_filter_fails_open(void **state)
{
    static const struct filter_ops *const list[] = {&spy_ops, &badopen_ops, &x_ops};
    static const struct filter_ops *const dbl[] = {&dbl_ops};
    struct rig r;
    (void)state;
    rig_init(&r);
    assert_int_equal(rig_open(&r, list, N(list)), -1);
    assert_false(chain_filtered(&r.ch));
    /* spy, already linked, was closed; x was never asked */
    assert_string_equal(oplog, "spy.open badopen.open spy.close");
    /* a closed chain opens again */
    assert_int_equal(rig_open(&r, dbl, N(dbl)), 0);
    assert_int_equal(push_str(&r.ch, "ab"), 0);
    assert_int_equal(chain_end(&r.ch), 0);
    assert_sink_bytes(&r.sink, "aabb");
    chain_close(&r.ch);
    rows_done();
}

/* ---- ending, closing, order ---- */

static void test_end_flushes_before_sink_end(void **state)
{
    static const struct filter_ops *const list[] = {&upper_ops, &x_ops};
    struct rig r;
    (void)state;
    rig_init(&r);
    r.sink.room = false;
    assert_int_equal(rig_open(&r, list, N(list)), 0);
    assert_int_equal(push_str(&r.ch, "ab"), 0);
    assert_int_equal(r.sink.nev, 0);
    assert_int_equal(chain_end(&r.ch), 0);
    /* upper's held bytes, x's tag after them, then the end */
    assert_int_equal(r.sink.nev, 3);
    assert_int_equal(r.sink.ev[0].kind, EV_MEM);
    assert_int_equal(r.sink.ev[1].kind, EV_MEM);
    assert_int_equal(r.sink.ev[2].kind, EV_END);
    assert_sink_bytes(&r.sink, "ABx");
    assert_string_equal(oplog, "upper.open x.open upper.end x.end");
    chain_close(&r.ch);
    rows_done();
}

static void test_close_reopen(void **state)
{
    static const struct filter_ops *const first[] = {&upper_ops, &spy_ops};
    static const struct filter_ops *const second[] = {&dbl_ops};
    struct rig r;
    (void)state;
    rig_init(&r);
    assert_int_equal(rig_open(&r, first, N(first)), 0);
    assert_int_equal(push_str(&r.ch, "ab"), 0);
    assert_int_equal(chain_end(&r.ch), 0);
    chain_close(&r.ch);
    chain_close(&r.ch);
    assert_string_equal(oplog, "upper.open spy.open upper.end spy.end upper.close spy.close");
    assert_false(chain_filtered(&r.ch));
    assert_false(r.ch.ended);
    assert_false(r.ch.failed);

    r.sink.n = 0;
    r.sink.nev = 0;
    assert_int_equal(rig_open(&r, second, N(second)), 0);
    assert_int_equal(push_str(&r.ch, "ab"), 0);
    assert_int_equal(chain_end(&r.ch), 0);
    assert_sink_bytes(&r.sink, "aabb");
    assert_int_equal(sink_ends(&r.sink), 1);
    chain_close(&r.ch);

    /* a failed chain, closed, opens clean */
    r.sink.n = 0;
    r.sink.nev = 0;
    r.sink.pieces = 0;
    r.sink.fail_at = 1;
    assert_int_equal(push_str(&r.ch, "ab"), -1);
    chain_close(&r.ch);
    assert_false(r.ch.failed);
    assert_int_equal(rig_open(&r, second, N(second)), 0);
    assert_int_equal(push_str(&r.ch, "c"), 0);
    assert_sink_bytes(&r.sink, "cc");
    chain_close(&r.ch);
    rows_done();
}

static void test_order(void **state)
{
    static const struct filter_ops *const xdy[] = {&x_ops, &dbl_ops, &y_ops};
    static const struct filter_ops *const ydx[] = {&y_ops, &dbl_ops, &x_ops};
    static const struct filter_ops *const dxy[] = {&dbl_ops, &x_ops, &y_ops};
    static const struct {
        const struct filter_ops *const *list;
        const char *bytes; /* after "ab" pushed */
        const char *log;
    } cases[] = {
        {xdy, "aabbyxxy", "x.open dbl.open y.open x.end dbl.end y.end"},
        {ydx, "aabbxyyx", "y.open dbl.open x.open y.end dbl.end x.end"},
        {dxy, "aabbyxy", "dbl.open x.open y.open dbl.end x.end y.end"},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        struct rig r;
        oplog[0] = '\0';
        rig_init(&r);
        assert_int_equal(rig_open(&r, cases[i].list, 3), 0);
        assert_int_equal(push_str(&r.ch, "ab"), 0);
        assert_int_equal(chain_end(&r.ch), 0);
        size_t want = strlen(cases[i].bytes);
        if (r.sink.n != want || memcmp(r.sink.bytes, cases[i].bytes, want) != 0)
            row_fail("%s: sink has %.*s", cases[i].bytes, (int)r.sink.n, r.sink.bytes);
        if (strcmp(oplog, cases[i].log) != 0)
            row_fail("%s: ops ran as %s", cases[i].bytes, oplog);
        if (r.sink.nev == 0 || r.sink.ev[r.sink.nev - 1].kind != EV_END)
            row_fail("%s: the sink's end is not last", cases[i].bytes);
        chain_close(&r.ch);
    }
    rows_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_no_filters, setup),
        cmocka_unit_test_setup(test_sink_without_room_op, setup),
        cmocka_unit_test_setup(test_changes_bytes, setup),
        cmocka_unit_test_setup(test_file_ranges_pass, setup),
        cmocka_unit_test_setup(test_backpressure_no_filters, setup),
        cmocka_unit_test_setup(test_backpressure_held, setup),
        cmocka_unit_test_setup(test_opt_out, setup),
        cmocka_unit_test_setup(test_filter_fails_mid_body, setup),
        cmocka_unit_test_setup(test_sink_fails, setup),
        cmocka_unit_test_setup(test_failure_not_heard, setup),
        cmocka_unit_test_setup(test_filter_fails_open, setup),
        cmocka_unit_test_setup(test_end_flushes_before_sink_end, setup),
        cmocka_unit_test_setup(test_close_reopen, setup),
        cmocka_unit_test_setup(test_order, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
