/* SPDX-License-Identifier: MIT */
/*
 * framebus bench: the timed loops. The bus and pipe writer and reader run in
 * child processes and report into the shared mapping; the memcpy baseline
 * runs in the parent.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define WRITER_WAIT_NS      (5 * 1000000000LL)  /* for a lossless reader */
#define READER_WAIT_NS      (10 * 1000000000LL) /* for the next frame */
#define PRODUCER_TIMEOUT_NS (10 * 1000000000LL) /* heartbeat age that means gone */

static int64_t tv_ns(const struct timeval *tv)
{
    return (int64_t)tv->tv_sec * 1000000000LL + (int64_t)tv->tv_usec * 1000;
}

/* CPU time of this process so far (every thread: the writer's heartbeat
 * thread is part of its cost). */
static int64_t cpu_now(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return 0;
    return tv_ns(&ru.ru_utime) + tv_ns(&ru.ru_stime);
}

/* Note (start) or turn into deltas (!start) the CPU time and context
 * switches of this process's frame loop. */
void bench_loop_usage(struct bench_child_out *o, int start)
{
    struct rusage ru;
    int64_t cpu = 0, v = 0, iv = 0;

    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        cpu = tv_ns(&ru.ru_utime) + tv_ns(&ru.ru_stime);
        v = ru.ru_nvcsw;
        iv = ru.ru_nivcsw;
    }
    if (start) {
        o->cpu_ns = cpu;
        o->vcsw = v;
        o->ivcsw = iv;
    } else {
        o->cpu_ns = cpu - o->cpu_ns;
        o->vcsw = v - o->vcsw;
        o->ivcsw = iv - o->ivcsw;
    }
}

int bench_child_fail(struct bench_child_out *o, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(o->msg, sizeof(o->msg), fmt, ap);
    va_end(ap);
    return 1;
}

/* With a rate (--reader-fps for readers, --fps for writers), sleep until
 * frame number `frames` is due; `first` is when frame 0 was. */
void bench_pace(const bench_config *cfg, double fps, int64_t first, uint64_t frames)
{
    struct timespec ts;
    int64_t due;

    if (fps <= 0)
        return;
    due = first + (int64_t)((double)frames * 1e9 / fps);
    ts.tv_sec = (time_t)(due / 1000000000LL);
    ts.tv_nsec = (long)(due % 1000000000LL);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
           !bench_stopped(cfg))
        ;
}

/* Whether the writer is done after `sent` frames. */
int bench_writer_done(const bench_config *cfg, const fbus_format *fmt, uint64_t sent,
                      int64_t deadline)
{
    if (bench_stopped(cfg))
        return 1;
    if (cfg->frames)
        return sent >= cfg->frames;
    /* Reading the clock costs as much as copying a small frame (a VM's
     * clock_gettime is slow): look at it every 16th small frame only. */
    if (fmt->size < (256u << 10) && (sent & 15) != 0)
        return 0;
    return fbus_now_ns() >= deadline;
}

/* Acquire a slot, copy the next frame in, publish: 0, or -1 after saying
 * why in o. *seq gets the published frame's number. */
static int send_frame(struct bench_job *j, fbus_writer *w, struct bench_child_out *o, uint64_t *seq)
{
    fbus_slot slot;
    int err = fbus_writer_acquire(w, j->fmt, WRITER_WAIT_NS, &slot);

    if (err < 0) {
        if (err == -ETIMEDOUT)
            bench_child_fail(o, "writer waited 5 s for a lossless reader");
        else
            bench_child_fail(o, "writer: %s", fbus_strerror(err));
        return -1;
    }
    bench_copy_frame(j->fmt, j->pool, slot.seq, slot.data, 0);
    bench_stamp(slot.data[0], slot.seq, 0);
    fbus_writer_publish(w, &slot, NULL);
    *seq = slot.seq;
    return 0;
}

