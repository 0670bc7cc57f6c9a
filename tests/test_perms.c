/* SPDX-License-Identifier: MIT */
/*
 * Permissions between users, on both transports (the tests run as root and
 * drop to nobody in forked children): a group-readable bus gives read-only
 * observers that read frames but cannot register, write, remove, take over or
 * slow down the writer, and a reader asking for its own user's buses only
 * refuses them; a stale region of another user is never taken over;
 * names that could leave /dev/shm or exceed the limit are refused by every
 * entry point.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#define NOBODY 65534

/* In a child: return `code` (and say why) unless call == want. */
#define EXPECT(call, want, code)                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != (want)) {                                                                       \
            fprintf(stderr, "%s:%d: %s = %d (%s), want %d\n", __FILE__, __LINE__, #call, rc_,      \
                    fbus_strerror(rc_), (want));                                                   \
            return (code);                                                                         \
        }                                                                                          \
    } while (0)

struct ctx {
    char name[FBUS_NAME_MAX + 1];
    fbus_format fmt;
    fbus_transport t;
    uint32_t mode;
    int ready[2]; /* child -> parent: one byte when it is set up */
};

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

/* cmocka catches crash signals to report a failed test; a forked child must
 * crash for real, so its parent sees the signal. */
static void default_signals(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], SIG_DFL);
}

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));

    if (!c || pipe(c->ready) != 0) {
        free(c);
        return -1;
    }
    tu_bus_name(c->name, sizeof(c->name), "perm");
    if (fbus_format_init(&c->fmt, "gray", 64, 48, 0) != 0)
        return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;

    tu_bus_cleanup(c->name);
    close(c->ready[0]);
    close(c->ready[1]);
    free(c);
    return 0;
}

static void need_root(void)
{
    if (geteuid() != 0) {
        print_message("not root: these tests switch users\n");
        skip();
    }
}

/* A producer publishing as fast as it can until SIGTERM; exits 0 if no
 * publish ever failed or waited out its timeout. */
static int producer_main(void *arg)
{
    struct ctx *c = arg;
    fbus_writer_opts wo = {.transport = c->t, .format = &c->fmt, .mode = c->mode};
    fbus_writer *w = NULL;
    struct sigaction sa = {.sa_handler = on_term};
    char byte = 1;
    int errors = 0;

    default_signals();
    sigaction(SIGTERM, &sa, NULL);
    EXPECT(fbus_writer_open(c->name, &wo, &w), 0, 2);
    EXPECT(tu_publish(w, &c->fmt, TU_SEC, NULL), 0, 3);
    if (tu_send(c->ready[1], &byte, 1) != 0)
        return 4;
    while (!stop) {
        int rc = tu_publish(w, &c->fmt, TU_SEC, NULL);
        if (rc != 0) {
            fprintf(stderr, "producer: publish: %s\n", fbus_strerror(rc));
            errors++;
        }
    }
    if (fbus_writer_readers(w) != 0)
        errors++; /* observers must not register */
    fbus_writer_close(w);
    return errors ? 5 : 0;
}

static pid_t start_producer(struct ctx *c, fbus_transport t, uint32_t mode)
{
    char byte;
    pid_t pid;

    c->t = t;
    c->mode = mode;
    pid = tu_fork(producer_main, c, 30);
    assert_true(pid > 0);
    assert_int_equal(tu_recv(c->ready[0], &byte, 1, 10000), 0);
    return pid;
}

static int stop_producer(pid_t pid)
{
    kill(pid, SIGTERM);
    return tu_wait(pid, 10000);
}

