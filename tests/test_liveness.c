/* SPDX-License-Identifier: MIT */
/*
 * Liveness across processes, for both transports: a lossless reader killed
 * with SIGKILL while it pins a frame (reaped or still a zombie) stops the
 * writer no longer than the liveness timeout; a dead latest reader's entry
 * is reclaimed; a writer killed mid-stream is reported to its readers as
 * FBUS_EPRODUCERGONE in bounded time, and a new writer under the same name
 * takes the stale region over and is picked up by the same reader handles;
 * a stopped producer is reported gone, an idle one is not; another user's
 * stale region is not taken over.
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
#include <dirent.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#define NOBODY         65534
#define WRITER_TIMEOUT (5 * TU_SEC) /* the liveness bound a blocked writer gets */
#define GONE_BOUND     (5 * TU_SEC) /* readers must learn of a dead producer by then */

static int setup(void **state)
{
    return tu_fixture_setup(state, "live");
}

static int teardown(void **state)
{
    return tu_fixture_teardown(state);
}

#define CHILD_FAIL(code, ...)                                                                      \
    do {                                                                                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        return (code);                                                                             \
    } while (0)

static fbus_writer *open_writer(const struct tu_fixture *c, fbus_transport t, uint32_t slots)
{
    fbus_writer_opts o = {.transport = t, .slots = slots, .format = &c->fmt};
    fbus_writer *w = NULL;
    int rc = fbus_writer_open(c->name, &o, &w);

    if (rc != 0)
        fail_msg("fbus_writer_open(%s) = %d (%s)", tu_transport_name(t), rc, fbus_strerror(rc));
    return w;
}

/* Nothing of bus `name` is left: no object or key file in /dev/shm whose
 * name holds it (temporary names included), no SysV segment naming it. */
static void assert_no_leftovers(const char *name)
{
    DIR *d = opendir("/dev/shm");
    struct dirent *de;
    tu_region reg;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, name))
            fail_msg("left behind: /dev/shm/%s", de->d_name);
    closedir(d);
    assert_int_equal(tu_region_map(name, FBUS_TRANSPORT_SYSV, &reg), -ENOENT);
}

/* ------------------------------------------------------- dead readers */

struct pin_arg {
    const struct tu_fixture *c;
    fbus_transport t;
    fbus_policy policy;
    int to_parent; /* child writes: 'r' registered, then the pinned seq */
};

/* Register, take one frame and hold it until killed. */
static int child_pinning_reader(void *arg)
{
    const struct pin_arg *a = arg;
    fbus_reader_opts o = {.transport = a->t, .policy = a->policy};
    fbus_reader *r = NULL;
    fbus_frame fr;
    char byte = 'r';
    int rc;

    rc = fbus_reader_open(a->c->name, &o, &r);
    if (rc != 0)
        CHILD_FAIL(2, "pinning reader: open: %s", fbus_strerror(rc));
    if (tu_send(a->to_parent, &byte, 1) != 0)
        return 3;
    rc = fbus_reader_acquire(r, 10 * TU_SEC, &fr);
    if (rc != 0)
        CHILD_FAIL(4, "pinning reader: acquire: %s", fbus_strerror(rc));
    if (tu_send(a->to_parent, &fr.seq, sizeof(fr.seq)) != 0)
        return 5;
    for (;;)
        pause(); /* holding the frame until SIGKILL (or the alarm) */
}

/* Start a pinning reader, publish, and wait until it holds frame 1. */
static pid_t start_pinning_reader(const struct tu_fixture *c, fbus_transport t, fbus_policy policy,
                                  fbus_writer *w)
{
    struct pin_arg a = {c, t, policy, -1};
    int fds[2];
    uint64_t seq = 0;
    char byte;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    a.to_parent = fds[1];
    pid = tu_fork(child_pinning_reader, &a, 30);
    assert_true(pid > 0);
    assert_int_equal(tu_recv(fds[0], &byte, 1, 10000), 0);
    assert_int_equal(fbus_writer_wait_readers(w, 1, 5 * TU_SEC), 0);
    assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
    assert_int_equal(tu_recv(fds[0], &seq, sizeof(seq), 10000), 0);
    assert_int_equal(seq, 1);
    close(fds[0]);
    close(fds[1]);
    return pid;
}

