/* SPDX-License-Identifier: MIT */
/*
 * framebus bench, private: what its files share. bench.c is the command
 * line, frames.c the synthetic frames and the latency histogram,
 * loops.c the timed loops, measure.c the parent's side of a run,
 * report.c the table and JSON, sweep.c --sweep.
 */
#ifndef FBUS_BENCH_INTERNAL_H
#define FBUS_BENCH_INTERNAL_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "framebus/framebus.h"

#define BENCH_MAX_READERS 64
/* --rounds at most (bench_run keeps per-round figures in arrays this big). */
#define BENCH_MAX_ROUNDS 64
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

#define BENCH_MAGIC          UINT64_C(0x68636e6562737562) /* "busbench" */
#define BENCH_ATTACH_WAIT_NS (10 * 1000000000LL)          /* for every reader to attach */

/* What every frame carries in its first BENCH_HDR_BYTES bytes. */
struct bench_frame_hdr {
    uint64_t magic;
    uint64_t seq;
    int64_t send_ns; /* pipe: when the writer started sending it */
    uint64_t pool;   /* which prepared frame the rest comes from */
};

/* The prepared frames, laid out as in a slot, and the checksum each one's
 * bytes after the header give. */
struct bench_pool {
    uint8_t *buf[BENCH_POOL];
    uint64_t sum[BENCH_POOL];
};

/* One process's report, written by the child, read by the parent after it
 * is reaped (waitpid orders the two). */
struct bench_child_out {
    char msg[200];
    uint64_t frames, drops, overruns, bad, seq_errors;
    int64_t t_last;
    int64_t cpu_ns; /* user + system time of the frame loop */
    int64_t vcsw;   /* voluntary context switches in it (blocked) */
    int64_t ivcsw;  /* involuntary ones (preempted) */
    int64_t lat_max;
    uint64_t hist[BENCH_HIST_BUCKETS];
};

struct bench_shared {
    _Atomic uint64_t progress; /* frames the writer sent so far */
    _Atomic int ready;         /* the writer created the bus */
    _Atomic int64_t t_start;   /* the writer's first frame */
    struct bench_child_out writer;
    struct bench_child_out readers[]; /* cfg->readers of them */
};

/* Everything a child needs; children are forked, so this is their copy. */
struct bench_job {
    const bench_config *cfg;
    const fbus_format *fmt;
    const struct bench_pool *pool;
    struct bench_shared *sh;
    char name[FBUS_NAME_MAX + 1];
    int index; /* reader index */
};

/* Set by SIGINT and SIGTERM: every loop of the run stops (bench.c). */
extern volatile sig_atomic_t bench_stop;
/* What the progress line starts with, e.g. "[3/128] " in a sweep. */
extern char bench_progress_prefix[32];

/* One line "framebus: bench: ..." on stderr. (bench.c) */
void bench_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "latest" or "lossless", "posix" or "sysv", as the options spell them.
 * (report.c) */
const char *bench_policy_name(fbus_policy p);
const char *bench_transport_name(fbus_transport t);

/* ------------------------------------------------------------ frames.c */

/* Fill the pool with random frames of fmt and their checksums: 0, or -1 out
 * of memory with nothing left allocated. */
int bench_pool_init(struct bench_pool *pl, const fbus_format *fmt);
void bench_pool_free(struct bench_pool *pl);
/* The planes of a frame of fmt laid out at base. */
void bench_plane_ptrs(const fbus_format *fmt, const uint8_t *base, const uint8_t *data[]);
/* Copy prepared frame `seq % BENCH_POOL` into the planes at dst; plain:
 * memcpy instead of fbus_copy. */
void bench_copy_frame(const fbus_format *fmt, const struct bench_pool *pl, uint64_t seq,
                      uint8_t *const dst[], int plain);
/* Write the header of frame seq at the start of plane 0. */
void bench_stamp(uint8_t *plane0, uint64_t seq, int64_t send_ns);
/* Whether a received frame is the one the writer sent as `seq`; *hdr gets
 * its header. */
int bench_frame_ok(const fbus_format *fmt, const struct bench_pool *pl, const uint8_t *const data[],
                   uint64_t seq, struct bench_frame_hdr *hdr);
/* Count one latency of ns into o's histogram and maximum. */
void bench_record_latency(struct bench_child_out *o, int64_t ns);
/* The percentiles of a histogram whose largest sample was max_ns. */
void bench_latency_of(const uint64_t *hist, int64_t max_ns, bench_latency *lat);

/* ------------------------------------------------------------ loops.c */

/* The child processes' loops: 0, or 1 with the reason in their child_out. */
int bench_bus_writer(struct bench_job *j);
int bench_bus_reader(struct bench_job *j);
/* fds: the write end of each reader's pipe. */
int bench_pipe_writer(struct bench_job *j, const int *fds);
int bench_pipe_reader(struct bench_job *j, int fd);
/* The memcpy baseline, in this process, into res->memcpy_*: 0, or -1 with
 * one sentence in err. */
int bench_measure_memcpy(const bench_config *cfg, const fbus_format *fmt,
                         const struct bench_pool *pl, bench_result *res, char *err, size_t errsz);

/* ------------------------------------------------------------ measure.c */

/* Run the parts of `what` (BENCH_DO_*) for cfg with fmt into res: 0, or -1
 * with one sentence in err. */
int bench_run(const bench_config *cfg, const fbus_format *fmt, unsigned what, bench_result *res,
              char *err, size_t errsz);
/* Fill in res->bus_pipe and res->bus_memcpy from what res holds. */
void bench_ratios(bench_result *res);

/* ------------------------------------------------------------ report.c */

/* The result of one run as a table, or as one JSON object. */
void bench_print_table(FILE *f, const bench_result *res);
void bench_print_json(FILE *f, const bench_result *res);

/* ------------------------------------------------------------ sweep.c */

/* Run the --sweep matrix with base's pixel format, durations and rounds,
 * writing into out_dir. Returns the exit code. */
int bench_sweep(const bench_config *base, const char *out_dir, int json);

#endif /* FBUS_BENCH_INTERNAL_H */
