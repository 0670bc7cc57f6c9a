/* SPDX-License-Identifier: MIT */
/*
 * Fault injection with real processes, on both transports.
 *
 * Producer kills: in four lanes at once (four buses), 26 rounds each, a
 * producer publishing at full rate is SIGKILLed at a random point (often in
 * the middle of filling a slot) once a latest and a lossless reader have seen
 * its session; the next producer takes the name over. The readers must never
 * crash, never accept a frame whose contents (derived from its seq) are wrong
 * unless release said FBUS_EOVERRUN, keep their sequence rules within a
 * session, and see every producer's session (FBUS_FRAME_NEW_SESSION).
 *
 * Reader kills: 100 readers (random policy) are SIGKILLed at random points
 * while a writer publishes at full rate to two long-lived readers; the writer
 * never waits longer than the liveness bound, and at the end the reader table
 * holds exactly the live readers.
 *
 * With the programs built, `framebus cat --follow` goes through 10 producer
 * kills per transport and writes every frame each producer got out, intact.
 *
 * Both end with no /dev/shm entry and no SysV segment left behind.
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
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "layout.h"
#include "testutil.h"

#define LANES           4
#define ROUNDS_PER_LANE 26 /* the last one closes cleanly: 100 kills */
#define VICTIMS         100
/* A writer must never wait longer than this for anyone: the liveness
 * timeout (1 s) plus room for a loaded machine. */
#define STALL_LIMIT_NS (3 * TU_SEC)

enum { WHO_PRODUCER, WHO_LATEST, WHO_LOSSLESS };

/* What children tell their parent through a pipe (atomic: < PIPE_BUF). */
struct event {
    int32_t who;
    int32_t pad;
    uint64_t session;
};

/* What a reader found, sent when it stops. */
struct reader_result {
    uint64_t frames;
    uint64_t overruns;
    uint64_t torn;       /* wrong contents and release said 0 */
    uint64_t seq_errors; /* sequence rule broken within a session */
    uint64_t sessions;
    uint64_t errors; /* unexpected return codes */
    int64_t last_error;
};

/* What a writer found, sent when it stops. */
struct writer_result {
    uint64_t frames;
    int64_t max_stall_ns;
    uint64_t failures;
    int64_t last_error;
};

struct job {
    char name[FBUS_NAME_MAX + 1];
    fbus_transport t;
    fbus_policy policy;
    int who;
    int ev_fd;     /* events to the parent */
    int result_fd; /* result to the parent */
    unsigned seed;
};

static fbus_format fmt;
static volatile sig_atomic_t stop;

/* What the test process started, for teardown after a failed assertion. */
static pid_t kids[2 * VICTIMS];
static int nb_kids;
static char names[LANES + 2][FBUS_NAME_MAX + 1];
static int nb_names;

static pid_t spawn(tu_child_fn fn, void *arg, unsigned timeout_s)
{
    pid_t pid = tu_fork(fn, arg, timeout_s);

    if (pid > 0 && nb_kids < (int)(sizeof(kids) / sizeof(kids[0])))
        kids[nb_kids++] = pid;
    return pid;
}

static const char *remember(const char *name)
{
    if (nb_names < (int)(sizeof(names) / sizeof(names[0])))
        strcpy(names[nb_names++], name);
    return name;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < nb_kids; i++)
        if (kill(kids[i], SIGKILL) == 0)
            waitpid(kids[i], NULL, 0);
    for (int i = 0; i < nb_names; i++)
        tu_bus_cleanup(names[i]);
    nb_kids = nb_names = 0;
    return 0;
}

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

static void catch_term(void)
{
    struct sigaction sa = {.sa_handler = on_term};

    stop = 0;
    sigaction(SIGTERM, &sa, NULL);
}

/* ------------------------------------------------------------- children */

