/* SPDX-License-Identifier: MIT */
/*
 * The writer/reader protocol, for both transports. In one process, step by
 * step: what latest and lossless readers get (seq, dropped, flags, pts,
 * pixels), pins that keep a held frame intact, overruns when slots are too
 * few, format changes that fit and that do not (readers follow the new
 * region), the end of a stream, a reader waiting for its producer, and
 * fbus_stat's counters. Across processes: 1 writer and 4 readers (2 latest,
 * 2 lossless) over 100,000 frames, every frame's seq and bytes checked; and
 * latest-only readers on 2 slots, where the writer must never block and any
 * torn frame must come with FBUS_EOVERRUN.
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
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#define STRESS_FRAMES (TU_TSAN ? 10000 : 100000)

static int setup(void **state)
{
    return tu_fixture_setup(state, "proto");
}

static int teardown(void **state)
{
    return tu_fixture_teardown(state);
}

static fbus_writer *open_writer(const struct tu_fixture *c, fbus_transport t, uint32_t slots)
{
    fbus_writer_opts o = {.transport = t, .slots = slots, .format = &c->fmt};
    fbus_writer *w = NULL;
    int rc = fbus_writer_open(c->name, &o, &w);

    if (rc != 0)
        fail_msg("fbus_writer_open(%s, %s) = %d (%s)", c->name, tu_transport_name(t), rc,
                 fbus_strerror(rc));
    return w;
}

static fbus_reader *open_reader(const struct tu_fixture *c, fbus_transport t, fbus_policy policy,
                                uint32_t flags)
{
    fbus_reader_opts o = {.transport = t,
                          .policy = policy,
                          .flags = flags,
                          .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
    fbus_reader *r = NULL;
    int rc = fbus_reader_open(c->name, &o, &r);

    if (rc != 0)
        fail_msg("fbus_reader_open(%s, %s) = %d (%s)", c->name, tu_transport_name(t), rc,
                 fbus_strerror(rc));
    return r;
}

#define ANY UINT64_MAX /* dropped not checked (a reader's first frame) */

/* Acquire the next frame, check it is seq with the right bytes, release. */
static void take(fbus_reader *r, uint64_t seq, uint64_t dropped)
{
    fbus_frame fr;
    int rc = fbus_reader_acquire(r, 2 * TU_SEC, &fr);

    if (rc != 0)
        fail_msg("acquire (want seq %llu): %d (%s)", (unsigned long long)seq, rc,
                 fbus_strerror(rc));
    assert_int_equal(fr.seq, seq);
    if (dropped != ANY)
        assert_int_equal(fr.dropped, dropped);
    assert_true(tu_verify(&fr, seq));
    assert_int_equal(fbus_reader_release(r, &fr), 0);
}

static void test_latest_basic(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 3);
        fbus_reader *r = open_reader(c, tu_transports[t], FBUS_POLICY_LATEST, 0);
        fbus_meta meta = {
            .pts = 100,
            .tb_num = 1,
            .tb_den = 25,
            .flags = FBUS_FRAME_KEY,
            .rate_num = 25,
            .rate_den = 1,
            .sar_num = 16,
            .sar_den = 11,
            .color = {.matrix = 6, .range = FBUS_RANGE_FULL, .primaries = 6, .transfer = 6}};
        fbus_slot s;
        fbus_frame fr;
        int64_t before, after;

        assert_int_equal(fbus_writer_acquire(w, &c->fmt, TU_SEC, &s), 0);
        tu_fill(&s, s.seq);
        before = fbus_now_ns();
        assert_int_equal(fbus_writer_publish(w, &s, &meta), 0);
        after = fbus_now_ns();

        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
        assert_int_equal(fr.seq, 1);
        assert_int_equal(fr.session, fbus_writer_session(w));
        assert_true(fr.flags & FBUS_FRAME_NEW_SESSION);
        assert_true(fr.flags & FBUS_FRAME_KEY);
        assert_int_equal(fr.pts, 100);
        assert_int_equal(fr.tb_num, 1);
        assert_int_equal(fr.tb_den, 25);
        assert_int_equal(fr.rate_num, 25);
        assert_int_equal(fr.rate_den, 1);
        assert_int_equal(fr.sar_num, 16);
        assert_int_equal(fr.sar_den, 11);
        assert_memory_equal(&fr.color, &meta.color, sizeof(fr.color));
        assert_true(fr.publish_ns >= before && fr.publish_ns <= after);
        assert_int_equal(fr.dropped, 0);
        assert_memory_equal(&fr.format, &c->fmt, sizeof(c->fmt));
        assert_true(tu_verify(&fr, 1));
        assert_int_equal(tu_checksum(fr.data, &fr.format), tu_pattern_checksum(&c->fmt, 1));
        assert_int_equal(fbus_reader_release(r, &fr), 0);

        /* Three more: a latest reader gets the newest and counts the rest. */
        for (int i = 0; i < 3; i++)
            assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
        assert_int_equal(fr.seq, 4);
        assert_int_equal(fr.dropped, 2);
        assert_false(fr.flags & FBUS_FRAME_NEW_SESSION);
        assert_false(fr.flags & FBUS_FRAME_KEY);
        assert_int_equal(fr.pts, INT64_MIN); /* meta NULL: unknown */
        assert_int_equal(fr.tb_num, 0);
        assert_int_equal(fr.rate_num, 0);
        assert_int_equal(fr.sar_den, 0);
        assert_int_equal(fr.color.matrix, 0);
        assert_int_equal(fr.tb_den, 0);
        assert_true(tu_verify(&fr, 4));
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        assert_int_equal(fbus_reader_acquire(r, 0, &fr), -EAGAIN);
        fbus_reader_close(r);
        fbus_writer_close(w);
    }
}

static void test_lossless_interleaved(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 3);
        fbus_reader *r = open_reader(c, tu_transports[t], FBUS_POLICY_LOSSLESS, 0);
        uint64_t published = 0, taken = 0, x = 12345;

        /* Random bursts on both sides; the writer can run ahead by at most
         * the slot count, and the reader gets every frame in order. */
        while (taken < 3000) {
            int n;

            x = x * 6364136223846793005ull + 1442695040888963407ull;
            n = (int)(x >> 60);
            for (int i = 0; i < n; i++) {
                uint64_t seq;
                int rc = tu_publish(w, &c->fmt, 0, &seq);
                if (rc == -EAGAIN)
                    break;
                assert_int_equal(rc, 0);
                assert_int_equal(seq, ++published);
                assert_true(published - taken <= 3);
            }
            n = (int)((x >> 56) & 15);
            for (int i = 0; i < n && taken < published; i++)
                take(r, ++taken, 0);
            if (taken == published) {
                fbus_frame fr;
                assert_int_equal(fbus_reader_acquire(r, 0, &fr), -EAGAIN);
            }
        }
        fbus_reader_close(r);
        fbus_writer_close(w);
    }
}

