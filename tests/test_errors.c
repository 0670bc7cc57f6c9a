/* SPDX-License-Identifier: MIT */
/*
 * Error codes of the public API, for both transports: bad names, a name held
 * by a live producer, no such bus, permissions (as another user), misuse of
 * the writer and reader calls, polling, a full reader table, fbus_list and
 * fbus_unlink.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#define NOBODY 65534

/* In children (no cmocka there): say what failed and exit with `code`. */
#define CHILD_EXPECT(call, want, code)                                                             \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != (want)) {                                                                       \
            fprintf(stderr, "child %s:%d: %s = %d (%s), expected %d\n", __FILE__, __LINE__, #call, \
                    rc_, fbus_strerror(rc_), (int)(want));                                         \
            return (code);                                                                         \
        }                                                                                          \
    } while (0)

static int setup(void **state)
{
    return tu_fixture_setup(state, "err");
}

static int teardown(void **state)
{
    return tu_fixture_teardown(state);
}

static fbus_writer *open_writer(const struct tu_fixture *c, fbus_transport t, uint32_t slots,
                                uint32_t mode)
{
    fbus_writer_opts o = {0};
    fbus_writer *w = NULL;
    int rc;

    o.transport = t;
    o.slots = slots;
    o.format = &c->fmt;
    o.mode = mode;
    rc = fbus_writer_open(c->name, &o, &w);
    if (rc != 0)
        fail_msg("fbus_writer_open(%s, %s) = %d (%s)", c->name, tu_transport_name(t), rc,
                 fbus_strerror(rc));
    assert_non_null(w);
    return w;
}

static fbus_reader *open_reader(const struct tu_fixture *c, fbus_transport t, fbus_policy policy,
                                uint32_t flags)
{
    fbus_reader_opts o = {0};
    fbus_reader *r = NULL;
    int rc;

    o.transport = t;
    o.policy = policy;
    o.flags = flags;
    o.producer_timeout_ns = TU_PRODUCER_TIMEOUT;
    rc = fbus_reader_open(c->name, &o, &r);
    if (rc != 0)
        fail_msg("fbus_reader_open(%s, %s) = %d (%s)", c->name, tu_transport_name(t), rc,
                 fbus_strerror(rc));
    assert_non_null(r);
    return r;
}

/* Whether anything of bus `name` is left in /dev/shm. */
static int shm_leftovers(const char *name)
{
    char path[128];
    struct stat st;

    snprintf(path, sizeof(path), "/dev/shm/framebus.%s", name);
    if (stat(path, &st) == 0)
        return 1;
    snprintf(path, sizeof(path), "/dev/shm/framebus-sysv.%s", name);
    return stat(path, &st) == 0;
}

static void test_bad_names(void **state)
{
    static const char *bad[] = {
        "",
        "a/b",
        "..",
        "../etc",
        "a b",
        "x\n",
        "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"};
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            fbus_writer_opts wo = {.transport = tu_transports[t], .format = &c->fmt};
            fbus_reader_opts ro = {.transport = tu_transports[t]};
            fbus_writer *w = (fbus_writer *)&wo;
            fbus_reader *r = (fbus_reader *)&ro;
            fbus_stats st;

            assert_int_equal(fbus_writer_open(bad[i], &wo, &w), FBUS_EBADNAME);
            assert_null(w);
            assert_int_equal(fbus_reader_open(bad[i], &ro, &r), FBUS_EBADNAME);
            assert_null(r);
            ro.flags = FBUS_READER_WAIT;
            assert_int_equal(fbus_reader_open(bad[i], &ro, &r), FBUS_EBADNAME);
            assert_null(r);
            assert_int_equal(fbus_stat(bad[i], tu_transports[t], &st), FBUS_EBADNAME);
            assert_int_equal(fbus_unlink(bad[i], tu_transports[t]), FBUS_EBADNAME);
        }
    }
    (void)c;
}