static int reader_main(void *arg)
{
    const struct job *j = arg;
    fbus_reader_opts ro = {.transport = j->t, .policy = j->policy, .flags = FBUS_READER_WAIT};
    struct reader_result res = {0};
    fbus_reader *r = NULL;
    uint64_t session = 0, last = 0;
    int rc, fresh = 0;

    default_signals();
    catch_term();
    rc = fbus_reader_open(j->name, &ro, &r);
    if (rc != 0) {
        fprintf(stderr, "reader: open: %s\n", fbus_strerror(rc));
        return 2;
    }
    while (!stop) {
        fbus_frame f;
        int ok;

        rc = fbus_reader_acquire(r, 100 * TU_MS, &f);
        if (rc == -ETIMEDOUT || rc == FBUS_EENDED || rc == FBUS_EPRODUCERGONE ||
            rc == FBUS_EREPLACED)
            continue;
        if (rc != 0) {
            if (!res.errors)
                fprintf(stderr, "reader %d: acquire: %s\n", j->who, fbus_strerror(rc));
            res.errors++;
            res.last_error = rc;
            continue;
        }
        res.frames++;
        if (f.flags & FBUS_FRAME_NEW_SESSION) {
            struct event ev = {j->who, 0, f.session};
            /* A reader may give up on a producer that seems stalled (a
             * loaded machine) and join the same session again when it
             * moves: then the sequence goes on, it never goes back. */
            if (f.session != session) {
                session = f.session;
                last = 0;
                res.sessions++;
                tu_send(j->ev_fd, &ev, sizeof(ev));
            }
            fresh = 1;
        } else if (f.session != session) {
            fprintf(stderr, "reader %d: session changed without FBUS_FRAME_NEW_SESSION\n", j->who);
            res.seq_errors++;
        }
        if (f.seq <= last ||
            (j->policy == FBUS_POLICY_LOSSLESS && !fresh && last && f.seq != last + 1)) {
            if (!res.seq_errors)
                fprintf(stderr, "reader %d: seq %llu after %llu, flags %x, session %llx\n", j->who,
                        (unsigned long long)f.seq, (unsigned long long)last, f.flags,
                        (unsigned long long)f.session);
            res.seq_errors++;
        }
        fresh = 0;
        last = f.seq;
        ok = tu_verify(&f, f.seq);
        rc = fbus_reader_release(r, &f);
        if (rc == FBUS_EOVERRUN) {
            res.overruns++;
        } else if (rc != 0) {
            res.errors++;
            res.last_error = rc;
        } else if (!ok) {
            res.torn++;
        }
    }
    fbus_reader_close(r);
    return tu_send(j->result_fd, &res, sizeof(res)) == 0 ? 0 : 3;
}

/* A producer: takes the name over (waiting out a dead predecessor), says
 * its session, then publishes as fast as it can until killed, or closes
 * cleanly on SIGTERM. */
static int producer_main(void *arg)
{
    const struct job *j = arg;
    fbus_writer_opts wo = {.transport = j->t, .format = &fmt};
    int64_t deadline = tu_now_ns() + 5 * TU_SEC;
    fbus_writer *w = NULL;
    struct event ev = {WHO_PRODUCER, 0, 0};
    int rc;

    default_signals();
    catch_term();
    while ((rc = fbus_writer_open(j->name, &wo, &w)) == FBUS_EBUSY && tu_now_ns() < deadline)
        tu_sleep_ms(5);
    if (rc != 0) {
        fprintf(stderr, "producer: open: %s\n", fbus_strerror(rc));
        return 10;
    }
    ev.session = fbus_writer_session(w);
    if (tu_send(j->ev_fd, &ev, sizeof(ev)) != 0)
        return 11;
    while (!stop) {
        rc = tu_publish(w, &fmt, STALL_LIMIT_NS, NULL);
        if (rc != 0) {
            fprintf(stderr, "producer: publish: %s\n", fbus_strerror(rc));
            return 12;
        }
    }
    fbus_writer_close(w);
    return 0;
}

/* ----------------------------------------------------------- inspection */

/* Whether anything of bus `name` is left: a /dev/shm entry, or a SysV
 * segment created by one of pids. */
/* Whether SysV segment id holds bus `name`'s region, or a blank one (a
 * producer killed before it wrote the header): a segment another program
 * made, by a process that got one of our dead producers' pids, is not
 * ours. One we cannot read is counted as ours. */
static int sysv_segment_is(int id, const char *name)
{
    const struct fbus__header *h = shmat(id, NULL, SHM_RDONLY);
    int ours;

    if (h == (void *)-1)
        return 1;
    ours = strncmp(h->name, name, sizeof(h->name)) == 0 || (h->magic == 0 && h->name[0] == '\0');
    shmdt(h);
    return ours;
}

static int leftovers(const char *name, const pid_t *pids, int n)
{
    char path[FBUS_NAME_MAX + 32], line[512];
    int found = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/dev/shm/framebus.%s", name);
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "left behind: %s\n", path);
        found = 1;
    }
    snprintf(path, sizeof(path), "/dev/shm/framebus-sysv.%s", name);
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "left behind: %s\n", path);
        found = 1;
    }
    f = fopen("/proc/sysvipc/shm", "r");
    if (f && fgets(line, sizeof(line), f)) {
        while (fgets(line, sizeof(line), f)) {
            long long key, size;
            int id, perms, cpid;

            if (sscanf(line, "%lld %d %o %lld %d", &key, &id, &perms, &size, &cpid) != 5)
                continue;
            for (int i = 0; i < n; i++) {
                if (pids[i] == cpid && sysv_segment_is(id, name)) {
                    fprintf(stderr, "left behind: SysV segment %d of pid %d\n", id, cpid);
                    found = 1;
                }
            }
        }
    }
    if (f)
        fclose(f);
    return found;
}

/* Slots of the bus's region whose lock is odd (a frame half written), or -1
 * if the region cannot be mapped. */