/* A lossless reader that joins a running stream starts at a frame still in
 * the bus, intact, and from there gets every frame in order. */
static void test_lossless_joins_midstream(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 3);
        fbus_reader *r;
        fbus_frame fr;
        uint64_t first;

        for (int i = 0; i < 10; i++)
            assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        r = open_reader(c, tu_transports[t], FBUS_POLICY_LOSSLESS, 0);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
        first = fr.seq;
        assert_true(first >= 10 - 3 + 1 && first <= 11);
        assert_true(tu_verify(&fr, first));
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        for (uint64_t seq = first + 1; seq <= 10; seq++)
            take(r, seq, 0);
        for (uint64_t seq = 11; seq <= 30; seq++) {
            if (seq > first) {
                assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
                take(r, seq, 0);
            }
        }
        fbus_reader_close(r);
        fbus_writer_close(w);
    }
}

/* Full-size frames of several layouts, each byte checked. */
static void test_large_frames(void **state)
{
    static const char *fmts[] = {"yuv420p", "nv12", "yuyv422", "rgb24", "yuv420p10le"};
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_format f[5];
        fbus_writer_opts o = {.transport = tu_transports[t], .slots = 3};
        fbus_writer *w = NULL;
        fbus_reader *r;
        uint64_t seq;

        for (int i = 0; i < 5; i++)
            assert_int_equal(fbus_format_init(&f[i], fmts[i], 1920, 1080, 0), 0);
        o.format = &f[4]; /* the biggest: no moves */
        assert_int_equal(fbus_writer_open(c->name, &o, &w), 0);
        r = open_reader(c, tu_transports[t], FBUS_POLICY_LOSSLESS, 0);
        for (int i = 0; i < 10; i++) {
            fbus_frame fr;

            assert_int_equal(tu_publish(w, &f[i % 5], TU_SEC, &seq), 0);
            assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
            assert_int_equal(fr.seq, seq);
            assert_memory_equal(&fr.format, &f[i % 5], sizeof(fr.format));
            assert_true(tu_verify(&fr, seq));
            assert_int_equal(fbus_reader_release(r, &fr), 0);
        }
        fbus_reader_close(r);
        fbus_writer_close(w);
    }
}

/* A pinned frame stays intact whatever the writer does, as long as there
 * are readers + 2 slots; the writer is never held back by latest readers. */
static void test_pins_hold(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 4);
        fbus_reader *a = open_reader(c, tu_transports[t], FBUS_POLICY_LATEST, 0);
        fbus_reader *b = open_reader(c, tu_transports[t], FBUS_POLICY_LATEST, 0);
        fbus_frame fa, fb;

        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_reader_acquire(a, TU_SEC, &fa), 0);
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_reader_acquire(b, TU_SEC, &fb), 0);
        assert_int_equal(fa.seq, 1);
        assert_int_equal(fb.seq, 2);
        for (int i = 0; i < 1000; i++)
            assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_true(tu_verify(&fa, 1));
        assert_true(tu_verify(&fb, 2));
        assert_int_equal(fbus_reader_release(a, &fa), 0);
        assert_int_equal(fbus_reader_release(b, &fb), 0);
        take(a, 1002, 1000);
        fbus_reader_close(a);
        fbus_reader_close(b);
        fbus_writer_close(w);
    }
}

static void test_overrun(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 2);
        fbus_reader *r = open_reader(c, tu_transports[t], FBUS_POLICY_LATEST, 0);
        fbus_stats st;
        fbus_frame fr;

        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
        assert_int_equal(fr.seq, 1);
        /* Two slots, one pinned: the writer still never waits, and reuses
         * the pinned one on the second frame. */
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_false(tu_verify(&fr, 1)); /* the bytes were overwritten... */
        assert_int_equal(fbus_reader_release(r, &fr), FBUS_EOVERRUN); /* ...and said so */
        take(r, 3, 1);
        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), 0);
        assert_true(st.forced >= 1);
        assert_int_equal(st.nb_readers, 1);
        assert_int_equal(st.readers[0].overruns, 1);
        assert_int_equal(st.readers[0].frames, 2);
        fbus_reader_close(r);
        fbus_writer_close(w);
    }
}

/* With readers + 2 slots no frame is ever torn: when a lossless reader holds
 * the writer back, it waits (or says -EAGAIN) rather than reuse a slot a
 * latest reader pins. */
static void test_no_forced_reuse_with_enough_slots(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 4);
        fbus_reader *lat = open_reader(c, tu_transports[t], FBUS_POLICY_LATEST, 0);
        fbus_reader *los = open_reader(c, tu_transports[t], FBUS_POLICY_LOSSLESS, 0);
        fbus_frame held;
        fbus_slot s;
        int rc;

        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_reader_acquire(lat, TU_SEC, &held), 0); /* pins frame 1 */
        take(los, 1, 0);
        for (int i = 0; i < 3; i++)
            assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        /* Slots: 1 (pinned by the latest reader), 2 and 3 (the lossless
         * reader needs them), 4 (newest). Frame 5 must wait. */
        rc = fbus_writer_acquire(w, &c->fmt, 0, &s);
        if (rc == 0)
            fbus_writer_cancel(w, &s);
        assert_int_equal(rc, -EAGAIN);
        assert_true(tu_verify(&held, 1));
        assert_int_equal(fbus_reader_release(lat, &held), 0);
        /* The pin is gone: slot of frame 1 is free. */
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        take(los, 2, 0);
        fbus_reader_close(lat);
        fbus_reader_close(los);
        fbus_writer_close(w);
    }
}

/* Closing a reader gives back the frame it holds and what it still needed:
 * a writer held back by it goes on at once. */
static void test_close_releases(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 2);
        fbus_reader *los = open_reader(c, tu_transports[t], FBUS_POLICY_LOSSLESS, 0);
        fbus_frame held;
        fbus_slot s;

        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_reader_acquire(los, TU_SEC, &held), 0);
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_writer_acquire(w, &c->fmt, 0, &s), -EAGAIN);
        fbus_reader_close(los); /* still holding frame 1 */
        assert_int_equal(fbus_writer_readers(w), 0);
        assert_int_equal(fbus_writer_acquire(w, &c->fmt, 0, &s), 0);
        assert_int_equal(s.seq, 3);
        fbus_writer_cancel(w, &s);
        fbus_writer_close(w);
    }
}

