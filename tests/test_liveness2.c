/* SPDX-License-Identifier: MIT */
/*
 * Regressions for the kernel-vouched liveness protocol (issues 12 and 13), on
 * both transports: readers in another pid namespace, the ABA window in
 * reclaim, restart after SIGKILL, leaked waiting bits, prompt wait_readers, a
 * region move past a dead reader, leases, the reservation bound, edited slot
 * formats, fork safety, and the races found while trying to break it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "layout.h"
#include "testutil.h"

/* The library's test hook (white-box: this test links framebus_internal). */
extern void (*fbus__test_hook)(const char *where);

#define CHILD_FAIL(code, ...)                                                                      \
    do {                                                                                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        return (code);                                                                             \
    } while (0)

/* Remove what a test's lossless readers may have left: their reservations. */
static void remove_reservations(const char *name)
{
    char prefix[FBUS_NAME_MAX + 32], path[300];
    DIR *d = opendir("/dev/shm");
    struct dirent *de;

    snprintf(prefix, sizeof(prefix), "framebus-rsv.%s.", name);
    while (d && (de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
            snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
}

/* How many reservations of bus `name` exist. */
static int count_reservations(const char *name)
{
    char prefix[FBUS_NAME_MAX + 32];
    DIR *d = opendir("/dev/shm");
    struct dirent *de;
    int n = 0;

    snprintf(prefix, sizeof(prefix), "framebus-rsv.%s.", name);
    while (d && (de = readdir(d)) != NULL)
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

static int setup(void **state)
{
    return tu_fixture_setup(state, "live2");
}

static int teardown(void **state)
{
    struct tu_fixture *c = *state;

    fbus__test_hook = NULL;
    remove_reservations(c->name);
    return tu_fixture_teardown(state);
}

static fbus_writer *open_writer_opts(const struct tu_fixture *c, fbus_writer_opts *o)
{
    fbus_writer *w = NULL;
    int rc;

    o->format = o->format ? o->format : &c->fmt;
    rc = fbus_writer_open(c->name, o, &w);
    if (rc != 0)
        fail_msg("fbus_writer_open(%s) = %d (%s)", tu_transport_name(o->transport), rc,
                 fbus_strerror(rc));
    return w;
}

static fbus_writer *open_writer(const struct tu_fixture *c, fbus_transport t, uint32_t slots)
{
    fbus_writer_opts o = {.transport = t, .slots = slots};

    return open_writer_opts(c, &o);
}

/* A second mapping of the bus's header, to look at its words. */
struct peek {
    tu_region reg;
    struct fbus__header *h;
};

static void peek_open(const char *name, fbus_transport t, struct peek *p)
{
    assert_int_equal(tu_region_map(name, t, &p->reg), 0);
    p->h = (struct fbus__header *)p->reg.base;
}

static struct fbus__reader_entry *peek_entry(const struct peek *p, uint32_t i)
{
    return (struct fbus__reader_entry *)(p->reg.base + p->h->readers_offset) + i;
}

/* ------------------------------------------------ lossless reader child */

struct reader_arg {
    const struct tu_fixture *c;
    fbus_transport t;
    fbus_policy policy;
    uint32_t flags;
    uint64_t frames;      /* read frames 1..frames, then expect the end */
    int to_parent;        /* 'r' once open, then per frame its seq */
    int report_frames;    /* send each seq to the parent */
    int follow;           /* after FBUS_EENDED, keep calling acquire */
    int64_t per_frame_ms; /* sleep while holding each frame */
};

/*
 * Read frames 1..frames exactly, bit-exact, then FBUS_EENDED. Exit 0 on
 * success; the code says what went wrong. With `follow`, go on waiting for
 * the next session after the end (until killed).
 */
static int child_reader(void *arg)
{
    const struct reader_arg *a = arg;
    fbus_reader_opts o = {.transport = a->t,
                          .policy = a->policy,
                          .flags = a->flags,
                          .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
    fbus_reader *r = NULL;
    fbus_frame fr;
    char byte = 'r';
    int rc;

    rc = fbus_reader_open(a->c->name, &o, &r);
    if (rc != 0)
        CHILD_FAIL(2, "reader: open: %s", fbus_strerror(rc));
    if (a->to_parent >= 0 && tu_send(a->to_parent, &byte, 1) != 0)
        return 3;
    for (uint64_t want = 1; want <= a->frames; want++) {
        rc = fbus_reader_acquire(r, 20 * TU_SEC, &fr);
        if (rc != 0)
            CHILD_FAIL(4, "reader: acquire %llu: %s", (unsigned long long)want, fbus_strerror(rc));
        if (fr.seq != want || fr.dropped != 0)
            CHILD_FAIL(5, "reader: got %llu (dropped %llu), wanted %llu",
                       (unsigned long long)fr.seq, (unsigned long long)fr.dropped,
                       (unsigned long long)want);
        if (!tu_verify(&fr, fr.seq))
            CHILD_FAIL(6, "reader: frame %llu corrupt", (unsigned long long)fr.seq);
        if (a->per_frame_ms)
            tu_sleep_ms((int)a->per_frame_ms);
        rc = fbus_reader_release(r, &fr);
        if (rc != 0)
            CHILD_FAIL(7, "reader: release %llu: %s", (unsigned long long)want, fbus_strerror(rc));
        if (a->report_frames && tu_send(a->to_parent, &fr.seq, sizeof(fr.seq)) != 0)
            return 8;
    }
    rc = fbus_reader_acquire(r, 20 * TU_SEC, &fr);
    if (rc != FBUS_EENDED)
        CHILD_FAIL(9, "reader: after %llu frames: %s, wanted the end",
                   (unsigned long long)a->frames, fbus_strerror(rc));
    while (a->follow)
        (void)fbus_reader_acquire(r, TU_SEC, &fr);
    fbus_reader_close(r);
    return 0;
}

static pid_t start_reader(struct reader_arg *a, int *rfd)
{
    int fds[2];
    char byte;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    a->to_parent = fds[1];
    pid = tu_fork(child_reader, a, 60);
    assert_true(pid > 0);
    close(fds[1]);
    a->to_parent = -1;
    assert_int_equal(tu_recv(fds[0], &byte, 1, 10000), 0);
    *rfd = fds[0];
    return pid;
}

/* ---------------------------------------------- 1. another pid namespace */

struct ns_arg {
    struct reader_arg r;
    int status_fd; /* the namespace child tells why it could not run */
};

/* In a new pid and mount namespace with a private /proc: pid 1 of its own
 * world, so its pid means something else (or nothing) to the writer. */
static int child_in_pidns(void *arg)
{
    struct ns_arg *a = arg;
    char why = 0;
    pid_t pid;
    int st;

    if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0)
        why = 'u';
    else if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        why = 'm';
    if (why) {
        (void)tu_send(a->status_fd, &why, 1);
        return 0;
    }
    why = 'k';
    (void)tu_send(a->status_fd, &why, 1);
    pid = fork(); /* pid 1 of the new namespace */
    if (pid == 0) {
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
            _exit(20);
        if (getpid() != 1)
            _exit(21);
        _exit(child_reader(&a->r));
    }
    if (pid < 0)
        return 22;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_reader_in_other_pidns(void **state)
{
    struct tu_fixture *c = *state;
    const uint64_t frames = TU_TSAN ? 60 : 300;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        struct ns_arg a = {{c, t, FBUS_POLICY_LOSSLESS, FBUS_READER_WAIT, frames, -1, 1, 0, 0}, -1};
        int sfd[2], rfd[2];
        char why = 0, byte;
        fbus_writer *w;
        fbus_stats st;
        pid_t pid;

        assert_int_equal(pipe(sfd), 0);
        assert_int_equal(pipe(rfd), 0);
        a.status_fd = sfd[1];
        a.r.to_parent = rfd[1];
        pid = tu_fork(child_in_pidns, &a, 60);
        assert_true(pid > 0);
        close(sfd[1]);
        close(rfd[1]);
        assert_int_equal(tu_recv(sfd[0], &why, 1, 10000), 0);
        close(sfd[0]);
        if (why != 'k') {
            /* Not allowed here (no root, no user namespaces): say so. */
            printf("SKIPPED: reader in another pid namespace: %s not permitted (%s)\n",
                   why == 'u' ? "unshare(CLONE_NEWPID|CLONE_NEWNS)" : "a private mount",
                   strerror(EPERM));
            assert_int_equal(tu_wait(pid, 5000), 0);
            close(rfd[0]);
            return;
        }
        assert_int_equal(tu_recv(rfd[0], &byte, 1, 10000), 0);
        /* Two slots: the writer waits for the reader at almost every frame,
         * and reclaims between the waits. */
        w = open_writer(c, t, 2);
        for (uint64_t s = 1; s <= frames; s++) {
            uint64_t got = 0;
            assert_int_equal(tu_publish(w, &c->fmt, 10 * TU_SEC, NULL), 0);
            assert_int_equal(tu_recv(rfd[0], &got, sizeof(got), 10000), 0);
            assert_int_equal(got, s);
            if (s == frames / 2) {
                /* Its entry is alive to the writer's side too. */
                assert_int_equal(fbus_stat(c->name, t, &st), 0);
                assert_int_equal(st.nb_readers, 1);
                assert_int_equal(st.readers[0].alive, 1);
                assert_int_equal(st.readers[0].drops, 0);
                assert_int_equal(st.readers[0].overruns, 0);
                /* Let the heartbeat thread's reclaim run at least once. */
                tu_sleep_ms(1100);
            }
        }
        fbus_writer_close(w);
        assert_int_equal(tu_wait(pid, 20000), 0);
        close(rfd[0]);
        tu_bus_cleanup(c->name);
    }
}

/* ------------------------------------------- 2. the ABA window, by hook */

static struct {
    const char *name;
    fbus_transport t;
    struct peek *peek;
    fbus_reader *newcomer;
    int fired;
} aba;

/*
 * Between the writer judging entry 0's owner dead and its compare-and-swap:
 * the entry is freed (as its owner's own close would have) and a new reader
 * takes it. The swap must then leave the newcomer alone.
 */
static void aba_hook(const char *where)
{
    fbus_reader_opts o = {.transport = aba.t,
                          .policy = FBUS_POLICY_LOSSLESS,
                          .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
    struct fbus__reader_entry *e;
    uint32_t st;

    if (strcmp(where, "reclaim:judged") != 0 || aba.fired)
        return;
    aba.fired = 1;
    e = peek_entry(aba.peek, 0);
    st = atomic_load(&e->state);
    atomic_store(&e->state, FBUS__ENTRY_GEN(st) << 8 | FBUS__ENTRY_FREE);
    if (fbus_reader_open(aba.name, &o, &aba.newcomer) != 0)
        aba.newcomer = NULL;
}

static void test_reclaim_aba(void **state)
{
    struct tu_fixture *c = *state;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        struct reader_arg a = {c, t, FBUS_POLICY_LOSSLESS, 0, 1000, -1, 0, 0, 0};
        fbus_writer_opts o = {.transport = t, .slots = 2, .flags = FBUS_WRITER_NO_THREAD};
        struct fbus__reader_entry *e;
        struct peek p;
        fbus_writer *w;
        fbus_frame fr;
        uint32_t before;
        int rfd;
        pid_t pid;

        w = open_writer_opts(c, &o);
        peek_open(c->name, t, &p);
        /* A reader that registers in entry 0 and dies there. */
        pid = start_reader(&a, &rfd);
        e = peek_entry(&p, 0);
        assert_int_equal(FBUS__ENTRY_KIND(atomic_load(&e->state)), FBUS__ENTRY_ACTIVE);
        before = atomic_load(&e->state);
        kill(pid, SIGKILL);
        assert_int_equal(tu_wait(pid, 5000), 128 + SIGKILL);
        close(rfd);

        memset(&aba, 0, sizeof(aba));
        aba.name = c->name;
        aba.t = t;
        aba.peek = &p;
        /* Two slots: frames 1 and 2 fill them; frame 3 waits for the dead
         * reader, and the wait reclaims it. */
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        fbus__test_hook = aba_hook;
        assert_int_equal(tu_publish(w, &c->fmt, 5 * TU_SEC, NULL), 0);
        fbus__test_hook = NULL;
        assert_true(aba.fired);
        assert_non_null(aba.newcomer);
        /* The newcomer took entry 0 with a new generation and kept it. */
        assert_int_equal(FBUS__ENTRY_KIND(atomic_load(&e->state)), FBUS__ENTRY_ACTIVE);
        assert_int_equal(FBUS__ENTRY_GEN(atomic_load(&e->state)), FBUS__ENTRY_GEN(before) + 1);
        /* And the writer honours it: it joined at frame 2, so frame 4
         * cannot take frame 2's slot before the newcomer is done with it. */
        assert_int_equal(tu_publish(w, &c->fmt, 200 * TU_MS, NULL), -ETIMEDOUT);
        for (uint64_t want = 2; want <= 4; want++) {
            assert_int_equal(fbus_reader_acquire(aba.newcomer, TU_SEC, &fr), 0);
            assert_int_equal(fr.seq, want);
            assert_int_equal(fr.dropped, 0);
            assert_true(tu_verify(&fr, fr.seq));
            assert_int_equal(fbus_reader_release(aba.newcomer, &fr), 0);
            if (want == 2)
                assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        }
        assert_int_equal(FBUS__ENTRY_KIND(atomic_load(&e->state)), FBUS__ENTRY_ACTIVE);
        fbus_reader_close(aba.newcomer);
        tu_region_unmap(&p.reg);
        fbus_writer_close(w);
        tu_bus_cleanup(c->name);
    }
}

/* ------------------------------------ 3. restart right after a SIGKILL */

struct killed_writer_arg {
    const struct tu_fixture *c;
    fbus_transport t;
    int to_parent;
    int fork_child; /* leave a forked child behind that outlives us */
    int kid_fd;     /* where that child says 'c' if its copy refused */
};

static int child_killed_writer(void *arg)
{
    struct killed_writer_arg *a = arg;
    fbus_writer_opts o = {.transport = a->t, .format = &a->c->fmt};
    fbus_writer *w = NULL;
    fbus_slot slot;
    char byte = 'p';
    int rc;

    rc = fbus_writer_open(a->c->name, &o, &w);
    if (rc != 0)
        CHILD_FAIL(2, "writer: open: %s", fbus_strerror(rc));
    if (tu_publish(w, &a->c->fmt, TU_SEC, NULL) != 0)
        return 3;
    if (a->fork_child) {
        pid_t kid = fork();
        if (kid == 0) {
            /* The copy refuses to act, and holds nothing alive. */
            int r1 = fbus_writer_acquire(w, &a->c->fmt, 0, &slot);
            byte = r1 == -ECHILD ? 'c' : 'x';
            (void)tu_send(a->kid_fd, &byte, 1);
            alarm(30);
            for (;;)
                pause();
        }
        if (kid < 0)
            return 4;
        if (tu_send(a->to_parent, &kid, sizeof(kid)) != 0)
            return 5;
    }
    if (tu_send(a->to_parent, &byte, 1) != 0)
        return 6;
    for (;;)
        pause();
}

static void test_restart_after_sigkill(void **state)
{
    struct tu_fixture *c = *state;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        for (int round = 0; round < 5; round++) {
            struct killed_writer_arg a = {c, t, -1, 0, -1};
            fbus_reader_opts ro = {.transport = t, .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
            fbus_reader *r = NULL;
            fbus_writer *w = NULL;
            fbus_frame fr;
            int fds[2], rc;
            char byte;
            pid_t pid;

            assert_int_equal(pipe(fds), 0);
            a.to_parent = fds[1];
            pid = tu_fork(child_killed_writer, &a, 30);
            assert_int_equal(tu_recv(fds[0], &byte, 1, 10000), 0);
            close(fds[0]);
            close(fds[1]);
            /* A reader keeps the old region mapped (round 0: none). */
            if (round)
                assert_int_equal(fbus_reader_open(c->name, &ro, &r), 0);
            kill(pid, SIGKILL);
            assert_int_equal(tu_wait(pid, 5000), 128 + SIGKILL);
            /* At once: the producer's lock went with it. */
            rc = fbus_writer_open(c->name, &(fbus_writer_opts){.transport = t, .format = &c->fmt},
                                  &w);
            if (rc != 0)
                fail_msg("%s round %d: restart after SIGKILL: %s", tu_transport_name(t), round,
                         fbus_strerror(rc));
            if (r) {
                /* The old reader learns the old producer died and follows. */
                rc = fbus_reader_acquire(r, 2 * TU_SEC, &fr);
                if (rc == 0) {
                    assert_int_equal(fr.seq, 1);
                    assert_int_equal(fbus_reader_release(r, &fr), 0);
                    rc = fbus_reader_acquire(r, 2 * TU_SEC, &fr);
                }
                assert_int_equal(rc, FBUS_EPRODUCERGONE);
                assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
                assert_int_equal(fbus_reader_acquire(r, 2 * TU_SEC, &fr), 0);
                assert_true(fr.flags & FBUS_FRAME_NEW_SESSION);
                assert_int_equal(fr.session, fbus_writer_session(w));
                assert_int_equal(fbus_reader_release(r, &fr), 0);
                fbus_reader_close(r);
            }
            fbus_writer_close(w);
        }
        tu_bus_cleanup(c->name);
    }
}

/* ------------------------------------------- 4. the waiting-mask leak */

struct waiter_arg {
    const struct tu_fixture *c;
    fbus_transport t;
};

static int child_waiter(void *arg)
{
    const struct waiter_arg *a = arg;
    fbus_reader_opts o = {.transport = a->t, .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
    fbus_reader *r = NULL;
    fbus_frame fr;

    if (fbus_reader_open(a->c->name, &o, &r) != 0)
        return 2;
    for (;;)
        if (fbus_reader_acquire(r, 60 * TU_SEC, &fr) == 0)
            fbus_reader_release(r, &fr);
}

static void test_waiting_mask_leak(void **state)
{
    struct tu_fixture *c = *state;
    enum { WAITERS = 8 };

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        struct waiter_arg a = {c, t};
        pid_t pids[WAITERS];
        struct peek p;
        fbus_writer *w;
        uint64_t mask = 0;
        int64_t until;

        w = open_writer(c, t, 3);
        peek_open(c->name, t, &p);
        for (int i = 0; i < WAITERS; i++)
            pids[i] = tu_fork(child_waiter, &a, 60);
        /* Every one of them asleep on the publish futex. */
        until = tu_now_ns() + 10 * TU_SEC;
        while (__builtin_popcountll(mask = atomic_load(&p.h->waiting_mask)) < WAITERS &&
               tu_now_ns() < until)
            tu_sleep_ms(2);
        assert_int_equal(__builtin_popcountll(mask), WAITERS);
        for (int i = 0; i < WAITERS; i++) {
            kill(pids[i], SIGKILL);
            assert_int_equal(tu_wait(pids[i], 5000), 128 + SIGKILL);
        }
        /* The writer reclaims their entries (the heartbeat does, within a
         * second or so), and their bits with them. */
        until = tu_now_ns() + 5 * TU_SEC;
        while ((mask = atomic_load(&p.h->waiting_mask)) != 0 && tu_now_ns() < until) {
            assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
            tu_sleep_ms(20);
        }
        if (mask)
            fail_msg("%s: waiting_mask stuck at %#llx after the waiters died", tu_transport_name(t),
                     (unsigned long long)mask);
        assert_int_equal(fbus_writer_readers(w), 0);
        tu_region_unmap(&p.reg);
        fbus_writer_close(w);
        tu_bus_cleanup(c->name);
    }
}

/* ---------------------------------------- 5. wait_readers wakes promptly */

struct reg_arg {
    const struct tu_fixture *c;
    fbus_transport t;
    int to_parent;
};

/* Register, then tell the parent when (CLOCK_MONOTONIC) open returned. */
static int child_registers(void *arg)
{
    const struct reg_arg *a = arg;
    fbus_reader_opts o = {.transport = a->t, .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
    fbus_reader *r = NULL;
    int64_t when;

    if (fbus_reader_open(a->c->name, &o, &r) != 0)
        return 2;
    when = tu_now_ns();
    if (tu_send(a->to_parent, &when, sizeof(when)) != 0)
        return 3;
    for (;;)
        pause();
}

static void test_wait_readers_prompt(void **state)
{
    struct tu_fixture *c = *state;
    const int rounds = TU_TSAN ? 8 : 25;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        int late = 0;
        int64_t worst = 0;

        for (int round = 0; round < rounds; round++) {
            struct reg_arg a = {c, t, -1};
            fbus_writer *w = open_writer(c, t, 3);
            int64_t when = 0, woke, lag;
            int fds[2];
            pid_t pid;

            assert_int_equal(pipe(fds), 0);
            a.to_parent = fds[1];
            pid = tu_fork(child_registers, &a, 30);
            assert_int_equal(fbus_writer_wait_readers(w, 1, 10 * TU_SEC), 0);
            woke = tu_now_ns();
            assert_int_equal(tu_recv(fds[0], &when, sizeof(when), 10000), 0);
            lag = woke - when;
            worst = lag > worst ? lag : worst;
            /* The lost wakeup cost a 50 ms chunk; a busy machine may cost
             * a few ms any time, rarely more. */
            late += lag > 40 * TU_MS;
            kill(pid, SIGKILL);
            tu_wait(pid, 5000);
            close(fds[0]);
            close(fds[1]);
            fbus_writer_close(w);
        }
        printf("%s: wait_readers woke at worst %.1f ms after the registration; %d of %d late\n",
               tu_transport_name(t), worst / 1e6, late, rounds);
        assert_true(late <= rounds / 8);
        tu_bus_cleanup(c->name);
    }
}

/* ------------------------- 6. a region move past a dead lossless reader */

static void test_move_with_dead_lossless(void **state)
{
    struct tu_fixture *c = *state;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        struct reader_arg a = {c, t, FBUS_POLICY_LOSSLESS, 0, 1000, -1, 0, 0, 0};
        fbus_format big;
        fbus_slot slot;
        fbus_stats st;
        fbus_writer *w;
        int64_t t0, took;
        int rfd;
        pid_t pid;

        w = open_writer(c, t, 3);
        pid = start_reader(&a, &rfd);
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        kill(pid, SIGKILL);
        assert_int_equal(tu_wait(pid, 5000), 128 + SIGKILL);
        close(rfd);
        /* A bigger format than the slots: the writer moves. It must not
         * wait for the dead reader (its reservation's lock is free). */
        assert_int_equal(fbus_format_init(&big, "gray", 640, 480, 0), 0);
        t0 = tu_now_ns();
        assert_int_equal(fbus_writer_acquire(w, &big, 10 * TU_SEC, &slot), 0);
        took = tu_now_ns() - t0;
        tu_fill(&slot, slot.seq);
        assert_int_equal(fbus_writer_publish(w, &slot, NULL), 0);
        if (took > TU_SEC)
            fail_msg("%s: the move waited %.0f ms for a dead reader", tu_transport_name(t),
                     took / 1e6);
        assert_int_equal(fbus_stat(c->name, t, &st), 0);
        assert_int_equal(st.reserve_expired, 0);
        assert_int_equal(st.slot_size >= big.size, 1);
        /* The caller's timeout bounds the move too: a poll does not wait. */
        fbus_writer_close(w);
        tu_bus_cleanup(c->name);
    }
}

/* --------------------------- 7. a stopped lossless reader loses its lease */

static void test_stopped_reader_demoted(void **state)
{
    struct tu_fixture *c = *state;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        fbus_writer_opts o = {.transport = t, .slots = 3, .lease_ns = 200 * TU_MS};
        fbus_reader_opts ro = {.transport = t,
                               .policy = FBUS_POLICY_LOSSLESS,
                               .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
        fbus_reader *r = NULL;
        fbus_writer *w;
        fbus_stats st;
        fbus_frame fr;
        uint64_t dropped = 0, last = 0;
        int overruns = 0, rc;
        int64_t t0;

        /* The reader is in this process: "stopped" is simply not calling
         * it, which is what SIGSTOP looks like from the writer's side. */
        w = open_writer_opts(c, &o);
        assert_int_equal(fbus_reader_open(c->name, &ro, &r), 0);
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
        assert_int_equal(fr.seq, 1);
        /* Holding frame 1: the writer can fill the two other slots, then
         * waits for us until the lease runs out, and goes on. */
        t0 = tu_now_ns();
        for (int i = 0; i < 10; i++) {
            rc = tu_publish(w, &c->fmt, 5 * TU_SEC, NULL);
            if (rc != 0)
                fail_msg("%s: publish %d with a stopped reader: %s", tu_transport_name(t), i + 2,
                         fbus_strerror(rc));
        }
        assert_true(tu_now_ns() - t0 >= 150 * TU_MS);
        assert_int_equal(fbus_stat(c->name, t, &st), 0);
        assert_int_equal(st.demotions, 1);
        assert_int_equal(st.readers[0].demoted, 1);
        /* It wakes: the frame it held was taken (an overrun), the ones it
         * missed are drops, and it is lossless again afterwards. */
        rc = fbus_reader_release(r, &fr);
        overruns += rc == FBUS_EOVERRUN;
        last = fr.seq;
        while ((rc = fbus_reader_acquire(r, 0, &fr)) == 0) {
            assert_true(fr.seq > last);
            dropped += fr.dropped;
            last = fr.seq;
            assert_true(tu_verify(&fr, fr.seq));
            assert_int_equal(fbus_reader_release(r, &fr), 0);
        }
        assert_int_equal(rc, -EAGAIN);
        assert_int_equal(last, 11);
        assert_true(dropped > 0 || overruns > 0);
        assert_int_equal(fbus_stat(c->name, t, &st), 0);
        assert_int_equal(st.readers[0].demoted, 0);
        assert_true(st.readers[0].drops == dropped);
        /* Held back again: it has released frame 11, so with three slots
         * frames 12 to 14 fit and frame 15 waits for it (a poll fails). */
        for (int i = 0; i < 3; i++)
            assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_int_equal(tu_publish(w, &c->fmt, 0, NULL), -EAGAIN);
        fbus_reader_close(r);
        fbus_writer_close(w);
        tu_bus_cleanup(c->name);
    }
}

/* A real SIGSTOP, in another process, with a writer that waits forever. */
static void test_sigstopped_reader_demoted(void **state)
{
    struct tu_fixture *c = *state;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        struct reader_arg a = {c, t, FBUS_POLICY_LOSSLESS, 0, 1000, -1, 1, 0, 0};
        fbus_writer_opts o = {.transport = t, .slots = 2, .lease_ns = 200 * TU_MS};
        fbus_stats st;
        fbus_writer *w;
        uint64_t got;
        int rfd, status;
        pid_t pid;

        w = open_writer_opts(c, &o);
        pid = start_reader(&a, &rfd);
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_int_equal(tu_recv(rfd, &got, sizeof(got), 5000), 0);
        assert_int_equal(got, 1);
        kill(pid, SIGSTOP);
        for (int i = 0; i < 6; i++)
            assert_int_equal(tu_publish(w, &c->fmt, -1, NULL), 0);
        assert_int_equal(fbus_stat(c->name, t, &st), 0);
        assert_int_equal(st.demotions, 1);
        kill(pid, SIGCONT);
        /* The child insists on no drops: it must fail, having seen some. */
        fbus_writer_close(w);
        status = tu_wait(pid, 10000);
        assert_int_equal(status, 5);
        close(rfd);
        tu_bus_cleanup(c->name);
    }
}

/* ------------- 8. a SIGSTOPped reader reserved but not attached: the bound */

static void test_reserved_stopped_bound(void **state)
{
    struct tu_fixture *c = *state;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        struct reader_arg a = {c, t, FBUS_POLICY_LOSSLESS, FBUS_READER_WAIT, 1, -1, 0, 0, 0};
        fbus_writer_opts o = {.transport = t, .reserve_timeout_ns = 300 * TU_MS};
        fbus_stats st;
        fbus_writer *w;
        int64_t t0, took;
        int rfd;
        pid_t pid;

        /* Open (reservation made, no bus yet), then stopped before it can
         * see the bus appear. */
        pid = start_reader(&a, &rfd);
        kill(pid, SIGSTOP);
        assert_int_equal(count_reservations(c->name), 1);
        w = open_writer_opts(c, &o);
        t0 = tu_now_ns();
        assert_int_equal(tu_publish(w, &c->fmt, 10 * TU_SEC, NULL), 0);
        took = tu_now_ns() - t0;
        if (took < 250 * TU_MS || took > 1500 * TU_MS)
            fail_msg("%s: first frame waited %.0f ms for a stopped reserved reader (bound 300)",
                     tu_transport_name(t), took / 1e6);
        assert_int_equal(fbus_stat(c->name, t, &st), 0);
        assert_int_equal(st.reserve_expired, 1);
        /* The later frames do not wait for it at all. */
        t0 = tu_now_ns();
        for (int i = 0; i < 5; i++)
            assert_int_equal(tu_publish(w, &c->fmt, 10 * TU_SEC, NULL), 0);
        assert_true(tu_now_ns() - t0 < 200 * TU_MS);
        /* Close keeps the name for it, within the bound only. */
        t0 = tu_now_ns();
        fbus_writer_close(w);
        took = tu_now_ns() - t0;
        if (took > 1500 * TU_MS)
            fail_msg("%s: close waited %.0f ms for a stopped reserved reader (bound 300)",
                     tu_transport_name(t), took / 1e6);
        kill(pid, SIGKILL);
        kill(pid, SIGCONT);
        tu_wait(pid, 5000);
        close(rfd);
        tu_bus_cleanup(c->name);
        remove_reservations(c->name);
    }
}