static int half_written_slots(const char *name, fbus_transport t)
{
    const struct fbus__header *h;
    tu_region reg;
    int n = 0;

    if (tu_region_map(name, t, &reg) != 0)
        return -1;
    h = (const void *)reg.base;
    if (h->slots_offset + (uint64_t)h->slot_count * FBUS__DESC_STRIDE <= reg.size) {
        for (uint32_t i = 0; i < h->slot_count && i < FBUS_MAX_SLOTS; i++) {
            const struct fbus__slot_desc *d =
                (const void *)(reg.base + h->slots_offset + (uint64_t)i * FBUS__DESC_STRIDE);
            n += atomic_load(&d->lock) & 1;
        }
    }
    tu_region_unmap(&reg);
    return n;
}

/* Reader entries that are not free, or -1. */
static int used_entries(const char *name, fbus_transport t)
{
    const struct fbus__header *h;
    tu_region reg;
    int n = 0;

    if (tu_region_map(name, t, &reg) != 0)
        return -1;
    h = (const void *)reg.base;
    for (uint32_t i = 0; i < h->reader_count && i < FBUS_MAX_READERS; i++) {
        const struct fbus__reader_entry *e =
            (const void *)(reg.base + h->readers_offset + i * sizeof(*e));
        n += FBUS__ENTRY_KIND(atomic_load(&e->state)) != FBUS__ENTRY_FREE;
        if (getenv("FAULT_DEBUG") && FBUS__ENTRY_KIND(atomic_load(&e->state)) != FBUS__ENTRY_FREE)
            fprintf(stderr, "entry %u: state %u pid %d start %llu\n", i, atomic_load(&e->state),
                    atomic_load(&e->pid), (unsigned long long)atomic_load(&e->start));
    }
    tu_region_unmap(&reg);
    return n;
}

/* ---------------------------------------------------- producer kill lane */

struct lane_result {
    int rounds;
    int mid_copy; /* kills that left a slot half written */
    struct reader_result readers[2];
};

/* Wait until `who` has announced `session` (for the producer: any session,
 * when `session` is 0); every event read on the way is recorded in seen. */
static int wait_event(int fd, int who, uint64_t session, uint64_t *seen, int64_t deadline)
{
    for (;;) {
        struct event ev;
        int64_t left = (deadline - tu_now_ns()) / TU_MS;

        if (session ? seen[who] == session : seen[who] != 0)
            return 0;
        if (left <= 0 || tu_recv(fd, &ev, sizeof(ev), (int)left) != 0)
            return -1;
        if (ev.who >= WHO_PRODUCER && ev.who <= WHO_LOSSLESS)
            seen[ev.who] = ev.session;
    }
}

static int lane_main(void *arg)
{
    struct job base = *(const struct job *)arg;
    struct job readers[2], prod;
    struct lane_result res = {0};
    pid_t rpid[2], ppids[ROUNDS_PER_LANE];
    uint64_t seen[3] = {0, 0, 0};
    int ev[2], out[2], fail = 0;

    default_signals();
    srand(base.seed);
    if (pipe(ev) != 0 || pipe(out) != 0)
        return 2;
    for (int i = 0; i < 2; i++) {
        readers[i] = base;
        readers[i].who = i == 0 ? WHO_LATEST : WHO_LOSSLESS;
        readers[i].policy = i == 0 ? FBUS_POLICY_LATEST : FBUS_POLICY_LOSSLESS;
        readers[i].ev_fd = ev[1];
        readers[i].result_fd = out[1];
        rpid[i] = tu_fork(reader_main, &readers[i], 150);
    }
    prod = base;
    prod.ev_fd = ev[1];
    for (int round = 0; round < ROUNDS_PER_LANE && !fail; round++) {
        int64_t deadline = tu_now_ns() + 10 * TU_SEC;
        int last = round == ROUNDS_PER_LANE - 1, status;
        uint64_t session;

        seen[WHO_PRODUCER] = 0;
        ppids[round] = tu_fork(producer_main, &prod, 60);
        if (wait_event(ev[0], WHO_PRODUCER, 0, seen, deadline) != 0) {
            fprintf(stderr, "lane %s: round %d: no producer\n", base.name, round);
            fail = 3;
        }
        /* Every reader must reach every producer. */
        session = seen[WHO_PRODUCER];
        if (!fail && session &&
            (wait_event(ev[0], WHO_LATEST, session, seen, deadline) != 0 ||
             wait_event(ev[0], WHO_LOSSLESS, session, seen, deadline) != 0)) {
            fprintf(stderr, "lane %s: round %d: a reader did not follow to session %llx\n",
                    base.name, round, (unsigned long long)session);
            fail = 4;
            if (getenv("FAULT_HOLD")) {
                fprintf(stderr, "holding: readers %d %d producer %d\n", rpid[0], rpid[1],
                        ppids[round]);
                tu_sleep_ms(120000);
            }
        }
        /* Let it run a little, then kill it wherever it is. */
        tu_sleep_ms(rand() % 4);
        kill(ppids[round], last ? SIGTERM : SIGKILL);
        status = tu_wait(ppids[round], 10000);
        if (status != (last ? 0 : 128 + SIGKILL)) {
            fprintf(stderr, "lane %s: round %d: producer ended with %d\n", base.name, round,
                    status);
            fail = fail ? fail : 5;
        }
        if (!last && half_written_slots(base.name, base.t) > 0)
            res.mid_copy++;
        res.rounds++;
    }
    for (int i = 0; i < 2; i++) {
        kill(rpid[i], SIGTERM);
        if (tu_wait(rpid[i], 10000) != 0) {
            fprintf(stderr, "lane %s: reader %d crashed or failed\n", base.name, i);
            fail = fail ? fail : 6;
        }
    }
    /* Results come in the order the readers stopped; the lossless one has
     * no seq gaps, which is all we tell apart here. */
    for (int i = 0; i < 2 && !fail; i++)
        if (tu_recv(out[0], &res.readers[i], sizeof(res.readers[i]), 5000) != 0)
            fail = 7;
    if (leftovers(base.name, ppids, res.rounds))
        fail = fail ? fail : 8;
    tu_bus_cleanup(base.name);
    if (tu_send(base.result_fd, &res, sizeof(res)) != 0)
        fail = fail ? fail : 9;
    return fail;
}