static void test_format_change_fits(void **state)
{
    struct tu_fixture *c = *state;
    fbus_format small;

    assert_int_equal(fbus_format_init(&small, "rgb24", 30, 16, 0), 0);
    assert_true(small.size <= c->fmt.size);
    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 3);
        fbus_reader *r = open_reader(c, tu_transports[t], FBUS_POLICY_LOSSLESS, 0);
        uint64_t session = fbus_writer_session(w);
        fbus_frame fr;
        fbus_stats st;

        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(tu_publish(w, &small, 0, NULL), 0);
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_writer_session(w), session);
        for (uint64_t seq = 1; seq <= 3; seq++) {
            assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
            assert_int_equal(fr.seq, seq);
            assert_int_equal(fr.session, session);
            assert_memory_equal(&fr.format, seq == 2 ? &small : &c->fmt, sizeof(small));
            assert_true(tu_verify(&fr, seq));
            assert_int_equal(fr.flags & FBUS_FRAME_NEW_SESSION,
                             seq == 1 ? FBUS_FRAME_NEW_SESSION : 0);
            assert_int_equal(fbus_reader_release(r, &fr), 0);
        }
        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), 0);
        assert_memory_equal(&st.format, &c->fmt, sizeof(c->fmt));
        fbus_reader_close(r);
        fbus_writer_close(w);
    }
}

/* One frame published from another thread. */
struct bg_publish {
    fbus_writer *w;
    const fbus_format *fmt;
    uint64_t seq;
    int rc;
};

static void *publish_main(void *arg)
{
    struct bg_publish *b = arg;

    b->rc = tu_publish(b->w, b->fmt, 10 * TU_SEC, &b->seq);
    return NULL;
}

static void test_format_change_replaces(void **state)
{
    struct tu_fixture *c = *state;
    fbus_format big;

    assert_int_equal(fbus_format_init(&big, "rgb24", 640, 480, 0), 0);
    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 3);
        fbus_reader *lat = open_reader(c, tu_transports[t], FBUS_POLICY_LATEST, 0);
        fbus_reader *los = open_reader(c, tu_transports[t], FBUS_POLICY_LOSSLESS, 0);
        fbus_reader *obs =
            open_reader(c, tu_transports[t], FBUS_POLICY_LATEST, FBUS_READER_OBSERVER);
        uint64_t old_session = fbus_writer_session(w), old_size, seq = 0, session = 0;
        struct bg_publish bp = {0};
        pthread_t pub;
        fbus_stats st;
        fbus_frame fr;
        int rc;

        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), 0);
        old_size = st.region_size;
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        take(lat, 1, 0);
        take(los, 1, 0);
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);

        /* A frame that does not fit: the writer moves to a new region, and
         * holds that frame back a moment for the readers to follow. It
         * runs in a thread, so the readers here can follow meanwhile. */
        bp.w = w;
        bp.fmt = &big;
        assert_int_equal(pthread_create(&pub, NULL, publish_main, &bp), 0);
        alarm(30);
        /* The lossless reader first drains the old region, then learns the
         * producer moved. */
        take(los, 2, 0);
        assert_int_equal(fbus_reader_acquire(los, 5 * TU_SEC, &fr), FBUS_EREPLACED);
        assert_int_equal(fbus_reader_attached(los), 0);
        /* The latest reader may see frame 2 first; then EREPLACED. */
        rc = fbus_reader_acquire(lat, 5 * TU_SEC, &fr);
        if (rc == 0) {
            assert_int_equal(fr.seq, 2);
            assert_int_equal(fbus_reader_release(lat, &fr), 0);
            rc = fbus_reader_acquire(lat, 5 * TU_SEC, &fr);
        }
        assert_int_equal(rc, FBUS_EREPLACED);
        /* Both follow to the new region: the big frame is the first there,
         * and the lossless reader must not miss it. */
        for (int k = 0; k < 2; k++) {
            fbus_reader *r = k ? lat : los;
            rc = fbus_reader_acquire(r, 5 * TU_SEC, &fr);
            if (rc != 0)
                fail_msg("%s reader after the move: %d (%s)", k ? "latest" : "lossless", rc,
                         fbus_strerror(rc));
            assert_true(fr.flags & FBUS_FRAME_NEW_SESSION);
            assert_memory_equal(&fr.format, &big, sizeof(big));
            assert_true(tu_verify(&fr, fr.seq));
            seq = fr.seq;
            session = fr.session;
            assert_int_equal(fbus_reader_release(r, &fr), 0);
        }
        assert_int_equal(pthread_join(pub, NULL), 0);
        /* An observer follows too: frame 2 perhaps, the move, the big frame. */
        rc = fbus_reader_acquire(obs, 5 * TU_SEC, &fr);
        if (rc == 0) {
            assert_int_equal(fr.seq, 2);
            assert_int_equal(fbus_reader_release(obs, &fr), 0);
            rc = fbus_reader_acquire(obs, 5 * TU_SEC, &fr);
        }
        assert_int_equal(rc, FBUS_EREPLACED);
        assert_int_equal(fbus_reader_acquire(obs, 5 * TU_SEC, &fr), 0);
        assert_true(fr.flags & FBUS_FRAME_NEW_SESSION);
        assert_int_equal(fr.seq, seq);
        assert_memory_equal(&fr.format, &big, sizeof(big));
        assert_true(tu_verify(&fr, seq));
        assert_int_equal(fbus_reader_release(obs, &fr), 0);
        fbus_reader_close(obs);
        alarm(0);
        assert_int_equal(bp.rc, 0);
        assert_int_equal(bp.seq, seq);
        assert_true(fbus_writer_session(w) != old_session);
        assert_int_equal(session, fbus_writer_session(w));
        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), 0);
        assert_int_equal(st.session, fbus_writer_session(w));
        assert_true(st.region_size > old_size);
        assert_true(st.slot_size >= big.size);
        assert_int_equal(st.state, FBUS_STATE_LIVE);

        /* Both are registered in the new region and the stream goes on. */
        assert_int_equal(fbus_writer_readers(w), 2);
        assert_int_equal(tu_publish(w, &big, TU_SEC, &seq), 0);
        take(los, seq, 0);
        take(lat, seq, 0);
        fbus_reader_close(lat);
        fbus_reader_close(los);
        fbus_writer_close(w);
    }
}