static void reader_killed_while_pinning(void **state, int reap_first)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 3);
        fbus_slot s;
        fbus_stats st;
        pid_t pid = start_pinning_reader(c, tu_transports[t], FBUS_POLICY_LOSSLESS, w);
        int64_t t0;
        int rc;

        /* The lossless reader holds 1 and needs 2 and 3: the writer is
         * stuck, as it should be while the reader lives. */
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_writer_acquire(w, &c->fmt, 0, &s), -EAGAIN);
        assert_int_equal(fbus_writer_acquire(w, &c->fmt, 100 * TU_MS, &s), -ETIMEDOUT);
        assert_int_equal(fbus_writer_readers(w), 1);

        assert_int_equal(kill(pid, SIGKILL), 0);
        if (reap_first)
            assert_int_equal(tu_wait(pid, 5000), 128 + SIGKILL);
        /* Dead (or a zombie): the writer goes on within its timeout. */
        t0 = tu_now_ns();
        rc = fbus_writer_acquire(w, &c->fmt, WRITER_TIMEOUT, &s);
        if (rc != 0)
            fail_msg("%s: writer still blocked %.1f s after its lossless reader was killed%s: "
                     "%d (%s)",
                     tu_transport_name(tu_transports[t]), (double)(tu_now_ns() - t0) / 1e9,
                     reap_first ? "" : " (zombie, not yet reaped)", rc, fbus_strerror(rc));
        tu_fill(&s, s.seq);
        assert_int_equal(s.seq, 4);
        assert_int_equal(fbus_writer_publish(w, &s, NULL), 0);
        if (!reap_first)
            assert_int_equal(tu_wait(pid, 5000), 128 + SIGKILL);
        /* Its entry is gone and the writer runs freely. */
        assert_int_equal(fbus_writer_readers(w), 0);
        for (int i = 0; i < 10; i++)
            assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), 0);
        for (uint32_t i = 0; i < st.nb_readers && i < FBUS_MAX_READERS; i++)
            assert_false(st.readers[i].alive);
        fbus_writer_close(w);
    }
}

static void test_reader_killed_while_pinning(void **state)
{
    reader_killed_while_pinning(state, 1);
}

static void test_reader_killed_zombie(void **state)
{
    reader_killed_while_pinning(state, 0);
}

static void test_latest_reader_killed(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 3);
        pid_t pid = start_pinning_reader(c, tu_transports[t], FBUS_POLICY_LATEST, w);
        int64_t deadline;

        /* A latest reader never holds the writer back, pinned or dead. */
        for (int i = 0; i < 100; i++)
            assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_writer_readers(w), 1);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(tu_wait(pid, 5000), 128 + SIGKILL);
        for (int i = 0; i < 100; i++)
            assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        /* Its entry is reclaimed in bounded time (the heartbeat does it). */
        deadline = tu_now_ns() + WRITER_TIMEOUT;
        while (fbus_writer_readers(w) != 0 && tu_now_ns() < deadline)
            tu_sleep_ms(10);
        assert_int_equal(fbus_writer_readers(w), 0);
        fbus_writer_close(w);
    }
}

/* ------------------------------------------------------- dead writers */

struct writer_arg {
    const struct tu_fixture *c;
    fbus_transport t;
    int readers;      /* wait for this many before the first frame */
    int frames;       /* 0: forever, one every ~2 ms */
    int session_fd;   /* the child sends its session id here */
    int die_midframe; /* SIGKILL itself while holding an acquired slot */
};

