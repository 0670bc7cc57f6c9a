/* SPDX-License-Identifier: MIT */
/*
 * framebus bench: the memcpy rate of one frame, then one writer and N reader
 * processes over a fresh bus, then the same frames over one Unix pipe per
 * reader; a table or JSON of the result, or the --sweep matrix as CSV and a
 * gnuplot PNG. Children report back through a shared anonymous mapping.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "framebus/framebus.h"

#define BENCH_MAX_READERS 64
/* Prepared frames the writer copies from, round robin. */
#define BENCH_POOL 4
/* Every frame starts with this many bytes of header (seq, send time). */
#define BENCH_HDR_BYTES 64
/* Log-linear latency histogram: 32 buckets per power of two of ns. */
#define BENCH_HIST_SUB     32
#define BENCH_HIST_BUCKETS (60 * BENCH_HIST_SUB)

/* What one run measures. */
typedef struct bench_config {
    uint32_t width;
    uint32_t height;
    char pix_fmt[FBUS_PIXFMT_MAX];
    int readers;
    fbus_policy policy;
    fbus_transport transport;
    uint32_t slots;
    uint64_t frames;   /* per measurement and round; 0: run for `seconds` */
    double seconds;    /* per measurement, split over the rounds */
    int rounds;        /* each measurement's best round is reported */
    double reader_fps; /* readers take at most this many frames/s; 0: no limit */
    double fps;        /* the writer sends at most this many frames/s; 0: no limit */
} bench_config;

/* Which parts of a run to do (bench_run's `what`). */
#define BENCH_DO_MEMCPY 0x1u
#define BENCH_DO_BUS    0x2u
#define BENCH_DO_PIPE   0x4u
#define BENCH_DO_ALL    0x7u

typedef struct bench_latency {
    uint64_t samples;
    double p50_us;
    double p99_us;
    double max_us;
} bench_latency;

/* What one process (the writer or one reader) did. */
typedef struct bench_proc {
    uint64_t frames;
    uint64_t drops;      /* frames a latest reader skipped */
    uint64_t overruns;   /* frames released with FBUS_EOVERRUN */
    uint64_t bad;        /* frames whose checksum or header did not match */
    uint64_t seq_errors; /* lossless gaps, latest going backwards */
    double seconds;      /* from the writer's first frame to its own last */
    double fps;
    double cpu_us_per_frame; /* user + system time of the process / frames */
    uint64_t vcsw;           /* voluntary context switches (it blocked) */
    uint64_t ivcsw;          /* involuntary ones (it was preempted) */
    bench_latency latency;
} bench_proc;

/* The writer and readers of one transport of frames (bus or pipe). */
typedef struct bench_side {
    int done;
    bench_proc writer;
    int nb_readers;
    bench_proc readers[BENCH_MAX_READERS];
    uint64_t drops, overruns, bad, seq_errors;
    double reader_fps_min, reader_fps_mean;
    double reader_cpu_us_per_frame; /* mean over readers */
    bench_latency latency;          /* over every frame of every reader */
} bench_side;

typedef struct bench_result {
    bench_config cfg;
    fbus_format fmt;
    double loadavg; /* 1-minute load average when the run ended */
    int memcpy_done;
    uint64_t memcpy_frames;
    double memcpy_seconds;
    double memcpy_fps;
    double memcpy_cpu_us_per_frame;
    bench_side bus;
    bench_side pipe;
    double bus_pipe;   /* bus writer fps / pipe writer fps, 0 if unknown */
    double bus_memcpy; /* bus writer fps / memcpy fps, 0 if unknown */
} bench_result;

