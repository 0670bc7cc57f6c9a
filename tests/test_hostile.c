/* SPDX-License-Identifier: MIT */
/*
 * A hostile region, on both transports: while a writer publishes and readers
 * (latest, lossless, observer; `framebus cat` and the viewer when they are
 * built) are attached, a process with write access scribbles random bytes
 * over the slot descriptors, the reader table, the header's hot words and
 * its identity. Readers must report an error or recover; none may crash, and
 * every frame they are handed must lie inside its slot and its mapping (the
 * check asks the kernel, /proc/self/maps, where the object is mapped).
 *
 * Also: a posix object truncated under an attached reader, the one way a
 * writer-side process can crash readers (SIGBUS, see docs/security.md).
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "layout.h"
#include "region_check.h"
#include "testutil.h"

#define SCRIBBLE_MS 400 /* per phase; four phases */
/* Exit status the sanitizers use in programs started here, so an ASan or
 * UBSan report is told apart from an ordinary error exit. */
#define SANITIZER_EXIT 86

enum { R_LATEST, R_LOSSLESS, R_OBSERVER, NB_READERS };

struct ctx {
    char name[FBUS_NAME_MAX + 1];
    fbus_transport t;
    fbus_format fmt;
    rc_geom geom;
    uint64_t ino;
    int which;     /* reader kind, for the reader child */
    int to_parent; /* truncation test: the child's pipe ends */
    int from_parent;
    pid_t kids[8];
    int nb_kids;
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

static void catch_term(void)
{
    struct sigaction sa = {.sa_handler = on_term};

    stop = 0;
    sigaction(SIGTERM, &sa, NULL);
}

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));

    if (!c)
        return -1;
    tu_bus_name(c->name, sizeof(c->name), "hostile");
    if (fbus_format_init(&c->fmt, "nv12", 64, 32, 0) != 0)
        return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;

    for (int i = 0; i < c->nb_kids; i++)
        if (kill(c->kids[i], SIGKILL) == 0)
            waitpid(c->kids[i], NULL, 0);
    tu_bus_cleanup(c->name);
    free(c);
    return 0;
}

static pid_t spawn(struct ctx *c, tu_child_fn fn, unsigned timeout_s)
{
    pid_t pid = tu_fork(fn, c, timeout_s);

    assert_true(pid > 0);
    c->kids[c->nb_kids++] = pid;
    return pid;
}

/* Publishes until SIGTERM. A hostile reader table may hold it back (that is
 * a denial of service, which writers are allowed to suffer): timeouts are
 * counted, not fatal. */
static int writer_main(void *arg)
{
    const struct ctx *c = arg;
    fbus_writer_opts wo = {.transport = c->t, .format = &c->fmt};
    fbus_writer *w = NULL;
    int rc;

    default_signals();
    catch_term();
    rc = fbus_writer_open(c->name, &wo, &w);
    if (rc != 0) {
        fprintf(stderr, "writer: open: %s\n", fbus_strerror(rc));
        return 2;
    }
    while (!stop) {
        rc = tu_publish(w, &c->fmt, 100 * TU_MS, NULL);
        if (rc != 0 && rc != -ETIMEDOUT) {
            fprintf(stderr, "writer: publish: %s\n", fbus_strerror(rc));
            return 3;
        }
        tu_sleep_ms(1);
    }
    fbus_writer_close(w);
    return 0;
}