static int child_writer(void *arg)
{
    const struct writer_arg *a = arg;
    fbus_writer_opts o = {.transport = a->t, .slots = 3, .format = &a->c->fmt};
    fbus_writer *w = NULL;
    uint64_t session;
    int rc;

    rc = fbus_writer_open(a->c->name, &o, &w);
    if (rc != 0)
        CHILD_FAIL(2, "writer: open: %s", fbus_strerror(rc));
    session = fbus_writer_session(w);
    if (tu_send(a->session_fd, &session, sizeof(session)) != 0)
        return 3;
    rc = fbus_writer_wait_readers(w, a->readers, 10 * TU_SEC);
    if (rc != 0)
        CHILD_FAIL(4, "writer: wait_readers: %s", fbus_strerror(rc));
    for (int i = 0; a->frames == 0 || i < a->frames; i++) {
        fbus_slot s;

        rc = fbus_writer_acquire(w, &a->c->fmt, 10 * TU_SEC, &s);
        if (rc != 0)
            CHILD_FAIL(5, "writer: acquire: %s", fbus_strerror(rc));
        tu_fill(&s, s.seq);
        if (a->die_midframe && i == 20)
            raise(SIGKILL);
        rc = fbus_writer_publish(w, &s, NULL);
        if (rc != 0)
            CHILD_FAIL(6, "writer: publish: %s", fbus_strerror(rc));
        if (a->frames == 0)
            tu_sleep_ms(2);
    }
    fbus_writer_close(w);
    return 0;
}

static pid_t start_writer(struct writer_arg *a, uint64_t *session)
{
    int fds[2];
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    a->session_fd = fds[1];
    pid = tu_fork(child_writer, a, 40);
    assert_true(pid > 0);
    assert_int_equal(tu_recv(fds[0], session, sizeof(*session), 10000), 0);
    close(fds[0]);
    close(fds[1]);
    return pid;
}

/* Poll detached readers until each is attached to the (new) producer, so a
 * writer waiting for them can start. A frame that arrives meanwhile (the
 * writer starts as soon as the last one registers) is checked and counted
 * in last[k] and count[k]. */
static void attach_all(fbus_reader **r, int n, uint64_t *last, int *count)
{
    int64_t deadline = tu_now_ns() + 10 * TU_SEC;

    for (int k = 0; k < n; k++) {
        while (!fbus_reader_attached(r[k]) && tu_now_ns() < deadline) {
            fbus_frame fr;
            int rc = fbus_reader_acquire(r[k], 0, &fr);
            if (rc == 0) {
                assert_true(fr.flags & FBUS_FRAME_NEW_SESSION);
                assert_true(tu_verify(&fr, fr.seq));
                last[k] = fr.seq;
                count[k]++;
                assert_int_equal(fbus_reader_release(r[k], &fr), 0);
                break;
            }
            assert_int_equal(rc, -EAGAIN);
            tu_sleep_ms(5);
        }
        assert_int_equal(fbus_reader_attached(r[k]), 1);
    }
}

/* Read from all readers in turn until each fails, at most bound_ns; check
 * seqs go up (by one for lossless). codes[k] gets each one's error. */
static void read_until_error(fbus_reader **r, const fbus_policy *p, uint64_t *last, int n,
                             int64_t bound_ns, int *codes)
{
    int64_t deadline = tu_now_ns() + bound_ns;
    int open = n;

    for (int k = 0; k < n; k++)
        codes[k] = 0;
    while (open > 0 && tu_now_ns() < deadline) {
        for (int k = 0; k < n; k++) {
            fbus_frame fr;
            int rc;

            if (codes[k])
                continue;
            rc = fbus_reader_acquire(r[k], 20 * TU_MS, &fr);
            if (rc == -ETIMEDOUT)
                continue;
            if (rc != 0) {
                codes[k] = rc;
                open--;
                continue;
            }
            if (p[k] == FBUS_POLICY_LOSSLESS && last[k] && fr.seq != last[k] + 1)
                fail_msg("lossless: seq %llu after %llu", (unsigned long long)fr.seq,
                         (unsigned long long)last[k]);
            assert_true(fr.seq > last[k]);
            assert_true(tu_verify(&fr, fr.seq));
            last[k] = fr.seq;
            assert_int_equal(fbus_reader_release(r[k], &fr), 0);
        }
    }
    for (int k = 0; k < n; k++)
        if (!codes[k])
            codes[k] = -ETIMEDOUT;
}