int bench_pin(const bench_config *cfg, int reader)
{
    int cpus[CPU_SETSIZE], n = 0, cpu;
    cpu_set_t set;

    if (!cfg->pin)
        return 0;
    if (sched_getaffinity(0, sizeof(set), &set) < 0)
        return -errno;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            cpus[n++] = c;
    if (n == 0)
        return -EINVAL;
    cpu = reader < 0 || n == 1 ? cpus[0] : cpus[1 + reader % (n - 1)];
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

int bench_bus_writer(struct bench_job *j)
{
    const bench_config *cfg = j->cfg;
    struct bench_child_out *o = &j->sh->writer;
    fbus_writer_opts wo = {.transport = cfg->transport, .slots = cfg->slots, .format = j->fmt};
    fbus_writer *w = NULL;
    int64_t t0, deadline;
    uint64_t seq = 0, warm = 0, sent = 0;
    int err, rc = 1;

    err = fbus_writer_open(j->name, &wo, &w);
    if (err < 0)
        return bench_child_fail(o, "cannot create bus \"%s\": %s", j->name, fbus_strerror(err));
    /* Warm-up, before any reader is there: one frame into every slot, so
     * that the first use of each slot (the library maps its pages in, a
     * page fault each in a VM before it did so) is not timed, as the
     * memcpy's buffers are faulted in before it is timed. */
    for (uint32_t k = 0; k < cfg->slots; k++) {
        if (send_frame(j, w, o, &warm) < 0)
            goto out;
    }
    atomic_store(&j->sh->ready, 1);
    err = fbus_writer_wait_readers(w, cfg->readers, BENCH_ATTACH_WAIT_NS);
    if (err < 0) {
        bench_child_fail(o, "only %d of %d readers attached within 10 s", fbus_writer_readers(w),
                         cfg->readers);
        goto out;
    }
    bench_loop_usage(o, 1);
    t0 = fbus_now_ns();
    deadline = t0 + (int64_t)(cfg->seconds * 1e9);
    atomic_store(&j->sh->t_start, t0);
    while (!bench_writer_done(cfg, j->fmt, seq, deadline)) {
        bench_pace(cfg, cfg->fps, t0, seq);
        if (send_frame(j, w, o, &sent) < 0)
            goto out;
        seq = sent - warm;
        atomic_store_explicit(&j->sh->progress, seq, memory_order_relaxed);
    }
    o->t_last = fbus_now_ns();
    bench_loop_usage(o, 0);
    o->frames = seq;
    rc = 0;
out:
    fbus_writer_close(w);
    return rc;
}

int bench_bus_reader(struct bench_job *j)
{
    const bench_config *cfg = j->cfg;
    struct bench_child_out *o = &j->sh->readers[j->index];
    /* A generous liveness timeout: on a loaded machine the writer's
     * heartbeat thread may wait for a CPU for a long time, and a benchmark
     * has its own stall watchdog. */
    fbus_reader_opts ro = {.transport = cfg->transport,
                           .policy = cfg->policy,
                           .producer_timeout_ns = PRODUCER_TIMEOUT_NS,
                           .flags = cfg->low_latency ? FBUS_READER_LOW_LATENCY : 0};
    fbus_reader *r = NULL;
    uint64_t last = 0;
    int64_t first = 0;
    int err, rc = 1;

    err = fbus_reader_open(j->name, &ro, &r);
    if (err < 0)
        return bench_child_fail(o, "reader %d: cannot attach to bus \"%s\": %s", j->index + 1,
                                j->name, fbus_strerror(err));
    bench_loop_usage(o, 1);
    for (;;) {
        fbus_frame f;
        struct bench_frame_hdr hdr;
        int64_t now;
        int good;

        err = fbus_reader_acquire(r, READER_WAIT_NS, &f);
        now = fbus_now_ns();
        if (err == FBUS_EENDED)
            break;
        if (err < 0) {
            bench_child_fail(o, "reader %d: %s", j->index + 1, fbus_strerror(err));
            goto out;
        }
        if (f.seq <= cfg->slots) {
            /* The newest warm-up frame, out before we attached: not part
             * of the measurement. */
            last = f.seq;
            fbus_reader_release(r, &f);
            continue;
        }
        bench_record_latency(o, now - f.publish_ns);
        good = bench_frame_ok(j->fmt, j->pool, f.data, f.seq, &hdr);
        if (cfg->policy == FBUS_POLICY_LOSSLESS ? f.seq != last + 1 : f.seq <= last)
            o->seq_errors++;
        /* Skipped frames, not counting warm-up ones we never saw. */
        o->drops += last >= cfg->slots ? f.dropped : f.seq - cfg->slots - 1;
        last = f.seq;
        o->frames++;
        o->t_last = now;
        err = fbus_reader_release(r, &f);
        if (err == FBUS_EOVERRUN)
            o->overruns++;
        else if (!good)
            o->bad++;
        if (o->frames == 1)
            first = now;
        bench_pace(cfg, cfg->reader_fps, first, o->frames);
    }
    bench_loop_usage(o, 0);
    rc = 0;
out:
    fbus_reader_close(r);
    return rc;
}

/* writev() all of iov, whatever the pipe takes at a time. */
static int writev_all(const bench_config *cfg, int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t done = writev(fd, iov, n);

        if (done < 0) {
            if (errno == EINTR && !bench_stopped(cfg))
                continue;
            return -errno;
        }
        while (n > 0 && (size_t)done >= iov->iov_len) {
            done -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + done;
            iov->iov_len -= (size_t)done;
        }
    }
    return 0;
}

