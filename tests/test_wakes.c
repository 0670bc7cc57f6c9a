/* SPDX-License-Identifier: MIT */
/*
 * Who wakes a writer that waits for lossless readers: only the release that
 * moves the oldest frame it waits for (with N readers in step, one wake a
 * frame, not N), and never none: of readers that release that frame at the
 * same time, one wakes it. White-box: it reads the header's futex words.
 */
#include <pthread.h>
#include <setjmp.h>
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

#define SLOTS 3

struct acquirer {
    fbus_writer *w;
    const fbus_format *fmt;
    _Atomic int rc; /* 1 while running */
    fbus_slot slot;
};

static void *acquire_main(void *p)
{
    struct acquirer *a = p;

    atomic_store(&a->rc, fbus_writer_acquire(a->w, a->fmt, 30 * TU_SEC, &a->slot));
    return NULL;
}

static int becomes(_Atomic int *v, int want)
{
    for (int i = 0; i < 10000; i++, tu_sleep_ms(1))
        if (atomic_load(v) == want)
            return 1;
    return 0;
}

static int waits(const struct fbus__header *h)
{
    for (int i = 0; i < 10000; i++, tu_sleep_ms(1))
        if (atomic_load(&h->writer_waiting))
            return 1;
    return 0;
}

/* The last release, made at the writer's hook "wait:release": after the
 * writer has announced its wait and looked again, just before it sleeps,
 * the moment a wake-up could be lost. The writer's own thread makes it
 * (the reader is not in use elsewhere then). */
extern void (*fbus__test_hook)(const char *where);
static const struct fbus__header *hook_h;
static fbus_frame *last_frame;
static _Atomic(fbus_reader *) last_reader; /* set: release it at the hook */
static _Atomic uint32_t futex_before_release;
static _Atomic int last_release_rc = 1;

static void release_before_sleep(const char *where)
{
    fbus_reader *r;

    if (strcmp(where, "wait:release") != 0)
        return;
    r = atomic_exchange(&last_reader, NULL);
    if (!r)
        return;
    atomic_store(&futex_before_release, atomic_load(&hook_h->release_futex));
    atomic_store(&last_release_rc, fbus_reader_release(r, last_frame));
}

/* Two lossless readers hold frame 1 of a full bus; the writer waits for
 * its slot. The first release leaves the futex word alone (the other still
 * needs frame 1); the second, made just before the writer sleeps, bumps it
 * and the writer goes on. (Made from the test's thread instead, the second
 * release could fall between two of the writer's timed waits, when nobody
 * sleeps and no wake is due.) */