/* ------------------------------------- 9. publish checks an edited format */

static void test_publish_edited_format(void **state)
{
    struct tu_fixture *c = *state;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        fbus_reader_opts ro = {.transport = t, .policy = FBUS_POLICY_LOSSLESS};
        fbus_writer *w = open_writer(c, t, 3);
        fbus_reader *r = NULL;
        fbus_slot slot;
        fbus_frame fr;
        struct {
            const char *what;
            void (*edit)(fbus_format *f);
        } edits[] = {
            {"stride beyond the slot", NULL},
            {"no planes", NULL},
            {"plane past the end", NULL},
            {"no pixel format name", NULL},
        };

        assert_int_equal(fbus_reader_open(c->name, &ro, &r), 0);
        for (size_t e = 0; e < sizeof(edits) / sizeof(edits[0]); e++) {
            assert_int_equal(fbus_writer_acquire(w, &c->fmt, TU_SEC, &slot), 0);
            switch (e) {
            case 0:
                slot.format.planes[0].stride = 1u << 30;
                break;
            case 1:
                slot.format.nb_planes = 0;
                break;
            case 2:
                slot.format.planes[0].offset = slot.format.size;
                break;
            default:
                memset(slot.format.pix_fmt, 0, sizeof(slot.format.pix_fmt));
                break;
            }
            if (fbus_writer_publish(w, &slot, NULL) != FBUS_EFORMAT)
                fail_msg("%s: publish of an edited format (%s) was not refused",
                         tu_transport_name(t), edits[e].what);
            fbus_writer_cancel(w, &slot);
        }
        /* Nothing reached the reader; a good frame does, as frame 1. */
        assert_int_equal(fbus_reader_acquire(r, 0, &fr), -EAGAIN);
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
        assert_int_equal(fr.seq, 1);
        assert_true(tu_verify(&fr, 1));
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        fbus_reader_close(r);
        fbus_writer_close(w);
        tu_bus_cleanup(c->name);
    }
}

