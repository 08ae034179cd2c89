/*
 * test_pool.c - pool.c bookkeeping with no sockets. Connections and
 * waiters are fakes embedding struct pool_conn and struct pool_waiter; the
 * pool_ops callbacks record what the pool did ("close c1", "grant w5 c2",
 * "grant w3 -", "free dA" for origin data) in order. Each test is a script:
 * a table of steps, each naming the call, its expected result, the events
 * it must cause (exactly, in order) and the origin's open/idle/waiting
 * counts after it. Times (`now`) are given explicitly in the steps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

/* A failed step is reported and the script goes on; the test fails at its
 * end (rows_done). */
#include "rows.h"

/* ---- fakes and recording callbacks ---- */

#define NFAKE 16

struct fake_conn {
    struct pool_conn pc;
    bool closed; /* by the pool (ops->close) or by the caller */
};

struct fake_waiter {
    struct pool_waiter w;
    bool giveback; /* on a NULL grant, gives the slot back at once (as
                      upstream.c does when it cannot allocate a connection) */
};

static struct fake_conn conns[NFAKE];
static struct fake_waiter waiters[NFAKE];
static struct pool *cur_pool;
static char events[1024];
static const char *cur_script;
static size_t cur_step;

#define conn_of(p) ((struct fake_conn *)((char *)(p)-offsetof(struct fake_conn, pc)))
#define waiter_of(p) ((struct fake_waiter *)((char *)(p)-offsetof(struct fake_waiter, w)))

static int conn_id(struct pool_conn *pc)
{
    struct fake_conn *fc = conn_of(pc);
    if (fc < conns || fc >= conns + NFAKE) {
        row_fail("%s step %zu: unknown connection %p", cur_script, cur_step, (void *)pc);
        return -1;
    }
    return (int)(fc - conns);
}

static int waiter_id(struct pool_waiter *w)
{
    struct fake_waiter *fw = waiter_of(w);
    if (fw < waiters || fw >= waiters + NFAKE) {
        row_fail("%s step %zu: unknown waiter %p", cur_script, cur_step, (void *)w);
        return -1;
    }
    return (int)(fw - waiters);
}

static void ev_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ev_add(const char *fmt, ...)
{
    size_t len = strlen(events);
    va_list ap;
    if (len > 0 && len + 2 < sizeof(events)) {
        memcpy(events + len, ", ", 3);
        len += 2;
    }
    va_start(ap, fmt);
    vsnprintf(events + len, sizeof(events) - len, fmt, ap);
    va_end(ap);
}

static void fake_close(struct pool_conn *pc)
{
    int id = conn_id(pc);
    if (id < 0)
        return;
    if (pc->origin || pc->idle || pc->prev || pc->next)
        row_fail("%s step %zu: c%d closed while still pooled", cur_script, cur_step, id);
    if (conns[id].closed)
        row_fail("%s step %zu: c%d closed twice", cur_script, cur_step, id);
    conns[id].closed = true;
    ev_add("close c%d", id);
}

static void fake_grant(struct pool_waiter *w, struct pool_conn *pc)
{
    int wid = waiter_id(w);
    if (wid < 0)
        return;
    if (w->queued || w->prev || w->next)
        row_fail("%s step %zu: w%d granted while queued", cur_script, cur_step, wid);
    if (!pc) {
        ev_add("grant w%d -", wid);
        if (waiters[wid].giveback)
            pool_remove_reserved(cur_pool, w);
        return;
    }
    int cid = conn_id(pc);
    if (cid < 0)
        return;
    if (pc->origin != w->origin || pc->idle || conns[cid].closed)
        row_fail("%s step %zu: w%d granted c%d in a bad state", cur_script, cur_step, wid, cid);
    ev_add("grant w%d c%d", wid, cid);
}

static void fake_data_free(void *data)
{
    ev_add("free %s", (const char *)data);
}

static const struct pool_ops fake_ops = {.close = fake_close, .grant = fake_grant};

/* ---- the script runner ---- */

enum op {
    LIM,    /* limits become max, maxidle */
    ACQ,    /* pool_acquire(k, w); want is the result; c the conn on REUSE */
    FRESH,  /* the same with w.fresh = true (a retry) */
    ADD,    /* pool_conn_add(w, c) */
    RESV,   /* pool_remove_reserved(w): a slot no connection took */
    REL,    /* pool_release(c, reusable, now); want is the result */
    RELX,   /* the same, not reusable */
    REMOVE, /* pool_remove(c) */
    CANCEL, /* pool_cancel(w) */
    EXPIRE, /* pool_expire(now, t) */
    DATA,   /* *pool_origin_data(w.origin), NULL until now, becomes data */
    COUNT,  /* only the count checks, on origin k */
    FREE,   /* pool_free(); no count checks */
};

static const char *const op_names[] = {"LIM",    "ACQ",    "FRESH",  "ADD",  "RESV",  "REL", "RELX",
                                       "REMOVE", "CANCEL", "EXPIRE", "DATA", "COUNT", "FREE"};

enum { A, B };
static const char *const keys[] = {"http://a.example:80", "https://b.example:443"};

struct step {
    enum op op;
    int k; /* origin key, A or B */
    int w, c;
    int want;                  /* pool_result for ACQ/FRESH, kept (1/0) for REL/RELX */
    bool gb;                   /* ACQ/FRESH: the waiter gives NULL grants back */
    const char *ev;            /* events this step causes, in order; NULL for none */
    unsigned open, idle, wait; /* counts on origin k afterwards */
    double now, t;
    unsigned max, maxidle;
    const char *data;
};

