/* SPDX-License-Identifier: MIT */
/*
 * Start order must not matter to a lossless reader: one that waits for a
 * name before its writer makes it visible gets frame 1 and every later frame,
 * then the end, on both transports, for any stream length and number of
 * readers, and again from frame 1 after a writer restart. Real processes:
 * readers and writers are forked children; a reader SIGKILLed or stopped
 * while reserved holds a writer no longer than the bound.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

/* What a reader child is to check. */
struct job {
    char name[FBUS_NAME_MAX + 1];
    fbus_transport t;
    fbus_format fmt;
    int frames;   /* frames in each session */
    int sessions; /* writer sessions to follow */
    int ready_fd; /* a byte once the reader is open */
    int delay_ms; /* writer: sleep before opening */
};

/* Reader child: every frame of every session, in order, bit-exact, with no
 * drop, then the end. Exit code says what went wrong. */
static int reader_main(void *arg)
{
    const struct job *j = arg;
    fbus_reader_opts ro = {.transport = j->t,
                           .policy = FBUS_POLICY_LOSSLESS,
                           .flags = FBUS_READER_WAIT,
                           .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
    fbus_reader *r = NULL;
    int rc;

    if (fbus_reader_open(j->name, &ro, &r) != 0)
        return 2;
    if (tu_send(j->ready_fd, "r", 1) != 0)
        return 3;
    for (int s = 0; s < j->sessions; s++) {
        for (int i = 1; i <= j->frames; i++) {
            fbus_frame f;
            rc = fbus_reader_acquire(r, 20 * TU_SEC, &f);
            if (rc != 0) {
                fprintf(stderr, "reader: session %d frame %d: %s\n", s, i, fbus_strerror(rc));
                return 4;
            }
            if (f.seq != (uint64_t)i || f.dropped != 0 ||
                (i == 1) != !!(f.flags & FBUS_FRAME_NEW_SESSION)) {
                fprintf(stderr, "reader: session %d: got seq %llu (dropped %llu) for %d\n", s,
                        (unsigned long long)f.seq, (unsigned long long)f.dropped, i);
                return 5;
            }
            if (!tu_verify(&f, f.seq))
                return 6;
            if (fbus_reader_release(r, &f) != 0)
                return 7;
        }
        {
            fbus_frame f;
            rc = fbus_reader_acquire(r, 20 * TU_SEC, &f);
            if (rc != FBUS_EENDED) {
                fprintf(stderr, "reader: session %d: after %d frames: %s (seq %llu)\n", s,
                        j->frames, rc == 0 ? "another frame" : fbus_strerror(rc),
                        rc == 0 ? (unsigned long long)f.seq : 0ULL);
                return 8;
            }
        }
    }
    fbus_reader_close(r);
    return 0;
}

/* Writer child: after the delay, `sessions` times: open, publish the frames
 * at full speed, close. */
static int writer_main(void *arg)
{
    const struct job *j = arg;
    fbus_writer_opts wo = {.transport = j->t, .format = &j->fmt};

    tu_sleep_ms(j->delay_ms);
    for (int s = 0; s < j->sessions; s++) {
        fbus_writer *w = NULL;
        int rc;

        /* A restart right after the close: the name may still be held for
         * a moment by readers the previous session waits for. */
        for (int k = 0; (rc = fbus_writer_open(j->name, &wo, &w)) == FBUS_EBUSY && k < 200; k++)
            tu_sleep_ms(10);
        if (rc != 0) {
            fprintf(stderr, "writer: open: %s\n", fbus_strerror(rc));
            return 2;
        }
        for (int i = 0; i < j->frames; i++) {
            rc = tu_publish(w, &j->fmt, 20 * TU_SEC, NULL);
            if (rc != 0) {
                fprintf(stderr, "writer: publish: %s\n", fbus_strerror(rc));
                return 3;
            }
        }
        fbus_writer_close(w);
    }
    return 0;
}

/* One round: `readers` lossless readers open and wait first, then the writer
 * starts after `delay_ms`. */
static void round_readers_first(fbus_transport t, int frames, int readers, int sessions,
                                int delay_ms)
{
    struct job j;
    pid_t rp[4], wp;
    int ready[2];
    char c;

    assert_true(readers <= 4);
    memset(&j, 0, sizeof(j));
    tu_bus_name(j.name, sizeof(j.name), "order");
    j.t = t;
    j.frames = frames;
    j.sessions = sessions;
    j.delay_ms = delay_ms;
    assert_int_equal(fbus_format_init(&j.fmt, "gray", 64, 48, 0), 0);
    assert_int_equal(pipe(ready), 0);
    j.ready_fd = ready[1];
    for (int i = 0; i < readers; i++) {
        rp[i] = tu_fork(reader_main, &j, 60);
        assert_true(rp[i] > 0);
    }
    for (int i = 0; i < readers; i++)
        assert_int_equal(tu_recv(ready[0], &c, 1, 10000), 0);
    wp = tu_fork(writer_main, &j, 60);
    assert_true(wp > 0);
    for (int i = 0; i < readers; i++) {
        int st = tu_wait(rp[i], 60000);
        if (st != 0)
            fail_msg("%s, %d frames x %d sessions, %d readers, writer after %d ms: reader %d "
                     "exited %d",
                     tu_transport_name(t), frames, sessions, readers, delay_ms, i, st);
    }
    assert_int_equal(tu_wait(wp, 60000), 0);
    close(ready[0]);
    close(ready[1]);
    tu_bus_cleanup(j.name);
}

static void test_reader_first_every_length(void **state)
{
    static const int lengths[] = {1, 3, 20, 1000};

    (void)state;
    for (int t = 0; t < 2; t++)
        for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); l++)
            for (int readers = 1; readers <= 4; readers += 3)
                round_readers_first(tu_transports[t], lengths[l], readers, 1, 0);
}