static void writer_killed(void **state, int die_midframe)
{
    struct tu_fixture *c = *state;
    static const fbus_policy policies[2] = {FBUS_POLICY_LATEST, FBUS_POLICY_LOSSLESS};

    for (int t = 0; t < 2; t++) {
        struct writer_arg a = {
            .c = c, .t = tu_transports[t], .readers = 2, .frames = 0, .die_midframe = die_midframe};
        fbus_reader *r[2];
        uint64_t last[2] = {0, 0}, session, session2;
        fbus_stats st;
        pid_t pid;
        int rc;

        for (int k = 0; k < 2; k++) {
            fbus_reader_opts o = {
                .transport = a.t, .policy = policies[k], .flags = FBUS_READER_WAIT};
            assert_int_equal(fbus_reader_open(c->name, &o, &r[k]), 0);
        }
        alarm(60);
        pid = start_writer(&a, &session);
        {
            int count[2] = {0, 0};
            attach_all(r, 2, last, count);
        }
        /* The stream runs: each reader sees frames of the session. */
        for (int i = 0; i < 10; i++) {
            for (int k = 0; k < 2; k++) {
                fbus_frame fr;
                rc = fbus_reader_acquire(r[k], 10 * TU_SEC, &fr);
                if (rc != 0)
                    fail_msg("reader %d before the kill: %d (%s)", k, rc, fbus_strerror(rc));
                assert_true(fr.session == session);
                assert_true(fr.seq > last[k]);
                last[k] = fr.seq;
                assert_true(tu_verify(&fr, fr.seq));
                assert_int_equal(fbus_reader_release(r[k], &fr), 0);
            }
        }
        if (!die_midframe)
            assert_int_equal(kill(pid, SIGKILL), 0);
        /* Not reaped yet: readers must learn it anyway, in bounded time. */
        {
            int codes[2];
            int64_t t0 = tu_now_ns();

            read_until_error(r, policies, last, 2, GONE_BOUND, codes);
            for (int k = 0; k < 2; k++) {
                if (codes[k] != FBUS_EPRODUCERGONE)
                    fail_msg("%s reader %d after the writer was killed: %d (%s) after %.1f s",
                             tu_transport_name(a.t), k, codes[k], fbus_strerror(codes[k]),
                             (double)(tu_now_ns() - t0) / 1e9);
                assert_int_equal(fbus_reader_attached(r[k]), 0);
            }
        }
        assert_int_equal(tu_wait(pid, 5000), 128 + SIGKILL);
        /* fbus_stat calls it dead, if the region outlived its producer. */
        rc = fbus_stat(c->name, a.t, &st);
        if (rc == 0)
            assert_int_equal(st.state, FBUS_STATE_DEAD);
        else
            assert_int_equal(rc, -ENOENT);
        /* A reader arriving now finds no live bus: refused, or (WAIT) waiting
         * for the next producer rather than attached to the dead one. */
        {
            fbus_reader_opts o = {.transport = a.t};
            fbus_reader *r3 = NULL;
            fbus_frame fr;

            rc = fbus_reader_open(c->name, &o, &r3);
            if (rc != -ENOENT && rc != FBUS_EPRODUCERGONE)
                fail_msg("%s: open on a dead producer's bus: %d (%s)", tu_transport_name(a.t), rc,
                         fbus_strerror(rc));
            o.flags = FBUS_READER_WAIT;
            assert_int_equal(fbus_reader_open(c->name, &o, &r3), 0);
            assert_int_equal(fbus_reader_acquire(r3, 50 * TU_MS, &fr), -ETIMEDOUT);
            assert_int_equal(fbus_reader_attached(r3), 0);
            fbus_reader_close(r3);
        }

        /* A new writer takes the name over; the same reader handles follow. */
        a.frames = 50;
        a.die_midframe = 0;
        pid = start_writer(&a, &session2);
        assert_true(session2 != session);
        {
            uint64_t prev[2] = {0, 0};
            int n[2] = {0, 0}, codes[2] = {0, 0}, open = 2;

            attach_all(r, 2, prev, n);
            while (open > 0) {
                for (int k = 0; k < 2; k++) {
                    fbus_frame fr;

                    if (codes[k])
                        continue;
                    rc = fbus_reader_acquire(r[k], 20 * TU_MS, &fr);
                    if (rc == -ETIMEDOUT)
                        continue;
                    if (rc != 0) {
                        codes[k] = rc;
                        open--;
                        continue;
                    }
                    if (n[k] == 0)
                        assert_true(fr.flags & FBUS_FRAME_NEW_SESSION);
                    else
                        assert_false(fr.flags & FBUS_FRAME_NEW_SESSION);
                    assert_true(fr.session == session2);
                    assert_true(fr.seq > prev[k]);
                    if (policies[k] == FBUS_POLICY_LOSSLESS)
                        assert_int_equal(fr.seq, prev[k] + 1);
                    assert_true(tu_verify(&fr, fr.seq));
                    prev[k] = fr.seq;
                    n[k]++;
                    assert_int_equal(fbus_reader_release(r[k], &fr), 0);
                }
            }
            for (int k = 0; k < 2; k++) {
                if (codes[k] != FBUS_EENDED)
                    fail_msg("%s reader %d on the new writer: %d (%s) after %d frames",
                             tu_transport_name(a.t), k, codes[k], fbus_strerror(codes[k]), n[k]);
                assert_true(n[k] >= 1);
            }
            assert_int_equal(n[1], 50); /* lossless: every frame */
        }
        alarm(0);
        assert_int_equal(tu_wait(pid, 10000), 0);
        for (int k = 0; k < 2; k++)
            fbus_reader_close(r[k]);
        /* The new writer's close removed its region, and the taken-over
         * one went with the takeover. */
        assert_no_leftovers(c->name);
        tu_bus_cleanup(c->name);
    }
}