/* ----------------------------------------------------- 10. fork safety */

static void test_forked_handles(void **state)
{
    struct tu_fixture *c = *state;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        fbus_reader_opts ro = {.transport = t,
                               .policy = FBUS_POLICY_LOSSLESS,
                               .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
        fbus_writer *w = open_writer(c, t, 3);
        fbus_reader *r = NULL, *idle = NULL;
        fbus_frame fr;
        pid_t pid;
        int st;

        assert_int_equal(fbus_reader_open(c->name, &ro, &r), 0);
        ro.policy = FBUS_POLICY_LATEST;
        assert_int_equal(fbus_reader_open(c->name, &ro, &idle), 0);
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
        fflush(NULL);
        pid = fork();
        if (pid == 0) {
            fbus_slot slot;
            int bad = 0;
            bad |= fbus_reader_release(r, &fr) != -ECHILD;
            bad |= (fbus_reader_acquire(idle, 0, &fr) != -ECHILD) << 1;
            bad |= (fbus_writer_acquire(w, &c->fmt, 0, &slot) != -ECHILD) << 2;
            bad |= (fbus_writer_wait_readers(w, 1, 0) != -ECHILD) << 3;
            /* Closing the copies must leave the parent's bus alone. */
            fbus_reader_close(r);
            fbus_reader_close(idle);
            fbus_writer_close(w);
            _exit(bad);
        }
        assert_true(pid > 0);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        /* The parent's handles still work: the bus is live, the entry ours. */
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
        assert_int_equal(fr.seq, 2);
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        assert_int_equal(fbus_writer_readers(w), 2);
        assert_int_equal(fbus_reader_acquire(idle, TU_SEC, &fr), 0);
        assert_int_equal(fr.seq, 2);
        assert_int_equal(fbus_reader_release(idle, &fr), 0);
        fbus_reader_close(idle);
        fbus_reader_close(r);
        fbus_writer_close(w);
        tu_bus_cleanup(c->name);
    }
}

