/* SPDX-License-Identifier: MIT */
/*
 * The heads-up of FBUS_READER_LOW_LATENCY (layout.h, docs/latency.md), with
 * real processes: a low-latency reader sleeps on the heads-up futex while no
 * frame is begun, is woken by the writer's acquire (before the publish),
 * spins a bounded time and then sleeps on the publish futex; a cancelled
 * frame, a writer that ends, a reader killed asleep, and a writer without
 * the feature bit (an older build) each leave every frame delivered and no
 * process spinning. White-box: it reads the header's words.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "layout.h"
#include "testutil.h"

#define WAIT_MS 10000 /* for a header word to change: generous, never reached */

/* What a reader child sends for each frame it got, and once at the end. */
struct msg {
    uint64_t seq;   /* 0: the end */
    int ok;         /* the pixels are tu_fill's for seq */
    int err;        /* at the end: what ended the loop */
    int64_t cpu_ns; /* at the end: the CPU it used while waiting */
};

struct reader_arg {
    const char *name;
    int fd;
    int64_t timeout_ns; /* of each acquire; 0: 30 s */
};

/* A lossless low-latency reader: each frame's number and check through the
 * pipe until the stream ends (or an acquire fails). */
static int reader_child(void *p)
{
    struct reader_arg *a = p;
    fbus_reader_opts ro = {.policy = FBUS_POLICY_LOSSLESS,
                           .producer_timeout_ns = TU_PRODUCER_TIMEOUT,
                           .flags = FBUS_READER_LOW_LATENCY | FBUS_READER_WAIT};
    fbus_reader *r = NULL;
    struct msg m = {0, 0, 0, 0};
    int64_t c0 = tu_cpu_ns();
    int err = fbus_reader_open(a->name, &ro, &r);

    while (err >= 0) {
        fbus_frame f;

        err = fbus_reader_acquire(r, a->timeout_ns ? a->timeout_ns : 30 * TU_SEC, &f);
        if (err == -ETIMEDOUT) {
            err = 0;
            continue; /* as a display loop that polls */
        }
        if (err < 0)
            break;
        m.seq = f.seq;
        m.ok = tu_verify(&f, f.seq);
        fbus_reader_release(r, &f);
        if (tu_send(a->fd, &m, sizeof(m)))
            return 2;
    }
    m.seq = 0;
    m.ok = 0;
    m.err = err;
    m.cpu_ns = tu_cpu_ns() - c0;
    fbus_reader_close(r);
    return tu_send(a->fd, &m, sizeof(m)) ? 2 : 0;
}

struct ctx {
    struct tu_fixture *fx;
    fbus_writer *w;
    tu_region reg;
    const struct fbus__header *h;
    int fds[2];
    pid_t pid;
};

/* A writer with one lossless low-latency reader attached; `features` (if
 * not ~0u) replaces the header's feature bits before the reader attaches. */
static void start_polling(struct ctx *c, void **state, uint32_t features, int64_t timeout_ns)
{
    fbus_writer_opts wo;
    struct reader_arg ra;

    memset(c, 0, sizeof(*c));
    c->fx = *state;
    wo = (fbus_writer_opts){.format = &c->fx->fmt};
    assert_int_equal(fbus_writer_open(c->fx->name, &wo, &c->w), 0);
    assert_int_equal(tu_region_map(c->fx->name, FBUS_TRANSPORT_POSIX, &c->reg), 0);
    c->h = (const struct fbus__header *)c->reg.base;
    assert_int_equal(c->h->features & FBUS__FEAT_HEADS_UP, FBUS__FEAT_HEADS_UP);
    if (features != ~0u)
        ((struct fbus__header *)c->reg.base)->features = features;
    assert_int_equal(pipe(c->fds), 0);
    ra = (struct reader_arg){c->fx->name, c->fds[1], timeout_ns};
    c->pid = tu_fork(reader_child, &ra, 60);
    assert_true(c->pid > 0);
    assert_int_equal(fbus_writer_wait_readers(c->w, 1, 20 * TU_SEC), 0);
}

static void start(struct ctx *c, void **state, uint32_t features)
{
    start_polling(c, state, features, 0);
}

/* Wait until (word & mask) == want, at most WAIT_MS: whether it came. */
static int word_becomes(const _Atomic uint64_t *word, uint64_t mask, uint64_t want)
{
    for (int64_t until = tu_now_ns() + WAIT_MS * TU_MS; tu_now_ns() < until; tu_sleep_ms(1))
        if ((atomic_load(word) & mask) == want)
            return 1;
    return 0;
}

/* The next message from the reader. */
static struct msg next(struct ctx *c)
{
    struct msg m;

    assert_int_equal(tu_recv(c->fds[0], &m, sizeof(m), 20000), 0);
    return m;
}