/* The pipe writer sends each frame straight from the pool with writev (the
 * header in its own buffer), once per reader: the pipe's best case. */
int bench_pipe_writer(struct bench_job *j, const int *fds)
{
    const bench_config *cfg = j->cfg;
    const fbus_format *fmt = j->fmt;
    struct bench_child_out *o = &j->sh->writer;
    uint8_t hdr[BENCH_HDR_BYTES];
    uint64_t off0 = fmt->planes[0].offset, seq = 0;
    int64_t t0 = fbus_now_ns(), deadline = t0 + (int64_t)(cfg->seconds * 1e9);

    memset(hdr, 0, sizeof(hdr));
    bench_loop_usage(o, 1);
    atomic_store(&j->sh->t_start, t0);
    while (!bench_writer_done(cfg, j->fmt, seq, deadline)) {
        const uint8_t *src = j->pool->buf[(seq + 1) % BENCH_POOL];

        bench_pace(cfg, cfg->fps, t0, seq);
        seq++;
        bench_stamp(hdr, seq, fbus_now_ns());
        for (int i = 0; i < cfg->readers; i++) {
            struct iovec iov[3] = {
                {(void *)src, off0},
                {hdr, BENCH_HDR_BYTES},
                {(void *)(src + off0 + BENCH_HDR_BYTES), fmt->size - off0 - BENCH_HDR_BYTES},
            };
            int err = writev_all(cfg, fds[i], iov, 3);
            if (err < 0)
                return bench_child_fail(o, "pipe writer: %s", strerror(-err));
        }
        atomic_store_explicit(&j->sh->progress, seq, memory_order_relaxed);
    }
    o->t_last = fbus_now_ns();
    bench_loop_usage(o, 0);
    o->frames = seq;
    return 0;
}

/* Read a whole frame: 1, 0 at a clean end of stream, or -errno. */
static int read_frame(int fd, uint8_t *buf, size_t size)
{
    size_t got = 0;

    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return got == 0 ? 0 : -EPIPE;
        got += (size_t)n;
    }
    return 1;
}