static void test_end_of_stream(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 3);
        fbus_reader *los = open_reader(c, tu_transports[t], FBUS_POLICY_LOSSLESS, 0);
        fbus_reader *lat = open_reader(c, tu_transports[t], FBUS_POLICY_LATEST, 0);
        fbus_frame fr;
        int rc, i;

        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        fbus_writer_close(w);

        /* Lossless: every published frame, then the end. */
        alarm(20);
        take(los, 1, 0);
        take(los, 2, 0);
        assert_int_equal(fbus_reader_acquire(los, 2 * TU_SEC, &fr), FBUS_EENDED);
        assert_int_equal(fbus_reader_attached(los), 0);
        /* Latest: at most the newest frame, then the end. */
        for (i = 0; i < 3; i++) {
            rc = fbus_reader_acquire(lat, 2 * TU_SEC, &fr);
            if (rc != 0)
                break;
            assert_int_equal(fr.seq, 2);
            assert_int_equal(fbus_reader_release(lat, &fr), 0);
        }
        assert_int_equal(rc, FBUS_EENDED);
        assert_true(i <= 1);

        /* Detached readers wait for a new producer by the same name... */
        assert_int_equal(fbus_reader_acquire(los, 0, &fr), -EAGAIN);
        assert_int_equal(fbus_reader_acquire(los, 30 * TU_MS, &fr), -ETIMEDOUT);
        w = open_writer(c, tu_transports[t], 3);
        /* ...attach to it on their next call... */
        assert_int_equal(fbus_reader_acquire(los, 0, &fr), -EAGAIN);
        assert_int_equal(fbus_reader_attached(los), 1);
        assert_int_equal(fbus_reader_acquire(lat, 0, &fr), -EAGAIN);
        assert_int_equal(fbus_reader_attached(lat), 1);
        assert_int_equal(fbus_writer_readers(w), 2);
        /* ...and get its frames from the first one. */
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_reader_acquire(los, 2 * TU_SEC, &fr), 0);
        assert_int_equal(fr.seq, 1);
        assert_int_equal(fr.session, fbus_writer_session(w));
        assert_true(fr.flags & FBUS_FRAME_NEW_SESSION);
        assert_true(tu_verify(&fr, 1));
        assert_int_equal(fbus_reader_release(los, &fr), 0);
        assert_int_equal(fbus_reader_attached(los), 1);
        assert_int_equal(fbus_reader_acquire(lat, 2 * TU_SEC, &fr), 0);
        assert_true(fr.flags & FBUS_FRAME_NEW_SESSION);
        assert_int_equal(fbus_reader_release(lat, &fr), 0);
        alarm(0);
        fbus_reader_close(los);
        fbus_reader_close(lat);
        fbus_writer_close(w);
    }
}

/* A frame held while its writer closes stays readable and intact: the
 * reader's mapping outlives the writer and the name. */
static void test_held_across_close(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 3);
        fbus_reader *r[2];
        fbus_frame fr[2];

        for (int k = 0; k < 2; k++)
            r[k] =
                open_reader(c, tu_transports[t], k ? FBUS_POLICY_LOSSLESS : FBUS_POLICY_LATEST, 0);
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        for (int k = 0; k < 2; k++)
            assert_int_equal(fbus_reader_acquire(r[k], TU_SEC, &fr[k]), 0);
        fbus_writer_close(w);
        for (int k = 0; k < 2; k++) {
            assert_true(tu_verify(&fr[k], 1));
            assert_int_equal(fbus_reader_release(r[k], &fr[k]), 0);
            assert_int_equal(fbus_reader_acquire(r[k], TU_SEC, &fr[k]), FBUS_EENDED);
            fbus_reader_close(r[k]);
        }
    }
}

/* A frame held while the writer moves to a new region stays intact: the
 * old region is never written again. */
static void test_held_across_move(void **state)
{
    struct tu_fixture *c = *state;
    fbus_format big;

    assert_int_equal(fbus_format_init(&big, "rgb24", 320, 240, 0), 0);
    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 3);
        fbus_reader *r = open_reader(c, tu_transports[t], FBUS_POLICY_LATEST, 0);
        fbus_frame fr;
        uint64_t seq;

        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
        alarm(30);
        for (int i = 0; i < 5; i++)
            assert_int_equal(tu_publish(w, &big, 10 * TU_SEC, &seq), 0);
        assert_true(tu_verify(&fr, 1));
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        assert_int_equal(fbus_reader_acquire(r, 5 * TU_SEC, &fr), FBUS_EREPLACED);
        assert_int_equal(fbus_reader_acquire(r, 5 * TU_SEC, &fr), 0);
        alarm(0);
        assert_int_equal(fr.seq, seq);
        assert_true(fr.flags & FBUS_FRAME_NEW_SESSION);
        assert_true(tu_verify(&fr, seq));
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        fbus_reader_close(r);
        fbus_writer_close(w);
    }
}

static void *publish_later_main(void *arg)
{
    struct bg_publish *b = arg;

    tu_sleep_ms(100);
    b->rc = tu_publish(b->w, b->fmt, 10 * TU_SEC, &b->seq);
    return NULL;
}

struct bg_take {
    fbus_reader *r;
    uint64_t seq;
    int rc;
};

static void *take_later_main(void *arg)
{
    struct bg_take *b = arg;
    fbus_frame fr;

    tu_sleep_ms(100);
    b->rc = fbus_reader_acquire(b->r, 10 * TU_SEC, &fr);
    if (b->rc == 0) {
        b->seq = fr.seq;
        b->rc = fbus_reader_release(b->r, &fr);
    }
    return NULL;
}

/* A negative timeout waits as long as it takes, on both sides. */
static void test_wait_forever(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 2);
        fbus_reader *r = open_reader(c, tu_transports[t], FBUS_POLICY_LOSSLESS, 0);
        struct bg_publish bp = {.w = w, .fmt = &c->fmt};
        struct bg_take bt = {.r = r};
        pthread_t th;
        fbus_frame fr;
        fbus_slot s;

        alarm(30);
        /* The reader waits for a frame published later. */
        assert_int_equal(pthread_create(&th, NULL, publish_later_main, &bp), 0);
        assert_int_equal(fbus_reader_acquire(r, -1, &fr), 0);
        assert_int_equal(fr.seq, 1);
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(bp.rc, 0);
        /* The writer waits for a lossless reader that takes a frame later. */
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_writer_acquire(w, &c->fmt, 0, &s), -EAGAIN);
        assert_int_equal(pthread_create(&th, NULL, take_later_main, &bt), 0);
        assert_int_equal(fbus_writer_acquire(w, &c->fmt, -1, &s), 0);
        fbus_writer_cancel(w, &s);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(bt.rc, 0);
        assert_int_equal(bt.seq, 2);
        alarm(0);
        fbus_reader_close(r);
        fbus_writer_close(w);
    }
}

static volatile sig_atomic_t ticks;

static void on_tick(int sig)
{
    (void)sig;
    ticks++;
}

/* Signals (a handler without SA_RESTART, firing every 5 ms) do not cut a
 * bounded wait short: it still ends by its timeout, not with -EINTR. */