static void test_no_such_bus(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_reader_opts ro = {.transport = tu_transports[t]};
        fbus_reader *r = (fbus_reader *)&ro;
        fbus_stats st;
        fbus_frame fr;

        assert_int_equal(fbus_reader_open(c->name, &ro, &r), -ENOENT);
        assert_null(r);
        ro.flags = FBUS_READER_OBSERVER;
        assert_int_equal(fbus_reader_open(c->name, &ro, &r), -ENOENT);
        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), -ENOENT);
        assert_int_equal(fbus_unlink(c->name, tu_transports[t]), -ENOENT);

        /* With FBUS_READER_WAIT the reader waits for the bus instead. */
        r = open_reader(c, tu_transports[t], FBUS_POLICY_LATEST, FBUS_READER_WAIT);
        assert_int_equal(fbus_reader_attached(r), 0);
        assert_int_equal(fbus_reader_acquire(r, 0, &fr), -EAGAIN);
        assert_int_equal(fbus_reader_acquire(r, 20 * TU_MS, &fr), -ETIMEDOUT);
        fbus_reader_close(r);
        assert_int_equal(shm_leftovers(c->name), 0);
    }
}

static int child_open_writer(void *arg)
{
    const struct tu_fixture *c = arg;
    fbus_writer_opts o = {0};
    fbus_writer *w = (fbus_writer *)&o;

    for (int t = 0; t < 2; t++) {
        o.transport = tu_transports[t];
        o.format = &c->fmt;
        CHILD_EXPECT(fbus_writer_open(c->name, &o, &w), FBUS_EBUSY, 10 + t);
        if (w != NULL)
            return 20 + t;
    }
    return 0;
}

static void test_busy(void **state)
{
    struct tu_fixture *c = *state;
    fbus_writer *w[2];

    for (int t = 0; t < 2; t++)
        w[t] = open_writer(c, tu_transports[t], 3, 0);
    for (int t = 0; t < 2; t++) {
        fbus_writer_opts o = {.transport = tu_transports[t], .format = &c->fmt};
        fbus_writer *w2 = (fbus_writer *)&o;

        assert_int_equal(fbus_writer_open(c->name, &o, &w2), FBUS_EBUSY);
        assert_null(w2);
    }
    /* Another process gets the same answer. */
    assert_int_equal(tu_wait(tu_fork(child_open_writer, c, 10), 15000), 0);
    /* And the first writers still work. */
    for (int t = 0; t < 2; t++) {
        fbus_reader *r = open_reader(c, tu_transports[t], FBUS_POLICY_LATEST, 0);
        fbus_frame fr;
        uint64_t seq;

        assert_int_equal(tu_publish(w[t], &c->fmt, TU_SEC, &seq), 0);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
        assert_int_equal(fr.seq, seq);
        assert_true(tu_verify(&fr, seq));
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        fbus_reader_close(r);
        fbus_writer_close(w[t]);
    }
}

/* What the unprivileged child checks, by mode of the bus. */
struct perm_arg {
    const struct tu_fixture *c;
    uint32_t mode;
    gid_t gid;
    uint64_t seq; /* frame published before the fork */
    int go_fd;    /* child waits for a byte here before closing */
    int ready_fd; /* child writes a byte here once attached */
};

static int child_no_access(void *arg)
{
    const struct perm_arg *a = arg;
    fbus_stats st;

    if (tu_become(NOBODY, a->gid, &a->gid, 1) != 0)
        return 2;
    for (int t = 0; t < 2; t++) {
        fbus_reader_opts ro = {.transport = tu_transports[t]};
        fbus_writer_opts wo = {.transport = tu_transports[t], .format = &a->c->fmt};
        fbus_reader *r = NULL;
        fbus_writer *w = NULL;
        int rc;

        CHILD_EXPECT(fbus_reader_open(a->c->name, &ro, &r), -EACCES, 10 + t);
        ro.flags = FBUS_READER_OBSERVER;
        CHILD_EXPECT(fbus_reader_open(a->c->name, &ro, &r), -EACCES, 12 + t);
        ro.flags = 0;
        ro.policy = FBUS_POLICY_LOSSLESS;
        CHILD_EXPECT(fbus_reader_open(a->c->name, &ro, &r), -EACCES, 14 + t);
        if (r)
            return 15;
        CHILD_EXPECT(fbus_stat(a->c->name, tu_transports[t], &st), -EACCES, 16 + t);
        CHILD_EXPECT(fbus_unlink(a->c->name, tu_transports[t]), -EACCES, 18 + t);
        /* Not our region and its producer lives: refused, whatever the code. */
        rc = fbus_writer_open(a->c->name, &wo, &w);
        if (rc == 0 || w)
            return 20 + t;
    }
    return 0;
}