int bench_pipe_reader(struct bench_job *j, int fd)
{
    const fbus_format *fmt = j->fmt;
    struct bench_child_out *o = &j->sh->readers[j->index];
    uint8_t *buf = aligned_alloc(64, (fmt->size + 63) & ~(uint64_t)63);
    const uint8_t *data[FBUS_MAX_PLANES];
    uint64_t last = 0;
    int64_t first = 0;
    int rc = 1;

    if (!buf)
        return bench_child_fail(o, "reader %d: out of memory", j->index + 1);
    bench_plane_ptrs(fmt, buf, data);
    memset(buf, 0, fmt->size); /* fault it in before the clock starts */
    bench_loop_usage(o, 1);
    for (;;) {
        struct bench_frame_hdr hdr;
        int64_t now;
        int got = read_frame(fd, buf, fmt->size), good;

        now = fbus_now_ns();
        if (got == 0)
            break;
        if (got < 0) {
            bench_child_fail(o, "pipe reader %d: %s", j->index + 1, strerror(-got));
            goto out;
        }
        good = bench_frame_ok(fmt, j->pool, data, last + 1, &hdr);
        if (hdr.magic == BENCH_MAGIC)
            bench_record_latency(o, now - hdr.send_ns);
        if (hdr.seq != last + 1)
            o->seq_errors++;
        last = hdr.seq;
        o->frames++;
        o->t_last = now;
        if (!good)
            o->bad++;
        if (o->frames == 1)
            first = now;
        bench_pace(j->cfg, j->cfg->reader_fps, first, o->frames);
    }
    bench_loop_usage(o, 0);
    rc = 0;
out:
    free(buf);
    return rc;
}

/* Single-thread memcpy of one frame at a time, pool to one of three buffers
 * that stay in the cache, no reader: an upper bound for a writer. */
static int measure_warm(const bench_config *cfg, const fbus_format *fmt,
                        const struct bench_pool *pl, bench_result *res, char *err, size_t errsz)
{
    uint8_t *dst[3] = {NULL, NULL, NULL};
    int64_t t0, t1, deadline, cpu;
    uint64_t n = 0;
    int rc = -1;

    for (int i = 0; i < 3; i++) {
        dst[i] = aligned_alloc(64, (fmt->size + 63) & ~(uint64_t)63);
        if (!dst[i]) {
            snprintf(err, errsz, "memcpy: out of memory");
            goto out;
        }
        memset(dst[i], 0, fmt->size); /* fault the pages in first */
    }
    cpu = cpu_now();
    t0 = fbus_now_ns();
    deadline = t0 + (int64_t)(cfg->seconds * 1e9);
    for (t1 = t0; !bench_writer_done(cfg, fmt, n, deadline); n++) {
        uint8_t *planes[FBUS_MAX_PLANES];
        for (uint32_t p = 0; p < fmt->nb_planes; p++)
            planes[p] = dst[n % 3] + fmt->planes[p].offset;
        bench_copy_frame(fmt, pl, n + 1, planes, 1);
        bench_stamp(planes[0], n + 1, 0);
    }
    t1 = fbus_now_ns();
    res->memcpy_warm_frames = n;
    res->memcpy_warm_seconds = (double)(t1 - t0) / 1e9;
    res->memcpy_warm_fps = t1 > t0 ? (double)n / res->memcpy_warm_seconds : 0;
    res->memcpy_warm_cpu_us_per_frame = n ? (double)(cpu_now() - cpu) / 1e3 / (double)n : 0;
    rc = 0;
out:
    for (int i = 0; i < 3; i++)
        free(dst[i]);
    return rc;
}

/* The ring's shared control words, one cache line each. */
struct ring_ctl {
    _Alignas(64) _Atomic uint64_t newest; /* frame number last written, 0: none */
    _Alignas(64) _Atomic int state;       /* 0 starting, 2 stop */
    _Alignas(64) _Atomic int started;     /* readers running */
    _Alignas(64) _Atomic uint32_t pub;    /* futex: raised at every publish */
    _Atomic uint32_t pub_waiters;         /* readers asleep on it */
    _Alignas(64) _Atomic uint32_t rel;    /* futex: raised at every read */
    _Atomic uint32_t rel_waiters;         /* 1 while the writer sleeps on it */
    struct {
        _Alignas(64) _Atomic uint64_t consumed; /* lossless: frames read */
    } rd[BENCH_MAX_READERS];
};