/* Reads until SIGTERM; checks every frame it gets. */
static int reader_main(void *arg)
{
    const struct ctx *c = arg;
    fbus_reader_opts ro = {.transport = c->t, .flags = FBUS_READER_WAIT};
    fbus_reader *r = NULL;
    uint64_t frames = 0, errors = 0;
    int rc;

    default_signals();
    catch_term();
    if (c->which == R_LOSSLESS)
        ro.policy = FBUS_POLICY_LOSSLESS;
    if (c->which == R_OBSERVER)
        ro.flags |= FBUS_READER_OBSERVER;
    rc = fbus_reader_open(c->name, &ro, &r);
    if (rc != 0) {
        fprintf(stderr, "reader %d: open: %s\n", c->which, fbus_strerror(rc));
        return 2;
    }
    while (!stop) {
        fbus_frame f;
        const char *why;

        rc = fbus_reader_acquire(r, 50 * TU_MS, &f);
        if (rc != 0) {
            /* Any documented code is a fine answer to garbage. */
            if (rc > 0 || strncmp(fbus_strerror(rc), "Unknown", 7) == 0) {
                fprintf(stderr, "reader %d: acquire returned %d\n", c->which, rc);
                return 4;
            }
            errors++;
            continue;
        }
        why = rc_check_frame(&f, c->ino, &c->geom);
        if (why) {
            fprintf(stderr, "reader %d: frame %llu: %s\n", c->which, (unsigned long long)f.seq,
                    why);
            return 5;
        }
        frames++;
        rc = fbus_reader_release(r, &f);
        if (rc != 0 && rc != FBUS_EOVERRUN) {
            fprintf(stderr, "reader %d: release returned %d\n", c->which, rc);
            return 6;
        }
    }
    fbus_reader_close(r);
    if (getenv("HOSTILE_VERBOSE"))
        fprintf(stderr, "reader %d: %llu frames, %llu errors\n", c->which,
                (unsigned long long)frames, (unsigned long long)errors);
    return frames ? 0 : 7;
}

/* Start a program with stdout to /dev/null and stderr to a file. */
/* Unused in builds without the programs (the TSan pass). */
__attribute__((unused)) static pid_t spawn_program(struct ctx *c, const char *errfile,
                                                   char *const argv[])
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int err = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int nul = open("/dev/null", O_WRONLY);
        char opts[256];

        if (err >= 0)
            dup2(err, 2);
        if (nul >= 0)
            dup2(nul, 1);
        snprintf(opts, sizeof(opts), "%s:exitcode=%d",
                 getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "", SANITIZER_EXIT);
        setenv("ASAN_OPTIONS", opts, 1);
        snprintf(opts, sizeof(opts), "%s:exitcode=%d",
                 getenv("UBSAN_OPTIONS") ? getenv("UBSAN_OPTIONS") : "", SANITIZER_EXIT);
        setenv("UBSAN_OPTIONS", opts, 1);
        unsetenv("DISPLAY");
        unsetenv("WAYLAND_DISPLAY");
        alarm(60);
        execv(argv[0], argv);
        _exit(127);
    }
    assert_true(pid > 0);
    c->kids[c->nb_kids++] = pid;
    return pid;
}

/* A random value that is often an edge case. */
static uint64_t nasty(void)
{
    static const uint64_t edges[] = {0,          1,          2,          3,         63,
                                     64,         4095,       4096,       65535,     0x7fffffff,
                                     0x80000000, 0xffffffff, UINT64_MAX, INT64_MAX, 1u << 20};
    uint64_t v = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ (uint64_t)rand();

    if (rand() % 2)
        return edges[(size_t)rand() % (sizeof(edges) / sizeof(edges[0]))];
    return v;
}

/* Write a random 1, 2, 4 or 8 byte value at a random offset of [lo, hi). */
static void scribble(uint8_t *base, uint64_t lo, uint64_t hi)
{
    static const unsigned widths[] = {1, 2, 4, 8};
    unsigned wdt = widths[rand() % 4];
    uint64_t off, v = nasty();

    if (hi - lo <= wdt)
        return;
    off = lo + (uint64_t)rand() % (hi - lo - wdt);
    off &= ~(uint64_t)(wdt - 1); /* aligned, like the fields */
    memcpy(base + off, &v, wdt);
}

static void scribble_for(uint8_t *base, uint64_t lo, uint64_t hi, int ms)
{
    int64_t end = tu_now_ns() + ms * TU_MS;

    while (tu_now_ns() < end) {
        for (int i = 0; i < 16; i++)
            scribble(base, lo, hi);
        usleep(200);
    }
}

