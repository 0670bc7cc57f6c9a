/* SPDX-License-Identifier: MIT */
/*
 * The protocol with every party a thread of one process, so ThreadSanitizer
 * sees both sides of every handshake: one writer thread and 2 latest + 2
 * lossless reader threads, each with its own handle on the same bus, and
 * slots >= readers + 2 so that no torn read is legal; then readers that
 * join and leave over and over while the writer publishes. Both transports.
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

#include "testutil.h"

#define FRAMES   (TU_TSAN ? 10000 : 20000)
#define NREADERS 4
#define SLOTS    (NREADERS + 2)

struct ctx {
    char name[FBUS_NAME_MAX + 1];
    fbus_format fmt;
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));

    if (!c)
        return -1;
    tu_bus_name(c->name, sizeof(c->name), "thr");
    if (fbus_format_init(&c->fmt, "yuv420p", 48, 32, 0) != 0) {
        free(c);
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;

    tu_bus_cleanup(c->name);
    free(c);
    return 0;
}

/* What one thread did; err[0] != 0 says what went wrong. */
struct job {
    const struct ctx *c;
    fbus_transport t;
    fbus_policy policy;
    fbus_writer *w;
    int readers;     /* writer: wait for this many */
    uint64_t frames; /* writer: publish this many */
    int rounds;      /* churn readers: join/leave this often */
    uint64_t got, last, overruns, torn;
    int end;
    int64_t end_hb_age; /* heartbeat age fbus_stat saw when the stream ended */
    int end_state;
    char err[160];
};

#define JOB_FAIL(j, ...)                                                                           \
    do {                                                                                           \
        snprintf((j)->err, sizeof((j)->err), __VA_ARGS__);                                         \
        return NULL;                                                                               \
    } while (0)

static void *writer_main(void *arg)
{
    struct job *j = arg;
    int rc = fbus_writer_wait_readers(j->w, j->readers, 20 * TU_SEC);

    if (rc != 0)
        JOB_FAIL(j, "writer: wait for %d readers: %s", j->readers, fbus_strerror(rc));
    for (uint64_t i = 1; i <= j->frames; i++) {
        fbus_slot s;

        rc = fbus_writer_acquire(j->w, &j->c->fmt, 10 * TU_SEC, &s);
        if (rc != 0)
            JOB_FAIL(j, "writer: acquire %llu: %s", (unsigned long long)i, fbus_strerror(rc));
        if (s.seq != i)
            JOB_FAIL(j, "writer: seq %llu for frame %llu", (unsigned long long)s.seq,
                     (unsigned long long)i);
        tu_fill(&s, s.seq);
        rc = fbus_writer_publish(j->w, &s, NULL);
        if (rc != 0)
            JOB_FAIL(j, "writer: publish: %s", fbus_strerror(rc));
        j->got++;
    }
    return NULL;
}

/* Check one acquired frame against what came before; release it. */
static int check_frame(struct job *j, fbus_reader *r, fbus_frame *fr, int first)
{
    const char *who = j->policy == FBUS_POLICY_LOSSLESS ? "lossless" : "latest";
    int intact, rc;

    if (!first && j->policy == FBUS_POLICY_LOSSLESS && fr->seq != j->last + 1) {
        snprintf(j->err, sizeof(j->err), "%s: seq %llu after %llu", who,
                 (unsigned long long)fr->seq, (unsigned long long)j->last);
        return -1;
    }
    if (!first && fr->seq <= j->last) {
        snprintf(j->err, sizeof(j->err), "%s: seq %llu after %llu (backwards)", who,
                 (unsigned long long)fr->seq, (unsigned long long)j->last);
        return -1;
    }
    intact = tu_verify(fr, fr->seq);
    rc = fbus_reader_release(r, fr);
    if (rc == FBUS_EOVERRUN) {
        j->overruns++;
    } else if (rc != 0) {
        snprintf(j->err, sizeof(j->err), "%s: release: %s", who, fbus_strerror(rc));
        return -1;
    } else if (!intact) {
        snprintf(j->err, sizeof(j->err), "%s: seq %llu torn without FBUS_EOVERRUN", who,
                 (unsigned long long)fr->seq);
        return -1;
    }
    if (!intact)
        j->torn++;
    j->last = fr->seq;
    j->got++;
    return 0;
}