/* Sleep on *word while it is v (1 ms at most: callers look again), counted
 * in *waiters so that a wake costs a system call only when someone sleeps.
 * The caller read v before it checked its condition. */
static void ring_wait(_Atomic uint32_t *word, _Atomic uint32_t *waiters, uint32_t v)
{
    struct timespec ts = {0, 1000000};

    atomic_fetch_add_explicit(waiters, 1, memory_order_seq_cst);
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, v, &ts, NULL, 0);
    atomic_fetch_sub_explicit(waiters, 1, memory_order_seq_cst);
}

/* Raise *word after the caller's seq_cst store; wake its sleepers, if any. */
static void ring_wake(_Atomic uint32_t *word, _Atomic uint32_t *waiters)
{
    atomic_fetch_add_explicit(word, 1, memory_order_seq_cst);
    if (atomic_load_explicit(waiters, memory_order_seq_cst))
        syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/* A ring reader: as a bus reader of cfg's policy, without the bus. Latest:
 * checksum the newest frame whenever there is a new one (a torn frame is
 * possible and not counted: the point is the memory traffic). Lossless:
 * every frame in turn, then say so in its consumed word. */
static void ring_reader(const bench_config *cfg, const fbus_format *fmt,
                        const struct bench_pool *pl, struct ring_ctl *ctl, uint8_t *ring,
                        uint64_t stride, int index)
{
    uint64_t last = 0;

    (void)bench_pin(cfg, index); /* --pin: as the bus's readers */
    atomic_fetch_add(&ctl->started, 1);
    while (atomic_load_explicit(&ctl->state, memory_order_acquire) != 2 && !bench_stopped(cfg)) {
        uint32_t v = atomic_load_explicit(&ctl->pub, memory_order_seq_cst);
        uint64_t n = atomic_load_explicit(&ctl->newest, memory_order_seq_cst);
        const uint8_t *data[FBUS_MAX_PLANES];
        struct bench_frame_hdr hdr;

        if (n == last) {
            ring_wait(&ctl->pub, &ctl->pub_waiters, v);
            continue;
        }
        if (cfg->policy == FBUS_POLICY_LOSSLESS)
            n = last + 1;
        bench_plane_ptrs(fmt, ring + (n % cfg->slots) * stride, data);
        (void)bench_frame_ok(fmt, pl, data, n, &hdr);
        last = n;
        atomic_store_explicit(&ctl->rd[index].consumed, n, memory_order_seq_cst);
        if (cfg->policy == FBUS_POLICY_LOSSLESS)
            ring_wake(&ctl->rel, &ctl->rel_waiters);
    }
}

/* The writer's own copy (fbus_copy, as into a slot) into a ring of
 * cfg->slots frames while cfg->readers reader processes read them with the
 * bus's policy (lossless: the writer waits until every reader read the
 * frame a slot holds before it overwrites it): what a writer whose frames go
 * to other cores can do with no bus at all. */
static int measure_ring(const bench_config *cfg, const fbus_format *fmt,
                        const struct bench_pool *pl, bench_result *res, char *err, size_t errsz)
{
    uint64_t stride = (fmt->size + 4095) & ~(uint64_t)4095, n = 0;
    size_t head = (sizeof(struct ring_ctl) + 4095) & ~(size_t)4095;
    size_t size = head + (size_t)(stride * cfg->slots);
    struct ring_ctl *ctl;
    uint8_t *ring;
    int64_t t0, t1, deadline, cpu;
    pid_t pids[BENCH_MAX_READERS];
    cpu_set_t saved;
    int st, started = 0, restore = 0;

    ctl = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ctl == MAP_FAILED) {
        snprintf(err, errsz, "memcpy: cannot map a ring of %" PRIu32 " frames: %s", cfg->slots,
                 strerror(errno));
        return -1;
    }
    ring = (uint8_t *)ctl + head;
    memset(ring, 0, stride * cfg->slots); /* fault the pages in first */
    fflush(NULL);
    for (; started < cfg->readers; started++) {
        pids[started] = fork();
        if (pids[started] < 0) {
            snprintf(err, errsz, "memcpy: cannot start its readers: %s", strerror(errno));
            break;
        }
        if (pids[started] == 0) {
            ring_reader(cfg, fmt, pl, ctl, ring, stride, started);
            _exit(0);
        }
    }
    /* --pin: this process writes, on the writer's CPU, until it is done. */
    if (cfg->pin && sched_getaffinity(0, sizeof(saved), &saved) == 0 && bench_pin(cfg, -1) == 0)
        restore = 1;
    while (started == cfg->readers && atomic_load(&ctl->started) < cfg->readers &&
           !bench_stopped(cfg)) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    cpu = cpu_now();
    t0 = fbus_now_ns();
    deadline = t0 + (int64_t)(cfg->seconds * 1e9);
    for (t1 = t0; started == cfg->readers && !bench_writer_done(cfg, fmt, n, deadline); n++) {
        uint8_t *planes[FBUS_MAX_PLANES];
        uint8_t *base = ring + ((n + 1) % cfg->slots) * stride;

        if (cfg->policy == FBUS_POLICY_LOSSLESS && n + 1 > cfg->slots) {
            /* The slot holds frame n + 1 - slots: every reader must have
             * read it. */
            for (int i = 0; i < cfg->readers && !bench_stopped(cfg); i++) {
                for (;;) {
                    uint32_t v = atomic_load_explicit(&ctl->rel, memory_order_seq_cst);
                    if (atomic_load_explicit(&ctl->rd[i].consumed, memory_order_seq_cst) >=
                            n + 1 - cfg->slots ||
                        bench_stopped(cfg))
                        break;
                    ring_wait(&ctl->rel, &ctl->rel_waiters, v);
                }
            }
        }
        for (uint32_t p = 0; p < fmt->nb_planes; p++)
            planes[p] = base + fmt->planes[p].offset;
        bench_copy_frame(fmt, pl, n + 1, planes, 0);
        bench_stamp(planes[0], n + 1, 0);
        atomic_store_explicit(&ctl->newest, n + 1, memory_order_seq_cst);
        ring_wake(&ctl->pub, &ctl->pub_waiters);
    }
    t1 = fbus_now_ns();
    if (restore)
        (void)sched_setaffinity(0, sizeof(saved), &saved);
    res->memcpy_cpu_us_per_frame = n ? (double)(cpu_now() - cpu) / 1e3 / (double)n : 0;
    atomic_store(&ctl->state, 2);
    ring_wake(&ctl->pub, &ctl->pub_waiters);
    for (int i = 0; i < started; i++)
        while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
            ;
    munmap(ctl, size);
    if (started < cfg->readers)
        return -1;
    res->memcpy_done = 1;
    res->memcpy_frames = n;
    res->memcpy_seconds = (double)(t1 - t0) / 1e9;
    res->memcpy_fps = t1 > t0 ? (double)n / res->memcpy_seconds : 0;
    return 0;
}

int bench_measure_memcpy(const bench_config *cfg, const fbus_format *fmt,
                         const struct bench_pool *pl, bench_result *res, char *err, size_t errsz)
{
    if (measure_ring(cfg, fmt, pl, res, err, errsz) < 0)
        return -1;
    if (bench_stopped(cfg))
        return 0;
    return measure_warm(cfg, fmt, pl, res, err, errsz);
}