static const char *const result_names[] = {"REUSE", "CONNECT", "WAIT", "NOMEM"};

/* The pool's totals (pool_stats, for GET /metrics) against what the fakes
   and the per-origin counts say: bound connections, idle and waiting on
   both origins, and every WAIT the script has seen. */
static void check_totals(const char *name, size_t i, struct pool *p, uint64_t waits)
{
    uint64_t bound = 0, idle = 0, wait = 0;
    for (size_t f = 0; f < NFAKE; f++)
        bound += conns[f].pc.origin != NULL;
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        idle += pool_idle_count(p, keys[k]);
        wait += pool_waiting_count(p, keys[k]);
    }
    const struct pool_stats *st = pool_stats(p);
    if (st->open != bound || st->idle != idle || st->waiting != wait || st->queued != waits)
        row_fail("%s step %zu: totals open/idle/waiting/queued %llu/%llu/%llu/%llu, want "
                 "%llu/%llu/%llu/%llu",
                 name, i, (unsigned long long)st->open, (unsigned long long)st->idle,
                 (unsigned long long)st->waiting, (unsigned long long)st->queued,
                 (unsigned long long)bound, (unsigned long long)idle, (unsigned long long)wait,
                 (unsigned long long)waits);
}

static void run_script(const char *name, const struct step *steps, size_t n)
{
    struct pool_limits lim = {4, 4};
    struct pool *p = pool_new(&fake_ops);
    assert_non_null(p);
    pool_set_data_free(p, fake_data_free);
    cur_pool = p;
    memset(conns, 0, sizeof(conns));
    memset(waiters, 0, sizeof(waiters));
    cur_script = name;
    uint64_t waits = 0;
    for (size_t i = 0; i < n; i++) {
        const struct step *s = &steps[i];
        struct pool_conn *pc = &conns[s->c].pc;
        struct pool_waiter *w = &waiters[s->w].w;
        const char *key = keys[s->k];
        const char *opn = op_names[s->op];
        cur_step = i;
        events[0] = '\0';
        switch (s->op) {
        case LIM:
            lim.max_per_origin = s->max;
            lim.max_idle_per_origin = s->maxidle;
            break;
        case ACQ:
        case FRESH: {
            struct pool_conn *out = NULL;
            memset(w, 0, sizeof(*w));
            w->fresh = s->op == FRESH;
            waiters[s->w].giveback = s->gb;
            enum pool_result r = pool_acquire(p, key, &lim, w, &out);
            waits += r == POOL_WAIT;
            if ((int)r != s->want) {
                row_fail("%s step %zu (%s w%d): %s, want %s", name, i, opn, s->w, result_names[r],
                         result_names[s->want]);
                break;
            }
            if (!w->origin)
                row_fail("%s step %zu: w%d has no origin", name, i, s->w);
            if (w->queued != (r == POOL_WAIT))
                row_fail("%s step %zu: w%d queued %d", name, i, s->w, w->queued);
            if (r == POOL_REUSE) {
                if (out != &conns[s->c].pc)
                    row_fail("%s step %zu: w%d reused c%d, want c%d", name, i, s->w,
                             out ? conn_id(out) : -1, s->c);
                else if (out->idle || out->origin != w->origin || conns[s->c].closed)
                    row_fail("%s step %zu: reused c%d in a bad state", name, i, s->c);
            }
            break;
        }
        case ADD:
            pool_conn_add(p, w, pc);
            conns[s->c].closed = false;
            if (pc->origin != w->origin || pc->idle)
                row_fail("%s step %zu: c%d not bound to w%d's origin", name, i, s->c, s->w);
            break;
        case RESV:
            pool_remove_reserved(p, w);
            break;
        case REL:
        case RELX: {
            bool kept = pool_release(p, pc, s->op == REL, &lim, s->now);
            if ((int)kept != s->want)
                row_fail("%s step %zu (%s c%d): kept %d, want %d", name, i, opn, s->c, kept,
                         s->want);
            if (kept && !pc->origin)
                row_fail("%s step %zu: c%d kept but forgotten", name, i, s->c);
            if (!kept) {
                if (pc->origin || pc->idle)
                    row_fail("%s step %zu: c%d not kept but still pooled", name, i, s->c);
                conns[s->c].closed = true; /* the caller closes it */
            }
            break;
        }
        case REMOVE:
            pool_remove(p, pc);
            if (pc->origin || pc->idle)
                row_fail("%s step %zu: c%d still pooled after remove", name, i, s->c);
            conns[s->c].closed = true;
            break;
        case CANCEL:
            pool_cancel(p, w);
            if (w->queued)
                row_fail("%s step %zu: w%d still queued after cancel", name, i, s->w);
            break;
        case EXPIRE:
            pool_expire(p, s->now, s->t);
            break;
        case DATA: {
            void **d = pool_origin_data(w->origin);
            if (*d)
                row_fail("%s step %zu: origin data %s, want NULL", name, i, (const char *)*d);
            *d = (void *)s->data;
            break;
        }
        case COUNT:
            break;
        case FREE:
            pool_free(p);
            p = cur_pool = NULL;
            break;
        }
        const char *want_ev = s->ev ? s->ev : "";
        if (strcmp(events, want_ev) != 0)
            row_fail("%s step %zu (%s): events \"%s\", want \"%s\"", name, i, opn, events, want_ev);
        if (s->op == LIM || s->op == FREE)
            continue;
        unsigned open = pool_open_count(p, key), idle = pool_idle_count(p, key),
                 wait = pool_waiting_count(p, key);
        if (open != s->open || idle != s->idle || wait != s->wait)
            row_fail("%s step %zu (%s): open/idle/wait %u/%u/%u, want %u/%u/%u", name, i, opn, open,
                     idle, wait, s->open, s->idle, s->wait);
        check_totals(name, i, p, waits);
    }
    pool_free(p); /* events of a script that did not FREE are not checked */
    cur_pool = NULL;
    rows_done();
}