static void run_producer_kills(fbus_transport t)
{
    struct job lanes[LANES];
    pid_t pids[LANES];
    int out[2];
    struct lane_result total = {0};

    assert_int_equal(pipe(out), 0);
    for (int i = 0; i < LANES; i++) {
        memset(&lanes[i], 0, sizeof(lanes[i]));
        remember(tu_bus_name(lanes[i].name, sizeof(lanes[i].name), "fault"));
        lanes[i].t = t;
        lanes[i].result_fd = out[1];
        lanes[i].seed = (unsigned)getpid() * 31u + (unsigned)i;
        pids[i] = spawn(lane_main, &lanes[i], 170);
        assert_true(pids[i] > 0);
    }
    for (int i = 0; i < LANES; i++) {
        int status = tu_wait(pids[i], 175000);
        if (status != 0)
            fail_msg("%s lane %d failed with %d (see its message above)", tu_transport_name(t), i,
                     status);
    }
    for (int i = 0; i < LANES; i++) {
        struct lane_result r;
        assert_int_equal(tu_recv(out[0], &r, sizeof(r), 1000), 0);
        total.rounds += r.rounds;
        total.mid_copy += r.mid_copy;
        for (int k = 0; k < 2; k++) {
            total.readers[0].frames += r.readers[k].frames;
            total.readers[0].overruns += r.readers[k].overruns;
            total.readers[0].torn += r.readers[k].torn;
            total.readers[0].seq_errors += r.readers[k].seq_errors;
            total.readers[0].sessions += r.readers[k].sessions;
            total.readers[0].errors += r.readers[k].errors;
            if (r.readers[k].errors)
                total.readers[0].last_error = r.readers[k].last_error;
        }
    }
    close(out[0]);
    close(out[1]);
    print_message("%s: %d producers killed (%d mid-copy), readers took %llu frames, "
                  "%llu overruns, %llu sessions\n",
                  tu_transport_name(t), total.rounds - LANES, total.mid_copy,
                  (unsigned long long)total.readers[0].frames,
                  (unsigned long long)total.readers[0].overruns,
                  (unsigned long long)total.readers[0].sessions);
    assert_true(total.rounds - LANES >= 100); /* SIGKILLs */
    assert_int_equal(total.readers[0].torn, 0);
    assert_int_equal(total.readers[0].seq_errors, 0);
    if (total.readers[0].errors)
        fail_msg("readers got %llu unexpected codes, last %d (%s)",
                 (unsigned long long)total.readers[0].errors, (int)total.readers[0].last_error,
                 fbus_strerror((int)total.readers[0].last_error));
    /* Every reader saw every producer's session. */
    assert_true(total.readers[0].sessions >= (uint64_t)total.rounds * 2);
}

static void test_kill_producers_posix(void **state)
{
    (void)state;
    run_producer_kills(FBUS_TRANSPORT_POSIX);
}

static void test_kill_producers_sysv(void **state)
{
    (void)state;
    run_producer_kills(FBUS_TRANSPORT_SYSV);
}

/* ------------------------------------------------------ reader kills */