static void test_last_release_wakes(void **state)
{
    struct tu_fixture *fx = *state;
    fbus_writer_opts wo = {.format = &fx->fmt, .slots = SLOTS};
    fbus_reader_opts ro = {.policy = FBUS_POLICY_LOSSLESS,
                           .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
    struct acquirer a;
    fbus_reader *r[2];
    fbus_frame f[2];
    fbus_writer *w;
    tu_region reg;
    const struct fbus__header *h;
    pthread_t t;
    uint32_t v;

    assert_int_equal(fbus_writer_open(fx->name, &wo, &w), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(fbus_reader_open(fx->name, &ro, &r[i]), 0);
    assert_int_equal(tu_region_map(fx->name, FBUS_TRANSPORT_POSIX, &reg), 0);
    h = (const struct fbus__header *)reg.base;
    for (uint64_t seq = 1; seq <= SLOTS; seq++)
        assert_int_equal(tu_publish(w, &fx->fmt, 5 * TU_SEC, NULL), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fbus_reader_acquire(r[i], 5 * TU_SEC, &f[i]), 0);
        assert_int_equal(f[i].seq, 1);
    }

    memset(&a, 0, sizeof(a));
    a.w = w;
    a.fmt = &fx->fmt;
    atomic_store(&a.rc, 1);
    hook_h = h;
    last_frame = &f[1];
    fbus__test_hook = release_before_sleep;
    assert_int_equal(pthread_create(&t, NULL, acquire_main, &a), 0);
    assert_true(waits(h));
    v = atomic_load(&h->release_futex);
    assert_int_equal(fbus_reader_release(r[0], &f[0]), 0);
    /* Reader 1 still needs frame 1: no wake, and the writer still waits. */
    assert_int_equal(atomic_load(&h->release_futex), v);
    tu_sleep_ms(100);
    assert_int_equal(atomic_load(&a.rc), 1);
    atomic_store(&last_reader, r[1]);
    assert_true(becomes(&a.rc, 0));
    pthread_join(t, NULL);
    fbus__test_hook = NULL;
    assert_null(atomic_load(&last_reader)); /* the hook made the release */
    assert_int_equal(atomic_load(&last_release_rc), 0);
    assert_int_not_equal(atomic_load(&h->release_futex), atomic_load(&futex_before_release));
    assert_int_equal(a.slot.seq, SLOTS + 1);
    tu_fill(&a.slot, a.slot.seq);
    assert_int_equal(fbus_writer_publish(w, &a.slot, NULL), 0);

    /* Both read on: every frame, in order. */
    for (uint64_t seq = 2; seq <= SLOTS + 1; seq++) {
        for (int i = 0; i < 2; i++) {
            assert_int_equal(fbus_reader_acquire(r[i], 5 * TU_SEC, &f[i]), 0);
            assert_int_equal(f[i].seq, seq);
            assert_true(tu_verify(&f[i], seq));
            assert_int_equal(fbus_reader_release(r[i], &f[i]), 0);
        }
    }
    for (int i = 0; i < 2; i++)
        fbus_reader_close(r[i]);
    fbus_writer_close(w);
    tu_region_unmap(&reg);
}

struct stepper {
    const char *name;
    uint64_t frames;
    _Atomic uint64_t got;
    int err;
};

static void *reader_main(void *p)
{
    struct stepper *s = p;
    fbus_reader_opts ro = {.policy = FBUS_POLICY_LOSSLESS,
                           .producer_timeout_ns = TU_PRODUCER_TIMEOUT,
                           .flags = FBUS_READER_WAIT};
    fbus_reader *r = NULL;

    s->err = fbus_reader_open(s->name, &ro, &r);
    while (s->err == 0) {
        fbus_frame f;
        int err = fbus_reader_acquire(r, 30 * TU_SEC, &f);

        if (err == FBUS_EENDED)
            break;
        if (err < 0 || f.seq != s->got + 1 || !tu_verify(&f, f.seq)) {
            s->err = err < 0 ? err : -1;
            break;
        }
        atomic_store(&s->got, f.seq);
        fbus_reader_release(r, &f);
    }
    fbus_reader_close(r);
    return NULL;
}

/* Four lossless readers in step with a writer on a 2-slot bus, so that the
 * writer waits for nearly every frame and the readers release the oldest
 * frame close together: every frame arrives in order. A wake-up that
 * nobody sends costs the writer a 50 ms timed wait; misses on every frame
 * would take minutes, past the test's timeout. */
static void test_in_step(void **state)
{
    struct tu_fixture *fx = *state;
    fbus_writer_opts wo = {.format = &fx->fmt, .slots = 2};
    enum { N = 4, FRAMES = 3000 };
    struct stepper s[N];
    pthread_t t[N];
    fbus_writer *w;
    int64_t t0;

    assert_int_equal(fbus_writer_open(fx->name, &wo, &w), 0);
    for (int i = 0; i < N; i++) {
        s[i] = (struct stepper){fx->name, FRAMES, 0, 0};
        assert_int_equal(pthread_create(&t[i], NULL, reader_main, &s[i]), 0);
    }
    assert_int_equal(fbus_writer_wait_readers(w, N, 20 * TU_SEC), 0);
    t0 = tu_now_ns();
    for (int k = 0; k < FRAMES; k++)
        assert_int_equal(tu_publish(w, &fx->fmt, 30 * TU_SEC, NULL), 0);
    fbus_writer_close(w);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(s[i].err, 0);
        assert_int_equal(atomic_load(&s[i].got), FRAMES);
    }
    print_message("%d frames to %d lossless readers in %.2f s\n", FRAMES, N,
                  (double)(tu_now_ns() - t0) / 1e9);
}

static int setup(void **state)
{
    return tu_fixture_setup(state, "wake");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_last_release_wakes, setup, tu_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_in_step, setup, tu_fixture_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