#define RUN(steps) run_script(__func__, steps, sizeof(steps) / sizeof(steps[0]))

/* ---- scripts ---- */

/* First acquire connects; a reusable release parks it; the next acquire
 * reuses it; a non-reusable release forgets it and the empty origin goes. */
static void test_acquire_release(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 4, .maxidle = 4},
        {.op = COUNT},
        {.op = ACQ, .w = 1, .want = POOL_CONNECT, .open = 1},
        {.op = ADD, .w = 1, .c = 1, .open = 1},
        {.op = REL, .c = 1, .now = 10, .want = 1, .open = 1, .idle = 1},
        {.op = ACQ, .w = 2, .want = POOL_REUSE, .c = 1, .open = 1},
        {.op = REL, .c = 1, .now = 11, .want = 1, .open = 1, .idle = 1},
        {.op = ACQ, .w = 3, .want = POOL_REUSE, .c = 1, .open = 1},
        {.op = RELX, .c = 1, .want = 0},
        /* already forgotten: a second remove is a no-op */
        {.op = REMOVE, .c = 1},
        {.op = ACQ, .w = 4, .want = POOL_CONNECT, .open = 1},
        {.op = ADD, .w = 4, .c = 2, .open = 1},
        {.op = REMOVE, .c = 2},
    };
    (void)state;
    RUN(s);
}

/* Idle connections come back most recently released first. */
static void test_reuse_warmest_first(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 4, .maxidle = 4},
        {.op = ACQ, .w = 1, .want = POOL_CONNECT, .open = 1},
        {.op = ADD, .w = 1, .c = 1, .open = 1},
        {.op = ACQ, .w = 2, .want = POOL_CONNECT, .open = 2},
        {.op = ADD, .w = 2, .c = 2, .open = 2},
        {.op = ACQ, .w = 3, .want = POOL_CONNECT, .open = 3},
        {.op = ADD, .w = 3, .c = 3, .open = 3},
        {.op = REL, .c = 1, .now = 1, .want = 1, .open = 3, .idle = 1},
        {.op = REL, .c = 2, .now = 2, .want = 1, .open = 3, .idle = 2},
        {.op = REL, .c = 3, .now = 3, .want = 1, .open = 3, .idle = 3},
        {.op = ACQ, .w = 4, .want = POOL_REUSE, .c = 3, .open = 3, .idle = 2},
        {.op = ACQ, .w = 5, .want = POOL_REUSE, .c = 2, .open = 3, .idle = 1},
        {.op = REL, .c = 3, .now = 4, .want = 1, .open = 3, .idle = 2},
        {.op = ACQ, .w = 6, .want = POOL_REUSE, .c = 3, .open = 3, .idle = 1},
        {.op = ACQ, .w = 7, .want = POOL_REUSE, .c = 1, .open = 3},
        {.op = ACQ, .w = 8, .want = POOL_CONNECT, .open = 4},
        {.op = ACQ, .w = 9, .want = POOL_WAIT, .open = 4, .wait = 1},
        {.op = CANCEL, .w = 9, .open = 4},
    };
    (void)state;
    RUN(s);
}

/* With max 4: four connects, then waiters queue FIFO; each reusable release
 * hands its connection straight to the first waiter, none goes idle. */
static void test_cap_fifo_handoff(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 4, .maxidle = 4},
        {.op = ACQ, .w = 1, .want = POOL_CONNECT, .open = 1},
        {.op = ACQ, .w = 2, .want = POOL_CONNECT, .open = 2},
        {.op = ACQ, .w = 3, .want = POOL_CONNECT, .open = 3},
        {.op = ACQ, .w = 4, .want = POOL_CONNECT, .open = 4},
        {.op = ADD, .w = 1, .c = 1, .open = 4},
        {.op = ADD, .w = 2, .c = 2, .open = 4},
        {.op = ADD, .w = 3, .c = 3, .open = 4},
        {.op = ADD, .w = 4, .c = 4, .open = 4},
        {.op = ACQ, .w = 5, .want = POOL_WAIT, .open = 4, .wait = 1},
        {.op = ACQ, .w = 6, .want = POOL_WAIT, .open = 4, .wait = 2},
        {.op = ACQ, .w = 7, .want = POOL_WAIT, .open = 4, .wait = 3},
        {.op = REL, .c = 2, .now = 5, .want = 1, .ev = "grant w5 c2", .open = 4, .wait = 2},
        {.op = REL, .c = 4, .now = 6, .want = 1, .ev = "grant w6 c4", .open = 4, .wait = 1},
        {.op = REL, .c = 1, .now = 7, .want = 1, .ev = "grant w7 c1", .open = 4},
        {.op = REL, .c = 2, .now = 8, .want = 1, .open = 4, .idle = 1},
        {.op = ACQ, .w = 8, .want = POOL_REUSE, .c = 2, .open = 4},
    };
    (void)state;
    RUN(s);
}