static void test_writer_killed(void **state)
{
    writer_killed(state, 0);
}

/* Killed between acquire and publish: a slot is left odd ("being written"). */
static void test_writer_killed_midframe(void **state)
{
    writer_killed(state, 1);
}

static void test_idle_producer_is_alive(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 3);
        fbus_reader_opts o = {.transport = tu_transports[t], .producer_timeout_ns = 500 * TU_MS};
        fbus_reader *r = NULL;
        fbus_frame fr;

        assert_int_equal(fbus_reader_open(c->name, &o, &r), 0);
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        /* Idle well past the producer timeout: the heartbeat keeps it live. */
        assert_int_equal(fbus_reader_acquire(r, 1500 * TU_MS, &fr), -ETIMEDOUT);
        assert_int_equal(fbus_reader_attached(r), 1);
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
        assert_int_equal(fr.seq, 2);
        assert_false(fr.flags & FBUS_FRAME_NEW_SESSION);
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        fbus_reader_close(r);
        fbus_writer_close(w);
    }
}

/* A writer without the heartbeat thread that stops calling
 * fbus_writer_heartbeat() is gone for its readers, though its process lives;
 * once it beats and publishes again, they pick the stream up. */
static void test_no_thread_writer(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer_opts wo = {
            .transport = tu_transports[t], .format = &c->fmt, .flags = FBUS_WRITER_NO_THREAD};
        fbus_reader_opts ro = {.transport = tu_transports[t], .producer_timeout_ns = 300 * TU_MS};
        fbus_writer *w = NULL;
        fbus_reader *r = NULL;
        fbus_frame fr;
        int64_t t0;
        int rc;

        assert_int_equal(fbus_writer_open(c->name, &wo, &w), 0);
        assert_int_equal(fbus_reader_open(c->name, &ro, &r), 0);
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        t0 = tu_now_ns();
        rc = fbus_reader_acquire(r, GONE_BOUND, &fr);
        if (rc != FBUS_EPRODUCERGONE)
            fail_msg("%s: silent writer: %d (%s) after %.1f s", tu_transport_name(tu_transports[t]),
                     rc, fbus_strerror(rc), (double)(tu_now_ns() - t0) / 1e9);
        fbus_writer_heartbeat(w);
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        rc = fbus_reader_acquire(r, TU_SEC, &fr);
        if (rc != 0)
            fail_msg("%s: writer beats again: %d (%s)", tu_transport_name(tu_transports[t]), rc,
                     fbus_strerror(rc));
        assert_int_equal(fr.seq, 2);
        assert_true(tu_verify(&fr, 2));
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        fbus_reader_close(r);
        fbus_writer_close(w);
    }
}