static void run_hostile(struct ctx *c, fbus_transport t)
{
    const struct fbus__header *h;
    struct fbus__header saved;
    pid_t writer, readers[NB_READERS], cat = -1, viewer = -1;
    char cat_err[256], viewer_err[256];
    tu_region reg;
    fbus_stats st;
    int64_t deadline;

    c->t = t;
    c->nb_kids = 0;
    tu_bus_name(c->name, sizeof(c->name), "hostile");
    srand((unsigned)getpid() ^ (unsigned)t);
    writer = spawn(c, writer_main, 60);
    deadline = tu_now_ns() + 5 * TU_SEC;
    while (fbus_stat(c->name, t, &st) != 0 || st.frames == 0) {
        assert_true(tu_now_ns() < deadline);
        tu_sleep_ms(5);
    }
    assert_int_equal(tu_region_map(c->name, t, &reg), 0);
    h = (const void *)reg.base;
    memcpy(&saved, h, sizeof(saved));
    c->ino = t == FBUS_TRANSPORT_SYSV ? (uint64_t)reg.shmid : 0;
    if (t == FBUS_TRANSPORT_POSIX) {
        struct stat sb;
        assert_int_equal(fstat(reg.fd, &sb), 0);
        c->ino = (uint64_t)sb.st_ino;
    }
    c->geom = (rc_geom){reg.size, saved.payload_offset, saved.payload_stride, saved.slot_capacity,
                        saved.slot_count};
    for (int i = 0; i < NB_READERS; i++) {
        c->which = i;
        readers[i] = spawn(c, reader_main, 60);
    }
#ifdef FBUS_CMD_PATH
    {
        char *argv[] = {
            (char *)FBUS_CMD_PATH,        (char *)"cat",      c->name, (char *)"--transport",
            (char *)tu_transport_name(t), (char *)"--follow", NULL};
        snprintf(cat_err, sizeof(cat_err), "/tmp/fbus-hostile-cat-%d.err", (int)getpid());
        cat = spawn_program(c, cat_err, argv);
    }
#endif
#ifdef FBUS_VIEWER_PATH
    {
        char *argv[] = {(char *)FBUS_VIEWER_PATH,
                        (char *)"--headless",
                        (char *)"--bus",
                        c->name,
                        (char *)"--transport",
                        (char *)tu_transport_name(t),
                        NULL};
        snprintf(viewer_err, sizeof(viewer_err), "/tmp/fbus-hostile-viewer-%d.err", (int)getpid());
        viewer = spawn_program(c, viewer_err, argv);
    }
#endif
    /* Let everyone attach and take frames. */
    tu_sleep_ms(300);

    /* 1: descriptors (frame formats, lock words, times). */
    scribble_for(reg.base, saved.slots_offset,
                 saved.slots_offset + (uint64_t)saved.slot_count * FBUS__DESC_STRIDE, SCRIBBLE_MS);
    /* 2: the reader table, everyone's entries. */
    scribble_for(reg.base, saved.readers_offset, saved.control_size, SCRIBBLE_MS);
    /* 3: the header's hot words: cursor, heartbeat, state, futex words. */
    scribble_for(reg.base, offsetof(struct fbus__header, cursor), sizeof(saved), SCRIBBLE_MS);
    /* 4: the identity and geometry readers validate when they (re)attach. */
    scribble_for(reg.base, 0, offsetof(struct fbus__header, cursor), SCRIBBLE_MS);
    /* Then put the identity back under a new session id, so readers that
     * left may come back, and scribble everything at once. */
    saved.session ^= 0x5a5a5a5a5a5a5a5aull;
    memcpy(reg.base, &saved, offsetof(struct fbus__header, cursor));
    scribble_for(reg.base, 0, saved.slots_offset + (uint64_t)saved.slot_count * FBUS__DESC_STRIDE,
                 SCRIBBLE_MS);
    tu_region_unmap(&reg);

    /* Nobody crashed; readers found no frame out of bounds. */
    for (int i = 0; i < NB_READERS; i++) {
        int status;
        kill(readers[i], SIGTERM);
        status = tu_wait(readers[i], 10000);
        /* 7: got no frame at all, possible if garbage came first. */
        if (status != 0 && status != 7)
            fail_msg("%s: reader %d ended with %d", tu_transport_name(t), i, status);
    }
    if (cat > 0 || viewer > 0) {
        pid_t progs[2] = {cat, viewer};
        const char *files[2] = {cat_err, viewer_err};
        for (int i = 0; i < 2; i++) {
            int status;
            if (progs[i] <= 0)
                continue;
            kill(progs[i], SIGTERM);
            status = tu_wait(progs[i], 10000);
            /* An error exit is fine (one line on stderr); a signal other
             * than our SIGTERM or a sanitizer report is not. */
            char buf[2048] = "";
            FILE *f = fopen(files[i], "r");
            if (f) {
                buf[fread(buf, 1, sizeof(buf) - 1, f)] = '\0';
                fclose(f);
            }
            if (getenv("HOSTILE_VERBOSE"))
                fprintf(stderr, "%s: exit %d, stderr:\n%s\n", i ? "viewer" : "cat", status, buf);
            if (status == SANITIZER_EXIT || status == -1 ||
                (status > 128 && status != 128 + SIGTERM)) {
                fail_msg("%s: %s ended with %d:\n%s", tu_transport_name(t), i ? "viewer" : "cat",
                         status, buf);
            }
            unlink(files[i]);
        }
    }
    kill(writer, SIGTERM);
    assert_int_equal(tu_wait(writer, 10000), 0);
    tu_bus_cleanup(c->name);
}