/* A connection that goes away (non-reusable release, remove, a failed
 * connect) gives its slot to the first waiter: grant NULL, open stays at
 * the cap until nobody waits. */
static void test_slot_grant(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 2, .maxidle = 2},
        {.op = ACQ, .w = 1, .want = POOL_CONNECT, .open = 1},
        {.op = ADD, .w = 1, .c = 1, .open = 1},
        {.op = ACQ, .w = 2, .want = POOL_CONNECT, .open = 2},
        {.op = ADD, .w = 2, .c = 2, .open = 2},
        {.op = ACQ, .w = 3, .want = POOL_WAIT, .open = 2, .wait = 1},
        {.op = ACQ, .w = 4, .want = POOL_WAIT, .open = 2, .wait = 2},
        {.op = ACQ, .w = 5, .want = POOL_WAIT, .open = 2, .wait = 3},
        {.op = RELX, .c = 1, .want = 0, .ev = "grant w3 -", .open = 2, .wait = 2},
        {.op = ADD, .w = 3, .c = 3, .open = 2, .wait = 2},
        {.op = REMOVE, .c = 2, .ev = "grant w4 -", .open = 2, .wait = 1},
        {.op = ADD, .w = 4, .c = 4, .open = 2, .wait = 1},
        /* w4's connect failed */
        {.op = REMOVE, .c = 4, .ev = "grant w5 -", .open = 2},
        /* w5 could not make a connection: the slot is given back */
        {.op = RESV, .w = 5, .open = 1},
        {.op = REL, .c = 3, .now = 1, .want = 1, .open = 1, .idle = 1},
        /* the origin closed the idle connection */
        {.op = REMOVE, .c = 3},
    };
    (void)state;
    RUN(s);
}

/* A slot given back with pool_remove_reserved() goes to the next waiter,
 * also from inside the grant callback (upstream.c does so when it cannot
 * allocate a connection); the last one frees the origin. */
static void test_slot_given_back(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 1, .maxidle = 1},
        {.op = ACQ, .w = 1, .want = POOL_CONNECT, .open = 1},
        {.op = DATA, .w = 1, .data = "dA", .open = 1},
        {.op = ACQ, .w = 2, .want = POOL_WAIT, .open = 1, .wait = 1},
        {.op = ACQ, .w = 3, .want = POOL_WAIT, .open = 1, .wait = 2},
        {.op = RESV, .w = 1, .ev = "grant w2 -", .open = 1, .wait = 1},
        {.op = RESV, .w = 2, .ev = "grant w3 -", .open = 1},
        {.op = ADD, .w = 3, .c = 3, .open = 1},
        {.op = ACQ, .w = 4, .want = POOL_WAIT, .gb = true, .open = 1, .wait = 1},
        {.op = ACQ, .w = 5, .want = POOL_WAIT, .gb = true, .open = 1, .wait = 2},
        {.op = ACQ, .w = 6, .want = POOL_WAIT, .open = 1, .wait = 3},
        {.op = RELX, .c = 3, .want = 0, .ev = "grant w4 -, grant w5 -, grant w6 -", .open = 1},
        {.op = RESV, .w = 6, .ev = "free dA"},
        {.op = ACQ, .w = 7, .want = POOL_CONNECT, .open = 1},
        {.op = DATA, .w = 7, .data = "dA2", .open = 1},
        {.op = ADD, .w = 7, .c = 7, .open = 1},
        {.op = ACQ, .w = 8, .want = POOL_WAIT, .gb = true, .open = 1, .wait = 1},
        /* the last waiter gives its slot back inside the grant: the origin
           goes away under pool_remove(), which must not touch it after */
        {.op = REMOVE, .c = 7, .ev = "grant w8 -, free dA2"},
        {.op = ACQ, .w = 9, .want = POOL_CONNECT, .open = 1},
        {.op = ADD, .w = 9, .c = 9, .open = 1},
        {.op = ACQ, .w = 10, .want = POOL_WAIT, .gb = true, .open = 1, .wait = 1},
        {.op = RELX, .c = 9, .want = 0, .ev = "grant w10 -"},
        {.op = ACQ, .w = 11, .want = POOL_CONNECT, .open = 1},
        {.op = ACQ, .w = 12, .want = POOL_WAIT, .gb = true, .open = 1, .wait = 1},
        {.op = RESV, .w = 11, .ev = "grant w12 -"},
        {.op = FREE},
    };
    (void)state;
    RUN(s);
}

/* pool_cancel unlinks from the head, the middle or the tail; the rest keep
 * their order; cancelling twice or after the grant is a no-op. */