static int writer_main(void *arg)
{
    const struct job *j = arg;
    fbus_writer_opts wo = {.transport = j->t, .format = &fmt};
    struct writer_result res = {0};
    fbus_writer *w = NULL;
    char byte = 1;
    int rc;

    default_signals();
    catch_term();
    rc = fbus_writer_open(j->name, &wo, &w);
    if (rc != 0) {
        fprintf(stderr, "writer: open: %s\n", fbus_strerror(rc));
        return 2;
    }
    if (tu_send(j->ev_fd, &byte, 1) != 0)
        return 3;
    while (!stop) {
        int64_t t0 = tu_now_ns(), dt;

        rc = tu_publish(w, &fmt, STALL_LIMIT_NS, NULL);
        dt = tu_now_ns() - t0;
        if (dt > res.max_stall_ns)
            res.max_stall_ns = dt;
        if (rc != 0) {
            res.failures++;
            res.last_error = rc;
        } else {
            res.frames++;
        }
    }
    fbus_writer_close(w);
    return tu_send(j->result_fd, &res, sizeof(res)) == 0 ? 0 : 4;
}

/* A reader that reads until it is killed. */
static int victim_main(void *arg)
{
    const struct job *j = arg;
    fbus_reader_opts ro = {.transport = j->t, .policy = j->policy};
    fbus_reader *r = NULL;

    default_signals();
    if (fbus_reader_open(j->name, &ro, &r) != 0)
        return 2;
    for (;;) {
        fbus_frame f;
        if (fbus_reader_acquire(r, TU_SEC, &f) == 0) {
            tu_verify(&f, f.seq);
            fbus_reader_release(r, &f);
        }
    }
}

static void run_reader_kills(fbus_transport t)
{
    struct job wj = {0}, rj[2], vj;
    struct writer_result wres;
    struct reader_result rres;
    pid_t wpid, rpid[2], vpids[VICTIMS];
    int ready[2], out[2], wout[2], used = -1;
    int64_t deadline;
    fbus_stats st;
    uint64_t frames_before;
    char byte;

    srand((unsigned)getpid());
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(wout), 0);
    remember(tu_bus_name(wj.name, sizeof(wj.name), "victims"));
    wj.t = t;
    wj.ev_fd = ready[1];
    wj.result_fd = wout[1];
    wpid = spawn(writer_main, &wj, 60);
    assert_true(wpid > 0);
    assert_int_equal(tu_recv(ready[0], &byte, 1, 10000), 0);
    for (int i = 0; i < 2; i++) {
        rj[i] = wj;
        rj[i].policy = i ? FBUS_POLICY_LOSSLESS : FBUS_POLICY_LATEST;
        rj[i].who = i ? WHO_LOSSLESS : WHO_LATEST;
        rj[i].ev_fd = ready[1]; /* session events, ignored here */
        rj[i].result_fd = out[1];
        rpid[i] = spawn(reader_main, &rj[i], 60);
        assert_true(rpid[i] > 0);
    }

    vj = wj;
    for (int i = 0; i < VICTIMS; i++) {
        vj.policy = rand() % 2 ? FBUS_POLICY_LOSSLESS : FBUS_POLICY_LATEST;
        vpids[i] = spawn(victim_main, &vj, 30);
        assert_true(vpids[i] > 0);
        tu_sleep_ms(rand() % 8);
        kill(vpids[i], SIGKILL);
        assert_int_equal(tu_wait(vpids[i], 5000), 128 + SIGKILL);
    }

    /* The writer goes on: frames keep coming. */
    assert_int_equal(fbus_stat(wj.name, t, &st), 0);
    frames_before = st.frames;
    deadline = tu_now_ns() + 5 * TU_SEC;
    do {
        tu_sleep_ms(10);
        assert_int_equal(fbus_stat(wj.name, t, &st), 0);
    } while (st.frames == frames_before && tu_now_ns() < deadline);
    assert_true(st.frames > frames_before);

    /* The dead are reclaimed (the writer looks once a second): the table
     * holds the two live readers and nothing else. */
    deadline = tu_now_ns() + 5 * TU_SEC;
    for (;;) {
        assert_int_equal(fbus_stat(wj.name, t, &st), 0);
        used = used_entries(wj.name, t);
        if ((st.nb_readers == 2 && used == 2) || tu_now_ns() > deadline)
            break;
        tu_sleep_ms(50);
    }
    if (st.nb_readers != 2 || used != 2)
        fail_msg("%s: %u readers registered, %d entries in use, 2 alive", tu_transport_name(t),
                 st.nb_readers, used);
    for (uint32_t i = 0; i < st.nb_readers; i++)
        assert_true(st.readers[i].alive);

    for (int i = 0; i < 2; i++) {
        kill(rpid[i], SIGTERM);
        assert_int_equal(tu_wait(rpid[i], 10000), 0);
        assert_int_equal(tu_recv(out[0], &rres, sizeof(rres), 1000), 0);
        assert_true(rres.frames > 0);
        assert_int_equal(rres.torn, 0);
        assert_int_equal(rres.seq_errors, 0);
        if (rres.errors)
            fail_msg("reader: %llu unexpected codes, last %s", (unsigned long long)rres.errors,
                     fbus_strerror((int)rres.last_error));
    }
    kill(wpid, SIGTERM);
    assert_int_equal(tu_wait(wpid, 10000), 0);
    assert_int_equal(tu_recv(wout[0], &wres, sizeof(wres), 1000), 0);
    print_message("%s: %d readers killed; writer published %llu frames, longest wait %lld ms\n",
                  tu_transport_name(t), VICTIMS, (unsigned long long)wres.frames,
                  (long long)(wres.max_stall_ns / TU_MS));
    if (wres.failures)
        fail_msg("writer: %llu publishes failed, last %s", (unsigned long long)wres.failures,
                 fbus_strerror((int)wres.last_error));
    assert_true(wres.max_stall_ns < STALL_LIMIT_NS);
    assert_false(leftovers(wj.name, &wpid, 1));
    tu_bus_cleanup(wj.name);
    close(ready[0]);
    close(ready[1]);
    close(out[0]);
    close(out[1]);
    close(wout[0]);
    close(wout[1]);
}

