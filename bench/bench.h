/* SPDX-License-Identifier: MIT */
/*
 * The engine of framebus bench: the memcpy rate of one frame, one writer and
 * N reader processes over a fresh bus, the same frames over one Unix pipe per
 * reader; the result as a table or JSON, or the --sweep matrix as CSV and a
 * gnuplot PNG. The caller (tools/bench.c) parses options into a bench_config.
 */
#ifndef FBUS_BENCH_BENCH_H
#define FBUS_BENCH_BENCH_H

#include <signal.h>
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
    int low_latency;   /* readers open with FBUS_READER_LOW_LATENCY */
    int pin;           /* writer on one CPU, readers on the others (bench_pin) */
    /* Every loop of the run, in every process, stops once *stop is set (by
     * the caller's SIGINT/SIGTERM handler, which the children inherit);
     * NULL: never. */
    volatile sig_atomic_t *stop;
    /* Each problem and note of the run, one line without a newline; NULL:
     * "bench: LINE" on stderr. */
    void (*report)(const char *line);
    /* What the progress line on stderr starts with ("[3/128] " in a sweep). */
    char progress_prefix[32];
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
    double cpu_percent;      /* that time / the measurement's time, % of a core */
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
    double reader_cpu_percent;      /* mean over readers, % of a core */
    bench_latency latency;          /* over every frame of every reader */
} bench_side;

typedef struct bench_result {
    bench_config cfg;
    fbus_format fmt;
    double loadavg; /* 1-minute load average when the run ended */
    /* The baseline: the writer's copy (fbus_copy) into a ring of as many
     * frames as the bus has slots, as many reader processes as the bus run
     * checksumming them with its policy (futex waits, no bus): the most a
     * writer whose frames go to other cores can do. */
    int memcpy_done;
    uint64_t memcpy_frames;
    double memcpy_seconds;
    double memcpy_fps;
    double memcpy_cpu_us_per_frame;
    /* memcpy into three cache-warm buffers, no reader: an upper bound no
     * bus writer can reach, kept for comparison. */
    uint64_t memcpy_warm_frames;
    double memcpy_warm_seconds;
    double memcpy_warm_fps;
    double memcpy_warm_cpu_us_per_frame;
    bench_side bus;
    bench_side pipe;
    double bus_pipe;        /* bus writer fps / pipe writer fps, 0 if unknown */
    double bus_memcpy;      /* bus writer fps / memcpy (ring) fps, 0 if unknown */
    double bus_memcpy_warm; /* bus writer fps / warm memcpy fps, 0 if unknown */
} bench_result;

/* The frame format of cfg, with the checks the engine needs (a known pixel
 * format, a first plane big enough for the frame header): 0, or -1 with one
 * sentence in err. */
int bench_format_of(const bench_config *cfg, fbus_format *fmt, char *err, size_t errsz);

/* One run of every part, its table (or JSON) on stdout. Returns the exit
 * code: 0, or 1 on a failure, a bad checksum or frames out of order. */
int bench_one(const bench_config *cfg, const fbus_format *fmt, int json);

/* One line through cfg->report (see bench_config). (report.c) */
void bench_say(const bench_config *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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

#endif /* FBUS_BENCH_BENCH_H */