static void test_cancel(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 1, .maxidle = 1},
        {.op = ACQ, .w = 1, .want = POOL_CONNECT, .open = 1},
        {.op = ADD, .w = 1, .c = 1, .open = 1},
        {.op = ACQ, .w = 2, .want = POOL_WAIT, .open = 1, .wait = 1},
        {.op = ACQ, .w = 3, .want = POOL_WAIT, .open = 1, .wait = 2},
        {.op = ACQ, .w = 4, .want = POOL_WAIT, .open = 1, .wait = 3},
        {.op = ACQ, .w = 5, .want = POOL_WAIT, .open = 1, .wait = 4},
        {.op = ACQ, .w = 6, .want = POOL_WAIT, .open = 1, .wait = 5},
        {.op = ACQ, .w = 7, .want = POOL_WAIT, .open = 1, .wait = 6},
        {.op = CANCEL, .w = 4, .open = 1, .wait = 5},
        {.op = CANCEL, .w = 4, .open = 1, .wait = 5},
        {.op = CANCEL, .w = 2, .open = 1, .wait = 4},
        {.op = CANCEL, .w = 7, .open = 1, .wait = 3},
        /* the queue is still whole at its tail */
        {.op = ACQ, .w = 8, .want = POOL_WAIT, .open = 1, .wait = 4},
        {.op = REL, .c = 1, .now = 1, .want = 1, .ev = "grant w3 c1", .open = 1, .wait = 3},
        {.op = REL, .c = 1, .now = 2, .want = 1, .ev = "grant w5 c1", .open = 1, .wait = 2},
        {.op = CANCEL, .w = 5, .open = 1, .wait = 2},
        {.op = RELX, .c = 1, .want = 0, .ev = "grant w6 -", .open = 1, .wait = 1},
        {.op = ADD, .w = 6, .c = 2, .open = 1, .wait = 1},
        {.op = REL, .c = 2, .now = 3, .want = 1, .ev = "grant w8 c2", .open = 1},
        /* emptied by a cancel, the queue takes new waiters */
        {.op = ACQ, .w = 9, .want = POOL_WAIT, .open = 1, .wait = 1},
        {.op = CANCEL, .w = 9, .open = 1},
        {.op = ACQ, .w = 10, .want = POOL_WAIT, .open = 1, .wait = 1},
        {.op = ACQ, .w = 11, .want = POOL_WAIT, .open = 1, .wait = 2},
        {.op = CANCEL, .w = 10, .open = 1, .wait = 1},
        {.op = REL, .c = 2, .now = 4, .want = 1, .ev = "grant w11 c2", .open = 1},
        {.op = REL, .c = 2, .now = 5, .want = 1, .open = 1, .idle = 1},
    };
    (void)state;
    RUN(s);
}

/* An origin with only waiters (max 0) is freed when the last one leaves. */
static void test_cancel_frees_origin(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 0, .maxidle = 0},
        {.op = ACQ, .w = 1, .want = POOL_WAIT, .wait = 1},
        {.op = DATA, .w = 1, .data = "dA", .wait = 1},
        {.op = ACQ, .w = 2, .want = POOL_WAIT, .wait = 2},
        {.op = CANCEL, .w = 1, .wait = 1},
        {.op = CANCEL, .w = 2, .ev = "free dA"},
        {.op = FREE},
    };
    (void)state;
    RUN(s);
}

/* Releases beyond max_idle_per_origin are not kept: the caller closes. */
static void test_max_idle(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 4, .maxidle = 2},
        {.op = ACQ, .w = 1, .want = POOL_CONNECT, .open = 1},
        {.op = ACQ, .w = 2, .want = POOL_CONNECT, .open = 2},
        {.op = ACQ, .w = 3, .want = POOL_CONNECT, .open = 3},
        {.op = ACQ, .w = 4, .want = POOL_CONNECT, .open = 4},
        {.op = ADD, .w = 1, .c = 1, .open = 4},
        {.op = ADD, .w = 2, .c = 2, .open = 4},
        {.op = ADD, .w = 3, .c = 3, .open = 4},
        {.op = ADD, .w = 4, .c = 4, .open = 4},
        {.op = REL, .c = 1, .now = 1, .want = 1, .open = 4, .idle = 1},
        {.op = REL, .c = 2, .now = 2, .want = 1, .open = 4, .idle = 2},
        {.op = REL, .c = 3, .now = 3, .want = 0, .open = 3, .idle = 2},
        {.op = REL, .c = 4, .now = 4, .want = 0, .open = 2, .idle = 2},
        {.op = ACQ, .w = 5, .want = POOL_REUSE, .c = 2, .open = 2, .idle = 1},
        {.op = REL, .c = 2, .now = 5, .want = 1, .open = 2, .idle = 2},
    };
    (void)state;
    RUN(s);
}

/* max_idle 0 never parks a connection, though a waiter still gets one. */
static void test_max_idle_zero(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 4, .maxidle = 0},
        {.op = ACQ, .w = 1, .want = POOL_CONNECT, .open = 1},
        {.op = ADD, .w = 1, .c = 1, .open = 1},
        {.op = ACQ, .w = 2, .want = POOL_CONNECT, .open = 2},
        {.op = ADD, .w = 2, .c = 2, .open = 2},
        {.op = REL, .c = 1, .now = 1, .want = 0, .open = 1},
        {.op = REL, .c = 2, .now = 2, .want = 0},
        {.op = LIM, .max = 1, .maxidle = 0},
        {.op = ACQ, .w = 3, .want = POOL_CONNECT, .open = 1},
        {.op = ADD, .w = 3, .c = 3, .open = 1},
        {.op = ACQ, .w = 4, .want = POOL_WAIT, .open = 1, .wait = 1},
        {.op = REL, .c = 3, .now = 3, .want = 1, .ev = "grant w4 c3", .open = 1},
        {.op = REL, .c = 3, .now = 4, .want = 0},
    };
    (void)state;
    RUN(s);
}

/* pool_expire closes connections idle for the timeout or longer, oldest
 * first, keeps younger ones; a busy one keeps the origin, whose data goes
 * with the last connection. */