static int child_observer(void *arg)
{
    const struct perm_arg *a = arg;
    fbus_stats st;
    char byte = 0;

    if (tu_become(NOBODY, a->gid, &a->gid, 1) != 0)
        return 2;
    for (int t = 0; t < 2; t++) {
        fbus_reader_opts ro = {.transport = tu_transports[t]};
        fbus_reader *r = NULL;
        fbus_frame fr;

        /* Read access only: attached as an observer automatically. */
        CHILD_EXPECT(fbus_reader_open(a->c->name, &ro, &r), 0, 10 + t);
        CHILD_EXPECT(fbus_reader_acquire(r, 2 * TU_SEC, &fr), 0, 12 + t);
        if (fr.seq != a->seq || !tu_verify(&fr, a->seq))
            return 14 + t;
        CHILD_EXPECT(fbus_reader_release(r, &fr), 0, 16 + t);
        CHILD_EXPECT(fbus_stat(a->c->name, tu_transports[t], &st), 0, 18 + t);
        if ((st.mode & 0777) != a->mode || st.frames != 1)
            return 20 + t;
        CHILD_EXPECT(fbus_unlink(a->c->name, tu_transports[t]), -EACCES, 22 + t);
        /* Lossless needs write access. */
        ro.policy = FBUS_POLICY_LOSSLESS;
        {
            fbus_reader *r2 = NULL;
            CHILD_EXPECT(fbus_reader_open(a->c->name, &ro, &r2), FBUS_EOBSERVER, 24 + t);
            if (r2)
                return 25;
        }
        if (tu_send(a->ready_fd, &byte, 1) != 0)
            return 26 + t;
        if (tu_recv(a->go_fd, &byte, 1, 10000) != 0)
            return 28 + t;
        fbus_reader_close(r);
    }
    return 0;
}