static void test_hostile_posix(void **state)
{
    run_hostile(*state, FBUS_TRANSPORT_POSIX);
}

static void test_hostile_sysv(void **state)
{
    run_hostile(*state, FBUS_TRANSPORT_SYSV);
}

/* A reader mapped to a posix object that the writer side shrinks. */
static int truncated_reader_main(void *arg)
{
    const struct ctx *c = arg;
    fbus_reader_opts ro = {.transport = FBUS_TRANSPORT_POSIX};
    fbus_reader *r = NULL;
    fbus_frame f;
    char byte;
    int rc;

    default_signals();
    if (fbus_reader_open(c->name, &ro, &r) != 0)
        return 2;
    if (fbus_reader_acquire(r, TU_SEC, &f) != 0 || fbus_reader_release(r, &f) != 0)
        return 3;
    byte = 1;
    if (tu_send(c->to_parent, &byte, 1) != 0 || tu_recv(c->from_parent, &byte, 1, 10000) != 0)
        return 4;
    /* The object is now shorter than the mapping. A frame we get, we read,
     * as any reader would. */
    for (int i = 0; i < 10; i++) {
        rc = fbus_reader_acquire(r, 100 * TU_MS, &f);
        if (rc == 0) {
            (void)tu_checksum((const uint8_t *const *)f.data, &f.format);
            rc = fbus_reader_release(r, &f);
        }
        if (rc == FBUS_EBADREGION)
            break;
    }
    fbus_reader_close(r);
    return rc == FBUS_EBADREGION ? 0 : 5;
}

/* How truncate_under_reader shrinks the object. */
enum shrink {
    SHRINK_WAITING,   /* to one page, while the reader waits */
    SHRINK_ANNOUNCED, /* to one page, then a new frame is announced */
    SHRINK_PAYLOADS,  /* a frame is published, then its payload cut off */
};

/* Truncate the bus's object under an attached reader. Returns the reader's
 * status: 0 for FBUS_EBADREGION, 128 + SIGBUS if it died. */