static void test_stopped_producer(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        struct writer_arg a = {.c = c, .t = tu_transports[t], .readers = 1, .frames = 0};
        fbus_reader_opts o = {
            .transport = a.t, .producer_timeout_ns = 500 * TU_MS, .flags = FBUS_READER_WAIT};
        fbus_reader *r = NULL;
        uint64_t last = 0, session;
        fbus_frame fr;
        pid_t pid;
        int rc;

        assert_int_equal(fbus_reader_open(c->name, &o, &r), 0);
        pid = start_writer(&a, &session);
        assert_int_equal(fbus_reader_acquire(r, 10 * TU_SEC, &fr), 0);
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        last = fr.seq;
        /* A stopped producer does not heartbeat: gone, though its pid lives. */
        assert_int_equal(kill(pid, SIGSTOP), 0);
        alarm(30);
        {
            static const fbus_policy latest = FBUS_POLICY_LATEST;
            read_until_error(&r, &latest, &last, 1, GONE_BOUND, &rc);
        }
        if (rc != FBUS_EPRODUCERGONE)
            fail_msg("%s: stopped producer: %d (%s)", tu_transport_name(a.t), rc,
                     fbus_strerror(rc));
        /* Resumed, it heartbeats again: the reader picks the stream up. */
        assert_int_equal(kill(pid, SIGCONT), 0);
        rc = fbus_reader_acquire(r, GONE_BOUND, &fr);
        if (rc != 0)
            fail_msg("%s: after SIGCONT: %d (%s)", tu_transport_name(a.t), rc, fbus_strerror(rc));
        assert_int_equal(fr.session, session);
        assert_true(tu_verify(&fr, fr.seq));
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        alarm(0);
        kill(pid, SIGKILL);
        assert_int_equal(tu_wait(pid, 5000), 128 + SIGKILL);
        fbus_reader_close(r);
        tu_bus_cleanup(c->name);
    }
}

/* Several processes open a writer on the same name at the same moment. */
#define RACERS 4

struct racer {
    const struct tu_fixture *c;
    fbus_transport t;
    int start_fd;  /* one byte starts the race */
    int result_fd; /* {pid, rc} */
    int done_fd;   /* the winner closes when a byte arrives */
};

static int child_racer(void *arg)
{
    const struct racer *a = arg;
    fbus_writer_opts o = {.transport = a->t, .format = &a->c->fmt};
    fbus_writer *w = NULL;
    int32_t msg[2];
    char byte;

    if (tu_recv(a->start_fd, &byte, 1, 10000) != 0)
        return 2;
    msg[1] = fbus_writer_open(a->c->name, &o, &w);
    msg[0] = (int32_t)getpid();
    if (msg[1] == 0 && tu_publish(w, &a->c->fmt, TU_SEC, NULL) != 0)
        return 3;
    if (tu_send(a->result_fd, msg, sizeof(msg)) != 0)
        return 4;
    if (msg[1] == 0) {
        if (tu_recv(a->done_fd, &byte, 1, 20000) != 0)
            return 5;
        fbus_writer_close(w);
    }
    return 0;
}

/* Exactly one of several simultaneous writers gets the name - a fresh one,
 * or a stale one whose producer was killed - and the others are refused. */