/* A child that outlives its SIGKILLed producer parent does not keep the
 * producer looking alive: readers learn at once, a new producer takes over. */
static void test_fork_child_outlives_producer(void **state)
{
    struct tu_fixture *c = *state;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        struct killed_writer_arg a = {c, t, -1, 1, -1};
        fbus_reader_opts ro = {.transport = t, .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
        fbus_reader *r = NULL;
        fbus_writer *w = NULL;
        fbus_frame fr;
        pid_t pid, kid = 0;
        int fds[2], kfds[2], rc;
        int64_t t0;
        char byte;

        assert_int_equal(pipe(fds), 0);
        assert_int_equal(pipe(kfds), 0);
        a.to_parent = fds[1];
        a.kid_fd = kfds[1];
        pid = tu_fork(child_killed_writer, &a, 30);
        assert_int_equal(tu_recv(fds[0], &kid, sizeof(kid), 10000), 0);
        assert_int_equal(tu_recv(kfds[0], &byte, 1, 10000), 0); /* the kid's verdict */
        assert_int_equal(byte, 'c');
        close(kfds[0]);
        close(kfds[1]);
        assert_int_equal(tu_recv(fds[0], &byte, 1, 10000), 0);
        assert_int_equal(fbus_reader_open(c->name, &ro, &r), 0);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        kill(pid, SIGKILL);
        assert_int_equal(tu_wait(pid, 5000), 128 + SIGKILL);
        assert_int_equal(kill(kid, 0), 0); /* the child lives on */
        t0 = tu_now_ns();
        rc = fbus_reader_acquire(r, 3 * TU_SEC, &fr);
        if (rc != FBUS_EPRODUCERGONE) {
            char cmd[128];
            snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd >&2", (int)kid);
            (void)system(cmd);
            fail_msg("%s: a reader of the dead producer got %s with its child alive",
                     tu_transport_name(t), fbus_strerror(rc));
        }
        assert_true(tu_now_ns() - t0 < 500 * TU_MS);
        rc = fbus_writer_open(c->name, &(fbus_writer_opts){.transport = t, .format = &c->fmt}, &w);
        if (rc != 0)
            fail_msg("%s: restart with the dead producer's child alive: %s", tu_transport_name(t),
                     fbus_strerror(rc));
        fbus_writer_close(w);
        fbus_reader_close(r);
        kill(kid, SIGKILL);
        close(fds[0]);
        close(fds[1]);
        tu_bus_cleanup(c->name);
    }
}