static void test_signals_do_not_cut_waits(void **state)
{
    struct tu_fixture *c = *state;
    struct sigaction sa, old;
    struct itimerval it = {{0, 5000}, {0, 5000}}, off = {{0, 0}, {0, 0}};

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_tick;
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 2);
        fbus_reader *r = open_reader(c, tu_transports[t], FBUS_POLICY_LOSSLESS, 0);
        fbus_frame fr;
        fbus_slot s;
        int64_t t0;
        int rc;

        ticks = 0;
        assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
        t0 = tu_now_ns();
        rc = fbus_reader_acquire(r, 200 * TU_MS, &fr);
        assert_int_equal(rc, -ETIMEDOUT);
        assert_true(tu_now_ns() - t0 >= 190 * TU_MS);
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        t0 = tu_now_ns();
        rc = fbus_writer_acquire(w, &c->fmt, 200 * TU_MS, &s);
        assert_int_equal(rc, -ETIMEDOUT);
        assert_true(tu_now_ns() - t0 >= 190 * TU_MS);
        t0 = tu_now_ns();
        assert_int_equal(fbus_writer_wait_readers(w, 2, 200 * TU_MS), -ETIMEDOUT);
        assert_true(tu_now_ns() - t0 >= 190 * TU_MS);
        assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
        assert_true(ticks > 10);
        fbus_reader_close(r);
        fbus_writer_close(w);
    }
    assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
}

struct pipe_writer_arg {
    const struct tu_fixture *c;
    fbus_transport t;
    int frames;
};

static int child_pipe_writer(void *arg)
{
    const struct pipe_writer_arg *a = arg;
    fbus_writer_opts o = {.transport = a->t, .slots = 3, .format = &a->c->fmt};
    fbus_writer *w = NULL;
    int rc;

    rc = fbus_writer_open(a->c->name, &o, &w);
    if (rc != 0) {
        fprintf(stderr, "child writer: open: %s\n", fbus_strerror(rc));
        return 2;
    }
    rc = fbus_writer_wait_readers(w, 1, 10 * TU_SEC);
    if (rc != 0) {
        fprintf(stderr, "child writer: wait_readers: %s\n", fbus_strerror(rc));
        return 3;
    }
    for (int i = 0; i < a->frames; i++) {
        rc = tu_publish(w, &a->c->fmt, 10 * TU_SEC, NULL);
        if (rc != 0) {
            fprintf(stderr, "child writer: frame %d: %s\n", i + 1, fbus_strerror(rc));
            return 4;
        }
    }
    fbus_writer_close(w);
    return 0;
}

/* A lossless reader started before its producer, with a producer that waits
 * for one reader, loses no frame (like `framebus cat` before the producer). */
static void test_reader_first(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        struct pipe_writer_arg a = {c, tu_transports[t], 200};
        fbus_reader *r = open_reader(c, tu_transports[t], FBUS_POLICY_LOSSLESS, FBUS_READER_WAIT);
        fbus_frame fr;
        pid_t pid;
        int rc;

        assert_int_equal(fbus_reader_attached(r), 0);
        pid = tu_fork(child_pipe_writer, &a, 30);
        assert_true(pid > 0);
        alarm(40);
        for (uint64_t seq = 1; seq <= 200; seq++) {
            rc = fbus_reader_acquire(r, 10 * TU_SEC, &fr);
            if (rc != 0)
                fail_msg("seq %llu: %d (%s)", (unsigned long long)seq, rc, fbus_strerror(rc));
            assert_int_equal(fr.seq, seq);
            assert_int_equal(fr.flags & FBUS_FRAME_NEW_SESSION,
                             seq == 1 ? FBUS_FRAME_NEW_SESSION : 0);
            assert_true(tu_verify(&fr, seq));
            assert_int_equal(fbus_reader_release(r, &fr), 0);
        }
        assert_int_equal(fbus_reader_acquire(r, 10 * TU_SEC, &fr), FBUS_EENDED);
        alarm(0);
        assert_int_equal(tu_wait(pid, 10000), 0);
        fbus_reader_close(r);
    }
}

static const fbus_reader_info *find_reader(const fbus_stats *st, fbus_policy p)
{
    for (uint32_t i = 0; i < st->nb_readers && i < FBUS_MAX_READERS; i++)
        if (st->readers[i].policy == p)
            return &st->readers[i];
    return NULL;
}

static void test_stats(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 4);
        fbus_reader *lat = open_reader(c, tu_transports[t], FBUS_POLICY_LATEST, 0);
        fbus_reader *los = open_reader(c, tu_transports[t], FBUS_POLICY_LOSSLESS, 0);
        fbus_reader *obs =
            open_reader(c, tu_transports[t], FBUS_POLICY_LATEST, FBUS_READER_OBSERVER);
        const fbus_reader_info *li, *si;
        fbus_stats st;
        fbus_slot s;
        fbus_frame fr;

        /* Before the first frame. */
        memset(&st, 0xa5, sizeof(st));
        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), 0);
        assert_string_equal(st.name, c->name);
        assert_int_equal(st.transport, tu_transports[t]);
        assert_int_equal(st.state, FBUS_STATE_LIVE);
        assert_int_equal(st.producer_pid, getpid());
        assert_int_equal(st.uid, geteuid());
        assert_int_equal(st.mode & 0777, 0600);
        assert_int_equal(st.session, fbus_writer_session(w));
        assert_int_equal(st.slots, 4);
        assert_true(st.slot_size >= c->fmt.size);
        assert_true(st.region_size > 4 * st.slot_size);
        assert_int_equal(st.frames, 0);
        assert_int_equal(st.format.nb_planes, 0);
        assert_int_equal(st.last_publish_age_ns, -1);
        assert_true(st.heartbeat_age_ns >= 0 && st.heartbeat_age_ns < 10 * TU_SEC);
        assert_int_equal(st.nb_readers, 2);
        assert_int_equal(st.writer_waits, 0);
        assert_int_equal(st.forced, 0);

        /* 4 frames; the lossless reader takes all, the latest one the last. */
        for (int i = 0; i < 4; i++)
            assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        for (uint64_t seq = 1; seq <= 4; seq++)
            take(los, seq, 0);
        take(lat, 4, ANY);
        take(obs, 4, ANY);
        /* The lossless reader falls behind: the writer waits for it once. */
        for (int i = 0; i < 4; i++)
            assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_writer_acquire(w, &c->fmt, 20 * TU_MS, &s), -ETIMEDOUT);
        take(lat, 8, 3);

        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), 0);
        assert_int_equal(st.frames, 8);
        assert_true(st.writer_waits >= 1);
        assert_int_equal(st.forced, 0);
        assert_memory_equal(&st.format, &c->fmt, sizeof(c->fmt));
        assert_true(st.last_publish_age_ns >= 0 && st.last_publish_age_ns < 10 * TU_SEC);
        assert_int_equal(st.nb_readers, 2);
        li = find_reader(&st, FBUS_POLICY_LATEST);
        si = find_reader(&st, FBUS_POLICY_LOSSLESS);
        assert_non_null(li);
        assert_non_null(si);
        assert_int_equal(li->pid, getpid());
        assert_int_equal(li->frames, 2);
        /* 5, 6, 7; and 1, 2, 3 if missing them before the first counts. */
        assert_true(li->drops == 3 || li->drops == 6);
        assert_int_equal(li->overruns, 0);
        assert_int_equal(li->lag, 0);
        assert_true(li->alive);
        assert_int_equal(si->pid, getpid());
        assert_int_equal(si->frames, 4);
        assert_int_equal(si->drops, 0);
        assert_int_equal(si->overruns, 0);
        assert_int_equal(si->lag, 4);
        assert_true(si->alive);
        assert_true(si->idle_ns >= 0);

        /* A reader that leaves is gone from the table. */
        fbus_reader_close(lat);
        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), 0);
        assert_int_equal(st.nb_readers, 1);
        assert_int_equal(st.readers[0].policy, FBUS_POLICY_LOSSLESS);
        assert_int_equal(fbus_reader_acquire(los, 0, &fr), 0);
        assert_int_equal(fbus_reader_release(los, &fr), 0);
        fbus_reader_close(los);
        fbus_reader_close(obs);
        fbus_writer_close(w);
    }
}