/* Try to get write access to the bus's object behind the library's back. */
static int try_write_access(const struct ctx *c)
{
    if (c->t == FBUS_TRANSPORT_POSIX) {
        char path[FBUS_NAME_MAX + 16];
        int fd;
        void *p;

        snprintf(path, sizeof(path), "/framebus.%s", c->name);
        fd = shm_open(path, O_RDWR, 0);
        if (fd >= 0 || errno != EACCES)
            return 30;
        fd = shm_open(path, O_RDONLY, 0);
        if (fd < 0)
            return 31;
        /* A read-only descriptor can neither shrink nor map writable. */
        if (ftruncate(fd, 0) == 0)
            return 32;
        p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (p != MAP_FAILED)
            return 33;
    } else {
        char path[FBUS_NAME_MAX + 32];
        key_t key;
        int id;

        snprintf(path, sizeof(path), "/dev/shm/framebus-sysv.%s", c->name);
        key = ftok(path, 'F');
        id = shmget(key, 0, 0);
        if (id < 0)
            return 34;
        if (shmat(id, NULL, 0) != (void *)-1 || errno != EACCES)
            return 35;
        if (shmctl(id, IPC_RMID, NULL) == 0)
            return 36;
    }
    return 0;
}

/* A group member of a 0640 bus: reads frames as an observer and cannot
 * disturb anything. */
static int observer_main(void *arg)
{
    const struct ctx *c = arg;
    gid_t groups[1] = {0}; /* the bus's group: root's */
    fbus_reader_opts ro = {.transport = c->t};
    fbus_writer_opts wo = {.transport = c->t, .format = &c->fmt};
    fbus_reader *r = NULL, *r2 = NULL;
    fbus_writer *w = NULL;
    fbus_stats st;
    uint64_t last = 0;
    int good = 0, rc;

    default_signals();
    if (tu_become(NOBODY, NOBODY, groups, 1) != 0)
        return 2;
    /* Root's bus, for a reader that wants its own user's only. */
    ro.flags = FBUS_READER_SAME_USER;
    EXPECT(fbus_reader_open(c->name, &ro, &r), FBUS_EOWNER, 9);
    if (r)
        return 9;
    ro.flags = FBUS_READER_SAME_USER | FBUS_READER_WAIT; /* no waiting it out */
    EXPECT(fbus_reader_open(c->name, &ro, &r), FBUS_EOWNER, 9);
    ro.flags = 0;
    EXPECT(fbus_reader_open(c->name, &ro, &r), 0, 10);
    if (!fbus_reader_attached(r))
        return 11;
    for (int i = 0; i < 200 && good < 20; i++) {
        fbus_frame f;
        int ok;

        EXPECT(fbus_reader_acquire(r, TU_SEC, &f), 0, 12);
        if (f.seq <= last)
            return 13;
        last = f.seq;
        ok = tu_verify(&f, f.seq);
        rc = fbus_reader_release(r, &f);
        if (rc == 0 && !ok)
            return 14; /* torn without the overrun code */
        if (rc != 0 && rc != FBUS_EOVERRUN)
            return 15;
        good += rc == 0;
    }
    if (good < 20)
        return 16;

    /* Lossless needs a reader entry, which needs write access. */
    ro.policy = FBUS_POLICY_LOSSLESS;
    EXPECT(fbus_reader_open(c->name, &ro, &r2), FBUS_EOBSERVER, 20);
    if (r2)
        return 21;
    /* Neither remove nor take over the name of a live producer. */
    EXPECT(fbus_unlink(c->name, c->t), -EACCES, 22);
    rc = fbus_writer_open(c->name, &wo, &w);
    if (rc == 0 || w)
        return 23;
    rc = try_write_access(c);
    if (rc)
        return rc;
    EXPECT(fbus_stat(c->name, c->t, &st), 0, 24);
    if (st.state != FBUS_STATE_LIVE || st.nb_readers != 0 || (st.mode & 0777) != 0640)
        return 25;
    fbus_reader_close(r);
    return 0;
}