/* The racy case: the writer starts 0-25 ms after the readers returned from
 * open, while they may still be looking for the name. */
static void test_reader_first_random_delay(void **state)
{
    int rounds = TU_TSAN ? 10 : 50;

    (void)state;
    srand((unsigned)getpid());
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < rounds; i++)
            round_readers_first(tu_transports[t], 1 + rand() % 20, 1 + rand() % 4, 1, rand() % 26);
}

/* Writer restarts: lossless readers that stay attached get every session
 * from its frame 1, short sessions included. */
static void test_writer_restarts(void **state)
{
    (void)state;
    for (int t = 0; t < 2; t++) {
        round_readers_first(tu_transports[t], 3, 2, 5, 0);
        round_readers_first(tu_transports[t], 1, 1, 5, 0);
    }
}

/* Child: open a lossless reader (reserving the name), say so, then stop or
 * wait to be killed, never attaching. */
static int reserver_main(void *arg)
{
    const struct job *j = arg;
    fbus_reader_opts ro = {
        .transport = j->t, .policy = FBUS_POLICY_LOSSLESS, .flags = FBUS_READER_WAIT};
    fbus_reader *r = NULL;

    if (fbus_reader_open(j->name, &ro, &r) != 0)
        return 2;
    if (tu_send(j->ready_fd, "r", 1) != 0)
        return 3;
    for (;;)
        pause();
}

/*
 * A reserved reader that never attaches (stopped) holds the first frame no
 * longer than the bound, and is counted as expired; one that was SIGKILLed
 * holds it not at all (its reservation's lock is free).
 */
static void test_dead_or_stopped_reservation(void **state)
{
    (void)state;
    for (int t = 0; t < 2; t++) {
        fbus_writer_opts wo = {.transport = tu_transports[t],
                               .reserve_timeout_ns = 300 * TU_MS,
                               .flags = FBUS_WRITER_NO_THREAD};
        struct job j;
        fbus_writer *w = NULL;
        fbus_stats st;
        int ready[2];
        int64_t t0, took;
        pid_t p;
        char c;

        memset(&j, 0, sizeof(j));
        tu_bus_name(j.name, sizeof(j.name), "rsv");
        j.t = tu_transports[t];
        assert_int_equal(fbus_format_init(&j.fmt, "gray", 64, 48, 0), 0);
        wo.format = &j.fmt;
        assert_int_equal(pipe(ready), 0);
        j.ready_fd = ready[1];

        /* Stopped: alive, reserved, never registering. */
        p = tu_fork(reserver_main, &j, 30);
        assert_int_equal(tu_recv(ready[0], &c, 1, 10000), 0);
        kill(p, SIGSTOP);
        assert_int_equal(fbus_writer_open(j.name, &wo, &w), 0);
        t0 = tu_now_ns();
        assert_int_equal(tu_publish(w, &j.fmt, 10 * TU_SEC, NULL), 0);
        took = tu_now_ns() - t0;
        assert_true(took >= 250 * TU_MS);
        assert_true(took < 3 * TU_SEC);
        assert_int_equal(fbus_stat(j.name, j.t, &st), 0);
        assert_int_equal(st.reserve_expired, 1);
        /* A caller's shorter timeout wins over the bound, and can retry. */
        fbus_writer_close(w);
        wo.reserve_timeout_ns = 5 * TU_SEC;
        assert_int_equal(fbus_writer_open(j.name, &wo, &w), 0);
        {
            fbus_slot s;
            assert_int_equal(fbus_writer_acquire(w, &j.fmt, 0, &s), -EAGAIN);
            assert_int_equal(fbus_writer_acquire(w, &j.fmt, 100 * TU_MS, &s), -ETIMEDOUT);
        }
        /* Killed: its lock is free, nobody is waited for. */
        kill(p, SIGKILL);
        assert_int_equal(tu_wait(p, 5000), 128 + SIGKILL);
        t0 = tu_now_ns();
        assert_int_equal(tu_publish(w, &j.fmt, 10 * TU_SEC, NULL), 0);
        assert_true(tu_now_ns() - t0 < 1 * TU_SEC);
        fbus_writer_close(w);
        close(ready[0]);
        close(ready[1]);
        tu_bus_cleanup(j.name);
    }
}