static void test_kill_readers_posix(void **state)
{
    (void)state;
    run_reader_kills(FBUS_TRANSPORT_POSIX);
}

static void test_kill_readers_sysv(void **state)
{
    (void)state;
    run_reader_kills(FBUS_TRANSPORT_SYSV);
}

/* A reader killed between claiming its entry and finishing registration
 * leaves an entry that is not active; the writer must reclaim it too. */
static void test_reader_killed_while_claiming(void **state)
{
    (void)state;
    for (int t = 0; t < 2; t++) {
        fbus_writer_opts wo = {.transport = tu_transports[t], .format = &fmt};
        char name[FBUS_NAME_MAX + 1];
        fbus_writer *w = NULL;
        tu_region reg;
        struct fbus__reader_entry *e;
        int64_t deadline;
        pid_t dead;

        remember(tu_bus_name(name, sizeof(name), "claim"));
        assert_int_equal(fbus_writer_open(name, &wo, &w), 0);
        dead = fork();
        if (dead == 0)
            _exit(0);
        assert_int_equal(tu_wait(dead, 5000), 0);
        assert_int_equal(tu_region_map(name, tu_transports[t], &reg), 0);
        e = (void *)(reg.base + ((struct fbus__header *)reg.base)->readers_offset);
        /* What a reader leaves if killed right after its claim: state
         * CLAIMED, its pid, no start time yet, and its entry lock gone with
         * it. The high-water mark covers the entry (it is raised before a
         * claim turns active, so a reader killed later leaves it raised). */
        atomic_store(&e[5].pid, dead);
        atomic_store(&e[5].start, 0);
        atomic_store(&e[5].state, 7u << 8 | FBUS__ENTRY_CLAIMED);
        atomic_store(&((struct fbus__header *)reg.base)->readers_hw, 6);
        deadline = tu_now_ns() + 4 * TU_SEC;
        while (FBUS__ENTRY_KIND(atomic_load(&e[5].state)) != FBUS__ENTRY_FREE &&
               tu_now_ns() < deadline)
            tu_sleep_ms(20);
        if (atomic_load(&e[5].state) != (7u << 8 | FBUS__ENTRY_FREE)) {
            tu_region_unmap(&reg);
            fbus_writer_close(w);
            tu_bus_cleanup(name);
            fail_msg("%s: entry of a reader killed while claiming it is never reclaimed",
                     tu_transport_name(tu_transports[t]));
        }
        tu_region_unmap(&reg);
        fbus_writer_close(w);
        tu_bus_cleanup(name);
    }
}

/* Child: with every descriptor in use /proc cannot be read; a live process
 * (our parent) must still count as alive, a dead one as gone. */
static int cannot_tell_main(void *arg)
{
    pid_t dead = *(const pid_t *)arg;
    uint64_t start = fbus__proc_start(getppid());
    int alive, gone;

    struct rlimit lim;

    if (!start)
        return 2;
    /* A low soft limit, so that filling the table is quick. */
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur > 64) {
        lim.rlim_cur = 64;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
    while (dup(0) >= 0)
        ;
    if (errno != EMFILE)
        return 3;
    alive = fbus__pid_alive(getppid(), start);
    gone = fbus__pid_alive(dead, 0);
    return alive && !gone ? 0 : 4;
}

static void test_liveness_cannot_tell(void **state)
{
    pid_t dead, pid;

    (void)state;
    dead = fork();
    if (dead == 0)
        _exit(0);
    assert_int_equal(tu_wait(dead, 5000), 0);
    pid = tu_fork(cannot_tell_main, &dead, 20);
    assert_true(pid > 0);
    assert_int_equal(tu_wait(pid, 20000), 0);
}

/*
 * A live lossless reader whose entry the writer freed (as if it had taken it
 * for dead) takes an entry back at its next acquire and is waited for again:
 * the writer cannot reuse the slot of a frame it has not read.
 */