static int child_group_lossless(void *arg)
{
    const struct perm_arg *a = arg;
    char byte = 0;

    if (tu_become(NOBODY, a->gid, &a->gid, 1) != 0)
        return 2;
    for (int t = 0; t < 2; t++) {
        fbus_reader_opts ro = {.transport = tu_transports[t],
                               .policy = FBUS_POLICY_LOSSLESS,
                               .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
        fbus_reader *r = NULL;
        fbus_frame fr;
        uint64_t seq;

        CHILD_EXPECT(fbus_reader_open(a->c->name, &ro, &r), 0, 10 + t);
        if (tu_send(a->ready_fd, &byte, 1) != 0)
            return 12;
        if (tu_recv(a->go_fd, &seq, sizeof(seq), 10000) != 0)
            return 13;
        CHILD_EXPECT(fbus_reader_acquire(r, 5 * TU_SEC, &fr), 0, 14 + t);
        if (fr.seq != seq || !tu_verify(&fr, seq))
            return 16 + t;
        CHILD_EXPECT(fbus_reader_release(r, &fr), 0, 18 + t);
        fbus_reader_close(r);
        if (tu_send(a->ready_fd, &byte, 1) != 0)
            return 20;
    }
    return 0;
}

static void test_permissions(void **state)
{
    struct tu_fixture *c = *state;
    struct perm_arg a = {.c = c};
    fbus_writer *w[2];
    fbus_stats st;
    int go[2], ready[2];
    pid_t pid;

    if (geteuid() != 0) {
        print_message("not root: permission tests need to switch users\n");
        skip();
    }
    /* 0600: another user can neither read, register, stat nor remove it. */
    for (int t = 0; t < 2; t++) {
        w[t] = open_writer(c, tu_transports[t], 3, 0);
        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), 0);
        assert_int_equal(st.mode & 0777, 0600);
        assert_int_equal(st.uid, geteuid());
    }
    a.mode = 0600;
    a.gid = NOBODY;
    assert_int_equal(tu_wait(tu_fork(child_no_access, &a, 20), 30000), 0);
    /* The same as a user in the owner's group, since 0600 gives it nothing. */
    a.gid = getegid();
    assert_int_equal(tu_wait(tu_fork(child_no_access, &a, 20), 30000), 0);
    for (int t = 0; t < 2; t++) {
        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), 0);
        fbus_writer_close(w[t]);
    }

    /* 0640: the group reads as an observer, others are refused. */
    for (int t = 0; t < 2; t++) {
        w[t] = open_writer(c, tu_transports[t], 3, 0640);
        assert_int_equal(tu_publish(w[t], &c->fmt, TU_SEC, &a.seq), 0);
        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), 0);
        assert_int_equal(st.mode & 0777, 0640);
    }
    a.mode = 0640;
    a.gid = NOBODY;
    assert_int_equal(tu_wait(tu_fork(child_no_access, &a, 20), 30000), 0);
    a.gid = getegid();
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(ready), 0);
    a.go_fd = go[0];
    a.ready_fd = ready[1];
    pid = tu_fork(child_observer, &a, 20);
    assert_true(pid > 0);
    for (int t = 0; t < 2; t++) {
        char byte = 1;
        int rc = tu_recv(ready[0], &byte, 1, 10000);

        if (rc != 0)
            break; /* the child failed: its exit status says where */
        /* Observers are not registered readers. */
        assert_int_equal(fbus_writer_readers(w[t]), 0);
        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), 0);
        assert_int_equal(st.nb_readers, 0);
        assert_int_equal(tu_send(go[1], &byte, 1), 0);
    }
    assert_int_equal(tu_wait(pid, 30000), 0);
    for (int t = 0; t < 2; t++)
        fbus_writer_close(w[t]);

    /* 0660: the group may register, even as a lossless reader. */
    for (int t = 0; t < 2; t++)
        w[t] = open_writer(c, tu_transports[t], 3, 0660);
    pid = tu_fork(child_group_lossless, &a, 20);
    assert_true(pid > 0);
    for (int t = 0; t < 2; t++) {
        uint64_t seq;
        char byte = 1;

        if (tu_recv(ready[0], &byte, 1, 10000) != 0)
            break; /* the child failed: its exit status says where */
        assert_int_equal(fbus_writer_readers(w[t]), 1);
        assert_int_equal(tu_publish(w[t], &c->fmt, TU_SEC, &seq), 0);
        assert_int_equal(tu_send(go[1], &seq, sizeof(seq)), 0);
        /* The child takes it, then leaves. */
        assert_int_equal(tu_recv(ready[0], &byte, 1, 10000), 0);
        assert_int_equal(fbus_writer_readers(w[t]), 0);
    }
    assert_int_equal(tu_wait(pid, 30000), 0);
    for (int t = 0; t < 2; t++)
        fbus_writer_close(w[t]);
    close(go[0]);
    close(go[1]);
    close(ready[0]);
    close(ready[1]);
}

static void test_writer_misuse(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 3, 0);
        fbus_reader *r = open_reader(c, tu_transports[t], FBUS_POLICY_LOSSLESS, 0);
        fbus_slot s1, s2, forged;
        fbus_format bad;
        fbus_frame fr;
        uint64_t cancelled;

        assert_int_equal(fbus_writer_acquire(w, &c->fmt, TU_SEC, &s1), 0);
        assert_int_equal(s1.seq, 1);
        assert_int_equal(fbus_writer_acquire(w, &c->fmt, TU_SEC, &s2), -EINVAL);
        tu_fill(&s1, s1.seq);
        assert_int_equal(fbus_writer_publish(w, &s1, NULL), 0);
        /* The same slot twice, or a slot never acquired. */
        assert_int_equal(fbus_writer_publish(w, &s1, NULL), -EINVAL);
        memset(&forged, 0, sizeof(forged));
        assert_int_equal(fbus_writer_publish(w, &forged, NULL), -EINVAL);
        /* Cancel gives the slot back; publishing it then is misuse, and the
         * cancelled frame leaves no gap in the sequence. */
        assert_int_equal(fbus_writer_acquire(w, &c->fmt, TU_SEC, &s2), 0);
        cancelled = s2.seq;
        fbus_writer_cancel(w, &s2);
        assert_int_equal(fbus_writer_publish(w, &s2, NULL), -EINVAL);
        fbus_writer_cancel(w, &s2); /* twice: harmless */
        assert_int_equal(fbus_writer_acquire(w, &c->fmt, TU_SEC, &s2), 0);
        assert_int_equal(s2.seq, cancelled);
        /* A tampered slot index is refused, the real one still works. */
        forged = s2;
        forged.index = 1000;
        assert_int_equal(fbus_writer_publish(w, &forged, NULL), -EINVAL);
        tu_fill(&s2, s2.seq);
        assert_int_equal(fbus_writer_publish(w, &s2, NULL), 0);
        for (uint64_t seq = 1; seq <= 2; seq++) {
            assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
            assert_int_equal(fr.seq, seq);
            assert_true(tu_verify(&fr, seq));
            assert_int_equal(fbus_reader_release(r, &fr), 0);
        }
        assert_int_equal(fbus_reader_acquire(r, 0, &fr), -EAGAIN);
        /* Bad formats. */
        bad = c->fmt;
        bad.nb_planes = 0;
        assert_int_equal(fbus_writer_acquire(w, &bad, TU_SEC, &s1), FBUS_EFORMAT);
        bad = c->fmt;
        bad.planes[0].stride = 1;
        assert_int_equal(fbus_writer_acquire(w, &bad, TU_SEC, &s1), FBUS_EFORMAT);
        fbus_reader_close(r);
        fbus_writer_close(w);
    }
}