/* ----------------------------------------- found while trying to break it */

/*
 * A lossless reader that follows restarts (keeps calling acquire after the
 * end, as the API invites) detaches from the ended region at once. The
 * writer's close must not then take it for a reserved reader that never
 * came, and hold the name for the whole bound.
 */
static void test_close_with_following_reader(void **state)
{
    struct tu_fixture *c = *state;
    const int rounds = TU_TSAN ? 4 : 10;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        int slow = 0;
        int64_t worst = 0;

        for (int round = 0; round < rounds; round++) {
            struct reader_arg a = {c, t, FBUS_POLICY_LOSSLESS, FBUS_READER_WAIT, 3, -1, 1, 1, 0};
            fbus_writer *w;
            fbus_stats st;
            uint64_t got;
            int64_t t0, took;
            int rfd;
            pid_t pid;

            w = open_writer(c, t, 3);
            pid = start_reader(&a, &rfd);
            for (uint64_t s = 1; s <= 3; s++) {
                assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
                assert_int_equal(tu_recv(rfd, &got, sizeof(got), 5000), 0);
                assert_int_equal(got, s);
            }
            tu_sleep_ms(5); /* the reader is asleep in acquire again */
            t0 = tu_now_ns();
            fbus_writer_close(w);
            took = tu_now_ns() - t0;
            worst = took > worst ? took : worst;
            slow += took > 500 * TU_MS;
            assert_int_equal(fbus_stat(c->name, t, &st), -ENOENT);
            kill(pid, SIGKILL);
            tu_wait(pid, 5000);
            close(rfd);
            remove_reservations(c->name);
        }
        if (slow)
            fail_msg("%s: %d of %d closes waited for a reader that had read the whole stream "
                     "(worst %.0f ms)",
                     tu_transport_name(t), slow, rounds, worst / 1e6);
        tu_bus_cleanup(c->name);
    }
}

