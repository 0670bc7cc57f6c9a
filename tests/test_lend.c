/* SPDX-License-Identifier: MIT */
/*
 * Lending (fbus_writer_lend): slots a decoder fills in decode order, keeps
 * as references and publishes in display order. What a reader sees is
 * checked pixel by pixel against what was written, with the sequence
 * numbers it must have: consecutive, in publish order, whatever order the
 * slots were lent in; a lent slot is never read before it is published nor
 * written over while lent; and the calls' errors.
 */
#include <errno.h>
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

#include "internal.h"
#include "testutil.h"

static const fbus_reader_opts lossless = {.policy = FBUS_POLICY_LOSSLESS,
                                          .producer_timeout_ns = TU_PRODUCER_TIMEOUT};

static int setup(void **state)
{
    return tu_fixture_setup(state, "lend");
}

/* Read one frame: its seq, and whether it holds content `id`. */
static void expect_frame(fbus_reader *r, uint64_t seq, uint64_t id)
{
    fbus_frame f;

    assert_int_equal(fbus_reader_acquire(r, 5 * TU_SEC, &f), 0);
    assert_int_equal(f.seq, seq);
    assert_true(tu_verify(&f, id));
    assert_int_equal(fbus_reader_release(r, &f), 0);
}

/* Slots lent A, B, C and published C, A, B reach a lossless reader as
 * frames 1, 2, 3 with C's, A's and B's pixels. */
static void test_publish_order_numbers(void **state)
{
    struct tu_fixture *fx = *state;
    fbus_writer_opts wo = {.format = &fx->fmt, .slots = 8};
    fbus_slot s[3];
    fbus_writer *w;
    fbus_reader *r;

    assert_int_equal(fbus_writer_open(fx->name, &wo, &w), 0);
    assert_int_equal(fbus_reader_open(fx->name, &lossless, &r), 0);
    /* The session's first frame goes through acquire (the reservation
     * gate): lend says -EAGAIN until then. */
    assert_int_equal(fbus_writer_lend(w, &fx->fmt, &s[0]), -EAGAIN);
    assert_int_equal(tu_publish(w, &fx->fmt, TU_SEC, NULL), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fbus_writer_lend(w, &fx->fmt, &s[i]), 0);
        assert_int_equal(s[i].seq, 0);
        tu_fill(&s[i], 100 + (uint64_t)i);
    }
    assert_int_equal(fbus_writer_publish_lent(w, &s[2], NULL), 0);
    assert_int_equal(s[2].seq, 2);
    assert_int_equal(fbus_writer_publish_lent(w, &s[0], NULL), 0);
    assert_int_equal(fbus_writer_publish_lent(w, &s[1], NULL), 0);
    assert_int_equal(s[1].seq, 4);
    expect_frame(r, 1, 1);
    expect_frame(r, 2, 102);
    expect_frame(r, 3, 100);
    expect_frame(r, 4, 101);
    for (int i = 0; i < 3; i++)
        fbus_writer_give_back(w, &s[i]);
    /* And the stream goes on through acquire, numbered on. */
    assert_int_equal(tu_publish(w, &fx->fmt, TU_SEC, NULL), 0);
    expect_frame(r, 5, 5);
    fbus_reader_close(r);
    fbus_writer_close(w);
}

/* A lent slot is never read before it is published, and one given back
 * unpublished is never read at all. */