/* ------------------------------------------------------- multi-process */

struct result {
    uint64_t frames; /* acquired */
    uint64_t first, last;
    uint64_t overruns; /* releases with FBUS_EOVERRUN */
    uint64_t torn;     /* frames whose bytes did not match (all with overrun) */
    uint64_t dropped;  /* sum of frame.dropped */
    int end;           /* the code that ended the stream */
};

struct stress {
    const struct tu_fixture *c;
    fbus_transport t;
    uint32_t slots;
    int readers; /* the writer waits for this many */
    uint64_t frames;
    int writer_poll; /* the writer acquires with timeout 0 and must not fail */
    fbus_policy policy;
    int observer; /* reader: FBUS_READER_OBSERVER; opens the gate once attached */
    int gate_fd;  /* writer: read a byte here first; observer: write it; -1: none */
    int result_fd;
};

#define CHILD_FAIL(code, ...)                                                                      \
    do {                                                                                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        return (code);                                                                             \
    } while (0)

static int child_stress_writer(void *arg)
{
    const struct stress *s = arg;
    fbus_writer_opts o = {.transport = s->t, .slots = s->slots, .format = &s->c->fmt};
    fbus_writer *w = NULL;
    int rc;

    rc = fbus_writer_open(s->c->name, &o, &w);
    if (rc != 0)
        CHILD_FAIL(2, "writer: open: %s", fbus_strerror(rc));
    rc = fbus_writer_wait_readers(w, s->readers, 20 * TU_SEC);
    if (rc != 0)
        CHILD_FAIL(3, "writer: wait for %d readers: %s", s->readers, fbus_strerror(rc));
    if (s->gate_fd >= 0) {
        char byte;
        if (tu_recv(s->gate_fd, &byte, 1, 20000) != 0)
            CHILD_FAIL(3, "writer: the observer never attached");
    }
    for (uint64_t i = 1; i <= s->frames; i++) {
        fbus_slot slot;

        rc = fbus_writer_acquire(w, &s->c->fmt, s->writer_poll ? 0 : 10 * TU_SEC, &slot);
        if (rc != 0)
            CHILD_FAIL(4, "writer: acquire frame %llu: %s (%s)", (unsigned long long)i,
                       fbus_strerror(rc), s->writer_poll ? "latest readers only" : "waiting");
        if (slot.seq != i)
            CHILD_FAIL(5, "writer: slot seq %llu, expected %llu", (unsigned long long)slot.seq,
                       (unsigned long long)i);
        tu_fill(&slot, slot.seq);
        rc = fbus_writer_publish(w, &slot, NULL);
        if (rc != 0)
            CHILD_FAIL(6, "writer: publish: %s", fbus_strerror(rc));
    }
    fbus_writer_close(w);
    return 0;
}