/*
 * Lossless readers opening at the same moment each clear away dead
 * reservations first: none may take another's fresh file for a dead one
 * (created, not yet locked) and remove it, or the writer would not wait for
 * that reader and it would miss the stream's first frames.
 */
struct rsv_arg {
    const struct tu_fixture *c;
    int go;        /* read end: one byte starts everyone */
    int to_parent; /* 'o' once open */
};

static int child_reserves(void *arg)
{
    const struct rsv_arg *a = arg;
    fbus_reader_opts o = {.policy = FBUS_POLICY_LOSSLESS, .flags = FBUS_READER_WAIT};
    fbus_reader *r = NULL;
    char byte;

    if (tu_recv(a->go, &byte, 1, 20000) != 0)
        return 2;
    if (fbus_reader_open(a->c->name, &o, &r) != 0)
        return 3;
    byte = 'o';
    if (tu_send(a->to_parent, &byte, 1) != 0)
        return 4;
    for (;;)
        pause();
}

static void test_concurrent_reservations(void **state)
{
    struct tu_fixture *c = *state;
    enum { N = 6 };
    const int rounds = TU_TSAN ? 10 : 60;
    int lost = 0;

    for (int round = 0; round < rounds; round++) {
        struct rsv_arg a = {c, -1, -1};
        int go[2], back[2], n;
        pid_t pids[N];
        char byte = 'g';

        assert_int_equal(pipe(go), 0);
        assert_int_equal(pipe(back), 0);
        a.go = go[0];
        a.to_parent = back[1];
        for (int i = 0; i < N; i++)
            pids[i] = tu_fork(child_reserves, &a, 30);
        for (int i = 0; i < N; i++)
            assert_int_equal(tu_send(go[1], &byte, 1), 0);
        for (int i = 0; i < N; i++)
            assert_int_equal(tu_recv(back[0], &byte, 1, 10000), 0);
        n = count_reservations(c->name);
        lost += N - n;
        for (int i = 0; i < N; i++) {
            kill(pids[i], SIGKILL);
            tu_wait(pids[i], 5000);
        }
        close(go[0]);
        close(go[1]);
        close(back[0]);
        close(back[1]);
        remove_reservations(c->name);
    }
    if (lost)
        fail_msg("%d reservations of %d lossless readers vanished while they lived", lost,
                 N * rounds);
}

/*
 * A writer that polls (timeout 0, e.g. one that drops a frame rather than
 * wait) must also demote a stopped lossless reader after the lease.
 */
static void test_polling_writer_lease(void **state)
{
    struct tu_fixture *c = *state;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        fbus_writer_opts o = {.transport = t, .slots = 2, .lease_ns = 100 * TU_MS};
        fbus_reader_opts ro = {.transport = t,
                               .policy = FBUS_POLICY_LOSSLESS,
                               .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
        fbus_reader *r = NULL;
        fbus_writer *w;
        fbus_frame fr;
        int64_t until;
        int rc;

        w = open_writer_opts(c, &o);
        assert_int_equal(fbus_reader_open(c->name, &ro, &r), 0);
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        /* Both slots needed by the stopped reader: polls fail, until the
         * lease runs out. */
        until = tu_now_ns() + 3 * TU_SEC;
        while ((rc = tu_publish(w, &c->fmt, 0, NULL)) == -EAGAIN && tu_now_ns() < until)
            tu_sleep_ms(5);
        if (rc != 0)
            fail_msg("%s: a polling writer is still held by a stopped reader after 3 s "
                     "(lease 100 ms): %s",
                     tu_transport_name(t), fbus_strerror(rc));
        (void)fbus_reader_release(r, &fr);
        fbus_reader_close(r);
        fbus_writer_close(w);
        tu_bus_cleanup(c->name);
    }
}

/*
 * A reader killed right after it claimed an entry, the first entry past
 * the table's high-water mark: its entry must still be reclaimed (the mark
 * has to cover a claimed entry, or the writer's scans never look at it).
 */
static void die_at(const char *where)
{
    if (strcmp(where, "register:claimed") == 0)
        raise(SIGKILL);
}

static int child_dies_claiming(void *arg)
{
    const struct reader_arg *a = arg;
    fbus_reader_opts o = {.transport = a->t, .policy = FBUS_POLICY_LOSSLESS};
    fbus_reader *r = NULL;

    fbus__test_hook = die_at;
    (void)fbus_reader_open(a->c->name, &o, &r);
    return 2; /* not reached */
}

/* A lossless reader that reserved the name while a stream was live but
 * attaches only after it ended does not read it (that stream was made
 * before its reservation), so the writer's close must not keep the name for
 * it: it returned after the whole reserve bound (2 s) in 1 close in 10 when
 * the timing fell so. One reserved before the stream was made is still
 * waited for (it will read the ended stream). */
static void test_close_not_held_by_late_reservation(void **state)
{
    struct tu_fixture *c = *state;
    fbus_writer_opts o = {.format = &c->fmt, .reserve_timeout_ns = 3 * TU_SEC};
    struct fbus__reservation rv;
    fbus_writer *w;
    int64_t t0, took;

    /* Late: reserved after the stream was made. */
    w = open_writer_opts(c, &o);
    assert_non_null(w);
    assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
    tu_sleep_ms(2); /* the realtime clock moves on past the stream's creation */
    assert_int_equal(fbus__reserve_make(c->name, FBUS_TRANSPORT_POSIX, &rv), 0);
    t0 = tu_now_ns();
    fbus_writer_close(w);
    took = tu_now_ns() - t0;
    print_message("close with a later reservation: %.1f ms\n", (double)took / 1e6);
    assert_true(took < 2 * TU_SEC);

    /* Early: this one reserved before the next stream was made, and the
     * close keeps the name for it until the bound. */
    w = open_writer_opts(c, &o);
    assert_non_null(w);
    t0 = tu_now_ns();
    fbus_writer_close(w);
    took = tu_now_ns() - t0;
    print_message("close with an earlier reservation: %.1f ms\n", (double)took / 1e6);
    assert_true(took >= 2 * TU_SEC);
    fbus__reserve_drop(&rv);
}

/*
 * A writer opening the name while its producer closes, between the
 * producer's check that the name is still its own and its unlink (a test
 * hook there): the newcomer takes over the ended region, and the closing
 * producer used to remove the newcomer's fresh name (found by a tester
 * with a delay shim): the newcomer got 0, its bus had no name, and a third
 * writer got it too. Now either the newcomer is refused (the closing one
 * holds the takeover lock) or its bus keeps the name.
 */