/* Writer child for test_stream_over_before_attach: a one-frame stream
 * with a 1 s bound, closed at once. */
static int short_writer_main(void *arg)
{
    const struct job *j = arg;
    fbus_writer_opts wo = {.transport = j->t, .format = &j->fmt, .reserve_timeout_ns = TU_SEC};
    fbus_writer *w = NULL;

    if (fbus_writer_open(j->name, &wo, &w) != 0)
        return 2;
    if (tu_publish(w, &j->fmt, 10 * TU_SEC, NULL) != 0)
        return 3;
    fbus_writer_close(w);
    return 0;
}

/*
 * A stream that came and went before its waiting reader attached (the
 * reader was busy past the bound, the stream is one frame long) is still
 * read, frame and end: the writer keeps the ended stream's name until the
 * reserved reader has registered, within the bound. The reader asks for
 * either transport.
 */
static void test_stream_over_before_attach(void **state)
{
    (void)state;
    for (int t = 0; t < 2; t++) {
        fbus_reader_opts ro = {.transport = FBUS_TRANSPORT_ANY,
                               .policy = FBUS_POLICY_LOSSLESS,
                               .flags = FBUS_READER_WAIT,
                               .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
        struct job j;
        fbus_reader *r = NULL;
        fbus_frame f;
        pid_t p;

        memset(&j, 0, sizeof(j));
        tu_bus_name(j.name, sizeof(j.name), "over");
        j.t = tu_transports[t];
        assert_int_equal(fbus_format_init(&j.fmt, "gray", 32, 32, 0), 0);
        assert_int_equal(fbus_reader_open(j.name, &ro, &r), 0);
        p = tu_fork(short_writer_main, &j, 30);
        assert_true(p > 0);
        /* Busy past the writer's bound: its first frame went out without us
         * and it is closing now, holding the name for us. */
        tu_sleep_ms(1300);
        assert_int_equal(fbus_reader_acquire(r, 5 * TU_SEC, &f), 0);
        assert_int_equal(f.seq, 1);
        assert_int_equal(f.dropped, 0);
        assert_true(f.flags & FBUS_FRAME_NEW_SESSION);
        assert_true(tu_verify(&f, 1));
        assert_int_equal(fbus_reader_release(r, &f), 0);
        assert_int_equal(fbus_reader_acquire(r, 5 * TU_SEC, &f), FBUS_EENDED);
        assert_int_equal(tu_wait(p, 10000), 0);
        /* And the name is gone once the writer is. */
        assert_int_equal(fbus_reader_acquire(r, 0, &f), -EAGAIN);
        fbus_reader_close(r);
        tu_bus_cleanup(j.name);
    }
}

/* A reservation is for the transport its reader waits on: a lossless reader
 * waiting on posix does not hold a SysV writer of the same name, and one
 * waiting on either transport holds both. */
static void test_reservation_transport(void **state)
{
    (void)state;
    for (int any = 0; any < 2; any++) {
        fbus_reader_opts ro = {.transport = any ? FBUS_TRANSPORT_ANY : FBUS_TRANSPORT_POSIX,
                               .policy = FBUS_POLICY_LOSSLESS,
                               .flags = FBUS_READER_WAIT};
        fbus_writer_opts wo = {.transport = FBUS_TRANSPORT_SYSV,
                               .reserve_timeout_ns = 400 * TU_MS,
                               .flags = FBUS_WRITER_NO_THREAD};
        char name[FBUS_NAME_MAX + 1];
        fbus_reader *r = NULL;
        fbus_writer *w = NULL;
        fbus_format fmt;
        fbus_stats st;
        int64_t t0, took;

        tu_bus_name(name, sizeof(name), "rsvt");
        assert_int_equal(fbus_format_init(&fmt, "gray", 32, 32, 0), 0);
        wo.format = &fmt;
        assert_int_equal(fbus_reader_open(name, &ro, &r), 0);
        assert_int_equal(fbus_writer_open(name, &wo, &w), 0);
        t0 = tu_now_ns();
        assert_int_equal(tu_publish(w, &fmt, 5 * TU_SEC, NULL), 0);
        took = tu_now_ns() - t0;
        assert_int_equal(fbus_stat(name, FBUS_TRANSPORT_SYSV, &st), 0);
        if (any) {
            /* Waited for (the reader never looked: the bound ran out). */
            assert_true(took >= 350 * TU_MS);
            assert_int_equal(st.reserve_expired, 1);
        } else {
            assert_true(took < 300 * TU_MS);
            assert_int_equal(st.reserve_expired, 0);
        }
        fbus_reader_close(r);
        fbus_writer_close(w);
        tu_bus_cleanup(name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_first_every_length),
        cmocka_unit_test(test_reader_first_random_delay),
        cmocka_unit_test(test_writer_restarts),
        cmocka_unit_test(test_dead_or_stopped_reservation),
        cmocka_unit_test(test_stream_over_before_attach),
        cmocka_unit_test(test_reservation_transport),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