static void *reader_main(void *arg)
{
    struct job *j = arg;
    fbus_reader_opts o = {
        .transport = j->t, .policy = j->policy, .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
    fbus_reader *r = NULL;
    int rc = fbus_reader_open(j->c->name, &o, &r);

    if (rc != 0)
        JOB_FAIL(j, "reader: open: %s", fbus_strerror(rc));
    for (;;) {
        fbus_frame fr;

        rc = fbus_reader_acquire(r, 10 * TU_SEC, &fr);
        if (rc != 0) {
            fbus_stats st;

            j->end = rc;
            if (rc != FBUS_EENDED && fbus_stat(j->c->name, j->t, &st) == 0) {
                j->end_hb_age = st.heartbeat_age_ns;
                j->end_state = st.state;
            }
            break;
        }
        if (check_frame(j, r, &fr, j->got == 0) != 0)
            break;
    }
    fbus_reader_close(r);
    return NULL;
}

static void test_threads_mixed(void **state)
{
    static const fbus_policy policies[NREADERS] = {FBUS_POLICY_LATEST, FBUS_POLICY_LOSSLESS,
                                                   FBUS_POLICY_LATEST, FBUS_POLICY_LOSSLESS};
    struct ctx *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer_opts o = {.transport = tu_transports[t], .slots = SLOTS, .format = &c->fmt};
        struct job wj = {.c = c, .t = tu_transports[t], .readers = NREADERS, .frames = FRAMES};
        struct job rj[NREADERS];
        pthread_t wt, rt[NREADERS];

        assert_int_equal(fbus_writer_open(c->name, &o, &wj.w), 0);
        for (int i = 0; i < NREADERS; i++) {
            rj[i] = (struct job){.c = c, .t = tu_transports[t], .policy = policies[i]};
            assert_int_equal(pthread_create(&rt[i], NULL, reader_main, &rj[i]), 0);
        }
        assert_int_equal(pthread_create(&wt, NULL, writer_main, &wj), 0);
        assert_int_equal(pthread_join(wt, NULL), 0);
        /* Closing ends the stream: readers drain and get FBUS_EENDED. */
        fbus_writer_close(wj.w);
        for (int i = 0; i < NREADERS; i++)
            assert_int_equal(pthread_join(rt[i], NULL), 0);

        if (wj.err[0])
            fail_msg("%s", wj.err);
        assert_int_equal(wj.got, FRAMES);
        for (int i = 0; i < NREADERS; i++) {
            if (rj[i].err[0])
                fail_msg("%s: %s", tu_transport_name(tu_transports[t]), rj[i].err);
            print_message("%s %s thread: %llu frames, last %llu, %llu overruns\n",
                          tu_transport_name(tu_transports[t]),
                          policies[i] == FBUS_POLICY_LOSSLESS ? "lossless" : "latest",
                          (unsigned long long)rj[i].got, (unsigned long long)rj[i].last,
                          (unsigned long long)rj[i].overruns);
            if (rj[i].end != FBUS_EENDED)
                fail_msg("%s %s reader ended with %d (%s) mid-stream; fbus_stat then: state "
                         "%d, heartbeat age %.3f s",
                         tu_transport_name(tu_transports[t]),
                         policies[i] == FBUS_POLICY_LOSSLESS ? "lossless" : "latest", rj[i].end,
                         fbus_strerror(rj[i].end), rj[i].end_state, rj[i].end_hb_age / 1e9);
            assert_int_equal(rj[i].overruns, 0);
            assert_int_equal(rj[i].torn, 0);
            if (policies[i] == FBUS_POLICY_LOSSLESS) {
                assert_int_equal(rj[i].got, FRAMES);
                assert_int_equal(rj[i].last, FRAMES);
            } else {
                assert_true(rj[i].got >= 1 && rj[i].last <= FRAMES);
            }
        }
    }
}