static void test_unpublished_never_read(void **state)
{
    struct tu_fixture *fx = *state;
    fbus_writer_opts wo = {.format = &fx->fmt, .slots = 6};
    fbus_reader_opts latest = {.policy = FBUS_POLICY_LATEST,
                               .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
    fbus_slot a, b;
    fbus_frame f;
    fbus_writer *w;
    fbus_reader *r, *l;

    assert_int_equal(fbus_writer_open(fx->name, &wo, &w), 0);
    assert_int_equal(fbus_reader_open(fx->name, &lossless, &r), 0);
    assert_int_equal(fbus_reader_open(fx->name, &latest, &l), 0);
    assert_int_equal(tu_publish(w, &fx->fmt, TU_SEC, NULL), 0);
    expect_frame(r, 1, 1);
    assert_int_equal(fbus_reader_acquire(l, TU_SEC, &f), 0);
    assert_int_equal(fbus_reader_release(l, &f), 0);

    assert_int_equal(fbus_writer_lend(w, &fx->fmt, &a), 0);
    assert_int_equal(fbus_writer_lend(w, &fx->fmt, &b), 0);
    tu_fill(&a, 50);
    tu_fill(&b, 51);
    assert_int_equal(fbus_reader_acquire(r, 0, &f), -EAGAIN);
    assert_int_equal(fbus_reader_acquire(l, 0, &f), -EAGAIN);
    fbus_writer_give_back(w, &a); /* dropped: a frame the decoder discarded */
    assert_int_equal(fbus_writer_publish_lent(w, &b, NULL), 0);
    expect_frame(r, 2, 51);
    assert_int_equal(fbus_reader_acquire(l, TU_SEC, &f), 0);
    assert_int_equal(f.seq, 2);
    assert_true(tu_verify(&f, 51));
    assert_int_equal(fbus_reader_release(l, &f), 0);
    assert_int_equal(fbus_reader_acquire(r, 0, &f), -EAGAIN);
    fbus_writer_give_back(w, &b);
    fbus_reader_close(l);
    fbus_reader_close(r);
    fbus_writer_close(w);
}

/* Two slots are never lent, so acquire always goes on; and a published lent
 * slot keeps its pixels (a decoder's reference frame) however many frames
 * go by, until it is given back. */
static void test_lent_slot_kept(void **state)
{
    struct tu_fixture *fx = *state;
    fbus_writer_opts wo = {.format = &fx->fmt, .slots = 4};
    fbus_slot s[3], a;
    fbus_frame f;
    fbus_writer *w;
    fbus_reader *r;
    int reused = 0;

    assert_int_equal(fbus_writer_open(fx->name, &wo, &w), 0);
    assert_int_equal(fbus_reader_open(fx->name, &lossless, &r), 0);
    assert_int_equal(tu_publish(w, &fx->fmt, TU_SEC, NULL), 0);
    expect_frame(r, 1, 1);
    assert_int_equal(fbus_writer_lend(w, &fx->fmt, &s[0]), 0);
    assert_int_equal(fbus_writer_lend(w, &fx->fmt, &s[1]), 0);
    assert_int_equal(fbus_writer_lend(w, &fx->fmt, &s[2]), -EAGAIN);
    tu_fill(&s[0], 70);
    tu_fill(&s[1], 71);
    assert_int_equal(fbus_writer_publish_lent(w, &s[0], NULL), 0);
    expect_frame(r, 2, 70);
    for (uint64_t seq = 3; seq < 40; seq++) {
        assert_int_equal(tu_publish(w, &fx->fmt, TU_SEC, NULL), 0);
        expect_frame(r, seq, seq);
    }
    /* Neither the published nor the unpublished lent slot was written. */
    f.format = s[0].format;
    for (int p = 0; p < FBUS_MAX_PLANES; p++)
        f.data[p] = s[0].data[p];
    assert_true(tu_verify(&f, 70));
    for (int p = 0; p < FBUS_MAX_PLANES; p++)
        f.data[p] = s[1].data[p];
    assert_true(tu_verify(&f, 71));
    assert_int_equal(fbus_writer_publish_lent(w, &s[1], NULL), 0);
    expect_frame(r, 40, 71);
    /* Given back, slot 0 is the writer's to reuse again. */
    fbus_writer_give_back(w, &s[0]);
    for (uint64_t seq = 41; seq < 50; seq++) {
        assert_int_equal(fbus_writer_acquire(w, &fx->fmt, TU_SEC, &a), 0);
        reused |= a.index == s[0].index;
        tu_fill(&a, seq);
        assert_int_equal(fbus_writer_publish(w, &a, NULL), 0);
        expect_frame(r, seq, seq);
    }
    assert_true(reused);
    fbus_writer_give_back(w, &s[1]);
    fbus_reader_close(r);
    fbus_writer_close(w);
}

/* A latest reader keeps the frame it holds however many slots are lent:
 * lend leaves one more slot unlent per latest reader, so acquire never has
 * to take that frame (it did, with two left: FBUS_EOVERRUN at release,
 * found by helper-16). */
static void test_latest_reader_not_overrun(void **state)
{
    struct tu_fixture *fx = *state;
    fbus_writer_opts wo = {.format = &fx->fmt, .slots = 8};
    fbus_reader_opts latest = {.policy = FBUS_POLICY_LATEST,
                               .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
    fbus_slot lent[8];
    fbus_frame f;
    fbus_writer *w;
    fbus_reader *r;
    int n = 0;

    assert_int_equal(fbus_writer_open(fx->name, &wo, &w), 0);
    assert_int_equal(fbus_reader_open(fx->name, &latest, &r), 0);
    assert_int_equal(tu_publish(w, &fx->fmt, TU_SEC, NULL), 0);
    while (n < 8 && fbus_writer_lend(w, &fx->fmt, &lent[n]) == 0)
        n++;
    assert_int_equal(n, 8 - 2 - 1); /* two for acquire, one for the reader */
    assert_int_equal(tu_publish(w, &fx->fmt, TU_SEC, NULL), 0);
    assert_int_equal(fbus_reader_acquire(r, TU_SEC, &f), 0);
    assert_int_equal(f.seq, 2);
    for (uint64_t seq = 3; seq <= 6; seq++)
        assert_int_equal(tu_publish(w, &fx->fmt, TU_SEC, NULL), 0);
    assert_true(tu_verify(&f, 2));
    assert_int_equal(fbus_reader_release(r, &f), 0);
    for (int i = 0; i < n; i++)
        fbus_writer_give_back(w, &lent[i]);
    fbus_reader_close(r);
    fbus_writer_close(w);
}

/* Lend takes no slot whose frame a lossless reader has yet to read. */
static void test_lend_waits_for_no_one(void **state)
{
    struct tu_fixture *fx = *state;
    fbus_writer_opts wo = {.format = &fx->fmt, .slots = 6};
    fbus_slot s[3];
    fbus_writer *w;
    fbus_reader *r;

    assert_int_equal(fbus_writer_open(fx->name, &wo, &w), 0);
    assert_int_equal(fbus_reader_open(fx->name, &lossless, &r), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(tu_publish(w, &fx->fmt, TU_SEC, NULL), 0);
    /* Frames 1-4 fill four slots: two are empty, then none is free. */
    assert_int_equal(fbus_writer_lend(w, &fx->fmt, &s[0]), 0);
    assert_int_equal(fbus_writer_lend(w, &fx->fmt, &s[1]), 0);
    assert_int_equal(fbus_writer_lend(w, &fx->fmt, &s[2]), -EAGAIN);
    expect_frame(r, 1, 1);
    assert_int_equal(fbus_writer_lend(w, &fx->fmt, &s[2]), 0);
    tu_fill(&s[2], 9);
    assert_int_equal(fbus_writer_publish_lent(w, &s[2], NULL), 0);
    for (uint64_t seq = 2; seq <= 4; seq++)
        expect_frame(r, seq, seq);
    expect_frame(r, 5, 9);
    for (int i = 0; i < 3; i++)
        fbus_writer_give_back(w, &s[i]);
    fbus_reader_close(r);
    fbus_writer_close(w);
}

static void test_errors(void **state)
{
    struct tu_fixture *fx = *state;
    fbus_writer_opts wo = {.format = &fx->fmt, .slots = 6};
    fbus_format big;
    fbus_slot a, b, c;
    fbus_writer *w;

    assert_int_equal(fbus_writer_open(fx->name, &wo, &w), 0);
    assert_int_equal(tu_publish(w, &fx->fmt, TU_SEC, NULL), 0);
    assert_int_equal(fbus_format_init(&big, "gray", 640, 480, 0), 0);
    assert_int_equal(fbus_writer_lend(w, &big, &a), FBUS_EFORMAT);
    assert_int_equal(fbus_writer_lend(NULL, &fx->fmt, &a), -EINVAL);
    assert_int_equal(fbus_writer_lend(w, &fx->fmt, &a), 0);
    assert_int_equal(fbus_writer_lend(w, &fx->fmt, &b), 0);
    /* A lent slot is not an acquired one, and the other way round. */
    assert_int_equal(fbus_writer_publish(w, &a, NULL), -EINVAL);
    assert_int_equal(fbus_writer_acquire(w, &fx->fmt, TU_SEC, &c), 0);
    assert_int_equal(fbus_writer_publish_lent(w, &c, NULL), -EINVAL);
    assert_int_equal(fbus_writer_publish_lent(w, &a, NULL), -EBUSY);
    fbus_writer_cancel(w, &c);
    a.format.planes[0].rows = 100000; /* edited into nonsense */
    assert_int_equal(fbus_writer_publish_lent(w, &a, NULL), FBUS_EFORMAT);
    a.format = fx->fmt;
    assert_int_equal(fbus_writer_publish_lent(w, &a, NULL), 0);
    assert_int_equal(fbus_writer_publish_lent(w, &a, NULL), -EALREADY);
    /* A bigger frame moves the writer to a new region: b was lent from
     * the old one, which stays mapped while b is out. */
    assert_int_equal(fbus_writer_acquire(w, &big, TU_SEC, &c), 0);
    tu_fill(&c, 3);
    assert_int_equal(fbus_writer_publish(w, &c, NULL), 0);
    tu_fill(&b, 4);
    assert_int_equal(fbus_writer_publish_lent(w, &b, NULL), -ESTALE);
    fbus_writer_give_back(w, &a);
    /* A second give-back of a slot of the region left drops nothing: b
     * still keeps that region mapped (the second one used to unmap it). */
    fbus_writer_give_back(w, &a);
    tu_fill(&b, 5);
    fbus_writer_give_back(w, &b);
    fbus_writer_close(w);
}

/* The last lent slot of a region the writer is leaving, given back (on
 * another thread, in a producer) while the move still ends the old region:
 * the move's own hold keeps it mapped (it used to be unmapped under it:
 * SIGSEGV in finish_region). */
static fbus_writer *hook_writer;
static fbus_slot *hook_slot;

static void give_back_in_move(const char *where)
{
    if (strcmp(where, "move:left") == 0 && hook_slot) {
        fbus_writer_give_back(hook_writer, hook_slot);
        hook_slot = NULL;
    }
}

static void test_give_back_during_move(void **state)
{
    struct tu_fixture *fx = *state;
    fbus_format big;
    fbus_slot a, c;
    fbus_writer *w;
    fbus_reader *r;
    fbus_frame f;

    assert_int_equal(fbus_format_init(&big, "gray", 640, 480, 0), 0);
    for (int t = 0; t < 2; t++) {
        /* The reader follows only when this thread reads: the new
         * region's gate waits for it briefly. */
        fbus_writer_opts wo = {.transport = tu_transports[t],
                               .format = &fx->fmt,
                               .slots = 6,
                               .reserve_timeout_ns = 100 * TU_MS};
        fbus_reader_opts ro = lossless;

        ro.transport = tu_transports[t];
        assert_int_equal(fbus_writer_open(fx->name, &wo, &w), 0);
        assert_int_equal(fbus_reader_open(fx->name, &ro, &r), 0);
        assert_int_equal(tu_publish(w, &fx->fmt, TU_SEC, NULL), 0);
        assert_int_equal(fbus_writer_lend(w, &fx->fmt, &a), 0);
        tu_fill(&a, 40);
        assert_int_equal(fbus_writer_publish_lent(w, &a, NULL), 0);
        hook_writer = w;
        hook_slot = &a;
        fbus__test_hook = give_back_in_move;
        assert_int_equal(fbus_writer_acquire(w, &big, TU_SEC, &c), 0);
        fbus__test_hook = NULL;
        assert_null(hook_slot); /* the hook ran */
        tu_fill(&c, 1);
        assert_int_equal(fbus_writer_publish(w, &c, NULL), 0);
        /* The reader gets the old region's frames, then follows. */
        expect_frame(r, 1, 1);
        expect_frame(r, 2, 40);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &f), FBUS_EREPLACED);
        expect_frame(r, 1, 1);
        fbus_reader_close(r);
        fbus_writer_close(w);
    }
}

/* A writer closed with slots still lent ends the stream at once and keeps
 * the slots' memory until they come back (the producer's decoder may be
 * freed after the bus). */
static void test_close_while_lent(void **state)
{
    struct tu_fixture *fx = *state;
    fbus_writer_opts wo = {.format = &fx->fmt, .slots = 6};
    fbus_slot a, b;
    fbus_frame f;
    fbus_writer *w;
    fbus_reader *r;
    fbus_stats st;

    assert_int_equal(fbus_writer_open(fx->name, &wo, &w), 0);
    assert_int_equal(fbus_reader_open(fx->name, &lossless, &r), 0);
    assert_int_equal(tu_publish(w, &fx->fmt, TU_SEC, NULL), 0);
    assert_int_equal(fbus_writer_lend(w, &fx->fmt, &a), 0);
    assert_int_equal(fbus_writer_lend(w, &fx->fmt, &b), 0);
    tu_fill(&a, 20);
    assert_int_equal(fbus_writer_publish_lent(w, &a, NULL), 0);
    fbus_writer_close(w);
    assert_int_equal(fbus_stat(fx->name, FBUS_TRANSPORT_POSIX, &st), -ENOENT);
    tu_fill(&b, 21); /* still mapped */
    expect_frame(r, 1, 1);
    expect_frame(r, 2, 20);
    assert_int_equal(fbus_reader_acquire(r, TU_SEC, &f), FBUS_EENDED);
    fbus_writer_give_back(w, &b);
    fbus_writer_give_back(w, &a); /* the last one frees the writer */
    fbus_reader_close(r);
}

/*
 * A decoder in miniature, with real threads and a lossless reader in
 * another process: a thread "decodes" frames in an order of its own (each
 * pair swapped, as with B-frames), into lent slots when it gets one and
 * into memory of its own when not; the main thread publishes them in frame
 * order, lent ones in place and the others by acquire and copy, and gives
 * published slots back a few frames later from yet another thread (the
 * decoder letting go of a reference). The reader must get every frame, in
 * order, with its pixels.
 */
#define MINI_FRAMES (TU_TSAN ? 300 : 3000)
#define MINI_QUEUE  8

struct mini_frame {
    uint64_t id;
    int lent;
    fbus_slot slot; /* lent: the slot */
};

struct mini {
    fbus_writer *w;
    const fbus_format *fmt;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct mini_frame q[MINI_QUEUE]; /* decoded, not yet published */
    int nq;
    fbus_slot back[MINI_QUEUE]; /* published, to give back */
    int nback;
    int done;
    uint64_t lent, copied;
};

static void *decoder_main(void *p)
{
    struct mini *m = p;

    for (uint64_t k = 1; k <= MINI_FRAMES; k++) {
        /* Decode order 2, 1, 4, 3, ... */
        uint64_t id = (k & 1) ? (k + 1 <= MINI_FRAMES ? k + 1 : k) : k - 1;
        struct mini_frame fr = {.id = id};

        fr.lent = fbus_writer_lend(m->w, m->fmt, &fr.slot) == 0;
        if (fr.lent)
            tu_fill(&fr.slot, id);
        pthread_mutex_lock(&m->mu);
        while (m->nq == MINI_QUEUE)
            pthread_cond_wait(&m->cv, &m->mu);
        m->q[m->nq++] = fr;
        if (fr.lent)
            m->lent++;
        pthread_cond_broadcast(&m->cv);
        pthread_mutex_unlock(&m->mu);
    }
    return NULL;
}

static void *refs_main(void *p)
{
    struct mini *m = p;

    pthread_mutex_lock(&m->mu);
    while (!m->done || m->nback) {
        if (m->nback > 2) {
            fbus_slot s = m->back[0];
            memmove(&m->back[0], &m->back[1], sizeof(m->back[0]) * (size_t)--m->nback);
            pthread_cond_broadcast(&m->cv);
            pthread_mutex_unlock(&m->mu);
            fbus_writer_give_back(m->w, &s);
            pthread_mutex_lock(&m->mu);
            continue;
        }
        if (m->done) {
            fbus_slot s = m->back[0];
            memmove(&m->back[0], &m->back[1], sizeof(m->back[0]) * (size_t)--m->nback);
            pthread_mutex_unlock(&m->mu);
            fbus_writer_give_back(m->w, &s);
            pthread_mutex_lock(&m->mu);
            continue;
        }
        pthread_cond_wait(&m->cv, &m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

struct mini_reader {
    const char *name;
};

static int mini_reader_main(void *p)
{
    const struct mini_reader *mr = p;
    fbus_reader_opts ro = lossless;
    fbus_reader *r;
    fbus_frame f;
    uint64_t n = 0;
    int ret;

    ro.flags = FBUS_READER_WAIT;
    if (fbus_reader_open(mr->name, &ro, &r) != 0)
        return 2;
    while ((ret = fbus_reader_acquire(r, 20 * TU_SEC, &f)) == 0) {
        n++;
        if (f.seq != n || !tu_verify(&f, n))
            return 3;
        if (fbus_reader_release(r, &f) != 0)
            return 4;
    }
    fbus_reader_close(r);
    return ret == FBUS_EENDED && n == MINI_FRAMES ? 0 : 5;
}

static void test_mini_decoder(void **state)
{
    struct tu_fixture *fx = *state;
    fbus_writer_opts wo = {.format = &fx->fmt, .slots = 12};
    struct mini m = {.fmt = &fx->fmt};
    struct mini_reader mr = {fx->name};
    pthread_t dec, refs;
    pid_t pid;

    pthread_mutex_init(&m.mu, NULL);
    pthread_cond_init(&m.cv, NULL);
    pid = tu_fork(mini_reader_main, &mr, 120);
    assert_true(pid > 0);
    assert_int_equal(fbus_writer_open(fx->name, &wo, &m.w), 0);
    assert_int_equal(fbus_writer_wait_readers(m.w, 1, 10 * TU_SEC), 0);
    assert_int_equal(pthread_create(&dec, NULL, decoder_main, &m), 0);
    assert_int_equal(pthread_create(&refs, NULL, refs_main, &m), 0);
    for (uint64_t id = 1; id <= MINI_FRAMES; id++) {
        struct mini_frame fr;
        int k;

        pthread_mutex_lock(&m.mu);
        for (;;) {
            for (k = 0; k < m.nq && m.q[k].id != id; k++)
                ;
            if (k < m.nq)
                break;
            pthread_cond_wait(&m.cv, &m.mu);
        }
        fr = m.q[k];
        m.q[k] = m.q[--m.nq];
        pthread_cond_broadcast(&m.cv);
        pthread_mutex_unlock(&m.mu);
        if (fr.lent) {
            assert_int_equal(fbus_writer_publish_lent(m.w, &fr.slot, NULL), 0);
            assert_int_equal(fr.slot.seq, id);
            pthread_mutex_lock(&m.mu);
            while (m.nback == MINI_QUEUE)
                pthread_cond_wait(&m.cv, &m.mu);
            m.back[m.nback++] = fr.slot;
            pthread_cond_broadcast(&m.cv);
            pthread_mutex_unlock(&m.mu);
        } else {
            uint64_t seq;
            assert_int_equal(tu_publish(m.w, &fx->fmt, 20 * TU_SEC, &seq), 0);
            assert_int_equal(seq, id);
            m.copied++;
        }
    }
    pthread_join(dec, NULL);
    pthread_mutex_lock(&m.mu);
    m.done = 1;
    pthread_cond_broadcast(&m.cv);
    pthread_mutex_unlock(&m.mu);
    pthread_join(refs, NULL);
    fbus_writer_close(m.w);
    assert_int_equal(tu_wait(pid, 60000), 0);
    print_message("# %llu frames: %llu decoded into lent slots, %llu copied\n",
                  (unsigned long long)MINI_FRAMES, (unsigned long long)m.lent,
                  (unsigned long long)m.copied);
    assert_true(m.lent > 0);
    pthread_cond_destroy(&m.cv);
    pthread_mutex_destroy(&m.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_order_numbers, setup, tu_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_unpublished_never_read, setup, tu_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_lent_slot_kept, setup, tu_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_latest_reader_not_overrun, setup, tu_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_lend_waits_for_no_one, setup, tu_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, tu_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_give_back_during_move, setup, tu_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_close_while_lent, setup, tu_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_mini_decoder, setup, tu_fixture_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