static void test_expire(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 4, .maxidle = 4},
        {.op = ACQ, .w = 1, .want = POOL_CONNECT, .open = 1},
        {.op = DATA, .w = 1, .data = "dA", .open = 1},
        {.op = ADD, .w = 1, .c = 1, .open = 1},
        {.op = ACQ, .w = 2, .want = POOL_CONNECT, .open = 2},
        {.op = ADD, .w = 2, .c = 2, .open = 2},
        {.op = ACQ, .w = 3, .want = POOL_CONNECT, .open = 3},
        {.op = ADD, .w = 3, .c = 3, .open = 3},
        {.op = ACQ, .w = 4, .want = POOL_CONNECT, .open = 4},
        {.op = ADD, .w = 4, .c = 4, .open = 4},
        {.op = REL, .c = 1, .now = 10, .want = 1, .open = 4, .idle = 1},
        {.op = REL, .c = 2, .now = 20, .want = 1, .open = 4, .idle = 2},
        {.op = REL, .c = 3, .now = 30, .want = 1, .open = 4, .idle = 3},
        {.op = EXPIRE, .now = 24.999, .t = 15, .open = 4, .idle = 3},
        {.op = EXPIRE, .now = 25, .t = 15, .ev = "close c1", .open = 3, .idle = 2},
        {.op = EXPIRE, .now = 44.5, .t = 15, .ev = "close c2", .open = 2, .idle = 1},
        {.op = EXPIRE, .now = 44.999, .t = 15, .open = 2, .idle = 1},
        {.op = EXPIRE, .now = 45, .t = 15, .ev = "close c3", .open = 1},
        {.op = REL, .c = 4, .now = 50, .want = 1, .open = 1, .idle = 1},
        {.op = EXPIRE, .now = 59, .t = 10, .open = 1, .idle = 1},
        {.op = EXPIRE, .now = 60, .t = 10, .ev = "close c4, free dA"},
        {.op = FREE},
    };
    (void)state;
    RUN(s);
}

/* Expiry follows release time, not first use: a reused connection is young
 * again, and the list stays oldest first. */
static void test_expire_after_reuse(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 4, .maxidle = 4},
        {.op = ACQ, .w = 1, .want = POOL_CONNECT, .open = 1},
        {.op = ADD, .w = 1, .c = 1, .open = 1},
        {.op = ACQ, .w = 2, .want = POOL_CONNECT, .open = 2},
        {.op = ADD, .w = 2, .c = 2, .open = 2},
        {.op = ACQ, .w = 3, .want = POOL_CONNECT, .open = 3},
        {.op = ADD, .w = 3, .c = 3, .open = 3},
        {.op = REL, .c = 1, .now = 10, .want = 1, .open = 3, .idle = 1},
        {.op = REL, .c = 2, .now = 11, .want = 1, .open = 3, .idle = 2},
        {.op = REL, .c = 3, .now = 12, .want = 1, .open = 3, .idle = 3},
        {.op = ACQ, .w = 4, .want = POOL_REUSE, .c = 3, .open = 3, .idle = 2},
        {.op = ACQ, .w = 5, .want = POOL_REUSE, .c = 2, .open = 3, .idle = 1},
        {.op = REL, .c = 3, .now = 30, .want = 1, .open = 3, .idle = 2},
        {.op = REL, .c = 2, .now = 31, .want = 1, .open = 3, .idle = 3},
        {.op = EXPIRE, .now = 40.5, .t = 10, .ev = "close c1, close c3", .open = 1, .idle = 1},
        {.op = ACQ, .w = 6, .want = POOL_REUSE, .c = 2, .open = 1},
    };
    (void)state;
    RUN(s);
}

/* Two origins: caps, idle lists, queues, expiry and data are per key. */
static void test_origins_independent(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 1, .maxidle = 1},
        {.op = ACQ, .k = A, .w = 1, .want = POOL_CONNECT, .open = 1},
        {.op = DATA, .k = A, .w = 1, .data = "dA", .open = 1},
        {.op = ADD, .k = A, .w = 1, .c = 1, .open = 1},
        {.op = ACQ, .k = B, .w = 2, .want = POOL_CONNECT, .open = 1},
        {.op = DATA, .k = B, .w = 2, .data = "dB", .open = 1},
        {.op = ADD, .k = B, .w = 2, .c = 2, .open = 1},
        {.op = ACQ, .k = A, .w = 3, .want = POOL_WAIT, .open = 1, .wait = 1},
        {.op = COUNT, .k = B, .open = 1},
        {.op = REL, .k = B, .c = 2, .now = 5, .want = 1, .open = 1, .idle = 1},
        {.op = COUNT, .k = A, .open = 1, .wait = 1},
        {.op = REL, .k = A, .c = 1, .now = 6, .want = 1, .ev = "grant w3 c1", .open = 1},
        {.op = ACQ, .k = B, .w = 4, .want = POOL_REUSE, .c = 2, .open = 1},
        {.op = REL, .k = A, .c = 1, .now = 7, .want = 1, .open = 1, .idle = 1},
        {.op = REL, .k = B, .c = 2, .now = 8, .want = 1, .open = 1, .idle = 1},
        {.op = EXPIRE, .k = A, .now = 14.5, .t = 7, .ev = "close c1, free dA"},
        {.op = COUNT, .k = B, .open = 1, .idle = 1},
        {.op = ACQ, .k = A, .w = 5, .want = POOL_CONNECT, .open = 1},
        {.op = COUNT, .k = B, .open = 1, .idle = 1},
        {.op = ADD, .k = A, .w = 5, .c = 5, .open = 1},
        {.op = REMOVE, .k = A, .c = 5},
        {.op = FREE, .ev = "close c2, free dB"},
    };
    (void)state;
    RUN(s);
}