static int child_stress_reader(void *arg)
{
    const struct stress *s = arg;
    fbus_reader_opts o = {.transport = s->t,
                          .policy = s->policy,
                          .flags = FBUS_READER_WAIT,
                          .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
    const char *who = s->policy == FBUS_POLICY_LOSSLESS ? "lossless" : "latest";
    struct result res = {0};
    fbus_reader *r = NULL;
    uint64_t session = 0;
    int rc;

    if (s->observer) {
        o.flags |= FBUS_READER_OBSERVER;
        who = "observer";
    }
    rc = fbus_reader_open(s->c->name, &o, &r);
    if (rc != 0)
        CHILD_FAIL(2, "%s reader: open: %s", who, fbus_strerror(rc));
    if (s->observer) {
        /* Observers are not counted by the writer: tell it we are here. */
        int64_t deadline = tu_now_ns() + 20 * TU_SEC;
        char byte = 1;
        fbus_frame fr;

        while (!fbus_reader_attached(r) && tu_now_ns() < deadline) {
            rc = fbus_reader_acquire(r, 0, &fr);
            if (rc != -EAGAIN)
                CHILD_FAIL(2, "observer: attach: %s", fbus_strerror(rc));
            tu_sleep_ms(2);
        }
        if (tu_send(s->gate_fd, &byte, 1) != 0)
            return 2;
    }
    for (;;) {
        fbus_frame fr;
        int intact;

        rc = fbus_reader_acquire(r, 10 * TU_SEC, &fr);
        if (rc != 0) {
            res.end = rc;
            break;
        }
        if (res.frames == 0) {
            session = fr.session;
            res.first = fr.seq;
            if (!(fr.flags & FBUS_FRAME_NEW_SESSION))
                CHILD_FAIL(3, "%s reader: first frame without NEW_SESSION", who);
        } else {
            if (fr.session != session)
                CHILD_FAIL(4, "%s reader: session changed mid-stream", who);
            if (fr.flags & FBUS_FRAME_NEW_SESSION)
                CHILD_FAIL(4, "%s reader: NEW_SESSION mid-stream", who);
            if (s->policy == FBUS_POLICY_LOSSLESS && fr.seq != res.last + 1)
                CHILD_FAIL(5, "lossless reader: seq %llu after %llu", (unsigned long long)fr.seq,
                           (unsigned long long)res.last);
            if (fr.seq <= res.last)
                CHILD_FAIL(6, "latest reader: seq %llu after %llu (backwards)",
                           (unsigned long long)fr.seq, (unsigned long long)res.last);
            if (fr.dropped != fr.seq - res.last - 1)
                CHILD_FAIL(7, "%s reader: seq %llu after %llu says dropped %llu", who,
                           (unsigned long long)fr.seq, (unsigned long long)res.last,
                           (unsigned long long)fr.dropped);
        }
        if (memcmp(&fr.format, &s->c->fmt, sizeof(fr.format)) != 0)
            CHILD_FAIL(8, "%s reader: seq %llu has another format", who,
                       (unsigned long long)fr.seq);
        intact = tu_verify(&fr, fr.seq);
        rc = fbus_reader_release(r, &fr);
        if (rc == FBUS_EOVERRUN) {
            res.overruns++;
        } else if (rc != 0) {
            CHILD_FAIL(9, "%s reader: release: %s", who, fbus_strerror(rc));
        } else if (!intact) {
            CHILD_FAIL(10, "%s reader: seq %llu torn without FBUS_EOVERRUN", who,
                       (unsigned long long)fr.seq);
        }
        if (!intact)
            res.torn++;
        res.frames++;
        res.dropped += fr.dropped;
        res.last = fr.seq;
    }
    fbus_reader_close(r);
    if (tu_send(s->result_fd, &res, sizeof(res)) != 0)
        return 11;
    return 0;
}

/* Run 1 writer and the given readers as processes; collect the results. The
 * last `observers` readers are observers. */
static void run_stress(struct stress *base, const fbus_policy *policies, int n, int observers,
                       struct result *res)
{
    pid_t readers[8], writer;
    int fds[8][2], gate[2] = {-1, -1};
    struct stress rs[8], ws = *base;

    ws.readers = n - observers;
    ws.gate_fd = -1;
    if (observers) {
        assert_int_equal(observers, 1);
        assert_int_equal(pipe(gate), 0);
        ws.gate_fd = gate[0];
    }
    for (int i = 0; i < n; i++) {
        assert_int_equal(pipe(fds[i]), 0);
        rs[i] = *base;
        rs[i].policy = policies[i];
        rs[i].observer = i >= n - observers;
        rs[i].gate_fd = rs[i].observer ? gate[1] : -1;
        rs[i].result_fd = fds[i][1];
        readers[i] = tu_fork(child_stress_reader, &rs[i], 100);
        assert_true(readers[i] > 0);
    }
    writer = tu_fork(child_stress_writer, &ws, 100);
    assert_true(writer > 0);
    assert_int_equal(tu_wait(writer, 110000), 0);
    for (int i = 0; i < n; i++) {
        int rc = tu_wait(readers[i], 30000);
        if (rc != 0)
            fail_msg("reader %d (%s) exited with %d", i,
                     policies[i] == FBUS_POLICY_LOSSLESS ? "lossless" : "latest", rc);
        assert_int_equal(tu_recv(fds[i][0], &res[i], sizeof(res[i]), 1000), 0);
        close(fds[i][0]);
        close(fds[i][1]);
    }
    if (observers) {
        close(gate[0]);
        close(gate[1]);
    }
}

static void test_stress_mixed(void **state)
{
    static const fbus_policy policies[4] = {FBUS_POLICY_LATEST, FBUS_POLICY_LOSSLESS,
                                            FBUS_POLICY_LATEST, FBUS_POLICY_LOSSLESS};
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        /* slots >= readers + 2: no frame can be torn at all. */
        struct stress s = {.c = c, .t = tu_transports[t], .slots = 6, .frames = STRESS_FRAMES};
        struct result res[4];
        int64_t t0 = tu_now_ns();

        run_stress(&s, policies, 4, 0, res);
        for (int i = 0; i < 4; i++)
            print_message("%s %s reader: %llu frames, last %llu, %llu dropped, %llu overruns, "
                          "%llu torn\n",
                          tu_transport_name(s.t),
                          policies[i] == FBUS_POLICY_LOSSLESS ? "lossless" : "latest",
                          (unsigned long long)res[i].frames, (unsigned long long)res[i].last,
                          (unsigned long long)res[i].dropped, (unsigned long long)res[i].overruns,
                          (unsigned long long)res[i].torn);
        for (int i = 0; i < 4; i++) {
            assert_int_equal(res[i].end, FBUS_EENDED);
            assert_int_equal(res[i].overruns, 0);
            assert_int_equal(res[i].torn, 0);
            assert_true(res[i].last <= s.frames);
            if (policies[i] == FBUS_POLICY_LOSSLESS) {
                assert_int_equal(res[i].frames, s.frames);
                assert_int_equal(res[i].first, 1);
                assert_int_equal(res[i].last, s.frames);
                assert_int_equal(res[i].dropped, 0);
            } else {
                assert_true(res[i].frames >= 1);
            }
        }
        print_message("%s: %llu frames in %.2f s\n", tu_transport_name(s.t),
                      (unsigned long long)s.frames, (double)(tu_now_ns() - t0) / 1e9);
        tu_bus_cleanup(c->name);
    }
}

static void test_stress_latest_only(void **state)
{
    static const fbus_policy policies[3] = {FBUS_POLICY_LATEST, FBUS_POLICY_LATEST,
                                            FBUS_POLICY_LATEST};
    /* Observers take no pin, so the writer overwrites what they read at
     * will: the protocol still owes them FBUS_EOVERRUN for every torn frame.
     * Such reads race by design, which ThreadSanitizer would report. */
    const int observers = TU_TSAN ? 0 : 1;
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        /* 2 slots for 2 readers: the writer must reuse pinned slots, never
         * wait; readers must learn of every torn frame. */
        struct stress s = {.c = c,
                           .t = tu_transports[t],
                           .slots = 2,
                           .frames = STRESS_FRAMES / 2,
                           .writer_poll = 1};
        struct result res[3];

        run_stress(&s, policies, 2 + observers, observers, res);
        for (int i = 0; i < 2 + observers; i++) {
            print_message("%s %s on 2 slots: %llu frames, %llu overruns (%llu torn)\n",
                          tu_transport_name(s.t), i < 2 ? "latest reader" : "observer",
                          (unsigned long long)res[i].frames, (unsigned long long)res[i].overruns,
                          (unsigned long long)res[i].torn);
            assert_int_equal(res[i].end, FBUS_EENDED);
            assert_true(res[i].torn <= res[i].overruns);
            assert_true(res[i].frames >= 1);
        }
        tu_bus_cleanup(c->name);
    }
}

/* -------------------------------------------- format moves, across processes */

#define MOVE_STEPS  5
#define MOVE_FRAMES 3000

/* Frame g (1-based, across regions) is gray, 32 pixels bigger a side every
 * `per` frames: each step no longer fits the slots, so the writer moves. */
static void move_format(uint64_t g, uint64_t per, fbus_format *f)
{
    uint32_t side = 32 + 32 * (uint32_t)((g - 1) / per);

    fbus_format_init(f, "gray", side, side, 0);
}

struct moves {
    const struct tu_fixture *c;
    fbus_transport t;
    fbus_policy policy;
    int result_fd;
};

struct move_result {
    uint64_t frames, last, sessions, replaced;
    int end;
};