static void test_group_observer(void **state)
{
    struct ctx *c = *state;

    need_root();
    for (int t = 0; t < 2; t++) {
        fbus_stats before, after;
        pid_t prod = start_producer(c, tu_transports[t], 0640);

        assert_int_equal(fbus_stat(c->name, c->t, &before), 0);
        {
            /* Its owner's reader with FBUS_READER_SAME_USER attaches. */
            fbus_reader_opts ro = {.transport = c->t, .flags = FBUS_READER_SAME_USER};
            fbus_reader *r = NULL;
            fbus_frame f;

            assert_int_equal(fbus_reader_open(c->name, &ro, &r), 0);
            assert_int_equal(fbus_reader_acquire(r, TU_SEC, &f), 0);
            assert_int_equal(fbus_reader_release(r, &f), 0);
            fbus_reader_close(r);
        }
        assert_int_equal(tu_wait(tu_fork(observer_main, c, 20), 30000), 0);
        assert_int_equal(fbus_stat(c->name, c->t, &after), 0);
        /* The writer went on publishing, alone in its reader table. */
        assert_int_equal(after.state, FBUS_STATE_LIVE);
        assert_true(after.frames > before.frames);
        assert_int_equal(after.nb_readers, 0);
        assert_int_equal(after.session, before.session);
        assert_int_equal(stop_producer(prod), 0);
        tu_bus_cleanup(c->name);
    }
}

/* Others (not in the group) get nothing from a 0640 bus, nor from 0600. */
static int stranger_main(void *arg)
{
    const struct ctx *c = arg;
    fbus_reader_opts ro = {.transport = c->t, .flags = FBUS_READER_OBSERVER};
    fbus_reader *r = NULL;
    fbus_stats st;

    default_signals();
    if (tu_become(NOBODY, NOBODY, NULL, 0) != 0)
        return 2;
    EXPECT(fbus_reader_open(c->name, &ro, &r), -EACCES, 10);
    EXPECT(fbus_stat(c->name, c->t, &st), -EACCES, 11);
    return r ? 12 : 0;
}

static void test_strangers_refused(void **state)
{
    struct ctx *c = *state;

    need_root();
    for (int t = 0; t < 2; t++) {
        static const uint32_t modes[2] = {0600, 0640};
        for (int m = 0; m < 2; m++) {
            pid_t prod = start_producer(c, tu_transports[t], modes[m]);
            assert_int_equal(tu_wait(tu_fork(stranger_main, c, 20), 30000), 0);
            assert_int_equal(stop_producer(prod), 0);
            tu_bus_cleanup(c->name);
        }
    }
}

/* Create the bus as `uid` and die without closing it: a stale region. */
static int crash_main(void *arg)
{
    struct ctx *c = arg;
    fbus_writer_opts wo = {.transport = c->t, .format = &c->fmt, .mode = c->mode};
    fbus_writer *w = NULL;

    default_signals();
    if (c->mode == 0 && tu_become(NOBODY, NOBODY, NULL, 0) != 0)
        return 2;
    wo.mode = 0600;
    EXPECT(fbus_writer_open(c->name, &wo, &w), 0, 3);
    EXPECT(tu_publish(w, &c->fmt, TU_SEC, NULL), 0, 4);
    raise(SIGKILL);
    return 5;
}

/* Wait until the bus's producer is seen dead (its heartbeat goes stale). */
static void wait_dead(const struct ctx *c)
{
    int64_t deadline = tu_now_ns() + 5 * TU_SEC;
    fbus_stats st;

    for (;;) {
        assert_int_equal(fbus_stat(c->name, c->t, &st), 0);
        if (st.state == FBUS_STATE_DEAD)
            return;
        assert_true(tu_now_ns() < deadline);
        tu_sleep_ms(20);
    }
}

static int takeover_main(void *arg)
{
    const struct ctx *c = arg;
    fbus_writer_opts wo = {.transport = c->t, .format = &c->fmt};
    fbus_writer *w = NULL;
    int rc;

    default_signals();
    if (tu_become(NOBODY, NOBODY, NULL, 0) != 0)
        return 2;
    rc = fbus_writer_open(c->name, &wo, &w);
    if (rc == 0 || w) {
        fprintf(stderr, "nobody took over root's stale bus\n");
        return 3;
    }
    if (rc != -EACCES && rc != -EEXIST) {
        fprintf(stderr, "takeover refused with %d (%s)\n", rc, fbus_strerror(rc));
        return 4;
    }
    return 0;
}