/* A fresh waiter (a retry) never gets an idle connection: below the cap it
 * connects beside them; at the cap the oldest idle one is closed for it. */
static void test_fresh_skips_idle(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 4, .maxidle = 4},
        {.op = ACQ, .w = 1, .want = POOL_CONNECT, .open = 1},
        {.op = ADD, .w = 1, .c = 1, .open = 1},
        {.op = ACQ, .w = 2, .want = POOL_CONNECT, .open = 2},
        {.op = ADD, .w = 2, .c = 2, .open = 2},
        {.op = REL, .c = 1, .now = 1, .want = 1, .open = 2, .idle = 1},
        {.op = REL, .c = 2, .now = 2, .want = 1, .open = 2, .idle = 2},
        {.op = FRESH, .w = 3, .want = POOL_CONNECT, .open = 3, .idle = 2},
        {.op = ADD, .w = 3, .c = 3, .open = 3, .idle = 2},
        {.op = FRESH, .w = 4, .want = POOL_CONNECT, .open = 4, .idle = 2},
        {.op = ADD, .w = 4, .c = 4, .open = 4, .idle = 2},
        {.op = FRESH, .w = 5, .want = POOL_CONNECT, .ev = "close c1", .open = 4, .idle = 1},
        {.op = ADD, .w = 5, .c = 5, .open = 4, .idle = 1},
        {.op = ACQ, .w = 6, .want = POOL_REUSE, .c = 2, .open = 4},
        {.op = FRESH, .w = 7, .want = POOL_WAIT, .open = 4, .wait = 1},
    };
    (void)state;
    RUN(s);
}

/* A reusable release whose first waiter is fresh is not handed over: the
 * caller closes it and the waiter gets a slot; a plain waiter behind it
 * gets the next connection itself. */
static void test_fresh_waiter_gets_slot(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 2, .maxidle = 2},
        {.op = ACQ, .w = 1, .want = POOL_CONNECT, .open = 1},
        {.op = ADD, .w = 1, .c = 1, .open = 1},
        {.op = ACQ, .w = 2, .want = POOL_CONNECT, .open = 2},
        {.op = ADD, .w = 2, .c = 2, .open = 2},
        {.op = REL, .c = 1, .now = 1, .want = 1, .open = 2, .idle = 1},
        {.op = REL, .c = 2, .now = 2, .want = 1, .open = 2, .idle = 2},
        {.op = FRESH, .w = 3, .want = POOL_CONNECT, .ev = "close c1", .open = 2, .idle = 1},
        {.op = ADD, .w = 3, .c = 3, .open = 2, .idle = 1},
        {.op = FRESH, .w = 4, .want = POOL_CONNECT, .ev = "close c2", .open = 2},
        {.op = ADD, .w = 4, .c = 4, .open = 2},
        {.op = FRESH, .w = 5, .want = POOL_WAIT, .open = 2, .wait = 1},
        {.op = ACQ, .w = 6, .want = POOL_WAIT, .open = 2, .wait = 2},
        {.op = FRESH, .w = 7, .want = POOL_WAIT, .open = 2, .wait = 3},
        {.op = REL, .c = 3, .now = 3, .want = 0, .ev = "grant w5 -", .open = 2, .wait = 2},
        {.op = ADD, .w = 5, .c = 5, .open = 2, .wait = 2},
        {.op = REL, .c = 4, .now = 4, .want = 1, .ev = "grant w6 c4", .open = 2, .wait = 1},
        {.op = REL, .c = 4, .now = 5, .want = 0, .ev = "grant w7 -", .open = 2},
        {.op = ADD, .w = 7, .c = 7, .open = 2},
        {.op = REL, .c = 7, .now = 6, .want = 1, .open = 2, .idle = 1},
    };
    (void)state;
    RUN(s);
}

/* An origin is freed whenever it has no connection, slot or waiter left,
 * its data freed exactly once; the next acquire starts a new one. */
static void test_origin_freed_when_empty(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 4, .maxidle = 4},
        {.op = ACQ, .w = 1, .want = POOL_CONNECT, .open = 1},
        {.op = DATA, .w = 1, .data = "d1", .open = 1},
        {.op = ADD, .w = 1, .c = 1, .open = 1},
        {.op = REL, .c = 1, .now = 1, .want = 1, .open = 1, .idle = 1},
        {.op = ACQ, .w = 2, .want = POOL_REUSE, .c = 1, .open = 1},
        {.op = RELX, .c = 1, .want = 0, .ev = "free d1"},
        {.op = ACQ, .w = 3, .want = POOL_CONNECT, .open = 1},
        {.op = DATA, .w = 3, .data = "d2", .open = 1},
        {.op = ADD, .w = 3, .c = 3, .open = 1},
        {.op = REL, .c = 3, .now = 2, .want = 1, .open = 1, .idle = 1},
        {.op = REMOVE, .c = 3, .ev = "free d2"},
        {.op = ACQ, .w = 4, .want = POOL_CONNECT, .open = 1},
        {.op = DATA, .w = 4, .data = "d3", .open = 1},
        {.op = ADD, .w = 4, .c = 4, .open = 1},
        {.op = REMOVE, .c = 4, .ev = "free d3"},
        {.op = ACQ, .w = 5, .want = POOL_CONNECT, .open = 1},
        {.op = DATA, .w = 5, .data = "d4", .open = 1},
        {.op = ADD, .w = 5, .c = 5, .open = 1},
        {.op = REL, .c = 5, .now = 3, .want = 1, .open = 1, .idle = 1},
        {.op = EXPIRE, .now = 4, .t = 1, .ev = "close c5, free d4"},
        {.op = FREE},
    };
    (void)state;
    RUN(s);
}