static void test_reader_takes_entry_back(void **state)
{
    (void)state;
    for (int t = 0; t < 2; t++) {
        fbus_writer_opts wo = {
            .transport = tu_transports[t], .format = &fmt, .flags = FBUS_WRITER_NO_THREAD};
        fbus_reader_opts ro = {.transport = tu_transports[t],
                               .policy = FBUS_POLICY_LOSSLESS,
                               .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
        char name[FBUS_NAME_MAX + 1];
        fbus_writer *w = NULL;
        fbus_reader *r = NULL;
        struct fbus__reader_entry *e = NULL;
        const struct fbus__header *h;
        fbus_frame f;
        fbus_slot s;
        tu_region reg;

        remember(tu_bus_name(name, sizeof(name), "takeback"));
        assert_int_equal(fbus_writer_open(name, &wo, &w), 0);
        assert_int_equal(fbus_reader_open(name, &ro, &r), 0);
        assert_int_equal(tu_publish(w, &fmt, 0, NULL), 0);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &f), 0);
        assert_int_equal(f.seq, 1);
        assert_int_equal(fbus_reader_release(r, &f), 0);

        /* Free its entry behind its back, as reclaim() does. */
        assert_int_equal(tu_region_map(name, tu_transports[t], &reg), 0);
        h = (const void *)reg.base;
        for (uint32_t i = 0; i < h->reader_count; i++) {
            struct fbus__reader_entry *x = (void *)(reg.base + h->readers_offset + i * sizeof(*x));
            if (FBUS__ENTRY_KIND(atomic_load(&x->state)) == FBUS__ENTRY_ACTIVE &&
                atomic_load(&x->pid) == getpid())
                e = x;
        }
        assert_non_null(e);
        atomic_store(&e->pin, 0);
        atomic_store(&e->state, FBUS__ENTRY_GEN(atomic_load(&e->state)) << 8 | FBUS__ENTRY_FREE);
        tu_region_unmap(&reg);
        assert_int_equal(fbus_writer_readers(w), 0);

        /* Its next look takes an entry back, keeping its place (frame 1). */
        assert_int_equal(fbus_reader_acquire(r, 0, &f), -EAGAIN);
        assert_int_equal(fbus_writer_readers(w), 1);
        assert_int_equal(tu_publish(w, &fmt, 0, NULL), 0); /* 2 */
        assert_int_equal(tu_publish(w, &fmt, 0, NULL), 0); /* 3 */
        assert_int_equal(tu_publish(w, &fmt, 0, NULL), 0); /* 4, in frame 1's slot */
        /* 2 is unread: the writer must wait rather than take its slot. */
        assert_int_equal(fbus_writer_acquire(w, &fmt, 0, &s), -EAGAIN);
        for (uint64_t want = 2; want <= 4; want++) {
            assert_int_equal(fbus_reader_acquire(r, TU_SEC, &f), 0);
            assert_int_equal(f.seq, want);
            assert_int_equal(f.dropped, 0);
            assert_true(tu_verify(&f, f.seq));
            assert_int_equal(fbus_reader_release(r, &f), 0);
        }
        fbus_reader_close(r);
        fbus_writer_close(w);
        tu_bus_cleanup(name);
    }
}

#ifdef FBUS_CMD_PATH
#define CAT_ROUNDS 10
#define CAT_FRAMES 20

/* A producer for `framebus cat`: waits for its reader, then publishes up to
 * CAT_FRAMES frames a millisecond apart and idles until killed. */
static int cat_producer_main(void *arg)
{
    const struct job *j = arg;
    fbus_writer_opts wo = {.transport = j->t, .format = &fmt};
    int64_t deadline = tu_now_ns() + 5 * TU_SEC;
    fbus_writer *w = NULL;
    int rc;

    default_signals();
    catch_term();
    while ((rc = fbus_writer_open(j->name, &wo, &w)) == FBUS_EBUSY && tu_now_ns() < deadline)
        tu_sleep_ms(5);
    if (rc != 0)
        return 10;
    if (fbus_writer_wait_readers(w, 1, 10 * TU_SEC) != 0)
        return 11;
    for (int i = 0; i < CAT_FRAMES && !stop; i++) {
        if (tu_publish(w, &fmt, STALL_LIMIT_NS, NULL) != 0)
            return 12;
        tu_sleep_ms(1);
    }
    while (!stop)
        tu_sleep_ms(5);
    fbus_writer_close(w);
    return 0;
}