static const char *race_name;
static fbus_transport race_transport;
static fbus_writer *race_writer;
static int race_rc, race_fired;

static void open_during_unlink(const char *where)
{
    fbus_writer_opts o = {.transport = race_transport};
    fbus_format f;

    if (strcmp(where, "unlink:checked") != 0 || race_fired)
        return;
    race_fired = 1;
    fbus_format_init(&f, "gray", 64, 64, 0);
    o.format = &f;
    race_rc = fbus_writer_open(race_name, &o, &race_writer);
}

static void test_open_during_close(void **state)
{
    struct tu_fixture *c = *state;

    for (int k = 0; k < 2; k++) {
        fbus_writer_opts o = {.transport = tu_transports[k], .format = &c->fmt};
        fbus_writer *w, *third = NULL;
        fbus_stats st;
        int rc;

        assert_int_equal(fbus_writer_open(c->name, &o, &w), 0);
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        race_name = c->name;
        race_transport = tu_transports[k];
        race_writer = NULL;
        race_fired = 0;
        fbus__test_hook = open_during_unlink;
        fbus_writer_close(w);
        fbus__test_hook = NULL;
        assert_true(race_fired);
        if (race_rc == 0) {
            /* It won: the name is its bus. */
            assert_int_equal(fbus_stat(c->name, tu_transports[k], &st), 0);
            assert_int_equal(st.state, FBUS_STATE_LIVE);
            assert_int_equal(st.producer_pid, getpid());
            rc = fbus_writer_open(c->name, &o, &third);
            assert_int_not_equal(rc, 0);
            fbus_writer_close(race_writer);
        } else {
            assert_int_equal(race_rc, FBUS_EBUSY);
            /* Refused while the name was going; free once it is gone. */
            assert_int_equal(fbus_writer_open(c->name, &o, &third), 0);
            fbus_writer_close(third);
        }
    }
}

/* A writer taking over our ended region dies holding its takeover lock
 * while we close: the close waits for the lock, finds the name still ours
 * and removes it (it used to skip the removal and leave an ended region
 * under the name: found by a tester). */
struct taker_arg {
    const char *name;
    fbus_transport t;
    int fd; /* a byte once the lock is held */
};

static int taker_dies_holding(void *p)
{
    struct taker_arg *a = p;
    struct fbus__region rg;
    char one = 1;

    if (fbus__region_attach(a->name, a->t, 1, &rg) != 0)
        CHILD_FAIL(2, "taker: cannot attach");
    if (fbus__lock_take(rg.map.lockfd, FBUS__LOCK_TAKEOVER) != 0)
        CHILD_FAIL(3, "taker: cannot take the takeover lock");
    if (write(a->fd, &one, 1) != 1)
        return 4;
    tu_sleep_ms(300);
    kill(getpid(), SIGKILL);
    return 5;
}

static void test_close_after_taker_died(void **state)
{
    struct tu_fixture *c = *state;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        fbus_writer *w = open_writer(c, t, 2);
        int fds[2];
        struct taker_arg a;
        fbus_stats st;
        pid_t pid;
        char b;

        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_int_equal(pipe(fds), 0);
        a = (struct taker_arg){c->name, t, fds[1]};
        pid = tu_fork(taker_dies_holding, &a, 30);
        assert_int_equal(read(fds[0], &b, 1), 1);
        fbus_writer_close(w);
        assert_int_equal(tu_wait(pid, 5000), 128 + SIGKILL);
        if (fbus_stat(c->name, t, &st) != -ENOENT)
            fail_msg("%s: the closed writer's name is still there (state %d)", tu_transport_name(t),
                     st.state);
        close(fds[0]);
        close(fds[1]);
    }
}

/* A thread of the producer's process forks while the producer opens its
 * bus: the child must not inherit the producer's lock, or the producer,
 * once dead, looks alive while the child lives and its name cannot be
 * taken over (found by a tester). The fork comes from a hook in the open,
 * after the region is made (the gate makes it wait for the open's end). */
static pid_t forked_pid;
/* If open, the forked child writes a byte here once it runs: its atfork
 * handlers have run by then (fork() returns in the parent before). */
static int forked_ran[2] = {-1, -1};

static void *fork_sleeper(void *p)
{
    pid_t pid;

    (void)p;
    pid = fork();
    if (pid == 0) {
        char b = 'g';

        if (forked_ran[1] >= 0 && write(forked_ran[1], &b, 1) != 1)
            _exit(1);
        sleep(10);
        _exit(0);
    }
    forked_pid = pid;
    return NULL;
}

static pthread_t fork_thread;

/* Fork from a thread, once, at hook point fork_at (the gate makes the fork
 * wait for the step around the hook to end). */
static const char *fork_at;

static void fork_in_hook(const char *where)
{
    if (!fork_at || strcmp(where, fork_at) != 0)
        return;
    fork_at = NULL;
    if (pthread_create(&fork_thread, NULL, fork_sleeper, NULL) == 0)
        tu_sleep_ms(100); /* without the gate, the fork is done by now */
}

struct forker_arg {
    const struct tu_fixture *c;
    fbus_transport t;
    int fd; /* the grandchild's pid, then we die */
};

static int producer_forks_in_open(void *p)
{
    struct forker_arg *a = p;
    fbus_writer_opts o = {.transport = a->t, .format = &a->c->fmt, .slots = 2};
    fbus_writer *w = NULL;

    fork_at = "create:made";
    fbus__test_hook = fork_in_hook;
    if (fbus_writer_open(a->c->name, &o, &w) != 0)
        CHILD_FAIL(2, "producer: open failed");
    fbus__test_hook = NULL;
    pthread_join(fork_thread, NULL);
    if (tu_publish(w, &a->c->fmt, TU_SEC, NULL) != 0)
        CHILD_FAIL(3, "producer: publish failed");
    if (write(a->fd, &forked_pid, sizeof(forked_pid)) != sizeof(forked_pid))
        return 4;
    kill(getpid(), SIGKILL);
    return 5;
}

static void test_fork_during_open(void **state)
{
    struct tu_fixture *c = *state;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        struct forker_arg a;
        fbus_writer_opts o = {.transport = t, .format = &c->fmt};
        fbus_writer *w = NULL;
        pid_t pid, grandchild = -1;
        int fds[2], rc = -1;
        int64_t until;

        assert_int_equal(pipe(fds), 0);
        a = (struct forker_arg){c, t, fds[1]};
        pid = tu_fork(producer_forks_in_open, &a, 30);
        assert_int_equal(read(fds[0], &grandchild, sizeof(grandchild)), sizeof(grandchild));
        assert_int_equal(tu_wait(pid, 5000), 128 + SIGKILL);
        assert_true(grandchild > 0);
        /* The producer is dead; the child it forked lives on. */
        until = tu_now_ns() + 3 * TU_SEC;
        while ((rc = fbus_writer_open(c->name, &o, &w)) != 0 && tu_now_ns() < until)
            tu_sleep_ms(50);
        kill(grandchild, SIGKILL);
        waitpid(grandchild, NULL, 0);
        if (rc != 0)
            fail_msg("%s: a dead producer's bus cannot be taken over while a child forked "
                     "during its open lives: %d (%s)",
                     tu_transport_name(t), rc, fbus_strerror(rc));
        fbus_writer_close(w);
        close(fds[0]);
        close(fds[1]);
    }
}