static void expect_frame(struct ctx *c, uint64_t seq)
{
    struct msg m = next(c);

    if (m.seq == 0)
        print_message("the reader ended: %s\n", fbus_strerror(m.err));
    assert_int_equal(m.seq, seq);
    assert_true(m.ok);
}

/* Close the writer: the reader ends with FBUS_EENDED. Its CPU use is
 * returned. */
static int64_t finish(struct ctx *c)
{
    struct msg m;

    fbus_writer_close(c->w);
    m = next(c);
    assert_int_equal(m.seq, 0);
    assert_int_equal(m.err, FBUS_EENDED);
    assert_int_equal(tu_wait(c->pid, 10000), 0);
    tu_region_unmap(&c->reg);
    close(c->fds[0]);
    close(c->fds[1]);
    return m.cpu_ns;
}

/* start() with a reader that got frame 1 and sleeps on the heads-up futex
 * (bit 1 of the mask: the first entry). */
static void start_asleep(struct ctx *c, void **state)
{
    start(c, state, ~0u);
    assert_int_equal(tu_publish(c->w, &c->fx->fmt, 5 * TU_SEC, NULL), 0);
    expect_frame(c, 1);
    assert_true(word_becomes(&c->h->heads_up_mask, ~UINT64_C(0), 1));
}

/* Asleep while nothing is begun, on the heads-up futex only; the writer's
 * acquire wakes it before the publish; it spins a bounded time, then
 * sleeps on the publish futex until the frame comes. */
static void test_woken_by_acquire(void **state)
{
    struct ctx c;
    fbus_slot slot;
    int64_t cpu;
    uint32_t v;

    /* Nothing begun: the reader sleeps on the heads-up futex. */
    start_asleep(&c, state);
    assert_int_equal(atomic_load(&c.h->waiting_mask), 0);
    assert_int_equal(atomic_load(&c.h->begun_seq), 1);

    /* The writer begins frame 2 (and wakes the reader: the futex word
     * moved) and holds it for a while. */
    v = atomic_load(&c.h->heads_up_futex);
    assert_int_equal(fbus_writer_acquire(c.w, &c.fx->fmt, 5 * TU_SEC, &slot), 0);
    assert_int_equal(atomic_load(&c.h->begun_seq), 2);
    assert_int_not_equal(atomic_load(&c.h->heads_up_futex), v);
    assert_true(word_becomes(&c.h->heads_up_mask, ~UINT64_C(0), 0));
    /* Its spin is bounded: it goes to sleep on the publish futex. */
    assert_true(word_becomes(&c.h->waiting_mask, ~UINT64_C(0), 1));
    tu_sleep_ms(1000);
    tu_fill(&slot, 2);
    assert_int_equal(fbus_writer_publish(c.w, &slot, NULL), 0);
    expect_frame(&c, 2);
    cpu = finish(&c);
    /* A reader that spun through the second would have used about one. */
    print_message("low-latency reader: %.1f ms of CPU\n", (double)cpu / 1e6);
    assert_true(cpu < 300 * TU_MS);
}

/* A cancelled frame is no heads-up for ever: the reader goes back to the
 * heads-up futex and gets the frame published next. */
static void test_cancel(void **state)
{
    struct ctx c;
    fbus_slot slot;
    int64_t cpu;

    start_asleep(&c, state);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(fbus_writer_acquire(c.w, &c.fx->fmt, 5 * TU_SEC, &slot), 0);
        assert_int_equal(atomic_load(&c.h->begun_seq), 2);
        fbus_writer_cancel(c.w, &slot);
        assert_int_equal(atomic_load(&c.h->begun_seq), 1);
    }
    /* Back asleep on the heads-up futex, not spinning. */
    assert_true(word_becomes(&c.h->heads_up_mask, ~UINT64_C(0), 1));
    tu_sleep_ms(500);
    assert_int_equal(atomic_load(&c.h->heads_up_mask), 1);
    assert_int_equal(tu_publish(c.w, &c.fx->fmt, 5 * TU_SEC, NULL), 0);
    expect_frame(&c, 2);
    cpu = finish(&c);
    assert_true(cpu < 300 * TU_MS);
}

/* The writer ends while the reader sleeps on the heads-up futex: it is
 * told at once, not after its timeout. */
static void test_end_wakes(void **state)
{
    struct ctx c;
    int64_t t0;

    start_asleep(&c, state);
    t0 = tu_now_ns();
    finish(&c);
    /* The reader's acquire waits 30 s: it returned on the end (at once: a
     * loaded machine may take a second to schedule it). */
    assert_true(tu_now_ns() - t0 < 2 * TU_SEC);
}

/* A reader killed asleep on the heads-up futex: the writer clears its bit
 * (it would otherwise make a system call for every frame, for nobody). */