/* Join, read a few frames, leave; again and again, alternating policies. */
static void *churn_main(void *arg)
{
    struct job *j = arg;

    for (int round = 0; round < j->rounds; round++) {
        fbus_reader_opts o = {.transport = j->t,
                              .policy = round % 2 ? FBUS_POLICY_LOSSLESS : FBUS_POLICY_LATEST,
                              .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
        fbus_reader *r = NULL;
        int rc = fbus_reader_open(j->c->name, &o, &r);

        if (rc == -ENOENT)
            break; /* the stream is over and its name gone */
        if (rc != 0)
            JOB_FAIL(j, "churn: open: %s", fbus_strerror(rc));
        j->policy = o.policy;
        for (int i = 0; i < 5; i++) {
            fbus_frame fr;

            rc = fbus_reader_acquire(r, 10 * TU_SEC, &fr);
            if (rc == FBUS_EENDED)
                break;
            if (rc != 0) {
                fbus_reader_close(r);
                JOB_FAIL(j, "churn: acquire: %s", fbus_strerror(rc));
            }
            if (check_frame(j, r, &fr, i == 0) != 0) {
                fbus_reader_close(r);
                return NULL;
            }
        }
        fbus_reader_close(r);
        if (rc == FBUS_EENDED)
            break;
    }
    return NULL;
}

static void test_threads_churn(void **state)
{
    struct ctx *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer_opts o = {.transport = tu_transports[t], .slots = SLOTS, .format = &c->fmt};
        /* The writer waits for the one steady reader only. */
        struct job wj = {.c = c, .t = tu_transports[t], .readers = 1, .frames = FRAMES / 4};
        struct job steady = {.c = c, .t = tu_transports[t], .policy = FBUS_POLICY_LOSSLESS};
        struct job ch[3];
        pthread_t wt, st, cht[3];

        assert_int_equal(fbus_writer_open(c->name, &o, &wj.w), 0);
        assert_int_equal(pthread_create(&st, NULL, reader_main, &steady), 0);
        /* The steady reader registers before anyone else: the writer starts
         * on it, and it must then get every frame. */
        {
            int64_t deadline = tu_now_ns() + 10 * TU_SEC;
            while (fbus_writer_readers(wj.w) < 1 && tu_now_ns() < deadline)
                tu_sleep_ms(1);
            assert_int_equal(fbus_writer_readers(wj.w), 1);
        }
        for (int i = 0; i < 3; i++) {
            ch[i] = (struct job){.c = c, .t = tu_transports[t], .rounds = TU_TSAN ? 40 : 200};
            assert_int_equal(pthread_create(&cht[i], NULL, churn_main, &ch[i]), 0);
        }
        assert_int_equal(pthread_create(&wt, NULL, writer_main, &wj), 0);
        assert_int_equal(pthread_join(wt, NULL), 0);
        fbus_writer_close(wj.w);
        assert_int_equal(pthread_join(st, NULL), 0);
        for (int i = 0; i < 3; i++)
            assert_int_equal(pthread_join(cht[i], NULL), 0);
        if (wj.err[0])
            fail_msg("%s", wj.err);
        if (steady.err[0])
            fail_msg("%s", steady.err);
        assert_int_equal(steady.got, wj.frames);
        assert_int_equal(steady.end, FBUS_EENDED);
        for (int i = 0; i < 3; i++) {
            if (ch[i].err[0])
                fail_msg("%s: %s", tu_transport_name(tu_transports[t]), ch[i].err);
            assert_int_equal(ch[i].torn, 0);
            assert_int_equal(ch[i].overruns, 0);
        }
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_threads_mixed),
        T(test_threads_churn),
    };
#undef T

    /* FBUS_TEST_FILTER=test_name runs one test (cmocka pattern). */
    if (getenv("FBUS_TEST_FILTER"))
        cmocka_set_test_filter(getenv("FBUS_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