static int truncate_under_reader(struct ctx *c, enum shrink how)
{
    int announce = how == SHRINK_ANNOUNCED;
    fbus_writer_opts wo = {.format = &c->fmt};
    fbus_writer *w = NULL;
    char path[FBUS_NAME_MAX + 16], byte = 0;
    int to_parent[2], to_child[2], fd, status;
    struct fbus__header *hdr;
    uint64_t cursor;
    pid_t pid;

    assert_int_equal(pipe(to_parent), 0);
    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(fbus_writer_open(c->name, &wo, &w), 0);
    assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
    c->to_parent = to_parent[1];
    c->from_parent = to_child[0];
    pid = tu_fork(truncated_reader_main, c, 20);
    assert_true(pid > 0);
    assert_int_equal(tu_recv(to_parent[0], &byte, 1, 10000), 0);
    snprintf(path, sizeof(path), "/framebus.%s", c->name);
    fd = shm_open(path, O_RDWR, 0);
    assert_true(fd >= 0);
    hdr = mmap(NULL, FBUS__PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(hdr != MAP_FAILED);
    if (how == SHRINK_PAYLOADS) {
        /* Frame 2 goes to a slot this reader has never read; the object
         * then keeps its header and descriptors but not the payloads. */
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_int_equal(ftruncate(fd, (off_t)hdr->payload_offset), 0);
    } else {
        /* Keep the header and reader table, drop descriptors and payloads. */
        assert_int_equal(ftruncate(fd, FBUS__PAGE), 0);
    }
    close(fd);
    if (announce) {
        cursor = atomic_load(&hdr->cursor);
        atomic_store(&hdr->cursor, FBUS__CURSOR(FBUS__CURSOR_SEQ(cursor) + 1, 0));
    }
    assert_int_equal(tu_send(to_child[1], &byte, 1), 0);
    status = tu_wait(pid, 15000);
    print_message("reader of a truncated posix object%s: %s\n",
                  how == SHRINK_ANNOUNCED  ? ", new frame announced"
                  : how == SHRINK_PAYLOADS ? ", payloads cut off"
                                           : "",
                  status == 0              ? "FBUS_EBADREGION"
                  : status == 128 + SIGBUS ? "killed by SIGBUS"
                                           : "other");
    munmap(hdr, FBUS__PAGE);
    /* The writer must not touch its payloads now (SIGBUS); close only. */
    fbus_writer_close(w);
    close(to_parent[0]);
    close(to_parent[1]);
    close(to_child[0]);
    close(to_child[1]);
    tu_bus_cleanup(c->name);
    return status;
}

static void test_truncated_object(void **state)
{
    struct ctx *c = *state;
    int status;

    /* Truncated while the reader waits: it finds out before it reads. */
    assert_int_equal(truncate_under_reader(c, SHRINK_WAITING), 0);
    /* A new frame whose payload is gone: the reader maps a slot in before
     * it hands it out, and learns it is gone then (not by SIGBUS). */
    assert_int_equal(truncate_under_reader(c, SHRINK_PAYLOADS), 0);
    /* Truncated with a frame announced: the reader touches lost pages. Its
     * SIGBUS guard grows the object back (zeroed), and the zeroed frame is
     * refused: an error, never a crash. */
    status = truncate_under_reader(c, SHRINK_ANNOUNCED);
    assert_true(status == 0 || status == 5); /* an error code, not a signal */
}

/*
 * A peer with write access shrinks the object under a writer that is
 * publishing: the writer's guard grows it back instead of letting SIGBUS
 * kill it, and the writer moves to a fresh region (a new session) that
 * readers can attach to and read.
 */
static void test_truncated_under_writer(void **state)
{
    struct ctx *c = *state;
    fbus_writer_opts wo = {.format = &c->fmt, .flags = FBUS_WRITER_NO_THREAD};
    fbus_reader_opts ro = {.producer_timeout_ns = TU_PRODUCER_TIMEOUT};
    char path[FBUS_NAME_MAX + 16];
    fbus_writer *w = NULL;
    fbus_reader *r = NULL;
    uint64_t session;
    fbus_frame f;
    int fd;

    assert_int_equal(fbus_writer_open(c->name, &wo, &w), 0);
    assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
    session = fbus_writer_session(w);
    snprintf(path, sizeof(path), "/framebus.%s", c->name);
    for (int round = 0; round < 3; round++) {
        fd = shm_open(path, O_RDWR, 0);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 0), 0);
        close(fd);
        /* The next frame touches lost pages; it must not kill us. */
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        /* And the one after goes to a fresh region. */
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_true(fbus_writer_session(w) != session);
        session = fbus_writer_session(w);
    }
    assert_int_equal(fbus_reader_open(c->name, &ro, &r), 0);
    assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
    assert_int_equal(fbus_reader_acquire(r, TU_SEC, &f), 0);
    assert_int_equal(f.session, session);
    assert_true(tu_verify(&f, f.seq));
    assert_int_equal(fbus_reader_release(r, &f), 0);
    fbus_reader_close(r);
    fbus_writer_close(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hostile_posix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_sysv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_under_writer, setup, teardown),
    };

    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