static void test_writer_bad_opts(void **state)
{
    struct tu_fixture *c = *state;
    fbus_format bad = c->fmt;

    bad.nb_planes = 9;
    for (int t = 0; t < 2; t++) {
        fbus_writer_opts o;
        fbus_writer *w;
        fbus_stats st;

        o = (fbus_writer_opts){.transport = tu_transports[t], .slots = 1};
        w = (fbus_writer *)&o;
        assert_int_equal(fbus_writer_open(c->name, &o, &w), -EINVAL);
        assert_null(w);
        o.slots = FBUS_MAX_SLOTS + 1;
        assert_int_equal(fbus_writer_open(c->name, &o, &w), -EINVAL);
        o.slots = 0;
        o.transport = (fbus_transport)7;
        assert_int_equal(fbus_writer_open(c->name, &o, &w), -EINVAL);
        o.transport = tu_transports[t];
        o.format = &bad;
        {
            int rc = fbus_writer_open(c->name, &o, &w);
            if (rc != FBUS_EFORMAT && rc != -EINVAL)
                fail_msg("bad format: %d (%s)", rc, fbus_strerror(rc));
        }
        assert_null(w);
        o.format = NULL;
        o.slot_size = UINT64_C(1) << 62;
        {
            int rc = fbus_writer_open(c->name, &o, &w);
            if (rc != FBUS_ETOOBIG && rc != -ENOSPC && rc != -ENOMEM)
                fail_msg("slot_size 2^62: %d (%s)", rc, fbus_strerror(rc));
        }
        assert_null(w);
        /* Nothing was left behind. */
        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), -ENOENT);
        assert_int_equal(shm_leftovers(c->name), 0);
    }
}