static void writer_race(void **state, int stale)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        struct racer a = {.c = c, .t = tu_transports[t]};
        int start[2], result[2], done[2], winners = 0;
        int32_t winner = 0;
        pid_t pids[RACERS];
        fbus_stats st;

        if (stale) {
            /* A writer killed mid-stream leaves a stale region behind. */
            struct writer_arg wa = {.c = c, .t = tu_transports[t], .readers = 0, .frames = 0};
            uint64_t session;
            int64_t deadline;
            pid_t pid = start_writer(&wa, &session);

            tu_sleep_ms(20);
            assert_int_equal(kill(pid, SIGKILL), 0);
            assert_int_equal(tu_wait(pid, 5000), 128 + SIGKILL);
            deadline = tu_now_ns() + GONE_BOUND;
            while (fbus_stat(c->name, a.t, &st) == 0 && st.state == FBUS_STATE_LIVE &&
                   tu_now_ns() < deadline)
                tu_sleep_ms(20);
            assert_int_equal(fbus_stat(c->name, a.t, &st), 0);
            assert_int_equal(st.state, FBUS_STATE_DEAD);
        }
        assert_int_equal(pipe(start), 0);
        assert_int_equal(pipe(result), 0);
        assert_int_equal(pipe(done), 0);
        a.start_fd = start[0];
        a.result_fd = result[1];
        a.done_fd = done[0];
        for (int i = 0; i < RACERS; i++) {
            pids[i] = tu_fork(child_racer, &a, 30);
            assert_true(pids[i] > 0);
        }
        assert_int_equal(tu_send(start[1], "gggg", RACERS), 0);
        for (int i = 0; i < RACERS; i++) {
            int32_t msg[2];

            assert_int_equal(tu_recv(result[0], msg, sizeof(msg), 15000), 0);
            if (msg[1] == 0) {
                winners++;
                winner = msg[0];
            } else if (msg[1] != FBUS_EBUSY && msg[1] != -EEXIST) {
                fail_msg("%s: a losing writer got %d (%s)", tu_transport_name(a.t), msg[1],
                         fbus_strerror(msg[1]));
            }
        }
        assert_int_equal(winners, 1);
        /* The bus is the winner's, and it works. */
        assert_int_equal(fbus_stat(c->name, a.t, &st), 0);
        assert_int_equal(st.state, FBUS_STATE_LIVE);
        assert_int_equal(st.producer_pid, winner);
        assert_int_equal(st.frames, 1);
        {
            fbus_reader_opts ro = {.transport = a.t};
            fbus_reader *r = NULL;
            fbus_frame fr;

            assert_int_equal(fbus_reader_open(c->name, &ro, &r), 0);
            assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
            assert_int_equal(fr.seq, 1);
            assert_true(tu_verify(&fr, 1));
            assert_int_equal(fbus_reader_release(r, &fr), 0);
            fbus_reader_close(r);
        }
        assert_int_equal(tu_send(done[1], "d", 1), 0);
        for (int i = 0; i < RACERS; i++)
            assert_int_equal(tu_wait(pids[i], 15000), 0);
        for (int k = 0; k < 2; k++) {
            close(start[k]);
            close(result[k]);
            close(done[k]);
        }
        assert_no_leftovers(c->name);
    }
}

static void test_writer_race_fresh(void **state)
{
    writer_race(state, 0);
}

static void test_writer_race_stale(void **state)
{
    writer_race(state, 1);
}

/* A SysV key file whose segment is gone (ipcrm, or a crash plus a sweep)
 * names no bus, and a new writer may take the name. */
