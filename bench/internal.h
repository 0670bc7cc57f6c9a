/* SPDX-License-Identifier: MIT */
/*
 * The bench engine, private: what its files share. bench.c is one run from
 * start to report, frames.c the synthetic frames and the latency histogram,
 * loops.c the timed loops, measure.c the parent's side of a run, report.c
 * the table and JSON, sweep.c --sweep.
 */
#ifndef FBUS_BENCH_INTERNAL_H
#define FBUS_BENCH_INTERNAL_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "bench.h"

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

/* Whether cfg's stop flag is up: every loop of the run checks it. */
static inline int bench_stopped(const bench_config *cfg)
{
    return cfg->stop && *cfg->stop;
}

/* "latest" or "lossless", as the options spell it. (report.c) */
const char *bench_policy_name(fbus_policy p);

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

/* Note (start) or turn into deltas (!start) the CPU time and context
 * switches of this process's frame loop, in o. */
void bench_loop_usage(struct bench_child_out *o, int start);
/* Put the reason a child fails into o->msg; returns 1 (its exit code). */
int bench_child_fail(struct bench_child_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* With fps > 0, sleep until frame number `frames` is due, frame 0 having
 * been at `first` (fbus_now_ns). */
void bench_pace(const bench_config *cfg, double fps, int64_t first, uint64_t frames);
/* Whether a writer is done after `sent` frames (cfg->frames, the deadline,
 * or the stop flag). */
int bench_writer_done(const bench_config *cfg, const fbus_format *fmt, uint64_t sent,
                      int64_t deadline);

/* The child processes' loops: 0, or 1 with the reason in their child_out. */
/* --pin: the writer (reader < 0) on the first CPU this process may run on,
 * reader i on the others in turn (all on the one CPU if there is one).
 * Nothing without cfg->pin. 0, or -errno. */
int bench_pin(const bench_config *cfg, int reader);
int bench_bus_writer(struct bench_job *j);
int bench_bus_reader(struct bench_job *j);
/* fds: the write end of each reader's pipe. */
int bench_pipe_writer(struct bench_job *j, const int *fds);
int bench_pipe_reader(struct bench_job *j, int fd);
/* The memcpy baselines into res->memcpy_* (the ring with a reader process)
 * and res->memcpy_warm_* (cache-warm buffers, this process alone): 0, or -1
 * with one sentence in err. */
int bench_measure_memcpy(const bench_config *cfg, const fbus_format *fmt,
                         const struct bench_pool *pl, bench_result *res, char *err, size_t errsz);

/* ------------------------------------------------------------ measure.c */

/* A results area shared with the children of a run (cfg->readers reader
 * entries), zeroed; NULL if it cannot be mapped. munmap(sh, *size). */
struct bench_shared *bench_shared_new(const bench_config *cfg, size_t *size);
/* Reap the n children in pids (pids[0] the writer), showing progress on a
 * terminal and killing them all if the writer makes no progress for 20 s:
 * 0 if all exited 0, else 1 (2: stalled), with a reason in why if known. */
int bench_reap(const bench_config *cfg, pid_t *pids, int n, const char *what,
               const struct bench_shared *sh, char *why, size_t whysz);
/* What the children of a run reported, summed up into side. */
void bench_side_of(const bench_config *cfg, const struct bench_shared *sh, bench_side *side);
/* The one sentence that says why a run failed, into err. */
void bench_child_error(const bench_config *cfg, const struct bench_shared *sh, const char *what,
                       const char *why, char *err, size_t errsz);
/* The index of the largest of v[0..n). */
int bench_best_index(const double *v, int n);

/* ------------------------------------------------------------ report.c */

/* The column heads of the table, then one side's rows ("bus writer",
 * "bus reader 1"...) as bench_print_table prints them. */
void bench_table_head(FILE *f);
void bench_table_side(FILE *f, const char *what, const bench_side *s);

#endif /* FBUS_BENCH_INTERNAL_H */