static int child_moving_writer(void *arg)
{
    const struct moves *m = arg;
    const uint64_t per = MOVE_FRAMES / MOVE_STEPS;
    fbus_format f;
    fbus_writer_opts o = {.transport = m->t, .slots = 4, .format = &f};
    fbus_writer *w = NULL;
    int rc;

    move_format(1, per, &f);
    rc = fbus_writer_open(m->c->name, &o, &w);
    if (rc != 0)
        CHILD_FAIL(2, "moving writer: open: %s", fbus_strerror(rc));
    rc = fbus_writer_wait_readers(w, 2, 20 * TU_SEC);
    if (rc != 0)
        CHILD_FAIL(3, "moving writer: wait for readers: %s", fbus_strerror(rc));
    for (uint64_t g = 1; g <= MOVE_FRAMES; g++) {
        fbus_meta meta = {.pts = (int64_t)g, .tb_num = 1, .tb_den = 25};
        fbus_slot slot;

        move_format(g, per, &f);
        rc = fbus_writer_acquire(w, &f, 10 * TU_SEC, &slot);
        if (rc != 0)
            CHILD_FAIL(4, "moving writer: acquire %llu: %s", (unsigned long long)g,
                       fbus_strerror(rc));
        tu_fill(&slot, g);
        rc = fbus_writer_publish(w, &slot, &meta);
        if (rc != 0)
            CHILD_FAIL(5, "moving writer: publish: %s", fbus_strerror(rc));
    }
    fbus_writer_close(w);
    return 0;
}

static int child_moving_reader(void *arg)
{
    const struct moves *m = arg;
    const uint64_t per = MOVE_FRAMES / MOVE_STEPS;
    const int lossless = m->policy == FBUS_POLICY_LOSSLESS;
    const char *who = lossless ? "lossless" : "latest";
    fbus_reader_opts o = {.transport = m->t,
                          .policy = m->policy,
                          .flags = FBUS_READER_WAIT,
                          .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
    struct move_result res = {0};
    fbus_reader *r = NULL;
    uint64_t session = 0;
    int rc;

    rc = fbus_reader_open(m->c->name, &o, &r);
    if (rc != 0)
        CHILD_FAIL(2, "%s reader: open: %s", who, fbus_strerror(rc));
    for (;;) {
        fbus_format want;
        fbus_frame fr;
        uint64_t g;
        int intact, fresh;

        rc = fbus_reader_acquire(r, 10 * TU_SEC, &fr);
        if (rc == FBUS_EREPLACED) {
            res.replaced++;
            continue;
        }
        if (rc != 0) {
            res.end = rc;
            break;
        }
        g = (uint64_t)fr.pts;
        fresh = (fr.flags & FBUS_FRAME_NEW_SESSION) != 0;
        if (fresh != (fr.session != session))
            CHILD_FAIL(3, "%s reader: frame %llu: NEW_SESSION %d but session %s", who,
                       (unsigned long long)g, fresh, fr.session != session ? "new" : "same");
        if (lossless && g != res.last + 1)
            CHILD_FAIL(4, "lossless reader: frame %llu after %llu", (unsigned long long)g,
                       (unsigned long long)res.last);
        if (g <= res.last)
            CHILD_FAIL(5, "latest reader: frame %llu after %llu", (unsigned long long)g,
                       (unsigned long long)res.last);
        if (lossless && fresh != ((g - 1) % per == 0))
            CHILD_FAIL(6, "lossless reader: frame %llu %s a new session", (unsigned long long)g,
                       fresh ? "starts" : "does not start");
        move_format(g, per, &want);
        if (memcmp(&fr.format, &want, sizeof(want)) != 0)
            CHILD_FAIL(7, "%s reader: frame %llu is %ux%u", who, (unsigned long long)g,
                       fr.format.width, fr.format.height);
        intact = tu_verify(&fr, g);
        rc = fbus_reader_release(r, &fr);
        if (rc != 0 || !intact)
            CHILD_FAIL(8, "%s reader: frame %llu %s, release %s", who, (unsigned long long)g,
                       intact ? "intact" : "torn", fbus_strerror(rc));
        session = fr.session;
        res.sessions += fresh;
        res.frames++;
        res.last = g;
    }
    fbus_reader_close(r);
    return tu_send(m->result_fd, &res, sizeof(res)) ? 9 : 0;
}

/* A stream whose frames outgrow the slots again and again: every move makes
 * a new region; readers in other processes follow each one, and the
 * lossless one still gets every frame exactly once, in order. */
static void test_stress_format_moves(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        struct moves mr[2], mw = {.c = c, .t = tu_transports[t]};
        struct move_result res[2];
        pid_t readers[2], writer;
        int fds[2][2];

        for (int k = 0; k < 2; k++) {
            assert_int_equal(pipe(fds[k]), 0);
            mr[k] = (struct moves){c, tu_transports[t],
                                   k ? FBUS_POLICY_LATEST : FBUS_POLICY_LOSSLESS, fds[k][1]};
            readers[k] = tu_fork(child_moving_reader, &mr[k], 60);
            assert_true(readers[k] > 0);
        }
        writer = tu_fork(child_moving_writer, &mw, 60);
        assert_true(writer > 0);
        assert_int_equal(tu_wait(writer, 70000), 0);
        for (int k = 0; k < 2; k++) {
            assert_int_equal(tu_wait(readers[k], 30000), 0);
            assert_int_equal(tu_recv(fds[k][0], &res[k], sizeof(res[k]), 1000), 0);
            close(fds[k][0]);
            close(fds[k][1]);
            print_message("%s %s reader: %llu frames, %llu sessions, %llu EREPLACED\n",
                          tu_transport_name(tu_transports[t]), k ? "latest" : "lossless",
                          (unsigned long long)res[k].frames, (unsigned long long)res[k].sessions,
                          (unsigned long long)res[k].replaced);
            assert_int_equal(res[k].end, FBUS_EENDED);
            assert_true(res[k].replaced <= MOVE_STEPS - 1);
        }
        assert_int_equal(res[0].frames, MOVE_FRAMES);
        assert_int_equal(res[0].last, MOVE_FRAMES);
        assert_int_equal(res[0].sessions, MOVE_STEPS);
        assert_int_equal(res[0].replaced, MOVE_STEPS - 1);
        assert_true(res[1].frames >= 1);
        tu_bus_cleanup(c->name);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_latest_basic),
        T(test_lossless_interleaved),
        T(test_large_frames),
        T(test_lossless_joins_midstream),
        T(test_pins_hold),
        T(test_overrun),
        T(test_no_forced_reuse_with_enough_slots),
        T(test_close_releases),
        T(test_format_change_fits),
        T(test_format_change_replaces),
        T(test_end_of_stream),
        T(test_held_across_close),
        T(test_held_across_move),
        T(test_wait_forever),
        T(test_signals_do_not_cut_waits),
        T(test_reader_first),
        T(test_stats),
        T(test_stress_mixed),
        T(test_stress_latest_only),
        T(test_stress_format_moves),
    };
#undef T

    /* FBUS_TEST_FILTER=test_name runs one test (cmocka pattern). */
    if (getenv("FBUS_TEST_FILTER"))
        cmocka_set_test_filter(getenv("FBUS_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