static void test_polling(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 3, 0);
        fbus_reader *r;
        fbus_slot s;
        fbus_frame fr, fr2;
        int64_t t0;

        /* Nobody yet. */
        assert_int_equal(fbus_writer_readers(w), 0);
        assert_int_equal(fbus_writer_wait_readers(w, 1, 0), -EAGAIN);
        t0 = tu_now_ns();
        assert_int_equal(fbus_writer_wait_readers(w, 1, 30 * TU_MS), -ETIMEDOUT);
        assert_true(tu_now_ns() - t0 >= 25 * TU_MS);
        assert_int_equal(fbus_writer_wait_readers(w, 0, 0), 0);

        r = open_reader(c, tu_transports[t], FBUS_POLICY_LATEST, 0);
        assert_int_equal(fbus_reader_attached(r), 1);
        assert_int_equal(fbus_writer_readers(w), 1);
        assert_int_equal(fbus_writer_wait_readers(w, 1, 0), 0);
        assert_int_equal(fbus_writer_wait_readers(w, 2, 0), -EAGAIN);

        /* No frame yet: poll and bounded wait. */
        assert_int_equal(fbus_reader_acquire(r, 0, &fr), -EAGAIN);
        t0 = tu_now_ns();
        assert_int_equal(fbus_reader_acquire(r, 30 * TU_MS, &fr), -ETIMEDOUT);
        assert_true(tu_now_ns() - t0 >= 25 * TU_MS);

        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_reader_acquire(r, 0, &fr), 0);
        assert_int_equal(fr.seq, 1);
        /* One frame held at a time. */
        assert_int_equal(fbus_reader_acquire(r, 0, &fr2), -EINVAL);
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        /* Latest: nothing newer. */
        assert_int_equal(fbus_reader_acquire(r, 0, &fr), -EAGAIN);
        fbus_reader_close(r);
        assert_int_equal(fbus_writer_readers(w), 0);

        fbus_writer_close(w);

        /* A lossless reader that takes nothing blocks the writer once every
         * slot holds a frame it still needs: poll says -EAGAIN, a bounded
         * wait -ETIMEDOUT. */
        w = open_writer(c, tu_transports[t], 3, 0);
        r = open_reader(c, tu_transports[t], FBUS_POLICY_LOSSLESS, 0);
        for (int i = 0; i < 3; i++)
            assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        assert_int_equal(fbus_writer_acquire(w, &c->fmt, 0, &s), -EAGAIN);
        t0 = tu_now_ns();
        assert_int_equal(fbus_writer_acquire(w, &c->fmt, 30 * TU_MS, &s), -ETIMEDOUT);
        assert_true(tu_now_ns() - t0 >= 25 * TU_MS);
        /* Taking one frame frees a slot. */
        assert_int_equal(fbus_reader_acquire(r, 0, &fr), 0);
        assert_int_equal(fr.seq, 1);
        assert_true(tu_verify(&fr, 1));
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        assert_int_equal(fbus_writer_acquire(w, &c->fmt, 0, &s), 0);
        assert_int_equal(s.seq, 4);
        fbus_writer_cancel(w, &s);
        fbus_reader_close(r);
        /* Once the lossless reader is gone, nothing holds the writer. */
        for (int i = 0; i < 10; i++)
            assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), 0);
        fbus_writer_close(w);
    }
}

static void test_full(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 3, 0);
        fbus_reader *rs[FBUS_MAX_READERS], *extra = NULL, *obs;
        fbus_reader_opts ro = {.transport = tu_transports[t]};

        for (int i = 0; i < FBUS_MAX_READERS; i++)
            rs[i] = open_reader(c, tu_transports[t],
                                i % 2 ? FBUS_POLICY_LOSSLESS : FBUS_POLICY_LATEST, 0);
        assert_int_equal(fbus_writer_readers(w), FBUS_MAX_READERS);
        assert_int_equal(fbus_reader_open(c->name, &ro, &extra), FBUS_EFULL);
        assert_null(extra);
        /* An observer needs no entry. */
        obs = open_reader(c, tu_transports[t], FBUS_POLICY_LATEST, FBUS_READER_OBSERVER);
        fbus_reader_close(rs[5]);
        extra = open_reader(c, tu_transports[t], FBUS_POLICY_LATEST, 0);
        assert_int_equal(fbus_writer_readers(w), FBUS_MAX_READERS);
        fbus_reader_close(extra);
        fbus_reader_close(obs);
        for (int i = 0; i < FBUS_MAX_READERS; i++)
            if (i != 5)
                fbus_reader_close(rs[i]);
        assert_int_equal(fbus_writer_readers(w), 0);
        fbus_writer_close(w);
    }
}

struct seen {
    const char *name;
    int found[2];
    int calls;
};

static int list_cb(const char *name, fbus_transport t, void *opaque)
{
    struct seen *s = opaque;

    s->calls++;
    if (strcmp(name, s->name) == 0 && (t == FBUS_TRANSPORT_POSIX || t == FBUS_TRANSPORT_SYSV))
        s->found[t]++;
    return 0;
}

static int list_stop(const char *name, fbus_transport t, void *opaque)
{
    (void)name;
    (void)t;
    (*(int *)opaque)++;
    return 42;
}