/* pool_free closes every idle connection (oldest first) and frees data. */
static void test_free_closes_idle(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 4, .maxidle = 4},
        {.op = ACQ, .w = 1, .want = POOL_CONNECT, .open = 1},
        {.op = DATA, .w = 1, .data = "dA", .open = 1},
        {.op = ADD, .w = 1, .c = 1, .open = 1},
        {.op = ACQ, .w = 2, .want = POOL_CONNECT, .open = 2},
        {.op = ADD, .w = 2, .c = 2, .open = 2},
        {.op = ACQ, .w = 3, .want = POOL_CONNECT, .open = 3},
        {.op = ADD, .w = 3, .c = 3, .open = 3},
        {.op = ACQ, .w = 4, .want = POOL_CONNECT, .open = 4},
        {.op = ADD, .w = 4, .c = 4, .open = 4},
        {.op = REL, .c = 2, .now = 1, .want = 1, .open = 4, .idle = 1},
        {.op = REL, .c = 1, .now = 2, .want = 1, .open = 4, .idle = 2},
        {.op = REL, .c = 3, .now = 3, .want = 1, .open = 4, .idle = 3},
        {.op = REMOVE, .c = 4, .open = 3, .idle = 3},
        {.op = FREE, .ev = "close c2, close c1, close c3, free dA"},
    };
    (void)state;
    RUN(s);
}

/* Limits lowered under load: releases over the new cap are not kept until
 * the count is back under it. */
static void test_limits_shrink(void **state)
{
    static const struct step s[] = {
        {.op = LIM, .max = 4, .maxidle = 4},
        {.op = ACQ, .w = 1, .want = POOL_CONNECT, .open = 1},
        {.op = ADD, .w = 1, .c = 1, .open = 1},
        {.op = ACQ, .w = 2, .want = POOL_CONNECT, .open = 2},
        {.op = ADD, .w = 2, .c = 2, .open = 2},
        {.op = ACQ, .w = 3, .want = POOL_CONNECT, .open = 3},
        {.op = ADD, .w = 3, .c = 3, .open = 3},
        {.op = ACQ, .w = 4, .want = POOL_CONNECT, .open = 4},
        {.op = ADD, .w = 4, .c = 4, .open = 4},
        {.op = LIM, .max = 2, .maxidle = 4},
        {.op = REL, .c = 1, .now = 1, .want = 0, .open = 3},
        {.op = REL, .c = 2, .now = 2, .want = 0, .open = 2},
        {.op = REL, .c = 3, .now = 3, .want = 1, .open = 2, .idle = 1},
        {.op = REL, .c = 4, .now = 4, .want = 1, .open = 2, .idle = 2},
        {.op = LIM, .max = 1, .maxidle = 4},
        {.op = ACQ, .w = 5, .want = POOL_REUSE, .c = 4, .open = 2, .idle = 1},
        {.op = REL, .c = 4, .now = 5, .want = 0, .open = 1, .idle = 1},
        {.op = ACQ, .w = 6, .want = POOL_REUSE, .c = 3, .open = 1},
        {.op = REL, .c = 3, .now = 6, .want = 1, .open = 1, .idle = 1},
    };
    (void)state;
    RUN(s);
}

/* Unknown keys count zero; an empty pool and NULL free cleanly. */
static void test_empty_pool(void **state)
{
    (void)state;
    struct pool *p = pool_new(&fake_ops);
    assert_non_null(p);
    assert_int_equal(pool_open_count(p, keys[A]), 0);
    assert_int_equal(pool_idle_count(p, keys[A]), 0);
    assert_int_equal(pool_waiting_count(p, keys[A]), 0);
    events[0] = '\0';
    pool_expire(p, 1e9, 0);
    pool_free(p);
    assert_string_equal(events, "");
    pool_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_acquire_release, rows_reset),
        cmocka_unit_test_setup(test_reuse_warmest_first, rows_reset),
        cmocka_unit_test_setup(test_cap_fifo_handoff, rows_reset),
        cmocka_unit_test_setup(test_slot_grant, rows_reset),
        cmocka_unit_test_setup(test_slot_given_back, rows_reset),
        cmocka_unit_test_setup(test_cancel, rows_reset),
        cmocka_unit_test_setup(test_cancel_frees_origin, rows_reset),
        cmocka_unit_test_setup(test_max_idle, rows_reset),
        cmocka_unit_test_setup(test_max_idle_zero, rows_reset),
        cmocka_unit_test_setup(test_expire, rows_reset),
        cmocka_unit_test_setup(test_expire_after_reuse, rows_reset),
        cmocka_unit_test_setup(test_origins_independent, rows_reset),
        cmocka_unit_test_setup(test_fresh_skips_idle, rows_reset),
        cmocka_unit_test_setup(test_fresh_waiter_gets_slot, rows_reset),
        cmocka_unit_test_setup(test_origin_freed_when_empty, rows_reset),
        cmocka_unit_test_setup(test_free_closes_idle, rows_reset),
        cmocka_unit_test_setup(test_limits_shrink, rows_reset),
        cmocka_unit_test_setup(test_empty_pool, rows_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