static void test_sysv_key_without_segment(void **state)
{
    struct tu_fixture *c = *state;
    struct writer_arg a = {.c = c, .t = FBUS_TRANSPORT_SYSV, .readers = 0, .frames = 0};
    fbus_writer_opts o = {.transport = FBUS_TRANSPORT_SYSV, .format = &c->fmt};
    fbus_reader_opts ro = {.transport = FBUS_TRANSPORT_SYSV};
    fbus_writer *w = NULL;
    fbus_reader *r = NULL;
    uint64_t session;
    fbus_stats st;
    tu_region reg;
    pid_t pid;
    int rc;

    pid = start_writer(&a, &session);
    tu_sleep_ms(20);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(tu_wait(pid, 5000), 128 + SIGKILL);
    assert_int_equal(tu_region_map(c->name, FBUS_TRANSPORT_SYSV, &reg), 0);
    assert_int_equal(shmctl(reg.shmid, IPC_RMID, NULL), 0);
    tu_region_unmap(&reg);

    rc = fbus_stat(c->name, FBUS_TRANSPORT_SYSV, &st);
    assert_int_equal(rc, -ENOENT);
    assert_int_equal(fbus_reader_open(c->name, &ro, &r), -ENOENT);
    rc = fbus_writer_open(c->name, &o, &w);
    if (rc != 0)
        fail_msg("writer on a key file without segment: %d (%s)", rc, fbus_strerror(rc));
    assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
    assert_int_equal(fbus_stat(c->name, FBUS_TRANSPORT_SYSV, &st), 0);
    assert_int_equal(st.frames, 1);
    fbus_writer_close(w);
    assert_no_leftovers(c->name);
}

/* Create a bus as another user and die without closing it. */
static int child_foreign_stale(void *arg)
{
    const struct tu_fixture *c = arg;
    gid_t gid = NOBODY;

    if (tu_become(NOBODY, NOBODY, &gid, 1) != 0)
        return 2;
    for (int t = 0; t < 2; t++) {
        fbus_writer_opts o = {.transport = tu_transports[t], .format = &c->fmt};
        fbus_writer *w = NULL;
        int rc = fbus_writer_open(c->name, &o, &w);

        if (rc != 0)
            CHILD_FAIL(3 + t, "nobody's writer: open: %s", fbus_strerror(rc));
        if (tu_publish(w, &c->fmt, 0, NULL) != 0)
            return 5;
    }
    raise(SIGKILL);
    return 6;
}

static void test_foreign_stale_region(void **state)
{
    struct tu_fixture *c = *state;

    if (geteuid() != 0) {
        print_message("not root: cannot create another user's region\n");
        skip();
    }
    assert_int_equal(tu_wait(tu_fork(child_foreign_stale, c, 20), 30000), 128 + SIGKILL);
    for (int t = 0; t < 2; t++) {
        fbus_writer_opts o = {.transport = tu_transports[t], .format = &c->fmt};
        fbus_writer *w = NULL;
        fbus_stats st;
        int rc;

        /* Dead (once its heartbeat is stale), but not ours: not taken over. */
        {
            int64_t deadline = tu_now_ns() + GONE_BOUND;
            do {
                rc = fbus_stat(c->name, tu_transports[t], &st);
                if (rc != 0 || st.state != FBUS_STATE_LIVE)
                    break;
                tu_sleep_ms(20);
            } while (tu_now_ns() < deadline);
        }
        if (rc == 0) {
            assert_int_equal(st.uid, NOBODY);
            assert_int_equal(st.state, FBUS_STATE_DEAD);
            rc = fbus_writer_open(c->name, &o, &w);
            if (rc != -EEXIST)
                fail_msg("%s: took over another user's stale region: %d (%s)",
                         tu_transport_name(tu_transports[t]), rc, fbus_strerror(rc));
            assert_null(w);
            assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), 0);
            assert_int_equal(st.uid, NOBODY);
        } else {
            assert_int_equal(rc, -ENOENT);
        }
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_reader_killed_while_pinning),
        T(test_reader_killed_zombie),
        T(test_latest_reader_killed),
        T(test_writer_killed),
        T(test_writer_killed_midframe),
        T(test_idle_producer_is_alive),
        T(test_no_thread_writer),
        T(test_stopped_producer),
        T(test_foreign_stale_region),
        T(test_sysv_key_without_segment),
        T(test_writer_race_fresh),
        T(test_writer_race_stale),
    };
#undef T

    /* FBUS_TEST_FILTER=test_name runs one test (cmocka pattern). */
    if (getenv("FBUS_TEST_FILTER"))
        cmocka_set_test_filter(getenv("FBUS_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