static void test_list(void **state)
{
    struct tu_fixture *c = *state;
    fbus_writer *w[2];
    struct seen s = {.name = c->name};
    int calls = 0;

    assert_int_equal(fbus_list(list_cb, &s), 0);
    assert_int_equal(s.found[0] + s.found[1], 0);
    /* The same name on both transports: two buses. */
    for (int t = 0; t < 2; t++)
        w[t] = open_writer(c, tu_transports[t], 3, 0);
    memset(s.found, 0, sizeof(s.found));
    assert_int_equal(fbus_list(list_cb, &s), 0);
    assert_int_equal(s.found[FBUS_TRANSPORT_POSIX], 1);
    assert_int_equal(s.found[FBUS_TRANSPORT_SYSV], 1);
    assert_int_equal(fbus_list(list_stop, &calls), 42);
    assert_int_equal(calls, 1);
    fbus_writer_close(w[FBUS_TRANSPORT_POSIX]);
    memset(s.found, 0, sizeof(s.found));
    assert_int_equal(fbus_list(list_cb, &s), 0);
    assert_int_equal(s.found[FBUS_TRANSPORT_POSIX], 0);
    assert_int_equal(s.found[FBUS_TRANSPORT_SYSV], 1);
    fbus_writer_close(w[FBUS_TRANSPORT_SYSV]);
    memset(s.found, 0, sizeof(s.found));
    assert_int_equal(fbus_list(list_cb, &s), 0);
    assert_int_equal(s.found[0] + s.found[1], 0);
}

static void test_unlink(void **state)
{
    struct tu_fixture *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t], 3, 0), *w2;
        fbus_reader *r = open_reader(c, tu_transports[t], FBUS_POLICY_LOSSLESS, 0);
        fbus_reader_opts ro = {.transport = tu_transports[t]};
        fbus_reader *r2 = NULL;
        fbus_stats st;
        fbus_frame fr;

        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_int_equal(fbus_unlink(c->name, tu_transports[t]), 0);
        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), -ENOENT);
        assert_int_equal(fbus_reader_open(c->name, &ro, &r2), -ENOENT);
        assert_int_equal(fbus_unlink(c->name, tu_transports[t]), -ENOENT);
        assert_int_equal(shm_leftovers(c->name), 0);
        /* The attached reader keeps its mapping and the stream. */
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        for (uint64_t seq = 1; seq <= 2; seq++) {
            assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
            assert_int_equal(fr.seq, seq);
            assert_true(tu_verify(&fr, seq));
            assert_int_equal(fbus_reader_release(r, &fr), 0);
        }
        /* The name is free for a new producer. The old one moving to a new
         * region (a frame that does not fit) must not take the name back,
         * and closing it must not remove the new one's name. */
        w2 = open_writer(c, tu_transports[t], 3, 0);
        fbus_reader_close(r); /* no lossless reader for the move to wait for */
        r = NULL;
        {
            fbus_format big;
            fbus_slot s;
            int rc;

            assert_int_equal(fbus_format_init(&big, "rgb24", 320, 240, 0), 0);
            rc = fbus_writer_acquire(w, &big, TU_SEC, &s);
            if (rc == 0) {
                tu_fill(&s, s.seq);
                assert_int_equal(fbus_writer_publish(w, &s, NULL), 0);
            }
            assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), 0);
            if (st.session != fbus_writer_session(w2))
                fail_msg("%s: a moving writer took the name of another live producer",
                         tu_transport_name(tu_transports[t]));
        }
        fbus_writer_close(w);
        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), 0);
        assert_int_equal(st.session, fbus_writer_session(w2));
        assert_int_equal(st.state, FBUS_STATE_LIVE);
        fbus_reader_close(r);
        fbus_writer_close(w2);
        assert_int_equal(fbus_stat(c->name, tu_transports[t], &st), -ENOENT);
        assert_int_equal(shm_leftovers(c->name), 0);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_bad_names),     T(test_no_such_bus),     T(test_busy),    T(test_permissions),
        T(test_writer_misuse), T(test_writer_bad_opts), T(test_polling), T(test_full),
        T(test_list),          T(test_unlink),
    };
#undef T

    /* FBUS_TEST_FILTER=test_name runs one test (cmocka pattern). */
    if (getenv("FBUS_TEST_FILTER"))
        cmocka_set_test_filter(getenv("FBUS_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