/* A writer that finds the name going while it looks at the region there
 * (between its two opens of the name, as when the region's writer closes)
 * looks again and takes the name, instead of calling the region another's
 * (-EEXIST; found by a tester). POSIX: the two opens are shm_open's. The
 * hook removes the name as the closing writer's close would. */
static const char *going_name;

static void name_goes_during_attach(const char *where)
{
    char path[FBUS_NAME_MAX + 16];

    if (strcmp(where, "attach:mapped") == 0 && going_name) {
        fbus__posix_path(going_name, path, sizeof(path));
        shm_unlink(path);
        going_name = NULL;
    }
}

static void test_open_while_name_goes(void **state)
{
    struct tu_fixture *c = *state;
    fbus_writer_opts o = {.transport = FBUS_TRANSPORT_POSIX, .format = &c->fmt};
    fbus_writer *a = open_writer(c, FBUS_TRANSPORT_POSIX, 2), *b = NULL;
    fbus_stats st;
    int rc;

    assert_int_equal(tu_publish(a, &c->fmt, TU_SEC, NULL), 0);
    going_name = c->name;
    fbus__test_hook = name_goes_during_attach;
    rc = fbus_writer_open(c->name, &o, &b);
    fbus__test_hook = NULL;
    assert_null(going_name); /* the hook ran */
    if (rc != 0)
        fail_msg("open while the old name goes: %d (%s)", rc, fbus_strerror(rc));
    assert_int_equal(fbus_stat(c->name, FBUS_TRANSPORT_POSIX, &st), 0);
    assert_int_equal(st.state, FBUS_STATE_LIVE);
    assert_int_equal(st.session, fbus_writer_session(b));
    /* The old writer's close leaves the new name alone. */
    fbus_writer_close(a);
    assert_int_equal(fbus_stat(c->name, FBUS_TRANSPORT_POSIX, &st), 0);
    assert_int_equal(st.session, fbus_writer_session(b));
    fbus_writer_close(b);
}

/* The same for a lossless reader's reservation, locked from its creation:
 * a child forked while the reader opens must not keep it, or a dead
 * reader's reservation looks alive and every session's writer waits for it
 * (found by a tester). */
static int reader_forks_in_open(void *p)
{
    struct forker_arg *a = p;
    fbus_reader_opts ro = {
        .transport = a->t, .policy = FBUS_POLICY_LOSSLESS, .flags = FBUS_READER_WAIT};
    fbus_reader *r = NULL;

    fork_at = "reserve:made";
    fbus__test_hook = fork_in_hook;
    if (fbus_reader_open(a->c->name, &ro, &r) != 0)
        CHILD_FAIL(2, "reader: open failed");
    fbus__test_hook = NULL;
    pthread_join(fork_thread, NULL);
    if (write(a->fd, &forked_pid, sizeof(forked_pid)) != sizeof(forked_pid))
        return 4;
    kill(getpid(), SIGKILL);
    return 5;
}

/* How many reservations of `name` have their reader's lock held. */
static int live_reservations(const char *name)
{
    char prefix[FBUS_NAME_MAX + 32], path[300];
    DIR *d = opendir("/dev/shm");
    struct dirent *de;
    int n = 0;

    snprintf(prefix, sizeof(prefix), "framebus-rsv.%s.", name);
    while (d && (de = readdir(d)) != NULL) {
        int fd;

        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
            continue;
        snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && fbus__lock_held(fd, 0) == 1)
            n++;
        if (fd >= 0)
            close(fd);
    }
    if (d)
        closedir(d);
    return n;
}

static void test_fork_during_reserve(void **state)
{
    struct tu_fixture *c = *state;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        struct forker_arg a;
        pid_t pid, grandchild = -1;
        int fds[2], live;

        char b;

        assert_int_equal(pipe(fds), 0);
        assert_int_equal(pipe(forked_ran), 0);
        a = (struct forker_arg){c, t, fds[1]};
        pid = tu_fork(reader_forks_in_open, &a, 30);
        assert_int_equal(read(fds[0], &grandchild, sizeof(grandchild)), sizeof(grandchild));
        assert_int_equal(tu_wait(pid, 5000), 128 + SIGKILL);
        assert_true(grandchild > 0);
        assert_int_equal(tu_recv(forked_ran[0], &b, 1, 10000), 0);
        close(forked_ran[0]);
        close(forked_ran[1]);
        forked_ran[0] = forked_ran[1] = -1;
        assert_int_equal(count_reservations(c->name), 1);
        /* The reader is dead; the child it forked lives on. */
        live = live_reservations(c->name);
        kill(grandchild, SIGKILL);
        waitpid(grandchild, NULL, 0);
        remove_reservations(c->name);
        if (live != 0)
            fail_msg("%s: a dead reader's reservation is held by a child forked during its "
                     "open",
                     tu_transport_name(t));
        close(fds[0]);
        close(fds[1]);
    }
}

static void test_killed_while_claiming_first_entry(void **state)
{
    struct tu_fixture *c = *state;

    for (int k = 0; k < 2; k++) {
        fbus_transport t = tu_transports[k];
        struct reader_arg a = {c, t, FBUS_POLICY_LOSSLESS, 0, 0, -1, 0, 0, 0};
        fbus_writer *w = open_writer(c, t, 2);
        struct fbus__reader_entry *e;
        struct peek p;
        int64_t until;
        pid_t pid;

        peek_open(c->name, t, &p);
        pid = tu_fork(child_dies_claiming, &a, 30);
        assert_int_equal(tu_wait(pid, 5000), 128 + SIGKILL);
        e = peek_entry(&p, 0);
        assert_int_equal(FBUS__ENTRY_KIND(atomic_load(&e->state)), FBUS__ENTRY_CLAIMED);
        /* The heartbeat reclaims once a second. */
        until = tu_now_ns() + 5 * TU_SEC;
        while (FBUS__ENTRY_KIND(atomic_load(&e->state)) != FBUS__ENTRY_FREE && tu_now_ns() < until)
            tu_sleep_ms(20);
        if (FBUS__ENTRY_KIND(atomic_load(&e->state)) != FBUS__ENTRY_FREE)
            fail_msg("%s: the entry of a reader killed while claiming it is never reclaimed "
                     "(readers_hw %u)",
                     tu_transport_name(t), atomic_load(&p.h->readers_hw));
        tu_region_unmap(&p.reg);
        fbus_writer_close(w);
        tu_bus_cleanup(c->name);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_reader_in_other_pidns),
        T(test_reclaim_aba),
        T(test_restart_after_sigkill),
        T(test_waiting_mask_leak),
        T(test_wait_readers_prompt),
        T(test_move_with_dead_lossless),
        T(test_stopped_reader_demoted),
        T(test_sigstopped_reader_demoted),
        T(test_reserved_stopped_bound),
        T(test_publish_edited_format),
        T(test_forked_handles),
        T(test_fork_child_outlives_producer),
        T(test_close_with_following_reader),
        T(test_concurrent_reservations),
        T(test_polling_writer_lease),
        T(test_killed_while_claiming_first_entry),
        T(test_close_not_held_by_late_reservation),
        T(test_open_during_close),
        T(test_close_after_taker_died),
        T(test_fork_during_open),
        T(test_open_while_name_goes),
        T(test_fork_during_reserve),
    };
#undef T

    setvbuf(stdout, NULL, _IONBF, 0);
    /* FBUS_TEST_FILTER=test_name runs one test (cmocka pattern). */
    if (getenv("FBUS_TEST_FILTER"))
        cmocka_set_test_filter(getenv("FBUS_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