/* One line "framebus: bench: ..." on stderr. */
static void bench_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void bench_error(const char *fmt, ...)
{
    va_list ap;

    fputs("framebus: bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const char *bench_policy_name(fbus_policy p)
{
    return p == FBUS_POLICY_LOSSLESS ? "lossless" : "latest";
}

static const char *bench_transport_name(fbus_transport t)
{
    return t == FBUS_TRANSPORT_SYSV ? "sysv" : "posix";
}

/* ============================================================ measurements */

#define BENCH_MAGIC         UINT64_C(0x68636e6562737562) /* "busbench" */
#define WRITER_WAIT_NS      (5 * 1000000000LL)           /* for a lossless reader */
#define READER_WAIT_NS      (10 * 1000000000LL)          /* for the next frame */
#define ATTACH_WAIT_NS      (10 * 1000000000LL)          /* for every reader to attach */
#define STALL_NS            (20 * 1000000000LL)          /* no progress: kill the run */
#define PRODUCER_TIMEOUT_NS (10 * 1000000000LL)          /* heartbeat age that means gone */
#define PROGRESS_PERIOD_NS  (200 * 1000000LL)

static volatile sig_atomic_t bench_stop;
static char bench_progress_prefix[32];
static char progress_round[32];

/* What every frame carries in its first BENCH_HDR_BYTES bytes. */
struct frame_hdr {
    uint64_t magic;
    uint64_t seq;
    int64_t send_ns; /* pipe: when the writer started sending it */
    uint64_t pool;   /* which prepared frame the rest comes from */
};

/* The prepared frames, laid out as in a slot, and the checksum each one's
 * bytes after the header give. */
struct pool {
    uint8_t *buf[BENCH_POOL];
    uint64_t sum[BENCH_POOL];
};

/* One process's report, written by the child, read by the parent after it
 * is reaped (waitpid orders the two). */
struct child_out {
    int ok;
    char msg[200];
    uint64_t frames, drops, overruns, bad, seq_errors;
    int64_t t_last;
    int64_t cpu_ns; /* user + system time of the frame loop */
    int64_t vcsw;   /* voluntary context switches in it (blocked) */
    int64_t ivcsw;  /* involuntary ones (preempted) */
    int64_t lat_max;
    uint64_t hist[BENCH_HIST_BUCKETS];
};

struct shared {
    _Atomic uint64_t progress; /* frames the writer sent so far */
    _Atomic int ready;         /* the writer created the bus */
    _Atomic int64_t t_start;   /* the writer's first frame */
    _Atomic int64_t t_end;     /* after the writer's last frame */
    struct child_out writer;
    struct child_out readers[]; /* cfg->readers of them */
};

/* Everything a child needs; children are forked, so this is their copy. */
struct job {
    const bench_config *cfg;
    const fbus_format *fmt;
    const struct pool *pool;
    struct shared *sh;
    char name[FBUS_NAME_MAX + 1];
    int index; /* reader index */
};

/* ------------------------------------------------------------ frames */

static uint64_t next_random(uint64_t *s)
{
    /* xorshift64*: plenty for bytes that only need to differ. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

/* Fletcher-like sum in four independent lanes: order-sensitive, so a torn
 * frame (rows of two prepared frames) does not add up, and cheap enough that
 * a reader runs at memory speed. The lanes live in locals: stored through
 * the array pointers, every byte loaded (uint8_t aliases anything) would
 * force them back to memory. */
static void sum_bytes(const uint8_t *p, size_t n, uint64_t a[4], uint64_t b[4])
{
    uint64_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    uint64_t b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];

    for (; n >= 32; p += 32, n -= 32) {
        uint64_t w[4];
        memcpy(w, p, sizeof(w));
        a0 += w[0];
        a1 += w[1];
        a2 += w[2];
        a3 += w[3];
        b0 += a0;
        b1 += a1;
        b2 += a2;
        b3 += a3;
    }
    for (; n; p++, n--) {
        a0 += *p;
        b0 += a0;
    }
    a[0] = a0;
    a[1] = a1;
    a[2] = a2;
    a[3] = a3;
    b[0] = b0;
    b[1] = b1;
    b[2] = b2;
    b[3] = b3;
}

/* The checksum of a frame: every plane's stride * rows bytes, in order,
 * except the header at the start of plane 0. */
static uint64_t frame_checksum(const fbus_format *fmt, const uint8_t *const data[])
{
    uint64_t a[4] = {1, 2, 3, 4}, b[4] = {0, 0, 0, 0}, h = 0;

    for (uint32_t p = 0; p < fmt->nb_planes; p++) {
        size_t skip = p == 0 ? BENCH_HDR_BYTES : 0;
        size_t n = (size_t)fmt->planes[p].stride * fmt->planes[p].rows;
        sum_bytes(data[p] + skip, n - skip, a, b);
    }
    for (int k = 0; k < 4; k++)
        h = (h ^ a[k] ^ (b[k] << 1)) * UINT64_C(0x100000001b3);
    return h;
}

static void plane_ptrs(const fbus_format *fmt, const uint8_t *base, const uint8_t *data[])
{
    for (uint32_t p = 0; p < fmt->nb_planes; p++)
        data[p] = base + fmt->planes[p].offset;
}

static void pool_free(struct pool *pl)
{
    for (int k = 0; k < BENCH_POOL; k++) {
        free(pl->buf[k]);
        pl->buf[k] = NULL;
    }
}

static int pool_init(struct pool *pl, const fbus_format *fmt)
{
    uint64_t s = UINT64_C(0x9e3779b97f4a7c15);

    memset(pl, 0, sizeof(*pl));
    for (int k = 0; k < BENCH_POOL; k++) {
        const uint8_t *data[FBUS_MAX_PLANES];
        uint8_t *b = aligned_alloc(64, (fmt->size + 63) & ~(uint64_t)63);

        if (!b) {
            pool_free(pl);
            return -1;
        }
        for (uint64_t i = 0; i + 8 <= fmt->size; i += 8) {
            uint64_t v = next_random(&s);
            memcpy(b + i, &v, 8);
        }
        for (uint64_t i = fmt->size & ~(uint64_t)7; i < fmt->size; i++)
            b[i] = (uint8_t)next_random(&s);
        pl->buf[k] = b;
        plane_ptrs(fmt, b, data);
        pl->sum[k] = frame_checksum(fmt, data);
    }
    return 0;
}

/* Copy prepared frame `seq % BENCH_POOL` into the planes at dst, as a
 * producer copies a decoded frame into its slot: with fbus_copy(), or with
 * plain memcpy for the memcpy baseline. */
static void copy_frame(const fbus_format *fmt, const struct pool *pl, uint64_t seq,
                       uint8_t *const dst[], int plain)
{
    const uint8_t *src = pl->buf[seq % BENCH_POOL];

    for (uint32_t p = 0; p < fmt->nb_planes; p++) {
        size_t n = (size_t)fmt->planes[p].stride * fmt->planes[p].rows;

        if (plain)
            memcpy(dst[p], src + fmt->planes[p].offset, n);
        else
            fbus_copy(dst[p], src + fmt->planes[p].offset, n);
    }
}

static void stamp(uint8_t *plane0, uint64_t seq, int64_t send_ns)
{
    struct frame_hdr h = {BENCH_MAGIC, seq, send_ns, seq % BENCH_POOL};

    memcpy(plane0, &h, sizeof(h));
}

/* Whether a received frame is the one the writer sent as `seq`. */
static int frame_ok(const fbus_format *fmt, const struct pool *pl, const uint8_t *const data[],
                    uint64_t seq, struct frame_hdr *hdr)
{
    memcpy(hdr, data[0], sizeof(*hdr));
    if (hdr->magic != BENCH_MAGIC || hdr->seq != seq || hdr->pool != seq % BENCH_POOL)
        return 0;
    return frame_checksum(fmt, data) == pl->sum[seq % BENCH_POOL];
}

/* ------------------------------------------------------------ latency */

static int hist_index(int64_t ns)
{
    uint64_t v = ns < 0 ? 0 : (uint64_t)ns;
    int msb;

    if (v < BENCH_HIST_SUB)
        return (int)v;
    msb = 63 - __builtin_clzll(v);
    /* The top 5 bits below and including the msb pick the sub-bucket. */
    return (msb - 4) * BENCH_HIST_SUB + (int)((v >> (msb - 5)) - BENCH_HIST_SUB);
}

/* The middle of a bucket, in ns. */
static double hist_value(int idx)
{
    int msb, sub;
    double low, width;

    if (idx < BENCH_HIST_SUB)
        return idx;
    msb = idx / BENCH_HIST_SUB + 4;
    sub = idx % BENCH_HIST_SUB;
    width = (double)(UINT64_C(1) << (msb - 5));
    low = (double)(BENCH_HIST_SUB + sub) * width;
    return low + width / 2;
}

static void latency_of(const uint64_t *hist, int64_t max_ns, bench_latency *lat)
{
    uint64_t n = 0, acc = 0;
    double p50 = 0, p99 = 0;
    int have50 = 0;

    for (int i = 0; i < BENCH_HIST_BUCKETS; i++)
        n += hist[i];
    lat->samples = n;
    if (!n) {
        lat->p50_us = lat->p99_us = lat->max_us = 0;
        return;
    }
    for (int i = 0; i < BENCH_HIST_BUCKETS; i++) {
        acc += hist[i];
        if (!have50 && acc * 2 >= n) {
            p50 = hist_value(i);
            have50 = 1;
        }
        if (acc * 100 >= n * 99) {
            p99 = hist_value(i);
            break;
        }
    }
    if (p50 > (double)max_ns)
        p50 = (double)max_ns;
    if (p99 > (double)max_ns)
        p99 = (double)max_ns;
    lat->p50_us = p50 / 1000.0;
    lat->p99_us = p99 / 1000.0;
    lat->max_us = (double)max_ns / 1000.0;
}

static void record_latency(struct child_out *o, int64_t ns)
{
    o->hist[hist_index(ns)]++;
    if (ns > o->lat_max)
        o->lat_max = ns;
}

/* ------------------------------------------------------------ children */

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
static void loop_usage(struct child_out *o, int start)
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

static int child_fail(struct child_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int child_fail(struct child_out *o, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(o->msg, sizeof(o->msg), fmt, ap);
    va_end(ap);
    return 1;
}

/* With a rate (--reader-fps for readers, --fps for writers), sleep until
 * frame number `frames` is due; `first` is when frame 0 was. */
static void pace(double fps, int64_t first, uint64_t frames)
{
    struct timespec ts;
    int64_t due;

    if (fps <= 0)
        return;
    due = first + (int64_t)((double)frames * 1e9 / fps);
    ts.tv_sec = (time_t)(due / 1000000000LL);
    ts.tv_nsec = (long)(due % 1000000000LL);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !bench_stop)
        ;
}

/* Whether the writer is done after `sent` frames. */
static int writer_done(const bench_config *cfg, const fbus_format *fmt, uint64_t sent,
                       int64_t deadline)
{
    if (bench_stop)
        return 1;
    if (cfg->frames)
        return sent >= cfg->frames;
    /* Reading the clock costs as much as copying a small frame (a VM's
     * clock_gettime is slow): look at it every 16th small frame only. */
    if (fmt->size < (256u << 10) && (sent & 15) != 0)
        return 0;
    return fbus_now_ns() >= deadline;
}

static int bus_writer(struct job *j)
{
    const bench_config *cfg = j->cfg;
    struct child_out *o = &j->sh->writer;
    fbus_writer_opts wo = {.transport = cfg->transport, .slots = cfg->slots, .format = j->fmt};
    fbus_writer *w = NULL;
    int64_t t0, deadline;
    uint64_t seq = 0, warm = 0;
    int err, rc = 1;

    err = fbus_writer_open(j->name, &wo, &w);
    if (err < 0)
        return child_fail(o, "cannot create bus \"%s\": %s", j->name, fbus_strerror(err));
    /* Warm-up, before any reader is there: one frame into every slot, so
     * that the first touch of each page of the fresh mapping (a page fault,
     * ~24 us a page in a VM, 2 ms a 1080p frame) is not timed, as the
     * memcpy's buffers are faulted in before it is timed. */
    for (uint32_t k = 0; k < cfg->slots; k++) {
        fbus_slot slot;

        err = fbus_writer_acquire(w, j->fmt, WRITER_WAIT_NS, &slot);
        if (err < 0) {
            child_fail(o, "writer: %s", fbus_strerror(err));
            goto out;
        }
        copy_frame(j->fmt, j->pool, slot.seq, slot.data, 0);
        stamp(slot.data[0], slot.seq, 0);
        fbus_writer_publish(w, &slot, NULL);
        warm = slot.seq;
    }
    atomic_store(&j->sh->ready, 1);
    err = fbus_writer_wait_readers(w, cfg->readers, ATTACH_WAIT_NS);
    if (err < 0) {
        child_fail(o, "only %d of %d readers attached within 10 s", fbus_writer_readers(w),
                   cfg->readers);
        goto out;
    }
    loop_usage(o, 1);
    t0 = fbus_now_ns();
    deadline = t0 + (int64_t)(cfg->seconds * 1e9);
    atomic_store(&j->sh->t_start, t0);
    while (!writer_done(cfg, j->fmt, seq, deadline)) {
        fbus_slot slot;

        pace(cfg->fps, t0, seq);
        err = fbus_writer_acquire(w, j->fmt, WRITER_WAIT_NS, &slot);
        if (err == -ETIMEDOUT) {
            child_fail(o, "writer waited 5 s for a lossless reader");
            goto out;
        }
        if (err < 0) {
            child_fail(o, "writer: %s", fbus_strerror(err));
            goto out;
        }
        copy_frame(j->fmt, j->pool, slot.seq, slot.data, 0);
        stamp(slot.data[0], slot.seq, 0);
        fbus_writer_publish(w, &slot, NULL);
        seq = slot.seq - warm;
        atomic_store_explicit(&j->sh->progress, seq, memory_order_relaxed);
    }
    o->t_last = fbus_now_ns();
    loop_usage(o, 0);
    atomic_store(&j->sh->t_end, o->t_last);
    o->frames = seq;
    o->ok = 1;
    rc = 0;
out:
    fbus_writer_close(w);
    return rc;
}

static int bus_reader(struct job *j)
{
    const bench_config *cfg = j->cfg;
    struct child_out *o = &j->sh->readers[j->index];
    /* A generous liveness timeout: on a loaded machine the writer's
     * heartbeat thread may wait for a CPU for a long time, and a benchmark
     * has its own stall watchdog. */
    fbus_reader_opts ro = {.transport = cfg->transport,
                           .policy = cfg->policy,
                           .producer_timeout_ns = PRODUCER_TIMEOUT_NS};
    fbus_reader *r = NULL;
    uint64_t last = 0;
    int64_t first = 0;
    int err, rc = 1;

    err = fbus_reader_open(j->name, &ro, &r);
    if (err < 0)
        return child_fail(o, "reader %d: cannot attach to bus \"%s\": %s", j->index + 1, j->name,
                          fbus_strerror(err));
    loop_usage(o, 1);
    for (;;) {
        fbus_frame f;
        struct frame_hdr hdr;
        int64_t now;
        int good;

        err = fbus_reader_acquire(r, READER_WAIT_NS, &f);
        now = fbus_now_ns();
        if (err == FBUS_EENDED)
            break;
        if (err < 0) {
            child_fail(o, "reader %d: %s", j->index + 1, fbus_strerror(err));
            goto out;
        }
        if (f.seq <= cfg->slots) {
            /* The newest warm-up frame, out before we attached: not part
             * of the measurement. */
            last = f.seq;
            fbus_reader_release(r, &f);
            continue;
        }
        record_latency(o, now - f.publish_ns);
        good = frame_ok(j->fmt, j->pool, f.data, f.seq, &hdr);
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
        pace(cfg->reader_fps, first, o->frames);
    }
    loop_usage(o, 0);
    o->ok = 1;
    rc = 0;
out:
    fbus_reader_close(r);
    return rc;
}

/* writev() all of iov, whatever the pipe takes at a time. */
static int writev_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t done = writev(fd, iov, n);

        if (done < 0) {
            if (errno == EINTR && !bench_stop)
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
static int pipe_writer(struct job *j, const int *fds)
{
    const bench_config *cfg = j->cfg;
    const fbus_format *fmt = j->fmt;
    struct child_out *o = &j->sh->writer;
    uint8_t hdr[BENCH_HDR_BYTES];
    uint64_t off0 = fmt->planes[0].offset, seq = 0;
    int64_t t0 = fbus_now_ns(), deadline = t0 + (int64_t)(cfg->seconds * 1e9);

    memset(hdr, 0, sizeof(hdr));
    loop_usage(o, 1);
    atomic_store(&j->sh->t_start, t0);
    while (!writer_done(cfg, j->fmt, seq, deadline)) {
        const uint8_t *src = j->pool->buf[(seq + 1) % BENCH_POOL];

        pace(cfg->fps, t0, seq);
        seq++;
        stamp(hdr, seq, fbus_now_ns());
        for (int i = 0; i < cfg->readers; i++) {
            struct iovec iov[3] = {
                {(void *)src, off0},
                {hdr, BENCH_HDR_BYTES},
                {(void *)(src + off0 + BENCH_HDR_BYTES), fmt->size - off0 - BENCH_HDR_BYTES},
            };
            int err = writev_all(fds[i], iov, 3);
            if (err < 0)
                return child_fail(o, "pipe writer: %s", strerror(-err));
        }
        atomic_store_explicit(&j->sh->progress, seq, memory_order_relaxed);
    }
    o->t_last = fbus_now_ns();
    loop_usage(o, 0);
    atomic_store(&j->sh->t_end, o->t_last);
    o->frames = seq;
    o->ok = 1;
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

static int pipe_reader(struct job *j, int fd)
{
    const fbus_format *fmt = j->fmt;
    struct child_out *o = &j->sh->readers[j->index];
    uint8_t *buf = aligned_alloc(64, (fmt->size + 63) & ~(uint64_t)63);
    const uint8_t *data[FBUS_MAX_PLANES];
    uint64_t last = 0;
    int64_t first = 0;
    int rc = 1;

    if (!buf)
        return child_fail(o, "reader %d: out of memory", j->index + 1);
    plane_ptrs(fmt, buf, data);
    memset(buf, 0, fmt->size); /* fault it in before the clock starts */
    loop_usage(o, 1);
    for (;;) {
        struct frame_hdr hdr;
        int64_t now;
        int got = read_frame(fd, buf, fmt->size), good;

        now = fbus_now_ns();
        if (got == 0)
            break;
        if (got < 0) {
            child_fail(o, "pipe reader %d: %s", j->index + 1, strerror(-got));
            goto out;
        }
        good = frame_ok(fmt, j->pool, data, last + 1, &hdr);
        if (hdr.magic == BENCH_MAGIC)
            record_latency(o, now - hdr.send_ns);
        if (hdr.seq != last + 1)
            o->seq_errors++;
        last = hdr.seq;
        o->frames++;
        o->t_last = now;
        if (!good)
            o->bad++;
        if (o->frames == 1)
            first = now;
        pace(j->cfg->reader_fps, first, o->frames);
    }
    loop_usage(o, 0);
    o->ok = 1;
    rc = 0;
out:
    free(buf);
    return rc;
}

/* ------------------------------------------------------------ parent */

static void progress(const char *what, const struct shared *sh, int64_t now)
{
    int64_t t0 = atomic_load(&sh->t_start);
    uint64_t n = atomic_load_explicit(&sh->progress, memory_order_relaxed);
    double s = t0 ? (double)(now - t0) / 1e9 : 0;

    fprintf(stderr, "\r\033[K%s%s%s: %5.1f s  %8" PRIu64 " frames  %9.1f fps",
            bench_progress_prefix, progress_round, what, s, n, s > 0 ? (double)n / s : 0.0);
}

/*
 * Reap the n children in pids (pids[0] the writer), printing progress and
 * killing them all if the writer makes no progress for STALL_NS. Returns 0
 * if all exited 0.
 */
static int reap(pid_t *pids, int n, const char *what, const struct shared *sh, char *why,
                size_t whysz)
{
    int left = n, failed = 0, tty = isatty(STDERR_FILENO);
    int64_t last_change = fbus_now_ns(), last_print = 0;
    uint64_t last_progress = 0;

    while (left > 0) {
        int64_t now;
        int reaped = 0;

        for (int i = 0; i < n; i++) {
            int st;
            pid_t p;

            if (pids[i] <= 0)
                continue;
            p = waitpid(pids[i], &st, WNOHANG);
            if (p == 0 || (p < 0 && errno == EINTR))
                continue;
            if (p != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                failed = 1;
            /* A process killed by a signal is the likeliest root cause. */
            if (p == pids[i] && WIFSIGNALED(st) && !why[0] && !bench_stop)
                snprintf(why, whysz, "%s %s%.0d killed by signal %d (%s)", what,
                         i ? "reader " : "writer", i, WTERMSIG(st), strsignal(WTERMSIG(st)));
            pids[i] = -1;
            left--;
            reaped = 1;
        }
        if (reaped)
            continue;
        now = fbus_now_ns();
        if (atomic_load_explicit(&sh->progress, memory_order_relaxed) != last_progress) {
            last_progress = atomic_load_explicit(&sh->progress, memory_order_relaxed);
            last_change = now;
        }
        if (now - last_change > STALL_NS && failed != 2) {
            for (int i = 0; i < n; i++)
                if (pids[i] > 0)
                    kill(pids[i], SIGKILL);
            if (!why[0])
                snprintf(why, whysz, "%s: no progress for %d s, stopped", what,
                         (int)(STALL_NS / 1000000000LL));
            failed = 2;
        }
        if (tty && now - last_print >= PROGRESS_PERIOD_NS) {
            progress(what, sh, now);
            last_print = now;
        }
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (tty)
        fputs("\r\033[K", stderr);
    return failed;
}

static void side_of(const bench_config *cfg, const struct shared *sh, bench_side *side)
{
    int64_t t0 = atomic_load(&sh->t_start);
    uint64_t hist[BENCH_HIST_BUCKETS];
    int64_t max = 0;
    double fps_sum = 0, cpu_sum = 0;

    memset(side, 0, sizeof(*side));
    memset(hist, 0, sizeof(hist));
    side->done = 1;
    side->writer.frames = sh->writer.frames;
    side->writer.seconds = (double)(sh->writer.t_last - t0) / 1e9;
    side->writer.fps =
        side->writer.seconds > 0 ? (double)sh->writer.frames / side->writer.seconds : 0;
    side->writer.vcsw = (uint64_t)sh->writer.vcsw;
    side->writer.ivcsw = (uint64_t)sh->writer.ivcsw;
    side->writer.cpu_us_per_frame =
        sh->writer.frames ? (double)sh->writer.cpu_ns / 1e3 / (double)sh->writer.frames : 0;
    side->nb_readers = cfg->readers;
    side->reader_fps_min = -1;
    for (int i = 0; i < cfg->readers; i++) {
        const struct child_out *o = &sh->readers[i];
        bench_proc *p = &side->readers[i];

        p->frames = o->frames;
        p->drops = o->drops;
        p->overruns = o->overruns;
        p->bad = o->bad;
        p->seq_errors = o->seq_errors;
        p->seconds = o->t_last > t0 ? (double)(o->t_last - t0) / 1e9 : 0;
        p->fps = p->seconds > 0 ? (double)p->frames / p->seconds : 0;
        p->cpu_us_per_frame = p->frames ? (double)o->cpu_ns / 1e3 / (double)p->frames : 0;
        p->vcsw = (uint64_t)o->vcsw;
        p->ivcsw = (uint64_t)o->ivcsw;
        latency_of(o->hist, o->lat_max, &p->latency);
        for (int k = 0; k < BENCH_HIST_BUCKETS; k++)
            hist[k] += o->hist[k];
        if (o->lat_max > max)
            max = o->lat_max;
        side->drops += p->drops;
        side->overruns += p->overruns;
        side->bad += p->bad;
        side->seq_errors += p->seq_errors;
        fps_sum += p->fps;
        cpu_sum += p->cpu_us_per_frame;
        if (side->reader_fps_min < 0 || p->fps < side->reader_fps_min)
            side->reader_fps_min = p->fps;
    }
    side->reader_fps_mean = fps_sum / cfg->readers;
    side->reader_cpu_us_per_frame = cpu_sum / cfg->readers;
    latency_of(hist, max, &side->latency);
}

/* The first child's error message, if any wrote one. */
static void child_error(const bench_config *cfg, const struct shared *sh, const char *what,
                        const char *why, char *err, size_t errsz)
{
    if (why[0] && strstr(why, "signal")) {
        snprintf(err, errsz, "%s", why);
        return;
    }
    /* A reader's error first: a writer that waited in vain is its effect. */
    for (int i = 0; i < cfg->readers; i++) {
        if (sh->readers[i].msg[0]) {
            snprintf(err, errsz, "%s: %s", what, sh->readers[i].msg);
            return;
        }
    }
    if (sh->writer.msg[0]) {
        snprintf(err, errsz, "%s: %s", what, sh->writer.msg);
        return;
    }
    if (why[0])
        snprintf(err, errsz, "%s", why);
    else
        snprintf(err, errsz, "%s: a benchmark process failed", what);
}

static struct shared *shared_new(const bench_config *cfg, size_t *size)
{
    void *p;

    *size = sizeof(struct shared) + (size_t)cfg->readers * sizeof(struct child_out);
    p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Run fn in a child that exits with its result. */
static pid_t spawn(int (*fn)(struct job *, const void *), struct job *j, const void *arg)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0)
        _exit(fn(j, arg));
    return pid;
}

static int run_bus_writer(struct job *j, const void *arg)
{
    (void)arg;
    return bus_writer(j);
}

static int run_bus_reader(struct job *j, const void *arg)
{
    (void)arg;
    return bus_reader(j);
}

static int measure_bus(const bench_config *cfg, const fbus_format *fmt, const struct pool *pl,
                       bench_side *side, char *err, size_t errsz)
{
    static unsigned counter;
    struct job j = {cfg, fmt, pl, NULL, "", 0};
    pid_t pids[1 + BENCH_MAX_READERS];
    char what[64], why[160] = "";
    size_t shsize;
    int n = 0, rc = -1;

    j.sh = shared_new(cfg, &shsize);
    if (!j.sh) {
        snprintf(err, errsz, "cannot map the results area: %s", strerror(errno));
        return -1;
    }
    snprintf(j.name, sizeof(j.name), "fbus-bench-%d-%u", (int)getpid(), counter++);
    snprintf(what, sizeof(what), "bus %s %s", bench_transport_name(cfg->transport),
             bench_policy_name(cfg->policy));

    pids[n] = spawn(run_bus_writer, &j, NULL);
    if (pids[n] < 0)
        goto fail_fork;
    n++;
    /* Readers attach once the bus exists; the writer waits for all of them
     * before its first frame, so lossless readers see every frame. */
    for (int64_t give_up = fbus_now_ns() + ATTACH_WAIT_NS; !atomic_load(&j.sh->ready);) {
        struct timespec ts = {0, 1000000L};
        if (fbus_now_ns() > give_up || waitpid(pids[0], NULL, WNOHANG) != 0)
            break;
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&j.sh->ready)) {
        for (int i = 0; i < cfg->readers; i++) {
            j.index = i;
            pids[n] = spawn(run_bus_reader, &j, NULL);
            if (pids[n] < 0)
                goto fail_fork;
            n++;
        }
    }
    if (reap(pids, n, what, j.sh, why, sizeof(why)) != 0 || n != 1 + cfg->readers) {
        child_error(cfg, j.sh, what, why, err, errsz);
        goto out;
    }
    side_of(cfg, j.sh, side);
    rc = 0;
    goto out;

fail_fork:
    snprintf(err, errsz, "%s: fork: %s", what, strerror(errno));
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    reap(pids, n, what, j.sh, why, sizeof(why));
out:
    /* A writer that died would leave its name behind. */
    fbus_unlink(j.name, cfg->transport);
    munmap(j.sh, shsize);
    return rc;
}

struct pipe_arg {
    int *fds; /* [2 * readers]: read end, write end */
};

static int run_pipe_writer(struct job *j, const void *arg)
{
    const struct pipe_arg *pa = arg;
    int wfds[BENCH_MAX_READERS];

    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < j->cfg->readers; i++) {
        close(pa->fds[2 * i]);
        wfds[i] = pa->fds[2 * i + 1];
    }
    return pipe_writer(j, wfds);
}

static int run_pipe_reader(struct job *j, const void *arg)
{
    const struct pipe_arg *pa = arg;

    /* Only our read end stays open, or the EOF would never come. */
    for (int i = 0; i < j->cfg->readers; i++) {
        close(pa->fds[2 * i + 1]);
        if (i != j->index)
            close(pa->fds[2 * i]);
    }
    return pipe_reader(j, pa->fds[2 * j->index]);
}

static int measure_pipe(const bench_config *cfg, const fbus_format *fmt, const struct pool *pl,
                        bench_side *side, char *err, size_t errsz)
{
    struct job j = {cfg, fmt, pl, NULL, "", 0};
    int fds[2 * BENCH_MAX_READERS];
    struct pipe_arg pa = {fds};
    pid_t pids[1 + BENCH_MAX_READERS];
    size_t shsize;
    char why[160] = "";
    int n = 0, nfds = 0, rc = -1;

    j.sh = shared_new(cfg, &shsize);
    if (!j.sh) {
        snprintf(err, errsz, "cannot map the results area: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < cfg->readers; i++) {
        if (pipe(fds + 2 * i) < 0) {
            snprintf(err, errsz, "pipe: %s", strerror(errno));
            goto out;
        }
        nfds += 2;
        /* As big as the system allows (fs.pipe-max-size, 1 MiB by default):
         * fewer wake-ups, the pipe's best case. */
        for (int sz = 1 << 20; sz >= 65536; sz /= 2)
            if (fcntl(fds[2 * i + 1], F_SETPIPE_SZ, sz) >= 0)
                break;
    }
    pids[n] = spawn(run_pipe_writer, &j, &pa);
    if (pids[n] < 0)
        goto fail_fork;
    n++;
    for (int i = 0; i < cfg->readers; i++) {
        j.index = i;
        pids[n] = spawn(run_pipe_reader, &j, &pa);
        if (pids[n] < 0)
            goto fail_fork;
        n++;
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    nfds = 0;
    if (reap(pids, n, "pipe", j.sh, why, sizeof(why)) != 0) {
        child_error(cfg, j.sh, "pipe", why, err, errsz);
        goto out;
    }
    side_of(cfg, j.sh, side);
    rc = 0;
    goto out;

fail_fork:
    snprintf(err, errsz, "pipe: fork: %s", strerror(errno));
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    reap(pids, n, "pipe", j.sh, why, sizeof(why));
out:
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    munmap(j.sh, shsize);
    return rc;
}

/* Single-thread memcpy of one frame at a time, pool to one of three buffers
 * (as to three slots): the most a writer that copies its frames can do. */
static int measure_memcpy(const bench_config *cfg, const fbus_format *fmt, const struct pool *pl,
                          bench_result *res, char *err, size_t errsz)
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
    for (t1 = t0; !writer_done(cfg, fmt, n, deadline); n++) {
        uint8_t *planes[FBUS_MAX_PLANES];
        for (uint32_t p = 0; p < fmt->nb_planes; p++)
            planes[p] = dst[n % 3] + fmt->planes[p].offset;
        copy_frame(fmt, pl, n + 1, planes, 1);
        stamp(planes[0], n + 1, 0);
    }
    t1 = fbus_now_ns();
    res->memcpy_done = 1;
    res->memcpy_frames = n;
    res->memcpy_seconds = (double)(t1 - t0) / 1e9;
    res->memcpy_fps = t1 > t0 ? (double)n / res->memcpy_seconds : 0;
    res->memcpy_cpu_us_per_frame = n ? (double)(cpu_now() - cpu) / 1e3 / (double)n : 0;
    rc = 0;
out:
    for (int i = 0; i < 3; i++)
        free(dst[i]);
    return rc;
}

static void bench_ratios(bench_result *res)
{
    res->bus_pipe = res->bus.done && res->pipe.done && res->pipe.writer.fps > 0
                        ? res->bus.writer.fps / res->pipe.writer.fps
                        : 0;
    res->bus_memcpy = res->bus.done && res->memcpy_done && res->memcpy_fps > 0
                          ? res->bus.writer.fps / res->memcpy_fps
                          : 0;
}

/*
 * Run the parts of `what` for cfg with fmt. res->cfg and res->fmt are set;
 * parts not in `what` are left as they are. Returns 0, or -1 with one
 * sentence in err.
 */
/* The index of the largest of v[0..n). */
static int best_index(const double *v, int n)
{
    int best = 0;

    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

static int bench_run(const bench_config *cfg, const fbus_format *fmt, unsigned what,
                     bench_result *res, char *err, size_t errsz)
{
    bench_config round = *cfg;
    bench_side *bus = calloc((size_t)cfg->rounds, sizeof(*bus));
    bench_side *pipe = calloc((size_t)cfg->rounds, sizeof(*pipe));
    bench_result *mc = calloc(1, sizeof(*mc));
    double bus_fps[64], pipe_fps[64], mc_fps[64], mc_s[64], mc_cpu[64];
    uint64_t mc_n[64];
    struct pool pl;
    double load[1];
    int rc = -1, n = cfg->rounds;

    res->cfg = *cfg;
    res->fmt = *fmt;
    if (!bus || !pipe || !mc || pool_init(&pl, fmt) < 0) {
        snprintf(err, errsz, "out of memory for %d frames of %" PRIu64 " bytes", BENCH_POOL,
                 fmt->size);
        free(bus);
        free(pipe);
        free(mc);
        return -1;
    }
    /* Rounds alternate memcpy, bus and pipe, so load from elsewhere on the
     * machine hits all three alike. Each one's best round (highest writer
     * rate) is reported, as timeit reports its fastest: interference only
     * ever slows a round down, so the best one is closest to the machine. */
    if (!cfg->frames)
        round.seconds = cfg->seconds / n;
    for (int r = 0; r < n && !bench_stop; r++) {
        progress_round[0] = '\0';
        if (n > 1)
            snprintf(progress_round, sizeof(progress_round), "round %d/%d ", r + 1, n);
        if ((what & BENCH_DO_MEMCPY) && measure_memcpy(&round, fmt, &pl, mc, err, errsz) < 0)
            goto out;
        mc_fps[r] = mc->memcpy_fps;
        mc_n[r] = mc->memcpy_frames;
        mc_s[r] = mc->memcpy_seconds;
        mc_cpu[r] = mc->memcpy_cpu_us_per_frame;
        if (!bench_stop && (what & BENCH_DO_BUS) &&
            measure_bus(&round, fmt, &pl, &bus[r], err, errsz) < 0)
            goto out;
        bus_fps[r] = bus[r].writer.fps;
        if (!bench_stop && (what & BENCH_DO_PIPE) &&
            measure_pipe(&round, fmt, &pl, &pipe[r], err, errsz) < 0)
            goto out;
        pipe_fps[r] = pipe[r].writer.fps;
    }
    if (bench_stop) {
        snprintf(err, errsz, "interrupted");
        goto out;
    }
    if (what & BENCH_DO_MEMCPY) {
        int m = best_index(mc_fps, n);
        res->memcpy_done = 1;
        res->memcpy_fps = mc_fps[m];
        res->memcpy_frames = mc_n[m];
        res->memcpy_seconds = mc_s[m];
        res->memcpy_cpu_us_per_frame = mc_cpu[m];
    }
    if (what & BENCH_DO_BUS)
        res->bus = bus[best_index(bus_fps, n)];
    if (what & BENCH_DO_PIPE)
        res->pipe = pipe[best_index(pipe_fps, n)];
    res->loadavg = getloadavg(load, 1) == 1 ? load[0] : -1;
    bench_ratios(res);
    rc = 0;
out:
    progress_round[0] = '\0';
    pool_free(&pl);
    free(bus);
    free(pipe);
    free(mc);
    return rc;
}

/* ============================================================ reports */

static void table_row(FILE *f, const char *what, int reader, const bench_proc *p, int is_reader)
{
    char name[32];

    if (reader > 0)
        snprintf(name, sizeof(name), "%s reader %d", what, reader);
    else
        snprintf(name, sizeof(name), "%s writer", what);
    fprintf(f, "%-16s %9" PRIu64 " %10.1f %9.1f", name, p->frames, p->fps, p->cpu_us_per_frame);
    if (is_reader)
        fprintf(f, " %8" PRIu64 " %8" PRIu64 " %5" PRIu64 " %9.1f %9.1f %9.1f", p->drops,
                p->overruns, p->bad, p->latency.p50_us, p->latency.p99_us, p->latency.max_us);
    fputc('\n', f);
}

static void table_side(FILE *f, const char *what, const bench_side *s)
{
    if (!s->done)
        return;
    table_row(f, what, 0, &s->writer, 0);
    for (int i = 0; i < s->nb_readers; i++)
        table_row(f, what, i + 1, &s->readers[i], 1);
    if (s->nb_readers > 1)
        fprintf(f, "%-16s %9s %10s %9s %8" PRIu64 " %8" PRIu64 " %5" PRIu64 " %9.1f %9.1f %9.1f\n",
                "  all readers", "", "", "", s->drops, s->overruns, s->bad, s->latency.p50_us,
                s->latency.p99_us, s->latency.max_us);
}

static void bench_print_table(FILE *f, const bench_result *res)
{
    const bench_config *c = &res->cfg;

    fprintf(f,
            "framebus bench: %" PRIu32 "x%" PRIu32 " %s (%" PRIu64 " bytes), %d reader%s, %s, "
            "%s, %" PRIu32 " slots, ",
            c->width, c->height, c->pix_fmt, res->fmt.size, c->readers, c->readers == 1 ? "" : "s",
            bench_policy_name(c->policy), bench_transport_name(c->transport), c->slots);
    if (c->frames)
        fprintf(f, "%" PRIu64 " frames per round", c->frames);
    else
        fprintf(f, "%.1f s per measurement", c->seconds);
    fprintf(f, ", best of %d round%s, ", c->rounds, c->rounds == 1 ? "" : "s");
    if (c->fps > 0)
        fprintf(f, "writer at most %g fps, ", c->fps);
    if (c->reader_fps > 0)
        fprintf(f, "readers at most %g fps, ", c->reader_fps);
    fprintf(f, "load %.2f\n\n", res->loadavg);
    fprintf(f, "%-16s %9s %10s %9s %8s %8s %5s %9s %9s %9s\n", "", "frames", "fps", "cpu us/f",
            "drops", "overruns", "bad", "lat p50", "lat p99", "lat max");
    if (res->memcpy_done)
        fprintf(f, "%-16s %9" PRIu64 " %10.1f %9.1f\n", "memcpy", res->memcpy_frames,
                res->memcpy_fps, res->memcpy_cpu_us_per_frame);
    table_side(f, "bus", &res->bus);
    table_side(f, "pipe", &res->pipe);
    fprintf(f, "\nlatency in us, publish -> acquire (pipe: send -> whole frame read)\n");
    fprintf(f, "bus/pipe %.3gx   bus/memcpy %.3gx\n", res->bus_pipe, res->bus_memcpy);
}

/* A number for JSON: finite, or null. */
static void num(FILE *f, const char *key, double v, int last)
{
    if (isfinite(v) && v != 0 && fabs(v) < 1)
        fprintf(f, "\"%s\": %.6g%s", key, v, last ? "" : ", "); /* small ratios */
    else if (isfinite(v))
        fprintf(f, "\"%s\": %.3f%s", key, v, last ? "" : ", ");
    else
        fprintf(f, "\"%s\": null%s", key, last ? "" : ", ");
}

static void json_latency(FILE *f, const bench_latency *l)
{
    fprintf(f, "\"latency_us\": {\"samples\": %" PRIu64 ", ", l->samples);
    num(f, "p50", l->p50_us, 0);
    num(f, "p99", l->p99_us, 0);
    num(f, "max", l->max_us, 1);
    fputc('}', f);
}

static void json_proc(FILE *f, const bench_proc *p, int is_reader)
{
    fprintf(f, "{\"frames\": %" PRIu64 ", ", p->frames);
    num(f, "seconds", p->seconds, 0);
    num(f, "fps", p->fps, 0);
    num(f, "cpu_us_per_frame", p->cpu_us_per_frame, 0);
    fprintf(f, "\"switches\": {\"voluntary\": %" PRIu64 ", \"involuntary\": %" PRIu64 "}%s",
            p->vcsw, p->ivcsw, is_reader ? ", " : "");
    if (is_reader) {
        fprintf(f,
                "\"drops\": %" PRIu64 ", \"overruns\": %" PRIu64 ", \"bad_checksums\": %" PRIu64
                ", \"seq_errors\": %" PRIu64 ", ",
                p->drops, p->overruns, p->bad, p->seq_errors);
        json_latency(f, &p->latency);
    }
    fputc('}', f);
}

static void json_side(FILE *f, const char *key, const bench_side *s, const char *indent)
{
    fprintf(f, "%s\"%s\": ", indent, key);
    if (!s->done) {
        fputs("null", f);
        return;
    }
    fprintf(f, "{\n%s  \"writer\": ", indent);
    json_proc(f, &s->writer, 0);
    fprintf(f, ",\n%s  \"readers\": [", indent);
    for (int i = 0; i < s->nb_readers; i++) {
        fprintf(f, "%s\n%s    ", i ? "," : "", indent);
        json_proc(f, &s->readers[i], 1);
    }
    fprintf(f,
            "\n%s  ],\n%s  \"drops\": %" PRIu64 ", \"overruns\": %" PRIu64
            ", \"bad_checksums\": %" PRIu64 ", \"seq_errors\": %" PRIu64 ",\n%s  ",
            indent, indent, s->drops, s->overruns, s->bad, s->seq_errors, indent);
    num(f, "reader_fps_min", s->reader_fps_min, 0);
    num(f, "reader_fps_mean", s->reader_fps_mean, 0);
    num(f, "reader_cpu_us_per_frame", s->reader_cpu_us_per_frame, 1);
    fprintf(f, ",\n%s  ", indent);
    json_latency(f, &s->latency);
    fprintf(f, "\n%s}", indent);
}

static void bench_print_json(FILE *f, const bench_result *res)
{
    const bench_config *c = &res->cfg;

    fprintf(f,
            "{\n  \"width\": %" PRIu32 ", \"height\": %" PRIu32 ", \"pix_fmt\": \"%s\", "
            "\"frame_bytes\": %" PRIu64 ",\n  \"readers\": %d, \"policy\": \"%s\", "
            "\"transport\": \"%s\", \"slots\": %" PRIu32 ", ",
            c->width, c->height, c->pix_fmt, res->fmt.size, c->readers,
            bench_policy_name(c->policy), bench_transport_name(c->transport), c->slots);
    if (c->frames)
        fprintf(f, "\"frames\": %" PRIu64 ", \"seconds\": null, ", c->frames);
    else
        fprintf(f, "\"frames\": null, \"seconds\": %.3f, ", c->seconds);
    fprintf(f, "\"rounds\": %d, ", c->rounds);
    if (c->fps > 0)
        fprintf(f, "\"writer_fps_limit\": %.3f, ", c->fps);
    else
        fprintf(f, "\"writer_fps_limit\": null, ");
    if (c->reader_fps > 0)
        fprintf(f, "\"reader_fps_limit\": %.3f, ", c->reader_fps);
    else
        fprintf(f, "\"reader_fps_limit\": null, ");
    fprintf(f, "\"loadavg\": %.2f,\n", res->loadavg);
    fputs("  \"memcpy\": ", f);
    if (res->memcpy_done) {
        fprintf(f, "{\"frames\": %" PRIu64 ", ", res->memcpy_frames);
        num(f, "seconds", res->memcpy_seconds, 0);
        num(f, "fps", res->memcpy_fps, 0);
        num(f, "cpu_us_per_frame", res->memcpy_cpu_us_per_frame, 1);
        fputs("},\n", f);
    } else {
        fputs("null,\n", f);
    }
    json_side(f, "bus", &res->bus, "  ");
    fputs(",\n", f);
    json_side(f, "pipe", &res->pipe, "  ");
    fputs(",\n  \"ratios\": {", f);
    num(f, "bus_pipe", res->bus_pipe, 0);
    num(f, "bus_memcpy", res->bus_memcpy, 1);
    fputs("}\n}\n", f);
}

/* ============================================================ sweep */

static const uint32_t sizes[][2] = {{640, 360}, {1280, 720}, {1920, 1080}, {3840, 2160}};
static const int reader_counts[] = {1, 2, 4, 8};
static const fbus_policy policies[] = {FBUS_POLICY_LATEST, FBUS_POLICY_LOSSLESS};
static const fbus_transport transports[] = {FBUS_TRANSPORT_POSIX, FBUS_TRANSPORT_SYSV};

#define N_SIZES      (sizeof(sizes) / sizeof(sizes[0]))
#define N_READERS    (sizeof(reader_counts) / sizeof(reader_counts[0]))
#define N_POLICIES   2
#define N_TRANSPORTS 2

/* The CSV's columns, one row per bus configuration. */
static const char csv_header[] =
    "width,height,pix_fmt,frame_bytes,readers,policy,transport,writer_fps,reader_fps_min,"
    "reader_fps_mean,drops,overruns,bad_checksums,lat_p50_us,lat_p99_us,lat_max_us,"
    "writer_cpu_us_per_frame,reader_cpu_us_per_frame,pipe_fps,pipe_lat_p50_us,pipe_lat_p99_us,"
    "memcpy_fps,bus_pipe,bus_memcpy\n";

static void csv_row(FILE *f, const bench_result *r)
{
    const bench_side *b = &r->bus, *p = &r->pipe;

    fprintf(f,
            "%" PRIu32 ",%" PRIu32 ",%s,%" PRIu64 ",%d,%s,%s,%.1f,%.1f,%.1f,%" PRIu64 ",%" PRIu64
            ",%" PRIu64 ",%.2f,%.2f,%.2f,%.2f,%.2f,%.1f,%.2f,%.2f,%.1f,%.3f,%.3f\n",
            r->cfg.width, r->cfg.height, r->cfg.pix_fmt, r->fmt.size, r->cfg.readers,
            bench_policy_name(r->cfg.policy), bench_transport_name(r->cfg.transport), b->writer.fps,
            b->reader_fps_min, b->reader_fps_mean, b->drops, b->overruns, b->bad, b->latency.p50_us,
            b->latency.p99_us, b->latency.max_us, b->writer.cpu_us_per_frame,
            b->reader_cpu_us_per_frame, p->writer.fps, p->latency.p50_us, p->latency.p99_us,
            r->memcpy_fps, r->bus_pipe, r->bus_memcpy);
}

static void sweep_header(FILE *f)
{
    fprintf(f, "%-10s %3s %-8s %-5s %10s %10s %8s %8s %4s %8s %8s %9s %10s %8s %8s\n", "size", "rd",
            "policy", "trans", "writer fps", "reader fps", "drops", "overruns", "bad", "p50 us",
            "p99 us", "pipe fps", "memcpy fps", "bus/pipe", "bus/mcpy");
}

static void sweep_row(FILE *f, const bench_result *r)
{
    char size[24];

    snprintf(size, sizeof(size), "%" PRIu32 "x%" PRIu32, r->cfg.width, r->cfg.height);
    fprintf(f,
            "%-10s %3d %-8s %-5s %10.1f %10.1f %8" PRIu64 " %8" PRIu64 " %4" PRIu64
            " %8.1f %8.1f %9.1f %10.1f %8.2f %8.2f\n",
            size, r->cfg.readers, bench_policy_name(r->cfg.policy),
            bench_transport_name(r->cfg.transport), r->bus.writer.fps, r->bus.reader_fps_min,
            r->bus.drops, r->bus.overruns, r->bus.bad, r->bus.latency.p50_us, r->bus.latency.p99_us,
            r->pipe.writer.fps, r->memcpy_fps, r->bus_pipe, r->bus_memcpy);
}

/* What the plot needs of one sweep row. */
struct plot_row {
    uint32_t width;
    uint64_t bytes;
    int readers;
    fbus_policy policy;
    fbus_transport transport;
    double y[7];
};

enum { Y_FPS, Y_P50, Y_P99, Y_PIPE_FPS, Y_PIPE_P50, Y_PIPE_P99, Y_MEMCPY };

static void plot_row_of(const bench_result *r, struct plot_row *p)
{
    p->width = r->cfg.width;
    p->bytes = r->fmt.size;
    p->readers = r->cfg.readers;
    p->policy = r->cfg.policy;
    p->transport = r->cfg.transport;
    p->y[Y_FPS] = r->bus.writer.fps;
    p->y[Y_P50] = r->bus.latency.p50_us;
    p->y[Y_P99] = r->bus.latency.p99_us;
    p->y[Y_PIPE_FPS] = r->pipe.writer.fps;
    p->y[Y_PIPE_P50] = r->pipe.latency.p50_us;
    p->y[Y_PIPE_P99] = r->pipe.latency.p99_us;
    p->y[Y_MEMCPY] = r->memcpy_fps;
}

/*
 * One series as a gnuplot data block $NAME: x = frame size in MB over the
 * rows with one reader (by_readers 0), or x = readers over the 1920x1080
 * rows (by_readers 1), of one policy and transport.
 */
static void plot_block(FILE *f, const char *name, const struct plot_row *rows, int n,
                       int by_readers, fbus_policy pol, fbus_transport tr, int y)
{
    fprintf(f, "$%s << EOD\n", name);
    for (int i = 0; i < n; i++) {
        const struct plot_row *p = &rows[i];
        if (p->policy != pol || p->transport != tr)
            continue;
        if (by_readers ? p->width != 1920 : p->readers != 1)
            continue;
        if (by_readers)
            fprintf(f, "%d %.3f\n", p->readers, p->y[y]);
        else
            fprintf(f, "%.4f %.3f\n", (double)p->bytes / 1e6, p->y[y]);
    }
    fprintf(f, "EOD\n");
}

/* The gnuplot script, with its data inline so it can be re-run alone. */
static int write_plot_script(const char *path, const char *png, const bench_config *base,
                             const struct plot_row *rows, int n)
{
    static const char *const axis[2][2] = {{"vs frame size, 1 reader", "frame size (MB)"},
                                           {"vs readers, 1920x1080", "readers"}};
    static const char *const ysuffix[] = {"fps", "p50", "p99"};
    FILE *f = fopen(path, "w");

    if (!f)
        return -errno;
    fprintf(f, "# framebus bench --sweep plot (data inline); run: gnuplot %s\n", path);
    for (int b = 0; b < 2; b++) {
        for (int pol = 0; pol < N_POLICIES; pol++) {
            for (int t = 0; t < N_TRANSPORTS; t++) {
                for (int y = Y_FPS; y <= Y_P99; y++) {
                    char name[64];
                    snprintf(name, sizeof(name), "%s_%s_%s_%s", b ? "rd" : "sz",
                             bench_policy_name(policies[pol]), bench_transport_name(transports[t]),
                             ysuffix[y]);
                    plot_block(f, name, rows, n, b, policies[pol], transports[t], y);
                }
            }
        }
        /* Pipe and memcpy do not depend on policy or transport. */
        plot_block(f, b ? "rd_pipe_fps" : "sz_pipe_fps", rows, n, b, FBUS_POLICY_LATEST,
                   FBUS_TRANSPORT_POSIX, Y_PIPE_FPS);
        plot_block(f, b ? "rd_pipe_p50" : "sz_pipe_p50", rows, n, b, FBUS_POLICY_LATEST,
                   FBUS_TRANSPORT_POSIX, Y_PIPE_P50);
        plot_block(f, b ? "rd_pipe_p99" : "sz_pipe_p99", rows, n, b, FBUS_POLICY_LATEST,
                   FBUS_TRANSPORT_POSIX, Y_PIPE_P99);
        plot_block(f, b ? "rd_memcpy_fps" : "sz_memcpy_fps", rows, n, b, FBUS_POLICY_LATEST,
                   FBUS_TRANSPORT_POSIX, Y_MEMCPY);
    }
    fprintf(f, "set terminal pngcairo size 1200,900 font ',9'\n");
    fprintf(f, "set output '%s'\n", png);
    fprintf(f, "set key top right font ',8'\nset grid\nset logscale y\n");
    fprintf(f, "set multiplot layout 2,2 title 'framebus bench --sweep, %s, ", base->pix_fmt);
    if (base->frames)
        fprintf(f, "%" PRIu64 " frames per round", base->frames);
    else
        fprintf(f, "%.1f s per point", base->seconds);
    fprintf(f, ", best of %d round%s'\n", base->rounds, base->rounds == 1 ? "" : "s");
    for (int b = 0; b < 2; b++) {
        const char *pre = b ? "rd" : "sz";

        fprintf(f, "set xlabel '%s'\n%s\n", axis[b][1],
                b ? "unset logscale x\nset xtics (1, 2, 4, 8)" : "set logscale x\nset xtics auto");
        fprintf(f, "set title 'writer frames/s %s'\nset ylabel 'frames/s'\n", axis[b][0]);
        fprintf(f,
                "plot $%s_latest_posix_fps w lp t 'bus latest posix', "
                "$%s_lossless_posix_fps w lp t 'bus lossless posix', \\\n"
                "     $%s_latest_sysv_fps w lp t 'bus latest sysv', "
                "$%s_lossless_sysv_fps w lp t 'bus lossless sysv', \\\n"
                "     $%s_pipe_fps w lp dt 2 lw 2 t 'pipe', $%s_memcpy_fps w lp dt 3 t 'memcpy'\n",
                pre, pre, pre, pre, pre, pre);
        fprintf(f, "set title 'latency publish -> acquire %s'\nset ylabel 'microseconds'\n",
                axis[b][0]);
        fprintf(
            f,
            "plot $%s_latest_posix_p50 w lp t 'bus latest p50', "
            "$%s_latest_posix_p99 w lp dt 2 t 'bus latest p99', \\\n"
            "     $%s_lossless_posix_p50 w lp t 'bus lossless p50', "
            "$%s_lossless_posix_p99 w lp dt 2 t 'bus lossless p99', \\\n"
            "     $%s_pipe_p50 w lp lw 2 t 'pipe p50', $%s_pipe_p99 w lp dt 2 lw 2 t 'pipe p99'\n",
            pre, pre, pre, pre, pre, pre);
    }
    fprintf(f, "unset multiplot\n");
    if (fclose(f) != 0)
        return -errno;
    return 0;
}

/* Whether an executable `prog` is on PATH. */
static int on_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[4096];

    if (!path)
        return 0;
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n && n + strlen(prog) + 2 <= sizeof(buf)) {
            memcpy(buf, path, n);
            snprintf(buf + n, sizeof(buf) - n, "/%s", prog);
            if (access(buf, X_OK) == 0)
                return 1;
        }
        path += n;
        if (*path == ':')
            path++;
    }
    return 0;
}

/* Run gnuplot on script: 0 or -1. */
static int run_gnuplot(const char *script)
{
    pid_t pid;
    int st;

    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int bench_sweep(const bench_config *base, const char *out_dir, int json)
{
    const int total = (int)(N_SIZES * N_READERS * N_POLICIES * N_TRANSPORTS);
    char csv[4096], png[4096], gp[4096], err[320];
    bench_result *res = NULL, *cache = NULL;
    struct plot_row rows[N_SIZES * N_READERS * N_POLICIES * N_TRANSPORTS];
    uint64_t bad = 0;
    int nrows = 0, failed = 0;
    int have_gnuplot = on_path("gnuplot"), done = 0, rc = 1, first = 1;
    FILE *f = NULL;

    if (mkdir(out_dir, 0777) < 0 && errno != EEXIST) {
        bench_error("cannot create \"%s\": %s", out_dir, strerror(errno));
        return 1;
    }
    snprintf(csv, sizeof(csv), "%s/bench-sweep.csv", out_dir);
    snprintf(png, sizeof(png), "%s/bench-sweep.png", out_dir);
    snprintf(gp, sizeof(gp), "%s/bench-sweep.gp", out_dir);
    if (!have_gnuplot)
        bench_error("gnuplot not found: writing the CSV only (install gnuplot-nox for the plot)");
    f = fopen(csv, "w");
    if (!f) {
        bench_error("cannot write \"%s\": %s", csv, strerror(errno));
        return 1;
    }
    res = calloc(1, sizeof(*res));
    cache = calloc(1, sizeof(*cache)); /* memcpy and pipe of this size/readers */
    if (!res || !cache) {
        bench_error("out of memory");
        goto out;
    }
    fputs(csv_header, f);
    if (json)
        fputs("[", stdout);
    else
        sweep_header(stdout);

    for (size_t s = 0; s < N_SIZES; s++) {
        for (size_t r = 0; r < N_READERS; r++) {
            for (int k = 0; k < N_POLICIES * N_TRANSPORTS; k++) {
                bench_config cfg = *base;
                fbus_format fmt;
                unsigned what = BENCH_DO_BUS;
                int e;

                cfg.width = sizes[s][0];
                cfg.height = sizes[s][1];
                cfg.readers = reader_counts[r];
                cfg.policy = policies[k / N_TRANSPORTS];
                cfg.transport = transports[k % N_TRANSPORTS];
                e = fbus_format_init(&fmt, cfg.pix_fmt, cfg.width, cfg.height, 0);
                if (e < 0) {
                    bench_error("%" PRIu32 "x%" PRIu32 " %s: %s", cfg.width, cfg.height,
                                cfg.pix_fmt, fbus_strerror(e));
                    goto out;
                }
                /* The pipe does not depend on policy or transport, memcpy
                 * only on the size: measure each once. */
                if (k == 0)
                    what |= BENCH_DO_PIPE | (r == 0 ? BENCH_DO_MEMCPY : 0);
                memset(res, 0, sizeof(*res));
                snprintf(bench_progress_prefix, sizeof(bench_progress_prefix), "[%d/%d] ", done + 1,
                         total);
                if (bench_run(&cfg, &fmt, what, res, err, sizeof(err)) < 0) {
                    bench_error("%" PRIu32 "x%" PRIu32 ", %d readers, %s, %s: %s", cfg.width,
                                cfg.height, cfg.readers, bench_policy_name(cfg.policy),
                                bench_transport_name(cfg.transport), err);
                    if (bench_stop)
                        goto out;
                    /* One failed point does not void the others. */
                    failed++;
                    done++;
                    continue;
                }
                if (what & BENCH_DO_MEMCPY) {
                    cache->memcpy_done = 1;
                    cache->memcpy_frames = res->memcpy_frames;
                    cache->memcpy_seconds = res->memcpy_seconds;
                    cache->memcpy_fps = res->memcpy_fps;
                    cache->memcpy_cpu_us_per_frame = res->memcpy_cpu_us_per_frame;
                }
                if (what & BENCH_DO_PIPE)
                    cache->pipe = res->pipe;
                res->memcpy_done = cache->memcpy_done;
                res->memcpy_frames = cache->memcpy_frames;
                res->memcpy_seconds = cache->memcpy_seconds;
                res->memcpy_fps = cache->memcpy_fps;
                res->memcpy_cpu_us_per_frame = cache->memcpy_cpu_us_per_frame;
                res->pipe = cache->pipe;
                bench_ratios(res);
                bad += res->bus.bad + res->pipe.bad + res->bus.seq_errors + res->pipe.seq_errors;
                plot_row_of(res, &rows[nrows++]);
                csv_row(f, res);
                fflush(f);
                if (json) {
                    fputs(first ? "\n" : ",\n", stdout);
                    bench_print_json(stdout, res);
                    first = 0;
                } else {
                    sweep_row(stdout, res);
                }
                fflush(stdout);
                done++;
            }
        }
    }
    if (json)
        fputs("]\n", stdout);
    if (fclose(f) != 0) {
        f = NULL;
        bench_error("cannot write \"%s\": %s", csv, strerror(errno));
        goto out;
    }
    f = NULL;
    if (write_plot_script(gp, png, base, rows, nrows) < 0) {
        bench_error("cannot write \"%s\": %s", gp, strerror(errno));
        goto out;
    }
    if (!have_gnuplot) {
        bench_error("gnuplot not found: wrote %s and %s but no plot (install gnuplot-nox, then "
                    "run 'gnuplot %s')",
                    csv, gp, gp);
    } else if (run_gnuplot(gp) < 0) {
        bench_error("gnuplot failed on %s; the data is in %s", gp, csv);
        goto out;
    } else {
        fprintf(stderr, "framebus: bench: wrote %s and %s\n", csv, png);
    }
    rc = 0;
    if (failed) {
        bench_error("%d of %d runs failed (see above); they are not in the CSV", failed, total);
        rc = 1;
    }
    if (bad) {
        bench_error("%" PRIu64 " frames had a bad checksum or came out of order", bad);
        rc = 1;
    }
out:
    bench_progress_prefix[0] = '\0';
    if (f)
        fclose(f);
    free(res);
    free(cache);
    return rc;
}

/* ============================================================ options */

#define DEFAULT_SECONDS       2.0
#define DEFAULT_SWEEP_SECONDS 1.0
#define DEFAULT_ROUNDS        3

static const char usage_text[] =
    "usage: framebus bench [--size WxH] [--pix-fmt F] [--readers N]\n"
    "                      [--policy latest|lossless] [--transport posix|sysv]\n"
    "                      [--slots N] [--fps F] [--reader-fps F]\n"
    "                      [--frames N | --seconds S] [--rounds N] [--json]\n"
    "       framebus bench --sweep [--out DIR] [--pix-fmt F] [--frames N | --seconds S]\n"
    "                      [--rounds N] [--json]\n"
    "\n"
    "Spawns one writer and N reader processes over a fresh bus; the writer copies\n"
    "synthetic frames (a pool of 4, the sequence number stamped in) as fast as it\n"
    "can, the readers checksum every frame they get. The same run measures the\n"
    "same frames over one Unix pipe per reader and the memcpy rate of one frame.\n"
    "\n"
    "  --size WxH          frame size (default 1920x1080)\n"
    "  --pix-fmt F         pixel format (default yuv420p)\n"
    "  --readers N         reader processes, 1..64 (default 1)\n"
    "  --policy P          latest (default) or lossless\n"
    "  --transport T       posix (default) or sysv\n"
    "  --slots N           slots of the bus, 2..64 (default 3)\n"
    "  --fps F             the writer sends at most F frames/s, like a camera or a\n"
    "                      decoder at its frame rate (default: as fast as it can)\n"
    "  --reader-fps F      readers take at most F frames/s, like a display (default:\n"
    "                      as fast as they can)\n"
    "  --frames N          frames per measurement and round\n"
    "  --seconds S         seconds per measurement (default 2, sweep 1), split\n"
    "                      over the rounds\n"
    "  --rounds N          rounds of memcpy, bus, pipe in turn; each one's best\n"
    "                      round (highest writer rate) is reported (default 3)\n"
    "  --json              print JSON instead of a table\n"
    "  --sweep             sizes 640x360..3840x2160 x readers 1..8 x both policies\n"
    "                      x both transports; writes DIR/bench-sweep.csv and .png\n"
    "  --out DIR           where --sweep writes (default .)\n"
    "\n"
    "Exit status: 0, 1 on a failure or a bad checksum, 2 on bad usage.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("framebus: bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see 'framebus bench --help')\n", stderr);
    return 2;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_size(const char *s, uint32_t *w, uint32_t *h)
{
    char buf[32], *x;
    uint64_t vw, vh;

    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    x = strchr(buf, 'x');
    if (!x)
        return -1;
    *x = '\0';
    if (parse_u64(buf, 1, 32768, &vw) < 0 || parse_u64(x + 1, 1, 32768, &vh) < 0)
        return -1;
    *w = (uint32_t)vw;
    *h = (uint32_t)vh;
    return 0;
}

static void on_stop(int sig)
{
    (void)sig;
    bench_stop = 1;
}

/* The frame format of cfg, with the checks that need it; 0 or exit code. */
static int format_of(const bench_config *cfg, fbus_format *fmt)
{
    int err = fbus_format_init(fmt, cfg->pix_fmt, cfg->width, cfg->height, 0);

    if (err == FBUS_EFORMAT)
        return usage_error("unknown pixel format \"%s\"", cfg->pix_fmt);
    if (err < 0)
        return usage_error("%" PRIu32 "x%" PRIu32 " is not a valid size for %s: %s", cfg->width,
                           cfg->height, cfg->pix_fmt, fbus_strerror(err));
    if ((uint64_t)fmt->planes[0].stride * fmt->planes[0].rows < 2 * BENCH_HDR_BYTES)
        return usage_error("%" PRIu32 "x%" PRIu32 " is too small: the first plane must hold at "
                           "least %d bytes",
                           cfg->width, cfg->height, 2 * BENCH_HDR_BYTES);
    return 0;
}

static int run_one(const bench_config *cfg, int json)
{
    bench_result *res = calloc(1, sizeof(*res));
    fbus_format fmt;
    char err[320];
    int rc;

    if (!res) {
        bench_error("out of memory");
        return 1;
    }
    rc = format_of(cfg, &fmt);
    if (rc)
        goto out;
    if (bench_run(cfg, &fmt, BENCH_DO_ALL, res, err, sizeof(err)) < 0) {
        bench_error("%s", err);
        rc = 1;
        goto out;
    }
    if (json)
        bench_print_json(stdout, res);
    else
        bench_print_table(stdout, res);
    fflush(stdout);
    if (res->bus.bad || res->pipe.bad) {
        bench_error("%" PRIu64 " frames had a bad checksum", res->bus.bad + res->pipe.bad);
        rc = 1;
    } else if (res->bus.seq_errors || res->pipe.seq_errors) {
        bench_error("%" PRIu64 " frames came out of order",
                    res->bus.seq_errors + res->pipe.seq_errors);
        rc = 1;
    }
out:
    free(res);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"size", required_argument, NULL, 's'},
        {"pix-fmt", required_argument, NULL, 'p'},
        {"readers", required_argument, NULL, 'r'},
        {"policy", required_argument, NULL, 'P'},
        {"transport", required_argument, NULL, 'T'},
        {"slots", required_argument, NULL, 'S'},
        {"rounds", required_argument, NULL, 'R'},
        {"fps", required_argument, NULL, 'f'},
        {"reader-fps", required_argument, NULL, 'F'},
        {"frames", required_argument, NULL, 'n'},
        {"seconds", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"sweep", no_argument, NULL, 'w'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bench_config cfg = {.width = 1920,
                        .height = 1080,
                        .pix_fmt = "yuv420p",
                        .readers = 1,
                        .policy = FBUS_POLICY_LATEST,
                        .transport = FBUS_TRANSPORT_POSIX,
                        .slots = FBUS_DEFAULT_SLOTS,
                        .rounds = DEFAULT_ROUNDS};
    const char *out_dir = NULL, *matrix_opt = NULL;
    struct sigaction sa;
    int json = 0, sweep = 0, opt, rc;
    uint64_t v;
    char *end;

    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (parse_size(optarg, &cfg.width, &cfg.height) < 0)
                return usage_error("bad size \"%s\" (WxH, e.g. 1920x1080)", optarg);
            matrix_opt = "--size";
            break;
        case 'p':
            if (strlen(optarg) >= sizeof(cfg.pix_fmt))
                return usage_error("unknown pixel format \"%s\"", optarg);
            strcpy(cfg.pix_fmt, optarg);
            break;
        case 'r':
            if (parse_u64(optarg, 1, BENCH_MAX_READERS, &v) < 0)
                return usage_error("bad reader count \"%s\" (1 to %d)", optarg, BENCH_MAX_READERS);
            cfg.readers = (int)v;
            matrix_opt = "--readers";
            break;
        case 'P':
            if (strcmp(optarg, "latest") == 0)
                cfg.policy = FBUS_POLICY_LATEST;
            else if (strcmp(optarg, "lossless") == 0)
                cfg.policy = FBUS_POLICY_LOSSLESS;
            else
                return usage_error("unknown policy \"%s\" (latest or lossless)", optarg);
            matrix_opt = "--policy";
            break;
        case 'T':
            if (strcmp(optarg, "posix") == 0)
                cfg.transport = FBUS_TRANSPORT_POSIX;
            else if (strcmp(optarg, "sysv") == 0)
                cfg.transport = FBUS_TRANSPORT_SYSV;
            else
                return usage_error("unknown transport \"%s\" (posix or sysv)", optarg);
            matrix_opt = "--transport";
            break;
        case 'S':
            if (parse_u64(optarg, 2, FBUS_MAX_SLOTS, &v) < 0)
                return usage_error("bad slot count \"%s\" (2 to %d)", optarg, FBUS_MAX_SLOTS);
            cfg.slots = (uint32_t)v;
            break;
        case 'R':
            if (parse_u64(optarg, 1, 64, &v) < 0)
                return usage_error("bad round count \"%s\" (1 to 64)", optarg);
            cfg.rounds = (int)v;
            break;
        case 'F':
            errno = 0;
            cfg.reader_fps = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(cfg.reader_fps > 0) || cfg.reader_fps > 1e6)
                return usage_error("bad reader rate \"%s\" (frames per second, more than 0)",
                                   optarg);
            break;
        case 'f':
            errno = 0;
            cfg.fps = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(cfg.fps > 0) || cfg.fps > 1e6)
                return usage_error("bad writer rate \"%s\" (frames per second, more than 0)",
                                   optarg);
            break;
        case 'n':
            if (parse_u64(optarg, 1, UINT32_MAX, &v) < 0)
                return usage_error("bad frame count \"%s\" (a positive number)", optarg);
            cfg.frames = v;
            break;
        case 't':
            errno = 0;
            cfg.seconds = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(cfg.seconds > 0) || cfg.seconds > 3600)
                return usage_error("bad duration \"%s\" (seconds, more than 0)", optarg);
            break;
        case 'j':
            json = 1;
            break;
        case 'w':
            sweep = 1;
            break;
        case 'o':
            out_dir = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case ':':
            return usage_error("option \"%s\" needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option \"%s\"", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (cfg.frames && cfg.seconds > 0)
        return usage_error("--frames and --seconds cannot be used together");
    if (out_dir && !sweep)
        return usage_error("--out needs --sweep");
    if (sweep && matrix_opt)
        return usage_error("--sweep runs its own matrix of sizes, readers, policies and "
                           "transports; drop %s",
                           matrix_opt);
    if (sweep && cfg.fps > 0)
        return usage_error("--sweep measures the most each setup can do; drop --fps");
    if (!cfg.frames && !(cfg.seconds > 0))
        cfg.seconds = sweep ? DEFAULT_SWEEP_SECONDS : DEFAULT_SECONDS;

    /* Children inherit the handlers: Ctrl-C stops every process of the run,
     * the writer ends the bus, the readers see the end, and we unwind. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    bench_stop = 0;

    if (sweep) {
        fbus_format fmt;
        bench_config first = cfg;

        /* Check the pixel format before the first of many runs. */
        first.width = 640;
        first.height = 360;
        rc = format_of(&first, &fmt);
        if (rc)
            return rc;
        rc = bench_sweep(&cfg, out_dir ? out_dir : ".", json);
    } else {
        rc = run_one(&cfg, json);
    }
    return rc;
}