/* FNV-1a, as testutil.h's checksum, over one raw frame as cat writes it. */
static uint64_t raw_checksum(const uint8_t *p, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* `framebus cat --follow` (lossless) through producers SIGKILLed at random
 * points: it keeps running, and writes, for each producer, exactly frames
 * 1, 2, 3... as far as that producer got, each one intact. */
static void run_cat_follow(fbus_transport t)
{
    char out[128], *argv[8];
    struct job pj = {0};
    uint64_t sums[CAT_FRAMES + 1];
    size_t fsize = 0;
    uint8_t *buf = NULL;
    long len;
    FILE *f;
    pid_t cat;
    int sessions = 0, status;
    uint64_t prev = 0;

    for (uint32_t p = 0; p < fmt.nb_planes; p++)
        fsize += (size_t)fmt.planes[p].row_bytes * fmt.planes[p].rows;
    for (uint64_t s = 1; s <= CAT_FRAMES; s++)
        sums[s] = tu_pattern_checksum(&fmt, s);
    remember(tu_bus_name(pj.name, sizeof(pj.name), "catkill"));
    pj.t = t;
    snprintf(out, sizeof(out), "/tmp/fbus-catkill-%d.raw", (int)getpid());
    argv[0] = (char *)FBUS_CMD_PATH;
    argv[1] = (char *)"cat";
    argv[2] = pj.name;
    argv[3] = (char *)"--follow";
    argv[4] = (char *)"--transport";
    argv[5] = (char *)tu_transport_name(t);
    argv[6] = NULL;
    fflush(NULL);
    cat = fork();
    if (cat == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int nul = open("/dev/null", O_WRONLY);
        if (fd < 0 || nul < 0 || dup2(fd, 1) < 0 || dup2(nul, 2) < 0)
            _exit(126);
        alarm(60);
        execv(argv[0], argv);
        _exit(127);
    }
    assert_true(cat > 0);
    kids[nb_kids++] = cat;

    for (int round = 0; round < CAT_ROUNDS; round++) {
        int last = round == CAT_ROUNDS - 1;
        int64_t deadline = tu_now_ns() + 10 * TU_SEC;
        pid_t prod = spawn(cat_producer_main, &pj, 30);
        fbus_stats st;

        /* Kill it once its first frame is out, at a random point after. */
        while (fbus_stat(pj.name, t, &st) != 0 || st.frames == 0 || st.producer_pid != prod) {
            if (tu_now_ns() > deadline)
                fail_msg("%s: round %d: cat never attached to the producer", tu_transport_name(t),
                         round);
            tu_sleep_ms(2);
        }
        tu_sleep_ms(rand() % 30);
        kill(prod, last ? SIGTERM : SIGKILL);
        assert_int_equal(tu_wait(prod, 10000), last ? 0 : 128 + SIGKILL);
        assert_int_equal(waitpid(cat, &status, WNOHANG), 0); /* cat lives on */
    }
    tu_sleep_ms(300);
    kill(cat, SIGTERM);
    assert_int_equal(tu_wait(cat, 10000), 0);

    f = fopen(out, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    assert_true(len > 0);
    assert_int_equal((size_t)len % fsize, 0);
    buf = malloc((size_t)len);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    unlink(out);
    for (size_t off = 0; off < (size_t)len; off += fsize) {
        uint64_t sum = raw_checksum(buf + off, fsize);
        if (sum == sums[1]) {
            sessions++;
            prev = 1;
        } else if (prev && prev < CAT_FRAMES && sum == sums[prev + 1]) {
            prev++;
        } else {
            free(buf);
            fail_msg("%s: frame %zu of cat's output is neither frame %llu nor a first frame",
                     tu_transport_name(t), off / fsize, (unsigned long long)prev + 1);
        }
    }
    free(buf);
    print_message("%s: framebus cat followed %d producers (%ld frames)\n", tu_transport_name(t),
                  sessions, len / (long)fsize);
    assert_int_equal(sessions, CAT_ROUNDS);
    tu_bus_cleanup(pj.name);
}

static void test_cat_follows_killed_producers(void **state)
{
    (void)state;
    srand((unsigned)getpid());
    run_cat_follow(FBUS_TRANSPORT_POSIX);
    run_cat_follow(FBUS_TRANSPORT_SYSV);
}
#endif

static int setup_group(void **state)
{
    (void)state;
    /* Large enough that a kill often lands while a slot is being filled. */
    return fbus_format_init(&fmt, "yuv420p", 320, 240, 0) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kill_producers_posix, teardown),
        cmocka_unit_test_teardown(test_kill_producers_sysv, teardown),
        cmocka_unit_test_teardown(test_kill_readers_posix, teardown),
        cmocka_unit_test_teardown(test_kill_readers_sysv, teardown),
        cmocka_unit_test_teardown(test_reader_killed_while_claiming, teardown),
        cmocka_unit_test_teardown(test_reader_takes_entry_back, teardown),
        cmocka_unit_test(test_liveness_cannot_tell),
#ifdef FBUS_CMD_PATH
        cmocka_unit_test_teardown(test_cat_follows_killed_producers, teardown),
#endif
    };

    /* TEST_FILTER=test_kill_readers_* runs only some of them. */
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup_group, NULL);
}