static void test_killed_asleep(void **state)
{
    struct ctx c;

    start_asleep(&c, state);
    kill(c.pid, SIGKILL);
    assert_int_equal(tu_wait(c.pid, 10000), 128 + SIGKILL);
    /* The writer's next frame (it does not wait: the reader is gone) or
     * its heartbeat reclaims the entry. */
    assert_int_equal(tu_publish(c.w, &c.fx->fmt, 5 * TU_SEC, NULL), 0);
    assert_true(word_becomes(&c.h->heads_up_mask, ~UINT64_C(0), 0));
    fbus_writer_close(c.w);
    tu_region_unmap(&c.reg);
    close(c.fds[0]);
    close(c.fds[1]);
}

/* A writer without the feature bit (an older build of this layout): the
 * low-latency reader waits as a plain one, on the publish futex, and gets
 * every frame. */
static void test_no_feature(void **state)
{
    struct ctx c;

    start(&c, state, 0);
    assert_int_equal(tu_publish(c.w, &c.fx->fmt, 5 * TU_SEC, NULL), 0);
    expect_frame(&c, 1);
    assert_true(word_becomes(&c.h->waiting_mask, ~UINT64_C(0), 1));
    assert_int_equal(atomic_load(&c.h->heads_up_mask), 0);
    for (uint64_t seq = 2; seq <= 30; seq++) {
        assert_int_equal(tu_publish(c.w, &c.fx->fmt, 5 * TU_SEC, NULL), 0);
        expect_frame(&c, seq);
        assert_int_equal(atomic_load(&c.h->heads_up_mask), 0);
    }
    finish(&c);
}

/* A writer that holds a begun frame for a second (a producer waiting for
 * its input, a stopped one) while the reader polls with 1 ms timeouts, as
 * a display loop does: the reader spins the frame's budget once, not once
 * per call (which was ~45 % of a core here). */
static void test_held_frame_polled(void **state)
{
    struct ctx c;
    fbus_slot slot;
    int64_t cpu;

    start_polling(&c, state, ~0u, TU_MS);
    assert_int_equal(tu_publish(c.w, &c.fx->fmt, 5 * TU_SEC, NULL), 0);
    expect_frame(&c, 1);
    assert_int_equal(fbus_writer_acquire(c.w, &c.fx->fmt, 5 * TU_SEC, &slot), 0);
    tu_sleep_ms(1500);
    tu_fill(&slot, 2);
    assert_int_equal(fbus_writer_publish(c.w, &slot, NULL), 0);
    expect_frame(&c, 2);
    cpu = finish(&c);
    print_message("low-latency reader polling a held frame: %.1f ms of CPU in ~1.5 s\n",
                  (double)cpu / 1e6);
    /* Spinning 200 us of every 1 ms call would be 300 ms. */
    assert_true(cpu < 100 * TU_MS);
}

/* Someone with write access announces a frame that never comes, with
 * extreme times: no overflow (UBSan aborts on one), a bounded spin, and the
 * real frames still arrive. */
static void test_hostile_heads_up(void **state)
{
    static const int64_t times[] = {INT64_MIN, INT64_MAX, 0, -1};
    struct ctx c;
    struct fbus__header *hh;
    int64_t cpu;

    start(&c, state, ~0u);
    hh = (struct fbus__header *)c.reg.base;
    assert_int_equal(tu_publish(c.w, &c.fx->fmt, 5 * TU_SEC, NULL), 0);
    expect_frame(&c, 1);
    for (unsigned i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        assert_true(word_becomes(&c.h->heads_up_mask, ~UINT64_C(0), 1));
        atomic_store(&hh->begun_ns, times[i]);
        atomic_store(&hh->begun_cpu, i % 2 ? UINT32_MAX : 0);
        atomic_store(&hh->begun_seq, i % 2 ? UINT64_MAX : 2);
        atomic_fetch_add(&hh->heads_up_futex, 1);
        /* The reader spins a budget, then sleeps on the publish futex. */
        assert_true(word_becomes(&c.h->waiting_mask, ~UINT64_C(0), 1));
        atomic_store(&hh->begun_seq, 1);
        tu_sleep_ms(200);
    }
    for (uint64_t seq = 2; seq <= 10; seq++) {
        assert_int_equal(tu_publish(c.w, &c.fx->fmt, 5 * TU_SEC, NULL), 0);
        expect_frame(&c, seq);
    }
    cpu = finish(&c);
    assert_true(cpu < 300 * TU_MS);
}

static int setup(void **state)
{
    return tu_fixture_setup(state, "hup");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_woken_by_acquire, setup, tu_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, tu_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_end_wakes, setup, tu_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_killed_asleep, setup, tu_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_no_feature, setup, tu_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_held_frame_polled, setup, tu_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_heads_up, setup, tu_fixture_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