static void test_stale_of_other_user(void **state)
{
    struct ctx *c = *state;

    need_root();
    for (int t = 0; t < 2; t++) {
        fbus_writer_opts wo = {.transport = tu_transports[t], .format = &c->fmt};
        fbus_writer *w = NULL;
        fbus_stats st;
        uint64_t old;

        /* nobody's stale bus: root must not take it over. */
        c->t = tu_transports[t];
        c->mode = 0;
        assert_int_equal(tu_wait(tu_fork(crash_main, c, 20), 30000), 128 + SIGKILL);
        wait_dead(c);
        assert_int_equal(fbus_writer_open(c->name, &wo, &w), -EEXIST);
        assert_null(w);
        assert_int_equal(fbus_stat(c->name, c->t, &st), 0);
        assert_int_equal(st.uid, NOBODY);
        assert_int_equal(st.state, FBUS_STATE_DEAD);
        tu_bus_cleanup(c->name);

        /* root's stale bus: nobody must not take it over; root may. */
        c->mode = 0600;
        assert_int_equal(tu_wait(tu_fork(crash_main, c, 20), 30000), 128 + SIGKILL);
        wait_dead(c);
        assert_int_equal(fbus_stat(c->name, c->t, &st), 0);
        old = st.session;
        assert_int_equal(tu_wait(tu_fork(takeover_main, c, 20), 30000), 0);
        assert_int_equal(fbus_stat(c->name, c->t, &st), 0);
        assert_int_equal(st.session, old);
        assert_int_equal(st.uid, 0);
        assert_int_equal(fbus_writer_open(c->name, &wo, &w), 0);
        assert_true(fbus_writer_session(w) != old);
        fbus_writer_close(w);
        tu_bus_cleanup(c->name);
    }
}

static void test_bad_names(void **state)
{
    char long_name[FBUS_NAME_MAX + 2], max_name[FBUS_NAME_MAX + 1];
    const char *bad[] = {
        "",          ".",         "..",    "../etc", "a/b",         "/abs",    "x/../..", "sp ace",
        "tab\tname", "new\nline", "na:me", "star*",  "caf\xc3\xa9", "dollar$", long_name, NULL};
    (void)state;

    memset(long_name, 'a', FBUS_NAME_MAX + 1);
    long_name[FBUS_NAME_MAX + 1] = '\0';
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            fbus_writer_opts wo = {.transport = tu_transports[t]};
            fbus_reader_opts ro = {.transport = tu_transports[t]};
            fbus_writer *w = NULL;
            fbus_reader *r = NULL;
            fbus_stats st;

            assert_int_equal(fbus_name_check(bad[i]), FBUS_EBADNAME);
            assert_int_equal(fbus_writer_open(bad[i], &wo, &w), FBUS_EBADNAME);
            assert_null(w);
            assert_int_equal(fbus_reader_open(bad[i], &ro, &r), FBUS_EBADNAME);
            ro.flags = FBUS_READER_WAIT;
            assert_int_equal(fbus_reader_open(bad[i], &ro, &r), FBUS_EBADNAME);
            assert_null(r);
            assert_int_equal(fbus_stat(bad[i], tu_transports[t], &st), FBUS_EBADNAME);
            assert_int_equal(fbus_unlink(bad[i], tu_transports[t]), FBUS_EBADNAME);
        }
    }
    assert_non_null(strstr(fbus_strerror(FBUS_EBADNAME), "name"));

    /* Exactly the limit is fine, on both transports. */
    snprintf(max_name, sizeof(max_name), "max-%d-", (int)getpid());
    memset(max_name + strlen(max_name), 'm', FBUS_NAME_MAX - strlen(max_name));
    max_name[FBUS_NAME_MAX] = '\0';
    for (int t = 0; t < 2; t++) {
        fbus_writer_opts wo = {.transport = tu_transports[t]};
        fbus_writer *w = NULL;
        fbus_stats st;

        assert_int_equal(fbus_writer_open(max_name, &wo, &w), 0);
        assert_int_equal(fbus_stat(max_name, tu_transports[t], &st), 0);
        assert_string_equal(st.name, max_name);
        fbus_writer_close(w);
        assert_int_equal(fbus_stat(max_name, tu_transports[t], &st), -ENOENT);
    }
    tu_bus_cleanup(max_name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_observer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strangers_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_of_other_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
